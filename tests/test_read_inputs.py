"""read_inputs reads the need areas and layers beside the register: the same answers, the same refusals in order.

The side reading runs in a thread; these tests hold it to what reading one file after another gave: the limits in
force (a visitor's budget) apply there too, every problem is listed in the order the files were given, and the
spreadsheet readers' quiet blocks never leave a warning filter behind when two threads use them at once.
"""
from __future__ import annotations

import threading
import warnings
from pathlib import Path

import geopandas as gpd
import pytest

from assets_map.io.importer import import_file, read_inputs
from assets_map.io.report import InputError
from assets_map.io.sheets import quiet_warnings
from assets_map.io.sources import Limits, using_limits

DEMO = Path(__file__).resolve().parent.parent / "data" / "demo.gpkg"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    assets = gpd.read_file(DEMO, layer="assets")
    assets["geometry"] = assets.geometry.representative_point()  # one vertex a site: a budget can tell the files apart
    areas = gpd.read_file(DEMO, layer="need_areas")
    assets.to_file(d / "register.gpkg", layer="assets")
    areas.to_file(d / "areas.gpkg", layer="need_areas")
    (d / "bad.csv").write_text("not,a\nregister,at all\n", encoding="utf-8")
    return d, assets, areas


def test_the_side_reading_gives_what_reading_each_file_alone_gives(files):
    d, _, areas = files
    got = read_inputs(d / "register.gpkg", d / "areas.gpkg", exclude=[d / "areas.gpkg"])
    alone_frame, _ = import_file(d / "register.gpkg", kind="register")
    alone_areas, _ = import_file(d / "areas.gpkg", kind="boundaries")
    assert got.assets.equals(alone_frame)
    assert got.boundaries.equals(alone_areas)
    assert len(got.exclude) == 1 and len(got.exclude[0][1]) == len(areas)
    assert got.names["boundaries"] == "areas.gpkg" and got.names["register"] == "register.gpkg"
    assert got.names["exclude"] == ["areas.gpkg"]


def test_a_visitors_budget_holds_in_the_reading_thread(files):
    d, _, areas = files
    # the register's points pass, the need areas' polygons do not: the budget must reach the side thread
    vertices = int(areas.geometry.count_coordinates().sum())
    small = Limits().scaled(max_vertices=vertices - 1, who="a public upload")
    with using_limits(small):
        with pytest.raises(InputError) as err:
            read_inputs(d / "register.gpkg", d / "areas.gpkg")
    assert err.value.problems == [f"areas.gpkg: {vertices:,} vertices in all, above the {vertices - 1:,} a public "
                                  "upload may hold"]
    read_inputs(d / "register.gpkg", d / "areas.gpkg")  # outside the block, the default limits again


def test_every_problem_is_listed_in_the_order_the_files_were_given(files):
    d, _, _ = files
    missing = d / "nowhere.gpkg"
    with pytest.raises(InputError) as err:
        read_inputs(d / "bad.csv", missing, d / "bad.csv", exclude=[d / "nowhere2.gpkg"])
    problems = err.value.problems
    assert len(problems) == 4, problems
    order = [next(i for i, p in enumerate(problems) if name in p)
             for name in ("nowhere.gpkg", "bad.csv", "nowhere2.gpkg")]
    assert order == sorted(order)  # boundaries, deprivation, exclusion layer ...
    assert "bad.csv" in problems[-1]  # ... and the register last, as when the files were read one by one


def test_quiet_blocks_in_two_threads_leave_the_filters_as_they_were():
    before = list(warnings.filters)
    start = threading.Barrier(2)

    def quiet_a_while():
        start.wait()
        for _ in range(200):
            with quiet_warnings():
                warnings.warn("chatter", UserWarning, stacklevel=1)

    threads = [threading.Thread(target=quiet_a_while) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert warnings.filters == before
