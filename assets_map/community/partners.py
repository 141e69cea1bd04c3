"""Partners nearby: the community facilities within walking distance of each site.

A community group taking on a site does better with neighbours to work with: a
library, a GP practice, schools and colleges, a community hub, a leisure
centre. :func:`partners_nearby` lists, for every site, each facility within
``distance_m`` (default 800 m, about ten minutes' walk) and how far it is.

Distances are **straight-line** (as the crow flies) in EPSG:27700 from the
edge of the site (a point, or the nearest edge of a polygon) to the facility,
not along streets: a walking route is usually 20-40% longer, and a river or a
motorway can make a near facility far. Every text this module writes says so.

Facilities come from any point layers the user loads (:func:`read_facilities`),
for example the Trafford anchor layers in ``../shared/data/trafford/anchors``.
"""
from __future__ import annotations

import os

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from assets_map.io.facilities import facility_kind, prepare_facilities  # noqa: F401 (callers use them with read_facilities)
from assets_map.io.report import InputError
from assets_map.schema import MEASURE_CRS

DEFAULT_WALK_M = 800.0
DISTANCE_NOTE = "straight-line distance, not a walking route"

def read_facilities(paths, *, layer: str | None = None, kind: str | None = None) -> gpd.GeoDataFrame:
    """Read one or more facility point layers (GeoJSON, GeoPackage, Shapefile) into one frame.

    Every file is read by :func:`assets_map.io.importer.import_file` (``kind="facilities"``), as the
    finder's uploads are; all problems are gathered
    and raised as one :class:`InputError`.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    from assets_map.io.importer import import_file

    frames, problems = [], []
    for p in paths:
        try:
            frames.append(import_file(p, kind="facilities", layer=layer, facility_kind=kind)[0])
        except InputError as exc:
            problems.append(str(exc))
    if problems:
        raise InputError(problems)
    if not frames:
        raise InputError("no facility layers given")
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=MEASURE_CRS)


def _site_ids(sites: gpd.GeoDataFrame, id_column: str) -> pd.Series:
    if id_column in sites.columns:
        return sites[id_column].astype("string")
    return pd.Series([str(i) for i in sites.index], index=sites.index, dtype="string")


def partners_nearby(
    sites: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    distance_m: float = DEFAULT_WALK_M,
    id_column: str = "asset_id",
) -> pd.DataFrame:
    """Every (site, facility) pair within ``distance_m`` straight-line metres, nearest first per site.

    Parameters
    ----------
    sites : GeoDataFrame of sites (points or polygons), any CRS
    facilities : output of :func:`read_facilities` / :func:`prepare_facilities`
    distance_m : walking distance, measured as a straight line (default 800 m)

    Returns
    -------
    DataFrame with ``site_id``, ``facility``, ``kind``, ``subtype``, ``layer``,
    ``distance_m`` (rounded to the metre) and the facility's ``lon``/``lat``.
    Sites without a location have no rows.
    """
    if not np.isfinite(distance_m) or distance_m <= 0:
        raise InputError(f"the walking distance must be more than 0 metres (got {distance_m})")
    if sites.crs is None or facilities.crs is None:
        raise InputError("sites and facilities need a CRS")
    s = sites.geometry.to_crs(MEASURE_CRS).to_numpy()
    f = facilities.geometry.to_crs(MEASURE_CRS).to_numpy()
    ok = np.flatnonzero(~(pd.isna(s) | shapely.is_empty(s)))
    cols = ["site_id", "facility", "kind", "subtype", "layer", "distance_m", "lon", "lat"]
    if not len(ok) or not len(f):
        return pd.DataFrame({c: [] for c in cols})
    tree = shapely.STRtree(f)
    a, b = tree.query(s[ok], predicate="dwithin", distance=distance_m)
    si = ok[a]
    dist = shapely.distance(s[si], f[b])
    ids = _site_ids(sites, id_column).to_numpy()
    ll = facilities.geometry.iloc[b].to_crs("EPSG:4326")
    out = pd.DataFrame({
        "site_id": ids[si], "facility": facilities["facility"].to_numpy()[b], "kind": facilities["kind"].to_numpy()[b],
        "subtype": facilities["subtype"].to_numpy()[b] if "subtype" in facilities.columns else pd.NA,
        "layer": facilities["layer"].to_numpy()[b] if "layer" in facilities.columns else pd.NA,
        "distance_m": np.round(dist).astype(int), "lon": ll.x.round(6).to_numpy(), "lat": ll.y.round(6).to_numpy(),
        "_pos": si, "_d": dist,
    })
    out = out.sort_values(["_pos", "_d", "facility"], kind="stable").drop(columns=["_pos", "_d"])
    return out.reset_index(drop=True)[cols]


def summarise_partners(
    sites: gpd.GeoDataFrame,
    pairs: pd.DataFrame,
    *,
    distance_m: float = DEFAULT_WALK_M,
    id_column: str = "asset_id",
) -> gpd.GeoDataFrame:
    """Add ``partners_count``, ``partners_kinds``, ``nearest_partner``, ``nearest_partner_m`` and ``partners_text``.

    ``partners_text`` is the plain-words line for a site card, e.g.
    "5 facilities within 800 m (straight-line distance, not a walking route):
    2 GP practices, 3 schools or colleges; nearest: Park Medical Practice, 120 m".
    """
    out = sites.copy()
    ids = _site_ids(out, id_column)
    placed = ~(out.geometry.isna() | out.geometry.is_empty)
    grouped = {k: g for k, g in pairs.groupby("site_id", sort=False)} if len(pairs) else {}
    counts, kinds, nearest, nearest_m, texts = [], [], [], [], []
    for sid, ok in zip(ids, placed, strict=True):
        g = grouped.get(sid)
        if not ok:
            counts.append(pd.NA)
            kinds.append(None)
            nearest.append(None)
            nearest_m.append(np.nan)
            texts.append("Partners nearby: not assessed, the site has no location")
            continue
        if g is None or g.empty:
            counts.append(0)
            kinds.append("")
            nearest.append(None)
            nearest_m.append(np.nan)
            texts.append(f"Partners nearby: no facility loaded lies within {distance_m:g} m ({DISTANCE_NOTE})")
            continue
        per_kind = g["kind"].value_counts()
        k_text = ", ".join(f"{n} {_plural(k, n)}" for k, n in sorted(per_kind.items(), key=lambda kv: (-kv[1], kv[0])))
        first = g.iloc[0]
        counts.append(len(g))
        kinds.append(k_text)
        nearest.append(first["facility"])
        nearest_m.append(float(first["distance_m"]))
        texts.append(f"Partners nearby: {len(g)} facilit{'y' if len(g) == 1 else 'ies'} within {distance_m:g} m "
                     f"({DISTANCE_NOTE}): {k_text}; nearest: {first['facility']} ({first['kind']}), {int(first['distance_m'])} m")
    out["partners_count"] = pd.array(counts, dtype="Int64")
    out["partners_kinds"] = kinds
    out["nearest_partner"] = nearest
    out["nearest_partner_m"] = nearest_m
    out["partners_text"] = texts
    return out


def _plural(kind: str, n: int) -> str:
    if n == 1:
        return kind
    if kind == "library":
        return "libraries"
    if kind == "school or college":
        return "schools or colleges"
    if kind.endswith("y") and not kind.endswith(("ay", "ey", "oy")):
        return kind[:-1] + "ies"
    return kind + "s"
