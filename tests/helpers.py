"""Helpers the test modules share (not fixtures: those are in conftest.py).

Real data, the app under ``streamlit run`` for the browser tests, Markdown as Streamlit shows it,
and the register store's test data.
"""
from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from assets_map.engine.demo import DEMO_PATH
from assets_map.store import LOCAL_USER

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ASSETS_MAP_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_file(*parts: str) -> Path:
    """Path of a real data file, or skip (fail in CI) when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"real data not found at {path} (../shared/data is only present beside the project's CI checkout)"
        if os.environ.get("ASSETS_MAP_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(reason + "; ASSETS_MAP_REQUIRE_SHARED_DATA=1 requires it")
        pytest.skip(reason)
    return path



def plain(text: str) -> str:
    """Markdown text with its backslash escapes removed (what the user reads)."""
    return re.sub(r"\\(.)", r"\1", text)


# ------------------------------------------------------------------ the app in a browser
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


def skip_or_fail(reason: str):
    """Skip a browser test (fail it when ASSETS_MAP_REQUIRE_BROWSER=1, as in CI)."""
    if os.environ.get("ASSETS_MAP_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + "; ASSETS_MAP_REQUIRE_BROWSER=1 requires the browser tests to run")
    pytest.skip(reason)


def require_browser() -> None:
    """Skip (or fail in CI) unless Debian chromium and Playwright are installed."""
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"{CHROMIUM} not found (install Debian's chromium package)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("playwright (python) is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_app(*options: str, env: dict | None = None, port: int | None = None) -> Iterator[str]:
    """``streamlit run app.py`` with ``options`` on a free port; yields its loopback URL once healthy, then stops it.

    Without a ``--server.address`` option the shipped .streamlit/config.toml decides where it listens.
    """
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false", *options],
        cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
            if proc.poll() is not None:
                pytest.fail("streamlit exited: " + proc.stdout.read().decode(errors="replace")[-2000:])
        else:
            pytest.fail("streamlit did not answer /_stcore/health within 60 s")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


_MARKUP = {"image", "link_open", "strong_open", "em_open", "s_open", "code_inline", "html_inline", "html_block",
           "heading_open", "bullet_list_open", "ordered_list_open"}


def screenshot(page, name: str, *, full_page: bool = True) -> None:
    """Keep a screenshot of the page as ``name`` under ASSETS_MAP_SCREENSHOTS, when that names a folder."""
    shots = os.environ.get("ASSETS_MAP_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(shots) / name), full_page=full_page)


@contextlib.contextmanager
def app_in_browser(store: Path, *, height: int = 900, last_shot: str | None = None):
    """The app with a register of its own (``store``), and a page of Debian chromium at 1400 px, offline.

    Yields ``(url, page, blocked)``. ``last_shot`` names a screenshot of the last page seen, kept under
    ASSETS_MAP_SCREENSHOTS when that is set (whether the test passed or not).
    """
    require_browser()
    from playwright.sync_api import sync_playwright

    with streamlit_app("--server.address", "127.0.0.1", env={"ASSETS_MAP_STORE": str(store),
                                                              "ASSETS_MAP_DATABASE_URL": ""}) as url, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context, blocked = offline_context(browser, url)
        page = context.new_page()
        page.set_viewport_size({"width": 1400, "height": height})
        try:
            yield url, page, blocked
        finally:
            if last_shot:
                screenshot(page, last_shot)
            context.close()
            browser.close()


def markdown_shown(source: str) -> tuple[str, set[str]]:
    """What Markdown ``source`` shows (its text) and which markup it makes (links, images, emphasis, ...).

    Parsed as CommonMark with GitHub's strikethrough, as Streamlit renders labels and messages.
    """
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("strikethrough")
    kinds: set[str] = set()
    text: list[str] = []
    for block in md.parse(source):
        kinds.add(block.type)
        for tok in block.children or []:
            kinds.add(tok.type)
            if tok.type in ("text", "code_inline"):
                text.append(tok.content)
            elif tok.type == "softbreak":
                text.append(" ")
    return "".join(text), kinds & _MARKUP


MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'


def offline_context(browser, server: str | tuple[str, ...], **options):
    """A browser context that reaches only the app (and data:/blob: URLs); returns it and the list of
    URLs it blocked (tiles, CDNs: anything a locked-down network would not reach). ``server`` may be
    several URL prefixes (the app and a local sign-in provider)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, **options)
    blocked: list[str] = []

    def route(r):
        u = r.request.url
        if u.startswith(server) or u.startswith(("data:", "blob:", "about:")):
            return r.continue_()
        blocked.append(u)
        return r.abort()

    context.route("**/*", route)
    return context, blocked



