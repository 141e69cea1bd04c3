"""Column mapping and value normalisation to the canonical asset schema.

Registers name their columns in many ways (``GeoX``, ``Easting``, ``PropertyName``,
``Site Name``...). Headers are matched after folding case and dropping anything
that is not a letter or digit, so ``Post Code``, ``POSTCODE`` and ``post_code``
are one header.
"""
from __future__ import annotations

import difflib
import re
import weakref

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assets_map.engine.arrays import per_column, str_series, words_column
from assets_map.io.units import PLAIN_DECIMAL, area_column, empty_share, with_area_columns
from assets_map.io.units import TARGET as AREA_TARGET
from assets_map.schema import ASSET_COLUMNS, SOURCE_PREFIX, empty_asset_frame


def fold(header: str) -> str:
    """A header folded for matching: lower case, letters and digits only (``"Asset Ref."`` -> ``"assetref"``)."""
    return re.sub(r"[^a-z0-9]", "", str(header).lower())


#: canonical or helper name -> folded header names, in order of preference.
COLUMN_CANDIDATES: dict[str, tuple[str, ...]] = {
    "asset_id": ("assetid", "assetcode", "assetref", "assetreference", "assetnumber", "assetno", "propertyreference",
                 "propertyref", "propertyid", "propertycode", "propertynumber", "sitereference", "siteref", "lasiteref",
                 "sitecode", "reference", "ref", "id", "terrierref", "terrierreference", "terriernumber", "terrierno",
                 "terrierid", "terrier", "assetregisterref", "estatesref", "estatesreference", "siteid",
                 "buildingcode", "buildingref", "buildingid"),
    "organisation": ("organisationlabel", "organisation", "organisationname", "organization", "owner",
                     "ownername", "localauthority", "trustname", "organisationlabelname", "organisationuri"),
    "anchor_type": ("anchortype", "organisationtype", "ownertype"),
    # "DISTNAME"/"distinctive name": OS OpenMap Local and other OS building and site layers
    "name": ("propertyname", "assetname", "name", "sitename", "site", "premisesname", "buildingname",
             "nameandaddressofsite", "sitenameaddress", "distname", "distinctivename", "featurename", "name1",
             "placename", "nameofproperty", "nameofasset", "nameofsite", "property", "building", "premises"),
    "address": ("address", "fulladdress", "siteaddress", "propertyaddress", "sitenameaddress",
                "nameandaddressofsite"),
    "street_number": ("streetnumber", "housenumber", "buildingnumber", "number"),
    "street_name": ("streetname", "street", "road"),
    "post_town": ("posttown", "town", "locality"),
    "postcode": ("postcode", "postalcode", "pcd", "pcds", "postcodeofasset"),
    "uprn": ("uprn", "uniquepropertyreferencenumber"),
    "tenure": ("tenuretype", "tenure", "tenurestatus", "freeholdleasehold", "freeholdorleasehold", "leaseholdfreehold",
               "leaseholdorfreehold", "interest", "landinterest", "councilsinterest", "daliadaeth"),
    "status_text": ("status", "assetstatus", "occupancy", "occupancystatus", "tenuredetail", "occupation"),
    "use": ("use", "currentuse", "propertyuse", "assetuse", "propertytype", "assettype", "usage",
            "function", "category", "otherdetail", "classification", "classifica", "descriptiveterm",
            "buildingtype", "featuretype", "buildgthem", "buildingtheme", "theme", "landuse", "amenity",
            "assetcategory", "propertycategory", "primaryuse", "existinguse", "assetclass", "propertyclass",
            "defnydd", "defnyddpresennol"),
    "holding_type": ("holdingtype", "holding", "landorbuilding", "landbuilding", "landorbuildings", "landbuildings",
                     "buildingorland", "landandorbuilding"),
    "floor_area_m2": ("flooraream2", "floorarea", "buildingsize", "gia", "grossinternalarea",
                      "grossinternalfloorarea", "floorareasqm", "giam2",
                      # the unit in the header is read by io/units.py
                      "floorareasqft", "giasqft", "grossinternalareasqft", "grossinternalaream2", "giasqm",
                      "grossinternalareasqm", "flooraream", "floorspacesqm", "floorspacesqft", "floorspace",
                      "totalfloorarea", "totalfloorareasqm", "totalfloorareasqft", "totalflooraream2",
                      "netinternalarea", "nia", "niasqm", "niasqft", "niam2", "grossexternalarea", "gea", "geasqm"),
    "site_area_ha": ("siteareaha", "landarea", "sitearea", "hectares", "areaha", "landareaha",
                     "siteareahectares", "landareahectares", "areahectares", "siteareaacres", "landareaacres",
                     "areaacres", "acres", "acreage", "siteareasqm", "landareasqm", "siteaream2", "landaream2"),
    "condition": ("condition", "energyrating", "epcrating", "epc"),
    "source_date": ("effectivedate", "sourcedate", "asatdate", "dateupdated", "lastupdated", "date"),
    "vacant_since": ("vacantsince", "vacantfrom", "datevacant", "vacancydate"),
    "visibility": ("visibility",),
    # an empty floor given as an area ("Void area (sq m)"): read as a share of the floor area (io/units.py)
    "empty_floor_area": ("voidarea", "voidfloorarea", "vacantfloorarea", "vacantarea", "voidspace",
                         "vacantfloorspace", "voidfloorspace", "unoccupiedfloorarea", "unoccupiedarea", "voidaream2",
                         "voidareasqm", "voidareasqft"),
    "empty_floor_pct": ("emptyfloorpct", "floorareaempty", "emptyfloorarea", "voidpercentage", "percentagevoid",
                        "voidspacepercentage", "vacantpercentage", "percentagevacant", "vacancyrate"),
    "underused_floor_pct": ("underusedfloorpct", "floorareaunderused", "underusedfloorarea"),
    "crs_label": ("coordinatereferencesystem", "crs", "coordinatesystem", "srs", "spatialreference",
                  "projection"),
    "x": ("geox", "easting", "eastings", "xcoordinate", "x", "lon", "long", "longitude", "lng"),
    "y": ("geoy", "northing", "northings", "ycoordinate", "y", "lat", "latitude"),
}


