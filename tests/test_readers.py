"""Each accepted format reads back to the same assets in the same places (EPSG:27700)."""
import zipfile

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from assets_map.io.importer import import_file

POINTS = [(383_000.0, 398_000.0), (384_500.5, 399_250.25), (376_000.0, 395_500.0)]


def sample() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"AssetCode": ["A1", "A2", "A3"], "PropertyName": ["Old Library", "Café de Paris £", "Depot"],
         "UPRN": ["000123", "100012797623", None], "TenureDetail": ["Vacant", "Owner Occupied", "Leasehold out"],
         "HoldingType": ["Buildings", "Land", "Land/Buildings"]},
        geometry=[Point(*POINTS[0]), box(POINTS[1][0], POINTS[1][1], POINTS[1][0] + 100, POINTS[1][1] + 50),
                  Point(*POINTS[2])], crs="EPSG:27700")


def check(a, report, n=3):
    assert len(a) == n and report.rows_read == n
    assert a.crs.to_epsg() == 27700
    assert a["asset_id"].tolist()[:3] == ["A1", "A2", "A3"]
    assert a.loc[0, "uprn"] == "000123"  # leading zero kept
    assert a.loc[1, "name"] == "Café de Paris £"
    assert a["status"].tolist()[:3] == ["vacant", "occupied", "leased-out"]
    assert a.geometry.iloc[0].distance(Point(*POINTS[0])) < 0.01


@pytest.mark.parametrize("ext,driver", [("gpkg", "GPKG"), ("geojson", "GeoJSON"), ("shp", "ESRI Shapefile")])
def test_vector_formats(tmp_path, ext, driver):
    g = sample()
    if ext == "geojson":
        g = g.to_crs(4326)
    if ext == "shp":  # one geometry type per Shapefile; its field names are cut to 10 characters
        g = g.set_geometry(g.geometry.representative_point())
    path = tmp_path / f"register.{ext}"
    g.to_file(path, driver=driver, engine="pyogrio")
    a, report = import_file(path)
    check(a, report)
    if ext != "shp":
        assert a.loc[1, "location_quality"] == "surveyed"  # a drawn polygon
        assert a.loc[1, "site_area_ha"] == pytest.approx(0.5, rel=1e-3)  # measured in BNG


def test_zipped_shapefile(tmp_path):
    g = sample()
    g.set_geometry(g.geometry.representative_point()).to_file(tmp_path / "register.shp", engine="pyogrio")
    z = tmp_path / "register.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for side in ("shp", "shx", "dbf", "prj", "cpg"):
            if (tmp_path / f"register.{side}").exists():
                zf.write(tmp_path / f"register.{side}", f"register.{side}")
    a, report = import_file(z)
    check(a, report)


@pytest.mark.parametrize("kind", ["lonlat", "bng", "latlon_headers"])
def test_csv_coordinates(tmp_path, kind):
    g = sample()
    pts = g.geometry.representative_point()
    df = pd.DataFrame(g.drop(columns="geometry"))
    if kind == "bng":
        df["Easting"], df["Northing"] = pts.x, pts.y
    else:
        ll = pts.to_crs(4326)
        if kind == "lonlat":
            df["GeoX"], df["GeoY"] = ll.x.round(8), ll.y.round(8)
        else:
            df["Latitude"], df["Longitude"] = ll.y.round(8), ll.x.round(8)
    path = tmp_path / "register.csv"
    df.to_csv(path, index=False)
    a, report = import_file(path)
    check(a, report)
    assert (a["location_quality"] == "register coordinates").all()


def test_rows_without_coordinates_placed_by_postcode_or_listed(tmp_path):
    reg = tmp_path / "register.csv"
    reg.write_text("AssetCode,PropertyName,PostCode,GeoX,GeoY\n"
                   "A1,Has coords,,-2.35,53.39\n"
                   "A2,Full postcode,wa14 1pf,,\n"
                   "A3,District only,M31,,\n"
                   "A4,Unknown postcode,ZZ9 9ZZ,,\n"
                   "A5,Nothing,,,\n", encoding="utf-8")
    pcd = tmp_path / "postcodes.csv"
    pcd.write_text("postcode,lon,lat\nWA14 1PF,-2.3520922,53.3879587\n", encoding="utf-8")
    a, report = import_file(reg, postcodes=pcd)
    q = dict(zip(a["asset_id"], a["location_quality"], strict=True))
    assert q == {"A1": "register coordinates", "A2": "full postcode", "A3": "none", "A4": "none", "A5": "none"}
    notes = dict(zip(a["asset_id"], a["location_note"], strict=True))
    assert "postcode district (M31)" in notes["A3"]
    assert "not in the postcode directory" in notes["A4"]
    assert "no coordinates" in notes["A5"]
    assert report.placed_by == {"full postcode": 1, "register coordinates": 1} and report.unplaced == 3
    listed = sorted(r for i in report.of_kind("unplaced") for r in i.rows)
    assert listed == [3, 4, 5]  # data rows counted from 1 (after the header): every unplaced row is listed
