"""Matrix completion: mathlearn's completers against their peer libraries.

Every method sees the same matrices with the same missing entries, in the
same process, and is scored by the root-mean-square error on the entries that
were removed (their true values are known), averaged over three missing
masks per dataset (one with ``--quick``):

* mathlearn ``TraceNormImputer`` (``alpha="auto"``) and ``SVDImputer``,
  the low-rank completers, and ``SOMImputer`` (defaults; not on the large
  cases), a self-organizing map's prototypes, for the datasets that are
  clusters rather than a subspace; the ratio column compares each with the
  best of the other libraries' methods;
* fancyimpute 0.7 ``SoftImpute`` and ``IterativeSVD`` (installed with
  ``pip install --no-deps fancyimpute`` plus cvxpy, six and knnimpute).
  fancyimpute calls ``check_array(..., force_all_finite=...)``, an argument
  scikit-learn 1.8 removed; this script shims that one call (renaming it to
  ``ensure_all_finite``) instead of pinning an old scikit-learn, and says so;
* scikit-learn's ``SimpleImputer``, ``KNNImputer`` and ``IterativeImputer``.

Data: the race-times matrix (1,000 athletes x 20 races, speeds from a rank-1
ability x difficulty model with inverse-Gaussian noise) with 8% and 92%
missing; the digits, wine, breast-cancer and diabetes data with 20% and 50%
missing at random and a missing-not-at-random pattern (values above their
column's median are hidden with probability 0.6); a synthetic rank-10
matrix of 1,000 x 200 plus noise with half its entries missing, where every
peer runs; and, with ``--large``,
synthetic rank-10 matrices of 6,000 x 4,000 with 10^6 observed entries
(peers that need the dense matrix are run; KNN and IterativeImputer are
skipped as too slow) and 50,000 x 20,000 with 5 x 10^6 observed entries,
given to mathlearn as a sparse matrix of the observed entries (the dense
float64 matrix alone would take 8 GB, so the peers cannot run).

The real data are standardised *after* the entries are hidden, with the mean
and standard deviation of each column's observed entries, as a user would
(the same data for every method; RMSE is in these units). Standardising with
the statistics of the complete data would hand every method that fills
towards 0 the true column means -- information a user does not have, and the
more so under MNAR, where the observed means are biased.

Times and memory come from ``benchmarks/_timing.py``: the wall-clock time
of the fit, untraced, and the peak of the memory allocated through Python and
NumPy during one more fit under ``tracemalloc`` (tracing the timed fit, as
before, slowed Python-heavy fits 2.5x and so skewed the times next to it);
for the largest case the process's maximum resident set size is printed too.
The "busy s" column times the fit once more with one competing process (a
busy loop on one core, ``_timing.competing_process``), and "busy / idle" is
its ratio to the "fit s" column.

Run ``python benchmarks/bench_impute.py`` (``--quick`` for fewer datasets,
``--large`` for the large synthetic cases).
"""

import argparse
import resource
import warnings

import numpy as np
import scipy.sparse as sp
from _timing import competing_process, measure
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_array

from mathlearn.datasets import make_race_speeds
from mathlearn.impute import SOMImputer, SVDImputer, TraceNormImputer


def _import_fancyimpute():
    """fancyimpute's classes, with its removed ``force_all_finite`` shimmed."""
    try:
        import fancyimpute.solver as solver
        from fancyimpute import IterativeSVD, SoftImpute
    except ImportError as error:
        print(f"fancyimpute not available ({error}); its rows are skipped")
        return None

    def check_array_shim(*args, force_all_finite=None, **kwargs):
        if force_all_finite is not None:
            kwargs["ensure_all_finite"] = force_all_finite
        return check_array(*args, **kwargs)

    import sys

    del solver
    for name, module in list(sys.modules.items()):
        if name.startswith("fancyimpute") and hasattr(module, "check_array"):
            module.check_array = check_array_shim
    print(
        "NOTE: fancyimpute 0.7 passes check_array(force_all_finite=...), removed "
        "in scikit-learn 1.8; this benchmark shims that call (renamed to "
        "ensure_all_finite) rather than pinning an old scikit-learn."
    )
    return {"SoftImpute": SoftImpute, "IterativeSVD": IterativeSVD}


