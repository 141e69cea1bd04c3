"""Issue 13, rules 4 and 10: the register's own words decide exclusions and signals; decile wording is exact.

Each category of land that is never flagged is tried over real spellings (Trafford's register and other
councils' published registers) in each kind of column a register puts them in (a use, a holding type, a name,
a description), under the statuses that would otherwise flag it. The surplus signal is read from every
wording a register uses, wherever it stands. Decile text is checked for every decile.
"""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from assets_map.cli import main
from assets_map.engine.priority import prioritise
from assets_map.engine.underuse import apply_exclusions, score_underuse
from assets_map.io.normalise import canonical_frame, match_columns
from assets_map.schema import empty_asset_frame

#: category -> spellings met in published registers (use / holding type / name / description cells).
SPELLINGS = {
    "park": ["Parks, Gardens and open space", "Public Park", "PARKS", "Country Park"],
    "garden": ["Rest Garden", "Community Garden", "Jubilee Gardens"],
    "open space": ["Public Open Space", "Amenity Greenspace", "Open spaces", "Village Green"],
    "playing field": ["Playing Fields", "Playing field", "Sports Pitches"],
    "recreation ground": ["Recreation Ground", "recreation grounds", "Rec Ground"],
    "cemetery": ["Cemetery and Crematoria", "CEMETERIES", "Burial Ground"],
    "crematorium": ["Crematoria", "Altrincham Crematorium", "crematorium (closed)"],
    "churchyard": ["Closed Churchyard", "Churchyards"],
    "memorial": ["War Memorial", "Memorial", "Stretford War Memorial", "Cenotaph"],
    "allotment": ["Managed allotments", "Allotments", "Allotment gardens site"],
    "nature reserve": ["Local Nature Reserve", "Nature reserves"],
    "highway land": ["Highway land", "Grass verge", "Highway Verges", "Verges"],
}
#: The kind of column -> a header registers use for it.
COLUMNS = {"use": "Current Use", "holding type": "HoldingType", "name": "PropertyName", "description": "Description"}
STATUSES = ["Vacant", "Surplus", "Buildings Declared Surplus", "Empty"]


def _frame(rows: list[dict]) -> gpd.GeoDataFrame:
    """Rows of a raw register read the way every register is read (header matching, normalisation)."""
    raw = pd.DataFrame(rows)
    frame = canonical_frame(raw, match_columns(list(raw.columns)), source="test.csv")
    return gpd.GeoDataFrame(frame, geometry=[Point(380000, 395000)] * len(frame), crs="EPSG:27700")


def _row(kind: str, text: str, status: str, holding: str = "Land") -> dict:
    row = {"PropertyName": "Site 1", "Current Use": "Storage", "HoldingType": holding, "Description": "",
           "TenureDetail": status}
    if kind == "holding type":
        row["HoldingType"] = f"{holding} - {text}"
    else:
        row[COLUMNS[kind]] = text
    return row


@pytest.mark.parametrize("category", sorted(SPELLINGS))
def test_each_category_excluded_in_every_column_kind_whatever_the_status(category):
    cases = [(kind, text, status) for kind in COLUMNS for text in SPELLINGS[category] for status in STATUSES]
    out = score_underuse(apply_exclusions(_frame([_row(*c) for c in cases])))
    for (kind, text, status), (_, r) in zip(cases, out.iterrows(), strict=True):
        where = (kind, text, status)
        assert r["excluded"], where
        reason = r["exclusion_reason"]
        assert f"({category})" in reason, (where, reason)
        column = "named" if kind == "name" else ("use" if kind == "use" else f"'{COLUMNS[kind]}' column")
        assert column in reason, (where, reason)
    # Excluded rows are never flagged, whatever their underuse.
    assert (prioritise(out)["priority"] == "not flagged").all()


def test_a_park_lodge_building_stays_scorable_but_a_cemetery_building_does_not():
    rows = [
        # A vacant lodge in a park: a classic transfer, not excluded for its name or description.
        {"PropertyName": "Gorse Hill Park Entrance Lodge", "HoldingType": "Buildings", "TenureDetail": "Vacant",
         "Description": "Former park lodge"},
        {"PropertyName": "Victoria Memorial Hall", "HoldingType": "Buildings", "TenureDetail": "Vacant",
         "Description": ""},
        {"PropertyName": "Park Road Depot", "HoldingType": "Land", "TenureDetail": "Vacant", "Description": ""},
        {"PropertyName": "Field south west of Urmston Cemetery", "HoldingType": "Land", "TenureDetail": "Vacant",
         "Description": ""},
        # What the land was is not what it is; a proposal for a site does not describe the land.
        {"PropertyName": "Former allotments, Moss Lane", "HoldingType": "Land", "TenureDetail": "Vacant",
         "Description": "", "DevelopmentDescription": "30 homes with public open space"},
        # A building whose own name or description says cemetery, crematorium or memorial is excluded.
        {"PropertyName": "Altrincham Crematorium Chapel", "HoldingType": "Buildings", "TenureDetail": "Vacant",
         "Description": ""},
        {"PropertyName": "Lodge 2", "HoldingType": "Buildings", "TenureDetail": "Vacant",
         "Description": "Cemetery lodge and chapel"},
        {"PropertyName": "Shelter", "HoldingType": "Buildings", "TenureDetail": "Surplus",
         "Description": "War memorial shelter"},
    ]
    out = score_underuse(apply_exclusions(_frame(rows)))
    assert out["excluded"].tolist() == [False, False, False, False, False, True, True, True]
    assert (out["underuse_score"].iloc[:5] > 0).all()
    assert "a building named 'Altrincham Crematorium Chapel' (crematorium)" in out["exclusion_reason"].iloc[5]
    assert "'Description' column is 'Cemetery lodge and chapel' (cemetery)" in out["exclusion_reason"].iloc[6]
    assert "(memorial)" in out["exclusion_reason"].iloc[7]


