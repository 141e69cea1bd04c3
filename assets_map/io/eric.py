"""NHS Estates Returns Information Collection (ERIC) site data.

NHS Digital publishes ERIC as a legacy ``.xls`` (sheet "Site Data") whose header
has two rows: group names ("Areas", "Function and Space"...) above the field
names; a CSV of the same sheet is read the same way. Each row is a site:
gross internal floor area, "Floor area - empty (%)", "Floor area - under used (%)",
"Land area not delivering services (Hectares)" and backlog costs are carried into
the asset schema (``empty_floor_pct``, ``underused_floor_pct``, ``land_idle_ha``,
``backlog_cost_gbp``) where the underuse evidence reads them.

ERIC gives no coordinates or postcodes, so sites are located against a locations
file the user gives (for example hospital points): by site code where the file
has one, else by normalised name. Every match says how it was made, unmatched and
ambiguous sites are listed, and the per-trust "AGGREGATE SITE" rows (a trust's
small sites added together, not a place) are kept unplaced and reported.

Other years are published as pivot-table exports: per-trust ``R1A Result`` rows, a
``Grand Total``, blank-keyed and trust-level rows sit between the sites. They total
other rows and are never sites: :func:`assets_map.io.registers.set_aside_aggregates`
sets them aside, counts them and reconciles the sites' floor area (and other summed
columns) with them.
"""
from __future__ import annotations

import difflib
import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from assets_map.engine.geo import representative_points
from assets_map.io.normalise import fold, to_number
from assets_map.io.registers import ORG_CODE_HEADERS, read_register
from assets_map.io.report import ImportReport, InputError
from assets_map.io.sources import Limits, Table, excel_frame, open_table
from assets_map.schema import MEASURE_CRS, order_columns

#: The sheet of the published workbook that holds one row per site.
SITE_SHEET = "Site Data"
#: How a matched site is placed (a value of ``location_quality``).
MATCHED = "matched location"
FUZZY_CUTOFF = 0.9


#: ERIC field -> test on the folded header (robust to the small renamings between collection years).
FIELDS: dict[str, Callable[[str], bool]] = {
    "organisation_code": lambda f: f in ORG_CODE_HEADERS,
    "organisation": lambda f: f in ("organisationname", "trustname", "orgname", "providername"),
    "site_code": lambda f: f == "sitecode",
    "region": lambda f: "region" in f and "code" not in f,
    "site_name": lambda f: f == "sitename",
    "site_type": lambda f: f == "sitetype",
    "floor_area_m2": lambda f: f.startswith(("grossinternalfloorarea", "grossinternalsitefloorarea", "gia")),
    "site_area_ha": lambda f: f.startswith("landareaowned") or f.startswith("sitelandarea"),
    # "Un-utilised space (%)" is the empty floor area's name in the returns before 2014/15
    "empty_floor_pct": lambda f: ("floorareaempty" in f or f.startswith(("emptyfloorarea", "unutilisedspace")))
    and "cost" not in f,
    "underused_floor_pct": lambda f: ("underused" in f) and "floor" in f and "cost" not in f,
    "land_idle_ha": lambda f: "notdeliveringservices" in f,
}


def _columns(columns: list[str]) -> dict[str, str]:
    # a pivot-table export names its data fields "Sum of <field>" (Excel) or "Sum - <field>" (LibreOffice)
    folded = {c: re.sub(r"^sum(of)?", "", fold(c)) if re.match(r"(?i)\s*sum\s*(of\b|-)", str(c)) else fold(c)
              for c in columns}
    out: dict[str, str] = {}
    for key, test in FIELDS.items():
        hit = next((c for c in columns if test(folded[c]) and c not in out.values()), None)
        if hit is not None:
            out[key] = hit
    return out


def backlog_columns(columns: list[str]) -> list[str]:
    """The four risk-category backlog cost columns (high, significant, moderate, low)."""
    return [c for c in columns if "backlog" in fold(c) and "costtoeradicate" in fold(c)]


