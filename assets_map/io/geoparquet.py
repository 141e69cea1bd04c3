"""GeoParquet results: a folder of GeoParquet 1.1 files, one per layer, each with a bbox covering column.

``assets-map analyse --out result.parquet`` writes the folder ``result.parquet/`` holding
``assets.parquet``, ``candidates.parquet``, ``needs.parquet`` (GeoParquet 1.1, EPSG:27700, a
``bbox`` covering column so readers skip row groups outside a window; min/max statistics on every column but
the geometry and long text), the tables
(``summary.parquet``, ``constraints.parquet``...) as plain Parquet, ``data_dictionary.parquet`` and
``provenance.json``. GDAL (QGIS), DuckDB, geopandas and Arrow read each file on its own; ``assets-map
export`` reads the folder back like a result GeoPackage. Writing 1M assets takes a few seconds
where the GeoPackage takes several times longer (``bench/README.md``).

The folder is written beside its target and renamed into place, so a reader never sees half a
result; an existing folder is replaced only when it is an assets-map result (it holds this
module's ``provenance.json``), never a user's other folder.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from assets_map.io.report import InputError

#: The suffix of a GeoParquet result folder.
SUFFIX = ".parquet"
#: The file that marks a folder as an assets-map result (and holds its provenance).
MARKER = "provenance.json"
#: What the marker says it is.
TITLE = "assets-map provenance"


def is_result_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a GeoParquet result folder written by assets-map."""
    p = Path(path)
    if not (p.is_dir() and (p / MARKER).is_file()):
        return False
    try:
        return json.loads((p / MARKER).read_text(encoding="utf-8")).get("title") == TITLE
    except (OSError, ValueError):
        return False


def _dictionary(layers: dict[str, pd.DataFrame]) -> pd.DataFrame:
    from assets_map.schema import data_dictionary

    parts = []
    for name, frame in layers.items():
        d = data_dictionary("needs" if name == "needs" else "assets")
        d = d[d["field"].isin(frame.columns) | d["field"].str.endswith("*")]
        parts.append(d.assign(layer=name))
    return pd.concat(parts, ignore_index=True)[["layer", "field", "meaning", "unit", "source"]] if parts else \
        pd.DataFrame(columns=["layer", "field", "meaning", "unit", "source"])


#: Text columns longer than this on average (bytes per row) carry no Parquet statistics: no reader prunes on a
#: sentence, and their minimum and maximum cost a fifth of the writing of a million assets.
STATISTICS_TEXT_LIMIT = 64


def _statistics_columns(frame: pd.DataFrame, geometry: str | None) -> list[str]:
    """The columns given Parquet min/max statistics: all but the geometry and long text (the bbox's are kept)."""
    n = max(len(frame), 1)
    keep = []
    for c in frame.columns:
        s = frame[c]
        if c == geometry or (isinstance(s.dtype, pd.StringDtype) and s.array.nbytes / n > STATISTICS_TEXT_LIMIT):
            continue
        keep.append(str(c))
    return keep + ([f"bbox.{k}" for k in ("xmin", "ymin", "xmax", "ymax")] if geometry is not None else [])


