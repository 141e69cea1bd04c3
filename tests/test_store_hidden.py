"""Hidden means hidden: a field an owner hides appears nowhere public, on both backends.

Four assets with distinctive values are put in a register. Each publicly shown field
is hidden in turn, and its value (and whatever text restates it: a reason, a score
sentence, a need area) must then be absent from everything public: the public frame
and ``get``, the map data, the site card, the site pack, downloads in every format,
the finder and the messages the public sees. Each "tell" is first checked to be there
while the field is shown, so a test cannot pass by looking for text that never appears.
The upload's file name, source columns, the location note and internal notes are
never public at all.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import sqlite3
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from assets_map.engine.pipeline import Analysis, join_needs, rescore, score
from assets_map.engine.priority import transferability
from assets_map.io.report import InputError
from assets_map.schema import DISPLAY_CRS
from assets_map.store import LOCAL_USER, PUBLIC, Role, views
from tests.helpers import HASH

ORG = "Register Keepers (fictional)"
OTHER = "Elsewhere (fictional)"
FILE = "secret_register_v3.csv"
ALWAYS_HIDDEN = ("secret_register", "Wobbegong", "Marzipan survey", "Dilapidated marmalade", "roof leaks like a sieve")


def _targets(needs: gpd.GeoDataFrame, greenspace: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Four assets, each in its own need area (one in a decile 1-3 area), none in greenspace."""
    free = needs[~needs.geometry.intersects(greenspace.union_all())]
    deprived = free[free["need_decile"] <= 3]
    areas = [deprived.iloc[0]] + [r for _, r in free[free["code"] != deprived.iloc[0]["code"]].iloc[:3].iterrows()]
    base = {
        "organisation": "Quetzalcoatl Health Trust (fictional)", "anchor_type": "nhs", "name": "Zebrafinch House",
        "address": "17 Zanzibar Row", "postcode": "QX9 7ZZ", "uprn": "100099887766", "tenure": "leasehold",
        "holding_type": "both", "use": "Xylophone workshop", "status": "vacant", "floor_area_m2": 7123.5,
        "site_area_ha": 9.87654, "empty_floor_pct": 37.25, "underused_floor_pct": 12.75,
        "vacant_since": dt.date(2016, 5, 1), "condition": "Dilapidated marmalade",
        "location_quality": "register coordinates", "location_note": "Marzipan survey", "source": FILE,
        "source_row": 1, "source_date": dt.date(2019, 3, 31), "visibility": "public",
        "contact_route": "call Yolanda Quince", "src_secret": "Wobbegong",
    }
    # The other three share none of T-FLAG's distinctive values.
    others = {"vacant_since": None, "source_date": dt.date(2021, 1, 1), "contact_route": "the council's estates team"}
    rows = [
        {**base, "asset_id": "T-FLAG"},
        {**base, **others, "asset_id": "T-LEASE", "organisation": "Lemming Borough Council (fictional)", "anchor_type": "council",
         "name": "Lemming Depot", "address": "2 Vole Street", "postcode": "QX1 1AA", "uprn": "200011112222",
         "tenure": "freehold", "holding_type": "building", "use": "Depot", "status": "leased-out",
         "floor_area_m2": 300.0, "site_area_ha": None, "empty_floor_pct": None, "underused_floor_pct": None,
         "source_row": 2},
        {**base, **others, "asset_id": "T-LAND", "organisation": "Lemming Borough Council (fictional)", "anchor_type": "council",
         "name": "Quillwort Recreation Ground", "address": "Heron Lane", "postcode": "QX1 1AB", "uprn": None,
         "tenure": "freehold", "holding_type": "land", "use": "Grazing", "status": "vacant",
         "floor_area_m2": None, "site_area_ha": 2.0, "empty_floor_pct": None, "underused_floor_pct": None,
         "source_row": 3},
        {**base, **others, "asset_id": "T-USE", "organisation": "Lemming Borough Council (fictional)", "anchor_type": "council",
         "name": "Otter Plot", "address": "Otter Lane", "postcode": "QX1 1AC", "uprn": None, "tenure": "freehold",
         "holding_type": "land", "use": "Quinoa community garden", "status": "vacant", "floor_area_m2": None,
         "site_area_ha": 0.5, "empty_floor_pct": None, "underused_floor_pct": None, "source_row": 4},
    ]
    geoms = [a.geometry.representative_point() for a in areas]
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs=needs.crs)


