"""Read an asset register into the canonical schema, placing every row it can.

:func:`read_register` is the register adapter's step of
:func:`assets_map.io.importer.import_file` (the one entry point for files; the
brownfield and ERIC adapters end in it too): a table already opened, CSV with
coordinates (WGS84 or British National Grid, decided from the values),
GeoPackage, GeoJSON or Shapefile. Rows without usable coordinates are placed from a full
postcode when a postcode directory is given; the rest are kept with
``location_quality == "none"`` and listed in the report. No row is dropped
silently: blank rows are the only rows removed, and the report counts them.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from assets_map.engine import geo
from assets_map.engine.arrays import first_rows, words_column
from assets_map.io import gridref
from assets_map.io.column_notes import set_aside_column_notes
from assets_map.io.normalise import (
    blank_cells,
    canonical_frame,
    clean_postcodes,
    compact_postcode,
    factorized,
    fold,
    match_columns,
    to_number,
)
from assets_map.io.report import ImportReport, InputError
from assets_map.io.sections import carry_sections
from assets_map.io.sources import Limits, Table, excel_frame, open_table, table_title_lines, text_frame
from assets_map.io.titles import owner_from_titles
from assets_map.io.units import land_areas, report_areas
from assets_map.schema import DISPLAY_CRS, MEASURE_CRS, order_columns

# ---------------------------------------------------------------- postcodes

def read_postcodes(path: str | os.PathLike, *, name: str | None = None) -> pd.DataFrame:
    """Read a postcode directory (ONSPD/NSPL-like CSV) into compact postcode -> BNG x, y.

    Accepts lon/lat (``lon``/``long``/``longitude``, ``lat``/``latitude``) or
    easting/northing (``oseast1m``/``osnrth1m``, ``easting``/``northing``) columns.
    """
    table = open_table(path, name=name)
    df = table.frame
    cols = {fold(c): c for c in df.columns}
    pc = next((cols[c] for c in ("postcode", "pcds", "pcd", "pcd7", "pcd8", "postcodes") if c in cols), None)
    if pc is None:
        raise InputError("has no postcode column (postcode, pcds or pcd)", source=table.name)
    pairs = [("lon", "lat"), ("long", "lat"), ("longitude", "latitude"), ("oseast1m", "osnrth1m"),
             ("easting", "northing"), ("x", "y")]
    xy = next(((cols[a], cols[b]) for a, b in pairs if a in cols and b in cols), None)
    if xy is None:
        raise InputError("has no coordinate columns (lon/lat or oseast1m/osnrth1m)", source=table.name)
    pts = geo.points_from_columns(df[xy[0]], df[xy[1]], x_name=xy[0], y_name=xy[1])
    out = pd.DataFrame({
        "postcode": compact_postcode(df[pc]).to_numpy(),
        "x": np.where(pts.placed, pts.geometry.x.to_numpy(na_value=np.nan) if pts.placed.any() else np.nan, np.nan),
        "y": np.where(pts.placed, pts.geometry.y.to_numpy(na_value=np.nan) if pts.placed.any() else np.nan, np.nan),
    })
    out = out.dropna(subset=["x", "y"]).drop_duplicates("postcode").set_index("postcode")
    if out.empty:
        raise InputError("has no postcodes with usable UK coordinates", source=table.name)
    return out


# ---------------------------------------------------------------- registers

def _drop_blank_rows(raw: pd.DataFrame, report: ImportReport) -> pd.DataFrame:
    attrs = raw.drop(columns=["geometry"], errors="ignore")
    blank = attrs.isna().all(axis=1)
    if isinstance(raw, gpd.GeoDataFrame):
        blank &= raw.geometry.isna() | raw.geometry.is_empty
    if blank.any():
        report.add("rejected", "blank row with no values and no geometry", raw.index[blank] + 1)
        report.rejected += int(blank.sum())
    return raw[~blank]


def _unique_ids(ids: pd.Series, rows: np.ndarray, stem: str, report: ImportReport) -> pd.Series:
    ids = ids.copy()
    missing = ids.isna()
    ids[missing] = [f"{stem}-{r:05d}" for r in rows[missing.to_numpy()]]
    if missing.any() and not missing.all():
        report.add("fixed", "no asset identifier: one was made from the file name and row", rows[missing.to_numpy()])
    dup = ids.duplicated(keep=False)
    if dup.any():
        report.add("fixed", "asset identifier repeated: made unique by adding the row number", rows[dup.to_numpy()])
        ids[dup] = [f"{v}#{r}" for v, r in zip(ids[dup], rows[dup.to_numpy()], strict=True)]
    return ids


def _location_cells(raw: pd.DataFrame, mapping: dict, report: ImportReport) -> tuple[str | None, gridref.CellLocations | None]:
    """The column of grid references or coordinate pairs, read, when most of its filled cells are such."""
    taken = set(mapping.values())
    col = next((c for c in raw.columns if c != "geometry" and c not in taken and fold(c) in gridref.GRID_REF_HEADERS),
               None)
    if col is None:
        return None, None
    cells = gridref.read_locations(raw[col])
    filled = int((raw[col].astype("string").str.strip().fillna("") != "").sum())
    if not filled or cells.unreadable.sum() * 2 > filled:
        if cells.unreadable.sum() < filled:  # some cells read: say why the column was still not used
            report.add("warning", f"column {col!r} was not used for locations: most of its cells are neither OS grid "
                       "references nor coordinate pairs")
        return None, None
    rows = raw.index.to_numpy() + 1
    if cells.coarse.any():
        report.add("unplaced", f"grid reference in {col!r} names a 1 km or larger square: too coarse to place",
                   rows[cells.coarse])
    if cells.unreadable.any():
        report.add("warning", f"location in {col!r} is neither an OS grid reference nor a coordinate pair",
                   rows[cells.unreadable])
    return col, cells


def _place_from_columns(raw: pd.DataFrame, mapping: dict, report: ImportReport, expect_coordinates: bool = True):
    n = len(raw)
    cell_col, cells = _location_cells(raw, mapping, report)
    has_xy = "x" in mapping and "y" in mapping
    if not has_xy and cells is None:
        if expect_coordinates:
            report.add("warning", "no coordinate columns found (GeoX/GeoY, Easting/Northing, lon/lat, an OS grid "
                       "reference); rows can only be placed by postcode")
        return gpd.GeoSeries([None] * n, crs=MEASURE_CRS), np.zeros(n, bool), [None] * n
    if has_xy:
        xcol, ycol = mapping["x"], mapping["y"]
        x, y = raw[xcol], raw[ycol]
    else:
        xcol = ycol = cell_col
        x, y = pd.Series(cells.x, index=raw.index), pd.Series(cells.y, index=raw.index)
    from_cells = np.zeros(n, dtype=bool)
    if has_xy and cells is not None:  # rows with no pair of numbers take the one-cell location
        xv, yv = geo.to_float(x), geo.to_float(y)
        from_cells = ~(np.isfinite(xv) & np.isfinite(yv)) & np.isfinite(cells.x) & np.isfinite(cells.y)
        x = pd.Series(np.where(from_cells, cells.x, xv), index=raw.index)
        y = pd.Series(np.where(from_cells, cells.y, yv), index=raw.index)
        if from_cells.any():
            report.add("fixed", f"no easting/northing: placed from the location in {cell_col!r}",
                       raw.index.to_numpy()[from_cells] + 1)
    stated = raw[mapping["crs_label"]] if "crs_label" in mapping else None
    pts = geo.points_from_columns(x, y, stated_crs=stated, row_numbers=raw.index.to_numpy() + 1,
                                  x_name=xcol, y_name=ycol)
    report.crs_detected = {"lonlat": "WGS84 longitude/latitude (EPSG:4326)", "bng": "British National Grid (EPSG:27700)"}.get(pts.kind, "")
    for msg, rows in pts.fixed_rows.items():
        report.add("fixed", msg, rows)
    for msg, rows in pts.bad_rows.items():
        report.add("warning", msg, rows)
    for w in pts.warnings:
        report.add("warning", w)
    notes = pts.notes
    if cells is not None:
        use = from_cells if has_xy else np.ones(n, dtype=bool)
        notes = [c if (u and c and not p) else p for p, c, u in zip(notes, cells.notes, use, strict=True)]
    return pts.geometry, pts.placed, notes


def _finite(geom: gpd.GeoSeries) -> np.ndarray:
    """True where every coordinate of a present geometry is a finite number."""
    out = np.ones(len(geom), dtype=bool)
    arr = geom.to_numpy()
    present = ~(pd.isna(arr) | shapely.is_empty(arr))
    rows = np.flatnonzero(present)
    if len(rows):  # one pass over all coordinates, not one call per geometry
        coords, owner = shapely.get_coordinates(arr[rows], return_index=True)
        bad = np.bincount(owner[~np.isfinite(coords).all(axis=1)], minlength=len(rows)) > 0
        out[rows] = ~bad
    return out


def _report_repair(fix: geo.Repair, report: ImportReport, rows: np.ndarray, notes: list, when: str) -> None:
    """One report line with the areas before and after, and each repaired row's own areas in its note."""
    line = fix.message(when)
    if line:
        report.add("fixed", line + "; the original is kept in src_geometry_wkt", rows[fix.repaired])
        for i in np.flatnonzero(fix.repaired):
            own = (f"invalid geometry repaired{' ' + when if when else ''}: "
                   f"{fix.area_before[i]:,.1f} m\u00b2 as drawn, {fix.area_after[i]:,.1f} m\u00b2 after")
            notes[i] = f"{notes[i]}; {own}" if notes[i] else own
    if fix.kept.any():
        report.add("warning", "invalid polygon kept as given: make_valid would have left no area "
                   "(areas and joins may be wrong)", rows[fix.kept])


