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
from streamlit.errors import StreamlitAPIException
from streamlit_folium import _get_map_string, generate_js_hash, st_folium

from assets_map.engine.filters import Filters
from assets_map.engine.places import Place, point_place
from assets_map.maps import national as display
from assets_map.maps.draw import (
    BASEMAPS,
    NEED_LABEL_ZOOM,
    MapData,
    clicked_asset_id,
    data_layers,
    map_data,
    near_layer,
    need_measures,
    render_map,
    selection_centre,
    selection_layer,
    site_data,
    site_display,
    site_groups,
)
from assets_map.maps.national import national_map_data, needs_national_display
from assets_map.ui import shared, state

PRIORITY_ORDER = {"High": 0, "Medium": 1, "Low": 2, "not flagged": 3}
#: Rows the table and the "Choose a site" box list at most (highest priority first); downloads have them all.
MAX_LISTED = 5000
#: Rows of the sites table sent at a time: a longer list is shown a page at a time (each rerun that draws the
#: table sends its rows: 5,000 were 0.85 MB).
TABLE_PAGE = 500
#: Sites the "Choose a site" box offers at most; with more, a search box finds any of them.
CHOOSE_MAX = 500
#: How the paged table may be sorted (all of its pages, not only the one shown): the column, largest first?
TABLE_SORTS = {"Priority, then need": (None, False), "Need decile (most deprived first)": ("Need decile", False),
               "Site area (largest first)": ("Site ha", True), "Floor area (largest first)": ("Floor m²", True),
               "Name (A to Z)": ("Name", False), "Owner (A to Z)": ("Owner", False)}
#: The sites table: the key columns first, so that they show without scrolling sideways.
TABLE_COLUMNS = {"priority": "Priority", "name": "Name", "organisation": "Owner", "status": "Status",
                 "need_decile": "Need decile", "site_area_ha": "Site ha", "floor_area_m2": "Floor m²",
                 "location_quality": "Located by", "asset_id": "Asset id"}
MAP_HEIGHT = 520
#: Longest table whose selected row is highlighted by a Styler (beyond, styling costs seconds per run).
MAX_STYLED = 3000
HOW_TO_READ = """
**Shading**: neighbourhoods (LSOAs) by need, darker = more deprived (decile 1 = the most deprived 10% in
England). **Dots and outlines**: land and buildings of councils, the NHS and other anchors. Coloured ones are
**flagged**: the owner's own records suggest they are not fully used *and* they sit in an area of need (High,
Medium, Low); small grey dots are not flagged. Parks, allotments and land in community use are never flagged.

**Click a site** (or a row of the table) for its card: why it is flagged, who owns it and how to reach them, and
the routes to community ownership. **Click anywhere else** to set "near here". A flag is a prompt to ask, not
proof that a site is available.
"""
EXPLAINED = "_map_explained"
NATIONAL_KEY = "_national_map_key"
FOCUS = state.FOCUS


def _on_table_select(key: str) -> None:
    event = st.session_state.get(key)
    ids = st.session_state.get("_table_ids", [])
    selection = getattr(event, "selection", None) or {}
    cells = list(getattr(selection, "cells", None) or (selection.get("cells", []) if isinstance(selection, dict) else []))
    rows = list(getattr(selection, "rows", None) or (selection.get("rows", []) if isinstance(selection, dict) else []))
    row = cells[0][0] if cells else rows[0] if rows else None
    if row is not None and 0 <= row < len(ids):
        state.focus_on_site(ids[row])
        st.session_state["_table_picked"] = ids[row]


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


def table_frame(view: pd.DataFrame) -> pd.DataFrame:
    """The sites table as shown: key columns first, in words, by priority then need (a selection never moves it)."""
    df = pd.DataFrame({label: view[col].to_numpy() for col, label in TABLE_COLUMNS.items() if col in view.columns})
    if "Located by" in df:
        df["Located by"] = df["Located by"].map(lambda q: "not placed" if q in (None, "none") or pd.isna(q) else q)
    for col in ("Owner", "Status", "Name", "Priority"):
        if col in df:
            df[col] = df[col].astype(object).where(df[col].notna(), "not recorded")
    df["_order"] = view["priority"].map(PRIORITY_ORDER).fillna(4).to_numpy()
    df = df.sort_values(["_order", "Need decile"], kind="stable", na_position="last").drop(columns="_order")
    # Numbers as right-aligned text padded with spaces: a missing one reads "–" (a number column would say
    # "None"), and sorting the text sorts by the number (spaces sort before digits, the dash after them).
    for col, fmt in (("Need decile", "{:.0f}"), ("Site ha", "{:,.2f}"), ("Floor m²", "{:,.0f}")):
        if col in df:
            values = pd.to_numeric(df[col], errors="coerce")
            df[col] = [fmt.format(v).rjust(12) if pd.notna(v) else "–" for v in values]
    return df.reset_index(drop=True)


