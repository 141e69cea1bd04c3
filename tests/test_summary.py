"""Summaries by organisation, need decile and ward; wards from polygons or an LSOA -> ward lookup."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from assets_map.report import InputError
from assets_map.summary import (NO_DECILE, attach_wards, by_area, by_need_decile, by_organisation,
                                read_ward_lookup, read_wards, summarise)
from tests.conftest import shared_file


def codes(s: pd.Series) -> list:
    return [v if isinstance(v, str) else None for v in s]


def sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "asset_id": ["a", "b", "c", "d", "e"],
        "organisation": ["Council", "Council", "NHS", "NHS", None],
        "priority": ["High", "not flagged", "Medium", "High", "Low"],
        "site_area_ha": [1.0, 2.5, np.nan, 0.5, np.nan],
        "floor_area_m2": [100.0, np.nan, 300.0, np.nan, np.nan],
        "need_decile": pd.array([1, 1, 4, pd.NA, 10], dtype="Int64"),
        "need_area_code": ["L1", "L1", "L2", None, "L3"],
        "need_area_name": ["Area one", "Area one", "Area two", None, "Area three"],
    }, geometry=[Point(5, 5), Point(15, 5), Point(25, 5), None, Point(35, 5)], crs="EPSG:27700")


def test_by_organisation_counts_hectares_floor_and_priorities():
    t = by_organisation(sites()).set_index("organisation")
    assert t.loc["Council"].to_dict() == {"sites": 2, "flagged": 1, "High": 1, "Medium": 0, "Low": 0,
                                          "not flagged": 1, "hectares": 3.5, "floor_area_m2": 100.0}
    assert t.loc["NHS", "flagged"] == 2 and t.loc["NHS", "hectares"] == 0.5
    assert t.loc["(not stated)", "Low"] == 1 and np.isnan(t.loc["(not stated)", "hectares"])
    assert t["sites"].sum() == 5
    # Most flagged first.
    assert list(t.index)[0] == "NHS"


def test_by_need_decile_in_decile_order_with_no_data_last():
    t = by_need_decile(sites())
    assert t["need decile"].tolist() == ["1", "4", "10", NO_DECILE]
    assert t.set_index("need decile").loc["1", "sites"] == 2


def test_by_area_falls_back_to_lsoa_and_says_so():
    t, used = by_area(sites())
    assert used == "LSOA"
    assert set(t["LSOA (need area)"]) == {"Area one (L1)", "Area two (L2)", "Area three (L3)", "(not in a need area)"}


def test_wards_from_polygons_and_from_a_lookup_agree():
    s = sites()
    wards = gpd.GeoDataFrame({"ward_code": ["W1", "W2"], "ward_name": ["West", "East"]},
                             geometry=[box(0, 0, 20, 10), box(20, 0, 40, 10)], crs="EPSG:27700")
    by_poly = attach_wards(s, wards=wards)
    assert codes(by_poly["ward_code"]) == ["W1", "W1", "W2", None, "W2"]
    lookup = pd.DataFrame({"lsoa_code": ["L1", "L2", "L3"], "ward_code": ["W1", "W2", "W2"],
                           "ward_name": ["West", "East", "East"]})
    by_lookup = attach_wards(s, lookup=lookup)
    assert codes(by_lookup["ward_code"]) == codes(by_poly["ward_code"])
    t, used = by_area(by_poly)
    assert used == "ward"
    t = t.set_index("ward")
    assert t.loc["West", "sites"] == 2 and t.loc["East", "flagged"] == 2
    assert t.loc["(not placed on the map)", "sites"] == 1
    s2 = by_poly.copy()
    s2.loc[0, "ward_code"] = None  # placed, but in no ward
    t2 = by_area(s2)[0].set_index("ward")
    assert t2.loc["(outside the wards loaded)", "sites"] == 1 and t2.loc["(not placed on the map)", "sites"] == 1
    with pytest.raises(ValueError):
        attach_wards(s)


def test_read_ward_lookup_ons_headers(tmp_path):
    p = tmp_path / "LSOA21_WD24_LAD24.csv"
    p.write_text("LSOA21CD,LSOA21NM,WD24CD,WD24NM,LAD24CD\nE01000001,City 001A,E05000001,Aldgate,E09000001\n"
                 "E01000002,City 001B,E05000002,Bishopsgate,E09000001\n")
    lk = read_ward_lookup(p)
    assert lk.to_dict("list") == {"lsoa_code": ["E01000001", "E01000002"], "ward_code": ["E05000001", "E05000002"],
                                  "ward_name": ["Aldgate", "Bishopsgate"]}
    bad = tmp_path / "other.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputError) as e:
        read_ward_lookup(bad)
    assert "no LSOA code column" in str(e.value) and "no ward code column" in str(e.value)


def test_read_wards_gpkg_and_refuses_a_table(tmp_path):
    g = gpd.GeoDataFrame({"WD23CD": ["E05000001"], "WD23NM": ["North"]}, geometry=[box(0, 0, 100, 100)],
                         crs="EPSG:27700")
    p = tmp_path / "wards.gpkg"
    g.to_file(p, engine="pyogrio")
    w = read_wards(p)
    assert w[["ward_code", "ward_name"]].values.tolist() == [["E05000001", "North"]]
    assert str(w.crs).endswith("27700")
    t = tmp_path / "wards.csv"
    t.write_text("WD23CD,WD23NM\nE05000001,North\n")
    with pytest.raises(InputError, match="must be a map layer"):
        read_wards(t)


def test_trafford_wards_and_the_england_lookup_agree(tmp_path):
    from assets_map.analyse import analyse

    res = analyse(shared_file("trafford", "land_and_building_assets.csv"),
                  shared_file("trafford", "lsoa21_boundaries.geojson"),
                  shared_file("england", "imd2025_lsoa21_scores_ranks_deciles.csv"),
                  postcodes=shared_file("trafford", "postcodes_onspd_feb2025.csv"))
    wards = read_wards(shared_file("trafford", "wards23_boundaries.geojson"))
    assert len(wards) == 21
    by_poly = attach_wards(res.assets, wards=wards)
    lookup = read_ward_lookup(shared_file("england", "lookup_lsoa21_ward24_ltla24.csv"))
    by_lookup = attach_wards(res.assets, lookup=lookup)
    placed = res.assets["need_area_code"].notna().to_numpy()
    assert by_poly["ward_code"][placed].notna().all()
    # Wards are built from LSOAs: the two routes agree for almost every site (2023 vs 2024 wards, edge points).
    same = (by_poly["ward_name"][placed].to_numpy() == by_lookup["ward_name"][placed].to_numpy()).mean()
    assert same > 0.9
    t, used = by_area(by_poly)
    assert used == "ward" and t["sites"].sum() == len(res.assets)


def test_summarise_accepts_a_series_key(demo_result):
    a = demo_result.assets
    t = summarise(a, a["anchor_type"], label="owner type")
    assert t["sites"].sum() == len(a)
    assert t["flagged"].sum() == int(a["priority"].isin(["High", "Medium", "Low"]).sum())
