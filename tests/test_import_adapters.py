"""The adapters on samples made here: LGTC registers as councils publish them, brownfield registers
(statutory, variants, harmonised editions), NHS ERIC site data with locations, and deprivation vintages."""
from __future__ import annotations

import io
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from assets_map import cli
from assets_map.engine.underuse import score_underuse
from assets_map.io.brownfield import attach_brownfield, normalise_ownership
from assets_map.io.eric import core_name, normalise_name
from assets_map.io.importer import import_bytes, import_file
from assets_map.io.report import InputError


def issue(report, text):
    hits = [i for i in report.issues if text in i.message]
    assert hits, f"no issue containing {text!r} in {[i.message for i in report.issues]}"
    return hits[0]


# ---------------------------------------------------------------- LGTC registers

REGISTER = (
    "Title: Land and building assets register (published 2024)\n"
    "OrganisationLabel,AssetCode,UPRN,PropertyName,PostCode,CoordinateReferenceSystem,GeoX,GeoY,TenureType,"
    "HoldingType,TenureDetail,PropertyName\n"
    'Borough Council,00123,000100012345,"Old Library\nand Annexe",M32 0TH,WGS84,-2.3551,53.4512,Frehold,Lnad & Buliding,Vacent,Library\n'
    "Borough Council,00124,,Depot,M31,WGS84,378000,390000,LEASEHOLD ,Building,Occupied,Depot\n"
    "Borough Council,00125,,Caf\u00e9,WA14 1AB,British National Grid,-2.33,53.44,Freehold,Land,Surplus,Cafe\n"
)


def test_lgtc_register_as_councils_publish_it():
    gdf, report = import_bytes(REGISTER.encode("cp1252"), "register.csv")
    assert report.adapter.startswith("land and building assets register")
    assert report.rows_read == 3 and len(gdf) == 3
    d = gdf.set_index("asset_id")
    # codes and UPRNs stay text with their leading zeros
    assert list(d.index) == ["00123", "00124", "00125"]
    assert d.loc["00123", "uprn"] == "000100012345"
    # a line break inside a quoted field stays in the value
    assert d.loc["00123", "name"] == "Old Library\nand Annexe"
    # cp1252 read, and said so
    assert d.loc["00125", "name"] == "Caf\u00e9"
    issue(report, "Windows-1252")
    # the title line above the header was skipped, and said so
    issue(report, "above the header row were skipped")
    # a duplicated column kept under a new name
    assert "src_PropertyName.1" in gdf.columns
    issue(report, "'PropertyName' appears more than once")
    # tenure/holding/status normalised (misspellings too) with the originals kept
    assert d.loc["00123", ["tenure", "holding_type", "status"]].tolist() == ["freehold", "both", "vacant"]
    assert d.loc["00124", "tenure"] == "leasehold"
    assert d.loc["00123", "src_TenureType"] == "Frehold"
    fixed = issue(report, "TenureType values normalised")
    assert fixed.rows == [1]
    # a BNG row in a WGS84 file is read by its values; the stated CRS contradicted is reported by row
    assert d.loc["00124", "geometry"].equals(Point(378000, 390000))
    contra = issue(report, "stated CRS contradicted")
    assert contra.rows == [2, 3]
    expected = gpd.GeoSeries([Point(-2.3551, 53.4512)], crs=4326).to_crs(27700).iloc[0]
    assert d.loc["00123", "geometry"].distance(expected) < 0.01


def test_register_in_excel_and_geopackage(tmp_path):
    buf = io.BytesIO()
    pd.DataFrame({"Asset Ref": ["007", "008"], "Site Name": ["Hall", "Yard"], "Easting": [380000, 381000],
                  "Northing": [395000, 396000]}).to_excel(buf, index=False)
    gdf, report = import_bytes(buf.getvalue(), "assets.xlsx")
    assert gdf["asset_id"].tolist() == ["007", "008"]
    assert gdf.geometry.x.tolist() == [380000, 381000]
    g = gpd.GeoDataFrame({"AssetCode": ["1"], "Use": ["Offices"]}, geometry=[box(380000, 395000, 380100, 395100)], crs=27700)
    g.to_file(tmp_path / "p.gpkg", engine="pyogrio")
    gdf, report = import_file(tmp_path / "p.gpkg")
    assert gdf["location_quality"].tolist() == ["surveyed"]
    assert gdf["site_area_ha"].iloc[0] == pytest.approx(1.0)


