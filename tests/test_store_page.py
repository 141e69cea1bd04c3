"""The Register page driven through Streamlit's AppTest: import, edit, conflict, public correction."""
from __future__ import annotations

import pytest

from assets_map.store import LOCAL_USER, PUBLIC, SqliteStore
from tests.helpers import markdown_shown, plain, register_page_script

pytest.importorskip("streamlit.testing.v1")
from streamlit.testing.v1 import AppTest  # noqa: E402


def test_local_user_imports_edits_and_sees_conflicts(register, local_visitor):
    at = AppTest.from_function(register_page_script, default_timeout=60).run()
    assert not at.exception
    assert any("Local mode" in i.value for i in at.info)
    at.text_input(key="register_org").input("Ashbridge (fictional)").run()
    at.button[0].click().run()  # import the demo in use
    assert not at.exception
    assert any("300 added" in s.value for s in at.success)
    store = SqliteStore(register)
    aid = at.selectbox(key="register_asset").value
    before = store.get(aid, LOCAL_USER)
    # Someone else saves first; this session's save must be refused, not overwrite.
    store.save(aid, {"notes": "changed elsewhere"}, expected_version=before["version"],
               role=LOCAL_USER.__class__("editor", "other@council.example", "Ashbridge (fictional)"))
    at.run()
    assert any("changed since you opened it" in w.value for w in at.warning)
    form_status = next(s for s in at.selectbox if s.label == "Status")
    form_status.set_value("surplus")
    next(b for b in at.button if b.label == "Save").click().run()
    assert any("other@council.example" in markdown_shown(e.value)[0] for e in at.error)  # escaped Markdown
    assert store.get(aid, LOCAL_USER)["notes"] == "changed elsewhere"
    # Reload, then the save goes through and re-scores.
    next(b for b in at.button if b.label == "Reload the latest version").click().run()
    next(s for s in at.selectbox if s.label == "Status").set_value("surplus")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception and any("Saved as version" in s.value for s in at.success)
    got = store.get(aid, LOCAL_USER)
    assert got["status"] == "surplus" and got["notes"] == "changed elsewhere"


def test_public_correction_reaches_the_queue_only(register, local_visitor):
    at = AppTest.from_function(register_page_script, default_timeout=60).run()
    at.text_input(key="register_org").input("Ashbridge (fictional)").run()
    at.button[0].click().run()
    store = SqliteStore(register)
    site = next(s for s in at.selectbox if s.label == "Site").value
    version = store.get(site, LOCAL_USER)["version"]
    next(t for t in at.text_area if t.label == "What is wrong?").input("Boarded up since spring <b>x</b>")
    next(b for b in at.button if b.label == "Send to the owner").click().run()
    assert any("correction #1" in s.value for s in at.success)
    queue = store.corrections(role=LOCAL_USER)
    assert [(c["asset_id"], c["message"]) for c in queue] == [(site, "Boarded up since spring <b>x</b>")]
    assert store.get(site, LOCAL_USER)["version"] == version
    assert site in set(store.assets(PUBLIC)["asset_id"])


def _editing_controls(at) -> list[str]:
    """Labels of the Register page's import, edit, moderation and user controls present in a run."""
    labels = [b.label for b in at.button] + [w.label for w in at.text_input] + [w.label for w in at.selectbox]
    return [x for x in labels if x in {"Import into the register", "Organisation whose register this is", "Save",
                                       "Asset", "Accept", "Reject", "Set role"}]


