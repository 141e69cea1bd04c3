"""Site finder: a community group says what it needs and gets candidate sites, ranked with reasons.

"We need a building of 100-400 m2 for a food hub near here." A
:class:`SiteBrief` holds the use, the size range, land or building, and the
area (a drawn polygon, LSOA or ward codes picked from a list, or a point and a
radius). :func:`find_sites` then

1. filters the assets: never excluded land (parks, greenspace, allotments,
   community use); only placed sites inside the area; the right holding; a
   known size inside the range (an unknown size is kept, and said to be unknown);
   by default only sites flagged as underused;
2. scores each remaining site on plain components (availability, need around it,
   size fit, suitability of its last use, partners within walking distance,
   transferability and, for "near here", distance) whose points add to 0-100;
3. ranks them and says, for each place in the ranking, what put it there:
   its points per component, and the component that most separated it from the
   site above and the site below.

Weights are the group's to change (:data:`DEFAULT_WEIGHTS`); the ranking is a
way to order a shortlist, not a judgement that a site is suitable.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from assets_map.community.catchment import DEFAULT_CATCHMENT_M, catchment_need
from assets_map.community.partners import DEFAULT_WALK_M, DISTANCE_NOTE, partners_nearby, summarise_partners
from assets_map.engine.constraints import answers_for
from assets_map.engine.geo import repair_one
from assets_map.io.constraints import CONSTRAINT_KINDS, kind_named
from assets_map.io.report import InputError
from assets_map.schema import DISPLAY_CRS, MEASURE_CRS


@dataclass(frozen=True)
class UseProfile:
    """What a use usually needs: land or building, a typical size, past uses that suit, useful neighbours."""

    label: str
    holding: str  # land | building | either
    min_m2: float | None
    max_m2: float | None
    good_uses: tuple[str, ...]
    partner_kinds: tuple[str, ...]


USE_PROFILES: dict[str, UseProfile] = {p.label: p for p in (
    UseProfile("food hub", "building", 80, 600,
               ("shop", "store", "depot", "kitchen", "cafe", "community", "hall", "centre", "church", "warehouse",
                "office", "pavilion", "day centre"),
               ("community hub", "school or college", "GP practice")),
    UseProfile("community centre", "building", 150, 1500,
               ("community", "hall", "centre", "library", "youth", "day centre", "church", "pavilion", "school", "office"),
               ("school or college", "library", "GP practice", "community hub")),
    UseProfile("workspace", "building", 50, 2000,
               ("office", "shop", "workshop", "depot", "store", "teaching", "laboratory", "studio"),
               ("school or college", "library")),
    UseProfile("youth club", "building", 100, 800,
               ("youth", "community", "hall", "centre", "pavilion", "sports", "school"),
               ("school or college", "leisure centre", "community hub")),
    UseProfile("community growing", "land", 300, 20_000,
               ("land", "garden", "nursery", "vacant land", "grazing"),
               ("school or college", "community hub")),
    UseProfile("community housing", "land", 1000, 50_000,
               ("land", "garage", "car park", "depot", "yard", "cleared"),
               ("school or college", "GP practice")),
    UseProfile("sports and play", "land", 2000, 50_000,
               ("land", "sports", "playing", "pitch", "ground"),
               ("school or college", "leisure centre")),
    UseProfile("other", "either", None, None, (), ()),
)}

#: Points per component (the group may change them); they are rescaled to add to 100.
DEFAULT_WEIGHTS: dict[str, float] = {
    "availability": 25, "need": 25, "size": 15, "use": 10, "partners": 15, "transfer": 10, "distance": 10,
}
COMPONENT_LABELS = {
    "availability": "availability (evidence of underuse)", "need": "need around the site", "size": "size fit",
    "use": "suitability of its last use", "partners": "partners nearby", "transfer": "transferability",
    "distance": "distance from the place you chose",
}
#: Points (before rescaling) of the "constraints" component when a brief prefers sites with no constraint found.
PREFER_UNCONSTRAINED_POINTS = 15.0
COMPONENT_LABELS["constraints"] = "no planning constraint found"
_AVAILABILITY = {"High": 1.0, "Medium": 0.8, "Low": 0.6}
HOLDINGS = ("land", "building", "either")


@dataclass
class SiteBrief:
    """What a group needs.

    Parameters
    ----------
    use : a key of :data:`USE_PROFILES` or free text (free text uses no profile)
    holding : "land", "building" or "either" (default: the use's usual holding)
    min_m2, max_m2 : size range in square metres (floor area for a building, site area for land)
    area : a polygon the group drew (shapely geometry) in ``area_crs``
    area_crs : CRS of ``area`` (default EPSG:4326, as drawn on a web map)
    area_codes : LSOA or ward codes picked from a list
    near : (longitude, latitude) of "near here"
    near_name : what "near here" is called (a postcode, a ward...), said in the reasons; default "the point chosen"
    radius_m : how far from ``near`` to look (straight line)
    include_unflagged : also consider sites not flagged as underused (occupied sites rank low)
    avoid_constraints : constraint kinds (e.g. ``"conservation-area"``, or ``"any"``) a site must not be inside:
        sites inside one are left out (the funnel says how many); sites not checked are kept and say so
    prefer_unconstrained : rank sites with no constraint found among the kinds checked higher (a "constraints"
        component worth :data:`PREFER_UNCONSTRAINED_POINTS` before rescaling)
    """

    use: str = "other"
    holding: str | None = None
    min_m2: float | None = None
    max_m2: float | None = None
    area: object | None = None
    area_crs: str = DISPLAY_CRS
    area_codes: tuple[str, ...] = ()
    near: tuple[float, float] | None = None
    near_name: str | None = None
    radius_m: float = 1500.0
    include_unflagged: bool = False
    weights: dict[str, float] = field(default_factory=dict)
    avoid_constraints: tuple[str, ...] = ()
    prefer_unconstrained: bool = False

    @property
    def profile(self) -> UseProfile | None:
        """The use profile named by ``use`` (case and spaces ignored), or None for a use without one."""
        return USE_PROFILES.get(str(self.use).strip().lower())

    def resolved(self) -> tuple[str, float | None, float | None]:
        """Holding and size range, filled from the use's profile where the group left them blank."""
        p = self.profile
        holding = (self.holding or (p.holding if p else "either")).lower()
        lo = self.min_m2 if self.min_m2 is not None else (p.min_m2 if p and self.max_m2 is None else None)
        hi = self.max_m2 if self.max_m2 is not None else (p.max_m2 if p and self.min_m2 is None else None)
        return holding, lo, hi

    def validate(self) -> None:
        """Check the request as a whole.

        Raises
        ------
        InputError
            Naming every problem at once: holding, size range, ``near`` outside the UK, radius, area
            and unknown weights.
        """
        problems = []
        holding, lo, hi = self.resolved()
        if holding not in HOLDINGS:
            problems.append(f"land or building must be one of {', '.join(HOLDINGS)} (got {holding!r})")
        for name, v in (("minimum size", lo), ("maximum size", hi)):
            if v is not None and (not np.isfinite(v) or v < 0):
                problems.append(f"the {name} must be 0 m² or more (got {v})")
        if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi) and lo > hi:
            problems.append(f"the minimum size ({lo:g} m²) is larger than the maximum ({hi:g} m²)")
        if self.near is not None:
            try:
                lon, lat = (float(v) for v in self.near)
                if not (-9 <= lon <= 2.5 and 49 <= lat <= 61.5):
                    problems.append(f"'near' ({lon}, {lat}) is not a longitude, latitude in the UK")
            except (TypeError, ValueError):
                problems.append(f"'near' must be (longitude, latitude) (got {self.near!r})")
        if not np.isfinite(self.radius_m) or self.radius_m <= 0:
            problems.append(f"the search radius must be more than 0 metres (got {self.radius_m})")
        if self.area is not None and not isinstance(self.area, shapely.Geometry):
            problems.append("the area must be a polygon")
        elif self.area is not None and self.area.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(f"the area must be a polygon (got a {self.area.geom_type})")
        for k in self.avoid_constraints:
            if k != "any" and kind_named(k) is None:
                problems.append(f"unknown constraint kind {k!r}; known: any, {', '.join(CONSTRAINT_KINDS)}")
        for k in self.weights:
            if k not in DEFAULT_WEIGHTS:
                problems.append(f"unknown weight {k!r}; known: {', '.join(DEFAULT_WEIGHTS)}")
        if problems:
            raise InputError(problems)


