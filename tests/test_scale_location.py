"""The location check's fast paths equal the plain computations they replace.

A far site's distance is measured to its authority's union of need areas (falling back to the nearest area where
rounding could show) and its km text is formatted in arrays: the texts and the marks must be exactly those of the
nearest-area distance formatted by Python.
"""
from __future__ import annotations

import numpy as np
import shapely

from assets_map.engine.location import MARGIN_M, _authority_excess, _km_text


def test_km_text_formats_as_python_does():
    rng = np.random.default_rng(3)
    km = np.r_[rng.uniform(0, 900, 20_000), np.arange(0, 50, 0.05), [0.05, 0.15, 0.25, 2.45, 999.95, 1000.0, 1234.56,
                                                                      12345.678, 2.0000001, 0.0]]
    rows = rng.random(len(km)) < 0.9
    got = _km_text(km, rows).to_pylist()
    assert got == [f"{v:,.1f}" if r else None for v, r in zip(km, rows, strict=True)]


def test_far_sites_are_as_far_as_from_their_nearest_area(shared):
    import geopandas as gpd

    lsoa = gpd.read_file(shared("trafford", "lsoa21_boundaries.geojson")).to_crs(27700)
    polys = lsoa.geometry.to_numpy()
    tree = shapely.STRtree(polys)
    outline = shapely.union_all(polys)
    shapely.prepare(outline)
    rng = np.random.default_rng(5)
    x0, y0, x1, y1 = outline.bounds
    pts = shapely.points(rng.uniform(x0 - 300_000, x1 + 300_000, 30_000), rng.uniform(y0 - 300_000, y1 + 300_000, 30_000))
    pts = np.r_[pts, shapely.points(rng.uniform(x0, x1, 3000), rng.uniform(y0, y1, 3000))]  # some inside
    got = _authority_excess(tree, outline, pts)
    want = np.zeros(len(pts))
    out = np.isin(np.arange(len(pts)), tree.query(pts, predicate="intersects")[0], invert=True)  # in no area
    (which, _), dist = tree.query_nearest(pts[out], return_distance=True, all_matches=False)
    want[np.flatnonzero(out)[which]] = dist
    assert (got == 0).sum() > 1000 and (got > MARGIN_M).sum() > 20_000
    assert np.allclose(got, want, rtol=0, atol=1e-6)
    assert [f"{d / 1000:,.1f}" for d in got] == [f"{d / 1000:,.1f}" for d in want]
    assert ((got > MARGIN_M) == (want > MARGIN_M)).all()


def test_local_authorities_group_as_one_comparison_per_authority_did():
    import geopandas as gpd
    import pandas as pd

    from assets_map.engine.location import _LSOA_SUFFIX, local_authorities

    rng = np.random.default_rng(11)
    las = ["Leeds", "Bath and North East Somerset", "King's Lynn and West Norfolk", "Trafford", "Vale of Glamorgan"]
    names = [f"{las[i]} {rng.integers(1, 300):03d}{'ABCDE'[rng.integers(0, 5)]}" for i in rng.integers(0, 5, 5000)]
    names += [None, "no suffix here", "Leeds 01A", "", "Leeds 001a", np.nan]  # names carrying no authority
    order = rng.permutation(len(names))
    needs = gpd.GeoDataFrame({"name": pd.Series([names[i] for i in order], dtype=object)},
                             geometry=gpd.points_from_xy(np.arange(len(names)), np.zeros(len(names))))
    got = local_authorities(needs)
    la = np.array([_LSOA_SUFFIX.sub("", n) if isinstance(n, str) and _LSOA_SUFFIX.search(n) else ""
                   for n in needs["name"]], dtype=object)
    want = {name: np.flatnonzero(la == name) for name in pd.unique(la) if name}
    assert list(got) == list(want)
    assert all(np.array_equal(got[k], want[k]) and got[k].dtype == want[k].dtype for k in want)
    assert local_authorities(needs.iloc[:0]) == {}


def test_several_authorities_checked_side_by_side_as_site_by_site(shared):
    """Outlines made and distances measured in a thread pool: each site's text is its own authority's distance."""
    import geopandas as gpd
    import pandas as pd

    from assets_map.engine.location import CHECK_PREFIX, check_locations, local_authorities

    lsoa = gpd.read_file(shared("england", "lsoa21_boundaries_ew.gpkg"), engine="pyogrio")
    needs = gpd.GeoDataFrame({"name": lsoa["lsoa21_name"].astype(object)}, geometry=lsoa.geometry.to_numpy(), crs=lsoa.crs)
    authorities = local_authorities(needs)
    orgs = ["Trafford Council", "Wigan Council", "Trafford MBC", "Leeds City Council", "Salford City Council",
            "Wigan Borough", "Bolton Council", "Stockport MBC"]
    rng = np.random.default_rng(3)
    n = 6000
    x0, y0, x1, y1 = needs.loc[authorities["Trafford"]].total_bounds
    pts = shapely.points(rng.uniform(x0 - 15_000, x1 + 15_000, n), rng.uniform(y0 - 15_000, y1 + 15_000, n))
    org = np.array(orgs, dtype=object)[rng.integers(0, len(orgs), n)]
    assets = gpd.GeoDataFrame({"organisation": org, "location_quality": "register coordinates"}, geometry=pts,
                              crs=needs.crs)
    got = check_locations(assets, needs)["location_check"]
    polys = needs.geometry.to_numpy()
    want = []
    for o, p in zip(org, pts, strict=True):
        la = next(a for a in ("Trafford", "Wigan", "Leeds", "Salford", "Bolton", "Stockport") if a in o)
        mine = polys[authorities[la]]
        d = 0.0 if shapely.intersects(mine, p).any() else shapely.distance(mine, p).min()
        want.append(f"{CHECK_PREFIX}{d / 1000:,.1f} km outside {la} (the local authority named by {o}, from the need "
                    "areas loaded)" if d > MARGIN_M else None)
    want = pd.Series(want, dtype=object)
    assert want.notna().sum() > 1000 and want.isna().sum() > 50 and want.str.contains("Leeds").sum() > 100
    assert got.astype(object).where(got.notna(), None).tolist() == want.tolist()


