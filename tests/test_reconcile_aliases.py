"""Issue 17: the aliases an estates team adds to an anchor's alias table are kept in the register store (who, when,
the alias or company number, a note; added or withdrawn by the anchor's editors and administrators, not viewers;
append-only; in backup and restore), used by the Land ownership page in every later session merged with an
uploaded table (each alias saying where it came from), and by ``assets-map reconcile --store`` alike: the command
and the page find the same titles for the same anchor, store and files.
"""
from __future__ import annotations

import pandas as pd
import pytest

from assets_map.cli import main
from assets_map.community.ownership import build_anchor, merge_aliases, read_aliases, reconcile
from assets_map.io.importer import Upload
from assets_map.io.landregistry import read_ownership
from assets_map.io.report import InputError
from assets_map.store import LOCAL_USER, NotAllowed, Role
from assets_map.store.decisions import add_alias, alias_history, stored_aliases, withdraw_alias
from tests.helpers import LEGAL, data_page, plain
from tests.helpers import RECONCILE_ANCHOR as ANCHOR

EDITOR = Role("editor", "estates@cityoflondon.example", "The City of London Corporation")  # the anchor, respelt


def test_aliases_are_kept_with_their_history_and_changed_only_by_those_who_may(store):
    for role in (Role("viewer", "someone@example.org"), Role("editor", "e@elsewhere.org", "Elsewhere Council")):
        with pytest.raises(NotAllowed, match="may not add to the alias table"):
            add_alias(store, anchor=ANCHOR, name=LEGAL, role=role)
    add_alias(store, anchor=ANCHOR, name=LEGAL, role=EDITOR, note="the council's legal name")
    add_alias(store, anchor="city of london corporation", name="0999 9999", role=LOCAL_USER)  # a company number
    with pytest.raises(InputError, match="already in the alias table"):
        add_alias(store, anchor=ANCHOR, name=LEGAL.upper() + ".", role=LOCAL_USER)  # the same name, respelt
    with pytest.raises(InputError, match="give the name or company number"):
        add_alias(store, anchor=ANCHOR, name="  ", role=LOCAL_USER)
    kept = stored_aliases(store, ANCHOR)
    assert kept["alias"].fillna("").tolist() == [LEGAL, ""]
    assert kept["company_number"].fillna("").tolist() == ["", "0999 9999"]
    assert kept["added_by"].tolist() == [EDITOR.user, LOCAL_USER.user] and kept["note"].iloc[0] == "the council's legal name"
    assert kept["source"].iloc[0].startswith(f"added on the Land ownership page by {EDITOR.user} on ")
    # the aliases are the anchor's: another anchor has none, and anyone may read them (the report uses them)
    assert stored_aliases(store, "Barts Health NHS Trust").empty
    # used by the anchor: the company number padded as CCOD gives it
    anchor = build_anchor(ANCHOR, merge_aliases([kept]))
    assert "09999999" in anchor.company_numbers and any("kept in the register" in r for r in anchor.aliases.values())
    # withdrawn by the anchor's editor (not a viewer): no longer used, the history keeps both rows
    number_key = kept.loc[kept["alias"].isna(), "alias_key"].iloc[0]
    with pytest.raises(NotAllowed, match="may not withdraw"):
        withdraw_alias(store, anchor=ANCHOR, key=number_key, role=Role("viewer", "someone@example.org"))
    withdraw_alias(store, anchor=ANCHOR, key=number_key, role=EDITOR, note="that company is the hospital's")
    with pytest.raises(InputError, match="not in the alias table"):
        withdraw_alias(store, anchor=ANCHOR, key=number_key, role=EDITOR)
    assert stored_aliases(store, ANCHOR)["alias"].tolist() == [LEGAL]
    log = alias_history(store, ANCHOR)
    assert log["action"].tolist() == ["withdrawn", "added", "added"]
    assert log["by_user"].tolist() == [EDITOR.user, LOCAL_USER.user, EDITOR.user]
    # added again after a withdrawal: in force again
    add_alias(store, anchor=ANCHOR, name="09999999", role=LOCAL_USER)
    assert stored_aliases(store, ANCHOR)["company_number"].fillna("").tolist() == ["", "09999999"]
    # append-only, as the reconciliation decisions are
    with pytest.raises(Exception, match="append-only"), store._write() as tx:
        tx.x("UPDATE anchor_aliases SET alias = 'x'")


