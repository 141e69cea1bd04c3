"""Map page: need by decile, sites by priority, the sites table and the site card, in step.

Selecting a site on the map, in the table or in the "choose a site" box sets
the same session state; the map outlines and centres on it without being
rebuilt (the selection is a layer st_folium adds dynamically), and the table
ticks it and lists it first.

At national scale (:func:`national_map`) the map follows pans and zooms: the layers for the
view st_folium reports are rebuilt by :mod:`assets_map.maps.national` and swapped in as feature
groups, so the map is never remounted and stays where the user put it.
"""
from __future__ import annotations

import math

import folium
import numpy as np
import pandas as pd
import streamlit as st
from streamlit_folium import _get_map_string, generate_js_hash, st_folium

from assets_map.maps import national as display
from assets_map.maps.draw import (
    BASEMAPS,
    MapData,
    clicked_asset_id,
    data_layers,
    map_data,
    need_measures,
    render_map,
    selection_centre,
    selection_layer,
)
from assets_map.maps.national import national_map_data, needs_national_display
from assets_map.ui import shared, state

PRIORITY_ORDER = {"High": 0, "Medium": 1, "Low": 2, "not flagged": 3}
#: Rows the table and the "Choose a site" box list at most (highest priority first); downloads have them all.
MAX_LISTED = 5000
TABLE_COLUMNS = {"priority": "Priority", "name": "Name", "organisation": "Owner", "status": "Status",
                 "need_decile": "Need decile", "site_area_ha": "Site ha", "floor_area_m2": "Floor m²",
                 "location_quality": "Location", "asset_id": "Asset id"}
HOW_TO_READ = """
**What you see.** Coloured areas are neighbourhoods (LSOAs, about 1,500 people each) shaded by how deprived
they are: darker purple = more deprived (decile 1 is the most deprived 10% of England). Dots and outlines are
land and buildings held by anchor institutions (councils, NHS, universities and others), coloured by priority.

**What is flagged, and why.** A site is flagged when the owner's own records suggest it is not fully used
(empty, surplus or partly vacant, floor space reported empty or under-used) *and* it sits in an area of need.
**High** = strong evidence in one of the 30% most deprived areas; **Medium** and **Low** = weaker evidence or
less need. Parks, allotments and land already in community use are never flagged. Every flag lists its
reasons, sources and dates on the site card: it is a prompt to ask, not proof that a site is available.

**How to take a site further.** Click a site (or pick it in the table) to open its card: it says who owns it,
how to contact them and which routes to community ownership apply. Add sites to your shortlist and download
a site pack, or the shortlist, to share.
"""


def _on_table_select(key: str) -> None:
    event = st.session_state.get(key)
    ids = st.session_state.get("_table_ids", [])
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    if rows and rows[0] < len(ids):
        state.select(ids[rows[0]])


def by_priority(view: pd.DataFrame, limit: int = MAX_LISTED) -> pd.DataFrame:
    """The first ``limit`` sites by priority then need (the selected site always kept)."""
    if len(view) <= limit:
        return view
    order = view["priority"].map(PRIORITY_ORDER).fillna(4).to_numpy()
    top = view.iloc[np.sort(np.argsort(order, kind="stable")[:limit])]
    sel = state.selected()
    if sel and sel in set(view["asset_id"]) and sel not in set(top["asset_id"]):
        top = pd.concat([view[view["asset_id"] == sel], top.iloc[:-1]])
    return top