def _code_column(layer: gpd.GeoDataFrame) -> str | None:
    for c in layer.columns:
        if str(c).lower() in ("code", "area_code", "ward_code", "lsoa_code", "lsoa21cd", "lsoa11cd") or re.fullmatch(
                r"(wd|lsoa)\d{2}cd", str(c).lower()):
            return c
    return None


def resolve_area(brief: SiteBrief, *, areas: list[gpd.GeoDataFrame] = ()) -> tuple[object | None, str]:
    """The search area as one geometry in EPSG:27700 (or None for anywhere) and its description.

    Codes are looked up in every layer of ``areas`` (the need areas, a ward layer...);
    codes found nowhere are refused, all at once.
    """
    parts, desc = [], []
    if brief.area is not None:
        g = gpd.GeoSeries([brief.area], crs=brief.area_crs).to_crs(MEASURE_CRS).iloc[0]
        g = repair_one(g)  # a polygon stays polygonal (make_valid alone can return a collection)
        parts.append(g)
        desc.append(f"the area drawn ({g.area / 10_000:.1f} ha)")
    if brief.area_codes:
        wanted = [str(c).strip() for c in brief.area_codes if str(c).strip()]
        found: dict[str, object] = {}
        for layer in areas:
            col = _code_column(layer)
            if col is None:
                continue
            lay = layer.to_crs(MEASURE_CRS)
            hit = lay[lay[col].astype("string").isin(wanted)]
            for code, geom in zip(hit[col].astype(str), hit.geometry, strict=True):
                found[code] = shapely.union(found[code], geom) if code in found else geom
        missing = [c for c in wanted if c not in found]
        if missing:
            raise InputError(f"area code{'s' if len(missing) > 1 else ''} not found in the areas loaded: "
                             + ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""))
        parts.append(shapely.union_all(list(found.values())))
        desc.append(f"{len(wanted)} area{'s' if len(wanted) > 1 else ''} picked ({', '.join(wanted[:5])}"
                    + (", ..." if len(wanted) > 5 else "") + ")")
    if brief.near is not None:
        x, y = Transformer.from_crs(DISPLAY_CRS, MEASURE_CRS, always_xy=True).transform(*map(float, brief.near))
        parts.append(shapely.Point(x, y).buffer(brief.radius_m, quad_segs=32))
        desc.append(f"within {brief.radius_m:g} m of {brief.near_name or 'the point chosen'} ({DISTANCE_NOTE})")
    if not parts:
        return None, "anywhere in the data loaded"
    return shapely.union_all(parts), " or ".join(desc)


