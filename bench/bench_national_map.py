"""The app at national scale: map payload, time to first map in headless chromium, re-filter time.

Data: the 35,672 LSOA 2021 polygons of England and Wales with IoD 2025 and a generated register
of 100k (``--n``) points over England, analysed once (through the result cache, so reruns of
this script skip the analysis). Measured, medians of ``--runs``:

* **filter**: building :class:`assets_map.engine.filters.FilterIndex` (once per data version) and
  answering typical filters with :meth:`~assets_map.engine.filters.FilterIndex.mask` (every rerun);
* **map data**: :func:`assets_map.maps.national.national_map_data` for three views (England, a city
  region, a neighbourhood) and the bytes each sends; for comparison, the plain
  :func:`assets_map.maps.draw.map_data` with its 5,000-feature cap (every LSOA drawn);
* **time to first map**: Debian chromium (Playwright, every non-local request blocked, so no
  tiles) opens the rendered HTML from a local server and waits until Leaflet has drawn every
  feature sent;
* **the app following zooms** (``--app``): ``streamlit run app.py``; the register, the LSOA
  boundaries and the IoD file are uploaded on "Your data" as a user would; on the Map page
  Leaflet is zoomed (``map.setView`` in the map's iframe) England -> Greater Manchester -> a
  neighbourhood -> England, ``--app-runs`` times; for each zoom, the seconds until st_folium has
  swapped in the new layers, the bytes the app sent over its websocket for that rerun, and
  the size of the layers themselves.

Usage::

    python bench/bench_national_map.py --n 100000 --runs 5
    python bench/bench_national_map.py --n 100000 --app-only --app-runs 3
    python bench/bench_national_map.py --n 100000 --app-only --app-runs 3 --compare DIR   # A B A B
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from _timing import median_time  # bench/ is on sys.path when run as a script

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
ENGLAND = ROOT.parent / "shared" / "data" / "england"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
VIEWS = {  # WGS84 minx, miny, maxx, maxy; None = the data's extent
    "England (whole register)": None,
    "Greater Manchester": (-2.75, 53.33, -1.9, 53.69),
    "a neighbourhood (3 x 2 km)": (-2.262, 53.47, -2.217, 53.488),
}


def load(n: int):
    from assets_map.engine.cache import ResultCache
    from assets_map.engine.pipeline import analyse

    reg = HERE / "data" / f"assets_points_{n}.gpkg"
    if not reg.exists():
        import subprocess

        subprocess.run([sys.executable, str(HERE / "generate.py"), "--sizes", str(n), "--kinds", "points",
                        "--formats", "gpkg", "--out", str(HERE / "data")], check=True)
    t = time.perf_counter()
    result = analyse(reg, ENGLAND / "lsoa21_boundaries_ew.gpkg", ENGLAND / "imd2025_lsoa21_scores_ranks_deciles.csv",
                     cache=ResultCache(HERE / "data" / "cache"))
    return result, result.settings["cache"] == "reused", time.perf_counter() - t


def filters_bench(assets, runs: int) -> dict:
    from assets_map.engine.filters import Filters, prepare

    t_index, index = median_time(lambda: prepare(assets), max(1, runs // 2))
    cases = {
        "status vacant": Filters(statuses=("vacant",)),
        "priority High+Medium, decile 1-3": Filters(priorities=("High", "Medium"), deciles=(1, 3)),
        "organisation + site area range": Filters(organisations=(str(assets["organisation"].iloc[0]),), site_ha=(0.1, 5)),
        "free text 'library'": Filters(text="library"),
        "everything at once": Filters(statuses=("vacant", "surplus"), priorities=("High", "Medium", "Low"),
                                      deciles=(1, 5), text="road"),
    }
    out = {"rows": len(assets), "index_build_s": t_index, "mask_ms": {}}
    for name, f in cases.items():
        t, res = median_time(lambda f=f: index.mask(f), runs * 4)
        out["mask_ms"][name] = {"ms": t * 1000, "shown": res.shown}
    return out


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


def serve(folder: Path):
    handler = functools.partial(_Quiet, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def first_map(url: str, expect: int, timeout_s: float) -> float | None:
    """Seconds from navigation to Leaflet having drawn ``expect`` vector features (None: timed out)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("http://127.0.0.1")
                   else route.abort())
        t = time.perf_counter()
        try:
            page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
            page.wait_for_function(
                f"() => document.querySelectorAll('path.leaflet-interactive').length >= {expect}",
                timeout=timeout_s * 1000, polling=50)
            return time.perf_counter() - t
        except Exception:  # timed out (or the page died under the payload)
            return None
        finally:
            browser.close()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--browser-runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds before a map counts as never shown")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--app", action="store_true", help="also measure the app following zooms (uploads the data)")
    ap.add_argument("--app-runs", type=int, default=3)
    ap.add_argument("--app-only", action="store_true", help="only the app measurement (--app)")
    ap.add_argument("--compare", type=Path, help="with --app-only: another checkout (the code before a change), "
                    "its app timed too, interleaved with this one's")
    args = ap.parse_args(argv)
    if args.app_only:
        roots = {"this checkout": ROOT, "compared": args.compare.resolve()} if args.compare else None
        out = {"when": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "load_1min": os.getloadavg()[0],
               "app": app_compare(args.n, args.app_runs, args.timeout, roots) if roots
               else app_bench(args.n, args.app_runs, args.timeout)}
        (HERE / "results").mkdir(exist_ok=True)
        (HERE / "results" / f"national_app_{args.n}.json").write_text(json.dumps(out, indent=2, default=str))
        print(json.dumps(out, indent=1, default=str))
        return
    from assets_map.maps import national as display
    from assets_map.maps.draw import render_map, vendor_static

    result, hit, t_load = load(args.n)
    assets, needs = result.assets, result.needs
    out = {"when": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "load_1min": os.getloadavg()[0],
           "assets": len(assets), "needs": len(needs), "analysis_s": t_load, "from_cache": hit}
    print(f"{len(assets)} assets, {len(needs)} need areas ({'cache hit' if hit else 'analysed'} in {t_load:.1f} s)")
    out["filters"] = filters_bench(assets, args.runs)
    print(json.dumps(out["filters"], indent=1))
    t_prep, index = median_time(lambda: display.prepare(assets, needs), 1)
    display._LAD_CACHE.clear()
    t_prep_assets, index = median_time(lambda: display.prepare(assets, needs, aggregate=False), args.runs)
    index = display.prepare(assets, needs)
    out["display_prepare_s"] = {"with need aggregation (once per need layer)": t_prep,
                                "assets only (once per data version)": t_prep_assets}
    site = Path(tempfile.mkdtemp(prefix="am_natmap_"))
    vendor_static(site / "app" / "static")
    httpd = serve(site)
    maps = {}
    try:
        for name, view in VIEWS.items():
            t_data, data = median_time(lambda view=view: display.national_map_data(assets, needs, index=index, view=view),
                                         args.runs)
            t_render, m = median_time(lambda data=data: render_map(data), args.runs)
            html = m.get_root().render()
            fname = f"map_{len(maps)}.html"
            (site / fname).write_text(html)
            expect = len(data.needs["features"]) + data.asset_count
            row = {"engine_map_data_s": t_data, "render_s": t_render, "html_mb": len(html.encode()) / 1e6, **data.stats,
                   "features_sent": expect}
            if not args.no_browser:
                times = [first_map(f"http://127.0.0.1:{httpd.server_port}/{fname}", expect, args.timeout)
                         for _ in range(args.browser_runs)]
                ok = [t for t in times if t is not None]
                row["first_map_s"] = statistics.median(ok) if ok else None
                row["first_map_timeouts"] = len(times) - len(ok)
            maps[name] = row
            print(name, json.dumps(row), flush=True)
        # The plain map (every LSOA, the 5,000 highest priorities) for comparison.
        t_data, data = median_time(lambda: _plain(assets, needs), 1)
        m = render_map(data)
        html = m.get_root().render()
        (site / "plain.html").write_text(html)
        expect = len(data.needs["features"]) + data.asset_count
        row = {"engine_map_data_s": t_data, "html_mb": len(html.encode()) / 1e6, "features_sent": expect}
        if not args.no_browser:
            t = first_map(f"http://127.0.0.1:{httpd.server_port}/plain.html", expect, args.timeout)
            row["first_map_s"] = t
        maps["plain map_data, every LSOA + 5,000 assets"] = row
        print("plain", json.dumps(row), flush=True)
    finally:
        httpd.shutdown()
        shutil.rmtree(site, ignore_errors=True)
    out["maps"] = maps
    if args.app:
        out["app"] = app_bench(args.n, args.app_runs, args.timeout)
        print(json.dumps(out["app"], indent=1), flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"national_map_{args.n}.json").write_text(json.dumps(out, indent=2, default=str))
    print(json.dumps(out, indent=2, default=str))


