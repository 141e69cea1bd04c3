"""End to end: `assets-map analyse` on the real Trafford register and IoD 2025."""
import subprocess
import sys

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from assets_map.cli import main

REQUIRED = ["asset_id", "name", "organisation", "status", "location_quality", "need_area_code", "need_area_name",
            "imd_decile", "underuse_score", "priority", "reasons"]


@pytest.fixture(scope="module")
def trafford_run(trafford, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "trafford.gpkg"
    csv = out.with_suffix(".csv")
    code = main(["analyse", "--assets", str(trafford["register"]), "--boundaries", str(trafford["lsoa21"]),
                 "--deprivation", str(trafford["imd2025"]), "--postcodes", str(trafford["postcodes"]),
                 "--exclude", str(trafford["greenspace"]), "--exclude", str(trafford["allotments"]),
                 "--out", str(out), "--csv", str(csv)])
    assert code == 0
    return out, csv


def test_layers_and_columns(trafford_run):
    out, csv = trafford_run
    layers = {name for name, _ in pyogrio.list_layers(out)}
    assert {"assets", "candidates", "needs", "data_dictionary"} <= layers
    for layer in ("assets", "candidates"):
        cols = pyogrio.read_info(out, layer=layer)["fields"]
        assert set(REQUIRED) <= set(cols), set(REQUIRED) - set(cols)
    assert pyogrio.read_info(out, layer="assets")["crs"] == "EPSG:27700"
    c = pd.read_csv(csv, dtype=str)
    assert len(c) == pyogrio.read_info(out, layer="candidates")["features"]
    assert {"lon", "lat"} <= set(c.columns)


def test_every_row_exactly_once_with_location_quality(trafford_run, trafford):
    a = gpd.read_file(trafford_run[0], layer="assets")
    assert len(a) == 608
    assert sorted(a["source_row"]) == list(range(1, 609))
    assert a["location_quality"].isin(["register coordinates", "full postcode", "none"]).all()
    raw = pd.read_csv(trafford["register"], dtype=str)
    has_xy = raw["GeoX"].notna() & raw["GeoY"].notna()
    by_row = a.set_index("source_row").sort_index()
    assert (by_row.loc[has_xy[has_xy].index + 1, "location_quality"] == "register coordinates").all()
    # every source column kept, UPRN as text exactly as published
    assert (by_row["src_UPRN"].fillna("") == raw["UPRN"].fillna("").to_numpy()).all()
    assert (by_row["uprn"].fillna("") == raw["UPRN"].fillna("").to_numpy()).all()
    # unplaced rows are kept with a reason
    none = a[a["location_quality"] == "none"]
    assert len(none) > 0 and none["location_note"].notna().all() and none.geometry.isna().all()


def test_placed_rows_carry_the_lsoa_that_contains_them(trafford_run, trafford):
    a = gpd.read_file(trafford_run[0], layer="assets")
    lsoa = gpd.read_file(trafford["lsoa21"]).to_crs(27700)
    placed = a[a.geometry.notna()]
    # independent check: shapely covers() per point, no sjoin
    expected = []
    for pt in placed.geometry:
        hits = lsoa.loc[lsoa.geometry.covers(pt), "area_code"].tolist()
        expected.append(hits[0] if hits else None)
    got = [c if isinstance(c, str) else None for c in placed["need_area_code"]]
    assert got == expected
    outside = placed[placed["need_area_code"].isna()]
    assert len(outside) == 3  # the register's three holdings outside the borough
    assert outside["location_note"].str.contains("outside the need areas").all()


def test_swapped_row_fixed_and_reported(trafford_run, trafford, capsys):
    a = gpd.read_file(trafford_run[0], layer="assets")
    row = a[a["name"] == "Davyhulme Youth Centre"].iloc[0]
    assert row["source_row"] == 386
    assert "swapped" in row["location_note"]
    assert isinstance(row["need_area_code"], str) and row["need_area_code"].startswith("E01")
    # Davyhulme is in the west of Trafford (E ~ 375,800)
    assert 374_000 < row.geometry.x < 378_000 and 394_000 < row.geometry.y < 397_000


def test_vacant_rows_in_deprived_areas_are_flagged_with_decile(trafford_run):
    a = gpd.read_file(trafford_run[0], layer="assets")
    hit = a[(a["status"] == "vacant") & (a["imd_decile"] <= 3) & ~a["excluded"].astype(bool)]
    assert len(hit) > 0
    for _, r in hit.iterrows():
        assert r["priority"] in ("High", "Medium"), r["name"]
        d = int(r["imd_decile"])
        assert f"IMD decile {d}" in r["reasons"] and r["need_area_code"] in r["reasons"] and "IoD 2025" in r["reasons"]
    c = gpd.read_file(trafford_run[0], layer="candidates")
    assert set(c["priority"]) <= {"High", "Medium", "Low"}
    assert c["reasons"].str.len().gt(0).all()


def test_greenspace_and_allotments_never_flagged(trafford_run, trafford):
    c = gpd.read_file(trafford_run[0], layer="candidates")
    assert not c["use"].fillna("").str.contains("allotment|Parks", case=False).any()
    placed = c[c.geometry.notna() & c["holding_type"].isin(["land", "both"])]
    for layer in ("greenspace", "allotments"):
        g = gpd.read_file(trafford[layer]).to_crs(27700)
        joined = gpd.sjoin(placed, g[["geometry"]], predicate="within")
        assert joined.empty, joined["name"].tolist()


def test_bad_input_is_one_line_and_non_zero(tmp_path, trafford):
    bad = tmp_path / "register.csv"
    bad.write_text("")
    proc = subprocess.run([sys.executable, "-m", "assets_map.cli", "analyse", "--assets", str(bad),
                           "--boundaries", str(trafford["lsoa21"]), "--out", str(tmp_path / "o.gpkg")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    err = [l for l in proc.stderr.splitlines() if l.startswith("assets-map: error")]
    assert err == ["assets-map: error: register.csv: the file is empty"]
    assert not (tmp_path / "o.gpkg").exists()


def test_mismatched_vintage_refused_in_one_line(tmp_path, trafford):
    proc = subprocess.run([sys.executable, "-m", "assets_map.cli", "analyse", "--assets", str(trafford["register"]),
                           "--boundaries", str(trafford["lsoa21"]), "--deprivation", str(trafford["iod_long"]),
                           "--out", str(tmp_path / "o.gpkg")], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "LSOA 2011" in proc.stderr and "LSOA 2021" in proc.stderr


def test_console_script_is_installed():
    proc = subprocess.run(["assets-map", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("assets-map ")


def test_the_process_leaves_without_teardown_after_flushing_everything(tmp_path, trafford):
    """``assets-map analyse`` as a process: every line written (stdout piped, so block-buffered), the status kept,
    and no teardown after (an exit handler registered before the run never runs: the run's frames are not freed
    object by object on the way out)."""
    script = ("import atexit, sys; atexit.register(lambda: print('torn down', file=sys.stderr)); "
              "from assets_map import cli; sys.argv = ['assets-map'] + sys.argv[1:]; cli.run()")
    out = tmp_path / "o.gpkg"
    ok = subprocess.run([sys.executable, "-c", script, "analyse", "--assets", str(trafford["register"]),
                         "--boundaries", str(trafford["lsoa21"]), "--deprivation", str(trafford["imd2025"]),
                         "--out", str(out)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.rstrip().splitlines()[-1].startswith(f"wrote {out}"), ok.stdout[-300:]
    assert "torn down" not in ok.stderr and out.exists()
    bad = tmp_path / "register.csv"
    bad.write_text("")
    refused = subprocess.run([sys.executable, "-c", script, "analyse", "--assets", str(bad), "--boundaries",
                              str(trafford["lsoa21"]), "--out", str(tmp_path / "p.gpkg")], capture_output=True, text=True)
    assert refused.returncode == 2
    # a refusal holds no result: it leaves the usual way (exit handlers run), with its status and its one line
    assert refused.stderr.strip().splitlines()[-2:] == ["assets-map: error: register.csv: the file is empty",
                                                        "torn down"]


def test_analyse_allocates_through_jemalloc(tmp_path, trafford, monkeypatch):
    import pyarrow as pa

    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool()
    try:
        pa.set_memory_pool(pa.system_memory_pool())
        assert main(["analyse", "--assets", str(trafford["register"]), "--boundaries", str(trafford["lsoa21"]),
                     "--deprivation", str(trafford["imd2025"]), "--out", str(tmp_path / "t.parquet")]) == 0
        assert pa.default_memory_pool().backend_name == ("jemalloc" if "jemalloc" in pa.supported_memory_backends()
                                                         else "system")
    finally:
        pa.set_memory_pool(before)
