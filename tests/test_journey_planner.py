"""The planner's journey in Debian chromium at 1400x900, every non-local request blocked (issue 14).

On the Trafford bundle the planner loads the files (with the greenspace exclusion layer), goes to
Download and takes the need areas and the sites as a zipped Shapefile and as a GeoPackage. The files
are read back: the layers are named as the CLI names them (``assets``, ``candidates``, ``needs``,
``summary``), hold what ``assets-map analyse`` writes for the same files, and the provenance names
every uploaded file with its SHA-256.

Set ASSETS_MAP_SCREENSHOTS=<folder> to keep a screenshot of each step.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pyogrio
import pytest

from assets_map.cli import main
from assets_map.io.provenance import from_table, sha256_of
from tests.helpers import offline_context, screenshot, upload_to_slot

pytestmark = pytest.mark.browser



def _shot(page, name: str) -> None:
    screenshot(page, f"{name}.png")


@pytest.fixture
def page(browser, server):
    context, blocked = offline_context(browser, server, accept_downloads=True)
    pg = context.new_page()
    pg.set_viewport_size({"width": 1400, "height": 900})
    yield pg
    context.close()


def _upload(page, slot: str, path: Path) -> None:
    upload_to_slot(page, slot, path)


def _no_traceback(page) -> None:
    assert page.locator("[data-testid=stException]").count() == 0, page.locator(
        "[data-testid=stException]").first.inner_text()


def _download(page, fmt_label: str, target: Path) -> Path:
    # the format's radio option (during a rerun the page may hold the old and the new list for a moment)
    page.get_by_role("radiogroup").get_by_text(fmt_label, exact=True).last.click()
    button = page.get_by_role("button", name=f"as {fmt_label}")
    button.wait_for(timeout=120_000)
    with page.expect_download(timeout=120_000) as dl:
        button.click()
    dl.value.save_as(target)
    return target


@pytest.fixture(scope="module")
def cli_result(trafford, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "trafford.gpkg"
    assert main(["analyse", "--assets", str(trafford["register"]), "--boundaries", str(trafford["lsoa21"]),
                 "--deprivation", str(trafford["imd2025"]), "--postcodes", str(trafford["postcodes"]),
                 "--exclude", str(trafford["greenspace"]), "--out", str(out)]) == 0
    return out


def test_the_planner_downloads_need_areas_and_sites_named_as_the_cli_names_them(page, server, trafford, cli_result,
                                                                                 tmp_path):
    page.goto(server + "/data")
    page.get_by_text("Asset register (CSV").first.wait_for(timeout=90_000)
    _upload(page, "Asset register", trafford["register"])
    _upload(page, "Need area boundaries", trafford["lsoa21"])
    _upload(page, "Deprivation data", trafford["imd2025"])
    _upload(page, "Postcode directory", trafford["postcodes"])
    _upload(page, "Exclusion layers", trafford["greenspace"])
    page.get_by_role("button", name="Check these files").click()
    page.get_by_role("button", name="Use this data").wait_for(timeout=300_000)
    page.get_by_role("button", name="Use this data").click()
    page.get_by_text("Now showing").first.wait_for(timeout=60_000)
    _no_traceback(page)

    page.get_by_role("link", name="Download").click()
    page.get_by_text("The filtered sites (608 of 608)").wait_for(timeout=90_000)
    _shot(page, "planner_0_download_page")
    for label in ("Sites (assets)", "Flagged sites (candidates)", "Need areas (needs)", "Summary (summary)"):
        page.get_by_text(label, exact=True).first.wait_for(timeout=30_000)  # chosen: every layer the CLI writes
    _shot(page, "planner_1_download_page")
    _no_traceback(page)

    shp = _download(page, "Shapefile (zipped)", tmp_path / "planner-shapefile.zip")
    gpkg = _download(page, "GeoPackage (QGIS, ArcGIS)", tmp_path / "planner.gpkg")
    _shot(page, "planner_2_downloaded")
    _no_traceback(page)

    cli_layers = [n for n, _ in pyogrio.list_layers(cli_result)]
    got_layers = [n for n, _ in pyogrio.list_layers(gpkg)]
    assert got_layers == cli_layers, "the app's GeoPackage has the CLI's layers, in the CLI's order"
    assert {"assets", "candidates", "needs", "summary"} <= set(got_layers)
    for layer in ("assets", "candidates", "needs"):
        assert pyogrio.read_info(gpkg, layer=layer)["features"] == pyogrio.read_info(cli_result, layer=layer)["features"]
    app_needs = pyogrio.read_dataframe(gpkg, layer="needs").sort_values("code", ignore_index=True)
    cli_needs = pyogrio.read_dataframe(cli_result, layer="needs").sort_values("code", ignore_index=True)
    assert list(app_needs["code"]) == list(cli_needs["code"]) and len(app_needs) == 139
    assert (app_needs["need_decile"] == cli_needs["need_decile"]).all()
    app_assets = pyogrio.read_dataframe(gpkg, layer="assets", read_geometry=False).set_index("asset_id")
    cli_assets = pyogrio.read_dataframe(cli_result, layer="assets", read_geometry=False).set_index("asset_id")
    assert (app_assets["priority"] == cli_assets.loc[app_assets.index, "priority"]).all()
    assert int(app_assets["excluded"].sum()) == int(cli_assets["excluded"].sum())

    prov = from_table(pyogrio.read_dataframe(gpkg, layer="provenance"))
    by_role = {}
    for i in prov["inputs"]:
        by_role.setdefault(i["role"], i)
    for role, key in (("assets", "register"), ("boundaries", "lsoa21"), ("deprivation", "imd2025"),
                      ("postcodes", "postcodes"), ("exclude", "greenspace")):
        assert by_role[role]["sha256"] == sha256_of(trafford[key]), role
        assert by_role[role]["name"] == trafford[key].name
    assert prov["export"]["step"] == "download"

    members = zipfile.ZipFile(shp).namelist()
    stems = {m.rsplit(".", 1)[0] for m in members}
    assert {"needs", "summary"} <= stems
    assert any(s == "assets" or s.startswith("assets_") for s in stems)
    assert any(s == "candidates" or s.startswith("candidates_") for s in stems)
    needs_back = pyogrio.read_dataframe(f"/vsizip/{shp}/needs.shp")
    assert len(needs_back) == 139 and needs_back.crs.to_epsg() == 27700
    n_assets = sum(pyogrio.read_info(f"/vsizip/{shp}/{m}")["features"] for m in members
                   if m.startswith("assets") and (m.endswith(".shp") or m.endswith("_no_location.dbf")))
    assert n_assets == 608
    rec = json.loads(zipfile.ZipFile(shp).read("provenance.json"))
    assert {i["role"] for i in rec["inputs"] if i.get("sha256")} >= {"assets", "boundaries", "deprivation"}
