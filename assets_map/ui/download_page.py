"""Download page: the filtered sites or the shortlist, with the other layers the CLI writes, in every export format."""
from __future__ import annotations

import streamlit as st

from assets_map.ui import downloads, shared, state

ABOUT_FORMATS = """
- **GeoPackage**: one file for QGIS or ArcGIS, in British National Grid (EPSG:27700), with a data dictionary.
- **Shapefile (zipped)**: for older GIS; one Shapefile for points and one for outlines, a table for sites with
  no location, field names cut to 10 characters with a list of what each stands for, and a README.
- **GeoJSON**: for web maps, in longitude/latitude (WGS84).
- **CSV**: for spreadsheets (zipped with its data dictionary), with longitude/latitude, easting/northing and the
  outline of each site; cells that a spreadsheet would run as a formula are made safe.
- **KML**: for Google Earth: need areas shaded by deprivation, sites coloured by priority with their reasons
  (the summary is a table, so it is left out).
- **Excel workbook**: for estates teams: a sheet per layer with UPRNs and codes kept as text, the header frozen
  and filters on, the data dictionary and the provenance.
"""


def _reconciliation() -> dict:
    """The Land ownership page's report of the chosen anchor as an extra layer, when an ownership file is loaded."""
    from assets_map.community.ownership import PLACEMENT_NOTE
    from assets_map.ui import reconcile_page

    try:
        got = reconcile_page.anchor_report()
    except Exception as exc:  # noqa: BLE001 - the other layers are still offered; one line, details to the log
        reconcile_page._LOG.exception("the reconciliation for a download")
        st.error(f"The Land ownership reconciliation could not be prepared ({shared.md(type(exc).__name__)}); the "
                 "other layers can still be downloaded.", icon=":material/block:")
        return {}
    if got is None:
        return {}
    anchor, rows = got
    what = (f"the titles of {anchor} in HM Land Registry's files against its register, each with its placement "
            "tier, how it matched, the rule naming the anchor and the decisions recorded (as on the Land ownership "
            "page); placements are approximate")
    note = f"Land ownership reconciliation of {anchor}: titles are placed {PLACEMENT_NOTE}"
    return {"extra": {"reconciliation": (f"Land ownership: {anchor} (reconciliation)", what, rows)},
            "extra_note": note, "anchor": anchor}


def render() -> None:
    """The Download page: the filtered sites or the shortlist, with a button per export format."""
    st.title("Download")
    shared.banner()
    view, res = state.filtered()
    shortlist = state.shortlist()
    which = st.radio("Which sites", ["filtered", "shortlist"], horizontal=True, key="dl_which",
                     format_func=lambda w: f"The filtered sites ({res.shown} of {res.total})" if w == "filtered"
                     else f"My shortlist ({len(shortlist)})")
    if which == "shortlist":
        a = state.analysis().assets
        sites = a[a["asset_id"].isin(shortlist)]
        if sites.empty:
            st.info("Your shortlist is empty: add sites from their card on the Map page.")
            return
    else:
        sites = view
        shared.count_line(res)
    extra = _reconciliation()
    anchor = extra.pop("anchor", None)
    downloads.buttons(sites, what=which, key="dl", **extra)
    if anchor:
        st.caption(f"{shared.md(anchor)}'s Land ownership reconciliation (as on the Land ownership page) "
                   "can go in the file too: its titles are placed approximately, from their address and postcode; "
                   "the file says so.")
    with st.expander("About the formats"):
        st.markdown(ABOUT_FORMATS)
        st.caption("Every file keeps every column of the source (prefixed src_) beside the standard ones, "
                   "with the reasons for each flag.")
