"""Joint sites: parcels that touch or lie within a small gap of each other, offered together.

An anchor network (a council, an NHS trust, a college...) often holds land in
pieces that sit side by side: a car park beside a clinic beside a depot. Alone
each is too small or awkward for a community use; together they may make a
site. :func:`joint_sites` groups parcels whose boundaries are within ``gap_m``
metres (default 5 m, so a footpath or a fence line between them does not split
them) into candidate joint sites, with their combined area and the list of
owners, whether one anchor holds them all or several do.

Grouping is transitive (A near B and B near C puts A, B and C together): the
pairs come from one ``STRtree.query(..., predicate="dwithin")`` in EPSG:27700
and the groups are the connected components of those pairs (union-find).
"""
from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from assets_map.engine.geo import repair_geometries, repair_invalid
from assets_map.io.report import InputError
from assets_map.io.sources import open_table
from assets_map.schema import MEASURE_CRS

DEFAULT_GAP_M = 5.0
#: Priorities that count as flagged candidates.
FLAGGED = ("High", "Medium", "Low")
_PRIORITY_ORDER = {"High": 0, "Medium": 1, "Low": 2, "not flagged": 3}


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected-component label (0..k-1, in order of first member) for ``n`` nodes and edge arrays."""
    parent = np.arange(n)

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:  # path compression
            parent[i], i = root, parent[i]
        return root

    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(i) for i in range(n)], dtype=np.int64)
    _, labels = np.unique(roots, return_inverse=True)
    return labels


def near_pairs(geoms: gpd.GeoSeries, *, gap_m: float = DEFAULT_GAP_M) -> pd.DataFrame:
    """Every pair of geometries (``i < j``, positions) whose distance is at most ``gap_m``, with the distance.

    The geometries must be in a metric CRS (EPSG:27700). Missing or empty
    geometries never pair.
    """
    arr = geoms.to_numpy()
    ok = ~(pd.isna(arr) | shapely.is_empty(arr))
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        return pd.DataFrame({"i": np.array([], int), "j": np.array([], int), "distance_m": np.array([], float)})
    tree = shapely.STRtree(arr[idx])
    a, b = tree.query(arr[idx], predicate="dwithin", distance=gap_m)
    keep = a < b
    i, j = idx[a[keep]], idx[b[keep]]
    dist = shapely.distance(arr[i], arr[j])
    return pd.DataFrame({"i": i, "j": j, "distance_m": dist})


def group_parcels(parcels: gpd.GeoDataFrame, *, gap_m: float = DEFAULT_GAP_M) -> pd.Series:
    """Label each parcel with its group (an integer; parcels with no geometry get -1).

    Parcels in the same group are chained together by gaps of at most ``gap_m`` metres.
    """
    _check(parcels, gap_m)
    geom = parcels.geometry.to_crs(MEASURE_CRS)
    pairs = near_pairs(geom, gap_m=gap_m)
    labels = _components(len(parcels), pairs["i"].to_numpy(), pairs["j"].to_numpy())
    present = ~(geom.isna() | geom.is_empty).to_numpy()
    out = np.where(present, labels, -1)
    # Renumber the placed groups 0..k-1 in order of first appearance.
    _, first = np.unique(out[present], return_index=True)
    order = {lab: k for k, lab in enumerate(out[present][np.sort(first)])}
    return pd.Series([order.get(v, -1) for v in out], index=parcels.index, name="group", dtype="int64")


def _check(parcels: gpd.GeoDataFrame, gap_m: float, owner: str | None = None) -> None:
    problems = []
    if not isinstance(parcels, gpd.GeoDataFrame):
        problems.append("parcels must be a GeoDataFrame")
    elif parcels.crs is None:
        problems.append("the parcels have no CRS")
    if not np.isfinite(gap_m) or gap_m < 0:
        problems.append(f"the gap must be a distance of 0 metres or more (got {gap_m})")
    elif gap_m > 500:
        problems.append(f"a gap of {gap_m:g} m is not adjacency; use at most 500 m")
    if owner is not None and isinstance(parcels, gpd.GeoDataFrame) and owner not in parcels.columns:
        problems.append(f"there is no owner column {owner!r} (columns: {', '.join(map(str, parcels.columns[:12]))})")
    if problems:
        raise InputError(problems)


def _text(v) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    s = str(v).strip()
    return s or None


def joint_sites(
    parcels: gpd.GeoDataFrame,
    *,
    gap_m: float = DEFAULT_GAP_M,
    owner: str = "organisation",
    id_column: str = "asset_id",
    name_column: str = "name",
    min_parcels: int = 2,
    several_owners_only: bool = False,
    drop_excluded: bool = True,
    outlines: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Group touching or nearby parcels into candidate joint sites.

    Parameters
    ----------
    parcels : GeoDataFrame
        Land and buildings (polygons or points), e.g. the assets of an analysis or
        parcel layers of several anchors. Any CRS; measured in EPSG:27700.
    gap_m : float
        Parcels whose boundaries are at most this far apart join the same site (default 5 m).
    owner : str
        Column naming the owner of each parcel (the anchor institution).
    id_column, name_column : str
        Columns identifying and naming each parcel; positions are used where absent.
    min_parcels : int
        Smallest number of parcels that makes a joint site (default 2).
    several_owners_only : bool
        Keep only the sites held by two or more owners (an anchor network's joint offers).
    drop_excluded : bool
        Leave out parcels marked ``excluded`` (parks, greenspace, allotments, community use):
        they are never offered.
    outlines : GeoDataFrame, optional
        The freehold parcels of an analysis (its ``parcels`` layer: ``parcel_id`` and outline). A site given as
        a point that carries a ``parcel_id`` is grouped by that parcel's outline instead of its point
        (:func:`assets_map.engine.parcels.site_outlines`), so two sites in neighbouring parcels that touch are
        offered together; the reasons say the outlines are registered freehold parcels, not title plans.

    Returns
    -------
    GeoDataFrame (EPSG:27700), one row per joint site, largest first:
    ``joint_site_id``, ``parcels``, ``owners_count``, ``owners`` ("; "-separated),
    ``several_owners``, ``asset_ids``, ``names``, ``area_ha`` (measured area of the
    union of the polygons, overlaps counted once), ``stated_area_ha`` (areas the
    registers give for parcels that are points), ``largest_gap_m``,
    ``from_freehold_parcels`` (sites drawn as their freehold parcel's outline), ``flagged``
    (parcels flagged as candidates), ``best_priority``, ``reasons``, and the union
    of the parcels as geometry. ``attrs["excluded_dropped"]`` counts the parcels
    left out as excluded, ``attrs["gap_m"]`` the gap used.
    """
    _check(parcels, gap_m, owner)
    if min_parcels < 1:
        raise InputError(f"min_parcels must be 1 or more (got {min_parcels})")
    src = parcels.to_crs(MEASURE_CRS)
    dropped = 0
    if drop_excluded and "excluded" in src.columns:
        ex = src["excluded"].fillna(False).astype(bool).to_numpy()
        dropped = int(ex.sum())
        src = src[~ex]
    from_parcel = np.zeros(len(src), bool)
    if outlines is not None:
        from assets_map.engine.parcels import site_outlines

        geoms, from_parcel, _ = site_outlines(src, outlines)
        src = src.set_geometry(gpd.GeoSeries(geoms, index=src.index, crs=MEASURE_CRS))
    src = src.assign(_from_parcel=from_parcel)
    geom, _ = repair_invalid(src.geometry)
    src = src.set_geometry(geom)
    src = src[~(src.geometry.isna() | src.geometry.is_empty)].reset_index(drop=True)
    pairs = near_pairs(src.geometry, gap_m=gap_m)
    labels = _components(len(src), pairs["i"].to_numpy(), pairs["j"].to_numpy())
    ids = src[id_column].map(_text) if id_column in src.columns else pd.Series([f"#{i + 1}" for i in range(len(src))])
    names = src[name_column].map(_text) if name_column in src.columns else pd.Series([None] * len(src))
    owners = src[owner].map(_text).fillna("owner not stated")
    stated = pd.to_numeric(src["site_area_ha"], errors="coerce") if "site_area_ha" in src.columns else pd.Series(np.nan, index=src.index)
    prio = src["priority"] if "priority" in src.columns else pd.Series([None] * len(src))
    pair_gap = pd.Series(pairs["distance_m"].to_numpy(), index=labels[pairs["i"].to_numpy()]) if len(pairs) else pd.Series(dtype=float)
    rows = []
    geoms = src.geometry.to_numpy()
    for lab in np.unique(labels):
        members = np.flatnonzero(labels == lab)
        if len(members) < min_parcels:
            continue
        who = sorted(set(owners.iloc[members]))
        if several_owners_only and len(who) < 2:
            continue
        g = shapely.union_all(geoms[members])
        poly_area = shapely.area(g) / 10_000.0
        is_point = shapely.get_type_id(geoms[members]) == 0  # Point
        point_stated = stated.iloc[members][is_point]
        gaps = pair_gap.loc[[lab]] if lab in pair_gap.index else pd.Series(dtype=float)
        largest = float(gaps.max()) if len(gaps) else 0.0
        touching = int((gaps <= 1e-6).sum()) if len(gaps) else 0
        flagged = [i for i in members if prio.iloc[i] in FLAGGED]
        best = min((prio.iloc[i] for i in members if prio.iloc[i] in _PRIORITY_ORDER),
                   key=_PRIORITY_ORDER.get, default=None)
        owner_counts = owners.iloc[members].value_counts()
        held = ", ".join(f"{o} ({n})" for o, n in sorted(owner_counts.items()))
        why = [f"{len(members)} parcels within {gap_m:g} m of each other held by "
               + (f"{len(who)} owners: {held}" if len(who) > 1 else f"one owner: {held}")]
        why.append(f"{touching} touching pair{'s' if touching != 1 else ''}; the widest gap bridged is {largest:.1f} m"
                   if len(members) > 1 else "a single parcel")
        if poly_area > 0:
            why.append(f"combined measured area {poly_area:.2f} ha (overlaps counted once, EPSG:27700)")
        if is_point.any():
            known = point_stated.dropna()
            why.append(f"{int(is_point.sum())} parcel{'s are' if is_point.sum() != 1 else ' is'} a point, not a boundary: "
                       + (f"registers state {known.sum():.2f} ha for {len(known)}" if len(known) else "no area stated")
                       + "; adjacency of points is only a hint")
        on_parcel = int(src["_from_parcel"].to_numpy()[members].sum())
        if on_parcel:
            why.append(f"{on_parcel} of the sites {'is' if on_parcel == 1 else 'are'} drawn as the registered freehold "
                       "parcel at its point (HM Land Registry INSPIRE Index Polygon): approximate outlines, not title "
                       "plans")
        if flagged:
            why.append(f"{len(flagged)} of the parcels {'is' if len(flagged) == 1 else 'are'} flagged as underused "
                       f"(best priority {best})")
        rows.append({
            "parcels": int(len(members)),
            "owners_count": len(who),
            "owners": "; ".join(who),
            "several_owners": len(who) > 1,
            "asset_ids": "; ".join(str(x) for x in ids.iloc[members]),
            "names": "; ".join(n or "(no name)" for n in names.iloc[members]),
            "area_ha": round(poly_area, 4),
            "stated_area_ha": round(float(point_stated.sum()), 4) if point_stated.notna().any() else np.nan,
            "largest_gap_m": round(largest, 2),
            "from_freehold_parcels": on_parcel,
            "flagged": len(flagged),
            "best_priority": best,
            "reasons": "; ".join(why),
            "geometry": g,
        })
    cols = ["joint_site_id", "parcels", "owners_count", "owners", "several_owners", "asset_ids", "names", "area_ha",
            "stated_area_ha", "largest_gap_m", "from_freehold_parcels", "flagged", "best_priority", "reasons", "geometry"]
    if not rows:
        out = gpd.GeoDataFrame({c: [] for c in cols}, geometry="geometry", crs=MEASURE_CRS)
    else:
        out = gpd.GeoDataFrame(rows, geometry="geometry", crs=MEASURE_CRS)
        out["_tot"] = out["area_ha"] + out["stated_area_ha"].fillna(0)
        out = out.sort_values(["several_owners", "_tot", "parcels"], ascending=[False, False, False], kind="stable")
        out = out.drop(columns="_tot").reset_index(drop=True)
        out.insert(0, "joint_site_id", [f"J{i + 1:04d}" for i in range(len(out))])
    out.attrs["excluded_dropped"] = dropped
    out.attrs["gap_m"] = gap_m
    return out[cols]


