"""Reading user files safely: allow-listed formats, content sniffing, checked archives.

GDAL picks a driver by content, so a file named ``.geojson`` may really be a
VRT that reads other files on the server. Every file is therefore sniffed here
first, and only the drivers in :data:`ALLOWED_DRIVERS` are ever used. GDAL only
ever sees a private temporary copy with a name this module chose (``data.gpkg``,
``data.geojson``, ``data.shp``), never a path or URL a user typed or uploaded.

Every refusal is an :class:`~assets_map.io.report.InputError` with one line a
non-GIS user can act on.
"""
from __future__ import annotations

import bisect
import contextlib
import contextvars
import csv
import io
import json
import os
import re
import stat
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Collection

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from assets_map.engine.arrays import paused_gc
from assets_map.io.merged import fill_merged_down
from assets_map.io.normalise import blank_cells
from assets_map.io.report import InputError
from assets_map.io.sheets import pick_data_sheet, quiet_warnings
from assets_map.io.titles import title_lines

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

    @property
    def for_who(self) -> str:
        """" for a public upload" (the budget named in a refusal), or "" for the default limits."""
        return "" if self.who == Limits.who else f" for {self.who}"

    def check_vertices(self, geometry, name: str, *, first_row: int = 1) -> None:
        """Refuse a layer with a feature, or in all, over the vertex budget (counted without copying).

        Parameters
        ----------
        geometry : array-like of shapely geometries (a GeoSeries or its ``.values``)
        name : the file name for the message
        first_row : the row number of the first geometry (1 for a layer's first feature)

        Raises
        ------
        InputError : naming the row, its vertex count and the budget
        """
        counts = shapely.get_num_coordinates(np.asarray(geometry, dtype=object))
        if not len(counts):
            return
        worst = int(np.argmax(counts))
        if counts[worst] > self.max_feature_vertices:
            raise InputError(f"{int(counts[worst]):,} vertices in row {worst + first_row}, above the "
                             f"{self.max_feature_vertices:,} {self.who} may hold in one feature", source=name)
        total = int(counts.sum())
        if total > self.max_vertices:
            raise InputError(f"{total:,} vertices in all, above the {self.max_vertices:,} {self.who} may hold",
                             source=name)

    def scaled(self, **changes) -> "Limits":
        """A copy with some limits changed (e.g. ``Limits().scaled(max_file_bytes=1_000_000)``)."""
        return replace(self, **changes)


DEFAULT_LIMITS = Limits()
_IN_FORCE: contextvars.ContextVar[Limits] = contextvars.ContextVar("assets_map_limits", default=DEFAULT_LIMITS)


def current_limits() -> Limits:
    """The limits readers use when a call gives none: :data:`DEFAULT_LIMITS` unless :func:`using_limits` says otherwise."""
    return _IN_FORCE.get()


@contextlib.contextmanager
def using_limits(limits: Limits | None):
    """Within the block, every reader called without explicit limits uses ``limits`` (None: no change).

    The app wraps a visitor's uploads in their budget this way, so every reader (register,
    boundaries, deprivation, postcodes, wards, facilities) applies it, not only the ones
    that take a ``limits`` argument.
    """
    if limits is None:
        yield current_limits()
        return
    token = _IN_FORCE.set(limits)
    try:
        yield limits
    finally:
        _IN_FORCE.reset(token)


#: What a public (not signed-in, not local) visitor of the app may upload: the file size matches the
#: shipped ``server.maxUploadSize`` (50 MB, which the browser counts as 50,000,000 bytes on Linux and
#: macOS); every other door (CLI, scripts) uses :data:`DEFAULT_LIMITS`.
PUBLIC_LIMITS = Limits(max_file_bytes=50_000_000, max_zip_expanded=200 * _MB, max_rows=250_000, max_columns=300,
                       max_layers=20, max_feature_vertices=200_000, max_vertices=5_000_000, who="a public upload")
# Kept for callers of the first version.
MAX_FILE_BYTES = DEFAULT_LIMITS.max_file_bytes
MAX_ZIP_EXPANDED = DEFAULT_LIMITS.max_zip_expanded
MAX_ZIP_RATIO = DEFAULT_LIMITS.max_zip_ratio
MAX_ZIP_MEMBERS = DEFAULT_LIMITS.max_zip_members

ALLOWED_DRIVERS = {"GPKG", "ESRI Shapefile", "GeoJSON"}
VECTOR_EXT = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile"}
TABLE_EXT = {".csv", ".txt", ".tsv"}
EXCEL_EXT = {".xls", ".xlsx", ".ods"}  # .ods: OpenDocument, read by odfpy after the .xlsx zip checks
#: Parquet (planning.data.gov.uk publishes its datasets so) and GeoParquet: read by pyarrow, never by GDAL
PARQUET_EXT = {".parquet", ".geoparquet"}
ALLOWED_EXT = set(VECTOR_EXT) | TABLE_EXT | EXCEL_EXT | PARQUET_EXT | {".zip"}
ACCEPTED_TEXT = "CSV, Excel (.xlsx/.xls), OpenDocument (.ods), GeoPackage, GeoJSON, Shapefile (.zip with .shp/.shx/.dbf, or .shp), Parquet"
ARCHIVE_EXT = {".zip", ".gz", ".tgz", ".7z", ".rar", ".tar", ".bz2", ".xz", ".kmz", ".gzip", ".z"}
SHAPEFILE_SIDECARS = {".shx", ".dbf", ".prj", ".cpg", ".sbn", ".sbx", ".qix", ".fix", ".qmd", ".xml", ".aih", ".ain",
                      ".atx", ".ixs", ".mxs"}
