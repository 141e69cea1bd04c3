"""Joint sites: parcels within a gap grouped, with combined area and owners.

Expected groups are computed independently: every pair's distance by brute
force (shapely on coordinates projected with pyproj), then a breadth-first
search over the pairs, never through the module's STRtree/union-find path.
"""
from __future__ import annotations

from collections import deque
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Point, box

from assets_map.community.joint import group_parcels, joint_sites, read_parcels
from assets_map.io.report import InputError


def _frame(rows, crs="EPSG:27700"):
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def _bfs_groups(geoms: list, gap: float) -> list[frozenset[int]]:
    n = len(geoms)
    adj = {i: [] for i in range(n)}
    for i in range(n):
        for j in range(i + 1, n):
            if geoms[i].distance(geoms[j]) <= gap:
                adj[i].append(j)
                adj[j].append(i)
    seen, groups = set(), []
    for s in range(n):
        if s in seen:
            continue
        comp, q = {s}, deque([s])
        seen.add(s)
        while q:
            for k in adj[q.popleft()]:
                if k not in seen:
                    seen.add(k)
                    comp.add(k)
                    q.append(k)
        groups.append(frozenset(comp))
    return groups


def test_touching_near_and_far_parcels():
    rows = [
        {"asset_id": "A", "organisation": "Council", "name": "Depot", "geometry": box(0, 0, 10, 10)},
        {"asset_id": "B", "organisation": "NHS Trust", "name": "Clinic car park", "geometry": box(10, 0, 20, 10)},  # touches A
        {"asset_id": "C", "organisation": "Council", "name": "Yard", "geometry": box(24, 0, 30, 10)},  # 4 m from B
        {"asset_id": "D", "organisation": "College", "name": "Far field", "geometry": box(36.5, 0, 40, 10)},  # 6.5 m from C
    ]
    sites = joint_sites(_frame(rows))
    assert len(sites) == 1
    s = sites.iloc[0]
    assert s["asset_ids"].split("; ") == ["A", "B", "C"]
    assert s["owners"] == "Council; NHS Trust"
    assert s["owners_count"] == 2 and bool(s["several_owners"])
    assert s["area_ha"] == pytest.approx((100 + 100 + 60) / 10_000)
    assert s["largest_gap_m"] == pytest.approx(4.0)
    assert "Council (2)" in s["reasons"] and "NHS Trust (1)" in s["reasons"]
    # A wider gap brings D in; a zero gap keeps only the touching pair.
    assert joint_sites(_frame(rows), gap_m=7).iloc[0]["parcels"] == 4
    tight = joint_sites(_frame(rows), gap_m=0)
    assert tight.iloc[0]["asset_ids"] == "A; B"


def test_overlaps_counted_once_and_one_owner_kept_unless_asked():
    rows = [
        {"asset_id": "A", "organisation": "Council", "geometry": box(0, 0, 10, 10)},
        {"asset_id": "B", "organisation": "Council", "geometry": box(5, 0, 15, 10)},  # overlaps A by 50 m2
    ]
    sites = joint_sites(_frame(rows))
    assert sites.iloc[0]["area_ha"] == pytest.approx(150 / 10_000)
    assert sites.iloc[0]["owners_count"] == 1
    assert joint_sites(_frame(rows), several_owners_only=True).empty


def test_chain_is_transitive_and_labels_match():
    # Five squares each 3 m from the next: one chain, although the ends are 40+ m apart.
    rows = [{"asset_id": f"P{i}", "organisation": f"Owner {i % 2}", "geometry": box(i * 13, 0, i * 13 + 10, 10)}
            for i in range(5)]
    rows.append({"asset_id": "lonely", "organisation": "X", "geometry": box(500, 500, 510, 510)})
    gdf = _frame(rows)
    labels = group_parcels(gdf, gap_m=5)
    assert labels.iloc[:5].nunique() == 1 and labels.iloc[5] != labels.iloc[0]
    sites = joint_sites(gdf)
    assert len(sites) == 1 and sites.iloc[0]["parcels"] == 5


