"""Reading user files safely: allow-listed formats, content sniffing, checked archives.

GDAL picks a driver by content, so a file named ``.geojson`` may really be a
VRT that reads other files on the server. Every file is therefore sniffed here
first, and only the drivers in :data:`ALLOWED_DRIVERS` are ever used. GDAL only
ever sees a private temporary copy with a name this module chose (``data.gpkg``,
``data.geojson``, ``data.shp``), never a path or URL a user typed or uploaded.

Every refusal is an :class:`~assets_map.report.InputError` with one line a
non-GIS user can act on.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import tempfile
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import geopandas as gpd
import pandas as pd
import pyogrio

from .report import InputError

_MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Size limits for one import; a file over any of them is refused before the costly work on it.

    Defaults (for the command line and a local user) come from the environment
    (``ASSETS_MAP_MAX_FILE_MB``, ``ASSETS_MAP_MAX_ZIP_MB``, ``ASSETS_MAP_MAX_ROWS``,
    ``ASSETS_MAP_MAX_FEATURE_VERTICES``, ``ASSETS_MAP_MAX_VERTICES``) so a deployment can
    change them without code changes; :data:`PUBLIC_LIMITS` is what a public visitor may upload.
    ``who`` names the budget in refusals (e.g. "a public upload").
    """

    max_file_bytes: int = int(os.environ.get("ASSETS_MAP_MAX_FILE_MB", "500")) * _MB
    max_zip_expanded: int = int(os.environ.get("ASSETS_MAP_MAX_ZIP_MB", "1000")) * _MB
    #: expanded / packed size above which an archive (or one member) is treated as a zip bomb ...
    max_zip_ratio: float = 100.0
    #: ... once it expands to more than this (small, very regular files compress well and are harmless)
    zip_ratio_floor: int = 10 * _MB
    max_zip_members: int = 200
    max_rows: int = int(os.environ.get("ASSETS_MAP_MAX_ROWS", "2000000"))
    max_columns: int = 1_000
    max_layers: int = 100
    #: coordinates in one feature (a polygon's rings, a line's points), and in the whole layer
    max_feature_vertices: int = int(os.environ.get("ASSETS_MAP_MAX_FEATURE_VERTICES", "5000000"))
    max_vertices: int = int(os.environ.get("ASSETS_MAP_MAX_VERTICES", "100000000"))
    who: str = "an import"

    def scaled(self, **changes) -> "Limits":
        """A copy with some limits changed (e.g. ``Limits().scaled(max_file_bytes=1_000_000)``)."""
        return replace(self, **changes)


DEFAULT_LIMITS = Limits()
#: What a public (not signed-in, not local) visitor of the app may upload: the file size matches the
#: shipped ``server.maxUploadSize`` (50 MB); every other door (CLI, scripts) uses :data:`DEFAULT_LIMITS`.
PUBLIC_LIMITS = Limits(max_file_bytes=50 * _MB, max_zip_expanded=200 * _MB, max_rows=250_000, max_columns=300,
                       max_layers=20, max_feature_vertices=200_000, max_vertices=5_000_000, who="a public upload")
# Kept for callers of the first version.
MAX_FILE_BYTES = DEFAULT_LIMITS.max_file_bytes
MAX_ZIP_EXPANDED = DEFAULT_LIMITS.max_zip_expanded
MAX_ZIP_RATIO = DEFAULT_LIMITS.max_zip_ratio
MAX_ZIP_MEMBERS = DEFAULT_LIMITS.max_zip_members

ALLOWED_DRIVERS = {"GPKG", "ESRI Shapefile", "GeoJSON"}
VECTOR_EXT = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile"}
TABLE_EXT = {".csv", ".txt", ".tsv"}
EXCEL_EXT = {".xls", ".xlsx"}
ALLOWED_EXT = set(VECTOR_EXT) | TABLE_EXT | EXCEL_EXT | {".zip"}
ACCEPTED_TEXT = "CSV, Excel (.xlsx/.xls), GeoPackage, GeoJSON, Shapefile (.zip with .shp/.shx/.dbf, or .shp)"
ARCHIVE_EXT = {".zip", ".gz", ".tgz", ".7z", ".rar", ".tar", ".bz2", ".xz", ".kmz", ".gzip", ".z"}
SHAPEFILE_SIDECARS = {".shx", ".dbf", ".prj", ".cpg", ".sbn", ".sbx", ".qix", ".fix", ".qmd", ".xml", ".aih", ".ain",
                      ".atx", ".ixs", ".mxs"}
#: GeoJSON ``crs`` names that need no lookup (everything else, e.g. a URL, is refused).
_CRS_NAME = re.compile(r"^(urn:ogc:def:crs:(EPSG:[0-9.]*:\d{3,6}|OGC:1\.3:CRS84)|EPSG:\d{3,6}|CRS84)$", re.I)


@dataclass
class Table:
    """A file's content: a plain table (CSV/Excel) or a vector layer.

    ``notes`` are what the reader did that the user should know (encoding, a
    missing .prj...); ``layers`` lists every layer or sheet the file holds.
    """

    frame: pd.DataFrame
    format: str
    name: str
    notes: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    layer: str | None = None
    header_row: int = 1
    #: physical lines of a text table, rows of a sheet, features of a layer (None: not counted)
    lines: int | None = None
    #: how the lines were used (header line, blank lines, line breaks inside cells)
    lines_note: str = ""

    @property
    def is_vector(self) -> bool:
        return isinstance(self.frame, gpd.GeoDataFrame)


# ------------------------------------------------------------------ sniffing

def _sniff(head: bytes) -> str:
    h = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "ole"  # legacy .xls
    if head[:4] == b"\x00\x00\x27\x0a":
        return "shp"
    if h.startswith(b"<"):
        return "xml"
    if h.startswith(b"{") or h.startswith(b"["):
        return "json"
    if b"\x00" in head[:1024] or head.startswith((b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"BZh", b"\xfd7zXZ")):
        return "binary"
    return "text"