#: GeoJSON ``crs`` names that need no lookup (everything else, e.g. a URL, is refused).
_CRS_NAME = re.compile(r"^(urn:ogc:def:crs:(EPSG:[0-9.]*:\d{3,6}|OGC:1\.3:CRS84)|EPSG:\d{3,6}|CRS84)$", re.I)


class _Frame:
    """``Table.frame``: the frame given, or, for a table read by Arrow, built from its cells when first asked for.

    A million-row register read by Arrow is normalised from the Arrow cells (:func:`text_frame`); the
    frame of Python strings (15 million objects for 15 columns) is built only if a reader asks for it.
    """

    def __get__(self, obj, owner=None):
        if obj is None:
            raise AttributeError("frame")  # no default: the dataclass field is required
        frame = obj.__dict__.get("_frame")
        if frame is None and obj.__dict__.get("cells") is not None:
            frame = obj.__dict__["_frame"] = _object_frame(obj.cells)
        return frame

    def __set__(self, obj, value):
        obj.__dict__["_frame"] = value


@dataclass
class Table:
    """A file's content: a plain table (CSV/Excel) or a vector layer.

    ``notes`` are what the reader did that the user should know (encoding, a
    missing .prj...); ``layers`` lists every layer or sheet the file holds.
    ``cells`` holds a text table read by Arrow (one text column per frame column,
    blank cells null); ``frame`` is then built from it when first read.
    """

    frame: pd.DataFrame = _Frame()
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
    #: the cells as an Arrow table of text, when Arrow read the file (see :func:`text_frame`)
    cells: object = field(default=None, repr=False, compare=False)

    @property
    def is_vector(self) -> bool:
        """True when the file was a spatial layer (a GeoDataFrame), not a table."""
        return self.cells is None and isinstance(self.frame, gpd.GeoDataFrame)


#: Arrow schema metadata key of the lines above a text table's header (see :func:`table_title_lines`).
_TITLE_KEY = b"assets_map.title_lines"


def _object_frame(cells) -> pd.DataFrame:
    """Arrow text cells as a frame of Python strings (``None`` for blank cells), as the careful reader gives."""
    df = pd.DataFrame({c: pd.Series(v.to_numpy(zero_copy_only=False), dtype=object)
                       for c, v in zip(cells.column_names, cells.columns, strict=True)}, columns=cells.column_names)
    df.attrs["title_lines"] = _cells_title_lines(cells)
    return df


def _cells_title_lines(cells) -> list[str]:
    raw = (cells.schema.metadata or {}).get(_TITLE_KEY)
    return json.loads(raw) if raw else []


def table_title_lines(table: Table) -> list[str]:
    """The title lines above a table's header (a publisher may be named only there), whichever reader read it.

    Parameters
    ----------
    table : an opened table

    Returns
    -------
    list of str
    """
    if table.cells is not None:
        return _cells_title_lines(table.cells)
    return list(table.frame.attrs.get("title_lines", []))


def text_frame(table: Table) -> pd.DataFrame:
    """The table's frame, with its text columns as pandas ``str`` straight from Arrow when Arrow read it.

    Parameters
    ----------
    table : an opened table

    Returns
    -------
    pd.DataFrame : for a table with ``cells``, one ``str`` column per cell column (blank cells missing),
        no Python string made; for any other table, its ``frame`` as it is
    """
    if table.cells is None:
        return table.frame
    if "_text" not in table.__dict__:  # built once per table (detection and the register read both ask)
        from assets_map.engine.arrays import str_series

        index = pd.RangeIndex(table.cells.num_rows)
        table.__dict__["_text"] = pd.DataFrame(
            {c: str_series(v, index) for c, v in zip(table.cells.column_names, table.cells.columns, strict=True)},
            index=index, columns=table.cells.column_names)
    return table.__dict__["_text"]


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


#: Delimiters preferred, in this order, when several split the lines alike.
DELIMITERS = (",", ";", "\t", "|")
#: Symbols never taken as a delimiter: they occur inside values (dates, decimals, names, units, quotes).
_IN_VALUES = frozenset("\"'-./()[]{}%&+_£€ ")


def _cells(line: str, delim: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delim, strict=False), [])
    except csv.Error:
        return [line]


def _delimiter(text: str, name: str) -> str:
    """The one character that splits the first lines into the same number of cells.

    ``,`` ``;`` tab and ``|`` are tried first; any other symbol (``$`` in NHS Digital's exports,
    ``~``, ``^``...) is taken only when it splits the lines more consistently than they do and
    some line splits into a header-like row (cells mostly text). Each line is split on its own,
    quotes respected, so a quoted line break or a stray quote cannot sway the choice.
    """
    if name.lower().endswith(".tsv"):
        return "\t"
    sample = text[:65536]
    lines = re.split(r"\r\n|\r|\n", sample)
    if len(sample) < len(text) and len(lines) > 1:
        lines = lines[:-1]  # cut mid-line
    lines = [ln for ln in lines if ln.strip()][:50]
    symbols = {ch for ln in lines for ch in ln if not ch.isalnum() and not ch.isspace() and ch not in _IN_VALUES}
    candidates = [d for d in DELIMITERS if any(d in ln for ln in lines)] + sorted(symbols - set(DELIMITERS))
    best, best_score = ",", 0.0
    for d in candidates:
        split = [_cells(ln, d) for ln in lines]
        widths = pd.Series([len(c) for c in split]).value_counts()
        width, share = int(widths.index[0]), widths.iloc[0] / len(split)
        if width < 2:
            continue
        if d not in DELIMITERS:
            header_like = any(len(c) == width and sum(bool(v.strip()) and not _is_number(v) for v in c) * 4 >= 3 * width
                              for c in split)
            if not header_like:
                continue
            share -= 0.1  # an unusual delimiter must split the lines clearly better than the usual ones
        if share > best_score:
            best, best_score = d, share
    return best


