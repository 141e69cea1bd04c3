"""The Excel workbook for estates teams (issue 15, item 3), read back with openpyxl and GDAL's ogrinfo.

One typed sheet per layer: UPRNs, asset codes and postcodes as text (zeros kept), areas and scores
as numbers, dates as dates; header frozen, filters on, widths that fit, reasons wrapped; a data
dictionary sheet and a provenance sheet; formula-like text made safe and never a formula.
"""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import warnings

import pandas as pd
import pytest

from assets_map.cli import main
from assets_map.io.export import ExportWarning, export_bytes, export_file, result_layers
from assets_map.io.provenance import provenance, sha256_of

openpyxl = pytest.importorskip("openpyxl")

FORMULA = '=HYPERLINK("http://example.invalid","click")'


@pytest.fixture(scope="module")
def workbook(trafford_result, trafford, tmp_path_factory):
    layers = result_layers(trafford_result)
    a = layers["assets"].copy()
    a.loc[a.index[0], "use"] = FORMULA
    a.loc[a.index[1], "name"] = "bell\x07 end"
    a.loc[a.index[2], "uprn"] = "010000480247"  # zero-padded, as 257 of Cheltenham's 459 UPRNs are
    a["big_number"] = pd.array([10 ** 17 + 3] + [None] * (len(a) - 1), dtype="Int64")
    layers["assets"] = a
    rec = provenance(trafford_result, inputs={"assets": trafford["register"], "boundaries": trafford["lsoa21"]})
    path = tmp_path_factory.mktemp("xlsx") / "trafford.xlsx"
    with pytest.warns(ExportWarning, match=r"control characters .* name \(sheet rows 3\)"):
        export_file(layers, "xlsx", path, provenance=rec)
    return path, layers


def test_sheets_and_layout(workbook):
    path, layers = workbook
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["assets", "candidates", "needs", "summary", "data_dictionary", "provenance"]
    for name in wb.sheetnames:
        ws = wb[name]
        assert ws.freeze_panes == "A2", name
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), name
        assert ws[1][0].font.bold
    ws = wb["assets"]
    assert ws.max_row == len(layers["assets"]) + 1
    header = [c.value for c in ws[1]]
    col = {h: i for i, h in enumerate(header)}
    assert {"lon", "lat", "easting", "northing"} <= set(col)
    letter = openpyxl.utils.get_column_letter
    assert ws.column_dimensions[letter(col["reasons"] + 1)].width >= 60
    assert 8 <= ws.column_dimensions[letter(col["asset_id"] + 1)].width <= 60
    assert ws.cell(row=2, column=col["reasons"] + 1).alignment.wrap_text


def test_cells_are_typed(workbook):
    path, layers = workbook
    ws = openpyxl.load_workbook(path)["assets"]
    rows = list(ws.iter_rows(values_only=False))
    col = {c.value: i for i, c in enumerate(rows[0])}
    src = layers["assets"].reset_index(drop=True)
    assert rows[3][col["uprn"]].value == "010000480247"
    for i in src.index[src["uprn"].notna()]:
        cell = rows[i + 1][col["uprn"]]
        assert cell.data_type == "s" and cell.value == src.loc[i, "uprn"], "UPRN as text, as given"
    for name in ("asset_id", "postcode", "need_area_code"):
        cells = [r[col[name]] for r in rows[1:] if r[col[name]].value is not None]
        assert cells and all(c.data_type == "s" and c.number_format == "@" for c in cells), name
    for name in ("need_score", "imd_decile", "easting", "lon"):
        cells = [r[col[name]] for r in rows[1:] if r[col[name]].value is not None]
        assert cells and all(isinstance(c.value, (int, float)) and not isinstance(c.value, bool) for c in cells), name
    excluded = [r[col["excluded"]].value for r in rows[1:]]
    assert set(excluded) <= {True, False} and sum(excluded) == int(src["excluded"].sum())
    dates = [r[col["source_date"]] for r in rows[1:] if r[col["source_date"]].value is not None]
    assert dates and all(isinstance(c.value, dt.datetime) and c.is_date for c in dates)
    big = rows[1][col["big_number"]]
    assert big.value == str(10 ** 17 + 3), "an integer Excel would round is written as text"


def test_formula_safe_and_never_a_formula(workbook):
    path, layers = workbook
    ws = openpyxl.load_workbook(path)["assets"]
    rows = list(ws.iter_rows())
    col = {c.value: i for i, c in enumerate(rows[0])}
    cell = rows[1][col["use"]]
    assert cell.data_type == "s" and cell.value == "'" + FORMULA
    assert not [c for r in rows for c in r if c.data_type == "f"]
    assert rows[2][col["name"]].value == "bell\ufffd end"


def test_dictionary_and_provenance_sheets(workbook, trafford):
    path, layers = workbook
    wb = openpyxl.load_workbook(path)
    dd = pd.DataFrame(list(wb["data_dictionary"].values)[1:], columns=[c.value for c in wb["data_dictionary"][1]])
    for layer in ("assets", "needs", "summary"):
        fields = set(dd.loc[dd["layer"] == layer, "field"])
        header = {c.value for c in wb[layer][1]}
        assert header <= fields, f"{layer}: no dictionary entry for {header - fields}"
    assert dd.set_index(["layer", "field"]).loc[("assets", "uprn"), "type"] == "text"
    prov = dict(list(wb["provenance"].values)[1:])
    assert prov["inputs.1.assets.sha256"] == sha256_of(trafford["register"])
    assert prov["export.format"] == "xlsx" and prov["iod_year"] == "2025"


def test_gdal_reads_the_workbook(workbook):
    exe = shutil.which("ogrinfo")
    if exe is None:
        pytest.skip("ogrinfo (Debian gdal-bin) is not installed")
    path, layers = workbook
    run = subprocess.run([exe, "-ro", "-so", str(path), "assets"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"Feature Count: {len(layers['assets'])}" in run.stdout
    assert "uprn: String" in run.stdout and "need_score: Real" in run.stdout


def test_download_and_cli(demo_result, tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExportWarning)
        name, data = export_bytes({"sites": demo_result.candidates}, "xlsx", name="my sites")
    assert name == "my-sites.xlsx" and data[:2] == b"PK"
    result = tmp_path / "r.gpkg"
    export_file(result_layers(demo_result), "gpkg", result, provenance=provenance(demo_result))
    assert main(["export", str(result), "--format", "xlsx", "--out", str(tmp_path / "r.xlsx")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert openpyxl.load_workbook(tmp_path / "r.xlsx").sheetnames[:4] == ["assets", "candidates", "needs", "summary"]
