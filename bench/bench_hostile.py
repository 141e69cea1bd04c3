"""Peak server memory and time for the worst hostile uploads, through the browser.

Starts ``streamlit run app.py`` on loopback with the shipped config, drives Debian chromium
(Playwright) through the "Your data" and "Site pack" pages, and samples the server's memory
every 0.1 s with psutil: the server's RSS plus the unique memory (USS) of its child processes
(the bounded jobs are forked children; their pages shared with the server are counted once).

A visitor is made public the way a reverse proxy would: every request of the browser context
carries ``X-Forwarded-For``, so the app treats it as a network visitor (the mode line is
checked). The "local" runs omit it (a browser on the server itself: the generous budget).

Run: ``python bench/bench_hostile.py`` (writes its inputs under a temporary folder; about 6 min).
Prints a Markdown table for bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ASSETS_MAP_SHARED_DATA", ROOT.parent / "shared" / "data"))
CHROMIUM = "/usr/bin/chromium"
TRAFFORD = (-2.35, 53.44)


# --- inputs ----------------------------------------------------------------------------------------

def polygon_geojson(path: Path, n: int, *, crossing: bool = False) -> Path:
    """One register row whose polygon has ``n`` vertices: a wavy ring, or (``crossing``) random order."""
    x0, y0 = TRAFFORD
    if crossing:
        rng = np.random.default_rng(1)
        pts = np.c_[x0 + rng.uniform(-0.01, 0.01, n), y0 + rng.uniform(-0.006, 0.006, n)]
    else:
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)
        r = 0.002 * (1 + 0.3 * np.sin(t * 50))
        pts = np.c_[x0 + r * np.cos(t) * 1.6, y0 + r * np.sin(t)]
    ring = np.round(np.vstack([pts, pts[:1]]), 7).tolist()
    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "AssetCode": "HOSTILE1", "PropertyName": "Hostile polygon", "Organisation": "Trafford Council"},
        "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    path.write_text(json.dumps(doc))
    return path


def register_csv(path: Path, size_mb: float) -> Path:
    """A plausible register CSV of about ``size_mb`` MB (rows placed in Trafford by easting/northing)."""
    rng = np.random.default_rng(2)
    head = "AssetCode,PropertyName,Address,Postcode,Easting,Northing,Tenure,PropertyType,Notes\n"
    target = int(size_mb * 1e6)  # the browser counts 1 MB as 10^6 bytes (Linux, macOS)
    with open(path, "w") as fh:
        fh.write(head)
        written, i = len(head), 0
        while written < target:
            e, n = rng.integers(372000, 382000), rng.integers(388000, 398000)
            line = (f"A{i:07d},Community building {i},\"{i} Long Street, Stretford, Manchester\",M32 0{i % 9}AB,"
                    f"{e},{n},Freehold,Land and buildings,Some notes about asset {i} kept by the council's estates "
                    f"team for the annual review of community use\n")
            fh.write(line)
            written += len(line)
            i += 1
    return path


# --- the server and its memory ---------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1"), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(self.url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise SystemExit("streamlit did not start")
        self.ps = psutil.Process(self.proc.pid)

    def memory(self) -> float:
        """Server RSS plus its children's unique memory, in MB."""
        total = self.ps.memory_info().rss
        for c in self.ps.children(recursive=True):
            try:
                total += c.memory_full_info().uss
            except psutil.Error:
                pass
        return total / 1e6

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


class Peak:
    """Samples the server's memory every 0.1 s while the block runs."""

    def __init__(self, server: Server):
        self.server, self.peak, self.stop = server, 0.0, threading.Event()

    def __enter__(self):
        self.start = self.server.memory()
        self.peak = self.start
        self.t0 = time.perf_counter()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.server.memory())
            except psutil.Error:
                pass
            time.sleep(0.1)

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.stop.set()
        self.thread.join()
        self.end = self.server.memory()


# --- the browser -----------------------------------------------------------------------------------

def new_page(browser, server: Server, public: bool):
    headers = {"X-Forwarded-For": "203.0.113.7"} if public else {}
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, extra_http_headers=headers)

    def route(r):
        u = r.request.url
        return r.continue_() if u.startswith((server.url, "data:", "blob:", "about:")) else r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.goto(server.url + "/data")
    page.get_by_text("Your data", exact=True).first.wait_for(timeout=60_000)
    mode = "Public view" if public else "Local mode"
    page.get_by_text(mode).first.wait_for(timeout=30_000)
    return context, page


KINDS = ("register", "boundaries", "deprivation", "postcodes", "wards")


def upload(page, files: dict[int, Path]) -> None:
    """Upload each file in the uploader at its position; wait until the page lists it as ready to check."""
    boxes = page.locator('[data-testid="stFileUploader"]')
    for i, path in files.items():
        boxes.nth(i).locator('input[type="file"]').set_input_files(str(path))
        page.locator('[data-testid="stCaptionContainer"]').filter(
            has_text=f"{KINDS[i]}: {path.name}").first.wait_for(timeout=300_000)


def outcome(page, timeout_s: float) -> str:
    ok = page.get_by_text("Check before you use it")
    bad = page.get_by_text("These files could not be used")
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if ok.count():
            return "accepted"
        if bad.count():
            return page.locator('[data-testid="stAlert"]').filter(has_text="could not be used").first.inner_text()
        time.sleep(0.1)
    return "no answer"


def wait_idle(page) -> None:
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=600_000)


