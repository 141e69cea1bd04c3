"""Hold-out layouts: Trafford's register reshaped as other councils publish theirs gives the same answers.

The district layout (tests/helpers.district_layout) has title lines, a units line under the header, the
holding type folded into "Property Type", areas with units and a total at the foot. Read and analysed, it must
give the sites of the original register, no more (no phantom site from the units line or the total), with the
same flags: a building named for the park it stands in is not excluded because the holding came from the
property type. Status words other councils use are read for what they say.
"""
from __future__ import annotations

import pandas as pd
import pytest

from assets_map.engine.pipeline import analyse
from assets_map.io.importer import import_file
from assets_map.io.normalise import normalise_status
from tests.helpers import district_layout


@pytest.fixture(scope="module")
def district(trafford, tmp_path_factory):
    return district_layout(trafford["register"], tmp_path_factory.mktemp("holdout") / "district.csv")


def test_the_units_line_and_the_total_are_never_sites(district, trafford):
    out, report = import_file(district)
    original, _ = import_file(trafford["register"])
    assert len(out) == len(original) == 608
    assert out["name"].tolist() == original["name"].tolist()
    assert report.set_aside == 2
    lines = " ".join(report.summary_lines())
    assert "describing the columns" in lines and "(text)" in lines
    assert out["floor_area_m2"].sum() == pytest.approx(original["floor_area_m2"].sum(), rel=1e-3)


def test_a_property_type_of_land_or_buildings_gives_the_holding(district, trafford):
    out, _ = import_file(district)
    original, _ = import_file(trafford["register"])
    both = out["src_Property Type"].isin(["Buildings", "Land", "Land/Buildings"]).to_numpy()
    assert both.sum() > 100
    assert out.loc[both, "holding_type"].tolist() == original.loc[both, "holding_type"].tolist()


def test_the_district_layout_is_flagged_as_the_original(district, trafford):
    kw = {"postcodes": trafford["postcodes"]}
    a = analyse(district, trafford["lsoa21"], trafford["imd2025"], **kw).assets
    b = analyse(trafford["register"], trafford["lsoa21"], trafford["imd2025"], **kw).assets
    flagged = lambda f: dict(zip(f["name"], f["priority"], strict=True))  # noqa: E731
    assert flagged(a) == flagged(b)
    assert a["excluded"].sum() == b["excluded"].sum()


@pytest.mark.parametrize(("text", "status"), [
    ("Not in use", "vacant"), ("Operational - not in use", "vacant"), ("Out of use", "vacant"), ("Unused", "vacant"),
    ("Investment", "leased-out"), ("Investment property", "leased-out"), ("Let", "leased-out"),
    ("Community use", "occupied"), ("In occupation", "occupied"), ("No longer required", "surplus"),
    ("Toilets", "unknown"), ("Outlet", "unknown"), ("Available to let", "vacant"), ("Unlet", "vacant"),
    ("Not let", "vacant"), ("To let", "vacant"), ("Let - part vacant", "part-vacant"),
    ("Licensed to Scouts", "leased-out"), ("Under licence", "leased-out"),
    ("Transferred to community group", "not-available"),
])
def test_status_words_of_other_registers(text, status):
    assert normalise_status(text) == status


@pytest.mark.parametrize("headers", [
    # bilingual (English / Welsh), Welsh only, glosses in brackets
    {"name": "Asset Name / Enw'r Ased", "address": "Address / Cyfeiriad", "postcode": "Postcode / Cod Post",
     "x": "Easting / Dwyreiniad", "y": "Northing / Gogleddiad", "tenure": "Tenure / Daliadaeth",
     "status_text": "Status / Statws"},
    {"name": "Enw'r Ased", "address": "Cyfeiriad", "postcode": "Cod Post", "x": "Dwyreiniad", "y": "Gogleddiad",
     "tenure": "Daliadaeth", "status_text": "Statws"},
    {"name": "Name of Property", "address": "Site Address", "postcode": "Post code", "x": "X (Easting)",
     "y": "Y (Northing)", "tenure": "Tenure Status", "status_text": "Asset Status"},
])
def test_bilingual_and_glossed_headers_are_matched(tmp_path, headers):
    from assets_map.io.normalise import match_columns

    assert match_columns(list(headers.values())) == headers
    frame = pd.DataFrame({headers["name"]: ["Old Library"], headers["address"]: ["1 High Street"],
                          headers["postcode"]: ["M32 0TH"], headers["x"]: [380000], headers["y"]: [395000],
                          headers["tenure"]: ["Freehold"], headers["status_text"]: ["Vacant"]})
    path = tmp_path / "welsh.csv"
    frame.to_csv(path, index=False)
    out, _ = import_file(path)
    assert out[["name", "tenure", "status"]].iloc[0].tolist() == ["Old Library", "freehold", "vacant"]
    assert out.geometry.iloc[0].x == 380000


def test_a_header_naming_two_columns_is_not_read_as_either():
    from assets_map.io.normalise import match_columns

    assert "x" not in match_columns(["Easting / Northing", "Name"])


def test_the_owner_named_only_in_the_title_is_every_site_s_owner(district, trafford):
    out, report = import_file(district)
    assert set(out["organisation"]) == {"Anytown District Council"}
    assert set(out["anchor_type"]) == {"council"}
    assert any("title line" in line for line in report.summary_lines())
    a = analyse(district, trafford["lsoa21"], trafford["imd2025"], postcodes=trafford["postcodes"]).assets
    high = a[a["priority"] == "High"]
    assert len(high) and high["reasons"].str.contains("the council's community asset transfer policy").all()


