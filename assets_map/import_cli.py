"""The ``assets-map import`` subcommand: one file in, an import report (and a normalised GeoPackage) out.

Exit 0 when the file is accepted, with or without warnings; exit 2 with a
one-line cause when it is refused (the ``main`` of :mod:`assets_map.cli` turns
an :class:`~assets_map.report.InputError` into that line). ``--out`` is written
atomically and only on success, so a refused import never harms an earlier output.
"""
from __future__ import annotations

import json
from pathlib import Path

from .report import InputError


def add_import_parser(sub) -> None:
    from .importer import ADAPTERS

    p = sub.add_parser(
        "import", help="import one register, brownfield, ERIC or deprivation file and report on every row",
        description="Read one file safely, normalise it to the canonical schema and report what happened to every "
                    "row: read, placed (and how), fixed, unplaced (why), rejected (why).")
    p.add_argument("file", help="CSV, Excel, GeoPackage, GeoJSON or Shapefile (.zip or .shp)")
    p.add_argument("--report", required=True, help="write the import report as JSON (also written when refused)")
    p.add_argument("--out", help="write the normalised layer to this GeoPackage (.gpkg)")
    p.add_argument("--adapter", choices=ADAPTERS, default="auto", help="kind of file (default: decided from its columns)")
    p.add_argument("--layer", help="layer (GeoPackage) or sheet (Excel) to read from a multi-layer file")
    p.add_argument("--postcodes", help="postcode directory CSV (postcode, lon, lat) to place register rows with only a postcode")
    p.add_argument("--locations", help="points or polygons with site codes or names, to place NHS ERIC sites")
    p.add_argument("--boundaries", help="LSOA boundaries for a deprivation file (the LSOA vintage is checked)")
    p.add_argument("--keep-invalid", action="store_true", help="do not repair invalid geometries with make_valid")
    p.set_defaults(func=run_import)


def _write_json(path: Path, doc: dict) -> None:
    from .export import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")


def run_import(args) -> int:
    from .export import write_gpkg
    from .importer import display_name, import_file

    report_path = Path(args.report)
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() != ".gpkg":
        raise InputError(f"--out must end in .gpkg (got {out.name})")
    try:
        layer, report = import_file(args.file, adapter=args.adapter, layer=args.layer, postcodes=args.postcodes,
                                    locations=args.locations, boundaries=args.boundaries,
                                    make_valid=not args.keep_invalid)
    except InputError as exc:
        _write_json(report_path, {"source": display_name(None, Path(args.file)), "accepted": False, "refused": str(exc),
                                  "problems": exc.problems})
        raise
    if out is not None:
        write_gpkg({"assets" if layer.attrs.get("adapter") != "deprivation" else "need_areas": layer}, out)
    doc = {"accepted": True, **report.to_dict()}
    if out is not None:
        doc["out"] = str(out)
    _write_json(report_path, doc)
    for line in report.summary_lines():
        print(line)
    print(f"wrote {report_path}" + (f" and {out}" if out is not None else ""))
    return 0
