"""End-to-end `assets-map analyse` against the I/O floor, PostGIS and a plain geopandas script.

Every way runs in its own process (so peak memory is its own, read by ``/usr/bin/time -v``),
the ways are interleaved within each repetition (so machine load hits them alike), and the
table quotes medians. Inputs: a generated register (``bench/generate.py``), the 35,672 LSOA
2021 polygons of England and Wales and the IoD 2025 file from ``../shared/data/england``.

Ways
----
dask-threads, dask-processes
             the same command with ``--engine dask --scheduler threads|processes`` (optional ways)
assets-map   ``assets-map analyse`` exactly as a user runs it (read, validate, normalise, join,
             score, reasons, write assets/candidates/needs and the data dictionary)
floor        the I/O floor: read the same inputs with the fastest readers (pyogrio + Arrow,
             pyarrow CSV) and write assets-map's own output layers with pyogrio + Arrow; no work
assets-map-parquet, floor-parquet
             the same two writing GeoParquet (``--out x.parquet``; geopandas ``to_parquet`` per layer)
base, base-parquet
             ``assets-map analyse`` of another checkout (``--base``), writing GeoPackage or GeoParquet: a
             before/after interleaved with the rest
geopandas    a plain script: read, merge IMD, ``sjoin(predicate="within")``, write one layer
postgis      PostgreSQL 15 + PostGIS 3.3 (Debian) on a local socket: load both layers with
             ogr2ogr (COPY), GiST index, the same point-in-LSOA join in SQL, export with ogr2ogr

Usage::

    python bench/bench_analyse.py --n 1000000 --kind points --runs 3 --pg-dsn "host=/tmp/pg port=5499 dbname=bench user=postgres"
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENGLAND = ROOT.parent / "shared" / "data" / "england"
LSOA = ENGLAND / "lsoa21_boundaries_ew.gpkg"
IMD = ENGLAND / "imd2025_lsoa21_scores_ranks_deciles.csv"


# ------------------------------------------------------------------ the ways, each run as `python bench_analyse.py _way ...`

def _floor(assets: str, lsoa: str, imd: str, reference: str, out: str, parquet: bool = False) -> dict:
    """Read the inputs and write assets-map's output layers, with nothing in between.

    The layers are written with pyogrio + Arrow into one GeoPackage, or with ``parquet`` one GeoParquet file each
    (geopandas ``to_parquet``) into the folder ``out``.
    """
    import pyarrow.csv as pacsv
    import pyogrio

    t0, c0 = time.perf_counter(), time.process_time()
    a = pyogrio.read_dataframe(assets, use_arrow=True)
    b = pyogrio.read_dataframe(lsoa, use_arrow=True)
    d = pacsv.read_csv(imd)
    t_read, c_read = time.perf_counter() - t0, time.process_time() - c0
    # The outputs assets-map wrote (read untimed), written again with the fastest writer.
    layers = {name: pyogrio.read_dataframe(reference, layer=name, use_arrow=True)
              for name, _ in pyogrio.list_layers(reference)}
    if parquet:
        Path(out).mkdir(parents=True, exist_ok=True)
    t1, c1 = time.perf_counter(), time.process_time()
    for name, frame in layers.items():
        if parquet:
            frame.to_parquet(Path(out) / f"{name}.parquet", index=False)
        else:
            pyogrio.write_dataframe(frame, out, layer=name, driver="GPKG", use_arrow=True, append=Path(out).exists())
    t_write, c_write = time.perf_counter() - t1, time.process_time() - c1
    # CPU seconds (every thread) beside the wall: on a loaded machine they move less than the wall does
    return {"read_s": t_read, "write_s": t_write, "floor_s": t_read + t_write, "floor_cpu_s": c_read + c_write,
            "rows": len(a), "lsoas": len(b), "imd_rows": d.num_rows}


def _floor_parquet(assets: str, lsoa: str, imd: str, reference: str, out: str) -> dict:
    """The GeoParquet floor: the same reads, then assets-map's output layers written as GeoParquet files."""
    return _floor(assets, lsoa, imd, reference, out, parquet=True)