def _place_vector(gdf: gpd.GeoDataFrame, report: ImportReport, name: str, make_valid: bool = True):
    n = len(gdf)
    rows = gdf.index.to_numpy() + 1
    arr = gdf.geometry.to_numpy()
    null = pd.isna(arr)
    empty = ~null & shapely.is_empty(np.where(null, shapely.Point(), arr))
    finite = _finite(gdf.geometry)
    notes: list[str | None] = [None] * n
    for mask, msg in ((null, "the feature has no geometry (null)"), (empty, "the feature's geometry is empty"),
                      (~finite, "the geometry has coordinates that are not finite numbers (NaN or infinity)")):
        if mask.any():
            report.add("unplaced", msg, rows[mask])
            for i in np.flatnonzero(mask):
                notes[i] = msg
    usable = ~null & ~empty & finite
    probe = gdf[usable]
    if gdf.crs is None:
        guess = geo.guess_crs_from_bounds(probe) if len(probe) else None
        if guess is None:
            raise InputError("has no CRS and its coordinates are not in the UK as longitude/latitude or British National Grid", source=name)
        report.add("warning", f"the layer states no CRS; its coordinates fit {guess} and were read as such")
        gdf = gdf.set_crs(guess)
    elif len(probe):
        guess = geo.guess_crs_from_bounds(probe)
        if (gdf.crs.to_epsg() == 4326 or gdf.crs.is_geographic) and guess == MEASURE_CRS:
            # An easting in a GeoJSON that (by RFC 7946) claims WGS84.
            report.add("fixed", "the layer claims longitude/latitude but holds British National Grid eastings/northings; read as EPSG:27700")
            gdf = gdf.set_crs(MEASURE_CRS, allow_override=True)
        elif gdf.crs.to_epsg() == 27700 and guess == DISPLAY_CRS:
            report.add("fixed", "the layer claims British National Grid but holds longitude/latitude degrees; read as EPSG:4326")
            gdf = gdf.set_crs(DISPLAY_CRS, allow_override=True)
    report.crs_detected = gdf.crs.to_string()
    geom = gdf.geometry.where(usable, None)
    zm = shapely.has_z(geom.to_numpy()) | (shapely.has_m(geom.to_numpy()) if hasattr(shapely, "has_m") else False)
    if zm.any():
        geom = gpd.GeoSeries(shapely.force_2d(geom.to_numpy()), crs=gdf.crs, index=gdf.index)
        report.add("fixed", "Z (height) or M (measure) values dropped: assets-map works in 2D", rows[zm])
    repaired = np.zeros(n, dtype=bool)
    if make_valid:
        fix = geo.repair_geometries(geom)
        geom, repaired = fix.geometry, fix.repaired
        _report_repair(fix, report, rows, notes, "")
    else:
        present = ~(geom.isna() | geom.is_empty)
        invalid = (present & ~geom.is_valid).to_numpy()
        if invalid.any():
            report.add("warning", "invalid geometry kept as given (make_valid was not applied; areas and joins may be wrong)", rows[invalid])
    try:
        bng = gpd.GeoSeries(geom, crs=gdf.crs).to_crs(MEASURE_CRS)
    except Exception as exc:  # a CRS pyproj cannot transform
        raise InputError(f"its coordinate system ({gdf.crs.name}) cannot be converted to British National Grid: "
                         f"{str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}", source=name) from None
    if make_valid and gdf.crs.to_epsg() != 27700:
        # Validity is checked again: a parcel valid as published can cross itself once reprojected.
        fix = geo.repair_geometries(bng)
        bng, repaired = fix.geometry, repaired | fix.repaired
        _report_repair(fix, report, rows, notes, "after reprojection to EPSG:27700")
    bad = geo.outside_uk(gpd.GeoDataFrame(geometry=bng)) & usable
    if bad.any():
        report.add("unplaced", "geometry lies outside the UK (checked in British National Grid); left unplaced", rows[bad])
        for i in np.flatnonzero(bad):
            notes[i] = "geometry lies outside the UK"
    placed = usable & ~bad
    bng = bng.where(placed, None)
    return gdf, gpd.GeoSeries(bng.to_numpy(), crs=MEASURE_CRS), placed, notes, repaired


