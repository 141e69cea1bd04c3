"""The lower findings of the safety probe (issue 20, finding 9 and finding 8).

* downloads of a register holding two organisations whose source columns differ
  only in case (``src_uprn`` / ``src_UPRN``), in every format;
* the CSV formula guard for every leading character a spreadsheet runs;
* Markdown and HTML in user text shown literally (finder, register page);
* restore from a read-only backup;
* one-line database errors without connection details;
* a rate limit on anonymous corrections;
* store compaction after re-imports and WAL clean-up after an interrupted backup;
* a truly sandboxed site-pack preview.
"""
from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import warnings
import zipfile

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from assets_map.io import downloads
from assets_map.io.export import FORMATS, export_bytes, is_formula_like, safe_cell
from assets_map.store import Role, backup
from tests.helpers import HASH, ORG, OTHER, import_demo, markdown_shown, register_page_script, variant

ADMIN = Role("admin", "admin@example.org")


# ------------------------------------------------------------------ exports with case-colliding columns

def _files(fmt: str, name: str, data: bytes, tmp_path) -> dict[str, bytes]:
    if name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return {n: zf.read(n) for n in zf.namelist()}
    return {name: data}


def _dictionary(fmt: str, files: dict[str, bytes], tmp_path) -> pd.DataFrame:
    """The export's data dictionary, wherever the format keeps it."""
    if "data_dictionary.csv" in files:
        return pd.read_csv(io.BytesIO(files["data_dictionary.csv"]), dtype=str, keep_default_na=False)
    (name, data), = files.items()
    path = tmp_path / name
    path.write_bytes(data)
    if fmt in ("gpkg", "xlsx"):
        return pyogrio.read_dataframe(path, layer="data_dictionary")
    if fmt == "geojson":
        return pd.DataFrame(json.loads(data)["metadata"]["data_dictionary"])
    text = data.decode()
    return pd.DataFrame({"field": [f for f in ("src_uprn", "src_UPRN_2") if f">{f}<" in text or f'"{f}"' in text]})


def _values(fmt: str, files: dict[str, bytes], tmp_path, layer: str) -> pd.DataFrame:
    """The attribute table of ``layer`` as the format holds it (shapefile fields by their full name)."""
    if fmt == "csv":
        return pd.read_csv(io.BytesIO(files[f"{layer}.csv"]), dtype=str, encoding="utf-8-sig")
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    if fmt == "shp":
        names = pd.read_csv(io.BytesIO(files["field_names.csv"]), dtype=str)
        full = dict(zip(names["shapefile_field"], names["field"], strict=True))
        parts = [pyogrio.read_dataframe(tmp_path / n, read_geometry=False)
                 for n in files if n.startswith(layer) and n.endswith((".shp", "_no_location.dbf"))]
        return pd.concat(parts, ignore_index=True).rename(columns=full)
    (name,) = [n for n in files if n.endswith((".gpkg", ".geojson", ".kml", ".xlsx"))]
    kw = {"layer": layer} if fmt in ("gpkg", "kml", "xlsx") else {}
    return pyogrio.read_dataframe(tmp_path / name, read_geometry=False, **kw)


def test_case_colliding_columns_export_in_every_format(tmp_path):
    """One source with 'uprn' and 'UPRN': every format writes both, apart, and says which is which."""
    g = gpd.GeoDataFrame({"asset_id": ["a1", "a2", "a3"], "name": ["One", "Two", "Three"],
                          "src_uprn": ["100", None, "300"], "src_UPRN": ["9100", "9200", None]},
                         geometry=[Point(380000, 395000), Point(380100, 395100), None], crs="EPSG:27700")
    for fmt in FORMATS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            name, data = export_bytes({"assets": g}, fmt, name="clash")
        files = _files(fmt, name, data, tmp_path / fmt)
        (tmp_path / fmt).mkdir()
        got = _values(fmt, files, tmp_path / fmt, "assets").set_index("asset_id").sort_index()
        assert got.loc[["a1", "a3"], "src_uprn"].tolist() == ["100", "300"], fmt
        assert got.loc[["a1", "a2"], "src_UPRN_2"].tolist() == ["9100", "9200"], fmt
        dd = _dictionary(fmt, files, tmp_path / fmt)
        assert "src_UPRN_2" in set(dd["field"]), fmt
        if "meaning" in dd:
            meaning = dd.loc[dd["field"] == "src_UPRN_2", "meaning"].iloc[0]
            assert "'UPRN' exactly as in the source file" in meaning and "src_UPRN" in meaning, fmt
        if "README.txt" in files:
            assert "src_UPRN_2 (for src_UPRN)" in files["README.txt"].decode()


