"""The scaling law: `assets-map analyse` time and peak memory against the number of assets.

Registers of 10k to 1M points over England (``bench/generate.py``) against all 35,672 LSOA
2021 polygons and IoD 2025; each size runs ``--runs`` times (medians), each run in its own
process under ``/usr/bin/time -v``. The plain geopandas script of ``bench_analyse.py`` runs
alongside as the reference line. Writes ``bench/results/scaling.json`` and
``docs/scaling.png`` (log-log, with the fitted exponent: time ~ a * N^b).

Usage::

    python bench/bench_scaling.py --sizes 10000 30000 100000 300000 1000000 --runs 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_analyse import IMD, LSOA, _timed  # noqa: E402

ROOT = HERE.parent


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000, 300_000, 1_000_000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--runs-large", type=int, default=2, help="runs for sizes of 1M and more")
    ap.add_argument("--data", type=Path, default=HERE / "data")
    ap.add_argument("--png", type=Path, default=ROOT / "docs" / "scaling.png")
    args = ap.parse_args(argv)
    missing = [n for n in args.sizes if not (args.data / f"assets_points_{n}.gpkg").exists()]
    if missing:
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--sizes", *map(str, missing), "--kinds", "points",
                        "--formats", "gpkg", "--out", str(args.data)], check=True)
    me = [sys.executable, str(HERE / "bench_analyse.py")]
    rows = []
    work = Path(tempfile.mkdtemp(prefix="am_scaling_"))
    for n in args.sizes:
        assets = args.data / f"assets_points_{n}.gpkg"
        res = {"assets-map": [], "geopandas": []}
        for _ in range(args.runs_large if n >= 1_000_000 else args.runs):
            out = work / f"am_{n}.gpkg"
            res["assets-map"].append(_timed([sys.executable, "-m", "assets_map.cli", "analyse", "--assets", str(assets),
                                             "--boundaries", str(LSOA), "--deprivation", str(IMD), "--out", str(out)]))
            res["geopandas"].append(_timed(me + ["_geopandas", str(assets), str(LSOA), str(IMD), str(work / f"gp_{n}.gpkg")]))
            for f in work.glob("*.gpkg"):
                f.unlink()
            print(f"{n}: assets-map {res['assets-map'][-1]['wall_s']:.1f} s {res['assets-map'][-1]['peak_mb']:.0f} MB; "
                  f"geopandas {res['geopandas'][-1]['wall_s']:.1f} s", flush=True)
        rows.append({"n": n, "load_1min": os.getloadavg()[0],
                     **{f"{w}_{k}": statistics.median(x[k] for x in v) for w, v in res.items() for k in ("wall_s", "peak_mb")},
                     # CPU seconds (every thread) move less than the wall on a loaded machine
                     **{f"{w}_cpu_s": statistics.median(x["cpu_s"] for x in v) for w, v in res.items()
                        if all("cpu_s" in x for x in v)}})
    out = {"when": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "rows": rows}
    n = np.array([r["n"] for r in rows], dtype=float)
    for w in ("assets-map", "geopandas"):
        for k in ("wall_s", "peak_mb", "cpu_s"):
            if not all(f"{w}_{k}" in r for r in rows):
                continue
            y = np.array([r[f"{w}_{k}"] for r in rows])
            big = n >= 100_000  # the exponent where the work, not start-up, dominates
            b, a = np.polyfit(np.log(n[big]), np.log(y[big]), 1) if big.sum() >= 2 else (np.nan, np.nan)
            out[f"{w}_{k}_exponent"] = round(float(b), 3)
            if len(n) >= 3:  # every size: a fixed cost plus a power of N
                c, a, b = fit_fixed_cost(n, y)
                out[f"{w}_{k}_fixed_fit"] = {"fixed": round(c, 3), "per_million": round(a * 1e6 ** b, 3),
                                             "exponent": round(b, 3)}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "scaling.json").write_text(json.dumps(out, indent=2))
    plot(out, args.png)
    print(json.dumps(out, indent=2))


def fit_fixed_cost(n: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Fit ``y = c + a * n**b`` (c, a >= 0) by least relative squares: (c, a, b).

    For each exponent on a grid the model is linear in ``c`` and ``a``, solved exactly with each point weighted by
    ``1 / y`` (so 10k and 1M count alike); the exponent with the smallest residual wins.
    """
    best = (np.inf, 0.0, 0.0, 0.0)
    w = 1.0 / y
    for b in np.arange(0.5, 1.5001, 0.001):
        design = np.c_[np.ones_like(n), n ** b] * w[:, None]
        (c, a), *_ = np.linalg.lstsq(design, y * w, rcond=None)
        if c < 0 or a < 0:  # a negative fixed cost or slope is no law: fit the other term alone
            c, a = (0.0, float(np.sum(w * n ** b * w * y) / np.sum((w * n ** b) ** 2))) if c < 0 else \
                (float(np.sum(w * w * y) / np.sum(w * w)), 0.0)
        err = float(np.sum((w * (c + a * n ** b) - 1.0) ** 2))
        if err < best[0]:
            best = (err, float(c), float(a), float(b))
    return best[1], best[2], best[3]


def plot(result: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    n = [r["n"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for w, style in (("assets-map", "o-"), ("geopandas", "s--")):
        fit = result.get(f"{w}_wall_s_fixed_fit")
        law = f"{fit['fixed']:.1f} s + {fit['per_million']:.1f} s x (N/1M)^{fit['exponent']:.2f}" if fit else \
            f"N^{result[f'{w}_wall_s_exponent']:.2f} above 100k"
        ax1.loglog(n, [r[f"{w}_wall_s"] for r in rows], style, label=f"{w} ({law})")
        ax2.loglog(n, [r[f"{w}_peak_mb"] for r in rows], style,
                   label=f"{w} (N^{result[f'{w}_peak_mb_exponent']:.2f} above 100k)")
    ref = np.array(n, dtype=float)
    y0 = rows[-1]["assets-map_wall_s"]
    ax1.loglog(ref, y0 * ref / ref[-1], ":", color="grey", label="linear")
    ax1.set(xlabel="assets (points over England)", ylabel="wall time, s (median)",
            title="analyse: time vs N (35,672 LSOAs, IoD 2025)")
    ax2.set(xlabel="assets (points over England)", ylabel="peak resident memory, MB",
            title="analyse: peak memory vs N")
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"assets-map scaling, {result['cpus']} cores, {result['when']} (shared machine)", fontsize=9)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    main()