def is_eric(columns: list[str]) -> bool:
    """True when the headers are ERIC site data's."""
    found = _columns([str(c) for c in columns])
    return "site_code" in found and len({"empty_floor_pct", "underused_floor_pct", "land_idle_ha", "organisation_code"} & set(found)) >= 2


# ------------------------------------------------------------------ names

def normalise_name(text: object) -> str:
    """Upper case, '&' as AND, apostrophes dropped, ST as SAINT, punctuation as spaces."""
    s = str(text or "").upper().replace("&", " AND ").replace("@", " AT ")
    s = re.sub(r"[’'`]", "", s)
    s = re.sub(r"\bST\b\.?", "SAINT ", s)
    return re.sub(r"[^A-Z0-9]+", " ", s).strip()


#: Words that say what kind of place a site is rather than which one; close spellings are judged without them.
GENERIC_WORDS = frozenset("""HOSPITAL HOSPITALS COMMUNITY GENERAL DISTRICT UNIT CENTRE CENTER CLINIC HOUSE NHS FOUNDATION
TRUST THE AND OF FOR INFIRMARY MEMORIAL HEALTH MENTAL SITE WARD WING BLOCK BUILDING COTTAGE""".split())


def distinctive(name: str) -> str:
    """The words of a normalised name that identify the place, joined without spaces."""
    return "".join(w for w in name.split() if w not in GENERIC_WORDS)


def core_name(text: object) -> str:
    """The name without a bracketed or trailing qualifier: "ROYAL MARSDEN HOSPITAL, SUTTON" -> "ROYAL MARSDEN HOSPITAL"."""
    s = re.sub(r"\(.*?\)", " ", str(text or "").upper())
    s = re.split(r",| - ", s)[0]
    return re.sub(r"^THE ", "", normalise_name(s))


@dataclass
class _Index:
    geometry: np.ndarray
    labels: list[str]
    by_code: dict[str, list[int]]
    by_name: dict[str, list[int]]
    by_core: dict[str, list[int]]
    cores: list[str]
    owners: OwnerAreas | None = None

    def __post_init__(self) -> None:
        self.by_distinct: dict[str, list[str]] = {}
        for c in self.cores:
            self.by_distinct.setdefault(distinctive(c), []).append(c)
        self.distincts = sorted(k for k in self.by_distinct if k)


def _close_match(core: str, idx: _Index) -> int | None:
    """One location whose distinctive words are a close spelling (ratio >= FUZZY_CUTOFF) and whose generic words agree.

    "EDGEWARE COMMUNITY HOSPITAL" finds "Edgware Community Hospital"; "TENBURY COMMUNITY
    HOSPITAL" does not find "Tewkesbury Community Hospital".
    """
    key = distinctive(core)
    if len(key) < 5:
        return None
    close = difflib.get_close_matches(key, idx.distincts, n=2, cutoff=FUZZY_CUTOFF)
    if not close:
        return None
    if len(close) > 1 and difflib.SequenceMatcher(None, key, close[1]).ratio() >= difflib.SequenceMatcher(None, key, close[0]).ratio():
        return None  # two equally close: ambiguous
    generic = {w for w in core.split() if w in GENERIC_WORDS}
    hits = [c for c in idx.by_distinct[close[0]] if {w for w in c.split() if w in GENERIC_WORDS} == generic]
    if len(hits) != 1 or len(idx.by_core[hits[0]]) != 1:
        return None
    return idx.by_core[hits[0]][0]


def _text_columns(gdf: pd.DataFrame) -> list[str]:
    return [c for c in gdf.columns if c != "geometry" and (gdf[c].dtype == object or pd.api.types.is_string_dtype(gdf[c]))]


