"""Download page: the filtered sites or the shortlist, as GeoPackage, zipped Shapefile, GeoJSON or CSV."""
from __future__ import annotations

import streamlit as st

from assets_map.ui import downloads, shared, state

ABOUT_FORMATS = """
- **GeoPackage**: one file for QGIS or ArcGIS, in British National Grid (EPSG:27700), with a data dictionary.
- **Shapefile (zipped)**: for older GIS; one Shapefile for points and one for outlines, a table for sites with
  no location, field names cut to 10 characters with a list of what each stands for, and a README.
- **GeoJSON**: for web maps, in longitude/latitude (WGS84).
- **CSV**: for spreadsheets (zipped with its data dictionary), with a longitude and latitude for each site;
  cells that a spreadsheet would run as a formula are made safe.
- **KML**: for Google Earth.
"""


def render() -> None:
    """The Download page: the filtered sites or the shortlist, with a button per export format."""
    st.title("Download sites")
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
    st.markdown(ABOUT_FORMATS)
    st.caption("Every file keeps every column of the source (prefixed src_) beside the standard ones, "
               "with the reasons for each flag.")
    downloads.buttons(sites, what=which, key="dl")
