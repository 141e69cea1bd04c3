"""The estates officer's journey in Debian chromium (issue 14): Trafford's register, end to end.

Uploads the register with its need areas, deprivation, postcodes and exclusion layers on "Your data"
(a file in the wrong slot first: one line saying what it is), checks and uses them; finds the vacant
sites in need deciles 1-3; imports the register into the shared register, fixes an unplaced row by its
postcode, saves and sees the new priority at once; exports. Every non-local request is blocked.
"""
from __future__ import annotations

import re

import pytest

from tests.helpers import CHROMIUM, LAUNCH_ARGS, offline_context, require_browser, screenshot, streamlit_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def officer_app(tmp_path_factory):
    """The app with a register of its own (never the user's ~/.assets_map)."""
    require_browser()
    store = tmp_path_factory.mktemp("register") / "register.sqlite"
    with streamlit_app("--server.address", "127.0.0.1", env={"ASSETS_MAP_STORE": str(store),
                                                              "ASSETS_MAP_DATABASE_URL": ""}) as url:
        yield url


@pytest.fixture
def page(officer_app):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context, _ = offline_context(browser, officer_app, accept_downloads=True)
        pg = context.new_page()
        pg.set_viewport_size({"width": 1400, "height": 900})
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.errors = errors
        yield pg
        context.close()
        browser.close()


def _no_traceback(page) -> None:
    assert page.locator("[data-testid=stException]").count() == 0, page.locator("[data-testid=stException]").first.inner_text()


def _upload(page, slot: int, paths, shown: str) -> None:
    page.locator("input[type=file]").nth(slot).set_input_files(paths)
    page.get_by_text(shown).first.wait_for(timeout=180_000)  # a loaded CI machine looks at a file slowly


def test_the_estates_officers_journey_on_trafford(page, officer_app, shared, tmp_path):
    from assets_map.io.uploads import Upload, check_uploads

    reg, bnd = shared("trafford", "land_and_building_assets.csv"), shared("trafford", "lsoa21_boundaries.geojson")
    dep, pcs = shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv"), shared("trafford", "postcodes_onspd_feb2025.csv")
    layers = [shared("trafford", "parcels", "greenspace_sites.geojson"), shared("trafford", "parcels", "allotments.geojson")]
    expected = check_uploads({k: Upload(p.name, p.read_bytes()) for k, p in
                              (("register", reg), ("boundaries", bnd), ("deprivation", dep), ("postcodes", pcs))},
                             exclude=[Upload(p.name, p.read_bytes()) for p in layers]).analysis.assets
    vacant_in_need = int(((expected["status"] == "vacant") & expected["need_decile"].between(1, 3)).sum())

    # 1. Your data: a wrong file in the register slot says what it is, in one line; then the right files.
    page.goto(officer_app + "/data")
    page.get_by_text("Asset register (CSV").first.wait_for(timeout=90_000)
    _upload(page, 0, dep, "not an asset register; give it in the Deprivation data slot")
    _no_traceback(page)
    _upload(page, 0, reg, "land_and_building_assets.csv: looks like an asset register")
    _upload(page, 1, bnd, "lsoa21_boundaries.geojson: looks like LSOA boundaries")
    _upload(page, 2, dep, "imd2025_lsoa21_scores_ranks_deciles.csv: looks like an English Indices")
    _upload(page, 3, pcs, "postcodes_onspd_feb2025.csv: looks like a postcode directory")
    _upload(page, 5, layers, "allotments.geojson: looks like a map layer")
    page.get_by_role("button", name="Check these files").click()
    page.get_by_text(re.compile("Check before you use it|These files could not be used")).first.wait_for(timeout=180_000)
    _no_traceback(page)
    assert page.get_by_text("These files could not be used").count() == 0, \
        page.locator("[data-testid=stAlert]").filter(has_text="could not be used").inner_text()
    page.get_by_text(re.compile(r"greenspace_sites.geojson: \d+ areas of land never flagged")).wait_for()
    page.get_by_role("button", name="Use this data").click()
    page.get_by_text("Now showing Your data: land_and_building_assets.csv").wait_for(timeout=60_000)
    page.get_by_text("608 of 608 sites shown").first.wait_for(timeout=30_000)
    screenshot(page, "estates-your-data.png", full_page=False)

    # 2. The vacant sites in need deciles 1-3, with the sidebar's filters.
    sidebar = page.locator("[data-testid=stSidebar]")
    status = sidebar.locator("[data-testid=stMultiSelect]").filter(has_text="Status")
    status.locator("input").click()
    page.keyboard.type("vacant")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.get_by_text(re.compile(r"^\d+ of 608 sites shown")).first.wait_for(timeout=60_000)
    top = sidebar.locator("[data-testid=stSlider]").filter(has_text="Need decile").get_by_role("slider").nth(1)
    top.focus()
    for _ in range(7):  # 10 -> 3
        page.keyboard.press("ArrowLeft")
    page.get_by_text(f"{vacant_in_need} of 608 sites shown").first.wait_for(timeout=60_000)
    _no_traceback(page)

    # 3. The Register page: import, fix an unplaced row by its postcode, save, see the new priority.
    page.get_by_role("link", name="Register").click()
    page.get_by_text("Put the data in use into the register").wait_for(timeout=60_000)
    page.get_by_label("Organisation whose register this is").fill("Trafford Council")
    page.get_by_label("Organisation whose register this is").press("Enter")
    page.get_by_role("button", name="Import into the register").click()
    page.get_by_text(re.compile(r"import batch 1 for Trafford Council: 608 rows")).wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"Only sites not placed on the map \(\d+\)")).click()
    page.get_by_text(re.compile(r"Version 1 · .* not placed on the map")).wait_for(timeout=60_000)
    asset = page.locator("[data-testid=stSelectbox]").filter(has_text="Asset")
    asset.locator("input").click()
    page.keyboard.type("TMBC0004")
    page.get_by_role("option").filter(has_text="TMBC0004").first.wait_for(timeout=30_000)
    page.keyboard.press("Enter")
    page.get_by_text(re.compile(r"Version 1 · priority Low · .* not placed on the map")).wait_for(timeout=60_000)
    postcode = page.locator('input[aria-label="Postcode"][value="M31"]')  # the row gives only its district
    postcode.fill("M31 4EA")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Place at this postcode").click()
    page.get_by_text("Saved as version 2: priority High (was Low)").wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"Version 2 · priority High · .*full postcode")).wait_for()
    _no_traceback(page)
    screenshot(page, "estates-register.png", full_page=False)

    # 4. The register, as saved, in use on every page; export what the Download page offers.
    page.get_by_role("button", name="Show the register on the map").click()
    page.get_by_text("The register is now the data in use on every page.").wait_for(timeout=60_000)
    page.get_by_role("link", name="Download").click()
    button = page.get_by_role("button", name=re.compile("^Download")).first
    button.wait_for(timeout=90_000)
    with page.expect_download(timeout=120_000) as info:
        button.click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    if saved.suffix == ".gpkg":  # the fixed site, placed and flagged, is in what the officer takes away
        import pyogrio

        layer = "assets" if "assets" in [n for n, _ in pyogrio.list_layers(saved)] else None
        got = pyogrio.read_dataframe(saved, layer=layer)
        fixed = got[got["asset_id"] == "TMBC0004"]
        assert len(fixed) == 1 and fixed["priority"].iloc[0] == "High" and fixed.geometry.iloc[0] is not None
    assert saved.stat().st_size > 0
    _no_traceback(page)
    assert not page.errors, page.errors
