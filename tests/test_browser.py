"""The app in Debian chromium through Playwright, with every non-local request blocked.

A fixture starts ``streamlit run app.py`` on a free port, waits for /_stcore/health and
stops it afterwards. Skipped (with the reason) when /usr/bin/chromium or Playwright is
missing, unless ASSETS_MAP_REQUIRE_BROWSER=1 (CI), which turns the skip into a failure.
"""
from __future__ import annotations

import html
import time

import pyogrio
import pytest

from assets_map.maps.draw import map_data
from tests.helpers import MAP_IFRAME, offline_context

pytestmark = pytest.mark.browser

HTML_NAME = "<img src=x onerror=alert(1)> depot (fictional test of escaping)"

# Every asset feature Leaflet draws (the selection outline excluded), with its screen position
# inside the map iframe and whether it is the topmost element there (so a click hits it).
FEATURES_JS = """() => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  const out = [];
  map.eachLayer(l => {
    const p = l.feature && l.feature.properties;
    if (!p || !p.asset_id || !l._path || (l.options && l.options.weight === 4)) return;
    const ll = l.getLatLng ? l.getLatLng() : l.getCenter();
    const pt = map.latLngToContainerPoint(ll);
    const r = map.getContainer().getBoundingClientRect();
    const top = document.elementFromPoint(r.left + pt.x, r.top + pt.y);
    out.push({id: p.asset_id, name: p.name, x: pt.x, y: pt.y, top: top === l._path, point: !!l.getLatLng});
  });
  return out;
}"""


@pytest.fixture
def page(browser, server):
    """A fresh page with no network but localhost; it records blocked URLs, dialogs and page errors."""
    context, blocked = offline_context(browser, server, accept_downloads=True)
    dialogs = []
    # A flag any injected script would set, in the page and in every frame.
    context.add_init_script("window.__xss = false; window.alert = (m) => { window.__xss = true; };")
    pg = context.new_page()
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.blocked, pg.dialogs = blocked, dialogs
    yield pg
    context.close()


def open_map(page, url: str):
    page.goto(url + "/")
    frame_loc = page.frame_locator(MAP_IFRAME)
    frame_loc.locator(".leaflet-container").wait_for(timeout=90_000)
    iframe = page.locator(MAP_IFRAME)
    # Wait until Leaflet has drawn the features.
    frame = iframe.element_handle().content_frame()
    frame.wait_for_function("() => document.querySelectorAll('path.leaflet-interactive').length > 0",
                            timeout=60_000)
    return frame_loc, frame


def no_script_ran(page) -> bool:
    frames_ok = all(not f.evaluate("() => window.__xss === true") for f in page.frames if not f.is_detached())
    return frames_ok and not page.dialogs


def test_starts_on_the_demo_with_no_network_and_draws_every_placed_asset(page, server, demo_result):
    _, frame = open_map(page, server)
    page.get_by_text("Fictional demo town (Ashbridge)").first.wait_for(state="visible", timeout=30_000)
    feats = frame.evaluate(FEATURES_JS)
    expected = map_data(demo_result.assets, demo_result.needs).asset_count
    assert len(feats) == expected == 292
    assert len({f["id"] for f in feats}) == expected
    # Need areas drawn too, and the map has a size (the CDN failure mode was a 0-pixel map).
    assert frame.locator("path.leaflet-interactive").count() >= expected + len(demo_result.needs)
    box = page.locator(MAP_IFRAME).bounding_box()
    assert box["height"] > 400 and box["width"] > 400
    # Tiles were asked for and blocked: nothing else was.
    assert page.blocked and all("tile" in u or "basemaps" in u for u in page.blocked), page.blocked[:5]
    assert no_script_ran(page)


def test_clicking_a_site_on_the_map_shows_its_card(page, server):
    frame_loc, frame = open_map(page, server)
    feats = frame.evaluate(FEATURES_JS)
    target = next(f for f in feats if f["top"] and f["point"] and 60 < f["y"] < 500 and f["x"] > 280
                  and "onerror" not in f["name"])
    frame_loc.locator(".leaflet-container").click(position={"x": target["x"], "y": target["y"]}, force=True)
    page.get_by_text("Why this site is here").wait_for(timeout=60_000)
    name = target["name"].replace("&amp;", "&").replace("&#x27;", "'")
    page.get_by_role("heading", name=name).first.wait_for(state="visible", timeout=30_000)
    # The sites table ticks the clicked site, and the map outlines it without a rebuild.
    frame = page.locator(MAP_IFRAME).element_handle().content_frame()
    frame.wait_for_function("() => { const m = Object.values(window).find(v => v instanceof L.Map); let n = 0;"
                            " m.eachLayer(l => { if (l.options && l.options.weight === 4) n++; }); return n === 1; }",
                            timeout=30_000)
    assert no_script_ran(page)


