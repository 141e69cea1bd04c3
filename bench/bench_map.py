"""Time to first map and the map's payload, on the fictional demo and on the Trafford data.

Run from the project root:  python bench/bench_map.py [--runs 5] [--no-browser] [--no-engine] [--first-map]
[--compare DIR]

Measures, medians of ``--runs``:

* engine (no browser): the analysis (demo: ``load_demo``; Trafford: register + LSOA 2021 +
  IoD 2025 + postcode directory through :func:`assets_map.io.uploads.check_uploads`, as an upload),
  :func:`assets_map.maps.draw.map_data` (simplify, reproject, escape: cached per data and filters in the
  app) and :func:`~assets_map.maps.draw.render_map` + HTML rendering (done on every rerun); the HTML
  payload the browser receives, and the same with no simplification for comparison;
* browser (Debian chromium, every non-local request blocked, so tiles fail as offline), timed in the
  browser on one clock (``bench/_probe.py``: an observer in the map's iframe notes, at each animation
  frame after a change, how many sites Leaflet has on the map):

  - **first map**: from the page's navigation start (a fresh browser context: a new session) to the
    frame where the demo's every placed site is drawn;
  - **filter**: from the Enter key in "Search name, address or UPRN" to the frame where the sites of
    that filter are drawn (``park``, cleared, ``road``, cleared), and the bytes in between (websocket
    frames both ways, HTTP responses), and whether the map iframe was kept (a mark left on its window);
  - Trafford's **'Map' -> drawn**: from the click on "Map" after "Use this data" to every site drawn,
    then its filter changes as above.

  ``--first-map`` times the first map alone, two ways, with no request interception (Playwright's
  routing turns the browser's HTTP cache off and puts every request through Python): non-local hosts
  do not resolve (``--host-resolver-rules``), so tiles fail as offline. (i) **first visit**: a new
  browser context (nothing cached); (ii) **returning visitor**: a new page (a new Streamlit session:
  new websocket, new script run) in the same context after a first visit, so Streamlit's hashed
  static files come from the browser's cache as they would for anyone who has opened the app
  before. Both from navigation start to the frame where the demo's every placed site is drawn, with
  the HTTP requests of the page and the map's frame (how many, how many from the cache, bytes).

  ``--compare DIR`` starts a second app from another checkout (the code before a change) and
  interleaves the two, A B A B, each run in a fresh context; medians of ``--runs`` after one warm-up
  round, with the load average over the runs.

The filter index is timed too: building it, and one filter answer (text + decile + status), since
every page filters on every rerun.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from _timing import median_time  # bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
COUNT_JS = """() => { const m = Object.values(window).find(v => v instanceof L.Map); if (!m) return -1; let n = 0;
  m.eachLayer(l => { const p = l.feature && l.feature.properties; if (p && p.asset_id && l._path
  && !(l.options && l.options.weight === 4)) n++; }); return n; }"""
TRAFFORD = {
    "register": ("trafford", "land_and_building_assets.csv"),
    "boundaries": ("trafford", "lsoa21_boundaries.geojson"),
    "deprivation": ("england", "imd2025_lsoa21_scores_ranks_deciles.csv"),
    "postcodes": ("trafford", "postcodes_onspd_feb2025.csv"),
}


def engine(runs: int) -> list[dict]:
    from assets_map.engine.demo import load_demo
    from assets_map.engine.filters import Filters, prepare
    from assets_map.io.uploads import Upload, check_uploads
    from assets_map.maps.draw import map_data, payload_bytes, render_map

    rows = []
    cases = [("demo (fictional)", load_demo)]
    if all((SHARED / a / b).exists() for a, b in TRAFFORD.values()):
        files = {k: Upload(b, (SHARED / a / b).read_bytes()) for k, (a, b) in TRAFFORD.items()}
        cases.append(("Trafford (register + LSOA21 + IoD 2025 + postcodes)", lambda: check_uploads(files).analysis))
    for label, load in cases:
        t_load, result = median_time(load, runs)
        a, needs = result.assets, result.needs
        t_data, data = median_time(lambda a=a, needs=needs: map_data(a, needs), runs)
        t_render, html_bytes = median_time(lambda data=data: payload_bytes(render_map(data)), runs)
        raw = payload_bytes(render_map(map_data(a, needs, tolerance_m=0)))
        t_index, idx = median_time(lambda a=a: prepare(a), runs)
        f = Filters(text="e", deciles=(1, 5), statuses=("vacant", "surplus", "part-vacant"))
        t_filter, res = median_time(lambda idx=idx, f=f: idx.mask(f), max(runs, 20))
        rows.append({"data": label, "assets": len(a), "drawn": data.asset_count, "need areas": len(needs),
                     "analysis s": t_load, "map_data s": t_data, "render s": t_render,
                     "payload KB": html_bytes / 1024, "unsimplified KB": raw / 1024,
                     "filter index ms": t_index * 1000, "filter ms": t_filter * 1000})
    return rows


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(root: Path):
    """``streamlit run app.py`` of the checkout at ``root`` on a free port: (process, url)."""
    port = _port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--server.address", "127.0.0.1"],
                            cwd=root, env=dict(os.environ, PYTHONPATH=str(root)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(240):
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    return proc, url


@contextlib.contextmanager
def running_apps(roots: dict[str, Path]):
    """The app of each checkout in ``roots`` running (:func:`start_app`): yields {name: (process, url)}, then stops them."""
    apps = {name: start_app(root) for name, root in roots.items()}
    try:
        yield apps
    finally:
        for proc, _ in apps.values():
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)


#: Filters typed into "Search name, address or UPRN" (Enter), each then cleared again ("").
QUERIES = ("park", "", "road", "")


def expected_counts(assets) -> dict[str, int]:
    """Sites the map draws for each of :data:`QUERIES` (placed ones, at most the map's limit)."""
    from assets_map.engine.filters import Filters, prepare
    from assets_map.maps.draw import MAX_MAP_ASSETS

    index = prepare(assets)
    placed = ~(assets.geometry.isna() | assets.geometry.is_empty).to_numpy()
    return {q: min(int((index.mask(Filters(text=q)).mask & placed).sum()), MAX_MAP_ASSETS) for q in QUERIES}


def _filter_changes(page, traffic, want: dict[str, int]) -> list[dict]:
    """Each of :data:`QUERIES` typed and entered: from the Enter key to the map having drawn its sites."""
    from _probe import last_input, map_kept, mark_map, wait_drawn, ws_since

    rows = []
    box = page.get_by_role("textbox", name="Search name, address or UPRN")
    for q in QUERIES:
        time.sleep(1.5)  # the last rerun over
        mark_map(page)
        box.fill(q)
        box.press("Enter")
        t_in = last_input(page)
        t_drawn, _ = wait_drawn(page, t_in, f"c.sites === {want[q]}")
        while time.time() - traffic.log[-1][0] < 1.5:  # the rerun over: all it sent
            time.sleep(0.1)
        rerun = traffic.between(t_in, traffic.log[-1][0] * 1000)
        rows.append({"query": q, "ms": t_drawn - t_in, "kept": map_kept(page), **traffic.between(t_in, t_drawn),
                     "ws_ms_bytes": ws_since(page, t_in, time.time() * 1000),
                     "rerun": rerun["total"], "rerun_ws_in": rerun["ws_in"], "rerun_http": rerun["http"]})
    return rows


def _upload_trafford(page, url: str) -> None:
    page.goto(url + "/data")
    page.get_by_text("Asset register (CSV").first.wait_for(timeout=60_000)
    inputs = page.locator("input[type=file]")
    for i, kind in enumerate(TRAFFORD):
        a, name = TRAFFORD[kind]
        inputs.nth(i).set_input_files(SHARED / a / name)
        page.get_by_text(name).first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Check these files").click()
    page.get_by_role("button", name="Use this data").wait_for(timeout=120_000)
    page.get_by_role("button", name="Use this data").click()
    page.get_by_text("Now showing").wait_for(timeout=60_000)


def _local_only(url: str):
    """A route handler that lets through the app at ``url`` only (and data:, blob:, about: URLs)."""
    def handle(route, request):
        if request.url.startswith((url, "data:", "blob:", "about:")):
            route.continue_()
        else:
            route.abort()
    return handle


def browser(runs: int, expected: dict[str, dict[str, int]], roots: dict[str, Path]) -> list[dict]:
    """The app in Debian chromium, the checkouts in ``roots`` interleaved (A B A B ...), see :mod:`_probe`.

    Per run and checkout, a fresh browser context: open the app (demo) until every site is drawn;
    the demo's filter changes; upload Trafford, open the Map, its filter changes.
    """
    from _probe import INIT_JS, Traffic, wait_drawn
    from playwright.sync_api import sync_playwright

    raw: list[dict] = []
    with running_apps(roots) as apps, sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for round_ in range(runs + 1):  # the first round warms each server (the demo analysis is cached once)
            for name, (_, url) in apps.items():
                ctx = b.new_context(viewport={"width": 1400, "height": 1000})
                ctx.route("**/*", _local_only(url))
                ctx.add_init_script(INIT_JS)
                pg = ctx.new_page()
                traffic = Traffic(pg)
                pg.goto(url + "/")
                t_nav = pg.evaluate("() => performance.timeOrigin")
                t_drawn, _ = wait_drawn(pg, t_nav, f"c.sites === {expected['demo']['']}")
                rows = [{"app": name, "data": "demo", "what": "first map", "ms": t_drawn - t_nav,
                         **traffic.between(t_nav, t_drawn)}]
                rows += [{"app": name, "data": "demo", "what": "filter", **r}
                         for r in _filter_changes(pg, traffic, expected["demo"])]
                if "trafford" in expected:
                    _upload_trafford(pg, url)
                    pg.get_by_role("link", name="Map").click()
                    t_in = pg.evaluate("() => window.__inputs[window.__inputs.length - 1]")
                    t_drawn, _ = wait_drawn(pg, t_in, f"c.sites === {expected['trafford']['']}")
                    rows.append({"app": name, "data": "Trafford", "what": "'Map' -> drawn", "ms": t_drawn - t_in,
                                 **traffic.between(t_in, t_drawn)})
                    rows += [{"app": name, "data": "Trafford", "what": "filter", **r}
                             for r in _filter_changes(pg, traffic, expected["trafford"])]
                ctx.close()
                raw.append({"round": round_, "load": os.getloadavg()[0], "rows": rows})
                print(json.dumps(raw[-1]), file=sys.stderr, flush=True)  # kept if a later run fails
        b.close()
    out = []
    timed = [r for run in raw if run["round"] > 0 for r in run["rows"]]
    for key in dict.fromkeys((r["app"], r["data"], r["what"]) for r in timed):
        rs = [r for r in timed if (r["app"], r["data"], r["what"]) == key]
        out.append({"app": key[0], "data": key[1], "what": key[2], "runs": len(rs),
                    "median ms": statistics.median(r["ms"] for r in rs),
                    "median KB": statistics.median(r["total"] for r in rs) / 1e3,
                    "ws in KB": statistics.median(r["ws_in"] for r in rs) / 1e3,
                    "http KB": statistics.median(r["http"] for r in rs) / 1e3,
                    "rerun KB": statistics.median(r.get("rerun", r["total"]) for r in rs) / 1e3,
                    "map kept": all(r.get("kept", True) for r in rs)})
    loads = [run["load"] for run in raw if run["round"] > 0]
    out.append({"app": "load average (1 min) over the runs", "data": f"{min(loads):.1f}-{max(loads):.1f}", "what": "",
                "runs": len(loads), "median ms": statistics.median(loads), "median KB": 0.0, "ws in KB": 0.0,
                "http KB": 0.0, "rerun KB": 0.0, "map kept": True})
    return out


#: Non-local hosts fail to resolve: offline, without intercepting requests (which turns the HTTP cache off).
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]

