"""GeoParquet results (issue 19 item 1): `analyse --out x.parquet` writes a folder of GeoParquet 1.1 files
with a bbox covering column, read back by `export` and by any Arrow reader, replaced atomically."""
from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pytest

from assets_map import cli
from assets_map.io.geoparquet import read_result, write_result
from assets_map.io.report import InputError


@pytest.fixture(scope="module")
def trafford_parquet(trafford, tmp_path_factory):
    out = tmp_path_factory.mktemp("pq") / "trafford.parquet"
    gpkg = out.with_suffix(".gpkg")
    args = ["--assets", str(trafford["register"]), "--boundaries", str(trafford["lsoa21"]),
            "--deprivation", str(trafford["imd2025"]), "--postcodes", str(trafford["postcodes"])]
    assert cli.main(["analyse", *args, "--out", str(out)]) == 0
    assert cli.main(["analyse", *args, "--out", str(gpkg)]) == 0
    return out, gpkg


def test_layers_are_geoparquet_1_1_with_bbox_covering(trafford_parquet):
    out, _ = trafford_parquet
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["assets.parquet", "candidates.parquet", "needs.parquet", "summary.parquet", "data_dictionary.parquet",
         "provenance.json"] + [p.name for p in out.iterdir() if p.name == "constraints.parquet"])
    for layer in ("assets", "candidates", "needs"):
        meta = json.loads(pq.read_schema(out / f"{layer}.parquet").metadata[b"geo"])
        col = meta["columns"][meta["primary_column"]]
        assert meta["version"] == "1.1.0" and col["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
        assert col["crs"]["id"] == {"authority": "EPSG", "code": 27700}
        # the covering holds each row's bounds (read independently with Arrow and shapely)
        table = pq.read_table(out / f"{layer}.parquet")
        geoms = gpd.GeoSeries.from_wkb(table.column(meta["primary_column"]).to_pylist())
        bbox = table.column("bbox").to_pandas()
        placed = ~geoms.isna() & ~geoms.is_empty
        b = geoms[placed].bounds
        assert (bbox[placed].map(lambda d: d["xmin"]).to_numpy() <= b["minx"].to_numpy() + 0.01).all()
        assert (bbox[placed].map(lambda d: d["ymax"]).to_numpy() >= b["maxy"].to_numpy() - 0.01).all()


def test_the_same_rows_as_the_geopackage(trafford_parquet):
    out, gpkg = trafford_parquet
    back, record = read_result(out)
    for layer in ("assets", "candidates", "needs"):
        g = gpd.read_file(gpkg, layer=layer, engine="pyogrio")
        p = back[layer]
        same = [c for c in p.columns if c != "geometry"] == [c for c in g.columns if c != "geometry"]
        assert len(g) == len(p) and same
        key = "asset_id" if layer != "needs" else "code"
        pd.testing.assert_series_equal(p[key].astype(str).reset_index(drop=True), g[key].astype(str),
                                       check_names=False)
        assert p.geometry.geom_equals_exact(g.geometry, tolerance=1e-6).sum() == (~g.geometry.isna()).sum()
    assert record["title"] == "assets-map provenance" and record["written"][-1]["step"] == "analyse"
    assert any(i.get("sha256") for i in record["inputs"])


def test_export_reads_the_folder_back(trafford_parquet, tmp_path):
    out, _ = trafford_parquet
    x = tmp_path / "candidates.csv"
    assert cli.main(["export", str(out), "--layer", "candidates", "--out", str(x)]) == 0
    csv = pd.read_csv(x, encoding="utf-8-sig", dtype=str)
    assert len(csv) == len(gpd.read_parquet(out / "candidates.parquet"))


def test_a_folder_that_is_not_a_result_is_never_replaced(tmp_path):
    mine = tmp_path / "photos.parquet"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"x")
    layers = {"assets": gpd.GeoDataFrame({"a": [1]}, geometry=gpd.points_from_xy([1], [2]), crs=27700)}
    with pytest.raises(InputError, match="not an assets-map GeoParquet result folder"):
        write_result(layers, mine)
    assert (mine / "holiday.jpg").exists()
    with pytest.raises(InputError, match="ends in .parquet"):
        write_result(layers, tmp_path / "result.gpq")