_XML_DANGER = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)


def _xml_problem(head: bytes) -> str:
    """Why an XML file is refused, in words a non-GIS user can act on."""
    if _XML_DANGER.search(head):
        return ("contains XML with a DTD or entity declarations, which are refused "
                "(they can read files on the server or expand without limit)")
    if re.search(rb"<\s*OGRVRTDataSource", head, re.I):
        return ("is a GDAL virtual dataset (VRT), which can read other files on the server; "
                f"it is refused. Accepted: {ACCEPTED_TEXT}")
    return f"contains XML (for example KML, GML or a GDAL VRT), which is not accepted. Accepted: {ACCEPTED_TEXT}"


def _is_geopackage(head: bytes) -> bool:
    # GeoPackage sets the SQLite application_id (offset 68) to "GPKG" (or "GP10"/"GP11" before 1.2).
    return head.startswith(b"SQLite format 3\x00") and head[68:72] in (b"GPKG", b"GP10", b"GP11")


# ------------------------------------------------------------------ text tables

def decode_text(data: bytes, name: str) -> tuple[str, list[str]]:
    """UTF-8 (with or without BOM), else Windows-1252 with a note."""
    notes = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        notes.append("a UTF-8 byte-order mark was removed")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError("looks like UTF-16 text but cannot be decoded; save it as UTF-8 CSV", source=name) from None
        return text, ["the file is UTF-16; it was read as such"]
    try:
        return data.decode("utf-8"), notes
    except UnicodeDecodeError:
        notes.append("the file is not UTF-8; it was read as Windows-1252 (cp1252)")
        return data.decode("cp1252", errors="replace"), notes


def _delimiter(text: str, name: str) -> str:
    if name.lower().endswith(".tsv"):
        return "\t"
    line = re.split(r"\r\n|\r|\n", text[:65536], maxsplit=1)[0]
    try:
        first = next(iter(csv.reader([line])), [""])
    except csv.Error:
        first = [line]
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    if counts[best] == 0 or (len(first) > 1 and best != ","):
        return ","  # the header already splits on commas outside quotes
    return best


#: The longest cell a spreadsheet holds (Excel's limit). A quoted cell that runs over line breaks
#: and grows longer than this is a quote left open, not a value.
MAX_CELL_CHARS = 32_767
_QUOTE = '"'


@dataclass
class TextLines:
    """How the physical lines of a text table were used, for the import report."""

    total: int
    header_line: int
    blank: int
    in_cells: int  # line breaks inside quoted cells (multi-line addresses, say)

    def describe(self) -> str:
        """``"header on line 1; 3 line breaks inside quoted cells"`` style text."""
        parts = [f"header on line {self.header_line}"]
        if self.blank:
            parts.append(f"{self.blank} blank line(s)")
        if self.in_cells:
            parts.append(f"{self.in_cells} line break(s) inside quoted cells")
        return "; ".join(parts)


def _parse_records(text: str | list[str], delim: str, *, strict: bool = False):
    """CSV records with the physical line each starts on.

    Returns ``(rows, starts, blocks, lines, blank)``: the records with any value, the
    1-based line each starts on, the physical lines (endings kept) of each record that
    spans more than one (by record index), the number of lines, and lines with no value.
    Lines end at ``\\n``, ``\\r\\n`` or ``\\r``, as the csv module reads them.
    """
    buf: list[str] = []
    source = io.StringIO(text, newline="") if isinstance(text, str) else iter(text)

    def feed():
        for line in source:
            buf.append(line)
            yield line

    rows: list[list[str]] = []
    starts: list[int] = []
    blocks: dict[int, list[str]] = {}
    line = blank = 0
    for rec in csv.reader(feed(), delimiter=delim, strict=strict):
        # the reader takes exactly the lines of one record from the iterator before it yields it
        if any(c.strip() for c in rec):
            if len(buf) > 1:
                blocks[len(rows)] = list(buf)
            rows.append(rec)
            starts.append(line + 1)
        else:
            blank += len(buf)
        line += len(buf)
        buf.clear()
    return rows, starts, blocks, line, blank


def _body(line: str) -> str:
    return line.rstrip("\r\n")


def _one_line(line: str, delim: str) -> list[str]:
    """The cells of one physical line read on its own (as if it started a record)."""
    try:
        return next(csv.reader([_body(line)], delimiter=delim, strict=False), [])
    except csv.Error:
        return []


def _quoted_cells(lines: list[str], delim: str) -> list[tuple[int, int, int, int, int]]:
    """Quoted cells of a block of lines that hold a line break, found as the csv module reads quotes.

    Each is ``(line, position, column, last_line, length)``: the line index and position of
    its opening quote, its 0-based column in its record, the index of the line it closes on
    (the last line when it never closes) and its length in characters.
    """
    out = []
    state, col = "start", 0  # start | field | quoted | quote (a quote seen inside a quoted cell)
    cell = None
    for li, line in enumerate(lines):
        body = _body(line)
        i, n = 0, len(body)
        while i < n:
            if state == "start":
                ch = body[i]
                if ch == _QUOTE:
                    state, cell = "quoted", [li, i, col, li, 0]
                elif ch == delim:
                    col += 1
                else:
                    state = "field"
                i += 1
            elif state == "field":
                j = body.find(delim, i)
                if j < 0:
                    break
                state, col, i = "start", col + 1, j + 1
            elif state == "quoted":
                j = body.find(_QUOTE, i)
                if j < 0:
                    cell[4] += n - i
                    break
                cell[4] += j - i
                state, i = "quote", j + 1
            else:  # a quote inside a quoted cell: an escaped quote, or the cell's end
                ch = body[i]
                if ch == _QUOTE:
                    state, i = "quoted", i + 1
                    cell[4] += 1
                    continue
                if cell[3] > cell[0]:
                    out.append(tuple(cell))
                if ch == delim:
                    state, col = "start", col + 1
                else:  # text after the closing quote: the csv module keeps it in the same cell
                    state = "field"
                i += 1
        if state == "quoted":  # the line break belongs to the cell
            cell[3] = li + 1 if li + 1 < len(lines) else li
            cell[4] += len(line) - len(body)
            continue
        if state == "quote" and cell[3] > cell[0]:
            out.append(tuple(cell))
        state, col = "start", 0
    if state == "quoted" and cell[3] > cell[0]:
        out.append(tuple(cell))  # never closed: it ran to the end of the block
    return out


