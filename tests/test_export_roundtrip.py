"""Round trips: every export format read back with GDAL (pyogrio) matches its source.

Row count, CRS, geometry (within a tolerance that fits the format), values,
UPRNs as text with leading zeros and non-ASCII text (£, é).  Where ``ogrinfo``
(gdal-bin: a second, independent GDAL) is installed it opens each file without
a warning.
"""
from __future__ import annotations

import datetime as dt
import io
import math
import shutil
import subprocess
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import CRS
from shapely.geometry import MultiPolygon, box

from assets_map.engine.geo import representative_points
from assets_map.io.export import (
    CUT_MARK,
    FORMATS,
    ExportWarning,
    export_bytes,
    export_file,
    for_file,
    result_layers,
    safe_cell,
    summary_layer,
)
from assets_map.io.provenance import provenance
from assets_map.schema import value_kind

KEYS = {"assets": ["asset_id"], "candidates": ["asset_id"], "needs": ["code"], "summary": ["group_by", "group"]}
GEOM_TOLERANCE = {"gpkg": 1e-6, "shp": 1e-6, "geojson": 0.05, "kml": 0.05, "csv": 0.002}  # metres in EPSG:27700

NAME_FR = "Café £5 — Ashbridge"
ADDRESS_FR = "1 Rue de l'Église, naïve façade, £"
UPRN_ZEROS = "000012345678"
LONG_ACCENTED = "é" * 200 + " and the rest"  # 200 characters of 2 bytes each: over dBase's 254 bytes
FORMULA = '=HYPERLINK("http://example.invalid","click")'


def sample_layers(result) -> dict[str, pd.DataFrame]:
    """The demo result with the awkward values every format must carry."""
    a = result.assets.copy()
    idx = a.index
    a.loc[idx[0], "name"] = NAME_FR
    a.loc[idx[1], "address"] = ADDRESS_FR
    a.loc[idx[2], "uprn"] = UPRN_ZEROS
    a.loc[idx[4], "use"] = FORMULA
    a.loc[idx[5], "condition"] = "-2.5"
    a.loc[idx[6], "condition"] = "@risk"
    a.loc[idx[7], "location_note"] = LONG_ACCENTED
    poly = a.index[a.geom_type == "Polygon"][1]
    x, y = a.geometry[poly].representative_point().coords[0]
    a.loc[poly, "geometry"] = MultiPolygon([box(x - 20, y - 20, x, y), box(x + 5, y + 5, x + 25, y + 30)])
    layers = {"assets": a, "candidates": a[a["priority"].isin(["High", "Medium", "Low"])],
              "needs": result.needs, "summary": summary_layer(a)}
    return layers


@pytest.fixture(scope="module")
def layers(demo_result):
    return sample_layers(demo_result)


@pytest.fixture(scope="module")
def record(demo_result):
    return provenance(demo_result, note="fictional demo")


# ----------------------------------------------------------------------------- reading back

def _read(path: str, layer: str | None = None) -> gpd.GeoDataFrame | pd.DataFrame:
    return pyogrio.read_dataframe(path, layer=layer)


def _unsafe(value):
    """Undo :func:`safe_cell` (for the comparison only)."""
    if isinstance(value, str) and value.startswith("'") and safe_cell(value[1:]) != value[1:]:
        return value[1:]
    return value


