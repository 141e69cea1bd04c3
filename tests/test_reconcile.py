"""Anchors' titles placed and reconciled with a register (issue 17 items 2-4 and 6).

A small world on the real City of London parcels: a postcode directory, a register and CCOD/OCOD files
written here in the published layout (no extract may be shared). The report's rows are reproduced by an
independent pandas computation (merges on address keys, postcodes and parcels found by brute force), and
the CLI's workbook is read back with pandas.
"""
from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from assets_map.cli import main
from assets_map.community.ownership import (
    STATUS_MATCHED,
    STATUS_NO_TITLE,
    STATUS_NOT_IN_REGISTER,
    TIER_ADDRESS,
    TIER_PARCEL,
    TIER_POSTCODE,
    TIER_UNPLACED,
    build_anchor,
    disposals,
    identify_anchors,
    place_titles,
    read_aliases,
    reconcile,
)
from assets_map.io.importer import import_file
from assets_map.io.landregistry import read_ownership
from tests.helpers import RECONCILE_ANCHOR as ANCHOR
from tests.helpers import reconcile_inputs


@pytest.fixture(scope="module")
def world(reconcile_files):
    return reconcile_files


@pytest.fixture(scope="module")
def loaded(world):
    return reconcile_inputs(world, "CCOD_FULL.csv", "OCOD_FULL.csv")


def test_anchors_matched_with_the_rule_that_made_each(loaded):
    ownership, anchor, _, _ = loaded
    ident = identify_anchors(ownership, [anchor]).set_index(["title_number", "proprietor_number"])
    rule = ident["anchor_rule"].dropna().to_dict()
    assert set(ident.loc[ident["anchor"].notna()].index) == {
        ("AGL1", 1), ("AGL2", 1), ("AGL3", 1), ("AGL4", 1), ("AGL5", 1), ("AGL6", 2)}
    assert rule[("AGL1", 1)].startswith("alias table aliases.csv, row 2")
    assert rule[("AGL2", 1)] == rule[("AGL1", 1)]  # another spelling of the same legal name
    assert rule[("AGL3", 1)] == "the anchor's own name"
    assert rule[("AGL6", 2)] == "company number 09999999"  # the alias table's 9999999, zero-padded
    kinds = ident["anchor_kind"].to_dict()
    assert kinds[("AGL6", 1)] == "NHS body" and kinds[("AGL7", 1)] == "university or college"
    assert kinds[("AGL8", 1)] == "housing association or society" and kinds[("AGL1", 1)] == "council"
    assert kinds[("NGL1", 1)] is pd.NA or pd.isna(kinds[("NGL1", 1)])  # an overseas company with no number
    assert pd.isna(ident.loc[("AGL9", 1), "anchor"])  # "City of London" in a name is not enough


def _expected_placements(world, loaded) -> pd.DataFrame:
    """Independently: explode addresses, then address key, one-parcel postcode, postcode, unplaced."""
    ownership, _, postcodes, register = loaded
    mine = ["AGL1", "AGL2", "AGL3", "AGL4", "AGL5", "AGL6"]
    t = ownership[ownership["title_number"].isin(mine) & (ownership["proprietor_number"] == 1)]
    parts = t.assign(part=t["property_address"].str.findall(r"[^()]*\(([A-Z0-9 ]+)\)")).explode("part")
    parts["pc"] = parts["part"].str.replace(" ", "")
    parts["num"] = parts["property_address"].str.extract(r"^(\d+)\s")[0]
    reg = pd.DataFrame({"asset_id": register["asset_id"], "pc": register["postcode"].str.replace(" ", ""),
                        "num": register["address"].str.extract(r"^(\d+)\s")[0], "parcel": register["parcel_id"]})
    by_address = parts.merge(reg.dropna(subset=["num"]), on=["pc", "num"], how="left")
    g = world["parcels"].geometry.to_numpy()
    tiers, parcel = [], []
    for r in by_address.itertuples():
        if isinstance(r.asset_id, str):
            tiers.append(TIER_ADDRESS)
            parcel.append(r.parcel)
        elif r.pc in postcodes.index:
            pt = shapely.Point(postcodes.loc[r.pc, "x"], postcodes.loc[r.pc, "y"])
            hits = np.flatnonzero(shapely.intersects(g, pt))
            tiers.append(TIER_PARCEL if len(hits) == 1 else TIER_POSTCODE)
            parcel.append(world["parcels"]["parcel_id"].iloc[hits[0]] if len(hits) == 1 else None)
        else:
            tiers.append(TIER_UNPLACED)
            parcel.append(None)
    return by_address.assign(tier=tiers, parcel_id=parcel)[["title_number", "pc", "tier", "parcel_id", "asset_id"]]