def _shape(text: str) -> str:
    """A value's shape: letters, digits and spaces collapsed (``"TMBC0001/T0000003"`` -> ``"a9/a9"``)."""
    s = re.sub(r"\d+", "9", text.strip())
    s = re.sub(r"[^\W\d_]+", "a", s)
    return re.sub(r"\s+", " ", s)[:40]


@dataclass
class _Shapes:
    """What the well-formed records of a file look like: their widths and how their first cell looks."""

    header: list[str]
    widths: set[int]
    starts: set[str]

    def looks_like_record(self, line: str, delim: str) -> bool:
        """Whether one physical line, read on its own, reads as a record of this file."""
        cells = _one_line(line, delim)
        if len(cells) < 2 or len(cells) not in self.widths:
            return False
        # With few columns a line of an address can have the right count by chance: ask for a usual first cell too.
        return len(self.header) >= 4 or _shape(cells[0]) in self.starts


def _literal_quote(lines: list[str], li: int, pos: int, delim: str) -> list[str]:
    """The block with the quote at ``lines[li][pos]`` read as a plain character (its cell quoted around it)."""
    line = lines[li]
    body = _body(line)
    end = body.find(delim, pos)
    end = len(body) if end < 0 else end
    cell = body[pos:end]
    fixed = body[:pos] + _QUOTE + cell.replace(_QUOTE, _QUOTE * 2) + _QUOTE + body[end:] + line[len(body):]
    return lines[:li] + [fixed] + lines[li + 1:]


def _resolve_block(lines: list[str], record: list[str], first_line: int, shapes: _Shapes, delim: str, name: str,
                   notes: list[str], depth: int = 0) -> list[tuple[list[str], int, int]] | None:
    """Records of one multi-line record whose quoted cell ran on into what look like records, or None when it is sound.

    A quoted cell is taken for a quote left open when the lines it swallowed read, on their
    own, as records of this file and the record is odd (its width is not the header's, its
    quotes are malformed, or it swallowed more than one such line), or when it is longer
    than any spreadsheet cell. It is then read again with that quote as a plain character;
    when that gives records of the file's widths throughout, they replace the merged
    record (with a note); otherwise the file is refused naming the line.

    Returns the records that replace it as ``(cells, first line, lines spanned)``.
    """
    try:
        list(csv.reader(lines, delimiter=delim, strict=True))
        malformed = False
    except csv.Error:
        malformed = True
    width = len(record)
    for li, pos, col, last, length in _quoted_cells(lines, delim):
        inner = range(li + 1, last + 1)
        like = [k for k in inner if shapes.looks_like_record(lines[k], delim)]
        too_long = length > MAX_CELL_CHARS
        odd = width not in shapes.widths or malformed or len(like) > 1
        if not (too_long or (like and odd)):
            continue
        at = first_line + li
        column = shapes.header[col] if col < len(shapes.header) else f"column {col + 1}"
        span = f"lines {at}-{first_line + last}"
        what = (f"a quote at the start of {column!r} on line {at} is never closed where the cell should end: "
                f"the cell runs over {last - li} line break(s)"
                + (f" into {len(like)} line(s) that read as records" if like else "")
                + (f" and {length:,} characters, more than a spreadsheet cell holds" if too_long else ""))
        try:
            rows, starts, blocks, _, _ = _parse_records(_literal_quote(lines, li, pos, delim), delim, strict=True)
        except csv.Error:
            rows = None
        odd_row = next((k for k, r in enumerate(rows) if len(r) not in shapes.widths), None) if rows else None
        if rows is None or depth >= 20 or odd_row is not None:
            why = (f"line {first_line + starts[odd_row] - 1} then has {len(rows[odd_row])} cells"
                   if odd_row is not None and depth < 20 else "its quotes still do not pair up")
            raise InputError(f"{what} ({span}); read with that quote as a plain character, the lines still do not "
                             f"all give records of the header's {len(shapes.header)} columns ({why}). Check the "
                             f"quotes on line {at}", source=name)
        notes.append(f"{what} ({span}); the quote was read as a plain character, giving {len(rows)} records of the "
                     f"header's columns instead of one: check that cell")
        out: list[tuple[list[str], int, int]] = []
        for k, (row, start) in enumerate(zip(rows, starts)):
            sub = blocks.get(k)
            again = (_resolve_block(sub, row, first_line + start - 1, shapes, delim, name, notes, depth + 1)
                     if sub else None)
            out += again if again is not None else [(row, first_line + start - 1, len(sub) if sub else 1)]
        return out
    return None


