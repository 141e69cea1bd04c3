"""The ``assets-map`` command line.

Bad input ends in a non-zero exit and a one-line cause on stderr, never a
traceback (``--debug`` shows one for bug reports).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from pathlib import Path

from assets_map import __version__
from assets_map.io.report import InputError
from assets_map.store.base import StoreError

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


class ProgressBar:
    """A text progress bar on stderr: one line per step when stderr is not a terminal."""

    def __init__(self, stream=None, width: int = 24):
        self.stream = stream or sys.stderr
        self.width = width
        self.start = time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __call__(self, message: str, i: int, n: int) -> None:
        """Show step ``i`` of ``n`` with its ``message`` and the seconds since the bar started."""
        done = int(self.width * i / max(n, 1))
        bar = "#" * done + "-" * (self.width - done)
        line = f"[{bar}] {i}/{n} {message} ({time.perf_counter() - self.start:.1f} s)"
        if self.tty:
            self.stream.write("\r\033[K" + line + ("\n" if i >= n else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _add_analyse(sub) -> None:
    p = sub.add_parser("analyse", aliases=["analyze"], help="flag underused assets against need",
                       description="Read a register, join it to need areas, score underuse and flag candidates.")
    p.add_argument("--assets", required=True, help="asset register: CSV, Excel, GeoPackage, GeoJSON or Shapefile "
                                                   "(.shp/.zip); any register, brownfield or ERIC file `import` reads")
    p.add_argument("--layer", help="layer (GeoPackage) or sheet (Excel) of --assets to read from a multi-layer file")
    p.add_argument("--locations", action="append", help="points or polygons with site codes or names, to place NHS ERIC sites (repeatable: add NHS trust head-office points with organisation codes to check every match against its trust's area)")
    p.add_argument("--owners", action="append", metavar="FILE", help="a lookup of organisation codes and names (e.g. the ONS local authority lookup LAD24CD/LAD24NM, or an NHS trust list) to name owners given as codes (repeatable)")
    p.add_argument("--boundaries", required=True, help="LSOA boundaries (GeoJSON, GeoPackage or Shapefile)")
    p.add_argument("--deprivation", help="English Indices of Deprivation CSV (official, renamed or long form); "
                                         "optional when the boundaries carry the deprivation columns")
    p.add_argument("--iod-year", type=int, choices=(2015, 2019, 2025), metavar="YEAR",
                   help="edition of the Indices of Deprivation (2015, 2019 or 2025) when the file does not state it")
    p.add_argument("--postcodes", help="postcode directory CSV (postcode, lon, lat) to place rows without coordinates")
    p.add_argument("--exclude", action="append", default=[], metavar="FILE",
                   help="greenspace or allotment polygons whose land is never flagged (repeatable)")
    p.add_argument("--constraints", action="append", default=[], metavar="[KIND=]FILE",
                   help="a planning constraint layer (conservation areas, listed buildings, flood zones...; a map "
                        "layer, or a planning.data.gov.uk CSV with WKT geometry); its kind from the file name, a "
                        "'dataset' column or its fields, or stated as conservation-area=FILE (repeatable)")
    p.add_argument("--parcels", action="append", default=[], metavar="FILE",
                   help="HM Land Registry INSPIRE Index Polygons (the authority's zip with its GML, GeoJSON, GeoPackage "
                        "or GeoParquet; repeatable): each site gets the freehold parcel holding it (parcel_id, "
                        "parcel_area_ha; its site area where the register gives none) and a parcels layer is written")
    p.add_argument("--weights", help="domain weights for the composite need, e.g. income=2,health=1 (default: imd=1)")
    p.add_argument("--all-need-areas", action="store_true",
                   help="keep every need area of --boundaries in the result (default: the study area, the local "
                        "authorities holding the assets and any area within 1 km of one)")
    p.add_argument("--out", required=True, help="output GeoPackage, or a .parquet folder of GeoParquet files (layers assets, candidates, needs, summary, "
                                                "with data_dictionary and provenance tables)")
    p.add_argument("--csv", help="also write the candidates as CSV (UTF-8 with a BOM for Excel; lon/lat, easting/"
                                 "northing and WKT, with .csvt, .prj and .vrt so QGIS knows the CRS, and the data "
                                 "dictionary and provenance beside it)")
    p.add_argument("--report", help="write the import report as JSON")
    p.add_argument("--engine", choices=["geopandas", "dask"], default="geopandas",
                   help="geopandas (one process, the default) or dask (spatially partitioned, see --scheduler)")
    p.add_argument("--scheduler", default="threads", metavar="ADDRESS",
                   help="with --engine dask: threads (default), processes (a local cluster) or a scheduler "
                        "address such as tcp://10.0.0.5:8786")
    p.add_argument("--shared-dir", metavar="DIR",
                   help="with --engine dask on a real cluster: a folder every worker can read (partitions go there)")
    p.add_argument("--cache", metavar="DIR", nargs="?", const=".assets_map_cache",
                   help="reuse the result of an earlier run with the same input files and settings "
                        "(kept as GeoParquet in DIR, default .assets_map_cache)")
    p.set_defaults(func=_run_analyse)


# The last analysis' result and layers, held past _run_analyse's return so that run() leaves with them alive (at 1M,
# freeing them object by object took 0.35-0.5 s after every file was written). Replaced by the next analysis.
_HELD: list = []


def _run_analyse(args) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from assets_map.engine.arrays import plain_pages, retaining_arrow_pool
    from assets_map.engine.constraints import constraint_counts
    from assets_map.engine.pipeline import analyse
    from assets_map.io.constraints import parse_constraint_arg
    from assets_map.io.export import export_file, result_layers, write_gpkg
    from assets_map.io.provenance import describe_inputs, provenance

    out = Path(args.out)
    if out.suffix.lower() not in (".gpkg", ".parquet"):
        raise InputError(f"--out must end in .gpkg (a GeoPackage) or .parquet (a folder of GeoParquet files, one per "
                         f"layer) (got {out.name})")
    if args.csv and Path(args.csv).suffix.lower() not in (".csv", ".zip"):
        raise InputError(f"--csv must end in .csv (the CSV with its sidecars beside it) or .zip (got {Path(args.csv).name})")
    retaining_arrow_pool()
    plain_pages()
    bar = ProgressBar()
    engine = getattr(args, "engine", "geopandas")
    inputs = {"assets": args.assets, "boundaries": args.boundaries, "deprivation": args.deprivation,
              "postcodes": args.postcodes, "locations": args.locations, "owners": args.owners,
              "exclude": list(args.exclude), "constraints": [parse_constraint_arg(c)[1] for c in args.constraints],
              "parcels": list(args.parcels)}
    # the input files hashed for the provenance while the analysis reads them (hashlib works without the GIL)
    with ThreadPoolExecutor(max_workers=1) as pool:
        described = pool.submit(describe_inputs, inputs)
        result = analyse(args.assets, args.boundaries, args.deprivation, postcodes=args.postcodes,
                         exclude=args.exclude, weights=args.weights, progress=bar, engine=engine,
                         scheduler=args.scheduler, shared_dir=args.shared_dir, cache=getattr(args, "cache", None),
                         layer=args.layer, locations=args.locations, iod_year=args.iod_year, owners=args.owners,
                         constraints=args.constraints, need_areas="all" if args.all_need_areas else "study",
                         parcels=args.parcels)
        record = provenance(result, described=described.result())
    # The summary lines are made beside the writing: at 1M sites their location texts (parsed by Arrow, without the
    # GIL) take half a second of a core the writer leaves idle.
    with ThreadPoolExecutor(max_workers=1) as pool:
        summary = pool.submit(result.summary_lines)
        # once: the summary layer and the candidates cost a second at 1M sites (GeoParquet makes them while it writes)
        layers = result_layers(result, later=out.suffix.lower() == ".parquet")
        if out.suffix.lower() == ".parquet":
            from assets_map.io.geoparquet import write_result

            write_result(layers, out, provenance=record, step="analyse")
        else:
            write_gpkg(layers, out, provenance=record, step="analyse")
        if args.csv:
            export_file({"candidates": layers["candidates"]}, "csv", args.csv, provenance=record, step="analyse")
        summary = summary.result()
    if args.report:
        import json

        Path(args.report).write_text(json.dumps([r.to_dict() for r in result.reports], indent=2, default=str))
    print(f"assets-map {__version__}: analysis of {Path(args.assets).name}")
    for r in result.reports:
        for line in r.summary_lines()[1:]:
            print(line)
    for line in summary:
        print(line)
    for w in result.warnings:
        print(f"warning: {w}")
    if result.constraints is not None:
        counts = constraint_counts(result.constraints)
        unchecked = [kind for kind, c in counts.items() if c["not checked"] == len(result.assets)]
        print("constraints: " + "; ".join(f"{kind}: " + ", ".join(f"{n} {a}" for a, n in c.items() if n)
                                          for kind, c in counts.items() if kind not in unchecked)
              + (f"; every site not checked (no layer loaded, or none covering it): {', '.join(unchecked)}"
                 if unchecked else ""))
    if result.parcels is not None:
        from assets_map.engine.parcels import parcel_counts

        for line in result.settings.get("parcels", {}).get("notes", []):
            print(f"parcels: {line}")
        n = parcel_counts(result.assets)
        print(f"parcels: {n['in_parcel']} sites in a registered freehold parcel ({n['site_area_from_parcel']} site "
              f"areas taken from the parcel; approximate: an index polygon, not a title plan); {n['placed_outside']} "
              "placed sites in no parcel of the files given")
        if result.constraints is not None:
            from assets_map.engine.parcels import FROM_PARCEL

            outlines = int(result.assets["constraints_measured_from"].eq(FROM_PARCEL).sum())
            print(f"parcels: {outlines} sites tested for constraints on their freehold parcel's outline, not their "
                  "point (an answer inside gives the share of the parcel's area)")
    print(f"wrote {out} (layers {', '.join(layers)}, data_dictionary, provenance)"
          + (f" and {args.csv}" if args.csv else ""))
    _HELD[:] = [result, layers]  # freed by the system when run() leaves, not object by object on return
    return 0


def _add_export(sub) -> None:
    from assets_map.io.export import FORMATS, RESULT_LAYERS

    p = sub.add_parser(
        "export", help="export a result as GeoPackage, Shapefile, GeoJSON, CSV, KML or an Excel workbook",
        description="Export layers of a result GeoPackage (from `analyse`) for QGIS, ArcGIS, spreadsheets or "
                    "Google Earth. Every export carries a data dictionary and the provenance of the result. "
                    "The format is told by the output name (.gpkg, .geojson, .csv, .kml, .xlsx); a .zip needs "
                    "--format (shp, csv or geojson). A .csv holds one layer (--layer), with its sidecars beside it.")
    p.add_argument("result", help="result GeoPackage written by `assets-map analyse`")
    p.add_argument("--layer", action="append", choices=RESULT_LAYERS,
                   help="layer to export (repeatable; default: all of assets, candidates, needs, summary)")
    p.add_argument("--format", choices=FORMATS, help="output format (default: told by the name of --out; needed "
                                                     "for a .zip)")
    p.add_argument("--out", required=True, help="output file: .gpkg, .geojson, .csv, .kml, .xlsx, or .zip with --format")
    p.add_argument("--coordinates", choices=("lonlat", "wkt", "both"), default="both",
                   help="csv only: lon/lat of a point inside each site, WKT of the full geometry (EPSG:27700), or both")
    p.add_argument("--no-bom", action="store_true", help="csv only: no UTF-8 byte-order mark (Excel wants one)")
    p.set_defaults(func=_run_export)


def _run_export(args) -> int:
    import warnings

    from assets_map.io.export import export_file, format_for, read_result
    from assets_map.io.provenance import reexport

    fmt = format_for(args.out, args.format)  # before reading: a name that says nothing fails at once
    layers, record = read_result(args.result, args.layer)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = export_file(layers, fmt, args.out, provenance=reexport(record, args.result),
                          coordinates=args.coordinates, bom=not args.no_bom)
    for w in caught:
        print(f"warning: {w.message}")
    counts = ", ".join(f"{name} {len(frame)}" for name, frame in layers.items())
    print(f"wrote {out} ({fmt}: {counts}; with data dictionary and provenance)")
    return 0


def _add_community(sub) -> None:
    """Subcommands for community groups and anchor networks: joint sites, partners, site packs, site finder."""
    def analysis_arg(p, required=True):
        p.add_argument("--analysis", required=required, metavar="RESULT.gpkg",
                       help="result GeoPackage written by `assets-map analyse` (layers assets and needs)")

    def facilities_arg(p):
        p.add_argument("--facilities", action="append", default=[], metavar="FILE",
                       help="point layer of community facilities (libraries, GP practices, schools, hubs, leisure "
                            "centres), repeatable; the kind is read from the file name or a 'type' column")
        p.add_argument("--walk", type=float, default=800.0, metavar="M",
                       help="walking distance in metres, measured as a straight line (default 800)")

    p = sub.add_parser("joint-sites", help="group touching or nearby parcels into joint sites across anchors",
                       description="Parcels within --gap metres of each other (touching, or across a footpath) are "
                                   "grouped into candidate joint sites with their combined area and owners.")
    p.add_argument("--parcels", action="append", default=[], metavar="FILE",
                   help="parcel layer (repeatable); the owner comes from --owner-column, else from the file name")
    analysis_arg(p, required=False)
    p.add_argument("--owner-column", default="organisation", help="column naming the owner (default organisation)")
    p.add_argument("--gap", type=float, default=5.0, metavar="M", help="largest gap bridged, metres (default 5)")
    p.add_argument("--several-owners", action="store_true", help="only sites held by two or more owners")
    p.add_argument("--out", help="write the joint sites (.gpkg or .csv)")
    p.set_defaults(func=_run_joint_sites)

    p = sub.add_parser("partners", help="community facilities within walking distance of each flagged site")
    analysis_arg(p)
    facilities_arg(p)
    p.add_argument("--all-sites", action="store_true", help="every placed site, not only the flagged candidates")
    p.add_argument("--out", help="write one row per (site, facility) as CSV")
    p.set_defaults(func=_run_partners)

    p = sub.add_parser("site-pack", help="a one-page printable site pack (HTML and PDF) for a site or a shortlist")
    analysis_arg(p)
    facilities_arg(p)
    p.add_argument("--site", action="append", required=True, metavar="ASSET_ID", help="site id (repeatable)")
    p.add_argument("--acv-listed-on", metavar="DATE", help="date the site was listed as an Asset of Community Value")
    p.add_argument("--acv-notified-on", metavar="DATE", help="date the council received the owner's notice of disposal")
    p.add_argument("--html", help="write the pack as HTML")
    p.add_argument("--pdf", help="write the pack as PDF")
    p.set_defaults(func=_run_site_pack)

    from assets_map.community.finder import USE_PROFILES

    p = sub.add_parser("find-sites", help="rank candidate sites for a group's brief, with reasons for each place",
                       description="Say what you need (use, size, land or building, where) and get a ranked "
                                   "shortlist; every place in the ranking comes with its reasons.")
    analysis_arg(p)
    facilities_arg(p)
    p.add_argument("--use", default="other", help=f"the use: {', '.join(USE_PROFILES)} (or free text)")
    p.add_argument("--holding", choices=("land", "building", "either"), help="default: what the use usually needs")
    p.add_argument("--min-size", type=float, metavar="M2", help="smallest floor (building) or site (land) area, m2")
    p.add_argument("--max-size", type=float, metavar="M2", help="largest area, m2")
    p.add_argument("--area", metavar="FILE", help="a polygon layer to search within (e.g. drawn in QGIS or geojson.io)")
    p.add_argument("--area-code", action="append", default=[], metavar="CODE", help="LSOA or ward code (repeatable)")
    p.add_argument("--wards", metavar="FILE", help="ward polygons, for --area-code ward codes")
    p.add_argument("--near", metavar="PLACE", help="search near a place: LON,LAT (WGS84, e.g. -2.31,53.45), a postcode "
                   "(full, sector 'M32 0' or district 'M32'), a ward or LSOA name or code, or a street or town in the "
                   "register's addresses")
    p.add_argument("--postcodes", metavar="FILE", help="postcode directory (ONSPD-like CSV), for --near postcodes")
    p.add_argument("--radius", type=float, metavar="M",
                   help="with --near: how far, metres (default 1500 for a point, else the size of the place)")
    p.add_argument("--include-unflagged", action="store_true", help="also consider sites not flagged as underused")
    p.add_argument("--top", type=int, default=10, help="how many to list (default 10)")
    p.add_argument("--out", help="write the ranked shortlist (.csv or .gpkg)")
    p.add_argument("--pack", help="write a site pack of the shortlist (.pdf or .html)")
    p.set_defaults(func=_run_find_sites)


def _read_analysis(path: str):
    from assets_map.io.export import read_result

    layers, _ = read_result(path, ["assets", "needs"])
    import geopandas as gpd

    assets, needs = (gpd.GeoDataFrame(layers[n], geometry="geometry") for n in ("assets", "needs"))
    years = needs["iod_year"].dropna().unique() if "iod_year" in needs else []
    return assets, needs, {"iod_year": int(years[0]) if len(years) == 1 else None}


def _result_parcels(path: str):
    """The freehold parcels layer of a result (None when the analysis was run without --parcels)."""
    import geopandas as gpd

    from assets_map.io.export import read_result

    try:
        layers, _ = read_result(path, ["parcels"])
    except InputError:  # no parcels layer: the sites keep their points
        return None
    return gpd.GeoDataFrame(layers["parcels"], geometry="geometry")


def _write_layer(gdf, path: str) -> None:
    from assets_map.io.export import write_csv, write_gpkg

    suffix = Path(path).suffix.lower()
    if suffix == ".gpkg":
        write_gpkg({Path(path).stem.replace("-", "_"): gdf}, path, dictionary=False)
    elif suffix == ".csv":
        write_csv(gdf, path)
    else:
        raise InputError(f"--out must end in .gpkg or .csv (got {Path(path).name})")


def _run_joint_sites(args) -> int:
    import geopandas as gpd
    import pandas as pd

    from assets_map.community.joint import joint_sites, read_parcels

    if not args.parcels and not args.analysis:
        raise InputError("give --parcels FILE (repeatable) or --analysis RESULT.gpkg")
    frames = [read_parcels(p, owner=args.owner_column) for p in args.parcels]
    outlines = None
    if args.analysis:
        frames.append(_read_analysis(args.analysis)[0])
        outlines = _result_parcels(args.analysis)  # sites in a freehold parcel are grouped by its outline
    parcels = gpd.GeoDataFrame(pd.concat([f.to_crs("EPSG:27700") for f in frames], ignore_index=True),
                               geometry="geometry", crs="EPSG:27700")
    sites = joint_sites(parcels, gap_m=args.gap, owner=args.owner_column, several_owners_only=args.several_owners,
                        outlines=outlines)
    print(f"{len(parcels)} parcels; {len(sites)} joint sites (gap {args.gap:g} m), "
          f"{int(sites['several_owners'].sum())} held by several owners"
          + (f"; {sites.attrs['excluded_dropped']} excluded parcels (greenspace, allotments) left out"
             if sites.attrs.get("excluded_dropped") else ""))
    for _, s in sites.head(10).iterrows():
        print(f"  {s['joint_site_id']}: {s['parcels']} parcels, {s['area_ha']:.2f} ha, owners: {s['owners']}")
    if args.out:
        _write_layer(sites, args.out)
        print(f"wrote {args.out}")
    return 0


def _run_partners(args) -> int:
    from assets_map.community.partners import partners_nearby, read_facilities, summarise_partners

    if not args.facilities:
        raise InputError("give at least one --facilities FILE")
    assets, _, _ = _read_analysis(args.analysis)
    sites = assets if args.all_sites else assets[assets["priority"].isin(["High", "Medium", "Low"])]
    facilities = read_facilities(args.facilities)
    pairs = partners_nearby(sites, facilities, distance_m=args.walk)
    summary = summarise_partners(sites, pairs, distance_m=args.walk)
    placed = summary["partners_count"].notna()
    print(f"{len(facilities)} facilities; {int(placed.sum())} placed sites; {len(pairs)} (site, facility) pairs within "
          f"{args.walk:g} m (straight-line distance, not a walking route)")
    for _, s in summary[placed].sort_values("partners_count", ascending=False).head(10).iterrows():
        print(f"  {s['asset_id']} {s['name']}: {s['partners_count']} ({s['partners_kinds']})")
    if args.out:
        from assets_map.io.export import atomic_path, safe_cell

        with atomic_path(args.out) as tmp:
            pairs.map(safe_cell).to_csv(tmp, index=False, encoding="utf-8-sig")  # the BOM: Excel reads UTF-8
        print(f"wrote {args.out}")
    return 0


def _run_site_pack(args) -> int:
    from assets_map.community.partners import read_facilities
    from assets_map.community.sitepack import select_sites, site_pack_html, write_site_pack

    if not (args.html or args.pdf):
        raise InputError("give --html FILE and/or --pdf FILE")
    assets, needs, settings = _read_analysis(args.analysis)
    sites = select_sites(assets, args.site).copy()
    if args.acv_listed_on or args.acv_notified_on:
        from assets_map.community.routes import acv_dates

        acv_dates(listed_on=args.acv_listed_on, notified_on=args.acv_notified_on)  # refuse bad dates early
        sites["acv_listed_on"] = args.acv_listed_on
        sites["acv_notified_on"] = args.acv_notified_on
    facilities = read_facilities(args.facilities) if args.facilities else None
    doc = site_pack_html(sites, needs=needs, facilities=facilities, settings=settings, walk_m=args.walk,
                         parcels=_result_parcels(args.analysis))
    for path in write_site_pack(doc, html_path=args.html, pdf_path=args.pdf):
        print(f"wrote {path}")
    return 0


def _run_find_sites(args) -> int:
    from assets_map.community.finder import SiteBrief, find_sites
    from assets_map.community.partners import read_facilities

    assets, needs, settings = _read_analysis(args.analysis)
    near, near_name, radius = None, None, args.radius or 1500.0
    if args.near:
        place = _near_place(args, assets, needs)
        near, radius = (place.lon, place.lat), args.radius or place.radius_m
        near_name = None if place.kind == "point on the map" else place.label
        where = "" if place.kind == "point on the map" else f" at {place.lat:.5f}, {place.lon:.5f}"
        print(f"near: {place.label}{where}; within {radius:g} m")
    area = None
    if args.area:
        import shapely

        from assets_map.io.importer import import_file

        layer, _ = import_file(args.area, kind="exclusion")
        area = shapely.union_all(layer.geometry.to_numpy())
    areas = []
    if args.wards:
        from assets_map.io.importer import import_file

        areas.append(import_file(args.wards, kind="boundaries")[0])
    brief = SiteBrief(use=args.use, holding=args.holding, min_m2=args.min_size, max_m2=args.max_size, area=area,
                      area_crs="EPSG:27700", area_codes=tuple(args.area_code), near=near, near_name=near_name, radius_m=radius,
                      include_unflagged=args.include_unflagged)
    facilities = read_facilities(args.facilities) if args.facilities else None
    parcels = _result_parcels(args.analysis)
    ranked = find_sites(assets, brief, needs=needs, facilities=facilities, areas=areas, walk_m=args.walk,
                        limit=args.top, parcels=parcels)
    holding, lo, hi = brief.resolved()
    size = f"{lo:g}" if lo is not None else "any"
    size += f"-{hi:g} m2" if hi is not None else " m2 or more" if lo is not None else " size"
    print(f"brief: {ranked.attrs.get('use')}, {holding}, {size}, {ranked.attrs['area']}")
    print("; ".join(f"{k}: {v}" for k, v in ranked.attrs["funnel"].items()))
    for _, r in ranked.iterrows():
        print(f"{r['rank']:>3}. {r['name']} ({r['asset_id']}, {r['organisation']}): {r['fit_score']:.1f} points")
        print(f"     {r['why_ranked']}")
    if ranked.empty:
        print("no site matches: widen the area or the size range, or --include-unflagged")
    if args.out:
        _write_layer(ranked, args.out)
        print(f"wrote {args.out}")
    if args.pack and ranked.empty:
        print(f"no site pack written to {args.pack}: no site matches the brief", file=sys.stderr)
    if args.pack and not ranked.empty:
        from assets_map.community.sitepack import site_pack_html, write_site_pack

        text = f"Brief: {ranked.attrs.get('use')}, {holding}, {size}, {ranked.attrs['area']}"
        doc = site_pack_html(ranked, needs=needs, facilities=facilities, settings=settings, brief_text=text,
                             walk_m=args.walk, title=f"Sites for a {ranked.attrs.get('use')}", parcels=parcels)
        pdf = args.pack.lower().endswith(".pdf")
        for path in write_site_pack(doc, html_path=None if pdf else args.pack, pdf_path=args.pack if pdf else None):
            print(f"wrote {path}")
    return 0


_LON_LAT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


def _near_place(args, assets, needs):
    """The place ``--near`` names: LON,LAT, or the best match in the analysis, --postcodes and --wards."""
    from assets_map.engine.places import Gazetteer, point_place

    m = _LON_LAT.match(args.near)
    if m:
        return point_place(float(m.group(1)), float(m.group(2)))
    postcodes = wards = None
    if args.postcodes:
        from assets_map.io.importer import import_file

        postcodes = import_file(args.postcodes, kind="postcodes")[0]
    if args.wards:
        from assets_map.io.importer import import_file

        wards = import_file(args.wards, kind="wards")[0]
        wards = wards if "ward_code" in wards.columns and hasattr(wards, "geometry") else None
    found = Gazetteer(postcodes=postcodes, wards=wards, needs=needs, assets=assets).search(args.near)
    if not found:
        where = "the register's postcodes and addresses, the need areas" + (", the postcode directory" if postcodes is
                                                                          not None else " (add --postcodes FILE)")
        raise InputError(f"--near {args.near!r}: not a LON,LAT and no such place in {where}")
    if len(found) > 1:
        print("--near also matches: " + "; ".join(p.label for p in found[1:5]))
    return found[0]


def _negative_values(argv: list[str]) -> list[str]:
    """``--near -2.31,53.45`` as ``--near=-2.31,53.45``: argparse reads a value starting with '-' as an option."""
    out: list[str] = []
    it = iter(argv)
    for a in it:
        if a == "--near":
            value = next(it, None)
            out.append(a if value is None else f"{a}={value}")
        else:
            out.append(a)
    return out


def _add_import(sub) -> None:
    """``assets-map import FILE [--report report.json] [--out normalised.gpkg]``: one file in, its import report out.

    Exit 0 when the file is accepted (with or without warnings); exit 2 with a one-line cause when it is
    refused. ``--out`` is written atomically and only on success, so a refused import never harms an
    earlier output.
    """
    from assets_map.io.importer import ADAPTERS

    p = sub.add_parser(
        "import", help="import one register, brownfield, ERIC or deprivation file and report on every row",
        description="Read one file safely, normalise it to the canonical schema and report what happened to every "
                    "row: read, placed (and how), fixed, unplaced (why), rejected (why).")
    p.add_argument("file", help="CSV, Excel, GeoPackage, GeoJSON or Shapefile (.zip or .shp)")
    p.add_argument("--report", help="also write the import report as JSON (written when refused too); "
                                    "the summary is always printed")
    p.add_argument("--out", help="write the normalised layer to this GeoPackage (.gpkg)")
    p.add_argument("--adapter", choices=ADAPTERS, default="auto", help="kind of file (default: decided from its columns)")
    p.add_argument("--layer", help="layer (GeoPackage) or sheet (Excel) to read from a multi-layer file")
    p.add_argument("--postcodes", help="postcode directory CSV (postcode, lon, lat) to place register rows with only a postcode")
    p.add_argument("--locations", action="append", help="points or polygons with site codes or names, to place NHS ERIC sites (repeatable: add NHS trust head-office points with organisation codes to check every match against its trust's area)")
    p.add_argument("--owners", action="append", metavar="FILE", help="a lookup of organisation codes and names (e.g. the ONS local authority lookup LAD24CD/LAD24NM, or an NHS trust list) to name owners given as codes (repeatable)")
    p.add_argument("--boundaries", help="LSOA boundaries: for a deprivation file (the LSOA vintage is checked), or for "
                   "a register, to check each site against the local authority its owner names")
    p.add_argument("--keep-invalid", action="store_true", help="do not repair invalid geometries with make_valid")
    p.set_defaults(func=run_import)


def _write_json(path: Path, doc: dict) -> None:
    from assets_map.io.export import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")


def _check_import_locations(layer, report, boundaries):
    """``import``'s location check, as ``analyse`` does it: sites far outside their publisher's area marked and listed.

    The publisher's area is the local authority its name names among the ``--boundaries`` given, else the
    register's own cluster.
    """
    import geopandas as gpd

    from assets_map.engine.location import check_locations, location_summary
    from assets_map.io.importer import import_file

    needs = import_file(boundaries, kind="boundaries")[0] if boundaries else gpd.GeoDataFrame(geometry=[], crs=layer.crs)
    attrs = dict(layer.attrs)
    layer = check_locations(layer.to_crs(needs.crs) if needs.crs and layer.crs != needs.crs else layer, needs)
    layer.attrs.update(attrs)
    line = location_summary(layer)
    if line:
        marked = layer["location_check"].notna().to_numpy()
        report.add("warning", line, layer["source_row"].astype(int).to_numpy()[marked])
    return layer


def _ownership_file(path) -> bool:
    """Whether a CSV's header line is HM Land Registry's CCOD/OCOD layout (only that line is read here)."""
    import csv

    from assets_map.io.landregistry import is_ownership_file

    p = Path(path)
    if p.suffix.lower() != ".csv" or not p.is_file():
        return False
    with open(p, "rb") as fh:
        head = fh.readline(65536).decode("utf-8-sig", "replace")
    return is_ownership_file(next(csv.reader([head]), []))


def _import_ownership(args, out) -> int:
    """``import`` of a CCOD/OCOD file: recognised and summarised; its titles are placed by ``reconcile``."""
    from assets_map.community.ownership import ownership_summary
    from assets_map.io.landregistry import read_ownership

    if out is not None:
        raise InputError("holds titles and their proprietors, not sites: --out writes sites; use `assets-map "
                         "reconcile --ownership FILE --anchor NAME --postcodes FILE --out REPORT.xlsx`",
                         source=Path(args.file).name)
    own = read_ownership(args.file)
    lines = ownership_summary(own)
    for line in lines:
        print(f"{Path(args.file).name}: {line}")
    print("to place an anchor's titles and reconcile them with its register: assets-map reconcile --ownership "
          f"{Path(args.file).name} --anchor NAME --postcodes FILE [--register FILE] [--parcels FILE] --out REPORT.xlsx")
    if args.report:
        _write_json(Path(args.report), {"source": Path(args.file).name, "accepted": True, "kind": "ownership",
                                        "summary": lines})
    return 0


def run_import(args) -> int:
    """Run ``assets-map import``: read one file through the importer, write its report (and layer)."""
    from assets_map.io.export import write_gpkg
    from assets_map.io.importer import display_name, import_file

    report_path = Path(args.report) if args.report else None
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() != ".gpkg":
        raise InputError(f"--out must end in .gpkg (got {out.name})")
    if _ownership_file(args.file):
        return _import_ownership(args, out)
    try:
        layer, report = import_file(args.file, adapter=args.adapter, layer=args.layer, postcodes=args.postcodes,
                                    locations=args.locations, boundaries=args.boundaries, owners=args.owners,
                                    make_valid=not args.keep_invalid)
    except InputError as exc:
        if report_path is not None:
            _write_json(report_path, {"source": display_name(None, Path(args.file)), "accepted": False, "refused": str(exc),
                                      "problems": exc.problems})
        raise
    if layer.attrs.get("adapter") != "deprivation":
        layer = _check_import_locations(layer, report, args.boundaries)
    if out is not None:
        write_gpkg({"assets" if layer.attrs.get("adapter") != "deprivation" else "need_areas": layer}, out)
    doc = {"accepted": True, **report.to_dict()}
    if out is not None:
        doc["out"] = str(out)
    if report_path is not None:
        _write_json(report_path, doc)
    for line in report.summary_lines():
        print(line)
    written = [str(p) for p in (report_path, out) if p is not None]
    if written:
        print("wrote " + " and ".join(written))
    return 0


def _add_reconcile(sub) -> None:
    p = sub.add_parser(
        "reconcile", help="an anchor's titles in HM Land Registry's CCOD/OCOD against its register: "
                          "'not in your register' both ways, and possible disposals",
        description="Find an anchor's titles in CCOD/OCOD (by proprietorship category, its name, its legal forms, an "
                    "alias table or company numbers; each match says which rule), place them from their postcode and "
                    "address (in tiers: matched to a register asset, postcode with one parcel, postcode only, "
                    "unplaced), and list titles with no register asset and register assets with no title.")
    p.add_argument("--ownership", action="append", required=True, metavar="FILE",
                   help="CCOD or OCOD CSV as HM Land Registry publishes it, full or change-only (repeatable; a "
                        "change-only file's deletions of the anchor's titles are listed as possible disposals)")
    p.add_argument("--anchor", required=True, help="the anchor, e.g. 'Trafford Council'")
    p.add_argument("--aliases", action="append", default=[], metavar="FILE",
                   help="alias table CSV/Excel: columns anchor, alias (and company_number) naming other spellings "
                        "the anchor holds land under (repeatable)")
    p.add_argument("--register", help="the anchor's asset register (any file `import` reads)")
    p.add_argument("--postcodes", required=True, help="postcode directory CSV, to place titles from their postcode")
    p.add_argument("--parcels", action="append", default=[], metavar="FILE",
                   help="INSPIRE Index Polygons (repeatable), to place titles in freehold parcels")
    p.add_argument("--out", required=True, help="the report: .xlsx (a sheet to work through), .gpkg (a map layer) or "
                                                ".zip (CSV)")
    p.add_argument("--store", metavar="REGISTER",
                   help="the register store (SQLite file or postgresql:// URL) whose recorded decisions (confirmed or "
                        "rejected, with who, when and the note: the app's Land ownership page records them) fill the "
                        "report's decision columns, and whose kept aliases of the anchor are used with --aliases")
    p.set_defaults(func=_run_reconcile)


def _run_reconcile(args) -> int:
    from assets_map.community.ownership import anchor_register, disposals, read_anchor_files, reconcile
    from assets_map.io.export import export_file
    from assets_map.io.importer import import_file

    out = Path(args.out)
    fmt = {".xlsx": "xlsx", ".gpkg": "gpkg", ".zip": "csv", ".csv": "csv"}.get(out.suffix.lower())
    if fmt is None:
        raise InputError(f"--out must end in .xlsx, .gpkg, .zip or .csv (got {out.name})")
    kept = store = None
    if args.store:
        from assets_map.store import open_store
        from assets_map.store.decisions import stored_aliases

        store = open_store(args.store)
        kept = stored_aliases(store, args.anchor)  # the aliases the app's Land ownership page keeps, used alike
    ownership, changes, anchor = read_anchor_files(args.ownership, alias_files=args.aliases, anchor=args.anchor,
                                                   kept_aliases=kept)
    postcodes, _ = import_file(args.postcodes, kind="postcodes")
    parcels = None
    if args.parcels:
        from assets_map.io.landregistry import read_parcel_layers

        parcel_set = read_parcel_layers(args.parcels)
        parcels = parcel_set.frame
        for line in parcel_set.notes:
            print(f"parcels: {line}")
    register = None
    if args.register:
        register, report = import_file(args.register, postcodes=postcodes)
        if parcels is not None:
            from assets_map.engine.parcels import join_parcels

            register, _ = join_parcels(register, parcels)
    recorded = None
    if store is not None:
        from assets_map.store.commands import _cli_role
        from assets_map.store.decisions import decisions as recorded_decisions

        recorded = recorded_decisions(store, anchor.name, role=_cli_role())
        print(f"aliases kept in the register for {anchor.name}: {len(kept):,} used")
    register, chosen = anchor_register(register, anchor)  # as the app's Land ownership page chooses it
    rec = reconcile(ownership, anchor, register=register, postcodes=postcodes, parcels=parcels, decisions=recorded)
    if chosen:
        rec.notes.insert(0, chosen)
    if recorded is not None:
        print(f"decisions recorded in the register: {int(rec.rows['decision'].notna().sum()):,} carried into this "
              f"report ({len(recorded):,} recorded for {anchor.name})")
    layers = {"reconciliation": rec.rows}
    if changes is not None:
        layers["disposals"] = disposals(changes, anchor, held=ownership)
    if fmt == "csv" and out.suffix.lower() == ".csv" and len(layers) > 1:
        raise InputError(f"the report has {len(layers)} tables ({', '.join(layers)}): write it to a .zip, .xlsx or "
                         f".gpkg (got {out.name})")
    export_file(layers, fmt, out)
    print(f"{anchor.name}: {sum(rec.counts.values()):,} rows to work through: "
          + ", ".join(f"{n:,} {s}" for s, n in rec.counts.items()))
    for line in rec.notes:
        print(f"note: {line}")
    if "disposals" in layers:
        print(f"possible disposals in the change-only files: {len(layers['disposals']):,}")
    print(f"wrote {out}")
    return 0


def _add_parcels(sub) -> None:
    p = sub.add_parser("parcels", help="cache INSPIRE Index Polygons per local authority as partitioned GeoParquet",
                       description="Read each authority's INSPIRE Index Polygons (HM Land Registry's zip, GML, GeoJSON, "
                                   "GeoPackage or GeoParquet), repair them, and write them under DIR as "
                                   "authority=<name>/part.parquet; give DIR to analyse --parcels to join sites to "
                                   "England's parcels one authority at a time.")
    p.add_argument("files", nargs="+", metavar="FILE", help="one file per authority (its name is the authority's)")
    p.add_argument("--cache", required=True, metavar="DIR", help="the partitioned parcel cache to write into")
    p.set_defaults(func=_run_parcels)


def _run_parcels(args) -> int:
    from assets_map.io.landregistry import read_inspire, write_partitioned

    for f in args.files:
        parcels = read_inspire(f)
        target = write_partitioned(parcels, args.cache, Path(f).stem)
        print(f"{Path(f).name}: {len(parcels.frame):,} parcels -> {target.parent.name}"
              + "".join(f"; {n}" for n in parcels.notes))
    return 0


def _add_store(sub) -> None:
    from assets_map.store.casework_commands import add_parsers as add_casework
    from assets_map.store.commands import add_parser

    add_parser(sub)
    add_casework(sub)  # acv, notify, cases


def build_parser() -> argparse.ArgumentParser:
    """The ``assets-map`` argument parser with its ``analyse`` and ``store`` commands."""
    parser = argparse.ArgumentParser(
        prog="assets-map",
        description="Map anchor institutions' land and buildings against community need; "
                    "flag underused assets for community ownership, each with its reasons.")
    parser.add_argument("--version", action="version", version=f"assets-map {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors (for bug reports)")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_analyse(sub)
    _add_store(sub)
    _add_import(sub)
    _add_export(sub)
    _add_community(sub)
    _add_reconcile(sub)
    _add_parcels(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``assets-map`` command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 done; 2 a refused input or register, or a file that could not be read or
        written; 1 an unexpected error (one line on stderr; ``--debug`` shows the traceback); 130 interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(_negative_values(list(sys.argv[1:] if argv is None else argv)))
    try:
        return args.func(args)
    except (InputError, StoreError) as exc:  # refusals: the input or the register says no
        if args.debug:
            raise
        print(f"assets-map: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OSError, ValueError) as exc:
        if args.debug:
            raise
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"assets-map: error: {first}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("assets-map: interrupted; nothing was written", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line, with a way to get the traceback
        if args.debug:
            raise
        print(f"assets-map: error: unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              f"(run with --debug for a traceback)", file=sys.stderr)
        return EXIT_FAILURE


def run() -> None:
    """The ``assets-map`` command as a process: :func:`main`, then leave without tearing the run down.

    A run's frames (a million assets: GBs in many small objects) would otherwise be freed object by object on
    the way out after every file is written and closed (at 1M, 0.45 s from the last line to the exit, 0.27 s
    this way: the rest is the system taking the pages back). So the output streams and the log are flushed and
    the process leaves with main's status.
    Only after an analysis: its files are all closed by then (every writer closes its own). Every other command,
    ``--help`` and a usage error leave the usual way.
    """
    status = main()
    if not _HELD:  # no analysis result to leave behind: the usual way out (stores closed, handlers run)
        sys.exit(status)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (``| head``): nothing more to say on it
            pass
    logging.shutdown()
    os._exit(0 if status is None else int(status))  # as sys.exit(main()) would leave


if __name__ == "__main__":
    run()