@pytest.fixture(scope="module")
def hidden_analysis(tmp_path_factory):
    from assets_map.engine.demo import build_demo, load_demo

    path = build_demo(tmp_path_factory.mktemp("hidden") / "demo.gpkg")
    demo = load_demo(path)
    greenspace = gpd.read_file(path, layer="greenspace").to_crs("EPSG:27700")
    exclude = [("internal_greenspace_layer", greenspace)]
    assets = _targets(demo.needs, greenspace)
    scored = score(join_needs(assets, demo.needs), exclude=exclude, weights={"imd": 1.0})
    result = Analysis(assets=scored, needs=demo.needs, settings={"weights": {"imd": 1.0}, "iod_year": 2025}, exclude=exclude)
    a = scored.set_index("asset_id")
    # The register is what the tells below assume.
    assert a.loc["T-FLAG", "priority"] == "High" and not a.loc["T-FLAG", "excluded"]
    assert a.loc["T-LAND", "excluded"] and "Quillwort" in a.loc["T-LAND", "exclusion_reason"]
    assert a.loc["T-USE", "excluded"] and "Quinoa" in a.loc["T-USE", "exclusion_reason"]
    assert "currently leased out" in a.loc["T-LEASE", "reasons"]
    return result, exclude


@pytest.fixture
def register(store, hidden_analysis):
    result, exclude = hidden_analysis
    store.import_analysis(result, organisation=ORG, role=LOCAL_USER, source_name=FILE, file_sha256=HASH,
                          exclude=exclude)
    store.save("T-FLAG", {"notes": "roof leaks like a sieve"}, expected_version=1, role=LOCAL_USER)
    return store


# ------------------------------------------------------------------------------- what the public sees
def _export_text(name: str, data: bytes) -> str:
    """Every value in an export as text (GeoPackage tables read row by row; zip members decoded)."""
    if name.endswith(".gpkg"):
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / name
            p.write_bytes(data)
            con = sqlite3.connect(p)
            try:
                tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
                return "\n".join(repr(row) for t in tables for row in con.execute(f'SELECT * FROM "{t}"'))
            finally:
                con.close()
    if name.endswith((".zip", ".xlsx")):  # an Excel workbook is a zip of XML parts
        out = []
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for member in z.namelist():
                if not member.endswith((".shp", ".shx")):
                    out.append(z.read(member).decode("utf-8", errors="replace"))
        return "\n".join(out)
    return data.decode("utf-8")


def public_surfaces(store, aid: str) -> dict[str, str]:
    """Everything public about the register, as text by surface."""
    from assets_map.community.finder import SiteBrief, find_sites
    from assets_map.community.sitecard import site_card
    from assets_map.community.sitepack import select_sites, site_pack_html
    from assets_map.io import downloads
    from assets_map.maps.draw import map_data

    frame = store.assets(PUBLIC)
    result = store.register_analysis(PUBLIC)
    a = result.assets
    out = {"frame": frame.drop(columns="geometry").to_json(default_handler=str)
                    + " ".join(g.wkt for g in frame.geometry.dropna()),
           "get": repr(store.get(aid, PUBLIC)), "view": repr(store.raw("SELECT * FROM public_assets")),
           "analysis": a.drop(columns="geometry").to_json(default_handler=str) + repr(result.settings)}
    data = map_data(a, result.needs)
    out["map"] = json.dumps([data.polygons, data.points], default=str)
    out["card"] = repr(dataclasses.asdict(site_card(a, result.needs, aid, settings=result.settings)))
    out["pack"] = site_pack_html(select_sites(a, [aid]), needs=result.needs, settings=result.settings)
    found = find_sites(a, SiteBrief(use="other", holding="either", include_unflagged=True), needs=result.needs)
    out["finder"] = found.drop(columns="geometry").to_json(default_handler=str) + repr(found.attrs)
    for fmt in downloads.FORMATS:
        name, data_bytes, _, notes = downloads.download(a, fmt, name="register", settings=result.settings)
        out[f"download {fmt}"] = _export_text(name, data_bytes) + " ".join(notes)
    try:  # what a public visitor is told when a correction is refused
        store.submit_correction(aid, message="", proposed={"status": "gone"}, role=PUBLIC)
    except InputError as exc:
        out["message"] = str(exc)
    return out


