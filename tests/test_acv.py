"""Assets of Community Value: the statutory clocks, councils' lists in, matches, the national layout out."""
from __future__ import annotations

import csv
import datetime as dt
import io

import geopandas as gpd
import openpyxl
import pytest
import shapely

from assets_map.community.acv import (
    acv_clocks,
    decision_kind,
    match_listings,
    parse_date,
    period_end,
    read_acv_list,
    write_planning_data,
)
from assets_map.io.report import InputError

D = dt.date

# Hand-worked: a period "beginning with" its first day includes it; a month period ends the day before the
# same date later, or on the month's last day when that month has no such date.
#   start         length     last day      how
HAND_WORKED = [
    (D(2024, 1, 1), "8w", D(2024, 2, 25)),    # 1 Jan + 56 days = 26 Feb; the day before
    (D(2024, 2, 10), "8w", D(2024, 4, 5)),    # leap year: 19 days to 29 Feb, 31 in March, 6 Apr; the day before
    (D(2023, 2, 10), "8w", D(2023, 4, 6)),    # not a leap year: one day later than the row above
    (D(2023, 12, 25), "6w", D(2024, 2, 4)),   # across the new year: 25 Dec + 42 days = 5 Feb
    (D(2024, 2, 29), "6w", D(2024, 4, 10)),   # from a leap day: 29 Feb + 42 = 11 Apr
    (D(2023, 8, 31), "6m", D(2024, 2, 29)),   # no 31 Feb: last day of Feb in a leap year
    (D(2022, 8, 31), "6m", D(2023, 2, 28)),   # no 31 Feb: last day of Feb otherwise
    (D(2024, 3, 1), "6m", D(2024, 8, 31)),    # 1 Sep less a day
    (D(2024, 1, 15), "6m", D(2024, 7, 14)),
    (D(2024, 8, 31), "6m", D(2025, 2, 28)),
    (D(2022, 8, 31), "18m", D(2024, 2, 29)),  # 18 months to Feb 2024 (leap): its last day
    (D(2023, 8, 30), "18m", D(2025, 2, 28)),  # no 30 Feb: its last day
    (D(2023, 6, 15), "18m", D(2024, 12, 14)),
    (D(2024, 2, 29), "60m", D(2029, 2, 28)),  # a leap-day listing: five years on there is no 29 Feb
    (D(2020, 1, 1), "60m", D(2024, 12, 31)),
    (D(2019, 3, 31), "60m", D(2024, 3, 30)),
    (D(2023, 12, 31), "6w", D(2024, 2, 10)),  # 31 Dec + 42 = 11 Feb
]


@pytest.mark.parametrize(("start", "length", "end"), HAND_WORKED)
def test_period_end_equals_hand_worked_table(start, length, end):
    n, unit = int(length[:-1]), length[-1]
    got = period_end(start, weeks=n) if unit == "w" else period_end(start, months=n)
    assert got == end


def test_clocks_of_a_listing_notified_for_sale():
    listing = {"nomination-date": "2023-06-20", "decision": "Listed", "decision-date": "31/08/2023",
               "notification-to-sell-date": "2024-02-29", "interested-group": "Friends of the Crown"}
    clocks = {c.key: c for c in acv_clocks(listing, today=D(2024, 3, 11))}
    assert set(clocks) == {"listing-expires", "interim-moratorium", "full-moratorium", "protected-period"}
    assert clocks["listing-expires"].date == D(2028, 8, 30)
    assert clocks["interim-moratorium"].date == D(2024, 4, 10)
    assert clocks["full-moratorium"].date == D(2024, 8, 28)
    assert clocks["protected-period"].date == D(2025, 8, 28)
    assert clocks["interim-moratorium"].state == "30 days left"
    assert "Friends of the Crown has asked" in clocks["interim-moratorium"].to_do
    assert "in writing" in clocks["interim-moratorium"].line()


def test_clocks_of_a_nomination_waiting_and_a_refusal():
    waiting = acv_clocks({"nomination-date": "2024-02-10", "decision": ""}, today=D(2024, 4, 6))
    assert [(c.key, c.date, c.state) for c in waiting] == [("decision-due", D(2024, 4, 5), "passed")]
    assert acv_clocks({"nomination-date": "2024-02-10", "decision": "Not listed", "decision-date": "2024-03-01"}) == []


def test_stated_expiry_that_differs_is_said():
    (c,) = acv_clocks({"decision": "listed", "decision-date": "2020-01-01", "expiry-date": "2025-01-01"})
    assert c.date == D(2024, 12, 31) and "1 January 2025" in c.to_do


@pytest.mark.parametrize(("text", "kind"), [("Listed", "listed"), ("Successful", "listed"), ("Not listed", "not listed"),
                                            ("Unsuccessful", "not listed"), ("Rejected", "not listed"),
                                            ("Removed from list", "removed"), ("", "pending"),
                                            ("Awaiting decision", "pending"), ("listed", "listed")])
def test_decision_words(text, kind):
    assert decision_kind(text) == kind


