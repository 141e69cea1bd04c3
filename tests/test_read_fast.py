"""Registers read by Arrow are normalised from Arrow text and give exactly what the careful reader gives.

Issue 19: a CSV the Arrow parser reads (``sources._read_plain``) keeps its cells as Arrow text
(``Table.cells``); the register is normalised from them (``sources.text_frame``) without making a Python
string per cell, and the frame of Python strings is built only when a reader asks for it. Each file
here is imported both ways (the Arrow path, and the careful reader with its frame of Python strings) and
the canonical layers and import reports are compared.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assets_map.engine.geo import to_float
from assets_map.io import sources
from assets_map.io.importer import import_bytes, import_file
from assets_map.io.normalise import numbers_from_ascii, to_number
from assets_map.io.registers import read_register
from assets_map.io.report import InputError
from assets_map.io.sources import Table, read_csv_bytes

HEAD = "OrganisationLabel,AssetCode,PropertyName,PostCode,TenureType,TenureDetail,HoldingType,BuildingSize,LandArea,EffectiveDate,CoordinateReferenceSystem,GeoX,GeoY\n"
ROWS = [
    "Trafford Council,A1,Old Library,M32 0FP,Freehold,Owner Occupied,Building,\"1,234.5\",0.5 ha,2024-03-01,WGS84,-2.35,53.45\n",
    "Trafford Council,A2,\"Hall, the\", m33  7xx ,freehld,Vacent,Buliding,12 m2,,01/02/2023,OSGB36,378000,393000\n",
    "Trafford Council,A3,Depot,m3,Leasehold,Leasehold out,Land,£1200,45%,,WGS84,53.44,-2.31\n",
    "Trafford Council,A3,Unknown,NOT A POSTCODE,Leased,Surplus,Land and Buildings,1e3,.5,31/12/2022,WGS84,,\n",
    "Trafford Council,,Park,M320FP,,Declared surplus,Site,-0,00012,2021-13-01,British National Grid,0,0\n",
    "Grand Total,,,,,,,1248.5,,,,,\n",
    "Trafford Council,A6,Allotments,WA14 1ab,Freehold,in use,land,inf,+5,2020,WGS84,-2.36,53.40\n",
    "NHS Foundation Trust,A7,Clinic,SK15 2QQ,Freehold,Part vacant,Building,0x10,1_000,,WGS84,-2.1,53.48\n",
]


def _register_both(data: bytes, name: str = "register.csv", **kw):
    fast = read_csv_bytes(data, name)
    assert fast.cells is not None, "this file should be read by Arrow"
    slow = Table(fast.frame, fast.format, fast.name, fast.notes, header_row=fast.header_row, lines=fast.lines,
                 lines_note=fast.lines_note)
    return read_register(fast, **kw), read_register(slow, **kw)


def _same(a, b):
    (fa, ra), (fb, rb) = a, b
    pd.testing.assert_frame_equal(fa, fb)
    assert ra.to_dict() == rb.to_dict()


VARIANTS = {
    "plain": HEAD + "".join(ROWS),
    "bom": "\ufeff" + HEAD + "".join(ROWS),
    "title above the header and blank lines": "Land and building assets 2024\n\n" + HEAD + ROWS[0] + "\n,,,,,,,,,,,,\n"
                                              + "".join(ROWS[1:]),
    "semicolons": (HEAD + "".join(ROWS)).replace(",", ";").replace("\"1;234.5\"", "1234.5").replace("\"Hall; the\"",
                                                                                                      "Hall the"),
    "missing columns": "AssetCode,PropertyName,PostCode\nA1,Library,M32 0FP\nA2,,m3\nA3,Hall,\n",
    "only postcodes": "Site Name,Post Code\nLibrary,M32 0FP\nHall,wa14 1AB\nDepot,M3\n",
    "eastings": "Ref,Name,Easting,Northing,Tenure\n1,Depot,\"378,000\",393000,Freehold\n2,Hall, 379000 ,394000 ,x\n"
                "3,Park,394000,379000,\n",
    "non-ASCII cells": HEAD + ROWS[0] + ROWS[1].replace("Hall, the", "Caf\u00e9").replace(" m33  7xx ", "M33\u00a07XX")
                       .replace("12 m2", "12\u00a0m2") + "".join(ROWS[2:]),
    # Arrow reads the file's own bytes from the first record on: the lines above are counted in bytes, not characters
    "non-ASCII title above the header": "Caf\u00e9s et \u00e9coles \u2014 r\u00e9gister \u00a9 2024\n\u00e9\n" + HEAD
                                        + "".join(ROWS),
    # pivot-table rows: group results, organisation-level rows, blank-keyed totals, labels with spaces around them
    "aggregate rows": "Organisation Code,Site Code,Site Name,Postcode,Floor Area,Land Area\n"
                      "RX1,RX1A, Hospital A ,M32 0FP,100,1\nRX1,RX1B,Clinic B,M33 7XX,50,2\n"
                      " RX1 , RX1 Result ,,,150,3\nRX1,,RX1,,150,3\nRX2,RX2A,Depot,WA14 1AB,10,\n"
                      "RX2,RX2,Some Trust,,10,\n,,,,160, 6 \n  , Grand Total ,,,160,6\n",
    "blank and space-only cells": HEAD + ROWS[0] + ROWS[1].replace("Owner Occupied", " ").replace("Vacent", "\u00a0")
                                  .replace("Freehold", "\u3000 \u2003") + ",\t, ,,,,,,,,,,\n" + "".join(ROWS[2:]),
}


@pytest.mark.parametrize("text", list(VARIANTS.values()), ids=list(VARIANTS))
def test_registers_read_alike_from_arrow_and_from_python_strings(text):
    _same(*_register_both(text.encode("utf-8")))


def test_cp1252_register_reads_alike():
    text = HEAD + ROWS[0].replace("Old Library", "Caf\u00e9 \u00a31") + "".join(ROWS[1:])
    _same(*_register_both(text.encode("cp1252")))


def test_a_postcode_directory_places_alike():
    pcs = pd.DataFrame({"x": [378000.0, 377000.0], "y": [393000.0, 392000.0]}, index=pd.Index(["M320FP", "WA141AB"],
                                                                                                name="postcode"))
    text = HEAD + "".join(r.replace("WGS84,-2.36,53.40", "WGS84,,") for r in ROWS)
    _same(*_register_both(text.encode("utf-8"), postcodes=pcs))


def test_the_frame_of_python_strings_is_not_built_for_a_register(monkeypatch):
    def refuse(cells):
        raise AssertionError("a frame of Python strings was built")

    monkeypatch.setattr(sources, "_object_frame", refuse)
    out, report = import_bytes((HEAD + "".join(ROWS)).encode("utf-8"), "register.csv")
    assert len(out) == len(ROWS) - 1 and report.set_aside == 1


def test_numbers_parsed_by_arrow_as_pandas_parses_them():
    rng = np.random.default_rng(7)
    digits = ["".join(rng.choice(list("0123456789"), rng.integers(1, 20))) for _ in range(20000)]
    forms = [d if i % 5 == 0 else f"{d[:len(d) // 2]}.{d[len(d) // 2:]}" if i % 5 == 1 else f"-{d}e{i % 640 - 320}"
             if i % 5 == 2 else f".{d}" if i % 5 == 3 else f"{d}." for i, d in enumerate(digits)]
    odd = ["inf", "-inf", "nan", "1_000", "0x10", "True", "+5", " 12 ", "1,234.5", "12m2", "12 SQM", "3ha", "\u00a31,200",
           "45%", "1E+05", ".", "-", "1.2.3", "", "  ", "12\x1c", "\x0b7", "Infinity", "1e", None, "1e400", "4.9e-324",
           "1\u00a0000", "-0"]
    import pyarrow as pa

    plain = pa.chunked_array([pa.array(forms)])
    np.testing.assert_array_equal(numbers_from_ascii(plain, pd.RangeIndex(len(forms))).to_numpy(),
                                  pd.to_numeric(pd.Series(forms, dtype=object)).astype("float64").to_numpy())
    for dtype in (object, "str", "string"):
        values = pd.Series(forms + odd, dtype=dtype)
        want = pd.to_numeric(values.astype("string").str.replace(r"[,\s\u00a3%]", "", regex=True)
                             .str.replace(r"(?i)(m2|sqm|ha)$", "", regex=True), errors="coerce").astype("float64")
        pd.testing.assert_series_equal(to_number(values), want)
        assert np.array_equal(np.signbit(to_number(values)), np.signbit(want))
        coords = pd.to_numeric(values.astype("string").str.strip().str.replace(",", "", regex=False)
                               .str.replace(" ", "", regex=False), errors="coerce").to_numpy(dtype="float64",
                                                                                            na_value=np.nan)
        np.testing.assert_array_equal(to_float(values), coords)


def _import_or_refusal(path: Path, **kw):
    try:
        out, report = import_file(path, **kw)
        return out, report.to_dict()
    except InputError as exc:
        return str(exc), None


def test_every_csv_in_the_shared_data_imports_alike(shared, monkeypatch):
    files = sorted(Path(shared()).rglob("*.csv"))
    assert len(files) >= 8
    for f in files:
        if f.stat().st_size > 60_000_000:
            continue
        fast = _import_or_refusal(f)
        monkeypatch.setattr(sources, "_read_plain", lambda *a, **k: None)
        slow = _import_or_refusal(f)
        monkeypatch.undo()
        if isinstance(fast[0], str):
            assert fast[0] == slow[0], f.name
            continue
        if isinstance(fast[0], pd.DataFrame):
            pd.testing.assert_frame_equal(fast[0], slow[0], obj=f.name)
        assert fast[1] == slow[1], f.name


def test_postcodes_are_read_again_only_for_the_rows_left_to_place(monkeypatch):
    from assets_map.io import registers

    seen = []
    real = registers.clean_postcodes

    def counting(values):
        seen.append(len(values))
        return real(values)

    monkeypatch.setattr(registers, "clean_postcodes", counting)
    out, report = import_bytes((HEAD + "".join(ROWS)).encode("utf-8"), "register.csv")
    unplaced = int((out["location_quality"] == "none").sum())
    assert 0 < unplaced < len(out)
    assert seen == [unplaced]


def test_postcodes_cleaned_by_arrow_as_by_the_python_rules():
    from assets_map.io.normalise import clean_postcode, clean_postcodes

    odd = ["M32\x0b0FP", " m32\x1c0fp ", "M32 0FP", "m3", "\x0bM3", "M32\t\t0FP", "SW1A 1AA\x0c", None, "", " \x1f ",
           "M32\u00a00FP", "sw1a1aa", "M 32 0FP", "M320F", "EC1A1BB ", "not a postcode", "W1A\r\n0AX"]
    for dtype in (object, "str"):
        formatted, kinds = clean_postcodes(pd.Series(odd, dtype=dtype))
        got = [(f if isinstance(f, str) else None, k) for f, k in zip(formatted, kinds, strict=True)]
        assert got == [clean_postcode(v) for v in odd]


def test_title_lines_above_the_header_reach_the_register_through_arrow():
    """The publisher named only in a title line names every site's owner, whichever reader read the CSV."""
    from assets_map.io.importer import import_bytes
    from assets_map.io.sources import read_csv_bytes, table_title_lines

    data = ("Anytown District Council\nLand and buildings register\n"
            "Asset Name,Street Name,Post Code,Tenure,Easting,Northing\n"
            + "".join(f"Hall {i},Market Street,WA14 1PF,Freehold,381000,{394000 + i}\n" for i in range(5))).encode()
    table = read_csv_bytes(data, "r.csv")
    assert table.cells is not None  # the Arrow path read it
    assert table_title_lines(table) == ["Anytown District Council", "Land and buildings register"]
    frame, _ = import_bytes(data, "r.csv", kind="register")
    assert set(frame["organisation"]) == {"Anytown District Council"}