def listed_sites(view: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sites the table and the "Choose a site" box list (:func:`by_priority`) and the table's frame.

    ``view`` is the data in use under the filters in use: both are kept in the session per data, filters and
    (when not every site is listed) selection, so a rerun that changes neither (a click, a pan) builds
    neither again (at 5,000 rows the table's frame takes ~50 ms).
    """
    sel = state.selected() if len(view) > MAX_LISTED else None
    key = (state.data_version(), state.filters().key(), len(view), sel)

    def build():
        top = by_priority(view)
        return top, table_frame(top)

    return state.kept_table(key, build)


def sorted_table(df: pd.DataFrame, order: str) -> pd.DataFrame:
    """The table's frame (:func:`table_frame`) in the order named in :data:`TABLE_SORTS` (stable; blanks last)."""
    col, largest_first = TABLE_SORTS.get(order, (None, False))
    if col is None or col not in df:
        return df
    if col in ("Need decile", "Site ha", "Floor m²"):
        keys = pd.to_numeric(df[col].str.replace(",", "").str.strip(), errors="coerce")
    else:
        keys = df[col].str.casefold().where(df[col] != "not recorded")
    return df.iloc[keys.sort_values(ascending=not largest_first, kind="stable", na_position="last").index]\
        .reset_index(drop=True)


def _table_page(df: pd.DataFrame, outside: str | None, turn: tuple, listing: tuple) -> pd.DataFrame:
    """One page of a long sites table, with its sort order and page number chosen above it.

    ``outside``: a site selected elsewhere (map, box): its page is shown. ``turn``: the data and filters;
    when they change the table starts again at page 1. ``listing``: what else decides the rows listed.
    """
    c0, c1, c2 = st.columns([3, 2, 4], vertical_alignment="bottom")
    order = c0.selectbox("Sort the list by", list(TABLE_SORTS), key="table_sort")
    df = state.kept_sorted_table((turn, listing, order), lambda: sorted_table(df, order))
    pages = -(-len(df) // TABLE_PAGE)
    if st.session_state.get("_table_turn") != (turn, order):
        st.session_state["_table_turn"] = (turn, order)
        st.session_state["table_page"] = 1
    if outside is not None:
        at = np.flatnonzero(df["Asset id"].to_numpy() == outside)
        if len(at):
            st.session_state["table_page"] = int(at[0]) // TABLE_PAGE + 1
    st.session_state["table_page"] = min(max(int(st.session_state.get("table_page") or 1), 1), pages)
    page = int(c1.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, step=1, key="table_page"))
    start = (page - 1) * TABLE_PAGE
    end = min(start + TABLE_PAGE, len(df))
    c2.caption(f"Rows {start + 1:,} to {end:,} of {len(df):,}. A click on a column title sorts this page; "
               "\"Sort the list by\" sorts every page.")
    return df.iloc[start:end].reset_index(drop=True)


def sites_table(view: pd.DataFrame, *, key: str, height: int = 420, outside: str | None = None) -> None:
    """The filtered sites, sortable; a click on any cell of a row selects that site, highlighted where it is.

    ``view``: the data in use under the filters in use (see :func:`listed_sites`). A list longer than
    :data:`TABLE_PAGE` rows is shown a page at a time (:func:`_table_page`); ``outside``: a site selected
    elsewhere, whose page is then shown.
    """
    sel = state.selected()
    if len(view) > MAX_LISTED:
        st.caption(f"Listing the {MAX_LISTED:,} highest-priority of {len(view):,} sites: narrow the filters to "
                   "list the rest (downloads include them all).")
    df = listed_sites(view)[1]
    if len(df) > TABLE_PAGE:
        df = _table_page(df, outside, (state.data_version(), state.filters().key(), len(view)),
                         (sel if len(view) > MAX_LISTED else None,))
        key = f"{key}_{st.session_state.get('table_sort')}_{st.session_state.get('table_page')}"
    st.session_state["_table_ids"] = df["Asset id"].tolist()
    shown = df
    # The selected row is highlighted where it is (styling is skipped for tables too long to style quickly).
    if sel is not None and len(df) <= MAX_STYLED:
        at = df.index[df["Asset id"] == sel]

        def highlight(frame: pd.DataFrame) -> pd.DataFrame:
            marks = pd.DataFrame("", index=frame.index, columns=frame.columns)
            if len(at):
                marks.loc[at[0], :] = "background-color: #ffe8a3; font-weight: 600"
            return marks

        shown = df.style.apply(highlight, axis=None)
    st.dataframe(shown, key=key, on_select=lambda: _on_table_select(key), selection_mode="single-cell",
                 hide_index=True, width="stretch", height=height,
                 column_config={"Priority": st.column_config.TextColumn(width="small"),
                                "Name": st.column_config.TextColumn(width="medium"),
                                "Owner": st.column_config.TextColumn(width="medium"),
                                "Status": st.column_config.TextColumn(width="small"),
                                "Need decile": st.column_config.TextColumn(width="small", alignment="right"),
                                "Site ha": st.column_config.TextColumn(width="small", alignment="right"),
                                "Floor m²": st.column_config.TextColumn(width="small", alignment="right"),
                                "Located by": st.column_config.TextColumn(width="small"),
                                "Asset id": st.column_config.TextColumn(width="small")})


def _on_choose(key: str) -> None:
    state.focus_on_site(st.session_state.get(key))


def _names(rows: pd.DataFrame) -> dict[str, str]:
    return dict(zip(rows["asset_id"], rows["name"].astype(object).where(rows["name"].notna(), "(no name)"),
                    strict=True))


def choice_of_sites(view: pd.DataFrame, mask: np.ndarray) -> tuple[list[str], dict[str, str]]:
    """The sites the "Choose a site" box offers (ids, names), highest priority first.

    At most :data:`CHOOSE_MAX`: with more sites shown, a search box above it ("Look up a site") narrows the
    choice to the sites whose name, address, UPRN, postcode or asset id hold every word typed, among all
    those the filters show (``mask`` of the data in use), so any of them can be found and chosen.
    """
    if len(view) <= CHOOSE_MAX:
        listed = listed_sites(view)[0]
        return listed["asset_id"].tolist(), _names(listed)
    q = st.text_input("Look up a site", key="choose_q", placeholder="part of a name, address, UPRN or asset id",
                      help=f"The box below lists up to {CHOOSE_MAX:,} sites; type here to find any of the "
                           f"{len(view):,} sites the filters show.")
    text = (q or "").strip()
    if text:
        hits = np.flatnonzero(state.filter_index().mask(Filters(text=text)).mask & mask)
        rows = by_priority(state.analysis().assets[["asset_id", "name", "priority"]].iloc[hits], limit=CHOOSE_MAX)
        if not len(hits):
            st.caption(f"No site shown holds '{shared.md(text)}' in its name, address, UPRN or asset id.")
        else:
            st.caption(f"{len(hits):,} site{'s' if len(hits) != 1 else ''} shown match '{shared.md(text)}'"
                       + (f": the box lists the {CHOOSE_MAX:,} highest-priority of them; type more to narrow it."
                          if len(hits) > CHOOSE_MAX else "."))
    else:
        rows = listed_sites(view)[0].iloc[:CHOOSE_MAX]
        st.caption(f"The box lists the {CHOOSE_MAX:,} highest-priority of the {len(view):,} sites shown: type in "
                   "\"Look up a site\" to find any other.")
    return rows["asset_id"].tolist(), _names(rows)


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


def national_map(mask: np.ndarray, *, column: str, legend: str, title: str, basemap: str,
                 selected: str | None) -> dict | None:
    """The national map, following pans and zooms without remounting.

    The map itself (tiles, extent of all the data, legend) stays the same, so st_folium keeps it
    mounted where the user left it; the need and site layers for the view it last reported are
    sent as ``feature_group_to_add`` and rebuilt only when the view leaves what was built or the
    zoom changes (``display.view_to_build``). When the map is mounted afresh on the same data
    (another need measure or basemap, or back from another page) it opens at the last view.
    ``mask``: the sites the filters show; the filtered rows are not copied out before the map is sent.
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
    # (The key of the same map is kept: rendering the map to work it out takes ~20 ms a rerun.)
    args = (state.data_version(), column, legend, title, basemap, previous.get("start"), full)
    known = st.session_state.get(NATIONAL_KEY)
    if not known or known[0] != args:
        known = (args, _component_key(base(previous.get("start"))))
        st.session_state[NATIONAL_KEY] = known
    fresh = known[1] not in st.session_state
    nv = display.follow_view(previous, st.session_state.get("map"), version=version, fresh=fresh,
                             full_zoom=int(math.floor(display.zoom_for_bounds(full))))
    st.session_state[state.NATIONAL_VIEW] = nv
    built = nv["built"]
    key = (version, state.filters().key(), column, built)
    need_cache = state.need_layers(column)  # the need layer of a view does not change with the filters
    data = state.cached_map(key, lambda: national_map_data(result.assets, needs, need_column=column, view=built[0],
                                                           zoom=built[1], index=index.masked(mask),
                                                           need_cache=need_cache))
    st.info("Large data: need is drawn by local authority and sites in clusters when zoomed out, by neighbourhood "
            "and one by one when zoomed in. The map redraws for the view as you pan and zoom; the table lists "
            "every site matching the filters.", icon=":material/map:")
    st.caption(display.describe(data.stats))
    layers = data_layers(data, need_label=legend)
    from assets_map.ui.reconcile_page import placed_titles, title_layer, title_legend

    titles = placed_titles()  # an anchor's Land Registry titles, where an ownership file is loaded
    if titles is not None and built[1] >= NEED_LABEL_ZOOM:
        # From street zoom, like the plain map: only the titles in and around the view built (none sent below it).
        layers.append(title_layer(display.in_view(titles, built[0] or display.padded_view(full, built[1])),
                                  street_zoom=False))
    layers.append(selection_layer(result.assets, selected))
    out = st_folium(base(nv["start"]), key="map", height=560, use_container_width=True,
                    returned_objects=["last_active_drawing", "bounds", "zoom"],
                    feature_group_to_add=[g for g in layers if g is not None],
                    layer_control=folium.LayerControl(collapsed=True),
                    center=selection_centre(result.assets, selected))
    if title_legend(titles):
        st.markdown(title_legend(titles))
    return out


def _national_fragment(mask: np.ndarray, *, column: str, legend: str, title: str, basemap: str) -> None:
    sel = state.selected()
    _follow_click(national_map(mask, column=column, legend=legend, title=title, basemap=basemap, selected=sel),
                  sel)


def _follow_click(out: dict | None, sel: str | None) -> None:
    """Follow the last click on the map (once per click) and rerun the whole page.

    A click on a site selects it (the table and the card then follow); a click anywhere
    else sets "near here" there.
    """
    clicked = clicked_asset_id(out)
    point = (out or {}).get("last_clicked")
    point_key = (round(point["lat"], 6), round(point["lng"], 6)) if isinstance(point, dict) and \
        point.get("lat") is not None and point.get("lng") is not None else None
    new_point = point_key is not None and point_key != st.session_state.get("_last_map_point")
    if point_key is not None:
        st.session_state["_last_map_point"] = point_key
    if clicked and clicked != st.session_state.get("_last_map_click"):
        st.session_state["_last_map_click"] = clicked
        if clicked != sel:
            state.focus_on_site(clicked)
            st.rerun()
    elif new_point:
        _clicked_parcel(point_key)
        current = state.near()
        state.set_near(point_place(point_key[1], point_key[0], radius_m=current.radius_m if current else 1500.0),
                       focus=False)
        st.rerun()


PARCEL = "_parcel_clicked"


def _clicked_parcel(point_key: tuple[float, float]) -> None:
    """Where freehold parcels are loaded, keep "who owns this?" of the parcel under a click for the panel."""
    parcels = state.analysis().places.get("parcels")
    st.session_state.pop(PARCEL, None)
    if parcels is None or not len(parcels):
        return
    from assets_map.maps.draw import parcel_at
    from assets_map.ui.reconcile_page import owners_placed

    found = parcel_at(parcels, state.analysis().assets, lon=point_key[1], lat=point_key[0],
                      placements=owners_placed())
    if found is not None:
        st.session_state[PARCEL] = found


def _zoom_for(radius_m: float) -> int:
    """A zoom level at which a circle of ``radius_m`` spans about 200 pixels from its centre (UK latitudes)."""
    return int(max(10, min(17, math.floor(math.log2(18_840_000 / max(radius_m, 100.0))))))


def _near_line(near: Place | None) -> None:
    """One line under the search: the place in use as "near here", a link to rank the sites near it, a way out.

    Its container is drawn with or without a place, so that the map below keeps its place in the page
    (an element that moves is mounted afresh, and the map would lose its view).
    """
    slot = st.container()
    if near is None:
        return
    c0, c1, c2 = slot.columns([5, 2, 1], vertical_alignment="center")
    c0.markdown(f"**Near here:** {shared.md(near.label)}, within {near.radius_m:,.0f} m")
    with c1:
        try:
            st.page_link(shared.app_page("find", "Find a site"), label="Find sites near here",
                         icon=":material/travel_explore:")
        except StreamlitAPIException:  # the page runs on its own (tests): the navigation has no finder
            st.caption("Open **Find a site** to rank the sites near here.")
    c2.button("Clear", key="near_clear", on_click=state.set_near, args=(None,), icon=":material/close:")


def _side_panel(sel: str | None, near: Place | None) -> None:
    """Beside the map: the selected site's card, or what the map shows and what to do."""
    if sel:
        with st.container(height=MAP_HEIGHT + 40, border=True, key="site_card"):
            st.button("Close the card", key="card_close", on_click=state.select, args=(None,), icon=":material/close:",
                      type="tertiary")
            shared.render_card(sel, key="mapcard")
        return
    parcel = st.session_state.get(PARCEL)
    if parcel:
        with st.container(border=True, key="parcel_card"):
            st.markdown("**Who owns this parcel?**")
            st.markdown(shared.md(parcel["owner_words"]))
            st.caption("Register sites in it: " + shared.md(parcel["sites_here"]))
            from assets_map.community.ownership import TITLE_SEARCH_URL

            st.link_button("Title search at HM Land Registry", TITLE_SEARCH_URL, icon=":material/open_in_new:")
            st.button("Close", key="parcel_close", on_click=st.session_state.pop, args=(PARCEL, None),
                      icon=":material/close:", type="tertiary")
    first = not st.session_state.get(EXPLAINED)
    st.session_state[EXPLAINED] = True
    with st.expander("How to read this map", expanded=first, icon=":material/help:"):
        st.markdown(HOW_TO_READ)
    st.info("Click a site on the map, or a row in the table, to see its card here.", icon=":material/touch_app:")


def _outlier_note(outliers: list, visible: set) -> None:
    shown = [(i, n) for i, n in outliers if i in visible]
    if not shown:
        return
    names = "; ".join(f"{n} ({i})" for i, n in shown[:8]) + (f"; and {len(shown) - 8} more" if len(shown) > 8 else "")
    st.caption(f"{len(shown)} site{'s lie' if len(shown) > 1 else ' lies'} far from the rest and "
               f"{'are' if len(shown) > 1 else 'is'} outside this view (choose one in the table to go there): "
               + shared.md(names))


def render() -> None:
    """The Map page: the map first, the site card beside it, then the filtered table."""
    result = state.analysis()
    a = result.assets
    st.title("Land and buildings against community need")
    shared.banner()
    res = state.filter_result()
    sel = state.selected()
    c0, c1 = st.columns([5, 3], vertical_alignment="bottom")
    with c0:
        near = shared.near_search("map_place")
    with c1:
        shared.count_line(res)
    _near_line(near)
    measures = need_measures(result.needs, weights=result.settings.get("weights"),
                             year=result.settings.get("iod_year"))
    title = "FICTIONAL DEMO (Ashbridge)" if state.is_demo() else state.data_label()
    national = needs_national_display(res.shown, result.needs)
    # The filtered rows (a copy of every column) are taken after a national map is sent, not before.
    view = None if national else state.filtered()[0]
    left, right = st.columns([5, 3])
    base = None
    with left:
        # The map goes in this container, drawn above the controls read here first: the map is seen first.
        # (A national map's fragment is drawn after its controls: a fragment in a container drawn before
        # them does not hear the map's clicks.)
        map_slot = st.container() if not national else None
        c1, c2 = st.columns([3, 2])
        basemap = c1.radio("Basemap", list(BASEMAPS), horizontal=True, key="basemap",
                           help="'None' shows the data on a plain background with place names; the map switches "
                                "to it by itself when the tiles cannot load.")
        measure = c2.selectbox("Need shown on the map", list(measures), key="need_measure")
        column, legend = measures.get(measure, next(iter(measures.values())))
    with map_slot or left:
        if national:
            # A fragment: the reruns a pan or zoom causes redraw the map alone, not the table and card.
            st.fragment(_national_fragment)(res.mask, column=column, legend=legend, title=title,
                                            basemap=basemap)
            out = None
        else:
            # The map itself (need areas, wards, parcels, constraints, names, legend, the extent of all the
            # sites) does not depend on the filters: st_folium keeps it (no reload) and a filter change only
            # swaps the sites, sent as feature groups with the selection and "near here".
            everything = a if not needs_national_display(a, result.needs) else view
            base, labels = state.cached_base_map((state.data_version(), column, len(everything)), lambda: (map_data(
                everything, result.needs, need_column=column, wards=result.places.get("wards"),
                constraint_layers=result.constraint_layers, parcels=result.places.get("parcels")),
                [(p.name, p.lon, p.lat, p.kind) for p in state.gazetteer().labels()]))
            shown = state.site_display(lambda: site_display(a))
            data = state.cached_map((state.data_version(), state.filters().key()),
                                    lambda: site_data(view, display=shown))
            m = render_map(base, need_label=legend, title=title, basemap=basemap, labels=labels, sites=False)
            focus = st.session_state.get(FOCUS)
            from assets_map.ui.reconcile_page import placed_titles, title_layer, title_legend

            titles = placed_titles()  # an anchor's Land Registry titles, where an ownership file is loaded
            layers = site_groups(data) + [g for g in (
                selection_layer(a, sel), near_layer(near.lon, near.lat, near.radius_m, near.name) if near else None,
                title_layer(titles, street_zoom=result.places.get("parcels") is not None)) if g]
            if focus and focus[0] == "near" and near is not None:
                center, zoom = (near.lat, near.lon), _zoom_for(near.radius_m)
            else:
                center, zoom = selection_centre(a, sel), None
            out = st_folium(m, key="map", height=MAP_HEIGHT, use_container_width=True,
                            returned_objects=["last_active_drawing", "last_clicked"], feature_group_to_add=layers,
                            layer_control=folium.LayerControl(collapsed=True), center=center, zoom=zoom)
            if title_legend(titles):
                st.markdown(title_legend(titles))
            if data.omitted:
                st.warning(f"The map draws the {data.asset_count:,} highest-priority sites; {data.omitted:,} more "
                           "match the filters but are left off so the map stays usable. Narrow the filters to see "
                           "them; the table and downloads include every site.")
    _follow_click(out, sel)
    view = state.filtered()[0]
    with right:
        _side_panel(sel, near)
    if base is not None and base.outliers:
        _outlier_note(base.outliers, set(view["asset_id"].astype(str)))
    unplaced = int((view["location_quality"] == "none").sum())
    if unplaced:
        st.caption(f"{unplaced} of the sites shown could not be placed on the map (no usable location); "
                   "they are in the table below.")
    st.markdown("**Sites** (click a column title to sort, any cell of a row to select that site)")
    ids, labels = choice_of_sites(view, res.mask)
    if sel and sel not in labels:
        row = a[a["asset_id"] == sel]
        labels[sel] = row["name"].iloc[0] if len(row) and isinstance(row["name"].iloc[0], str) else "(no name)"
    choose_site(ids, labels, key="choose")
    # Keyed by the data and filters, and by a selection made elsewhere (map, box): the table is then drawn
    # afresh with that row highlighted; a click in the table keeps the table (and its scroll) as it is.
    picked = st.session_state.get("_table_picked")
    outside = sel if sel != picked else None
    sites_table(view, key=f"table_{state.data_version()}_{state.filters().key()}_{outside}", outside=outside)
