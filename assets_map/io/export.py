"""Exports planners can trust: GeoPackage, Shapefile, GeoJSON, CSV and KML.

One code path serves the command line (:func:`export_file`) and the app's
downloads (:func:`export_bytes`): both build the export in a private temporary
folder with :func:`_build` and then either rename it over the target or return
its bytes.  Every export carries a data dictionary (field, meaning, unit,
source, type) and a provenance record (:mod:`assets_map.io.provenance`).

What each format holds
----------------------
``gpkg``
    One GeoPackage in EPSG:27700: each layer given (``assets``, ``candidates``,
    ``needs``, ``summary``, ...) with its description in ``gpkg_contents``, plus
    the tables ``data_dictionary`` and ``provenance``.
``shp``
    A zip.  Per layer: one shapefile per geometry kind (``<layer>.shp`` when all
    rows share one kind, else ``<layer>_point.shp``, ``<layer>_polygon.shp``,
    ...), each with .shp .shx .dbf .prj (EPSG:27700) .cpg (UTF-8); rows with no
    location go to the attribute table ``<layer>_no_location.dbf`` (never
    dropped).  ``field_names.csv`` maps each 10-character field name to its full
    name; text over 254 bytes is cut with a trailing "…" and kept in full in
    ``<layer>_long_text.csv`` (keyed by ``asset_id`` or ``code``), with a warning.
    Dates are dBase dates.
``geojson``
    RFC 7946: WGS84 longitude/latitude, 7 decimals, no ``crs`` member.  The data
    dictionary and provenance travel in a ``metadata`` foreign member of the
    FeatureCollection.  One layer gives one ``.geojson``; several give a zip of
    one file per layer (plus the sidecars below).
``csv``
    Always a zip: ``<layer>.csv`` (UTF-8, with a BOM by default so that Excel
    reads £ and é) plus ``<layer>.csvt`` (column types for GDAL and QGIS).  Each
    row carries ``lon``/``lat`` (WGS84, of a point inside the geometry) and
    ``wkt`` (the full geometry in EPSG:27700) unless ``coordinates`` says
    otherwise.  Text cells that a spreadsheet would run as a formula get a
    leading apostrophe (:func:`is_formula_like`: = + - @, tab, CR or LF first,
    also after leading spaces, non-breaking spaces or invisible characters, and
    their full-width and other Unicode look-alikes; plain numbers stay numbers).
``kml``
    One KML 2.2 document (WGS84), written directly (valid against the OGC schema): a
    folder per layer with a legend and its data dictionary, need areas shaded by need
    decile, sites coloured by priority with their reasons in the balloon.  Text is
    XML-escaped once (names read back exactly); the balloons are HTML with every value
    HTML-escaped.  Booleans are 1/0 (GDAL 3.6 reads ``true`` as 0).  Fields that KML
    itself uses (``visibility``, ``begin``, ...) get an ``attr_`` prefix.  Tables
    without locations (``summary``) are left out, and the document description says so.

Every zip also holds ``data_dictionary.csv``, ``provenance.json`` and
``README.txt`` (what is where, any warnings, the provenance note).

Column names that differ only in case (``src_uprn`` and ``src_UPRN``, from two
sources) are one name to GeoPackage, SQLite, dBase and most spreadsheets: every
format writes the later ones with a numeric suffix (``src_UPRN_2``), and the
data dictionary and README say which column each stands for.

Writes are atomic: nothing appears at the target until the whole export is
built, and a failure (or Ctrl-C) leaves an earlier export of the same name
untouched and no temporary files behind.
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
import re
import shutil
import tempfile
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely

from assets_map.io.provenance import provenance_table, provenance_text, with_export
from assets_map.io.report import InputError, esc
from assets_map.schema import (
    ASSET_FIELDS,
    CONSTRAINT_FIELDS,
    DISPLAY_CRS,
    MEASURE_CRS,
    METADATA_TABLES,
    NEED_FIELDS,
    SOURCE_PREFIX,
    Field,
    value_kind,
)

#: Export formats, in the order the app and the CLI offer them.
FORMATS = ("gpkg", "shp", "geojson", "csv", "kml", "xlsx")
#: Characters that make a spreadsheet treat a cell as a formula (after Unicode NFKC normalisation,
#: which maps the full-width and small forms such as ＝ ＋ － ＠ onto these).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
#: Look-alikes that NFKC leaves alone but spreadsheets read as the formula character.
_FORMULA_LOOKALIKES = {"\u2212": "-", "\u2796": "-", "\u2795": "+"}
#: The dBase limit on a text value, in bytes.
DBF_TEXT_LIMIT = 254
#: Marks a dBase text value that was cut (the full text is in the long-text sidecar).
CUT_MARK = "…"
#: Suffix of a column the export adds (lon, lat, wkt) when the layer already has one of that name.
EXPORT_SUFFIX = "_export"
#: dBase readers are only sure to read this many fields.
DBF_MAX_FIELDS = 255
#: GeoPackage version written (readable without warnings by GDAL >= 2.2, QGIS and ArcGIS Pro).
GPKG_VERSION = "1.2"
#: Decimals of WGS84 coordinates in GeoJSON, CSV and KML (about 1 cm).
WGS84_DECIMALS = 7

LAYER_DESCRIPTIONS = {
    "assets": "Every asset of the register(s), or those chosen in the app (a filtered set or a shortlist), placed "
              "or not (location_quality 'none' = no geometry): canonical fields, need of the area, underuse "
              "evidence, transferability, priority and reasons; source columns kept with the src_ prefix.",
    "candidates": "Assets flagged High, Medium or Low for community ownership, each with its reasons (a subset of assets).",
    "needs": "Need areas (LSOAs) with English Indices of Deprivation scores, ranks and deciles and the composite need score.",
    "sites": "Sites chosen in the app (a filtered set or a shortlist), with every field of the assets layer.",
    "summary": "Counts of sites, flagged sites by priority, hectares and floor area: for all assets, by need decile, "
               "by organisation and by area.",
    "data_dictionary": "Meaning, unit, source and type of every field of every layer in this export.",
    "provenance": "Where this export came from: input files and SHA-256 hashes, IoD edition, need weights, filters, "
                  "date and software versions (key/value; the row provenance_json holds the exact record).",
}

SUMMARY_FIELDS: tuple[Field, ...] = (
    Field("group_by", "What the row groups by: all, need decile, organisation, or ward / LSOA", "", "assets-map"),
    Field("group", "The group's value (a need decile 1-10, an organisation, a ward or LSOA)", "", "assets-map"),
    Field("sites", "Number of assets in the group", "count", "assets-map", "int"),
    Field("flagged", "Assets flagged High, Medium or Low", "count", "assets-map", "int"),
    Field("high", "Assets flagged High", "count", "assets-map", "int"),
    Field("medium", "Assets flagged Medium", "count", "assets-map", "int"),
    Field("low", "Assets flagged Low", "count", "assets-map", "int"),
    Field("not_flagged", "Assets not flagged", "count", "assets-map", "int"),
    Field("hectares", "Sum of the known site areas (blank when none is known)", "ha", "assets-map from site_area_ha", "float"),
    Field("floor_area_m2", "Sum of the known floor areas (blank when none is known)", "m2", "assets-map from floor_area_m2", "float"),
)

EXTRA_FIELDS: dict[str, Field] = {
    "lon": Field("lon", "Longitude (WGS84) of the point, or of a point inside the polygon", "degrees", "assets-map", "float"),
    "lat": Field("lat", "Latitude (WGS84) of the point, or of a point inside the polygon", "degrees", "assets-map", "float"),
    "easting": Field("easting", "Easting (British National Grid, EPSG:27700) of the same point as lon/lat", "m",
                     "assets-map", "float"),
    "northing": Field("northing", "Northing (British National Grid, EPSG:27700) of the same point as lon/lat", "m",
                      "assets-map", "float"),
    "wkt": Field("wkt", "The full geometry as Well-Known Text in British National Grid (EPSG:27700)", "m", "assets-map"),
    "description": Field("description", "Balloon text for Google Earth (HTML-escaped): priority, reasons, need", "", "assets-map"),
    "constraints_inside": Field("constraints_inside", "Planning constraints the site or its parcel is inside: kind: "
                                "feature (see the constraints layer)", "", "assets-map from the constraint layers"),
    "constraints_near": Field("constraints_near", "Planning constraints near the site: kind, distance: feature", "",
                              "assets-map from the constraint layers"),
    "constraints_clear": Field("constraints_clear", "Constraint kinds checked and clear (the layer covers the site's "
                               "area, nothing inside or near)", "", "assets-map from the constraint layers"),
    "constraints_not_checked": Field("constraints_not_checked", "Constraint kinds not checked (no layer, the layer "
                                     "does not cover the site's area, or the site has no location): never clear", "",
                                     "assets-map"),
    "constraints_sources": Field("constraints_sources", "The constraint layers loaded, by kind: file (its newest entry "
                                 "date, where stated)", "", "the constraint layers"),
    "constraints_measured_from": Field("constraints_measured_from", "What the constraints were tested on: the site's "
                                       "point, its own outline, or the registered freehold parcel's outline "
                                       "(approximate, not a title plan)", "", "assets-map"),
    "catchment_from": Field("catchment_from", "What the catchment radius is measured from: the site's point, its own "
                            "outline, or the registered freehold parcel's outline (approximate, not a title plan)", "",
                            "assets-map"),
    "parcel_id": Field("parcel_id", "INSPIRE ID of the registered freehold parcel holding the site (approximate: an "
                       "index polygon, not a title plan)", "", "HM Land Registry INSPIRE Index Polygons"),
    "parcel_area_ha": Field("parcel_area_ha", "Area of that freehold parcel, measured in British National Grid "
                            "(EPSG:27700) after repair", "ha", "HM Land Registry INSPIRE Index Polygons", "float"),
    "parcel_note": Field("parcel_note", "How sure the parcel is: the registered freehold parcel at this point, not a "
                         "title plan", "", "assets-map"),
    "site_area_from": Field("site_area_from", "Where site_area_ha came from: the register, or the freehold parcel at "
                            "the site where the register gave none", "", "assets-map"),
    "label": Field("label", "The parcel's LABEL as HM Land Registry publishes it", "", "HM Land Registry"),
    "national_cadastral_reference": Field("national_cadastral_reference", "The parcel's NATIONALCADASTRALREFERENCE",
                                          "", "HM Land Registry"),
    "valid_from": Field("valid_from", "The parcel's VALIDFROM date and time as published", "", "HM Land Registry"),
    "begin_lifespan_version": Field("begin_lifespan_version", "The parcel's BEGINLIFESPANVERSION as published", "",
                                    "HM Land Registry"),
    "parcel_source": Field("parcel_source", "The INSPIRE file the parcel was read from", "", "assets-map"),
    "title_number": Field("title_number", "HM Land Registry title number", "", "CCOD/OCOD"),
    "property_address": Field("property_address", "The title's Property Address as published", "", "CCOD/OCOD"),
    "proprietor_name": Field("proprietor_name", "The proprietor's name as published", "", "CCOD/OCOD"),
    "proprietorship_category": Field("proprietorship_category", "The proprietor's Proprietorship Category", "",
                                     "CCOD/OCOD"),
    "company_number": Field("company_number", "The proprietor's Company Registration No. (text)", "", "CCOD/OCOD"),
    "anchor_kind": Field("anchor_kind", "The kind of anchor the proprietor is (council, NHS body, university or "
                         "college, housing association or society, company)", "", "assets-map from the category"),
    "kind_rule": Field("kind_rule", "Why: the proprietorship category (and the name where the category is broad)",
                       "", "assets-map"),
    "anchor_rule": Field("anchor_rule", "Why the title is the anchor's: its own name, a standard legal form, an "
                         "alias-table row or a company number", "", "assets-map"),
    "matched_by": Field("matched_by", "How the title matched a register asset: address, postcode or parcel", "",
                        "assets-map"),
    "tier": Field("tier", "How the title was placed: address matched to a register asset, postcode with one parcel, "
                  "postcode only, or unplaced (always approximate)", "", "assets-map"),
    "placement_note": Field("placement_note", "How sure the placement is", "", "assets-map"),
    "decision": Field("decision", "For the estates team: confirm or reject the row", "", "user"),
    "what": Field("what", "The change in the change-only file: a possible disposal", "", "CCOD change-only file"),
    "old_proprietor": Field("old_proprietor", "The anchor's proprietor entry deleted", "", "CCOD change-only file"),
    "new_proprietor": Field("new_proprietor", "The proprietor added in its place, if any", "", "CCOD change-only file"),
}

_DOMAINS = {"imd": "Index of Multiple Deprivation", "income": "Income domain", "employment": "Employment domain",
            "education": "Education, Skills and Training domain", "health": "Health Deprivation and Disability domain",
            "crime": "Crime domain", "housing": "Barriers to Housing and Services domain",
            "environment": "Living Environment domain", "idaci": "Income Deprivation Affecting Children Index",
            "idaopi": "Income Deprivation Affecting Older People Index"}
_MEASURES = {"score": ("score", "score (higher = more deprived)"), "rank": ("rank", "rank (1 = most deprived in England)"),
             "decile": ("decile", "decile (1 = most deprived 10% in England)")}
_DOMAIN_RE = re.compile(r"^(" + "|".join(_DOMAINS) + r")_(score|rank|decile)$")


class ExportWarning(UserWarning):
    """Something an export had to change (a cut text, a split geometry); it is also written into the export."""


# --------------------------------------------------------------------------- atomic writes

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


# --------------------------------------------------------------------------- cells and types

def _is_number_text(value: str) -> bool:
    return bool(re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", value))


def _ignorable(ch: str) -> bool:
    """A character a spreadsheet skips or trims before a formula: whitespace, control or invisible format."""
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zs")


def _formula_char(ch: str) -> str:
    ch = _FORMULA_LOOKALIKES.get(ch, ch)
    return unicodedata.normalize("NFKC", ch)[:1] if not ch.isascii() else ch


def is_formula_like(value: object) -> bool:
    """True when a spreadsheet (Excel, LibreOffice, Google Sheets) could run this text as a formula.

    That is text whose first character is ``=``, ``+``, ``-``, ``@``, tab, CR or
    LF, or whose first visible character is one of ``= + - @`` after leading
    whitespace (spaces, non-breaking and other Unicode spaces, line breaks) or
    invisible characters (zero-width space, byte-order mark), counting the
    full-width and small forms (``＝ ＋ － ＠``, ``﹦``, ...) and the minus sign
    ``−``.  Plain numbers written as text (``-2.33``, `` +44``) are not formulas.
    """
    if not isinstance(value, str) or not value:
        return False
    first = value[0]
    if first.isascii() and first not in FORMULA_START and not first.isspace() and first.isprintable():
        return False  # the common case, decided without Unicode tables
    i = 0
    while i < len(value) and _ignorable(value[i]) and value[i] not in FORMULA_START:
        i += 1
    if i == len(value):
        return False
    if value[i] in ("\t", "\r", "\n"):
        return True
    lead = _formula_char(value[i])
    if lead not in ("=", "+", "-", "@"):
        return False
    rest = unicodedata.normalize("NFKC", lead + value[i + 1:]).strip()
    return not _is_number_text(rest)


def safe_cell(value: object) -> object:
    """Prefix text that a spreadsheet would run as a formula (:func:`is_formula_like`) with an apostrophe.

    Plain numbers written as text (``-2.33``) are left alone: they are not formulas.
    """
    if is_formula_like(value):
        return "'" + value
    return value


def _missing(value: object) -> bool:
    return value is None or value is pd.NaT or value is pd.NA or (isinstance(value, float) and value != value)


def _all_dates(values: pd.Series) -> bool:
    return all(isinstance(v, dt.date) and (not isinstance(v, dt.datetime) or v.time() == dt.time(0))
               for v in values)


def _dates(s: pd.Series) -> pd.api.extensions.ExtensionArray | None:
    """``s`` as Arrow dates when every value is a ``datetime.date`` (not a datetime) or missing; else None.

    Each distinct date is converted once.  Values that are equal are the same
    date (a ``date`` never equals a ``datetime``), so checking the distinct
    values checks them all.
    """
    codes, uniques = pd.factorize(s)
    if not all(type(v) is dt.date for v in uniques):
        return None
    days = pa.array(list(uniques), type=pa.date32())
    return pd.array(days.take(pa.array(codes, mask=codes < 0)), dtype=pd.ArrowDtype(pa.date32()))


def for_file(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Columns typed as GDAL writes them faithfully.

    Dates (``datetime.date`` values, or datetimes that are all at midnight) become
    Arrow ``date32`` (a real date field in GeoPackage, dBase and KML/GeoJSON
    text); lists become "; "-separated text; mixed objects become text;
    all-missing columns become text; nullable integers and booleans are kept.
    The input is not changed: the result is a shallow copy whose converted
    columns are new (copy-on-write keeps the shared ones safe to edit).
    """
    out = gdf.copy(deep=False)
    geom = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    for col in out.columns:
        if col == geom:
            continue
        s = out[col]
        if isinstance(s.dtype, pd.ArrowDtype):
            continue
        if pd.api.types.is_datetime64_any_dtype(s):
            naive = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
            if (naive.dropna() == naive.dropna().dt.normalize()).all():
                out[col] = pd.array([v.date() if pd.notna(v) else None for v in naive], dtype=pd.ArrowDtype(pa.date32()))
            continue
        if s.dtype != object:
            continue
        # all text (missing values aside) reads the same with or without the missing values: skip dropping them
        kind = pd.api.types.infer_dtype(s, skipna=True)
        if kind == "string":
            out[col] = s.astype("str")  # one conversion, not a call per cell (26 s of 91 s at 1M rows)
            continue
        sample = s.dropna()
        kind = pd.api.types.infer_dtype(sample, skipna=True) if not sample.empty else "empty"
        if kind == "empty":
            out[col] = pd.Series(None, index=s.index, dtype="str")
        elif kind == "date" and (days := _dates(s)) is not None:
            out[col] = days
        elif kind in ("date", "datetime") and _all_dates(sample):
            out[col] = pd.array([None if _missing(v) else v.date() if isinstance(v, dt.datetime) else v for v in s],
                                dtype=pd.ArrowDtype(pa.date32()))
        elif kind == "boolean":
            out[col] = s.astype("boolean")
        elif kind == "integer":
            out[col] = s.astype("Int64")
        elif kind in ("floating", "mixed-integer-float"):
            out[col] = pd.to_numeric(s, errors="coerce").astype("float64")
        elif kind == "string":
            out[col] = s.astype("str")
        elif not sample.empty and isinstance(sample.iloc[0], (list, tuple)):
            out[col] = s.map(lambda v: "; ".join(map(str, v)) if isinstance(v, (list, tuple)) else v).astype("str")
        else:
            out[col] = s.map(lambda v: None if _missing(v) else v if isinstance(v, str) else str(v)).astype("str")
    return out


