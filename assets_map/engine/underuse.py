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
import pyarrow as pa

from assets_map.engine.arrays import group_ids, paused_gc, str_series, words_column
from assets_map.engine.geo import representative_points
from assets_map.io.normalise import describing_columns
from assets_map.schema import SOURCE_PREFIX

#: The register's own words that keep an asset from ever being flagged: category -> its spellings (whole
#: words, any case). One vocabulary for every column read: use, holding type, name and description.
EXCLUDED_CATEGORIES: dict[str, tuple[str, ...]] = {
    "park": ("park", "parks", "country park", "pleasure ground", "pleasure grounds"),
    "garden": ("garden", "gardens", "community garden", "rest garden", "memorial garden"),
    "open space": ("open space", "open spaces", "public open space", "greenspace", "green space", "green spaces",
                   "village green", "common land", "amenity green space", "amenity greenspace", "amenity land",
                   "amenity grass", "amenity grassland", "amenity open space"),
    "playing field": ("playing field", "playing fields", "sports pitch", "sports pitches", "playing pitch",
                      "playing pitches", "play area",
                      "play areas", "playground", "playgrounds"),
    "recreation ground": ("recreation ground", "recreation grounds", "rec ground", "recreation area"),
    "cemetery": ("cemetery", "cemeteries", "burial ground", "burial grounds", "graveyard", "graveyards"),
    "crematorium": ("crematorium", "crematoria", "crematoriums"),
    "churchyard": ("churchyard", "churchyards", "closed churchyard"),
    "memorial": ("memorial", "memorials", "war memorial", "war memorials", "cenotaph"),
    "allotment": ("allotment", "allotments"),
    "nature reserve": ("nature reserve", "nature reserves", "local nature reserve", "woodland", "woodlands"),
    "highway land": ("highway land", "highways land", "adopted highway", "highway verge", "highway verges",
                     "verge", "verges", "grass verge", "grass verges", "roadside verge"),
    "community use": ("community use", "in community use"),
}
#: Categories that exclude a *building* by its own name or description: a vacant park lodge is a classic community
#: asset transfer, a cemetery chapel or a war memorial is not.
BUILDING_CATEGORIES = ("cemetery", "crematorium", "churchyard", "memorial")
#: Kept for callers that list the words: every spelling of every category.
EXCLUDED_USE_WORDS = tuple(w for words in EXCLUDED_CATEGORIES.values() for w in words)

FLAG_THRESHOLD = 0.3


@dataclass(frozen=True)
class Signal:
    """One underuse signal: its key, the most points it can give and how much it is trusted."""

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


#: Compounds that carry a category word but are not that land: a car park, a business park, "Park Road", a
#: memorial hall (a community building, often a transfer candidate), "Garden Centre".
_NOT_CATEGORY = re.compile(
    r"\b(car|business|retail|industrial|science|technology|office|trade|trading|caravan|holiday|enterprise|"
    r"distribution|logistics|lorry|coach|cycle)\s+parks?\b|\bpark\s*(and|&)\s*ride\b"
    r"|\b[a-z]+\s+(road|rd|street|lane|avenue|drive|crescent|terrace)\b"
    r"|\bmemorial\s+(halls?|institute|hospital|school|club|centre|center|library|cottages?|homes?)\b"
    r"|\bgardens?\s+(centre|center|flats|court|house)\b"
    # Land beside a category is not that land: "field south west of Urmston Cemetery", "land adjoining the park".
    r"|\b(near(\s+to)?|adjoining|adjacent\s+to|next\s+to|opposite|behind|beside|(at\s+the\s+)?rear\s+of|"
    r"((north|south)[\s-]*)?(north|south|east|west)\s+(side\s+)?of)\b[^,;()]*"
    # What the land was is not what it is: "former allotments", "formerly playing fields".
    r"|\bformer(ly)?\b[^,;()]*", re.I)


class _CategoryWords:
    """Whole-word search for the spellings of some categories; a match gives ``(category, spelling)``."""

    def __init__(self, categories):
        self._category = {w: c for c in categories for w in EXCLUDED_CATEGORIES[c]}
        words = sorted(self._category, key=len, reverse=True)
        self._re = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.I)
        self._stems = tuple(sorted({max(w.split(), key=len) for w in words}))

    def search(self, text: str) -> tuple[str, str] | None:
        low = text.lower()
        # Most values name no category: a substring test per spelling's longest word skips both regular expressions.
        if not any(stem in low for stem in self._stems) or self._re.search(text) is None:
            return None
        m = self._re.search(_NOT_CATEGORY.sub(" ", text))
        return None if m is None else (self._category[m.group(1).lower()], m.group(1).lower())


