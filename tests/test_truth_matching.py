"""Issue 13 rule 2: a name or code match is accepted only inside its owner's area.

A same-named hospital of another trust (a Mount Vernon in London for a Yorkshire trust) is
left unplaced with the distance; each placed site records how it was matched and how far it
lies from its trust's area. Checked on the real ERIC return against hospital points and trust
head offices, with the distances computed here independently, and on fixtures in other layouts
(trust head offices as a CSV of longitudes and latitudes, no head offices at all).
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point

from assets_map import cli
from assets_map.io.eric import OWNER_RADIUS_M
from assets_map.io.importer import import_file
from assets_map.io.report import InputError

ERIC = ("Organisation Code,Organisation Name,Site Code,Site Name,Site Type,Gross internal floor area (m\u00b2),"
        "Land area not delivering services (Hectares),Floor area - empty (%),Floor area - under used (%)\n"
        "RYX,LEEDS EXAMPLE NHS TRUST,RYX01,ST JAMES'S HOSPITAL,1. General acute hospital,9000,0,1,1\n"
        "RYX,LEEDS EXAMPLE NHS TRUST,RYX02,CHAPEL ALLERTON HOSPITAL,1. General acute hospital,5000,0,1,1\n"
        "RYX,LEEDS EXAMPLE NHS TRUST,RYX03,WHARFEDALE HOSPITAL,7. Community hospital,3000,0,1,1\n"
        "RYX,LEEDS EXAMPLE NHS TRUST,RYX04,MOUNT VERNON HOSPITAL,7. Community hospital,2000,0,40,1\n"
        "RZZ,LONE EXAMPLE NHS TRUST,RZZ01,SEACROFT HOSPITAL,7. Community hospital,1000,0,1,1\n")

# (name, lon, lat): three Leeds hospitals, and the only Mount Vernon in the file, at Northwood (London)
HOSPITALS = [("St James's Hospital", -1.5215, 53.8066), ("Chapel Allerton Hospital", -1.5356, 53.8284),
             ("Wharfedale Hospital", -1.6820, 53.9110), ("Mount Vernon Hospital", -0.4367, 51.6094),
             ("Seacroft Hospital", -1.4581, 53.8180)]


@pytest.fixture
def eric(tmp_path):
    p = tmp_path / "eric_site_data.csv"
    p.write_text(ERIC, encoding="utf-8")
    return p


@pytest.fixture
def hospitals(tmp_path):
    g = gpd.GeoDataFrame({"hospital_name": [h[0] for h in HOSPITALS]},
                         geometry=[Point(h[1], h[2]) for h in HOSPITALS], crs=4326)
    p = tmp_path / "hospitals.gpkg"
    g.to_file(p, engine="pyogrio")
    return p


@pytest.fixture
def trusts_csv(tmp_path):
    # head offices as a plain CSV (another layout than the GeoPackage of points): code, name, longitude, latitude
    p = tmp_path / "trust_head_offices.csv"
    p.write_text("Org Code,Trust Name,Longitude,Latitude\nRYX,Leeds Example NHS Trust,-1.5491,53.8008\n"
                 "RZZ,Lone Example NHS Trust,-1.5491,53.8008\n", encoding="utf-8")
    return p


def test_a_same_named_place_far_from_the_trust_stays_unplaced(eric, hospitals):
    gdf, report = import_file(eric, locations=hospitals)
    d = gdf.set_index("asset_id")
    mv = d.loc["RYX04"]
    assert mv["location_quality"] == "none" and mv.geometry is None or mv.geometry.is_empty
    assert "km from the middle of the trust's 4 matched sites" in mv["location_note"]
    assert "not placed" in mv["location_note"]
    far = next(i for i in report.issues if "more than 90 km from the trust's area" in i.message)
    assert far.rows == [4]
    # the Leeds sites are placed, each with how it was matched and how far it lies from the trust's middle
    leeds = d.loc[["RYX01", "RYX02", "RYX03"]]
    assert (leeds["location_quality"] == "matched location").all() and (leeds["location_match"] == "name").all()
    assert (leeds["match_distance_km"] < 20).all()
    # a single-site trust has no area to check against: kept, and said to be unchecked
    lone = d.loc["RZZ01"]
    assert lone["location_quality"] == "matched location" and np.isnan(lone["match_distance_km"])
    assert "could not be checked" in lone["location_note"]
    assert next(i for i in report.issues if "trust's area is not known" in i.message).rows == [5]


def test_head_offices_in_a_csv_check_every_match(eric, hospitals, trusts_csv):
    gdf, report = import_file(eric, locations=[hospitals, trusts_csv])
    d = gdf.set_index("asset_id")
    assert d.loc["RYX04", "location_quality"] == "none"
    assert "km from the trust's head office in trust_head_offices.csv" in d.loc["RYX04", "location_note"]
    # the lone trust is checked now: Seacroft is 6 km from its head office
    assert d.loc["RZZ01", "location_quality"] == "matched location"
    assert 4 < d.loc["RZZ01", "match_distance_km"] < 8
    assert not any("trust's area is not known" in i.message for i in report.issues)
    # head offices are never matched as sites: no site took a trust's name
    assert "Trust" not in " ".join(d["location_note"].dropna())


def test_head_offices_alone_are_refused(eric, trusts_csv):
    with pytest.raises(InputError, match="only organisation"):
        import_file(eric, locations=[trusts_csv])


def test_analyse_takes_locations_twice(eric, hospitals, trusts_csv, trafford, tmp_path, capsys):
    out = tmp_path / "nhs.gpkg"
    rc = cli.main(["analyse", "--assets", str(eric), "--locations", str(hospitals), "--locations", str(trusts_csv),
                   "--boundaries", str(trafford["lsoa11"]), "--deprivation", str(trafford["iod_long"]),
                   "--out", str(out)])
    assert rc == 0
    assets = gpd.read_file(out, layer="assets", engine="pyogrio").set_index("asset_id")
    assert assets.loc["RYX04", "location_quality"] == "none"
    assert assets.loc["RZZ01", "location_quality"] == "matched location"


def test_real_return_no_match_outside_its_trust(shared):
    nhs = shared("nhs")
    gdf, report = import_file(nhs / "eric_hefs_site_and_trust_data_13944.xls",
                              locations=[nhs / "hospitals22_points.gpkg", nhs / "nhs_trusts22_points.gpkg"])
    trusts = gpd.read_file(nhs / "nhs_trusts22_points.gpkg", engine="pyogrio").to_crs(27700)
    office = dict(zip(trusts["nhs_trust22_code"], trusts.geometry, strict=True))
    placed = gdf[gdf["location_quality"] == "matched location"]
    assert len(placed) > 300
    with_office = placed[placed["organisation_code"].isin(list(office))]
    dist = np.array([g.distance(office[c]) for g, c in zip(with_office.geometry, with_office["organisation_code"],
                                                            strict=True)])
    # computed here: no placed site lies further than the radius from its trust's head office ...
    assert dist.max() <= OWNER_RADIUS_M
    # ... and the distance each records is that distance
    assert np.allclose(with_office["match_distance_km"].to_numpy(), np.round(dist / 1000, 2), atol=0.01)
    assert placed["location_match"].notna().all()
    # the known same-named places of other trusts are left unplaced, with the distance
    d = gdf.set_index("asset_id")
    wrong = {("RXG", "MOUNT VERNON HOSPITAL"), ("RX4", "ST GEORGES HOSPITAL, MORPETH"), ("RDY", "PORTLAND HOSPITAL"),
             ("RJF", "QUEEN'S HOSPITAL")}
    keys = list(zip(d["organisation_code"], d["name"], strict=True))
    assert sum(k in wrong for k in keys) == 4
    # the Hillingdon trust's own Mount Vernon is its own: placed
    assert (d.loc[d["organisation_code"].eq("RAS") & d["name"].eq("MOUNT VERNON HOSPITAL"), "location_quality"]
            == "matched location").all()
    for code in d.index[[k in wrong for k in keys]]:
        assert d.loc[code, "location_quality"] == "none", code
        assert "km from the" in d.loc[code, "location_note"]


def test_real_return_without_head_offices_uses_the_trusts_own_sites(shared):
    nhs = shared("nhs")
    gdf, report = import_file(nhs / "eric_hefs_site_and_trust_data_13944.xls", locations=nhs / "hospitals22_points.gpkg")
    d = gdf[gdf["location_quality"] == "matched location"]
    # independent: the median of each trust's placed sites (three or more) lies within the radius of each of them
    for _org, grp in d.groupby("organisation_code"):
        if len(grp) >= 3:
            cx, cy = np.median(grp.geometry.x), np.median(grp.geometry.y)
            assert (np.hypot(grp.geometry.x - cx, grp.geometry.y - cy) <= OWNER_RADIUS_M * 1.5).all()
    morpeth = gdf[gdf["name"] == "ST GEORGES HOSPITAL, MORPETH"].iloc[0]
    assert morpeth["location_quality"] == "none" and "middle of the trust's" in morpeth["location_note"]
    # a lone trust's match is checked against its region: Mount Vernon (a North trust) is not placed in London
    vernon = gdf[(gdf["organisation_code"] == "RXG") & (gdf["name"] == "MOUNT VERNON HOSPITAL")].iloc[0]
    assert vernon["location_quality"] == "none" and "nearest checked site of the trust's region" in vernon["location_note"]
    # every placed site says what it was checked against: its trust's sites, its region, or that it could not be
    notes = d["location_note"]
    assert (notes.str.contains("km from the middle of the trust's") | notes.str.contains("of the trust's region")
            | notes.str.contains("could not be checked")).all()
    unchecked = [i for i in report.issues if "trust's area is not known" in i.message]
    assert sum(len(i.rows) for i in unchecked) == int(notes.str.contains("could not be checked").sum())


def test_a_lone_trusts_match_is_checked_against_its_region(tmp_path, hospitals):
    # the layout of returns that state each trust's region: a lone North trust's only match lies in London
    rows = ERIC.replace("Site Type,", "Commissioning Region,Site Type,", 1).splitlines()
    region = {"RYX": "NORTH OF ENGLAND COMMISSIONING REGION", "RZZ": "NORTH OF ENGLAND COMMISSIONING REGION"}
    body = []
    for line in rows[1:]:
        cells = line.split(",")
        if cells[0] == "RYX" and cells[2] == "RYX04":
            continue  # the Leeds trust has only its three Leeds sites here
        cells.insert(4, region[cells[0]])
        body.append(",".join(cells))
    body.append("RZZ,LONE EXAMPLE NHS TRUST,RZZ02,MOUNT VERNON HOSPITAL,NORTH OF ENGLAND COMMISSIONING REGION,"
                "7. Community hospital,2000,0,40,1")
    body = [b for b in body if ",RZZ01," not in b]
    p = tmp_path / "eric_regions.csv"
    p.write_text("\n".join([rows[0]] + body) + "\n", encoding="utf-8")
    gdf, report = import_file(p, locations=hospitals)
    d = gdf.set_index("asset_id")
    assert d.loc["RZZ02", "location_quality"] == "none"
    assert "from the nearest checked site of the trust's region (North Of England" in d.loc["RZZ02", "location_note"]
    assert (d.loc[["RYX01", "RYX02", "RYX03"], "location_quality"] == "matched location").all()


def test_an_unchecked_match_is_marked_check_location_and_never_high(eric, hospitals, shared):
    from assets_map.engine.pipeline import analyse

    eng = shared("england")
    result = analyse(eric, eng / "lsoa21_boundaries_ew.gpkg", eng / "imd2025_lsoa21_scores_ranks_deciles.csv",
                     locations=[hospitals])
    d = result.assets.set_index("asset_id")
    lone = d.loc["RZZ01"]
    assert lone["location_check"].startswith("check location: matched by name; its trust's area is not known")
    assert lone["priority"] != "High"
    # the Leeds sites were checked against their trust's own matched sites: no mark
    assert d.loc[["RYX01", "RYX02", "RYX03"], "location_check"].isna().all()


def test_a_site_directory_that_also_lists_its_trusts_serves_for_both(eric, tmp_path):
    # an ODS-style directory: site codes and names, and the trusts' own rows with their organisation codes
    rows = [("RYX01", "St James's Hospital", -1.5215, 53.8066), ("RYX02", "Chapel Allerton Hospital", -1.5356, 53.8284),
            ("RYX03", "Wharfedale Hospital", -1.6820, 53.9110), ("RYX04", "Mount Vernon Hospital", -0.4367, 51.6094),
            ("RZZ01", "Seacroft Hospital", -1.4581, 53.8180), ("RYX", "Leeds Example NHS Trust", -1.5491, 53.8008),
            ("RZZ", "Lone Example NHS Trust", -1.5491, 53.8008)]
    g = gpd.GeoDataFrame({"code": [r[0] for r in rows], "name": [r[1] for r in rows]},
                         geometry=[Point(r[2], r[3]) for r in rows], crs=4326)
    p = tmp_path / "directory.gpkg"
    g.to_file(p, engine="pyogrio")
    gdf, report = import_file(eric, locations=p)
    d = gdf.set_index("asset_id")
    # placed by site code, and checked against the trust's own row
    assert (d.loc[["RYX01", "RYX02", "RYX03", "RZZ01"], "location_match"] == "site code").all()
    assert "head office" in d.loc["RZZ01", "location_note"]
    assert d.loc["RYX04", "location_quality"] == "none"  # its code points at Northwood, 250 km from its trust
