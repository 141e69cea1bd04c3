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


def normalise_ownership(text: object) -> str:
    """``public``, ``private``, ``mixed`` or ``unknown`` from the many ways registers say it."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return "unknown"
    s = re.sub(r"[^a-z]+", " ", str(text).lower()).strip()
    if not s:
        return "unknown"
    if "mixed" in s or "part" in s:
        return "mixed"
    if re.search(r"\bnot (owned by )?(a )?public|\bprivate|\bnon public|\bnot public", s):
        return "private"
    public = bool(re.search(r"\bpublic\b|\blocal authority\b|\bcouncil\b|\bnhs\b|\bcrown\b|\bhomes england\b|\bla owned\b", s))
    unknown = "unknown" in s or "not known" in s
    if public and unknown:
        return "mixed"  # e.g. "Local Authority, Unknown": partly public, the rest not known
    if public:
        return "public"
    return "unknown"


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
    if "asset_id" not in mapping:
        problems.append("has no site reference column (SiteReference, site)")
    if "ownership" not in mapping:
        problems.append("has no ownership column (OwnershipStatus, ownership)")
    if problems:
        raise InputError(problems, source=table.name)
    n_read = len(raw)
    layout = "planning-data harmonised layout" if is_harmonised(cols) else "statutory layout"
    pre = ImportReport(source=table.name)
    raw = raw.reset_index(drop=True)
    kept = _latest_editions(raw, mapping, pre)
    overrides = {k: mapping[k] for k in ("asset_id", "name", "site_area_ha", "source_date") if k in mapping}
    if not table.is_vector:
        overrides.update({k: mapping[k] for k in ("x", "y", "crs_label") if k in mapping})
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
    ownership = [normalise_ownership(v) for v in src[mapping["ownership"]]]
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
    dates = out["source_date"]
    out["brownfield_ref"] = [
        (f"{p} brownfield land register, site {a}" + (f", {d}" if d is not None and not pd.isna(d) else ""))
        if is_pub else None
        for p, a, d, is_pub in zip(pub_name, out["asset_id"], dates, public, strict=True)
    ]
    # The publisher is not the owner of private, mixed or unknown sites.
    not_public = np.array([o != "public" for o in ownership])
    out.loc[not_public, "organisation"] = None
    out.loc[not_public, "anchor_type"] = "other"
    out["holding_type"] = out["holding_type"].where(out["holding_type"] != "unknown", "land")
    out["use"] = out["use"].fillna("brownfield land (on the brownfield land register)")
    counts = pd.Series(ownership).value_counts()
    unmatched = [str(v) for v, o in zip(src[mapping["ownership"]], ownership, strict=True) if o == "unknown" and v is not None
                 and not pd.isna(v) and "unknown" not in str(v).lower() and str(v).strip()]
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


__all__ = ["attach_brownfield", "is_brownfield", "is_harmonised", "match_brownfield_columns", "normalise_ownership",
           "read_brownfield", "rows_text"]