_CANDIDATE_OF = {f: canon for canon, cands in reversed(COLUMN_CANDIDATES.items()) for f in cands}

#: Header words of the columns whose values are the register's own categories ("use") or free text ("name").
_CATEGORY_HEADER = re.compile(r"use|type|holding|category|categories|class|purpose|function|classification")
_DESCRIPTION_HEADER = re.compile(r"description|desc|comment|note|remark|detail|summary")
#: Headers that say what an asset is not: its tenure, status, owner, place, a code, or a proposal for it (a
#: brownfield site's "DevelopmentDescription" or "PermissionType" describes what may be built, not the land).
_NOT_DESCRIBING = re.compile(r"tenure|status|occupanc|owner|organisation|organization|anchor|crs|coordinate|"
                             r"geometry|date|postcode|address|street|town|uprn|reference|^ref|code|id$|energy|epc|house|"
                             r"permission|planning|proposed|development|hazard")


def describing_columns(headers) -> list[tuple[str, str]]:
    """The headers that describe what an asset is, each with its kind: ``"use"`` or ``"name"``.

    A header whose folded form says use, type, holding, category, class or purpose is a ``"use"`` column (the
    register's own category: "Parks, Gardens and open space"); one that says description, comment, note or
    detail is a ``"name"`` column (free text). Tenure, status, owner, place and code columns are neither.
    """
    out = []
    for h in headers:
        f = fold(h)
        if not f or _NOT_DESCRIBING.search(f):
            continue
        if _CATEGORY_HEADER.search(f):
            out.append((h, "use"))
        elif _DESCRIPTION_HEADER.search(f):
            out.append((h, "name"))
    return out


#: Welsh headers of bilingual registers (Welsh councils publish "Asset Name / Enw'r Ased").
_WELSH = {"enwrased": "name", "enwreiddo": "name", "enw": "name", "cyfeiriad": "address", "codpost": "postcode",
          "dwyreiniad": "x", "gogleddiad": "y", "statws": "status_text", "cyfeirnod": "asset_id", "cyfeirnodyrased": "asset_id"}


#: Coordinate headers with a qualifier: "OS Easting", "Site Northing", "X Coord", "GridX", "Map Y", "East".
_COORDINATE = re.compile(
    r"^(?:os|osgb|bng|grid|gridref|gridreference|map|mapref|location|site|property|asset|point|centroid|ngr)?"
    r"(?:(?P<e>eastings?|east)|(?P<n>northings?|north)|(?P<x>x)(?:coord|coords|coordinate|value)?|"
    r"(?P<y>y)(?:coord|coords|coordinate|value)?|(?P<lat>latitude|lat)|(?P<lon>longitude|long|lon|lng))"
    r"(?:coord|coords|coordinate|m|metres|wgs84|bng|osgb36)?$")


def header_key(header: str) -> str:
    """The folded key a header is matched by: the header itself, or the one part of it that names a column.

    Bilingual headers ("Asset Name / Enw'r Ased") and headers with a gloss in brackets ("X (Easting)") are
    matched by their parts when the whole names nothing and every part that names something names the same
    column; Welsh parts count as their English ones.
    """
    whole = fold(header)
    if whole in _CANDIDATE_OF:
        return whole
    coordinate = _COORDINATE.match(whole)
    if coordinate:  # "OS Easting", "Grid Ref Northing", "X Coord", "Map X", "Site Latitude"
        axis = next(k for k, v in coordinate.groupdict().items() if v)
        return {"e": "easting", "n": "northing", "x": "x", "y": "y", "lat": "latitude", "lon": "longitude"}[axis]
    text = str(header)
    pieces = re.split(r"\s+/\s+|\s*\|\s*|\n|\s+-\s+", text) + [re.sub(r"\(.*?\)", " ", text)] + re.findall(r"\((.*?)\)", text)
    keys = [fold(p) for p in pieces]
    keys = [k if k in _CANDIDATE_OF else next((c for c in COLUMN_CANDIDATES[_WELSH[k]]), k) if k in _WELSH else k for k in keys]
    named = [k for k in keys if k in _CANDIDATE_OF]
    return named[0] if named and len({_CANDIDATE_OF[k] for k in named}) == 1 else whole


