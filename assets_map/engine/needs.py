"""The need model: English Indices of Deprivation joined to LSOA boundaries.

Deprivation files come in three shapes, all accepted:

* the official wide file with long headers ("Index of Multiple Deprivation (IMD) Score", ...);
* the common renamed wide file (``IMD_score``, ``Income_decile``, ...);
* long/tidy files (``index_domain``, ``decile``, ``rank``, ``score``, optionally ``year``).

A composite need score is a weighted mean of the chosen domains' national
deprivation percentiles (100 = the most deprived LSOA in England). With the
default weights (IMD only) its decile is exactly the IMD decile.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assets_map.engine.geo import query_in_threads, to_measure
from assets_map.io.normalise import fold
from assets_map.io.report import InputError
from assets_map.io.sources import open_table

DOMAINS = ("imd", "income", "employment", "education", "health", "crime", "housing", "environment", "idaci", "idaopi")
DOMAIN_LABELS = {
    "imd": "Index of Multiple Deprivation",
    "income": "Income",
    "employment": "Employment",
    "education": "Education, Skills and Training",
    "health": "Health Deprivation and Disability",
    "crime": "Crime",
    "housing": "Barriers to Housing and Services",
    "environment": "Living Environment",
    "idaci": "Income Deprivation Affecting Children",
    "idaopi": "Income Deprivation Affecting Older People",
}
MEASURES = ("score", "rank", "decile")
#: Number of LSOAs ranked nationally in each IoD edition (England).
NATIONAL_LSOAS = {2015: 32844, 2019: 32844, 2025: 33755}
#: LSOA edition each IoD edition is published on.
LSOA_VINTAGE = {2015: 2011, 2019: 2011, 2025: 2021}
DEFAULT_WEIGHTS = {"imd": 1.0}


def domain_of(header: str) -> str | None:
    """Which IoD domain a header or ``index_domain`` value names."""
    if not isinstance(header, str):
        return None  # a blank cell
    h = header.lower()
    f = fold(header)
    if "idaci" in f or "affectingchildren" in f:
        return "idaci"
    if "idaopi" in f or "olderpeople" in f:
        return "idaopi"
    if "multipledeprivation" in f or re.match(r"^imd(?![a-z])", h) or f.startswith("imd"):
        return "imd"
    for key, words in (("income", ("income",)), ("employment", ("employment",)), ("education", ("education", "skills")),
                       ("health", ("health", "disability")), ("crime", ("crime",)),
                       ("housing", ("housing", "barriers")), ("environment", ("environment",))):
        if any(w in f for w in words):
            return key
    return None


def measure_of(header: str) -> str | None:
    """Which measure a deprivation header holds (``"decile"``, ``"rank"`` or ``"score"``), or None."""
    f = fold(header)
    # Official headers say "Rank (where 1 is most deprived)" and "Decile (where 1 is most deprived 10% of LSOAs)".
    for m in ("decile", "rank", "score"):
        if m in f:
            return m
    if re.search(r"dec\d*$", f):  # the IoD shapefiles' abbreviation: IMDDec0, IncDec
        return "decile"
    return None


_CODE_HEADERS = ("lsoa21cd", "lsoa11cd", "lsoa21code", "lsoa11code", "lsoacode2021", "lsoacode2011", "lsoacode",
                 "lsoa", "areacode", "featurecode", "code", "geographycode")
_NAME_HEADERS = ("lsoa21nm", "lsoa11nm", "lsoa21name", "lsoa11name", "lsoaname2021", "lsoaname2011", "lsoaname",
                 "areaname", "name", "geographyname")


def _find(columns, candidates) -> str | None:
    folded = {fold(c): c for c in columns}
    return next((folded[c] for c in candidates if c in folded), None)


def _year_hint(*texts: str) -> int | None:
    for t in texts:
        m = re.search(r"(?:iod|imd)[_\- ]?(2015|2019|2025)|(2015|2019|2025)", str(t).lower())
        if m:
            return int(m.group(1) or m.group(2))
        m = re.search(r"(?:iod|imd)[_\- ]?(15|19|25)(?!\d)", str(t).lower())  # IMD19_Rank
        if m:
            return 2000 + int(m.group(1))
    return None


def _header_year(columns) -> int | None:
    """The one IoD edition the headers name (``Decile2019``, ``IMD_Decile_2019``), or None (none, or several)."""
    years = {_year_hint(c) for c in columns if isinstance(c, str)} - {None}
    return years.pop() if len(years) == 1 else None


@dataclass
class Deprivation:
    """Deprivation by LSOA: one row per code, columns ``<domain>_<measure>``."""

    table: pd.DataFrame  # index: code
    year: int | None
    source: str

    @property
    def lsoa_vintage(self) -> int | None:
        """The LSOA boundaries (2011 or 2021) this index's year is published on, or None when unknown."""
        return LSOA_VINTAGE.get(self.year) if self.year else None