#: How a row was placed from the file itself (``location_quality``).
_QUALITY = ("none", "register coordinates", "surveyed")


def _text_list_column(values: list, index: pd.Index) -> pd.Series:
    """A list of texts and Nones as the column pandas would make of it, each distinct text converted once."""
    arr = np.array(values, dtype=object)
    filled = np.flatnonzero(~pd.isna(arr))
    if not len(filled) and bool(np.equal(arr, None).all()):  # only Nones (the usual): what pandas makes of them
        return pd.Series(arr, index=index, dtype=object, copy=False)
    if not len(filled) or pd.api.types.infer_dtype(arr[filled], skipna=False) != "string":
        return pd.Series(values, index=index)
    codes = np.full(len(arr), -1, dtype=np.int64)
    codes[filled], uniques = pd.factorize(arr[filled])
    return words_column(list(uniques), codes, index)


def _place_by_postcode(out: gpd.GeoDataFrame, postcodes: pd.DataFrame | None, report: ImportReport) -> None:
    unplaced = out["location_quality"] == "none"
    if not unplaced.any():
        return
    # the postcodes of the rows left to place only (a register with coordinates has few or none)
    kinds = np.full(len(out), "", dtype=object)
    kinds[unplaced.to_numpy()] = clean_postcodes(out.loc[unplaced, "postcode"])[1].to_numpy(dtype=object)
    full = unplaced & (kinds == "full")
    if postcodes is not None and full.any():
        keys = compact_postcode(out.loc[full, "postcode"])
        hit = keys.isin(postcodes.index).to_numpy()
        idx = out.index[full][hit]
        if len(idx):
            xy = postcodes.loc[keys[hit].to_numpy()]
            out.loc[idx, "geometry"] = gpd.GeoSeries(shapely.points(xy["x"].to_numpy(), xy["y"].to_numpy()), index=idx, crs=MEASURE_CRS)
            out.loc[idx, "location_quality"] = "full postcode"
            prior = out.loc[idx, "location_note"]
            out.loc[idx, "location_note"] = [
                (f"{p}; placed at the postcode {pc} instead" if isinstance(p, str) and p else f"placed at the centre of postcode {pc}")
                for p, pc in zip(prior, out.loc[idx, "postcode"], strict=True)
            ]
        miss = out.index[full][~hit]
        out.loc[miss, "location_note"] = [f"postcode {pc} is not in the postcode directory" for pc in out.loc[miss, "postcode"]]
    elif full.any():
        out.loc[full, "location_note"] = out.loc[full, "location_note"].fillna("has a full postcode but no postcode directory was given")
    for kind, note in (("district", "only a postcode district ({pc}) is given: too coarse to place"),
                       ("invalid", "postcode {pc!r} is not a valid UK postcode"),
                       ("missing", "no coordinates (or geometry) and no postcode")):
        m = unplaced & (kinds == kind) & (out["location_quality"] == "none")
        if m.any():
            out.loc[m, "location_note"] = [
                (f"{p}; " if isinstance(p, str) and p else "") + note.format(pc=pc)
                for p, pc in zip(out.loc[m, "location_note"], out.loc[m, "postcode"], strict=True)
            ]
            seen = list(dict.fromkeys(str(v) for v in out.loc[m, "postcode"] if isinstance(v, str) and v.strip()))
            values = ", ".join(repr(v) if kind == "invalid" else v for v in seen[:6]) + (
                f" and {len(seen) - 6} more" if len(seen) > 6 else "")  # the bad values, as the file gives them
            report.add("unplaced", note.format(pc="…").replace("'…'", "…").replace("…", values or "…"),
                       out.loc[m, "source_row"].astype(int))
    if postcodes is not None and full.any():
        m = full & (out["location_quality"] == "none")
        if m.any():
            seen = list(dict.fromkeys(str(v) for v in out.loc[m, "postcode"] if isinstance(v, str)))
            values = ", ".join(seen[:6]) + (f" and {len(seen) - 6} more" if len(seen) > 6 else "")
            report.add("unplaced", f"postcode not found in the postcode directory ({values})",
                       out.loc[m, "source_row"].astype(int))
    elif full.any():
        report.add("unplaced", "has a full postcode but no postcode directory was given", out.loc[full, "source_row"].astype(int))


