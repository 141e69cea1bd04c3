"""Site pack page: a one-page printable report (HTML and PDF) per site, for one site or the shortlist."""
from __future__ import annotations

import datetime as dt
import html
import logging

import streamlit as st
import streamlit.components.v1 as components

from assets_map.community.routes import MAP_CANNOT, acv_dates
from assets_map.community.sitepack import make_pack, pdf_unavailable, select_sites
from assets_map.engine.bounded import run_bounded
from assets_map.io.report import InputError
from assets_map.ui import shared, state
from assets_map.ui.finder_page import facilities, facilities_uploader

PACK = "sitepack_doc"


def render() -> None:
    """The Site pack page: a printable page (PDF or HTML) per chosen site."""
    st.title("Site pack")
    shared.banner()
    st.markdown("A printable page per site to take to the owner: a map, the facts, why the site is here, the need "
                "around it, partners nearby, the routes to community ownership and what to do next, and the "
                "quality and dates of the data.")
    result = state.analysis()
    a = result.assets
    labels = dict(zip(a["asset_id"], a["name"].astype(object).where(a["name"].notna(), "(no name)"), strict=True))
    short = [i for i in state.shortlist() if i in labels]
    default = short or ([state.selected()] if state.selected() in labels else [])
    ids = st.multiselect("Sites (your shortlist is chosen already)", list(labels), default=default,
                         format_func=lambda i: f"{labels[i]} ({i})", key="sp_sites")
    acv = {}
    if len(ids) == 1:
        with st.expander("Asset of Community Value dates (if the site is listed)"):
            c1, c2 = st.columns(2)
            listed = c1.date_input("Listed on", value=None, key="sp_listed", max_value=dt.date.today())
            notified = c2.date_input("Owner's notice of sale received on", value=None, key="sp_notified")
            try:
                dates = acv_dates(listed_on=listed, notified_on=notified)
                for line in dates.lines():
                    st.text(line)
                acv = {"acv_listed_on": listed, "acv_notified_on": notified}
            except InputError as exc:
                st.error(shared.md(exc))
    facilities_uploader("sp_facilities")
    no_pdf = pdf_unavailable()
    if no_pdf:
        st.warning(f"**No PDF on this machine:** {no_pdf}. The pack is still made as a web page: download it and "
                   "print it to PDF from your browser.", icon=":material/print_disabled:")
    if st.button("Make the site pack", type="primary", key="sp_go", disabled=not ids):
        try:
            sites = select_sites(a, ids).copy()
            for k, v in acv.items():
                sites[k] = v
            settings = dict(result.settings)
            if state.is_demo():
                settings["label"] = state.data_label()
            with st.spinner("Making the site pack and its PDF…"):
                doc, pdf = run_bounded(make_pack, sites, pdf=not no_pdf, needs=result.needs, facilities=facilities(),
                                       settings=settings, title=None if len(ids) == 1 else "Shortlist of sites",
                                       budget=state.budgets()[1], what="making the site pack")
        except (InputError, RuntimeError) as exc:
            st.error(f"**The pack could not be made.** {shared.md(exc)}", icon=":material/block:")
            return
        except Exception as exc:  # noqa: BLE001 - never a traceback on the page: one line, the details to the log
            logging.getLogger(__name__).exception("making a site pack")
            st.error(f"**The pack could not be made** ({type(exc).__name__}); please report this.",
                     icon=":material/block:")
            return
        st.session_state[PACK] = (state.data_version(), tuple(ids), doc, pdf)
    got = st.session_state.get(PACK)
    if not got or got[0] != state.data_version():
        st.caption("What this map cannot do: " + " ".join(MAP_CANNOT))
        return
    _, made_for, doc, pdf = got
    stem = "site-pack-" + (made_for[0] if len(made_for) == 1 else f"{len(made_for)}-sites")
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in stem)
    c1, c2 = st.columns(2)
    if pdf is not None:
        c1.download_button("Download PDF", pdf, file_name=f"{stem}.pdf", mime="application/pdf", key="sp_pdf",
                           icon=":material/picture_as_pdf:")
    c2.download_button("Download HTML", doc.encode("utf-8"), file_name=f"{stem}.html", mime="text/html", key="sp_html",
                       icon=":material/download:")
    st.caption(f"Made for {len(made_for)} site{'s' if len(made_for) != 1 else ''}: "
               + shared.md(", ".join(made_for)))
    _preview(doc)


#: Height of the site-pack preview, in pixels.
PREVIEW_HEIGHT = 1100


def preview_html(doc: str, *, height: int = PREVIEW_HEIGHT) -> str:
    """The page the preview component shows: the pack in an inner frame with ``sandbox=""``.

    Streamlit's component frame allows scripts with the app's own origin, so the
    pack is never put there directly: the inner frame runs no script, submits no
    form, opens no window and has an origin of its own, whatever the pack holds.
    Every value in the pack is already HTML-escaped by the engine; here the whole
    document is escaped once more only as the value of the ``srcdoc`` attribute.
    """
    return (f'<iframe sandbox="" referrerpolicy="no-referrer" title="Site pack preview" '
            f'style="width:100%;height:{int(height) - 20}px;border:0" srcdoc="{html.escape(doc, quote=True)}">'
            f'</iframe>')


def _preview(doc: str) -> None:
    components.html(preview_html(doc), height=PREVIEW_HEIGHT, scrolling=False)
