"""Who a visitor is: local only for a direct browser on the server, roles only from verified claims.

The end-to-end checks (a real Streamlit server, a real OIDC provider, chromium from a
non-loopback address) are in tests/test_browser_auth.py; here are the decision rules,
the users-table migration on both backends and the mode line every page shows.
"""
from __future__ import annotations

import sqlite3
import uuid

import pytest
from streamlit.testing.v1 import AppTest

from assets_map.store import LOCAL_USER, PUBLIC, Identity, SqliteStore
from assets_map.store.postgis import PostgisStore
from assets_map.store.roles import identity_from_claims
from assets_map.ui import identity
from assets_map.ui.identity import Peer, is_local
from tests.helpers import postgis_url

ISS = "https://id.example.org"
LOCAL_HEADERS = {"host": ("localhost:8501",), "origin": ("http://localhost:8501",)}


@pytest.mark.parametrize("peer", [
    Peer("127.0.0.1", LOCAL_HEADERS),
    Peer("127.0.0.1"),  # a non-browser client on this machine sends neither Host nor Origin
    Peer("::1", {"host": ("[::1]:8501",), "origin": ("http://[::1]:8501",)}),
    Peer("::ffff:127.0.0.1", {"host": ("127.0.0.1:8501",)}),
    Peer("127.0.0.1", {"host": ("app.localhost:8501",)}),
])
def test_a_direct_loopback_browser_is_local(peer):
    assert is_local(peer)


@pytest.mark.parametrize("peer", [
    Peer(None, LOCAL_HEADERS),  # the connection could not be read: fail closed
    Peer("", LOCAL_HEADERS),
    Peer("not an address", LOCAL_HEADERS),
    Peer("192.0.2.7", LOCAL_HEADERS),  # another machine, whatever Host it claims
    Peer("10.200.0.1", LOCAL_HEADERS),
    Peer("fd00::2", LOCAL_HEADERS),
    # a reverse proxy on this machine connects from loopback; its headers say it forwards someone else
    Peer("127.0.0.1", {**LOCAL_HEADERS, "x-forwarded-for": ("127.0.0.1",)}),
    Peer("127.0.0.1", {**LOCAL_HEADERS, "forwarded": ("for=192.0.2.7",)}),
    Peer("127.0.0.1", {**LOCAL_HEADERS, "x-real-ip": ("192.0.2.7",)}),
    Peer("127.0.0.1", {**LOCAL_HEADERS, "via": ("1.1 proxy",)}),
    Peer("127.0.0.1", {**LOCAL_HEADERS, "x-forwarded-host": ("assets.example",)}),
    # a page elsewhere whose name was rebound to 127.0.0.1, or a proxy passing the public Host/Origin on
    Peer("127.0.0.1", {"host": ("evil.example:8501",), "origin": ("http://evil.example:8501",)}),
    Peer("127.0.0.1", {"host": ("localhost:8501",), "origin": ("https://assets.example",)}),
    Peer("127.0.0.1", {"host": ("localhost:8501",), "origin": ("null",)}),
    Peer("127.0.0.1", {"host": ("localhost.evil.example:8501",)}),
])
def test_anyone_else_is_not_local(peer):
    assert not is_local(peer)


def test_unknown_visitor_is_public_and_the_local_one_is_explicit(monkeypatch):
    # Outside a server (and in AppTest) there is no connection to read: the public view.
    who = identity.visitor()
    assert who.role == PUBLIC and who.mode == "public" and "Public view" in who.line()
    assert identity.visitor_role().is_public
    monkeypatch.setattr(identity, "peer", lambda: Peer("127.0.0.1", LOCAL_HEADERS))
    assert identity.visitor_role() == LOCAL_USER and identity.visitor().line().startswith("Local mode")
    monkeypatch.setattr(identity, "peer", lambda: Peer("192.0.2.7", LOCAL_HEADERS))
    assert identity.visitor_role() == PUBLIC


@pytest.mark.parametrize("claims, email, noted", [
    ({"iss": ISS, "sub": "1", "email": "Boss@Example.org", "email_verified": True}, "boss@example.org", False),
    ({"iss": ISS, "sub": "1", "email": "boss@example.org", "email_verified": False}, None, True),
    ({"iss": ISS, "sub": "1", "email": "boss@example.org", "email_verified": "false"}, None, True),
    ({"iss": ISS, "sub": "1", "email": "boss@example.org", "email_verified": "true"}, None, True),  # not a boolean
    ({"iss": ISS, "sub": "1", "email": "boss@example.org", "email_verified": 1}, None, True),
    ({"iss": ISS, "sub": "1", "email": "boss@example.org"}, None, True),
    ({"iss": ISS, "sub": "boss@example.org"}, None, False),  # a subject is never taken as an e-mail
])
def test_identity_keeps_only_verified_claims(claims, email, noted):
    who, note = identity_from_claims(claims)
    assert who == Identity(ISS, claims["sub"], email)
    assert (note is not None) == noted
    if noted:
        assert "not verified" in note and "\n" not in note


