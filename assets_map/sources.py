"""Reading user files safely: allow-listed formats, content sniffing, checked archives.

GDAL picks a driver by content, so a file named ``.geojson`` may really be a
VRT that reads other files on the server. Every file is therefore sniffed here
first, and only the drivers in :data:`ALLOWED_DRIVERS` are ever used.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import geopandas as gpd
import pandas as pd
import pyogrio

from .report import InputError

MAX_FILE_BYTES = int(os.environ.get("ASSETS_MAP_MAX_FILE_MB", "500")) * 1024 * 1024
MAX_ZIP_EXPANDED = int(os.environ.get("ASSETS_MAP_MAX_ZIP_MB", "1000")) * 1024 * 1024
MAX_ZIP_RATIO = 100
MAX_ZIP_MEMBERS = 200

ALLOWED_DRIVERS = {"GPKG", "ESRI Shapefile", "GeoJSON"}
VECTOR_EXT = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile"}
TABLE_EXT = {".csv", ".txt", ".tsv"}
EXCEL_EXT = {".xls", ".xlsx"}
ALLOWED_EXT = set(VECTOR_EXT) | TABLE_EXT | EXCEL_EXT | {".zip"}


@dataclass
class Table:
    """A file's content: a plain table (CSV/Excel) or a vector layer."""

    frame: pd.DataFrame
    format: str
    name: str
    notes: list[str] = field(default_factory=list)

    @property
    def is_vector(self) -> bool:
        return isinstance(self.frame, gpd.GeoDataFrame)


def _sniff(head: bytes) -> str:
    h = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "ole"  # legacy .xls
    if h.startswith(b"<"):
        return "xml"
    if h.startswith(b"{") or h.startswith(b"["):
        return "json"
    return "text"


def decode_text(data: bytes, name: str) -> tuple[str, list[str]]:
    """UTF-8 (with or without BOM), else Windows-1252 with a note."""
    notes = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        notes.append("a UTF-8 byte-order mark was removed")
    try:
        return data.decode("utf-8"), notes
    except UnicodeDecodeError:
        notes.append("the file is not UTF-8; it was read as Windows-1252 (cp1252)")
        return data.decode("cp1252", errors="replace"), notes


def read_csv_bytes(data: bytes, name: str) -> Table:
    text, notes = decode_text(data, name)
    if not text.strip():
        raise InputError("the file is empty", source=name)
    sep = "\t" if name.lower().endswith(".tsv") else None
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep,
                         engine="python" if sep is None else "c", skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        raise InputError(f"could not be read as CSV: {str(exc).splitlines()[0]}", source=name) from None
    df = df.replace({"": None})
    return Table(df, "csv", name, notes)


def _check_geojson(data: bytes, name: str) -> None:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"is not valid GeoJSON ({type(exc).__name__}: {exc})", source=name) from None
    if not isinstance(doc, dict) or doc.get("type") not in ("FeatureCollection", "Feature"):
        raise InputError("is JSON but not a GeoJSON FeatureCollection or Feature", source=name)
    crs = doc.get("crs")
    if isinstance(crs, dict) and str(crs.get("type", "")).lower() == "link":
        raise InputError("declares its CRS by a link, which assets-map never fetches; give the CRS by name (e.g. EPSG:27700)", source=name)


def _read_vector(path: Path, name: str, layer: str | None) -> gpd.GeoDataFrame:
    try:
        info_layers = pyogrio.list_layers(path)
    except Exception as exc:  # GDAL's own message, shortened
        raise InputError(f"could not be opened as a map layer: {str(exc).splitlines()[0]}", source=name) from None
    layers = [str(l[0]) for l in info_layers]
    if not layers:
        raise InputError("holds no layers", source=name)
    if layer is None:
        if len(layers) > 1:
            raise InputError(f"holds {len(layers)} layers ({', '.join(layers)}); choose one with --layer", source=name)
        layer = layers[0]
    elif layer not in layers:
        raise InputError(f"has no layer named {layer!r} (layers: {', '.join(layers)})", source=name)
    info = pyogrio.read_info(path, layer=layer)
    driver = info.get("driver")
    if driver not in ALLOWED_DRIVERS:
        raise InputError(f"is a {driver} file, which is not an accepted format", source=name)
    try:
        return gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:
        raise InputError(f"could not be read: {str(exc).splitlines()[0]}", source=name) from None


