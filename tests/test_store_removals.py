"""A register import never removes many assets unseen: more than 5 assets and 2% of an
organisation's register need confirmation (``allow_removals``, ``--allow-removals N``, the
Register page's confirm step), checked inside the import's transaction on both backends.
"""
from __future__ import annotations

import copy

import geopandas as gpd
import pytest

from assets_map.cli import main
from assets_map.store import LOCAL_USER, RemovalsNotConfirmed, SqliteStore, removals_allowed
from tests.helpers import HASH, ORG, OTHER, import_demo, plain, register_page_script, snapshot


def _without_last(demo_analysis, n: int, *, org_prefix: str = ""):
    result, exclude = demo_analysis
    out = copy.copy(result)
    a = result.assets.copy()
    if org_prefix:
        a["asset_id"] = org_prefix + a["asset_id"].astype(str)
    out.assets = a.iloc[: len(a) - n].reset_index(drop=True)
    return out, exclude, sorted(a["asset_id"].iloc[len(a) - n:])


def _import(store, result, exclude, org=ORG, **kw):
    return store.import_analysis(result, organisation=org, role=LOCAL_USER, source_name="register.csv",
                                 file_sha256=HASH, exclude=exclude, **kw)


def test_the_rule_more_than_five_assets_and_two_percent_need_confirmation():
    assert [removals_allowed(n) for n in (0, 10, 300, 608, 10_000)] == [5, 5, 6, 12, 200]


def test_a_large_removal_is_refused_naming_the_assets_and_nothing_is_written(store, demo_analysis):
    import_demo(store, demo_analysis)
    before = snapshot(store)
    result, exclude, gone = _without_last(demo_analysis, 20)
    with pytest.raises(RemovalsNotConfirmed) as err:
        _import(store, result, exclude)
    assert [a for a, _ in err.value.removed] == gone
    names = dict(zip(demo_analysis[0].assets["asset_id"], demo_analysis[0].assets["name"], strict=True))
    assert all(name == names[a] for a, name in err.value.removed)
    msg = str(err.value)
    assert "\n" not in msg and "20 of Ashbridge (fictional)'s 300 assets" in msg and gone[0] in msg
    assert "--allow-removals 20" in msg and "Nothing was imported" in msg
    assert snapshot(store) == before  # no batch, no history, no asset touched
    # fewer confirmed than would go: still refused
    with pytest.raises(RemovalsNotConfirmed, match="you confirmed 19"):
        _import(store, result, exclude, allow_removals=19)
    assert snapshot(store) == before
    out = _import(store, result, exclude, allow_removals=20)
    assert out.removed == 20
    everything = store.assets(LOCAL_USER, include_removed=True).set_index("asset_id")
    assert everything.loc[gone, "removed"].all() and int(everything["removed"].sum()) == 20
    # already removed assets are not removed again, so the same file goes through unconfirmed
    assert _import(store, result, exclude).removed == 0


def test_a_confirmed_zero_refuses_any_removal_and_a_few_go_through_unconfirmed(store, demo_analysis):
    import_demo(store, demo_analysis)
    result, exclude, _ = _without_last(demo_analysis, 1)
    with pytest.raises(RemovalsNotConfirmed, match="mark 1 of"):
        _import(store, result, exclude, allow_removals=0)
    assert _import(store, result, exclude).removed == 1
    few = removals_allowed(len(demo_analysis[0].assets) - 1)  # 5 of the 299 left
    result, exclude, gone = _without_last(demo_analysis, 1 + few)
    assert _import(store, result, exclude).removed == few
    everything = store.assets(LOCAL_USER, include_removed=True).set_index("asset_id")
    assert everything.loc[gone, "removed"].all()


def test_the_share_is_of_the_importing_organisations_assets_only(store, demo_analysis):
    import_demo(store, demo_analysis)
    other, exclude, _ = _without_last(demo_analysis, 0, org_prefix="O-")
    _import(store, other, exclude, org=OTHER)
    result, exclude, gone = _without_last(demo_analysis, 7)  # 7 of ORG's 300 (the other's 300 do not count)
    with pytest.raises(RemovalsNotConfirmed) as err:
        _import(store, result, exclude)
    assert [a for a, _ in err.value.removed] == gone and err.value.in_register == 300


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    from assets_map.engine.demo import build_demo

    d = tmp_path_factory.mktemp("files")
    gpkg = build_demo(d / "demo.gpkg")
    assets = gpd.read_file(gpkg, layer="assets")
    (d / "full").mkdir()
    (d / "cut").mkdir()
    assets.to_file(d / "full" / "assets.gpkg", driver="GPKG")
    assets.iloc[:-20].to_file(d / "cut" / "assets.gpkg", driver="GPKG")  # an export that lost 20 rows
    gpd.read_file(gpkg, layer="need_areas").to_file(d / "areas.gpkg", driver="GPKG")
    return d, sorted(assets["asset_id"].iloc[-20:])


