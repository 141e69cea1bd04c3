"""The one way through: read -> validate -> normalise -> join to need -> score -> flag.

The CLI, the app, the demo, the store and the benchmarks call :func:`analyse` (files or
frames already read; ``engine=`` and ``cache=`` choose a runner of the same steps) and
:func:`rescore` (an existing result scored again), so nothing is computed twice in two places.
"""
from __future__ import annotations

import datetime as dt
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import geopandas as gpd
import pandas as pd

from assets_map.engine.constraints import add_constraints
from assets_map.engine.location import check_locations, location_checks
from assets_map.engine.needs import (
    DOMAINS,
    MEASURES,
    NEED_AREA_CHOICES,
    Deprivation,
    build_needs,
    parse_weights,
    study_area,
)
from assets_map.engine.steps import NEED_COLUMNS, Analysis, Progress, join_needs, score  # noqa: F401 (the public face)
from assets_map.io.report import ImportReport
from assets_map.schema import order_columns

#: how :func:`analyse` can run the per-row steps
ENGINES = ("geopandas", "dask")
#: Settings that say how a result was computed, not what it is: the only ones runners may differ in.
RUNNER_SETTINGS = ("engine", "cache")


def _is_path(value) -> bool:
    return isinstance(value, (str, os.PathLike))


def _join_and_score(assets: gpd.GeoDataFrame, needs: gpd.GeoDataFrame, *, exclude=(), weights=None,
                    as_of: dt.date | None = None, location_check: Future | None = None,
                    joined: Callable[[gpd.GeoDataFrame], None] | None = None) -> tuple[gpd.GeoDataFrame, str]:
    """The single-machine runner of the per-row steps: join to need, then score (``location_check`` as :func:`score`).

    ``joined`` is called with the assets joined to need, before the scoring (which changes no place or need area).
    """
    frame = join_needs(assets, needs)
    if joined is not None:
        joined(frame)
    return score(frame, exclude=exclude, weights=weights, as_of=as_of, location_check=location_check), "geopandas"


