"""Who owns the land: anchors' titles in HM Land Registry's CCOD/OCOD, placed, and reconciled with a register.

Three steps, each saying how sure it is:

1. :func:`identify_anchors`: the kind of each proprietor from its proprietorship category (local authority,
   NHS body, university or college, housing association or society, company), and which anchor it is from
   the anchor's name, its standard legal forms (:func:`standard_aliases`), an alias table users extend
   (:func:`read_aliases`) or its company number. Every match names the rule that made it.
2. :func:`place_titles`: each title (every address of a multi-address title) placed in one of
   :data:`TIERS`: matched to a register asset at the same address, a postcode holding one freehold parcel, a
   postcode only, or unplaced. There is no open link from a title to its polygon: every placement is
   approximate and says so.
3. :func:`reconcile`: the anchor's titles with no register asset at the same address, postcode or parcel
   ("not in your register"), and the register's assets with no title found; :func:`disposals` reads the
   change-only files for titles an anchor lost.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from assets_map.io.report import InputError
from assets_map.schema import MEASURE_CRS

#: Placement tiers, surest first.
TIER_ADDRESS = "address matched to a register asset"
TIER_PARCEL = "postcode with one parcel"
TIER_POSTCODE = "postcode only"
TIER_UNPLACED = "unplaced"
TIERS = (TIER_ADDRESS, TIER_PARCEL, TIER_POSTCODE, TIER_UNPLACED)
#: What a placement is, whatever its tier.
PLACEMENT_NOTE = ("approximate: placed from the title's address and postcode (there is no open link from a title "
                  "to its plan)")
#: Where anyone can find who owns a registered title: HM Land Registry's title search (a fee per title).
TITLE_SEARCH_URL = "https://www.gov.uk/search-property-information-land-registry"
NOT_IN_OPEN_DATA = f"owner not in the open data: a title search at HM Land Registry names it ({TITLE_SEARCH_URL})"
#: What an estates team may decide of a row of the reconciliation (recorded with who, when and a note).
DECISIONS = ("confirmed", "rejected")

STATUS_MATCHED = "in your register"
STATUS_NOT_IN_REGISTER = "not in your register"
STATUS_NO_TITLE = "no title found"
STATUS_CCOD_ONLY = "portfolio from CCOD only (no register given)"

_POSTCODE = re.compile(r"\b([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})\b")


# ------------------------------------------------------------------ names and kinds

def normalise_name(name: object) -> str:
    """A proprietor or anchor name in one comparable form.

    Upper case, ``&`` read as AND, punctuation dropped, a leading THE dropped, LIMITED as LTD and
    PUBLIC LIMITED COMPANY as PLC: "The Trafford Metropolitan Borough Council." and
    "TRAFFORD METROPOLITAN BOROUGH COUNCIL" are the same name.

    Parameters
    ----------
    name : the name as written

    Returns
    -------
    str ("" for a missing name)
    """
    if name is None or (not isinstance(name, str) and pd.isna(name)):
        return ""
    s = str(name).upper().replace("&", " AND ")
    s = re.sub(r"[^A-Z0-9 ]+", " ", s)
    s = " ".join(s.split())
    s = re.sub(r"^THE ", "", s)
    s = re.sub(r"\bPUBLIC LIMITED COMPANY\b", "PLC", s)
    s = re.sub(r"\bLIMITED\b", "LTD", s)
    return s


def standard_aliases(anchor: str) -> list[tuple[str, str]]:
    """The legal forms an anchor's name takes on the register, with the rule that gives each.

    A council named "Trafford Council" or "Trafford Metropolitan Borough Council" is registered as
    "Trafford Borough Council", "The Council of the Borough of Trafford", "The Mayor and Burgesses of the
    London Borough of ...", and so on; an NHS body with or without "NHS" and "Foundation"; a university with
    or without "The".

    Parameters
    ----------
    anchor : the anchor's name as the user gives it

    Returns
    -------
    list of (alias, rule)
    """
    n = normalise_name(anchor)
    out: list[tuple[str, str]] = [(n, "the anchor's own name")]
    council = re.match(r"^(?:LONDON BOROUGH OF |ROYAL BOROUGH OF |CITY OF |COUNTY OF |BOROUGH OF )?(.*?)"
                       r"(?: (?:METROPOLITAN )?(?:BOROUGH |DISTRICT |CITY |COUNTY |TOWN )?COUNCIL)?$", n)
    if re.search(r"\bCOUNCIL\b|\bBOROUGH OF\b|\bCITY OF\b", n) and council and council.group(1):
        place = council.group(1)
        forms = [f"{place} COUNCIL", f"{place} BOROUGH COUNCIL", f"{place} METROPOLITAN BOROUGH COUNCIL",
                 f"{place} CITY COUNCIL", f"{place} DISTRICT COUNCIL", f"{place} COUNTY COUNCIL",
                 f"COUNCIL OF THE BOROUGH OF {place}", f"COUNCIL OF THE CITY OF {place}",
                 f"MAYOR AND BURGESSES OF THE LONDON BOROUGH OF {place}",
                 f"MAYOR AND BURGESSES OF THE ROYAL BOROUGH OF {place}", f"MAYOR AND BURGESSES OF THE BOROUGH OF {place}",
                 f"LONDON BOROUGH OF {place}", f"CITY OF {place} COUNCIL", f"COUNTY COUNCIL OF {place}"]
        out += [(f, "a standard legal form of a council's name") for f in forms]
    if re.search(r"\bNHS\b|\bTRUST\b", n):
        base = re.sub(r"^NHS |\bNHS\b ", "", n)
        forms = {base, f"{base}".replace(" FOUNDATION TRUST", " TRUST"), f"NHS {base}" if not base.startswith("NHS") else base}
        out += [(f, "a standard form of an NHS body's name (with or without NHS, Foundation)") for f in sorted(forms)]
    if re.search(r"\bUNIVERSITY\b|\bCOLLEGE\b", n):
        out += [(f"{n} CORPORATION", "a standard form of a university or college name"),
                (re.sub(r"\bTHE\b ", "", n), "a standard form of a university or college name")]
    seen: set[str] = set()
    unique = []
    for alias, rule in out:
        alias = normalise_name(alias)
        if alias and alias not in seen:
            seen.add(alias)
            unique.append((alias, rule))
    return unique


_KIND_RULES = (
    ("council", re.compile(r"\bLOCAL AUTHORITY\b|\bCOUNTY COUNCIL\b", re.I), None),
    ("NHS body", re.compile(r"\bHEALTH AUTHORITY\b|\bNHS\b", re.I), None),
    ("housing association or society", re.compile(
        r"REGISTERED SOCIETY|HOUSING ASSOCIATION|COMMUNITY BENEFIT SOCIETY|CO-?OPERATIVE SOCIETY|"
        r"INDUSTRIAL AND PROVIDENT", re.I), None),
)
_NHS_NAME = re.compile(r"\bNHS\b|\bHEALTH AUTHORITY\b|\bFOUNDATION TRUST\b|\bHEALTH CARE TRUST\b|"
                       r"\bSECRETARY OF STATE FOR HEALTH\b|\bHOSPITALS? (?:NHS )?TRUST\b", re.I)
_UNI_NAME = re.compile(r"\bUNIVERSITY\b|\bCOLLEGE\b", re.I)
_HOUSING_NAME = re.compile(r"\bHOUSING\b|\bHOMES\b", re.I)


def anchor_kind(category: object, name: object, company_number: object = None) -> tuple[str | None, str]:
    """The kind of anchor a proprietor is, from its proprietorship category (and its name where the category is broad).

    Parameters
    ----------
    category : "Proprietorship Category (n)" as published (e.g. "Local Authority", "Corporate Body",
        "Registered Society (Company)", "Limited Company or Public Limited Company")
    name : the proprietor's name
    company_number : "Company Registration No. (n)"

    Returns
    -------
    (kind or None, the rule in words)
    """
    cat = "" if category is None or (not isinstance(category, str) and pd.isna(category)) else str(category).strip()
    who = "" if name is None or (not isinstance(name, str) and pd.isna(name)) else str(name)
    number = "" if company_number is None or (not isinstance(company_number, str) and pd.isna(company_number)) \
        else str(company_number).strip()
    for kind, pattern, _ in _KIND_RULES:
        if pattern.search(cat):
            if kind == "housing association or society" and not _HOUSING_NAME.search(who) and "HOUSING" not in cat.upper():
                return "registered society", f"proprietorship category '{cat}'"
            return kind, f"proprietorship category '{cat}'"
    if re.search(r"corporate body", cat, re.I):
        if _NHS_NAME.search(who):
            return "NHS body", f"proprietorship category '{cat}' and an NHS name"
        if _UNI_NAME.search(who):
            return "university or college", f"proprietorship category '{cat}' and 'university' or 'college' in the name"
        return "corporate body", f"proprietorship category '{cat}'"
    if re.search(r"limited company|public limited|limited liability|unlimited company", cat, re.I):
        if _UNI_NAME.search(who):
            return "university or college", f"proprietorship category '{cat}' and 'university' or 'college' in the name"
        if _HOUSING_NAME.search(who):
            return "housing association or society", f"proprietorship category '{cat}' and a housing name"
        if number:
            return "company", f"proprietorship category '{cat}' with company number {number}"
        return None, f"proprietorship category '{cat}' without a company number"
    return None, f"proprietorship category '{cat}'" if cat else "no proprietorship category"


# ------------------------------------------------------------------ the alias table

@dataclass
class Anchor:
    """One anchor institution and every name and number it holds land under.

    Attributes
    ----------
    name : the anchor as the user names it
    aliases : normalised alias -> the rule (or alias-table row) that gives it
    company_numbers : company registration numbers (text, leading zeros kept)
    """

    name: str
    aliases: dict[str, str] = field(default_factory=dict)
    company_numbers: set[str] = field(default_factory=set)


ALIAS_COLUMNS = ("anchor", "alias")


def read_aliases(path: str | os.PathLike, *, name: str | None = None) -> pd.DataFrame:
    """Read a user's alias table: one row per spelling, columns ``anchor`` and ``alias`` (``company_number`` optional).

    Parameters
    ----------
    path : a CSV or Excel file
    name : the name shown in messages

    Returns
    -------
    DataFrame with ``anchor``, ``alias``, ``company_number`` (text), ``source_row``
    """
    from assets_map.io.sources import excel_frame, open_table

    t = open_table(path, name=name)
    t = excel_frame(t) if t.format.startswith("excel") else t
    df = t.frame
    folded = {re.sub(r"[^a-z]", "", str(c).lower()): c for c in df.columns}
    missing = [c for c in ALIAS_COLUMNS if c not in folded]
    if missing:
        raise InputError(f"an alias table needs the columns anchor and alias (missing: {', '.join(missing)}; found: "
                         f"{', '.join(map(str, df.columns[:8]))})", source=t.name)
    num = folded.get("companynumber") or folded.get("companyregistrationno") or folded.get("companyno")
    out = pd.DataFrame({"anchor": df[folded["anchor"]].astype("string").str.strip(),
                        "alias": df[folded["alias"]].astype("string").str.strip(),
                        "company_number": df[num].astype("string").str.strip() if num else pd.NA,
                        "source_row": np.arange(len(df)) + t.header_row + 1})
    blank = out["anchor"].isna() | (out["anchor"] == "") | ((out["alias"].isna() | (out["alias"] == ""))
                                                            & out["company_number"].isna())
    if blank.any():
        from assets_map.io.report import rows_text

        raise InputError(f"rows with no anchor, or neither an alias nor a company number: "
                         f"{rows_text(out.loc[blank, 'source_row'])}", source=t.name)
    out.attrs["source"] = t.name
    return out


def build_anchor(name: str, aliases: pd.DataFrame | None = None) -> Anchor:
    """An :class:`Anchor`: its standard forms, and every row of the alias table naming it.

    Parameters
    ----------
    name : the anchor (as in ``--anchor``); alias-table rows match it by normalised name
    aliases : tables from :func:`read_aliases` (optional)

    Returns
    -------
    Anchor
    """
    a = Anchor(name, dict((alias, rule) for alias, rule in standard_aliases(name)))
    if aliases is not None and len(aliases):
        mine = aliases[aliases["anchor"].map(normalise_name) == normalise_name(name)]
        src = aliases.attrs.get("source", "the alias table")
        for row in mine.itertuples(index=False):
            if isinstance(row.alias, str) and row.alias:
                where = getattr(row, "source", None)
                where = where if isinstance(where, str) and where else f"alias table {src}, row {row.source_row}"
                a.aliases.setdefault(normalise_name(row.alias), f"{where}: '{row.alias}'")
            if isinstance(row.company_number, str) and row.company_number:
                a.company_numbers.add(_company(row.company_number))
    return a


def anchor_rows(anchors: list[Anchor]):
    """A filter for :func:`assets_map.io.landregistry.read_ownership`'s ``keep``: rows held by one of ``anchors``.

    A row is kept when any proprietor is one of the anchors by name, legal form, alias or company number (as
    :func:`identify_anchors` decides).

    Parameters
    ----------
    anchors : the anchors

    Returns
    -------
    function of a chunk of CCOD rows (published headers) -> boolean mask
    """
    names = set().union(*(a.aliases for a in anchors)) if anchors else set()
    numbers = set().union(*(a.company_numbers for a in anchors)) if anchors else set()

    def keep(chunk: pd.DataFrame) -> np.ndarray:
        mask = np.zeros(len(chunk), dtype=bool)
        for n in range(1, 5):
            who = chunk.get(f"Proprietor Name ({n})")
            if who is not None:
                uniq = pd.unique(who)
                hit = {u for u in uniq if normalise_name(u) in names}
                mask |= who.isin(hit).to_numpy()
            num = chunk.get(f"Company Registration No. ({n})")
            if num is not None and numbers:
                uniq = pd.unique(num)
                hit = {u for u in uniq if isinstance(u, str) and u and _company(u) in numbers}
                mask |= num.isin(hit).to_numpy()
        return mask

    return keep


def _company(number: object) -> str:
    s = re.sub(r"\s+", "", str(number)).upper()
    return s.zfill(8) if s.isdigit() else s


def identify_anchors(ownership: pd.DataFrame, anchors: list[Anchor]) -> pd.DataFrame:
    """Say, for every title and proprietor, what kind of anchor it is and which anchor, with the rules.

    Parameters
    ----------
    ownership : rows from :func:`assets_map.io.landregistry.read_ownership`
    anchors : the anchors to look for

    Returns
    -------
    The rows with ``anchor_kind`` and ``kind_rule`` (from the proprietorship category), ``anchor`` (missing
    where none matched) and ``anchor_rule`` (company number, the anchor's own name, a standard form or the
    alias-table row)
    """
    out = ownership.copy()
    kinds = [anchor_kind(c, n, k) for c, n, k in zip(out["proprietorship_category"], out["proprietor_name"],
                                                      out["company_number"], strict=True)]
    out["anchor_kind"] = pd.array([k for k, _ in kinds], dtype="string")
    out["kind_rule"] = pd.array([r for _, r in kinds], dtype="string")
    names = out["proprietor_name"].map(normalise_name)
    numbers = out["company_number"].map(lambda v: _company(v) if isinstance(v, str) and v else "")
    who = np.full(len(out), None, dtype=object)
    rule = np.full(len(out), None, dtype=object)
    for a in anchors:
        free = pd.isna(who)
        by_number = free & numbers.isin(a.company_numbers).to_numpy() & (numbers != "").to_numpy()
        who[by_number] = a.name
        rule[by_number] = [f"company number {n}" for n in numbers[by_number]]
        free = pd.isna(who)
        hit = free & names.isin(a.aliases.keys()).to_numpy()
        who[hit] = a.name
        rule[hit] = [a.aliases[n] for n in names[hit]]
    out["anchor"] = pd.array(who, dtype="string")
    out["anchor_rule"] = pd.array(rule, dtype="string")
    return out


# ------------------------------------------------------------------ placing titles

def expand_addresses(address: object, postcode: object) -> list[tuple[str, str | None]]:
    """The addresses of one title: each part of the property address that ends in its own postcode.

    CCOD writes a title's address as "12 Acacia Avenue, London (N1 1AA)"; a multi-address title as several
    such parts ("1 High Street (AB1 2CD) and 7 Low Road (AB1 3EF)"). A part without its own postcode takes
    the title's ``Postcode``.

    Parameters
    ----------
    address : "Property Address"
    postcode : "Postcode"

    Returns
    -------
    list of (address, postcode in the form "AB1 2CD" or None)
    """
    text = "" if address is None or (not isinstance(address, str) and pd.isna(address)) else str(address).strip()
    pc = _postcode_text(postcode)
    found = list(_POSTCODE.finditer(text.upper()))
    if len(found) <= 1:
        own = f"{found[0].group(1)} {found[0].group(2)}" if found else None
        return [(_tidy(text), own or pc)]
    parts, start = [], 0
    for m in found:
        end = m.end()
        if end < len(text) and text[end] == ")":
            end += 1
        piece = re.sub(r"^\s*(?:,|;|\band\b)\s*", "", text[start:end], flags=re.I)
        parts.append((_tidy(piece), f"{m.group(1)} {m.group(2)}"))
        start = end
    return parts


def _tidy(text: str) -> str:
    return " ".join(text.replace(" ,", ",").split()).strip(" ,;")


def _postcode_text(value: object) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    m = _POSTCODE.search(str(value).upper())
    return f"{m.group(1)} {m.group(2)}" if m else None


def address_key(address: object, postcode: object) -> str | None:
    """A key two writings of one address share: the compact postcode, the first house number and the street word.

    "Flat 2, 14 Mill Lane, Sale (M33 2AB)" and "14 MILL LANE" at M33 2AB share "M332AB|14|MILL".

    Parameters
    ----------
    address : an address
    postcode : its postcode

    Returns
    -------
    str, or None when the postcode or the house number is missing
    """
    pc = _postcode_text(postcode)
    if pc is None or address is None or (not isinstance(address, str) and pd.isna(address)):
        return None
    text = _POSTCODE.sub(" ", str(address).upper())
    text = re.sub(r"\b(?:FLAT|UNIT|APARTMENT|SUITE|ROOM)\s+\w+\b", " ", text)
    m = re.search(r"\b(\d+[A-Z]?)(?:\s*-\s*\d+[A-Z]?)?\s*,?\s+([A-Z][A-Z'.]+)", text)
    if not m:
        return None
    return f"{pc.replace(' ', '')}|{m.group(1)}|{m.group(2).strip('.')}"


def _asset_keys(register: gpd.GeoDataFrame) -> pd.DataFrame:
    addr = register["address"] if "address" in register else pd.Series(pd.NA, index=register.index)
    pcs = register["postcode"] if "postcode" in register else pd.Series(pd.NA, index=register.index)
    return pd.DataFrame({
        "asset_id": register["asset_id"].astype("string").to_numpy(),
        "asset_name": (register["name"] if "name" in register else pd.Series(pd.NA, index=register.index))
        .astype("string").to_numpy(),
        "key": [address_key(a, p) for a, p in zip(addr, pcs, strict=True)],
        "postcode": [(_postcode_text(p) or "").replace(" ", "") or None for p in pcs],
        "parcel_id": (register["parcel_id"].astype("string").to_numpy() if "parcel_id" in register
                      else pd.array([pd.NA] * len(register), dtype="string")),
    })


def place_titles(titles: pd.DataFrame, postcodes: pd.DataFrame | None, *, parcels: gpd.GeoDataFrame | None = None,
                 register: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Place each title (each address of a multi-address title) and say how, in :data:`TIERS`.

    Parameters
    ----------
    titles : ownership rows (one per title and proprietor; the first proprietor's row of each title is used)
    postcodes : the postcode directory (:func:`assets_map.io.registers.read_postcodes`: compact postcode ->
        ``x``, ``y`` in EPSG:27700)
    parcels : INSPIRE parcels (:func:`assets_map.io.landregistry.read_inspire` ``.frame``), optional
    register : the anchor's register (canonical assets), optional: an address matched to one of its assets
        places the title there

    Returns
    -------
    GeoDataFrame (EPSG:27700), one row per title address: ``title_number``, ``address``, ``postcode``,
    ``tier``, ``parcel_id``, ``asset_id`` (tier 1), ``placement_note``; geometry the asset, the parcel outline
    or the postcode point (missing when unplaced)
    """
    first = titles.sort_values(["title_number", "proprietor_number"], kind="stable").drop_duplicates("title_number")
    rows = []
    for t in first.itertuples(index=False):
        parts = expand_addresses(t.property_address, t.postcode)
        for k, (addr, pc) in enumerate(parts, start=1):
            rows.append({"title_number": t.title_number, "address_part": k, "address_parts": len(parts),
                         "address": addr, "postcode": pc})
    out = pd.DataFrame(rows, columns=["title_number", "address_part", "address_parts", "address", "postcode"])
    n = len(out)
    geom = np.full(n, None, dtype=object)
    tier = np.full(n, TIER_UNPLACED, dtype=object)
    parcel = np.full(n, None, dtype=object)
    asset = np.full(n, None, dtype=object)
    todo = np.ones(n, bool)
    if register is not None and len(register):
        keys = _asset_keys(register)
        by_key = keys.dropna(subset=["key"]).drop_duplicates("key").set_index("key")
        reg = register.to_crs(MEASURE_CRS) if register.crs is not None else register
        reg_geom = dict(zip(register["asset_id"].astype(str), reg.geometry, strict=True))
        for i, (a, p) in enumerate(zip(out["address"], out["postcode"], strict=True)):
            k = address_key(a, p)
            if k is not None and k in by_key.index:
                hit = by_key.loc[k]
                asset[i], tier[i], todo[i] = hit["asset_id"], TIER_ADDRESS, False
                parcel[i] = None if pd.isna(hit["parcel_id"]) else hit["parcel_id"]
                g = reg_geom.get(str(hit["asset_id"]))
                geom[i] = None if g is None or g.is_empty else g
    compact = out["postcode"].astype("string").str.replace(" ", "", regex=False)
    if postcodes is not None and len(postcodes):
        known = todo & compact.isin(postcodes.index).fillna(False).to_numpy()
        if known.any():
            xy = postcodes.loc[compact[known].to_numpy(), ["x", "y"]].to_numpy(dtype=float)
            pts = shapely.points(xy)
            geom[known] = pts
            tier[known] = TIER_POSTCODE
            if parcels is not None and len(parcels):
                tree = shapely.STRtree(parcels.geometry.to_numpy())
                src, hit = tree.query(pts, predicate="intersects")
                count = np.bincount(src, minlength=len(pts))
                one = np.flatnonzero(count == 1)
                first_hit = {s: h for s, h in zip(src, hit, strict=True)}
                rows_known = np.flatnonzero(known)
                ids = parcels["parcel_id"].astype(str).to_numpy()
                for j in one:
                    i = rows_known[j]
                    parcel[i] = ids[first_hit[j]]
                    geom[i] = parcels.geometry.iloc[first_hit[j]]
                    tier[i] = TIER_PARCEL
    out["tier"] = tier
    out["parcel_id"] = pd.array(parcel, dtype="string")
    out["asset_id"] = pd.array(asset, dtype="string")
    out["placement_note"] = np.where(tier == TIER_UNPLACED, "not placed: no postcode, or a postcode not in the "
                                     "directory", PLACEMENT_NOTE)
    return gpd.GeoDataFrame(out, geometry=list(geom), crs=MEASURE_CRS)


