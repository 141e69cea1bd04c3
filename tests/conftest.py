"""Shared fixtures: real data, the demo, visitors, the register store and the app in a browser.

Helpers that are not fixtures live in tests/helpers.py. Every test that uses a fixture reading
../shared/data (``shared``, or a fixture built on it such as ``trafford``) is marked ``shared_data``
at collection, so ``-m "not shared_data"`` deselects exactly those. The data is skipped with a reason
where absent; CI sets ASSETS_MAP_REQUIRE_SHARED_DATA=1 so that a missing data folder fails instead.
"""
from __future__ import annotations

import uuid

import geopandas as gpd
import pytest

from assets_map.store import SqliteStore
from tests.helpers import CHROMIUM, LAUNCH_ARGS, postgis_url, require_browser, shared_file, streamlit_app

SHARED_DATA_FIXTURES = {"shared"}  # fixtures that read ../shared/data; fixtures using them are covered too


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Mark ``shared_data`` every test whose fixtures (directly or through others) read ../shared/data."""
    for item in items:
        if SHARED_DATA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.shared_data)


@pytest.fixture(scope="session")
def shared():
    """``shared("trafford", "x.csv")``: the path of a real data file, or skip (fail in CI) when absent."""
    return shared_file


@pytest.fixture(scope="session")
def trafford(shared):
    """Paths of the Trafford files."""
    return {
        "register": shared("trafford", "land_and_building_assets.csv"),
        "lsoa21": shared("trafford", "lsoa21_boundaries.geojson"),
        "lsoa11": shared("trafford", "lsoa11_boundaries.geojson"),
        "iod_long": shared("trafford", "iod2015_2019_lsoa11_long.csv"),
        "imd2025": shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv"),
        "postcodes": shared("trafford", "postcodes_onspd_feb2025.csv"),
        "greenspace": shared("trafford", "parcels", "greenspace_sites.geojson"),
        "allotments": shared("trafford", "parcels", "allotments.geojson"),
    }


@pytest.fixture(scope="session")
def trafford_result(trafford):
    """Trafford's register analysed against its LSOAs and the IoD 2025, with the two exclusion layers (once)."""
    from assets_map.engine.pipeline import analyse

    return analyse(trafford["register"], trafford["lsoa21"], trafford["imd2025"], postcodes=trafford["postcodes"],
                   exclude=[trafford["greenspace"], trafford["allotments"]])


@pytest.fixture(scope="session")
def demo_result():
    """The fictional demo analysis (built once per session)."""
    from assets_map.engine.demo import load_demo

    return load_demo()


# ------------------------------------------------------------------ visitors
# AppTest runs pages with no connection, so the app sees an unknown visitor: the public view. Tests
# that need another visitor say so with one of these (they replace how the app reads the connection,
# which a visitor cannot do).
@pytest.fixture
def local_visitor(monkeypatch):
    """The visitor is a browser on the server itself, talking to it directly (local mode when sign-in is off)."""
    from assets_map.ui import identity

    monkeypatch.setattr(identity, "peer", lambda: identity.Peer("127.0.0.1", {"host": ("localhost:8501",),
                                                                              "origin": ("http://localhost:8501",)}))


@pytest.fixture
def remote_visitor(monkeypatch):
    """The visitor is a browser on another machine."""
    from assets_map.ui import identity

    monkeypatch.setattr(identity, "peer", lambda: identity.Peer("192.0.2.7", {"host": ("assets.example:8501",)}))


# ------------------------------------------------------------------ the register store
@pytest.fixture(scope="session")
def demo_analysis(tmp_path_factory):
    """The fictional demo, generated here and analysed through the engine."""
    from assets_map.engine.demo import build_demo, load_demo

    path = build_demo(tmp_path_factory.mktemp("demo") / "demo.gpkg")
    result = load_demo(path)
    greenspace = gpd.read_file(path, layer="greenspace").to_crs("EPSG:27700")
    return result, [("demo greenspace", greenspace)]


@pytest.fixture(params=["sqlite", "postgis"])
def backend(request):
    """Each store test runs on SQLite and on PostGIS (skipped, or failed in CI, without a server)."""
    return request.param


