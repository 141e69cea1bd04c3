"""A stray quote never eats rows: a quoted cell that runs over line breaks into what read as
records is read with that quote as a plain character, or the file is refused naming the line.
Legitimate multi-line quoted cells (addresses) still read as one cell. Every import report
states the lines in the file and the records read.
"""
from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest

from assets_map.cli import main
from assets_map.io.importer import import_bytes, import_file
from assets_map.io.report import InputError
from assets_map.io.sources import MAX_CELL_CHARS, read_csv_bytes
from assets_map.store import LOCAL_USER, SqliteStore

DELIMS = [",", ";", "\t", "|"]
EOLS = {"LF": "\n", "CRLF": "\r\n", "CR": "\r"}
ENCODINGS = ["utf-8", "utf-8-sig", "cp1252", "utf-16"]


# ------------------------------------------------------------------ Trafford with one stray quote

@pytest.fixture(scope="module")
def trafford_bytes(shared) -> bytes:
    return shared("trafford", "land_and_building_assets.csv").read_bytes()


def _cell_starts(line: str) -> list[int]:
    """Positions where each cell of one (one-line) record starts."""
    starts, quoted = [0], False
    for k, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            starts.append(k + 1)
    return starts


def _with_stray_quote(data: bytes, line_no: int, cell: int, eol: str = "\n") -> bytes:
    """The file with one ``"`` added at the start of one cell of one (1-based) line."""
    lines = data.decode("utf-8").split("\n")
    text = lines[line_no - 1]
    pos = _cell_starts(text)[cell]
    lines[line_no - 1] = text[:pos] + '"' + text[pos:]
    return eol.join(lines).encode("utf-8")


def test_trafford_stray_quote_before_a_name_reads_all_608_rows_and_says_where(trafford_bytes):
    clean = read_csv_bytes(trafford_bytes, "land_and_building_assets.csv").frame
    bad = _with_stray_quote(trafford_bytes, 11, 5)  # PropertyName of the 10th asset: the case
    gdf, report = import_bytes(bad, "land_and_building_assets.csv")
    assert report.rows_read == 608 and len(gdf) == 608
    assert gdf["name"].str.len().max() < 200, "a name swallowed other records"
    warned = [i.message for i in report.of_kind("warning") if "line 11" in i.message]
    assert warned and "PropertyName" in warned[0] and "plain character" in warned[0]
    assert report.lines_in_file == 609 and "609 lines in the file" in report.summary_lines()[0]
    # every cell as published, but for the one that now starts with the literal quote
    frame = read_csv_bytes(bad, "land_and_building_assets.csv").frame
    differs = (frame.fillna("~") != clean.fillna("~")).to_numpy()
    assert differs.sum() == 1 and frame.iloc[9, 5] == '"' + clean.iloc[9, 5]


@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_a_stray_quote_at_the_start_of_any_cell_reads_608_rows_or_is_refused_with_its_line(trafford_bytes, eol):
    step = 13 if eol == "\n" else 41
    text = trafford_bytes.decode("utf-8").split("\n")
    refused = 0
    for line_no in range(2, 610, step):
        for cell in range(len(_cell_starts(text[line_no - 1]))):
            bad = _with_stray_quote(trafford_bytes, line_no, cell, eol)
            try:
                table = read_csv_bytes(bad, "register.csv")
            except InputError as exc:
                refused += 1
                assert f"line {line_no}" in str(exc) and "\n" not in str(exc)
                continue
            assert len(table.frame) == 608, (line_no, cell)
    assert refused == 0  # every one of these is read with the quote as a plain character


def test_stray_quote_after_the_last_quote_of_the_file_runs_to_the_end_and_is_read_back(trafford_bytes):
    lines = trafford_bytes.decode("utf-8").rstrip("\n").split("\n")
    # the register cut after the last of 8 lines with no quote: a quote opened among them is never closed
    end = next(i for i in range(len(lines) - 9, 0, -1) if not any('"' in t for t in lines[i - 8:i]))
    lines = lines[:end]
    data = ("\n".join(lines) + "\n").encode()
    line_no = end - 5
    table = read_csv_bytes(_with_stray_quote(data, line_no, 5), "register.csv")
    assert len(table.frame) == len(lines) - 1
    assert any(f"line {line_no}" in n for n in table.notes)


