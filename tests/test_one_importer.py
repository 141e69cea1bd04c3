"""One importer: every file in ../shared/data reads the same through the CLI's door and the app's.

The CLI's door is :func:`assets_map.io.importer.import_file` on a path (what ``assets-map analyse``,
``assets-map import``, the store and ``read_facilities`` call); the app's door is
:func:`assets_map.io.importer.import_bytes` on an upload's bytes and name (what "Your data" and the
finder's uploads call). For every file and every kind of file the app takes, both doors must
accept or refuse it alike, with equal canonical frames and equal reports; for the registers, the
CLI's analysis (:func:`assets_map.engine.pipeline.analyse` on paths) and the app's "Use this data"
(:func:`assets_map.io.uploads.check_uploads` on uploads) must be equal.
"""
from __future__ import annotations

import dataclasses

import geopandas as gpd
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal

from assets_map.engine.needs import Deprivation
from assets_map.engine.pipeline import analyse
from assets_map.io.importer import import_bytes, import_file
from assets_map.io.report import InputError
from assets_map.io.uploads import Upload, check_uploads
from tests.helpers import SHARED

#: The kinds of file the app takes ("Your data" and the finder), tried by what a file could be.
TABLE_KINDS = ("register", "deprivation", "postcodes", "wards")
LAYER_KINDS = ("register", "boundaries", "wards", "exclusion", "facilities")
#: National files are read once, as the kind they are (the budget of this module is about 60 s).
NATIONAL = {
    "england/lsoa21_boundaries_ew.gpkg": ("boundaries",),
    "england/imd2025_lsoa21_scores_ranks_deciles.csv": ("deprivation",),
    "england/lookup_lsoa21_ward24_ltla24.csv": ("wards",),
    "nhs/eric_hefs_site_and_trust_data_13944.xls": ("register",),
    "england/brownfield_points_2020.csv": ("register",),
}


def _data_files() -> list[str]:
    if not SHARED.exists():
        return []
    return sorted(str(p.relative_to(SHARED)) for p in SHARED.rglob("*")
                  if p.is_file() and p.suffix.lower() in (".csv", ".xls", ".xlsx", ".geojson", ".gpkg", ".zip"))


def _cases() -> list:
    cases = []
    for rel in _data_files() or ["(absent)"]:
        kinds = NATIONAL.get(rel) or (LAYER_KINDS if rel.endswith((".geojson", ".gpkg", ".zip")) else TABLE_KINDS)
        cases += [pytest.param(rel, k, id=f"{rel}:{k}") for k in kinds]
    return cases


def _read(door, *args, **kw):
    try:
        return door(*args, **kw), None
    except InputError as exc:
        return None, str(exc)


def assert_same(a, b) -> None:
    """Equal canonical outputs: frames (columns, order, dtypes, attrs) or deprivation tables."""
    if isinstance(a, Deprivation):
        assert isinstance(b, Deprivation) and (a.year, a.source) == (b.year, b.source)
        pd.testing.assert_frame_equal(a.table, b.table)
        return
    assert type(a) is type(b)
    if isinstance(a, gpd.GeoDataFrame):
        assert_geodataframe_equal(a, b, check_less_precise=False)
    else:
        pd.testing.assert_frame_equal(a, b)
    assert a.attrs == b.attrs


@pytest.mark.parametrize("rel,kind", _cases())
def test_the_cli_and_the_app_read_every_file_alike(shared, rel, kind):
    path = shared(*rel.split("/"))
    cli, cli_refused = _read(import_file, path, kind=kind)
    app, app_refused = _read(import_bytes, path.read_bytes(), path.name, kind=kind)
    assert cli_refused == app_refused  # refused alike, with the same one-line message
    if cli is None:
        return
    frame, report = cli
    assert_same(frame, app[0])
    assert report.to_dict() == app[1].to_dict()
    if kind != "deprivation":
        assert frame.attrs["source"] == path.name


#: Registers analysed through both doors against Trafford's need areas (others fall outside them,
#: which must then be equal too). The ERIC workbook has no locations file here: read above only.
REGISTERS = ["trafford/land_and_building_assets.csv", "trafford/brownfield_register_harmonised.csv",
             "brownfield_raw/rochdale.csv", "brownfield_raw/fylde.csv", "brownfield_raw/leicester.csv"]


@pytest.mark.parametrize("rel", REGISTERS)
def test_the_cli_analysis_equals_the_apps_use_this_data(shared, rel):
    register = shared(*rel.split("/"))
    bnd = shared("trafford", "lsoa11_boundaries.geojson")
    dep = shared("trafford", "iod2015_2019_lsoa11_long.csv")
    pc = shared("trafford", "postcodes_onspd_feb2025.csv") if rel.startswith("trafford/land") else None
    layers = [shared("trafford", "parcels", "greenspace_sites.geojson"),
              shared("trafford", "parcels", "allotments.geojson")]
    cli = analyse(register, bnd, dep, postcodes=pc, exclude=layers)
    files = {"register": register, "boundaries": bnd, "deprivation": dep, **({"postcodes": pc} if pc else {})}
    uploads = {k: Upload(p.name, p.read_bytes()) for k, p in files.items()}
    layer_uploads = [Upload(p.name, p.read_bytes()) for p in layers]
    if cli.assets["need_area_code"].isna().all():  # another place: the app refuses before "Use this data"
        with pytest.raises(InputError, match="lies in any of the"):
            check_uploads(uploads, exclude=layer_uploads)
        return
    app = check_uploads(uploads, exclude=layer_uploads).analysis
    assert len(cli.exclude) == 2
    if pc is not None:  # Trafford's own register: the layers do exclude sites
        assert app.assets["excluded"].sum() > analyse(register, bnd, dep, postcodes=pc).assets["excluded"].sum()
    assert_geodataframe_equal(cli.assets, app.assets)
    assert_geodataframe_equal(cli.needs, app.needs)
    assert [r.to_dict() for r in cli.reports] == [r.to_dict() for r in app.reports]
    assert cli.warnings == app.warnings
    assert [label for label, _ in cli.exclude] == [label for label, _ in app.exclude]
    for (_, a), (_, b) in zip(cli.exclude, app.exclude, strict=True):
        assert_geodataframe_equal(a, b)
    assert cli.settings["weights"] == app.settings["weights"]
    assert cli.settings["exclude"] == app.settings["exclude"] == [p.name for p in layers]