def _point_table(frame: gpd.GeoDataFrame) -> pa.Table | None:
    """A point layer as the table geopandas writes (GeoParquet 1.1, WKB, bbox covering), made from the coordinates.

    ``None`` unless the one geometry column holds 2D points (some may be missing), none of them empty.

    geopandas asks shapely for a million WKB blobs (one Python ``bytes`` each) and their bounds; a 2D point's WKB is
    21 bytes laid out by the standard (byte order, type 1, x, y), so numpy writes them all into one buffer: 0.35-0.47 s
    became 0.05 s at 1M sites. The metadata is geopandas' own (made from one row, then given the whole layer's bounds),
    and tests/test_outputs_parquet.py holds the table equal to geopandas' byte for byte.
    """
    try:  # geopandas' own metadata writer (not public): without it, geopandas writes the layer
        from geopandas.io.arrow import _create_metadata, _encode_metadata
    except ImportError:
        return None
    name = frame.geometry.name
    if list(frame.columns[frame.dtypes == "geometry"]) != [name] or "bbox" in frame.columns:
        return None
    geoms = np.asarray(frame.geometry.array)
    kind = shapely.get_type_id(geoms)
    missing = kind < 0
    if not (kind[~missing] == 0).all() or shapely.has_z(geoms).any() or shapely.is_empty(geoms).any() or missing.all():
        return None
    n = len(geoms)
    x, y = np.full(n, np.nan), np.full(n, np.nan)
    xy = shapely.get_coordinates(geoms)  # the points in order, the missing skipped
    x[~missing], y[~missing] = xy[:, 0], xy[:, 1]
    wkb = np.empty((int((~missing).sum()), 21), dtype=np.uint8)
    wkb[:, 0] = 1 if sys.byteorder == "little" else 0  # the machine's byte order, as shapely writes it
    wkb[:, 1:5] = np.frombuffer(np.array(1, dtype=np.uint32).tobytes(), dtype=np.uint8)
    wkb[:, 5:13] = xy[:, 0:1].view(np.uint8)
    wkb[:, 13:21] = xy[:, 1:2].view(np.uint8)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.where(missing, 0, 21), out=offsets[1:])
    valid = None if not missing.any() else pa.py_buffer(np.packbits(~missing, bitorder="little"))
    column = pa.Array.from_buffers(pa.binary(), n, [valid, pa.py_buffer(offsets), pa.py_buffer(wkb)],
                                   null_count=int(missing.sum()))
    crs = frame.crs
    field = pa.field(name, pa.binary(), nullable=True, metadata={
        "ARROW:extension:name": "geoarrow.wkb",
        "ARROW:extension:metadata": json.dumps({"crs": crs.to_json_dict()}) if crs is not None else "{}"})
    attrs = pd.DataFrame(frame.copy(deep=False))
    attrs[name] = None  # an Arrow null column holding no memory, replaced by the WKB (as geopandas does)
    table = pa.Table.from_pandas(attrs, preserve_index=False)
    table = table.set_column(table.schema.get_field_index(name), field, column)
    xs, ys = pa.array(x, from_pandas=True), pa.array(y, from_pandas=True)  # a missing point's bounds are null
    table = table.append_column("bbox", pa.StructArray.from_arrays([xs, ys, xs, ys], names=["xmin", "ymin", "xmax", "ymax"]))
    meta = _create_metadata(frame.iloc[[int(np.argmin(missing))]], schema_version="1.1.0",
                            geometry_encoding={name: "WKB"}, write_covering_bbox=True)
    meta["columns"][name]["geometry_types"] = ["Point"]
    meta["columns"][name]["bbox"] = [float(np.nanmin(x)), float(np.nanmin(y)), float(np.nanmax(x)), float(np.nanmax(y))]
    metadata = dict(table.schema.metadata or {})
    metadata[b"geo"] = _encode_metadata(meta)
    if frame.attrs:
        metadata["PANDAS_ATTRS"] = json.dumps(frame.attrs)
    return table.replace_schema_metadata(metadata)


def _write_layer(frame: pd.DataFrame, target: Path) -> None:
    """One layer: GeoParquet 1.1 with a bbox covering column, or plain Parquet for a table (zstd)."""
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        stats = _statistics_columns(frame, frame.geometry.name)
        table = _point_table(frame)
        if table is not None:
            pq.write_table(table, target, compression="zstd", write_statistics=stats)
        else:
            frame.to_parquet(target, index=False, compression="zstd", write_covering_bbox=True, schema_version="1.1.0",
                             write_statistics=stats)
    else:
        frame = pd.DataFrame(frame)
        frame.to_parquet(target, index=False, compression="zstd", write_statistics=_statistics_columns(frame, None))


def _write_made(frame, target: Path) -> pd.DataFrame:
    """Make a layer given as a function (in the writer's thread), write it, and return it."""
    frame = frame() if callable(frame) else frame
    _write_layer(frame, target)
    return frame


