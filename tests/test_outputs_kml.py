"""KML for Google Earth and QGIS, read back with independent readers (issue 15, item 1).

lxml validates each file against the OGC KML 2.2 schema (the copy pykml ships, read locally);
GDAL 3.6's ``ogrinfo`` (Debian gdal-bin, as many QGIS installs still use) reads names and
booleans; the document is checked for styles, folders and balloons.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from assets_map.io.export import ExportWarning, export_bytes, result_layers
from assets_map.io.provenance import provenance

etree = pytest.importorskip("lxml.etree")
KML = "{http://www.opengis.net/kml/2.2}"


def kml_schema():
    pykml = pytest.importorskip("pykml")
    xsd = Path(pykml.__file__).parent / "schemas" / "ogckml22.xsd"
    return etree.XMLSchema(etree.parse(str(xsd)))


def ogrinfo(*args: str) -> str:
    exe = shutil.which("ogrinfo")
    if exe is None:
        pytest.skip("ogrinfo (Debian gdal-bin) is not installed")
    run = subprocess.run([exe, "-ro", *args], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout


def export_kml(layers, record, tmp_path, name="k") -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExportWarning)
        fname, data = export_bytes(layers, "kml", name=name, provenance=record)
    path = tmp_path / fname
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def trafford_kml(trafford_result, tmp_path_factory):
    path = export_kml(result_layers(trafford_result), provenance(trafford_result), tmp_path_factory.mktemp("kml"),
                      name="trafford")
    return path, trafford_result


def test_valid_kml_22_with_folders_and_no_table_layer(trafford_kml):
    path, _ = trafford_kml
    doc = etree.parse(str(path))
    schema = kml_schema()
    assert schema.validate(doc), schema.error_log
    folders = doc.getroot().findall(f"{KML}Document/{KML}Folder")
    assert [f.findtext(f"{KML}name") for f in folders] == ["assets", "candidates", "needs"]
    assert not doc.getroot().findall(f".//{KML}Document/{KML}Document"), "layers are folders, not nested documents"
    about = doc.getroot().findtext(f"{KML}Document/{KML}description")
    assert "summary left out of the KML" in about and "every other format holds it" in about


def test_names_escaped_once(trafford_kml):
    path, result = trafford_kml
    doc = etree.parse(str(path))
    names = [e.text for e in doc.getroot().iter(f"{KML}name")]
    with_amp = [n for n in result.assets["name"].dropna() if "&" in n]
    assert len(with_amp) >= 10, "Trafford's register has names with '&'"
    assert not [n for n in names if "&amp;" in n]
    assert set(with_amp) <= set(names)
    data = [e.text for e in doc.getroot().iter(f"{KML}SimpleData") if e.text]
    assert not [d for d in data if "&amp;" in d or "&#x27;" in d]
    # GDAL 3.6 reads the same names
    out = ogrinfo(str(path), "assets", "-fields=YES", "-geom=NO")
    read = re.findall(r"^  Name \(String\) = (.*)$", out, flags=re.M)
    assert not [n for n in read if "&amp;" in n]
    assert set(with_amp) <= set(read)


def test_booleans_read_right_by_gdal_36(trafford_kml):
    path, result = trafford_kml
    excluded = int(result.assets["excluded"].sum())
    assert excluded > 100
    summary = ogrinfo(str(path), "assets", "-so")
    assert re.search(r"^excluded: Integer", summary, flags=re.M)
    out = ogrinfo(str(path), "assets", "-where", "excluded = 1", "-geom=NO", "-fields=NO")
    assert out.count("OGRFeature(assets)") == excluded
    out = ogrinfo(str(path), "assets", "-where", "excluded = 0", "-geom=NO", "-fields=NO")
    assert out.count("OGRFeature(assets)") == len(result.assets) - excluded


def test_styles_legend_and_balloons(trafford_kml):
    path, result = trafford_kml
    root = etree.parse(str(path)).getroot()
    styles = {s.get("id"): s for s in root.iterfind(f"{KML}Document/{KML}Style")}
    assert {f"need_decile_{d}" for d in range(1, 11)} <= set(styles)
    shades = {styles[f"need_decile_{d}"].findtext(f"{KML}PolyStyle/{KML}color") for d in range(1, 11)}
    assert len(shades) == 10, "each decile its own shade"
    assert {"site_high", "site_medium", "site_low", "site_not_flagged"} <= set(styles)
    folders = {f.findtext(f"{KML}name"): f for f in root.iterfind(f"{KML}Document/{KML}Folder")}
    needs = folders["needs"].findall(f"{KML}Placemark")
    assert len(needs) == len(result.needs)
    by_code = dict(zip(result.needs["code"], result.needs["need_decile"], strict=True))
    for pm in needs:
        code = next(e.text for e in pm.iter(f"{KML}SimpleData") if e.get("name") == "code")
        assert pm.findtext(f"{KML}styleUrl") == f"#need_decile_{int(by_code[code])}"
    assert "Legend" in folders["needs"].findtext(f"{KML}description")
    assert "most deprived" in folders["needs"].findtext(f"{KML}description")
    sites = folders["candidates"].findall(f"{KML}Placemark")
    want = {"High": "#site_high", "Medium": "#site_medium", "Low": "#site_low"}
    cands = result.candidates.set_index("asset_id")
    for pm in sites:
        aid = next(e.text for e in pm.iter(f"{KML}SimpleData") if e.get("name") == "asset_id")
        assert pm.findtext(f"{KML}styleUrl") == want[cands.loc[aid, "priority"]]
        balloon = etree.HTML(pm.findtext(f"{KML}description"))
        reasons = [li.text for li in balloon.iter("li")]
        assert reasons and reasons[0].startswith("Priority")
    high = [pm for pm in sites if pm.findtext(f"{KML}styleUrl") == "#site_high"]
    assert high, "Trafford has High sites"


def test_control_characters_and_html_in_data(demo_result, tmp_path):
    a = demo_result.assets.copy()
    a.loc[a.index[0], "name"] = "<b>Bold</b> & \"quoted\" \x01 end"
    a.loc[a.index[1], "address"] = "line one\r\nline two"
    with pytest.warns(ExportWarning, match="control characters"):
        _, data = export_bytes({"assets": a}, "kml")
    path = tmp_path / "c.kml"
    path.write_bytes(data)
    root = etree.parse(str(path)).getroot()
    assert kml_schema().validate(etree.ElementTree(root))
    names = [e.text for e in root.iter(f"{KML}name")]
    assert "<b>Bold</b> & \"quoted\" \ufffd end" in names
    addresses = [e.text for e in root.iter(f"{KML}SimpleData") if e.get("name") == "address"]
    assert "line one\r\nline two" in addresses
    balloon = next(pm.findtext(f"{KML}description") for pm in root.iter(f"{KML}Placemark")
                   if pm.findtext(f"{KML}name", "").startswith("<b>"))
    assert "<b>Bold</b>" not in balloon and "&lt;b&gt;Bold" in balloon  # the name shown as text, not markup


def test_a_table_alone_is_refused(demo_result):
    from assets_map.io.export import summary_layer
    from assets_map.io.report import InputError

    with pytest.raises(InputError, match="KML holds only layers with locations"):
        export_bytes({"summary": summary_layer(demo_result.assets)}, "kml")
