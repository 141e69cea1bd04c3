"""Provenance: where a result came from, written into every export.

A provenance record names the input files and their SHA-256 hashes, the edition
of the English Indices of Deprivation, the need weights, any filters applied to
the exported rows, the date and the software versions.  It is a plain
JSON-serialisable ``dict``; :func:`provenance_table` flattens it into a two
column table (``key``, ``value``) that QGIS shows as an attribute table, and
:func:`provenance_text` renders it as a short note for sidecar files.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import platform
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Mapping

import pandas as pd

from assets_map import __version__

#: Key of the row in :func:`provenance_table` holding the exact JSON record.
JSON_KEY = "provenance_json"




def sha256_of(source: str | os.PathLike | bytes | BinaryIO, *, chunk: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file on disk, of bytes, or of a binary file object (read from its start)."""
    h = hashlib.sha256()
    if isinstance(source, (bytes, bytearray, memoryview)):
        h.update(source)
        return h.hexdigest()
    if hasattr(source, "read"):
        pos = source.tell() if hasattr(source, "tell") else None
        if hasattr(source, "seek"):
            source.seek(0)
        for block in iter(lambda: source.read(chunk), b""):
            h.update(block)
        if pos is not None:
            source.seek(pos)
        return h.hexdigest()
    with open(source, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def describe_input(role: str, source: Any) -> dict:
    """One input file: its role, name (never a server path), size and SHA-256.

    ``source`` is a path, ``bytes`` (an upload), a ``(name, bytes)`` pair, a
    binary file object with a ``name``, or a bare name (a ``str`` that is not an
    existing file), which is recorded without a hash and says so.
    """
    if isinstance(source, tuple) and len(source) == 2:
        name, data = source
        return {"role": role, "name": str(name), "bytes": len(data), "sha256": sha256_of(data)}
    if isinstance(source, (bytes, bytearray, memoryview)):
        return {"role": role, "name": role, "bytes": len(source), "sha256": sha256_of(source)}
    if hasattr(source, "read"):
        name = Path(getattr(source, "name", role)).name
        data = source.getvalue() if isinstance(source, io.BytesIO) else None
        size = len(data) if data is not None else None
        return {"role": role, "name": name, "bytes": size, "sha256": sha256_of(source)}
    path = Path(source)
    if path.is_file():
        return {"role": role, "name": path.name, "bytes": path.stat().st_size, "sha256": sha256_of(path)}
    return {"role": role, "name": path.name, "bytes": None, "sha256": None,
            "note": "file not available when this record was made: no hash"}


def _inputs(inputs: Mapping[str, Any] | Iterable[Any] | None, settings: Mapping) -> list[dict]:
    if inputs is None:
        if settings.get("input_files"):  # described (name, size, SHA-256) when the files were read
            return [dict(d) for d in settings["input_files"]]
        named = settings.get("inputs") or {}
        out = [describe_input(role, name) for role, name in named.items()]
        out += [describe_input("exclude", name) for name in settings.get("exclude") or []]
        return out
    if isinstance(inputs, Mapping):
        return describe_inputs(inputs)
    return [describe_input("input", s) for s in inputs]


def describe_inputs(inputs: Mapping[str, Any]) -> list[dict]:
    """Each input of ``role -> source`` (or a list of sources) described as :func:`describe_input` does.

    For :func:`provenance`'s ``described``: the CLI hashes the files in a thread while the analysis reads them.
    """
    out = []
    for role, src in inputs.items():
        if src is None:
            continue
        if isinstance(src, (list, tuple)) and not (len(src) == 2 and isinstance(src[1], (bytes, bytearray))):
            out += [describe_input(role, s) for s in src]
        else:
            out.append(describe_input(role, src))
    return out


def software() -> dict:
    """Versions of assets-map and the libraries that shape the output."""
    import geopandas
    import pyogrio
    import shapely

    return {"assets_map": __version__, "python": platform.python_version(), "geopandas": geopandas.__version__,
            "shapely": shapely.__version__, "pyogrio": pyogrio.__version__, "gdal": pyogrio.__gdal_version_string__,
            "pandas": pd.__version__}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if pd.isna(value):
        return None
    return str(value)


def provenance(
    source: Any = None,
    *,
    inputs: Mapping[str, Any] | Iterable[Any] | None = None,
    filters: Mapping[str, Any] | str | None = None,
    note: str | None = None,
    created: dt.datetime | None = None,
    described: list[dict] | None = None,
) -> dict:
    """Build a provenance record for an analysis.

    Parameters
    ----------
    source : Analysis or dict, optional
        An :class:`~assets_map.engine.pipeline.Analysis` (its ``settings`` are used) or a
        settings ``dict`` with any of ``iod_year``, ``weights``,
        ``deprivation_source``, ``inputs`` (role -> file name), ``exclude``, ``label``.
    inputs : mapping of role -> path, bytes, (name, bytes) or file object; optional
        The input files to hash.  A role may map to a list (e.g. several exclusion
        layers).  Without it, the names in ``settings["inputs"]`` are recorded
        without hashes (and say so).
    filters : mapping or str, optional
        Filters applied to the exported rows, e.g. ``{"priority": ["High"]}``.
    note : str, optional
        Free text, e.g. "fictional demo data".
    created : datetime, optional
        Time of the record (default: now, UTC).
    described : list of dict, optional
        The input files already described (:func:`describe_inputs`), used instead of ``inputs``.

    Returns
    -------
    dict
        JSON-serialisable: ``software``, ``created``, ``inputs`` (role, name,
        bytes, sha256), ``iod_year``, ``weights``, ``deprivation_source``,
        ``exclusions``, ``filters``, ``label``, ``note``.
    """
    settings = getattr(source, "settings", source) or {}
    record = {
        "title": "assets-map provenance",
        "created": (created or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0).isoformat(),
        "software": software(),
        "inputs": [dict(d) for d in described] if described is not None else _inputs(inputs, settings),
        "iod_year": settings.get("iod_year"),
        "deprivation_source": settings.get("deprivation_source"),
        "weights": dict(settings.get("weights") or {}),
        "exclusions": list(settings.get("exclude") or []),
        "filters": filters if filters is not None else settings.get("filters") or {},
    }
    if settings.get("need_areas"):  # how many need areas the study area kept
        record["need_areas"] = dict(settings["need_areas"])
    if settings.get("label"):
        record["label"] = settings["label"]
    if note:
        record["note"] = note
    warnings = getattr(source, "warnings", None)
    if warnings:
        record["analysis_warnings"] = list(warnings)
    return _jsonable(record)


#: What wrote a file, as its provenance step says (``analyse`` wrote the result; ``export`` re-exported a file;
#: ``download`` is the app's; ``write`` anything else).
STEPS = ("analyse", "export", "download", "write")


def with_export(record: Mapping | None, *, fmt: str, layers: Mapping[str, int],
                source_file: str | os.PathLike | None = None, step: str = "export") -> dict:
    """A copy of ``record`` with an ``export`` section: the step, format, layers and row counts, time, software.

    The section says what wrote the file (``step``, one of :data:`STEPS`).  An ``export``
    section already in ``record`` (the file this one was exported from) moves to ``steps``,
    the earlier steps in order, each labelled by what it did (``steps.1.analyse.format`` in
    the key/value table).  The file exported from is ``source_file`` or a top-level
    ``exported_from`` entry of ``record`` (see :func:`reexport`).
    """
    out = json.loads(json.dumps(_jsonable(dict(record or {}))))
    if not out:
        out = {"title": "assets-map provenance",
               "note": "no analysis provenance was given to this export; only the export itself is recorded"}
    export = {"step": step, "format": fmt, "layers": dict(layers),
              "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
              "software": software()}
    origin = out.pop("exported_from", None)
    if source_file is not None:
        origin = describe_input("result", source_file)
    if origin:
        export["exported_from"] = origin
    earlier = [dict(s) for s in (out.pop("steps", None) or out.pop("earlier_exports", None) or [])]
    if "export" in out:
        earlier.append(out.pop("export"))
    for s in earlier:  # files written before steps were labelled: the result was written by analyse
        s.setdefault("step", "export" if "exported_from" in s else "analyse")
    if earlier:
        out["steps"] = [{"step": s["step"], **{k: v for k, v in s.items() if k != "step"}} for s in earlier]
    out["export"] = export
    return out


def reexport(record: Mapping | None, source_file: str | os.PathLike) -> dict:
    """``record`` (read from a result file) marked as exported from ``source_file`` (name, size, SHA-256)."""
    out = json.loads(json.dumps(_jsonable(dict(record or {}))))
    out["exported_from"] = describe_input("result", source_file)
    return out


def _flatten(value: Any, prefix: str, rows: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        if not value:
            rows.append((prefix, ""))
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), rows)
    elif isinstance(value, list):
        if not value:
            rows.append((prefix, ""))
        for i, v in enumerate(value):
            key = f"{prefix}.{i + 1}"
            if prefix == "inputs" and isinstance(v, Mapping) and "role" in v:  # inputs.1.assets.sha256
                key = f"{key}.{v['role']}"
                v = {k: x for k, x in v.items() if k != "role"}
            elif prefix == "steps" and isinstance(v, Mapping) and "step" in v:  # steps.1.analyse.format
                key = f"{key}.{v['step']}"
                v = {k: x for k, x in v.items() if k != "step"}
            _flatten(v, key, rows)
    else:
        rows.append((prefix, "" if value is None else str(value)))


def provenance_table(record: Mapping) -> pd.DataFrame:
    """Flatten a record into ``key``/``value`` rows (dotted keys), plus one row with the exact JSON."""
    rows: list[tuple[str, str]] = []
    _flatten(record, "", rows)
    rows.append((JSON_KEY, json.dumps(record, ensure_ascii=False)))
    return pd.DataFrame(rows, columns=["key", "value"])


def from_table(table: pd.DataFrame) -> dict:
    """Recover a record from :func:`provenance_table` output (e.g. read back from a GeoPackage)."""
    hit = table.loc[table["key"] == JSON_KEY, "value"]
    if hit.empty:
        return {}
    return json.loads(hit.iloc[0])


def provenance_text(record: Mapping) -> str:
    """A short plain-text note of the record, for README and provenance sidecars."""
    lines = [record.get("title", "assets-map provenance"), "=" * len(record.get("title", "assets-map provenance"))]
    for key, value in provenance_table(record).itertuples(index=False):
        if key == JSON_KEY:
            continue
        lines.append(f"{key}: {value}")
    return "\n".join(lines) + "\n"
