"""Folium maps that render offline, with every shown value escaped.

folium loads Leaflet from CDNs, which locked-down public-sector networks (and
this project's CI) cannot reach: the map then draws 0 pixels with no Python
error. :func:`vendor_static` copies Leaflet, Leaflet.markercluster and jQuery
from their pip-installed XStatic packages into ``static/vendor`` (served by
Streamlit's static file server), and :func:`localise` points every element of a
map at those copies, dropping what the map does not use (Bootstrap, Font
Awesome, awesome-markers).
"""
from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement, Template

from assets_map.io.report import esc
from assets_map.maps.features import ASSET_ALIASES, ASSET_PROPS, MapData, display_geometry, geojson_features
from assets_map.schema import DISPLAY_CRS

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
STATIC_URL = "/app/static/vendor"

# Map element resource names (folium's default_js/default_css keys) to the vendored copies.
LOCAL_JS = {
    "leaflet": "leaflet/leaflet.js",
    "jquery": "jquery/jquery.min.js",
    "markerclusterjs": "markercluster/leaflet.markercluster.js",
}
LOCAL_CSS = {
    "leaflet_css": "leaflet/leaflet.css",
    "markerclustercss": "markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "markercluster/MarkerCluster.Default.css",
}
#: Resources folium adds that these maps never use (jQuery: only folium's popups and objects kept in front use
#: it, and these maps have neither; the map's frame loads its scripts one after the other).
UNUSED = {"bootstrap", "awesome_markers", "bootstrap_css", "glyphicons_css", "awesome_markers_font_css",
          "awesome_markers_css", "awesome_rotate_css", "jquery"}

PRIORITY_COLOURS = {"High": "#b2182b", "Medium": "#ef8a62", "Low": "#67a9cf", "not flagged": "#8c8c8c"}
# Deciles 1 (most deprived) .. 10: a sequential purple ramp, dark = more need.
DECILE_COLOURS = ["#3f007d", "#54278f", "#6a51a3", "#807dba", "#9e9ac8", "#bcbddc", "#dadaeb", "#efedf5",
                  "#f7f6fb", "#fcfbfd"]
NO_DATA_COLOUR = "#ffffff"

BASEMAPS = {
    "OpenStreetMap": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                      "&copy; OpenStreetMap contributors"),
    "CartoDB Positron": ("https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png",
                         "&copy; OpenStreetMap contributors &copy; CARTO"),
    "None (plain background)": (None, None),
}


def vendor_static(static_dir: Path = STATIC_DIR) -> Path:
    """Copy Leaflet, markercluster and jQuery from the installed XStatic packages (idempotent)."""
    import xstatic.pkg.jquery as xjq
    import xstatic.pkg.leaflet as xleaflet
    import xstatic.pkg.leaflet_markercluster as xmc

    target = static_dir / "vendor"
    plan = {
        "leaflet": (Path(xleaflet.BASE_DIR), ["leaflet.js", "leaflet.css", "images"]),
        "markercluster": (Path(xmc.BASE_DIR), ["leaflet.markercluster.js", "MarkerCluster.css",
                                               "MarkerCluster.Default.css"]),
        "jquery": (Path(xjq.BASE_DIR), ["jquery.min.js"]),
    }
    for sub, (base, names) in plan.items():
        for name in names:
            src, dst = base / name, target / sub / name
            if dst.exists():
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst)
            else:
                shutil.copy2(src, dst)
    return target


def _walk(element):
    yield element
    for child in getattr(element, "_children", {}).values():
        yield from _walk(child)


def localise(m: folium.Map, base_url: str = STATIC_URL) -> folium.Map:
    """Point every element's JS and CSS at the vendored copies; refuse any CDN link left over."""
    for el in _walk(m):
        for attr, local in (("default_js", LOCAL_JS), ("default_css", LOCAL_CSS)):
            links = getattr(el, attr, None)
            if not links:
                continue
            new = []
            for name, url in links:
                if name in UNUSED:
                    continue
                if name not in local:
                    raise ValueError(f"map element {type(el).__name__} needs {url}, which is not vendored for offline use")
                new.append((name, f"{base_url}/{local[name]}"))
            setattr(el, attr, new)
    return m


def resource_links(m: folium.Map) -> list[str]:
    """Every JS/CSS URL the map asks the browser to load."""
    out = []
    for el in _walk(m):
        out += [u for _, u in getattr(el, "default_js", [])] + [u for _, u in getattr(el, "default_css", [])]
    return out


class Legend(MacroElement):
    """A fixed legend box; its text is escaped."""

    _template = Template("""
        {% macro html(this, kwargs) %}
        <div class="assets-map-legend" style="position: fixed; bottom: 58px; left: 12px; z-index: 9999;
             background: rgba(255,255,255,0.92); padding: 8px 10px; border: 1px solid #999; border-radius: 4px;
             font: 11px/1.3 sans-serif; max-width: 220px;">{{ this.body }}</div>
        {% endmacro %}
    """)

    def __init__(self, body_html: str):
        super().__init__()
        self._name = "Legend"
        self.body = body_html


def legend_html(title: str, need_label: str) -> str:
    """The map's compact legend as HTML, folded by a click on its title line.

    One line of need colours (decile 1 to 10, and no data) under ``need_label``, one line of
    priority dots; ``title`` (the data shown) is cut to one line.
    """
    ramp = "".join(f'<span title="decile {i}" style="display:inline-block;width:13px;height:10px;background:{c}">'
                   "</span>" for i, c in enumerate(DECILE_COLOURS, 1))
    nodata = (f'<span style="display:inline-block;width:13px;height:10px;background:{NO_DATA_COLOUR};'
              'border:1px solid #999;margin-left:6px;vertical-align:top"></span> no data')
    prios = " ".join(
        f'<span style="white-space:nowrap"><span style="display:inline-block;width:{w}px;height:{w}px;'
        f'border-radius:50%;background:{c};opacity:{o};margin-right:2px"></span>{esc(p)}</span>'
        for p, c, w, o in [("High", PRIORITY_COLOURS["High"], 10, 1), ("Medium", PRIORITY_COLOURS["Medium"], 10, 1),
                           ("Low", PRIORITY_COLOURS["Low"], 10, 1), ("not flagged", PRIORITY_COLOURS["not flagged"], 6, .5)])
    return ("<details open><summary style='cursor:pointer;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;"
            f"max-width:230px'><b>Key</b> <span style='color:#555'>{esc(title)}</span></summary>"
            f"<div style='margin-top:3px'>Need: {esc(need_label)}</div>"
            f"<div style='white-space:nowrap'>{ramp}{nodata}</div>"
            "<div style='display:flex;justify-content:space-between;width:130px;color:#555'><span>1 most deprived</span>"
            "<span>10</span></div>"
            f"<div style='margin-top:3px'>Sites: {prios}</div></details>")