def _random_postcodes(n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    letters, digits = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), list("0123456789")
    out = []
    for i in range(n):
        outward = "".join(rng.choice(letters, rng.integers(1, 3))) + rng.choice(digits) + (
            rng.choice(letters + digits) if i % 3 else "")
        inward = rng.choice(digits) + "".join(rng.choice(letters, 2))
        form = i % 9
        out.append(f"{outward} {inward}" if form < 5 else f"{outward}{inward}".lower() if form == 5
                   else f" {outward}  {inward} " if form == 6 else outward if form == 7 else None)
    return out


def test_postcodes_already_formatted_are_taken_as_they_are_and_the_rest_cleaned_alike():
    """A column of neat postcodes, and one mixing neat, untidy, district and missing ones, in Arrow chunks."""
    import pyarrow as pa

    from assets_map.engine.arrays import str_series
    from assets_map.io.normalise import clean_postcode, clean_postcodes

    mixed = _random_postcodes(3000, 3) + ["M32 0FP", "m32 0fp", "M32 0FPX", "MM32 0FP", "M32  0FP", "M3 20FP", "\u00c932 0FP",
                                           "m32 0FP", "Sw1A 1AA", "M32 0FP\n", "\tM32 0FP"]
    neat = [p for p in mixed if p is not None and clean_postcode(p) == (p, "full")]
    for values in (mixed, neat):
        half = len(values) // 2
        chunked = pa.chunked_array([pa.array(values[:half], pa.string()), pa.array(values[half:], pa.string())])
        for series in (pd.Series(values, dtype=object), str_series(chunked, pd.RangeIndex(len(values)))):
            formatted, kinds = clean_postcodes(series)
            got = [(f if isinstance(f, str) else None, k) for f, k in zip(formatted, kinds, strict=True)]
            assert got == [clean_postcode(v) for v in values]