#: The longest cell a spreadsheet holds (Excel's limit). A quoted cell that runs over line breaks
#: and grows longer than this is a quote left open, not a value.
MAX_CELL_CHARS = 32_767
#: Quotes left open that one file may have read back as plain characters before it is refused.
MAX_OPEN_QUOTES = 20
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


@dataclass
class _Parsed:
    """A text read as CSV records, with where each record sits among the physical lines."""

    text: str
    rows: list[list[str]]
    starts: list[int]  # 1-based line each record starts on
    spans: dict[int, int]  # lines spanned by each record that spans more than one, by record index
    offsets: list[int]  # where each line starts in the text, and the text's length
    blank: int  # lines with no value
    unpaired: list[int]  # one-line records whose quotes do not pair up, by record index

    @property
    def total(self) -> int:
        return len(self.offsets) - 1

    def lines(self, first: int, last: int) -> list[str]:
        """Physical lines ``first`` to ``last`` (1-based, inclusive; line endings kept)."""
        last = min(last, self.total)
        return [self.text[self.offsets[i - 1]:self.offsets[i]] for i in range(first, last + 1)]


def _parse_records(text: str, delim: str) -> _Parsed:
    r"""Read a text as CSV records, noting the physical lines each record spans.

    Lines end at ``\n``, ``\r\n`` or ``\r``, as the csv module reads them.
    """
    buf: list[str] = []
    offsets = [0]

    def feed():
        for line in io.StringIO(text, newline=""):
            buf.append(line)
            offsets.append(offsets[-1] + len(line))
            yield line

    out = _Parsed(text, [], [], {}, offsets, 0, [])
    line = 0
    for rec in csv.reader(feed(), delimiter=delim, strict=False):
        # the reader takes exactly the lines of one record from the iterator before it yields it
        if any(c.strip() for c in rec):
            if len(buf) > 1:
                out.spans[len(out.rows)] = len(buf)
            elif _QUOTE in buf[0] and not _pairs(buf, delim):
                out.unpaired.append(len(out.rows))
            out.rows.append(rec)
            out.starts.append(line + 1)
        else:
            out.blank += len(buf)
        line += len(buf)
        buf.clear()
    return out


def _pairs(lines: list[str], delim: str) -> bool:
    """Whether the quotes of a record's lines pair up as CSV asks (read strictly)."""
    try:
        list(csv.reader(lines, delimiter=delim, strict=True))
        return True
    except csv.Error:
        return False


def _body(line: str) -> str:
    return line.rstrip("\r\n")


def _quoted_cells(lines: list[str], delim: str) -> list[tuple[int, int, int, int, int]]:
    """Quoted cells of a record's lines that hold a line break, found as the csv module reads quotes.

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
        out.append(tuple(cell))  # never closed: it ran to the end
    return out


def _shape(text: str) -> str:
    """A value's shape: letters, digits and spaces collapsed (``"TMBC0001/T0000003"`` -> ``"a9/a9"``)."""
    s = re.sub(r"\d+", "9", text.strip())
    s = re.sub(r"[^\W\d_]+", "a", s)
    return re.sub(r"\s+", " ", s)[:40]


@dataclass
class _Shapes:
    """What the well-formed records of a file look like: the header, usual widths, how first cells look."""

    header: list[str]
    widths: set[int]
    starts: set[str]

    @classmethod
    def of(cls, parsed: _Parsed, header: int) -> "_Shapes":
        head = [str(h) for h in parsed.rows[header]]
        single = [r for k, r in enumerate(parsed.rows[header + 1:], header + 1) if k not in parsed.spans]
        counts = pd.Series([len(r) for r in single], dtype="int64").value_counts()
        # the header's width, and any width at least 1% of the one-line records have (files that trim empty cells)
        widths = {len(head)} | {int(w) for w, n in counts.items() if n >= max(2, 0.01 * len(single))}
        return cls(head, widths, {_shape(r[0]) for r in single[:5000] if r})

    def record_lines(self, parsed: _Parsed, which: list[int], delim: str, own: str) -> list[int]:
        """Those of the physical lines ``which`` that would read as records of this file, were a record to start there.

        Such a line has a usual number of cells (its own quoted cells may run on a few lines)
        and, with fewer than four columns (where a line of an address can have the right count
        by chance), a first cell like the records' first cells: like those of the file's
        one-line records, like ``own`` (the merged record's first cell), or like the first cell
        of another such line here.
        """
        cells = {k: _first_record(parsed.lines(k, k + 49), delim) for k in which}
        fit = [k for k in which if len(cells[k]) >= 2 and len(cells[k]) in self.widths]
        if len(self.header) >= 4:
            return fit
        shapes = {k: _shape(cells[k][0]) for k in fit}
        seen = pd.Series(list(shapes.values()), dtype=object).value_counts()
        return [k for k in fit if shapes[k] in self.starts or shapes[k] == own or seen.get(shapes[k], 0) >= 2]


