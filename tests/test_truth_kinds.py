"""Issue 13, rule 5: a file of the wrong kind is refused, not misread.

Every door that expects a register (``import_file(kind="register")``: the CLI's ``import`` and
``analyse --assets``, the app's register slot) decides each file's kind from its content and
refuses a postcode directory, boundary layer, ward lookup or ERIC trust-level return with "this
looks like X; give it as Y" and exit 2; a layout that matches no register is refused listing the
columns found and those expected. In the app no upload in any slot shows a traceback.
"""
from __future__ import annotations

import csv
import io

import pytest

from assets_map.cli import main
from assets_map.io.importer import import_bytes, import_file
from assets_map.io.report import InputError
from assets_map.io.sources import read_csv_bytes
from assets_map.io.uploads import Upload

#: Each real file given to the register door: the adapter it is read with, or the words of its refusal.
ACCEPTED = {
    "trafford/land_and_building_assets.csv": "register",
    "trafford/brownfield_register_harmonised.csv": "brownfield",
    "brownfield_raw/fylde.csv": "brownfield",
    "brownfield_raw/leicester.csv": "brownfield",
    "brownfield_raw/rochdale.csv": "brownfield",
    "nhs/eric_hefs_site_and_trust_data_13944.xls": "eric",
    # `import` reads deprivation (as need areas); `analyse` and the app refuse it (below)
    "trafford/iod2015_2019_lsoa11_long.csv": "deprivation",
    # named places with locations: a list of buildings or land, read as a register
    "trafford/anchors/libraries.geojson": "register",
    "trafford/parcels/hospital_buildings_osopenmaplocal.geojson": "register",
}
REFUSED = {
    "london/inspire_city_of_london.geojson": ("HM Land Registry's INSPIRE Index Polygons", "--parcels"),
    "trafford/postcodes_onspd_feb2025.csv": ("a postcode directory", "--postcodes"),
    "trafford/lsoa11_boundaries.geojson": ("LSOA boundaries", "--boundaries"),
    "trafford/lsoa21_boundaries.geojson": ("LSOA boundaries", "--boundaries"),
    "trafford/wards23_boundaries.geojson": ("ward boundaries", "'Wards' slot"),
    "trafford/borough_boundary.geojson": ("boundaries of local authority districts", "land and building register"),
    "england/ltla24_boundaries_uk.gpkg": ("boundaries of local authority districts", "land and building register"),
    "england/lsoa21_boundaries_ew.gpkg": ("LSOA boundaries", "--boundaries"),
    "england/lookup_lsoa21_ward24_ltla24.csv": ("an LSOA-to-ward lookup", "'Wards' slot"),
    # planning constraint layers (told by name, list entry or Natural England fields): never sites
    "trafford/constraints/conservation_areas.geojson": ("a planning constraint layer (conservation area)", "--constraints"),
    "trafford/constraints/listed_buildings.geojson": ("a planning constraint layer (listed building)", "--constraints"),
    "trafford/constraints/scheduled_monuments.geojson": ("a planning constraint layer (scheduled monument)",
                                                         "--constraints"),
    "trafford/constraints/local_nature_reserves.geojson": ("a planning constraint layer (local nature reserve)",
                                                           "--constraints"),
    "trafford/constraints/sites_of_special_scientific_interest.geojson": (
        "a planning constraint layer (site of special scientific interest)", "--constraints"),
}


@pytest.mark.parametrize("rel", sorted(ACCEPTED))
def test_real_registers_are_accepted_with_their_adapter(shared, rel):
    frame, _ = import_file(shared(*rel.split("/")))
    assert frame.attrs["adapter"] == ACCEPTED[rel]


@pytest.mark.parametrize("rel", sorted(REFUSED))
def test_real_files_of_other_kinds_are_refused_naming_their_kind(shared, rel):
    looks, give = REFUSED[rel]
    with pytest.raises(InputError) as exc:
        import_file(shared(*rel.split("/")))
    msg = str(exc.value)
    assert f"this looks like {looks}" in msg and give in msg and "\n" not in msg


def test_the_eric_trust_data_sheet_is_refused_as_a_trust_level_return(shared):
    with pytest.raises(InputError, match="this looks like an NHS ERIC trust-level return.*Site Data"):
        import_file(shared("nhs", "eric_hefs_site_and_trust_data_13944.xls"), layer="Trust Data")