# ------------------------------------------------------------------ reconciliation

REPORT_COLUMNS = ("status", "matched_by", "title_number", "tenure", "property_address", "address", "postcode",
                  "proprietor_name", "proprietorship_category", "company_number", "anchor_kind", "kind_rule",
                  "anchor_rule", "tier", "parcel_id", "asset_id", "asset_name", "placement_note", "decision", "note",
                  "decision_note", "decided_by", "decided_at", "match_key")


@dataclass
class Reconciliation:
    """An anchor's titles against its register, one row to work through each.

    Attributes
    ----------
    rows : GeoDataFrame with :data:`REPORT_COLUMNS` (EPSG:27700): titles "in your register" (with how they
        matched) or "not in your register", and register assets with "no title found"; ``decision`` is blank
        for the estates team (confirmed / rejected) unless a decision on the same ``match_key`` was recorded
        (then with ``decision_note``, ``decided_by``, ``decided_at``); ``note`` says what the row may mean
    anchor : the anchor's name
    counts : rows by status
    notes : what the user should know (no register given, rows unplaced)
    """

    rows: gpd.GeoDataFrame
    anchor: str
    counts: dict[str, int]
    notes: list[str] = field(default_factory=list)


def anchor_titles(ownership: pd.DataFrame, anchor: Anchor) -> pd.DataFrame:
    """The titles one anchor is a proprietor of (full-file rows; change-only D rows left out).

    Parameters
    ----------
    ownership : rows from :func:`assets_map.io.landregistry.read_ownership` (one or several files concatenated)
    anchor : the anchor

    Returns
    -------
    The anchor's proprietor rows, identified (see :func:`identify_anchors`), one per title
    """
    ident = identify_anchors(ownership[ownership["change"].fillna("A").eq("A")], [anchor])
    mine = ident[ident["anchor"].notna()]
    return mine.sort_values(["title_number", "proprietor_number"], kind="stable").drop_duplicates("title_number")


