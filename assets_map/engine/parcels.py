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

#: What a check measured from, in the words it says so (:func:`site_outlines`).
FROM_PARCEL = "the registered freehold parcel's outline (approximate: an index polygon, not a title plan)"
FROM_POINT = "the site's point"
FROM_OUTLINE = "the site's outline as the register draws it"
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


def _hits(tree: shapely.STRtree, geoms: np.ndarray, area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each point, the smallest parcel touching it: (positions of the points with a hit, parcel positions)."""
    src, hit = tree.query(geoms, predicate="intersects")  # the parcels are the prepared side
    if len(src) == 0:
        return src, hit
    order = np.lexsort((hit, area[hit], src))  # per point: smallest area, then first in the file
    src, hit = src[order], hit[order]
    first = np.r_[True, src[1:] != src[:-1]]
    return src[first], hit[first]


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
    geoms = np.asarray(points.to_numpy() if hasattr(points, "to_numpy") else points, dtype=object)
    ok = ~(pd.isna(geoms) | shapely.is_empty(geoms))
    if not ok.any() or parcels.empty:
        return out
    tree = shapely.STRtree(parcels.geometry.to_numpy())
    src, hit = _hits(tree, geoms[ok], parcels["parcel_area_ha"].to_numpy(dtype=float))
    out[np.flatnonzero(ok)[src]] = hit
    return out


def _site_points(assets: gpd.GeoDataFrame) -> np.ndarray:
    geom = assets.geometry.to_crs(MEASURE_CRS) if assets.crs.to_epsg() != 27700 else assets.geometry
    return representative_points(geom).to_numpy()


def _with_parcels(assets: gpd.GeoDataFrame, ids: np.ndarray, area: np.ndarray) -> gpd.GeoDataFrame:
    """The assets with the parcel columns, from each row's parcel ID (None: no parcel) and area (NaN)."""
    found = pd.notna(ids)
    out = assets.copy()
    out["parcel_id"] = pd.array(ids, dtype="string")
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
    where = parcel_index(_site_points(assets), parcels)
    found = where >= 0
    ids = np.full(len(assets), None, dtype=object)
    ids[found] = parcels["parcel_id"].astype(str).to_numpy()[where[found]]
    area = np.full(len(assets), np.nan)
    area[found] = parcels["parcel_area_ha"].to_numpy(dtype=float)[where[found]]
    out = _with_parcels(assets, ids, area)
    return out, parcels_used(out, parcels)


def _partition_hits(part, points: np.ndarray, rows: np.ndarray, limits):
    """One partition's answer for the points inside its bounds: (rows, parcel IDs, areas, parcels used)."""
    from assets_map.io.landregistry import read_partition

    frame = read_partition(part, limits=limits)
    area = frame["parcel_area_ha"].to_numpy(dtype=float)
    src, hit = _hits(shapely.STRtree(frame.geometry.to_numpy()), points[rows], area)
    used = frame.iloc[np.unique(hit)]
    return rows[src], frame["parcel_id"].astype(str).to_numpy()[hit], area[hit], used


def join_parcels_partitioned(assets: gpd.GeoDataFrame, folder, *, engine: str = "geopandas",
                             limits=None) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """:func:`join_parcels` against a national parcel cache, one authority's partition at a time.

    Only the partitions whose bounds hold a site are read, and each only for the sites inside its bounds, so
    memory stays that of the largest authority, not of England's ~24 million parcels. A site inside the bounds
    of two authorities gets the smaller parcel of the two, as within one file.

    Parameters
    ----------
    assets : canonical assets (any CRS)
    folder : the cache (:func:`assets_map.io.landregistry.write_partitioned`)
    engine : ``"geopandas"`` (one partition after another) or ``"dask"`` (partitions on dask's threaded
        scheduler: the STRtree queries release the GIL)
    limits : size limits for each partition

    Returns
    -------
    (assets, parcels used), as :func:`join_parcels`; ``attrs["partitions"]`` of the parcels used names the
        authorities whose partitions were read (the result cache keys on their bytes)
    """
    from assets_map.io.landregistry import partitions

    if not isinstance(assets, gpd.GeoDataFrame) or assets.crs is None:
        raise ValueError("assets must be a GeoDataFrame with a CRS")
    parts = partitions(folder)
    points = _site_points(assets)
    ok = ~(pd.isna(points) | shapely.is_empty(points))
    x = np.where(ok, shapely.get_x(np.where(ok, points, None)), np.nan)
    y = np.where(ok, shapely.get_y(np.where(ok, points, None)), np.nan)
    tasks = []
    for part in parts:
        minx, miny, maxx, maxy = part.bounds
        rows = np.flatnonzero((x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy))
        if len(rows):
            tasks.append((part, rows))
    if engine == "dask":
        import dask

        results = dask.compute(*[dask.delayed(_partition_hits)(p, points, r, limits) for p, r in tasks],
                               scheduler="threads")
    else:
        results = [_partition_hits(p, points, r, limits) for p, r in tasks]
    ids = np.full(len(assets), None, dtype=object)
    area = np.full(len(assets), np.nan)
    used = []
    for rows, pid, a, u in results:
        better = np.isnan(area[rows]) | (a < area[rows])
        ids[rows[better]], area[rows[better]] = pid[better], a[better]
        used.append(u)
    out = _with_parcels(assets, ids, area)
    pool = pd.concat(used, ignore_index=True) if used else gpd.GeoDataFrame(
        {"parcel_id": pd.Series(dtype="string"), "parcel_area_ha": pd.Series(dtype=float)}, geometry=[], crs=MEASURE_CRS)
    used = parcels_used(out, gpd.GeoDataFrame(pool, geometry="geometry", crs=MEASURE_CRS))
    used.attrs["partitions"] = [part.authority for part, _ in tasks]
    return out, used


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


def site_outlines(sites: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame | None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What to measure each site from, in EPSG:27700: its freehold parcel's outline where it is a point in one.

    A site the register places as a point, and that :func:`join_parcels` found in a parcel, is measured from
    that parcel's outline (joint sites, constraints, catchments); a site the register draws as a polygon keeps
    its own outline (the owner's drawing is more precise than an index polygon); any other site keeps its point.

    Parameters
    ----------
    sites : assets (any CRS), with ``parcel_id`` when parcels were joined
    parcels : the parcels layer of the result (``parcel_id`` and outline), or None

    Returns
    -------
    (geometries, from_parcel, words) : object array of shapely geometries in EPSG:27700 (missing where the site
        is not placed), a boolean array (True where the parcel's outline is used), and for each site what it is
        measured from (:data:`FROM_PARCEL`, :data:`FROM_POINT`, :data:`FROM_OUTLINE`; None when not placed)
    """
    geom = sites.geometry.to_crs(MEASURE_CRS) if sites.crs is not None and sites.crs.to_epsg() != 27700 \
        else sites.geometry
    geoms = np.asarray(geom.to_numpy(), dtype=object).copy()
    placed = ~(pd.isna(geoms) | shapely.is_empty(geoms))
    point = placed & (shapely.get_type_id(np.where(placed, geoms, None)) == 0)
    from_parcel = np.zeros(len(geoms), bool)
    if parcels is not None and len(parcels) and "parcel_id" in sites.columns:
        outline = parcels.to_crs(MEASURE_CRS) if parcels.crs is not None and parcels.crs.to_epsg() != 27700 \
            else parcels
        outline = outline.drop_duplicates("parcel_id")  # an ID published twice: the first outline, as parcels_used
        by_id = pd.Series(outline.geometry.to_numpy(), index=outline["parcel_id"].astype(str).to_numpy())
        ids = sites["parcel_id"].astype(object).where(sites["parcel_id"].notna(), None).to_numpy()
        found = by_id.reindex([str(i) if i is not None else "" for i in ids]).to_numpy()
        from_parcel = point & pd.notna(found)
        geoms[from_parcel] = found[from_parcel]
    words = np.full(len(geoms), None, dtype=object)
    words[placed] = FROM_OUTLINE
    words[point] = FROM_POINT
    words[from_parcel] = FROM_PARCEL
    return geoms, from_parcel, words


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


__all__ = ["FROM_OUTLINE", "FROM_PARCEL", "FROM_POINT", "PARCEL_ASSET_COLUMNS", "SITE_AREA_FROM_PARCEL", "join_parcels", "join_parcels_partitioned", "parcel_counts",
           "parcel_index", "parcels_used", "site_outlines"]
