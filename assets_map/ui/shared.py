"""What every page shares: the data banner, the sidebar filters, the site card, safe text.

Every value that came from a user's file is passed through :func:`md` before it
reaches st.markdown (Markdown escaped, so no link, image or HTML in a name can
act), or shown with st.text / st.dataframe, which never interpret it.
"""
from __future__ import annotations

import re
import urllib.parse

import streamlit as st

from assets_map.community.sitecard import SiteCard, site_card
from assets_map.community.sitepack import select_sites, site_pack_html
from assets_map.engine.filters import Filters
from assets_map.schema import value_words
from assets_map.store import StoreError
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
                   "assets-map works. Load your own files on **Your data**.", icon=":material/warning:")
    else:
        st.info(f"Showing **{md(state.data_label())}** (kept in this browser session only).", icon=":material/folder_open:")


def count_line(res) -> None:
    """``"N of M sites shown"`` and any note on sites the filters hide for want of data."""
    st.markdown(f"**{res.count_text()}** (filters in the sidebar)")
    for note in res.notes:
        st.caption(note)


def _range(key: str, top: float, step: float, label: str, current: tuple):
    lo, hi = current
    # The value is given only when the session has none: "Clear filters" and new data set it directly.
    value = {} if key in st.session_state else {"value": (float(lo or 0.0), float(hi if hi is not None else top))}
    val = st.slider(label, 0.0, float(top), step=step, key=key, **value)
    lo2 = None if val[0] <= 0 else val[0]
    hi2 = None if val[1] >= top else val[1]
    return (lo2, hi2)


#: Areas (wards or LSOAs) the sidebar's area box lists in full; with more, a search lists the areas matching it.
AREAS_LISTED = 2000
#: Matches of that search the box lists at most.
AREA_MATCHES = 200


def _area_filter(opts: dict) -> list[str]:
    """The area box (wards, or LSOAs when no wards are loaded); returns the codes chosen.

    Every rerun of every page draws it, and Streamlit builds, formats and hashes each option every time (20-35 ms
    and ~1 MB on a first page for the 32,065 LSOAs of a national register). Beyond :data:`AREAS_LISTED` areas, a
    search box above it lists the areas whose name or code holds the text typed (the areas chosen stay listed).
    """
    names = opts["areas"]
    label = opts["area_label"][:1].upper() + opts["area_label"][1:]
    if len(names) <= AREAS_LISTED:
        return st.multiselect(label, list(names), key="f_area", format_func=lambda c: names.get(c, c))
    q = st.text_input(f"Find {'a ward' if opts['area_label'] == 'ward' else 'an LSOA'} to filter by", key="f_area_q",
                      placeholder="part of its name or code",
                      help=f"{len(names):,} areas hold sites: type part of a name or code to list them in the box below.")
    text = (q or "").strip().casefold()
    chosen = [c for c in st.session_state.get("f_area") or [] if c in names]
    found = [c for c, n in names.items() if text in n.casefold()] if text else []
    if len(found) > AREA_MATCHES:
        st.caption(f"{len(found):,} areas match: the box lists the first {AREA_MATCHES}; type more to narrow it.")
    elif text and not found:
        st.caption(f"No area's name or code holds '{md(q.strip())}'.")
    options = list(dict.fromkeys([*chosen, *found[:AREA_MATCHES]]))
    return st.multiselect(label, options, key="f_area", format_func=lambda c: names.get(c, c),
                          placeholder="Type in the box above to list areas")


