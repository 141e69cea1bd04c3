"""The one way through: read -> validate -> normalise -> join to need -> score -> flag.

The CLI and the app both call :func:`analyse` (files) or :func:`analyse_frames`
(frames already read), so nothing is computed twice in two places.
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

from .geo import repair_invalid, representative_points
from .ingest import read_assets, read_postcodes
from .needs import Deprivation, build_needs, parse_weights, read_boundaries, read_deprivation
from .priority import prioritise
from .report import ImportReport, InputError
from .schema import MEASURE_CRS, PRIORITIES, order_columns
from .sources import open_table
from .underuse import apply_exclusions, score_underuse

Progress = Callable[[str, int, int], None]

#: Columns copied from the need area onto each asset.
NEED_COLUMNS = {"code": "need_area_code", "name": "need_area_name", "imd_decile": "imd_decile",
                "iod_year": "iod_year", "need_score": "need_score", "need_decile": "need_decile"}


@dataclass
class Analysis:
    """The result of one analysis: every asset, the flagged candidates, the need areas."""

    assets: gpd.GeoDataFrame
    needs: gpd.GeoDataFrame
    reports: list[ImportReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    #: the greenspace/allotment layers the exclusions used, kept so later re-scoring (edits) uses them too
    exclude: list[tuple[str, gpd.GeoDataFrame]] = field(default_factory=list)

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


def analyse_frames(
    assets: gpd.GeoDataFrame,
    boundaries: gpd.GeoDataFrame,
    deprivation: Deprivation | None = None,
    *,
    exclude: list[tuple[str, gpd.GeoDataFrame]] = (),
    weights: dict[str, float] | str | None = None,
    progress: Progress | None = None,
    boundaries_name: str = "boundaries",
) -> Analysis:
    """Run the analysis on frames already read (the app's entry point)."""
    step = progress or (lambda msg, i, n: None)
    w = parse_weights(weights)
    step("building the need model", 1, 4)
    needs, warnings = build_needs(boundaries, deprivation, weights=w, boundaries_name=boundaries_name)
    step("joining assets to need areas", 2, 4)
    joined = join_needs(assets, needs)
    step("scoring underuse, transferability and priority", 3, 4)
    scored = score(joined, exclude=exclude, weights=w)
    scored = scored[order_columns(scored)]
    step("done", 4, 4)
    settings = {"weights": w, "iod_year": needs.attrs.get("iod_year"),
                "deprivation_source": needs.attrs.get("deprivation_source")}
    return Analysis(scored, needs, [], warnings, settings, list(exclude))


def read_exclusion_layer(path: str | os.PathLike) -> tuple[str, gpd.GeoDataFrame]:
    t = open_table(path)
    if not t.is_vector:
        raise InputError("an exclusion layer must be a map layer of polygons", source=t.name)
    gdf = t.frame
    if gdf.crs is None:
        raise InputError("the exclusion layer has no CRS", source=t.name)
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    geom, _ = repair_invalid(gdf.geometry)
    gdf = gdf.set_geometry(geom).to_crs(MEASURE_CRS)
    label = Path(t.name).stem.replace("_", " ")
    return label, gdf


def analyse(
    assets: str | os.PathLike,
    boundaries: str | os.PathLike,
    deprivation: str | os.PathLike | None = None,
    *,
    postcodes: str | os.PathLike | None = None,
    exclude: list[str | os.PathLike] = (),
    weights: dict[str, float] | str | None = None,
    progress: Progress | None = None,
) -> Analysis:
    """Run the whole analysis from files (the CLI's entry point).

    Parameters
    ----------
    assets : the asset register
    boundaries : LSOA polygons (may carry the deprivation columns themselves)
    deprivation : English Indices of Deprivation file (wide or long); optional when
        the boundaries carry it
    postcodes : postcode directory for rows without coordinates
    exclude : greenspace/allotment polygon layers whose land is never flagged
    weights : domain weights for the composite need (default: the overall IMD)
    """
    step = progress or (lambda msg, i, n: None)
    total = 7
    w = parse_weights(weights)  # fail fast on bad weights, before any reading
    step("reading the postcode directory" if postcodes else "no postcode directory given", 1, total)
    pc = read_postcodes(postcodes) if postcodes else None
    step("reading the asset register", 2, total)
    frame, report = read_assets(assets, postcodes=pc)
    step("reading the need areas", 3, total)
    bnd = read_boundaries(boundaries)
    dep = read_deprivation(deprivation) if deprivation else None
    layers = [read_exclusion_layer(p) for p in exclude]

    def sub(msg, i, n):
        step(msg, 3 + i, total)

    result = analyse_frames(frame, bnd, dep, exclude=layers, weights=w, progress=sub,
                            boundaries_name=Path(boundaries).name)
    result.reports = [report]
    result.settings.update({
        "inputs": {k: str(Path(v).name) for k, v in (("assets", assets), ("boundaries", boundaries),
                                                      ("deprivation", deprivation), ("postcodes", postcodes)) if v},
        "exclude": [Path(p).name for p in exclude],
    })
    return result