def match_columns(columns: list[str], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Map canonical names to source headers; each source header is used once.

    ``overrides`` (canonical -> header) win over the automatic match.
    """
    folded = {c: header_key(c) for c in columns}
    taken: set[str] = set()
    out: dict[str, str] = {}
    for canon, header in (overrides or {}).items():
        if header not in columns:
            raise KeyError(header)
        out[canon] = header
        taken.add(header)
    for canon, cands in COLUMN_CANDIDATES.items():
        if canon in out:
            continue
        # A "site name and address" column may serve as both name and address.
        shareable = {out.get("name")} if canon == "address" else set()
        for cand in cands:
            hit = next((c for c in columns if folded[c] == cand and (c not in taken or c in shareable)), None)
            if hit is None and len(cand) > 10:
                # Shapefiles cut field names to 10 characters: "TenureDeta", "HoldingTyp".
                hit = next((c for c in columns if len(str(c)) == 10 and len(folded[c]) >= 8
                            and cand.startswith(folded[c]) and (c not in taken or c in shareable)), None)
            if hit is not None:
                out[canon] = hit
                taken.add(hit)
                break
    return out


_STATUS_WORDS = [
    ("not-available", ("not available", "unavailable", "not for transfer", "not-available", "transferred",
                       "asset transferred")),
    ("sold", ("sold", "disposed of", "disposal completed")),
    ("part-vacant", ("part vacant", "partly vacant", "partially vacant", "part occupied", "partly occupied",
                     "part-vacant", "partially occupied")),
    ("surplus", ("surplus", "for disposal", "disposal", "to be disposed", "declared surplus", "for sale",
                 "no longer required")),
    # before "occupied": "not in use" holds "in use"
    ("vacant", ("vacant", "empty", "unoccupied", "void", "disused", "derelict", "closed", "mothballed",
                "not in use", "out of use", "no longer in use", "unused", "not used", "unlet", "not let", "to let",
                "available to let", "available for letting", "for letting", "to be let")),
    ("leased-out", ("leasehold out", "leased out", "lease out", "let out", "tenanted", "sublet", "let to",
                    "licensed out", "leased", "let", "investment", "licensed to", "licence to", "under licence",
                    "on licence", "license to", "investment property", "commercial let")),
    ("occupied", ("owner occupied", "occupied", "in use", "operational", "leasehold in", "owner-occupied",
                  "service delivery", "in occupation", "community use")),
]
_STATUS_VOCAB = sorted({w for _, words in _STATUS_WORDS for w in words})


def normalise_status(text: object) -> str:
    """Map an owner's status or tenure-detail text to a canonical status.

    Case, punctuation and near misspellings ("Vacent", "Leasehold  out") are folded.
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return "unknown"
    s = re.sub(r"[^a-z]+", " ", str(text).lower()).strip()
    if not s:
        return "unknown"
    for status, words in _STATUS_WORDS:
        if any(re.search(rf"\b{re.escape(w)}\b", s) for w in words):
            return status
    close = difflib.get_close_matches(s, _STATUS_VOCAB, n=1, cutoff=0.82)
    if close:
        return normalise_status(close[0])
    return "unknown"


#: Words outside the status column that say the owner holds it as surplus: "Buildings Declared Surplus" in a
#: holding type, "Surplus to requirements" or "held for disposal" in a use or description.
_SURPLUS_ELSEWHERE = re.compile(r"\b(surplus|for disposal|to be disposed|awaiting disposal|pending disposal|"
                                r"disposal pending|identified for disposal)\b", re.I)
#: Statuses a surplus word elsewhere does not override: the owner's own later word on the asset.
_STATUS_KEPT = ("sold", "not-available", "surplus")


def surplus_elsewhere(raw: pd.DataFrame, mapping: dict[str, str]) -> np.ndarray:
    """Rows whose use, holding type or a describing column (not the status) says surplus or for disposal."""
    headers = {mapping[k] for k in ("use", "holding_type") if k in mapping}
    headers |= {h for h, _ in describing_columns(raw.columns)}
    headers.discard(mapping.get("status_text"))
    hit = np.zeros(len(raw), dtype=bool)
    for h in headers:
        if h in raw.columns and not pd.api.types.is_numeric_dtype(raw[h]):
            hit |= np.asarray(map_unique(raw[h], lambda v: isinstance(v, str) and bool(_SURPLUS_ELSEWHERE.search(v))),
                              dtype=bool)
    return hit


#: Words a register uses to publish an asset; every other value, a blank included, is internal.
PUBLIC_WORDS = ("public", "yes", "y", "true", "1", "published", "open")


def normalise_visibility(value: object) -> str:
    """``public`` or ``internal`` from what a register says; anything unclear (blank too) is internal.

    The one rule for a ``Visibility`` cell, used when a register is read and again when it is
    stored: an asset is published only when its row says so in words.
    """
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip().lower()
    return "public" if text in PUBLIC_WORDS else "internal"


#: Tenure codes registers use: "FH", "F/H", "LH", "L/H" (and "F", "L" alone in a tenure column).
_TENURE_CODES = {"fh": "freehold", "f": "freehold", "lh": "leasehold", "l": "leasehold"}
#: Holding codes: "L", "B", "L&B", "L/B".
_HOLDING_CODES = {"l": "land", "b": "building", "lb": "both", "bl": "both"}


def normalise_tenure(text: object) -> str:
    """Tenure text as ``"freehold"``, ``"leasehold"``, ``"other"`` or ``"unknown"``.

    Close misspellings count (``"freehld"``); any text with "lease" in it is leasehold; missing or
    empty text is unknown.
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return "unknown"
    code = _TENURE_CODES.get(re.sub(r"[^a-z]", "", str(text).lower()))
    if code:
        return code
    s = re.sub(r"[^a-z]+", " ", str(text).lower()).strip()
    for canon in ("freehold", "leasehold"):
        if canon in s.replace(" ", "") or difflib.get_close_matches(s, [canon], n=1, cutoff=0.8):
            return canon
    if "lease" in s:
        return "leasehold"
    return "unknown" if not s else "other"


_HOLDING_VOCAB = {"land": "land", "site": "land", "building": "building", "buildings": "building",
                  "property": "building", "premises": "building", "land and buildings": "both",
                  "land and building": "both", "both": "both"}


def normalise_holding(text: object) -> str:
    """``land``, ``building``, ``both`` or ``unknown``; case and near misspellings ("Buliding", "Lnad") folded."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return "unknown"
    s = str(text).lower()
    if re.sub(r"[^a-z]", "", s) in _HOLDING_CODES:
        return _HOLDING_CODES[re.sub(r"[^a-z]", "", s)]
    land = "land" in s or "site" in s
    building = "build" in s or "bldg" in s or "property" in s or "premises" in s
    if "both" in s or (land and building):
        return "both"
    if building:
        return "building"
    parts = [re.sub(r"[^a-z]+", "", p) for p in re.split(r"\band\b|[&/,+]", s)]
    parts = [p for p in parts if p]
    kinds = set()
    for part in parts:
        close = difflib.get_close_matches(part.replace(" ", ""), [k.replace(" ", "") for k in _HOLDING_VOCAB], n=1, cutoff=0.75)
        if close:
            kinds.add(next(v for k, v in _HOLDING_VOCAB.items() if k.replace(" ", "") == close[0]))
    if land:
        kinds.add("land")
    if len(kinds) > 1 or "both" in kinds:
        return "both"
    return kinds.pop() if kinds else "unknown"


#: The only words of a use cell that say the holding rather than a use ("Property Type: Land / Buildings").
_HOLDING_ONLY_WORDS = {"land", "building", "buildings", "and", "or", "only", "bare", "site", "premises", "property"}


def holding_of_use(text: object) -> str:
    """The holding a use cell states when it says nothing but land or buildings ("Buildings", "Land & Buildings").

    Registers with no holding-type column often put it in their property type. Any other use is ``unknown``.
    """
    if not isinstance(text, str):
        return "unknown"
    words = set(re.sub(r"[^a-z]+", " ", text.lower()).split())
    return normalise_holding(text) if words and words <= _HOLDING_ONLY_WORDS else "unknown"


_ANCHOR_WORDS = [
    ("housing_association", ("housing", "homes", "registered provider")),
    # before "university": "Manchester University NHS Foundation Trust" is an NHS trust
    ("nhs", ("nhs", "health", "hospital", "integrated care", "foundation trust", "ambulance")),
    ("university", ("university",)),
    ("college", ("college",)),
    ("police", ("police", "constabulary")),
    ("fire", ("fire",)),
    ("council", ("council", "borough", "county", "city of", "district", "combined authority", "mayor")),
]


def anchor_type_of(organisation: object) -> str:
    """The kind of anchor institution an organisation name says it is (``"nhs"``, ``"university"``, ...), or ``"other"``."""
    if organisation is None or (isinstance(organisation, float) and np.isnan(organisation)):
        return "other"
    s = str(organisation).lower()
    for kind, words in _ANCHOR_WORDS:
        if any(w in s for w in words):
            return kind
    return "other"


#: Python's ``\s`` on ASCII text (``str.isspace``): RE2's ``\s`` leaves out \v and \x1c-\x1f.
ASCII_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "
_FULL_POSTCODE = re.compile(r"^(?P<outward>[A-Z]{1,2}[0-9][A-Z0-9]?)\s*(?P<inward>[0-9][A-Z]{2})$")
_DISTRICT = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")


def clean_postcode(text: object) -> tuple[str | None, str]:
    """Return (formatted postcode, kind) with kind ``full``, ``district``, ``invalid`` or ``missing``."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None, "missing"
    s = re.sub(r"\s+", " ", str(text).upper()).strip()
    if not s:
        return None, "missing"
    m = _FULL_POSTCODE.match(s)
    if m:
        return f"{m.group(1)} {m.group(2)}", "full"
    if _DISTRICT.match(s):
        return s, "district"
    return s, "invalid"


def compact_postcode(pc: pd.Series) -> pd.Series:
    """Postcodes in upper case without spaces (``"m32 0fp"`` -> ``"M320FP"``), the form the directory is keyed by."""
    return pc.astype("string").str.upper().str.replace(r"\s+", "", regex=True)


def _ascii_text(values: pd.Series) -> tuple[pa.ChunkedArray, np.ndarray] | None:
    """The column as Arrow text and a mask of its plain-ASCII values, or None when it is not all text."""
    dtype = values.dtype
    if (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow") or (
            isinstance(dtype, pd.ArrowDtype) and (pa.types.is_string(dtype.pyarrow_dtype)
                                                  or pa.types.is_large_string(dtype.pyarrow_dtype))):
        arr = values.array.__arrow_array__()  # the column's own Arrow buffers: no Python strings
        arr = arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])
    elif isinstance(dtype, pd.StringDtype):
        arr = pa.chunked_array([pa.array(values.astype(object).where(values.notna(), None).to_numpy(dtype=object),
                                         type=pa.string(), from_pandas=True)])
    elif values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        arr = pa.chunked_array([pa.array(values.where(values.notna(), None).to_numpy(dtype=object), type=pa.string(),
                                         from_pandas=True)])
    else:
        return None
    ascii_ = pc.fill_null(pc.string_is_ascii(arr), True).to_numpy(zero_copy_only=False)
    return arr, ascii_


#: A full postcode exactly as :func:`clean_postcode` formats it.
_NEAT_POSTCODE = r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$"


def _postcodes_by_arrow(arr: pa.ChunkedArray) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """:func:`clean_postcode` over plain-ASCII large-string Arrow text by Arrow's kernels: (formatted, kinds)."""
    t = pa.large_string()
    # Python's \s on ASCII (RE2's leaves out \v and \x1c-\x1f); non-ASCII rows are replaced by the caller
    text = pc.utf8_trim(pc.replace_substring_regex(pc.ascii_upper(arr), f"[{ASCII_SPACE}]+", " "), " ")
    parts = pc.extract_regex(text, _FULL_POSTCODE.pattern)  # RE2 reads the same named-group pattern
    full = pc.fill_null(pc.is_valid(parts), False)
    joined = pc.binary_join_element_wise(pc.struct_field(parts, "outward"), pc.struct_field(parts, "inward"),
                                         pa.scalar(" ", t))
    blank = pc.fill_null(pc.equal(text, ""), True)
    district = pc.fill_null(pc.match_substring_regex(text, _DISTRICT.pattern), False)
    formatted = pc.if_else(blank, pa.scalar(None, t), pc.if_else(full, joined, text))
    word = {k: pa.scalar(k, t) for k in ("missing", "full", "district", "invalid")}
    kind = pc.if_else(blank, word["missing"], pc.if_else(full, word["full"],
                                                         pc.if_else(district, word["district"], word["invalid"])))
    return formatted, kind


def clean_postcodes(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """:func:`clean_postcode` over a whole column: (formatted postcodes, kinds), as ``str`` Series.

    Plain-ASCII text (every real postcode) goes through Arrow's vectorised string
    kernels; anything else (numbers, non-ASCII spaces or letters) through
    :func:`clean_postcode` once per distinct value, so the two always agree.
    """
    index = values.index
    got = _ascii_text(values)
    if got is None:
        pairs = map_unique(values, clean_postcode)
        return (pd.Series([p[0] for p in pairs], index=index, dtype="str"),
                pd.Series([p[1] for p in pairs], index=index, dtype="str"))
    arr, ascii_ = got
    arr = arr.cast(pa.large_string())
    # a postcode written as it is formatted ("M32 0FP": most of a register) is its own formatted form, and full
    neat = pc.fill_null(pc.match_substring_regex(arr, _NEAT_POSTCODE), False)
    if pc.all(neat).as_py():
        formatted, kind = arr, pa.repeat(pa.scalar("full", pa.large_string()), len(arr))
    else:
        rest = pc.invert(neat).combine_chunks()  # replace_with_mask takes whole arrays
        some, some_kind = _postcodes_by_arrow(pc.filter(arr, rest))
        formatted = pc.replace_with_mask(arr.combine_chunks(), rest, some.combine_chunks())
        kind = pc.replace_with_mask(pa.repeat(pa.scalar("full", pa.large_string()), len(arr)), rest,
                                    some_kind.combine_chunks())
    formatted, kinds = str_series(formatted, index), str_series(kind, index)
    if not ascii_.all():  # non-ASCII spacing or letters: Python's own rules, as clean_postcode
        odd = ~ascii_
        pairs = map_unique(values[odd], clean_postcode)
        formatted[odd] = [p[0] for p in pairs]
        kinds[odd] = [p[1] for p in pairs]
    return formatted, kinds


def blank_cells(arr) -> np.ndarray:
    """Which cells of Arrow text are missing or blank (empty, or white space only as Arrow's ``utf8_trim_whitespace`` trims).

    Only cells that start with a space, a control character or a non-ASCII character are trimmed (a cell that
    starts with any other character is not blank), so a column of a million filled cells costs a look at its first
    bytes, not a trimmed copy of it.

    Parameters
    ----------
    arr : pyarrow.Array or pyarrow.ChunkedArray
        Text (``string`` or ``large_string``).

    Returns
    -------
    numpy.ndarray
        Boolean, one per cell: True where the cell is missing or blank (read-only: the answer is kept while the
        column lives and given again to the next caller asking about the same array).
    """
    # the same column asked again (sections, src_* columns, aggregate keys): the answer kept
    return per_column(_BLANKS, arr, lambda: _blank_cells(arr))


def _blank_cells(arr) -> np.ndarray:
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    parts = []
    for ch in chunks:
        n = len(ch)
        kind = np.int64 if pa.types.is_large_string(ch.type) else np.int32 if pa.types.is_string(ch.type) else None
        if kind is None or not n:
            parts.append(pc.fill_null(pc.equal(pc.utf8_trim_whitespace(ch), ""), True).to_numpy(zero_copy_only=False))
            continue
        _, offsets, data = ch.buffers()
        offsets = np.frombuffer(offsets, dtype=kind)[ch.offset:ch.offset + n + 1]
        data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
        empty = offsets[1:] == offsets[:-1]
        first = data[np.minimum(offsets[:-1], len(data) - 1)] if len(data) else np.zeros(n, dtype=np.uint8)
        blank = empty | pc.is_null(ch).to_numpy(zero_copy_only=False)
        # every white space character Arrow trims is a byte <= 0x20 or starts a non-ASCII character
        maybe = np.flatnonzero(~blank & ((first <= 0x20) | (first >= 0x7F)))
        if len(maybe):
            trimmed = pc.utf8_trim_whitespace(ch.take(pa.array(maybe)))
            blank[maybe] = pc.fill_null(pc.equal(trimmed, ""), True).to_numpy(zero_copy_only=False)
        parts.append(blank)
    out = np.concatenate(parts) if parts else np.zeros(0, dtype=bool)
    out.flags.writeable = False  # shared by every caller asking about this column
    return out


#: blank_cells' answers by column (``id`` of the Arrow array, with a weak reference to it), while the column lives.
_BLANKS: dict[int, tuple[weakref.ref, np.ndarray]] = {}


def _text_value(v: object) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and (np.isnan(v))):
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    s = str(v).strip()
    return s or None


def source_text(values: pd.Series) -> pd.Series:
    """A text column as ``str`` dtype, stripped, blanks missing.

    This is how source columns (``src_*``) are kept. ``12.0`` from a numeric column becomes ``12``. All-text columns take one
    vectorised pass (a national register has millions of rows).
    """
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        values = values.where(values.notna(), None).astype("str")
    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        s = values.astype("str").str.strip()
        return s.where(s != "")
    return pd.Series([_text_value(v) for v in values], index=values.index, dtype="str")


def source_exact(values: pd.Series) -> pd.Series:
    """A source column (``src_*``) as ``str`` dtype, each text exactly as in the file; blank cells missing.

    Unlike :func:`source_text` nothing is stripped: a leading tab, CR or space stays (the exports make
    formula-like text safe on the way out). ``12.0`` from a numeric cell becomes ``12``.
    """
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        s = values.where(values.notna(), None).astype("str")
    elif pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        s = values.astype("str")
        arrow = getattr(s.array, "_pa_array", None)
        if arrow is not None:  # Arrow text: only the cells that may be blank are trimmed, blanked in Arrow
            blank = blank_cells(arrow)
            if not blank.any():
                return s
            return str_series(pc.if_else(pa.array(blank), pa.scalar(None, arrow.type), arrow), s.index).rename(s.name)
    else:
        return pd.Series([None if _text_value(v) is None else v if isinstance(v, str) else _text_value(v)
                          for v in values], index=values.index, dtype="str")
    return s.where(s.str.strip() != "")


def as_text(values: pd.Series) -> pd.Series:
    """Identifiers and labels as text: object dtype, missing as ``None``.

    The scoring and the site card test for ``None``. ``12.0`` from a numeric column becomes ``12``; blanks become None.
    """
    return _objects(source_text(values))


def _objects(s: pd.Series) -> pd.Series:
    """A ``str`` Series as object dtype, missing as None (Arrow text: its Python strings made by Arrow)."""
    arrow = getattr(s.array, "_pa_array", None)
    if arrow is None:
        return s.astype(object).where(s.notna(), None)
    if len(arrow) > 50_000 and pc.count_distinct(arrow.slice(0, 10_000)).as_py() < 1_000:
        # a few values repeated (owners, site names): each distinct text made a Python string once
        codes, uniques = pd.factorize(s)  # missing: -1, the None appended last
        values = np.append(np.asarray(uniques.astype(object), dtype=object), None)[codes]
    else:
        values = arrow.to_numpy(zero_copy_only=False)
    return pd.Series(values, index=s.index, name=s.name, dtype=object, copy=False)


def map_unique(values: pd.Series, fn) -> list:
    """``[fn(v) for v in values]``, calling ``fn`` once per distinct value.

    Registers repeat their statuses, tenures and dates: a national register has millions of rows, a few hundred values).
    """
    if isinstance(values.dtype, pd.StringDtype):  # text factorised in its own dtype: no Python string per row
        codes, uniques = factorized(values)
        uniques = np.asarray(uniques.astype(object), dtype=object)  # what astype(object) gives: NaN / NA if missing
    else:
        codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=False)
    results = np.empty(len(uniques), dtype=object)
    for i, u in enumerate(uniques):
        results[i] = fn(u)
    return results[codes].tolist()


