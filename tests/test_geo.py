import numpy as np
import pandas as pd

from assets_map.engine import geo


def test_classify_xy_kinds():
    x = np.array([-2.35, 53.45, 375000, 395000, 0.0, np.nan, 53.4])
    y = np.array([53.39, -2.36, 395000, 375000, 0.0, 1.0, 375000])
    assert list(geo.classify_xy(x, y)) == ["lonlat", "latlon", "bng", "bng", "outside", "missing", "outside"]


def test_bng_swapped_pair_is_detected():
    # northing 1,100,000 in the easting column: only valid the other way round (Shetland)
    assert geo.classify_xy(np.array([1_100_000.0]), np.array([450_000.0]))[0] == "bng_swapped"


def test_points_from_lonlat_fixes_swapped_row_and_reports_it():
    x = pd.Series(["-2.3520922", "53.457484", "-2.30"])
    y = pd.Series(["53.3879587", "-2.365856", "53.39"])
    res = geo.points_from_columns(x, y, stated_crs="WGS84", x_name="GeoX", y_name="GeoY")
    assert res.kind == "lonlat"
    assert res.placed.all()
    (msg, rows), = res.fixed_rows.items()
    assert rows == [2] and "swapped" in msg
    # Altrincham Town Hall is at about E 376,900 N 387,900
    assert abs(res.geometry.iloc[0].x - 376_900) < 500 and abs(res.geometry.iloc[0].y - 387_900) < 500
    # the swapped row lands where the un-swapped pair would
    fixed = geo.points_from_columns(pd.Series(["-2.365856"]), pd.Series(["53.457484"]))
    assert res.geometry.iloc[1].distance(fixed.geometry.iloc[0]) < 1e-6


def test_points_from_bng_and_contradicting_label():
    res = geo.points_from_columns(pd.Series(["330941", "331213"]), pd.Series(["431694", "431629"]),
                                  stated_crs=pd.Series(["WGS84", "OSGB36"]))
    assert res.kind == "bng" and res.placed.all()
    assert res.geometry.iloc[0].x == 330941
    assert any("contradicts" in w for w in res.warnings)
    assert list(res.fixed_rows.values()) == [[1]]


def test_out_of_uk_left_unplaced_with_reason():
    res = geo.points_from_columns(pd.Series(["0", "-2.3", "53.4"]), pd.Series(["0", "53.4", "400000"]))
    assert list(res.placed) == [False, True, False]
    assert res.notes[0].startswith("coordinates are not in the UK")
    assert list(res.bad_rows.values()) == [[1, 3]]


def test_thousands_separators_parse():
    assert geo.to_float(pd.Series(["375,000", " 12 ", "x"]))[:2].tolist() == [375000.0, 12.0]
    assert np.isnan(geo.to_float(pd.Series(["x"]))[0])


def test_crs_labels():
    assert geo.crs_from_label("WGS84") == "lonlat"
    assert geo.crs_from_label("OSGB36") == "bng"
    assert geo.crs_from_label("British Coordinate Systems") == "bng"
    assert geo.crs_from_label("") is None
    assert geo.crs_from_label(None) is None


def test_making_points_and_reading_layers_leave_the_garbage_collector_on(tmp_path):
    """The collector is paused while a million geometries are made, and always back on after, errors included."""
    import gc

    import numpy as np
    import pandas as pd
    import pytest

    from assets_map.engine.geo import points_from_columns
    from assets_map.io.importer import import_file
    from assets_map.io.report import InputError

    assert gc.isenabled()
    every = points_from_columns(pd.Series(["-2.3", "-2.31"]), pd.Series(["53.4", "53.41"]))
    some = points_from_columns(pd.Series(["-2.3", "x", "-2.31"]), pd.Series(["53.4", "1", "53.41"]))
    assert gc.isenabled()
    assert every.placed.all() and some.placed.tolist() == [True, False, True]
    assert some.geometry.iloc[1] is None and np.allclose(every.geometry.x, some.geometry.dropna().x)
    bad = tmp_path / "broken.gpkg"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(InputError):
        import_file(bad)
    assert gc.isenabled()