def sites_table(view: pd.DataFrame, *, key: str, height: int = 420) -> None:
    """The filtered sites, sortable; the selected site is ticked and listed first; a row click selects."""
    sel = state.selected()
    if len(view) > MAX_LISTED:
        st.caption(f"Listing the {MAX_LISTED:,} highest-priority of {len(view):,} sites: narrow the filters to "
                   "list the rest (downloads include them all).")
        view = by_priority(view)
    df = pd.DataFrame({label: view[col].to_numpy() for col, label in TABLE_COLUMNS.items() if col in view.columns})
    df.insert(0, "Selected", (view["asset_id"] == sel).to_numpy())
    df["_order"] = view["priority"].map(PRIORITY_ORDER).fillna(4).to_numpy()
    df = df.sort_values(["Selected", "_order", "Need decile"], ascending=[False, True, True], kind="stable",
                        na_position="last").drop(columns="_order")
    st.session_state["_table_ids"] = df["Asset id"].tolist()
    st.dataframe(df, key=key, on_select=lambda: _on_table_select(key), selection_mode="single-row",
                 hide_index=True, width="stretch", height=height,
                 column_config={"Selected": st.column_config.CheckboxColumn(width="small"),
                                "Site ha": st.column_config.NumberColumn(format="%.2f"),
                                "Floor m²": st.column_config.NumberColumn(format="%.0f")})


def _on_choose(key: str) -> None:
    state.select(st.session_state.get(key))


def choose_site(ids: list[str], labels: dict[str, str], *, key: str) -> None:
    """A non-map widget that sets the same selection as a map click (and is what AppTest drives)."""
    current = state.selected()
    options = [None] + ids
    if current and current not in ids:
        options.append(current)
    st.session_state[key] = current
    st.selectbox("Choose a site", options, key=key, on_change=_on_choose, args=(key,), placeholder="Choose a site…",
                 format_func=lambda i: "Choose a site…" if i is None else f"{labels.get(i, i)} ({i})")


def _component_key(m: folium.Map) -> str:
    """The key st_folium gives this map's component (it remounts, at the map's own extent, when it changes)."""
    m.get_root().render()
    return generate_js_hash(_get_map_string(m), "map", False)


def national_map(view: pd.DataFrame, mask: np.ndarray, *, column: str, legend: str, title: str, basemap: str,
                 selected: str | None) -> dict | None:
    """The national map, following pans and zooms without remounting.

    The map itself (tiles, extent of all the data, legend) stays the same, so st_folium keeps it
    mounted where the user left it; the need and site layers for the view it last reported are
    sent as ``feature_group_to_add`` and rebuilt only when the view leaves what was built or the
    zoom changes (``display.view_to_build``). When the map is mounted afresh on the same data
    (another need measure or basemap, or back from another page) it opens at the last view.
    """
    result = state.analysis()
    needs = result.needs
    version = state.data_version()
    index = state.display_index(column, lambda: display.prepare(result.assets, needs, need_column=column))
    full = display.data_extent(index, needs)
    empty = {"type": "FeatureCollection", "features": []}

    def base(start) -> folium.Map:
        return render_map(MapData(empty, column, empty, empty, full), need_label=legend, title=title,
                          basemap=basemap, layers=False, start=start)

    previous = st.session_state.get(state.NATIONAL_VIEW) or {}
    # st_folium keeps the component's value under its key: absent, the map is being mounted afresh.
    fresh = _component_key(base(previous.get("start"))) not in st.session_state
    nv = display.follow_view(previous, st.session_state.get("map"), version=version, fresh=fresh,
                             full_zoom=int(math.floor(display.zoom_for_bounds(full))))
    st.session_state[state.NATIONAL_VIEW] = nv
    built = nv["built"]
    key = (version, state.filters().key(), column, built)
    data = state.cached_map(key, lambda: national_map_data(view, needs, need_column=column, view=built[0],
                                                           zoom=built[1], index=index.subset(mask)))
    st.info("Large data: need is drawn by local authority and sites in clusters when zoomed out, by neighbourhood "
            "and one by one when zoomed in. The map redraws for the view as you pan and zoom; the table lists "
            "every site matching the filters.", icon="🗺️")
    st.caption(display.describe(data.stats))
    layers = data_layers(data, need_label=legend)
    chosen = selection_layer(result.assets, selected)
    if chosen is not None:
        layers.append(chosen)
    return st_folium(base(nv["start"]), key="map", height=560, use_container_width=True,
                     returned_objects=["last_active_drawing", "bounds", "zoom"], feature_group_to_add=layers,
                     layer_control=folium.LayerControl(collapsed=True),
                     center=selection_centre(result.assets, selected))