def read_back(fmt: str, name: str, data: bytes, tmp_path: Path, layer_names: list[str]) -> dict:
    """Read an export with GDAL: layer -> frame with the source's column names."""
    path = tmp_path / name
    path.write_bytes(data)
    out = {}
    if fmt == "gpkg":
        for ln in layer_names:
            out[ln] = _read(str(path), ln)
    elif fmt == "geojson":
        if name.endswith(".zip"):
            for ln in layer_names:
                out[ln] = _read(f"/vsizip/{path}/{ln}.geojson")
        else:
            out[layer_names[0]] = _read(str(path))
    elif fmt == "csv":
        for ln in layer_names:
            frame = _read(f"/vsizip/{path}/{ln}.csv")
            out[ln] = frame
    elif fmt == "kml":
        present = {n for n, _ in pyogrio.list_layers(path)}
        for ln in layer_names:
            if ln == "summary":  # a table: KML holds only layers with locations (the document says so)
                assert ln not in present
                continue
            frame = _read(str(path), ln)
            frame = frame.rename(columns={"Name": "name"})
            ours = {c: c[5:] for c in frame.columns if c.startswith("attr_")}  # KML's own fields give way
            frame = frame.drop(columns=[c for c in ours.values() if c in frame.columns]).rename(columns=ours)
            out[ln] = frame  # names and data escaped once: read back exactly
    elif fmt == "shp":
        out = read_shp_zip(path)
    elif fmt == "xlsx":
        out = read_xlsx(path, layer_names)
    return out


def read_xlsx(path: Path, layer_names: list[str]) -> dict:
    """Each sheet as Excel holds it (openpyxl: typed cells, text as text)."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    out = {}
    for ln in layer_names:
        rows = list(wb[ln].iter_rows(values_only=True))
        out[ln] = pd.DataFrame(rows[1:], columns=rows[0])
    return out


def read_shp_zip(path: Path) -> dict:
    """Each layer of a Shapefile export, its parts stacked, full field names and full long texts restored."""
    zf = zipfile.ZipFile(path)
    members = set(zf.namelist())
    names = pd.read_csv(zf.open("field_names.csv"), dtype=str, keep_default_na=False)
    out = {}
    for layer, grp in names.groupby("layer", sort=False):
        back = dict(zip(grp["shapefile_field"], grp["field"], strict=True))
        files = [f"{layer}.shp"] if f"{layer}.shp" in members else []
        files += [f"{layer}_{k}.shp" for k in ("point", "multipoint", "line", "polygon") if f"{layer}_{k}.shp" in members]
        if not files and f"{layer}.dbf" in members:
            files = [f"{layer}.dbf"]
        if f"{layer}_no_location.dbf" in members:
            files.append(f"{layer}_no_location.dbf")
        parts = []
        for f in files:
            frame = _read(f"/vsizip/{path}/{f}")
            frame["_file"], frame["_fid"] = f, np.arange(len(frame))
            parts.append(frame)
        frame = pd.concat(parts, ignore_index=True).rename(columns=back)
        side = f"{layer}_long_text.csv"
        if side in members:
            long = pd.read_csv(zf.open(side), dtype=str, keep_default_na=False)
            for r in long.itertuples(index=False):
                hit = (frame["_file"] == r.file) & (frame["_fid"] == int(r.fid))
                assert hit.sum() == 1
                cut = frame.loc[hit, r.field].iloc[0]
                full = _unsafe(r.full_text)
                assert cut.endswith(CUT_MARK) and len(cut.encode("utf-8")) <= 254
                assert full.startswith(cut[:-1]), "the cut text is the start of the full text"
                frame.loc[hit, r.field] = full
        out[layer] = frame
    return out


# ----------------------------------------------------------------------------- comparing

def _missing(v) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)) or v == ""


def canon(v, kind: str):
    """A comparable form of a value, given the source column's kind."""
    if _missing(v):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if kind == "boolean":
        if isinstance(v, str):
            return {"true": True, "false": False, "1": True, "0": False}[v.lower()]
        return bool(v)
    if kind in ("integer", "real"):
        return float(v)
    if isinstance(v, (dt.date, pd.Timestamp)):
        return v.isoformat()[:10]
    if kind == "date":
        return str(v)[:10].replace("/", "-")
    return str(v)


