"""Analysis results kept by a hash of their inputs and settings (assets_map.engine.cache)."""
from __future__ import annotations

import shutil

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from assets_map.cli import main
from assets_map.engine.cache import ResultCache, cache_key
from assets_map.engine.pipeline import analyse


@pytest.fixture()
def inputs(tmp_path):
    """A small register (CSV, BNG) and four need areas carrying their own deprivation."""
    reg = tmp_path / "register.csv"
    reg.write_text(
        "AssetCode,PropertyName,OrganisationLabel,TenureType,TenureDetail,HoldingType,Easting,Northing,EffectiveDate\n"
        "A1,Old library,Test Council,Freehold,Vacant,Building,400050,300050,2024-03-31\n"
        "A2,Depot,Test Council,Leasehold,Owner occupied,Building,400150,300050,2024-03-31\n"
        "A3,Yard,Test Council,Freehold,Surplus,Land,400050,300150,31/03/2024\n"
        "A4,Nowhere,Test Council,Freehold,Vacant,Land,,,\n")
    areas = gpd.GeoDataFrame(
        {"lsoa21cd": ["E01000001", "E01000002", "E01000003", "E01000004"], "lsoa21nm": ["A 1", "A 2", "A 3", "A 4"],
         "IMD_decile": [1, 4, 7, 10], "IMD_rank": [100, 12000, 22000, 33000], "IMD_score": [60.0, 25.0, 12.0, 3.0]},
        geometry=[box(400000, 300000, 400100, 300100), box(400100, 300000, 400200, 300100),
                  box(400000, 300100, 400100, 300200), box(400100, 300100, 400200, 300200)], crs="EPSG:27700")
    bnd = tmp_path / "lsoa21.gpkg"
    areas.to_file(bnd, engine="pyogrio")
    return {"assets": reg, "boundaries": bnd}


def _frames_equal(a, b):
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
    assert a.geometry.geom_equals(b.geometry).where(a.geometry.notna(), True).all()
    assert (a.geometry.isna() == b.geometry.isna()).all()


def cached_analyse(*args, **kw):
    """``analyse(..., cache=...)`` and whether the result came from the cache."""
    result = analyse(*args, **kw)
    return result, result.settings["cache"] == "reused"


def test_second_run_is_served_from_the_cache_and_equal(inputs, tmp_path):
    cache = ResultCache(tmp_path / "cache")
    first, hit1 = cached_analyse(inputs["assets"], inputs["boundaries"], cache=cache)
    second, hit2 = cached_analyse(inputs["assets"], inputs["boundaries"], cache=cache)
    assert (hit1, hit2) == (False, True) and (cache.stats.misses, cache.stats.hits) == (1, 1)
    _frames_equal(first.assets, second.assets)
    _frames_equal(first.needs, second.needs)
    assert second.summary() == first.summary() and second.summary()["priority"]["High"] == 1
    assert second.warnings == first.warnings
    assert {**second.settings, "cache": None} == {**first.settings, "cache": None}
    assert [r.summary_lines() for r in second.reports] == [r.summary_lines() for r in first.reports]
    assert second.needs.attrs["iod_year"] == first.needs.attrs["iod_year"]
    # text stays text with None for missing, dates stay dates (what the scoring reads)
    row = second.assets.set_index("asset_id").loc["A4"]
    assert row["location_note"] is not None and second.assets["need_area_code"].isna().sum() == 1
    assert type(second.assets["source_date"].dropna().iloc[0]).__name__ == "date"
    assert not list((tmp_path / "cache").rglob(".*"))  # no temporary folder left behind


def test_key_follows_bytes_and_settings_not_names(inputs, tmp_path):
    base = cache_key({"assets": inputs["assets"]}, {"weights": {"imd": 1.0}})
    copy = tmp_path / "renamed.csv"
    shutil.copy(inputs["assets"], copy)
    assert cache_key({"assets": copy}, {"weights": {"imd": 1.0}}) == base  # same bytes, other name: same result
    assert cache_key({"assets": inputs["assets"]}, {"weights": {"income": 1.0}}) != base
    copy.write_text(copy.read_text().replace("Vacant", "Occupied", 1))
    assert cache_key({"assets": copy}, {"weights": {"imd": 1.0}}) != base


def test_edited_register_or_new_weights_recompute(inputs, tmp_path):
    cache = ResultCache(tmp_path / "cache")
    cached_analyse(inputs["assets"], inputs["boundaries"], cache=cache)
    _, hit = cached_analyse(inputs["assets"], inputs["boundaries"], cache=cache, weights="imd=1")
    assert hit  # "imd=1" is the default weights, parsed to the same settings
    inputs["assets"].write_text(inputs["assets"].read_text().replace("Owner occupied", "Vacant"))
    edited, hit = cached_analyse(inputs["assets"], inputs["boundaries"], cache=cache)
    assert not hit and edited.assets.set_index("asset_id").loc["A2", "status"] == "vacant"


def test_damaged_entry_is_a_miss_not_an_error(inputs, tmp_path):
    cache = ResultCache(tmp_path / "cache")
    cached_analyse(inputs["assets"], inputs["boundaries"], cache=cache)
    for f in (tmp_path / "cache").rglob("assets.parquet"):
        f.write_bytes(b"not parquet")
    again, hit = cached_analyse(inputs["assets"], inputs["boundaries"], cache=cache)
    assert not hit and len(again.assets) == 4


def test_cli_cache_flag_reuses_results(inputs, tmp_path, capsys):
    args = ["analyse", "--assets", str(inputs["assets"]), "--boundaries", str(inputs["boundaries"]),
            "--cache", str(tmp_path / "c")]
    assert main(args + ["--out", str(tmp_path / "a.gpkg")]) == 0
    assert main(args + ["--out", str(tmp_path / "b.gpkg")]) == 0
    assert "reused from the cache" in capsys.readouterr().err
    a = gpd.read_file(tmp_path / "a.gpkg", layer="assets")
    b = gpd.read_file(tmp_path / "b.gpkg", layer="assets")
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
