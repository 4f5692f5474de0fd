"""One way to time and size a call, shared by every benchmark.

Each benchmark used to carry its own clock: CPU time in one, wall clock in
another, ``tracemalloc`` in a third (which slows Python-heavy code 2.5x and
so skewed the very timings it sat next to). They all go through here now:

* :func:`measure` -- best wall-clock time over ``repeat`` calls (more for a
  fast call, up to ``min_seconds`` of calls), the CPU time of that call (all
  threads of this process) and, on request, the peak memory allocated during
  one more call, traced by ``tracemalloc`` apart from the timed calls (so the
  timing is not disturbed).
* :func:`competing_process` -- a second process spinning on one core while
  the block runs: the machine a user has when a browser, a notebook or a
  ``GridSearchCV`` worker is busy next to the fit.
* :func:`measure_idle_and_busy` -- both, for the "idle" and "busy" columns
  every benchmark table reports.
* :func:`print_table` -- a Markdown table, flushed row by row.

Benchmarks are run as scripts (``python benchmarks/bench_x.py``), so they
import this module as ``from _timing import ...``.
"""

import contextlib
import functools
import multiprocessing
import os
import time
import tracemalloc
from typing import Any, NamedTuple


class Measurement(NamedTuple):
    result: Any
    seconds: float  # best wall clock over the repeats
    cpu_seconds: float  # CPU time of this process (all threads) for that call
    peak_mb: float | None  # peak traced allocation of one more call, if asked


def _traced_peak_mb(fn, *args, **kwargs):
    """Peak of the allocations Python and NumPy trace during one call (MB)."""
    tracemalloc.start()
    try:
        fn(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


# At most this many calls to reach ``min_seconds``.
_MAX_CALLS = 50


def measure(fn, *args, repeat=1, min_seconds=0.0, memory=False, **kwargs):
    """Call ``fn(*args, **kwargs)`` ``repeat`` times; keep the fastest call.

    More calls follow while all of them together took under ``min_seconds``
    (at most 50): a single call of a few milliseconds is mostly the
    scheduler's noise, on a shared machine by a factor of 2. Returns a
    :class:`Measurement` with the last call's result, the best wall-clock
    seconds and the CPU seconds of that call. With ``memory``, one more
    call runs under ``tracemalloc`` for the peak of the memory allocated
    through Python and NumPy (BLAS scratch is not traced): the timed calls
    are never traced, since tracing slows Python-heavy code.
    """
    best = (float("inf"), float("nan"))
    result = None
    calls, spent = 0, 0.0
    while calls < max(1, repeat) or (spent < min_seconds and calls < _MAX_CALLS):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn(*args, **kwargs)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        best = min(best, (wall, cpu))
        calls, spent = calls + 1, spent + wall
    peak = _traced_peak_mb(fn, *args, **kwargs) if memory else None
    return Measurement(result, best[0], best[1], peak)


def _spin(started, stop, parent):
    started.set()
    # Also stop when the benchmark dies without leaving the block (killed by
    # a signal): a spinner outliving it would load every later measurement.
    while not stop.is_set() and os.getppid() == parent:
        for _ in range(10_000):
            pass


@contextlib.contextmanager
def competing_process():
    """Keep one other process busy on a core while the block runs.

    The busy loop is pure Python (no BLAS, no memory traffic): it takes a
    core away from the measured code, as any other busy program would.
    """
    context = multiprocessing.get_context("spawn")
    started, stop = context.Event(), context.Event()
    process = context.Process(
        target=_spin, args=(started, stop, os.getpid()), daemon=True
    )
    process.start()
    try:
        # Time only once the spinner runs. A script without ``if __name__ ==
        # "__main__":`` makes the spawned child fail while importing it, and
        # "busy" would silently time an idle machine.
        while not started.wait(timeout=0.1):
            if not process.is_alive():
                raise RuntimeError(
                    f"the competing process exited (code {process.exitcode}) "
                    "before spinning: guard the benchmark script's code with "
                    'if __name__ == "__main__":'
                )
        yield process
    finally:
        stop.set()
        process.join(timeout=5)
        if process.is_alive():
            process.terminate()
            process.join()


def measure_idle_and_busy(fn, *args, repeat=1, min_seconds=1.0, **kwargs):
    """:func:`measure` on an idle machine, then with :func:`competing_process`.

    Each side calls ``fn`` for at least ``min_seconds`` (and ``repeat``
    times), so that a fast call's busy/idle ratio is not one draw of noise.
    """
    measured = functools.partial(
        measure, fn, *args, repeat=repeat, min_seconds=min_seconds, **kwargs
    )
    idle = measured()
    with competing_process():
        busy = measured()
    return idle, busy


def print_table(header, rows):
    """Print ``rows`` (sequences of cells) under ``header`` as Markdown."""
    print("| " + " | ".join(str(cell) for cell in header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |", flush=True)