def test_cli_refuses_a_large_removal_with_one_line_until_allowed(demo_files, tmp_path, capsys):
    d, gone = demo_files
    reg = tmp_path / "reg.sqlite"
    args = ["store", "--store", str(reg), "import", "--boundaries", str(d / "areas.gpkg"),
            "--organisation", "Ashbridge (fictional)"]
    assert main(args + ["--assets", str(d / "full" / "assets.gpkg")]) == 0
    capsys.readouterr()
    assert main(args + ["--assets", str(d / "cut" / "assets.gpkg")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "would mark 20 of Ashbridge (fictional)'s 300 assets" in err
    assert ", ".join(gone[:8]) in err and "--allow-removals 20" in err
    assert SqliteStore(reg).assets(LOCAL_USER, include_removed=True)["removed"].sum() == 0
    assert main(args + ["--assets", str(d / "cut" / "assets.gpkg"), "--allow-removals", "19"]) == 2
    capsys.readouterr()
    assert main(args + ["--assets", str(d / "cut" / "assets.gpkg"), "--allow-removals", "20"]) == 0
    assert "20 no longer in the register" in capsys.readouterr().out
    assert main(args + ["--assets", str(d / "cut" / "assets.gpkg"), "--allow-removals", "-1"]) == 2
    assert "--allow-removals must be 0 or more" in capsys.readouterr().err


# ---------------------------------------------------------------- the Register page

def test_register_page_shows_the_assets_an_import_would_remove_and_asks_first(register, local_visitor,
                                                                                demo_result):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(register_page_script, default_timeout=60).run()
    at.text_input(key="register_org").input("Ashbridge (fictional)").run()
    next(b for b in at.button if b.label == "Import into the register").click().run()
    assert any("300 added" in s.value for s in at.success)
    cut = copy.copy(demo_result)
    cut.assets = demo_result.assets.iloc[:-20].reset_index(drop=True)
    gone = sorted(demo_result.assets["asset_id"].iloc[-20:])
    at.session_state["analysis"] = cut
    at.session_state["analysis_label"] = "register (export that lost rows)"
    at.session_state["data_version"] = "cut-1"
    at.run()
    store = SqliteStore(register)
    before = snapshot(store)
    next(b for b in at.button if b.label == "Import into the register").click().run()
    assert not at.exception
    assert any("would mark 20 of Ashbridge (fictional)'s 300 assets" in plain(w.value) for w in at.warning)
    shown = next(df.value for df in at.dataframe if "Asset id" in df.value.columns and len(df.value) == 20)
    assert sorted(shown["Asset id"]) == gone
    assert snapshot(store) == before  # nothing written while the user decides
    # Cancel: nothing imported, the question goes away
    at.button(key="cancel_removals").click().run()
    assert any("Nothing was imported" in plain(i.value) for i in at.info)
    assert not [b for b in at.button if b.key == "confirm_removals"]
    assert snapshot(store) == before
    # Ask again, confirm: the 20 are marked removed
    next(b for b in at.button if b.label == "Import into the register").click().run()
    at.button(key="confirm_removals").click().run()
    assert not at.exception
    assert any("20 no longer in the register" in plain(s.value) for s in at.success)
    assert sorted(store.assets(LOCAL_USER, include_removed=True).query("removed")["asset_id"]) == gone


def test_register_page_forgets_a_confirmation_when_the_data_changes(register, local_visitor, demo_result):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(register_page_script, default_timeout=60).run()
    at.text_input(key="register_org").input("Ashbridge (fictional)").run()
    next(b for b in at.button if b.label == "Import into the register").click().run()
    cut = copy.copy(demo_result)
    cut.assets = demo_result.assets.iloc[:-20].reset_index(drop=True)
    at.session_state["analysis"] = cut
    at.session_state["data_version"] = "cut-1"
    at.run()
    next(b for b in at.button if b.label == "Import into the register").click().run()
    assert [b for b in at.button if b.key == "confirm_removals"]
    at.session_state["data_version"] = "other-data"  # another file loaded meanwhile
    at.run()
    assert not [b for b in at.button if b.key == "confirm_removals"]
