"""HM Land Registry's CCOD/OCOD files (issue 17 item 2) read in their exact published layout.

No CCOD extract may be shared, so every file here is written by tests/helpers.ccod_csv in the
published column order; the expected rows are written out by hand.
"""
from __future__ import annotations

import pandas as pd
import pytest

from assets_map.cli import main
from assets_map.community.ownership import anchor_kind, expand_addresses, ownership_summary
from assets_map.io.importer import import_file
from assets_map.io.landregistry import CCOD_COLUMNS, is_ownership_file, read_ownership
from assets_map.io.report import InputError
from tests.helpers import ccod_csv

ROWS = [
    {"Title Number": "AGL1001", "Tenure": "Freehold", "Property Address": "1 Gresham Street, London (EC2V 7HH)",
     "District": "CITY OF LONDON", "County": "GREATER LONDON", "Region": "GREATER LONDON", "Postcode": "EC2V 7HH",
     "Multiple Address Indicator": "N", "Price Paid": "1,250,000", "Date Proprietor Added": "12-03-2004",
     "Additional Proprietor Indicator": "N",
     "proprietors": [{"name": "MAYOR AND COMMONALTY AND CITIZENS OF THE CITY OF LONDON", "category": "Local Authority",
                      "address": "PO Box 270, Guildhall, London EC2P 2EJ"}]},
    {"Title Number": "AGL1002", "Tenure": "Leasehold", "Property Address": "10 Wood Street (EC2V 7AB) and 12 Milk Street "
     "(EC2V 8CD)", "Postcode": "EC2V 7AB", "Multiple Address Indicator": "Y", "Additional Proprietor Indicator": "Y",
     "proprietors": [{"name": "Barts Health NHS Trust", "category": "Corporate Body"},
                     {"name": "Acme Property Holdings Limited", "number": "01234567",
                      "category": "Limited Company or Public Limited Company"}]},
]


def test_the_published_layout_is_read_one_row_per_proprietor(tmp_path):
    f = tmp_path / "CCOD_FULL_2026_11.csv"
    f.write_bytes(ccod_csv(ROWS))
    header = f.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header == list(CCOD_COLUMNS)  # the fixture is the published order: 35 columns (OCOD 39)
    assert len(header) == 35
    own = read_ownership(f)
    assert own.attrs["change_only"] is False and own.attrs["dataset"] == "CCOD" and own.attrs["titles"] == 2
    assert own[["title_number", "proprietor_number", "proprietor_name"]].values.tolist() == [
        ["AGL1001", 1, "MAYOR AND COMMONALTY AND CITIZENS OF THE CITY OF LONDON"],
        ["AGL1002", 1, "Barts Health NHS Trust"],
        ["AGL1002", 2, "Acme Property Holdings Limited"]]
    first = own.iloc[0]
    assert first["price_paid"] == 1_250_000 and first["tenure"] == "Freehold" and not first["multiple_address"]
    assert first["proprietor_address"] == "PO Box 270, Guildhall, London EC2P 2EJ"
    assert own.iloc[2]["company_number"] == "01234567"  # text: the leading zero kept
    assert bool(own.iloc[1]["multiple_address"]) and bool(own.iloc[1]["additional_proprietor"])
    assert own["source_row"].tolist() == [2, 3, 3]


def test_ocod_and_change_only_files(tmp_path):
    o = tmp_path / "OCOD_FULL.csv"
    o.write_bytes(ccod_csv([{"Title Number": "NGL9", "Tenure": "Freehold", "Property Address": "5 Lime Street (EC3M 7AA)",
                             "Postcode": "EC3M 7AA", "proprietors": [
                                 {"name": "Example Holdings SA", "category": "Limited Company or Public Limited Company",
                                  "country": "LUXEMBOURG"}]}], ocod=True))
    assert len(o.read_text(encoding="utf-8").splitlines()[0].split(",")) == 39
    own = read_ownership(o)
    assert own.attrs["dataset"] == "OCOD" and own.iloc[0]["country_incorporated"] == "LUXEMBOURG"
    c = tmp_path / "CCOD_COU_2026_11.csv"
    rows = [dict(ROWS[0], **{"Change Indicator": "D", "Change Date": "15-11-2026"}),
            dict(ROWS[0], **{"Change Indicator": "A", "Change Date": "15-11-2026"})]
    c.write_bytes(ccod_csv(rows, change=True))
    ch = read_ownership(c)
    assert ch.attrs["change_only"] is True and ch["change"].tolist() == ["D", "A"]
    assert ch["change_date"].tolist() == ["15-11-2026"] * 2


