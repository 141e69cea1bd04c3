"""Layers 2 and 3: transferability, need, and the priority that combines them.

Priority is never one opaque number: every asset gets ``reasons``, plain-words
sentences that name the evidence and its source, the need area (code and name),
its decile and the IoD year, and what the tenure means for a transfer.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assets_map.engine.arrays import combined_ids, group_ids, repeated_text, str_series
from assets_map.engine.location import CHECK_PREFIX
from assets_map.engine.needs import DOMAIN_LABELS
from assets_map.engine.underuse import FLAG_THRESHOLD

STRONG_UNDERUSE = 0.5
REASON_SEP = "; "
PRIORITY_WORDS = ("High", "Medium", "Low", "not flagged")

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

#: What a brownfield register's ownership status means for a transfer (``ownership`` column; public land has none).
OWNERSHIP_ROUTES = {
    "private": "not in public ownership (owner not published): no public body's transfer route applies; find the "
               "owner (HM Land Registry title search) and ask whether it would sell or lease",
    "mixed": "mixed ownership (partly public, partly not): check which part is publicly owned before asking for a "
             "transfer of that part",
    "unknown": "ownership not known (the register does not say who owns it): find the owner (HM Land Registry title "
               "search) before any approach",
}
NOT_PUBLIC_REASON = "Not flagged: not in public ownership (owner not published), so not a candidate for transfer"

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
    ownership = row.get("ownership")
    if ownership in OWNERSHIP_ROUTES:  # land a register says is not (or not wholly) public: no anchor's route
        score = 0.0 if ownership == "private" else score + 0.1
        why.append(f"route: {OWNERSHIP_ROUTES[ownership]}")
        return round(min(score, 1.0), 2), why
    score += 0.3 if owner == "council" else 0.2
    why.append(f"route: {ROUTES.get(owner, ROUTES['other'])}")
    return round(min(score, 1.0), 2), why


def decile_text(decile: int, what: str = "need decile", *, band: bool = True) -> str:
    """A deprivation decile in words, the one wording used everywhere: "need decile 6 of 10".

    Only deciles 1-3 add a band ("among the 30% most deprived areas in England"): those are the deciles a
    High flag rests on; nothing beside a flag calls an area "among the least deprived".
    """
    d = int(decile)
    words = f", among the {d * 10}% most deprived areas in England" if band and 1 <= d <= 3 else ""
    return f"{what} {d} of 10{words}"


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
    text = f"Need: in {place}, {decile_text(imd, 'IMD decile')} ({year_txt})"
    if weights and set(weights) != {"imd"}:
        w = ", ".join(f"{DOMAIN_LABELS[d]} x{v:g}" for d, v in weights.items())
        text += f", composite {decile_text(int(row['need_decile']), 'need decile')} from weights {w}"
    return text


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A column as an object array, all ``None`` when absent (as ``row.get`` gave)."""
    if name in frame.columns:
        return frame[name].astype(object).to_numpy()
    return np.full(len(frame), None, dtype=object)


def _truthy(values: np.ndarray) -> np.ndarray:
    return np.array([bool(v) if v is not None and v is not pd.NA else False for v in values], dtype=bool) \
        if values.dtype == object else values.astype(bool)


def _grouped_first(frame: pd.DataFrame, at: np.ndarray, cols: list[str], fn) -> np.ndarray:
    """``fn(row)`` for the rows ``at`` (one per group).

    Each row is a dict of Python objects (as ``astype(object)`` gives them), absent columns as ``None``.
    """
    values = [_words_of(frame, c, at) for c in cols]
    out = np.empty(len(at), dtype=object)
    for k, row in enumerate(zip(*values, strict=True)):
        out[k] = fn(dict(zip(cols, row, strict=True)))
    return out


_NEED_KEY = ["need_area_code", "need_area_name", "iod_year", "imd_decile", "need_decile"]
_TEXT = pa.large_string()


class _Texts:
    """A text column of ``n`` rows built from a few distinct texts.

    Each row holds a code into the texts (or none), so the Arrow column is one ``take``, not a million Python strings.
    """

    def __init__(self, n: int):
        self.codes = np.full(n, -1, dtype=np.int64)
        self.texts: list = []
        self.escaped: list[bool] = []

    def put(self, rows, texts, *, codes: np.ndarray | None = None, escaped: bool = False) -> None:
        """Give ``rows`` (mask or positions) ``texts``: one text, one per row, or distinct texts and ``codes``."""
        start = len(self.texts)
        if isinstance(texts, str):
            self.texts.append(texts)
            self.codes[rows] = start
        else:
            texts = list(texts)
            self.texts.extend(texts)
            self.codes[rows] = start + (np.arange(len(texts)) if codes is None else codes)
        self.escaped.extend([escaped] * (len(self.texts) - start))

    def distinct(self) -> pa.Array:
        """The distinct texts, as ``codes`` number them.

        Missing where None or empty; the reason separator is replaced inside each text not already escaped.
        """
        values = np.array([t if t else None for t in self.texts], dtype=object)
        plain = ~np.array(self.escaped, dtype=bool)
        values[plain] = [t.replace(REASON_SEP, ", ") if t else None for t in values[plain]]
        return pa.array(values, type=_TEXT, from_pandas=True)

    def arrow(self) -> pa.Array:
        """The column: missing where no text, or the text is None or empty (see :meth:`distinct`)."""
        return self.distinct().take(pa.array(self.codes, mask=self.codes < 0))


