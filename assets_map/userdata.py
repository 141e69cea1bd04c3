"""A user's own files, from uploaded bytes to a checked analysis, never touching the data in use.

The register goes through :func:`assets_map.importer.import_bytes` (the single
import entry point); the other files are written to a private temporary folder
under a name the engine chooses (:func:`assets_map.sources.copy_to_private`)
and read by the engine's own readers; no user-chosen path or URL reaches GDAL. Every file
is read before anything fails, so one :class:`~assets_map.report.InputError`
lists every problem. The caller swaps the result in only after the user has
seen the validation report and confirmed.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import geopandas as gpd
import pandas as pd

from .analyse import Analysis, analyse_frames
from .importer import import_bytes
from .ingest import read_postcodes
from .needs import DOMAINS, MEASURES, Deprivation, parse_weights, read_boundaries, read_deprivation
from .report import ImportReport, InputError
from .sources import Limits, copy_to_private, using_limits
from .summary import attach_wards, read_ward_lookup, read_wards

#: What a user can upload, and what each is for.
KINDS = {
    "register": "Asset register (CSV, Excel, GeoPackage, GeoJSON or zipped Shapefile)",
    "boundaries": "Need area boundaries: LSOA polygons (GeoPackage, GeoJSON or zipped Shapefile)",
    "deprivation": "Deprivation data: English Indices of Deprivation by LSOA (CSV or Excel)",
    "postcodes": "Postcode directory (ONSPD-like CSV), to place rows that only have a postcode",
    "wards": "Wards for the summary: ward polygons, or an LSOA-to-ward lookup table",
}
REQUIRED = ("register", "boundaries")


@dataclass(frozen=True)
class Upload:
    """One uploaded file: the name the user gave it (shown in messages) and its bytes."""

    name: str
    data: bytes


@dataclass
class Checked:
    """A user's files read and analysed, waiting for the user to confirm."""

    analysis: Analysis
    label: str
    notes: list[str] = field(default_factory=list)

    @property
    def report(self) -> ImportReport:
        return self.analysis.reports[0]


def display_name(name: str) -> str:
    """The file name only (no folders), for messages."""
    return Path(str(name).replace("\\", "/")).name or "upload"


@contextlib.contextmanager
def private_file(upload: Upload) -> Iterator[Path]:
    """Write an upload to a new private temporary folder under a name the engine chooses; yield its path."""
    with tempfile.TemporaryDirectory(prefix="assets-map-upload-") as tmp:
        os.chmod(tmp, 0o700)
        yield copy_to_private(bytes(upload.data), display_name(upload.name), Path(tmp))


def _read(upload: Upload, reader, **kw):
    with private_file(upload) as path:
        return reader(path, name=display_name(upload.name), **kw)


def read_ward_source(upload: Upload) -> tuple[str, gpd.GeoDataFrame | pd.DataFrame]:
    """A ward layer (polygons) or an LSOA -> ward lookup: ``("wards", gdf)`` or ``("lookup", df)``."""
    try:
        return "wards", _read(upload, read_wards)
    except InputError as exc:
        if "must be a map layer" not in str(exc):
            raise
    return "lookup", _read(upload, read_ward_lookup)


def with_wards(analysis: Analysis, upload: Upload, *, limits: Limits | None = None) -> tuple[Analysis, str]:
    """A copy of ``analysis`` whose assets carry ``ward_code``/``ward_name`` from the upload, and a note.

    ``limits`` is the upload budget (e.g. :data:`~assets_map.sources.PUBLIC_LIMITS`; None: the limits in force).
    """
    with using_limits(limits):
        kind, src = read_ward_source(upload)
    assets = attach_wards(analysis.assets, **({"wards": src} if kind == "wards" else {"lookup": src}))
    matched = int(assets["ward_code"].notna().sum())
    name = display_name(upload.name)
    if matched == 0:
        raise InputError("no site falls in any ward it lists (is it the right area, and the right LSOA edition?)",
                         source=name)
    out = Analysis(assets, analysis.needs, list(analysis.reports), list(analysis.warnings), dict(analysis.settings),
                   list(analysis.exclude))
    out.settings["wards"] = name
    how = "by ward polygons" if kind == "wards" else "by the LSOA-to-ward lookup"
    return out, f"{name}: {matched} of {len(assets)} sites given a ward ({how})"


