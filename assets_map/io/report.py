"""Import reports and input errors.

Every import ends in either an :class:`ImportReport` (accepted, perhaps with
warnings) or an :class:`InputError` (refused) whose message names the file,
the rows and the problem in one line a non-GIS user can act on. :func:`esc` is
the one way any value becomes HTML text (maps, site packs, KML).
"""
from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd


def esc(value: object) -> str:
    """Any value as HTML text, escaped once (quotes too), with one number format.

    Missing values (None, NaN, ``pd.NA``, ``NaT``) become ``""``; a whole-number float
    prints as an integer (``3.0`` -> ``"3"``), as a register's counts and deciles read.
    """
    if value is None or (pd.api.types.is_scalar(value) and not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return html.escape(str(value), quote=True)


class InputError(ValueError):
    """A problem with the user's input: refused with a one-line cause.

    Parameters
    ----------
    problems : str or list of str
        Every problem found; validation gathers them all before raising.
    source : str, optional
        The file (its name only, never a server path) the problems are in.
    """

    def __init__(self, problems: str | Iterable[str], *, source: str | None = None):
        raw = [problems] if isinstance(problems, str) else list(problems)
        # one line each, whatever a library's message held
        self.problems = [" ".join(str(p).split()) for p in raw]
        self.source = source
        head = f"{source}: " if source else ""
        if len(self.problems) == 1:
            msg = head + self.problems[0]
        else:
            msg = head + f"{len(self.problems)} problems: " + "; ".join(self.problems)
        super().__init__(msg)


def rows_text(rows: Iterable[int], limit: int = 8) -> str:
    """``"rows 3, 7 and 9"`` style text, shortened after ``limit`` rows."""
    rows = sorted(int(r) for r in rows)
    if not rows:
        return "no rows"
    if len(rows) == 1:
        return f"row {rows[0]}"
    shown = [str(r) for r in rows[:limit]]
    if len(rows) > limit:
        return "rows " + ", ".join(shown) + f" and {len(rows) - limit} more"
    return "rows " + ", ".join(shown[:-1]) + " and " + shown[-1]


def counts_in_order(values: Iterable) -> dict:
    """``dict(Counter(values))`` in one vectorised pass: each distinct value and its count, in order of first appearance.

    A pandas Series is counted without iterating its values one by one (1M
    Arrow-backed strings: ~0.6 s with a ``Counter``); counts are ``int``.
    Missing values are keys as a ``Counter`` keeps them (``None`` and NaN apart).
    """
    import numpy as np
    import pandas as pd

    s = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    codes, uniques = pd.factorize(s)  # numbered in order of first appearance; missing -> -1
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    before = np.concatenate([[-1], np.maximum.accumulate(codes)[:-1]]) if len(codes) else codes
    items = [(int(i), k, int(n)) for i, k, n in zip(np.flatnonzero(codes > before), uniques, counts, strict=True)]
    missing: dict = {}  # the missing values themselves, counted as a Counter (a dict) counts them
    for i, v in zip(np.flatnonzero(codes < 0), s.iloc[codes < 0], strict=True):
        missing.setdefault(v, [int(i), v, 0])[2] += 1
    if missing:
        items = sorted(items + [tuple(m) for m in missing.values()], key=lambda t: t[0])
    return {k: n for _, k, n in items}


@dataclass
class Issue:
    """One finding of an import: what happened, to which rows, and why."""

    kind: str  # fixed | unplaced | rejected | set aside | warning
    message: str
    rows: list[int] = field(default_factory=list)

    def text(self) -> str:
        """The finding with the rows it concerns, as printed in reports."""
        return f"{self.message} ({rows_text(self.rows)})" if self.rows else self.message


@dataclass
class ImportReport:
    """What an import did with every row of one file."""

    source: str
    format: str = ""
    adapter: str = ""
    #: records read from the file (below the header; blank lines not counted)
    rows_read: int = 0
    #: physical lines of a text file, rows of a sheet, features of a layer (None: not counted)
    lines_in_file: int | None = None
    #: how the lines were used: header line, blank lines, line breaks inside quoted cells
    lines_note: str = ""
    placed_by: dict[str, int] = field(default_factory=dict)
    unplaced: int = 0
    rejected: int = 0
    #: aggregate rows (totals, subtotals, organisation-level rows) set aside: never sites
    set_aside: int = 0
    crs_detected: str = ""
    issues: list[Issue] = field(default_factory=list)

    def add(self, kind: str, message: str, rows: Iterable[int] = ()) -> None:
        """Record a finding of ``kind`` (fixed, unplaced, rejected, warning) about ``rows``."""
        if isinstance(rows, np.ndarray):  # a million row numbers: sorted in C
            listed = np.sort(rows.astype(np.int64, copy=False)).tolist()
        else:
            listed = sorted(int(r) for r in rows)
        self.issues.append(Issue(kind, message, listed))

    def count_placement(self, qualities: Iterable[str]) -> None:
        """Count the rows by location quality: ``unplaced`` for ``none``, ``placed_by`` for the rest."""
        counts = counts_in_order(qualities)
        self.unplaced = counts.pop("none", 0)
        self.placed_by = dict(sorted(counts.items()))

    @property
    def placed(self) -> int:
        """How many rows were placed, however."""
        return sum(self.placed_by.values())

    def of_kind(self, kind: str) -> list[Issue]:
        """The findings of one ``kind``."""
        return [i for i in self.issues if i.kind == kind]

    def to_dict(self) -> dict:
        """The report as a plain dict (with ``placed``), for JSON and the provenance record."""
        d = asdict(self)
        d["placed"] = self.placed
        return d

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, default=str)

    def lines_text(self) -> str:
        """``"609 lines in the file (header on line 1), 608 records read"``: what was in the file, what was read."""
        read = f"{self.rows_read} records read"
        if self.lines_in_file is None:
            return read
        fmt = self.format.lower()
        unit = "lines" if fmt.startswith("csv") else "sheet rows" if fmt.startswith("excel") else "features"
        note = f" ({self.lines_note})" if self.lines_note else ""
        return f"{self.lines_in_file} {unit} in the file{note}, {read}"

    def summary_lines(self) -> list[str]:
        """The report as lines to print: what was read, placed, unplaced, rejected, and each finding."""
        lines = [f"{self.source}: {self.lines_text()} ({self.adapter or self.format})"]
        if self.placed_by:
            how = ", ".join(f"{n} by {q}" for q, n in self.placed_by.items())
            lines.append(f"  placed: {self.placed} ({how})")
        lines.append(f"  unplaced: {self.unplaced}")
        if self.rejected:
            lines.append(f"  rejected: {self.rejected}")
        for issue in self.of_kind("set aside"):  # "set aside 5 aggregate rows (...)": the kind is its first words
            lines.append(f"  {issue.text()}")
        for kind in ("fixed", "unplaced", "rejected", "warning"):
            for issue in self.of_kind(kind):
                lines.append(f"  {kind}: {issue.text()}")
        return lines
