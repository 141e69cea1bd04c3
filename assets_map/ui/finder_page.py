"""Site finder page: a group says what it needs and gets a ranked shortlist, with reasons for each place."""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely
import streamlit as st
from streamlit.errors import StreamlitAPIException

from assets_map.community.finder import USE_PROFILES, SiteBrief, find_sites
from assets_map.engine.demo import DEMO_PATH
from assets_map.io.facilities import prepare_facilities
from assets_map.io.importer import import_bytes
from assets_map.io.report import InputError
from assets_map.io.sources import using_limits
from assets_map.schema import DISPLAY_CRS
from assets_map.ui import shared, state

RESULT = "finder_result"
FACILITIES = "finder_facilities"


@st.cache_resource
def _demo_facilities():
    return prepare_facilities(gpd.read_file(DEMO_PATH, layer="facilities", engine="pyogrio"), label="facilities")


def facilities():
    """Partner facilities in use: the user's own layers if loaded, else the demo's (fictional) ones."""
    own = st.session_state.get(FACILITIES)
    if own is not None:
        return own
    return _demo_facilities() if state.is_demo() else None


def facilities_uploader(key: str) -> None:
    """Let the user load facility point layers (libraries, GP practices, schools, hubs, leisure centres)."""
    ups = st.file_uploader("Partner facilities (point layers: GeoJSON, GeoPackage or zipped Shapefile)",
                           type=["geojson", "json", "gpkg", "zip"], accept_multiple_files=True, key=key,
                           help="The kind of facility is read from the file name (e.g. libraries.geojson) "
                                "or from a 'type' column.")
    if ups:
        try:
            with using_limits(state.budgets()[0]):  # a public visitor's upload budget
                frames = [import_bytes(u.getvalue(), u.name, kind="facilities")[0] for u in ups]
            st.session_state[FACILITIES] = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
        except InputError as exc:
            st.error(f"**The facility layer could not be used.** {shared.md(exc)}")


def _area_inputs(result) -> dict:
    needs = result.needs
    mode = st.radio("Where", ["Anywhere", "Near a place", "Areas I pick", "A polygon I drew"], horizontal=True,
                    key="fd_where")
    out: dict = {}
    if mode == "Near a place":
        placed = result.assets[~(result.assets.geometry.isna() | result.assets.geometry.is_empty)]
        labels = dict(zip(placed["asset_id"], placed["name"].astype(object).where(placed["name"].notna(), "(no name)"), strict=True))
        how = st.radio("Place", ["A postcode, street, town, ward or area", "Next to a site"], horizontal=True,
                       key="fd_near_how")
        radius_default = 1500
        if how == "Next to a site":
            aid = st.selectbox("Site", list(labels), format_func=lambda i: f"{labels[i]} ({i})", key="fd_near_site")
            p = placed[placed["asset_id"] == aid].geometry.to_crs(DISPLAY_CRS).representative_point().iloc[0]
            out["near"] = (float(p.x), float(p.y))
        else:
            near = shared.near_search("fd_place")
            if near is None:
                st.caption("Type where your group is (e.g. a postcode sector such as M32 0, or Stretford), or "
                           "click the map on the Map page: the place is then used here too.")
                return out
            st.markdown(f"Near **{shared.md(near.label)}**")
            out["near"], out["near_name"] = (near.lon, near.lat), near.label
            radius_default = int(min(5000, max(200, round(near.radius_m / 100) * 100)))
        out["radius_m"] = float(st.slider("How far (metres, straight line)", 200, 5000, radius_default, 100,
                                          key=f"fd_radius_{radius_default}"))
    elif mode == "Areas I pick":
        codes = needs["code"].astype(str).tolist()
        names = dict(zip(codes, needs["name"].astype(object).where(needs["name"].notna(), ""), strict=True))
        options = codes
        if "ward_code" in result.assets.columns:
            wards = result.assets[["ward_code", "ward_name"]].dropna().drop_duplicates()
            names.update(dict(zip(wards["ward_code"].astype(str), "ward: " + wards["ward_name"].astype(str), strict=True)))
            options = sorted(wards["ward_code"].astype(str)) + codes
        out["area_codes"] = tuple(st.multiselect("Areas (LSOAs, and wards where loaded)", options,
                                                 format_func=lambda c: f"{names.get(c, '')} ({c})", key="fd_codes"))
    elif mode == "A polygon I drew":
        st.caption("Draw the area in any GIS or web tool (e.g. QGIS) and save it as GeoJSON or GeoPackage.")
        up = st.file_uploader("Area polygon", type=["geojson", "json", "gpkg"], key="fd_polygon")
        if up is not None:
            try:
                out["area"] = area_polygon(up.getvalue(), up.name)
            except InputError as exc:
                st.error(f"**The polygon could not be used.** {shared.md(exc)}")
    return out