# ---------------------------------------------------------------- aggregate rows

#: A key cell that is a total of other rows, whatever row it is on: "Total", "Grand Total", "Total Result"
#: (LibreOffice), "Sum of ...", "Subtotal ...". Anchored: "Totally Well Centre" is a site.
_TOTAL_LABEL = re.compile(r"^(?:(?:grand|overall)\s+|sub[\s-]?)?totals?(?:\s+result)?(?:\s*$|\s*[:(\u2013-]|\s+(?:of|for)\s)"
                          r"|^(?:sum|count|average)\s+of\s", re.IGNORECASE)
#: "<group> Result" / "<group> Total": a pivot table's subtotal of one group ("R1A Result", "R1A Total").
_GROUP_LABEL = re.compile(r"^(?P<group>.+?)\s+(?:result|total|subtotal)$", re.IGNORECASE)
#: Headers of columns whose values are not added up (percentages, averages, rates, coordinates).
_NOT_SUMMED = re.compile(r"%|percent|pct|average|\bavg|mean|\brate\b|ratio|\bper\b|year|date|easting|northing|"
                         r"latitude|longitude|\blat\b|\blon\b|\bx\b|\by\b|geo ?x|geo ?y|decile|rank|score", re.IGNORECASE)
#: Headers of organisation-code columns (a trust or council code, not a site's).
ORG_CODE_HEADERS = ("organisationcode", "trustcode", "orgcode", "providercode", "organisationid", "orgid")
RECONCILE_TOLERANCE = 0.005