def _repair_runaway_quotes(rows: list[list[str]], starts: list[int], blocks: dict[int, list[str]], header: int,
                           delim: str, name: str) -> tuple[list[list[str]], list[int], list[int], list[str]]:
    """Every record merged by a quote left open split again (or the file refused).

    Returns the rows, the line each starts on, the lines each spans, and notes on what was done.
    """
    notes: list[str] = []
    spans = [1] * len(rows)
    for k, block in blocks.items():
        spans[k] = len(block)
    todo = sorted(k for k in blocks if k > header)
    if not todo:
        return rows, starts, spans, notes
    head = [str(h) for h in rows[header]]
    single = [r for k, r in enumerate(rows[header + 1:], header + 1) if k not in blocks]
    counts = pd.Series([len(r) for r in single], dtype="int64").value_counts() if single else pd.Series(dtype="int64")
    # the header's width, and any width at least 1% of the one-line records have (files that trim empty cells)
    widths = {len(head)} | {int(w) for w, n in counts.items() if n >= max(2, 0.01 * len(single))}
    shapes = _Shapes(head, widths, {_shape(r[0]) for r in single[:5000] if r})
    out_rows: list[list[str]] = []
    out_starts: list[int] = []
    out_spans: list[int] = []
    prev = 0
    for k in todo:
        out_rows += rows[prev:k]
        out_starts += starts[prev:k]
        out_spans += spans[prev:k]
        fixed = _resolve_block(blocks[k], rows[k], starts[k], shapes, delim, name, notes)
        for row, start, span in fixed if fixed is not None else [(rows[k], starts[k], spans[k])]:
            out_rows.append(row)
            out_starts.append(start)
            out_spans.append(span)
        prev = k + 1
    return out_rows + rows[prev:], out_starts + starts[prev:], out_spans + spans[prev:], notes


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
        return True
    except ValueError:
        return False


def find_header_row(rows: list[list[object]], scan: int = 30) -> int:
    """Index of the header row: the first of the top rows that is nearly as wide as the widest and mostly words.

    Registers often carry a title line, or a row of group names above the field
    names (NHS ERIC's two-row header); both are skipped.
    """
    top = rows[:scan]
    filled = [sum(1 for v in r if v is not None and str(v).strip() != "") for r in top]
    if not filled or max(filled) == 0:
        return 0
    widest = max(filled)
    for i, (row, n) in enumerate(zip(top, filled)):
        if n < max(1, 0.6 * widest):
            continue
        cells = [str(v).strip() for v in row if v is not None and str(v).strip() != ""]
        words = sum(1 for c in cells if not _is_number(c))
        if words >= 0.5 * len(cells):
            return i
    return 0


def unique_headers(raw: list[object]) -> tuple[list[str], list[str]]:
    """Header texts made unique and non-empty, with notes on what was changed."""
    notes: list[str] = []
    out: list[str] = []
    seen: dict[str, int] = {}
    blanks = 0
    for i, h in enumerate(raw):
        text = re.sub(r"\s+", " ", str(h if h is not None else "")).strip()
        if not text or text.lower() == "nan":
            text = f"column_{i + 1}"
            blanks += 1
        base = text
        if base.lower() in seen:
            seen[base.lower()] += 1
            text = f"{base}.{seen[base.lower()] - 1}"
            notes.append(f"column {base!r} appears more than once; copy {seen[base.lower()]} was kept as {text!r}")
        else:
            seen[base.lower()] = 1
        out.append(text)
    if blanks:
        notes.append(f"{blanks} column(s) had no header and were named column_N")
    return out, notes


def rows_to_frame(rows: list[list[object]], name: str, *, limits: Limits = DEFAULT_LIMITS,
                  header: int | None = None) -> tuple[pd.DataFrame, list[str], int]:
    """A grid of cells to a frame of text: header found, ragged rows padded, blanks as missing.

    Returns the frame, notes, and the 1-based line of the header row.
    """
    notes: list[str] = []
    if header is None:
        header = find_header_row(rows)
    if header > 0:
        notes.append(f"{header} line(s) above the header row were skipped (a title or grouped header)")
    cols, hnotes = unique_headers(rows[header]) if rows else ([], [])
    notes += hnotes
    body = rows[header + 1:]
    width = len(cols)
    long_rows = [i + 1 for i, r in enumerate(body) if len(r) > width and any(str(v).strip() for v in r[width:] if v is not None)]
    if long_rows:
        from .report import rows_text

        notes.append(f"{len(long_rows)} row(s) have more cells than the header; the extra cells were kept as "
                     f"extra_N columns ({rows_text(long_rows)})")
        extra = max(len(r) for r in body) - width
        cols = cols + [f"extra_{k + 1}" for k in range(extra)]
        width = len(cols)
    if width > limits.max_columns:
        raise InputError(f"has {width} columns; at most {limits.max_columns} are accepted", source=name)
    if len(body) > limits.max_rows:
        raise InputError(f"has {len(body)} rows; at most {limits.max_rows} are accepted", source=name)
    fixed = []
    for r in body:
        r = [None if v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and v != v)
             else (v.strip() if isinstance(v, str) else v) for v in r[:width]]
        if len(r) < width:
            r = r + [None] * (width - len(r))
        fixed.append(r)
    df = pd.DataFrame(fixed, columns=cols, dtype=object) if fixed else pd.DataFrame(columns=cols, dtype=object)
    return df, notes, header + 1


def read_csv_bytes(data: bytes, name: str, *, limits: Limits = DEFAULT_LIMITS) -> Table:
    """Read CSV/TSV bytes as text cells: encoding, delimiter and header row decided from the content.

    Quoted fields may hold line breaks; identifiers stay text (leading zeros kept). A quote
    left open, whose cell runs on over line breaks into what read as records, is read as a
    plain character when that gives records of the header's width (with a note naming the
    line), else the file is refused naming the line: rows are never merged silently.
    """
    text, notes = decode_text(data, name)
    if not text.strip():
        raise InputError("the file is empty", source=name)
    if "\x00" in text:
        raise InputError("contains NUL bytes: it is not a text table (is it a binary file renamed .csv?)", source=name)
    delim = _delimiter(text, name)
    if delim != ",":
        notes.append(f"columns are separated by {'tabs' if delim == chr(9) else repr(delim)}")
    csv.field_size_limit(min(limits.max_file_bytes, 2**31 - 1))
    try:
        rows, starts, blocks, total, _ = _parse_records(text, delim)
    except csv.Error as exc:
        raise InputError(f"could not be read as CSV: {exc}", source=name) from None
    if not rows:
        raise InputError("the file is empty", source=name)
    header = find_header_row(rows)
    rows, starts, spans, fixed = _repair_runaway_quotes(rows, starts, blocks, header, delim, name)
    used = sum(spans)
    lines = TextLines(total, starts[header], total - used, used - len(rows))
    df, more, header_line = rows_to_frame(rows, name, limits=limits, header=header)
    return Table(df, "csv", name, notes + fixed + more, header_row=header_line, lines=total,
                 lines_note=lines.describe())


