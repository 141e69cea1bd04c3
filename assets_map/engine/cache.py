"""Analysis results kept on disk by a hash of their inputs and settings.

Reopening the same register with the same need data and weights (or only changing a
filter, which never touches the engine) must not redo the reads, joins and scoring. A
result is stored as GeoParquet (the fastest format measured here: 1M parcels written in
2.9 s, read in 2.2 s) under a key that is the SHA-256 of

* the bytes of every input file (not its name or date: a re-saved identical file hits,
  an edited file misses),
* for a parcel cache folder (``assets-map parcels --cache``), its authorities and their bounds; the entry then
  records the bytes of the partitions the analysis read (only those: one authority's parcels among England's),
  and is served only while they are unchanged,
* the settings that change the answer (weights, exclusion layers, the postcode directory),
* assets-map's version and :data:`CACHE_FORMAT` (a new engine never serves an old result).

Entries are written to a temporary folder and renamed into place, so a crash never
leaves half an entry, and two processes writing the same key both end with a whole one.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import geopandas as gpd
import pandas as pd
from pyarrow import ArrowException

from assets_map import __version__
from assets_map.io.provenance import sha256_of
from assets_map.io.report import ImportReport, Issue

#: Bumped whenever the stored layout or the meaning of a result changes.
#: 2: CSV reading splits records a quote left open had merged; reports state the lines in the file
#: 3: the exclusion layers are stored with the result (re-weighting a cached result excludes what a fresh one does)
#: 4: the freehold parcels layer is stored with the result; a parcel cache folder is keyed by the partitions read
CACHE_FORMAT = 4
DEFAULT_DIR = Path(os.environ.get("ASSETS_MAP_CACHE_DIR", ".assets_map_cache"))


def cache_key(inputs: dict[str, str | os.PathLike | list | None], settings: dict | None = None) -> str:
    """The key of one analysis: its input files' bytes, its settings, the engine version.

    Parameters
    ----------
    inputs : role -> path, or frame already read (or a list of them, e.g. exclusion layers; ``None``
        when not given); files are keyed by their bytes, frames by their content
    settings : anything else that changes the result (weights...), JSON-serialisable
    """
    def digest(v):
        if v is None:
            return None
        if isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], pd.DataFrame):  # (label, layer) read
            return [v[0], frame_digest(v[1])]
        if isinstance(v, (list, tuple)):
            return [digest(x) for x in v]
        if isinstance(v, pd.DataFrame):
            return frame_digest(v)
        if hasattr(v, "table") and hasattr(v, "year"):  # a Deprivation already read
            return [frame_digest(v.table), v.year, v.source]
        if hasattr(v, "frame") and hasattr(v, "folder") and v.frame is not None:  # parcels already read
            return frame_digest(v.frame)
        return sha256_of(v)

    blob = json.dumps({"inputs": {k: digest(v) for k, v in sorted(inputs.items())},
                       "settings": settings or {}, "version": __version__, "format": CACHE_FORMAT},
                      sort_keys=True, default=str)
    return sha256_of(blob.encode())


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's content (as Parquet: columns, types, values, geometry, ``attrs``)."""
    import io

    buf = io.BytesIO()
    try:
        frame.to_parquet(buf, compression=None, index=True)
    except (TypeError, ValueError, ArrowException):  # a column of mixed types: hash its text
        geom = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
        plain = pd.DataFrame(frame.drop(columns=[geom] if geom else [])).astype(str)
        buf = io.BytesIO(pd.util.hash_pandas_object(plain, index=True).to_numpy().tobytes()
                         + b"".join(plain.columns.astype(str).str.encode("utf-8"))
                         + (frame.geometry.to_wkb().astype(bytes).sum() if geom else b""))
    return sha256_of(buf.getvalue())


def object_columns(frame: pd.DataFrame) -> list[str]:
    """Columns of Python objects (text with ``None`` for missing, ``datetime.date`` values)."""
    geom = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    return [c for c in frame.columns if c != geom and frame[c].dtype == object]