def reconcile(ownership: pd.DataFrame, anchor: Anchor, *, register: gpd.GeoDataFrame | None = None,
              postcodes: pd.DataFrame | None = None, parcels: gpd.GeoDataFrame | None = None,
              decisions: pd.DataFrame | None = None) -> Reconciliation:
    """Reconcile an anchor's titles in CCOD/OCOD with its register.

    A title is "in your register" when a register asset shares its address (:func:`address_key`), else its
    postcode, else its parcel (the title placed in a parcel that holds an asset); otherwise it is "not in
    your register" (possibly missing from the register). A register asset no title matched is "no title
    found" (possibly unregistered, or held under another name: add that name to the alias table). Without a
    register, every title is listed as the anchor's portfolio from CCOD only.

    Parameters
    ----------
    ownership : rows of the CCOD/OCOD files
    anchor : the anchor (:func:`build_anchor`)
    register : the anchor's register as canonical assets (``asset_id``, ``name``, ``address``, ``postcode``,
        ``parcel_id`` where parcels were joined), optional
    postcodes : the postcode directory, to place titles
    parcels : INSPIRE parcels, to place titles in parcels
    decisions : decisions recorded on earlier reports (``match_key``, ``decision``, ``note``, ``decided_by``,
        ``decided_at``: :func:`assets_map.store.decisions.decisions`), carried into the rows with the same key

    Returns
    -------
    Reconciliation
    """
    titles = anchor_titles(ownership, anchor)
    placed = place_titles(titles, postcodes, parcels=parcels, register=register)
    t = placed.merge(titles.drop(columns=["postcode"]), on="title_number", how="left")
    matched_by = np.full(len(t), None, dtype=object)
    asset = t["asset_id"].to_numpy(dtype=object).copy()
    matched_by[pd.notna(asset)] = "address"
    notes: list[str] = []
    reg_keys = None
    if register is not None and len(register):
        reg_keys = _asset_keys(register)
        by_pc = reg_keys.dropna(subset=["postcode"]).drop_duplicates("postcode").set_index("postcode")["asset_id"]
        by_parcel = reg_keys.dropna(subset=["parcel_id"]).drop_duplicates("parcel_id").set_index("parcel_id")["asset_id"]
        pcs = t["postcode"].astype("string").str.replace(" ", "", regex=False)
        for i in range(len(t)):
            if matched_by[i] is not None:
                continue
            if pd.notna(pcs.iloc[i]) and pcs.iloc[i] in by_pc.index:
                asset[i], matched_by[i] = by_pc[pcs.iloc[i]], "postcode"
            elif pd.notna(t["parcel_id"].iloc[i]) and t["parcel_id"].iloc[i] in by_parcel.index:
                asset[i], matched_by[i] = by_parcel[t["parcel_id"].iloc[i]], "parcel"
        status = np.where(pd.notna(matched_by), STATUS_MATCHED, STATUS_NOT_IN_REGISTER)
    else:
        status = np.full(len(t), STATUS_CCOD_ONLY, dtype=object)
        notes.append(f"no register given: {anchor.name}'s portfolio is from CCOD/OCOD alone")
    t["status"], t["matched_by"], t["asset_id"] = status, matched_by, pd.array(asset, dtype="string")
    names = {} if reg_keys is None else dict(zip(reg_keys["asset_id"], reg_keys["asset_name"], strict=True))
    t["asset_name"] = [names.get(a) if isinstance(a, str) else None for a in t["asset_id"]]
    t["decision"] = None
    t["note"] = np.where(t["status"] == STATUS_NOT_IN_REGISTER,
                         "possibly missing from the register: confirm and add it, or reject the match", None)
    frames = [t]
    if reg_keys is not None:
        seen = set(t["asset_id"].dropna().astype(str))
        left = register[~register["asset_id"].astype(str).isin(seen).to_numpy()]
        lk = _asset_keys(left)
        a = gpd.GeoDataFrame({
            "status": STATUS_NO_TITLE, "matched_by": None, "title_number": None,
            "address": left["address"].astype("string").to_numpy() if "address" in left else None,
            "postcode": left["postcode"].astype("string").to_numpy() if "postcode" in left else None,
            "tier": None, "parcel_id": lk["parcel_id"].to_numpy(), "asset_id": lk["asset_id"].to_numpy(),
            "asset_name": lk["asset_name"].to_numpy(), "placement_note": None, "decision": None,
            "note": "no title found under the anchor's names: possibly unregistered, or held under another name "
                    "(add it to the alias table)"},
            geometry=left.to_crs(MEASURE_CRS).geometry.to_numpy() if left.crs is not None else left.geometry.to_numpy(),
            crs=MEASURE_CRS)
        frames.append(a)
    rows = pd.concat(frames, ignore_index=True)
    rows["match_key"] = match_keys(rows)
    rows = apply_decisions(rows, decisions)
    for c in REPORT_COLUMNS:
        if c not in rows:
            rows[c] = None
    rows = gpd.GeoDataFrame(rows[list(REPORT_COLUMNS)], geometry=rows.geometry, crs=MEASURE_CRS)
    for c in REPORT_COLUMNS:
        if c not in ("geometry",):
            rows[c] = rows[c].astype("string")
    unplaced = int((t["tier"] == TIER_UNPLACED).sum())
    if unplaced:
        notes.append(f"{unplaced} title address{'es' if unplaced != 1 else ''} unplaced (no postcode, or a postcode "
                     "not in the directory)")
    counts = {s: int((rows["status"] == s).sum()) for s in (STATUS_MATCHED, STATUS_NOT_IN_REGISTER, STATUS_NO_TITLE,
                                                            STATUS_CCOD_ONLY)}
    return Reconciliation(rows, anchor.name, {k: v for k, v in counts.items() if v}, notes)