def _wide(df: pd.DataFrame, code_col: str, name: str) -> pd.DataFrame:
    out = pd.DataFrame(index=df[code_col].astype(str).str.strip())
    out.index.name = "code"
    for c in df.columns:
        if c == code_col:
            continue
        d, m = domain_of(c), measure_of(c)
        if d and m and f"{d}_{m}" not in out.columns:
            out[f"{d}_{m}"] = pd.to_numeric(df[c], errors="coerce").to_numpy()
    # A bare measure ("Decile2019", "Rank", "Score_2019") is the overall index when
    # the file names no IMD column for that measure.
    for c in df.columns:
        m = measure_of(c) if isinstance(c, str) else None
        if m and f"imd_{m}" not in out.columns and re.fullmatch(r"(decile|dec|rank|score)(19|20)?\d{0,2}", fold(c)):
            out[f"imd_{m}"] = pd.to_numeric(df[c], errors="coerce").to_numpy()
    return out


def _long(df: pd.DataFrame, code_col: str, name: str, year: int | None) -> tuple[pd.DataFrame, int | None]:
    cols = {fold(c): c for c in df.columns}
    dom_col = cols.get("indexdomain") or cols.get("domain") or cols.get("index")
    year_col = cols.get("year")
    if year_col is not None and pd.to_numeric(df[year_col], errors="coerce").notna().any():
        years = pd.to_numeric(df[year_col], errors="coerce")
        chosen = year if year in set(years.dropna().astype(int)) else int(years.max())
        df = df[years == chosen]
        year = chosen
    df = df.assign(_domain=df[dom_col].map(domain_of))
    unknown = sorted(set(df.loc[df["_domain"].isna(), dom_col].dropna().astype(str)))
    if unknown:
        raise InputError(f"has index_domain values that are not IoD domains: {', '.join(unknown[:5])}", source=name)
    frames = []
    for m in MEASURES:
        col = cols.get(m)
        if col is None:
            continue
        wide = df.pivot_table(index=code_col, columns="_domain", values=col, aggfunc="first")
        wide = wide.apply(pd.to_numeric, errors="coerce")
        wide.columns = [f"{d}_{m}" for d in wide.columns]
        frames.append(wide)
    if not frames:
        raise InputError("is a long file without decile, rank or score columns", source=name)
    out = pd.concat(frames, axis=1)
    out.index = out.index.astype(str).str.strip()
    out.index.name = "code"
    return out, year


def deprivation_from_frame(df: pd.DataFrame, *, name: str, year: int | None = None) -> Deprivation:
    """Recognise a deprivation table (wide official, wide renamed, or long) in a frame."""
    code_col = _find(df.columns, _CODE_HEADERS)
    if code_col is None:
        raise InputError("has no LSOA code column (e.g. 'LSOA code (2021)', lsoa21_code, lsoa11cd)", source=name)
    # "LSOA code (2011)" / lsoa11cd mean IoD 2019 (or 2015); 2021 codes mean IoD 2025.
    header_year = 2019 if ("2011" in code_col or "11" in fold(code_col)) else 2025 if ("2021" in code_col or "21" in fold(code_col)) else None
    folded = {fold(c) for c in df.columns}
    if "indexdomain" in folded or "domain" in folded:
        table, year = _long(df, code_col, name, year)
    else:
        table = _wide(df, code_col, name)
    if table.empty or not any(c.endswith(("_score", "_rank", "_decile")) for c in table.columns):
        raise InputError("has no deprivation columns (IMD score, rank or decile)", source=name)
    if not any(c.startswith("imd_") for c in table.columns):
        raise InputError("has no Index of Multiple Deprivation columns", source=name)
    year_col = _find(df.columns, ("iodyear", "imdyear", "year"))
    if year is None and year_col is not None:
        years = pd.to_numeric(df[year_col], errors="coerce").dropna().astype(int).unique()
        if len(years) == 1:
            year = int(years[0])
    if year is None:
        max_rank = table.get("imd_rank", pd.Series(dtype=float)).max()
        year = (_year_hint(name) or _header_year(df.columns) or header_year
                or (2025 if max_rank and max_rank > 32844 else None))
    dup = table.index.duplicated()
    if dup.any():
        raise InputError(f"lists {int(dup.sum())} LSOA codes more than once (e.g. {table.index[dup][0]})", source=name)
    new_codes = codes_only_in_2021(table.index)
    if new_codes and LSOA_VINTAGE.get(year) == 2011:
        raise InputError(f"is IoD {year}, published on LSOA 2011 areas, but holds {len(new_codes)} LSOA codes that only "
                         f"exist from 2021 (e.g. {new_codes[0]}); is it really IoD 2025?", source=name)
    if new_codes and year is None:
        year = 2025  # the only edition on LSOA 2021 codes
    return Deprivation(table, year, name)