def test_stray_quote_register_never_removes_assets_from_the_store(shared, trafford_bytes, tmp_path, capsys):
    boundaries = shared("trafford", "lsoa21_boundaries.geojson")
    deprivation = shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv")
    clean = tmp_path / "register.csv"
    clean.write_bytes(trafford_bytes)
    (tmp_path / "stray").mkdir()
    stray = tmp_path / "stray" / "register.csv"  # the same register, re-published with one stray quote
    stray.write_bytes(_with_stray_quote(trafford_bytes, 11, 5))
    db = tmp_path / "register.sqlite"
    common = ["store", "--store", str(db), "import", "--boundaries", str(boundaries), "--deprivation", str(deprivation),
              "--organisation", "Trafford"]
    assert main(common + ["--assets", str(clean)]) == 0
    capsys.readouterr()
    assert main(common + ["--assets", str(stray)]) == 0
    out = capsys.readouterr().out
    assert "609 lines in the file" in out and "608 records read" in out
    assert "608 rows; 0 added, 1 changed, 607 unchanged, 0 no longer in the register" in out
    assert "line 11" in out  # the warning says which line held the quote
    assets = SqliteStore(db).assets(LOCAL_USER, include_removed=True)
    assert len(assets) == 608 and not assets["removed"].any()


# ------------------------------------------------------------------ synthetic registers

HEADER = ["AssetCode", "PropertyName", "Address", "PostCode", "GeoX", "GeoY"]


def _rows(n: int = 8) -> list[list[str]]:
    out = []
    for i in range(n):
        address = {0: "Unit 3, Mill Lane{nl}Sale; Cheshire",  # the delimiters and a line break inside quotes
                   3: "Flat 2|Low Road{nl}{nl}Altrincham\tWA14",  # a blank line inside the cell
                   5: 'The "Old" School{nl}Church Street'}.get(i, f"{i} High Street")
        out.append([f"A-{i:03d}", f"Hall {i} café", address, "M33 7ZF", str(431000 + 10 * i), str(312000 + 10 * i)])
    return out


def _write(rows: list[list[str]], delim: str, eol: str, encoding: str, header=HEADER) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delim, lineterminator=eol, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for r in rows:
        writer.writerow([c.replace("{nl}", eol) for c in r])
    return buf.getvalue().encode(encoding)


def _physical_line(row: int) -> int:
    """1-based physical line on which data row ``row`` of :func:`_rows` (0-based, below a one-line header) starts."""
    return 2 + row + sum(r[2].count("{nl}") for r in _rows()[:row])


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("eol", list(EOLS.values()), ids=list(EOLS))
@pytest.mark.parametrize("delim", DELIMS, ids=["comma", "semicolon", "tab", "pipe"])
def test_multi_line_quoted_addresses_read_as_one_cell(delim, eol, encoding):
    rows = _rows()
    data = _write(rows, delim, eol, encoding)
    table = read_csv_bytes(data, "register.csv")
    assert list(table.frame.columns) == HEADER
    assert len(table.frame) == len(rows)
    for got, want in zip(table.frame["Address"], rows, strict=True):
        assert got == want[2].replace("{nl}", eol).strip()
    assert not any("plain character" in n for n in table.notes)
    breaks = sum(r[2].count("{nl}") for r in rows)
    assert table.lines == 1 + len(rows) + breaks
    assert f"{breaks} line break(s) inside quoted cells" in table.lines_note


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("eol", list(EOLS.values()), ids=list(EOLS))
@pytest.mark.parametrize("delim", DELIMS, ids=["comma", "semicolon", "tab", "pipe"])
def test_stray_quote_is_read_as_a_plain_character_with_any_delimiter_line_end_and_encoding(delim, eol, encoding):
    rows = _rows()
    text = _write(rows, delim, eol, encoding).decode(encoding).lstrip("\ufeff")
    line_no = _physical_line(6)  # after the multi-line addresses, before the last rows
    lines = text.split(eol)
    assert lines[line_no - 1].startswith(f"A-006{delim}Hall 6")
    lines[line_no - 1] = lines[line_no - 1].replace(f"{delim}Hall 6", f'{delim}"Hall 6', 1)
    data = eol.join(lines).encode(encoding)
    table = read_csv_bytes(data, "register.csv")
    assert len(table.frame) == len(rows)
    assert table.frame["PropertyName"].tolist()[6] == '"Hall 6 café'
    assert table.frame["AssetCode"].tolist() == [r[0] for r in rows]
    assert any(f"line {line_no}" in n and "plain character" in n for n in table.notes)


def test_narrow_table_multi_line_cells_stay_and_a_stray_quote_is_split_again():
    legit = b'id,address\r\n1,"12 High St\r\nSale"\r\n2,"Flat 2, 3 Low Rd\r\nAltrincham, Cheshire"\r\n3,Hall\r\n'
    t = read_csv_bytes(legit, "narrow.csv")
    assert t.frame["address"].tolist() == ["12 High St\r\nSale", "Flat 2, 3 Low Rd\r\nAltrincham, Cheshire", "Hall"]
    stray = b'id,name\n1,Alpha\n2,"Beta\n3,Gamma\n4,Delta\n'
    t = read_csv_bytes(stray, "narrow.csv")
    assert t.frame["id"].tolist() == ["1", "2", "3", "4"]
    assert t.frame["name"].tolist() == ["Alpha", '"Beta', "Gamma", "Delta"]