@pytest.mark.parametrize(("line", "owner"), [
    ("Land and property held by Northshire County Council, March 2024", "Northshire County Council"),
    ("London Borough of Hackney property list", "London Borough of Hackney"),
    ("Manchester University NHS Foundation Trust - Estates", "Manchester University NHS Foundation Trust"),
    ("University of Salford estate", "University of Salford"),
    ("Land and Property Assets Register (Local Government Transparency Code)", None),
    ("Register of assets 2024", None),
])
def test_owners_named_in_title_lines(line, owner):
    from assets_map.io.titles import owner_in

    assert owner_in(line) == owner


@pytest.mark.parametrize(("tenure", "holding", "want"), [
    ("FH", "L", ("freehold", "land")), ("F/H", "B", ("freehold", "building")), ("LH", "L&B", ("leasehold", "both")),
    ("L/H", "L/B", ("leasehold", "both")), ("F", "LB", ("freehold", "both")), ("L", "B", ("leasehold", "building")),
])
def test_tenure_and_holding_codes(tenure, holding, want):
    from assets_map.io.normalise import normalise_holding, normalise_tenure

    assert (normalise_tenure(tenure), normalise_holding(holding)) == want


def test_an_nhs_property_list_reads_floor_areas_and_void_shares(tmp_path):
    """An NHS Property Services-style list: total floor area with its unit in the header, void percentage."""
    frame = pd.DataFrame({"Property Name": ["Health Centre", "Clinic"], "Postcode": ["M32 0TH", "M33 7ZZ"],
                          "Tenure": ["Freehold", "Leasehold"], "Total Floor Area (sq ft)": ["10,764", "5,382"],
                          "Void Percentage": ["25%", "0%"], "Easting": [380000, 380500], "Northing": [395000] * 2})
    path = tmp_path / "nhsps.csv"
    frame.to_csv(path, index=False)
    out, _ = import_file(path)
    assert out["floor_area_m2"].tolist() == pytest.approx([1000.0, 500.0], rel=1e-3)
    assert out["empty_floor_pct"].tolist() == [25.0, 0.0]


@pytest.mark.parametrize("pair", [("X Coord", "Y Coord"), ("X_COORD", "Y_COORD"), ("Grid Ref Easting", "Grid Ref Northing"),
                                  ("OS Easting", "OS Northing"), ("GridX", "GridY"), ("Map X", "Map Y"),
                                  ("Location X", "Location Y"), ("Site Easting", "Site Northing"), ("East", "North")])
def test_qualified_coordinate_headers_place_the_sites(tmp_path, pair):
    path = tmp_path / "coords.csv"
    pd.DataFrame({"Asset Name": ["Old Library"], pair[0]: [380000], pair[1]: [395000]}).to_csv(path, index=False)
    out, _ = import_file(path)
    assert (out.geometry.iloc[0].x, out.geometry.iloc[0].y) == (380000, 395000)


def test_words_that_only_begin_like_a_coordinate_are_not_one():
    from assets_map.io.normalise import match_columns

    m = match_columns(["Name", "Northern Area", "Eastern Region", "oseast1m", "osnrth1m"])
    assert "x" not in m and "y" not in m


def test_numbered_address_lines_and_a_terrier_reference_are_read(district):
    out, _ = import_file(district)
    town_hall = out[out["name"] == "Altrincham Town Hall"].iloc[0]
    assert town_hall["address"] == "Market Street, Altrincham"
    from assets_map.io.normalise import match_columns

    assert match_columns(["Terrier Ref", "Description", "Addr1"])["asset_id"] == "Terrier Ref"


def test_a_university_estate_list_is_read(tmp_path):
    frame = pd.DataFrame({"Building": ["Library", "Chemistry"], "Building Code": ["B01", "B02"],
                          "Campus": ["Main", "Main"], "Postcode": ["M5 4WT", "M5 4WT"], "GIA (m²)": ["12,000", "8,500"],
                          "Function": ["Library", "Teaching"], "Easting": [380000, 380100], "Northing": [398000] * 2})
    path = tmp_path / "estate.csv"
    frame.to_csv(path, index=False, encoding="utf-8")
    out, _ = import_file(path)
    assert out["name"].tolist() == ["Library", "Chemistry"]
    assert out["asset_id"].tolist() == ["B01", "B02"]
    assert out["floor_area_m2"].tolist() == [12000.0, 8500.0]


def test_the_app_door_reads_the_district_layout_as_the_cli_does(district):
    from assets_map.io.importer import Upload, import_bytes
    from assets_map.io.uploads import looks_like, slot_problem

    up = Upload("district.csv", district.read_bytes())
    assert looks_like(up).slot == "register" and slot_problem("register", up) is None
    app, app_report = import_bytes(up.data, up.name)
    cli, cli_report = import_file(district)
    assert app["name"].tolist() == cli["name"].tolist()
    assert app["organisation"].tolist() == cli["organisation"].tolist()
    assert app["floor_area_m2"].fillna(-1).tolist() == cli["floor_area_m2"].fillna(-1).tolist()
    assert app_report.set_aside == cli_report.set_aside == 2


def test_a_record_is_never_taken_for_a_units_line(tmp_path):
    """A lone code that reads like a unit ("M", "ha") is a record, and so is a feature with a shape."""
    for rows in ([["M"]], [["M"], ["B"]], [["ha", None], ["Site 2", "x"]]):
        path = tmp_path / "codes.csv"
        pd.DataFrame(rows, columns=["AssetCode", "Name"][: len(rows[0])]).to_csv(path, index=False)
        out, report = import_file(path)
        assert len(out) == len(rows) and report.set_aside == 0, rows
