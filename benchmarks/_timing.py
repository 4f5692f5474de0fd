"""One way to time and size a call, shared by every benchmark.

Each benchmark used to carry its own clock: CPU time in one, wall clock in
another, ``tracemalloc`` in a third (which slows Python-heavy code 2.5x and
so skewed the very timings it sat next to). They all go through here now:

* :func:`measure` -- best wall-clock time over ``repeat`` calls, the CPU time
  of that call (all threads of this process) and, on request, the peak growth
  of the resident set during the call, sampled from ``/proc`` by a thread
  (no allocation hooks, so the timing is not disturbed).
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
import multiprocessing
import os
import threading
import time
from typing import Any, NamedTuple

_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 1e6 if hasattr(os, "sysconf") else 0.0
# How often the memory sampler reads /proc/self/statm (seconds).
_SAMPLE_INTERVAL = 0.005


class Measurement(NamedTuple):
    result: Any
    seconds: float  # best wall clock over the repeats
    cpu_seconds: float  # CPU time of this process (all threads) for that call
    peak_mb: float | None  # peak RSS growth during the call, if measured


def _rss_mb():
    """Resident set size of this process in MB (Linux), or None."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_MB
    except (OSError, ValueError, IndexError):
        return None


class _PeakSampler:
    """Sample the RSS in a daemon thread; ``peak`` is the growth in MB."""

    def __init__(self):
        self._start = _rss_mb()
        self._peak = self._start
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._done.wait(_SAMPLE_INTERVAL):
            self._peak = max(self._peak, _rss_mb())

    def __enter__(self):
        if self._start is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc_info):
        if self._start is None:
            return
        self._done.set()
        self._thread.join()
        self._peak = max(self._peak, _rss_mb())

    @property
    def peak(self):
        return None if self._start is None else self._peak - self._start


def measure(fn, *args, repeat=1, memory=False, **kwargs):
    """Call ``fn(*args, **kwargs)`` ``repeat`` times; keep the fastest call.

    Returns a :class:`Measurement` with the last call's result, the best
    wall-clock seconds, the CPU seconds of that call and, when ``memory`` is
    true, the peak RSS growth (MB) over all the calls.
    """
    best = (float("inf"), float("nan"))
    result = None
    sampler = _PeakSampler() if memory else contextlib.nullcontext()
    with sampler:
        for _ in range(max(1, repeat)):
            wall, cpu = time.perf_counter(), time.process_time()
            result = fn(*args, **kwargs)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best = min(best, (wall, cpu))
    peak = sampler.peak if memory else None
    return Measurement(result, best[0], best[1], peak)


def _spin(stop):
    while not stop.is_set():
        for _ in range(10_000):
            pass


@contextlib.contextmanager
def competing_process():
    """Keep one other process busy on a core while the block runs.

    The busy loop is pure Python (no BLAS, no memory traffic): it takes a
    core away from the measured code, as any other busy program would.
    """
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    process = context.Process(target=_spin, args=(stop,), daemon=True)
    process.start()
    try:
        time.sleep(0.2)  # let the spinner reach its loop before timing
        yield process
    finally:
        stop.set()
        process.join(timeout=5)
        if process.is_alive():
            process.terminate()
            process.join()


def measure_idle_and_busy(fn, *args, repeat=1, **kwargs):
    """:func:`measure` on an idle machine, then with :func:`competing_process`."""
    idle = measure(fn, *args, repeat=repeat, **kwargs)
    with competing_process():
        busy = measure(fn, *args, repeat=repeat, **kwargs)
    return idle, busy


def print_table(header, rows):
    """Print ``rows`` (sequences of cells) under ``header`` as Markdown."""
    print("| " + " | ".join(str(cell) for cell in header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |", flush=True)