def area_polygon(data: bytes, name: str):
    """The area a group drew, as one WGS84 geometry, read under this visitor's upload budget.

    The same reader as the CLI's ``--area`` (and exclusion layers): polygons, CRS checked; a
    public visitor's bytes and vertices are bounded like every other upload.
    """
    with using_limits(state.budgets()[0]):
        layer, _ = import_bytes(data, name, kind="exclusion")
    return shapely.union_all(layer.to_crs(DISPLAY_CRS).geometry.to_numpy())


def _show_on_map(asset_id: str) -> None:
    state.focus_on_site(asset_id)
    st.session_state["_goto_map"] = True


def render() -> None:
    """The Find a site page: a group's need in, the sites that fit out, best first, with why."""
    if st.session_state.pop("_goto_map", False):
        try:
            st.switch_page(shared.app_page("map", "Map"))
        except StreamlitAPIException:  # the page runs on its own (tests): no Map page to go to
            pass
    st.title("Find a site")
    shared.banner()
    st.markdown("Say what your group needs; assets-map lists the sites that fit, best first, and says why each "
                "is where it is in the list. The list is a starting point for a conversation with the owner, "
                "not an offer.")
    result = state.analysis()
    c1, c2, c3 = st.columns([2, 1, 2])
    use = c1.selectbox("What is it for?", list(USE_PROFILES), key="fd_use")
    profile = USE_PROFILES[use]
    holding = c2.radio("Land or building", ["building", "land", "either"],
                       index=["building", "land", "either"].index(profile.holding), key=f"fd_holding_{use}")
    lo, hi = profile.min_m2 or 0, profile.max_m2 or 5000
    size = c3.slider("Size (m²: floor area for a building, site area for land)", 0, 50_000 if holding == "land" else 10_000,
                     (int(lo), int(hi)), 10, key=f"fd_size_{use}_{holding}")
    brief_args = _area_inputs(result)
    unflagged = st.checkbox("Also show sites not flagged as underused", key="fd_unflagged")
    facilities_uploader("fd_facilities")
    fac = facilities()
    st.caption(f"Partner facilities: {len(fac)} loaded" + (" (fictional demo facilities)" if state.is_demo() and
                                                            FACILITIES not in st.session_state else "")
               if fac is not None else "Partner facilities: none loaded (partners nearby are not scored).")
    if st.button("Find sites", type="primary", key="fd_go"):
        brief = SiteBrief(use=use, holding=holding, min_m2=float(size[0]), max_m2=float(size[1]),
                          include_unflagged=unflagged, **brief_args)
        try:
            ranked = find_sites(result.assets, brief, needs=result.needs, facilities=fac, limit=25,
                                parcels=result.parcels)
        except InputError as exc:
            st.error(f"**The search could not run.** {shared.md(exc)}")
            return
        st.session_state[RESULT] = (state.data_version(), ranked)
    got = st.session_state.get(RESULT)
    if not got or got[0] != state.data_version():
        return
    ranked = got[1]
    st.subheader(f"{len(ranked)} site{'s' if len(ranked) != 1 else ''} for a {shared.md(ranked.attrs.get('use', use))}")
    st.caption(shared.md(f"Searched {ranked.attrs['area']}. " + "; ".join(f"{k}: {v}" for k, v in ranked.attrs["funnel"].items())))
    if ranked.empty:
        st.info("No site fits. Widen the size range or the area, or include sites not flagged as underused.")
        return
    table = pd.DataFrame({"#": ranked["rank"], "Site": ranked["name"], "Id": ranked["asset_id"],
                          "Owner": ranked["organisation"], "Priority": ranked["priority"],
                          "Score": ranked["fit_score"], "Size m²": ranked["size_m2"]})
    st.dataframe(table, hide_index=True, width="stretch")
    for _, r in ranked.iterrows():
        # An expander's label is Markdown: a name like "![x](http://...)" would fetch an image, so it is escaped.
        title = r["name"] if isinstance(r["name"], str) else r["asset_id"]
        with st.expander(shared.md(f"{int(r['rank'])}. {title} ({r['asset_id']})")):
            st.text(r["why_ranked"])
            for reason in str(r["fit_reasons"]).split("; "):
                st.text("• " + reason)
            b1, b2 = st.columns(2)
            b1.button("Add to shortlist", key=f"fd_add_{r['asset_id']}", on_click=state.add_to_shortlist,
                      args=(r["asset_id"],))
            b2.button("Open its card on the map", key=f"fd_map_{r['asset_id']}", on_click=_show_on_map,
                      args=(r["asset_id"],), icon=":material/map:")
    if st.button("Add all to shortlist", key="fd_add_all"):
        for aid in ranked["asset_id"]:
            state.add_to_shortlist(aid)
        st.success(f"{len(ranked)} sites on your shortlist. Make their site pack on the **Site pack** page.")