def restore_objects(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Give columns read back from Parquet their in-memory form again: object dtype, ``None`` for missing.

    Parquet stores text as strings and dates as date32; pandas reads them as ``str`` with NaN,
    which would change what ``value or default`` means downstream.
    """
    for c in columns:
        if c in frame.columns:
            frame[c] = pd.Series(frame[c].to_numpy(dtype=object), index=frame.index, dtype=object).where(
                frame[c].notna(), None)
    return frame


def _report_from_dict(d: dict) -> ImportReport:
    issues = [Issue(i["kind"], i["message"], list(i.get("rows", []))) for i in d.get("issues", [])]
    fields = {k: d[k] for k in ("source", "format", "adapter", "rows_read", "lines_in_file", "lines_note", "placed_by",
                                "unplaced", "rejected", "set_aside", "crs_detected") if k in d}
    return ImportReport(**fields, issues=issues)


@dataclass
class CacheStats:
    """How many look-ups of a :class:`ResultCache` found a stored result (hits) and how many did not (misses)."""

    hits: int = 0
    misses: int = 0


class ResultCache:
    """A folder of analysis results, one sub-folder per key.

    Each entry holds ``assets.parquet``, ``needs.parquet``, one ``exclude.N.parquet`` per
    exclusion layer (so a result read back re-scores exactly as the fresh one) and ``meta.json``.
    """

    def __init__(self, root: str | os.PathLike = DEFAULT_DIR):
        self.root = Path(root)
        self.stats = CacheStats()

    def path(self, key: str) -> Path:
        """The folder of the entry for ``key`` (under a two-character prefix folder)."""
        return self.root / key[:2] / key

    def __contains__(self, key: str) -> bool:
        return (self.path(key) / "meta.json").exists()

    def get(self, key: str, valid: Callable[[dict], bool] | None = None):
        """The stored :class:`~assets_map.engine.pipeline.Analysis` for ``key``, or ``None``.

        ``valid`` (optional) is asked about the entry's ``meta.json`` first: False makes the look-up a miss (an
        input the key cannot see in full, such as a parcel partition, has changed).
        """
        from assets_map.engine.steps import Analysis

        where = self.path(key)
        meta_path = where / "meta.json"
        if not meta_path.exists():
            self.stats.misses += 1
            return None
        try:
            meta = json.loads(meta_path.read_text())
            if valid is not None and not valid(meta):
                self.stats.misses += 1
                return None
            assets = gpd.read_parquet(where / "assets.parquet")
            needs = gpd.read_parquet(where / "needs.parquet")
            exclude = [(label, gpd.read_parquet(where / file)) for label, file in meta["exclude"]]
            parcels = gpd.read_parquet(where / "parcels.parquet") if meta.get("parcels") else None
        except (OSError, ValueError, KeyError, TypeError):  # a damaged entry is a miss, never an error
            self.stats.misses += 1
            return None
        for name, frame in (("assets", assets), ("needs", needs), ("parcels", parcels)):
            if frame is not None:
                restore_objects(frame, meta.get("object_columns", {}).get(name, []))
        for (_, layer), objects in zip(exclude, meta.get("exclude_objects", [[]] * len(exclude)), strict=True):
            restore_objects(layer, objects)
        needs.attrs.update(meta.get("needs_attrs", {}))
        self.stats.hits += 1
        return Analysis(assets=assets, needs=needs, reports=[_report_from_dict(r) for r in meta.get("reports", [])],
                        warnings=list(meta.get("warnings", [])), settings=dict(meta.get("settings", {})),
                        exclude=exclude, parcels=parcels)

    def put(self, key: str, result, extra: dict | None = None) -> Path:
        """Store ``result`` under ``key`` atomically; returns the entry's folder.

        ``extra`` (JSON-serialisable) is kept in ``meta.json`` for :meth:`get`'s ``valid`` to read.
        """
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}.", dir=target.parent))
        try:
            objects = {}
            frames = [("assets", result.assets), ("needs", result.needs)]
            if getattr(result, "parcels", None) is not None:
                frames.append(("parcels", result.parcels))
            for name, frame in frames:
                frame = frame.copy()
                objects[name] = object_columns(frame)
                frame.attrs = {}
                frame.to_parquet(tmp / f"{name}.parquet", compression="snappy", write_covering_bbox=True)
            layers, layer_objects = [], []
            for i, (label, layer) in enumerate(result.exclude):
                layer = layer.copy()
                layer.attrs = {}
                layer_objects.append(object_columns(layer))
                layer.to_parquet(tmp / f"exclude.{i}.parquet", compression="snappy")
                layers.append([label, f"exclude.{i}.parquet"])
            meta = {"key": key, "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "version": __version__,
                    "format": CACHE_FORMAT, "rows": int(len(result.assets)),
                    "reports": [r.to_dict() for r in result.reports], "warnings": list(result.warnings),
                    "settings": result.settings, "object_columns": objects,
                    "exclude": layers, "exclude_objects": layer_objects, "parcels": "parcels" in objects,
                    "extra": extra or {},
                    "needs_attrs": {k: v for k, v in result.needs.attrs.items()
                                    if isinstance(v, (str, int, float, dict, list, type(None)))}}
            (tmp / "meta.json").write_text(json.dumps(meta, default=str))
            try:
                os.replace(tmp, target)  # atomic when target does not exist
            except OSError:  # another process stored the same key first: theirs is as good
                shutil.rmtree(tmp, ignore_errors=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return target

    def clear(self) -> None:
        """Delete every stored result (the whole cache folder)."""
        shutil.rmtree(self.root, ignore_errors=True)


def run_cached(compute: Callable, cache, assets, boundaries, deprivation=None, *, postcodes=None, exclude=(),
               weights=None, progress=None, boundaries_name=None, as_of=None, **options):
    """The cached runner of :func:`assets_map.engine.pipeline.analyse`: call it as ``analyse(..., cache=...)``.

    The result of the same input files (by their bytes) and settings is read back from
    ``cache``; otherwise ``compute`` (``analyse`` itself, without the cache) runs with the same
    arguments and its result is stored. ``settings["cache"]`` says which happened
    (``"reused"`` or ``"stored"``); the engine options (``options``) never change the key, as
    every engine gives the same result.

    Parameters
    ----------
    compute : the analysis to run on a miss
    cache : a :class:`ResultCache`, or a folder for one
    assets, boundaries, deprivation, postcodes, exclude : the inputs, files (keyed by their bytes) or
        frames already read (keyed by their content)
    weights, boundaries_name, as_of : settings, part of the key
    progress : called as ``progress(message, step, total)``
    **options : passed to ``compute`` (the engine and its options)

    Returns
    -------
    Analysis
    """
    from assets_map.engine.needs import parse_weights

    cache = cache if isinstance(cache, ResultCache) else ResultCache(cache)
    exclude = list(exclude)
    w = parse_weights(weights)
    settings = {"weights": w}
    if boundaries_name is not None:
        settings["boundaries_name"] = boundaries_name
    if as_of is not None:
        settings["as_of"] = as_of.isoformat()
    for k in ("layer", "iod_year", "need_areas"):  # they change what is read or kept, so they are part of the key
        if options.get(k) is not None:
            settings[k] = options[k]
    files = {"assets": assets, "boundaries": boundaries, "deprivation": deprivation, "postcodes": postcodes,
             "exclude": exclude}
    folder = _parcel_folder(options.get("parcels"))
    for k in ("locations", "owners", "parcels"):  # files that change what is read
        if options.get(k) is not None and not (k == "parcels" and folder is not None):
            files[k] = options[k]
    valid = None
    if folder is not None:  # keyed by its authorities and bounds; the partitions read are checked on a hit
        from assets_map.io.landregistry import partitions

        parts = {p.authority: p for p in partitions(folder)}
        settings["parcel_partitions"] = [[a, list(p.bounds)] for a, p in parts.items()]

        def valid(meta: dict) -> bool:
            read = meta.get("extra", {}).get("parcel_partitions", {})
            return all(a in parts and sha256_of(parts[a].path) == digest for a, digest in read.items())
    key = cache_key(files, settings)
    hit = cache.get(key, valid)
    if hit is not None:
        if progress:
            progress("results reused from the cache (same inputs and settings)", 1, 1)
        hit.settings["cache"] = "reused"
        return hit
    result = compute(assets, boundaries, deprivation, postcodes=postcodes, exclude=exclude, weights=w,
                     progress=progress, boundaries_name=boundaries_name, as_of=as_of, **options)
    result.settings["cache"] = "stored"
    extra = None
    if folder is not None:
        read = result.settings.get("parcels", {}).get("partitions", [])
        extra = {"parcel_partitions": {a: sha256_of(parts[a].path) for a in read if a in parts}}
    cache.put(key, result, extra)
    return result


def _parcel_folder(parcels) -> Path | None:
    """The parcel cache folder among ``analyse``'s parcel inputs (one folder, given alone), else None."""
    if not parcels or len(parcels) != 1:
        return None
    given = parcels[0]
    if getattr(given, "folder", None) is not None:  # a Parcels naming a cache folder
        return Path(given.folder)
    return Path(given) if isinstance(given, (str, os.PathLike)) and Path(given).is_dir() else None
