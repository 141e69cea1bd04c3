"""OpenDocument spreadsheets (.ods), as councils publish them: read by the same safe importer as .xlsx.

The fixture is written in a layout the project had not seen: a title and a publication line above the header,
a totals row at the foot, areas with units in the cells, two sheets (the data and a notes sheet: the data's is chosen). It is read by
the CLI's ``import`` and ``analyse`` and through the app's door (``looks_like``, ``slot_problem``,
``import_bytes``); an .ods that is a zip bomb, carries a DTD, or is not an OpenDocument file is refused in one
line, like an .xlsx.
"""
from __future__ import annotations

import io
import zipfile

import geopandas as gpd
import pandas as pd
import pytest

from assets_map.cli import main
from assets_map.io.importer import Upload, import_bytes, import_file
from assets_map.io.report import InputError
from assets_map.io.uploads import looks_like, slot_problem

SITES = [
    # name, easting, northing, tenure, category, status, area
    ("Old Library", 379200, 396100, "Freehold", "Community Buildings", "Vacant", "1,250 sq m"),
    ("Depot Yard", 380400, 395300, "Freehold", "Operational Land", "Surplus to requirements", "0.8 ha"),
    ("Northern Cemetery", 378900, 394800, "Freehold", "Cemeteries & Crematoria", "Vacant land", "4 acres"),
    ("Hall Lane Allotments", 381000, 397000, "Freehold", "Allotments", "Vacant", "2 acres"),
    ("Market House", 380100, 396000, "Leasehold", "Offices", "Occupied", "3,000 sq ft"),
]


def _ods_bytes() -> bytes:
    rows = [["Anytown Borough Council", *[""] * 6], ["Land and property assets, published 31 March", *[""] * 6], [""] * 7,
            ["Asset Name", "Easting", "Northing", "Freehold/Leasehold", "Asset Category", "Status", "GIA"],
            *[list(s) for s in SITES],
            ["Total", "", "", "", "", "", ""]]
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="odf") as xw:
        pd.DataFrame(rows).to_excel(xw, sheet_name="Assets", header=False, index=False)
        pd.DataFrame({"Notes": ["Areas are approximate"]}).to_excel(xw, sheet_name="Notes", index=False)
    return buf.getvalue()


@pytest.fixture
def ods(tmp_path):
    path = tmp_path / "anytown_assets.ods"
    path.write_bytes(_ods_bytes())
    return path


def test_an_ods_register_is_read_with_its_header_found_and_the_total_set_aside(ods):
    # The notes sheet holds no table: the register's sheet is read without --layer, and said so.
    out, report = import_file(ods)
    assert any("sheet 'Assets' was read" in line for line in report.summary_lines())
    out, report = import_file(ods, layer="Assets")
    assert out["name"].tolist() == [s[0] for s in SITES]
    assert out["floor_area_m2"].round(1).tolist() == [1250.0, 8000.0, 16187.4, 8093.7, 278.7]
    assert out["tenure"].tolist() == ["freehold"] * 4 + ["leasehold"]
    assert out.geometry.notna().all()
    assert any("set aside 1 aggregate" in line for line in report.summary_lines()), report.summary_lines()


def test_the_app_door_reads_an_ods_as_the_cli_does(ods):
    one = _ods_bytes()
    sheet = io.BytesIO()
    with pd.ExcelWriter(sheet, engine="odf") as xw:  # the app takes one-sheet workbooks
        pd.read_excel(io.BytesIO(one), sheet_name="Assets", header=None, engine="odf").to_excel(
            xw, sheet_name="Assets", header=False, index=False)
    up = Upload("anytown_assets.ods", sheet.getvalue())
    assert looks_like(up).slot == "register"
    assert slot_problem("register", up) is None
    app, _ = import_bytes(up.data, up.name)
    cli, _ = import_file(ods, layer="Assets")
    assert app["name"].tolist() == cli["name"].tolist()
    assert app["floor_area_m2"].tolist() == cli["floor_area_m2"].tolist()
    problem = slot_problem("boundaries", up)
    assert problem and problem.startswith("anytown_assets.ods") and "\n" not in problem


