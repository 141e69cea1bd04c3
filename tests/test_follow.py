"""Following sites (issue 18 item 1): inbox items and e-mail when a followed site changes, on SQLite and PostGIS.

Two community users, an estates editor and an admin; e-mail goes to a local SMTP server
(the ``smtp_server`` fixture). No message carries a field the follower may not see.
"""
from __future__ import annotations

import os

import pytest

from assets_map.store import LOCAL_USER, PUBLIC, NotAllowed, notify
from assets_map.store import follow as fl
from assets_map.store.roles import Identity
from tests.helpers import ISS, ORG, import_demo

SECRET = "SECRET-PLAN-7731"


def _people(store):
    store.set_user("ed@ashbridge.example", "editor", ORG, role=LOCAL_USER)
    store.set_user("boss@ashbridge.example", "admin", role=LOCAL_USER)
    ids = {"alice": Identity(ISS, "alice-sub", "alice@example.org"), "bob": Identity(ISS, "bob-sub", "bob@example.org"),
           "ed": Identity(ISS, "ed-sub", "ed@ashbridge.example"), "boss": Identity(ISS, "boss-sub", "boss@ashbridge.example")}
    return {k: (store.role_for(i), i) for k, i in ids.items()}


def _public_sites(store, n):
    a = store.assets(LOCAL_USER)
    a = a[(a["visibility"] == "public") & (a["status"] == "occupied") & ~a["removed"]]
    return a["asset_id"].tolist()[:n], a.set_index("asset_id")


def _save(store, asset_id, role=LOCAL_USER, **changes):
    version = int(store.get(asset_id, LOCAL_USER)["version"])
    return store.save(asset_id, changes, expected_version=version, role=role)


def _texts(items) -> str:
    return "\n".join(f"{i['title']}\n{i['body']}" for i in items)


def _mail_text(msgs) -> str:
    return "\n".join(str(m) for m in msgs)


@pytest.fixture
def scene(store, demo_analysis):
    import_demo(store, demo_analysis)
    people = _people(store)
    (a, b, c), frame = _public_sites(store, 3)
    return store, people, (a, b, c), frame


def test_follower_told_of_surplus_others_not_and_no_internal_field(scene, smtp_server):
    store, people, (a, b, c), frame = scene
    alice, alice_id = people["alice"]
    bob, bob_id = people["bob"]
    ed, ed_id = people["ed"]
    boss, boss_id = people["boss"]
    assert alice.kind == "viewer" and ed.kind == "editor" and boss.kind == "admin"
    fl.follow(store, a, role=alice, identity=alice_id, group="Friends of the hall", steward="Alice, 07700 900123")
    fl.follow(store, a, role=ed, identity=ed_id)
    fl.follow(store, a, role=boss, identity=boss_id)
    fl.follow(store, b, role=bob, identity=bob_id)

    _save(store, a, ed, status="surplus", disposal_plans=SECRET, notes=f"internal note {SECRET}")
    _save(store, c, ed, status="vacant")  # nobody follows c

    got = notify.inbox(store, role=alice)
    assert len(got) == 1 and "declared surplus" in got[0]["title"] and got[0]["email_state"] == "sent"
    assert notify.inbox(store, role=bob) == []
    assert len(notify.inbox(store, role=ed)) == 1 and "(it was in use)" in notify.inbox(store, role=ed)[0]["body"]
    assert len(notify.inbox(store, role=boss)) == 1
    to = sorted(m["X-Envelope-To"] for m in smtp_server)
    assert to == ["alice@example.org", "boss@ashbridge.example", "ed@ashbridge.example"]
    everything = _mail_text(smtp_server) + _texts(notify.inbox(store, role=alice)) + _texts(notify.inbox(store, role=ed))
    assert SECRET not in everything and "disposal" not in everything.lower()
    mail = next(m for m in smtp_server if m["X-Envelope-To"] == "alice@example.org")
    assert "declared surplus" in mail["Subject"] and mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"?site={a}" in mail.get_content()


def test_hidden_status_and_internal_site_tell_the_public_follower_nothing(scene, smtp_server):
    store, people, (a, b, _), _ = scene
    alice, alice_id = people["alice"]
    ed, ed_id = people["ed"]
    fl.follow(store, a, role=alice, identity=alice_id)
    fl.follow(store, b, role=alice, identity=alice_id)
    fl.follow(store, a, role=ed, identity=ed_id)
    _save(store, a, ed, field_visibility={"status": "internal"})
    _save(store, a, ed, status="surplus")
    _save(store, b, ed, visibility="internal")
    _save(store, b, ed, status="sold")
    assert notify.inbox(store, role=alice) == []
    assert {i["asset_id"] for i in notify.inbox(store, role=ed)} == {a}
    assert [m["X-Envelope-To"] for m in smtp_server] == ["ed@ashbridge.example"]


