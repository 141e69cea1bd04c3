"""Hold-out layouts: areas written with their units, in the cell or the header, are read in the right unit.

Registers of other councils write "1,234 sq m", "0.5 ha", "2 acres", "12,000 sq ft" or "415 m²" in the
cell, or put the unit in the header ("Floor Area (sq ft)", "Site Area (acres)"). A value is never read in
the wrong unit (a hectare figure as square metres) and never dropped without a word in the report.
"""
from __future__ import annotations

import pandas as pd
import pytest

from assets_map.io.importer import import_file


def _import(tmp_path, frame: pd.DataFrame):
    path = tmp_path / "register.csv"
    frame.to_csv(path, index=False)
    return import_file(path)


def _base(n: int) -> dict:
    return {"Asset Name": [f"Site {i}" for i in range(n)], "Easting": [380000 + 10 * i for i in range(n)],
            "Northing": [395000] * n, "Tenure": ["Freehold"] * n}


def test_units_in_the_cells_are_converted_to_the_canonical_units(tmp_path):
    cells = ["1,234 sq m", "0.5 ha", "2 acres", "12,000 sq ft", "415 m²", "415m2", "3.2", "", "4E+1"]
    want_m2 = [1234, 5000, 8093.71, 1114.84, 415, 415, 3.2, None, 40]
    frame = pd.DataFrame({**_base(len(cells)), "Gross Internal Area": cells, "Site Area": cells})
    out, report = _import(tmp_path, frame)
    got = out["floor_area_m2"].tolist()
    for g, w, c in zip(got, want_m2, cells, strict=True):
        assert (pd.isna(g) if w is None else g == pytest.approx(w, rel=1e-4)), (c, g)
    # The same cells as a site area, in hectares: "3.2" with no unit stays 3.2 ha ("4E+1": the national
    # brownfield file writes some hectares so).
    want_ha = [0.1234, 0.5, 0.80937, 0.111484, 0.0415, 0.0415, 3.2, None, 40]
    for g, w, c in zip(out["site_area_ha"].tolist(), want_ha, cells, strict=True):
        assert (pd.isna(g) if w is None else g == pytest.approx(w, rel=1e-4)), (c, g)
    fixed = " ".join(i.message for i in report.of_kind("fixed"))
    assert "acres converted to hectares" in fixed and "sq ft converted to square metres" in fixed


def test_the_unit_in_the_header_applies_to_plain_numbers(tmp_path):
    frame = pd.DataFrame({**_base(2), "Floor Area (sq ft)": ["10,764", "1076.4"], "Site Area (acres)": [1, 2.5]})
    out, report = _import(tmp_path, frame)
    assert out["floor_area_m2"].tolist() == pytest.approx([1000.0, 100.0], rel=1e-3)
    assert out["site_area_ha"].tolist() == pytest.approx([0.404686, 1.011714], rel=1e-5)
    # A cell's own unit wins over the header's.
    frame = pd.DataFrame({**_base(1), "Site Area (acres)": ["2 ha"]})
    out, _ = _import(tmp_path, frame)
    assert out["site_area_ha"].tolist() == pytest.approx([2.0])


def test_an_area_that_cannot_be_read_is_reported_not_dropped_silently(tmp_path):
    frame = pd.DataFrame({**_base(3), "Site Area": ["about half an acre", "5 metres", "1.5"]})
    out, report = _import(tmp_path, frame)
    assert out["site_area_ha"].isna().tolist() == [True, True, False]
    warned = [i for i in report.of_kind("warning") if "not read as an area" in i.message]
    assert warned and warned[0].rows == [1, 2], report.summary_lines()


def test_real_hectares_are_read_as_plain_numbers_are(shared):
    """The national brownfield file's hectares (some written "4E+1") read as pandas reads the numbers."""
    path = shared("england", "brownfield_points_2020.csv")
    out, report = import_file(path)
    raw = pd.read_csv(path, dtype=str)
    want = pd.to_numeric(raw["hectares"], errors="coerce")
    assert out["src_hectares"].astype(str).tolist()[:5] == raw["hectares"].astype(str).tolist()[:5]
    assert out["site_area_ha"].sum() == pytest.approx(want.sum(), rel=1e-9)
    assert not [i for i in report.of_kind("warning") if "not read as an area" in i.message]


