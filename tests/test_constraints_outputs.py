"""Issue 16: the constraint answers reach the site card, the site pack, the exports, the filters and the finder."""
from __future__ import annotations

import html
import re
import zipfile

import pandas as pd
import pytest

from assets_map.io.constraints import CONSTRAINT_KINDS

FILES = ("conservation_areas.geojson", "listed_buildings.geojson", "scheduled_monuments.geojson",
         "sites_of_special_scientific_interest.geojson", "local_nature_reserves.geojson")


@pytest.fixture(scope="module")
def analysed(trafford, shared):
    from assets_map.engine.pipeline import analyse

    return analyse(trafford["register"], trafford["lsoa21"], trafford["imd2025"], postcodes=trafford["postcodes"],
                   exclude=[trafford["greenspace"], trafford["allotments"]],
                   constraints=[shared("trafford", "constraints", f) for f in FILES])


def _site(analysed, answer: str, dataset: str) -> str:
    t = analysed.constraints
    return str(t[(t["answer"] == answer) & (t["dataset"] == dataset)]["asset_id"].iloc[0])


def _answers(analysed, asset_id: str) -> dict[str, tuple[str, object]]:
    t = analysed.constraints
    rows = t[t["asset_id"] == asset_id]
    return {r.kind: (r.answer, r.feature) for r in rows.itertuples()}


def test_site_card_lists_every_kind_with_the_layer_answer(analysed):
    from assets_map.community.sitecard import site_card

    for answer, dataset in (("inside", "conservation-area"), ("near", "listed-building")):
        sid = _site(analysed, answer, dataset)
        card = site_card(analysed.assets, analysed.needs, sid, settings=analysed.settings)
        want = _answers(analysed, sid)
        assert [c.kind for c in card.constraint_lines] == [k.label for k in CONSTRAINT_KINDS.values()]
        for line in card.constraint_lines:
            assert line.answer == want[line.kind][0]
            if line.answer in ("inside", "near"):
                assert str(want[line.kind][1]).split(" (")[0] in line.detail and line.meaning
                assert line.source.endswith(".geojson (date not stated)")
            if line.answer == "not checked" and line.kind in ("flood risk zone", "green belt"):
                assert line.detail == "no layer of this kind was loaded" and not line.source
    unplaced = analysed.assets[analysed.assets["location_quality"] == "none"]["asset_id"].iloc[0]
    card = site_card(analysed.assets, analysed.needs, unplaced, settings=analysed.settings)
    assert {c.answer for c in card.constraint_lines} == {"not checked"}
    assert {c.detail for c in card.constraint_lines if c.source} == {"the site has no location"}


def test_site_pack_shows_the_table(analysed):
    from assets_map.community.sitepack import select_sites, site_pack_html

    sid = _site(analysed, "inside", "conservation-area")
    doc = site_pack_html(select_sites(analysed.assets, [sid]), needs=analysed.needs, settings=analysed.settings)
    table = re.search(r'<table class="constraints">(.*?)</table>', doc, re.S)
    assert table, "no constraints table in the pack"
    rows = re.findall(r"<tr><td>(.*?)</td><td><b>(.*?)</b></td><td>(.*?)</td></tr>", table.group(1), re.S)
    got = {html.unescape(k): html.unescape(a) for k, a, _ in rows}
    want = {k: a for k, (a, _) in _answers(analysed, sid).items() if k in got}
    assert got == want and len(got) == len(FILES)
    assert "Not checked (no layer loaded; never read as clear): listed building outline" in html.unescape(doc)
    assert "demolition, and many changes to the outside" in html.unescape(doc)


