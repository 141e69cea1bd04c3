"""Brownfield land registers: the statutory layout, its real variants, and the planning-data harmonised layout.

Councils publish brownfield registers in the statutory layout (``SiteReference``,
``SiteNameAddress``, ``GeoX``, ``GeoY``, ``CoordinateReferenceSystem``,
``Hectares``, ``OwnershipStatus``, ``PlanningStatus``...) with renamed or
upper-case headers ("LA SITE REF", "AREA (HA)"), coordinate columns in another
order and CRS labels that contradict the values. planning.data.gov.uk
republishes them in a harmonised layout (``site``, ``site-address``,
``ownership``, ``latitude``, ``longitude``, ``resource-date``...) that may hold
several editions of the register: the latest entry of each site is kept.

Publicly owned sites carry ``brownfield_ref``, which the underuse evidence reads;
other sites are kept (nothing is dropped) with ``organisation`` empty, since
the register's publisher is not their owner.
"""
from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd

from assets_map.io.normalise import fold, to_date
from assets_map.io.registers import read_register
from assets_map.io.report import ImportReport, InputError, rows_text
from assets_map.io.sources import Table
from assets_map.schema import order_columns

#: Folded headers that only brownfield registers carry; two or more identify one.
MARKERS = ("ownershipstatus", "ownership", "planningstatus", "planningpermissionstatus", "deliverable",
           "landdeliverable", "hazardoussubstances", "minnetdwellings", "minimumnetdwellings",
           "netdwellingsrangefrom", "maximumnetdwellings", "permissiontype", "planningpermissiontype",
           "siteplanurl", "siteplan", "planofsite", "proposedforpip", "developmentdescription",
           "descriptionofproposedhousingdevelopment", "minimumnetdwellings")

#: canonical -> folded headers, in order of preference (statutory, variants, harmonised).
COLUMNS: dict[str, tuple[str, ...]] = {
    "asset_id": ("sitereference", "lasiteref", "siteref", "site", "reference", "ref"),
    "name": ("sitenameaddress", "nameandaddressofsite", "siteaddress", "sitename", "address"),
    "organisation_label": ("organisationlabel", "organisationname", "localauthority", "name", "organisation"),
    "site_area_ha": ("hectares", "areaha", "siteareaha", "area", "sitearea"),
    "x": ("geox", "easting", "eastings", "xcoordinate", "longitude", "lon", "long", "x"),
    "y": ("geoy", "northing", "northings", "ycoordinate", "latitude", "lat", "y"),
    "crs_label": ("coordinatereferencesystem", "coordinatesystem", "crs"),
    "source_date": ("lastupdateddate", "datelastupdated", "resourcedate", "firstaddeddate", "dateenteredonregister",
                    "entrydate"),
    "ownership": ("ownershipstatus", "ownership"),
    "planning_status": ("planningstatus", "planningpermissionstatus"),
    "deliverable": ("deliverable", "landdeliverable"),
    "end_date": ("enddate",),
}

OWNERSHIP = ("public", "private", "mixed", "unknown")


def _find(columns: list[str], cands: tuple[str, ...], taken: set[str]) -> str | None:
    folded = {c: fold(c) for c in columns}
    for cand in cands:
        hit = next((c for c in columns if folded[c] == cand and c not in taken), None)
        if hit is not None:
            return hit
    return None


def is_brownfield(columns: list[str]) -> bool:
    """True when the headers look like a brownfield land register."""
    folded = {fold(c) for c in columns}
    return len(folded & set(MARKERS)) >= 2


_CURIE = re.compile(r"^[a-z][a-z-]*:[A-Za-z0-9-]+$")


def is_planning_data_sites(frame: pd.DataFrame, columns: list[str]) -> bool:
    """True for planning.data.gov.uk brownfield-land rows without the register's other fields.

    Such a file (e.g. a national extract of points: ``organisation, latitude, longitude,
    hectares, end-date``) names its publisher by a planning-data reference
    (``local-authority-eng:SNR``) and gives ``hectares`` or says ``dataset: brownfield-land``.
    """
    folded = {fold(c): c for c in columns}
    if "dataset" in folded:
        if frame[folded["dataset"]].astype("string").str.strip().eq("brownfield-land").mean() >= 0.8:
            return True
    if "organisation" not in folded or "hectares" not in folded:
        return False
    org = frame[folded["organisation"]].astype("string").dropna().str.strip()
    org = org[org != ""]
    return len(org) > 0 and org.str.match(_CURIE).mean() >= 0.8


