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
from tests.helpers import app_page


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