def test_two_organisation_register_downloads_in_every_format(make_store, demo_analysis, tmp_path):
    """Finding 8: an admin of a register holding two organisations downloads it in every format.

    The demo itself has ``src_uprn``; the two registers add ``src_ref`` and ``src_REF``."""
    result, exclude = demo_analysis
    reg = make_store("two")
    ours = variant(result)
    ours.assets["src_ref"] = [f"U{i}" for i in range(len(ours.assets))]
    theirs = variant(result, org_prefix="B-")
    theirs.assets["src_REF"] = [f"V{i}" for i in range(len(theirs.assets))]
    for org, r in ((ORG, ours), (OTHER, theirs)):
        reg.import_analysis(r, organisation=org, role=ADMIN, source_name="demo.gpkg", file_sha256=HASH,
                            exclude=exclude)
    sites = reg.register_analysis(ADMIN).assets
    mine, other = "src_Ashbridge_fictional_ref", "src_Elsewhere_fictional_REF"  # organisation names as prefixes
    assert {mine, other} <= set(sites.columns) and "src_ref" not in sites and "src_REF" not in sites
    theirs_rows = sites["asset_id"].str.startswith("B-")  # the other register's assets
    assert sites.loc[~theirs_rows, other].isna().all() and sites.loc[theirs_rows, mine].isna().all()
    assert sites.loc[theirs_rows, other].str.startswith("V").all()
    assert sites.loc[~theirs_rows, mine].str.startswith("U").all()
    for fmt in downloads.FORMATS:
        name, data, _, _ = downloads.download(sites, fmt, name="register")
        files = _files(fmt, name, data, tmp_path)
        (tmp_path / fmt).mkdir()
        got = _values(fmt, files, tmp_path / fmt, "assets")  # shapefile: full names from field_names.csv
        assert got[mine].dropna().str.startswith("U").sum() == (~theirs_rows).sum(), fmt
        assert got[other].dropna().str.startswith("V").sum() == theirs_rows.sum(), fmt
        dd = _dictionary(fmt, files, tmp_path / fmt)
        if "meaning" in dd:
            meaning = dd.loc[dd["field"] == other, "meaning"].iloc[0]
            assert f"'REF' exactly as in the source file of {OTHER}" in meaning, fmt


# ------------------------------------------------------------------ CSV formula guard

FORMULAS = ["=1+1", "+cmd", "-cmd", "@SUM(A1)", "\tx", "\rx", "\n=1+1", "\nx", '=HYPERLINK("http://x")',
            " =1+1", "   @SUM(A1)", "\u00a0=1+1", "\u00a0\u00a0-cmd", "\u2007+cmd", "\u202f=1", "\u3000=1",
            "\u200b=1+1", "\ufeff=1", " \n=1", "\uff1d1+1", "\uff0bcmd", "\uff0d1+1", "\uff20SUM(A1)",
            "\ufe661+1", "\ufe62cmd", "\ufe63cmd", "\ufe6bSUM(A1)", "\u207c1", "\u2212cmd", " \uff1dcmd"]
NOT_FORMULAS = ["-2.5", "+44", "1e-3", " -3.5", "\u00a0-3.5", "\uff0d3.5", "plain", "£5", "", "a=b", "é",
                "  ", "3", "Town Hall (east wing)"]


@pytest.mark.parametrize("text", FORMULAS, ids=[repr(t) for t in FORMULAS])
def test_formula_guard_catches_every_leading_form(text):
    assert is_formula_like(text)
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", NOT_FORMULAS, ids=[repr(t) for t in NOT_FORMULAS])
def test_formula_guard_leaves_numbers_and_plain_text(text):
    assert not is_formula_like(text)
    assert safe_cell(text) == text