def factorized(values: pd.Series) -> tuple[np.ndarray, object]:
    """``pd.factorize(values, use_na_sentinel=False)``, made once per Arrow text column while it lives.

    A register's tenure, holding and status columns are factorised to be normalised and again to be reported.

    Parameters
    ----------
    values : pandas.Series

    Returns
    -------
    (codes, uniques) : as ``pd.factorize`` gives them (the codes read-only when the column is Arrow text)
    """
    arrow = getattr(values.array, "_pa_array", None)
    if arrow is None:
        return pd.factorize(values, use_na_sentinel=False)
    return per_column(_FACTORIZED, arrow, lambda: _read_only_factorize(values))


def _read_only_factorize(values: pd.Series) -> tuple[np.ndarray, object]:
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    codes.flags.writeable = False  # shared by every caller asking about this column
    return codes, uniques


#: factorized's answers by Arrow column (``id``, with a weak reference to it), while the column lives.
_FACTORIZED: dict[int, tuple[weakref.ref, tuple]] = {}


def map_words(values: pd.Series, fn) -> pd.Series:
    """:func:`map_unique` for a function that returns a word (or None).

    A ``str`` Series is built from the codes (a million rows, a few hundred distinct values: no million-string list).
    """
    codes, uniques = factorized(values)  # in the column's own dtype (Arrow: in C)
    words = [fn(u) for u in np.asarray(uniques.astype(object) if hasattr(uniques, "astype") else uniques, dtype=object)]
    known = np.array([w is not None for w in words] + [False], dtype=bool)
    codes = np.where(known[codes], codes, -1)
    return words_column([w if w is not None else "" for w in words], codes, values.index)


