"""The site card: everything a community group needs to know about one site.

Why it is flagged (each reason with its source, date and confidence), who owns
it and how to reach them, tenure, holding, size, status, how well it is
placed, the need of the area around it (the LSOA's deciles by domain), other
anchors' assets nearby, and the routes to community ownership that apply to
that kind of owner (from :mod:`assets_map.community.routes`), in plain words. Values are
returned as plain text: the caller escapes them for whatever it draws. The
printable site pack is :mod:`assets_map.community.sitepack`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from assets_map.community.routes import MAP_CANNOT, Route, routes_for
from assets_map.engine.constraints import ConstraintLine, site_constraints
from assets_map.engine.needs import DOMAIN_LABELS
from assets_map.engine.parcels import FROM_PARCEL, SITE_AREA_FROM_PARCEL
from assets_map.engine.priority import REASON_SEP
from assets_map.engine.underuse import SIGNALS
from assets_map.schema import value_words

#: Plain-words meaning of each priority, for readers new to the idea.
PRIORITY_MEANING = {
    "High": "strong evidence that the site is not fully used, in one of the 30% most deprived areas of England",
    "Medium": "some evidence of underuse in a deprived area, or strong evidence in a middling area",
    "Low": "some evidence of underuse, but in a less deprived area or where need could not be assessed",
    "not flagged": "no evidence of underuse in the data, or land that is never flagged (parks, allotments, community use)",
}

LOCATION_MEANING = {
    "surveyed": "drawn as a site outline by the owner (most precise)",
    "register coordinates": "a point from the owner's register",
    "full postcode": "placed at the centre of its postcode (usually within about 100 m)",
    "postcode district": "placed only by postcode district (can be kilometres out)",
    "none": "not placed on the map: the register gives no usable location",
}

CONTACT_HINTS = ("contact", "email", "e_mail", "phone", "telephone", "website", "organisationuri", "url")


@dataclass
class Reason:
    """One reason on the card: the statement, where it comes from, when, and how sure it is."""

    kind: str  # priority | underuse | need | transfer | not flagged
    text: str
    source: str
    date: str
    confidence: str


@dataclass
class SiteCard:
    """Plain-text facts of one site, ready for any renderer."""

    asset_id: str
    title: str
    priority: str
    priority_meaning: str
    facts: list[tuple[str, str]]
    reasons: list[Reason]
    contact: str
    need_area: str
    domains: pd.DataFrame
    nearby: pd.DataFrame
    nearby_m: float
    routes: list[Route]
    cannot: tuple[str, ...]
    constraints: str
    notes: list[str] = field(default_factory=list)
    #: the site's answer for every planning constraint kind (inside, near, clear, not checked)
    constraint_lines: list[ConstraintLine] = field(default_factory=list)


def _blank(v) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)) or \
        (isinstance(v, str) and not v.strip())


def _txt(v, default: str = "not recorded") -> str:
    if _blank(v):
        return default
    if isinstance(v, float):
        return f"{v:,.2f}".rstrip("0").rstrip(".")
    return str(v)


def _date(v) -> str:
    if _blank(v):
        return "date not stated"
    return v.isoformat() if hasattr(v, "isoformat") else str(v)


def _cap(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:]


_SIGNAL_WORDS = [("declared surplus", "surplus"), ("as vacant", "vacant"), ("partly vacant", "part-vacant"),
                 ("reported empty", "empty_floor"), ("reported under-used", "underused_floor"),
                 ("not delivering services", "idle_land"), ("brownfield", "brownfield"),
                 ("vacant since", "vacancy_duration"), ("buildings cover", "low_coverage")]


def reasons_of(row: pd.Series, *, settings: dict | None = None) -> list[Reason]:
    """Split a site's ``reasons`` text into reasons, each with source, date and confidence."""
    settings = settings or {}
    fictional = "fictional" in str(settings.get("label", "")).lower()
    register = f"{_txt(row.get('organisation'), 'owner')} register ({_txt(row.get('source'), 'file not named')})"
    reg_date = _date(row.get("source_date"))
    out = []
    for text in str(row.get("reasons") or "").split(REASON_SEP):
        text = text.strip()
        if not text:
            continue
        if text.startswith("Underuse:"):
            body = re.sub(r"\s*\[\+[0-9.]+\]$", "", text[len("Underuse:"):].strip())
            m = re.search(r"\(source: (.*), (\d{4}-\d{2}-\d{2}|date not stated)\)", body)
            source, date = (m.group(1), m.group(2)) if m else (register, reg_date)
            if m:
                body = body[:m.start()].rstrip()
            key = next((k for w, k in _SIGNAL_WORDS if w in body), None)
            conf = SIGNALS[key].confidence if key else "low"
            out.append(Reason("underuse", _cap(body), source, date, conf))
        elif text.startswith("Need:"):
            year = row.get("iod_year")
            src = settings.get("deprivation_source") or "the deprivation data loaded"
            label = f"English Indices of Deprivation {int(year)}" if not _blank(year) else "deprivation data"
            out.append(Reason("need", _cap(text[len("Need:"):]), f"{label} ({src})",
                              str(int(year)) if not _blank(year) else "year not stated",
                              "none: fictional demo scores" if fictional else "high (official statistics)"))
        elif text.startswith("Transfer:"):
            out.append(Reason("transfer", _cap(text[len("Transfer:"):]), register, reg_date,
                              "medium (as the register records tenure and status)"))
        elif text.startswith("Not flagged"):
            out.append(Reason("not flagged", text, "assets-map, from the " + register, reg_date,
                              _txt(row.get("underuse_confidence"), "none")))
        else:
            out.append(Reason("priority", text, "assets-map: underuse evidence combined with need", reg_date,
                              _txt(row.get("underuse_confidence"), "none")))
    return out


