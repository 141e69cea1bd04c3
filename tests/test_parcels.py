"""Land Registry INSPIRE Index Polygons (issue 17 item 1) on the real City of London parcels.

Every answer here is checked against an independent computation: the published file read with
json + shapely + pyproj (no assets-map code), areas measured again, and each test point's parcel
found by a brute-force shapely loop rather than the STRtree.
"""
from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely

from assets_map.engine.parcels import SITE_AREA_FROM_PARCEL, join_parcels
from assets_map.io.landregistry import APPROXIMATE, read_inspire
from assets_map.io.report import InputError
from tests.helpers import inspire_gml, inspire_zip


@pytest.fixture(scope="module")
def city(city_file):
    return read_inspire(city_file)


@pytest.fixture(scope="module")
def published(city_file):
    """The file as published, read without assets-map: (ids, shapely geometries in EPSG:27700, valid as published)."""
    doc = json.loads(open(city_file, encoding="utf-8").read())
    to_bng = pyproj.Transformer.from_crs(4326, 27700, always_xy=True).transform
    ids, geoms, valid = [], [], []
    for f in doc["features"]:
        ids.append(f["properties"]["area"].split(":", 1)[1])
        g = shapely.geometry.shape(f["geometry"])
        valid.append(g.is_valid)
        geoms.append(shapely.transform(g, lambda xy: np.column_stack(to_bng(xy[:, 0], xy[:, 1]))))
    return np.array(ids, dtype=object), np.array(geoms, dtype=object), np.array(valid)


def _polygonal_area(g) -> float:
    """Area of the polygonal parts of a make_valid repair (the 'valid-part sum'), no assets-map code."""
    fixed = shapely.make_valid(g)
    return sum(p.area for p in shapely.get_parts(fixed) if p.geom_type in ("Polygon", "MultiPolygon"))


def test_every_parcel_read_and_invalid_ones_repaired_keeping_area(city, published):
    ids, geoms, valid = published
    frame = city.frame
    assert len(frame) == 3703 and (~valid).sum() == 86
    assert list(frame["parcel_id"]) == list(ids)
    assert frame.geometry.is_valid.all()
    assert set(frame.geom_type) <= {"Polygon", "MultiPolygon"}
    assert city.repair.repaired.sum() == 86
    # the 86 repaired parcels keep their area: within 0.1% of the sum of their valid parts
    expected = sum(_polygonal_area(g) for g in geoms[~valid])
    got = frame.geometry[~valid].area.sum()
    assert abs(got - expected) / expected < 0.001, (got, expected)
    # and no single parcel loses or gains more than 0.1%
    each = np.array([_polygonal_area(g) for g in geoms[~valid]])
    assert np.all(np.abs(frame.geometry[~valid].area.to_numpy() - each) <= 0.001 * each + 0.01)
    # valid parcels are untouched apart from the projection
    assert np.allclose(frame.geometry[valid].area.to_numpy(), [g.area for g in geoms[valid]], rtol=1e-6)
    # parcel_area_ha is the area measured in EPSG:27700
    assert np.allclose(frame["parcel_area_ha"], frame.geometry.area / 10_000)
    assert any("repaired 86 invalid geometries" in n for n in city.notes)


def _brute_force(points: list, geoms: np.ndarray) -> list:
    """Index of the smallest parcel touching each point, by testing every parcel (no spatial index)."""
    areas = np.array([g.area for g in geoms])
    out = []
    for p in points:
        hits = np.flatnonzero(shapely.intersects(geoms, p))
        out.append(int(hits[np.argmin(areas[hits])]) if len(hits) else -1)
    return out


@pytest.fixture(scope="module")
def test_points(city):
    """Points in parcels, on shared edges, in overlaps and in streets, in EPSG:27700."""
    rng = np.random.default_rng(17)
    g = city.frame.geometry
    minx, miny, maxx, maxy = g.total_bounds
    pts = list(shapely.points(rng.uniform(minx, maxx, 300), rng.uniform(miny, maxy, 300)))
    pick = rng.choice(len(g), 60, replace=False)
    pts += list(g.iloc[pick].representative_point())
    pts += [shapely.Point(g.iloc[i].exterior.coords[0]) for i in pick[:20] if g.iloc[i].geom_type == "Polygon"]
    return pts