def match_keys(rows: pd.DataFrame) -> list[str]:
    """The key a decision on a report row is recorded under: the same match gets the same key in the next report.

    A title row's key names the title, which of its addresses, and the register asset it was matched to
    ("AGL5 address 2 -> none"); a register asset with no title is "register asset A2". A title matched to
    another asset next time is another match, and is decided afresh.

    Parameters
    ----------
    rows : report rows (``status``, ``title_number``, ``address_part``, ``asset_id``)

    Returns
    -------
    list of str
    """
    parts = rows["address_part"] if "address_part" in rows else pd.Series(1, index=rows.index)
    out = []
    for status, title, part, asset in zip(rows["status"], rows["title_number"], parts, rows["asset_id"], strict=True):
        asset = asset if isinstance(asset, str) and asset else None
        if status == STATUS_NO_TITLE:
            out.append(f"register asset {asset}")
        else:
            n = int(part) if part is not None and not pd.isna(part) else 1
            out.append(f"{title} address {n} -> {asset or 'none'}")
    return out


def apply_decisions(rows: pd.DataFrame, decisions: pd.DataFrame | None) -> pd.DataFrame:
    """Carry recorded decisions into the report rows with the same ``match_key`` (the latest per key wins).

    Parameters
    ----------
    rows : report rows with ``match_key`` (:attr:`Reconciliation.rows`)
    decisions : ``match_key``, ``decision``, ``note``, ``decided_by``, ``decided_at`` (None: none recorded)

    Returns
    -------
    The rows (a copy) with ``decision``, ``decision_note``, ``decided_by`` and ``decided_at`` set
    """
    rows = rows.copy()
    for c in ("decision", "decision_note", "decided_by", "decided_at"):
        rows[c] = None
    if decisions is None or not len(decisions):
        return rows
    latest = decisions.sort_values("decided_at", kind="stable").drop_duplicates("match_key", keep="last")
    latest = latest.set_index("match_key")
    for c, src in (("decision", "decision"), ("decision_note", "note"), ("decided_by", "decided_by"),
                   ("decided_at", "decided_at")):
        rows[c] = rows["match_key"].map(latest[src]).astype(object).where(lambda v: pd.notna(v), None)
    return rows


