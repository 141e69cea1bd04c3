"""Coordinates and CRS: decide what the numbers are, check them against the UK, measure in BNG.

Nothing here guesses silently: every decision that is not stated by the source
(a CRS read from the values, a swapped pair, an easting in a latitude column)
comes back as a note that the import report shows by row.
"""
from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import shapely

from assets_map.engine.arrays import paused_gc
from assets_map.schema import DISPLAY_CRS, MEASURE_CRS

# Generous UK envelopes (Great Britain, Northern Ireland, islands).
UK_LON = (-9.0, 2.5)
UK_LAT = (49.0, 61.5)
BNG_E = (0.0, 700_000.0)
BNG_N = (0.0, 1_300_000.0)

LONLAT = "lonlat"
BNG = "bng"


def _between(v: np.ndarray, lo_hi: tuple[float, float]) -> np.ndarray:
    return (v >= lo_hi[0]) & (v <= lo_hi[1])


#: classify_xy's labels, by the small integer codes the placing works with (the names below).
_XY_KINDS = ("outside", "missing", LONLAT, "latlon", BNG, "bng_swapped")
_OUTSIDE, _MISSING, _LONLAT, _LATLON, _BNG, _BNG_SWAPPED = range(len(_XY_KINDS))
#: The coordinate system the values of each code are read in (either order).
_XY_READ_AS = {_LONLAT: LONLAT, _LATLON: LONLAT, _BNG: BNG, _BNG_SWAPPED: BNG}


def classify_xy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Classify each (x, y) pair by what it looks like.

    Returns an array of labels: ``"lonlat"``, ``"latlon"`` (a swapped WGS84 pair),
    ``"bng"``, ``"bng_swapped"``, ``"missing"`` or ``"outside"`` (finite but in
    no UK envelope, e.g. 0,0 or an easting in a latitude column).
    """
    return np.array(_XY_KINDS, dtype=object)[_xy_codes(x, y)]


def _xy_codes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`classify_xy` as codes into ``_XY_KINDS`` (int8: no million-label object array to compare)."""
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    out = np.full(x.shape, _OUTSIDE, dtype=np.int8)
    finite = np.isfinite(x) & np.isfinite(y)
    out[~finite] = _MISSING
    lonlat = finite & _between(x, UK_LON) & _between(y, UK_LAT)
    latlon = finite & _between(y, UK_LON) & _between(x, UK_LAT) & ~lonlat
    # BNG: both values above 1000 metres rules out degrees; (0,0) is never a real asset.
    big = finite & (np.abs(x) > 1000) & (np.abs(y) > 1000)
    bng = big & _between(x, BNG_E) & _between(y, BNG_N) & ~(x > 700_000)
    bng_sw = big & ~bng & _between(y, BNG_E) & _between(x, BNG_N)
    out[lonlat] = _LONLAT
    out[latlon] = _LATLON
    out[bng] = _BNG
    out[bng_sw] = _BNG_SWAPPED
    return out


_CRS_LABELS = {
    LONLAT: ("wgs84", "wgs 84", "4326", "epsg:4326", "lat", "lon", "etrs89", "4258"),
    BNG: ("osgb", "27700", "british national grid", "bng", "national grid", "british coordinate", "ordnance survey", "os grid"),
}


def crs_from_label(label: str | None) -> str | None:
    """Map a register's CRS label ("WGS84", "OSGB36", "British National Grid") to a kind."""
    if label is None or (isinstance(label, float) and np.isnan(label)):
        return None
    text = str(label).strip().lower()
    if not text:
        return None
    for kind, words in _CRS_LABELS.items():
        if any(w in text for w in words):
            return kind
    return None