def _national_fragment(view: pd.DataFrame, mask: np.ndarray, *, column: str, legend: str, title: str,
                       basemap: str) -> None:
    sel = state.selected()
    _follow_click(national_map(view, mask, column=column, legend=legend, title=title, basemap=basemap, selected=sel),
                  sel)


def _follow_click(out: dict | None, sel: str | None) -> None:
    """Select the site last clicked on the map (once per click) and rerun the whole page.

    The table and the card then follow the selection.
    """
    clicked = clicked_asset_id(out)
    if clicked and clicked != st.session_state.get("_last_map_click"):
        st.session_state["_last_map_click"] = clicked
        if clicked != sel:
            state.select(clicked)
            st.rerun()


def render() -> None:
    """The Map page: the sites over the need areas, the filtered table and the selected site's card."""
    result = state.analysis()
    a = result.assets
    st.title("Land and buildings against community need")
    shared.banner()
    with st.expander("How to read this map", expanded=state.selected() is None):
        st.markdown(HOW_TO_READ)
    view, res = state.filtered()
    shared.count_line(res)
    unplaced = int((view["location_quality"] == "none").sum())
    if unplaced:
        st.caption(f"{unplaced} of the sites shown could not be placed on the map (no usable location); "
                   "they are in the table below.")
    c1, c2 = st.columns([1, 1])
    basemap = c1.radio("Basemap", list(BASEMAPS), horizontal=True, key="basemap",
                       help="'None' shows the data on a plain background; it also shows when tiles cannot load.")
    measures = need_measures(result.needs, weights=result.settings.get("weights"),
                             year=result.settings.get("iod_year"))
    measure = c2.selectbox("Need shown on the map", list(measures), key="need_measure")
    column, legend = measures.get(measure, next(iter(measures.values())))
    title = "FICTIONAL DEMO (Ashbridge)" if state.is_demo() else state.data_label()
    national = needs_national_display(view, result.needs)
    sel = state.selected()
    if national:
        # A fragment: the reruns a pan or zoom causes redraw the map alone, not the table and card below it.
        st.fragment(_national_fragment)(view, res.mask, column=column, legend=legend, title=title, basemap=basemap)
        out = None
    else:
        key = (state.data_version(), state.filters().key(), column)
        data = state.cached_map(key, lambda: map_data(view, result.needs, need_column=column))
        m = render_map(data, need_label=legend, title=title, basemap=basemap)
        if data.omitted:
            st.warning(f"The map draws the {data.asset_count:,} highest-priority sites; {data.omitted:,} more match "
                       "the filters but are left off so the map stays usable. Narrow the filters to see them; the "
                       "table and downloads include every site.")
        out = st_folium(m, key="map", height=560, use_container_width=True, returned_objects=["last_active_drawing"],
                        feature_group_to_add=selection_layer(a, sel), center=selection_centre(a, sel))
    _follow_click(out, sel)
    listed = by_priority(view)
    labels = dict(zip(listed["asset_id"], listed["name"].astype(object).where(listed["name"].notna(), "(no name)"), strict=True))
    if sel and sel not in labels:
        row = a[a["asset_id"] == sel]
        labels[sel] = row["name"].iloc[0] if len(row) and isinstance(row["name"].iloc[0], str) else "(no name)"
    choose_site(listed["asset_id"].tolist(), labels, key="choose")
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Sites** (click a column to sort, a row to select)")
        # Keyed by the selection too: the table is re-sorted around it, so an old row pick must not linger.
        sites_table(view, key=f"table_{state.data_version()}_{state.filters().key()}_{state.selected()}")
    with right:
        sel = state.selected()
        if sel:
            shared.render_card(sel, key="mapcard")
        else:
            st.info("Click a site on the map, or a row in the table, to see its card: why it is here, who owns "
                    "it, and how to take it further.")
