"""The ``assets-map`` command line.

Bad input ends in a non-zero exit and a one-line cause on stderr, never a
traceback (``--debug`` shows one for bug reports).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import __version__
from .report import InputError

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
    p.add_argument("--assets", required=True, help="asset register: CSV, GeoPackage, GeoJSON or Shapefile (.shp/.zip)")
    p.add_argument("--boundaries", required=True, help="LSOA boundaries (GeoJSON, GeoPackage or Shapefile)")
    p.add_argument("--deprivation", help="English Indices of Deprivation CSV (official, renamed or long form); "
                                         "optional when the boundaries carry the deprivation columns")
    p.add_argument("--postcodes", help="postcode directory CSV (postcode, lon, lat) to place rows without coordinates")
    p.add_argument("--exclude", action="append", default=[], metavar="FILE",
                   help="greenspace or allotment polygons whose land is never flagged (repeatable)")
    p.add_argument("--weights", help="domain weights for the composite need, e.g. income=2,health=1 (default: imd=1)")
    p.add_argument("--out", required=True, help="output GeoPackage (layers assets, candidates, needs)")
    p.add_argument("--csv", help="also write the candidates as CSV (UTF-8, lon/lat)")
    p.add_argument("--report", help="write the import report as JSON")
    p.set_defaults(func=_run_analyse)


def _run_analyse(args) -> int:
    from .analyse import analyse
    from .export import write_csv, write_gpkg

    out = Path(args.out)
    if out.suffix.lower() != ".gpkg":
        raise InputError(f"--out must end in .gpkg (got {out.name})")
    bar = ProgressBar()
    result = analyse(args.assets, args.boundaries, args.deprivation, postcodes=args.postcodes,
                     exclude=args.exclude, weights=args.weights, progress=bar)
    write_gpkg({"assets": result.assets, "candidates": result.candidates, "needs": result.needs}, out)
    if args.csv:
        write_csv(result.candidates, args.csv)
    if args.report:
        import json

        Path(args.report).write_text(json.dumps([r.to_dict() for r in result.reports], indent=2, default=str))
    print(f"assets-map {__version__}: analysis of {Path(args.assets).name}")
    for r in result.reports:
        for line in r.summary_lines()[1:]:
            print(line)
    for line in result.summary_lines():
        print(line)
    for w in result.warnings:
        print(f"warning: {w}")
    print(f"wrote {out} (layers assets, candidates, needs, data_dictionary)" + (f" and {args.csv}" if args.csv else ""))
    return 0


def _add_import(sub) -> None:
    """``assets-map import FILE --report report.json [--out normalised.gpkg]`` (see :mod:`assets_map.import_cli`)."""
    from .import_cli import add_import_parser

    add_import_parser(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assets-map",
        description="Map anchor institutions' land and buildings against community need; "
                    "flag underused assets for community ownership, each with its reasons.")
    parser.add_argument("--version", action="version", version=f"assets-map {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors (for bug reports)")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_analyse(sub)
    _add_import(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
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


if __name__ == "__main__":
    sys.exit(main())