def write_result(layers: dict[str, pd.DataFrame | Callable[[], pd.DataFrame]], path: str | os.PathLike, *,
                 provenance: dict | None = None, step: str = "analyse") -> Path:
    """Write result layers as a GeoParquet folder, atomically.

    Parameters
    ----------
    layers : layer name -> GeoDataFrame (written as GeoParquet 1.1 with a bbox covering column) or
        DataFrame (plain Parquet), as :func:`assets_map.io.export.result_layers` gives them; or a function that
        makes the layer, called in a writer's thread while the layers given as frames are written (the dict then
        holds the frame it made)
    path : the folder to write; its name must end in ``.parquet``
    provenance : the provenance record (:func:`assets_map.io.provenance.provenance`), kept as
        ``provenance.json`` with the format and step that wrote it
    step : what wrote it (``analyse``, ``export``)

    Returns
    -------
    Path : the folder written

    Raises
    ------
    InputError : the name does not end in ``.parquet``, or it names a file or a folder that is not an
        assets-map result
    """
    path = Path(path)
    if path.suffix.lower() != SUFFIX:
        raise InputError(f"a GeoParquet result is a folder whose name ends in {SUFFIX} (got {path.name})")
    if path.exists() and not is_result_folder(path):
        raise InputError("exists and is not an assets-map GeoParquet result folder: choose another name",
                         source=path.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".parts", dir=path.parent))
    try:
        # The layers written side by side: Arrow's encoding and compression and shapely's WKB run without the GIL,
        # so the candidates and needs are written while the assets are (a million assets: the largest first, the
        # layers still to be made last, so they are made while the largest is written).
        with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
            jobs = {name: pool.submit(_write_made, frame, work / f"{name}{SUFFIX}")
                    for name, frame in sorted(layers.items(), key=lambda kv: -1 if callable(kv[1]) else -len(kv[1]))}
            for name, job in jobs.items():
                layers[name] = job.result()
        _dictionary(layers).to_parquet(work / f"data_dictionary{SUFFIX}", index=False)
        record = dict(provenance or {})
        record["title"] = TITLE
        record.setdefault("written", []).append({"step": step, "format": "GeoParquet 1.1 (one file per layer)",
                                                 "layers": list(layers)})
        (work / MARKER).write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(work, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return path


def read_result(path: str | os.PathLike, layers: list[str] | tuple[str, ...] | None = None
                ) -> tuple[dict[str, pd.DataFrame], dict]:
    """Read a GeoParquet result folder back: (layers, provenance record).

    Parameters
    ----------
    path : the ``.parquet`` folder written by :func:`write_result`
    layers : names to read (default: every layer in it)

    Raises
    ------
    InputError : not such a folder, or a layer asked for is not in it
    """
    path = Path(path)
    if not is_result_folder(path):
        raise InputError("not an assets-map GeoParquet result (a .parquet folder holding provenance.json)",
                         source=path.name)
    present = sorted(p.name[: -len(SUFFIX)] for p in path.glob(f"*{SUFFIX}") if p.name != f"data_dictionary{SUFFIX}")
    wanted = list(layers) if layers else present
    missing = [n for n in wanted if n not in present]
    if missing:
        raise InputError(f"layer(s) {', '.join(missing)} not found (layers here: {', '.join(present) or 'none'})",
                         source=path.name)
    out: dict[str, pd.DataFrame] = {}
    for name in wanted:
        f = path / f"{name}{SUFFIX}"
        try:
            out[name] = gpd.read_parquet(f)
        except ValueError:  # a table without geometry metadata
            out[name] = pd.read_parquet(f)
        if isinstance(out[name], gpd.GeoDataFrame) and "bbox" in out[name].columns:
            out[name] = out[name].drop(columns="bbox")
    record = json.loads((path / MARKER).read_text(encoding="utf-8"))
    return out, record


__all__ = ["MARKER", "SUFFIX", "is_result_folder", "read_result", "write_result"]
