"""The one way through: read -> validate -> normalise -> join to need -> score -> flag.

The CLI, the app, the demo, the store and the benchmarks call :func:`analyse` (files or
frames already read; ``engine=`` and ``cache=`` choose a runner of the same steps) and
:func:`rescore` (an existing result scored again), so nothing is computed twice in two places.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .geo import representative_points
from .needs import DOMAINS, MEASURES, Deprivation, build_needs, parse_weights
from .priority import prioritise
from .report import ImportReport
from .schema import PRIORITIES, order_columns
from .underuse import apply_exclusions, score_underuse

Progress = Callable[[str, int, int], None]

#: Columns copied from the need area onto each asset.
NEED_COLUMNS = {"code": "need_area_code", "name": "need_area_name", "imd_decile": "imd_decile",
                "iod_year": "iod_year", "need_score": "need_score", "need_decile": "need_decile"}


@dataclass(kw_only=True)
class Analysis:
    """The result of one analysis: every asset, the flagged candidates, the need areas.

    Built by keyword only (``Analysis(assets=..., needs=..., exclude=..., settings=...)``), so
    no caller can put a list in the wrong place; the exclusion layers and the settings travel
    with the result, and every re-scoring (:func:`rescore`) uses them.
    """

    assets: gpd.GeoDataFrame
    needs: gpd.GeoDataFrame
    reports: list[ImportReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    #: the greenspace/allotment layers the exclusions used, kept so later re-scoring (edits) uses them too
    exclude: list[tuple[str, gpd.GeoDataFrame]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reports, self.warnings = list(self.reports), list(self.warnings)
        self.settings, self.exclude = dict(self.settings or {}), list(self.exclude or [])

    def replace(self, **changes) -> "Analysis":
        """A copy with some fields replaced (lists and settings copied, frames shared)."""
        from dataclasses import fields

        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        kw.update(changes)
        return Analysis(**kw)

    @property
    def candidates(self) -> gpd.GeoDataFrame:
        return self.assets[self.assets["priority"].isin(["High", "Medium", "Low"])]

    def summary(self) -> dict:
        from .report import counts_in_order

        a = self.assets
        return {
            "rows": int(len(a)),
            "placed_by": {q: n for q, n in counts_in_order(a["location_quality"]).items() if q != "none"},
            "unplaced": int((a["location_quality"] == "none").sum()),
            "in_need_areas": int(a["need_area_code"].notna().sum()),
            "excluded": int(a["excluded"].sum()),
            "priority": {p: int((a["priority"] == p).sum()) for p in PRIORITIES},
        }

    def summary_lines(self) -> list[str]:
        s = self.summary()
        placed = ", ".join(f"{n} by {q}" for q, n in sorted(s["placed_by"].items()))
        return [f"{r.source}: {r.lines_text()}" for r in self.reports] + [
            f"rows read: {s['rows']}",
            f"placed: {sum(s['placed_by'].values())} ({placed or 'none'})",
            f"unplaced: {s['unplaced']} (kept, location_quality 'none')",
            f"in a need area: {s['in_need_areas']}",
            f"excluded (greenspace, allotments, community use): {s['excluded']}",
            "flagged: " + ", ".join(f"{p} {s['priority'][p]}" for p in ("High", "Medium", "Low"))
            + f"; not flagged {s['priority']['not flagged']}",
        ]


def _first_area(area: np.ndarray, rows: np.ndarray, areas: np.ndarray) -> None:
    """Set ``area[row]`` to the first area (in the layer's order) of each row's matches."""
    if not len(rows):
        return
    order = np.lexsort((areas, rows))
    rows, areas = rows[order], areas[order]
    first = np.r_[True, rows[1:] != rows[:-1]]
    area[rows[first]] = areas[first]


def join_needs(assets: gpd.GeoDataFrame, needs: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Give each asset the need area that contains it (polygons by a point inside them).

    Points are joined as "within" (each area, prepared once, finds the points it
    contains properly in an STRtree of the points); a point exactly on a boundary
    then falls back to "intersects" and takes the first area in the layer's order.
    """
    out = assets.drop(columns=[c for c in NEED_COLUMNS.values() if c in assets.columns])
    pts = representative_points(out.geometry).to_numpy()
    pos = np.flatnonzero(~(pd.isna(pts) | shapely.is_empty(pts)))
    area = np.full(len(out), -1, dtype=np.int64)
    if len(pos):
        # A point is within an area exactly when the area contains it properly (in its interior). Asking each of the
        # ~35k areas (prepared once) for the points in a tree of the points is 2x faster at 1M than asking each point.
        polys = needs.geometry.to_numpy()
        ni, pi = shapely.STRtree(pts[pos]).query(polys, predicate="contains_properly")
        _first_area(area, pos[pi], ni)
        todo = pos[area[pos] < 0]  # on a boundary, or outside every area
        if len(todo):
            li, ri = needs.sindex.query(pts[todo], predicate="intersects")
            _first_area(area, todo[li], ri)
    got = area >= 0
    for src, dst in NEED_COLUMNS.items():
        if dst in ("need_area_code", "need_area_name"):
            vals = np.full(len(out), np.nan, dtype=object)
            vals[got] = needs[src].to_numpy(dtype=object)[area[got]]
            out[dst] = vals
            continue
        num = np.full(len(out), np.nan)
        num[got] = pd.to_numeric(needs[src], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)[area[got]]
        out[dst] = num if dst == "need_score" else pd.array(num, dtype="Int64")
    ok = np.zeros(len(out), dtype=bool)
    ok[pos] = True
    outside = ok & ~got
    if outside.any():
        note = out["location_note"].copy()
        note[outside] = [(f"{n}; " if isinstance(n, str) and n else "") + "outside the need areas loaded"
                         for n in note[outside]]
        out["location_note"] = note
    return out


def score(assets: gpd.GeoDataFrame, *, exclude: list[tuple[str, gpd.GeoDataFrame]] = (),
          weights: dict[str, float] | None = None, as_of: dt.date | None = None,
          withheld_exclusions: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """Exclusions, underuse evidence and priority on assets already joined to need.

    ``withheld_exclusions`` marks rows excluded on facts not in ``assets`` (see
    :func:`assets_map.underuse.apply_exclusions`).
    """
    scored = score_underuse(apply_exclusions(assets, list(exclude), withheld=withheld_exclusions), as_of=as_of)
    scored = prioritise(scored, weights=weights)
    return scored.drop(columns=["underuse_reasons"])


#: how :func:`analyse` can run the per-row steps
ENGINES = ("geopandas", "dask")
#: Settings that say how a result was computed, not what it is: the only ones runners may differ in.
RUNNER_SETTINGS = ("engine", "cache")


def _is_path(value) -> bool:
    return isinstance(value, (str, os.PathLike))


def _join_and_score(assets: gpd.GeoDataFrame, needs: gpd.GeoDataFrame, *, exclude=(), weights=None,
                    as_of: dt.date | None = None) -> tuple[gpd.GeoDataFrame, str]:
    """The single-machine runner of the per-row steps: join to need, then score."""
    return score(join_needs(assets, needs), exclude=exclude, weights=weights, as_of=as_of), "geopandas"


def analyse(
    assets: str | os.PathLike | gpd.GeoDataFrame,
    boundaries: str | os.PathLike | gpd.GeoDataFrame,
    deprivation: str | os.PathLike | Deprivation | None = None,
    *,
    postcodes: str | os.PathLike | None = None,
    exclude: list[str | os.PathLike | tuple[str, gpd.GeoDataFrame]] = (),
    weights: dict[str, float] | str | None = None,
    progress: Progress | None = None,
    engine: str = "geopandas",
    scheduler: str = "threads",
    n_workers: int | None = None,
    partitions: int | None = None,
    shared_dir: str | os.PathLike | None = None,
    cache=None,
    boundaries_name: str | None = None,
    as_of: dt.date | None = None,
) -> Analysis:
    """Run the whole analysis: read -> place -> need -> join -> exclude -> underuse -> priority.

    The one entry point of the CLI, the app, the demo, the store and the benchmarks. The
    inputs are files or frames already read; ``engine`` and ``cache`` choose how the same
    steps run, never what they compute (tests/test_runners.py holds every runner equal).

    Parameters
    ----------
    assets : the asset register (a file, or a canonical asset frame already read and placed)
    boundaries : LSOA polygons (a file or a frame; may carry the deprivation columns themselves)
    deprivation : English Indices of Deprivation (a file, wide or long, or a read
        :class:`~assets_map.needs.Deprivation`); optional when the boundaries carry it
    postcodes : postcode directory for rows without coordinates (files only)
    exclude : greenspace/allotment polygon layers whose land is never flagged: files, or
        ``(label, polygons)`` pairs already read
    weights : domain weights for the composite need (default: the overall IMD)
    progress : called as ``progress(message, step, total)``
    engine : ``"geopandas"`` (this process) or ``"dask"`` (spatial partitions on dask-geopandas,
        see :mod:`assets_map.distributed`)
    scheduler, n_workers, partitions, shared_dir : the dask engine's options (see
        :func:`assets_map.distributed.join_and_score_dask`); ignored by ``"geopandas"``
    cache : a :class:`~assets_map.cache.ResultCache` or a folder for one: the result of the same
        inputs (files by their bytes, frames by their content) and settings is reused
    boundaries_name : the boundaries' name in messages (default: the file's name)
    as_of : date for "vacant since" durations (default today)

    Returns
    -------
    Analysis : assets, need areas, import reports, warnings, settings and the exclusion layers used
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)} (got {engine!r})")
    step = progress or (lambda msg, i, n: None)
    w = parse_weights(weights)  # fail fast on bad weights, before any reading
    exclude = list(exclude)
    if cache is not None:
        from .cache import run_cached

        return run_cached(analyse, cache, assets, boundaries, deprivation, postcodes=postcodes, exclude=exclude,
                          weights=w, progress=progress, engine=engine, scheduler=scheduler, n_workers=n_workers,
                          partitions=partitions, shared_dir=shared_dir, boundaries_name=boundaries_name, as_of=as_of)
    reading = _is_path(assets)
    files = _is_path(boundaries) or _is_path(deprivation) or any(map(_is_path, exclude))
    at = 3 if reading else int(files)  # steps spent reading
    total = at + 3
    reports: list[ImportReport] = []
    if reading:
        step("reading the postcode directory, the asset register, the need areas and the layers", 1, total)
    from .importer import read_inputs

    read = read_inputs(assets if reading else None, boundaries if _is_path(boundaries) else None,
                       deprivation if _is_path(deprivation) else None, postcodes=postcodes if reading else None,
                       exclude=[p for p in exclude if _is_path(p)])
    frame = read.assets if reading else assets
    if reading:
        reports.append(read.report)
    bnd = read.boundaries if _is_path(boundaries) else boundaries
    dep = read.deprivation if _is_path(deprivation) else deprivation
    read_layers = iter(read.exclude)
    layers = [next(read_layers) if _is_path(p) else p for p in exclude]
    if boundaries_name is None:
        boundaries_name = read.names.get("boundaries", "boundaries")
    step("building the need model", at + 1, total)
    needs, warnings = build_needs(bnd, dep, weights=w, boundaries_name=boundaries_name)
    step("joining assets to need areas and scoring", at + 2, total)
    if engine == "dask":
        from .distributed import join_and_score_dask

        def sub(msg, i, n):
            step(msg, at + 2, total)

        scored, how = join_and_score_dask(frame, needs, exclude=layers, weights=w, as_of=as_of, progress=sub,
                                          scheduler=scheduler, n_workers=n_workers, n_partitions=partitions,
                                          shared_dir=shared_dir)
    else:
        scored, how = _join_and_score(frame, needs, exclude=layers, weights=w, as_of=as_of)
    step("done", total, total)
    settings = {"weights": w, "iod_year": needs.attrs.get("iod_year"),
                "deprivation_source": needs.attrs.get("deprivation_source"), "engine": how}
    if reading:
        settings["inputs"] = {k: str(Path(v).name) for k, v in (
            ("assets", assets), ("boundaries", boundaries), ("deprivation", deprivation), ("postcodes", postcodes))
            if v is not None and _is_path(v)}
    if any(map(_is_path, exclude)):
        settings["exclude"] = [Path(p).name if _is_path(p) else p[0] for p in exclude]
    return Analysis(assets=scored[order_columns(scored)], needs=needs, reports=reports, warnings=warnings,
                    settings=settings, exclude=layers)


def _need_inputs(result: Analysis) -> tuple[gpd.GeoDataFrame, Deprivation]:
    """The boundaries and deprivation a result's need areas were built from (they carry every column)."""
    needs = result.needs
    cols = [f"{d}_{m}" for d in DOMAINS for m in MEASURES if f"{d}_{m}" in needs.columns]
    year = result.settings.get("iod_year")
    dep = Deprivation(pd.DataFrame(needs.set_index("code")[cols]), int(year) if year else None,
                      result.settings.get("deprivation_source") or "the deprivation data in use")
    bnd = needs[["code", "name", "geometry"]].copy()
    vintage = needs["lsoa_vintage"].dropna() if "lsoa_vintage" in needs.columns else pd.Series(dtype="Int64")
    bnd.attrs["lsoa_vintage"] = int(vintage.iloc[0]) if len(vintage) else None
    return bnd, dep


def rescore(result: Analysis, *, weights: dict[str, float] | str | None = None, reweight: bool = True,
            assets: gpd.GeoDataFrame | None = None, needs: gpd.GeoDataFrame | None = None,
            exclude: list[tuple[str, gpd.GeoDataFrame]] | None = None) -> Analysis:
    """Score an existing result again: other need weights, edited rows, other need areas or layers.

    The one re-scoring path of the app (weights, uploads), the store (edits, imports) and the
    demo. Nothing is read again: the need areas carry every deprivation column, and the result's
    own exclusion layers are used unless others are given.

    Parameters
    ----------
    result : the result to score again; its reports, warnings and settings carry over
    weights : domain weights for the composite need (``None``: the overall IMD)
    reweight : build the need model again with ``weights`` (False: keep ``needs`` as they are,
        as the store does for an edit scored with the weights of its import)
    assets : rows to score instead of ``result.assets`` (edited or uploaded rows)
    needs : need areas instead of ``result.needs``
    exclude : exclusion layers instead of ``result.exclude``

    Returns
    -------
    Analysis : the same result, scored again, with ``settings["weights"]`` the weights used
    """
    w = parse_weights(weights)
    base = result if needs is None else result.replace(needs=needs)
    warnings = list(result.warnings)
    if reweight:
        bnd, dep = _need_inputs(base)
        new_needs, warnings = build_needs(bnd, dep, weights=w, boundaries_name=base.settings.get(
            "deprivation_source") or "need areas")
    else:
        new_needs = base.needs
    layers = list(result.exclude if exclude is None else exclude)
    rows = result.assets if assets is None else assets
    scored, how = _join_and_score(rows, new_needs, exclude=layers, weights=w)
    settings = {k: v for k, v in result.settings.items() if k not in RUNNER_SETTINGS}
    settings["engine"] = how
    settings.update({"weights": w, "iod_year": new_needs.attrs.get("iod_year", settings.get("iod_year")),
                     "deprivation_source": new_needs.attrs.get("deprivation_source",
                                                               settings.get("deprivation_source"))})
    return result.replace(assets=scored[order_columns(scored)], needs=new_needs, warnings=warnings,
                          settings=settings, exclude=layers)
