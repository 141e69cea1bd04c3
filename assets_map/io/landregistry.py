"""HM Land Registry open data: INSPIRE Index Polygons and the CCOD/OCOD ownership files.

INSPIRE Index Polygons are the freehold parcel outlines HMLR publishes per local
authority as GML (EPSG:27700) inside a zip, with ``INSPIREID``, ``LABEL``,
``NATIONALCADASTRALREFERENCE``, ``VALIDFROM`` and ``BEGINLIFESPANVERSION``. They are
also republished as GeoJSON (one property ``area`` = ``"landregistry-index:<INSPIREID>"``),
GeoPackage and GeoParquet; :func:`read_inspire` reads every form into one parcel frame,
repairing invalid outlines without losing area and saying so.

GML is read by GDAL only after the same checks as every other file (:mod:`assets_map.io.sources`:
size, zip members, no DTD or entity declaration anywhere in the file) and only with a layout
template written here (GDAL's ``GFS_TEMPLATE`` open option), so GDAL never reads the schema the file
points to (``xsi:schemaLocation``, a local path or a URL) and never resolves ``xlink:href`` links
(``GML_SKIP_RESOLVE_ELEMS=ALL``, ``GML_DOWNLOAD_WFS_SCHEMA=NO``).

The CCOD (UK companies and corporate bodies) and OCOD (overseas companies) files are CSVs in
a fixed layout (:data:`CCOD_COLUMNS`), full or change-only (with ``Change Indicator`` A/D and
``Change Date``); :func:`read_ownership` reads both into one row per title and proprietor.
"""
from __future__ import annotations

import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from assets_map.engine import geo
from assets_map.io import sources
from assets_map.io.report import InputError
from assets_map.schema import MEASURE_CRS

#: The fields of an INSPIRE Index Polygon as HMLR publishes them.
INSPIRE_FIELDS = ("INSPIREID", "LABEL", "NATIONALCADASTRALREFERENCE", "VALIDFROM", "BEGINLIFESPANVERSION")
#: The parcel frame's columns (besides geometry), in order.
PARCEL_COLUMNS = ("parcel_id", "label", "national_cadastral_reference", "valid_from", "begin_lifespan_version",
                  "parcel_area_ha", "parcel_source")
#: What every parcel placement says: an index polygon is not a title plan.
APPROXIMATE = "approximate: the registered freehold parcel at this point, not a title plan"
_REPUBLISHED = re.compile(r"^\s*landregistry-index:\s*(\S+)\s*$", re.I)
_GML_EXT = ".gml"
_PARQUET_EXT = (".parquet", ".geoparquet")

# GDAL reads HMLR's GML through this layout and nothing else: no schema is looked up.
_GFS = """<GMLFeatureClassList>
  <GMLFeatureClass>
    <Name>PREDEFINED</Name>
    <ElementPath>PREDEFINED</ElementPath>
    <GeometryName>GEOMETRY</GeometryName>
    <GeometryElementPath>GEOMETRY</GeometryElementPath>
    <GeometryType>0</GeometryType>
    <SRSName>urn:ogc:def:crs:EPSG::27700</SRSName>
{props}
  </GMLFeatureClass>
</GMLFeatureClassList>
"""
_GML_CONFIG = {"GML_SKIP_RESOLVE_ELEMS": "ALL", "GML_DOWNLOAD_WFS_SCHEMA": "NO", "GML_FIELDTYPES": "ALWAYS_STRING",
               "GDAL_HTTP_TIMEOUT": "1", "GDAL_HTTP_MAX_RETRY": "0", "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": "none"}


# ------------------------------------------------------------------ INSPIRE Index Polygons

@dataclass
class Parcels:
    """Parcels read from one file, and what the reading did.

    Attributes
    ----------
    frame : one row per parcel (:data:`PARCEL_COLUMNS` and geometry, EPSG:27700)
    source : the file's name
    notes : what the user should know (repairs with the area before and after, rows left out)
    repair : the :class:`~assets_map.engine.geo.Repair` of the outlines as published
    folder : a partitioned cache folder (``frame`` is then None)
    """

    frame: gpd.GeoDataFrame | None
    source: str
    notes: list[str] = field(default_factory=list)
    repair: geo.Repair | None = None
    #: a partitioned parcel cache (:func:`write_partitioned`) read one authority at a time, instead of ``frame``
    folder: Path | None = None


