"""The dask engine gives the single-machine result, row for row (assets_map.engine.distributed)."""
from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from assets_map.cli import main
from assets_map.engine.demo import DEMO_PATH
from assets_map.engine.distributed import hilbert_order, write_partitions
from assets_map.engine.needs import read_boundaries
from assets_map.engine.pipeline import analyse
from assets_map.io.importer import import_file
from assets_map.schema import MEASURE_CRS

AS_OF = dt.date(2026, 1, 15)


def _same(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
    assert (a.geometry.isna() == b.geometry.isna()).all()
    assert a.geometry.geom_equals(b.geometry).where(a.geometry.notna(), True).all()


@pytest.fixture(scope="module")
def demo_frames():
    assets, _ = import_file(DEMO_PATH, adapter="register", layer="assets", name="demo.gpkg")
    bnd = read_boundaries(DEMO_PATH, layer="need_areas", name="demo.gpkg")
    parks = gpd.read_file(DEMO_PATH, layer="greenspace", engine="pyogrio").to_crs(MEASURE_CRS)
    return assets, bnd, [("demo greenspace", parks)]


def test_partitions_are_spatially_compact_and_cover_every_row(demo_frames, tmp_path):
    assets = demo_frames[0]
    paths = write_partitions(assets, tmp_path / "p", 4)
    parts = [gpd.read_parquet(p) for p in paths]
    rows = sorted(r for p in parts for r in p["_am_row"])
    assert rows == list(range(len(assets)))
    # Hilbert-sorted partitions overlap far less than random ones would: their boxes' total area is small.
    placed = assets[assets.geometry.notna()]
    whole = placed.total_bounds
    whole_area = (whole[2] - whole[0]) * (whole[3] - whole[1])
    boxes = [p[p.geometry.notna()].total_bounds for p in parts]
    assert sum((b[2] - b[0]) * (b[3] - b[1]) for b in boxes) < 1.5 * whole_area
    order = hilbert_order(assets.geometry)
    assert sorted(order) == list(range(len(assets)))
    assert assets.geometry.iloc[order[-1]] is None or assets.geometry.isna().sum() == 0  # unplaced last


@pytest.mark.parametrize("weights", [None, "income=2,health=1"])
def test_threads_equal_single_machine_on_the_demo(demo_frames, weights):
    assets, bnd, exclude = demo_frames
    one = analyse(assets, bnd, None, exclude=exclude, weights=weights)
    # the single-machine path takes today's date for vacancy durations; so does dask by default
    many = analyse(assets, bnd, None, exclude=exclude, weights=weights, engine="dask", scheduler="threads",
                   partitions=7)
    _same(one.assets, many.assets)
    assert one.summary() == many.summary() and one.warnings == many.warnings
    assert "dask" in many.settings["engine"]


def test_local_process_cluster_equals_single_machine(demo_frames):
    assets, bnd, exclude = demo_frames
    one = analyse(assets, bnd, None, exclude=exclude)
    many = analyse(assets, bnd, None, exclude=exclude, engine="dask", scheduler="processes", n_workers=2,
                   partitions=4)
    _same(one.assets, many.assets)


def test_trafford_sample_equals_single_machine(trafford):
    kw = dict(postcodes=trafford["postcodes"], exclude=[trafford["greenspace"], trafford["allotments"]])
    one = analyse(trafford["register"], trafford["lsoa21"], trafford["imd2025"], **kw)
    many = analyse(trafford["register"], trafford["lsoa21"], trafford["imd2025"], engine="dask", scheduler="threads",
                   partitions=5, **kw)
    _same(one.assets, many.assets)
    assert one.summary() == many.summary()
    assert [r.summary_lines() for r in one.reports] == [r.summary_lines() for r in many.reports]


def test_cli_engine_dask(trafford, tmp_path):
    out = tmp_path / "t.gpkg"
    code = main(["analyse", "--assets", str(trafford["register"]), "--boundaries", str(trafford["lsoa21"]),
                 "--deprivation", str(trafford["imd2025"]), "--engine", "dask", "--scheduler", "threads",
                 "--out", str(out)])
    assert code == 0
    a = gpd.read_file(out, layer="assets")
    assert len(a) == 608 and a["need_area_code"].notna().sum() > 300
    assert pyogrio.read_info(out, layer="candidates")["features"] == int(a["priority"].isin(["High", "Medium", "Low"]).sum())