def test_a_result_is_replaced_whole(tmp_path):
    target = tmp_path / "r.parquet"
    one = {"assets": gpd.GeoDataFrame({"a": [1]}, geometry=gpd.points_from_xy([1], [2]), crs=27700),
           "old_layer": pd.DataFrame({"x": [1]})}
    write_result(one, target)
    two = {"assets": gpd.GeoDataFrame({"a": [2, 3]}, geometry=gpd.points_from_xy([1, 2], [2, 3]), crs=27700)}
    write_result(two, target)
    back, _ = read_result(target)
    assert list(back) == ["assets"] and back["assets"]["a"].tolist() == [2, 3]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no parts or old folder left behind


def _geopandas_file(frame, path):
    frame.to_parquet(path, index=False, compression="zstd", write_covering_bbox=True, schema_version="1.1.0")
    return pq.read_table(path)


@pytest.mark.parametrize("case", ["points", "some missing", "first missing", "with attrs"])
def test_a_point_layer_is_written_as_geopandas_writes_it(case, tmp_path):
    """The WKB and bbox made from the coordinates: the same table, metadata and geometry bytes as geopandas'."""
    import numpy as np
    from shapely.geometry import Point

    from assets_map.io.geoparquet import _point_table, _write_layer

    n = 50
    rng = np.random.default_rng(7)
    geoms = [Point(x, y) for x, y in zip(rng.uniform(3e5, 4e5, n), rng.uniform(1e5, 2e5, n), strict=True)]
    if case in ("some missing", "first missing"):
        for i in ([3, 17, 49] if case == "some missing" else [0, 1]):
            geoms[i] = None
    frame = gpd.GeoDataFrame({"asset_id": [f"A{i}" for i in range(n)], "score": rng.uniform(0, 1, n),
                              "decile": pd.array(rng.integers(1, 11, n), dtype="Int64"),
                              "note": pd.array([None if i % 5 else "check" for i in range(n)], dtype="str")},
                             geometry=geoms, crs="EPSG:27700")
    if case == "with attrs":
        frame.attrs["adapter"] = "register"
    want = _geopandas_file(frame, tmp_path / "geopandas.parquet")
    got = _point_table(frame)
    assert got is not None
    assert got.schema.equals(want.schema, check_metadata=True)
    assert got.schema.metadata == want.schema.metadata
    assert got.equals(want)
    _write_layer(frame, tmp_path / "ours.parquet")
    assert pq.read_table(tmp_path / "ours.parquet").equals(want)  # the file as written, read back
    back = gpd.read_parquet(tmp_path / "ours.parquet")
    assert (back.geometry.isna() == frame.geometry.isna()).all()
    assert back.geometry.geom_equals_exact(frame.geometry, tolerance=0)[frame.geometry.notna()].all()


@pytest.mark.parametrize("case", ["polygons", "an empty point", "3D points", "mixed", "all missing"])
def test_other_layers_are_left_to_geopandas(case, tmp_path):
    from shapely.geometry import Point, box

    from assets_map.io.geoparquet import _point_table, _write_layer

    geoms = {"polygons": [box(0, 0, 1, 1), box(1, 1, 2, 2)], "an empty point": [Point(1, 2), Point()],
             "3D points": [Point(1, 2, 3), Point(4, 5, 6)], "mixed": [Point(1, 2), box(0, 0, 1, 1)],
             "all missing": [None, None]}[case]
    frame = gpd.GeoDataFrame({"asset_id": ["A", "B"]}, geometry=geoms, crs="EPSG:27700")
    assert _point_table(frame) is None
    _write_layer(frame, tmp_path / "ours.parquet")
    assert pq.read_table(tmp_path / "ours.parquet").equals(_geopandas_file(frame, tmp_path / "geopandas.parquet"))