# ---------------------------------------------------------------- brownfield

STATUTORY = (
    "OrganisationURI,OrganisationLabel,SiteReference,SiteNameAddress,CoordinateReferenceSystem,GeoX,GeoY,Hectares,"
    "OwnershipStatus,PlanningStatus,LastUpdatedDate\n"
    "u,Example Council,BF1,Old depot,WGS84,380000,395000,1.2,owned by a public authority,not permissioned,2023-01-05\n"
    "u,Example Council,BF2,Mill yard,WGS84,381000,396000,0.4,not owned by a public authority,permissioned,2023-01-05\n"
    "u,Example Council,BF3,Gasworks,WGS84,810000,300000,2.0,mixed ownership,permissioned,2023-01-05\n"
)


def test_brownfield_statutory_with_contradicting_crs_and_swapped_columns():
    gdf, report = import_bytes(STATUTORY.encode(), "brownfield.csv")
    assert report.adapter.startswith("brownfield register (statutory layout)")
    d = gdf.set_index("asset_id")
    assert d["ownership"].tolist() == ["public", "private", "mixed"]
    assert d.loc["BF1", "brownfield_ref"] == ("Example Council brownfield land register, site BF1, 1.2 ha, "
                                              "planning: not permissioned, 2023-01-05")
    assert d.loc[["BF2", "BF3"], "brownfield_ref"].isna().all()
    # the publisher is not the owner of sites that are not publicly owned
    assert d.loc["BF1", "organisation"] == "Example Council" and d.loc["BF1", "anchor_type"] == "council"
    assert d.loc["BF2", "organisation"] is None and d.loc["BF2", "register_publisher"] == "Example Council"
    assert d["site_area_ha"].tolist() == [1.2, 0.4, 2.0]
    issue(report, "stated CRS contradicted")
    assert d.loc["BF3", "geometry"].equals(Point(300000, 810000))  # northing/easting swapped back
    assert issue(report, "easting and northing were swapped").rows == [3]
    # the evidence reaches the underuse score
    scored = score_underuse(gdf).set_index("asset_id")
    assert any("brownfield land register" in r for r in scored.loc["BF1", "underuse_reasons"])
    assert not any("brownfield" in r for r in scored.loc["BF2", "underuse_reasons"])


def test_brownfield_upper_case_variant_headers():
    text = ("LA SITE REF,NAME AND ADDRESS OF SITE,GeoY,GeoX,COORDINATE REFERENCE SYSTEM,AREA (HA),LOCAL AUTHORITY,"
            "OWNERSHIP STATUS,PLANNING STATUS\n"
            "SH 1,Depot,412564,389547,British Coordinate Systems,0.04,Rochdale,\"Local Authority, Unknown\",Not Permissioned\n"
            "SH 2,Yard,416740,394320,British Coordinate Systems,0.33,Rochdale,Local Authority,Not Permissioned\n")
    gdf, report = import_bytes(text.encode(), "rochdale_like.csv")
    d = gdf.set_index("asset_id")
    assert d["ownership"].tolist() == ["mixed", "public"]
    assert d.loc["SH 2", "geometry"].equals(Point(394320, 416740))  # columns in another order, read by header
    assert d["site_area_ha"].tolist() == [0.04, 0.33]
    assert d.loc["SH 2", "brownfield_ref"].startswith("Rochdale brownfield land register, site SH 2")


