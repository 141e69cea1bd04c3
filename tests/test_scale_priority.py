"""The array-built reasons equal a per-row reading of the rules, on registers with far sites and private land.

``prioritise`` writes each sentence once per distinct evidence and joins the parts with Arrow; this holds it to a
plain per-row reference that also covers what ``tests/test_scale_scoring.py``'s older reference predates: the cap
of a High on a site far outside its publisher's area, land not in public ownership, exclusion reasons and
separators inside every kind of text.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from assets_map.engine.location import CHECK_PREFIX
from assets_map.engine.priority import (
    CONSTRAINTS_NOT_CHECKED,
    NOT_PUBLIC_REASON,
    OWNERSHIP_ROUTES,
    REASON_SEP,
    STRONG_UNDERUSE,
    _need_text,
    decile_text,
    prioritise,
    transferability,
)
from assets_map.engine.underuse import FLAG_THRESHOLD, apply_exclusions, score_underuse
from assets_map.schema import empty_asset_frame


def _esc(text: str) -> str:
    return text.replace(REASON_SEP, ", ")


def ref_reason(row: dict, weights: dict) -> tuple[str, str]:
    """(priority, reasons) of one row, by the rules in ``prioritise``'s docstring."""
    if row.get("excluded"):
        return "not flagged", f"Not flagged: {row.get('exclusion_reason')}"
    if row.get("ownership") == "private":
        return "not flagged", f"{NOT_PUBLIC_REASON}; Transfer: route: {OWNERSHIP_ROUTES['private']}"
    u = float(row.get("underuse_score") or 0.0)
    decile = row.get("need_decile")
    if u < FLAG_THRESHOLD:
        prio = "not flagged"
        head = ("Not flagged: no evidence of underuse" if u == 0 else
                f"Not flagged: underuse evidence {u:.2f} is below the {FLAG_THRESHOLD} threshold")
    elif pd.isna(decile):
        prio = "Low"
        if row.get("location_quality") == "none":
            where = row.get("location_note") or "it lies outside the need areas loaded"
            head = (f"Priority Low: underuse evidence {u:.2f} but its need cannot be assessed: not placed ({where}); "
                    "add coordinates or a full postcode")
        else:
            head = (f"Priority Low: underuse evidence {u:.2f} but it lies outside the need areas loaded, so its need "
                    "is not assessed")
    else:
        d, strong = int(decile), u >= STRONG_UNDERUSE
        prio = "High" if strong and d <= 3 else "Medium" if (strong and d <= 6) or d <= 3 else "Low"
        cap = ""
        far = row.get("location_check")
        if prio == "High" and isinstance(far, str) and far.startswith(CHECK_PREFIX):
            prio, cap = "Medium", f" (not High: location to be checked: {far[len(CHECK_PREFIX):]})"
        head = (f"Priority {prio}{cap}: {'strong' if strong else 'some'} underuse evidence ({u:.2f}, confidence "
                f"{row.get('underuse_confidence')}) in an area of {decile_text(d, band=False)}")
    parts = [_esc(head)]
    under = row.get("underuse_reasons") or []
    if under and REASON_SEP.join(_esc(x) for x in under):
        parts.append(REASON_SEP.join(_esc(x) for x in under))
    need = _need_text(row, weights)
    if need:
        parts.append(_esc(need))
    _, why = transferability({**row, "anchor_type": row.get("anchor_type") or "other",
                              "ownership": row.get("ownership") if row.get("ownership") in OWNERSHIP_ROUTES else ""})
    parts.append(_esc("Transfer: " + ", ".join(why)))
    return prio, REASON_SEP.join(parts)


