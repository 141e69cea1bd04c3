"""Summaries for planners: by organisation, by need decile and by ward.

Each summary counts sites, hectares and floor area, and how many are flagged
at each priority. Wards come from a ward layer (polygons) or an LSOA -> ward
lookup table; with neither, :func:`by_area` groups by LSOA (the need areas)
and says so, rather than inventing wards.
"""
from __future__ import annotations

import os
import re

import geopandas as gpd
import numpy as np
import pandas as pd

from assets_map.engine.arrays import group_ids
from assets_map.engine.geo import repair_invalid, representative_points, to_measure
from assets_map.io.normalise import fold
from assets_map.io.report import InputError
from assets_map.io.sources import open_table
from assets_map.schema import MEASURE_CRS, PRIORITIES

FLAGGED = ("High", "Medium", "Low")
NO_DECILE = "no need data"
UNPLACED = "(not placed on the map)"
NOT_STATED = "(not stated)"
NO_NEED_AREA = "(not in a need area)"
OUTSIDE_WARDS = "(outside the wards loaded)"


def _is_text(s: pd.Series) -> bool:
    """Whether every non-missing value of ``s`` is a ``str`` (so equal values are equal texts).

    Grouping on such values directly groups exactly as grouping on ``str(value)``
    would; other values (``1`` and ``1.0``, ``0.0`` and ``-0.0``) can be equal
    as values but not as text, so they are converted first.
    """
    if isinstance(s.dtype, pd.StringDtype):
        return True
    if isinstance(s.dtype, pd.CategoricalDtype):
        return _is_text(pd.Series(s.cat.categories))
    return s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty")


