"""Hold-out layouts: registers grouped under section headings, and merged cells.

A register laid out for printing puts its sites under headings ("Cemeteries & Crematoria", "Allotments",
"Offices") in a row of their own; a heading is never a site, and the sites under it keep it as their category,
so a vacant cemetery lodge or an allotment under such a heading is never flagged. In a workbook the
category is often one cell merged down over its sites: each site keeps it.
"""
from __future__ import annotations

import openpyxl
import pandas as pd

from assets_map.engine.underuse import apply_exclusions, score_underuse
from assets_map.io.importer import import_file

HEADER = ["Asset Name", "Easting", "Northing", "Tenure", "Occupancy Status"]
GROUPS = {
    "Cemeteries & Crematoria": [("North Lodge", "Vacant"), ("Chapel of Rest", "Vacant")],
    "Allotments": [("Moss Lane", "Vacant")],
    "Offices": [("Old Town Hall Annexe", "Vacant"), ("Depot Offices", "Surplus")],
    "Highways Land": [("Strip at Ring Road", "Vacant")],
}


def _rows() -> list[list]:
    rows, i = [HEADER], 0
    for heading, sites in GROUPS.items():
        rows.append([heading, None, None, None, None])
        for name, status in sites:
            i += 1
            rows.append([name, 380000 + 100 * i, 395000, "Freehold", status])
    return rows


def test_section_headings_are_not_sites_and_their_category_is_read(tmp_path):
    path = tmp_path / "grouped.csv"
    pd.DataFrame(_rows()[1:], columns=HEADER).to_csv(path, index=False)
    out, report = import_file(path)
    assert out["name"].tolist() == [n for sites in GROUPS.values() for n, _ in sites]
    assert report.set_aside == 4
    scored = score_underuse(apply_exclusions(out))
    excluded = dict(zip(scored["name"], scored["excluded"], strict=True))
    assert excluded == {"North Lodge": True, "Chapel of Rest": True, "Moss Lane": True, "Old Town Hall Annexe": False,
                        "Depot Offices": False, "Strip at Ring Road": True}
    reason = scored.set_index("name").loc["North Lodge", "exclusion_reason"]
    assert "Cemeteries & Crematoria" in reason and "(cemetery)" in reason


