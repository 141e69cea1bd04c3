"""The filters every page shares, and the "N of M sites shown" count.

A :class:`Filters` value says what the user asked for; :func:`prepare` builds
a :class:`FilterIndex` once per data version (plain numpy arrays and one
lower-cased search column), and :meth:`FilterIndex.mask` answers any filter in
milliseconds on thousands of sites and well under a second on a million.

Rules that a user can rely on:

* an empty choice (no organisation ticked, no status ticked...) means "all";
* a size range hides the sites whose size is not recorded, and says how many;
* a need-decile range narrower than 1-10 hides the sites with no need decile
  (not placed, or outside the need areas), and says how many;
* free text matches every word, in any order, anywhere in the name, address,
  UPRN, postcode or asset id, ignoring case;
* the constraint filters keep only sites that were checked: "no constraint found among those
  checked" hides the sites inside any constraint and those no layer covered (and says how many);
  "not inside" a kind (e.g. not in a conservation area) keeps the sites checked clear of it or near
  it, never those not checked.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from assets_map.schema import PRIORITIES, STATUSES

#: Columns searched by the free-text filter.
TEXT_COLUMNS = ("name", "address", "uprn", "postcode", "asset_id")
Range = tuple[float | None, float | None]


@dataclass(frozen=True)
class Filters:
    """What the user asked to see. Empty tuples mean "all"; ``None`` bounds mean "open"."""

    organisations: tuple[str, ...] = ()
    anchor_types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    site_ha: Range = (None, None)
    floor_m2: Range = (None, None)
    deciles: tuple[int, int] = (1, 10)
    areas: tuple[str, ...] = ()
    text: str = ""
    #: only sites checked against at least one constraint layer and inside none
    no_constraint_found: bool = False
    #: constraint kinds (planning.data.gov.uk names, e.g. "conservation-area") a site must be checked and not inside
    not_inside: tuple[str, ...] = ()

    def is_default(self) -> bool:
        """True when no filter is set (every site passes)."""
        return self == Filters()

    def key(self) -> str:
        """A short stable key for caches (the same filters give the same key)."""
        blob = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]


@dataclass
class FilterResult:
    """Which sites pass, how many of how many, and any site hidden for want of data."""

    mask: np.ndarray
    total: int
    notes: list[str] = field(default_factory=list)

    @property
    def shown(self) -> int:
        """How many sites pass the filters."""
        return int(self.mask.sum())

    def count_text(self) -> str:
        """``"N of M sites shown"``, as the pages print it."""
        return f"{self.shown:,} of {self.total:,} sites shown"


def area_column(assets: pd.DataFrame) -> tuple[str, str]:
    """The column the area filter uses and its label: wards when loaded, else the need area (LSOA)."""
    if "ward_code" in assets.columns and assets["ward_code"].notna().any():
        return "ward_code", "ward"
    return "need_area_code", "LSOA (need area)"


def _text(values: pd.Series) -> np.ndarray:
    return values.astype(object).where(values.notna(), "").astype(str).to_numpy()


class FilterIndex:
    """Arrays of one asset frame, built once, so that every filter answers fast."""

    def __init__(self, assets: pd.DataFrame):
        n = len(assets)
        self.total = n
        self.asset_ids = frozenset(assets["asset_id"].astype(str)) if "asset_id" in assets.columns else frozenset()
        col = lambda c: assets[c] if c in assets.columns else pd.Series([None] * n, index=assets.index)  # noqa: E731
        self.organisation = _text(col("organisation"))
        self.anchor_type = _text(col("anchor_type"))
        self.status = _text(col("status"))
        self.priority = _text(col("priority"))
        self.site_ha = pd.to_numeric(col("site_area_ha"), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        self.floor_m2 = pd.to_numeric(col("floor_area_m2"), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        self.decile = pd.to_numeric(col("need_decile"), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        area, _ = area_column(assets)
        self.area = _text(col(area))
        hay = None
        for c in TEXT_COLUMNS:
            part = pd.Series(_text(col(c)), dtype="string[pyarrow]")
            hay = part if hay is None else hay + " | " + part
        self.haystack = (hay if hay is not None else pd.Series([""] * n, dtype="string[pyarrow]")).str.lower()
        self._assets = assets  # the constraint answers are read from it only when a constraint filter is asked for
        self._answers: dict[str, np.ndarray] = {}

    def answers(self, kind: str) -> np.ndarray:
        """Each site's answer (inside, near, clear, not checked) for one constraint kind (kept once read)."""
        if kind not in self._answers:
            from assets_map.engine.constraints import answers_for

            self._answers[kind] = answers_for(self._assets, kind).to_numpy(dtype=object)
        return self._answers[kind]

    def _constraint_mask(self, f: Filters, m: np.ndarray, notes: list[str]) -> np.ndarray:
        from assets_map.io.constraints import CONSTRAINT_KINDS, kind_named

        if f.no_constraint_found:
            got = np.stack([self.answers(k) for k in CONSTRAINT_KINDS])
            checked = (got != "not checked").any(axis=0)
            inside = (got == "inside").any(axis=0)
            hidden = int((m & ~checked).sum())
            m = m & checked & ~inside
            if hidden:
                notes.append(f"{hidden} sites not checked against any constraint layer are hidden by the constraint "
                             "filter")
        for kind in f.not_inside:
            got = self.answers(kind)
            hidden = int((m & (got == "not checked")).sum())
            m = m & np.isin(got, ["clear", "near"])
            if hidden:
                label = CONSTRAINT_KINDS[kind_named(kind) or kind].label
                notes.append(f"{hidden} sites not checked for {label} are hidden by the 'not in a {label}' filter")
        return m

    def mask(self, f: Filters) -> FilterResult:
        """Which rows pass the filters ``f``."""
        m = np.ones(self.total, bool)
        notes: list[str] = []
        for values, chosen in ((self.organisation, f.organisations), (self.anchor_type, f.anchor_types),
                               (self.status, f.statuses), (self.priority, f.priorities), (self.area, f.areas)):
            if chosen:
                m &= np.isin(values, list(chosen))
        for values, (lo, hi), what in ((self.site_ha, f.site_ha, "site area"), (self.floor_m2, f.floor_m2, "floor area")):
            if lo is None and hi is None:
                continue
            known = ~np.isnan(values)
            hidden = int((m & ~known).sum())
            ok = known.copy()
            if lo is not None:
                ok &= values >= lo - 1e-9
            if hi is not None:
                ok &= values <= hi + 1e-9
            m &= ok
            if hidden:
                notes.append(f"{hidden} sites with no recorded {what} are hidden by the {what} filter")
        lo, hi = f.deciles
        if (lo, hi) != (1, 10):
            known = ~np.isnan(self.decile)
            hidden = int((m & ~known).sum())
            m &= known & (self.decile >= lo) & (self.decile <= hi)
            if hidden:
                notes.append(f"{hidden} sites with no need decile (not placed, or outside the need areas) "
                             "are hidden by the need filter")
        words = [w for w in f.text.lower().split() if w]
        for w in words:
            m &= self.haystack.str.contains(w, regex=False).fillna(False).to_numpy(dtype=bool)
        if f.no_constraint_found or f.not_inside:
            m = self._constraint_mask(f, m, notes)
        return FilterResult(m, self.total, notes)