def anchors_found(ownership: pd.DataFrame) -> pd.DataFrame:
    """The anchor institutions a CCOD/OCOD file names as proprietors, most titles first, to choose one from.

    Councils, NHS bodies, universities and colleges, housing associations and societies and other corporate
    bodies (police, fire) are kept; companies are not anchors. Spellings of one name are one row (its most
    used spelling shown).

    Parameters
    ----------
    ownership : rows from :func:`assets_map.io.landregistry.read_ownership`

    Returns
    -------
    DataFrame with ``name``, ``kind`` and ``titles``
    """
    cols = ["name", "kind", "titles"]
    if ownership is None or not len(ownership):
        return pd.DataFrame(columns=cols)
    rows = ownership[ownership["change"].fillna("A").eq("A")]
    kinds = [anchor_kind(c, n, k)[0] for c, n, k in zip(rows["proprietorship_category"], rows["proprietor_name"],
                                                        rows["company_number"], strict=True)]
    t = pd.DataFrame({"name": rows["proprietor_name"].to_numpy(), "kind": kinds,
                      "title": rows["title_number"].to_numpy()})
    t = t[t["kind"].notna() & (t["kind"] != "company") & t["name"].notna()]
    if t.empty:
        return pd.DataFrame(columns=cols)
    t["key"] = t["name"].map(normalise_name)
    shown = t.groupby("key")["name"].agg(lambda v: v.value_counts().index[0])
    out = t.groupby("key").agg(kind=("kind", "first"), titles=("title", "nunique"))
    out["name"] = shown
    return out.sort_values(["titles", "name"], ascending=[False, True])[cols].reset_index(drop=True)