# ------------------------------------------------------------------ GeoJSON

def _check_geojson(data: bytes, name: str) -> list[str]:
    """Refuse what GDAL should never see in a GeoJSON: a crs link or URL, repeated top-level keys, non-GeoJSON."""
    dupes: set[str] = set()

    def hook(pairs):
        keys = [k for k, _ in pairs]
        for k in ("type", "crs", "features"):
            if keys.count(k) > 1:
                dupes.add(k)
        return dict(pairs)

    try:
        doc = json.loads(data.decode("utf-8-sig"), object_pairs_hook=hook)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"is not valid GeoJSON ({type(exc).__name__}: {str(exc)[:120]})", source=name) from None
    except RecursionError:
        raise InputError("is not valid GeoJSON (nested too deeply)", source=name) from None
    if dupes:
        raise InputError(f"repeats the key(s) {', '.join(sorted(dupes))}; a GeoJSON object may give each only once", source=name)
    if not isinstance(doc, dict) or doc.get("type") not in ("FeatureCollection", "Feature"):
        raise InputError("is JSON but not a GeoJSON FeatureCollection or Feature", source=name)
    notes: list[str] = []
    crs = doc.get("crs")
    if crs is not None:
        if not isinstance(crs, dict):
            raise InputError("has a 'crs' member that is not an object", source=name)
        kind = str(crs.get("type", "")).lower()
        props = crs.get("properties") if isinstance(crs.get("properties"), dict) else {}
        if kind == "link" or "href" in props:
            raise InputError("declares its CRS by a link, which assets-map never fetches; "
                             "give the CRS by name (e.g. EPSG:27700)", source=name)
        crs_name = str(props.get("name", ""))
        if kind != "name" or not _CRS_NAME.match(crs_name.strip()):
            raise InputError(f"declares its CRS as {crs_name[:80]!r}; only EPSG codes (e.g. "
                             "urn:ogc:def:crs:EPSG::27700) are accepted", source=name)
    return notes


# ------------------------------------------------------------------ vector layers

def list_vector_layers(path: Path, name: str) -> list[str]:
    try:
        info = pyogrio.list_layers(path)
    except Exception as exc:  # GDAL's own message, shortened
        raise InputError(f"could not be opened as a map layer: {_first_line(exc)}", source=name) from None
    return [str(l[0]) for l in info]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    # never echo a server path back to the user
    return re.sub(r"(?<![\w.])/[^\s:'\"]+", "<file>", text)[:200]


def _read_vector(path: Path, name: str, layer: str | None, limits: Limits = DEFAULT_LIMITS
                 ) -> tuple[gpd.GeoDataFrame, list[str], str]:
    layers = list_vector_layers(path, name)
    if not layers:
        raise InputError("holds no layers", source=name)
    if len(layers) > limits.max_layers:
        raise InputError(f"holds {len(layers)} layers; at most {limits.max_layers} are accepted", source=name)
    if layer is None:
        if len(layers) > 1:
            raise InputError(f"holds {len(layers)} layers ({', '.join(layers[:12])}); choose one "
                             "(--layer on the command line, or the layer box in the app)", source=name)
        layer = layers[0]
    elif layer not in layers:
        raise InputError(f"has no layer named {layer!r} (layers: {', '.join(layers[:12])})", source=name)
    try:
        info = pyogrio.read_info(path, layer=layer)
    except Exception as exc:
        raise InputError(f"could not be read: {_first_line(exc)}", source=name) from None
    driver = info.get("driver")
    if driver not in ALLOWED_DRIVERS:
        raise InputError(f"is a {driver} file, which is not an accepted format", source=name)
    count = info.get("features")
    if count is not None and count > limits.max_rows:
        raise InputError(f"has {count} features; at most {limits.max_rows} are accepted", source=name)
    if len(info.get("fields", ())) > limits.max_columns:
        raise InputError(f"has {len(info['fields'])} columns; at most {limits.max_columns} are accepted", source=name)
    try:
        gdf = gpd.read_file(path, layer=layer, engine="pyogrio", on_invalid="ignore", use_arrow=True)  # 5x faster at 1M rows
    except Exception as exc:
        raise InputError(f"could not be read: {_first_line(exc)}", source=name) from None
    return gdf, layers, layer


# ------------------------------------------------------------------ archives

#: What the zip module raises on a damaged archive.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError,
               struct.error, IndexError, KeyError, OverflowError)


def _member_problems(infos: list[zipfile.ZipInfo], name: str, limits: Limits) -> None:
    if len(infos) > limits.max_zip_members:
        raise InputError(f"holds {len(infos)} files; at most {limits.max_zip_members} are accepted", source=name)
    total = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    if total > limits.max_zip_expanded:
        raise InputError(f"would expand to {total / 1e6:.0f} MB, over the {limits.max_zip_expanded / 1e6:.0f} MB limit", source=name)
    if total > limits.zip_ratio_floor and total / packed > limits.max_zip_ratio:
        raise InputError(f"expands {total / packed:.0f} times (a possible zip bomb); archives over "
                         f"{limits.max_zip_ratio:.0f}x are refused", source=name)
    for i in infos:
        if i.file_size > limits.zip_ratio_floor and i.file_size / max(1, i.compress_size) > limits.max_zip_ratio:
            raise InputError(f"member {PurePosixPath(i.filename).name!r} expands "
                             f"{i.file_size / max(1, i.compress_size):.0f} times (a possible zip bomb); refused", source=name)
        fname = i.filename.replace("\\", "/")
        p = PurePosixPath(fname)
        if (p.is_absolute() or ".." in p.parts or re.match(r"^[A-Za-z]:", fname) or "\x00" in fname):
            raise InputError(f"contains an unsafe path {i.filename[:80]!r} (absolute, or climbing out with '..')", source=name)
        mode = i.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise InputError(f"contains a symbolic link {p.name!r}; links are refused", source=name)
        if i.flag_bits & 0x1:
            raise InputError("is password-protected; upload an unencrypted archive", source=name)


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: list[int], name: str) -> None:
    """Extract one member under a running size budget (a header can lie about sizes)."""
    try:
        with zf.open(info) as src, open(target, "wb") as dst:
            while True:
                chunk = src.read(1 << 20)
                if not chunk:
                    break
                budget[0] -= len(chunk)
                if budget[0] < 0:
                    raise InputError("expands beyond the size limit while unpacking (a possible zip bomb); refused", source=name)
                dst.write(chunk)
    except InputError:
        raise
    except _ZIP_ERRORS as exc:
        raise InputError(f"could not be unpacked: {PurePosixPath(info.filename).name!r} is damaged ({_first_line(exc)})",
                         source=name) from None