APP_ZOOMS = [  # (name, (lat, lon), zoom, what must be drawn afterwards: a JS test over the counts c, see _probe)
    ("Greater Manchester (zoom 11)", (53.48, -2.24), 11, "c.lsoa > 0 && c.areas === 0 && c.clusters > 0"),
    ("a Manchester neighbourhood (zoom 15)", (53.479, -2.2395), 15, "c.lsoa > 0 && c.sites > 0 && c.clusters === 0"),
    ("back to England (zoom 7)", (52.8, -1.6), 7, "c.areas > 0 && c.lsoa === 0 && c.clusters > 0"),
]
#: Filters typed into the sidebar's search after the zooms (Enter), the last one clearing it.
APP_FILTERS = ("library", "")


def app_compare(n: int, runs: int, timeout_s: float, roots: dict[str, Path]) -> dict:
    """:func:`app_bench` of each checkout in ``roots``, interleaved (A B A B ...), one zoom cycle a turn.

    Each turn starts the checkout's app afresh and uploads the data again; medians over the turns,
    with the load average (1 min) at each turn's end.
    """
    turns: dict[str, list[dict]] = {name: [] for name in roots}
    for _ in range(runs):
        for name, root in roots.items():
            out = app_bench(n, 1, timeout_s, root=root)
            turns[name].append(out)
            print(name, json.dumps({k: v["median_s"] for k, v in out["zooms"].items()}),
                  f"load {out['load_1min_after']:.1f}", file=sys.stderr, flush=True)
    summary = {}
    for name, outs in turns.items():
        keys = outs[0]["zooms"]
        summary[name] = {k: {"median_s": statistics.median(o["zooms"][k]["median_s"] for o in outs),
                             "runs_s": [o["zooms"][k]["median_s"] for o in outs],
                             "median_kb_until_drawn": statistics.median(o["zooms"][k]["median_kb_until_drawn"]
                                                                        for o in outs)} for k in keys}
        summary[name]["first_map_s"] = [o["first_map_s"] for o in outs]
        summary[name]["load_1min_after"] = [round(o["load_1min_after"], 1) for o in outs]
    return {"summary": summary, "turns": turns}


