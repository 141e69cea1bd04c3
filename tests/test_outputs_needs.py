"""Need areas clipped to the study area (issue 15, item 5).

A register analysed against the national LSOA file (35,672 areas, England and Wales) kept every
area, so a one-district export was a 99 MB KML.  Now the result keeps the study area (the local
authorities holding the assets and any area within 1 km of one), says how many it kept, and
``--all-need-areas`` keeps them all.
"""
from __future__ import annotations

import warnings

import pyogrio
import pytest

from assets_map.cli import main
from assets_map.engine.needs import study_area
from assets_map.io.export import FORMATS, ExportWarning, export_bytes, read_result

MB = 1024 * 1024


@pytest.fixture(scope="module")
def national(trafford, shared, tmp_path_factory):
    """Trafford's register (608 rows, bigger than Cheltenham's 459) against the national LSOA file."""
    out = tmp_path_factory.mktemp("national") / "trafford-national.gpkg"
    return out, ["analyse", "--assets", str(trafford["register"]),
                 "--boundaries", str(shared("england", "lsoa21_boundaries_ew.gpkg")),
                 "--deprivation", str(trafford["imd2025"]), "--postcodes", str(trafford["postcodes"]),
                 "--out", str(out)]


def test_national_boundaries_keep_the_study_area(national, capsys):
    out, argv = national
    assert main(argv) == 0
    printed = capsys.readouterr().out
    total = pyogrio.read_info(str(national[1][4]))["features"]
    assert total == 35_672
    needs = pyogrio.read_dataframe(out, layer="needs", read_geometry=False)
    assert 139 <= len(needs) < 1500, len(needs)
    assert needs["name"].str.startswith("Trafford ").sum() == 139, "every Trafford LSOA is in the study area"
    assert not needs["name"].str.startswith(("Cardiff ", "Cornwall ", "Westminster ")).any()
    assert needs["imd_decile"].notna().all(), "no Welsh area without an IoD far from the assets"
    line = next(ln for ln in printed.splitlines() if ln.startswith("need areas:"))
    assert f"{len(needs):,} of 35,672 kept" in line and "Trafford" in line
    assets = pyogrio.read_dataframe(out, layer="assets", read_geometry=False)
    placed = assets["need_area_code"].dropna()
    assert set(placed) <= set(needs["code"]), "every asset's need area is kept"
    layers, record = read_result(out)
    assert record["need_areas"]["kept"] == len(needs) and record["need_areas"]["of"] == 35_672


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_one_district_export_of_need_areas_is_small(fmt, national):
    out, _ = national
    layers, record = read_result(out, ["needs"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExportWarning)
        name, data = export_bytes(layers, fmt, provenance=record)
    assert len(data) < 5 * MB, f"{fmt}: {len(data) / MB:.1f} MB of need areas"


def test_all_need_areas_on_request(trafford, tmp_path, capsys):
    out = tmp_path / "all.gpkg"
    argv = ["analyse", "--assets", str(trafford["register"]), "--boundaries", str(trafford["lsoa21"]),
            "--deprivation", str(trafford["imd2025"]), "--out", str(out)]
    assert main(argv + ["--all-need-areas"]) == 0
    assert "need areas: all 139 kept (every need area asked for)" in capsys.readouterr().out
    assert main(argv) == 0
    assert "need areas: all 139 kept (each is in the study area)" in capsys.readouterr().out


def test_study_area_rules(trafford_result):
    needs, assets = trafford_result.needs, trafford_result.assets
    none_placed = assets.iloc[0:0]
    kept, rec = study_area(needs, none_placed)
    assert len(kept) == len(needs) and "no placed asset" in rec["note"]
    one = assets[assets["need_area_code"].notna()].iloc[[0]]
    renamed = needs.assign(name=[f"Area {i}" for i in range(len(needs))])  # names without a local authority
    kept, rec = study_area(renamed, one, distance_m=0.0)
    assert list(kept["code"]) == [one["need_area_code"].iloc[0]] and rec["authorities"] == []
    kept, rec = study_area(needs, one)
    assert len(kept) == len(needs) and rec["authorities"] == ["Trafford"]