def test_brownfield_fields_reach_the_analysis_whatever_the_door(shared):
    """The issue's example: a brownfield register through ``analyse`` keeps what the brownfield adapter reads."""
    register = shared("brownfield_raw", "rochdale.csv")
    result = analyse(register, shared("trafford", "lsoa11_boundaries.geojson"),
                     shared("trafford", "iod2015_2019_lsoa11_long.csv"))
    assert result.reports[0].adapter.startswith("brownfield register")
    frame, _ = import_file(register)
    shared = [c for c in frame.columns if c in result.assets.columns]
    assert len(shared) == len(frame.columns)  # every column the importer gives reaches the analysis
    for col in ("organisation", "holding_type", "use", "source_date"):
        pd.testing.assert_series_equal(result.assets[col].reset_index(drop=True), frame[col].reset_index(drop=True))


def test_a_deprivation_file_given_as_the_register_is_refused_alike(shared):
    dep = shared("trafford", "iod2015_2019_lsoa11_long.csv")
    bnd = shared("trafford", "lsoa11_boundaries.geojson")
    with pytest.raises(InputError, match="not an asset register") as cli:
        analyse(dep, bnd)
    with pytest.raises(InputError, match="not an asset register") as app:
        check_uploads({"register": Upload(dep.name, dep.read_bytes()),
                       "boundaries": Upload(bnd.name, bnd.read_bytes())})
    # The same detection, each door in its own words: the CLI names its option, the app its slot.
    looks = "this looks like an English Indices of Deprivation table (LSOA codes with scores, ranks or deciles)"
    assert str(cli.value).startswith(f"{dep.name}: ") and looks in str(cli.value) and "--deprivation" in str(cli.value)
    assert str(app.value).startswith(f"{dep.name}: ") and looks in str(app.value)
    assert "give it in the Deprivation data slot" in str(app.value) and "--" not in str(app.value)


def test_display_names_are_the_base_name_whatever_the_door(tmp_path):
    path = tmp_path / "register.csv"
    path.write_text("Name,Easting,Northing\nA,383000,398000\n")
    a, ra = import_file(path)
    b, rb = import_bytes(path.read_bytes(), "C:\\Users\\me\\register.csv")
    assert a.attrs["source"] == b.attrs["source"] == ra.source == rb.source == "register.csv"
    assert_geodataframe_equal(a, b)
    assert dataclasses.asdict(ra) == dataclasses.asdict(rb)


def test_register_editions_are_ordered_by_the_registers_one_date_rule(tmp_path):
    """Editions dated in the UK day-first style (as in the statutory registers) keep each site's latest."""
    path = tmp_path / "brownfield.csv"
    path.write_text("resource-date,entry-date,organisation,site,site-address,ownership,deliverable,latitude,longitude,"
                    "hectares\n"
                    "15/01/2021,15/01/2021,local-authority-eng:TRF,1501,New edition,owned by a public authority,yes,"
                    "53.446622,-2.329392,0.78\n"
                    "01/02/2020,01/02/2020,local-authority-eng:TRF,1501,Old edition,owned by a public authority,yes,"
                    "53.446622,-2.329392,0.78\n")
    frame, report = import_file(path)
    assert frame.attrs["adapter"] == "brownfield"
    assert frame["address"].tolist() == ["New edition"] and report.rejected == 1


def _data_page() -> None:
    from assets_map.ui import data_page, shared

    shared.frame()
    data_page.render()


def test_the_your_data_page_passes_exclusion_layers_to_the_check(shared):
    """The page's exclusion uploads reach check_uploads, as --exclude reaches the CLI's analysis."""
    from streamlit.testing.v1 import AppTest

    from assets_map.ui.data_page import LAYERS, PENDING, STAGED

    files = {"register": shared("trafford", "brownfield_register_harmonised.csv"),
             "boundaries": shared("trafford", "lsoa11_boundaries.geojson"),
             "deprivation": shared("trafford", "iod2015_2019_lsoa11_long.csv")}
    layer = shared("trafford", "parcels", "allotments.geojson")
    at = AppTest.from_function(_data_page, default_timeout=120)
    at.session_state[STAGED] = {k: Upload(p.name, p.read_bytes()) for k, p in files.items()}
    at.session_state[LAYERS] = {"exclude": [Upload(layer.name, layer.read_bytes())]}
    at.run()
    at.button(key="check_upload").click().run()
    assert not at.exception, at.exception
    pending = at.session_state[PENDING].analysis
    assert [label for label, _ in pending.exclude] == ["allotments"]
    assert pending.settings["exclude"] == ["allotments.geojson"]
