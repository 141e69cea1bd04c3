"""The Excel workbook export: one typed sheet per layer, the data dictionary and the provenance.

Estates teams live in Excel, so the workbook is written for it (with openpyxl):
identifiers (UPRN, asset codes, postcodes, area codes) are text cells, so their
leading zeros stay; areas, scores and counts are numbers; dates are Excel dates.
Every sheet has its header frozen, filters on, column widths that fit and long
text (reasons) wrapped.  Text that a spreadsheet would run as a formula is made
safe by the caller's ``safe`` function (the CSV's apostrophe) and always written as
a text cell, never as a formula.

This module knows nothing of layers or exports: :mod:`assets_map.io.export`
prepares the frames and calls :func:`write_workbook`.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from assets_map.schema import value_kind

#: Excel's limit on the text of one cell.
CELL_LIMIT = 32_767
#: Rows an Excel sheet holds, its header included.
SHEET_ROWS = 1_048_576
#: Excel keeps 15 significant digits: larger integers are written as text.
EXACT_DIGITS = 15
#: Columns wrapped and given a wide column (long explanations).
WRAPPED = ("reasons", "exclusion_reason", "location_note", "why_ranked", "meaning", "value", "address",
           "constraints", "location_check")
#: Widest column, in characters.
MAX_WIDTH = 60
WRAPPED_WIDTH = 80
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique (case-insensitively) Excel sheet name of at most 31 characters."""
    base = _SHEET_BAD.sub("_", str(name)).strip("'") or "sheet"
    cand, k = base[:31], 2
    while cand.lower() in taken:
        suffix = f"_{k}"
        cand = base[:31 - len(suffix)] + suffix
        k += 1
    taken.add(cand.lower())
    return cand


class _Counter:
    """What had to change on the way into Excel, by sheet and column, for the notes."""

    def __init__(self) -> None:
        self.bad_chars: dict[tuple[str, str], list[int]] = {}
        self.cut: dict[tuple[str, str], list[int]] = {}
        self.safe = 0

    def add(self, book: dict, sheet: str, col: str, row: int) -> None:
        book.setdefault((sheet, col), []).append(row)

    def notes(self) -> list[str]:
        out = []
        for (sheet, col), rows in self.cut.items():
            out.append(f"{sheet}: {len(rows)} values of {col} are longer than Excel's {CELL_LIMIT:,} characters and "
                       f"were cut (sheet rows {_rows(rows)}); the full text is in the GeoPackage and CSV exports")
        for (sheet, col), rows in self.bad_chars.items():
            out.append(f"{sheet}: control characters that Excel cannot hold were written as '\ufffd' in {col} "
                       f"(sheet rows {_rows(rows)})")
        return out


def _rows(rows: list[int]) -> str:
    shown = ", ".join(map(str, rows[:5]))
    return shown + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")


def _text(value: str, counter: _Counter, sheet: str, col: str, row: int, safe: Callable[[object], object]) -> str:
    if _BAD.search(value):
        value = _BAD.sub("\ufffd", value)
        counter.add(counter.bad_chars, sheet, col, row)
    out = safe(value)
    if out != value:
        counter.safe += 1
    if len(out) > CELL_LIMIT:
        out = out[:CELL_LIMIT - 1] + "…"
        counter.add(counter.cut, sheet, col, row)
    return out


