"""Issue 17 items 3-5 in the app and the register: Land Registry ownership files through Your data's slot, the
anchor chosen from those found, decisions on the reconciliation recorded in the register store (who, when,
decision, note; viewers cannot decide) and carried into the next report, by the app and by
``assets-map reconcile --store``. The report rows and the carried decisions are reproduced by plain pandas.
"""
from __future__ import annotations

import pandas as pd
import pytest

from assets_map.cli import main
from assets_map.community.ownership import (
    STATUS_CCOD_ONLY,
    STATUS_MATCHED,
    STATUS_NO_TITLE,
    STATUS_NOT_IN_REGISTER,
    alias_rows,
    anchor_choices,
    anchors_found,
    build_anchor,
    placements,
    reconcile,
    register_of,
    who_owns,
)
from assets_map.io.importer import Upload
from assets_map.io.landregistry import read_ownership
from assets_map.io.report import InputError
from assets_map.io.uploads import check_uploads, ownership_verdict, slot_problem
from assets_map.store import LOCAL_USER, NotAllowed, Role
from assets_map.store.decisions import decision_history, decisions, record_decision
from tests.helpers import RECONCILE_ANCHOR as ANCHOR
from tests.helpers import plain, reconcile_inputs


@pytest.fixture(scope="module")
def world(reconcile_files):
    return reconcile_files


@pytest.fixture(scope="module")
def loaded(world):
    return reconcile_inputs(world, "CCOD_FULL.csv")


def _rec(world, loaded, decided=None):
    ownership, anchor, postcodes, register = loaded
    return reconcile(ownership, anchor, register=register, postcodes=postcodes, parcels=world["parcels"],
                     decisions=decided)


# ------------------------------------------------------------------ decisions in the register store

def test_decisions_recorded_with_their_audit_trail_and_only_by_those_who_may(store, world, loaded):
    rows = _rec(world, loaded).rows
    matched = rows[rows["status"] == STATUS_MATCHED].iloc[0]
    missing = rows[rows["status"] == STATUS_NOT_IN_REGISTER].iloc[0]
    # a viewer, and an editor of another organisation, cannot decide (nor read the decisions)
    for role in (Role("viewer", "someone@example.org"), Role("editor", "e@elsewhere.org", "Elsewhere Council")):
        with pytest.raises(NotAllowed, match="may not decide"):
            record_decision(store, anchor=ANCHOR, match_key=matched["match_key"], decision="confirmed", role=role)
        with pytest.raises(NotAllowed):
            decision_history(store, ANCHOR, role=role)
    with pytest.raises(InputError, match="confirmed or rejected"):
        record_decision(store, anchor=ANCHOR, match_key=matched["match_key"], decision="maybe", role=LOCAL_USER)
    # the anchor's editor (the anchor named in another spelling) and an admin can
    editor = Role("editor", "estates@cityoflondon.example", "The City of London Corporation")
    record_decision(store, anchor=ANCHOR, match_key=matched["match_key"], decision="rejected", role=editor,
                    note="first look", title_number=matched["title_number"], asset_id=matched["asset_id"])
    record_decision(store, anchor=ANCHOR, match_key=matched["match_key"], decision="confirmed", role=LOCAL_USER,
                    note="checked the title plan", title_number=matched["title_number"], asset_id=matched["asset_id"])
    record_decision(store, anchor=ANCHOR, match_key=missing["match_key"], decision="rejected", role=editor,
                    note="sold in 2019", title_number=missing["title_number"])
    trail = decision_history(store, "CITY OF LONDON CORPORATION", role=editor)  # any spelling of the anchor
    assert trail["decided_by"].tolist() == ["estates@cityoflondon.example", "local user", "estates@cityoflondon.example"]
    assert trail["decision"].tolist() == ["rejected", "confirmed", "rejected"]
    assert trail["decided_at"].is_monotonic_decreasing and trail["note"].iloc[0] == "sold in 2019"
    latest = decisions(store, ANCHOR, role=LOCAL_USER).set_index("match_key")
    assert latest.loc[matched["match_key"], "decision"] == "confirmed"  # the latest per row wins
    assert latest.loc[missing["match_key"], "decision"] == "rejected" and len(latest) == 2
    # the audit trail is append-only, in the database itself
    with pytest.raises(Exception, match="append-only"):
        with store._write() as tx:
            tx.x("UPDATE match_decisions SET decision = 'confirmed'")
    with pytest.raises(Exception, match="append-only"):
        with store._write() as tx:
            tx.x("DELETE FROM match_decisions")
    assert len(decision_history(store, ANCHOR, role=LOCAL_USER)) == 3