def _check_xml_file(path: Path, name: str) -> None:
    """Scan the whole file (not only its head) for a DTD or entity declaration, and check its root."""
    tail = b""
    with open(path, "rb") as fh:
        head = fh.read(4096)
        fh.seek(0)
        while chunk := fh.read(1 << 20):
            if sources._XML_DANGER.search(tail + chunk):
                raise InputError(sources._xml_problem(tail + chunk), source=name)
            tail = chunk[-32:]
    text = head.decode("utf-8", "replace")
    root = re.search(r"<(?![?!])\s*([\w.-]+:)?([\w.-]+)", text)
    if root is None or root.group(2) != "FeatureCollection":
        raise InputError("is XML but not a GML feature collection (HM Land Registry's INSPIRE Index Polygons "
                         "file holds a wfs:FeatureCollection)", source=name)


def _read_gml(path: Path, name: str, limits: sources.Limits) -> gpd.GeoDataFrame:
    """Read HMLR's GML through the fixed layout template, never its schema or links."""
    _check_xml_file(path, name)
    work = path.parent
    props = "\n".join(f"    <PropertyDefn><Name>{f}</Name><ElementPath>{f}</ElementPath><Type>String</Type></PropertyDefn>"
                      for f in INSPIRE_FIELDS)
    gfs = work / "layout.gfs"
    gfs.write_text(_GFS.format(props=props), encoding="utf-8")
    old = {k: pyogrio.get_gdal_config_option(k) for k in _GML_CONFIG}
    pyogrio.set_gdal_config_options(_GML_CONFIG)
    try:
        info = pyogrio.read_info(path, GFS_TEMPLATE=str(gfs))
        if info.get("driver") != "GML":
            raise InputError(f"is a {info.get('driver')} file, not GML", source=name)
        count = info.get("features")
        if count is not None and count > limits.max_rows:
            raise InputError(f"has {count} features; at most {limits.max_rows} are accepted{limits.for_who}", source=name)
        gdf = gpd.read_file(path, engine="pyogrio", GFS_TEMPLATE=str(gfs), on_invalid="ignore")
    except InputError:
        raise
    except Exception as exc:  # GDAL's own message, shortened and without server paths
        raise InputError(f"could not be read as GML: {sources._first_line(exc)}", source=name) from None
    finally:
        pyogrio.set_gdal_config_options(old)
    if gdf.empty:
        raise InputError("holds no INSPIRE parcels (no LR:PREDEFINED features with a GEOMETRY)", source=name)
    limits.check_vertices(gdf.geometry.values, name)
    if gdf.crs is None:
        gdf = gdf.set_crs(MEASURE_CRS)
    return gdf


def _gml_in_zip(path: Path, name: str, work: Path, limits: sources.Limits) -> Path | None:
    """The one .gml member of a zip, extracted under a name chosen here (None: the zip holds no GML)."""
    try:
        zf = zipfile.ZipFile(path)
    except sources._ZIP_ERRORS as exc:
        raise InputError(f"is not a readable zip archive ({sources._first_line(exc)})", source=name) from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        sources._member_problems(infos, name, limits)
        gml = [i for i in infos if PurePosixPath(i.filename.replace("\\", "/")).suffix.lower() == _GML_EXT
               and not PurePosixPath(i.filename).name.startswith(".") and "__MACOSX" not in i.filename]
        if not gml:
            return None
        if len(gml) > 1:
            raise InputError(f"holds {len(gml)} GML files ({', '.join(PurePosixPath(i.filename).name for i in gml[:4])}); "
                             "give one local authority's zip at a time", source=name)
        target = work / "data.gml"
        sources._copy_member(zf, gml[0], target, [limits.max_zip_expanded], name)
        return target


