"""The GeoJSON a map sends the browser: display geometry, escaped properties, and :class:`MapData`.

Shared by the small map (:mod:`assets_map.maps.draw`) and the national map's layers
(:mod:`assets_map.maps.national`), so neither imports the other for them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import shapely

from assets_map.io.report import esc
from assets_map.schema import DISPLAY_CRS


def display_geometry(gdf: gpd.GeoDataFrame, *, tolerance_m: float = 20.0, decimals: int = 6) -> gpd.GeoSeries:
    """Simplify in metres (BNG), then WGS84 with rounded coordinates: what a browser needs, no more."""
    geom = gdf.geometry
    poly = geom.geom_type.isin(["Polygon", "MultiPolygon"])
    if tolerance_m and poly.any():
        geom = geom.copy()
        geom[poly] = geom[poly].simplify(tolerance_m, preserve_topology=True)
    out = geom.to_crs(DISPLAY_CRS)
    return gpd.GeoSeries(shapely.set_precision(out.to_numpy(), 10 ** -decimals), crs=DISPLAY_CRS, index=gdf.index)


def geojson_features(gdf: gpd.GeoDataFrame, props: list[str], geom: gpd.GeoSeries) -> dict:
    """GeoJSON with every property escaped as text (tooltips insert them as HTML)."""
    feats = []
    cols = {p: gdf[p].tolist() if p in gdf.columns else [None] * len(gdf) for p in props}
    for i, g in enumerate(geom.to_numpy()):
        if g is None or g.is_empty:
            continue
        feats.append({"type": "Feature", "geometry": shapely.geometry.mapping(g),
                      "properties": {p: esc(cols[p][i]) for p in props}})
    return {"type": "FeatureCollection", "features": feats}


ASSET_PROPS = ["asset_id", "name", "organisation", "status", "priority", "need_area_name", "need_decile"]
ASSET_ALIASES = ["Asset", "Name", "Owner", "Status", "Priority", "Need area", "Need decile"]


@dataclass
class MapData:
    """The expensive part of a map, computed once per (data, filters, need measure).

    It holds simplified, rounded, escaped GeoJSON for the need areas and the assets, and the extent.

    A folium Map must not be reused across Streamlit reruns (rendering it again appends its
    scripts a second time, which changes st_folium's component key and remounts the map), so
    the app caches this and calls :func:`render_map`, which is cheap, on every run.
    """

    needs: dict
    need_column: str
    polygons: dict
    points: dict
    bounds: tuple[float, float, float, float]  # minx, miny, maxx, maxy in WGS84
    omitted: int = 0  # placed assets left off the map by the feature limit
    #: ward outlines loaded with the data (GeoJSON), drawn as their own layer
    wards: dict = field(default_factory=lambda: {"type": "FeatureCollection", "features": []})
    #: (asset_id, name) of placed sites far from all the others, left out of ``bounds`` (listed, not framed)
    outliers: list = field(default_factory=list)
    #: planning constraint layers loaded with the data: (kind's words, GeoJSON), drawn switched off
    constraints: list = field(default_factory=list)
    #: need area names and where to write them, ``(name, lon, lat)``: drawn when zoomed in to streets
    need_labels: list = field(default_factory=list)
    #: freehold parcels loaded with the data (GeoJSON with who owns each, in words), drawn at street zoom
    parcels: dict = field(default_factory=lambda: {"type": "FeatureCollection", "features": []})

    @property
    def asset_count(self) -> int:
        """How many sites are drawn (polygons and points)."""
        return len(self.polygons["features"]) + len(self.points["features"])