#: A decimal number Arrow's cast reads exactly as ``pd.to_numeric`` does (held equal in tests/test_read_fast.py); the
#: areas' pattern too.
_PLAIN_NUMBER = PLAIN_DECIMAL


def numbers_from_ascii(text: pa.ChunkedArray, index: pd.Index, plain=None) -> pd.Series:
    """``pd.to_numeric(text, errors="coerce")`` as float64 for ASCII text, plain decimals parsed by Arrow.

    Parameters
    ----------
    text : Arrow text, every value plain ASCII (null: missing)
    index : the index of the Series returned
    plain : ``pc.match_substring_regex(text, _PLAIN_NUMBER)`` when the caller has it already

    Returns
    -------
    pd.Series : float64; text that is not a number is NaN. Values that are not plain decimals
        (``inf``, ``+1``, ``0x1``...) are parsed by ``pd.to_numeric`` itself, once per distinct value.
    """
    plain = pc.fill_null(pc.match_substring_regex(text, _PLAIN_NUMBER) if plain is None else plain, False)
    out = np.full(len(text), np.nan)
    mask = plain.to_numpy(zero_copy_only=False)
    if mask.any():
        out[mask] = pc.cast(pc.filter(text, plain), pa.float64()).to_numpy(zero_copy_only=False)
    rest = ~mask & pc.fill_null(pc.not_equal(text, ""), False).to_numpy(zero_copy_only=False)
    if rest.any():
        odd = pd.Series(pc.filter(text, pa.array(rest)).to_numpy(zero_copy_only=False), dtype=object)
        codes, uniques = pd.factorize(odd)
        out[rest] = pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce").astype("float64").to_numpy()[codes]
    return pd.Series(out, index=index, dtype="float64")