#: Labels of an organisation's estates contact route, as the register holds it (store.CONTACT_FIELDS).
CONTACT_LABELS = {"email": "e-mail", "phone": "phone", "web_page": "estates web page",
                  "transfer_policy": "community asset transfer policy"}
# Linked-data identifiers name an organisation for machines; they are not a way to reach anyone.
_LINKED_DATA = re.compile(r"^https?://(?:[^/]*\b(?:opendatacommunities\.org|statistics\.data\.gov\.uk|"
                          r"data\.ordnancesurvey\.co\.uk|id\.[^/]+)/|[^/]+/(?:id|def)/)", re.I)


@dataclass
class OwnerContact:
    """How to reach a site's owner: the estates contact set in the register, else what is known.

    ``lines`` are (label, value) pairs in plain text; ``set_in_register`` says whether the owner's
    estates contact route is set in the register.
    """

    organisation: str
    lines: list[tuple[str, str]]
    set_in_register: bool

    def text(self) -> str:
        """The contact in one sentence (plain text)."""
        body = "; ".join(f"{k}: {v}" for k, v in self.lines)
        if self.set_in_register:
            return f"{self.organisation} estates team: {body}"
        known = f" What is known: {body}." if body else ""
        return (f"No estates contact is set for {self.organisation} in the register.{known} Ask its estates "
                "(property) team through its main switchboard or website.")


def _is_link(v: str) -> bool:
    return bool(re.match(r"^https?://", v.strip(), re.I))


