"""Location sanity: every placed site checked against its publisher's area.

The publisher's area is, in order:

a. the local authority the organisation names ("Trafford Council", "Trafford Metropolitan
   Borough Council" -> Trafford): the union of the loaded need areas (LSOAs) whose name is
   "<that local authority> 011C" (LSOA names carry their local authority, so no other file is needed);
b. else the register's own spatial cluster: the circle around the median centre of the
   organisation's placed sites whose radius is ``CLUSTER_FACTOR`` times their median distance
   from it (at least ``CLUSTER_MIN_RADIUS_M``), used when it has at least ``CLUSTER_MIN_SITES`` placed sites.

A site more than ``MARGIN_M`` outside that area is kept, and its ``location_check`` says
"check location: <km> km outside <area>"; :func:`assets_map.engine.priority.prioritise` never
flags it High on the need of an area it may not be in.
"""
from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from assets_map.engine.geo import representative_points

#: how far outside its publisher's area a site may lie before it is marked (metres)
MARGIN_M = 2000.0
#: the cluster's radius is this many times the median distance of the sites from their median centre
CLUSTER_FACTOR = 3.0
#: the smallest cluster radius (metres), so a register of sites on one street does not mark its neighbours
CLUSTER_MIN_RADIUS_M = 1000.0
#: the fewest placed sites a register's own cluster is drawn from
CLUSTER_MIN_SITES = 5
#: the start of every ``location_check`` text
CHECK_PREFIX = "check location: "

_LSOA_SUFFIX = re.compile(r"\s+\d{3}[A-Z]$")


def local_authorities(needs: gpd.GeoDataFrame) -> dict[str, np.ndarray]:
    """The local authorities of the need areas: name -> positions of its LSOAs (from "Trafford 011C" names).

    Parameters
    ----------
    needs : need areas with a ``name`` column

    Returns
    -------
    dict : local authority name -> integer positions in ``needs``; empty when the names carry no authority
    """
    if "name" not in needs.columns or not len(needs):
        return {}
    names = needs["name"].astype(object).to_numpy()
    la = np.array([_LSOA_SUFFIX.sub("", n) if isinstance(n, str) and _LSOA_SUFFIX.search(n) else "" for n in names],
                  dtype=object)
    return {name: np.flatnonzero(la == name) for name in pd.unique(la) if name}


def _words(text: str) -> str:
    return f" {re.sub(r'[^a-z0-9]+', ' ', text.lower()).strip()} "


def named_authority(organisation: str, authorities) -> str | None:
    """The local authority an organisation's name names (the longest one named as whole words), or ``None``.

    ``authorities`` may be names, or a mapping whose keys are names; a dict of name -> words (as
    :func:`_words` gives them) saves folding the names again for every organisation.
    """
    org = _words(organisation)
    folded = authorities if isinstance(authorities, dict) and all(isinstance(v, str) for v in authorities.values()) \
        else {a: _words(a) for a in authorities}
    found = [a for a, w in folded.items() if w in org]
    return max(found, key=len) if found else None


def _cluster_excess(pts: np.ndarray) -> tuple[np.ndarray, str] | None:
    """How far each point lies outside the points' own cluster, and the cluster in words."""
    if len(pts) < CLUSTER_MIN_SITES:
        return None
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    cx, cy = np.median(x), np.median(y)
    dist = np.hypot(x - cx, y - cy)
    radius = max(CLUSTER_FACTOR * float(np.median(dist)), CLUSTER_MIN_RADIUS_M)
    return dist - radius, (f"the register's own cluster ({radius / 1000:.1f} km around the median centre of its "
                           f"{len(pts)} placed sites)")


