"""What the browser is sent when the data is national.

Simplify by zoom, clip to the view, aggregate when zoomed out, and keep every render under a byte budget.

Measured here (DESIGN, "Scale"): a browser's time to draw a GeoJSON layer follows its
feature count, not its bytes (100k simplified polygons took 76 s to appear), and the raw
33k LSOA polygons as folium GeoJSON are ~165 MB of HTML. So beyond a few thousand features
this module sends

* **need areas** at the LSOA level only inside the view and only when there are fewer than
  :data:`MAX_NEED_FEATURES` of them, simplified to about one screen pixel at that zoom and
  rounded to the precision that pixel needs; otherwise the LSOAs are **aggregated to their
  local authority** (the name before the LSOA suffix, "Trafford 001A" -> "Trafford"; 296
  areas for England) and coloured by the median need decile, with the share of LSOAs in the
  most deprived 20% in the tooltip;
* **assets** one by one only when fewer than :data:`MAX_ASSET_FEATURES` are in the view;
  otherwise **clustered on a screen grid** (about :data:`CELL_PX` pixels a cell): one marker
  per cell with its count and its count by priority, coloured by the highest priority in it.

The result is a :class:`assets_map.maps.draw.MapData`, so :func:`assets_map.maps.draw.render_map` draws
it unchanged. :func:`national_map_data` keeps shrinking (coarser cells, coarser geometry)
until the payload is under ``max_bytes``.

Following pans and zooms (the app's map page): :func:`view_from_state` reads the view the
browser reports, :func:`covers` says whether the data already built still serves it (same
zoom, view inside what was built), and otherwise :func:`padded_view` gives the view to build
for: a little larger than the screen and snapped to a grid, so small pans and jitters reuse
the data. :func:`describe` says in words what the map shows.
"""
from __future__ import annotations

import json
import math
import weakref
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from assets_map.io.report import esc
from assets_map.maps.features import ASSET_PROPS, MapData, geojson_features
from assets_map.schema import DISPLAY_CRS, MEASURE_CRS

#: Above these counts (in the view) features are aggregated instead of drawn one by one.
MAX_NEED_FEATURES = 3_000
MAX_ASSET_FEATURES = 3_000
#: Size of an asset cluster cell on screen, in pixels.
CELL_PX = 48
#: What one render may send the browser.
MAX_BYTES = 5_000_000
#: Beyond these totals, maps use this module (below them the plain map is small enough).
NATIONAL_ASSETS = 5_000
NATIONAL_NEEDS = 3_000
PRIORITY_ORDER = ("High", "Medium", "Low", "not flagged")


def needs_national_display(assets: gpd.GeoDataFrame | int, needs: gpd.GeoDataFrame) -> bool:
    """Whether a map of these layers should go through this module (too many features otherwise).

    ``assets``: the assets, or how many there are.
    """
    n = assets if isinstance(assets, (int, np.integer)) else len(assets)
    return n > NATIONAL_ASSETS or len(needs) > NATIONAL_NEEDS


def metres_per_pixel(zoom: float, lat: float = 52.5) -> float:
    """Web Mercator ground resolution at ``zoom`` and latitude ``lat`` (256-px tiles)."""
    return 156_543.033_92 * math.cos(math.radians(lat)) / (2 ** zoom)


def zoom_for_bounds(bounds: tuple[float, float, float, float], width_px: int = 900, height_px: int = 560) -> float:
    """The zoom at which ``bounds`` (WGS84 minx, miny, maxx, maxy) fills a map of that size (as fitBounds does)."""
    minx, miny, maxx, maxy = bounds
    if not all(np.isfinite([minx, miny, maxx, maxy])) or maxx <= minx or maxy <= miny:
        return 15.0

    def merc_y(lat):
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    zx = math.log2(width_px * 360 / (256 * (maxx - minx)))
    zy = math.log2(height_px * 2 * math.pi / (256 * max(merc_y(maxy) - merc_y(miny), 1e-9)))
    return float(max(0.0, min(zx, zy, 19.0)))


def _decimals(zoom: float) -> int:
    """Coordinate decimals that keep about a tenth of a pixel at ``zoom`` (6 = 0.1 m, 3 = 100 m)."""
    deg_per_px = 360 / (256 * 2 ** zoom)
    return int(min(6, max(2, math.ceil(-math.log10(deg_per_px / 10)))))


