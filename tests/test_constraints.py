"""Issue 16: planning constraints answered per site as inside, near, clear or not checked, never confused.

The Trafford answers are held equal to an independent computation with geopandas directly; a
planning.data.gov.uk-layout CSV (WKT, hyphenated names, end-dated rows) written here gives the same
answers as the GeoJSON it was made from.
"""
from __future__ import annotations

import re
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box

from assets_map.engine.constraints import ANSWERS, answers_for, check_constraints
from assets_map.io.constraints import CONSTRAINT_KINDS, kind_from_file_name, parse_constraint_arg, read_constraint_layer
from assets_map.io.report import InputError

LAYERS = {  # file -> kind
    "conservation_areas.geojson": "conservation-area",
    "listed_buildings.geojson": "listed-building",
    "scheduled_monuments.geojson": "scheduled-monument",
    "sites_of_special_scientific_interest.geojson": "site-of-special-scientific-interest",
    "local_nature_reserves.geojson": "local-nature-reserve",
}
#: the near distances the issue asks to be stated per kind (a listed building within 50 m)
NEAR = {"conservation-area": 50, "listed-building": 50, "scheduled-monument": 100,
        "site-of-special-scientific-interest": 200, "local-nature-reserve": 100}


@pytest.fixture(scope="module")
def layer_files(shared):
    return {kind: shared("trafford", "constraints", f) for f, kind in LAYERS.items()}


@pytest.fixture(scope="module")
def analysed(trafford, layer_files):
    from assets_map.engine.pipeline import analyse

    return analyse(trafford["register"], trafford["lsoa21"], trafford["imd2025"], postcodes=trafford["postcodes"],
                   exclude=[trafford["greenspace"], trafford["allotments"]], constraints=list(layer_files.values()))


def _authority(lsoa_name: str) -> str:
    return re.sub(r"\s+\d{3}[A-Z]$", "", lsoa_name)


def _expected(assets: gpd.GeoDataFrame, needs: gpd.GeoDataFrame, path, kind: str) -> pd.Series:
    """The answer of every site for one layer, computed here with geopandas directly."""
    feats = gpd.read_file(path).to_crs(27700)
    sites = assets[["asset_id", "geometry"]].copy()
    placed = ~(sites.geometry.isna() | sites.geometry.is_empty)
    # coverage: the local authorities the layer names (area_name), else those its features lie in
    if "area_name" in feats.columns:
        covers = set(feats["area_name"].dropna())
    else:
        hit = gpd.sjoin(needs[["name", "geometry"]], feats[["geometry"]], predicate="intersects")
        covers = {_authority(n) for n in hit["name"]}
    names = dict(zip(needs["code"], needs["name"], strict=True))
    site_la = assets["need_area_code"].map(lambda c: _authority(names[c]) if isinstance(c, str) else None)
    out = pd.Series("not checked", index=assets.index, dtype=object)
    covered = placed & site_la.isin(covers)
    out[covered] = "clear"
    dist = pd.Series(np.inf, index=assets.index)
    geoms = sites.geometry[placed]
    dist[placed] = [feats.distance(g).min() for g in geoms]
    inside = pd.Series(False, index=assets.index)
    inside[placed] = [bool(feats.intersects(g).any()) for g in geoms]
    out[covered & ~inside & (dist <= NEAR[kind])] = "near"
    out[covered & inside] = "inside"
    return out


def test_trafford_answers_equal_an_independent_computation(analysed, layer_files):
    a = analysed.assets
    table = analysed.constraints
    assert len(table) == len(a) * len(CONSTRAINT_KINDS)
    placed = ~(a.geometry.isna() | a.geometry.is_empty)
    seen = set()
    for kind, path in layer_files.items():
        got = table[table["dataset"] == kind].set_index("asset_id")["answer"].astype(str)
        got = got.reindex(a["asset_id"]).to_numpy()
        want = _expected(a, analysed.needs, path, kind).to_numpy()
        wrong = np.flatnonzero(got != want)
        assert not len(wrong), f"{kind}: {len(wrong)} sites differ, e.g. {a['asset_id'].iloc[wrong[0]]}: " \
                               f"got {got[wrong[0]]}, expected {want[wrong[0]]}"
        assert (got[~placed.to_numpy()] == "not checked").all()
        seen |= set(got)
        # the summary columns say the same as the layer
        assert (answers_for(a, kind).to_numpy() == got).all()
    assert {"inside", "near", "clear", "not checked"} <= seen  # every answer occurs on Trafford
    for kind in ("flood-risk-zone", "green-belt"):  # no layer for these: never clear
        rows = table[table["dataset"] == kind]
        assert (rows["answer"] == "not checked").all()
        assert (rows["note"] == "no layer of this kind was loaded").all()


