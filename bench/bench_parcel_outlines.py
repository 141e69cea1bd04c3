"""What testing sites as their freehold parcels' outlines costs the planning constraint check.

The data of ``bench/bench_constraints.py`` (seeded: sites over England, 35,000 need areas, one national-size
layer per kind), with a share ``--in-parcels`` of the sites in a 40 m square freehold parcel. Three ways, each
the whole of ``add_constraints`` (every kind at once: the ``constraints`` table and the assets' summary
columns), interleaved A B C A B C ...:

* A ``points``: every site its point, no parcels (what a run without ``--parcels`` does);
* B ``own outlines``: the sites in parcels given as 40 m polygons themselves (the outline tested directly);
* C ``parcel outlines``: the same sites as points with a ``parcel_id``, and the result's ``parcels`` layer
  holding the 40 m squares: each is tested as its parcel's outline, inside answers get the share of the
  parcel's area, and every site says what was tested.

B and C test the same shapes, so the answers must be equal (checked); C's extra is the look-up of each site's
outline, the shares and the "tested on" words. Wall and CPU seconds of this process, medians of ``--runs``.

Usage::

    python bench/bench_parcel_outlines.py --sites 200000 --in-parcels 0.5 --runs 3
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from bench_constraints import X0, X1, Y0, Y1, _layer, _needs  # noqa: E402

from assets_map.engine.constraints import add_constraints  # noqa: E402
from assets_map.engine.steps import Analysis  # noqa: E402
from assets_map.io.constraints import CONSTRAINT_KINDS  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=200_000)
    ap.add_argument("--in-parcels", type=float, default=0.5)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(17)
    n = args.sites
    x, y = rng.uniform(X0, X1, n), rng.uniform(Y0, Y1, n)
    pts = shapely.points(x, y)
    inp = rng.random(n) < args.in_parcels
    squares = shapely.box(x[inp] - 20, y[inp] - 20, x[inp] + 20, y[inp] + 20)
    needs = _needs(rng)
    si, ni = needs.sindex.query(pts, predicate="within")
    area = np.full(n, -1)
    area[si] = ni
    codes = np.where(area >= 0, needs["code"].to_numpy()[area], None)
    ids = np.array([f"S{i}" for i in range(n)], dtype=object)
    pid = np.full(n, None, dtype=object)
    pid[inp] = [f"P{i}" for i in range(int(inp.sum()))]
    own = pts.copy()
    own[inp] = squares
    base = {"asset_id": ids, "need_area_code": codes}
    ways = {
        "points": Analysis(assets=gpd.GeoDataFrame(base, geometry=pts, crs=27700), needs=needs),
        "own outlines": Analysis(assets=gpd.GeoDataFrame(base, geometry=own, crs=27700), needs=needs),
        "parcel outlines": Analysis(
            assets=gpd.GeoDataFrame(base | {"parcel_id": pd.array(pid, dtype="string")}, geometry=pts, crs=27700),
            needs=needs, parcels=gpd.GeoDataFrame({"parcel_id": pid[inp], "parcel_area_ha": 0.16}, geometry=squares,
                                                  crs=27700)),
    }
    layers = [_layer(k, rng, needs) for k in CONSTRAINT_KINDS]
    print(f"{n:,} sites ({int(inp.sum()):,} in parcels), {sum(map(len, layers)):,} features; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    wall = {k: [] for k in ways}
    cpu = {k: [] for k in ways}
    loads = []
    answers = {}
    for _ in range(args.runs):
        for name, result in ways.items():  # interleaved
            loads.append(os.getloadavg()[0])
            t, c = time.perf_counter(), time.process_time()
            out = add_constraints(result, layers)
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
            answers[name] = out.constraints["answer"].astype(str).to_numpy()
            del out
    assert (answers["own outlines"] == answers["parcel outlines"]).all(), "the parcel outlines must answer as the shapes"
    print(f"load averages before each run: {', '.join(f'{v:.1f}' for v in loads)}")
    print("\n| way | wall s (median) | CPU s (median) | CPU ratio to points |")
    print("|---|---|---|---|")
    for name in ways:
        print(f"| {name} | {statistics.median(wall[name]):.2f} | {statistics.median(cpu[name]):.2f} | "
              f"{statistics.median(cpu[name]) / statistics.median(cpu['points']):.2f} |")


if __name__ == "__main__":
    main()