def _view_box(bounds_wgs84) -> shapely.Geometry:
    minx, miny, maxx, maxy = bounds_wgs84
    return gpd.GeoSeries([shapely.box(minx, miny, maxx, maxy)], crs=DISPLAY_CRS).to_crs(MEASURE_CRS).iloc[0]


def _round(geom: np.ndarray, decimals: int) -> np.ndarray:
    return shapely.set_precision(geom, 10 ** -decimals)


@dataclass
class DisplayIndex:
    """Built once per data version: representative points of assets and the LAD aggregation of needs."""

    x: np.ndarray  # asset points in WGS84
    y: np.ndarray
    placed: np.ndarray
    priority: np.ndarray
    lads: gpd.GeoDataFrame | None

    def subset(self, mask: np.ndarray) -> "DisplayIndex":
        """The index of the rows where ``mask`` is true (a filtered view of the same assets), sharing ``lads``."""
        mask = np.asarray(mask, dtype=bool)
        return DisplayIndex(self.x[mask], self.y[mask], self.placed[mask], self.priority[mask], self.lads)

    def masked(self, mask: np.ndarray) -> "DisplayIndex":
        """The index of every row with the rows where ``mask`` is false left off the map (counted as not placed).

        It draws what :meth:`subset` draws, but against the unfiltered assets: the filtered rows need not be
        copied out first (``national_map_data(assets, ..., index=index.masked(mask))``).
        """
        return DisplayIndex(self.x, self.y, self.placed & np.asarray(mask, dtype=bool), self.priority, self.lads)

    def extent(self) -> tuple[float, float, float, float] | None:
        """WGS84 bounds of the placed assets (``None`` when none is placed)."""
        if not self.placed.any():
            return None
        x, y = self.x[self.placed], self.y[self.placed]
        return (float(x.min()), float(y.min()), float(x.max()), float(y.max()))


def lad_of(names: pd.Series) -> pd.Series:
    """Local authority name from an LSOA name ("Trafford 001A" -> "Trafford")."""
    return names.astype(str).str.replace(r"\s+\d{3}[A-Z]$", "", regex=True)


def aggregate_needs(needs: gpd.GeoDataFrame, *, need_column: str = "need_decile") -> gpd.GeoDataFrame:
    """Need areas dissolved to local authorities, with the median decile and the share in deciles 1-2."""
    frame = gpd.GeoDataFrame({"lad": lad_of(needs["name"]).to_numpy(),
                              "decile": pd.to_numeric(needs[need_column], errors="coerce").to_numpy()},
                             geometry=needs.geometry.to_numpy(), crs=needs.crs)
    stats = frame.groupby("lad").agg(lsoas=("decile", "size"), median=("decile", "median"),
                                     deprived=("decile", lambda d: float((d <= 2).mean()) if d.notna().any() else np.nan))
    # Snap to a 1 m grid first: LSOA edges then coincide exactly, and the union is fast and clean.
    snapped = frame.set_geometry(shapely.set_precision(frame.geometry.to_numpy(), 1.0))
    geom = snapped.dissolve("lad", method="unary").geometry
    out = gpd.GeoDataFrame(stats.join(geom), geometry="geometry", crs=needs.crs).reset_index()
    return out


def prepare(assets: gpd.GeoDataFrame, needs: gpd.GeoDataFrame, *, need_column: str = "need_decile",
            aggregate: bool | None = None) -> DisplayIndex:
    """The per-data-version part of a national map (the app keeps it with the analysis)."""
    geom = assets.geometry
    ok = ~(geom.isna() | geom.is_empty).to_numpy()
    x = np.full(len(assets), np.nan)
    y = np.full(len(assets), np.nan)
    if ok.any():
        pts = shapely.point_on_surface(geom.to_numpy()[ok])
        ll = gpd.GeoSeries(pts, crs=assets.crs).to_crs(DISPLAY_CRS)
        x[ok], y[ok] = ll.x.to_numpy(), ll.y.to_numpy()
    prio = assets["priority"].astype(object).to_numpy() if "priority" in assets.columns else np.full(len(assets), None)
    lads = None
    if aggregate if aggregate is not None else len(needs) > MAX_NEED_FEATURES:
        key = (id(needs), len(needs), need_column)
        hit = _LAD_CACHE.get(key)
        if hit is None or hit[0]() is not needs:
            hit = (weakref.ref(needs), aggregate_needs(needs, need_column=need_column))
            _LAD_CACHE.clear()  # one need layer at a time: a new analysis replaces the old one
            _LAD_CACHE[key] = hit
            weakref.finalize(needs, _LAD_CACHE.pop, key, None)  # a session's upload dies with the session
        lads = hit[1]
    return DisplayIndex(x, y, ok, prio, lads)