def _need_then_transfer(need: _Texts, transfer: pa.Array, t_ids: np.ndarray, live: np.ndarray) -> pa.Array | None:
    """Each live row's need and transfer sentences joined by the separator, missing elsewhere.

    The transfer sentence stands alone where the need has none. Joined once per distinct (need, transfer) pair and
    then taken: one column of a million texts built, not two. ``None`` when a transfer text is missing (the caller
    then joins the two columns).
    """
    if transfer.null_count:
        return None
    n, rows = len(live), np.flatnonzero(live)
    k = len(transfer)
    key = (need.codes[rows] + 1) * k + t_ids[rows]
    pair, keys = pd.factorize(key)
    keys = np.asarray(keys, dtype=np.int64)
    need_code, t_code = keys // k - 1, keys % k
    joined = pc.binary_join_element_wise(need.distinct().take(pa.array(need_code, mask=need_code < 0)),
                                         transfer.take(pa.array(t_code)), pa.scalar(REASON_SEP, _TEXT),
                                         null_handling="skip")
    at = np.full(n, -1, dtype=np.int64)
    at[rows] = pair
    return joined.take(pa.array(at, mask=at < 0))


def _joined_lists(values: np.ndarray | pa.ListArray, rows: np.ndarray) -> pa.Array:
    """Each row's list of texts joined by the reason separator (replaced inside each text), missing elsewhere.

    Joined by Arrow: the lists become one list array (``values`` may be one already), the separator is replaced in
    its flat values, and ``binary_join`` joins each list; an empty list or an empty joined text is missing.
    """
    lists = values if isinstance(values, pa.ListArray) else pa.array(values, type=pa.list_(_TEXT), from_pandas=True)
    flat = pc.replace_substring(lists.values, REASON_SEP, ", ")
    escaped = pa.ListArray.from_arrays(lists.offsets, flat, mask=lists.is_null())
    text = pc.binary_join(escaped, pa.scalar(REASON_SEP, _TEXT))
    keep = pc.and_(pa.array(rows), pc.fill_null(pc.greater(pc.binary_length(text), 0), False))
    return pc.if_else(keep, text, pa.nulls(len(text), _TEXT))


def _arrow_text(values: np.ndarray) -> pa.Array:
    """Object array of str/None as Arrow text, the reason separator replaced inside each text."""
    return pc.replace_substring(pa.array(values, type=_TEXT, from_pandas=True), REASON_SEP, ", ")


def _words_of(frame: pd.DataFrame, name: str, rows: np.ndarray) -> np.ndarray:
    """The column ``name`` at ``rows`` as Python objects (``None`` when absent), converted only there."""
    if name in frame.columns:
        return frame[name].iloc[rows].astype(object).to_numpy()
    return np.full(len(rows), None, dtype=object)