def _first_record(lines: list[str], delim: str) -> list[str]:
    try:
        return next(csv.reader(lines, delimiter=delim, strict=False), [])
    except csv.Error:
        return []


@dataclass
class _OpenQuote:
    """A quote that opens a cell and is never closed where the cell should end."""

    line: int  # 1-based line of the quote
    pos: int  # its position in that line
    column: str
    last: int  # the line the cell runs to
    end: int  # the last line of the record the cell merged
    like: int  # lines it swallowed that read as records
    length: int

    def what(self) -> str:
        return (f"a quote at the start of {self.column!r} on line {self.line} is never closed where the cell should "
                f"end: the cell runs over {self.last - self.line} line break(s)"
                + (f" into {self.like} line(s) that read as records" if self.like else "")
                + (f" and {self.length:,} characters, more than a spreadsheet cell holds"
                   if self.length > MAX_CELL_CHARS else "") + f" (lines {self.line}-{self.last})")


def _open_quote(parsed: _Parsed, header: int, shapes: _Shapes, delim: str,
                doubts: list[int], odd: list[int]) -> _OpenQuote | None:
    """The first quote left open below the header, if any; records in doubt and with unpaired quotes noted.

    A quoted cell is taken for a quote left open when lines it swallowed read, on their own,
    as records of this file and its record is odd (its width is not a usual one, or its quotes
    do not pair up: a stray quote is closed by a later cell's opening quote, or never), or when
    it is longer than any spreadsheet cell. A well-formed record of a usual width whose quoted
    cell holds only lines that read as records is kept as read, its line added to ``doubts``;
    other records whose quotes do not pair up are added to ``odd``.
    """
    for k in sorted(k for k in parsed.spans if k > header):
        first, record = parsed.starts[k], parsed.rows[k]
        lines = parsed.lines(first, first + parsed.spans[k] - 1)
        malformed = not _pairs(lines, delim)
        own = _shape(record[0]) if record else ""
        for li, pos, col, last, length in _quoted_cells(lines, delim):
            inner = [first + i for i in range(li + 1, last + 1) if lines[i].strip()]
            like = shapes.record_lines(parsed, inner, delim, own)
            if length > MAX_CELL_CHARS or (like and (malformed or len(record) not in shapes.widths)):
                column = shapes.header[col] if col < len(shapes.header) else f"column {col + 1}"
                return _OpenQuote(first + li, pos, column, first + last, first + len(lines) - 1, len(like), length)
            if len(like) >= 2 and len(like) >= len(inner) - 1:
                doubts.append(first + li)
        if malformed:
            odd.append(first)
    return None


def _literal_quote(parsed: _Parsed, quote: _OpenQuote, delim: str) -> str:
    """The text with that quote read as a plain character: its cell, up to the next delimiter, quoted around it."""
    line = parsed.lines(quote.line, quote.line)[0]
    body = _body(line)
    end = body.find(delim, quote.pos)
    end = len(body) if end < 0 else end
    cell = body[quote.pos:end]
    fixed = body[:quote.pos] + _QUOTE + cell.replace(_QUOTE, _QUOTE * 2) + _QUOTE + body[end:] + line[len(body):]
    at = parsed.offsets[quote.line - 1]
    return parsed.text[:at] + fixed + parsed.text[at + len(line):]


def _read_records(text: str, delim: str, name: str) -> tuple[_Parsed, int, list[str]]:
    """CSV records with every quote left open read as a plain character (or the file refused naming its line).

    Returns the records, the index of the header row and notes on what was done.
    """
    from assets_map.io.report import rows_text

    notes: list[str] = []
    parsed = _parse_records(text, delim)
    for repaired in range(MAX_OPEN_QUOTES + 1):
        if not parsed.rows:
            raise InputError("the file is empty", source=name)
        header = find_header_row(parsed.rows, merged=parsed.spans)
        shapes = _Shapes.of(parsed, header)
        doubts: list[int] = []
        odd = [parsed.starts[k] for k in parsed.unpaired if k > header]
        quote = _open_quote(parsed, header, shapes, delim, doubts, odd)
        if quote is None:
            break
        if repaired == MAX_OPEN_QUOTES:
            raise InputError(f"{quote.what()}; more than {MAX_OPEN_QUOTES} quotes are left open in this file: "
                             "check how it was saved", source=name)
        before, count = set(parsed.starts), len(parsed.starts)
        fixed_text = _literal_quote(parsed, quote, delim)
        parsed = None  # one reading in memory at a time
        again = _parse_records(fixed_text, delim)
        del fixed_text
        # Read again from the quote's line up to where the records meet the first reading again: each
        # record there must have a usual width (a multi-line cell among them is checked on the next pass).
        first = max(0, bisect.bisect_right(again.starts, quote.line) - 1)  # the record holding the quote's line
        stop = next((k for k in range(first, len(again.starts))
                     if again.starts[k] > quote.end and again.starts[k] in before), len(again.starts))
        wrong = next((k for k in range(first, stop) if len(again.rows[k]) not in shapes.widths), None)
        if wrong is not None:
            raise InputError(f"{quote.what()}; read with that quote as a plain character, line "
                             f"{again.starts[wrong]} still has {len(again.rows[wrong])} cells, not the header's "
                             f"{len(shapes.header)}. Check the quotes on line {quote.line}", source=name)
        notes.append(f"{quote.what()}; the quote was read as a plain character, giving {stop - first} records "
                     f"instead of {count - len(again.starts) + stop - first}: check that cell")
        parsed = again
    if doubts:
        notes.append(f"{len(doubts)} quoted cell(s) hold line breaks and only lines that read like records of this "
                     f"file; their quotes pair up, so each was read as one cell: check the cells starting on "
                     f"{rows_text(doubts).replace('row', 'line')}")
    if odd:
        notes.append(f"quotes do not pair up on {rows_text(odd).replace('row', 'line')} (a quote that ends a cell "
                     f"is followed by more text, or a cell is never closed): cells there may be split or joined "
                     f"wrongly; check them")
    return parsed, header, notes