def _safe_extract_shapefile(path: Path, name: str, workdir: Path) -> tuple[Path, list[str]]:
    """Check a zipped Shapefile before extracting: sizes, ratio, paths, one dataset, sidecars."""
    notes: list[str] = []
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InputError("is not a readable zip archive", source=name) from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > MAX_ZIP_MEMBERS:
            raise InputError(f"holds {len(infos)} files; at most {MAX_ZIP_MEMBERS} are accepted", source=name)
        total = sum(i.file_size for i in infos)
        packed = max(1, sum(i.compress_size for i in infos))
        if total > MAX_ZIP_EXPANDED:
            raise InputError(f"would expand to {total / 1e6:.0f} MB, over the {MAX_ZIP_EXPANDED / 1e6:.0f} MB limit", source=name)
        if total / packed > MAX_ZIP_RATIO and total > 10 * 1024 * 1024:
            raise InputError(f"expands {total / packed:.0f} times; archives over {MAX_ZIP_RATIO}x are refused", source=name)
        for i in infos:
            p = PurePosixPath(i.filename.replace("\\", "/"))
            if p.is_absolute() or ".." in p.parts or ":" in i.filename:
                raise InputError(f"contains an unsafe path {i.filename!r}", source=name)
            if p.suffix.lower() in {".zip", ".gz", ".7z", ".rar", ".tar"}:
                raise InputError(f"contains a nested archive {p.name!r}; unpack it first", source=name)
        stems: dict[str, set[str]] = {}
        for i in infos:
            p = PurePosixPath(i.filename)
            if p.name.startswith(".") or "__MACOSX" in p.parts:
                continue
            stems.setdefault(str(p.with_suffix("")), set()).add(p.suffix.lower())
        shp = [s for s, ext in stems.items() if ".shp" in ext]
        if not shp:
            raise InputError("holds no Shapefile (.shp)", source=name)
        if len(shp) > 1:
            raise InputError(f"holds {len(shp)} Shapefiles ({', '.join(PurePosixPath(s).name for s in shp)}); upload one at a time", source=name)
        exts = stems[shp[0]]
        missing = [e for e in (".shx", ".dbf") if e not in exts]
        if missing:
            raise InputError(f"is missing the Shapefile's {' and '.join(missing)} file", source=name)
        if ".prj" not in exts:
            notes.append("the Shapefile has no .prj; the CRS was decided from the coordinates")
        if ".cpg" not in exts:
            notes.append("the Shapefile has no .cpg; text was read as UTF-8")
        wanted = {shp[0] + e for e in (".shp", ".shx", ".dbf", ".prj", ".cpg")}
        for i in infos:
            p = PurePosixPath(i.filename)
            if str(p.with_suffix("")) + p.suffix.lower() in wanted:
                target = workdir / ("data" + p.suffix.lower())
                with zf.open(i) as src, open(target, "wb") as dst:
                    dst.write(src.read(MAX_ZIP_EXPANDED + 1))
    return workdir / "data.shp", notes


def open_table(path: str | os.PathLike, *, name: str | None = None, layer: str | None = None) -> Table:
    """Open one user file as a table or vector layer, refusing anything not allow-listed.

    Parameters
    ----------
    path : path of the file on disk (uploads are first written to a private temporary file)
    name : the name to show in messages (the upload's name); defaults to the file name
    layer : the layer to read from a multi-layer file
    """
    path = Path(path)
    name = name or path.name
    ext = Path(name).suffix.lower()
    if ext not in ALLOWED_EXT:
        raise InputError(f"has extension {ext or '(none)'!r}; accepted: CSV, GeoPackage, GeoJSON, Shapefile (.shp or .zip), Excel", source=name)
    if not path.is_file():
        raise InputError("was not found", source=name)
    size = path.stat().st_size
    if size == 0:
        raise InputError("the file is empty", source=name)
    if size > MAX_FILE_BYTES:
        raise InputError(f"is {size / 1e6:.0f} MB, over the {MAX_FILE_BYTES / 1e6:.0f} MB limit", source=name)
    with open(path, "rb") as fh:
        head = fh.read(4096)
    kind = _sniff(head)
    if kind == "xml":
        raise InputError("contains XML (possibly a GDAL VRT or KML); XML files are not accepted", source=name)
    if ext in TABLE_EXT:
        if kind not in ("text", "json"):
            raise InputError(f"is named {ext} but is not a text table", source=name)
        return read_csv_bytes(path.read_bytes(), name)
    if ext in EXCEL_EXT:
        if (ext == ".xls" and kind != "ole") or (ext == ".xlsx" and kind != "zip"):
            raise InputError(f"is named {ext} but is not an Excel workbook", source=name)
        return Table(pd.read_excel(path, sheet_name=layer or 0, dtype=str, header=None), "excel", name)
    if ext == ".zip":
        if kind != "zip":
            raise InputError("is named .zip but is not a zip archive", source=name)
        with tempfile.TemporaryDirectory(prefix="assets_map_zip_") as tmp:
            shp, notes = _safe_extract_shapefile(path, name, Path(tmp))
            gdf = _read_vector(shp, name, None)
        return Table(gdf, "shapefile (zip)", name, notes)
    expected = {"GPKG": "sqlite", "GeoJSON": "json", "ESRI Shapefile": "text"}[VECTOR_EXT[ext]]
    if VECTOR_EXT[ext] != "ESRI Shapefile" and kind != expected:
        raise InputError(f"is named {ext} but its content is not {VECTOR_EXT[ext]}", source=name)
    notes: list[str] = []
    if VECTOR_EXT[ext] == "GeoJSON":
        _check_geojson(path.read_bytes(), name)
    if ext == ".shp":
        for side in (".shx", ".dbf"):
            if not path.with_suffix(side).exists():
                raise InputError(f"is missing the Shapefile's {side} file", source=name)
        if not path.with_suffix(".prj").exists():
            notes.append("the Shapefile has no .prj; the CRS was decided from the coordinates")
    gdf = _read_vector(path, name, layer)
    return Table(gdf, VECTOR_EXT[ext].lower(), name, notes)