#: Need layers a ``need_cache`` of :func:`national_map_data` keeps (views and zooms), emptied when full.
MAX_NEED_CACHED = 16

#: The local-authority aggregation of the need layer last drawn (dissolving 35k LSOAs takes
#: seconds; filters and pans reuse it). Holds the need frame weakly (a private upload must not
#: outlive its session) and drops the entry when the frame dies, so an id is never reused.
_LAD_CACHE: dict = {}


def _need_layer(needs, index, view_box, view, zoom, need_column, tolerance_px):
    tol = metres_per_pixel(zoom) * tolerance_px
    dec = _decimals(zoom)
    in_view = needs.geometry.sindex.query(view_box, predicate="intersects") if view is not None else np.arange(len(needs))
    if len(in_view) <= MAX_NEED_FEATURES or index.lads is None:
        sub = needs.iloc[np.sort(in_view)]
        geom = sub.geometry.to_numpy()
        if view is not None:  # clip to the view (with a margin) so big areas do not drag their far edges along
            geom = shapely.clip_by_rect(geom, *view_box.buffer(tol * 20).bounds)
        geom = shapely.simplify(geom, tol, preserve_topology=True)
        ll = gpd.GeoSeries(geom, crs=needs.crs, index=sub.index).to_crs(DISPLAY_CRS)
        ll = gpd.GeoSeries(_round(ll.to_numpy(), dec), crs=DISPLAY_CRS, index=sub.index)
        return geojson_features(sub, ["code", "name", need_column, "iod_year"], ll), "LSOA"
    lads = index.lads
    pick = lads.geometry.sindex.query(view_box, predicate="intersects") if view is not None else np.arange(len(lads))
    sub = lads.iloc[np.sort(pick)]
    geom = shapely.simplify(sub.geometry.to_numpy(), tol, preserve_topology=True)
    ll = gpd.GeoSeries(geom, crs=lads.crs, index=sub.index).to_crs(DISPLAY_CRS)
    ll = gpd.GeoSeries(_round(ll.to_numpy(), dec), crs=DISPLAY_CRS, index=sub.index)
    shown = pd.DataFrame({
        "code": sub["lad"].to_numpy(),
        "name": [f"{n}: {c} LSOAs, {d:.0%} in the most deprived 20%" if np.isfinite(d) else f"{n}: {c} LSOAs, no data"
                 for n, c, d in zip(sub["lad"], sub["lsoas"], sub["deprived"], strict=True)],
        need_column: [int(round(v)) if np.isfinite(v) else None for v in sub["median"]],
        "iod_year": "",
    }, index=sub.index)
    return geojson_features(shown, ["code", "name", need_column, "iod_year"], ll), "local authority"


