"""Issue 13 rule 6: location sanity. A site far outside its publisher's area is kept, marked with the distance,
reported, shown on its card and never flagged High on the need of an area it may not be in."""
from __future__ import annotations

import re

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from assets_map.community.sitecard import site_card
from assets_map.engine.pipeline import analyse

#: three typo'd copies of a vacant Trafford site: the English Channel, Stockport and Bolton (lat, lon)
FAR = {"FAR-CHANNEL": (50.1, -1.9), "FAR-STOCKPORT": (53.4106, -2.1578), "FAR-BOLTON": (53.578, -2.429)}
#: the real Trafford sites the register keeps (three of them flagged High on the real register)
INSIDE = ["TMBC0103/T0000104", "TMBC0388", "TMBC0405", "TMBC0001/T0000003"]


def _register(trafford, tmp_path, organisation: str | None = None):
    reg = pd.read_csv(trafford["register"], dtype=str, keep_default_na=False)
    inside = reg[reg["AssetCode"].str.split("/").str[0].isin({c.split("/")[0] for c in INSIDE})]
    vacant = reg[reg["AssetCode"].str.startswith("TMBC0103")].iloc[0]
    far = []
    for code, (lat, lon) in FAR.items():
        row = vacant.copy()
        row["AssetCode"], row["PropertyName"], row["UPRN"] = code, f"Typo copy {code}", ""
        row["GeoY"], row["GeoX"], row["PostCode"] = str(lat), str(lon), ""
        far.append(row)
    out = pd.concat([inside, pd.DataFrame(far)], ignore_index=True)
    if organisation:
        out["OrganisationLabel"], out["OrganisationURI"] = organisation, ""
    path = tmp_path / "register.csv"
    out.to_csv(path, index=False)
    return path


def _areas(trafford, tmp_path):
    """The real Trafford need areas, and one most-deprived area of the neighbouring borough around the Stockport typo."""
    real = gpd.read_file(trafford["lsoa21"]).to_crs(27700)
    lat, lon = FAR["FAR-STOCKPORT"]
    p = gpd.GeoSeries.from_xy([lon], [lat], crs=4326).to_crs(27700).iloc[0]
    extra = gpd.GeoDataFrame({"area_code": ["E01000061"], "area_name": ["Stockport 001A"]},
                             geometry=[shapely.box(p.x - 300, p.y - 300, p.x + 300, p.y + 300)], crs=27700)
    path = tmp_path / "areas.geojson"
    pd.concat([real, extra], ignore_index=True).to_crs(4326).to_file(path, driver="GeoJSON")
    return path


def _km(text: str) -> float:
    return float(re.match(r"check location: ([\d.,]+) km", text).group(1).replace(",", ""))


