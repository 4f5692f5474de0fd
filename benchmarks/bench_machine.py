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
  threads wait for each other at every step: the product goes at the pace
  of the thread that shares its core with the spinner, up to 2 times as
  long, or nearer 1.5 when the scheduler moves the spinner between them.

Busy is timed next to ``--starts`` competing processes, one after the
other (each the best of its calls), and the table gives the median and
the range of busy / idle over them. Where a process lands, and whether the
scheduler moves it, differs from one start to the next and then holds for
that start's calls: on the 2-core machine of the user guide, the same
product of 20,000 x 1,024 by 1,024 x 256 measured 1.29, 2.08, 1.83, 2.19
and 1.94 times its idle time next to five starts, in one process. One
start per case, as in the other benchmarks' tables, is one draw of that
range.

Run ``python benchmarks/bench_machine.py [--quick] [--starts N]``.
"""

import argparse
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from _timing import competing_process, measure, print_table
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
    # The shape of the dense random projections of bench_random_projection.
    tall = rng.normal(size=(20_000 // scale, 1024))
    narrow = rng.normal(size=(1024, 256))
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
        (
            f"matrix product {tall.shape[0]:,} x 1,024 by 1,024 x 256",
            1,
            2,
            lambda: tall @ narrow,
        ),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs")
    parser.add_argument(
        "--starts", type=int, default=5, help="competing processes, one by one"
    )
    args = parser.parse_args(argv)
    if args.starts < 1:
        parser.error(f"--starts={args.starts} must be at least 1")
    print(f"# {os.cpu_count()} CPUs; idle and next to one competing process")
    pool, cases = _cases(args.quick)
    rows = []
    with pool:
        for work, threads, blas, fn in cases:
            with threadpool_limits(blas, user_api="blas"):
                idle = measure(fn, repeat=3, min_seconds=1.0)
                busy = []
                for _ in range(args.starts):
                    with competing_process():
                        busy.append(measure(fn, repeat=3, min_seconds=1.0).seconds)
            ratios = np.array(busy) / idle.seconds
            rows.append(
                [
                    work,
                    threads * blas,
                    f"{idle.seconds:.3f}",
                    f"{np.median(busy):.3f}",
                    f"{np.median(ratios):.2f}",
                    f"{ratios.min():.2f}-{ratios.max():.2f}",
                    f"{idle.cpu_seconds / idle.seconds:.2f}",
                ]
            )
    header = ["work", "threads", "idle s", "busy s (median)", "busy / idle"]
    header += [f"range over {args.starts} starts", "CPU / wall idle"]
    print_table(header, rows)
    return rows


if __name__ == "__main__":
    main()
