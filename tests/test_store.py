"""The register store: imports, versions, history, edits, moderation, roles, public view.

Every test runs against the embedded SQLite store and, when
ASSETS_MAP_TEST_DATABASE_URL points at a PostgreSQL database with PostGIS
(see .ci/postgres.sh), against PostGIS too; ASSETS_MAP_REQUIRE_POSTGIS=1 turns
that skip into a failure.
"""
from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from assets_map.engine.pipeline import score
from assets_map.io.report import InputError
from assets_map.store import (
    LOCAL_USER,
    PUBLIC,
    ConflictError,
    Identity,
    NotAllowed,
    Role,
    SqliteStore,
    StoreError,
    backup,
    open_store,
    views,
)
from assets_map.store.base import TABLES
from tests.helpers import HASH, ISS, ORG, OTHER, import_demo, plain_asset, snapshot, variant


# ---------------------------------------------------------------- store basics
def test_fresh_machine_creates_private_store(tmp_path, monkeypatch):
    target = tmp_path / "home" / ".assets_map" / "register.sqlite"
    monkeypatch.delenv("ASSETS_MAP_DATABASE_URL", raising=False)
    monkeypatch.setenv("ASSETS_MAP_STORE", str(target))
    s = open_store()
    assert target.exists() and s.is_empty()
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    con = sqlite3.connect(target)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"batches", "assets", "history", "corrections", "users", "public_assets"} <= {
        r[0] for r in con.execute("SELECT name FROM sqlite_master")}


def test_unreadable_file_refused_with_one_line(tmp_path):
    bad = tmp_path / "register.sqlite"
    bad.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not a readable register"):
        SqliteStore(bad)


def test_import_keeps_every_column_and_type(store, demo_analysis):
    result, _ = demo_analysis
    out = import_demo(store, demo_analysis)
    assert (out.added, out.changed, out.removed) == (len(result.assets), 0, 0)
    back = store.assets(LOCAL_USER).set_index("asset_id").loc[result.assets["asset_id"]]
    src = result.assets.set_index("asset_id")
    for col in src.columns:
        if col == "geometry":
            continue
        assert col in back.columns, col
        pd.testing.assert_series_equal(back[col].astype(object).where(back[col].notna(), None),
                                       src[col].astype(object).where(src[col].notna(), None),
                                       check_names=False, obj=col)
    assert back.crs.to_epsg() == 27700
    same = [a.equals_exact(b, 1e-9) if a is not None else b is None for a, b in zip(back.geometry, src.geometry, strict=True)]
    assert all(same)
    assert (back["version"] == 1).all()
    batch = store.batches(role=LOCAL_USER)[0]
    assert batch["file_sha256"] == HASH and batch["imported_by"] == "local user" and batch["rows"] == len(src)
    assert batch["report"][0]["rows_read"] == result.reports[0].rows_read


def test_reimport_versions_only_changed_rows_and_keeps_removed(store, demo_analysis):
    import_demo(store, demo_analysis)
    again = import_demo(store, demo_analysis)
    assert (again.added, again.changed, again.unchanged) == (0, 0, len(demo_analysis[0].assets))
    third = import_demo(store, demo_analysis, gen=2, drop=3)
    assert third.changed == len(demo_analysis[0].assets) - 3 and third.removed == 3
    gone = demo_analysis[0].assets["asset_id"].iloc[-1]
    everything = store.assets(LOCAL_USER, include_removed=True).set_index("asset_id")
    assert everything.loc[gone, "removed"] and everything.loc[gone, "version"] == 2
    assert gone not in set(store.assets(LOCAL_USER)["asset_id"])
    assert gone not in set(store.assets(PUBLIC)["asset_id"])
    kinds = [h["kind"] for h in store.history(gone, role=LOCAL_USER)]
    assert kinds == ["remove", "import"]
    assert len(store.batches(role=LOCAL_USER)) == 3


def test_refused_import_changes_nothing(store, demo_analysis):
    import_demo(store, demo_analysis)
    before = snapshot(store)
    result, exclude = demo_analysis
    dup = variant(result, gen=5)
    dup.assets.loc[1, "asset_id"] = dup.assets.loc[0, "asset_id"]
    with pytest.raises(InputError, match="asset_id repeated"):
        store.import_analysis(dup, organisation=ORG, role=LOCAL_USER, source_name="x.csv", file_sha256=HASH)
    # The same ids claimed by another organisation: refused inside the transaction.
    with pytest.raises(InputError, match="already belong to another organisation"):
        import_demo(store, demo_analysis, gen=6, org=OTHER)
    with pytest.raises(NotAllowed):
        import_demo(store, demo_analysis, gen=7, role=Role("editor", "e@other", OTHER))
    assert snapshot(store) == before


