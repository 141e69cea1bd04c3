"""Planning constraints at national scale: every kind answered for 1M sites against national-size layers.

Synthetic, seeded data in British National Grid over England's extent:

* sites: ``--sites`` points (default 1,000,000), 5% of them 40 m square parcels, each in a need area;
* need areas: a grid of 35,000 LSOA-like cells named "Authority<k> 001A", grouped into 300 local authorities;
* one layer per kind, of about the size planning.data.gov.uk publishes for England (see :data:`SIZES`):
  points for listed buildings and brownfield land, small polygons for outlines and tree preservation zones,
  large ones for green belt, 48-vertex circles elsewhere; each layer covers the authorities it has features in
  (the rule :mod:`assets_map.engine.constraints` uses): all of them for the national kinds, about two thirds
  for the kinds each planning authority publishes (:data:`LOCAL`).

Timed (wall and CPU seconds of this process, medians of ``--runs``; the runs of the kinds are interleaved, one kind after another in each round):
``check_constraints(sites, [layer], needs)`` for each kind alone, from the layers already read (in EPSG:27700)
to the ``constraints`` table; then ``add_constraints`` with every layer at once (the table and the assets'
summary columns, what ``analyse(constraints=...)`` adds to a result). Reading files is not timed here
(``bench/io_engines.py`` measures reading). Prints a Markdown table for ``bench/README.md``.

Usage::

    python bench/bench_constraints.py --sites 1000000 --runs 3
"""
from __future__ import annotations

import argparse
import os
import resource
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
from assets_map.engine.constraints import add_constraints, check_constraints  # noqa: E402
from assets_map.engine.steps import Analysis  # noqa: E402
from assets_map.io.constraints import CONSTRAINT_KINDS  # noqa: E402

X0, Y0, X1, Y1 = 140_000, 20_000, 655_000, 650_000  # England, roughly
#: kind -> (features, shape, size in metres: radius of a circle, side of a square; 0 for points)
SIZES = {
    "conservation-area": (10_000, "circle", 250),
    "listed-building": (380_000, "point", 0),
    "listed-building-outline": (50_000, "square", 15),
    "scheduled-monument": (20_000, "circle", 60),
    "article-4-direction-area": (5_000, "circle", 400),
    "tree-preservation-zone": (100_000, "square", 30),
    "flood-risk-zone": (100_000, "circle", 300),
    "green-belt": (4_000, "circle", 3_000),
    "site-of-special-scientific-interest": (4_100, "circle", 700),
    "local-nature-reserve": (1_700, "circle", 300),
    "ancient-woodland": (50_000, "circle", 150),
    "local-green-space": (5_000, "circle", 80),
    "brownfield-land": (30_000, "point", 0),
}


#: kinds each planning authority publishes for itself (the others are national datasets)
LOCAL = ("conservation-area", "article-4-direction-area", "tree-preservation-zone", "local-green-space",
         "brownfield-land")


def _sites(n: int, rng) -> gpd.GeoDataFrame:
    x, y = rng.uniform(X0, X1, n), rng.uniform(Y0, Y1, n)
    geom = shapely.points(x, y)
    parcels = rng.random(n) < 0.05
    geom[parcels] = shapely.box(x[parcels] - 20, y[parcels] - 20, x[parcels] + 20, y[parcels] + 20)
    return gpd.GeoDataFrame({"asset_id": [f"S{i}" for i in range(n)]}, geometry=geom, crs=27700)


