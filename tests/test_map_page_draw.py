"""What the map draws (assets_map.maps.draw): the extent of most sites with the far ones listed, a key that
folds, not-flagged sites small and faint in a layer of their own, ward outlines, place names and the
page's own switch to the plain basemap when tiles fail."""
from __future__ import annotations

import geopandas as gpd
import shapely

from assets_map.maps.draw import core_mask, map_data, near_layer, render_map


def _far(assets: gpd.GeoDataFrame, ids: list[str], dx_m: float) -> gpd.GeoDataFrame:
    """``assets`` with the sites ``ids`` moved ``dx_m`` metres east (an out-of-borough holding)."""
    a = assets.to_crs(27700).copy()
    rows = a["asset_id"].isin(ids)
    a.loc[rows, "geometry"] = a.loc[rows, "geometry"].translate(xoff=dx_m)
    return a


def test_extent_fits_most_sites_and_lists_the_far_ones(demo_result):
    a, needs = demo_result.assets, demo_result.needs
    plain = map_data(a, needs)
    assert plain.outliers == []
    placed = a[~(a.geometry.isna() | a.geometry.is_empty)]
    far_ids = placed["asset_id"].iloc[[3, 40]].tolist()
    moved = map_data(_far(a, far_ids, 25_000), needs)
    # The two holdings 25 km away are listed, not framed: the extent is the one of the other sites.
    assert sorted(i for i, _ in moved.outliers) == sorted(far_ids)
    assert all(name for _, name in moved.outliers)
    assert abs(moved.bounds[2] - plain.bounds[2]) < 0.01, (moved.bounds, plain.bounds)
    # They are still drawn (a user can pan to them); only the frame leaves them out.
    assert moved.asset_count == plain.asset_count


def test_core_mask_keeps_a_compact_set_and_small_sets_whole(demo_result):
    g = demo_result.assets.geometry.dropna()
    g = g[~g.is_empty]
    assert core_mask(g).all()
    few = gpd.GeoSeries([shapely.Point(0, 0), shapely.Point(100_000, 0)], crs=27700)
    assert core_mask(few).all()


def test_not_flagged_sites_are_a_faint_layer_of_their_own_under_the_flagged(demo_result):
    m = render_map(map_data(demo_result.assets, demo_result.needs))
    html = m.get_root().render()
    names = [el.layer_name for el in m._children.values() if hasattr(el, "layer_name")]
    assert any(n.startswith("Sites not flagged") for n in names) and any(n.startswith("Flagged sites") for n in names)
    assert max(i for i, n in enumerate(names) if n.startswith("Sites not flagged")) < \
        min(i for i, n in enumerate(names) if n.startswith("Flagged sites"))
    assert "fillOpacity: 0.3, radius: 3" in html  # the faint style, applied in the page (SiteLayer)


def test_key_is_compact_and_folds(demo_result):
    html = render_map(map_data(demo_result.assets, demo_result.needs), title="A long title " * 10).get_root().render()
    key = html[html.index('class="assets-map-legend"'):]
    key = key[:key.index("</details>")]
    assert "<details open>" in key and "text-overflow:ellipsis" in key
    assert key.count("decile ") == 10  # one colour strip, a swatch per decile
    assert "not flagged" in key


def test_wards_labels_and_the_tile_fallback(demo_result):
    a, needs = demo_result.assets, demo_result.needs
    wards = gpd.GeoDataFrame({"ward_code": ["W1"], "ward_name": ["<b>Mill</b> & Weir"]},
                             geometry=[needs.to_crs(27700).union_all().envelope], crs=27700)
    data = map_data(a, needs, wards=wards)
    assert len(data.wards["features"]) == 1
    labels = [("<b>Mill</b> & Weir", -1.5, 52.7, "ward"), ("Ashbridge", -1.51, 52.71, "town or place")]
    m = render_map(data, labels=labels)
    html = m.get_root().render()
    assert '"name": "Wards"' in html or "Wards" in [getattr(e, "layer_name", None) for e in m._children.values()]
    # Names are text: escaped once, never markup.
    # (the icon's HTML is JSON in the page: \u0026 is "&")
    assert "\\u0026lt;b\\u0026gt;Mill\\u0026lt;/b\\u0026gt; \\u0026amp; Weir" in html and "<b>Mill" not in html
    # With tiles, the names wait for the page to see the tiles fail; it then drops the tiles and says why.
    assert 'tiles.on("tileerror"' in html and "map.removeLayer(tiles)" in html
    assert "Map tiles could not be loaded" in html
    # Without tiles there is nothing to detect: the names are on the map from the start.
    plain = render_map(data, labels=labels, basemap="None (plain background)").get_root().render()
    assert "tileerror" not in plain and "\\u0026lt;b\\u0026gt;Mill" in plain


def test_near_here_layer_names_the_place_escaped():
    import folium

    fg = near_layer(-2.3, 53.45, 1400, "<i>M32 0</i>")
    m = folium.Map()
    fg.add_to(m)
    html = m.get_root().render()
    assert "\\u0026lt;i\\u0026gt;M32 0\\u0026lt;/i\\u0026gt;" in html and "<i>M32" not in html and "1400" in html