def _cell_value(v: object, kind: str):
    """A Python value openpyxl writes with the right Excel type (None for a blank cell)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if kind == "integer" and abs(int(v)) >= 10 ** EXACT_DIGITS:
        return str(int(v))  # Excel would round it
    if kind == "datetime" and isinstance(v, (pd.Timestamp, dt.datetime)):
        v = pd.Timestamp(v)
        return (v.tz_convert(None) if v.tzinfo is not None else v).to_pydatetime()
    return v


def _widths(frame: pd.DataFrame, kinds: Mapping[str, str]) -> dict[str, float]:
    out = {}
    sample = frame.head(500)
    for col in frame.columns:
        if col in WRAPPED:
            out[col] = WRAPPED_WIDTH if kinds[col] == "text" else MAX_WIDTH
            continue
        if kinds[col] == "date":
            longest = 10
        else:
            vals = sample[col].dropna().astype(str)
            longest = int(vals.str.len().max()) if len(vals) else 0
        out[col] = float(min(MAX_WIDTH, max(len(str(col)) + 2, longest + 2, 8)))
    return out


def _write_sheet(wb, title: str, frame: pd.DataFrame, counter: _Counter, safe: Callable[[object], object]) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title)
    kinds = {c: value_kind(frame[c]) for c in frame.columns}
    widths = _widths(frame, kinds)
    for i, col in enumerate(frame.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = widths[col]
    ws.freeze_panes = "A2"
    last = get_column_letter(max(len(frame.columns), 1))
    ws.auto_filter.ref = f"A1:{last}{len(frame) + 1}"
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDDDDD")
    head_align, wrap, top = Alignment(wrap_text=True, vertical="top"), Alignment(wrap_text=True, vertical="top"), \
        Alignment(vertical="top")
    header = []
    for col in frame.columns:
        c = WriteOnlyCell(ws, value=_text(str(col), counter, title, str(col), 1, safe))
        c.data_type = "s"
        c.font, c.fill, c.alignment = bold, fill, head_align
        header.append(c)
    ws.append(header)
    columns = [(col, kinds[col], col in WRAPPED) for col in frame.columns]
    for r, values in enumerate(frame.astype(object).itertuples(index=False, name=None), start=2):
        row = []
        for (col, kind, wrapped), v in zip(columns, values, strict=True):
            value = _cell_value(v, kind)
            c = WriteOnlyCell(ws, value=None)
            if isinstance(value, str):
                c.value = _text(value, counter, title, str(col), r, safe)
                c.data_type = "s"  # never a formula
                c.number_format = "@"
            elif value is not None:
                c.value = value
                if kind == "date":
                    c.number_format = "yyyy-mm-dd"
                elif kind == "datetime":
                    c.number_format = "yyyy-mm-dd hh:mm:ss"
            elif kind == "text":
                c.number_format = "@"  # typed into later, it stays text
            c.alignment = wrap if wrapped else top
            row.append(c)
        ws.append(row)


def _drop_temporary_files(wb) -> None:
    """Remove the temporary files openpyxl's write-only sheets keep until saved (a failed save leaves them)."""
    for ws in getattr(wb, "_sheets", []):
        writer = getattr(ws, "_writer", None)
        if writer is not None and hasattr(writer, "cleanup"):
            try:
                writer.cleanup()
            except (OSError, ValueError):  # already removed
                pass


def write_workbook(path: str | Path, sheets: Mapping[str, pd.DataFrame], *, dictionary: pd.DataFrame,
                   provenance: pd.DataFrame, safe: Callable[[object], object]) -> list[str]:
    """Write ``sheets`` (sheet name -> typed table), the dictionary and provenance to an .xlsx file.

    Parameters
    ----------
    path : the .xlsx file to write (the caller makes the write atomic)
    sheets : one table per layer, columns typed (text, nullable integers, floats, booleans, Arrow dates)
    dictionary : the data dictionary (layer, field, meaning, unit, source, type, ...)
    provenance : key/value rows of the provenance record
    safe : makes formula-like text safe (the CSV export's :func:`~assets_map.io.export.safe_cell`)

    Returns
    -------
    list of str
        Notes on what had to change (cut or replaced text, cells made safe), for the README and warnings.
    """
    from openpyxl import Workbook

    from assets_map.io.report import InputError

    big = [f"{name} has {len(frame):,} rows" for name, frame in sheets.items() if len(frame) >= SHEET_ROWS]
    if big:
        raise InputError(f"{'; '.join(big)}: more than an Excel sheet holds ({SHEET_ROWS - 1:,} below its header); "
                         f"export it as GeoPackage or CSV")
    wb = Workbook(write_only=True)
    counter = _Counter()
    taken = {"data_dictionary", "provenance"}
    try:
        for name, frame in sheets.items():
            _write_sheet(wb, sheet_name(name, taken), frame, counter, safe)
        _write_sheet(wb, "data_dictionary", dictionary, counter, safe)
        _write_sheet(wb, "provenance", provenance, counter, safe)
        wb.save(path)
    except BaseException:
        _drop_temporary_files(wb)
        raise
    notes = counter.notes()
    if counter.safe:
        notes.append(f"{counter.safe} text cells started with = + - @, tab or a line break (or a look-alike) and were "
                     f"given a leading apostrophe so that Excel shows them as text instead of running them")
    return notes
