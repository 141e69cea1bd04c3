"""Locations written in one cell: Ordnance Survey grid references and coordinate pairs.

The Local Government Transparency Code asks councils for a "map reference" beside easting and northing,
and many registers give only that: an OS National Grid reference such as ``SJ 81234 94567`` (two letters
for the 100 km square, then an even number of digits, half easting and half northing), or the pair itself
in one cell (``381234, 394567``, ``E 381234 N 394567``, ``53.45, -2.31``). :func:`read_locations` turns
such a column into the x and y the coordinate reader takes, with the size of the square a grid reference
names: a point is placed at the centre of its square when the square is 100 m or smaller; a 1 km or larger
square is too coarse to stand for a site and is left unplaced with a note.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The coarsest grid square (metres) placed at its centre; coarser references are left unplaced.
PLACEABLE_SQUARE_M = 100
#: Folded headers of columns that hold a grid reference or a coordinate pair.
GRID_REF_HEADERS = ("mapreference", "mapref", "gridreference", "gridref", "osgridreference", "osgridref",
                    "osgr", "ngr", "nationalgridreference", "osreference", "osref", "gridreferenceosgb",
                    "coordinates", "coordinate", "location", "eastingnorthing", "eastingsnorthings", "latlong",
                    "latlon", "latitudelongitude")

_LETTERS = r"[HJNOST][A-HJ-Z]"
_GRID = rf"^(?P<sq>{_LETTERS})(?P<digits>\d{{0,10}})$"
_NUM = r"-?\d+(?:\.\d+)?"
# "381234, 394567", "381234 394567", "381234/394567", "E 381234 N 394567", "E:381234; N:394567", "53.45,-2.31"
_PAIR = (rf"^\(?\s*(?:E(?:ASTING)?S?\s*[:=]?\s*)?(?P<a>{_NUM})\s*(?:[,;/]|\s)\s*"
         rf"(?:N(?:ORTHING)?S?\s*[:=]?\s*)?(?P<b>{_NUM})\s*\)?$")


@dataclass
class CellLocations:
    """What a location column says, row by row.

    ``x``/``y`` are the numbers to read (British National Grid for grid references; either order of
    longitude/latitude or easting/northing for pairs, left for the coordinate reader to classify), NaN where
    the row gives none that can be used; ``notes`` says why a row was not used or where it was put;
    ``unreadable`` marks the cells that hold text that is neither a grid reference nor a pair; ``coarse``
    marks grid references naming a square larger than :data:`PLACEABLE_SQUARE_M`.
    """

    x: np.ndarray
    y: np.ndarray
    notes: list[str | None]
    unreadable: np.ndarray
    coarse: np.ndarray


def square_origin(letters: str) -> tuple[int, int]:
    """The south-west corner (easting, northing in metres) of an OS 100 km square such as ``"SJ"``.

    Parameters
    ----------
    letters : str
        The two letters (upper case; I is not used by the grid).

    Returns
    -------
    tuple of int
        The corner in EPSG:27700 metres.
    """
    first, second = (ord(c) - ord("A") for c in letters)
    first -= first > 7  # the grid skips I
    second -= second > 7
    east = ((first - 2) % 5) * 5 + second % 5
    north = (19 - (first // 5) * 5) - second // 5
    return east * 100_000, north * 100_000


def read_locations(values: pd.Series) -> CellLocations:
    """Read a column of OS grid references or coordinate pairs.

    Parameters
    ----------
    values : pandas.Series
        The cells as published.

    Returns
    -------
    CellLocations
        Numbers, notes and the rows that could not be read.
    """
    n = len(values)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    notes: list[str | None] = [None] * n
    text = values.astype("string").str.strip().str.upper()
    present = text.notna() & (text != "")
    compact = text.str.replace(r"[\s.\-]", "", regex=True)
    grid = compact.str.extract(_GRID)
    is_grid = (present & grid["sq"].notna()).fillna(False).to_numpy(dtype=bool)
    digits = grid["digits"].fillna("")
    even = (digits.str.len() % 2 == 0).to_numpy(dtype=bool)
    coarse = np.zeros(n, dtype=bool)
    odd = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(is_grid):
        sq, dg = grid.at[grid.index[i], "sq"], digits.iloc[i]
        if not even[i]:
            notes[i] = f"grid reference {values.iloc[i]!s} has an odd number of digits: not read"
            odd[i] = True
            continue
        half = len(dg) // 2
        size = 10 ** (5 - half)  # the square the reference names, in metres
        if size > PLACEABLE_SQUARE_M:
            coarse[i] = True
            notes[i] = (f"grid reference {values.iloc[i]!s} names a {_size_words(size)} square: too coarse to place")
            continue
        e0, n0 = square_origin(sq)
        x[i] = e0 + (int(dg[:half]) if half else 0) * size + size / 2
        y[i] = n0 + (int(dg[half:]) if half else 0) * size + size / 2
        if size > 1:
            notes[i] = f"placed at the centre of the {_size_words(size)} grid square {values.iloc[i]!s}"
    pair = text.str.extract(_PAIR)
    is_pair = (present & pair["a"].notna()).fillna(False).to_numpy(dtype=bool) & ~is_grid
    x[is_pair] = pd.to_numeric(pair["a"][is_pair], errors="coerce").to_numpy(dtype=float)
    y[is_pair] = pd.to_numeric(pair["b"][is_pair], errors="coerce").to_numpy(dtype=float)
    unreadable = present.fillna(False).to_numpy(dtype=bool) & ~is_grid & ~is_pair
    for i in np.flatnonzero(unreadable):
        notes[i] = f"location {str(values.iloc[i])[:40]!r} is neither an OS grid reference nor a coordinate pair"
    return CellLocations(x=x, y=y, notes=notes, unreadable=unreadable | odd, coarse=coarse)


def _size_words(metres: int) -> str:
    return f"{metres // 1000:,} km" if metres >= 1000 else f"{metres:,} m"