# ------------------------------------------------------------------ fixtures in other layouts

TRUST_FIELDS = ["Organisation Code", "Organisation Name", "Commissioning Region", "Organisation Type",
                "Number of sites - General acute hospital (No.)", "Total number of sites (No.)",
                "Estates Development Strategy (Yes/No)", "Gross internal site floor area (m²)",
                "Un-utilised space (%)", "Cost to eradicate high risk backlog (£)"]
SITE_FIELDS = ["Trust Code", "Trust Name", "Site Code", "Site Name", "Site Type", "Gross internal site floor area (m²)",
               "Site land area (Hectare)", "Un-utilised space (%)", "Age profile - pre 1948 (%)",
               "Cost to eradicate high risk backlog (£)"]


def _export(fields: list[str], rows: list[list[str]], delim: str) -> bytes:
    """An NHS Digital style export: a row of group names over the field names, thousands with commas."""
    group = [""] * len(fields)
    group[0], group[4] = "Organisation Profile", "Areas"
    buf = io.StringIO()
    csv.writer(buf, delimiter=delim, lineterminator="\n").writerows([group, fields, *rows])
    return buf.getvalue().encode("utf-8")


def _trust_rows() -> list[list[str]]:
    return [[f"R{i}A", f"TRUST {i} NHS FOUNDATION TRUST", "NORTH OF ENGLAND COMMISSIONING REGION", "ACUTE - SMALL",
             str(i), str(3 * i), "Yes", f"{12000 * 10 ** (i % 3):,}", "3.5", f"{1234567 * i:,}"] for i in range(1, 9)]


def _site_rows() -> list[list[str]]:
    return [["RXA", "TRUST A NHS TRUST", f"RXA0{i}", f"GENERAL HOSPITAL {i}", "General acute hospital",
             f"{9000 * 10 ** (i % 3):,}", "4.2", "1.5", "12.0", f"{123456 * i:,}"] for i in range(1, 9)]


@pytest.mark.parametrize("delim", ["$", ",", ";", "\t", "|", "~"], ids=["dollar", "comma", "semicolon", "tab",
                                                                       "pipe", "tilde"])
def test_any_single_character_delimiter_is_read_as_such(delim):
    data = _export(SITE_FIELDS, _site_rows(), delim)
    table = read_csv_bytes(data, "eric_sites.csv")
    assert list(table.frame.columns) == SITE_FIELDS
    assert table.frame["Gross internal site floor area (m²)"].tolist()[:2] == ["90,000", "900,000"]


def test_a_dollar_delimited_trust_level_return_is_refused_with_exit_2(tmp_path, capsys):
    path = tmp_path / "ERIC-2013-14.csv"
    path.write_bytes(_export(TRUST_FIELDS, _trust_rows(), "$"))
    with pytest.raises(InputError, match="this looks like an NHS ERIC trust-level return"):
        import_file(path)
    assert main(["import", str(path), "--report", str(tmp_path / "r.json")]) == 2
    assert "trust-level return" in capsys.readouterr().err


def test_an_eric_site_file_with_another_years_headers_is_read_as_eric(tmp_path):
    for delim in ("$", ","):
        path = tmp_path / f"eric_sites_{ord(delim)}.csv"
        path.write_bytes(_export(SITE_FIELDS, _site_rows(), delim))
        frame, report = import_file(path)
        assert frame.attrs["adapter"] == "eric", report.adapter
        assert frame["site_code"].tolist() == [f"RXA0{i}" for i in range(1, 9)]
        assert set(frame["anchor_type"]) == {"nhs"}
        # that year's names for the gross internal floor area and the empty share ("Un-utilised space")
        assert frame["floor_area_m2"].tolist()[:3] == [90000.0, 900000.0, 9000.0]
        assert frame["empty_floor_pct"].tolist() == [1.5] * 8


def test_a_register_of_unknown_layout_is_refused_listing_the_columns(tmp_path, capsys):
    path = tmp_path / "budget.csv"
    path.write_text("Month,Budget,Spend,Variance\nApril,1000,900,100\nMay,1000,1100,-100\n")
    with pytest.raises(InputError) as exc:
        import_file(path)
    msg = str(exc.value)
    assert "match no register layout" in msg and "'Month', 'Budget', 'Spend', 'Variance'" in msg
    assert "PropertyName" in msg and "GeoX/GeoY" in msg
    assert main(["import", str(path), "--report", str(tmp_path / "r.json")]) == 2


