"""Atomic exports: a failure or an interrupt mid-write leaves nothing half-written and never harms an earlier
export of the same name; no temporary file or folder is left behind."""
from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import Point, box

from assets_map.io import export as ex
from assets_map.io.export import FORMATS, export_bytes, export_file

X0, Y0 = 430_000.0, 310_000.0
SUFFIX = {"gpkg": ".gpkg", "shp": ".zip", "csv": ".zip", "geojson": ".zip", "kml": ".kml", "xlsx": ".xlsx"}
# CSV by pandas, KML folder by folder, Excel sheet by sheet (each layer's frame made first); the rest by GDAL
WRITER = {"csv": "_write_text_csv", "kml": "_kml_folder", "xlsx": "_csv_frame"}


def frame(n: int, label: str) -> gpd.GeoDataFrame:
    geoms = [Point(X0 + i, Y0) if i % 2 else box(X0 + i, Y0, X0 + i + 5, Y0 + 5) for i in range(n)]
    return gpd.GeoDataFrame({"asset_id": [f"{label}{i}" for i in range(n)], "name": [f"{label} £ é"] * n},
                            geometry=gpd.GeoSeries(geoms, crs="EPSG:27700"))


def layers(label: str) -> dict:
    return {"assets": frame(6, label), "candidates": frame(3, label), "needs": frame(2, label)}


class Boom(RuntimeError):
    pass


def failing_after(monkeypatch, target, name: str, calls: int, exc: type[BaseException] = Boom):
    """Let ``target.name`` run ``calls`` times, then raise ``exc``: a failure mid-write."""
    real = getattr(target, name)
    count = {"n": 0}

    def wrapper(*args, **kwargs):
        count["n"] += 1
        if count["n"] > calls:
            raise exc("forced failure mid-write")
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapper)
    return count


def only_target(directory: Path, target: Path) -> None:
    left = sorted(p.name for p in directory.iterdir())
    assert left == [target.name], f"files left behind: {left}"


@pytest.mark.parametrize("exc", [Boom, KeyboardInterrupt])
@pytest.mark.parametrize("fmt", FORMATS)
def test_failed_write_keeps_the_earlier_export(fmt, exc, tmp_path, monkeypatch):
    target = tmp_path / f"result{SUFFIX[fmt]}"
    export_file(layers("old"), fmt, target)
    before = target.read_bytes()
    count = failing_after(monkeypatch, ex, WRITER.get(fmt, "_write"), 1, exc)
    with pytest.raises(exc):
        export_file(layers("new"), fmt, target)
    assert count["n"] >= 2, "the failure came after a first layer was written"
    assert target.read_bytes() == before, "the earlier export is untouched"
    only_target(tmp_path, target)


@pytest.mark.parametrize("fmt", ["shp", "csv", "geojson"])
def test_failure_while_zipping(fmt, tmp_path, monkeypatch):
    target = tmp_path / "result.zip"
    export_file(layers("old"), fmt, target)
    before = target.read_bytes()
    failing_after(monkeypatch, zipfile.ZipFile, "write", 2)
    with pytest.raises(Boom):
        export_file(layers("new"), fmt, target)
    assert target.read_bytes() == before
    only_target(tmp_path, target)


def test_failure_on_a_first_export_leaves_nothing(tmp_path, monkeypatch):
    failing_after(monkeypatch, ex, "_write", 2)
    with pytest.raises(Boom):
        export_file(layers("new"), "gpkg", tmp_path / "first.gpkg")
    assert list(tmp_path.iterdir()) == []


def test_success_replaces_the_earlier_export(tmp_path):
    target = tmp_path / "result.gpkg"
    export_file(layers("old"), "gpkg", target)
    export_file(layers("new"), "gpkg", target)
    back = pyogrio.read_dataframe(target, layer="assets")
    assert back["asset_id"].str.startswith("new").all()
    only_target(tmp_path, target)


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_bytes_cleans_up(fmt, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    export_bytes(layers("a"), fmt)
    assert list(tmp_path.iterdir()) == []
    failing_after(monkeypatch, ex, WRITER.get(fmt, "_write"), 1)
    with pytest.raises(Boom):
        export_bytes(layers("a"), fmt)
    assert list(tmp_path.iterdir()) == []


def test_a_bare_csv_and_its_sidecars_are_placed_whole(tmp_path, monkeypatch):
    """``--out x.csv``: a failure while building leaves the earlier CSV and sidecars untouched, nothing else."""
    target = tmp_path / "sites.csv"
    export_file({"assets": frame(4, "old")}, "csv", target)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["sites.csv", "sites.csvt", "sites.prj", "sites.vrt", "sites_README.txt",
                     "sites_data_dictionary.csv", "sites_provenance.json"]
    before = {n: (tmp_path / n).read_bytes() for n in names}
    failing_after(monkeypatch, ex, "_write_text_csv", 1)
    with pytest.raises(Boom):
        export_file({"assets": frame(4, "new")}, "csv", target)
    assert {n: (tmp_path / n).read_bytes() for n in sorted(p.name for p in tmp_path.iterdir())} == before



@pytest.mark.parametrize("exc", [Boom, KeyboardInterrupt])
def test_a_workbook_failing_between_sheets_keeps_the_earlier_one(exc, tmp_path, monkeypatch):
    import time

    from assets_map.io import xlsx

    target = tmp_path / "result.xlsx"
    export_file(layers("old"), "xlsx", target)
    started = time.time() - 1
    before = target.read_bytes()
    count = failing_after(monkeypatch, xlsx, "_write_sheet", 1, exc)
    with pytest.raises(exc):
        export_file(layers("new"), "xlsx", target)
    assert count["n"] == 2 and target.read_bytes() == before
    only_target(tmp_path, target)
    leftovers = [p for p in Path(tempfile.gettempdir()).glob("openpyxl.*") if p.stat().st_mtime > started]
    assert not leftovers, "openpyxl's temporary sheet files are removed after a failure"