def _size_m2(assets: gpd.GeoDataFrame, holding: str) -> tuple[np.ndarray, list[str]]:
    """The size to compare with the range: floor area for buildings, site area (stated or measured) for land."""
    floor = pd.to_numeric(assets.get("floor_area_m2"), errors="coerce").to_numpy(dtype=float) if "floor_area_m2" in assets else np.full(len(assets), np.nan)
    site = pd.to_numeric(assets.get("site_area_ha"), errors="coerce").to_numpy(dtype=float) * 10_000 if "site_area_ha" in assets else np.full(len(assets), np.nan)
    geom = assets.geometry.to_crs(MEASURE_CRS).to_numpy()
    measured = np.where(np.isin(shapely.get_type_id(geom), [3, 6]), shapely.area(geom), np.nan)
    site = np.where(np.isfinite(site), site, measured)
    kinds = assets["holding_type"].fillna("unknown").astype(str).to_numpy()
    size = np.full(len(assets), np.nan)
    what: list[str] = []
    for i, k in enumerate(kinds):
        want_building = holding == "building" or (holding == "either" and k in ("building", "both"))
        if want_building and np.isfinite(floor[i]):
            size[i], w = floor[i], "floor area"
        elif not want_building and np.isfinite(site[i]):
            size[i], w = site[i], "site area"
        elif np.isfinite(floor[i]) and holding == "either":
            size[i], w = floor[i], "floor area"
        else:
            w = "floor area" if want_building else "site area"
        what.append(w)
    return size, what