def test_answers_name_the_feature_and_source(analysed):
    t = analysed.constraints
    inside = t[(t["answer"] == "inside") & (t["dataset"] == "conservation-area")]
    assert len(inside) and inside["feature"].notna().all() and (inside["distance_m"] == 0).all()
    assert (inside["source"] == "conservation_areas.geojson").all()
    near = t[(t["answer"] == "near") & (t["dataset"] == "listed-building")]
    assert len(near) and near["feature"].str.contains(r"\(\d+, grade (?:I|II\*|II)\)").all()
    assert ((near["distance_m"] > 0) & (near["distance_m"] <= 50)).all()
    assert near["note"].str.startswith("within 50 m: ").all()
    clear = t[t["answer"] == "clear"]
    assert clear["feature"].isna().all() and clear["source"].notna().all()
    # constraints inform, never flag or hide: a site inside a conservation area keeps its priority and row
    assert set(inside["asset_id"]) <= set(analysed.assets["asset_id"])


def test_constraints_never_change_priority(trafford, analysed):
    from assets_map.engine.pipeline import analyse

    plain = analyse(trafford["register"], trafford["lsoa21"], trafford["imd2025"], postcodes=trafford["postcodes"],
                    exclude=[trafford["greenspace"], trafford["allotments"]])
    assert plain.constraints is None
    assert plain.assets["priority"].tolist() == analysed.assets["priority"].tolist()
    assert plain.assets["constraints"].str.startswith("not checked (no constraint layers loaded)").all()
    assert (answers_for(plain.assets, "conservation-area") == "not checked").all()


def _planning_data_csv(path_in, kind: str, out, *, ended: bool = True) -> None:
    """Write a layer in planning.data.gov.uk's CSV layout: WKT in geometry (or point), hyphenated names."""
    g = gpd.read_file(path_in).to_crs(4326)
    name = next(c for c in ("site_name", "Name") if c in g.columns)
    ref = next((c for c in ("ListEntry", "list_entry_number", "natural_england_site_id") if c in g.columns), None)
    points = g.geom_type == "Point"
    rows = pd.DataFrame({
        "dataset": kind, "end-date": "", "entity": np.arange(len(g)) + 7_000_000,
        "entry-date": "2025-03-01", "geometry": np.where(points, "", g.geometry.to_wkt()),
        "name": g[name], "organisation-entity": "16",
        "point": np.where(points, g.geometry.to_wkt(), ""),
        "prefix": kind, "reference": g[ref].astype(str) if ref else "",
        "start-date": "", "typology": "geography"})
    if "Grade" in g.columns:
        rows["listed-building-grade"] = g["Grade"]
    if ended:  # withdrawn entries: a shape over the whole borough, and a point on every listed building
        big = shapely.box(-2.5, 53.3, -2.2, 53.5).wkt
        extra = pd.DataFrame({"dataset": [kind, kind], "end-date": ["2019-01-01", "2024-12-31"],
                              "entity": [1, 2], "entry-date": ["2018-01-01", "2024-12-31"],
                              "geometry": [big, ""], "name": ["withdrawn", "withdrawn point"],
                              "organisation-entity": ["16", "16"],
                              "point": ["", "POINT (-2.35 53.42)"], "prefix": kind, "reference": ["W1", "W2"],
                              "start-date": "", "typology": "geography"})
        rows = pd.concat([extra, rows], ignore_index=True)
    rows.to_csv(out, index=False)


def test_planning_data_csv_gives_the_geojson_answers(trafford, layer_files, analysed, tmp_path):
    from assets_map.engine.pipeline import analyse

    files = []
    for kind, path in layer_files.items():
        out = tmp_path / f"download-{len(files)}.csv"  # a name that says nothing: the dataset column decides
        _planning_data_csv(path, kind, out)
        files.append(out)
    layer = read_constraint_layer(files[0])
    assert layer.attrs["ended"] == 2 and set(layer["kind"]) == {"conservation-area"}
    assert layer["source_date"].eq("2025-03-01").all()
    csv_result = analyse(trafford["register"], trafford["lsoa21"], trafford["imd2025"],
                         postcodes=trafford["postcodes"], exclude=[trafford["greenspace"], trafford["allotments"]],
                         constraints=files)
    a, b = analysed.constraints, csv_result.constraints
    assert a["answer"].astype(str).tolist() == b["answer"].astype(str).tolist()
    assert np.allclose(a["distance_m"].fillna(-1), b["distance_m"].fillna(-1), atol=0.2)
    names = lambda t: t["feature"].str.replace(r" \(.*$", "", regex=True).fillna("")  # noqa: E731
    assert names(a).tolist() == names(b).tolist()