def _cells(frame: pd.DataFrame, col: str | None) -> pd.Series:
    if col is None or col not in frame.columns:
        return pd.Series("", index=frame.index, dtype="string")
    return frame[col].astype("string").fillna("").str.strip()


def _blank_keys(frame: pd.DataFrame, col: str | None) -> np.ndarray:
    """Where :func:`_cells` of ``col`` is "" (missing or blank), found without stripping Arrow text."""
    if col is None or col not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    arrow = getattr(frame[col].array, "_pa_array", None)
    if isinstance(frame[col].dtype, pd.StringDtype) and arrow is not None:
        return blank_cells(arrow)
    return (_cells(frame, col) == "").to_numpy(dtype=bool)


def _summed_columns(frame: pd.DataFrame, skip: set[str]) -> list[str]:
    return [c for c in frame.columns if c != "geometry" and c not in skip and not _NOT_SUMMED.search(str(c))]


def _without_identity(raw: pd.DataFrame, rows: np.ndarray, identity: tuple[str | None, ...]) -> np.ndarray:
    """``rows`` narrowed to those with no identifying cell (address, postcode, coordinates, geometry); read only there."""
    rows = rows.copy()
    if rows.any():
        sub = raw[rows]
        blank = np.ones(len(sub), dtype=bool)
        for c in identity:
            blank &= (_cells(sub, c) == "").to_numpy(dtype=bool)
        if isinstance(sub, gpd.GeoDataFrame):
            blank &= (sub.geometry.isna() | sub.geometry.is_empty).to_numpy(dtype=bool)
        rows[rows] = blank
    return rows


#: What an aggregate row is, by its code in set_aside_aggregates (0: a site).
_AGGREGATE_KINDS = ("", "total", "organisation-level", "blank-keyed")


