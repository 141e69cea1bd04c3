"""Hostile and broken files: each is refused (or accepted with the problem reported) with a clear message,
and the data in use is unchanged: an earlier normalised output stays byte-identical and frames passed in
are not modified."""
from __future__ import annotations

import io
import json
import sqlite3
import struct
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point

from assets_map import cli
from assets_map.io.importer import import_bytes
from assets_map.io.report import InputError
from assets_map.io.sources import Limits

GOOD_CSV = (b"AssetCode,PropertyName,GeoX,GeoY,TenureType\n"
            b"001,Town Hall,-2.35,53.45,Freehold\n002,Depot,-2.30,53.44,Leasehold\n")


@pytest.fixture
def live(tmp_path):
    """The data in use: a normalised GeoPackage written by an accepted import, and its bytes."""
    src = tmp_path / "good.csv"
    src.write_bytes(GOOD_CSV)
    out = tmp_path / "live.gpkg"
    assert cli.main(["import", str(src), "--report", str(tmp_path / "good.json"), "--out", str(out)]) == 0
    return out, out.read_bytes()


def refused(tmp_path, live, name: str, data: bytes, match: str, capsys, **options) -> InputError:
    """Refused in-process (InputError naming the file) and by the CLI (exit 2, one line), live output unchanged."""
    pc = pd.DataFrame({"x": [380000.0], "y": [395000.0]}, index=pd.Index(["M11AA"], name="postcode"))
    before = pc.copy()
    with pytest.raises(InputError, match=match) as err:
        import_bytes(data, name, postcodes=pc, **options)
    assert str(err.value).startswith(Path(name).name)
    pd.testing.assert_frame_equal(pc, before)
    path = tmp_path / name
    path.write_bytes(data)
    out, blob = live
    capsys.readouterr()
    rc = cli.main(["import", str(path), "--report", str(tmp_path / "bad.json"), "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert lines[0].startswith("assets-map: error:")
    assert out.read_bytes() == blob, "a refused import changed the data in use"
    report = json.loads((tmp_path / "bad.json").read_text())
    assert report["accepted"] is False and report["refused"]
    assert str(tmp_path) not in captured.err  # never echo a server path
    return err.value


def accepted(name: str, data: bytes, **options):
    gdf, report = import_bytes(data, name, **options)
    assert len(gdf) + report.rejected == report.rows_read
    return gdf, report


def messages(report, kind=None):
    return [i.message for i in report.issues if kind is None or i.kind == kind]


# ---------------------------------------------------------------- formats GDAL must never see

VRT = b"""<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>"""


def test_vrt_disguised_as_geojson(tmp_path, live, capsys):
    refused(tmp_path, live, "parcels.geojson", VRT, "virtual dataset \\(VRT\\)", capsys)


def test_vrt_disguised_as_csv_and_gpkg(tmp_path, live, capsys):
    refused(tmp_path, live, "register.csv", VRT, "VRT", capsys)
    refused(tmp_path, live, "register.gpkg", VRT, "VRT", capsys)


def test_geojson_crs_link_refused(tmp_path, live, capsys):
    doc = {"type": "FeatureCollection",
           "crs": {"type": "link", "properties": {"href": "http://example.com/crs.prj", "type": "proj4"}},
           "features": [{"type": "Feature", "properties": {"name": "a"}, "geometry": {"type": "Point", "coordinates": [380000, 395000]}}]}
    refused(tmp_path, live, "sites.geojson", json.dumps(doc).encode(), "by a link, which assets-map never fetches", capsys)


def test_geojson_crs_url_name_refused(tmp_path, live, capsys):
    doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "http://evil.example/crs"}},
           "features": []}
    refused(tmp_path, live, "sites.geojson", json.dumps(doc).encode(), "only EPSG codes", capsys)


def test_geojson_repeated_type_key_refused(tmp_path, live, capsys):
    data = b'{"type": "FeatureCollection", "type": "gdal_streamed_alg", "features": []}'
    refused(tmp_path, live, "sites.geojson", data, "repeats the key", capsys)


def test_xml_with_dtd_or_entities_refused(tmp_path, live, capsys):
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            b"<kml><Placemark><name>&lol2;</name></Placemark></kml>")
    refused(tmp_path, live, "sites.geojson", bomb, "DTD or entity declarations", capsys)
    xxe = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    refused(tmp_path, live, "sites.csv", xxe, "DTD or entity", capsys)