def _measure(fit):
    """Run ``fit()``; return its result, wall seconds, traced peak MB and busy seconds.

    The busy seconds are those of one more call with a competing process.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idle = measure(fit, memory=True)
        with competing_process():
            busy = measure(fit)
    return idle.result, idle.seconds, idle.peak_mb, busy.seconds


# mathlearn's imputers; the others are the peers of "/ best peer".
_MATHLEARN = ("TraceNormImputer", "SVDImputer", "SOMImputer")


def _methods(n_features, fancy, *, large=False):
    rank = max(1, min(10, n_features // 3))
    methods = {
        "TraceNormImputer": lambda: TraceNormImputer(random_state=0),
        "SVDImputer": lambda: SVDImputer(n_components=rank, alpha=1.0, random_state=0),
        "SimpleImputer": SimpleImputer,
    }
    if not large:
        methods["SOMImputer"] = lambda: SOMImputer(random_state=0)
    if fancy is not None:
        methods["fancy SoftImpute"] = lambda: fancy["SoftImpute"](verbose=False)
        methods["fancy IterativeSVD"] = lambda: fancy["IterativeSVD"](
            rank=min(rank, n_features - 1), verbose=False
        )
    if not large:
        methods["KNNImputer"] = KNNImputer
        methods["IterativeImputer"] = lambda: IterativeImputer(random_state=0)
    return methods


def _table_header(title):
    print()
    print(title)
    print(
        f"  {'method':<20}{'RMSE':>9}{'/ best peer':>13}{'fit s':>9}{'peak MB':>10}"
        f"{'busy s':>9}{'busy / idle':>13}"
    )


def _table_row(name, rmse, best_peer, seconds, peak, busy):
    print(
        f"  {name:<20}{rmse:>9.4f}{rmse / best_peer:>13.3f}"
        f"{seconds:>9.2f}{peak:>10.1f}{busy:>9.2f}{busy / seconds:>13.2f}"
    )


def _run_dense(title, cases, fancy, *, large=False):
    """Fit every method on each ``(X_true, X_missing)`` of ``cases``.

    Reported: the RMSE on the hidden entries and the fit times (idle and
    busy) averaged over the cases (the same matrix under different missing
    masks: one mask moves the ratios between methods by several percent),
    the largest peak memory.
    """
    rows = {}
    n_features = cases[0][0].shape[1]
    for name, make in _methods(n_features, fancy, large=large).items():
        results = []
        for X_true, X_missing in cases:
            imputer = make()
            try:
                X_filled, seconds, peak, busy = _measure(
                    lambda imputer=imputer, X=X_missing: imputer.fit_transform(X)
                )
            except Exception as error:  # a peer failing is a result too
                print(f"  {name:<20} failed: {type(error).__name__}: {error}")
                break
            missing = np.isnan(X_missing)
            rmse = float(np.sqrt(np.mean((X_filled - X_true)[missing] ** 2)))
            results.append((rmse, seconds, peak, busy))
        else:
            rmse, seconds, peak, busy = np.array(results).T
            rows[name] = (rmse.mean(), seconds.mean(), peak.max(), busy.mean())
    peers = [v[0] for k, v in rows.items() if k not in _MATHLEARN]
    best_peer = min(peers) if peers else np.nan
    _table_header(title)
    for name, values in rows.items():
        _table_row(name, values[0], best_peer, *values[1:])
    return rows


def _mcar(X, fraction, rng):
    X_missing = X.copy()
    X_missing[rng.rand(*X.shape) < fraction] = np.nan
    empty_cols = np.isnan(X_missing).all(axis=0)
    X_missing[0, empty_cols] = X[0, empty_cols]
    return X_missing


def _mnar(X, rng):
    """Values above their column's median hidden with probability 0.6."""
    high = X > np.median(X, axis=0)
    X_missing = X.copy()
    X_missing[high & (rng.rand(*X.shape) < 0.6)] = np.nan
    return X_missing