def analyse(
    assets: str | os.PathLike | gpd.GeoDataFrame,
    boundaries: str | os.PathLike | gpd.GeoDataFrame,
    deprivation: str | os.PathLike | Deprivation | None = None,
    *,
    postcodes: str | os.PathLike | None = None,
    exclude: list[str | os.PathLike | tuple[str, gpd.GeoDataFrame]] = (),
    weights: dict[str, float] | str | None = None,
    progress: Progress | None = None,
    engine: str = "geopandas",
    scheduler: str = "threads",
    n_workers: int | None = None,
    partitions: int | None = None,
    shared_dir: str | os.PathLike | None = None,
    cache=None,
    boundaries_name: str | None = None,
    as_of: dt.date | None = None,
    layer: str | None = None,
    locations: str | os.PathLike | None = None,
    iod_year: int | None = None,
    constraints: list = (),
    owners=None,
    need_areas: str = "study",
    parcels: list = (),
) -> Analysis:
    """Run the whole analysis: read -> place -> need -> join -> exclude -> underuse -> priority.

    The one entry point of the CLI, the app, the demo, the store and the benchmarks. The
    inputs are files or frames already read; ``engine`` and ``cache`` choose how the same
    steps run, never what they compute (tests/test_runners.py holds every runner equal).

    Parameters
    ----------
    assets : the asset register (a file, or a canonical asset frame already read and placed)
    boundaries : LSOA polygons (a file or a frame; may carry the deprivation columns themselves)
    deprivation : English Indices of Deprivation (a file, wide or long, or a read
        :class:`~assets_map.engine.needs.Deprivation`); optional when the boundaries carry it
    postcodes : postcode directory for rows without coordinates (files only)
    exclude : greenspace/allotment polygon layers whose land is never flagged: files, or
        ``(label, polygons)`` pairs already read
    weights : domain weights for the composite need (default: the overall IMD)
    progress : called as ``progress(message, step, total)``
    engine : ``"geopandas"`` (this process) or ``"dask"`` (spatial partitions on dask-geopandas,
        see :mod:`assets_map.engine.distributed`)
    scheduler, n_workers, partitions, shared_dir : the dask engine's options (see
        :func:`assets_map.engine.distributed.join_and_score_dask`); ignored by ``"geopandas"``
    cache : a :class:`~assets_map.engine.cache.ResultCache` or a folder for one: the result of the same
        inputs (files by their bytes, frames by their content) and settings is reused
    boundaries_name : the boundaries' name in messages (default: the file's name)
    as_of : date for "vacant since" durations (default today)
    layer : the layer (GeoPackage) or sheet (Excel) of the register file to read
    locations : points or polygons with site codes or names, to place NHS ERIC sites (as ``import``)
    iod_year : the IoD edition (2015, 2019 or 2025) when the deprivation data does not state it
    owners : lookup files naming organisations given as codes (local authority GSS or ONS codes, NHS ODS
        codes), as ``import --owners``
    need_areas : ``"study"`` (default) keeps the need areas of the study area around the placed assets
        (:func:`assets_map.engine.needs.study_area`; ``settings["need_areas"]`` says how many), ``"all"`` every one
    constraints : planning constraint layers: files, ``"kind=FILE"`` texts or ``(kind, file)`` pairs (the kind
        stated), or layers already read (:func:`assets_map.io.constraints.read_constraint_layer`). Every site is
        answered for every kind (inside, near, clear or not checked) in ``result.constraints``; a run without
        them answers "not checked" everywhere. The cache never holds these answers: they are made on every run.
    parcels : HM Land Registry INSPIRE Index Polygons (files as :func:`assets_map.io.landregistry.read_inspire`
        reads them, or :class:`~assets_map.io.landregistry.Parcels` read): each placed asset gets the freehold
        parcel holding it (``parcel_id``, ``parcel_area_ha``; its site area where the register gives none, before
        scoring) and ``result.parcels`` holds the parcels used (:func:`assets_map.engine.parcels.join_parcels`);
        or one folder of parcels cached per authority (``assets-map parcels --cache``), read one authority at a
        time where sites lie (:func:`assets_map.engine.parcels.join_parcels_partitioned`, on dask with ``engine``)

    Returns
    -------
    Analysis : assets, need areas, import reports, warnings, settings and the exclusion layers used
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)} (got {engine!r})")
    if need_areas not in NEED_AREA_CHOICES:
        raise ValueError(f"need_areas must be one of {', '.join(NEED_AREA_CHOICES)} (got {need_areas!r})")
    step = progress or (lambda msg, i, n: None)
    w = parse_weights(weights)  # fail fast on bad weights, before any reading
    exclude = list(exclude)
    con_layers = _constraint_layers(constraints)  # read first: a bad layer fails before the long work
    parcel_set = _parcel_set(parcels)  # likewise
    if cache is not None:
        from assets_map.engine.cache import run_cached

        return add_constraints(run_cached(
            analyse, cache, assets, boundaries, deprivation, postcodes=postcodes, exclude=exclude, weights=w,
            progress=progress, engine=engine, scheduler=scheduler, n_workers=n_workers, partitions=partitions,
            shared_dir=shared_dir, boundaries_name=boundaries_name, as_of=as_of, layer=layer, locations=locations,
            iod_year=iod_year, owners=owners, need_areas=need_areas, parcels=list(parcels) or None), con_layers)
    reading = _is_path(assets)
    files = _is_path(boundaries) or _is_path(deprivation) or any(map(_is_path, exclude))
    at = 3 if reading else int(files)  # steps spent reading
    total = at + 3
    reports: list[ImportReport] = []
    if reading:
        step("reading the postcode directory, the asset register, the need areas and the layers", 1, total)
    from assets_map.io.importer import read_inputs

    read = read_inputs(assets if reading else None, boundaries if _is_path(boundaries) else None,
                       deprivation if _is_path(deprivation) else None, postcodes=postcodes if reading else None,
                       exclude=[p for p in exclude if _is_path(p)], layer=layer, locations=locations, owners=owners)
    frame = read.assets if reading else assets
    if reading:
        reports.append(read.report)
    bnd = read.boundaries if _is_path(boundaries) else boundaries
    dep = read.deprivation if _is_path(deprivation) else deprivation
    read_layers = iter(read.exclude)
    layers = [next(read_layers) if _is_path(p) else p for p in exclude]
    if boundaries_name is None:
        boundaries_name = read.names.get("boundaries", "boundaries")
    step("building the need model", at + 1, total)
    needs, warnings = build_needs(bnd, dep, weights=w, boundaries_name=boundaries_name, year=iod_year)
    step("joining assets to need areas and scoring", at + 2, total)
    # The location check runs on the whole register, before any runner splits it: for dask, first; in this process,
    # in a thread beside the parcels, the join and the underuse evidence (its distances are GEOS's, without the GIL),
    # taken before the priority, the one step that reads it.
    study: list[Future] = []  # the study area, found beside the scoring from the places and need areas joined
    with ThreadPoolExecutor(max_workers=2) as pool:
        checked = None
        if engine == "dask":
            frame = check_locations(frame, needs)
        else:
            checked = pool.submit(location_checks, frame, needs)
        parcels_used = None
        if parcel_set is not None:  # before scoring: a site area from the parcel feeds the underuse signals
            from assets_map.engine.parcels import join_parcels, join_parcels_partitioned

            frame, parcels_used = (join_parcels(frame, parcel_set.frame) if parcel_set.folder is None else
                                   join_parcels_partitioned(frame, parcel_set.folder, engine=engine))
        if engine == "dask":
            from assets_map.engine.distributed import join_and_score_dask

            def sub(msg, i, n):
                step(msg, at + 2, total)

            scored, how = join_and_score_dask(frame, needs, exclude=layers, weights=w, as_of=as_of, progress=sub,
                                              scheduler=scheduler, n_workers=n_workers, n_partitions=partitions,
                                              shared_dir=shared_dir)
        else:
            scored, how = _join_and_score(
                frame, needs, exclude=layers, weights=w, as_of=as_of, location_check=checked,
                joined=(lambda j: study.append(pool.submit(study_area, needs, j))) if need_areas == "study" else None)
    step("done", total, total)
    settings = {"weights": w, "iod_year": needs.attrs.get("iod_year"),
                "deprivation_source": needs.attrs.get("deprivation_source"), "engine": how}
    if reading:
        settings["inputs"] = {k: str(Path(v).name) for k, v in (
            ("assets", assets), ("boundaries", boundaries), ("deprivation", deprivation), ("postcodes", postcodes))
            if v is not None and _is_path(v)}
    if any(map(_is_path, exclude)):
        settings["exclude"] = [Path(p).name if _is_path(p) else p[0] for p in exclude]
    if parcel_set is not None:
        settings["parcels"] = {"files": parcel_set.source, "notes": parcel_set.notes}
        if parcel_set.folder is not None:  # the authorities read, so the result cache can key on their bytes
            settings["parcels"]["partitions"] = list(parcels_used.attrs.get("partitions", []))
    if need_areas == "study":  # after the join: an asset's need area never depends on which areas are kept
        needs, settings["need_areas"] = study[0].result() if study else study_area(needs, scored)
    else:
        settings["need_areas"] = {"kept": len(needs), "of": len(needs), "note": "every need area asked for"}
    return add_constraints(Analysis(assets=scored[order_columns(scored)], needs=needs, reports=reports,
                                    warnings=warnings, settings=settings, exclude=layers,
                                    parcels=parcels_used), con_layers)


def _parcel_set(parcels):
    """The parcel files of :func:`analyse` read into one set (None when none are given)."""
    if not parcels:
        return None
    from assets_map.io.landregistry import read_parcel_layers

    return read_parcel_layers(list(parcels))


def _constraint_layers(constraints) -> list[gpd.GeoDataFrame]:
    """The constraint layers of :func:`analyse`: those given as files read (one error for every bad one)."""
    from assets_map.io.constraints import parse_constraint_arg
    from assets_map.io.importer import read_inputs

    given, files = [], []
    for c in constraints:
        if isinstance(c, gpd.GeoDataFrame):
            given.append(c)
            continue
        kind, src = c if isinstance(c, tuple) else parse_constraint_arg(str(c)) if isinstance(c, str) else (None, c)
        files.append((kind, src))
    read = read_inputs(None, None, constraints=files).constraints if files else []
    return given + read


def _need_inputs(result: Analysis) -> tuple[gpd.GeoDataFrame, Deprivation]:
    """The boundaries and deprivation a result's need areas were built from (they carry every column)."""
    needs = result.needs
    cols = [f"{d}_{m}" for d in DOMAINS for m in MEASURES if f"{d}_{m}" in needs.columns]
    year = result.settings.get("iod_year")
    dep = Deprivation(pd.DataFrame(needs.set_index("code")[cols]), int(year) if year else None,
                      result.settings.get("deprivation_source") or "the deprivation data in use")
    bnd = needs[["code", "name", "geometry"]].copy()
    vintage = needs["lsoa_vintage"].dropna() if "lsoa_vintage" in needs.columns else pd.Series(dtype="Int64")
    bnd.attrs["lsoa_vintage"] = int(vintage.iloc[0]) if len(vintage) else None
    return bnd, dep


