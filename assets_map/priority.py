"""Layers 2 and 3: transferability, need, and the priority that combines them.

Priority is never one opaque number: every asset gets ``reasons``, plain-words
sentences that name the evidence and its source, the need area (code and name),
its decile and the IoD year, and what the tenure means for a transfer.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from .needs import DOMAIN_LABELS
from .underuse import FLAG_THRESHOLD

STRONG_UNDERUSE = 0.5
REASON_SEP = "; "

ROUTES = {
    "council": "the council's community asset transfer policy",
    "nhs": "NHS surplus land disposal (public sector land routes)",
    "university": "the institution's own disposal policy",
    "college": "the institution's own disposal policy",
    "housing_association": "the housing association's disposal policy",
    "police": "public sector surplus land routes",
    "fire": "public sector surplus land routes",
    "other": "the owner's own disposal policy",
}

CONSTRAINTS_NOT_CHECKED = ("conservation area, listed building, flood zone, green belt, contamination: "
                           "not checked (no constraint layers loaded)")


def transferability(row) -> tuple[float, list[str]]:
    """A transferability hint (0 to 1) from tenure, status and owner type, with its reasons."""
    score, why = 0.0, []
    tenure, status = row.get("tenure"), row.get("status")
    owner = row.get("anchor_type") or "other"
    if tenure == "freehold":
        score += 0.5
        why.append("held freehold, so the owner can transfer it")
    elif tenure == "leasehold":
        score += 0.2
        why.append("held on a lease: a transfer needs the landlord's consent")
    else:
        why.append("tenure not stated")
    if status == "leased-out":
        why.append("currently leased out: not available until the lease ends")
    else:
        score += 0.2
    score += 0.3 if owner == "council" else 0.2
    why.append(f"route: {ROUTES.get(owner, ROUTES['other'])}")
    return round(min(score, 1.0), 2), why


def _need_text(row, weights: dict[str, float]) -> str | None:
    code = row.get("need_area_code")
    if not isinstance(code, str) or not code:
        return None
    year = row.get("iod_year")
    year_txt = f"IoD {int(year)}" if pd.notna(year) else "IoD (year unknown)"
    imd = row.get("imd_decile")
    place = f"LSOA {code} {row.get('need_area_name') or ''}".strip()
    if pd.isna(imd):
        return f"Need: in {place}, which has no deprivation data in the file given"
    imd = int(imd)
    band = f"among the {imd * 10}% most deprived areas in England" if imd <= 5 else f"in the {(11 - imd) * 10}% least deprived areas in England"
    text = f"Need: in {place}, IMD decile {imd} ({year_txt}, {band})"
    if weights and set(weights) != {"imd"}:
        w = ", ".join(f"{DOMAIN_LABELS[d]} x{v:g}" for d, v in weights.items())
        text += f", composite need decile {int(row['need_decile'])} from weights {w}"
    return text


def prioritise(assets: gpd.GeoDataFrame, *, weights: dict[str, float] | None = None) -> gpd.GeoDataFrame:
    """Add ``transfer_score``, ``priority``, ``reasons`` and ``constraints``.

    Rules (need uses ``need_decile``: the IMD decile, or the composite decile with custom weights):

    * excluded assets, and assets with underuse evidence below 0.3: **not flagged**;
    * underuse >= 0.5 in a decile 1-3 area: **High**;
    * underuse >= 0.5 in decile 4-6, or 0.3-0.5 in decile 1-3: **Medium**;
    * any other asset with underuse >= 0.3, including unplaced ones (need not assessed): **Low**.
    """
    weights = weights or {"imd": 1.0}
    out = assets.copy()
    prios, reasons, tscores = [], [], []
    for _, row in out.iterrows():
        t, twhy = transferability(row)
        tscores.append(t)
        u = float(row.get("underuse_score") or 0.0)
        decile = row.get("need_decile")
        has_need = pd.notna(decile)
        r: list[str] = []
        if row.get("excluded"):
            prios.append("not flagged")
            reasons.append(f"Not flagged: {row.get('exclusion_reason')}")
            continue
        r += list(row.get("underuse_reasons") or [])
        need = _need_text(row, weights)
        if u < FLAG_THRESHOLD:
            prio = "not flagged"
            r.insert(0, "Not flagged: no evidence of underuse" if u == 0 else
                     f"Not flagged: underuse evidence {u:.2f} is below the {FLAG_THRESHOLD} threshold")
        elif not has_need:
            prio = "Low"
            where = row.get("location_note") or "it lies outside the need areas loaded"
            if row.get("location_quality") == "none":
                r.insert(0, f"Priority Low: underuse evidence {u:.2f} but its need cannot be assessed: not placed ({where}); add coordinates or a full postcode")
            else:
                r.insert(0, f"Priority Low: underuse evidence {u:.2f} but it lies outside the need areas loaded, so its need is not assessed")
        else:
            d = int(decile)
            if u >= STRONG_UNDERUSE and d <= 3:
                prio = "High"
            elif (u >= STRONG_UNDERUSE and d <= 6) or d <= 3:
                prio = "Medium"
            else:
                prio = "Low"
            strength = "strong" if u >= STRONG_UNDERUSE else "some"
            r.insert(0, f"Priority {prio}: {strength} underuse evidence ({u:.2f}, confidence {row.get('underuse_confidence')}) in a need decile {d} area")
        if need:
            r.append(need)
        r.append("Transfer: " + ", ".join(twhy))
        prios.append(prio)
        reasons.append(REASON_SEP.join(x.replace(REASON_SEP, ", ") for x in r))
    out["transfer_score"] = tscores
    out["priority"] = prios
    out["reasons"] = reasons
    out["constraints"] = CONSTRAINTS_NOT_CHECKED
    return out