def test_csv_export_guards_look_alikes_and_keeps_numbers():
    g = gpd.GeoDataFrame({"asset_id": ["a", "b", "c", "d"],
                          "name": [" =cmd|' /C calc'!A0", "\uff1dHYPERLINK(\"http://x\")", "\n@SUM(A1)", "-3.5"]},
                         geometry=[Point(380000, 395000)] * 4, crs="EPSG:27700")
    _, data = export_bytes({"assets": g}, "csv", name="f", bom=False)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        got = pd.read_csv(zf.open("assets.csv"), dtype=str, keep_default_na=False)
        readme = zf.read("README.txt").decode()
    assert got["name"].tolist() == ["' =cmd|' /C calc'!A0", "'\uff1dHYPERLINK(\"http://x\")", "'\n@SUM(A1)", "-3.5"]
    assert "3 text cells" in readme


# ------------------------------------------------------------------ Markdown never interpreted in user text

EVIL_NAMES = ("![x](http://evil.example/img.png) Hall", "[click](http://evil.example/) Depot",
              "**bold** _it_ <b>tag</b> ~~gone~~ `code` :red[red] # Yard", "www.evil.example & a@evil.example")
def test_markdown_helper_fails_on_raw_text():
    """The check itself: raw Markdown in a name does make links and images."""
    shown, kinds = markdown_shown(EVIL_NAMES[0] + " " + EVIL_NAMES[1] + " " + EVIL_NAMES[2])
    assert {"image", "link_open", "strong_open", "em_open", "s_open", "code_inline", "html_inline"} <= kinds


def _finder_with_evil_names():
    import copy

    import streamlit as st

    from assets_map.ui import finder_page, state

    if "evil_loaded" not in st.session_state:
        evil = ("![x](http://evil.example/img.png) Hall", "[click](http://evil.example/) Depot",
                "**bold** _it_ <b>tag</b> ~~gone~~ `code` :red[red] # Yard", "www.evil.example & a@evil.example")
        result = copy.copy(state.analysis())
        result.assets = result.assets.copy()
        result.assets["name"] = [f"{evil[i % len(evil)]} {i}" for i in range(len(result.assets))]
        state.use_data(result, "names with Markdown")
        st.session_state["evil_loaded"] = True
    finder_page.render()


def test_finder_shows_markdown_in_names_literally():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_finder_with_evil_names, default_timeout=120).run()
    assert not at.exception, at.exception
    at.selectbox(key="fd_use").set_value("food hub").run()
    at.slider(key="fd_size_food hub_building").set_value((0, 10000)).run()
    at.checkbox(key="fd_unflagged").check().run()
    at.button(key="fd_go").click().run()
    assert not at.exception, at.exception
    labels = [e.label for e in at.expander]
    assert len(labels) >= 4
    seen = set()
    for label in labels:
        shown, kinds = markdown_shown(label)
        assert not kinds, (label, kinds)
        evil = next(e for e in EVIL_NAMES if e in shown)  # the name appears exactly as typed
        seen.add(evil)
    assert seen == set(EVIL_NAMES)
    # Every other text element of the page that is Markdown makes no link or image either.
    for el in list(at.markdown) + list(at.caption) + list(at.subheader) + list(at.success) + list(at.error):
        assert not (markdown_shown(el.value)[1] & {"image", "link_open", "html_inline"}), el.value


def test_conflict_message_shows_other_editors_markdown_literally(register, local_visitor, demo_analysis):
    from streamlit.testing.v1 import AppTest

    from assets_map.store import LOCAL_USER, SqliteStore

    reg = SqliteStore(register)
    import_demo(reg, demo_analysis)
    at = AppTest.from_function(register_page_script, default_timeout=60).run()
    assert not at.exception, at.exception
    aid = at.selectbox(key="register_asset").value
    before = reg.get(aid, LOCAL_USER)
    note = "![x](http://e.example/i.png) [c](http://e.example/) **b**"  # under the 60 characters quoted
    reg.save(aid, {"notes": note}, expected_version=before["version"],
             role=Role("editor", "[other](http://evil.example/)@council.example", ORG))
    next(s for s in at.selectbox if s.label == "Status").set_value("surplus")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception, at.exception
    (err,) = [e.value for e in at.error]
    shown, kinds = markdown_shown(err)
    assert not kinds, (err, kinds)
    assert "changed by someone else" in shown and "[other](http://evil.example/)@council.example" in shown
    assert note in shown


# ------------------------------------------------------------------ restore from read-only media