def rescore(result: Analysis, *, weights: dict[str, float] | str | None = None, reweight: bool = True,
            assets: gpd.GeoDataFrame | None = None, needs: gpd.GeoDataFrame | None = None,
            exclude: list[tuple[str, gpd.GeoDataFrame]] | None = None) -> Analysis:
    """Score an existing result again: other need weights, edited rows, other need areas or layers.

    The one re-scoring path of the app (weights, uploads), the store (edits, imports) and the
    demo. Nothing is read again: the need areas carry every deprivation column, and the result's
    own exclusion layers are used unless others are given.

    Parameters
    ----------
    result : the result to score again; its reports, warnings and settings carry over
    weights : domain weights for the composite need (``None``: the overall IMD)
    reweight : build the need model again with ``weights`` (False: keep ``needs`` as they are,
        as the store does for an edit scored with the weights of its import)
    assets : rows to score instead of ``result.assets`` (edited or uploaded rows)
    needs : need areas instead of ``result.needs``
    exclude : exclusion layers instead of ``result.exclude``

    Returns
    -------
    Analysis : the same result, scored again, with ``settings["weights"]`` the weights used
    """
    w = parse_weights(weights)
    base = result if needs is None else result.replace(needs=needs)
    warnings = list(result.warnings)
    if reweight:
        bnd, dep = _need_inputs(base)
        new_needs, warnings = build_needs(bnd, dep, weights=w, boundaries_name=base.settings.get(
            "deprivation_source") or "need areas")
    else:
        new_needs = base.needs
    layers = list(result.exclude if exclude is None else exclude)
    rows = check_locations(result.assets if assets is None else assets, new_needs)
    scored, how = _join_and_score(rows, new_needs, exclude=layers, weights=w)
    settings = {k: v for k, v in result.settings.items() if k not in RUNNER_SETTINGS}
    settings["engine"] = how
    settings.update({"weights": w, "iod_year": new_needs.attrs.get("iod_year", settings.get("iod_year")),
                     "deprivation_source": new_needs.attrs.get("deprivation_source",
                                                               settings.get("deprivation_source"))})
    return add_constraints(result.replace(assets=scored[order_columns(scored)], needs=new_needs, warnings=warnings,
                                          settings=settings, exclude=layers), result.constraint_layers)
