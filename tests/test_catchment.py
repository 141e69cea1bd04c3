"""Catchment need: area-weighted need over a circle around each site.

Expected values: worked out by hand on a synthetic grid, and on Trafford
against geopandas.overlay (a different code path from the STRtree pairs with
the contains_properly fast path).
"""
from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from assets_map.community.catchment import area_weights, catchment_need, lsoa_need_text
from assets_map.io.report import InputError


def _needs():
    # Two 2 km squares side by side: west need 20 (decile 8), east need 80 (decile 2).
    return gpd.GeoDataFrame({"code": ["W", "E"], "need_score": [20.0, 80.0], "need_decile": [8, 2]},
                            geometry=[box(0, 0, 2000, 2000), box(2000, 0, 4000, 2000)], crs="EPSG:27700")


def test_hand_worked_weights():
    sites = gpd.GeoDataFrame({"asset_id": ["border", "west", "lost", "edge"]},
                             geometry=[Point(2000, 1000), Point(1000, 1000), None, Point(2000, 1990)],
                             crs="EPSG:27700")
    out = catchment_need(sites, _needs(), radius_m=500)
    # On the border: half the circle in each square.
    assert out["catchment_need_score"].iloc[0] == pytest.approx(50.0, abs=0.01)
    assert out["catchment_most_deprived_share"].iloc[0] == pytest.approx(0.5, abs=1e-3)
    assert out["catchment_coverage"].iloc[0] == pytest.approx(1.0, abs=1e-3)
    assert out["catchment_areas"].iloc[0] in ("W; E", "E; W")
    # Wholly inside one square: that square's need, via the fast path.
    assert out["catchment_need_score"].iloc[1] == pytest.approx(20.0)
    assert out["catchment_most_deprived_share"].iloc[1] == 0.0
    assert "no location" in out["catchment_text"].iloc[2]
    # Near the top edge: a little over half of the circle is covered; need still 50 (symmetric).
    seg = 500 ** 2 * math.acos(10 / 500) - 10 * math.sqrt(500 ** 2 - 10 ** 2)  # circle beyond y = 2000
    covered = (math.pi * 500 ** 2 - seg) / (math.pi * 500 ** 2)
    assert out["catchment_coverage"].iloc[3] == pytest.approx(covered, abs=2e-3)
    assert "only" in out["catchment_text"].iloc[3] and "area-weighted" in out["catchment_text"].iloc[3]


def test_areas_without_a_score_are_not_called_missing():
    """A catchment over need areas the IoD file does not score says so; one beyond every area says that."""
    needs = _needs()
    needs["need_score"] = [np.nan, np.nan]
    sites = gpd.GeoDataFrame({"asset_id": ["in", "far"]}, geometry=[Point(1000, 1000), Point(50_000, 50_000)],
                             crs="EPSG:27700")
    out = catchment_need(sites, needs, radius_m=500)
    assert "around it have no deprivation score" in out["catchment_text"].iloc[0]
    assert "outside the need areas loaded" in out["catchment_text"].iloc[1]


def test_area_weights_fast_paths_agree_with_intersection():
    zones = np.array([box(0, 0, 100, 100), box(40, 40, 60, 60), box(90, 90, 300, 300)])
    areas = np.array([box(10, 10, 20, 20), box(0, 0, 200, 200), box(100, 100, 110, 110)])
    w = area_weights(zones, areas)
    for z, a, ov in w.itertuples(index=False):
        assert ov == pytest.approx(zones[z].intersection(areas[a]).area)
    expected = sum(1 for z in zones for a in areas if z.intersection(a).area > 0)
    assert len(w) == expected


def test_bad_inputs_refused_together():
    sites = gpd.GeoDataFrame({"asset_id": ["a"]}, geometry=[Point(0, 0)], crs="EPSG:27700")
    with pytest.raises(InputError) as err:
        catchment_need(sites, _needs().drop(columns="need_score"), radius_m=-5)
    assert len(err.value.problems) == 2


def test_lsoa_text():
    assert "E01000001 Somewhere 001A" in lsoa_need_text({"need_area_code": "E01000001", "need_area_name": "Somewhere 001A",
                                                         "need_score": 61.25, "need_decile": 3})
    assert "not assessed" in lsoa_need_text({"need_area_code": None})


def test_trafford_catchment_matches_overlay(shared):
    from assets_map.engine.pipeline import analyse

    r = analyse(shared("trafford", "land_and_building_assets.csv"), shared("trafford", "lsoa21_boundaries.geojson"),
                shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv"))
    sites = r.assets[~(r.assets.geometry.isna() | r.assets.geometry.is_empty)].head(80)
    out = catchment_need(sites, r.needs, radius_m=800)
    circles = gpd.GeoDataFrame({"sid": sites["asset_id"].to_numpy()},
                               geometry=sites.geometry.buffer(800, quad_segs=16).to_numpy(), crs="EPSG:27700")
    ov = gpd.overlay(circles, r.needs[["code", "need_score", "need_decile", "geometry"]], how="intersection")
    ov["a"] = ov.area
    ov = ov[ov["need_score"].notna()]
    exp = ov.groupby("sid").apply(lambda g: np.average(g["need_score"], weights=g["a"]), include_groups=False)
    share = ov.groupby("sid").apply(lambda g: g.loc[g["need_decile"] <= 3, "a"].sum() / g["a"].sum(), include_groups=False)
    got = out.set_index("asset_id")
    assert len(exp) > 60
    for sid, v in exp.items():
        assert got.loc[sid, "catchment_need_score"] == pytest.approx(v, abs=0.01)
        assert got.loc[sid, "catchment_most_deprived_share"] == pytest.approx(share[sid], abs=1e-3)
    # The catchment differs from the one LSOA's need for most sites: the point of measuring it.
    diff = (got["catchment_need_score"] - got["need_score"]).abs()
    assert (diff > 1).mean() > 0.5
