"""Ratings: mathlearn's recommender against the recommender libraries.

Every method sees the same ratings and the same random 80/20 split of them
and is scored by the root-mean-square error of its predictions on the test
ratings (and, for synthetic data, on their known noiseless truth):

* mathlearn ``RatingsRecommender`` with its default completer
  ``TraceNormImputer(random_state=0)``; with the documented fast setting
  ``TraceNormImputer(tol=1e-3, n_shrinkages=10, shrinkage_ratio=1e-2)``; with
  ``TraceNormImputer(shrinkage_power=1, random_state=0)``, the nuclear norm
  alone (on a small table the default also compares power 2); and with
  ``SVDImputer(random_state=0)`` (its defaults: the rank from the data, the
  penalty ``alpha`` chosen on held-out ratings); a test pair whose user or
  item has no training rating gets the fitted effects;
* scikit-surprise ``SVD``, ``SVDpp`` and ``BaselineOnly`` (defaults, seeded);
  a cold pair gets Surprise's own fallback (the global mean plus the known
  biases), and predictions are clipped to the rating scale, as Surprise does;
* fancyimpute ``SoftImpute(max_rank=20)`` on the dense users x items matrix,
  centred by the global training mean first (SoftImpute fills missing
  entries with 0 and has no effects); fancyimpute 0.7's removed
  scikit-learn argument is shimmed as in ``bench_impute.py``;
* Spark MLlib ``ALS`` in local mode (``local[2]``, bound to 127.0.0.1; its
  defaults rank 10, ``maxIter=10``, ``regParam=0.1``); a cold pair, for which
  ALS predicts NaN, gets the global training mean.

Each method runs in a fresh Python process (same data, same split, drawn from
the same seeds), so that its peak memory is its own: "peak RSS" is the
largest resident set size of that process and all its children (Spark's
JVM included) while it fits and predicts, sampled every 0.1 s from /proc;
"before" is the same just before the fit (the interpreter and the data).
"fit s" is the fit alone (for Spark, ``ALS.fit`` on a cached DataFrame),
in wall-clock seconds, and "cpu s" the CPU seconds the process tree used
meanwhile (the JVM's included): on a machine shared with other work the
wall-clock time grows, the CPU time much less.
"busy s" is the same fit with one competing process (a pure-Python busy loop
on one core, :func:`_timing.competing_process`, started before the method's
process and stopped after it): the machine a user has when a browser or a
second notebook is busy next to the fit; "busy / idle" is its ratio to
"fit s". ``--no-busy`` skips that second run (at 25M it doubles a long run).
The ratio column compares each RMSE with the best peer's (the non-mathlearn
rows). Every method's predictions are clipped to the rating scale (0.5 to 5)
before scoring, as Surprise does itself; the 6000x4000 ratings are not
rounded and not clipped.

Data (``--size``):

* ``small`` (default): :func:`mathlearn.datasets.make_ratings` with its
  defaults, the shape and skew of MovieLens latest-small (610 users, 9,724
  items, 100,836 half-star ratings); or, with ``--movielens PATH``, a real
  MovieLens ratings file read by :func:`mathlearn.datasets.load_movielens`;
* ``6000x4000``: the low-noise case of issue 19: 10^6 ratings of a rank-10
  matrix ``U V^T`` with standard normal factors, missing completely at
  random (no skew, no effects), plus noise of standard deviation 0.1, not
  rounded;
* ``25m``: ``make_ratings`` at the shape of MovieLens 25M (162,541 users,
  59,047 items, 25,000,095 ratings); the dense peers and Surprise (whose
  Python data structures for 20 million ratings take longer than its fit)
  are not run there.

Run ``python benchmarks/bench_ratings.py`` (``--size``, ``--movielens PATH``,
``--only NAME ...`` for some methods, ``--timeout S`` per run, ``--no-busy``).
The header describes the data (users, items, ratings, the least, median and
most ratings per user and per item, the mean rating), next to the published
statistics of MovieLens latest-small for the default size. The peers are in
the ``bench`` extra (``pip install ".[bench]"``, then ``pip install --no-deps
fancyimpute``); Spark needs Java 17.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings

import numpy as np
from _timing import competing_process

from mathlearn.datasets import load_movielens, make_ratings

SIZES = ("small", "6000x4000", "25m")
MATHLEARN = (
    "TraceNormImputer",
    "TraceNormImputer fast",
    "TraceNormImputer power 1",
    "SVDImputer",
)
SURPRISE = ("surprise SVD", "surprise SVD++", "surprise BaselineOnly")
METHODS = MATHLEARN + SURPRISE + ("fancy SoftImpute", "Spark ALS")
# Methods that cannot run at a size, and why.
SKIPPED = {
    "25m": {
        "fancy SoftImpute": "needs the dense 162,541 x 59,047 matrix (77 GB)",
        **dict.fromkeys(
            SURPRISE, "its Python trainset of 20 million ratings exceeds the budget"
        ),
    }
}


def _data(size, movielens):
    """Users, items, ratings, truth (or None) and the 80/20 split."""
    if movielens:
        frame = load_movielens(movielens)
        users, items = frame["userId"].to_numpy(), frame["movieId"].to_numpy()
        ratings, truth = frame["rating"].to_numpy(), None
        scale = (0.5, 5.0)
    elif size == "small":
        frame, truth = make_ratings(random_state=0)
        users, items, ratings = (frame[c].to_numpy() for c in frame.columns)
        scale = (0.5, 5.0)
    elif size == "6000x4000":
        frame, truth = make_ratings(
            6000,
            4000,
            1_000_000,
            rank=10,
            noise=0.1,
            low_rank_scale=np.sqrt(10),
            effects_scale=0.0,
            mean=0.0,
            user_skew=0.0,
            item_skew=0.0,
            rating_scale=None,
            random_state=0,
        )
        users, items, ratings = (frame[c].to_numpy() for c in frame.columns)
        scale = None
    else:
        frame, truth = make_ratings(162_541, 59_047, 25_000_095, random_state=0)
        users, items, ratings = (frame[c].to_numpy() for c in frame.columns)
        scale = (0.5, 5.0)
    order = np.random.RandomState(0).permutation(ratings.shape[0])
    n_test = ratings.shape[0] // 5
    test, train = order[:n_test], order[n_test:]
    return users, items, ratings, truth, train, test, scale


# Published statistics of MovieLens latest-small (ratings.csv of September
# 2018): 610 users, 9,724 rated movies, 100,836 half-star ratings of mean
# 3.5016 (sd 1.0425); per user at least 20 ratings, median 70.5, at most
# 2,698; per movie median 3, at most 329.
LATEST_SMALL = {
    "users": 610,
    "items": 9724,
    "ratings": 100_836,
    "per user": (20, 70.5, 2698),
    "per item": (1, 3, 329),
    "mean rating": 3.5016,
}


def _describe(users, items, ratings):
    """Shape and activity skew of ratings, as in :data:`LATEST_SMALL`."""
    per_user = np.unique(users, return_counts=True)[1]
    per_item = np.unique(items, return_counts=True)[1]
    return {
        "users": per_user.shape[0],
        "items": per_item.shape[0],
        "ratings": ratings.shape[0],
        "per user": tuple(np.percentile(per_user, [0, 50, 100])),
        "per item": tuple(np.percentile(per_item, [0, 50, 100])),
        "mean rating": float(ratings.mean()),
    }


def _print_description(description, reference):
    """Print ``description`` (min / median / max counts), next to ``reference``."""

    def cell(value):
        if isinstance(value, tuple):
            return " / ".join(f"{v:g}" for v in value)
        return f"{value:.4f}" if isinstance(value, float) else f"{value:,}"

    title = "min / median / max counts; mean rating"
    print(f"  {title:<40}{'these data':>22}", end="")
    print(f"{'MovieLens latest-small':>26}" if reference else "")
    for key, value in description.items():
        print(f"  {key:<40}{cell(value):>22}", end="")
        print(f"{cell(reference[key]):>26}" if reference else "")


def _rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _tree_rss_mb():
    """Resident memory of this process and all its descendants, in MB."""
    return sum(_rss_mb(pid) for pid in _tree_pids())


def _tree_pids():
    """This process and all its descendants."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    tree, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    return tree