def assert_values_match(fmt: str, source: pd.DataFrame, back: pd.DataFrame, layer: str) -> None:
    src = for_file(source.reset_index(drop=True))
    keys = KEYS[layer]
    assert len(back) == len(src), f"{fmt} {layer}: {len(back)} rows read back, {len(src)} written"
    src = src.sort_values(keys, ignore_index=True)
    back = back.sort_values(keys, ignore_index=True)
    for col in src.columns:
        if col == "geometry":
            continue
        assert col in back.columns, f"{fmt} {layer}: column {col} missing"
        kind = value_kind(src[col])
        want = [canon(v, kind) for v in src[col].astype(object)]
        got = [canon(v, kind) for v in back[col].astype(object)]
        if fmt in ("csv", "xlsx") and kind == "text":
            want = [safe_cell(w) for w in want]
        if kind in ("integer", "real"):
            w = np.array([np.nan if x is None else x for x in want], dtype=float)
            g = np.array([np.nan if x is None else x for x in got], dtype=float)
            assert np.allclose(w, g, rtol=1e-9, atol=1e-9, equal_nan=True), f"{fmt} {layer}.{col}"
        else:
            bad = [(i, a, b) for i, (a, b) in enumerate(zip(want, got, strict=True)) if a != b]
            assert not bad, f"{fmt} {layer}.{col}: {len(bad)} values differ, e.g. {bad[:2]}"


def assert_geometry_matches(fmt: str, source: gpd.GeoDataFrame, back: pd.DataFrame, layer: str) -> None:
    keys = KEYS[layer]
    src = source.reset_index(drop=True).sort_values(keys, ignore_index=True)
    back = back.sort_values(keys, ignore_index=True)
    if fmt == "xlsx":  # a workbook has no geometry: lon/lat and easting/northing of a point inside
        pts = representative_points(src.geometry)
        has = ~(pts.isna() | pts.is_empty)
        assert np.allclose(back.loc[has, "easting"].astype(float), pts[has].x, atol=0.01)
        assert np.allclose(back.loc[has, "northing"].astype(float), pts[has].y, atol=0.01)
        assert np.allclose(back.loc[has, "lon"].astype(float), pts[has].to_crs("EPSG:4326").x, atol=1e-7)
        assert back.loc[~has, "lon"].isna().all()
        return
    tol = GEOM_TOLERANCE[fmt]
    if fmt == "csv":
        got = gpd.GeoSeries.from_wkt(back["wkt"].where(back["wkt"].notna() & (back["wkt"] != ""), None),
                                     crs="EPSG:27700")
        pts = representative_points(src.geometry).to_crs("EPSG:4326")
        has = ~(pts.isna() | pts.is_empty)
        assert np.allclose(back.loc[has, "lon"].astype(float), pts[has].x, atol=1e-7)
        assert np.allclose(back.loc[has, "lat"].astype(float), pts[has].y, atol=1e-7)
        assert back.loc[~has, "lon"].isna().all()
    else:
        assert isinstance(back, gpd.GeoDataFrame)
        want_crs = CRS("EPSG:27700") if fmt in ("gpkg", "shp") else CRS("EPSG:4326")
        assert CRS(back.crs).equals(want_crs), f"{fmt} {layer}: CRS {back.crs}"
        got = back.geometry.force_2d().to_crs("EPSG:27700")
    empty_src = (src.geometry.isna() | src.geometry.is_empty).to_numpy()
    empty_got = (got.isna() | got.is_empty).to_numpy()
    assert (empty_src == empty_got).all(), f"{fmt} {layer}: rows without geometry differ"
    a, b = src.geometry[~empty_src].to_numpy(), got[~empty_got].to_numpy()
    dist = shapely.hausdorff_distance(a, b)
    assert dist.max() <= tol, f"{fmt} {layer}: geometry moved by up to {dist.max():.4f} m"
    kinds = [(x.geom_type.replace("Multi", ""), y.geom_type.replace("Multi", "")) for x, y in zip(a, b, strict=True)]
    assert all(x == y for x, y in kinds)


# ----------------------------------------------------------------------------- tests

