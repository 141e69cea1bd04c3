"""Time to first map and the map's payload, on the fictional demo and on the Trafford data.

Run from the project root:  python bench/bench_map.py [--runs 5] [--no-browser]

Measures, medians of ``--runs``:

* engine (no browser): the analysis (demo: ``load_demo``; Trafford: register + LSOA 2021 +
  IoD 2025 + postcode directory through :func:`assets_map.io.uploads.check_uploads`, as an upload),
  :func:`assets_map.maps.draw.map_data` (simplify, reproject, escape: cached per data and filters in the
  app) and :func:`~assets_map.maps.draw.render_map` + HTML rendering (done on every rerun); the HTML
  payload the browser receives, and the same with no simplification for comparison;
* browser (Debian chromium, every non-local request blocked, so tiles fail as offline): from opening
  the app to Leaflet having drawn every asset feature (demo), and from pressing "Use this data"
  after uploading the Trafford files to the map page having drawn every Trafford asset.

The filter index is timed too: building it, and one filter answer (text + decile + status), since
every page filters on every rerun.
"""
from __future__ import annotations

import argparse
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


def _wait_count(page, want: int, timeout: float = 120) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if page.locator(IFRAME).count() == 1:
                frame = page.locator(IFRAME).element_handle().content_frame()
                if frame and frame.evaluate(COUNT_JS) == want:
                    return time.perf_counter()
        except Exception:  # the iframe is being (re)mounted
            pass
        time.sleep(0.05)
    raise TimeoutError(f"map did not draw {want} features")


def browser(runs: int, expected: dict[str, int]) -> list[dict]:
    from playwright.sync_api import sync_playwright

    port = _port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--server.address", "127.0.0.1"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    rows = []
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)

            def context():
                ctx = b.new_context(viewport={"width": 1400, "height": 1000})
                ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(url) or
                          r.request.url.startswith(("data:", "blob:", "about:")) else r.abort())
                return ctx

            # Warm the server (demo analysis cached once per process, as in production).
            ctx = context()
            pg = ctx.new_page()
            pg.goto(url + "/")
            _wait_count(pg, expected["demo"])
            ctx.close()
            demo_times, traf_times = [], []
            for _ in range(runs):
                ctx = context()
                pg = ctx.new_page()
                t = time.perf_counter()
                pg.goto(url + "/")
                demo_times.append(_wait_count(pg, expected["demo"]) - t)
                if "trafford" in expected:
                    pg.goto(url + "/data")
                    pg.get_by_text("Asset register (CSV").first.wait_for(timeout=60_000)
                    inputs = pg.locator("input[type=file]")
                    for i, kind in enumerate(TRAFFORD):
                        a, name = TRAFFORD[kind]
                        inputs.nth(i).set_input_files(SHARED / a / name)
                        pg.get_by_text(name).first.wait_for(timeout=60_000)
                    pg.get_by_role("button", name="Check these files").click()
                    pg.get_by_role("button", name="Use this data").wait_for(timeout=120_000)
                    pg.get_by_role("button", name="Use this data").click()
                    pg.get_by_text("Now showing").wait_for(timeout=60_000)
                    t = time.perf_counter()
                    pg.get_by_role("link", name="Map").click()
                    traf_times.append(_wait_count(pg, expected["trafford"]) - t)
                ctx.close()
            b.close()
        rows.append({"data": "demo (fictional)", "what": "open the app -> every asset drawn",
                     "s": statistics.median(demo_times)})
        if traf_times:
            rows.append({"data": "Trafford", "what": "'Map' after 'Use this data' -> every asset drawn",
                         "s": statistics.median(traf_times)})
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    return rows


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
    args = ap.parse_args()
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"medians of {args.runs} runs")
    rows = engine(args.runs)
    print(table(rows))
    if not args.no_browser and Path(CHROMIUM).exists():
        expected = {"demo": rows[0]["drawn"]}
        if len(rows) > 1:
            expected["trafford"] = rows[1]["drawn"]
        print()
        print(table(browser(args.runs, expected)))


if __name__ == "__main__":
    main()
