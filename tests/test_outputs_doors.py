"""The export doors (issue 15, item 7): the format told by the name, provenance steps labelled by what
they did, and ``src_*`` columns that keep the source text exactly (the formula guard acts on the way out)."""
from __future__ import annotations

import json
import zipfile

import openpyxl
import pandas as pd
import pyogrio
import pytest

from assets_map.cli import main
from assets_map.io.export import export_file, format_for, result_layers
from assets_map.io.importer import import_file
from assets_map.io.provenance import from_table, provenance, provenance_table
from assets_map.io.report import InputError


@pytest.fixture(scope="module")
def result_gpkg(demo_result, tmp_path_factory):
    path = tmp_path_factory.mktemp("doors") / "result.gpkg"
    export_file(result_layers(demo_result), "gpkg", path, provenance=provenance(demo_result), step="analyse")
    return path


@pytest.mark.parametrize("out,check", [
    ("x.kml", lambda p: p.read_bytes().startswith(b"<?xml")),
    ("x.xlsx", lambda p: openpyxl.load_workbook(p).sheetnames[0] == "assets"),
    ("x.gpkg", lambda p: "needs" in {n for n, _ in pyogrio.list_layers(p)}),
    ("x.geojson", lambda p: json.loads(p.read_text(encoding="utf-8"))["type"] == "FeatureCollection"),
    ("x.csv", lambda p: p.read_bytes().startswith(b"\xef\xbb\xbf")),
])
def test_the_name_tells_the_format(out, check, result_gpkg, tmp_path, capsys):
    argv = ["export", str(result_gpkg), "--out", str(tmp_path / out)]
    if out.endswith((".csv", ".geojson")):
        argv += ["--layer", "candidates"]
    assert main(argv) == 0, capsys.readouterr().err
    assert check(tmp_path / out)


def test_a_zip_needs_the_format(result_gpkg, tmp_path, capsys):
    assert main(["export", str(result_gpkg), "--out", str(tmp_path / "x.zip")]) == 2
    err = capsys.readouterr().err
    assert "--format shp, csv or geojson" in err and err.count("\n") == 1
    assert main(["export", str(result_gpkg), "--out", str(tmp_path / "x.doc")]) == 2
    assert "cannot tell the export format from the name x.doc" in capsys.readouterr().err
    assert main(["export", str(result_gpkg), "--format", "shp", "--out", str(tmp_path / "x.zip")]) == 0
    assert zipfile.is_zipfile(tmp_path / "x.zip")
    assert format_for("a.KML") == "kml" and format_for("a.zip", "csv") == "csv"
    with pytest.raises(InputError):
        format_for("a.zip")


def test_provenance_steps_say_what_they_did(result_gpkg, tmp_path, capsys):
    first = from_table(pyogrio.read_dataframe(result_gpkg, layer="provenance"))
    assert first["export"]["step"] == "analyse" and "steps" not in first
    z = tmp_path / "x.zip"
    assert main(["export", str(result_gpkg), "--format", "shp", "--out", str(z)]) == 0
    capsys.readouterr()
    rec = json.loads(zipfile.ZipFile(z).read("provenance.json"))
    assert [s["step"] for s in rec["steps"]] == ["analyse"] and rec["export"]["step"] == "export"
    assert "earlier_exports" not in rec
    keys = set(provenance_table(rec)["key"])
    assert "steps.1.analyse.format" in keys and "export.step" in keys
    assert not [k for k in keys if k.startswith("earlier_exports")]
    again = tmp_path / "again.gpkg"
    assert main(["export", str(result_gpkg), "--out", str(again)]) == 0
    third = tmp_path / "third.zip"
    assert main(["export", str(again), "--format", "csv", "--out", str(third)]) == 0
    rec = json.loads(zipfile.ZipFile(third).read("provenance.json"))
    assert [s["step"] for s in rec["steps"]] == ["analyse", "export"]
    assert rec["steps"][1]["exported_from"]["name"] == "result.gpkg"
    assert rec["export"]["exported_from"]["name"] == "again.gpkg"


def test_older_files_steps_are_labelled_too():
    from assets_map.io.provenance import with_export

    old = {"title": "t", "export": {"format": "gpkg", "layers": {}}, "earlier_exports": []}
    rec = with_export(old, fmt="kml", layers={"assets": 1})
    assert rec["steps"] == [{"step": "analyse", "format": "gpkg", "layers": {}}]


RAW = ("AssetCode,PropertyName,Tenure,Status,GeoX,GeoY\n"
       "A1,\tTab first,Freehold,Vacant,-2.30,53.45\n"
       'A2,"\rCR first",Freehold,Vacant,-2.31,53.46\n'
       "A3,  spaced  ,Freehold,Vacant,-2.32,53.44\n"
       "A4,=1+1,Freehold,Vacant,-2.33,53.44\n")


PLAIN = ("AssetCode,PropertyName,Tenure,Status,GeoX,GeoY\n"  # no quotes at all: the fast reader
         "B1,\tTab first,Freehold,Vacant,-2.30,53.45\n"
         "B2,  spaced  ,Freehold,Vacant , -2.31 ,53.46\n")


def test_source_columns_keep_plain_csv_text_exactly(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_bytes(PLAIN.encode("utf-8"))
    layer, _ = import_file(path)
    by_code = layer.set_index("src_AssetCode")
    assert by_code.loc["B1", "src_PropertyName"] == "\tTab first"
    assert by_code.loc["B2", "src_PropertyName"] == "  spaced  " and by_code.loc["B2", "src_Status"] == "Vacant "
    assert list(by_code["name"]) == ["Tab first", "spaced"] and list(by_code["status"]) == ["vacant", "vacant"]
    assert layer.geometry.notna().all(), "coordinates with spaces around them still place the sites"


def test_source_columns_keep_the_source_text_exactly(tmp_path):
    path = tmp_path / "reg.csv"
    path.write_bytes(RAW.encode("utf-8"))
    layer, _ = import_file(path)
    by_code = layer.set_index("src_AssetCode")
    assert by_code.loc["A1", "src_PropertyName"] == "\tTab first"
    assert by_code.loc["A2", "src_PropertyName"] == "\rCR first"
    assert by_code.loc["A3", "src_PropertyName"] == "  spaced  "
    assert by_code.loc["A4", "src_PropertyName"] == "=1+1"
    assert list(by_code["name"]) == ["Tab first", "CR first", "spaced", "=1+1"]  # the canonical name is tidied
    # the formula guard acts on the way out only
    out = tmp_path / "reg_out.csv"
    export_file({"assets": layer}, None, out)
    back = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False).set_index("src_AssetCode")
    assert back.loc["A1", "src_PropertyName"] == "'\tTab first"
    assert back.loc["A4", "src_PropertyName"] == "'=1+1" and back.loc["A3", "src_PropertyName"] == "  spaced  "
    gpkg = tmp_path / "reg.gpkg"
    export_file({"assets": layer}, None, gpkg)
    g = pyogrio.read_dataframe(gpkg, layer="assets").set_index("src_AssetCode")
    assert g.loc["A1", "src_PropertyName"] == "\tTab first" and g.loc["A4", "src_PropertyName"] == "=1+1"
