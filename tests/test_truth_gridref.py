"""Registers that give a location as an OS grid reference or a coordinate pair in one cell.

The Transparency Code asks councils for a "map reference"; some publish only that (``SJ 81234 94567``), or
the pair in one cell. Such rows used to be unplaced ("no coordinate columns found"). Now a grid reference
places the row at the centre of the square it names when that square is 100 m or smaller; a 1 km
reference is too coarse and is left unplaced with a note; a text column that only happens to be called
"Location" is left alone.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from assets_map.engine.pipeline import analyse
from assets_map.io.gridref import read_locations, square_origin
from assets_map.io.importer import import_file


def _letters(e: float, n: float) -> str:
    """The OS 100 km square of a point, by the published forward rule (an independent computation)."""
    e100, n100 = int(e // 100_000), int(n // 100_000)
    l1 = (19 - n100) - (19 - n100) % 5 + (e100 + 10) // 5
    l2 = (19 - n100) * 5 % 25 + e100 % 5
    return "".join(chr(ord("A") + v + (v > 7)) for v in (l1, l2))


def _ref(e: float, n: float, digits: int, spaced: bool = True) -> str:
    half = digits // 2
    size = 10 ** (5 - half)
    de = f"{int(e % 100_000) // size:0{half}d}" if half else ""
    dn = f"{int(n % 100_000) // size:0{half}d}" if half else ""
    return f"{_letters(e, n)} {de} {dn}".strip() if spaced else f"{_letters(e, n)}{de}{dn}"


def test_every_square_of_great_britain_round_trips():
    rng = np.random.default_rng(7)
    e = rng.uniform(0, 700_000, 2_000)
    n = rng.uniform(0, 1_250_000, 2_000)
    for digits, tol in ((10, 0.5), (8, 5), (6, 50)):
        cells = read_locations(pd.Series([_ref(a, b, digits, spaced=bool(i % 2)) for i, (a, b) in enumerate(zip(e, n, strict=True))]))
        assert not cells.unreadable.any() and not cells.coarse.any()
        assert np.abs(cells.x - e).max() <= tol + 1e-6 and np.abs(cells.y - n).max() <= tol + 1e-6, digits
    assert square_origin("SJ") == (300_000, 300_000) and square_origin("HU") == (400_000, 1_100_000)


def test_coarse_odd_and_pairs():
    cells = read_locations(pd.Series(["SJ8194", "TQ 30 80", "SJ812", "381234, 394567", "E 381234 N 394567",
                                      "53.45, -2.31", "(381234 / 394567)", "behind the library", None, ""]))
    assert list(cells.coarse) == [True, True] + [False] * 8
    assert list(cells.unreadable) == [False, False, True, False, False, False, False, True, False, False]
    assert "1 km square: too coarse" in cells.notes[0] and "odd number of digits" in cells.notes[2]
    assert list(cells.x[3:7]) == [381234, 381234, 53.45, 381234] and list(cells.y[3:7]) == [394567, 394567, -2.31, 394567]
    assert np.isnan(cells.x[[0, 1, 2, 7, 8, 9]]).all()


@pytest.fixture(scope="module")
def bng(trafford):
    reg = pd.read_csv(trafford["register"], dtype=str, keep_default_na=False)
    lon, lat = pd.to_numeric(reg["GeoX"], errors="coerce"), pd.to_numeric(reg["GeoY"], errors="coerce")
    ok = lon.notna() & lat.notna()
    pts = shapely.points(lon[ok], lat[ok])
    import geopandas as gpd

    xy = gpd.GeoSeries(pts, crs=4326).to_crs(27700)
    reg = reg[ok].reset_index(drop=True)
    reg["E"], reg["N"] = xy.x.to_numpy(), xy.y.to_numpy()
    return reg


def test_a_register_with_only_a_map_reference_is_placed(bng, tmp_path):
    reg = bng.head(60).copy()
    digits = np.resize([10, 6, 4], len(reg))
    reg["Map Reference"] = [_ref(e, n, d) for e, n, d in zip(reg["E"], reg["N"], digits, strict=True)]
    path = tmp_path / "register.csv"
    reg.drop(columns=["GeoX", "GeoY", "CoordinateReferenceSystem", "E", "N", "PostCode"]).to_csv(path, index=False)
    gdf, report = import_file(path, kind="register")
    placed = gdf.geometry.notna().to_numpy() & ~gdf.geometry.is_empty.to_numpy()
    assert list(placed) == list(digits != 4)
    d = np.hypot(gdf.geometry.x[placed] - reg["E"][placed], gdf.geometry.y[placed] - reg["N"][placed]).to_numpy()
    size = 10.0 ** (5 - digits[placed] // 2)
    assert (d <= size / np.sqrt(2) + 1e-6).all()
    assert set(gdf.loc[placed, "location_quality"]) == {"register coordinates"}
    coarse = gdf.loc[~placed, "location_note"]
    assert coarse.str.contains("1 km square: too coarse to place").all()
    assert any("too coarse" in i.message for i in report.issues if i.kind == "unplaced")
    assert gdf.loc[digits == 6, "location_note"].str.contains("centre of the 100 m grid square").all()


def test_map_reference_fills_rows_without_easting_northing(bng, tmp_path, trafford):
    reg = bng.head(40).copy()
    reg["Easting"], reg["Northing"] = reg["E"].round(1).astype(str), reg["N"].round(1).astype(str)
    reg.loc[:9, ["Easting", "Northing"]] = ""
    reg["Grid Ref"] = [_ref(e, n, 10) for e, n in zip(reg["E"], reg["N"], strict=True)]
    reg.loc[20:, "Grid Ref"] = "SX 00000 00000"  # a wrong reference never overrides the row's own numbers
    path = tmp_path / "register.csv"
    reg.drop(columns=["GeoX", "GeoY", "CoordinateReferenceSystem", "E", "N"]).to_csv(path, index=False)
    gdf, report = import_file(path, kind="register")
    assert gdf.geometry.notna().all()
    d = np.hypot(gdf.geometry.x - reg["E"], gdf.geometry.y - reg["N"])
    assert (d <= 0.75).all()
    fixed = [i for i in report.issues if i.kind == "fixed" and "Grid Ref" in i.message]
    assert fixed and fixed[0].rows == list(range(1, 11))  # data rows, as every report line counts them
    # the CLI's analysis reads the same file the same way
    result = analyse(path, trafford["lsoa21"], trafford["imd2025"])
    assert result.assets["location_quality"].eq("register coordinates").sum() == 40


def test_a_text_location_column_is_left_alone(bng, tmp_path):
    reg = bng.head(10).copy()
    reg["Location"] = "Next to the park"
    path = tmp_path / "register.csv"
    reg.drop(columns=["E", "N"]).to_csv(path, index=False)
    gdf, report = import_file(path, kind="register")
    assert gdf.geometry.notna().all()
    assert not [i for i in report.issues if "Location" in i.message]
    reg = reg.drop(columns=["GeoX", "GeoY", "CoordinateReferenceSystem", "E", "N"])
    reg.to_csv(path, index=False)
    gdf, report = import_file(path, kind="register")
    assert gdf.geometry.isna().all() or gdf.geometry.is_empty.all() or (gdf["location_quality"] != "register coordinates").all()
    assert any("no coordinate columns found" in i.message for i in report.issues)
