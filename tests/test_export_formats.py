"""What each export format holds: the Shapefile zip's parts and mappings, GeoPackage tables and descriptions,
RFC 7946 GeoJSON, spreadsheet-safe CSV, escaped KML, and a data dictionary for every field."""
from __future__ import annotations

import datetime as dt
import io
import json
import re
import sqlite3
import warnings
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely.geometry import GeometryCollection, LineString, MultiPoint, MultiPolygon, Point, Polygon, box

from assets_map.io import export as ex
from assets_map.io.export import (
    CUT_MARK,
    FORMATS,
    ExportWarning,
    export_bytes,
    export_file,
    safe_cell,
    shapefile_field_names,
    write_csv,
)
from assets_map.io.provenance import from_table, provenance
from assets_map.io.report import InputError

X0, Y0 = 430_000.0, 310_000.0


def assets_frame(geoms, **extra) -> gpd.GeoDataFrame:
    n = len(geoms)
    data = {
        "asset_id": [f"A{i:03d}" for i in range(n)],
        "name": [f"Site {i} £ é" for i in range(n)],
        "uprn": [f"{i:012d}" for i in range(n)],
        "vacant_since": [dt.date(2020, 1, 1) + dt.timedelta(days=i) if i % 2 else None for i in range(n)],
        "floor_area_m2": [100.5 + i for i in range(n)],
        "imd_decile": pd.array([i % 10 + 1 if i % 3 else None for i in range(n)], dtype="Int64"),
        "excluded": [bool(i % 2) for i in range(n)],
        "priority": ["High" if i % 2 else "not flagged" for i in range(n)],
        "reasons": ["short"] * n,
        "src_OrganisationLabel": ["Council"] * n,
        "src_OrganisationURI": ["http://example.invalid/org"] * n,
    }
    data.update(extra)
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs="EPSG:27700"))


def quiet_export(layers, fmt, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExportWarning)
        return export_bytes(layers, fmt, **kw)


# ----------------------------------------------------------------------------- field names

def test_field_names_cut_to_ten_unique_and_deterministic():
    cols = ["asset_id", "need_area_code", "need_area_name", "src_OrganisationLabel", "src_OrganisationURI",
            "src_Floor area (m²)", "Étage", "1st_floor", "uprn"]
    a = shapefile_field_names(cols)
    assert a == shapefile_field_names(list(cols))
    assert all(len(v) <= 10 for v in a.values())
    assert len({v.upper() for v in a.values()}) == len(cols)
    assert a["asset_id"] == "asset_id" and a["uprn"] == "uprn"
    assert a["need_area_code"] == "need_area_" and a["need_area_name"] == "need_are_1"
    assert a["src_OrganisationLabel"] == "src_Organi" and a["src_OrganisationURI"] == "src_Orga_1"
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", a["src_Floor area (m²)"]) and a["Étage"] == "Etage"
    assert a["1st_floor"][0].isalpha()


def test_a_name_that_fits_keeps_it_whatever_the_order():
    # "need_area_" fits ten characters: the long column must not take it first.
    a = shapefile_field_names(["need_area_code", "need_area_"])
    assert a["need_area_"] == "need_area_" and a["need_area_code"] != "need_area_"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet="abcAB_é1 -", min_size=1, max_size=16), min_size=1, max_size=40, unique=True))