def test_xlsx_with_dtd_in_a_part_refused(tmp_path, live, capsys):
    buf = io.BytesIO()
    pd.DataFrame({"AssetCode": ["1"], "GeoX": [-2.3], "GeoY": [53.4]}).to_excel(buf, index=False)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                dtd = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                data = data.replace(b"?>", b"?>" + dtd, 1) if data.startswith(b"<?xml") else dtd + data
            zf.writestr(info.filename, data)
    err = refused(tmp_path, live, "register.xlsx", out.getvalue(), "DTD or entity", capsys)
    assert "xl/worksheets/sheet1.xml" in str(err)


def test_sqlite_that_is_not_a_geopackage_refused(tmp_path, live, capsys):
    db = tmp_path / "plain.sqlite"
    con = sqlite3.connect(db)
    con.execute("create table t (a text)")
    con.commit()
    con.close()
    refused(tmp_path, live, "register.gpkg", db.read_bytes(), "is not a GeoPackage", capsys)


def test_disallowed_extension_and_wrong_content(tmp_path, live, capsys):
    refused(tmp_path, live, "layer.vrt", VRT, "extension '.vrt'", capsys)
    refused(tmp_path, live, "register.xls", GOOD_CSV, "not an Excel workbook", capsys)
    refused(tmp_path, live, "register.zip", GOOD_CSV, "not a zip archive", capsys)
    refused(tmp_path, live, "register.shp", GOOD_CSV, "not a Shapefile", capsys)


# ---------------------------------------------------------------- archives

def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_bomb_by_ratio(tmp_path, live, capsys):
    data = _zip({"register.csv": b"0" * (30 * 1024 * 1024)})
    assert len(data) < 100_000
    refused(tmp_path, live, "bomb.zip", data, "expands \\d+ times \\(a possible zip bomb\\)", capsys)


def test_zip_over_expanded_size_limit(tmp_path, live, capsys):
    rng = np.random.default_rng(1)
    data = _zip({"register.csv": rng.integers(0, 255, 300_000, dtype=np.uint8).tobytes()})
    with pytest.raises(InputError, match="would expand to 0 MB, over the 0 MB limit"):
        import_bytes(data, "big.zip", limits=Limits(max_zip_expanded=200_000))


def test_zip_path_traversal(tmp_path, live, capsys):
    refused(tmp_path, live, "evil.zip", _zip({"../../etc/cron.d/x.csv": GOOD_CSV}), "unsafe path", capsys)
    refused(tmp_path, live, "evil.zip", _zip({"/abs/register.csv": GOOD_CSV}), "unsafe path", capsys)
    assert not (tmp_path.parent.parent / "etc" / "cron.d" / "x.csv").exists()


def test_zip_symlink_member_refused(tmp_path, live, capsys):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("register.csv")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    refused(tmp_path, live, "link.zip", buf.getvalue(), "symbolic link", capsys)


def test_nested_archive_refused(tmp_path, live, capsys):
    inner = _zip({"register.csv": GOOD_CSV})
    refused(tmp_path, live, "nested.zip", _zip({"inner.zip": inner}), "archives inside archives", capsys)


def test_more_than_one_dataset_refused(tmp_path, live, capsys):
    data = _zip({"a.csv": GOOD_CSV, "b.geojson": b'{"type":"FeatureCollection","features":[]}'})
    refused(tmp_path, live, "two.zip", data, "holds 2 datasets", capsys)


def _shapefile_parts(tmp_path) -> dict[str, bytes]:
    g = gpd.GeoDataFrame({"AssetCode": ["001", "002"], "Name": ["Hall", "Depot"]},
                         geometry=[Point(380000, 395000), Point(381000, 396000)], crs="EPSG:27700")
    d = tmp_path / "shp"
    d.mkdir(exist_ok=True)
    g.to_file(d / "assets.shp", engine="pyogrio")
    return {p.name: p.read_bytes() for p in d.iterdir()}


@pytest.mark.parametrize("missing", [".shp", ".shx", ".dbf"])
def test_zipped_shapefile_missing_required_part(tmp_path, live, capsys, missing):
    parts = {k: v for k, v in _shapefile_parts(tmp_path).items() if not k.endswith(missing)}
    match = "not its .shp file" if missing == ".shp" else f"missing the Shapefile's {missing}"
    refused(tmp_path, live, "assets.zip", _zip(parts), match, capsys)


