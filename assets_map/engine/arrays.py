"""Column helpers for a million rows: group ids by factorised codes, Arrow text as pandas ``str``.

The engine's rules are written once per distinct value (a register repeats its statuses,
tenures, areas and dates); these helpers find the distinct combinations and build text
columns without a round trip through a million Python objects.
"""
from __future__ import annotations

import contextlib
import gc
import os
import weakref

import numpy as np
import pandas as pd
import pyarrow as pa


def group_ids(frame: pd.DataFrame, rows: np.ndarray, cols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(group id of each of ``rows``, position in ``rows`` of each group's first row).

    Rows are grouped by ``cols`` with missing values as one value. Factorised column by column in its own dtype (Arrow
    text factorises in C), so a million rows cost what their distinct values cost.
    """
    every = len(rows) == len(frame) and (not len(rows) or (rows[0] == 0 and bool((np.diff(rows) == 1).all())))
    present = [c for c in cols if c in frame.columns]
    if not present:  # one group
        ids = np.zeros(len(rows), dtype=np.int64)
        return ids, first_rows(ids)
    return combined_ids(frame[c] if every else frame[c].iloc[rows] for c in present)


def combined_ids(parts) -> tuple[np.ndarray, np.ndarray]:
    """(group id of each row, position of each group's first row) of rows keyed by ``parts`` (equal lengths).

    Each part is factorised in its own dtype (missing as one value); the codes make one mixed-radix number per
    combination, compacted only where the next digit could pass 2**62, then numbered once, by first appearance.
    """
    key, span = None, 1  # every key is below span
    for part in parts:
        codes, uniques = pd.factorize(part, use_na_sentinel=False)
        radix = len(uniques) + 1
        if key is None:
            key = np.zeros(len(codes), dtype=np.int64)
        elif span * radix >= 2**62:  # compacted first, only where the next digit could overflow
            key = pd.factorize(key)[0].astype(np.int64)
            span = int(key.max(initial=0)) + 1
        key = key * radix + codes
        span *= radix
    if key is None:
        raise ValueError("combined_ids needs at least one part")
    ids = pd.factorize(key)[0]
    return ids, first_rows(ids)


def first_rows(codes: np.ndarray) -> np.ndarray:
    """The position of each code's first row, for codes numbered in order of first appearance (``pd.factorize``'s).

    A code's first row is where the running maximum rises: one pass, no sort. ``first_rows(codes)[k]`` is the first
    row of code ``k``.
    """
    codes = np.asarray(codes)
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    top = np.maximum.accumulate(codes)
    return np.flatnonzero(np.r_[True, top[1:] > top[:-1]])


def kept_for(kept: dict, arr):
    """What :func:`per_column` keeps in ``kept`` for this very Arrow column ``arr``, or ``None``."""
    hit = kept.get(id(arr))
    return hit[1] if hit is not None and hit[0]() is arr else None


def per_column(kept: dict, arr, make):
    """``make()``, kept in ``kept`` for the Arrow column ``arr`` while it lives (by ``id``, with a weak reference).

    An Arrow column never changes (pandas replaces the array on any edit), so an answer about it holds while it lives.
    ``make`` never gives ``None``.
    """
    value = kept_for(kept, arr)
    if value is None:
        value = make()
        kept[id(arr)] = (weakref.ref(arr), value)
        weakref.finalize(arr, kept.pop, id(arr), None)  # forgotten with the column, so an id is never reused
    return value


def str_series(values: pa.Array | pa.ChunkedArray, index: pd.Index) -> pd.Series:
    """Arrow text as a pandas ``str`` Series without a round trip through Python objects."""
    chunked = values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])
    return pd.Series(pd.StringDtype("pyarrow", na_value=np.nan).__from_arrow__(chunked), index=index)


def repeated_text(text: str, index: pd.Index) -> pd.Series:
    """One text on every row of ``index`` as a pandas ``str`` Series, as ``frame[col] = text`` gives it.

    Built from its buffers (the text's bytes repeated, offsets in steps of its length): pandas repeats a scalar
    through a ``take`` of a million indices, 0.2-0.3 s per column of a long text at 1M rows, this 0.05 s.
    """
    n = len(index)
    data = text.encode("utf-8")
    offsets = np.arange(n + 1, dtype=np.int64) * len(data)
    arr = pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data * n)])
    return str_series(arr, index)


def words_column(words: tuple[str, ...] | list[str], codes: np.ndarray, index: pd.Index) -> pd.Series:
    """``words[codes]`` as a pandas ``str`` Series (a code of -1 gives a missing value)."""
    codes = np.asarray(codes, dtype=np.int64)
    taken = pa.array(list(words), type=pa.large_string()).take(pa.array(codes, mask=codes < 0))
    return str_series(taken, index)


@contextlib.contextmanager
def paused_gc():
    """Pause Python's cyclic garbage collector while building a million small containers.

    The containers are lists per row: each collection walks every live container, so building 1M lists took 0.6-0.9 s
    with it running and 0.09 s without (measured here). Nothing built is cyclic.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def retaining_arrow_pool() -> str:
    """Let Arrow allocate through jemalloc for a long run; the name of the allocator Arrow uses after.

    The default allocator of the pyarrow wheels (mimalloc) hands freed memory back to the system within milliseconds,
    so each of the many columns of a million texts (hundreds of MB) is faulted in page by page again: at 1M assets a
    quarter of the run was system time. jemalloc keeps freed pages a while for the next column (at 1M: up to 1.5 s
    less system time, the same peak memory; bench/README.md, session 7). Left alone where the user chose an allocator
    (``ARROW_DEFAULT_MEMORY_POOL``) or this pyarrow has no jemalloc.
    """
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        try:
            pa.set_memory_pool(pa.jemalloc_memory_pool())
        except (NotImplementedError, pa.ArrowNotImplementedError):
            pass
    return pa.default_memory_pool().backend_name


def plain_pages() -> bool:
    """Let numpy's large arrays fault in plain pages for a long run; whether numpy still asks for huge pages after.

    numpy asks the kernel for transparent huge pages on every large array (``madvise``). Where the kernel answers
    such a request by compacting memory on the spot (``defrag`` set to ``madvise``, this machine's setting), each new
    million-row array waits for it: at 1M assets 0.6 s more system time and a 3% slower run (bench/README.md,
    session 8). Left alone where the user chose (``NUMPY_MADVISE_HUGEPAGE``) or numpy has no such switch.
    """
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1
        from numpy.core import multiarray
    switch = getattr(multiarray, "_set_madvise_hugepage", None)
    if switch is None:
        return False
    was = switch(False)  # the switch returns the setting it replaces
    if os.environ.get("NUMPY_MADVISE_HUGEPAGE") is None:
        return False
    switch(was)  # the user's choice, put back
    return bool(was)
