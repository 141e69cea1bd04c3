"""Filter state is one thing: clearing clears every widget, new data keeps only the filters that apply,
and a site the filters hide is no longer selected (AppTest on the fictional demo)."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.helpers import app_page, count_text, plain


def _map_with_new_data_button():
    """The app's frame and Map page, and a button that puts other data in use (as "Use this data" does)."""
    import streamlit as st

    from assets_map.engine.demo import load_demo
    from assets_map.ui import map_page, shared, state

    def other_data():
        r = load_demo()
        a = r.assets.copy()
        # Another owner's register: the demo's organisations are gone, the priorities are the same.
        a["organisation"] = "Another Council"
        state.use_data(r.replace(assets=a), "another register")

    shared.frame()
    st.button("Use other data", key="t_other", on_click=other_data)
    map_page.render()


def _app() -> AppTest:
    return AppTest.from_function(_map_with_new_data_button, default_timeout=120)


def test_clear_filters_clears_every_widget_and_the_next_run_does_not_filter_again(demo_result):
    n = len(demo_result.assets)
    at = _app().run()
    org = demo_result.assets["organisation"].iloc[0]
    at.sidebar.multiselect(key="f_priority").select("High").run()
    at.sidebar.multiselect(key="f_org").select(org).run()
    at.sidebar.slider(key="f_decile").set_range(1, 3).run()
    at.sidebar.text_input(key="f_text").input("depot").run()
    assert count_text(at) != f"{n} of {n} sites shown"
    at.sidebar.button(key="f_clear").click().run()
    assert not at.exception, at.exception
    assert count_text(at) == f"{n} of {n} sites shown"
    # The widgets themselves are empty again (not only the count) ...
    assert at.sidebar.multiselect(key="f_priority").value == []
    assert at.sidebar.multiselect(key="f_org").value == []
    assert tuple(at.sidebar.slider(key="f_decile").value) == (1, 10)
    assert at.sidebar.text_input(key="f_text").value == ""
    # ... so the next run (another page, another click) does not filter again.
    at.run()
    assert count_text(at) == f"{n} of {n} sites shown"
    assert not [w for w in at.warning if "Session State" in w.value]


def test_new_data_keeps_the_filters_that_apply_and_says_which_were_cleared(demo_result):
    a = demo_result.assets
    at = _app().run()
    at.sidebar.multiselect(key="f_priority").select("High").run()
    at.sidebar.multiselect(key="f_org").select(a["organisation"].iloc[0]).run()
    at.button(key="t_other").click().run()
    assert not at.exception, at.exception
    # The organisation is not in the new data: cleared, and said so. The priority still applies: kept.
    assert at.sidebar.multiselect(key="f_org").value == []
    assert at.sidebar.multiselect(key="f_priority").value == ["High"]
    notes = [plain(i.value) for i in at.sidebar.info]
    assert any("do not apply to the new data were cleared: Organisation" in n for n in notes), notes
    high = int((a["priority"] == "High").sum())
    assert count_text(at) == f"{high} of {len(a)} sites shown"
    at.run()  # the note is said once
    assert not any("were cleared" in i.value for i in at.sidebar.info)
    assert count_text(at) == f"{high} of {len(a)} sites shown"


def test_a_selected_site_the_filters_hide_is_deselected(demo_result):
    a = demo_result.assets
    low = a[a["priority"] == "Low"].iloc[0]["asset_id"]
    at = _app().run()
    at.selectbox(key="choose").select(low).run()
    assert at.session_state["selected_asset"] == low
    assert any("Why this site is here" in m.value for m in at.markdown)
    at.sidebar.multiselect(key="f_priority").select("High").run()
    assert not at.exception, at.exception
    assert at.session_state["selected_asset"] is None
    assert not any("Why this site is here" in m.value for m in at.markdown)
    assert at.selectbox(key="choose").value is None
    # Clearing the filters does not bring the old selection back.
    at.sidebar.button(key="f_clear").click().run()
    assert at.session_state["selected_asset"] is None