def test_areas_read_by_arrow_as_parse_area_reads_each_value():
    """Plain decimals are read by Arrow's cast: the numbers, the units converted and the rows not read as per value."""
    from assets_map.io.units import area_column, parse_area

    rng = np.random.default_rng(11)
    values = []
    for i in range(6000):
        r = i % 10
        values.append(f"{rng.normal() * 10.0 ** rng.integers(-6, 9):.{rng.integers(0, 14)}f}" if r < 4
                      else f"{rng.random() * 1e5:.3e}" if r == 4 else str(rng.integers(0, 10**7)) if r == 5
                      else None if r == 6 else rng.choice(["1,200 sq ft", "0.5 ha", "2 acres", "", "  ", "n/a", "415 m\u00b2",
                                                            "12 sq m", "abc", "c. 3 ha", "5.", ".5", "-0", "1e999", " 12 ",
                                                            "+5", "12ha", "7 ft", "1E5", "-.25"]))
    for header, canonical in (("Floor area (sq ft)", "floor_area_m2"), ("BuildingSize", "floor_area_m2"),
                              ("Land (acres)", "site_area_ha"), ("LandArea", "site_area_ha")):
        from assets_map.io.units import TARGET, unit_of

        target, default = TARGET[canonical], (unit_of(header) or ("", TARGET[canonical]))
        parsed = [parse_area(v) for v in values]
        want = np.array([p[0] * ((p[1] or default[1]) / target) for p in parsed])
        converted: dict[str, int] = {}
        for num, factor, _ in parsed:
            f = factor or default[1]
            if f != target and not np.isnan(num):
                label = {4046.8564224: "acres", 0.09290304: "sq ft", 10000.0: "ha", 1.0: "sq m"}[f]
                converted[label] = converted.get(label, 0) + 1
        not_read = [i for i, p in enumerate(parsed) if not p[2]]
        for dtype in ("str", object):
            got, note = area_column(pd.Series(values, dtype=dtype), canonical, header)
            np.testing.assert_array_equal(got.to_numpy(), want)
            assert np.array_equal(np.signbit(got.to_numpy()), np.signbit(want))
            assert list(note["converted"].items()) == list(converted.items()) and note["not_read"] == not_read


