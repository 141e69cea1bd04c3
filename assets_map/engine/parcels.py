"""Assets joined to the registered freehold parcel that holds them (HM Land Registry INSPIRE Index Polygons).

Each placed asset gets the parcel containing its point (an asset drawn as a polygon: the point
guaranteed inside it), found through one STRtree over the parcels: ``parcel_id`` (the INSPIRE ID)
and ``parcel_area_ha``. Where the register gives no site area, the parcel's area becomes the site
area, and ``site_area_from`` says so. A parcel is an index polygon, not a title plan: every placement
carries :data:`~assets_map.io.landregistry.APPROXIMATE`.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from assets_map.engine.geo import representative_points
from assets_map.io.landregistry import APPROXIMATE
from assets_map.schema import MEASURE_CRS

#: The columns :func:`join_parcels` adds to the assets.
PARCEL_ASSET_COLUMNS = ("parcel_id", "parcel_area_ha", "parcel_note", "site_area_from")
SITE_AREA_FROM_PARCEL = "the freehold parcel at the site (INSPIRE Index Polygon; approximate, not a title plan)"


def _check(assets: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame) -> None:
    problems = []
    for what, g in (("assets", assets), ("parcels", parcels)):
        if not isinstance(g, gpd.GeoDataFrame):
            problems.append(f"{what} must be a GeoDataFrame")
        elif g.crs is None:
            problems.append(f"the {what} have no CRS")
    if isinstance(parcels, gpd.GeoDataFrame) and not {"parcel_id", "parcel_area_ha"} <= set(parcels.columns):
        problems.append("the parcels have no parcel_id and parcel_area_ha (read them with "
                        "assets_map.io.landregistry.read_inspire)")
    if problems:
        raise ValueError("; ".join(problems))


def parcel_index(points: gpd.GeoSeries, parcels: gpd.GeoDataFrame) -> np.ndarray:
    """For each point, the position of the parcel holding it (-1: none), through one STRtree.

    A point on the shared edge of two parcels, or inside parcels that overlap, gets the smallest of them
    (the most specific outline); equal areas fall to the first in the file.

    Parameters
    ----------
    points : points (missing or empty for unplaced rows), in the parcels' CRS
    parcels : the parcel layer (``parcel_area_ha`` used to break ties)

    Returns
    -------
    numpy int array, one position per point
    """
    out = np.full(len(points), -1, dtype=np.int64)
    geoms = points.to_numpy()
    ok = ~(pd.isna(geoms) | shapely.is_empty(geoms))
    if not ok.any() or parcels.empty:
        return out
    tree = shapely.STRtree(parcels.geometry.to_numpy())
    src, hit = tree.query(geoms[ok], predicate="intersects")  # the parcels are the prepared side
    if len(src) == 0:
        return out
    area = parcels["parcel_area_ha"].to_numpy(dtype=float)
    order = np.lexsort((hit, area[hit], src))  # per point: smallest area, then first in the file
    src, hit = src[order], hit[order]
    first = np.r_[True, src[1:] != src[:-1]]
    out[np.flatnonzero(ok)[src[first]]] = hit[first]
    return out


def join_parcels(assets: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Give each placed asset the freehold parcel holding it, and its site area where the register gives none.

    Parameters
    ----------
    assets : canonical assets (any CRS; the join is made in EPSG:27700)
    parcels : parcels from :func:`assets_map.io.landregistry.read_inspire` (EPSG:27700)

    Returns
    -------
    (assets, parcels used) : the assets with ``parcel_id`` (text, missing where no parcel holds the site),
        ``parcel_area_ha``, ``parcel_note`` (:data:`~assets_map.io.landregistry.APPROXIMATE` where a parcel was
        found) and ``site_area_from`` (where ``site_area_ha`` came from: ``"register"``, the parcel, or missing);
        and the parcels holding at least one asset (the ``parcels`` layer)
    """
    _check(assets, parcels)
    parcels = parcels.to_crs(MEASURE_CRS) if parcels.crs.to_epsg() != 27700 else parcels
    geom = assets.geometry.to_crs(MEASURE_CRS) if assets.crs.to_epsg() != 27700 else assets.geometry
    where = parcel_index(representative_points(geom), parcels)
    found = where >= 0
    out = assets.copy()
    ids = np.full(len(out), None, dtype=object)
    ids[found] = parcels["parcel_id"].astype(str).to_numpy()[where[found]]
    out["parcel_id"] = pd.array(ids, dtype="string")
    area = np.full(len(out), np.nan)
    area[found] = parcels["parcel_area_ha"].to_numpy(dtype=float)[where[found]]
    out["parcel_area_ha"] = area
    out["parcel_note"] = pd.array(np.where(found, APPROXIMATE, None), dtype="string")
    stated = pd.to_numeric(out["site_area_ha"], errors="coerce") if "site_area_ha" in out else pd.Series(
        np.nan, index=out.index)
    given = stated.notna().to_numpy()
    fill = found & ~given
    site = stated.to_numpy(dtype=float, na_value=np.nan).copy()
    site[fill] = area[fill]
    out["site_area_ha"] = site
    origin = np.full(len(out), None, dtype=object)
    origin[given] = "register"
    origin[fill] = SITE_AREA_FROM_PARCEL
    out["site_area_from"] = pd.array(origin, dtype="string")
    return out, parcels_used(out, parcels)


def parcels_used(assets: pd.DataFrame, parcels: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The parcels layer of a result: every parcel whose INSPIRE ID an asset carries, with its count of assets.

    Parameters
    ----------
    assets : assets after :func:`join_parcels`
    parcels : the parcel set they were joined to

    Returns
    -------
    GeoDataFrame (EPSG:27700) of those parcels with ``assets`` (how many sites each holds) and ``parcel_note``
    """
    counts = assets["parcel_id"].dropna().astype(str).value_counts()
    ids = parcels["parcel_id"].astype(str)
    used = parcels[ids.isin(counts.index).to_numpy()].drop_duplicates("parcel_id").reset_index(drop=True)
    used = used.assign(assets=used["parcel_id"].astype(str).map(counts).astype("int64"), parcel_note=APPROXIMATE)
    return gpd.GeoDataFrame(used, geometry=parcels.geometry.name, crs=parcels.crs)


def parcel_counts(assets: pd.DataFrame) -> dict[str, int]:
    """How many sites a parcel was found for, and how many site areas came from a parcel.

    Parameters
    ----------
    assets : assets after :func:`join_parcels`

    Returns
    -------
    dict with ``in_parcel``, ``site_area_from_parcel`` and ``placed_outside`` (placed, no parcel there)
    """
    if "parcel_id" not in assets:
        return {}
    inside = assets["parcel_id"].notna()
    placed = assets.geometry.notna() & ~assets.geometry.is_empty if isinstance(assets, gpd.GeoDataFrame) else inside
    return {"in_parcel": int(inside.sum()),
            "site_area_from_parcel": int(assets["site_area_from"].eq(SITE_AREA_FROM_PARCEL).fillna(False).sum()),
            "placed_outside": int((placed & ~inside).sum())}


__all__ = ["PARCEL_ASSET_COLUMNS", "SITE_AREA_FROM_PARCEL", "join_parcels", "parcel_counts", "parcel_index",
           "parcels_used"]
