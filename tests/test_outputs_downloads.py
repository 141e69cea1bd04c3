"""The app's downloads match the CLI (issue 14 item 7): every layer the CLI writes (assets, candidates,
needs, summary), named as the CLI names them, with provenance naming every input file with its SHA-256."""
from __future__ import annotations

import hashlib
import json
import zipfile

import openpyxl
import pyogrio
import pytest

from assets_map.engine.filters import Filters, apply_filters
from assets_map.io.downloads import FORMATS, download, download_layers, download_provenance
from assets_map.io.export import export_file, result_layers
from assets_map.io.importer import Upload
from assets_map.io.provenance import from_table, provenance, sha256_of
from assets_map.io.uploads import check_uploads
from tests.helpers import app_page


def test_the_layers_are_the_clis(demo_result, tmp_path):
    sites = apply_filters(demo_result.assets, Filters(priorities=("High", "Medium")))
    layers = download_layers(demo_result, sites)
    assert list(layers) == list(result_layers(demo_result)), "the same layers, in the same order, as the CLI"
    assert len(layers["assets"]) == len(sites) and len(layers["candidates"]) == len(sites)
    assert len(layers["needs"]) == len(demo_result.needs)
    assert layers["summary"].loc[layers["summary"]["group_by"] == "all", "sites"].iloc[0] == len(sites)
    name, data, _, _ = download(layers, "gpkg", name="filtered", provenance=download_provenance(demo_result))
    path = tmp_path / name
    path.write_bytes(data)
    cli = tmp_path / "cli.gpkg"
    export_file(result_layers(demo_result), "gpkg", cli, provenance=provenance(demo_result), step="analyse")
    assert [n for n, _ in pyogrio.list_layers(path)] == [n for n, _ in pyogrio.list_layers(cli)]
    for n in ("assets", "needs", "summary"):
        assert list(pyogrio.read_info(path, layer=n)["fields"]) == list(pyogrio.read_info(cli, layer=n)["fields"])
    rec = from_table(pyogrio.read_dataframe(path, layer="provenance"))
    assert rec["export"]["step"] == "download"
    demo_file = rec["inputs"][0]
    assert demo_file["role"] == "assets" and demo_file["sha256"] and len(demo_file["sha256"]) == 64


def test_uploads_are_hashed_for_the_provenance(trafford):
    files = {"register": trafford["register"], "boundaries": trafford["lsoa21"], "deprivation": trafford["imd2025"]}
    ups = {k: Upload(p.name, p.read_bytes()) for k, p in files.items()}
    checked = check_uploads(ups, exclude=[Upload(trafford["greenspace"].name, trafford["greenspace"].read_bytes())])
    rec = download_provenance(checked.analysis, filters={"priorities": ["High"]})
    by_role = {i["role"]: i for i in rec["inputs"]}
    assert set(by_role) == {"assets", "boundaries", "deprivation", "exclude"}
    for role, key in (("assets", "register"), ("boundaries", "boundaries"), ("deprivation", "deprivation")):
        assert by_role[role]["sha256"] == sha256_of(files[key]) and by_role[role]["name"] == files[key].name
    assert by_role["exclude"]["sha256"] == sha256_of(trafford["greenspace"])
    assert rec["filters"] == {"priorities": ["High"]}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_holds_the_layers(fmt, demo_result, tmp_path):
    layers = download_layers(demo_result, demo_result.assets, ["assets", "needs", "summary"])
    name, data, mime, _ = download(layers, fmt, provenance=download_provenance(demo_result))
    path = tmp_path / name
    path.write_bytes(data)
    if fmt in ("gpkg", "kml"):
        got = {n for n, _ in pyogrio.list_layers(path)}
        assert got == ({"assets", "needs", "summary", "data_dictionary", "provenance"} if fmt == "gpkg"
                       else {"assets", "needs"})
    elif fmt == "xlsx":
        assert openpyxl.load_workbook(path).sheetnames[:3] == ["assets", "needs", "summary"]
    elif fmt == "geojson":
        assert {"assets.geojson", "needs.geojson", "summary.geojson"} <= set(zipfile.ZipFile(path).namelist())
    else:
        members = set(zipfile.ZipFile(path).namelist())
        stems = {m.split(".")[0].split("_point")[0].split("_polygon")[0].split("_no_location")[0] for m in members}
        assert {"assets", "needs", "summary"} <= stems
        prov = json.loads(zipfile.ZipFile(path).read("provenance.json"))
        assert prov["inputs"][0]["sha256"]


def test_download_page_offers_every_layer():
    at = app_page("download_page").run()
    assert not at.exception
    chooser = at.multiselect(key="dl_layers")
    assert chooser.value[:4] == ["assets", "candidates", "needs", "summary"]
    assert "Excel workbook (estates teams)" in at.radio(key="dl_fmt").options
    chooser.set_value(["needs"]).run()
    assert not at.exception and at.get("download_button")
    chooser.set_value([]).run()
    assert "Choose at least one layer" in " ".join(i.value for i in at.info)


def test_the_demo_file_is_hashed(demo_result):
    from assets_map.engine.demo import DEMO_PATH

    rec = provenance(demo_result)
    assert rec["inputs"][0]["sha256"] == hashlib.sha256(DEMO_PATH.read_bytes()).hexdigest()
    assert rec["inputs"][0]["name"] == "demo.gpkg (fictional)"
