"""Issue 13, rule 9: one set of files for both doors.

``analyse`` takes ``--layer`` (and ``--locations`` for ERIC sites) and reads every register
``import`` reads, the GeoPackage ``import --out`` writes included; ``import`` prints its summary
without ``--report``. Deprivation files are recognised whatever the year suffix of their headers,
and the IoD edition is stated from the content or given with ``--iod-year``, never "unknown".
"""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from assets_map.cli import main
from assets_map.engine.needs import build_needs, deprivation_from_frame
from assets_map.io.importer import import_file
from assets_map.io.report import InputError

CODES = ["E01000001", "E01000002"]  # LSOA codes of both the 2011 and the 2021 editions


def _boundaries(tmp_path):
    gdf = gpd.GeoDataFrame({"LSOA11CD": CODES, "LSOA11NM": ["Area A", "Area B"]},
                           geometry=[box(431000, 312000, 432000, 313000), box(432000, 312000, 433000, 313000)],
                           crs="EPSG:27700")
    path = tmp_path / "lsoas.geojson"
    gdf.to_crs(4326).to_file(path, driver="GeoJSON")
    return path


def _deprivation(tmp_path, columns=("LSOA code", "IMD Rank", "IMD Decile"), name="deprivation.csv"):
    code, rank, decile = columns
    path = tmp_path / name
    pd.DataFrame({code: CODES, rank: [1200, 30000], decile: [1, 10]}).to_csv(path, index=False)
    return path


def _register(tmp_path):
    rows = [{"AssetCode": f"T-{i}", "PropertyName": f"Test hall {i}", "GeoX": 431300 + 1000 * i, "GeoY": 312500,
             "TenureType": "Freehold", "TenureDetail": "Vacant"} for i in range(2)]
    path = tmp_path / "register.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _analyse(tmp_path, assets, *extra, deprivation=None):
    out = tmp_path / "result.gpkg"
    dep = deprivation or _deprivation(tmp_path, ("LSOA code", "IMD Rank 2019", "IMD Decile 2019"))
    code = main(["analyse", "--assets", str(assets), "--boundaries", str(_boundaries(tmp_path)),
                 "--deprivation", str(dep), "--out", str(out), *extra])
    return code, out


def test_analyse_reads_a_layer_of_a_multi_layer_geopackage(tmp_path, capsys):
    gpkg = tmp_path / "several.gpkg"
    sites = gpd.GeoDataFrame({"PropertyName": ["Old depot", "Old hall"], "TenureDetail": ["Vacant", "Vacant"]},
                             geometry=[Point(431300, 312500), Point(432300, 312500)], crs="EPSG:27700")
    sites.to_file(gpkg, layer="sites", driver="GPKG")
    sites.assign(PropertyName=["Other", "Other 2"]).to_file(gpkg, layer="other", driver="GPKG")
    # Without a layer the error names the option, and the option exists.
    assert main(["analyse", "--assets", str(gpkg), "--boundaries", str(_boundaries(tmp_path)),
                 "--deprivation", str(_deprivation(tmp_path, ("LSOA code", "Rank2019", "Decile2019"))),
                 "--out", str(tmp_path / "r.gpkg")]) == 2
    assert "--layer" in capsys.readouterr().err
    code, out = _analyse(tmp_path, gpkg, "--layer", "sites")
    assert code == 0
    assets = gpd.read_file(out, layer="assets")
    assert sorted(assets["name"]) == ["Old depot", "Old hall"]


def test_analyse_reads_the_geopackage_import_writes(tmp_path, capsys):
    written = tmp_path / "normalised.gpkg"
    assert main(["import", str(_register(tmp_path)), "--out", str(written)]) == 0
    code, out = _analyse(tmp_path, written)
    assert code == 0, capsys.readouterr().err
    assets = gpd.read_file(out, layer="assets")
    assert sorted(assets["asset_id"]) == ["T-0", "T-1"]
    assert set(assets["need_area_code"]) == set(CODES)