def read_parcels(path: str | os.PathLike, *, name: str | None = None, layer: str | None = None,
                 owner: str = "organisation") -> gpd.GeoDataFrame:
    """Read one parcel layer safely into EPSG:27700; the file's name is the owner where it names none.

    Invalid polygons are repaired after reprojection, keeping every polygonal part (``make_valid`` on
    those rows only); ``attrs["repair"]`` holds the report line with the area before and after.
    """
    t = open_table(path, name=name, layer=layer)
    if not t.is_vector:
        raise InputError("a parcel layer must be a map layer (GeoPackage, GeoJSON or Shapefile)", source=t.name)
    gdf = t.frame
    if gdf.crs is None:
        raise InputError("the parcel layer has no CRS", source=t.name)
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)].to_crs(MEASURE_CRS)
    # Repaired after reprojection, so a ring that crosses itself only in EPSG:27700 is caught too.
    fix = repair_geometries(gdf.geometry)
    gdf = gdf.set_geometry(fix.geometry)
    if fix.repaired.any():
        gdf.attrs["repair"] = fix.message()
    stem = Path(t.name).stem.replace("_", " ")
    if owner not in gdf.columns:
        gdf[owner] = stem
    gdf["source"] = t.name
    if "name" not in gdf.columns:
        label = next((c for c in gdf.columns if str(c).lower() in ("name", "site_name", "distname", "propertyname")), None)
        gdf["name"] = gdf[label].astype("string") if label else pd.NA
    if "asset_id" not in gdf.columns:
        gdf["asset_id"] = [f"{Path(t.name).stem}:{i + 1}" for i in range(len(gdf))]
    return gdf.reset_index(drop=True)