def _real_data(quick):
    """Raw data (constant columns dropped), not standardised: see _observed_scale."""
    loaders = [("wine", load_wine), ("diabetes", load_diabetes)]
    if not quick:
        loaders += [("breast cancer", load_breast_cancer), ("digits", load_digits)]
    for name, load in loaders:
        X = load().data
        yield name, X[:, X.std(axis=0) > 0]


def _observed_scale(X, X_missing):
    """Standardise both with the observed entries' column means and stds.

    This is what a user can do (StandardScaler ignores NaN in fit), so no
    method is told the true column means of the hidden entries.
    """
    scaler = StandardScaler().fit(X_missing)
    return scaler.transform(X), scaler.transform(X_missing)


def _synthetic(n_rows, n_cols, n_observed, n_test, rng, rank=10, noise=0.5):
    """Rank-10 matrix plus noise: observed triplets and held-out test entries."""
    U = rng.normal(size=(n_rows, rank))
    V = rng.normal(size=(n_cols, rank))
    n_total = n_observed + n_test
    flat = np.unique(rng.randint(0, n_rows * n_cols, size=int(n_total * 1.2)))
    flat = rng.permutation(flat)[:n_total]
    rows, cols = np.divmod(flat, n_cols)
    vals = np.einsum("ij,ij->i", U[rows], V[cols]) + noise * rng.normal(size=n_total)
    return U, V, rows, cols, vals


