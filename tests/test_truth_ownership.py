"""Issue 13, rule 3: brownfield ownership is read, never assumed; private land is never an anchor's.

Every spelling of the ownership status is understood (a denial is never read as public); land
not owned by a public body gets no organisation, no anchor's route and no flag; mixed or unknown
ownership says so; brownfield evidence (hectares, permission, deliverability) reaches underuse for
public land through the one pipeline; the harmonised ``point`` WKT column places sites; a cell
merging hectares and ownership is split.
"""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from assets_map.community.routes import routes_for
from assets_map.engine.pipeline import analyse
from assets_map.engine.priority import prioritise
from assets_map.io.brownfield import normalise_ownership
from assets_map.io.importer import import_bytes, import_file

SPELLINGS = {
    "owned by a public authority": "public", "OWNED BY A PUBLIC AUTHORITY": "public", "Public": "public",
    "LA owned": "public", "LA-owned": "public", "council owned": "public", "Council": "public",
    "Local Authority": "public", "In public ownership": "public", "Homes England": "public",
    "not owned by a public authority": "private", "Not owned by a public authority": "private",
    "Not in public ownership": "private", "not in public ownership": "private", "private": "private",
    "Private": "private", "Privately owned": "private", "Non-public": "private", "non public": "private",
    "Not council owned": "private", "Not owned by the council": "private", "Not LA owned": "private",
    "mixed ownership": "mixed", "Mixed": "mixed", "partly public": "mixed", "Part public, part private": "mixed",
    "Public/Private": "mixed", "Local Authority, Unknown": "mixed",
    "unknown ownership": "unknown", "Unknown": "unknown", "not known": "unknown", "": "unknown", None: "unknown",
    "Department store": "unknown",
}


@pytest.mark.parametrize("text", list(SPELLINGS))
def test_every_spelling_of_ownership(text):
    assert normalise_ownership(text) == SPELLINGS[text]


def test_real_spellings_in_shared_registers(shared):
    """Every ownership value in the real registers reads as its words say; no denial is read as public."""
    files = [shared("brownfield_raw", f) for f in ("fylde.csv", "leicester.csv", "rochdale.csv")]
    files.append(shared("trafford", "brownfield_register_harmonised.csv"))
    expected = {"fylde.csv": {"private": 41, "public": 4, "mixed": 1, "unknown": 1},
                "leicester.csv": {"private": 62, "public": 2, "mixed": 2},
                "rochdale.csv": {"unknown": 95, "public": 24, "mixed": 9},
                "brownfield_register_harmonised.csv": {"private": 45, "public": 9, "unknown": 9}}
    for f in files:
        gdf, _ = import_file(f)
        counts = gdf["ownership"].value_counts().to_dict()
        assert counts == expected[f.name], f.name
        private = gdf[gdf["ownership"] != "public"]
        assert private["organisation"].isna().all() and private["brownfield_ref"].isna().all()
        assert (private["anchor_type"] == "other").all()


REGISTER = (
    "OrganisationLabel,SiteReference,SiteNameAddress,CoordinateReferenceSystem,GeoX,GeoY,Hectares,"
    "OwnershipStatus,PlanningStatus,Deliverable,LastUpdatedDate\n"
    "Example Council,P1,Old depot,OSGB36,380100,395100,1.2,owned by a public authority,not permissioned,yes,2023-01-05\n"
    "Example Council,N1,Mill yard,OSGB36,380200,395200,0.4,Not in public ownership,permissioned,yes,2023-01-05\n"
    "Example Council,N2,Car wash,OSGB36,380300,395300,0.3,not owned by a public authority,permissioned,yes,2023-01-05\n"
    "Example Council,M1,Gasworks,OSGB36,380400,395400,2.0,mixed ownership,permissioned,yes,2023-01-05\n"
    "Example Council,U1,Works,OSGB36,380500,395500,0.9,Unknown,permissioned,no,2023-01-05\n"
)


def _areas(tmp_path):
    needs = gpd.GeoDataFrame({"lsoa_code": ["E01000001"], "lsoa_name": ["Example 001A"], "imd_decile": [1],
                              "iod_year": [2019]}, geometry=[box(379000, 394000, 382000, 397000)], crs=27700)
    path = tmp_path / "needs.geojson"
    needs.to_crs(4326).to_file(path, driver="GeoJSON")
    return path


