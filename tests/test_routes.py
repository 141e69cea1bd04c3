"""Routes to community ownership: ACV date arithmetic and which routes apply where."""
from __future__ import annotations

import datetime as dt

import pytest

from assets_map.community.routes import (
    MAP_CANNOT,
    acv_dates,
    add_months,
    nation_of,
    period_last_day,
    routes_for,
    routes_frame,
)
from assets_map.io.report import InputError

D = dt.date


@pytest.mark.parametrize("notified, interim, full, protected", [
    # six weeks beginning with 1 Mar 2025 = 1 Mar .. 11 Apr (42 days counting the first)
    (D(2025, 3, 1), D(2025, 4, 11), D(2025, 8, 31), D(2026, 8, 31)),
    (D(2025, 1, 15), D(2025, 2, 25), D(2025, 7, 14), D(2026, 7, 14)),
    # no 31 Feb: the six months run to the end of February
    (D(2025, 8, 31), D(2025, 10, 11), D(2026, 2, 28), D(2027, 2, 28)),
    # a leap year: 29 Aug 2023 + 6 months -> 29 Feb 2024 exists, so the day before it;
    # + 18 months -> no 29 Feb 2025, so to the end of February
    (D(2023, 8, 29), D(2023, 10, 9), D(2024, 2, 28), D(2025, 2, 28)),
    (D(2023, 8, 30), D(2023, 10, 10), D(2024, 2, 29), D(2025, 2, 28)),
    (D(2024, 12, 20), D(2025, 1, 30), D(2025, 6, 19), D(2026, 6, 19)),
])
def test_moratorium_dates(notified, interim, full, protected):
    d = acv_dates(notified_on=notified)
    assert d.interim_last_day == interim
    assert (d.interim_last_day - notified).days + 1 == 42
    assert d.full_last_day == full
    assert d.protected_last_day == protected
    assert d.free_to_sell_without_request == interim + dt.timedelta(days=1)
    assert d.free_to_sell_after_request == full + dt.timedelta(days=1)


def test_listing_lasts_five_years_and_text_dates_parse():
    assert acv_dates(listed_on="2021-06-15").listing_ends == D(2026, 6, 15)
    assert acv_dates(listed_on="29/02/2024").listing_ends == D(2029, 2, 28)
    assert add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert period_last_day(D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert period_last_day(D(2024, 2, 1), 1) == D(2024, 2, 29)


def test_bad_dates_refused():
    with pytest.raises(InputError):
        acv_dates(listed_on="soon")
    with pytest.raises(InputError, match="before the listing"):
        acv_dates(listed_on="2025-05-01", notified_on="2025-04-01")


@pytest.mark.parametrize("as_of, phrase", [
    (D(2025, 3, 20), "inside the interim moratorium, 23 day(s) left"),
    (D(2025, 5, 1), "full moratorium runs for 123 more day(s)"),
    (D(2025, 12, 1), "inside the protected period"),
    (D(2026, 9, 1), "the protected period has ended"),
])
def test_where_today_falls(as_of, phrase):
    lines = acv_dates(listed_on="2022-01-10", notified_on="2025-03-01").lines(as_of)
    assert any(phrase in line for line in lines), lines


def test_lapsed_listing_said():
    lines = acv_dates(listed_on="2019-01-10").lines(D(2025, 1, 1))
    assert "lapsed" in lines[0]


def _row(**kw):
    base = {"asset_id": "X1", "organisation": "Trafford Council", "anchor_type": "council", "tenure": "freehold",
            "status": "vacant", "use": "Library", "name": "Old library", "need_area_code": "E01006075"}
    base.update(kw)
    return base


def test_nation_from_codes():
    assert nation_of(_row()) == "England"
    assert nation_of(_row(need_area_code="S01008000")) == "Scotland"
    assert nation_of(_row(need_area_code="W01000001")) == "Wales"
    assert nation_of(_row(need_area_code=None)) == "unknown"
    assert nation_of(_row(nation="scotland", need_area_code="E01000001")) == "Scotland"


def test_english_council_site_routes_and_acv_dates():
    routes = routes_for(_row(acv_listed_on="2023-04-01", acv_notified_on="2025-03-01"), as_of=D(2025, 3, 10))
    keys = [r.key for r in routes]
    assert keys == ["cat", "acv", "public_surplus"]
    cat, acv, surplus = routes
    assert cat.applies == "likely" and "General Disposal Consent" in cat.law
    assert "21" in acv.who and "parish" in acv.who and "neighbourhood forum" in acv.who
    assert any("11 Apr 2025" in d for d in acv.dates) and any("31 Aug 2025" in d for d in acv.dates)
    assert "right to bid, not a right to buy" in acv.why
    assert surplus.applies == "likely" and "Reclaim Land" in " ".join(surplus.next_steps)


def test_scotland_wales_nhs_and_leases():
    sc = routes_for(_row(need_area_code="S01008000", anchor_type="nhs", organisation="NHS Lothian"))
    assert sc[0].key == "scotland_atr" and sc[0].applies == "likely"
    assert "Community Empowerment (Scotland) Act 2015" in sc[0].law
    assert "acv" not in [r.key for r in sc]
    wa = routes_for(_row(need_area_code="W01000001"))
    assert [r for r in wa if r.key == "acv"][0].applies == "not available"
    nhs = routes_for(_row(anchor_type="nhs", organisation="A Trust", status="occupied", tenure="leasehold"))
    assert nhs[0].applies == "possible"
    assert any("landlord's consent" in s for s in nhs[0].next_steps)
    assert [r for r in nhs if r.key == "public_surplus"][0].applies == "possible"
    home = routes_for(_row(use="Flats", name="Block of flats"))
    assert [r for r in home if r.key == "acv"][0].applies == "not available"


def test_the_map_says_what_it_cannot_do():
    text = " ".join(MAP_CANNOT)
    assert "not an application" in text and "not legal advice" in text and "straight lines" in text


def test_routes_frame():
    import pandas as pd

    f = routes_frame(pd.DataFrame([_row(), _row(asset_id="X2", need_area_code="S01008000")]), as_of=D(2025, 1, 1))
    assert set(f["site_id"]) == {"X1", "X2"}
    assert f.groupby("site_id")["route"].apply(list).to_dict() == {
        "X1": ["cat", "acv", "public_surplus"], "X2": ["scotland_atr", "scotland_crtb"]}