def test_blank_cells_found_as_arrow_trims_them():
    """Only cells starting with a space, control or non-ASCII character are trimmed: the same cells as trimming them all."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from assets_map.io.normalise import blank_cells

    rng = np.random.default_rng(5)
    kinds = [None, "", " ", "\t", "\u00a0", "\u3000 x", "x ", " x", "\x1c", "\x85", "\u2000\u2001", "a", "\u00e9",
             " \u00e9 ", "\x7f", "\x0b", "\u200b", "\ufeff", "\u2028", "1", "\r\n"]
    arr = pa.array([kinds[i] for i in rng.integers(0, len(kinds), 5000)])
    for a in (arr, arr.slice(7, 3000), pa.chunked_array([arr.slice(0, 10), arr.slice(10)]), arr.cast(pa.large_string()),
              pa.array([], pa.string()), pa.array(["", None]), pa.array([None, None], pa.string()), pa.array(["\u00a0"])):
        want = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(a), ""), True).to_numpy(zero_copy_only=False)
        np.testing.assert_array_equal(blank_cells(a), want)


def test_a_file_looked_at_then_read_is_opened_once(tmp_path, monkeypatch):
    """import_file's kinds: _check_slot's look at the file and the reader's read share one opening of it."""
    from assets_map.io.sources import open_table, reusing_opened

    opened = []
    real = sources._open_table

    def counting(path, *a):
        opened.append(Path(path).name)
        return real(path, *a)

    monkeypatch.setattr(sources, "_open_table", counting)
    path = tmp_path / "areas.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"LSOA21CD": '
                    '"E01000001", "LSOA21NM": "City of London 001A"}, "geometry": {"type": "Polygon", "coordinates": '
                    '[[[-0.1, 51.5], [-0.09, 51.5], [-0.09, 51.51], [-0.1, 51.5]]]}}]}')
    frame, _ = import_file(path, kind="boundaries")
    assert len(frame) == 1 and opened == ["areas.geojson"]
    # a file changed on disk is read again; outside the context every open reads
    csv_path = tmp_path / "r.csv"
    csv_path.write_text("Name,Postcode\nHall,M32 0FP\n")
    with reusing_opened():
        first = open_table(csv_path)
        assert open_table(csv_path) is first
        csv_path.write_text("Name,Postcode\nHall,M32 0FP\nDepot,M33 7XX\n")
        assert len(sources.text_frame(open_table(csv_path))) == 2
    assert open_table(csv_path) is not open_table(csv_path)