def _run_large(n_rows, n_cols, n_observed, fancy, rng, *, dense_peers):
    n_test = 100_000
    U, V, rows, cols, vals = _synthetic(n_rows, n_cols, n_observed, n_test, rng)
    train = slice(0, n_observed)
    test = slice(n_observed, None)
    X = sp.csr_matrix((vals[train], (rows[train], cols[train])), shape=(n_rows, n_cols))
    title = (
        f"synthetic rank 10 + noise 0.5, {n_rows} x {n_cols}, {n_observed:.0e} "
        f"observed; RMSE on {n_test} held-out entries (noise floor 0.5)"
    )
    results = {}
    estimators = {
        # A rank cap bounds the cost of the high-rank (overfitting) end of
        # the shrinkage path; 10 shrinkages instead of 20.
        "TraceNormImputer": TraceNormImputer(
            n_components=20, n_shrinkages=10, random_state=0, verbose=1
        ),
        "SVDImputer": SVDImputer(n_components=10, alpha=1.0, random_state=0),
    }
    for name, estimator in estimators.items():
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
        _, seconds, peak, busy = _measure(lambda estimator=estimator: estimator.fit(X))
        predicted = estimator.predict_entries(rows[test], cols[test])
        rmse = float(np.sqrt(np.mean((predicted - vals[test]) ** 2)))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
        results[name] = (rmse, seconds, peak, busy)
        print(
            f"    [{name}: fit {seconds:.1f} s, rank {estimator.n_components_}, "
            "max RSS of the process "
            f"{rss:.0f} MB (before the fit {rss_before:.0f} MB)]"
        )
    if dense_peers:
        X_dense = np.full((n_rows, n_cols), np.nan)
        X_dense[rows[train], cols[train]] = vals[train]
        peers = {"SimpleImputer": SimpleImputer}
        if fancy is not None:
            # Same rank cap as TraceNormImputer: fancyimpute then uses a
            # randomized SVD instead of a full one per iteration.
            peers["fancy SoftImpute"] = lambda: fancy["SoftImpute"](
                max_rank=20, verbose=False
            )
            peers["fancy IterativeSVD"] = lambda: fancy["IterativeSVD"](
                rank=10, verbose=False
            )
        for name, make in peers.items():
            imputer = make()
            X_filled, seconds, peak, busy = _measure(
                lambda imputer=imputer: imputer.fit_transform(X_dense)
            )
            predicted = X_filled[rows[test], cols[test]]
            rmse = float(np.sqrt(np.mean((predicted - vals[test]) ** 2)))
            results[name] = (rmse, seconds, peak, busy)
            del X_filled
        del X_dense
    peers = [v for k, v in results.items() if k not in estimators]
    best_peer = min(v[0] for v in peers) if peers else np.nan
    _table_header(title)
    for name, values in results.items():
        _table_row(name, values[0], best_peer, *values[1:])
    if "fancy SoftImpute" in results:
        ratio = results["fancy SoftImpute"][1] / results["TraceNormImputer"][1]
        print(f"  TraceNormImputer is {ratio:.1f}x faster than fancyimpute SoftImpute")
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer datasets")
    parser.add_argument(
        "--large", action="store_true", help="also run the large synthetic cases"
    )
    parser.add_argument(
        "--only-large", action="store_true", help="run only the large cases"
    )
    args = parser.parse_args()
    fancy = _import_fancyimpute()
    if not args.only_large:
        print(
            "NOTE: the real datasets are standardised with the mean and std of "
            "each column's OBSERVED entries (what a user can compute), after "
            "hiding; RMSE is in those units, identical for every method."
        )
        print(
            "NOTE: TraceNormImputer runs with its defaults; SVDImputer with "
            "n_components=min(10, n_features // 3) and alpha=1.0, the settings of "
            "the earlier tables (its defaults, n_components='auto' and alpha='auto' "
            "chosen on held-out entries, are timed in bench_ratings.py)."
        )
    rng = np.random.RandomState(0)
    if not args.only_large:
        n_masks = 1 if args.quick else 3
        for missing in [0.08, 0.92]:
            cases = [
                make_race_speeds(missing=missing, random_state=seed)[:2]
                for seed in range(n_masks)
            ]
            _run_dense(
                f"race speeds 1000 x 20, {np.isnan(cases[0][1]).mean():.0%} "
                f"missing, {n_masks} mask(s)",
                cases,
                fancy,
            )
        # A low-rank matrix small enough for every peer, KNN and
        # IterativeImputer included (they are skipped on the large ones);
        # one mask, since IterativeImputer takes over a minute on it.
        synthetic_rng = np.random.RandomState(1)
        U = synthetic_rng.normal(size=(1000, 10))
        V = synthetic_rng.normal(size=(200, 10))
        X = U @ V.T + 0.5 * synthetic_rng.normal(size=(1000, 200))
        _run_dense(
            "synthetic rank 10 + noise 0.5, 1000 x 200, 50% MCAR, 1 mask "
            "(noise floor 0.5)",
            [(X, _mcar(X, 0.5, synthetic_rng))],
            fancy,
        )
        for name, X in _real_data(args.quick):
            patterns = [("20% MCAR", 0.2), ("50% MCAR", 0.5), ("MNAR", None)]
            for label, fraction in patterns:
                cases = []
                for _ in range(n_masks):
                    if fraction is None:
                        X_missing = _mnar(X, rng)
                    else:
                        X_missing = _mcar(X, fraction, rng)
                    cases.append(_observed_scale(X, X_missing))
                title = f"{name} {X.shape}, {label}, {n_masks} mask(s)"
                _run_dense(title, cases, fancy)
    if args.large or args.only_large:
        _run_large(6000, 4000, 1_000_000, fancy, rng, dense_peers=True)
        _run_large(50_000, 20_000, 5_000_000, fancy, rng, dense_peers=False)


if __name__ == "__main__":
    main()