def test_harmonised_layout_keeps_latest_edition_per_site():
    text = ("resource-date,entry-date,organisation,site,site-address,ownership,planning-permission-status,"
            "latitude,longitude,hectares,end-date,name\n"
            "2018-05-22,2017-12-18,local-authority-eng:XYZ,101,Old mill,not owned by a public authority,permissioned,53.45,-2.33,0.8,,X Council\n"
            "2020-04-09,2019-10-30,local-authority-eng:XYZ,101,Old mill (revised),owned by a public authority,permissioned,53.45,-2.33,0.9,,X Council\n"
            "2019-11-26,2018-11-21,local-authority-eng:XYZ,102,Depot,owned by a public authority,not permissioned,53.46,-2.30,1.1,2021-01-01,X Council\n")
    gdf, report = import_bytes(text.encode(), "harmonised.csv")
    assert report.rows_read == 3 and report.rejected == 1 and len(gdf) == 2
    older = issue(report, "an older edition of a site")
    assert older.rows == [1]
    issue(report, "3 register editions (resource-date 2018-05-22 to 2020-04-09)")
    d = gdf.set_index("asset_id")
    assert d.loc["101", "name"] == "Old mill (revised)" and d.loc["101", "source_row"] == 2
    assert d.loc["101", "organisation"] == "X Council"  # the name column, not the organisation code
    assert d.loc["101", "brownfield_ref"].startswith("X Council brownfield land register, site 101")
    assert pd.isna(d.loc["102", "brownfield_ref"])  # ended on the register: not evidence
    assert issue(report, "has an end-date").rows == [3]


@pytest.mark.parametrize("text,expected", [
    ("owned by a public authority", "public"), ("Owned by a public authority", "public"),
    ("not owned by a public authority", "private"), ("Private", "private"), ("mixed ownership", "mixed"),
    ("Local Authority", "public"), ("Local Authority, Unknown", "mixed"), ("unknown ownership", "unknown"),
    (None, "unknown"), ("", "unknown"),
])
def test_ownership_words(text, expected):
    assert normalise_ownership(text) == expected


def test_attach_brownfield_to_register_assets():
    assets = gpd.GeoDataFrame({"asset_id": ["a", "b"]}, geometry=[Point(380010, 395000), Point(390000, 400000)], crs=27700)
    bf, _ = import_bytes(STATUTORY.encode(), "brownfield.csv")
    out, n = attach_brownfield(assets, bf, max_distance=50)
    assert n == 1
    assert out["brownfield_ref"].tolist()[0].startswith("Example Council brownfield land register, site BF1")
    assert out["brownfield_ref"].isna().tolist() == [False, True]
    assert "brownfield_ref" not in assets.columns  # the frame passed in is unchanged


# ---------------------------------------------------------------- NHS ERIC

ERIC_CSV = (
    ",,,,,,Areas,,,Function and Space,,Quality of Buildings,,,\n"
    "Organisation Code,Organisation Name,Site Code,Site Name,Site Type,Gross internal floor area (m\u00b2),"
    "Land area owned (Hectares),Land area not delivering services (Hectares),Floor area - empty (%),"
    "Floor area - under used (%),Cost to eradicate high risk backlog (\u00a3),Cost to eradicate significant risk backlog (\u00a3),"
    "Cost to eradicate moderate risk backlog (\u00a3),Cost to eradicate low risk backlog (\u00a3),Notes\n"
    "RX1,EXAMPLE NHS TRUST,AGGRE,AGGREGATE SITE,Aggregate Site,500,1,0,3,1,10,20,30,40,\n"
    "RX1,EXAMPLE NHS TRUST,RX101,ST. MARY'S HOSPITAL,1. General acute hospital,20000,5,1.5,12.5,4,100,200,300,400,\n"
    "RX1,EXAMPLE NHS TRUST,RX102,EDGEWARE COMMUNITY HOSPITAL,7. Community hospital,3000,1,0,0,0,0,0,0,0,\n"
    "RX1,EXAMPLE NHS TRUST,RX103,QUEEN ELIZABETH HOSPITAL,1. General acute hospital,9000,2,0,150,0,0,0,0,0,\n"
    "RX1,EXAMPLE NHS TRUST,RX104,TENBURY COMMUNITY HOSPITAL,7. Community hospital,900,1,0,0,0,0,0,0,0,\n"
    "RX2,OTHER NHS TRUST,AGGRE,AGGREGATE SITE,Aggregate Site,100,1,0,0,0,0,0,0,0,\n"
)


@pytest.fixture
def hospitals(tmp_path):
    g = gpd.GeoDataFrame({"hospital_name": ["St Marys Hospital", "Edgware Community Hospital", "Queen Elizabeth Hospital",
                                            "Queen Elizabeth Hospital", "Tewkesbury Community Hospital"]},
                         geometry=[Point(-2.30, 53.40), Point(-0.27, 51.61), Point(0.0, 51.5), Point(-1.9, 52.4),
                                   Point(-2.16, 51.99)], crs=4326)
    p = tmp_path / "hospitals.gpkg"
    g.to_file(p, engine="pyogrio")
    return p


