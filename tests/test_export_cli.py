"""Provenance records and the `assets-map export` command (and what `analyse` now writes for it)."""
from __future__ import annotations

import hashlib
import io
import json
import warnings
import zipfile

import pandas as pd
import pyogrio
import pytest

from assets_map.cli import main
from assets_map.io.export import ExportWarning, export_file, read_result, result_layers
from assets_map.io.provenance import (
    JSON_KEY,
    describe_input,
    from_table,
    provenance,
    provenance_table,
    provenance_text,
    reexport,
    sha256_of,
    with_export,
)
from assets_map.io.report import InputError

# ----------------------------------------------------------------------------- provenance

def test_inputs_are_hashed_from_disk_bytes_and_file_objects(tmp_path):
    f = tmp_path / "register £.csv"
    f.write_bytes(b"a,b\n1,2\n")
    want = hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert sha256_of(f) == want
    assert describe_input("assets", f) == {"role": "assets", "name": "register £.csv", "bytes": 8, "sha256": want}
    assert describe_input("assets", ("up.csv", b"a,b\n1,2\n"))["sha256"] == want
    buf = io.BytesIO(b"xx" + b"a,b\n1,2\n")
    buf.seek(2)
    d = describe_input("assets", buf)
    assert d["sha256"] == hashlib.sha256(buf.getvalue()).hexdigest() and buf.tell() == 2
    gone = describe_input("assets", tmp_path / "gone.csv")
    assert gone["sha256"] is None and "no hash" in gone["note"]


def test_provenance_of_an_analysis(demo_result, tmp_path):
    f = tmp_path / "x.gpkg"
    f.write_bytes(b"abc")
    rec = provenance(demo_result, inputs={"assets": f, "exclude": [("parks.geojson", b"p"), ("allot.geojson", b"q")]},
                     filters={"priority": ["High", "Medium"]}, note="demo")
    assert [i["role"] for i in rec["inputs"]] == ["assets", "exclude", "exclude"]
    assert rec["inputs"][0]["sha256"] == hashlib.sha256(b"abc").hexdigest()
    assert rec["iod_year"] == 2025 and rec["weights"] == {"imd": 1.0}
    assert rec["filters"] == {"priority": ["High", "Medium"]}
    assert rec["software"]["assets_map"] and rec["software"]["gdal"]
    assert rec["created"].endswith("+00:00")
    assert "fictional" in rec["label"].lower()
    json.dumps(rec)  # plain JSON
    from_settings = provenance(demo_result)  # the demo file was hashed when it was read
    assert from_settings["inputs"][0]["name"] == "demo.gpkg (fictional)" and from_settings["inputs"][0]["sha256"]
    no_files = provenance({"inputs": {"assets": "gone.csv"}})
    assert no_files["inputs"][0]["name"] == "gone.csv" and no_files["inputs"][0]["sha256"] is None


def test_table_round_trip_and_text(demo_result):
    rec = provenance(demo_result, inputs={"assets": ("a.csv", b"1")})
    table = provenance_table(rec)
    assert list(table.columns) == ["key", "value"]
    keys = dict(zip(table["key"], table["value"], strict=True))
    assert keys["inputs.1.assets.sha256"] == hashlib.sha256(b"1").hexdigest()
    assert keys["iod_year"] == "2025" and keys["weights.imd"] == "1.0"
    assert from_table(table) == rec
    assert JSON_KEY not in provenance_text(rec) and "inputs.1.assets.name: a.csv" in provenance_text(rec)


def test_reexport_keeps_the_chain(tmp_path):
    first = with_export({"title": "t", "iod_year": 2019}, fmt="gpkg", layers={"assets": 3})
    f = tmp_path / "r.gpkg"
    f.write_bytes(b"gpkg bytes")
    second = with_export(reexport(first, f), fmt="shp", layers={"assets": 3})
    assert second["export"]["format"] == "shp"
    assert second["export"]["exported_from"]["sha256"] == hashlib.sha256(b"gpkg bytes").hexdigest()
    assert second["steps"][0]["format"] == "gpkg" and second["steps"][0]["step"] == "export"
    assert second["iod_year"] == 2019 and "exported_from" not in {k for k in second if k != "export"}
    bare = with_export(None, fmt="csv", layers={"x": 0})
    assert "no analysis provenance" in bare["note"]


# ----------------------------------------------------------------------------- the CLI

@pytest.fixture(scope="module")
def result_gpkg(demo_result, tmp_path_factory):
    path = tmp_path_factory.mktemp("res") / "demo result.gpkg"
    rec = provenance(demo_result, inputs={"assets": ("demo.gpkg", b"demo")})
    layers = result_layers(demo_result)
    layers.pop("summary")  # an older result without summary: rebuilt from assets on export
    export_file(layers, "gpkg", path, provenance=rec)
    return path