def test_analyse_takes_an_ods_and_flags_no_cemetery_or_allotment(ods, tmp_path, shared, trafford):
    out = tmp_path / "out.gpkg"
    code = main(["analyse", "--assets", str(ods), "--layer", "Assets", "--boundaries", str(trafford["lsoa21"]),
                 "--deprivation", str(trafford["imd2025"]), "--out", str(out)])
    assert code == 0
    a = gpd.read_file(out, layer="assets").set_index("name")
    assert a.loc["Northern Cemetery", "excluded"] and a.loc["Hall Lane Allotments", "excluded"]
    assert a.loc["Northern Cemetery", "priority"] == "not flagged"
    assert a.loc["Old Library", "status"] == "vacant" and a.loc["Depot Yard", "status"] == "surplus"


def _zip(members: dict[str, bytes], stored_mimetype: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED)
    return buf.getvalue()


MIME = b"application/vnd.oasis.opendocument.spreadsheet"


@pytest.mark.parametrize(("members", "message"), [
    ({"mimetype": MIME, "content.xml": b"<a>" + b" " * 300_000_000 + b"</a>"}, "zip bomb"),
    ({"mimetype": MIME, "content.xml": b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'}, "DTD|entit"),
    ({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}, "not an OpenDocument spreadsheet"),
])
def test_a_dangerous_or_false_ods_is_refused_in_one_line(tmp_path, members, message):
    path = tmp_path / "register.ods"
    path.write_bytes(_zip(members))
    for door in (lambda: import_file(path), lambda: import_bytes(path.read_bytes(), "register.ods")):
        with pytest.raises(InputError, match=message) as err:
            door()
        assert "\n" not in str(err.value) and "register.ods" in str(err.value)
    code = main(["import", str(path)])
    assert code == 2


def test_a_category_merged_down_in_an_ods_is_kept_by_each_site(tmp_path):
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import CoveredTableCell, Table, TableCell, TableRow
    from odf.text import P

    doc, table = OpenDocumentSpreadsheet(), Table(name="Assets")

    def row(values, span=None):
        r = TableRow()
        for i, v in enumerate(values):
            if v is None:
                r.addElement(CoveredTableCell())
                continue
            cell = TableCell(valuetype="string", **({"numberrowsspanned": span} if span and i == 0 else {}))
            cell.addElement(P(text=str(v)))
            r.addElement(cell)
        table.addElement(r)

    row(["Asset Category", "Asset Name", "Easting", "Northing", "Tenure", "Status"])
    row(["Cemeteries & Crematoria", "North Lodge", "380100", "395000", "Freehold", "Vacant"], span=3)
    row([None, "Chapel of Rest", "380200", "395000", "Freehold", "Vacant"])
    row([None, "Gate House", "380300", "395000", "Freehold", "Vacant"])
    row(["Offices", "Annexe", "380400", "395000", "Freehold", "Vacant"])
    doc.spreadsheet.addElement(table)
    path = tmp_path / "merged.ods"
    doc.save(str(path))
    out, report = import_file(path)
    assert out["use"].tolist() == ["Cemeteries & Crematoria"] * 3 + ["Offices"]
    app, _ = import_bytes(path.read_bytes(), "merged.ods")
    assert app["use"].tolist() == out["use"].tolist()


def test_the_app_takes_an_ods_register_in_its_register_slot():
    from assets_map.ui.data_page import TYPES
    from tests.helpers import app_page, demo_boundaries_geojson, register_csv, stage_and_check

    assert "ods" in TYPES["register"] and "ods" in TYPES["deprivation"]
    frame = pd.read_csv(io.BytesIO(register_csv()))
    title = pd.DataFrame([["Test Borough Council"] + [None] * (frame.shape[1] - 1), [None] * frame.shape[1],
                          list(frame.columns)])
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="odf") as xw:
        pd.concat([title, pd.DataFrame(frame.to_numpy())]).to_excel(xw, header=False, index=False)
    at = app_page("data_page").run()
    stage_and_check(at, {"register": Upload("register.ods", buf.getvalue()),
                         "boundaries": Upload("areas.geojson", demo_boundaries_geojson())})
    assert not at.error, [e.value for e in at.error]
    assert any(m.label == "rows read" and m.value == "5" for m in at.metric)
