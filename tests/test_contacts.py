"""Organisation contacts (issue 14, item 8): the register holds each organisation's estates contact route.

Editable by that organisation's editors and admins, audited, on SQLite and PostGIS; the site card and the
site pack show it, and where none is set they say so and give what is known, never a linked-data URI.
"""
from __future__ import annotations

import pandas as pd
import pytest

from assets_map.community.sitecard import contact_route, owner_contact, site_card
from assets_map.community.sitepack import site_pack_html
from assets_map.io.report import InputError
from assets_map.store import LOCAL_USER, PUBLIC, NotAllowed, Role, StoreError, backup
from tests.helpers import ORG, OTHER, import_demo

CONTACT = {"email": "estates@ashbridge.example", "phone": "+44 161 496 0000",
           "web_page": "https://ashbridge.example/estates", "transfer_policy": "https://ashbridge.example/cat-policy"}


def test_editors_and_admins_set_their_organisations_contact_with_an_audit(store, demo_analysis, tmp_path):
    import_demo(store, demo_analysis)
    editor = Role("editor", "estates@ashbridge.example", ORG)
    assert store.contacts() == {}
    v1 = store.set_contact(ORG, CONTACT, role=editor)
    assert v1 == 1 and {k: store.contacts()[ORG][k] for k in CONTACT} == CONTACT
    assert store.contacts(ORG)[ORG]["updated_by"] == "estates@ashbridge.example"
    # Another organisation's editor, and the public, may not.
    with pytest.raises(NotAllowed, match="edit the estates contact"):
        store.set_contact(ORG, {"phone": "0161 000 0000"}, role=Role("editor", "x@elsewhere.example", OTHER))
    with pytest.raises(NotAllowed):
        store.set_contact(ORG, {"phone": "0161 000 0000"}, role=PUBLIC)
    # Every bad value is named, with the value; nothing is written.
    with pytest.raises(InputError) as e:
        store.set_contact(ORG, {"email": "not an address", "web_page": "javascript:alert(1)", "phone": "call us"},
                          role=editor)
    text = str(e.value)
    assert "'not an address'" in text and "'javascript:alert(1)'" in text and "'call us'" in text
    assert store.contacts()[ORG]["version"] == 1
    # An admin clears the phone; a field not given is kept; the history says who changed what.
    v2 = store.set_contact(ORG, {"phone": ""}, role=LOCAL_USER, expected_version=1)
    got = store.contacts()[ORG]
    assert v2 == 2 and got["phone"] is None and got["email"] == CONTACT["email"]
    hist = store.contact_history(ORG, role=editor)
    assert [h["version"] for h in hist] == [2, 1] and hist[0]["changes"] == {"phone": [CONTACT["phone"], None]}
    assert hist[0]["by"] == LOCAL_USER.user
    with pytest.raises(StoreError, match="changed by someone else"):
        store.set_contact(ORG, {"phone": "0161 496 0001"}, role=editor, expected_version=1)
    with pytest.raises(Exception, match="append-only"):  # noqa: B017 - each backend's own error
        store.raw("DELETE FROM contact_history")
    # The register on the map carries the contacts; a backup keeps them.
    assert store.register_analysis(PUBLIC).settings["contacts"][ORG]["email"] == CONTACT["email"]
    copy = backup(store, tmp_path / "backup.sqlite")
    assert copy.contacts()[ORG]["email"] == CONTACT["email"] and len(copy.contact_history(ORG, role=LOCAL_USER)) == 2


def test_the_card_and_the_pack_show_the_registers_contact(store, demo_analysis):
    import_demo(store, demo_analysis)
    store.set_contact(ORG, CONTACT, role=LOCAL_USER)
    result = store.register_analysis(PUBLIC)
    aid = result.assets["asset_id"].iloc[0]
    card = site_card(result.assets, result.needs, aid, settings=result.settings)
    assert card.contact.startswith("Ashbridge Borough Council (fictional) estates team: e-mail: estates@ashbridge.example")
    assert "community asset transfer policy: https://ashbridge.example/cat-policy" in card.contact
    doc = site_pack_html(result.assets[result.assets["asset_id"] == aid], needs=result.needs, settings=result.settings)
    assert "How to reach the owner" in doc and "https://ashbridge.example/cat-policy" in doc
    assert "No estates contact is set" not in doc


def test_trafford_without_a_contact_says_so_and_never_shows_its_linked_data_uri(shared):
    from assets_map.io.importer import import_file

    assets, _ = import_file(shared("trafford", "land_and_building_assets.csv"))
    row = assets.iloc[0]
    assert any(isinstance(v, str) and "opendatacommunities.org/id/" in v for v in row.to_numpy())
    text = contact_route(row)
    assert "No estates contact is set for" in text and "opendatacommunities" not in text and "http" not in text
    assert text.startswith(f"No estates contact is set for {row['organisation']}")
    # A register column holding a real web page is what is known, and shown.
    known = owner_contact(pd.Series({**row.to_dict(), "src_Website": "https://www.trafford.gov.uk"}))
    assert ("website", "https://www.trafford.gov.uk") in known.lines and not known.set_in_register
    doc = site_pack_html(assets.iloc[[0]].assign(priority="Low", underuse_score=0.1))
    assert "No estates contact is set" in doc and "opendatacommunities" not in doc.split("How to reach the owner")[1]


def test_an_uploaded_registers_cards_show_the_contact_kept_in_the_register(register, local_visitor):
    """Data checked and used on Your data gets the owners' estates contacts the register holds."""
    from assets_map.io.uploads import Upload
    from assets_map.store import SqliteStore
    from tests.helpers import app_page, demo_boundaries_geojson, register_csv, stage_and_check

    SqliteStore(register).set_contact("Test Borough Council", CONTACT, role=LOCAL_USER)
    at = app_page("data_page").run()
    stage_and_check(at, {"register": Upload("mine.csv", register_csv()),
                         "boundaries": Upload("areas.geojson", demo_boundaries_geojson())})
    at.button(key="confirm_upload").click().run()
    assert not at.exception
    result = at.session_state["analysis"]
    card = site_card(result.assets, result.needs, "T-1", settings=result.settings)
    assert card.contact.startswith("Test Borough Council estates team: e-mail: estates@ashbridge.example")
