"""Downloads of the filtered set or a shortlist: every format reads back with the same sites."""
from __future__ import annotations

import io
import json
import zipfile

import pyogrio
import pytest

from assets_map.engine.filters import Filters, apply_filters
from assets_map.io.downloads import FORMATS, download, file_stem


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_each_format_reads_back_with_the_same_sites(fmt, demo_result, tmp_path):
    sites = apply_filters(demo_result.assets, Filters(priorities=("High", "Medium")))
    name, data, mime, notes = download(sites, fmt, name="assets-map filtered (fictional demo)",
                                       settings=demo_result.settings)
    assert name.startswith("assets-map-filtered-fictional-demo") and mime == FORMATS[fmt][1]
    want = set(sites["asset_id"])
    if fmt == "gpkg":
        path = tmp_path / name
        path.write_bytes(data)
        got = pyogrio.read_dataframe(path, layer="assets")
        assert set(got["asset_id"]) == want and len(got) == len(sites)
    elif fmt == "geojson":
        fc = json.loads(data)
        assert {f["properties"]["asset_id"] for f in fc["features"]} == want
    elif fmt == "kml":
        text = data.decode("utf-8")
        assert all(i in text for i in want)
        assert "<img src=x" not in text
    elif fmt == "xlsx":
        import openpyxl

        ws = openpyxl.load_workbook(io.BytesIO(data), read_only=True)["assets"]
        rows = list(ws.iter_rows(values_only=True))
        col = rows[0].index("asset_id")
        assert {r[col] for r in rows[1:]} == want
    else:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
            if fmt == "shp":
                assert any(n.endswith(".shp") for n in names) and any(n.endswith(".prj") for n in names)
                z.extractall(tmp_path)
                got = set()
                for shp in (n for n in names if n.endswith(".shp")):  # one file per geometry type
                    part = pyogrio.read_dataframe(tmp_path / shp)
                    got |= set(part[next(c for c in part.columns if c.lower().startswith("asset_id"))])
                assert got == want
            else:
                csv = next(n for n in names if n.endswith(".csv") and "assets" in n)
                text = z.read(csv).decode("utf-8-sig")
                assert all(i in text for i in want)
    if fmt == "shp":
        assert any("254" in n for n in notes)  # long reasons are cut in dBase, and the note says where the full text is


def test_unknown_format_and_file_stems():
    with pytest.raises(ValueError, match="unknown format"):
        download(None, "docx")
    assert file_stem("../My sites: <b>") == "my-sites-b"
