"""Ratings on a cluster: RatingsRecommender fitted on a dask DataFrame of parquet.

Issue 21's out-of-core completion. The script

1. writes ``--n-ratings`` synthetic ratings to parquet under ``--dir`` (in
   a temporary directory, deleted at the end), ``--partition-ratings`` to a
   file, each file made on a worker: users x items with MovieLens-like skew
   (log-normal activity and popularity), the true rating ``3.5 + a_u + b_i +
   0.4 u . v / sqrt(rank)`` plus noise of 0.8, rounded to halves in
   [0.5, 5]; a pair may be drawn twice (the fit takes its mean). Beside
   them, ``--n-test`` fresh pairs with their true ratings;
2. checks the cluster's fit against the in-memory fit on the first
   ``--check-ratings`` ratings (a subsample that fits in this process): the
   same ids, rated pairs and predictions to round-off (target 1e-8);
3. fits ``RatingsRecommender(completer)`` on ``dd.read_parquet`` of all the
   files, with a ``distributed.LocalCluster`` of ``--n-workers`` worker
   processes on 127.0.0.1, one thread each, each limited to
   ``--memory-limit-gb``: the time, each worker's resident memory before
   the fit and its peak during it against its limit, and the RMSE of the
   predictions against the true ratings of the test pairs;
4. times one ALS sweep (as in ``bench_dask_completion.py``) on the blocks of
   the first ``--scaling-ratings`` ratings with 1 worker and with 2, at the
   factors of their in-memory fit, idle and next to one competing process:
   the throughput ratio, target >= 1.6x on 2 cores.

The completer is ``TraceNormImputer(alpha=--alpha, n_components=--rank-cap,
random_state=0)``: one shrinkage, as a user at this scale fits after choosing
it on a subsample (the default's path of shrinkages makes a few hundred
passes over the ratings; each pass reads every rating). Every section prints
``uptime``: on a machine shared with other work the times are only as good as
the load allows.
"""

import argparse
import os
import shutil
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
from _timing import print_table
from bench_dask import (
    add_part_argument,
    local_cluster,
    print_memory,
    uptime,
    worker_memory,
)
from bench_dask_completion import als_sweep_scaling

from mathlearn.impute import TraceNormImputer
from mathlearn.recommend import RatingsRecommender

_MEAN, _NOISE, _LOW_RANK, _EFFECTS = 3.5, 0.8, 0.4, 0.4


def _items(args):
    """Every item's effect, factor and popularity (shared by all the files)."""
    rng = np.random.default_rng([args.seed, 1])
    popularity = rng.lognormal(0.0, 1.9, args.n_items)
    return (
        _EFFECTS * rng.standard_normal(args.n_items),
        rng.standard_normal((args.n_items, args.rank)),
        np.cumsum(popularity) / popularity.sum(),
    )