def test_aliases_survive_a_backup_and_restore(store, make_store, tmp_path):
    from assets_map.store import backup

    add_alias(store, anchor=ANCHOR, name=LEGAL, role=LOCAL_USER, note="legal name")
    add_alias(store, anchor=ANCHOR, name="09999999", role=LOCAL_USER)
    withdraw_alias(store, anchor=ANCHOR, key="company 09999999", role=LOCAL_USER)
    restored = make_store("restored")
    restored.load(backup(store, tmp_path / "backup.sqlite"))
    pd.testing.assert_frame_equal(alias_history(restored, ANCHOR), alias_history(store, ANCHOR))
    assert stored_aliases(restored, ANCHOR)["alias"].tolist() == [LEGAL]
    add_alias(restored, anchor=ANCHOR, name="SC123456", role=LOCAL_USER)  # the id sequence goes on after a restore
    assert len(alias_history(restored, ANCHOR)) == 4


def _cli_titles(reconcile_files, tmp_path, *extra) -> tuple[set[str], pd.DataFrame]:
    tmp = reconcile_files["tmp"]
    out = tmp_path / "r.xlsx"
    assert main(["reconcile", "--ownership", str(tmp / "CCOD_FULL.csv"), "--anchor", ANCHOR, "--register",
                 str(tmp / "register.csv"), "--postcodes", str(tmp / "pcd.csv"), "--parcels",
                 str(reconcile_files["parcels_file"]), "--out", str(out), *extra]) == 0
    sheet = pd.read_excel(out, sheet_name="reconciliation", dtype=str)
    return set(sheet["title_number"].dropna()), sheet


def _page(checked):
    return data_page("reconcile_page", checked)


def _titles(at) -> set[str]:
    table = next(d.value for d in at.dataframe if "Why this anchor" in d.value.columns)
    return set(table["Title"]) - {""}


def test_reconcile_command_and_page_use_the_aliases_kept_in_the_register_alike(
        reconcile_files, reconcile_checked, ownership_store, local_visitor, tmp_path, capsys):
    bare, _ = _cli_titles(reconcile_files, tmp_path)
    assert bare == {"AGL3", "AGL4", "AGL5"}  # the anchor's own name only
    # an alias added on the page is kept in the register; a company number typed too
    at = _page(reconcile_checked)
    assert _titles(at) == bare
    at.multiselect(key="own_add_names").set_value([LEGAL.upper()])
    at.text_input(key="own_add_typed").input("09999999")
    at.text_input(key="own_add_note").input("legal name and its company")
    at.button(key="own_add").click().run()
    assert not at.exception, at.exception
    assert any("kept in the register" in plain(s.value) for s in at.success)
    on_page = _titles(at)
    assert on_page == {"AGL1", "AGL2", "AGL3", "AGL4", "AGL5", "AGL6"}
    # the command reading the same register finds the same titles; each rule says the alias came from the register
    capsys.readouterr()
    by_cli, sheet = _cli_titles(reconcile_files, tmp_path, "--store", str(ownership_store))
    assert by_cli == on_page
    assert "aliases kept in the register for City of London Corporation: 2 used" in capsys.readouterr().out
    rule = sheet.drop_duplicates("title_number").set_index("title_number")["anchor_rule"]
    assert "kept in the register" in rule["AGL1"] and rule["AGL6"] == "company number 09999999"
    # and the engine, given the kept aliases as the page and the command are, agrees (an independent path)
    from assets_map.store import SqliteStore

    kept = stored_aliases(SqliteStore(ownership_store), ANCHOR)
    direct = reconcile(read_ownership(reconcile_files["tmp"] / "CCOD_FULL.csv"), build_anchor(ANCHOR, merge_aliases([kept])))
    assert set(direct.rows["title_number"].dropna()) == on_page