def stated_year(dep: Deprivation, year: int | None = None) -> Deprivation:
    """``dep`` with its IoD edition decided: the one its content states, else ``year`` (``--iod-year``).

    Raises
    ------
    InputError : no edition can be decided (asks for ``--iod-year``), the given year contradicts the
        one the file states, or the file holds LSOA 2021 codes but the year given is on 2011 areas
    """
    if year is not None and year not in LSOA_VINTAGE:
        raise InputError(f"--iod-year must be one of {', '.join(map(str, LSOA_VINTAGE))} (got {year})")
    if dep.year is not None:
        if year is not None and year != dep.year:
            raise InputError(f"states IoD {dep.year} but --iod-year {year} was given; drop --iod-year or give the "
                             "right file", source=dep.source)
        return dep
    if year is None:
        raise InputError("does not say which edition of the Indices of Deprivation it is (no year in its name, "
                         "headers or a year column, and its LSOA codes exist in both the 2011 and 2021 editions); "
                         "give it with --iod-year (2019 for LSOA 2011 codes, 2025 for LSOA 2021 codes)",
                         source=dep.source)
    new_codes = codes_only_in_2021(dep.table.index)
    if new_codes and LSOA_VINTAGE[year] == 2011:
        raise InputError(f"holds {len(new_codes)} LSOA codes that only exist from 2021 (e.g. {new_codes[0]}), so it "
                         f"cannot be IoD {year} (LSOA 2011 areas); give --iod-year 2025", source=dep.source)
    return Deprivation(dep.table, year, dep.source)


#: The last LSOA 2011 code in England; higher E01 codes were created in 2021.
LAST_2011_CODE = 33768


def codes_only_in_2021(codes) -> list[str]:
    """The English LSOA codes in ``codes`` that did not exist in the 2011 edition (E01033769 and above)."""
    s = pd.Series(list(codes), dtype="string").str.strip()
    text = pa.array(s.to_numpy(dtype=object, na_value=None), type=pa.string())
    if len(text) and pc.all(pc.string_is_ascii(text)).as_py():  # by Arrow (0.3 s of reading the national IoD before)
        code = pc.fill_null(pc.match_substring_regex(text, r"^E01[0-9]{6}$"), False).to_numpy(zero_copy_only=False)
        nums = np.zeros(len(text), dtype=np.int64)
        nums[code] = pc.cast(pc.utf8_slice_codeunits(text.filter(code), 3, 9), pa.int64()).to_numpy()
        return sorted(text.filter(nums > LAST_2011_CODE).to_pylist())
    # Python's \d: any decimal digit, the rule Arrow's is held equal to where the codes are ASCII
    nums = pd.to_numeric(s.str.extract(r"^E01(\d{6})$")[0], errors="coerce")
    return sorted(s[(nums > LAST_2011_CODE).fillna(False)].tolist())


def read_deprivation(path: str | os.PathLike, *, name: str | None = None, year: int | None = None) -> Deprivation:
    """Read a deprivation file (CSV or Excel) in any of the accepted shapes."""
    t = open_table(path, name=name)
    df = t.frame
    if t.format == "excel":  # header is the first non-empty row
        df.columns = [str(c) for c in df.iloc[0]]
        df = df.iloc[1:]
    return deprivation_from_frame(pd.DataFrame(df), name=t.name, year=year)


