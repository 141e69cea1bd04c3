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
from concurrent.futures import Future, ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from assets_map.engine.arrays import kept_for, per_column, str_series
from assets_map.engine.geo import THREADS, representative_points

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

def _text(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


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
    codes, uniques = pd.factorize(la)  # in order of first appearance, as pd.unique gives them
    order = np.argsort(codes, kind="stable")  # each authority's positions in ascending order
    groups = np.split(order, np.cumsum(np.bincount(codes, minlength=len(uniques)))[:-1])
    return {name: rows for name, rows in zip(uniques, groups, strict=True) if name}


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


def _authority_area(polys: np.ndarray) -> tuple[shapely.STRtree, object]:
    """An authority's need areas in a tree, and their union (prepared)."""
    outline = shapely.union_all(polys)
    shapely.prepare(outline)
    return shapely.STRtree(polys), outline


def _excess_when_made(area: Future, pts: np.ndarray) -> np.ndarray:
    """:func:`_authority_excess` once ``area`` (a future of :func:`_authority_area`) is made."""
    return _authority_excess(*area.result(), pts)


def _authority_excess(tree: shapely.STRtree, outline, pts: np.ndarray) -> np.ndarray:
    """How far each point lies outside an authority's need areas (0 inside one).

    ``tree`` holds the authority's areas and ``outline`` their union (prepared). A point outside every area is as far
    from the union as from its nearest area: one distance to the union's few hundred vertices instead of a nearest
    search through the areas, 3-5x faster for the sites of a national register far from their publisher. The two
    differ by rounding only (1e-10 m): where that could change the text (a distance within a micrometre of the margin
    or of a rounding step of the 0.1 km shown), the nearest area's own distance is taken instead.
    """
    excess = np.full(len(pts), np.inf)
    inside, _ = tree.query(pts, predicate="intersects")  # most sites of a real register: cheap, and 0
    excess[inside] = 0.0
    out_of = np.flatnonzero(excess > 0)
    if not len(out_of):
        return excess
    dist = shapely.distance(outline, pts[out_of])
    with np.errstate(invalid="ignore"):
        tenths = dist / 100.0
        near_step = np.abs(tenths - np.floor(tenths) - 0.5) < 1e-8
        unsure = ~np.isfinite(dist) | (np.abs(dist - MARGIN_M) < 1e-6) | near_step
    if unsure.any():
        at = out_of[unsure]
        (which, _), exact = tree.query_nearest(pts[at], return_distance=True, all_matches=False)
        fixed = np.full(len(at), np.inf)
        fixed[which] = exact
        dist[unsure] = fixed
    excess[out_of] = dist
    return excess


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
    out["location_check"] = location_checks(assets, needs)
    return out


def location_checks(assets: gpd.GeoDataFrame, needs: gpd.GeoDataFrame) -> pd.Series | np.ndarray:
    """The ``location_check`` column of :func:`check_locations` on its own, ``assets`` unchanged.

    A text Series on ``assets``' index, or an object array (all missing, or only an importer's doubts), to be assigned
    as the column.

    For a runner that measures it beside the join and the scoring (GEOS measures without the GIL).
    """
    out = assets
    n = len(out)
    check = np.full(n, None, dtype=object)
    km = np.full(n, np.nan)
    where_code = np.full(n, -1, dtype=np.int64)  # which of ``wheres`` each marked site lies outside
    wheres: list[str] = []
    if n:
        geom = out.geometry
        placed = ~(geom.isna() | geom.is_empty).to_numpy()
        if "location_quality" in out.columns:
            placed &= out["location_quality"].astype(object).to_numpy() != "none"
        at = np.flatnonzero(placed)
        if not len(at):  # nothing placed (e.g. one unplaced site re-scored after an edit): nothing to check
            return check
        pts = representative_points(geom.iloc[at]).to_numpy()
        # each distinct organisation stripped once (a register repeats a few names a million times)
        if "organisation" in out.columns:
            raw, names = pd.factorize(out["organisation"].iloc[at], use_na_sentinel=True)
            stripped = np.array([o.strip() if isinstance(o, str) else "" for o in names] + [""], dtype=object)
            codes, uniques = pd.factorize(stripped[raw])
        else:
            codes, uniques = np.zeros(len(at), dtype=np.int64), np.array([""], dtype=object)
        authorities = local_authorities(needs)
        folded = {a: _words(a) for a in authorities}
        order = np.argsort(codes, kind="stable")
        named = [named_authority(org, folded) if org else None for org in uniques]
        found: list[tuple] = []  # (sites, their excess or its future, the area in words), in the organisations' order
        # GEOS works without the GIL: the authorities' outlines are made, and the organisations' distances measured,
        # side by side, then taken in order
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            polys = needs.geometry.to_numpy()
            # every outline queued before any distance, so a distance waits only for an outline being made
            areas = {la: pool.submit(_authority_area, polys[authorities[la]])
                     for la in dict.fromkeys(la for la in named if la is not None)}
            for k, sel in enumerate(np.split(order, np.cumsum(np.bincount(codes, minlength=len(uniques)))[:-1])):
                org, la = uniques[k], named[k]
                if la is not None:
                    found.append((sel, pool.submit(_excess_when_made, areas[la], pts[sel]),
                                  f"{la} (the local authority named by {org}, from the need areas loaded)"))
                elif (got := _cluster_excess(pts[sel])) is not None:
                    found.append((sel, *got))
            found = [(sel, excess.result() if isinstance(excess, Future) else excess, where)
                     for sel, excess, where in found]
        for sel, excess, where in found:
            far = excess > MARGIN_M
            rows = at[sel[far]]
            km[rows] = excess[far] / 1000
            where_code[rows] = len(wheres)
            wheres.append(where)
    marked = where_code >= 0
    add = np.zeros(n, dtype=bool)
    if "location_doubt" in out.columns:  # an importer's doubt about a place (an NHS site matched by name only)
        doubt = out["location_doubt"].astype(object).to_numpy()
        add = np.array([not m and isinstance(d, str) and bool(d) for m, d in zip(marked, doubt, strict=True)],
                       dtype=bool)
        if n and add.any():
            check[add] = [CHECK_PREFIX + d for d in doubt[add]]
    if marked.any():  # built by Arrow from the distances and the few areas: no million Python strings
        texts = pc.binary_join_element_wise(
            _text(CHECK_PREFIX), _km_text(km, marked), _text(" km outside "),
            pa.array(wheres, type=pa.large_string()).take(pa.array(where_code, mask=~marked)), _text(""))
        if n and add.any():  # the texts are missing where not marked: only an importer's doubts need merging in
            texts = pc.if_else(pa.array(marked), texts, pa.array(check, type=pa.large_string(), from_pandas=True))
        column = str_series(texts, out.index)
        per_column(_KNOWN, column.array._pa_array, lambda: _summary_facts(km, marked, where_code, wheres, texts, add))
        return column
    return check


#: What :func:`location_summary` reads of a text column, kept while that very column lives (by the Arrow array's
#: identity, :func:`~assets_map.engine.arrays.per_column`): for the column :func:`location_checks` made, from its
#: numbers; a filtered or edited column is a new array and is parsed.
_KNOWN: dict[int, tuple] = {}


def _summary_facts(km: np.ndarray, marked: np.ndarray, where_code: np.ndarray, wheres: list[str], texts: pa.Array,
                   add: np.ndarray) -> tuple[int, list[str], float, np.ndarray]:
    """(sites counted, their areas, the largest distance shown, the first counted rows) from the numbers themselves.

    Exactly what parsing every text with ``_PATTERN`` gives: each area's words are parsed once (a text whose area the
    pattern cannot read, or whose distance is not a number, is not counted), and an importer's doubt only where its
    own text reads as a distance. The largest distance shown is the largest distance rounded as its text shows it.
    """
    sample = pa.array([f"{CHECK_PREFIX}0.0 km outside {w}" for w in wheres], type=pa.large_string())
    parsed = pc.extract_regex(sample, _PATTERN)
    read = np.array(pc.fill_null(pc.is_valid(parsed), False).to_pylist() + [False], dtype=bool)
    counted = marked & np.isfinite(km) & read[np.where(marked, where_code, len(wheres))]
    area_words = parsed.field("area").to_pylist()
    areas = {area_words[c] for c in np.unique(where_code[counted])}
    top = float(f"{km[counted].max():.1f}") if counted.any() else -np.inf
    if add.any():  # the few doubts parsed as the texts they are
        rows = np.flatnonzero(add)
        got = pc.extract_regex(texts.take(pa.array(rows)), _PATTERN)
        hit = np.array(pc.fill_null(pc.is_valid(got), False).to_pylist(), dtype=bool)
        if hit.any():
            counted[rows[hit]] = True
            areas |= set(pc.filter(got.field("area"), pa.array(hit)).to_pylist())
            shown = pc.cast(pc.replace_substring(pc.filter(got.field("km"), pa.array(hit)), ",", ""), pa.float64())
            top = max(top, pc.max(shown).as_py())
    return int(counted.sum()), sorted(areas), top, np.flatnonzero(counted)[:_MOST]


def _known_facts(col: pd.Series) -> tuple | None:
    """The facts kept for this very column (by :func:`location_checks`, or a summary before), or None."""
    arr = getattr(col.array, "_pa_array", None)
    return kept_for(_KNOWN, arr) if arr is not None else None


_TENTHS: list[pa.Array] = []


def _tenths_texts(top: int) -> pa.Array:
    """``f"{i // 10}.{i % 10}"`` for every ``i`` up to at least ``top`` (the texts of 0.0 to 1000.0 km made once)."""
    if not _TENTHS or len(_TENTHS[0]) <= top:
        _TENTHS[:] = [pa.array([f"{i // 10}.{i % 10}" for i in range(max(top, 10_000) + 1)], type=pa.large_string())]
    return _TENTHS[0]


def _km_text(km: np.ndarray, rows: np.ndarray) -> pa.Array:
    """``f"{v:,.1f}"`` of ``km[rows]`` as Arrow text (missing elsewhere), formatted in arrays.

    Tenths are rounded as Python rounds them wherever ``v * 10`` is not within 1e-6 of a half (a product's rounding
    cannot change the side then); those few, and values of 1,000 or more (a thousands separator), are formatted by
    Python itself.
    """
    n = len(km)
    with np.errstate(invalid="ignore"):
        t = km * 10.0
        python = rows & ~(np.isfinite(t) & (np.abs(t - np.floor(t) - 0.5) >= 1e-6) & (km >= 0) & (km < 1000))
        tenths = np.where(rows & ~python, np.floor(t + 0.5), 0).astype(np.int64)
    fast = rows & ~python
    text = _tenths_texts(int(tenths.max(initial=0))).take(pa.array(tenths, mask=~fast))
    if python.any():
        slow = np.full(n, None, dtype=object)
        slow[python] = [f"{v:,.1f}" for v in km[python]]
        text = pc.if_else(pa.array(python), pa.array(slow, type=pa.large_string(), from_pandas=True), text)
    return text


#: a marked text: the distance, and the area (its words before any bracket)
_PATTERN = f"^{CHECK_PREFIX}" + r"(?P<km>[\d.,]+) km outside (?P<area>.+?)(?: \(.*)?$"
#: the ids a summary line names
_MOST = 10


def location_summary(assets: pd.DataFrame, *, most: int = _MOST) -> str | None:
    """The report line of the sites marked "check location", or ``None`` when there are none.

    For the column :func:`location_checks` made, from the numbers it kept (a million texts are not parsed again);
    for any other, the marked texts are parsed with Arrow's regular-expression kernel, not row by row in Python (a
    national register can mark hundreds of thousands of sites), once while an Arrow column lives. Both give the same
    line.
    """
    if "location_check" not in assets.columns:
        return None
    col = assets["location_check"]
    arr = getattr(col.array, "_pa_array", None)
    if arr is not None and most <= _MOST:  # an Arrow column: its facts kept while it lives
        n, areas, top, first = per_column(_KNOWN, arr, lambda: _parse_marked(col, _MOST))
        at = first[:most]
    else:
        n, areas, top, at = _parse_marked(col, most)
    if not n:
        return None
    ids = (assets["asset_id"].iloc[at].astype(str).tolist() if "asset_id" in assets.columns
           else [str(i) for i in assets.index[at]])
    shown = ", ".join(ids) + (f" and {n - most} more" if n > most else "")
    return (f"check location: {n} site{'s' if n != 1 else ''} more than {MARGIN_M / 1000:g} km outside "
            f"{', '.join(areas)} (ids {shown}; up to {top:,.1f} km)")


def _parse_marked(col: pd.Series, most: int) -> tuple[int, list[str], float, np.ndarray]:
    """(sites marked, their areas, the largest distance, the first ``most`` marked rows) parsed from the texts."""
    texts = pa.array(col if isinstance(col.dtype, pd.StringDtype) else col.astype(object).to_numpy(),
                     from_pandas=True)
    if not pa.types.is_large_string(texts.type):
        texts = texts.cast(pa.large_string())
    # each distinct text parsed once: a site's text repeats its area's words, and many sites share a distance
    # (the areas and the largest distance read from the distinct texts alone: each of them is some site's text)
    coded = texts.dictionary_encode()
    parsed = pc.extract_regex(coded.dictionary, _PATTERN)
    hit = pc.fill_null(pc.is_valid(parsed), False)
    marked = pc.fill_null(hit.take(coded.indices), False)
    n = pc.sum(marked).as_py() or 0
    if not n:
        return 0, [], 0.0, np.zeros(0, dtype=np.int64)
    parsed = pc.filter(parsed, hit)
    km = pc.cast(pc.replace_substring(parsed.field("km"), ",", ""), pa.float64())
    areas = sorted(pc.unique(parsed.field("area")).to_pylist())
    return n, areas, pc.max(km).as_py(), np.flatnonzero(marked.to_numpy(zero_copy_only=False))[:most]