@pytest.mark.parametrize("claims", [{"sub": "1", "email": "a@b.c", "email_verified": True},
                                    {"iss": ISS, "email": "a@b.c", "email_verified": True},
                                    {"iss": " ", "sub": "1"}, {"iss": ISS, "sub": ""}, {"iss": ISS, "sub": 7}, {}])
def test_claims_without_issuer_and_subject_give_no_identity(claims):
    who, note = identity_from_claims(claims)
    assert who is None and "iss and sub" in note


def _rewind_users_to_schema_1(store) -> None:
    """Give a fresh store the users table of schema 1 (subject as the key, no issuer), as older releases made."""
    old = ("CREATE TABLE users (subject {t} PRIMARY KEY, role {t} NOT NULL, organisation {t}, "
           "added_by {t} NOT NULL, added_at {t} NOT NULL)")
    t = "text" if isinstance(store, PostgisStore) else "TEXT"
    store.raw("DROP TABLE users")
    store.raw(old.format(t=t))
    store.raw("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    for subject, kind in (("Boss@Example.org", "admin"), ("1234567890", "admin"), ("ed@example.org", "viewer")):
        store.raw("INSERT INTO users VALUES (?, ?, NULL, 'someone', '2026-01-01')", [subject, kind])


@pytest.fixture(params=["sqlite", "postgis"])
def opener(request, tmp_path):
    """Opens the same register again and again (a fresh one per test) on each backend."""
    if request.param == "sqlite":
        yield lambda: SqliteStore(tmp_path / "register.sqlite")
        return
    url, schema = postgis_url(), f"t_{uuid.uuid4().hex[:12]}"
    yield lambda: PostgisStore(url, schema=schema)
    PostgisStore(url, schema=schema).drop_schema()


def test_older_users_table_is_migrated_safely(opener):
    _rewind_users_to_schema_1(opener())
    again = opener()
    assert again.raw("SELECT value FROM meta WHERE key = 'schema_version'") == [("2",)]
    assert {(u["issuer"], u["subject"], u["role"]) for u in again.users(role=LOCAL_USER)} == {
        ("", "Boss@Example.org", "admin"), ("", "1234567890", "admin"), ("", "ed@example.org", "viewer")}
    # The old e-mail entry still works, for a verified address only; the bare subject no longer gives a role.
    assert again.role_for(Identity(ISS, "x", "boss@example.org")).kind == "admin"
    assert again.role_for(Identity(ISS, "boss@example.org")).is_public
    assert again.role_for(Identity(ISS, "1234567890")).is_public
    again.set_user("1234567890", "admin", issuer=ISS, role=LOCAL_USER)
    assert again.role_for(Identity(ISS, "1234567890")).kind == "admin"
    assert again.role_for(Identity("https://other.example", "1234567890")).is_public
    # Opening it again changes nothing more.
    assert len(opener().users(role=LOCAL_USER)) == 4


def test_a_backup_from_before_issuers_restores(tmp_path):
    from assets_map.cli import main as cli

    backup = tmp_path / "backup.sqlite"
    _rewind_users_to_schema_1(SqliteStore(backup))
    fresh = tmp_path / "fresh.sqlite"
    assert cli(["store", "--store", str(fresh), "restore", str(backup)]) == 0
    restored = SqliteStore(fresh)
    assert restored.role_for(Identity(ISS, "x", "boss@example.org")).kind == "admin"
    assert restored.role_for(Identity(ISS, "1234567890")).is_public
    assert {u["issuer"] for u in restored.users(role=LOCAL_USER)} == {""}


def test_a_newer_store_is_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    SqliteStore(path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(Exception, match="newer assets-map"):
        SqliteStore(path)


def _about_with_frame() -> None:
    from assets_map.ui import about_page, shared

    shared.frame()
    about_page.render()


@pytest.mark.parametrize("visitor, line", [(None, "Public view"), ("local", "Local mode"),
                                           ("remote", "Public view")])
def test_every_page_says_which_mode_it_is_in(request, visitor, line):
    if visitor:
        request.getfixturevalue(f"{visitor}_visitor")
    at = AppTest.from_function(_about_with_frame, default_timeout=120).run()
    assert not at.exception
    assert any(c.value.startswith(line) for c in at.sidebar.caption)
