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


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A column as an object array, all ``None`` when absent (as ``row.get`` gave)."""
    if name in frame.columns:
        return frame[name].astype(object).to_numpy()
    return np.full(len(frame), None, dtype=object)


def _truthy(values: np.ndarray) -> np.ndarray:
    return np.array([bool(v) if v is not None and v is not pd.NA else False for v in values], dtype=bool) \
        if values.dtype == object else values.astype(bool)


def _grouped(frame: pd.DataFrame, rows: np.ndarray, cols: list[str], fn) -> np.ndarray:
    """``fn(row)`` once per distinct combination of ``cols`` among ``rows``, spread back to them."""
    if not len(rows):
        return np.empty(0, dtype=object)
    sub = pd.DataFrame({c: (frame[c].iloc[rows].astype(object).to_numpy() if c in frame.columns
                            else np.full(len(rows), None, dtype=object)) for c in cols})
    ids = sub.groupby(cols, dropna=False, sort=False).ngroup().to_numpy()
    first = np.unique(ids, return_index=True)[1]
    values = np.empty(len(first), dtype=object)
    for k, row in enumerate(sub.iloc[first].to_dict("records")):
        values[k] = fn(row)
    return values[ids]


def _no_sep(values: np.ndarray) -> np.ndarray:
    """Each text with the reason separator replaced (a reason never splits in two)."""
    return np.array([v.replace(REASON_SEP, ", ") for v in values], dtype=object)


def _join_reasons(lists) -> np.ndarray:
    out = np.empty(len(lists), dtype=object)
    for i, lst in enumerate(lists):
        out[i] = REASON_SEP.join(x.replace(REASON_SEP, ", ") for x in lst) if lst else ""
    return out


def prioritise(assets: gpd.GeoDataFrame, *, weights: dict[str, float] | None = None) -> gpd.GeoDataFrame:
    """Add ``transfer_score``, ``priority``, ``reasons`` and ``constraints``.

    Rules (need uses ``need_decile``: the IMD decile, or the composite decile with custom weights):

    * excluded assets, and assets with underuse evidence below 0.3: **not flagged**;
    * underuse >= 0.5 in a decile 1-3 area: **High**;
    * underuse >= 0.5 in decile 4-6, or 0.3-0.5 in decile 1-3: **Medium**;
    * any other asset with underuse >= 0.3, including unplaced ones (need not assessed): **Low**.

    Vectorised: the rules are array operations, and each text that depends on a few values
    only (the need area's sentence, the transfer sentence) is written once per distinct
    combination, so a million assets cost what their distinct areas and tenures cost.
    """
    weights = weights or {"imd": 1.0}
    out = assets.copy(deep=False)  # copy-on-write: new columns never reach the caller's frame
    n = len(out)
    # Transferability, once per (tenure, leased out?, owner) combination.
    tenure, status = _col(out, "tenure"), _col(out, "status")
    owner = np.array([v or "other" for v in _col(out, "anchor_type")], dtype=object)
    t_key = pd.DataFrame({"tenure": np.where(tenure == "freehold", "freehold", np.where(tenure == "leasehold", "leasehold", "")),
                          "status": np.where(status == "leased-out", "leased-out", ""), "anchor_type": owner})
    t_rows = _grouped(t_key, np.arange(n), ["tenure", "status", "anchor_type"], transferability)
    tscores = [t for t, _ in t_rows]
    transfer = _no_sep(np.array(["Transfer: " + ", ".join(why) for _, why in t_rows], dtype=object))

    u_raw = _col(out, "underuse_score")
    u = np.array([float(v or 0.0) for v in u_raw], dtype="float64")
    decile = pd.to_numeric(pd.Series(_col(out, "need_decile")), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    has_need = pd.notna(pd.Series(_col(out, "need_decile"))).to_numpy()
    excluded = _truthy(_col(out, "excluded"))
    prio = np.full(n, "not flagged", dtype=object)
    head = np.full(n, None, dtype=object)
    live = ~excluded
    low_u = live & (u < FLAG_THRESHOLD)
    head[low_u & (u == 0)] = "Not flagged: no evidence of underuse"
    some = low_u & (u != 0)
    head[some] = [f"Not flagged: underuse evidence {v:.2f} is below the {FLAG_THRESHOLD} threshold" for v in u[some]]
    rest = live & ~low_u  # includes NaN scores, as the per-row rules did
    unplaced = rest & ~has_need
    prio[unplaced] = "Low"
    quality, note = _col(out, "location_quality"), _col(out, "location_note")
    for i in np.flatnonzero(unplaced):
        if quality[i] == "none":
            where = note[i] or "it lies outside the need areas loaded"
            head[i] = (f"Priority Low: underuse evidence {u[i]:.2f} but its need cannot be assessed: not placed "
                       f"({where}); add coordinates or a full postcode")
        else:
            head[i] = (f"Priority Low: underuse evidence {u[i]:.2f} but it lies outside the need areas loaded, "
                       "so its need is not assessed")
    placed = rest & has_need
    if placed.any():
        d = decile[placed].astype(np.int64) if np.isfinite(decile[placed]).all() else \
            np.array([int(v) for v in _col(out, "need_decile")[placed]])
        up = u[placed]
        strong = up >= STRONG_UNDERUSE
        p = np.where(strong & (d <= 3), "High", np.where((strong & (d <= 6)) | (d <= 3), "Medium", "Low")).astype(object)
        prio[placed] = p
        conf = _col(out, "underuse_confidence")[placed]
        head[placed] = [f"Priority {pr}: {'strong' if s else 'some'} underuse evidence ({v:.2f}, confidence {c}) "
                        f"in a need decile {k} area" for pr, s, v, c, k in zip(p, strong, up, conf, d)]
    live_rows = np.flatnonzero(live)
    need = np.full(n, None, dtype=object)
    need[live_rows] = _grouped(out, live_rows, ["need_area_code", "need_area_name", "iod_year", "imd_decile", "need_decile"],
                               lambda row: _need_text(row, weights))
    if "underuse_reasons" in out.columns:
        under = _join_reasons(out["underuse_reasons"].to_numpy()[live_rows])
    else:
        under = np.full(len(live_rows), "", dtype=object)
    text = _no_sep(head[live_rows])
    has_under = under != ""
    text[has_under] = text[has_under] + REASON_SEP + under[has_under]
    need_live = need[live_rows]
    has_text = np.array([bool(v) for v in need_live], dtype=bool)
    text[has_text] = text[has_text] + REASON_SEP + _no_sep(need_live[has_text])
    text = text + REASON_SEP + transfer[live_rows]
    reasons = np.empty(n, dtype=object)
    reasons[live_rows] = text
    ex_rows = np.flatnonzero(excluded)
    ex_reason = _col(out, "exclusion_reason")[ex_rows]
    reasons[ex_rows] = [f"Not flagged: {r}" for r in ex_reason]
    out["transfer_score"] = tscores
    out["priority"] = prio.tolist()
    out["reasons"] = reasons.tolist()
    out["constraints"] = CONSTRAINTS_NOT_CHECKED
    return out
