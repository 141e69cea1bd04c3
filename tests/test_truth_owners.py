"""Issue 13 rule 8: owners by name, never a bare code or URI; the code kept.

Registers in other layouts name their owner by an older ONS code (``23UB``), a GSS code, a
linked-data URI or an NHS ODS code. Each is named from the lookups given (an ONS lookup in its
``LAD09CD, LAD09CDO, LAD09NM`` layout written here, the real LTLA lookup and NHS trust points in
../shared/data), or said in words with the kind of owner it implies, so the route is right.
"""
from __future__ import annotations

import pytest

from assets_map import cli
from assets_map.engine.pipeline import analyse
from assets_map.io.importer import import_file
from assets_map.io.owners import code_kind
from assets_map.io.report import InputError

HEADER = "Organisation,AssetCode,PropertyName,GeoX,GeoY,TenureType,HoldingType,TenureDetail\n"


def _register(tmp_path, org: str, header: str = HEADER, name: str = "register.csv"):
    p = tmp_path / name
    p.write_text(header + f"{org},A1,Old Library,-2.3551,53.4512,Freehold,Land & Building,Vacant\n"
                 f"{org},A2,Depot,-2.3301,53.4412,Freehold,Building,Occupied\n", encoding="utf-8")
    return p


@pytest.fixture
def ons_lookup(tmp_path):
    # the layout of the ONS 2009 local authority lookups: new code, old code, name
    p = tmp_path / "LAD09_lookup.csv"
    p.write_text("LAD09CD,LAD09CDO,LAD09NM\nE07000078,23UB,Cheltenham\nE08000009,00BU,Trafford\n", encoding="utf-8")
    return p


@pytest.mark.parametrize("text,kind", [("23UB", "local authority"), ("00BU", "local authority"),
                                       ("E08000009", "local authority"), ("RXG", "nhs if named"), ("R1A", "nhs"),
                                       ("local-authority-eng:TRF", "local authority"),
                                       ("http://opendatacommunities.org/id/metropolitan-district-council/trafford", "uri"),
                                       ("Trafford Council", None), ("NHS Property Services", None), ("RAF", "nhs if named")])
def test_code_kinds(text, kind):
    assert code_kind(text) == kind


def test_old_ons_code_named_from_a_lookup(tmp_path, ons_lookup):
    gdf, report = import_file(_register(tmp_path, "23UB"), owners=[ons_lookup])
    assert set(gdf["organisation"]) == {"Cheltenham (local authority)"}
    assert set(gdf["organisation_code"]) == {"23UB"} and set(gdf["anchor_type"]) == {"council"}
    fixed = next(i for i in report.issues if "named from LAD09_lookup.csv" in i.message)
    assert "23UB -> Cheltenham" in fixed.message and fixed.rows == [1, 2]


def test_unnamed_code_is_said_in_words_with_its_kind(tmp_path):
    gdf, report = import_file(_register(tmp_path, "23UB"))
    assert set(gdf["organisation"]) == {"Local authority 23UB"}
    assert set(gdf["anchor_type"]) == {"council"}  # so the route is the council's, not "the owner's own policy"
    warn = next(i for i in report.issues if "no lookup names" in i.message)
    assert "23UB" in warn.message and warn.rows == [1, 2]


def test_route_is_the_councils_for_a_coded_owner(tmp_path, trafford):
    result = analyse(_register(tmp_path, "23UB"), trafford["lsoa11"], trafford["iod_long"])
    reasons = " ".join(" ".join(r) if isinstance(r, list) else str(r) for r in result.assets["reasons"])
    assert "owner's own disposal policy" not in reasons
    assert "community asset transfer policy" in reasons


def test_uris_give_names(tmp_path, shared):
    odc = "http://opendatacommunities.org/id/metropolitan-district-council/trafford"
    head = HEADER.replace("Organisation,", "OrganisationURI,")
    gdf, _ = import_file(_register(tmp_path, odc, head))
    assert set(gdf["organisation"]) == {"Trafford Metropolitan Borough Council"}
    assert set(gdf["anchor_type"]) == {"council"}
    gss = "http://statistics.data.gov.uk/id/statistical-geography/E08000009"
    gdf, _ = import_file(_register(tmp_path, gss, head, "r2.csv"),
                         owners=[shared("england", "lookup_lsoa21_ward24_ltla24.csv")])
    assert set(gdf["organisation"]) == {"Trafford (local authority)"}
    assert set(gdf["organisation_code"]) == {"E08000009"}


def test_ods_code_named_from_trust_points(tmp_path, shared):
    gdf, _ = import_file(_register(tmp_path, "R0A"), owners=[shared("nhs", "nhs_trusts22_points.gpkg")])
    assert set(gdf["organisation"]) == {"Manchester University NHS Foundation Trust"}
    assert set(gdf["anchor_type"]) == {"nhs"} and set(gdf["organisation_code"]) == {"R0A"}


def test_names_are_left_alone(trafford):
    gdf, report = import_file(trafford["register"])
    assert set(gdf["organisation"].dropna()) == {"Trafford Council"}
    assert not any("no lookup names" in i.message for i in report.issues)


def test_a_lookup_without_codes_and_names_is_refused(tmp_path):
    p = tmp_path / "notalookup.csv"
    p.write_text("colour,size\nred,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="no pair of code and name columns"):
        import_file(_register(tmp_path, "23UB"), owners=[p])


def test_cli_import_and_analyse_take_owners(tmp_path, ons_lookup, trafford, capsys):
    reg = _register(tmp_path, "00BU")
    assert cli.main(["import", str(reg), "--owners", str(ons_lookup), "--out", str(tmp_path / "r.gpkg")]) == 0
    out = tmp_path / "a.gpkg"
    assert cli.main(["analyse", "--assets", str(reg), "--owners", str(ons_lookup), "--boundaries",
                     str(trafford["lsoa11"]), "--deprivation", str(trafford["iod_long"]), "--out", str(out)]) == 0
    import geopandas as gpd

    assets = gpd.read_file(out, layer="assets", engine="pyogrio")
    assert set(assets["organisation"]) == {"Trafford (local authority)"}


def test_an_abbreviation_no_lookup_knows_is_left_as_given(tmp_path):
    gdf, report = import_file(_register(tmp_path, "RAF"))
    assert set(gdf["organisation"]) == {"RAF"} and "nhs" not in set(gdf["anchor_type"])
    assert not any("no lookup names" in i.message for i in report.issues)
