"""Assets of Community Value: councils' lists in, statutory clocks, matches to the register, the national layout out.

* :func:`read_acv_list` reads a council's list (CSV or Excel, headers as councils write them:
  "Asset name", "Date nominated", "Date listed"...) or the planning.data.gov.uk
  ``asset-of-community-value`` layout (hyphens, underscores or spaces in its field names);
* :func:`acv_clocks` computes the dates the Localism Act 2011 and the Assets of Community Value
  (England) Regulations 2012 set from a listing's real dates, each with what the group must do by it;
* :func:`match_listings` matches listings to register assets by UPRN, address and location, with a
  confidence and the reason;
* :func:`write_planning_data` writes a list back in the planning.data.gov.uk layout, so a council
  can publish it (a list read in that layout is written back identically).

Periods "beginning with" a date include that date (the Act's wording): a period of six weeks
beginning with 1 March ends on 11 April. A period of months or years ends on the day before the
same date that many months later; when that month has no such date (31 August plus six months,
29 February plus five years) it ends on the last day of that month.
"""
from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from assets_map.io.report import InputError, rows_text
from assets_map.schema import MEASURE_CRS

#: The planning.data.gov.uk ``asset-of-community-value`` fields, in the order an export writes them.
PLANNING_FIELDS: tuple[str, ...] = (
    "reference", "name", "address-text", "description", "point", "geometry", "organisation", "nomination-date",
    "nominating-group", "decision", "decision-date", "expiry-date", "notification-to-sell-date",
    "interested-group", "protected-period-start-date", "notes", "entry-date", "start-date", "end-date",
)
DATE_FIELDS = ("nomination-date", "decision-date", "expiry-date", "notification-to-sell-date",
               "protected-period-start-date", "entry-date", "start-date", "end-date")
#: Fields that help matching though the national layout has none.
MATCH_FIELDS = ("uprn", "postcode", "easting", "northing", "latitude", "longitude")

#: Council headers (folded: lower case, words only) for each field.
_ALIASES: dict[str, tuple[str, ...]] = {
    "reference": ("reference", "ref", "acv ref", "acv reference", "reference number", "ref no", "listing reference",
                  "case reference", "acv number", "acv no", "list reference", "id"),
    "name": ("name", "asset", "asset name", "name of asset", "property", "property name", "site name", "premises",
             "building", "name of property", "asset of community value"),
    "address-text": ("address text", "address", "asset address", "property address", "site address",
                     "full address", "location", "address of asset", "address of property"),
    "description": ("description", "asset description", "description of asset", "type", "asset type"),
    "organisation": ("organisation", "council", "local authority", "listing authority"),
    "nomination-date": ("nomination date", "date nominated", "date of nomination", "nomination received",
                        "date nomination received", "date received", "nominated on", "received"),
    "nominating-group": ("nominating group", "nominated by", "nominator", "nominating body",
                         "nominating organisation", "community group", "nominating community group", "nominee"),
    "decision": ("decision", "outcome", "listing decision", "result", "status", "listing status",
                 "decision outcome"),
    "decision-date": ("decision date", "date of decision", "date listed", "listing date", "date of listing",
                      "listed on", "date added to list", "date entered on list", "date added", "date decided"),
    "expiry-date": ("expiry date", "listing expires", "expiry", "date of expiry", "listing end date",
                    "date listing ends", "expires", "listing expiry date", "expiry of listing", "date listing expires"),
    "notification-to-sell-date": ("notification to sell date", "notification of intention to sell",
                                  "date of notification", "notification date", "disposal notification date",
                                  "notice of intention to sell", "date notified of intention to sell",
                                  "notification of disposal", "intention to sell notified", "date of notice to sell"),
    "interested-group": ("interested group", "group requesting to bid", "request to be treated as a bidder",
                         "interested community group", "potential bidder", "bidder"),
    "protected-period-start-date": ("protected period start date", "protected period start",
                                    "protected period begins", "start of protected period"),
    "notes": ("notes", "comments", "remarks", "note"),
    "entry-date": ("entry date",),
    "start-date": ("start date",),
    "end-date": ("end date", "date removed", "removed on", "date of removal"),
    "point": ("point", "wkt point"),
    "geometry": ("geometry", "wkt", "geom"),
    "uprn": ("uprn", "unique property reference number"),
    "postcode": ("postcode", "post code"),
    "easting": ("easting", "eastings", "x"),
    "northing": ("northing", "northings", "y"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "long", "lon", "lng"),
}
_FIELD_OF = {alias: f for f, names in _ALIASES.items() for alias in names}

