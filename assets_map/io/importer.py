"""The single entry point for every import: one file in, a canonical layer and an import report out.

:func:`import_file` (a path) and :func:`import_bytes` (an upload's bytes) are
what the CLI's ``assets-map import`` and the app's upload page call. Every call
ends in either ``(GeoDataFrame, ImportReport)``, perhaps with warnings, or an
:class:`~assets_map.io.report.InputError` with a one-line cause: never another
exception for bad input. Nothing is written and nothing passed in is changed,
so a refused import leaves the data in use as it was.

Adapters, detected from the content (``adapter="auto"``) or chosen:

``register``
    Local Government Transparency Code land and building assets registers (and any
    asset list with coordinates, postcodes or geometries): :func:`assets_map.io.registers.read_register`.
``brownfield``
    Brownfield land registers, statutory or planning-data harmonised layout:
    :func:`assets_map.io.brownfield.read_brownfield`.
``eric``
    NHS ERIC site data (.xls "Site Data" sheet or CSV), located by a ``locations``
    file: :func:`assets_map.io.eric.read_eric`.
``deprivation``
    English Indices of Deprivation (official, renamed or long), joined to
    ``boundaries`` when given, with the LSOA vintage checked.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd

from assets_map.io import brownfield as _brownfield
from assets_map.io import eric as _eric
from assets_map.io.constraints import (
    CONSTRAINT_KINDS,
    constraint_layer_kind,
    kind_from_file_name,
    read_constraint_layer,
)
from assets_map.io.facilities import prepare_facilities
from assets_map.io.landregistry import is_inspire_layer, is_ownership_file
from assets_map.io.listings import listing_kind
from assets_map.io.normalise import fold, match_columns
from assets_map.io.owners import owner_lookup_from, resolve_owners
from assets_map.io.registers import read_postcodes, read_register
from assets_map.io.report import ImportReport, InputError
from assets_map.io.sources import (
    Limits,
    Table,
    copy_to_private,
    current_limits,
    excel_frame,
    open_table,
    reusing_opened,
    text_frame,
    using_limits,
)

ADAPTERS = ("auto", "register", "brownfield", "eric", "deprivation")
ADAPTER_LABELS = {
    "register": "land and building assets register",
    "brownfield": "brownfield land register",
    "eric": "NHS ERIC site data",
    "deprivation": "English Indices of Deprivation",
}
#: What a door can ask for. A ``register`` file's adapter is then decided from its headers;
#: the other kinds are read by their own reader (see :func:`import_file`).
KINDS = {
    "register": "asset register (LGTC register, brownfield register, NHS ERIC or deprivation: detected)",
    "boundaries": "need area boundaries (LSOA polygons)",
    "deprivation": "English Indices of Deprivation by LSOA",
    "postcodes": "postcode directory",
    "wards": "ward polygons or an LSOA-to-ward lookup",
    "exclusion": "exclusion layer (greenspace, allotments: land never flagged)",
    "facilities": "partner facility layer",
    "constraints": "planning constraint layer (conservation areas, listed buildings, flood zones...)",
}
_MAX_NAME = 120


def display_name(name: str | os.PathLike | None, path: Path | None = None) -> str:
    """The name a file is shown (and its ``source`` recorded) by: the base name only, never a server path.

    Backslashes count as folder separators (a Windows upload's name); control characters are
    dropped and a very long name is shortened. ``path``'s own name is used when ``name`` is
    empty. A path and an upload with equal base names get the same display name.
    """
    raw = str(name) if name else (path.name if path is not None else "")
    text = Path(raw.replace("\\", "/")).name
    text = "".join(ch for ch in text if ch.isprintable()).strip() or "upload"
    return text if len(text) <= _MAX_NAME else text[: _MAX_NAME - 10] + "..." + Path(text).suffix


def _is_deprivation(columns: list[str]) -> bool:
    from assets_map.engine.needs import _CODE_HEADERS, domain_of, measure_of

    folded = [fold(c) for c in columns]
    has_code = any(f in _CODE_HEADERS and ("lsoa" in f or f in ("areacode", "code")) for f in folded)
    long_form = "indexdomain" in folded or ("domain" in folded and ("decile" in folded or "rank" in folded))
    wide = sum(1 for c in columns if domain_of(str(c)) and measure_of(str(c))) >= 2
    return has_code and (long_form or wide) and any("lsoa" in f for f in folded)


# ------------------------------------------------------------------ what a file is, from its content

#: GSS code prefixes -> the areas they name (England, Wales, Scotland, Northern Ireland).
AREA_LEVELS = {"E00": "output areas", "W00": "output areas", "E01": "LSOA", "W01": "LSOA", "E02": "MSOA",
               "W02": "MSOA", "E05": "wards", "W05": "wards", "S13": "wards", "N08": "wards",
               "E06": "local authority districts", "E07": "local authority districts",
               "E08": "local authority districts", "E09": "local authority districts",
               "W06": "local authority districts", "S12": "local authority districts",
               "N09": "local authority districts", "E10": "counties", "E12": "regions", "E92": "countries"}
_GSS = re.compile(r"^[EWSNK]\d{8}$")
_POSTCODE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}$")
#: Folded header parts only NHS ERIC returns use (site and trust level, any collection year).
ERIC_TERMS = ("commissioningregion", "numberofsites", "grossinternalsitefloorarea", "grossinternalfloorarea",
              "floorareaempty", "emptyfloorarea", "unutilisedspace", "floorareaunderused", "underusedfloorarea",
              "notdeliveringservices", "costtoeradicate", "siteheatedvolume", "occupiedfloorarea",
              "estatesandfacilities", "estatesdevelopmentstrategy", "singlebedrooms", "ageprofile",
              "riddor", "nhsestateoccupied", "landareaowned", "sitelandarea")
_ERIC_CODES = ("organisationcode", "trustcode", "orgcode", "providercode", "sitecode")
#: Folded headers of a postcode directory (ONSPD, NSPL and their extracts).
_ONSPD = ("pcd", "pcds", "pcd7", "pcd8", "pcd2", "oseast1m", "osnrth1m", "osgrdind", "dointr", "doterm", "oslaua",
          "osward", "usertype")
#: Columns an area layer carries besides its codes and names (sizes, centroids, ids).
_AREA_EXTRAS = ("objectid", "fid", "id", "globalid", "shapearea", "shapelength", "starea", "stlength", "stareasha",
                "stlengths", "stareashape",
                "stlengthshape", "area", "areaunits", "areaha", "hectares", "lon", "lat", "long", "latitude",
                "longitude", "bnge", "bngn", "x", "y", "easting", "northing")
#: Canonical register fields that make a row an asset (an identity or a place).
REGISTER_FIELDS = ("name", "asset_id", "address", "uprn", "postcode", "street_name", "x", "y")
_TO = {"deprivation": "--deprivation (the app's 'Deprivation data' slot)",
       "boundaries": "--boundaries (the app's 'Need area boundaries' slot)",
       "postcodes": "--postcodes (the app's 'Postcode directory' slot)",
       "wards": "wards (the app's 'Wards' slot, or find-sites --wards)",
       "ownership": "`assets-map reconcile --ownership FILE --anchor NAME --postcodes FILE` (its titles placed and "
                    "reconciled with a register)",
       "parcels": "--parcels (analyse and reconcile: each site gets the freehold parcel holding it)",
       "constraints": "--constraints (the app's 'Planning constraints' slot): each site is then answered inside, near, "
                      "clear or not checked for it",
       "eric": "the ERIC site-level return (its 'Site Data' sheet, or the site CSV): a trust-level return has no sites "
               "to map"}


@dataclass(frozen=True)
class FileKind:
    """What a file holds, decided from its headers and values, and why.

    ``kind`` is an adapter (``register``, ``brownfield``, ``eric``, ``deprivation``) for a file a
    register door reads, or what else it is (``postcodes``, ``boundaries``, ``wards``,
    ``ward_lookup``, ``areas``, ``deprivation_layer``, ``eric_trust``, ``unknown``); ``looks_like``
    and ``give_as`` word the refusal of a file that is not a register.
    """

    kind: str
    why: str
    looks_like: str = ""
    give_as: str = ""

    @property
    def is_register(self) -> bool:
        """Whether a register door reads this file (with the adapter ``kind``)."""
        return self.kind in ADAPTERS

    def refusal(self) -> str:
        """The one-line refusal of this file at a register door."""
        if self.kind == "unknown":
            return self.looks_like
        if not self.give_as:
            return (f"is not an asset register: this looks like {self.looks_like}; assets-map needs LSOA boundaries "
                    "(--boundaries) and reads wards, not these: give a land and building register here")
        return f"is not an asset register: this looks like {self.looks_like}; give it as {self.give_as}"


def _text_values(frame: pd.DataFrame, col, n: int = 2000) -> pd.Series:
    v = frame[col].iloc[:n].dropna().astype(str).str.strip()
    return v[v != ""]


def _share(values: pd.Series, pattern: re.Pattern) -> float:
    return float(values.str.upper().str.match(pattern).mean()) if len(values) else 0.0


def _gss_columns(frame: pd.DataFrame, cols: list[str]) -> dict[str, str]:
    """Columns whose values are mostly GSS codes of one level: column -> level (e.g. "LSOA")."""
    out = {}
    for c in cols:
        v = _text_values(frame, c)
        if len(v) and _share(v, _GSS) >= 0.9:
            level = v.str[:3].str.upper().map(AREA_LEVELS).mode()
            if len(level):
                out[c] = level.iloc[0]
    return out


def _eric_kind(cols: list[str]) -> FileKind | None:
    folded = [fold(c) for c in cols]
    terms = {t for f in folded for t in ERIC_TERMS if t in f}
    codes = {f for f in folded if f in _ERIC_CODES}
    if _eric.is_eric(cols) or (len(terms) >= 3 and codes & {"sitecode"}):
        return FileKind("eric", "ERIC site columns (Site Code, floor areas, backlog costs, ...)")
    if len(terms) >= 3 and codes:
        return FileKind("eric_trust", f"ERIC columns ({len(terms)} ERIC fields) with trust codes and no site code",
                        "an NHS ERIC trust-level return (one row per trust, no site codes)", _TO["eric"])
    return None


def _postcode_kind(frame: pd.DataFrame, cols: list[str], found: dict) -> FileKind | None:
    folded = {fold(c): c for c in cols}
    onspd = [f for f in _ONSPD if f in folded]
    pc = next((folded[f] for f in ("pcds", "pcd", "pcd7", "pcd8", "pcd2", "postcode") if f in folded), None)
    if pc is None or any(k in found for k in ("name", "address", "asset_id", "uprn", "tenure", "holding_type")):
        return None
    v = _text_values(frame, pc)
    unique = v.str.upper().str.replace(" ", "", regex=False).nunique() >= 0.9 * len(v) if len(v) else False
    coords = ("x" in found and "y" in found) or "oseast1m" in folded
    if _share(v, _POSTCODE) >= 0.9 and unique and coords and (onspd or _gss_columns(frame, cols)):
        return FileKind("postcodes", f"one full postcode a row (column {pc!r}) with coordinates and area codes",
                        "a postcode directory", _TO["postcodes"])
    return None


def _deprivation_kind(is_vector: bool, why: str) -> FileKind:
    if is_vector:  # polygons: need areas that carry their own deprivation
        return FileKind("deprivation_layer", f"LSOA polygons: {why}", "LSOA boundaries carrying the Indices of "
                        "Deprivation", _TO["boundaries"])
    return FileKind("deprivation", why)


def _area_kind(table: Table, cols: list[str], found: dict) -> FileKind | None:
    from assets_map.engine.needs import measure_of

    frame = text_frame(table)
    gss = _gss_columns(frame, cols)
    if not gss:
        return None
    levels = set(gss.values())
    iod = [c for c in cols if c not in gss and measure_of(str(c)) or fold(c).startswith(("imd", "iod"))]
    if "LSOA" in levels and iod and not any(k in found for k in ("name", "address", "asset_id", "uprn")):
        return _deprivation_kind(table.is_vector, "LSOA codes with deprivation score, rank or decile columns")
    if not table.is_vector:
        if "LSOA" in levels and "wards" in levels:
            return FileKind("ward_lookup", "LSOA codes beside ward codes", "an LSOA-to-ward lookup", _TO["wards"])
        return None
    unique = [c for c in gss if _text_values(frame, c).nunique() >= 0.9 * len(_text_values(frame, c))]
    polygons = frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).mean() >= 0.9 if len(frame) else False
    others = [c for c in cols if c not in gss and fold(c) not in _AREA_EXTRAS
              and not ("name" in fold(c) or fold(c).endswith(("nm", "nmw")))]
    if not (unique and polygons and not others):
        return None
    level = gss[unique[0]]
    if level == "LSOA":
        return FileKind("boundaries", "LSOA polygons: codes and names only", "LSOA boundaries", _TO["boundaries"])
    if level == "wards":
        return FileKind("wards", "ward polygons: codes and names only", "ward boundaries", _TO["wards"])
    return FileKind("areas", f"{level} polygons: codes and names only", f"boundaries of {level} (codes and names, "
                    "no land or buildings)")


#: Fields only a register of sites carries: a layer with one is a register whatever its name says.
_SITE_FIELDS = ("tenure", "holding_type", "status_text", "uprn", "floor_area_m2")


def _constraint_kind(frame: pd.DataFrame, cols: list[str], name: str, found: dict) -> FileKind | None:
    kind = constraint_layer_kind(frame, cols, name)
    if kind is None or any(k in found for k in _SITE_FIELDS):
        return None
    by_name = kind_from_file_name(name) == kind and not any(fold(c) == "dataset" for c in cols)
    if by_name and any(k in found for k in ("address", "postcode", "street_name")):
        return None  # a file named for a designation that lists addressed sites: a register of them
    label = CONSTRAINT_KINDS[kind].label
    why = "its file name" if by_name else "its dataset column or fields"
    return FileKind("constraints", f"a {label} layer (told by {why}; no tenure, status or UPRN columns)",
                    f"a planning constraint layer ({label}), not an anchor's sites", _TO["constraints"])


def detect_kind(table: Table) -> FileKind:
    """What an opened file holds, from its headers and values (see :class:`FileKind`).

    Checked in this order: NHS ERIC (site file, or a trust-level return), brownfield register,
    postcode directory, deprivation table (by headers, or LSOA codes beside IoD measures),
    area layers (LSOA, ward or other boundaries; an LSOA-to-ward lookup), then an asset
    register, which must have a name, reference, address or location column.
    """
    t = excel_frame(table) if table.format.startswith("excel") else table
    frame = text_frame(t)
    cols = [str(c) for c in frame.columns if c != "geometry"]
    if is_ownership_file(cols):  # titles and proprietors, not sites: never read as a register
        return FileKind("ownership", "HM Land Registry CCOD/OCOD columns (Title Number, Proprietor Name (1), "
                        "Proprietorship Category (1), ...)", "HM Land Registry's ownership file (CCOD/OCOD): titles "
                        "and their proprietors, not sites", _TO["ownership"])
    if is_inspire_layer(frame, cols):
        return FileKind("parcels", "HM Land Registry INSPIRE Index Polygons (INSPIREID, or 'landregistry-index:' ids)",
                        "HM Land Registry's INSPIRE Index Polygons: freehold parcel outlines, not an anchor's sites",
                        _TO["parcels"])
    eric = _eric_kind(cols)
    if eric is not None:
        return eric
    if _brownfield.is_brownfield(cols):
        layout = "harmonised" if _brownfield.is_harmonised(cols) else "statutory"
        return FileKind("brownfield", f"brownfield register columns ({layout} layout: ownership, planning status, ...)")
    if _brownfield.is_planning_data_sites(frame, cols):
        return FileKind("brownfield", "planning.data.gov.uk brownfield-land columns (organisation references, hectares)")
    found = match_columns(cols)
    constraint = _constraint_kind(frame, cols, t.name, found)
    if constraint is not None:
        return constraint
    postcodes = _postcode_kind(frame, cols, found)
    if postcodes is not None:
        return postcodes
    if _is_deprivation(cols):
        return _deprivation_kind(t.is_vector, "LSOA code and deprivation domain columns")
    area = _area_kind(t, cols, found)
    if area is not None:
        return area
    listing = listing_kind([fold(c) for c in cols], found)
    if listing is not None:
        return FileKind("unknown", *listing)
    if not any(k in found for k in REGISTER_FIELDS) and not t.is_vector:
        shown = ", ".join(repr(c) for c in cols[:12]) + (f" and {len(cols) - 12} more" if len(cols) > 12 else "")
        return FileKind("unknown", "no register columns",
                        f"its columns match no register layout: found {shown}; expected at least a name or "
                        "reference (e.g. PropertyName, AssetCode, Site Name, SiteReference) or a location (GeoX/GeoY, "
                        "Easting/Northing, latitude/longitude, a postcode or a map layer's geometry)")
    return FileKind("register", "no brownfield, ERIC or deprivation columns: read as an asset register")


def detect_adapter(table: Table) -> tuple[str, str]:
    """Which adapter fits a table, and why (the headers that decided it); see :func:`detect_kind`."""
    kind = detect_kind(table)
    return kind.kind, kind.why


def _read_deprivation(table: Table, *, boundaries, limits: Limits) -> tuple[gpd.GeoDataFrame, ImportReport]:
    from assets_map.engine.needs import build_needs, deprivation_from_frame

    t = excel_frame(table)
    dep = deprivation_from_frame(pd.DataFrame(t.frame), name=t.name)
    report = ImportReport(source=t.name, format=t.format, adapter=ADAPTER_LABELS["deprivation"])
    report.rows_read = len(t.frame)
    for note in t.notes:
        report.add("warning", note)
    vintage = f"IoD {dep.year}, LSOA {dep.lsoa_vintage}" if dep.year else "IoD edition not recognised"
    report.add("warning", f"{len(dep.table)} LSOAs ({vintage}); measures: {', '.join(sorted(dep.table.columns))[:300]}")
    if dep.year is None:
        report.add("warning", "the IoD edition (2019 or 2025) could not be told from the file name, headers or ranks; "
                              "the LSOA vintage cannot be checked against boundaries; analyse refuses it unless "
                              "given --iod-year")
    if boundaries is None:
        areas = dep.table.reset_index()
        out = gpd.GeoDataFrame(areas, geometry=[None] * len(areas), crs="EPSG:27700")
        report.add("unplaced", "no boundaries were given, so the areas have no shapes (give LSOA boundaries to map them)")
        report.unplaced = len(out)
        return out, report
    bounds = boundaries if isinstance(boundaries, gpd.GeoDataFrame) else import_file(boundaries, kind="boundaries",
                                                                                        limits=limits)[0]
    needs, warnings = build_needs(bounds, dep, boundaries_name=bounds.attrs.get("source", "boundaries"))
    for w in warnings:
        report.add("warning", w)
    has = needs["imd_decile"].notna() | needs.get("imd_rank", pd.Series(np.nan, index=needs.index)).notna()
    report.placed_by = {"LSOA boundaries": int(has.sum())}
    report.unplaced = int((~has).sum())
    extra = sorted(set(dep.table.index) - set(bounds["code"]))
    if extra:
        report.add("warning", f"{len(extra)} LSOAs in the file are outside the boundaries given (not mapped)")
    return needs, report


def import_file(
    path: str | os.PathLike,
    *,
    kind: str = "register",
    name: str | None = None,
    adapter: str = "auto",
    layer: str | None = None,
    postcodes: pd.DataFrame | str | os.PathLike | None = None,
    locations: gpd.GeoDataFrame | str | os.PathLike | None = None,
    boundaries: gpd.GeoDataFrame | str | os.PathLike | None = None,
    make_valid: bool = True,
    limits: Limits | None = None,
    facility_kind: str | None = None,
    constraint_kind: str | None = None,
    owners=None,
) -> tuple[gpd.GeoDataFrame, ImportReport]:
    """Import one file: detect (or use) its adapter, read it safely, normalise it, report every row.

    Every door a file comes in by calls this (the CLI's ``analyse`` and ``import``, the
    register store, every upload in the app through :func:`import_bytes` or
    :func:`read_inputs`, the benchmarks), so equal bytes give equal frames and reports.

    Parameters
    ----------
    path : the file on disk. Vector files are read by GDAL only from a private copy.
    kind : what the caller expects (see :data:`KINDS`): ``"register"`` (the adapter is then
        decided by ``adapter``), ``"boundaries"`` (LSOA polygons: ``code``, ``name``),
        ``"deprivation"`` (returns a :class:`~assets_map.engine.needs.Deprivation`, not a frame),
        ``"postcodes"`` (compact postcode -> BNG ``x``, ``y``), ``"wards"`` (ward polygons, or
        an LSOA-to-ward lookup table; ``attrs["ward_form"]`` says which), ``"exclusion"``
        (polygons in EPSG:27700, ``attrs["label"]`` names the layer) or ``"facilities"``
        (partner facility points, see :func:`~assets_map.io.facilities.prepare_facilities`)
    name : the name to show in messages and to decide the format by (an upload's name);
        defaults to the file's own name. Only its base name is ever shown.
    adapter : ``"auto"`` (decided from the headers), ``"register"``, ``"brownfield"``,
        ``"eric"`` or ``"deprivation"``
    layer : the layer (GeoPackage) or sheet (Excel) of a multi-layer file; ERIC workbooks
        default to the "Site Data" sheet
    postcodes : postcode directory (path or :func:`~assets_map.io.registers.read_postcodes` frame) to
        place register rows that only have a postcode
    locations : points or polygons with site codes or names, to place ERIC sites
    boundaries : LSOA boundaries (path or frame from :func:`~assets_map.engine.needs.read_boundaries`)
        for a deprivation file; the LSOA vintage is checked against them
    make_valid : repair invalid geometries with ``make_valid`` (the original is kept in
        ``src_geometry_wkt``); False keeps them as given, with a warning
    limits : size limits (when None, :func:`~assets_map.io.sources.current_limits`: the defaults
        unless the caller is inside :func:`~assets_map.io.sources.using_limits`)
    facility_kind : for ``kind="facilities"``, the facility kind of every row (default: from
        the layer's name or each row's type)
    constraint_kind : for ``kind="constraints"``, the constraint kind stated by the user (default: from the
        ``dataset`` column, the file name or the fields; see :func:`~assets_map.io.constraints.read_constraint_layer`)
    owners : lookups that name organisations given as codes (files with code and name columns, or an
        :class:`~assets_map.io.owners.OwnerLookup`); URIs and codes are resolved with them (see
        :func:`~assets_map.io.owners.resolve_owners`)

    Returns
    -------
    (layer, report) : the canonical layer in EPSG:27700 (every row the file had, blank
        rows and older editions excepted and counted as rejected) and its import report

    Raises
    ------
    InputError : the file (or a helper file) is refused; the message is one line naming the file
    """
    try:
        if kind not in KINDS:
            raise InputError(f"unknown kind of file {kind!r}; choose one of {', '.join(KINDS)}")
        if kind != "register":
            return _read_kind(kind, Path(path), display_name(name, Path(path)), layer=layer, limits=limits,
                              facility_kind=facility_kind, constraint_kind=constraint_kind)
        return _import_file(path, name=name, adapter=adapter, layer=layer, postcodes=postcodes, locations=locations,
                            boundaries=boundaries, make_valid=make_valid, limits=limits, owners=owners)
    except InputError as exc:
        # One line, always: values quoted from a file may hold line breaks.
        problems = [" ".join(str(p).split()) for p in exc.problems]
        if problems != exc.problems:
            raise InputError(problems, source=exc.source) from None
        raise


def _import_file(path, *, name, adapter, layer, postcodes, locations, boundaries, make_valid, limits, owners=None):
    limits = limits or current_limits()
    path = Path(path)
    shown = display_name(name, path)
    if adapter not in ADAPTERS:
        raise InputError(f"unknown adapter {adapter!r}; choose one of {', '.join(ADAPTERS)}")
    prefer = (_eric.SITE_SHEET,) if adapter in ("auto", "eric") else ()
    table = open_table(path, name=shown, layer=layer, limits=limits, prefer_layers=prefer)
    columns = text_frame(table)
    if columns is None or len(columns.columns) == 0:
        raise InputError("has no columns", source=shown)
    why = "chosen by the user"
    detected = detect_kind(table)
    if not detected.is_register:  # whatever adapter was asked for: it would be misread
        raise InputError(detected.refusal(), source=shown)
    if adapter == "auto":
        adapter, why = detected.kind, detected.why
    if isinstance(postcodes, (str, os.PathLike)):
        postcodes, _ = import_file(postcodes, kind="postcodes", limits=limits)
    if adapter == "eric":
        out, report = _eric.read_eric(table, locations=locations, limits=limits)
    elif adapter == "brownfield":
        out, report = _brownfield.read_brownfield(excel_frame(table), postcodes=postcodes, make_valid=make_valid)
    elif adapter == "deprivation":
        out, report = _read_deprivation(table, boundaries=boundaries, limits=limits)
    else:
        out, report = read_register(table, postcodes=postcodes, adapter=ADAPTER_LABELS["register"],
                                  make_valid=make_valid, limits=limits)
    if adapter != "deprivation":
        resolve_owners(out, report, owner_lookup_from(owners))
    if report.lines_in_file is None:  # adapters that build their own tables: the file's count, as opened
        report.lines_in_file, report.lines_note = table.lines, table.lines_note
    report.adapter = f"{report.adapter or ADAPTER_LABELS[adapter]} ({why if why == 'chosen by the user' else 'detected from ' + why})"
    if adapter != "deprivation":
        accounted = len(out) + report.rejected + report.set_aside
        if accounted != report.rows_read:  # a bug, never the user's fault: say so rather than hide rows
            report.add("warning", f"{report.rows_read} rows read but {accounted} accounted for; please report this")
    out.attrs["source"] = shown
    out.attrs["adapter"] = adapter
    return out, report


def _read_exclusion(path: Path, shown: str, layer: str | None) -> gpd.GeoDataFrame:
    from assets_map.engine.geo import repair_invalid, to_crs_valid
    from assets_map.schema import MEASURE_CRS

    t = open_table(path, name=shown, layer=layer)
    if not t.is_vector:
        raise InputError("must be a map layer of polygons (GeoPackage, GeoJSON or Shapefile), not a table",
                         source=shown)
    gdf = t.frame
    if gdf.crs is None:
        raise InputError("the layer has no CRS", source=shown)
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    geom, _ = repair_invalid(gdf.geometry)
    geom, _ = to_crs_valid(geom, MEASURE_CRS)  # checked again: reprojection can make a ring cross itself
    gdf = gdf.set_geometry(geom).to_crs(MEASURE_CRS)
    gdf.attrs["label"] = Path(shown).stem.replace("_", " ")
    return gdf


def _read_facilities(path: Path, shown: str, layer: str | None, facility_kind: str | None) -> gpd.GeoDataFrame:
    t = open_table(path, name=shown, layer=layer)
    if not t.is_vector:
        raise InputError("a facility layer must be a map layer of points", source=shown)
    return prepare_facilities(t.frame, label=shown, kind=facility_kind)


def _read_wards(path: Path, shown: str) -> pd.DataFrame:
    from assets_map.engine.summary import read_ward_lookup, read_wards

    try:
        out, form = read_wards(path, name=shown), "wards"
    except InputError as exc:
        if "must be a map layer" not in str(exc):
            raise
        out, form = read_ward_lookup(path, name=shown), "lookup"
    out.attrs["ward_form"] = form
    return out


#: What each of the other doors takes, by detected kind; a file detected as another of the kinds
#: below is refused there naming its kind (anything else is left to the door's own reader).
_SLOT_TAKES = {"boundaries": {"boundaries", "deprivation_layer", "wards"},  # find-sites --wards reads wards so
               "deprivation": {"deprivation", "deprivation_layer"},
               "postcodes": {"postcodes"}, "wards": {"wards", "ward_lookup", "postcodes"}}
_NOT_FOR_SLOT = {"boundaries", "deprivation_layer", "deprivation", "postcodes", "wards", "ward_lookup", "areas",
                 "eric", "eric_trust", "brownfield"}
_REGISTER_DOOR = "the asset register (--assets, the app's 'Asset register' slot)"


def _check_slot(kind: str, path: Path, shown: str, layer: str | None) -> None:
    """Refuse a file that is plainly another kind than the door ``kind`` reads."""
    prefer = (_eric.SITE_SHEET,) if path.suffix.lower() in (".xls", ".xlsx", ".ods") else ()
    try:
        found = detect_kind(open_table(path, name=shown, layer=layer, prefer_layers=prefer))
    except InputError:
        return  # the door's own reader says why it cannot read the file
    if found.kind in _NOT_FOR_SLOT and found.kind not in _SLOT_TAKES[kind]:
        looks = found.looks_like or {"eric": "NHS ERIC site data", "brownfield": "a brownfield land register",
                                     "deprivation": "an English Indices of Deprivation table"}[found.kind]
        give = found.give_as or (_TO["deprivation"] if found.kind == "deprivation" else
                                 _REGISTER_DOOR if found.kind in ("eric", "brownfield") else "")
        what = KINDS[kind].split(" (")[0]
        raise InputError(f"is not {what}: this looks like {looks}" + (f"; give it as {give}" if give else ""),
                         source=shown)


def _read_kind(kind: str, path: Path, shown: str, *, layer, limits, facility_kind, constraint_kind=None):
    """Read a file of a kind other than a register; the report says what was read."""
    from assets_map.engine.needs import read_boundaries, read_deprivation

    readers = {
        "boundaries": lambda: read_boundaries(path, name=shown, layer=layer),
        "deprivation": lambda: read_deprivation(path, name=shown),
        "postcodes": lambda: read_postcodes(path, name=shown),
        "wards": lambda: _read_wards(path, shown),
        "exclusion": lambda: _read_exclusion(path, shown, layer),
        "facilities": lambda: _read_facilities(path, shown, layer, facility_kind),
        "constraints": lambda: read_constraint_layer(path, name=shown, kind=constraint_kind, layer=layer),
    }
    with using_limits(limits), reusing_opened():  # the file looked at by _check_slot is read once, not twice
        if kind in _SLOT_TAKES:
            _check_slot(kind, path, shown, layer)
        out = readers[kind]()
    table = getattr(out, "table", out)  # a Deprivation holds its frame in .table
    report = ImportReport(source=shown, format=Path(shown).suffix.lower().lstrip("."), adapter=KINDS[kind])
    report.rows_read = len(table)
    if kind == "deprivation":
        report.add("warning", f"{len(table)} LSOAs (IoD {out.year or 'edition not recognised'})")
    for note in out.attrs.get("notes", []) if kind == "constraints" else ():
        report.add("warning", note)
    if isinstance(out, pd.DataFrame):
        out.attrs["source"] = shown
    return out, report


@contextlib.contextmanager
def staged_upload(data, name: str, limits: Limits | None) -> Iterator[tuple[Path, str]]:
    """Write an upload's bytes to a new private temporary folder under a name chosen here; yield (path, shown name)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InputError("the upload is not a file")
    limits = limits or current_limits()
    shown = display_name(name, Path("upload"))
    if len(data) > limits.max_file_bytes:
        raise InputError(f"is {len(data) / 1e6:.1f} MB, over the {limits.max_file_bytes / 1e6:.1f} MB limit"
                         f"{limits.for_who}", source=shown)
    with tempfile.TemporaryDirectory(prefix="assets_map_upload_") as tmp:
        os.chmod(tmp, 0o700)
        yield copy_to_private(bytes(data), shown, Path(tmp)), shown


def import_bytes(data: bytes, name: str, **options) -> tuple[gpd.GeoDataFrame, ImportReport]:
    """Import an upload's bytes as :func:`import_file` imports the same file on disk.

    The bytes are written to a private temporary file (named here, not by the user), then read by
    :func:`import_file`, so equal bytes give what the same file on disk gives.

    ``name`` is the upload's file name: only its extension and base name are used.
    Options are those of :func:`import_file` (``kind=`` included). The temporary file is
    removed whatever happens.
    """
    with staged_upload(data, name, options.get("limits")) as (local, shown):
        return import_file(local, name=shown, **options)


@dataclass(frozen=True)
class Upload:
    """One uploaded file: the name the user gave it (shown in messages) and its bytes."""

    name: str
    data: bytes


@dataclass
class Inputs:
    """Every file of one analysis, read (see :func:`read_inputs`)."""

    assets: gpd.GeoDataFrame | None
    report: ImportReport | None
    boundaries: gpd.GeoDataFrame | None
    deprivation: object | None = None
    postcodes: pd.DataFrame | None = None
    exclude: list[tuple[str, gpd.GeoDataFrame]] = field(default_factory=list)
    wards: pd.DataFrame | None = None
    #: the display name of each file read, by kind (``exclude``, ``constraints``: lists)
    names: dict = field(default_factory=dict)
    #: planning constraint layers (see :func:`~assets_map.io.constraints.read_constraint_layer`)
    constraints: list[gpd.GeoDataFrame] = field(default_factory=list)


def read_inputs(
    register: str | os.PathLike | Upload | None,
    boundaries: str | os.PathLike | Upload | None,
    deprivation: str | os.PathLike | Upload | None = None,
    *,
    postcodes: str | os.PathLike | Upload | None = None,
    exclude=(),
    wards: str | os.PathLike | Upload | None = None,
    problems: list[str] | None = None,
    layer: str | None = None,
    locations: str | os.PathLike | None = None,
    constraints=(),
    owners=None,
) -> Inputs:
    """Read every file of an analysis through :func:`import_file`: paths (the CLI) or uploads (the app).

    An :class:`Upload` is written to a private temporary file and read as a path would be,
    so the CLI and the app get equal frames from equal bytes. Every file is read before
    anything fails.

    Parameters
    ----------
    register : the asset register (any register-like file; a deprivation file is refused here);
        None: not read (the caller has the frame)
    boundaries : LSOA polygons (None: not read)
    deprivation : English Indices of Deprivation file, optional
    postcodes : postcode directory, to place register rows with only a postcode
    exclude : exclusion layers (greenspace, allotments)
    wards : ward polygons or an LSOA-to-ward lookup
    problems : problems the caller already found, listed first in the one error
    layer : the layer (GeoPackage) or sheet (Excel) of the register to read
    locations : points or polygons with site codes or names, to place the sites of an ERIC register
    constraints : planning constraint layers: files, or ``(kind, file)`` pairs when the kind is stated
    owners : lookups naming organisations given as codes in the register (see :func:`import_file`)

    Returns
    -------
    Inputs : the frames read, the register's import report and each file's display name

    Raises
    ------
    InputError : one error listing every problem with every file
    """
    problems = list(problems or [])
    got: dict[str, object] = {}

    def read(src, kind, **kw):
        """(what was read or None, the problem or None)."""
        try:
            if isinstance(src, Upload):
                return import_bytes(src.data, src.name, kind=kind, **kw), None
            return import_file(src, kind=kind, **kw), None
        except InputError as exc:
            return None, str(exc)

    def name_of(src):
        return display_name(src.name) if isinstance(src, Upload) else display_name(None, Path(src))

    # Every file but the postcodes (which place the register's rows) is read beside the register: GDAL, Arrow and
    # shapely read without the GIL, so at 1M rows the need areas cost no time of their own. Each job runs in a copy of
    # this context: the limits in force (a visitor's budget) hold in the reading thread too.
    stated = [c if isinstance(c, tuple) else (None, c) for c in constraints]
    side = ([(key, src, key, {}) for key, src in (("boundaries", boundaries), ("deprivation", deprivation),
                                                  ("wards", wards)) if src is not None]
            + [("exclude", src, "exclusion", {}) for src in exclude]
            + [("constraints", src, "constraints", {"constraint_kind": k}) for k, src in stated])
    names: dict[str, object] = {key: name_of(src) for key, src, _, _ in side if key not in ("exclude", "constraints")}
    names["exclude"] = [name_of(s) for s in exclude]
    names["constraints"] = [name_of(s) for _, s in stated]
    side_done: list[tuple] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        jobs = ([pool.submit(contextvars.copy_context().run, read, src, kind, **kw) for _, src, kind, kw in side]
                if register is not None else [])
        if postcodes is not None:
            names["postcodes"], (got["postcodes"], problem) = name_of(postcodes), read(postcodes, "postcodes")
            problems.extend(p for p in [problem] if p)
        reg = None
        if register is not None and (postcodes is None or got.get("postcodes") is not None):
            pc = got.get("postcodes")
            names["register"] = name_of(register)
            reg = read(register, "register", postcodes=None if pc is None else pc[0], layer=layer,
                       locations=locations, owners=owners)
        side_done = [job.result() for job in jobs] if jobs else [read(src, kind, **kw) for _, src, kind, kw in side]
    problems.extend(p for _, p in side_done if p)  # in the order the files were given: postcodes, side, register
    for (key, _, _, _), (value, _) in zip(side, side_done, strict=True):
        if key not in ("exclude", "constraints"):
            got[key] = value
    layers = [value for (key, *_), (value, _) in zip(side, side_done, strict=True) if key == "exclude"]
    con_layers = [value for (key, *_), (value, _) in zip(side, side_done, strict=True) if key == "constraints"]
    if reg is not None:
        got["register"], problem = reg
        problems.extend(p for p in [problem] if p)
        if got["register"] is not None and got["register"][0].attrs.get("adapter") == "deprivation":
            problems.append(str(InputError(FileKind("deprivation", "", "an English Indices of Deprivation table (LSOA "
                                                    "codes with scores, ranks or deciles)", _TO["deprivation"]).refusal(),
                                           source=names["register"])))
    if problems:
        raise InputError(problems)
    frame, report = got.get("register") or (None, None)
    first = lambda key: got[key][0] if got.get(key) is not None else None  # noqa: E731
    return Inputs(frame, report, first("boundaries"), first("deprivation"), first("postcodes"),
                  [(layer.attrs["label"], layer) for layer, _ in layers], first("wards"), names,
                  [layer for layer, _ in con_layers])


__all__ = ["ADAPTERS", "ADAPTER_LABELS", "KINDS", "FileKind", "Inputs", "Limits", "Upload", "detect_adapter", "detect_kind",
           "display_name",
           "import_bytes", "import_file", "read_inputs", "staged_upload"]
