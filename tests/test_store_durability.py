"""Nothing lost: kill -9 mid-import and mid-edit, a full disk, two processes editing at once.

Each crash test runs a writer in a child process, kills it with SIGKILL at a
random moment, and checks that the register holds exactly the last committed
state: never a mix, never unreadable, never missing a change the child had been
told was saved.
"""
from __future__ import annotations

import errno
import multiprocessing
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from assets_map.store import LOCAL_USER, SqliteStore, StoreFull
from assets_map.store.base import Tx
from tests.helpers import ORG, import_demo, plain_asset, snapshot

ROOT = Path(__file__).resolve().parent.parent
ITERATIONS = 4

OPEN = """
def open_it(loc, schema):
    if schema:
        from assets_map.store.postgis import PostgisStore
        return PostgisStore(loc, schema=schema)
    from assets_map.store import SqliteStore
    return SqliteStore(loc)
"""

IMPORT_CHILD = OPEN + """
import copy, pickle, sys
from assets_map.store import LOCAL_USER
result, exclude = pickle.load(open(sys.argv[1], "rb"))
store = open_it(sys.argv[2], sys.argv[3])
gen = int(sys.argv[4])
print("ready", flush=True)
while True:
    gen += 1
    r = copy.copy(result)
    r.assets = result.assets.copy()
    r.assets["condition"] = f"generation {gen}"
    store.import_analysis(r, organisation=sys.argv[5], role=LOCAL_USER, source_name="demo.gpkg",
                          file_sha256="ab" * 32, exclude=exclude)
    print(f"committed {gen}", flush=True)
"""

EDIT_CHILD = OPEN + """
import sys
from assets_map.store import LOCAL_USER
store = open_it(sys.argv[1], sys.argv[2])
aid, i = sys.argv[3], int(sys.argv[4])
v = store.get(aid, LOCAL_USER)["version"]
print("ready", flush=True)
while True:
    i += 1
    v = store.save(aid, {"notes": f"edit {i}", "status": "vacant" if i % 2 else "surplus"},
                   expected_version=v, role=LOCAL_USER)
    print(f"committed {i}", flush=True)
"""


def location(store) -> tuple[str, str]:
    if isinstance(store, SqliteStore):
        return str(store.path), ""
    return store.url, store.schema