def test_eric_site_data_with_name_only_locations(tmp_path, hospitals):
    gdf, report = import_bytes(ERIC_CSV.encode("utf-8"), "eric_site_data.csv", locations=hospitals)
    assert report.adapter.startswith("NHS ERIC site data")
    assert report.rows_read == 6 and len(gdf) == 6
    d = gdf.set_index("asset_id")
    # the two-row header: group names skipped, field names used
    site = d.loc["RX101"]
    assert (site["empty_floor_pct"], site["underused_floor_pct"], site["land_idle_ha"]) == (12.5, 4.0, 1.5)
    assert site["floor_area_m2"] == 20000 and site["site_area_ha"] == 5 and site["backlog_cost_gbp"] == 1000
    assert site["anchor_type"] == "nhs" and site["organisation"] == "EXAMPLE NHS TRUST"
    # matched by normalised name ("ST. MARY'S" = "St Marys"), how it was matched is said
    assert site["location_quality"] == "matched location" and site["location_match"] == "name"
    assert "St Marys Hospital" in site["location_note"]
    assert d.loc["RX102", "location_match"] == "close name"
    # ambiguous (two Queen Elizabeth Hospitals) and wrong close spellings (Tenbury vs Tewkesbury) stay unplaced
    assert d.loc["RX103", "location_quality"] == "none" and "matches 2 locations" in d.loc["RX103", "location_note"]
    assert d.loc["RX104", "location_quality"] == "none"
    assert issue(report, "no location in hospitals.gpkg has the site's code or name").rows == [5]
    # an impossible percentage is reported and set to missing, the original kept
    assert np.isnan(d.loc["RX103", "empty_floor_pct"]) and issue(report, "outside 0-100%").rows == [4]
    # AGGREGATE SITE rows are kept, identifiable, unplaced and reported
    agg = gdf[gdf["eric_aggregate"]]
    assert agg["asset_id"].tolist() == ["RX1-AGGREGATE", "RX2-AGGREGATE"]
    assert (agg["location_quality"] == "none").all()
    assert issue(report, "AGGREGATE SITE row").rows == [1, 6]
    assert report.placed_by == {"matched location (close name)": 1, "matched location (name)": 1}
    assert report.unplaced == 4
    # the evidence reaches the underuse score
    scored = score_underuse(gdf).set_index("asset_id")
    reasons = " ".join(scored.loc["RX101", "underuse_reasons"])
    assert "12.5% of its floor area is reported empty" in reasons and "1.5 ha of its land" in reasons


def test_eric_located_by_site_code(tmp_path):
    g = gpd.GeoDataFrame({"code": ["RX101", "RX103"], "label": ["A", "B"]},
                         geometry=[Point(380000, 395000), Point(381000, 396000)], crs=27700)
    p = tmp_path / "sites.geojson"
    g.to_crs(4326).to_file(p, engine="pyogrio")
    gdf, report = import_file(_write(tmp_path, "eric.csv", ERIC_CSV), locations=p)
    d = gdf.set_index("asset_id")
    assert d.loc["RX101", "location_match"] == "site code" and d.loc["RX103", "location_match"] == "site code"
    assert d.loc["RX103", "geometry"].distance(Point(381000, 396000)) < 0.5
    issue(report, "by site code (column 'code')")


def test_eric_without_locations_lists_every_site_unplaced(tmp_path):
    gdf, report = import_file(_write(tmp_path, "eric.csv", ERIC_CSV))
    assert report.unplaced == 6
    assert issue(report, "no locations file was given").rows == [2, 3, 4, 5]


def test_eric_excel_workbook_picks_site_data_sheet(tmp_path):
    rows = [line.split(",") for line in ERIC_CSV.splitlines()]
    buf = io.BytesIO()
    with pd.ExcelWriter(buf) as xw:
        pd.DataFrame([["Trust", "x"]]).to_excel(xw, sheet_name="Trust Data", index=False, header=False)
        pd.DataFrame(rows).to_excel(xw, sheet_name="Site Data", index=False, header=False)
    gdf, report = import_bytes(buf.getvalue(), "eric.xlsx")
    assert len(gdf) == 6
    issue(report, "sheet 'Site Data' was read")