def _read_parquet(path: Path, name: str, limits: sources.Limits) -> gpd.GeoDataFrame:
    with open(path, "rb") as fh:
        if fh.read(4) != b"PAR1":
            raise InputError("is named as GeoParquet but is not a Parquet file", source=name)
    if path.stat().st_size > limits.max_file_bytes:
        raise InputError(f"is over the {limits.max_file_bytes / 1e6:.0f} MB limit{limits.for_who}", source=name)
    try:
        gdf = gpd.read_parquet(path)
    except Exception as exc:
        raise InputError(f"could not be read as GeoParquet: {sources._first_line(exc)}", source=name) from None
    if len(gdf) > limits.max_rows:
        raise InputError(f"has {len(gdf)} features; at most {limits.max_rows} are accepted{limits.for_who}", source=name)
    limits.check_vertices(gdf.geometry.values, name)
    return gdf


def _raw_layer(path: Path, name: str, layer: str | None, limits: sources.Limits) -> gpd.GeoDataFrame:
    ext = Path(name).suffix.lower()
    if ext in _PARQUET_EXT:
        return _read_parquet(path, name, limits)
    if ext in (_GML_EXT, ".zip"):
        if path.stat().st_size > limits.max_file_bytes:
            raise InputError(f"is {path.stat().st_size / 1e6:.1f} MB, over the {limits.max_file_bytes / 1e6:.1f} MB "
                             f"limit{limits.for_who}", source=name)
        with tempfile.TemporaryDirectory(prefix="assets_map_gml_") as tmp:
            work = Path(tmp)
            if ext == ".zip":
                with open(path, "rb") as fh:
                    if sources._sniff(fh.read(8)) != "zip":
                        raise InputError("is named .zip but is not a zip archive", source=name)
                local = _gml_in_zip(path, name, work, limits)
                if local is None:  # a zipped Shapefile, GeoPackage or GeoJSON of parcels
                    return _vector(sources.open_table(path, name=name, layer=layer, limits=limits), name)
            else:
                local = sources._private_copy(path, work, _GML_EXT, limits, name)
            return _read_gml(local, name, limits)
    return _vector(sources.open_table(path, name=name, layer=layer, limits=limits), name)


def _vector(table: sources.Table, name: str) -> gpd.GeoDataFrame:
    if not table.is_vector:
        raise InputError("is a table, not a map layer of parcel outlines (INSPIRE Index Polygons come as GML in "
                         "HM Land Registry's zip, GeoJSON, GeoPackage or GeoParquet)", source=name)
    return table.frame


def _ids(gdf: gpd.GeoDataFrame, name: str) -> tuple[pd.Series, dict[str, str]]:
    """The INSPIRE ID of each parcel and the source column of each other field."""
    folded = {re.sub(r"[^a-z0-9]", "", str(c).lower()): c for c in gdf.columns if c != gdf.geometry.name}
    cols = {f: folded[f.lower()] for f in INSPIRE_FIELDS if f.lower() in folded}
    if "INSPIREID" in cols:
        ids = gdf[cols["INSPIREID"]]
    elif "inspireid" not in folded and "area" in folded:
        raw = gdf[folded["area"]].astype("string")
        ids = raw.str.extract(_REPUBLISHED, expand=False)
        if ids.isna().all():
            raise InputError("has an 'area' column but not in the republished form 'landregistry-index:<INSPIRE ID>'",
                             source=name)
    elif "parcelid" in folded:
        ids = gdf[folded["parcelid"]]
    else:
        shown = ", ".join(map(str, list(folded.values())[:10]))
        raise InputError(f"has no INSPIREID column (columns: {shown or 'none'}); INSPIRE Index Polygons carry "
                         "INSPIREID, LABEL and NATIONALCADASTRALREFERENCE", source=name)
    ids = ids.astype("string").str.strip()
    ids = ids.str.replace(r"\.0$", "", regex=True)  # an ID a spreadsheet stored as a number
    return ids, cols


