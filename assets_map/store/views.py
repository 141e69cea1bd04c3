"""What the public may see: an allow-list of columns, per-asset and per-field.

Four rules:

* only assets whose ``visibility`` is ``public`` and that are still in the register;
* only the columns in :data:`PUBLIC_FIELDS` (shown unless the owner hides them on an
  asset) and :data:`OPTIONAL_FIELDS` (hidden unless the owner shows them);
* never a column in :data:`LOCKED_INTERNAL` (rent, valuation, disposal plans, every
  ``src_`` column the owner imported): these cannot be made public at all;
* hidden means hidden: every derived value the public sees (need area, exclusion,
  scores, priority, reasons) is computed by the engine from the public fields only
  (:func:`public_records`), with a source label that names no file, when the asset is
  written. Hiding a derived field withholds the derived fields that restate it
  (:data:`DEPENDENT`).

The public records are kept in the ``public_records`` table, one per public asset and
version; the SQL view ``public_assets`` and every public read in Python
(:meth:`~assets_map.store.base.Store.assets`, ``get``, ``register_analysis``) read them
through the same view, so the two cannot disagree.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np

from assets_map.io.normalise import normalise_visibility
from assets_map.schema import ASSET_FIELDS, SOURCE_PREFIX

PUBLIC_FIELDS: tuple[str, ...] = (
    "asset_id", "organisation", "anchor_type", "name", "address", "postcode", "uprn", "tenure", "holding_type",
    "use", "status", "floor_area_m2", "site_area_ha", "empty_floor_pct", "underused_floor_pct", "vacant_since",
    "location_quality", "source_date", "need_area_code", "need_area_name", "imd_decile", "iod_year", "need_score",
    "need_decile", "excluded", "exclusion_reason", "underuse_score", "underuse_confidence", "transfer_score",
    "priority", "reasons", "constraints", "contact_route", "geometry",
)
#: Internal unless the owner shows them on an asset.
OPTIONAL_FIELDS: tuple[str, ...] = ("condition", "notes")
#: Fields that can never be public (besides every ``src_`` column).
LOCKED_INTERNAL: tuple[str, ...] = ("rent", "valuation", "disposal_plans")
_LOCKED_RE = re.compile(r"rent|valuation|value|price|disposal|sale", re.I)

#: What the engine derives from the asset's location and the need areas.
NEED_GROUP: tuple[str, ...] = ("need_area_code", "need_area_name", "imd_decile", "iod_year", "need_score",
                               "need_decile")
#: Every field the engine derives (the rest are the owner's own).
DERIVED: tuple[str, ...] = NEED_GROUP + ("excluded", "exclusion_reason", "underuse_score", "underuse_confidence",
                                         "transfer_score", "priority", "reasons", "constraints")
#: Evidence from published datasets (NHS ERIC, brownfield land registers) that is no field of the
#: public view but that the public score may read: its only public trace is the reasons it gives.
PUBLIC_EVIDENCE: tuple[str, ...] = ("land_idle_ha", "brownfield_ref")
#: How public reasons name an exclusion layer (its label is the name of the file it was read from).
PUBLIC_LAYER_LABEL = "a greenspace or allotment layer"

#: Hiding the key withholds the fields that restate it. The owner's own fields need no entry here:
#: the public derivations are computed without them. The need area is one group (the IMD decile is
#: the need decile with default weights), and a hidden location hides it too.
DEPENDENT: dict[str, tuple[str, ...]] = {
    **{f: tuple(g for g in NEED_GROUP if g != f) for f in NEED_GROUP},
    "geometry": NEED_GROUP,
    "excluded": ("exclusion_reason", "priority", "reasons"),
    "exclusion_reason": ("reasons",),
    "underuse_score": ("priority", "reasons"),
    "underuse_confidence": ("reasons",),
    "transfer_score": ("reasons",),
    "priority": ("reasons",),
}
#: Bump when the rules that make a public record change: stores then recompute every public record.
RULES_VERSION = "3"  # 3: an internally excluded asset stays excluded publicly

VIEW_FIELDS: tuple[str, ...] = tuple(f for f in PUBLIC_FIELDS if f != "geometry") + OPTIONAL_FIELDS
#: The owner's fields the public derivations may read (when shown).
INPUT_FIELDS: tuple[str, ...] = tuple(f for f in VIEW_FIELDS if f not in DERIVED and f != "asset_id")
_KIND = {f.name: f.kind for f in ASSET_FIELDS}
VISIBILITIES = ("public", "internal")

__all__ = ["DEPENDENT", "DERIVED", "LOCKED_INTERNAL", "NEED_GROUP", "OPTIONAL_FIELDS", "PUBLIC_FIELDS", "VIEW_FIELDS",
           "VISIBILITIES", "is_locked", "normalise_visibility", "public_record", "public_records", "public_view_sql",
           "shown_fields"]


def is_locked(field: str) -> bool:
    """True for fields that may never be public."""
    return (field.startswith(SOURCE_PREFIX) or field in LOCKED_INTERNAL
            or (field not in PUBLIC_FIELDS and field not in OPTIONAL_FIELDS and bool(_LOCKED_RE.search(field))))


def _hidden_parents(field: str) -> list[str]:
    return [k for k, deps in DEPENDENT.items() if field in deps]


def _default(field: str) -> str:
    return "public" if field in PUBLIC_FIELDS else "internal"


def shown_fields(field_visibility: Mapping[str, str] | None) -> list[str]:
    """The fields (geometry included) the public sees of one public asset."""
    fv = dict(field_visibility or {})
    fv.pop("asset_id", None)  # the identifier is always shown
    return list(_shown(tuple(sorted((str(k), str(v)) for k, v in fv.items()))))


@functools.lru_cache(maxsize=1024)
def _shown(choices: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """:func:`shown_fields` of one set of choices (registers repeat a few sets: computed once each)."""
    fv = dict(choices)
    shown = []
    for f in PUBLIC_FIELDS + OPTIONAL_FIELDS:
        if fv.get(f, _default(f)) != "public":
            continue
        if any(fv.get(p, _default(p)) != "public" for p in _hidden_parents(f)):
            continue
        shown.append(f)
    return tuple(shown)


def public_record(record: Mapping[str, Any], field_visibility: Mapping[str, str] | None) -> dict[str, Any]:
    """The shown fields of a public record (missing ones as None); geometry excluded."""
    shown = set(shown_fields(field_visibility))
    return {f: (record.get(f) if f in shown else None) for f in VIEW_FIELDS}


def public_records(records: Sequence[Mapping[str, Any]], geoms: Sequence, field_visibilities: Sequence[Mapping],
                   *, needs: gpd.GeoDataFrame, exclude: Sequence[tuple[str, gpd.GeoDataFrame]] = (),
                   weights: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """What the public sees of each asset: its shown fields, and every derived field recomputed from them.

    The engine (:func:`assets_map.engine.pipeline.join_needs` and :func:`assets_map.engine.pipeline.score`,
    the one scoring implementation) runs on a copy of each record that holds only what the
    public may see: hidden fields blank, no location when the location is hidden (so no need
    area either), no file name (the reasons cite "source: <organisation>, <date>") and
    exclusion layers under a label that names no file. Derived fields the owner hid, and the
    fields restating them, are then withheld.

    Parameters
    ----------
    records : stored records (JSON-safe dicts, as :func:`assets_map.store.codec.row_record` gives)
    geoms : the geometry of each record (EPSG:27700) or None
    field_visibilities : each asset's field visibility choices
    needs, exclude, weights : the context the asset's organisation imported with

    Returns
    -------
    list of dict
        One record per asset with every field of :data:`VIEW_FIELDS` (None where not shown),
        JSON-safe.
    """
    from assets_map.engine.pipeline import join_needs, score
    from assets_map.store import codec

    shown = [set(shown_fields(fv)) for fv in field_visibilities]
    rows, where = [], []
    for rec, geom, sh in zip(records, geoms, shown, strict=True):
        row = {f: (rec.get(f) if f in sh else None) for f in INPUT_FIELDS}
        row.update({f: rec.get(f) for f in PUBLIC_EVIDENCE})
        placed = geom is not None and "geometry" in sh
        row["source"] = None
        row["location_note"] = None
        if not placed:
            row["location_quality"] = "none"
            row["location_note"] = "its location is not published" if geom is not None else "it has no location"
        rows.append(row)
        where.append(geom if placed else None)
    if not rows:
        return []
    frame = codec.records_frame(rows, where)
    if needs.crs is not None and not needs.crs.equals(frame.crs):
        needs = needs.to_crs(frame.crs)
    joined = join_needs(frame, needs)
    blank = np.array([not set(NEED_GROUP) <= sh for sh in shown], dtype=bool)
    if blank.any():
        for c in NEED_GROUP:
            col = joined[c].astype(object).copy()
            col[blank] = None
            joined[c] = col
    layers = [(PUBLIC_LAYER_LABEL, g) for _, g in exclude]
    # The owner's full record may exclude an asset on a field the public cannot see (a hidden "park" use):
    # the public view then stays excluded, saying only that the reason is not published.
    withheld = np.array([rec.get("excluded") in (True, 1, "true", "True") for rec in records], dtype=bool)
    scored = score(joined, exclude=layers, weights=weights, withheld_exclusions=withheld)
    derived = {c: scored[c].astype(object).to_numpy() for c in DERIVED}
    out = []
    for i, (rec, sh) in enumerate(zip(records, shown, strict=True)):
        pub = {}
        for f in VIEW_FIELDS:
            if f not in sh:
                pub[f] = None
            elif f in derived:
                pub[f] = codec.json_value(derived[f][i])
            else:
                pub[f] = rec.get(f)
        pub["asset_id"] = rec.get("asset_id")
        out.append(pub)
    return out


def public_view_sql(*, attr: Callable[[str, str], str], fv: Callable[[str], str], geom: str = "a.geom",
                    replace: bool = False) -> str:
    """``CREATE VIEW public_assets`` for a dialect: public assets joined to their current public record.

    Parameters
    ----------
    attr : (field, kind) -> SQL expression reading that field of the public record (``p.record``)
    fv : field -> SQL expression reading its entry of the asset's ``a.field_visibility`` (NULL when unset)
    replace : ``CREATE OR REPLACE VIEW`` (PostgreSQL keeps the grants on the view)
    """
    def shown(f: str) -> str:
        cond = [f"COALESCE({fv(f)}, '{_default(f)}') = 'public'"]
        cond += [f"COALESCE({fv(p)}, '{_default(p)}') = 'public'" for p in _hidden_parents(f)]
        return " AND ".join(cond)

    cols = ["a.asset_id AS asset_id"]
    for f in VIEW_FIELDS[1:]:
        cols.append(f"CASE WHEN {shown(f)} THEN {attr(f, _KIND.get(f, 'text'))} END AS {f}")
    cols.append(f"CASE WHEN {shown('geometry')} THEN {geom} END AS geom")
    verb = "CREATE OR REPLACE VIEW" if replace else "CREATE VIEW"
    return (f"{verb} public_assets AS SELECT " + ",\n  ".join(cols)
            + "\nFROM assets a JOIN public_records p ON p.asset_id = a.asset_id AND p.version = a.version"
            + "\nWHERE a.visibility = 'public' AND a.removed = 0")
