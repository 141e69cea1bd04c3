"""Downloads of a set of sites (the filtered set or a shortlist) through the engine's export code."""
from __future__ import annotations

import re
import warnings

import geopandas as gpd

from assets_map.io import export

#: Download formats offered to users: key -> (label, MIME type).
FORMATS = {
    "gpkg": ("GeoPackage (QGIS, ArcGIS)", "application/geopackage+sqlite3"),
    "shp": ("Shapefile (zipped)", "application/zip"),
    "geojson": ("GeoJSON (web maps, WGS84)", "application/geo+json"),
    "csv": ("CSV (spreadsheets, zipped with its notes)", "application/zip"),
    "kml": ("KML (Google Earth)", "application/vnd.google-earth.kml+xml"),
    "xlsx": ("Excel workbook (estates teams)", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


def file_stem(text: str) -> str:
    """A short file-name stem from any text."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-").lower()[:60] or "assets-map"


def download(sites: gpd.GeoDataFrame, fmt: str, *, name: str = "assets-map", settings: dict | None = None
             ) -> tuple[str, bytes, str, list[str]]:
    """``(file name, bytes, MIME type, notes)`` of ``sites`` in format ``fmt`` (one of :data:`FORMATS`).

    The layer is called ``sites``; the analysis settings go along as provenance. ``notes`` are
    the export's warnings (e.g. long texts cut in a Shapefile, and where the full text is).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    prov = {"settings": settings or {}, "rows": int(len(sites))}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        filename, data = export.export_bytes({"sites": sites}, fmt, name=file_stem(name), provenance=prov)
    notes = list(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, UserWarning)))
    return filename, data, FORMATS[fmt][1], notes