def prepare(assets: pd.DataFrame) -> FilterIndex:
    """Build the index of ``assets`` for fast filtering (once per data version)."""
    return FilterIndex(assets)


def apply_filters(assets: gpd.GeoDataFrame, f: Filters, *, index: FilterIndex | None = None) -> gpd.GeoDataFrame:
    """The rows of ``assets`` that pass ``f`` (pass a prepared ``index`` to skip rebuilding it)."""
    idx = index or prepare(assets)
    return assets[idx.mask(f).mask]


def _nice_max(v: float) -> float:
    if not np.isfinite(v) or v <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(v))
    return float(math.ceil(v / mag) * mag)


def options(assets: pd.DataFrame) -> dict:
    """The choices the filter widgets offer for this data.

    Returns a dict with ``organisations``, ``anchor_types``, ``statuses`` and
    ``priorities`` (values present, in a sensible order), ``site_ha_max`` and
    ``floor_m2_max`` (a round upper bound for sliders), ``areas`` (code -> label),
    ``area_label`` ("ward" or "LSOA (need area)") and ``constraint_kinds`` (see :func:`checked_kinds`).
    """
    def present(col, order=()):
        if col not in assets.columns:
            return []
        vals = {str(v) for v in pd.unique(assets[col].dropna())}  # each distinct value once, not every row
        return [v for v in order if v in vals] + sorted(vals - set(order))

    area, label = area_column(assets)
    name_col = "ward_name" if area == "ward_code" else "need_area_name"
    areas: dict[str, str] = {}
    if area in assets.columns:
        codes = assets[area]
        first = ~codes.duplicated().to_numpy() & codes.notna().to_numpy()  # each area's first row, as before
        names = assets[name_col].to_numpy(dtype=object)[first] if name_col in assets.columns else [None] * int(first.sum())
        for code, nm in zip(codes.to_numpy(dtype=object)[first], names, strict=True):
            code = str(code)
            nm = nm if isinstance(nm, str) and nm else ""
            areas[code] = f"{nm} ({code})" if nm and nm != code else code
        areas = dict(sorted(areas.items(), key=lambda kv: kv[1]))
    site = pd.to_numeric(assets.get("site_area_ha", pd.Series(dtype=float)), errors="coerce")
    floor = pd.to_numeric(assets.get("floor_area_m2", pd.Series(dtype=float)), errors="coerce")
    return {
        "organisations": present("organisation"),
        "anchor_types": present("anchor_type"),
        "statuses": present("status", STATUSES),
        "priorities": present("priority", PRIORITIES),
        "site_ha_max": _nice_max(float(site.max()) if site.notna().any() else 0.0),
        "floor_m2_max": _nice_max(float(floor.max()) if floor.notna().any() else 0.0),
        "areas": areas,
        "area_label": label,
        "constraint_kinds": checked_kinds(assets),
    }


def checked_kinds(assets: pd.DataFrame) -> dict[str, str]:
    """The constraint kinds a layer was loaded for (planning.data.gov.uk name -> words), for the filter choices."""
    from assets_map.io.constraints import CONSTRAINT_KINDS

    if "constraints_sources" not in assets.columns or not len(assets):
        return {}
    loaded = {part.partition(": ")[0] for v in pd.unique(assets["constraints_sources"].dropna().astype(str))
              for part in v.split("; ")}
    return {k: spec.label for k, spec in CONSTRAINT_KINDS.items() if spec.label in loaded}