def test_field_names_always_unique_and_short(cols):
    names = shapefile_field_names(cols)
    assert set(names) == set(cols)
    assert all(1 <= len(v) <= 10 and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", v) for v in names.values())
    assert len({v.upper() for v in names.values()}) == len(cols)


# ----------------------------------------------------------------------------- Shapefile

@pytest.fixture()
def mixed():
    geoms = [Point(X0, Y0), Point(X0 + 10, Y0), box(X0, Y0, X0 + 50, Y0 + 50),
             MultiPolygon([box(X0 + 100, Y0, X0 + 120, Y0 + 20), box(X0 + 130, Y0, X0 + 150, Y0 + 20)]),
             LineString([(X0, Y0), (X0 + 100, Y0 + 100)]), MultiPoint([(X0, Y0 + 5), (X0 + 5, Y0 + 5)]),
             GeometryCollection([box(X0 + 200, Y0, X0 + 210, Y0 + 10), LineString([(X0 + 300, Y0), (X0 + 310, Y0)])]),
             None, Point()]
    long_reason = "Priority High: " + "évidence £ " * 40
    return assets_frame(geoms, reasons=["short"] * 2 + [long_reason] + ["short"] * 6)


def test_shapefile_zip_parts(mixed):
    with pytest.warns(ExportWarning) as caught:
        name, data = export_bytes({"assets": mixed}, "shp", name="t")
    messages = " ".join(str(w.message) for w in caught)
    assert "254" in messages and "assets_long_text.csv" in messages
    assert "geometry collections" in messages
    zf = zipfile.ZipFile(io.BytesIO(data))
    members = set(zf.namelist())
    for kind in ("point", "multipoint", "line", "polygon"):
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            assert f"assets_{kind}{ext}" in members
        assert zf.read(f"assets_{kind}.cpg").decode().strip() == "UTF-8"
        assert CRS(zf.read(f"assets_{kind}.prj").decode()).to_epsg() == 27700
    assert {"assets_no_location.dbf", "assets_no_location.cpg", "assets_long_text.csv", "assets_geometry_parts.csv",
            "field_names.csv", "data_dictionary.csv", "provenance.json", "README.txt"} <= members
    assert zf.namelist()[0] == "README.txt"


def test_shapefile_rows_go_where_the_readme_says(mixed, tmp_path):
    path = tmp_path / "t.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExportWarning)
        export_file({"assets": mixed}, "shp", path)
    n = {}
    for part in ("point", "multipoint", "line", "polygon"):
        n[part] = pyogrio.read_info(f"/vsizip/{path}/assets_{part}.shp")["features"]
    n["none"] = pyogrio.read_info(f"/vsizip/{path}/assets_no_location.dbf")["features"]
    assert n == {"point": 2, "multipoint": 1, "line": 1, "polygon": 3, "none": 2}
    assert sum(n.values()) == len(mixed), "no row is lost"
    readme = zipfile.ZipFile(path).read("README.txt").decode()
    assert "assets_no_location.dbf: 2 assets with no location" in readme
    parts = pd.read_csv(zipfile.ZipFile(path).open("assets_geometry_parts.csv"), dtype=str)
    assert parts["asset_id"].tolist() == ["A006"]
    full = shapely.from_wkt(parts["wkt_27700"].iloc[0])
    assert full.equals(mixed.geometry.iloc[6])
    poly = pyogrio.read_dataframe(f"/vsizip/{path}/assets_polygon.shp")
    kept = poly.loc[poly["asset_id"] == "A006", "geometry"].iloc[0]
    assert kept.equals(box(X0 + 200, Y0, X0 + 210, Y0 + 10)) or kept.normalize().equals(
        box(X0 + 200, Y0, X0 + 210, Y0 + 10).normalize())


def test_shapefile_long_text_dates_and_field_types(mixed, tmp_path):
    path = tmp_path / "t.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExportWarning)
        export_file({"assets": mixed}, "shp", path)
    info = pyogrio.read_info(f"/vsizip/{path}/assets_polygon.shp")
    types = dict(zip(info["fields"], info["ogr_types"], strict=True))
    assert types["vacant_sin"] == "OFTDate", "dates are dBase dates, not text"
    assert types["uprn"] == "OFTString"
    assert types["floor_area"] == "OFTReal"
    assert types["imd_decile"] in ("OFTInteger", "OFTInteger64")
    assert dict(zip(info["fields"], info["ogr_subtypes"], strict=True))["excluded"] == "OFSTBoolean"
    back = pyogrio.read_dataframe(f"/vsizip/{path}/assets_polygon.shp")
    cut = back.loc[back["asset_id"] == "A002", "reasons"].iloc[0]
    assert cut.endswith(CUT_MARK) and len(cut.encode("utf-8")) <= 254
    long = pd.read_csv(zipfile.ZipFile(path).open("assets_long_text.csv"), dtype=str, keep_default_na=False)
    assert long.columns[0] == "asset_id"
    row = long.iloc[0]
    assert (row.asset_id, row.field, row.shapefile_field, row.file) == ("A002", "reasons", "reasons", "assets_polygon.shp")
    assert row.full_text == mixed["reasons"].iloc[2]
    assert int(row.fid) == back.index[back["asset_id"] == "A002"][0]
    names = pd.read_csv(zipfile.ZipFile(path).open("field_names.csv"), dtype=str)
    dd = pd.read_csv(zipfile.ZipFile(path).open("data_dictionary.csv"), dtype=str, keep_default_na=False)
    m = dict(zip(names["field"], names["shapefile_field"], strict=True))
    assert m["src_OrganisationURI"] == "src_Orga_1"
    assert dict(zip(dd["field"], dd["shapefile_field"], strict=True))["src_OrganisationURI"] == "src_Orga_1"


def test_a_table_and_an_empty_layer_in_a_shapefile_zip():
    table = pd.DataFrame({"group_by": ["all"], "group": ["all assets"], "sites": [3], "flagged": [1], "high": [1],
                          "medium": [0], "low": [0], "not_flagged": [2], "hectares": [np.nan], "floor_area_m2": [10.0]})
    empty = assets_frame([]).iloc[0:0]
    name, data = quiet_export({"summary": table, "candidates": empty}, "shp")
    members = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "summary.dbf" in members and "summary.shp" not in members
    assert "candidates.dbf" in members


# ----------------------------------------------------------------------------- GeoPackage

def test_geopackage_tables_descriptions_and_crs(tmp_path, demo_result):
    from assets_map.io.export import result_layers

    path = tmp_path / "r.gpkg"
    rec = provenance(demo_result, inputs={"assets": ("demo.gpkg", b"demo bytes")}, filters={"priority": ["High"]})
    export_file(result_layers(demo_result), "gpkg", path, provenance=rec)
    con = sqlite3.connect(path)
    rows = {t: (kind, desc, srs) for t, kind, desc, srs in
            con.execute("select table_name, data_type, description, srs_id from gpkg_contents")}
    assert set(rows) == {"assets", "candidates", "needs", "summary", "data_dictionary", "provenance"}
    for t in ("assets", "candidates", "needs"):
        assert rows[t][0] == "features" and rows[t][2] == 27700 and len(rows[t][1]) > 30
    for t in ("summary", "data_dictionary", "provenance"):
        assert rows[t][0] == "attributes" and rows[t][1]
    assert con.execute("pragma user_version").fetchone()[0] == 10200  # GeoPackage 1.2
    con.close()
    prov = from_table(pyogrio.read_dataframe(path, layer="provenance"))
    assert prov["inputs"][0]["sha256"] == __import__("hashlib").sha256(b"demo bytes").hexdigest()
    assert prov["iod_year"] == 2025 and prov["weights"] == {"imd": 1.0}
    assert prov["filters"] == {"priority": ["High"]}
    assert prov["export"]["layers"]["assets"] == len(demo_result.assets)
    dd = pyogrio.read_dataframe(path, layer="data_dictionary")
    for layer in ("assets", "candidates", "needs", "summary"):
        fields = pyogrio.read_info(path, layer=layer)["fields"]
        have = set(dd.loc[dd["layer"] == layer, "field"])
        assert set(fields) <= have, set(fields) - have
    assert (dd["meaning"].str.len() > 3).all()


# ----------------------------------------------------------------------------- GeoJSON

def test_geojson_is_rfc7946_with_metadata(demo_result):
    layers = {"candidates": demo_result.candidates}
    name, data = export_bytes(layers, "geojson", name="c", provenance=provenance(demo_result))
    assert name == "c.geojson"
    doc = json.loads(data)
    assert "crs" not in doc and doc["type"] == "FeatureCollection"
    text = data.decode("utf-8")
    decimals = [len(m) for m in re.findall(r"-?\d+\.(\d+)", text.split('"features"', 1)[1]) if m]
    coords = []

    def walk(c):
        if isinstance(c[0], (int, float)):
            coords.append(c)
        else:
            for x in c:
                walk(x)

    for f in doc["features"]:
        if f["geometry"]:
            walk(f["geometry"]["coordinates"])
            if f["geometry"]["type"] == "Polygon":
                assert shapely.LinearRing(f["geometry"]["coordinates"][0]).is_ccw, "RFC 7946: exterior rings counterclockwise"
    arr = np.array(coords)
    assert (-3 < arr[:, 0]).all() and (arr[:, 0] < 0).all() and (50 < arr[:, 1]).all() and (arr[:, 1] < 56).all()
    for c in coords:
        for v in c:
            assert len(repr(float(v)).split(".")[1]) <= 7
    assert decimals
    meta = doc["metadata"]
    fields = {d["field"] for d in meta["data_dictionary"]}
    assert set(doc["features"][0]["properties"]) <= fields
    assert meta["provenance"]["iod_year"] == 2025
    assert meta["provenance"]["export"]["format"] == "geojson"


# ----------------------------------------------------------------------------- CSV

def test_csv_cells_made_safe_and_numbers_left_alone():
    for bad in ("=1+1", "+cmd", "-cmd", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'):
        assert safe_cell(bad) == "'" + bad
    for ok in ("-2.5", "+44", "1e-3", "plain", "£5", "", None, 3):
        assert safe_cell(ok) == ok


@pytest.mark.parametrize("bom", [True, False])
def test_csv_zip(bom):
    g = assets_frame([Point(X0, Y0), box(X0, Y0, X0 + 10, Y0 + 10), None],
                     name=["=cmd|' /C calc'!A0", "-5", "£ é"])
    name, data = export_bytes({"assets": g}, "csv", name="c", bom=bom)
    zf = zipfile.ZipFile(io.BytesIO(data))
    raw = zf.read("assets.csv")
    assert raw.startswith(b"\xef\xbb\xbf") == bom
    df = pd.read_csv(io.BytesIO(raw), dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert df["name"].tolist() == ["'=cmd|' /C calc'!A0", "-5", "£ é"]
    assert df["uprn"].tolist() == ["000000000000", "000000000001", "000000000002"]
    assert df["vacant_since"].tolist() == ["", "2020-01-02", ""]
    assert df.loc[2, "lon"] == "" and df.loc[2, "wkt"] == ""
    assert shapely.from_wkt(df.loc[1, "wkt"]).equals(box(X0, Y0, X0 + 10, Y0 + 10))
    csvt = zf.read("assets.csvt").decode()
    types = dict(zip(df.columns, [t.strip('"') for t in csvt.strip().split(",")], strict=True))
    assert types["uprn"] == "String" and types["vacant_since"] == "Date" and types["wkt"] == "WKT"
    assert types["floor_area_m2"] == "Real" and types["imd_decile"] == "Integer64"
    readme = zf.read("README.txt").decode()
    assert "apostrophe" in readme
    dd = pd.read_csv(zf.open("data_dictionary.csv"), dtype=str)
    assert set(df.columns) <= set(dd["field"])


def test_csv_coordinates_choice_and_bare_csv(tmp_path):
    g = assets_frame([Point(X0, Y0)])
    for choice, cols in (("lonlat", {"lon", "lat"}), ("wkt", {"wkt"})):
        _, data = export_bytes({"assets": g}, "csv", coordinates=choice)
        df = pd.read_csv(zipfile.ZipFile(io.BytesIO(data)).open("assets.csv"), encoding="utf-8-sig")
        assert cols <= set(df.columns) and not ({"lon", "lat", "wkt"} - cols) & set(df.columns)
    with pytest.raises(InputError, match="lonlat, wkt or both"):
        export_bytes({"assets": g}, "csv", coordinates="xy")
    out = write_csv(g, tmp_path / "bare.csv")
    df = pd.read_csv(out, dtype=str)
    assert df.loc[0, "uprn"] == "000000000000" and abs(float(df.loc[0, "lat"]) - 52.687) < 0.01


# ----------------------------------------------------------------------------- KML

def test_kml_escapes_names_and_carries_dictionary(demo_result, tmp_path):
    layers = {"assets": demo_result.assets, "needs": demo_result.needs}
    name, data = export_bytes(layers, "kml", name="k", provenance=provenance(demo_result))
    text = data.decode("utf-8")
    assert "<img" not in text, "an HTML name must not reach Google Earth as markup"
    assert "&lt;img" in text or "&amp;lt;img" in text
    path = tmp_path / name
    path.write_bytes(data)
    assert [n for n, _ in pyogrio.list_layers(path)] == ["assets", "needs"]
    assert "assets-map provenance" in text
    assert "iod_year: 2025" in text and "software.assets_map" in text
    for field in ("asset_id", "priority", "reasons", "imd_decile"):
        assert f"<td>{field}</td>" in text.replace("&lt;td&gt;", "<td>").replace("&lt;/td&gt;", "</td>")
    back = pyogrio.read_dataframe(path, layer="assets")
    assert back["description"].str.contains("Priority").any()
    assert "attr_visibility" in back.columns  # 'visibility' is a KML element


# ----------------------------------------------------------------------------- refusals

def test_refusals_gather_every_problem(tmp_path):
    g = assets_frame([Point(X0, Y0)])
    nocrs = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(1, 2)])
    with pytest.raises(InputError) as err:
        export_bytes({"assets": g, "data_dictionary": g, "x": nocrs}, "xls")
    msg = str(err.value)
    assert "unknown export format 'xls'" in msg and "reserved" in msg and "no CRS" in msg
    with pytest.raises(InputError, match="nothing to export"):
        export_bytes({}, "gpkg")
    with pytest.raises(InputError, match=r"a \.csv holds one layer and 2 were given"):
        export_file({"assets": g, "b": g}, "csv", tmp_path / "a.csv")
    with pytest.raises(InputError, match=r"must end in \.zip or \.csv"):
        export_file({"assets": g}, "csv", tmp_path / "a.txt")
    with pytest.raises(InputError, match=r"\.geojson or \.json"):
        export_file({"assets": g}, "geojson", tmp_path / "a.zip")
    with pytest.raises(InputError, match=r"must end in \.zip"):
        export_file({"assets": g, "b": g}, "geojson", tmp_path / "a.geojson")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- the dictionary everywhere

def _dictionary_and_fields(fmt, name, data, tmp_path):
    path = tmp_path / name
    path.write_bytes(data)
    if fmt in ("gpkg", "xlsx"):
        dd = pyogrio.read_dataframe(path, layer="data_dictionary")
        fields = {ln: list(pyogrio.read_info(path, layer=ln)["fields"]) for ln in ("assets", "needs")}
    elif fmt == "geojson":
        zf = zipfile.ZipFile(path)
        dd = pd.read_csv(zf.open("data_dictionary.csv"), dtype=str, keep_default_na=False)
        fields = {ln: list(json.loads(zf.read(f"{ln}.geojson"))["features"][0]["properties"]) for ln in ("assets", "needs")}
    elif fmt in ("csv", "shp"):
        zf = zipfile.ZipFile(path)
        dd = pd.read_csv(zf.open("data_dictionary.csv"), dtype=str, keep_default_na=False)
        if fmt == "csv":
            fields = {ln: list(pd.read_csv(zf.open(f"{ln}.csv"), nrows=1, encoding="utf-8-sig").columns)
                      for ln in ("assets", "needs")}
        else:
            names = pd.read_csv(zf.open("field_names.csv"), dtype=str)
            fields = {ln: names.loc[names["layer"] == ln, "field"].tolist() for ln in ("assets", "needs")}
    else:
        text = data.decode()
        dd = None
        fields = {ln: list(pyogrio.read_info(path, layer=ln)["fields"]) for ln in ("assets", "needs")}
        return dd, fields, text
    return dd, fields, None


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_field_is_in_the_dictionary(fmt, demo_result, tmp_path):
    layers = {"assets": demo_result.assets, "needs": demo_result.needs}
    name, data = quiet_export(layers, fmt, name="d", provenance=provenance(demo_result))
    dd, fields, text = _dictionary_and_fields(fmt, name, data, tmp_path)
    kml_own = {"id", "Name", "description", "timestamp", "begin", "end", "altitudeMode", "tessellate", "extrude",
               "visibility", "drawOrder", "icon"}
    for layer, cols in fields.items():
        cols = [c for c in cols if not (fmt == "kml" and c in kml_own)]
        assert cols
        if dd is None:  # KML: the folder description is the dictionary
            for c in cols:
                assert f"&lt;td&gt;{c}&lt;/td&gt;" in text or f"<td>{c}</td>" in text, c
            continue
        rows = dd[dd["layer"] == layer].set_index("field")
        missing = set(cols) - set(rows.index)
        assert not missing, f"{fmt} {layer}: no dictionary entry for {missing}"
        assert (rows.loc[cols, "meaning"].str.len() > 3).all()
    if dd is not None:
        known = dd[dd["field"].isin(["floor_area_m2", "need_score", "imd_rank", "src_contact"])].set_index("field")
        assert known.loc["floor_area_m2", "unit"] == "m2"
        assert known.loc["imd_rank", "unit"] == "rank"
        assert "source file" in known.loc["src_contact", "meaning"] or "source" in known.loc["src_contact", "source"]


def test_csv_never_overwrites_a_column_named_like_its_coordinates():
    g = assets_frame([Point(X0, Y0)], lon=["the owner's own lon"], wkt=["kept"])
    _, data = export_bytes({"assets": g}, "csv")
    zf = zipfile.ZipFile(io.BytesIO(data))
    df = pd.read_csv(zf.open("assets.csv"), dtype=str, encoding="utf-8-sig")
    assert df.loc[0, "lon"] == "the owner's own lon" and df.loc[0, "wkt"] == "kept"
    assert abs(float(df.loc[0, "lon_export"]) + 1.5576) < 0.001 and df.loc[0, "wkt_export"].startswith("POINT")
    csvt = dict(zip(df.columns, zf.read("assets.csvt").decode().strip().replace('"', "").split(","), strict=True))
    assert csvt["wkt"] == "String" and csvt["wkt_export"] == "WKT"
    dd = pd.read_csv(zf.open("data_dictionary.csv"), dtype=str).set_index("field")
    assert "Longitude" in dd.loc["lon_export", "meaning"]


def test_too_many_fields_for_dbase_is_said():
    extra = {f"src_col{i}": ["x"] for i in range(260)}
    g = assets_frame([Point(X0, Y0)], **extra)
    with pytest.warns(ExportWarning, match="255"):
        name, data = export_bytes({"assets": g}, "shp")
    names = pd.read_csv(zipfile.ZipFile(io.BytesIO(data)).open("field_names.csv"))
    assert len(names) == len(g.columns) - 1


# ----------------------------------------------------------------------------- column types for the writers

def _ref_for_file(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The previous ``for_file`` (a deep copy, a dropna per column, a per-row date list), kept as the reference."""
    import pyarrow as pa

    out = gdf.copy()
    geom = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    for col in out.columns:
        if col == geom:
            continue
        s = out[col]
        if isinstance(s.dtype, pd.ArrowDtype):
            continue
        if pd.api.types.is_datetime64_any_dtype(s):
            naive = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
            if (naive.dropna() == naive.dropna().dt.normalize()).all():
                out[col] = pd.array([v.date() if pd.notna(v) else None for v in naive], dtype=pd.ArrowDtype(pa.date32()))
            continue
        if s.dtype != object:
            continue
        sample = s.dropna()
        kind = pd.api.types.infer_dtype(sample, skipna=True) if not sample.empty else "empty"
        if kind == "empty":
            out[col] = pd.Series([None] * len(s), index=s.index, dtype="str")
        elif kind in ("date", "datetime") and ex._all_dates(sample):
            out[col] = pd.array([None if ex._missing(v) else v.date() if isinstance(v, dt.datetime) else v for v in s],
                                dtype=pd.ArrowDtype(pa.date32()))
        elif kind == "boolean":
            out[col] = s.astype("boolean")
        elif kind == "integer":
            out[col] = s.astype("Int64")
        elif kind in ("floating", "mixed-integer-float"):
            out[col] = pd.to_numeric(s, errors="coerce").astype("float64")
        elif kind == "string":
            out[col] = s.astype("str")
        elif not sample.empty and isinstance(sample.iloc[0], (list, tuple)):
            out[col] = s.map(lambda v: "; ".join(map(str, v)) if isinstance(v, (list, tuple)) else v).astype("str")
        else:
            out[col] = s.map(lambda v: None if ex._missing(v) else v if isinstance(v, str) else str(v)).astype("str")
    return out


def _awkward_columns() -> gpd.GeoDataFrame:
    d = dt.date
    cols = {
        "dates": [d(2020, 1, 1), None, np.nan, d(2021, 5, 6), pd.NaT, d(2020, 1, 1)],
        "dates_and_midnights": [d(2020, 1, 1), dt.datetime(2020, 1, 2), None, pd.Timestamp("2020-01-03"), d(2020, 1, 1), None],
        "dates_and_a_time": [d(2020, 1, 1), dt.datetime(2020, 1, 2, 13, 5), None, None, None, None],
        "datetimes": [dt.datetime(2020, 1, 1), None, dt.datetime(2020, 2, 1), None, None, None],
        "text": ["a", None, np.nan, "b", "a", pd.NA],
        "text_and_nat": ["a", pd.NaT, "b", None, "c", "d"],
        "all_missing": [None, np.nan, None, pd.NA, None, None],
        "all_nat": [pd.NaT] * 6,
        "ints": [1, None, 3, 4, 5, 6],
        "bools": [True, False, None, True, True, False],
        "floats": [1.5, None, 2, 3, 4, 5],
        "lists": [["a", "b"], None, ("c",), [], ["d"], None],
        "mixed": ["a", 1, 2.5, None, dt.date(2020, 1, 1), "b"],
        "stamps": pd.to_datetime(["2020-01-01", None, "2020-03-01", "2020-04-01", None, "2020-06-01"]),
        "stamps_with_time": pd.to_datetime(["2020-01-01 10:00", None, "2020-03-01 00:00", None, None, None]),
        "already_text": pd.array(["x", None, "y", "z", "x", None], dtype="str"),
        "nullable": pd.array([1, None, 2, 3, 4, 5], dtype="Int64"),
    }
    index = [10, 11, 12, 13, 14, 15]  # not 0..n-1: the conversions must keep the index
    frame = pd.DataFrame({k: pd.Series(v, index=index, dtype=object) if isinstance(v, list) else pd.Series(v, index=index)
                          for k, v in cols.items()})
    return gpd.GeoDataFrame(frame, geometry=[Point(X0 + i, Y0) for i in range(6)], crs="EPSG:27700")


def test_for_file_types_every_column_as_before():
    g = _awkward_columns()
    new, ref = ex.for_file(g), _ref_for_file(g)
    pd.testing.assert_frame_equal(new, ref, check_exact=True)
    assert [str(t) for t in new.dtypes] == [str(t) for t in ref.dtypes]
    assert str(new["dates"].dtype) == "date32[day][pyarrow]" and new["dates"].isna().sum() == 3
    assert new["dates"].iloc[3] == dt.date(2021, 5, 6)
    assert str(new["text_and_nat"].dtype) == "str" and str(new["all_missing"].dtype) == "str"
    assert new["dates_and_a_time"].dtype == ref["dates_and_a_time"].dtype  # not all at midnight: not dates
    # a plain table, rows dropped, and an empty frame
    t = pd.DataFrame(g.drop(columns="geometry"))
    pd.testing.assert_frame_equal(ex.for_file(t), _ref_for_file(t), check_exact=True)
    pd.testing.assert_frame_equal(ex.for_file(g.iloc[[5, 0, 2]]), _ref_for_file(g.iloc[[5, 0, 2]]), check_exact=True)
    pd.testing.assert_frame_equal(ex.for_file(g.iloc[:0]), _ref_for_file(g.iloc[:0]), check_exact=True)


def test_for_file_leaves_its_input_alone():
    g = _awkward_columns()
    before = g.copy()
    out = ex.for_file(g)
    out.loc[out.index[0], "floats"] = -1.0  # an unconverted column shared with the input until written to
    out["text"] = "changed"
    out.loc[out.index[1], "geometry"] = Point(0, 0)
    pd.testing.assert_frame_equal(g, before, check_exact=True)
    assert out is not g and out.crs == g.crs and out.geometry.name == "geometry"


def test_gpkg_geometry_type_ignores_missing_and_empty():
    def kind(geoms):
        return ex._gpkg_geometry_type(gpd.GeoDataFrame(geometry=gpd.GeoSeries(geoms, crs="EPSG:27700")))

    assert kind([Point(0, 0), None, Point(), Point(1, 1)]) == "Point"
    assert kind([box(0, 0, 1, 1), MultiPolygon([box(0, 0, 1, 1)]), Polygon()]) == "MultiPolygon"
    assert kind([box(0, 0, 1, 1), None]) == "Polygon"
    assert kind([Point(0, 0), box(0, 0, 1, 1)]) == "Unknown"
    assert kind([LineString([(0, 0), (1, 1)]), None, GeometryCollection()]) == "LineString"
    assert kind([GeometryCollection([Point(0, 0)])]) == "GeometryCollection"
    assert kind([None, Point()]) == "Unknown"
    assert kind([]) == "Unknown"
