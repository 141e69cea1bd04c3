"""The national map in Debian chromium: it follows zooms without remounting, shows sites one by one.

A national-size dataset is generated here (3,500 square "LSOAs" in 35 "authorities" around
Manchester, 6,000 generated register rows placed in them by ``bench/generate.register``) and
uploaded through the "Your data" page like a user's files, so the map page uses the national
display (more than 3,000 need areas and 5,000 assets). Then, inside the map's iframe, Leaflet is
zoomed onto a neighbourhood as a user would; the app reruns (st_folium reports bounds and zoom)
and sends the layers for that view as st_folium feature groups, which must replace the
aggregated layers without remounting the map or moving it.

Skipped like tests/test_browser.py when chromium or Playwright is missing, unless
ASSETS_MAP_REQUIRE_BROWSER=1.
"""
from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from bench.generate import register
from tests.helpers import MAP_IFRAME, offline_context, upload_to_slot

pytestmark = pytest.mark.browser

N_X, N_Y, CELL, N_ASSETS = 70, 50, 1000.0, 6000
MAX_RENDER_BYTES = 5_000_000

# What the map draws now: need features by level, asset features one by one or as clusters, and the view.
DRAWN_JS = """() => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  const out = {lsoa: 0, authority: 0, sites: 0, clusters: 0, ids: []};
  map.eachLayer(l => {
    const p = l.feature && l.feature.properties;
    if (!p || !l._path || (l.options && l.options.weight === 4)) return;
    if (p.code !== undefined && p.asset_id === undefined) {
      if (/^E01/.test(p.code)) out.lsoa++; else out.authority++;
    } else if (p.asset_id) { out.sites++; out.ids.push(p.asset_id); }
    else if (p.count) out.clusters++;
  });
  const c = map.getCenter();
  out.zoom = map.getZoom(); out.lat = c.lat; out.lng = c.lng; out.mark = window.__mark || null;
  return out;
}"""

# Asset features on screen, topmost where they are drawn (so a click hits them), as in tests/test_browser.py.
SITES_JS = """() => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  const out = [];
  map.eachLayer(l => {
    const p = l.feature && l.feature.properties;
    if (!p || !p.asset_id || !l._path || (l.options && l.options.weight === 4)) return;
    const pt = map.latLngToContainerPoint(l.getLatLng ? l.getLatLng() : l.getCenter());
    const r = map.getContainer().getBoundingClientRect();
    const top = document.elementFromPoint(r.left + pt.x, r.top + pt.y);
    out.push({id: p.asset_id, name: p.name, x: pt.x, y: pt.y, top: top === l._path});
  });
  return out;
}"""


