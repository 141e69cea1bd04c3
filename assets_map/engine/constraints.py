"""Planning constraints per site: inside, near, clear or not checked, and never one mistaken for another.

For every site and every kind in :data:`~assets_map.io.constraints.CONSTRAINT_KINDS`:

* **inside**: the site intersects a feature of a loaded layer of that kind;
* **near**: not inside, but a feature lies within the kind's ``near_m`` metres (the distance is stated);
* **clear**: a layer of that kind was loaded, it covers the site's area, and nothing is within the distance;
* **not checked**: no layer of that kind was loaded, the layer does not cover the site's area, or the
  site has no location.

A layer covers the local authorities it says it covers (an ``area_name``-like column), else those in
which it has at least one feature (local authorities are read from the need areas' LSOA names,
"Trafford 011C"); a site covered is one whose need area lies in such an authority. When the need areas'
names carry no authority, a layer covers its own extent (its features' bounding box, widened by the
kind's distance). Constraints inform and never flag or hide a site.

What is tested is the site's point, or its own outline; a point site in a registered freehold parcel
(:func:`assets_map.engine.parcels.join_parcels`) is tested as that parcel's outline, and an answer inside
says how much of the parcel's area the kind's features cover ("part of the parcel is in a flood risk zone:
35% of its area"). Every site says which it was (``constraints_measured_from``).

Speed: one STRtree of the sites is built once; each layer's features are the query side
(``predicate="intersects"``, then ``"dwithin"``), so every polygon is prepared once and tested
against the points its envelope meets.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from assets_map.engine.arrays import repeated_text
from assets_map.engine.location import local_authorities
from assets_map.engine.parcels import site_outlines
from assets_map.io.constraints import CONSTRAINT_KINDS

#: The four answers, in the order a card lists them.
ANSWERS = ("inside", "near", "clear", "not checked")
#: Columns of the ``constraints`` layer.
CONSTRAINT_COLUMNS = ("asset_id", "kind", "dataset", "answer", "feature", "distance_m", "parcel_share", "source",
                      "source_date", "note")
#: Summary columns added to the assets.
SUMMARY_COLUMNS = ("constraints", "constraints_inside", "constraints_near", "constraints_clear",
                   "constraints_not_checked", "constraints_sources", "constraints_measured_from")
NO_LAYER = "no layer of this kind was loaded"
NOT_COVERED = "the layer loaded does not cover this site's area"
UNPLACED = "the site has no location"
UNKNOWN_AREA = "the site is outside the need areas loaded, so whether the layer covers it is not known"
_SEP = "; "


def _feature_text(names: np.ndarray, refs: np.ndarray, grades: np.ndarray) -> np.ndarray:
    """"Old Church of St Werburgh (1067865, grade I)" for each feature."""
    out = np.empty(len(names), dtype=object)
    for i, (n, r, g) in enumerate(zip(names, refs, grades, strict=True)):
        extra = [x for x in (r, f"grade {g}" if g else None) if x]
        head = str(n).replace(";", ",") if n else "unnamed feature"
        out[i] = f"{head} ({', '.join(extra)})" if extra else head
    return out


def _site_authorities(assets: gpd.GeoDataFrame, needs: gpd.GeoDataFrame | None) -> tuple[np.ndarray, dict]:
    """Each site's local authority (None: not known) and the authorities of the need areas."""
    if needs is None or "need_area_code" not in assets.columns:
        return np.full(len(assets), None, dtype=object), {}
    las = local_authorities(needs)
    if not las:
        return np.full(len(assets), None, dtype=object), {}
    codes = needs["code"].astype(object).to_numpy()
    by_code = pd.Series({codes[p]: name for name, pos in las.items() for p in pos}, dtype=object)
    site = assets["need_area_code"].astype(object).map(by_code).to_numpy(dtype=object)
    site[pd.isna(site)] = None
    return site, las