def anchor_choices(ownership: pd.DataFrame, assets: pd.DataFrame | None = None) -> list[str]:
    """The anchors a user may reconcile: the register's organisations first, then the anchors the files name.

    An anchor found in the files under a spelling of a register organisation's name (a standard legal form)
    is not listed twice.

    Parameters
    ----------
    ownership : rows from :func:`assets_map.io.landregistry.read_ownership`
    assets : the register's canonical assets (``organisation``), optional

    Returns
    -------
    list of str
    """
    orgs = []
    if assets is not None and len(assets) and "organisation" in assets:
        orgs = sorted({str(o).strip() for o in assets["organisation"].dropna() if str(o).strip()})
    covered = set().union(*(set(dict(standard_aliases(o))) for o in orgs)) if orgs else set()
    found = [n for n in anchors_found(ownership)["name"] if normalise_name(n) not in covered]
    return list(dict.fromkeys(orgs + found))


def split_alias(name: str) -> tuple[str | None, str | None]:
    """``(alias, company number)`` of a name typed or picked as another name an anchor holds land under.

    A company number is all digits, or two letters and six digits (spaces ignored); anything else is a name.
    """
    n = str(name).strip()
    number = re.fullmatch(r"(?:[A-Z]{2})?\d{6,8}", n.replace(" ", "").upper())
    return (None, n) if number else (n, None)


def alias_key(alias: object, company_number: object) -> str:
    """The key two spellings of one alias share: the folded name, or ``company`` and the padded number."""
    if isinstance(company_number, str) and company_number.strip():
        return f"company {_company(company_number)}"
    return normalise_name(alias)


def merge_aliases(parts) -> pd.DataFrame | None:
    """One alias table from several (files, the register's), each row saying where it came from.

    Parameters
    ----------
    parts : tables from :func:`read_aliases`, :func:`alias_rows` or :func:`assets_map.store.decisions.stored_aliases`

    Returns
    -------
    DataFrame with ``anchor``, ``alias``, ``company_number``, ``source_row``, ``source`` (words: the file and
    row, or who kept it in the register and when) and ``note`` (why, where one was kept), or None when there are
    no rows
    """
    frames = []
    for p in parts:
        if p is None or not len(p):
            continue
        src = p.attrs.get("source", "the alias table")
        given = p["source"] if "source" in p.columns else pd.Series(pd.NA, index=p.index, dtype="string")
        rows = [g if isinstance(g, str) and g else f"alias table {src}, row {r}"
                for g, r in zip(given, p["source_row"], strict=True)]
        note = p["note"] if "note" in p.columns else pd.Series(pd.NA, index=p.index, dtype="string")
        frames.append(p[["anchor", "alias", "company_number", "source_row"]].assign(source=rows, note=note))
    if not frames:
        return None
    out = pd.concat(frames, ignore_index=True).astype({"anchor": "string", "alias": "string",
                                                        "company_number": "string", "source": "string",
                                                        "note": "string"})
    out.attrs["source"] = ", ".join(dict.fromkeys(p.attrs.get("source", "") for p in parts if p is not None
                                                  and len(p)))
    return out


def alias_rows(anchor: str, names, *, source: str = "added on the Land ownership page") -> pd.DataFrame:
    """Alias-table rows (as :func:`read_aliases` gives them) for other names an anchor holds land under.

    Parameters
    ----------
    anchor : the anchor
    names : proprietor names (or company numbers: all digits, or two letters and six digits)
    source : where the rows come from, named by the rule each match gives

    Returns
    -------
    DataFrame with ``anchor``, ``alias``, ``company_number``, ``source_row``
    """
    rows = []
    for k, n in enumerate(n for n in names if isinstance(n, str) and n.strip()):
        alias, number = split_alias(n)
        rows.append({"anchor": anchor, "alias": alias, "company_number": number, "source_row": k + 1})
    out = pd.DataFrame(rows, columns=["anchor", "alias", "company_number", "source_row"]).astype(
        {"anchor": "string", "alias": "string", "company_number": "string"})
    out.attrs["source"] = source
    return out


def register_of(assets: gpd.GeoDataFrame | None, anchor: Anchor) -> gpd.GeoDataFrame | None:
    """The register assets an anchor owns: those whose organisation is one of the anchor's names (None: none).

    An anchor with no register (a university or housing association that publishes none) gets None, and
    :func:`reconcile` lists its titles as a portfolio from CCOD/OCOD alone.

    Parameters
    ----------
    assets : canonical assets (``organisation``)
    anchor : the anchor

    Returns
    -------
    GeoDataFrame or None
    """
    if assets is None or not len(assets) or "organisation" not in assets:
        return None
    names = set(anchor.aliases)
    mine = assets[assets["organisation"].map(normalise_name).isin(names).to_numpy()]
    return mine if len(mine) else None