def national_files(folder) -> dict:
    """A register, LSOA-like boundaries and an IMD table big enough for the national display."""
    i, j = np.meshgrid(np.arange(N_X), np.arange(N_Y))
    i, j = i.ravel(), j.ravel()
    x0, y0 = 370_000 + i * CELL, 380_000 + j * CELL
    lad = (i // 10) * 10 + (j // 10)
    codes = [f"E01{k + 100_000:06d}" for k in range(len(i))]
    lsoas = gpd.GeoDataFrame({"LSOA21CD": codes,
                              "LSOA21NM": [f"Borough{b:02d} {k % 1000:03d}{'ABCD'[k % 4]}" for k, b in enumerate(lad)]},
                             geometry=shapely.box(x0, y0, x0 + CELL, y0 + CELL), crs=27700)
    rank = np.random.default_rng(5).permutation(len(i)) + 1
    paths = {"register": folder / "national_register.gpkg", "boundaries": folder / "national_lsoas.gpkg",
             "deprivation": folder / "national_imd.csv"}
    pyogrio.write_dataframe(lsoas, paths["boundaries"], layer="lsoas", driver="GPKG")
    pd.DataFrame({"lsoa21cd": codes, "IMD_rank": rank,
                  "IMD_decile": np.ceil(rank / len(i) * 10).astype(int)}).to_csv(paths["deprivation"], index=False)
    pyogrio.write_dataframe(register(N_ASSETS, lsoas, kind="points", seed=3), paths["register"], layer="assets",
                            driver="GPKG")
    return paths


def _bng_to_wgs84(x: float, y: float) -> tuple[float, float]:
    p = gpd.GeoSeries([shapely.Point(x, y)], crs=27700).to_crs(4326).iloc[0]
    return p.y, p.x


@pytest.fixture(scope="module")
def national(browser, server, tmp_path_factory):  # noqa: F811 (fixtures imported above)
    """One browser page with the national dataset in use on the Map page; records websocket frames received."""
    paths = national_files(tmp_path_factory.mktemp("national"))
    context, blocked = offline_context(browser, server)
    page = context.new_page()
    frames: list[tuple[float, int]] = []
    sent: list[tuple[float, int]] = []  # what the browser sends: rerun requests with the component's value

    def watch(ws):
        ws.on("framereceived", lambda payload: frames.append((time.time(), len(payload))))
        ws.on("framesent", lambda payload: sent.append((time.time(), len(payload))))

    page.on("websocket", watch)
    page.goto(server + "/data")
    page.get_by_text("Asset register (CSV").first.wait_for(timeout=90_000)
    for slot, kind in (("Asset register", "register"), ("Need area boundaries", "boundaries"),
                       ("Deprivation data", "deprivation")):
        upload_to_slot(page, slot, paths[kind])
    page.get_by_role("button", name="Check these files").click()
    page.get_by_role("button", name="Use this data").click(timeout=120_000)
    page.get_by_text("Now showing").first.wait_for(timeout=60_000)
    page.get_by_role("link", name="Map").click()
    page.get_by_text(f"{N_ASSETS:,} of {N_ASSETS:,} sites shown").wait_for(timeout=60_000)
    page.frame_locator(MAP_IFRAME).locator(".leaflet-container").wait_for(timeout=90_000)
    page.frames_ = frames
    page.sent_ = sent
    page.blocked = blocked
    yield page
    context.close()


def _frame(page):
    return page.locator(MAP_IFRAME).element_handle().content_frame()


def _wait_drawn(page, predicate: str, timeout_s: float = 60):
    """Poll the map until ``predicate`` (a JS expression over ``d``, the DRAWN_JS result) holds; return d."""
    deadline = time.time() + timeout_s
    d = None
    while time.time() < deadline:
        try:
            d = _frame(page).evaluate(DRAWN_JS)
            if _frame(page).evaluate(f"(d) => ({predicate})", d):
                return d
        except Exception:  # the iframe is (re)loading
            pass
        time.sleep(0.2)
    raise AssertionError(f"map never reached {predicate}: last {d}")


def _settle(page, quiet_s: float = 2.0, timeout_s: float = 60):
    """Wait until no websocket frame has arrived for ``quiet_s`` (the app's rerun is over)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        last = page.frames_[-1][0] if page.frames_ else 0
        if time.time() - last > quiet_s:
            return
        time.sleep(0.2)


def _zoom_to(page, lat: float, lon: float, zoom: int) -> float:
    frame = _frame(page)
    t = time.time()
    frame.evaluate("([lat, lon, z]) => Object.values(window).find(v => v instanceof L.Map).setView([lat, lon], z,"
                   " {animate: false})", [lat, lon, zoom])
    return t


def test_zooming_in_redraws_lsoas_and_sites_for_the_view_without_jumping_back(national):
    page = national
    # Whole extent first: need by local authority, sites in clusters, and the page says so.
    start = _wait_drawn(page, "d.authority > 0 && d.clusters > 0")
    assert start["lsoa"] == 0 and start["sites"] == 0 and start["authority"] <= 40
    page.get_by_text("Need is shown by local authority").first.wait_for(timeout=30_000)
    page.get_by_text("zoom in to see them one by one").first.wait_for(timeout=30_000)
    _settle(page)
    initial = max(size for _, size in page.frames_)
    assert initial < MAX_RENDER_BYTES
    _frame(page).evaluate("() => { window.__mark = 42; }")
    lat, lon = _bng_to_wgs84(405_000, 405_000)  # the middle of the generated region
    before = len(page.frames_)
    t0 = _zoom_to(page, lat, lon, 15)
    d = _wait_drawn(page, "d.lsoa > 0 && d.sites > 0 && d.clusters === 0 && d.authority === 0")
    took = time.time() - t0
    # The same map (not remounted) still where the user put it.
    assert d["mark"] == 42, "the map was remounted"
    assert d["zoom"] == 15 and abs(d["lat"] - lat) < 1e-3 and abs(d["lng"] - lon) < 1e-3, d
    # What is drawn is that neighbourhood: LSOAs in and around the view, its sites one by one.
    assert 4 <= d["lsoa"] <= 200 and 0 < d["sites"] < 1000, d
    page.get_by_text("drawn one by one: click one to open its card").first.wait_for(timeout=30_000)
    page.get_by_text("Need is shown by neighbourhood (LSOA)").first.wait_for(timeout=30_000)
    _settle(page)
    after = [size for _, size in page.frames_[before:]]
    assert after and max(after) < MAX_RENDER_BYTES and sum(after) < MAX_RENDER_BYTES, after
    # No rerun loop: once settled, nothing more arrives and the view has not moved.
    n = len(page.frames_)
    time.sleep(3)
    assert len(page.frames_) == n, "the app kept rerunning after the redraw"
    still = _frame(page).evaluate(DRAWN_JS)
    assert (still["zoom"], round(still["lat"], 5), round(still["lng"], 5)) == (d["zoom"], round(d["lat"], 5),
                                                                             round(d["lng"], 5))
    # A small pan is served by the layers already sent (padded beyond the view): no new layers.
    ids = sorted(still["ids"])
    _frame(page).evaluate("() => Object.values(window).find(v => v instanceof L.Map).panBy([40, 0], {animate: false})")
    _settle(page)
    assert sorted(_frame(page).evaluate(DRAWN_JS)["ids"]) == ids
    # Zooming back out aggregates again, still without a remount.
    _zoom_to(page, lat, lon, 9)
    out = _wait_drawn(page, "d.clusters > 0 && d.sites === 0")
    assert out["mark"] == 42 and out["zoom"] == 9
    # Another basemap remounts the map (its tiles are part of it): it comes back where the user left it.
    _zoom_to(page, lat, lon, 14)
    _wait_drawn(page, "d.sites > 0 && d.zoom === 14")
    _settle(page)
    page.get_by_text("None (plain background)").click()
    back = _wait_drawn(page, "d.mark === null && d.sites > 0 && d.clusters === 0")
    assert back["zoom"] == 14 and abs(back["lat"] - lat) < 2e-3 and abs(back["lng"] - lon) < 2e-3, back
    _frame(page).evaluate("() => { window.__mark = 42; }")
    print(f"\nzoom to redrawn map: {took:.2f} s; frames after the zoom: {len(after)}, largest {max(after) / 1e3:.0f} kB,"
          f" total {sum(after) / 1e3:.0f} kB; initial largest frame {initial / 1e3:.0f} kB")
    assert not [u for u in page.blocked if "tile" not in u and "basemaps" not in u], page.blocked[:5]


def test_clicking_a_site_at_neighbourhood_zoom_opens_its_card(national):
    page = national
    lat, lon = _bng_to_wgs84(395_500, 398_500)
    _zoom_to(page, lat, lon, 16)
    _wait_drawn(page, f"d.sites > 0 && d.clusters === 0 && d.zoom === 16 && Math.abs(d.lng - ({lon})) < 1e-3")
    _settle(page)
    sites = _frame(page).evaluate(SITES_JS)
    target = next(s for s in sites if s["top"] and 60 < s["y"] < 500 and 60 < s["x"] < 700)
    page.frame_locator(MAP_IFRAME).locator(".leaflet-container").click(position={"x": target["x"], "y": target["y"]},
                                                                      force=True)
    page.get_by_text("Why this site is here").wait_for(timeout=60_000)
    name = target["name"].replace("&amp;", "&").replace("&#x27;", "'")
    page.get_by_role("heading", name=name).first.wait_for(state="visible", timeout=30_000)
    # The map outlines the selected site, at the same place and zoom (not remounted, not moved away).
    _frame(page).wait_for_function(
        "(id) => { const m = Object.values(window).find(v => v instanceof L.Map); let hit = false;"
        " m.eachLayer(l => { if (l.options && l.options.weight === 4 && l.feature"
        " && l.feature.properties.asset_id === id) hit = true; }); return hit && m.getZoom() === 16; }",
        arg=target["id"], timeout=30_000)


# What each layer update could leave behind: listeners on the map by event type, layers on it, the groups
# st_folium keeps, and the layer controls it has replaced that still hear map clicks.
LEFTOVERS_JS = """() => {
  const map = window.map, ev = {};
  for (const [type, handlers] of Object.entries(map._events || {})) ev[type] = handlers.length;
  const controls = (map._events.click || []).filter(h => h.ctx instanceof L.Control.Layers).length;
  let overlays = 0;  // open tooltips and popups: each listens to the map while open
  map.eachLayer(l => { if (l instanceof L.DivOverlay) overlays += 1; });
  return {events: ev, layers: Object.keys(map._layers).length, groups: (window.feature_group || []).length,
          controls, overlays};
}"""


# The layer controls hearing map clicks: whether each is st_folium's current one, still on the map, in the page.
CONTROLS_JS = """() => (window.map._events.click || []).filter(h => h.ctx instanceof L.Control.Layers).map(h => ({
  current: h.ctx === window.layer_control, on_map: !!h.ctx._map,
  in_page: !!(h.ctx._container && h.ctx._container.isConnected), layers: h.ctx._layers.length}))"""


def _live_paths(cdp, contexts: list[int]) -> int | None:
    """Leaflet paths alive in the map's page after a full garbage collection (Chrome DevTools Protocol)."""
    cdp.send("HeapProfiler.collectGarbage")
    for ctx in reversed(contexts):
        try:
            proto = cdp.send("Runtime.evaluate", {"expression": "window.map && window.L ? L.Path.prototype : undefined",
                                                  "contextId": ctx})["result"]
        except Exception:  # a context that has gone
            continue
        if proto.get("objectId"):
            found = cdp.send("Runtime.queryObjects", {"prototypeObjectId": proto["objectId"]})["objects"]
            n = cdp.send("Runtime.callFunctionOn", {"functionDeclaration": "function () { return this.length; }",
                                                    "objectId": found["objectId"], "returnByValue": True})
            for ref in (found["objectId"], proto["objectId"]):  # held objects would count as leaks next time
                cdp.send("Runtime.releaseObject", {"objectId": ref})
            return n["result"]["value"]
    return None


def test_each_zoom_leaves_nothing_behind(national):
    """Zoomed in and out again and again, the map carries the same listeners and layers each time.

    Before: every update of the layers left the replaced layer control listening to map clicks (Leaflet
    1.9's collapsed L.Control.Layers never removes that handler), one more per zoom, keeping every layer
    ever sent alive, and each zoom in the same page was slower than the last (about 3 s -> 5 s here over
    six zoom cycles, against 0.5-0.9 s flat since).
    """
    page = national
    # The pointer off the map: left where an earlier test clicked, it can rest over a site or cluster drawn
    # by a zoom, whose hover tooltip then opens and adds its own map listeners (preclick, zoom, viewreset,
    # zoomanim) to one count and not another: an open tooltip, not a leak.
    page.mouse.move(2, 2)
    _frame(page).evaluate("() => window.map.eachLayer(l => l.closeTooltip && l.closeTooltip())")
    _settle(page)  # an earlier test's last rerun over before the first zoom's requests are counted
    cdp = page.context.new_cdp_session(page)
    contexts: list[int] = []
    cdp.on("Runtime.executionContextCreated", lambda e: contexts.append(e["context"]["id"]))
    cdp.send("Runtime.enable")
    cdp.send("HeapProfiler.enable")
    lat, lon = _bng_to_wgs84(400_000, 400_000)
    seen = []
    for k in range(5):
        for zoom, drawn in ((15, f"d.sites > 0 && d.clusters === 0 && Math.abs(d.lng - ({lon + k * 0.01})) < 1e-3"),
                            (9, "d.clusters > 0 && d.sites === 0 && d.zoom === 9")):
            sent = len(page.sent_)
            _frame(page).evaluate("() => { window.__swapped = window.__GLOBAL_DATA__.last_feature_group; }")
            _zoom_to(page, lat, lon + k * 0.01, zoom)
            # Settled, provably: the zoom's rerun request went out, the layers the app sent back for it were
            # swapped in (what was drawn before could match ``drawn`` too: the last test's view, say), and
            # nothing more arrived for a while. The counts are then those of a finished swap.
            _wait_drawn(page, f"({drawn}) && window.__GLOBAL_DATA__.last_feature_group !== window.__swapped")
            _settle(page)
            left = _frame(page).evaluate(LEFTOVERS_JS)
            if left["controls"] != 1:
                left["controls_seen"] = _frame(page).evaluate(CONTROLS_JS)
            left["rerun_requests"] = len(page.sent_) - sent
            left["live_paths"] = _live_paths(cdp, contexts)
            seen.append((zoom, left))
    assert all(left["controls"] == 1 for _, left in seen), [(left["controls"], left.get("controls_seen"))
                                                            for _, left in seen]
    for zoom in (15, 9):
        at = [left for z, left in seen if z == zoom]
        # Same listeners per event type after the 5th zoom as after the 1st; one rerun request per zoom.
        assert all(left["events"] == at[0]["events"] for left in at), [
            ({k: (at[0]["events"].get(k), left["events"].get(k)) for k in set(at[0]["events"]) | set(left["events"])
              if at[0]["events"].get(k) != left["events"].get(k)}, "open overlays", at[0]["overlays"], left["overlays"])
            for left in at]
        assert all(left["groups"] == at[0]["groups"] for left in at), [left["groups"] for left in at]
        assert all(left["rerun_requests"] == 1 for left in at), [left["rerun_requests"] for left in at]
    # The zoomed-out view is the same place each time: the same layers on the map, and no more paths alive
    # than the map draws (before, every path ever sent stayed alive through the replaced layer controls).
    out = [left for z, left in seen if z == 9]
    assert len({left["layers"] for left in out}) == 1, out
    assert out[0]["live_paths"] is not None and len({left["live_paths"] for left in out}) == 1, out


# Cluster markers on screen (a count, no asset id), topmost where they are drawn.
CLUSTERS_JS = """() => {
  const map = Object.values(window).find(v => v instanceof L.Map);
  const out = [];
  map.eachLayer(l => {
    const p = l.feature && l.feature.properties;
    if (!p || p.asset_id || !p.count || !l._path) return;
    const pt = map.latLngToContainerPoint(l.getLatLng());
    const r = map.getContainer().getBoundingClientRect();
    out.push({count: p.count, x: pt.x, y: pt.y, top: document.elementFromPoint(r.left + pt.x, r.top + pt.y) === l._path});
  });
  return out;
}"""


def test_clicking_a_cluster_zooms_in_on_it(national):
    page = national
    lat, lon = _bng_to_wgs84(405_000, 405_000)
    _zoom_to(page, lat, lon, 9)
    _wait_drawn(page, "d.clusters > 0 && d.sites === 0 && d.zoom === 9")
    _settle(page)
    clusters = _frame(page).evaluate(CLUSTERS_JS)
    target = next(c for c in clusters if c["top"] and 60 < c["y"] < 500 and 60 < c["x"] < 700)
    selected = page.get_by_role("heading", level=4).all_inner_texts()  # the card open before, if any
    page.frame_locator(MAP_IFRAME).locator(".leaflet-container").click(position={"x": target["x"], "y": target["y"]},
                                                                      force=True)
    # Two levels closer, centred on the cluster; then the map redraws that view. A cluster is not a site:
    # the selection (and the card) stay as they were.
    d = _wait_drawn(page, "d.zoom === 11")
    assert d["clusters"] + d["sites"] > 0
    _settle(page)
    assert page.get_by_role("heading", level=4).all_inner_texts() == selected