#: The most lines one record broken by unquoted line breaks is joined back from.
MAX_BROKEN_LINES = 6


def _mend_broken_cells(parsed: _Parsed, header: int) -> tuple[list[list[str]], list[str]]:
    """Records split by a line break inside an unquoted cell joined back; lone fragments set aside.

    A record with fewer cells than the header (and not of a width the file's records usually
    have) is joined with the short records after it when, joined at the break (the last cell
    of one line and the first of the next are one cell), they make exactly the header's width.
    A short line that cannot be joined, with fewer than half the header's cells and a first cell
    unlike the records' first cells, is the tail of a cell broken over lines: it is set aside,
    never read as a record. Returns the records and notes naming the lines.
    """
    rows = parsed.rows
    width = len(rows[header]) if rows else 0
    short = [k for k in range(header + 1, len(rows)) if len(rows[k]) < width]
    if not short:  # the usual case: nothing more to look at
        return rows, []
    shapes = _Shapes.of(parsed, header)
    short = [k for k in short if len(rows[k]) not in shapes.widths and any(str(c).strip() for c in rows[k])]
    if not short:
        return rows, []
    usual = {_shape(str(r[0])) for r in rows[header + 1:header + 5001] if r and len(r) in shapes.widths}
    # A register grouped under section headings ("Cemeteries & Crematoria" on a line of its own, its sites below):
    # when the first line under the header is such a one-cell line, every one-cell line followed by a record is
    # a heading (kept for the section reader), not the tail of a broken cell (a tail never comes first).
    def one_cell_over_record(k: int) -> bool:
        r = rows[k]
        return (bool(r) and bool(str(r[0]).strip()) and not any(str(c).strip() for c in r[1:])
                and k + 1 < len(rows) and len(rows[k + 1]) in shapes.widths and len(rows[k + 1]) >= 3)

    if header + 1 < len(rows) and len(rows[header + 1]) < width and one_cell_over_record(header + 1):
        short = [k for k in short if not one_cell_over_record(k)]
    drop: set[int] = set()
    joined: list[tuple[int, int]] = []
    fragments: list[int] = []
    for k in short:
        if k in drop:
            continue
        cells = list(rows[k])
        for j in range(k + 1, min(k + MAX_BROKEN_LINES, len(rows))):
            nxt = rows[j]
            if len(nxt) >= width or not nxt:
                break
            cells = cells[:-1] + [f"{cells[-1]} {nxt[0]}".strip()] + list(nxt[1:])
            if len(cells) == width:
                rows[k] = cells
                drop.update(range(k + 1, j + 1))
                joined.append((parsed.starts[k], parsed.starts[j]))
                break
            if len(cells) > width:
                break
        if joined and joined[-1][0] == parsed.starts[k]:
            continue
        first = str(rows[k][0]) if rows[k] else ""
        if len(rows[k]) < max(2, width / 2) and _shape(first) not in usual:
            drop.add(k)
            fragments.append(k)
    notes = []
    if joined:
        notes.append(f"{len(joined)} record(s) split by a line break inside an unquoted cell were joined back "
                     f"(lines {', '.join(f'{a}-{b}' for a, b in joined[:8])}{' ...' if len(joined) > 8 else ''}): "
                     "check those cells")
    if fragments:
        shown = "; ".join(f"line {parsed.starts[k]}: {' '.join(map(str, rows[k]))[:40]!r}" for k in fragments[:5])
        notes.append(f"set aside {len(fragments)} line(s) holding only a fragment of a cell broken over lines "
                     f"(fewer than half the header's {width} cells, unlike any record; not sites): {shown}")
    return [r for k, r in enumerate(rows) if k not in drop], notes


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
        return True
    except ValueError:
        return False


