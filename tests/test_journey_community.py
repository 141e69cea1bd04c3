"""The community group's journey in Debian chromium at 1400x900, every non-local request blocked.

On the Trafford bundle: the group loads the files, types "Stretford" where the map asks where they
are, gets the candidate sites near it on Find a site, reads a site's card beside the map, and
downloads the site pack of its shortlist as PDF. Also: "Clear filters" empties the filter boxes
themselves, so the next page does not filter again.

Set ASSETS_MAP_SCREENSHOTS=<folder> to keep a screenshot of each step.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.helpers import MAP_IFRAME, offline_context, screenshot, upload_to_slot

pytestmark = pytest.mark.browser



def _shot(page, name: str) -> None:
    screenshot(page, f"{name}.png", full_page=False)


@pytest.fixture
def page(browser, server):
    context, blocked = offline_context(browser, server, accept_downloads=True)
    pg = context.new_page()
    pg.set_viewport_size({"width": 1400, "height": 900})
    pg.blocked = blocked
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    context.close()


def _no_traceback(page) -> None:
    assert page.locator("[data-testid=stException]").count() == 0, page.locator(
        "[data-testid=stException]").first.inner_text()


def _upload(page, slot: str, path: Path) -> None:
    upload_to_slot(page, slot, path)


def _map_frame(page):
    page.frame_locator(MAP_IFRAME).locator(".leaflet-container").wait_for(timeout=90_000)
    return page.locator(MAP_IFRAME).element_handle().content_frame()


def test_a_stretford_group_finds_sites_near_it_reads_a_card_and_downloads_a_pack(page, server, trafford, shared,
                                                                                 tmp_path):
    page.goto(server + "/data")
    page.get_by_text("Asset register (CSV").first.wait_for(timeout=90_000)
    _upload(page, "Asset register", trafford["register"])
    _upload(page, "Need area boundaries", trafford["lsoa21"])
    _upload(page, "Deprivation data", trafford["imd2025"])
    _upload(page, "Postcode directory", trafford["postcodes"])
    _upload(page, "Wards", shared("trafford", "wards23_boundaries.geojson"))
    page.get_by_text(re.compile(r"Ready to check: .*wards23_boundaries\.geojson")).wait_for(timeout=60_000)
    time.sleep(1)
    page.get_by_role("button", name="Check these files").click()
    page.get_by_text("Check before you use it").wait_for(timeout=300_000)
    _no_traceback(page)
    page.get_by_role("button", name="Use this data").click()
    page.get_by_text("Now showing").first.wait_for(timeout=60_000)
    page.get_by_role("link", name="Map").click()
    frame = _map_frame(page)
    page.get_by_text("608 of 608 sites shown").wait_for(timeout=60_000)
    # The map is in the first view of a 1400x900 screen, with the group's place names drawn on it
    # although the tiles are blocked (the page noticed, and says so on the map).
    box = page.locator(MAP_IFRAME).bounding_box()
    assert box["y"] < 450 and box["height"] >= 450, box
    frame.wait_for_function("() => document.querySelector('.leaflet-container').dataset.tiles === 'failed'",
                            timeout=30_000)
    labels = frame.evaluate("() => [...document.querySelectorAll('.am-label')].map(e => e.textContent)")
    assert "Stretford & Humphrey Park" in labels and "Old Trafford" in labels
    assert frame.locator(".am-tile-note").inner_text().startswith("Map tiles could not be loaded")
    # The uploaded wards are a layer of the map.
    assert frame.evaluate("() => { const m = Object.values(window).find(v => v instanceof L.Map); let n = 0;"
                          " m.eachLayer(l => { if (l.feature && l.feature.properties.ward_name) n++; }); return n; }") == 21
    _shot(page, "1_map_trafford")

    # Where are you? "Stretford".
    search = page.get_by_role("textbox", name="Find a place")
    search.fill("Stretford")
    search.press("Enter")
    page.get_by_text(re.compile(r"Near here:.*Stretford")).first.wait_for(timeout=60_000)
    frame = _map_frame(page)
    frame.wait_for_function("() => { const m = Object.values(window).find(v => v instanceof L.Map); let hit = false;"
                            " m.eachLayer(l => { if (l instanceof L.Circle && l.getRadius() > 500) hit = true; });"
                            " return hit; }", timeout=30_000)
    _shot(page, "2_near_stretford")
    page.get_by_role("link", name="Find sites near here").click()

    # Find a site: near the place chosen on the map, land or building.
    page.get_by_role("heading", name="Find a site").wait_for(timeout=60_000)
    page.get_by_text("Near a place", exact=True).click()
    page.get_by_text(re.compile(r"^Near Stretford")).first.wait_for(timeout=30_000)
    page.get_by_text("either", exact=True).click()
    time.sleep(1)
    page.get_by_role("button", name="Find sites").click()
    heading = page.get_by_role("heading", name=re.compile(r"\d+ sites? for a food hub"))
    heading.wait_for(timeout=120_000)
    found = int(re.match(r"(\d+)", heading.inner_text()).group(1))
    assert found >= 3, heading.inner_text()
    _no_traceback(page)
    searched = page.get_by_text(re.compile(r"Searched within \d+ m of Stretford")).first.inner_text()
    assert "outside the area chosen" in searched
    _shot(page, "3_finder_results")
    # The first site: open its card beside the map.
    first = page.locator("[data-testid=stExpander]").first
    label = first.locator("summary").inner_text()
    name = re.search(r"1\. (.+) \([^()]+\)\s*$", label, re.S).group(1).strip()
    first.locator("summary").click()
    first.get_by_role("button", name="Add to shortlist").click()
    time.sleep(1)
    first.get_by_role("button", name="Open its card on the map").click()
    page.get_by_text("Why this site is here").wait_for(timeout=60_000)
    page.get_by_role("heading", name=name).first.wait_for(timeout=30_000)
    _map_frame(page)
    card = page.locator(".st-key-site_card")
    text = card.inner_text()
    # Reasons first, then the owner and how to reach them, then the routes, then the facts.
    order = [text.index(s) for s in ("Why this site is here", "Owner and how to reach them",
                                     "routes to community ownership", "Facts")]
    assert order == sorted(order), order
    owner = text[text.index("Owner and how to reach them"):].splitlines()[0]
    assert "Trafford" in owner, owner
    # The card is beside the map, not below it, and its facts are not in a scrolling table of their own.
    cbox, mbox = card.bounding_box(), page.locator(MAP_IFRAME).bounding_box()
    assert cbox["x"] > mbox["x"] + mbox["width"] - 5 and cbox["y"] < mbox["y"] + mbox["height"]
    assert card.locator("[data-testid=stDataFrame]").count() == 0
    for fact in ("Owner", "Size", "Location", "Record date", "Asset id"):
        assert card.get_by_text(fact, exact=True).count() >= 1, fact
    _shot(page, "4_card")

    # The site pack of the shortlist, as PDF.
    page.get_by_role("link", name="Site pack").click()
    page.get_by_role("button", name="Make the site pack").wait_for(timeout=60_000)
    page.get_by_role("button", name="Make the site pack").click()
    download = page.get_by_role("button", name="Download PDF")
    download.wait_for(timeout=180_000)
    _no_traceback(page)
    with page.expect_download(timeout=120_000) as info:
        download.click()
    pdf = tmp_path / info.value.suggested_filename
    info.value.save_as(pdf)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    from pypdf import PdfReader

    assert name[:30] in " ".join(p.extract_text() for p in PdfReader(pdf).pages)
    _shot(page, "5_site_pack")
    # Nothing but tiles was asked of the network.
    assert all("tile" in u or "basemaps" in u for u in page.blocked), [u for u in page.blocked if "tile" not in u][:5]


def test_a_click_on_the_map_sets_near_here_without_remounting_the_map(page, server):
    page.goto(server + "/")
    frame = _map_frame(page)
    page.get_by_text("300 of 300 sites shown").wait_for(timeout=60_000)
    frame.wait_for_function("() => document.querySelectorAll('path.leaflet-interactive').length > 0", timeout=60_000)
    time.sleep(2)
    frame.evaluate("() => { window.__mark = 42; }")
    # A point of the map with no site on it (a need area there is fine).
    spot = frame.evaluate("""() => {
      const m = Object.values(window).find(v => v instanceof L.Map), r = m.getContainer().getBoundingClientRect();
      for (let y = 120; y < r.height - 160; y += 17) for (let x = 80; x < r.width - 80; x += 23) {
        const e = document.elementFromPoint(r.left + x, r.top + y);
        const hit = Object.values(m._layers).find(l => l._path === e);
        if (!hit || !(hit.feature && hit.feature.properties.asset_id)) return [x, y];
      }
      return null; }""")
    assert spot, "no empty spot on the map"
    page.frame_locator(MAP_IFRAME).locator(".leaflet-container").click(position={"x": spot[0], "y": spot[1]},
                                                                      force=True)
    page.get_by_text(re.compile(r"Near here:.*point on the map")).first.wait_for(timeout=60_000)
    page.get_by_role("link", name="Find sites near here").wait_for(timeout=30_000)
    frame = page.locator(MAP_IFRAME).element_handle().content_frame()
    frame.wait_for_function("() => { const m = Object.values(window).find(v => v instanceof L.Map); let hit = false;"
                            " m.eachLayer(l => { if (l instanceof L.Circle && l.getRadius() === 1500) hit = true; });"
                            " return hit; }", timeout=30_000)
    assert frame.evaluate("() => window.__mark") == 42, "the map was mounted afresh"


def test_clear_filters_empties_the_boxes_and_the_next_page_does_not_filter_again(page, server):
    page.goto(server + "/")
    _map_frame(page)
    page.get_by_text("300 of 300 sites shown").wait_for(timeout=60_000)
    sidebar = page.locator("[data-testid=stSidebar]")
    sidebar.locator("[data-testid=stMultiSelect]").filter(has_text="Priority").locator("input").click()
    page.keyboard.type("High")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.get_by_text("300 of 300 sites shown").wait_for(state="detached", timeout=60_000)
    page.get_by_text(re.compile(r"^\d+ of 300 sites shown")).first.wait_for(timeout=60_000)
    chips = sidebar.locator("[data-testid=stMultiSelect] [data-tag]")
    assert chips.count() == 1
    sidebar.get_by_role("button", name="Clear filters").click()
    page.get_by_text("300 of 300 sites shown").wait_for(timeout=60_000)
    deadline = time.time() + 20
    while chips.count() and time.time() < deadline:
        time.sleep(0.3)
    assert chips.count() == 0, "the filter box still shows its choices after Clear filters"
    page.get_by_role("link", name="Summary").click()
    page.get_by_text(re.compile(r"of 300 sites shown")).first.wait_for(timeout=60_000)
    time.sleep(2)
    assert page.get_by_text("300 of 300 sites shown").count() == 1