def test_recorded_decisions_are_carried_into_the_next_report(store, world, loaded):
    first = _rec(world, loaded).rows
    assert first["decision"].isna().all() and first["match_key"].is_unique
    picks = first.drop_duplicates("status").head(3)
    for r, what in zip(picks.itertuples(), ("confirmed", "rejected", "confirmed"), strict=False):
        record_decision(store, anchor=ANCHOR, match_key=r.match_key, decision=what, role=LOCAL_USER, note=f"n {r.status}")
    again = _rec(world, loaded, decisions(store, ANCHOR, role=LOCAL_USER)).rows
    # independently: the latest decision per key, merged onto the rows by plain pandas
    log = decision_history(store, ANCHOR, role=LOCAL_USER).iloc[::-1]
    want = (log.groupby("match_key").last()[["decision", "note"]].reset_index())
    merged = first[["match_key"]].merge(want, on="match_key", how="left")
    assert again["decision"].fillna("").tolist() == merged["decision"].fillna("").tolist()
    assert again["decision_note"].fillna("").tolist() == merged["note"].fillna("").tolist()
    assert again["decision"].notna().sum() == len(picks)
    # every other column is the report as before
    same = [c for c in first.columns if c not in ("decision", "decision_note", "decided_by", "decided_at", "geometry")]
    pd.testing.assert_frame_equal(first[same], again[same])


def test_reconcile_command_reads_the_decisions_back_from_the_register(tmp_path, world, loaded, capsys):
    from assets_map.store import SqliteStore

    tmp = world["tmp"]
    where = tmp_path / "register.sqlite"
    store = SqliteStore(where)
    rows = _rec(world, loaded).rows
    key = rows.loc[rows["status"] == STATUS_NO_TITLE, "match_key"].iloc[0]
    record_decision(store, anchor=ANCHOR, match_key=key, decision="confirmed", role=LOCAL_USER,
                    note="held under the City's bridge trust")
    out = tmp_path / "r.xlsx"
    args = ["reconcile", "--ownership", str(tmp / "CCOD_FULL.csv"), "--anchor", ANCHOR, "--aliases",
            str(tmp / "aliases.csv"), "--register", str(tmp / "register.csv"), "--postcodes", str(tmp / "pcd.csv"),
            "--parcels", str(world["parcels_file"]), "--out", str(out)]
    assert main([*args, "--store", str(where)]) == 0
    assert "decisions recorded in the register: 1 carried into this report" in capsys.readouterr().out
    sheet = pd.read_excel(out, sheet_name="reconciliation", dtype=str)
    decided = sheet[sheet["decision"].notna()]
    assert decided["match_key"].tolist() == [key] and decided["decision"].tolist() == ["confirmed"]
    assert decided["decision_note"].tolist() == ["held under the City's bridge trust"]
    assert decided["decided_by"].tolist() == ["local user"]
    assert sheet["tier"].notna().sum() == (sheet["status"] != STATUS_NO_TITLE).sum()  # every title row says its tier
    assert main(args) == 0  # without --store: blank decisions, as before
    assert pd.read_excel(out, sheet_name="reconciliation", dtype=str)["decision"].isna().all()