#: How a decision reads, as one of: listed, not listed, removed, pending.
DECISION_WORDS = {"listed": "listed", "not listed": "not listed", "removed": "removed", "pending": "pending"}
_NOT = re.compile(r"\b(not|unsuccessful|reject\w*|refus\w*|declin\w*|invalid|fail\w*|no)\b|^un", re.I)
_REMOVED = re.compile(r"\b(removed|de-?listed|expired|lapsed|withdrawn|revoked)\b", re.I)
_LISTED = re.compile(r"\b(listed|successful|accepted|approved|added|yes|agreed|on the list|included)\b", re.I)
_PENDING = re.compile(r"\b(pending|awaiting|under (consideration|review)|received|to be decided|in progress)\b", re.I)


def fold_header(header: object) -> str:
    """A header as lower-case words (hyphens, underscores and punctuation as spaces)."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", str(header).lower()).split())


# --------------------------------------------------------------------------- dates
def _month_end(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def period_end(start: dt.date, *, weeks: int = 0, months: int = 0) -> dt.date:
    """The last day of a period of ``weeks`` weeks or ``months`` months beginning with ``start``.

    A period of weeks ends ``7 * weeks - 1`` days after its first day. A period of months ends
    the day before the same date ``months`` months later; when that month has no such date,
    on the last day of that month.

    Parameters
    ----------
    start : the first day of the period (a notification received, a nomination, a listing)
    weeks, months : the length of the period (one of them)

    Examples
    --------
    >>> period_end(dt.date(2023, 8, 31), months=6)
    datetime.date(2024, 2, 29)
    >>> period_end(dt.date(2024, 3, 1), months=6)
    datetime.date(2024, 8, 31)
    """
    if weeks:
        return start + dt.timedelta(days=7 * weeks - 1)
    total = start.year * 12 + (start.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    if start.day > _month_end(year, month):
        return dt.date(year, month, _month_end(year, month))
    return dt.date(year, month, start.day) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Clock:
    """One statutory date of a listing: what it is, the date, and what the group must do by it."""

    key: str
    label: str
    date: dt.date
    to_do: str
    state: str = ""  # "passed" or "N days left" against the day asked about

    def line(self) -> str:
        """The clock in one line of words."""
        when = self.date.strftime("%-d %B %Y")
        return f"{self.label}: {when}" + (f" ({self.state})" if self.state else "") + f". {self.to_do}"


def decision_kind(text: object) -> str:
    """A council's decision in words (listed, not listed, removed or pending); blank is pending."""
    s = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text).strip()
    if not s or _PENDING.search(s):
        return "pending"
    if _REMOVED.search(s):
        return "removed"
    if _NOT.search(s):
        return "not listed"
    if _LISTED.search(s):
        return "listed"
    return "pending"


def _date(v: Any) -> dt.date | None:
    if v is None or v == "" or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return parse_date(str(v))


_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m} | {
    m.lower(): i for i, m in enumerate(calendar.month_abbr) if m} | {"sept": 9}


def parse_date(text: str) -> dt.date | None:
    """An ISO, UK day-first (``12/03/2021``, ``12.03.21``) or written (``12 March 2021``) date; None when blank.

    Raises
    ------
    ValueError
        For text that is no date (the caller names the row).
    """
    s = text.strip()
    if not s:
        return None
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][0-9:.]+Z?)?", s)
    if m:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    m = re.fullmatch(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})(?: [0-9:]+)?", s)
    if m:
        year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
        return dt.date(year, int(m[2]), int(m[1]))
    m = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?[ \-]([A-Za-z]+)\.?,?[ \-](\d{4})", s)
    if m and m[2].lower() in _MONTHS:
        return dt.date(int(m[3]), _MONTHS[m[2].lower()], int(m[1]))
    raise ValueError(f"{text!r} is not a date (use YYYY-MM-DD or DD/MM/YYYY)")


