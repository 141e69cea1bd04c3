"""Transfer cases and ACV listings in the register (issue 18 items 2-4), on SQLite and PostGIS."""
from __future__ import annotations

import datetime as dt

import pytest

from assets_map.community.acv import read_acv_list, write_planning_data
from assets_map.io.report import InputError
from assets_map.store import LOCAL_USER, PUBLIC, NotAllowed, StoreError, listings, notify
from assets_map.store import cases as cs
from assets_map.store import follow as fl
from assets_map.store.roles import Identity
from tests.helpers import ISS, ORG, import_demo

D = dt.date


@pytest.fixture
def scene(store, demo_analysis):
    import_demo(store, demo_analysis)
    store.set_user("ed@ashbridge.example", "editor", ORG, role=LOCAL_USER)
    store.set_user("boss@ashbridge.example", "admin", role=LOCAL_USER)
    ids = {"alice": Identity(ISS, "alice-sub", "alice@example.org"), "bob": Identity(ISS, "bob-sub", "bob@example.org"),
           "ed": Identity(ISS, "ed-sub", "ed@ashbridge.example"), "boss": Identity(ISS, "boss-sub", "boss@ashbridge.example")}
    people = {k: (store.role_for(i), i) for k, i in ids.items()}
    a = store.assets(LOCAL_USER)
    a = a[(a["visibility"] == "public") & ~a["removed"]]
    return store, people, a


def test_case_moves_through_its_stages_with_the_audit_trail(scene):
    store, people, assets = scene
    alice, alice_id = people["alice"]
    bob, bob_id = people["bob"]
    ed, _ = people["ed"]
    boss, _ = people["boss"]
    site = assets["asset_id"].iloc[0]
    fl.follow(store, site, role=bob, identity=bob_id)
    case = cs.open_case(store, site, role=alice, group="Ashbridge Community Trust", stage_date=D(2025, 1, 6),
                        note="We would like to run a community hub", next_step="Estates to reply",
                        deadline=D(2025, 2, 6))
    with pytest.raises(NotAllowed):
        cs.move_case(store, case, "decision", role=alice, expected_version=1)
    with pytest.raises(NotAllowed):
        cs.move_case(store, case, "expression of interest", role=bob, expected_version=1)
    v = cs.move_case(store, case, "expression of interest", role=alice, expected_version=1, stage_date=D(2025, 2, 1),
                     documents=["https://trust.example/eoi.pdf"])
    v = cs.move_case(store, case, "business case", role=alice, expected_version=v, stage_date=D(2025, 4, 1),
                     public=False, note="draft figures attached", documents=["business-case-v1.pdf"])
    with pytest.raises(StoreError, match="moved by someone else"):
        cs.move_case(store, case, "decision", role=ed, expected_version=2)
    with pytest.raises(InputError, match="before the case's last stage"):
        cs.move_case(store, case, "decision", role=ed, expected_version=v, stage_date=D(2025, 3, 1))
    v = cs.move_case(store, case, "decision", role=ed, expected_version=v, stage_date=D(2025, 5, 20),
                     note="Cabinet approved a 25-year lease", next_step="Agree heads of terms", deadline=D(2025, 7, 1))
    v = cs.move_case(store, case, "heads of terms", role=boss, expected_version=v, stage_date=D(2025, 6, 30))
    with pytest.raises(InputError, match="say why"):
        cs.move_case(store, case, "withdrawn", role=alice, expected_version=v)
    v = cs.move_case(store, case, "lease or transfer completed", role=ed, expected_version=v, stage_date=D(2025, 9, 1))
    with pytest.raises(StoreError, match="closed"):
        cs.move_case(store, case, "enquiry", role=ed, expected_version=v)

    trail = cs.case_history(store, case, role=ed)
    assert [(e["stage"], e["by_user"]) for e in trail] == [
        ("enquiry", alice.user), ("expression of interest", alice.user), ("business case", alice.user),
        ("decision", ed.user), ("heads of terms", boss.user), ("lease or transfer completed", ed.user)]
    assert trail[3]["next_step"] == "Agree heads of terms" and trail[3]["deadline"] == "2025-07-01"
    assert trail[1]["documents"] == ["https://trust.example/eoi.pdf"]
    assert cs.case_history(store, case, role=alice) == trail  # the group sees its own case whole
    public = cs.case_history(store, case, role=bob)  # another community user: public stages, dates only
    assert [e["stage"] for e in public] == ["enquiry", "expression of interest", "decision", "heads of terms",
                                            "lease or transfer completed"]
    assert all(set(e) == {"version", "stage", "stage_date", "public"} for e in public)
    (seen,) = cs.cases(store, role=bob, asset_id=site)
    assert not seen["whole"] and "opened_by" not in seen
    with pytest.raises(Exception, match="append-only"):  # noqa: B017 (sqlite3 and psycopg raise their own kinds)
        store.raw("UPDATE case_events SET note = 'changed' WHERE case_id = ?", [case])
    with pytest.raises(Exception, match="append-only"):  # noqa: B017 (sqlite3 and psycopg raise their own kinds)
        store.raw("DELETE FROM case_events WHERE case_id = ?", [case])

    told = notify.inbox(store, role=bob)
    text = "\n".join(i["title"] + i["body"] for i in told)
    assert len(told) == 5 and "business case" not in text  # the private stage is not told to the public
    assert "Cabinet" not in text and "community hub" not in text and alice.user not in text