def owner_contact(row: pd.Series, contacts: dict | None = None) -> OwnerContact:
    """How to reach the owner of ``row``.

    Its organisation's estates contact from the register (``contacts``: organisation -> fields, as
    :meth:`assets_map.store.Store.contacts` gives) and the site's own contact route; else what is
    known (the owner's name, and the e-mail, phone or website the register's columns give), never a
    linked-data identifier such as an OrganisationURI.
    """
    owner = _txt(row.get("organisation"), "the owner")
    wanted = owner.strip().casefold()
    found = next((v for k, v in (contacts or {}).items() if str(k).strip().casefold() == wanted), None)
    lines: list[tuple[str, str]] = []
    if found:
        lines = [(CONTACT_LABELS[k], str(found[k])) for k in CONTACT_LABELS if not _blank(found.get(k))]
    if not _blank(row.get("contact_route")):
        lines.append(("for this site", str(row["contact_route"]).strip()))
    if found and lines:
        return OwnerContact(owner, lines, True)
    seen = {v for _, v in lines}
    for col, v in row.items():
        c = str(col).lower()
        if c == "contact_route" or "uri" in c or not isinstance(v, str) or _blank(v) or not any(h in c for h in CONTACT_HINTS):
            continue
        v = " ".join(v.split())
        if v in seen or (_is_link(v) and _LINKED_DATA.match(v)):
            continue
        seen.add(v)
        label = ("website" if _is_link(v) else "e-mail" if "@" in v else
                 "phone" if any(h in c for h in ("phone", "tel")) else "contact")
        lines.append((label, v))
    if owner != "the owner":
        lines.insert(0, ("owner", owner))
    return OwnerContact(owner, lines, False)


def contact_route(row: pd.Series, contacts: dict | None = None) -> str:
    """How to contact the owner, in one sentence (see :func:`owner_contact`)."""
    return owner_contact(row, contacts).text()


def nearby_assets(assets: gpd.GeoDataFrame, asset_id: str, *, distance_m: float = 500.0,
                  other_owners: bool = True, limit: int | None = 20) -> pd.DataFrame:
    """Assets within ``distance_m`` metres of a site (edge to edge), nearest first.

    Parameters
    ----------
    assets : all assets, in a metric CRS (EPSG:27700)
    asset_id : the site
    distance_m : search distance in metres
    other_owners : only assets of other organisations (other anchors) when True
    limit : at most this many rows (None for all)

    Returns
    -------
    DataFrame with asset_id, name, organisation, anchor_type, status, priority, distance_m
    """
    cols = ["asset_id", "name", "organisation", "anchor_type", "status", "priority", "distance_m"]
    hit = assets.index[assets["asset_id"] == asset_id]
    if not len(hit):
        raise KeyError(asset_id)
    me = assets.loc[hit[0]]
    geom = me.geometry
    if geom is None or geom.is_empty:
        return pd.DataFrame(columns=cols)
    pos = assets.sindex.query(geom, predicate="dwithin", distance=distance_m)
    near = assets.iloc[pos]
    near = near[near["asset_id"] != asset_id]
    if other_owners:
        near = near[near["organisation"].astype(str) != str(me["organisation"])]
    out = pd.DataFrame(near[cols[:-1]]).copy()
    out["distance_m"] = near.geometry.distance(geom).round(0).to_numpy()
    out = out.sort_values(["distance_m", "asset_id"], ignore_index=True)
    return out.head(limit) if limit else out


def domain_deciles(needs: gpd.GeoDataFrame, code: str | None) -> pd.DataFrame:
    """The need area's deprivation by domain: decile (1 = most deprived 10%), rank and score."""
    cols = ["domain", "decile", "rank", "score"]
    if _blank(code) or "code" not in needs.columns:
        return pd.DataFrame(columns=cols)
    row = needs[needs["code"] == code]
    if row.empty:
        return pd.DataFrame(columns=cols)
    row = row.iloc[0]
    rows = []
    for d, label in DOMAIN_LABELS.items():
        vals = {m: row.get(f"{d}_{m}") for m in ("decile", "rank", "score")}
        if all(_blank(v) for v in vals.values()):
            continue
        rows.append({"domain": label,
                     "decile": None if _blank(vals["decile"]) else int(vals["decile"]),
                     "rank": None if _blank(vals["rank"]) else int(vals["rank"]),
                     "score": None if _blank(vals["score"]) else float(vals["score"])})
    return pd.DataFrame(rows, columns=cols)