def test_a_stray_quote_in_the_first_record_of_a_narrow_file_is_split_again():
    # no one-line record is left to learn from: the swallowed lines agree with each other and the record's own start
    t = read_csv_bytes(b'col0;col1\n"A-0;Freehold\nA-1;Freehold\nA-2;216\nA-3;Town Hall\n', "narrow.csv")
    assert t.frame["col0"].tolist() == ['"A-0', "A-1", "A-2", "A-3"]
    assert any("line 2" in n and "plain character" in n for n in t.notes)


def test_a_record_merged_near_the_top_is_not_taken_for_the_header():
    # the stray quote is closed by the next line's opening quote: the merged record is wider than the header
    data = b'c0;c1;c2;c3;c4\nA-1;a;b;c;d\nA-2;a;b;c;"\nA-3;"p; q; r; s";u;v;w\nA-4;a;b;c;d\n'
    t = read_csv_bytes(data, "register.csv")
    assert list(t.frame.columns) == ["c0", "c1", "c2", "c3", "c4"]
    assert t.frame["c0"].tolist() == ["A-1", "A-2", "A-3", "A-4"] and t.frame["c1"].tolist()[2] == "p; q; r; s"


def test_a_swallowed_record_that_opens_its_own_multi_line_cell_still_counts_as_a_record():
    data = ("AssetCode,PropertyName,Address,Use,Tenure,GeoX,GeoY\n"
            "A-1,Town Hall,Market St,Office,Freehold,1,2\n"
            'A-2,"Depot,Mill Lane,Store,Freehold,3,4\n'  # the stray quote
            'A-3,Library,"1 High St\nSale",Library,"Lease, 99 years",5,6\n'
            "A-4,Baths,Bath St,Leisure,Freehold,7,8\n").encode()
    t = read_csv_bytes(data, "register.csv")
    assert t.frame["AssetCode"].tolist() == ["A-1", "A-2", "A-3", "A-4"]
    assert t.frame["Address"].tolist()[2] == "1 High St\nSale" and t.frame["PropertyName"].tolist()[1] == '"Depot'


def test_quotes_that_do_not_pair_up_are_named_by_line():
    data = ("AssetCode,PropertyName,Address,Use\n"
            "A-1,Town Hall,Market St,Office\n"
            '"A-2,"1 High St\nSale",Store,Freehold\n'  # splits the record instead of joining two
            "A-3,Library,Church St,Library\n").encode()
    t = read_csv_bytes(data, "register.csv")
    assert any(n.startswith("quotes do not pair up on line 3") for n in t.notes)
    clean = read_csv_bytes(_write(_rows(), ",", "\n", "utf-8"), "register.csv")
    assert not any("pair up" in n for n in clean.notes)


def _random_table(rnd, multi_line: bool):
    width = rnd.randint(2, 8)
    delim, eol = rnd.choice(DELIMS), rnd.choice(["\n", "\r\n"])
    rows = []
    for r in range(rnd.randint(5, 30)):
        row = [f"A-{r}"]
        for _ in range(width - 1):
            x = rnd.random()
            row.append(f"Hall {r}{delim} Sale" if x < 0.15 else "1 High St{nl}Sale" if x < 0.2 and multi_line
                       else "" if x < 0.3 else rnd.choice(["Town Hall", "Library", str(rnd.randint(1, 999))]))
        rows.append(row)
    return rows, delim, eol, [f"col{i}" for i in range(width)]


@pytest.mark.parametrize("multi_line", [False, True], ids=["one-line cells", "multi-line cells"])
def test_random_registers_read_as_written_and_a_stray_quote_never_loses_rows_silently(multi_line):
    import random

    rnd = random.Random(20 + multi_line)
    for _ in range(400):
        rows, delim, eol, header = _random_table(rnd, multi_line)
        text = _write(rows, delim, eol, "utf-8", header=header).decode()
        table = read_csv_bytes(text.encode(), "r.csv")
        assert table.frame.fillna("").to_numpy().tolist() == [[c.replace("{nl}", eol).strip() for c in r]
                                                               for r in rows] and not table.notes[1:]
        lines = text.split(eol)
        at = rnd.randint(1, len(lines) - 2)
        starts = [0] + [k + 1 for k, ch in enumerate(lines[at]) if ch == delim]
        pos = rnd.choice(starts)
        lines[at] = lines[at][:pos] + '"' + lines[at][pos:]
        try:
            table = read_csv_bytes(eol.join(lines).encode(), "r.csv")
        except InputError as exc:
            assert "line " in str(exc) and "\n" not in str(exc)
            continue
        if len(table.frame) != len(rows):
            assert any("quote" in n and "line" in n for n in table.notes), (at, text)