@pytest.mark.parametrize("fmt,out", [("gpkg", "o.gpkg"), ("shp", "o.zip"), ("geojson", "o.zip"), ("csv", "o.zip"),
                                     ("kml", "o.kml")])
def test_export_command_every_format(fmt, out, result_gpkg, demo_result, tmp_path, capsys):
    target = tmp_path / out
    code = main(["export", str(result_gpkg), "--format", fmt, "--out", str(target)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert target.exists()
    n = len(demo_result.assets)
    assert f"assets {n}" in printed.out and "summary" in printed.out
    if fmt == "shp":
        assert "warning:" in printed.out and "254" in printed.out  # long reasons are cut and said so
    if target.suffix == ".zip":
        prov = json.loads(zipfile.ZipFile(target).read("provenance.json"))
    elif fmt == "gpkg":
        prov = from_table(pyogrio.read_dataframe(target, layer="provenance"))
        assert pyogrio.read_info(target, layer="summary")["features"] > 10
    else:
        prov = None
        assert "exported_from" in target.read_text(encoding="utf-8")
    if prov:
        assert prov["export"]["exported_from"]["sha256"] == hashlib.sha256(result_gpkg.read_bytes()).hexdigest()
        assert prov["export"]["exported_from"]["name"] == "demo result.gpkg"
        assert prov["steps"][0]["format"] == "gpkg"
        assert prov["inputs"][0]["sha256"] == hashlib.sha256(b"demo").hexdigest()


def test_export_one_layer(result_gpkg, demo_result, tmp_path):
    target = tmp_path / "cands.geojson"
    assert main(["export", str(result_gpkg), "--layer", "candidates", "--format", "geojson", "--out", str(target)]) == 0
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert len(doc["features"]) == len(demo_result.candidates)
    assert doc["metadata"]["provenance"]["iod_year"] == 2025


def test_export_command_refusals(result_gpkg, tmp_path, capsys):
    cases = [
        (["export", str(result_gpkg), "--format", "csv", "--out", str(tmp_path / "x.csv")], "a .csv holds one layer"),
        (["export", str(tmp_path / "none.gpkg"), "--format", "gpkg", "--out", str(tmp_path / "x.gpkg")], "no such file"),
    ]
    notgpkg = tmp_path / "fake.gpkg"
    notgpkg.write_text("not a database")
    cases.append((["export", str(notgpkg), "--format", "gpkg", "--out", str(tmp_path / "x.gpkg")], "not a GeoPackage"))
    for argv, words in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.gpkg"]


def test_read_result_names_missing_layers(tmp_path, demo_result):
    path = tmp_path / "only.gpkg"
    export_file({"needs": demo_result.needs}, "gpkg", path)
    with pytest.raises(InputError, match=r"candidates not found \(layers here: needs\)"):
        read_result(path, ["candidates"])


def test_analyse_writes_summary_and_provenance(trafford, tmp_path):
    out = tmp_path / "t.gpkg"
    code = main(["analyse", "--assets", str(trafford["register"]), "--boundaries", str(trafford["lsoa21"]),
                 "--deprivation", str(trafford["imd2025"]), "--postcodes", str(trafford["postcodes"]),
                 "--exclude", str(trafford["greenspace"]), "--out", str(out)])
    assert code == 0
    layers = {n for n, _ in pyogrio.list_layers(out)}
    assert {"assets", "candidates", "needs", "summary", "data_dictionary", "provenance"} <= layers
    prov = from_table(pyogrio.read_dataframe(out, layer="provenance"))
    by_role = {i["role"]: i for i in prov["inputs"]}
    assert by_role["assets"]["sha256"] == sha256_of(trafford["register"])
    assert by_role["assets"]["name"] == "land_and_building_assets.csv"
    assert by_role["exclude"]["name"] == "greenspace_sites.geojson"
    assert prov["iod_year"] == 2025 and prov["weights"] == {"imd": 1.0}
    summary = pyogrio.read_dataframe(out, layer="summary")
    total = summary[summary["group_by"] == "all"].iloc[0]
    assets = pyogrio.read_dataframe(out, layer="assets")
    assert total["sites"] == len(assets) == 608
    assert total["flagged"] == pyogrio.read_info(out, layer="candidates")["features"]
    deciles = summary[summary["group_by"] == "need decile"]
    assert deciles["sites"].sum() == 608
    # and the result re-exports as a Shapefile zip that keeps every row
    z = tmp_path / "t.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExportWarning)
        assert main(["export", str(out), "--layer", "assets", "--format", "shp", "--out", str(z)]) == 0
    members = zipfile.ZipFile(z).namelist()
    n = sum(pyogrio.read_info(f"/vsizip/{z}/{m}")["features"] for m in members
            if m.endswith(".shp") or m.endswith("_no_location.dbf"))
    assert n == 608
    names = pd.read_csv(zipfile.ZipFile(z).open("field_names.csv"))
    assert len(names) == len(assets.columns) - 1  # every attribute, the geometry aside
