import pandas as pd
import pytest

from assets_map.io.normalise import (
    anchor_type_of,
    as_text,
    clean_postcode,
    clean_postcodes,
    match_columns,
    normalise_holding,
    normalise_status,
    normalise_tenure,
    source_text,
)


@pytest.mark.parametrize("text,expected", [
    ("Vacant", "vacant"), ("VACANT", "vacant"), ("Vacent", "vacant"), ("Leasehold Out", "leased-out"),
    ("Leasehold out", "leased-out"), ("Owner Occupied", "occupied"), ("Surplus to requirements", "surplus"),
    ("Part vacant", "part-vacant"), ("Other", "unknown"), (None, "unknown"), ("", "unknown"),
])
def test_status(text, expected):
    assert normalise_status(text) == expected


def test_tenure_and_holding():
    assert normalise_tenure("Freehold") == "freehold"
    assert normalise_tenure("FREEHOLD ") == "freehold"
    assert normalise_tenure("Long leasehold") == "leasehold"
    assert normalise_tenure(None) == "unknown"
    assert normalise_holding("Land/Buildings") == "both"
    assert normalise_holding("Buildings") == "building"
    assert normalise_holding("Land") == "land"


def test_anchor_types():
    assert anchor_type_of("Trafford Council") == "council"
    assert anchor_type_of("Manchester University NHS Foundation Trust") == "nhs"
    assert anchor_type_of("Riverside Housing Trust") == "housing_association"
    assert anchor_type_of("University of Salford") == "university"


def test_postcodes():
    assert clean_postcode("wa14 1pf") == ("WA14 1PF", "full")
    assert clean_postcode("WA141PF") == ("WA14 1PF", "full")
    assert clean_postcode("M31") == ("M31", "district")
    assert clean_postcode("nope!")[1] == "invalid"
    assert clean_postcode(None) == (None, "missing")


def test_identifiers_stay_text_with_leading_zeros():
    for values, expected in (([" 00123", None, " 7 ", "  "], ["00123", None, "7", None]),
                             ([100012797623.0, float("nan")], ["100012797623", None])):
        for dtype in (object, "str") if isinstance(values[0], str) else (None,):
            assert as_text(pd.Series(values, dtype=dtype)).tolist() == expected  # None for missing, as the engine tests
            kept = source_text(pd.Series(values, dtype=dtype))  # src_* columns: Arrow-backed text
            assert kept.dtype == "str" and [None if pd.isna(v) else v for v in kept] == expected


def test_postcodes_column_agrees_with_one_at_a_time():
    """The vectorised postcode cleaner gives what clean_postcode gives, value by value, whatever the dtype."""
    values = ["m1 1aa", " M11AA ", "M1  1AA", "M31", "sw1a1aa", "xx", "", "   ", None, "M1\u00a01AA",
              "\u00e91 1AA", "EC1A 1BB", "1234", "m31 ", "M1 1AAA", "M1\t1AA"]
    for series in (pd.Series(values, dtype="str"), pd.Series(values, dtype=object),
                   pd.Series(values + [12.0], dtype=object)):
        formatted, kinds = clean_postcodes(series)
        got = [(None if pd.isna(f) else f, k) for f, k in zip(formatted, kinds, strict=True)]
        assert got == [clean_postcode(v) for v in series]


def test_column_matching_lgtc_and_renamed():
    lgtc = ["OrganisationLabel", "UPRN", "AssetCode", "PropertyName", "PostCode", "GeoX", "GeoY",
            "CoordinateReferenceSystem", "TenureType", "TenureDetail", "HoldingType", "BuildingSize"]
    m = match_columns(lgtc)
    assert m["x"] == "GeoX" and m["y"] == "GeoY" and m["asset_id"] == "AssetCode"
    assert m["status_text"] == "TenureDetail" and m["floor_area_m2"] == "BuildingSize"
    m2 = match_columns(["Site Name", "Easting", "Northing", "Post Code"])
    assert (m2["name"], m2["x"], m2["y"], m2["postcode"]) == ("Site Name", "Easting", "Northing", "Post Code")
    m3 = match_columns(["Latitude", "Longitude"])
    assert m3["x"] == "Longitude" and m3["y"] == "Latitude"


@pytest.mark.parametrize("text,expected", [("Sold", "sold"), ("Disposed of 2024", "sold"),
                                           ("Not available for transfer", "not-available"),
                                           ("For disposal", "surplus")])
def test_sold_and_not_available_statuses(text, expected):
    assert normalise_status(text) == expected
