"""The vectorised scoring equals the per-row reference, on small data with every edge case.

``assets_map.engine.underuse`` and ``assets_map.engine.priority`` were rewritten from ``DataFrame.iterrows``
loops (fine for 600 rows, minutes at a million) to column operations. The row-wise
implementations are kept below, verbatim, as the reference: every score, confidence,
priority, reason text and dtype must be identical on randomly built registers that hit
every branch (missing values, NaN, separators inside names, custom weights...).
"""
from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from assets_map.engine.geo import representative_points
from assets_map.engine.needs import DOMAIN_LABELS
from assets_map.engine.priority import (
    CONSTRAINTS_NOT_CHECKED,
    REASON_SEP,
    ROUTES,
    STRONG_UNDERUSE,
    prioritise,
)
from assets_map.engine.underuse import (
    _ALL_RE,
    _BUILDING_RE,
    _NEVER_FLAGGED,
    FLAG_THRESHOLD,
    SIGNALS,
    Signal,
    _as_date,
    _short,
    apply_exclusions,
    score_underuse,
)
from assets_map.io.normalise import describing_columns
from assets_map.schema import empty_asset_frame

# ----------------------------------------------------------------- the row-wise reference (as first written)

def ref_src(row) -> str:
    parts = [p for p in (row.get("organisation"), row.get("source")) if isinstance(p, str) and p]
    date = row.get("source_date")
    when = f", {date}" if date is not None and not (isinstance(date, float) and np.isnan(date)) else ", date not stated"
    return f"source: {' register, '.join(parts) if parts else 'register'}{when}"


def ref_apply_exclusions(assets: gpd.GeoDataFrame, layers: list[tuple[str, gpd.GeoDataFrame]] = ()) -> gpd.GeoDataFrame:
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
    # Issue 13 rule 4: one vocabulary read in the use, the name and every describing source column; a building
    # is excluded by its name or description only as a cemetery, crematorium, churchyard or memorial.
    described = describing_columns([c[4:] for c in out.columns if c.startswith("src_")])
    use_cols = [("use", "use")] + [("src_" + h, f"'{h}' column") for h, k in described if k == "use"]
    name_cols = [("name", "name")] + [("src_" + h, f"'{h}' column") for h, k in described if k == "name"]
    holding = out["holding_type"].fillna("unknown").astype(str)
    words = {"land": "land", "both": "land and buildings", "building": "a building"}
    for i in range(len(out)):
        row = out.iloc[i]
        h = holding.iloc[i]
        for col, label in use_cols:
            v = row[col]
            m = _ALL_RE.search(str(v)) if isinstance(v, str) else None
            if m:
                excluded[i] = True
                reason[i] = f"its {label} is '{_short(v)}' ({m[0]}): {_NEVER_FLAGGED}"
                break
        if excluded[i]:
            continue
        for col, label in name_cols:
            v = row[col]
            m = (_BUILDING_RE if h == "building" else _ALL_RE).search(str(v)) if isinstance(v, str) else None
            if m:
                excluded[i] = True
                reason[i] = (f"it is {words.get(h, 'an asset')} named '{v}' ({m[0]}): {_NEVER_FLAGGED}" if col == "name"
                             else f"its {label} is '{_short(v)}' ({m[0]}): {_NEVER_FLAGGED}")
                break
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


def ref_score_underuse(assets: gpd.GeoDataFrame, *, as_of: dt.date | None = None) -> gpd.GeoDataFrame:
    """Add ``underuse_score``, ``underuse_confidence`` and ``underuse_reasons`` (a list per asset)."""
    as_of = as_of or dt.date.today()
    out = assets.copy()
    scores, confs, reasons = [], [], []
    for _, row in out.iterrows():
        got: list[tuple[Signal, float, str]] = []
        src = ref_src(row)
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


def ref_transferability(row) -> tuple[float, list[str]]:
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