def test_import_prints_its_summary_without_report(tmp_path, capsys):
    assert main(["import", str(_register(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "register.csv" in out and "2 records read" in out
    assert not list(tmp_path.glob("*.json"))


@pytest.mark.parametrize("columns,year", [
    (("lsoa11cd", "IMDRank2019", "Decile2019"), 2019),
    (("LSOA code", "IMD_Rank_2019", "IMD_Decile_2019"), 2019),
    (("LSOA code", "IMD19_Rank", "IMD19_Decile"), 2019),
    (("LSOA code", "Rank2019", "Decile2019"), 2019),
    (("LSOA code", "IMD Rank 2025", "IMD Decile 2025"), 2025),
])
def test_iod_headers_with_a_year_suffix_are_read_and_state_the_year(tmp_path, columns, year):
    path = _deprivation(tmp_path, columns, name="any_name.csv")
    dep, _ = import_file(path, kind="deprivation")
    assert dep.year == year
    assert {"imd_rank", "imd_decile"} <= set(dep.table.columns)
    frame, _ = import_file(path)  # the register door says what it is
    assert frame.attrs["adapter"] == "deprivation"


def test_boundaries_carrying_iod_columns_with_a_year_suffix_are_need_areas(tmp_path):
    bounds = gpd.read_file(_boundaries(tmp_path)).to_crs(27700).rename(columns={"LSOA11CD": "code", "LSOA11NM": "name"})
    bounds["Decile2019"] = [1, 10]
    bounds["Rank2019"] = [1200, 30000]
    needs, _ = build_needs(bounds, None, boundaries_name="iod.shp")
    assert needs["imd_decile"].tolist() == [1, 10]
    assert needs.attrs["iod_year"] == 2019


def test_an_iod_file_that_does_not_state_its_year_is_refused_asking_for_iod_year(tmp_path, capsys):
    dep = _deprivation(tmp_path)  # "LSOA code", "IMD Rank", "IMD Decile": no year anywhere
    code, _ = _analyse(tmp_path, _register(tmp_path), deprivation=dep)
    assert code == 2
    err = capsys.readouterr().err
    assert "--iod-year" in err and "deprivation.csv" in err
    code, out = _analyse(tmp_path, _register(tmp_path), "--iod-year", "2019", deprivation=dep)
    assert code == 0
    assets = gpd.read_file(out, layer="assets")
    assert set(assets["iod_year"]) == {2019}
    assert assets["reasons"].str.contains("(IoD 2019)", regex=False).all()
    assert not assets["reasons"].str.contains("unknown").any()


def test_iod_year_must_agree_with_the_codes_and_the_file(tmp_path):
    frame = pd.DataFrame({"LSOA code": ["E01035000", "E01000002"], "IMD Rank": [1, 2], "IMD Decile": [1, 1]})
    dep = deprivation_from_frame(frame, name="new.csv")
    assert dep.year == 2025  # codes that only exist from 2021 state the edition
    stated = deprivation_from_frame(frame.rename(columns={"IMD Rank": "IMD Rank 2025"}), name="d.csv")
    bounds = gpd.GeoDataFrame({"code": ["E01035000"], "name": ["x"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:27700")
    with pytest.raises(InputError, match="--iod-year"):
        build_needs(bounds, stated, year=2019)
    undated = deprivation_from_frame(frame.assign(**{"LSOA code": CODES}), name="u.csv")
    assert undated.year is None
    with pytest.raises(InputError, match="--iod-year"):
        build_needs(bounds, undated)


def test_import_and_analyse_accept_the_same_real_registers(shared, tmp_path, capsys):
    # The ERIC workbook with site locations, through both doors; the real Trafford register via import --out.
    eric = shared("nhs", "eric_hefs_site_and_trust_data_13944.xls")
    points = shared("nhs", "hospitals22_points.gpkg")
    frame, report = import_file(eric, locations=points)
    placed_by_import = int(frame.geometry.notna().sum())
    assert placed_by_import > 300
    written = tmp_path / "trafford.gpkg"
    assert main(["import", str(shared("trafford", "land_and_building_assets.csv")), "--out", str(written)]) == 0
    capsys.readouterr()
    for assets, extra in ((eric, ["--locations", str(points)]), (written, [])):
        out = tmp_path / "r.gpkg"
        code = main(["analyse", "--assets", str(assets), *extra,
                     "--boundaries", str(shared("trafford", "lsoa21_boundaries.geojson")),
                     "--deprivation", str(shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv")),
                     "--out", str(out)])
        assert code == 0, capsys.readouterr().err
        result = gpd.read_file(out, layer="assets")
        if assets == eric:
            assert int(result.geometry.notna().sum()) == placed_by_import
        else:
            assert len(result) == 608 and result["asset_id"].str.startswith("TMBC").all()


def test_the_cache_keys_on_the_layer_read(tmp_path):
    from assets_map.engine.pipeline import analyse

    gpkg = tmp_path / "two.gpkg"
    for layer, names in (("sites", ["Old depot", "Old hall"]), ("other", ["Yard", "Store"])):
        gpd.GeoDataFrame({"PropertyName": names, "TenureDetail": ["Vacant", "Vacant"]},
                         geometry=[Point(431300, 312500), Point(432300, 312500)],
                         crs="EPSG:27700").to_file(gpkg, layer=layer, driver="GPKG")
    dep = _deprivation(tmp_path, ("LSOA code", "Rank2019", "Decile2019"))
    runs = [analyse(gpkg, _boundaries(tmp_path), dep, layer=layer, cache=tmp_path / "cache")
            for layer in ("sites", "other")]
    assert [sorted(r.assets["name"]) for r in runs] == [["Old depot", "Old hall"], ["Store", "Yard"]]