def test_history_is_append_only(store, demo_analysis, backend):
    import_demo(store, demo_analysis)
    if backend == "sqlite":
        con = sqlite3.connect(store.path)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("UPDATE history SET by_user = 'someone else'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute("DELETE FROM history")
    else:
        import psycopg

        with pytest.raises(psycopg.Error, match="append-only"):
            store.raw("UPDATE history SET by_user = 'someone else'")
        with pytest.raises(psycopg.Error, match="append-only"):
            store.raw("DELETE FROM history")


# ----------------------------------------------------- optimistic concurrency
def test_second_save_refused_with_the_other_change(store, demo_analysis):
    import_demo(store, demo_analysis)
    aid = plain_asset(store)["asset_id"]
    alice = Role("editor", "alice@council.example", ORG)
    bob = Role("editor", "bob@council.example", ORG)
    v_alice = store.get(aid, alice)["version"]
    v_bob = store.get(aid, bob)["version"]
    assert store.save(aid, {"status": "vacant", "notes": "keys with caretaker"}, expected_version=v_alice,
                      role=alice) == v_alice + 1
    with pytest.raises(ConflictError) as err:
        store.save(aid, {"status": "sold"}, expected_version=v_bob, role=bob)
    msg = str(err.value)
    assert "alice@council.example" in msg and "occupied -> vacant" in msg and "keys with caretaker" in msg
    assert err.value.current == v_alice + 1 and err.value.others[0]["by"] == "alice@council.example"
    now = store.get(aid, LOCAL_USER)
    assert now["status"] == "vacant" and now["version"] == v_alice + 1
    # Bob reloads and saves on top: both changes are in the history.
    store.save(aid, {"status": "sold"}, expected_version=now["version"], role=bob)
    hist = store.history(aid, role=LOCAL_USER)
    assert [h["by"] for h in hist[:2]] == ["bob@council.example", "alice@council.example"]


def test_save_validates_every_problem_at_once(store, demo_analysis):
    import_demo(store, demo_analysis)
    aid = plain_asset(store)["asset_id"]
    before = snapshot(store)
    with pytest.raises(InputError) as err:
        store.save(aid, {"status": "demolished", "location": (-2.3, 53.4), "rent": 5,
                         "field_visibility": {"src_rent": "public", "rent": "public"}},
                   expected_version=1, role=LOCAL_USER)
    text = str(err.value)
    for part in ("demolished", "outside Great Britain", "'rent' cannot be edited", "src_rent is always internal",
                 "rent is always internal"):
        assert part in text
    assert snapshot(store) == before


# ------------------------------------------------------------ edits and scores
def test_scores_follow_an_edit_through_the_engine(store, demo_analysis):
    result, exclude = demo_analysis
    import_demo(store, demo_analysis)
    row = plain_asset(store, need_decile=lambda s: s <= 3)
    aid = row["asset_id"]
    v = store.save(aid, {"status": "surplus"}, expected_version=int(row["version"]), role=LOCAL_USER)
    got = store.get(aid, LOCAL_USER)
    # The engine itself on the same row gives the same answer.
    engine_row = result.assets[result.assets["asset_id"] == aid].copy()
    engine_row["status"] = "surplus"
    want = score(engine_row, exclude=exclude, weights=result.settings["weights"]).iloc[0]
    assert got["underuse_score"] == want["underuse_score"] > 0.3
    assert got["priority"] == want["priority"] == "High"
    assert got["reasons"] == want["reasons"]
    changes = store.history(aid, role=LOCAL_USER)[0]["changes"]
    assert changes["priority"] == ["not flagged", "High"] and v == 2
    # "in use" is the estates word for occupied: the flag goes again.
    store.save(aid, {"status": "in use"}, expected_version=v, role=LOCAL_USER)
    assert store.get(aid, LOCAL_USER)["priority"] == "not flagged"


def test_location_correction_moves_the_need_area(store, demo_analysis):
    result, _ = demo_analysis
    import_demo(store, demo_analysis)
    row = plain_asset(store)
    needs = result.needs
    target = needs[needs["code"] != row["need_area_code"]].iloc[0]
    spot = target.geometry.representative_point()
    store.save(row["asset_id"], {"location": (spot.x, spot.y)}, expected_version=1, role=LOCAL_USER)
    got = store.get(row["asset_id"], LOCAL_USER)
    assert got["need_area_code"] == target["code"]
    assert got["geometry"].equals_exact(spot, 1e-6)
    assert got["location_note"] == "location corrected in the register"


def test_app_edits_survive_a_reimport(store, demo_analysis):
    import_demo(store, demo_analysis)
    aid = plain_asset(store)["asset_id"]
    store.save(aid, {"status": "sold", "notes": "sold at auction"}, expected_version=1, role=LOCAL_USER)
    out = import_demo(store, demo_analysis, gen=3)
    assert aid in out.kept_edits
    got = store.get(aid, LOCAL_USER)
    assert got["status"] == "sold" and got["notes"] == "sold at auction" and got["condition"] == "generation 3"


# -------------------------------------------------------- visibility and roles
def test_public_view_filtered_where_data_is_read(store, demo_analysis, backend):
    import_demo(store, demo_analysis)
    a = store.assets(LOCAL_USER)
    hidden = a["asset_id"].iloc[0]
    partly = plain_asset(store, asset_id=lambda s: s != hidden)["asset_id"]
    store.save(hidden, {"visibility": "internal", "disposal_plans": "auction in May"}, expected_version=1,
               role=LOCAL_USER)
    store.save(partly, {"notes": "roof leaks", "field_visibility": {"address": "internal", "geometry": "internal",
                                                                     "status": "internal"}},
               expected_version=1, role=LOCAL_USER)
    pub = store.assets(PUBLIC)
    assert hidden not in set(pub["asset_id"])
    assert len(pub) == len(a) - 1
    assert not [c for c in pub.columns if c.startswith("src_") or c in ("notes_internal", "disposal_plans", "rent")]
    assert set(pub.columns) <= set(views.VIEW_FIELDS) | {"geometry"}
    p = pub.set_index("asset_id").loc[partly]
    assert p["address"] is None and p.geometry is None and p["status"] is None
    # Reasons and scores are recomputed from what the public sees: no status, no location, so no need area.
    assert p["priority"] == "not flagged" and "records it as" not in p["reasons"] and "LSOA" not in p["reasons"]
    assert p["need_area_code"] is None and pd.isna(p["imd_decile"])
    assert pd.isna(p["notes"])  # notes are internal unless shown
    assert store.get(hidden, PUBLIC) is None
    assert store.get(partly, PUBLIC)["address"] is None
    # The SQL view itself never carries internal rows or columns.
    rows = store.raw("SELECT * FROM public_assets")
    cols = store.raw_columns("public_assets")
    assert not [c for c in cols if c.startswith("src_") or c in ("attrs", "edits", "disposal_plans")]
    assert hidden not in {r[cols.index("asset_id")] for r in rows}
    # Showing an optional field publishes it; the internal text of other fields stays internal.
    v = store.get(partly, LOCAL_USER)["version"]
    store.save(partly, {"field_visibility": {"notes": "public"}}, expected_version=v, role=LOCAL_USER)
    assert store.get(partly, PUBLIC)["notes"] == "roof leaks"


def test_editor_sees_and_edits_only_their_organisation(store, demo_analysis):
    import_demo(store, demo_analysis)
    import_demo(store, demo_analysis, org=OTHER, org_prefix="O-")
    ours = plain_asset(store, asset_id=lambda s: ~s.str.startswith("O-"))["asset_id"]
    theirs = "O-" + ours
    store.save(theirs, {"notes": "their secret", "visibility": "internal"}, expected_version=1, role=LOCAL_USER)
    other_hidden = store.get(theirs, LOCAL_USER)
    assert other_hidden["visibility"] == "internal"
    ed = Role("editor", "ed@ashbridge.example", ORG)
    seen = store.assets(ed).set_index("asset_id")
    assert theirs not in seen.index  # internal asset of another organisation
    mine = seen.loc[ours]
    assert mine["version"] == 1 and "src_contact" in seen.columns
    others = seen[seen.index.str.startswith("O-")]
    assert len(others) and others["version"].isna().all() and others["src_contact"].isna().all()
    with pytest.raises(NotAllowed):
        store.save("O-" + seen.index[0], {"notes": "x"}, expected_version=1, role=ed)
    with pytest.raises(NotAllowed):
        store.history(role=PUBLIC)
    assert all(h["asset_id"] == ours or not h["asset_id"].startswith("O-") for h in store.history(role=ed))
    store.save(ours, {"notes": "ok"}, expected_version=1, role=ed)


def test_roles_table(store):
    with pytest.raises(NotAllowed):
        store.set_user("x@example.org", "admin", role=PUBLIC)
    store.set_user("e@ashbridge.example", "editor", ORG, role=LOCAL_USER)
    store.set_user("boss@ashbridge.example", "admin", role=LOCAL_USER)
    with pytest.raises(ValueError, match="editor must belong"):
        store.set_user("nobody@x", "editor", role=LOCAL_USER)
    assert store.role_for(Identity(ISS, "1", "e@ashbridge.example")) == Role("editor", "e@ashbridge.example", ORG)
    assert store.role_for(Identity(ISS, "2", "boss@ashbridge.example")).kind == "admin"
    assert store.role_for(Identity(ISS, "3", "stranger@example.org")) == Role("viewer", "stranger@example.org")
    assert store.role_for(None) == PUBLIC
    assert [u["subject"] for u in store.users(role=LOCAL_USER)] == ["boss@ashbridge.example", "e@ashbridge.example"]


def test_roles_match_verified_email_or_issuer_and_subject_only(store):
    store.set_user("Boss@Ashbridge.example ", "admin", role=LOCAL_USER)
    store.set_user("42", "editor", ORG, issuer=ISS, role=LOCAL_USER)
    # A verified e-mail matches whatever its case; a subject spelled like the admin's address does not.
    assert store.role_for(Identity(ISS, "x", "boss@ashbridge.example")).kind == "admin"
    assert store.role_for(Identity(ISS, "boss@ashbridge.example")).is_public
    assert store.role_for(Identity("https://evil.example", "boss@ashbridge.example")).is_public
    # A subject matches only with its issuer.
    assert store.role_for(Identity(ISS, "42")) == Role("editor", "42 at " + ISS, ORG)
    assert store.role_for(Identity("https://evil.example", "42")).is_public
    with pytest.raises(TypeError):
        store.role_for("boss@ashbridge.example")
    with pytest.raises(ValueError, match="not an e-mail address"):
        store.set_user("42", "admin", role=LOCAL_USER)
    assert {(u["issuer"], u["subject"]) for u in store.users(role=LOCAL_USER)} == {
        ("", "boss@ashbridge.example"), (ISS, "42")}


# ----------------------------------------------------------------- moderation
def test_community_correction_goes_through_the_queue(store, demo_analysis):
    import_demo(store, demo_analysis)
    row = plain_asset(store)
    aid = row["asset_id"]
    before = store.get(aid, LOCAL_USER)
    cid = store.submit_correction(aid, message="It has been boarded up since March <script>", role=PUBLIC,
                                  proposed={"status": "vacant"}, contact="resident@example.org")
    assert store.get(aid, LOCAL_USER)["version"] == before["version"]  # nothing changed yet
    with pytest.raises(NotAllowed):
        store.corrections(role=PUBLIC)
    queue = store.corrections(role=Role("editor", "e@a", ORG))
    assert [(c["id"], c["proposed"], c["state"]) for c in queue] == [(cid, {"status": "vacant"}, "pending")]
    assert store.corrections(role=Role("editor", "e@o", OTHER)) == []
    with pytest.raises(NotAllowed):
        store.decide_correction(cid, accept=True, role=Role("editor", "e@o", OTHER))
    v = store.decide_correction(cid, accept=True, role=Role("editor", "e@a", ORG), note="checked on site")
    got = store.get(aid, LOCAL_USER)
    assert v == before["version"] + 1 and got["status"] == "vacant"
    assert store.history(aid, role=LOCAL_USER)[0]["kind"] == "correction"
    with pytest.raises(StoreError, match="already accepted"):
        store.decide_correction(cid, accept=False, role=LOCAL_USER)
    cid2 = store.submit_correction(aid, message="wrong owner", role=PUBLIC)
    assert store.decide_correction(cid2, accept=False, role=LOCAL_USER) is None
    assert store.get(aid, LOCAL_USER)["version"] == v
    assert [c["state"] for c in store.corrections(role=LOCAL_USER, state=None)] == ["accepted", "rejected"]


def test_corrections_validated_and_only_on_public_assets(store, demo_analysis):
    import_demo(store, demo_analysis)
    aid = store.assets(LOCAL_USER)["asset_id"].iloc[0]
    with pytest.raises(InputError) as err:
        store.submit_correction(aid, message="", proposed={"notes": "x", "status": "gone"}, role=PUBLIC)
    assert "say what is wrong" in str(err.value) and "may propose only" in str(err.value)
    store.save(aid, {"visibility": "internal"}, expected_version=1, role=LOCAL_USER)
    with pytest.raises(StoreError, match="no asset"):
        store.submit_correction(aid, message="hello", role=PUBLIC)


def test_accepting_a_stale_correction_is_a_conflict(store, demo_analysis):
    import_demo(store, demo_analysis)
    aid = plain_asset(store)["asset_id"]
    cid = store.submit_correction(aid, message="now vacant", proposed={"status": "vacant"}, role=PUBLIC)
    seen = store.corrections(role=LOCAL_USER)[0]["asset_version"]
    store.save(aid, {"status": "sold"}, expected_version=seen, role=Role("editor", "e@a", ORG))
    with pytest.raises(ConflictError, match="e@a"):
        store.decide_correction(cid, accept=True, role=LOCAL_USER, expected_version=seen)
    assert store.get(aid, LOCAL_USER)["status"] == "sold"
    assert store.corrections(role=LOCAL_USER)[0]["state"] == "pending"


# -------------------------------------------------------------- backup/restore
def test_backup_then_restore_gives_the_same_records(store, make_store, demo_analysis, tmp_path):
    import_demo(store, demo_analysis)
    aid = plain_asset(store)["asset_id"]
    store.save(aid, {"status": "surplus", "location": (431000.5, 311000.25)}, expected_version=1, role=LOCAL_USER)
    store.submit_correction(aid, message="check", role=PUBLIC)
    store.set_user("e@a", "editor", ORG, role=LOCAL_USER)
    copy = backup(store, tmp_path / "backup.sqlite")
    assert copy.integrity() == "ok"
    restored = make_store("restored")
    restored.load(copy)
    assert snapshot(restored) == snapshot(store)
    a, b = store.assets(LOCAL_USER), restored.assets(LOCAL_USER)
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
    assert all(x.equals_exact(y, 0) for x, y in zip(a.geometry.dropna(), b.geometry.dropna(), strict=True))
    # Work goes on in the restored register with its counters intact.
    v = restored.get(aid, LOCAL_USER)["version"]
    assert restored.save(aid, {"notes": "after restore"}, expected_version=v, role=LOCAL_USER) == v + 1
    with pytest.raises(StoreError, match="empty register"):
        restored.load(copy)
    with pytest.raises(StoreError, match="already exists"):
        backup(store, tmp_path / "backup.sqlite")


def test_tables_listed_for_backup_match_the_schema(store):
    for table, cols in TABLES.items():
        assert store.raw_columns(table) == list(cols), table


def test_an_editor_places_and_describes_a_site_and_bad_values_are_named(store, demo_analysis):
    """Issue 14 item 9: name, tenure, UPRN, sizes and a location at a postcode are edits, re-scored and audited."""
    import_demo(store, demo_analysis)
    a = store.assets(LOCAL_USER)
    aid = a[a.geometry.isna()]["asset_id"].iloc[0]
    at = a[a.geometry.notna()].geometry.iloc[0].representative_point()
    v = store.save(aid, {"location": (at.x, at.y), "location_quality": "full postcode", "postcode": "ab1 2cd",
                         "name": "  Mill  Lane  depot ", "tenure": "Leasehold", "uprn": "100012345678 ",
                         "floor_area_m2": "1,250", "site_area_ha": ""}, expected_version=1, role=LOCAL_USER)
    got = store.get(aid, LOCAL_USER)
    assert v == 2 and got["geometry"] is not None and got["location_quality"] == "full postcode"
    assert (got["name"], got["tenure"], got["uprn"], got["postcode"]) == ("Mill Lane depot", "Leasehold",
                                                                          "100012345678", "AB1 2CD")
    assert got["floor_area_m2"] == 1250.0 and got["need_area_code"] is not None
    assert store.assets(PUBLIC).set_index("asset_id").loc[aid, "name"] == "Mill Lane depot"
    assert {"name", "uprn", "geometry"} <= set(store.history(aid, role=LOCAL_USER)[0]["changes"])
    with pytest.raises(InputError) as e:
        store.save(aid, {"uprn": "12-AB", "floor_area_m2": "big", "site_area_ha": -1, "location_quality": "guess"},
                   expected_version=2, role=LOCAL_USER)
    text = str(e.value)
    assert "'12-AB'" in text and "'big'" in text and "-1" in text and "'guess'" in text
    assert store.get(aid, LOCAL_USER)["version"] == 2