def sidebar_filters() -> Filters:
    """Draw the shared filters in the sidebar and store the Filters in session state."""
    opts = state.filter_options()
    note = state.apply_filter_reset()
    with st.sidebar:
        st.markdown("### Filter the sites")
        st.caption("Empty boxes mean all. Every page uses these filters.")
        if note:
            st.info(md(note))
        text = st.text_input("Search name, address or UPRN", key="f_text")
        orgs = st.multiselect("Organisation", opts["organisations"], key="f_org")
        types = st.multiselect("Owner type", opts["anchor_types"], key="f_type",
                               format_func=lambda v: value_words("anchor_type", v))
        statuses = st.multiselect("Status", opts["statuses"], key="f_status",
                                  format_func=lambda v: value_words("status", v))
        prios = st.multiselect("Priority", opts["priorities"], key="f_priority")
        deciles = st.slider("Need decile (1 = most deprived 10% in England)", 1, 10, key="f_decile",
                            **({} if "f_decile" in st.session_state else {"value": (1, 10)}))
        ha = _range("f_ha", opts["site_ha_max"], max(opts["site_ha_max"] / 100, 0.01), "Site area (ha)", (None, None))
        floor = _range("f_floor", opts["floor_m2_max"], max(opts["floor_m2_max"] / 100, 1.0), "Floor area (m²)",
                       (None, None))
        areas = _area_filter(opts)
        kinds = opts["constraint_kinds"]  # only kinds a constraint layer was loaded for
        con_none = st.checkbox("No constraint found among those checked", key="f_con_none", disabled=not kinds,
                               help="Sites checked against the constraint layers loaded and inside none; sites not "
                                    "checked are hidden, never counted as clear")
        con_not = st.multiselect("Not inside (checked)", list(kinds), key="f_con_not", format_func=kinds.get,
                                 disabled=not kinds, help="e.g. not in a conservation area: checked clear or near")
        st.button("Clear filters", key="f_clear", on_click=state.clear_filters)
    f = Filters(organisations=tuple(orgs), anchor_types=tuple(types), statuses=tuple(statuses),
                priorities=tuple(prios), site_ha=ha, floor_m2=floor, deciles=tuple(deciles), areas=tuple(areas),
                text=text or "", no_constraint_found=bool(con_none), not_inside=tuple(k for k in con_not if k in kinds))
    state.set_filters(f)
    return f


def frame() -> None:
    """The shared frame drawn before every page: which mode the app is in for this visitor, the sidebar filters."""
    st.sidebar.caption(md(identity.visitor().line()))
    sidebar_filters()


def near_search(key: str):
    """A search box for a place in the data loaded; the place picked becomes "near here" on every page.

    Returns the place in use as "near here" (an :class:`assets_map.engine.places.Place`, picked
    here or by a click on the map), or None.
    """
    q = st.text_input("Find a place", key=f"{key}_q", placeholder="postcode (M32 0), street, town, ward or area",
                      help="Searches the data loaded: the postcode directory (full postcode, sector or district), "
                           "wards, need areas (LSOA names and codes), and the streets and towns in the register's "
                           "addresses. On the map you can also click anywhere to set \"near here\".")
    text = (q or "").strip()
    if text:
        found = state.gazetteer().search(text)
        if not found:
            st.caption(f"No place called '{md(text)}' in the data loaded. Try a postcode, a ward, or a street or "
                       "town from the addresses; or click the map.")
        else:
            pick = found[0]
            if len(found) > 1:
                labels = [p.label for p in found]
                chosen = st.selectbox("Which one?", labels, key=f"{key}_pick_{text.lower()}",
                                      label_visibility="collapsed")
                pick = found[labels.index(chosen)] if chosen in labels else found[0]
            if st.session_state.get(f"{key}_last") != (text.lower(), pick.label):
                st.session_state[f"{key}_last"] = (text.lower(), pick.label)
                state.set_near(pick)
    return state.near()


def _registered_page() -> None:
    """Stands for a page of the app's navigation in links (never run: Streamlit matches pages by URL path)."""


def app_page(url_path: str, title: str):
    """A page of the app (``"map"``, ``"find"``...) for st.page_link and st.switch_page, without importing it."""
    return st.Page(_registered_page, title=title, url_path=url_path)


NEARBY_CHOICES = (250, 500, 1000, 2000)


def card_for(asset_id: str, *, nearby_m: float = 500.0) -> SiteCard:
    """The site card of ``asset_id`` in the analysis in use, with neighbours within ``nearby_m`` metres."""
    result = state.analysis()
    return site_card(result.assets, result.needs, asset_id, settings=result.settings, nearby_m=nearby_m)


def _table_md(rows, header: tuple[str, str] = ("", "")) -> str:
    """Two columns of text as a Markdown table (every value escaped): it never scrolls inside itself."""
    lines = [f"| {md(header[0]) or ' '} | {md(header[1]) or ' '} |", "|---|---|"]
    lines += [f"| {md(k)} | {md(v)} |" for k, v in rows]
    return "\n".join(lines)


