"""Cells merged down over several rows in an .xlsx or .ods sheet ("Cemeteries & Crematoria" merged over its sites).

A spreadsheet stores a merged range's value in its top-left cell only; read as a table the rows under it
would lose it. The ranges are read from the sheet's own XML (``<mergeCell ref="A2:A5"/>``), after the
workbook has passed the archive and DTD checks (an .ods's from its ``number-rows-spanned`` cells), and each range one column wide and several rows deep is
filled down from its first cell. Ranges across columns (a title over the table) are left as they are.
"""
from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path

import pandas as pd

_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]{1,3})(\d+):([A-Z]{1,3})(\d+)"')
_SHEET = re.compile(rb'<(?:\w+:)?sheet\b[^>]*?\bname="([^"]*)"[^>]*?\br:id="([^"]+)"')
_REL = re.compile(rb'<Relationship\b[^>]*?\bId="([^"]+)"[^>]*?\bTarget="([^"]+)"')
_REL_ALT = re.compile(rb'<Relationship\b[^>]*?\bTarget="([^"]+)"[^>]*?\bId="([^"]+)"')


def _column(letters: bytes) -> int:
    n = 0
    for ch in letters.decode():
        n = n * 26 + ord(ch) - 64
    return n - 1


def _unescape(text: bytes) -> str:
    return (text.decode("utf-8", "replace").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))


def merged_down(path: Path, sheet: str) -> list[tuple[int, int, int]]:
    """``(column, first row, last row)`` (0-based) of the ranges merged down one column of ``sheet``."""
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        if "xl/workbook.xml" not in names or "xl/_rels/workbook.xml.rels" not in names:
            return []
        ids = {_unescape(n): rid for n, rid in _SHEET.findall(zf.read("xl/workbook.xml"))}
        rels_xml = zf.read("xl/_rels/workbook.xml.rels")
        rels = {i: t for i, t in _REL.findall(rels_xml)} | {i: t for t, i in _REL_ALT.findall(rels_xml)}
        target = rels.get(ids.get(sheet, b""))
        if target is None:
            return []
        target = target.decode()
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        if part not in names:
            return []
        out = []
        with zf.open(part) as fh:
            tail = b""
            while chunk := fh.read(1 << 20):
                text = tail + chunk
                cut = text.rfind(b"<")
                for c0, r0, c1, r1 in _MERGE.findall(text[:cut] if cut > 0 else text):
                    if c0 == c1 and int(r1) > int(r0):
                        out.append((_column(c0), int(r0) - 1, int(r1) - 1))
                tail = text[cut:] if cut > 0 else b""
            for c0, r0, c1, r1 in _MERGE.findall(tail):
                if c0 == c1 and int(r1) > int(r0):
                    out.append((_column(c0), int(r0) - 1, int(r1) - 1))
        return out


def fill_merged_down(grid: pd.DataFrame, path: Path, sheet: str, notes: list[str], *, ods: bool = False) -> pd.DataFrame:
    """``grid`` (a sheet read with no header, row i = sheet row i + 1) with its merged-down ranges filled.

    ``ods`` says the workbook is an OpenDocument spreadsheet (else .xlsx); ``notes`` gets a line when cells
    were filled.
    """
    try:
        ranges = ods_merged_down(path, sheet) if ods else merged_down(path, sheet)
    except Exception:  # noqa: BLE001 - a sheet whose merges cannot be read is read as it is
        return grid
    filled = 0
    for col, r0, r1 in ranges:
        if col >= grid.shape[1] or r0 >= len(grid):
            continue
        value = grid.iat[r0, col]
        if value is None or (isinstance(value, float) and value != value):
            continue
        for r in range(r0 + 1, min(r1, len(grid) - 1) + 1):
            grid.iat[r, col] = value
            filled += 1
    if filled:
        notes.append(f"{filled} cell(s) merged down over several rows were filled from the merged cell's value")
    return grid


def ods_merged_down(path: Path, sheet: str) -> list[tuple[int, int, int]]:
    """``(column, first row, last row)`` (0-based) of the ranges merged down one column of an .ods ``sheet``."""
    from odf.namespaces import TABLENS
    from odf.opendocument import load

    doc = load(str(path))
    out = []
    for table in doc.spreadsheet.getElementsByType(_ods_table()):
        if table.getAttrNS(TABLENS, "name") != sheet:
            continue
        r = 0
        for row in (e for e in table.childNodes if e.qname == (TABLENS, "table-row")):
            c = 0
            for cell in row.childNodes:
                if cell.qname not in ((TABLENS, "table-cell"), (TABLENS, "covered-table-cell")):
                    continue
                rows = int(cell.getAttrNS(TABLENS, "number-rows-spanned") or 1)
                cols = int(cell.getAttrNS(TABLENS, "number-columns-spanned") or 1)
                if rows > 1 and cols == 1:
                    out.append((c, r, r + rows - 1))
                c += int(cell.getAttrNS(TABLENS, "number-columns-repeated") or 1)
            r += int(row.getAttrNS(TABLENS, "number-rows-repeated") or 1)
    return out


def _ods_table():
    from odf.table import Table

    return Table
