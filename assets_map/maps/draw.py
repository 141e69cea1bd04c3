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
import shutil
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
from branca.element import MacroElement, Template
from folium.utilities import JsCode

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
#: Resources folium adds that these maps never use.
UNUSED = {"bootstrap", "awesome_markers", "bootstrap_css", "glyphicons_css", "awesome_markers_font_css",
          "awesome_markers_css", "awesome_rotate_css"}

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
    """The map legend as HTML: the need decile colours under ``need_label`` and the priority markers."""
    rows = "".join(
        f'<div><span style="display:inline-block;width:12px;height:12px;background:{c};border:1px solid #666;'
        f'margin-right:4px"></span>{label}</div>'
        for label, c in [("decile 1 (most deprived 10%)", DECILE_COLOURS[0]), ("decile 3", DECILE_COLOURS[2]),
                         ("decile 5", DECILE_COLOURS[4]), ("decile 7", DECILE_COLOURS[6]),
                         ("decile 10 (least deprived)", DECILE_COLOURS[9]), ("no data", NO_DATA_COLOUR)])
    prios = "".join(
        f'<div><span style="display:inline-block;width:12px;height:12px;border-radius:6px;background:{c};'
        f'margin-right:4px"></span>{esc(p)}</div>' for p, c in PRIORITY_COLOURS.items())
    return (f"<details open><summary style='cursor:pointer'><b>{esc(title)}</b></summary>"
            f"<div style='margin-top:4px'><b>Need</b>: {esc(need_label)}</div>"
            f"{rows}<div style='margin-top:4px'><b>Assets by priority</b></div>{prios}</details>")


#: Most asset features drawn as GeoJSON: beyond ~10k features Leaflet takes tens of seconds
#: (feature count, not bytes, is the limit), so the map keeps the highest priorities and says so.
MAX_MAP_ASSETS = 5000
_PRIORITY_RANK = {"High": 0, "Medium": 1, "Low": 2}


def map_data(assets: gpd.GeoDataFrame, needs: gpd.GeoDataFrame, *, need_column: str = "need_decile",
             tolerance_m: float = 20.0, max_assets: int | None = MAX_MAP_ASSETS) -> MapData:
    """Simplify (in metres), reproject, round and escape what the map draws.

    At most ``max_assets`` assets are drawn (highest priority first); ``MapData.omitted`` counts the rest.
    National layers (more than 5,000 assets or 3,000 need areas) go through
    :func:`assets_map.maps.national.national_map_data` instead: need areas aggregated to local
    authorities and assets clustered when zoomed out, under 5 MB a render.
    """
    from assets_map.maps.national import national_map_data, needs_national_display

    if needs_national_display(assets, needs):
        return national_map_data(assets, needs, need_column=need_column)
    placed = assets[~(assets.geometry.isna() | assets.geometry.is_empty)]
    omitted = 0
    if max_assets is not None and len(placed) > max_assets:
        rank = placed["priority"].map(_PRIORITY_RANK).fillna(3).to_numpy() if "priority" in placed else np.zeros(len(placed))
        keep = np.sort(np.argsort(rank, kind="stable")[:max_assets])
        omitted = len(placed) - max_assets
        placed = placed.iloc[keep]
    extent = placed if len(placed) else needs
    bounds = tuple(float(v) for v in gpd.GeoSeries(extent.geometry, crs=extent.crs).to_crs(DISPLAY_CRS).total_bounds)
    need_geom = display_geometry(needs, tolerance_m=tolerance_m)
    need_fc = geojson_features(needs, ["code", "name", need_column, "iod_year"], need_geom)
    geom = display_geometry(placed, tolerance_m=0)
    is_point = placed.geometry.geom_type.isin(["Point", "MultiPoint"]).to_numpy()
    return MapData(need_fc, need_column, geojson_features(placed[~is_point], ASSET_PROPS, geom[~is_point]),
                   geojson_features(placed[is_point], ASSET_PROPS, geom[is_point]), bounds, omitted)