#: Placed sites further than this many times the 90th-percentile distance from the middle of the sites
#: (plus 1.5 km) are outliers: listed under the map, not framed by it.
OUTLIER_FACTOR = 2.0


def core_mask(geometry: gpd.GeoSeries) -> np.ndarray:
    """True for the sites that set a map's extent; False for the few far from all the others.

    The middle is the median point of the sites; a site is left out when its distance from
    there is more than ``OUTLIER_FACTOR`` times the distance within which 90% of the sites
    lie, plus 1.5 km (so a compact town keeps its edges). Fewer than 5 sites are all kept.
    """
    from assets_map.engine.geo import representative_points
    from assets_map.schema import MEASURE_CRS

    n = len(geometry)
    if n < 5:
        return np.ones(n, bool)
    pts = representative_points(geometry.to_crs(MEASURE_CRS))
    x, y = pts.x.to_numpy(dtype=float), pts.y.to_numpy(dtype=float)
    d = np.hypot(x - np.median(x), y - np.median(y))
    return d <= OUTLIER_FACTOR * float(np.percentile(d, 90)) + 1500.0


#: Most asset features drawn as GeoJSON: beyond ~10k features Leaflet takes tens of seconds
#: (feature count, not bytes, is the limit), so the map keeps the highest priorities and says so.
MAX_MAP_ASSETS = 5000
_PRIORITY_RANK = {"High": 0, "Medium": 1, "Low": 2}


#: Most need areas whose names are written on the map (drawn at street zoom only).
MAX_NEED_LABELS = 3000
#: The zoom from which need area names are shown (streets; below it they would cover the map).
NEED_LABEL_ZOOM = 14
#: Most features of one constraint layer drawn (beyond it the layer is not drawn, and says so in its name).
MAX_CONSTRAINT_FEATURES = 5000
#: Outline colour of each constraint kind's layer (others: grey).
CONSTRAINT_COLOURS = {"conservation-area": "#8e24aa", "listed-building": "#d81b60", "listed-building-outline": "#d81b60",
                      "scheduled-monument": "#6d4c41", "site-of-special-scientific-interest": "#2e7d32",
                      "local-nature-reserve": "#558b2f", "ancient-woodland": "#33691e", "flood-risk-zone": "#1565c0",
                      "green-belt": "#689f38", "article-4-direction-area": "#ef6c00",
                      "tree-preservation-zone": "#00796b", "local-green-space": "#9e9d24"}


def constraint_features(layers, *, tolerance_m: float = 5.0) -> list[tuple[str, str, dict]]:
    """The loaded constraint layers as map layers: ``(dataset, words, GeoJSON)`` per kind, escaped and simplified.

    A kind with more than :data:`MAX_CONSTRAINT_FEATURES` features is left off the map (named with its count),
    so a national layer never stalls the browser; its answers are still on every site.
    """
    from assets_map.io.constraints import CONSTRAINT_KINDS

    out = []
    if not layers:
        return out
    frames = [g for g in layers if g is not None and len(g)]
    if not frames:
        return out
    allf = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=frames[0].crs)
    allf = allf[~(allf.geometry.isna() | allf.geometry.is_empty)]
    for kind, part in allf.groupby("kind", sort=False):
        spec = CONSTRAINT_KINDS.get(str(kind))
        words = spec.label if spec else str(kind)
        if len(part) > MAX_CONSTRAINT_FEATURES:
            out.append((str(kind), f"{words} ({len(part):,} features: too many to draw)", {"type": "FeatureCollection",
                                                                                           "features": []}))
            continue
        cols = [c for c in ("feature_name", "reference", "grade", "source") if c in part.columns]
        part = part.assign(kind_words=words)
        out.append((str(kind), words, geojson_features(part, ["kind_words", *cols],
                                                       display_geometry(part, tolerance_m=tolerance_m))))
    return out


#: Most freehold parcels drawn; beyond it only the parcels holding a site are drawn.
MAX_MAP_PARCELS = 20000


def parcel_features(parcels: gpd.GeoDataFrame | None, assets: gpd.GeoDataFrame) -> dict:
    """Freehold parcels for the map, each with who owns it in words and the sites in it (escaped).

    "Who owns this?" is :func:`assets_map.community.ownership.who_owns` (the open data names no owner: the
    words give the HM Land Registry title search); a parcel holding register sites names them.
    """
    from assets_map.community.ownership import who_owns

    empty = {"type": "FeatureCollection", "features": []}
    if parcels is None or not len(parcels) or "parcel_id" not in parcels.columns:
        return empty
    held = None
    if "parcel_id" in assets.columns:
        held = assets[["parcel_id"]].assign(
            name=[f"{n if isinstance(n, str) and n else 'a site'}" + (f" ({o})" if isinstance(o, str) and o else "")
                  for n, o in zip(assets.get("name", pd.Series(index=assets.index, dtype=object)),
                                  assets.get("organisation", pd.Series(index=assets.index, dtype=object)),
                                  strict=True)]).dropna(subset=["parcel_id"])
    if len(parcels) > MAX_MAP_PARCELS:
        if held is None or held.empty:
            return empty
        parcels = parcels[parcels["parcel_id"].isin(set(held["parcel_id"]))]
    sites = held.groupby("parcel_id")["name"].agg(lambda v: "; ".join(str(x) for x in v if isinstance(x, str))[:300]) \
        if held is not None and len(held) else pd.Series(dtype=object)
    frame = parcels[["parcel_id", "geometry"]].copy()
    frame["owner_words"] = [who_owns(str(i), None) for i in frame["parcel_id"]]
    frame["sites_here"] = frame["parcel_id"].map(sites).fillna("none in the register loaded")
    return geojson_features(frame, ["parcel_id", "owner_words", "sites_here"], display_geometry(frame, tolerance_m=0.5))


