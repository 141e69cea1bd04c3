"""Issue 13 rule 1: aggregate rows (totals, subtotals, pivot "Result" rows, blank-keyed and
organisation-level rows) are never sites; they are set aside, counted, and reconciled with the sites."""
from __future__ import annotations

import io

import pandas as pd
import pytest

from assets_map.io.importer import import_bytes, import_file

GROUPS = ["", "", "", "", "", "Areas", "", "Function and Space", "", "Quality", ""]
FIELDS = ["Organisation Code", "Organisation Name", "Site Code", "Site Name", "Site Type",
          "Gross internal floor area (m\u00b2)", "Land area owned (Hectares)",
          "Land area not delivering services (Hectares)", "Floor area - empty (%)", "Floor area - under used (%)",
          "Cost to eradicate high risk backlog (\u00a3)"]


def _site(org, code, name, gia, land, idle, empty, under, backlog):
    return [org, f"{org} NHS TRUST", code, name, "7. Community hospital", gia, land, idle, empty, under, backlog]


def _pivot_rows(grand_gia=11500):
    """An ERIC site sheet as a pivot-table export: trust Result rows, a blank-keyed row, a trust-level row, a Grand Total."""
    return [
        GROUPS, FIELDS,
        _site("R1A", "AGGRE", "AGGREGATE SITE", 500, 1, 0, 3, 1, 10),          # record 1 (a real ERIC row: kept)
        _site("R1A", "R1A01", "RESULT HOUSE", 1000, 2, 0.5, 10, 5, 100),       # record 2
        _site("R1A", "R1A02", "TOTALLY WELL CENTRE", 2000, 3, 0, 20, 0, 200),  # record 3
        ["R1A Result", None, None, None, None, 3500, 6, 0.5, 33, 6, 310],      # record 4
        ["R2B", "R2B NHS TRUST", None, None, None, 8000, 9, 1, 45, 7, 900],    # record 5: trust-level
        _site("R2B", "R2B01", "SUBTOTAL HOSPITAL", 5000, 4, 1, 5, 2, 400),     # record 6 (a name, not a subtotal)
        [None, None, None, None, None, 123, 1, 0, 0, 0, 0],                   # record 7: blank-keyed
        _site("R2B", "R2B02", "GRAND VIEW CLINIC", 3000, 5, 0, 0, 5, 500),     # record 8
        ["R2B Result", None, None, None, None, 8000, 9, 1, 5, 7, 900],         # record 9
        ["Grand Total", None, None, None, None, grand_gia, 15, 1.5, 38, 13, 1210],  # record 10
    ]


def _xlsx(rows) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf) as xw:
        pd.DataFrame(rows).to_excel(xw, sheet_name="Site Data", index=False, header=False)
    return buf.getvalue()


def _issue(report, text):
    hits = [i for i in report.issues if text in i.message]
    assert hits, f"no finding containing {text!r}: {[i.text() for i in report.issues]}"
    return hits[0]


def test_eric_pivot_export_aggregate_rows_set_aside_and_counted():
    gdf, report = import_bytes(_xlsx(_pivot_rows()), "eric_pivot.xlsx")
    assert report.adapter.startswith("NHS ERIC site data")
    assert sorted(gdf["source_row"].astype(int)) == [1, 2, 3, 6, 8]
    # no aggregate row is a site, and no real site is lost ("Result House", "Totally Well Centre", "Subtotal Hospital")
    assert set(gdf["name"]) == {"AGGREGATE SITE", "RESULT HOUSE", "TOTALLY WELL CENTRE", "SUBTOTAL HOSPITAL",
                                "GRAND VIEW CLINIC"}
    assert report.set_aside == 5
    found = _issue(report, "set aside 5 aggregate rows")
    assert found.rows == [4, 5, 7, 9, 10]
    assert "3 total" in found.message and "1 blank-keyed" in found.message and "1 organisation-level" in found.message
    assert "  set aside 5 aggregate rows (subtotals/totals: 3 total, 1 organisation-level, 1 blank-keyed); never sites " \
        "(rows 4, 5, 7, 9 and 10)" in report.summary_lines()
    assert "(rows 4, 5, 7, 9 and 10)" in found.text()
    # every row read is a site or set aside: nothing lost, nothing counted twice
    assert len(gdf) + report.rejected + report.set_aside == report.rows_read
    assert not any("accounted for" in i.message for i in report.issues)
    # the floor area is the sites' own, not 3.5x it
    assert gdf["floor_area_m2"].sum() == 11500


def test_eric_pivot_totals_reconcile_when_consistent():
    _, report = import_bytes(_xlsx(_pivot_rows()), "eric_pivot.xlsx")
    ok = _issue(report, "add up to the file's own totals within 0.5%")
    assert "sums checked" in ok.message
    assert not any("do not add up" in i.message for i in report.issues)


def test_eric_pivot_totals_gap_is_reported():
    _, report = import_bytes(_xlsx(_pivot_rows(grand_gia=15000)), "eric_pivot.xlsx")
    gap = _issue(report, "do not add up to the file's own total 'Grand Total'")
    assert gap.kind == "warning" and gap.rows == [10]
    assert "Gross internal floor area (m\u00b2) sums to 11,500 against 15,000 (-23.3%)" in gap.message
    assert not any("within 0.5%" in i.message for i in report.issues)
    # the trust subtotals still agree: only the grand total is named
    assert not any("'R1A Result'" in i.message or "'R2B Result'" in i.message for i in report.issues)


