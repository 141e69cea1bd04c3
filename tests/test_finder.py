"""Site finder: filters, ranking and the reasons for each place; greenspace never offered (Trafford)."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Point, box

from assets_map.community.finder import DEFAULT_WEIGHTS, SiteBrief, find_sites
from assets_map.community.partners import prepare_facilities
from assets_map.io.report import InputError


def _assets():
    base = dict(organisation="Council", anchor_type="council", tenure="freehold", excluded=False, status="vacant",
                underuse_score=0.6, transfer_score=0.9, need_area_code="N1", site_area_ha=np.nan)
    rows = [
        dict(asset_id="shop", name="Market Place shop", use="Shop", holding_type="building", floor_area_m2=200.0,
             priority="High", need_score=85.0, geometry=Point(1000, 1000)),
        dict(asset_id="office", name="Mill Lane office", use="Office", holding_type="building", floor_area_m2=300.0,
             priority="Low", need_score=30.0, geometry=Point(1100, 1000)),
        dict(asset_id="flats", name="Canal flats", use="Flats", holding_type="building", floor_area_m2=250.0,
             priority="Low", need_score=30.0, geometry=Point(1200, 1000)),
        dict(asset_id="big", name="Warehouse", use="Warehouse", holding_type="building", floor_area_m2=5000.0,
             priority="High", need_score=90.0, geometry=Point(1000, 1100)),
        dict(asset_id="land", name="Yard", use="Land", holding_type="land", floor_area_m2=np.nan,
             priority="High", need_score=90.0, geometry=box(900, 900, 950, 950)),
        dict(asset_id="park", name="Victoria Park lodge", use="Park", holding_type="both", floor_area_m2=150.0,
             priority="not flagged", excluded=True, need_score=95.0, geometry=Point(1000, 1050)),
        dict(asset_id="busy", name="Town hall", use="Office", holding_type="building", floor_area_m2=300.0,
             priority="not flagged", status="occupied", need_score=95.0, geometry=Point(1050, 1000)),
        dict(asset_id="nosize", name="Old hall", use="Community hall", holding_type="both", floor_area_m2=np.nan,
             priority="Medium", need_score=60.0, geometry=Point(1300, 1000)),
        dict(asset_id="lost", name="Somewhere", use="Shop", holding_type="building", floor_area_m2=200.0,
             priority="High", need_score=np.nan, geometry=None),
    ]
    return gpd.GeoDataFrame([{**base, **r} for r in rows], geometry="geometry", crs="EPSG:27700")


def test_filters_funnel_and_order():
    out = find_sites(_assets(), SiteBrief(use="food hub", min_m2=100, max_m2=1000))
    assert out["asset_id"].tolist() == ["shop", "nosize", "office", "flats"]
    f = out.attrs["funnel"]
    assert f["never offered (parks, greenspace, allotments, community use)"] == 1
    assert f["not placed on the map"] == 1 and f["not flagged as underused"] == 1
    assert f["land only (a building was asked for)"] == 1 and f["larger than 1000 m²"] == 1
    assert f["candidates"] == 4
    assert out["rank"].tolist() == [1, 2, 3, 4]
    # Scores add up from their components and are in rank order.
    comp = out[[f"fit_{k}" for k in DEFAULT_WEIGHTS]].sum(axis=1)
    assert np.allclose(comp, out["fit_score"], atol=0.05)
    assert out["fit_score"].is_monotonic_decreasing


def test_reasons_explain_each_place():
    out = find_sites(_assets(), SiteBrief(use="food hub", min_m2=100, max_m2=1000)).set_index("asset_id")
    # office and flats differ only in their use: the office's use suits a food hub.
    assert "suits a food hub (office)" in out.loc["office", "fit_reasons"]
    assert "not one that usually suits a food hub" in out.loc["flats", "fit_reasons"]
    assert "ahead of #4 Canal flats (flats), mostly on suitability of its last use" in out.loc["office", "why_ranked"]
    assert "behind #3 Mill Lane office (office), mostly on suitability of its last use" in out.loc["flats", "why_ranked"]
    assert out.loc["shop", "why_ranked"].startswith("Ranked 1 of 4")
    assert "floor area not stated: check the size with the owner" in out.loc["nosize", "fit_reasons"]


def test_weights_and_unflagged_and_land():
    # With all weight on need, the ranking follows need.
    need_only = {k: 0 for k in DEFAULT_WEIGHTS} | {"need": 1}
    out = find_sites(_assets(), SiteBrief(use="other", holding="either", weights=need_only, include_unflagged=True))
    assert out["asset_id"].iloc[0] == "busy" and "park" not in set(out["asset_id"])
    assert out.set_index("asset_id").loc["busy", "fit_need"] == pytest.approx(95.0)
    land = find_sites(_assets(), SiteBrief(use="community growing"))
    assert land["asset_id"].tolist() == ["land", "nosize"]  # land and buildings of unknown site area are kept
    assert "site area 2,500 m²" in land["fit_reasons"].iloc[0]


def test_near_here_and_partners():
    wgs = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    a = _assets()
    a = a.set_geometry(a.geometry.translate(400000, 300000))
    near = wgs.transform(401300, 301000)  # at "nosize"
    fac = prepare_facilities(gpd.GeoDataFrame({"name": ["Hub", "GP"], "type": ["community hub", "gp_practice"]},
                                              geometry=[Point(401300, 301100), Point(401250, 301000)],
                                              crs="EPSG:27700"), label="facilities")
    out = find_sites(a, SiteBrief(use="food hub", min_m2=100, max_m2=1000, near=near, radius_m=250), facilities=fac)
    assert out["asset_id"].iloc[0] == "nosize"
    assert set(out["asset_id"]) == {"nosize", "office", "flats"}  # the shop is 300 m away, beyond 250 m
    r = out.set_index("asset_id")
    assert "0 m from the point you chose" in r.loc["nosize", "fit_reasons"]
    assert "2 partner facilities of the kinds useful to a food hub within 800 m" in r.loc["nosize", "fit_reasons"]


def test_area_codes_and_bad_briefs():
    needs = gpd.GeoDataFrame({"code": ["A", "B"], "need_score": [50.0, 60.0], "need_decile": [5, 4]},
                             geometry=[box(0, 0, 1150, 2000), box(1150, 0, 3000, 2000)], crs="EPSG:27700")
    out = find_sites(_assets(), SiteBrief(use="food hub", area_codes=("B",)), needs=needs)
    assert set(out["asset_id"]) == {"flats", "nosize"}
    with pytest.raises(InputError, match="not found"):
        find_sites(_assets(), SiteBrief(area_codes=("ZZZ",)), needs=needs)
    # Ward codes the assets carry need no ward layer.
    wards = _assets().assign(ward_code=["W1", "W2", "W1", "W2", "W1", "W1", "W1", "W2", None])
    out = find_sites(wards, SiteBrief(use="food hub", area_codes=("W1",)))
    assert out["asset_id"].tolist() == ["shop", "flats"] and "ward W1" in out.attrs["area"]
    with pytest.raises(InputError) as err:
        find_sites(_assets(), SiteBrief(holding="castle", min_m2=500, max_m2=100, near=(200, 200), weights={"x": 1}))
    assert len(err.value.problems) == 4


@pytest.fixture(scope="module")
def trafford_excluded(shared):
    from assets_map.engine.pipeline import analyse

    gs = shared("trafford", "parcels", "greenspace_sites.geojson")
    al = shared("trafford", "parcels", "allotments.geojson")
    r = analyse(shared("trafford", "land_and_building_assets.csv"), shared("trafford", "lsoa21_boundaries.geojson"),
                shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv"),
                postcodes=shared("trafford", "postcodes_onspd_feb2025.csv"), exclude=[gs, al])
    return r, gs, al


def test_trafford_greenspace_and_allotments_never_flagged_nor_found(trafford_excluded):
    r, gs, al = trafford_excluded
    a = r.assets
    flagged = a[a["priority"].isin(["High", "Medium", "Low"])]
    assert len(flagged) > 50
    # Uses that name allotments and parks are never flagged.
    uses = flagged["use"].fillna("").str.lower()
    assert not uses.str.contains("allotment|park").any()
    assert (a[a["src_OtherDetail"].isin(["Managed allotments", "Parks"])]["priority"] == "not flagged").all()
    # Independent containment: flagged land (not buildings) against the raw polygons in their own CRS.
    polys = pd.concat([gpd.read_file(gs), gpd.read_file(al)], ignore_index=True)
    polys = polys.set_geometry(shapely.make_valid(polys.geometry.to_numpy()))
    land = flagged[flagged["holding_type"].isin(["land", "both", "unknown"]) & flagged.geometry.notna()]
    pts = land.geometry.to_crs(polys.crs)
    tree = shapely.STRtree(polys.geometry.to_numpy())
    inside = [i for i, p in enumerate(pts) if any(polys.geometry.iloc[j].covers(p) for j in tree.query(p))]
    assert inside == [], land.iloc[inside][["asset_id", "name"]].to_string()
    # And the finder never offers them, even with unflagged sites included.
    found = find_sites(a, SiteBrief(use="other", include_unflagged=True))
    assert not found["excluded"].any()
    fp = found.geometry.to_crs(polys.crs)
    land_found = found["holding_type"].isin(["land", "both", "unknown"]).to_numpy()
    assert not any(land_found[i] and any(polys.geometry.iloc[j].covers(p) for j in tree.query(p))
                   for i, p in enumerate(fp))


def test_trafford_food_hub_near_stretford(shared, trafford_excluded, tmp_path, capsys):
    from assets_map.cli import main
    from assets_map.io.export import write_gpkg

    r, _, _ = trafford_excluded
    result = tmp_path / "t.gpkg"
    write_gpkg({"assets": r.assets, "needs": r.needs}, result)
    anchors = shared("trafford", "anchors")
    fac = [a for f in ("community_hubs", "general_practices", "schools_and_colleges") for a in
           ("--facilities", str(anchors / f"{f}.geojson"))]
    out, pack = tmp_path / "shortlist.csv", tmp_path / "shortlist.pdf"
    code = main(["find-sites", "--analysis", str(result), "--use", "food hub", "--max-size", "2000", "--near=-2.31,53.46",
                 "--radius", "3000", "--include-unflagged", "--top", "3", *fac, "--out", str(out), "--pack", str(pack)])
    assert code == 0
    text = capsys.readouterr().out
    ranked = pd.read_csv(out)
    assert ranked["rank"].tolist() == [1, 2, 3]
    assert all(f"Ranked {i} of" in w for i, w in zip(ranked["rank"], ranked["why_ranked"], strict=True))
    assert ranked["name"].iloc[0] in text
    from pypdf import PdfReader

    assert len(PdfReader(pack).pages) == 4  # a cover list and one page per site