def _is_date(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.ArrowDtype) and pa.types.is_date(s.dtype.pyarrow_dtype)


def _date_text(s: pd.Series) -> pd.Series:
    return pd.Series([v.isoformat() if v is not None and not pd.isna(v) else None for v in s.astype(object)],
                     index=s.index, dtype="str")


# --------------------------------------------------------------------------- data dictionary

def _schema_for(layer: str, frame: pd.DataFrame) -> dict[str, Field]:
    if layer == "constraints" or {"asset_id", "answer", "dataset"} <= set(frame.columns):
        return {f.name: f for f in CONSTRAINT_FIELDS}
    if layer == "summary" or {"group_by", "group", "sites"} <= set(frame.columns):
        return {f.name: f for f in SUMMARY_FIELDS}
    if layer == "needs" or ("code" in frame.columns and "asset_id" not in frame.columns):
        return {f.name: f for f in NEED_FIELDS}
    return {f.name: f for f in ASSET_FIELDS}


def describe_field(layer: str, column: str, frame: pd.DataFrame, *, crs_note: str = "") -> dict:
    """One data-dictionary row (layer, field, meaning, unit, source, type) for a column of a layer."""
    known = _schema_for(layer, frame)
    kind = value_kind(frame[column]) if column in frame.columns else EXTRA_FIELDS.get(column, Field(column, "", "", "")).kind
    if column in known and column != "geometry":
        f = known[column]
        row = {"meaning": f.meaning, "unit": f.unit, "source": f.source}
    elif column == "geometry" or kind == "geometry":
        what = "LSOA polygon" if "lsoa_vintage" in known else "Point or polygon of the asset" if "asset_id" in known else "Geometry"
        row = {"meaning": f"{what}, {crs_note or 'British National Grid (EPSG:27700)'}", "unit": "",
               "source": known.get("geometry", Field("", "", "", "assets-map")).source}
    elif column in EXTRA_FIELDS or column.removesuffix(EXPORT_SUFFIX) in EXTRA_FIELDS:
        f = EXTRA_FIELDS[column.removesuffix(EXPORT_SUFFIX)]
        row = {"meaning": f.meaning, "unit": f.unit, "source": f.source}
    elif m := _DOMAIN_RE.match(column):
        measure, meaning = _MEASURES[m.group(2)]
        row = {"meaning": f"{_DOMAINS[m.group(1)]} {meaning}", "unit": measure, "source": "English Indices of Deprivation"}
    elif column.startswith(SOURCE_PREFIX) and column in frame.attrs.get("source_columns", {}):
        owner, own_name = frame.attrs["source_columns"][column]
        row = {"meaning": f"'{own_name}' exactly as in the source file of {owner} (kept apart from other sources' "
                          f"columns whose names differ only in case; empty for other sources' rows)", "unit": "",
               "source": f"{owner}'s source file (see provenance inputs)"}
    elif column.startswith(SOURCE_PREFIX):
        row = {"meaning": f"'{column[len(SOURCE_PREFIX):]}' exactly as in the source file", "unit": "",
               "source": "source file (see provenance inputs)"}
    else:
        row = {"meaning": "Not part of the assets-map schema: carried through as given", "unit": "",
               "source": "user or app"}
    return {"layer": layer, "field": column, **row, "type": kind}


