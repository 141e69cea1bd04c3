"""Bounded work per visitor: upload budgets (bytes, features, vertices), heavy jobs bounded in
memory and time, nothing of an upload kept after its session ends."""
from __future__ import annotations

import gc
import json
import time
import weakref

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Point, Polygon

from assets_map.engine.bounded import JobBudget, run_bounded
from assets_map.io.importer import import_bytes
from assets_map.io.report import InputError
from assets_map.io.sources import DEFAULT_LIMITS, PUBLIC_LIMITS, Limits, current_limits, using_limits
from assets_map.io.uploads import Upload, check_uploads

# --- budgets in the importer ------------------------------------------------------------------


def ring(n: int, x0: float = -2.35, y0: float = 53.44, r: float = 0.002) -> list[list[float]]:
    """A closed, valid ring of n distinct vertices (n + 1 coordinates with the closing one)."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    rr = r * (1 + 0.3 * np.sin(t * 25))
    pts = np.c_[x0 + rr * np.cos(t) * 1.6, y0 + rr * np.sin(t)].round(7).tolist()
    return pts + [pts[0]]


def geojson(*rings_: list, props: dict | None = None) -> bytes:
    feats = [{"type": "Feature", "properties": {"AssetCode": f"A{i}", "PropertyName": f"Site {i}", **(props or {})},
              "geometry": {"type": "Polygon", "coordinates": [r]}} for i, r in enumerate(rings_)]
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


def test_a_feature_over_the_public_vertex_budget_is_refused_naming_row_and_limit():
    n = PUBLIC_LIMITS.max_feature_vertices  # the closing coordinate makes it one over
    with pytest.raises(InputError) as e:
        import_bytes(geojson(ring(20), ring(n)), "boundaries.geojson", limits=PUBLIC_LIMITS)
    assert str(e.value) == ("boundaries.geojson: 200,001 vertices in row 2, above the 200,000 a public upload "
                            "may hold in one feature")
    out, _ = import_bytes(geojson(ring(20), ring(n - 1)), "boundaries.geojson", limits=PUBLIC_LIMITS)
    assert shapely.get_num_coordinates(out.geometry.values).max() == n


def test_total_vertex_budget():
    lim = Limits(max_vertices=1_000, who="a public upload")
    with pytest.raises(InputError, match=r"r.geojson: 1,002 vertices in all, above the 1,000 a public upload may hold"):
        import_bytes(geojson(ring(500), ring(500)), "r.geojson", limits=lim)
    out, _ = import_bytes(geojson(ring(499), ring(499)), "r.geojson", limits=lim)
    assert len(out) == 2


def test_byte_and_feature_budgets_name_the_public_limit():
    data = geojson(*[ring(10, x0=-2.35 + i * 0.01) for i in range(6)])
    small = PUBLIC_LIMITS.scaled(max_file_bytes=len(data) - 1)
    with pytest.raises(InputError, match=r"over the .* MB limit for a public upload"):
        import_bytes(data, "r.geojson", limits=small)
    assert len(import_bytes(data, "r.geojson", limits=PUBLIC_LIMITS.scaled(max_file_bytes=len(data)))[0]) == 6
    with pytest.raises(InputError, match="has 6 features; at most 5 are accepted for a public upload"):
        import_bytes(data, "r.geojson", limits=PUBLIC_LIMITS.scaled(max_rows=5))
    assert len(import_bytes(data, "r.geojson", limits=PUBLIC_LIMITS.scaled(max_rows=6))[0]) == 6
    csv = b"AssetCode,PropertyName,Easting,Northing\n" + b"".join(b"A%d,Site,378000,393000\n" % i for i in range(6))
    with pytest.raises(InputError, match="has 6 rows; at most 5 are accepted for a public upload"):
        import_bytes(csv, "r.csv", limits=PUBLIC_LIMITS.scaled(max_rows=5))
    assert len(import_bytes(csv, "r.csv", limits=PUBLIC_LIMITS.scaled(max_rows=6))[0]) == 6


def test_public_budget_matches_the_shipped_upload_limit_and_the_cli_keeps_generous_defaults():
    from pathlib import Path

    import tomllib

    config = tomllib.loads((Path(__file__).parents[1] / ".streamlit" / "config.toml").read_text())
    assert PUBLIC_LIMITS.max_file_bytes == config["server"]["maxUploadSize"] * 1_000_000
    assert DEFAULT_LIMITS.max_file_bytes > PUBLIC_LIMITS.max_file_bytes
    assert DEFAULT_LIMITS.max_feature_vertices > PUBLIC_LIMITS.max_feature_vertices
    assert current_limits() is DEFAULT_LIMITS


def test_every_reader_of_a_users_files_applies_the_budget_given(tmp_path):
    """Boundaries, deprivation, postcodes and wards are read by readers that take no limits argument."""
    files = {"register": Upload("register.csv", b"AssetCode,PropertyName,Easting,Northing\nA1,Site,378000,393000\n"),
             "boundaries": Upload("boundaries.geojson", geojson(ring(300)))}
    lim = PUBLIC_LIMITS.scaled(max_feature_vertices=200)
    with pytest.raises(InputError, match=r"boundaries.geojson: 301 vertices in row 1, above the 200 a public upload"):
        check_uploads(files, limits=lim)
    with using_limits(lim):
        assert current_limits() is lim
    assert current_limits() is DEFAULT_LIMITS


# --- heavy jobs bounded in memory and time ------------------------------------------------------


def _sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


def _grab(mb: int, hold: float = 0.0) -> int:
    block = bytearray(mb * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])
    time.sleep(hold)
    return len(block)


def _refuse() -> None:
    raise InputError("bad row", source="f.csv")


def test_a_job_over_its_time_is_stopped_with_a_clear_message():
    t = time.monotonic()
    with pytest.raises(InputError, match=r"^sleeping took longer than the 1 s a public visitor's job may take"):
        run_bounded(_sleep, 30, budget=JobBudget(memory_mb=512, seconds=1, who="a public visitor's job"),
                    what="sleeping")
    assert time.monotonic() - t < 10
    assert run_bounded(_sleep, 0, budget=JobBudget(memory_mb=512, seconds=20)) == "woke"


@pytest.mark.parametrize("mb", [400, 2000])  # over the sampled budget; over the hard address-space limit
def test_a_job_over_its_memory_is_stopped_and_the_server_keeps_running(mb):
    t = time.monotonic()
    with pytest.raises(InputError, match=r"^grabbing needed more than the 300 MB of memory"):
        run_bounded(_grab, mb, 20, budget=JobBudget(memory_mb=300, seconds=60), what="grabbing")
    assert time.monotonic() - t < 15
    assert run_bounded(_grab, 100, budget=JobBudget(memory_mb=300, seconds=60)) == 100 * 1024 * 1024


def test_a_jobs_own_refusal_comes_back_as_itself():
    with pytest.raises(InputError) as e:
        run_bounded(_refuse)
    assert e.value.source == "f.csv" and str(e.value) == "f.csv: bad row"


def _boom() -> None:
    raise ValueError("secret detail /srv/assets/db.sqlite")


def _unpicklable():
    return lambda: None


def test_a_jobs_own_bug_is_one_line_without_its_details(caplog):
    for fn in (_boom, _unpicklable):
        with pytest.raises(RuntimeError) as e:
            run_bounded(fn, what="testing")
        assert str(e.value) == ("testing failed because of a problem in assets-map, not in your files "
                                "(the details are in the server log)")
    assert "secret detail" in caplog.text


def test_a_self_crossing_polygon_that_explodes_in_repair_is_stopped_in_time():
    """make_valid on 500 vertices whose edges all cross took 108 s (13,865 pieces) unbounded."""
    rng = np.random.default_rng(1)
    pts = np.c_[-2.35 + rng.uniform(-0.01, 0.01, 500), 53.44 + rng.uniform(-0.006, 0.006, 500)].round(7).tolist()
    files = {"register": Upload("register.geojson", geojson(pts + [pts[0]])),
             "boundaries": Upload("boundaries.geojson", geojson(ring(50, r=0.05)))}
    t = time.monotonic()
    with pytest.raises(InputError, match="checking your files took longer than the 3 s"):
        run_bounded(check_uploads, files, budget=JobBudget(memory_mb=1024, seconds=3), what="checking your files")
    assert time.monotonic() - t < 15


def test_the_site_pack_map_never_draws_more_vertices_than_pixels(monkeypatch):
    from assets_map.community import sitepack

    site_geom = gpd.GeoSeries([Polygon(ring(1_000_000))], crs=4326).to_crs(27700).iloc[0]
    needs = gpd.GeoDataFrame({"need_decile": [1, 5]}, geometry=[site_geom.buffer(300), Point(0, 0).buffer(1)],
                             crs=27700)
    import geopandas.plotting as gplot

    drawn = []
    for fn in ("_plot_polygon_collection", "_plot_linestring_collection"):
        real = getattr(gplot, fn)

        def spy(ax, geoms, *a, _real=real, **k):
            drawn.append(int(shapely.get_num_coordinates(np.asarray(geoms, dtype=object)).sum()))
            return _real(ax, geoms, *a, **k)

        monkeypatch.setattr(gplot, fn, spy)
    site = gpd.GeoDataFrame({"asset_id": ["A1"]}, geometry=[site_geom], crs=27700).iloc[0]
    png = sitepack.map_png(site, needs=needs, size_in=3.3, dpi=150)
    assert png.startswith(b"\x89PNG")
    pixels = 3.3 * 150
    assert drawn and max(drawn) < 8 * pixels, drawn  # a ring of ~500 px is drawn with a few thousand points at most


def test_the_site_pack_on_a_million_vertex_site_finishes_within_its_budget():
    from assets_map.community.sitepack import make_pack

    geom = gpd.GeoSeries([Polygon(ring(1_000_000))], crs=4326).to_crs(27700)
    sites = gpd.GeoDataFrame({"asset_id": ["A1"], "name": ["Big"]}, geometry=geom, crs=27700)
    doc, pdf = run_bounded(make_pack, sites, pdf=False, budget=JobBudget(memory_mb=1536, seconds=60),
                           what="making the site pack")
    assert "Big" in doc and pdf is None


# --- nothing of an upload outlives its session ---------------------------------------------------


def test_the_national_map_cache_does_not_keep_a_private_need_layer():
    from assets_map.maps import national as display

    needs = gpd.GeoDataFrame({"name": ["Trafford 001A", "Trafford 001B"], "need_decile": [1, 2]},
                             geometry=[Point(378000, 393000).buffer(50), Point(378200, 393000).buffer(50)], crs=27700)
    assets = gpd.GeoDataFrame({"asset_id": ["A1"], "priority": ["high"]}, geometry=[Point(378000, 393000)], crs=27700)
    display.prepare(assets, needs, aggregate=True)
    gone = weakref.ref(needs)
    del needs
    gc.collect()
    assert gone() is None
    assert not display._LAD_CACHE


class _Info:
    def __init__(self, sid):
        self.session = type("S", (), {"id": sid})()


class _Sessions:
    """What the sweep reads of Streamlit's session manager: the sessions still alive."""

    def __init__(self, *ids):
        self.ids = list(ids)

    def list_sessions(self):
        return [_Info(i) for i in self.ids]