@pytest.mark.parametrize("values", [[None] * 5, [], [None, float("nan")], [float("nan")], ["a", None, "b", "a"],
                                    [None, "note"], ["only"], [None, 3], ["a", 1]])
def test_a_list_of_notes_becomes_the_column_pandas_makes(values):
    """location_note: its texts converted once each, the column what pd.Series(list) gives (dtype and values)."""
    from assets_map.io.registers import _text_list_column

    index = pd.RangeIndex(10, 10 + len(values))
    pd.testing.assert_series_equal(_text_list_column(values, index), pd.Series(values, index=index), check_exact=True)


def test_dates_of_arrow_text_read_as_dates_of_python_strings():
    """to_date on Arrow text finds the distinct texts before stripping them: the same dates as the plain reading."""
    from assets_map.io.normalise import to_date

    rng = np.random.default_rng(2)
    forms = ["2020-01-02", " 2020-01-02", "2020-01-02 ", "02/01/2020", "2/1/2020", "31/12/2022", "2021-13-01", "2020", "",
             "  ", None, "not a date", "2024-03-01T10:00", "1 March 2024", "2023-02-30", "01/02/2023 ", "\u00a02019-06-30"]
    values = [forms[i] for i in rng.integers(0, len(forms), 3000)]
    for sample in (values, [], [None, None], [" 2020-01-02"]):
        pd.testing.assert_series_equal(to_date(pd.Series(sample, dtype="str")), to_date(pd.Series(sample, dtype=object)),
                                       check_exact=True)