def test_each_point_gets_the_parcel_an_independent_query_gives(city, published, test_points):
    ids, _, _ = published
    expected = _brute_force(test_points, city.frame.geometry.to_numpy())
    assets = gpd.GeoDataFrame({"asset_id": [f"A{i}" for i in range(len(test_points))],
                               "site_area_ha": np.nan}, geometry=test_points, crs=27700)
    joined, used = join_parcels(assets, city.frame)
    want = [ids[i] if i >= 0 else None for i in expected]
    got = [None if pd.isna(v) else v for v in joined["parcel_id"]]
    assert got == want
    assert sum(w is None for w in want) > 10 and sum(w is not None for w in want) > 100  # both cases tested
    # site area = the parcel's area in EPSG:27700 where the register gave none
    inside = joined["parcel_id"].notna().to_numpy()
    areas = np.array([city.frame.geometry.iloc[i].area / 10_000 for i in expected if i >= 0])
    assert np.allclose(joined.loc[inside, "site_area_ha"], areas)
    assert np.allclose(joined.loc[inside, "parcel_area_ha"], areas)
    assert (joined.loc[inside, "site_area_from"] == SITE_AREA_FROM_PARCEL).all()
    assert (joined.loc[inside, "parcel_note"] == APPROXIMATE).all()
    assert joined.loc[~inside, "site_area_ha"].isna().all() and joined.loc[~inside, "parcel_note"].isna().all()
    # the parcels layer holds exactly the outlines used
    assert set(used["parcel_id"]) == {w for w in want if w is not None}
    assert used["assets"].sum() == inside.sum()


def test_a_stated_site_area_is_kept(city):
    g = city.frame.geometry.iloc[:3].representative_point()
    assets = gpd.GeoDataFrame({"asset_id": ["a", "b", "c"], "site_area_ha": [0.5, np.nan, 2.0]}, geometry=list(g),
                              crs=27700)
    joined, _ = join_parcels(assets.to_crs(4326), city.frame)  # any CRS in
    assert joined["site_area_ha"].tolist()[0] == 0.5 and joined["site_area_ha"].tolist()[2] == 2.0
    assert joined["site_area_ha"].tolist()[1] == pytest.approx(city.frame["parcel_area_ha"].iloc[1])
    assert joined["site_area_from"].tolist() == ["register", SITE_AREA_FROM_PARCEL, "register"]


# ------------------------------------------------------------------ every published form

@pytest.fixture(scope="module")
def sample(city):
    """200 parcels, the repaired ones among them."""
    f = city.frame
    pick = np.r_[np.flatnonzero(city.repair.repaired)[:20], np.arange(200)]
    return f.iloc[np.unique(pick)].reset_index(drop=True)


def _same(read, sample, rtol=1e-6):
    assert list(read.frame["parcel_id"]) == list(sample["parcel_id"])
    # rounding the coordinates to the millimetre moves an area by under 0.1 m² (1e-5 ha)
    assert np.allclose(read.frame["parcel_area_ha"], sample["parcel_area_ha"], rtol=rtol, atol=1e-5 if rtol > 1e-6 else 0)


def test_gml_in_the_authority_zip(tmp_path, sample):
    z = inspire_zip(tmp_path / "City_of_London.zip", inspire_gml(sample))
    read = read_inspire(z)
    _same(read, sample, rtol=1e-4)  # coordinates written to the millimetre, as HMLR publishes them
    assert read.frame["label"].tolist() == sample["parcel_id"].tolist()
    assert read.frame["national_cadastral_reference"].tolist() == sample["parcel_id"].tolist()
    assert (read.frame["valid_from"] == "2009-01-13T11:06:20.000").all()
    assert (read.frame["begin_lifespan_version"] == "2011-05-04T09:12:05.000").all()
    assert read.frame.crs.to_epsg() == 27700
    gml = tmp_path / "Land_Registry_Cadastral_Parcels.gml"
    gml.write_bytes(inspire_gml(sample))
    _same(read_inspire(gml), sample, rtol=1e-4)