def _build_index(locations: gpd.GeoDataFrame, codes: set[str], names: set[str]) -> tuple[_Index, str | None, str | None]:
    cols = _text_columns(locations)
    vals = {c: locations[c].astype("string").fillna("") for c in cols}
    code_hits = {c: int(v.str.strip().str.upper().isin(codes).sum()) for c, v in vals.items()}
    code_col = max(code_hits, key=code_hits.get) if code_hits and max(code_hits.values()) > 0 else None
    name_hits = {c: int(v.map(normalise_name).isin(names).sum()) for c, v in vals.items() if c != code_col}
    name_col = max(name_hits, key=name_hits.get) if name_hits and max(name_hits.values()) > 0 else None
    if name_col is None:
        name_col = next((c for c in cols if "name" in fold(c) and c != code_col), None)
    geom = locations.geometry
    ok = ~(geom.isna() | geom.is_empty)
    pts = representative_points(geom.where(ok, None)).to_numpy()
    labels = vals[name_col].tolist() if name_col else [""] * len(locations)
    by_code: dict[str, list[int]] = {}
    by_name: dict[str, list[int]] = {}
    by_core: dict[str, list[int]] = {}
    for i in np.flatnonzero(ok.to_numpy()):
        if code_col:
            k = vals[code_col].iloc[i].strip().upper()
            if k:
                by_code.setdefault(k, []).append(int(i))
        if name_col:
            nm = vals[name_col].iloc[i]
            if normalise_name(nm):
                by_name.setdefault(normalise_name(nm), []).append(int(i))
                by_core.setdefault(core_name(nm), []).append(int(i))
    return _Index(pts, labels, by_code, by_name, by_core, sorted(by_core)), code_col, name_col


def read_locations(locations: gpd.GeoDataFrame | str | os.PathLike, *, limits: Limits | None = None) -> tuple[gpd.GeoDataFrame, str]:
    """A locations layer (points or polygons, any CRS) in EPSG:27700, and its name for messages."""
    if isinstance(locations, gpd.GeoDataFrame):
        name = str(locations.attrs.get("source", "the locations layer"))
        gdf = locations
    else:
        t = open_table(locations, limits=limits)
        name = t.name
        if t.is_vector:
            gdf = t.frame
        else:  # a CSV of points: placed like a register, all source columns kept
            gdf, _ = read_register(t)
            gdf = gdf[[c for c in gdf.columns if c.startswith("src_")] + ["geometry"]]
            gdf.columns = [c[4:] if c.startswith("src_") else c for c in gdf.columns]
    if gdf.crs is None:
        raise InputError("the locations layer states no coordinate system", source=name)
    if gdf.empty:
        raise InputError("the locations layer has no features", source=name)
    return gdf.to_crs(MEASURE_CRS), name


#: A name or code match is accepted only within this distance (metres) of its owner's area: the trust's
#: head office, or the middle of its other matched sites. On the 2013/14 return matched to the 2022
#: hospital points, every match checked by hand as right lay within 90 km of its trust's head office
#: (the widest: county-wide community trusts, Northumbria's Berwick Infirmary at 89.9 km) and every wrong
#: one (a same-named hospital of another trust) lay 93 km or more away.
OWNER_RADIUS_M = 90_000.0
#: The fewest matched sites of a trust whose middle stands for its area when no head office is given.
OWNER_MIN_SITES = 3


@dataclass
class OwnerAreas:
    """Where each organisation is: head-office points by organisation code, from a locations layer."""

    offices: dict[str, object]
    source: str | None = None

    def office(self, code: str) -> object | None:
        """The head-office point of an organisation code, or None."""
        return self.offices.get(code)


