"""CSV that Excel and QGIS open right (issue 15, items 2 and 4): a BOM on every CSV, side files
included; lon/lat, easting/northing and WKT with a .prj and .vrt so that GDAL (``ogrinfo`` 3.6, as
QGIS uses it) knows the CRS; ``--out x.csv`` and ``analyse --csv`` write the CSV itself."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import warnings
import zipfile

import pandas as pd
import pytest
import shapely

from assets_map.cli import main
from assets_map.io.export import ExportWarning, export_bytes, export_file, result_layers, write_csv
from assets_map.io.provenance import provenance

BOM = b"\xef\xbb\xbf"


def ogrinfo(*args: str) -> str:
    exe = shutil.which("ogrinfo")
    if exe is None:
        pytest.skip("ogrinfo (Debian gdal-bin) is not installed")
    run = subprocess.run([exe, "-ro", *args], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "ERROR" not in run.stderr, run.stderr
    return run.stdout


def quiet(layers, fmt, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExportWarning)
        return export_bytes(layers, fmt, **kw)


@pytest.fixture(scope="module")
def awkward(demo_result):
    a = demo_result.assets.copy()
    a.loc[a.index[0], "name"] = "Plas Newydd — Ŵyn, café £5"
    a.loc[a.index[1], "reasons"] = "é" * 300  # over dBase's 254 bytes: a long-text side file
    return {"assets": a, "needs": demo_result.needs}


@pytest.mark.parametrize("fmt", ["csv", "shp"])
def test_every_csv_in_a_zip_starts_with_a_bom(fmt, awkward):
    _, data = quiet(awkward, fmt)
    zf = zipfile.ZipFile(io.BytesIO(data))
    csvs = [n for n in zf.namelist() if n.endswith(".csv")]
    want = {"data_dictionary.csv"} | ({"field_names.csv", "assets_long_text.csv"} if fmt == "shp"
                                       else {"assets.csv", "needs.csv"})
    assert want <= set(csvs)
    for n in csvs:
        assert zf.read(n).startswith(BOM), f"{n} has no BOM: Excel would show Ã© for é"
    if fmt == "shp":
        side = pd.read_csv(zf.open("assets_long_text.csv"), encoding="utf-8-sig")
        assert "é" * 300 in set(side["full_text"])


def test_csv_coordinates_and_crs_known_to_gdal(awkward, tmp_path):
    _, data = quiet(awkward, "csv")
    path = tmp_path / "x.zip"
    path.write_bytes(data)
    names = zipfile.ZipFile(path).namelist()
    assert {"assets.csv", "assets.csvt", "assets.prj", "assets.vrt"} <= set(names)
    df = pd.read_csv(zipfile.ZipFile(path).open("assets.csv"), encoding="utf-8-sig", dtype={"uprn": str})
    assert {"lon", "lat", "easting", "northing", "wkt"} <= set(df.columns)
    placed = df[df["wkt"].notna()]
    for _, r in placed.head(20).iterrows():  # the easting/northing point lies in the geometry and is lon/lat
        geom = shapely.from_wkt(r["wkt"])
        assert geom.buffer(0.01).contains(shapely.Point(r["easting"], r["northing"]))
    from pyproj import Transformer

    t = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    lon, lat = t.transform(placed["easting"].to_numpy(), placed["northing"].to_numpy())
    assert abs(lon - placed["lon"]).max() < 1e-6 and abs(lat - placed["lat"]).max() < 1e-6
    for target in (f"/vsizip/{path}/assets.csv", f"/vsizip/{path}/assets.vrt"):
        out = ogrinfo(target, "-so", "-al")
        assert "British National Grid" in out or "British_National_Grid" in out, f"{target}: CRS unknown\n{out}"
        assert f"Feature Count: {len(df)}" in out
    assert "POLYGON" in ogrinfo(f"/vsizip/{path}/assets.vrt", "-al", "-geom=SUMMARY", "-fields=NO")


def test_out_csv_writes_the_csv_itself(demo_result, tmp_path, capsys):
    result = tmp_path / "r.gpkg"
    export_file(result_layers(demo_result), "gpkg", result, provenance=provenance(demo_result))
    target = tmp_path / "out" / "candidates.csv"
    assert main(["export", str(result), "--layer", "candidates", "--format", "csv", "--out", str(target)]) == 0
    capsys.readouterr()
    beside = sorted(p.name for p in target.parent.iterdir())
    assert beside == ["candidates.csv", "candidates.csvt", "candidates.prj", "candidates.vrt",
                      "candidates_README.txt", "candidates_data_dictionary.csv", "candidates_provenance.json"]
    assert target.read_bytes().startswith(BOM)
    assert (target.parent / "candidates_data_dictionary.csv").read_bytes().startswith(BOM)
    df = pd.read_csv(target, encoding="utf-8-sig")
    assert len(df) == len(demo_result.candidates)
    prov = json.loads((target.parent / "candidates_provenance.json").read_text(encoding="utf-8"))
    assert prov["iod_year"] == 2025
    assert "British National Grid" in ogrinfo(str(target), "-so", "-al")


def test_bare_csv_has_a_bom_and_both_coordinates(demo_result, tmp_path):
    out = write_csv(demo_result.candidates, tmp_path / "c.csv")
    raw = out.read_bytes()
    assert raw.startswith(BOM)
    df = pd.read_csv(out, encoding="utf-8-sig")
    assert {"lon", "lat", "easting", "northing"} <= set(df.columns)


def test_analyse_csv_is_the_candidates_csv_with_its_sidecars(trafford, tmp_path, capsys):
    out, csv = tmp_path / "t.gpkg", tmp_path / "trafford_candidates.csv"
    code = main(["analyse", "--assets", str(trafford["register"]), "--boundaries", str(trafford["lsoa21"]),
                 "--deprivation", str(trafford["imd2025"]), "--postcodes", str(trafford["postcodes"]),
                 "--out", str(out), "--csv", str(csv)])
    assert code == 0, capsys.readouterr().err
    assert csv.read_bytes().startswith(BOM)
    df = pd.read_csv(csv, encoding="utf-8-sig", dtype=str)
    assert {"lon", "lat", "easting", "northing", "wkt"} <= set(df.columns)
    assert (tmp_path / "trafford_candidates.prj").exists()
    prov = json.loads((tmp_path / "trafford_candidates_provenance.json").read_text(encoding="utf-8"))
    assert {i["role"] for i in prov["inputs"] if i.get("sha256")} >= {"assets", "boundaries", "deprivation"}
    assert main(["analyse", "--assets", str(trafford["register"]), "--boundaries", str(trafford["lsoa21"]),
                 "--deprivation", str(trafford["imd2025"]), "--out", str(out), "--csv", str(tmp_path / "c.txt")]) == 2
    assert "--csv must end in .csv" in capsys.readouterr().err


def test_partners_csv_has_a_bom(trafford_result, shared, tmp_path, capsys):
    result = tmp_path / "t.gpkg"
    export_file(result_layers(trafford_result), "gpkg", result)
    out = tmp_path / "pairs.csv"
    assert main(["partners", "--analysis", str(result), "--facilities",
                 str(shared("trafford", "anchors", "libraries.geojson")), "--out", str(out)]) == 0
    capsys.readouterr()
    assert out.read_bytes().startswith(BOM)