def run(args) -> list[dict]:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="assets_map_bench_"))
    bnd, imd = DATA / "trafford" / "lsoa21_boundaries.geojson", DATA / "england" / "imd2025_lsoa21_scores_ranks_deciles.csv"
    big = polygon_geojson(tmp / "polygon_1m_vertices.geojson", 1_000_000)
    crossing = polygon_geojson(tmp / "polygon_crossing_2000.geojson", 2000, crossing=True)
    under = polygon_geojson(tmp / "polygon_199999_vertices.geojson", 199_999)  # + the closing one: at the budget
    huge_csv = register_csv(tmp / "register_150mb.csv", 150)
    near_csv = register_csv(tmp / "register_49mb.csv", 49.5)
    rows: list[dict] = []
    server = Server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            ctx, page = new_page(browser, server, public=False)
            wait_idle(page)
            idle = server.memory()
            rows.append({"what": "server after the first page (demo)", "visitor": "-", "result": "-",
                         "s": "", "start MB": "", "peak MB": f"{idle:.0f}", "end MB": ""})
            ctx.close()

            def check(label: str, public: bool, register: Path, *, then_pack: bool = False, keep: bool = False):
                ctx, page = new_page(browser, server, public)
                upload(page, {0: register, 1: bnd, 2: imd})
                wait_idle(page)
                with Peak(server) as m:
                    page.get_by_role("button", name="Check these files").click()
                    result = outcome(page, 600)
                rows.append({"what": label, "visitor": "public" if public else "local", "result": result[:160],
                             "s": f"{m.seconds:.1f}", "start MB": f"{m.start:.0f}", "peak MB": f"{m.peak:.0f}",
                             "end MB": f"{m.end:.0f}"})
                print(rows[-1], flush=True)
                if then_pack and result == "accepted":
                    page.get_by_role("button", name="Use this data").click()
                    wait_idle(page)
                    page.get_by_role("link", name="Site pack").click()  # in-app navigation keeps the session
                    page.get_by_text("Sites (your shortlist").first.wait_for(timeout=60_000)
                    box = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Sites (your shortlist")
                    box.locator("input").click()
                    box.locator("input").fill("Hostile polygon")
                    page.keyboard.press("Enter")
                    page.keyboard.press("Escape")
                    wait_idle(page)
                    with Peak(server) as m:
                        page.get_by_role("button", name="Make the site pack").click()
                        done = page.get_by_role("button", name="Download PDF")
                        err = page.get_by_text("The pack could not be made")
                        deadline = time.time() + 600
                        while time.time() < deadline and not done.count() and not err.count():
                            time.sleep(0.1)
                        res = "pack made" if done.count() else (err.first.inner_text()[:160] if err.count() else "no answer")
                    rows.append({"what": "then Make the site pack", "visitor": "public" if public else "local",
                                 "result": res, "s": f"{m.seconds:.1f}", "start MB": f"{m.start:.0f}",
                                 "peak MB": f"{m.peak:.0f}", "end MB": f"{m.end:.0f}"})
                    print(rows[-1], flush=True)
                if not keep:
                    ctx.close()
                return ctx

            if not args.csv_only:
                check("1M-vertex polygon register (25 MB GeoJSON)", True, big)
                check("1M-vertex polygon register (25 MB GeoJSON)", False, big, then_pack=True)
                check("200,000-vertex polygon register (at the public vertex budget)", True, under, then_pack=True)
                check("2,000-vertex self-crossing polygon (make_valid explodes)", True, crossing)

            # 150 MB CSV: the uploader refuses it before a byte reaches the server.
            ctx, page = new_page(browser, server, True)
            with Peak(server) as m:
                page.locator('[data-testid="stFileUploader"]').first.locator('input[type="file"]').set_input_files(str(huge_csv))
                msg = page.get_by_text("File must be")
                msg.first.wait_for(timeout=120_000)
                text = msg.first.inner_text()
            rows.append({"what": "150 MB CSV register", "visitor": "public", "result": text, "s": f"{m.seconds:.1f}",
                         "start MB": f"{m.start:.0f}", "peak MB": f"{m.peak:.0f}", "end MB": f"{m.end:.0f}"})
            print(rows[-1], flush=True)
            ctx.close()

            ctx = check("49.5 MB CSV register (just under the limit)", True, near_csv, keep=True)
            before_close = server.memory()
            ctx.close()
            # Streamlit keeps a closed tab's session for 2 min; the next page run after that frees its uploads.
            time.sleep(args.wait)
            ctx, page = new_page(browser, server, True)
            wait_idle(page)
            time.sleep(31)  # the sweep runs at most every 30 s
            page.reload()
            wait_idle(page)
            after = server.memory()
            ctx.close()
            rows.append({"what": f"49.5 MB CSV tab closed, {args.wait:.0f} s later + one new visit", "visitor": "public",
                         "result": "released" if after < before_close - 50 else "still held", "s": "",
                         "start MB": f"{before_close:.0f}", "peak MB": "", "end MB": f"{after:.0f}"})
            print(rows[-1], flush=True)
            browser.close()
    finally:
        server.stop()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wait", type=float, default=125.0, help="seconds to wait after closing the tab (Streamlit keeps it 120 s)")
    ap.add_argument("--csv-only", action="store_true", help="only the CSV uploads (150 MB, 49.5 MB, release)")
    args = ap.parse_args()
    rows = run(args)
    cols = ["what", "visitor", "result", "s", "start MB", "peak MB", "end MB"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]).replace("|", "/").replace("\n", " ") for c in cols) + " |")


if __name__ == "__main__":
    main()
