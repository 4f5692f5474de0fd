"""What a competing process costs plain NumPy work on this machine.

Every benchmark reports its cases idle and "busy", next to one competing
process (``_timing.competing_process``, a busy loop on one core). This one
times no mathlearn code: it measures the same columns for reference work,
so that a busy/idle ratio in another table can be read against what the
machine itself allows.

* **One thread.** A pure Python loop, ``np.sort`` and ``numpy.fft`` run on
  one core; on an ideal machine the spinner on the other core costs them
  nothing. Where two cores share caches, memory bandwidth or a physical
  core (two hyperthreads), they slow down anyway.
* **Two threads, perfectly parallel.** Two threads, each running
  one-thread matrix products with no communication between them: the best
  case of a fit that uses both cores. Next to the spinner, three runnable
  threads share two cores, so the pair gets 4/3 of a core instead of 2 and
  takes at least 1.5 times as long. No code that uses both cores when the
  machine is idle can stay nearer its idle time than this row.
* **OpenBLAS's own threads.** One large product on two BLAS threads, whose
  threads wait for each other at every step.

Run ``python benchmarks/bench_machine.py [--quick]``.
"""

import argparse
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from _timing import measure_idle_and_busy, print_table
from threadpoolctl import threadpool_limits


def _python_loop(n):
    total = 0
    for i in range(n):
        total += i
    return total


def _products(A, count):
    for _ in range(count):
        A @ A


def _cases(quick):
    rng = np.random.default_rng(0)
    scale = 4 if quick else 1
    x = rng.normal(size=5_000_000 // scale)
    signal = rng.normal(size=(16, 2**16 // scale))
    small = rng.normal(size=(800, 800))
    n = 2500 // scale
    large = rng.normal(size=(n, n))
    pool = ThreadPoolExecutor(2)

    def parallel_products():
        list(pool.map(_products, [small, small], [4, 4]))

    return pool, [
        ("pure Python loop", 1, 1, lambda: _python_loop(3_000_000 // scale)),
        (f"np.sort, {x.size:,} floats", 1, 1, lambda: np.sort(x)),
        (f"numpy.fft.fft, 16 x {signal.shape[1]:,}", 1, 1, lambda: np.fft.fft(signal)),
        ("matrix product 800 x 800", 1, 1, lambda: small @ small),
        ("2 threads x 4 products 800 x 800", 2, 1, parallel_products),
        (f"matrix product {n:,} x {n:,}", 1, 2, lambda: large @ large),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs")
    args = parser.parse_args(argv)
    print(f"# {os.cpu_count()} CPUs; idle and next to one competing process")
    pool, cases = _cases(args.quick)
    rows = []
    with pool:
        for work, threads, blas, fn in cases:
            with threadpool_limits(blas, user_api="blas"):
                idle, busy = measure_idle_and_busy(fn, repeat=3)
            rows.append(
                [
                    work,
                    threads * blas,
                    f"{idle.seconds:.3f}",
                    f"{busy.seconds:.3f}",
                    f"{busy.seconds / idle.seconds:.2f}",
                    f"{idle.cpu_seconds / idle.seconds:.2f}",
                ]
            )
    print_table(
        ["work", "threads", "idle s", "busy s", "busy / idle", "CPU / wall idle"],
        rows,
    )
    return rows


if __name__ == "__main__":
    main()