def anchor_register(assets: gpd.GeoDataFrame | None, anchor: Anchor) -> tuple[gpd.GeoDataFrame | None, str | None]:
    """The part of a register that is the anchor's, and a line saying how it was chosen (the CLI and the app).

    The rows whose organisation is one of the anchor's names (:func:`register_of`). A register naming no
    organisation is taken whole, and the line says so; one whose organisations are none of the anchor's
    names gives None (its titles are then a portfolio from CCOD/OCOD alone: land is never taken for an
    anchor's on a guess) and the line names them, pointing to the alias table.

    Parameters
    ----------
    assets : canonical assets (``organisation``), or None
    anchor : the anchor

    Returns
    -------
    tuple
        (the anchor's assets or None, a line for the user or None).
    """
    if assets is None or not len(assets):
        return None, None
    mine = register_of(assets, anchor)
    orgs = (assets["organisation"].dropna().astype(str).str.strip() if "organisation" in assets
            else pd.Series([], dtype=str))
    orgs = orgs[orgs != ""]
    if mine is not None:
        others = len(assets) - len(mine)
        return mine, (f"{others:,} register rows of other organisations left out ({len(mine):,} are "
                      f"{anchor.name}'s)" if others else None)
    names = list(dict.fromkeys(orgs))
    if not names:
        return assets, (f"the register names no organisation: the whole register was taken as {anchor.name}'s")
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return None, (f"the register's organisation{'s' if len(names) > 1 else ''} ({shown}) {'are' if len(names) > 1 else 'is'} "
                  f"not {anchor.name} nor one of its aliases: its titles are listed as a portfolio from HM Land "
                  "Registry's files alone (if the register is its own under another name, add that name to the alias "
                  "table)")