def _geopandas(assets: str, lsoa: str, imd: str, out: str) -> dict:
    """The script a GIS analyst would write: read, merge, sjoin, write."""
    import geopandas as gpd
    import pandas as pd

    t0 = time.perf_counter()
    a = gpd.read_file(assets, engine="pyogrio", use_arrow=True)
    b = gpd.read_file(lsoa, engine="pyogrio", use_arrow=True).to_crs(a.crs)
    d = pd.read_csv(imd, usecols=["lsoa21_code", "IMD_decile", "IMD_rank", "IMD_score"])
    b = b.merge(d, on="lsoa21_code", how="left")
    t_read = time.perf_counter() - t0
    t1 = time.perf_counter()
    pts = a.copy()
    poly = ~a.geom_type.isin(["Point"])
    if poly.any():
        pts.loc[poly, "geometry"] = a.geometry[poly].representative_point()
    j = gpd.sjoin(pts, b, predicate="within", how="left")
    j = j[~j.index.duplicated()]
    res = a.join(j[["lsoa21_code", "lsoa21_name", "IMD_decile", "IMD_rank", "IMD_score"]])
    t_join = time.perf_counter() - t1
    t2 = time.perf_counter()
    res.to_file(out, layer="assets", driver="GPKG", engine="pyogrio", use_arrow=True)
    t_write = time.perf_counter() - t2
    return {"read_s": t_read, "join_s": t_join, "write_s": t_write, "matched": int(res["lsoa21_code"].notna().sum())}


def _postgis_tuned(assets: str, lsoa: str, imd: str, out: str, dsn: str) -> dict:
    """PostGIS as a tuned pipeline: the same load, then the join driven from the polygons over a GiST index
    on the assets' points (one index probe per LSOA instead of one per asset), rows identical to ``_postgis``."""
    return _postgis(assets, lsoa, imd, out, dsn, tuned=True)


def _postgis(assets: str, lsoa: str, imd: str, out: str, dsn: str, tuned: bool = False) -> dict:
    """Load into PostGIS, index, join in SQL, export: what a PostGIS pipeline does end to end."""
    import psycopg

    pg = "PG:" + dsn
    steps = {}

    def run(cmd):
        subprocess.run(cmd, check=True, capture_output=True)

    with psycopg.connect(dsn, autocommit=True) as con:
        for t in ("b_assets", "b_lsoa", "b_imd", "b_result"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    t = time.perf_counter()
    run(["ogr2ogr", "-f", "PostgreSQL", pg, lsoa, "-nln", "b_lsoa", "-t_srs", "EPSG:27700", "-lco", "GEOMETRY_NAME=geom",
         "-lco", "SPATIAL_INDEX=NONE", "-nlt", "PROMOTE_TO_MULTI", "--config", "PG_USE_COPY", "YES"])
    run(["ogr2ogr", "-f", "PostgreSQL", pg, assets, "-nln", "b_assets", "-lco", "GEOMETRY_NAME=geom",
         "-lco", "SPATIAL_INDEX=NONE", "--config", "PG_USE_COPY", "YES"])
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("CREATE TABLE b_imd (lsoa21_code text PRIMARY KEY, imd_decile float8, imd_rank float8, imd_score float8)")
        import pandas as pd

        d = pd.read_csv(imd, usecols=["lsoa21_code", "IMD_decile", "IMD_rank", "IMD_score"])
        with con.cursor().copy("COPY b_imd FROM STDIN") as cp:
            for row in d.itertuples(index=False):
                cp.write_row(row)
        steps["load_s"] = time.perf_counter() - t
        t = time.perf_counter()
        con.execute("CREATE INDEX ON b_lsoa USING gist (geom)")
        if tuned:  # a point for every asset (polygons by a point on their surface), indexed
            con.execute("ALTER TABLE b_assets ADD COLUMN pt geometry")
            con.execute("UPDATE b_assets SET pt = CASE WHEN GeometryType(geom) = 'POINT' THEN geom "
                        "ELSE ST_PointOnSurface(geom) END")
            con.execute("CREATE INDEX ON b_assets USING gist (pt)")
        con.execute("ANALYZE b_lsoa")
        con.execute("ANALYZE b_assets")
        steps["index_s"] = time.perf_counter() - t
        t = time.perf_counter()
        if tuned:
            # from the polygons: each LSOA finds its points through the index; an asset on a shared edge
            # takes the first LSOA by code, as LIMIT 1 does in the lateral join (same rows, same counts)
            con.execute("""
                CREATE TABLE b_result AS
                SELECT a.*, m.lsoa21_code, m.lsoa21_name, i.imd_decile, i.imd_rank, i.imd_score
                FROM b_assets a
                LEFT JOIN (SELECT DISTINCT ON (a2.fid) a2.fid AS afid, l.lsoa21_code, l.lsoa21_name
                           FROM b_lsoa l JOIN b_assets a2 ON ST_Intersects(l.geom, a2.pt)
                           ORDER BY a2.fid, l.lsoa21_code) m ON m.afid = a.fid
                LEFT JOIN b_imd i ON i.lsoa21_code = m.lsoa21_code""")
            con.execute("ALTER TABLE b_result DROP COLUMN pt")
        else:
            con.execute("""
                CREATE TABLE b_result AS
                SELECT a.*, l.lsoa21_code, l.lsoa21_name, i.imd_decile, i.imd_rank, i.imd_score
                FROM b_assets a
                LEFT JOIN LATERAL (
                    SELECT l.lsoa21_code, l.lsoa21_name FROM b_lsoa l
                    WHERE ST_Intersects(l.geom, CASE WHEN GeometryType(a.geom) = 'POINT' THEN a.geom
                                                     ELSE ST_PointOnSurface(a.geom) END)
                    LIMIT 1) l ON true
                LEFT JOIN b_imd i ON i.lsoa21_code = l.lsoa21_code""")
        steps["join_s"] = time.perf_counter() - t
        matched = con.execute("SELECT count(lsoa21_code) FROM b_result").fetchone()[0]
    t = time.perf_counter()
    run(["ogr2ogr", "-f", "GPKG", out, pg, "b_result", "-nln", "assets"])
    steps["export_s"] = time.perf_counter() - t
    steps["matched"] = int(matched)
    return steps


# ------------------------------------------------------------------ the driver

def _timed(cmd: list[str], env=None, cwd=None) -> dict:
    """Run ``cmd`` under /usr/bin/time -v: wall seconds, peak RSS (MB), exit code, and its JSON line if any."""
    t = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.perf_counter() - t
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    out = {"wall_s": wall, "peak_mb": int(m.group(1)) / 1024 if m else None, "rc": proc.returncode}
    cpu = [float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr)]
    if len(cpu) == 2:  # the whole process's CPU seconds, every thread
        out["cpu_s"] = sum(cpu)
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            out.update(json.loads(line))
    if proc.returncode:
        out["error"] = proc.stderr.split("\tCommand being timed")[0].strip().splitlines()[-3:]
    return out