def test_name_normalisation():
    assert normalise_name("ST. MARY'S HOSPITAL") == normalise_name("St Marys Hospital") == "SAINT MARYS HOSPITAL"
    assert normalise_name("ST.GEORGES") == "SAINT GEORGES"
    assert core_name("ROYAL MARSDEN HOSPITAL, SUTTON") == "ROYAL MARSDEN HOSPITAL"
    assert core_name("The Christie (Oldham)") == "CHRISTIE"


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ---------------------------------------------------------------- deprivation

def _boundaries(tmp_path, codes, name):
    g = gpd.GeoDataFrame({"lsoa21cd" if "21" in name else "lsoa11cd": codes},
                         geometry=[box(380000 + i * 100, 395000, 380100 + i * 100, 395100) for i in range(len(codes))],
                         crs=27700)
    p = tmp_path / name
    g.to_file(p, engine="pyogrio")
    return p


def test_deprivation_vintage_checked_against_boundaries(tmp_path):
    iod2019 = _write(tmp_path, "iod2019.csv", "LSOA code (2011),Index of Multiple Deprivation (IMD) Rank,"
                     "Index of Multiple Deprivation (IMD) Decile\nE01000001,100,1\nE01000002,30000,10\n")
    b11 = _boundaries(tmp_path, ["E01000001", "E01000002"], "lsoa11.gpkg")
    needs, report = import_file(iod2019, boundaries=b11)
    assert report.adapter.startswith("English Indices of Deprivation")
    assert needs["imd_decile"].tolist() == [1, 10] and report.placed_by == {"LSOA boundaries": 2}
    b21 = _boundaries(tmp_path, ["E01000001", "E01034000"], "lsoa21.gpkg")
    with pytest.raises(InputError, match="are LSOA 2021 areas but iod2019.csv is IoD 2019, published on LSOA 2011"):
        import_file(iod2019, boundaries=b21)


def test_iod2019_file_holding_2021_codes_refused(tmp_path):
    bad = _write(tmp_path, "imd2019_lsoa.csv", "lsoa11cd,IMD_rank,IMD_decile\nE01000001,5,1\nE01035000,9,1\n")
    with pytest.raises(InputError, match="holds 1 LSOA codes that only exist from 2021 \\(e.g. E01035000\\)"):
        import_file(bad)
    ok = _write(tmp_path, "imd_lsoa.csv", "lsoa_code,IMD_rank,IMD_decile\nE01000001,5,1\nE01035000,9,1\n")
    needs, report = import_file(ok)
    issue(report, "IoD 2025, LSOA 2021")
    assert report.unplaced == 2  # no boundaries given: areas have no shapes, and that is said


# ---------------------------------------------------------------- CLI

def test_cli_import_writes_report_and_output(tmp_path, capsys):
    src = _write(tmp_path, "brownfield.csv", STATUTORY)
    out = tmp_path / "normalised.gpkg"
    rc = cli.main(["import", str(src), "--report", str(tmp_path / "r.json"), "--out", str(out)])
    assert rc == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["accepted"] is True and report["rows_read"] == 3 and report["placed"] == 3
    assert any(i["kind"] == "fixed" and i["rows"] == [3] for i in report["issues"])
    back = gpd.read_file(out, layer="assets")
    assert back["brownfield_ref"].notna().sum() == 1 and back.crs.to_epsg() == 27700
    assert "brownfield register" in capsys.readouterr().out


def test_cli_adapter_override_and_bad_choice(tmp_path, capsys):
    src = _write(tmp_path, "brownfield.csv", STATUTORY)
    rc = cli.main(["import", str(src), "--report", str(tmp_path / "r.json"), "--adapter", "register"])
    assert rc == 0
    assert json.loads((tmp_path / "r.json").read_text())["adapter"].startswith("land and building assets register (chosen")
    rc = cli.main(["import", str(src), "--report", str(tmp_path / "r.json"), "--out", str(tmp_path / "x.csv")])
    assert rc == 2 and "--out must end in .gpkg" in capsys.readouterr().err