def app_bench(n: int, runs: int, timeout_s: float, root: Path = ROOT) -> dict:
    """The app itself at national scale: upload, first map, then zooms the map follows (see the module doc).

    ``root``: the checkout whose ``app.py`` is run (another one, the code before a change, to compare).
    """
    import signal
    import socket
    import subprocess
    import urllib.request

    from _probe import INIT_JS, Traffic, current_counts, last_input, map_frame, wait_drawn, ws_since
    from playwright.sync_api import sync_playwright

    reg = HERE / "data" / f"assets_points_{n}.gpkg"
    files = [reg, ENGLAND / "lsoa21_boundaries_ew.gpkg", ENGLAND / "imd2025_lsoa21_scores_ranks_deciles.csv"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false"], cwd=root, stdout=subprocess.DEVNULL,
                            env=dict(os.environ, PYTHONPATH=str(root)), stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    out: dict = {"zooms": {}}
    try:
        for _ in range(300):
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.add_init_script(INIT_JS)
            page = context.new_page()
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(url) else r.abort())
            traffic = Traffic(page)
            page.goto(url + "/data")
            page.get_by_text("Asset register (CSV").first.wait_for(timeout=timeout_s * 1000)
            inputs = page.locator("input[type=file]")
            for i, f in enumerate(files):
                for attempt in range(3):  # an upload landing during the last one's rerun can be dropped: again
                    inputs.nth(i).set_input_files(f)
                    try:
                        page.get_by_text(re.compile(rf"Ready to check: .*{re.escape(f.name)}")).first.wait_for(
                            timeout=60_000)
                        break
                    except Exception:
                        if attempt == 2:
                            raise
            t = time.perf_counter()
            page.get_by_role("button", name="Check these files").click()
            try:
                page.get_by_role("button", name="Use this data").click(timeout=timeout_s * 1000)
            except Exception:
                page.screenshot(path=str(HERE / "results" / "national_app_failed.png"), full_page=True)
                raise
            out["upload_check_s"] = time.perf_counter() - t
            page.get_by_text("Now showing").first.wait_for(timeout=timeout_s * 1000)
            page.get_by_role("link", name="Map").click()
            t_in = last_input(page)
            t_drawn, _ = wait_drawn(page, t_in, "c.areas > 0 && c.clusters > 0", timeout_s)
            out["first_map_s"] = (t_drawn - t_in) / 1000
            out["first_map_kb"] = traffic.between(t_in, t_drawn)["total"] / 1e3
            # No tiles (they are blocked here anyway): what is timed is the app, not failing tile requests.
            page.get_by_text("None (plain background)").click()
            wait_drawn(page, last_input(page), "c.areas > 0 && c.clusters > 0", timeout_s)
            _quiet(traffic)
            rows: dict[str, list] = {name: [] for name, *_ in APP_ZOOMS}
            rows.update({f"filter '{q}'": [] for q in APP_FILTERS})
            box = page.get_by_role("textbox", name="Search name, address or UPRN")
            for _ in range(runs):
                for name, (lat, lon), zoom, want in APP_ZOOMS:
                    t0 = map_frame(page).evaluate(
                        "([lat, lon, z]) => { const t = Date.now(); window.map.setView([lat, lon], z, {animate: false});"
                        " return t; }", [lat, lon, zoom])
                    t_drawn, c = wait_drawn(page, t0, want, timeout_s)
                    _quiet(traffic)
                    rows[name].append({"s": (t_drawn - t0) / 1000, **c,
                                       "kb_until_drawn": traffic.between(t0, t_drawn)["total"] / 1e3,
                                       "kb_rerun": traffic.between(t0, time.time() * 1000)["total"] / 1e3})
                for q in APP_FILTERS:  # at the last zoom (England): the clusters change with the filter
                    before = current_counts(page)
                    box.fill(q)
                    box.press("Enter")
                    t_in = last_input(page)
                    t_drawn, c = wait_drawn(page, t_in, f"c.clusters !== {before['clusters']} || "
                                                        f"c.sites !== {before['sites']}", timeout_s)
                    _quiet(traffic)
                    rows[f"filter '{q}'"].append({"s": (t_drawn - t_in) / 1000, **c,
                                                  "ws_ms_bytes": ws_since(page, t_in, time.time() * 1000),
                                                  "kb_until_drawn": traffic.between(t_in, t_drawn)["total"] / 1e3,
                                                  "kb_rerun": traffic.between(t_in, time.time() * 1000)["total"] / 1e3})
            for name, rs in rows.items():
                out["zooms"][name] = {"median_s": statistics.median(r["s"] for r in rs),
                                      "median_kb_until_drawn": statistics.median(r["kb_until_drawn"] for r in rs),
                                      "runs": rs}
            out["load_1min_after"] = os.getloadavg()[0]
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    return out


