"""Writing results: GeoPackage layers and CSV, atomically.

Every write goes to a temporary file beside the target and is renamed over it
only when complete, so a crash or a failed export never leaves a half-written
file and never harms an earlier export of the same name.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

import geopandas as gpd
import pandas as pd
import pyogrio

from .schema import DISPLAY_CRS, MEASURE_CRS, data_dictionary

#: Characters that make a spreadsheet treat a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success fsync it and rename it over ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=suffix or target.suffix, dir=target.parent)
    os.close(fd)
    os.unlink(tmp)  # GDAL drivers want to create the file themselves
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        for leftover in (tmp, Path(str(tmp) + "-journal"), Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
            if leftover.exists():
                leftover.unlink()


def for_file(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Types GDAL writes faithfully: dates as datetimes, nullable ints kept, lists as text."""
    out = gdf.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        s = out[col]
        if s.dtype == object:
            sample = s.dropna()
            if not sample.empty and all(hasattr(v, "isoformat") and not isinstance(v, str) for v in sample.head(50)):
                out[col] = pd.to_datetime(s, errors="coerce")
            elif not sample.empty and isinstance(sample.iloc[0], (list, tuple)):
                out[col] = s.map(lambda v: "; ".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
    return out


def write_gpkg(layers: dict[str, gpd.GeoDataFrame], path: str | os.PathLike, *,
               dictionary: bool = True) -> Path:
    """Write several layers into one GeoPackage (EPSG:27700), atomically.

    A ``data_dictionary`` table (no geometry) describes every column.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        for name, gdf in layers.items():
            g = for_file(gdf.to_crs(MEASURE_CRS) if gdf.crs is not None else gdf.set_crs(MEASURE_CRS))
            g.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
        if dictionary:
            dd = pd.concat([data_dictionary(n).assign(layer=n) for n in layers], ignore_index=True)
            pyogrio.write_dataframe(dd, tmp, layer="data_dictionary", driver="GPKG")  # a plain table
    return path


def safe_cell(value: object) -> object:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_csv(gdf: gpd.GeoDataFrame, path: str | os.PathLike, *, coordinates: str = "lonlat",
              bom: bool = False) -> Path:
    """Write a layer as UTF-8 CSV with ``lon``/``lat`` (of a point inside each geometry) or WKT."""
    path = Path(path)
    df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    if coordinates == "wkt":
        df["wkt"] = gdf.geometry.to_wkt()
    else:
        from .geo import representative_points

        pts = representative_points(gdf.geometry).to_crs(DISPLAY_CRS)
        ok = ~(pts.isna() | pts.is_empty)
        df["lon"] = pts.x.where(ok).round(7)
        df["lat"] = pts.y.where(ok).round(7)
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].map(safe_cell)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, encoding="utf-8-sig" if bom else "utf-8")
    return path
