"""Site pack: one printable page per site, HTML escaped, PDF rendered to an image that is not blank."""
from __future__ import annotations

import io

import geopandas as gpd
import numpy as np
import pytest

from assets_map.community.partners import prepare_facilities
from assets_map.community.sitepack import html_to_pdf, map_png, select_sites, site_pack_html, write_site_pack
from assets_map.engine.demo import DEMO_PATH
from assets_map.io.report import InputError

pypdf = pytest.importorskip("pypdf")
pdfium = pytest.importorskip("pypdfium2")


@pytest.fixture(scope="module")
def demo_facilities():
    return prepare_facilities(gpd.read_file(DEMO_PATH, layer="facilities"), label="facilities")


def _pages(pdf: bytes):
    doc = pdfium.PdfDocument(pdf)
    try:
        return [np.asarray(doc[i].render(scale=1).to_pil().convert("L")) for i in range(len(doc))]
    finally:
        doc.close()


def _text(pdf: bytes) -> str:
    return " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_one_site_one_page_named_and_not_blank(demo_result, demo_facilities, tmp_path):
    site = demo_result.candidates.iloc[[0]]
    name = site["name"].iloc[0]
    doc = site_pack_html(site, needs=demo_result.needs, facilities=demo_facilities, settings=demo_result.settings)
    html_path, pdf_path = tmp_path / "pack.html", tmp_path / "pack.pdf"
    assert write_site_pack(doc, html_path=html_path, pdf_path=pdf_path) == [str(html_path), str(pdf_path)]
    pdf = pdf_path.read_bytes()
    pages = _pages(pdf)
    assert len(pages) == 1
    img = pages[0]
    ink = (img < 200).mean()
    assert 0.03 < ink < 0.6, f"share of dark pixels {ink:.3f}"
    assert img.std() > 20
    text = _text(pdf)
    assert name in text
    for heading in ("Why this site is here", "The need it would serve", "Partners nearby", "Routes to community ownership",
                    "Data quality and dates", "What this map cannot do", "Fictional demo town"):
        assert heading in text
    html = html_path.read_text()
    assert html.count("data:image/png;base64,") == 1 and "http" not in html.split("<body>")[1]


def test_every_value_escaped(demo_result):
    a = demo_result.assets
    evil = a[a["name"].str.contains("<img", na=False)]
    assert len(evil) == 1
    site = evil.copy()
    site["reasons"] = "<script>alert(1)</script> reason"
    doc = site_pack_html(site, needs=demo_result.needs)
    assert "<img src=x" not in doc and "<script>" not in doc
    assert "&lt;img src=x onerror=alert(1)&gt;" in doc and "&lt;script&gt;" in doc


def test_shortlist_cover_and_pages(demo_result, demo_facilities):
    sites = select_sites(demo_result.assets, list(demo_result.candidates["asset_id"].iloc[:3]))
    doc = site_pack_html(sites, needs=demo_result.needs, facilities=demo_facilities, brief_text="Brief: a food hub")
    pdf = html_to_pdf(doc)
    pages = _pages(pdf)
    assert len(pages) == 4
    assert all(p.std() > 10 for p in pages)
    text = _text(pdf)
    assert "Brief: a food hub" in text
    for n in sites["name"]:
        assert n in text


def test_unknown_ids_and_unplaced_sites(demo_result):
    with pytest.raises(InputError, match="NOPE"):
        select_sites(demo_result.assets, ["NOPE"])
    lost = demo_result.assets[demo_result.assets.geometry.isna()].iloc[[0]]
    png = map_png(lost.iloc[0], needs=demo_result.needs)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    doc = site_pack_html(lost, needs=demo_result.needs)
    assert "not placed" in doc and "not assessed" in doc


def test_pdf_renderer_fetches_nothing_from_outside(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(map_png(gpd.GeoDataFrame({"a": [1]}, geometry=[None], crs="EPSG:27700").iloc[0]))
    doc = f'<html><body><p>x</p><img src="file://{secret}"><img src="http://127.0.0.1:9/x.png"></body></html>'
    pdf = html_to_pdf(doc)
    assert b"/Image" not in pdf  # neither image was loaded
    ok = html_to_pdf(f'<html><body><img src="data:image/png;base64,{__import__("base64").b64encode(secret.read_bytes()).decode()}"></body></html>')
    assert b"/Image" in ok


def test_trafford_site_pack_cli_with_acv_dates(shared, tmp_path):
    from assets_map.cli import main
    from assets_map.engine.pipeline import analyse
    from assets_map.io.export import write_gpkg

    r = analyse(shared("trafford", "land_and_building_assets.csv"), shared("trafford", "lsoa21_boundaries.geojson"),
                shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv"))
    result = tmp_path / "t.gpkg"
    write_gpkg({"assets": r.assets, "needs": r.needs}, result)
    site = r.candidates[r.candidates["need_area_code"].notna()].iloc[0]
    pdf = tmp_path / "site.pdf"
    code = main(["site-pack", "--analysis", str(result), "--site", site["asset_id"], "--pdf", str(pdf),
                 "--facilities", str(shared("trafford", "anchors", "libraries.geojson")),
                 "--acv-listed-on", "2024-01-15", "--acv-notified-on", "2025-08-31"])
    assert code == 0
    data = pdf.read_bytes()
    assert len(_pages(data)) == 1 and _pages(data)[0].std() > 20
    text = " ".join(_text(data).split())
    assert site["name"] in text
    assert "Trafford Council" in text and "28 Feb 2026" in text and "11 Oct 2025" in text  # full and interim ends
    assert main(["site-pack", "--analysis", str(result), "--site", site["asset_id"], "--pdf", str(pdf),
                 "--acv-notified-on", "not a date"]) == 2
