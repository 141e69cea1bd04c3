"""Issue 16: the loaded constraint layers are map layers that can be switched on (off at first), one per kind,
with their features named in a tooltip and every text escaped."""
from __future__ import annotations

import re

import geopandas as gpd
from shapely.geometry import Point, box

from assets_map.engine.pipeline import analyse
from assets_map.maps.draw import MAX_CONSTRAINT_FEATURES, constraint_features, map_data, render_map

LAYERS = ("conservation_areas", "listed_buildings", "scheduled_monuments", "sites_of_special_scientific_interest",
          "local_nature_reserves")


def test_trafford_constraints_drawn_switched_off(trafford, shared):
    files = [shared("trafford", "constraints", f"{n}.geojson") for n in LAYERS]
    result = analyse(trafford["register"], trafford["lsoa21"], trafford["imd2025"], postcodes=trafford["postcodes"],
                     constraints=files)
    data = map_data(result.assets, result.needs, constraint_layers=result.constraint_layers)
    drawn = {kind: len(fc["features"]) for kind, _, fc in data.constraints}
    # independently: the features of each file that have a shape
    expected = {}
    for layer in result.constraint_layers:
        for kind, part in layer.groupby("kind"):
            expected[kind] = expected.get(kind, 0) + int((~(part.geometry.isna() | part.geometry.is_empty)).sum())
    assert drawn == expected and len(drawn) == 5
    html = render_map(data).get_root().render()
    for _, words, _ in data.constraints:
        # listed in the layer control, and not on the map until switched on
        var = re.search(rf'"Constraint: {words}" : (geo_json_\w+)', html).group(1)
        assert not re.search(rf"{var}\.addTo\(", html)


def test_constraint_text_is_escaped_and_big_layers_are_named_not_drawn():
    one = gpd.GeoDataFrame({"kind": ["conservation-area"], "feature_name": ["<img src=x onerror=alert(1)>"],
                            "reference": ["CA1"], "grade": [None], "source": ["ca.csv"]},
                           geometry=[box(380000, 395000, 380100, 395100)], crs=27700)
    (kind, words, fc), = constraint_features([one])
    assert fc["features"][0]["properties"]["feature_name"] == "&lt;img src=x onerror=alert(1)&gt;"
    many = gpd.GeoDataFrame({"kind": ["listed-building"] * (MAX_CONSTRAINT_FEATURES + 1)},
                            geometry=[Point(380000 + i, 395000) for i in range(MAX_CONSTRAINT_FEATURES + 1)], crs=27700)
    (kind, words, fc), = constraint_features([many])
    assert "too many to draw" in words and fc["features"] == []
