"""Self-organizing maps and SOM imputation against their peer libraries.

Part 1 trains maps of 10 x 10 and 30 x 30 units on Gaussian mixtures
(10,000 x 50 and 100,000 x 20) and on the digits, with the same data, the same
initial weights (the plane of the first two principal components, from
scikit-learn's PCA) and the same number of sample presentations
(``n_epochs * n_samples``) for every library:

* mathlearn ``SelfOrganizingMap``, ``algorithm="batch"`` and ``"online"``;
* MiniSom ``train_batch`` (samples in order) and ``train_random``;
* sklearn-som ``SOM.fit``;
* somoclu, if it is installed (it often fails to build).

Quantization and topographic errors are computed for every map by one
function of this script (topographic error: the two best units are not among
the 8 cells around each other). The radii differ by library: mathlearn decays
from ``max(n_rows, n_cols) / 2`` to its default ``sigma_end`` (0.8); MiniSom is
given ``sigma=3``, which its asymptotic decay brings to 1 at the end;
sklearn-som keeps ``sigma=1``.

Part 2 fills 20% and 50% of the entries, missing at random, of the digits,
wine, breast-cancer and diabetes data (standardised) with ``SOMImputer``,
``KNNImputer``, ``IterativeImputer`` and ``SimpleImputer``, and reports the
RMSE on the missing entries and the times.

Every time is measured twice through ``benchmarks/_timing.py``: on the
machine as it is ("idle") and with one competing busy process ("busy"); the
CPU column is the CPU time of the idle call (all threads).

Run ``python benchmarks/bench_som.py`` (``--quick`` for a short run).
"""

import argparse
import warnings

import numpy as np
from _timing import measure_idle_and_busy, print_table
from scipy.spatial.distance import cdist
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_wine,
    make_blobs,
)
from sklearn.decomposition import PCA
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.preprocessing import StandardScaler

from mathlearn.impute import SOMImputer
from mathlearn.som import SelfOrganizingMap
from mathlearn.som._tour import remove_at_random, rmse_on_missing, standardised


def map_errors(W, X, chunk=2000):
    """Quantization and topographic error of weights ``(n_rows, n_cols, p)``.

    The one measure applied to every library's map.
    """
    n_rows, n_cols, n_features = W.shape
    flat = W.reshape(-1, n_features)
    first, second, best = [], [], []
    for start in range(0, X.shape[0], chunk):
        D = cdist(X[start : start + chunk], flat)
        order = np.argsort(D, axis=1)[:, :2]
        first.append(order[:, 0])
        second.append(order[:, 1])
        best.append(np.take_along_axis(D, order[:, :1], axis=1)[:, 0])
    first, second = np.concatenate(first), np.concatenate(second)
    (r1, c1), (r2, c2) = np.divmod(first, n_cols), np.divmod(second, n_cols)
    touching = (np.abs(r1 - r2) <= 1) & (np.abs(c1 - c2) <= 1)
    return float(np.concatenate(best).mean()), float(1.0 - touching.mean())


def pca_weights(X, n_rows, n_cols):
    """Grid on the plane of the first two principal components, +-1 std."""
    pca = PCA(n_components=2).fit(X)
    a = np.linspace(-1, 1, n_rows)[:, None, None] if n_rows > 1 else np.zeros((1, 1, 1))
    b = np.linspace(-1, 1, n_cols)[None, :, None] if n_cols > 1 else np.zeros((1, 1, 1))
    axes = pca.components_ * np.sqrt(pca.explained_variance_)[:, None]
    return pca.mean_ + a * axes[0] + b * axes[1]


def _timed(func):
    """``(result, (idle, busy))``: the result and its two Measurements."""
    idle, busy = measure_idle_and_busy(func)
    return idle.result, (idle, busy)


def train_runs(X, n_rows, n_cols, n_epochs, max_online, seed):
    """Yield (library, algorithm, (idle, busy), weights) for every peer."""
    W0 = pca_weights(X, n_rows, n_cols)
    n_presentations = n_epochs * X.shape[0]
    for algorithm in ["batch", "online"]:
        if algorithm == "online" and n_presentations > max_online:
            yield "mathlearn", algorithm, None, None
            continue
        som, times = _timed(
            lambda algorithm=algorithm: SelfOrganizingMap(
                n_rows=n_rows,
                n_cols=n_cols,
                n_epochs=n_epochs,
                algorithm=algorithm,
                init=W0,
                random_state=seed,
            ).fit(X)
        )
        yield "mathlearn", algorithm, times, som.weights_
    try:
        from minisom import MiniSom
    except ImportError:
        MiniSom = None
    for method in ["train_batch", "train_random"]:
        if MiniSom is None or n_presentations > max_online:
            yield "MiniSom", method, None, None
            continue
        ref = MiniSom(
            n_rows, n_cols, X.shape[1], sigma=3.0, learning_rate=0.5, random_seed=seed
        )

        def train(ref=ref, m=method):
            ref._weights = W0.copy()
            getattr(ref, m)(X, n_presentations)
            return ref.get_weights()

        W, times = _timed(train)
        yield "MiniSom", method, times, W
    try:
        from sklearn_som.som import SOM
    except ImportError:
        SOM = None
    # sklearn-som rebuilds stacked copies of the codebook at every step: about
    # ten times slower than MiniSom, so it gets a fifth of the budget.
    if SOM is None or n_presentations > max_online // 5:
        yield "sklearn-som", "fit", None, None
    else:
        ref = SOM(
            m=n_rows,
            n=n_cols,
            dim=X.shape[1],
            sigma=1.0,
            max_iter=n_presentations,
            random_state=seed,
        )

        def train(ref=ref):
            ref.weights = W0.reshape(-1, X.shape[1]).copy()
            ref.fit(X, epochs=n_epochs)
            return ref.weights.reshape(W0.shape)

        W, times = _timed(train)
        yield "sklearn-som", "fit", times, W
    try:
        import somoclu
    except ImportError:
        yield "somoclu", "not installed", None, None
    else:

        def train():
            ref = somoclu.Somoclu(n_cols, n_rows, initialcodebook=W0.astype(np.float32))
            ref.train(X.astype(np.float32), epochs=n_epochs)
            return ref.codebook.astype(np.float64)

        W, times = _timed(train)
        yield "somoclu", "batch", times, W