def test_bad_rows_named(tmp_path):
    bad = tmp_path / "c.csv"
    bad.write_bytes(ccod_csv([dict(ROWS[0], **{"Change Indicator": "X"}), dict(ROWS[0], **{"Title Number": ""})],
                             change=True))
    with pytest.raises(InputError) as e:
        read_ownership(bad)
    assert "no Title Number in row 3" in str(e.value) and "not A (added) or D (deleted) in row 2" in str(e.value)
    other = tmp_path / "o.csv"
    other.write_text("Title,Owner\nA,B\n")
    with pytest.raises(InputError, match="not HM Land Registry's CCOD/OCOD layout"):
        read_ownership(other)


def test_a_ccod_file_is_never_read_as_a_register(tmp_path, capsys):
    f = tmp_path / "CCOD_FULL.csv"
    f.write_bytes(ccod_csv(ROWS))
    with pytest.raises(InputError, match="is not an asset register: this looks like HM Land Registry's ownership"):
        import_file(f)
    assert main(["import", str(f)]) == 0
    out = capsys.readouterr().out
    assert "HM Land Registry CCOD file (full): 2 titles, 3 proprietor entries" in out
    assert "council 1" in out and "NHS body 1" in out and "company 1" in out
    assert "assets-map reconcile --ownership CCOD_FULL.csv" in out
    assert main(["import", str(f), "--out", str(tmp_path / "x.gpkg")]) == 2
    assert not (tmp_path / "x.gpkg").exists()


@pytest.mark.parametrize("category, name, number, kind", [
    ("Local Authority", "TRAFFORD BOROUGH COUNCIL", "", "council"),
    ("County Council", "KENT COUNTY COUNCIL", "", "council"),
    ("Corporate Body", "MANCHESTER UNIVERSITY NHS FOUNDATION TRUST", "", "NHS body"),
    ("Corporate Body", "THE UNIVERSITY OF MANCHESTER", "", "university or college"),
    ("Corporate Body", "THE CHURCH COMMISSIONERS FOR ENGLAND", "", "corporate body"),
    ("Registered Society (Company)", "TRAFFORD HOUSING TRUST LIMITED", "IP29876R", "housing association or society"),
    ("Registered Society (Company)", "THE CO-OPERATIVE GROUP LIMITED", "IP00525R", "registered society"),
    ("Limited Company or Public Limited Company", "TESCO STORES LIMITED", "00519500", "company"),
    ("Limited Company or Public Limited Company", "TESCO STORES LIMITED", "", None),
    ("Limited Liability Partnership", "PLACE HOMES LLP", "OC123456", "housing association or society"),
])
def test_anchor_kind_by_proprietorship_category(category, name, number, kind):
    got, rule = anchor_kind(category, name, number)
    assert got == kind
    assert category in rule


def test_multi_address_titles_expand():
    assert expand_addresses("10 Wood Street (EC2V 7AB) and 12 Milk Street (EC2V 8CD)", "EC2V 7AB") == [
        ("10 Wood Street (EC2V 7AB)", "EC2V 7AB"), ("12 Milk Street (EC2V 8CD)", "EC2V 8CD")]
    assert expand_addresses("land on the north side of High Street", "ec2v7ab") == [
        ("land on the north side of High Street", "EC2V 7AB")]
    assert expand_addresses(None, None) == [("", None)]


def test_summary_of_a_change_only_file(tmp_path):
    c = tmp_path / "cou.csv"
    c.write_bytes(ccod_csv([dict(ROWS[0], **{"Change Indicator": "D"}), dict(ROWS[1], **{"Change Indicator": "A"})],
                           change=True))
    lines = ownership_summary(read_ownership(c))
    assert lines[0].startswith("HM Land Registry CCOD file (change-only): 2 titles")
    assert lines[-1] == "changes: 1 titles added, 1 deleted"
    assert is_ownership_file(pd.read_csv(c, nrows=0).columns)
