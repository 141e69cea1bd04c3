"""Map page: need by decile, assets by priority; clicking a site shows why it is flagged."""
from __future__ import annotations

import html

import streamlit as st
from streamlit_folium import st_folium

from assets_map.maps import BASEMAPS, build_map, clicked_asset_id
from assets_map.ui import state


def render() -> None:
    result = state.analysis()
    a = result.assets
    st.title("Land and buildings against community need")
    if state.is_demo():
        st.warning(f"**{state.data_label()}**. Names, places and scores are invented to show how assets-map works.")
    basemap = st.radio("Basemap", list(BASEMAPS), horizontal=True, key="basemap")
    flagged = result.candidates
    st.caption(f"{len(flagged)} of {len(a)} assets flagged; {int((a['location_quality'] == 'none').sum())} "
               f"could not be placed on the map (listed on the sites table).")
    year = result.settings.get("iod_year") or ""
    m = build_map(a, result.needs, title=f"assets-map: {state.data_label()}", basemap=basemap,
                  need_label=f"IMD {year} decile" if result.settings.get("weights") == {"imd": 1.0} else "composite need decile",
                  selected=state.selected())
    out = st_folium(m, height=560, use_container_width=True, key="map",
                    returned_objects=["last_active_drawing"])
    clicked = clicked_asset_id(out)
    if clicked and clicked != state.selected():
        state.select(clicked)
    # A non-map widget sets the same selection (and is what tests drive).
    ids = a["asset_id"].tolist()
    labels = dict(zip(a["asset_id"], a["name"].fillna("(no name)")))
    current = state.selected()
    choice = st.selectbox("Site", [None] + ids, index=(ids.index(current) + 1) if current in ids else 0,
                          format_func=lambda i: "Choose a site…" if i is None else f"{labels[i]} ({i})",
                          key="site_select")
    if choice != current:
        state.select(choice)
    sel = state.selected()
    if sel:
        row = a[a["asset_id"] == sel].iloc[0]
        st.subheader(row["name"] if isinstance(row["name"], str) else sel)
        st.markdown(f"**Priority:** {row['priority']} · **Owner:** {row['organisation']} · "
                    f"**Status:** {row['status']} · **Location:** {row['location_quality']}".replace("<", "&lt;"))
        st.markdown("**Why this site is here**")
        for reason in str(row["reasons"]).split("; "):
            st.text("• " + reason)
