"""Matrix completion on a cluster: TraceNormImputer fitted on a dask array on disk.

Issue 21's completion benchmark (``bench_dask.py`` is the SOM's). The script

1. writes a table of ``--n-rows x --n-cols`` float64 (a rank ``--rank``
   matrix plus row and column effects and noise of standard deviation
   ``--noise``; a fraction ``--observed`` of the entries observed, the rest
   NaN) to a zarr store in a temporary directory under ``--dir`` (deleted at
   the end), in tiles of ``--tile`` rows x columns, tile by tile on the
   workers;
2. fits ``TraceNormImputer()`` (the default, its shrinkage chosen on
   held-out entries) in memory on the whole table: the reference of step 3;
3. fits ``TraceNormImputer()`` on ``da.from_zarr`` of the store with
   a ``distributed.LocalCluster`` of ``--n-workers`` worker processes on
   127.0.0.1, one thread each, each limited to ``--memory-limit-gb``; reports
   the time, each worker's resident memory before the fit and its peak
   during it against its limit, and the fit against the in-memory one (the
   same choice and model to round-off) and against the truth on missing
   entries;
4. times one ALS sweep (every row's ridge fit, then every column's: one
   iteration of the solver, as ``fit`` runs it) on the data with 1 worker
   and with 2, ``--repeats`` times each after one untimed, then as many
   next to one competing process (the "busy" column): the throughput
   ratio, target >= 1.6x on 2 cores.

Every section prints ``uptime``: on a machine shared with other work the
times, and the ratio, are only as good as the load allows. The default
(40,000 x 1,500, 480 MB of float64, 6 million observed entries, workers of
0.45 GB) holds more data than one worker may. ``--part scaling`` skips the
dask fit of section 3 (section 4 runs at the in-memory fit's factors, which
section 3 shows it equals), ``--part fit`` skips section 4.
"""

import argparse
import os
import shutil
import tempfile
import time
import warnings

import numpy as np
from _timing import print_table
from bench_dask import (
    add_part_argument,
    local_cluster,
    print_memory,
    uptime,
    worker_memory,
    worker_scaling,
)

from mathlearn.exceptions import EmptyRowWarning
from mathlearn.impute import TraceNormImputer


def _truth_tile(block_info, *, factors, seed):
    """The noiseless table on one tile: low rank plus effects."""
    (r0, r1), (c0, c1) = block_info[None]["array-location"]
    U, V, a, b = factors
    return U[r0:r1] @ V[c0:c1].T + a[r0:r1, None] + b[None, c0:c1]


def _table_tile(block_info=None, *, factors, seed, noise, observed):
    """One tile of the observed table: its own seed, from its position."""
    where = block_info[None]["chunk-location"]
    rng = np.random.default_rng([seed, *where])
    X = _truth_tile(block_info, factors=factors, seed=seed)
    X += noise * rng.standard_normal(X.shape)
    X[rng.random(X.shape) >= observed] = np.nan
    return X


def _factors(args):
    rng = np.random.default_rng(args.seed)
    return (
        rng.standard_normal((args.n_rows, args.rank)),
        rng.standard_normal((args.n_cols, args.rank)),
        0.5 * rng.standard_normal(args.n_rows),
        3.0 + 0.5 * rng.standard_normal(args.n_cols),
    )


def _lazy(args, tile_function, **kwargs):
    import dask.array as da

    tile_rows, tile_cols = (int(side) for side in args.tile.split("x"))
    return da.map_blocks(
        tile_function,
        dtype=np.float64,
        chunks=(
            _sizes(args.n_rows, tile_rows),
            _sizes(args.n_cols, tile_cols),
        ),
        factors=_factors(args),
        seed=args.seed,
        **kwargs,
    )


def _sizes(total, size):
    n_full, rest = divmod(total, size)
    return (size,) * n_full + ((rest,) if rest else ())