def anchor_placements(ownership: pd.DataFrame, *, postcodes: pd.DataFrame | None = None,
                      parcels: gpd.GeoDataFrame | None = None,
                      register: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Every title an anchor institution the files name holds (councils, NHS bodies, universities, housing...), placed.

    What "who owns this?" says of a parcel for any anchor, not only the one being reconciled: each title's
    first proprietor that is an anchor (:func:`anchors_found`'s kinds; companies are not anchors) names it.

    Parameters
    ----------
    ownership : rows from :func:`assets_map.io.landregistry.read_ownership` (full files)
    postcodes, parcels, register : as :func:`place_titles` takes them

    Returns
    -------
    GeoDataFrame as :func:`place_titles` gives, with ``anchor`` (the proprietor's name) and ``anchor_rule``
    ("the name on the title (council)")
    """
    rows = ownership[ownership["change"].fillna("A").eq("A")]
    kinds = pd.Series([anchor_kind(c, n, k)[0] for c, n, k in zip(
        rows["proprietorship_category"], rows["proprietor_name"], rows["company_number"], strict=True)],
        index=rows.index, dtype=object)
    mine = rows[kinds.notna().to_numpy() & (kinds != "company").to_numpy()].assign(kind=kinds)
    mine = mine.sort_values(["title_number", "proprietor_number"], kind="stable").drop_duplicates("title_number")
    placed = place_titles(mine, postcodes, parcels=parcels, register=register)
    who = mine.set_index("title_number")
    placed["anchor"] = placed["title_number"].map(who["proprietor_name"])
    placed["anchor_rule"] = [f"the name on the title ({k})" for k in placed["title_number"].map(who["kind"])]
    return placed


def placements(rec: Reconciliation) -> gpd.GeoDataFrame:
    """The placed titles of a reconciliation, each with its anchor, for the map and "who owns this?".

    Parameters
    ----------
    rec : a :class:`Reconciliation`

    Returns
    -------
    GeoDataFrame (EPSG:27700): the title rows with ``anchor`` added (unplaced titles kept, without geometry)
    """
    rows = rec.rows[rec.rows["status"] != STATUS_NO_TITLE].copy()
    rows["anchor"] = rec.anchor
    return rows


# ------------------------------------------------------------------ disposals

DISPOSAL_COLUMNS = ("title_number", "property_address", "postcode", "change_date", "what", "old_proprietor",
                    "new_proprietor", "anchor_rule", "source_row")


def disposals(changes: pd.DataFrame, anchor: Anchor, *, held: pd.DataFrame | None = None) -> pd.DataFrame:
    """Possible disposals in a change-only file: a title of the anchor deleted, or its proprietor changed.

    HM Land Registry's monthly change-only file lists a changed title as D (the old record deleted) and,
    when it still exists under another proprietor, A (the new record added).

    Parameters
    ----------
    changes : rows of a change-only file (:func:`assets_map.io.landregistry.read_ownership`)
    anchor : the anchor
    held : the anchor's titles before the change (a full file's rows), optional: an A row for one of them
        under another proprietor is a change of proprietor even when the file holds no D row

    Returns
    -------
    DataFrame with :data:`DISPOSAL_COLUMNS`, one row per title: ``what`` is "possible disposal: title deleted
    from the register" or "possible disposal: proprietor changed"
    """
    if "change" not in changes or changes["change"].isna().all():
        raise InputError("is not a change-only file (no Change Indicator A/D)", source=changes.attrs.get("source"))
    ident = identify_anchors(changes, [anchor])
    ours = ident["anchor"].notna()
    gone = ident[(ident["change"] == "D") & ours].drop_duplicates("title_number")
    added = ident[ident["change"] == "A"]
    still = set(added.loc[added["anchor"].notna(), "title_number"])
    new_owner = (added[added["anchor"].isna()].sort_values("proprietor_number").groupby("title_number")
                 ["proprietor_name"].agg(lambda s: "; ".join(s.dropna())))
    rows = []
    for r in gone.itertuples(index=False):
        if r.title_number in still:
            continue  # deleted and added back under the anchor: an address or a price changed, not a disposal
        changed = r.title_number in new_owner.index
        rows.append({"title_number": r.title_number, "property_address": r.property_address, "postcode": r.postcode,
                     "change_date": r.change_date,
                     "what": "possible disposal: proprietor changed" if changed else
                     "possible disposal: title deleted from the register",
                     "old_proprietor": r.proprietor_name, "new_proprietor": new_owner.get(r.title_number),
                     "anchor_rule": r.anchor_rule, "source_row": r.source_row})
    if held is not None and len(held):
        before = anchor_titles(held, anchor).set_index("title_number")
        done = {r["title_number"] for r in rows}
        for t, who in new_owner.items():
            if t in before.index and t not in done and t not in still:
                b = before.loc[t]
                rows.append({"title_number": t, "property_address": b["property_address"], "postcode": b["postcode"],
                             "change_date": added.loc[added["title_number"] == t, "change_date"].iloc[0],
                             "what": "possible disposal: proprietor changed", "old_proprietor": b["proprietor_name"],
                             "new_proprietor": who, "anchor_rule": b["anchor_rule"],
                             "source_row": int(added.loc[added["title_number"] == t, "source_row"].iloc[0])})
    return pd.DataFrame(rows, columns=list(DISPOSAL_COLUMNS))


def who_owns(parcel_id: str, placements: gpd.GeoDataFrame | None) -> str:
    """The words for a parcel a user clicked: registered freehold, and the anchor where a title is placed in it.

    Parameters
    ----------
    parcel_id : the INSPIRE ID clicked
    placements : title placements (:func:`place_titles` with an ``anchor`` column), optional

    Returns
    -------
    str : the anchor and title(s) placed in the parcel with how they were placed, else the route to the owner
    """
    head = f"Registered freehold parcel (INSPIRE ID {parcel_id})."
    if placements is not None and len(placements) and "parcel_id" in placements:
        here = placements[placements["parcel_id"].astype("string") == str(parcel_id)]
        if len(here):
            said = []
            for r in here.drop_duplicates("title_number").head(3).itertuples(index=False):
                said.append(title_words(r._asdict()))
            more = here["title_number"].nunique() - len(said)
            return " ".join([head, *said] + ([f"{more} more titles are placed here."] if more > 0 else []))
    return f"{head} {NOT_IN_OPEN_DATA[0].upper()}{NOT_IN_OPEN_DATA[1:]}."


def title_words(row: dict) -> str:
    """One placed title in words: the anchor, the title, and how sure (placement tier, the rule naming the anchor).

    Parameters
    ----------
    row : a placement or report row (``anchor``, ``title_number``, ``tier``, ``anchor_rule``)

    Returns
    -------
    str
    """
    who = row.get("anchor")
    who = who if isinstance(who, str) and who else "An anchor"
    rule = row.get("anchor_rule")
    named = f"; the proprietor is {who} by {rule}" if isinstance(rule, str) and rule else ""
    return f"{who} holds title {row.get('title_number')} here (placed by {row.get('tier')}{named}; {PLACEMENT_NOTE})."


def read_anchor_files(ownership_files, *, alias_files=(), anchor: str,
                      kept_aliases: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None, Anchor]:
    """Read the CCOD/OCOD files and alias tables of a reconciliation, and build the anchor.

    Parameters
    ----------
    ownership_files : CCOD/OCOD files, full or change-only (told apart by their ``Change Indicator``)
    alias_files : alias tables (:func:`read_aliases`)
    anchor : the anchor's name
    kept_aliases : the aliases kept in the register (:func:`assets_map.store.decisions.stored_aliases`), merged
        with the files' as the app's Land ownership page merges them (:func:`merge_aliases`)

    Returns
    -------
    (the full files' rows, the change-only files' rows or None, the anchor)
    """
    from assets_map.io.landregistry import read_ownership

    the_anchor = build_anchor(anchor, merge_aliases([*(read_aliases(p) for p in alias_files), kept_aliases]))
    # a national file (over the size limit, or zipped as published) is read keeping only the anchor's rows
    frames = [read_ownership(p, keep=anchor_rows([the_anchor])) for p in ownership_files]
    full = [f for f in frames if not f.attrs.get("change_only")]
    changes = [f for f in frames if f.attrs.get("change_only")]
    if not full:
        raise InputError("give at least one full CCOD or OCOD file (--ownership); change-only files alone list "
                         "only what changed")

    def joined(parts: list[pd.DataFrame]) -> pd.DataFrame:
        out = pd.concat(parts, ignore_index=True)
        out.attrs.update(sources=[f.attrs.get("source") for f in parts], source=", ".join(
            str(f.attrs.get("source")) for f in parts), change_only=bool(parts[0].attrs.get("change_only")))
        return out

    return joined(full), joined(changes) if changes else None, the_anchor

def ownership_summary(ownership: pd.DataFrame) -> list[str]:
    """What a CCOD/OCOD file holds, in lines to print: titles, proprietors by anchor kind (with the rule), changes.

    Parameters
    ----------
    ownership : rows from :func:`assets_map.io.landregistry.read_ownership`

    Returns
    -------
    list of str
    """
    a = ownership.attrs
    form = "change-only" if a.get("change_only") else "full"
    lines = [f"HM Land Registry {a.get('dataset', 'CCOD')} file ({form}): {ownership['title_number'].nunique():,} "
             f"titles, {len(ownership):,} proprietor entries; titles and their proprietors, not sites"]
    kinds = [anchor_kind(c, n, k)[0] for c, n, k in zip(ownership["proprietorship_category"],
                                                         ownership["proprietor_name"], ownership["company_number"],
                                                         strict=True)]
    counts = pd.Series([k or "other" for k in kinds], dtype="object").value_counts()
    lines.append("proprietors by anchor kind (from the proprietorship category, and the name where the category is "
                 "broad): " + ", ".join(f"{k} {n:,}" for k, n in counts.items()))
    multi = ownership.drop_duplicates("title_number")["multiple_address"].sum()
    if multi:
        lines.append(f"{int(multi):,} titles cover several addresses (each address is placed on its own)")
    if a.get("change_only"):
        ch = ownership.drop_duplicates(["title_number", "change"])["change"].value_counts()
        lines.append(f"changes: {int(ch.get('A', 0)):,} titles added, {int(ch.get('D', 0)):,} deleted")
    return lines


__all__ = ["ALIAS_COLUMNS", "DECISIONS", "DISPOSAL_COLUMNS", "NOT_IN_OPEN_DATA", "PLACEMENT_NOTE", "REPORT_COLUMNS",
           "TIERS", "TITLE_SEARCH_URL", "Anchor", "Reconciliation", "address_key", "alias_key", "alias_rows",
           "anchor_choices", "merge_aliases", "split_alias",
           "anchor_placements",
           "anchor_kind", "anchor_rows", "apply_decisions",
           "anchor_titles", "anchors_found", "build_anchor", "disposals", "expand_addresses", "identify_anchors",
           "match_keys", "normalise_name", "ownership_summary", "place_titles", "placements", "read_aliases",
           "read_anchor_files", "reconcile", "register_of", "standard_aliases", "title_words", "who_owns"]