def test_the_trafford_war_memorial_is_not_flagged(trafford, tmp_path, shared):
    out = tmp_path / "trafford.gpkg"
    code = main(["analyse", "--assets", str(trafford["register"]), "--boundaries", str(trafford["lsoa21"]),
                 "--deprivation", str(trafford["imd2025"]), "--postcodes", str(trafford["postcodes"]),
                 "--out", str(out)])
    assert code == 0
    a = gpd.read_file(out, layer="assets")
    memorials = a[a["name"].str.contains("memorial", case=False, na=False)]
    assert "Stretford War Memorial" in set(memorials["name"])
    assert (memorials["priority"] == "not flagged").all(), memorials[["name", "priority"]]
    assert memorials["excluded"].all()
    stretford = memorials[memorials["name"] == "Stretford War Memorial"].iloc[0]
    assert "(memorial)" in stretford["exclusion_reason"]
    burial = a[a["name"].str.contains("cemetery|crematorium", case=False, na=False)
               & ~a["name"].str.contains(" of ", case=False, na=False)]
    assert len(burial) >= 5 and burial["excluded"].all()
    # Nothing flagged is a park, cemetery, memorial or allotment; land beside one ("Field south west of Urmston
    # Cemetery", "adjoining Flixton Station Car Park") may be flagged.
    flagged = a.loc[a["priority"] != "not flagged", "name"].dropna()
    named = flagged[flagged.str.contains(r"\b(?:park|cemetery|crematorium|memorial|allotments?)\b", case=False)]
    beside = named.str.contains(r"\b(?:of|adjoining|car park)\b", case=False)
    assert named[~beside].empty, named.tolist()
    assert len(named[beside]) <= 4, named.tolist()


@pytest.mark.parametrize(("column", "text"), [
    ("HoldingType", "Buildings Declared Surplus"),
    ("HoldingType", "Land - declared surplus"),
    ("Current Use", "Surplus to requirements"),
    ("Current Use", "Office (held for disposal)"),
    ("Description", "Identified for disposal 2024"),
    ("Description", "Former depot, SURPLUS"),
])
def test_surplus_words_anywhere_raise_the_surplus_signal(column, text):
    row = {"PropertyName": "Old depot", "Current Use": "Depot", "HoldingType": "Buildings",
           "TenureDetail": "Owner Occupied", "Description": ""}
    row[column] = text
    out = score_underuse(apply_exclusions(_frame([row])))
    assert out["status"].iloc[0] == "surplus"
    assert any("declared surplus" in r for r in out["underuse_reasons"].iloc[0])


def test_surplus_status_variants_and_what_is_not_surplus():
    rows = [{"PropertyName": f"S{i}", "TenureDetail": s, "Current Use": u, "HoldingType": "Buildings"}
            for i, (s, u) in enumerate([("SURPLUS", "Office"), ("Surplus to Requirements", "Office"),
                                        ("Held for Disposal", "Office"), ("Owner Occupied", "Buildings Declared Surplus"),
                                        ("Sold", "Surplus"), ("Owner Occupied", "Waste disposal site")])]
    status = _frame(rows)["status"].tolist()
    assert status == ["surplus", "surplus", "surplus", "surplus", "sold", "occupied"]


def _placed(deciles: list[int], **extra) -> gpd.GeoDataFrame:
    n = len(deciles)
    base = empty_asset_frame(n)
    base["asset_id"] = [f"A{d}" for d in deciles]
    base["name"] = [f"Site {d}" for d in deciles]
    base["anchor_type"] = "council"
    base["tenure"] = "freehold"
    base["status"] = "vacant"
    base["location_quality"] = "register coordinates"
    base["need_area_code"] = [f"E0100{d:04d}" for d in deciles]
    base["need_area_name"] = [f"Town {d:03d}A" for d in deciles]
    base["imd_decile"] = pd.array(deciles, dtype="Int64")
    base["need_decile"] = pd.array(deciles, dtype="Int64")
    base["iod_year"] = pd.array([2025] * n, dtype="Int64")
    for k, v in extra.items():
        base[k] = v
    a = gpd.GeoDataFrame(base, geometry=[Point(380000 + i, 395000) for i in range(n)], crs="EPSG:27700")
    return score_underuse(apply_exclusions(a))


@pytest.mark.parametrize("weights", [None, {"imd": 1.0, "income": 2.0}])
def test_decile_wording_is_exact_for_every_decile(weights):
    out = prioritise(_placed(list(range(1, 11))), weights=weights)
    for d, reasons, prio in zip(range(1, 11), out["reasons"], out["priority"], strict=True):
        assert prio != "not flagged"
        assert f"IMD decile {d} of 10" in reasons, reasons
        assert f"need decile {d} of 10" in reasons, reasons
        assert "least deprived" not in reasons, reasons
        if d <= 3:
            assert f"among the {d * 10}% most deprived areas in England" in reasons, reasons
        else:
            assert "most deprived" not in reasons, reasons