def is_harmonised(columns: list[str]) -> bool:
    """The planning-data layout: lower-case hyphenated names with ``site`` and ``site-address``."""
    cols = set(columns)
    return "site" in cols and "site-address" in cols


def match_brownfield_columns(columns: list[str], frame: pd.DataFrame | None = None) -> dict[str, str]:
    """Map the brownfield fields to headers; each header is used once.

    With ``frame``, a date column that is entirely empty is passed over for the next candidate.
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    harmonised = is_harmonised(columns)
    for key, cands in COLUMNS.items():
        if harmonised and key == "organisation_label":
            cands = ("name", "organisationlabel")  # "organisation" holds a code (local-authority-eng:TRF)
        if key == "source_date" and frame is not None:
            folded = {fold(c): c for c in columns}
            cands = tuple(c for c in cands if c in folded and frame[folded[c]].notna().any()) or cands
        hit = _find(columns, cands, taken)
        if hit is not None:
            out[key] = hit
            taken.add(hit)
    return out


#: Words naming a public owner, and words that deny it ("not", "non-", "no") when they come before one.
_PUBLIC_WORDS = (r"public|council|local authority|la|lpa|authority|government|crown|nhs|homes england|"
                 r"county|borough|parish|ministry|mod|police|fire")
_PUBLIC = re.compile(rf"\b(?:{_PUBLIC_WORDS})\b")
_NEGATED = re.compile(rf"\b(?:not|non|no)\b(?: [a-z]+){{0,4}}? (?:{_PUBLIC_WORDS})\b(?: (?:owned|ownership|owner|authority|body|sector|land))*")
_PRIVATE = re.compile(r"\bprivate(?:ly)?\b|\bnot in public\b")
_MIXED = re.compile(r"\bmix(?:ed)?\b|\bpart(?:ly|ial|ially)?\b|\bjoint(?:ly)?\b|\bshared\b|\bcombination\b")
_UNKNOWN = re.compile(r"\bunknown\b|\bnot known\b|\bunconfirmed\b|\bnot confirmed\b|\btbc\b|\bto be confirmed\b")


def _ownership_words(text: object) -> str | None:
    """The ownership text as lower-case words, or None when blank."""
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return None
    s = re.sub(r"[^a-z]+", " ", str(text).lower()).strip()
    return s or None


def read_ownership(text: object) -> tuple[str, bool]:
    """``(ownership, recognised)``: the status (see :func:`normalise_ownership`) and whether the words were understood.

    A denial ("not", "non-", "no" before a public word, or "private") is never read as public.
    """
    s = _ownership_words(text)
    if s is None:
        return "unknown", True
    negated = bool(_NEGATED.search(s))
    private = negated or bool(_PRIVATE.search(s))
    public = bool(_PUBLIC.search(_NEGATED.sub(" ", _PRIVATE.sub(" ", s))))
    unknown = bool(_UNKNOWN.search(s))
    if _MIXED.search(s) or (public and private):
        return "mixed", True
    if public and unknown:
        return "mixed", True  # e.g. "Local Authority, Unknown": partly public, the rest not known
    if private:
        return "private", True
    if public:
        return "public", True
    return "unknown", unknown


def normalise_ownership(text: object) -> str:
    """``public``, ``private``, ``mixed`` or ``unknown`` from the many ways registers say it.

    The statutory values ("owned by a public authority", "not owned by a public authority",
    "mixed ownership", "unknown ownership") and their variants in any case or wording
    ("Not in public ownership", "Private", "LA owned", "council owned", "partly public",
    "Local Authority, Unknown", blank...). Words not understood are read as ``unknown``.
    """
    return read_ownership(text)[0]


_MERGED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:ha\b|hectares?\b)?[\s,;:/|-]*([A-Za-z].*)$")


def split_merged(text: object) -> tuple[float, str] | None:
    """``(hectares, ownership text)`` from a cell that merges both (``"0.39 Not owned by a public authority"``).

    None unless the cell is a number followed by words that read as an ownership status.
    """
    if not isinstance(text, str):
        return None
    m = _MERGED.match(text)
    if not m:
        return None
    rest = m.group(2).strip()
    status, recognised = read_ownership(rest)
    if not recognised or (status == "unknown" and not _UNKNOWN.search(rest.lower())):
        return None
    return float(m.group(1)), rest


_WKT_POINT = re.compile(r"^\s*(?:SRID=\d+;)?\s*POINT\s*Z?\s*\(\s*([-+0-9.eE]+)[\s,]+([-+0-9.eE]+)(?:\s+[-+0-9.eE]+)?\s*\)\s*$",
                        re.I)
#: Folded headers that may hold a WKT point (the harmonised layout's ``point``).
POINT_COLUMNS = ("point", "geometry", "wkt", "geom", "location")


def _wkt_point_columns(frame: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, str] | None:
    """Longitude and latitude columns parsed from the first column of ``POINT(x y)`` WKT, and that column's name."""
    for col in columns:
        if fold(col) not in POINT_COLUMNS:
            continue
        text = frame[col].astype("string")
        parts = text.str.extract(_WKT_POINT)
        if parts[0].notna().sum() == 0:
            continue
        xy = pd.DataFrame({"point x": pd.to_numeric(parts[0], errors="coerce"),
                           "point y": pd.to_numeric(parts[1], errors="coerce")}, index=frame.index)
        return xy, col
    return None