# ------------------------------------------------------------------ the app under AppTest
def app_page_script(page: str) -> None:
    """A page of the app as an AppTest script: the shared frame (sidebar filters), then the page."""
    import importlib

    from assets_map.ui import shared

    mod = importlib.import_module(f"assets_map.ui.{page}")
    shared.frame()
    mod.render()


def app_page(name: str) -> AppTest:
    """An AppTest of one page of the app (``"map_page"``, ``"data_page"``, ...)."""
    return AppTest.from_function(app_page_script, args=(name,), default_timeout=120)


def data_page(name: str, checked) -> AppTest:
    """An AppTest of one page run on the data in use ``checked`` (what Your data's check gives), in a new session."""
    at = app_page(name)
    at.session_state["analysis"] = checked.analysis
    at.session_state["analysis_label"] = checked.label
    return at.run()


def count_text(at: AppTest) -> str:
    """The ``"N of M sites shown"`` line of a page."""
    found = [m.value for m in at.markdown if "sites shown" in m.value]
    assert found, "no 'N of M sites shown' line on the page"
    return re.search(r"([\d,]+ of [\d,]+ sites shown)", found[0]).group(1)


def all_text(at: AppTest) -> str:
    """Every text element of a page (markdown, captions, messages, titles), one per line."""
    parts = [e.value for kind in ("markdown", "caption", "warning", "info", "error", "success", "title", "subheader")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def demo_boundaries_geojson() -> bytes:
    """The demo's need areas as GeoJSON bytes (an upload of boundaries)."""
    needs = gpd.read_file(DEMO_PATH, layer="need_areas")
    return needs.to_crs(4326).to_json().encode()


def register_csv(n: int = 5) -> bytes:
    """A council register of ``n`` points inside the demo area, as CSV bytes (every other one vacant)."""
    # Points inside the demo area (BNG), as a council register would give them.
    rows = [{"AssetCode": f"T-{i}", "OrganisationLabel": "Test Borough Council", "PropertyName": f"Test hall {i}",
             "GeoX": 431000 + 400 * i, "GeoY": 312000 + 300 * i, "TenureType": "Freehold",
             "TenureDetail": "Vacant" if i % 2 else "Occupied", "HoldingType": "Land/Buildings"} for i in range(n)]
    buf = io.StringIO()
    pd.DataFrame(rows).to_csv(buf, index=False)
    return buf.getvalue().encode()


def stage_and_check(at: AppTest, files: dict) -> AppTest:
    """Stage ``files`` on the Your data page and press Check; asserts the page raised nothing."""
    at.session_state["staged_uploads"] = files
    at.run()
    at.button(key="check_upload").click().run()
    assert not at.exception, at.exception
    return at


# ------------------------------------------------------------------ the register store
ORG = "Ashbridge (fictional)"
OTHER = "Elsewhere (fictional)"
HASH = "ab" * 32
PG_ENV = "ASSETS_MAP_TEST_DATABASE_URL"
ISS = "https://id.example.org"


def postgis_url() -> str:
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        reason = (f"{PG_ENV} is not set: no PostgreSQL/PostGIS to test against "
                  f"(run `. .ci/postgres.sh` to start one on 127.0.0.1)")
        if os.environ.get("ASSETS_MAP_REQUIRE_POSTGIS") == "1":
            pytest.fail(reason + "; ASSETS_MAP_REQUIRE_POSTGIS=1 requires it")
        pytest.skip(reason)
    return url


def variant(analysis, *, gen: int | None = None, drop: int = 0, org_prefix: str | None = None):
    """A copy of the analysis with a generation marker (in ``condition``), rows dropped or ids renamed."""
    out = copy.copy(analysis)
    a = analysis.assets.copy()
    if gen is not None:
        a["condition"] = f"generation {gen}"
    if drop:
        a = a.iloc[:-drop]
    if org_prefix:
        a["asset_id"] = org_prefix + a["asset_id"].astype(str)
    out.assets = a.reset_index(drop=True)
    return out


def import_demo(store, demo_analysis, *, gen=None, org=ORG, role=LOCAL_USER, **kw):
    result, exclude = demo_analysis
    return store.import_analysis(variant(result, gen=gen, **kw), organisation=org, role=role,
                                 source_name="demo.gpkg", file_sha256=HASH, exclude=exclude)


def snapshot(store) -> dict:
    return {table: rows for table, _, rows in store.dump()}


def plain_asset(store, **where) -> pd.Series:
    """An asset still at its first version, neither excluded nor flagged, matching ``where``."""
    a = store.assets(LOCAL_USER)
    ok = (a["priority"] == "not flagged") & ~a["excluded"] & (a["status"] == "occupied") & a["need_decile"].notna()
    ok &= a["empty_floor_pct"].isna() & a["underused_floor_pct"].isna() & (a["visibility"] == "public")
    for k, v in where.items():
        ok &= v(a[k])
    return a[ok].iloc[0]



def register_page_script():
    """The Register page as an AppTest script (``AppTest.from_function(register_page_script)``)."""
    from assets_map.ui import register_page

    register_page.render()


# ------------------------------------------------------------------ HM Land Registry layouts

def inspire_gml(parcels: gpd.GeoDataFrame, *, schema_location: str = "www.landregistry.gov.uk "
                "http://inspire.landregistry.gov.uk/inspire/schemas/LR.xsd", prolog: str = "") -> bytes:
    """INSPIRE Index Polygons as HM Land Registry's GML (wfs:FeatureCollection of LR:PREDEFINED, EPSG:27700).

    ``parcels`` has ``parcel_id`` and polygon geometry in EPSG:27700; each gets LABEL and
    NATIONALCADASTRALREFERENCE equal to its ID and fixed VALIDFROM/BEGINLIFESPANVERSION dates.
    """
    import shapely

    def ring(r) -> str:
        xy = " ".join(f"{x:.3f} {y:.3f}" for x, y in r.coords)
        return f'<gml:LinearRing><gml:posList srsDimension="2" count="{len(r.coords)}">{xy}</gml:posList></gml:LinearRing>'

    def polygon(p, gid) -> str:
        inner = "".join(f"<gml:interior>{ring(i)}</gml:interior>" for i in p.interiors)
        return (f'<gml:Polygon gml:id="{gid}" srsName="urn:ogc:def:crs:EPSG::27700"><gml:exterior>{ring(p.exterior)}'
                f'</gml:exterior>{inner}</gml:Polygon>')

    members = []
    for k, (pid, g) in enumerate(zip(parcels["parcel_id"], parcels.geometry, strict=True), start=1):
        gid = f"LR.PREDEFINED.{k}.GEOMETRY"
        if g.geom_type == "Polygon":
            body = polygon(g, gid)
        else:
            body = (f'<gml:MultiSurface gml:id="{gid}" srsName="urn:ogc:def:crs:EPSG::27700">'
                    + "".join(f"<gml:surfaceMember>{polygon(p, f'{gid}.{j}')}</gml:surfaceMember>"
                              for j, p in enumerate(shapely.get_parts(g)))
                    + "</gml:MultiSurface>")
        members.append(
            f'<wfs:member><LR:PREDEFINED gml:id="LR.PREDEFINED.{k}"><LR:GEOMETRY>{body}</LR:GEOMETRY>'
            f"<LR:INSPIREID>{pid}</LR:INSPIREID><LR:LABEL>{pid}</LR:LABEL>"
            f"<LR:NATIONALCADASTRALREFERENCE>{pid}</LR:NATIONALCADASTRALREFERENCE>"
            "<LR:VALIDFROM>2009-01-13T11:06:20.000</LR:VALIDFROM>"
            "<LR:BEGINLIFESPANVERSION>2011-05-04T09:12:05.000</LR:BEGINLIFESPANVERSION></LR:PREDEFINED></wfs:member>")
    head = ('<?xml version="1.0" encoding="utf-8"?>\n' + prolog +
            '<wfs:FeatureCollection xmlns:wfs="http://www.opengis.net/wfs/2.0" xmlns:gml="http://www.opengis.net/gml/3.2" '
            'xmlns:LR="www.landregistry.gov.uk" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:schemaLocation="{schema_location}" numberMatched="{len(members)}" numberReturned="{len(members)}">\n')
    return (head + "\n".join(members) + "\n</wfs:FeatureCollection>\n").encode("utf-8")


def inspire_zip(path: Path, gml: bytes, *, authority: str = "City_of_London") -> Path:
    """HM Land Registry's per-authority download: the GML and the licence text in one zip."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Land_Registry_Cadastral_Parcels.gml", gml)
        zf.writestr(f"INSPIRE Download Licence {authority}.pdf", b"%PDF-1.4 licence text")
    return path


def ccod_csv(rows: list[dict], *, ocod: bool = False, change: bool = False) -> bytes:
    """A CCOD (or OCOD) file in HM Land Registry's exact column layout, full or change-only.

    Each row gives ``title`` fields by their published header ("Title Number", "Property Address", ...) and
    ``proprietors``: a list of up to four dicts with "name", "number", "category", "country" (OCOD) and
    "address"; a change-only file adds "Change Indicator" and "Change Date" at the end of each row.
    """
    head = ["Title Number", "Tenure", "Property Address", "District", "County", "Region", "Postcode",
            "Multiple Address Indicator", "Price Paid"]
    for n in range(1, 5):
        head += [f"Proprietor Name ({n})", f"Company Registration No. ({n})", f"Proprietorship Category ({n})"]
        if ocod:
            head += [f"Country Incorporated ({n})"]
        head += [f"Proprietor ({n}) Address (1)", f"Proprietor ({n}) Address (2)", f"Proprietor ({n}) Address (3)"]
    head += ["Date Proprietor Added", "Additional Proprietor Indicator"]
    if change:
        head += ["Change Indicator", "Change Date"]
    out = []
    for r in rows:
        line = {h: "" for h in head}
        line.update({k: v for k, v in r.items() if k != "proprietors"})
        for n, p in enumerate(r.get("proprietors", []), start=1):
            line[f"Proprietor Name ({n})"] = p["name"]
            line[f"Company Registration No. ({n})"] = p.get("number", "")
            line[f"Proprietorship Category ({n})"] = p.get("category", "")
            if ocod:
                line[f"Country Incorporated ({n})"] = p.get("country", "")
            line[f"Proprietor ({n}) Address (1)"] = p.get("address", "")
        out.append(line)
    buf = io.StringIO()
    pd.DataFrame(out, columns=head).to_csv(buf, index=False, lineterminator="\r\n")
    return buf.getvalue().encode("utf-8")


RECONCILE_ANCHOR = "City of London Corporation"
LEGAL = "The Mayor and Commonalty and Citizens of the City of London"
COUNCIL = {"category": "Local Authority"}


def _ccod_title(number, address, postcode, *proprietors, tenure="Freehold", multi="N"):
    return {"Title Number": number, "Tenure": tenure, "Property Address": address, "District": "CITY OF LONDON",
            "County": "GREATER LONDON", "Region": "GREATER LONDON", "Postcode": postcode,
            "Multiple Address Indicator": multi, "proprietors": list(proprietors)}


def reconcile_world(parcels_file: Path, tmp: Path) -> dict:
    """A small world on the real City of London parcels (tests/test_reconcile.py): a postcode directory, a register
    and CCOD/OCOD files (full and change-only) in the published layout, in ``tmp``."""
    import numpy as np
    import shapely

    from assets_map.io.landregistry import read_inspire

    parcels = read_inspire(parcels_file).frame
    g = parcels.geometry
    # parcels holding the register's assets and the postcode points, far enough apart to be told apart
    big = np.flatnonzero(parcels["parcel_area_ha"].to_numpy() > 0.05)
    p = {name: int(big[k]) for name, k in zip(("A1", "A2", "A3", "T2", "T3"), (0, 40, 80, 120, 160), strict=True)}
    inside = {k: g.iloc[v].representative_point() for k, v in p.items()}
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = g.total_bounds
    while True:  # a street: a point in no parcel
        street = shapely.Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if not shapely.intersects(g.to_numpy(), street).any():
            break
    pcs = {"EC2V 7HH": inside["A1"], "EC2V 9ZZ": inside["A2"], "EC2V 6XX": inside["A3"], "EC2V 5AA": inside["T2"],
           "EC2V 6BB": inside["A3"], "EC2V 7AB": street, "EC4M 1AA": inside["T3"]}
    pts = gpd.GeoSeries(list(pcs.values()), crs=27700).to_crs(4326)
    pd.DataFrame({"pcds": list(pcs), "lat": pts.y.round(7), "long": pts.x.round(7)}).to_csv(tmp / "pcd.csv", index=False)
    reg_pts = gpd.GeoSeries([inside["A1"], inside["A2"], inside["A3"]], crs=27700).to_crs(4326)
    pd.DataFrame({"AssetCode": ["A1", "A2", "A3"], "PropertyName": ["Guildhall", "Aldermanbury Depot", "Love Lane Hall"],
                  "StreetNumber": ["1", "40", "2"], "StreetName": ["Gresham Street", "Aldermanbury", "Love Lane"],
                  "PostTown": "London", "PostCode": ["EC2V 7HH", "EC2V 9ZZ", "EC2V 6XX"],
                  "GeoX": reg_pts.x.round(7), "GeoY": reg_pts.y.round(7),
                  "OrganisationLabel": RECONCILE_ANCHOR}).to_csv(tmp / "register.csv", index=False)
    pd.DataFrame({"anchor": [RECONCILE_ANCHOR, RECONCILE_ANCHOR], "alias": [LEGAL, ""],
                  "company_number": ["", "9999999"]}).to_csv(tmp / "aliases.csv", index=False)
    own = {"name": RECONCILE_ANCHOR, **COUNCIL}
    legal = {"name": LEGAL.upper(), **COUNCIL}
    legal2 = {"name": "Mayor & Commonalty & Citizens of the City of London.", **COUNCIL}
    titles = [
        _ccod_title("AGL1", "1 Gresham Street, London (EC2V 7HH)", "EC2V 7HH", legal),          # address -> A1
        _ccod_title("AGL2", "Land at Basinghall Avenue, London (EC2V 5AA)", "EC2V 5AA", legal2),  # parcel, not in register
        _ccod_title("AGL3", "Love Lane Yard, London (EC2V 6BB)", "EC2V 6BB", own),               # parcel of A3
        _ccod_title("AGL4", "Guildhall Yard, London (EC2V 7HH)", "EC2V 7HH", own),               # postcode of A1
        _ccod_title("AGL5", "10 Wood Street (EC2V 7AB) and 12 Milk Street (EC2V 8CD)", "EC2V 7AB", own, multi="Y"),
        _ccod_title("AGL6", "Bank Chambers, London (EC4M 1AA)", "EC4M 1AA",
               {"name": "Barts Health NHS Trust", "category": "Corporate Body"},
               {"name": "City of London Investments Limited", "number": "09999999",
                "category": "Limited Company or Public Limited Company"}),                  # by company number
        _ccod_title("AGL7", "3 Cheapside (EC2V 6AA)", "EC2V 6AA", {"name": "The City University", "category": "Corporate Body"}),
        _ccod_title("AGL8", "4 Cheapside (EC2V 6AA)", "EC2V 6AA",
               {"name": "London and Quadrant Housing Trust Limited", "category": "Registered Society (Company)"}),
        _ccod_title("AGL9", "City of London School (EC4V 3AL)", "EC4V 3AL", {"name": "City of London School Trust",
                                                                         "category": "Corporate Body"}),  # not the anchor
    ]
    (tmp / "CCOD_FULL.csv").write_bytes(ccod_csv(titles))
    (tmp / "OCOD_FULL.csv").write_bytes(ccod_csv([_ccod_title("NGL1", "5 Lime Street (EC3M 7AA)", "EC3M 7AA", {
        "name": "Example Holdings SA", "category": "Limited Company or Public Limited Company",
        "country": "LUXEMBOURG"})], ocod=True))
    change = [dict(titles[1], **{"Change Indicator": "D", "Change Date": "15-11-2026"}),
              dict(_ccod_title("AGL2", "Land at Basinghall Avenue, London (EC2V 5AA)", "EC2V 5AA",
                          {"name": "Acme Property Holdings Limited", "number": "01234567",
                           "category": "Limited Company or Public Limited Company"}),
                   **{"Change Indicator": "A", "Change Date": "15-11-2026"}),
              dict(titles[3], **{"Change Indicator": "D", "Change Date": "15-11-2026"}),
              dict(titles[0], **{"Change Indicator": "D", "Change Date": "15-11-2026"}),
              dict(titles[0], **{"Change Indicator": "A", "Change Date": "15-11-2026", "Price Paid": "2000000"})]
    (tmp / "CCOD_COU.csv").write_bytes(ccod_csv(change, change=True))
    return {"tmp": tmp, "parcels": parcels, "parcels_file": parcels_file, "p": p, "street": street, "pcs": pcs}


# ------------------------------------------------------------------ hold-out layouts

def reconcile_inputs(world: dict, *ownership: str) -> tuple:
    """The reconcile world read as ``reconcile`` takes it: (ownership rows of the named files, the anchor with its
    alias table, the postcode directory, the register joined to the parcels)."""
    from assets_map.community.ownership import build_anchor, read_aliases
    from assets_map.engine.parcels import join_parcels
    from assets_map.io.importer import import_file
    from assets_map.io.landregistry import read_ownership

    tmp = world["tmp"]
    frames = [read_ownership(tmp / name) for name in ownership]
    rows = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    anchor = build_anchor(RECONCILE_ANCHOR, read_aliases(tmp / "aliases.csv"))
    postcodes, _ = import_file(tmp / "pcd.csv", kind="postcodes")
    register, _ = import_file(tmp / "register.csv", postcodes=postcodes)
    register, _ = join_parcels(register, world["parcels"])
    return rows, anchor, postcodes, register

def district_layout(register: Path, path: Path) -> Path:
    """Trafford's register rewritten as a district council publishes one, so the true answers are known.

    Title lines above the header, a line of units under it, "Asset Name / Address 1 / Town / Post Code /
    Easting / Northing / Tenure / Property Type / Occupancy Status" columns (the holding type folded into the
    property type where the use is blank), floor areas with their unit ("1,047 sq m"), a blank line, a total
    row and a source note at the foot.
    """
    import csv

    from pyproj import Transformer

    d = pd.read_csv(register, dtype=str, keep_default_na=False)
    lon = pd.to_numeric(d["GeoX"], errors="coerce").to_numpy()
    lat = pd.to_numeric(d["GeoY"], errors="coerce").to_numpy()
    swapped = lon > 40  # one row of the original has them swapped (the importer swaps it back)
    lon, lat = np.where(swapped, lat, lon), np.where(swapped, lon, lat)
    e, n = Transformer.from_crs(4326, 27700, always_xy=True).transform(lon, lat)
    grid = [["" if not np.isfinite(v) else str(int(round(v))) for v in col] for col in (e, n)]
    area = ["" if not v else f"{float(v):,.0f} sq m" for v in d["BuildingSize"]]
    use = [o or h for o, h in zip(d["OtherDetail"], d["HoldingType"], strict=True)]
    header = ["Asset Name", "Address 1", "Address 2", "Town", "Post Code", "UPRN", "Easting", "Northing", "Tenure",
              "Property Type", "Occupancy Status", "Gross Internal Area"]
    rows = [["Anytown District Council"], ["Land and Property Assets Register (Local Government Transparency Code)"],
            [], header, ["(text)", "", "", "", "", "", "(OSGB36)", "(OSGB36)", "", "", "", "m2"]]
    for i in range(len(d)):
        rows.append([d["PropertyName"][i], f"{d['StreetNumber'][i]} {d['StreetName'][i]}".strip(), "", d["PostTown"][i],
                     d["PostCode"][i], d["UPRN"][i], grid[0][i], grid[1][i], d["TenureType"][i], use[i],
                     d["TenureDetail"][i], area[i]])
    total = sum(float(v) for v in d["BuildingSize"] if v)
    rows += [[], ["Total", *[""] * 10, f"{total:,.0f} sq m"], ["Source: Estates team, data as at 31 March"]]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def wait_until_idle(page, *, timeout: int = 60_000) -> None:
    """Wait until the app's run is over: no "Running" sign, and no element left stale (faded) from the last run.

    A text the run writes early (a heading, a count) can show before the elements after it are drawn again; a
    download button clicked then still holds the last run's file.
    """
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidgetRunningIcon], "
                           "[data-testid=stStatusWidgetRunningManIcon], [data-stale=true]')", timeout=timeout)


def upload_to_slot(page, slot: str, path: Path, *, tries: int = 3) -> None:
    """Give ``path`` to the Your data slot whose label starts ``slot`` and wait until the server has it staged.

    The file's name shows in the uploader at once, in the browser; "Ready to check: <slot>: <name>" shows only
    once the app has it. An upload landing during the previous upload's rerun can be dropped: it is given again.
    """
    want = re.compile(rf"Ready to check: .*{re.escape(path.name)}")
    for attempt in range(tries):
        box = page.locator("[data-testid=stFileUploader]").filter(has_text=slot).first
        box.locator("input[type=file]").set_input_files(path)
        try:
            page.get_by_text(want).first.wait_for(timeout=60_000)
            return
        except Exception:
            if attempt == tries - 1:
                raise
