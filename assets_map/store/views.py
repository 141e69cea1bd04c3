"""What the public may see: an allow-list of columns, per-asset and per-field.

Three rules, applied where data is read (both in the SQL view ``public_assets``
and again in Python on every public read):

* only assets whose ``visibility`` is ``public`` and that are still in the register;
* only the columns in :data:`PUBLIC_FIELDS` (shown unless the owner hides them on an
  asset) and :data:`OPTIONAL_FIELDS` (hidden unless the owner shows them);
* never a column in :data:`LOCKED_INTERNAL` (rent, valuation, disposal plans, every
  ``src_`` column the owner imported): these cannot be made public at all.

Hiding a field that the reasons are written from (status, floor-area returns,
vacancy date) also hides the reasons and scores, which would otherwise repeat it.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from ..schema import ASSET_FIELDS, SOURCE_PREFIX

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

#: Hiding the key hides the derived fields that restate it.
DEPENDENT: dict[str, tuple[str, ...]] = {
    f: ("reasons", "priority", "underuse_score", "underuse_confidence")
    for f in ("status", "empty_floor_pct", "underused_floor_pct", "vacant_since")
}

VIEW_FIELDS: tuple[str, ...] = tuple(f for f in PUBLIC_FIELDS if f != "geometry") + OPTIONAL_FIELDS
_KIND = {f.name: f.kind for f in ASSET_FIELDS}
VISIBILITIES = ("public", "internal")


def is_locked(field: str) -> bool:
    """True for fields that may never be public."""
    return (field.startswith(SOURCE_PREFIX) or field in LOCKED_INTERNAL
            or (field not in PUBLIC_FIELDS and field not in OPTIONAL_FIELDS and bool(_LOCKED_RE.search(field))))


def normalise_visibility(value: Any) -> str:
    """``public`` or ``internal`` from what a register says; anything unclear is internal (fail closed)."""
    text = str(value).strip().lower() if value is not None else ""
    return "public" if text in ("public", "yes", "y", "true", "1", "published", "open") else "internal"


def _hidden_parents(field: str) -> list[str]:
    return [k for k, deps in DEPENDENT.items() if field in deps]


def shown_fields(field_visibility: Mapping[str, str] | None) -> list[str]:
    """The fields (geometry included) the public sees of one public asset."""
    fv = dict(field_visibility or {})
    fv.pop("asset_id", None)  # the identifier is always shown
    shown = []
    for f in PUBLIC_FIELDS + OPTIONAL_FIELDS:
        default = "public" if f in PUBLIC_FIELDS else "internal"
        if fv.get(f, default) != "public":
            continue
        if any(fv.get(p) == "internal" for p in _hidden_parents(f)):
            continue
        shown.append(f)
    return shown


def public_record(record: Mapping[str, Any], field_visibility: Mapping[str, str] | None) -> dict[str, Any]:
    """The public fields of one asset record (missing ones as None); geometry excluded."""
    return {f: (record.get(f) if f in set(shown_fields(field_visibility)) else None)
            for f in VIEW_FIELDS}


def public_view_sql(*, attr: Callable[[str, str], str], fv: Callable[[str], str], geom: str = "geom") -> str:
    """``CREATE VIEW public_assets`` for a dialect.

    Parameters
    ----------
    attr : (field, kind) -> SQL expression reading that field from ``attrs``
    fv : field -> SQL expression reading its entry of ``field_visibility`` (NULL when unset)
    """
    def shown(f: str) -> str:
        if f in PUBLIC_FIELDS:
            cond = [f"COALESCE({fv(f)}, 'public') = 'public'"]
        else:
            cond = [f"{fv(f)} = 'public'"]
        cond += [f"COALESCE({fv(p)}, 'public') = 'public'" for p in _hidden_parents(f)]
        return " AND ".join(cond)

    cols = ["asset_id"]
    for f in VIEW_FIELDS[1:]:
        cols.append(f"CASE WHEN {shown(f)} THEN {attr(f, _KIND.get(f, 'text'))} END AS {f}")
    cols.append(f"CASE WHEN {shown('geometry')} THEN {geom} END AS geom")
    return ("CREATE VIEW public_assets AS SELECT " + ",\n  ".join(cols)
            + "\nFROM assets WHERE visibility = 'public' AND removed = 0")
