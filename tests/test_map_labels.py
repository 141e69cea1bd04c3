"""Issue 14 item 3: need area names are written on the map at street zoom (readable offline), escaped."""
from __future__ import annotations

import json
import re
from html import escape as html_escape

import geopandas as gpd
from shapely.geometry import box

from assets_map.maps.draw import NEED_LABEL_ZOOM, map_data, render_map


def test_need_area_names_are_drawn_at_street_zoom(demo_result):
    data = map_data(demo_result.assets, demo_result.needs)
    assert len(data.need_labels) == len(demo_result.needs)
    html = render_map(data).get_root().render()
    # One label each, in one array (lon, lat, name, class), drawn with the need-label class.
    labels = json.loads(re.search(r'\["am-label am-label-need"\], (\[\[.*?\]\])\);', html).group(1))
    assert sorted(t[2] for t in labels) == sorted(html_escape(n) for n in demo_result.needs["name"])
    assert f"map.getZoom() >= {NEED_LABEL_ZOOM}" in html and ".am-zoomed-in .am-label-need{display:block;}" in html


def test_need_area_names_are_escaped(demo_result):
    needs = gpd.GeoDataFrame({"code": ["E01"], "name": ["<script>x</script> 001A"], "need_decile": [1]},
                             geometry=[box(380000, 395000, 381000, 396000)], crs=27700)
    data = map_data(demo_result.assets.iloc[0:0], needs)
    html = render_map(data).get_root().render()
    # escaped once as HTML (then written into the page's JSON, where & is \u0026)
    assert "\\u0026lt;script\\u0026gt;x" in html and "<script>x</script>" not in html