def _tree_cpu_seconds():
    """CPU time (user + system) used so far by the process tree, in seconds."""
    total = 0
    for pid in _tree_pids():
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return total / os.sysconf("SC_CLK_TCK")


class _Timer:
    """Wall-clock and CPU seconds (the process tree's, Spark's JVM included)."""

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), _tree_cpu_seconds()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._wall
        self.cpu = _tree_cpu_seconds() - self._cpu


class _PeakRSS:
    """Samples the process tree's RSS every 0.1 s in a thread; keeps the max."""

    def __enter__(self):
        self.peak = _tree_rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, _tree_rss_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _tree_rss_mb())


def _mathlearn(name, users, items, ratings, train, test, scale):
    from mathlearn.impute import SVDImputer, TraceNormImputer
    from mathlearn.recommend import RatingsRecommender

    completer = {
        "TraceNormImputer": TraceNormImputer(random_state=0),
        # The documented fast setting (see TraceNormImputer's tol).
        "TraceNormImputer fast": TraceNormImputer(
            tol=1e-3, n_shrinkages=10, shrinkage_ratio=1e-2, random_state=0
        ),
        "TraceNormImputer power 1": TraceNormImputer(shrinkage_power=1, random_state=0),
        "SVDImputer": SVDImputer(random_state=0),
    }[name]
    # Only the training pairs are held during the fit (at 25M the whole pair
    # array is 400 MB more of the process's peak).
    X_train = np.column_stack([users[train], items[train]])
    y_train = ratings[train]
    model = RatingsRecommender(completer)
    with _Timer() as timer:
        model.fit(X_train, y_train)
    del X_train, y_train
    note = f"rank {model.completer_.n_components_}"
    return model.predict(np.column_stack([users[test], items[test]])), timer, note