def layer_dictionary(layers: Mapping[str, pd.DataFrame], *, crs_note: str = "",
                     field_names: Mapping[str, Mapping[str, str]] | None = None,
                     renamed: Mapping[str, Mapping[str, str]] | None = None,
                     sources: Mapping[str, Mapping[str, tuple[str, str]]] | None = None) -> pd.DataFrame:
    """The data dictionary of an export: one row per column of every layer, as written.

    ``field_names`` (layer -> full name -> short name) adds a ``shapefile_field`` column.
    ``renamed`` (layer -> written name -> the column's own name) describes a column
    written under another name by its own name, and says so.  ``sources`` (layer ->
    column -> (source, name in its file)) names the source of a column that
    :func:`assets_map.schema.keep_sources_apart` split by source.
    """
    rows = []
    for name, frame in layers.items():
        own = (renamed or {}).get(name, {})
        known = (sources or {}).get(name)
        if known:
            frame = frame.copy(deep=False)
            frame.attrs["source_columns"] = dict(known)
        for col in frame.columns:
            if col in own:
                original = own[col]
                row = describe_field(name, original, frame.rename(columns={col: original}), crs_note=crs_note)
                row["field"] = col
                row["meaning"] = (f"{row['meaning']} (the column '{original}', written as {col}: its name differs "
                                  f"from another column's only in case)")
            else:
                row = describe_field(name, col, frame, crs_note=crs_note)
            if field_names is not None:
                row["shapefile_field"] = "" if row["type"] == "geometry" else field_names.get(name, {}).get(col, "")
            rows.append(row)
    cols = ["layer", "field"] + (["shapefile_field"] if field_names is not None else []) + ["meaning", "unit", "source", "type"]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- layers of a result

def summary_layer(assets: pd.DataFrame) -> pd.DataFrame:
    """The ``summary`` layer: all assets, then by need decile, by organisation and by ward or LSOA.

    Built from :mod:`assets_map.engine.summary` (the same numbers as the app's summary
    page), stacked into one table with ``group_by`` and ``group`` columns.
    """
    from assets_map.engine import summary as sm

    parts = []
    everything = sm.overall(assets, label="group", name="all assets")
    parts.append(everything.assign(group_by="all"))
    if "need_decile" in assets:
        parts.append(sm.by_need_decile(assets).rename(columns={"need decile": "group"}).assign(group_by="need decile"))
    if "organisation" in assets:
        parts.append(sm.by_organisation(assets).rename(columns={"organisation": "group"}).assign(group_by="organisation"))
    if "need_area_code" in assets:
        area, what = sm.by_area(assets)
        parts.append(area.rename(columns={area.columns[0]: "group"}).assign(group_by=what))
    out = pd.concat(parts, ignore_index=True)
    out = out.rename(columns={"High": "high", "Medium": "medium", "Low": "low", "not flagged": "not_flagged"})
    out["group"] = out["group"].astype("str")
    cols = [f.name for f in SUMMARY_FIELDS]
    for c in ("sites", "flagged", "high", "medium", "low", "not_flagged"):
        out[c] = out[c].astype("int64")
    return out[cols]


def result_layers(analysis, *, later: bool = False) -> dict[str, pd.DataFrame]:
    """The layers of an :class:`~assets_map.engine.pipeline.Analysis`: assets, candidates, needs, summary.

    With the ``constraints`` table too when constraint layers were loaded, and the ``parcels`` (the freehold
    parcels holding the assets) when parcel files were given. With ``later`` the candidates and the summary are
    functions that make them (for :func:`assets_map.io.geoparquet.write_result`, which makes them while it writes
    the assets: at 1M sites they take half a second).
    """
    out = {"assets": analysis.assets, "candidates": lambda: analysis.candidates, "needs": analysis.needs,
           "summary": lambda: summary_layer(analysis.assets)}
    if not later:
        out = {name: layer() if callable(layer) else layer for name, layer in out.items()}
    if getattr(analysis, "constraints", None) is not None:
        out["constraints"] = analysis.constraints
    if getattr(analysis, "parcels", None) is not None:
        out["parcels"] = analysis.parcels
    return out


# --------------------------------------------------------------------------- checks

def _file_stem(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name).strip("-.")
    return stem or "layer"


def _check(layers: Mapping[str, pd.DataFrame], fmt: str) -> tuple[str, dict[str, pd.DataFrame]]:
    problems = []
    f = str(fmt).lower().lstrip(".")
    f = {"geopackage": "gpkg", "shapefile": "shp", "json": "geojson", "kmz": "kml", "excel": "xlsx"}.get(f, f)
    if f not in FORMATS:
        problems.append(f"unknown export format '{fmt}': choose one of {', '.join(FORMATS)}")
    if not layers:
        problems.append("nothing to export: no layers given")
    seen: dict[str, str] = {}
    for name, frame in (layers or {}).items():
        if not isinstance(frame, pd.DataFrame):
            problems.append(f"layer '{name}' is a {type(frame).__name__}, not a table")
            continue
        if name in METADATA_TABLES:
            problems.append(f"layer name '{name}' is reserved for the export's own table")
        stem = _file_stem(name).lower()
        if stem in seen:
            problems.append(f"layers '{seen[stem]}' and '{name}' would have the same file name")
        seen[stem] = name
        if isinstance(frame, gpd.GeoDataFrame) and frame.crs is None and frame.geometry.notna().any():
            problems.append(f"layer '{name}' has no CRS: refusing to guess where its coordinates are")
        cols = [str(c) for c in frame.columns]
        if len(set(cols)) != len(cols):
            problems.append(f"layer '{name}' has two columns of the same name")
    if problems:
        raise InputError(problems)
    return f, dict(layers)


def case_distinct_names(columns) -> dict[str, str]:
    """New names for columns whose names differ from an earlier column's only in case.

    GeoPackage (SQLite), dBase and spreadsheets do not tell ``src_uprn`` from
    ``src_UPRN``.  The first keeps its name; each later one gets the lowest
    numeric suffix (``src_UPRN_2``) that no other column takes, case-insensitively.
    Returns ``{original: new}`` for the renamed columns only.
    """
    names = [str(c) for c in columns]
    taken = {n.lower() for n in names}
    seen: set[str] = set()
    out: dict[str, str] = {}
    for n in names:
        low = n.lower()
        if low not in seen:
            seen.add(low)
            continue
        k = 2
        while f"{low}_{k}" in taken:
            k += 1
        out[n] = f"{n}_{k}"
        taken.add(f"{low}_{k}")
    return out


def _distinct_columns(b: "_Build", layers: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Layers whose case-colliding column names are made distinct; the renames go to ``b`` (dictionary, README)."""
    out = {}
    for name, frame in layers.items():
        if frame.attrs.get("source_columns"):  # kept here: not every step of a build keeps a frame's attrs
            b.sources[name] = dict(frame.attrs["source_columns"])
        renames = case_distinct_names(frame.columns)
        if renames:
            frame = frame.rename(columns=renames)
            b.renamed[name] = {new: old for old, new in renames.items()}
            b.notes.append(f"{name}: column names that differ only in case, which GeoPackage, dBase and "
                           f"spreadsheets cannot tell apart, were written as "
                           + ", ".join(f"{new} (for {old})" for old, new in renames.items()))
        out[name] = frame
    return out


def _as_geo(frame: pd.DataFrame) -> gpd.GeoDataFrame | pd.DataFrame:
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        g = frame if frame.geometry.name == "geometry" else frame.rename_geometry("geometry")
        return g
    return frame


def _to(frame: pd.DataFrame, crs: str) -> pd.DataFrame:
    g = _as_geo(frame)
    if isinstance(g, gpd.GeoDataFrame):
        g = g.to_crs(crs) if g.crs is not None else g.set_crs(crs)
    return for_file(g.reset_index(drop=True))


def container_name(fmt: str, layers: Mapping[str, pd.DataFrame], name: str = "assets-map") -> str:
    """File name of an export of ``layers`` in ``fmt`` (what :func:`export_bytes` returns)."""
    stem = _file_stem(name)
    if fmt == "gpkg":
        return f"{stem}.gpkg"
    if fmt == "shp":
        return f"{stem}-shapefile.zip"
    if fmt == "csv":
        return f"{stem}-csv.zip"
    if fmt == "geojson":
        return f"{stem}.geojson" if len(layers) == 1 else f"{stem}-geojson.zip"
    if fmt == "xlsx":
        return f"{stem}.xlsx"
    return f"{stem}.kml"


#: Formats an output name tells (a .zip may hold a Shapefile, CSV or GeoJSON: the format must be said).
SUFFIX_FORMATS = {".gpkg": "gpkg", ".geojson": "geojson", ".json": "geojson", ".csv": "csv", ".kml": "kml",
                  ".xlsx": "xlsx", ".shp": "shp"}


def format_for(path: str | os.PathLike, fmt: str | None = None) -> str:
    """The export format of an output: ``fmt`` when given, else the one its name tells.

    Parameters
    ----------
    path : the output file
    fmt : the format asked for, if any (needed for a ``.zip``, which may hold a Shapefile, CSV or GeoJSON)

    Returns
    -------
    str : one of :data:`FORMATS` (an unknown ``fmt`` is returned as given, for :func:`_check` to refuse)
    """
    if fmt:
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix == ".zip":
        raise InputError(f"{Path(path).name}: a .zip may hold a Shapefile, CSV or GeoJSON files: say which with "
                         f"--format shp, csv or geojson")
    if suffix not in SUFFIX_FORMATS:
        raise InputError(f"cannot tell the export format from the name {Path(path).name}: end it in "
                         f"{', '.join(sorted(set(SUFFIX_FORMATS) - {'.shp'}))} or .zip (with --format)")
    return SUFFIX_FORMATS[suffix]


def _expected_suffixes(fmt: str, n_layers: int) -> tuple[str, ...]:
    return {"gpkg": (".gpkg",), "shp": (".zip",), "csv": (".zip", ".csv") if n_layers == 1 else (".zip",),
            "kml": (".kml",), "xlsx": (".xlsx",),
            "geojson": (".geojson", ".json") if n_layers == 1 else (".zip",)}[fmt]


# --------------------------------------------------------------------------- the build

@dataclass
class _Build:
    """State of one export while it is built in a private folder."""

    fmt: str
    work: Path
    record: dict
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # what README.txt lists, in order
    renamed: dict[str, dict[str, str]] = field(default_factory=dict)  # layer -> written name -> column's name
    sources: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)  # layer -> column -> (source, name)
    bom: bool = True  # every CSV of the export starts with a UTF-8 byte-order mark (Excel reads UTF-8 then)

    def columns_known(self) -> dict:
        """What :func:`layer_dictionary` needs to know about renamed and per-source columns."""
        return {"renamed": self.renamed, "sources": self.sources}

    def warn(self, message: str) -> None:
        self.notes.append(message)
        warnings.warn(message, ExportWarning, stacklevel=4)


def _write(frame: pd.DataFrame, path: Path, *, driver: str, layer: str | None = None, **kwargs) -> None:
    """One GDAL write through pyogrio's Arrow path (keeps dates, nullable integers and booleans)."""
    crs = kwargs.pop("crs", None)
    if not isinstance(frame, gpd.GeoDataFrame) and crs is not None:
        # A table in a format that always has coordinates (GeoJSON, KML): features without geometry.
        frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([None] * len(frame), index=frame.index), crs=crs)
    if isinstance(frame, gpd.GeoDataFrame):
        pyogrio.write_dataframe(frame, path, layer=layer, driver=driver, use_arrow=True, **kwargs)
    else:
        pyogrio.write_dataframe(pd.DataFrame(frame), path, layer=layer, driver=driver, use_arrow=True, **kwargs)