def is_inspire_layer(frame: pd.DataFrame, columns=None) -> bool:
    """True when a layer is INSPIRE Index Polygons: an INSPIREID column, or ids republished as ``landregistry-index:``.

    Parameters
    ----------
    frame : the layer (its first values are looked at)
    columns : its column names (default: the frame's)

    Returns
    -------
    bool
    """
    cols = [str(c) for c in (frame.columns if columns is None else columns)]
    folded = {re.sub(r"[^a-z0-9]", "", c.lower()): c for c in cols}
    if "inspireid" in folded and ("nationalcadastralreference" in folded or isinstance(frame, gpd.GeoDataFrame)):
        return True
    if "area" in folded and isinstance(frame, gpd.GeoDataFrame):
        head = frame[folded["area"]].dropna().astype(str).head(50)
        return len(head) > 0 and bool(head.str.match(_REPUBLISHED).mean() > 0.9)
    return False


def read_inspire(path: str | os.PathLike, *, name: str | None = None, layer: str | None = None,
                 limits: sources.Limits | None = None) -> Parcels:
    """Read INSPIRE Index Polygons in any published form, repaired and measured in EPSG:27700.

    Parameters
    ----------
    path : HMLR's per-authority zip (GML inside), a .gml, GeoJSON (as republished, ``area`` =
        ``landregistry-index:<ID>``), GeoPackage, Shapefile (.zip) or GeoParquet
    name : the name shown in messages (default: the file's name)
    layer : the layer of a multi-layer GeoPackage
    limits : size limits (the importer's current limits when None)

    Returns
    -------
    Parcels : one row per parcel: ``parcel_id`` (the INSPIRE ID, text), ``label``,
        ``national_cadastral_reference``, ``valid_from``, ``begin_lifespan_version``, ``parcel_area_ha``
        (measured in EPSG:27700 after repair), ``parcel_source``; invalid outlines repaired keeping every
        polygonal part, the repair and its area change in ``notes``

    Raises
    ------
    InputError : the file is refused or holds no parcels, with a one-line cause naming it
    """
    limits = limits or sources.current_limits()
    path = Path(path)
    name = Path(str(name)).name if name else path.name
    if not path.is_file():
        raise InputError("was not found", source=name)
    raw = _raw_layer(path, name, layer, limits)
    ids, cols = _ids(raw, name)
    notes: list[str] = []
    geom = raw.geometry
    if geom.crs is None:
        guess = geo.guess_crs_from_bounds(raw)
        if guess is None:
            raise InputError("has no coordinate system and its coordinates fit neither longitude/latitude nor "
                             "British National Grid in the UK", source=name)
        geom = geom.set_crs(guess)
        notes.append(f"no coordinate system stated: read as {guess} from the coordinates")
    polygonal = geom.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    keep = polygonal & ids.notna().to_numpy() & (ids != "").fillna(False).to_numpy()
    dropped = int((~keep).sum())
    if dropped:
        notes.append(f"{dropped} features left out: no polygon or no INSPIRE ID")
    if not keep.any():
        raise InputError("holds no parcel polygons with an INSPIRE ID", source=name)
    fix = geo.repair_geometries(geom[keep].reset_index(drop=True))
    if (msg := fix.message("as published")) is not None:
        notes.append(msg)
    if fix.kept.any():
        notes.append(f"{int(fix.kept.sum())} invalid outlines kept as published (their repair held no area)")
    measured, second = geo.to_crs_valid(fix.geometry, MEASURE_CRS)
    if (msg := second.message("after reprojection to EPSG:27700")) is not None:
        notes.append(msg)
    sub = raw[keep].reset_index(drop=True)

    def text(f: str) -> pd.Series:
        return sub[cols[f]].astype("string").str.strip() if f in cols else pd.Series(pd.NA, index=sub.index,
                                                                                    dtype="string")

    frame = gpd.GeoDataFrame({
        "parcel_id": ids[keep].reset_index(drop=True).astype("string"),
        "label": text("LABEL"),
        "national_cadastral_reference": text("NATIONALCADASTRALREFERENCE"),
        "valid_from": text("VALIDFROM"),
        "begin_lifespan_version": text("BEGINLIFESPANVERSION"),
        "parcel_area_ha": measured.area.to_numpy() / 10_000,
        "parcel_source": name,
    }, geometry=measured.reset_index(drop=True), crs=MEASURE_CRS)
    dupes = frame["parcel_id"].duplicated(keep=False)
    if dupes.any():
        notes.append(f"{int(frame.loc[dupes, 'parcel_id'].nunique())} INSPIRE IDs appear more than once "
                     "(each outline kept)")
    frame.attrs["source"] = name
    return Parcels(frame, name, notes, fix)


