"""The same analysis on dask-geopandas, spatially partitioned.

It runs on one machine's threads, a local process cluster, or a real cluster.

What runs where
---------------
* The **app process** reads and validates the inputs (the import report needs every row),
  builds the need model, sorts the assets along a Hilbert curve and writes them as
  GeoParquet, one file per spatial partition, to a folder every worker can read. The need
  areas and any exclusion layers are written there too (with a covering bbox column).
* Each **worker** reads its own partition of assets from that folder, reads only the need
  areas (and exclusion polygons) that intersect the partition's bounding box, joins and
  scores with the very functions the single-machine path uses, and writes its result
  partition back as GeoParquet. Only small counts travel back to the scheduler: no
  GeoDataFrame is ever pickled from the app process to a worker (measured here: pickling
  1M geometries cost more than the join itself, which made a process cluster 2-6x slower
  than plain geopandas).
* The app process reads the result partitions and restores the original row order, so the
  result equals the single-machine runner's row for row.

Reading, the need model and the result are :func:`assets_map.engine.pipeline.analyse`'s own: this
module is only the runner of its per-row steps, chosen by ``analyse(..., engine="dask")``.

Every step of the per-row scoring depends on one row only and the join on one point only,
so partitioning changes nothing in the answer (a test checks it on the demo and Trafford).

Schedulers: ``"threads"`` (dask's threaded scheduler; shapely releases the GIL, measured
1.5-1.85x on 2 cores), ``"processes"`` (a ``distributed.LocalCluster`` started here), or a
scheduler address such as ``"tcp://10.0.0.5:8786"`` (a real cluster; ``shared_dir`` must then
be a path every worker can read, e.g. a network file system mount).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import types
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd

from assets_map.engine.cache import object_columns, restore_objects
from assets_map.engine.geo import representative_points
from assets_map.engine.steps import Progress, join_needs, score
from assets_map.schema import MEASURE_CRS, order_columns

#: Column that carries each asset's row position through the partitions.
ROW = "_am_row"
#: Aim for partitions of about this many assets (at least one per worker thread).
TARGET_PARTITION_ROWS = 50_000


def hilbert_order(geometry: gpd.GeoSeries) -> np.ndarray:
    """Row order along a Hilbert curve over the assets' extent (unplaced assets last)."""
    pts = representative_points(geometry)
    ok = ~(pts.isna() | pts.is_empty).to_numpy()
    dist = np.full(len(pts), np.iinfo(np.int64).max, dtype=np.int64)
    if ok.any():
        placed = gpd.GeoSeries(pts[ok].to_numpy(), crs=geometry.crs)
        dist[ok] = placed.hilbert_distance(total_bounds=placed.total_bounds).to_numpy()
    return np.argsort(dist, kind="stable")