@pytest.mark.parametrize("visitor", ["unknown", "remote", "proxied", "rebound"])
def test_only_a_direct_local_browser_gets_local_mode(register, monkeypatch, local_visitor, visitor):
    """With no sign-in configured, anyone but a browser on the server itself sees the public view only."""
    from assets_map.ui import identity

    store = SqliteStore(register)
    local = AppTest.from_function(register_page_script, default_timeout=60).run()
    local.text_input(key="register_org").input("Ashbridge (fictional)").run()
    local.button[0].click().run()
    pending = store.submit_correction(store.assets(PUBLIC)["asset_id"].iloc[0], message="gone")
    local.run()
    assert {"Import into the register", "Save", "Accept"} <= set(_editing_controls(local))
    peers = {"unknown": identity.Peer(None),
             "remote": identity.Peer("192.0.2.7", {"host": ("assets.example:8501",)}),
             # a reverse proxy on this machine connects from loopback but says whom it forwards for
             "proxied": identity.Peer("127.0.0.1", {"host": ("localhost:8501",), "x-forwarded-for": ("192.0.2.7",)}),
             # a page on another site whose name was rebound to 127.0.0.1
             "rebound": identity.Peer("127.0.0.1", {"host": ("evil.example:8501",),
                                                    "origin": ("http://evil.example:8501",)})}
    monkeypatch.setattr(identity, "peer", lambda: peers[visitor])
    at = AppTest.from_function(register_page_script, default_timeout=60).run()
    assert not at.exception
    assert _editing_controls(at) == []
    assert not any("Local mode" in i.value for i in at.info)
    assert any("public register" in c.value for c in at.caption)
    assert "Send to the owner" in [b.label for b in at.button]  # the public may still send a correction
    assert [c["id"] for c in store.corrections(role=LOCAL_USER)] == [pending]


def test_an_unplaced_site_is_placed_by_postcode_and_its_new_priority_shown_at_once(register, local_visitor, shared):
    """Issue 14, item 9: place by postcode; name, tenure, size and UPRN editable; the new version and priority at once."""
    from assets_map.io.uploads import Upload, check_uploads

    def up(*parts):
        p = shared(*parts)
        return Upload(p.name, p.read_bytes())

    checked = check_uploads({"register": up("trafford", "land_and_building_assets.csv"),
                             "boundaries": up("trafford", "lsoa21_boundaries.geojson"),
                             "deprivation": up("england", "imd2025_lsoa21_scores_ranks_deciles.csv"),
                             "postcodes": up("trafford", "postcodes_onspd_feb2025.csv")})
    at = AppTest.from_function(register_page_script, default_timeout=120)
    at.session_state["analysis"] = checked.analysis
    at.session_state["analysis_label"] = checked.label
    at.run()
    at.text_input(key="register_org").input("Trafford Council").run()
    next(b for b in at.button if b.label == "Import into the register").click().run()
    assert not at.exception and any("608 rows" in s.value for s in at.success)
    at.toggle(key="register_unplaced").set_value(True).run()
    at.selectbox(key="register_asset").set_value("TMBC0004").run()  # Moss View Centre: vacant, only "M31" given
    assert any("Version 1 · priority Low" in plain(c.value) and "not placed on the map" in c.value for c in at.caption)
    at.text_input(key="place_pc_TMBC0004").input("M31 4EA").run()
    next(b for b in at.button if b.label == "Place at this postcode").click().run()
    assert not at.exception, at.exception
    assert any("Saved as version 2: priority High (was Low)" in plain(s.value) for s in at.success)
    assert any("Version 2 · priority High" in plain(c.value) and "full postcode" in c.value for c in at.caption)
    store = SqliteStore(register)
    got = store.get("TMBC0004", LOCAL_USER)
    assert got["postcode"] == "M31 4EA" and got["location_quality"] == "full postcode" and got["need_decile"] == 1
    # Name, tenure, size and UPRN: saved, and shown at once.
    at.text_input(key="place_pc_TMBC0004").input("").run()
    form = {w.label: w for w in [*at.text_input, *at.number_input]}
    form["Name"].input("Moss View Community Centre")
    form["Tenure"].input("Leasehold")
    form["UPRN"].input("10070000001")
    form["Floor area (m²)"].set_value(420.0)
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception and any("Saved as version 3" in plain(s.value) for s in at.success)
    got = store.get("TMBC0004", LOCAL_USER)
    assert (got["name"], got["tenure"], got["uprn"], got["floor_area_m2"]) == ("Moss View Community Centre",
                                                                              "Leasehold", "10070000001", 420.0)
    assert any("Version 3 · priority High" in plain(c.value) for c in at.caption)
    # A postcode the data does not hold: one line, nothing saved.
    at.text_input(key="place_pc_TMBC0004").input("ZZ9 9ZZ").run()
    next(b for b in at.button if b.label == "Place at this postcode").click().run()
    assert any("'ZZ9 9ZZ' is not in the postcode directory" in plain(e.value) for e in at.error)
    assert store.get("TMBC0004", LOCAL_USER)["version"] == 3
