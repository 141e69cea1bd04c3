"""Shapefile exports read back with independent dBase readers, pyshp and dbfread (issue 15, item 6).

Numbers too wide for a dBase field are never cut without a word: they are left empty in the
shapefile, kept whole in ``<layer>_long_text.csv`` and named (field and rows) in a warning.
"""
from __future__ import annotations

import io
import warnings
import zipfile

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from assets_map.io.export import ExportWarning, export_bytes, result_layers
from assets_map.io.provenance import provenance

shapefile = pytest.importorskip("shapefile")  # pyshp
dbfread = pytest.importorskip("dbfread")


def unzip(data: bytes, folder):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(folder)
        return zf.namelist()


def test_wide_numbers_are_moved_not_cut(tmp_path):
    g = gpd.GeoDataFrame({"asset_id": ["a", "b", "c", "d"],
                          "floor_area_m2": [1.5e25, 123456789.125, -2.5e23, 12.5],
                          "count": pd.array([5, -(10 ** 18) - 7, None, 2 ** 40], dtype="Int64")},
                         geometry=[Point(400000 + i, 300000) for i in range(4)], crs="EPSG:27700")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, data = export_bytes({"assets": g}, "shp")
    said = [str(w.message) for w in caught if issubclass(w.category, ExportWarning)]
    assert any("floor_area_m2" in m and "too wide" in m and "a, c" in m for m in said), said
    assert any("count" in m and "too wide" in m and " b" in m for m in said), said
    assert not [w for w in caught if "not successfully written" in str(w.message)], "GDAL never cuts a number"
    unzip(data, tmp_path)
    rows = {r["asset_id"]: r for r in dbfread.DBF(str(tmp_path / "assets.dbf"))}
    assert rows["a"]["floor_area"] is None and rows["c"]["floor_area"] is None
    assert rows["b"]["floor_area"] == pytest.approx(123456789.125) and rows["d"]["floor_area"] == 12.5
    assert rows["b"]["count"] is None and rows["d"]["count"] == 2 ** 40
    side = pd.read_csv(tmp_path / "assets_long_text.csv", encoding="utf-8-sig", dtype=str)
    full = dict(zip(side["asset_id"] + "." + side["field"], side["full_text"], strict=True))
    assert float(full["a.floor_area_m2"]) == 1.5e25 and float(full["c.floor_area_m2"]) == -2.5e23
    assert int(full["b.count"]) == -(10 ** 18) - 7
    readme = (tmp_path / "README.txt").read_text(encoding="utf-8")
    assert "too wide for a dBase number field" in readme


@pytest.fixture(scope="module")
def trafford_shp(trafford_result, tmp_path_factory):
    folder = tmp_path_factory.mktemp("shp")
    layers = result_layers(trafford_result)
    a = layers["assets"].copy()
    placed = a.index[a.geometry.notna() & ~a.geometry.is_empty]
    a.loc[placed[0], "floor_area_m2"] = 1.5e25  # a mistyped area, far too wide for dBase
    layers["assets"] = a
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExportWarning)
        _, data = export_bytes(layers, "shp", provenance=provenance(trafford_result))
    return folder, unzip(data, folder), trafford_result.replace(assets=a)


def test_pyshp_reads_every_placed_site_and_field(trafford_shp):
    folder, names, result = trafford_shp
    assets = result.assets
    placed = assets.geometry.notna() & ~assets.geometry.is_empty
    shps = [n for n in names if n.startswith("assets") and n.endswith(".shp")]
    areas = assets.set_index("asset_id")["floor_area_m2"]
    wide_id = areas.index[areas == 1.5e25][0]
    total, uprns = 0, {}
    for n in shps:
        with shapefile.Reader(str(folder / n), encoding="utf-8") as r:
            assert r.numRecords == len(r.shapes())
            fields = [f[0] for f in r.fields[1:]]
            total += r.numRecords
            for rec in r.iterRecords():
                d = dict(zip(fields, rec, strict=True))
                if d["uprn"]:
                    uprns[d["asset_id"]] = d["uprn"]
                if d["asset_id"] == wide_id:
                    assert d["floor_area"] is None, "never 1.5e23: a number too wide is left empty, not cut"
                else:
                    want_area = areas[d["asset_id"]]
                    assert (d["floor_area"] is None) == pd.isna(want_area)
        prj = (folder / n.replace(".shp", ".prj")).read_text()
        assert prj.startswith('PROJCS["British_National_Grid"')
        assert (folder / n.replace(".shp", ".cpg")).read_text().strip().upper() in ("UTF-8", "UTF8")
    assert total == int(placed.sum())
    want = assets.loc[placed & assets["uprn"].notna()].set_index("asset_id")["uprn"]
    assert uprns == want.to_dict(), "UPRNs as text, exactly as given"


def test_dbfread_reads_text_booleans_and_long_text(trafford_shp):
    folder, names, result = trafford_shp
    rows = []
    for n in names:
        if n.startswith("assets") and n.endswith(".dbf"):
            rows += list(dbfread.DBF(str(folder / n), encoding="utf-8", char_decode_errors="strict"))
    assert len(rows) == len(result.assets)
    excluded = [r["excluded"] for r in rows]
    assert sum(1 for v in excluded if v in (True, 1)) == int(result.assets["excluded"].sum())
    names_back = {r["asset_id"]: r["name"] for r in rows}
    src = result.assets.set_index("asset_id")["name"]
    amp = [i for i, v in src.items() if isinstance(v, str) and "&" in v]
    assert amp and all(names_back[i] == src[i] for i in amp)
    cut = [r for r in rows if isinstance(r["reasons"], str) and r["reasons"].endswith("…")]
    assert (folder / "assets_long_text.csv").read_bytes().startswith(b"\xef\xbb\xbf"), "Excel reads it as UTF-8"
    side = pd.read_csv(folder / "assets_long_text.csv", encoding="utf-8-sig", dtype=str)
    assert side.loc[side["field"] == "floor_area_m2", "full_text"].astype(float).tolist() == [1.5e25]
    full = side[side["field"] == "reasons"].set_index("asset_id")["full_text"]
    reasons = result.assets.set_index("asset_id")["reasons"]
    assert cut and all(full[r["asset_id"]] == reasons[r["asset_id"]] for r in cut)
    assert all(len(r["reasons"].encode("utf-8")) <= 254 for r in cut)