def _covered(features: gpd.GeoDataFrame, stated: list[str], pts: np.ndarray, site_la: np.ndarray, las: dict,
             needs: gpd.GeoDataFrame | None, near_m: float) -> tuple[np.ndarray, str]:
    """Which sites the layer covers, and its coverage in words."""
    if las:
        if stated:
            wanted = {s.casefold() for s in stated}
            names = {la for la in las if la.casefold() in wanted}
            how = "the local authorities it names"
        else:
            # the need areas are the query side (35k prepared polygons), the features the tree (up to ~400k)
            hit = np.unique(shapely.STRtree(features.geometry.to_numpy()).query(needs.geometry.to_numpy(),
                                                                                 predicate="intersects")[0])
            codes = needs["code"].astype(object).to_numpy()
            code_la = {codes[p]: la for la, pos in las.items() for p in pos}
            names = {code_la[c] for c in codes[hit] if c in code_la}
            how = "the local authorities it has features in"
        covered = pd.Series(site_la, dtype=object).isin(names).to_numpy()
        return covered, f"{how}: {', '.join(sorted(names)) or 'none of the need areas loaded'}"
    x0, y0, x1, y1 = features.total_bounds
    box = shapely.box(x0 - near_m, y0 - near_m, x1 + near_m, y1 + near_m)
    return shapely.intersects(box, pts) & ~pd.isna(pts), "its features' extent"


