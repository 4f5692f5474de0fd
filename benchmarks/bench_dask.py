"""Out of core and on a cluster: a self-organizing map fitted on a dask array on disk.

Issue 21's out-of-core benchmark and its dask scaling target. The script

1. writes a Gaussian mixture of ``--size-gb`` gigabytes (float64,
   ``--n-features`` columns, 10 clusters; with ``--estimator imputer``,
   ``--missing-rate`` of its entries NaN) to a zarr store in a temporary
   directory under ``--dir`` (deleted at the end), chunk by chunk on the
   workers, so that no process ever holds it;
2. fits ``SelfOrganizingMap`` (``algorithm="batch"``), or ``SOMImputer``,
   on ``da.from_zarr`` of
   it with a ``distributed.LocalCluster`` of ``--n-workers`` worker processes
   on 127.0.0.1, one thread each, each limited to ``--memory-limit-gb``
   (default: 6 GB of data, 2 workers of 2 GB). It reports the time, each
   worker's resident memory before the fit and its peak during it
   (``VmHWM``, read in the worker process by ``client.run``) against its
   limit, and whether a worker was restarted (a worker over its limit is);
3. checks the dask fit against the in-memory fit on a subsample (the first
   ``--n-check`` rows, fitted both ways with the same parameters: the same
   map to round-off), and the out-of-core map against the subsample's map
   (for the SOM, the quantization error on the next ``--n-check`` rows,
   held out);
4. times one batch epoch over the whole data set, which does not fit one
   worker, with 1 worker and with 2 (``--epoch-repeats`` epochs each, after
   one untimed, then as many next to one competing process, the "busy"
   column): the throughput ratio, target >= 1.6x on 2 cores. The epoch
   is the one ``fit`` runs (``mathlearn.som._training.train_batch`` with one
   radius, from the codebook of step 2), timed alone: ``fit`` also makes a
   pass for the mean and scale, the initialisation and (the SOM) one for
   the labels.

Every section prints ``uptime``: on a machine shared with other work the
times, and the ratio, are only as good as the load allows.

Run ``python benchmarks/bench_dask.py`` for the full 6 GB run (about 10
minutes and 7 GB of free disk on a quiet 2-core machine), or e.g.
``python benchmarks/bench_dask.py --size-gb 0.5 --memory-limit-gb 1`` for a
short one (which still holds more data than one worker may); ``--part fit
--n-check 20000`` skips the epoch timing and shortens the check.
"""

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import warnings

import numpy as np
from _timing import competing_process, print_table

from mathlearn.impute import SOMImputer
from mathlearn.som import SelfOrganizingMap

_N_CLUSTERS = 10
_ESTIMATORS = {"som": SelfOrganizingMap, "imputer": SOMImputer}


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def mixture_block(block_info=None, *, n_features, centers, seed, missing_rate):
    """Rows of one chunk of the Gaussian mixture; its own seed, from its index."""
    info = block_info[None]
    n_rows = info["chunk-shape"][0]
    rng = np.random.default_rng([seed, info["chunk-location"][0]])
    X = rng.standard_normal((n_rows, n_features))
    X += centers[rng.integers(len(centers), size=n_rows)]
    if missing_rate:
        X[rng.random(X.shape) < missing_rate] = np.nan
    return X


def mixture(n_samples, n_features, chunk_rows, seed, missing_rate=0.0):
    """A lazy dask array of ``n_samples`` rows of the mixture."""
    import dask.array as da

    centers = 4.0 * np.random.default_rng(seed).standard_normal(
        (_N_CLUSTERS, n_features)
    )
    n_full, rest = divmod(n_samples, chunk_rows)
    row_chunks = (chunk_rows,) * n_full + ((rest,) if rest else ())
    return da.map_blocks(
        mixture_block,
        dtype=np.float64,
        chunks=(row_chunks, (n_features,)),
        n_features=n_features,
        centers=centers,
        seed=seed,
        missing_rate=missing_rate,
    )