def _metadata_for(layer: str, dictionary: pd.DataFrame, record: dict) -> dict:
    rows = dictionary[dictionary["layer"] == layer].drop(columns="layer")
    return {"title": f"assets-map export: {layer}", "description": LAYER_DESCRIPTIONS.get(layer, ""),
            "data_dictionary": rows.to_dict(orient="records"), "provenance": record}


def _build_gpkg(b: _Build, layers: dict[str, pd.DataFrame], *, metadata: bool = True) -> Path:
    out = b.work / "export.gpkg"
    written = {}
    for name, frame in layers.items():
        g = _to(frame, MEASURE_CRS)
        opts = {"DESCRIPTION": LAYER_DESCRIPTIONS.get(name, f"Layer '{name}' exported by assets-map")}
        # GeoPackage 1.2: GDAL 3.12 would write 1.4, which older GDAL (QGIS LTR, ogrinfo 3.6) warns about.
        kw = {} if written else {"dataset_options": {"VERSION": GPKG_VERSION}}
        if isinstance(g, gpd.GeoDataFrame):
            kw["geometry_type"] = _gpkg_geometry_type(g)
        _write(g, out, driver="GPKG", layer=name, layer_options=opts, **kw)
        written[name] = g
    if not metadata:
        return out
    dd = layer_dictionary(written, **b.columns_known())
    _write(dd, out, driver="GPKG", layer="data_dictionary", layer_options={"DESCRIPTION": LAYER_DESCRIPTIONS["data_dictionary"]})
    _write(provenance_table(b.record), out, driver="GPKG", layer="provenance",
           layer_options={"DESCRIPTION": LAYER_DESCRIPTIONS["provenance"]})
    return out


#: Names of shapely's geometry type ids, as ``GeoSeries.geom_type`` gives them.
_GEOM_TYPE_NAMES = {shapely.GeometryType.POINT: "Point", shapely.GeometryType.LINESTRING: "LineString",
                    shapely.GeometryType.LINEARRING: "LinearRing", shapely.GeometryType.POLYGON: "Polygon",
                    shapely.GeometryType.MULTIPOINT: "MultiPoint",
                    shapely.GeometryType.MULTILINESTRING: "MultiLineString",
                    shapely.GeometryType.MULTIPOLYGON: "MultiPolygon",
                    shapely.GeometryType.GEOMETRYCOLLECTION: "GeometryCollection"}


def _gpkg_geometry_type(g: gpd.GeoDataFrame) -> str:
    geoms = g.geometry.to_numpy()
    ids = shapely.get_type_id(geoms)  # -1 for a missing geometry
    ids = np.unique(ids[(ids >= 0) & ~shapely.is_empty(geoms)])
    kinds = {_GEOM_TYPE_NAMES[shapely.GeometryType(int(i))] for i in ids}
    if len(kinds) == 1:
        return kinds.pop()
    if kinds <= {"Polygon", "MultiPolygon"} and kinds:
        return "MultiPolygon" if "MultiPolygon" in kinds else "Polygon"
    return "Unknown"


# ---- Shapefile

_SHP_GROUPS = {"Point": "point", "MultiPoint": "multipoint", "LineString": "line", "LinearRing": "line",
               "MultiLineString": "line", "Polygon": "polygon", "MultiPolygon": "polygon"}
_SHP_TYPES = {"point": "Point", "multipoint": "MultiPoint", "line": "MultiLineString", "polygon": "MultiPolygon"}
_DIMENSION = {"point": 0, "multipoint": 0, "line": 1, "polygon": 2}


def _dbf_safe(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9_]", "_", ascii_name).strip() or "field"
    return safe if safe[0].isalpha() else "f" + safe


def shapefile_field_names(columns: list[str], *, limit: int = 10) -> dict[str, str]:
    """Deterministic, unique (case-insensitively) dBase field names of at most ``limit`` characters.

    Names that already fit keep their own name, whatever the column order; the
    others are cut to ``limit`` characters and, when that collides, cut shorter
    with a numeric suffix (``src_Organi``, ``src_Orga_1``, ...), in column order.
    """
    out: dict[str, str] = {}
    used: set[str] = set()
    for col in columns:  # pass 1: names that need no change
        safe = _dbf_safe(col)
        if safe == col and len(col) <= limit and col.upper() not in used:
            out[col] = col
            used.add(col.upper())
    for col in columns:  # pass 2: the rest, in order
        if col in out:
            continue
        base = _dbf_safe(col)
        cand, k = base[:limit], 1
        while cand.upper() in used:
            suffix = f"_{k}"
            cand = base[:limit - len(suffix)] + suffix
            k += 1
        out[col] = cand
        used.add(cand.upper())
    return out


def _cut_text(text: str, limit: int = DBF_TEXT_LIMIT) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    room = limit - len(CUT_MARK.encode("utf-8"))
    return raw[:room].decode("utf-8", "ignore") + CUT_MARK


def _shp_geometry(geom) -> tuple[str | None, object, bool]:
    """(group, geometry for the shapefile, whether parts were left out) of one geometry."""
    if geom is None or geom.is_empty:
        return None, None, False
    kind = geom.geom_type
    if kind in _SHP_GROUPS:
        return _SHP_GROUPS[kind], geom, False
    parts = [p for p in shapely.get_parts(geom) if not p.is_empty]  # a GeometryCollection
    flat = []
    for p in parts:
        flat.extend(shapely.get_parts(p) if p.geom_type.startswith("Multi") else [p])
    groups = {_SHP_GROUPS.get(p.geom_type) for p in flat} - {None}
    if not groups:
        return None, None, False
    top = max(groups, key=lambda g: _DIMENSION[g])
    keep = [p for p in flat if _DIMENSION[_SHP_GROUPS[p.geom_type]] == _DIMENSION[top]]
    if top == "polygon":
        merged = shapely.MultiPolygon(keep) if len(keep) > 1 else keep[0]
    elif top == "line":
        merged = shapely.MultiLineString(keep) if len(keep) > 1 else keep[0]
    else:
        top = "multipoint" if len(keep) > 1 else "point"
        merged = shapely.MultiPoint(keep) if len(keep) > 1 else keep[0]
    return top, merged, len(keep) < len(flat)


#: Widest number GDAL writes in a dBase field (a real: 24 characters, 15 decimals; an integer: 19).
DBF_NUMBER_WIDTH = 24
_DBF_INTEGER_WIDTH = 19


def _too_wide(s: pd.Series) -> np.ndarray:
    """Which numbers would not fit their dBase field (GDAL would cut them to the field's width)."""
    if pd.api.types.is_integer_dtype(s):
        return s.map(lambda v: not _missing(v) and len(str(int(v))) > _DBF_INTEGER_WIDTH).to_numpy(dtype=bool)
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return np.isinf(v) | (np.abs(v) >= 10.0 ** (DBF_NUMBER_WIDTH - 1))  # the integer digits and a sign


def _number_text(value: object) -> str:
    return str(int(value)) if isinstance(value, (int, np.integer)) else repr(float(value))


def _side_rows(g: pd.DataFrame, col: str, mask: np.ndarray, short: str, where: dict, key: str | None,
               value) -> list[dict]:
    """Rows of the ``<layer>_long_text.csv`` side file for the cells of ``col`` marked in ``mask``."""
    rows = []
    for i in np.flatnonzero(mask):
        fname, fid = where[int(i)]
        row = {key: g[key].iloc[i]} if key else {}
        row.update({"field": col, "shapefile_field": short, "file": fname, "fid": fid,
                    "full_text": value(g[col].iloc[i])})
        rows.append(row)
    return rows


def _key_column(frame: pd.DataFrame) -> str | None:
    for key in ("asset_id", "code"):
        if key in frame.columns:
            return key
    return None


