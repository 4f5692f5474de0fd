"""Threads for fits made of many small products, each with one BLAS thread.

A fit made of many small matrix products (a SOM epoch, a kernel-regression
bandwidth search) loses time with a multi-threaded BLAS: every product hands
work to a second thread and waits for it, and on a machine with one busy
core that took 2-3 times as long as one thread doing it all. These helpers
run the blocks themselves on threads, each calling BLAS on one thread, as
scikit-learn's ``KMeans`` runs its chunks on OpenMP threads.
"""

import contextlib
import functools
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral

from joblib import cpu_count
from threadpoolctl import ThreadpoolController


@functools.cache
def _threadpool_controller():
    """One ``ThreadpoolController`` for the process, as scikit-learn keeps one.

    Finding the thread pools scans the loaded libraries (milliseconds); the
    controller reads and sets their current limits on every use.
    """
    return ThreadpoolController()


def one_blas_thread():
    """Context in which BLAS runs on one thread (``threadpoolctl``)."""
    return _threadpool_controller().limit(limits=1, user_api="blas")


def effective_n_threads(n_jobs):
    """Number of threads that ``n_jobs`` asks for, at least 1.

    ``None``: as many as BLAS may use here (the largest thread count of the
    BLAS libraries that ``threadpoolctl`` finds), at most the usable CPUs
    (``joblib.cpu_count``, which reads the affinity mask and cgroup quotas).
    That is every core, unless a limit is set: ``threadpool_limits``, the
    ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS`` variables, or a joblib or
    dask worker's own limit, which is what keeps workers from
    oversubscribing the machine. A negative ``n_jobs`` counts back from the
    usable CPUs, as joblib does (``-1``: all of them).
    """
    if n_jobs is None:
        blas = _threadpool_controller().select(user_api="blas").info()
        n_threads = max((lib["num_threads"] for lib in blas), default=cpu_count())
        return max(1, min(n_threads, cpu_count()))
    if not isinstance(n_jobs, Integral) or n_jobs == 0:
        raise ValueError(f"n_jobs={n_jobs!r} must be None or a non-zero integer")
    if n_jobs < 0:
        return max(1, cpu_count() + 1 + n_jobs)
    return int(n_jobs)


@contextlib.contextmanager
def block_threads(n_jobs):
    """Threads for the blocks of a fit, each calling BLAS on one thread.

    Yields ``block_map``, a ``map`` that applies a function to the blocks on
    :func:`effective_n_threads` threads (the built-in ``map`` for one
    thread), and limits BLAS to one thread while the context lasts. NumPy
    releases the GIL in BLAS and in its element-wise loops, so the threads
    run in parallel. A single block runs in the calling thread: handing it
    to a pool thread only adds a wake-up, which waits for a time slice when
    another program holds the other core. The thread count is read once, on
    entering: pass ``block_map`` down rather than entering again inside.
    """
    n_threads = effective_n_threads(n_jobs)
    with one_blas_thread():
        if n_threads == 1:
            yield map
        else:
            with ThreadPoolExecutor(max_workers=n_threads) as executor:
                yield functools.partial(_pool_map, executor)


def _pool_map(executor, fn, blocks):
    """``executor.map(fn, blocks)``, or the call in this thread for one block."""
    blocks = list(blocks)
    if len(blocks) < 2:
        return [fn(block) for block in blocks]
    return executor.map(fn, blocks)
