"""The one timer the benchmarks share: the median of several runs, and the last result."""
from __future__ import annotations

import statistics
import time


def median_time(fn, runs: int):
    """Run ``fn`` ``runs`` times; return (median seconds, the last result)."""
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out
