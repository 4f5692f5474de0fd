"""mathlearn.fourier against numpy.fft, scipy.fft and pyFFTW, in one process.

Every library transforms the same complex128 data; the table gives the best
wall time of a few runs (``_timing.measure``: ``--repeat`` runs, more up to
half a second for fast cases, after one warm-up run, so that
every library's plan or twiddle cache is built) and the ratio to numpy.fft,
then mathlearn's and numpy's times with one competing process ("busy"). Run
with one BLAS thread for a fair single-core comparison::

    OMP_NUM_THREADS=1 python benchmarks/bench_fourier.py [--quick]

Targets (issue 9): within 3x of numpy.fft for powers of two at N >= 2**16 and
for the batched cases, within 6x for Bluestein lengths (primes).
"""

import argparse

import numpy as np
import scipy.fft
from _timing import competing_process, measure, print_table

from mathlearn import fourier

try:
    import pyfftw
    import pyfftw.builders
except ImportError:
    pyfftw = None

# (name, shape, transform, target ratio to numpy or None)
CASES = [
    ("N = 2^10", (2**10,), "fft", None),
    ("N = 2^16", (2**16,), "fft", 3.0),
    ("N = 2^20", (2**20,), "fft", 3.0),
    ("N = 2^22", (2**22,), "fft", 3.0),
    ("N = 65,537 (prime)", (65_537,), "fft", 6.0),
    ("N = 1,000,003 (prime)", (1_000_003,), "fft", 6.0),
    ("N = 3 * 2^18", (3 * 2**18,), "fft", None),
    ("batched 256 x 4,096", (256, 4096), "fft", 3.0),
    ("2-D 1,024 x 1,024", (1024, 1024), "fft2", 3.0),
    ("rfft N = 2^20", (2**20,), "rfft", None),
    ("dft N = 1,024", (1024,), "dft", None),
    ("dft N = 4,096", (4096,), "dft", None),
]
# Libraries timed again with one competing process.
BUSY = ("mathlearn", "numpy")
QUICK = {"N = 2^10", "N = 2^16", "N = 65,537 (prime)", "batched 256 x 4,096"}


def _best_time(func, repeat):
    func()
    return measure(func, repeat=repeat, min_seconds=0.5).seconds


def _peers(kind, x):
    """Callables computing the same transform with each library."""
    numpy_name = "fft" if kind == "dft" else kind
    peers = {
        "mathlearn": lambda: getattr(fourier, kind)(x),
        "numpy": lambda: getattr(np.fft, numpy_name)(x),
        "scipy": lambda: getattr(scipy.fft, numpy_name)(x),
    }
    if pyfftw is not None:
        builder = getattr(pyfftw.builders, numpy_name)
        plan = builder(
            x.copy(), threads=1, planner_effort="FFTW_ESTIMATE", avoid_copy=False
        )
        peers["pyfftw"] = lambda: plan(x)
    return peers


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case")
    args = parser.parse_args(argv)
    repeat = 2 if args.quick else args.repeat
    rng = np.random.default_rng(0)
    libraries = ["mathlearn", "numpy", "scipy"] + (["pyfftw"] if pyfftw else [])
    header = ["case"] + [f"{lib} (ms)" for lib in libraries]
    header += [f"{lib} / numpy" for lib in libraries if lib != "numpy"]
    header += [f"{lib} busy (ms)" for lib in BUSY] + ["target", "max rel. error"]
    rows = []
    for name, shape, kind, target in CASES:
        if args.quick and name not in QUICK:
            continue
        x = rng.standard_normal(shape)
        if kind != "rfft":
            x = x + 1j * rng.standard_normal(shape)
        peers = _peers(kind, x)
        times = {lib: _best_time(peers[lib], repeat) for lib in libraries}
        with competing_process():
            busy = {lib: _best_time(peers[lib], repeat) for lib in BUSY}
        reference = peers["numpy"]()
        error = np.max(np.abs(peers["mathlearn"]() - reference)) / np.max(
            np.abs(reference)
        )
        row = [name] + [f"{1e3 * times[lib]:.2f}" for lib in libraries]
        row += [
            f"{times[lib] / times['numpy']:.2f}" for lib in libraries if lib != "numpy"
        ]
        row += [f"{1e3 * busy[lib]:.2f}" for lib in BUSY]
        row += ["-" if target is None else f"<= {target:g}", f"{error:.1e}"]
        rows.append(row)
    print_table(header, rows)


if __name__ == "__main__":
    main()