def test_zipped_shapefile_missing_prj_and_cpg_warned(tmp_path):
    parts = {k: v for k, v in _shapefile_parts(tmp_path).items() if not k.endswith((".prj", ".cpg"))}
    gdf, report = accepted("assets.zip", _zip(parts))
    warned = " ".join(messages(report, "warning"))
    assert "no .prj" in warned and "no .cpg" in warned
    assert "fit EPSG:27700" in warned  # CRS decided from the coordinates, and said so
    assert list(gdf["asset_id"]) == ["001", "002"]
    assert gdf.geometry.x.round().tolist() == [380000, 381000]


def test_lone_shp_without_sidecars_refused(tmp_path, live, capsys):
    parts = _shapefile_parts(tmp_path)
    refused(tmp_path, live, "assets.shp", parts["assets.shp"], "missing the Shapefile's .shx and .dbf", capsys)


# ---------------------------------------------------------------- layers

def test_multi_layer_geopackage_needs_a_choice(tmp_path, live, capsys):
    p = tmp_path / "two.gpkg"
    g = gpd.GeoDataFrame({"AssetCode": ["1"]}, geometry=[Point(380000, 395000)], crs="EPSG:27700")
    g.to_file(p, layer="buildings", engine="pyogrio")
    g.to_file(p, layer="land", engine="pyogrio")
    refused(tmp_path, live, "two.gpkg", p.read_bytes(), "holds 2 layers \\(buildings, land\\); choose one", capsys)
    gdf, report = accepted("two.gpkg", p.read_bytes(), layer="land")
    assert len(gdf) == 1
    with pytest.raises(InputError, match="no layer named 'roads'"):
        import_bytes(p.read_bytes(), "two.gpkg", layer="roads")


def test_multi_sheet_workbook_needs_a_choice(tmp_path, live, capsys):
    buf = io.BytesIO()
    with pd.ExcelWriter(buf) as xw:
        pd.DataFrame({"AssetCode": ["001"], "GeoX": [-2.3], "GeoY": [53.4]}).to_excel(xw, sheet_name="Assets", index=False)
        # two tables: which is the register is the user's choice (a notes sheet beside one table is not: see
        # tests/test_holdout_ods.py)
        pd.DataFrame({"AssetCode": ["002"], "GeoX": [-2.2], "GeoY": [53.5]}).to_excel(xw, sheet_name="Notes", index=False)
    refused(tmp_path, live, "register.xlsx", buf.getvalue(), "holds 2 sheets \\(Assets, Notes\\); choose one", capsys)
    gdf, _ = accepted("register.xlsx", buf.getvalue(), layer="Assets")
    assert gdf["asset_id"].tolist() == ["001"]


# ---------------------------------------------------------------- geometries

def _geojson(features) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _feature(geom, **props):
    return {"type": "Feature", "properties": props, "geometry": geom}


def test_null_empty_and_invalid_geometries_reported_by_row(tmp_path):
    bowtie = {"type": "Polygon", "coordinates": [[[-2.30, 53.40], [-2.29, 53.41], [-2.29, 53.40], [-2.30, 53.41], [-2.30, 53.40]]]}
    square = {"type": "Polygon", "coordinates": [[[-2.30, 53.40], [-2.29, 53.40], [-2.29, 53.41], [-2.30, 53.41], [-2.30, 53.40]]]}
    data = _geojson([_feature(square, AssetCode="A"), _feature(None, AssetCode="B"),
                     _feature({"type": "Polygon", "coordinates": []}, AssetCode="C"), _feature(bowtie, AssetCode="D")])
    gdf, report = accepted("parcels.geojson", data)
    issues = {i.message: i.rows for i in report.issues}
    assert issues["the feature has no geometry (null)"] == [2]
    assert issues["the feature's geometry is empty"] == [3]
    repaired = [m for m in issues if m.startswith("repaired 1 invalid geometries with make_valid")]
    assert len(repaired) == 1 and issues[repaired[0]] == [4] and "src_geometry_wkt" in repaired[0]
    d = gdf.set_index("asset_id")
    assert d.loc["D", "geometry"].is_valid
    assert shapely.from_wkt(d.loc["D", "src_geometry_wkt"]).equals(shapely.geometry.shape(bowtie))
    assert d.loc[["B", "C"], "location_quality"].tolist() == ["none", "none"]
    assert report.unplaced == 2
    # make_valid can be declined: the geometry is kept as given, with a warning
    gdf2, report2 = accepted("parcels.geojson", data, make_valid=False)
    assert not gdf2.set_index("asset_id").loc["D", "geometry"].is_valid
    assert any("make_valid was not applied" in m for m in messages(report2, "warning"))