def _build_shp(b: _Build, layers: dict[str, pd.DataFrame]) -> Path:
    out = b.work / "export.zip"
    parts = b.work / "parts"
    parts.mkdir()
    name_rows, written, long_rows_all = [], {}, {}
    all_names: dict[str, dict[str, str]] = {}
    for layer, frame in layers.items():
        stem = _file_stem(layer)
        g = _to(frame, MEASURE_CRS)
        attrs = [c for c in g.columns if c != "geometry"]
        names = shapefile_field_names(attrs)
        all_names[layer] = names
        if len(attrs) > DBF_MAX_FIELDS:
            b.warn(f"{layer} has {len(attrs)} fields; some dBase readers stop at {DBF_MAX_FIELDS}: "
                   f"use the GeoPackage export for this layer")
        name_rows += [{"layer": layer, "shapefile_field": names[c], "field": c} for c in attrs]
        written[layer] = g
        table = pd.DataFrame(g[attrs]).rename(columns=names)
        key = _key_column(g)
        # dBase text is at most 254 bytes: cut visibly and keep the full text in a sidecar.
        long_rows: list[dict] = []
        long_cells: dict[str, np.ndarray] = {}
        wide_cells: dict[str, np.ndarray] = {}  # numbers too wide for a dBase number field: moved, never cut
        for col in attrs:
            s = g[col]
            if value_kind(s) in ("real", "integer"):
                wide = _too_wide(s)
                if wide.any():
                    wide_cells[col] = wide
                    table[names[col]] = s.mask(wide)
                continue
            if value_kind(s) != "text":
                continue
            too_long = s.map(lambda v: isinstance(v, str) and len(v.encode("utf-8")) > DBF_TEXT_LIMIT).to_numpy(dtype=bool)
            if too_long.any():
                long_cells[col] = too_long
                table[names[col]] = s.map(lambda v: _cut_text(v) if isinstance(v, str) else v).astype("str")
        # Which file each row goes to.
        if isinstance(g, gpd.GeoDataFrame):
            triples = [_shp_geometry(geom) for geom in g.geometry]
        else:
            triples = [(None, None, False)] * len(g)
        group = np.array([t[0] or "" for t in triples], dtype=object)
        geoms = [t[1] for t in triples]
        lost = np.array([t[2] for t in triples], dtype=bool)
        kinds = [k for k in ("point", "multipoint", "line", "polygon") if (group == k).any()]
        files: dict[str, np.ndarray] = {}
        for k in kinds:
            fname = stem if len(kinds) == 1 else f"{stem}_{k}"
            rows = np.flatnonzero(group == k)
            part = gpd.GeoDataFrame(table.iloc[rows].reset_index(drop=True),
                                    geometry=gpd.GeoSeries([geoms[i] for i in rows], crs=MEASURE_CRS))
            _write(part, parts / f"{fname}.shp", driver="ESRI Shapefile", geometry_type=_SHP_TYPES[k],
                   layer_options={"ENCODING": "UTF-8", "RESIZE": "YES"})
            files[f"{fname}.shp"] = rows
            b.files.append(f"{fname}.shp (+ .shx .dbf .prj .cpg): {len(rows)} {layer} with {k} geometry")
        nogeo = np.flatnonzero(group == "")
        if len(nogeo) or not kinds:
            fname = f"{stem}_no_location" if kinds else stem
            _write(table.iloc[nogeo].reset_index(drop=True), parts / f"{fname}.dbf", driver="ESRI Shapefile",
                   layer_options={"ENCODING": "UTF-8", "RESIZE": "YES"})
            files[f"{fname}.dbf"] = nogeo
            what = "with no location (attribute table only: dBase .dbf + .cpg)" if isinstance(g, gpd.GeoDataFrame) else "(a table without geometry: dBase .dbf + .cpg)"
            b.files.append(f"{fname}.dbf: {len(nogeo)} {layer} {what}")
            if kinds and len(nogeo):
                b.notes.append(f"{layer}: {len(nogeo)} rows have no location; they are in {fname}.dbf, "
                               f"not in the shapefile(s), so that no row is lost")
        where = {}
        for fname, rows in files.items():
            for fid, i in enumerate(rows):
                where[int(i)] = (fname, fid)
        # Long texts and wide numbers, by file and feature id.
        for col, mask in long_cells.items():
            long_rows += _side_rows(g, col, mask, names[col], where, key, safe_cell)
        wide_rows = []
        for col, mask in wide_cells.items():
            wide_rows += _side_rows(g, col, mask, names[col], where, key, _number_text)
        side = f"{stem}_long_text.csv"
        if wide_rows:
            for col in wide_cells:
                ids = [str(r[key]) if key else f"{r['file']} fid {r['fid']}" for r in wide_rows if r["field"] == col]
                b.warn(f"{layer}: {len(ids)} values of {col} are too wide for a dBase number field "
                       f"({DBF_NUMBER_WIDTH} characters): left empty in the shapefile, the full values are in "
                       f"{side} ({key or 'rows'} {', '.join(ids[:10])}{' and more' if len(ids) > 10 else ''})")
        if long_rows or wide_rows:
            _write_text_csv(parts / side, pd.DataFrame(long_rows + wide_rows), bom=b.bom)
            b.files.append(f"{side}: full text of {len(long_rows)} values longer than 254 bytes and "
                           f"{len(wide_rows)} numbers too wide for dBase, keyed by {key or 'file and fid'}")
        if long_rows:
            cols = sorted({r["field"] for r in long_rows})
            b.warn(f"{layer}: {len(long_rows)} text values longer than dBase's 254 bytes (in {', '.join(cols)}) "
                   f"were cut with a trailing '{CUT_MARK}' in the shapefile; the full text is in {side}")
            long_rows_all[layer] = long_rows
        if lost.any():
            side = f"{stem}_geometry_parts.csv"
            rows = np.flatnonzero(lost)
            tab = pd.DataFrame({**({key: g[key].iloc[rows].to_numpy()} if key else {}),
                                "file": [where[int(i)][0] for i in rows], "fid": [where[int(i)][1] for i in rows],
                                "wkt_27700": g.geometry.iloc[rows].to_wkt().to_numpy()})
            _write_text_csv(parts / side, tab, bom=b.bom)
            b.files.append(f"{side}: full geometry (WKT, EPSG:27700) of {len(rows)} mixed geometry collections")
            b.warn(f"{layer}: {len(rows)} geometry collections mix points, lines and polygons, which a shapefile "
                   f"cannot hold; the highest-dimension parts are in the shapefile and the full geometry in {side}")
    _write_text_csv(parts / "field_names.csv", pd.DataFrame(name_rows, columns=["layer", "shapefile_field", "field"]),
                    bom=b.bom)
    b.files.append("field_names.csv: each 10-character shapefile field name and the full field name it stands for")
    renamed = sum(r["shapefile_field"] != r["field"] for r in name_rows)
    if renamed:
        b.notes.append(f"{renamed} field names were shortened to dBase's 10 characters: see field_names.csv "
                       f"and the shapefile_field column of data_dictionary.csv")
    dd = layer_dictionary(written, field_names=all_names, **b.columns_known())
    return _zip(b, out, parts, dd)


# ---- GeoJSON, CSV, KML

def _write_text_csv(path: Path, frame: pd.DataFrame, *, bom: bool = True) -> None:
    df = frame.copy()
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].map(safe_cell)
    df.to_csv(path, index=False, encoding="utf-8-sig" if bom else "utf-8", lineterminator="\r\n",
              quoting=csv.QUOTE_MINIMAL)


def _wgs84(frame: pd.DataFrame) -> pd.DataFrame:
    g = _to(frame, DISPLAY_CRS)
    if isinstance(g, gpd.GeoDataFrame):
        # Round to ~1 cm so that every format states the same coordinates.
        g = g.set_geometry(shapely.set_precision(g.geometry.values, 10 ** -WGS84_DECIMALS, mode="pointwise"))
    return g


def _build_geojson(b: _Build, layers: dict[str, pd.DataFrame]) -> Path:
    parts = b.work / "parts"
    parts.mkdir()
    written = {name: _wgs84(frame) for name, frame in layers.items()}
    dd = layer_dictionary(written, crs_note="WGS84 longitude/latitude (EPSG:4326), RFC 7946", **b.columns_known())
    files = []
    for name, g in written.items():
        fname = f"{_file_stem(name)}.geojson"
        meta = _metadata_for(name, dd, b.record)
        opts = {"RFC7946": "YES", "COORDINATE_PRECISION": str(WGS84_DECIMALS), "WRITE_NAME": "YES",
                "DESCRIPTION": LAYER_DESCRIPTIONS.get(name, f"Layer '{name}' exported by assets-map"),
                "NATIVE_DATA": json.dumps({"metadata": meta}, ensure_ascii=False, default=str),
                "NATIVE_MEDIA_TYPE": "application/vnd.geo+json"}
        extra = {} if isinstance(g, gpd.GeoDataFrame) else {"crs": DISPLAY_CRS}
        _write(g, parts / fname, driver="GeoJSON", layer=_file_stem(name), layer_options=opts, **extra)
        files.append(fname)
        b.files.append(f"{fname}: {len(g)} {name} (RFC 7946, WGS84; data dictionary and provenance in its "
                       f"'metadata' member)")
    if len(files) == 1:
        return parts / files[0]
    return _zip(b, b.work / "export.zip", parts, dd)


def _csv_frame(frame: pd.DataFrame, coordinates: str) -> pd.DataFrame:
    """The columns of a CSV export, still typed (dates as dates): attributes, then lon/lat and/or wkt."""
    if coordinates not in ("lonlat", "wkt", "both"):
        raise InputError(f"coordinates must be lonlat, wkt or both (got '{coordinates}')")
    g = _to(frame, MEASURE_CRS)
    if not isinstance(g, gpd.GeoDataFrame):
        return pd.DataFrame(g)
    df = pd.DataFrame(g.drop(columns="geometry"))

    def free(name: str) -> str:  # never overwrite a column the layer already has
        return name if name not in df.columns else f"{name}{EXPORT_SUFFIX}"

    if coordinates in ("lonlat", "both"):
        from assets_map.engine.geo import representative_points

        inside = representative_points(g.geometry)
        pts = inside.to_crs(DISPLAY_CRS)
        ok = ~(pts.isna() | pts.is_empty)
        lon, lat, east, north = free("lon"), free("lat"), free("easting"), free("northing")
        df[lon] = pts.x.where(ok).round(WGS84_DECIMALS)
        df[lat] = pts.y.where(ok).round(WGS84_DECIMALS)
        df[east] = inside.x.where(ok).round(2)  # centimetres in EPSG:27700
        df[north] = inside.y.where(ok).round(2)
        df.attrs["point_columns"] = (east, north)
    if coordinates in ("wkt", "both"):
        wkt = g.geometry.to_wkt(rounding_precision=3)  # millimetres in EPSG:27700
        df.attrs["wkt_column"] = free("wkt")
        df[df.attrs["wkt_column"]] = wkt.where(g.geometry.notna() & ~g.geometry.is_empty).astype("str")
    return df