@pytest.fixture(scope="module")
def typo_result(trafford, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("typo")
    return analyse(_register(trafford, tmp), _areas(trafford, tmp), trafford["imd2025"])


def test_far_sites_are_kept_and_marked_with_their_distance(typo_result):
    a = typo_result.assets.set_index("asset_id")
    assert set(FAR) <= set(a.index)
    checks = a.loc[list(FAR), "location_check"]
    assert checks.notna().all(), checks
    assert all("outside Trafford" in t for t in checks)
    assert 300 < _km(checks["FAR-CHANNEL"]) < 400
    assert 2 < _km(checks["FAR-STOCKPORT"]) < 20 and 2 < _km(checks["FAR-BOLTON"]) < 30
    inside = a.drop(index=list(FAR))
    assert len(inside) >= 3 and inside["location_check"].isna().all()


def test_a_far_site_is_never_high_on_the_need_of_an_area_it_may_not_be_in(typo_result):
    a = typo_result.assets.set_index("asset_id")
    stock = a.loc["FAR-STOCKPORT"]
    assert stock["need_area_name"] == "Stockport 001A" and int(stock["need_decile"]) == 1  # would be High
    assert stock["priority"] == "Medium"
    assert "not High: location to be checked: " in stock["reasons"] and "km outside Trafford" in stock["reasons"]
    assert not (a.loc[list(FAR), "priority"] == "High").any()
    # the inside sites keep the priority the real register gives them
    assert (a.loc[a.index.str.startswith(("TMBC0103", "TMBC0388", "TMBC0405")), "priority"] == "High").all()


def test_far_sites_are_listed_in_the_report_and_on_the_card(typo_result):
    line = [s for s in typo_result.summary_lines() if s.startswith("check location:")]
    assert len(line) == 1, typo_result.summary_lines()
    assert line[0].startswith("check location: 3 sites more than 2 km outside Trafford (ids ")
    assert all(code in line[0] for code in FAR)
    assert re.search(r"up to 3\d\d\.\d km\)$", line[0]), line[0]
    card = site_card(typo_result.assets, typo_result.needs, "FAR-BOLTON")
    facts = dict(card.facts)
    assert facts["Location check"].startswith("Check location: ") and "outside Trafford" in facts["Location check"]
    inside = site_card(typo_result.assets, typo_result.needs, typo_result.assets["asset_id"].iloc[0])
    assert "Location check" not in dict(inside.facts)


def test_without_a_named_authority_the_registers_own_cluster_is_the_area(trafford, tmp_path):
    result = analyse(_register(trafford, tmp_path, organisation="Northern Community Land Trust"),
                     _areas(trafford, tmp_path), trafford["imd2025"])
    a = result.assets.set_index("asset_id")
    assert "register's own cluster" in a.loc["FAR-CHANNEL", "location_check"]
    assert _km(a.loc["FAR-CHANNEL", "location_check"]) > 300
    assert a.drop(index=list(FAR))["location_check"].isna().all()


def test_trafford_real_register_marks_only_its_out_of_borough_holdings(trafford):
    result = analyse(trafford["register"], trafford["lsoa21"], trafford["imd2025"], postcodes=trafford["postcodes"])
    a = result.assets
    marked = a[a["location_check"].notna()]
    # the council's two investment holdings in Warrington and Wigan; nothing inside Trafford is marked
    assert set(marked["asset_id"]) == {"TMBC0125", "TMBC0126"}
    assert set(marked["src_PostTown"]) == {"Warrington", "Wigan"}
    assert marked["need_area_code"].isna().all()
    assert [_km(t) for t in marked.sort_values("asset_id")["location_check"]] == pytest.approx([8.0, 20.8], abs=0.1)


def test_an_unplaced_site_alone_is_checked_without_failing():
    """Re-scoring one edited site that is not placed (the register's edits do this) marks nothing and does not fail."""
    import geopandas as gpd

    from assets_map.engine.location import check_locations

    one = gpd.GeoDataFrame({"organisation": ["Trafford Council"], "location_quality": ["none"]},
                           geometry=gpd.GeoSeries([None], crs="EPSG:27700"))
    needs = gpd.GeoDataFrame({"code": ["E01000001"], "name": ["Trafford 001A"]},
                             geometry=gpd.GeoSeries.from_wkt(["POLYGON ((0 0, 1 0, 1 1, 0 0))"], crs="EPSG:27700"))
    assert check_locations(one, needs)["location_check"].isna().all()


def test_import_checks_locations_as_analyse_does(trafford, tmp_path, capsys):
    import json

    from assets_map import cli

    report, out = tmp_path / "r.json", tmp_path / "r.gpkg"
    assert cli.main(["import", str(trafford["register"]), "--boundaries", str(trafford["lsoa21"]),
                     "--report", str(report), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "check location: 2 sites more than 2 km outside Trafford (ids TMBC0125, TMBC0126" in printed
    issues = [i for i in json.loads(report.read_text())["issues"] if i["message"].startswith("check location")]
    assert len(issues) == 1 and len(issues[0]["rows"]) == 2
    layer = gpd.read_file(out, layer="assets", engine="pyogrio").set_index("asset_id")
    assert layer.loc[["TMBC0125", "TMBC0126"], "location_check"].str.startswith("check location").all()
    assert layer["location_check"].notna().sum() == 2
    # without boundaries the register's own cluster is the area
    assert cli.main(["import", str(trafford["register"])]) == 0
    assert "outside the register's own cluster" in capsys.readouterr().out