def to_number(values: pd.Series) -> pd.Series:
    """Numbers from a register column as float64.

    Thousands separators, spaces, ``£``, ``%`` and a trailing unit (m2, sqm, ha) are dropped; text that
    is still not a number becomes NaN. A column of plain-ASCII text is cleaned and parsed by Arrow's
    kernels (the same rules); any other through pandas.
    """
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    got = _ascii_text(values)
    if got is not None and got[1].all():
        text = pc.replace_substring_regex(got[0], f"[,%{ASCII_SPACE}]", "")
        return numbers_from_ascii(pc.replace_substring_regex(text, r"(?i)(m2|sqm|ha)$", ""), values.index)
    s = values.astype("string").str.replace(r"[,\s£%]", "", regex=True).str.replace(r"(?i)(m2|sqm|ha)$", "", regex=True)
    return pd.to_numeric(s, errors="coerce").astype("float64")


def to_date(values: pd.Series) -> pd.Series:
    """Parse ISO and UK day-first dates; unparseable values become missing (the source column keeps them)."""
    if isinstance(values.dtype, pd.StringDtype):  # distinct texts found first, then stripped (no stripped copy per row)
        raw_codes, raw = pd.factorize(values)
        sub_codes, uniques = pd.factorize(pd.Series(raw).astype("string").str.strip())
        codes = np.full(len(values), -1, dtype=np.intp)
        known = raw_codes >= 0
        codes[known] = sub_codes[raw_codes[known]]
    else:
        codes, uniques = pd.factorize(values.astype("string").str.strip())  # parse each distinct text once
    u = pd.Series(uniques, dtype="string")
    iso = pd.to_datetime(u, errors="coerce", format="ISO8601")
    if (iso.isna() & (u != "")).any():  # some text is not an ISO date: UK day-first forms tried (one by one, slow)
        iso = iso.fillna(pd.to_datetime(u, errors="coerce", dayfirst=True, format="mixed"))
    parsed = iso.dt.date.astype(object).where(iso.notna(), None).to_numpy(dtype=object)
    parsed = np.append(parsed, None)  # code -1 (missing) -> None
    return pd.Series(parsed[codes], index=values.index, dtype=object)


