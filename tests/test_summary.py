"""Summaries by organisation, need decile and ward; wards from polygons or an LSOA -> ward lookup."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from assets_map.engine.summary import (
    NO_DECILE,
    attach_wards,
    by_area,
    by_need_decile,
    by_organisation,
    read_ward_lookup,
    read_wards,
    summarise,
)
from assets_map.io.report import InputError


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


def test_trafford_wards_and_the_england_lookup_agree(shared, tmp_path):
    from assets_map.engine.pipeline import analyse

    res = analyse(shared("trafford", "land_and_building_assets.csv"),
                  shared("trafford", "lsoa21_boundaries.geojson"),
                  shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv"),
                  postcodes=shared("trafford", "postcodes_onspd_feb2025.csv"))
    wards = read_wards(shared("trafford", "wards23_boundaries.geojson"))
    assert len(wards) == 21
    by_poly = attach_wards(res.assets, wards=wards)
    lookup = read_ward_lookup(shared("england", "lookup_lsoa21_ward24_ltla24.csv"))
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


# ---------------------------------------------------------------- the grouped tables against the row-wise reference
# summarise / by_need_decile / by_area group each distinct value once (factorize + bincount) instead of
# converting every row to text and cross-tabulating. The functions below are the previous row-wise code,
# kept as the reference: the tables must be identical (values, float sums to the last bit, dtypes, order).

def _ref_summarise(assets: pd.DataFrame, by, *, label: str = "group") -> pd.DataFrame:
    from assets_map.schema import PRIORITIES

    key = assets[by] if isinstance(by, str) else by
    key = key.astype(object).where(key.notna(), "(not stated)").astype(str)
    df = pd.DataFrame({
        label: key.to_numpy(),
        "priority": assets["priority"].astype(str).to_numpy() if "priority" in assets else "not flagged",
        "hectares": pd.to_numeric(assets.get("site_area_ha"), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if "site_area_ha" in assets else np.nan,
        "floor_area_m2": pd.to_numeric(assets.get("floor_area_m2"), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if "floor_area_m2" in assets else np.nan,
    })
    g = df.groupby(label, sort=False)
    out = pd.DataFrame({"sites": g.size()})
    counts = pd.crosstab(df[label], df["priority"])
    for p in PRIORITIES:
        out[p] = counts[p].reindex(out.index).fillna(0).astype(int) if p in counts else 0
    out["flagged"] = out[["High", "Medium", "Low"]].sum(axis=1)
    out["hectares"] = g["hectares"].sum(min_count=1).round(2)
    out["floor_area_m2"] = g["floor_area_m2"].sum(min_count=1).round(0)
    out = out.reset_index()[[label, "sites", "flagged", *PRIORITIES, "hectares", "floor_area_m2"]]
    return out.sort_values(["flagged", "sites", label], ascending=[False, False, True], ignore_index=True)


def _ref_by_need_decile(assets: pd.DataFrame) -> pd.DataFrame:
    dec = pd.to_numeric(assets["need_decile"], errors="coerce")
    key = dec.map(lambda v: f"{int(v)}" if pd.notna(v) else NO_DECILE)
    out = _ref_summarise(assets, key, label="need decile")
    order = {str(i): i for i in range(1, 11)} | {NO_DECILE: 11}
    return out.sort_values("need decile", key=lambda s: s.map(order), ignore_index=True)


def _ref_by_area(assets: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    if "ward_code" in assets.columns and assets["ward_code"].notna().any():
        name = assets["ward_name"] if "ward_name" in assets else assets["ward_code"]
        key = name.astype(object).where(name.notna(), assets["ward_code"])
        key = key.where(assets["ward_code"].notna(), "(outside the wards loaded)")
        if isinstance(assets, gpd.GeoDataFrame):
            unplaced = (assets.geometry.isna() | assets.geometry.is_empty).to_numpy()
            key = key.where(~unplaced, "(not placed on the map)")
        return _ref_summarise(assets, key, label="ward"), "ward"
    code, nm = assets["need_area_code"], assets.get("need_area_name", assets["need_area_code"])
    key = pd.Series([f"{n} ({c})" if isinstance(n, str) and n and n != c else c for c, n in zip(code, nm, strict=True)],
                    index=assets.index, dtype=object)
    key = key.where(code.notna(), "(not in a need area)")
    return _ref_summarise(assets, key, label="LSOA (need area)"), "LSOA"


def _same(new: pd.DataFrame, ref: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(new, ref, check_exact=True)
    assert [str(d) for d in new.dtypes] == [str(d) for d in ref.dtypes]


def _random_assets(n: int, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    orgs = np.array(["Council", "NHS Trust", "University", "(not stated)", "Ærø Housing"], dtype=object)
    org = orgs[rng.integers(0, len(orgs), n)]
    org[rng.random(n) < 0.1] = None
    codes = np.array([f"E0100{i:04d}" for i in range(40)], dtype=object)
    names = np.array([f"Area {i % 30}" for i in range(40)], dtype=object)  # some names shared by two codes
    pick = rng.integers(0, 40, n)
    code, name = codes[pick].copy(), names[pick].copy()
    code[rng.random(n) < 0.05] = None
    name[rng.random(n) < 0.05] = None
    name[rng.random(n) < 0.03] = ""
    same = rng.random(n) < 0.03
    name[same] = code[same]  # a name that is the code
    prio = np.array(["High", "Medium", "Low", "not flagged", "High", None], dtype=object)[rng.integers(0, 6, n)]
    area = np.round(rng.gamma(0.5, 3.0, n), 4)
    area[rng.random(n) < 0.3] = np.nan
    floor = np.round(rng.gamma(0.8, 900.0, n), 1)
    floor[rng.random(n) < 0.4] = np.nan
    dec = pd.array(rng.integers(1, 11, n), dtype="Int64")
    dec[rng.random(n) < 0.1] = pd.NA
    geoms = [Point(float(x), float(y)) for x, y in rng.uniform(0, 1000, (n, 2))]
    for i in np.flatnonzero(rng.random(n) < 0.05):
        geoms[i] = None
    return gpd.GeoDataFrame({
        "organisation": org, "priority": pd.array(prio, dtype="str"), "site_area_ha": area, "floor_area_m2": floor,
        "need_decile": dec, "need_area_code": pd.array(code, dtype="str"), "need_area_name": pd.array(name, dtype="str"),
    }, geometry=geoms, crs="EPSG:27700")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grouped_tables_equal_the_row_wise_reference(seed):
    a = _random_assets(3000, seed)
    _same(by_organisation(a), _ref_summarise(a, "organisation", label="organisation"))
    _same(by_need_decile(a), _ref_by_need_decile(a))
    new, used = by_area(a)
    ref, ref_used = _ref_by_area(a)
    assert used == ref_used == "LSOA"
    _same(new, ref)
    # the same rows in another order: groups come in order of first appearance before the sort
    b = a.iloc[::-1]
    _same(by_area(b)[0], _ref_by_area(b)[0])
    # a priority missing or outside the four counts in no priority column, as before
    assert (new[["High", "Medium", "Low", "not flagged"]].sum(axis=1) <= new["sites"]).all()
    assert new["sites"].sum() == len(a)


@pytest.mark.parametrize("key", [
    pd.Series(["b", None, "a", "(not stated)", "b", np.nan], dtype=object),  # missing merges with the literal text
    pd.Series(["b", None, "a", "(not stated)", "b", None], dtype="str"),
    pd.Series(["b", pd.NA, "a", "a", "b", pd.NA], dtype="string"),
    pd.Series(pd.Categorical(["x", None, "y", "x", "z", "y"], categories=["z", "y", "x"])),
    pd.Series([1, 1.0, "1", True, None, 2], dtype=object),  # equal values, different texts: grouped by text
    pd.Series([0.0, -0.0, 1.5, np.nan, 0.0, 2.0]),
    pd.Series(pd.array([3, None, 3, 1, 2, None], dtype="Int64")),
    pd.Series([None] * 6, dtype=object),
    pd.Series([pd.Timestamp("2024-01-01"), pd.NaT, "x", None, "x", "y"], dtype=object),
])
def test_summarise_keys_of_every_kind_equal_the_reference(key):
    a = pd.DataFrame({"priority": ["High", "Low", None, "not flagged", "Medium", "High"],
                      "site_area_ha": [1.0, np.nan, 0.1, 0.2, 0.30000000000000004, 2.0],
                      "floor_area_m2": [np.nan] * 6})
    _same(summarise(a, key, label="k"), _ref_summarise(a, key, label="k"))
    _same(summarise(a.drop(columns=["priority", "site_area_ha"]), key),
          _ref_summarise(a.drop(columns=["priority", "site_area_ha"]), key))


def test_empty_frames_give_empty_tables_like_before():
    e = sites().iloc[:0]
    _same(by_organisation(e), _ref_summarise(e, "organisation", label="organisation"))
    _same(by_need_decile(e), _ref_by_need_decile(e))
    _same(by_area(e)[0], _ref_by_area(e)[0])
    assert list(by_area(e)[0].columns)[:2] == ["LSOA (need area)", "sites"]


def test_need_deciles_as_floats_and_text_equal_the_reference():
    a = sites()
    a["need_decile"] = [1.0, 1.9, np.nan, 4.0, 10.0]  # int() of each: 1.9 counts as decile 1, as before
    _same(by_need_decile(a), _ref_by_need_decile(a))
    a["need_decile"] = pd.Series(["3", "x", None, "3", "10"], dtype=object)
    _same(by_need_decile(a), _ref_by_need_decile(a))
    assert by_need_decile(a)["need decile"].tolist() == ["3", "10", NO_DECILE]


def test_ward_keys_equal_the_reference():
    a = sites()
    a["ward_code"] = pd.Series(["W1", "W1", None, "W2", "W3"], dtype=object)
    a["ward_name"] = pd.Series(["West", "West", "East", None, "(outside the wards loaded)"], dtype=object)
    a.loc[a.index[4], "geometry"] = Point()  # empty geometry: not placed
    new, used = by_area(a)
    assert used == "ward"
    _same(new, _ref_by_area(a)[0])
    assert set(new["ward"]) == {"West", "(outside the wards loaded)", "(not placed on the map)"}
    # a plain table (no geometry), no ward names, and codes that are not text
    plain = pd.DataFrame(a.drop(columns="geometry"))
    _same(by_area(plain)[0], _ref_by_area(plain)[0])
    _same(by_area(plain.drop(columns="ward_name"))[0], _ref_by_area(plain.drop(columns="ward_name"))[0])
    plain["ward_code"] = pd.Series([1, 1.0, None, 2, 3], dtype=object)
    _same(by_area(plain)[0], _ref_by_area(plain)[0])


def test_lsoa_codes_that_are_not_text_equal_the_reference():
    a = sites()
    a["need_area_code"] = pd.Series([1, 1.0, 2, None, "L3"], dtype=object)
    _same(by_area(a)[0], _ref_by_area(a)[0])
    a = sites().drop(columns="need_area_name")
    _same(by_area(a)[0], _ref_by_area(a)[0])


def test_overall_is_the_summary_of_one_group_of_everything():
    from assets_map.engine.summary import overall

    for a in (_random_assets(500, 3), sites(), sites().iloc[:0], pd.DataFrame({"x": [1, 2]})):
        key = pd.Series(["all assets"] * len(a), index=a.index)
        _same(overall(a), _ref_summarise(a, key, label="group"))
    assert overall(sites())[["sites", "flagged", "High"]].iloc[0].tolist() == [5, 4, 2]


@pytest.mark.parametrize("values", [
    pd.Series(["register coordinates", "none", "full postcode", "none", "register coordinates"], dtype="str"),
    pd.Series(["b", None, "a", None, "b"], dtype=object),
    pd.Series(["b", None, "a", np.nan, None, "b"], dtype=object),  # None and NaN stay apart, as in a Counter
    pd.Series(["a", None, "b", None], dtype="str"),
    pd.Series(pd.Categorical(["x", "y", "x"], categories=["y", "x", "z"])),
    ["none", "b", "a", "b"],
    (q for q in ["a", "none", "a"]),
    pd.Series([], dtype="str"),
])
def test_counts_in_order_is_a_counter(values):
    from collections import Counter

    from assets_map.io.report import ImportReport, counts_in_order

    listed = list(values) if not isinstance(values, pd.Series) else values
    got = counts_in_order(listed)
    want = dict(Counter(listed))
    assert got == want and list(got) == list(want)  # same counts, keys in order of first appearance
    if any(not isinstance(k, str) for k in want):
        return  # sorting a missing key against text fails for the report, as it did with the Counter
    assert all(type(n) is int for n in got.values())
    r = ImportReport(source="x")
    r.count_placement(listed)
    assert r.unplaced == want.pop("none", 0) and r.placed_by == dict(sorted(want.items()))


def test_analysis_summary_counts_placements_in_order(demo_result):
    from collections import Counter

    a = demo_result.assets
    s = demo_result.summary()
    want = dict(Counter(a.loc[a["location_quality"] != "none", "location_quality"]))
    assert s["placed_by"] == want and list(s["placed_by"]) == list(want)
    assert all(type(n) is int for n in s["placed_by"].values())
    assert sum(s["placed_by"].values()) + s["unplaced"] == s["rows"] == len(a)
