"""A user's own files: uploads checked before use, every problem in one error, wards, re-weighting."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from assets_map.engine.demo import load_demo
from assets_map.engine.pipeline import rescore
from assets_map.io.importer import staged_upload
from assets_map.io.report import InputError
from assets_map.io.uploads import Upload, check_uploads, with_wards
from tests.helpers import app_page, plain


def upload(path, name=None) -> Upload:
    return Upload(name or path.name, path.read_bytes())


def test_trafford_upload_is_read_placed_and_explained(shared):
    files = {"register": upload(shared("trafford", "land_and_building_assets.csv")),
             "boundaries": upload(shared("trafford", "lsoa21_boundaries.geojson")),
             "deprivation": upload(shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv")),
             "postcodes": upload(shared("trafford", "postcodes_onspd_feb2025.csv")),
             "wards": upload(shared("trafford", "wards23_boundaries.geojson"))}
    checked = check_uploads(files)
    rep = checked.report
    assert rep.rows_read == len(checked.analysis.assets) == 608
    assert rep.placed + rep.unplaced == 608 and rep.placed_by.get("full postcode", 0) > 0
    assert any(i.kind == "fixed" and "swapped" in i.message for i in rep.issues)  # Davyhulme Youth Centre
    assert checked.analysis.settings["iod_year"] == 2025
    assert checked.label == "Your data: land_and_building_assets.csv"
    assert any("139 need areas" in n for n in checked.notes)
    placed = checked.analysis.assets["need_area_code"].notna()
    assert checked.analysis.assets.loc[placed, "ward_code"].notna().mean() > 0.95


def test_every_bad_file_is_named_in_one_error():
    files = {"register": Upload("empty.csv", b"AssetCode,PropertyName\n"),
             "boundaries": Upload("areas.geojson", b'{"type": "Topology"}'),
             "deprivation": Upload("iod.csv", b"a,b\n1,2\n"),
             "postcodes": Upload("pc.csv", b"postcode,lat,lon\nM1 1AA,1,2\n")}
    with pytest.raises(InputError) as e:
        check_uploads(files)
    text = str(e.value)
    for name in ("areas.geojson", "iod.csv", "pc.csv"):
        assert name in text, name
    assert "\n" not in text
    with pytest.raises(InputError, match="no need area boundaries"):
        check_uploads({"register": Upload("r.csv", b"x\n1\n")})


def test_uploads_never_choose_the_path_they_are_written_to():
    with staged_upload(b"a\n1\n", "../../etc/passwd.csv", None) as (path, shown):
        assert shown == "passwd.csv" and path.name == "upload.csv" and "etc" not in str(path.parent)
        assert path.read_bytes() == b"a\n1\n" and (path.stat().st_mode & 0o077) == 0
    assert not path.exists()


def test_reweighting_equals_analysing_with_the_weights_and_back(demo_result):
    w = rescore(demo_result, weights="income=2,health=1")
    direct = load_demo(weights="income=2,health=1")
    assert (w.assets["priority"].to_numpy() == direct.assets["priority"].to_numpy()).all()
    assert (w.assets["reasons"].to_numpy() == direct.assets["reasons"].to_numpy()).all()
    assert (w.assets["priority"] != demo_result.assets["priority"]).any()
    assert w.settings["weights"] == {"income": 2.0, "health": 1.0} and w.settings["label"] == demo_result.settings["label"]
    back = rescore(w, weights=None)
    assert (back.assets["reasons"].to_numpy() == demo_result.assets["reasons"].to_numpy()).all()
    with pytest.raises(InputError, match="not a deprivation domain"):
        rescore(demo_result, weights="beauty=3")


def test_wards_from_a_lookup_for_the_demo_and_refusal_when_nothing_matches(demo_result, tmp_path):
    codes = sorted(demo_result.needs["code"])
    lookup = pd.DataFrame({"LSOA21CD": codes, "WD24CD": [f"W{i % 4}" for i in range(len(codes))],
                           "WD24NM": [f"Ward {i % 4} (fictional)" for i in range(len(codes))]})
    out, note = with_wards(demo_result, Upload("lookup.csv", lookup.to_csv(index=False).encode()))
    placed = out.assets["need_area_code"].notna()
    assert out.assets.loc[placed, "ward_code"].notna().all()
    assert "lookup.csv" in note and "LSOA-to-ward lookup" in note
    other = lookup.assign(LSOA21CD=[f"E0100{i:04d}" for i in range(len(codes))])
    with pytest.raises(InputError, match="no site falls in any ward"):
        with_wards(demo_result, Upload("other.csv", other.to_csv(index=False).encode()))


def test_reweighting_the_demo_in_the_app_keeps_it_labelled_fictional(demo_result):
    at = app_page("data_page").run()
    at.text_input(key="rw_weights").input("income=2, health=1").run()
    at.button(key="apply_weights").click().run()
    assert not at.exception, at.exception
    assert at.session_state["analysis_is_demo"] is True
    assert any("Fictional demo town" in w.value for w in at.warning)
    in_use = at.session_state["analysis"]
    assert in_use.settings["weights"] == {"income": 2.0, "health": 1.0}
    # Bad weights: an error, and the re-weighted data stays.
    at.text_input(key="rw_weights").input("beauty=3").run()
    at.button(key="apply_weights").click().run()
    assert at.error and "beauty" in re.sub(r"\\(.)", r"\1", at.error[0].value)
    assert at.session_state["analysis"] is in_use
    # The map page shows the composite need in its menu.
    mp = app_page("map_page")
    mp.session_state["analysis"] = in_use
    mp.session_state["analysis_is_demo"] = True
    mp.session_state["analysis_label"] = "Fictional demo (need weighted)"
    mp.run()
    assert not mp.exception
    assert "Composite need (used for priorities)" in mp.selectbox(key="need_measure").options


# ------------------------------------------------------------------ every file in every slot (issue 14, item 2)
# Where each real file belongs, by hand: the slots a person would rightly give it in. A map layer of sites,
# land or facilities is a register, a facility layer or (polygons) an exclusion layer: the file cannot say which.
_MAP_POINTS = ("register", "facilities", "locations")
_MAP_POLYGONS = ("register", "facilities", "locations", "exclude")
BELONGS = {
    "land_and_building_assets.csv": ("register", "locations"),
    "brownfield_points_2020.csv": ("register",),
    "fylde.csv": ("register",), "leicester.csv": ("register",), "rochdale.csv": ("register",),
    "brownfield_register_harmonised.csv": ("register",),
    "eric_hefs_site_and_trust_data_13944.xls": ("register",),
    "imd2025_lsoa21_scores_ranks_deciles.csv": ("deprivation",),
    "iod2015_2019_lsoa11_long.csv": ("deprivation",),
    "lookup_lsoa21_ward24_ltla24.csv": ("wards",),
    "postcodes_onspd_feb2025.csv": ("postcodes", "wards"),
    "lsoa21_boundaries_ew.gpkg": ("boundaries",), "lsoa21_boundaries.geojson": ("boundaries",),
    "lsoa11_boundaries.geojson": ("boundaries",),
    "wards23_boundaries.geojson": ("wards",),
    "ltla24_boundaries_uk.gpkg": (), "borough_boundary.geojson": (), "land_and_building_assets.csv-metadata.json": (),
    # HM Land Registry's parcels: only the Freehold parcels slot takes them (not among SLOTS here)
    "inspire_city_of_london.geojson": (),
}
SLOTS = ("register", "boundaries", "deprivation", "postcodes", "wards", "exclude", "facilities", "locations",
         "ownership")


def _belongs(path) -> tuple[str, ...]:
    if path.name in BELONGS:
        return BELONGS[path.name]
    import pyogrio

    shapes = pyogrio.read_dataframe(path, columns=[]).geometry.geom_type
    slots = _MAP_POLYGONS if shapes.str.contains("Polygon").any() else _MAP_POINTS
    if path.parent.name == "constraints":  # planning constraint layers: never a register of sites
        return tuple(s for s in slots if s != "register")
    return slots


def _real_files():
    from tests.helpers import SHARED

    files = sorted(p for p in SHARED.rglob("*") if p.is_file() and p.name != "README.md")
    if not files:
        pytest.skip(f"real data not found at {SHARED}")
    return files


def test_every_real_file_in_every_wrong_slot_is_explained_in_one_line(shared):
    from assets_map.io.uploads import slot_problem

    shared("trafford", "land_and_building_assets.csv")  # skips (fails in CI) without the data
    for path in _real_files():
        up = upload(path)
        right = _belongs(path)
        for slot in SLOTS:
            problem = slot_problem(slot, up)
            if slot in right:
                assert problem is None, (path.name, slot, problem)
                continue
            assert problem and problem.startswith(path.name) and "\n" not in problem, (path.name, slot, problem)
            assert "Traceback" not in problem
            if right and slot != "locations":  # where it belongs, in the app's words
                assert "give it in the" in problem, (path.name, slot, problem)
            # The check refuses it too, in one error, before reading it as what it is not.
            files = {slot: up} if slot in KIND_SLOTS else {}
            layers = {slot: [up]} if slot in ("exclude", "facilities", "ownership") else {}
            with pytest.raises(InputError) as e:
                check_uploads(files, locations=up if slot == "locations" else None, **layers)
            assert problem in str(e.value).replace("\n", " ")


KIND_SLOTS = ("register", "boundaries", "deprivation", "postcodes", "wards")


def test_the_page_says_what_each_wrong_file_is_and_never_shows_a_traceback(shared):
    """Each real file put in every slot it does not belong in at once: one error line per slot, no exception."""
    shared("trafford", "land_and_building_assets.csv")
    for path in _real_files():
        up = upload(path)
        wrong = [s for s in SLOTS if s not in _belongs(path)]
        at = app_page("data_page")
        at.session_state["staged_uploads"] = {s: up for s in wrong if s in KIND_SLOTS}
        at.session_state["staged_layers"] = {s: ([up] if s in ("exclude", "facilities", "ownership") else up)
                                             for s in wrong if s not in KIND_SLOTS}
        at.run()
        assert not at.exception, (path.name, at.exception)
        errors = [plain(e.value) for e in at.error]
        assert len(errors) == len(wrong), (path.name, errors)
        assert all(e.startswith(path.name) and "\n" not in e for e in errors), errors
        if "register" in wrong:
            at.button(key="check_upload").click().run()
            assert not at.exception, (path.name, at.exception)
            assert any("These files could not be used" in e.value for e in at.error)


def test_a_register_and_need_areas_that_do_not_overlap_are_refused_before_use(shared, tmp_path):
    import geopandas as gpd

    areas = gpd.read_file(shared("trafford", "lsoa21_boundaries.geojson")).to_crs("EPSG:27700")
    areas["geometry"] = areas.translate(xoff=150_000)  # the same codes, 150 km east: another place
    far = tmp_path / "far_areas.geojson"
    areas.to_crs("EPSG:4326").to_file(far)
    files = {"register": upload(shared("trafford", "land_and_building_assets.csv")), "boundaries": upload(far),
             "deprivation": upload(shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv"))}
    with pytest.raises(InputError, match=r"none of the \d+ placed sites of land_and_building_assets.csv lies in any "
                                         r"of the 139 need areas of far_areas.geojson"):
        check_uploads(files)


def test_the_app_excludes_and_places_what_the_cli_does_with_the_same_files(shared, tmp_path):
    """Exclusion layers, partner facilities, an NHS locations file and the IoD edition pass through as on the CLI."""
    from assets_map.engine.pipeline import analyse

    reg, bnd = shared("trafford", "land_and_building_assets.csv"), shared("trafford", "lsoa11_boundaries.geojson")
    pcs = shared("trafford", "postcodes_onspd_feb2025.csv")
    layers = [shared("trafford", "parcels", "greenspace_sites.geojson"), shared("trafford", "parcels", "allotments.geojson")]
    # IoD 2019 rows without their year column or a year in any header or the name (LSOA 2011 codes exist in
    # both editions): the user chooses the edition, as --iod-year does on the command line.
    long = pd.read_csv(shared("trafford", "iod2015_2019_lsoa11_long.csv"))
    dep = tmp_path / "deprivation.csv"
    long = long[long["year"] == 2019].drop(columns=["year", "lad19cd", "lad19nm"])
    long.rename(columns={"lsoa11cd": "lsoa_code"}).to_csv(dep, index=False)
    files = {"register": upload(reg), "boundaries": upload(bnd), "deprivation": upload(dep), "postcodes": upload(pcs)}
    with pytest.raises(InputError, match="does not say which edition"):
        check_uploads(files)
    app = check_uploads(files, exclude=[upload(p) for p in layers], iod_year=2019,
                        facilities=[upload(shared("trafford", "anchors", "libraries.geojson"))])
    cli = analyse(reg, bnd, dep, postcodes=pcs, exclude=layers, iod_year=2019)
    a, c = app.analysis.assets, cli.assets
    assert int(a["excluded"].sum()) == int(c["excluded"].sum()) > int(check_uploads(files, iod_year=2019)
                                                                       .analysis.assets["excluded"].sum())
    assert (a["priority"].to_numpy() == c["priority"].to_numpy()).all()
    assert app.analysis.settings["iod_year"] == 2019 and any("the edition you chose" in n for n in app.notes)
    assert app.facilities is not None and len(app.facilities) == 13
    # NHS ERIC sites placed by a locations file, as analyse --locations places them.
    eric, hosp = shared("nhs", "eric_hefs_site_and_trust_data_13944.xls"), shared("nhs", "hospitals22_points.gpkg")
    lsoa11, iod = shared("trafford", "lsoa11_boundaries.geojson"), shared("trafford", "iod2015_2019_lsoa11_long.csv")
    nhs = check_uploads({"register": upload(eric), "boundaries": upload(lsoa11), "deprivation": upload(iod)},
                        locations=upload(hosp))
    nhs_cli = analyse(eric, lsoa11, iod, locations=hosp)
    assert nhs.report.placed == nhs_cli.reports[0].placed > 300
    assert any(re.match(rf"only 1 of the {nhs.report.placed} placed sites", w) for w in nhs.cautions)
    assert nhs.analysis.warnings == nhs_cli.warnings


def test_wards_are_asked_once_and_added_to_the_data_in_use_without_a_register(demo_result):
    """One ward slot: with no register staged, its file is added to the data in use (and weights likewise once)."""
    codes = sorted(demo_result.needs["code"])
    lookup = pd.DataFrame({"LSOA21CD": codes, "WD24CD": [f"W{i % 4}" for i in range(len(codes))],
                           "WD24NM": [f"Ward {i % 4} (fictional)" for i in range(len(codes))]})
    at = app_page("data_page")
    at.session_state["staged_uploads"] = {"wards": Upload("lookup.csv", lookup.to_csv(index=False).encode())}
    at.run()
    assert [w.label for w in at.text_input].count("Need weights (optional)") == 1
    assert sum("Wards" in u.label for u in at.get("file_uploader")) == 1
    assert not at.error and any(plain(c.value).startswith("lookup.csv: ") for c in at.caption)
    at.button(key="add_wards").click().run()
    assert not at.exception and any("given a ward" in plain(s.value) for s in at.success)
    assert at.session_state["analysis"].assets["ward_code"].notna().any()