class _Columns(dict):
    """Canonical columns being built: reading a column not yet set gives its missing value."""

    def __init__(self, n: int, index: pd.Index):
        super().__init__()
        self.n, self.index = n, index

    def __missing__(self, name: str) -> pd.Series:
        return empty_asset_frame(self.n, columns=[name])[name].set_axis(self.index)

    def __setitem__(self, name: str, values) -> None:
        if isinstance(values, str) and self.n:  # one word on every row: the str column pandas would infer, made in Arrow
            values = str_series(pa.repeat(pa.scalar(values, pa.large_string()), self.n), self.index)
        elif np.isscalar(values):
            values = np.full(self.n, values, dtype=object)
        super().__setitem__(name, values if isinstance(values, pd.Series) else pd.Series(values, index=self.index))

    def frame(self, extra: dict[str, pd.Series]) -> pd.DataFrame:
        base = empty_asset_frame(self.n, columns=[c for c in ASSET_COLUMNS if c != "geometry" and c not in self])
        cols = {c: (self[c] if c in self else base[c].set_axis(self.index)) for c in ASSET_COLUMNS if c != "geometry"}
        cols.update((c, v) for c, v in self.items() if c not in cols)
        return pd.DataFrame({**cols, **extra}, index=self.index, copy=False)  # not consolidated: no copy of 1M x 60