def _summary_by_parsing_each_text(texts: list, ids: list[str], most: int = 10) -> str | None:
    """The report line as parsing every text with the one pattern gives it (the rule location_summary keeps)."""
    import re

    pattern = re.compile(r"check location: (?P<km>[\d.,]+) km outside (?P<area>.+?)(?: \(.*)?")
    hits = [(i, m) for i, t in enumerate(texts) if isinstance(t, str) and (m := pattern.fullmatch(t))]
    if not hits:
        return None
    n = len(hits)
    areas = sorted({m["area"] for _, m in hits})
    shown = ", ".join(ids[i] for i, _ in hits[:most]) + (f" and {n - most} more" if n > most else "")
    top = max(float(m["km"].replace(",", "")) for _, m in hits)
    return (f"check location: {n} site{'s' if n != 1 else ''} more than {MARGIN_M / 1000:g} km outside "
            f"{', '.join(areas)} (ids {shown}; up to {top:,.1f} km)")


def test_the_summary_line_is_what_parsing_each_text_gives():
    """Found by one automaton and split where the distance ends: the same line as the pattern on every text."""
    import pandas as pd

    from assets_map.engine.location import location_summary

    rng = np.random.default_rng(11)
    areas = ["Trafford (the local authority named by Trafford Council, from the need areas loaded)", "York",
             "the register's own cluster", "Bury km outside Leeds", " (odd)", "Wigan (x) (y)", "Salford\n(z)"]
    kms = ["2.1", "1,234.5", "12.0", "0.5", "3,000.0"]
    doubts = ["check location: matched by name only", "check location: 2.0 km outside", "check location:  km outside X",
              "Check location: 2.0 km outside York", None, ""]
    for size in (1, 5, 40, 3000):
        texts = []
        for _ in range(size):
            if rng.random() < 0.6:
                texts.append(f"check location: {rng.choice(kms)} km outside {rng.choice(areas)}")
            else:
                texts.append(doubts[rng.integers(len(doubts))])
        ids = [f"A{i:05d}" for i in range(size)]
        for dtype in (object, "str"):
            frame = pd.DataFrame({"asset_id": ids, "location_check": pd.array(texts, dtype=dtype)})
            assert location_summary(frame) == _summary_by_parsing_each_text(texts, ids), (size, dtype)


def test_the_line_from_the_checks_own_numbers_is_the_line_parsed_from_its_texts():
    """location_summary reads the column location_checks made from the numbers it kept: the same line as parsing.

    Far sites of named authorities and of a register's own cluster, an organisation whose name breaks the line (its
    area cannot be read from the text), and importer doubts, one of which reads as a distance.
    """
    import geopandas as gpd
    from shapely.geometry import box

    from assets_map.engine import location as loc

    needs = gpd.GeoDataFrame({"code": ["E1", "E2", "E3"], "name": ["Trafford 001A", "Trafford 001B", "York 001A"]},
                             geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000), box(50_000, 0, 51_000, 1000)],
                             crs=27700)
    rng = np.random.default_rng(5)
    rows = []
    for org, n in (("Trafford Council", 40), ("York\nCouncil", 12), ("Anchor Housing", 30), ("City of York Council", 9)):
        for _ in range(n):
            rows.append((org, rng.uniform(-20_000, 80_000), rng.uniform(-20_000, 20_000)))
    frame = gpd.GeoDataFrame({"asset_id": [f"S{i:03d}" for i in range(len(rows))],
                              "organisation": [r[0] for r in rows], "location_quality": "register coordinates",
                              "location_doubt": None},
                             geometry=gpd.points_from_xy([r[1] for r in rows], [r[2] for r in rows]), crs=27700)
    frame.loc[frame.index[-4:], "geometry"] = gpd.points_from_xy([500, 600, 700, 800], [500, 500, 500, 500])
    frame.loc[frame.index[-4:], "organisation"] = "Trafford Council"  # placed inside their area: the doubt stands
    anchor = np.flatnonzero(frame["organisation"].eq("Anchor Housing").to_numpy())[:2]
    frame.loc[frame.index[anchor], "geometry"] = gpd.points_from_xy([600_000, 650_000], [300_000, 300_000])
    frame.loc[frame.index[-4:], "location_doubt"] = ["matched by name only", "3.0 km outside Bury (by its name)",
                                                     "", None]
    frame["location_doubt"] = frame["location_doubt"].astype(object)
    for first in (10, 3):
        checked = loc.check_locations(frame, needs)
        column = checked["location_check"]
        assert loc._known_facts(column) is not None  # the kept numbers are read ...
        kept = loc.location_summary(checked, most=first)
        parsed = loc.location_summary(checked.assign(location_check=column.astype(object)), most=first)
        assert loc._known_facts(checked.assign(location_check=column.astype(object))["location_check"]) is None
        assert kept == parsed  # ... and give the parsed line
        assert "Bury" in kept and "cluster" in kept and "York\nCouncil" not in kept
    # a filtered column is a new array: parsed, not read from numbers kept for the whole register
    some = checked.iloc[::2]
    assert loc._known_facts(some["location_check"]) is None
    assert loc.location_summary(some) == loc.location_summary(some.assign(location_check=some["location_check"]
                                                                          .astype(object)))
