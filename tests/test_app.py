"""AppTest: every page runs on the demo, filters change the counts, selection shows a card,
bad uploads leave the data in use unchanged, downloads are offered.

AppTest cannot drive the Leaflet map (an iframe component) or a file uploader, so the
selection is driven through the "Choose a site" box, which sets the same session state
as a map click, and uploads are staged in session state exactly as the uploader's
callback stages them. The map itself is tested in tests/test_browser.py.
"""
from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from assets_map.engine.filters import Filters, prepare
from assets_map.io.uploads import Upload
from tests.helpers import (
    all_text,
    app_page,
    count_text,
    demo_boundaries_geojson,
    plain,
    register_csv,
    stage_and_check,
)

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["map_page", "shortlist_page", "summary_page", "download_page", "data_page", "about_page", "reconcile_page"]
HTML_NAME = "<img src=x onerror=alert(1)> depot (fictional test of escaping)"


@pytest.fixture(scope="module")
def demo(demo_result):
    return demo_result


def test_app_entry_runs_on_the_demo_and_says_it_is_fictional():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert any("Fictional demo town" in w.value for w in at.warning)
    assert count_text(at) == "300 of 300 sites shown"


@pytest.mark.parametrize("name", PAGES)
def test_each_page_runs_on_the_demo(name):
    at = app_page(name).run()
    assert not at.exception, at.exception
    assert any("Fictional demo town" in w.value for w in at.warning), "the demo is not labelled fictional"
    assert at.title, "page has no title"


def test_filters_change_the_counts_as_the_engine_says(demo):
    idx = prepare(demo.assets)
    at = app_page("map_page").run()
    assert count_text(at) == f"{len(demo.assets)} of {len(demo.assets)} sites shown"
    at.sidebar.multiselect(key="f_priority").select("High").run()
    want = idx.mask(Filters(priorities=("High",))).shown
    assert 0 < want < len(demo.assets)
    assert count_text(at) == f"{want} of {len(demo.assets)} sites shown"
    at.sidebar.text_input(key="f_text").input("depot").run()
    want2 = idx.mask(Filters(priorities=("High",), text="depot")).shown
    assert count_text(at) == f"{want2} of {len(demo.assets)} sites shown"
    assert want2 < want
    # Filters are shared: the summary page counts the same sites.
    at.sidebar.text_input(key="f_text").input("").run()
    at.sidebar.slider(key="f_decile").set_range(1, 3).run()
    want3 = idx.mask(Filters(priorities=("High",), deciles=(1, 3))).shown
    assert count_text(at) == f"{want3} of {len(demo.assets)} sites shown"
    # The table lists exactly the filtered sites.
    table = at.dataframe[0].value
    assert len(table) == want3
    assert set(table["Priority"]) == {"High"}


def test_choosing_a_site_shows_its_card_with_reasons_and_routes(demo):
    flagged = demo.assets[demo.assets["priority"] == "High"].iloc[0]
    at = app_page("map_page").run()
    before = at.dataframe[0].value
    at.selectbox(key="choose").select(flagged["asset_id"]).run()
    assert not at.exception
    assert at.session_state["selected_asset"] == flagged["asset_id"]
    text = all_text(at)
    assert "Why this site is here" in text
    assert "routes to community ownership" in text
    reasons = [plain(m.value) for m in at.markdown if "confidence: " in plain(m.value)]
    assert reasons and reasons[0].startswith("- Priority High")
    assert all("source: " in r and "date: " in r for r in reasons)
    assert any("register" in r and "2026-04-01" in r for r in reasons)
    # The table highlights the selected site where it is (a selection does not re-sort it).
    table = at.dataframe[0].value
    row = table.index[table["Asset id"] == flagged["asset_id"]][0]
    assert "Selected" not in table.columns and list(table["Asset id"]) == list(before["Asset id"])
    styles = at.dataframe[0].proto.arrow_data.styler.styles
    assert re.search(rf"_row{row}_col0\b[^{{]*{{ background-color", styles), styles[:300]

    # Other anchors nearby: a wider distance lists at least as many, each with its distance in words.
    def nearby():
        found = [m.value for m in at.markdown if m.value.startswith("- ") and m.value.splitlines()[0].endswith(" m")]
        return [line for line in found[0].splitlines() if line.startswith("- ")] if found else []

    near = nearby()
    at.select_slider(key="mapcard_nearby").set_value(2000).run()
    wide = nearby()
    assert len(wide) >= len(near) and len(wide) > 0
    assert all(float(line.rsplit(", ", 1)[1][:-2].replace(",", "")) <= 2000 for line in wide)
    assert any("within 2000 m" in m.value for m in at.markdown)
    # Routes for a council site include community asset transfer.
    assert any("Community asset transfer" in e.label for e in at.expander)