def write_partitions(assets: gpd.GeoDataFrame, folder: Path, n_partitions: int) -> list[Path]:
    """Write ``assets`` as ``n_partitions`` spatially compact GeoParquet files in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = assets.copy()
    frame[ROW] = np.arange(len(frame), dtype=np.int64)
    order = hilbert_order(frame.geometry)
    paths = []
    for i, rows in enumerate(np.array_split(order, max(1, n_partitions))):
        if not len(rows):
            continue
        part = frame.iloc[np.sort(rows)]
        path = folder / f"part.{i:05d}.parquet"
        part.to_parquet(path, compression="snappy", write_covering_bbox=True)
        paths.append(path)
    return paths


def _read_near(path: str, bounds: np.ndarray | None) -> gpd.GeoDataFrame:
    """Rows of a GeoParquet layer whose bounding box meets ``bounds`` (all rows when None)."""
    if bounds is None or not np.all(np.isfinite(bounds)):
        return gpd.read_parquet(path)
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    return gpd.read_parquet(path, bbox=(minx, miny, maxx, maxy))


def score_partition(part: gpd.GeoDataFrame, *, shared: str, out_dir: str, weights: dict[str, float],
                    as_of: str | None = None) -> pd.DataFrame:
    """Worker task: join one partition of assets to need, score it, write it; return its counts.

    Reads the need areas and exclusion layers from ``shared`` (only those near the partition),
    so nothing large travels through the scheduler.
    """
    meta = json.loads((Path(shared) / "meta.json").read_text())
    if part.empty:
        return pd.DataFrame({"rows": [0], "flagged": [0]})
    part = part.drop(columns=[c for c in ("bbox",) if c in part.columns and c not in meta["asset_columns"]])
    restore_objects(part, meta["asset_objects"])
    part = part.set_crs(MEASURE_CRS, allow_override=True)
    bounds = part.geometry.total_bounds if part.geometry.notna().any() else None
    needs = _read_near(str(Path(shared) / "needs.parquet"), bounds)
    restore_objects(needs, meta["need_objects"])
    exclude = []
    for label, file in meta["exclude"]:
        layer = _read_near(str(Path(shared) / file), bounds)
        exclude.append((label, layer))
    rows = part[ROW].to_numpy()
    work = part.drop(columns=[ROW]).reset_index(drop=True)
    import datetime as dt

    day = dt.date.fromisoformat(as_of) if as_of else None
    joined = join_needs(work, needs)
    scored = score(joined, exclude=exclude, weights=weights, as_of=day)
    scored = scored[order_columns(scored)]
    scored[ROW] = rows
    first = int(rows.min())
    objs = {"objects": object_columns(scored), "dtypes": {c: str(scored[c].dtype) for c in scored.columns}}
    path = Path(out_dir) / f"result.{first:012d}.{uuid.uuid4().hex[:8]}.parquet"
    tmp = path.with_suffix(".tmp")
    scored.to_parquet(tmp, compression="snappy")
    os.replace(tmp, path)
    (path.with_suffix(".objects.json")).write_text(json.dumps(objs))
    return pd.DataFrame({"rows": [len(scored)], "flagged": [int(scored["priority"].isin(["High", "Medium", "Low"]).sum())]})


@contextmanager
def _plain_main() -> Iterator[None]:
    """Hide a Streamlit script posing as ``__main__`` while worker processes are spawned.

    Streamlit runs ``app.py`` as the module ``__main__``; multiprocessing's spawn re-imports
    ``__main__`` from its file in every new worker, which would run the whole app there and
    the worker dies (seen as "nanny-start-failed"). The workers need nothing from it.
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None or not getattr(main, "__file__", None):
        yield
        return
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


@contextmanager
def _client(scheduler: str, n_workers: int | None) -> Iterator[object | None]:
    """A dask client for ``scheduler`` (None for the threaded scheduler)."""
    if scheduler in ("threads", "sync", "synchronous"):
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler in ("processes", "local"):
        with _plain_main():
            cluster = LocalCluster(n_workers=n_workers or os.cpu_count() or 2, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=40)
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
        return
    client = Client(scheduler)  # a real cluster: tcp://host:8786
    try:
        yield client
    finally:
        client.close()