def bench_training(quick, seed, max_online):
    rng = np.random.RandomState(seed)
    if quick:
        cases = [("mixture 5,000 x 50", 5000, 50), ("digits", None, None)]
        maps, n_epochs, max_online = [(10, 10)], 4, min(max_online, 20_000)
    else:
        cases = [
            ("mixture 10,000 x 50", 10_000, 50),
            ("mixture 100,000 x 20", 100_000, 20),
            ("digits", None, None),
        ]
        maps, n_epochs = [(10, 10), (30, 30)], 10
    print("## Training (same data, same initial weights, same presentations)\n")
    header = [
        "data",
        "map",
        "library",
        "algorithm",
        "presentations",
        "idle (s)",
        "busy (s)",
        "busy / idle",
        "CPU (s)",
        "quant. error",
        "topo. error",
        "idle / mathlearn batch",
        "QE / mathlearn batch",
    ]
    rows = []
    for name, n_samples, n_features in cases:
        if n_samples is None:
            X = load_digits().data
        else:
            X, _ = make_blobs(
                n_samples, n_features, centers=10, cluster_std=2.0, random_state=rng
            )
        X = StandardScaler().fit_transform(X)
        for n_rows, n_cols in maps:
            reference = None
            for library, algorithm, times, W in train_runs(
                X, n_rows, n_cols, n_epochs, max_online, seed
            ):
                cells = [name, f"{n_rows} x {n_cols}", library, algorithm]
                cells.append(f"{n_epochs * X.shape[0]:,}")
                if W is None:
                    rows.append(cells + ["skipped"] + [""] * 7)
                    continue
                idle, busy = times
                qe, te = map_errors(W, X)
                if reference is None:
                    reference = (idle.seconds, qe)
                rows.append(
                    cells
                    + [
                        f"{idle.seconds:.2f}",
                        f"{busy.seconds:.2f}",
                        f"{busy.seconds / idle.seconds:.2f}",
                        f"{idle.cpu_seconds:.2f}",
                        f"{qe:.4f}",
                        f"{te:.3f}",
                        f"{idle.seconds / reference[0]:.1f}",
                        f"{qe / reference[1]:.3f}",
                    ]
                )
    print_table(header, rows)


def bench_imputation(quick, seed):
    datasets = [
        ("digits", load_digits),
        ("wine", load_wine),
        ("breast cancer", load_breast_cancer),
        ("diabetes", load_diabetes),
    ]
    rates = [0.2] if quick else [0.2, 0.5]
    imputers = {
        "SOMImputer": lambda: SOMImputer(random_state=seed),
        "KNNImputer": KNNImputer,
        "IterativeImputer": lambda: IterativeImputer(random_state=seed),
        "SimpleImputer": SimpleImputer,
    }
    print("\n## Imputation (RMSE on the missing entries, standardised data)\n")
    header = [
        "data",
        "missing",
        "imputer",
        "RMSE",
        "fit idle (s)",
        "fit busy (s)",
        "transform idle (s)",
        "transform busy (s)",
        "RMSE / KNN",
        "transform idle / KNN",
    ]
    table = []
    rng = np.random.RandomState(seed)
    for name, load in datasets:
        X = standardised(load)
        for rate in rates:
            X_missing, missing = remove_at_random(X, rate, rng)
            rows = []
            for label, make in imputers.items():
                imputer = make()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    _, fit = _timed(lambda i=imputer, Z=X_missing: i.fit(Z))
                    X_filled, transform = _timed(
                        lambda i=imputer, Z=X_missing: i.transform(Z)
                    )
                rmse = rmse_on_missing(X_filled, X, missing)
                rows.append((label, rmse, fit, transform))
            knn = {label: (rmse, t) for label, rmse, _, t in rows}["KNNImputer"]
            for label, rmse, fit, transform in rows:
                table.append(
                    [
                        name,
                        f"{rate:.0%}",
                        label,
                        f"{rmse:.4f}",
                        f"{fit[0].seconds:.3f}",
                        f"{fit[1].seconds:.3f}",
                        f"{transform[0].seconds:.3f}",
                        f"{transform[1].seconds:.3f}",
                        f"{rmse / knn[0]:.3f}",
                        f"{transform[0].seconds / knn[1][0].seconds:.2f}",
                    ]
                )
    print_table(header, table)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-online",
        type=int,
        default=1_000_000,
        help="skip one-sample-at-a-time training above this many presentations",
    )
    parser.add_argument(
        "--part", choices=["all", "training", "imputation"], default="all"
    )
    args = parser.parse_args()
    if args.part in ("all", "training"):
        bench_training(args.quick, args.seed, args.max_online)
    if args.part in ("all", "imputation"):
        bench_imputation(args.quick, args.seed)


if __name__ == "__main__":
    main()