def test_labels_made_python_strings_once_each_as_pandas_makes_them():
    """as_text on a long column of a few repeated labels (with blanks and missing cells) gives what pandas gives."""
    import pyarrow as pa

    from assets_map.engine.arrays import str_series
    from assets_map.io.normalise import as_text

    rng = np.random.default_rng(4)
    labels = ["Trafford Council", " Trafford Council ", "NHS Trust", "", "  ", None, "Caf\u00e9 \u00a31", "12"]
    for values in ([labels[i] for i in rng.integers(0, len(labels), 60_000)],
                   [f"A{i}" if i % 7 else None for i in range(60_000)]):
        chunked = pa.chunked_array([pa.array(values[:30_000], pa.large_string()), pa.array(values[30_000:], pa.large_string())])
        got = as_text(str_series(chunked, pd.RangeIndex(len(values))))
        want = pd.Series(values, dtype=object).str.strip()
        want = want.where(want.notna() & (want != ""), None)
        pd.testing.assert_series_equal(got, want, check_exact=True)
        assert got.dtype == object and all(v is None or type(v) is str for v in got)


def test_day_first_dates_read_only_when_some_text_is_not_an_iso_date():
    """Every date as the two readings (ISO, then UK day-first for what ISO cannot read) give it, computed here."""
    from assets_map.io.normalise import to_date

    samples = (["2020-01-02", " 2021-12-31", "", None, "2024-03-01T10:00", "2019-06-30"] * 50,
               ["2024-01-01T00:00+01:00", "2024-02-01T10:00+01:00", ""], ["2020-02-30", "2020-01-01"],
               ["2020-01-02", "02/01/2020", "  ", "31/12/2022"], ["1 March 2024", None])
    for sample in samples:
        u = pd.Series(sample, dtype="string").str.strip()
        both = pd.to_datetime(u, errors="coerce", format="ISO8601").fillna(
            pd.to_datetime(u, errors="coerce", dayfirst=True, format="mixed"))
        want = both.dt.date.astype(object).where(both.notna(), None)
        assert list(to_date(pd.Series(sample, dtype="str"))) == list(want)


def test_blank_cells_answered_once_per_column_while_it_lives():
    import gc

    import pyarrow as pa

    from assets_map.io import normalise

    col = pa.chunked_array([pa.array(["a", " ", None, "\u00a0b"], pa.large_string())])
    first = normalise.blank_cells(col)
    assert normalise.blank_cells(col) is first and not first.flags.writeable
    assert first.tolist() == [False, True, True, False]
    other = pa.chunked_array([pa.array(["", "x", " ", "y"], pa.large_string())])
    assert normalise.blank_cells(other).tolist() == [True, False, True, False]
    key = id(col)
    del col, first
    gc.collect()
    assert key not in normalise._BLANKS


def test_a_text_column_factorised_once_while_it_lives():
    """map_words and the report of normalised values share one factorisation of an Arrow column: equal to pandas'."""
    from assets_map.io.normalise import factorized

    col = pd.Series(["Freehold", None, "Leasehold", "Freehold", ""], dtype="str")
    codes, uniques = factorized(col)
    want_codes, want_uniques = pd.factorize(col, use_na_sentinel=False)
    np.testing.assert_array_equal(codes, want_codes)
    assert [None if pd.isna(u) else u for u in uniques] == [None if pd.isna(u) else u for u in want_uniques]
    assert factorized(col)[0] is codes and not codes.flags.writeable
    assert factorized(col.astype(object))[0] is not factorized(col.astype(object))[0]  # other columns: made each time