def test_html_named_asset_runs_no_script_in_tooltip_or_card(page, server):
    open_map(page, server)
    # Filter to the one asset whose name is HTML: the map then draws it alone.
    search = page.get_by_role("textbox", name="Search name, address or UPRN")
    search.fill("onerror")
    search.press("Enter")
    page.get_by_text("1 of 300 sites shown").wait_for(timeout=60_000)
    frame_loc = page.frame_locator(MAP_IFRAME)
    deadline = time.time() + 60
    feats = []
    while time.time() < deadline:
        try:
            if page.locator(MAP_IFRAME).count() != 1:  # the old map is still being replaced
                raise RuntimeError
            frame = page.locator(MAP_IFRAME).element_handle().content_frame()
            feats = frame.evaluate(FEATURES_JS)
        except Exception:  # the iframe is being replaced by the filtered map
            feats = []
        if len(feats) == 1:
            break
        time.sleep(0.5)
    assert len(feats) == 1 and "onerror" in feats[0]["name"], feats
    evil = feats[0]
    container = frame_loc.locator(".leaflet-container")
    container.hover(position={"x": evil["x"], "y": evil["y"]}, force=True)
    tooltip = frame_loc.locator(".leaflet-tooltip").first
    tooltip.wait_for(timeout=10_000)
    assert "<img src=x onerror=alert(1)> depot" in tooltip.inner_text()  # shown as text
    assert frame.locator(".leaflet-tooltip img").count() == 0
    container.click(position={"x": evil["x"], "y": evil["y"]}, force=True)
    page.get_by_text("Why this site is here").wait_for(timeout=60_000)
    page.get_by_role("heading", name=HTML_NAME).first.wait_for(timeout=30_000)
    assert page.locator("img[src='x']").count() == 0
    time.sleep(1)
    assert no_script_ran(page), page.dialogs
    # Control: the same markup inserted as HTML does run, and the check sees it.
    page.evaluate("() => document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=alert(1)>')")
    page.wait_for_function("() => window.__xss === true", timeout=10_000)
    assert not no_script_ran(page)


def test_geopackage_download_reads_back_with_the_same_rows(page, server, demo_result, tmp_path):
    page.goto(server + "/download")
    button = page.get_by_role("button", name="Download 300 sites as GeoPackage")
    button.wait_for(timeout=90_000)
    with page.expect_download(timeout=60_000) as info:
        button.click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.suffix == ".gpkg"
    layers = [name for name, _ in pyogrio.list_layers(path)]
    assert layers[:4] == ["assets", "candidates", "needs", "summary"], "the CLI's layers, named as the CLI names them"
    sites = pyogrio.read_dataframe(path, layer="assets")
    assert len(sites) == len(demo_result.assets) == 300
    assert set(sites["asset_id"]) == set(demo_result.assets["asset_id"])


def test_a_bad_upload_shows_an_error_and_the_demo_stays(page, server, tmp_path):
    page.goto(server + "/data")
    page.get_by_text("Asset register (CSV").first.wait_for(timeout=90_000)
    bad = tmp_path / "broken_register.csv"
    bad.write_text("AssetCode,PropertyName\n")
    areas = tmp_path / "areas.geojson"
    areas.write_text('{"type": "FeatureCollection", "features": []}')
    inputs = page.locator("input[type=file]")
    inputs.nth(0).set_input_files(bad)
    page.get_by_text("broken_register.csv").first.wait_for(timeout=30_000)
    inputs.nth(1).set_input_files(areas)
    page.get_by_text("areas.geojson").first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Check these files").click()
    err = page.get_by_text("These files could not be used")
    err.wait_for(timeout=60_000)
    body = page.locator("[data-testid=stAlert]").filter(has_text="could not be used").inner_text()
    assert "broken_register.csv" in body and "data in use has not changed" in body
    page.get_by_role("link", name="Map").click()  # same session
    page.get_by_text("300 of 300 sites shown").wait_for(timeout=60_000)
    page.get_by_text("Fictional demo town (Ashbridge)").first.wait_for(state="visible", timeout=30_000)