def test_html_named_asset_is_shown_as_text_never_as_markup(demo):
    aid = demo.assets.loc[demo.assets["name"] == HTML_NAME, "asset_id"].iloc[0]
    at = app_page("map_page").run()
    at.selectbox(key="choose").select(aid).run()
    assert not at.exception
    heads = [m.value for m in at.markdown if "onerror" in m.value]
    assert heads, "the card title is missing"
    for value in heads:
        assert not re.search(r"(?<!\\)[<>\[\]()]", value), f"unescaped markup reached st.markdown: {value!r}"
        assert r"\<img src=x onerror=alert\(1\)\>" in value


def test_shortlist_add_remove_and_download(demo):
    ids = demo.assets["asset_id"].iloc[[5, 9]].tolist()
    at = app_page("map_page").run()
    at.selectbox(key="choose").select(ids[0]).run()
    at.button(key="mapcard_add").click().run()
    at.selectbox(key="choose").select(ids[1]).run()
    at.button(key="mapcard_add").click().run()
    assert at.session_state["shortlist"] == ids
    sl = app_page("shortlist_page")
    sl.session_state["shortlist"] = ids
    sl.run()
    assert not sl.exception
    assert "2 sites on your shortlist" in all_text(sl)
    assert list(sl.dataframe[0].value["Asset id"]) == ids
    assert [b for b in sl.get("download_button")], "no download button for the shortlist"
    sl.button(key="sl_remove").click().run()
    assert sl.session_state["shortlist"] == ids[1:]


def test_download_page_offers_the_filtered_set_in_every_format():
    at = app_page("download_page").run()
    assert not at.exception
    buttons = at.get("download_button")
    assert len(buttons) == 1
    assert "300 sites" in buttons[0].proto.label and "GeoPackage" in buttons[0].proto.label
    for fmt in ("shp", "geojson", "csv"):
        at.radio(key="dl_fmt").set_value(fmt).run()
        assert not at.exception
        assert at.get("download_button"), fmt


# ---------------------------------------------------------------- uploads

def test_bad_upload_shows_a_clear_error_and_leaves_the_demo_in_use():
    at = app_page("data_page").run()
    files = {"register": Upload("broken.csv", b"AssetCode,PropertyName\n"),
             "boundaries": Upload("areas.geojson", demo_boundaries_geojson())}
    stage_and_check(at, files)
    errors = [plain(e.value) for e in at.error]
    assert errors and "broken.csv: has a header but no data rows" in errors[0]
    assert "data in use has not changed" in errors[0]
    assert "analysis" not in at.session_state
    assert "pending_upload" not in at.session_state


def test_good_upload_waits_for_confirmation_then_a_bad_one_changes_nothing():
    at = app_page("data_page").run()
    good = {"register": Upload("my_register.csv", register_csv()),
            "boundaries": Upload("areas.geojson", demo_boundaries_geojson())}
    stage_and_check(at, good)
    assert not at.error
    assert "analysis" not in at.session_state, "data replaced before the user confirmed"
    assert any(m.label == "rows read" and m.value == "5" for m in at.metric)
    at.button(key="confirm_upload").click().run()
    assert not at.exception
    in_use = at.session_state["analysis"]
    assert len(in_use.assets) == 5
    version = at.session_state["data_version"]
    assert count_text(at) == "5 of 5 sites shown"
    # Now a bad register: refused, and the user's data stays exactly as it was.
    bad = {"register": Upload("bad.csv", b"\x00\x01 not a table"),
           "boundaries": Upload("areas.geojson", demo_boundaries_geojson())}
    stage_and_check(at, bad)
    assert at.error and "bad.csv" in plain(at.error[0].value)
    assert at.session_state["analysis"] is in_use
    assert at.session_state["data_version"] == version
    assert count_text(at) == "5 of 5 sites shown"
    # And back to the demo.
    at.button(key="back_to_demo").click().run()
    assert "analysis" not in at.session_state
    assert count_text(at) == "300 of 300 sites shown"