def test_aggregate_rows_with_spaces_around_their_labels_are_set_aside():
    """The quick look for total/result words is made on the cells as they are: a label with spaces around it counts."""
    out, report = import_bytes(VARIANTS["aggregate rows"].encode("utf-8"), "pivot.csv")
    said = [i for i in report.to_dict()["issues"] if i["kind"] == "set aside"]
    assert said[0]["message"] == ("set aside 4 aggregate rows (subtotals/totals: 2 total, 1 organisation-level, "
                                  "1 blank-keyed); never sites") and said[0]["rows"] == [3, 4, 7, 8]
    assert list(out["asset_id"]) == ["RX1A", "RX1B", "RX2A", "RX2"]


def _codes_by_python(codes) -> list:
    """The plain rule: Python's regular expression on each stripped code."""
    import re

    from assets_map.engine.needs import LAST_2011_CODE

    out = []
    for c in pd.Series(list(codes), dtype="string").str.strip():
        m = None if c is pd.NA else re.search(r"^E01(\d{6})$", c)
        if m and int(m.group(1)) > LAST_2011_CODE:
            out.append(c)
    return sorted(out)


def test_lsoa_codes_new_in_2021_found_by_arrow_as_by_python(monkeypatch):
    import random

    from assets_map.engine.needs import codes_only_in_2021

    rnd = random.Random(19)
    pieces = ["E01", "E02", "W01", "e01", " ", "\n", "\t", "0", "3", "9", "1", "\u0663", "x", "", "E0103376",
              "E01033769", "E01033768", "E01\u0663"]
    for _ in range(2000):
        codes = ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 5))) for _ in range(rnd.randint(0, 30))]
        if rnd.random() < 0.2:
            codes.append(None)
        if rnd.random() < 0.4:
            codes = [c for c in codes if c is None or c.isascii()]
        assert codes_only_in_2021(codes) == _codes_by_python(codes), codes
    every = [f"E01{i:06d}" for i in range(40_000)] + [f" E01{i:06d}\t" for i in range(33_760, 33_780)]
    # ASCII codes (every English LSOA code) by Arrow's kernels, not pandas' regular expression on each value
    from pandas.core.strings.accessor import StringMethods

    monkeypatch.setattr(StringMethods, "extract", lambda *a, **k: pytest.fail("read value by value"))
    assert codes_only_in_2021(every) == _codes_by_python(every)
    assert len(codes_only_in_2021(every)) == 40_000 - 33_769 + 11


def _kind_by_row(x: float, y: float) -> str:
    """The plain rule of engine.geo.classify_xy, one pair at a time."""
    import math

    from assets_map.engine import geo

    def within(v, lo_hi):
        return lo_hi[0] <= v <= lo_hi[1]

    if not (math.isfinite(x) and math.isfinite(y)):
        return "missing"
    if within(x, geo.UK_LON) and within(y, geo.UK_LAT):
        return "lonlat"
    if within(y, geo.UK_LON) and within(x, geo.UK_LAT):
        return "latlon"
    if abs(x) > 1000 and abs(y) > 1000:
        if within(x, geo.BNG_E) and within(y, geo.BNG_N) and not x > 700_000:
            return "bng"
        if within(y, geo.BNG_E) and within(x, geo.BNG_N):
            return "bng_swapped"
    return "outside"


