"""Heavy jobs run in a child process bounded in memory and time, so one visitor cannot exhaust the server.

Reading a visitor's files, re-scoring them and making a site pack can cost far more
than their size suggests: ``make_valid`` on a 500-vertex polygon whose edges all cross
each other took 108 s and grew to 13,865 pieces. Budgets on bytes, rows and vertices
(:class:`assets_map.io.sources.Limits`) refuse what can be counted up front; :func:`run_bounded`
bounds the rest. The job runs in a forked child (it starts in milliseconds and shares the
parent's loaded engine; ``forkserver`` and ``spawn`` would re-run the server's main script
in every job). The parent samples the child's private memory (what it does not share with
the server) every 0.1 s and kills it above the budget, or when the wall-clock time is up.
``RLIMIT_AS`` at :data:`AS_FACTOR` times the budget stops an allocation too fast for the
sampling (address space runs well ahead of memory in use: reading a 49.5 MB CSV reserved
1.7 GB of it for 0.7 GB used, so the address-space limit alone cannot be the budget). At
most :data:`MAX_JOBS` jobs run at once, so the jobs add at most ``MAX_JOBS`` times the budget
to the server's memory (plus what a job returns, which the visitor's session then holds).
A job also dies with the server, and has a CPU-time limit should nobody be watching it.

An :class:`~assets_map.io.report.InputError` raised by the job comes back as itself; a job
over its budget comes back as an InputError that says which budget, in one line.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass

from assets_map.io.report import InputError

_LOG = logging.getLogger(__name__)
_MB = 1024 * 1024

#: Jobs allowed to run at once (each within its own memory budget).
MAX_JOBS = int(os.environ.get("ASSETS_MAP_MAX_JOBS", "2"))
_SLOTS = threading.BoundedSemaphore(MAX_JOBS)
#: The hard address-space limit of a job, in multiples of its memory budget.
AS_FACTOR = 3
_POLL_S = 0.1


@dataclass(frozen=True)
class JobBudget:
    """How much memory (MB of its own, not shared with the server) and wall-clock time (s) one job may use.

    ``who`` names the budget in refusals ("a public visitor's job").
    """

    memory_mb: int = int(os.environ.get("ASSETS_MAP_JOB_MB", "4096"))
    seconds: float = float(os.environ.get("ASSETS_MAP_JOB_SECONDS", "600"))
    who: str = "this job"


#: The budget for a public visitor's jobs; :class:`JobBudget` defaults (environment) are for everyone else.
PUBLIC_JOB = JobBudget(memory_mb=int(os.environ.get("ASSETS_MAP_PUBLIC_JOB_MB", "1536")),
                       seconds=float(os.environ.get("ASSETS_MAP_PUBLIC_JOB_SECONDS", "90")),
                       who="a public visitor's job")


def _vm_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _private_bytes(pid: int) -> int | None:
    """Memory of a process not shared with others (its own and copied-on-write pages), or None if unknown."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            return sum(int(line.split()[1]) * 1024 for line in fh
                       if line.startswith(("Private_Clean:", "Private_Dirty:")))
    except (OSError, ValueError, IndexError):
        return None


def _die_with_parent() -> None:
    """Ask Linux to kill this process if the server dies first (best effort; elsewhere a no-op)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError, ctypes.ArgumentError):
        pass


def _child(conn, memory_bytes: int, seconds: float, fn, args, kwargs) -> None:
    import gc
    import resource

    gc.freeze()  # the collector would otherwise touch (and so copy) every object inherited from the server
    _die_with_parent()
    try:
        limit = _vm_bytes() + AS_FACTOR * memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        # A backstop should the server stop watching: CPU time never runs ahead of two cores' wall time.
        cpu = int(2 * seconds) + 10
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        result = ("ok", fn(*args, **kwargs))
    except InputError as exc:
        result = ("input", (list(exc.problems), exc.source))
    except MemoryError:
        result = ("memory", None)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
        text = f"{type(exc).__name__}: {exc}"
        kind = "memory" if "bad_alloc" in text or "Cannot allocate memory" in text else "error"
        result = (kind, (text.splitlines()[0][:300] if text else type(exc).__name__, traceback.format_exc()))
    try:
        conn.send(result)
    except MemoryError:
        conn.send(("memory", None))
    except BaseException as exc:  # noqa: BLE001 - e.g. a result that cannot be pickled: a bug, said as one
        conn.send(("error", (f"{type(exc).__name__}: {exc}".splitlines()[0][:300], traceback.format_exc())))
    finally:
        conn.close()


def run_bounded(fn, *args, budget: JobBudget | None = None, what: str = "the job", **kwargs):
    """Run ``fn(*args, **kwargs)`` in a child process within ``budget``; return its result.

    Parameters
    ----------
    fn : a module-level function (it and its arguments and result are pickled)
    budget : memory and time allowed (:class:`JobBudget` defaults when None)
    what : what the job does, for messages ("checking your files", "making the site pack")

    Returns
    -------
    Whatever ``fn`` returns.

    Raises
    ------
    InputError : the job's own refusal, or one line saying which budget it went over
    RuntimeError : the job failed for another reason (a bug: the traceback is logged)
    """
    budget = budget or JobBudget()
    started = time.monotonic()
    if not _SLOTS.acquire(timeout=budget.seconds):
        raise InputError(f"the server is busy with other jobs; {what} could not start within "
                         f"{budget.seconds:g} s, try again shortly")
    try:
        ctx = mp.get_context("fork")
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(send, budget.memory_mb * _MB, budget.seconds, fn, args, kwargs),
                           daemon=True)
        proc.start()
        send.close()
        deadline = started + budget.seconds
        ready, result = False, None
        try:
            while (left := deadline - time.monotonic()) > 0:
                if recv.poll(min(_POLL_S, left)):
                    ready, result = True, recv.recv()
                    break
                used = _private_bytes(proc.pid)
                if used is not None and used > budget.memory_mb * _MB:
                    ready, result = True, ("memory", None)
                    break
        except (EOFError, OSError):
            ready, result = True, None  # the child died without a word (killed by the kernel)
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join()
            recv.close()
    finally:
        _SLOTS.release()
    if not ready or (result is None and proc.exitcode == -signal.SIGXCPU):
        raise InputError(f"{what} took longer than the {budget.seconds:g} s {budget.who} may take; "
                         "it was stopped (is a file much larger or more detailed than it needs to be?)")
    if result is None or result[0] == "memory":
        raise InputError(f"{what} needed more than the {budget.memory_mb:,} MB of memory {budget.who} may use; "
                         "it was stopped (is a file much larger or more detailed than it needs to be?)")
    kind, value = result
    if kind == "ok":
        return value
    if kind == "input":
        problems, source = value
        raise InputError(problems, source=source)
    _LOG.error("%s failed in its child process (%s):\n%s", what, value[0], value[1])
    raise RuntimeError(f"{what} failed because of a problem in assets-map, not in your files "
                       "(the details are in the server log)")


__all__ = ["JobBudget", "MAX_JOBS", "PUBLIC_JOB", "run_bounded"]