def _export(layers, fmt, record):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExportWarning)
        return export_bytes(layers, fmt, name="round trip", provenance=record)


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_all_layers(fmt, layers, record, tmp_path):
    targets = layers  # several layers: a zip for geojson, csv and shp
    name, data = _export(targets, fmt, record)
    back = read_back(fmt, name, data, tmp_path, list(targets))
    assert set(back) == set(targets) - ({"summary"} if fmt == "kml" else set())
    for layer, frame in targets.items():
        if layer not in back:
            continue
        assert_values_match(fmt, frame, back[layer], layer)
        if isinstance(frame, gpd.GeoDataFrame):
            assert_geometry_matches(fmt, frame, back[layer], layer)


@pytest.mark.parametrize("fmt", FORMATS)
def test_awkward_values_survive(fmt, layers, record, tmp_path):
    """UPRN with leading zeros, £ and é, a formula, long multi-byte text: checked one by one."""
    name, data = _export({"assets": layers["assets"]}, fmt, record)
    back = read_back(fmt, name, data, tmp_path, ["assets"])["assets"].set_index("asset_id")
    src = layers["assets"].set_index("asset_id")
    ids = src.index
    assert back.loc[ids[2], "uprn"] == UPRN_ZEROS
    assert isinstance(back.loc[ids[2], "uprn"], str)
    assert back.loc[ids[0], "name"] == NAME_FR
    assert back.loc[ids[1], "address"] == ADDRESS_FR
    assert back.loc[ids[7], "location_note"] == LONG_ACCENTED
    assert back.loc[ids[5], "condition"] == "-2.5"  # a plain number is not a formula
    expected_formula = "'" + FORMULA if fmt in ("csv", "xlsx") else FORMULA
    assert back.loc[ids[4], "use"] == expected_formula
    assert back.loc[ids[6], "condition"] == ("'@risk" if fmt in ("csv", "xlsx") else "@risk")
    html_name = src.loc[ids[3], "name"]
    assert back.loc[ids[3], "name"] == html_name


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_layer_and_empty_layer(fmt, layers, record, tmp_path):
    empty = layers["candidates"].iloc[0:0]
    name, data = _export({"candidates": empty}, fmt, record)
    back = read_back(fmt, name, data, tmp_path, ["candidates"])
    assert len(back["candidates"]) == 0


def test_file_names_and_containers(layers, record):
    one = {"candidates": layers["candidates"]}
    expect = {"gpkg": "x.gpkg", "shp": "x-shapefile.zip", "csv": "x-csv.zip", "geojson": "x.geojson", "kml": "x.kml"}
    for fmt, want in expect.items():
        name, data = _export_named(one, fmt, record)
        assert name == want
        if want.endswith(".zip"):
            assert zipfile.is_zipfile(io.BytesIO(data))
    name, _ = _export(layers, "geojson", record)
    assert name == "round-trip-geojson.zip"


def _export_named(layers, fmt, record):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExportWarning)
        return export_bytes(layers, fmt, name="x", provenance=record)


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_file_is_the_same_build(fmt, layers, record, tmp_path):
    name, data = _export(layers, fmt, record)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExportWarning)
        out = export_file(layers, fmt, tmp_path / name, provenance=record)
    assert out == tmp_path / name and out.exists()
    if name.endswith(".zip"):
        assert sorted(zipfile.ZipFile(out).namelist()) == sorted(zipfile.ZipFile(io.BytesIO(data)).namelist())
    back_file = read_back(fmt, "file-" + name, out.read_bytes(), tmp_path, list(layers))
    back_bytes = read_back(fmt, "bytes-" + name, data, tmp_path, list(layers))
    for layer in back_bytes:
        assert len(back_file[layer]) == len(back_bytes[layer]) == len(layers[layer])
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


# ----------------------------------------------------------------------------- ogrinfo