def _surprise(name, users, items, ratings, train, test, scale):
    import pandas as pd
    from surprise import SVD, BaselineOnly, Dataset, Reader, SVDpp

    algo = {
        "surprise SVD": SVD(random_state=0),
        "surprise SVD++": SVDpp(random_state=0),
        "surprise BaselineOnly": BaselineOnly(verbose=False),
    }[name]
    if scale is None:
        scale = (float(ratings[train].min()), float(ratings[train].max()))
    frame = pd.DataFrame(
        {"user": users[train], "item": items[train], "rating": ratings[train]}
    )
    data = Dataset.load_from_df(frame, Reader(rating_scale=scale))
    trainset = data.build_full_trainset()
    with _Timer() as timer:
        algo.fit(trainset)
    predicted = np.array(
        [algo.predict(u, i).est for u, i in zip(users[test], items[test], strict=True)]
    )
    return predicted, timer, ""


def _fancy(name, users, items, ratings, train, test, scale):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_impute import _import_fancyimpute

    fancy = _import_fancyimpute()
    if fancy is None:
        raise ImportError("fancyimpute is not installed")
    user_ids, u = np.unique(users, return_inverse=True)
    item_ids, i = np.unique(items, return_inverse=True)
    mean = ratings[train].mean()
    with _Timer() as timer:
        X = np.full((user_ids.shape[0], item_ids.shape[0]), np.nan)
        X[u[train], i[train]] = ratings[train] - mean
        # Users or items with no training rating are all-NaN, which fancyimpute
        # refuses: they are served the mean, like the other methods' cold pairs.
        observed_rows = ~np.isnan(X).all(axis=1)
        observed_cols = ~np.isnan(X).all(axis=0)
        X_fit = X[np.ix_(observed_rows, observed_cols)]
        filled = fancy["SoftImpute"](max_rank=20, verbose=False).fit_transform(X_fit)
    completed = np.zeros_like(X)
    completed[np.ix_(observed_rows, observed_cols)] = filled
    return completed[u[test], i[test]] + mean, timer, ""


def _spark(name, users, items, ratings, train, test, scale):
    import pandas as pd
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "8g")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    _, u = np.unique(users, return_inverse=True)
    _, i = np.unique(items, return_inverse=True)
    mean = float(ratings[train].mean())
    try:
        with tempfile.TemporaryDirectory() as folder:
            # Through a CSV file: converting a large pandas DataFrame
            # directly goes row by row without pyarrow.
            schema = "user int, item int, rating double, row long"
            for part, rows in [("train", train), ("test", test)]:
                pd.DataFrame(
                    {
                        "user": u[rows],
                        "item": i[rows],
                        "rating": ratings[rows],
                        "row": rows,
                    }
                ).to_csv(f"{folder}/{part}.csv", index=False, header=False)
            train_df = spark.read.csv(f"{folder}/train.csv", schema=schema).cache()
            train_df.count()
            als = ALS(userCol="user", itemCol="item", ratingCol="rating", seed=0)
            with _Timer() as timer:
                model = als.fit(train_df)
            test_df = spark.read.csv(f"{folder}/test.csv", schema=schema)
            predicted = (
                model.transform(test_df)
                .select("row", F.nanvl("prediction", F.lit(mean)).alias("p"))
                .toPandas()
            )
    finally:
        spark.stop()
    by_row = pd.Series(predicted["p"].to_numpy(), index=predicted["row"].to_numpy())
    return by_row.loc[test].to_numpy(), timer, "rank 10, 10 iterations"


