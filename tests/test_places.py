"""Place search (assets_map.engine.places): postcodes, wards, need areas, streets and towns of the data loaded."""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from assets_map.engine.places import Gazetteer, point_place


def _postcodes() -> pd.DataFrame:
    # Three postcodes in sector M32 0 (about 1 km apart), one in M32 9, one in WA15 (far away).
    return pd.DataFrame({"x": [379000.0, 379500.0, 380000.0, 379200.0, 377000.0],
                         "y": [395000.0, 395400.0, 395800.0, 396500.0, 386000.0]},
                        index=pd.Index(["M320AA", "M320AB", "M320FP", "M329ZZ", "WA159QT"], name="postcode"))


def _wards() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"ward_code": ["E05015256", "E05015239"],
                             "ward_name": ["Stretford & Humphrey Park", "Altrincham"]},
                            geometry=[shapely.box(378000, 394000, 381000, 397000),
                                      shapely.box(376000, 385000, 378000, 387000)], crs="EPSG:27700")


def _assets() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"address": ["12 Kingsway Park, Davyhulme", "Kingsway Park, Davyhulme", None,
                                         "Old Road, Stretford"],
                             "postcode": ["M41 7FJ", None, "M32 0FP", "M32"]},
                            geometry=[shapely.Point(376000, 395000), shapely.Point(376200, 395100), None,
                                      shapely.Point(379400, 395300)], crs="EPSG:27700")


def test_postcode_full_sector_and_district_with_or_without_spaces():
    g = Gazetteer(postcodes=_postcodes())
    full = g.search("m32 0fp")[0]
    assert (full.name, full.kind, full.radius_m) == ("M32 0FP", "postcode", 300.0)
    assert abs(full.lon + 2.31) < 0.05 and abs(full.lat - 53.45) < 0.05
    sector = g.search("M32 0")
    assert [(p.name, p.kind) for p in sector] == [("M32 0", "postcode sector")]
    assert g.search("M320")[0].name == "M32 0"  # typed without the space
    # The sector's point is its middle postcode and its radius covers the sector, not the district.
    assert sector[0].radius_m < 2000
    district = g.search("M32")[0]
    assert (district.name, district.kind) == ("M32", "postcode district")
    assert g.search("WA15")[0].name == "WA15"
    assert g.search("M99 9ZZ") == [] and g.search("x") == []


def test_ward_name_and_code_need_area_code_street_and_town():
    needs = gpd.GeoDataFrame({"code": ["E01006112"], "name": ["Trafford 001D"]},
                             geometry=[shapely.box(379000, 395000, 379500, 395500)], crs="EPSG:27700")
    g = Gazetteer(wards=_wards(), needs=needs, assets=_assets())
    found = g.search("stretford")
    labels = [p.label for p in found]
    assert labels[0] == "Stretford (town or place)"  # a whole-name match first
    assert "Stretford & Humphrey Park (ward E05015256)" in labels
    ward = g.search("E05015256")[0]
    assert ward.kind == "ward" and ward.code == "E05015256" and ward.name == "Stretford & Humphrey Park"
    assert 1000 <= ward.radius_m <= 5000
    lsoa = g.search("e01006112")[0]
    assert (lsoa.kind, lsoa.name) == ("need area", "Trafford 001D")
    assert g.search("Trafford 001D")[0].code == "E01006112"
    street = g.search("Kingsway")[0]
    assert (street.name, street.kind) == ("Kingsway Park", "street")
    # The register's own full postcodes are searchable when no directory is loaded (its unplaced row is not).
    assert g.search("M41 7FJ")[0].kind == "postcode"
    assert g.search("M32 0FP") == []
    assert [p.name for p in g.labels()] == ["Stretford & Humphrey Park", "Altrincham", "Davyhulme"]


def test_a_point_on_the_map_is_a_place():
    p = point_place(-2.31, 53.45)
    assert p.kind == "point on the map" and p.radius_m == 1500 and "53.45000" in p.label


def test_trafford_bundle_finds_stretford_and_its_sectors(shared):
    from assets_map.io.importer import import_file

    pc, _ = import_file(shared("trafford", "postcodes_onspd_feb2025.csv"), kind="postcodes")
    wards, _ = import_file(shared("trafford", "wards23_boundaries.geojson"), kind="wards")
    g = Gazetteer(postcodes=pc, wards=wards)
    kinds = {p.kind for p in g.search("Stretford")}
    assert "ward" in kinds
    sector = g.search("M32 0")[0]
    assert sector.kind == "postcode sector" and -2.36 < sector.lon < -2.26 and 53.43 < sector.lat < 53.47


@pytest.mark.parametrize("text", ["", " ", None, "((", "M", "\\d+"])
def test_odd_text_finds_nothing_and_never_fails(text):
    assert Gazetteer(postcodes=_postcodes(), wards=_wards()).search(text) == []


@pytest.fixture(scope="module")
def demo_gpkg(tmp_path_factory):
    from assets_map.engine.demo import load_demo
    from assets_map.io.export import write_gpkg

    r = load_demo()
    path = tmp_path_factory.mktemp("places") / "demo.gpkg"
    write_gpkg({"assets": r.assets, "needs": r.needs}, path)
    return path, r


def test_cli_near_takes_a_negative_longitude_as_a_value(demo_gpkg, capsys):
    from assets_map.cli import main
    from assets_map.schema import DISPLAY_CRS

    path, r = demo_gpkg
    c = r.needs.to_crs(DISPLAY_CRS).union_all().centroid
    assert c.x < 0  # the demo town is west of Greenwich, as almost all of the UK
    code = main(["find-sites", "--analysis", str(path), "--near", f"{c.x:.4f},{c.y:.4f}", "--radius", "800",
                 "--include-unflagged", "--top", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "within 800 m of the point chosen" in out and "candidates:" in out


def test_cli_near_a_street_of_the_register_and_a_place_it_does_not_hold(demo_gpkg, capsys):
    from assets_map.cli import main

    path, _ = demo_gpkg
    assert main(["find-sites", "--analysis", str(path), "--near", "Mill Lane", "--include-unflagged"]) == 0
    assert "near: Mill Lane (street)" in capsys.readouterr().out
    assert main(["find-sites", "--analysis", str(path), "--near", "Atlantis Road"]) == 2
    err = capsys.readouterr().err
    assert "'Atlantis Road': not a LON,LAT and no such place" in err and "add --postcodes" in err


def test_cli_pack_with_no_site_says_so(demo_gpkg, tmp_path, capsys):
    from assets_map.cli import main

    path, _ = demo_gpkg
    pack = tmp_path / "pack.pdf"
    assert main(["find-sites", "--analysis", str(path), "--near", "-5.0,58.0", "--pack", str(pack)]) == 0
    err = capsys.readouterr().err
    assert f"no site pack written to {pack}: no site matches the brief" in err and not pack.exists()
