"""Nadaraya-Watson regression against statsmodels' KernelReg and k-NN.

Each method chooses its smoothing from the training data alone (bandwidth for
the kernel regressions, ``n_neighbors`` by 5-fold grid search for k-NN), then
predicts a held-out test set. Time covers selection + fit + predict, in the
same process on the same data. statsmodels' ``KernelReg(reg_type="lc",
bw="cv_ls")`` is the same local-constant estimator with the least-squares
cross-validated bandwidth (one per feature, optimised jointly); it is run only
where it finishes in reasonable time (see ``--statsmodels-max``). mathlearn's
``loo_cv_per_feature`` does the same per-feature search and runs for several
features up to n = 2,000.

Run ``python benchmarks/bench_kernel_regression.py`` (``--quick`` for a short
run). Prints a Markdown table; ``ratio`` is the method's idle time over
mathlearn's. Every time is measured through ``benchmarks/_timing.py`` twice:
on the machine as it is ("idle") and with one competing busy process
("busy"); the CPU column is the CPU time of the idle call (all threads).
"""

import argparse
import warnings

import numpy as np
from _timing import measure_idle_and_busy, print_table
from sklearn.datasets import load_diabetes
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KNeighborsRegressor
from sklearn.preprocessing import StandardScaler

from mathlearn.kernel_regression import NadarayaWatsonRegressor


def synthetic(n_features, n_train, seed=0, n_test=1000):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n_train + n_test, n_features))
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, -1] ** 2
    if n_features > 1:
        y += X[:, 1] * X[:, 2 % n_features]
    y += 0.3 * rng.normal(size=len(y))
    return X[:n_train], X[n_train:], y[:n_train], y[n_train:]


def diabetes():
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def run_mathlearn(X_train, X_test, y_train):
    return NadarayaWatsonRegressor().fit(X_train, y_train).predict(X_test)


def run_mathlearn_per_feature(X_train, X_test, y_train):
    reg = NadarayaWatsonRegressor(bandwidth="loo_cv_per_feature")
    return reg.fit(X_train, y_train).predict(X_test)


def run_statsmodels(X_train, X_test, y_train):
    from statsmodels.nonparametric.api import KernelReg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = KernelReg(
            y_train,
            X_train,
            var_type="c" * X_train.shape[1],
            reg_type="lc",
            bw="cv_ls",
        )
        return model.fit(X_test)[0]


def run_knn(X_train, X_test, y_train):
    grid = {"n_neighbors": [1, 2, 3, 5, 8, 12, 20, 30, 50]}
    search = GridSearchCV(KNeighborsRegressor(), grid, cv=5).fit(X_train, y_train)
    return search.predict(X_test)


METHODS = {
    "mathlearn NadarayaWatson (loo_cv)": run_mathlearn,
    "mathlearn NadarayaWatson (loo_cv_per_feature)": run_mathlearn_per_feature,
    "statsmodels KernelReg (lc, cv_ls)": run_statsmodels,
    "sklearn KNeighbors (GridSearchCV k)": run_knn,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 500 only")
    parser.add_argument(
        "--statsmodels-max",
        type=float,
        default=5e6,
        help="largest n_train**2 * n_features for which KernelReg runs",
    )
    args = parser.parse_args()
    sizes = [500] if args.quick else [500, 2000, 10000]
    problems = [(f"{d}-D synthetic", n, synthetic(d, n)) for d in (1, 5) for n in sizes]
    problems.append(("diabetes (10-D)", 331, diabetes()))
    limit = 5e5 if args.quick else args.statsmodels_max

    header = [
        "data",
        "n_train",
        "method",
        "test R²",
        "R² − mathlearn",
        "idle (s)",
        "busy (s)",
        "busy / idle",
        "CPU (s)",
        "ratio",
    ]
    rows = []
    for name, n, (X_train, X_test, y_train, y_test) in problems:
        reference = None
        for method, run in METHODS.items():
            cost = n**2 * X_train.shape[1]
            if "per_feature" in method and (X_train.shape[1] == 1 or n > 2000):
                continue
            if method.startswith("statsmodels") and cost > limit:
                rows.append([name, n, method, "skipped (too slow)"] + [""] * 6)
                continue
            idle, busy = measure_idle_and_busy(run, X_train, X_test, y_train)
            r2 = r2_score(y_test, idle.result)
            if reference is None:
                reference = (r2, idle.seconds)
            rows.append(
                [
                    name,
                    n,
                    method,
                    f"{r2:.4f}",
                    f"{r2 - reference[0]:+.4f}",
                    f"{idle.seconds:.2f}",
                    f"{busy.seconds:.2f}",
                    f"{busy.seconds / idle.seconds:.2f}",
                    f"{idle.cpu_seconds:.2f}",
                    f"{idle.seconds / reference[1]:.1f}",
                ]
            )
    print_table(header, rows)


if __name__ == "__main__":
    main()