def set_aside_aggregates(raw: pd.DataFrame, report: ImportReport, *, code: str | None, name: str | None,
                         org_code: str | None = None, identity: tuple[str | None, ...] = (),
                         first_summed: str | None = None) -> pd.DataFrame:
    """Set aside the rows of a site file that total other rows (they are never sites), and reconcile with them.

    Pivot-table exports and registers with summary rows carry, between the sites, rows such
    as ``R1A Result``, ``Grand Total``, ``Total``, ``Sum of ...``, ``Subtotal ...``; rows whose
    keys are blank but that hold numbers; and organisation-level rows (an organisation code and
    no site code of their own). Each is recognised by its key cells, removed and reported with
    its row. Where such a row totals the site rows (a grand total: every site; a group's
    ``... Result``/``... Total``/subtotal: the sites since the previous aggregate row), each
    summed numeric column of the sites must agree with it within 0.5%, or the report says by
    how much it does not.

    Parameters
    ----------
    raw : the file's rows (index + 1 is the file's row number)
    report : the import report the findings go to (``set_aside`` counts the rows)
    code, name : the site code (asset id) and site name columns, if any
    org_code : the organisation (trust, council) code column, if any
    identity : other columns that identify a site (address, postcode, coordinates): a row with
        any of them is not a blank-keyed row
    first_summed : the column reconciled first (the floor area)

    Returns
    -------
    pd.DataFrame : the rows that are sites (the same index, aggregate rows removed)
    """
    if raw.empty:
        return raw
    first = next((c for c in raw.columns if c != "geometry"), None)
    first_key = first if first not in (code, name, org_code) else None
    every = np.arange(len(raw))

    def stripped(col: str | None, at: np.ndarray) -> pd.Series:
        """The key cells of rows ``at`` stripped, blank as "" (each key column read only where it is looked at)."""
        return _cells(raw.iloc[at], col) if len(at) < len(raw) else _cells(raw, col)

    code_blank, name_blank, org_blank = _blank_keys(raw, code), _blank_keys(raw, name), _blank_keys(raw, org_code)
    with_org = np.flatnonzero(~org_blank)
    orgs = set(stripped(org_code, with_org).str.upper()) if len(with_org) else set()

    def labelled(col: str | None, at: np.ndarray) -> np.ndarray:
        out = np.zeros(len(at), dtype=bool)
        if col is None or col not in raw.columns or not len(at):
            return out
        cells = raw[col] if len(at) == len(raw) else raw[col].iloc[at]
        if not isinstance(cells.dtype, pd.StringDtype):
            cells = cells.astype("string")
        # a quick look for the words first (a million rows: one pass in C, on the cells as they are: stripping
        # neither makes nor breaks a word), the patterns on the few that have them, stripped
        maybe = cells.str.contains("total|result|sum|count|average", case=False, regex=True).to_numpy(dtype=bool,
                                                                                                    na_value=False)
        if maybe.any():
            v = stripped(col, at[maybe])
            # each distinct text judged once ("... County Council" on 50,000 rows: one look)
            codes, distinct = pd.factorize(v)
            sub = pd.Series(distinct, dtype=v.dtype)
            group = sub.str.extract(_GROUP_LABEL)["group"].fillna("").str.strip()
            # a group is an organisation code of the file, a code, or an organisation's name; never "Test Result"
            grouped = (group != "") & (group.str.upper().isin(orgs) | group.str.fullmatch(r"[A-Z0-9]{2,8}").fillna(False)
                                       | group.str.contains(r"(?i)\b(?:trust|council|authority|board)$").fillna(False))
            out[maybe] = (sub.str.contains(_TOTAL_LABEL) | grouped).to_numpy(dtype=bool, na_value=False)[codes]
        return out

    no_code = code_blank.copy()
    if len(with_org):  # a code that is the organisation's own code (compared only where there is one)
        no_code[with_org] |= (stripped(code, with_org).str.upper()
                              == stripped(org_code, with_org).str.upper()).to_numpy(dtype=bool)
    kind = np.zeros(len(raw), dtype=np.int8)  # _AGGREGATE_KINDS: 0 a site
    total = labelled(code, every)
    at = np.flatnonzero(no_code)
    if len(at):  # the other key cells are looked at only on rows with no code of their own
        for col in (name, org_code, first_key):
            total[at] |= labelled(col, at)
    kind[total] = 1
    if org_code is not None and code is not None:
        trust = np.zeros(len(raw), dtype=bool)
        trust[with_org] = name_blank[with_org] | stripped(name, with_org).str.upper().isin(orgs).to_numpy(dtype=bool)
        trust &= (kind == 0) & no_code
        kind[_without_identity(raw, trust, identity)] = 2
    labels = [c for c in (code, name) if c is not None]
    if labels:
        blank_keys = code_blank & name_blank & (kind == 0)
        cand = _without_identity(raw, blank_keys, identity)
        if cand.any():
            rest = [c for c in raw.columns if c not in {"geometry", code, name, org_code}]
            numbers = pd.concat([to_number(raw.loc[cand, c]) for c in rest], axis=1).notna().any(axis=1) if rest else None
            if numbers is not None:
                kind[np.flatnonzero(cand)[numbers.to_numpy(dtype=bool)]] = 3
    agg = kind != 0
    if not agg.any():
        return raw
    rows = raw.index.to_numpy() + 1
    present = kind[agg]
    met, met_at = np.unique(present, return_index=True)  # the kinds in the order met, as value_counts gives them
    found = ", ".join(f"{int((present == k).sum())} {_AGGREGATE_KINDS[k]}" for k in met[np.argsort(met_at)])
    report.add("set aside", f"set aside {int(agg.sum())} aggregate rows (subtotals/totals: {found}); never sites",
               rows[agg])
    report.set_aside += int(agg.sum())
    _reconcile(raw, agg, kind == 1, [_cells(raw, c) for c in (code, name, org_code, first_key)], report,
               skip={c for c in (code, name, org_code, first, *identity) if c}, first_summed=first_summed)
    return raw[~agg]


def _reconcile(raw: pd.DataFrame, agg: np.ndarray, total: np.ndarray, keys: list[pd.Series], report: ImportReport,
               *, skip: set[str], first_summed: str | None) -> None:
    cols = _summed_columns(raw, skip)
    if first_summed in cols:
        cols.remove(first_summed)
        cols.insert(0, first_summed)
    if not cols or not total.any():
        return
    values = pd.concat([to_number(raw[c]) for c in cols], axis=1).to_numpy(dtype=float)
    label = keys[0].where(keys[0] != "", keys[1]).where(lambda s: s != "", keys[2]).where(lambda s: s != "", keys[3])
    grand = label.str.fullmatch(r"(?i)(?:(?:grand|overall)\s+)?totals?(?:\s+result)?").to_numpy(dtype=bool, na_value=False)
    # a group's total ("R1A Result", "Subtotal: depots", "Total for R1A"); "Sum of ..." rows are not reconciled
    group = ~grand & ~label.str.contains(r"(?i)^(?:sum|count|average)\s+of\s").to_numpy(dtype=bool, na_value=False)
    site = ~agg
    checked, agreed = 0, 0
    start = 0
    for i in np.flatnonzero(agg):
        if total[i] and (grand[i] or group[i]):
            scope = site.copy() if grand[i] else np.zeros(len(raw), bool)
            if not grand[i]:
                scope[start:i] = site[start:i]
            gaps = []
            for j, col in enumerate(cols):
                want = values[i, j]
                got = values[scope, j]
                if not np.isfinite(want) or not np.isfinite(got).any():
                    continue
                have = float(np.nansum(got))
                checked += 1
                if abs(have - want) <= RECONCILE_TOLERANCE * abs(want) + 1e-9:
                    agreed += 1
                else:
                    off = f"{(have - want) / abs(want):+.1%}" if want else "against 0"
                    gaps.append(f"{col} sums to {have:,.6g} against {want:,.6g} ({off})")
            if gaps:
                report.add("warning", f"the site rows do not add up to the file's own total {label.iloc[i]!r} "
                           f"(beyond 0.5%): " + "; ".join(gaps[:3]) + (f" and {len(gaps) - 3} more columns" if len(gaps) > 3 else ""),
                           [int(raw.index[i]) + 1])
            start = i + 1  # a group's total closes the group; blank-keyed and organisation rows do not
    if checked and agreed == checked:
        report.add("set aside", f"the site rows add up to the file's own totals within 0.5% ({checked} sums checked)")


