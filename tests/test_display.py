"""National-scale display: aggregate when zoomed out, clip and simplify when zoomed in, stay under budget."""
from __future__ import annotations

import html
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from assets_map import display
from assets_map.display import lad_of, national_map_data, needs_national_display, prepare, zoom_for_bounds
from assets_map.maps import map_data, payload_bytes, render_map
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
