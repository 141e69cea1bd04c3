"""The sites table of the Map page: key columns first, words not None, numbers that sort as numbers."""
from __future__ import annotations

import pandas as pd

from assets_map.ui.map_page import table_frame


def test_key_columns_first_in_words_and_sizes_sort_as_numbers(demo_result):
    a = demo_result.assets
    df = table_frame(a)
    assert list(df.columns[:7]) == ["Priority", "Name", "Owner", "Status", "Need decile", "Site ha", "Floor m²"]
    assert len(df) == len(a)
    shown = df.astype(str).to_numpy().ravel()
    assert not {"None", "nan", "NaN", "<NA>", "none"} & set(v.strip() for v in shown)
    assert "not placed" in set(df["Located by"])  # location quality 'none' in words
    for col, source, digits in (("Floor m²", "floor_area_m2", 0), ("Site ha", "site_area_ha", 2),
                                ("Need decile", "need_decile", 0)):
        # Sorting the column's text (as a click on its title does) orders the sites by the number, missing last.
        by_text = df.sort_values(col, kind="stable")["Asset id"].tolist()
        values = pd.to_numeric(a.set_index("asset_id").loc[by_text, source], errors="coerce").to_numpy()
        known = values[~pd.isna(values)].astype(float).round(digits)  # as shown
        assert (known[:-1] <= known[1:]).all(), col
        assert pd.isna(values[len(known):]).all(), col
