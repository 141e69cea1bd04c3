"""The need a site serves: area-weighted need over a catchment, beside its own LSOA's need.

A site serves the people around it, not just the one LSOA its point falls in:
a site on the edge of a deprived estate may sit in a better-off LSOA. So
:func:`catchment_need` draws a catchment of ``radius_m`` (default 800 m, about
ten minutes' walk, straight-line) around each site and averages the need of
the LSOAs it covers, weighted by the area of each LSOA inside the catchment.

Area weighting assumes people are spread evenly across each LSOA (no
population layer is used); the text says so. Method: ``STRtree`` pairs of
(catchment, LSOA), then the intersection area per pair, with a
``contains_properly`` fast path where the LSOA lies wholly inside the catchment
(its own area) or the catchment wholly inside the LSOA (the catchment's area):
measured 15 s vs 57 s for ``geopandas.overlay`` at 1M sites x 33k LSOAs
(DESIGN.md). One pure function, GeoDataFrame in, GeoDataFrame out (tobler style).
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from assets_map.engine.parcels import FROM_PARCEL, site_outlines
from assets_map.engine.priority import decile_text
from assets_map.io.report import InputError
from assets_map.schema import MEASURE_CRS

DEFAULT_CATCHMENT_M = 800.0
AREA_WEIGHT_NOTE = "area-weighted: assumes people are spread evenly across each LSOA"


def area_weights(zones: np.ndarray, areas: np.ndarray) -> pd.DataFrame:
    """Intersection area of every (zone, area) pair that overlaps, from geometry arrays in metres.

    Returns a frame of ``zone`` (position), ``area`` (position) and ``overlap_m2``;
    pairs that only touch are dropped.
    """
    tree = shapely.STRtree(areas)
    zi, ai = tree.query(zones, predicate="intersects")
    if not len(zi):
        return pd.DataFrame({"zone": np.array([], int), "area": np.array([], int), "overlap_m2": np.array([], float)})
    z, a = zones[zi], areas[ai]
    overlap = np.full(len(zi), np.nan)
    shapely.prepare(z)
    inner = shapely.contains_properly(z, a)  # the area lies wholly inside the zone
    overlap[inner] = shapely.area(a[inner])
    rest = ~inner
    shapely.prepare(a)
    outer = np.zeros(len(zi), bool)
    outer[rest] = shapely.contains_properly(a[rest], z[rest])  # the zone lies wholly inside the area
    overlap[outer] = shapely.area(z[outer])
    cut = rest & ~outer
    if cut.any():
        overlap[cut] = shapely.area(shapely.intersection(z[cut], a[cut]))
    keep = overlap > 0
    return pd.DataFrame({"zone": zi[keep], "area": ai[keep], "overlap_m2": overlap[keep]})


def catchment_need(
    sites: gpd.GeoDataFrame,
    needs: gpd.GeoDataFrame,
    *,
    radius_m: float = DEFAULT_CATCHMENT_M,
    score_column: str = "need_score",
    decile_column: str = "need_decile",
    most_deprived: int = 3,
    parcels: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Add the area-weighted need of each site's catchment.

    Parameters
    ----------
    sites : GeoDataFrame (points or polygons), any CRS
    needs : need areas with ``code``, ``score_column`` and ``decile_column`` (the
        ``needs`` of an analysis)
    radius_m : catchment radius around the site's edge (default 800 m, straight-line)
    most_deprived : deciles counted as "most deprived" (1..this)
    parcels : the freehold parcels of the analysis (its ``parcels`` layer). A site given as a point that carries
        a ``parcel_id`` has its catchment drawn around that parcel's outline (everything within ``radius_m`` of
        the outline), not around its point (:func:`assets_map.engine.parcels.site_outlines`)

    Returns
    -------
    A copy of ``sites`` with ``catchment_need_score`` (area-weighted mean of
    ``score_column`` over the covered part of the catchment, 0-100, 100 = most
    deprived), ``catchment_most_deprived_share`` (share of the covered catchment
    in decile 1..``most_deprived`` areas), ``catchment_coverage`` (share of the
    catchment covered by need areas with data), ``catchment_areas`` (LSOAs
    touched, as "; "-separated codes), ``catchment_from`` (what the radius is measured from: the site's point,
    its own outline, or its freehold parcel's outline, approximate) and ``catchment_text``.
    """
    problems = []
    if not np.isfinite(radius_m) or radius_m <= 0:
        problems.append(f"the catchment radius must be more than 0 metres (got {radius_m})")
    for col in ("code", score_column, decile_column):
        if col not in needs.columns:
            problems.append(f"the need areas have no {col!r} column")
    if sites.crs is None or needs.crs is None:
        problems.append("sites and need areas need a CRS")
    if problems:
        raise InputError(problems)
    out = sites.copy()
    geom, _, measured_from = site_outlines(sites, parcels)
    placed = ~(pd.isna(geom) | shapely.is_empty(geom))
    zones = shapely.buffer(geom[placed], radius_m, quad_segs=16)
    n_need = needs.to_crs(MEASURE_CRS)
    score = pd.to_numeric(n_need[score_column], errors="coerce").to_numpy(dtype=float)
    decile = pd.to_numeric(n_need[decile_column], errors="coerce").to_numpy(dtype=float)
    has = np.isfinite(score)
    w = area_weights(zones, n_need.geometry.to_numpy())
    touched = np.zeros(len(zones), dtype=bool)  # zones meeting a need area, scored or not
    touched[w["zone"].to_numpy()] = True
    w = w[has[w["area"].to_numpy()]]
    zone_area = shapely.area(zones)
    n = len(out)
    res_score = np.full(n, np.nan)
    res_share = np.full(n, np.nan)
    res_cov = np.full(n, np.nan)
    res_codes: list[str | None] = [None] * n
    res_text = ["Catchment need: not assessed, the site has no location"] * n
    pos = np.flatnonzero(placed)
    codes = n_need["code"].astype("string").to_numpy()
    groups = {z: g for z, g in w.groupby("zone", sort=False)}
    for k, p in enumerate(pos):
        g = groups.get(k)
        if g is None:
            res_cov[p] = 0.0
            res_text[p] = (f"Catchment need ({radius_m:g} m): the need areas around it have no deprivation score, "
                           "so its need is not assessed" if touched[k] else
                           f"Catchment need ({radius_m:g} m): the catchment lies outside the need areas loaded, "
                           "so its need is not assessed")
            continue
        a = g["area"].to_numpy()
        ov = g["overlap_m2"].to_numpy()
        covered = ov.sum()
        res_score[p] = float(np.sum(score[a] * ov) / covered)
        dec_ok = np.isfinite(decile[a])
        res_share[p] = float(ov[dec_ok & (decile[a] <= most_deprived)].sum() / covered)
        res_cov[p] = float(min(1.0, covered / zone_area[k]))
        order = np.argsort(-ov)
        res_codes[p] = "; ".join(str(codes[i]) for i in a[order])
        partial = "" if res_cov[p] >= 0.995 else f"; only {res_cov[p]:.0%} of it lies in need areas with data"
        around = ("the site's freehold parcel (its registered outline, approximate: not a title plan)"
                  if measured_from[p] == FROM_PARCEL else "the site")
        res_text[p] = (f"Catchment need ({radius_m:g} m around {around}): need score {res_score[p]:.1f} of 100 "
                       f"over {len(a)} LSOA{'s' if len(a) != 1 else ''}, {res_share[p]:.0%} of the catchment in "
                       f"decile 1-{most_deprived} areas ({AREA_WEIGHT_NOTE}{partial})")
    out["catchment_need_score"] = np.round(res_score, 2)
    out["catchment_most_deprived_share"] = np.round(res_share, 4)
    out["catchment_coverage"] = np.round(res_cov, 4)
    out["catchment_areas"] = res_codes
    out["catchment_from"] = pd.array(measured_from, dtype="string")
    out["catchment_text"] = res_text
    return out


def lsoa_need_text(row) -> str:
    """The need of the one LSOA a site falls in, in words (beside the catchment's)."""
    code = row.get("need_area_code")
    if not isinstance(code, str) or not code:
        return "Own LSOA need: not assessed (the site is not placed in a need area)"
    score = row.get("need_score")
    decile = row.get("need_decile")
    name = row.get("need_area_name")
    place = f"{code} {name}" if isinstance(name, str) and name else code
    s = f"need score {float(score):.1f} of 100" if pd.notna(score) else "no need score"
    d = f", {decile_text(int(decile))}" if pd.notna(decile) else ""
    return f"Own LSOA need: {place}: {s}{d}"
