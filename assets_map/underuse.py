"""Layer 1, underuse evidence; and the exclusions that come before any flag.

Each signal is factual, capped, sourced and carries its own confidence. The
score is the capped sum of the signals (0 to 1); the confidence says how much
of it rests on the owner's own statement or published returns rather than on
hints. Only a human check gives full certainty, so no score says "certain".
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from .geo import representative_points

#: Uses that are never flagged: parks, greenspace, allotments, land in community use.
EXCLUDED_USE_WORDS = (
    "park", "parks", "allotment", "allotments", "open space", "greenspace", "green space", "playing field",
    "playing fields", "recreation ground", "cemetery", "churchyard", "burial ground", "crematorium",
    "community garden", "nature reserve", "village green", "common land", "play area", "playground",
    "memorial", "community use", "in community use", "sports pitch", "woodland",
)
#: Of these, the ones that also exclude land by its *name* (a building in a park is not the park).
LAND_NAME_WORDS = ("park", "allotment", "allotments", "playing field", "playing fields", "recreation ground",
                   "open space", "cemetery", "churchyard", "gardens", "village green", "nature reserve", "common")

FLAG_THRESHOLD = 0.3


@dataclass(frozen=True)
class Signal:
    key: str
    cap: float
    confidence: str  # low | medium | high


SIGNALS = {
    "surplus": Signal("surplus", 0.6, "medium"),
    "vacant": Signal("vacant", 0.5, "medium"),
    "part-vacant": Signal("part-vacant", 0.3, "medium"),
    "empty_floor": Signal("empty_floor", 0.4, "medium"),
    "underused_floor": Signal("underused_floor", 0.2, "medium"),
    "idle_land": Signal("idle_land", 0.3, "medium"),
    "brownfield": Signal("brownfield", 0.2, "medium"),
    "vacancy_duration": Signal("vacancy_duration", 0.2, "low"),  # same source as the status
    "low_coverage": Signal("low_coverage", 0.1, "low"),
}


def _words_re(words) -> re.Pattern:
    return re.compile(r"\b(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\b", re.I)


_USE_RE = _words_re(EXCLUDED_USE_WORDS)
_LAND_NAME_RE = _words_re(LAND_NAME_WORDS)


def _src(row) -> str:
    parts = [p for p in (row.get("organisation"), row.get("source")) if isinstance(p, str) and p]
    date = row.get("source_date")
    when = f", {date}" if date is not None and not (isinstance(date, float) and np.isnan(date)) else ", date not stated"
    return f"source: {' register, '.join(parts) if parts else 'register'}{when}"


def apply_exclusions(assets: gpd.GeoDataFrame, layers: list[tuple[str, gpd.GeoDataFrame]] = ()) -> gpd.GeoDataFrame:
    """Mark assets that are never flagged, with the reason.

    * a use that names a park, allotment, open space, cemetery, community use...;
    * land (or land and buildings) whose name says it is a park, allotment, playing field...;
    * land (or land and buildings, or unknown holding) that lies in a greenspace/allotment layer.

    A building is not excluded for standing in a park: a vacant park lodge is a classic
    community asset transfer.
    """
    out = assets.copy()
    excluded = np.zeros(len(out), bool)
    reason: list[str | None] = [None] * len(out)
    uses = out["use"].fillna("").astype(str)
    names = out["name"].fillna("").astype(str)
    holding = out["holding_type"].fillna("unknown").astype(str)
    for i, (u, nm, h) in enumerate(zip(uses, names, holding)):
        m = _USE_RE.search(u)
        if m:
            excluded[i] = True
            reason[i] = f"its use is '{u}' ({m.group(1).lower()}): parks, greenspace, allotments and land in community use are never flagged"
            continue
        m = _LAND_NAME_RE.search(nm)
        if m and h in ("land", "both"):
            excluded[i] = True
            reason[i] = f"it is {h if h == 'land' else 'land and buildings'} named '{nm}' ({m.group(1).lower()}): parks, greenspace and allotments are never flagged"
    land_like = holding.isin(["land", "both", "unknown"]).to_numpy()
    geom_ok = ~(out.geometry.isna() | out.geometry.is_empty).to_numpy()
    for label, layer in layers:
        cand = np.flatnonzero(land_like & geom_ok & ~excluded)
        if not len(cand) or layer.empty:
            continue
        pts = gpd.GeoDataFrame(geometry=representative_points(out.geometry.iloc[cand]).to_numpy(), crs=out.crs)
        layer = layer.to_crs(out.crs)
        hit = gpd.sjoin(pts, layer[[c for c in layer.columns if c != "geometry"][:3] + ["geometry"]], predicate="within", how="inner")
        hit = hit[~hit.index.duplicated()]
        name_col = next((c for c in ("site_name", "name", "site_type") if c in hit.columns), None)
        for pos, row in hit.iterrows():
            i = cand[pos]
            excluded[i] = True
            what = f" ({row[name_col]})" if name_col and isinstance(row[name_col], str) else ""
            reason[i] = f"it lies within {label}{what}: greenspace and allotments are never flagged"
    out["excluded"] = excluded
    out["exclusion_reason"] = reason
    return out


def _as_date(v) -> dt.date | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    try:
        return pd.Timestamp(v).date()
    except (ValueError, TypeError):
        return None


def score_underuse(assets: gpd.GeoDataFrame, *, as_of: dt.date | None = None) -> gpd.GeoDataFrame:
    """Add ``underuse_score``, ``underuse_confidence`` and ``underuse_reasons`` (a list per asset)."""
    as_of = as_of or dt.date.today()
    out = assets.copy()
    scores, confs, reasons = [], [], []
    for _, row in out.iterrows():
        got: list[tuple[Signal, float, str]] = []
        src = _src(row)
        status = row.get("status")
        if status in ("surplus", "vacant", "part-vacant"):
            sig = SIGNALS[status]
            words = {"surplus": "declared surplus", "vacant": "vacant", "part-vacant": "partly vacant"}[status]
            got.append((sig, sig.cap, f"the owner records it as {words} ({src})"))
        pct = row.get("empty_floor_pct")
        if pct is not None and np.isfinite(pct) and pct > 0:
            sig = SIGNALS["empty_floor"]
            got.append((sig, min(sig.cap, pct / 100 * 0.8), f"{pct:g}% of its floor area is reported empty ({src})"))
        pct = row.get("underused_floor_pct")
        if pct is not None and np.isfinite(pct) and pct > 0:
            sig = SIGNALS["underused_floor"]
            got.append((sig, min(sig.cap, pct / 100 * 0.4), f"{pct:g}% of its floor area is reported under-used ({src})"))
        ha = row.get("land_idle_ha")
        if ha is not None and isinstance(ha, (int, float)) and np.isfinite(ha) and ha > 0:
            sig = SIGNALS["idle_land"]
            got.append((sig, sig.cap, f"{ha:g} ha of its land is reported as not delivering services ({src})"))
        bf = row.get("brownfield_ref")
        if isinstance(bf, str) and bf:
            sig = SIGNALS["brownfield"]
            got.append((sig, sig.cap, f"it is on a brownfield land register ({bf})"))
        since = _as_date(row.get("vacant_since"))
        if since and status in ("vacant", "surplus", "part-vacant"):
            years = (as_of - since).days / 365.25
            if years >= 2:
                sig = SIGNALS["vacancy_duration"]
                got.append((sig, min(sig.cap, 0.1 * np.floor(years / 2)), f"vacant since {since} ({years:.0f} years)"))
        floor, site = row.get("floor_area_m2"), row.get("site_area_ha")
        if (floor is not None and site is not None and np.isfinite(floor) and np.isfinite(site) and site > 0
                and floor > 0 and row.get("holding_type") in ("both",)):
            cover = floor / (site * 10_000)
            if cover < 0.1:
                sig = SIGNALS["low_coverage"]
                got.append((sig, sig.cap, f"buildings cover about {cover:.0%} of the site (a hint of spare land, not proof)"))
        score = min(1.0, sum(p for _, p, _ in got))
        conf_levels = [s.confidence for s, _, _ in got]
        if not got:
            conf = "none"
        elif conf_levels.count("medium") >= 2 or "high" in conf_levels:
            conf = "high"
        elif "medium" in conf_levels:
            conf = "medium"
        else:
            conf = "low"
        scores.append(round(score, 3))
        confs.append(conf)
        reasons.append([f"Underuse: {r} [+{p:.2f}]" for _, p, r in got])
    out["underuse_score"] = scores
    out["underuse_confidence"] = confs
    out["underuse_reasons"] = reasons
    return out