@contextlib.contextmanager
def local_cluster(n_workers, memory_limit_gb):
    """A client on ``n_workers`` worker processes (one thread, limited memory)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit=f"{memory_limit_gb}GB",
        ) as cluster,
        Client(cluster) as client,
    ):
        # Import mathlearn in every worker before the baseline is read.
        client.run(lambda: __import__("mathlearn.som"))
        yield client


def _memory():
    """This process's id, resident memory and peak resident memory (bytes).

    The peak is the kernel's high-water mark of this process's own memory
    (``VmHWM``). Not ``ru_maxrss``: Linux carries that across ``execve``, so
    a worker spawned from a large client would start from the client's
    peak.
    """
    import psutil

    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    peak = int(fields["VmHWM"].split()[0]) * 1024  # kB
    return os.getpid(), psutil.Process().memory_info().rss, peak


def worker_memory(client):
    """``{worker address: (pid, rss, peak rss)}``."""
    return client.run(_memory)


def print_memory(before, after, limit_gb, chunk_mb, chunk="chunks"):
    """Each worker's resident memory before a fit, its peak during it, its limit.

    ``before`` and ``after`` are :func:`worker_memory`'s; the growth is also
    counted in ``chunk_mb`` units (the data a task reads, called ``chunk``).
    """
    rows = []
    for worker, (pid, rss, _) in sorted(before.items()):
        pid_after, _, peak = after.get(worker, (None, 0, 0))
        rows.append(
            [
                worker,
                f"{rss / 1e6:.0f}",
                f"{peak / 1e6:.0f}",
                f"{(peak - rss) / 1e6 / chunk_mb:.1f}",
                f"{limit_gb * 1e3:.0f}",
                f"{peak / (limit_gb * 1e9):.0%}",
                "no" if pid_after == pid else "YES",
            ]
        )
    print_table(
        [
            "worker",
            "resident before (MB)",
            "peak during fit (MB)",
            f"peak - resident ({chunk})",
            "limit (MB)",
            "peak / limit",
            "restarted",
        ],
        rows,
    )


def write_data(args, path):
    import dask.array as da

    n_samples = int(args.size_gb * 1e9 / (8 * args.n_features))
    chunk_rows = max(1, int(args.chunk_mb * 1e6 / (8 * args.n_features)))
    missing_rate = args.missing_rate if args.estimator == "imputer" else 0.0
    X = mixture(n_samples, args.n_features, chunk_rows, args.seed, missing_rate)
    print(
        f"\n## 1. Writing {X.nbytes / 1e9:.2f} GB ({n_samples:,} x {args.n_features})"
    )
    print(f"to {path}: {X.numblocks[0]} chunks of {chunk_rows:,} rows\n")
    print(uptime())
    with local_cluster(args.n_workers, args.memory_limit_gb):
        start = time.perf_counter()
        da.to_zarr(X, path, compressors=None, mode="w")
        print(f"written in {time.perf_counter() - start:.1f} s")
    return n_samples


def out_of_core_fit(args, path, params):
    import dask.array as da

    X = da.from_zarr(path)
    total = args.n_workers * args.memory_limit_gb
    print(
        f"\n## 2. Out-of-core fit: {X.nbytes / 1e9:.2f} GB on {args.n_workers} "
        f"workers of {args.memory_limit_gb} GB ({X.nbytes / 1e9 / total:.1f}x "
        "the cluster's memory)\n"
    )
    estimator = _ESTIMATORS[args.estimator]
    print(f"{estimator.__name__}({', '.join(f'{k}={v!r}' for k, v in params.items())})")
    print(uptime())
    with local_cluster(args.n_workers, args.memory_limit_gb) as client:
        before = worker_memory(client)
        start = time.perf_counter()
        som = estimator(**params).fit(X)
        seconds = time.perf_counter() - start
        after = worker_memory(client)
        print(uptime())
        _, client_rss, client_peak = _memory()
        print(
            f"\nfit: {seconds:.1f} s ({som.n_iter_} epochs, "
            f"{som.n_rows_} x {som.n_cols_} units); client process: "
            f"resident {client_rss / 1e6:.0f} MB, peak {client_peak / 1e6:.0f} MB\n"
        )
        print_memory(before, after, args.memory_limit_gb, args.chunk_mb)
        check_against_memory(args, path, params, som)
    return som


def to_memory(X):
    """The dask array ``X`` (one chunk of columns) as an ndarray, joined here.

    ``X.compute()`` joins the chunks in one task on a worker, which then
    holds them twice: 320 MB for the default subsample, more than a small
    worker may hold.
    """
    import dask

    return np.concatenate(dask.compute(*X.to_delayed().ravel()))


def check_against_memory(args, path, params, som):
    """Section 3, on the cluster of section 2."""
    import dask.array as da

    estimator = _ESTIMATORS[args.estimator]
    X_all = da.from_zarr(path)
    n = min(args.n_check, X_all.shape[0] // 2)
    X_sub = X_all[:n]
    X_memory = to_memory(X_sub)
    print(f"\n## 3. Against the in-memory fit on the first {n:,} rows\n")
    start = time.perf_counter()
    in_memory = estimator(**params).fit(X_memory)
    memory_seconds = time.perf_counter() - start
    start = time.perf_counter()
    on_dask = estimator(**params).fit(X_sub)
    dask_seconds = time.perf_counter() - start
    spread = np.nanmax(np.abs(X_memory - np.nanmean(X_memory, axis=0)))
    difference = np.abs(on_dask.weights_ - in_memory.weights_).max()
    rows = [
        ["in memory", f"first {n:,} rows", f"{memory_seconds:.2f}"],
        ["dask", f"first {n:,} rows", f"{dask_seconds:.2f}"],
    ]
    if estimator is SOMImputer:
        print_table(["map", "data", "time (s)"], rows)
        print(
            f"\ndask vs in-memory map on the same rows: max |weight difference| = "
            f"{difference:.3g} = {difference / spread:.3g} x the data's spread "
            "(target 1e-8); max |statistics_ difference| = "
            f"{np.abs(on_dask.statistics_ - in_memory.statistics_).max():.3g}"
        )
        return
    X_held_out = to_memory(X_all[n : 2 * n])
    rows.append(["dask, out of core", f"all {X_all.shape[0]:,} rows", "(section 2)"])
    for row, fitted in zip(rows, [in_memory, on_dask, som], strict=True):
        row.append(f"{fitted.quantization_error(X_held_out):.4f}")
    print_table(["map", "data", "time (s)", "quant. error, held-out rows"], rows)
    print(
        f"\ndask vs in-memory map on the same rows: max |weight difference| = "
        f"{difference:.3g} = {difference / spread:.3g} x the data's spread "
        f"(target 1e-8); labels equal: "
        f"{np.array_equal(on_dask.labels_, in_memory.labels_)}"
    )


def computing(task_stream):
    """Seconds the workers spent computing tasks (summed over workers)."""
    return sum(
        span["stop"] - span["start"]
        for task in task_stream
        for span in task["startstops"]
        if span["action"] == "compute"
    )


def epoch_throughput(args, path, codebook, grid):
    """Section 4: ``codebook`` in data units, ``grid`` its ``_training.Grid``.

    "workers computing" is the time the workers spent in tasks over the
    epoch's wall time times their number (median over the repeats): near
    100%, the epoch is parallel and neither the client nor the scheduler is
    a bottleneck, whatever the machine's load does to the time itself.
    """
    import dask.array as da

    from mathlearn.som import _training

    X = da.from_zarr(path)
    print(
        f"\n## 4. One batch epoch on {X.nbytes / 1e9:.2f} GB "
        f"({args.memory_limit_gb} GB per worker, "
        f"{grid.n_rows} x {grid.n_cols} units)\n"
    )

    def prepare(client):
        missing_values = np.nan if args.estimator == "imputer" else None
        data = _training.RowBlocks.of(X, missing_values=missing_values)
        X_c = _training.center_chunked(data)[0]
        return X_c, codebook - X_c.center

    def epoch(state):
        X_c, W = state
        _training.train_batch(X_c, W, grid.sq_dist, [grid.sigma_end], "gaussian")

    worker_scaling(
        args.memory_limit_gb,
        args.epoch_repeats,
        prepare,
        epoch,
        size=(X.nbytes / 1e9, "GB/s"),
        what="epoch",
    )


def worker_scaling(memory_limit_gb, repeats, prepare, run, *, size, what):
    """Time ``run`` on 1 worker and on 2; print the table and the ratio.

    On each cluster, ``state = prepare(client)`` (untimed), then
    ``run(state)`` ``repeats + 1`` times, the first untimed, and ``repeats``
    times more next to one competing process (the "busy" column: a busy
    loop on one of the cores the workers share). ``size`` is ``(amount,
    unit)`` of one run, for the throughput column. "workers computing" is
    the time the workers spent in tasks over the run's wall time times
    their number (median over the idle repeats).
    """
    rows = []
    times = {}
    amount, unit = size
    for n_workers in (1, 2):
        with local_cluster(n_workers, memory_limit_gb) as client:
            state = prepare(client)
            before = worker_memory(client)
            load = uptime()
            run(state)
            idle = _timed_runs(client, run, state, repeats, n_workers)
            with competing_process():
                busy = _timed_runs(client, run, state, repeats, n_workers)
            after = worker_memory(client)
        times[n_workers] = idle, busy
        peak = max(p for _, _, p in after.values())
        restarted = any(
            after.get(w, (None,))[0] != pid for w, (pid, _, _) in before.items()
        )
        seconds, computing_share = idle
        rows.append(
            [
                n_workers,
                f"{min(seconds):.2f}",
                f"{statistics.median(seconds):.2f}",
                f"{amount / min(seconds):.3f}",
                f"{min(busy[0]):.2f}",
                f"{min(busy[0]) / min(seconds):.2f}x",
                f"{statistics.median(computing_share):.0%}",
                f"{peak / 1e6:.0f}",
                "YES" if restarted else "no",
                load,
            ]
        )
    print_table(
        [
            "workers",
            f"{what} min (s)",
            f"{what} median (s)",
            f"{unit} (min)",
            "busy min (s)",
            "busy / idle",
            "workers computing",
            "peak worker RSS (MB)",
            "restarted",
            "uptime before",
        ],
        rows,
    )
    (one, one_busy), (two, two_busy) = times[1], times[2]
    print(
        f"\n2 workers / 1 worker throughput: {min(one[0]) / min(two[0]):.2f}x (min), "
        f"{statistics.median(one[0]) / statistics.median(two[0]):.2f}x (median); "
        f"target >= 1.6x. With one competing process: "
        f"{min(one_busy[0]) / min(two_busy[0]):.2f}x (min)"
    )


def _timed_runs(client, run, state, repeats, n_workers):
    """Wall seconds of ``repeats`` runs, and the workers' computing share."""
    from distributed import get_task_stream

    seconds, share = [], []
    for _ in range(repeats):
        with get_task_stream(client) as stream:
            start = time.perf_counter()
            run(state)
            wall = time.perf_counter() - start
        seconds.append(wall)
        share.append(computing(stream.data) / (n_workers * wall))
    return seconds, share