def _text_column(frame: pd.DataFrame, name: str) -> pa.Array:
    """A text column as Arrow text (missing as null), without a round trip through Python objects."""
    col = frame[name]
    arr = pa.array(col if isinstance(col.dtype, pd.StringDtype) else col.astype(object).to_numpy(), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(_TEXT)


def prioritise(assets: gpd.GeoDataFrame, *, weights: dict[str, float] | None = None,
               underuse_reasons: pa.ListArray | None = None) -> gpd.GeoDataFrame:
    """Add ``transfer_score``, ``priority``, ``reasons`` and ``constraints``.

    Rules (need uses ``need_decile``: the IMD decile, or the composite decile with custom weights):

    * excluded assets, and assets with underuse evidence below 0.3: **not flagged**;
    * underuse >= 0.5 in a decile 1-3 area: **High**, unless ``location_check`` marks the site far outside its
      publisher's area (:mod:`assets_map.engine.location`): then **Medium**, the reason saying so;
    * underuse >= 0.5 in decile 4-6, or 0.3-0.5 in decile 1-3: **Medium**;
    * any other asset with underuse >= 0.3, including unplaced ones (need not assessed): **Low**.

    Vectorised: the rules are array operations, and each text that depends on a few values
    only (the need area's sentence, the transfer sentence) is written once per distinct
    combination, so a million assets cost what their distinct areas and tenures cost.

    The underuse reasons are read from the ``underuse_reasons`` column (a list per asset), or given as
    ``underuse_reasons``, one Arrow list per row (:func:`assets_map.engine.underuse.reason_lists`).
    """
    weights = weights or {"imd": 1.0}
    out = assets.copy(deep=False)  # copy-on-write: new columns never reach the caller's frame
    n = len(out)
    # Transferability, once per (tenure, leased out?, owner, ownership) combination.
    tenure = out["tenure"] if "tenure" in out.columns else pd.Series([None] * n, index=out.index, dtype=object)
    status = out["status"] if "status" in out.columns else pd.Series([None] * n, index=out.index, dtype=object)
    t_code = np.where(tenure.eq("freehold").fillna(False).to_numpy(dtype=bool), 0,
                      np.where(tenure.eq("leasehold").fillna(False).to_numpy(dtype=bool), 1, 2))
    leased = status.eq("leased-out").fillna(False).to_numpy(dtype=bool)
    if "anchor_type" in out.columns:
        o_code, o_words = pd.factorize(out["anchor_type"], use_na_sentinel=True)
        o_words = [w if isinstance(w, str) else None for w in o_words] + [None]  # -1: missing
    else:
        o_code, o_words = np.full(n, -1, dtype=np.int64), [None]
    if "ownership" in out.columns:
        w_code, w_words = pd.factorize(out["ownership"], use_na_sentinel=True)
        w_words = [w if isinstance(w, str) and w in OWNERSHIP_ROUTES else "" for w in w_words] + [""]
    else:
        w_code, w_words = np.full(n, -1, dtype=np.int64), [""]
    ownership = np.array(w_words, dtype=object)[w_code]
    t_ids, t_first = combined_ids((t_code, leased, o_code, ownership))
    t_rows = [transferability({"tenure": ("freehold", "leasehold", "")[t_code[i]], "status": "leased-out" if leased[i]
                               else "", "anchor_type": o_words[o_code[i]] or "other", "ownership": ownership[i]})
              for i in t_first]
    tscores = np.array([t for t, _ in t_rows], dtype="float64")[t_ids]
    transfer = _arrow_text(np.array(["Transfer: " + ", ".join(why) for _, why in t_rows], dtype=object))

    if "underuse_score" in out.columns and out["underuse_score"].dtype == np.float64:
        u = out["underuse_score"].to_numpy(dtype="float64")
    else:
        u = np.array([float(v or 0.0) for v in _col(out, "underuse_score")], dtype="float64")
    if "need_decile" in out.columns:
        decile = pd.to_numeric(out["need_decile"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        has_need = out["need_decile"].notna().to_numpy()
    else:
        decile, has_need = np.full(n, np.nan), np.zeros(n, dtype=bool)
    if "excluded" in out.columns and out["excluded"].dtype == bool:
        excluded = out["excluded"].to_numpy(dtype=bool)
    else:
        excluded = _truthy(_col(out, "excluded"))
    prio = np.full(n, 3, dtype=np.int64)  # index into PRIORITY_WORDS
    head = _Texts(n)
    not_public = ~excluded & (ownership == "private")  # never a candidate for transfer, whatever the evidence
    live = ~excluded & ~not_public
    low_u = live & (u < FLAG_THRESHOLD)
    head.put(low_u & (u == 0), "Not flagged: no evidence of underuse")
    some = low_u & (u != 0)
    if some.any():
        values, at = np.unique(u[some], return_inverse=True)
        head.put(some, [f"Not flagged: underuse evidence {v:.2f} is below the {FLAG_THRESHOLD} threshold"
                        for v in values], codes=at)
    rest = live & ~low_u  # includes NaN scores, as the per-row rules did
    unplaced = rest & ~has_need
    prio[unplaced] = 2
    if unplaced.any():
        rows = np.flatnonzero(unplaced)
        quality, note = _words_of(out, "location_quality", rows), _words_of(out, "location_note", rows)
        texts = []
        for k, i in enumerate(rows):
            if quality[k] == "none":
                where = note[k] or "it lies outside the need areas loaded"
                texts.append(f"Priority Low: underuse evidence {u[i]:.2f} but its need cannot be assessed: not placed "
                             f"({where}); add coordinates or a full postcode")
            else:
                texts.append(f"Priority Low: underuse evidence {u[i]:.2f} but it lies outside the need areas loaded, "
                             "so its need is not assessed")
        head.put(unplaced, texts)
    placed = rest & has_need
    if placed.any():
        at = np.flatnonzero(placed)
        d = decile[placed].astype(np.int64) if np.isfinite(decile[placed]).all() else \
            np.array([int(v) for v in _words_of(out, "need_decile", at)])
        up = u[placed]
        strong = up >= STRONG_UNDERUSE
        p = np.where(strong & (d <= 3), 0, np.where((strong & (d <= 6)) | (d <= 3), 1, 2))
        # A site far outside its publisher's area may not be in this need area: never High on its need.
        if "location_check" in out.columns:  # tested on the whole column: no copy of a million texts
            far = _text_column(out, "location_check")
            marked = pc.fill_null(pc.starts_with(far, CHECK_PREFIX), False).to_numpy(zero_copy_only=False)
            capped = (p == 0) & marked[at]
        else:
            far, capped = None, np.zeros(len(at), dtype=bool)
        p = np.where(capped, 1, p)
        prio[placed] = p
        # The sentence, once per distinct (priority, strength, score, confidence, decile); a capped site's own words.
        if "underuse_confidence" in out.columns:
            conf_code = pd.factorize(out["underuse_confidence"].iloc[at], use_na_sentinel=False)[0]
        else:
            conf_code = np.zeros(len(at), dtype=np.int64)
        e_ids, e_first = combined_ids((np.where(capped, -1 - np.arange(len(at)), p), strong, up, conf_code, d))
        conf = _words_of(out, "underuse_confidence", at[e_first])
        cap_words = {}
        if capped.any():
            first_capped = e_first[capped[e_first]]
            cap_words = dict(zip(first_capped.tolist(), far.take(pa.array(at[first_capped])).to_pylist(), strict=True))
        sentences = []
        for i, c in zip(e_first, conf, strict=True):
            cp = f" (not High: location to be checked: {cap_words[i][len(CHECK_PREFIX):]})" if i in cap_words else ""
            sentences.append(f"Priority {PRIORITY_WORDS[p[i]]}{cp}: {'strong' if strong[i] else 'some'} underuse "
                             f"evidence ({up[i]:.2f}, confidence {c}) in an area of {decile_text(d[i], band=False)}")
        head.put(at, sentences, codes=e_ids)
    live_rows = np.flatnonzero(live)
    need = _Texts(n)
    if len(live_rows):
        n_ids, n_first = group_ids(out, live_rows, _NEED_KEY)
        need.put(live_rows, _grouped_first(out, live_rows[n_first], _NEED_KEY, lambda row: _need_text(row, weights) or None),
                 codes=n_ids)
    if excluded.any():  # "Not flagged: <reason>", once per distinct reason (the reason's own words, not escaped)
        rows = np.flatnonzero(excluded)
        if "exclusion_reason" in out.columns:
            r_code, reasons = pd.factorize(out["exclusion_reason"].iloc[rows], use_na_sentinel=False)
            reasons = _words_of(out, "exclusion_reason", rows[np.unique(r_code, return_index=True)[1]])
        else:
            r_code, reasons = np.zeros(len(rows), dtype=np.int64), [None]
        head.put(rows, [f"Not flagged: {r}" for r in reasons], codes=r_code, escaped=True)
    head.put(not_public, f"{NOT_PUBLIC_REASON}; Transfer: route: {OWNERSHIP_ROUTES['private']}", escaped=True)
    under = pa.nulls(n, _TEXT)
    if underuse_reasons is not None:
        under = _joined_lists(underuse_reasons, live)
    elif "underuse_reasons" in out.columns:
        under = _joined_lists(out["underuse_reasons"].to_numpy(), live)
    # One vectorised join of the parts that are there: head; underuse; need; transfer (an excluded or not public
    # site's sentence stands alone).
    tail = _need_then_transfer(need, transfer, t_ids, live)
    parts = (head.arrow(), under) + ((tail,) if tail is not None else
                                     (need.arrow(), transfer.take(pa.array(t_ids, mask=~live))))
    text = pc.binary_join_element_wise(*parts, pa.scalar(REASON_SEP, _TEXT), null_handling="skip")
    if len(text) != n:  # pyarrow 26 drops the rows whose parts are all missing with "skip"; the head part is
        # never missing, so this cannot happen today: if it ever does, join in Python rather than misalign
        cols = [p.to_pylist() for p in parts]
        text = pa.array([REASON_SEP.join(v for v in row if v is not None) for row in zip(*cols, strict=True)], type=_TEXT)
    out["transfer_score"] = tscores
    out["priority"] = str_series(pa.array(PRIORITY_WORDS, type=_TEXT).take(pa.array(prio)), out.index)
    out["reasons"] = str_series(text, out.index)
    out["constraints"] = repeated_text(CONSTRAINTS_NOT_CHECKED, out.index)
    return out