def parcel_at(parcels: gpd.GeoDataFrame, assets: gpd.GeoDataFrame, *, lon: float, lat: float,
              placements: gpd.GeoDataFrame | None = None) -> dict | None:
    """The freehold parcel under a click (WGS84), with who owns it and the register's sites in it, or None.

    ``placements`` are an anchor's placed titles (:func:`assets_map.community.ownership.placements`): a title
    placed in the parcel names the anchor, how it was placed and the rule that named it.
    """
    from shapely.geometry import Point

    from assets_map.community.ownership import who_owns

    at = gpd.GeoSeries([Point(lon, lat)], crs=DISPLAY_CRS).to_crs(parcels.crs).iloc[0]
    hit = parcels.sindex.query(at, predicate="intersects")
    if not len(hit):
        return None
    row = parcels.iloc[int(hit[0])]
    pid = str(row["parcel_id"])
    here = assets[assets["parcel_id"].astype("string") == pid] if "parcel_id" in assets.columns else assets.iloc[0:0]
    sites = "; ".join(f"{n if isinstance(n, str) and n else 'a site'}" + (f" ({o})" if isinstance(o, str) and o else "")
                      for n, o in zip(here.get("name", []), here.get("organisation", []), strict=False))
    return {"parcel_id": pid, "owner_words": who_owns(pid, placements),
            "sites_here": sites or "none in the register loaded"}


def _drawn_sites(assets: gpd.GeoDataFrame, max_assets: int | None) -> tuple[gpd.GeoDataFrame, int]:
    """The placed sites a map draws (the ``max_assets`` highest priorities) and how many placed ones are left off."""
    placed = assets[~(assets.geometry.isna() | assets.geometry.is_empty)]
    if max_assets is None or len(placed) <= max_assets:
        return placed, 0
    rank = placed["priority"].map(_PRIORITY_RANK).fillna(3).to_numpy() if "priority" in placed else np.zeros(len(placed))
    keep = np.sort(np.argsort(rank, kind="stable")[:max_assets])
    return placed.iloc[keep], len(placed) - max_assets


def _site_features(placed: gpd.GeoDataFrame, geom: gpd.GeoSeries | None = None) -> tuple[dict, dict]:
    geom = display_geometry(placed, tolerance_m=0) if geom is None else geom
    is_point = placed.geometry.geom_type.isin(["Point", "MultiPoint"]).to_numpy()
    return (geojson_features(placed[~is_point], ASSET_PROPS, geom[~is_point]),
            geojson_features(placed[is_point], ASSET_PROPS, geom[is_point]))


