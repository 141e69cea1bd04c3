"""Hold-out layouts: an empty floor given as an area ("Void area (sq m)", "Vacant Floor Space") beside the floor area.

ERIC gives the empty share as a percentage; other registers give the empty floor as an area. It is read as the
share of the site's floor area it is (both in the same unit first), so the underuse evidence counts it; a figure
with no floor area to measure it against, or larger than the floor, is not used and the report says so.
"""
from __future__ import annotations

import pytest

from assets_map.engine.underuse import apply_exclusions, score_underuse
from assets_map.io.importer import import_bytes

HEADER = "Asset Name,Easting,Northing,Tenure,Occupancy Status,Gross Internal Area (sq ft),{void}\n"
ROWS = ('Hall A,380100,395000,Freehold,Part vacant,"10,000",{a}\n'
        "Hall B,380200,395000,Freehold,Occupied,5000,\n"
        "Hall C,380300,395000,Freehold,Part vacant,,100\n"
        "Hall D,380400,395000,Freehold,Part vacant,1000,\"{d}\"\n")


@pytest.mark.parametrize(("void", "a", "d"), [("Void area (sq m)", "232.26", "500"),
                                              ("Vacant Floor Space", "232.26 sq m", "5,000 sq ft"),
                                              ("Void Floor Area (sq ft)", "2500", "1500")])
def test_an_empty_floor_area_is_read_as_its_share_of_the_floor(void, a, d):
    data = (HEADER.format(void=void) + ROWS.format(a=a, d=d)).encode()
    frame, report = import_bytes(data, "register.csv", kind="register")
    pct = frame.set_index("name")["empty_floor_pct"]
    assert pct["Hall A"] == pytest.approx(25.0, abs=0.01)  # 232.26 m² (2,500 sq ft) of 10,000 sq ft
    assert pct[["Hall B", "Hall C", "Hall D"]].isna().all()
    lines = report.summary_lines()
    assert any("share of the floor area" in line for line in lines)
    assert any("no floor area to measure it against" in line and "row 3" in line for line in lines)
    assert any("larger than the site's floor area" in line and "row 4" in line for line in lines)
    scored = score_underuse(apply_exclusions(frame)).set_index("name")
    reasons = scored.loc["Hall A", "underuse_reasons"]
    assert any("25% of its floor area is reported empty" in str(r) for r in reasons), reasons