def test_selecting_a_row_in_the_table_shows_it_on_the_map_and_in_the_card(page, server, demo_result):
    from assets_map.ui.map_page import PRIORITY_ORDER

    _, frame = open_map(page, server)
    # The table's order on first load: priority, then need decile (no site selected yet).
    a = demo_result.assets.assign(_o=demo_result.assets["priority"].map(PRIORITY_ORDER))
    order = a.sort_values(["_o", "need_decile"], kind="stable", na_position="last")
    want = order.iloc[1]
    grid = page.locator("[data-testid=stDataFrame]").first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    # Row-selection checkbox of the second data row (header and rows are 35 px high).
    page.mouse.click(box["x"] + 18, box["y"] + 35 * 2 + 18)
    page.get_by_role("heading", name=want["name"]).first.wait_for(timeout=60_000)
    frame = page.locator(MAP_IFRAME).element_handle().content_frame()
    frame.wait_for_function(
        "(id) => { const m = Object.values(window).find(v => v instanceof L.Map); let hit = false;"
        " m.eachLayer(l => { if (l.options && l.options.weight === 4 && l.feature"
        " && l.feature.properties.asset_id === id) hit = true; }); return hit; }",
        arg=want["asset_id"], timeout=30_000)
    assert no_script_ran(page)


def test_pan_and_zoom_do_not_rerun_the_app_or_rebuild_the_map(page, server):
    sent = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(time.time())))
    frame_loc, frame = open_map(page, server)
    frame.evaluate("() => { window.__mark = 42; }")
    view_js = ("() => { const m = Object.values(window).find(v => v instanceof L.Map);"
               " const c = m.getCenter(); return [m.getZoom(), c.lat, c.lng]; }")
    view0 = frame.evaluate(view_js)
    time.sleep(3)  # let the first run and the component's first value settle
    before = len(sent)
    frame_loc.locator(".leaflet-control-zoom-in").click()
    time.sleep(1)
    container = frame_loc.locator(".leaflet-container")
    box = container.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + 80)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + 200, steps=8)
    page.mouse.up()
    time.sleep(3)
    assert len(sent) == before, "panning or zooming sent a rerun to the server"
    frame = page.locator(MAP_IFRAME).element_handle().content_frame()
    assert frame.evaluate("() => window.__mark") == 42, "the map was rebuilt"
    view1 = frame.evaluate(view_js)
    assert view1[0] == view0[0] + 1 and (view1[1], view1[2]) != (view0[1], view0[2]), (view0, view1)
    # A click on a site does rerun (control: the recorder sees messages).
    feats = frame.evaluate(FEATURES_JS)
    target = next(f for f in feats if f["top"] and 60 < f["y"] < 500 and 20 < f["x"] < box["width"] - 20
                  and f["x"] > 260)
    container.click(position={"x": target["x"], "y": target["y"]}, force=True)
    page.get_by_text("Why this site is here").wait_for(timeout=60_000)
    assert len(sent) > before


def test_a_filter_change_redraws_the_sites_without_reloading_the_map(page, server, demo_result):
    """Issue 19: a filter swaps the sites in the map already on the page (the iframe is not reloaded).

    Before, every filter change built a new map (its sites inside it), which st_folium remounted: the
    iframe reloaded Leaflet and every layer, and a mark left on its window was gone.
    """
    from assets_map.engine.filters import Filters, prepare

    _, frame = open_map(page, server)
    a = demo_result.assets
    frame.wait_for_function(f"() => ({FEATURES_JS})().length === 292", timeout=60_000)
    frame.evaluate("() => { window.__mark = 42; }")
    view = a[prepare(a).mask(Filters(text="park")).mask]
    want = sorted(view.loc[~(view.geometry.isna() | view.geometry.is_empty), "asset_id"])
    assert 0 < len(want) < 292
    search = page.get_by_role("textbox", name="Search name, address or UPRN")
    search.fill("park")
    search.press("Enter")
    page.get_by_text(f"{len(view):,} of {len(a):,} sites shown").wait_for(timeout=60_000)
    frame.wait_for_function(f"() => ({FEATURES_JS})().length === {len(want)}", timeout=60_000)
    assert page.locator(MAP_IFRAME).count() == 1
    assert frame.evaluate("() => window.__mark") == 42, "the map iframe was reloaded"
    feats = frame.evaluate(FEATURES_JS)
    assert sorted(html.unescape(f["id"]) for f in feats) == want
    # One layer control, listing the swapped-in sites; a click on one of them still opens its card.
    assert frame.evaluate("() => document.querySelectorAll('.leaflet-control-layers').length") == 1
    assert "Flagged sites" in frame.locator(".leaflet-control-layers").text_content()
    target = next(f for f in feats if f["top"] and 60 < f["y"] < 480 and 40 < f["x"] < 480)
    page.frame_locator(MAP_IFRAME).locator(".leaflet-container").click(position={"x": target["x"], "y": target["y"]},
                                                                      force=True)
    page.get_by_text("Why this site is here").wait_for(timeout=60_000)
    page.get_by_role("heading", name=html.unescape(target["name"])).first.wait_for(timeout=30_000)
    assert frame.evaluate("() => window.__mark") == 42
