"""The Follow and Cases pages through Streamlit's AppTest: who may follow, one-click links, what the public sees."""
from __future__ import annotations

import pytest

from assets_map.store import LOCAL_USER, PUBLIC, SqliteStore, cases, notify
from assets_map.store import follow as fl
from tests.helpers import all_text, import_demo, plain

pytest.importorskip("streamlit.testing.v1")
from streamlit.testing.v1 import AppTest  # noqa: E402


def follow_script():
    from assets_map.ui import follow_page

    follow_page.render()


def cases_script():
    from assets_map.ui import cases_page

    cases_page.render()


@pytest.fixture
def filled(register, demo_analysis):
    store = SqliteStore(register)
    import_demo(store, demo_analysis)
    a = store.assets(PUBLIC)
    return store, a["asset_id"].iloc[0]


def test_public_visitor_cannot_follow_but_unsubscribe_link_works(filled):
    store, site = filled
    fl.follow(store, site, role=LOCAL_USER)
    token = fl.follower(store, LOCAL_USER.user).unsubscribe_token
    at = AppTest.from_function(follow_script, default_timeout=60)
    at.query_params["unsubscribe"] = token
    at.run()
    assert not at.exception
    text = plain(all_text(at))
    assert "you will get no more e-mail" in text and "Sign in to follow sites" in text
    assert not [b for b in at.button if b.label == "Follow this site"]
    assert fl.follower(store, LOCAL_USER.user).delivery == "inbox"
    at2 = AppTest.from_function(follow_script, default_timeout=60)
    at2.query_params["unsubscribe"] = "not-a-token"
    at2.run()
    assert "not known here" in plain(all_text(at2))


def test_local_user_follows_and_reads_the_inbox(filled, local_visitor, monkeypatch):
    monkeypatch.delenv("ASSETS_MAP_SMTP_HOST", raising=False)
    store, site = filled
    at = AppTest.from_function(follow_script, default_timeout=60)
    at.query_params["site"] = site
    at.run()
    assert "E-mail is not set up on this service" in plain(all_text(at))
    at.button(key="follow_button").click().run()
    assert not at.exception and fl.is_following(store, site, role=LOCAL_USER)
    version = int(store.get(site, LOCAL_USER)["version"])
    store.save(site, {"status": "surplus"}, expected_version=version, role=LOCAL_USER)
    at.run()
    assert any(s.value == "Inbox (1 unread)" for s in at.subheader)
    assert "now declared surplus" in plain(all_text(at))
    at.button(key="inbox_read").click().run()
    assert notify.inbox(store, role=LOCAL_USER, unread_only=True) == []


def test_public_cases_page_shows_public_stages_only(filled):
    store, site = filled
    case = cases.open_case(store, site, role=LOCAL_USER, note="internal plan: sell to the trust for £1",
                           next_step="private next step")
    at = AppTest.from_function(cases_script, default_timeout=60)
    at.query_params["site"] = site
    at.run()
    assert not at.exception
    text = plain(all_text(at))
    assert f"Case {case}: enquiry" in text and "private next step" not in text and "£1" not in text
    assert "Estates dashboard" not in text and not [f for f in at.get("form")]


def test_unknown_site_in_the_address_is_said(filled):
    at = AppTest.from_function(cases_script, default_timeout=60)
    at.query_params["site"] = "NO-SUCH-SITE"
    at.run()
    assert not at.exception and "Site NO-SUCH-SITE is not in the register as you may see it" in plain(all_text(at))


def card_script(asset_id: str, from_register: bool):
    from assets_map.store import LOCAL_USER, open_store
    from assets_map.ui import shared, state

    if from_register:
        state.use_data(open_store().register_analysis(LOCAL_USER), label="The register")
    shared.render_card(asset_id, key="card")


@pytest.mark.parametrize("from_register", [True, False])
def test_site_card_links_a_register_site_to_follow_and_cases(filled, from_register):
    _, site = filled
    at = AppTest.from_function(card_script, args=(site, from_register), default_timeout=60).run()
    assert not at.exception
    links = [m.value for m in at.markdown if "Follow this site" in m.value]
    if from_register:
        assert links == [f"[Follow this site](follow?site={site}) · [Transfer cases and ACV clocks](cases?site={site})"]
    else:  # the demo in use: its sites are not in the register to follow
        assert links == []