def site_display(assets: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """The display geometry of every placed site of ``assets`` (what :func:`site_data` draws), by row label.

    Worked out once per data, it spares :func:`site_data` reprojecting the sites on every filter change.
    """
    placed = assets[~(assets.geometry.isna() | assets.geometry.is_empty)]
    return display_geometry(placed, tolerance_m=0)


def site_data(assets: gpd.GeoDataFrame, *, need_column: str = "need_decile",
              max_assets: int | None = MAX_MAP_ASSETS, display: gpd.GeoSeries | None = None) -> MapData:
    """Only the sites of a map (the part a filter changes), as :class:`MapData` with no need areas.

    The app draws the rest once (:func:`map_data` of all the sites, :func:`render_map` with
    ``sites=False``) and sends these as feature groups (:func:`site_groups`), so a filter change
    redraws the sites without reloading the map. ``bounds`` are those of the sites drawn.

    ``display`` is :func:`site_display` of data these sites are rows of (the same row labels, unique):
    their geometry is taken from it instead of being reprojected (the features are the same; the
    bounds are then those of the rounded coordinates).
    """
    placed, omitted = _drawn_sites(assets, max_assets)
    empty = {"type": "FeatureCollection", "features": []}
    if display is not None and display.index.is_unique and placed.index.isin(display.index).all():
        geom = display.loc[placed.index]
        bounds = tuple(float(v) for v in geom.total_bounds) if len(placed) else (np.nan,) * 4
        return MapData(empty, need_column, *_site_features(placed, geom), bounds, omitted)
    bounds = tuple(float(v) for v in placed.geometry.to_crs(DISPLAY_CRS).total_bounds) if len(placed) else \
        (np.nan,) * 4
    return MapData(empty, need_column, *_site_features(placed), bounds, omitted)


def map_data(assets: gpd.GeoDataFrame, needs: gpd.GeoDataFrame, *, need_column: str = "need_decile",
             tolerance_m: float = 20.0, max_assets: int | None = MAX_MAP_ASSETS,
             wards: gpd.GeoDataFrame | None = None, constraint_layers=(),
             parcels: gpd.GeoDataFrame | None = None) -> MapData:
    """Simplify (in metres), reproject, round and escape what the map draws.

    At most ``max_assets`` assets are drawn (highest priority first); ``MapData.omitted`` counts the rest.
    The extent fits where most sites are (:func:`core_mask`); the others are in ``MapData.outliers``.
    ``wards`` (polygons with ``ward_code``/``ward_name``) are drawn as outlines.
    National layers (more than 5,000 assets or 3,000 need areas) go through
    :func:`assets_map.maps.national.national_map_data` instead: need areas aggregated to local
    authorities and assets clustered when zoomed out, under 5 MB a render.
    """
    from assets_map.maps.national import national_map_data, needs_national_display

    if needs_national_display(assets, needs):
        return national_map_data(assets, needs, need_column=need_column)
    placed, omitted = _drawn_sites(assets, max_assets)
    core = core_mask(placed.geometry)
    far = placed[~core]
    outliers = [(str(i), n if isinstance(n, str) and n else "(no name)")
                for i, n in zip(far["asset_id"], far["name"] if "name" in far else [None] * len(far), strict=True)]
    extent = placed[core] if core.any() else needs
    bounds = tuple(float(v) for v in gpd.GeoSeries(extent.geometry, crs=extent.crs).to_crs(DISPLAY_CRS).total_bounds)
    need_geom = display_geometry(needs, tolerance_m=tolerance_m)
    need_fc = geojson_features(needs, ["code", "name", need_column, "iod_year"], need_geom)
    data = MapData(need_fc, need_column, *_site_features(placed), bounds, omitted, outliers=outliers)
    if wards is not None and len(wards) and "ward_code" in wards.columns:
        w = wards[~(wards.geometry.isna() | wards.geometry.is_empty)]
        data.wards = geojson_features(w, ["ward_code", "ward_name"], display_geometry(w, tolerance_m=tolerance_m))
    data.constraints = constraint_features(constraint_layers)
    data.parcels = parcel_features(parcels, assets)
    if "name" in needs.columns and len(needs) <= MAX_NEED_LABELS:
        at = gpd.GeoSeries(needs.geometry.representative_point(), crs=needs.crs).to_crs(DISPLAY_CRS)
        data.need_labels = [(str(n), round(float(p.x), 6), round(float(p.y), 6))
                            for n, p in zip(needs["name"], at, strict=True) if isinstance(n, str) and n and p is not None
                            and not p.is_empty]
    return data


def render_map(data: MapData, *, need_label: str = "IMD decile", title: str = "assets-map",
               basemap: str = "OpenStreetMap", selected: str | None = None, layers: bool = True,
               start: tuple[tuple[float, float], int] | None = None,
               labels: list[tuple[str, float, float, str]] = (), sites: bool = True) -> folium.Map:
    """A new folium Map of prepared :class:`MapData`, ready for offline use.

    ``layers=False`` gives the map without its data (tiles, extent, legend): the national map
    sends its view-dependent layers with :func:`data_layers` through st_folium's
    ``feature_group_to_add``, so following a pan does not remount the map. ``start``
    (``((lat, lon), zoom)``) opens the map there instead of fitting ``data.bounds``.

    ``sites=False`` leaves out the sites and the layer control: the app's main map sends them
    with :func:`site_groups` and st_folium's ``layer_control``, so that the map itself stays the
    same when a filter changes and is not reloaded.

    ``labels`` are place names ``(name, lon, lat, kind)`` (wards, towns) drawn on the plain
    background: shown at once without tiles, and switched on in the page when the tiles
    fail to load (the page then drops the tiles and says so, see :class:`TileFallback`).
    """
    minx, miny, maxx, maxy = data.bounds
    tiles, attr = BASEMAPS.get(basemap, BASEMAPS["OpenStreetMap"])
    location, zoom = start if start else ([(miny + maxy) / 2, (minx + maxx) / 2], 13)
    m = folium.Map(location=list(location), zoom_start=zoom, tiles=None,
                   max_zoom=19, control_scale=True, prefer_canvas=False)
    tile_layer = folium.TileLayer(tiles=tiles, attr=attr, name=basemap, max_zoom=19).add_to(m) if tiles else None
    if not start:
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    names = place_labels(labels, show=tile_layer is None) if labels else None
    if layers:
        for layer in (_need_geojson(data, need_label), *_ward_geojson(data), *_parcel_geojson(data),
                      *_constraint_geojsons(data), *(_asset_geojsons(data, selected) if sites else ())):
            layer.add_to(m)
    if names is not None:
        names.add_to(m)
    if layers and data.need_labels:
        need_names = folium.FeatureGroup(name="Need area names (when zoomed in)", show=True)
        need_names.add_child(TextLabels([(lon, lat, name, "am-label am-label-need") for name, lon, lat in data.need_labels]))
        need_names.add_to(m)
    if layers and (data.need_labels or (data.parcels and data.parcels.get("features"))):
        m.add_child(ZoomClass(NEED_LABEL_ZOOM))
    if layers and sites:
        folium.LayerControl(collapsed=True).add_to(m)
    if tile_layer is not None:
        m.add_child(TileFallback(tile_layer, names))
    m.get_root().add_child(Legend(legend_html(title, need_label)))
    # Where tiles cannot load (offline, or "None") the data shows on a plain light background.
    m.get_root().header.add_child(folium.Element(
        "<style>.leaflet-container{background:#eef0f3;}"
        ".am-label{pointer-events:none;white-space:nowrap;transform:translate(-50%,-50%);font:600 11px/1.1 sans-serif;"
        "color:#222;text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 2px #fff;}"
        ".am-label-town{font-size:12px;font-style:italic;color:#333;}"
        ".am-label-need{display:none;font-weight:400;font-size:10px;color:#4a3a6a;}"
        ".am-zoomed-in .am-label-need{display:block;}"
        ".am-parcel{display:none;}.am-zoomed-in .am-parcel{display:inline;}"
        ".foliumtooltip table{margin:auto;}.foliumtooltip tr{text-align:left;}"
        ".foliumtooltip th{padding:2px;padding-right:8px;}"
        ".am-tile-note{background:rgba(255,255,255,.95);padding:4px 8px;border:1px solid #999;border-radius:4px;"
        "font:12px/1.3 sans-serif;max-width:230px;}</style>"), name="assets_map_background")
    return localise(m)


def place_labels(labels, *, show: bool) -> folium.FeatureGroup:
    """Place names as text on the map (escaped), in a layer of their own; they never catch a click."""
    fg = folium.FeatureGroup(name="Place names", show=show)
    fg.add_child(TextLabels([(lon, lat, name, "am-label am-label-town" if kind == "town or place" else "am-label")
                             for name, lon, lat, kind in labels]))
    return fg


def script_json(value) -> str:
    """``value`` as JSON safe inside an HTML ``<script>``: ``<``, ``>`` and ``&`` written as unicode escapes."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c").replace(
        ">", "\\u003e").replace("&", "\\u0026")


class TextLabels(MacroElement):
    """Names written on the map (escaped), as markers of the parent layer that never catch a click.

    One array and a loop in the page, not a folium Marker per name: each Marker is several
    template elements, which made every rerun of the app spend ~0.3 s rendering 200 labels (and
    sent ~400 bytes of script per name instead of ~60).
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (group, classes, items) {
          items.forEach(function (t) {
            L.marker([t[1], t[0]], {interactive: false, icon: L.divIcon({className: "empty", iconSize: [0, 0],
              iconAnchor: [0, 0], html: '<div class="' + classes[t[3]] + '">' + t[2] + "</div>"})}).addTo(group);
          });
        })({{ this._parent.get_name() }}, {{ this.classes }}, {{ this.items }});
        {% endmacro %}
    """)

    def __init__(self, labels: list[tuple[float, float, str, str]]):
        super().__init__()
        self._name = "TextLabels"
        classes = sorted({c for *_, c in labels})
        self.classes = script_json(classes)
        self.items = script_json([[round(float(lon), 6), round(float(lat), 6), esc(name), classes.index(c)]
                                  for lon, lat, name, c in labels])


class ZoomClass(MacroElement):
    """Marks the map's container ``am-zoomed-in`` from a zoom on, so styles (need area names) show only there."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          function mark() { map.getContainer().classList.toggle("am-zoomed-in", map.getZoom() >= {{ this.zoom }}); }
          map.on("zoomend", mark);
          mark();
        })();
        {% endmacro %}
    """)

    def __init__(self, zoom: int):
        super().__init__()
        self._name = "ZoomClass"
        self.zoom = int(zoom)


class TileFallback(MacroElement):
    """Detects tiles that do not load (offline, a blocked tile server) and switches to the plain basemap.

    When the tile layer reports errors and no tile has loaded, the page removes the tiles,
    shows the place names and puts a note on the map saying why.
    """

    NOTE = ("Map tiles could not be loaded (no access to the tile server from this network), so the map shows a "
            "plain background with place names. Choose the basemap 'None' to skip the tiles.")
    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }}, tiles = {{ this.tiles.get_name() }};
          var names = {{ this.names_js }}, errors = 0, loaded = 0, done = false;
          function fallback() {
            if (done || loaded > 0 || errors === 0) return;
            done = true;
            map.removeLayer(tiles);
            if (names && !map.hasLayer(names)) { names.addTo(map); }
            var note = L.control({position: "bottomright"});
            note.onAdd = function () {
              var d = L.DomUtil.create("div", "am-tile-note");
              d.textContent = {{ this.note_js }};
              return d;
            };
            note.addTo(map);
            map.getContainer().setAttribute("data-tiles", "failed");
          }
          tiles.on("tileload", function () { loaded++; });
          tiles.on("tileerror", function () { errors++; if (errors >= 3) { fallback(); } });
          setTimeout(fallback, 6000);
        })();
        {% endmacro %}
    """)

    def __init__(self, tiles: folium.TileLayer, names: folium.FeatureGroup | None):
        super().__init__()
        self._name = "TileFallback"
        self.tiles = tiles
        self.names_js = names.get_name() if names is not None else "null"
        self.note_js = json.dumps(self.NOTE)