@dataclass
class PointResult:
    """Points placed from coordinate columns, with what was decided about each row."""

    geometry: gpd.GeoSeries  # EPSG:27700, None where not placed
    placed: np.ndarray  # bool per row
    notes: list[str | None]
    kind: str  # dominant kind of the file: lonlat or bng or ""
    fixed_rows: dict[str, list[int]] = field(default_factory=dict)
    bad_rows: dict[str, list[int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def to_float(values: pd.Series) -> np.ndarray:
    """Parse numbers leniently (spaces, thousands commas); anything else becomes NaN."""
    from assets_map.io.normalise import _PLAIN_NUMBER, ASCII_SPACE, _ascii_text, numbers_from_ascii

    got = _ascii_text(values) if not pd.api.types.is_numeric_dtype(values) else None
    if got is not None and got[1].all():  # the same rules by Arrow's kernels (a million coordinates)
        plain = pc.match_substring_regex(got[0], _PLAIN_NUMBER)
        if pc.all(plain).as_py() is not False:  # every cell a plain decimal or missing: nothing to trim or take out
            return numbers_from_ascii(got[0], values.index, plain=plain).to_numpy()
        text = pc.replace_substring(pc.utf8_trim(got[0], ASCII_SPACE), ",", "")
        return numbers_from_ascii(pc.replace_substring(text, " ", ""), values.index).to_numpy()
    s = values.astype("string").str.strip().str.replace(",", "", regex=False).str.replace(" ", "", regex=False)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def points_from_columns(
    x: pd.Series,
    y: pd.Series,
    *,
    stated_crs: pd.Series | str | None = None,
    row_numbers: np.ndarray | None = None,
    x_name: str = "x",
    y_name: str = "y",
) -> PointResult:
    """Make BNG points from two coordinate columns, deciding their CRS from the values.

    The file's kind (WGS84 lon/lat or BNG easting/northing) is the majority kind
    of its rows; rows whose pair is swapped are fixed and reported, rows in no UK
    envelope are left unplaced and reported. A stated CRS that contradicts the
    values is reported and the values win.
    """
    xv, yv = to_float(x), to_float(y)
    n = len(xv)
    rows = np.arange(1, n + 1) if row_numbers is None else np.asarray(row_numbers)
    codes = _xy_codes(xv, yv)  # into _XY_KINDS
    counts = np.bincount(codes, minlength=len(_XY_KINDS))
    lonlat_n = int(counts[_LONLAT] + counts[_LATLON])
    bng_n = int(counts[_BNG] + counts[_BNG_SWAPPED])
    kind = LONLAT if lonlat_n >= bng_n and lonlat_n else (BNG if bng_n else "")
    res_notes: list[str | None] = [None] * n
    warnings: list[str] = []
    fixed: dict[str, list[int]] = {}
    bad: dict[str, list[int]] = {}

    # Stated CRS, per row or for the file.
    if stated_crs is not None and kind:
        stated = stated_crs if isinstance(stated_crs, pd.Series) else pd.Series([stated_crs] * n)
        # each distinct label read once (a register repeats one or two labels a million times)
        if isinstance(stated.dtype, pd.StringDtype):  # factorised in its own dtype: no million Python strings
            from assets_map.io.normalise import factorized

            said, uniques = factorized(stated)
            uniques = np.asarray(uniques.astype(object), dtype=object)
        else:
            said, uniques = pd.factorize(stated.astype(object), use_na_sentinel=False)
        kind_code = {None: 0, LONLAT: 1, BNG: 2}  # the kinds as small integers: 0 none
        stated_kind = np.array([kind_code[crs_from_label(u)] for u in uniques] + [0], dtype=np.int8)[said]
        value_kind = np.array([kind_code[_XY_READ_AS.get(c)] for c in range(len(_XY_KINDS))], dtype=np.int8)[codes]
        contra_at = np.flatnonzero((stated_kind != 0) & (value_kind != 0) & (stated_kind != value_kind))
        contra = [int(r) for r in rows[contra_at]]
        if contra:
            warnings.append(
                f"the stated coordinate reference system contradicts the values in {len(contra)} rows; "
                f"the values were used ({_rows(contra)})"
            )
            fixed["stated CRS contradicted by the values; CRS taken from the values"] = contra

    ex = np.full(n, np.nan)
    ny = np.full(n, np.nan)
    # WGS84 rows (either order), transformed to BNG.
    ll = codes == _LONLAT
    sw = codes == _LATLON
    lon = np.where(sw, yv, xv)
    lat = np.where(sw, xv, yv)
    wgs = ll | sw
    if wgs.any():  # the transformation GeoSeries.to_crs makes, on the coordinate arrays (no points made twice)
        ex[wgs], ny[wgs] = _to_bng().transform(lon[wgs], lat[wgs])
    b = codes == _BNG
    bs = codes == _BNG_SWAPPED
    ex[b], ny[b] = xv[b], yv[b]
    ex[bs], ny[bs] = yv[bs], xv[bs]
    for mask, msg in (
        (sw, f"latitude and longitude were swapped ({x_name} held latitude, {y_name} longitude); swapped back"),
        (bs, f"easting and northing were swapped ({x_name} held the northing); swapped back"),
    ):
        if mask.any():
            fixed[msg] = [int(r) for r in rows[mask]]
            for i in np.flatnonzero(mask):
                res_notes[i] = msg
    if kind and (b | bs).any() and wgs.any():
        warnings.append(
            f"the file mixes WGS84 longitude/latitude ({int(wgs.sum())} rows) and British National Grid "
            f"easting/northing ({int((b | bs).sum())} rows); each row was read by its own values"
        )
    out = codes == _OUTSIDE
    if out.any():
        msg = ("coordinates are not in the UK as longitude/latitude or as British National Grid "
               "easting/northing (for example an easting in a latitude column, or 0,0)")
        bad[msg] = [int(r) for r in rows[out]]
        for i in np.flatnonzero(out):
            res_notes[i] = f"{msg}: {x_name}={xv[i]:g}, {y_name}={yv[i]:g}"
    placed = np.isfinite(ex) & np.isfinite(ny)
    # A million point objects: the cyclic collector would walk the whole heap several times while they are made
    # (0.4 s of a 1M-row read, measured); nothing made here is cyclic.
    with paused_gc():
        if placed.all():
            geoms = shapely.points(ex, ny)
        else:
            geoms = np.full(n, None, dtype=object)
            if placed.any():
                geoms[placed] = shapely.points(ex[placed], ny[placed])
    return PointResult(
        geometry=gpd.GeoSeries(geoms, crs=MEASURE_CRS),
        placed=placed,
        notes=res_notes,
        kind=kind,
        fixed_rows=fixed,
        bad_rows=bad,
        warnings=warnings,
    )


@functools.lru_cache(maxsize=1)
def _to_bng():
    from pyproj import CRS, Transformer

    return Transformer.from_crs(CRS.from_user_input(DISPLAY_CRS), CRS.from_user_input(MEASURE_CRS), always_xy=True)


def _rows(rows: list[int]) -> str:
    from assets_map.io.report import rows_text

    return rows_text(rows)


def guess_crs_from_bounds(gdf: gpd.GeoDataFrame) -> str | None:
    """For a layer with no CRS: EPSG:4326 or EPSG:27700 when every coordinate fits one UK envelope."""
    geom = gdf.geometry[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if geom.empty:
        return None
    minx, miny, maxx, maxy = geom.total_bounds
    if UK_LON[0] <= minx and maxx <= UK_LON[1] and UK_LAT[0] <= miny and maxy <= UK_LAT[1]:
        return DISPLAY_CRS
    if BNG_E[0] <= minx and maxx <= BNG_E[1] and BNG_N[0] <= miny and maxy <= BNG_N[1] and maxx > 1000:
        return MEASURE_CRS
    return None


def to_measure(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Reproject to EPSG:27700 (a no-op when already there), repairing any polygon the move made invalid."""
    if gdf.crs is None:
        raise ValueError("layer has no CRS")
    if gdf.crs.to_epsg() == 27700:
        return gdf
    out = gdf.to_crs(MEASURE_CRS)
    fix = repair_geometries(out.geometry)
    return out.set_geometry(fix.geometry) if fix.repaired.any() else out


def outside_uk(gdf_bng: gpd.GeoDataFrame) -> np.ndarray:
    """True for non-empty geometries whose centre is outside the British National Grid envelope."""
    geom = gdf_bng.geometry
    ok = ~(geom.isna() | geom.is_empty)
    out = np.zeros(len(gdf_bng), dtype=bool)
    if ok.any():
        b = geom[ok].bounds
        cx = ((b.minx + b.maxx) / 2).to_numpy()
        cy = ((b.miny + b.maxy) / 2).to_numpy()
        bad = ~(_between(cx, BNG_E) & _between(cy, BNG_N)) | ~np.isfinite(cx) | ~np.isfinite(cy)
        out[np.flatnonzero(ok.to_numpy())] = bad
    return out


_POLYGONAL = ("Polygon", "MultiPolygon")


def polygonal_parts(g):
    """The Polygon and MultiPolygon parts of ``g`` as one geometry, or None when it has none.

    Parameters
    ----------
    g : shapely geometry (a GeometryCollection is opened; lines and points in it are dropped)

    Returns
    -------
    A Polygon, a valid MultiPolygon, or None.
    """
    polys = [q for p in shapely.get_parts(g) for q in shapely.get_parts(p)
             if q.geom_type == "Polygon" and not q.is_empty]
    if not polys:
        return None
    if len(polys) == 1:
        return polys[0]
    multi = shapely.MultiPolygon(polys)
    return multi if multi.is_valid else shapely.union_all(polys)


def _repair_one(g):
    """Repair one invalid geometry; a polygon stays polygonal. Returns (geometry, method or None if kept)."""
    if g.geom_type not in _POLYGONAL:
        return shapely.make_valid(g), "linework"
    best, best_area, how = None, -1.0, None
    # "structure" unions overlapping shells and never returns stray lines (on the 86 invalid City of
    # London parcels it kept the same area as "linework" to 0.0001% with no GeometryCollection).
    # "linework" is tried too when structure kept less than the area as drawn, and the larger is kept.
    for method in ("structure", "linework"):
        if method == "linework" and best is not None and best_area >= g.area * 0.999:
            break
        try:
            cand = polygonal_parts(shapely.make_valid(g, method=method))
        except Exception:  # a GEOS failure on one method: the other may succeed
            cand = None
        if cand is not None and cand.area > best_area + 1e-12 * max(best_area, 1.0):
            best, best_area, how = cand, cand.area, method
    if best is None:
        return g, None
    return best, how


@dataclass
class Repair:
    """What a repair did, row by row (areas in square metres, measured in EPSG:27700).

    Attributes
    ----------
    geometry : the repaired series (rows not repaired are untouched)
    repaired : True where a geometry was replaced
    kept : True where an invalid polygon was kept as given (repair would have left no area)
    area_before, area_after : per-row areas, NaN where the row was not touched
    """

    geometry: gpd.GeoSeries
    repaired: np.ndarray
    kept: np.ndarray
    area_before: np.ndarray
    area_after: np.ndarray

    def message(self, when: str = "") -> str | None:
        """The report line: how many rows, the area before and after and, beyond 0.1%, why.

        Parameters
        ----------
        when : a phrase such as "after reprojection to EPSG:27700" added to the line

        Returns
        -------
        The line, or None when nothing was repaired.
        """
        if not self.repaired.any():
            return None
        m = self.repaired
        before = float(np.nansum(self.area_before[m])) / 10_000
        after = float(np.nansum(self.area_after[m])) / 10_000
        change = f"{(after - before) / before * 100:+.3f}%" if before > 0 else "n/a: no area as drawn"
        when = f" {when}" if when else ""
        line = (f"repaired {int(m.sum())} invalid geometries{when} with make_valid, keeping every polygonal part: "
                f"area before {before:,.4f} ha, after {after:,.4f} ha (change {change})")
        if after > before * 1.001:
            line += ("; more than 0.1% gained because the source rings cross themselves, so their area as drawn "
                     "(shoelace) nets crossing lobes against each other while the repair counts each lobe once")
        elif after < before * 0.999:
            line += ("; more than 0.1% lost because parts of the source overlap one another (counted twice as "
                     "drawn, once after) or have no width (a spike or a sliver, which holds no land)")
        return line


def _area_m2(geom: np.ndarray, crs) -> np.ndarray:
    s = gpd.GeoSeries(geom, crs=crs)
    if crs is not None and crs.is_geographic:
        s = s.to_crs(MEASURE_CRS)
    return s.area.to_numpy()


def repair_geometries(geom: gpd.GeoSeries) -> Repair:
    """make_valid only the invalid rows, keeping every polygonal part, and measure each row before and after.

    A polygon row never becomes a line, a point, an empty geometry or a GeometryCollection: the polygonal
    parts of the repair are kept as a (Multi)Polygon, by whichever make_valid method keeps more area; a
    polygon whose repair has no area at all is kept as given and marked in ``kept``.

    Parameters
    ----------
    geom : the geometries (any CRS; areas are measured in EPSG:27700 when it is geographic)

    Returns
    -------
    Repair
    """
    n = len(geom)
    present = ~(geom.isna() | geom.is_empty)
    invalid = (present & ~geom.is_valid).to_numpy()
    nan = np.full(n, np.nan)
    if not invalid.any():
        return Repair(geom, invalid, np.zeros(n, bool), nan, nan.copy())
    src = geom.to_numpy()[invalid]
    out = np.empty(len(src), dtype=object)
    kept_sub = np.zeros(len(src), bool)
    for i, g in enumerate(src):
        out[i], how = _repair_one(g)
        kept_sub[i] = how is None
    fixed = geom.copy()
    fixed[invalid] = out
    repaired, kept = invalid.copy(), np.zeros(n, bool)
    kept[np.flatnonzero(invalid)[kept_sub]] = True
    repaired[kept] = False
    before, after = nan.copy(), nan.copy()
    before[invalid] = _area_m2(src, geom.crs)
    after[invalid] = _area_m2(out, geom.crs)
    return Repair(fixed, repaired, kept, before, after)


def repair_one(g):
    """Repair one geometry if it is invalid; a polygon stays a Polygon or MultiPolygon.

    Parameters
    ----------
    g : a shapely geometry

    Returns
    -------
    The geometry, repaired where it was invalid (kept as given where repair would leave no area).
    """
    if g is None or g.is_empty or g.is_valid:
        return g
    return _repair_one(g)[0]


def repair_invalid(geom: gpd.GeoSeries) -> tuple[gpd.GeoSeries, np.ndarray]:
    """Repair the invalid rows (see :func:`repair_geometries`); return the geometries and the mask repaired.

    Parameters
    ----------
    geom : the geometries

    Returns
    -------
    (repaired geometries, boolean mask of the rows replaced)
    """
    r = repair_geometries(geom)
    return r.geometry, r.repaired


def to_crs_valid(geom: gpd.GeoSeries, crs) -> tuple[gpd.GeoSeries, Repair]:
    """Reproject and check validity again: a parcel valid in one CRS can cross itself in another.

    Parameters
    ----------
    geom : the geometries (with a CRS)
    crs : the target CRS

    Returns
    -------
    (reprojected and, where needed, repaired geometries, the Repair of that second pass)
    """
    r = repair_geometries(geom.to_crs(crs))
    return r.geometry, r


def representative_points(geom: gpd.GeoSeries) -> gpd.GeoSeries:
    """A point guaranteed inside each geometry (points stay as they are)."""
    out = geom.copy()
    arr = geom.to_numpy()
    ids = shapely.get_type_id(arr)  # -1 where missing, 0 for a point: no million type names compared as text
    poly = pd.Series((ids > 0) & ~shapely.is_empty(arr), index=geom.index)
    if poly.any():
        out[poly] = geom[poly].representative_point()
    return out


#: Threads for GEOS and Arrow work that runs without the GIL (GEOS queries and distances, Parquet writing).
THREADS = max(1, min(os.cpu_count() or 1, 4))


def query_in_threads(tree: shapely.STRtree, geoms: np.ndarray, predicate: str, **options
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``tree.query(geoms, predicate=..., **options)`` split over the machine's cores: (positions in ``geoms``, in the tree).

    GEOS answers the queries without Python's GIL, so halves of ``geoms`` are answered side by side (the 1M-point join
    of 35,672 LSOAs in half the wall time on two cores). The pairs are the same; their order may differ, so callers
    sort them.
    """
    parts = THREADS if len(geoms) >= 1000 else 1
    if parts == 1:
        return tree.query(geoms, predicate=predicate, **options)
    bounds = np.linspace(0, len(geoms), parts + 1).astype(np.int64)
    with ThreadPoolExecutor(max_workers=parts) as pool:
        got = list(pool.map(lambda lo_hi: tree.query(geoms[lo_hi[0]:lo_hi[1]], predicate=predicate, **options),
                            zip(bounds[:-1], bounds[1:], strict=True)))
    return (np.concatenate([g[0] + lo for g, lo in zip(got, bounds[:-1], strict=True)]),
            np.concatenate([g[1] for g in got]))
