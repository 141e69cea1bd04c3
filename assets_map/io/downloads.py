"""The app's downloads: the layers the CLI writes, named as the CLI names them, through the engine's export code.

A download holds any of ``assets`` (the chosen sites: the filtered set or a shortlist),
``candidates`` (those of them flagged), ``needs`` (the need areas of the analysis),
``summary`` (the summary of the chosen sites) and ``constraints`` (their planning constraint
answers, where constraint layers were loaded): the same layers, names and columns as
``assets-map analyse --out`` and ``assets-map export``.  Its provenance names every input file
with its size and SHA-256 (hashed when it was uploaded), the filters and the analysis settings.
"""
from __future__ import annotations

import re
import warnings
from typing import Mapping, Sequence

import pandas as pd

from assets_map.io import export
from assets_map.io.provenance import provenance as _provenance

#: Download formats offered to users: key -> (label, MIME type).
FORMATS = {
    "gpkg": ("GeoPackage (QGIS, ArcGIS)", "application/geopackage+sqlite3"),
    "shp": ("Shapefile (zipped)", "application/zip"),
    "geojson": ("GeoJSON (web maps, WGS84)", "application/geo+json"),
    "csv": ("CSV (spreadsheets, zipped with its notes)", "application/zip"),
    "kml": ("KML (Google Earth)", "application/vnd.google-earth.kml+xml"),
    "xlsx": ("Excel workbook (estates teams)", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}

#: The layers a download can hold, in the CLI's order, with what each is called on the page.
LAYERS = {
    "assets": "Sites (assets)",
    "candidates": "Flagged sites (candidates)",
    "needs": "Need areas (needs)",
    "summary": "Summary (summary)",
    "constraints": "Planning constraints (constraints)",
}


def file_stem(text: str) -> str:
    """A short file-name stem from any text."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-").lower()[:60] or "assets-map"


def download_layers(result, sites: pd.DataFrame, which: Sequence[str] = tuple(LAYERS)) -> dict[str, pd.DataFrame]:
    """The layers of a download of ``sites`` (rows of ``result.assets``), named as the CLI names them.

    Parameters
    ----------
    result : the :class:`~assets_map.engine.pipeline.Analysis` the sites come from
    sites : the chosen sites (the filtered set or a shortlist)
    which : the layers wanted, any of :data:`LAYERS` (``constraints`` only where the analysis has them)

    Returns
    -------
    dict : layer name -> frame, in the CLI's order
    """
    unknown = [w for w in which if w not in LAYERS]
    if unknown:
        raise ValueError(f"unknown layer(s) {', '.join(unknown)}; choose from {', '.join(LAYERS)}")
    out: dict[str, pd.DataFrame] = {}
    for name in LAYERS:
        if name not in which:
            continue
        if name == "assets":
            out[name] = sites
        elif name == "candidates":
            out[name] = sites[sites["priority"].isin(["High", "Medium", "Low"])]
        elif name == "needs":
            out[name] = result.needs
        elif name == "summary":
            out[name] = export.summary_layer(sites)
        elif getattr(result, "constraints", None) is not None:
            answers = result.constraints
            out[name] = answers[answers["asset_id"].isin(set(sites["asset_id"]))]
    return out


def download_provenance(result, *, filters: Mapping | str | None = None, note: str | None = None) -> dict:
    """The provenance of a download: the input files with their SHA-256 hashes, settings and filters."""
    return _provenance(result, filters=filters, note=note)


def download(layers: Mapping[str, pd.DataFrame] | pd.DataFrame, fmt: str, *, name: str = "assets-map",
             provenance: dict | None = None, settings: dict | None = None) -> tuple[str, bytes, str, list[str]]:
    """``(file name, bytes, MIME type, notes)`` of ``layers`` in format ``fmt`` (one of :data:`FORMATS`).

    ``layers`` is what :func:`download_layers` gives; a frame alone is the ``assets`` layer.
    ``provenance`` (from :func:`download_provenance`) goes into the file; without it, ``settings``
    (the analysis settings) make one. ``notes`` are the export's warnings (e.g. long texts cut
    in a Shapefile, and where the full text is).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if isinstance(layers, pd.DataFrame):
        layers = {"assets": layers}
    prov = provenance if provenance is not None else _provenance(settings or {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        filename, data = export.export_bytes(dict(layers), fmt, name=file_stem(name), provenance=prov,
                                             step="download")
    notes = list(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, UserWarning)))
    return filename, data, FORMATS[fmt][1], notes