def read_parcel_layers(paths, *, limits: sources.Limits | None = None) -> Parcels:
    """Read several INSPIRE files (e.g. neighbouring authorities) into one parcel set.

    Parameters
    ----------
    paths : files, each as :func:`read_inspire` takes them, or :class:`Parcels` already read; or one folder
        holding a partitioned parcel cache (:func:`write_partitioned`), which is not read here
    limits : size limits

    Returns
    -------
    Parcels : every parcel of every file; a parcel published by two files (the same INSPIRE ID and outline)
        is kept once; the notes name each file. For a cache folder, ``folder`` is set and ``frame`` is None
    """
    paths = list(paths)
    if not paths:
        raise InputError("no parcel files given")
    folders = [p for p in paths if not isinstance(p, Parcels) and Path(p).is_dir()]
    if folders:
        if len(paths) > 1:
            raise InputError("give either parcel files (repeatable) or one parcel cache folder, not both")
        folder = Path(folders[0])
        parts = partitions(folder)
        return Parcels(None, folder.name, [f"parcel cache {folder.name}: {len(parts)} authorities, read one at a "
                                          "time where sites lie"], None, folder)
    read = [p if isinstance(p, Parcels) else read_inspire(p, limits=limits) for p in paths]
    frame = gpd.GeoDataFrame(pd.concat([r.frame for r in read], ignore_index=True), crs=MEASURE_CRS)
    wkb = frame.geometry.to_wkb()
    same = pd.DataFrame({"id": frame["parcel_id"], "wkb": wkb}).duplicated()
    frame = frame[~same.to_numpy()].reset_index(drop=True)
    notes = [f"{r.source}: {len(r.frame):,} parcels" + (f"; {'; '.join(r.notes)}" if r.notes else "") for r in read]
    frame.attrs["source"] = ", ".join(r.source for r in read)
    return Parcels(frame, frame.attrs["source"], notes, None)


def write_partitioned(parcels: Parcels, folder: str | os.PathLike, authority: str) -> Path:
    """Cache one authority's parcels as a GeoParquet partition (``folder/authority=<name>/part.parquet``).

    Parameters
    ----------
    parcels : parcels read by :func:`read_inspire`
    folder : the partitioned dataset's root
    authority : the local authority's name or code (the partition key)

    Returns
    -------
    Path of the partition written (replaced atomically when it exists)
    """
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", str(authority)).strip("_") or "authority"
    target = Path(folder) / f"authority={safe}" / "part.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    parcels.frame.to_parquet(tmp, index=False, write_covering_bbox=True)
    os.replace(tmp, target)
    return target


@dataclass(frozen=True)
class Partition:
    """One authority's parcels in a partitioned GeoParquet cache (see :func:`write_partitioned`)."""

    authority: str
    path: Path
    bounds: tuple[float, float, float, float]


def partitions(folder: str | os.PathLike) -> list[Partition]:
    """The partitions of a parcel cache folder, with each one's bounds read from its GeoParquet metadata.

    Parameters
    ----------
    folder : the cache's root (``authority=<name>/part.parquet`` beneath it)

    Returns
    -------
    list of :class:`Partition`, by authority name

    Raises
    ------
    InputError : the folder holds no partitions, or a partition states no bounds
    """
    import json

    import pyarrow.parquet as pq

    root = Path(folder)
    found = sorted(root.glob("authority=*/part.parquet"))
    if not found:
        raise InputError("holds no parcel partitions (authority=<name>/part.parquet); build them with "
                         "`assets-map parcels --cache DIR FILE...`", source=root.name)
    out = []
    for path in found:
        try:
            meta = json.loads(pq.read_metadata(path).metadata[b"geo"])
            col = meta["columns"][meta["primary_column"]]
            bbox = tuple(float(v) for v in col["bbox"])
        except Exception:  # not GeoParquet, or no bbox: the whole file would have to be read to know
            raise InputError(f"partition {path.parent.name} is not GeoParquet with stated bounds", source=root.name) \
                from None
        out.append(Partition(path.parent.name.split("=", 1)[1], path, bbox))
    return out