def test_dates_in_the_ways_councils_write_them():
    assert parse_date("2024-02-29") == D(2024, 2, 29)
    assert parse_date("29/02/2024") == D(2024, 2, 29)
    assert parse_date("1.3.24") == D(2024, 3, 1)
    assert parse_date("12th March 2021") == D(2021, 3, 12)
    assert parse_date("3 Sept 2021") == D(2021, 9, 3)
    with pytest.raises(ValueError):
        parse_date("soon")


# ---------------------------------------------------------------------- the national layout
PLANNING_CSV = (
    "dataset,entity,reference,name,address-text,point,organisation-entity,nomination-date,nominating-group,"
    "decision,decision-date,expiry-date,notification-to-sell-date,interested-group,protected-period-start-date,"
    "notes,entry-date,start-date,end-date\n"
    'asset-of-community-value,17100001,ACV/001,"The Crown, public house","1 High Street, Ashbridge AB1 2CD",'
    "POINT (-1.500000 52.500000),42,2023-06-20,Crown Regulars,listed,2023-08-31,2028-08-30,2024-02-29,"
    "Crown Regulars,2024-02-29,,2023-08-31,2023-08-31,\n"
    "asset-of-community-value,17100002,ACV/002,Mill Lane library,Mill Lane Ashbridge,,42,2024-02-10,"
    "Readers' Circle,,,,,,,\"note, with comma\",2024-02-10,,\n"
)


def _assets():
    pts = gpd.GeoSeries.from_xy([-1.5, -1.5002, -1.52], [52.5, 52.5001, 52.51], crs="EPSG:4326").to_crs(27700)
    return gpd.GeoDataFrame({"asset_id": ["A1", "A2", "A3"], "name": ["Crown PH", "Crown car park", "Mill Lane Library"],
                             "address": ["1 High St, Ashbridge", "High St car park", "Mill Lane, Ashbridge"],
                             "postcode": ["AB1 2CD", None, None], "uprn": [None, "000123", "987"]},
                            geometry=list(pts), crs=27700)


def test_planning_layout_imports_matches_and_exports_back_identically(tmp_path):
    src = tmp_path / "acv.csv"
    src.write_text(PLANNING_CSV, encoding="utf-8")
    acv = read_acv_list(src)
    assert acv.layout == "planning.data.gov.uk" and len(acv.frame) == 2
    first = acv.frame.iloc[0]
    assert first["decision-date"] == D(2023, 8, 31) and first["decision_kind"] == "listed"
    assert first.geometry.distance(_assets().geometry.iloc[0]) < 1
    m = match_listings(acv.frame, _assets()).set_index("reference")
    assert m.loc["ACV/001", "asset_id"] == "A1" and m.loc["ACV/001", "confidence_words"] == "high"
    assert "same postcode" in m.loc["ACV/001", "evidence"]
    assert m.loc["ACV/002", "asset_id"] == "A3"  # by words alone: the list gives no location
    out = tmp_path / "out.csv"
    text = write_planning_data(acv, out)
    assert text == PLANNING_CSV and out.read_text(encoding="utf-8") == PLANNING_CSV


def test_uprn_match_is_certain_and_ambiguity_is_said():
    acv_text = ("reference,name,address-text,uprn,decision,decision-date,point\n"
                "R1,Somewhere else,Nowhere,123,listed,2024-01-01,\n"
                "R2,Crown,High Street,,listed,2024-01-01,POINT (-1.5001 52.50005)\n")
    acv = _read_text(acv_text)
    m = match_listings(acv.frame, _assets()).set_index("reference")
    assert (m.loc["R1", "asset_id"], m.loc["R1", "confidence"], m.loc["R1", "confidence_words"]) == ("A2", 1.0, "certain")
    assert "ambiguous" in m.loc["R2", "evidence"] and m.loc["R2", "confidence_words"] == "low"


def test_listing_far_from_everything_has_no_match():
    acv = _read_text("reference,name,decision,point\nR9,Old Bank,listed,POINT (-2.9 54.1)\n")
    m = match_listings(acv.frame, _assets())
    assert m["asset_id"].iloc[0] is None and m["confidence_words"].iloc[0] == "none"


def _read_text(text: str, name: str = "list.csv"):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / name
        p.write_text(text, encoding="utf-8")
        return read_acv_list(p)


