"""Measure the I/O engine and the spatial index that assets-map uses against the alternatives.

Run from the project root:  python bench/io_engines.py [--runs 3] [--points 100000]

Compares, in one run on the same data (real England LSOA 2021 polygons from ../shared/data):
* reading a GeoPackage: pyogrio (with and without Arrow) vs fiona;
* writing a GeoPackage: pyogrio vs fiona;
* point-in-polygon: geopandas.sjoin (shapely STRtree, predicate="within") vs an rtree index with a
  per-point candidate loop.
Prints a Markdown table of medians; bench/README.md records a run.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from _timing import median_time  # bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
LSOA = ROOT.parent / "shared" / "data" / "england" / "lsoa21_boundaries_ew.gpkg"


def rtree_join(points: gpd.GeoDataFrame, polys: gpd.GeoDataFrame) -> np.ndarray:
    from rtree import index

    idx = index.Index(((i, g.bounds, None) for i, g in enumerate(polys.geometry.to_numpy())))
    geoms = polys.geometry.to_numpy()
    out = np.full(len(points), -1)
    for j, p in enumerate(points.geometry.to_numpy()):
        for i in idx.intersection((p.x, p.y, p.x, p.y)):
            if geoms[i].contains(p):
                out[j] = i
                break
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--points", type=int, default=100_000)
    args = ap.parse_args(argv)
    if not LSOA.exists():
        print(f"needs {LSOA}", file=sys.stderr)
        return 1
    rows = []
    t_pa, polys = median_time(lambda: gpd.read_file(LSOA, engine="pyogrio", use_arrow=True), args.runs)
    t_p, _ = median_time(lambda: gpd.read_file(LSOA, engine="pyogrio"), args.runs)
    t_f, _ = median_time(lambda: gpd.read_file(LSOA, engine="fiona"), args.runs)
    n = len(polys)
    rows += [(f"read GeoPackage, {n} LSOA polygons", "pyogrio + Arrow", t_pa, "fiona", t_f),
             (f"read GeoPackage, {n} LSOA polygons", "pyogrio (no Arrow)", t_p, "fiona", t_f)]
    polys = polys.to_crs(27700)
    with tempfile.TemporaryDirectory() as tmp:
        t_wp, _ = median_time(lambda: polys.to_file(Path(tmp) / "p.gpkg", engine="pyogrio"), args.runs)
        t_wf, _ = median_time(lambda: polys.to_file(Path(tmp) / "f.gpkg", engine="fiona"), args.runs)
    rows.append((f"write GeoPackage, {n} polygons", "pyogrio", t_wp, "fiona", t_wf))
    rng = np.random.default_rng(1)
    minx, miny, maxx, maxy = polys.total_bounds
    pts = gpd.GeoDataFrame(geometry=shapely.points(rng.uniform(minx, maxx, args.points),
                                                   rng.uniform(miny, maxy, args.points)), crs=polys.crs)
    t_s, joined = median_time(lambda: gpd.sjoin(pts, polys[["geometry"]], predicate="within", how="left"), args.runs)
    t_r, via_rtree = median_time(lambda: rtree_join(pts, polys), 1)
    # the two must agree before their times mean anything
    s = joined[~joined.index.duplicated()]["index_right"].fillna(-1).astype(int).to_numpy()
    agree = float((s == via_rtree).mean())
    rows.append((f"{args.points} points in {n} polygons", "sjoin (STRtree) within", t_s, "rtree loop", t_r))
    print(f"python {sys.version.split()[0]}, geopandas {gpd.__version__}, shapely {shapely.__version__}; "
          f"median of {args.runs} runs (rtree loop: 1 run); join agreement {agree:.4%}")
    print("| task | assets-map uses | s | alternative | s | ratio |")
    print("|---|---|---|---|---|---|")
    for task, a, ta, b, tb in rows:
        print(f"| {task} | {a} | {ta:.2f} | {b} | {tb:.2f} | {tb / ta:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
