"""The folium map: what it draws, offline resources, escaping, stable component key, selection layer."""
from __future__ import annotations

import html
import json

import folium
import numpy as np
from streamlit_folium import _get_map_string, generate_js_hash

from assets_map.engine.needs import read_boundaries
from assets_map.maps.draw import (
    ASSET_PROPS,
    build_map,
    clicked_asset_id,
    feature_count,
    map_data,
    need_measures,
    payload_bytes,
    render_map,
    resource_links,
    selection_centre,
    selection_layer,
)

HTML_NAME = "<img src=x onerror=alert(1)> depot (fictional test of escaping)"


def placed(a):
    return a[~(a.geometry.isna() | a.geometry.is_empty)]


def test_map_draws_every_placed_asset_once(demo_result):
    a = demo_result.assets
    data = map_data(a, demo_result.needs)
    ids = [f["properties"]["asset_id"] for fc in (data.polygons, data.points) for f in fc["features"]]
    assert data.asset_count == len(placed(a)) == len(ids) == len(set(ids))
    assert set(map(html.unescape, ids)) == set(placed(a)["asset_id"])
    assert len(data.needs["features"]) == len(demo_result.needs)
    m = render_map(data)
    assert feature_count(m) == data.asset_count
    # Points and polygons in their own layers.
    kinds = {f["geometry"]["type"] for f in data.points["features"]}
    assert kinds <= {"Point", "MultiPoint"} and data.polygons["features"]


def test_rendering_the_same_data_twice_gives_the_same_component_key(demo_result):
    # st_folium keys its component by a hash of the map script: a different script remounts the
    # map and loses the click. Re-rendering one folium Map object appends its scripts again, so the
    # app renders a new Map from cached MapData on each run; that must give the same key.
    data = map_data(demo_result.assets, demo_result.needs)

    def key():
        m = render_map(data, basemap="OpenStreetMap")
        m.get_root().render()
        return generate_js_hash(_get_map_string(m), "map", False)

    assert key() == key()
    reused = render_map(data)
    reused.get_root().render()
    first = _get_map_string(reused)
    reused.get_root().render()
    assert _get_map_string(reused) != first  # why a folium Map must not be cached across reruns


def test_every_resource_is_local_and_no_colormap_pulls_d3(demo_result):
    for basemap in ("OpenStreetMap", "None (plain background)"):
        m = build_map(demo_result.assets, demo_result.needs, basemap=basemap)
        links = resource_links(m)
        assert links and all(u.startswith("/app/static/vendor/") for u in links), links
        page = m.get_root().render()
        assert "cdn" not in page.lower() and "d3js" not in page
    plain = build_map(demo_result.assets, demo_result.needs, basemap="None (plain background)").get_root().render()
    assert "tile.openstreetmap.org" not in plain and ".leaflet-container{background:" in plain


def test_values_are_escaped_in_features_and_html(demo_result):
    data = map_data(demo_result.assets, demo_result.needs)
    names = [f["properties"]["name"] for fc in (data.polygons, data.points) for f in fc["features"]]
    assert html.escape(HTML_NAME, quote=True) in names
    assert HTML_NAME not in names
    page = render_map(data, title="<b>title</b>", need_label="<i>x</i>").get_root().render()
    assert "<img src=x" not in page
    assert "&lt;b&gt;title&lt;/b&gt;" in page and "<b>title</b>" not in page


def test_clicked_asset_id_unescapes_and_ignores_empty_state():
    feat = {"properties": {"asset_id": html.escape("A&B<1>")}}
    assert clicked_asset_id({"last_active_drawing": feat}) == "A&B<1>"
    assert clicked_asset_id(None) is None and clicked_asset_id({"last_active_drawing": None}) is None


def test_need_measures_name_the_iod_year_and_domains(demo_result):
    m = need_measures(demo_result.needs, weights={"imd": 1.0}, year=2025)
    first_label, (col, legend) = next(iter(m.items()))
    assert col == "need_decile" and legend == "IoD 2025 IMD decile" and "used for priorities" in first_label
    assert m["Income domain"] == ("income_decile", "IoD 2025 Income decile")
    composite = need_measures(demo_result.needs, weights={"income": 2, "health": 1}, year=2019)
    assert "composite need decile" in composite["Composite need (used for priorities)"][1]
    assert composite["Index of Multiple Deprivation"] == ("imd_decile", "IoD 2019 IMD decile")
    # The choropleth follows the chosen column.
    data = map_data(demo_result.assets, demo_result.needs, need_column="income_decile")
    assert "income_decile" in data.needs["features"][0]["properties"]


def test_selection_layer_outlines_one_site_and_centres_on_it(demo_result):
    a = demo_result.assets
    site = placed(a).iloc[0]
    fg = selection_layer(a, site["asset_id"])
    assert isinstance(fg, folium.FeatureGroup)
    gj = next(iter(fg._children.values()))
    assert [f["properties"]["asset_id"] for f in gj.data["features"]] == [html.escape(site["asset_id"])]
    lat, lon = selection_centre(a, site["asset_id"])
    assert 49 < lat < 61 and -8 < lon < 2
    unplaced = a[a.geometry.isna()].iloc[0]["asset_id"]
    assert selection_layer(a, unplaced) is None and selection_centre(a, unplaced) is None
    assert selection_layer(a, None) is None


def test_simplification_shrinks_the_payload_of_real_lsoas(shared, demo_result):
    needs = read_boundaries(shared("trafford", "lsoa21_boundaries.geojson"))
    needs["need_decile"] = 5
    empty = demo_result.assets.iloc[:0]
    raw = payload_bytes(build_map(empty, needs, tolerance_m=0))
    simple = payload_bytes(build_map(empty, needs, tolerance_m=20))
    assert simple < raw
    props = set(json.loads(json.dumps(map_data(empty, needs).needs))["features"][0]["properties"])
    assert props == {"code", "name", "need_decile", "iod_year"}
    assert set(ASSET_PROPS) >= {"asset_id", "name", "priority"}