_CATEGORY_FIELDS = (("tenure", "tenure", ("other", "unknown")), ("holding_type", "holding_type", ("unknown",)),
                    ("status_text", "status", ("unknown",)))


def _report_normalised(attrs: pd.DataFrame, canon: pd.DataFrame, mapping: dict, report: ImportReport) -> None:
    """Say which category values were read as something other than their own words, and which were not recognised."""
    rows = attrs.index.to_numpy() + 1
    for key, field, vague in _CATEGORY_FIELDS:
        col = mapping.get(key)
        if col is None:
            continue
        original = attrs[col]
        changed: dict[str, tuple[str, list[np.ndarray]]] = {}
        unknown: dict[str, list[np.ndarray]] = {}
        # Each distinct (original, normalised) pair is judged once, in order of first appearance.
        # factorize numbers the pairs in order of first appearance (hashing in C: a million rows, a few pairs)
        o_codes, o_uniques = factorized(original)  # made once: map_words factorised the column to normalise it
        v_codes, v_uniques = pd.factorize(canon[field], use_na_sentinel=False)  # in its own dtype: no Python strings
        group = pd.factorize(o_codes.astype(np.int64) * (len(v_uniques) + 1) + v_codes)[0]
        # each pair judged by its first row (pairs are numbered in order of first appearance: a pair's first row is
        # where the running maximum rises); only the rows of pairs the report names are gathered
        firsts = first_rows(group)
        o_values = np.asarray(o_uniques.astype(object) if hasattr(o_uniques, "astype") else o_uniques, dtype=object)
        said: list[tuple[int, str, str | None]] = []  # (pair, original text, normalised word or None when vague)
        for g, first in enumerate(firsts):
            o, v = o_values[o_codes[first]], v_uniques[v_codes[first]]
            o = None if o is pd.NA else o
            if o is None or (isinstance(o, float) and np.isnan(o)) or not str(o).strip():
                continue
            text = str(o).strip()
            folded = re.sub(r"[^a-z]", "", text.lower())
            if v in vague:
                said.append((g, text, None))
            elif v.replace("-", "") not in folded and not (v == "both" and "land" in folded and "build" in folded):
                said.append((g, text, v))
        if not said:
            continue
        wanted = np.zeros(len(firsts), dtype=bool)
        wanted[[g for g, _, _ in said]] = True
        sel = np.flatnonzero(wanted[group])
        order = sel[np.argsort(group[sel], kind="stable")]
        bounds = np.flatnonzero(np.diff(group[order])) + 1
        members = dict(zip([g for g, _, _ in sorted(said)], np.split(order, bounds), strict=True))
        for g, text, v in said:
            if v is None:
                unknown.setdefault(text, []).append(rows[members[g]])
            else:
                changed.setdefault(text, (v, []))[1].append(rows[members[g]])
        if changed:
            pairs = ", ".join(f"{o!r} -> {v}" for o, (v, _) in list(changed.items())[:6])
            report.add("fixed", f"{col} values normalised ({pairs}; originals kept in src_{col})",
                       np.concatenate([r for _, rs in changed.values() for r in rs]))
        if unknown:
            vals = ", ".join(repr(o) for o in list(unknown)[:6])
            report.add("warning", f"{col} values not recognised ({vals}); {field} set to "
                       f"{'/'.join(vague)} (originals kept in src_{col})", np.concatenate([r for rs in unknown.values() for r in rs]))


