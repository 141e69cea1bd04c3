"""The Follow and Cases pages in a browser (issue 18): follow button, e-mail confirmation, inbox, case view, ACV clocks.

The app runs in local mode on a register made here (the demo, an ACV listing with a notification
to sell, a transfer case), with e-mail going to a local SMTP server; every non-local request is blocked.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from assets_map.community.acv import read_acv_list
from assets_map.store import LOCAL_USER, SqliteStore, cases, listings, notify
from tests.helpers import app_in_browser, import_demo, screenshot

pytestmark = pytest.mark.browser
def _register(path: Path, demo_analysis):
    store = SqliteStore(path)
    import_demo(store, demo_analysis)
    a = store.assets(LOCAL_USER)
    site = a[(a["visibility"] == "public") & (a["status"] == "occupied")].iloc[0]
    lon, lat = a.to_crs(4326).set_index("asset_id").geometry[site["asset_id"]].representative_point().coords[0]
    notified = dt.date.today() - dt.timedelta(days=10)
    acv = path.parent / "acv.csv"
    acv.write_text("reference,name,address-text,point,nomination-date,nominating-group,decision,decision-date,"
                   "notification-to-sell-date,interested-group\n"
                   f"ACV-9,{site['name']},,POINT ({lon:.6f} {lat:.6f}),2023-01-10,Friends,listed,2023-02-28,"
                   f"{notified.isoformat()},\n", encoding="utf-8")
    listings.import_listings(store, read_acv_list(acv), role=LOCAL_USER)
    cases.open_case(store, site["asset_id"], role=LOCAL_USER, group="Ashbridge Community Trust",
                    note="a community hub", next_step="Estates to reply")
    return store, site, notified


def test_follow_inbox_email_case_and_acv_clocks_in_the_browser(tmp_path, demo_analysis, smtp_server):
    from playwright.sync_api import expect

    store, site, notified = _register(tmp_path / "register.sqlite", demo_analysis)
    aid = site["asset_id"]
    with app_in_browser(store.path, last_shot="follow-last.png") as (url, page, blocked):
        page.goto(f"{url}/follow?site={aid}")
        page.get_by_role("button", name="Follow this site").click(timeout=90_000)
        page.get_by_text("You follow this site.").wait_for(timeout=30_000)
        page.get_by_label("E-mail address").fill("steward@example.org")
        page.get_by_role("button", name="Save").click()
        page.get_by_text("We sent a confirmation link to steward@example.org").wait_for(timeout=30_000)
        (confirm,) = smtp_server
        link = re.search(r"\?confirm=\S+", confirm.get_content()).group(0)
        page.goto(f"{url}/follow{link}")
        page.get_by_text("steward@example.org is confirmed").wait_for(timeout=60_000)

        version = int(store.get(aid, LOCAL_USER)["version"])
        store.save(aid, {"status": "surplus"}, expected_version=version, role=LOCAL_USER)
        assert [m["X-Envelope-To"] for m in smtp_server] == ["steward@example.org"] * 2
        assert "declared surplus" in smtp_server[1]["Subject"]
        page.goto(f"{url}/follow?site={aid}")
        page.get_by_text(re.compile(r"Inbox \(\d+ unread\)")).wait_for(timeout=60_000)
        page.get_by_text(f"{site['name']}: now declared surplus").wait_for(timeout=30_000)
        screenshot(page, "follow-inbox.png")

        page.goto(f"{url}/cases?site={aid}")
        page.get_by_text("Asset of Community Value", exact=True).wait_for(timeout=90_000)
        interim = (notified + dt.timedelta(days=41)).strftime("%-d %B %Y")
        page.get_by_text("Case 1: enquiry").wait_for(timeout=30_000)
        body = page.inner_text("body")
        assert "listing ACV-9" in body and "Estates to reply" in body
        grid = page.locator("[data-testid='stDataFrame']").first
        grid.wait_for(timeout=30_000)
        screenshot(page, "cases-acv.png")
        page.get_by_role("button", name="Record this stage").first.wait_for(timeout=30_000)
        form = page.locator("[data-testid='stForm']").first
        form.get_by_label("Note").fill("Expression of interest sent")
        form.locator("[data-testid='stSelectbox']").first.click()
        page.get_by_role("option", name="expression of interest").click()
        expect(form.locator("[data-testid='stSelectbox'] input").first).to_have_value("expression of interest",
                                                                                      timeout=30_000)
        form.get_by_role("button", name="Record this stage").click()
        page.get_by_text("Case 1: expression of interest").wait_for(timeout=120_000)
        screenshot(page, "cases-moved.png")
        # nothing is fetched from outside (the page icon is drawn by the app, not a Material Symbols image)
        assert not blocked, blocked
    trail = cases.case_history(store, 1, role=LOCAL_USER)
    assert [e["stage"] for e in trail] == ["enquiry", "expression of interest"]
    assert trail[1]["by_user"] == "local user" and trail[1]["note"] == "Expression of interest sent"
    assert any("transfer case 1 now at expression of interest" in i["title"]
               for i in notify.inbox(store, role=LOCAL_USER))
    clocks = {c.key: c for c in listings.for_site(store, aid, role=LOCAL_USER)[0]["clocks"]}
    assert clocks["interim-moratorium"].date.strftime("%-d %B %Y") == interim
