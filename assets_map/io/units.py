"""Areas written with their units: "1,234 sq m", "0.5 ha", "2 acres", "12,000 sq ft", "415 m²".

Registers write a floor or site area with its unit in the cell, or the unit in the header ("Floor Area
(sq ft)", "Site Area (acres)"). A value is converted to the canonical unit (square metres for floor area,
hectares for site area) from its own unit, else the header's, else it is taken as already in the canonical
unit. A cell whose unit is not an area unit, or that holds no number, becomes missing and is counted, so the
report can say so (never a square-foot figure read as square metres, never a figure dropped without a word).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from assets_map.engine.arrays import first_rows

#: unit -> square metres; the patterns are matched on lower-case text with spaces and dots squeezed out.
_UNITS: tuple[tuple[str, re.Pattern, float], ...] = (
    ("sq ft", re.compile(r"(sq(uare)?f(ee|oo)?t|ft2|ft²|sqft)$"), 0.09290304),
    ("acres", re.compile(r"(acres?|ac)$"), 4046.8564224),
    ("ha", re.compile(r"(hectares?|ha|hec)$"), 10000.0),
    ("sq m", re.compile(r"(sq(uare)?m(et(re|er)s?)?|m2|m²|sqm)$"), 1.0),
)
#: What the canonical columns are measured in (square metres per unit).
TARGET = {"floor_area_m2": 1.0, "site_area_ha": 10000.0}
#: Words that say a figure is approximate ("approx. 2 ha", "c. 0.5 acres", "1,200 sq ft (approx)").
_APPROX = re.compile(r"\(?\b(?:approx(?:imately)?|circa|about|est(?:imated)?)\b\.?\)?|^c\.\s*|\(\s*\)")
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?")


def _squeeze(text: str) -> str:
    return re.sub(r"[\s.,£()\[\]]", "", text.lower())


def unit_of(text: object, *, whole: bool = False) -> tuple[str, float] | None:
    """The area unit a header ends with (or, ``whole``, a value's tail is), as (label, m² per unit), or None."""
    s = _squeeze(str(text))
    for label, pattern, factor in _UNITS:
        if (pattern.fullmatch(s) if whole else pattern.search(s)):
            return label, factor
    return None


def parse_area(text: object) -> tuple[float, float | None, bool]:
    """A cell as (number, square metres per unit or None when it names none, understood).

    ``understood`` is False for a cell holding text that is not a number with an optional area unit.
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return np.nan, None, True
    if isinstance(text, (int, float, np.integer, np.floating)):
        return float(text), None, True
    s = str(text).strip().lower().replace(",", "").replace("£", "")
    if not s or s in ("-", "n/a", "na", "nil", "none", "unknown", "tbc", "nan"):
        return np.nan, None, True
    s = re.sub(r"\s+", "", _APPROX.sub("", s))
    m = _NUMBER.match(s)
    if not m:
        return np.nan, None, False
    number, tail = float(m.group(0)), s[m.end():]
    if not tail:
        return number, None, True
    unit = unit_of(tail, whole=True)
    if unit is None:
        return np.nan, None, False
    return number, unit[1], True


def area_column(values: pd.Series, canonical: str, header: str = "") -> tuple[pd.Series, dict]:
    """An area column converted to ``canonical``'s unit (``floor_area_m2`` or ``site_area_ha``).

    Returns the float64 values and a note: ``{"converted": {unit: rows}, "not_read": [row positions]}``.
    """
    target = TARGET[canonical]
    default = unit_of(header)
    default_factor = default[1] if default else target
    if pd.api.types.is_numeric_dtype(values):
        out = values.astype("float64") * (default_factor / target)
        return out, {"converted": ({default[0]: int(out.notna().sum())} if default and default_factor != target else {}),
                     "not_read": [], "header": header}
    n = len(values)
    plain = _plain_numbers(values)
    numbers = np.full(n, np.nan)
    if plain is not None:  # plain decimals ("1234.5": the bulk of a large register) read by Arrow, the rest one by one
        mask, parsed_plain = plain
        numbers[mask] = parsed_plain * (default_factor / target)  # what parse_area gives them: no unit of their own
        rest = np.flatnonzero(~mask)
        codes = np.full(n, -2, dtype=np.int64)  # -2: a plain decimal
        rest_codes, uniques = pd.factorize(values.iloc[rest], use_na_sentinel=True)  # in its own dtype: no copy
        codes[rest] = rest_codes
        uniques = np.asarray(uniques.astype(object), dtype=object)
    else:
        mask = np.zeros(n, dtype=bool)
        codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    parsed = [parse_area(u) for u in uniques]
    nums = np.array([p[0] * ((p[1] or default_factor) / target) for p in parsed] + [np.nan], dtype="float64")
    taken = codes >= -1
    numbers[taken] = nums[codes[taken]]
    out = pd.Series(numbers, index=values.index, dtype="float64")
    labels = {f: lab for lab, _, f in _UNITS}
    # rows per unit converted, the units in the order of their first row (as the values were met, row by row)
    at = np.flatnonzero(codes >= 0)
    count = np.bincount(codes[at], minlength=len(uniques))
    first = at[first_rows(codes[at])]  # each value's first row (factorize numbers them in order of appearance)
    seen: dict[str, list[int]] = {}  # label -> [first row, rows]
    for i, (num, factor, _) in enumerate(parsed):
        f = factor or default_factor
        if f != target and not np.isnan(num):
            got = seen.setdefault(labels.get(f, ""), [int(first[i]), 0])
            got[0], got[1] = min(got[0], int(first[i])), got[1] + int(count[i])
    if mask.any() and default_factor != target:
        got = seen.setdefault(labels.get(default_factor, ""), [int(np.argmax(mask)), 0])
        got[0], got[1] = min(got[0], int(np.argmax(mask))), got[1] + int(mask.sum())
    converted = {lab: rows for lab, (_, rows) in sorted(seen.items(), key=lambda kv: kv[1][0])}
    bad = [i for i, p in enumerate(parsed) if not p[2]]
    not_read = [int(j) for j in np.flatnonzero(np.isin(codes, bad))] if bad else []
    return out, {"converted": converted, "not_read": not_read, "header": header}


#: A plain decimal: read by Arrow's cast exactly as :func:`parse_area` (no unit, sign, spaces or commas) and
#: ``pd.to_numeric`` read it (:func:`assets_map.io.normalise.numbers_from_ascii`).
PLAIN_DECIMAL = r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"


def _plain_numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """(mask of the cells that are plain decimals, their numbers) for a column of Arrow text, else None."""
    dtype = values.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    text = values.array.__arrow_array__()
    plain = pc.fill_null(pc.match_substring_regex(text, PLAIN_DECIMAL), False)
    return (plain.to_numpy(zero_copy_only=False),
            pc.cast(pc.filter(text, plain), pa.float64()).to_numpy(zero_copy_only=False))


def empty_share(void: pd.Series, header: str, floor_m2: pd.Series) -> tuple[pd.Series, dict]:
    """An empty floor given as an area ("Void area (sq m)") as the percentage of the floor area it is.

    Returns the percentages (missing where the floor area is unknown, zero, or smaller than the empty area)
    and a note for :func:`report_areas`: ``{"share": header, "computed": n, "no_floor": [...], "too_big": [...]}``.
    """
    empty, note = area_column(void, "floor_area_m2", header)
    floor = pd.to_numeric(floor_m2, errors="coerce").astype("float64")
    given = empty.notna().to_numpy()
    ok_floor = (floor > 0).fillna(False).to_numpy()
    too_big = given & ok_floor & (empty.to_numpy() > floor.to_numpy() * 1.0001)
    use = given & ok_floor & ~too_big
    # rounded to a tenth of a percent: a share worked out from two published figures is no surer than that
    pct = pd.Series(np.round(np.where(use, 100.0 * empty.to_numpy() / np.where(ok_floor, floor.to_numpy(), 1.0),
                                      np.nan), 1), index=void.index, dtype="float64")
    note.update({"share": header, "computed": int(use.sum()), "no_floor": [int(j) for j in np.flatnonzero(given & ~ok_floor)],
                 "too_big": [int(j) for j in np.flatnonzero(too_big)]})
    return pct, note


def report_areas(canon: pd.DataFrame, mapping: dict, rows: np.ndarray, report) -> None:
    """Say which area values were converted from another unit, and which could not be read as an area.

    ``canon`` carries the notes :func:`area_column` left in ``attrs["area_units"]``; ``rows`` are the file's
    row numbers of its records; ``report`` is the import's :class:`~assets_map.io.report.ImportReport`.
    """
    for canonical, note in canon.attrs.get("area_units", {}).items():
        header = note.get("header") or mapping.get(canonical, canonical)
        if "share" in note:  # an empty floor given as an area: read as its share of the floor area
            if note["computed"]:
                report.add("fixed", f"{header}: the empty floor area read as its share of the floor area "
                           f"(empty_floor_pct) for {note['computed']} site(s); originals kept in src_{header}")
            if note["no_floor"]:
                report.add("warning", f"{header}: an empty floor area with no floor area to measure it against; "
                           "not used", [int(r) for r in rows[note["no_floor"]]])
            if note["too_big"]:
                report.add("warning", f"{header}: an empty floor area larger than the site's floor area; not used "
                           "(check which figure is wrong)", [int(r) for r in rows[note["too_big"]]])
        unit = "square metres" if canonical == "floor_area_m2" else "hectares"
        for label, n in note["converted"].items():
            report.add("fixed", f"{header}: {n} value(s) in {label} converted to {unit}")
        if note["not_read"]:
            report.add("warning", f"{header}: value(s) not read as an area (a number with m², sq ft, ha or acres); "
                       "left blank (originals kept in src_" + str(header) + ")",
                       [int(r) for r in rows[note["not_read"]]])


#: Folded headers that say only "area" or "size": which area they are is told by their unit.
_GENERIC_AREA = re.compile(r"^(total|gross|plot|approx|approximate|site|land|property|building)?(area|size)"
                           r"(sqm|sqft|m2|ha|hectares|acres|ac|sqmetres|squaremetres|squarefeet)?$")
_LAND_UNITS = {4046.8564224, 10000.0}
#: Words before "area"/"size" that say whose area it is, whatever its unit: land's, or a building's.
_LAND_WORDS = {"plot", "site", "land"}
_FLOOR_WORDS = {"building", "gross"}


def _generic_area(col: object) -> re.Match | None:
    return _GENERIC_AREA.match(re.sub(r"[^a-z0-9]", "", str(col).lower().replace("²", "2")))


def with_area_columns(raw: pd.DataFrame, mapping: dict) -> dict:
    """``mapping`` with a column headed only "Area" or "Size" read as a floor or a site area.

    A word before it says whose area it is ("Plot size", "Land area": a site's; "Building area", "Gross
    area": a floor's). Otherwise the unit in the header, else the unit most of its cells carry, decides:
    hectares or acres are a site's land, square metres or square feet a building's floor (as registers
    measure them; :func:`land_areas` then reads it as the site area of the rows that are land). A column
    with no word and no unit anywhere is left unread (its values stay in its source column).
    """
    if "floor_area_m2" in mapping and "site_area_ha" in mapping:
        return mapping
    taken = set(mapping.values())
    out = dict(mapping)
    for col in raw.columns:
        m = _generic_area(col)
        if col in taken or not m:
            continue
        unit = unit_of(col)
        factor = unit[1] if unit else None
        if factor is None and not pd.api.types.is_numeric_dtype(raw[col]):
            units = [p[1] for p in map(parse_area, raw[col].dropna().unique()[:500]) if p[1]]
            if units:
                factor = max(set(units), key=units.count)
        if m.group(1) in _LAND_WORDS:
            canonical = "site_area_ha"
        elif m.group(1) in _FLOOR_WORDS:
            canonical = "floor_area_m2"
        elif factor is None:
            continue
        else:
            canonical = "site_area_ha" if factor in _LAND_UNITS else "floor_area_m2"
        if canonical not in out:
            out[canonical] = col
            taken.add(col)
    return out


def land_areas(canon: pd.DataFrame, mapping: dict, rows: np.ndarray, report) -> None:
    """A bare "Area (sq m)" read as the floor area is, for a row that is land, that land's site area.

    A register that says only "Area" in square metres or square feet does not say whose area it is: a
    building's floor, or the land of a car park or a field. Rows whose holding is land get it as their site
    area (in hectares, where they have none) instead of a floor area; the report says so. ``canon`` is
    changed in place (its ``attrs["area_units"]`` name the column read); ``rows`` are the file's row numbers.
    """
    header = canon.attrs.get("area_units", {}).get("floor_area_m2", {}).get("header") or mapping.get("floor_area_m2")
    m = _generic_area(header) if header is not None else None
    if m is None or m.group(1) in _FLOOR_WORDS or "holding_type" not in canon:
        return
    floor = canon["floor_area_m2"]
    land = (canon["holding_type"] == "land").to_numpy() & floor.notna().to_numpy()
    if not land.any():
        return
    site = canon["site_area_ha"].to_numpy(dtype="float64", na_value=np.nan).copy()
    take = land & np.isnan(site)
    site[take] = floor.to_numpy(dtype="float64", na_value=np.nan)[take] / 10_000
    canon["site_area_ha"] = site
    canon.loc[land, "floor_area_m2"] = np.nan
    report.add("fixed", f"{header}: does not say whose area it is; read as the site area of the "
               f"{int(land.sum())} site(s) that are land (in hectares) and the floor area of the rest",
               [int(r) for r in rows[land]])