_ALL_RE = _CategoryWords(EXCLUDED_CATEGORIES)
_BUILDING_RE = _CategoryWords(BUILDING_CATEGORIES)
_NEVER_FLAGGED = ("parks, gardens, open space, playing fields, recreation grounds, cemeteries, crematoria, "
                  "churchyards, memorials, allotments, nature reserves and highway land are never flagged")


def _src_head(organisation, source) -> str:
    parts = [p for p in (organisation, source) if isinstance(p, str) and p]
    return f"source: {' register, '.join(parts) if parts else 'register'}"


def _src_when(date) -> str:
    return f", {date}" if date is not None and not (isinstance(date, float) and np.isnan(date)) else ", date not stated"


def _src_text(organisation, source, date) -> str:
    return _src_head(organisation, source) + _src_when(date)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column, or all-missing when the frame lacks it (as ``row.get`` gave ``None``)."""
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _map_unique(values: pd.Series, fn) -> np.ndarray:
    """``fn`` applied once per distinct value (registers repeat their uses, dates, statuses)."""
    # text factorises as it is (Arrow, in C); anything else as the Python objects the rules read
    obj = values if isinstance(values.dtype, pd.StringDtype) else values.astype(object)
    codes, uniques = pd.factorize(obj, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    for i, v in enumerate(uniques):
        mapped[i] = fn(v)
    missing = obj[codes == -1]
    mapped[-1] = fn(missing.iloc[0]) if len(missing) else None
    return mapped[codes]  # code -1 takes the last slot (the missing value's result)


def _src_texts(frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """The "source: ..." text of the rows ``rows``, built once per (organisation, source, date)."""
    if not len(rows):
        return np.empty(0, dtype=object)
    cols = ["organisation", "source", "source_date"]
    ids, first = group_ids(frame, rows, cols)
    at = rows[first]
    org, src, date = (_column(frame, c).iloc[at].astype(object).to_numpy() for c in cols)
    # _src_text's head once per distinct (organisation, source) (equal texts give equal words; anything else gives
    # none), then each date's own words added: a national register has ~100k (organisation, source, date) triples
    pairs = pd.DataFrame({"organisation": org, "source": src})
    h_ids, h_first = group_ids(pairs, np.arange(len(at)), list(pairs.columns))
    heads = [_src_head(o, s) for o, s in zip(org[h_first], src[h_first], strict=True)]
    texts = np.array([heads[h] + _src_when(d) for h, d in zip(h_ids.tolist(), date, strict=True)] + [None],
                     dtype=object)[:-1]
    return texts[ids]


def _short(text, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _category_columns(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The columns the exclusion words are read in: ``(column, kind, label)``, the register's categories first.

    ``kind`` is "use" (a use, type, holding or category column: its words exclude any asset) or "name" (the
    name and free-text descriptions: a building is excluded by them only as a burial ground or memorial).
    """
    cols = [("use", "use", "use")] if "use" in frame.columns else []
    described = describing_columns(c[len(SOURCE_PREFIX):] for c in frame.columns
                                   if isinstance(c, str) and c.startswith(SOURCE_PREFIX))
    cols += [(SOURCE_PREFIX + h, k, f"'{h}' column") for h, k in described if k == "use"]
    cols += [("name", "name", "name")] if "name" in frame.columns else []
    cols += [(SOURCE_PREFIX + h, k, f"'{h}' column") for h, k in described if k == "name"]
    return cols


#: Why an asset is excluded when the facts that exclude it are not in the frame (e.g. hidden from the public).
WITHHELD_EXCLUSION = ("the owner's full record excludes it from flagging (park, greenspace, community use, sold or "
                      "not available); which of these is not published")