def _lonlat(geom) -> list[str]:
    p = gpd.GeoSeries([geom.representative_point()], crs="EPSG:27700").to_crs(DISPLAY_CRS).iloc[0]
    return [f"{p.x:.7f}"[:-3], f"{p.y:.7f}"[:-3]]  # 4 decimals, cut (outputs round to 6 or 7)


def _where(surfaces: dict[str, str], tell: str) -> list[str]:
    return [k for k, text in surfaces.items() if tell in text]


# ------------------------------------------------------------------------------- each field in turn
def _cases(store) -> list[tuple[str, str, list[str]]]:
    """(asset, field, tells): texts that show the field's value, directly or restated."""
    mine = store.assets(LOCAL_USER).set_index("asset_id")
    flag = mine.loc["T-FLAG"]
    need_tells = [flag["need_area_code"], flag["need_area_name"]]
    return [
        ("T-FLAG", "organisation", ["Quetzalcoatl"]),
        ("T-FLAG", "anchor_type", ["NHS surplus land"]),
        ("T-FLAG", "name", ["Zebrafinch"]),
        ("T-FLAG", "address", ["Zanzibar"]),
        ("T-FLAG", "postcode", ["QX9 7ZZ"]),
        ("T-FLAG", "uprn", ["100099887766"]),
        ("T-FLAG", "tenure", ["held on a lease"]),
        ("T-FLAG", "holding_type", ["buildings cover"]),
        ("T-FLAG", "use", ["Xylophone"]),
        ("T-FLAG", "status", ["records it as vacant", "vacant since"]),
        ("T-FLAG", "floor_area_m2", ["7123", "7,124", "buildings cover"]),
        ("T-FLAG", "site_area_ha", ["9.876", "9.88", "buildings cover"]),
        ("T-FLAG", "empty_floor_pct", ["37.25"]),
        ("T-FLAG", "underused_floor_pct", ["12.75"]),
        ("T-FLAG", "vacant_since", ["2016-05-01", "20160501", "vacant since"]),
        ("T-FLAG", "source_date", ["2019-03-31", "20190331"]),
        ("T-FLAG", "location_quality", []),
        ("T-FLAG", "geometry", need_tells + _lonlat(flag.geometry)),
        # With the location shown, anyone may place the site in its area (the finder's catchment does):
        # what goes is the asset's own need area, as the reasons, card and pack state it.
        *[("T-FLAG", f, [f"LSOA {flag['need_area_code']}", flag["need_area_name"]]) for f in views.NEED_GROUP],
        ("T-FLAG", "excluded", ["Priority High"]),
        ("T-FLAG", "underuse_score", ["Priority High", "strong underuse evidence", "[+0.50]"]),
        ("T-FLAG", "underuse_confidence", [f"confidence {flag['underuse_confidence']}"]),
        ("T-FLAG", "transfer_score", ["Transfer: held on a lease"]),
        ("T-FLAG", "priority", ["Priority High"]),
        ("T-FLAG", "reasons", ["[+0.50]", "Priority High: strong underuse"]),
        ("T-FLAG", "constraints", []),
        ("T-FLAG", "contact_route", ["Yolanda Quince"]),
        ("T-LEASE", "status", ["currently leased out"]),
        ("T-LEASE", "tenure", ["held freehold"]),
        ("T-LAND", "name", ["Quillwort"]),
        ("T-LAND", "exclusion_reason", ["named 'Quillwort"]),
        ("T-LAND", "excluded", ["named 'Quillwort"]),
        ("T-USE", "use", ["Quinoa"]),
    ]