# ------------------------------------------------------------------ anchors, aliases, a CCOD-only portfolio

def test_anchors_found_in_the_files_and_offered_after_the_register_organisations(loaded):
    ownership, _, _, register = loaded
    found = anchors_found(ownership)
    # independently: proprietors that are councils, NHS bodies, universities, housing or corporate bodies
    p = ownership[ownership["proprietorship_category"].isin(["Local Authority", "Corporate Body",
                                                              "Registered Society (Company)"])]
    p = p.assign(key=p["proprietor_name"].str.upper().str.replace("&", " AND ").str.replace(r"[^A-Z0-9 ]+", " ", regex=True)
                 .str.split().str.join(" ").str.replace(r"^THE ", "", regex=True))
    assert len(found) == p["key"].nunique() == 6
    assert found["titles"].sum() == p.groupby("key")["title_number"].nunique().sum()
    assert found.iloc[0]["titles"] == 3 and found.iloc[0]["name"] == ANCHOR  # AGL3, AGL4, AGL5
    choices = anchor_choices(ownership, register)
    assert choices[0] == ANCHOR and choices.count(ANCHOR) == 1
    assert {"The City University", "Barts Health NHS Trust", "London and Quadrant Housing Trust Limited"} <= set(choices)
    assert "City of London Investments Limited" not in choices  # a company is not an anchor


def test_an_anchor_with_no_register_gets_a_ccod_only_portfolio_and_added_aliases_match(world, loaded):
    ownership, _, postcodes, register = loaded
    uni = build_anchor("The City University")
    assert register_of(register, uni) is None
    rec = reconcile(ownership, uni, register=register_of(register, uni), postcodes=postcodes, parcels=world["parcels"])
    assert rec.rows["status"].tolist() == [STATUS_CCOD_ONLY] and rec.rows["title_number"].tolist() == ["AGL7"]
    # names added on the page extend the alias table: the bare anchor finds only its own name
    bare = build_anchor(ANCHOR)
    assert sorted(reconcile(ownership, bare, register=register_of(register, bare)).rows["title_number"].dropna()
                  .unique()) == ["AGL3", "AGL4", "AGL5"]
    extra = alias_rows(ANCHOR, ["THE MAYOR AND COMMONALTY AND CITIZENS OF THE CITY OF LONDON", "09999999"])
    assert extra["company_number"].tolist()[1] == "09999999" and pd.isna(extra["alias"].iloc[1])
    more = build_anchor(ANCHOR, extra)
    got = reconcile(ownership, more, register=register_of(register, more))
    assert sorted(got.rows["title_number"].dropna().unique()) == ["AGL1", "AGL2", "AGL3", "AGL4", "AGL5", "AGL6"]
    rule = got.rows.set_index("title_number")["anchor_rule"]
    assert rule["AGL6"] == "company number 09999999" and "added on the Land ownership page" in rule["AGL1"]


def test_who_owns_names_the_anchor_the_tier_and_the_rule(world, loaded):
    rec = _rec(world, loaded)
    placed = placements(rec)
    parcel_row = placed[placed["tier"] == "postcode with one parcel"].iloc[0]
    text = who_owns(parcel_row["parcel_id"], placed)
    assert f"{ANCHOR} holds title {parcel_row['title_number']} here (placed by postcode with one parcel; the " \
           f"proprietor is {ANCHOR} by {parcel_row['anchor_rule']}; approximate" in text