def _parcel_geojson(data: MapData) -> list[folium.GeoJson]:
    """The freehold parcels, drawn from street zoom on; a click says who owns the parcel."""
    if not data.parcels or not data.parcels.get("features"):
        return []
    return [folium.GeoJson(
        data.parcels, name="Freehold parcels (street zoom; click: who owns it?)",
        style_function=lambda f: {"color": "#5d4037", "weight": 1, "fillColor": "#ffffff", "fillOpacity": 0.01,
                                  "className": "am-parcel"},
        tooltip=folium.GeoJsonTooltip(fields=["parcel_id"], aliases=["Freehold parcel (click: who owns it?)"]))]


def _constraint_geojsons(data: MapData) -> list[folium.GeoJson]:
    """One switchable layer per constraint kind loaded, off until chosen in the layer control."""
    out = []
    for kind, words, fc in data.constraints or []:
        colour = CONSTRAINT_COLOURS.get(kind, "#555555")
        fields = [f for f in ("kind_words", "feature_name", "reference", "grade") if fc["features"]
                  and f in fc["features"][0]["properties"]]
        aliases = {"kind_words": "Constraint", "feature_name": "Name", "reference": "Reference", "grade": "Grade"}
        out.append(folium.GeoJson(
            fc, name=f"Constraint: {words}", show=False,
            style_function=lambda f, c=colour: {"color": c, "weight": 2, "fillColor": c, "fillOpacity": 0.12},
            marker=folium.CircleMarker(radius=4, color=colour, fill=True, fill_opacity=0.8, weight=1),
            tooltip=folium.GeoJsonTooltip(fields=fields, aliases=[aliases[f] for f in fields]) if fields else None))
    return out


def _ward_geojson(data: MapData) -> list[folium.FeatureGroup]:
    if not data.wards or not data.wards.get("features"):
        return []
    group = folium.FeatureGroup(name="Wards")
    group.add_child(NeedLayer(data.wards["features"], need_column=None, fields=["ward_name", "ward_code"],
                              aliases=["Ward", "Code"], style={"color": "#1b1b1b", "weight": 1.6, "dashArray": "5 4",
                                                               "fill": False, "opacity": 0.8}))
    return [group]


def _need_geojson(data: MapData, need_label: str) -> folium.FeatureGroup:
    """The need areas as a layer of their own (:class:`NeedLayer`), named for the layer control."""
    group = folium.FeatureGroup(name=f"Need: {need_label}")
    group.add_child(NeedLayer(data.needs["features"], need_column=data.need_column, need_label=need_label))
    return group