@pytest.mark.parametrize("fmt,suffix", [("gpkg", ".gpkg"), ("csv", ".zip"), ("geojson", ".zip")])
def test_exports_carry_the_constraints_layer(analysed, tmp_path, fmt, suffix):
    from assets_map.io.export import export_file, result_layers

    out = export_file(result_layers(analysed), fmt, tmp_path / f"r{suffix}")
    if fmt == "gpkg":
        import pyogrio

        got = pyogrio.read_dataframe(out, layer="constraints", read_geometry=False)
        dictionary = pyogrio.read_dataframe(out, layer="data_dictionary", read_geometry=False)
    else:
        with zipfile.ZipFile(out) as z:
            name = next(n for n in z.namelist() if re.search(r"(^|/)constraints\.(csv|geojson)$", n))
            with z.open(name) as fh:
                got = pd.read_csv(fh) if name.endswith(".csv") else __import__("geopandas").read_file(fh)
            with z.open(next(n for n in z.namelist() if n.endswith("data_dictionary.csv"))) as fh:
                dictionary = pd.read_csv(fh, encoding="utf-8-sig")
    want = analysed.constraints
    assert len(got) == len(want)
    assert got["answer"].astype(str).tolist() == want["answer"].astype(str).tolist()
    assert got["kind"].astype(str).tolist() == want["kind"].astype(str).tolist()
    meaning = dict(zip(dictionary["field"], dictionary["meaning"], strict=False))
    assert meaning["answer"].startswith("inside (the site or its parcel intersects a feature)")


def test_filters_keep_only_checked_sites(analysed):
    from assets_map.engine.constraints import answers_for
    from assets_map.engine.filters import Filters, options, prepare

    a = analysed.assets
    idx = prepare(a)
    assert options(a)["constraint_kinds"] == {
        k: CONSTRAINT_KINDS[k].label for k in ("conservation-area", "listed-building", "scheduled-monument",
                                             "site-of-special-scientific-interest", "local-nature-reserve")}
    not_ca = idx.mask(Filters(not_inside=("conservation-area",)))
    ca = answers_for(a, "conservation-area").to_numpy()
    assert (not_ca.mask == ((ca == "clear") | (ca == "near"))).all() and not_ca.shown
    assert any("not checked for conservation area" in n for n in not_ca.notes)
    none = idx.mask(Filters(no_constraint_found=True))
    table = analysed.constraints
    inside_any = set(table[table["answer"] == "inside"]["asset_id"])
    checked = set(table[table["answer"] != "not checked"]["asset_id"])
    shown = set(a["asset_id"][none.mask])
    assert shown == checked - inside_any and shown


def test_finder_brief_can_avoid_or_prefer(analysed):
    from assets_map.community.finder import SiteBrief, find_sites

    a = analysed.assets
    base = find_sites(a, SiteBrief(include_unflagged=True), needs=analysed.needs)
    avoid = find_sites(a, SiteBrief(include_unflagged=True, avoid_constraints=("conservation-area",)),
                       needs=analysed.needs)
    t = analysed.constraints
    inside = set(t[(t["answer"] == "inside") & (t["dataset"] == "conservation-area")]["asset_id"])
    assert inside & set(base["asset_id"]) and not inside & set(avoid["asset_id"])
    assert avoid.attrs["funnel"]["inside a conservation area (the brief avoids it)"] == len(inside & set(base["asset_id"]))
    prefer = find_sites(a, SiteBrief(include_unflagged=True, prefer_unconstrained=True), needs=analysed.needs)
    assert "fit_constraints" in prefer.columns
    top_inside = prefer[prefer["asset_id"].isin(inside)]["fit_constraints"]
    assert (top_inside == 0).all() and (prefer["fit_constraints"] > 0).any()
    assert prefer["fit_reasons"].str.contains("no planning constraint found among the 5 kinds checked").any()


def test_app_upload_gives_the_cli_answers(analysed, trafford, shared):
    from assets_map.io.importer import Upload
    from assets_map.io.uploads import check_uploads, slot_problem

    up = lambda p: Upload(p.name, p.read_bytes())  # noqa: E731
    files = {"register": up(trafford["register"]), "boundaries": up(trafford["lsoa21"]),
             "deprivation": up(trafford["imd2025"]), "postcodes": up(trafford["postcodes"])}
    layers = [up(shared("trafford", "constraints", f)) for f in FILES]
    checked = check_uploads(files, exclude=[up(trafford["greenspace"]), up(trafford["allotments"])],
                            constraints=layers)
    got, want = checked.analysis.constraints, analysed.constraints
    assert got["answer"].astype(str).tolist() == want["answer"].astype(str).tolist()
    assert any("conservation_areas.geojson: 21 conservation area features" in n for n in checked.notes)
    wrong = slot_problem("constraints", up(trafford["greenspace"]))
    assert wrong.startswith("greenspace_sites.geojson: which constraint this layer holds could not be told")
    assert slot_problem("constraints", layers[0]) is None
