"""Every runner of the one pipeline gives the same result (assets_map.engine.pipeline.analyse).

Parametrised over the runners the way geopandas parametrises over ``engine``: one process,
dask's threads (2 workers, spatial partitions) and the result cache (run twice: the second
run must be read back from the cache, and that is the result compared). Results are equal
in assets, need areas, exclusion layers, import reports and settings (except the keys that
say how they were computed), and re-weighting each gives equal results too.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from assets_map.engine.cache import ResultCache
from assets_map.engine.demo import load_demo
from assets_map.engine.pipeline import RUNNER_SETTINGS, Analysis, analyse, rescore

AS_OF = dt.date(2026, 1, 15)  # one date for "vacant since" in every run
WEIGHTS = "income=2,health=1"
RUNNERS = ["single", "dask-threads", "cached"]


@pytest.fixture(params=RUNNERS)
def runner(request, tmp_path):
    """A function running ``analysis(**options)`` on one runner; it returns the runner's result."""
    if request.param == "single":
        return lambda analysis: analysis()
    if request.param == "dask-threads":
        return lambda analysis: analysis(engine="dask", scheduler="threads", n_workers=2, partitions=3)

    def cached(analysis):
        cache = ResultCache(tmp_path / "cache")
        first = analysis(cache=cache)
        again = analysis(cache=cache)
        assert (cache.stats.misses, cache.stats.hits) == (1, 1), "the second run was not read from the cache"
        assert (first.settings["cache"], again.settings["cache"]) == ("stored", "reused")
        return again

    return cached


def _frames_equal(a, b) -> None:
    assert list(a.columns) == list(b.columns)
    geom_a, geom_b = a.geometry, b.geometry
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns=geom_a.name)).reset_index(drop=True),
                                  pd.DataFrame(b.drop(columns=geom_b.name)).reset_index(drop=True))
    assert a.crs == b.crs
    assert (geom_a.isna().to_numpy() == geom_b.isna().to_numpy()).all()
    same = geom_a.reset_index(drop=True).geom_equals(geom_b.reset_index(drop=True))
    assert same.where(geom_a.reset_index(drop=True).notna(), True).all()


def _assert_same(got: Analysis, want: Analysis) -> None:
    _frames_equal(got.assets, want.assets)
    _frames_equal(got.needs, want.needs)
    assert [label for label, _ in got.exclude] == [label for label, _ in want.exclude]
    for (_, g), (_, w) in zip(got.exclude, want.exclude, strict=True):
        _frames_equal(g, w)
    def what(settings):
        return {k: v for k, v in settings.items() if k not in RUNNER_SETTINGS}

    assert what(got.settings) == what(want.settings)
    assert got.warnings == want.warnings
    assert [r.summary_lines() for r in got.reports] == [r.summary_lines() for r in want.reports]
    assert got.summary() == want.summary()


def _check(run, reference: Analysis) -> None:
    got = run()
    _assert_same(got, reference)
    assert got.summary()["excluded"] > 0 and got.exclude  # the layers took part
    for weights in (None, WEIGHTS, "imd=1,crime=3"):
        _assert_same(rescore(got, weights=weights), rescore(reference, weights=weights))


# ------------------------------------------------------------------ the demo (fictional, built in the package)

@pytest.fixture(scope="module")
def demo_reference():
    return {w: load_demo(weights=w, as_of=AS_OF) for w in (None, WEIGHTS)}


@pytest.mark.parametrize("weights", [None, WEIGHTS])
def test_runners_equal_on_the_demo(runner, demo_reference, weights):
    _check(lambda: runner(lambda **o: load_demo(weights=weights, as_of=AS_OF, **o)), demo_reference[weights])


# ------------------------------------------------------------------ Trafford (real data in ../shared/data)

def _trafford(files, **options) -> Analysis:
    return analyse(files["register"], files["lsoa21"], files["imd2025"], postcodes=files["postcodes"],
                   exclude=[files["greenspace"], files["allotments"]], weights=WEIGHTS, as_of=AS_OF, **options)


@pytest.fixture(scope="module")
def trafford_reference(trafford):
    return _trafford(trafford)


def test_runners_equal_on_trafford(runner, trafford, trafford_reference):
    _check(lambda: runner(lambda **o: _trafford(trafford, **o)), trafford_reference)
    assert len(trafford_reference.exclude) == 2 and trafford_reference.settings["weights"] == {"income": 2.0,
                                                                                             "health": 1.0}


def test_a_cached_result_keeps_its_exclusion_layers_for_rescoring(trafford, trafford_reference, tmp_path):
    """The bug this pins: a result read back from the cache had no exclusion layers, so re-weighting it
    excluded fewer sites than re-weighting the fresh result."""
    cache = ResultCache(tmp_path / "cache")
    _trafford(trafford, cache=cache)
    back = _trafford(trafford, cache=cache)
    assert back.settings["cache"] == "reused"
    assert [label for label, _ in back.exclude] == [label for label, _ in trafford_reference.exclude]
    assert rescore(back).summary()["excluded"] == rescore(trafford_reference).summary()["excluded"]