def add_part_argument(parser, scaling, help):
    """``--part``: everything, ``fit`` (not the workers' scaling) or ``scaling``."""
    parser.add_argument(
        "--part", choices=["all", "fit", scaling], default="all", help=help
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=6.0)
    parser.add_argument("--n-features", type=int, default=50)
    parser.add_argument("--estimator", choices=sorted(_ESTIMATORS), default="som")
    parser.add_argument(
        "--missing-rate", type=float, default=0.1, help="NaN entries (imputer)"
    )
    parser.add_argument("--chunk-mb", type=float, default=64.0)
    parser.add_argument("--n-workers", type=int, default=2)
    parser.add_argument("--memory-limit-gb", type=float, default=2.0)
    parser.add_argument("--map", default="10x10", help="rows x columns of the map")
    parser.add_argument("--n-epochs", type=int, default=5)
    parser.add_argument("--n-check", type=int, default=200_000)
    parser.add_argument("--epoch-repeats", type=int, default=2)
    parser.add_argument("--dir", default="/tmp", help="where the zarr store goes")
    parser.add_argument("--seed", type=int, default=0)
    add_part_argument(
        parser,
        "epoch",
        "sections 1-4, 1-3, or 1 and 4 (from a map of rows of the data)",
    )
    args = parser.parse_args()
    # The scheduler's HTTP server moves to a free port when 8787 is taken.
    warnings.filterwarnings("ignore", message="Port [0-9]+ is already in use")
    n_rows, n_cols = (int(side) for side in args.map.split("x"))
    params = {
        "n_rows": n_rows,
        "n_cols": n_cols,
        "n_epochs": args.n_epochs,
        "random_state": args.seed,
    }
    print(f"# bench_dask: {os.cpu_count()} CPUs, {uptime()}")
    workdir = tempfile.mkdtemp(prefix="mathlearn-bench-dask-", dir=args.dir)
    path = os.path.join(workdir, "mixture.zarr")
    try:
        write_data(args, path)
        if args.part == "epoch":
            import dask.array as da

            grid = _ESTIMATORS[args.estimator](**params)._grid(n_rows, n_cols)
            codebook = np.nan_to_num(da.from_zarr(path)[: n_rows * n_cols].compute())
        else:
            som = out_of_core_fit(args, path, params)
            grid = som._grid(som.n_rows_, som.n_cols_)
            codebook = som.weights_.reshape(n_rows * n_cols, -1)
        if args.part != "fit":
            epoch_throughput(args, path, codebook, grid)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"\nremoved {workdir}")


if __name__ == "__main__":
    main()