def site_card(assets: gpd.GeoDataFrame, needs: gpd.GeoDataFrame, asset_id: str, *, nearby_m: float = 500.0,
              settings: dict | None = None) -> SiteCard:
    """Everything shown on one site's card (plain text; escape it when drawing HTML)."""
    hit = assets[assets["asset_id"] == asset_id]
    if hit.empty:
        raise KeyError(asset_id)
    row = hit.iloc[0]
    prio = _txt(row.get("priority"), "not flagged")
    size = []
    if not _blank(row.get("site_area_ha")):
        from_parcel = row.get("site_area_from") == SITE_AREA_FROM_PARCEL
        size.append(f"{float(row['site_area_ha']):,.2f} ha site"
                    + (" (the freehold parcel's area: approximate, not a title plan)" if from_parcel else ""))
    if not _blank(row.get("floor_area_m2")):
        size.append(f"{float(row['floor_area_m2']):,.0f} m² floor area")
    quality = _txt(row.get("location_quality"), "none")
    loc = LOCATION_MEANING["none"] if quality == "none" else f"{quality}: {LOCATION_MEANING.get(quality, '')}".rstrip(": ")
    if not _blank(row.get("location_note")):
        loc += f" ({row['location_note']})"
    facts = [
        ("Owner", _txt(row.get("organisation"))),
        ("Owner type", value_words("anchor_type", row.get("anchor_type"))),
        ("Address", _txt(row.get("address"))),
        ("Postcode", _txt(row.get("postcode"))),
        ("UPRN", _txt(row.get("uprn"))),
        ("Use", _txt(row.get("use"))),
        ("Status", value_words("status", row.get("status"))),
        ("Tenure", _txt(row.get("tenure"))),
        ("Holding", value_words("holding_type", row.get("holding_type"))),
        ("Size", "; ".join(size) if size else "not recorded"),
        ("Location", loc),
        ("Record date", _date(row.get("source_date"))),
        ("Asset id", _txt(row.get("asset_id"))),
    ]
    if not _blank(row.get("parcel_id")):
        area = "" if _blank(row.get("parcel_area_ha")) else f", {float(row['parcel_area_ha']):,.2f} ha"
        facts.insert(facts.index(("Location", loc)) + 1, (
            "Freehold parcel", f"INSPIRE ID {row['parcel_id']}{area} ({_txt(row.get('parcel_note'), '')})"
            + ("; planning constraints are tested on its outline and the catchment is measured from it"
               if row.get("constraints_measured_from") == FROM_PARCEL else "")))
    if not _blank(row.get("location_check")):
        facts.insert(facts.index(("Location", loc)) + 1, ("Location check", _cap(str(row["location_check"]))))
    if not _blank(row.get("vacant_since")):
        facts.insert(7, ("Vacant since", _date(row.get("vacant_since"))))
    code = row.get("need_area_code")
    need_area = "not in a need area (not placed, or outside the areas loaded)" if _blank(code) else \
        f"LSOA {code} {_txt(row.get('need_area_name'), '')}".strip()
    notes = []
    if row.get("excluded"):
        notes.append(f"Never flagged: {_txt(row.get('exclusion_reason'))}")
    notes += list(((settings or {}).get("acv") or {}).get(str(asset_id), []))  # ACV clocks (store.listings)
    return SiteCard(
        asset_id=str(asset_id),
        title=_txt(row.get("name"), str(asset_id)),
        priority=prio,
        priority_meaning=PRIORITY_MEANING.get(prio, ""),
        facts=facts,
        reasons=reasons_of(row, settings=settings),
        contact=contact_route(row, (settings or {}).get("contacts")),
        need_area=need_area,
        domains=domain_deciles(needs, None if _blank(code) else str(code)),
        nearby=nearby_assets(assets, asset_id, distance_m=nearby_m),
        nearby_m=nearby_m,
        routes=routes_for(row),
        cannot=MAP_CANNOT,
        constraints=_txt(row.get("constraints"), "not checked"),
        notes=notes,
        constraint_lines=site_constraints(row),
    )
