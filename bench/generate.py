"""Generate fictional asset registers spread over England, for the national-scale benchmarks.

Each register has the columns of a Local Government Transparency Code land and building
assets register (the layout of the real Trafford file), with the variation real registers
have: mixed-case and misspelt statuses, land named after parks, allotments, rows with no
coordinates but a postcode, and so on. Assets are placed inside real LSOA 2021 polygons of
England (an LSOA is chosen at random, so density follows population, as public estates do),
as points or as small building-footprint polygons.

Written as GeoPackage (what ``assets-map analyse`` reads), GeoParquet (the fastest cache)
and CSV with GeoX/GeoY in WGS84 (what councils publish).

Usage::

    python bench/generate.py --sizes 10000 100000 1000000 --out bench/data

Every value is invented; the seed makes the files reproducible.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

ROOT = Path(__file__).resolve().parent.parent
ENGLAND = ROOT.parent / "shared" / "data" / "england"
LSOA_GPKG = ENGLAND / "lsoa21_boundaries_ew.gpkg"
IMD_CSV = ENGLAND / "imd2025_lsoa21_scores_ranks_deciles.csv"
DEFAULT_OUT = Path(__file__).resolve().parent / "data"

STATUSES = [  # (text as registers write it, weight)
    ("Owner Occupied", 40), ("owner occupied", 5), ("Leasehold Out", 12), ("Leasehold out", 4), ("Let to tenant", 3),
    ("Vacant", 10), ("VACANT", 2), ("Vacent", 1), ("Empty", 2), ("Surplus", 4), ("Declared surplus", 1),
    ("Part vacant", 3), ("Partly occupied", 1), ("In use", 6), ("Operational", 4), ("", 2),
]
USES = [("Library", 6), ("Office", 12), ("Depot", 6), ("Community centre", 8), ("Car park", 8), ("Park", 6),
        ("Allotments", 3), ("School", 8), ("Health centre", 5), ("Youth centre", 4), ("Shop", 6), ("Industrial unit", 6),
        ("Land", 10), ("Public toilets", 2), ("Cemetery", 1), ("Playing fields", 2), ("Garage site", 3)]
ORG_KINDS = [("Borough Council", 60), ("NHS Foundation Trust", 12), ("University", 5), ("College", 5),
             ("Police", 3), ("Fire and Rescue Service", 2), ("Homes", 8), ("County Council", 5)]
PLACES = ["Ashford", "Barnsley", "Bolton", "Bristol", "Camden", "Derby", "Dudley", "Exeter", "Gateshead",
          "Halton", "Hull", "Ipswich", "Kirklees", "Leeds", "Luton", "Medway", "Newham", "Norwich", "Oldham",
          "Plymouth", "Reading", "Salford", "Sefton", "Slough", "Stockport", "Sunderland", "Swindon", "Telford",
          "Wakefield", "Walsall", "Wigan", "Wirral", "York"]
PC_AREAS = ["M", "B", "L", "LS", "S", "NE", "BS", "NG", "LE", "CV", "SE", "E", "N", "SW", "W", "PL", "EX", "YO"]


def _pick(rng: np.random.Generator, pairs, n: int) -> np.ndarray:
    values = np.array([v for v, _ in pairs], dtype=object)
    w = np.array([w for _, w in pairs], dtype=float)
    return values[rng.choice(len(values), size=n, p=w / w.sum())]


def england_lsoas(path: Path = LSOA_GPKG) -> gpd.GeoDataFrame:
    """The English LSOA 2021 polygons in EPSG:27700."""
    g = gpd.read_file(path, engine="pyogrio", use_arrow=True)
    g = g[g["lsoa21_code"].str.startswith("E01")].to_crs(27700)
    return g.reset_index(drop=True)


def points_in(polys: np.ndarray, which: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One uniform random point inside ``polys[which[i]]`` for each i (rejection in the bounding box)."""
    b = shapely.bounds(polys)
    x = np.empty(len(which))
    y = np.empty(len(which))
    todo = np.arange(len(which))
    for _ in range(200):
        if not len(todo):
            break
        k = which[todo]
        tx = b[k, 0] + rng.random(len(todo)) * (b[k, 2] - b[k, 0])
        ty = b[k, 1] + rng.random(len(todo)) * (b[k, 3] - b[k, 1])
        ok = shapely.contains_xy(polys[k], tx, ty)
        x[todo[ok]], y[todo[ok]] = tx[ok], ty[ok]
        todo = todo[~ok]
    if len(todo):  # very thin polygons: a point surely inside
        p = shapely.point_on_surface(polys[which[todo]])
        x[todo], y[todo] = shapely.get_x(p), shapely.get_y(p)
    return x, y