def test_private_land_is_never_an_anchors_never_routed_never_flagged(tmp_path):
    reg = tmp_path / "brownfield.csv"
    reg.write_text(REGISTER)
    result = analyse(reg, _areas(tmp_path))
    d = result.assets.set_index("asset_id")
    assert d.loc["N1", "ownership"] == "private"  # "Not in public ownership" was read as public
    for site in ("N1", "N2"):
        row = d.loc[site]
        assert pd.isna(row["organisation"]) and row["anchor_type"] == "other"
        assert row["priority"] == "not flagged"
        assert "not in public ownership (owner not published)" in row["reasons"]
        assert "council" not in row["reasons"].split("Transfer:")[-1].replace("no council", "")
        routes = routes_for(row.to_dict())
        assert all("council's community asset transfer" not in r.why and r.key != "public_surplus" for r in routes)
        assert "not in public ownership (owner not published)" in routes[0].why
    # even with evidence of underuse, private land is not a candidate for transfer
    forced = result.assets.copy()
    forced["underuse_score"] = 0.9
    again = prioritise(forced).set_index("asset_id")
    assert (again.loc[["N1", "N2"], "priority"] == "not flagged").all()
    assert again.loc["N1", "reasons"].startswith("Not flagged: not in public ownership (owner not published)")
    assert again.loc["P1", "priority"] == "High"
    # mixed and unknown ownership say so, in the reasons and the route
    assert "mixed ownership" in d.loc["M1", "reasons"] and "mixed ownership" in routes_for(d.loc["M1"].to_dict())[0].why
    assert "ownership not known" in d.loc["U1", "reasons"]
    assert "ownership not known" in routes_for(d.loc["U1"].to_dict())[0].why
    # brownfield evidence (hectares, permission, deliverability) reaches underuse for public land only
    assert d.loc["P1", "underuse_score"] > 0
    assert "1.2 ha, planning: not permissioned, deliverable: yes" in d.loc["P1", "reasons"]
    assert (d.loc[["N1", "N2", "M1", "U1"], "underuse_score"] == 0).all()


def test_underuse_ignores_brownfield_evidence_on_land_not_public():
    from assets_map.engine.underuse import score_underuse
    gdf = gpd.GeoDataFrame({"asset_id": ["a", "b"], "ownership": ["public", "private"],
                            "brownfield_ref": ["X register, site a", "X register, site b"]},
                           geometry=[Point(0, 0), Point(1, 1)], crs=27700)
    scored = score_underuse(gdf).set_index("asset_id")
    assert scored.loc["a", "underuse_score"] > 0 and scored.loc["b", "underuse_score"] == 0


def test_harmonised_point_wkt_is_the_location():
    text = ("entry-date,organisation,site,site-address,ownership,planning-permission-status,hectares,point,name\n"
            "2020-01-01,local-authority-eng:XYZ,7,Old mill,owned by a public authority,permissioned,0.8,"
            "POINT(-2.329392 53.446622),X Council\n"
            "2020-01-01,local-authority-eng:XYZ,8,Depot,not owned by a public authority,permissioned,0.5,"
            "POINT (-2.274386 53.452801),X Council\n")
    gdf, report = import_bytes(text.encode(), "harmonised.csv")
    assert gdf["location_quality"].eq("register coordinates").all(), gdf["location_note"].tolist()
    lonlat = gdf.to_crs(4326).set_index("asset_id").geometry
    assert abs(lonlat["7"].x + 2.329392) < 1e-6 and abs(lonlat["7"].y - 53.446622) < 1e-6
    assert abs(lonlat["8"].x + 2.274386) < 1e-6
    assert any("WKT column 'point'" in i.message for i in report.issues)


def test_merged_hectares_and_ownership_cells_are_split():
    text = ("SiteReference,SiteNameAddress,GeoX,GeoY,Hectares,OwnershipStatus,PlanningStatus,OrganisationLabel\n"
            "A1,Yard,380100,395100,0.39 Not owned by a public authority,,permissioned,Example Council\n"
            "A2,Depot,380200,395200,,1.5 owned by a public authority,permissioned,Example Council\n"
            "A3,Works,380300,395300,2.25 ha mixed ownership,mixed ownership,permissioned,Example Council\n")
    gdf, report = import_bytes(text.encode(), "merged.csv")
    d = gdf.set_index("asset_id")
    assert d["site_area_ha"].tolist() == [0.39, 1.5, 2.25]
    assert d["ownership"].tolist() == ["private", "public", "mixed"]
    assert pd.isna(d.loc["A1", "organisation"]) and d.loc["A2", "organisation"] == "Example Council"
    merged = [i for i in report.issues if "merged in one cell" in i.message]
    assert merged and merged[0].rows == [1, 2, 3]