def test_who_owns_names_any_anchor_the_files_name_not_only_the_one_reconciled(world, loaded):
    from assets_map.community.ownership import anchor_placements

    ownership, _, postcodes, register = loaded
    every = anchor_placements(ownership, postcodes=postcodes, parcels=world["parcels"], register=register)
    # independently: titles with a council, corporate body or registered society among their proprietors
    cats = ownership["proprietorship_category"].isin(["Local Authority", "Corporate Body", "Registered Society (Company)"])
    assert set(every["title_number"]) == set(ownership.loc[cats, "title_number"])
    nhs = every[every["title_number"] == "AGL6"].iloc[0]
    assert nhs["anchor"] == "Barts Health NHS Trust" and nhs["tier"] == "postcode with one parcel"
    t3 = world["parcels"]["parcel_id"].iloc[world["p"]["T3"]]
    assert nhs["parcel_id"] == t3
    assert "Barts Health NHS Trust holds title AGL6 here (placed by postcode with one parcel; the proprietor is Barts " \
           "Health NHS Trust by the name on the title (NHS body); approximate" in who_owns(t3, every)


# ------------------------------------------------------------------ the Your data slot

def test_ownership_slot_recognises_the_layout_and_refuses_other_files(world):
    tmp = world["tmp"]
    ccod = Upload("CCOD_FULL_2026_11.csv", (tmp / "CCOD_FULL.csv").read_bytes())
    reg = Upload("register.csv", (tmp / "register.csv").read_bytes())
    assert slot_problem("ownership", ccod) is None
    assert ownership_verdict(ccod).startswith("CCOD_FULL_2026_11.csv: looks like HM Land Registry CCOD file (full): "
                                              "9 titles")
    said = slot_problem("ownership", reg)
    assert said.startswith("register.csv: this looks like an asset register, not HM Land Registry's ownership file")
    assert "give it in the Asset register slot" in said
    said = slot_problem("register", ccod)
    assert "HM Land Registry's ownership file" in said and "give it in the Land Registry ownership slot" in said
    bad = Upload("CCOD_bad.csv", (tmp / "CCOD_FULL.csv").read_bytes().replace(b"\r\nAGL3,", b"\r\n,", 1))
    with pytest.raises(InputError, match=r"CCOD_bad.csv: no Title Number in row 4"):
        ownership_verdict(bad)