def test_kind_from_name_dataset_fields_or_stated(tmp_path):
    assert kind_from_file_name("trafford_conservation_areas_2024.geojson") == "conservation-area"
    assert kind_from_file_name("listed-building-outline.csv") == "listed-building-outline"
    assert kind_from_file_name("Listed Buildings.gpkg") == "listed-building"
    assert kind_from_file_name("sssi_england.zip") == "site-of-special-scientific-interest"
    assert kind_from_file_name("Flood_Zone_3.gpkg") == "flood-risk-zone"
    assert kind_from_file_name("classic_tpos.csv") is None or kind_from_file_name("tpos.csv") == "tree-preservation-zone"
    assert kind_from_file_name("libraries.geojson") is None
    assert parse_constraint_arg("green-belt=x.gpkg") == ("green-belt", "x.gpkg")
    assert parse_constraint_arg("x.gpkg") == (None, "x.gpkg")
    with pytest.raises(InputError, match="'flood' is not a constraint kind"):
        parse_constraint_arg("flood=x.gpkg")
    wkt = "POLYGON ((-2.30 53.40, -2.29 53.40, -2.29 53.41, -2.30 53.41, -2.30 53.40))"
    by_fields = tmp_path / "export.csv"
    pd.DataFrame({"name": ["a"], "listed-building-grade": ["II"], "point": ["POINT (-2.3 53.4)"]}).to_csv(by_fields,
                                                                                                          index=False)
    assert set(read_constraint_layer(by_fields)["kind"]) == {"listed-building"}
    unknown = tmp_path / "layer.csv"
    pd.DataFrame({"name": ["a"], "geometry": [wkt]}).to_csv(unknown, index=False)
    with pytest.raises(InputError, match="layer.csv: which constraint this layer holds could not be told"):
        read_constraint_layer(unknown)
    assert set(read_constraint_layer(unknown, kind="green belt")["kind"]) == {"green-belt"}
    mixed = tmp_path / "planning.csv"
    pd.DataFrame({"dataset": ["green-belt", "conservation-area"], "name": ["g", "c"], "geometry": [wkt, wkt]}).to_csv(
        mixed, index=False)
    assert read_constraint_layer(mixed)["kind"].tolist() == ["green-belt", "conservation-area"]


def test_bad_tables_are_refused_naming_the_row(tmp_path):
    bad = tmp_path / "conservation-area.csv"
    pd.DataFrame({"name": ["a", "b"], "geometry": ["POLYGON ((0 0, 1 0, 1 1, 0 0))", "POLYGON ((nonsense"]}).to_csv(
        bad, index=False)
    with pytest.raises(InputError, match=r"conservation-area.csv: row 3: the 'geometry' value is not a shape in WKT"):
        read_constraint_layer(bad)
    none = tmp_path / "green-belt.csv"
    pd.DataFrame({"name": ["a"], "area": ["12"]}).to_csv(none, index=False)
    with pytest.raises(InputError, match="has no geometry"):
        read_constraint_layer(none)


def test_end_dates_and_grid_coordinates(tmp_path):
    f = tmp_path / "green-belt.csv"
    square = box(380000, 390000, 381000, 391000).wkt
    pd.DataFrame({"name": ["old", "current", "ends later"], "geometry": [square] * 3,
                  "end-date": ["2020-05-01", "", "2999-01-01"]}).to_csv(f, index=False)
    layer = read_constraint_layer(f)
    assert layer["feature_name"].tolist() == ["current", "ends later"] and layer.attrs["ended"] == 1
    assert layer.crs.to_epsg() == 27700 and layer.total_bounds[0] == pytest.approx(380000)


def _needs() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["E01000001", "E01000002"], "name": ["Alpha 001A", "Beta 001A"]},
                            geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000)], crs=27700)


def _sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"asset_id": ["in", "near", "clear", "other", "nowhere", "unplaced", "parcel"],
                             "need_area_code": ["E01000001"] * 3 + ["E01000002", None, "E01000001",
                                                                   "E01000001"]},
                            geometry=[Point(100, 100), Point(230, 100), Point(800, 800), Point(1500, 500),
                                      Point(5000, 5000), None, box(600, 50, 650, 150)], crs=27700)


def _layer(geoms, kind="conservation-area", authorities=()):
    g = gpd.GeoDataFrame({"kind": kind, "feature_name": [f"f{i}" for i in range(len(geoms))], "reference": "R",
                          "grade": None, "source": "x.gpkg", "source_date": "2025-01-01"}, geometry=geoms, crs=27700)
    g.attrs["authorities"] = list(authorities)
    return g