def owner_areas(layers: list[tuple[gpd.GeoDataFrame, str]], org_codes: set[str]) -> tuple[OwnerAreas, set[int]]:
    """Head-office points from the locations layers that hold a column of the sites' organisation codes.

    Returns the areas and the positions (in ``layers``) of layers that hold organisation points
    only, so that their names (trust names) are not matched against site names.
    """
    offices: dict[str, object] = {}
    sources: list[str] = []
    office_layers: set[int] = set()
    if not org_codes:
        return OwnerAreas({}), office_layers
    for k, (gdf, name) in enumerate(layers):
        cols = _text_columns(gdf)
        hits = {c: gdf[c].astype("string").fillna("").str.strip().str.upper() for c in cols}
        counts = {c: int(v.isin(org_codes).sum()) for c, v in hits.items()}
        best = max(counts, key=counts.get) if counts else None
        if best is None or counts[best] == 0:
            continue
        ok = ~(gdf.geometry.isna() | gdf.geometry.is_empty)
        pts = representative_points(gdf.geometry.where(ok, None)).to_numpy()
        seen: Counter = Counter(hits[best][ok.to_numpy()])
        for i, code in enumerate(hits[best]):
            if code in org_codes and ok.iloc[i] and seen[code] == 1:
                offices.setdefault(code, pts[i])
        sources.append(name)
        # a layer of organisations only (most of its codes are organisation codes) is not matched against sites; a
        # directory of sites that also lists its trusts (ODS files do) serves for both
        if counts[best] >= 0.5 * int(hits[best].ne("").sum()):
            office_layers.add(k)
    return OwnerAreas(offices, ", ".join(sources) or None), office_layers


def _owner_check(out: pd.DataFrame, found: dict, idx: _Index) -> dict[object, tuple[float | None, str]]:
    """For each matched row: its distance from the owner's area (metres, None when unknown) and that area in words."""
    org = out["organisation_code"].astype("string").fillna("").str.strip().str.upper() \
        if "organisation_code" in out.columns else pd.Series("", index=out.index)
    checks: dict[object, tuple[float | None, str]] = {}
    by_org: dict[str, list[object]] = {}
    for i in found:
        by_org.setdefault(org[i], []).append(i)
    areas: OwnerAreas = idx.owners
    for code, rows in by_org.items():
        office = areas.office(code) if code else None
        pts = np.array([idx.geometry[found[i]] for i in rows])
        for j, i in enumerate(rows):
            p = pts[j]
            if office is not None:
                checks[i] = (float(shapely.distance(p, office)), f"the trust's head office in {areas.source}")
                continue
            if code and len(pts) >= OWNER_MIN_SITES:
                # the median of all its matches, itself included, is robust to one wrong match among three
                cx, cy = np.median(shapely.get_x(pts)), np.median(shapely.get_y(pts))
                checks[i] = (float(np.hypot(shapely.get_x(p) - cx, shapely.get_y(p) - cy)),
                             f"the middle of the trust's {len(pts)} matched sites")
            else:
                checks[i] = (None, "")
    return checks


def _region_check(out: pd.DataFrame, found: dict, idx: _Index, checks: dict) -> dict[object, tuple[bool, str]]:
    """For matches whose trust's area is unknown: whether the place lies near sites of the trust's own NHS region.

    ERIC states each trust's region ("Commissioning Region", "NHS England Region"). A match is
    refused when no site of that region whose match was checked against its own trust's area lies
    within :data:`OWNER_RADIUS_M` of it (a Yorkshire trust's "Mount Vernon" placed in London is
    far from every North of England site); near a region's edge a place is within reach of it.
    """
    if "nhs_region" not in out.columns:
        return {}
    region = out["nhs_region"].astype("string").fillna("").str.strip().str.upper()
    known = [i for i, (d, _) in checks.items() if d is not None and d <= OWNER_RADIUS_M and region[i]]
    todo = [i for i, (d, _) in checks.items() if d is None and region[i]]
    if not todo or not known:
        return {}
    pts = np.array([idx.geometry[found[i]] for i in known])
    kx, ky, kr = shapely.get_x(pts), shapely.get_y(pts), region[known].to_numpy()
    result: dict[object, tuple[bool, str]] = {}
    for i in todo:
        same = kr == region[i]
        if same.sum() < OWNER_MIN_SITES:
            continue  # too few checked sites of that region to say where it is
        p = idx.geometry[found[i]]
        near = float(np.hypot(kx[same] - shapely.get_x(p), ky[same] - shapely.get_y(p)).min())
        own = region[i].title()
        if near > OWNER_RADIUS_M:
            result[i] = (False, f"is {near / 1000:.0f} km from the nearest checked site of the trust's region ({own})")
        else:
            result[i] = (True, f"within {near / 1000:.0f} km of a checked site of the trust's region ({own})")
    return result