def _user_range(args, part):
    per_part = -(-args.n_users // _n_parts(args))
    return part * per_part, min((part + 1) * per_part, args.n_users)


def _users(args, part):
    """The effects and factors of one file's users (their own seed)."""
    start, stop = _user_range(args, part)
    rng = np.random.default_rng([args.seed, 2, part])
    return (
        _EFFECTS * rng.standard_normal(stop - start),
        rng.standard_normal((stop - start, args.rank)),
    )


def _truth(args, part, users, items, item_model):
    a, U = _users(args, part)
    b, V, _ = item_model
    start, _ = _user_range(args, part)
    u = users - start
    low_rank = np.einsum("ij,ij->i", U[u], V[items]) / np.sqrt(args.rank)
    return _MEAN + a[u] + b[items] + _LOW_RANK * low_rank


def _pairs(args, part, n, rng, item_model):
    """``n`` (user, item) pairs of one file's users, skewed like MovieLens."""
    start, stop = _user_range(args, part)
    activity = rng.lognormal(0.0, 1.3, stop - start)
    users = start + np.searchsorted(
        np.cumsum(activity) / activity.sum(), rng.random(n), side="right"
    )
    items = np.searchsorted(item_model[2], rng.random(n), side="right")
    return np.minimum(users, stop - 1), np.minimum(items, args.n_items - 1)


def _ratings_file(part, args):
    rng = np.random.default_rng([args.seed, 3, part])
    item_model = _items(args)
    n = min(args.partition_ratings, args.n_ratings - part * args.partition_ratings)
    users, items = _pairs(args, part, n, rng, item_model)
    truth = _truth(args, part, users, items, item_model)
    noisy = truth + _NOISE * rng.standard_normal(n)
    return pd.DataFrame(
        {
            "user": users.astype(np.int32),
            "item": items.astype(np.int32),
            "rating": np.clip(np.round(2 * noisy) / 2, 0.5, 5.0).astype(np.float32),
        }
    )


def _test_pairs(args):
    """Fresh pairs of every file's users, with their true ratings."""
    item_model = _items(args)
    frames = []
    per_part = -(-args.n_test // _n_parts(args))
    for part in range(_n_parts(args)):
        rng = np.random.default_rng([args.seed, 4, part])
        users, items = _pairs(args, part, per_part, rng, item_model)
        frames.append(
            pd.DataFrame(
                {
                    "user": users,
                    "item": items,
                    "truth": _truth(args, part, users, items, item_model),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _n_parts(args):
    return -(-args.n_ratings // args.partition_ratings)


def write_data(args, path):
    import dask.dataframe as dd

    n_parts = _n_parts(args)
    print(
        f"\n## 1. Writing {args.n_ratings:,} ratings ({args.n_users:,} users x "
        f"{args.n_items:,} items, rank {args.rank}) to {path}: {n_parts} files "
        f"of {args.partition_ratings:,}\n"
    )
    print(uptime())
    meta = pd.DataFrame(
        {
            "user": pd.Series(dtype=np.int32),
            "item": pd.Series(dtype=np.int32),
            "rating": pd.Series(dtype=np.float32),
        }
    )
    frame = dd.from_map(_ratings_file, range(n_parts), args=(args,), meta=meta)
    with local_cluster(args.n_workers, args.memory_limit_gb):
        start = time.perf_counter()
        frame.to_parquet(path, write_index=False)
        seconds = time.perf_counter() - start
    size = sum(os.path.getsize(os.path.join(path, name)) for name in os.listdir(path))
    print(f"written in {seconds:.1f} s: {size / 1e9:.2f} GB on disk")


def _completer(args):
    return TraceNormImputer(
        alpha=args.alpha, n_components=args.rank_cap, random_state=0
    )


def _fit(frame, args):
    recommender = RatingsRecommender(_completer(args))
    start = time.perf_counter()
    recommender.fit(frame[["user", "item"]], frame["rating"])
    return recommender, time.perf_counter() - start


def check_against_memory(args, path):
    import dask.dataframe as dd

    files = sorted(os.listdir(path))
    n_files = max(1, args.check_ratings // args.partition_ratings)
    paths = [os.path.join(path, name) for name in files[:n_files]]
    print(
        f"\n## 2. The first {n_files} files ({n_files * args.partition_ratings:,} "
        "ratings): on the cluster and in memory\n"
    )
    print(uptime())
    ratings = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    in_memory, memory_seconds = _fit(ratings, args)
    with local_cluster(args.n_workers, args.memory_limit_gb):
        on_cluster, cluster_seconds = _fit(dd.read_parquet(paths), args)
    ids = ratings[["user", "item"]]
    expected = in_memory.predict(ids).astype(np.float64)
    found = on_cluster.predict(ids).astype(np.float64)
    difference = np.abs(found - expected).max() / np.abs(expected).max()
    same_pairs = (on_cluster._rated != in_memory._rated).nnz == 0
    print_table(
        ["fit", "time (s)", "rank", "iterations"],
        [
            [
                "in memory",
                f"{memory_seconds:.1f}",
                in_memory.completer_.n_components_,
                in_memory.completer_.n_iter_,
            ],
            [
                f"{args.n_workers} workers",
                f"{cluster_seconds:.1f}",
                on_cluster.completer_.n_components_,
                on_cluster.completer_.n_iter_,
            ],
        ],
    )
    print(
        f"\nsame ids and rated pairs: {same_pairs}; max |prediction difference| = "
        f"{difference:.2g} x max |prediction| (target 1e-8; the predictions are "
        "float32, whose rounding is 6e-8)"
    )


def out_of_core_fit(args, path, test):
    import dask.dataframe as dd

    frame = dd.read_parquet(path)
    print(
        f"\n## 3. All {args.n_ratings:,} ratings ({frame.npartitions} partitions) "
        f"on {args.n_workers} workers of {args.memory_limit_gb} GB\n"
    )
    print(uptime())
    with local_cluster(args.n_workers, args.memory_limit_gb) as client:
        client.run(lambda: __import__("mathlearn.recommend"))
        before = worker_memory(client)
        recommender, seconds = _fit(frame, args)
        after = worker_memory(client)
    print(uptime())
    predicted = recommender.predict(test[["user", "item"]]).astype(np.float64)
    rmse = float(np.sqrt(np.mean((predicted - test["truth"].to_numpy()) ** 2)))
    c = recommender.completer_
    print(
        f"\nfit: {seconds:.1f} s ({seconds / 60:.1f} min), rank "
        f"{c.n_components_}, {c.n_iter_} iterations; {len(recommender.user_ids_):,} "
        f"users x {len(recommender.item_ids_):,} items, "
        f"{recommender._rated.nnz:,} rated pairs; RMSE against the true ratings of "
        f"{len(test):,} fresh pairs {rmse:.4f} (the noise of a rating: {_NOISE})\n"
    )
    block_mb = 16 * args.partition_ratings / 1e6
    print_memory(before, after, args.memory_limit_gb, block_mb, "blocks")


def sweep_scaling(args, path):
    """Section 4: one ALS sweep on the first ``--scaling-ratings``, 1 and 2 workers."""
    import dask.dataframe as dd

    from mathlearn.recommend._dask import rating_blocks

    n_files = max(1, args.scaling_ratings // args.partition_ratings)
    paths = [os.path.join(path, name) for name in sorted(os.listdir(path))[:n_files]]
    print(
        f"\n## 4. One ALS sweep on the first {n_files} files "
        f"({n_files * args.partition_ratings:,} ratings), {args.memory_limit_gb} GB "
        "per worker\n"
    )
    ratings = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    recommender, seconds = _fit(ratings, args)
    print(f"in-memory fit for the factors: {seconds:.1f} s\n")
    del ratings
    frame = dd.read_parquet(paths)

    def blocks():
        return rating_blocks(frame[["user", "item"]], frame["rating"])[0]

    als_sweep_scaling(
        args.memory_limit_gb,
        args.repeats,
        blocks,
        recommender.completer_,
        n_obs=recommender._rated.nnz,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-ratings", type=int, default=200_000_000)
    parser.add_argument("--n-users", type=int, default=1_000_000)
    parser.add_argument("--n-items", type=int, default=50_000)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--partition-ratings", type=int, default=4_000_000)
    parser.add_argument("--n-test", type=int, default=200_000)
    parser.add_argument("--check-ratings", type=int, default=4_000_000)
    parser.add_argument("--alpha", type=float, default=50.0)
    parser.add_argument("--rank-cap", type=int, default=10)
    parser.add_argument("--n-workers", type=int, default=2)
    parser.add_argument("--memory-limit-gb", type=float, default=3.0)
    parser.add_argument("--dir", default="/tmp", help="where the parquet files go")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scaling-ratings", type=int, default=20_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    add_part_argument(
        parser,
        "scaling",
        "the out-of-core fit (sections 2 and 3), the sweep's scaling "
        "(section 4), or both",
    )
    parser.add_argument("--skip-check", action="store_true")
    args = parser.parse_args()
    # The scheduler's HTTP server moves to a free port when 8787 is taken.
    warnings.filterwarnings("ignore", message="Port [0-9]+ is already in use")
    print(f"# bench_dask_ratings: {os.cpu_count()} CPUs, {uptime()}")
    workdir = tempfile.mkdtemp(prefix="mathlearn-bench-ratings-", dir=args.dir)
    path = os.path.join(workdir, "ratings")
    try:
        write_data(args, path)
        if args.part != "scaling":
            if not args.skip_check:
                check_against_memory(args, path)
            out_of_core_fit(args, path, _test_pairs(args))
        if args.part != "fit":
            sweep_scaling(args, path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"\nremoved {workdir}")


if __name__ == "__main__":
    main()