# ---------------------------------------------------------------------- councils' own layouts
def test_council_xlsx_with_title_rows_and_a_notes_sheet(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "About"
    ws.append(["This list is kept under the Localism Act 2011"])
    data = wb.create_sheet("Listed assets")
    data.append(["Ashbridge Council - Register of Assets of Community Value"])
    data.append([])
    data.append(["ACV Ref", "Name of Asset", "Address", "Nominated by", "Date nominated", "Outcome", "Date listed",
                 "Notification of intention to sell", "UPRN", "Easting", "Northing"])
    data.append(["AB-1", "The Crown", "1 High St", "Crown Regulars", dt.datetime(2023, 6, 20), "Successful",
                 "31/08/2023", "29 February 2024", "00123", 431000, 312000])
    data.append(["AB-2", "Bowling green", "Park Road", "Bowlers", "2024-02-10", "Unsuccessful", "2024-03-01", None,
                 None, None, None])
    path = tmp_path / "council.xlsx"
    wb.save(path)
    acv = read_acv_list(path)
    assert acv.layout == "council"
    row = acv.frame.set_index("reference").loc["AB-1"]
    assert (row["nomination-date"], row["decision-date"], row["notification-to-sell-date"]) == (
        D(2023, 6, 20), D(2023, 8, 31), D(2024, 2, 29))
    assert row.geometry.equals(shapely.Point(431000, 312000)) and row["uprn"] == "00123"
    rows = list(csv.DictReader(io.StringIO(write_planning_data(acv))))
    assert rows[0]["decision-date"] == "2023-08-31" and rows[0]["nominating-group"] == "Crown Regulars"
    assert rows[0]["point"].startswith("POINT (") and rows[1]["decision"] == "Unsuccessful"
    again = _read_text(write_planning_data(acv), "again.csv")
    assert again.layout == "planning.data.gov.uk"
    assert again.frame["decision-date"].tolist() == acv.frame["decision-date"].tolist()


def test_bad_dates_refused_naming_rows():
    with pytest.raises(InputError) as e:
        _read_text("Reference,Asset name,Date nominated,Decision\nX1,Hall,31/02/2024,listed\nX2,Barn,soon,\n")
    assert "list.csv" in str(e.value) and "Date nominated is not a date in rows 2 and 3" in str(e.value)


def test_not_an_acv_list_refused_in_one_line():
    with pytest.raises(InputError) as e:
        _read_text("code,value\n1,2\n")
    assert "no column for the asset's name or address" in str(e.value)


def test_formula_cells_written_safe():
    acv = _read_text("reference,name,decision,decision-date,notes\nR1,=HYPERLINK(\"x\"),listed,2024-01-01,@SUM(1)\n")
    rows = list(csv.reader(io.StringIO(write_planning_data(acv))))
    assert rows[1][rows[0].index("name")].startswith("'=")


def test_cli_clocks_and_export(tmp_path, capsys):
    from assets_map.cli import main

    src = tmp_path / "acv.csv"
    src.write_text(PLANNING_CSV, encoding="utf-8")
    assert main(["acv", "clocks", str(src), "--today", "2024-03-11"]) == 0
    out = capsys.readouterr().out
    assert "Interim moratorium ends: 10 April 2024 (30 days left)" in out
    assert "Council's decision due: 5 April 2024" in out
    assert main(["acv", "export", str(src), "--out", str(tmp_path / "back.csv")]) == 0
    assert (tmp_path / "back.csv").read_text(encoding="utf-8") == PLANNING_CSV
    assert main(["acv", "export", str(src), "--out", str(tmp_path / "back.txt")]) == 2


def test_address_words_compared_with_addresses_so_a_house_number_counts():
    assets = gpd.GeoDataFrame({"asset_id": ["D", "F"], "name": ["Council depot", "Church Street playing field"],
                               "address": ["14 Church Street, Ashbridge", "14 Canal Side, Ashbridge"],
                               "postcode": [None, None], "uprn": [None, None]}, geometry=[None, None], crs=27700)
    acv = _read_text("reference,name,address-text,decision\nR1,,\"14 CHURCH STREET, ASHBRIDGE\",listed\n")
    (m,) = match_listings(acv.frame, assets).to_dict("records")
    assert (m["asset_id"], m["confidence_words"]) == ("D", "high") and "ambiguous" not in m["evidence"]


@pytest.mark.parametrize(("newline", "bom", "quote_all"), [("\r\n", False, False), ("\n", True, False),
                                                          ("\r\n", True, True)])
def test_planning_layout_written_back_byte_for_byte_whatever_its_line_endings(tmp_path, newline, bom, quote_all):
    rows = list(csv.reader(io.StringIO(PLANNING_CSV)))
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL).writerows(rows)
    data = (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8")
    src = tmp_path / "acv.csv"
    src.write_bytes(data)
    write_planning_data(read_acv_list(src), tmp_path / "back.csv")
    assert (tmp_path / "back.csv").read_bytes() == data


def test_planning_layout_as_geojson_reads_its_geometry(tmp_path):
    import json

    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-1.5, 52.5]},
               "properties": {"reference": "ACV/001", "name": "The Crown", "address-text": "1 High Street",
                              "decision": "listed", "decision-date": "2023-08-31", "nomination-date": "2023-06-20",
                              "organisation-entity": "42"}}
    src = tmp_path / "acv.geojson"
    src.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8")
    acv = read_acv_list(src)
    row = acv.frame.iloc[0]
    assert row["decision-date"] == D(2023, 8, 31) and row.geometry.distance(_assets().geometry.iloc[0]) < 1
    assert match_listings(acv.frame, _assets())["asset_id"].tolist() == ["A1"]
    back = list(csv.DictReader(io.StringIO(write_planning_data(acv))))
    assert back[0]["geometry"] == "POINT (-1.5 52.5)" and back[0]["reference"] == "ACV/001"