@pytest.mark.parametrize(("header", "cells", "floor", "site"), [
    ("Area (sq m)", ["1,000", "20"], [1000.0, 20.0], None),
    ("Size", ["1,200 sq ft", "2,400 sq ft"], [111.4836, 222.9673], None),
    ("Area", ["0.5 ha", "2 acres"], None, [0.5, 0.809371]),
    ("Total Area (acres)", ["1", "2"], None, [0.404686, 0.809371]),
    ("Area", ["12", "3"], None, None),  # no unit anywhere: not guessed
])
def test_a_column_headed_only_area_or_size_is_read_by_its_unit(tmp_path, header, cells, floor, site):
    out, report = _import(tmp_path, pd.DataFrame({**_base(2), header: cells}))
    for col, want in (("floor_area_m2", floor), ("site_area_ha", site)):
        if want is None:
            assert out[col].isna().all(), (col, out[col].tolist())
        else:
            assert out[col].tolist() == pytest.approx(want, rel=1e-5)
    assert out[f"src_{header}"].tolist() == cells  # the source text is kept whatever was read


def test_approximate_figures_are_read():
    from assets_map.io.units import area_column

    cells = pd.Series(["approx. 2 ha", "c. 0.5 acres", "1,200 sq ft (approx)", "circa 1.2ha", "0.5 hectares (estimated)"])
    out, note = area_column(cells, "site_area_ha", "Site Area")
    assert out.tolist() == pytest.approx([2.0, 0.202343, 0.011148, 1.2, 0.5], rel=1e-4)
    assert note["not_read"] == []


@pytest.mark.parametrize("header", ["Area (sq m)", "Size (m²)", "Total area m2", "Property Area (sq ft)"])
def test_a_bare_area_in_square_metres_is_land_s_site_area_and_a_building_s_floor(tmp_path, header):
    """"Area (sq m)" does not say whose area: a car park's is its site area, a library's its floor area."""
    sq_ft = "sq ft" in header
    frame = pd.DataFrame({**_base(3), "Land or Buildings": ["Building", "Land", "Land and buildings"],
                          header: ["1,200", "2,500", "3,400"]})
    out, report = _import(tmp_path, frame)
    factor = 0.09290304 if sq_ft else 1.0
    assert out["floor_area_m2"].tolist()[0] == pytest.approx(1200 * factor)
    assert pd.isna(out["floor_area_m2"].tolist()[1]) and out["floor_area_m2"].tolist()[2] == pytest.approx(3400 * factor)
    assert out["site_area_ha"].tolist()[1] == pytest.approx(2500 * factor / 10_000)
    assert out["site_area_ha"].isna().tolist() == [True, False, True]
    said = [i for i in report.of_kind("fixed") if "does not say whose area" in i.message]
    assert said and said[0].rows == [2], report.summary_lines()


@pytest.mark.parametrize(("header", "site"), [("Plot size (m²)", True), ("Land area sq m", True),
                                              ("Building area (sq m)", False), ("Gross area", False)])
def test_a_word_before_area_says_whose_area_it_is(tmp_path, header, site):
    frame = pd.DataFrame({**_base(2), "Land or Buildings": ["Land", "Building"], header: ["2,500", "400"]})
    out, report = _import(tmp_path, frame)
    if site:
        assert out["site_area_ha"].tolist() == pytest.approx([0.25, 0.04]) and out["floor_area_m2"].isna().all()
    else:  # a building's floor, whatever the row's holding: the header says so
        assert out["floor_area_m2"].tolist() == pytest.approx([2500, 400]) and out["site_area_ha"].isna().all()
    assert not [i for i in report.issues if "does not say whose area" in i.message]