def _unpack_zip(path: Path, name: str, workdir: Path, limits: Limits) -> tuple[Path, str, list[str]]:
    """Check a zip before extracting anything, then extract its one dataset under names chosen here.

    Returns the extracted dataset's path, its name inside the archive, and notes.
    """
    notes: list[str] = []
    try:
        zf = zipfile.ZipFile(path)
    except _ZIP_ERRORS as exc:
        raise InputError(f"is not a readable zip archive ({_first_line(exc)})", source=name) from None
    with zf:
        try:
            infos = [i for i in zf.infolist() if not i.is_dir()]
        except Exception as exc:  # a corrupt central directory
            raise InputError(f"is not a readable zip archive ({_first_line(exc)})", source=name) from None
        _member_problems(infos, name, limits)
        real = [i for i in infos if not (PurePosixPath(i.filename.replace("\\", "/")).name.startswith(".")
                                         or "__MACOSX" in i.filename)]
        for i in real:
            ext = PurePosixPath(i.filename).suffix.lower()
            if ext in ARCHIVE_EXT:
                raise InputError(f"contains another archive ({PurePosixPath(i.filename).name!r}); "
                                 "archives inside archives are refused: unpack it and upload the file inside", source=name)
        stems: dict[str, dict[str, zipfile.ZipInfo]] = {}
        datasets: list[tuple[str, list[zipfile.ZipInfo]]] = []
        ignored: list[str] = []
        for i in real:
            p = PurePosixPath(i.filename.replace("\\", "/"))
            ext = p.suffix.lower()
            if ext == ".xml" and p.name.lower().endswith(".shp.xml"):
                stems.setdefault(str(p)[: -len(".shp.xml")].lower(), {})[".shp.xml"] = i
            elif ext == ".shp" or ext in SHAPEFILE_SIDECARS:
                stems.setdefault(str(p.with_suffix("")).lower(), {})[ext] = i
            elif ext in ALLOWED_EXT:
                datasets.append((p.name, [i]))
            else:
                ignored.append(p.name)
        for stem, parts in stems.items():
            if ".shp" in parts:
                datasets.append((PurePosixPath(parts[".shp"].filename).name, list(parts.values())))
        orphan = [s for s, parts in stems.items() if ".shp" not in parts and (".dbf" in parts or ".shx" in parts)]
        if not datasets:
            if orphan:
                have = sorted(e for e in stems[orphan[0]] if e in (".dbf", ".shx", ".prj"))
                raise InputError(f"holds a Shapefile's {', '.join(have)} but not its .shp file; "
                                 "zip the .shp, .shx, .dbf and .prj together", source=name)
            raise InputError(f"holds no file assets-map can read (accepted: {ACCEPTED_TEXT})", source=name)
        if len(datasets) > 1:
            names = ", ".join(d for d, _ in datasets[:6])
            raise InputError(f"holds {len(datasets)} datasets ({names}); upload one dataset per archive", source=name)
        if ignored:
            notes.append(f"ignored in the archive: {', '.join(ignored[:8])}" + (" ..." if len(ignored) > 8 else ""))
        inner, members = datasets[0]
        budget = [limits.max_zip_expanded]
        ext = PurePosixPath(inner).suffix.lower()
        if ext == ".shp":
            have = {PurePosixPath(m.filename).suffix.lower() if not m.filename.lower().endswith(".shp.xml") else ".shp.xml": m
                    for m in members}
            missing = [e for e in (".shx", ".dbf") if e not in have]
            if missing:
                raise InputError(f"is missing the Shapefile's {' and '.join(missing)} file "
                                 f"({inner} needs .shp, .shx and .dbf together)", source=name)
            if ".prj" not in have:
                notes.append("the Shapefile has no .prj (its coordinate system); the CRS was decided from the coordinates")
            if ".cpg" not in have:
                notes.append("the Shapefile has no .cpg (its text encoding); text was read as the .dbf declares, else UTF-8/Latin-1")
            for ext_, m in have.items():
                if ext_ in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
                    _copy_member(zf, m, workdir / ("data" + ext_), budget, name)
            return workdir / "data.shp", inner, notes
        target = workdir / ("data" + ext)
        _copy_member(zf, members[0], target, budget, name)
        return target, inner, notes


