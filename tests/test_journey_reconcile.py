"""Issue 17 items 3-5 in a browser: an estates officer loads a CCOD file in HM Land Registry's exact layout with the
real City of London parcels, clicks a parcel on the map and reads which anchor holds a title there and how sure
that is, opens the Land ownership page, confirms one match and rejects another, and after a reload (a new session:
the files are loaded again) finds both decisions kept in the register. Debian chromium, every non-local request
blocked.

Set ASSETS_MAP_SCREENSHOTS=<folder> to keep a screenshot of each step (and of the last page seen)."""
from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pytest
import shapely

from tests.helpers import RECONCILE_ANCHOR, app_in_browser, reconcile_world, screenshot, wait_until_idle


@pytest.fixture(scope="module")
def city(shared, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("journey_reconcile")
    world = reconcile_world(shared("london", "inspire_city_of_london.geojson"), tmp)
    lsoa = gpd.read_file(shared("england", "lsoa21_boundaries_ew.gpkg"), engine="pyogrio")
    lsoa = lsoa[lsoa["lsoa21_name"].str.startswith("City of London")]
    lsoa.to_crs(4326).to_file(tmp / "city_lsoa21.geojson", engine="pyogrio")
    # a point of A3's parcel (where title AGL3 is placed by its postcode) far from the register's site in it
    parcel = world["parcels"].geometry.iloc[world["p"]["A3"]]
    site = parcel.representative_point()
    inner = parcel.buffer(-2.0)
    rng = np.random.default_rng(1)
    minx, miny, maxx, maxy = inner.bounds
    pts = [shapely.Point(x, y) for x, y in zip(rng.uniform(minx, maxx, 4000), rng.uniform(miny, maxy, 4000),
                                               strict=True)]
    pts = [p for p in pts if inner.contains(p)]
    far = max(pts, key=site.distance)
    at = gpd.GeoSeries([far], crs=27700).to_crs(4326).iloc[0]
    return {"tmp": tmp, "boundaries": tmp / "city_lsoa21.geojson",
            "deprivation": shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv"),
            "parcels": world["parcels_file"], "click": (at.y, at.x),
            "parcel_id": world["parcels"]["parcel_id"].iloc[world["p"]["A3"]]}


def _load(page, url: str, city: dict) -> None:
    """Your data: register, need areas, deprivation, postcodes, the City's parcels and the CCOD file; check; use."""
    page.goto(url + "/data")
    page.get_by_text("Asset register (CSV").first.wait_for(timeout=90_000)
    inputs = page.locator("input[type=file]")
    tmp = city["tmp"]
    for i, path, shown in ((0, tmp / "register.csv", "looks like an asset register"),
                           (1, city["boundaries"], "looks like LSOA"),
                           (2, city["deprivation"], "looks like an English Indices"),
                           (3, tmp / "pcd.csv", "looks like a postcode directory"),
                           (9, city["parcels"], "looks like freehold parcels"),
                           (10, tmp / "CCOD_FULL.csv", "looks like HM Land Registry CCOD file (full): 9 titles")):
        inputs.nth(i).set_input_files(str(path))
        page.get_by_text(re.compile(re.escape(shown))).first.wait_for(timeout=90_000)
    page.get_by_text(re.compile(r"CCOD_FULL\.csv: looks like")).first.scroll_into_view_if_needed()
    screenshot(page, "journey-your-data.png")
    page.get_by_role("button", name="Check these files").click()
    page.get_by_text(re.compile(r"CCOD_FULL\.csv: HM Land Registry CCOD file \(full\): 9 titles")).wait_for(
        timeout=180_000)
    page.get_by_role("button", name="Use this data").click()
    page.get_by_text("3 of 3 sites shown").first.wait_for(timeout=60_000)


def _decide(page, title: str, what: str, note: str) -> None:
    row = page.locator("[data-testid=stSelectbox]").filter(has_text="Row")
    row.locator("input").click()
    page.keyboard.type(f"Title {title}")
    page.get_by_role("option").filter(has_text=f"Title {title}").first.wait_for(timeout=30_000)
    page.keyboard.press("Enter")
    page.get_by_text(what, exact=True).click()  # the radio: Confirm or Reject
    page.get_by_label("Note (why; kept with the decision)").fill(note)
    page.get_by_role("button", name="Record the decision").click()
    page.get_by_text(re.compile(rf"Recorded: Title {title}: .*{'confirmed' if what == 'Confirm' else 'rejected'}")) \
        .wait_for(timeout=60_000)


@pytest.mark.browser
def test_owner_and_tier_on_the_map_then_decisions_kept_in_the_register(city, tmp_path):
    store = tmp_path / "register.sqlite"
    with app_in_browser(store, height=1000, last_shot="journey-reconcile-last.png") as (url, page, blocked):
        _load(page, url, city)
        # 1. The map: the anchor's titles drawn by tier, with a legend; a click in a parcel names who holds it
        page.get_by_role("link", name="Map").click()
        page.get_by_text(re.compile(rf"Titles of {RECONCILE_ANCHOR} placed on the map")).wait_for(timeout=90_000)
        frame = page.frame_locator("iframe[title*='streamlit_folium']").first
        frame.locator(".leaflet-container").wait_for(timeout=90_000)
        inner = next(f for f in page.frames if f.url and "streamlit_folium" in f.url)
        lat, lon = city["click"]
        xy = inner.evaluate(f"""() => {{ const m = window.map; m.setView([{lat}, {lon}], 19, {{animate: false}});
            const p = m.latLngToContainerPoint([{lat}, {lon}]); return [p.x, p.y]; }}""")
        page.wait_for_timeout(800)
        assert frame.locator("path.am-title").count() >= 1  # the placed titles, drawn at street zoom
        inner.evaluate("() => window.map.setZoom(17, {animate: false})")
        page.wait_for_timeout(800)
        screenshot(page, "journey-titles.png")
        xy = inner.evaluate(f"""() => {{ const m = window.map; m.setView([{lat}, {lon}], 19, {{animate: false}});
            const p = m.latLngToContainerPoint([{lat}, {lon}]); return [p.x, p.y]; }}""")
        page.wait_for_timeout(800)
        frame.locator(".leaflet-container").click(position={"x": xy[0], "y": xy[1]})
        page.get_by_text("Who owns this parcel?").wait_for(timeout=60_000)
        words = page.get_by_text(re.compile(rf"Registered freehold parcel \(INSPIRE ID {city['parcel_id']}\)"))
        words.wait_for(timeout=30_000)
        said = words.inner_text()
        assert f"{RECONCILE_ANCHOR} holds title AGL3 here (placed by postcode with one parcel; the proprietor " \
               f"is {RECONCILE_ANCHOR} by the anchor's own name; approximate" in said, said
        page.get_by_role("link", name="Title search at HM Land Registry").wait_for(timeout=30_000)
        screenshot(page, "journey-who-owns.png")

        # 2. The Land ownership page: the report; confirm one match, reject another
        page.get_by_role("link", name="Land ownership").click()
        page.get_by_text("Confirm or reject a row").wait_for(timeout=90_000)
        _decide(page, "AGL3", "Confirm", "the yard is part of Love Lane Hall")
        _decide(page, "AGL5", "Reject", "sold in 2019")
        page.get_by_text(re.compile(r"Decisions recorded \(2\)")).wait_for(timeout=60_000)
        screenshot(page, "journey-reconcile.png")
        # an alias typed on the page, with why: kept in the register, its note and the table's history shown
        page.get_by_text("Other names this anchor holds land under").click()
        page.get_by_label("Or type a name or company number").fill("09999999")
        page.get_by_label("Note (why; kept with the alias)").fill("its trading company")
        page.get_by_role("button", name="Add to the alias table").click()
        page.get_by_text(re.compile(r"Added to the alias table of .*kept in the register")).wait_for(timeout=60_000)
        aliases = page.locator("[data-testid=stExpander]").filter(has_text="Other names this anchor holds land under")
        aliases.get_by_text("History of the alias table kept in the register").wait_for(timeout=30_000)
        assert aliases.locator("[data-testid=stDataFrame]").count() == 2  # the table in use, and its history
        aliases.get_by_text("History of the alias table kept in the register").scroll_into_view_if_needed()
        screenshot(page, "journey-aliases.png", full_page=False)
        wait_until_idle(page)  # the download buttons are drawn after the decisions: take this run's file
        with page.expect_download(timeout=120_000) as info:
            page.get_by_role("button", name="Download the report (Excel)").click()
        saved = tmp_path / info.value.suggested_filename
        info.value.save_as(saved)
        import pandas as pd

        sheet = pd.read_excel(saved, sheet_name="reconciliation", dtype=str)
        by_title = sheet.groupby("title_number")["decision"].agg(lambda v: sorted(v.dropna()))
        assert by_title["AGL3"] == ["confirmed"] and by_title["AGL5"] == ["rejected"]  # one of its two addresses
        assert sheet.loc[sheet["title_number"] == "AGL3", "tier"].tolist() == ["postcode with one parcel"]

        # 3. A reload is a new session: the files are loaded again, and the decisions are still there
        page.reload()
        _load(page, url, city)
        page.get_by_role("link", name="Land ownership").click()
        page.get_by_text(re.compile(r"Decisions recorded \(2\)")).wait_for(timeout=90_000)
        table = page.locator("[data-testid=stDataFrame]:visible").first  # the report (the alias tables are folded)
        table.wait_for(timeout=30_000)
        screenshot(page, "journey-reconcile-reloaded.png")
        page.get_by_text(re.compile(r"Decisions recorded \(2\)")).click()
        trail = page.locator("[data-testid=stExpander]").filter(has_text="Decisions recorded")
        trail.locator("[data-testid=stDataFrame]").wait_for(timeout=30_000)
        assert all("tile.openstreetmap.org" in u or "basemaps" in u for u in blocked), blocked
    from assets_map.store import LOCAL_USER, SqliteStore
    from assets_map.store.decisions import decisions

    kept = decisions(SqliteStore(store), RECONCILE_ANCHOR, role=LOCAL_USER)
    assert sorted(zip(kept["title_number"], kept["decision"], kept["note"], strict=True)) == [
        ("AGL3", "confirmed", "the yard is part of Love Lane Hall"), ("AGL5", "rejected", "sold in 2019")]
