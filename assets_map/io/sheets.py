"""Which sheet of a workbook holds the register, when it has several and none was named.

Councils publish a register as a workbook with a data sheet beside a "Notes", "Read me" or "Metadata"
sheet. The data sheet is the one table in it: rows of three filled cells or more. When exactly one sheet
has such rows, or one has five times the rows of any other, it is read (the report says which and names
the others); otherwise the choice is the user's.
"""
from __future__ import annotations

import contextlib
import threading
import warnings

import pandas as pd

# ``warnings.catch_warnings`` saves and restores the process's one list of filters: two threads inside it at once can
# leave "ignore" in force for good. Every quiet block takes this lock (the inputs of an analysis are read side by side).
_QUIET = threading.Lock()


@contextlib.contextmanager
def quiet_warnings():
    """Warnings ignored within (a spreadsheet library's chatter), one thread at a time."""
    with _QUIET, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield

#: A sheet with this many times the table rows of every other is the data.
_DOMINANT = 5


def _table_rows(grid: pd.DataFrame) -> int:
    if grid.empty:
        return 0
    filled = grid.notna().to_numpy() & (grid.astype(str).apply(lambda c: c.str.strip()) != "").to_numpy()
    return int((filled.sum(axis=1) >= 3).sum())


def pick_data_sheet(xf: pd.ExcelFile, sheets: list[str], max_rows: int) -> tuple[str, str] | None:
    """``(sheet, note)`` for the one sheet that holds a table, or None when it is not clear.

    ``max_rows`` bounds what is read of each sheet to judge it.
    """
    rows = {}
    for s in sheets:
        with quiet_warnings():
            grid = xf.parse(sheet_name=s, dtype=str, header=None, nrows=max_rows)
        rows[s] = _table_rows(grid)
    ranked = sorted(rows, key=rows.get, reverse=True)
    best, rest = ranked[0], ranked[1:]
    if rows[best] < 2:
        return None
    runner = max((rows[s] for s in rest), default=0)
    if runner >= 2 and rows[best] < _DOMINANT * runner:
        return None
    others = ", ".join(rest)
    return best, (f"sheet {best!r} was read: it holds the table ({rows[best]} rows); the workbook's other sheets "
                  f"({others}) hold {'no table' if runner < 2 else 'small tables'}")


