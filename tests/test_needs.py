"""The need model: deprivation in official, renamed and long shapes, joined to boundaries."""
import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from assets_map.engine.needs import (
    build_needs,
    composite_need,
    deprivation_from_frame,
    parse_weights,
    read_boundaries,
    read_deprivation,
)
from assets_map.io.report import InputError

OFFICIAL = {
    "LSOA code (2021)": ["E01000001", "E01000002", "E01035000"],
    "LSOA name (2021)": ["City of London 001A", "City of London 001B", "New 001A"],
    "Index of Multiple Deprivation (IMD) Score": ["8.742", "4.722", "40.1"],
    "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)": ["26525", "31203", "100"],
    "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)": ["8", "10", "1"],
    "Income Score (rate)": ["0.013", "0.018", "0.4"],
    "Income Rank (where 1 is most deprived)": ["33730", "33669", "50"],
    "Income Decile (where 1 is most deprived 10% of LSOAs)": ["10", "10", "1"],
    "Income Deprivation Affecting Children Index (IDACI) Score (rate)": ["0.01", "0.02", "0.5"],
}


def test_official_long_headers():
    dep = deprivation_from_frame(pd.DataFrame(OFFICIAL), name="File_1_IoD2025.csv")
    t = dep.table
    assert dep.year == 2025 and dep.lsoa_vintage == 2021
    assert t.loc["E01000001", "imd_score"] == pytest.approx(8.742)
    assert t.loc["E01000002", "imd_decile"] == 10
    assert t.loc["E01035000", "income_rank"] == 50
    # IDACI is its own domain, not income
    assert t.loc["E01035000", "idaci_score"] == pytest.approx(0.5)
    assert t.loc["E01035000", "income_score"] == pytest.approx(0.4)


def test_renamed_headers():
    df = pd.DataFrame({"lsoa21_code": ["A", "B"], "IMD_decile": [1, 10], "IMD_rank": [10, 33000],
                       "Income_score": [0.5, 0.01], "Health_decile": [2, 9]})
    dep = deprivation_from_frame(df, name="deprivation.csv")
    assert dep.year == 2025
    assert list(dep.table.columns) == ["imd_decile", "imd_rank", "income_score", "health_decile"]


def test_long_tidy_file_picks_latest_year():
    rows = []
    for year, dec in ((2015, 3), (2019, 4)):
        for dom, d in (("Index of Multiple Deprivation (IMD)", dec), ("Income", 2), ("Crime", 7)):
            rows.append({"lsoa11cd": "E01006074", "index_domain": dom, "decile": d, "rank": 1000 * d, "score": 1.5, "year": year})
    dep = deprivation_from_frame(pd.DataFrame(rows), name="iod_long.csv")
    assert dep.year == 2019 and dep.lsoa_vintage == 2011
    assert dep.table.loc["E01006074", "imd_decile"] == 4
    assert dep.table.loc["E01006074", "crime_decile"] == 7
    dep15 = deprivation_from_frame(pd.DataFrame(rows), name="iod_long.csv", year=2015)
    assert dep15.table.loc["E01006074", "imd_decile"] == 3


def test_refusals_are_clear():
    with pytest.raises(InputError, match="no LSOA code column"):
        deprivation_from_frame(pd.DataFrame({"x": [1]}), name="d.csv")
    with pytest.raises(InputError, match="no Index of Multiple Deprivation"):
        deprivation_from_frame(pd.DataFrame({"lsoa21cd": ["a"], "Income_score": [1]}), name="d.csv")
    with pytest.raises(InputError, match="more than once"):
        deprivation_from_frame(pd.DataFrame({"lsoa21cd": ["a", "a"], "IMD_decile": [1, 2]}), name="d.csv")


def test_weights_parse_and_validate():
    assert parse_weights(None) == {"imd": 1.0}
    assert parse_weights("income=2, health=1") == {"income": 2.0, "health": 1.0}
    with pytest.raises(InputError) as e:
        parse_weights("income=x,bogus=1")
    assert len(e.value.problems) == 2


def test_composite_need_default_equals_imd_decile_and_custom_weights_rank():
    t = pd.DataFrame({"imd_rank": [1.0, 33755.0], "imd_decile": [1, 10], "income_rank": [33755.0, 1.0]})
    score, decile = composite_need(t, {"imd": 1}, 2025)
    assert list(decile) == [1, 10] and score.iloc[0] == pytest.approx(100.0)
    score, decile = composite_need(t, {"income": 1}, 2025)
    assert list(decile) == [10, 1]
    score, _ = composite_need(t, {"imd": 1, "income": 1}, 2025)
    assert score.iloc[0] == pytest.approx(50.0, abs=0.01)


def _grid(codes, crs="EPSG:27700"):
    return gpd.GeoDataFrame({"lsoa21cd": codes, "lsoa21nm": [f"n{c}" for c in codes]},
                            geometry=[box(400000 + i * 100, 300000, 400100 + i * 100, 300100) for i in range(len(codes))], crs=crs)


def test_boundaries_carrying_deprivation_need_no_file(tmp_path):
    g = _grid(["E01035001", "E01035002"])
    g["IMD_decile"] = [2, 9]
    g["IMD_rank"] = [5000, 31000]
    p = tmp_path / "lsoa21_with_imd.gpkg"
    g.to_file(p)
    b = read_boundaries(p)
    needs, warnings = build_needs(b, None, boundaries_name=p.name)
    assert list(needs["need_decile"]) == [2, 9] and warnings == []
    assert needs.crs.to_epsg() == 27700


def test_vintage_mismatch_is_a_clear_error(trafford):
    b = read_boundaries(trafford["lsoa21"])
    dep = read_deprivation(trafford["iod_long"])
    with pytest.raises(InputError, match="LSOA 2021 areas but .* IoD 2019, published on LSOA 2011"):
        build_needs(b, dep)


def test_trafford_2019_on_lsoa11_and_2025_on_lsoa21(trafford):
    n19, w19 = build_needs(read_boundaries(trafford["lsoa11"]), read_deprivation(trafford["iod_long"]))
    assert len(n19) == 138 and n19["imd_decile"].notna().all() and w19 == []
    assert set(n19["iod_year"]) == {2019}
    n25, w25 = build_needs(read_boundaries(trafford["lsoa21"]), read_deprivation(trafford["imd2025"]))
    assert len(n25) == 139 and n25["imd_decile"].notna().all()
    assert (n25["need_decile"] == n25["imd_decile"]).all()
    # the official file is the authority: spot-check one LSOA against the CSV directly
    raw = pd.read_csv(trafford["imd2025"], dtype=str).set_index("lsoa21_code")
    code = n25["code"].iloc[0]
    assert n25["imd_decile"].iloc[0] == float(raw.loc[code, "IMD_decile"])