def run_and_kill(code: str, args: list[str], rng: random.Random) -> int:
    """Start a writer, SIGKILL it at a random moment; return the last change it reported committed."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    assert first.strip() == "ready", proc.stderr.read()
    time.sleep(rng.uniform(0.05, 0.6))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    out = proc.stdout.read()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    done = [int(line.split()[1]) for line in out.splitlines() if line.startswith("committed")]
    return max(done, default=-1)


def check_readable(store) -> None:
    if isinstance(store, SqliteStore):
        assert store.integrity() == "ok"


def test_kill_during_import_leaves_old_or_new(store, demo_analysis, tmp_path):
    result, _ = demo_analysis
    n = len(result.assets)
    import_demo(store, demo_analysis, gen=0)
    pickled = tmp_path / "analysis.pickle"
    pickled.write_bytes(pickle.dumps(demo_analysis))
    loc, schema = location(store)
    rng = random.Random(6)
    gen = 0
    for _ in range(ITERATIONS):
        reported = run_and_kill(IMPORT_CHILD, [str(pickled), loc, schema, str(gen), ORG], rng)
        check_readable(store)
        a = store.assets(LOCAL_USER)
        gens = set(a["condition"])
        assert len(gens) == 1, f"a mix of imports after kill -9: {sorted(gens)[:5]}"
        gen_now = int(gens.pop().split()[1])
        assert gen_now >= max(reported, gen), "a committed import was lost"
        assert gen_now <= max(reported, gen) + 1
        assert len(a) == n and (a["version"] == gen_now + 1).all()
        assert len(store.batches(role=LOCAL_USER)) == gen_now + 1
        hist = store.history(role=LOCAL_USER, limit=100_000)
        assert len(hist) == n * (gen_now + 1)
        gen = gen_now
    assert gen >= 1, "no import finished in any iteration: the kill came too early to test anything"


def test_kill_during_edit_leaves_old_or_new(store, demo_analysis):
    import_demo(store, demo_analysis)
    aid = plain_asset(store)["asset_id"]
    loc, schema = location(store)
    rng = random.Random(7)
    last = 0
    for _ in range(ITERATIONS):
        reported = run_and_kill(EDIT_CHILD, [loc, schema, aid, str(last)], rng)
        check_readable(store)
        got = store.get(aid, LOCAL_USER)
        i = int(got["notes"].split()[1]) if got["notes"] else 0
        assert i >= max(reported, last), "a saved edit was lost"
        assert i <= max(reported, last) + 1
        assert got["version"] == 1 + i
        assert got["status"] == ("occupied" if i == 0 else "vacant" if i % 2 else "surplus")
        hist = store.history(aid, role=LOCAL_USER)
        assert len(hist) == 1 + i and hist[0]["changes"].get("notes", [None, None])[1] == got["notes"]
        last = i
    assert last >= 1


def test_full_disk_during_import_changes_nothing(tmp_path, demo_analysis):
    path = tmp_path / "register.sqlite"
    store = SqliteStore(path)
    import_demo(store, demo_analysis, gen=0)
    store.close()
    pages = store.raw("PRAGMA page_count")[0][0]
    before = snapshot(store)
    full = SqliteStore(path, pragmas=(f"max_page_count = {pages + 2}",))
    with pytest.raises(StoreFull, match="nothing was changed"):
        import_demo(full, demo_analysis, gen=1)
    assert full.integrity() == "ok"
    assert snapshot(store) == before
    import_demo(store, demo_analysis, gen=1)  # with room again, the same import goes through
    assert set(store.assets(LOCAL_USER)["condition"]) == {"generation 1"}


def test_write_error_mid_transaction_changes_nothing(store, demo_analysis, monkeypatch):
    import_demo(store, demo_analysis, gen=0)
    aid = plain_asset(store)["asset_id"]
    before = snapshot(store)
    real_many = Tx.many

    def failing_many(self, sql, rows):
        if "INSERT INTO history" in sql:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_many(self, sql, rows)

    monkeypatch.setattr(Tx, "many", failing_many)
    with pytest.raises(StoreFull):
        import_demo(store, demo_analysis, gen=1)
    with pytest.raises(StoreFull):
        store.save(aid, {"status": "vacant"}, expected_version=1, role=LOCAL_USER)
    monkeypatch.setattr(Tx, "many", real_many)
    assert snapshot(store) == before
    check_readable(store)


def _reporting(fn):
    """Run a worker; any unexpected error goes to the queue instead of a silent hang."""
    def run(*args):
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            args[-1].put(("error", repr(exc)))
    return run


@_reporting
def _race(loc, schema, aid, barrier, queue):
    from assets_map.store.base import ConflictError as Conflict

    store = _open(loc, schema)
    v = store.get(aid, LOCAL_USER)["version"]
    barrier.wait(timeout=30)
    try:
        store.save(aid, {"notes": f"from {os.getpid()}"}, expected_version=v, role=LOCAL_USER)
        queue.put(("saved", os.getpid()))
    except Conflict as exc:
        queue.put(("refused", str(exc)))


@_reporting
def _appender(loc, schema, aid, token, n, queue):
    from assets_map.store.base import ConflictError as Conflict

    store = _open(loc, schema)
    refused = 0
    for i in range(n):
        while True:
            cur = store.get(aid, LOCAL_USER)
            try:
                store.save(aid, {"notes": (cur["notes"] or "") + f"{token}{i};"}, expected_version=cur["version"],
                           role=LOCAL_USER)
                break
            except Conflict:
                refused += 1
    queue.put(refused)


def _open(loc, schema):
    if schema:
        from assets_map.store.postgis import PostgisStore

        return PostgisStore(loc, schema=schema)
    return SqliteStore(loc)


def test_two_processes_same_version_one_refused(store, demo_analysis):
    import_demo(store, demo_analysis)
    aid = plain_asset(store)["asset_id"]
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(*location(store), aid, barrier, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = sorted(queue.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    assert [r[0] for r in results] == ["refused", "saved"]
    winner = results[1][1]
    assert f"from {winner}" in results[0][1]  # the refusal shows the other change
    got = store.get(aid, LOCAL_USER)
    assert got["version"] == 2 and got["notes"] == f"from {winner}"


def test_two_processes_editing_lose_nothing(store, demo_analysis):
    import_demo(store, demo_analysis)
    aid = plain_asset(store)["asset_id"]
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    n = 8
    procs = [ctx.Process(target=_appender, args=(*location(store), aid, t, n, queue)) for t in ("a", "b")]
    for p in procs:
        p.start()
    reports = [queue.get(timeout=120) for _ in procs]
    assert all(isinstance(r, int) for r in reports), reports  # each says how often it was refused
    for p in procs:
        p.join(timeout=30)
    got = store.get(aid, LOCAL_USER)
    tokens = got["notes"].rstrip(";").split(";")
    assert sorted(tokens) == sorted(f"{t}{i}" for t in "ab" for i in range(n))
    assert got["version"] == 1 + 2 * n
    assert len(store.history(aid, role=LOCAL_USER)) == 1 + 2 * n