def test_z_and_m_dropped(tmp_path):
    data = _geojson([_feature({"type": "Point", "coordinates": [-2.3, 53.4, 12.5]}, AssetCode="A")])
    gdf, report = accepted("points.geojson", data)
    assert not gdf.geometry.has_z.any()
    assert any("Z (height) or M (measure) values dropped" in m for m in messages(report, "fixed"))
    # A GeoPackage whose geometry blob is an ISO WKB POINT M (GDAL writers will not make one from shapely).
    g = gpd.GeoDataFrame({"AssetCode": ["M"]}, geometry=[Point(380000, 395000)], crs="EPSG:27700")
    p = tmp_path / "m.gpkg"
    g.to_file(p, engine="pyogrio", SPATIAL_INDEX="NO")
    blob = b"GP\x00\x01" + struct.pack("<i", 27700) + b"\x01" + struct.pack("<I", 2001) + struct.pack("<ddd", 380000, 395000, 5)
    con = sqlite3.connect(p)
    table, column = con.execute("select table_name, column_name from gpkg_geometry_columns").fetchone()
    con.execute(f'update "{table}" set "{column}" = ?', (blob,))
    con.execute("update gpkg_geometry_columns set m = 1")
    con.commit()
    con.close()
    gdf, report = accepted("m.gpkg", p.read_bytes())
    assert not shapely.has_m(gdf.geometry.to_numpy()).any()
    assert gdf.geometry.iloc[0].equals(Point(380000, 395000))


def test_non_finite_and_out_of_uk_coordinates(tmp_path):
    g = gpd.GeoDataFrame({"AssetCode": ["ok", "nan", "paris"]},
                         geometry=[Point(380000, 395000), Point(np.nan, 1.0), Point(652000, -5_000_000)], crs="EPSG:27700")
    p = tmp_path / "pts.gpkg"
    g.to_file(p, engine="pyogrio")
    gdf, report = accepted("pts.gpkg", p.read_bytes())
    issues = {i.message: i.rows for i in report.issues}
    assert any(rows == [2] for m, rows in issues.items() if "not finite" in m)
    assert any(rows == [3] for m, rows in issues.items() if "outside the UK" in m)
    assert gdf["location_quality"].tolist() == ["register coordinates", "none", "none"]
    csv = b"AssetCode,Easting,Northing\nok,380000,395000\nzero,0,0\ninf,inf,395000\n"
    gdf, report = accepted("r.csv", csv)
    assert gdf["location_quality"].tolist() == ["register coordinates", "none", "none"]
    assert any(i.rows == [2] and "not in the UK" in i.message for i in report.issues)


def test_eastings_in_latitude_columns(tmp_path):
    csv = (b"AssetCode,Longitude,Latitude\nA,-2.30,53.40\nB,-2.31,53.41\nC,-2.32,395000\n")
    gdf, report = accepted("r.csv", csv)
    bad = [i for i in report.issues if "not in the UK" in i.message]
    assert bad and bad[0].rows == [3]
    assert gdf.set_index("asset_id").loc["C", "location_quality"] == "none"
    assert "Latitude=395000" in gdf.set_index("asset_id").loc["C", "location_note"]


def test_geojson_with_bng_coordinates_and_no_crs(tmp_path):
    data = _geojson([_feature({"type": "Point", "coordinates": [380000, 395000]}, AssetCode="A")])
    gdf, report = accepted("bng.geojson", data)
    assert any("holds British National Grid eastings/northings" in m for m in messages(report, "fixed"))
    assert gdf.crs.to_epsg() == 27700
    assert gdf.geometry.iloc[0].equals(Point(380000, 395000))


def test_layer_claiming_bng_with_degrees(tmp_path):
    g = gpd.GeoDataFrame({"AssetCode": ["A"]}, geometry=[Point(-2.3, 53.4)], crs="EPSG:27700")
    p = tmp_path / "wrong.gpkg"
    g.to_file(p, engine="pyogrio")
    gdf, report = accepted("wrong.gpkg", p.read_bytes())
    assert any("claims British National Grid but holds longitude/latitude" in m for m in messages(report, "fixed"))
    expected = gpd.GeoSeries([Point(-2.3, 53.4)], crs="EPSG:4326").to_crs(27700).iloc[0]
    assert gdf.geometry.iloc[0].distance(expected) < 0.01


