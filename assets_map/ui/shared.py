"""What every page shares: the data banner, the sidebar filters, the site card, safe text.

Every value that came from a user's file is passed through :func:`md` before it
reaches st.markdown (Markdown escaped, so no link, image or HTML in a name can
act), or shown with st.text / st.dataframe, which never interpret it.
"""
from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from assets_map.community.sitecard import SiteCard, site_card
from assets_map.community.sitepack import select_sites, site_pack_html
from assets_map.engine.filters import Filters, options
from assets_map.ui import identity, state

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&$:])")


def md(value) -> str:
    """Text safe to put inside st.markdown: every Markdown/HTML special character escaped."""
    text = "" if value is None else str(value)
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def banner() -> None:
    """Say which data is shown; the demo is labelled fictional wherever it is shown."""
    if state.is_demo():
        st.warning(f"**{md(state.data_label())}.** Names, places and scores are invented to show how "
                   "assets-map works. Load your own files on **Your data**.", icon="⚠️")
    else:
        st.info(f"Showing **{md(state.data_label())}** (kept in this browser session only).", icon="📂")


def count_line(res) -> None:
    """``"N of M sites shown"`` and any note on sites the filters hide for want of data."""
    st.markdown(f"**{res.count_text()}** (filters in the sidebar)")
    for note in res.notes:
        st.caption(note)


def _range(key: str, top: float, step: float, label: str, current: tuple):
    lo, hi = current
    val = st.slider(label, 0.0, float(top), (float(lo or 0.0), float(hi if hi is not None else top)), step=step,
                    key=key)
    lo2 = None if val[0] <= 0 else val[0]
    hi2 = None if val[1] >= top else val[1]
    return (lo2, hi2)


def sidebar_filters() -> Filters:
    """Draw the shared filters in the sidebar and store the Filters in session state."""
    a = state.analysis().assets
    opts = options(a)
    with st.sidebar:
        st.markdown("### Filter the sites")
        st.caption("Empty boxes mean all. Every page uses these filters.")
        text = st.text_input("Search name, address or UPRN", key="f_text")
        orgs = st.multiselect("Organisation", opts["organisations"], key="f_org")
        types = st.multiselect("Owner type", opts["anchor_types"], key="f_type",
                               format_func=lambda v: v.replace("_", " "))
        statuses = st.multiselect("Status", opts["statuses"], key="f_status")
        prios = st.multiselect("Priority", opts["priorities"], key="f_priority")
        deciles = st.slider("Need decile (1 = most deprived 10% in England)", 1, 10, (1, 10), key="f_decile")
        ha = _range("f_ha", opts["site_ha_max"], max(opts["site_ha_max"] / 100, 0.01), "Site area (ha)", (None, None))
        floor = _range("f_floor", opts["floor_m2_max"], max(opts["floor_m2_max"] / 100, 1.0), "Floor area (m²)",
                       (None, None))
        areas = st.multiselect(opts["area_label"].capitalize(), list(opts["areas"]), key="f_area",
                               format_func=lambda c: opts["areas"].get(c, c))
        if st.button("Clear filters", key="f_clear", on_click=_clear):
            pass
    f = Filters(organisations=tuple(orgs), anchor_types=tuple(types), statuses=tuple(statuses),
                priorities=tuple(prios), site_ha=ha, floor_m2=floor, deciles=tuple(deciles), areas=tuple(areas),
                text=text or "")
    state.set_filters(f)
    return f


def _clear() -> None:
    for k in state.FILTER_WIDGETS:
        st.session_state.pop(k, None)


def frame() -> None:
    """The shared frame drawn before every page: which mode the app is in for this visitor, the sidebar filters."""
    st.sidebar.caption(md(identity.visitor().line()))
    sidebar_filters()


NEARBY_CHOICES = (250, 500, 1000, 2000)


