"""National-scale display: aggregate when zoomed out, clip and simplify when zoomed in, stay under budget."""
from __future__ import annotations

import html
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from assets_map.maps import national as display
from assets_map.maps.draw import map_data, payload_bytes, render_map
from assets_map.maps.national import lad_of, national_map_data, needs_national_display, prepare, zoom_for_bounds
from assets_map.schema import DISPLAY_CRS


@pytest.fixture(scope="module")
def national():
    """4,096 square 'LSOAs' (64 x 64 km) in 64 'authorities', 20,000 assets with priorities."""
    rng = np.random.default_rng(3)
    side, cell = 64, 1000.0
    i, j = np.meshgrid(np.arange(side), np.arange(side))
    i, j = i.ravel(), j.ravel()
    x0, y0 = 380_000 + i * cell, 380_000 + j * cell
    lad = (i // 8) * 8 + (j // 8)
    needs = gpd.GeoDataFrame({
        "code": [f"E01{k:06d}" for k in range(len(i))],
        "name": [f"Borough{l:02d} {k % 1000:03d}{'ABCD'[k % 4]}" for k, l in enumerate(lad)],
        "need_decile": pd.array((lad % 10) + 1, dtype="Int64"), "iod_year": pd.array([2025] * len(i), dtype="Int64"),
    }, geometry=shapely.box(x0, y0, x0 + cell, y0 + cell), crs="EPSG:27700")
    n = 20_000
    px, py = rng.uniform(380_000, 380_000 + side * cell, n), rng.uniform(380_000, 380_000 + side * cell, n)
    assets = gpd.GeoDataFrame({
        "asset_id": [f"A{k}" for k in range(n)], "name": [f"Site <{k}>" for k in range(n)],
        "organisation": "Test Council", "status": "vacant",
        "priority": rng.choice(["High", "Medium", "Low", "not flagged"], n, p=[0.05, 0.1, 0.15, 0.7]),
        "need_area_name": "x", "need_decile": 1,
    }, geometry=shapely.points(px, py), crs="EPSG:27700")
    assets.loc[assets.index[:50], "geometry"] = None  # unplaced assets are never drawn
    return assets, needs


def _counts(fc) -> dict:
    out = {"High": 0, "all": 0}
    for f in fc["features"]:
        text = html.unescape(f["properties"]["name"])
        out["all"] += f["properties"]["count"]
        out["High"] += int(re.search(r"([\d,]+) High", text).group(1).replace(",", ""))
    return out


def test_zoomed_out_aggregates_needs_and_clusters_assets(national):
    assets, needs = national
    index = prepare(assets, needs)
    data = national_map_data(assets, needs, index=index)
    assert data.stats["need_level"] == "local authority"
    assert len(data.needs["features"]) == 64  # one per authority
    assert not data.polygons["features"] and 0 < len(data.points["features"]) < 1000
    counts = _counts(data.points)
    assert counts["all"] == assets.geometry.notna().sum()  # every placed asset is in exactly one cluster
    assert counts["High"] == int(((assets["priority"] == "High") & assets.geometry.notna()).sum())
    # the authority's tooltip says how deprived it is
    names = [html.unescape(f["properties"]["name"]) for f in data.needs["features"]]
    assert all(re.search(r"64 LSOAs, \d+% in the most deprived 20%", n) for n in names)
    m = render_map(data)
    assert payload_bytes(m) < 1_000_000


def test_zoomed_in_draws_lsoas_and_assets_in_view_only(national):
    assets, needs = national
    index = prepare(assets, needs)
    bng = shapely.box(400_000, 400_000, 404_000, 403_000)
    view = tuple(gpd.GeoSeries([bng], crs="EPSG:27700").to_crs(DISPLAY_CRS).total_bounds)
    data = national_map_data(assets, needs, index=index, view=view)
    assert data.stats["need_level"] == "LSOA" and data.stats["clusters"] == 0
    assert 12 <= len(data.needs["features"]) <= 30  # the 4 x 3 km view and its edges
    ids = [html.unescape(f["properties"]["asset_id"]) for f in data.points["features"]]
    inside = assets[assets.geometry.notna()].to_crs(DISPLAY_CRS).cx[view[0]:view[2], view[1]:view[3]]
    assert sorted(ids) == sorted(inside["asset_id"]) and len(ids) > 30
    # text is escaped before it reaches the browser
    assert all("<" not in f["properties"]["name"] for f in data.points["features"])
    # the need areas are clipped to (about) the view: nothing far outside it is sent
    xs = [c[0] for f in data.needs["features"] for ring in f["geometry"]["coordinates"] for c in ring]
    assert min(xs) > view[0] - 0.02 and max(xs) < view[2] + 0.02


def test_budget_coarsens_until_it_fits(national):
    assets, needs = national
    index = prepare(assets, needs)
    big = national_map_data(assets, needs, index=index)
    small = national_map_data(assets, needs, index=index, max_bytes=big.stats["bytes"] // 3)
    assert small.stats["bytes"] <= big.stats["bytes"] // 3
    assert small.stats["cell_px"] > big.stats["cell_px"]
    assert _counts(small.points)["all"] == _counts(big.points)["all"]  # coarser, never fewer assets


def test_map_data_switches_to_national_display_above_threshold(national):
    assets, needs = national
    assert needs_national_display(assets, needs)
    assert not needs_national_display(assets.iloc[:100], needs.iloc[:100])
    data = map_data(assets, needs)
    assert data.stats["need_level"] == "local authority" and data.omitted == 0
    small = map_data(assets.iloc[:100], needs.iloc[:100])
    assert not hasattr(small, "stats") and small.asset_count == 50  # the first 50 rows are unplaced


def test_helpers():
    assert lad_of(pd.Series(["Trafford 001A", "Kingston upon Hull 123B", "odd"])).tolist() == [
        "Trafford", "Kingston upon Hull", "odd"]
    england = (-5.7, 49.9, 1.8, 55.8)
    assert 5 <= zoom_for_bounds(england) <= 7
    assert zoom_for_bounds((-2.32, 53.44, -2.28, 53.46)) > 13
    assert display.metres_per_pixel(10) == pytest.approx(93.0, rel=0.05)


# Following pans and zooms: which view to build for, and when the data in hand still serves.

def _state(minx, miny, maxx, maxy, zoom):
    return {"bounds": {"_southWest": {"lat": miny, "lng": minx}, "_northEast": {"lat": maxy, "lng": maxx}},
            "zoom": zoom, "last_active_drawing": None}


def test_view_from_state_reads_bounds_and_zoom_and_refuses_junk():
    assert display.view_from_state(_state(-2.3, 53.4, -2.2, 53.5, 13)) == ((-2.3, 53.4, -2.2, 53.5), 13)
    # st_folium's default before the map reported: bounds of None
    assert display.view_from_state(_state(None, None, None, None, 13)) is None
    assert display.view_from_state(None) is None and display.view_from_state({"zoom": 5}) is None
    assert display.view_from_state(_state(-2.2, 53.4, -2.3, 53.5, 13)) is None  # inverted
    # zoomed far out, Leaflet reports beyond the world: clamped
    (minx, miny, maxx, maxy), z = display.view_from_state(_state(-400, -89, 400, 89, 1.2))
    assert (minx, miny, maxx, maxy, z) == (-180, -85, 180, 85, 1)


def test_padded_view_grows_snaps_and_absorbs_jitter():
    view, zoom = (-2.30, 53.40, -2.20, 53.46), 13
    padded = display.padded_view(view, zoom)
    w, h = 0.10, 0.06
    assert padded[0] <= view[0] - 0.25 * w and padded[2] >= view[2] + 0.25 * w
    assert padded[1] <= view[1] - 0.25 * h and padded[3] >= view[3] + 0.25 * h
    step = 360 / (256 * 2 ** zoom) * display.SNAP_PX
    for v in padded:  # on the grid
        assert abs(v - round(v / step) * step) < 1e-6
    # a view a few pixels off gives the same padded view
    px = 360 / (256 * 2 ** zoom)
    assert display.padded_view(tuple(v + 3 * px for v in view), zoom) == padded
    # never more than one grid step beyond the padding
    assert padded[2] - padded[0] <= 1.5 * w + 2 * step + 1e-9


def test_covers_needs_the_same_zoom_and_the_view_inside():
    built = ((-2.4, 53.3, -2.1, 53.6), 12)
    assert display.covers(built, (-2.3, 53.4, -2.2, 53.5), 12)
    assert not display.covers(built, (-2.3, 53.4, -2.2, 53.5), 13)  # zoomed in: finer layers needed
    assert not display.covers(built, (-2.5, 53.4, -2.2, 53.5), 12)  # panned out of what was built
    assert display.covers((None, 7), (-6, 49, 2, 56), 7) and not display.covers((None, 7), (-6, 49, 2, 56), 8)
    assert not display.covers(None, (-2.3, 53.4, -2.2, 53.5), 12)


def test_follow_view_rebuilds_only_when_needed_and_opens_a_remounted_map_where_it_was():
    first = display.follow_view(None, None, version="v1", fresh=True, full_zoom=7)
    assert first == {"version": "v1", "built": (None, 7), "start": None}  # whole extent, map fits itself
    # the map reports the fitted view at the same zoom: nothing to rebuild
    same = display.follow_view(first, _state(-3, 53, -1, 54, 7), version="v1", fresh=False, full_zoom=7)
    assert same["built"] == (None, 7)
    # zoomed in on a neighbourhood: build that view, padded
    zin = display.follow_view(same, _state(-2.26, 53.47, -2.22, 53.49, 14), version="v1", fresh=False, full_zoom=7)
    view, z = zin["built"]
    assert z == 14 and view[0] < -2.26 and view[2] > -2.22 and view[2] - view[0] < 0.1
    # a small pan stays inside: same data, no rebuild, the map itself unchanged
    pan = display.follow_view(zin, _state(-2.255, 53.472, -2.215, 53.492, 14), version="v1", fresh=False,
                              full_zoom=7)
    assert pan["built"] == zin["built"] and pan["start"] is None
    # the map is mounted afresh (another basemap): it opens at the last view, the data kept
    again = display.follow_view(pan, _state(-2.255, 53.472, -2.215, 53.492, 14), version="v1", fresh=True,
                                full_zoom=7)
    (lat, lon), sz = again["start"]
    assert sz == 14 and -2.255 < lon < -2.215 and 53.472 < lat < 53.492 and again["built"] == pan["built"]
    # the start stays while mounted (it is part of the map: changing it would remount it)
    later = display.follow_view(again, _state(-2.0, 53.0, -1.96, 53.02, 14), version="v1", fresh=False, full_zoom=7)
    assert later["start"] == again["start"] and later["built"] != again["built"]
    # new data: the old view is forgotten
    new = display.follow_view(later, _state(-2.0, 53.0, -1.96, 53.02, 14), version="v2", fresh=True, full_zoom=6)
    assert new == {"version": "v2", "built": (None, 6), "start": None}


def test_view_centre_is_the_mercator_middle():
    lat, lon = display.view_centre((-2.0, 50.0, 0.0, 60.0))
    assert lon == -1.0 and 55.0 < lat < 55.6  # north of the degree middle on a Mercator screen


def test_zoomed_in_view_draws_individual_sites_and_describes_them(national):
    assets, needs = national
    index = prepare(assets, needs)
    bng = shapely.box(400_000, 400_000, 404_000, 403_000)
    bounds = tuple(gpd.GeoSeries([bng], crs="EPSG:27700").to_crs(DISPLAY_CRS).total_bounds)
    zoom = int(zoom_for_bounds(bounds))
    view = display.padded_view(bounds, zoom)
    data = national_map_data(assets, needs, index=index, view=view, zoom=zoom)
    assert data.stats["clusters"] == 0 and data.stats["need_level"] == "LSOA"
    text = display.describe(data.stats)
    assert f"{data.stats['assets']:,} sites" in text and "one by one" in text and "by neighbourhood" in text
    whole = national_map_data(assets, needs, index=index)
    text = display.describe(whole.stats)
    assert "by local authority" in text and "zoom in to see neighbourhoods" in text and "clusters" in text
    assert display.describe({"need_level": "LSOA", "need_features": 3, "assets": 0, "clusters": 0}).endswith(
        "No site matching the filters is in this view.")


def test_subset_index_equals_an_index_of_the_filtered_rows(national):
    assets, needs = national
    index = prepare(assets, needs)
    mask = (assets["priority"] == "High").to_numpy()
    sub = index.subset(mask)
    direct = prepare(assets[mask], needs)
    assert np.array_equal(sub.placed, direct.placed) and np.allclose(sub.x[sub.placed], direct.x[direct.placed])
    assert sub.lads is index.lads
    a = national_map_data(assets[mask], needs, index=sub)
    b = national_map_data(assets[mask], needs, index=direct)
    assert a.points == b.points and a.needs == b.needs


def test_masked_index_draws_what_the_subset_draws_from_the_unfiltered_rows(national):
    # The Map page sends the national map before it copies the filtered rows out: the whole frame with the
    # rows the filters hide counted as not placed must draw the same layers, at every level of detail.
    assets, needs = national
    index = prepare(assets, needs)
    mask = (assets["priority"] == "High").to_numpy()
    ext = index.subset(mask).extent()
    small = (ext[0], ext[1], ext[0] + (ext[2] - ext[0]) / 30, ext[1] + (ext[3] - ext[1]) / 30)
    for view, zoom in ((None, None), (small, 15)):
        a = national_map_data(assets, needs, index=index.masked(mask), view=view, zoom=zoom)
        b = national_map_data(assets[mask], needs, index=index.subset(mask), view=view, zoom=zoom)
        assert a.points == b.points and a.polygons == b.polygons and a.needs == b.needs and a.stats == b.stats
        assert a.bounds == b.bounds
    assert b.stats["clusters"] == 0 and b.stats["assets"] > 0  # the small view drew sites one by one


def test_national_base_map_has_one_component_key_whatever_the_layers(national):
    # The national map sends its layers through feature_group_to_add; the map itself must not change with
    # the view, or st_folium remounts it (back to the whole extent, losing a click).
    from streamlit_folium import _get_map_string, generate_js_hash

    from assets_map.maps.draw import MapData, data_layers

    assets, needs = national
    index = prepare(assets, needs)
    empty = {"type": "FeatureCollection", "features": []}

    def key():
        m = render_map(MapData(empty, "need_decile", empty, empty, index.extent()), layers=False)
        m.get_root().render()
        return generate_js_hash(_get_map_string(m), "map", False)

    assert key() == key()
    fgs = data_layers(national_map_data(assets, needs, index=index), need_label="IMD")
    assert [fg.layer_name for fg in fgs] == ["Need: IMD", "Sites"]
    assert sum(len(s.features) for g in fgs[1]._children.values() for s in g._children.values()) > 0


@pytest.mark.parametrize("view", [None, (-2.5, 53.3, -2.1, 53.5)])
def test_need_cache_reuses_the_need_layer_across_filters_and_changes_nothing(national, monkeypatch, view):
    # A filter change rebuilds the sites only: the need layer of the same view comes from the cache,
    # and every layer (and the budget's coarsening) is what it is without the cache.
    assets, needs = national
    index = prepare(assets, needs)
    view = view and tuple(float(v) for v in gpd.GeoSeries([shapely.box(390_000, 390_000, 400_000, 396_000)],
                                                          crs="EPSG:27700").to_crs(DISPLAY_CRS).total_bounds)
    calls = []
    real = display._need_layer
    monkeypatch.setattr(display, "_need_layer", lambda *a: calls.append(1) or real(*a))
    cache: dict = {}
    for mask in ((assets["priority"] == "High").to_numpy(), (assets["priority"] != "Low").to_numpy(),
                 np.ones(len(assets), bool)):
        for budget in (display.MAX_BYTES, 40_000):
            cached = national_map_data(assets[mask], needs, index=index.subset(mask), view=view, need_cache=cache,
                                       max_bytes=budget)
            plain = national_map_data(assets[mask], needs, index=index.subset(mask), view=view, max_bytes=budget)
            assert cached.needs == plain.needs and cached.points == plain.points
            assert cached.polygons == plain.polygons and cached.stats == plain.stats
    built = len(calls)
    calls.clear()
    national_map_data(assets, needs, index=index, view=view, need_cache=cache)
    few = (assets["priority"] == "Medium").to_numpy()
    if view is not None:  # (without a view the map fits the sites, so another filter is another view)
        national_map_data(assets[few], needs, index=index.subset(few), view=view, need_cache=cache)
    assert calls == [] and built > 0