def find_sites(
    assets: gpd.GeoDataFrame,
    brief: SiteBrief,
    *,
    needs: gpd.GeoDataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    areas: list[gpd.GeoDataFrame] = (),
    walk_m: float = DEFAULT_WALK_M,
    catchment_m: float = DEFAULT_CATCHMENT_M,
    limit: int | None = None,
    parcels: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Candidate sites for a group's brief, ranked, each with the reasons for its place.

    Parameters
    ----------
    assets : the assets of an analysis (with ``priority``, ``excluded``, ``transfer_score``...)
    brief : what the group needs
    needs : the need areas (for the catchment need and for LSOA codes in the brief)
    facilities : partner facilities (see :func:`assets_map.community.partners.read_facilities`)
    areas : further layers whose codes the brief may name (e.g. wards)
    limit : keep only the top ``limit`` sites
    parcels : the analysis's freehold parcels: a site in one has its catchment measured from the parcel's outline
        (:func:`assets_map.community.catchment.catchment_need`)

    Returns
    -------
    GeoDataFrame (EPSG:27700), best first: the asset columns plus ``rank``,
    ``fit_score`` (0-100), ``fit_<component>`` points, ``size_m2``, ``why_ranked``
    and ``fit_reasons`` ("; "-separated). ``attrs["funnel"]`` says how many sites
    each filter removed; ``attrs["area"]`` describes the area searched.
    """
    brief.validate()
    holding, lo, hi = brief.resolved()
    profile = brief.profile
    layers = ([needs] if needs is not None else []) + list(areas)
    # Ward codes the assets already carry (attached by polygons or an LSOA lookup) need no ward layer.
    known_wards = set(assets["ward_code"].dropna().astype(str)) if "ward_code" in assets.columns else set()
    by_ward = tuple(c for c in brief.area_codes if str(c).strip() in known_wards)
    rest = tuple(c for c in brief.area_codes if str(c).strip() not in known_wards)
    area, area_text = resolve_area(replace(brief, area_codes=rest), areas=layers)
    if by_ward:
        ward_text = f"ward{'s' if len(by_ward) > 1 else ''} {', '.join(by_ward[:5])}" + (", ..." if len(by_ward) > 5 else "")
        area_text = ward_text if area is None else f"{area_text} or {ward_text}"
    a = assets.to_crs(MEASURE_CRS).copy()
    funnel: dict[str, int] = {"sites in the data": len(a)}

    def drop(mask: np.ndarray, why: str) -> None:
        nonlocal a
        n = int(mask.sum())
        if n:
            funnel[why] = n
        a = a[~mask]

    drop(a["excluded"].fillna(False).astype(bool).to_numpy() if "excluded" in a else np.zeros(len(a), bool),
         "never offered (parks, greenspace, allotments, community use)")
    drop((a.geometry.isna() | a.geometry.is_empty).to_numpy(), "not placed on the map")
    if not brief.include_unflagged and "priority" in a:
        drop(~a["priority"].isin(list(_AVAILABILITY)).to_numpy(), "not flagged as underused")
    if area is not None or by_ward:
        inside = np.zeros(len(a), bool)
        if area is not None:
            shapely.prepare(area)
            inside |= shapely.intersects(area, a.geometry.representative_point().to_numpy())
        if by_ward:
            inside |= a["ward_code"].astype(str).isin([str(c).strip() for c in by_ward]).to_numpy()
        drop(~inside, "outside the area chosen")
    kinds = a["holding_type"].fillna("unknown").astype(str).to_numpy()
    if holding == "building":
        drop(np.isin(kinds, ["land"]), "land only (a building was asked for)")
    elif holding == "land":
        drop(np.isin(kinds, ["building"]), "a building only (land was asked for)")
    for mask, why in _avoided(a, brief.avoid_constraints):
        drop(mask, why)
    size, size_what = _size_m2(a, holding)
    if lo is not None:
        drop(np.isfinite(size) & (size < lo), f"smaller than {lo:g} m²")
        size, size_what = _size_m2(a, holding)
    if hi is not None:
        drop(np.isfinite(size) & (size > hi), f"larger than {hi:g} m²")
        size, size_what = _size_m2(a, holding)
    funnel["candidates"] = len(a)
    if a.empty:
        out = a.assign(rank=pd.Series(dtype="Int64"), fit_score=pd.Series(dtype=float), why_ranked=pd.Series(dtype=object),
                       fit_reasons=pd.Series(dtype=object))
        out.attrs.update(funnel=funnel, area=area_text, holding=holding, size_range=(lo, hi),
                         use=profile.label if profile else str(brief.use))
        return out
    if facilities is not None and len(facilities):
        pairs = partners_nearby(a, facilities, distance_m=walk_m)
        a = summarise_partners(a, pairs, distance_m=walk_m)
        useful = set(profile.partner_kinds) if profile and profile.partner_kinds else None
        rel = pairs if useful is None else pairs[pairs["kind"].isin(useful)]
        rel_count = rel.groupby("site_id").size()
        a["_rel_partners"] = a["asset_id"].astype("string").map(rel_count).fillna(0).astype(int).to_numpy()
    else:
        a["_rel_partners"] = np.nan
    if needs is not None:
        a = catchment_need(a, needs, radius_m=catchment_m, parcels=parcels)
    weights = _weights(brief, facilities)
    near_pt = None
    if brief.near is not None:
        x, y = Transformer.from_crs(DISPLAY_CRS, MEASURE_CRS, always_xy=True).transform(*map(float, brief.near))
        near_pt = shapely.Point(x, y)
    comps = {k: [] for k in weights}
    texts: list[list[str]] = []
    for i, (_, row) in enumerate(a.iterrows()):
        why: list[str] = []
        # availability
        prio = row.get("priority")
        if prio in _AVAILABILITY:
            f = _AVAILABILITY[prio]
            why.append(f"flagged {prio} priority (underuse evidence {float(row.get('underuse_score') or 0):.2f})")
        else:
            st = row.get("status")
            f = 0.4 if st in ("vacant", "surplus", "part-vacant") else 0.1
            why.append(f"not flagged; the owner records it as {st or 'unknown'}")
        comps["availability"].append(f)
        # need
        cn, ln = row.get("catchment_need_score"), row.get("need_score")
        if pd.notna(cn):
            comps["need"].append(float(cn) / 100)
            why.append(f"need score {float(cn):.1f} of 100 within {catchment_m:g} m (area-weighted)"
                       + (f"; its own LSOA {float(ln):.1f}" if pd.notna(ln) else ""))
        elif pd.notna(ln):
            comps["need"].append(float(ln) / 100)
            why.append(f"its LSOA's need score is {float(ln):.1f} of 100")
        else:
            comps["need"].append(0.0)
            why.append("need around it not assessed (its need area has no deprivation score)"
                       if isinstance(row.get("need_area_code"), str) and row.get("need_area_code") else
                       "need around it not assessed (outside the need areas loaded)")
        # size
        s = size[i]
        if np.isfinite(s):
            comps["size"].append(1.0)
            rng = (f" (range {lo:g}-{hi:g} m²)" if lo is not None and hi is not None else
                   f" (at least {lo:g} m²)" if lo is not None else f" (at most {hi:g} m²)" if hi is not None else "")
            why.append(f"{size_what[i]} {s:,.0f} m²{rng}")
        else:
            comps["size"].append(0.4 if (lo is not None or hi is not None) else 1.0)
            why.append(f"{size_what[i]} not stated: check the size with the owner")
        # use suitability
        last_use = " ".join(str(v) for v in (row.get("use"), row.get("name")) if isinstance(v, str)).lower()
        match = next((w for w in (profile.good_uses if profile else ()) if re.search(rf"\b{re.escape(w)}", last_use)), None)
        if not profile or not profile.good_uses:
            comps["use"].append(0.5)
        elif match:
            comps["use"].append(1.0)
            why.append(f"its use or name ('{row.get('use') or row.get('name')}') suits a {profile.label} ({match})")
        else:
            comps["use"].append(0.3 if last_use.strip() else 0.4)
            why.append(f"its use ({row.get('use') or 'not stated'}) is not one that usually suits a {profile.label}")
        # partners
        rp = row.get("_rel_partners")
        if pd.notna(rp):
            comps["partners"].append(min(float(rp), 5.0) / 5.0)
            kinds_txt = " of the kinds useful to a " + profile.label if profile and profile.partner_kinds else ""
            why.append(f"{int(rp)} partner facilit{'y' if rp == 1 else 'ies'}{kinds_txt} within {walk_m:g} m "
                       f"({DISTANCE_NOTE}); nearest: {row.get('nearest_partner') or 'none'}"
                       + (f", {row.get('nearest_partner_m'):.0f} m" if pd.notna(row.get("nearest_partner_m")) else ""))
        else:
            comps["partners"].append(0.0)
        # transferability
        t = row.get("transfer_score")
        comps["transfer"].append(float(t) if pd.notna(t) else 0.0)
        why.append(f"transferability {float(t):.2f}" if pd.notna(t) else "transferability not assessed")
        # distance
        if near_pt is not None:
            d = float(shapely.distance(near_pt, row.geometry))
            comps["distance"].append(max(0.0, 1 - d / brief.radius_m))
            why.append(f"{d:,.0f} m from {brief.near_name or 'the point you chose'} ({DISTANCE_NOTE})")
        else:
            comps["distance"].append(0.0)
        texts.append(why)
    if brief.prefer_unconstrained:
        comps["constraints"], extra = _constraint_component(a)
        texts = [t + [e] for t, e in zip(texts, extra, strict=True)]
    pts = pd.DataFrame({k: np.array(v) * weights[k] for k, v in comps.items()}, index=a.index)
    a["fit_score"] = pts.sum(axis=1).round(2)
    for k in weights:
        a[f"fit_{k}"] = pts[k].round(2)
    a["size_m2"] = np.round(size, 1)
    a["fit_reasons"] = [
        "; ".join(f"{COMPONENT_LABELS[k]}: {pts.iloc[i][k]:.1f} of {weights[k]:.0f} points" for k in weights
                  if weights[k] > 0) + "; " + "; ".join(texts[i]) for i in range(len(a))]
    a["_id"] = a["asset_id"].astype(str)
    a = a.sort_values(["fit_score", "_id"], ascending=[False, True], kind="stable")
    a["rank"] = np.arange(1, len(a) + 1)
    a["why_ranked"] = _why_ranked(a, [k for k in weights if weights[k] > 0])
    a = a.drop(columns=["_id", "_rel_partners"])
    if limit:
        a = a.head(int(limit))
    a.attrs.update(funnel=funnel, area=area_text, holding=holding, size_range=(lo, hi), weights=weights,
                   use=profile.label if profile else str(brief.use))
    return a


def _weights(brief: SiteBrief, facilities) -> dict[str, float]:
    """The brief's points per component, rescaled to add to 100 (components that cannot count get 0)."""
    weights = {**DEFAULT_WEIGHTS, **{k: float(v) for k, v in brief.weights.items()}}
    if brief.near is None:
        weights["distance"] = 0.0
    if facilities is None:
        weights["partners"] = 0.0
    if brief.prefer_unconstrained:
        weights["constraints"] = PREFER_UNCONSTRAINED_POINTS
    total_w = sum(weights.values()) or 1.0
    return {k: v * 100 / total_w for k, v in weights.items()}


def _avoided(a: gpd.GeoDataFrame, kinds: tuple[str, ...]) -> list[tuple[np.ndarray, str]]:
    """The sites inside each constraint kind a brief avoids, and why they are left out."""
    keys = list(CONSTRAINT_KINDS) if "any" in kinds else [kind_named(k) for k in kinds]
    return [((answers_for(a, k) == "inside").to_numpy(), f"inside a {CONSTRAINT_KINDS[k].label} (the brief avoids it)")
            for k in keys]


def _constraint_component(a: gpd.GeoDataFrame) -> tuple[list[float], list[str]]:
    """Checked and inside none: 1; not checked at all: 0.5; inside one: 0. With the reason of each."""
    found = np.stack([answers_for(a, k).to_numpy(dtype=object) for k in CONSTRAINT_KINDS])
    checked, inside = (found != "not checked").sum(axis=0), (found == "inside").any(axis=0)
    where = a["constraints_inside"].to_numpy(dtype=object) if "constraints_inside" in a else [None] * len(a)
    points = [0.0 if i else 1.0 if c else 0.5 for i, c in zip(inside, checked, strict=True)]
    why = [f"inside a planning constraint ({w})" if i else
           f"no planning constraint found among the {c} kinds checked" if c else
           "planning constraints not checked (no layer covers it)" for i, c, w in zip(inside, checked, where, strict=True)]
    return points, why


def _name(row) -> str:
    n = row.get("name")
    return f"{n} ({row['asset_id']})" if isinstance(n, str) and n else str(row["asset_id"])


def _why_ranked(ranked: gpd.GeoDataFrame, keys: list[str]) -> list[str]:
    """For each place, the gap to the site above and below and the component that made most of it."""
    n = len(ranked)
    rows = [r for _, r in ranked.iterrows()]
    out = []
    for i, r in enumerate(rows):
        parts = [f"Ranked {i + 1} of {n} with {r['fit_score']:.1f} points"]
        best = max(keys, key=lambda k: r[f"fit_{k}"]) if keys else None
        if best:
            parts.append(f"its strongest point is {COMPONENT_LABELS[best]} ({r[f'fit_{best}']:.1f})")
        if i > 0:
            up = rows[i - 1]
            gap = up["fit_score"] - r["fit_score"]
            k = max(keys, key=lambda k: up[f"fit_{k}"] - r[f"fit_{k}"])
            diff = up[f"fit_{k}"] - r[f"fit_{k}"]
            parts.append(f"{gap:.1f} points behind #{i} {_name(up)}" +
                         (f", mostly on {COMPONENT_LABELS[k]} ({diff:.1f} fewer)" if diff > 0 else " (a tie, ordered by id)"))
        if i + 1 < n:
            down = rows[i + 1]
            gap = r["fit_score"] - down["fit_score"]
            k = max(keys, key=lambda k: r[f"fit_{k}"] - down[f"fit_{k}"])
            diff = r[f"fit_{k}"] - down[f"fit_{k}"]
            parts.append(f"{gap:.1f} points ahead of #{i + 2} {_name(down)}" +
                         (f", mostly on {COMPONENT_LABELS[k]} ({diff:.1f} more)" if diff > 0 else " (a tie, ordered by id)"))
        out.append("; ".join(parts))
    return out