def _ogr_paths(fmt: str, path: Path, layers: list[str]) -> list[str]:
    if fmt in ("gpkg", "kml", "xlsx") or path.suffix == ".geojson":
        return [str(path)]
    members = zipfile.ZipFile(path).namelist()
    data = [m for m in members if m.endswith((".shp", ".geojson"))
            or (m.endswith(".dbf") and not any(m[:-4] + ".shp" == x for x in members))
            or (fmt == "csv" and m.endswith(".csv"))]
    return [f"/vsizip/{path}/{m}" for m in data]


@pytest.mark.parametrize("fmt", FORMATS)
def test_ogrinfo_opens_without_warnings(fmt, layers, record, tmp_path):
    ogrinfo = shutil.which("ogrinfo")
    if ogrinfo is None:
        pytest.skip("ogrinfo (gdal-bin) is not installed")
    name, data = _export(layers, fmt, record)
    path = tmp_path / name
    path.write_bytes(data)
    for target in _ogr_paths(fmt, path, list(layers)):
        run = subprocess.run([ogrinfo, "-ro", "-al", "-so", target], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert "Warning" not in run.stderr and "ERROR" not in run.stderr, f"{target}: {run.stderr}"
        assert "Feature Count" in run.stdout
    # and a single GeoJSON file too
    if fmt == "geojson":
        name, data = _export({"candidates": layers["candidates"]}, fmt, record)
        single = tmp_path / name
        single.write_bytes(data)
        run = subprocess.run([ogrinfo, "-ro", "-al", "-so", str(single)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and "Warning" not in run.stderr and "ERROR" not in run.stderr, run.stderr


# ----------------------------------------------------------------------------- real data

@pytest.fixture(scope="module")
def trafford_layers(trafford):
    from assets_map.engine.pipeline import analyse

    result = analyse(trafford["register"], trafford["lsoa21"], trafford["imd2025"], postcodes=trafford["postcodes"],
                     exclude=[trafford["greenspace"], trafford["allotments"]])
    rec = provenance(result, inputs={"assets": trafford["register"], "boundaries": trafford["lsoa21"],
                                     "deprivation": trafford["imd2025"], "postcodes": trafford["postcodes"]})
    return result_layers(result), rec


@pytest.mark.parametrize("fmt", FORMATS)
def test_trafford_round_trip(fmt, trafford_layers, tmp_path):
    layers, rec = trafford_layers
    assets = layers["assets"]
    assert assets.geometry.isna().sum() > 200, "the register has many rows that cannot be placed"
    name, data = _export(layers, fmt, rec)
    back = read_back(fmt, name, data, tmp_path, list(layers))
    for layer, frame in layers.items():
        if layer not in back:  # the summary table in KML
            continue
        assert_values_match(fmt, frame, back[layer], layer)
        if isinstance(frame, gpd.GeoDataFrame):
            assert_geometry_matches(fmt, frame, back[layer], layer)
    uprns = back["assets"]["uprn"].dropna()
    uprns = uprns[uprns != ""]  # CSV has no null: an empty cell
    assert len(uprns) == assets["uprn"].notna().sum()
    assert (uprns == uprns.astype(str)).all() and uprns.str.fullmatch(r"\d+").all()


@pytest.mark.parametrize("fmt", FORMATS)
def test_trafford_exports_open_in_ogrinfo(fmt, trafford_layers, tmp_path):
    ogrinfo = shutil.which("ogrinfo")
    if ogrinfo is None:
        pytest.skip("ogrinfo (gdal-bin) is not installed")
    layers, rec = trafford_layers
    name, data = _export(layers, fmt, rec)
    path = tmp_path / name
    path.write_bytes(data)
    for target in _ogr_paths(fmt, path, list(layers)):
        run = subprocess.run([ogrinfo, "-ro", "-al", "-so", target], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and "Warning" not in run.stderr and "ERROR" not in run.stderr, f"{target}: {run.stderr}"