def apply_exclusions(assets: gpd.GeoDataFrame, layers: list[tuple[str, gpd.GeoDataFrame]] = (), *,
                     withheld: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """Mark assets that are never flagged, with the reason.

    * a word of :data:`EXCLUDED_CATEGORIES` (park, garden, open space, playing field, recreation ground,
      cemetery, crematorium, churchyard, memorial, allotment, nature reserve, highway land, community use)
      in its use or in any source column whose header says use, type, holding, category, class or purpose,
      whatever its status says;
    * the same words in its name or in a description column, unless it is a building: a building is
      excluded by its own name or description only as a cemetery, crematorium, churchyard or memorial;
    * land (or land and buildings, or unknown holding) that lies in a greenspace/allotment layer;
    * rows in ``withheld`` (a boolean mask): excluded on facts this frame does not hold, such as a
      public view computed from the public fields of an asset its owner's full record excludes. They
      get :data:`WITHHELD_EXCLUSION` as reason unless the frame's own facts already exclude them, so a
      hidden field can never turn a park into a public flag.

    A building is not excluded for standing in a park: a vacant park lodge is a classic
    community asset transfer.

    The reason names the category and the column the word was found in. Each distinct value is matched once, so a national register costs what its
    vocabulary costs, not one regular-expression search per row.
    """
    out = assets.copy(deep=False)  # copy-on-write: new columns never reach the caller's frame
    n = len(out)
    excluded = np.zeros(n, bool)
    reason = np.full(n, None, dtype=object)
    # Columns stay in their own dtype (no text conversion of a million values): each distinct value is matched once.
    holding = out["holding_type"]
    status = out["status"] if "status" in out else pd.Series([None] * n, index=out.index, dtype=object)
    for st_value, why in (("sold", "the owner records it as sold: it is no longer theirs to transfer"),
                          ("not-available", "the owner records it as not available for transfer")):
        m = status.eq(st_value).fillna(False).to_numpy(dtype=bool)
        excluded |= m
        reason[m] = why
    # A building's own name or description excludes it only for a burial ground or memorial (a park lodge stays).
    building = holding.eq("building").fillna(False).to_numpy(dtype=bool)
    for col, kind, label in _category_columns(out):
        rows = np.flatnonzero(~excluded & _column(out, col).notna().to_numpy())
        if not len(rows):
            continue
        values = out[col].iloc[rows]
        pick = _map_unique(values, lambda v: _ALL_RE.search(str(v)))
        if kind == "name" and building[rows].any():
            pick = np.where(building[rows], _map_unique(values, lambda v: _BUILDING_RE.search(str(v))), pick)
        ok = pd.notna(pick)
        hit = rows[ok]
        excluded[hit] = True
        texts = values.iloc[np.flatnonzero(ok)].to_numpy(dtype=object)
        if col == "name":
            holding_words = holding.iloc[hit].map({"land": "land", "both": "land and buildings", "building": "a building"})
            reason[hit] = [f"it is {h} named '{v}' ({c}): {_NEVER_FLAGGED}" for h, v, (c, _) in
                           zip(holding_words.fillna("an asset").to_numpy(dtype=object), texts, pick[ok], strict=True)]
        else:
            reason[hit] = [f"its {label} is '{_short(v)}' ({c}): {_NEVER_FLAGGED}"
                           for v, (c, _) in zip(texts, pick[ok], strict=True)]
    land_like = (holding.isin(["land", "both", "unknown"]) | holding.isna()).to_numpy()
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
        rows = cand[hit.index.to_numpy()]
        labels = hit[name_col].to_numpy(dtype=object) if name_col else [None] * len(rows)
        excluded[rows] = True
        reason[rows] = [f"it lies within {label}{f' ({v})' if isinstance(v, str) else ''}: greenspace and allotments are never flagged"
                        for v in labels]
    if withheld is not None:
        extra = np.asarray(withheld, dtype=bool) & ~excluded
        excluded |= extra
        reason[extra] = WITHHELD_EXCLUSION
    out["excluded"] = excluded
    if any(isinstance(r, str) for r in reason[excluded]):  # text, built by Arrow (pandas reads a list of them so)
        out["exclusion_reason"] = str_series(pa.array(reason, type=pa.large_string(), from_pandas=True), out.index)
    else:
        out["exclusion_reason"] = list(reason)
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


def _numbers(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A column as float64 (missing -> NaN), as the per-row checks read it."""
    col = _column(frame, name)
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


#: The status signals (surplus, vacant, part-vacant) share one confidence.
_STATUS_CONFIDENCE = SIGNALS["vacant"].confidence
_STATUS_WORDS = {"surplus": "declared surplus", "vacant": "vacant", "part-vacant": "partly vacant"}


def score_underuse(assets: gpd.GeoDataFrame, *, as_of: dt.date | None = None) -> gpd.GeoDataFrame:
    """Add ``underuse_score``, ``underuse_confidence`` and ``underuse_reasons`` (a list per asset).

    Vectorised: each signal is a column operation; reason texts are formatted only for the
    rows that carry the signal, and once per distinct value where the text depends on one
    value only (a percentage, a date).
    """
    out, parts = underuse_parts(assets, as_of=as_of)
    with paused_gc():
        reasons: list[list[str]] = [[] for _ in range(len(out))]
        for mask, texts in parts:
            for i, t in zip(np.flatnonzero(mask), texts, strict=True):
                reasons[i].append(t)
        out["underuse_reasons"] = pd.Series(reasons, index=out.index, dtype=object)
    return out


def reason_lists(parts: list[tuple[np.ndarray, np.ndarray]], n: int) -> pa.ListArray:
    """The reasons of :func:`underuse_parts` as one Arrow list per row: ``score_underuse``'s lists, no Python list.

    Parameters
    ----------
    parts : (row mask, texts of the masked rows) per signal, in the order the reasons are listed
    n : the number of rows

    Returns
    -------
    pa.ListArray : row ``i`` lists the texts of the signals it carries, in order (an empty list when none)
    """
    counts = np.zeros(n, dtype=np.int64)
    for mask, _ in parts:
        counts += mask
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    flat = np.empty(int(offsets[-1]), dtype=object)
    seen = np.zeros(n, dtype=np.int64)
    for mask, texts in parts:
        rows = np.flatnonzero(mask)
        flat[offsets[rows] + seen[rows]] = texts
        seen[rows] += 1
    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), pa.array(flat, type=pa.large_string()))


def underuse_parts(assets: gpd.GeoDataFrame, *, as_of: dt.date | None = None
                   ) -> tuple[gpd.GeoDataFrame, list[tuple[np.ndarray, np.ndarray]]]:
    """``underuse_score`` and ``underuse_confidence`` added, and the reasons as (row mask, texts) per signal.

    What :func:`score_underuse` computes, its reasons not yet gathered into a list per row (a million Python lists
    take longer than the scoring): :func:`reason_lists` gathers them in Arrow.
    """
    as_of = as_of or dt.date.today()
    out = assets.copy(deep=False)  # copy-on-write: new columns never reach the caller's frame
    n = len(out)
    status_col = _column(out, "status")
    total = np.zeros(n)
    n_medium = np.zeros(n, dtype=np.int64)
    n_low = np.zeros(n, dtype=np.int64)
    n_high = np.zeros(n, dtype=np.int64)
    # Each signal: (confidence, mask, points, texts for the masked rows), in the order the reasons are listed.
    found: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    src_all: np.ndarray | None = None
    src_rows: np.ndarray | None = None

    def src_for(mask: np.ndarray) -> np.ndarray:
        nonlocal src_all
        if src_all is None:
            src_all = np.empty(n, dtype=object)
            src_all[src_rows] = _src_texts(out, src_rows)
        return src_all[mask]

    empty_pct = _numbers(out, "empty_floor_pct")
    under_pct = _numbers(out, "underused_floor_pct")
    idle = _column(out, "land_idle_ha")
    if "land_idle_ha" not in out.columns:
        idle_ha = np.full(n, np.nan)
    elif pd.api.types.is_numeric_dtype(idle.dtype) and not pd.api.types.is_bool_dtype(idle.dtype):
        idle_ha = pd.to_numeric(idle, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    else:  # only numbers count (as isinstance(v, (int, float)) did)
        idle_ha = np.array([float(v) if isinstance(v, (int, float)) else np.nan for v in idle], dtype="float64")
    is_status = status_col.isin(["surplus", "vacant", "part-vacant"]).to_numpy()
    status = np.full(n, None, dtype=object)
    status[is_status] = status_col.to_numpy(dtype=object)[is_status]  # only the rows the signals read
    with np.errstate(invalid="ignore"):
        m_empty = np.isfinite(empty_pct) & (empty_pct > 0)
        m_under = np.isfinite(under_pct) & (under_pct > 0)
        m_idle = np.isfinite(idle_ha) & (idle_ha > 0)
    m_bf = np.zeros(n, dtype=bool)
    bf = np.full(n, None, dtype=object)
    if "brownfield_ref" in out.columns:
        present = out["brownfield_ref"].notna().to_numpy()
        bf[present] = out["brownfield_ref"].to_numpy(dtype=object)[present]
        m_bf[present] = [isinstance(v, str) and bool(v) for v in bf[present]]
        if "ownership" in out.columns:  # brownfield evidence feeds underuse for public land only
            m_bf &= ~out["ownership"].isin(["private", "mixed", "unknown"]).to_numpy(dtype=bool)
    src_rows = np.flatnonzero(is_status | m_empty | m_under | m_idle)

    if is_status.any():
        caps = np.array([SIGNALS[s].cap for s in status[is_status]])
        pts = np.zeros(n)
        pts[is_status] = caps
        texts = np.array([f"the owner records it as {_STATUS_WORDS[s]} ({src})"
                          for s, src in zip(status[is_status], src_for(is_status), strict=True)], dtype=object)
        found.append((_STATUS_CONFIDENCE, is_status, pts, texts))
    for mask, values, key, factor, what in ((m_empty, empty_pct, "empty_floor", 0.8, "reported empty"),
                                            (m_under, under_pct, "underused_floor", 0.4, "reported under-used")):
        if mask.any():
            sig = SIGNALS[key]
            pts = np.zeros(n)
            pts[mask] = np.minimum(sig.cap, values[mask] / 100 * factor)
            label = _map_unique(pd.Series(values[mask]), lambda v, what=what: f"{v:g}% of its floor area is {what}")
            texts = np.array([f"{t} ({src})" for t, src in zip(label, src_for(mask), strict=True)], dtype=object)
            found.append((sig.confidence, mask, pts, texts))
    if m_idle.any():
        sig = SIGNALS["idle_land"]
        pts = np.where(m_idle, sig.cap, 0.0)
        label = _map_unique(pd.Series(idle_ha[m_idle]), lambda v: f"{v:g} ha of its land is reported as not delivering services")
        texts = np.array([f"{t} ({src})" for t, src in zip(label, src_for(m_idle), strict=True)], dtype=object)
        found.append((sig.confidence, m_idle, pts, texts))
    if m_bf.any():
        sig = SIGNALS["brownfield"]
        found.append((sig.confidence, m_bf, np.where(m_bf, sig.cap, 0.0),
                      np.array([f"it is on a brownfield land register ({v})" for v in bf[m_bf]], dtype=object)))
    if is_status.any() and "vacant_since" in out.columns:
        rows = np.flatnonzero(is_status)
        since = out["vacant_since"].iloc[rows]

        def duration(v):
            d = _as_date(v)
            if not d:
                return None
            years = (as_of - d).days / 365.25
            if years < 2:
                return None
            return min(SIGNALS["vacancy_duration"].cap, 0.1 * np.floor(years / 2)), f"vacant since {d} ({years:.0f} years)"

        got = _map_unique(since, duration)
        ok = np.array([g is not None for g in got], dtype=bool)
        if ok.any():
            mask = np.zeros(n, bool)
            mask[rows[ok]] = True
            pts = np.zeros(n)
            pts[rows[ok]] = [g[0] for g in got[ok]]
            found.append((SIGNALS["vacancy_duration"].confidence, mask, pts, np.array([g[1] for g in got[ok]], dtype=object)))
    floor, site = _numbers(out, "floor_area_m2"), _numbers(out, "site_area_ha")
    both = _column(out, "holding_type").eq("both").fillna(False).to_numpy(dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        m_cov = np.isfinite(floor) & np.isfinite(site) & (site > 0) & (floor > 0) & both
        cover = np.where(m_cov, floor / (site * 10_000), np.nan)
        m_cov &= cover < 0.1
    if m_cov.any():
        sig = SIGNALS["low_coverage"]
        found.append((sig.confidence, m_cov, np.where(m_cov, sig.cap, 0.0),
                      np.array([f"buildings cover about {c:.0%} of the site (a hint of spare land, not proof)"
                                for c in cover[m_cov]], dtype=object)))

    # Each signal in turn: the same additions, in the same order, as summing per row.
    reason_parts: list[tuple[np.ndarray, np.ndarray]] = []
    for conf, mask, pts, texts in found:
        total = total + pts  # adding 0.0 where the signal is absent leaves the sum unchanged
        if conf == "high":
            n_high += mask
        elif conf == "medium":
            n_medium += mask
        else:
            n_low += mask
        tags = _map_unique(pd.Series(pts[mask]), lambda p: f" [+{p:.2f}]")
        reason_parts.append((mask, np.array([f"Underuse: {t}{g}" for t, g in zip(texts, tags, strict=True)], dtype=object)))
    score = np.minimum(1.0, total)
    any_sig = (n_high + n_medium + n_low) > 0
    confidence = np.where((n_medium >= 2) | (n_high > 0), 0, np.where(n_medium == 1, 1, np.where(any_sig, 2, 3)))
    out["underuse_score"] = _map_unique(pd.Series(score), lambda v: round(float(v), 3)).astype("float64")
    out["underuse_confidence"] = words_column(("high", "medium", "low", "none"), confidence, out.index)
    return out, reason_parts