def test_no_crs_and_not_in_the_uk_refused(tmp_path, live, capsys):
    g = gpd.GeoDataFrame({"a": ["1"]}, geometry=[Point(5_000_000, 9_000_000)])
    p = tmp_path / "nocrs.shp"
    g.to_file(p, engine="pyogrio")
    parts = {f.name: f.read_bytes() for f in tmp_path.iterdir() if f.stem == "nocrs"}
    refused(tmp_path, live, "nocrs.zip", _zip(parts), "has no CRS and its coordinates are not in the UK", capsys)


# ---------------------------------------------------------------- text, ids, sizes

def test_cp1252_and_bom(tmp_path):
    cp = "AssetCode,PropertyName,GeoX,GeoY\n001,Caf\u00e9 \u2013 Stretford,-2.3,53.4\n".encode("cp1252")
    gdf, report = accepted("r.csv", cp)
    assert gdf["name"].iloc[0] == "Caf\u00e9 \u2013 Stretford"
    assert any("Windows-1252" in m for m in messages(report))
    bom = b"\xef\xbb\xbfAssetCode,PropertyName,GeoX,GeoY\n001,Hall,-2.3,53.4\n"
    gdf, report = accepted("r.csv", bom)
    assert gdf["asset_id"].tolist() == ["001"]  # the BOM did not stick to the first header
    assert "src_AssetCode" in gdf.columns
    assert any("byte-order mark" in m for m in messages(report))


def test_duplicate_ids_made_unique_and_reported(tmp_path):
    csv = b"AssetCode,GeoX,GeoY\n007,-2.3,53.4\n007,-2.31,53.41\n008,-2.32,53.42\n"
    gdf, report = accepted("r.csv", csv)
    assert gdf["asset_id"].tolist() == ["007#1", "007#2", "008"]
    assert gdf["src_AssetCode"].tolist() == ["007", "007", "008"]
    assert any(i.rows == [1, 2] and "repeated" in i.message for i in report.issues)


@pytest.mark.parametrize("name,data,match", [
    ("r.csv", b"", "the file is empty"),
    ("r.csv", b"\n\n  \n", "the file is empty"),
    ("r.csv", b"AssetCode,GeoX,GeoY\n", "header but no data rows"),
    ("r.geojson", b"", "the file is empty"),
    ("r.zip", _zip({}), "holds no file assets-map can read"),
    ("r.xlsx", b"", "the file is empty"),
])
def test_empty_files(tmp_path, live, capsys, name, data, match):
    refused(tmp_path, live, name, data, match, capsys)


def test_files_over_the_configured_limits(tmp_path, live, capsys):
    big = GOOD_CSV + b"".join(b"%03d,Site,-2.3,53.4,Freehold\n" % i for i in range(200))
    with pytest.raises(InputError, match="over the 0.0 MB limit"):
        import_bytes(big, "r.csv", limits=Limits(max_file_bytes=1000))
    with pytest.raises(InputError, match="at most 50 are accepted"):
        import_bytes(big, "r.csv", limits=Limits(max_rows=50))
    wide = ",".join(f"c{i}" for i in range(30)).encode() + b"\n" + b",".join(b"1" for _ in range(30)) + b"\n"
    with pytest.raises(InputError, match="has 30 columns; at most 10"):
        import_bytes(wide, "r.csv", limits=Limits(max_columns=10))
    g = gpd.GeoDataFrame({"a": [str(i) for i in range(20)]}, geometry=[Point(380000 + i, 395000) for i in range(20)], crs=27700)
    p = tmp_path / "many.gpkg"
    g.to_file(p, engine="pyogrio")
    with pytest.raises(InputError, match="has 20 features; at most 5"):
        import_bytes(p.read_bytes(), "many.gpkg", limits=Limits(max_rows=5))


def test_binary_renamed_csv_refused(tmp_path, live, capsys):
    refused(tmp_path, live, "r.csv", b"\x00\x01\x02binary\x00" * 50, "not a text table", capsys)


def test_uploaded_name_is_never_a_path(tmp_path):
    gdf, report = import_bytes(GOOD_CSV, "../../../../etc/register.csv")
    assert report.source == "register.csv"
    assert set(gdf["source"]) == {"register.csv"}