def test_geopackage_and_geoparquet(tmp_path, sample):
    src = sample.rename(columns={"parcel_id": "INSPIREID"})[["INSPIREID", "geometry"]]
    src.to_file(tmp_path / "p.gpkg", driver="GPKG")
    src.to_parquet(tmp_path / "p.parquet")
    _same(read_inspire(tmp_path / "p.gpkg"), sample)
    _same(read_inspire(tmp_path / "p.parquet"), sample)


def test_gml_never_reads_the_schema_it_points_to(tmp_path, sample):
    # a schema on the server that would rename every field: GDAL must not read it
    xsd = tmp_path / "evil.xsd"
    xsd.write_text('<?xml version="1.0"?><xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
                   'targetNamespace="www.landregistry.gov.uk"><xs:element name="PREDEFINED"/></xs:schema>')
    gml = tmp_path / "a.gml"
    gml.write_bytes(inspire_gml(sample.iloc[:3], schema_location=f"www.landregistry.gov.uk {xsd}"))
    _same(read_inspire(gml), sample.iloc[:3], rtol=1e-4)
    assert not (tmp_path / "a.gfs").exists()  # nothing written beside the user's file


@pytest.mark.parametrize("prolog, words", [
    ('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n', "DTD or entity"),
    ("", "not a GML feature collection"),
])
def test_hostile_or_foreign_xml_refused(tmp_path, sample, prolog, words):
    body = inspire_gml(sample.iloc[:2], prolog=prolog)
    if not prolog:
        body = body.replace(b"wfs:FeatureCollection", b"OGRVRTDataSource")
    z = inspire_zip(tmp_path / "x.zip", body)
    with pytest.raises(InputError, match=words):
        read_inspire(z)


def test_a_layer_without_inspire_ids_is_refused(tmp_path, sample):
    sample[["geometry"]].assign(name="x").to_file(tmp_path / "q.geojson", driver="GeoJSON")
    with pytest.raises(InputError, match="no INSPIREID column"):
        read_inspire(tmp_path / "q.geojson")


# ------------------------------------------------------------------ analyse --parcels

