"""Partners nearby: counts and straight-line distances, checked by brute force.

The expected values come from a different path: every (site, facility) pair's
distance computed with math.hypot on coordinates projected by pyproj (and,
for scale, the geodesic distance on the ellipsoid), not the STRtree query.
"""
from __future__ import annotations

import glob
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod, Transformer
from shapely.geometry import Point, box

from assets_map.community.partners import (
    facility_kind,
    partners_nearby,
    prepare_facilities,
    read_facilities,
    summarise_partners,
)
from assets_map.io.report import InputError


def _fac(rows):
    return prepare_facilities(gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:27700"), label="points.geojson")


def test_kinds_from_layer_names_and_type_values():
    assert facility_kind("general_practices") == "GP practice"
    assert facility_kind("schools_and_colleges") == "school or college"
    assert facility_kind("community_hubs") == "community hub"
    assert facility_kind("leisure_centres") == "leisure centre"
    assert facility_kind("libraries") == "library"
    assert facility_kind("gp_practice") == "GP practice"
    assert facility_kind("bus stops") is None
    f = _fac([{"name": "Oak Surgery", "type": "gp_practice", "geometry": Point(0, 0)},
              {"name": "Depot", "type": "bus depot", "geometry": Point(1, 1)}])
    assert f["kind"].tolist() == ["GP practice", "points"]


def test_distances_are_from_the_site_edge_and_the_cut_off_is_inclusive():
    sites = gpd.GeoDataFrame({"asset_id": ["poly", "pt", "lost"]},
                             geometry=[box(0, 0, 100, 100), Point(1000, 0), None], crs="EPSG:27700")
    fac = _fac([{"name": "Library", "type": "library", "geometry": Point(900, 50)},  # 800 m from the polygon's edge
                {"name": "School", "type": "school", "geometry": Point(100, 500)},  # 400 m from the edge
                {"name": "Far", "type": "school", "geometry": Point(5000, 5000)}])
    pairs = partners_nearby(sites, fac, distance_m=800)
    got = {(r.site_id, r.facility): r.distance_m for r in pairs.itertuples()}
    # pt -> School is hypot(900, 500) = 1030 m: beyond the cut-off.
    assert got == {("poly", "School"): 400, ("poly", "Library"): 800, ("pt", "Library"): round(math.hypot(100, 50))}
    assert pairs[pairs.site_id == "poly"]["facility"].tolist() == ["School", "Library"]  # nearest first
    summary = summarise_partners(sites, pairs, distance_m=800)
    assert summary["partners_count"].tolist()[:2] == [2, 1]
    assert pd.isna(summary["partners_count"].iloc[2])
    assert "straight-line distance, not a walking route" in summary["partners_text"].iloc[0]
    assert "no location" in summary["partners_text"].iloc[2]
    assert summary["nearest_partner"].iloc[0] == "School" and summary["nearest_partner_m"].iloc[0] == 400


def test_bad_distance_refused():
    sites = gpd.GeoDataFrame({"asset_id": ["a"]}, geometry=[Point(0, 0)], crs="EPSG:27700")
    with pytest.raises(InputError):
        partners_nearby(sites, _fac([{"name": "x", "geometry": Point(0, 0)}]), distance_m=0)


@pytest.fixture(scope="module")
def trafford_sites(shared):
    from assets_map.engine.pipeline import analyse

    r = analyse(shared("trafford", "land_and_building_assets.csv"), shared("trafford", "lsoa21_boundaries.geojson"),
                shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv"),
                postcodes=shared("trafford", "postcodes_onspd_feb2025.csv"))
    return r


def test_trafford_partner_counts_and_distances_match_brute_force(shared, trafford_sites):
    files = sorted(glob.glob(str(shared("trafford", "anchors") / "*.geojson")))
    assert len(files) == 5
    fac = read_facilities(files)
    assert fac["kind"].value_counts().to_dict() == {"school or college": 103, "GP practice": 26, "library": 13,
                                                    "leisure centre": 9, "community hub": 6}
    sites = trafford_sites.assets
    sites = sites[~(sites.geometry.isna() | sites.geometry.is_empty)]
    pairs = partners_nearby(sites, fac, distance_m=800)
    # Independent: project every raw facility coordinate with pyproj and measure every pair with hypot.
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    geod = Geod(ellps="WGS84")
    fx, fy, flon, flat = [], [], [], []
    for f in files:
        for p in gpd.read_file(f).geometry:
            x, y = to_bng.transform(p.x, p.y)
            fx.append(x), fy.append(y), flon.append(p.x), flat.append(p.y)
    fx, fy = np.array(fx), np.array(fy)
    sx, sy = sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()
    d = np.hypot(sx[:, None] - fx[None, :], sy[:, None] - fy[None, :])
    expected_counts = (d <= 800).sum(axis=1)
    got = pairs.groupby("site_id").size().reindex(sites["asset_id"].astype(str)).fillna(0).astype(int).to_numpy()
    assert np.array_equal(got, expected_counts)
    assert expected_counts.sum() > 1000
    # Distances per pair: the same to the metre; and within 0.1% of the geodesic distance (BNG scale factor).
    to_wgs = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    pos = {a: i for i, a in enumerate(sites["asset_id"].astype(str))}
    for r in pairs.sample(200, random_state=1).itertuples():
        i = pos[r.site_id]
        j = int(np.argmin(np.hypot(flon - np.array(r.lon), np.array(flat) - r.lat)))
        assert abs(r.distance_m - d[i, j]) <= 0.5 + 1e-9
        slon, slat = to_wgs.transform(sx[i], sy[i])
        _, _, g = geod.inv(slon, slat, flon[j], flat[j])
        assert abs(r.distance_m - g) <= max(1.0, 0.001 * g)


def test_cli_partners_on_trafford(shared, tmp_path, capsys, trafford_sites):
    from assets_map.cli import main
    from assets_map.io.export import write_gpkg

    result = tmp_path / "t.gpkg"
    write_gpkg({"assets": trafford_sites.assets, "needs": trafford_sites.needs}, result)
    libs = shared("trafford", "anchors", "libraries.geojson")
    out = tmp_path / "pairs.csv"
    assert main(["partners", "--analysis", str(result), "--facilities", str(libs), "--out", str(out)]) == 0
    pairs = pd.read_csv(out)
    assert set(pairs["kind"]) == {"library"} and (pairs["distance_m"] <= 800).all()
    assert "straight-line distance, not a walking route" in capsys.readouterr().out
    assert main(["partners", "--analysis", str(result)]) == 2