def _nearest(pairs: tuple[np.ndarray, np.ndarray], sites: np.ndarray, feats: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each site in the pairs: the closest feature, its distance and how many features were found."""
    fi, si = pairs
    if not len(si):
        return (np.empty(0, np.int64),) * 2 + (np.empty(0),) + (np.empty(0, np.int64),)
    d = shapely.distance(sites[si], feats[fi])
    order = np.lexsort((fi, d, si))
    si, fi, d = si[order], fi[order], d[order]
    first = np.r_[True, si[1:] != si[:-1]]
    starts = np.flatnonzero(first)
    counts = np.diff(np.r_[starts, len(si)])
    return si[first], fi[first], d[first], counts


def _share_words(share: float) -> str:
    """"35%", with the ends kept honest: "under 1%" is never rounded to none, "over 99%" never to all."""
    if share >= 1 - 1e-9:
        return "all"
    if share > 0.995:
        return "over 99%"
    if share < 0.005:
        return "under 1%"
    return f"{share:.0%}"


def _parcel_shares(pairs: tuple[np.ndarray, np.ndarray], outlines: np.ndarray, feats: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """For each outline in the pairs: the share of its area inside the union of the features it meets.

    ``pairs`` are (feature, outline) positions. Overlapping features are counted once (their union is cut);
    features with no area (points, lines) give no share (NaN).
    """
    fi, si = pairs
    if not len(si):
        return np.empty(0, np.int64), np.empty(0)
    area_feat = shapely.area(feats[fi]) > 0
    fi, si = fi[area_feat], si[area_feat]
    order = np.argsort(si, kind="stable")
    fi, si = fi[order], si[order]
    sites, starts, counts = np.unique(si, return_index=True, return_counts=True)
    cut = np.full(len(sites), np.nan)
    one = counts == 1
    cut[one] = shapely.area(shapely.intersection(outlines[sites[one]], feats[fi[starts[one]]]))
    for k in np.flatnonzero(~one):  # several features on one parcel: their union, so an overlap counts once
        mine = feats[fi[starts[k]:starts[k] + counts[k]]]
        cut[k] = shapely.area(shapely.intersection(outlines[sites[k]], shapely.union_all(mine)))
    return sites, np.clip(cut / shapely.area(outlines[sites]), 0.0, 1.0)


class _Coded:
    """A text column of the ``constraints`` layer kept as integer codes into a small vocabulary (a categorical).

    Every site gets an answer for every kind: 13 million rows at a million sites, of a few dozen distinct texts.
    """

    def __init__(self, n: int):
        self.codes = np.full(n, -1, dtype=np.int32)
        self.vocab: dict[str, int] = {}

    def put(self, rows: np.ndarray, values) -> None:
        if values is None or isinstance(values, str):
            self.codes[rows] = -1 if values is None else self.vocab.setdefault(values, len(self.vocab))
            return
        codes, uniques = pd.factorize(pd.Series(values, dtype=object))
        remap = np.array([self.vocab.setdefault(u, len(self.vocab)) for u in uniques] + [-1], dtype=np.int32)
        self.codes[rows] = remap[codes]

    def categorical(self) -> pd.Categorical:
        return pd.Categorical.from_codes(self.codes, categories=list(self.vocab))


def _check_kind(k: int, features: gpd.GeoDataFrame | None, tree: shapely.STRtree | None, geoms: np.ndarray,
                rows: np.ndarray, site_la: np.ndarray, las: dict, needs, cols: dict, distance: np.ndarray,
                on_parcel: np.ndarray, share: np.ndarray) -> None:
    """Write the answers of every placed site (``geoms``, at ``rows`` of the table) for the ``k``-th kind.

    ``on_parcel`` marks the sites tested as their freehold parcel's outline: inside, they get the share of the
    parcel's area inside the kind's features (in ``share`` and the note).
    """
    spec = list(CONSTRAINT_KINDS.values())[k]
    if features is None:
        cols["answer"].put(rows, "not checked")
        cols["note"].put(rows, NO_LAYER)
        return
    covered, coverage = _covered(features, features.attrs.get("authorities", []), geoms, site_la, las, needs,
                                 spec.near_m)
    unknown = pd.isna(site_la) if las else np.zeros(len(geoms), bool)
    cols["answer"].put(rows[~covered], "not checked")
    cols["note"].put(rows[~covered], f"{NOT_COVERED} (it covers {coverage})")
    cols["note"].put(rows[~covered & unknown], UNKNOWN_AREA)
    cols["answer"].put(rows[covered], "clear")
    cols["source"].put(rows[covered], ", ".join(pd.unique(features["source"].astype(object))))
    dates = [d for d in pd.unique(features["source_date"].astype(object)) if isinstance(d, str) and d]
    cols["source_date"].put(rows[covered], ", ".join(dates) or None)
    cols["note"].put(rows[covered], f"nothing within {spec.near_m:g} m" if spec.near_m else "not inside any feature")
    feats = features.geometry.to_numpy()
    texts = np.full(len(features), None, dtype=object)  # made for the features found near a site only
    fsrc, fdate = features["source"].to_numpy(dtype=object), features["source_date"].to_numpy(dtype=object)
    none = (np.empty(0, np.int64), np.empty(0, np.int64))
    # The features are the query side: each polygon is prepared once and tested against the sites its envelope meets.
    hits = tree.query(feats, predicate="intersects") if tree is not None else none
    near = tree.query(feats, predicate="dwithin", distance=spec.near_m) if tree is not None and spec.near_m > 0 else none
    for label, pairs in (("near", near), ("inside", hits)):  # inside last: it wins over near
        si, fi, d, count = _nearest(pairs, geoms, feats)
        if not len(si):
            continue
        at = rows[si]
        todo = np.unique(fi[pd.isna(texts[fi])])
        texts[todo] = _feature_text(*(features[c].to_numpy(dtype=object)[todo] for c in ("feature_name", "reference",
                                                                                         "grade")))
        cols["answer"].put(at, label)
        cols["feature"].put(at, [f"{t} and {c - 1} more" if c > 1 else t for t, c in zip(texts[fi], count, strict=True)])
        distance[at] = 0.0 if label == "inside" else np.round(d, 1)
        cols["source"].put(at, fsrc[fi])
        cols["source_date"].put(at, fdate[fi])
        cols["note"].put(at, spec.meaning if label == "inside" else f"within {spec.near_m:g} m: {spec.meaning}")
    fi, si = hits
    parcel_hits = on_parcel[si]
    if parcel_hits.any():
        sites, part = _parcel_shares((fi[parcel_hits], si[parcel_hits]), geoms, feats)
        share[rows[sites]] = part
        cols["note"].put(rows[sites], [
            f"{'all' if w == 'all' else 'part'} of the parcel is in a {spec.label}"
            + ("" if w == "all" else f": {w} of its area") + f"; {spec.meaning}"
            for w in map(_share_words, part)])


def check_constraints(assets: gpd.GeoDataFrame, layers: list[gpd.GeoDataFrame], needs: gpd.GeoDataFrame | None = None,
                      parcels: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Every site's answer for every constraint kind: the ``constraints`` layer of a result.

    Parameters
    ----------
    assets : the sites (EPSG:27700), with ``asset_id`` and, for coverage by local authority, ``need_area_code``
    layers : constraint layers read by :func:`assets_map.io.constraints.read_constraint_layer` (several of one
        kind are used together)
    needs : the need areas (their LSOA names give the local authorities a layer covers)
    parcels : the result's freehold parcels: a point site with a ``parcel_id`` among them is tested as the parcel's
        outline (:func:`assets_map.engine.parcels.site_outlines`)

    Returns
    -------
    DataFrame : one row per site and kind (sites in order, kinds in the standard order) with
        :data:`CONSTRAINT_COLUMNS`: ``kind`` in words, ``dataset`` its planning.data.gov.uk name, ``answer``
        one of :data:`ANSWERS`, ``feature`` (name, reference, grade; "and N more"), ``distance_m``
        (0 inside, metres when near, from the parcel's outline where it was tested), ``parcel_share`` (inside,
        tested as a parcel: the share of the parcel's area inside the kind's features, 0-1), ``source`` and
        ``source_date`` of the layer, ``note`` (why not checked, or what the constraint means for a community
        use, with the parcel's share); the text columns are categoricals. ``attrs["measured_from"]`` says, per
        site, what was tested (:data:`~assets_map.engine.parcels.FROM_PARCEL`, the point, or its own outline)
    """
    n, k = len(assets), len(CONSTRAINT_KINDS)
    geoms, on_parcel, measured_from = site_outlines(assets, parcels)
    placed = ~(pd.isna(geoms) | shapely.is_empty(geoms))
    pos, unplaced = np.flatnonzero(placed), np.flatnonzero(~placed)
    tree = shapely.STRtree(geoms[pos]) if len(pos) else None
    site_la, las = _site_authorities(assets, needs)
    by_kind: dict[str, list[gpd.GeoDataFrame]] = {}
    for layer in layers:
        for kind, part in layer.groupby("kind", sort=False):
            part = part.copy()
            part.attrs["authorities"] = list(layer.attrs.get("authorities") or [])
            by_kind.setdefault(kind, []).append(part)
    cols = {c: _Coded(n * k) for c in ("answer", "feature", "source", "source_date", "note")}
    distance = np.full(n * k, np.nan)
    share = np.full(n * k, np.nan)
    for j, kind in enumerate(CONSTRAINT_KINDS):
        feats = by_kind.get(kind)
        features = None
        if feats:
            features = gpd.GeoDataFrame(pd.concat(feats, ignore_index=True), crs=feats[0].crs)
            # the kind's coverage is stated only when every layer of it states its own
            stated = [f.attrs.get("authorities") or [] for f in feats]
            features.attrs["authorities"] = sorted({a for s in stated for a in s}) if all(stated) else []
        _check_kind(j, features, tree, geoms[pos], pos * k + j, site_la[pos], las, needs, cols, distance,
                    on_parcel[pos], share)
        cols["answer"].put(unplaced * k + j, "not checked")
        cols["note"].put(unplaced * k + j, NO_LAYER if features is None else UNPLACED)
    ids, uniques = pd.factorize(assets["asset_id"].astype(object))
    site = np.repeat(ids, k)  # site by site, kinds in the standard order
    which = np.tile(np.arange(k), n)
    out = pd.DataFrame({
        "asset_id": pd.Categorical.from_codes(site, categories=list(uniques)),
        "kind": pd.Categorical.from_codes(which, categories=[s.label for s in CONSTRAINT_KINDS.values()]),
        "dataset": pd.Categorical.from_codes(which, categories=list(CONSTRAINT_KINDS)),
        "answer": pd.Categorical.from_codes(cols["answer"].codes, categories=list(cols["answer"].vocab)),
        "feature": cols["feature"].categorical(), "distance_m": distance, "parcel_share": np.round(share, 4),
        "source": cols["source"].categorical(), "source_date": cols["source_date"].categorical(),
        "note": cols["note"].categorical()})
    out = out[list(CONSTRAINT_COLUMNS)]
    out.attrs["measured_from"] = measured_from
    return out


def summary_columns(table: pd.DataFrame, n: int) -> dict[str, np.ndarray]:
    """The assets' summary columns (:data:`SUMMARY_COLUMNS`) from a ``constraints`` layer of ``n`` sites.

    ``constraints_inside`` and ``constraints_near`` list "kind: feature" (near with its distance; inside a
    parcel's outline with the share of its area), ``constraints_clear`` and ``constraints_not_checked`` the
    kinds; ``constraints`` says all four in words and what was tested (``constraints_measured_from``).
    Sites share a few patterns of clear and not checked kinds: their texts are made once per pattern, and
    only the sites inside or near something get texts of their own.
    """
    k = len(CONSTRAINT_KINDS)
    labels = [s.label for s in CONSTRAINT_KINDS.values()]
    answer = table["answer"].astype("category")
    codes = np.asarray(pd.Categorical(answer, categories=list(ANSWERS)).codes, dtype=np.int64).reshape(n, k)
    # one integer per site (2 bits an answer) names its pattern of answers
    keys, inv = np.unique((codes << (2 * np.arange(k))).sum(axis=1), return_inverse=True)
    patterns = (keys[:, None] >> (2 * np.arange(k))) & 3

    def listed(which: int) -> np.ndarray:
        texts = [", ".join(lab for lab, c in zip(labels, p, strict=True) if c == which) or None for p in patterns]
        return np.array(texts + [None], dtype=object)[:-1][inv]

    out = {"constraints_clear": listed(ANSWERS.index("clear")),
           "constraints_not_checked": listed(ANSWERS.index("not checked"))}
    feature = table["feature"].astype("category")
    fcodes, fcats = np.asarray(feature.cat.codes), np.asarray(feature.cat.categories, dtype=object)
    dist = table["distance_m"].to_numpy(dtype=float)
    share = table["parcel_share"].to_numpy(dtype=float) if "parcel_share" in table else np.full(len(table), np.nan)
    for which in ("inside", "near"):
        col = np.full(n, None, dtype=object)
        rows, kinds = np.nonzero(codes == ANSWERS.index(which))  # site by site, kinds in order
        at = rows * k + kinds
        items = [f"{labels[j]} {d:.0f} m: {fcats[f]}" if which == "near" else f"{labels[j]}: {fcats[f]}"
                 + ("" if np.isnan(p) else f" ({_share_words(p)} of the parcel's area)")
                 for j, f, d, p in zip(kinds, fcodes[at], dist[at], share[at], strict=True)]
        for r, item in zip(rows, items, strict=True):
            col[r] = item if col[r] is None else col[r] + _SEP + item
        out[f"constraints_{which}"] = col
    heads = (("inside", "constraints_inside"), ("near", "constraints_near"), ("checked clear", "constraints_clear"),
             ("not checked", "constraints_not_checked"))
    first = np.unique(inv, return_index=True)[1]  # a site of each pattern
    plain = [" | ".join(f"{h}: {out[c][i]}" for h, c in heads[2:] if out[c][i] is not None) for i in first]
    sentence = np.array(plain + [None], dtype=object)[:-1][inv]
    for r in np.flatnonzero(pd.notna(out["constraints_inside"]) | pd.notna(out["constraints_near"])):
        sentence[r] = " | ".join(f"{h}: {out[c][r]}" for h, c in heads if out[c][r] is not None)
    measured_from = table.attrs.get("measured_from")
    if measured_from is not None and len(measured_from) == n:
        out["constraints_measured_from"] = np.asarray(measured_from, dtype=object)
        for words in {w for w in pd.unique(out["constraints_measured_from"]) if isinstance(w, str)}:
            mine = out["constraints_measured_from"] == words
            sentence[mine] = sentence[mine] + f" | tested on: {words}"
    out["constraints"] = sentence
    return {c: out[c] for c in SUMMARY_COLUMNS if c in out}


def layer_sources(layers: list[gpd.GeoDataFrame]) -> str:
    """The layers loaded, by kind: "conservation area: ca.csv (2025-03-01); listed building: lb.geojson (date not stated)"."""
    parts = []
    for kind, spec in CONSTRAINT_KINDS.items():
        seen = {}
        for layer in layers:
            rows = layer[layer["kind"] == kind]
            if len(rows):
                dates = sorted(d for d in pd.unique(rows["source_date"].astype(object)) if isinstance(d, str) and d)
                seen[layer.attrs.get("source") or rows["source"].iloc[0]] = dates[-1] if dates else "date not stated"
        if seen:
            parts.append(f"{spec.label}: " + ", ".join(f"{src} ({date})" for src, date in seen.items()))
    return _SEP.join(parts) or "none loaded"


@dataclass(frozen=True)
class ConstraintLine:
    """One row of a site's constraint table: the kind, its answer, the feature (and distance), source and meaning."""

    kind: str
    answer: str
    detail: str
    source: str
    meaning: str


def _items(value, sep: str) -> list[str]:
    return [x for x in str(value).split(sep) if x] if isinstance(value, str) and value else []


def site_constraints(row) -> list[ConstraintLine]:
    """A site's answer for every kind, in the standard order, read from its summary columns (a card's table).

    Parameters
    ----------
    row : one asset (a Series or mapping with the :data:`SUMMARY_COLUMNS`)

    Returns
    -------
    list of :class:`ConstraintLine`: ``detail`` names the feature and distance (inside, near) or why a kind was
    not checked; ``meaning`` is what the constraint means for a community use (inside, near)
    """
    get = row.get
    sources = {}
    for part in _items(get("constraints_sources"), _SEP):
        label, _, files = part.partition(": ")
        sources[label] = files
    inside = {}
    for item in _items(get("constraints_inside"), _SEP):
        label, _, feature = item.partition(": ")
        inside[label] = feature
    near = {}
    for item in _items(get("constraints_near"), _SEP):
        m = re.match(r"^(.*) (\d+) m: (.*)$", item)
        if m:
            near[m.group(1)] = f"{m.group(3)}, {m.group(2)} m away"
    clear = set(_items(get("constraints_clear"), ", "))
    placed = not (get("location_quality") == "none")
    out = []
    for spec in CONSTRAINT_KINDS.values():
        label, src = spec.label, sources.get(spec.label, "")
        if label in inside:
            out.append(ConstraintLine(label, "inside", inside[label], src, spec.meaning))
        elif label in near:
            out.append(ConstraintLine(label, "near", near[label], src, spec.meaning))
        elif label in clear:
            out.append(ConstraintLine(label, "clear", f"nothing within {spec.near_m:g} m" if spec.near_m else
                                      "not inside any", src, ""))
        else:
            area = get("need_area_code")
            why = NO_LAYER if not src else UNPLACED if not placed else \
                UNKNOWN_AREA if not isinstance(area, str) or not area else NOT_COVERED
            out.append(ConstraintLine(label, "not checked", why, src, ""))
    return out


def answers_for(assets: pd.DataFrame, kind: str) -> pd.Series:
    """Each site's answer for one kind (``"conservation-area"`` or its words), read from its summary columns.

    A frame without the summary columns (no constraints were checked) answers "not checked" everywhere.

    Parameters
    ----------
    assets : the assets of a result
    kind : a constraint kind

    Returns
    -------
    Series of :data:`ANSWERS`, on ``assets``' index
    """
    from assets_map.io.constraints import kind_named

    key = kind_named(kind)
    if key is None:
        raise ValueError(f"{kind!r} is not a constraint kind")
    label = CONSTRAINT_KINDS[key].label
    item = re.compile(rf"^{re.escape(label)} \d+ m: ")
    out = pd.Series("not checked", index=assets.index, dtype=object)
    for answer, col in (("clear", "constraints_clear"), ("near", "constraints_near"), ("inside", "constraints_inside")):
        if col not in assets.columns:
            continue
        items = assets[col].astype(object).where(assets[col].notna(), "").astype(str).str.split(_SEP if answer in (
            "inside", "near") else ", ")
        # inside and near items read "label: feature" or "label 30 m: feature"; clear items are the label itself
        hit = items.map(lambda xs: any(x == label or x.startswith(f"{label}:") or item.match(x) for x in xs))
        out[hit.to_numpy(dtype=bool)] = answer
    return out


def constraint_counts(table: pd.DataFrame) -> dict[str, dict[str, int]]:
    """How many sites got each answer, by kind (in the standard order): ``{"conservation area": {"inside": 39, ...}}``.

    Parameters
    ----------
    table : a ``constraints`` layer (:func:`check_constraints`)

    Returns
    -------
    dict : kind in words -> answer -> number of sites
    """
    got = table.groupby(["kind", "answer"], observed=True).size()
    return {k.label: {a: int(got.get((k.label, a), 0)) for a in ANSWERS} for k in CONSTRAINT_KINDS.values()}


#: The assets' ``constraints`` text when no constraint layer was loaded.
NONE_LOADED = ("not checked (no constraint layers loaded): conservation area, listed building, flood risk zone, green "
               f"belt and {len(CONSTRAINT_KINDS) - 4} more kinds")


def add_constraints(result, layers: list[gpd.GeoDataFrame]):
    """A result with its ``constraints`` layer and the assets' summary columns (the one place both are made).

    With no layers every site is "not checked" for every kind: the summary columns say so and the result has
    no ``constraints`` layer (at a million sites it would repeat that answer 13 million times).

    Parameters
    ----------
    result : an :class:`~assets_map.engine.steps.Analysis`
    layers : constraint layers

    Returns
    -------
    Analysis : the same result with ``constraints``, ``constraint_layers`` and the summary columns on ``assets``
    """
    assets = result.assets.copy(deep=False)
    layers = list(layers)
    settings = dict(result.settings)
    if not layers:
        for col in SUMMARY_COLUMNS[1:]:
            assets[col] = None
        assets["constraints_sources"] = repeated_text("none loaded", assets.index)
        assets["constraints_not_checked"] = repeated_text(", ".join(k.label for k in CONSTRAINT_KINDS.values()),
                                                          assets.index)
        assets["constraints"] = repeated_text(NONE_LOADED, assets.index)
        settings.pop("constraints", None)
        return result.replace(assets=assets, constraints=None, constraint_layers=[], settings=settings)
    table = check_constraints(assets, layers, result.needs, parcels=result.parcels)
    for col, values in summary_columns(table, len(assets)).items():
        assets[col] = values
    assets["constraints_sources"] = repeated_text(layer_sources(layers), assets.index)
    settings["constraints"] = sorted({layer.attrs.get("source", "layer") for layer in layers})
    return result.replace(assets=assets, constraints=table, constraint_layers=layers, settings=settings)
