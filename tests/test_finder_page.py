"""The Find a site and Site pack pages, driven through Streamlit's AppTest on the fictional demo."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _finder():
    from assets_map.ui import finder_page

    finder_page.render()


def _pack():
    from assets_map.ui import sitepack_page

    sitepack_page.render()


def test_food_hub_search_ranks_with_reasons_and_fills_the_shortlist():
    at = AppTest.from_function(_finder, default_timeout=120)
    at.run()
    assert not at.exception
    at.selectbox(key="fd_use").set_value("food hub").run()
    at.slider(key="fd_size_food hub_building").set_value((50, 3000)).run()
    at.checkbox(key="fd_unflagged").check().run()
    at.button(key="fd_go").click().run()
    assert not at.exception, at.exception
    assert any("sites for a food hub" in s.value for s in at.subheader)
    texts = [t.value for t in at.text]
    assert any(t.startswith("Ranked 1 of") for t in texts)
    assert any("points behind #1" in t for t in texts)
    table = at.dataframe[0].value
    assert table["#"].tolist()[:3] == [1, 2, 3]
    assert (table["Score"].diff().dropna() <= 0).all()
    at.button(key="fd_add_all").click().run()
    assert len(at.session_state["shortlist"]) == len(table)


def test_unknown_area_code_is_a_message_not_a_crash():
    at = AppTest.from_function(_finder, default_timeout=60)
    at.run()
    at.radio(key="fd_where").set_value("Areas I pick").run()
    codes = at.multiselect(key="fd_codes").options
    at.multiselect(key="fd_codes").select(codes[0]).run()
    at.button(key="fd_go").click().run()
    assert not at.exception


def test_site_pack_page_makes_a_pdf_for_the_shortlist(demo_result):
    at = AppTest.from_function(_pack, default_timeout=180)
    ids = list(demo_result.candidates["asset_id"].iloc[:2])
    at.session_state["shortlist"] = ids
    at.run()
    assert not at.exception
    assert at.multiselect(key="sp_sites").value == ids
    at.button(key="sp_go").click().run()
    assert not at.exception, at.exception
    _, made_for, doc, pdf = at.session_state["sitepack_doc"]
    assert list(made_for) == ids and pdf[:5] == b"%PDF-"
    for name in demo_result.candidates["name"].iloc[:2]:
        assert name.replace("&", "&amp;") in doc
