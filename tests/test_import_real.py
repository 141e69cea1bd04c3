"""Every real file in ../shared/data that the import adapters cover, through the single entry point."""
from __future__ import annotations

import pytest

from assets_map.io.importer import import_file
from assets_map.io.report import InputError


def _accounted(gdf, report):
    assert len(gdf) + report.rejected == report.rows_read
    assert report.placed + report.unplaced == len(gdf)


def test_trafford_register_keeps_its_behaviour(shared, trafford):
    gdf, report = import_file(trafford["register"], postcodes=trafford["postcodes"])
    assert report.adapter.startswith("land and building assets register")
    assert report.rows_read == 608 and len(gdf) == 608
    _accounted(gdf, report)
    swapped = [i for i in report.issues if "latitude and longitude were swapped" in i.message]
    assert swapped and swapped[0].rows == [386]
    row = gdf.set_index("source_row").loc[386]
    assert row["name"] == "Davyhulme Youth Centre" and row["location_quality"] == "register coordinates"
    # the three holdings outside the borough are placed, not dropped or unplaced
    from assets_map.engine.needs import read_boundaries

    borough = read_boundaries(shared("trafford", "borough_boundary.geojson")).union_all()
    placed = gdf[gdf["location_quality"] != "none"]
    assert (~placed.within(borough.buffer(10))).sum() == 3
    assert gdf["uprn"].dropna().str.fullmatch(r"\d+").all()
    assert report.placed_by == {"full postcode": 22, "register coordinates": 373}


@pytest.mark.parametrize("parts,n,public", [
    (("brownfield_raw", "leicester.csv"), 66, 2),
    (("brownfield_raw", "fylde.csv"), 47, 4),
    (("brownfield_raw", "rochdale.csv"), 128, 24),
    (("trafford", "brownfield_register_harmonised.csv"), 63, 9),
])
def test_brownfield_registers(shared, parts, n, public):
    gdf, report = import_file(shared(*parts))
    assert report.adapter.startswith("brownfield register")
    assert report.rows_read == n
    _accounted(gdf, report)
    assert gdf["brownfield_ref"].notna().sum() == public
    assert (gdf.loc[gdf["brownfield_ref"].notna(), "ownership"] == "public").all()
    assert gdf["site_area_ha"].notna().all()
    assert report.unplaced == 0  # every real register here has usable coordinates
    # every point lies in England (BNG envelope of England's mainland)
    assert gdf.geometry.x.between(80_000, 660_000).all() and gdf.geometry.y.between(0, 660_000).all()


def test_harmonised_register_editions_reported(shared):
    gdf, report = import_file(shared("trafford", "brownfield_register_harmonised.csv"))
    msg = next(i.message for i in report.issues if "register editions" in i.message)
    assert "4 register editions (resource-date 2018-05-22 to 2020-04-09)" in msg
    assert "no site appears in more than one edition" in msg
    assert (gdf["organisation"].dropna() == "Trafford Metropolitan Borough Council").all()


def test_eric_site_data_against_hospital_points(shared):
    gdf, report = import_file(shared("nhs", "eric_hefs_site_and_trust_data_13944.xls"),
                              locations=shared("nhs", "hospitals22_points.gpkg"))
    assert report.adapter.startswith("NHS ERIC site data")
    assert report.rows_read == 1213 and len(gdf) == 1213
    _accounted(gdf, report)
    agg = gdf["eric_aggregate"]
    assert agg.sum() == 172 and (gdf.loc[agg, "location_quality"] == "none").all()
    assert gdf.loc[agg, "asset_id"].is_unique
    matched = gdf["location_match"].notna()
    assert matched.sum() == report.placed and report.placed > 300
    assert set(gdf.loc[matched, "location_match"]) <= {"site code", "name", "name without qualifier", "close name"}
    evesham = gdf.set_index("asset_id").loc["R1A1P"]
    assert evesham["name"] == "EVESHAM COMMUNITY HOSPITAL" and evesham["location_match"] == "name"
    assert (evesham["empty_floor_pct"], evesham["underused_floor_pct"]) == (4.6, 7.1)
    assert evesham["backlog_cost_gbp"] > 0 and evesham["floor_area_m2"] == 9009
    assert gdf["land_idle_ha"].notna().sum() > 1000
    unplaced = [i for i in report.issues if i.kind == "unplaced"]
    assert sum(len(i.rows) for i in unplaced) == report.unplaced  # every unplaced site listed once, with why


def test_eric_sheet_choice_is_explicit_when_asked(shared):
    with pytest.raises(InputError, match="has no sheet named 'Sites'"):
        import_file(shared("nhs", "eric_hefs_site_and_trust_data_13944.xls"), layer="Sites")


def test_iod_files_against_boundaries(trafford):
    needs, report = import_file(trafford["iod_long"], boundaries=trafford["lsoa11"])
    assert report.adapter.startswith("English Indices of Deprivation")
    assert report.placed_by == {"LSOA boundaries": 138}
    assert set(needs["iod_year"]) == {2019}
    with pytest.raises(InputError, match="LSOA 2021 areas but iod2015_2019_lsoa11_long.csv is IoD 2019"):
        import_file(trafford["iod_long"], boundaries=trafford["lsoa21"])
    needs, report = import_file(trafford["imd2025"], boundaries=trafford["lsoa21"])
    assert report.placed_by == {"LSOA boundaries": 139} and set(needs["iod_year"]) == {2025}
    assert any("outside the boundaries given" in i.message for i in report.issues)
    with pytest.raises(InputError, match="LSOA 2011 areas but imd2025_lsoa21_scores_ranks_deciles.csv is IoD 2025"):
        import_file(trafford["imd2025"], boundaries=trafford["lsoa11"])


@pytest.mark.parametrize("parts", [
    ("trafford", "anchors", "libraries.geojson"),
    ("trafford", "parcels", "leisure_centres_and_parking_polygons.geojson"),
    ("trafford", "parcels", "hospital_buildings_osopenmaplocal.geojson"),
])
def test_map_layers_import_as_registers(shared, parts):
    gdf, report = import_file(shared(*parts))
    _accounted(gdf, report)
    assert report.unplaced == 0


def test_leisure_polygons_invalid_rows_repaired_and_kept(shared):
    gdf, report = import_file(shared("trafford", "parcels", "leisure_centres_and_parking_polygons.geojson"))
    fixed = [i for i in report.issues if "make_valid" in i.message]
    assert fixed and len(fixed[0].rows) == 3
    assert gdf["src_geometry_wkt"].notna().sum() == 3 and gdf.geometry.is_valid.all()