def test_eric_pivot_sum_of_headers_and_libreoffice_total_result():
    rows = _pivot_rows()
    rows[1] = [f"Sum of {f}" if i >= 5 else f for i, f in enumerate(FIELDS)]
    rows[-1][0] = "Total Result"
    gdf, report = import_bytes(_xlsx(rows), "eric_pivot.xlsx")
    assert report.adapter.startswith("NHS ERIC site data")
    assert report.set_aside == 5 and len(gdf) == 5
    assert gdf["floor_area_m2"].sum() == 11500
    _issue(report, "within 0.5%")


REGISTER = (
    "Asset ID,Property Name,Address,Postcode,Easting,Northing,Floor area m2,Site area ha,Tenure\n"
    "A1,Town Hall,1 High St,M1 1AA,383000,398000,1200,0.5,Freehold\n"
    "A2,Totally Well Centre,2 High St,M1 1AB,383100,398100,300,0.2,Freehold\n"
    "A3,Result House,3 High St,M1 1AC,383200,398200,500,0.3,Leasehold\n"
    ",Total,,,,,{total},1.0,\n"
)


def test_register_total_row_set_aside_and_reconciled(tmp_path):
    p = tmp_path / "register.csv"
    p.write_text(REGISTER.format(total=2000))
    gdf, report = import_file(p)
    assert list(gdf["name"]) == ["Town Hall", "Totally Well Centre", "Result House"]
    assert report.set_aside == 1 and _issue(report, "set aside 1 aggregate rows").rows == [4]
    _issue(report, "within 0.5%")
    assert len(gdf) + report.rejected + report.set_aside == report.rows_read


def test_register_total_row_gap_reported(tmp_path):
    p = tmp_path / "register.csv"
    p.write_text(REGISTER.format(total=2100))
    gdf, report = import_file(p)
    assert len(gdf) == 3
    gap = _issue(report, "do not add up to the file's own total 'Total'")
    assert "Floor area m2 sums to 2,000 against 2,100 (-4.8%)" in gap.message and gap.rows == [4]


@pytest.mark.parametrize("label", ["Grand Total", "TOTAL", "Sum of floor area", "Subtotal: depots", "Total Result"])
def test_register_total_labels_in_the_id_column(tmp_path, label):
    p = tmp_path / "register.csv"
    p.write_text(REGISTER.format(total=2000).replace(",Total,,,,,", f"{label},,,,,,"))
    gdf, report = import_file(p)
    assert len(gdf) == 3 and report.set_aside == 1


def test_real_eric_file_has_no_aggregate_rows_and_imports_as_before(shared):
    gdf, report = import_file(shared("nhs", "eric_hefs_site_and_trust_data_13944.xls"))
    assert report.set_aside == 0 and report.rows_read == 1213 and len(gdf) == 1213
    assert gdf["eric_aggregate"].sum() == 172  # the per-trust AGGREGATE SITE rows are data, kept as before
    assert not any(i.kind == "set aside" for i in report.issues)


def test_sites_named_like_totals_stay_sites(tmp_path):
    """Anchored patterns: a site is never set aside for a word in its name, even with no asset id."""
    p = tmp_path / "register.csv"
    p.write_text("Asset ID,Property Name,Easting,Northing,Floor area m2\n"
                 ",Totally Well Centre,383000,398000,100\n"
                 ",Result House,383100,398100,200\n"
                 ",Subtotal Hospital,383200,398200,300\n"
                 ",Test Result,383300,398300,400\n"
                 ",Grand Total Hall,383400,398400,500\n"
                 "B6,Total,383500,398500,600\n")
    gdf, report = import_file(p)
    assert len(gdf) == 6 and report.set_aside == 0


def test_set_aside_count_survives_the_analysis_cache():
    from assets_map.engine.cache import _report_from_dict

    _, report = import_bytes(_xlsx(_pivot_rows()), "eric_pivot.xlsx")
    again = _report_from_dict(report.to_dict())
    assert again.set_aside == 5 and again.summary_lines() == report.summary_lines()


def test_eric_pivot_organisation_written_once_is_carried_to_its_sites():
    rows = _pivot_rows()
    for r in (3, 4, 9):  # the trust's code and name written on its first site only, as a pivot table writes them
        rows[r][0] = rows[r][1] = None
    gdf, report = import_bytes(_xlsx(rows), "eric_pivot.xlsx")
    d = gdf.set_index("source_row")
    assert list(d.loc[[1, 2, 3], "organisation_code"]) == ["R1A"] * 3
    assert list(d.loc[[6, 8], "organisation"]) == ["R2B NHS TRUST"] * 2
    assert _issue(report, "taken from the site above").rows == [2, 3, 8]
    assert report.set_aside == 5 and len(gdf) == 5


def test_register_rows_without_id_or_name_but_with_an_address_stay_sites(tmp_path):
    """An organisation code and an address, no asset id or name: a council's asset, not an organisation-level row."""
    p = tmp_path / "register.csv"
    p.write_text("Organisation Code,Asset ID,Property Name,Address,Postcode,Floor area m2\n"
                 "E08000009,,,1 High St Stretford,M32 0AA,100\n"
                 "E08000009,,,2 High St Stretford,M32 0AB,200\n"
                 "E08000009,,,,,300\n")
    gdf, report = import_file(p)
    assert len(gdf) == 2 and report.set_aside == 1
    assert _issue(report, "set aside 1 aggregate rows").rows == [3] and "organisation-level" in _issue(report, "set aside").message