def test_unconfirmed_address_gets_only_its_confirmation_then_unsubscribe_in_one_click(scene, smtp_server):
    store, people, (a, _, _), _ = scene
    bob, _ = people["bob"]
    fl.follow(store, a, role=bob)  # no sign-in e-mail vouched for: no address yet
    token = fl.set_email(store, "Bob.Other@Example.net", role=bob)
    assert token and notify.send_confirmation(store, bob.user, token)
    assert len(smtp_server) == 1 and f"?confirm={token}" in smtp_server[0].get_content()
    _save(store, a, status="vacant")
    assert len(notify.inbox(store, role=bob)) == 1 and len(smtp_server) == 1  # inbox only: not confirmed
    assert fl.confirm_email(store, token) == "bob.other@example.net"
    assert fl.confirm_email(store, token) is None  # a link works once
    _save(store, a, status="surplus")
    assert len(smtp_server) == 2 and smtp_server[1]["X-Envelope-To"] == "bob.other@example.net"
    link = smtp_server[1]["List-Unsubscribe"].strip("<>")
    assert fl.unsubscribe(store, link.split("unsubscribe=")[1]) == bob.user
    _save(store, a, status="sold")
    assert len(notify.inbox(store, role=bob)) == 3 and len(smtp_server) == 2


def test_digest_and_message_limit(scene, smtp_server, monkeypatch):
    store, people, (a, b, _), _ = scene
    alice, alice_id = people["alice"]
    bob, bob_id = people["bob"]
    fl.follow(store, a, role=alice, identity=alice_id)
    fl.follow(store, a, role=bob, identity=bob_id)
    fl.set_delivery(store, "digest", role=bob)
    monkeypatch.setitem(notify.EMAIL_LIMITS, "follower", 2)
    for status in ("vacant", "surplus", "sold"):
        _save(store, a, status=status)
    assert [m["X-Envelope-To"] for m in smtp_server] == ["alice@example.org"] * 2  # the third waits
    assert notify.deliver(store, digest=True) == 2  # bob's three and alice's one waiting, one e-mail each
    digest = next(m for m in smtp_server if m["X-Envelope-To"] == "bob@example.org")
    assert "3 changes" in digest["Subject"] and "sold" in digest.get_content()
    assert all(i["email_state"] == "sent" for i in notify.inbox(store, role=alice))


def test_signups_rate_limited_and_public_cannot_follow(scene):
    store, people, (a, _, _), _ = scene
    bob, _ = people["bob"]
    with pytest.raises(NotAllowed):
        fl.follow(store, a, role=PUBLIC)
    for n in range(fl.SIGNUP_LIMITS["follower"]):
        fl.set_email(store, f"bob{n}@example.net", role=bob)
    with pytest.raises(fl.RateLimited):
        fl.set_email(store, "bob9@example.net", role=bob)
    with pytest.raises(Exception, match="not an e-mail address"):
        fl.set_email(store, "bob at example", role=bob)


def test_no_smtp_server_means_inbox_only(scene, monkeypatch):
    store, people, (a, _, _), _ = scene
    monkeypatch.delenv("ASSETS_MAP_SMTP_HOST", raising=False)
    alice, alice_id = people["alice"]
    fl.follow(store, a, role=alice, identity=alice_id)
    _save(store, a, status="surplus")
    (item,) = notify.inbox(store, role=alice)
    assert item["email_state"] == "pending" and "not set up" in notify.email_setup()
    notify.mark_read(store, [item["id"]], role=alice)
    assert notify.inbox(store, role=alice, unread_only=True) == []
    fl.unfollow(store, a, role=alice)
    _save(store, a, status="sold")
    assert len(notify.inbox(store, role=alice)) == 1