def _csv_text(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if _is_date(out[col]):
            out[col] = _date_text(out[col])
    return out


_CSVT = {"text": "String", "integer": "Integer64", "real": "Real", "date": "Date", "datetime": "DateTime",
         "boolean": "String"}


def _csv_vrt(name: str, csv_name: str, df: pd.DataFrame) -> str | None:
    """A GDAL VRT that opens ``csv_name`` with its geometry and CRS (QGIS: Layer > Add Vector Layer)."""
    wkt = df.attrs.get("wkt_column")
    if wkt:
        geometry = f'<GeometryField encoding="WKT" field="{_x(wkt)}"/>'
    elif df.attrs.get("point_columns"):
        east, north = df.attrs["point_columns"]
        geometry = f'<GeometryField encoding="PointFromColumns" x="{_x(east)}" y="{_x(north)}"/>'
    else:
        return None
    return (f'<OGRVRTDataSource>\n  <OGRVRTLayer name="{_x(name)}">\n'
            f'    <SrcDataSource relativeToVRT="1">{_x(csv_name)}</SrcDataSource>\n'
            f"    <SrcLayer>{_x(Path(csv_name).stem)}</SrcLayer>\n"
            f"    <LayerSRS>{MEASURE_CRS}</LayerSRS>\n    {geometry}\n  </OGRVRTLayer>\n</OGRVRTDataSource>\n")


def _write_csv_layer(b: _Build, folder: Path, stem: str, name: str, df: pd.DataFrame) -> int:
    """``<stem>.csv`` with its ``.csvt`` (column types), ``.prj`` (the WKT's CRS) and ``.vrt``; cells made safe."""
    csvt = ["WKT" if c == df.attrs.get("wkt_column") else _CSVT.get(value_kind(df[c]), "String") for c in df.columns]
    text = _csv_text(df)
    n_safe = _formula_like(text)
    _write_text_csv(folder / f"{stem}.csv", text, bom=b.bom)
    (folder / f"{stem}.csvt").write_text(",".join(f'"{t}"' for t in csvt) + "\n", encoding="ascii")
    extra = f"{stem}.csvt: column types for GDAL/QGIS"
    if df.attrs.get("wkt_column") or df.attrs.get("point_columns"):
        from pyproj import CRS

        (folder / f"{stem}.prj").write_text(CRS(MEASURE_CRS).to_wkt("WKT1_ESRI"), encoding="ascii")
        (folder / f"{stem}.vrt").write_text(_csv_vrt(name, f"{stem}.csv", df), encoding="utf-8")
        extra += (f"; {stem}.prj: the CRS of the wkt (and easting/northing) columns, British National Grid "
                  f"(EPSG:27700), read by GDAL and QGIS with the CSV; {stem}.vrt: opens the CSV in QGIS or ogr2ogr "
                  f"with its geometry and CRS")
    b.files.append(f"{stem}.csv: {len(df)} {name} (UTF-8{' with BOM' if b.bom else ''}); {extra}")
    return n_safe


def _build_csv(b: _Build, layers: dict[str, pd.DataFrame], *, coordinates: str, bom: bool,
               stem: str | None = None) -> Path:
    """The CSV export: a zip of one CSV per layer with its sidecars, or (``stem`` given) the files themselves."""
    b.bom = bom
    parts = b.work / "parts"
    parts.mkdir()
    written, n_safe = {}, 0
    for name, frame in layers.items():
        df = _csv_frame(frame, coordinates)
        n_safe += _write_csv_layer(b, parts, stem or _file_stem(name), name, df)
        written[name] = df
    if n_safe:
        b.notes.append(f"{n_safe} text cells started with = + - @, tab or a line break (or a look-alike, perhaps "
                       f"after spaces) and were given a leading apostrophe so that spreadsheets show them as text "
                       f"instead of running them")
    dd = layer_dictionary(written, **b.columns_known())
    if stem is not None:
        _metadata_files(b, parts, dd, prefix=f"{stem}_")
        return parts
    return _zip(b, b.work / "export.zip", parts, dd)


def _formula_like(df: pd.DataFrame) -> int:
    """How many text cells :func:`safe_cell` changes."""
    n = 0
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            n += sum(1 for v in df[col] if isinstance(v, str) and safe_cell(v) != v)
    return n


def _html_table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table border=\"1\"><tr>{head}</tr>{body}</table>"


#: Field names the LIBKML driver reads and writes as KML elements (case-insensitive), not as data.
_KML_RESERVED = {"timestamp", "begin", "end", "altitudemode", "tessellate", "extrude", "visibility", "draworder",
                 "icon", "heading", "tilt", "roll", "model", "networklink", "photooverlay", "near", "shape",
                 "leftfov", "rightfov", "bottomfov", "topfov"}
_KML_RESERVED_PREFIX = ("camera_", "networklink_", "photooverlay_", "imagepyramid_", "scale_", "model_")


def kml_field_names(columns) -> dict[str, str]:
    """Columns renamed for KML: those that LIBKML would take as KML elements get an ``attr_`` prefix."""
    out = {}
    for col in columns:
        low = str(col).lower()
        if low in _KML_RESERVED or low.startswith(_KML_RESERVED_PREFIX):
            out[col] = f"attr_{col}"
    return out


#: Balloon labels of a site placemark, in order (column, label).
_SITE_FACTS = (("organisation", "Organisation"), ("status", "Status"), ("use", "Use"), ("tenure", "Tenure"),
               ("holding_type", "Land or building"), ("floor_area_m2", "Floor area (m²)"),
               ("site_area_ha", "Site area (ha)"), ("need_area_name", "Need area"), ("need_decile", "Need decile"),
               ("address", "Address"), ("asset_id", "Asset id"))
#: Balloon labels of a need-area placemark.
_AREA_FACTS = (("code", "Area code"), ("need_decile", "Need decile (1 = most deprived 10%)"),
               ("imd_decile", "IMD decile"), ("imd_rank", "IMD rank"), ("need_score", "Need score"),
               ("iod_year", "IoD edition"))
#: KML SimpleField type of each dictionary type word.
_KML_TYPES = {"text": "string", "integer": "int", "real": "double", "date": "string", "datetime": "string",
              "boolean": "bool"}
#: Characters XML 1.0 cannot hold at all (written as U+FFFD, with a note).
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_PRIORITY_STYLES = (("High", 1.3), ("Medium", 1.1), ("Low", 0.9), ("not flagged", 0.6))


def _x(value: object) -> str:
    """``value`` as XML text, escaped exactly once (a CR kept as a character reference)."""
    text = _XML_BAD.sub("\ufffd", str(value))
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\r", "&#13;"))


def _kml_colour(hex_rgb: str, alpha: int) -> str:
    """``#rrggbb`` as KML's ``aabbggrr``."""
    r, g, b = hex_rgb[1:3], hex_rgb[3:5], hex_rgb[5:7]
    return f"{alpha:02x}{b}{g}{r}"


def _kml_styles() -> tuple[str, dict[str, str]]:
    """Shared styles: need areas shaded by decile, sites coloured by priority; (XML, legend colours)."""
    from assets_map.maps.draw import DECILE_COLOURS, NO_DATA_COLOUR, PRIORITY_COLOURS

    balloon = "<BalloonStyle><text>$[description]</text></BalloonStyle>"
    out, legend = [], {}
    for d, colour in enumerate([*DECILE_COLOURS, NO_DATA_COLOUR], start=1):
        sid = f"need_decile_{d}" if d <= 10 else "need_decile_none"
        out.append(f'<Style id="{sid}"><LineStyle><color>ff808080</color><width>0.6</width></LineStyle>'
                   f"<PolyStyle><color>{_kml_colour(colour, 0xb3)}</color></PolyStyle>{balloon}</Style>")
        legend[sid] = colour
    for priority, scale in _PRIORITY_STYLES:
        colour = PRIORITY_COLOURS[priority]
        sid = "site_" + priority.replace(" ", "_").lower()
        out.append(f'<Style id="{sid}"><IconStyle><color>{_kml_colour(colour, 0xff)}</color><scale>{scale}</scale>'
                   f"</IconStyle><LabelStyle><scale>{0.0 if priority == 'not flagged' else 0.8}</scale></LabelStyle>"
                   f"<LineStyle><color>{_kml_colour(colour, 0xff)}</color><width>2</width></LineStyle>"
                   f"<PolyStyle><color>{_kml_colour(colour, 0x99)}</color></PolyStyle>{balloon}</Style>")
        legend[sid] = colour
    out.append(f'<Style id="feature"><LineStyle><color>ff3c3c3c</color></LineStyle>'
               f"<PolyStyle><color>66a0a0a0</color></PolyStyle>{balloon}</Style>")
    return "".join(out), legend


def _kml_role(frame: pd.DataFrame) -> str:
    """How a layer is styled: ``sites`` (by priority), ``areas`` (by need decile) or ``other``."""
    if "priority" in frame.columns:
        return "sites"
    if "need_decile" in frame.columns and "asset_id" not in frame.columns:
        return "areas"
    return "other"


def _kml_number(v: float) -> str:
    return ("%.7f" % v).rstrip("0").rstrip(".")


def _kml_coords(coords) -> str:
    return " ".join(f"{_kml_number(x)},{_kml_number(y)}" for x, y, *_ in coords)


def _kml_geometry(geom) -> str:
    """KML geometry of a shapely geometry (empty text for none); polygons counter-clockwise outside."""
    if geom is None or geom.is_empty:
        return ""
    kind = geom.geom_type
    if kind == "Point":
        return f"<Point><coordinates>{_kml_coords(geom.coords)}</coordinates></Point>"
    if kind in ("LineString", "LinearRing"):
        return f"<LineString><tessellate>1</tessellate><coordinates>{_kml_coords(geom.coords)}</coordinates></LineString>"
    if kind == "Polygon":
        geom = shapely.geometry.polygon.orient(geom, 1.0)
        inner = "".join(f"<innerBoundaryIs><LinearRing><coordinates>{_kml_coords(r.coords)}</coordinates>"
                        f"</LinearRing></innerBoundaryIs>" for r in geom.interiors)
        return (f"<Polygon><tessellate>1</tessellate><outerBoundaryIs><LinearRing><coordinates>"
                f"{_kml_coords(geom.exterior.coords)}</coordinates></LinearRing></outerBoundaryIs>{inner}</Polygon>")
    return "<MultiGeometry>" + "".join(_kml_geometry(p) for p in geom.geoms) + "</MultiGeometry>"


def _kml_value(v: object, kind: str) -> str | None:
    """A value as KML data text, or None when missing; booleans 1/0 (read alike by GDAL 3.6 and Google Earth)."""
    if _missing(v):
        return None
    if kind == "boolean":
        return "1" if bool(v) else "0"
    if kind == "real":
        return repr(float(v))
    if kind == "integer":
        return str(int(v))
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return str(v)


def _balloon(role: str, row: Mapping[str, object], title: str | None) -> str:
    """The balloon of one placemark as HTML, every value HTML-escaped once."""
    def facts(pairs) -> str:
        cells = [f"<tr><th align=\"left\">{esc(label)}</th><td>{esc(_kml_value(row[c], 'text'))}</td></tr>"
                 for c, label in pairs if c in row and not _missing(row[c]) and str(row[c]) != ""]
        return "<table>" + "".join(cells) + "</table>" if cells else ""

    head = f"<h3>{esc(title)}</h3>" if title else ""
    if role == "sites":
        priority = row.get("priority")
        body = f"<p><b>Priority</b>: {esc(priority if not _missing(priority) else 'not assessed')}</p>"
        reasons = row.get("reasons")
        if isinstance(reasons, str) and reasons:
            body += "<p><b>Why</b>:</p><ul>" + "".join(f"<li>{esc(r)}</li>" for r in reasons.split("; ") if r) + "</ul>"
        return head + body + facts(_SITE_FACTS)
    if role == "areas":
        return head + facts(_AREA_FACTS)
    pairs = [(c, c) for c in list(row)[:12]]
    return head + facts(pairs)


def _legend(role: str, colours: dict[str, str], frame: pd.DataFrame) -> str:
    """A legend for a folder's description (HTML)."""
    def swatch(colour: str) -> str:
        return f'<td style="background:{colour};width:18px;border:1px solid #999">&#160;</td>'

    if role == "areas":
        rows = [(f"need_decile_{d}", f"need decile {d}" + (" (most deprived 10%)" if d == 1 else
                                                               " (least deprived 10%)" if d == 10 else ""))
                for d in range(1, 11)] + [("need_decile_none", "no deprivation data")]
    elif role == "sites":
        rows = [("site_" + p.replace(" ", "_").lower(), p) for p, _ in _PRIORITY_STYLES]
    else:
        return ""
    cells = "".join(f"<tr>{swatch(colours[sid])}<td>{esc(label)}</td></tr>" for sid, label in rows)
    return f"<p><b>Legend</b></p><table>{cells}</table>"


def _kml_style_of(role: str, row: Mapping[str, object]) -> str:
    if role == "areas":
        d = row.get("need_decile")
        return f"need_decile_{int(d)}" if not _missing(d) and 1 <= int(d) <= 10 else "need_decile_none"
    if role == "sites":
        p = row.get("priority")
        return {"High": "site_high", "Medium": "site_medium", "Low": "site_low"}.get(p, "site_not_flagged")
    return "feature"


def _kml_folder(name: str, g: pd.DataFrame, role: str, kinds: dict[str, str], about: str) -> Iterator[str]:
    """The XML of one layer's folder, placemark by placemark."""
    stem = re.sub(r"[^A-Za-z0-9_]", "_", _file_stem(name))
    yield f"<Folder id=\"folder_{stem}\"><name>{_x(name)}</name><open>{int(role != 'other')}</open>"
    yield f"<description>{_x(about)}</description>"
    geoms = g.geometry if isinstance(g, gpd.GeoDataFrame) else [None] * len(g)
    data_cols = [c for c in g.columns if c not in ("geometry", "name", "description")]
    title_col = "name" if "name" in g.columns else "code" if "code" in g.columns else None
    records = pd.DataFrame(g.drop(columns="geometry") if "geometry" in g.columns else g).astype(object)
    for i, (row, geom) in enumerate(zip(records.to_dict(orient="records"), geoms, strict=True)):
        title = row.get(title_col) if title_col else None
        title = None if _missing(title) else str(title)
        own = row.get("description")
        balloon = esc(own) if isinstance(own, str) and own else _balloon(role, row, title)
        parts = [f'<Placemark id="{stem}.{i + 1}">']
        if title is not None:
            parts.append(f"<name>{_x(title)}</name>")
        parts.append(f"<description>{_x(balloon)}</description><styleUrl>#{_kml_style_of(role, row)}</styleUrl>")
        data = [(c, _kml_value(row[c], kinds[c])) for c in data_cols]
        parts.append(f'<ExtendedData><SchemaData schemaUrl="#schema_{stem}">'
                     + "".join(f'<SimpleData name="{_x(c)}">{_x(v)}</SimpleData>' for c, v in data if v is not None)
                     + "</SchemaData></ExtendedData>")
        parts.append(_kml_geometry(geom))
        parts.append("</Placemark>")
        yield "".join(parts)
    yield "</Folder>"


def _kml_types(g: pd.DataFrame) -> dict[str, str]:
    """Dictionary type word of each column; integers beyond 32 bits are text (KML has no 64-bit integer)."""
    out = {}
    for c in g.columns:
        kind = value_kind(g[c])
        if kind == "integer":
            vals = g[c].dropna()
            if not vals.empty and not (vals.abs() < 2 ** 31).all():
                kind = "text"
        out[c] = kind
    return out


def _build_kml(b: _Build, layers: dict[str, pd.DataFrame]) -> Path:
    """One KML 2.2 document: styles, a schema and a folder per spatial layer; tables are left out (noted)."""
    out = b.work / "export.kml"
    spatial = {n: f for n, f in layers.items() if isinstance(_as_geo(f), gpd.GeoDataFrame)}
    tables = [n for n in layers if n not in spatial]
    if not spatial:
        raise InputError(f"KML holds only layers with locations; {', '.join(tables)} "
                         f"{'is a table' if len(tables) == 1 else 'are tables'}: choose another format")
    written = {}
    for name, frame in spatial.items():
        g = _wgs84(frame)
        renames = kml_field_names(g.columns)
        if renames:
            g = g.rename(columns=renames)
            b.renamed.setdefault(name, {}).update({new: old for old, new in renames.items()})
            b.notes.append(f"{name}: {', '.join(renames)} written as {', '.join(renames.values())} "
                           f"(KML uses those names for its own elements)")
        if "description" not in g.columns:
            g["description"] = pd.Series(None, index=g.index, dtype="str")  # built per placemark below
        written[name] = g
    if tables:
        b.notes.append(f"{', '.join(tables)} left out of the KML: {'it is a table' if len(tables) == 1 else 'they are tables'} "
                       f"without locations (every other format holds {'it' if len(tables) == 1 else 'them'})")
    dd = layer_dictionary(written, crs_note="WGS84 longitude/latitude (EPSG:4326)", **b.columns_known())
    styles, colours = _kml_styles()
    about = ("<p>" + esc("Exported by assets-map. Need areas are shaded by need decile, sites coloured by "
                          "priority; click a placemark for its reasons. Each folder's description holds its "
                          "legend and data dictionary.") + "</p>"
             + "".join(f"<p>{esc(n)}</p>" for n in b.notes) + "<pre>" + esc(provenance_text(b.record)) + "</pre>")
    bad = 0
    with open(out, "w", encoding="utf-8", newline="\n") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">\n'
                 f"<Document id=\"assets_map_export\"><name>assets-map export</name><open>1</open>"
                 f"<description>{_x(about)}</description>\n{styles}\n")
        kinds_of = {n: _kml_types(g) for n, g in written.items()}
        for name in written:
            stem = re.sub(r"[^A-Za-z0-9_]", "_", _file_stem(name))
            fields = "".join(f'<SimpleField type="{_KML_TYPES[k]}" name="{_x(c)}"></SimpleField>'
                             for c, k in kinds_of[name].items() if c not in ("geometry", "name", "description"))
            fh.write(f'<Schema name="{_x(name)}" id="schema_{stem}">{fields}</Schema>\n')
        for name, g in written.items():
            role = _kml_role(g)
            rows = dd[dd["layer"] == name]
            no_place = int((g.geometry.isna() | g.geometry.is_empty).sum())
            folder = ("<p>" + esc(LAYER_DESCRIPTIONS.get(name, name)) + "</p>" + _legend(role, colours, g)
                      + (f"<p>{no_place} rows have no location: they are listed without a place.</p>" if no_place else "")
                      + _html_table(list(rows[["field", "meaning", "unit", "source", "type"]]
                                         .itertuples(index=False, name=None)),
                                    ("field", "meaning", "unit", "source", "type")))
            bad += sum(int(g[c].str.count(_XML_BAD.pattern).sum()) for c, k in kinds_of[name].items()
                       if k == "text" and c != "geometry")
            for piece in _kml_folder(name, g, role, kinds_of[name], folder):
                fh.write(piece + "\n")
            b.files.append(f"folder {name}: {len(g)} placemarks")
        fh.write("</Document>\n</kml>\n")
    if bad:
        b.warn(f"{bad} control characters that XML cannot hold were written as '\ufffd' in the KML")
    return out


