"""Assets of Community Value in the register: a council's list imported, matched to sites, clocks per site.

ACV lists are public registers, so every listing is public; its match to a site is shown only
to those who may see that site. A new listing, or a new notification to sell, tells the
followers of the site it matches (with a medium confidence or better).
"""
from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pandas as pd
import shapely

from assets_map.community.acv import DATE_FIELDS, MATCH_FIELDS, PLANNING_FIELDS, AcvList, acv_clocks, match_listings
from assets_map.schema import MEASURE_CRS
from assets_map.store import base, casework, codec, notify
from assets_map.store.base import Json, Store
from assets_map.store.roles import NotAllowed, Role

#: Matches this sure or surer are linked to the site (card, case, pack, followers); weaker ones are listed for checking.
LINKED = ("certain", "high", "medium")


def _record(rec: dict, geom) -> dict:
    out = {f: rec.get(f) for f in PLANNING_FIELDS + MATCH_FIELDS if rec.get(f) is not None}
    for f in DATE_FIELDS:
        if isinstance(out.get(f), dt.date):
            out[f] = out[f].isoformat()
    if geom is not None and not geom.is_empty:
        out["location_27700"] = shapely.to_wkt(geom, rounding_precision=2)
    return codec.json_value(out)


def import_listings(store: Store, acv: AcvList, *, role: Role) -> pd.DataFrame:
    """Store a list (new listings added, listed ones updated), matched to the sites ``role`` may see.

    Returns the matches (:func:`assets_map.community.acv.match_listings`) with ``change``
    (new, updated, unchanged) per listing. Followers of a linked site hear of a new listing and of a
    new notification to sell.
    """
    if role.kind not in ("editor", "admin"):
        raise NotAllowed(f"{role.user} may not import a list of assets of community value (editors and admins may)")
    casework.ensure(store)
    matches = match_listings(acv.frame, store.assets(role)).set_index("reference")
    recs = acv.frame.drop(columns="geometry").to_dict("records")
    now = casework.now()
    told = []
    changes = []
    with store._write() as tx:
        old = {r[0]: codec.loads(r[1]) for r in tx.q("SELECT reference, record FROM acv_listings")}
        for rec, geom in zip(recs, acv.frame.geometry, strict=True):
            ref = str(rec["reference"])
            new = _record(rec, geom)
            m = matches.loc[ref]
            link = m["asset_id"] if m["confidence_words"] in LINKED else None
            before = old.get(ref)
            change = "new" if before is None else ("unchanged" if before == new else "updated")
            changes.append(change)
            tx.x("DELETE FROM acv_listings WHERE reference = ?", [ref])
            tx.x("INSERT INTO acv_listings (reference, record, asset_id, confidence, confidence_words, evidence, "
                 "source_name, imported_at, imported_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 [ref, Json(new), m["asset_id"], float(m["confidence"]), m["confidence_words"], m["evidence"],
                  acv.source, now, role.user])
            if link and (before is None or (new.get("notification-to-sell-date")
                                            and new.get("notification-to-sell-date") !=
                                            (before or {}).get("notification-to-sell-date"))):
                told.append((link, ref, new))
    for asset_id, ref, new in told:
        _tell(store, asset_id, ref, new)
    out = matches.reset_index()
    out["change"] = changes
    return out


def _tell(store: Store, asset_id: str, ref: str, rec: dict) -> None:
    clocks = acv_clocks(rec, today=dt.date.today())
    notified = rec.get("notification-to-sell-date")

    def message(role: Role):
        site = store.get(asset_id, role) or {}
        name = site.get("name") or f"site {asset_id}"
        if notified:
            first = next((c for c in clocks if c.key == "interim-moratorium"), None)
            tail = f" {first.line()}" if first else ""
            return (f"{name}: the owner has given notice to sell",
                    f"{name} is listed as an asset of community value ({ref}); its owner notified the council of "
                    f"an intention to sell on {notified}.{tail}")
        lines = " ".join(c.line() for c in clocks)
        return (f"{name}: {rec.get('decision') or 'nominated'} as an asset of community value",
                f"{name} is on the council's list of assets of community value ({ref}). {lines}".strip())

    key = f"acv:{ref}:{notified or rec.get('decision') or 'nominated'}"
    notify.post(store, asset_id, kind="acv", source_key=key, message=message)


def for_site(store: Store, asset_id: str, *, role: Role, today: dt.date | None = None) -> list[dict]:
    """The listings linked to a site ``role`` may see, each with its clocks (:class:`~assets_map.community.acv.Clock`)."""
    if not casework.has_tables(store) or store.get(asset_id, role) is None:
        return []
    with store._read() as tx:
        rows = tx.q("SELECT reference, record, confidence_words, evidence FROM acv_listings WHERE asset_id = ? "
                    "ORDER BY reference", [asset_id])
    out = []
    for ref, rec, words, evidence in rows:
        if words not in LINKED:
            continue
        rec = codec.loads(rec)
        out.append({"reference": ref, "record": rec, "confidence_words": words, "evidence": evidence,
                    "clocks": acv_clocks(rec, today=today or dt.date.today())})
    return out


def stored_list(store: Store, source: str = "assets-of-community-value.csv") -> AcvList:
    """Every stored listing as an :class:`AcvList` (to write in the planning.data.gov.uk layout)."""
    rows = []
    if casework.has_tables(store):
        with store._read() as tx:
            rows = [codec.loads(r[0]) for r in tx.q("SELECT record FROM acv_listings ORDER BY reference")]
    frame = pd.DataFrame([{f: r.get(f) for f in PLANNING_FIELDS + MATCH_FIELDS} for r in rows],
                         columns=list(PLANNING_FIELDS + MATCH_FIELDS))
    for f in DATE_FIELDS:
        frame[f] = [dt.date.fromisoformat(v) if v else None for v in frame[f]]
    geoms = [shapely.from_wkt(r["location_27700"]) if r.get("location_27700") else None for r in rows]
    return AcvList(gpd.GeoDataFrame(frame, geometry=geoms, crs=MEASURE_CRS), list(PLANNING_FIELDS),
                   "planning.data.gov.uk", source)


def clock_lines(store: Store, role: Role, asset_ids: list[str]) -> dict[str, list[str]]:
    """Each listed site's ACV lines for the site card and pack: asset_id -> lines (listing, then each clock).

    Only sites in ``asset_ids`` (those ``role`` sees) with a linked listing; the lines carry dates,
    not days left, so they hold whenever they are read.
    """
    if not asset_ids or not casework.has_tables(store):
        return {}
    wanted = set(asset_ids)
    with store._read() as tx:
        rows = tx.q("SELECT reference, record, asset_id, confidence_words FROM acv_listings WHERE asset_id IS NOT NULL "
                    "ORDER BY reference")
    out: dict[str, list[str]] = {}
    for ref, rec, asset_id, words in rows:
        if asset_id not in wanted or words not in LINKED:
            continue
        rec = codec.loads(rec)
        decision = rec.get("decision") or "nominated, not yet decided"
        lines = out.setdefault(asset_id, [])
        lines.append(f"Asset of Community Value: listing {ref} ({decision}) on the council's list.")
        lines += [c.line() for c in acv_clocks(rec)]
    return out


base.ANALYSIS_EXTRAS.setdefault("acv", clock_lines)