def test_missing_boundaries_is_refused_with_every_problem_listed():
    at = app_page("data_page").run()
    stage_and_check(at, {"register": Upload("my_register.csv", register_csv())})
    assert at.error and "boundaries" in at.error[0].value.lower()
    assert "analysis" not in at.session_state


def test_large_data_draws_clusters_and_caps_the_table(demo_result):

    a = demo_result.assets
    big = gpd.GeoDataFrame(pd.concat([a] * 21, ignore_index=True), geometry="geometry", crs=a.crs)
    big["asset_id"] = [f"X{i}" for i in range(len(big))]
    at = app_page("map_page")
    at.session_state["analysis"] = demo_result.replace(assets=big)
    at.session_state["analysis_label"] = "a large test register"
    at.run()
    assert not at.exception, at.exception
    assert count_text(at) == f"{len(big):,} of {len(big):,} sites shown"  # 6,300: with the thousands marked
    assert any("Large data" in i.value for i in at.info)
    assert any("Listing the 5,000 highest-priority" in c.value for c in at.caption)
    # The list is sent a page at a time (each rerun that draws the table sends its rows: 5,000 were 0.85 MB) ...
    first = at.dataframe[0].value
    assert len(first) == 500
    assert set(first["Priority"].head(100)) <= {"High"}
    at.number_input(key="table_page").set_value(3).run()
    third = at.dataframe[0].value
    assert len(third) == 500 and not set(third["Asset id"]) & set(first["Asset id"])
    # ... and "Sort the list by" sorts every page, back at the first.
    at.selectbox(key="table_sort").select("Site area (largest first)").run()
    assert at.number_input(key="table_page").value == 1
    rank = big["priority"].map({"High": 0, "Medium": 1, "Low": 2}).fillna(3).sort_values(kind="stable")
    listed = big.loc[rank.index[:5000]]
    top = pd.to_numeric(at.dataframe[0].value["Site ha"].str.replace(",", "").str.strip(), errors="coerce")
    assert top.iloc[0] == round(pd.to_numeric(listed["site_area_ha"], errors="coerce").max(), 2)
    assert top.dropna().is_monotonic_decreasing
    # The "Choose a site" box offers 500 sites; any of the 6,300 can be found by typing and chosen.
    box = at.selectbox(key="choose")
    assert len(box.options) == 501  # and "Choose a site…"
    last = big.loc[rank.index[-1], "asset_id"]  # not among the 5,000 listed
    assert not (first["Asset id"] == last).any()
    at.text_input(key="choose_q").input(last).run()
    assert any("1 site shown match" in c.value for c in at.caption)
    at.selectbox(key="choose").select(last).run()
    assert not at.exception, at.exception
    assert at.session_state["selected_asset"] == last
    assert any(last in str(v) for v in at.dataframe[0].value["Asset id"])  # listed, on the page shown


def test_the_summary_chart_writes_every_organisation_name_in_full(demo):
    # Streamlit's bar chart cut the names at 200 pixels ("Ashbridge Borou…"): the chart of named groups writes
    # each one in full (no label limit), one bar per organisation with flagged sites, the most flagged first.
    import json

    at = app_page("summary_page").run()
    assert not at.exception, at.exception
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    y = spec["encoding"]["y"]
    assert y["axis"]["labelLimit"] == 0
    a = demo.assets
    flagged = a[a["priority"].isin(["High", "Medium", "Low"])]
    counts = flagged["organisation"].value_counts()
    assert set(y["sort"]) == set(counts.index)
    assert max(len(n) for n in y["sort"]) > 25  # long names are there, whole
    assert counts[y["sort"][0]] == counts.max()


def test_a_long_chart_of_areas_says_how_many_it_shows_in_words(demo):
    # The demo has no wards, so the third tab groups by LSOA: more than 40 of them hold flagged sites.
    at = app_page("summary_page").run()
    assert not at.exception, at.exception
    said = [c.value for c in at.caption if "most flagged sites" in c.value]
    shown = demo.assets[demo.assets["priority"].isin(["High", "Medium", "Low"])]["need_area_code"].nunique()
    assert said == [f"The 40 LSOAs (need areas) with the most flagged sites, of {shown}; the table lists them all."]