def _pg_server_rss_mb(dsn: str) -> float | None:
    """Sum of the resident memory of the PostgreSQL server's processes (read from /proc)."""
    m = re.search(r"host=(\S+)", dsn)
    if not m:
        return None
    pidfile = None
    for cand in Path(m.group(1)).glob("**/postmaster.pid"):
        pidfile = cand
    if pidfile is None:
        return None
    root = int(pidfile.read_text().split()[0])
    total = 0
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            st = (p / "stat").read_text().split()
            if int(p.name) == root or int(st[3]) == root:
                total += int(re.search(r"VmRSS:\s+(\d+)", (p / "status").read_text()).group(1))
        except (OSError, AttributeError, IndexError):
            continue
    return total / 1024


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--kind", default="points", choices=["points", "polygons"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data", type=Path, default=HERE / "data")
    ap.add_argument("--pg-dsn", default=os.environ.get("ASSETS_MAP_BENCH_PG", ""))
    ap.add_argument("--ways", nargs="+", default=["assets-map", "floor", "geopandas", "postgis", "postgis-tuned"])
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--base", type=Path, default=None,
                    help="a checkout of another commit (its folder holding assets_map/): the ways base and "
                         "base-parquet run its `assets-map analyse` the same way, for a before/after in one run")
    ap.add_argument("--reference", type=Path, default=None,
                    help="a result GeoPackage of the same register (from `assets-map analyse --out x.gpkg`) whose "
                         "layers the floors write, so the floors run without the way assets-map in the same run")
    args = ap.parse_args(argv)
    assets = args.data / f"assets_{args.kind}_{args.n}.gpkg"
    if not assets.exists():
        sys.exit(f"{assets} missing: run python bench/generate.py --sizes {args.n} first")
    if any(w.startswith("postgis") for w in args.ways) and not args.pg_dsn:
        sys.exit("--pg-dsn (or ASSETS_MAP_BENCH_PG) is needed for the PostGIS way")
    work = Path(tempfile.mkdtemp(prefix="am_bench_"))
    me = [sys.executable, str(Path(__file__).resolve())]
    results: dict[str, list[dict]] = {w: [] for w in args.ways}
    load = [os.getloadavg()[0]]
    try:
        for r in range(args.runs):
            ref = args.reference or work / f"am_{r}.gpkg"
            for way in args.ways:
                out = work / f"{way}_{r}.gpkg"
                if way in ("assets-map", "assets-map-parquet", "base", "base-parquet"):
                    target = (work / f"am_{r}.gpkg" if args.reference else ref) if way == "assets-map" else work / f"{way}_{r}.{'parquet' if 'parquet' in way else 'gpkg'}"
                    cmd = [sys.executable, "-m", "assets_map.cli", "analyse", "--assets", str(assets),
                           "--boundaries", str(LSOA), "--deprivation", str(IMD), "--out", str(target)]
                    env = cwd = None
                    if way.startswith("base"):  # `python -m` finds the package in its working folder first
                        if args.base is None:
                            sys.exit("--base is needed for the base ways")
                        cwd = str(args.base.resolve())
                        env = {**os.environ, "PYTHONPATH": cwd}
                    res = _timed(cmd, env=env, cwd=cwd)
                    if target.is_dir():
                        shutil.rmtree(target, ignore_errors=True)
                    elif way != "assets-map" and target.exists():
                        target.unlink()
                elif way.startswith("dask-"):  # the same CLI run on the dask engine
                    cmd = [sys.executable, "-m", "assets_map.cli", "analyse", "--assets", str(assets),
                           "--boundaries", str(LSOA), "--deprivation", str(IMD), "--out", str(out),
                           "--engine", "dask", "--scheduler", way.split("-", 1)[1]]
                    res = _timed(cmd)
                elif way in ("floor", "floor-parquet"):  # both need this repetition's assets-map GeoPackage
                    fn = "_floor" if way == "floor" else "_floor_parquet"
                    target = out if way == "floor" else work / f"floor_{r}.parquet"
                    res = _timed(me + [fn, str(assets), str(LSOA), str(IMD), str(ref), str(target)])
                    if way == "floor-parquet":
                        shutil.rmtree(target, ignore_errors=True)
                elif way == "geopandas":
                    res = _timed(me + ["_geopandas", str(assets), str(LSOA), str(IMD), str(out)])
                else:
                    fn = "_postgis_tuned" if way == "postgis-tuned" else "_postgis"
                    res = _timed(me + [fn, str(assets), str(LSOA), str(IMD), str(out), args.pg_dsn])
                    res["server_rss_mb"] = _pg_server_rss_mb(args.pg_dsn)
                results[way].append(res)
                load.append(os.getloadavg()[0])
                print(f"run {r + 1} {way}: {res['wall_s']:.1f} s, peak {res['peak_mb'] or 0:.0f} MB"
                      + (f" ERROR {res['error']}" if res.get("error") else ""), flush=True)
                if out.exists() and way != "assets-map":
                    out.unlink()
            if r < args.runs - 1 and ref.exists() and args.reference is None:
                ref.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {"n": args.n, "kind": args.kind, "runs": args.runs, "cpus": os.cpu_count(),
               "load_1min": [round(x, 2) for x in load], "python": platform.python_version(),
               "when": time.strftime("%Y-%m-%d %H:%M"), "ways": {}}
    for way, rs in results.items():
        keys = sorted({k for r in rs for k in r if isinstance(r.get(k), (int, float))})
        summary["ways"][way] = {k: statistics.median([r[k] for r in rs if isinstance(r.get(k), (int, float))])
                                for k in keys}
    path = args.json or (HERE / "results" / f"analyse_{args.kind}_{args.n}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"summary": summary, "runs": results}, indent=2, default=str))
    print(json.dumps(summary, indent=2))
    print(table(summary))


def table(summary: dict) -> str:
    """The markdown rows for bench/README.md."""
    w = summary["ways"]
    rows = ["| way | median wall s | peak memory MB | vs I/O floor | assets-map vs this | CPU s | CPU vs floor's |",
            "|---|---|---|---|---|---|---|"]
    for way, s in w.items():
        pq = way.endswith("parquet")  # a GeoParquet way is held against the GeoParquet floor and run
        floor = w.get("floor-parquet" if pq else "floor", {}).get("floor_s")
        cpu = w.get("floor-parquet" if pq else "floor", {}).get("floor_cpu_s")
        am = w.get("assets-map-parquet" if pq else "assets-map", {}).get("wall_s")
        wall = s.get("floor_s") if way.startswith("floor") else s.get("wall_s")
        peak = s.get("peak_mb")
        extra = f" (+ server {s['server_rss_mb']:.0f})" if s.get("server_rss_mb") else ""
        c = s.get("floor_cpu_s") if way.startswith("floor") else s.get("cpu_s")
        cpus = f" {c:.1f} | {c / cpu:.2f}x |" if c and cpu else " | |"
        rows.append(f"| {way} | {wall:.1f} | {peak:.0f}{extra} | "
                    f"{wall / floor:.2f}x | {am / wall:.2f}x |{cpus}" if floor and am else f"| {way} | {wall:.1f} | {peak} | | | |")
    return "\n".join(rows)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        way, rest = sys.argv[1], sys.argv[2:]
        fn = {"_floor": _floor, "_floor_parquet": _floor_parquet, "_geopandas": _geopandas, "_postgis": _postgis,
              "_postgis_tuned": _postgis_tuned}[way]
        print(json.dumps(fn(*rest)))
    else:
        main()