def footprints(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Small rotated rectangles (10-60 m sides) centred on the points: building-like polygons."""
    n = len(x)
    w = rng.uniform(10, 60, n)
    h = rng.uniform(10, 60, n)
    a = rng.uniform(0, np.pi, n)
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5]])
    cx = corners[None, :, 0] * w[:, None]
    cy = corners[None, :, 1] * h[:, None]
    rx = x[:, None] + cx * np.cos(a)[:, None] - cy * np.sin(a)[:, None]
    ry = y[:, None] + cx * np.sin(a)[:, None] + cy * np.cos(a)[:, None]
    coords = np.stack([rx, ry], axis=-1).reshape(-1, 2)
    rings = shapely.linearrings(coords, indices=np.repeat(np.arange(n), 5))
    return shapely.polygons(rings)


def register(n: int, lsoas: gpd.GeoDataFrame, *, kind: str = "points", seed: int = 8) -> gpd.GeoDataFrame:
    """A fictional register of ``n`` assets over England, in EPSG:27700.

    Parameters
    ----------
    n : number of assets
    lsoas : English LSOA polygons (EPSG:27700), from :func:`england_lsoas`
    kind : ``"points"`` or ``"polygons"`` (building footprints)
    seed : random seed
    """
    rng = np.random.default_rng(seed + n + (0 if kind == "points" else 1))
    polys = lsoas.geometry.to_numpy()
    which = rng.integers(0, len(polys), n)
    x, y = points_in(polys, which, rng)
    geom = shapely.points(x, y) if kind == "points" else footprints(x, y, rng)
    use = _pick(rng, USES, n)
    org_place = np.array(PLACES, dtype=object)[rng.integers(0, len(PLACES), n)]
    org_kind = _pick(rng, ORG_KINDS, n)
    org = np.char.add(np.char.add(org_place.astype(str), " "), org_kind.astype(str)).astype(object)
    ids = np.char.add("A", np.char.zfill(np.arange(1, n + 1).astype(str), 7)).astype(object)
    street = np.array(["High Street", "Station Road", "Church Lane", "Mill Road", "Park Road", "Victoria Street"],
                      dtype=object)[rng.integers(0, 6, n)]
    name = np.char.add(np.char.add(street.astype(str), " "), use.astype(str)).astype(object)
    holding = np.where(np.isin(use, ["Park", "Allotments", "Land", "Car park", "Cemetery", "Playing fields",
                                     "Garage site"]), "Land", np.where(rng.random(n) < 0.3, "Land and Building", "Building"))
    area = np.array(PC_AREAS, dtype=object)[rng.integers(0, len(PC_AREAS), n)].astype(str)
    pc = np.char.add(np.char.add(np.char.add(area, rng.integers(1, 30, n).astype(str)), " "),
                     np.char.add(rng.integers(0, 10, n).astype(str),
                                 np.array(list("ABDEFGHJLNPQRSTUWXYZ"))[rng.integers(0, 20, (n, 2))].astype(object).sum(axis=1).astype(str)))
    uprn = np.char.zfill(rng.integers(1, 10**11, n).astype(str), 12).astype(object)
    uprn[rng.random(n) < 0.3] = None
    floor = np.round(rng.lognormal(6, 1, n), 1)
    floor[holding == "Land"] = np.nan
    land = np.where(rng.random(n) < 0.5, np.round(rng.lognormal(-1.5, 1, n), 3), np.nan)
    dates = pd.Timestamp("2024-03-31") - pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    frame = gpd.GeoDataFrame({
        "OrganisationLabel": org,
        "EffectiveDate": dates.strftime("%Y-%m-%d").to_numpy(dtype=object),
        "UPRN": uprn,
        "AssetCode": ids,
        "PropertyName": name,
        "PostCode": pc.astype(object),
        "TenureType": _pick(rng, [("Freehold", 80), ("Leasehold", 15), ("", 5)], n),
        "TenureDetail": _pick(rng, STATUSES, n),
        "OtherDetail": use,
        "HoldingType": holding.astype(object),
        "BuildingSize": floor,
        "LandArea": land,
    }, geometry=geom, crs=27700)
    return frame


def write_all(frame: gpd.GeoDataFrame, stem: Path, formats=("gpkg", "parquet", "csv")) -> dict[str, Path]:
    """Write ``frame`` as GeoPackage, GeoParquet and CSV (GeoX/GeoY WGS84 of a point inside)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = {}
    if "gpkg" in formats:
        p = stem.with_suffix(".gpkg")
        p.unlink(missing_ok=True)
        pyogrio.write_dataframe(frame, p, layer="assets", driver="GPKG", use_arrow=True)
        out["gpkg"] = p
    if "parquet" in formats:
        p = stem.with_suffix(".parquet")
        frame.to_parquet(p, compression="snappy", write_covering_bbox=True)
        out["parquet"] = p
    if "csv" in formats:
        p = stem.with_suffix(".csv")
        pts = shapely.point_on_surface(frame.geometry.to_numpy())
        ll = gpd.GeoSeries(pts, crs=27700).to_crs(4326)
        df = pd.DataFrame(frame.drop(columns="geometry"))
        df.insert(9, "CoordinateReferenceSystem", "WGS84")
        df.insert(10, "GeoX", np.round(ll.x.to_numpy(), 6))
        df.insert(11, "GeoY", np.round(ll.y.to_numpy(), 6))
        df.to_csv(p, index=False)
        out["csv"] = p
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--kinds", nargs="+", default=["points", "polygons"], choices=["points", "polygons"])
    ap.add_argument("--formats", nargs="+", default=["gpkg", "parquet", "csv"])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    lsoas = england_lsoas()
    print(f"{len(lsoas)} English LSOAs read in {time.perf_counter() - t:.1f} s")
    for n in args.sizes:
        for kind in args.kinds:
            t = time.perf_counter()
            frame = register(n, lsoas, kind=kind)
            paths = write_all(frame, args.out / f"assets_{kind}_{n}", args.formats)
            sizes = ", ".join(f"{k} {p.stat().st_size / 1e6:.0f} MB" for k, p in paths.items())
            print(f"{n} {kind}: {sizes} ({time.perf_counter() - t:.1f} s)")


if __name__ == "__main__":
    main()
