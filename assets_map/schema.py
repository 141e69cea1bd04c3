"""The canonical schema: asset and need-area fields, with a data dictionary.

Every reader normalises to these columns; the CLI, the exports and the app all
describe columns from :data:`DATA_DICTIONARY`.  Source columns are kept beside
the canonical ones with a ``src_`` prefix, so nothing a user imported is lost.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: CRS used for storing and measuring (British National Grid).
MEASURE_CRS = "EPSG:27700"
#: CRS used for display and for GeoJSON/KML exports.
DISPLAY_CRS = "EPSG:4326"

#: Prefix for columns carried through unchanged from the source file.
SOURCE_PREFIX = "src_"


@dataclass(frozen=True)
class Field:
    """One column of the canonical schema."""

    name: str
    meaning: str
    unit: str
    source: str
    kind: str = "text"  # text | int | float | date | geometry


ASSET_FIELDS: tuple[Field, ...] = (
    Field("asset_id", "Identifier of the asset, unique within the import (the owner's asset code where given)", "", "register (AssetCode) or generated"),
    Field("organisation", "The anchor institution that holds the asset", "", "register"),
    Field("anchor_type", "Kind of anchor institution: council, nhs, university, college, housing_association, police, fire, other", "", "register or inferred from the organisation name"),
    Field("name", "Common name of the asset", "", "register"),
    Field("address", "Postal address as given", "", "register"),
    Field("postcode", "Postcode as given (normalised spacing and case)", "", "register"),
    Field("uprn", "Unique Property Reference Number, kept as text with any leading zeros", "", "register"),
    Field("tenure", "freehold, leasehold or unknown", "", "register (TenureType)"),
    Field("holding_type", "land, building or both", "", "register (HoldingType)"),
    Field("use", "Current or last use as described by the owner", "", "register"),
    Field("status", "occupied, vacant, surplus, part-vacant, leased-out, sold, not-available (for transfer) or unknown", "", "register (TenureDetail) or owner edits"),
    Field("floor_area_m2", "Gross internal floor area", "m2", "register (BuildingSize) or NHS ERIC", "float"),
    Field("site_area_ha", "Site area", "ha", "register (LandArea), or measured from a polygon in EPSG:27700", "float"),
    Field("empty_floor_pct", "Share of floor area reported empty", "%", "NHS ERIC", "float"),
    Field("underused_floor_pct", "Share of floor area reported under-used", "%", "NHS ERIC", "float"),
    Field("vacant_since", "Date from which the asset has been vacant", "date", "register or owner edits", "date"),
    Field("condition", "Condition or energy rating as given", "", "register"),
    Field("location_quality", "How the asset was placed: surveyed, register coordinates, matched location (an NHS ERIC site matched by code or name to a locations file), full postcode, postcode district or none", "", "assets-map"),
    Field("location_note", "What was done to place the asset (e.g. swapped coordinates fixed) or why it could not be placed", "", "assets-map"),
    Field("location_check", "\"check location: <km> km outside <area>\" when the site lies more than 2 km outside its publisher's area (the local authority its organisation names, else the register's own cluster); such a site is never flagged High", "", "assets-map"),
    Field("source", "File the record came from", "", "assets-map"),
    Field("source_date", "Date the source says the record was true", "date", "register (EffectiveDate)", "date"),
    Field("source_row", "Row (or feature) number in the source file, counting data rows from 1", "", "assets-map", "int"),
    Field("visibility", "public or internal", "", "default public for published registers"),
    Field("need_area_code", "Code of the need area (LSOA) that contains the asset", "", "boundaries"),
    Field("need_area_name", "Name of that need area", "", "boundaries"),
    Field("imd_decile", "Index of Multiple Deprivation decile of that area (1 = most deprived 10% in England)", "decile", "English Indices of Deprivation"),
    Field("iod_year", "Edition of the English Indices of Deprivation used", "year", "deprivation file", "int"),
    Field("need_score", "Composite need: weighted mean of the chosen domains' national deprivation percentiles (100 = most deprived)", "0-100", "assets-map from IoD ranks", "float"),
    Field("need_decile", "Decile of the composite need (equals the IMD decile with default weights)", "decile", "assets-map", "int"),
    Field("excluded", "True when the asset is never flagged: parks, gardens, open space, playing fields, recreation grounds, cemeteries, crematoria, churchyards, memorials, allotments, nature reserves, highway land and verges, land in community use, or land inside an exclusion layer (exclusion_reason names the category and where it was read)", "", "assets-map", "bool"),
    Field("exclusion_reason", "Why the asset is excluded", "", "assets-map"),
    Field("underuse_score", "Underuse evidence: sum of capped signals, 0 to 1", "0-1", "assets-map", "float"),
    Field("underuse_confidence", "Confidence in the underuse evidence: low, medium or high (only a human check is certain)", "", "assets-map"),
    Field("transfer_score", "Transferability hint from tenure and holding, 0 to 1", "0-1", "assets-map", "float"),
    Field("priority", "High, Medium, Low or not flagged", "", "assets-map"),
    Field("reasons", "Plain-words reasons for the priority, each naming its evidence, source and date", "", "assets-map"),
    Field("constraints", "Planning and legal constraints: inside, checked clear or not checked", "", "assets-map"),
    Field("geometry", "Point or polygon, stored in EPSG:27700", "", "register, postcode directory or user"),
)

#: The ``constraints`` layer of a result: one row per site and constraint kind (see assets_map.engine.constraints).
CONSTRAINT_FIELDS: tuple[Field, ...] = (
    Field("asset_id", "The site's identifier (as in the assets layer)", "", "register"),
    Field("kind", "The kind of planning constraint, in words", "", "assets-map"),
    Field("dataset", "The kind's dataset name on planning.data.gov.uk", "", "assets-map"),
    Field("answer", "inside (the site or its parcel intersects a feature), near (within the distance stated), clear "
                    "(the layer covers the site's area and nothing is within that distance) or not checked (no layer "
                    "of this kind, the layer does not cover the site's area, or the site has no location)",
          "", "assets-map"),
    Field("feature", "The feature inside or near: name (reference, grade); 'and N more' when several", "",
          "the constraint layer"),
    Field("distance_m", "Distance to the feature: 0 inside, metres when near, empty otherwise", "m",
          "assets-map", "float"),
    Field("parcel_share", "Inside, for a site tested as its registered freehold parcel's outline: the share of the "
                          "parcel's area inside the kind's features (0-1; approximate: an index polygon, not a title "
                          "plan); empty otherwise", "share", "assets-map", "float"),
    Field("source", "The constraint layer's file", "", "the constraint layer"),
    Field("source_date", "The layer's newest entry date, where it states one", "date", "the constraint layer"),
    Field("note", "Why not checked, or what the constraint means for a community use", "", "assets-map"),
)

NEED_FIELDS: tuple[Field, ...] = (
    Field("code", "LSOA code", "", "boundaries"),
    Field("name", "LSOA name", "", "boundaries"),
    Field("iod_year", "Edition of the English Indices of Deprivation", "year", "deprivation file", "int"),
    Field("lsoa_vintage", "LSOA edition of the codes: 2011 or 2021", "year", "inferred from the IoD edition", "int"),
    Field("imd_score", "Index of Multiple Deprivation score", "score", "English Indices of Deprivation", "float"),
    Field("imd_rank", "IMD rank (1 = most deprived in England)", "rank", "English Indices of Deprivation", "float"),
    Field("imd_decile", "IMD decile (1 = most deprived 10% in England)", "decile", "English Indices of Deprivation", "float"),
    Field("<domain>_score / _rank / _decile", "Score, rank and decile of each domain: income, employment, education, health, crime, housing, environment (and idaci, idaopi where given)", "", "English Indices of Deprivation"),
    Field("need_score", "Composite need: weighted mean of the domains' national deprivation percentiles (100 = most deprived)", "0-100", "assets-map", "float"),
    Field("need_decile", "Decile of the composite need (equals the IMD decile with default weights)", "decile", "assets-map", "int"),
    Field("geometry", "LSOA polygon, stored in EPSG:27700", "", "boundaries"),
)

ASSET_COLUMNS: tuple[str, ...] = tuple(f.name for f in ASSET_FIELDS)

STATUSES = ("occupied", "vacant", "surplus", "part-vacant", "leased-out", "sold", "not-available", "unknown")
LOCATION_QUALITIES = ("surveyed", "register coordinates", "matched location", "full postcode", "postcode district", "none")
PRIORITIES = ("High", "Medium", "Low", "not flagged")
ANCHOR_TYPES = ("council", "nhs", "university", "college", "housing_association", "police", "fire", "other")

_FLOAT = {f.name for f in ASSET_FIELDS if f.kind == "float"}


def value_kind(s: pd.Series) -> str:
    """The type word of a column for data dictionaries and typed writers.

    Parameters
    ----------
    s : pandas.Series
        The column.

    Returns
    -------
    str
        text, integer, real, date, datetime, boolean or geometry.
    """
    if getattr(s.dtype, "name", "") == "geometry":
        return "geometry"
    if isinstance(s.dtype, pd.ArrowDtype):
        import pyarrow as pa

        if pa.types.is_date(s.dtype.pyarrow_dtype):
            return "date"
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_integer_dtype(s):
        return "integer"
    if pd.api.types.is_float_dtype(s):
        return "real"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    return "text"


def data_dictionary(layer: str = "assets") -> pd.DataFrame:
    """Return the data dictionary (field, meaning, unit, source) for a layer.

    Parameters
    ----------
    layer : {"assets", "candidates", "needs"}
    """
    fields = NEED_FIELDS if layer == "needs" else ASSET_FIELDS
    rows = [{"field": f.name, "meaning": f.meaning, "unit": f.unit, "source": f.source} for f in fields]
    rows.append({"field": f"{SOURCE_PREFIX}*", "meaning": "Column carried unchanged from the source file (name after the prefix)", "unit": "", "source": "source file"})
    return pd.DataFrame(rows)


def empty_asset_frame(n: int, *, columns: list[str] | None = None) -> pd.DataFrame:
    """A frame of ``n`` rows of canonical asset columns, set to missing.

    Every column (geometry excluded), or just ``columns`` of them.
    """
    cols = {}
    for f in ASSET_FIELDS:
        if f.name == "geometry" or (columns is not None and f.name not in columns):
            continue
        # whole arrays, not per-row lists: 1.85 s of a 1M-row analysis before
        # copy=False: the arrays are new here (pandas 3 would otherwise copy each of them once more)
        if f.kind == "float":
            cols[f.name] = pd.Series(np.full(n, np.nan), dtype="float64", copy=False)
        elif f.kind == "int":
            cols[f.name] = pd.Series(pd.arrays.IntegerArray(np.zeros(n, dtype="int64"), np.ones(n, dtype=bool)), copy=False)
        elif f.kind == "bool":
            cols[f.name] = pd.Series(np.zeros(n, dtype=bool), copy=False)
        else:
            # np.empty makes object arrays of None (one pass; np.full writes them twice); dtype given: no inference
            cols[f.name] = pd.Series(np.empty(n, dtype=object), dtype=object, copy=False)
    return pd.DataFrame(cols, copy=False)  # no consolidation: each column stays its own array


def order_columns(df: pd.DataFrame) -> list[str]:
    """Canonical columns first, in dictionary order, then source columns, then the rest."""
    canon = [c for c in ASSET_COLUMNS if c in df.columns and c != "geometry"]
    src = [c for c in df.columns if c.startswith(SOURCE_PREFIX)]
    rest = [c for c in df.columns if c not in canon and c not in src and c != "geometry"]
    geom = ["geometry"] if "geometry" in df.columns else []
    return canon + rest + src + geom


def _source_slug(owner: object) -> str:
    text = "" if owner is None or (isinstance(owner, float) and owner != owner) else str(owner)
    return "_".join("".join(ch if ch.isalnum() else " " for ch in text).split()) or "unknown"


def keep_sources_apart(frame: pd.DataFrame, sources) -> pd.DataFrame:
    """A combined register with each source's clashing ``src_`` columns kept apart, prefixed by their source.

    Registers of several organisations, combined, may hold source columns whose
    names differ only in case (``src_uprn`` from one file, ``src_UPRN`` from
    another): one name to GeoPackage, dBase and spreadsheets.  Each such group of
    columns that holds values of more than one source is split into one column
    per source, ``src_<source>_<column>`` (``src_Trafford_Council_UPRN``),
    holding that source's values.  Other columns are untouched; the frame is
    returned as it was when nothing clashes.

    Parameters
    ----------
    frame : the combined rows
    sources : one value per row naming the register (organisation) it came from

    Returns
    -------
    The frame; ``attrs["source_columns"]`` maps each new column to ``(source,
    column as in its file)`` for the data dictionary.
    """
    groups: dict[str, list[str]] = {}
    for c in frame.columns:
        if isinstance(c, str) and c.startswith(SOURCE_PREFIX):
            groups.setdefault(c.lower(), []).append(c)
    clashes = [g for g in groups.values() if len(g) > 1]
    if not clashes:
        return frame
    owner = np.array([None if v is None or (isinstance(v, float) and v != v) else v for v in sources], dtype=object)
    slugs = np.array([_source_slug(o) for o in owner], dtype=object)
    taken = {str(c).lower() for c in frame.columns}
    added: dict[str, pd.Series] = {}
    meaning: dict[str, tuple[str, str]] = dict(frame.attrs.get("source_columns", {}))
    drop: list[str] = []
    for group in clashes:
        has = {c: frame[c].notna().to_numpy() for c in group}
        if len({s for c in group for s in slugs[has[c]]}) < 2:
            continue  # one source's own clash: the exporter tells those apart
        for c in group:
            for slug in dict.fromkeys(slugs[has[c]]):
                name = f"{SOURCE_PREFIX}{slug}_{c[len(SOURCE_PREFIX):]}"
                base, k = name, 2
                while name.lower() in taken:
                    name, k = f"{base}_{k}", k + 1
                taken.add(name.lower())
                added[name] = frame[c].where(slugs == slug)
                first = owner[np.flatnonzero(slugs == slug)[0]]
                meaning[name] = ("unknown" if first is None else str(first), c[len(SOURCE_PREFIX):])
            drop.append(c)
    if not drop:
        return frame
    out = frame.drop(columns=drop)
    for name, values in added.items():
        out[name] = values
    out = out[order_columns(out)]
    out.attrs["source_columns"] = meaning
    return out

#: Tables every GeoPackage export adds (the data dictionary and provenance); no data layer may take these names.
METADATA_TABLES = ("data_dictionary", "provenance")


#: What the canonical values mean, in the words the app, the card and the site pack show.
VALUE_WORDS: dict[str, dict[str, str]] = {
    "status": {"occupied": "in use", "vacant": "vacant", "surplus": "declared surplus", "part-vacant": "partly vacant",
               "leased-out": "let to someone else", "sold": "sold", "not-available": "not available for transfer",
               "unknown": "not recorded"},
    "anchor_type": {"council": "council", "nhs": "NHS", "university": "university", "college": "college",
                    "housing_association": "housing association", "police": "police", "fire": "fire and rescue",
                    "other": "other public body"},
    "location_quality": {"none": "not placed on the map"},
    "holding_type": {"building": "building", "land": "land", "both": "land and buildings"},
}


def value_words(field: str, value, missing: str = "not recorded") -> str:
    """A canonical value as the user reads it (``status`` "leased-out" -> "let to someone else"); blanks as ``missing``."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value) or \
            (isinstance(value, str) and not value.strip()):
        return missing
    return VALUE_WORDS.get(field, {}).get(str(value), str(value))