def acv_clocks(listing: Mapping[str, Any], today: dt.date | None = None) -> list[Clock]:
    """The statutory dates of one listing, from its real dates, in date order.

    Parameters
    ----------
    listing : a listing with planning.data.gov.uk field names (``nomination-date``, ``decision``,
        ``decision-date``, ``notification-to-sell-date``, ``interested-group``,
        ``protected-period-start-date``, ``expiry-date``); dates as dates or text
    today : the day the states ("12 days left", "passed") are counted against; None: no states

    Returns
    -------
    list of Clock
        * the council's decision deadline: 8 weeks beginning with the nomination (while undecided);
        * the listing's end: 5 years beginning with the listing decision (the list's own
          expiry date when it gives one that differs is said in the line);
        * after a notification to sell: the interim moratorium (6 weeks), the full moratorium
          (6 months) and the protected period (18 months), each beginning with the notification.
    """
    kind = decision_kind(listing.get("decision"))
    nominated = _date(listing.get("nomination-date"))
    decided = _date(listing.get("decision-date"))
    notified = _date(listing.get("notification-to-sell-date"))
    protected_from = _date(listing.get("protected-period-start-date")) or notified
    stated_expiry = _date(listing.get("expiry-date"))
    out: list[Clock] = []
    if nominated and kind == "pending" and decided is None:
        out.append(Clock("decision-due", "Council's decision due", period_end(nominated, weeks=8),
                         "The council must decide the nomination by this date (8 weeks from receiving it); "
                         "ask the council if you have not heard."))
    if kind == "listed" and decided:
        expiry = period_end(decided, months=60)
        said = (f" The council's list gives {stated_expiry.strftime('%-d %B %Y')}."
                if stated_expiry and stated_expiry != expiry else "")
        out.append(Clock("listing-expires", "Listing ends", expiry,
                         "Nominate the asset again before this date to keep it listed (a listing lasts 5 years)."
                         + said))
    if kind == "listed" and notified:
        interim = period_end(notified, weeks=6)
        full = period_end(notified, months=6)
        asked = str(listing.get("interested-group") or "").strip()
        out.append(Clock("interim-moratorium", "Interim moratorium ends", interim,
                         "Ask the council in writing, by this date, for your group to be treated as a potential "
                         "bidder; without such a request the owner may sell after it." +
                         (f" {asked} has asked." if asked else "")))
        out.append(Clock("full-moratorium", "Full moratorium ends", full,
                         "Make your bid by this date: the owner may not sell to anyone else until then "
                         "(only when a community group asked to bid during the interim moratorium)."))
        out.append(Clock("protected-period", "Protected period ends", period_end(protected_from, months=18),
                         "Until this date the owner may sell without a new moratorium; after it a new "
                         "notification to sell starts the clocks again."))
    out.sort(key=lambda c: c.date)
    if today is not None:
        out = [Clock(c.key, c.label, c.date, c.to_do, _state(c.date, today)) for c in out]
    return out


def _state(date: dt.date, today: dt.date) -> str:
    days = (date - today).days
    if days < 0:
        return "passed"
    if days == 0:
        return "today is the last day"
    return f"{days} day{'s' if days != 1 else ''} left"


# -------------------------------------------------------------------------- reading
@dataclass
class AcvList:
    """A list of assets of community value as read.

    Attributes
    ----------
    frame : GeoDataFrame in EPSG:27700, one row per listing, planning.data.gov.uk field names
        (dates as :class:`datetime.date`, text as text, missing as None), the matching fields
        present in the file, ``decision_kind`` and ``source_row`` (the file's row number)
    columns : the columns an export writes (a planning.data.gov.uk file's own columns, in its order)
    layout : ``planning.data.gov.uk`` or ``council``
    source : the file's name
    notes : what the reader did that the user should know
    """

    frame: gpd.GeoDataFrame
    columns: list[str]
    layout: str
    source: str
    notes: list[str] = field(default_factory=list)
    #: the file's own text of each column (for columns kept as they were written)
    raw: pd.DataFrame | None = None
    #: how the file was written (line ending, byte-order mark, every cell quoted), kept for a faithful write-back
    style: dict = field(default_factory=dict)


