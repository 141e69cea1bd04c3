"""Turning asset rows into stored records and back, without losing a value or a type.

A stored record is a JSON object of every column (canonical, ``src_`` and the
register's own fields such as ``notes``) plus the geometry as WKB in EPSG:27700.
Dates become ISO text and come back as :class:`datetime.date` for the canonical
date fields; missing values of every kind become JSON ``null``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from typing import Any, Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from assets_map.schema import ASSET_FIELDS, MEASURE_CRS, order_columns

_KIND = {f.name: f.kind for f in ASSET_FIELDS}


def json_value(v: Any) -> Any:
    """A JSON-safe copy of one cell: numpy scalars unwrapped, NaN/NA/NaT to None, dates to ISO text."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat() if v == v.normalize() else v.isoformat()
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return [json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): json_value(x) for k, x in v.items()}
    return v if isinstance(v, (int, str)) else str(v)


def row_record(row: Mapping[str, Any], *, geometry: str = "geometry") -> dict[str, Any]:
    """Every non-geometry column of one row as a JSON-safe dict."""
    return {str(k): json_value(v) for k, v in row.items() if k != geometry}


def geom_wkb(geom) -> bytes | None:
    """WKB of a shapely geometry (None or empty stays None)."""
    if geom is None or (isinstance(geom, float) and math.isnan(geom)) or geom.is_empty:
        return None
    return shapely.to_wkb(geom)


def wkb_geom(data: bytes | memoryview | None):
    """A shapely geometry from stored WKB, or None."""
    if data is None:
        return None
    return shapely.from_wkb(bytes(data))


def geom_text(geom) -> str | None:
    """Short WKT for the audit trail (coordinates in metres, 0.01 m)."""
    return None if geom is None else shapely.to_wkt(geom, rounding_precision=2)


def dumps(obj: Any) -> str:
    """JSON text as stored: UTF-8 kept, keys sorted, NaN refused."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, allow_nan=False)


def loads(v: Any) -> Any:
    """JSON text (SQLite) or an already-decoded value (PostgreSQL jsonb) as Python."""
    if v is None:
        return None
    if isinstance(v, (bytes, memoryview)):
        v = bytes(v).decode()
    return json.loads(v) if isinstance(v, str) else v


def _typed(name: str, values: list) -> pd.Series:
    kind = _KIND.get(name)
    if kind == "float":
        return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
    if kind == "int":
        return pd.Series(values, dtype="Int64")
    if kind == "bool":
        return pd.Series([bool(v) for v in values], dtype="bool")
    if kind == "date":
        return pd.Series([dt.date.fromisoformat(v[:10]) if isinstance(v, str) and v else None for v in values],
                         dtype=object)
    non_null = [v for v in values if v is not None]
    if non_null and all(isinstance(v, int) and not isinstance(v, bool) for v in non_null):
        return pd.Series(values, dtype="Int64")
    if non_null and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in non_null):
        return pd.Series([np.nan if v is None else v for v in values], dtype="float64")
    return pd.Series(values, dtype=object)


def records_frame(records: Iterable[Mapping[str, Any]], geoms: Iterable, *,
                  extra: Mapping[str, Iterable] | None = None) -> gpd.GeoDataFrame:
    """Rebuild a GeoDataFrame (EPSG:27700, canonical column order) from stored records."""
    records = list(records)
    geoms = list(geoms)
    names: list[str] = []
    seen: set[str] = set()
    for rec in records:
        for k in rec:
            if k not in seen:
                seen.add(k)
                names.append(k)
    cols = {n: _typed(n, [rec.get(n) for rec in records]) for n in names}
    for k, vals in (extra or {}).items():
        cols[k] = pd.Series(list(vals))
    frame = pd.DataFrame(cols, index=pd.RangeIndex(len(records)))
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=MEASURE_CRS), crs=MEASURE_CRS)
    return gdf[order_columns(gdf)]


def sha256_frame(gdf: gpd.GeoDataFrame) -> str:
    """Hash of an analysed table's records and geometry, for imports whose file bytes are not at hand."""
    h = hashlib.sha256()
    for rec in gdf.drop(columns=gdf.geometry.name).to_dict("records"):
        h.update(dumps(row_record(rec)).encode())
    for g in gdf.geometry:
        h.update(geom_wkb(g) or b"\0")
    return h.hexdigest()
