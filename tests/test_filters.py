"""The shared filters: each dimension against a plain pandas reference, on the demo and on a hand-made frame."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assets_map.engine.filters import Filters, apply_filters, area_column, options, prepare


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "asset_id": ["A1", "A2", "A3", "A4", "A5"],
        "name": ["Mill Lane Library", "Old Depot", "Town Hall", None, "Mill depot"],
        "address": ["1 Mill Lane", "2 High St", "Market Place", "3 Mill Lane", None],
        "uprn": ["0100", "0200", None, "0400", "0500"],
        "postcode": ["M1 1AA", None, None, None, "M2 2BB"],
        "organisation": ["Council", "Council", "NHS Trust", "University", "Council"],
        "anchor_type": ["council", "council", "nhs", "university", "council"],
        "status": ["vacant", "occupied", "surplus", "vacant", "part-vacant"],
        "priority": ["High", "not flagged", "Medium", "Low", "High"],
        "site_area_ha": [0.5, np.nan, 2.0, 0.1, 1.0],
        "floor_area_m2": [300.0, 1200.0, np.nan, 50.0, np.nan],
        "need_decile": pd.array([1, 5, pd.NA, 9, 2], dtype="Int64"),
        "need_area_code": ["E01", "E02", None, "E03", "E01"],
        "need_area_name": ["One", "Two", None, "Three", "One"],
    })


def ids(df, f: Filters) -> list[str]:
    return apply_filters(df, f)["asset_id"].tolist()


def test_default_filters_show_everything():
    df = frame()
    res = prepare(df).mask(Filters())
    assert res.shown == res.total == 5 and res.count_text() == "5 of 5 sites shown" and not res.notes
    assert Filters().is_default() and not Filters(text="x").is_default()


@pytest.mark.parametrize("f, want", [
    (Filters(organisations=("Council",)), ["A1", "A2", "A5"]),
    (Filters(anchor_types=("nhs", "university")), ["A3", "A4"]),
    (Filters(statuses=("vacant",)), ["A1", "A4"]),
    (Filters(priorities=("High", "Medium")), ["A1", "A3", "A5"]),
    (Filters(areas=("E01",)), ["A1", "A5"]),
    (Filters(organisations=("Council",), priorities=("High",)), ["A1", "A5"]),
])
def test_choice_filters(f, want):
    assert ids(frame(), f) == want


def test_size_ranges_hide_unknown_sizes_and_say_so():
    df = frame()
    res = prepare(df).mask(Filters(site_ha=(0.4, 1.5)))
    assert df["asset_id"][res.mask].tolist() == ["A1", "A5"]
    assert res.notes == ["1 sites with no recorded site area are hidden by the site area filter"]
    res = prepare(df).mask(Filters(floor_m2=(None, 400)))
    assert df["asset_id"][res.mask].tolist() == ["A1", "A4"]
    assert "2 sites with no recorded floor area" in res.notes[0]
    # Bounds are inclusive.
    assert ids(df, Filters(site_ha=(2.0, 2.0))) == ["A3"]


def test_decile_range_hides_sites_without_need_only_when_narrowed():
    df = frame()
    assert len(ids(df, Filters(deciles=(1, 10)))) == 5
    res = prepare(df).mask(Filters(deciles=(1, 5)))
    assert df["asset_id"][res.mask].tolist() == ["A1", "A2", "A5"]
    assert "1 sites with no need decile" in res.notes[0]


def test_text_matches_every_word_any_order_ignoring_case_over_name_address_uprn():
    df = frame()
    assert ids(df, Filters(text="mill")) == ["A1", "A4", "A5"]  # name or address
    assert ids(df, Filters(text="DEPOT mill")) == ["A5"]
    assert ids(df, Filters(text="0200")) == ["A2"]  # UPRN, leading zero kept
    assert ids(df, Filters(text="m2 2bb")) == ["A5"]  # postcode
    assert ids(df, Filters(text="a3")) == ["A3"]  # asset id
    assert ids(df, Filters(text="no such words")) == []
    assert ids(df, Filters(text="(.*")) == []  # literal, never a regex


def test_demo_filters_agree_with_pandas(demo_result):
    a = demo_result.assets
    idx = prepare(a)
    f = Filters(anchor_types=("council", "nhs"), statuses=("vacant", "surplus"), deciles=(1, 4),
                floor_m2=(100, None))
    dec = pd.to_numeric(a["need_decile"], errors="coerce")
    ref = (a["anchor_type"].isin(["council", "nhs"]) & a["status"].isin(["vacant", "surplus"])
           & dec.between(1, 4) & (a["floor_area_m2"] >= 100))
    got = idx.mask(f)
    assert got.shown == int(ref.sum()) > 0
    assert (got.mask == ref.fillna(False).to_numpy(dtype=bool)).all()


def test_filter_keys_are_stable_and_distinct():
    assert Filters(text="a").key() == Filters(text="a").key()
    assert Filters(text="a").key() != Filters(text="b").key()
    assert Filters(deciles=(1, 3)).key() != Filters().key()


def test_options_and_area_column(demo_result):
    df = frame()
    opts = options(df)
    assert opts["statuses"] == ["occupied", "vacant", "surplus", "part-vacant"]  # schema order
    assert opts["priorities"] == ["High", "Medium", "Low", "not flagged"]
    assert opts["site_ha_max"] == 2.0 and opts["floor_m2_max"] == 2000.0
    assert opts["areas"] == {"E01": "One (E01)", "E03": "Three (E03)", "E02": "Two (E02)"}
    assert area_column(df) == ("need_area_code", "LSOA (need area)")
    df["ward_code"] = ["W1", "W1", None, "W2", "W2"]
    df["ward_name"] = ["North", "North", None, "South", "South"]
    assert area_column(df) == ("ward_code", "ward")
    assert options(df)["areas"] == {"W1": "North (W1)", "W2": "South (W2)"}
    assert ids(df, Filters(areas=("W2",))) == ["A4", "A5"]
    assert options(demo_result.assets)["organisations"][0].endswith("(fictional)")