def _check_xlsx(path: Path, name: str, limits: Limits) -> None:
    """An .xlsx is a zip of XML parts: check it like any archive, and refuse DTDs or entities in any part."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            _member_problems(infos, name, limits)
            if not any(i.filename == "[Content_Types].xml" for i in infos):
                raise InputError("is named .xlsx but is not an Excel workbook", source=name)
            for i in infos:
                if i.filename.lower().endswith((".xml", ".rels", ".vml")):
                    with zf.open(i) as fh:
                        tail = b""
                        while True:
                            chunk = fh.read(1 << 20)
                            if not chunk:
                                break
                            if _XML_DANGER.search(tail + chunk):
                                raise InputError(f"{_xml_problem(tail + chunk)} (in the workbook part {i.filename})", source=name)
                            tail = chunk[-16:]
    except InputError:
        raise
    except _ZIP_ERRORS as exc:
        raise InputError(f"is not a readable Excel workbook ({_first_line(exc)})", source=name) from None


def _excel_file(path: Path, name: str, limits: Limits) -> pd.ExcelFile:
    with open(path, "rb") as fh:
        kind = _sniff(fh.read(8))
    if kind == "zip":
        _check_xlsx(path, name, limits)
        kwargs = {"engine": "openpyxl"}
    else:
        kwargs = {"engine": "xlrd", "engine_kwargs": {"logfile": io.StringIO()}}  # xlrd chatters on stdout
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pd.ExcelFile(path, **kwargs)
    except Exception as exc:  # xlrd/openpyxl raise many kinds of error on a broken workbook
        raise InputError(f"could not be read as an Excel workbook ({_first_line(exc)})", source=name) from None


def excel_sheets(path: str | os.PathLike, *, name: str | None = None, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Sheet names of a checked Excel workbook."""
    path = Path(path)
    with _excel_file(path, name or path.name, limits) as xf:
        return [str(s) for s in xf.sheet_names]


def _read_excel(path: Path, name: str, layer: str | None, limits: Limits, prefer: tuple[str, ...] = ()) -> Table:
    with _excel_file(path, name, limits) as xf:
        sheets = [str(s) for s in xf.sheet_names]
        notes: list[str] = []
        if not sheets:
            raise InputError("holds no sheets", source=name)
        if layer is None:
            chosen = next((s for s in prefer if s in sheets), None)
            if chosen:
                layer = chosen
                if len(sheets) > 1:
                    notes.append(f"sheet {chosen!r} was read (the workbook also holds "
                                 f"{', '.join(s for s in sheets if s != chosen)})")
            elif len(sheets) > 1:
                raise InputError(f"holds {len(sheets)} sheets ({', '.join(sheets[:12])}); choose one "
                                 "(--layer on the command line, or the sheet box in the app)", source=name)
            else:
                layer = sheets[0]
        elif layer not in sheets:
            raise InputError(f"has no sheet named {layer!r} (sheets: {', '.join(sheets[:12])})", source=name)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                grid = xf.parse(sheet_name=layer, dtype=str, header=None)
        except Exception as exc:
            raise InputError(f"could not be read as an Excel workbook ({_first_line(exc)})", source=name) from None
    if grid.shape[1] > limits.max_columns:
        raise InputError(f"has {grid.shape[1]} columns; at most {limits.max_columns} are accepted", source=name)
    if len(grid) > limits.max_rows:
        raise InputError(f"has {len(grid)} rows; at most {limits.max_rows} are accepted", source=name)
    grid = grid.astype(object).where(grid.notna(), None)
    return Table(grid, "excel", name, notes, layers=sheets, layer=layer, header_row=0, lines=len(grid))


def excel_frame(table: Table) -> Table:
    """An Excel sheet (raw grid, as :func:`open_table` returns it) with its header row found and applied."""
    if table.format != "excel" or table.header_row != 0:
        return table
    rows = [list(r) for r in table.frame.itertuples(index=False, name=None)]
    rows = [r for r in rows if any(v is not None and str(v).strip() for v in r)]
    if not rows:
        raise InputError("the sheet is empty", source=table.name)
    df, notes, header_line = rows_to_frame(rows, table.name)
    return Table(df, "excel", table.name, table.notes + notes, table.layers, table.layer, header_line,
                 lines=table.lines)


# ------------------------------------------------------------------ the entry point

def _private_copy(src: Path, workdir: Path, ext: str, limits: Limits, name: str) -> Path:
    target = workdir / ("data" + ext)
    with open(src, "rb") as fi, open(target, "wb") as fo:
        copied = 0
        while True:
            chunk = fi.read(1 << 20)
            if not chunk:
                break
            copied += len(chunk)
            if copied > limits.max_file_bytes:
                raise InputError(f"is over the {limits.max_file_bytes / 1e6:.0f} MB limit", source=name)
            fo.write(chunk)
    return target