def test_coordinates_placed_by_kind_codes_as_by_the_plain_rule_per_pair(monkeypatch):
    from assets_map.engine import geo

    rng = np.random.default_rng(19)
    n = 3000
    pick = rng.integers(0, 8, n)
    x = np.choose(pick, [rng.uniform(-9.5, 3, n), rng.uniform(48.5, 62, n), rng.uniform(-5, 705_000, n),
                         rng.uniform(-5, 1_305_000, n), np.zeros(n), np.full(n, np.nan), np.full(n, 800_000.0),
                         rng.uniform(999, 1001, n)])
    y = np.choose((pick + rng.integers(0, 3, n)) % 8, [rng.uniform(48.5, 62, n), rng.uniform(-9.5, 3, n),
                                                       rng.uniform(-5, 1_305_000, n), rng.uniform(-5, 705_000, n),
                                                       np.zeros(n), np.full(n, np.inf), np.full(n, 50.0),
                                                       rng.uniform(999, 1001, n)])
    want = [_kind_by_row(a, b) for a, b in zip(x, y, strict=True)]
    assert list(geo.classify_xy(x, y)) == want and len(set(want)) == 6
    # the placing works from the kinds' codes: no million-label array made and compared
    monkeypatch.setattr(geo, "classify_xy", lambda *a: pytest.fail("labels made for the placing"))
    labels = np.array(["WGS84", "OSGB36", "British National Grid", None, "", "other"], dtype=object)
    said = pd.Series(labels[rng.integers(0, 6, n)], dtype="str")  # Arrow text, as a CSV register's column is
    from assets_map.io.normalise import factorized

    real_factorize, seen = pd.factorize, []

    def spy(values, *a, **k):
        seen.append((getattr(values, "dtype", None), len(values)))
        return real_factorize(values, *a, **k)

    monkeypatch.setattr(pd, "factorize", spy)
    res = geo.points_from_columns(pd.Series(x).map(repr).astype("str"), pd.Series(y).map(repr).astype("str"),
                                  stated_crs=said, x_name="X", y_name="Y")
    monkeypatch.undo()
    assert (said.dtype, n) in seen and (object, n) not in seen  # the labels factorised as Arrow text, not as objects
    assert factorized(said)[0] is factorized(said)[0]  # and that kept with the column
    kinds = np.array(want)
    assert np.array_equal(res.placed, np.isin(kinds, ["lonlat", "latlon", "bng", "bng_swapped"]))
    lonlat_n, bng_n = int(np.isin(kinds, ["lonlat", "latlon"]).sum()), int(np.isin(kinds, ["bng", "bng_swapped"]).sum())
    assert res.kind == ("lonlat" if lonlat_n >= bng_n and lonlat_n else "bng" if bng_n else "")
    bad = [int(r) + 1 for r in np.flatnonzero(kinds == "outside")]
    assert list(res.bad_rows.values()) == [bad]
    fixed = {m.split(" (")[0]: rows for m, rows in res.fixed_rows.items()}
    assert fixed["latitude and longitude were swapped"] == [int(r) + 1 for r in np.flatnonzero(kinds == "latlon")]
    assert fixed["easting and northing were swapped"] == [int(r) + 1 for r in np.flatnonzero(kinds == "bng_swapped")]
    stated = res.fixed_rows.get("stated CRS contradicted by the values; CRS taken from the values", [])
    assert stated and any("contradicts" in w for w in res.warnings)


def test_coordinates_of_plain_decimals_read_without_cleaning_as_with_it(monkeypatch):
    import pyarrow.compute as pc

    rng = np.random.default_rng(23)
    forms = [f"{v:.{rng.integers(0, 9)}f}" for v in rng.uniform(-700_000, 1_300_000, 5000)]
    forms += ["-0", "0.", ".5", "-2.35", "53.450000", "1e5", "7E-3", "-0.0"]
    mixed = forms + [" 12 ", "1,234.5", "12 5", "inf", "+5", "\x0b7"]

    def by_pandas(values):  # the plain rule: strip, take out thousands commas and spaces, read by pandas
        return pd.to_numeric(values.astype("string").str.strip().str.replace(",", "", regex=False)
                             .str.replace(" ", "", regex=False), errors="coerce").to_numpy(dtype="float64",
                                                                                          na_value=np.nan)

    for cells in (forms, forms + [None, None], mixed, mixed + [None], [None, None]):
        for dtype in ("str", object):
            values = pd.Series(cells, dtype=dtype)
            got, want = to_float(values), by_pandas(values)
            np.testing.assert_array_equal(got, want)
            assert np.array_equal(np.signbit(got), np.signbit(want))
    # a column of plain decimals (blank cells missing) is read as it is: no trimmed or cleaned copy of a million cells
    monkeypatch.setattr(pc, "utf8_trim", lambda *a, **k: pytest.fail("plain decimals trimmed"))
    np.testing.assert_array_equal(to_float(pd.Series(forms + [None], dtype="str")),
                                  by_pandas(pd.Series(forms + [None], dtype="str")))