def test_three_answers_coverage_and_unplaced():
    layer = _layer([box(50, 50, 200, 200), box(640, 140, 700, 300)])
    t = check_constraints(_sites(), [layer], _needs())
    ca = t[t["dataset"] == "conservation-area"].set_index("asset_id")
    assert ca["answer"].to_dict() == {"in": "inside", "near": "near", "clear": "clear", "other": "not checked",
                                      "nowhere": "not checked", "unplaced": "not checked", "parcel": "inside"}
    assert ca.loc["near", "distance_m"] == pytest.approx(30.0)
    assert "covers the local authorities it has features in: Alpha" in ca.loc["other", "note"]
    assert ca.loc["unplaced", "note"] == "the site has no location"
    assert ca.loc["nowhere", "note"].startswith("the site is outside the need areas loaded")
    # a layer naming the authorities it covers is read as covering them, even where it has no feature
    stated = _layer([box(50, 50, 200, 200)], authorities=["Beta", "Alpha"])
    t = check_constraints(_sites(), [stated], _needs())
    assert t[(t["dataset"] == "conservation-area") & (t["asset_id"] == "other")]["answer"].item() == "clear"
    # every kind is answered for every site, in the standard order
    assert t["dataset"].astype(str).tolist()[: len(CONSTRAINT_KINDS)] == list(CONSTRAINT_KINDS)
    assert set(t["answer"].astype(str)) <= set(ANSWERS)


def test_cli_analyse_writes_the_constraints_layer(trafford, layer_files, tmp_path):
    from assets_map.io.export import read_result

    out = tmp_path / "r.gpkg"
    args = [sys.executable, "-m", "assets_map.cli", "analyse", "--assets", str(trafford["register"]), "--boundaries",
            str(trafford["lsoa21"]), "--deprivation", str(trafford["imd2025"]), "--postcodes",
            str(trafford["postcodes"]), "--constraints", str(layer_files["conservation-area"]),
            "--constraints", f"listed-building={layer_files['listed-building']}", "--out", str(out)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "constraints: conservation area: " in run.stdout and "constraints," in run.stdout
    layers, record = read_result(out)
    t = layers["constraints"]
    assert set(t.columns) >= {"asset_id", "kind", "answer", "feature", "distance_m", "source", "source_date"}
    assert (t[t["dataset"] == "listed-building"]["answer"] != "not checked").any()
    assert "constraints_inside" in layers["assets"].columns
    bad = subprocess.run(args[:-2] + ["--constraints", str(trafford["greenspace"]), "--out", str(tmp_path / "b.gpkg")],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "greenspace_sites.geojson: which constraint this layer holds" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_parquet_and_geoparquet_give_the_geojson_answers(analysed, layer_files, tmp_path):
    from assets_map.engine.constraints import check_constraints

    kinds = ("conservation-area", "listed-building")
    base = [read_constraint_layer(layer_files[k]) for k in kinds]
    layers = []
    for k in kinds:
        csv = tmp_path / f"{k}.csv"
        _planning_data_csv(layer_files[k], k, csv)
        plain = tmp_path / "download.parquet"  # planning.data.gov.uk's layout, WKT text; the dataset column decides
        pd.read_csv(csv, dtype=str, keep_default_na=False).to_parquet(plain)
        layers.append(read_constraint_layer(plain))
        geo = tmp_path / f"{k}.geoparquet"
        gpd.read_file(layer_files[k]).to_parquet(geo)
        layers.append(read_constraint_layer(geo))
    assert layers[0].attrs["ended"] == 2 and layers[1].crs is not None
    want = check_constraints(analysed.assets, base, analysed.needs)
    for pair in ((layers[0], layers[2]), (layers[1], layers[3])):
        got = check_constraints(analysed.assets, list(pair), analysed.needs)
        assert got["answer"].astype(str).tolist() == want["answer"].astype(str).tolist()
    bad = tmp_path / "conservation-area.parquet"
    bad.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(InputError, match="conservation-area.parquet: could not be read as Parquet"):
        read_constraint_layer(bad)


def test_cached_and_rescored_results_keep_the_answers(trafford, layer_files, analysed, tmp_path):
    from assets_map.engine.pipeline import analyse, rescore

    want = analysed.constraints["answer"].astype(str).tolist()
    for _ in range(2):  # stored, then reused: the answers are made on every run, never read from the cache
        r = analyse(trafford["register"], trafford["lsoa21"], trafford["imd2025"], postcodes=trafford["postcodes"],
                    exclude=[trafford["greenspace"], trafford["allotments"]], constraints=list(layer_files.values()),
                    cache=tmp_path / "cache")
        assert r.constraints["answer"].astype(str).tolist() == want
    assert r.settings["cache"] == "reused"
    again = rescore(analysed, weights="income=1")
    assert again.constraints["answer"].astype(str).tolist() == want
    assert again.assets["constraints"].tolist() == analysed.assets["constraints"].tolist()