def _latest_editions(raw: pd.DataFrame, mapping: dict[str, str], report: ImportReport) -> pd.DataFrame:
    """Keep each site's latest entry (by resource-date, then entry-date), and say so."""
    date_col = next((c for c in ("resource-date", "entry-date") if c in raw.columns), None)
    if date_col is None or "asset_id" not in mapping:
        return raw
    dates = pd.to_datetime(to_date(raw[date_col]))  # the registers' one date rule: ISO, then UK day-first
    editions = sorted(d.date().isoformat() for d in dates.dropna().unique())
    key_cols = [mapping["asset_id"]] + (["organisation"] if "organisation" in raw.columns else [])
    keys = raw[key_cols].astype("string").fillna("").agg("|".join, axis=1)
    second = pd.to_datetime(to_date(raw["entry-date"])) if "entry-date" in raw.columns else dates
    order = pd.DataFrame({"k": keys, "d": dates, "e": second, "pos": np.arange(len(raw))}, index=raw.index)
    order = order.sort_values(["k", "d", "e", "pos"], na_position="first")
    blank_key = order["k"].str.strip("|") == ""
    latest = order[~blank_key].groupby("k").tail(1).index.union(order[blank_key].index)
    older = raw.index.difference(latest)
    if len(editions) > 1:
        report.add("warning", f"the file holds {len(editions)} register editions ({date_col} {editions[0]} to "
                              f"{editions[-1]}); each site's latest entry was kept"
                              + ("" if len(older) else " (no site appears in more than one edition)"))
    if len(older):
        report.add("rejected", "an older edition of a site that appears again later in the file (the latest entry was kept)",
                   older.to_numpy() + 1)
        report.rejected += len(older)
    return raw.loc[raw.index.isin(latest)]


def _present(v) -> bool:
    return v is not None and not (isinstance(v, float) and np.isnan(v)) and v is not pd.NA and str(v).strip() != ""


def _evidence_text(publisher, site, hectares, permission, deliverable, date) -> str:
    """The brownfield evidence of one publicly owned site: register, site, hectares, permission, deliverability, date."""
    parts = [f"{publisher} brownfield land register, site {site}"]
    if _present(hectares):
        parts.append(f"{float(hectares):g} ha")
    if _present(permission):
        parts.append(f"planning: {str(permission).strip()}")
    if _present(deliverable):
        parts.append(f"deliverable: {str(deliverable).strip()}")
    if _present(date):
        parts.append(str(date))
    return ", ".join(parts)