def read_partition(part: Partition, *, limits: sources.Limits | None = None) -> gpd.GeoDataFrame:
    """One partition's parcels (as :func:`write_partitioned` wrote them: EPSG:27700, repaired, measured).

    Parameters
    ----------
    part : the partition
    limits : size limits

    Returns
    -------
    GeoDataFrame with :data:`PARCEL_COLUMNS` and geometry
    """
    frame = _read_parquet(part.path, f"{part.authority}/part.parquet", limits or sources.current_limits())
    missing = [c for c in ("parcel_id", "parcel_area_ha") if c not in frame.columns]
    if missing:
        raise InputError(f"partition {part.authority} has no {', '.join(missing)} column (not an assets-map parcel "
                         "cache)")
    return frame


# ------------------------------------------------------------------ CCOD / OCOD

#: CCOD's columns, in order, as HM Land Registry publishes them (OCOD adds ``Country Incorporated (n)``
#: after each ``Proprietorship Category (n)``; change-only files add ``Change Indicator`` and ``Change Date``).
CCOD_COLUMNS = (
    ["Title Number", "Tenure", "Property Address", "District", "County", "Region", "Postcode",
     "Multiple Address Indicator", "Price Paid"]
    + [c for n in range(1, 5) for c in (f"Proprietor Name ({n})", f"Company Registration No. ({n})",
                                        f"Proprietorship Category ({n})", f"Proprietor ({n}) Address (1)",
                                        f"Proprietor ({n}) Address (2)", f"Proprietor ({n}) Address (3)")]
    + ["Date Proprietor Added", "Additional Proprietor Indicator"]
)
CHANGE_COLUMNS = ("Change Indicator", "Change Date")
_REQUIRED = ("Title Number", "Tenure", "Property Address", "Postcode", "Proprietor Name (1)",
             "Proprietorship Category (1)")
#: The ownership frame's columns: one row per title and proprietor.
OWNERSHIP_COLUMNS = ("title_number", "tenure", "property_address", "district", "county", "region", "postcode",
                     "multiple_address", "price_paid", "proprietor_number", "proprietor_name", "company_number",
                     "proprietorship_category", "country_incorporated", "proprietor_address", "date_proprietor_added",
                     "additional_proprietor", "change", "change_date", "dataset", "source_row")


def _fold(c: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(c).lower())


def is_ownership_file(columns) -> bool:
    """True when the headers are HM Land Registry's CCOD/OCOD layout (full or change-only).

    Parameters
    ----------
    columns : the file's headers

    Returns
    -------
    bool
    """
    folded = {_fold(c) for c in columns}
    return all(_fold(c) in folded for c in _REQUIRED)


#: A national CCOD file (about 4 million titles, 1.5 GB of CSV, published zipped) is read in chunks, keeping the
#: rows a filter asks for, up to this many bytes of CSV (``ASSETS_MAP_MAX_OWNERSHIP_MB``).
MAX_STREAMED_BYTES = int(os.environ.get("ASSETS_MAP_MAX_OWNERSHIP_MB", "5000")) * 1024 * 1024
_CHUNK_ROWS = 250_000


