"""Freehold parcels feed the engine (issue 17 item 1): joint sites, constraints, catchments and the result cache.

On the real City of London INSPIRE polygons, each answer is checked against an independent shapely
computation: the parcel of each site found by a brute-force loop (no STRtree, no assets-map join), pairs within
the gap by an all-pairs distance, shares of a parcel's area by a plain intersection in EPSG:27700, and catchment
reach by shapely's distance from the outline.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box

from assets_map.community.catchment import catchment_need
from assets_map.community.joint import joint_sites
from assets_map.engine.constraints import check_constraints, site_constraints, summary_columns
from assets_map.engine.parcels import FROM_PARCEL, FROM_POINT, join_parcels
from assets_map.io.landregistry import read_inspire


@pytest.fixture(scope="module")
def city(city_file):
    return read_inspire(city_file).frame


def _smallest_holding(point, geoms: np.ndarray, areas: np.ndarray) -> int:
    """The smallest parcel touching a point, by testing every parcel (independent of the STRtree join)."""
    hits = np.flatnonzero(shapely.intersects(geoms, point))
    return int(hits[np.argmin(areas[hits])]) if len(hits) else -1


@pytest.fixture(scope="module")
def touching(city):
    """Sites at a point inside 30 seed parcels and inside one parcel touching each (two owners), EPSG:27700."""
    g = city.geometry.to_numpy()
    rng = np.random.default_rng(1717)
    tree = shapely.STRtree(g)
    picked, owners = [], []
    for seed in rng.permutation(len(g)):
        if len(picked) >= 60:
            break
        near = [int(j) for j in tree.query(g[seed], predicate="touches") if j != seed and j not in picked]
        if not near or seed in picked:
            continue
        picked += [int(seed), near[0]]
        owners += ["City of London Corporation", "Barts Health NHS Trust"]
    pts = [g[i].representative_point() for i in picked]
    return gpd.GeoDataFrame({"asset_id": [f"S{k}" for k in range(len(pts))], "name": [f"site {k}" for k in range(len(pts))],
                             "organisation": owners, "site_area_ha": np.nan}, geometry=pts, crs=27700)


def _groups(n: int, pairs) -> list[set[int]]:
    """Connected groups of ``n`` nodes from (i, j) pairs, by repeated merging of sets (no union-find here)."""
    groups = [{i} for i in range(n)]
    for i, j in pairs:
        gi = next(s for s in groups if i in s)
        gj = next(s for s in groups if j in s)
        if gi is not gj:
            gi |= gj
            groups.remove(gj)
    return [s for s in groups if len(s) > 1]


def test_joint_sites_from_touching_parcels_equal_shapely(city, touching):
    joined, used = join_parcels(touching, city)
    geoms, areas = city.geometry.to_numpy(), city.geometry.area.to_numpy()
    outline = [geoms[_smallest_holding(p, geoms, areas)] for p in touching.geometry]
    n = len(outline)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if outline[i].distance(outline[j]) <= 5.0]
    want = {frozenset(touching["asset_id"].iloc[sorted(s)]) for s in _groups(n, pairs)}
    sites = joint_sites(joined, outlines=used)
    got = {frozenset(s.split("; ")) for s in sites["asset_ids"]}
    assert got == want and len(want) >= 20
    # each joint site's area is the measured area of the union of its parcels' outlines
    for _, s in sites.iterrows():
        ids = s["asset_ids"].split("; ")
        union = shapely.union_all([outline[int(i[1:])] for i in ids])
        assert s["area_ha"] == pytest.approx(union.area / 10_000, abs=1e-4)
        assert s["from_freehold_parcels"] == len(ids)
        assert "registered freehold parcel" in s["reasons"] and "not title plans" in s["reasons"]
    assert sites["several_owners"].sum() >= 20
    # from the points alone, the same sites are not offered together: the outlines make the difference
    by_points = joint_sites(joined)
    assert {frozenset(s.split("; ")) for s in by_points["asset_ids"]} != want


def test_joint_sites_synthetic_neighbours_and_a_site_with_no_parcel():
    parcels = gpd.GeoDataFrame({"parcel_id": ["P1", "P2", "P3"], "parcel_area_ha": [0.01, 0.01, 0.01]},
                               geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100), box(400, 0, 500, 100)], crs=27700)
    sites = gpd.GeoDataFrame({"asset_id": ["a", "b", "c", "d"], "organisation": ["Council", "NHS", "Council", "NHS"],
                              "site_area_ha": np.nan},
                             geometry=[Point(10, 50), Point(190, 50), Point(450, 50), Point(700, 50)], crs=27700)
    joined, used = join_parcels(sites, parcels)
    out = joint_sites(joined, outlines=used)
    assert out["asset_ids"].tolist() == ["a; b"]  # P1 and P2 touch; c's parcel is 200 m off; d is in none
    assert out.iloc[0]["largest_gap_m"] == 0 and out.iloc[0]["area_ha"] == pytest.approx(2.0)


def _flood_layer(city) -> gpd.GeoDataFrame:
    """Two overlapping flood zones and one small one, laid over the City (EPSG:27700)."""
    x0, y0, x1, y1 = city.total_bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    zones = [shapely.Point(cx, cy).buffer(180), box(cx + 60, cy - 300, cx + 400, cy + 40), box(x0, y0, x0 + 300, y0 + 250)]
    layer = gpd.GeoDataFrame({"kind": "flood-risk-zone", "feature_name": ["Flood Zone 3", "Flood Zone 3", "Flood Zone 2"],
                              "reference": ["FZ3-1", "FZ3-2", "FZ2-1"], "grade": None, "source": "flood.geojson",
                              "source_date": "2025-06-01"}, geometry=zones, crs=27700)
    layer.attrs["authorities"] = []
    return layer


def test_constraint_share_of_parcel_equals_shapely_overlay(city):
    layer = _flood_layer(city)
    flood = shapely.union_all(layer.geometry.to_numpy())
    geoms, areas = city.geometry.to_numpy(), city.geometry.area.to_numpy()
    # parcels that straddle a zone's edge, parcels wholly inside, parcels outside; and points in no parcel
    cut = np.flatnonzero(shapely.intersects(geoms, flood) & ~shapely.within(geoms, flood))[:40]
    inside = np.flatnonzero(shapely.within(geoms, flood))[:10]
    extent = box(*layer.total_bounds)  # with no need areas, a layer covers its features' extent
    out = np.flatnonzero(~shapely.intersects(geoms, flood.buffer(30)) & shapely.within(geoms, extent))[:10]
    pick = np.r_[cut, inside, out]
    pts = [geoms[i].representative_point() for i in pick]
    x0, y0, _, _ = city.total_bounds
    street = [p for p in (Point(x0 + dx, y0 + dy) for dx in range(5, 300, 7) for dy in range(5, 250, 7))
              if not shapely.intersects(geoms, p).any()][:3]  # points in the flood zone but in no parcel
    assert len(street) == 3
    sites = gpd.GeoDataFrame({"asset_id": [f"S{k}" for k in range(len(pts) + 3)], "site_area_ha": np.nan},
                             geometry=pts + street, crs=27700)
    joined, used = join_parcels(sites, city)
    table = check_constraints(joined, [layer], parcels=used)
    fz = table[table["dataset"] == "flood-risk-zone"].reset_index(drop=True)
    for k, i in enumerate(pick):
        parcel = geoms[_smallest_holding(pts[k], geoms, areas)]
        share = parcel.intersection(flood).area / parcel.area  # the independent overlay
        row = fz.iloc[k]
        if share > 0:
            assert row["answer"] == "inside"
            assert row["parcel_share"] == pytest.approx(share, abs=1e-4), (k, i)
        else:
            assert row["answer"] in ("near", "clear") and np.isnan(row["parcel_share"])
            assert row["distance_m"] != row["distance_m"] or row["distance_m"] == pytest.approx(
                parcel.distance(flood), abs=0.1)
    partial = fz.iloc[:len(cut)]
    assert ((partial["parcel_share"] > 0) & (partial["parcel_share"] < 1)).sum() >= 30
    assert partial["note"].astype(str).str.startswith("part of the parcel is in a flood risk zone: ").all()
    assert (fz.iloc[len(cut):len(cut) + len(inside)]["parcel_share"] == 1).all()
    assert fz.iloc[len(cut):len(cut) + len(inside)]["note"].astype(str).str.startswith(
        "all of the parcel is in a flood risk zone").all()
    # a site in no parcel is still its point, with no share, and says so
    assert (fz.iloc[-3:]["answer"] == "inside").all() and fz.iloc[-3:]["parcel_share"].isna().all()
    words = table.attrs["measured_from"]
    assert list(words[:len(pick)]) == [FROM_PARCEL] * len(pick) and list(words[-3:]) == [FROM_POINT] * 3
    # the assets' summary and the card's table carry the share and what was tested
    summary = summary_columns(table, len(joined))
    k = 0
    expected = f"{fz.iloc[k]['parcel_share']:.0%} of the parcel's area"
    assert expected in summary["constraints_inside"][k]
    assert summary["constraints"][k].endswith(f"tested on: {FROM_PARCEL}")
    assert summary["constraints"][len(pick)].endswith(f"tested on: {FROM_POINT}")
    row = pd.Series({c: v[k] for c, v in summary.items()} | {"constraints_sources": "flood risk zone: flood.geojson"})
    line = next(x for x in site_constraints(row) if x.kind == "flood risk zone")
    assert line.answer == "inside" and expected in line.detail


def test_the_three_answers_stay_honest_with_parcels():
    parcels = gpd.GeoDataFrame({"parcel_id": ["P1", "P2"], "parcel_area_ha": [1.0, 1.0]},
                               geometry=[box(0, 0, 100, 100), box(600, 0, 700, 100)], crs=27700)
    layer = gpd.GeoDataFrame({"kind": "conservation-area", "feature_name": ["Old Town", "Park"], "reference": "CA1",
                              "grade": None, "source": "ca.geojson", "source_date": "2025-01-01"},
                             geometry=[box(95, 0, 300, 300), box(1000, 1000, 1100, 1100)], crs=27700)
    layer.attrs["authorities"] = []
    # a: its point is 45 m from the area (near), but its parcel reaches into it; b: clear; c: outside the extent
    sites = gpd.GeoDataFrame({"asset_id": ["a", "b", "c", "d"], "site_area_ha": np.nan},
                             geometry=[Point(50, 50), Point(650, 50), Point(5000, 5000), None], crs=27700)
    joined, used = join_parcels(sites, parcels)
    ca = check_constraints(joined, [layer], parcels=used)
    ca = ca[ca["dataset"] == "conservation-area"].set_index("asset_id")
    assert ca["answer"].to_dict() == {"a": "inside", "b": "clear", "c": "not checked", "d": "not checked"}
    assert ca.loc["a", "parcel_share"] == pytest.approx(0.05)
    point_only = check_constraints(joined, [layer])
    assert point_only.set_index("asset_id").loc["a"].query("dataset == 'conservation-area'")["answer"].item() == "near"


@pytest.fixture(scope="module")
def grid(city):
    """Need areas: 50 m squares over the City and 300 m round it, scores varying across them."""
    x0, y0, x1, y1 = city.total_bounds
    cells, codes, scores = [], [], []
    for i, x in enumerate(np.arange(x0 - 300, x1 + 300, 50.0)):
        for j, y in enumerate(np.arange(y0 - 300, y1 + 300, 50.0)):
            cells.append(box(x, y, x + 50, y + 50))
            codes.append(f"E{i:03d}{j:03d}")
            scores.append(float((i * 7 + j * 3) % 100))
    return gpd.GeoDataFrame({"code": codes, "need_score": scores, "need_decile": [s // 10 + 1 for s in scores]},
                            geometry=cells, crs=27700)


def test_catchment_from_outline_equals_shapely_distance(city, touching, grid):
    joined, used = join_parcels(touching, city)
    radius = 120.0
    out = catchment_need(joined, grid, radius_m=radius, parcels=used)
    geoms, areas = city.geometry.to_numpy(), city.geometry.area.to_numpy()
    cells = grid.geometry.to_numpy()
    tol = radius * (1 - np.cos(np.pi / 64)) + 0.01  # the buffer's 16 segments a quarter lie inside the true circle
    differs = 0
    for k, p in enumerate(touching.geometry):
        outline = geoms[_smallest_holding(p, geoms, areas)]
        d = shapely.distance(outline, cells)
        got = set(out["catchment_areas"].iloc[k].split("; "))
        sure_in = set(grid["code"][d < radius - tol])
        sure_out = set(grid["code"][d >= radius])
        assert sure_in <= got and not (got & sure_out), k
        # measured from the outline, not the point: for most sites the point's reach differs
        differs += set(grid["code"][shapely.distance(p, cells) < radius - tol]) != sure_in
    assert differs >= len(touching) // 2, differs
    assert (out["catchment_from"] == FROM_PARCEL).all()
    assert out["catchment_text"].str.contains("around the site's freehold parcel").all()
    assert out["catchment_text"].str.contains("not a title plan").all()
    # without the parcels the catchment stays around the point, and says so
    plain = catchment_need(joined, grid, radius_m=radius)
    assert (plain["catchment_from"] == FROM_POINT).all()
    assert plain["catchment_text"].str.contains(f"{radius:g} m around the site\\)").all()


# ------------------------------------------------------------------ analyse: a parcel cache folder and the result cache

@pytest.fixture(scope="module")
def need_files(shared, tmp_path_factory):
    folder = tmp_path_factory.mktemp("needs")
    lsoa = gpd.read_file(shared("england", "lsoa21_boundaries_ew.gpkg"), bbox=(-0.115, 51.505, -0.07, 51.525),
                         engine="pyogrio")
    lsoa.to_file(folder / "lsoa.geojson", driver="GeoJSON")
    return folder / "lsoa.geojson", shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv")


def _write_partition(frame: gpd.GeoDataFrame, path) -> None:
    frame.rename(columns={"parcel_id": "INSPIREID", "label": "LABEL"})[["INSPIREID", "LABEL", "geometry"]].to_parquet(path)


def test_analyse_reads_only_the_partitions_needed_and_the_cache_keys_on_them(tmp_path, city, city_file, need_files,
                                                                           monkeypatch):
    from assets_map.cli import main
    from assets_map.engine.pipeline import analyse
    from assets_map.io import landregistry

    f = city.copy()
    f["label"] = "L"
    cx = f.geometry.centroid.x
    cut = np.quantile(cx, 0.5)
    west, east = f[cx < cut], f[cx >= cut]
    far = east.set_geometry(east.geometry.translate(60_000, 0))  # another authority, 60 km east
    for name, part in (("west", west), ("east", east), ("far", far)):
        _write_partition(part, tmp_path / f"{name}.parquet")
    folder = tmp_path / "parcel_cache"
    assert main(["parcels", "--cache", str(folder), *(str(tmp_path / f"{n}.parquet") for n in ("west", "east", "far"))]) == 0
    # sites in the west authority only, clear of the east one's bounds
    east_x0 = east.total_bounds[0]
    inner = west[west.geometry.bounds["maxx"] < east_x0 - 20]
    pick = inner.iloc[np.linspace(0, len(inner) - 1, 6).astype(int)]
    pts = pick.geometry.representative_point().to_crs(4326)
    reg = pd.DataFrame({"AssetCode": [f"W{k}" for k in range(len(pts))], "PropertyName": "Hall",
                        "GeoX": [f"{p.x:.7f}" for p in pts], "GeoY": [f"{p.y:.7f}" for p in pts],
                        "OrganisationLabel": "City of London Corporation"})
    reg.to_csv(tmp_path / "reg.csv", index=False)
    layer = _flood_layer(city)
    layer.rename(columns={"feature_name": "name"})[["name", "reference", "geometry"]].to_file(
        tmp_path / "flood.geojson", driver="GeoJSON")
    read = []
    real = landregistry.read_partition

    def spy(part, **kw):
        read.append(part.authority)
        return real(part, **kw)

    monkeypatch.setattr(landregistry, "read_partition", spy)
    lsoa, imd = need_files

    def run(parcels):
        return analyse(tmp_path / "reg.csv", lsoa, imd, parcels=[parcels], cache=tmp_path / "results",
                       constraints=[("flood-risk-zone", tmp_path / "flood.geojson")])

    first = run(folder)
    assert first.settings["cache"] == "stored" and read == ["west"]
    assert first.settings["parcels"]["partitions"] == ["west"]
    placed = gpd.GeoSeries(gpd.points_from_xy(reg["GeoX"].astype(float), reg["GeoY"].astype(float)),
                           crs=4326).to_crs(27700)
    geoms, areas = city.geometry.to_numpy(), city.geometry.area.to_numpy()
    want = {f"W{k}": city["parcel_id"].iloc[_smallest_holding(p, geoms, areas)] for k, p in enumerate(placed)}
    assert first.assets.set_index("asset_id")["parcel_id"].to_dict() == want
    assert sorted(first.parcels["parcel_id"]) == sorted(want.values())
    assert (first.assets["constraints_measured_from"] == FROM_PARCEL).all()
    read.clear()
    again = run(folder)
    assert again.settings["cache"] == "reused" and read == []
    assert sorted(again.parcels["parcel_id"]) == sorted(want.values())  # the parcels layer comes back with it
    assert again.assets["constraints"].tolist() == first.assets["constraints"].tolist()
    # a partition the sites do not lie in changes: the result still holds
    east2 = east.copy()
    east2["label"] = "changed"
    _write_partition(east2, tmp_path / "east.parquet")
    assert main(["parcels", "--cache", str(folder), str(tmp_path / "east.parquet")]) == 0
    assert run(folder).settings["cache"] == "reused"
    # the partition they lie in changes (same bounds, one parcel's label): the cached result is not served
    west2 = west.copy()
    west2.loc[west2.index[0], "label"] = "changed"
    _write_partition(west2, tmp_path / "west.parquet")
    assert main(["parcels", "--cache", str(folder), str(tmp_path / "west.parquet")]) == 0
    read.clear()
    assert run(folder).settings["cache"] == "stored" and read == ["west"]
    # parcel files are keyed by their bytes: an edited file is a miss
    assert run(city_file).settings["cache"] == "stored"
    assert run(city_file).settings["cache"] == "reused"
    west.to_parquet(tmp_path / "city.parquet")
    assert run(tmp_path / "city.parquet").settings["cache"] == "stored"
    west2.to_parquet(tmp_path / "city.parquet")
    assert run(tmp_path / "city.parquet").settings["cache"] == "stored"
    # parcels already read are keyed by their content
    assert run(read_inspire(tmp_path / "city.parquet")).settings["cache"] == "stored"
    assert run(read_inspire(tmp_path / "city.parquet")).settings["cache"] == "reused"
    west.to_parquet(tmp_path / "city.parquet")
    assert run(read_inspire(tmp_path / "city.parquet")).settings["cache"] == "stored"


def test_cli_outputs_carry_the_parcel_outlines(tmp_path, city, city_file, touching, need_files, capsys):
    """analyse --parcels, then joint-sites, find-sites and the site card on its result: all from the outlines."""
    from assets_map.cli import main
    from assets_map.community.sitecard import site_card

    lsoa, imd = need_files
    pts = touching.geometry.to_crs(4326)
    reg = pd.DataFrame({"AssetCode": touching["asset_id"], "PropertyName": touching["name"],
                        "GeoX": [f"{p.x:.7f}" for p in pts], "GeoY": [f"{p.y:.7f}" for p in pts],
                        "OrganisationLabel": touching["organisation"], "Tenure": "Freehold"})
    reg.to_csv(tmp_path / "reg.csv", index=False)
    _flood_layer(city).rename(columns={"feature_name": "name"})[["name", "reference", "geometry"]].to_file(
        tmp_path / "flood.geojson", driver="GeoJSON")
    out = tmp_path / "out.gpkg"
    assert main(["analyse", "--assets", str(tmp_path / "reg.csv"), "--boundaries", str(lsoa), "--deprivation", str(imd),
                 "--parcels", str(city_file), "--constraints", f"flood-risk-zone={tmp_path / 'flood.geojson'}",
                 "--out", str(out)]) == 0
    assert f"parcels: {len(touching)} sites tested for constraints on their freehold parcel's outline" in \
        capsys.readouterr().out
    assets = gpd.read_file(out, layer="assets")
    parcels = gpd.read_file(out, layer="parcels")
    assert (assets["constraints_measured_from"] == FROM_PARCEL).all()
    cons = gpd.read_file(out, layer="constraints")
    inside = cons[(cons["dataset"] == "flood-risk-zone") & (cons["answer"] == "inside")]
    assert len(inside) and inside["parcel_share"].between(0, 1).all()
    d = gpd.read_file(out, layer="data_dictionary")
    meaning = dict(zip(d["field"], d["meaning"], strict=True))
    assert "freehold parcel" in meaning["constraints_measured_from"] and "parcel" in meaning["parcel_share"]
    # joint sites from the result: the outlines of its parcels layer, equal to the same grouping in Python
    assert main(["joint-sites", "--analysis", str(out), "--out", str(tmp_path / "joint.csv")]) == 0
    joint = pd.read_csv(tmp_path / "joint.csv")
    direct = joint_sites(assets.to_crs(27700), outlines=parcels)
    assert sorted(joint["asset_ids"]) == sorted(direct["asset_ids"]) and len(joint) >= 20
    assert joint["reasons"].str.contains("not title plans").all()
    # find-sites measures catchments from the outlines too
    assert main(["find-sites", "--analysis", str(out), "--use", "food hub", "--holding", "either", "--include-unflagged",
                 "--near", f"{pts.iloc[0].x:.6f},{pts.iloc[0].y:.6f}", "--radius", "3000",
                 "--out", str(tmp_path / "short.csv")]) == 0
    short = pd.read_csv(tmp_path / "short.csv")
    assert len(short) and (short["catchment_from"] == FROM_PARCEL).all()
    # the site card says which parcel, how sure, and that constraints were tested on its outline
    card = site_card(assets, gpd.read_file(out, layer="needs"), assets["asset_id"].iloc[0])
    facts = dict(card.facts)
    assert facts["Freehold parcel"].startswith(f"INSPIRE ID {assets['parcel_id'].iloc[0]}")
    assert "not a title plan" in facts["Freehold parcel"] and "tested on its outline" in facts["Freehold parcel"]
    assert "the freehold parcel's area" in facts["Size"]