# ------------------------------------------------------------------ the CLI's doors

def test_analyse_refuses_a_postcode_directory_as_the_register_with_exit_2(shared, tmp_path, capsys):
    code = main(["analyse", "--assets", str(shared("trafford", "postcodes_onspd_feb2025.csv")),
                 "--boundaries", str(shared("trafford", "lsoa11_boundaries.geojson")),
                 "--deprivation", str(shared("trafford", "iod2015_2019_lsoa11_long.csv")),
                 "--out", str(tmp_path / "out.gpkg")])
    err = capsys.readouterr().err
    assert code == 2
    assert "this looks like a postcode directory; give it as --postcodes" in err
    assert not (tmp_path / "out.gpkg").exists()


def test_analyse_refuses_the_deprivation_table_as_the_register_naming_the_door(shared, tmp_path, capsys):
    code = main(["analyse", "--assets", str(shared("trafford", "iod2015_2019_lsoa11_long.csv")),
                 "--boundaries", str(shared("trafford", "lsoa11_boundaries.geojson")),
                 "--out", str(tmp_path / "out.gpkg")])
    assert code == 2
    assert "this looks like an English Indices of Deprivation table" in capsys.readouterr().err


def test_import_refuses_boundaries_with_exit_2(shared, tmp_path, capsys):
    assert main(["import", str(shared("trafford", "wards23_boundaries.geojson")),
                 "--report", str(tmp_path / "r.json")]) == 2
    assert "this looks like ward boundaries" in capsys.readouterr().err


def test_the_upload_door_refuses_alike(shared):
    path = shared("trafford", "postcodes_onspd_feb2025.csv")
    with pytest.raises(InputError, match="postcode directory") as app:
        import_bytes(path.read_bytes(), path.name)
    with pytest.raises(InputError) as cli:
        import_file(path)
    assert str(app.value) == str(cli.value)


# ------------------------------------------------------------------ the app: every kind in every slot

def _data_page() -> None:
    from assets_map.ui import data_page, shared

    shared.frame()
    data_page.render()


APP_FILES = {
    "register": "trafford/land_and_building_assets.csv",
    "boundaries": "trafford/lsoa11_boundaries.geojson",
    "deprivation": "trafford/iod2015_2019_lsoa11_long.csv",
    "postcodes": "trafford/postcodes_onspd_feb2025.csv",
    "wards": "trafford/wards23_boundaries.geojson",
    "eric": "nhs/eric_hefs_site_and_trust_data_13944.xls",
    "lookup": "england/lookup_lsoa21_ward24_ltla24.csv",
}
WRONG = [(slot, what) for slot in ("register", "boundaries", "deprivation", "postcodes", "wards")
         for what in ("deprivation", "postcodes", "boundaries", "wards", "register", "eric")
         if slot != what and not (slot, what) in {("register", "eric"), ("wards", "postcodes")}]


@pytest.mark.parametrize("slot,what", WRONG, ids=[f"{w}-in-{s}" for s, w in WRONG])
def test_a_wrong_file_in_any_slot_gives_a_one_line_error_never_a_traceback(shared, slot, what):
    from streamlit.testing.v1 import AppTest

    from assets_map.ui.data_page import ERROR, STAGED

    staged = {k: APP_FILES[k] for k in ("register", "boundaries", "deprivation")}
    staged[slot] = APP_FILES[what]
    at = AppTest.from_function(_data_page, default_timeout=120)
    at.session_state[STAGED] = {k: Upload(rel.split("/")[-1], shared(*rel.split("/")).read_bytes())
                                for k, rel in staged.items()}
    at.run()
    at.button(key="check_upload").click().run()
    assert not at.exception, at.exception
    err = at.session_state[ERROR]
    assert err and "\n" not in err and "Traceback" not in err and "problem in assets-map" not in err
    # the page says in one line what the file looks like and where it belongs (beside its slot, and in the check)
    shown = [e.value for e in at.error]
    # (the box may add a second paragraph saying that nothing changed)
    assert any("looks like" in v.splitlines()[0] for v in shown), shown
    if slot == "register" and what != "register":
        assert "looks like" in err and "register" in err