def locate_sites(sites: gpd.GeoDataFrame, locations: gpd.GeoDataFrame | list, report: ImportReport, *,
                 locations_name: str = "the locations file") -> gpd.GeoDataFrame:
    """Place ERIC sites at the locations that share their site code or name, inside their owner's area.

    Order: site code (where the locations have a column of codes), exact name,
    name without its qualifier ("..., SUTTON", "(...)"), then a close name
    (ratio >= 0.9, one best candidate). A name shared by several locations is
    ambiguous and left unplaced, with the candidates named.

    A match is then accepted only within :data:`OWNER_RADIUS_M` of its owner's area: the
    trust's head office where a locations layer gives organisation codes (for example NHS
    trust points), else the middle of the trust's other matched sites (at least
    :data:`OWNER_MIN_SITES` in all). A match further away (a same-named hospital of another
    trust) is left unplaced with the distance. One whose owner's area is unknown is checked
    against the trust's NHS region where the return states it (:func:`_region_check`), else kept
    and said to be unchecked; either way it is marked for a location check (``location_doubt``),
    so it is never flagged High. Each placed site records how it was matched
    (``location_match``) and its distance from the owner's area (``match_distance_km``).

    Parameters
    ----------
    sites : ERIC sites in the asset schema (``organisation_code`` names the trust)
    locations : a locations layer in EPSG:27700, or a list of ``(layer, name)`` pairs
    report : the import report the findings are added to
    locations_name : the layer's name in messages (one layer given)
    """
    layers = locations if isinstance(locations, list) else [(locations, locations_name)]
    out = sites.copy()
    todo = (out["location_quality"] == "none") & ~out["eric_aggregate"].astype(bool)
    codes = set(out.loc[todo, "asset_id"].astype("string").str.strip().str.upper().dropna())
    names = set(out.loc[todo, "name"].map(normalise_name))
    org_codes = set(out.loc[todo, "organisation_code"].astype("string").str.strip().str.upper().dropna()) - {""} \
        if "organisation_code" in out.columns else set()
    owners, office_layers = owner_areas(layers, org_codes)
    site_layers = [lay for k, lay in enumerate(layers) if k not in office_layers]
    if not site_layers:
        raise InputError("the locations given hold only organisation (head office) points: give a layer of sites "
                         "(site codes or names) as well", source=", ".join(n for _, n in layers))
    loc = pd.concat([g for g, _ in site_layers], ignore_index=True) if len(site_layers) > 1 else site_layers[0][0]
    locations_name = " and ".join(n for _, n in site_layers)
    idx, code_col, name_col = _build_index(gpd.GeoDataFrame(loc, geometry="geometry", crs=MEASURE_CRS), codes, names)
    idx.owners = owners
    if code_col is None and name_col is None:
        raise InputError("the locations layer has no column of site codes or names to match ERIC sites against",
                         source=locations_name)
    method = pd.Series([None] * len(out), index=out.index, dtype=object)
    distance = pd.Series(np.nan, index=out.index, dtype=float)
    doubt = pd.Series([None] * len(out), index=out.index, dtype=object)
    found: dict[object, int] = {}
    how_of: dict[object, str] = {}
    for i in out.index[todo]:
        hit, how, note = _match_one(out.at[i, "asset_id"], out.at[i, "name"], idx, locations_name)
        if hit is not None:
            found[i], how_of[i] = hit, how
        else:
            out.at[i, "location_note"] = note or f"no location in {locations_name} has this site code or name"
    far: list[object] = []
    unchecked: list[object] = []
    checks = _owner_check(out, found, idx)
    regions = _region_check(out, found, idx, checks)
    for i, (dist, where) in checks.items():
        label = idx.labels[found[i]]
        if i in regions and regions[i][0] is False:
            out.at[i, "location_note"] = (f"the only {how_of[i].replace('name without qualifier', 'name')} match, "
                                          f"{label!r} in {locations_name}, {regions[i][1]}: not placed; give a "
                                          "locations file with site codes, or the trusts' head offices")
            far.append(i)
            continue
        if dist is not None and dist > OWNER_RADIUS_M:
            out.at[i, "location_note"] = (f"the only {how_of[i].replace('name without qualifier', 'name')} match, "
                                          f"{label!r} in {locations_name}, is {dist / 1000:.0f} km from {where} "
                                          f"(more than {OWNER_RADIUS_M / 1000:.0f} km): not placed; give a locations "
                                          "file with site codes")
            far.append(i)
            continue
        out.at[i, "geometry"] = idx.geometry[found[i]]
        out.at[i, "location_quality"] = MATCHED
        checked = (f", {dist / 1000:.1f} km from {where}" if dist is not None
                   else f"; {regions[i][1]}" if i in regions
                   else "; its owner's area is not known (no head office given and fewer than "
                        f"{OWNER_MIN_SITES} of its sites matched), so the match could not be checked against it")
        out.at[i, "location_note"] = (f"located by {how_of[i]} at {label!r} in {locations_name}" + checked
                                      + (" (a close spelling: check it)" if how_of[i] == "close name" else ""))
        method[i] = how_of[i]
        distance[i] = round(dist / 1000, 2) if dist is not None else np.nan
        if dist is None and how_of[i] != "site code":  # placed, but its place could not be tied to its trust's
            doubt[i] = (f"matched by {how_of[i]} and checked only against its trust's NHS region" if i in regions
                        else f"matched by {how_of[i]}; its trust's area is not known, so the place is unchecked")
        if dist is None and i not in regions:
            unchecked.append(i)
    out["location_match"] = method
    out["match_distance_km"] = distance
    # a place that could not be tied to its trust's own area: engine.location marks it "check location"
    out["location_doubt"] = doubt
    _report_matches(out, todo, method, far, unchecked, report, locations_name, code_col, name_col, owners)
    return out