def find_header_row(rows: list[list[object]], scan: int = 30, *, merged: Collection[int] = ()) -> int:
    """Index of the header row: the first of the top rows that is nearly as wide as the widest and mostly words.

    Registers often carry a title line, or a row of group names above the field
    names (NHS ERIC's two-row header); both are skipped. ``merged`` are rows read
    over several lines (a quote left open may have joined records): they do not
    count as the widest.
    """
    top = rows[:scan]
    filled = [sum(1 for v in r if v is not None and str(v).strip() != "") for r in top]
    if not filled or max(filled) == 0:
        return 0
    widest = max([n for i, n in enumerate(filled) if i not in merged] or filled)
    for i, (row, n) in enumerate(zip(top, filled, strict=True)):
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
        from assets_map.io.report import rows_text

        notes.append(f"{len(long_rows)} row(s) have more cells than the header; the extra cells were kept as "
                     f"extra_N columns ({rows_text(long_rows)})")
        extra = max(len(r) for r in body) - width
        cols = cols + [f"extra_{k + 1}" for k in range(extra)]
        width = len(cols)
    if width > limits.max_columns:
        raise InputError(f"has {width} columns; at most {limits.max_columns} are accepted", source=name)
    if len(body) > limits.max_rows:
        raise InputError(f"has {len(body)} rows; at most {limits.max_rows} are accepted{limits.for_who}", source=name)
    fixed = []
    for r in body:
        # cells as given (src_* columns promise the source text exactly); blank cells are missing
        r = [None if v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and v != v)
             else v for v in r[:width]]
        if len(r) < width:
            r = r + [None] * (width - len(r))
        fixed.append(r)
    df = pd.DataFrame(fixed, columns=cols, dtype=object) if fixed else pd.DataFrame(columns=cols, dtype=object)
    df.attrs["title_lines"] = title_lines(rows[:header])  # the publisher may be named only there
    return df, notes, header + 1


#: Lines the header is looked for in (the careful reader looks at the first 30 records).
_HEAD_LINES = 64


def _read_plain(text: str, delim: str, name: str, limits: Limits, utf8: bytes | None = None):
    r"""A plain CSV read by Arrow's parser, or None when the file needs the careful reader.

    Plain: lines end in ``\n``, the first lines hold no multi-line record, every record is one
    line of the header's width, and every quote pairs up within its line and leaves no quote in a
    cell. Such a file reads the same by either reader (``tests/test_csv_arrow.py`` holds them equal);
    any other file (ragged rows, quoted line breaks, stray or open quotes) goes to the careful reader,
    which repairs and reports them. Returns the cells (an Arrow table of text, blank cells null), notes, the header's line and the line counts.
    ``utf8``: the file's bytes when ``text`` is exactly their UTF-8 decoding (no byte-order mark): Arrow then
    reads them as they are, with no copy of the text encoded again.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    if "\r" in text or len(delim.encode("utf-8")) != 1:  # Arrow splits on one byte
        return None
    cut = 0
    for _ in range(_HEAD_LINES):
        j = text.find("\n", cut)
        cut = len(text) if j < 0 else j + 1
        if j < 0:
            break
    head = _parse_records(text[:cut], delim)
    if not head.rows or head.spans or head.unpaired:
        return None
    header = find_header_row(head.rows, merged=head.spans)
    header_line, width = head.starts[header], len(head.rows[header])
    if width < 2:
        return None
    begin = head.offsets[header_line]  # the body: from the first record's line to the end
    at = text.find(_QUOTE, begin)
    quoted = at >= 0
    while at >= 0:  # each line holding a quote, read strictly (a jump from quote to quote, not a scan of every line)
        start, end = max(text.rfind("\n", begin, at) + 1, begin), text.find("\n", at)
        end = len(text) if end < 0 else end
        if not _pairs([text[start:end]], delim):
            return None
        at = text.find(_QUOTE, end)
    if utf8 is not None:  # the same bytes, not copied: the header lines above are ASCII-counted by their encoding
        source = pa.BufferReader(pa.py_buffer(memoryview(utf8)[len(text[:begin].encode("utf-8")):]))
    else:
        source = io.BytesIO(text[begin:].encode("utf-8"))
    names = [f"c{i}" for i in range(width)]
    try:
        table = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delim, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.large_string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    cells = []
    for col in table.columns:
        if quoted and pc.any(pc.match_substring(col, _QUOTE)).as_py():
            return None
        # cells as given (src_* columns promise the source text exactly); blank cells are missing
        blank = blank_cells(col)
        cells.append(pc.if_else(pa.array(blank), pa.scalar(None, col.type), col) if blank.any() else col)
    filled = pc.is_valid(cells[0])
    for c in cells[1:]:
        filled = pc.or_(filled, pc.is_valid(c))
    blank_rows = len(filled) - pc.sum(filled).as_py() if len(filled) else 0
    if blank_rows:
        cells = [pc.filter(c, filled) for c in cells]
    n = len(cells[0]) if cells else 0
    if width > limits.max_columns:
        raise InputError(f"has {width} columns; at most {limits.max_columns} are accepted", source=name)
    if n > limits.max_rows:
        raise InputError(f"has {n} rows; at most {limits.max_rows} are accepted{limits.for_who}", source=name)
    cols, notes = unique_headers(head.rows[header])
    if header > 0:
        notes.insert(0, f"{header} line(s) above the header row were skipped (a title or grouped header)")
    total = text.count("\n") + (0 if text.endswith("\n") else 1)
    blank = (header_line - 1 - header) + (total - header_line - table.num_rows) + blank_rows
    out = pa.table(cells, names=cols)
    above = title_lines(head.rows[:header])  # the publisher may be named only there
    if above:
        out = out.replace_schema_metadata({_TITLE_KEY: json.dumps(above).encode("utf-8")})
    return out, notes, header + 1, TextLines(total, header_line, blank, 0)


def read_csv_bytes(data: bytes, name: str, *, limits: Limits = DEFAULT_LIMITS) -> Table:
    """Read CSV/TSV bytes as text cells: encoding, delimiter and header row decided from the content.

    Quoted fields may hold line breaks; identifiers stay text (leading zeros kept). A quote
    left open, whose cell runs on over line breaks into what read as records, is read as a
    plain character when that gives records of the header's width (with a note naming the
    line), else the file is refused naming the line: rows are never merged silently.
    """
    text, notes = decode_text(data, name)
    if not text or text.isspace():  # what not text.strip() says, without a copy of the text
        raise InputError("the file is empty", source=name)
    if "\x00" in text:
        raise InputError("contains NUL bytes: it is not a text table (is it a binary file renamed .csv?)", source=name)
    delim = _delimiter(text, name)
    if delim != ",":
        notes.append(f"columns are separated by {'tabs' if delim == chr(9) else repr(delim)}")
    utf8 = data if not notes else None  # no note: the bytes were UTF-8 as they are (no byte-order mark)
    plain = _read_plain(text, delim, name, limits, utf8)
    if plain is not None:
        cells, more, header_line, lines = plain
        return Table(None, "csv", name, notes + more, header_row=header_line, lines=lines.total,
                     lines_note=lines.describe(), cells=cells)
    csv.field_size_limit(min(limits.max_file_bytes, 2**31 - 1))
    try:
        parsed, header, fixed = _read_records(text, delim, name)
    except csv.Error as exc:
        raise InputError(f"could not be read as CSV: {exc}", source=name) from None
    rows, mended = _mend_broken_cells(parsed, header)
    total = parsed.total
    in_cells = sum(parsed.spans.values()) - len(parsed.spans)
    lines = TextLines(total, parsed.starts[header], parsed.blank, in_cells)
    df, more, header_line = rows_to_frame(rows, name, limits=limits, header=header)
    return Table(df, "csv", name, notes + fixed + mended + more, header_row=header_line, lines=total,
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
        from assets_map.schema import METADATA_TABLES

        # The tables assets-map writes beside its layers (import --out, analyse) are never the data.
        data = [lyr for lyr in layers if lyr not in METADATA_TABLES]
        if len(data) == 1:
            layers = data
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
        raise InputError(f"has {count} features; at most {limits.max_rows} are accepted{limits.for_who}", source=name)
    if len(info.get("fields", ())) > limits.max_columns:
        raise InputError(f"has {len(info['fields'])} columns; at most {limits.max_columns} are accepted", source=name)
    try:
        # The collector paused: a million geometries are made at once, and each of its full passes walks them all
        # (0.5 s of reading a 1M-feature layer, measured); nothing read is cyclic.
        with paused_gc():
            gdf = gpd.read_file(path, layer=layer, engine="pyogrio", on_invalid="ignore", use_arrow=True)  # 5x faster at 1M rows
    except Exception as exc:
        raise InputError(f"could not be read: {_first_line(exc)}", source=name) from None
    # Before any repair, reprojection or overlay: their cost grows with the vertices.
    limits.check_vertices(gdf.geometry.values, name)
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
        for parts in stems.values():
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
    """An .xlsx (or .ods) is a zip of XML parts: check it like any archive, and refuse DTDs or entities in any part."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            _member_problems(infos, name, limits)
            if name.lower().endswith(".ods"):
                if not _is_ods(zf, infos):
                    raise InputError("is named .ods but is not an OpenDocument spreadsheet", source=name)
            elif not any(i.filename == "[Content_Types].xml" for i in infos):
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