def test_possible_disposal_in_land_registry_changes_told_to_followers(scene, smtp_server):
    import datetime as dt

    import pandas as pd

    from assets_map.store.disposals import tell_disposals

    store, people, _, frame = scene
    alice, alice_id = people["alice"]
    ed, _ = people["ed"]
    every = store.assets(LOCAL_USER)["address"]
    a = next(aid for aid in frame.index if (every == frame.loc[aid, "address"]).sum() == 1)  # its own address
    fl.follow(store, a, role=alice, identity=alice_id)
    address = frame.loc[a, "address"].replace(" (fictional)", "").upper()
    found = pd.DataFrame([
        {"title_number": "MAN123", "property_address": address, "postcode": None, "change_date": dt.date(2026, 10, 1),
         "what": "possible disposal: proprietor changed", "new_proprietor": "NEW OWNER LTD"},
        {"title_number": "MAN999", "property_address": "1 Nowhere Road, Elsewhere", "postcode": "ZZ9 9ZZ",
         "change_date": dt.date(2026, 10, 1), "what": "possible disposal: title deleted from the register",
         "new_proprietor": None}])
    with pytest.raises(NotAllowed):
        tell_disposals(store, found, role=alice)
    out = tell_disposals(store, found, role=ed).set_index("title_number")
    assert out.loc["MAN123", "asset_id"] == a and out.loc["MAN123", "told"] == 1
    assert out.loc["MAN999", "asset_id"] is None or out.loc["MAN999", "told"] == 0
    (item,) = notify.inbox(store, role=alice)
    assert "proprietor changed to NEW OWNER LTD for title MAN123 (2026-10-01)" in item["body"]
    assert [m["X-Envelope-To"] for m in smtp_server] == ["alice@example.org"]
    tell_disposals(store, found, role=ed)  # the same change file again: told once
    assert len(notify.inbox(store, role=alice)) == 1


def test_notify_disposals_command_reads_land_registry_files(tmp_path, demo_analysis, capsys, monkeypatch):
    from assets_map.cli import main
    from assets_map.store import SqliteStore
    from tests.helpers import ccod_csv

    monkeypatch.delenv("ASSETS_MAP_SMTP_HOST", raising=False)
    store = SqliteStore(tmp_path / "register.sqlite")
    import_demo(store, demo_analysis)
    alice, alice_id = _people(store)["alice"]
    frame = store.assets(LOCAL_USER)
    every = frame["address"]
    site = next(r for r in frame.itertuples() if (every == r.address).sum() == 1 and r.visibility == "public")
    fl.follow(store, site.asset_id, role=alice, identity=alice_id)
    council = {"name": "ASHBRIDGE BOROUGH COUNCIL", "category": "Local Authority"}
    title = {"Title Number": "AB1", "Tenure": "Freehold", "Property Address": site.address.replace(" (fictional)", ""),
             "Postcode": "", "proprietors": [council]}
    (tmp_path / "CCOD_FULL.csv").write_bytes(ccod_csv([title]))
    (tmp_path / "CCOD_COU.csv").write_bytes(ccod_csv([dict(title, **{"Change Indicator": "D",
                                                                        "Change Date": "15-11-2026"})], change=True))
    assert main(["notify", "disposals", "--ownership", str(tmp_path / "CCOD_FULL.csv"), "--ownership",
                 str(tmp_path / "CCOD_COU.csv"), "--anchor", "Ashbridge Borough Council", "--store",
                 str(store.path)]) == 0
    printed = capsys.readouterr().out
    assert f"title AB1: site {site.asset_id} (high" in printed and "1 followers told" in printed
    (item,) = notify.inbox(store, role=alice)
    assert "title deleted from the register for title AB1" in item["body"]


def test_mail_server_down_never_undoes_a_change_and_items_wait(scene, smtp_server, monkeypatch):
    from assets_map.store import cases
    from tests.helpers import free_port

    store, people, (a, _, _), _ = scene
    alice, alice_id = people["alice"]
    fl.follow(store, a, role=alice, identity=alice_id)
    up = os.environ["ASSETS_MAP_SMTP_PORT"]
    monkeypatch.setenv("ASSETS_MAP_SMTP_PORT", str(free_port()))  # nothing listens there
    _save(store, a, status="surplus")
    cases.open_case(store, a, role=alice)
    assert store.get(a, LOCAL_USER)["status"] == "surplus" and len(smtp_server) == 0
    assert [i["email_state"] for i in notify.inbox(store, role=alice)] == ["pending", "pending"]
    monkeypatch.setenv("ASSETS_MAP_SMTP_PORT", up)
    assert notify.deliver(store) == 2
    assert [m["X-Envelope-To"] for m in smtp_server] == ["alice@example.org"] * 2