def read_brownfield(table: Table, *, postcodes: pd.DataFrame | None = None, make_valid: bool = True
                    ) -> tuple[gpd.GeoDataFrame, ImportReport]:
    """Read a brownfield land register (statutory or harmonised layout) into the asset schema.

    Adds ``ownership`` (public, private, mixed, unknown; the original is kept as
    ``src_*``), ``planning_status``, ``register_publisher`` and, for publicly owned
    sites still on the register, ``brownfield_ref``.
    """
    raw = table.frame
    if table.is_vector:
        cols = [c for c in raw.columns if c != raw.geometry.name]
    else:
        cols = list(raw.columns)
    mapping = match_brownfield_columns(cols, pd.DataFrame(raw[cols]))
    problems = []
    # planning.data.gov.uk extracts may leave out the site reference and ownership: read, ownership unknown
    extract = is_planning_data_sites(pd.DataFrame(raw[cols]), cols)
    if "asset_id" not in mapping and not extract:
        problems.append("has no site reference column (SiteReference, site)")
    if "ownership" not in mapping and not extract:
        problems.append("has no ownership column (OwnershipStatus, ownership)")
    if problems:
        raise InputError(problems, source=table.name)
    n_read = len(raw)
    layout = ("planning-data harmonised layout" if is_harmonised(cols)
              else "planning.data.gov.uk extract" if extract else "statutory layout")
    pre = ImportReport(source=table.name)
    raw = raw.reset_index(drop=True)
    kept = _latest_editions(raw, mapping, pre)
    overrides = {k: mapping[k] for k in ("asset_id", "name", "site_area_ha", "source_date") if k in mapping}
    if not table.is_vector:
        overrides.update({k: mapping[k] for k in ("x", "y", "crs_label") if k in mapping})
        if "x" not in mapping or "y" not in mapping:
            wkt = _wkt_point_columns(kept, cols)
            if wkt is not None:  # the harmonised layout's POINT(lon lat) when there are no coordinate columns
                xy, point_col = wkt
                kept = pd.concat([kept, xy], axis=1)
                overrides.update({"x": "point x", "y": "point y"})
                overrides.pop("crs_label", None)
                pre.add("warning", f"location read from the WKT column '{point_col}' (POINT(x y)); the register has no "
                                   "coordinate columns")
    if "organisation_label" in mapping:
        overrides["organisation"] = mapping["organisation_label"]
    out, report = read_register(Table(kept, table.format, table.name, table.notes, table.layers, table.layer),
                                postcodes=postcodes, columns=overrides, adapter=f"brownfield register ({layout})",
                                make_valid=make_valid)
    report.rows_read = n_read
    report.rejected += pre.rejected
    report.issues = pre.issues + report.issues
    rows = out["source_row"].astype(int).to_numpy()
    src = kept.loc[out["source_row"].astype(int).to_numpy() - 1]
    if "ownership" in mapping:
        own_text = src[mapping["ownership"]].to_numpy(dtype=object).copy()
    else:
        own_text = np.full(len(out), None, dtype=object)
        report.add("warning", "the file has no ownership column (a planning.data.gov.uk extract): every site's ownership "
                              "is unknown, so none is shown as a public body's asset or flagged for transfer")
    area = out["site_area_ha"].to_numpy(dtype="float64", na_value=np.nan).copy()
    area_text = src[mapping["site_area_ha"]].to_numpy(dtype=object) if "site_area_ha" in mapping else [None] * len(out)
    merged_rows = []
    for i, (a_txt, o_txt) in enumerate(zip(area_text, own_text, strict=True)):
        # A bad export may merge hectares and ownership into one cell ("0.39 Not owned by a public authority").
        for cell, in_area_col in ((a_txt, True), (o_txt, False)):
            split = split_merged(cell)
            if split is None:
                continue
            ha, phrase = split
            if np.isnan(area[i]):
                area[i] = ha
            # The ownership column's own words win, unless it is blank, not understood, or is the merged cell.
            if not in_area_col or _ownership_words(o_txt) is None or not read_ownership(o_txt)[1]:
                own_text[i] = phrase
            merged_rows.append(rows[i])
    if merged_rows:
        out["site_area_ha"] = area
        report.add("fixed", "hectares and ownership merged in one cell (e.g. '0.39 Not owned by a public authority'): "
                            "split into the area and the ownership status", np.array(sorted(set(merged_rows))))
    ownership = [normalise_ownership(v) for v in own_text]
    out["ownership"] = ownership
    out["planning_status"] = (src[mapping["planning_status"]].to_numpy() if "planning_status" in mapping else None)
    publisher = out["organisation"].copy()
    out["register_publisher"] = publisher
    ended = np.zeros(len(out), dtype=bool)
    if "end_date" in mapping:
        ended = src[mapping["end_date"]].notna().to_numpy() & (src[mapping["end_date"]].astype("string").str.strip() != "").fillna(False).to_numpy()
        if ended.any():
            report.add("warning", "the site has an end-date: it has left the register; kept, but not used as underuse evidence",
                       rows[ended])
    public = np.array([o == "public" for o in ownership]) & ~ended
    pub_name = publisher.fillna(table.name)
    out["brownfield_ref"] = [
        _evidence_text(p, a, ha, perm, dlv, d) if is_pub else None
        for p, a, ha, perm, dlv, d, is_pub in zip(
            pub_name, out["asset_id"], out["site_area_ha"], out["planning_status"],
            src[mapping["deliverable"]].to_numpy() if "deliverable" in mapping else [None] * len(out),
            out["source_date"], public, strict=True)
    ]
    # The publisher is not the owner of private, mixed or unknown sites.
    not_public = np.array([o != "public" for o in ownership])
    out.loc[not_public, "organisation"] = None
    out.loc[not_public, "anchor_type"] = "other"
    out["holding_type"] = out["holding_type"].where(out["holding_type"] != "unknown", "land")
    out["use"] = out["use"].fillna("brownfield land (on the brownfield land register)")
    counts = pd.Series(ownership).value_counts()
    unmatched = [str(v) for v in own_text if not read_ownership(v)[1]]
    if unmatched:
        report.add("warning", f"ownership values not recognised ({', '.join(sorted(set(unmatched))[:5])}); read as unknown")
    report.add("warning", "ownership: " + ", ".join(f"{int(counts.get(o, 0))} {o}" for o in OWNERSHIP)
               + f"; {int(public.sum())} publicly owned site(s) carry brownfield_ref (underuse evidence)"
               + ("; sites not publicly owned are kept with no organisation (the register's publisher is not their owner)"
                  if not_public.any() else ""))
    return out[order_columns(out)], report


