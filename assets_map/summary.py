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

from .geo import repair_invalid, representative_points, to_measure
from .normalise import fold
from .report import InputError
from .schema import MEASURE_CRS, PRIORITIES
from .sources import open_table

FLAGGED = ("High", "Medium", "Low")
NO_DECILE = "no need data"
UNPLACED = "(not placed on the map)"


def summarise(assets: pd.DataFrame, by: pd.Series | str, *, label: str = "group") -> pd.DataFrame:
    """Sites, hectares, floor area and counts by priority for each value of ``by``.

    Parameters
    ----------
    assets : assets with ``priority``, ``site_area_ha`` and ``floor_area_m2``
    by : a column name of ``assets`` or a Series aligned with it
    label : name of the group column in the result

    Returns
    -------
    DataFrame with columns ``label``, sites, flagged, High, Medium, Low,
    not flagged, hectares and floor_area_m2, sorted by flagged then sites.
    """
    key = assets[by] if isinstance(by, str) else by
    key = key.astype(object).where(key.notna(), "(not stated)").astype(str)
    df = pd.DataFrame({
        label: key.to_numpy(),
        "priority": assets["priority"].astype(str).to_numpy() if "priority" in assets else "not flagged",
        "hectares": pd.to_numeric(assets.get("site_area_ha"), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if "site_area_ha" in assets else np.nan,
        "floor_area_m2": pd.to_numeric(assets.get("floor_area_m2"), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if "floor_area_m2" in assets else np.nan,
    })
    g = df.groupby(label, sort=False)
    out = pd.DataFrame({"sites": g.size()})
    counts = pd.crosstab(df[label], df["priority"])
    for p in PRIORITIES:
        out[p] = counts[p].reindex(out.index).fillna(0).astype(int) if p in counts else 0
    out["flagged"] = out[list(FLAGGED)].sum(axis=1)
    out["hectares"] = g["hectares"].sum(min_count=1).round(2)
    out["floor_area_m2"] = g["floor_area_m2"].sum(min_count=1).round(0)
    out = out.reset_index()[[label, "sites", "flagged", *PRIORITIES, "hectares", "floor_area_m2"]]
    return out.sort_values(["flagged", "sites", label], ascending=[False, False, True], ignore_index=True)


def by_organisation(assets: pd.DataFrame) -> pd.DataFrame:
    """Summary by the anchor institution that holds each site."""
    return summarise(assets, "organisation", label="organisation")


def by_need_decile(assets: pd.DataFrame) -> pd.DataFrame:
    """Summary by need decile, 1 (most deprived) to 10, then sites with no need data; in decile order."""
    dec = pd.to_numeric(assets["need_decile"], errors="coerce")
    key = dec.map(lambda v: f"{int(v)}" if pd.notna(v) else NO_DECILE)
    out = summarise(assets, key, label="need decile")
    order = {str(i): i for i in range(1, 11)} | {NO_DECILE: 11}
    return out.sort_values("need decile", key=lambda s: s.map(order), ignore_index=True)


def by_area(assets: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Summary by ward when wards are attached, else by LSOA (need area); returns (table, what was used)."""
    if "ward_code" in assets.columns and assets["ward_code"].notna().any():
        name = assets["ward_name"] if "ward_name" in assets else assets["ward_code"]
        key = name.astype(object).where(name.notna(), assets["ward_code"])
        key = key.where(assets["ward_code"].notna(), "(outside the wards loaded)")
        if isinstance(assets, gpd.GeoDataFrame):
            unplaced = (assets.geometry.isna() | assets.geometry.is_empty).to_numpy()
            key = key.where(~unplaced, UNPLACED)
        return summarise(assets, key, label="ward"), "ward"
    code, nm = assets["need_area_code"], assets.get("need_area_name", assets["need_area_code"])
    key = pd.Series([f"{n} ({c})" if isinstance(n, str) and n and n != c else c for c, n in zip(code, nm)],
                    index=assets.index, dtype=object)
    key = key.where(code.notna(), "(not in a need area)")
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