def test_feature_limit_keeps_the_highest_priorities_and_counts_the_rest(demo_result):
    a = demo_result.assets
    n_flagged = int(placed(a)["priority"].isin(["High", "Medium", "Low"]).sum())
    data = map_data(a, demo_result.needs, max_assets=n_flagged)
    assert data.asset_count == n_flagged and data.omitted == len(placed(a)) - n_flagged
    prios = {html.unescape(f["properties"]["priority"]) for fc in (data.polygons, data.points) for f in fc["features"]}
    assert prios == {"High", "Medium", "Low"}
    assert map_data(a, demo_result.needs).omitted == 0


def test_one_escape_and_one_number_format_for_maps_packs_and_kml(demo_result):
    """Map tooltips, site packs and KML descriptions print a value the same way (the KML table printed 3.0)."""
    import numpy as np
    import pandas as pd

    from assets_map.community import sitepack
    from assets_map.io import export
    from assets_map.io.report import esc

    vals = [3.0, np.float64(4.0), 2.5, 7, None, float("nan"), pd.NA, pd.NaT, "<b>&'\""]
    want = ["3", "4", "2.5", "7", "", "", "", "", "&lt;b&gt;&amp;&#x27;&quot;"]
    assert [esc(v) for v in vals] == want
    table = export._html_table([tuple(vals)], tuple(f"c{i}" for i in range(len(vals))))
    assert "".join(f"<td>{w}</td>" for w in want) in table
    assert sitepack.esc is esc
    a = placed(demo_result.assets).head(1).copy()
    a["need_decile"] = 3.0
    data = map_data(a, demo_result.needs)
    props = (data.polygons["features"] + data.points["features"])[0]["properties"]
    assert props["need_decile"] == "3"


def test_compact_layers_decode_to_the_same_features(demo_result):
    """The need and site layers go to the browser as columns and coordinate steps; decoded the way the page
    decodes them (here in Python: running sums over millionths of a degree, values looked up per column), they
    give back exactly the features folium's GeoJSON would have carried."""
    import json

    import numpy as np

    from assets_map.maps.draw import NeedLayer, SiteLayer

    data = map_data(demo_result.assets, demo_result.needs)
    layers = [NeedLayer(data.needs["features"], need_column="need_decile", need_label="IMD"),
              SiteLayer(data.polygons["features"]), SiteLayer(data.points["features"])]

    def ring(steps):
        return (np.cumsum(np.asarray(steps, dtype=np.int64).reshape(-1, 2), axis=0) / 1e6).tolist()

    def geom(g):
        if isinstance(g, list) and g and isinstance(g[0], (int, float)):
            return {"type": "Point", "coordinates": g}
        if isinstance(g, list):
            return {"type": "Polygon", "coordinates": [ring(r) for r in g]}
        return {"type": "MultiPolygon", "coordinates": [[ring(r) for r in p] for p in g["m"]]}

    def close(a, b):
        return np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=0, atol=1e-9)

    for layer in layers:
        cols, lists, rows = (json.loads(getattr(layer, k)) for k in ("cols", "dict", "rows"))
        geoms = json.loads(layer.geoms)
        assert len(rows) == len(geoms) == len(layer.features) > 0
        for f, r, g in zip(layer.features, rows, geoms, strict=True):
            props = {c: lists[j][r[j]] if lists[j] is not None else r[j] for j, c in enumerate(cols)}
            assert props == f["properties"]
            got, want = geom(g), f["geometry"]
            assert got["type"] == want["type"]
            if want["type"] == "Point":
                assert got["coordinates"] == list(want["coordinates"])
            else:
                flat = (lambda c: [r for p in c for r in p]) if want["type"] == "MultiPolygon" else (lambda c: c)
                assert all(close(a, b) for a, b in zip(flat(got["coordinates"]), flat(want["coordinates"]),
                                                       strict=True))
    # A third of folium's bytes or less for the need areas.
    import folium

    plain = folium.GeoJson(data.needs)
    assert len(layers[0].geoms) + len(layers[0].rows) < len(json.dumps(plain.data)) / 2


def test_site_data_from_the_display_geometry_kept_per_data_is_the_same(demo_result, monkeypatch):
    # The app reprojects every site once per data (site_display) and a filter change takes its rows:
    # the features drawn are those of reprojecting the filtered sites themselves.
    from assets_map.engine.filters import Filters, prepare
    from assets_map.maps import draw

    a = demo_result.assets
    kept = draw.site_display(a)
    index = prepare(a)
    calls = []
    real = draw.display_geometry
    for f in (Filters(), Filters(text="park"), Filters(priorities=("High",)), Filters(text="no such site at all")):
        view = a[index.mask(f).mask]
        plain = draw.site_data(view)
        calls.clear()
        monkeypatch.setattr(draw, "display_geometry", lambda *x, **k: calls.append(1) or real(*x, **k))
        fast = draw.site_data(view, display=kept)
        monkeypatch.setattr(draw, "display_geometry", real)
        assert calls == []  # nothing reprojected
        assert fast.points == plain.points and fast.polygons == plain.polygons and fast.omitted == plain.omitted
        if fast.asset_count:
            assert np.allclose(fast.bounds, plain.bounds, atol=1e-6)
    # Rows of other data (labels it does not have) are reprojected, not looked up.
    other = a.iloc[:5].copy()
    other.index = other.index + 10 ** 9
    assert draw.site_data(other, display=kept).points == draw.site_data(other).points