RESOURCES_JS = """([origin]) => performance.getEntriesByType('resource').filter(e => e.name.startsWith(origin))
  .map(e => [e.transferSize, e.decodedBodySize])"""


def _first_map(ctx, url: str, want: int) -> dict:
    """A new page (a new session) in ``ctx``: ms from navigation start to every demo site drawn, and its requests."""
    from _probe import map_frame, wait_drawn

    pg = ctx.new_page()
    pg.goto(url + "/")
    t_nav = pg.evaluate("() => performance.timeOrigin")
    t_drawn, _ = wait_drawn(pg, t_nav, f"c.sites === {want}")
    res = pg.evaluate(RESOURCES_JS, [url]) + map_frame(pg).evaluate(RESOURCES_JS, [url])
    pg.close()
    return {"ms": t_drawn - t_nav, "requests": len(res), "cached": sum(1 for t, d in res if t == 0 and d > 0),
            "KB": sum(t for t, _ in res) / 1e3}


def first_map(runs: int, want: int, roots: dict[str, Path]) -> list[dict]:
    """First map, first visit (i) and returning visitor (ii), the checkouts in ``roots`` interleaved A B A B."""
    from _probe import INIT_JS
    from playwright.sync_api import sync_playwright

    raw: list[dict] = []
    with running_apps(roots) as apps, sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS + OFFLINE_ARGS)
        for round_ in range(runs + 1):  # the first round warms each server
            for name, (_, url) in apps.items():
                ctx = b.new_context(viewport={"width": 1400, "height": 1000})
                ctx.add_init_script(INIT_JS)
                first = _first_map(ctx, url, want)
                again = _first_map(ctx, url, want)
                ctx.close()
                raw.append({"round": round_, "load": os.getloadavg()[0], "app": name,
                            "rows": [{"what": "(i) first visit", **first}, {"what": "(ii) returning visitor", **again}]})
                print(json.dumps(raw[-1]), file=sys.stderr, flush=True)
        b.close()
    out = []
    timed = [{"app": run["app"], **r} for run in raw if run["round"] > 0 for r in run["rows"]]
    for key in dict.fromkeys((r["app"], r["what"]) for r in timed):
        rs = [r for r in timed if (r["app"], r["what"]) == key]
        out.append({"app": key[0], "what": key[1], "runs": len(rs), "median ms": statistics.median(r["ms"] for r in rs),
                    "min ms": min(r["ms"] for r in rs), "max ms": max(r["ms"] for r in rs),
                    "requests": statistics.median(r["requests"] for r in rs),
                    "from cache": statistics.median(r["cached"] for r in rs),
                    "KB over HTTP": statistics.median(r["KB"] for r in rs)})
    loads = [run["load"] for run in raw if run["round"] > 0]
    out.append({"app": "load average (1 min) over the runs", "what": f"{min(loads):.1f}-{max(loads):.1f}", "runs": len(loads),
                "median ms": statistics.median(loads), "min ms": 0.0, "max ms": 0.0, "requests": 0, "from cache": 0,
                "KB over HTTP": 0.0})
    return out


