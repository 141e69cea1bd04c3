"""The site card: reasons with source/date/confidence, contact, need by domain, neighbours, routes."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from assets_map.community.sitecard import contact_route, domain_deciles, nearby_assets, reasons_of, site_card


def test_high_priority_card_has_every_part(demo_result):
    a, needs = demo_result.assets, demo_result.needs
    row = a[a["priority"] == "High"].iloc[0]
    card = site_card(a, needs, row["asset_id"], settings=demo_result.settings)
    assert card.priority == "High" and "30% most deprived" in card.priority_meaning
    kinds = [r.kind for r in card.reasons]
    assert kinds[0] == "priority" and "underuse" in kinds and "need" in kinds and "transfer" in kinds
    for r in card.reasons:
        assert r.text and r.source and r.date and r.confidence
    under = next(r for r in card.reasons if r.kind == "underuse")
    assert under.date == "2026-04-01" and "register" in under.source and under.confidence in ("low", "medium", "high")
    need = next(r for r in card.reasons if r.kind == "need")
    assert need.date == "2025" and "fictional" in need.confidence  # the demo's scores are invented
    facts = dict(card.facts)
    for k in ("Owner", "Tenure", "Holding", "Size", "Status", "Location"):
        assert facts[k] and facts[k] != "", k
    assert "estates@" in card.contact  # the demo register's contact column
    assert len(card.domains) == 8 and card.domains["decile"].between(1, 10).all()
    assert card.domains.iloc[0]["domain"] == "Index of Multiple Deprivation"
    assert card.domains.iloc[0]["decile"] == int(row["imd_decile"])
    assert card.routes and all(r.title and r.why and r.next_steps for r in card.routes)
    assert card.cannot and "not checked" in card.constraints


def test_routes_follow_the_owner_type(demo_result):
    a = demo_result.assets
    council = a[a["anchor_type"] == "council"].iloc[0]["asset_id"]
    nhs = a[a["anchor_type"] == "nhs"].iloc[0]["asset_id"]
    t1 = [r.title for r in site_card(a, demo_result.needs, council).routes]
    t2 = [r.title for r in site_card(a, demo_result.needs, nhs).routes]
    assert "Community asset transfer" in t1 and "Community asset transfer" not in t2
    assert any("surplus" in t.lower() for t in t2)


def test_nearby_lists_other_owners_within_the_distance_nearest_first():
    g = gpd.GeoDataFrame({
        "asset_id": ["me", "mine-too", "near", "far", "poly"],
        "name": ["Me", "Mine", "Near", "Far", "Poly"],
        "organisation": ["Council", "Council", "NHS", "University", "Police"],
        "anchor_type": ["council", "council", "nhs", "university", "police"],
        "status": ["vacant"] * 5, "priority": ["High"] * 5,
    }, geometry=[Point(0, 0), Point(10, 0), Point(300, 400), Point(3000, 0), box(100, -50, 200, 50)],
        crs="EPSG:27700")
    near = nearby_assets(g, "me", distance_m=500)
    assert near["asset_id"].tolist() == ["poly", "near"]  # edge to edge: the polygon is 100 m away
    assert near["distance_m"].tolist() == [100.0, 500.0]
    assert nearby_assets(g, "me", distance_m=500, other_owners=False)["asset_id"].tolist()[0] == "mine-too"
    assert nearby_assets(g, "me", distance_m=50).empty
    g.loc[0, "geometry"] = None
    assert nearby_assets(g, "me").empty
    with pytest.raises(KeyError):
        nearby_assets(g, "nobody")


def test_reasons_parse_sources_dates_and_confidences():
    row = pd.Series({
        "organisation": "Test Council", "source": "reg.csv", "source_date": "2024-03-31", "iod_year": 2019,
        "underuse_confidence": "high",
        "reasons": "Priority High: strong underuse evidence (0.80, confidence high) in a need decile 2 area; "
                   "Underuse: the owner records it as declared surplus (source: Test Council register, reg.csv, "
                   "2024-03-31) [+0.60]; Underuse: vacant since 2020-01-01 (4 years) [+0.20]; "
                   "Need: in LSOA E01000001 X, IMD decile 2 (IoD 2019, among the 20% most deprived areas in England); "
                   "Transfer: held freehold, so the owner can transfer it",
    })
    rs = reasons_of(row, settings={"deprivation_source": "iod.csv"})
    assert [r.kind for r in rs] == ["priority", "underuse", "underuse", "need", "transfer"]
    assert rs[1].text == "The owner records it as declared surplus"
    assert rs[1].source == "Test Council register, reg.csv" and rs[1].date == "2024-03-31" and rs[1].confidence == "medium"
    assert rs[2].confidence == "low" and rs[2].source == "Test Council register (reg.csv)"
    assert rs[3].source == "English Indices of Deprivation 2019 (iod.csv)" and rs[3].confidence.startswith("high")
    assert rs[4].text.startswith("Held freehold")


def test_contact_route_uses_any_contact_column_else_says_where_to_ask():
    text = contact_route(pd.Series({"organisation": "Council", "src_contact": "estates@x.example",
                                    "src_phone": "0161 000 0000"}))
    assert "No estates contact is set for Council" in text
    assert "e-mail: estates@x.example" in text and "phone: 0161 000 0000" in text
    text = contact_route(pd.Series({"organisation": "Council", "src_contact": np.nan}))
    assert "No estates contact is set for Council" in text and "owner: Council" in text


def test_domain_deciles_for_an_unknown_area_is_empty(demo_result):
    assert domain_deciles(demo_result.needs, None).empty
    assert domain_deciles(demo_result.needs, "NOPE").empty


def test_unplaced_site_card_says_need_not_assessed(demo_result):
    a = demo_result.assets
    aid = a[a.geometry.isna()].iloc[0]["asset_id"]
    card = site_card(a, demo_result.needs, aid)
    assert "not in a need area" in card.need_area and card.domains.empty and card.nearby.empty
    assert dict(card.facts)["Location"].startswith("not placed on the map")  # words, not the value "none"
