"""The Arrow reader for plain CSVs gives exactly what the careful reader gives, and hands every other file back.

Issue 19: the IoD and postcode CSVs and large registers are read by Arrow's parser (0.6 s -> 0.05 s for the
national IoD table, 26 s -> ~2 s for a 1M-row register); the sniffing, header finding, limits and line
accounting stay those of the careful reader. Each file here is read both ways and compared, frame, notes
and line counts; files with quoted line breaks, stray or open quotes and ragged rows must take the careful path.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from assets_map.io import sources
from assets_map.io.report import InputError
from assets_map.io.sources import Limits, read_csv_bytes


def _both(data: bytes, name: str = "t.csv", limits=sources.DEFAULT_LIMITS, monkeypatch=None):
    fast = read_csv_bytes(data, name, limits=limits)
    monkeypatch.setattr(sources, "_read_plain", lambda *a, **k: None)
    slow = read_csv_bytes(data, name, limits=limits)
    monkeypatch.undo()
    return fast, slow


def _same(fast, slow):
    pd.testing.assert_frame_equal(fast.frame, slow.frame)
    assert fast.notes == slow.notes
    assert (fast.header_row, fast.lines, fast.lines_note) == (slow.header_row, slow.lines, slow.lines_note)


PLAIN = [
    "a,b,c\n1,2,3\n4,,6\n",
    "Title of the register\n\nOrganisation,Code,Name\nX, 001 ,Old Library\n,,\nX,002,\"Hall, the\"\n",
    "a;b;c\n1;2;3\n",
    "a\tb\n\u00a0x\u00a0\ty\n",
    "id,name,id\n00123,Caf\u00e9,1\n\n\n00124,D\u00e9p\u00f4t,2",
    ",b,\n1,2,3\n",
]
CAREFUL = [
    "a,b,c\n1,\"two\nlines\",3\n4,5,6\n",      # a quoted line break
    "a,b,c\n1,2,3\n4,5\n7,8,9\n",                 # a ragged row
    "a,b,c\n1,\"open,3\n4,5,6\n",                 # a quote left open
    "a,b,c\n1,say \"hi\",3\n4,5,6\n",             # a stray quote inside a cell
    "a,b,c\n1,\"say \"\"hi\"\"\",3\n",            # an escaped quote
    "a,b,c\r\n1,2,3\r\n",                         # CRLF line ends
    "a,b,c\n1,2,3,4\n",                           # more cells than the header
]


@pytest.mark.parametrize("text", PLAIN)
def test_plain_files_read_alike(text, monkeypatch):
    fast, slow = _both(text.encode("utf-8"), monkeypatch=monkeypatch)
    _same(fast, slow)
    assert sources._read_plain(text, sources._delimiter(text, "t.csv"), "t.csv", sources.DEFAULT_LIMITS) is not None


@pytest.mark.parametrize("text", CAREFUL)
def test_other_files_take_the_careful_path(text, monkeypatch):
    delim = sources._delimiter(text, "t.csv")
    assert sources._read_plain(text, delim, "t.csv", sources.DEFAULT_LIMITS) is None
    fast, slow = _both(text.encode("utf-8"), monkeypatch=monkeypatch)
    _same(fast, slow)


def test_limits_hold_on_the_fast_path():
    small = Limits(max_rows=2)
    with pytest.raises(InputError, match="has 3 rows; at most 2"):
        read_csv_bytes(b"a,b\n1,2\n3,4\n5,6\n", "t.csv", limits=small)


def test_every_csv_in_the_shared_data_reads_alike(shared, monkeypatch):
    files = sorted(Path(shared()).rglob("*.csv"))
    assert len(files) >= 8
    fast_used = 0
    for f in files:
        data = f.read_bytes()
        text, _ = sources.decode_text(data, f.name)
        if sources._read_plain(text, sources._delimiter(text, f.name), f.name, sources.DEFAULT_LIMITS) is not None:
            fast_used += 1
        fast, slow = _both(data, f.name, monkeypatch=monkeypatch)
        _same(fast, slow)
    assert fast_used >= 5  # the IoD, postcode and lookup tables are plain


def test_a_delimiter_of_more_than_one_byte_takes_the_careful_path(monkeypatch):
    text = "a\u00a7b\u00a7c\n1\u00a72\u00a73\n4\u00a75\u00a76\n"  # '§' separates the columns (two bytes in UTF-8)
    delim = sources._delimiter(text, "t.csv")
    if delim == "\u00a7":
        assert sources._read_plain(text, delim, "t.csv", sources.DEFAULT_LIMITS) is None
    fast, slow = _both(text.encode("utf-8"), monkeypatch=monkeypatch)
    _same(fast, slow)