@contextlib.contextmanager
def _on_read_only_media(reg, demo_analysis, tmp_path, monkeypatch):
    """A backup of ``reg`` as a 0444 file in a 0555 folder; yields (its path, the SQLite connections opened)."""
    import_demo(reg, demo_analysis)
    media = tmp_path / "media"
    media.mkdir()
    backup(reg, media / "backup.sqlite")
    path = media / "backup.sqlite"
    path.chmod(0o444)
    media.chmod(0o555)
    opened: list[tuple[str, bool]] = []
    real = sqlite3.connect

    def spy(database, *args, **kwargs):
        opened.append((str(database), bool(kwargs.get("uri"))))
        return real(database, *args, **kwargs)

    before = (path.read_bytes(), path.stat().st_mtime_ns, sorted(p.name for p in media.iterdir()))
    monkeypatch.setattr(sqlite3, "connect", spy)
    try:
        yield path, opened
        assert (path.read_bytes(), path.stat().st_mtime_ns, sorted(p.name for p in media.iterdir())) == before
    finally:
        media.chmod(0o755)
        path.chmod(0o644)
    to_backup = [(db, uri) for db, uri in opened if "backup.sqlite" in db]
    assert to_backup and all(uri and db.startswith("file:") and "mode=ro" in db for db, uri in to_backup), to_backup


def test_restore_reads_the_backup_read_only(store, make_store, demo_analysis, tmp_path, monkeypatch):
    """A backup in a read-only folder (0444 file, 0555 folder) restores, and is never opened for writing.

    As root chmod stops nothing, so the test also records every SQLite connection to the
    backup (each must be a read-only URI) and checks that its bytes, its time stamp and
    its folder are unchanged (no -wal, -shm or -journal file appears beside it).
    """
    from assets_map.store import SqliteStore
    from tests.helpers import snapshot

    with _on_read_only_media(store, demo_analysis, tmp_path, monkeypatch) as (path, _):
        restored = make_store("restored")
        restored.load(SqliteStore(path, read_only=True))
    assert snapshot(restored) == snapshot(store)


def test_cli_restore_from_read_only_folder(tmp_path, demo_analysis, monkeypatch):
    from assets_map.cli import main
    from assets_map.store import SqliteStore

    reg = SqliteStore(tmp_path / "register.sqlite")
    with _on_read_only_media(reg, demo_analysis, tmp_path, monkeypatch) as (path, _):
        assert main(["store", "--store", str(tmp_path / "new.sqlite"), "restore", str(path)]) == 0
    assert len(SqliteStore(tmp_path / "new.sqlite").assets(ADMIN)) == len(reg.assets(ADMIN))


# ------------------------------------------------------------------ compaction and the write-ahead log

def _sizes(path) -> tuple[int, int]:
    from pathlib import Path

    wal = Path(f"{path}-wal")
    return Path(path).stat().st_size, (wal.stat().st_size if wal.exists() else 0)


def test_reimport_gives_freed_space_back(tmp_path, demo_analysis):
    """A re-import that frees pages (here: a detailed exclusion layer no longer used) shrinks the file."""
    import shapely

    from assets_map.store import LOCAL_USER, SqliteStore

    result, exclude = demo_analysis
    label, green = exclude[0]
    heavy = green.set_geometry(shapely.segmentize(green.geometry.to_numpy(), 0.05))  # ~20 vertices a metre
    reg = SqliteStore(tmp_path / "r.sqlite")
    reg.import_analysis(variant(result), organisation=ORG, role=LOCAL_USER, source_name="demo.gpkg",
                        file_sha256=HASH, exclude=[(label, heavy)])
    full, _ = _sizes(reg.path)
    reg.import_analysis(variant(result), organisation=ORG, role=LOCAL_USER, source_name="demo.gpkg",
                        file_sha256=HASH, exclude=[])
    after, wal = _sizes(reg.path)
    assert reg.raw("PRAGMA freelist_count")[0][0] == 0
    assert after < 0.75 * full, (full, after)  # the layer took about a third of the file
    assert wal == 0
    assert reg.integrity() == "ok"