@pytest.fixture(scope="module")
def city_files(world, shared):
    import geopandas as gpd

    tmp = world["tmp"]
    lsoa = gpd.read_file(shared("england", "lsoa21_boundaries_ew.gpkg"), engine="pyogrio")
    lsoa = lsoa[lsoa["lsoa21_name"].str.startswith("City of London")]
    return {"register": Upload("register.csv", (tmp / "register.csv").read_bytes()),
            "boundaries": Upload("city.geojson", lsoa.to_crs(4326).to_json().encode()),
            "postcodes": Upload("pcd.csv", (tmp / "pcd.csv").read_bytes()),
            "deprivation": Upload("imd.csv", shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv").read_bytes())}


def test_check_uploads_keeps_the_ownership_files_with_the_data(world, city_files):
    tmp = world["tmp"]
    files = city_files
    own = [Upload("CCOD_FULL.csv", (tmp / "CCOD_FULL.csv").read_bytes()),
           Upload("CCOD_COU.csv", (tmp / "CCOD_COU.csv").read_bytes())]
    checked = check_uploads(files, ownership=own)
    places = checked.analysis.places
    assert places["ownership"]["title_number"].nunique() == 9 and not places["ownership"].attrs["change_only"]
    assert places["ownership_changes"].attrs["change_only"]
    assert any("CCOD_FULL.csv: HM Land Registry CCOD file (full): 9 titles" in n for n in checked.notes)
    with pytest.raises(InputError, match="only change-only files were given"):
        check_uploads(files, ownership=own[1:])
    with pytest.raises(InputError, match="register.csv: this looks like an asset register, not HM Land Registry"):
        check_uploads(files, ownership=[files["register"]])


# ------------------------------------------------------------------ the Land ownership page (AppTest)

@pytest.fixture(scope="module")
def checked(world, city_files):
    tmp = world["tmp"]
    return check_uploads(city_files, ownership=[Upload("CCOD_FULL.csv", (tmp / "CCOD_FULL.csv").read_bytes()),
                                                Upload("CCOD_COU.csv", (tmp / "CCOD_COU.csv").read_bytes())],
                         parcels=[Upload("city.geojson", world["parcels_file"].read_bytes())])


@pytest.fixture
def page_store(ownership_store):
    """The app's register for the page (conftest's ``ownership_store``: a fresh SQLite file)."""
    return ownership_store


def _page(checked):
    from tests.helpers import app_page

    at = app_page("reconcile_page")
    at.session_state["analysis"] = checked.analysis
    at.session_state["analysis_label"] = checked.label
    return at.run()


def _table(at) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "Why this anchor" in d.value.columns)


def test_the_page_reports_the_anchor_and_records_decisions_that_stay(checked, page_store, local_visitor, world):
    from assets_map.store import SqliteStore

    at = _page(checked)
    assert not at.exception, at.exception
    assert at.selectbox(key="own_anchor").value == ANCHOR  # the register's organisation, first
    table = _table(at)
    # the same rows the engine gives for the same files (the page adds nothing and drops nothing)
    want = _rec(world, (read_ownership(world["tmp"] / "CCOD_FULL.csv"), build_anchor(ANCHOR),
                        checked.analysis.places["postcodes"], checked.analysis.assets)).rows
    assert len(table) == len(want) and sorted(table["Title"].replace("", None).dropna()) == \
        sorted(want["title_number"].dropna())
    cells = table.astype(str).to_numpy().ravel()
    assert not any(c in ("None", "nan", "<NA>", "NaN") for c in cells)
    assert {"What", "Placed by", "Why this anchor", "Decision"} <= set(table.columns)
    rows = want.set_index("match_key")
    key = next(k for k in rows.index if rows.loc[k, "status"] == STATUS_NOT_IN_REGISTER)
    at.selectbox(key="own_decide_row").set_value(key)
    at.radio(key="own_decide_what").set_value("rejected")
    at.text_area(key="own_decide_note").input("sold in 2019")
    at.button(key="FormSubmitter:own_decide-Record the decision").click().run()
    assert not at.exception, at.exception
    assert any(plain(s.value).startswith(f"Recorded: Title {rows.loc[key, 'title_number']}") for s in at.success)
    got = _table(at)
    decided = got[got["Decision"] != ""]
    assert decided["Decision"].tolist() == ["rejected"] and decided["Decision note"].tolist() == ["sold in 2019"]
    assert decided["Decided by"].tolist() == ["local user"]
    # kept in the register: a new session reads it back
    trail = decision_history(SqliteStore(page_store), ANCHOR, role=LOCAL_USER)
    assert trail["match_key"].tolist() == [key]
    again = _page(checked)
    assert _table(again).loc[lambda t: t["Decision"] != "", "Decision note"].tolist() == ["sold in 2019"]
    # the change-only file's possible disposals of the anchor's titles (AGL4 deleted; AGL2 is the anchor's only
    # under the alias table, so not listed here)
    trail = next(d.value for d in again.dataframe if "Who" in d.value.columns)  # the audit trail, in words
    assert trail[["Who", "Decision", "Note"]].values.tolist() == [["local user", "rejected", "sold in 2019"]]
    assert trail["Row"].iloc[0].startswith(f"Title {rows.loc[key, 'title_number']}: ") and "->" not in trail["Row"].iloc[0]
    gone = next(d.value for d in again.dataframe if "New proprietor" in d.value.columns)
    assert gone["Title"].tolist() == ["AGL4"] and gone["What"].tolist() == ["possible disposal: title deleted from the register"]


def test_a_public_visitor_reads_the_report_but_cannot_decide(checked, page_store, remote_visitor):
    at = _page(checked)
    assert not at.exception, at.exception
    assert len(_table(at)) > 0
    assert not [b for b in at.button if "Record the decision" in str(getattr(b, "label", ""))]
    assert any("can read and download the report, not decide" in plain(i.value) for i in at.info)


def test_an_anchor_with_no_register_is_flagged_as_a_portfolio_from_ccod_alone(checked, page_store, local_visitor):
    at = _page(checked)
    at.selectbox(key="own_anchor").set_value("The City University").run()
    assert not at.exception, at.exception
    assert any("portfolio from HM Land Registry's files alone" in plain(w.value) for w in at.warning)
    assert _table(at)["What"].tolist() == [STATUS_CCOD_ONLY]


def test_decisions_survive_a_backup_and_restore(store, make_store, tmp_path):
    from assets_map.store import backup

    record_decision(store, anchor=ANCHOR, match_key="AGL3 address 1 -> A3", decision="confirmed", role=LOCAL_USER,
                    note="checked", title_number="AGL3", asset_id="A3")
    copy = backup(store, tmp_path / "backup.sqlite")
    restored = make_store("restored")
    restored.load(copy)
    got = decision_history(restored, ANCHOR, role=LOCAL_USER)
    want = decision_history(store, ANCHOR, role=LOCAL_USER)
    pd.testing.assert_frame_equal(got, want)
    record_decision(restored, anchor=ANCHOR, match_key="register asset A2", decision="rejected", role=LOCAL_USER)
    assert len(decision_history(restored, ANCHOR, role=LOCAL_USER)) == 2  # the id sequence goes on after a restore


def test_names_added_on_the_page_extend_the_alias_table(checked, page_store, local_visitor):
    at = _page(checked)
    before = set(_table(at)["Title"]) - {""}
    assert before == {"AGL3", "AGL4", "AGL5"}
    legal = "THE MAYOR AND COMMONALTY AND CITIZENS OF THE CITY OF LONDON"
    assert legal in at.multiselect(key="own_add_names").options  # offered from the names in the files
    at.multiselect(key="own_add_names").set_value([legal])
    at.text_input(key="own_add_typed").input("09999999")
    at.button(key="own_add").click().run()
    assert not at.exception, at.exception
    after = _table(at)
    assert set(after["Title"]) - {""} == {"AGL1", "AGL2", "AGL3", "AGL4", "AGL5", "AGL6"}  # AGL2: another spelling
    rule = after.drop_duplicates("Title").set_index("Title")["Why this anchor"]
    assert rule["AGL6"] == "company number 09999999" and "added on the Land ownership page" in rule["AGL1"]
    aliases = next(d.value for d in at.dataframe if "Where it comes from" in d.value.columns)
    assert aliases["Name"].tolist() == [legal, ""] and aliases["Company number"].tolist() == ["", "09999999"]
    assert all(w.startswith("added on the Land ownership page by local user on ") and w.endswith("kept in the register")
               for w in aliases["Where it comes from"])
    # kept in the register: a new session (no session state carried over) finds the same titles by them
    again = _page(checked)
    assert not again.exception, again.exception
    assert set(_table(again)["Title"]) - {""} == {"AGL1", "AGL2", "AGL3", "AGL4", "AGL5", "AGL6"}


def test_your_data_has_the_ownership_slot_and_says_what_a_ccod_file_is(world):
    from tests.helpers import app_page

    at = app_page("data_page")
    ccod = Upload("CCOD_FULL_2026_11.csv", (world["tmp"] / "CCOD_FULL.csv").read_bytes())
    reg = Upload("register.csv", (world["tmp"] / "register.csv").read_bytes())
    at.session_state["staged_layers"] = {"ownership": [ccod, reg]}
    at.run()
    assert not at.exception, at.exception
    labels = [u.proto.label for u in at.get("file_uploader")]
    slot = [lab for lab in labels if lab.startswith("Land Registry ownership")]
    assert len(slot) == 1 and "GeoPackage" not in slot[0] and "CCOD or OCOD" in slot[0]
    assert any(plain(c.value).startswith("CCOD_FULL_2026_11.csv: looks like HM Land Registry CCOD file (full): 9 titles")
               for c in at.caption)
    assert [plain(e.value) for e in at.error] == [
        "register.csv: this looks like an asset register, not HM Land Registry's ownership file (CCOD/OCOD); give it "
        "in the Asset register slot"]


def _ownership_then_map_script() -> None:
    """The Land ownership page, or (another page's run, where its widgets are not drawn) what the Map is given."""
    import streamlit as st

    from assets_map.ui import reconcile_page

    if st.session_state.get("which") == "map":
        placed = reconcile_page.placed_titles()
        st.write("anchor: " + str(reconcile_page.chosen_anchor()))
        st.write("titles: " + ",".join(sorted(set(placed["title_number"]))))
    else:
        reconcile_page.render()


def test_the_anchor_and_alias_table_chosen_stay_when_another_page_runs(checked, page_store, local_visitor, world):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_ownership_then_map_script, default_timeout=120)
    at.session_state["analysis"] = checked.analysis
    at.session_state["analysis_label"] = checked.label
    at.run()
    at.selectbox(key="own_anchor").set_value("Barts Health NHS Trust").run()
    assert not at.exception, at.exception
    at.session_state["which"] = "map"
    at.run()  # the page's widgets are not drawn in this run, and their values are dropped
    at.run()
    shown = [m.value for m in at.markdown]
    assert "anchor: Barts Health NHS Trust" in shown and "titles: AGL6" in shown, shown
    at.session_state["which"] = "ownership"
    at.run()
    assert at.selectbox(key="own_anchor").value == "Barts Health NHS Trust"