def _map_headers(columns: list[str]) -> tuple[dict[str, str], bool]:
    """File column -> field, and whether the file is in the planning.data.gov.uk layout."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for col in columns:
        f = _FIELD_OF.get(fold_header(col))
        if f and f not in taken:
            mapping[col] = f
            taken.add(f)
    planning_names = {c for c in columns if str(c).strip().lower().replace("_", "-").replace(" ", "-")
                      in PLANNING_FIELDS}
    planning = "reference" in taken and len(planning_names) >= 4 and all(
        str(c).strip().lower().replace("_", "-").replace(" ", "-") == mapping.get(c, "") for c in planning_names)
    return mapping, planning


def read_acv_list(path: str | os.PathLike, *, name: str | None = None, sheet: str | None = None) -> AcvList:
    """Read a council's list of assets of community value, or the planning.data.gov.uk layout.

    Parameters
    ----------
    path : a CSV or Excel file (read through the project's safe opener)
    name : the name to show in messages (an upload's name)
    sheet : the Excel sheet to read (default: the first sheet whose headers name listings)

    Raises
    ------
    InputError
        Naming the file: no column for the asset's name or address, no reference, dates that are
        not dates (with their rows), a location that is not a point.
    """
    from assets_map.io.sources import EXCEL_EXT, excel_frame, open_table

    shown = Path(str(name)).name if name else Path(path).name
    if sheet is None and Path(shown).suffix.lower() in EXCEL_EXT:
        sheet = _acv_sheet(Path(path), shown)
    table = open_table(path, name=shown, layer=sheet)
    if table.is_vector:  # GeoJSON or GeoPackage as planning.data.gov.uk also gives them: the shape as WKT in WGS84
        layer = table.frame
        if layer.crs is None:
            raise InputError("is a map layer with no coordinate system", source=shown)
        shapes = layer.geometry.to_crs("EPSG:4326")
        raw = pd.DataFrame(layer.drop(columns=layer.geometry.name)).astype(object)
        raw = raw.where(raw.notna(), None)
        raw["geometry"] = [None if g is None or g.is_empty else shapely.to_wkt(g, rounding_precision=7)
                           for g in shapes]
        raw.columns = [str(c) for c in raw.columns]
        return _listings(raw, shown, notes=list(table.notes))
    table = excel_frame(table)
    raw = table.frame.copy()
    raw.columns = [str(c) for c in raw.columns]
    acv = _listings(raw, shown, header_line=table.header_row, notes=list(table.notes))
    if table.format == "csv" and acv.raw is not None:
        acv.style = _csv_style(Path(path))
    return acv


def _csv_style(path: Path) -> dict:
    """How a CSV file was written: its line ending, a UTF-8 byte-order mark, every cell quoted."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0]
    return {"newline": "\r\n" if first.endswith(b"\r") else "\n", "bom": head.startswith(b"\xef\xbb\xbf"),
            "quote_all": first.startswith(b'"') and first.rstrip(b"\r").endswith(b'"') and b'","' in first}


def _acv_sheet(path: Path, shown: str) -> str | None:
    """The first sheet of a workbook whose headers name listings (councils keep notes on other sheets)."""
    from assets_map.io.sources import _excel_file, current_limits, excel_frame, open_table

    with _excel_file(path, shown, current_limits()) as xf:
        sheets = [str(s) for s in xf.sheet_names]
    if len(sheets) <= 1:
        return None
    for layer in sheets:
        try:
            framed = excel_frame(open_table(path, name=shown, layer=layer))
        except InputError:
            continue
        mapping, _ = _map_headers([str(c) for c in framed.frame.columns])
        if {"name", "address-text"} & set(mapping.values()):
            return layer
    raise InputError(f"none of its sheets ({', '.join(sheets[:12])}) has a column for an asset's name or address",
                     source=shown)


def read_acv_bytes(data: bytes, name: str) -> AcvList:
    """:func:`read_acv_list` of an upload's bytes (written to a private temporary file first)."""
    import tempfile

    suffix = Path(name).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="acv-") as tmp:
        target = Path(tmp) / ("upload" + suffix)
        target.write_bytes(data)
        return read_acv_list(target, name=name)


def _listings(raw: pd.DataFrame, source: str, *, header_line: int = 1, notes: list[str] | None = None) -> AcvList:
    columns = list(raw.columns)
    mapping, planning = _map_headers(columns)
    fields = set(mapping.values())
    problems = []
    if not ({"name", "address-text"} & fields):
        problems.append("does not look like a list of assets of community value: no column for the asset's name or "
                        f"address (columns: {', '.join(columns[:12])})")
    if not ({"nomination-date", "decision", "decision-date", "notification-to-sell-date"} & fields):
        problems.append("has no nomination date, decision or decision date column, so no clock can be computed "
                        f"(columns: {', '.join(columns[:12])})")
    if problems:
        raise InputError(problems, source=source)
    raw = raw.loc[raw.apply(lambda r: any(_text(v) for v in r), axis=1)].reset_index(drop=True)
    rows = np.arange(len(raw)) + header_line + 1
    out = pd.DataFrame({"source_row": rows})
    bad_dates: dict[str, list[int]] = {}
    for col, f in mapping.items():
        values = raw[col].tolist()
        if f in DATE_FIELDS:
            parsed = []
            for v, r in zip(values, rows, strict=True):
                try:
                    parsed.append(_date(v))
                except ValueError:
                    bad_dates.setdefault(f"{col}", []).append(int(r))
                    parsed.append(None)
            out[f] = parsed
        else:
            out[f] = [_text(v) for v in values]
    for f in PLANNING_FIELDS + MATCH_FIELDS:
        if f not in out.columns:
            out[f] = None
    if bad_dates:
        raise InputError([f"{col} is not a date in {rows_text(r)} (use YYYY-MM-DD or DD/MM/YYYY)"
                          for col, r in bad_dates.items()], source=source)
    notes = list(notes or [])
    if out["reference"].isna().all():
        out["reference"] = [f"{Path(source).stem}-{r}" for r in rows]
        notes.append("the list has no reference column: each listing is named after its file and row")
    missing_ref = [int(r) for r, v in zip(rows, out["reference"], strict=True) if not v]
    if missing_ref:
        raise InputError(f"reference is blank in {rows_text(missing_ref)}", source=source)
    dup = out["reference"][out["reference"].duplicated()].unique().tolist()
    if dup:
        raise InputError(f"reference repeated: {', '.join(map(str, dup[:10]))}", source=source)
    out["decision_kind"] = [decision_kind(v) for v in out["decision"]]
    geoms = _locations(out, source)
    frame = gpd.GeoDataFrame(out, geometry=geoms, crs=MEASURE_CRS)
    export_cols = list(columns) if planning else list(PLANNING_FIELDS)
    keep_raw = raw if planning else None
    return AcvList(frame, export_cols, "planning.data.gov.uk" if planning else "council", source, notes, keep_raw)


def _text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).strip()
    return s or None