def _asset_layers(assets, index, view, zoom, cell_px):
    ok = index.placed.copy()
    if view is not None:
        minx, miny, maxx, maxy = view
        with np.errstate(invalid="ignore"):
            ok &= (index.x >= minx) & (index.x <= maxx) & (index.y >= miny) & (index.y <= maxy)
    rows = np.flatnonzero(ok)
    dec = _decimals(zoom)
    empty = {"type": "FeatureCollection", "features": []}
    if len(rows) <= MAX_ASSET_FEATURES:
        sub = assets.iloc[rows]
        geom = sub.geometry
        is_point = geom.geom_type.isin(["Point", "MultiPoint"]).to_numpy()
        ll = geom.to_crs(DISPLAY_CRS)
        ll = gpd.GeoSeries(_round(ll.to_numpy(), dec), crs=DISPLAY_CRS, index=sub.index)
        return (geojson_features(sub[~is_point], ASSET_PROPS, ll[~is_point]), geojson_features(sub[is_point], ASSET_PROPS, ll[is_point]),
                {"assets": int(len(rows)), "clusters": 0})
    # Cluster on a screen grid: cell size in degrees at this zoom.
    cell = 360 / (256 * 2 ** zoom) * cell_px
    cx = np.floor(index.x[rows] / cell).astype(np.int64)
    cy = np.floor(index.y[rows] / (cell * 0.62)).astype(np.int64)  # ~cos(52 deg): square cells on screen
    key = cx * 10_000_000 + cy
    prio = pd.Series(index.priority[rows]).fillna("not flagged").to_numpy()
    frame = pd.DataFrame({"key": key, "x": index.x[rows], "y": index.y[rows], "p": prio})
    counts = pd.crosstab(frame["key"], frame["p"])
    for p in PRIORITY_ORDER:
        if p not in counts.columns:
            counts[p] = 0
    centre = frame.groupby("key")[["x", "y"]].mean()
    total = counts[list(PRIORITY_ORDER)].sum(axis=1)
    feats = []
    for k, n in total.items():
        c = counts.loc[k]
        top = next((p for p in PRIORITY_ORDER if c[p] > 0), "not flagged")
        label = (f"{n:,} assets here: {c['High']:,} High, {c['Medium']:,} Medium, {c['Low']:,} Low, "
                 f"{c['not flagged']:,} not flagged; click or zoom in to see them")
        feats.append({"type": "Feature",
                      "geometry": {"type": "Point", "coordinates": [round(float(centre.at[k, "x"]), dec),
                                                                    round(float(centre.at[k, "y"]), dec)]},
                      "properties": {"asset_id": "", "name": esc(label), "organisation": "", "status": "",
                                     "priority": esc(top), "need_area_name": "", "need_decile": "",
                                     "count": int(n)}})
    return empty, {"type": "FeatureCollection", "features": feats}, {"assets": int(len(rows)), "clusters": len(feats)}