def _columns(features: list[dict]) -> tuple[str, str, str]:
    """The features' properties as JSON columns: names, the distinct values of repetitive columns, rows.

    A column whose values repeat (at most half of them distinct) is written as its distinct values
    once and each row's index into them.
    """
    cols = list(dict.fromkeys(k for f in features for k in f["properties"]))
    values = [[f["properties"].get(c) for f in features] for c in cols]
    lists = []
    for j, col in enumerate(values):
        distinct = list(dict.fromkeys(col))
        if len(distinct) * 2 <= len(col):
            at = {v: k for k, v in enumerate(distinct)}
            values[j] = [at[v] for v in col]
            lists.append(distinct)
        else:
            lists.append(None)
    rows = [list(r) for r in zip(*values, strict=True)] if values else [[] for _ in features]
    return script_json(cols), script_json(lists), script_json(rows)


#: Coordinates of polygons are sent as integer steps of a millionth of a degree (the 6 decimals the
#: display geometry is rounded to, so nothing is lost), each vertex as the step from the last; the
#: page divides by 1e6 again (``_COLUMNS_JS``).
_SCALE = 1_000_000


def _ring_steps(ring) -> list[int]:
    xy = np.rint(np.asarray(ring, dtype=float)[:, :2] * _SCALE).astype(np.int64)
    return np.diff(xy, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).ravel().tolist()


def _compact_geometry(g: dict):
    """A GeoJSON (multi)polygon as rings of coordinate steps; any other geometry as it is."""
    if g["type"] == "Polygon":
        return [_ring_steps(r) for r in g["coordinates"]]
    if g["type"] == "MultiPolygon":
        return {"m": [[_ring_steps(r) for r in poly] for poly in g["coordinates"]]}
    return g


_COLUMNS_JS = """
  function features(cols, dict, rows, geoms, geom) {
    return rows.map(function (r, i) {
      var p = {};
      cols.forEach(function (c, j) { p[c] = dict[j] ? dict[j][r[j]] : r[j]; });
      return {type: "Feature", properties: p, geometry: geom(geoms[i])};
    });
  }
  function ring(a) {
    var out = [], x = 0, y = 0;
    for (var i = 0; i < a.length; i += 2) { x += a[i]; y += a[i + 1]; out.push([x / 1e6, y / 1e6]); }
    return out;
  }
  function geom(g) {
    if (Array.isArray(g) && typeof g[0] === "number") { return {type: "Point", coordinates: g}; }
    if (Array.isArray(g)) { return {type: "Polygon", coordinates: g.map(ring)}; }
    if (g && g.m) { return {type: "MultiPolygon", coordinates: g.m.map(function (p) { return p.map(ring); })}; }
    return g;
  }
  function table(p, fields, aliases) {
    return "<table>" + fields.map(function (c, j) {
      return "<tr><th>" + aliases[j] + "</th><td>" + (p[c] === null || p[c] === undefined ? "" : p[c]) + "</td></tr>";
    }).join("") + "</table>";
  }
"""


class NeedLayer(MacroElement):
    """Need areas shaded by decile, as one Leaflet GeoJSON layer of the parent group, written compactly.

    Properties as columns (:func:`_columns`), coordinates as integer steps (:data:`_SCALE`):
    about a third of the bytes of folium's GeoJson for the same features, decoded in the page to
    the same values. A tooltip names the area and its decile; hovering outlines it. With no
    ``need_column`` the areas (wards) are drawn in the fixed ``style``, with a tooltip of ``fields``
    named by ``aliases``.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (group, cols, dict, rows, geoms, o) {
          {{ this.columns_js }}
          function style(f) {
            if (!o.column) { return o.style; }
            var v = parseInt(parseFloat(f.properties[o.column]), 10);
            var colour = v >= 1 && v <= o.colours.length ? o.colours[v - 1] : o.nodata;
            return {fillColor: colour, color: "#555555", weight: 0.5, fillOpacity: 0.55};
          }
          var layer = L.geoJson({type: "FeatureCollection", features: features(cols, dict, rows, geoms, geom)}, {
            style: style,
            onEachFeature: function (f, l) {
              l.bindTooltip(function () { return table(f.properties, o.fields, o.aliases); },
                            {sticky: true, className: "foliumtooltip"});
              if (o.column) {
                l.on("mouseover", function () { l.setStyle({weight: 2, color: "#000000"}); });
                l.on("mouseout", function () { layer.resetStyle(l); });
              }
            }
          });
          layer.addTo(group);
        })({{ this._parent.get_name() }}, {{ this.cols }}, {{ this.dict }}, {{ this.rows }}, {{ this.geoms }},
           {{ this.options }});
        {% endmacro %}
    """)

    def __init__(self, features: list[dict], *, need_column: str | None, need_label: str = "",
                 fields: list[str] | None = None, aliases: list[str] | None = None, style: dict | None = None):
        super().__init__()
        self._name = "NeedLayer"
        self.features = features
        self.columns_js = _COLUMNS_JS
        self.cols, self.dict, self.rows = _columns(features)
        self.geoms = script_json([_compact_geometry(f["geometry"]) for f in features])
        if need_column:
            fields, aliases = ["code", "name", need_column, "iod_year"], ["LSOA", "Name", need_label, "IoD year"]
        self.options = script_json({"column": need_column, "colours": DECILE_COLOURS, "nodata": NO_DATA_COLOUR,
                                    "style": style, "fields": fields, "aliases": [esc(a) for a in aliases]})


def _flagged(feature) -> bool:
    return html.unescape(feature["properties"].get("priority") or "") in _PRIORITY_RANK or \
        bool(feature["properties"].get("count"))


