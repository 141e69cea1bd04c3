"""What the app benchmarks measure in the browser: when the map has drawn, and the bytes on the way.

Timed in the browser, on one clock (``Date.now()``, shared by the page and its frames):

* the **input**: a capturing listener on the page records every Enter key and mouse press;
* **drawn**: an observer in the map's iframe, installed when the iframe loads (so a reloaded map is
  followed too), counts after every change to the page, at the next animation frame, the features
  Leaflet has on the map: sites, clusters, LSOAs and other need areas. "Drawn" is the first such
  frame after the input whose counts are what was expected (or differ from before).

Bytes: every websocket frame (both ways, Playwright) and every HTTP response (encoded length with
headers, from the Chrome DevTools Protocol), stamped with the wall clock when Python hears of them.
"""
from __future__ import annotations

import time

IFRAME = 'iframe[title="streamlit_folium.st_folium"]'

INIT_JS = """(() => {
  if (window.top !== window) return;
  window.__inputs = [];
  window.__ws = [];  // [Date.now(), bytes] of each websocket message the page receives
  const OWS = window.WebSocket;
  const WS = function (...a) {
    const ws = new OWS(...a);
    ws.addEventListener('message', e => window.__ws.push([Date.now(), e.data.byteLength || e.data.size || e.data.length || 0]));
    return ws;
  };
  WS.prototype = OWS.prototype;
  ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'].forEach(k => { WS[k] = OWS[k]; });
  window.WebSocket = WS;
  document.addEventListener('keydown', e => { if (e.key === 'Enter') window.__inputs.push(Date.now()); }, true);
  document.addEventListener('mousedown', () => window.__inputs.push(Date.now()), true);
  const probe = (w) => {
    if (w.__draws) return;
    w.__draws = [];
    const count = () => {
      const m = w.map, c = {sites: 0, clusters: 0, lsoa: 0, areas: 0};
      if (!m || !w.L) return null;
      m.eachLayer(l => {
        const p = l.feature && l.feature.properties;
        if (!p || !l._path || (l.options && l.options.weight === 4)) return;
        if (p.asset_id) c.sites++; else if (p.count) c.clusters++;
        else if (p.code !== undefined) { if (/^E01|^W01/.test(p.code)) c.lsoa++; else c.areas++; }
      });
      return c;
    };
    let pending = false;
    new w.MutationObserver(() => {
      if (pending) return;
      pending = true;
      w.requestAnimationFrame(() => { pending = false; w.__draws.push([Date.now(), count()]); });
    }).observe(w.document.documentElement, {childList: true, subtree: true});
  };
  const watch = (f) => {
    if (f.__watched) return;
    f.__watched = true;
    f.addEventListener('load', () => {
      try { if (f.contentWindow.location.pathname.indexOf('streamlit_folium') >= 0) probe(f.contentWindow); }
      catch (e) {}
    });
  };
  new MutationObserver(() => document.querySelectorAll('iframe').forEach(watch))
    .observe(document, {childList: true, subtree: true});
})();"""


class Traffic:
    """Websocket frames and HTTP responses of a page: ``(wall time, kind, bytes)``."""

    def __init__(self, page):
        self.log: list[tuple[float, str, int]] = []
        page.on("websocket", lambda ws: (
            ws.on("framereceived", lambda d: self.log.append((time.time(), "ws_in", len(d)))),
            ws.on("framesent", lambda d: self.log.append((time.time(), "ws_out", len(d))))))
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.on("Network.loadingFinished", lambda e: self.log.append((time.time(), "http", int(e["encodedDataLength"]))))

    def between(self, t0_ms: float, t1_ms: float) -> dict:
        """Bytes by kind from ``t0_ms`` to ``t1_ms`` (``Date.now()`` milliseconds) and their total."""
        out = {"ws_in": 0, "ws_out": 0, "http": 0}
        for t, kind, n in self.log:
            if t0_ms - 5 <= t * 1000 <= t1_ms + 50:  # Python hears of a frame a little after the page has it
                out[kind] += n
        out["total"] = sum(out.values())
        return out


def map_frame(page):
    """The map iframe's frame (``None`` while it is being replaced)."""
    try:
        if page.locator(IFRAME).count() != 1:
            return None
        return page.locator(IFRAME).element_handle().content_frame()
    except Exception:  # being replaced
        return None


def last_input(page) -> float:
    """``Date.now()`` of the last Enter or mouse press on the page."""
    return page.evaluate("() => window.__inputs[window.__inputs.length - 1]")


def wait_drawn(page, since_ms: float, predicate: str, timeout_s: float = 120) -> tuple[float, dict]:
    """The first frame after ``since_ms`` whose counts ``c`` satisfy the JS ``predicate``: (its time, c)."""
    deadline = time.time() + timeout_s
    js = f"([t]) => (window.__draws || []).find(([at, c]) => at > t && c && ({predicate})) || null"
    while time.time() < deadline:
        frame = map_frame(page)
        try:
            hit = frame.evaluate(js, [since_ms]) if frame else None
        except Exception:  # the frame went away while asked
            hit = None
        if hit:
            return hit[0], hit[1]
        time.sleep(0.02)
    raise TimeoutError(f"the map never drew {predicate}")


def ws_since(page, since_ms: float, until_ms: float) -> list[tuple[float, int]]:
    """The websocket messages the page received from ``since_ms`` to ``until_ms``: (ms after ``since_ms``, bytes)."""
    return [(round(t - since_ms), n) for t, n in page.evaluate("() => window.__ws || []")
            if since_ms <= t <= until_ms]


def current_counts(page) -> dict | None:
    """The counts of the last frame the map drew."""
    frame = map_frame(page)
    return frame.evaluate("() => { const d = window.__draws || []; return d.length ? d[d.length - 1][1] : null; }")


def mark_map(page) -> None:
    """Leave a mark on the map iframe's window (gone if the iframe reloads)."""
    map_frame(page).evaluate("() => { window.__mark = 42; }")


def map_kept(page) -> bool:
    """Whether the mark left by :func:`mark_map` is still there (the iframe was not reloaded)."""
    frame = map_frame(page)
    return bool(frame and frame.evaluate("() => window.__mark === 42"))