def test_names_from_the_files_are_escaped_once_on_the_map(world, loaded):
    import json

    from assets_map.ui.reconcile_page import title_layer, title_legend

    rec = _rec(world, loaded)
    placed = placements(rec).assign(anchor="<img src=x onerror=alert(1)> & Co")
    layer = title_layer(placed)
    geo = next(iter(layer._children.values()))
    props = [f["properties"] for f in geo.data["features"]]
    assert props and all(p["words"].startswith("&lt;img src=x onerror=alert(1)&gt; &amp; Co: title ") for p in props)
    assert "<img" not in json.dumps(geo.data)
    assert {p["tier"] for p in props} <= {"address matched to a register asset", "postcode with one parcel",
                                          "postcode only"}
    legend = title_legend(placed)
    assert "\\<img" in legend and plain(legend).startswith("**Titles of <img src=x onerror=alert(1)> & Co**")


def test_an_editor_tells_the_followers_of_a_site_a_disposal_names(checked, page_store, local_visitor):
    """The page tells a site's followers of a possible disposal, as `assets-map notify-disposals` does."""
    from assets_map.store import LOCAL_USER, SqliteStore, notify
    from assets_map.store import follow as fl

    store = SqliteStore(page_store)
    store.import_analysis(checked.analysis, organisation=ANCHOR, role=LOCAL_USER, source_name="register.csv",
                          file_sha256="0" * 64)
    fl.follow(store, "A1", role=LOCAL_USER)  # AGL4, deleted in the change-only file, is at A1's address
    at = _page(checked)
    assert not at.exception, at.exception
    at.button(key="own_tell_disposals").click().run()
    assert not at.exception, at.exception
    said = [plain(s.value) for s in at.success]
    assert any("1 of 1 possible disposals matched" in s and "1 followers told" in s for s in said), said
    (item,) = notify.inbox(store, role=LOCAL_USER)
    assert "AGL4" in item["body"]
    at.button(key="own_tell_disposals").click().run()  # the same change again: told once
    assert len(notify.inbox(store, role=LOCAL_USER)) == 1


def test_a_public_visitor_is_not_offered_to_tell_followers(checked, page_store, remote_visitor):
    at = _page(checked)
    assert not [b for b in at.button if getattr(b, "key", None) == "own_tell_disposals"]
