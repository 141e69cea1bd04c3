"""National-scale parcel join: 1M sites against England-sized INSPIRE parcels, one authority at a time.

England's INSPIRE Index Polygons are about 24 million parcels. No national file can be shared, so the
City of London's real 3,703 parcels (``../shared/data/london``) are tiled: each fictional authority holds
``--copies`` copies of the City (20 copies = 74,060 parcels, a large district), and ``--authorities`` of them
(330 = 24.4M parcels) are laid out on a grid over England's extent and written as the partitioned GeoParquet
cache ``assets-map parcels --cache`` writes (``authority=<name>/part.parquet``). One million sites are placed:
90% at a point inside a random parcel, 10% anywhere in a random authority (streets, or between tiles).

Ways, each in its own process (its own peak memory), interleaved in each repetition:

* ``partitioned``: :func:`assets_map.engine.parcels.join_parcels_partitioned`, one partition after another
  (what ``analyse --parcels DIR`` runs), from the cache on disk and the sites in memory to every site's parcel;
* ``partitioned-dask``: the same on dask's threaded scheduler (``analyse --engine dask --parcels DIR``);
* ``one-tree`` (``--subset N`` authorities only): read those partitions into one frame and
  :func:`~assets_map.engine.parcels.join_parcels` (what ``--parcels FILE`` does), against ``partitioned`` on
  the same subset: what partitioning costs or saves where one tree still fits in memory.

Run: ``python bench/bench_parcels.py --build /tmp/parcels --authorities 330 --copies 20`` then
``python bench/bench_parcels.py --cache /tmp/parcels --runs 3 [--subset 30]``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CITY = Path(os.environ.get("ASSETS_MAP_SHARED_DATA", ROOT.parent / "shared" / "data")) / "london" / \
    "inspire_city_of_london.geojson"
TILE_COLS, TILE_ROWS = 5, 4  # copies of the City in one authority
AUTH_COLS = 18  # authorities per row of the national grid
SPACING = 32_000.0  # metres between authorities' origins
ORIGIN = (100_000.0, 40_000.0)


def _base():
    from assets_map.io.landregistry import read_inspire

    f = read_inspire(CITY).frame
    minx, miny, maxx, maxy = f.geometry.total_bounds
    geoms = shapely.transform(f.geometry.to_numpy(), lambda c: c - [minx, miny])
    return f, geoms, maxx - minx + 50, maxy - miny + 50


def build(folder: Path, authorities: int, copies: int, sites: int, seed: int = 7) -> None:
    """Write the national partitioned cache and the sites (``sites.parquet``) under ``folder``."""
    f, geoms, w, h = _base()
    ids = f["parcel_id"].astype(str).to_numpy()
    area = f["parcel_area_ha"].to_numpy()
    inside = shapely.get_coordinates(shapely.point_on_surface(geoms))
    t0 = time.perf_counter()
    offsets = {}
    for a in range(authorities):
        ax = ORIGIN[0] + (a % AUTH_COLS) * SPACING
        ay = ORIGIN[1] + (a // AUTH_COLS) * SPACING
        parts, pid = [], []
        for c in range(copies):
            dx, dy = ax + (c % TILE_COLS) * w, ay + (c // TILE_COLS) * h
            offsets[(a, c)] = (dx, dy)
            parts.append(shapely.transform(geoms, lambda xy, dx=dx, dy=dy: xy + [dx, dy]))
            pid.append(np.char.add(f"A{a:03d}C{c:02d}-", ids))
        frame = gpd.GeoDataFrame({"parcel_id": np.concatenate(pid), "parcel_area_ha": np.tile(area, copies)},
                                 geometry=np.concatenate(parts), crs=27700)
        target = folder / f"authority=A{a:03d}" / "part.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(target, index=False, write_covering_bbox=True)
    print(f"wrote {authorities} partitions, {authorities * copies * len(f):,} parcels in {time.perf_counter() - t0:.0f} s")
    rng = np.random.default_rng(seed)
    a = rng.integers(0, authorities, sites)
    c = rng.integers(0, copies, sites)
    p = rng.integers(0, len(f), sites)
    off = np.array([offsets[(i, j)] for i, j in zip(a, c, strict=True)])
    xy = inside[p] + off
    stray = rng.random(sites) < 0.1
    xy[stray] = off[stray] + rng.uniform(0, 1, (int(stray.sum()), 2)) * [w * TILE_COLS, h * TILE_ROWS]
    sites_gdf = gpd.GeoDataFrame({"asset_id": np.char.add("S", np.arange(sites).astype(str)),
                                  "site_area_ha": np.nan, "authority": a}, geometry=shapely.points(xy), crs=27700)
    sites_gdf.to_parquet(folder / "sites.parquet")
    print(f"wrote {sites:,} sites")


def _subset(cache: Path, n: int) -> Path:
    """A cache of the first ``n`` authorities (links to the same files) and the sites inside them."""
    sub = cache.parent / f"{cache.name}-subset{n}"
    if not sub.exists():
        sub.mkdir()
        for a in range(n):
            (sub / f"authority=A{a:03d}").mkdir()
            os.link(cache / f"authority=A{a:03d}" / "part.parquet", sub / f"authority=A{a:03d}" / "part.parquet")
        s = gpd.read_parquet(cache / "sites.parquet")
        s[s["authority"] < n].to_parquet(sub / "sites.parquet")
    return sub


def run_way(way: str, cache: Path) -> dict:
    """One timed run in this process: from the sites in memory and the cache on disk to every site's parcel."""
    from assets_map.engine.parcels import join_parcels, join_parcels_partitioned
    from assets_map.io.landregistry import partitions, read_partition

    sites = gpd.read_parquet(cache / "sites.parquet")
    t0 = time.perf_counter()
    if way == "one-tree":
        frame = pd.concat([read_partition(p) for p in partitions(cache)], ignore_index=True)
        frame = gpd.GeoDataFrame(frame, geometry="geometry", crs=27700)
        t_read = time.perf_counter() - t0
        out, used = join_parcels(sites, frame)
    else:
        t_read = float("nan")
        out, used = join_parcels_partitioned(sites, cache, engine="dask" if way == "partitioned-dask" else "geopandas")
    wall = time.perf_counter() - t0
    return {"way": way, "wall": wall, "read": t_read, "sites": len(sites), "in_parcel": int(out["parcel_id"].notna().sum()),
            "parcels_used": len(used), "checksum": int(pd.util.hash_pandas_object(out["parcel_id"].fillna("-"),
                                                                                 index=False).sum() % (1 << 62)),
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", type=Path, help="write the national cache and sites into this folder")
    ap.add_argument("--authorities", type=int, default=330)
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--sites", type=int, default=1_000_000)
    ap.add_argument("--cache", type=Path, help="time the ways against this cache")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--subset", type=int, help="also compare one in-memory tree on the first N authorities")
    ap.add_argument("--way", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build:
        build(args.build, args.authorities, args.copies, args.sites)
        return
    if args.way:
        print(json.dumps(run_way(args.way, args.cache)))
        return
    plans = [("national", args.cache, ("partitioned", "partitioned-dask"))]
    if args.subset:
        plans.append((f"first {args.subset} authorities", _subset(args.cache, args.subset), ("partitioned", "one-tree")))
    for label, cache, ways in plans:
        got: dict[str, list[dict]] = {w: [] for w in ways}
        for r in range(args.runs):
            for w in (ways if r % 2 == 0 else ways[::-1]):
                load = os.getloadavg()[0]
                res = subprocess.run([sys.executable, __file__, "--way", w, "--cache", str(cache)], capture_output=True,
                                     text=True, check=True)
                one = json.loads(res.stdout.strip().splitlines()[-1])
                one["load"] = load
                got[w].append(one)
                print(label, json.dumps(one), flush=True)
        sums = {w: {x["checksum"] for x in v} for w, v in got.items()}
        assert len(set().union(*sums.values())) == 1, f"the ways disagree: {sums}"
        for w, v in got.items():
            runs = ", ".join(f"{x['wall']:.1f}" for x in v)
            loads = ", ".join(f"{x['load']:.1f}" for x in v)
            print(f"{label} | {w} | sites {v[0]['sites']:,} | in a parcel {v[0]['in_parcel']:,} | median wall "
                  f"{statistics.median(x['wall'] for x in v):.1f} s (runs {runs}) | "
                  f"peak {statistics.median(x['peak_mib'] for x in v):,.0f} MiB | load {loads}")


if __name__ == "__main__":
    main()
