"""Hold-out spellings of land that is never flagged, as other councils' registers write them."""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from assets_map.engine.underuse import apply_exclusions
from assets_map.io.normalise import canonical_frame, match_columns


@pytest.mark.parametrize(("text", "category"), [
    ("Amenity Land", "open space"), ("Amenity grass", "open space"), ("Amenity Grassland", "open space"),
    ("Playing Pitches", "playing field"), ("Playing pitch", "playing field"),
])
def test_other_registers_spellings_are_excluded(text, category):
    raw = pd.DataFrame({"Asset Name": ["Site 1"], "Asset Category": [text], "Occupancy Status": ["Vacant"]})
    frame = canonical_frame(raw, match_columns(list(raw.columns)), source="test.csv")
    out = apply_exclusions(gpd.GeoDataFrame(frame, geometry=[Point(380000, 395000)], crs="EPSG:27700"))
    assert out["excluded"].iloc[0] and f"({category})" in out["exclusion_reason"].iloc[0]