def test_sessions_past_their_reconnection_time_are_shut_down():
    """Streamlit's own storage (a TTL cache) keeps an expired session, and its state, until reaped."""
    from streamlit.runtime.memory_session_storage import MemorySessionStorage
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager

    from assets_map.ui.state import release_ended_sessions

    class Session:
        def __init__(self, sid):
            self.id, self.down = sid, False

        def shutdown(self):
            self.down = True

    storage = MemorySessionStorage(ttl_seconds=0.2)
    closed = Session("closed-tab")
    storage.save(type("Info", (), {"session": closed})())
    mgr = _Sessions()
    mgr._session_storage = storage
    assert release_ended_sessions(mgr, MemoryUploadedFileManager("/u"), None) == 0 and not closed.down
    time.sleep(0.3)
    assert release_ended_sessions(mgr, MemoryUploadedFileManager("/u"), None) == 1
    assert closed.down and not storage._cache._data


def test_uploads_of_ended_sessions_are_released():
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.uploaded_file_manager import UploadedFileRec

    from assets_map.ui.state import release_ended_sessions

    files = MemoryUploadedFileManager("/_stcore/upload_file")
    files.add_file("gone", UploadedFileRec("f1", "big.csv", "text/csv", b"x" * 1_000_000))
    files.add_file("alive", UploadedFileRec("f2", "small.csv", "text/csv", b"y" * 10))
    media = MediaFileManager(MemoryMediaFileStorage("/media"))
    sessions = _Sessions("alive")
    assert release_ended_sessions(sessions, files, media) == 1
    assert files.get_files("gone", ["f1"]) == []
    assert [f.name for f in files.get_files("alive", ["f2"])] == ["small.csv"]
    sessions.ids = []
    assert release_ended_sessions(sessions, files, media) == 1
    assert files.get_files("alive", ["f2"]) == []