def in_view(frame: gpd.GeoDataFrame, view: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    """The rows of ``frame`` whose geometry meets ``view`` (WGS84 minx, miny, maxx, maxy), in their order.

    What a per-view layer other than the need areas and sites sends (the placed Land Registry titles at
    street zoom): only the features in and around the view built, so a pan sends a small payload.
    Rows with no geometry are left out.
    """
    if not len(frame):
        return frame
    box = gpd.GeoSeries([shapely.box(*(float(v) for v in view))], crs=DISPLAY_CRS).to_crs(frame.crs).iloc[0]
    return frame.iloc[np.sort(frame.sindex.query(box, predicate="intersects"))]


def data_extent(index: DisplayIndex, needs: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    """WGS84 bounds of the placed assets of ``index``, else of the need areas."""
    ext = index.extent()
    if ext is None:
        box = shapely.box(*needs.total_bounds)
        ext = tuple(float(v) for v in gpd.GeoSeries([box], crs=needs.crs).to_crs(DISPLAY_CRS).total_bounds)
    return ext


def national_map_data(
    assets: gpd.GeoDataFrame,
    needs: gpd.GeoDataFrame,
    *,
    need_column: str = "need_decile",
    view: tuple[float, float, float, float] | None = None,
    zoom: float | None = None,
    index: DisplayIndex | None = None,
    max_bytes: int = MAX_BYTES,
    width_px: int = 900,
    height_px: int = 560,
    need_cache: dict | None = None,
) -> MapData:
    """A :class:`~assets_map.maps.draw.MapData` for national-scale layers, under ``max_bytes``.

    Parameters
    ----------
    view : the map's view (WGS84 minx, miny, maxx, maxy); default: the extent of the data
    zoom : the map's zoom; default: the zoom at which ``view`` fills a ``width_px`` x ``height_px`` map
    index : :func:`prepare` of these layers (build it once per data version and pass it)
    max_bytes : the budget for the GeoJSON of one render
    need_cache : a dict kept by the caller for these ``needs`` (one per need layer and data version): the
        need features of a view are kept in it and reused when only the assets change (a filter), as
        the need layer does not depend on the filters. Treat what it holds as read-only.

    The returned object carries ``stats`` (what was drawn: LSOAs or local authorities,
    assets or clusters, bytes).
    """
    index = index or prepare(assets, needs, need_column=need_column)
    if view is None:
        bounds, clip = data_extent(index, needs), None
    else:
        bounds, clip = tuple(float(v) for v in view), tuple(float(v) for v in view)
    z = zoom if zoom is not None else zoom_for_bounds(bounds, width_px, height_px)
    view_box = None  # worked out only when a need layer is built (reprojecting it costs ~20 ms)
    tolerance_px, cell_px = 1.0, CELL_PX
    for _ in range(6):
        nkey = (need_column, clip, z, tolerance_px)
        hit = need_cache.get(nkey) if need_cache is not None else None
        if hit is None:
            view_box = _view_box(bounds) if view_box is None else view_box
            need_fc, need_level = _need_layer(needs, index, view_box, clip, z, need_column, tolerance_px)
            hit = (need_fc, need_level, len(json.dumps(need_fc, separators=(",", ":"))))
            if need_cache is not None:
                if len(need_cache) >= MAX_NEED_CACHED:
                    need_cache.clear()
                need_cache[nkey] = hit
        need_fc, need_level, need_size = hit
        polys, points, counts = _asset_layers(assets, index, clip, z, cell_px)
        size = need_size + sum(len(json.dumps(fc, separators=(",", ":"))) for fc in (polys, points))
        if size <= max_bytes:
            break
        tolerance_px *= 2
        cell_px *= 1.5
    data = MapData(need_fc, need_column, polys, points, bounds)
    data.stats = {"need_level": need_level, "need_features": len(need_fc["features"]), "zoom": round(z, 2),
                  "bytes": size, **counts, "tolerance_px": tolerance_px, "cell_px": cell_px}
    return data


#: Share of the view's width (height) added on each side before building, so small pans reuse the data.
VIEW_PAD = 0.25
#: Built views are snapped outward to a grid of this many screen pixels at their zoom.
SNAP_PX = 64

View = tuple[float, float, float, float]


def view_from_state(map_state: dict | None) -> tuple[View, int] | None:
    """The view (WGS84 minx, miny, maxx, maxy) and integer zoom st_folium reported, or ``None``.

    Reads ``bounds`` and ``zoom`` of st_folium's returned state; anything missing, not a
    number or degenerate gives ``None`` (the caller then uses the data's extent). Latitudes are
    clamped to Web Mercator's range and longitudes to -180..180 (Leaflet reports beyond them
    when zoomed far out).
    """
    if not isinstance(map_state, dict):
        return None
    b, z = map_state.get("bounds"), map_state.get("zoom")
    try:
        sw, ne = b["_southWest"], b["_northEast"]
        minx, miny, maxx, maxy = (float(sw["lng"]), float(sw["lat"]), float(ne["lng"]), float(ne["lat"]))
        zoom = float(z)
    except (TypeError, KeyError, ValueError):
        return None
    if not all(map(math.isfinite, (minx, miny, maxx, maxy, zoom))) or maxx <= minx or maxy <= miny:
        return None
    minx, maxx = max(minx, -180.0), min(maxx, 180.0)
    miny, maxy = max(miny, -85.0), min(maxy, 85.0)
    if maxx <= minx or maxy <= miny:
        return None
    return (minx, miny, maxx, maxy), int(round(zoom))


def padded_view(bounds: View, zoom: float, *, pad: float = VIEW_PAD, snap_px: int = SNAP_PX) -> View:
    """``bounds`` grown by ``pad`` of its size on every side, then snapped outward to a grid.

    The grid step is ``snap_px`` screen pixels at ``zoom`` (in degrees of longitude, used for
    both axes), so two views a few pixels apart give the same padded view: a pan of less than
    about ``pad`` of the screen is served by the data already built (see :func:`covers`).
    """
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    w, h = maxx - minx, maxy - miny
    step = 360.0 / (256 * 2 ** round(zoom)) * snap_px
    out = (math.floor((minx - pad * w) / step) * step, math.floor((miny - pad * h) / step) * step,
           math.ceil((maxx + pad * w) / step) * step, math.ceil((maxy + pad * h) / step) * step)
    out = (max(out[0], -180.0), max(out[1], -85.0), min(out[2], 180.0), min(out[3], 85.0))
    return tuple(round(v, 6) for v in out)


def covers(built: tuple[View | None, int] | None, bounds: View, zoom: float) -> bool:
    """Whether map data built for ``built`` (view or ``None`` = everything, zoom) still serves ``bounds`` at ``zoom``.

    It does when the zoom is the same (clusters and simplification are per zoom) and the
    view lies inside the built view (``None`` holds the whole data, so any view at that zoom).
    """
    if built is None:
        return False
    view, z = built
    if int(round(zoom)) != int(z):
        return False
    if view is None:
        return True
    minx, miny, maxx, maxy = bounds
    eps = 1e-9
    return minx >= view[0] - eps and miny >= view[1] - eps and maxx <= view[2] + eps and maxy <= view[3] + eps


def describe(stats: dict) -> str:
    """What a national map shows, in words for the user (from :func:`national_map_data`'s ``stats``)."""
    if stats.get("need_level") == "local authority":
        need = (f"Need is shown by local authority ({stats['need_features']:,} authorities; each coloured by the "
                "median decile of its neighbourhoods): zoom in to see neighbourhoods (LSOAs).")
    else:
        need = f"Need is shown by neighbourhood (LSOA): {stats.get('need_features', 0):,} in and around this view."
    n, clusters = stats.get("assets", 0), stats.get("clusters", 0)
    if clusters:
        sites = (f"{n:,} sites in and around this view are grouped into {clusters:,} clusters (coloured by the "
                 "highest priority in each; hover one for its counts): zoom in to see them one by one.")
    elif n:
        sites = f"{n:,} sites in and around this view are drawn one by one: click one to open its card."
    else:
        sites = "No site matching the filters is in this view."
    return f"{need} {sites}"


def view_to_build(built: tuple[View | None, int] | None, reported: tuple[View, int] | None, *,
                  full_zoom: int) -> tuple[View | None, int]:
    """The (view, zoom) the national map data should be built for.

    ``built`` is what the data in hand was built for, ``reported`` the view the browser last
    reported (:func:`view_from_state`). Kept when it still covers the reported view; otherwise
    the reported view padded and snapped (:func:`padded_view`); with no report yet, what was
    built, else the whole extent (``None``) at ``full_zoom``.
    """
    if reported is None:
        return built if built is not None else (None, int(full_zoom))
    bounds, zoom = reported
    if covers(built, bounds, zoom):
        return built
    return padded_view(bounds, zoom), int(zoom)


def view_centre(bounds: View) -> tuple[float, float]:
    """(lat, lon) of the middle of ``bounds`` on a Web Mercator screen (what Leaflet calls the centre)."""
    minx, miny, maxx, maxy = bounds

    def merc(lat):
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    lat = math.degrees(math.atan(math.sinh((merc(miny) + merc(maxy)) / 2)))
    return round(lat, 6), round((minx + maxx) / 2, 6)


def follow_view(previous: dict | None, map_state: dict | None, *, version: str, fresh: bool, full_zoom: int) -> dict:
    """The national map's next view state, from the last one and what the browser reported.

    Parameters
    ----------
    previous : the state this returned on the last run (``None`` at first)
    map_state : st_folium's last returned value (``bounds``, ``zoom``)
    version : the data version; a new one forgets the old view (the new map fits its data)
    fresh : whether the map component is being mounted afresh (another need measure or basemap,
        or back from another page): it then starts at the last reported view
    full_zoom : the zoom at which the whole data fits the map

    Returns
    -------
    dict : ``version``; ``built``, the (view or ``None`` = everything, zoom) to build the layers for
        (:func:`view_to_build`); ``start``, ``((lat, lon), zoom)`` where the mounted map was opened
        (``None``: fitted to the data). ``start`` changes only when the map is mounted afresh: it is
        part of the map itself, so changing it would remount the map.
    """
    previous = previous or {}
    same = previous.get("version") == version
    reported = view_from_state(map_state) if same else None
    start = previous.get("start") if same else None
    if fresh:
        start = (view_centre(reported[0]), reported[1]) if reported is not None else None
    built = view_to_build(previous.get("built") if same else None, reported, full_zoom=full_zoom)
    return {"version": version, "built": built, "start": start}