def _block_mb(args):
    """Size of the largest block a task reads (whole rows or whole columns)."""
    tile_rows, tile_cols = (int(side) for side in args.tile.split("x"))
    return 8 * max(tile_rows * args.n_cols, args.n_rows * tile_cols) / 1e6


def write_data(args, path):
    import dask.array as da

    X = _lazy(args, _table_tile, noise=args.noise, observed=args.observed)
    print(
        f"\n## 1. Writing {X.nbytes / 1e9:.2f} GB ({args.n_rows:,} x "
        f"{args.n_cols:,}, {args.observed:.0%} observed) to {path}: "
        f"{X.numblocks[0]} x {X.numblocks[1]} tiles of {args.tile}\n"
    )
    print(uptime())
    with local_cluster(args.n_workers, args.memory_limit_gb):
        start = time.perf_counter()
        da.to_zarr(X, path, compressors=None, mode="w")
        print(f"written in {time.perf_counter() - start:.1f} s")


def in_memory_fit(args, path):
    import dask.array as da

    print("\n## 2. In memory, on the whole table\n")
    print(uptime())
    # Read here, by this process's threads: no worker could hold it.
    X = da.from_zarr(path).compute(scheduler="threads")
    start = time.perf_counter()
    estimator = TraceNormImputer(random_state=args.seed).fit(X)
    seconds = time.perf_counter() - start
    print_table(
        ["fit", "alpha_", "rank", "time (s)", "RMSE vs truth, missing entries"],
        [
            [
                "TraceNormImputer() in memory",
                f"{estimator.alpha_:.4g}",
                estimator.n_components_,
                f"{seconds:.1f}",
                f"{_truth_rmse(args, estimator, X):.4f}",
            ]
        ],
    )
    return X, estimator


def _truth_rmse(args, estimator, X, n_rows=2000):
    """RMSE of the completion against the noiseless table, missing entries.

    On the first ``n_rows`` rows (their completion read from the model).
    """
    rows = slice(0, min(n_rows, X.shape[0]))
    truth = _truth_tile(
        {None: {"array-location": [(0, rows.stop), (0, X.shape[1])]}},
        factors=_factors(args),
        seed=args.seed,
    )
    missing = np.isnan(X[rows])
    completion = (
        estimator.row_factors_[rows] @ estimator.column_factors_.T
        + estimator.mean_
        + estimator.row_effects_[rows, None]
        + estimator.column_effects_[None, :]
    )
    return float(np.sqrt(np.mean((completion - truth)[missing] ** 2)))


def out_of_core_fit(args, path, X, reference):
    import dask.array as da

    X_lazy = da.from_zarr(path)
    total = args.n_workers * args.memory_limit_gb
    print(
        f"\n## 3. On {args.n_workers} workers of {args.memory_limit_gb} GB: "
        f"{X_lazy.nbytes / 1e9:.2f} GB ({X_lazy.nbytes / 1e9 / total:.1f}x "
        "the cluster's memory)\n"
    )
    print(uptime())
    params = {"random_state": args.seed}
    with local_cluster(args.n_workers, args.memory_limit_gb) as client:
        client.run(lambda: __import__("mathlearn.impute"))
        before = worker_memory(client)
        start = time.perf_counter()
        estimator = TraceNormImputer(**params).fit(X_lazy)
        seconds = time.perf_counter() - start
        after = worker_memory(client)
    print(uptime())
    Z = estimator.row_factors_ @ estimator.column_factors_.T
    Z_ref = reference.row_factors_ @ reference.column_factors_.T
    difference = np.abs(Z - Z_ref).max() / np.abs(Z_ref).max()
    print(
        f"\nfit: {seconds:.1f} s, alpha_ {estimator.alpha_:.4g} (in memory "
        f"{reference.alpha_:.4g}), rank {estimator.n_components_}, "
        f"{estimator.n_iter_} iterations; RMSE vs truth on missing entries "
        f"{_truth_rmse(args, estimator, X):.4f} (in memory "
        f"{_truth_rmse(args, reference, X):.4f}); max |Z - Z_in_memory| = "
        f"{difference:.2g} x max |Z_in_memory| (target 1e-8)\n"
    )
    print_memory(before, after, args.memory_limit_gb, _block_mb(args), "blocks")