def _locations(out: pd.DataFrame, source: str) -> list:
    """Each listing's location in EPSG:27700 (point or geometry WKT in WGS84, eastings/northings, lat/lon)."""
    wgs, bng, bad = [None] * len(out), [None] * len(out), []
    for i, r in enumerate(out.itertuples(index=False)):
        d = r._asdict()
        text = _text(d.get("point")) or _text(d.get("geometry"))
        if text:
            try:
                g = shapely.from_wkt(text)
            except shapely.errors.GEOSException:
                bad.append(int(d["source_row"]))
                continue
            wgs[i] = g.centroid if g.geom_type != "Point" else g
            continue
        e, n = _num(d.get("easting")), _num(d.get("northing"))
        if e is not None and n is not None and 0 <= e <= 700_000 and 0 <= n <= 1_300_000:
            bng[i] = shapely.Point(e, n)
            continue
        lat, lon = _num(d.get("latitude")), _num(d.get("longitude"))
        if lat is not None and lon is not None and 49 <= lat <= 61 and -9 <= lon <= 3:
            wgs[i] = shapely.Point(lon, lat)
    if bad:
        raise InputError(f"point or geometry is not WKT (POINT (longitude latitude)) in {rows_text(bad)}",
                         source=source)
    there = gpd.GeoSeries(wgs, crs="EPSG:4326").to_crs(MEASURE_CRS)
    return [b if b is not None else (there.iloc[i] if wgs[i] is not None else None) for i, b in enumerate(bng)]


def _num(v: Any) -> float | None:
    try:
        f = float(str(v).replace(",", "").strip())
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


# ------------------------------------------------------------------------- matching
_ABBREV = {"st": "street", "rd": "road", "ave": "avenue", "ln": "lane", "dr": "drive", "cl": "close",
           "ct": "court", "pl": "place", "sq": "square", "gdns": "gardens", "cres": "crescent", "tce": "terrace"}
_STOP = {"the", "of", "and", "a", "at", "in", "on", "uk", "england"}
_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?)\s*(\d[A-Z]{2})\b", re.I)
#: A listing and an asset this far apart (metres) share no location evidence.
FAR_M = 250.0
NEAR_M = 25.0