def check_locations(assets: gpd.GeoDataFrame, needs: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Mark each placed site more than ``MARGIN_M`` outside its publisher's area (``location_check``).

    Parameters
    ----------
    assets : canonical assets (``organisation``, ``location_quality``, geometry in the needs' CRS)
    needs : the need areas loaded (LSOAs named "<local authority> 011C")

    Returns
    -------
    GeoDataFrame : a copy with ``location_check``: "check location: <km> km outside <area>" or missing
    """
    out = assets.copy(deep=False)
    n = len(out)
    check = np.full(n, None, dtype=object)
    if n:
        geom = out.geometry
        placed = ~(geom.isna() | geom.is_empty).to_numpy()
        if "location_quality" in out.columns:
            placed &= out["location_quality"].astype(object).to_numpy() != "none"
        pts = representative_points(geom).to_numpy()
        orgs = out["organisation"].astype(object).to_numpy() if "organisation" in out.columns \
            else np.full(n, None, dtype=object)
        orgs = np.array([o.strip() if isinstance(o, str) else "" for o in orgs], dtype=object)
        authorities = local_authorities(needs)
        folded = {a: _words(a) for a in authorities}
        areas: dict[str, shapely.STRtree] = {}
        at = np.flatnonzero(placed)
        if not len(at):  # nothing placed (e.g. one unplaced site re-scored after an edit): nothing to check
            out["location_check"] = check
            return out
        codes, uniques = pd.factorize(orgs[at])
        order = np.argsort(codes, kind="stable")
        for k, rows in enumerate(np.split(at[order], np.cumsum(np.bincount(codes, minlength=len(uniques)))[:-1])):
            org = uniques[k]
            la = named_authority(org, folded) if org else None
            if la is not None:
                # the distance to the authority's nearest LSOA (0 inside one): no union of its polygons needed
                if la not in areas:
                    areas[la] = shapely.STRtree(needs.geometry.to_numpy()[authorities[la]])
                excess = np.full(len(rows), np.inf)
                inside, _ = areas[la].query(pts[rows], predicate="intersects")  # most sites: cheap, and 0
                excess[inside] = 0.0
                out_of = np.flatnonzero(excess > 0)
                if len(out_of):
                    (which, _), dist = areas[la].query_nearest(pts[rows[out_of]], return_distance=True,
                                                               all_matches=False)
                    excess[out_of[which]] = dist
                where = f"{la} (the local authority named by {org}, from the need areas loaded)"
            else:
                got = _cluster_excess(pts[rows])
                if got is None:
                    continue
                excess, where = got
            far = excess > MARGIN_M
            check[rows[far]] = [f"{CHECK_PREFIX}{d / 1000:,.1f} km outside {where}" for d in excess[far]]
    if "location_doubt" in out.columns:  # an importer's doubt about a place (an NHS site matched by name only)
        doubt = out["location_doubt"].astype(object).to_numpy()
        add = np.array([c is None and isinstance(d, str) and bool(d) for c, d in zip(check, doubt, strict=True)],
                       dtype=bool)
        if n and add.any():
            check[add] = [CHECK_PREFIX + d for d in doubt[add]]
    out["location_check"] = check
    return out


def location_summary(assets: pd.DataFrame, *, most: int = 10) -> str | None:
    """The report line of the sites marked "check location", or ``None`` when there are none.

    The marked texts are parsed with Arrow's regular-expression kernel, not row by row in Python: a
    national register can mark hundreds of thousands of sites.
    """
    if "location_check" not in assets.columns:
        return None
    texts = pa.array(assets["location_check"].astype(object).to_numpy(), type=pa.string(), from_pandas=True)
    parsed = pc.extract_regex(texts, r"^check location: (?P<km>[\d.,]+) km outside (?P<area>.+?)(?: \(.*)?$")
    marked = pc.fill_null(pc.is_valid(parsed), False)
    n = pc.sum(marked).as_py() or 0
    if not n:
        return None
    parsed = pc.filter(parsed, marked)
    km = pc.cast(pc.replace_substring(parsed.field("km"), ",", ""), pa.float64())
    areas = sorted(pc.unique(parsed.field("area")).to_pylist())
    at = np.flatnonzero(marked.to_numpy(zero_copy_only=False))[:most]
    ids = (assets["asset_id"].iloc[at].astype(str).tolist() if "asset_id" in assets.columns
           else [str(i) for i in assets.index[at]])
    shown = ", ".join(ids) + (f" and {n - most} more" if n > most else "")
    return (f"check location: {n} site{'s' if n != 1 else ''} more than {MARGIN_M / 1000:g} km outside "
            f"{', '.join(areas)} (ids {shown}; up to {pc.max(km).as_py():,.1f} km)")