# --- the app gives a public visitor the public budget ---------------------------------------------


def _data_page() -> None:
    from assets_map.ui import data_page, shared

    shared.frame()
    data_page.render()


@pytest.mark.parametrize("public", [True, False])
def test_the_app_checks_a_public_visitors_files_under_the_public_budget(monkeypatch, public):
    from streamlit.testing.v1 import AppTest

    from assets_map.store import LOCAL_USER, PUBLIC
    from assets_map.ui import identity, state

    monkeypatch.setattr(state, "PUBLIC_LIMITS", PUBLIC_LIMITS.scaled(max_feature_vertices=200))
    monkeypatch.setattr(identity, "visitor_role", lambda store=None: PUBLIC if public else LOCAL_USER)
    at = AppTest.from_function(_data_page, default_timeout=120)
    at.session_state["staged_uploads"] = {
        "register": Upload("register.csv", b"AssetCode,PropertyName,Easting,Northing\nA1,Site,378000,393000\n"),
        "boundaries": Upload("boundaries.geojson", geojson(ring(300)))}
    at.run()
    at.button(key="check_upload").click().run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    if public:
        assert "301 vertices in row 1, above the 200 a public upload may hold" in errors.replace("\\", "")
    else:
        assert "vertices" not in errors


@pytest.mark.parametrize("public", [True, False])
def test_the_finders_area_polygon_is_read_under_the_visitors_budget(monkeypatch, public):
    from assets_map.store import LOCAL_USER, PUBLIC
    from assets_map.ui import finder_page, identity, state

    monkeypatch.setattr(state, "PUBLIC_LIMITS", PUBLIC_LIMITS.scaled(max_feature_vertices=200))
    monkeypatch.setattr(identity, "visitor_role", lambda store=None: PUBLIC if public else LOCAL_USER)
    data = geojson(ring(300))
    if public:
        with pytest.raises(InputError, match="301 vertices in row 1, above the 200 a public upload may hold"):
            finder_page.area_polygon(data, "area.geojson")
    else:
        area = finder_page.area_polygon(data, "area.geojson")
        assert area.geom_type == "Polygon" and shapely.get_num_coordinates(area) == 301