def open_table(path: str | os.PathLike, *, name: str | None = None, layer: str | None = None,
               limits: Limits | None = None, prefer_layers: tuple[str, ...] = (), _depth: int = 0) -> Table:
    """Open one user file as a table or vector layer, refusing anything not allow-listed.

    Parameters
    ----------
    path : path of the file on disk (uploads are first written to a private temporary file)
    name : the name to show in messages (the upload's name); defaults to the file name.
        Its extension, with the content, decides how the file is read.
    layer : the layer (GeoPackage) or sheet (Excel) to read from a multi-layer file
    limits : size limits (:data:`DEFAULT_LIMITS` when None)
    prefer_layers : when ``layer`` is None and the file holds several sheets, the first of these
        present is read (with a note) instead of asking the user to choose

    Returns
    -------
    Table : the content; Excel sheets come back as a raw grid (``header_row == 0``),
        see :func:`excel_frame`.

    Raises
    ------
    InputError : the file is refused, with a one-line cause naming it
    """
    limits = limits or DEFAULT_LIMITS
    path = Path(path)
    name = Path(str(name)).name if name else path.name
    ext = Path(name).suffix.lower()
    if ext not in ALLOWED_EXT:
        raise InputError(f"has extension {ext or '(none)'!r}; accepted: {ACCEPTED_TEXT}", source=name)
    if not path.is_file():
        raise InputError("was not found", source=name)
    size = path.stat().st_size
    if size == 0:
        raise InputError("the file is empty", source=name)
    if size > limits.max_file_bytes:
        raise InputError(f"is {size / 1e6:.1f} MB, over the {limits.max_file_bytes / 1e6:.1f} MB limit", source=name)
    with open(path, "rb") as fh:
        head = fh.read(65536)
    kind = _sniff(head)
    if kind == "xml":
        raise InputError(_xml_problem(head), source=name)
    if ext in TABLE_EXT:
        if kind not in ("text", "json"):
            raise InputError(f"is named {ext} but is not a text table (its content looks like {kind})", source=name)
        return read_csv_bytes(path.read_bytes(), name, limits=limits)
    if ext in EXCEL_EXT:
        if (ext == ".xls" and kind != "ole") or (ext == ".xlsx" and kind != "zip"):
            raise InputError(f"is named {ext} but is not an Excel workbook", source=name)
        return _read_excel(path, name, layer, limits, prefer_layers)
    if ext == ".zip":
        if kind != "zip":
            raise InputError("is named .zip but is not a zip archive", source=name)
        if _depth:
            raise InputError("contains another archive; archives inside archives are refused", source=name)
        with tempfile.TemporaryDirectory(prefix="assets_map_zip_") as tmp:
            inner_path, inner, notes = _unpack_zip(path, name, Path(tmp), limits)
            if inner_path.suffix == ".shp":
                gdf, layers, chosen = _read_vector(inner_path, name, None, limits)
                return Table(gdf, "shapefile (zip)", name, notes, layers, chosen, lines=len(gdf))
            t = open_table(inner_path, name=f"{name}/{inner}" if inner else name, layer=layer, limits=limits,
                           prefer_layers=prefer_layers, _depth=1)
            t.notes = notes + t.notes
            t.format = f"{t.format} (zip)"
            return t
    driver = VECTOR_EXT[ext]
    if driver == "GPKG" and not _is_geopackage(head):
        raise InputError("is named .gpkg but is not a GeoPackage" + (" (it is another SQLite database)" if kind == "sqlite" else ""), source=name)
    if driver == "GeoJSON" and kind != "json":
        raise InputError(f"is named {ext} but its content is not GeoJSON", source=name)
    if driver == "ESRI Shapefile" and kind != "shp":
        raise InputError("is named .shp but is not a Shapefile", source=name)
    notes: list[str] = []
    if driver == "GeoJSON":
        notes += _check_geojson(path.read_bytes(), name)
    with tempfile.TemporaryDirectory(prefix="assets_map_vec_") as tmp:
        work = Path(tmp)
        if driver == "ESRI Shapefile":
            sides = {e: _sidecar(path, e) for e in (".shx", ".dbf", ".prj", ".cpg")}
            missing = [e for e in (".shx", ".dbf") if sides[e] is None]
            if missing:
                raise InputError(f"is missing the Shapefile's {' and '.join(missing)} file (upload the Shapefile "
                                 "as a .zip holding its .shp, .shx, .dbf and .prj)", source=name)
            if sides[".prj"] is None:
                notes.append("the Shapefile has no .prj (its coordinate system); the CRS was decided from the coordinates")
            if sides[".cpg"] is None:
                notes.append("the Shapefile has no .cpg (its text encoding); text was read as the .dbf declares, else UTF-8/Latin-1")
            for e, p in sides.items():
                if p is not None:
                    _private_copy(p, work, e, limits, name)
        local = _private_copy(path, work, {"GPKG": ".gpkg", "GeoJSON": ".geojson", "ESRI Shapefile": ".shp"}[driver],
                              limits, name)
        gdf, layers, chosen = _read_vector(local, name, layer, limits)
    return Table(gdf, driver.lower(), name, notes, layers, chosen, lines=len(gdf))


def _sidecar(shp: Path, ext: str) -> Path | None:
    for cand in (shp.with_suffix(ext), shp.with_suffix(ext.upper())):
        if cand.is_file():
            return cand
    return None


def layers_of(path: str | os.PathLike, *, name: str | None = None, limits: Limits | None = None) -> list[str]:
    """Layers (GeoPackage) or sheets (Excel) a file holds, after the same checks as :func:`open_table`.

    One-layer formats return an empty list.
    """
    limits = limits or DEFAULT_LIMITS
    path = Path(path)
    name = Path(str(name)).name if name else path.name
    ext = Path(name).suffix.lower()
    if ext in EXCEL_EXT:
        with open(path, "rb") as fh:
            kind = _sniff(fh.read(8))
        if (ext == ".xls" and kind != "ole") or (ext == ".xlsx" and kind != "zip"):
            raise InputError(f"is named {ext} but is not an Excel workbook", source=name)
        if path.stat().st_size > limits.max_file_bytes:
            raise InputError(f"is over the {limits.max_file_bytes / 1e6:.1f} MB limit", source=name)
        return excel_sheets(path, name=name, limits=limits)
    if ext == ".gpkg":
        with open(path, "rb") as fh:
            head = fh.read(100)
        if not _is_geopackage(head):
            raise InputError("is named .gpkg but is not a GeoPackage", source=name)
        if path.stat().st_size > limits.max_file_bytes:
            raise InputError(f"is over the {limits.max_file_bytes / 1e6:.1f} MB limit", source=name)
        with tempfile.TemporaryDirectory(prefix="assets_map_vec_") as tmp:
            local = _private_copy(path, Path(tmp), ".gpkg", limits, name)
            return list_vector_layers(local, name)
    return []


def copy_to_private(data: bytes, name: str, workdir: Path) -> Path:
    """Write uploaded bytes to a private file whose name this module chooses (only the extension is kept)."""
    ext = Path(str(name)).suffix.lower()
    if ext not in ALLOWED_EXT:
        ext = ".bin"
    target = workdir / ("upload" + ext)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return target


__all__ = ["ALLOWED_DRIVERS", "ALLOWED_EXT", "DEFAULT_LIMITS", "Limits", "Table", "copy_to_private",
           "decode_text", "excel_frame", "excel_sheets", "find_header_row", "layers_of", "open_table",
           "read_csv_bytes", "rows_to_frame", "unique_headers"]