def test_write_ahead_log_is_cut_after_an_import_while_another_connection_is_open(tmp_path, demo_analysis):
    """With the app (another connection) holding the register open, SQLite cannot delete the log at
    close: it stayed as large as the largest import (62 MB for 6,000 rows, GBs at 200k) until cut."""
    from assets_map.store import SqliteStore

    reg = SqliteStore(tmp_path / "r.sqlite")
    other = sqlite3.connect(reg.path)
    try:
        other.execute("SELECT COUNT(*) FROM meta").fetchall()
        for gen in range(2):
            import_demo(reg, demo_analysis, gen=gen)
            assert _sizes(reg.path)[1] == 0, gen
        assert other.execute("SELECT COUNT(*) FROM history").fetchone()[0] > 0
    finally:
        other.close()


def test_an_older_register_is_compacted_once_and_switched_to_incremental(tmp_path, demo_analysis):
    from assets_map.store import SqliteStore

    path = tmp_path / "old.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)").connection.close()
    reg = SqliteStore(path)  # existed before: no auto-vacuum, as registers made by earlier versions
    assert reg.raw("PRAGMA auto_vacuum")[0][0] == 0
    import_demo(reg, demo_analysis)
    reg.raw("DELETE FROM context")
    assert reg.raw("PRAGMA freelist_count")[0][0] > 0
    got = reg.compact(min_free_share=0)  # whatever is free
    assert got["free_pages"] == 0 and got["bytes_after"] < got["bytes_before"]
    assert reg.raw("PRAGMA auto_vacuum")[0][0] == 2  # incremental from now on
    import_demo(reg, demo_analysis, gen=1)
    assert reg.integrity() == "ok" and reg.raw("PRAGMA freelist_count")[0][0] == 0


KILLED_BACKUP = """
import os, signal, sys
from assets_map.store.base import Tx
if sys.argv[3]:
    from assets_map.store.postgis import PostgisStore
    store = PostgisStore(sys.argv[1], schema=sys.argv[3])
else:
    from assets_map.store import SqliteStore
    store = SqliteStore(sys.argv[1])
from assets_map.store import backup
real = Tx.many
def many(self, sql, rows):
    real(self, sql, rows)
    if sql.startswith("INSERT INTO history"):  # half-way through writing the copy
        os.kill(os.getpid(), signal.SIGKILL)
Tx.many = many
backup(store, sys.argv[2])
"""