def read_register(
    table: Table,
    *,
    postcodes: pd.DataFrame | str | os.PathLike | None = None,
    columns: dict[str, str] | None = None,
    adapter: str = "asset register",
    expect_coordinates: bool = True,
    make_valid: bool = True,
    limits: Limits | None = None,
    org_code_column: str | None = None,
) -> tuple[gpd.GeoDataFrame, ImportReport]:
    """Normalise an opened register table into the canonical schema, in EPSG:27700.

    Files are read by :func:`assets_map.io.importer.import_file`, which opens the table and
    calls this for registers (and the brownfield and ERIC adapters, after their own steps).

    Parameters
    ----------
    table : a :class:`~assets_map.io.sources.Table` already opened (its frame's integer index, when not
        0..n-1, gives the file's row numbers: adapters that drop rows keep the numbering)
    postcodes : a postcode directory (path, or the frame from :func:`read_postcodes`)
        used to place rows that have a full postcode but no usable coordinates
    columns : overrides of the automatic column matching, canonical name -> header
    adapter : what the report calls the reader
    expect_coordinates : warn when no coordinate columns are found (False for files that never have any)
    make_valid : repair invalid geometries (the original is kept in ``src_geometry_wkt``)
    limits : unused (the table is already open); kept for the adapters' common signature
    org_code_column : the organisation (trust, council) code column, for telling organisation-level rows
        from sites (found from the headers when None); see :func:`set_aside_aggregates`

    Returns
    -------
    (assets, report) : every row of the file (blank rows and aggregate rows excepted, and counted),
        with ``location_quality`` and ``location_note`` saying how each was placed
    """
    if not isinstance(table, Table):
        raise TypeError("read_register takes an opened Table; read files with assets_map.io.importer.import_file")
    table = excel_frame(table)
    name = table.name
    if isinstance(postcodes, (str, os.PathLike)):
        postcodes = read_postcodes(postcodes)
    report = ImportReport(source=name, format=table.format, adapter=adapter, lines_in_file=table.lines,
                          lines_note=table.lines_note)
    for note in table.notes:
        report.add("warning", note)
    raw = text_frame(table)  # a CSV read by Arrow stays Arrow text: no Python string per cell
    if not (isinstance(raw.index, pd.RangeIndex) or pd.api.types.is_integer_dtype(raw.index)) or not raw.index.is_unique:
        raw = raw.reset_index(drop=True)
    report.rows_read = len(raw)
    if raw.empty:
        raise InputError("has a header but no data rows", source=name)
    raw = set_aside_column_notes(_drop_blank_rows(raw, report), report)
    if raw.empty:
        raise InputError("has no rows with any values", source=name)
    try:
        mapping = match_columns([c for c in raw.columns if c != "geometry"], columns)
    except KeyError as exc:
        raise InputError(f"has no column {exc.args[0]!r} (asked for in the column mapping)", source=name) from None
    if org_code_column is None:
        org_code_column = next((c for c in raw.columns if fold(c) in ORG_CODE_HEADERS), None)
    raw = set_aside_aggregates(raw, report, code=mapping.get("asset_id"), name=mapping.get("name"), org_code=org_code_column,
                               identity=tuple(mapping.get(k) for k in ("address", "street_name", "postcode", "uprn", "x", "y")),
                               first_summed=mapping.get("floor_area_m2") or mapping.get("site_area_ha"))
    if raw.empty:
        raise InputError("has only total or subtotal rows, no site rows", source=name)
    raw = carry_sections(raw, report)
    if table.is_vector:
        gdf, geometry, placed, notes, repaired = _place_vector(raw, report, name, make_valid)
        point = np.isin(shapely.get_type_id(geometry.to_numpy()), (0, 4))  # Point, MultiPoint (no type names made)
        quality = np.where(placed, np.where(point, 1, 2), 0)  # _QUALITY's words
    else:
        geometry, placed, notes = _place_from_columns(raw, mapping, report, expect_coordinates)
        repaired = np.zeros(len(raw), bool)
        quality = placed.astype(np.int64)  # _QUALITY's words
    attrs = pd.DataFrame(raw.drop(columns="geometry")) if table.is_vector else raw
    canon = canonical_frame(attrs, mapping, source=name)
    if "organisation" not in mapping:
        owner_from_titles(canon, table_title_lines(table), report)
    _report_normalised(attrs, canon, mapping, report)
    report_areas(canon, mapping, attrs.index.to_numpy() + 1, report)
    land_areas(canon, mapping, attrs.index.to_numpy() + 1, report)
    if table.is_vector and repaired.any():
        canon["src_geometry_wkt"] = [shapely.to_wkt(g) if r else None for g, r in zip(raw.geometry, repaired, strict=True)]
    rows = raw.index.to_numpy() + 1
    canon["source_row"] = pd.array(rows, dtype="Int64")
    canon["asset_id"] = _unique_ids(canon["asset_id"], rows, Path(name).stem, report)
    canon["location_quality"] = words_column(_QUALITY, quality, canon.index)
    canon["location_note"] = _text_list_column(notes, canon.index)
    out = gpd.GeoDataFrame(canon, geometry=geometry.set_axis(canon.index), crs=MEASURE_CRS, copy=False)  # canon is ours
    _place_by_postcode(out, postcodes, report)
    # Areas measured in BNG where the source gives none.
    poly = np.isin(shapely.get_type_id(out.geometry.to_numpy()), (3, 6))  # Polygon, MultiPolygon (no type names made)
    need_area = poly & out["site_area_ha"].isna().to_numpy()
    if need_area.any():
        out.loc[need_area, "site_area_ha"] = out.geometry[need_area].area / 10_000
    report.count_placement(out["location_quality"])
    out = out[order_columns(out)]
    return out, report