def _match_one(code: object, name: object, idx: _Index, locations_name: str) -> tuple[int | None, str | None, str | None]:
    """The one location a site's code or name points to, how it was found, or why none was."""
    code = str(code or "").strip().upper()
    if code and code in idx.by_code and len(idx.by_code[code]) == 1:
        return idx.by_code[code][0], "site code", None
    for key, table, label in ((normalise_name(name), idx.by_name, "name"),
                              (core_name(name), idx.by_core, "name without qualifier")):
        hits = table.get(key, []) if key else []
        if len(hits) == 1:
            return hits[0], label, None
        if len(hits) > 1:
            shown = "; ".join(sorted({idx.labels[h] for h in hits})[:4])
            return None, None, (f"the name matches {len(hits)} locations in {locations_name} ({shown}); "
                                "not placed: give a locations file with site codes")
    hit = _close_match(core_name(name), idx)
    return (hit, "close name", None) if hit is not None else (None, None, None)


def _report_matches(out, todo, method, far, unchecked, report, locations_name, code_col, name_col, owners) -> None:
    rows = out["source_row"].astype(int)
    if (method == "close name").any():
        report.add("warning", f"located by a close spelling of the name in {locations_name} (check these)",
                   rows[method == "close name"])
    if far:
        report.add("unplaced", f"the only match in {locations_name} is more than {OWNER_RADIUS_M / 1000:.0f} km from "
                               "the trust's area (a same-named place elsewhere); not placed", rows[far])
    if unchecked:
        report.add("warning", "matched, but the trust's area is not known (no head office given and fewer than "
                              f"{OWNER_MIN_SITES} of its sites matched): give the trusts' head-office points "
                              "(with organisation codes) as a second locations file to check these", rows[unchecked])
    amb = todo & out["location_note"].astype("string").str.contains("matches", na=False) & method.isna()
    if amb.any():
        report.add("unplaced", f"the site name matches several locations in {locations_name}; not placed", rows[amb])
    miss = todo & method.isna() & ~amb & ~out.index.isin(far)
    if miss.any():
        report.add("unplaced", f"no location in {locations_name} has the site's code or name", rows[miss])
    report.add("warning", f"sites matched against {locations_name} by "
               + (f"site code (column {code_col!r})" if code_col else "name only (it has no column of site codes)")
               + (f" and name (column {name_col!r})" if code_col and name_col else (f" (column {name_col!r})" if name_col else ""))
               + (f"; each match checked against its trust's head office in {owners.source} "
                  if owners.source else "; each match checked against the middle of its trust's other matched sites ")
               + f"(within {OWNER_RADIUS_M / 1000:.0f} km)")