def test_kept_aliases_merge_with_an_uploaded_table_each_saying_where_it_came_from(
        reconcile_files, reconcile_checked, ownership_store, local_visitor):
    from assets_map.store import SqliteStore

    add_alias(SqliteStore(ownership_store), anchor=ANCHOR, name="09999999", role=LOCAL_USER, note="its company")
    at = _page(reconcile_checked)  # a new session: nothing added in it
    assert _titles(at) == {"AGL3", "AGL4", "AGL5", "AGL6"}
    from assets_map.ui import reconcile_page

    at.session_state[reconcile_page._KEPT_ALIASES] = Upload("aliases.csv", (reconcile_files["tmp"] / "aliases.csv").read_bytes())
    at.run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "Where it comes from" in d.value.columns)
    where = dict(zip(table["Name"] + table["Company number"], table["Where it comes from"], strict=True))
    assert where[LEGAL] == "alias table aliases.csv, row 2"
    assert where["09999999"].startswith("added on the Land ownership page by local user on ")
    # an editor sees why each was added: the note kept with it (an uploaded alias has none)
    notes = dict(zip(table["Name"] + table["Company number"], table["Note"], strict=True))
    assert notes == {LEGAL: "", "9999999": "", "09999999": "its company"}
    assert _titles(at) == {"AGL1", "AGL2", "AGL3", "AGL4", "AGL5", "AGL6"}
    # withdrawn on the page: the next session no longer uses it
    at.selectbox(key="own_withdraw_which").set_value("company 09999999")
    at.text_input(key="own_withdraw_note").input("the hospital's company, not ours")
    at.button(key="own_withdraw").click().run()
    assert not at.exception, at.exception
    assert _titles(_page(reconcile_checked)) == {"AGL3", "AGL4", "AGL5"}
    assert alias_history(SqliteStore(ownership_store), ANCHOR)["note"].tolist()[0] == "the hospital's company, not ours"
    # the page shows the audit trail, newest first: the withdrawal, then the addition, each with who and why
    trail = next(d.value for d in at.dataframe if "Who" in d.value.columns)
    assert trail["What"].tolist() == ["withdrawn", "added"]
    assert trail["Note"].tolist() == ["the hospital's company, not ours", "its company"]
    assert trail["Company number"].tolist() == ["09999999", "09999999"] and set(trail["Who"]) == {"local user"}
    assert all(len(w) == 16 for w in trail["When"])


def test_a_public_visitor_uses_the_kept_aliases_but_cannot_change_them(
        reconcile_files, reconcile_checked, ownership_store, remote_visitor):
    from assets_map.store import SqliteStore

    add_alias(SqliteStore(ownership_store), anchor=ANCHOR, name=LEGAL, role=LOCAL_USER)
    at = _page(reconcile_checked)
    assert not at.exception, at.exception
    assert {"AGL1", "AGL2"} <= _titles(at)
    assert not [b for b in at.button if "Add to the alias table" in str(getattr(b, "label", ""))]
    assert any("the report uses it, you cannot change it" in plain(i.value) for i in at.info)
    # the public sees which names are used, not the notes nor who added or withdrew what
    table = next(d.value for d in at.dataframe if "Where it comes from" in d.value.columns)
    assert "Note" not in table.columns
    assert not [d for d in at.dataframe if "Who" in d.value.columns]


def test_read_aliases_rows_keep_their_file_and_row_when_merged(reconcile_files, tmp_path):
    second = tmp_path / "more.csv"
    pd.DataFrame({"anchor": [ANCHOR], "alias": ["Chamberlain of London"]}).to_csv(second, index=False)
    merged = merge_aliases([read_aliases(reconcile_files["tmp"] / "aliases.csv"), read_aliases(second)])
    assert merged["source"].tolist() == ["alias table aliases.csv, row 2", "alias table aliases.csv, row 3",
                                         "alias table more.csv, row 2"]