def test_backup_killed_half_way_leaves_no_log_and_is_cleaned_up(store, backend, tmp_path, demo_analysis):
    """kill -9 during a backup: no write-ahead log beside the partial copy, and it goes at the next open."""
    import subprocess
    import sys

    from assets_map.store import LOCAL_USER, SqliteStore
    from assets_map.store.postgis import PostgisStore

    import_demo(store, demo_analysis)
    import_demo(store, demo_analysis, gen=1)
    out = tmp_path / "backups"
    out.mkdir()
    loc, schema = (str(store.path), "") if backend == "sqlite" else (store.url, store.schema)
    child = subprocess.run([sys.executable, "-c", KILLED_BACKUP, loc, str(out / "b.sqlite"), schema],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -9, child.stderr
    left = {p.name: p.stat().st_size for p in out.iterdir()}
    assert ".b.sqlite.partial" in left and "b.sqlite" not in left  # never a half backup under the real name
    assert ".b.sqlite.partial-wal" not in left, left  # the copy is written without a write-ahead log
    # The register is intact (its log cut to nothing), and the next open removes the partial copy.
    again = SqliteStore(store.path) if backend == "sqlite" else PostgisStore(store.url, schema=store.schema)
    assert sorted(p.name for p in out.iterdir()) == []
    if backend == "sqlite":
        assert _sizes(again.path)[1] == 0 and again.integrity() == "ok"
    assert len(again.assets(LOCAL_USER)) == len(store.assets(LOCAL_USER))
    copy = backup(again, out / "b.sqlite")
    assert copy.integrity() == "ok" and sorted(p.name for p in out.iterdir()) == ["b.sqlite"]


# ------------------------------------------------------------------ database errors: one line, no connection details

DEAD_URL = "postgresql://secretuser:secretpw@127.0.0.1:9/secretdb"  # port 9 (discard): nothing listens
SECRETS = ("secretuser", "secretpw", "secretdb", "127.0.0.1", ":9", "port 9", "localhost")


def _assert_plain(text: str) -> None:
    assert "\n" not in text.strip() and "Traceback" not in text, text
    assert not any(s in text for s in SECRETS), text


def test_unreachable_database_is_one_line_without_connection_details(caplog):
    from assets_map.store import StoreError, open_store

    with caplog.at_level("ERROR"), pytest.raises(StoreError) as err:
        open_store(DEAD_URL)
    _assert_plain(str(err.value))
    assert "cannot be reached" in str(err.value)
    assert any("secretdb" in r.getMessage() and "127.0.0.1" in r.getMessage() for r in caplog.records)  # the log
    with pytest.raises(StoreError) as err:
        open_store("postgresql://secretuser:secretpw@[::1/secretdb")  # malformed: its text would quote the password
    _assert_plain(str(err.value))
    assert not any("secretpw" in r.getMessage() for r in caplog.records)


def test_outage_after_opening_is_a_store_error_not_a_traceback(caplog):
    """PostGIS goes away after the store was opened: every read and write says so in one line."""
    import uuid

    from assets_map.store import PUBLIC, StoreError
    from assets_map.store.postgis import PostgisStore
    from tests.helpers import postgis_url

    reg = PostgisStore(postgis_url(), schema=f"t_{uuid.uuid4().hex[:12]}")
    try:
        live = reg.url
        reg.url = DEAD_URL  # the server is gone
        for call in (lambda: reg.assets(PUBLIC), lambda: reg.is_empty(), lambda: reg.revision(),
                     lambda: reg.submit_correction("X-1", message="wrong", role=PUBLIC)):
            with caplog.at_level("ERROR"), pytest.raises(StoreError) as err:
                call()
            _assert_plain(str(err.value))
        assert any("secretdb" in r.getMessage() for r in caplog.records)
    finally:
        reg.url = live
        reg.drop_schema()


def test_page_shows_an_outage_in_one_line(monkeypatch, remote_visitor, demo_analysis):
    """An anonymous visitor sees one line, no host or user, no traceback: before and after the store opened."""
    import uuid

    from streamlit.testing.v1 import AppTest

    from assets_map.store.postgis import PostgisStore
    from assets_map.ui import identity, register_page
    from tests.helpers import postgis_url

    monkeypatch.setenv("ASSETS_MAP_DATABASE_URL", DEAD_URL)
    register_page._store.clear()
    try:
        at = AppTest.from_function(register_page_script, default_timeout=60).run()
        assert not at.exception, at.exception
        (err,) = [e.value for e in at.error]
        _assert_plain(err)
        reg = PostgisStore(postgis_url(), schema=f"t_{uuid.uuid4().hex[:12]}")
        import_demo(reg, demo_analysis)
        monkeypatch.setattr(identity, "open_store", lambda: reg)  # the shared store handle opens through identity
        register_page._store.clear()
        at = AppTest.from_function(register_page_script, default_timeout=60).run()
        assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
        live, reg.url = reg.url, DEAD_URL  # the database goes away
        at.run()
        assert not at.exception, at.exception
        (err,) = [e.value for e in at.error]
        _assert_plain(err)
        for el in list(at.markdown) + list(at.caption) + list(at.info) + list(at.warning):
            _assert_plain(el.value)
        reg.url = live
        reg.drop_schema()
    finally:
        register_page._store.clear()



# ------------------------------------------------------------------ rate limit on public corrections

def test_public_corrections_are_rate_limited_per_session_and_overall(store, demo_analysis, monkeypatch):
    import time

    from assets_map.store import LOCAL_USER, PUBLIC, StoreError, base

    import_demo(store, demo_analysis)
    aid = store.assets(PUBLIC)["asset_id"].iloc[0]
    per_session = base.CORRECTION_LIMITS["session"]
    for i in range(per_session):
        store.submit_correction(aid, message=f"note {i}", role=PUBLIC, session="browser-a")
    with pytest.raises(base.RateLimited, match="wait a few minutes") as err:
        store.submit_correction(aid, message="one too many", role=PUBLIC, session="browser-a")
    assert isinstance(err.value, StoreError) and "\n" not in str(err.value)
    queue = store.corrections(role=LOCAL_USER)
    assert len(queue) == per_session and "one too many" not in {c["message"] for c in queue}
    assert "browser-a" not in queue[0]["submitted_by"] and "session" in queue[0]["submitted_by"]  # a hash only
    store.submit_correction(aid, message="another visitor", role=PUBLIC, session="browser-b")
    store.submit_correction(aid, message="an editor is not limited", role=LOCAL_USER)
    # Everyone together: new sessions do not get round the overall limit.
    monkeypatch.setitem(base.CORRECTION_LIMITS, "all", per_session + 4)
    for k in range(2):
        store.submit_correction(aid, message=f"visitor {k}", role=PUBLIC, session=f"browser-{k + 10}")
    with pytest.raises(base.RateLimited, match="try again later"):
        store.submit_correction(aid, message="a fresh session", role=PUBLIC, session="browser-99")
    assert len(store.corrections(role=LOCAL_USER)) == per_session + 4
    # The window moves on.
    monkeypatch.setattr(base, "CORRECTION_WINDOW_S", 1)
    time.sleep(1.2)
    store.submit_correction(aid, message="later", role=PUBLIC, session="browser-a")


def test_fifty_quick_corrections_from_one_browser_are_refused_after_the_limit(register, remote_visitor,
                                                                               demo_analysis):
    """The probe's case: many corrections queued in seconds from one anonymous browser."""
    from streamlit.testing.v1 import AppTest

    from assets_map.store import LOCAL_USER, SqliteStore, base

    reg = SqliteStore(register)
    import_demo(reg, demo_analysis)
    at = AppTest.from_function(register_page_script, default_timeout=60).run()
    sent, refused = 0, []
    for i in range(12):
        at.text_area[0].input(f"wrong {i}")
        next(b for b in at.button if b.label == "Send to the owner").click().run()
        assert not at.exception, at.exception
        sent += any("Thank you" in s.value for s in at.success)
        refused += [e.value for e in at.error]
    assert sent == base.CORRECTION_LIMITS["session"]
    assert len(refused) == 12 - sent and all("wait a few minutes" in markdown_shown(e)[0] for e in refused)
    assert len(reg.corrections(role=LOCAL_USER)) == sent


# ------------------------------------------------------------------ the site-pack preview frame

#: The sandbox Streamlit gives a component frame (streamlit/static: allow-scripts with allow-same-origin).
STREAMLIT_COMPONENT_SANDBOX = ("allow-forms allow-modals allow-popups allow-popups-to-escape-sandbox "
                               "allow-same-origin allow-scripts allow-downloads")


def _pack_with_hostile_doc():
    import streamlit as st

    from assets_map.ui import sitepack_page, state

    doc = ("<!doctype html><html><body><p id='v'>Town Hall &lt;east&gt;</p>"
           "<script>window.top.document.title = 'script ran'; window.top.ran = 1;</script>"
           "<img src='data:,' onerror=\"window.top.document.title = 'handler ran'\">"
           "<form action='about:blank'><input name='q'></form></body></html>")
    st.session_state[sitepack_page.PACK] = (state.data_version(), ("X-1",), doc, b"%PDF-1.7")
    sitepack_page.render()


def test_site_pack_preview_runs_no_script(tmp_path):
    """What the page hands Streamlit's component frame, loaded in Chromium inside that frame's sandbox:
    the pack shows, but no script or event handler in it runs and it cannot reach the page around it."""
    from streamlit.testing.v1 import AppTest

    from tests.helpers import CHROMIUM, LAUNCH_ARGS, require_browser

    at = AppTest.from_function(_pack_with_hostile_doc, default_timeout=60).run()
    assert not at.exception, at.exception
    (frame,) = at.get("iframe")
    srcdoc = frame.proto.srcdoc
    assert srcdoc and "<script" not in srcdoc  # the pack is inside an attribute, escaped once
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page()
            page.set_content("<title>app</title><iframe id='component' style='width:900px;height:700px'></iframe>")
            page.evaluate("""([policy, doc]) => {
                const f = document.getElementById('component');
                f.setAttribute('sandbox', policy);
                f.srcdoc = doc;
            }""", [STREAMLIT_COMPONENT_SANDBOX, srcdoc])
            page.wait_for_timeout(1500)
            texts = []
            for fr in page.frames:
                try:
                    texts.append(fr.evaluate("document.body ? document.body.innerText : ''"))
                except Exception:  # a frame whose origin the test cannot script: fine, and read below
                    texts.append(fr.content())
            assert page.title() == "app" and page.evaluate("window.ran") is None
            assert any("Town Hall <east>" in t or "Town Hall &lt;east&gt;" in t for t in texts), texts
            inner = [f for f in page.frames if f.parent_frame is not None and f.parent_frame.parent_frame is not None]
            assert inner, "the pack is not in a frame of its own"
        finally:
            browser.close()