def test_a_stray_quote_that_cannot_be_read_back_is_refused_with_its_line():
    data = (b"AssetCode,PropertyName,Address,GeoX\n"
            b"A1,Town Hall,Market St,1\n"
            b'A2,"Smith, John,Low Rd,2\n'  # the closing quote was forgotten: the cell held a comma
            b"A3,Library,Church St,3\n"
            b"A4,Depot,Mill Lane,4\n")
    with pytest.raises(InputError) as err:
        read_csv_bytes(data, "register.csv")
    msg = str(err.value)
    assert msg.startswith("register.csv: ") and "line 3" in msg and "'PropertyName'" in msg and "\n" not in msg


def test_a_multi_line_cell_longer_than_any_spreadsheet_cell_is_refused_but_a_long_one_line_cell_reads():
    notes = ("word " * 99 + "word\n") * (MAX_CELL_CHARS // 500 + 10)
    data = f'id,notes,x,y\n1,"{notes}",1,2\n2,short,3,4\n'.encode()
    with pytest.raises(InputError) as err:
        read_csv_bytes(data, "notes.csv")
    assert "line 2" in str(err.value) and "more than a spreadsheet cell holds" in str(err.value)
    wkt = "POLYGON ((" + ", ".join(f"{i} {i}" for i in range(10_000)) + "))"  # one line, 100k characters
    t = read_csv_bytes(f'id,wkt\n1,"{wkt}"\n2,x\n'.encode(), "wkt.csv")
    assert len(t.frame) == 2 and t.frame["wkt"][0] == wkt


# ------------------------------------------------------------------ the report states lines and records

def test_import_report_states_lines_in_the_file_and_records_read(tmp_path, capsys):
    rows = _rows()
    body = _write(rows, ",", "\n", "utf-8").decode()
    path = tmp_path / "register.csv"
    path.write_text("Register of assets (title line)\n" + body + "\n", encoding="utf-8")
    breaks = sum(r[2].count("{nl}") for r in rows)
    lines = 1 + 1 + len(rows) + breaks + 1  # title, header, records, line breaks in cells, one blank line
    gdf, report = import_file(path)
    assert report.rows_read == len(rows) and report.lines_in_file == lines
    assert report.lines_note == f"header on line 2; 1 blank line(s); {breaks} line break(s) inside quoted cells"
    first = report.summary_lines()[0]
    assert f"{lines} lines in the file (header on line 2;" in first and f"{len(rows)} records read" in first
    out = tmp_path / "report.json"
    assert main(["import", str(path), "--report", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["lines_in_file"] == lines and doc["rows_read"] == len(rows)
    assert f"{lines} lines in the file" in capsys.readouterr().out


def test_report_lines_survive_the_result_cache(tmp_path):
    from assets_map.engine.cache import _report_from_dict

    _, report = import_bytes(_write(_rows(), ",", "\n", "utf-8"), "register.csv")
    back = _report_from_dict(json.loads(json.dumps(report.to_dict(), default=str)))
    assert back.summary_lines() == report.summary_lines() and back.lines_in_file == report.lines_in_file


def test_your_data_page_states_lines_in_the_file_and_records_read():
    from assets_map.io.uploads import Upload
    from tests.helpers import all_text, app_page, demo_boundaries_geojson, register_csv, stage_and_check

    at = app_page("data_page").run()
    files = {"register": Upload("my_register.csv", register_csv()),
             "boundaries": Upload("areas.geojson", demo_boundaries_geojson())}
    stage_and_check(at, files)
    text = all_text(at).replace("\\", "")
    assert "my_register.csv: 6 lines in the file (header on line 1), 5 records read" in text


def test_excel_and_vector_reports_count_sheet_rows_and_features(tmp_path):
    import geopandas as gpd
    import shapely

    frame = pd.DataFrame([r[:2] + [r[3]] for r in _rows()], columns=["AssetCode", "PropertyName", "PostCode"])
    xlsx = tmp_path / "register.xlsx"
    frame.to_excel(xlsx, index=False)
    _, report = import_file(xlsx)
    assert report.lines_in_file == len(frame) + 1 and "sheet rows in the file" in report.summary_lines()[0]
    gj = tmp_path / "register.geojson"
    gpd.GeoDataFrame(frame, geometry=[shapely.Point(-2.3, 53.4)] * len(frame), crs=4326).to_file(gj)
    _, report = import_file(gj)
    assert report.lines_in_file == len(frame) and f"{len(frame)} features in the file" in report.summary_lines()[0]