@pytest.fixture
def make_store(backend, tmp_path):
    """A factory of fresh, empty stores of the backend under test."""
    made = []

    def make(name: str | None = None):
        if backend == "sqlite":
            return SqliteStore(tmp_path / f"{name or uuid.uuid4().hex[:8]}.sqlite")
        from assets_map.store.postgis import PostgisStore

        s = PostgisStore(postgis_url(), schema=f"t_{uuid.uuid4().hex[:12]}")
        made.append(s)
        return s

    yield make
    for s in made:
        s.drop_schema()


@pytest.fixture
def store(make_store):
    """A fresh, empty register of the backend under test."""
    return make_store("register")


@pytest.fixture
def register(tmp_path, monkeypatch):
    """The Register page's store: a fresh SQLite file, its cached handle cleared before and after."""
    path = tmp_path / "register.sqlite"
    monkeypatch.delenv("ASSETS_MAP_DATABASE_URL", raising=False)
    monkeypatch.setenv("ASSETS_MAP_STORE", str(path))
    from assets_map.ui import register_page

    register_page._store.clear()
    yield path
    register_page._store.clear()


# ------------------------------------------------------------------ the app in a browser
@pytest.fixture(scope="module")
def server():
    require_browser()
    with streamlit_app("--server.address", "127.0.0.1") as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


# ------------------------------------------------------------------ e-mail
@pytest.fixture
def smtp_server(monkeypatch):
    """A local SMTP server (aiosmtpd on 127.0.0.1, a free port) that the store's e-mail goes to.

    Yields the list of messages it received (``email.message.EmailMessage``); the
    ``ASSETS_MAP_SMTP_*`` settings point at it for the test.
    """
    import email
    import email.policy

    from aiosmtpd.controller import Controller

    from tests.helpers import free_port

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
            msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            received.append(msg)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("ASSETS_MAP_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ASSETS_MAP_SMTP_PORT", str(port))
    monkeypatch.setenv("ASSETS_MAP_SMTP_FROM", "register@assets.example")
    monkeypatch.setenv("ASSETS_MAP_PUBLIC_URL", "https://assets.example")
    try:
        yield received
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def city_file(shared):
    """HM Land Registry's INSPIRE Index Polygons of the City of London (3,703 parcels, 86 invalid as published)."""
    return shared("london", "inspire_city_of_london.geojson")


# ------------------------------------------------------------------ Land Registry ownership in the app
@pytest.fixture(scope="module")
def reconcile_files(shared, tmp_path_factory):
    """tests.helpers.reconcile_world on the real City of London parcels: CCOD fixtures, a register, postcodes."""
    from tests.helpers import reconcile_world

    return reconcile_world(shared("london", "inspire_city_of_london.geojson"), tmp_path_factory.mktemp("reconcile"))


@pytest.fixture(scope="module")
def reconcile_checked(reconcile_files, shared):
    """The City of London data in use as Your data checks it: register, boundaries, postcodes, IoD, CCOD, parcels."""
    from assets_map.io.importer import Upload
    from assets_map.io.uploads import check_uploads

    tmp = reconcile_files["tmp"]
    lsoa = gpd.read_file(shared("england", "lsoa21_boundaries_ew.gpkg"), engine="pyogrio")
    lsoa = lsoa[lsoa["lsoa21_name"].str.startswith("City of London")]
    files = {"register": Upload("register.csv", (tmp / "register.csv").read_bytes()),
             "boundaries": Upload("city.geojson", lsoa.to_crs(4326).to_json().encode()),
             "postcodes": Upload("pcd.csv", (tmp / "pcd.csv").read_bytes()),
             "deprivation": Upload("imd.csv", shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv").read_bytes())}
    return check_uploads(files, ownership=[Upload("CCOD_FULL.csv", (tmp / "CCOD_FULL.csv").read_bytes())],
                         parcels=[Upload("city.geojson", reconcile_files["parcels_file"].read_bytes())])


@pytest.fixture
def ownership_store(tmp_path, monkeypatch):
    """The app's register for the Land ownership page: a fresh SQLite file, the shared handle cleared around it."""
    from assets_map.ui import identity

    monkeypatch.delenv("ASSETS_MAP_DATABASE_URL", raising=False)
    monkeypatch.setenv("ASSETS_MAP_STORE", str(tmp_path / "register.sqlite"))
    identity.shared_store.clear()
    yield tmp_path / "register.sqlite"
    identity.shared_store.clear()