def join_and_score_dask(
    assets: gpd.GeoDataFrame,
    needs: gpd.GeoDataFrame,
    *,
    exclude: list[tuple[str, gpd.GeoDataFrame]] = (),
    weights: dict[str, float] | None = None,
    as_of=None,
    progress: Progress | None = None,
    scheduler: str = "threads",
    n_partitions: int | None = None,
    n_workers: int | None = None,
    shared_dir: str | os.PathLike | None = None,
) -> tuple[gpd.GeoDataFrame, str]:
    """The dask runner of :func:`assets_map.engine.pipeline.analyse`'s per-row steps, spatially partitioned.

    Each partition is joined and scored by :func:`~assets_map.engine.pipeline.join_needs` and
    :func:`~assets_map.engine.pipeline.score`, the single-machine runner's own steps; call it through
    ``analyse(..., engine="dask")``.

    Parameters
    ----------
    assets : placed assets (EPSG:27700)
    needs : the need model (:func:`~assets_map.engine.needs.build_needs`)
    exclude, weights, as_of : as in :func:`~assets_map.engine.pipeline.score`
    progress : called as ``progress(message, step, total)``
    scheduler : ``"threads"``, ``"processes"`` (a LocalCluster here) or a scheduler address
    n_partitions : number of spatial partitions (default: about 50,000 assets each, at least
        two per core)
    n_workers : threads of the ``"threads"`` scheduler, or workers of the LocalCluster (default: one per core)
    shared_dir : folder for the partitions, readable by every worker (default: a temporary
        folder, fine for ``threads`` and ``processes``; give a shared mount for a real cluster)

    Returns
    -------
    (scored, engine) : the scored assets in the input's row order, and how they were computed
    """
    import dask_geopandas

    step = progress or (lambda msg, i, n: None)
    own_dir = shared_dir is None
    root = Path(tempfile.mkdtemp(prefix="assets_map_dask_")) if own_dir else Path(shared_dir) / f"run-{uuid.uuid4().hex[:12]}"
    try:
        step("writing spatial partitions for the workers", 1, 3)
        shared = root / "shared"
        shared.mkdir(parents=True)
        out_dir = root / "results"
        out_dir.mkdir()
        cores = os.cpu_count() or 2
        n_parts = n_partitions or max(2 * cores, int(np.ceil(len(assets) / TARGET_PARTITION_ROWS)))
        n_parts = max(1, min(n_parts, len(assets)))
        write_partitions(assets, root / "assets", n_parts)
        ndf = needs.copy()
        ndf.attrs = {}
        ndf.to_parquet(shared / "needs.parquet", write_covering_bbox=True)
        ex_files = []
        for i, (label, layer) in enumerate(exclude):
            name = f"exclude.{i}.parquet"
            layer.to_crs(MEASURE_CRS).to_parquet(shared / name, write_covering_bbox=True)
            ex_files.append([label, name])
        meta = {"asset_objects": object_columns(assets), "asset_columns": list(assets.columns),
                "need_objects": object_columns(needs), "exclude": ex_files}
        (shared / "meta.json").write_text(json.dumps(meta))

        step(f"joining and scoring {n_parts} partitions ({scheduler})", 2, 3)
        ddf = dask_geopandas.read_parquet(str(root / "assets"))
        meta_frame = pd.DataFrame({"rows": pd.Series([], dtype="int64"), "flagged": pd.Series([], dtype="int64")})
        tasks = ddf.map_partitions(score_partition, shared=str(shared), out_dir=str(out_dir), weights=weights,
                                   as_of=as_of.isoformat() if as_of else None, meta=meta_frame)
        with _client(scheduler, n_workers) as client:
            if client is None:
                threads = {"num_workers": n_workers} if n_workers else {}
                counts = tasks.compute(scheduler="sync" if scheduler in ("sync", "synchronous") else "threads",
                                       **threads)
            else:
                counts = tasks.compute()
        step("gathering the result partitions", 3, 3)
        parts, text_cols = [], set()
        for path in sorted(out_dir.glob("result.*.parquet")):
            frame = gpd.read_parquet(path)
            info = json.loads(path.with_suffix(".objects.json").read_text())
            restore_objects(frame, info["objects"])
            text_cols |= {c for c, d in info["dtypes"].items() if d == "str"}
            parts.append(frame)
        scored = pd.concat(parts, ignore_index=True) if parts else assets.iloc[:0].copy()
        # A column that is text in one partition is text overall (a partition with no value
        # at all there would have inferred object): as the whole frame infers it in one go.
        for c in text_cols:
            if c in scored.columns and scored[c].dtype == object:
                scored[c] = scored[c].astype("str")
        if int(counts["rows"].sum()) != len(assets) or len(scored) != len(assets):
            raise RuntimeError(f"the dask engine returned {len(scored)} rows for {len(assets)} assets")
        scored = scored.sort_values(ROW, kind="stable").drop(columns=[ROW]).reset_index(drop=True)
        scored = gpd.GeoDataFrame(scored, geometry="geometry", crs=MEASURE_CRS)
        scored.index = assets.index
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return scored, f"dask ({scheduler}, {n_parts} spatial partitions)"