def _asset_geojsons(data: MapData, selected: str | None) -> list[folium.FeatureGroup]:
    """Sites as layers: those not flagged first (small, faint, a layer of their own), flagged on top."""
    out = []
    for flagged, what in ((False, "Sites not flagged (small grey)"), (True, "Flagged sites")):
        for fc, kind in ((data.polygons, "land"), (data.points, "points")):
            feats = [f for f in fc["features"] if _flagged(f) == flagged]
            if feats:
                group = folium.FeatureGroup(name=f"{what}: {kind}")
                group.add_child(SiteLayer(feats, selected=selected))
                out.append(group)
    return out


class SiteLayer(MacroElement):
    """Sites (or clusters of them) as one Leaflet GeoJSON layer of the parent group, written compactly.

    The properties (escaped once, in Python) go as columns with repeated values listed once, the
    style and the tooltip are computed in the page, points go as ``[lon, lat]``: about a third of
    the bytes of folium's GeoJson (which copies a style into every feature), and no per-feature
    work on the server on each rerun. Each feature keeps its properties (a click reports them).
    Styles: flagged sites (or clusters) large and in their priority's colour, others small and
    faint, the ``selected`` one outlined in black; a click on a cluster zooms in two levels on it.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function (group, cols, dict, rows, geoms, o) {
          {{ this.columns_js }}
          var feats = features(cols, dict, rows, geoms, geom);
          function style(f) {
            var p = f.properties, colour = o.colours[p.priority] || o.grey, chosen = o.selected !== null && p.asset_id === o.selected;
            if (!(o.flagged.indexOf(p.priority) >= 0 || p.count > 0) && !chosen) {
              return {color: colour, fillColor: colour, weight: 0.8, opacity: 0.5, fillOpacity: 0.3, radius: 3};
            }
            return {color: chosen ? "#000000" : colour, fillColor: colour, weight: chosen ? 3 : 1.5, opacity: 1,
                    fillOpacity: 0.8, radius: chosen ? 9 : 6};
          }
          function tip(p) { return table(p, o.props, o.aliases); }
          L.geoJson({type: "FeatureCollection", features: feats}, {
            style: style,
            pointToLayer: function (f, ll) { return L.circleMarker(ll, style(f)); },
            onEachFeature: function (f, layer) {
              layer.bindTooltip(function () { return tip(f.properties); }, {sticky: true, className: "foliumtooltip"});
              if (f.properties.count > 0) {
                layer.on("click", function (e) {
                  var m = layer._map;
                  if (m) { m.setView(e.latlng, Math.min(m.getZoom() + 2, m.getMaxZoom())); }
                });
              }
            }
          }).addTo(group);
        })({{ this._parent.get_name() }}, {{ this.cols }}, {{ this.dict }}, {{ this.rows }}, {{ this.geoms }},
           {{ this.options }});
        {% endmacro %}
    """)

    def __init__(self, features: list[dict], *, selected: str | None = None):
        super().__init__()
        self._name = "SiteLayer"
        self.features = features
        self.columns_js = _COLUMNS_JS
        self.cols, self.dict, self.rows = _columns(features)
        self.geoms = script_json([f["geometry"]["coordinates"] if f["geometry"]["type"] == "Point"
                                  else _compact_geometry(f["geometry"]) for f in features])
        self.options = script_json({"colours": PRIORITY_COLOURS, "grey": "#8c8c8c", "flagged": list(_PRIORITY_RANK),
                                    "selected": esc(selected) if selected else None, "props": ASSET_PROPS,
                                    "aliases": [esc(a) for a in ASSET_ALIASES]})


class _ForgetRemovedGroups(MacroElement):
    """Lets go of what st_folium takes off the map on each update, so later updates are not slower.

    streamlit-folium 0.27 replaces the layer groups and the layer control on every update. Two
    things kept every layer ever sent alive (measured: the live ``L.Path`` count grew by each
    update's features, and each zoom of the national map was slower than the last):

    * it removes the previous groups from the map but keeps them in ``window.feature_group``;
      this script, run before the new groups are added, drops those no longer on the map;
    * Leaflet 1.9's collapsed ``L.Control.Layers`` registers ``map.on("click", collapse)`` when
      added and never removes it, so every removed control (and through its ``_layers`` every
      group it listed) stayed reachable from the map, one more click handler per update. The
      script makes ``onRemove`` also remove that handler (once per page).

    It also takes off any layer control still on the map at that moment: st_folium has just
    removed the one it knew of, so another one (a swap that did not finish) would otherwise stay,
    a second control listing layers that are gone.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        if (window.feature_group) { window.feature_group = window.feature_group.filter(function (g) { return !!g._map; }); }
        if (window.map && window.L && L.Control && L.Control.Layers) {
          ((window.map._events || {}).click || []).map(function (h) { return h.ctx; }).filter(function (c) {
            return c instanceof L.Control.Layers; }).forEach(function (c) {
            window.map.off("click", c.collapse, c); if (c._map) { c.remove(); } });
        }
        if (window.L && L.Control && L.Control.Layers && !L.Control.Layers.prototype._offCollapseOnRemove) {
          (function (onRemove) {
            L.Control.Layers.include({
              _offCollapseOnRemove: true,
              onRemove: function (map) { map.off("click", this.collapse, this); return onRemove.call(this, map); }
            });
          })(L.Control.Layers.prototype.onRemove);
        }
        {% endmacro %}
    """)


def data_layers(data: MapData, *, need_label: str = "IMD decile", selected: str | None = None
                ) -> list[folium.FeatureGroup]:
    """The data of ``data`` as two feature groups (need, then sites) for st_folium's ``feature_group_to_add``.

    st_folium replaces these in the browser without remounting the map (the map keeps its view),
    which is how the national map follows pans and zooms (:func:`render_map` with ``layers=False``).
    """
    need = folium.FeatureGroup(name=f"Need: {need_label}")
    need.add_child(_ForgetRemovedGroups())
    _need_geojson(data, need_label).add_to(need)
    sites = folium.FeatureGroup(name="Sites")
    for group in _asset_geojsons(data, selected):
        group.add_to(sites)
    return [localise(need), localise(sites)]