def _tokens(*texts: Any) -> set[str]:
    words = set()
    for t in texts:
        if not t or (isinstance(t, float) and np.isnan(t)):
            continue
        s = _POSTCODE.sub(" ", str(t).lower())
        for w in re.findall(r"[a-z0-9]+", s):
            w = _ABBREV.get(w, w)
            if w not in _STOP:
                words.add(w)
    return words


def _postcode(*texts: Any) -> str | None:
    for t in texts:
        if t and isinstance(t, str):
            m = _POSTCODE.search(t)
            if m:
                return (m[1] + m[2]).upper()
    return None


def _uprn(v: Any) -> str | None:
    s = _text(v)
    if not s:
        return None
    s = re.sub(r"\s+", "", s).removesuffix(".0").lstrip("0")
    return s if s.isdigit() else None


def match_listings(listings: gpd.GeoDataFrame, assets: gpd.GeoDataFrame) -> pd.DataFrame:
    """The register asset each listing is, with a confidence (0-1), its word and the evidence.

    Evidence: the same UPRN is certain (1.0); otherwise the share of the listing's name and address
    words (house numbers included) found in the asset's, the same postcode, and how near they are
    (full at 25 m or less, none at 250 m or more). A listing whose two best assets score within
    0.05 of each other is marked ambiguous and its confidence lowered.

    Parameters
    ----------
    listings : :attr:`AcvList.frame`
    assets : register assets (``asset_id``, ``name``, ``address``, ``postcode``, ``uprn``, geometry)

    Returns
    -------
    DataFrame
        One row per listing: ``reference``, ``asset_id`` (None: no match), ``confidence``,
        ``confidence_words`` (certain, high, medium, low, none) and ``evidence`` (words).
    """
    a = assets.to_crs(MEASURE_CRS) if assets.crs is not None and not assets.crs.equals(MEASURE_CRS) else assets
    ids = a["asset_id"].astype(str).tolist() if len(a) else []
    col = (lambda c: a[c].tolist() if c in a.columns else [None] * len(a))
    a_tokens = [(_tokens(n), _tokens(ad)) for n, ad in zip(col("name"), col("address"), strict=True)]
    a_pc = [_postcode(p, ad) for p, ad in zip(col("postcode"), col("address"), strict=True)]
    a_uprn = {}
    for i, u in enumerate(col("uprn")):
        if (k := _uprn(u)) is not None:
            a_uprn.setdefault(k, i)
    a_pts = [g.representative_point() if g is not None and not g.is_empty else None for g in a.geometry] \
        if len(a) else []
    rows = []
    for rec, geom in zip(listings.drop(columns="geometry").to_dict("records"), listings.geometry, strict=True):
        rows.append(_match_one(rec, geom, ids, a_tokens, a_pc, a_uprn, a_pts))
    return pd.DataFrame(rows, columns=["reference", "asset_id", "confidence", "confidence_words", "evidence"])


def _share(words: set[str], of: set[str]) -> float:
    return len(words & of) / len(words) if words and of else 0.0


def _words_alike(l_name: set[str], l_addr: set[str], a_name: set[str], a_addr: set[str]) -> float:
    """How alike a listing's and an asset's words are (0-1): address against address, name against name.

    The share of the listing's words the asset has, so a house number counts ("14 Church Street" is not
    "14 Canal Side" nor a "Church Street playing field"); a listing with no address is read by its name
    against the asset's name and address.
    """
    if l_addr and a_addr:
        addr = _share(l_addr, a_addr)
        return 0.7 * addr + 0.3 * _share(l_name, a_name | a_addr) if l_name else addr
    return _share(l_name | l_addr, a_name | a_addr)


