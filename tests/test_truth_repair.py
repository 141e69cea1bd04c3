"""Issue 13 rule 7: repair keeps the land.

Invalid polygons are repaired into polygons (never a GeometryCollection, line, point or empty), each
repaired row reports its area before and after, validity is checked again after reprojection, and the
totals agree with the source within 0.1%.

Source areas. For rings that do not cross themselves (the City of London parcels, the self-touching ring,
the spike) the source area is shapely's area of the polygon as drawn (the shoelace formula), the figure any
GIS reports for those coordinates. For the bow-tie that figure is 0 (the two lobes cancel), so the source
area is the sum of its two lobes computed by hand from the coordinates (two right triangles of 10 x 20 / 2
... = 100 m2 each); that is the land the outline encloses, and independent of make_valid.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from assets_map.community.joint import read_parcels
from assets_map.engine import geo
from assets_map.io.importer import import_file
from assets_map.io.report import InputError
from assets_map.maps.features import display_geometry

X0, Y0 = 530_000.0, 181_000.0  # the City of London, in British National Grid

BOWTIE = shapely.Polygon([(X0, Y0), (X0 + 20, Y0 + 20), (X0 + 20, Y0), (X0, Y0 + 20)])
BOWTIE_LOBES_M2 = 2 * (20 * 10 / 2)  # two triangles, base 20 m, height 10 m
# A ring that touches itself at (X0+5, Y0+5): a square with a 25 m2 notch (75 m2) and, in the notch, a 3 m2
# triangular lobe hanging from the touching point: 78 m2 as drawn.
SELF_TOUCHING = shapely.Polygon([(X0, Y0), (X0 + 10, Y0), (X0 + 10, Y0 + 10), (X0 + 5, Y0 + 5), (X0 + 6, Y0 + 8),
                                 (X0 + 4, Y0 + 8), (X0 + 5, Y0 + 5), (X0, Y0 + 10)])
# A square with a zero-width spike: make_valid's default ("linework") returns Polygon + LineString.
SPIKE = shapely.Polygon([(X0, Y0), (X0 + 10, Y0), (X0 + 10, Y0 + 10), (X0 + 5, Y0 + 10), (X0 + 5, Y0 + 15),
                         (X0 + 5, Y0 + 10), (X0, Y0 + 10)])
VALID = shapely.box(X0 + 100, Y0, X0 + 130, Y0 + 30)
EXPECTED_M2 = {"bow-tie": BOWTIE_LOBES_M2, "self-touching": 78.0, "spike": 100.0, "valid": 900.0}


def _fixture(tmp_path, crs=27700):
    gdf = gpd.GeoDataFrame({"name": list(EXPECTED_M2)}, geometry=[BOWTIE, SELF_TOUCHING, SPIKE, VALID], crs=27700)
    assert not gdf.is_valid.iloc[:3].any() and gdf.is_valid.iloc[3]
    path = tmp_path / "parcels.gpkg"
    gdf.to_crs(crs).to_file(path, driver="GPKG")
    return path


def test_repair_keeps_polygonal_parts_and_areas():
    assert shapely.make_valid(SPIKE).geom_type == "GeometryCollection"  # the case the issue describes
    shapes = gpd.GeoSeries([BOWTIE, SELF_TOUCHING, SPIKE, VALID], crs=27700)
    geom, repaired = geo.repair_invalid(shapes)
    assert repaired.tolist() == [True, True, True, False]
    assert set(geom.geom_type) <= {"Polygon", "MultiPolygon"}
    assert geom.is_valid.all() and not geom.is_empty.any()
    np.testing.assert_allclose(geom.area.to_numpy(), list(EXPECTED_M2.values()), rtol=1e-3)
    r = geo.repair_geometries(shapes)
    np.testing.assert_allclose(r.area_after[:3], list(EXPECTED_M2.values())[:3], rtol=1e-3)
    assert r.area_before[1] == pytest.approx(78.0) and r.area_before[2] == pytest.approx(100.0)
    assert np.isnan(r.area_before[3]) and not r.kept.any()
    # Two overlapping 100 m2 squares in one MultiPolygon hold 175 m2 of land: the report says why it fell.
    overlap = geo.repair_geometries(gpd.GeoSeries([shapely.MultiPolygon(
        [shapely.box(X0, Y0, X0 + 10, Y0 + 10), shapely.box(X0 + 5, Y0 + 5, X0 + 15, Y0 + 15)])], crs=27700))
    assert overlap.geometry.area.iloc[0] == pytest.approx(175.0)
    assert "(change -12.500%); more than 0.1% lost because parts of the source overlap" in overlap.message()


def test_import_report_and_per_row_detail(tmp_path):
    out, report = import_file(_fixture(tmp_path))
    assert set(out.geom_type) <= {"Polygon", "MultiPolygon"} and out.is_valid.all()
    np.testing.assert_allclose(out["site_area_ha"].to_numpy() * 10_000, list(EXPECTED_M2.values()), rtol=1e-3)
    fixed = [i for i in report.of_kind("fixed") if i.message.startswith("repaired 3 invalid geometries")]
    assert len(fixed) == 1 and fixed[0].rows == [1, 2, 3]
    text = fixed[0].message
    assert "area before 0.0178 ha, after 0.0378 ha" in text  # the bow-tie's shoelace area is 0 ...
    assert "more than 0.1% gained" in text and "cross themselves" in text  # ... so the report says why
    assert "src_geometry_wkt" in text and out["src_geometry_wkt"].notna().sum() == 3
    assert "78.0 m² as drawn, 78.0 m² after" in out["location_note"].iloc[1]


def test_collection_never_left_by_parcel_and_exclusion_readers(tmp_path):
    path = _fixture(tmp_path, crs=4326)
    parcels = read_parcels(path)
    assert set(parcels.geom_type) <= {"Polygon", "MultiPolygon"} and parcels.is_valid.all()
    np.testing.assert_allclose(parcels.area.to_numpy(), list(EXPECTED_M2.values()), rtol=1e-3)
    assert parcels.attrs["repair"].startswith("repaired 3 invalid geometries")


# City of London parcel landregistry-index:53977505 (HM Land Registry INSPIRE Index Polygons, OGL) as
# published: valid in EPSG:4326, but once reprojected to EPSG:27700 its ring crosses itself.
FLIPS_IN_BNG = shapely.from_wkt(
    "POLYGON ((-0.088309 51.509678, -0.08832 51.50968, -0.088323 51.509675, -0.088331 51.509653, "
    "-0.088406 51.509465, -0.088415 51.509444, -0.088455 51.50935, -0.088485 51.509281, -0.088491 51.509267, "
    "-0.088506 51.509228, -0.088512 51.509213, -0.08854 51.509144, -0.08854 51.509144, -0.088541 51.509143, "
    "-0.088542 51.509142, -0.088543 51.509141, -0.088544 51.50914, -0.088564 51.509093, -0.088528 51.509087, "
    "-0.088525 51.509092, -0.088513 51.509118, -0.088497 51.509153, -0.088498 51.509153, -0.088497 51.509156, "
    "-0.088479 51.5092, -0.088448 51.509273, -0.088439 51.509293, -0.08841 51.509361, -0.088415 51.509346, "
    "-0.088408 51.509367, -0.088398 51.509391, -0.088363 51.509472, -0.088346 51.509513, -0.088327 51.509555, "
    "-0.088328 51.509555, -0.088277 51.509673, -0.088299 51.509677, -0.088309 51.509678))")


def test_revalidated_after_reprojection(tmp_path):
    src = gpd.GeoSeries([FLIPS_IN_BNG], crs=4326)
    assert src.is_valid.all() and not src.to_crs(27700).is_valid.any()
    path = tmp_path / "parcel.geojson"
    gpd.GeoDataFrame({"name": ["one parcel"]}, geometry=src).to_file(path, driver="GeoJSON")
    out, report = import_file(path)
    assert out.is_valid.all() and out.geom_type.iloc[0] in ("Polygon", "MultiPolygon")
    assert out.area.iloc[0] == pytest.approx(src.to_crs(27700).area.iloc[0], rel=1e-3)
    again = [i for i in report.of_kind("fixed") if "after reprojection to EPSG:27700" in i.message]
    assert len(again) == 1 and again[0].rows == [1] and "(change +0.000%)" in again[0].message
    assert read_parcels(path).is_valid.all()
    assert geo.to_measure(gpd.GeoDataFrame(geometry=src)).is_valid.all()  # need areas, wards: the same check
    assert geo.repair_one(SPIKE).geom_type == "Polygon"  # a drawn search area, a stored location


def test_city_of_london_parcels(shared):
    """Parcels are read through their own door (--parcels; a register door refuses them), with the same repair."""
    from assets_map.io.landregistry import read_inspire

    path = shared("london", "inspire_city_of_london.geojson")
    src = gpd.read_file(path)
    assert (~src.is_valid).sum() == 86
    bng = src.to_crs(27700)
    flips = np.flatnonzero(src.is_valid.to_numpy() & ~bng.is_valid.to_numpy())
    with pytest.raises(InputError, match="give it as --parcels"):
        import_file(path)
    parcels = read_inspire(path)
    out = parcels.frame
    assert len(out) == len(src)
    assert set(out.geom_type) <= {"Polygon", "MultiPolygon"}
    assert out.is_valid.all() and not out.is_empty.any()
    total = bng.area.sum() / 10_000
    assert out["parcel_area_ha"].sum() == pytest.approx(total, rel=1e-3)
    assert out.area.sum() / 10_000 == pytest.approx(total, rel=1e-3)
    lines = "\n".join(parcels.notes)
    assert "repaired 86 invalid geometries as published with make_valid" in lines
    assert "(change +0.001%)" in lines
    assert len(flips) == 1  # landregistry-index:53977505 crosses itself only once in EPSG:27700
    assert "repaired 1 invalid geometries after reprojection to EPSG:27700" in lines
    assert display_geometry(out).is_valid.all()  # and drawn in EPSG:4326, rounded to 6 decimals