def site_groups(data: MapData, *, selected: str | None = None) -> list[folium.FeatureGroup]:
    """The sites of ``data`` as feature groups for st_folium's ``feature_group_to_add`` (one per layer listed).

    The first group holds no features, only the script that lets go of the groups and layer
    control each update replaces (:class:`_ForgetRemovedGroups`), so it is there even when no
    site matches the filters.
    """
    keep = folium.FeatureGroup(name="sites-update", control=False)
    keep.add_child(_ForgetRemovedGroups())
    out = [keep]
    out += _asset_geojsons(data, selected)
    return [localise(g) for g in out]


def build_map(
    assets: gpd.GeoDataFrame,
    needs: gpd.GeoDataFrame,
    *,
    need_column: str = "need_decile",
    need_label: str = "IMD decile",
    title: str = "assets-map",
    basemap: str = "OpenStreetMap",
    selected: str | None = None,
    tolerance_m: float = 20.0,
) -> folium.Map:
    """A map of need (choropleth by decile) and assets (coloured by priority), ready for offline use."""
    data = map_data(assets, needs, need_column=need_column, tolerance_m=tolerance_m)
    return render_map(data, need_label=need_label, title=title, basemap=basemap, selected=selected)


def need_measures(needs: gpd.GeoDataFrame, *, weights: dict[str, float] | None = None,
                  year: int | None = None) -> dict[str, tuple[str, str]]:
    """Need measures the choropleth can show: menu label -> (column, legend label naming the IoD year).

    The first is the need used for priorities (the IMD, or the composite of the user's weights);
    then every IoD domain whose deciles the data carries.
    """
    from assets_map.engine.needs import DOMAIN_LABELS

    y = f"IoD {int(year)}" if year else "IoD (year not stated)"
    weights = weights or {"imd": 1.0}
    if set(weights) == {"imd"}:
        out = {"Index of Multiple Deprivation (used for priorities)": ("need_decile", f"{y} IMD decile")}
    else:
        w = ", ".join(f"{DOMAIN_LABELS.get(d, d)} x{v:g}" for d, v in weights.items())
        out = {"Composite need (used for priorities)": ("need_decile", f"{y} composite need decile ({w})")}
    for d, label in DOMAIN_LABELS.items():
        col = f"{d}_decile"
        if d != "imd" and col in needs.columns and needs[col].notna().any():
            out[f"{label} domain"] = (col, f"{y} {label} decile")
    if "imd_decile" in needs.columns and set(weights) != {"imd"} and needs["imd_decile"].notna().any():
        out["Index of Multiple Deprivation"] = ("imd_decile", f"{y} IMD decile")
    return out


def selection_layer(assets: gpd.GeoDataFrame, asset_id: str | None) -> folium.FeatureGroup | None:
    """A layer that outlines one selected site; st_folium adds it without rebuilding the map."""
    if not asset_id:
        return None
    row = assets[assets["asset_id"] == asset_id]
    if row.empty or row.geometry.isna().iloc[0] or row.geometry.iloc[0].is_empty:
        return None
    fg = folium.FeatureGroup(name="Selected site", control=False)
    geom = display_geometry(row, tolerance_m=0)
    fc = geojson_features(row, ASSET_PROPS, geom)
    is_point = row.geometry.geom_type.iloc[0] in ("Point", "MultiPoint")
    style = {"color": "#000000", "weight": 4, "fillOpacity": 0.0, "radius": 12, "fill": False}
    folium.GeoJson(fc, style_function=lambda f: style,
                   marker=folium.CircleMarker(radius=12, weight=4, fill=False) if is_point else None,
                   tooltip=folium.GeoJsonTooltip(fields=ASSET_PROPS, aliases=ASSET_ALIASES)).add_to(fg)
    return fg


def near_layer(lon: float, lat: float, radius_m: float, label: str) -> folium.FeatureGroup:
    """A layer marking "near here": the point, a circle of the search radius and its name (escaped)."""
    fg = folium.FeatureGroup(name="Near here", control=False)
    folium.Circle([lat, lon], radius=float(radius_m), color="#1f5fbf", weight=2, dash_array="6 4", fill=True,
                  fill_opacity=0.05, interactive=False).add_to(fg)
    folium.CircleMarker([lat, lon], radius=7, color="#ffffff", weight=2, fill=True, fill_color="#1f5fbf",
                        fill_opacity=1, interactive=False).add_to(fg)
    folium.Marker([lat, lon], interactive=False, icon=folium.DivIcon(
        html=f'<div class="am-label" style="transform:translate(-50%,-190%);color:#1f5fbf">{esc(label)}</div>',
        icon_size=(0, 0), icon_anchor=(0, 0))).add_to(fg)
    return fg


def selection_centre(assets: gpd.GeoDataFrame, asset_id: str | None) -> tuple[float, float] | None:
    """(lat, lon) of a point inside the selected site, to centre the map on it."""
    from assets_map.engine.geo import representative_points

    if not asset_id:
        return None
    row = assets[assets["asset_id"] == asset_id]
    if row.empty or row.geometry.isna().iloc[0] or row.geometry.iloc[0].is_empty:
        return None
    p = representative_points(row.geometry).to_crs(DISPLAY_CRS).iloc[0]
    return (round(p.y, 6), round(p.x, 6))


def clicked_asset_id(map_state: dict | None) -> str | None:
    """The asset_id of the feature last clicked, from st_folium's returned state."""
    if not map_state:
        return None
    feat = map_state.get("last_active_drawing")
    if isinstance(feat, dict):
        aid = (feat.get("properties") or {}).get("asset_id")
        if aid:
            return html.unescape(aid)
    return None


def feature_count(m: folium.Map) -> int:
    """Number of asset features the map draws (for tests and benchmarks)."""
    n = 0
    for el in _walk(m):
        if isinstance(el, SiteLayer):
            n += len(el.features)
    return n


def payload_bytes(m: folium.Map) -> int:
    """Size of the map's HTML (what the browser receives)."""
    return len(m.get_root().render().encode("utf-8"))