def test_dashboard_by_stage_ageing_and_flagged_sites_never_asked_about(scene):
    store, people, assets = scene
    alice, _ = people["alice"]
    ed, _ = people["ed"]
    flagged = assets[assets["priority"].isin(["High", "Medium", "Low"])]["asset_id"].tolist()
    assert len(flagged) >= 2
    first, second = flagged[0], flagged[1]
    case = cs.open_case(store, first, role=alice, stage_date=D(2025, 1, 6), next_step="reply", deadline=D(2025, 1, 20))
    store.submit_correction(second, message="this hall has been empty for years", role=PUBLIC)
    board = cs.dashboard(store, role=ed, today=D(2025, 3, 7))
    assert board["by_stage"]["enquiry"] == 1
    (row,) = board["open"]
    assert (row["id"], row["days_at_stage"], row["overdue"]) == (case, 60, True)
    never = {r["asset_id"] for r in board["never_asked"]}
    assert first not in never and second not in never and set(flagged[2:]) <= never
    assert never <= set(flagged)
    with pytest.raises(NotAllowed):
        cs.dashboard(store, role=alice)


def test_acv_list_imported_matched_told_to_followers_and_exported(scene, tmp_path):
    store, people, assets = scene
    bob, bob_id = people["bob"]
    ed, _ = people["ed"]
    site = assets.iloc[0]
    fl.follow(store, site["asset_id"], role=bob, identity=bob_id)
    lon, lat = assets.to_crs(4326).geometry.iloc[0].representative_point().coords[0]
    text = ("reference,name,address-text,point,nomination-date,nominating-group,decision,decision-date,"
            "notification-to-sell-date,interested-group\n"
            f"ACV-1,{site['name']},,POINT ({lon:.6f} {lat:.6f}),2024-01-10,Friends,listed,2024-02-29,,\n")
    path = tmp_path / "acv.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(NotAllowed):
        listings.import_listings(store, read_acv_list(path), role=bob)
    out = listings.import_listings(store, read_acv_list(path), role=ed)
    assert out.loc[0, "asset_id"] == site["asset_id"] and out.loc[0, "change"] == "new"
    (item,) = notify.inbox(store, role=bob)
    assert "list of assets of community value" in item["body"] and "28 February 2029" in item["body"]
    (listing,) = listings.for_site(store, site["asset_id"], role=bob, today=D(2025, 1, 1))
    assert [c.key for c in listing["clocks"]] == ["listing-expires"]
    # The owner gives notice to sell: followers are told the interim moratorium's end.
    path.write_text(text.replace("2024-02-29,,", "2024-02-29,2025-01-06,"), encoding="utf-8")
    out = listings.import_listings(store, read_acv_list(path), role=ed)
    assert out.loc[0, "change"] == "updated"
    told = notify.inbox(store, role=bob)
    assert len(told) == 2 and "16 February 2025" in told[0]["body"]
    exported = write_planning_data(listings.stored_list(store))
    assert "ACV-1" in exported and "2025-01-06" in exported and exported.startswith("reference,name,address-text")


def test_acv_clocks_on_the_card_and_site_pack_of_a_register_read(scene, tmp_path):
    from assets_map.community.sitecard import site_card
    from assets_map.community.sitepack import select_sites, site_pack_html

    store, people, assets = scene
    bob, _ = people["bob"]
    site = assets.iloc[0]
    lon, lat = assets.to_crs(4326).geometry.iloc[0].representative_point().coords[0]
    path = tmp_path / "acv.csv"
    path.write_text("reference,name,point,decision,decision-date,notification-to-sell-date\n"
                    f"ACV-7,{site['name']},POINT ({lon:.6f} {lat:.6f}),listed,2024-02-29,2025-08-31\n", encoding="utf-8")
    listings.import_listings(store, read_acv_list(path), role=LOCAL_USER)
    result = store.register_analysis(bob)  # the public view: an ACV list is public
    lines = result.settings["acv"][site["asset_id"]]
    assert lines[0].startswith("Asset of Community Value: listing ACV-7 (listed)")
    assert any(line.startswith("Full moratorium ends: 28 February 2026.") for line in lines)
    card = site_card(result.assets, result.needs, site["asset_id"], settings=result.settings)
    assert "Protected period ends: 28 February 2027. Until this date the owner may sell without a new moratorium; " \
           "after it a new notification to sell starts the clocks again." in card.notes
    pack = site_pack_html(select_sites(result.assets, [site["asset_id"]]), needs=result.needs, settings=result.settings)
    assert "Asset of Community Value: the clocks" in pack and "Listing ends: 28 February 2029" in pack
    other = assets["asset_id"].iloc[1]
    assert other not in result.settings["acv"]


def test_backup_and_restore_keep_follows_inbox_cases_and_listings(scene, make_store, tmp_path):
    from assets_map.store import SqliteStore, backup

    store, people, assets = scene
    alice, alice_id = people["alice"]
    site = assets["asset_id"].iloc[0]
    fl.follow(store, site, role=alice, identity=alice_id, group="Trust")
    case = cs.open_case(store, site, role=alice, stage_date=D(2025, 1, 6), documents=["https://trust.example/a.pdf"])
    version = int(store.get(site, LOCAL_USER)["version"])
    store.save(site, {"status": "surplus"}, expected_version=version, role=LOCAL_USER)
    before = (fl.following(store, role=alice), notify.inbox(store, role=alice), cs.case_history(store, case, role=alice))
    assert len(before[1]) == 2  # the case opened and the status change
    backup(store, tmp_path / "backup.sqlite")
    restored = make_store("restored")
    restored.load(SqliteStore(tmp_path / "backup.sqlite", read_only=True))
    assert (fl.following(restored, role=alice), notify.inbox(restored, role=alice),
            cs.case_history(restored, case, role=alice)) == before
    # Work goes on in the restored register with its counters intact.
    assert cs.move_case(restored, case, "expression of interest", role=alice, expected_version=1) == 2
    assert cs.open_case(restored, site, role=alice) == case + 1