def check_uploads(files: dict[str, Upload], *, weights: dict[str, float] | str | None = None,
                  limits: Limits | None = None) -> Checked:
    """Read and analyse a user's files; raise one InputError listing every problem.

    Parameters
    ----------
    files : uploads by kind (see :data:`KINDS`); ``register`` and ``boundaries`` are required
    weights : domain weights for the composite need (default: the overall IMD)
    limits : the budget every file is read under (e.g. :data:`~assets_map.sources.PUBLIC_LIMITS`
        for a public visitor; None: the limits in force)

    Returns
    -------
    Checked : the analysis (with the register's import report), not yet in use
    """
    with using_limits(limits):
        return _check_uploads(files, weights)


def _check_uploads(files: dict[str, Upload], weights) -> Checked:
    unknown = sorted(set(files) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown upload kinds: {unknown}")
    problems: list[str] = [f"no {KINDS[k].split(':')[0].split(' (')[0].lower()} was uploaded" for k in REQUIRED
                           if k not in files]
    notes: list[str] = []
    got: dict[str, object] = {}

    def attempt(kind: str, fn):
        try:
            got[kind] = fn()
        except InputError as exc:
            problems.append(str(exc))

    if "postcodes" in files:
        attempt("postcodes", lambda: _read(files["postcodes"], read_postcodes))
    if "boundaries" in files:
        attempt("boundaries", lambda: _read(files["boundaries"], read_boundaries))
    if "deprivation" in files:
        attempt("deprivation", lambda: _read(files["deprivation"], read_deprivation))
    if "wards" in files:
        attempt("wards", lambda: read_ward_source(files["wards"]))
    if "register" in files and ("postcodes" not in files or "postcodes" in got):
        reg = files["register"]
        attempt("register", lambda: import_bytes(reg.data, display_name(reg.name), postcodes=got.get("postcodes")))
    if problems:
        raise InputError(problems)
    frame, report = got["register"]
    bnd = got["boundaries"]
    dep = got.get("deprivation")
    try:
        result = analyse_frames(frame, bnd, dep, weights=weights,
                                boundaries_name=display_name(files["boundaries"].name))
    except InputError as exc:
        raise InputError(str(exc)) from None
    result.reports = [report]
    result.settings["inputs"] = {k: display_name(u.name) for k, u in files.items()}
    notes.append(f"{display_name(files['boundaries'].name)}: {len(bnd)} need areas")
    if dep is not None:
        notes.append(f"{dep.source}: English Indices of Deprivation {dep.year or '(year not stated)'}, "
                     f"{len(dep.table)} areas")
    if "postcodes" in got:
        notes.append(f"{display_name(files['postcodes'].name)}: {len(got['postcodes'])} postcodes")
    if "wards" in got:
        kind, src = got["wards"]
        assets = attach_wards(result.assets, **({"wards": src} if kind == "wards" else {"lookup": src}))
        result.assets = assets
        result.settings["wards"] = display_name(files["wards"].name)
        notes.append(f"{display_name(files['wards'].name)}: {int(assets['ward_code'].notna().sum())} of "
                     f"{len(assets)} sites given a ward")
    label = f"Your data: {display_name(files['register'].name)}"
    result.settings["label"] = label
    return Checked(result, label, notes)


def reweight(analysis: Analysis, weights: dict[str, float] | str | None) -> Analysis:
    """The same data scored again with other need weights (``None``: the overall IMD).

    The need areas already carry every deprivation column, so nothing is read again; the
    exclusion layers, reports, settings (label, inputs, wards) and any ward columns carry over.
    """
    w = parse_weights(weights)
    needs = analysis.needs
    cols = [f"{d}_{m}" for d in DOMAINS for m in MEASURES if f"{d}_{m}" in needs.columns]
    year = analysis.settings.get("iod_year")
    dep = Deprivation(pd.DataFrame(needs.set_index("code")[cols]), int(year) if year else None,
                      analysis.settings.get("deprivation_source") or "the deprivation data in use")
    bnd = needs[["code", "name", "geometry"]].copy()
    vintage = needs["lsoa_vintage"].dropna() if "lsoa_vintage" in needs.columns else pd.Series(dtype="Int64")
    bnd.attrs["lsoa_vintage"] = int(vintage.iloc[0]) if len(vintage) else None
    out = analyse_frames(analysis.assets, bnd, dep, exclude=list(getattr(analysis, "exclude", [])), weights=w,
                         boundaries_name=analysis.settings.get("deprivation_source") or "need areas")
    out.reports = list(analysis.reports)
    settings = dict(analysis.settings)
    settings.update(out.settings)
    out.settings = settings
    return out
