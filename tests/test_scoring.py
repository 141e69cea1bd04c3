"""Exclusions, underuse evidence and priority, on small frames built here."""
import datetime as dt

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from assets_map.engine.pipeline import score
from assets_map.schema import empty_asset_frame


def assets(rows):
    base = empty_asset_frame(len(rows))
    for i, r in enumerate(rows):
        for k, v in r.items():
            if k != "geometry":
                base.loc[i, k] = v
    base["organisation"] = base["organisation"].fillna("Test Council")
    base["anchor_type"] = base["anchor_type"].fillna("council")
    base["source"] = "test.csv"
    geoms = [r.get("geometry", Point(400000 + i, 300000)) for i, r in enumerate(rows)]
    return gpd.GeoDataFrame(base, geometry=geoms, crs="EPSG:27700")


def test_priority_rules_and_reasons_name_the_need():
    a = assets([
        dict(asset_id="1", name="Old library", status="vacant", tenure="freehold", holding_type="building",
             need_area_code="E01000001", need_area_name="Town 001A", imd_decile=1, need_decile=1, iod_year=2025),
        dict(asset_id="2", name="Depot", status="vacant", holding_type="building", need_decile=5, imd_decile=5,
             need_area_code="E01000002", need_area_name="Town 001B", iod_year=2025),
        dict(asset_id="3", name="Offices", status="occupied", need_decile=1, imd_decile=1,
             need_area_code="E01000001", need_area_name="Town 001A", iod_year=2025),
        dict(asset_id="4", name="Yard", status="vacant", need_decile=9, imd_decile=9,
             need_area_code="E01000003", need_area_name="Town 001C", iod_year=2025),
        dict(asset_id="5", name="Clinic", status="part-vacant", need_decile=2, imd_decile=2,
             need_area_code="E01000004", need_area_name="Town 001D", iod_year=2025),
    ])
    out = score(a).set_index("asset_id")
    assert out.loc["1", "priority"] == "High"
    assert out.loc["2", "priority"] == "Medium"
    assert out.loc["3", "priority"] == "not flagged"
    assert out.loc["4", "priority"] == "Low"
    assert out.loc["5", "priority"] == "Medium"
    r = out.loc["1", "reasons"]
    assert "vacant" in r and "E01000001" in r and "Town 001A" in r and "decile 1" in r and "IoD 2025" in r
    assert "test.csv" in r  # the evidence names its source
    assert "not checked" in out.loc["1", "constraints"]  # never reported as clear


def test_exclusions_come_first():
    a = assets([
        dict(asset_id="p", name="Victoria Park", holding_type="land", status="vacant", need_decile=1, imd_decile=1,
             need_area_code="X", need_area_name="x", iod_year=2025),
        dict(asset_id="a", name="Plot 4", use="Managed allotments", status="vacant", need_decile=1, imd_decile=1,
             need_area_code="X", need_area_name="x", iod_year=2025),
        dict(asset_id="l", name="Victoria Park lodge", holding_type="building", status="vacant", need_decile=1,
             imd_decile=1, need_area_code="X", need_area_name="x", iod_year=2025),
        dict(asset_id="g", name="Field", holding_type="land", status="vacant", need_decile=1, imd_decile=1,
             need_area_code="X", need_area_name="x", iod_year=2025, geometry=Point(500050, 300050)),
    ])
    green = gpd.GeoDataFrame({"site_name": ["Big Green"]}, geometry=[box(500000, 300000, 500100, 300100)], crs="EPSG:27700")
    out = score(a, exclude=[("greenspace", green)]).set_index("asset_id")
    assert out.loc["p", "priority"] == "not flagged" and "park" in out.loc["p", "exclusion_reason"]
    assert out.loc["a", "priority"] == "not flagged" and "allotment" in out.loc["a", "exclusion_reason"]
    assert out.loc["g", "priority"] == "not flagged" and "Big Green" in out.loc["g", "exclusion_reason"]
    # a vacant building in a park is not the park: it stays a candidate
    assert out.loc["l", "priority"] == "High"


def test_signals_are_capped_and_confidence_reported():
    a = assets([dict(asset_id="n", name="Ward block", status="surplus", empty_floor_pct=100.0, underused_floor_pct=100.0,
                     vacant_since=dt.date(2010, 1, 1), need_decile=1, imd_decile=1, need_area_code="X",
                     need_area_name="x", iod_year=2025)])
    out = score(a, as_of=dt.date(2026, 1, 1)).iloc[0]
    assert out["underuse_score"] == 1.0  # 0.6 + 0.4 + 0.2 + 0.2 capped at 1
    assert out["underuse_confidence"] == "high"
    assert "100% of its floor area is reported empty" in out["reasons"]
    assert "[+0.40]" in out["reasons"]  # the empty-floor signal is capped at 0.4


def test_unplaced_with_evidence_is_low_and_says_why():
    a = assets([dict(asset_id="u", name="Somewhere", status="vacant", location_quality="none",
                     location_note="only a postcode district (M31) is given", geometry=None)])
    out = score(a).iloc[0]
    assert out["priority"] == "Low"
    assert "cannot be assessed" in out["reasons"] and "M31" in out["reasons"]


@pytest.mark.parametrize("use,excluded", [("Car park", False), ("Business park", False), ("Park and ride", False),
                                          ("Parks", True), ("Public park", True), ("Playing fields", True)])
def test_car_parks_are_not_parks(use, excluded):
    a = assets([dict(asset_id="c", name="Land off Mill Lane", use=use, holding_type="land", status="vacant",
                     need_decile=1, imd_decile=1, need_area_code="X", need_area_name="x", iod_year=2025)])
    out = score(a).iloc[0]
    assert bool(out["excluded"]) is excluded
    assert (out["priority"] == "not flagged") is excluded


@pytest.mark.parametrize("status", ["sold", "not-available"])
def test_sold_or_not_available_is_never_flagged(status):
    a = assets([dict(asset_id="s", name="Ward block", status=status, empty_floor_pct=80.0, need_decile=1,
                     imd_decile=1, need_area_code="X", need_area_name="x", iod_year=2025)])
    out = score(a).iloc[0]
    assert out["priority"] == "not flagged" and bool(out["excluded"])
    assert "sold" in out["reasons"] or "not available" in out["reasons"]