def test_the_filter_choices_are_worked_out_once_per_data(demo_result, monkeypatch):
    # Every rerun of every page draws the sidebar: its choices are kept per data, not worked out again
    # (0.4 s a rerun at 100,000 sites), and new data gets its own.
    from assets_map.engine import filters
    from assets_map.ui import shared, state

    calls = []
    for module in (state, shared):  # wherever the page may work them out
        monkeypatch.setattr(module, "options", lambda a: calls.append(len(a)) or filters.options(a), raising=False)
    at = _app().run()
    at.button(key="t_other").click().run()
    assert at.sidebar.multiselect(key="f_org").options == ["Another Council"]
    calls.clear()
    at.sidebar.text_input(key="f_text").input("depot").run()
    at.sidebar.multiselect(key="f_priority").select("High").run()
    at.run()
    assert not at.exception, at.exception
    assert calls == []
    assert at.sidebar.multiselect(key="f_org").options == ["Another Council"]


def test_a_new_visitor_gets_the_demo_map_already_worked_out_and_own_data_is_not_shared(monkeypatch):
    # The fictional demo is public and the same for everyone: its map is worked out once for every session
    # (a new visitor's first map waits for less). A session's own data is worked out for that session.
    from assets_map.ui import map_page

    calls = []
    for name in ("map_data", "site_data", "site_display"):
        real = getattr(map_page, name)
        monkeypatch.setattr(map_page, name, lambda *a, _real=real, _name=name, **k: calls.append(_name)
                            or _real(*a, **k))
    _app().run()  # an earlier visitor
    calls.clear()
    at = _app().run()  # a new session
    assert not at.exception, at.exception
    assert calls == []
    at.sidebar.text_input(key="f_text").input("depot").run()
    at.sidebar.text_input(key="f_text").input("").run()
    assert calls.count("site_data") <= 1  # each filter of the demo once, for everyone
    at.button(key="t_other").click().run()
    assert not at.exception, at.exception
    assert {"map_data", "site_data", "site_display"} <= set(calls)


def test_the_sites_table_is_built_once_per_filter_not_on_every_rerun(demo_result, monkeypatch):
    # A rerun that changes neither the data nor the filters (a site chosen, a click) reuses the table's
    # frame; a filter change builds the new one, listing what the filters show.
    from assets_map.ui import map_page

    calls = []
    real = map_page.table_frame
    monkeypatch.setattr(map_page, "table_frame", lambda v: calls.append(len(v)) or real(v))
    at = _app().run()
    n = len(demo_result.assets)
    assert calls == [n]
    some = demo_result.assets["asset_id"].iloc[5]
    at.selectbox(key="choose").set_value(some).run()
    at.run()
    assert not at.exception, at.exception
    assert calls == [n]
    at.sidebar.multiselect(key="f_priority").select("High").run()
    high = int((demo_result.assets["priority"] == "High").sum())
    assert calls == [n, high]
    assert len(at.dataframe[0].value) == high