def read_ownership(path: str | os.PathLike, *, name: str | None = None, limits: sources.Limits | None = None,
                   keep=None) -> pd.DataFrame:
    """Read a CCOD or OCOD file (full or change-only) into one row per title and proprietor.

    Parameters
    ----------
    path : the CSV as HM Land Registry publishes it (:data:`CCOD_COLUMNS`; OCOD's ``Country Incorporated``
        columns and the change-only ``Change Indicator``/``Change Date`` are read when present)
    name : the name shown in messages
    limits : size limits (the importer's current limits when None)
    keep : for a national file: a function of a chunk of rows (published headers, text cells) returning a
        boolean mask of the rows to keep (e.g. an anchor's names). A file over the size limit, or zipped as HMLR
        publishes it, is then read in chunks of 250,000 rows keeping only those (never unpacked to disk);
        without ``keep`` such a file is refused

    Returns
    -------
    DataFrame with :data:`OWNERSHIP_COLUMNS`: ``proprietor_number`` 1-4, ``change`` "A" (added), "D" (deleted)
    or missing (a full file), ``dataset`` "CCOD" or "OCOD", ``source_row`` the file's line number;
    ``attrs["change_only"]`` says whether the file is a change-only file

    Raises
    ------
    InputError : not the CCOD/OCOD layout, or a title row without a title number or a proprietor
    """
    limits = limits or sources.current_limits()
    path = Path(path)
    name = Path(str(name)).name if name else path.name
    if keep is not None and path.is_file() and (path.suffix.lower() == ".zip" or path.stat().st_size > limits.max_file_bytes):
        return _stream_ownership(path, name, keep, limits)
    table = sources.open_table(path, name=name, limits=limits)
    if table.is_vector or table.format.startswith("excel"):
        raise InputError("is not a CSV; HM Land Registry's CCOD and OCOD files are CSV", source=name)
    return ownership_frame(table.frame, name, header_line=table.header_row)


def _csv_member(path: Path, name: str, limits: sources.Limits):
    """The one CSV inside HMLR's zip, opened for streaming after the archive's checks (never extracted)."""
    try:
        zf = zipfile.ZipFile(path)
    except sources._ZIP_ERRORS as exc:
        raise InputError(f"is not a readable zip archive ({sources._first_line(exc)})", source=name) from None
    infos = [i for i in zf.infolist() if not i.is_dir()]
    sources._member_problems(infos, name, limits.scaled(max_zip_expanded=MAX_STREAMED_BYTES))
    csvs = [i for i in infos if PurePosixPath(i.filename).suffix.lower() == ".csv"]
    if len(csvs) != 1:
        zf.close()
        raise InputError(f"holds {len(csvs)} CSV files; HM Land Registry's CCOD/OCOD zip holds one", source=name)
    return zf, zf.open(csvs[0])


def _stream_ownership(path: Path, name: str, keep, limits: sources.Limits) -> pd.DataFrame:
    """Read a national CCOD/OCOD file in chunks, keeping the rows ``keep`` selects."""
    import io

    zf = None
    if path.suffix.lower() == ".zip":
        zf, raw = _csv_member(path, name, limits)
    else:
        if path.stat().st_size > MAX_STREAMED_BYTES:
            raise InputError(f"is over the {MAX_STREAMED_BYTES / 1e6:,.0f} MB limit for an ownership file", source=name)
        raw = open(path, "rb")
    kept, rows, seen = [], [], 0
    try:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")
        reader = pd.read_csv(text, dtype=str, keep_default_na=False, chunksize=_CHUNK_ROWS, engine="c")
        for chunk in reader:
            if seen == 0 and not is_ownership_file(chunk.columns):
                raise InputError("is not HM Land Registry's CCOD/OCOD layout (its header lacks Title Number, Proprietor "
                                 "Name (1) or Proprietorship Category (1))", source=name)
            mask = np.asarray(keep(chunk), dtype=bool)
            kept.append(chunk[mask])
            rows.append(np.flatnonzero(mask) + seen + 2)
            seen += len(chunk)
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text as HM Land Registry publishes it", source=name) from None
    except (pd.errors.ParserError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"could not be read as CSV: {sources._first_line(exc)}", source=name) from None
    finally:
        raw.close()
        if zf is not None:
            zf.close()
    if not kept:
        raise InputError("the file is empty", source=name)
    df = pd.concat(kept, ignore_index=True)
    out = ownership_frame(df, name, rows=np.concatenate(rows))
    out.attrs.update(streamed=True, rows_read=seen)
    return out