def test_analyse_parcels_end_to_end(tmp_path, shared, city, city_file):
    from assets_map.cli import main

    lsoa = gpd.read_file(shared("england", "lsoa21_boundaries_ew.gpkg"), bbox=(-0.115, 51.505, -0.07, 51.525),
                         engine="pyogrio")
    lsoa.to_file(tmp_path / "lsoa.geojson", driver="GeoJSON")
    f = city.frame
    pick = [10, 200, 1500, 3000]
    pts = f.geometry.iloc[pick].representative_point().to_crs(4326)
    reg = pd.DataFrame({"AssetCode": ["C1", "C2", "C3", "C4"], "PropertyName": ["Hall", "Depot", "Library", "Yard"],
                        "GeoX": [f"{p.x:.7f}" for p in pts], "GeoY": [f"{p.y:.7f}" for p in pts],
                        "LandArea": ["", "1.25", "", ""], "OrganisationLabel": "City of London Corporation"})
    reg.to_csv(tmp_path / "reg.csv", index=False)
    out = tmp_path / "out.gpkg"
    code = main(["analyse", "--assets", str(tmp_path / "reg.csv"), "--boundaries", str(tmp_path / "lsoa.geojson"),
                 "--deprivation", str(shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv")),
                 "--parcels", str(city_file), "--out", str(out)])
    assert code == 0
    layers = {n for n, _ in pyogrio.list_layers(out)}
    assert "parcels" in layers
    a = gpd.read_file(out, layer="assets").set_index("asset_id")
    want = dict(zip(["C1", "C2", "C3", "C4"], f["parcel_id"].iloc[pick], strict=True))
    assert {k: a.loc[k, "parcel_id"] for k in want} == want
    assert a.loc["C1", "parcel_area_ha"] == pytest.approx(f.geometry.iloc[10].area / 10_000, rel=1e-6)
    assert a.loc["C2", "site_area_ha"] == 1.25  # the register's own area wins
    assert a.loc["C3", "site_area_ha"] == pytest.approx(f.geometry.iloc[1500].area / 10_000, rel=1e-6)
    p = gpd.read_file(out, layer="parcels")
    assert sorted(p["parcel_id"]) == sorted(want.values())
    assert p.crs.to_epsg() == 27700
    # the data dictionary describes the new columns, and a cached run gives the same parcels layer back
    d = gpd.read_file(out, layer="data_dictionary") if "data_dictionary" in layers else None
    if d is not None:
        meaning = dict(zip(d["field"], d["meaning"], strict=True))
        assert "INSPIRE ID" in meaning["parcel_id"] and "not a title plan" in meaning["parcel_id"]
    args = ["analyse", "--assets", str(tmp_path / "reg.csv"), "--boundaries", str(tmp_path / "lsoa.geojson"),
            "--deprivation", str(shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv")),
            "--parcels", str(city_file), "--cache", str(tmp_path / "cache")]
    for k in (1, 2):
        assert main([*args, "--out", str(tmp_path / f"c{k}.gpkg")]) == 0
    again = gpd.read_file(tmp_path / "c2.gpkg", layer="parcels")
    assert sorted(again["parcel_id"]) == sorted(want.values())
    assert gpd.read_file(tmp_path / "c2.gpkg", layer="assets").set_index("asset_id").loc["C3", "site_area_from"] \
        == SITE_AREA_FROM_PARCEL


# ------------------------------------------------------------------ national scale: one authority at a time

@pytest.mark.parametrize("engine", ["geopandas", "dask"])
def test_partitioned_cache_gives_the_same_parcels(tmp_path, city, test_points, engine):
    from assets_map.cli import main
    from assets_map.engine.parcels import join_parcels_partitioned

    f = city.frame
    cx = f.geometry.centroid.x
    cuts = np.quantile(cx, [1 / 3, 2 / 3])
    files = []
    for k, part in enumerate((f[cx < cuts[0]], f[(cx >= cuts[0]) & (cx < cuts[1])], f[cx >= cuts[1]])):
        path = tmp_path / f"authority{k}.parquet"  # three neighbours whose bounds overlap
        part.rename(columns={"parcel_id": "INSPIREID"})[["INSPIREID", "geometry"]].to_parquet(path)
        files.append(str(path))
    assert main(["parcels", "--cache", str(tmp_path / "cache"), *files]) == 0
    assets = gpd.GeoDataFrame({"asset_id": [f"A{i}" for i in range(len(test_points))], "site_area_ha": np.nan},
                              geometry=test_points, crs=27700)
    whole, used = join_parcels(assets, f)
    split, used_split = join_parcels_partitioned(assets, tmp_path / "cache", engine=engine)
    assert split["parcel_id"].fillna("-").tolist() == whole["parcel_id"].fillna("-").tolist()
    assert np.allclose(split["site_area_ha"].fillna(-1), whole["site_area_ha"].fillna(-1))
    assert sorted(used_split["parcel_id"]) == sorted(used["parcel_id"])


def test_parcels_are_never_read_as_an_asset_register(city_file, tmp_path, sample):
    from assets_map.io.importer import import_file

    with pytest.raises(InputError, match="INSPIRE Index Polygons: freehold parcel outlines.*give it as --parcels"):
        import_file(city_file)
    sample.rename(columns={"parcel_id": "INSPIREID", "national_cadastral_reference": "NATIONALCADASTRALREFERENCE"})[
        ["INSPIREID", "NATIONALCADASTRALREFERENCE", "geometry"]].to_file(tmp_path / "p.gpkg", driver="GPKG")
    with pytest.raises(InputError, match="give it as --parcels"):
        import_file(tmp_path / "p.gpkg")