def table(rows: list[dict]) -> str:
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--compare", type=Path, help="another checkout of the project (before a change): its app is "
                    "timed too, interleaved with this one")
    ap.add_argument("--no-engine", action="store_true", help="the browser part only")
    ap.add_argument("--first-map", action="store_true", help="the first map only: a first visit and a returning "
                    "visitor's new session, no request interception")
    args = ap.parse_args()
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"medians of {args.runs} runs")
    if not args.no_engine:
        print(table(engine(args.runs)))
    if not args.no_browser and Path(CHROMIUM).exists():
        from assets_map.engine.demo import load_demo

        expected = {"demo": expected_counts(load_demo().assets)}
        roots = {"this checkout": ROOT, **({"compared": args.compare.resolve()} if args.compare else {})}
        if args.first_map:
            print(f"load average at start {os.getloadavg()}\n")
            print(table(first_map(args.runs, expected["demo"][""], roots)))
            return
        if all((SHARED / a / b).exists() for a, b in TRAFFORD.values()):
            from assets_map.io.uploads import Upload, check_uploads

            files = {k: Upload(b, (SHARED / a / b).read_bytes()) for k, (a, b) in TRAFFORD.items()}
            expected["trafford"] = expected_counts(check_uploads(files).analysis.assets)
        print(f"expected sites drawn: {expected}; load average at start {os.getloadavg()}")
        print()
        print(table(browser(args.runs, expected, roots)))


if __name__ == "__main__":
    main()