def _in_order(codes: np.ndarray, labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """Merge groups whose labels are equal and number the groups by first appearance.

    ``codes`` (one per row, ``0 <= code < len(labels)``) index ``labels``; the
    result is ``(codes, labels)`` with unique labels, label ``0`` being that of
    the first row, label ``1`` the next new one, and so on (the order of
    ``groupby(sort=False)`` on the row labels).
    """
    merged, uniq = pd.factorize(np.asarray(labels, dtype=object))
    rows, first = pd.factorize(merged[codes])
    return rows, [uniq[i] for i in first]


def _groups(key: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Row codes and labels of the groups of ``key`` (missing -> "(not stated)"), in order of appearance.

    The labels are ``str(value)``, as ``key.astype(str)`` writes them; each distinct
    value is converted once.
    """
    if not _is_text(key):
        key = key.astype(object).where(key.notna(), NOT_STATED).astype(str)
    codes, uniques = pd.factorize(key)  # missing -> -1
    labels = [*np.asarray(uniques, dtype=object), NOT_STATED]
    return _in_order(np.where(codes < 0, len(labels) - 1, codes), labels)


def _table(assets: pd.DataFrame, codes: np.ndarray, labels: list[str], label: str) -> pd.DataFrame:
    """The summary table of rows grouped by ``codes`` (group ``i`` is named ``labels[i]``)."""
    n = len(labels)
    sites = np.bincount(codes, minlength=n).astype(np.int64)
    # an object array, inferred as text as the labels column of a groupby is (left object when empty)
    cols: dict[str, object] = {label: np.asarray(labels, dtype=object), "sites": sites}
    counts = {}
    if "priority" in assets:
        pcodes, puniq = pd.factorize(assets["priority"].astype(str))  # missing priorities count in no column
        for j, p in enumerate(np.asarray(puniq, dtype=object)):
            if p in PRIORITIES:
                counts[p] = np.bincount(codes[pcodes == j], minlength=n).astype(np.int64)
    else:
        counts["not flagged"] = sites
    zero = np.zeros(n, dtype=np.int64)
    cols["flagged"] = sum((counts.get(p, zero) for p in FLAGGED), zero)
    cols.update({p: counts.get(p, zero) for p in PRIORITIES})
    for name, col, decimals in (("hectares", "site_area_ha", 2), ("floor_area_m2", "floor_area_m2", 0)):
        values = pd.to_numeric(assets[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan) \
            if col in assets else np.full(len(codes), np.nan)
        # the same (compensated) group sum as a groupby on the labels: the same floats to the last bit
        cols[name] = pd.Series(values).groupby(codes).sum(min_count=1).round(decimals).reindex(range(n)).to_numpy()
    out = pd.DataFrame(cols)
    return out.sort_values(["flagged", "sites", label], ascending=[False, False, True], ignore_index=True)


def summarise(assets: pd.DataFrame, by: pd.Series | str, *, label: str = "group") -> pd.DataFrame:
    """Sites, hectares, floor area and counts by priority for each value of ``by``.

    Parameters
    ----------
    assets : assets with ``priority``, ``site_area_ha`` and ``floor_area_m2``
    by : a column name of ``assets`` or a Series aligned with it; missing values
        are grouped as "(not stated)", other values by their text (``str(value)``)
    label : name of the group column in the result

    Returns
    -------
    DataFrame with columns ``label``, sites, flagged, High, Medium, Low,
    not flagged, hectares and floor_area_m2, sorted by flagged then sites
    (most first), then by ``label``.
    """
    key = assets[by] if isinstance(by, str) else by
    return _table(assets, *_groups(key), label)


def overall(assets: pd.DataFrame, *, label: str = "group", name: str = "all assets") -> pd.DataFrame:
    """The one-row summary of every asset, its group named ``name`` (no rows when ``assets`` is empty)."""
    return _table(assets, np.zeros(len(assets), dtype=np.intp), [name] if len(assets) else [], label)


def by_organisation(assets: pd.DataFrame) -> pd.DataFrame:
    """Summary by the anchor institution that holds each site."""
    return summarise(assets, "organisation", label="organisation")


def by_need_decile(assets: pd.DataFrame) -> pd.DataFrame:
    """Summary by need decile, 1 (most deprived) to 10, then sites with no need data; in decile order."""
    dec = pd.to_numeric(assets["need_decile"], errors="coerce")
    codes, uniques = pd.factorize(dec)  # each distinct decile named once; missing -> -1
    labels = [f"{int(v)}" for v in uniques] + [NO_DECILE]
    out = _table(assets, *_in_order(np.where(codes < 0, len(labels) - 1, codes), labels), "need decile")
    order = {str(i): i for i in range(1, 11)} | {NO_DECILE: 11}
    return out.sort_values("need decile", key=lambda s: s.map(order), ignore_index=True)


def _combined(*columns: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the distinct combinations of columns (missing as one value): (row codes, first row of each)."""
    frame = pd.DataFrame({i: pd.Series(c).reset_index(drop=True) for i, c in enumerate(columns)})
    return group_ids(frame, np.arange(len(frame)), list(frame.columns))


def by_area(assets: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Summary by ward when wards are attached, else by LSOA (need area); returns (table, what was used).

    A ward is named by its name (its code when it has none); an LSOA by "name
    (code)" (the code alone when it has no name, or the name is the code).
    Each distinct (code, name) pair is named once, not once per asset.
    """
    if "ward_code" in assets.columns and assets["ward_code"].notna().any():
        code = assets["ward_code"]
        name = assets["ward_name"] if "ward_name" in assets else code
        if isinstance(assets, gpd.GeoDataFrame):
            unplaced = (assets.geometry.isna() | assets.geometry.is_empty).to_numpy()
        else:
            unplaced = np.zeros(len(assets), dtype=bool)
        if _is_text(code) and _is_text(name):
            rows, first = _combined(code, name, pd.Series(unplaced))
            c, nm = code.iloc[first].to_numpy(dtype=object), name.iloc[first].to_numpy(dtype=object)
            labels = [UNPLACED if u else OUTSIDE_WARDS if pd.isna(ci) else ni if pd.notna(ni) else ci
                      for ci, ni, u in zip(c, nm, unplaced[first], strict=True)]
            return _table(assets, *_in_order(rows, labels), "ward"), "ward"
        key = name.astype(object).where(name.notna(), code)
        key = key.where(code.notna(), OUTSIDE_WARDS)
        key = key.where(~unplaced, UNPLACED)
        return summarise(assets, key, label="ward"), "ward"
    code, nm = assets["need_area_code"], assets.get("need_area_name", assets["need_area_code"])
    if _is_text(code) and _is_text(nm):
        rows, first = _combined(code, nm)
        c, n = code.iloc[first].to_numpy(dtype=object), nm.iloc[first].to_numpy(dtype=object)
        labels = [NO_NEED_AREA if pd.isna(ci) else f"{ni} ({ci})" if isinstance(ni, str) and ni and ni != ci else ci
                  for ci, ni in zip(c, n, strict=True)]
        return _table(assets, *_in_order(rows, labels), "LSOA (need area)"), "LSOA"
    key = pd.Series([f"{n} ({c})" if isinstance(n, str) and n and n != c else c for c, n in zip(code, nm, strict=True)],
                    index=assets.index, dtype=object)
    key = key.where(code.notna(), NO_NEED_AREA)
    return summarise(assets, key, label="LSOA (need area)"), "LSOA"


# ---------------------------------------------------------------- wards

_WARD_CODE = re.compile(r"^(wd\d{2}cd|ward\d{0,4}code|wardcode\d{0,4}|ward\d{0,4}cd|wardcd)$")
_WARD_NAME = re.compile(r"^(wd\d{2}nm|ward\d{0,4}name|wardname\d{0,4}|ward\d{0,4}nm|wardnm|ward)$")
_LSOA_CODE = re.compile(r"^(lsoa\d{0,4}cd|lsoa\d{0,4}code|lsoacode\d{0,4}|lsoa)$")


def _pick(columns, pattern: re.Pattern, fallback: tuple[str, ...] = ()) -> str | None:
    for c in columns:
        if pattern.match(fold(c)):
            return c
    folded = {fold(c): c for c in columns}
    return next((folded[f] for f in fallback if f in folded), None)


def read_wards(path: str | os.PathLike, *, name: str | None = None) -> gpd.GeoDataFrame:
    """Read ward polygons to ``ward_code``, ``ward_name`` and geometry in EPSG:27700."""
    t = open_table(path, name=name)
    if not t.is_vector:
        raise InputError("a ward layer must be a map layer of polygons (GeoPackage, GeoJSON or Shapefile)", source=t.name)
    gdf = t.frame
    code = _pick(gdf.columns, _WARD_CODE, ("areacode", "code"))
    if code is None:
        raise InputError("has no ward code column (e.g. WD23CD, ward_code, area_code)", source=t.name)
    nm = _pick([c for c in gdf.columns if c != code], _WARD_NAME, ("areaname", "name"))
    if gdf.crs is None:
        raise InputError("has no coordinate reference system", source=t.name)
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if not gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise InputError("a ward layer must contain polygons only", source=t.name)
    geom, _ = repair_invalid(gdf.geometry)
    out = gpd.GeoDataFrame({"ward_code": gdf[code].astype(str).str.strip().to_numpy(),
                            "ward_name": (gdf[nm] if nm else gdf[code]).astype(str).to_numpy()},
                           geometry=geom.to_numpy(), crs=gdf.crs)
    out = to_measure(out)
    out.attrs["source"] = t.name
    return out


def read_ward_lookup(path: str | os.PathLike, *, name: str | None = None) -> pd.DataFrame:
    """Read an LSOA -> ward lookup (e.g. the ONS LSOA21_WD24_LAD24 file) to lsoa_code, ward_code, ward_name."""
    t = open_table(path, name=name)
    df = pd.DataFrame(t.frame.drop(columns="geometry") if t.is_vector else t.frame)
    problems = []
    lsoa = _pick(df.columns, _LSOA_CODE)
    ward = _pick(df.columns, _WARD_CODE)
    ward_nm = _pick([c for c in df.columns if c != ward], _WARD_NAME)
    if lsoa is None:
        problems.append("has no LSOA code column (e.g. LSOA21CD, lsoa21_code)")
    if ward is None:
        problems.append("has no ward code column (e.g. WD24CD, ward24_code)")
    if problems:
        raise InputError(problems, source=t.name)
    out = pd.DataFrame({"lsoa_code": df[lsoa].astype(str).str.strip(), "ward_code": df[ward].astype(str).str.strip(),
                        "ward_name": (df[ward_nm] if ward_nm else df[ward]).astype(str).str.strip()})
    out = out.drop_duplicates("lsoa_code")
    out.attrs["source"] = t.name
    return out


def attach_wards(assets: gpd.GeoDataFrame, *, wards: gpd.GeoDataFrame | None = None,
                 lookup: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """Add ``ward_code`` and ``ward_name`` to each asset.

    With ``wards`` (polygons) each placed asset takes the ward containing a point
    inside it; with ``lookup`` each asset takes the ward of its need area
    (LSOA). Assets not matched keep missing values. Exactly one of the two.
    """
    if (wards is None) == (lookup is None):
        raise ValueError("give exactly one of wards= or lookup=")
    out = assets.drop(columns=[c for c in ("ward_code", "ward_name") if c in assets.columns])
    code = pd.Series([None] * len(out), dtype=object)
    name = pd.Series([None] * len(out), dtype=object)
    if wards is not None:
        pts = representative_points(out.geometry)
        ok = ~(pts.isna() | pts.is_empty).to_numpy()
        left = gpd.GeoDataFrame({"_pos": np.flatnonzero(ok)}, geometry=pts[ok].to_numpy(), crs=MEASURE_CRS)
        hit = gpd.sjoin(left, wards.to_crs(MEASURE_CRS)[["ward_code", "ward_name", "geometry"]],
                        predicate="intersects", how="inner")
        hit = hit[~hit["_pos"].duplicated()]
        code.iloc[hit["_pos"].to_numpy()] = hit["ward_code"].to_numpy()
        name.iloc[hit["_pos"].to_numpy()] = hit["ward_name"].to_numpy()
    else:
        lk = lookup.set_index("lsoa_code")
        area = out["need_area_code"].astype(object)
        code = area.map(lk["ward_code"]).astype(object).reset_index(drop=True)
        name = area.map(lk["ward_name"]).astype(object).reset_index(drop=True)
    out["ward_code"] = code.where(code.notna(), None).to_numpy()
    out["ward_name"] = name.where(name.notna(), None).to_numpy()
    return out