def test_titles_placed_in_tiers(world, loaded):
    ownership, anchor, postcodes, register = loaded
    titles = identify_anchors(ownership, [anchor])
    titles = titles[titles["anchor"].notna()]
    got = place_titles(titles, postcodes, parcels=world["parcels"], register=register)
    want = _expected_placements(world, loaded)
    g = got.assign(pc=got["postcode"].str.replace(" ", ""))[["title_number", "pc", "tier", "parcel_id"]]
    key = ["title_number", "pc"]
    merged = g.merge(want, on=key, suffixes=("", "_want"), how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged
    assert merged["tier"].tolist() == merged["tier_want"].tolist()
    assert [None if pd.isna(v) else v for v in merged["parcel_id"]] == \
        [None if pd.isna(v) else v for v in merged["parcel_id_want"]]
    # every tier is exercised, and the multi-address title gave two rows
    assert set(got["tier"]) == {TIER_ADDRESS, TIER_PARCEL, TIER_POSTCODE, TIER_UNPLACED}
    assert (got["title_number"] == "AGL5").sum() == 2
    assert got.loc[got["tier"] == TIER_PARCEL, "geometry"].geom_type.isin(["Polygon", "MultiPolygon"]).all()
    assert got.loc[got["tier"] == TIER_UNPLACED, "geometry"].isna().all()
    assert got.loc[got["tier"] != TIER_UNPLACED, "placement_note"].str.startswith("approximate").all()


def _expected_report(world, loaded) -> tuple[set, set]:
    placed = _expected_placements(world, loaded)
    _, _, _, register = loaded
    reg = pd.DataFrame({"asset_id": register["asset_id"], "pc": register["postcode"].str.replace(" ", ""),
                        "parcel": register["parcel_id"]})
    by_pc = placed[placed["asset_id"].isna()].drop(columns="asset_id").merge(reg[["asset_id", "pc"]], on="pc")
    rest = placed[placed["asset_id"].isna() & ~placed.set_index(["title_number", "pc"]).index.isin(
        by_pc.set_index(["title_number", "pc"]).index)]
    by_parcel = rest.drop(columns="asset_id").merge(reg[["asset_id", "parcel"]], left_on="parcel_id", right_on="parcel")
    matched = pd.concat([placed.dropna(subset=["asset_id"]).assign(by="address"), by_pc.assign(by="postcode"),
                         by_parcel.assign(by="parcel")])
    rows = {(r.title_number, r.pc, STATUS_MATCHED, r.by, r.asset_id) for r in matched.itertuples()}
    done = set(matched.set_index(["title_number", "pc"]).index)
    rows |= {(r.title_number, r.pc, STATUS_NOT_IN_REGISTER, None, None) for r in placed.itertuples()
             if (r.title_number, r.pc) not in done}
    no_title = set(reg["asset_id"]) - set(matched["asset_id"])
    return rows, no_title


def _report_sets(rows: pd.DataFrame) -> tuple[set, set]:
    def v(x):
        return None if pd.isna(x) else x

    titles = rows[rows["status"] != STATUS_NO_TITLE]
    got = {(r.title_number, v(r.postcode).replace(" ", "") if v(r.postcode) else None, r.status, v(r.matched_by),
            v(r.asset_id)) for r in titles.itertuples()}
    return got, set(rows.loc[rows["status"] == STATUS_NO_TITLE, "asset_id"])


def test_report_rows_reproduced_independently(world, loaded):
    ownership, anchor, postcodes, register = loaded
    rec = reconcile(ownership, anchor, register=register, postcodes=postcodes, parcels=world["parcels"])
    want_titles, want_assets = _expected_report(world, loaded)
    got_titles, got_assets = _report_sets(rec.rows)
    assert got_titles == want_titles
    assert got_assets == want_assets == {"A2"}
    assert {s for _, _, s, _, _ in got_titles} == {STATUS_MATCHED, STATUS_NOT_IN_REGISTER}
    assert {b for _, _, _, b, _ in got_titles if b} == {"address", "postcode", "parcel"}
    assert rec.counts[STATUS_NO_TITLE] == 1
    assert rec.rows["anchor_rule"].notna().sum() == len(want_titles)  # every title row says why it is the anchor's


def test_no_register_gives_a_ccod_only_portfolio(loaded):
    ownership, anchor, postcodes, _ = loaded
    rec = reconcile(ownership, anchor, postcodes=postcodes)
    assert set(rec.rows["status"]) == {"portfolio from CCOD only (no register given)"}
    assert sorted(set(rec.rows["title_number"])) == ["AGL1", "AGL2", "AGL3", "AGL4", "AGL5", "AGL6"]
    assert any("CCOD/OCOD alone" in n for n in rec.notes)


def test_disposals_from_the_change_only_file(world, loaded):
    ownership, anchor, _, _ = loaded
    d = disposals(read_ownership(world["tmp"] / "CCOD_COU.csv"), anchor, held=ownership).set_index("title_number")
    assert sorted(d.index) == ["AGL2", "AGL4"]  # AGL1 was deleted and added back under the anchor: a price change
    assert d.loc["AGL2", "what"] == "possible disposal: proprietor changed"
    assert d.loc["AGL2", "new_proprietor"] == "Acme Property Holdings Limited"
    assert d.loc["AGL4", "what"] == "possible disposal: title deleted from the register"
    assert d.loc["AGL4", "change_date"] == "15-11-2026"


def test_reconcile_command_writes_a_workbook_the_pandas_computation_reproduces(world, loaded, capsys):
    tmp = world["tmp"]
    out = tmp / "report.xlsx"
    code = main(["reconcile", "--ownership", str(tmp / "CCOD_FULL.csv"), "--ownership", str(tmp / "OCOD_FULL.csv"),
                 "--ownership", str(tmp / "CCOD_COU.csv"), "--anchor", ANCHOR, "--aliases", str(tmp / "aliases.csv"),
                 "--register", str(tmp / "register.csv"), "--postcodes", str(tmp / "pcd.csv"),
                 "--parcels", str(world["parcels_file"]), "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "1 no title found" in printed and "possible disposals in the change-only files: 2" in printed
    sheets = pd.read_excel(out, sheet_name=None, dtype=str)
    assert {"reconciliation", "disposals"} <= set(sheets)
    want_titles, want_assets = _expected_report(world, loaded)
    got_titles, got_assets = _report_sets(sheets["reconciliation"])
    assert got_titles == want_titles and got_assets == want_assets
    assert sorted(sheets["disposals"]["title_number"]) == ["AGL2", "AGL4"]
    gpkg = tmp / "report.gpkg"
    assert main(["reconcile", "--ownership", str(tmp / "CCOD_FULL.csv"), "--anchor", ANCHOR, "--aliases",
                 str(tmp / "aliases.csv"), "--register", str(tmp / "register.csv"), "--postcodes", str(tmp / "pcd.csv"),
                 "--parcels", str(world["parcels_file"]), "--out", str(gpkg)]) == 0
    layer = gpd.read_file(gpkg, layer="reconciliation")
    assert _report_sets(layer)[0] == want_titles
    assert re.search(r"27700", str(layer.crs.to_epsg()))


def test_a_national_file_is_streamed_keeping_the_anchors_rows(world, loaded, tmp_path):
    import zipfile

    from assets_map.community.ownership import anchor_rows
    from assets_map.io.sources import Limits

    _, anchor, _, _ = loaded
    src = world["tmp"] / "CCOD_FULL.csv"
    with zipfile.ZipFile(tmp_path / "CCOD_FULL_2026_11.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(src, "CCOD_FULL_2026_11.csv")
    whole = read_ownership(src)
    mine = identify_anchors(whole, [anchor])
    want = whole[whole["title_number"].isin(mine.loc[mine["anchor"].notna(), "title_number"])]
    for path, limits in ((tmp_path / "CCOD_FULL_2026_11.zip", None), (src, Limits().scaled(max_file_bytes=1000))):
        got = read_ownership(path, keep=anchor_rows([anchor]), limits=limits)
        assert got.attrs["streamed"] and got.attrs["rows_read"] == 9
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)
    with pytest.raises(Exception, match="over the"):
        read_ownership(src, limits=Limits().scaled(max_file_bytes=1000))  # no filter: refused as before
    out = tmp_path / "r.xlsx"
    assert main(["reconcile", "--ownership", str(tmp_path / "CCOD_FULL_2026_11.zip"), "--anchor", ANCHOR,
                 "--aliases", str(world["tmp"] / "aliases.csv"), "--register", str(world["tmp"] / "register.csv"),
                 "--postcodes", str(world["tmp"] / "pcd.csv"), "--parcels", str(world["parcels_file"]),
                 "--out", str(out)]) == 0
    want_titles, want_assets = _expected_report(world, loaded)
    assert _report_sets(pd.read_excel(out, sheet_name="reconciliation", dtype=str)) == (want_titles, want_assets)


def test_who_owns_a_clicked_parcel(world, loaded):
    from assets_map.community.ownership import NOT_IN_OPEN_DATA, who_owns

    ownership, anchor, postcodes, register = loaded
    titles = identify_anchors(ownership, [anchor])
    placed = place_titles(titles[titles["anchor"].notna()], postcodes, parcels=world["parcels"], register=register)
    placed = placed.merge(titles.drop_duplicates("title_number")[["title_number", "anchor"]], on="title_number")
    held = placed.loc[placed["tier"] == TIER_PARCEL].iloc[0]
    text = who_owns(held["parcel_id"], placed)
    assert text.startswith(f"Registered freehold parcel (INSPIRE ID {held['parcel_id']}).")
    assert f"{ANCHOR} holds title {held['title_number']} here (placed by {TIER_PARCEL}; approximate" in text
    other = world["parcels"]["parcel_id"].iloc[-1]
    assert who_owns(other, placed) == (f"Registered freehold parcel (INSPIRE ID {other}). Owner not in the open data: "
                                       "a title search at HM Land Registry names it "
                                       "(https://www.gov.uk/search-property-information-land-registry).")
    assert NOT_IN_OPEN_DATA.startswith("owner not in the open data")


def test_the_cli_and_the_app_take_the_same_part_of_a_register(world, loaded, capsys, tmp_path):
    """`reconcile --register` takes the anchor's own rows, as the app's Land ownership page does (one way through)."""
    from assets_map.community.ownership import anchor_register

    tmp = world["tmp"]
    reg = pd.read_csv(tmp / "register.csv", dtype=str)
    other = reg.copy()
    other["AssetCode"] = other["AssetCode"] + "-X"
    other["OrganisationLabel"] = "Another Council"
    mixed = tmp_path / "mixed.csv"
    pd.concat([reg, other]).to_csv(mixed, index=False)
    run = ["reconcile", "--ownership", str(tmp / "CCOD_FULL.csv"), "--anchor", ANCHOR, "--aliases",
           str(tmp / "aliases.csv"), "--postcodes", str(tmp / "pcd.csv"), "--parcels", str(world["parcels_file"])]
    out = tmp_path / "mixed.xlsx"
    assert main([*run, "--register", str(mixed), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 register rows of other organisations left out" in printed
    rows = pd.read_excel(out, dtype=str)
    assert not rows["asset_id"].dropna().str.endswith("-X").any()
    same, _ = _report_sets(rows)
    assert same == _expected_report(world, loaded)[0]
    # the app's choice is the same function: the same rows
    assets, _ = import_file(mixed)
    mine, line = anchor_register(assets, build_anchor(ANCHOR, read_aliases(tmp / "aliases.csv")))
    assert sorted(mine["asset_id"]) == ["A1", "A2", "A3"] and "left out" in line
    # a register naming another organisation is not taken for the anchor's: its titles are a portfolio alone
    renamed = reg.assign(OrganisationLabel="The Corporation")
    one = tmp_path / "renamed.csv"
    renamed.to_csv(one, index=False)
    assert main([*run, "--register", str(one), "--out", str(tmp_path / "renamed.xlsx")]) == 0
    printed = capsys.readouterr().out
    assert "(The Corporation) is not" in printed and "portfolio from HM Land Registry's files alone" in printed
    assert "add that name to the alias table" in printed
    # a register naming no organisation is taken whole, and the report says so
    unnamed = tmp_path / "unnamed.csv"
    reg.drop(columns=["OrganisationLabel"]).to_csv(unnamed, index=False)
    assert main([*run, "--register", str(unnamed), "--out", str(tmp_path / "unnamed.xlsx")]) == 0
    assert "names no organisation: the whole register was taken" in capsys.readouterr().out