def _blank(v) -> bool:
    return v is None or (not isinstance(v, (list, dict)) and pd.isna(v))


def test_each_hidden_field_appears_nowhere_public(register, backend):
    store = register
    cases = _cases(store)
    assert {f for _, f, _ in cases} == set(views.PUBLIC_FIELDS) - {"asset_id"}, "every public field is tried"
    baseline = {aid: public_surfaces(store, aid) for aid in ("T-FLAG", "T-LEASE", "T-LAND", "T-USE")}
    for aid, surfaces in baseline.items():
        for tell in ALWAYS_HIDDEN:
            assert not _where(surfaces, tell), (aid, tell, _where(surfaces, tell))
    for aid, field, tells in cases:
        shown = baseline[aid]
        for tell in tells:  # the tell is real: it is there while the field is shown
            assert _where(shown, tell), (aid, field, tell)
        v = store.get(aid, LOCAL_USER)["version"]
        store.save(aid, {"field_visibility": {field: "internal"}}, expected_version=v, role=LOCAL_USER)
        surfaces = public_surfaces(store, aid)
        for tell in tells + list(ALWAYS_HIDDEN):
            assert not _where(surfaces, tell), f"{aid}: hidden {field} still shows {tell!r} in {_where(surfaces, tell)}"
        if field not in views.DERIVED:  # a visitor re-weighting the public view gets no hidden value back either
            again = rescore(store.register_analysis(PUBLIC), weights="income=2,health=1")
            text = again.assets.drop(columns="geometry").to_json(default_handler=str)
            for tell in tells + list(ALWAYS_HIDDEN):
                assert tell not in text, f"{aid}: hidden {field} shows {tell!r} after re-weighting"
        row = store.get(aid, PUBLIC)
        value = row.get(field) if field != "geometry" else row["geometry"]
        assert _blank(value), (aid, field, value)
        internal = store.get(aid, LOCAL_USER)
        if field == "tenure":  # the score is the one the engine gives without the tenure
            want = transferability({"tenure": None, "status": internal["status"],
                                    "anchor_type": internal["anchor_type"]})[0]
            assert row["transfer_score"] == want != internal["transfer_score"]
        if field == "status":
            want = transferability({"tenure": internal["tenure"], "status": None,
                                    "anchor_type": internal["anchor_type"]})[0]
            assert row["transfer_score"] == want
        v = store.get(aid, LOCAL_USER)["version"]
        store.save(aid, {"field_visibility": {field: "public"}}, expected_version=v, role=LOCAL_USER)
    # Shown again, everything is as it was.
    assert public_surfaces(store, "T-FLAG")["frame"] == baseline["T-FLAG"]["frame"]


def test_public_reasons_name_no_file_and_no_internal_layer(register):
    pub = register.assets(PUBLIC).set_index("asset_id")
    internal = register.assets(LOCAL_USER).set_index("asset_id")
    assert FILE in internal.loc["T-FLAG", "reasons"]  # the internal reasons cite the file...
    assert FILE not in pub.loc["T-FLAG", "reasons"]  # ...the public ones do not
    assert "source: Quetzalcoatl Health Trust (fictional), 2019-03-31" in pub.loc["T-FLAG", "reasons"]
    # With nothing hidden, the public sees the internal priority and scores.
    for col in ("priority", "underuse_score", "transfer_score", "need_area_code", "excluded"):
        assert (pub[col] == internal.loc[pub.index, col]).all(), col
    analysis = register.register_analysis(PUBLIC)
    assert [label for label, _ in analysis.exclude] == [views.PUBLIC_LAYER_LABEL]


