"""Owners by name: organisation codes and URIs resolved to names, the code kept.

Registers name their owner in many ways: a label ("Trafford Council"), a linked-data URI
(``http://opendatacommunities.org/id/metropolitan-district-council/trafford``,
``http://statistics.data.gov.uk/id/statistical-geography/E08000009``), a GSS code
(``E08000009``), an older ONS code (``00BU``, ``23UB``), an NHS ODS code (``RXG``) or a
planning.data.gov.uk organisation (``local-authority-eng:TRF``). A code is never shown as the
owner: it is looked up in the lookups given (any table with a code column and a name column,
such as the ONS local authority lookups ``LAD24CD``/``LAD24NM`` or ``LAD09CD``/``LAD09CDO``/``LAD09NM``,
NHS trust lists, the ``ltla24_code``/``ltla24_name`` lookups), a URI is read for the name or code
it carries, and what cannot be resolved is said in words ("Local authority 23UB") with the kind
of owner the code implies, so the route to ownership is still the right one. The code is kept
in ``organisation_code``.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

import pandas as pd

from assets_map.io.normalise import anchor_type_of, fold
from assets_map.io.report import ImportReport, InputError

#: GSS codes of local authorities: E06/E07/E08/E09 (England), E10 (counties), W06, S12, N09
_GSS_LA = re.compile(r"^(?:E0[6-9]|E10|W06|S12|N09)\d{6}$")
_GSS = re.compile(r"^[EWSNK]\d{8}$")
#: older ONS codes: a county ("23"), a district ("23UB"), a metropolitan or London borough ("00BU")
_ONS_OLD = re.compile(r"^\d{2}(?:[A-Z]{2})?$")
#: NHS ODS codes of trusts (R + 2, T + 2) and their sites (5 characters)
_ODS = re.compile(r"^(?:R[A-Z0-9]{2}|T[A-Z0-9]{2})(?:[A-Z0-9]{2})?$")
#: planning.data.gov.uk organisations: "local-authority-eng:TRF", "government-organisation:D1342"
_CURIE = re.compile(r"^(?P<prefix>[a-z][a-z-]+):(?P<ref>[A-Za-z0-9-]+)$")
_URI = re.compile(r"^https?://", re.I)

#: what a code's kind says about its owner: words to show, anchor type
_KIND_WORDS = {"local authority": ("Local authority", "council"), "nhs": ("NHS organisation", "nhs"),
               "organisation": ("Organisation", "other")}
#: opendatacommunities.org organisation types -> the words of the name
_ODC_TYPES = {"metropolitan-district-council": "Metropolitan Borough Council", "london-borough-council": "London Borough Council",
              "unitary-authority": "Council", "non-metropolitan-district-council": "District Council",
              "district-council": "District Council", "county-council": "County Council"}


def code_kind(text: object) -> str | None:
    """What an organisation cell is when it is not a name, or None for a name.

    One of ``"local authority"``, ``"nhs"``, ``"nhs if named"`` (``R`` and two letters: a trust's code only
    when a lookup names it, else an abbreviation such as RAF), ``"uri"`` or ``"organisation"`` (a
    planning.data.gov.uk reference to another body).
    """
    if not isinstance(text, str):
        return None
    s = text.strip()
    if _URI.match(s):
        return "uri"
    m = _CURIE.match(s)
    if m:
        return "local authority" if m.group("prefix").startswith("local-authority") else "organisation"
    if _GSS_LA.match(s) or _ONS_OLD.match(s):
        return "local authority"
    if _ODS.match(s) and any(ch.isdigit() for ch in s[1:]):
        return "nhs"
    if re.fullmatch(r"R[A-Z]{2}", s):  # "RXG" is a trust, "RAF" is not: named only when a lookup knows it
        return "nhs if named"
    return None


@dataclass
class OwnerLookup:
    """Codes -> names, from the lookups given; ``sources`` names the files they came from."""

    names: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def add_table(self, frame: pd.DataFrame, source: str) -> int:
        """Add every code -> name pair of a table's code and name columns; how many pairs were added.

        Columns pair by their stem: ``LAD24CD``/``LAD24NM``, ``LAD09CDO``/``LAD09NM``,
        ``ltla24_code``/``ltla24_name``, ``Organisation Code``/``Organisation Name``; a table with one
        code column and one name column pairs those.
        """
        codes: dict[str, list[str]] = {}
        names: dict[str, str] = {}
        for c in frame.columns:
            m = re.match(r"^(.*?)(cdo|cd|code|nm|name)$", fold(c)) if c != "geometry" else None
            if m and m.group(2) in ("nm", "name"):
                names.setdefault(m.group(1), c)
            elif m:
                codes.setdefault(m.group(1), []).append(c)
        pairs = [(code, names[stem]) for stem, cs in codes.items() if stem in names for code in cs]
        if not pairs and len(codes) == 1 and len(names) == 1 and len(next(iter(codes.values()))) == 1:
            pairs = [(next(iter(codes.values()))[0], next(iter(names.values())))]
        added = 0
        for code_col, name_col in pairs:
            sub = frame[[code_col, name_col]].astype("string").dropna()
            for code, name in zip(sub[code_col].str.strip().str.upper(), sub[name_col].str.strip(), strict=True):
                if code and name and code not in self.names:
                    self.names[code] = name
                    added += 1
        if added:
            self.sources.append(source)
        return added

    def name_of(self, code: str) -> str | None:
        """The name of a code (any case), or None."""
        return self.names.get(code.strip().upper())


def read_owner_lookups(paths, *, limits=None) -> OwnerLookup:
    """An :class:`OwnerLookup` from lookup files (tables or map layers with code and name columns).

    Raises
    ------
    InputError : a file with no pair of code and name columns
    """
    from assets_map.io.sources import excel_frame, open_table

    lookup = OwnerLookup()
    for p in paths or ():
        if isinstance(p, OwnerLookup):
            lookup.names.update({k: v for k, v in p.names.items() if k not in lookup.names})
            lookup.sources += p.sources
            continue
        t = open_table(p, limits=limits)
        if t.format.startswith("excel"):
            t = excel_frame(t)
        if lookup.add_table(t.frame, t.name) == 0:
            shown = ", ".join(repr(str(c)) for c in list(t.frame.columns)[:10])
            raise InputError("has no pair of code and name columns to name owners by (e.g. LAD24CD and LAD24NM, "
                             f"Organisation Code and Organisation Name); found {shown}", source=t.name)
    return lookup


def _from_uri(uri: str, lookup: OwnerLookup) -> tuple[str | None, str | None]:
    """(name, code) read from a linked-data URI: a GSS code it carries (looked up), else its last words."""
    path = unquote(urlparse(uri).path).rstrip("/")
    parts = [p for p in path.split("/") if p]
    code = next((p.upper() for p in reversed(parts) if _GSS.match(p.upper()) or _ODS.match(p.upper())), None)
    if code is not None:
        return lookup.name_of(code), code
    if len(parts) >= 2 and parts[-2] in _ODC_TYPES:
        return f"{parts[-1].replace('-', ' ').title()} {_ODC_TYPES[parts[-2]]}", None
    return None, None


def resolve_owners(out: pd.DataFrame, report: ImportReport, lookup: OwnerLookup | None = None) -> pd.DataFrame:
    """Replace organisation codes and URIs by names (in place, and returned); the code is kept in ``organisation_code``.

    A code that the lookups do not name is shown in words with its kind ("Local authority 23UB") and
    the owner's kind set from it, so its route is that of a council or an NHS body; the report lists
    every code resolved and every code left unnamed.
    """
    if "organisation" not in out.columns or out.empty:
        return out
    lookup = lookup or OwnerLookup()
    org = out["organisation"]
    # each distinct value as text, in order of first appearance (distinct values first: no million-string copy)
    values = list(dict.fromkeys(str(v) for v in pd.unique(org.dropna())))
    named: dict[str, tuple[str, str | None, str]] = {}  # value -> (shown, code, anchor type)
    unnamed: list[str] = []
    for v in values:
        kind = code_kind(v)
        if kind is None:
            continue
        if kind == "uri":
            name, code = _from_uri(v, lookup)
            if code is not None:
                kind = "local authority" if _GSS_LA.match(code) or _ONS_OLD.match(code) else "nhs"
            elif name is None:
                continue  # a URI that carries neither: left as given (it is still the organisation's identifier)
        else:
            code = v.strip()
            m = _CURIE.match(code)
            name = lookup.name_of(code) or (lookup.name_of(m.group("ref")) if m else None)
            if kind == "nhs if named":
                if name is None:
                    continue  # three capital letters no lookup knows: an abbreviation, left as given
                kind = "nhs"
        if name is not None:
            at = anchor_type_of(name)
            if at == "other" and kind in _KIND_WORDS:  # "Cheltenham" from an ONS lookup: say what it is
                at = _KIND_WORDS[kind][1]
                name = f"{name} ({_KIND_WORDS[kind][0].lower()})"
            named[v] = (name, code, at)
        else:
            words, at = _KIND_WORDS[kind]
            m = _CURIE.match(code)
            named[v] = (f"{words} {m.group('ref') if m else code}", code, at)
            unnamed.append(code)
    if not named:
        return out
    hit = org.isin(list(named))
    if "organisation_code" not in out.columns:
        out["organisation_code"] = None
    keys = org[hit].astype(str)
    out.loc[hit, "organisation"] = keys.map(lambda k: named[k][0]).to_numpy()
    blank_code = out["organisation_code"].isna() | (out["organisation_code"].astype("string").str.strip() == "")
    fill = hit & blank_code
    out.loc[fill, "organisation_code"] = org[fill].astype(str).map(lambda k: named[k][1]).to_numpy()
    if "anchor_type" in out.columns:
        at = out["anchor_type"].astype(object)
        redo = hit & (at.isna() | at.isin(["other", ""]))
        out.loc[redo, "anchor_type"] = org[redo].astype(str).map(lambda k: named[k][2]).to_numpy()
    rows = out["source_row"].astype(int).to_numpy() if "source_row" in out.columns else None
    resolved = {k: v for k, v in named.items() if v[1] not in unnamed}
    if resolved:
        shown = "; ".join(f"{k} -> {v[0]}" for k, v in list(resolved.items())[:4])
        report.add("fixed", f"organisation given as a code or URI, named from "
                            f"{', '.join(lookup.sources) or 'the URI itself'} ({shown}); the code is kept in "
                            "organisation_code",
                   rows[(org.isin(list(resolved))).to_numpy()] if rows is not None else ())
    if unnamed:
        report.add("warning", f"organisation given as a code that no lookup names ({', '.join(sorted(set(unnamed))[:5])}): "
                              "shown as its kind and code; give a lookup of codes and names (--owners FILE, e.g. the "
                              "ONS local authority lookup or an NHS trust list)",
                   rows[org.isin([k for k, v in named.items() if v[1] in unnamed]).to_numpy()] if rows is not None else ())
    return out


def owner_lookup_from(owners) -> OwnerLookup | None:
    """An :class:`OwnerLookup` from files, an OwnerLookup, or None."""
    if owners is None:
        return None
    if isinstance(owners, OwnerLookup):
        return owners
    if isinstance(owners, (str, os.PathLike)):
        owners = [owners]
    return read_owner_lookups(list(owners))


__all__ = ["OwnerLookup", "code_kind", "owner_lookup_from", "read_owner_lookups", "resolve_owners"]