def ref_need_text(row, weights: dict[str, float]) -> str | None:
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
    # Issue 13 rule 10: "decile 6 of 10", a band only for deciles 1-3.
    band = f", among the {imd * 10}% most deprived areas in England" if imd <= 3 else ""
    text = f"Need: in {place}, IMD decile {imd} of 10{band} ({year_txt})"
    if weights and set(weights) != {"imd"}:
        w = ", ".join(f"{DOMAIN_LABELS[d]} x{v:g}" for d, v in weights.items())
        nd = int(row["need_decile"])
        nband = f", among the {nd * 10}% most deprived areas in England" if nd <= 3 else ""
        text += f", composite need decile {nd} of 10{nband} from weights {w}"
    return text


def ref_prioritise(assets: gpd.GeoDataFrame, *, weights: dict[str, float] | None = None) -> gpd.GeoDataFrame:
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
        t, twhy = ref_transferability(row)
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
        need = ref_need_text(row, weights)
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
            r.insert(0, f"Priority {prio}: {strength} underuse evidence ({u:.2f}, confidence {row.get('underuse_confidence')}) in an area of need decile {d} of 10")
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


# ----------------------------------------------------------------- random registers hitting every branch

def _register(n: int, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    pick = lambda values: [values[i] for i in rng.integers(0, len(values), n)]  # noqa: E731
    base = empty_asset_frame(n)
    base["asset_id"] = [f"A{i}" for i in range(n)]
    base["organisation"] = pick(["Test Council", "Leeds Teaching Hospitals; NHS Trust", None, "", "Uni of X"])
    base["anchor_type"] = pick(["council", "nhs", "university", "college", "police", None, "", "housing_association",
                                "mystery"])
    base["source"] = pick(["register.csv", "eric.xls", None])
    base["source_date"] = pick([dt.date(2024, 3, 31), None, dt.date(2019, 1, 1)])
    base["name"] = pick(["Old library", "Victoria Park", "Plot 4 allotments", "Depot; yard", "Town Hall", None,
                         "Jubilee Gardens", "Common Farm", "Playing fields north"])
    base["use"] = pick(["Library", "Parks", "Managed allotments", "Office", None, "Community use", "Car park",
                        "Woodland walk", "Depot"])
    base["holding_type"] = pick(["land", "building", "both", "unknown", None])
    base["src_HoldingType"] = pick(["Buildings", "Cemetery and Crematoria", "Parks, Gardens and open space", None,
                                    "Land/Buildings", "Highway verge"])
    base["src_Description"] = pick([None, "Former park lodge", "Chapel in the cemetery", "Vacant shop", "War memorial",
                                    "Land south of the park"])
    base["tenure"] = pick(["freehold", "leasehold", "unknown", "other", None])
    base["status"] = pick(["vacant", "surplus", "part-vacant", "occupied", "leased-out", "unknown", None])
    base["empty_floor_pct"] = pick([np.nan, 0.0, 12.5, 100.0, 37.0, -3.0])
    base["underused_floor_pct"] = pick([np.nan, 0.0, 5.0, 80.0, 33.3])
    base["floor_area_m2"] = pick([np.nan, 0.0, 150.0, 3000.0, 45.5])
    base["site_area_ha"] = pick([np.nan, 0.0, 0.5, 2.0, 12.0])
    base["vacant_since"] = pick([None, dt.date(2010, 5, 1), dt.date(2025, 6, 1), dt.date(2019, 12, 31),
                                 pd.Timestamp("2016-02-29"), "2012-01-01", "not a date"])
    base["land_idle_ha"] = pick([np.nan, 0.0, 1.5, 7.0])
    base["brownfield_ref"] = pick([None, "", "BR-001", "BR-77"])
    placed = rng.random(n) < 0.8
    base["location_quality"] = np.where(placed, "register coordinates", pick(["none", "register coordinates"]))
    base["location_note"] = pick([None, "latitude and longitude were swapped; swapped back",
                                  "only a postcode district (M31) is given: too coarse to place", np.nan])
    dec = rng.integers(1, 11, n)
    inside = placed & (rng.random(n) < 0.9)
    base["need_area_code"] = [f"E0100{d:04d}" if ok else None for d, ok in zip(rng.integers(0, 50, n), inside, strict=True)]
    base["need_area_name"] = [f"Town {c[-3:]}A" if isinstance(c, str) else None for c in base["need_area_code"]]
    base["imd_decile"] = pd.array([int(d) if ok else None for d, ok in zip(dec, inside, strict=True)], dtype="Int64")
    base["need_decile"] = pd.array([int(d) if ok else None for d, ok in zip(rng.integers(1, 11, n), inside, strict=True)], dtype="Int64")
    base["iod_year"] = pd.array([2025 if ok else None for ok in inside], dtype="Int64")
    geoms = [Point(400000 + 10 * i, 300000 + (i % 7) * 10) if p else None for i, p in enumerate(placed)]
    return gpd.GeoDataFrame(base, geometry=geoms, crs="EPSG:27700")


def _same(a: pd.DataFrame, b: pd.DataFrame, cols: list[str]) -> None:
    for c in cols:
        assert a[c].dtype == b[c].dtype, (c, a[c].dtype, b[c].dtype)
        left, right = a[c].tolist(), b[c].tolist()
        for i, (x, y) in enumerate(zip(left, right, strict=True)):
            same = (x == y) or (pd.isna(x) and pd.isna(y)) if not isinstance(x, list) else x == y
            assert same, (c, i, x, y)


GREEN = gpd.GeoDataFrame({"site_name": ["Big Green", None], "site_type": ["Park", "Allotments"]},
                         geometry=[box(400000, 300000, 401000, 300030), box(401000, 300000, 402000, 300070)],
                         crs="EPSG:27700")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_exclusions_equal_reference(seed):
    a = _register(1500, seed)
    layers = [("greenspace", GREEN)]
    _same(apply_exclusions(a, layers), ref_apply_exclusions(a, layers), ["excluded", "exclusion_reason"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_underuse_equals_reference(seed):
    a = apply_exclusions(_register(1500, seed))
    as_of = dt.date(2026, 1, 15)
    _same(score_underuse(a, as_of=as_of), ref_score_underuse(a, as_of=as_of),
          ["underuse_score", "underuse_confidence", "underuse_reasons"])


@pytest.mark.parametrize("weights", [None, {"imd": 1.0}, {"income": 2.0, "health": 1.0}])
def test_priority_equals_reference(weights):
    a = score_underuse(apply_exclusions(_register(2000, 7), [("greenspace", GREEN)]), as_of=dt.date(2026, 1, 15))
    got, ref = prioritise(a, weights=weights), ref_prioritise(a, weights=weights)
    _same(got, ref, ["transfer_score", "priority", "reasons", "constraints"])
    assert set(got["priority"]) == {"High", "Medium", "Low", "not flagged"}  # every branch was exercised


def test_priority_without_optional_columns_equals_reference():
    """Frames that lack the optional columns behave as ``row.get`` returning None did."""
    a = score_underuse(apply_exclusions(_register(300, 11)), as_of=dt.date(2026, 1, 15))
    thin = a.drop(columns=["anchor_type", "location_note", "underuse_confidence", "underuse_reasons"])
    _same(prioritise(thin), ref_prioritise(thin), ["transfer_score", "priority", "reasons"])
    bare = _register(300, 12).drop(columns=["empty_floor_pct", "underused_floor_pct", "vacant_since", "floor_area_m2"])
    _same(score_underuse(bare, as_of=dt.date(2026, 1, 15)), ref_score_underuse(bare, as_of=dt.date(2026, 1, 15)),
          ["underuse_score", "underuse_confidence", "underuse_reasons"])


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_scoring_with_arrow_lists_equals_the_python_lists(seed):
    """``score`` hands the underuse reasons to the priority as Arrow lists: the same rows as the lists of
    ``score_underuse`` (empty lists, separators inside a reason and every signal included)."""
    from assets_map.engine.steps import score
    from assets_map.engine.underuse import reason_lists, underuse_parts

    a = _register(2000, seed)
    a.loc[a.index[::7], "organisation"] = "Council; Estates"  # a separator inside the source text of a reason
    as_of, layers = dt.date(2026, 1, 15), [("greenspace", GREEN)]
    plain = prioritise(score_underuse(apply_exclusions(a, layers), as_of=as_of)).drop(columns=["underuse_reasons"])
    pd.testing.assert_frame_equal(score(a, exclude=layers, as_of=as_of), plain, check_exact=True)
    under, parts = underuse_parts(apply_exclusions(a, layers), as_of=as_of)
    lists = score_underuse(apply_exclusions(a, layers), as_of=as_of)["underuse_reasons"].tolist()
    assert reason_lists(parts, len(under)).to_pylist() == lists
    assert any(len(x) == 0 for x in lists) and any(len(x) >= 2 for x in lists)
    assert reason_lists([], 0).to_pylist() == [] and reason_lists([], 2).to_pylist() == [[], []]


def test_scoring_is_fast_enough_for_a_national_register():
    """Not a timing assertion: the work must not grow with per-row Python in pandas (20k rows in seconds)."""
    a = _register(20_000, 5)
    import time

    t = time.perf_counter()
    prioritise(score_underuse(apply_exclusions(a)))
    assert time.perf_counter() - t < 20  # the row-wise version took ~8 s here; this one well under 1 s


def test_inputs_are_left_unchanged():
    """Shallow copies (copy-on-write) must never write into the caller's frame."""
    a = _register(500, 21)
    before = a.copy()
    excl = apply_exclusions(a)
    excl_before = excl.copy()
    under = score_underuse(excl, as_of=dt.date(2026, 1, 15))
    under_before = under.copy()
    out = prioritise(under)
    for frame, copy in ((a, before), (excl, excl_before), (under, under_before)):
        pd.testing.assert_frame_equal(pd.DataFrame(frame.drop(columns="geometry")),
                                      pd.DataFrame(copy.drop(columns="geometry")))
    assert under["priority"].isna().all() and out["priority"].notna().all()


def test_source_texts_made_per_pair_and_date_equal_the_per_row_text():
    from assets_map.engine.underuse import _src_text, _src_texts

    rng = np.random.default_rng(19)
    orgs = ["Leeds City Council", "", None, np.nan, "NHS; Trust", "Leeds City Council ", 7]
    sources = ["register.csv", None, "", "other; file", np.nan]
    dates = [dt.date(2024, 3, 1), "2024-03-01", None, np.nan, np.float64("nan"), 1, 1.0, True, pd.NaT,
             pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-01", tz="UTC"), "", "31/12/2023"]
    n = 3000
    frame = pd.DataFrame({"organisation": pd.Series([orgs[i] for i in rng.integers(0, len(orgs), n)], dtype=object),
                          "source": pd.Series([sources[i] for i in rng.integers(0, len(sources), n)], dtype=object),
                          "source_date": pd.Series([dates[i] for i in rng.integers(0, len(dates), n)], dtype=object)})
    rows = np.flatnonzero(rng.random(n) < 0.7)
    got = _src_texts(frame, rows)
    # the grouped rule: each (organisation, source, date) group takes its first row's text, as before
    from assets_map.engine.arrays import group_ids

    ids, first = group_ids(frame, rows, ["organisation", "source", "source_date"])
    want = [_src_text(*frame.iloc[rows[first[g]]].tolist()) for g in ids]
    assert got.tolist() == want
    assert {_src_text(*frame.iloc[i].tolist()) for i in rows} >= set(got.tolist())


@pytest.mark.parametrize("distinct", [3, 5000])
def test_group_ids_number_each_combination_by_its_first_row(distinct):
    """One mixed-radix key per combination (compacted only where a digit could overflow): ids by first appearance.

    With 5,000 distinct values in each of six columns the key would pass 2**62 without compacting.
    """
    from assets_map.engine.arrays import group_ids

    rng = np.random.default_rng(distinct)
    n = 20_000
    frame = pd.DataFrame({f"c{k}": pd.Series(rng.integers(0, distinct, n)).astype("Int64") for k in range(6)})
    frame.loc[rng.random(n) < 0.1, "c2"] = pd.NA  # missing is one value of its own
    frame["text"] = pd.array([f"t{v}" if v % 7 else None for v in rng.integers(0, distinct, n)], dtype="str")
    rows = np.flatnonzero(rng.random(n) < 0.8)
    ids, first = group_ids(frame, rows, [*frame.columns, "absent"])
    seen: dict = {}
    want = [seen.setdefault(tuple(None if pd.isna(v) else v for v in frame.iloc[r]), len(seen)) for r in rows]
    assert ids.tolist() == want
    assert first.tolist() == [want.index(g) for g in range(len(seen))]