def test_editor_of_another_organisation_sees_what_the_public_sees(register, hidden_analysis):
    store = register
    result, exclude = hidden_analysis
    other = result.assets.copy()
    other["asset_id"] = "O-" + other["asset_id"]
    other["organisation"] = OTHER
    store.import_analysis(Analysis(assets=other, needs=result.needs, settings=result.settings, exclude=exclude), organisation=OTHER,
                          role=LOCAL_USER, source_name="other.csv", file_sha256=HASH, exclude=exclude)
    store.save("T-FLAG", {"field_visibility": {"status": "internal", "geometry": "internal", "tenure": "internal"}},
               expected_version=2, role=LOCAL_USER)
    ed = Role("editor", "ed@elsewhere.example", OTHER)
    seen = store.assets(ed).set_index("asset_id")
    pub = store.assets(PUBLIC).set_index("asset_id")
    theirs = [a for a in pub.index if not a.startswith("O-")]
    cols = list(pub.columns)
    pd.testing.assert_frame_equal(pd.DataFrame(seen.loc[theirs, cols].drop(columns="geometry")),
                                  pd.DataFrame(pub.loc[theirs, cols].drop(columns="geometry")), check_dtype=False)
    assert store.get("T-FLAG", ed) == store.get("T-FLAG", PUBLIC)
    assert seen.loc["T-FLAG", "status"] is None and seen.loc["T-FLAG"].geometry is None
    assert "held on a lease" not in seen.loc["T-FLAG", "reasons"] and FILE not in seen.loc["T-FLAG", "reasons"]
    assert seen.loc["O-T-FLAG", "status"] == "vacant" and seen.loc["O-T-FLAG", "version"] == 1  # their own in full


def _reopen(store):
    from assets_map.store import SqliteStore

    if isinstance(store, SqliteStore):
        return SqliteStore(store.path)
    from assets_map.store.postgis import PostgisStore

    return PostgisStore(store.url, schema=store.schema)


def test_a_register_from_before_the_rules_gets_public_records_on_open(store, hidden_analysis):
    """An older register (no public records, a view of its own) is brought under the rules when opened."""
    result, exclude = hidden_analysis
    store.import_analysis(result, organisation=ORG, role=LOCAL_USER, source_name=FILE, file_sha256=HASH,
                          exclude=exclude)
    store.save("T-FLAG", {"field_visibility": {"tenure": "internal"}}, expected_version=1, role=LOCAL_USER)
    store.raw("DELETE FROM public_records")
    store.raw("DELETE FROM meta WHERE key IN ('public_rules', 'public_view')")
    assert store.assets(PUBLIC).empty  # no public record: nothing public (fail closed)
    store.raw("DROP VIEW public_assets")
    store.raw("CREATE VIEW public_assets AS SELECT asset_id, attrs FROM assets")  # an earlier view, other columns
    again = _reopen(store)
    assert "attrs" not in again.raw_columns("public_assets")
    pub = again.assets(PUBLIC).set_index("asset_id")
    assert len(pub) == 4 and pub.loc["T-FLAG", "tenure"] is None
    assert "held on a lease" not in pub.loc["T-FLAG", "reasons"] and FILE not in pub.loc["T-FLAG", "reasons"]


@pytest.mark.parametrize("field", ["use", "name", "status"])
def test_a_hidden_field_never_turns_an_excluded_asset_into_a_public_flag(register, field):
    """T-USE is a community garden (excluded by its use), T-LAND a recreation ground (by its name): hiding the
    field that excludes them must not let the public scoring flag them; the public reason names nothing hidden."""
    store = register
    for aid in ("T-USE", "T-LAND"):
        v = store.get(aid, LOCAL_USER)["version"]
        store.save(aid, {"field_visibility": {field: "internal"}}, expected_version=v, role=LOCAL_USER)
    internal = store.assets(LOCAL_USER).set_index("asset_id")
    pub = store.assets(PUBLIC).set_index("asset_id")
    for aid in ("T-USE", "T-LAND"):
        assert internal.loc[aid, "excluded"], aid
        assert bool(pub.loc[aid, "excluded"]), (aid, pub.loc[aid, "reasons"])
        assert pub.loc[aid, "priority"] == internal.loc[aid, "priority"] == "not flagged"
        if field != "status":  # a status value ("vacant") is an everyday word; the field itself is blank
            hidden_value = str(internal.loc[aid, field])
            row_text = " ".join(str(v) for k, v in pub.loc[aid].items() if k != "geometry")
            assert hidden_value not in row_text, (aid, field, row_text)
        assert pub.loc[aid, field] is None