# ------------------------------------------------------------------ the reader

def _fill_pivot_labels(frame: pd.DataFrame, found: dict[str, str]) -> np.ndarray:
    """Give site rows with a blank organisation the organisation of the site above (in place); their row numbers.

    A pivot-table export writes a trust's code and name on its first row only. The label is
    carried down to the next label; a total row (``R1A Result``, ``Grand Total``: words, not a code) ends it.
    """
    org = found.get("organisation_code")
    if org is None:
        return np.array([], dtype=int)
    code = frame[found["site_code"]].astype("string").fillna("").str.strip()
    org_v = frame[org].astype("string").fillna("").str.strip()
    blank = (org_v == "") & (code != "")
    if not blank.any():
        return np.array([], dtype=int)
    ends = org_v.str.contains(r"\s", regex=True)  # "R1A Result", "Grand Total": a code has no spaces
    carry = org_v.where(~ends, "\0").replace("", pd.NA).ffill()
    fill = blank & carry.notna() & (carry != "\0")
    if not fill.any():
        return np.array([], dtype=int)
    for c in [c for c in (org, found.get("organisation")) if c is not None]:
        v = frame[c].astype("string").str.strip().replace("", pd.NA)
        v = v.where(~ends, "\0").ffill()
        frame.loc[fill, c] = v[fill].to_numpy()
    return frame.index[fill].to_numpy() + 1


