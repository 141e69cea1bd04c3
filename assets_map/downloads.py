"""Downloads of a set of sites (the filtered set or a shortlist) through the engine's export code."""
from __future__ import annotations

import re

import geopandas as gpd

from . import export

#: Download formats offered to users: key -> (label, MIME type).
FORMATS = {
    "gpkg": ("GeoPackage (QGIS, ArcGIS)", "application/geopackage+sqlite3"),
    "shp": ("Shapefile (zipped)", "application/zip"),
    "geojson": ("GeoJSON (web maps, WGS84)", "application/geo+json"),
    "csv": ("CSV (spreadsheets)", "text/csv"),
}


def file_stem(text: str) -> str:
    """A short file-name stem from any text."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-").lower()[:60] or "assets-map"


def download(sites: gpd.GeoDataFrame, fmt: str, *, name: str = "assets-map", settings: dict | None = None
             ) -> tuple[str, bytes, str]:
    """``(file name, bytes, MIME type)`` of ``sites`` in format ``fmt`` (one of :data:`FORMATS`).

    The layer is called ``sites``; the analysis settings go along as provenance.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    prov = {"settings": settings or {}, "rows": int(len(sites))}
    if hasattr(export, "export_bytes"):
        filename, data = export.export_bytes({"sites": sites}, fmt, name=file_stem(name), provenance=prov)
        return filename, data, FORMATS[fmt][1]
    # Until export.export_bytes lands: the two writers export.py already has.
    import tempfile
    from pathlib import Path

    if fmt not in ("gpkg", "csv"):
        raise ValueError(f"{FORMATS[fmt][0]} export is not available in this version")
    with tempfile.TemporaryDirectory(prefix="assets-map-export-") as tmp:
        path = Path(tmp) / f"{file_stem(name)}.{fmt}"
        (export.write_gpkg({"sites": sites}, path) if fmt == "gpkg" else export.write_csv(sites, path))
        return path.name, path.read_bytes(), FORMATS[fmt][1]