# ---- Excel

def _build_xlsx(b: _Build, layers: dict[str, pd.DataFrame]) -> Path:
    """One workbook: a typed sheet per layer (with lon/lat and easting/northing), the dictionary, the provenance."""
    from assets_map.io.provenance import JSON_KEY
    from assets_map.io.xlsx import write_workbook

    out = b.work / "export.xlsx"
    sheets = {name: _csv_frame(frame, "lonlat") for name, frame in layers.items()}
    dd = layer_dictionary(sheets, **b.columns_known())
    # the field's column in its sheet; a number in the second row also lets GDAL (QGIS) see the header row
    dd.insert(2, "column", dd.groupby("layer", sort=False).cumcount() + 1)
    for name, frame in sheets.items():
        b.files.append(f"sheet {name}: {len(frame)} rows")
    prov = provenance_table(b.record)
    notes = write_workbook(out, sheets, dictionary=dd, provenance=prov[prov["key"] != JSON_KEY], safe=safe_cell)
    for n in notes:
        if "apostrophe" in n:
            b.notes.append(n)
        else:  # text changed: say so loudly
            b.warn(n)
    return out


# ---- zips

def _metadata_files(b: _Build, parts: Path, dictionary: pd.DataFrame, *, prefix: str = "") -> None:
    """The data dictionary, provenance and README beside the data files."""
    if b.notes:
        b.record["export"]["notes"] = list(b.notes)
    _write_text_csv(parts / f"{prefix}data_dictionary.csv", dictionary, bom=b.bom)
    (parts / f"{prefix}provenance.json").write_text(json.dumps(b.record, indent=2, ensure_ascii=False, default=str)
                                                    + "\n", encoding="utf-8")
    b.files += [f"{prefix}data_dictionary.csv: meaning, unit, source and type of every field of every layer",
                f"{prefix}provenance.json: where this export came from (input files and SHA-256 hashes, IoD edition, "
                f"weights, filters, date, software)", f"{prefix}README.txt: this note"]
    (parts / f"{prefix}README.txt").write_text(_readme(b), encoding="utf-8")


def _zip(b: _Build, out: Path, parts: Path, dictionary: pd.DataFrame) -> Path:
    _metadata_files(b, parts, dictionary)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(parts.iterdir(), key=lambda p: (p.name != "README.txt", p.name)):
            zf.write(p, arcname=p.name)
    return out