def test_excluded_parcels_are_never_offered_and_points_are_hints():
    rows = [
        {"asset_id": "A", "organisation": "Council", "excluded": False, "geometry": box(0, 0, 10, 10)},
        {"asset_id": "park", "organisation": "Council", "excluded": True, "geometry": box(10, 0, 50, 40)},
        {"asset_id": "pt", "organisation": "Police", "excluded": False, "site_area_ha": 0.2, "geometry": Point(12, 5)},
    ]
    sites = joint_sites(_frame(rows))
    assert sites.attrs["excluded_dropped"] == 1
    assert len(sites) == 1 and "park" not in sites.iloc[0]["asset_ids"]
    assert sites.iloc[0]["stated_area_ha"] == pytest.approx(0.2)
    assert "adjacency of points is only a hint" in sites.iloc[0]["reasons"]


def test_any_crs_is_measured_in_metres():
    # Two parcels 3 m apart in BNG, given in WGS84: still grouped at 5 m, not at 2 m.
    bng = _frame([{"asset_id": "A", "organisation": "a", "geometry": box(383000, 398000, 383020, 398020)},
                  {"asset_id": "B", "organisation": "b", "geometry": box(383023, 398000, 383040, 398020)}])
    wgs = bng.to_crs("EPSG:4326")
    assert len(joint_sites(wgs, gap_m=5)) == 1
    assert joint_sites(wgs, gap_m=2).empty


def test_bad_options_are_refused_together():
    gdf = _frame([{"asset_id": "A", "geometry": box(0, 0, 1, 1)}])
    with pytest.raises(InputError) as err:
        joint_sites(gdf.set_crs(None, allow_override=True), gap_m=-1, owner="owner")
    assert len(err.value.problems) == 3


@pytest.mark.parametrize("gap", [5.0, 40.0])
def test_trafford_parcels_grouped_as_brute_force_says(shared, gap):
    files = [Path(shared("trafford", "parcels", n)) for n in (
        "hospital_buildings_osopenmaplocal.geojson", "leisure_centres_and_parking_polygons.geojson",
        "places_of_worship_buildings_osopenmaplocal.geojson", "fire_station_buildings_osopenmaplocal.geojson",
        "library_buildings_osopenmaplocal_archive.geojson")]
    parcels = gpd.GeoDataFrame(pd.concat([read_parcels(f) for f in files], ignore_index=True),
                               geometry="geometry", crs="EPSG:27700")
    # Independent geometry: straight from the GeoJSON coordinates through pyproj, then make_valid where needed.
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    raw = []
    for f in files:
        g = gpd.read_file(f)
        for geom in g.geometry:
            t = shapely.transform(geom, lambda xy: np.column_stack(to_bng.transform(xy[:, 0], xy[:, 1])))
            raw.append(t if t.is_valid else shapely.make_valid(t))
    assert len(raw) == len(parcels)
    files_by_stem = {f.stem: f.stem.replace("_", " ") for f in files}
    expected = [grp for grp in _bfs_groups(raw, gap) if len(grp) >= 2]
    sites = joint_sites(parcels, gap_m=gap)
    ids = parcels["asset_id"].tolist()
    got = {frozenset(ids.index(a) for a in s.split("; ")) for s in sites["asset_ids"]}
    assert got == set(expected)
    assert len(got) > 5
    for _, s in sites.iterrows():
        members = [raw[ids.index(a)] for a in s["asset_ids"].split("; ")]
        # Area: the members' own areas minus what they share (pairwise overlaps, none triple here).
        own = sum(m.area for m in members)
        shared = sum(members[i].intersection(members[j]).area for i in range(len(members))
                     for j in range(i + 1, len(members)))
        assert s["area_ha"] == pytest.approx((own - shared) / 10_000, rel=1e-3, abs=1e-4)
        owners = sorted({files_by_stem[a.split(":")[0]] for a in s["asset_ids"].split("; ")})
        assert s["owners"] == "; ".join(owners)
    if gap >= 40:
        assert sites["several_owners"].any(), "at 40 m some hospital, worship and leisure parcels should meet"


def test_cli_joint_sites_on_trafford(shared, tmp_path, capsys):
    from assets_map.cli import main

    a = shared("trafford", "parcels", "hospital_buildings_osopenmaplocal.geojson")
    b = shared("trafford", "parcels", "leisure_centres_and_parking_polygons.geojson")
    out = tmp_path / "joint.gpkg"
    assert main(["joint-sites", "--parcels", str(a), "--parcels", str(b), "--gap", "5", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    written = gpd.read_file(out, layer="joint")
    assert f"{len(written)} joint sites" in text
    assert set(written["owners"]) >= {"leisure centres and parking polygons"}
    assert main(["joint-sites", "--gap", "5"]) == 2