def card_for(asset_id: str, *, nearby_m: float = 500.0) -> SiteCard:
    """The site card of ``asset_id`` in the analysis in use, with neighbours within ``nearby_m`` metres."""
    result = state.analysis()
    return site_card(result.assets, result.needs, asset_id, settings=result.settings, nearby_m=nearby_m)


def render_card(asset_id: str, *, key: str) -> None:
    """Draw a site card: why it is here, owner and contact, facts, need, neighbours, routes."""
    nearby_m = st.session_state.get("nearby_m", 500)
    card = card_for(asset_id, nearby_m=nearby_m)
    colour = {"High": "red", "Medium": "orange", "Low": "blue"}.get(card.priority, "gray")
    st.markdown(f"#### {md(card.title)}")
    st.markdown(f":{colour}-badge[Priority: {md(card.priority)}] {md(card.priority_meaning)}")
    if state.is_demo():
        st.caption("Fictional demo site: invented to show how a site card reads.")
    in_list = asset_id in state.shortlist()
    if in_list:
        st.button("Remove from shortlist", key=f"{key}_rm", on_click=state.remove_from_shortlist, args=(asset_id,))
    else:
        st.button("Add to shortlist", key=f"{key}_add", on_click=state.add_to_shortlist, args=(asset_id,),
                  type="primary")
    st.markdown("**Why this site is here**")
    for r in card.reasons:
        st.markdown(f"- {md(r.text)}  \n  :gray[source: {md(r.source)} · date: {md(r.date)} · "
                    f"confidence: {md(r.confidence)}]")
    for n in card.notes:
        st.caption(md(n))
    st.markdown(f"**Owner and how to contact them:** {md(card.contact)}")
    facts = pd.DataFrame(card.facts, columns=["", "value"])
    st.dataframe(facts, hide_index=True, width="stretch")
    st.markdown(f"**Need around it:** {md(card.need_area)}. Deciles by domain: 1 = among the 10% most deprived "
                "areas in England, 10 = the least deprived.")
    if not card.domains.empty:
        st.dataframe(card.domains, hide_index=True, width="stretch")
    st.markdown(f"**Other anchors' assets within {card.nearby_m:g} m**: sites that could be combined, or swapped")
    st.select_slider("Distance (m)", NEARBY_CHOICES, value=nearby_m, key=f"{key}_nearby",
                     on_change=lambda: st.session_state.__setitem__("nearby_m", st.session_state[f"{key}_nearby"]))
    if card.nearby.empty:
        st.caption("None in the data loaded.")
    else:
        st.dataframe(card.nearby, hide_index=True, width="stretch")
    st.markdown("**How to take it further: routes to community ownership**")
    for r in card.routes:
        with st.expander(f"{r.title} ({r.applies})", expanded=r.applies == "likely"):
            st.markdown(md(r.why))
            st.markdown(f"**Who can use it:** {md(r.who)}")
            st.markdown("**Next steps:**")
            for i, step in enumerate(r.next_steps, 1):
                st.markdown(f"{i}\\. {md(step)}")
            for d in r.dates:
                st.markdown(f"- {md(d)}")
            st.caption(md(r.law))
    st.caption(f"Constraints: {md(card.constraints)}")
    with st.expander("What this map cannot tell you"):
        for c in card.cannot:
            st.markdown(f"- {md(c)}")
    result = state.analysis()  # captured here: the callable runs on another thread, without session state
    st.download_button("Download this site pack (printable HTML)", lambda: pack_html(result, [asset_id]),
                       file_name=f"site-pack-{re.sub(r'[^A-Za-z0-9_-]', '_', asset_id)}.html", mime="text/html",
                       key=f"{key}_pack", on_click="ignore")


def pack_html(result, ids: list[str]) -> str:
    """The printable site pack (assets_map.community.sitepack) for some sites of an analysis."""
    return site_pack_html(select_sites(result.assets, ids), needs=result.needs, settings=result.settings)