def read_eric(table: Table, *, locations=None,
              limits: Limits | None = None) -> tuple[gpd.GeoDataFrame, ImportReport]:
    """Read ERIC site data into the asset schema and locate the sites.

    Parameters
    ----------
    table : the opened "Site Data" sheet (or its CSV)
    locations : points or polygons with site codes or names (a path, or a GeoDataFrame), or a list of them
        (e.g. hospital points and NHS trust head-office points, against which every match is checked)

    Returns
    -------
    (sites, report) : every row, AGGREGATE SITE rows included (unplaced, ``eric_aggregate`` True)
    """
    table = excel_frame(table)
    cols = [str(c) for c in table.frame.columns]
    found = _columns(cols)
    missing = [k for k in ("site_code", "site_name") if k not in found]
    if missing:
        raise InputError(f"does not look like ERIC site data: no {' or '.join(m.replace('_', ' ') for m in missing)} column",
                         source=table.name)
    frame = table.frame.copy()
    filled = _fill_pivot_labels(frame, found)
    code = frame[found["site_code"]].astype("string").str.strip()
    agg_code = code.str.upper().str.startswith("AGGRE").fillna(False)
    if agg_code.any() and "organisation_code" in found:
        # Every trust's aggregate row has the code "AGGRE": name it after the trust so it stays identifiable.
        frame.loc[agg_code, found["site_code"]] = (frame.loc[agg_code, found["organisation_code"]].astype("string")
                                                   .fillna("").str.strip() + "-AGGREGATE").to_numpy()
    table = Table(frame, table.format, table.name, table.notes, table.layers, table.layer, table.header_row)
    overrides = {"asset_id": found["site_code"], "name": found["site_name"]}
    for key, canon in (("organisation", "organisation"), ("site_type", "use"), ("floor_area_m2", "floor_area_m2"),
                       ("site_area_ha", "site_area_ha"), ("empty_floor_pct", "empty_floor_pct"),
                       ("underused_floor_pct", "underused_floor_pct")):
        if key in found:
            overrides[canon] = found[key]
    out, report = read_register(table, columns=overrides, adapter="NHS ERIC site data", expect_coordinates=False,
                                limits=limits, org_code_column=found.get("organisation_code"))
    if len(filled):
        report.add("fixed", "organisation left blank under its first site (a pivot table's label, not repeated): "
                            "taken from the site above", filled)
    raw = table.frame.loc[out["source_row"].astype(int).to_numpy() - 1]
    rows = out["source_row"].astype(int).to_numpy()
    out["anchor_type"] = "nhs"
    out["holding_type"] = out["holding_type"].where(out["holding_type"] != "unknown", "both")
    out["site_code"] = out["asset_id"]
    out["organisation_code"] = raw[found["organisation_code"]].to_numpy() if "organisation_code" in found else None
    if "region" in found:
        out["nhs_region"] = raw[found["region"]].to_numpy()
    out["land_idle_ha"] = to_number(raw[found["land_idle_ha"]]).to_numpy() if "land_idle_ha" in found else np.nan
    backlog = backlog_columns(cols)
    if backlog:
        out["backlog_cost_gbp"] = pd.concat([to_number(raw[c]) for c in backlog], axis=1).sum(axis=1, min_count=1).to_numpy()
    else:
        out["backlog_cost_gbp"] = np.nan
    for field in ("empty_floor_pct", "underused_floor_pct"):
        v = out[field].to_numpy(dtype=float)
        bad = np.isfinite(v) & ((v < 0) | (v > 100))
        if bad.any():
            report.add("fixed", f"{field} outside 0-100% set to missing (the original is kept as src_)", rows[bad])
            out.loc[bad, field] = np.nan
    text = (out["asset_id"].astype("string").fillna("") + " " + out["name"].astype("string").fillna("") + " "
            + out["use"].astype("string").fillna("")).str.upper()
    aggregate = text.str.contains(r"AGGREGATE|^AGGRE\b", regex=True).to_numpy(dtype=bool)
    out["eric_aggregate"] = aggregate
    note = ("an AGGREGATE SITE row: the trust's smaller sites added together, not one place; "
            "kept with its figures but not placed")
    if aggregate.any():
        out.loc[aggregate, "location_note"] = note
        report.add("unplaced", "AGGREGATE SITE row (a trust's smaller sites added together, not one place): kept, not placed",
                   rows[aggregate])
    # The generic "no coordinates and no postcode" finding does not apply: ERIC never has them.
    report.issues = [i for i in report.issues if not i.message.startswith("no coordinates (or geometry)")]
    report.add("warning", "ERIC does not state its collection year in the file; source_date is left empty "
                          "(set it from the publication, e.g. 2023/24)")
    if locations is None:
        todo = ~aggregate
        out.loc[todo, "location_note"] = "ERIC has no coordinates: give a locations file (site codes or names) to place the sites"
        report.add("unplaced", "ERIC has no coordinates and no locations file was given (--locations)", rows[todo])
    else:
        given = locations if isinstance(locations, (list, tuple)) else [locations]
        out = locate_sites(out, [read_locations(x, limits=limits) for x in given], report)
    if "location_match" not in out.columns:
        out["location_match"] = None
    report.count_placement(out["location_quality"])
    counts = Counter(out["location_match"].dropna())
    if counts:
        report.placed_by = {f"{MATCHED} ({how})": n for how, n in sorted(counts.items())}
    return gpd.GeoDataFrame(out[order_columns(out)], geometry="geometry", crs=MEASURE_CRS), report


__all__ = ["FUZZY_CUTOFF", "MATCHED", "OWNER_MIN_SITES", "OWNER_RADIUS_M", "SITE_SHEET", "OwnerAreas", "backlog_columns", "core_name", "is_eric", "locate_sites",
           "normalise_name", "owner_areas", "read_eric", "read_locations"]