def ownership_frame(df: pd.DataFrame, name: str, *, header_line: int = 1, rows: np.ndarray | None = None
                    ) -> pd.DataFrame:
    """The CCOD/OCOD rows of a table already read, one row per title and proprietor (see :func:`read_ownership`).

    Parameters
    ----------
    df : the file's rows, headers as published
    name : the file's name, for messages
    header_line : the file's line number of the header
    rows : each row's record number in the file (when the rows are a selection); default: in order after the header

    Returns
    -------
    DataFrame with :data:`OWNERSHIP_COLUMNS`
    """
    folded = {_fold(c): c for c in df.columns}
    missing = [c for c in _REQUIRED if _fold(c) not in folded]
    if missing:
        raise InputError(f"is not HM Land Registry's CCOD/OCOD layout: no {', '.join(repr(m) for m in missing)} "
                         "column", source=name)

    def col(label: str) -> pd.Series:
        c = folded.get(_fold(label))
        if c is None:
            return pd.Series(pd.NA, index=df.index, dtype="string")
        s = df[c].astype("string").str.strip()
        return s.mask(s == "")

    ocod = any(k.startswith("countryincorporated") for k in folded)
    change = col("Change Indicator").str.upper()
    bad_change = change.notna() & ~change.isin(["A", "D"])
    title = col("Title Number")
    problems = []
    rows = np.arange(len(df)) + header_line + 1 if rows is None else np.asarray(rows)
    if title.isna().any():
        problems.append(f"no Title Number in {_rows(rows[title.isna().to_numpy()])}")
    if bad_change.any():
        problems.append(f"Change Indicator is not A (added) or D (deleted) in {_rows(rows[bad_change.to_numpy()])}")
    if problems:
        raise InputError(problems, source=name)
    base = {
        "title_number": title, "tenure": col("Tenure"), "property_address": col("Property Address"),
        "district": col("District"), "county": col("County"), "region": col("Region"), "postcode": col("Postcode"),
        "multiple_address": col("Multiple Address Indicator").str.upper().eq("Y").fillna(False),
        "price_paid": pd.to_numeric(col("Price Paid").str.replace(r"[£,\s]", "", regex=True), errors="coerce"),
        "date_proprietor_added": col("Date Proprietor Added"),
        "additional_proprietor": col("Additional Proprietor Indicator").str.upper().eq("Y").fillna(False),
        "change": change, "change_date": col("Change Date"),
        "dataset": "OCOD" if ocod else "CCOD", "source_row": rows,
    }
    parts = []
    for n in range(1, 5):
        who = col(f"Proprietor Name ({n})")
        if who.isna().all():
            continue
        address = pd.concat([col(f"Proprietor ({n}) Address ({k})") for k in (1, 2, 3)], axis=1)
        part = pd.DataFrame(base, index=df.index)
        part["proprietor_number"] = n
        part["proprietor_name"] = who
        part["company_number"] = col(f"Company Registration No. ({n})")
        part["proprietorship_category"] = col(f"Proprietorship Category ({n})")
        part["country_incorporated"] = col(f"Country Incorporated ({n})")
        part["proprietor_address"] = address.apply(lambda r: ", ".join(v for v in r if isinstance(v, str)) or pd.NA,
                                                   axis=1).astype("string") if len(address) else address.iloc[:, 0]
        parts.append(part[who.notna()])
    no_owner = col("Proprietor Name (1)").isna()
    if no_owner.any() and change.isna().all():
        raise InputError(f"no Proprietor Name (1) in {_rows(rows[no_owner.to_numpy()])}", source=name)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(OWNERSHIP_COLUMNS))
    out = out.sort_values(["source_row", "proprietor_number"], kind="stable").reset_index(drop=True)
    out = out[list(OWNERSHIP_COLUMNS)]
    out.attrs.update(source=name, change_only=bool(change.notna().any() or "changeindicator" in folded),
                     dataset="OCOD" if ocod else "CCOD", titles=int(title.nunique()))
    return out


def _rows(rows: np.ndarray) -> str:
    from assets_map.io.report import rows_text

    return rows_text(rows)


__all__ = ["APPROXIMATE", "CCOD_COLUMNS", "CHANGE_COLUMNS", "INSPIRE_FIELDS", "OWNERSHIP_COLUMNS", "PARCEL_COLUMNS",
           "Parcels", "Partition", "is_inspire_layer", "is_ownership_file", "ownership_frame", "partitions", "read_inspire", "read_ownership",
           "read_parcel_layers", "read_partition", "write_partitioned"]