#: Name cells that say there is no name.
_ADDRESS_LINE = re.compile(r"^(?:address|addr|add)(?:line)?(\d)$")


def address_line_columns(headers) -> list:
    """The headers of numbered address lines ("Address 1", "Address Line 2", "Addr3"), in line order."""
    found = [(int(m.group(1)), h) for h in headers if (m := _ADDRESS_LINE.match(fold(h)))]
    return [h for _, h in sorted(found, key=lambda t: t[0])]


_NO_NAME = ("unknown", "unnamed", "no name", "none", "n/a", "na", "-", "null", "not known", "yes", "no", "y", "n", "true", "false")


def canonical_frame(raw: pd.DataFrame, mapping: dict[str, str], *, source: str) -> pd.DataFrame:
    """Build the canonical asset columns from a raw table, keeping every source column as ``src_*``."""
    n = len(raw)
    mapping = with_area_columns(raw, mapping)  # "Area (acres)", "Size" with "1,200 sq ft" in its cells
    # Columns are gathered in a dict and the frame built once at the end (a full frame of missing
    # values filled column by column cost 0.6 s and a concatenation at a million rows).
    out = _Columns(n, raw.index)

    def col(name: str) -> pd.Series | None:
        return raw[mapping[name]] if name in mapping else None

    for name in ("organisation", "use", "condition", "visibility", "asset_id", "uprn"):
        c = col(name)
        if c is not None:
            out[name] = as_text(c)
    if col("name") is not None:  # map layers write "Unknown" where a feature has no name
        text = source_text(col("name"))  # what as_text gives, still Arrow text: tested before it becomes objects
        named = _objects(text)
        out["name"] = named.where(~text.str.lower().isin(_NO_NAME), None)
    lines = address_line_columns(raw.columns) if "address" not in mapping else []
    if col("address") is not None and mapping.get("address") != mapping.get("name"):
        out["address"] = as_text(col("address"))
    elif lines:  # "Address 1", "Address 2", ... and the town: one address
        parts = [as_text(raw[c]) for c in lines] + ([as_text(col("post_town"))] if col("post_town") is not None else [])
        joined = pd.Series([", ".join(v for v in vals if v) for vals in zip(*parts, strict=True)], index=raw.index, dtype=object)
        out["address"] = joined.where(joined != "", None).astype(object)
    else:
        parts = [as_text(col(p)) for p in ("street_number", "street_name", "post_town") if col(p) is not None]
        if parts:
            joined = pd.Series([", ".join(v for v in vals if v) for vals in zip(*parts, strict=True)], index=raw.index, dtype=object)
            # "105, Mainwood Road" reads better as "105 Mainwood Road"
            joined = joined.str.replace(r"^(\d+[A-Za-z]?), ", r"\1 ", regex=True)
            out["address"] = joined.where(joined != "", None).astype(object)
        elif col("address") is not None:
            out["address"] = as_text(col("address"))
    if out["name"].isna().all() and not out["address"].isna().all():
        out["name"] = out["address"]
    pc = col("postcode")
    if pc is not None:
        out["postcode"] = clean_postcodes(pc)[0]
    out["tenure"] = map_words(col("tenure"), normalise_tenure) if col("tenure") is not None else "unknown"
    out["holding_type"] = map_words(col("holding_type"), normalise_holding) if col("holding_type") is not None else "unknown"
    if col("holding_type") is None and col("use") is not None:
        out["holding_type"] = map_words(col("use"), holding_of_use)
    out["status"] = map_words(col("status_text"), normalise_status) if col("status_text") is not None else "unknown"
    surplus = surplus_elsewhere(raw, mapping)
    if surplus.any():
        status = out["status"].astype(object).to_numpy().copy()
        status[surplus & ~pd.Series(status).isin(_STATUS_KEPT).to_numpy()] = "surplus"
        out["status"] = pd.Series(status, index=raw.index).astype(out["status"].dtype)
    areas = {}
    for name in ("floor_area_m2", "site_area_ha", "empty_floor_pct", "underused_floor_pct"):
        c = col(name)
        if c is not None and name in AREA_TARGET:  # an area with its unit in the cell or the header
            out[name], areas[name] = area_column(c, name, mapping[name])
        elif c is not None:
            out[name] = to_number(c)
    void = col("empty_floor_area")
    if void is not None and col("empty_floor_pct") is None:
        out["empty_floor_pct"], areas["empty_floor_area"] = empty_share(void, mapping["empty_floor_area"],
                                                                         out["floor_area_m2"])
    for name in ("source_date", "vacant_since"):
        c = col(name)
        if c is not None:
            out[name] = to_date(c)
    at = col("anchor_type")
    out["anchor_type"] = (as_text(at).fillna("other") if at is not None
                          else map_words(out["organisation"], anchor_type_of))
    out["source"] = source
    # A register without a Visibility column is a published one (public); in a register with one, a blank
    # or unclear cell is internal (fail closed).
    vis = col("visibility")
    out["visibility"] = map_words(as_text(vis), normalise_visibility) if vis is not None else "public"
    src: dict[str, pd.Series] = {}
    for c in raw.columns:
        if c == "geometry":
            continue
        name = SOURCE_PREFIX + str(c)
        while name in ASSET_COLUMNS or name in out or name in src:
            name += "_"
        src[name] = source_exact(raw[c]) if not pd.api.types.is_numeric_dtype(raw[c]) else raw[c]
    frame = out.frame(src)
    frame.attrs["area_units"] = areas
    return frame
