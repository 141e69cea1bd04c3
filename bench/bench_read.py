"""Reading a register: `import_file` against a plain Arrow read of the same CSV, and start-up imports.

Ways, each run in its own process, interleaved (A B A B ...) within each repetition, medians quoted:

arrow        the plain read: ``pyarrow.csv.read_csv(path).to_pandas()`` (text as pandas' Arrow-backed ``str``),
             then the same geometry assets-map makes: ``points_from_xy(GeoX, GeoY)`` in EPSG:4326 ``.to_crs(27700)``;
             for a GeoPackage (``--format gpkg``): ``geopandas.read_file(path, engine="pyogrio", use_arrow=True)``
             (the layer is in EPSG:27700 already)
assets-map   ``assets_map.io.importer.import_file(path, kind="register")``: the private reading, sniffing,
             header finding, limits, kind detection, column matching, aggregate rows, every value normalised,
             coordinates checked and placed, postcodes, owners, the import report
before       (with ``--before DIR``) the same call on another checkout, e.g. ``git archive <rev> | tar -x -C DIR``

Both are timed from after their imports to the frame in memory (wall and CPU: Arrow's reader uses both cores);
imports are timed apart. The load average is read before each run.

Start-up (``--startup``): ``python -c "import assets_map.cli; assets_map.cli.build_parser()"`` (what every
``assets-map`` command imports before it starts work), ``assets-map --help`` as a process, and the floor: importing
the libraries ``analyse`` works with (pandas, geopandas, pyogrio, pyproj, shapely, pyarrow.compute).

Usage::

    python bench/generate.py --sizes 100000 1000000 --kinds points --formats csv
    python bench/bench_read.py --n 100000 1000000 --runs 5 [--before /tmp/before] [--startup] [--format gpkg]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"


def _way(way: str, path: str) -> dict:
    t0 = time.perf_counter()
    if way == "arrow":
        import geopandas as gpd
        import pyarrow.csv as pacsv
    else:
        from assets_map.io.importer import import_file
    t1, c1 = time.perf_counter(), time.process_time()
    if way == "arrow" and path.endswith(".gpkg"):
        out = gpd.read_file(path, engine="pyogrio", use_arrow=True)
    elif way == "arrow":
        df = pacsv.read_csv(path).to_pandas()
        out = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["GeoX"], df["GeoY"]), crs=4326).to_crs(27700)
    else:
        out, _ = import_file(path, kind="register")
    t2, c2 = time.perf_counter(), time.process_time()
    return {"imports_s": t1 - t0, "wall_s": t2 - t1, "cpu_s": c2 - c1, "rows": len(out)}


def _run(way: str, path: Path, root: Path) -> dict:
    load = os.getloadavg()[0]
    env = dict(os.environ, PYTHONPATH=str(root))
    name = "arrow" if way == "arrow" else "assets-map"
    done = subprocess.run([sys.executable, __file__, "_way", name, str(path)], env=env, capture_output=True, text=True,
                          check=True)
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "load": load}


def _med(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def read_bench(sizes: list[int], runs: int, before: Path | None, data: Path = DATA, fmt: str = "csv") -> None:
    ways = {"arrow": ROOT, "assets-map": ROOT} | ({"before": before} if before else {})
    for n in sizes:
        path = data / f"assets_points_{n}.{fmt}"
        if not path.exists():
            sys.exit(f"{path} is missing: run python bench/generate.py --sizes {n} --kinds points --formats {fmt}")
        got: dict[str, list[dict]] = {w: [] for w in ways}
        for _ in range(runs):
            for way, root in ways.items():
                got[way].append(_run(way, path, root))
        base = _med(got["arrow"], "wall_s")
        print(f"\n{n:,} rows ({path.stat().st_size / 1e6:.0f} MB {fmt}), {runs} runs each, interleaved")
        print("| way | wall s, median (min-max) | CPU s, median | imports s | vs arrow, wall | vs arrow, CPU | load |")
        print("|---|---|---|---|---|---|---|")
        for way, rs in got.items():
            walls = [r["wall_s"] for r in rs]
            print(f"| {way} | {_med(rs, 'wall_s'):.2f} ({min(walls):.2f}-{max(walls):.2f}) | {_med(rs, 'cpu_s'):.2f} | "
                  f"{_med(rs, 'imports_s'):.2f} | {_med(rs, 'wall_s') / base:.2f}x | "
                  f"{_med(rs, 'cpu_s') / _med(got['arrow'], 'cpu_s'):.2f}x | "
                  f"{min(r['load'] for r in rs):.1f}-{max(r['load'] for r in rs):.1f} |")
        pairs = [a["wall_s"] / b["wall_s"] for a, b in zip(got["assets-map"], got["arrow"], strict=True)]
        print(f"assets-map / arrow, run by run: {', '.join(f'{p:.2f}' for p in pairs)}")


STARTUP = {
    "cli": "import assets_map.cli; assets_map.cli.build_parser()",
    "floor": "import pandas, geopandas, pyogrio, pyproj, shapely, pyarrow.compute",
}


def startup_bench(runs: int, before: Path | None) -> None:
    ways = [("cli", ROOT), ("help", ROOT), ("floor", ROOT)] + ([("cli", before), ("help", before)] if before else [])
    got: dict[tuple, list[float]] = {}
    for _ in range(runs):
        for way, root in ways:
            env = dict(os.environ, PYTHONPATH=str(root))
            cmd = ([sys.executable, "-m", "assets_map.cli", "--help"] if way == "help"
                   else [sys.executable, "-c", STARTUP[way]])
            t = time.perf_counter()
            subprocess.run(cmd, env=env, capture_output=True, check=True)
            got.setdefault((way, root), []).append(time.perf_counter() - t)
    print(f"\nstart-up, whole process, {runs} runs each, interleaved; load {os.getloadavg()[0]:.1f} at the end")
    for (way, root), ts in got.items():
        print(f"| {way} ({'this checkout' if root == ROOT else root}) | {statistics.median(ts):.2f} s "
              f"(min {min(ts):.2f}) |")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--before", type=Path, help="another checkout to time the same way (before/after)")
    ap.add_argument("--startup", action="store_true", help="time the start-up imports instead")
    ap.add_argument("--data", type=Path, default=DATA, help="where bench/generate.py wrote the registers")
    ap.add_argument("--format", choices=("csv", "gpkg"), default="csv", help="the register's format")
    args = ap.parse_args(argv)
    if args.startup:
        startup_bench(args.runs, args.before)
    else:
        read_bench(args.n, args.runs, args.before, args.data, args.format)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_way":
        print(json.dumps(_way(sys.argv[2], sys.argv[3])))
    else:
        main()