def render_card(asset_id: str, *, key: str) -> None:
    """Draw a site card as one piece: why it is here, the owner and how to reach them, the routes, then the facts.

    Every fact is on the page itself (Markdown tables and lists, no scrolling box inside the card).
    """
    nearby_m = st.session_state.get("nearby_m", 500)
    card = card_for(asset_id, nearby_m=nearby_m)
    colour = {"High": "red", "Medium": "orange", "Low": "blue"}.get(card.priority, "gray")
    st.markdown(f"#### {md(card.title)}")
    st.markdown(f":{colour}-badge[Priority: {md(card.priority)}] {md(card.priority_meaning)}")
    if state.is_demo():
        st.caption("Fictional demo site: invented to show how a site card reads.")
    b1, b2 = st.columns(2)
    with b1:
        if asset_id in state.shortlist():
            st.button("Remove from list", key=f"{key}_rm", on_click=state.remove_from_shortlist,
                      args=(asset_id,), help="Take this site off your shortlist.")
        else:
            st.button("Add to shortlist", key=f"{key}_add", on_click=state.add_to_shortlist, args=(asset_id,),
                      type="primary")
    result = state.analysis()  # captured here: the callable runs on another thread, without session state
    b2.download_button("Site pack (HTML)", lambda: pack_html(result, [asset_id]),
                       file_name=f"site-pack-{re.sub(r'[^A-Za-z0-9_-]', '_', asset_id)}.html", mime="text/html",
                       key=f"{key}_pack", on_click="ignore", icon=":material/download:",
                       help="A printable site pack of this site; the Site pack page makes a PDF of your shortlist.")
    st.markdown("**Why this site is here**")
    for r in card.reasons:
        st.markdown(f"- {md(r.text)}  \n  :gray[source: {md(r.source)} · date: {md(r.date)} · "
                    f"confidence: {md(r.confidence)}]")
    for n in card.notes:
        st.caption(md(n))
    st.markdown(f"**Owner and how to reach them:** {md(card.contact)}")
    if (result.settings or {}).get("source") == "register":  # a register site: follow it, see its cases
        site = urllib.parse.quote(str(asset_id), safe="")
        st.markdown(f"[Follow this site](follow?site={site}) · [Transfer cases and ACV clocks](cases?site={site})")
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
    st.markdown("**Facts**")
    st.markdown(_table_md(card.facts))
    st.markdown(f"**Need around it:** {md(card.need_area)}. Deciles by domain: 1 = among the 10% most deprived "
                "areas in England, 10 = the least deprived.")
    if not card.domains.empty and {"domain", "decile"} <= set(card.domains.columns):
        st.markdown(_table_md(zip(card.domains["domain"], card.domains["decile"], strict=True),
                              header=("Domain", "Decile")))
    st.markdown(f"**Other anchors' assets within {card.nearby_m:g} m**: sites that could be combined, or swapped")
    st.select_slider("Distance (m)", NEARBY_CHOICES, value=nearby_m, key=f"{key}_nearby",
                     on_change=lambda: st.session_state.__setitem__("nearby_m", st.session_state[f"{key}_nearby"]))
    if card.nearby.empty:
        st.caption("None in the data loaded.")
    else:
        near = card.nearby
        lines = [f"- {md(r.get('name') if isinstance(r.get('name'), str) else r.get('asset_id'))} "
                 f"({md(r.get('organisation') or 'owner not recorded')}; {md(r.get('priority') or 'not flagged')}), "
                 f"{float(r.get('distance_m')):,.0f} m" for _, r in near.head(12).iterrows()]
        more = f"\n\n…and {len(near) - 12} more." if len(near) > 12 else ""
        st.markdown("\n".join(lines) + more)
    loaded = [c for c in card.constraint_lines if c.source]
    if loaded:  # a short table for the kinds a layer was loaded for; the rest are named, never read as clear
        st.markdown("**Planning constraints** (inside, near or clear when a layer was checked; not checked otherwise)")
        st.markdown("\n".join(["| Constraint | Answer | What and where |", "|---|---|---|"] + [
            f"| {md(c.kind)} | **{md(c.answer)}** | {md(c.detail)} |" for c in loaded]))
        st.caption(md("Layers checked: " + "; ".join(dict.fromkeys(c.source for c in loaded))))
        for c in loaded:
            if c.answer in ("inside", "near"):
                st.caption(md(f"{c.kind.capitalize()} ({c.answer}): {c.meaning}"))
        rest = [c.kind for c in card.constraint_lines if not c.source]
        if rest:
            st.caption(md(f"Not checked (no layer loaded): {', '.join(rest)}"))
    else:
        st.caption(f"Constraints: {md(card.constraints)}")
    with st.expander("What this map cannot tell you"):
        for c in card.cannot:
            st.markdown(f"- {md(c)}")


def pack_html(result, ids: list[str]) -> str:
    """The printable site pack (assets_map.community.sitepack) for some sites of an analysis."""
    return site_pack_html(select_sites(result.assets, ids), needs=result.needs, settings=result.settings,
                          parcels=result.parcels)


def open_register():
    """The register's store, or ``None`` after one line saying it could not be opened (no connection details)."""
    try:
        return identity.shared_store()
    except StoreError as exc:
        st.error(f"The register could not be opened: {md(exc)}")
        return None
