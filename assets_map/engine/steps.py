"""The per-row steps every runner shares: join assets to need areas, then score them; and :class:`Analysis`.

:func:`assets_map.engine.pipeline.analyse` runs these on one machine, on dask partitions
(:mod:`assets_map.engine.distributed`) or through the result cache (:mod:`assets_map.engine.cache`).
"""
from __future__ import annotations

import datetime as dt
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from assets_map.engine.arrays import str_series
from assets_map.engine.geo import query_in_threads, representative_points
from assets_map.engine.location import location_summary
from assets_map.engine.needs import study_area_line
from assets_map.engine.priority import prioritise
from assets_map.engine.underuse import apply_exclusions, reason_lists, underuse_parts
from assets_map.io.report import ImportReport
from assets_map.schema import PRIORITIES

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
    #: every site's answer for every planning constraint kind (:func:`assets_map.engine.constraints.check_constraints`)
    constraints: pd.DataFrame | None = None
    #: the constraint layers those answers came from, kept so re-scoring answers again from the same layers
    constraint_layers: list[gpd.GeoDataFrame] = field(default_factory=list)
    #: the freehold parcels (INSPIRE Index Polygons) holding at least one asset, when parcels were given
    parcels: gpd.GeoDataFrame | None = None
    #: layers read with the inputs for finding and drawing places (:mod:`assets_map.engine.places`):
    #: ``"postcodes"`` (the postcode directory) and ``"wards"`` (ward polygons), where loaded
    places: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reports, self.warnings = list(self.reports), list(self.warnings)
        self.settings, self.exclude = dict(self.settings or {}), list(self.exclude or [])
        self.constraint_layers = list(self.constraint_layers or [])
        self.places = dict(self.places or {})

    def replace(self, **changes) -> "Analysis":
        """A copy with some fields replaced (lists and settings copied, frames shared)."""
        from dataclasses import fields

        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        kw.update(changes)
        return Analysis(**kw)

    @property
    def candidates(self) -> gpd.GeoDataFrame:
        """The sites flagged High, Medium or Low."""
        return self.assets[self.assets["priority"].isin(["High", "Medium", "Low"])]

    def summary(self) -> dict:
        """Counts of the analysis: rows, how they were placed, in need areas, excluded and flagged by priority."""
        from assets_map.io.report import counts_in_order

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
        """The summary as lines to print: each file's report, then the counts of :meth:`summary`."""
        s = self.summary()
        placed = ", ".join(f"{n} by {q}" for q, n in sorted(s["placed_by"].items()))
        return [f"{r.source}: {r.lines_text()}" for r in self.reports] + [
            f"rows read: {s['rows']}",
            f"placed: {sum(s['placed_by'].values())} ({placed or 'none'})",
            f"unplaced: {s['unplaced']} (kept, location_quality 'none')",
            f"in a need area: {s['in_need_areas']}",
            f"excluded (parks, open space, cemeteries, memorials, allotments, community use, sold): {s['excluded']}",
            "flagged: " + ", ".join(f"{p} {s['priority'][p]}" for p in ("High", "Medium", "Low"))
            + f"; not flagged {s['priority']['not flagged']}",
        ] + [line for line in (location_summary(self.assets), study_area_line(self.settings.get("need_areas")))
             if line]


def _first_area(area: np.ndarray, rows: np.ndarray, areas: np.ndarray) -> None:
    """Set ``area[row]`` to the first area (in the layer's order) of each row's matches."""
    if not len(rows):
        return
    if np.bincount(rows, minlength=len(area)).max() <= 1:  # each row matched once (areas that do not overlap)
        area[rows] = areas
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
        ni, pi = query_in_threads(shapely.STRtree(pts[pos]), polys, "contains_properly")
        _first_area(area, pos[pi], ni)
        todo = pos[area[pos] < 0]  # on a boundary, or outside every area
        if len(todo):
            li, ri = needs.sindex.query(pts[todo], predicate="intersects")
            _first_area(area, todo[li], ri)
    got = area >= 0
    for src, dst in NEED_COLUMNS.items():
        if dst in ("need_area_code", "need_area_name") and got.any() and isinstance(needs[src].dtype, pd.StringDtype):
            # taken by Arrow from the areas' own text column: no million Python strings
            text = pa.array(needs[src], from_pandas=True)
            out[dst] = str_series(text.take(pa.array(np.where(got, area, 0), mask=~got)), out.index)
            continue
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
          withheld_exclusions: np.ndarray | None = None, location_check: Future | None = None) -> gpd.GeoDataFrame:
    """Exclusions, underuse evidence and priority on assets already joined to need.

    ``withheld_exclusions`` marks rows excluded on facts not in ``assets`` (see
    :func:`assets_map.engine.underuse.apply_exclusions`). ``location_check``: the column
    (:func:`assets_map.engine.location.location_checks`) being measured in another thread, taken before the priority,
    the only step that reads it.
    """
    # the underuse reasons go to the priority as Arrow lists: a million Python lists would cost more than the scoring
    scored, parts = underuse_parts(apply_exclusions(assets, list(exclude), withheld=withheld_exclusions), as_of=as_of)
    if location_check is not None:
        scored["location_check"] = location_check.result()
    scored = prioritise(scored.drop(columns=["underuse_reasons"], errors="ignore"), weights=weights,
                        underuse_reasons=reason_lists(parts, len(scored)))
    return scored