def test_the_shipped_app_does_not_watch_its_source_files():
    """With a file watcher, every script run of every session ends with a pass over all imported modules on
    the server's event loop (``update_watched_modules``), and the messages and HTTP answers queued behind it
    wait: 0.3-0.9 s on a new visitor's first map on a loaded machine (bench/README.md). A served app does not
    rerun itself when its files change, so the shipped config turns the watcher off."""
    from pathlib import Path

    import tomllib

    config = tomllib.loads((Path(__file__).parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"


def test_a_national_filter_change_sends_the_map_before_copying_the_rows_and_keeps_recent_maps(demo_result,
                                                                                               monkeypatch):
    # At national scale a filter change draws the map from the filters' mask alone: the filtered rows (a copy
    # of every column, 10-40 ms at 100,000 sites) are taken after the map is sent, once per filter. Going back
    # to a filter seen just before (a search cleared) reuses its map instead of clustering every site again.
    import geopandas as gpd
    import pandas as pd

    from assets_map.ui import map_page, state

    a = demo_result.assets
    big = gpd.GeoDataFrame(pd.concat([a] * 21, ignore_index=True), geometry="geometry", crs=a.crs)
    big["asset_id"] = [f"X{i}" for i in range(len(big))]
    order, built = [], []
    real_filtered, real_folium, real_data = state.filtered, map_page.st_folium, map_page.national_map_data
    monkeypatch.setattr(state, "filtered", lambda: order.append("rows") or real_filtered())
    monkeypatch.setattr(map_page, "st_folium", lambda *x, **k: order.append("map") or real_folium(*x, **k))
    monkeypatch.setattr(map_page, "national_map_data", lambda *x, **k: built.append(1) or real_data(*x, **k))
    at = app_page("map_page")
    at.session_state["analysis"] = demo_result.replace(assets=big)
    at.run()
    assert any("Large data" in i.value for i in at.info)
    for deciles in ((2, 10), (1, 10), (2, 10), (1, 10)):
        order.clear()
        at.sidebar.slider(key="f_decile").set_range(*deciles).run()
        assert not at.exception, at.exception
        assert any("Large data" in i.value for i in at.info)  # still more than 5,000 sites: the national map
        assert order[0] == "map" and "rows" in order, order
    assert len(built) == 2  # every site, then deciles 2-10; both seen again without being built again


def test_a_long_area_list_is_searched_not_sent_whole_and_any_area_can_be_chosen(demo_result):
    # Every rerun of every page draws the area box: with the 32,065 LSOAs of a national register Streamlit
    # built, formatted and hashed every option each time (20-35 ms, ~1 MB on a first page). Beyond 2,000
    # areas the box lists what a search above it finds (and what is chosen); every area can still be chosen.
    import geopandas as gpd
    import pandas as pd

    a = demo_result.assets
    big = gpd.GeoDataFrame(pd.concat([a] * 10, ignore_index=True), geometry="geometry", crs=a.crs)
    big["asset_id"] = [f"X{i}" for i in range(len(big))]
    big["need_area_code"] = [f"E01{i:06d}" for i in range(len(big))]  # one area per site: 3,000 areas
    big["need_area_name"] = [f"Somewhere {i:04d}A" for i in range(len(big))]
    at = app_page("map_page")
    at.session_state["analysis"] = demo_result.replace(assets=big)
    at.run()
    assert not at.exception, at.exception
    box = at.sidebar.multiselect(key="f_area")
    assert box.options == []
    at.sidebar.text_input(key="f_area_q").input("Somewhere 12").run()
    listed = at.sidebar.multiselect(key="f_area").options
    assert len(listed) == 100 and "Somewhere 1234A (E01001234)" in listed  # 1200 to 1299
    at.sidebar.multiselect(key="f_area").select("E01001234").run()
    assert count_text(at) == f"1 of {len(big):,} sites shown"
    # Another search keeps the area chosen (listed first) and adds what it finds.
    at.sidebar.text_input(key="f_area_q").input("E01002999").run()
    assert at.sidebar.multiselect(key="f_area").value == ["E01001234"]
    at.sidebar.multiselect(key="f_area").select("E01002999").run()
    assert count_text(at) == f"2 of {len(big):,} sites shown"
    at.sidebar.text_input(key="f_area_q").input("somewhere").run()  # 3,000 match: 200 listed, and it says so
    assert len(at.sidebar.multiselect(key="f_area").options) == 202
    assert any("3,000 areas match" in c.value for c in at.sidebar.caption)
    at.sidebar.button(key="f_clear").click().run()
    assert not at.exception, at.exception
    assert count_text(at) == f"{len(big):,} of {len(big):,} sites shown"
    assert at.sidebar.text_input(key="f_area_q").value == "" and at.sidebar.multiselect(key="f_area").options == []
