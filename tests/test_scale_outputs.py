"""The fast paths of a million-row result equal the plain ones they replace.

A text repeated on every row is built from its buffers (not by pandas' scalar ``take``); the point-in-area join asks
GEOS from several threads; a GeoParquet layer's long text columns carry no statistics. Each must give exactly what
the plain computation gives. A long run allocates Arrow memory through jemalloc, unless the user chose an allocator.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from assets_map.engine.arrays import repeated_text, retaining_arrow_pool
from assets_map.engine.geo import query_in_threads


@pytest.mark.parametrize("n", [0, 1, 3, 2500])
@pytest.mark.parametrize("text", ["none loaded", "", "héllo; wörld – ünïcode ✓"])
def test_repeated_text_is_the_scalar_assignment(n, text):
    frame = gpd.GeoDataFrame({"a": range(n)}, geometry=gpd.points_from_xy(range(n), range(n)),
                             index=pd.Index(range(10, 10 + n)))
    plain, fast = frame.copy(), frame.copy()
    plain["t"] = text
    fast["t"] = repeated_text(text, fast.index)
    pd.testing.assert_frame_equal(fast, plain, check_exact=True)
    assert fast["t"].array._pa_array.combine_chunks().validate(full=True) is None


def test_threaded_query_gives_the_same_pairs():
    rng = np.random.default_rng(7)
    x0, y0 = np.meshgrid(np.arange(0, 50_000, 1000.0), np.arange(0, 50_000, 1000.0))
    polys = shapely.box(x0.ravel(), y0.ravel(), x0.ravel() + 1000, y0.ravel() + 1000)  # 2,500 squares
    pts = shapely.points(rng.uniform(-1000, 51_000, 40_000), rng.uniform(-1000, 51_000, 40_000))
    pts = np.r_[pts, shapely.points(np.arange(0, 50_000, 500.0), np.full(100, 2000.0))]  # on edges and corners
    tree = shapely.STRtree(pts)
    want = tree.query(polys, predicate="contains_properly")
    got = query_in_threads(tree, polys, "contains_properly")
    order_w, order_g = np.lexsort(want[::-1]), np.lexsort(got[::-1])
    assert np.array_equal(want[:, order_w], np.vstack(got)[:, order_g])
    assert want.shape[1] > 35_000


def test_geoparquet_keeps_statistics_where_a_reader_can_use_them(tmp_path):
    from assets_map.io.geoparquet import read_result, write_result

    n = 3000
    sentence = "Priority Low: some underuse evidence (0.35, confidence medium) in an area of need decile 6 of 10"
    assets = gpd.GeoDataFrame({"asset_id": [f"A{i:05d}" for i in range(n)], "floor_area_m2": np.arange(n, dtype=float),
                               "reasons": pd.Series([f"{sentence} #{i}" for i in range(n)], dtype="str")},
                              geometry=gpd.points_from_xy(np.arange(n) * 10.0, np.arange(n) * 5.0), crs=27700)
    out = write_result({"assets": assets, "summary": pd.DataFrame({"group": ["all"], "sites": [n]})},
                       tmp_path / "r.parquet")
    meta = pq.ParquetFile(out / "assets.parquet").metadata.row_group(0)
    stats = {meta.column(i).path_in_schema: meta.column(i).is_stats_set for i in range(meta.num_columns)}
    assert stats["asset_id"] and stats["floor_area_m2"]
    assert all(stats[f"bbox.{k}"] for k in ("xmin", "ymin", "xmax", "ymax"))  # the covering readers filter on
    assert not stats["reasons"] and not stats["geometry"]
    back, _ = read_result(out)
    pd.testing.assert_frame_equal(pd.DataFrame(back["assets"].drop(columns="geometry")),
                                  pd.DataFrame(assets.drop(columns="geometry")), check_exact=True)
    assert back["assets"].geometry.geom_equals_exact(assets.geometry, 0).all()
    assert back["summary"]["sites"].tolist() == [n]


def test_representative_points_by_type_id_equal_the_type_names():
    from assets_map.engine.geo import representative_points

    geoms = gpd.GeoSeries([None, shapely.Point(), shapely.Point(1, 2), shapely.box(0, 0, 1, 1), shapely.Polygon(),
                           shapely.MultiPoint([(0, 0), (1, 1)]), shapely.LineString([(0, 0), (2, 2)]),
                           shapely.GeometryCollection(), shapely.Point(5, 5)], index=[5, 3, 9, 1, 0, 2, 4, 8, 7],
                          crs=27700)
    want = geoms.copy()
    poly = ~(geoms.isna() | geoms.is_empty) & (geoms.geom_type != "Point")  # the plain rule, by type name
    want[poly] = geoms[poly].representative_point()
    got = representative_points(geoms)
    pd.testing.assert_series_equal(got.to_wkb(), want.to_wkb())
    assert got.index.equals(geoms.index) and got.crs == geoms.crs


@pytest.mark.parametrize("overlap", [False, True])
def test_first_area_takes_the_first_match_in_the_layers_order(overlap):
    from assets_map.engine.steps import _first_area

    rng = np.random.default_rng(3)
    rows = rng.permutation(5000)[:3000]
    areas = rng.integers(0, 200, len(rows))
    if overlap:  # some rows matched by two or three areas, listed in any order
        extra = rng.choice(rows, 800)
        rows, areas = np.r_[rows, extra, extra[:100]], np.r_[areas, rng.integers(0, 200, 900)]
    got = np.full(5000, -1, dtype=np.int64)
    _first_area(got, rows, areas)
    want = np.full(5000, -1, dtype=np.int64)
    for r, a in zip(rows, areas, strict=True):
        want[r] = a if want[r] < 0 else min(want[r], a)
    assert np.array_equal(got, want)


def test_a_long_run_allocates_through_jemalloc_unless_the_user_chose(monkeypatch):
    before = pa.default_memory_pool()
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    try:
        pa.set_memory_pool(pa.system_memory_pool())
        want = "jemalloc" if "jemalloc" in pa.supported_memory_backends() else "system"
        assert retaining_arrow_pool() == want == pa.default_memory_pool().backend_name
        pa.set_memory_pool(pa.system_memory_pool())
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")  # the user's choice is kept
        assert retaining_arrow_pool() == "system" == pa.default_memory_pool().backend_name
    finally:
        pa.set_memory_pool(before)


def test_a_long_run_asks_numpy_for_plain_pages_unless_the_user_chose(monkeypatch):
    from numpy._core import multiarray

    from assets_map.engine.arrays import plain_pages

    before = multiarray._set_madvise_hugepage(True)
    try:
        monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
        assert plain_pages() is False and multiarray._set_madvise_hugepage(True) is False
        monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")  # the user's choice is kept
        assert plain_pages() is True and multiarray._set_madvise_hugepage(True) is True
    finally:
        multiarray._set_madvise_hugepage(before)


def test_layers_made_while_the_assets_are_written_equal_the_frames(tmp_path):
    from assets_map.engine.demo import load_demo
    from assets_map.io.export import result_layers
    from assets_map.io.geoparquet import write_result

    result = load_demo()
    given = result_layers(result)
    later = result_layers(result, later=True)
    assert callable(later["candidates"]) and callable(later["summary"])
    write_result(given, tmp_path / "given.parquet")
    write_result(later, tmp_path / "later.parquet")
    assert list(later) == list(given) and not any(callable(f) for f in later.values())  # the frames it made
    for name in [*given, "data_dictionary"]:
        a, b = (pq.read_table(tmp_path / f"{w}.parquet" / f"{name}.parquet") for w in ("given", "later"))
        assert a.equals(b) and a.schema.metadata == b.schema.metadata, name
    for name, frame in given.items():
        pd.testing.assert_frame_equal(pd.DataFrame(later[name]), pd.DataFrame(frame), check_exact=True)