def _scored(n: int, seed: int):
    import geopandas as gpd
    from shapely.geometry import Point

    rng = np.random.default_rng(seed)
    pick = lambda values: [values[i] for i in rng.integers(0, len(values), n)]  # noqa: E731
    a = empty_asset_frame(n)
    a["asset_id"] = [f"A{i}" for i in range(n)]
    a["organisation"] = pick(["Leeds City Council", "Leeds Teaching Hospitals; NHS Trust", None, ""])
    a["anchor_type"] = pick(["council", "nhs", "university", "police", None, "", "mystery"])
    a["source"] = pick(["register.csv", "eric.xls", None])
    a["source_date"] = pick([dt.date(2024, 3, 31), None])
    a["name"] = pick(["Old library", "Victoria Park", "Depot; yard", "Town Hall", None, "Memorial garden"])
    a["use"] = pick(["Library", "Parks", "Office", None, "Community use", "Depot"])
    a["holding_type"] = pick(["land", "building", "both", "unknown", None])
    a["tenure"] = pick(["freehold", "leasehold", "unknown", None])
    a["status"] = pick(["vacant", "surplus", "part-vacant", "occupied", "leased-out", None])
    a["empty_floor_pct"] = pick([np.nan, 0.0, 12.5, 100.0, 37.0])
    a["floor_area_m2"] = pick([np.nan, 150.0, 3000.0])
    a["site_area_ha"] = pick([np.nan, 0.5, 12.0])
    a["vacant_since"] = pick([None, dt.date(2010, 5, 1), dt.date(2025, 6, 1)])
    a["brownfield_ref"] = pick([None, "BR-001"])
    placed = rng.random(n) < 0.85
    a["location_quality"] = np.where(placed, "register coordinates", pick(["none", "register coordinates"]))
    a["location_note"] = np.where(placed, None, "only a postcode district (M31; Trafford) is given")
    inside = placed & (rng.random(n) < 0.9)
    a["need_area_code"] = [f"E0100{d:04d}" if ok else None for d, ok in zip(rng.integers(0, 40, n), inside, strict=True)]
    a["need_area_name"] = [f"Leeds {c[-3:]}A" if isinstance(c, str) else None for c in a["need_area_code"]]
    a["imd_decile"] = pd.array([int(d) if ok else None for d, ok in zip(rng.integers(1, 11, n), inside, strict=True)],
                               dtype="Int64")
    a["need_decile"] = pd.array([int(d) if ok else None for d, ok in zip(rng.integers(1, 4, n) * 2 - 1, inside,
                                                                          strict=True)], dtype="Int64")
    a["iod_year"] = pd.array([2025 if ok else None for ok in inside], dtype="Int64")
    a = gpd.GeoDataFrame(a, geometry=[Point(400000 + 10 * i, 300000) if p else None for i, p in enumerate(placed)],
                         crs="EPSG:27700")
    a["location_check"] = pick([None, None, f"{CHECK_PREFIX}12.3 km outside Leeds (the local authority named by "
                                "Leeds; City Council, from the need areas loaded)", f"{CHECK_PREFIX}matched by name only",
                                f"{CHECK_PREFIX}1,204.5 km outside the register's own cluster (3.0 km around)"])
    a["ownership"] = pick([None, "private", "mixed", "unknown", "public", np.nan])
    return score_underuse(apply_exclusions(a), as_of=dt.date(2026, 1, 15))


@pytest.mark.parametrize(("seed", "weights"), [(1, None), (2, {"income": 2.0, "health": 1.0}), (3, None)])
def test_reasons_equal_the_per_row_rules(seed, weights):
    a = _scored(2500, seed)
    got = prioritise(a, weights=weights)
    w = weights or {"imd": 1.0}
    rows = a.astype(object).where(a.notna(), None).to_dict("records")
    want = [ref_reason(r, w) for r in rows]
    assert got["priority"].tolist() == [p for p, _ in want]
    assert got["reasons"].tolist() == [t for _, t in want]
    assert str(got["reasons"].dtype) == "str" and (got["constraints"] == CONSTRAINTS_NOT_CHECKED).all()
    capped = got["reasons"].str.contains("not High: location to be checked", regex=False)
    assert capped.any() and (got.loc[capped, "priority"] == "Medium").all()  # the cap was exercised
    assert got["reasons"].str.startswith(NOT_PUBLIC_REASON).any()