def test_a_category_merged_down_over_its_sites_is_kept_by_each(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Asset Category", *HEADER])
    r = 2
    for heading, sites in GROUPS.items():
        for k, (name, status) in enumerate(sites):
            ws.append([heading if k == 0 else None, name, 380000 + 100 * r, 395000, "Freehold", status])
        if len(sites) > 1:
            ws.merge_cells(start_row=r, start_column=1, end_row=r + len(sites) - 1, end_column=1)
        r += len(sites)
    path = tmp_path / "merged.xlsx"
    wb.save(path)
    out, report = import_file(path)
    assert out["use"].tolist() == [h for h, sites in GROUPS.items() for _ in sites]
    scored = apply_exclusions(out)
    assert scored.set_index("name").loc["Chapel of Rest", "excluded"]
    assert any("merged" in line for line in report.summary_lines()), report.summary_lines()


def test_notes_under_the_table_are_not_sites(tmp_path):
    rows = [[f"Site {i}", 380000 + 100 * i, 395000, "Freehold", "Vacant"] for i in range(6)]
    feet = ["Page 1 of 3", "Data correct as at 31/03/2024", "* denotes a leased property", "End of register"]
    rows += [[f, None, None, None, None] for f in feet]
    path = tmp_path / "footed.xlsx"
    pd.DataFrame(rows, columns=HEADER).to_excel(path, index=False)
    out, report = import_file(path)
    assert out["name"].tolist() == [f"Site {i}" for i in range(6)]
    assert report.set_aside == 4
    assert any("Page 1 of 3" in line and "not sites" in line for line in report.summary_lines())


def test_features_with_shapes_are_never_notes_or_headings(tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    names = ["A", "B", "C", "D", "E"]
    g = gpd.GeoDataFrame({"Asset Name": names, "Tenure": ["Freehold"] * 3 + [None] * 2,
                          "Occupancy Status": ["Vacant"] * 3 + [None] * 2},
                         geometry=[Point(380000 + 100 * i, 395000) for i in range(5)], crs="EPSG:27700")
    path = tmp_path / "sites.gpkg"
    g.to_file(path)
    out, report = import_file(path)
    assert out["name"].tolist() == names and report.set_aside == 0


def test_a_heading_naming_a_place_is_not_a_category(tmp_path):
    """Sites grouped by ward ("Park Ward") keep the ward as their place: a park's word in it excludes nothing."""
    rows = [HEADER]
    groups = {"Park Ward": [("Old Library", "Vacant"), ("Ring Road Depot", "Surplus")],
              "Cemeteries & Crematoria": [("North Lodge", "Vacant")],
              "Greenfield Parish": [("Village Hall", "Vacant")]}
    i = 0
    for heading, sites in groups.items():
        rows.append([heading, None, None, None, None])
        for name, status in sites:
            i += 1
            rows.append([name, 380000 + 100 * i, 395000, "Freehold", status])
    path = tmp_path / "by_ward.csv"
    pd.DataFrame(rows[1:], columns=HEADER).to_csv(path, index=False)
    out, report = import_file(path)
    assert out["name"].tolist() == ["Old Library", "Ring Road Depot", "North Lodge", "Village Hall"]
    assert report.set_aside == 3
    excluded = dict(zip(out["name"], apply_exclusions(out)["excluded"], strict=True))
    assert excluded == {"Old Library": False, "Ring Road Depot": False, "North Lodge": True, "Village Hall": False}
    assert out["src_Section heading place"].fillna("").tolist() == ["Park Ward", "Park Ward", "", "Greenfield Parish"]
    assert any("as the place of the sites under it" in line for line in report.summary_lines())


def test_headings_on_lines_of_their_own_in_a_long_csv(tmp_path):
    """A CSV heading line with no trailing commas (one cell), among hundreds of sites, is a heading, not the tail
    of a broken cell: the first line under the header is one, and each is followed by a record."""
    lines = [",".join(HEADER)]
    groups = {"Cemeteries & Crematoria": [f"Lodge {k}" for k in range(150)],
              "Offices": [f"Office {k}" for k in range(200)], "Allotments": [f"Plot {k}" for k in range(100)]}
    i = 0
    for heading, sites in groups.items():
        lines.append(heading)
        for name in sites:
            i += 1
            lines.append(f"{name},{380000 + 10 * i},395000,Freehold,Vacant")
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n")
    out, report = import_file(path)
    assert len(out) == 450 and report.set_aside == 3
    excluded = apply_exclusions(out).set_index("name")["excluded"]
    assert excluded[[f"Lodge {k}" for k in range(150)]].all() and excluded[[f"Plot {k}" for k in range(100)]].all()
    assert not excluded[[f"Office {k}" for k in range(200)]].any()


def test_filled_cells_reads_every_cell_as_one_by_one_would():
    """The column-wise test of filled cells (Arrow text trimmed in Arrow) agrees with reading each cell as text."""
    import numpy as np
    import pandas as pd

    from assets_map.io.sections import filled_cells

    texts = ["Library", "  ", "", None, " Park Road ", "\u00a0\t\u2003", "0", "Café", "\u00a0x", "n/a"]
    frame = pd.DataFrame({
        "arrow": pd.array(texts, dtype="str"),
        "string": pd.array(texts, dtype="string[pyarrow]"),
        "python": pd.array(texts, dtype="string[python]"),
        "mixed": pd.Series(["a", 3, None, 2.5, " ", float("nan"), "b", True, "  c", pd.NA], dtype=object),
        "number": [1.0, np.nan, 0.0, 3.5, np.nan, 2.0, 1.0, np.nan, 4.0, 5.0],
        "count": pd.array([1, None, 3, 4, 5, None, 7, 8, 9, 10], dtype="Int64"),
        "when": pd.to_datetime(["2024-01-01", None, "2024-02-01", None, "2024-03-01", None, None, None, None, None]),
    })
    expected = np.array([[not pd.isna(v) and str(v).strip() != "" for v in frame[c]] for c in frame.columns]).T
    assert filled_cells(frame).tolist() == expected.tolist()
    assert filled_cells(frame.iloc[:0]).shape == (0, frame.shape[1])