def test_an_iod_boundary_layer_is_refused_as_a_register(shared, tmp_path):
    """LSOA polygons carrying IoD columns (as the IoD 2019 shapefile, headers with a year suffix) are need areas."""
    import geopandas as gpd

    layer = gpd.read_file(shared("trafford", "lsoa11_boundaries.geojson")).rename(
        columns={"area_code": "lsoa11cd", "area_name": "lsoa11nm"})
    layer["Rank2019"] = range(1, len(layer) + 1)
    layer["Decile2019"] = [1 + i % 10 for i in range(len(layer))]
    layer["st_areasha"] = 1.0
    path = tmp_path / "iod2019_lsoa.geojson"
    layer.to_file(path, driver="GeoJSON")
    with pytest.raises(InputError, match="this looks like LSOA boundaries carrying the Indices of Deprivation; "
                                         "give it as --boundaries"):
        import_file(path)


# ------------------------------------------------------------------ constraint layers in other layouts

_WKT = "POLYGON ((-2.31 53.45, -2.30 53.45, -2.30 53.46, -2.31 53.46, -2.31 53.45))"


def _rows_csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
    return out.getvalue().encode()


@pytest.mark.parametrize(("name", "data", "looks"), [
    # planning.data.gov.uk bulk CSV: told by its dataset column, whatever the file is called
    ("download.csv", _rows_csv(["dataset", "end-date", "entity", "entry-date", "geometry", "name", "organisation-entity",
                                "point", "reference", "start-date"],
                               [["green-belt", "", str(450000 + i), "2024-01-01", _WKT, f"Belt {i}", "109", "", f"GB{i}",
                                 ""] for i in range(5)]), "green belt"),
    # Historic England's listed buildings under a file name that says nothing: told by its list entry fields
    ("layer_export.csv", _rows_csv(["ListEntry", "Name", "Grade", "Easting", "Northing"],
                                   [[str(1067000 + i), f"Church {i}", "II", "381000", str(394000 + i)]
                                    for i in range(5)]), "listed building"),
    # a flood zone layer told by its name alone (no register fields)
    ("Flood_Zones_3.csv", _rows_csv(["fid", "wkt", "Name"], [[str(i), _WKT, "FZ3"] for i in range(3)]),
     "flood risk zone"),
])
def test_constraint_layers_in_other_layouts_are_refused_as_registers(name, data, looks):
    with pytest.raises(InputError) as exc:
        import_bytes(data, name, kind="register")
    msg = str(exc.value)
    assert f"this looks like a planning constraint layer ({looks})" in msg and "--constraints" in msg, msg


def test_a_register_named_for_a_designation_is_still_a_register():
    """A council's list of its own sites in conservation areas has tenure and addresses: it is a register."""
    data = _rows_csv(["AssetCode", "PropertyName", "StreetName", "PostCode", "TenureType", "GeoX", "GeoY"],
                     [[f"A{i}", f"Hall {i}", "Market Street", "WA14 1PF", "Freehold", "-2.352", "53.388"]
                      for i in range(4)])
    frame, _ = import_bytes(data, "assets_in_conservation_areas.csv", kind="register")
    assert len(frame) == 4 and frame.attrs["adapter"] == "register"
    data = _rows_csv(["Site Name", "Address", "Postcode", "GeoX", "GeoY"],
                     [[f"Hall {i}", "1 Market Street", "WA14 1PF", "-2.352", "53.388"] for i in range(4)])
    frame, _ = import_bytes(data, "green_belt_holdings.csv", kind="register")
    assert len(frame) == 4


def test_analyse_refuses_a_constraint_layer_given_as_the_register(shared, capsys, tmp_path):
    t = shared("trafford", "lsoa21_boundaries.geojson")
    code = main(["analyse", "--assets", str(shared("trafford", "constraints", "conservation_areas.geojson")),
                 "--boundaries", str(t), "--deprivation",
                 str(shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv")), "--out", str(tmp_path / "never.gpkg")])
    assert code != 0
    assert "planning constraint layer" in capsys.readouterr().err
