"""The chosen anchor's placed Land Registry titles on the national map (over 5,000 sites): drawn per view from
street zoom, only those in and around the view built, with the legend beside the map; nothing sent zoomed out
(AppTest on the real City of London parcels with CCOD fixtures, the register grown past the national threshold)."""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from assets_map.maps.national import NATIONAL_ASSETS
from tests.helpers import RECONCILE_ANCHOR, app_page, plain

TITLES = "Titles placed (street zoom)"


def _national(analysis):
    """The City's register and, past the national threshold, sites of another owner at the same places."""
    a = analysis.assets
    other = gpd.GeoDataFrame(pd.concat([a] * (NATIONAL_ASSETS // len(a) + 1), ignore_index=True),
                             geometry="geometry", crs=a.crs)
    other["asset_id"] = [f"X{i}" for i in range(len(other))]
    other["organisation"] = "Another Council"
    return analysis.replace(assets=gpd.GeoDataFrame(pd.concat([a, other], ignore_index=True), geometry="geometry",
                                                    crs=a.crs))


def _placed(analysis) -> gpd.GeoDataFrame:
    """The anchor's titles placed on a map, in WGS84, from the engine (the page's own report, no alias table)."""
    from assets_map.community.ownership import TIER_UNPLACED, anchor_register, build_anchor, placements, reconcile

    anchor = build_anchor(RECONCILE_ANCHOR)
    p = placements(reconcile(analysis.places["ownership"], anchor, register=anchor_register(analysis.assets, anchor)[0],
                             postcodes=analysis.places.get("postcodes"), parcels=analysis.places.get("parcels")))
    p = p[p.geometry.notna() & (p["tier"] != TIER_UNPLACED)]
    return p[~p.geometry.is_empty].to_crs(4326)


def _titles_sent(groups) -> set[str] | None:
    """The title numbers of the title layer sent with the map (None: no title layer sent)."""
    layer = [g for g in groups if g.layer_name == TITLES]
    if not layer:
        return None
    import folium

    (geo,) = [c for c in layer[0]._children.values() if isinstance(c, folium.GeoJson)]
    return {f["properties"]["title_number"] for f in geo.data["features"]}


def test_the_national_map_draws_the_titles_in_the_view_from_street_zoom(reconcile_checked, ownership_store,
                                                                        monkeypatch):
    from assets_map.ui import map_page, reconcile_page, state

    sent = []
    real = map_page.st_folium
    monkeypatch.setattr(map_page, "st_folium", lambda *x, **k: sent.append(k["feature_group_to_add"]) or real(*x, **k))
    analysis = _national(reconcile_checked.analysis)
    placed = _placed(analysis)
    assert len(placed) >= 3
    at = app_page("map_page")
    at.session_state["analysis"] = analysis
    at.session_state["analysis_label"] = reconcile_checked.label
    at.session_state[reconcile_page._KEPT_ANCHOR] = RECONCILE_ANCHOR
    at.run()
    assert not at.exception, at.exception
    assert any("Large data" in i.value for i in at.info)  # the national map
    legend = [plain(m.value) for m in at.markdown if "Titles of" in m.value]
    assert len(legend) == 1 and legend[0].startswith(f"**Titles of {RECONCILE_ANCHOR}** placed on the map (from "
                                                     "street zoom")
    version = at.session_state[state.NATIONAL_VIEW]["version"]
    lon, lat = placed.geometry.iloc[0].representative_point().coords[0]

    def shown_at(view, zoom):
        sent.clear()
        at.session_state[state.NATIONAL_VIEW] = {"version": version, "built": (view, zoom), "start": None}
        at.run()
        assert not at.exception, at.exception
        assert sent
        return _titles_sent(sent[-1])

    # zoomed out over the whole City: no title layer sent, the legend still beside the map
    city = tuple(float(v) for v in placed.total_bounds)
    assert shown_at((city[0] - 0.05, city[1] - 0.05, city[2] + 0.05, city[3] + 0.05), 12) is None
    assert any("Titles of" in m.value for m in at.markdown)
    # at street zoom over the whole City: every placed title
    assert shown_at((city[0] - 0.01, city[1] - 0.01, city[2] + 0.01, city[3] + 0.01), 14) == set(placed["title_number"])
    # at street zoom on one title: only the titles meeting the view built (an independent shapely test)
    view = (lon - 0.0005, lat - 0.0005, lon + 0.0005, lat + 0.0005)
    expected = set(placed.loc[shapely.intersects(placed.geometry.to_numpy(), shapely.box(*view)), "title_number"])
    assert placed["title_number"].iloc[0] in expected and expected < set(placed["title_number"])
    assert shown_at(view, 17) == expected


def test_in_view_keeps_the_rows_meeting_the_view_in_order_and_leaves_out_those_with_no_geometry():
    from assets_map.maps.national import in_view

    pts = gpd.GeoSeries.from_xy([-0.09, -0.08, -0.2, -0.085], [51.515, 51.514, 51.6, 51.516], crs=4326).to_crs(27700)
    frame = gpd.GeoDataFrame({"t": ["a", "b", "c", "d"]}, geometry=list(pts.iloc[:3]) + [None], crs=27700)
    assert in_view(frame, (-0.1, 51.51, -0.07, 51.52))["t"].tolist() == ["a", "b"]
    assert in_view(frame.iloc[[1, 0, 2]], (-0.1, 51.51, -0.07, 51.52))["t"].tolist() == ["b", "a"]
    assert in_view(frame, (1.0, 52.0, 1.1, 52.1)).empty and in_view(frame.iloc[:0], (-0.1, 51.51, -0.07, 51.52)).empty
