"""The embedded demo: a small FICTIONAL town, "Ashbridge", made by this script.

Nothing in it is real: the anchors, assets, areas and deprivation scores are
generated. It sits inland in England so that coordinates pass the UK checks;
every organisation name carries "(fictional)" and the app labels the map as a
fictional demo.

Run ``python -m assets_map.engine.demo`` to rebuild ``data/demo.gpkg`` (deterministic
for a given seed).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point, box

from assets_map.schema import MEASURE_CRS

DEMO_PATH = Path(__file__).resolve().parents[2] / "data" / "demo.gpkg"
DEMO_LABEL = "Fictional demo town (Ashbridge): generated data, not real places"
ORIGIN = (430_000.0, 310_000.0)  # BNG, somewhere inland; the data are fictional
SIZE = 6_000.0

ANCHORS = [
    ("Ashbridge Borough Council (fictional)", "council", 120),
    ("Ashbridge and District NHS Foundation Trust (fictional)", "nhs", 45),
    ("University of Ashbridge (fictional)", "university", 35),
    ("Ashbridge College (fictional)", "college", 20),
    ("Riverside Homes housing association (fictional)", "housing_association", 55),
    ("Ashbridge Fire and Rescue Service (fictional)", "fire", 10),
    ("Ashbridge Police (fictional)", "police", 15),
]
USES = {
    "council": ["Office", "Library", "Community centre", "Depot", "Car park", "Youth centre", "Park", "Allotments",
                "Land", "Day centre", "Public toilets", "Shop", "Pavilion"],
    "nhs": ["Clinic", "Hospital ward block", "Health centre", "Office", "Car park", "Land", "Store"],
    "university": ["Teaching building", "Student housing", "Office", "Sports ground", "Land", "Laboratory"],
    "college": ["Teaching building", "Workshop", "Playing field", "Land"],
    "housing_association": ["Garage block", "Community room", "Land", "Shop", "Office", "Flats"],
    "fire": ["Fire station", "Training ground", "Land"],
    "police": ["Police station", "Office", "Custody suite", "Land"],
}
STATUS = (["occupied"] * 50 + ["vacant"] * 18 + ["surplus"] * 8 + ["part-vacant"] * 6 + ["leased-out"] * 12
          + ["unknown"] * 6)
STREETS = ["High Street", "Mill Lane", "Station Road", "Church Street", "Canal Side", "Park Road", "Victoria Road",
           "Market Place", "Bridge Street", "Forge Lane", "Orchard Way", "Weavers Row"]
DOMAINS = ["Income", "Employment", "Education", "Health", "Crime", "Housing_and_Services", "Environment"]
NATIONAL_LSOAS = 33755


def _need_areas(rng: np.random.Generator, n: int = 100) -> gpd.GeoDataFrame:
    x0, y0 = ORIGIN
    frame = box(x0, y0, x0 + SIZE, y0 + SIZE)
    pts = shapely.points(rng.uniform(x0, x0 + SIZE, n), rng.uniform(y0, y0 + SIZE, n))
    cells = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame)
    polys = [c.intersection(frame) for c in shapely.get_parts(cells)]
    cx = np.array([p.centroid.x for p in polys])
    cy = np.array([p.centroid.y for p in polys])
    # Deprivation concentrated towards the east and the river (fictional), with noise.
    gradient = (cx - x0) / SIZE * 0.6 + np.exp(-((cy - (y0 + SIZE * 0.35)) / 900.0) ** 2) * 0.5
    order = np.argsort(-(gradient + rng.normal(0, 0.18, len(polys))))
    rank_share = np.empty(len(polys))
    rank_share[order] = (np.arange(len(polys)) + rng.uniform(0, 1, len(polys))) / len(polys)
    imd_rank = np.clip((rank_share * NATIONAL_LSOAS).round(), 1, NATIONAL_LSOAS)
    sorted_by_y = np.argsort(-cy)
    codes = [f"DEMO{i + 1:04d}" for i in range(len(polys))]
    names = [None] * len(polys)
    for k, i in enumerate(sorted_by_y):
        names[i] = f"Ashbridge {k // 4 + 1:03d}{'ABCD'[k % 4]}"
    df = pd.DataFrame({"area_code": codes, "area_name": names})
    df["IMD_rank"] = imd_rank
    df["IMD_decile"] = np.ceil(imd_rank / NATIONAL_LSOAS * 10).clip(1, 10)
    df["IMD_score"] = (70 * (1 - imd_rank / NATIONAL_LSOAS) ** 1.6 + 2).round(3)
    for d in DOMAINS:
        r = np.clip(imd_rank + rng.normal(0, 5000, len(polys)), 1, NATIONAL_LSOAS).round()
        df[f"{d}_rank"] = r
        df[f"{d}_decile"] = np.ceil(r / NATIONAL_LSOAS * 10).clip(1, 10)
        df[f"{d}_score"] = (1 - r / NATIONAL_LSOAS).round(3)
    df["iod_year"] = 2025
    return gpd.GeoDataFrame(df, geometry=polys, crs=MEASURE_CRS)


def _parks(rng: np.random.Generator) -> gpd.GeoDataFrame:
    x0, y0 = ORIGIN
    rows = []
    for i, (fx, fy, w, h, kind) in enumerate([(0.2, 0.7, 500, 350, "Public Park Or Garden"),
                                               (0.55, 0.4, 300, 420, "Public Park Or Garden"),
                                               (0.8, 0.15, 260, 200, "Allotments Or Community Growing Spaces"),
                                               (0.35, 0.2, 400, 250, "Playing Field")]):
        x, y = x0 + fx * SIZE, y0 + fy * SIZE
        rows.append({"site_name": f"{['Victoria', 'Riverside', 'Forge Lane', 'Mill'][i]} {kind.split()[0]} (fictional)",
                     "site_type": kind, "geometry": box(x, y, x + w, y + h)})
    return gpd.GeoDataFrame(rows, crs=MEASURE_CRS)


def _facilities(rng: np.random.Generator) -> gpd.GeoDataFrame:
    x0, y0 = ORIGIN
    kinds = [("library", 4), ("gp_practice", 6), ("school", 10), ("community_hub", 4), ("leisure_centre", 2)]
    rows = []
    for kind, n in kinds:
        for i in range(n):
            rows.append({"name": f"Ashbridge {kind.replace('_', ' ')} {i + 1} (fictional)", "type": kind,
                         "geometry": Point(rng.uniform(x0, x0 + SIZE), rng.uniform(y0, y0 + SIZE))})
    return gpd.GeoDataFrame(rows, crs=MEASURE_CRS)


def _assets(rng: np.random.Generator, parks: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    x0, y0 = ORIGIN
    rows = []
    n = 0
    for org, kind, count in ANCHORS:
        prefix = "".join(w[0] for w in org.split() if w[0].isupper())[:4]
        for i in range(count):
            n += 1
            use = rng.choice(USES[kind])
            status = rng.choice(STATUS)
            holding = "land" if use in ("Land", "Car park", "Park", "Allotments", "Playing field", "Sports ground",
                                        "Training ground") else rng.choice(["building", "both"], p=[0.6, 0.4])
            x, y = rng.uniform(x0 + 100, x0 + SIZE - 100), rng.uniform(y0 + 100, y0 + SIZE - 100)
            if use in ("Park", "Allotments") and len(parks):
                p = parks.geometry.iloc[n % len(parks)].representative_point()
                x, y = p.x + rng.normal(0, 20), p.y + rng.normal(0, 20)
            polygon = holding in ("land", "both") and rng.random() < 0.55
            if polygon:
                w, h = rng.uniform(25, 140), rng.uniform(25, 120)
                geom = shapely.affinity.rotate(box(x - w / 2, y - h / 2, x + w / 2, y + h / 2), rng.uniform(0, 90))
            else:
                geom = Point(x, y)
            floor = round(float(rng.uniform(80, 4000)), 1) if holding != "land" else None
            row = {
                "asset_id": f"{prefix}-{i + 1:04d}",
                "organisation": org,
                "anchor_type": kind,
                "name": f"{rng.choice(STREETS)} {use.lower()}" if use != "Park" else f"{rng.choice(['Victoria', 'Riverside', 'Mill'])} Park",
                "address": f"{int(rng.integers(1, 200))} {rng.choice(STREETS)}, Ashbridge (fictional)",
                "uprn": f"0{int(rng.integers(10**9, 10**10))}",  # fictional, with a leading zero kept as text
                "tenure": rng.choice(["Freehold", "Freehold", "Freehold", "Leasehold"]),
                "holding_type": {"land": "Land", "building": "Buildings", "both": "Land/Buildings"}[holding],
                "use": use,
                "status": status,
                "floor_area_m2": floor,
                "empty_floor_pct": round(float(rng.uniform(0, 45)), 1) if kind == "nhs" and holding != "land" else None,
                "underused_floor_pct": round(float(rng.uniform(0, 30)), 1) if kind == "nhs" and holding != "land" else None,
                "vacant_since": (pd.Timestamp("2026-06-01") - pd.Timedelta(days=int(rng.integers(60, 3000)))).date().isoformat()
                if status in ("vacant", "surplus") else None,
                "source_date": "2026-04-01",
                "contact": f"estates@{prefix.lower()}.example",
                "geometry": geom,
            }
            rows.append(row)
    gdf = gpd.GeoDataFrame(rows, crs=MEASURE_CRS)
    # A few records with no location, as real registers have.
    lost = rng.choice(len(gdf), 8, replace=False)
    gdf.loc[gdf.index[lost], "geometry"] = None
    # One asset whose name is HTML, so the app's escaping is exercised on the demo.
    gdf.loc[gdf.index[3], "name"] = "<img src=x onerror=alert(1)> depot (fictional test of escaping)"
    return gdf


def build_demo(path: str | Path = DEMO_PATH, *, seed: int = 2026) -> Path:
    """Write the fictional demo GeoPackage: layers assets, need_areas, greenspace, facilities."""
    rng = np.random.default_rng(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    needs = _need_areas(rng)
    parks = _parks(rng)
    facilities = _facilities(rng)
    assets = _assets(rng, parks)
    for layer, gdf in (("assets", assets), ("need_areas", needs), ("greenspace", parks), ("facilities", facilities)):
        gdf.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
    return path


def main(argv: list[str] | None = None) -> None:
    """Build the fictional demo data set (``python -m assets_map.engine.demo [--out PATH] [--seed N]``)."""
    ap = argparse.ArgumentParser(description="Build the fictional demo data set.")
    ap.add_argument("--out", default=str(DEMO_PATH))
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args(argv)
    print(f"wrote {build_demo(args.out, seed=args.seed)}")


if __name__ == "__main__":
    main()


def load_demo(path: str | Path = DEMO_PATH, *, weights=None, **options):
    """Analyse the demo through the same engine path as any user's files.

    ``options`` are :func:`assets_map.engine.pipeline.analyse`'s runner options (``engine``, ``cache``...).
    """
    from assets_map.engine.pipeline import analyse
    from assets_map.io.importer import import_file

    assets, report = import_file(path, adapter="register", layer="assets", name="demo.gpkg")
    bnd, _ = import_file(path, kind="boundaries", layer="need_areas", name="demo.gpkg")
    parks = gpd.read_file(path, layer="greenspace", engine="pyogrio").to_crs(MEASURE_CRS)
    result = analyse(assets, bnd, None, exclude=[("demo greenspace", parks)], weights=weights,
                     boundaries_name="demo need areas (fictional)", **options)
    result.reports = [report]
    result.settings["inputs"] = {"assets": "demo.gpkg (fictional)"}
    from assets_map.io.provenance import describe_input

    result.settings["input_files"] = [{**describe_input("assets", path), "name": "demo.gpkg (fictional)"}]
    result.settings["label"] = DEMO_LABEL
    return result