def _needs(rng, cells: int = 35_000, authorities: int = 300) -> gpd.GeoDataFrame:
    side = int(np.sqrt(cells))
    w, h = (X1 - X0) / side, (Y1 - Y0) / side
    i, j = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    i, j = i.ravel(), j.ravel()
    geom = shapely.box(X0 + i * w, Y0 + j * h, X0 + (i + 1) * w, Y0 + (j + 1) * h)
    block = int(np.ceil(side / np.sqrt(authorities)))
    la = (i // block) * int(np.ceil(side / block)) + j // block
    return gpd.GeoDataFrame({"code": [f"E0{k:07d}" for k in range(len(geom))],
                             "name": [f"Authority{a} {k % 1000:03d}A" for k, a in enumerate(la)]},
                            geometry=geom, crs=27700)


def _layer(kind: str, rng, needs: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    n, shape, size = SIZES[kind]
    x, y = rng.uniform(X0, X1, n), rng.uniform(Y0, Y1, n)
    if kind in LOCAL:  # published by the planning authorities: about two thirds of them here
        hit = needs.sindex.query(shapely.points(x, y), predicate="within")
        la = np.full(n, -1)
        la[hit[0]] = [int(name.split(" ")[0][len("Authority"):]) for name in needs["name"].to_numpy()[hit[1]]]
        keep = (la >= 0) & (la % 3 != 0)
        x, y = x[keep], y[keep]
    if shape == "point":
        geom = shapely.points(x, y)
    elif shape == "square":
        geom = shapely.box(x - size / 2, y - size / 2, x + size / 2, y + size / 2)
    else:
        geom = shapely.buffer(shapely.points(x, y), size * rng.uniform(0.5, 1.5, len(x)), quad_segs=12)
    return gpd.GeoDataFrame({"kind": kind, "feature_name": [f"{kind} {k}" for k in range(len(geom))],
                             "reference": None, "grade": None, "source": f"{kind}.csv", "source_date": "2026-01-01"},
                            geometry=geom, crs=27700)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(16)
    t = time.perf_counter()
    sites, needs = _sites(args.sites, rng), _needs(rng)
    pts, area = shapely.centroid(sites.geometry.to_numpy()), np.full(len(sites), -1)
    si, ni = needs.sindex.query(pts, predicate="within")
    area[si] = ni
    sites["need_area_code"] = np.where(area >= 0, needs["code"].to_numpy()[area], None)
    layers = {k: _layer(k, rng, needs) for k in CONSTRAINT_KINDS}
    print(f"made {len(sites):,} sites, {len(needs):,} need areas and {sum(map(len, layers.values())):,} features in "
          f"{time.perf_counter() - t:.1f} s; load {os.getloadavg()[0]:.2f}", flush=True)
    times: dict[str, list[float]] = {k: [] for k in layers}
    cpu: dict[str, list[float]] = {k: [] for k in layers}
    answers: dict[str, pd.Series] = {}
    loads = []
    for _ in range(args.runs):
        loads.append(os.getloadavg()[0])
        for kind, layer in layers.items():  # interleaved: every kind once per round
            t, c = time.perf_counter(), time.process_time()
            table = check_constraints(sites, [layer], needs)
            times[kind].append(time.perf_counter() - t)
            cpu[kind].append(time.process_time() - c)
            answers[kind] = table[table["dataset"] == kind]["answer"].value_counts()
            del table
    result = Analysis(assets=sites, needs=needs)
    whole, whole_cpu = [], []
    for _ in range(args.runs):
        t, c = time.perf_counter(), time.process_time()
        out = add_constraints(result, list(layers.values()))
        whole.append(time.perf_counter() - t)
        whole_cpu.append(time.process_time() - c)
        rows = len(out.constraints)
        del out
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nload averages at the start of each round: {', '.join(f'{v:.2f}' for v in loads)}")
    print("\n| kind | features | near (m) | wall s (median) | CPU s (median) | inside | near | clear | not checked |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, layer in layers.items():
        c = answers[kind]
        print(f"| {kind} | {len(layer):,} | {CONSTRAINT_KINDS[kind].near_m:g} | {statistics.median(times[kind]):.2f} | "
              f"{statistics.median(cpu[kind]):.2f} | "
              + " | ".join(f"{int(c.get(a, 0)):,}" for a in ("inside", "near", "clear", "not checked")) + " |")
    print(f"| every kind at once (add_constraints: {rows:,} answers and the summary columns) | "
          f"{sum(map(len, layers.values())):,} | | {statistics.median(whole):.2f} | {statistics.median(whole_cpu):.2f} "
          "| | | | |")
    print(f"\npeak RSS {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