def _match_one(rec, geom, ids, a_tokens, a_pc, a_uprn, a_pts) -> dict:
    ref = rec["reference"]
    u = _uprn(rec.get("uprn"))
    if u is not None and u in a_uprn:
        return {"reference": ref, "asset_id": ids[a_uprn[u]], "confidence": 1.0, "confidence_words": "certain",
                "evidence": f"same UPRN ({u})"}
    l_name, l_addr = _tokens(rec.get("name")), _tokens(rec.get("address-text"))
    l_pc = _postcode(rec.get("postcode"), rec.get("address-text"))
    here = geom if geom is not None and not geom.is_empty else None
    scored = []
    for i in range(len(ids)):
        words = _words_alike(l_name, l_addr, *a_tokens[i])
        same_pc = bool(l_pc and a_pc[i] and l_pc == a_pc[i])
        dist = here.distance(a_pts[i]) if here is not None and a_pts[i] is not None else None
        near = 0.0 if dist is None else float(np.clip((FAR_M - dist) / (FAR_M - NEAR_M), 0.0, 1.0))
        score = 0.55 * words + 0.25 * near + 0.2 * same_pc
        if dist is None:  # no location to weigh: the words and postcode carry it
            score = 0.75 * words + 0.25 * same_pc
        scored.append((score, i, words, same_pc, dist))
    scored.sort(key=lambda s: -s[0])
    if not scored or scored[0][0] < 0.3:
        return {"reference": ref, "asset_id": None, "confidence": 0.0, "confidence_words": "none",
                "evidence": "no register asset shares its address, postcode or location"}
    score, i, words, same_pc, dist = scored[0]
    parts = [f"{words:.0%} of its name and address words found in the site's"]
    if same_pc:
        parts.append("same postcode")
    if dist is not None:
        parts.append(f"{dist:,.0f} m apart")
    if len(scored) > 1 and scored[1][0] >= 0.3 and scored[0][0] - scored[1][0] < 0.05:
        score = min(score, 0.45)
        parts.append(f"ambiguous: {ids[scored[1][1]]} fits almost as well")
    words_ = "high" if score >= 0.75 else "medium" if score >= 0.5 else "low"
    return {"reference": ref, "asset_id": ids[i], "confidence": round(float(score), 2), "confidence_words": words_,
            "evidence": ", ".join(parts)}


# -------------------------------------------------------------------------- writing
def _cell(f: str, rec: Mapping[str, Any], geom) -> str:
    v = rec.get(f)
    if f in DATE_FIELDS:
        return v.isoformat() if isinstance(v, dt.date) else ""
    if f == "point" and not v and geom is not None and not geom.is_empty:
        p = gpd.GeoSeries([geom.representative_point()], crs=MEASURE_CRS).to_crs("EPSG:4326").iloc[0]
        return f"POINT ({p.x:.6f} {p.y:.6f})"
    return "" if v is None else str(v)


def write_planning_data(acv: AcvList, target: str | os.PathLike | None = None) -> str:
    """The list as CSV in the planning.data.gov.uk ``asset-of-community-value`` layout.

    A list read in that layout keeps its own columns, their order, every value as written and, in
    the file written, its line endings, byte-order mark and quoting; a council's list is written with :data:`PLANNING_FIELDS` (dates as YYYY-MM-DD, a point in
    WGS84 from the location when the list had none). Cells starting with = + - @ are written
    as text a spreadsheet will not run.

    Parameters
    ----------
    acv : the list (:func:`read_acv_list`)
    target : a file to write (atomically); None: only return the text

    Returns
    -------
    str : the CSV text
    """
    buf = io.StringIO()
    style = acv.style or {}
    w = csv.writer(buf, lineterminator=style.get("newline", "\n"),
                   quoting=csv.QUOTE_ALL if style.get("quote_all") else csv.QUOTE_MINIMAL)
    w.writerow(acv.columns)
    mapping, _ = _map_headers(acv.columns)
    recs = acv.frame.drop(columns="geometry").to_dict("records")
    for n, (rec, geom) in enumerate(zip(recs, acv.frame.geometry, strict=True)):
        row = []
        for col in acv.columns:
            f = mapping.get(col, col)
            if acv.raw is not None and col in acv.raw.columns:  # the national layout: every value as written
                v = _text(acv.raw[col].iloc[n])
                row.append(_safe("" if v is None else v))
            else:
                row.append(_safe(_cell(f, rec, geom)))
        w.writerow(row)
    text = buf.getvalue()
    if target is not None:
        target = Path(target)
        part = target.with_name(target.name + ".partial")
        part.write_bytes((b"\xef\xbb\xbf" if style.get("bom") else b"") + text.encode("utf-8"))
        os.replace(part, target)
    return text


def _safe(s: str) -> str:
    # A date or WKT never starts with these; a negative number in a text field stays readable.
    if s[:1] in ("=", "+", "@") or (s[:1] == "-" and not re.fullmatch(r"-?[0-9.]+", s)):
        return "'" + s
    return s