def _quiet(traffic, quiet_s: float = 1.5, limit_s: float = 120) -> None:
    """Wait until nothing has arrived for ``quiet_s`` (the rerun is over)."""
    end = time.time() + limit_s
    while time.time() < end and traffic.log and time.time() - traffic.log[-1][0] < quiet_s:
        time.sleep(0.1)


def _plain(assets, needs):
    """What :func:`assets_map.maps.draw.map_data` drew before the national display (5,000-feature cap)."""
    import numpy as np

    from assets_map.maps.draw import ASSET_PROPS, MapData, _features, display_geometry
    from assets_map.schema import DISPLAY_CRS

    placed = assets[~(assets.geometry.isna() | assets.geometry.is_empty)]
    rank = placed["priority"].map({"High": 0, "Medium": 1, "Low": 2}).fillna(3).to_numpy()
    placed = placed.iloc[np.sort(np.argsort(rank, kind="stable")[:5000])]
    bounds = tuple(float(v) for v in placed.to_crs(DISPLAY_CRS).total_bounds)
    need_fc = _features(needs, ["code", "name", "need_decile", "iod_year"], display_geometry(needs, tolerance_m=20))
    geom = display_geometry(placed, tolerance_m=0)
    return MapData(need_fc, "need_decile", {"type": "FeatureCollection", "features": []},
                   _features(placed, ASSET_PROPS, geom), bounds, len(assets) - 5000)


if __name__ == "__main__":
    main()
