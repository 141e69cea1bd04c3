"""Section headings inside a register: one cell ("Cemeteries & Crematoria") above the sites it groups.

Registers laid out for printing group their sites under such headings.

Read as a record such a row would be a phantom site, and the sites under it would lose the category that
keeps a cemetery or an allotment from ever being flagged. The heading rows are set aside (listed in the
report) and each heading is carried down, to the sites under it until the next heading, in a column
:data:`SECTION_COLUMN` that the exclusions and the surplus signal read as the register's own category.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from assets_map.io.normalise import blank_cells

#: The column the carried headings go in: its header says category, so it is read as one.
SECTION_COLUMN = "Section heading category"
#: The column headings that name a place go in ("Park Ward", "Ashton Parish"): where the sites are, not what
#: they are, so never read as a category (a "Park Ward" heading must not exclude every site in it as a park).
SECTION_PLACE_COLUMN = "Section heading place"
_MAX_HEADING = 80
_PLACE = re.compile(r"\b(wards?|parish|parishes|district|locality|neighbourhood|division|township|constituency)\s*$",
                    re.IGNORECASE)


def filled_cells(frame: pd.DataFrame) -> np.ndarray:
    """Which cells of ``frame`` hold a value: not missing and, for text, not blank (rows x columns, bool).

    Column by column: text is trimmed of white space by Arrow where the column is held as Arrow text, by
    pandas otherwise; a number, date or flag is filled wherever it is not missing.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table's cells (no geometry column).

    Returns
    -------
    numpy.ndarray
        A boolean array of ``frame``'s shape.
    """
    out = np.zeros(frame.shape, dtype=bool, order="F")  # filled column by column: each column one run in memory
    for j in range(frame.shape[1]):
        col = frame.iloc[:, j]
        present = col.notna().to_numpy()
        if not present.any() or not (pd.api.types.is_string_dtype(col.dtype) or col.dtype == object):
            out[:, j] = present
            continue
        arrow = getattr(col.array, "_pa_array", None)
        if arrow is not None:  # Arrow-backed text: trimmed and compared in Arrow, no Python strings made
            out[:, j] = present & ~blank_cells(arrow)
        else:  # cells of any type: each present one as text
            out[present, j] = col[present].astype(object).astype(str).str.strip().ne("").to_numpy(dtype=bool)
    return out


def carry_sections(raw: pd.DataFrame, report) -> pd.DataFrame:
    """``raw`` without its section-heading rows, each heading carried down to its sites in :data:`SECTION_COLUMN`.

    A heading row has one filled cell, in the table's first column, holding text (not a number) of at most
    80 characters, and the next row is a record. Headings are only read so when the table has three columns
    or more, two headings or more, and most of its rows are records (three filled cells or more); otherwise
    nothing changes. Lines of one cell or none after the last record of such a table are notes under it
    ("Page 1 of 3", "* denotes a leased property"): set aside too. A heading naming a place (a ward, parish or
    district) is carried in :data:`SECTION_PLACE_COLUMN` instead, never read as a category. ``report`` lists
    what was set aside.
    """
    attrs = raw.drop(columns=["geometry"], errors="ignore")
    if attrs.shape[1] < 3 or len(attrs) < 3 or SECTION_COLUMN in raw.columns or SECTION_PLACE_COLUMN in raw.columns:
        return raw
    filled = filled_cells(attrs)
    counts = filled.sum(axis=1)
    record = counts >= 3
    if record.sum() >= 3 and not record[-1]:
        # Notes under the table ("Page 1 of 3", "Data correct as at ...", "* denotes a leased property"):
        # single cells after the last record, in a table of records. Set aside and quoted, never sites.
        last = int(np.flatnonzero(record)[-1])
        foot = np.arange(last + 1, len(attrs))
        shaped = raw["geometry"].notna().to_numpy() if "geometry" in raw.columns else np.zeros(len(raw), bool)
        if len(foot) and (counts[foot] <= 1).all() and not shaped[foot].any():  # a feature with a shape is a site
            shown = "; ".join(str(v).strip()[:60] for row, marks in zip(attrs.iloc[foot].to_numpy(dtype=object),
                                                                          filled[foot], strict=True)
                              for v, mark in zip(row, marks, strict=True) if mark)
            report.add("set aside", f"set aside {len(foot)} note line(s) under the table ({shown[:200]}); not sites",
                       raw.index[foot] + 1)
            report.set_aside += len(foot)
            raw, attrs = raw.iloc[: last + 1], attrs.iloc[: last + 1]
            filled, counts, record = filled[: last + 1], counts[: last + 1], record[: last + 1]
    heading = (counts == 1) & filled[:, 0]
    # only the few rows of one filled cell are looked at one by one (only their first cells made Python values)
    at = np.flatnonzero(heading)
    first = np.full(len(attrs), None, dtype=object)
    first[at] = attrs.iloc[at, 0].to_numpy(dtype=object)
    heading[at] = [isinstance(v, str) and len(v.strip()) <= _MAX_HEADING and
                   pd.isna(pd.to_numeric(v.strip().replace(",", ""), errors="coerce")) for v in first[at]]
    heading &= np.append(record[1:], False)  # the next row is a record
    if heading.sum() < 2 or record.sum() <= len(attrs) / 2:
        return raw
    if isinstance(raw, pd.DataFrame) and "geometry" in raw.columns:
        heading &= raw["geometry"].isna().to_numpy()
    place = heading.copy()
    place[heading] = [bool(_PLACE.search(v.strip())) for v in first[heading]]
    out = raw.copy()
    said = []
    for mask, column, what in ((heading & ~place, SECTION_COLUMN, "category"), (place, SECTION_PLACE_COLUMN, "place")):
        if mask.any():
            # a heading of one kind runs until the next heading of any kind
            section = pd.Series(np.where(heading, np.where(mask, first, ""), None), index=raw.index, dtype=object).ffill()
            out[column] = section.where(~pd.Series(heading, index=raw.index) & (section != ""), None)
            said.append(f"as the {what} of the sites under it (column '{column}')")
    rows = raw.index[heading] + 1
    shown = ", ".join(repr(str(v).strip()) for v in first[heading][:6])
    report.add("set aside", f"set aside {int(heading.sum())} section heading row(s) ({shown}); not sites: each "
               f"heading is kept {' or '.join(said)}", rows)
    report.set_aside += int(heading.sum())
    return out[~heading]