def attach_brownfield(assets: gpd.GeoDataFrame, brownfield: gpd.GeoDataFrame, *, max_distance: float = 50.0
                      ) -> tuple[gpd.GeoDataFrame, int]:
    """Give assets the ``brownfield_ref`` of a publicly owned brownfield site within ``max_distance`` metres.

    Returns a copy of ``assets`` and the number of assets matched. Assets that
    already carry a ``brownfield_ref`` keep it.
    """
    out = assets.copy()
    if "brownfield_ref" not in out.columns:
        out["brownfield_ref"] = None
    bf = brownfield[brownfield.get("brownfield_ref").notna()] if "brownfield_ref" in brownfield else brownfield.iloc[0:0]
    bf = bf[~(bf.geometry.isna() | bf.geometry.is_empty)]
    have = ~(out.geometry.isna() | out.geometry.is_empty) & out["brownfield_ref"].isna()
    if bf.empty or not have.any():
        return out, 0
    left = gpd.GeoDataFrame(geometry=out.geometry[have], crs=out.crs).to_crs(bf.crs)
    hit = gpd.sjoin_nearest(left, bf[["brownfield_ref", "geometry"]], how="inner", max_distance=max_distance,
                            distance_col="_d")
    hit = hit.sort_values("_d")
    hit = hit[~hit.index.duplicated()]
    out.loc[hit.index, "brownfield_ref"] = hit["brownfield_ref"].to_numpy()
    return out, len(hit)


__all__ = ["attach_brownfield", "is_brownfield", "is_harmonised", "is_planning_data_sites", "match_brownfield_columns", "normalise_ownership",
           "read_brownfield", "read_ownership", "rows_text", "split_merged"]
