"""Rows under a register's header that describe its columns, not sites.

Published registers often put a line under the header saying each column's unit, type or number:
``(text), (OSGB36), m2, £, dd/mm/yyyy`` or ``1, 2, 3, 4...``. Read as a record it would be a nameless,
unplaced phantom site. Such rows (only among the first few under the header) are set aside and listed.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from assets_map.io.units import unit_of

#: Words a column-notes row uses for a column's kind or rule.
_TYPE_WORDS = {"text", "string", "number", "numeric", "integer", "decimal", "date", "datetime", "currency", "£", "%",
               "y/n", "yes/no", "boolean", "free text", "optional", "mandatory", "required", "dd/mm/yyyy",
               "yyyy-mm-dd", "dd/mm/yy", "url", "uri", "m", "km", "gbp"}
#: How many rows under the header are looked at.
_LOOK = 3


def _annotation(value: object) -> bool:
    text = str(value).strip()
    low = text.lower()
    if re.fullmatch(r"[(\[].*[)\]]", text):
        return True
    return low in _TYPE_WORDS or unit_of(low, whole=True) is not None


def _numbering(cells: list[str]) -> bool:
    """Cells numbering the columns: 1, 2, 3... (three or more, consecutive)."""
    if len(cells) < 3 or not all(re.fullmatch(r"\d{1,3}", c.strip()) for c in cells):
        return False
    nums = [int(c) for c in cells]
    return all(b == a + 1 for a, b in zip(nums, nums[1:], strict=False))


def set_aside_column_notes(raw: pd.DataFrame, report) -> pd.DataFrame:
    """``raw`` without the rows just under the header that only describe its columns; ``report`` lists them.

    A row counts when it has no shape, two filled cells or more, and every filled cell is an annotation (in brackets, a unit such as "m2" or "ha", a type
    word such as "text" or "dd/mm/yyyy") or the cells number the columns; only the first rows are looked at,
    and a row is never set aside after the first real record.
    """
    attrs = raw.drop(columns=["geometry"], errors="ignore")
    has_shape = (raw["geometry"].notna().to_numpy() if "geometry" in raw.columns
                 else np.zeros(len(raw), dtype=bool))
    notes = []
    for pos in range(min(_LOOK, len(attrs) - 1)):  # never every row: a one-record file is a record
        if has_shape[pos]:  # a feature with a shape is a site, whatever its attributes say
            break
        row = attrs.iloc[pos]
        cells = [str(v) for v in row.to_numpy(dtype=object) if v is not None and not (isinstance(v, float) and np.isnan(v))
                 and str(v).strip()]
        # two annotated cells at least: a lone "M" or "(Closed)" may be a record's only value
        if len(cells) < 2 or not (all(_annotation(c) for c in cells) or _numbering(cells)):
            break
        notes.append(pos)
    if not notes:
        return raw
    rows = raw.index[notes] + 1
    shown = "; ".join(", ".join(str(v) for v in attrs.iloc[p].dropna().astype(str) if v.strip())[:60] for p in notes)
    report.add("set aside", f"set aside {len(notes)} row(s) under the header describing the columns (units, types "
               f"or numbering: {shown}); not sites", rows)
    report.set_aside += len(notes)
    return raw.drop(index=raw.index[notes])