def _readme(b: _Build) -> str:
    lines = [f"assets-map export ({b.fmt})", "", "Files:"] + [f"  {f}" for f in b.files]
    if b.notes:
        lines += ["", "Notes and warnings:"] + [f"  - {n}" for n in b.notes]
    crs = "British National Grid (EPSG:27700)" if b.fmt in ("shp", "gpkg") else \
        "WGS84 (EPSG:4326)" if b.fmt in ("geojson", "kml") else "lon/lat in WGS84 (EPSG:4326); wkt in EPSG:27700"
    lines += ["", f"Coordinates: {crs}.", "", provenance_text(b.record)]
    return "\r\n".join(lines) + "\r\n"


def _build(layers: Mapping[str, pd.DataFrame], fmt: str, work: Path, *, provenance: dict | None,
           coordinates: str = "both", bom: bool = True, csv_stem: str | None = None,
           step: str = "export") -> tuple[Path, list[str]]:
    """Build the export in ``work``; return the finished file (a folder of files for a bare CSV) and the notes."""
    fmt, layers = _check(layers, fmt)
    record = with_export(provenance, fmt=fmt, layers={k: int(len(v)) for k, v in layers.items()}, step=step)
    b = _Build(fmt, work, record)
    layers = _distinct_columns(b, layers)
    if fmt == "shp":
        path = _build_shp(b, layers)
    elif fmt == "gpkg":
        path = _build_gpkg(b, layers)
    elif fmt == "geojson":
        path = _build_geojson(b, layers)
    elif fmt == "csv":
        path = _build_csv(b, layers, coordinates=coordinates, bom=bom, stem=csv_stem)
    elif fmt == "xlsx":
        path = _build_xlsx(b, layers)
    else:
        path = _build_kml(b, layers)
    return path, b.notes


# --------------------------------------------------------------------------- public entry points

def export_file(layers: Mapping[str, pd.DataFrame], fmt: str | None, path: str | os.PathLike, *,
                provenance: dict | None = None, coordinates: str = "both", bom: bool = True,
                step: str = "export") -> Path:
    """Write an export to ``path``, atomically.

    Parameters
    ----------
    layers : mapping of layer name -> GeoDataFrame (or DataFrame for a table such as ``summary``)
    fmt : {"gpkg", "shp", "geojson", "csv", "kml", "xlsx"}, or None to take it from the name (:func:`format_for`)
    path : the target; its suffix must match what ``fmt`` produces (``.gpkg``; ``.zip`` for shp and
        csv, and for geojson of several layers; ``.csv`` for one csv layer; ``.geojson``/``.json`` for one
        geojson layer; ``.kml``; ``.xlsx``)
    provenance : a record from :func:`assets_map.io.provenance.provenance`; an ``export`` section is added
    coordinates : CSV only: ``"lonlat"``, ``"wkt"`` or ``"both"``
    bom : CSV only: start the CSV with a UTF-8 byte-order mark (for Excel)
    step : what wrote the file, for its provenance (``analyse``, ``export``, ``download``)

    Returns
    -------
    Path of the export.  Nothing is written at ``path`` unless the whole export
    succeeds; an earlier file there survives any failure.
    """
    path = Path(path)
    f, checked = _check(layers, format_for(path, fmt))
    want = _expected_suffixes(f, len(checked))
    if f == "csv" and path.suffix.lower() == ".csv" and len(checked) > 1:
        raise InputError(f"a .csv holds one layer and {len(checked)} were given ({', '.join(checked)}): choose one "
                         f"(--layer), or write them all to a .zip (got {path.name})")
    if path.suffix.lower() not in want:
        what = {"shp": "a zipped Shapefile", "csv": "a .csv (one layer) or a .zip (CSV, column types, data "
                                                    "dictionary, provenance)",
                "geojson": "GeoJSON" if len(checked) == 1 else "a zip of GeoJSON files (one per layer)",
                "gpkg": "a GeoPackage", "kml": "a KML file", "xlsx": "an Excel workbook"}[f]
        raise InputError(f"a {f} export is {what}: the output name must end in {' or '.join(want)} (got {path.name})")
    if f == "csv" and path.suffix.lower() == ".csv":
        return _place_files(checked, path, provenance=provenance, coordinates=coordinates, bom=bom, step=step)
    with atomic_path(path) as tmp:
        work = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", suffix=".parts", dir=path.parent))
        try:
            built, _ = _build(checked, f, work, provenance=provenance, coordinates=coordinates, bom=bom, step=step)
            os.replace(built, tmp)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return path


def _place_files(layers: dict[str, pd.DataFrame], path: Path, *, provenance: dict | None, coordinates: str,
                 bom: bool, step: str) -> Path:
    """A bare CSV and its sidecars (types, CRS, VRT, dictionary, provenance) beside it, each renamed into place.

    Everything is built first; the CSV itself is renamed last, so a failure leaves
    an earlier CSV of the same name as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", suffix=".parts", dir=path.parent))
    try:
        built, _ = _build(layers, "csv", work, provenance=provenance, coordinates=coordinates, bom=bom,
                          csv_stem=path.stem, step=step)
        files = sorted(built.iterdir(), key=lambda p: p.name == f"{path.stem}.csv")
        for p in files:
            target = path.parent / p.name
            with atomic_path(target) as tmp:
                os.replace(p, tmp)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path


def export_bytes(layers: Mapping[str, pd.DataFrame], fmt: str, *, name: str = "assets-map",
                 provenance: dict | None = None, coordinates: str = "both", bom: bool = True,
                 step: str = "export") -> tuple[str, bytes]:
    """Build an export in memory for a download: returns ``(file name, content)``.

    The same build as :func:`export_file`.  ``shp`` and ``csv`` give a zip;
    ``geojson`` gives one ``.geojson`` for one layer and a zip for several; ``kml``
    gives one ``.kml`` with a folder per layer; ``gpkg`` one GeoPackage.
    """
    f, checked = _check(layers, fmt)
    with tempfile.TemporaryDirectory(prefix="assets-map-export-") as work:
        built, _ = _build(checked, f, Path(work), provenance=provenance, coordinates=coordinates, bom=bom,
                          step=step)
        return container_name(f, checked, name), built.read_bytes()


#: Data layers a result GeoPackage may hold, in export order.
RESULT_LAYERS = ("assets", "candidates", "needs", "summary", "constraints")


def _types(arrow_type: pa.DataType):
    """Arrow -> pandas types that keep nullable integers, booleans and dates as they were written."""
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    if pa.types.is_date(arrow_type):
        return pd.ArrowDtype(pa.date32())
    return None


def read_result(path: str | os.PathLike, layers: list[str] | tuple[str, ...] | None = None
                ) -> tuple[dict[str, pd.DataFrame], dict]:
    """Read a result GeoPackage (as written by ``assets-map analyse``) for re-export.

    Parameters
    ----------
    path : the result ``.gpkg``
    layers : names to read (default: every one of assets, candidates, needs and
        summary present; a missing summary is rebuilt from assets)

    Returns
    -------
    (layers, provenance record); the record is empty when the file has no ``provenance`` table.
    """
    path = Path(path)
    name = path.name
    if path.suffix.lower() == ".parquet" and path.is_dir():  # a GeoParquet result folder
        from assets_map.io.geoparquet import read_result as read_parquet_result

        return read_parquet_result(path, layers)
    if not path.is_file():
        raise InputError("no such file", source=name)
    with open(path, "rb") as fh:
        if path.suffix.lower() != ".gpkg" or fh.read(16) != b"SQLite format 3\x00":
            raise InputError("not a GeoPackage: give the .gpkg written by `assets-map analyse`", source=name)
    present = [str(n) for n, _ in pyogrio.list_layers(path)]
    wanted = list(layers) if layers else [n for n in RESULT_LAYERS
                                          if n in present or (n == "summary" and "assets" in present)]
    missing = [n for n in wanted if n not in present and not (n == "summary" and "assets" in present)]
    if missing or not wanted:
        have = ", ".join(n for n in present if n not in METADATA_TABLES) or "none"
        raise InputError(f"layer(s) {', '.join(missing) or ', '.join(RESULT_LAYERS)} not found (layers here: {have})",
                         source=name)
    out: dict[str, pd.DataFrame] = {}
    for n in wanted:
        if n in present:
            out[n] = pyogrio.read_dataframe(path, layer=n, use_arrow=True,
                                            arrow_to_pandas_kwargs={"types_mapper": _types})
    if "summary" in wanted and "summary" not in out:
        assets = out.get("assets")
        if assets is None:
            assets = pyogrio.read_dataframe(path, layer="assets", use_arrow=True,
                                            arrow_to_pandas_kwargs={"types_mapper": _types})
        out["summary"] = summary_layer(assets)
        out = {n: out[n] for n in wanted}
    record: dict = {}
    if "provenance" in present:
        from assets_map.io.provenance import from_table

        record = from_table(pyogrio.read_dataframe(path, layer="provenance", use_arrow=True))
    return out, record


# --------------------------------------------------------------------------- older helpers (analyse CLI)

def write_gpkg(layers: dict[str, gpd.GeoDataFrame], path: str | os.PathLike, *,
               dictionary: bool = True, provenance: dict | None = None, step: str = "export") -> Path:
    """Write several layers into one GeoPackage (EPSG:27700), atomically.

    With ``dictionary`` (the default) this is the ``gpkg`` export, with its
    ``data_dictionary`` and ``provenance`` tables; without, only the layers (for
    working files that are not handed to anyone).
    """
    if dictionary:
        return export_file(layers, "gpkg", path, provenance=provenance, step=step)
    path = Path(path)
    f, checked = _check(layers, "gpkg")
    with atomic_path(path) as tmp:
        work = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", suffix=".parts", dir=path.parent))
        try:
            b = _Build(f, work, {})
            os.replace(_build_gpkg(b, _distinct_columns(b, checked), metadata=False), tmp)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return path


def write_csv(gdf: gpd.GeoDataFrame, path: str | os.PathLike, *, coordinates: str = "lonlat",
              bom: bool = True) -> Path:
    """Write one layer as a bare CSV (UTF-8 with a byte-order mark, for Excel), with coordinates.

    ``lon``/``lat`` and ``easting``/``northing`` of a point inside each geometry, or WKT.  Formula-like text cells are made safe.  Unlike the ``csv`` export this is a
    single file, without the data dictionary.
    """
    path = Path(path)
    df = _csv_text(_csv_frame(gdf, coordinates))
    with atomic_path(path) as tmp:
        _write_text_csv(tmp, df, bom=bom)
    return path