def render_map(data: MapData, *, need_label: str = "IMD decile", title: str = "assets-map",
               basemap: str = "OpenStreetMap", selected: str | None = None, layers: bool = True,
               start: tuple[tuple[float, float], int] | None = None) -> folium.Map:
    """A new folium Map of prepared :class:`MapData`, ready for offline use.

    ``layers=False`` gives the map without its data (tiles, extent, legend): the national map
    sends its view-dependent layers with :func:`data_layers` through st_folium's
    ``feature_group_to_add``, so following a pan does not remount the map. ``start``
    (``((lat, lon), zoom)``) opens the map there instead of fitting ``data.bounds``.
    """
    minx, miny, maxx, maxy = data.bounds
    tiles, attr = BASEMAPS.get(basemap, BASEMAPS["OpenStreetMap"])
    location, zoom = start if start else ([(miny + maxy) / 2, (minx + maxx) / 2], 13)
    m = folium.Map(location=list(location), zoom_start=zoom, tiles=None,
                   max_zoom=19, control_scale=True, prefer_canvas=False)
    if tiles:
        folium.TileLayer(tiles=tiles, attr=attr, name=basemap, max_zoom=19).add_to(m)
    if not start:
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    if layers:
        for layer in (_need_geojson(data, need_label), *_asset_geojsons(data, selected)):
            layer.add_to(m)
        folium.LayerControl(collapsed=True).add_to(m)
    m.get_root().add_child(Legend(legend_html(title, need_label)))
    # Where tiles cannot load (offline, or "None") the data shows on a plain light background.
    m.get_root().header.add_child(folium.Element(
        "<style>.leaflet-container{background:#eef0f3;}</style>"), name="assets_map_background")
    return localise(m)


def _need_geojson(data: MapData, need_label: str) -> folium.GeoJson:
    need_column = data.need_column

    def need_style(feature):
        v = feature["properties"].get(need_column)
        try:
            colour = DECILE_COLOURS[int(float(v)) - 1]
        except (TypeError, ValueError, IndexError):
            colour = NO_DATA_COLOUR
        return {"fillColor": colour, "color": "#555555", "weight": 0.5, "fillOpacity": 0.55}

    need_props = ["code", "name", need_column, "iod_year"]
    return folium.GeoJson(data.needs, name=f"Need: {need_label}", style_function=need_style,
                          tooltip=folium.GeoJsonTooltip(fields=need_props,
                                                        aliases=["LSOA", "Name", need_label, "IoD year"]),
                          highlight_function=lambda f: {"weight": 2, "color": "#000000"})


def _asset_geojsons(data: MapData, selected: str | None) -> list[folium.GeoJson]:
    def asset_style(feature):
        p = feature["properties"]
        colour = PRIORITY_COLOURS.get(html.unescape(p.get("priority", "")), "#8c8c8c")
        chosen = selected is not None and html.unescape(p.get("asset_id", "")) == selected
        return {"color": "#000000" if chosen else colour, "fillColor": colour, "weight": 3 if chosen else 1.5,
                "fillOpacity": 0.75, "radius": 9 if chosen else 6}

    tooltip_args = dict(fields=ASSET_PROPS, aliases=ASSET_ALIASES)
    out = []
    if data.polygons["features"]:
        out.append(folium.GeoJson(data.polygons, name="Assets (land and sites)", style_function=asset_style,
                                  tooltip=folium.GeoJsonTooltip(**tooltip_args)))
    if data.points["features"]:
        clusters = any(f["properties"].get("count") for f in data.points["features"])
        out.append(folium.GeoJson(data.points, name="Assets (points)", style_function=asset_style,
                                  marker=folium.CircleMarker(radius=6, weight=1.5, fill=True),
                                  tooltip=folium.GeoJsonTooltip(**tooltip_args),
                                  **({"on_each_feature": _ZOOM_INTO_CLUSTER} if clusters else {})))
    return out


#: A click on a cluster of the national map zooms in two levels on it (the map then redraws the
#: view, down to single sites); a click on a single site still selects it.
_ZOOM_INTO_CLUSTER = JsCode("""
function (feature, layer) {
  if (feature.properties && feature.properties.count > 0) {
    layer.on("click", function (e) {
      var m = layer._map;
      if (m) { m.setView(e.latlng, Math.min(m.getZoom() + 2, m.getMaxZoom())); }
    });
  }
}""")


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
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        if (window.feature_group) { window.feature_group = window.feature_group.filter(function (g) { return !!g._map; }); }
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
    for layer in _asset_geojsons(data, selected):
        layer.add_to(sites)
    return [localise(need), localise(sites)]


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
        if isinstance(el, folium.GeoJson) and str(el.layer_name).startswith("Assets"):
            n += len(el.data.get("features", []))
    return n


def payload_bytes(m: folium.Map) -> int:
    """Size of the map's HTML (what the browser receives)."""
    return len(m.get_root().render().encode("utf-8"))