def sweep_throughput(args, path, estimator, X_memory):
    """Section 4: one ridge-ALS iteration at the fitted rank, 1 and 2 workers."""
    import dask.array as da

    from mathlearn.impute import _blocks

    X = da.from_zarr(path)
    print(
        f"\n## 4. One ALS sweep on {X.nbytes / 1e9:.2f} GB "
        f"({args.memory_limit_gb} GB per worker, rank "
        f"{estimator.n_components_})\n"
    )
    als_sweep_scaling(
        args.memory_limit_gb,
        args.repeats,
        lambda: _blocks.EntryBlocks.of(X, np.nan),
        estimator,
        n_obs=int(np.sum(~np.isnan(X_memory))),
    )


def als_sweep_scaling(memory_limit_gb, repeats, make_blocks, estimator, n_obs):
    """Time one ALS sweep of ``estimator``'s fit on 1 worker and on 2.

    ``make_blocks()`` gives the :class:`~mathlearn.impute._blocks.EntryBlocks`
    of the fitted entries, on each cluster. A sweep fits every row against
    the fitted column factors, then every column against those rows, at the
    fitted penalty: one iteration of the solver, as ``fit`` runs it.
    """
    from mathlearn.impute import _blocks

    # The solver's units: X divided by the fit's scale.
    unit = estimator._model.data_scale
    V = estimator.column_factors_ / np.sqrt(unit)
    lam = estimator.alpha_ / unit

    def prepare(client):
        client.run(lambda: __import__("mathlearn.impute"))
        blocks = make_blocks()
        stats = _blocks.entry_stats(blocks, np.nan)
        # The benchmarks' tables have no empty row or column: the model's
        # effects are those of the active rows and columns.
        assert stats.layout.shape == blocks.shape
        source = _blocks.BlockSource(
            blocks, stats.layout, stats.scale(centred=True), stats.n_obs
        )
        return source.residuals(estimator._model.scaling)

    def sweep(residuals):
        A = residuals.ridge_rows(V, lam)
        residuals.ridge_columns(A, lam)

    worker_scaling(
        memory_limit_gb,
        repeats,
        prepare,
        sweep,
        size=(n_obs / 1e6, "M entries/s"),
        what="sweep",
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-rows", type=int, default=40_000)
    parser.add_argument("--n-cols", type=int, default=1_500)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--observed", type=float, default=0.1)
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--tile", default="1000x50", help="rows x columns")
    parser.add_argument("--n-workers", type=int, default=2)
    parser.add_argument("--memory-limit-gb", type=float, default=0.45)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dir", default="/tmp", help="where the zarr store goes")
    parser.add_argument("--seed", type=int, default=0)
    add_part_argument(
        parser,
        "scaling",
        "the out-of-core fit (section 3), the sweep's scaling (section 4), "
        "or both; the in-memory fit runs for either",
    )
    args = parser.parse_args()
    # The scheduler's HTTP server moves to a free port when 8787 is taken.
    warnings.filterwarnings("ignore", message="Port [0-9]+ is already in use")
    warnings.filterwarnings("ignore", category=EmptyRowWarning)
    print(f"# bench_dask_completion: {os.cpu_count()} CPUs, {uptime()}")
    workdir = tempfile.mkdtemp(prefix="mathlearn-bench-completion-", dir=args.dir)
    path = os.path.join(workdir, "table.zarr")
    try:
        write_data(args, path)
        X, reference = in_memory_fit(args, path)
        if args.part != "scaling":
            out_of_core_fit(args, path, X, reference)
        if args.part != "fit":
            # The dask fit equals this one; the sweep runs at its factors.
            sweep_throughput(args, path, reference, X)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"\nremoved {workdir}")


if __name__ == "__main__":
    main()
