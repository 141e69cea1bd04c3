"""A user's own files, from uploaded bytes to a checked analysis, never touching the data in use.

Every file goes through :func:`assets_map.io.importer.read_inputs` (the CLI's ``analyse``
reads its paths through the same function): each upload is written to a private temporary
folder under a name the engine chooses and read by :func:`assets_map.io.importer.import_file`,
so equal bytes give the frames a file on disk gives; no user-chosen path or URL reaches
GDAL. Every file is read before anything fails, so one :class:`~assets_map.io.report.InputError`
lists every problem. The caller swaps the result in only after the user has
seen the validation report and confirmed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from assets_map.engine.pipeline import Analysis, analyse
from assets_map.engine.summary import attach_wards
from assets_map.io.importer import Upload, display_name, import_bytes, read_inputs
from assets_map.io.report import ImportReport, InputError
from assets_map.io.sources import Limits, using_limits

#: What a user can upload, and what each is for.
KINDS = {
    "register": "Asset register (CSV, Excel, GeoPackage, GeoJSON or zipped Shapefile)",
    "boundaries": "Need area boundaries: LSOA polygons (GeoPackage, GeoJSON or zipped Shapefile)",
    "deprivation": "Deprivation data: English Indices of Deprivation by LSOA (CSV or Excel)",
    "postcodes": "Postcode directory (ONSPD-like CSV), to place rows that only have a postcode",
    "wards": "Wards for the summary: ward polygons, or an LSOA-to-ward lookup table",
}
REQUIRED = ("register", "boundaries")


@dataclass
class Checked:
    """A user's files read and analysed, waiting for the user to confirm."""

    analysis: Analysis
    label: str
    notes: list[str] = field(default_factory=list)

    @property
    def report(self) -> ImportReport:
        """The import report of the register file."""
        return self.analysis.reports[0]


def read_ward_source(upload: Upload) -> tuple[str, gpd.GeoDataFrame | pd.DataFrame]:
    """A ward layer (polygons) or an LSOA -> ward lookup: ``("wards", gdf)`` or ``("lookup", df)``."""
    frame, _ = import_bytes(upload.data, upload.name, kind="wards")
    return frame.attrs["ward_form"], frame


def with_wards(analysis: Analysis, upload: Upload, *, limits: Limits | None = None) -> tuple[Analysis, str]:
    """A copy of ``analysis`` whose assets carry ``ward_code``/``ward_name`` from the upload, and a note.

    ``limits`` is the upload budget (e.g. :data:`~assets_map.io.sources.PUBLIC_LIMITS`; None: the limits in force).
    """
    with using_limits(limits):
        kind, src = read_ward_source(upload)
    assets = attach_wards(analysis.assets, **({"wards": src} if kind == "wards" else {"lookup": src}))
    matched = int(assets["ward_code"].notna().sum())
    name = display_name(upload.name)
    if matched == 0:
        raise InputError("no site falls in any ward it lists (is it the right area, and the right LSOA edition?)",
                         source=name)
    out = analysis.replace(assets=assets)
    out.settings["wards"] = name
    how = "by ward polygons" if kind == "wards" else "by the LSOA-to-ward lookup"
    return out, f"{name}: {matched} of {len(assets)} sites given a ward ({how})"


def check_uploads(files: dict[str, Upload], *, weights: dict[str, float] | str | None = None,
                  limits: Limits | None = None, exclude: list[Upload] = ()) -> Checked:
    """Read and analyse a user's files; raise one InputError listing every problem.

    Parameters
    ----------
    files : uploads by kind (see :data:`KINDS`); ``register`` and ``boundaries`` are required
    weights : domain weights for the composite need (default: the overall IMD)
    limits : the budget every file is read under (e.g. :data:`~assets_map.io.sources.PUBLIC_LIMITS`
        for a public visitor; None: the limits in force)
    exclude : exclusion layers (greenspace, allotments) whose land is never flagged, as the
        CLI's ``--exclude``; kept with the result for every later re-scoring

    Returns
    -------
    Checked : the analysis (with the register's import report), not yet in use
    """
    with using_limits(limits):
        return _check_uploads(files, weights, list(exclude))


def _check_uploads(files: dict[str, Upload], weights, exclude: list[Upload]) -> Checked:
    unknown = sorted(set(files) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown upload kinds: {unknown}")
    problems: list[str] = [f"no {KINDS[k].split(':')[0].split(' (')[0].lower()} was uploaded" for k in REQUIRED
                           if k not in files]
    notes: list[str] = []
    read = read_inputs(files.get("register"), files.get("boundaries"), files.get("deprivation"),
                       postcodes=files.get("postcodes"), wards=files.get("wards"), exclude=exclude,
                       problems=problems)
    frame, report, bnd, dep = read.assets, read.report, read.boundaries, read.deprivation
    try:
        result = analyse(frame, bnd, dep, exclude=read.exclude, weights=weights,
                         boundaries_name=display_name(files["boundaries"].name))
    except InputError as exc:
        raise InputError(str(exc)) from None
    result.reports = [report]
    result.settings["inputs"] = {k: display_name(u.name) for k, u in files.items()}
    if exclude:
        result.settings["exclude"] = read.names["exclude"]
    notes.append(f"{display_name(files['boundaries'].name)}: {len(bnd)} need areas")
    if dep is not None:
        notes.append(f"{dep.source}: English Indices of Deprivation {dep.year or '(year not stated)'}, "
                     f"{len(dep.table)} areas")
    if read.postcodes is not None:
        notes.append(f"{display_name(files['postcodes'].name)}: {len(read.postcodes)} postcodes")
    if read.wards is not None:
        kind, src = read.wards.attrs["ward_form"], read.wards
        assets = attach_wards(result.assets, **({"wards": src} if kind == "wards" else {"lookup": src}))
        result.assets = assets
        result.settings["wards"] = display_name(files["wards"].name)
        notes.append(f"{display_name(files['wards'].name)}: {int(assets['ward_code'].notna().sum())} of "
                     f"{len(assets)} sites given a ward")
    label = f"Your data: {display_name(files['register'].name)}"
    result.settings["label"] = label
    return Checked(result, label, notes)