def _child(name, size, movielens):
    """Fit one method; print its result as one JSON line."""
    users, items, ratings, truth, train, test, scale = _data(size, movielens)
    run = (
        _mathlearn
        if name in MATHLEARN
        else _surprise
        if name in SURPRISE
        else _fancy
        if name == "fancy SoftImpute"
        else _spark
    )
    before = _tree_rss_mb()
    with warnings.catch_warnings(), _PeakRSS() as peak:
        warnings.simplefilter("ignore")
        predicted, timer, note = run(name, users, items, ratings, train, test, scale)
    if scale is not None:
        predicted = np.clip(predicted, *scale)
    result = {
        "rmse": float(np.sqrt(np.mean((predicted - ratings[test]) ** 2))),
        "rmse_truth": None
        if truth is None
        else float(np.sqrt(np.mean((predicted - truth[test]) ** 2))),
        "seconds": timer.seconds,
        "cpu": timer.cpu,
        "peak": peak.peak,
        "before": before,
        "note": note,
    }
    print("RESULT " + json.dumps(result))


def _run(name, size, movielens, timeout, busy):
    """One method in a fresh process; with ``busy``, next to a competing one."""
    if busy:
        with competing_process():
            return _run(name, size, movielens, timeout, busy=False)
    command = [sys.executable, os.path.abspath(__file__), "--child", name]
    command += ["--size", size]
    if movielens:
        command += ["--movielens", movielens]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    lines = (done.stderr or done.stdout).strip().splitlines()
    return "failed: " + (lines[-1] if lines else f"exit code {done.returncode}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--movielens", help="a MovieLens ratings file or folder")
    parser.add_argument("--only", nargs="+", choices=METHODS, help="some methods")
    parser.add_argument("--timeout", type=float, default=3600.0, help="s per run")
    parser.add_argument(
        "--no-busy",
        action="store_true",
        help="skip the run with one competing process",
    )
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.size, args.movielens)
        return
    users, items, ratings, truth, train, test, _ = _data(args.size, args.movielens)
    source = args.movielens or f"make_ratings, size {args.size}"
    print(
        f"{source}: {np.unique(users).shape[0]} users x {np.unique(items).shape[0]} "
        f"items, {ratings.shape[0]} ratings; random 80/20 split, "
        f"{test.shape[0]} test ratings"
    )
    reference = LATEST_SMALL if args.size == "small" and not args.movielens else None
    _print_description(_describe(users, items, ratings), reference)
    cold = ~np.isin(users[test], users[train]) | ~np.isin(items[test], items[train])
    print(f"{int(cold.sum())} test ratings have a user or item with no training rating")
    del users, items, ratings, truth
    rows, busy = {}, {}
    for name in args.only or METHODS:
        reason = SKIPPED.get(args.size, {}).get(name)
        if reason is not None:
            rows[name] = f"not run: {reason}"
            continue
        print(f"  running {name} ...", flush=True)
        rows[name] = _run(name, args.size, args.movielens, args.timeout, busy=False)
        if not args.no_busy and isinstance(rows[name], dict):
            print(f"  running {name} with one competing process ...", flush=True)
            busy[name] = _run(name, args.size, args.movielens, args.timeout, busy=True)
    peers = [
        r["rmse"] for n, r in rows.items() if n not in MATHLEARN and isinstance(r, dict)
    ]
    best = min(peers) if peers else np.nan
    print()
    print(
        f"  {'method':<26}{'RMSE':>8}{'vs truth':>10}{'/ best peer':>13}"
        f"{'fit s':>9}{'busy s':>9}{'busy / idle':>13}{'cpu s':>9}"
        f"{'peak RSS MB':>13}{'before':>8}  note"
    )
    for name, r in rows.items():
        if not isinstance(r, dict):
            print(f"  {name:<26}{r}")
            continue
        vs_truth = "" if r["rmse_truth"] is None else f"{r['rmse_truth']:.4f}"
        b = busy.get(name)
        busy_s = ratio = ""
        if isinstance(b, dict):
            busy_s, ratio = f"{b['seconds']:.2f}", f"{b['seconds'] / r['seconds']:.2f}"
        elif b is not None:
            busy_s = "-"
        note = r["note"]
        if isinstance(b, str):
            note = f"{note}; busy run {b}" if note else f"busy run {b}"
        print(
            f"  {name:<26}{r['rmse']:>8.4f}{vs_truth:>10}{r['rmse'] / best:>13.3f}"
            f"{r['seconds']:>9.2f}{busy_s:>9}{ratio:>13}{r['cpu']:>9.2f}"
            f"{r['peak']:>13.0f}{r['before']:>8.0f}  {note}"
        )


if __name__ == "__main__":
    main()