def read_boundaries(path: str | os.PathLike, *, name: str | None = None, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read LSOA polygons to columns ``code``, ``name`` (+ any other columns), in EPSG:27700."""
    from assets_map.engine.geo import guess_crs_from_bounds, repair_invalid

    t = open_table(path, name=name, layer=layer)
    if not t.is_vector:
        raise InputError("boundaries must be a map layer (GeoPackage, GeoJSON or Shapefile), not a table", source=t.name)
    gdf = t.frame
    code = _find(gdf.columns, _CODE_HEADERS)
    if code is None:
        raise InputError("has no area code column (e.g. lsoa21cd, area_code, code)", source=t.name)
    nm = _find([c for c in gdf.columns if c != code], _NAME_HEADERS)
    vintage = _vintage_hint(code, t.name)
    gdf = gdf.rename(columns={code: "code", **({nm: "name"} if nm else {})})
    if "name" not in gdf.columns:
        gdf["name"] = gdf["code"]
    gdf["code"] = gdf["code"].astype(str).str.strip()
    if gdf.crs is None:
        guess = guess_crs_from_bounds(gdf)
        if guess is None:
            raise InputError("has no CRS and its coordinates are not in the UK", source=t.name)
        gdf = gdf.set_crs(guess)
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    geom, _ = repair_invalid(gdf.geometry)
    gdf = gdf.set_geometry(geom)
    dup = gdf["code"].duplicated()
    if dup.any():
        gdf = gdf.dissolve("code", as_index=False, aggfunc="first")
    gdf = to_measure(gdf)
    if vintage is None:
        # LSOA codes above E01033768 (the last 2011 code in England) exist only in the 2021 edition.
        vintage = 2021 if codes_only_in_2021(gdf["code"]) else None
    gdf.attrs["lsoa_vintage"] = vintage
    gdf.attrs["source"] = t.name
    return gdf


def _vintage_hint(*texts: str) -> int | None:
    """LSOA edition named by a header or file name: lsoa21cd, "LSOA code (2011)", lsoa11_boundaries..."""
    for t in texts:
        f = fold(t)
        if re.search(r"lsoa(20)?21|2021", f):
            return 2021
        if re.search(r"lsoa(20)?11|2011", f):
            return 2011
    return None


def parse_weights(text: str | dict | None) -> dict[str, float]:
    """Parse ``"income=2,health=1"`` into domain weights; default IMD only."""
    if not text:
        return dict(DEFAULT_WEIGHTS)
    if isinstance(text, dict):
        items = text.items()
    else:
        items = []
        for part in str(text).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise InputError(f"weight {part.strip()!r} must look like domain=number (e.g. income=2)")
            k, v = part.split("=", 1)
            items.append((k.strip(), v.strip()))
    out, bad = {}, []
    for k, v in items:
        d = k if k in DOMAINS else domain_of(k)
        try:
            w = float(v)
        except ValueError:
            bad.append(f"weight for {k!r} is not a number: {v!r}")
            continue
        if d is None:
            bad.append(f"{k!r} is not a deprivation domain ({', '.join(DOMAINS)})")
        elif w < 0 or not np.isfinite(w):
            bad.append(f"weight for {k!r} must be zero or more")
        elif w > 0:
            out[d] = w
    if not out and not bad:
        bad.append("at least one weight must be above zero")
    if bad:
        raise InputError(bad)
    return out


def _percentile(table: pd.DataFrame, domain: str, n_national: int | None) -> pd.Series:
    """National deprivation percentile of a domain (100 = most deprived), from rank, else decile."""
    rank = table.get(f"{domain}_rank")
    if rank is not None and rank.notna().any():
        n = n_national or float(rank.max())
        return 100.0 * (1.0 - (rank - 1.0) / n)
    decile = table.get(f"{domain}_decile")
    if decile is not None and decile.notna().any():
        return 105.0 - 10.0 * decile  # the middle of the decile's band
    raise InputError(f"the deprivation data has no rank or decile for the {DOMAIN_LABELS[domain]} domain used in the weights")


def composite_need(table: pd.DataFrame, weights: dict[str, float], year: int | None) -> tuple[pd.Series, pd.Series]:
    """Weighted mean of national deprivation percentiles, and its decile (1 = most deprived)."""
    n = NATIONAL_LSOAS.get(year) if year else None
    total = sum(weights.values())
    score = sum(_percentile(table, d, n) * (w / total) for d, w in weights.items())
    if weights.keys() == {"imd"} and "imd_decile" in table and table["imd_decile"].notna().all():
        decile = table["imd_decile"].astype("Int64")
    else:
        decile = (10 - np.floor(np.clip(score, 0, 99.9999) / 10)).astype("Int64")
    return score.round(2), decile


def check_vintage(boundaries: gpd.GeoDataFrame, dep: Deprivation, *, boundaries_name: str = "boundaries") -> list[str]:
    """Codes must match: raise a clear error on an LSOA 2011 vs 2021 mismatch; return warnings."""
    codes = set(boundaries["code"])
    matched = codes & set(dep.table.index)
    warnings = []
    b_vintage = boundaries.attrs.get("lsoa_vintage")
    if b_vintage is None and codes_only_in_2021(codes):
        b_vintage = 2021
    if b_vintage and dep.lsoa_vintage and b_vintage != dep.lsoa_vintage:
        other = {2011: "IoD 2019 (LSOA 2011)", 2021: "IoD 2025 (LSOA 2021)"}[b_vintage]
        raise InputError(
            f"{boundaries_name} are LSOA {b_vintage} areas but {dep.source} is IoD {dep.year}, published on "
            f"LSOA {dep.lsoa_vintage} areas ({len(matched)} of {len(codes)} codes happen to match). "
            f"Use LSOA {dep.lsoa_vintage} boundaries, or {other} deprivation data.")
    if not matched:
        hint = ""
        if dep.lsoa_vintage:
            hint = (f" The deprivation data is IoD {dep.year}, published on LSOA {dep.lsoa_vintage} codes; "
                    f"use LSOA {dep.lsoa_vintage} boundaries"
                    + (f" or the IoD {2025 if dep.lsoa_vintage == 2011 else 2019} file." if dep.year in (2019, 2025) else "."))
        raise InputError(f"none of the {len(codes)} area codes in {boundaries_name} appear in {dep.source}: "
                         f"they are probably different LSOA editions (2011 vs 2021).{hint}")
    missing = len(codes) - len(matched)
    if missing:
        share = missing / len(codes)
        msg = f"{missing} of {len(codes)} areas in {boundaries_name} have no deprivation data in {dep.source}"
        if share > 0.2:
            msg += f" (LSOA {dep.lsoa_vintage or '?'} codes expected)"
        warnings.append(msg)
    return warnings


def build_needs(
    boundaries: gpd.GeoDataFrame,
    deprivation: Deprivation | None = None,
    *,
    weights: dict[str, float] | None = None,
    boundaries_name: str = "boundaries",
    year: int | None = None,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Join deprivation to boundaries and add ``need_score`` and ``need_decile``.

    When ``deprivation`` is None the boundaries must carry the deprivation columns themselves.
    ``year`` is the IoD edition given by the user (``--iod-year``) for data that does not state it;
    when neither the data nor ``year`` says which edition it is, the data is refused (see
    :func:`stated_year`), so no result ever reads "IoD (year unknown)".
    """
    weights = weights or dict(DEFAULT_WEIGHTS)
    warnings: list[str] = []
    if deprivation is None:
        attrs = pd.DataFrame(boundaries.drop(columns="geometry"))
        dep = stated_year(deprivation_from_frame(attrs, name=boundaries_name, year=year), year)
        needs = boundaries[["code", "name", "geometry"]].merge(dep.table, left_on="code", right_index=True, how="left")
    else:
        dep = stated_year(deprivation, year)
        warnings += check_vintage(boundaries, dep, boundaries_name=boundaries_name)
        needs = boundaries[["code", "name", "geometry"]].merge(dep.table, left_on="code", right_index=True, how="left")
    missing_domains = [d for d in weights if not any(c.startswith(d + "_") for c in dep.table.columns)]
    if missing_domains:
        raise InputError(f"the deprivation data has no {', '.join(DOMAIN_LABELS[d] for d in missing_domains)} columns for the weights given")
    score, decile = composite_need(needs, weights, dep.year)
    needs["iod_year"] = pd.array([dep.year] * len(needs), dtype="Int64")
    needs["lsoa_vintage"] = pd.array([dep.lsoa_vintage] * len(needs), dtype="Int64")
    needs["need_score"] = score
    needs["need_decile"] = decile
    needs.attrs["weights"] = weights
    needs.attrs["iod_year"] = dep.year
    needs.attrs["deprivation_source"] = dep.source
    front = ["code", "name", "iod_year", "lsoa_vintage", "need_score", "need_decile"]
    return gpd.GeoDataFrame(needs[front + [c for c in needs.columns if c not in front]], crs=boundaries.crs), warnings


#: Need areas within this distance (metres) of a placed asset are in the study area.
STUDY_DISTANCE_M = 1000.0
#: The ways :func:`study_area` can keep need areas.
NEED_AREA_CHOICES = ("study", "all")


def study_area(needs: gpd.GeoDataFrame, assets: gpd.GeoDataFrame, *, distance_m: float = STUDY_DISTANCE_M
               ) -> tuple[gpd.GeoDataFrame, dict]:
    """The need areas of the study area, around the placed assets.

    Every LSOA of a local authority that holds a placed asset is kept, and every LSOA within
    ``distance_m`` of one.  A register analysed against the national LSOA file (35,672 areas) keeps the areas of the
    districts it covers, not the country.  The local authority of an LSOA is read from its name
    ("Trafford 011C"); names without one leave the distance rule alone.

    Parameters
    ----------
    needs : need areas (EPSG:27700), with ``code`` and ``name``
    assets : the analysed assets (EPSG:27700), with ``need_area_code`` where placed in one
    distance_m : how far around each placed asset an area is kept

    Returns
    -------
    (needs kept, record) : the record holds ``kept``, ``of``, ``authorities`` (names) and ``distance_m``,
        or ``note`` when there is no study area to draw (no asset placed in a need area) and every area was kept
    """
    from assets_map.engine.location import local_authorities

    total = len(needs)
    geoms = assets.geometry[assets.geometry.notna() & ~assets.geometry.is_empty]
    if geoms.empty or not total:
        return needs, {"kept": total, "of": total, "note": "no placed asset to draw a study area around"}
    # the distinct codes (a million sites name a few thousand areas), not a million Python strings
    held = set(pd.unique(assets["need_area_code"].dropna())) if "need_area_code" in assets.columns else set()
    if not held:  # the register lies outside every need area: there is no study area to draw
        return needs, {"kept": total, "of": total, "note": "no placed asset lies in any of them"}
    keep = np.zeros(total, dtype=bool)
    authorities = local_authorities(needs)
    codes = needs["code"].to_numpy()
    names = []
    for name, rows in authorities.items():
        if held.intersection(codes[rows]):
            keep[rows] = True
            names.append(name)
    rest = np.flatnonzero(~keep)
    if len(rest):  # the distance rule only for areas not kept yet: a national register keeps nearly all by authority
        import shapely

        _, near = query_in_threads(shapely.STRtree(needs.geometry.to_numpy()[rest]), geoms.to_numpy(), "dwithin",
                                   distance=distance_m)
        keep[rest[near]] = True
    kept = needs[keep]
    kept.attrs.update(needs.attrs)
    return kept, {"kept": int(keep.sum()), "of": total, "authorities": sorted(names), "distance_m": distance_m}


def study_area_line(record: dict | None) -> str | None:
    """The summary line saying how many need areas were kept (None without a record)."""
    if not record:
        return None
    kept, of = record["kept"], record["of"]
    if "note" in record:
        return f"need areas: all {of:,} kept ({record['note']})"
    if kept == of:
        return f"need areas: all {of:,} kept (each is in the study area)"
    where = ", ".join(record["authorities"][:5]) + (f" and {len(record['authorities']) - 5} more"
                                                    if len(record["authorities"]) > 5 else "")
    return (f"need areas: {kept:,} of {of:,} kept, the study area: the local authorities holding the assets"
            + (f" ({where})" if where else "") + f" and any area within {record['distance_m'] / 1000:g} km of an "
            f"asset (keep all need areas to export every one)")