def _is_ods(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> bool:
    """An OpenDocument spreadsheet names itself in its ``mimetype`` member (sizes already checked)."""
    if not any(i.filename == "mimetype" for i in infos):
        return False
    with zf.open("mimetype") as fh:
        return fh.read(64).strip() == b"application/vnd.oasis.opendocument.spreadsheet"


def _excel_file(path: Path, name: str, limits: Limits) -> pd.ExcelFile:
    with open(path, "rb") as fh:
        kind = _sniff(fh.read(8))
    if kind == "zip":
        _check_xlsx(path, name, limits)
        kwargs = {"engine": "odf" if name.lower().endswith(".ods") else "openpyxl"}
    else:
        kwargs = {"engine": "xlrd", "engine_kwargs": {"logfile": io.StringIO()}}  # xlrd chatters on stdout
    try:
        with quiet_warnings():
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
            elif len(sheets) > 1 and (picked := pick_data_sheet(xf, sheets, limits.max_rows)) is not None:
                layer = picked[0]
                notes.append(picked[1])
            elif len(sheets) > 1:
                raise InputError(f"holds {len(sheets)} sheets ({', '.join(sheets[:12])}); choose one "
                                 "(--layer on the command line; for the app, save that sheet as its own workbook or CSV)",
                                 source=name)
            else:
                layer = sheets[0]
        elif layer not in sheets:
            raise InputError(f"has no sheet named {layer!r} (sheets: {', '.join(sheets[:12])})", source=name)
        try:
            with quiet_warnings():
                grid = xf.parse(sheet_name=layer, dtype=str, header=None)
        except Exception as exc:
            raise InputError(f"could not be read as an Excel workbook ({_first_line(exc)})", source=name) from None
    if grid.shape[1] > limits.max_columns:
        raise InputError(f"has {grid.shape[1]} columns; at most {limits.max_columns} are accepted", source=name)
    if len(grid) > limits.max_rows:
        raise InputError(f"has {len(grid)} rows; at most {limits.max_rows} are accepted{limits.for_who}", source=name)
    grid = grid.astype(object).where(grid.notna(), None)
    if name.lower().endswith((".xlsx", ".ods")):
        grid = fill_merged_down(grid, path, layer, notes, ods=name.lower().endswith(".ods"))
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
    limits = limits or current_limits()
    opened = _OPENED.get()
    if opened is None or _depth:
        return _open_table(Path(path), name, layer, limits, prefer_layers, _depth)
    try:
        st = Path(path).stat()
        key = (str(Path(path).resolve()), name, layer, limits, prefer_layers, st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        key = None
    if key is None or key not in opened:
        table = _open_table(Path(path), name, layer, limits, prefer_layers, _depth)
        if key is None:
            return table
        opened[key] = table
    return opened[key]


#: Tables opened within :func:`reusing_opened`, by path, arguments and the file's identity on disk.
_OPENED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("assets_map_opened", default=None)


@contextlib.contextmanager
def reusing_opened():
    """Within this, a file opened again with the same arguments, unchanged on disk, gives the Table first read.

    For a door that looks at a file (what kind is it?) and then reads it: the file is read, checked and
    sniffed once. Callers must not change the Table they are given.
    """
    token = _OPENED.set({})
    try:
        yield
    finally:
        _OPENED.reset(token)


def _open_table(path: Path, name: str | None, layer: str | None, limits: Limits, prefer_layers: tuple[str, ...],
                _depth: int) -> Table:
    """:func:`open_table`'s reading (the file opened, every check made)."""
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
        raise InputError(f"is {size / 1e6:.1f} MB, over the {limits.max_file_bytes / 1e6:.1f} MB limit{limits.for_who}", source=name)
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
        if (ext == ".xls" and kind != "ole") or (ext in (".xlsx", ".ods") and kind != "zip"):
            raise InputError(f"is named {ext} but is not an Excel workbook", source=name)
        return _read_excel(path, name, layer, limits, prefer_layers)
    if ext in PARQUET_EXT:
        if not head.startswith(b"PAR1"):
            raise InputError(f"is named {ext} but is not a Parquet file", source=name)
        return _read_parquet(path, name, limits)
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


def _read_parquet(path: Path, name: str, limits: Limits) -> Table:
    """A Parquet file: GeoParquet as a layer (its own CRS), any other as text cells like a CSV's.

    A binary column of well-known binary shapes (``geometry``, ``point``...) is given as WKT text, as
    planning.data.gov.uk's CSV gives it. Rows and columns are counted from the footer before reading.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InputError(f"could not be read as Parquet: {_first_line(exc)}", source=name) from None
    meta = pf.metadata
    if meta.num_columns > limits.max_columns:
        raise InputError(f"has {meta.num_columns} columns; at most {limits.max_columns} are accepted", source=name)
    if meta.num_rows > limits.max_rows:
        raise InputError(f"has {meta.num_rows} rows; at most {limits.max_rows} are accepted{limits.for_who}",
                         source=name)
    try:
        if b"geo" in (pf.schema_arrow.metadata or {}):
            gdf = gpd.read_parquet(path)
            limits.check_vertices(gdf.geometry.values, name)
            return Table(gdf, "geoparquet", name, lines=len(gdf))
        table = pf.read()
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InputError(f"could not be read as Parquet: {_first_line(exc)}", source=name) from None
    cols = {}
    for field_, col in zip(table.schema, table.columns, strict=True):
        values = col.to_pandas()
        if pa.types.is_binary(field_.type) or pa.types.is_large_binary(field_.type):
            shapes = shapely.from_wkb(values.to_numpy(dtype=object), on_invalid="ignore")
            limits.check_vertices(shapes, name)
            values = pd.Series(shapely.to_wkt(shapes), dtype=object)
        cols[str(field_.name)] = values.astype(object).where(values.notna(), None).map(
            lambda v: v if v is None or isinstance(v, str) else str(v))
    frame = pd.DataFrame(cols)
    return Table(frame, "parquet", name, lines=len(frame))


def _sidecar(shp: Path, ext: str) -> Path | None:
    for cand in (shp.with_suffix(ext), shp.with_suffix(ext.upper())):
        if cand.is_file():
            return cand
    return None


def layers_of(path: str | os.PathLike, *, name: str | None = None, limits: Limits | None = None) -> list[str]:
    """Layers (GeoPackage) or sheets (Excel) a file holds, after the same checks as :func:`open_table`.

    One-layer formats return an empty list.
    """
    limits = limits or current_limits()
    path = Path(path)
    name = Path(str(name)).name if name else path.name
    ext = Path(name).suffix.lower()
    if ext in EXCEL_EXT:
        with open(path, "rb") as fh:
            kind = _sniff(fh.read(8))
        if (ext == ".xls" and kind != "ole") or (ext in (".xlsx", ".ods") and kind != "zip"):
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


__all__ = ["ALLOWED_DRIVERS", "ALLOWED_EXT", "DEFAULT_LIMITS", "Limits", "PUBLIC_LIMITS", "Table", "copy_to_private",
           "current_limits", "using_limits",
           "decode_text", "excel_frame", "excel_sheets", "find_header_row", "layers_of", "open_table", "reusing_opened",
           "read_csv_bytes", "rows_to_frame", "text_frame", "unique_headers"]
