"""Issue 13 finding h: data not read, and rows that are not records.

Building names and classes in a footprint layer are read (OS OpenMap Local's ``DISTNAME`` and
``CLASSIFICA``, OpenStreetMap's ``name`` and ``amenity``), "Unknown" is no name; a record split by
a line break in an unquoted cell is joined back, and a lone fragment of such a cell is set aside,
never a site.
"""
from __future__ import annotations

import geopandas as gpd
from shapely.geometry import box

from assets_map.io.importer import import_file

HEAD = "OrganisationLabel,AssetCode,PropertyName,PostCode,GeoX,GeoY,TenureType,HoldingType,TenureDetail\n"


def test_os_footprints_keep_their_names_and_classes(shared):
    gdf, _ = import_file(shared("trafford", "parcels", "hospital_buildings_osopenmaplocal.geojson"))
    assert gdf["name"].notna().all() and "Trafford General Hospital" in set(gdf["name"])
    assert set(gdf["use"]) == {"Hospital"}
    fire, _ = import_file(shared("trafford", "parcels", "fire_station_buildings_osopenmaplocal.geojson"))
    assert fire["name"].isna().all()  # every DISTNAME is "Unknown": no name, not a building called Unknown
    assert set(fire["use"]) == {"Fire Station"}


def test_osm_layout_footprints(tmp_path):
    g = gpd.GeoDataFrame({"osm_id": ["w1", "w2"], "name": ["Old Baths", "unknown"], "amenity": ["public_bath", "library"]},
                         geometry=[box(380000, 395000, 380050, 395040), box(380200, 395000, 380260, 395050)], crs=27700)
    p = tmp_path / "osm_buildings.gpkg"
    g.to_file(p, engine="pyogrio")
    gdf, _ = import_file(p)
    assert gdf["name"].tolist()[0] == "Old Baths" and gdf["name"].isna().tolist()[1]
    assert gdf["use"].tolist() == ["public_bath", "library"]


def test_unquoted_line_breaks_joined_and_fragments_set_aside(tmp_path):
    p = tmp_path / "broken.csv"
    p.write_text(HEAD
                 + "Borough Council,00123,Old Library\n"
                 + "and Annexe,M32 0TH,-2.3551,53.4512,Freehold,Land,Vacant\n"
                 + "Borough Council,00124,Depot,M31 1AA,-2.33,53.44,Freehold,Building,Occupied\n"
                 + "Borough Council,00125,Community Hall,M33 7XX,-2.32,53.43,Freehold,Building,Vacant\n"
                 + "next to the park\n"
                 + "Borough Council,00126,Garage,M33 7XY,-2.31,53.43,Freehold,Building,Occupied\n", encoding="utf-8")
    gdf, report = import_file(p)
    assert gdf["asset_id"].tolist() == ["00123", "00124", "00125", "00126"]  # no phantom site
    first = gdf.iloc[0]
    assert first["name"] == "Old Library and Annexe" and first["postcode"] == "M32 0TH" and first["status"] == "vacant"
    assert (gdf["organisation"] == "Borough Council").all()
    msgs = " ".join(i.message for i in report.issues)
    assert "joined back (lines 2-3)" in msgs
    assert "set aside 1 line(s) holding only a fragment" in msgs and "line 6: 'next to the park'" in msgs


def test_trimmed_rows_are_not_fragments(tmp_path):
    # a register that drops trailing empty cells: short rows that look like records stay records
    p = tmp_path / "trimmed.csv"
    p.write_text(HEAD + "Borough Council,00123,Old Library,M32 0TH,-2.3551,53.4512,Freehold,Land,Vacant\n"
                 + "Borough Council,00124,Depot\n"
                 + "Borough Council,00125,Hall,M33 7XX,-2.32,53.43,Freehold,Building,Vacant\n", encoding="utf-8")
    gdf, _ = import_file(p)
    assert gdf["asset_id"].tolist() == ["00123", "00124", "00125"]
