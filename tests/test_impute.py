"""TraceNormImputer and SVDImputer: known truth, slow reference solvers, bad input."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.integrate import quad
from scipy.optimize import check_grad, minimize_scalar
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import KNNImputer, SimpleImputer

from mathlearn.exceptions import EmptyRowWarning
from mathlearn.impute import SVDImputer, TraceNormImputer
from mathlearn.impute._base import (
    SHARED_DOCS,
    Pattern,
    observed_entries,
    ridge_rows,
    ridge_threads,
    row_dot,
)
from mathlearn.impute._centering import Observed
from mathlearn.impute._soft_impute import (
    _squared_change,
    shrink_singular_values,
    spectral_penalty,
)
from mathlearn.impute._svd import factor_objective


def _low_rank(n_rows, n_cols, rank, seed=0):
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n_rows, rank)) @ rng.normal(size=(rank, n_cols))


def _hide(X, fraction, seed=1):
    rng = np.random.RandomState(seed)
    X_missing = X.copy()
    X_missing[rng.rand(*X.shape) < fraction] = np.nan
    return X_missing


def _relative_error(X_filled, X, missing):
    return np.linalg.norm((X_filled - X)[missing]) / np.linalg.norm(X[missing])


def _least_squares_effects(X, observed):
    """``mean + a_i + b_j`` fitted to ``X[observed]`` by scipy's lsqr.

    The least-squares fit on the one-hot design of the mean, the row effects
    and the column effects (its sum is identifiable), as a dense matrix.
    """
    from scipy.sparse.linalg import lsqr

    m, n = X.shape
    rows, cols = np.nonzero(observed)
    k = rows.size
    design = sp.hstack(
        [
            sp.csr_matrix(np.ones((k, 1))),
            sp.csr_matrix((np.ones(k), (np.arange(k), rows)), shape=(k, m)),
            sp.csr_matrix((np.ones(k), (np.arange(k), cols)), shape=(k, n)),
        ]
    ).tocsr()
    coef = lsqr(design, X[rows, cols], atol=1e-14, btol=1e-14, iter_lim=10_000)[0]
    return coef[0] + coef[1 : 1 + m][:, None] + coef[1 + m :][None, :]


def _to_sparse(X_missing):
    """Sparse matrix storing exactly the observed entries (zeros included)."""
    rows, cols = np.nonzero(~np.isnan(X_missing))
    return sp.csr_matrix((X_missing[rows, cols], (rows, cols)), shape=X_missing.shape)


def _unit(X_missing, centred=True):
    """The unit of the completers' penalties: the observed entries' RMS.

    Taken after removing their mean (``centred``, any ``center`` but None).
    """
    observed = X_missing[~np.isnan(X_missing)]
    if centred:
        observed = observed - observed.mean()
    return np.sqrt(np.mean(observed**2))


def _race_times(n_athletes=300, n_races=20, missing=0.5, seed=0):
    """Rank-1 speeds (ability x course ease), with and without 3% noise."""
    rng = np.random.RandomState(seed)
    ability = rng.lognormal(0.0, 0.15, size=n_athletes)
    ease = rng.lognormal(0.0, 0.2, size=n_races)
    clean = np.outer(ability, ease)
    speed = clean * rng.lognormal(0, 0.03, (n_athletes, n_races))
    return clean, _hide(speed, missing, seed + 1)


# --- known truth ---------------------------------------------------------------


@pytest.mark.parametrize("rank", [1, 2, 3, 5])
def test_trace_norm_recovers_exact_low_rank(rank):
    X = _low_rank(100, 80, rank, seed=rank)
    X_missing = _hide(X, 0.5, seed=rank)
    missing = np.isnan(X_missing)
    imputer = TraceNormImputer(1e-3, center=None, tol=1e-14, random_state=0)
    X_filled = imputer.fit_transform(X_missing)
    assert _relative_error(X_filled, X, missing) < 1e-3
    assert imputer.n_components_ == rank


# Noise-free data at tol=1e-14: the joint descent of the effects and Z is
# still lowering the objective (to 1e-14 relative) when its budget ends; the
# recovery is accurate well before, so the warning is expected here.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_trace_norm_recovers_exact_low_rank_after_centring():
    X = _low_rank(100, 80, 3, seed=3)
    X_missing = _hide(X, 0.5, seed=3)
    imputer = TraceNormImputer(1e-3, tol=1e-14, max_iter=500, random_state=0)
    X_filled = imputer.fit_transform(X_missing)
    assert _relative_error(X_filled, X, np.isnan(X_missing)) < 1e-3


@pytest.mark.parametrize("rank", [1, 2, 3, 5])
def test_svd_imputer_recovers_exact_low_rank(rank):
    X = _low_rank(60, 40, rank, seed=rank)
    X_missing = _hide(X, 0.5, seed=rank)
    missing = np.isnan(X_missing)
    imputer = SVDImputer(rank, alpha=1e-8, tol=1e-12, max_iter=3000, random_state=0)
    X_filled = imputer.fit_transform(X_missing)
    assert _relative_error(X_filled, X, missing) < 1e-3


def test_svd_rank_one_without_centering_is_speed_times_difficulty():
    """center=None, n_components=1: the model is u_i v_j, from half the data."""
    rng = np.random.RandomState(0)
    X = np.outer(rng.uniform(3, 5, 50), rng.uniform(0.5, 2, 12))
    X_missing = _hide(X, 0.5)
    imputer = SVDImputer(1, alpha=1e-10, center=None, tol=1e-14, random_state=0)
    X_filled = imputer.fit_transform(X_missing)
    assert imputer.mean_ == 0.0
    np.testing.assert_allclose(X_filled, X, rtol=1e-5)


# Default fits of well-posed data must converge without a warning.
@pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Imputer", [TraceNormImputer, SVDImputer])
def test_additive_matrix_is_completed_by_the_effects(Imputer):
    """x_ij = mu + a_i + b_j is filled exactly by the centring alone."""
    rng = np.random.RandomState(0)
    X = 5.0 + rng.normal(size=(40, 1)) + rng.normal(size=(1, 15))
    X_missing = _hide(X, 0.4)
    params = {"n_components": 1, "alpha": 1e-3} if Imputer is SVDImputer else {}
    X_filled = Imputer(random_state=0, **params).fit_transform(X_missing)
    np.testing.assert_allclose(X_filled, X, atol=1e-6)


# --- reference solvers ---------------------------------------------------------


def _dense_proximal_gradient(X_missing, lam, n_iter=20000, tol=1e-15):
    """Proximal gradient on the dense matrix: Z <- S_lam(Z + P_O(X - Z))."""
    observed = ~np.isnan(X_missing)
    X0 = np.where(observed, X_missing, 0.0)
    Z = np.zeros_like(X0)
    for _ in range(n_iter):
        U, sigma, Vt = np.linalg.svd(np.where(observed, X0, Z), full_matrices=False)
        Z_new = (U * np.maximum(sigma - lam, 0.0)) @ Vt
        change = np.linalg.norm(Z_new - Z) / max(np.linalg.norm(Z), 1e-300)
        Z = Z_new
        if change < tol:
            break
    return Z


def _soft_impute_objective(X_missing, Z, lam):
    observed = ~np.isnan(X_missing)
    fit = 0.5 * np.sum((X_missing - Z)[observed] ** 2)
    return fit + lam * np.linalg.svd(Z, compute_uv=False).sum()


def _solved_to_precision(X_missing, lam, svd_solver, **params):
    """A TraceNormImputer at ``lam``, no effects, solved to round-off; its Z.

    ``lam`` is on the scale of ``X_missing``; the estimator's shrinkage is on
    that of ``X_missing / _unit(X_missing, centred=False)``.
    """
    imputer = TraceNormImputer(
        lam / _unit(X_missing, centred=False),
        center=None,
        tol=1e-24,
        max_iter=20000,
        svd_solver=svd_solver,
        random_state=0,
        **params,
    ).fit(X_missing)
    return imputer, imputer.row_factors_ @ imputer.column_factors_.T


@pytest.mark.parametrize("shape", [(30, 20), (20, 30)], ids=["tall", "wide"])
@pytest.mark.parametrize(
    "svd_solver", ["auto", "als", "ridge-als", "arpack", "randomized", "full"]
)
def test_trace_norm_objective_matches_dense_proximal_gradient(svd_solver, shape):
    # Every solver on a tall and on a wide matrix: ARPACK's start vector is a
    # right singular vector for one, a left one for the other.
    X = _low_rank(*shape, 4, seed=3) + 0.3 * np.random.RandomState(4).normal(size=shape)
    X_missing = _hide(X, 0.4, seed=5)
    lam = 1.5
    Z_ref = _dense_proximal_gradient(X_missing, lam)
    imputer, Z = _solved_to_precision(X_missing, lam, svd_solver)
    reference = _soft_impute_objective(X_missing, Z_ref, lam)
    ours = _soft_impute_objective(X_missing, Z, lam)
    assert abs(ours - reference) <= 1e-6 * reference
    np.testing.assert_allclose(
        imputer.singular_values_.sum(),
        np.trace(np.diag(np.linalg.svd(Z, compute_uv=False))),
    )
    # The solution is rank-deficient here, so it is the exact one.
    assert imputer.n_components_ < 19


@pytest.mark.parametrize(
    "params, observed, expected",
    [
        ({"shrinkage_power": 1}, 0.5, "als"),
        ({"shrinkage_power": 1}, 0.15, "ridge-als"),
        ({"shrinkage_power": 2}, 0.5, "full"),
        ({"svd_solver": "randomized", "shrinkage_power": 1}, 0.5, "randomized"),
    ],
)
def test_svd_solver_auto_is_resolved_to_a_named_solver(params, observed, expected):
    """``svd_solver_`` names the solver "auto" chose, and naming it is the same fit."""
    rng = np.random.RandomState(0)
    X = _low_rank(120, 80, 2, seed=1) + 0.1 * rng.normal(size=(120, 80))
    X_missing = _hide(X, 1 - observed, seed=2)
    params = {"alpha": 0.5, "center": "both", "random_state": 0, **params}
    auto = TraceNormImputer(**params).fit(X_missing)
    assert auto.svd_solver_ == expected
    named = TraceNormImputer(**{**params, "svd_solver": expected}).fit(X_missing)
    assert named.svd_solver_ == expected
    np.testing.assert_array_equal(named.transform(X_missing), auto.transform(X_missing))


def test_arpack_on_a_wide_matrix():
    """Issue 19: on a wide matrix svds got a start vector of the wrong length.

    ``TraceNormImputer(svd_solver="arpack")`` on 60 x 200 raised "`v0` must
    have shape (60,)": ARPACK iterates on ``X X^T`` there, whose start
    vector is a left singular vector.
    """
    X = _low_rank(60, 200, 3)
    X_missing = _hide(X, 0.5)
    missing = np.isnan(X_missing)
    # One held-out split and one centring and power: the path is not the
    # point here, the solver is.
    imputer = TraceNormImputer(
        svd_solver="arpack",
        shrinkage_power=1,
        center="both",
        n_folds=1,
        random_state=0,
    )
    X_filled = imputer.fit_transform(X_missing)
    mean_error = _relative_error(SimpleImputer().fit_transform(X_missing), X, missing)
    assert _relative_error(X_filled, X, missing) < 0.05 * mean_error


def test_trace_norm_with_column_effects_matches_dense_block_descent():
    """Effects fitted jointly with Z: the objective of a dense reference.

    ``min_{b, Z} 1/2 ||P_O(X - 1 b^T - Z)||^2 + lam ||Z||_*``, solved in the
    test by alternating the exact column means ``b`` given ``Z`` with a
    proximal-gradient step on ``Z`` (unit step, the Lipschitz constant).
    """
    rng = np.random.RandomState(4)
    X = _low_rank(30, 20, 3, seed=3) + 0.3 * rng.normal(size=(30, 20))
    X += 2.0 * rng.normal(size=(1, 20))  # column effects
    X_missing = _hide(X, 0.4, seed=5)
    observed = ~np.isnan(X_missing)
    lam = 1.5
    Z = np.zeros_like(X)
    for _ in range(20000):
        b = np.nanmean(np.where(observed, X_missing - Z, np.nan), axis=0)
        target = np.where(observed, X_missing - b, Z)
        U, sigma, Vt = np.linalg.svd(target, full_matrices=False)
        Z_new = (U * np.maximum(sigma - lam, 0.0)) @ Vt
        change = np.linalg.norm(Z_new - Z) / max(np.linalg.norm(Z), 1e-300)
        Z = Z_new
        if change < 1e-14:
            break
    b = np.nanmean(np.where(observed, X_missing - Z, np.nan), axis=0)
    reference = _soft_impute_objective(X_missing - b, Z, lam)
    imputer = TraceNormImputer(
        lam / _unit(X_missing),
        center="columns",
        effects_penalty=0.0,
        tol=1e-14,
        max_iter=20000,
        random_state=0,
    ).fit(X_missing)
    Z_ours = imputer.row_factors_ @ imputer.column_factors_.T
    effects = imputer.mean_ + imputer.column_effects_
    ours = _soft_impute_objective(X_missing - effects, Z_ours, lam)
    assert abs(ours - reference) <= 1e-6 * reference
    np.testing.assert_allclose(effects, b, atol=1e-4)
    # The effects fitted before Z (the column means) are not the optimum.
    means = np.nanmean(X_missing, axis=0)
    assert np.max(np.abs(means - b)) > 1e-2


def _power_two_penalty(d, lam):
    """``sum_k int_0^d_k p'(t) dt``, ``p'(t) = sigma(t) - t`` by quadrature."""

    def slope(t):
        return 0.5 * (np.sqrt(t**2 + 4 * lam**2) - t)

    return sum(quad(slope, 0.0, dk, epsabs=1e-13, epsrel=1e-13)[0] for dk in d)


@pytest.mark.parametrize("power", [1, 2])
def test_shrinkage_is_the_proximal_map_of_its_penalty(power):
    """``argmin_d 1/2 (sigma - d)^2 + p(d)`` over ``d >= 0``, numerically."""
    lam = 1.3
    sigma = np.array([0.2, 1.0, 1.3, 1.31, 2.0, 5.0, 40.0])
    d = shrink_singular_values(sigma, lam, power)
    for s_k, d_k in zip(sigma, d, strict=True):
        result = minimize_scalar(
            lambda x, s_k=s_k: 0.5 * (s_k - x) ** 2 + spectral_penalty(x, lam, power),
            bounds=(0.0, s_k),
            method="bounded",
            options={"xatol": 1e-12},
        )
        assert abs(result.x - d_k) < 1e-6
    positive = np.array([0.1, 1.0, 7.0])
    reference = (
        lam * positive.sum() if power == 1 else _power_two_penalty(positive, lam)
    )
    assert spectral_penalty(positive, lam, power) == pytest.approx(reference, 1e-12)


def _power_two_objective(X_missing, Z, lam):
    observed = ~np.isnan(X_missing)
    fit = 0.5 * np.sum((X_missing - Z)[observed] ** 2)
    d = np.linalg.svd(Z, compute_uv=False)
    return fit + _power_two_penalty(d[d > 1e-10 * d[0]], lam)


@pytest.mark.parametrize("svd_solver", ["arpack", "randomized", "full"])
def test_power_two_reaches_a_fixed_point_of_the_dense_iteration(svd_solver):
    """Adaptive shrinkage at a fixed lambda against a dense reference.

    The reference walks the same geometric path of lambdas in the test, with
    a dense SVD and ``sigma - lam^2 / sigma`` written out; the objective is
    not convex, so both must land on the same stationary point from the same
    warm starts, and the estimator's must be a fixed point of the dense map.
    """
    rng = np.random.RandomState(4)
    X = _low_rank(30, 20, 4, seed=3) + 0.3 * rng.normal(size=(30, 20))
    X_missing = _hide(X, 0.4, seed=5)
    observed = ~np.isnan(X_missing)
    lam = 2.0

    def step(Z, lam_k):
        U, sigma, Vt = np.linalg.svd(np.where(observed, X_missing, Z))
        kept = sigma > lam_k
        d = np.where(kept, sigma - lam_k**2 / np.where(kept, sigma, 1.0), 0.0)
        return (U[:, : d.size] * d) @ Vt

    lam_max = np.linalg.norm(np.where(observed, X_missing, 0.0), ord=2)
    steps = int(np.ceil(3 * np.log10(lam_max / lam)))
    Z = np.zeros_like(X)
    for lam_k in np.geomspace(lam_max, lam, steps + 1)[1:]:
        for _ in range(20000):
            Z_new = step(Z, lam_k)
            change = np.linalg.norm(Z_new - Z) ** 2 / max(
                np.linalg.norm(Z) ** 2, 1e-300
            )
            Z = Z_new
            if change < 1e-24:
                break
    imputer, Z_ours = _solved_to_precision(
        X_missing, lam, svd_solver, shrinkage_power=2
    )
    assert imputer.shrinkage_power_ == 2
    np.testing.assert_allclose(step(Z_ours, lam), Z_ours, atol=1e-8)
    reference = _power_two_objective(X_missing, Z, lam)
    assert _power_two_objective(X_missing, Z_ours, lam) == pytest.approx(
        reference, rel=1e-6
    )
    # Large singular values are shrunk by lam^2 / sigma, not by lam.
    sigma = np.linalg.svd(np.where(observed, X_missing, Z_ours), compute_uv=False)
    np.testing.assert_allclose(
        imputer.singular_values_,
        sigma[: imputer.n_components_] - lam**2 / sigma[: imputer.n_components_],
    )


def test_shrinkage_is_chosen_on_the_folded_in_prediction():
    """The held-out entries are scored as ``transform`` predicts them.

    On diabetes (10 features, 20% missing) with 10 folds, power 2 at a small
    shrinkage fits the training entries well, but a row with 8 observed
    entries and 9 factors is barely determined: scored on the fitted ``Z``
    (which stops early) the choice looked good while ``transform``'s ridge
    fold-in of the same rows was wild (RMSE 1.56, twice mean imputation's
    error). Scored on the fold-in, the choice and ``transform`` agree.
    """
    load_diabetes = pytest.importorskip("sklearn.datasets").load_diabetes
    X = load_diabetes().data
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    X_missing = _hide(X, 0.2, seed=0)
    missing = np.isnan(X_missing)
    imputer = TraceNormImputer(n_folds=10, random_state=0).fit(X_missing)
    X_filled = imputer.transform(X_missing)
    error = np.sqrt(np.mean((X_filled - X)[missing] ** 2))
    mean_error = np.sqrt(
        np.mean((SimpleImputer().fit_transform(X_missing) - X)[missing] ** 2)
    )
    assert error < 0.8 * mean_error
    rows, cols = np.nonzero(missing)
    np.testing.assert_allclose(
        imputer.predict_entries(rows, cols), X_filled[rows, cols], rtol=1e-12
    )


def test_shrinkage_power_auto_picks_two_on_strong_low_rank_data():
    """Where a few strong components carry the data, power 2 predicts better.

    Soft-thresholding shrinks every kept component by lambda; the held-out
    comparison picks the power that shrinks the strong ones less, and its
    completion error is lower than power 1's at its own best lambda.
    """
    rng = np.random.RandomState(0)
    X = _low_rank(150, 30, 3, seed=2) + 0.5 * rng.normal(size=(150, 30))
    X_missing = _hide(X, 0.5, seed=3)
    missing = np.isnan(X_missing)
    auto = TraceNormImputer(center="columns", random_state=0).fit(X_missing)
    one = TraceNormImputer(center="columns", shrinkage_power=1, random_state=0)
    assert auto.shrinkage_power_ == 2
    error_auto = _relative_error(auto.transform(X_missing), X, missing)
    error_one = _relative_error(one.fit_transform(X_missing), X, missing)
    assert error_auto < 0.97 * error_one


def test_effects_are_fitted_first_above_the_joint_size_or_with_scale(monkeypatch):
    import mathlearn.impute._base as base

    rng = np.random.RandomState(4)
    X = _low_rank(30, 20, 3, seed=3) + 2.0 * rng.normal(size=(1, 20))
    X_missing = _hide(X, 0.4, seed=5)
    means = np.nanmean(X_missing, axis=0)
    params = {"center": "columns", "effects_penalty": 0.0, "random_state": 0}
    joint = TraceNormImputer(1.5, **params).fit(X_missing)
    assert np.max(np.abs(joint.mean_ + joint.column_effects_ - means)) > 1e-2
    monkeypatch.setattr(base, "SMALL_TABLE_ENTRIES", 100)
    first = TraceNormImputer(1.5, **params).fit(X_missing)
    np.testing.assert_allclose(first.mean_ + first.column_effects_, means)


def test_svd_gradient_matches_finite_differences():
    rng = np.random.RandomState(0)
    X_missing = _hide(rng.normal(size=(9, 7)), 0.3)
    obs = observed_entries(X_missing, np.nan)
    pattern = Pattern(obs)
    rank = 2
    inv_scale = rng.uniform(0.5, 2.0, obs.rows.shape[0])
    w_row, w_col = rng.uniform(1, 3, 9), rng.uniform(1, 3, 7)
    theta = rng.normal(size=(9 + 7) * rank + 9 + 7)
    args = (pattern, obs.vals, inv_scale, rank, 0.3, w_row, w_col, True, True)

    def f(theta):
        return factor_objective(theta, *args)[0]

    def grad(theta):
        return factor_objective(theta, *args)[1]

    error = check_grad(f, grad, theta, epsilon=1e-6)
    assert error < 1e-5 * np.linalg.norm(grad(theta))
    # Without effects the parameter vector is only the factors.
    args = (pattern, obs.vals, inv_scale, rank, 0.3, w_row, w_col, False, False)
    theta = theta[: (9 + 7) * rank]
    error = check_grad(f, grad, theta, epsilon=1e-6)
    assert error < 1e-5 * np.linalg.norm(grad(theta))


def test_svd_imputer_reaches_a_stationary_point_of_its_objective():
    """The fitted factors zero the gradient of the objective written densely."""
    X = _low_rank(40, 15, 3, seed=2) + 0.1 * np.random.RandomState(0).normal(
        size=(40, 15)
    )
    X_missing = _hide(X, 0.3)
    alpha = 0.5
    imputer = SVDImputer(
        3,
        alpha=alpha / _unit(X_missing, centred=False),
        center=None,
        tol=1e-12,
        max_iter=5000,
        random_state=0,
    ).fit(X_missing)
    A, B = imputer.row_factors_, imputer.column_factors_
    observed = ~np.isnan(X_missing)
    E = np.where(observed, A @ B.T - np.nan_to_num(X_missing), 0.0)
    np.testing.assert_allclose(E @ B + alpha * A, 0.0, atol=1e-5)
    np.testing.assert_allclose(E.T @ A + alpha * B, 0.0, atol=1e-5)


# --- sparse input, fold-in, predict_entries ----------------------------------


@pytest.mark.parametrize(
    "imputer",
    [
        TraceNormImputer(random_state=0),
        TraceNormImputer(2.0, svd_solver="randomized", random_state=0),
        SVDImputer(3, random_state=0),
        SVDImputer(3, regularization="weighted", scale=True, random_state=0),
    ],
    ids=["trace-auto", "trace-randomized", "svd", "svd-weighted-scaled"],
)
def test_dense_nan_and_sparse_observed_give_the_same_completion(imputer):
    X = _low_rank(50, 20, 3) + 0.1 * np.random.RandomState(0).normal(size=(50, 20))
    X[3, 4] = 0.0  # an observed zero must stay observed in the sparse form
    X_missing = _hide(X, 0.6)
    dense = imputer.fit(X_missing).transform(X_missing)
    sparse_fit = clone(imputer).fit(_to_sparse(X_missing))
    np.testing.assert_allclose(sparse_fit.transform(_to_sparse(X_missing)), dense)
    np.testing.assert_allclose(sparse_fit.row_factors_, imputer.row_factors_)


def _trace_penalty(imputer, X_missing, j):
    """Power 1: ``alpha_`` on the scale of X, for every component."""
    return np.full(imputer.n_components_, imputer.alpha_ * _unit(X_missing))


def _power_two_column_penalty(imputer, X_missing, j):
    """Power 2: ``lam^2 / sigma_k``, sigma_k the value that shrinks to d_k."""
    lam = imputer.alpha_ * _unit(X_missing, centred=False)
    d = imputer.singular_values_
    return lam**2 / (0.5 * (d + np.sqrt(d**2 + 4 * lam**2)))


def _svd_penalty(imputer, X_missing, j):
    weight = 1.0
    if imputer.regularization == "weighted":
        weight = np.sum(~np.isnan(X_missing[:, j]))
    return np.full(imputer.n_components_, imputer.alpha * weight * _unit(X_missing))


@pytest.mark.parametrize(
    "imputer, penalty, joint",
    [
        (
            TraceNormImputer(
                1.0, center="columns", tol=1e-14, max_iter=5000, random_state=0
            ),
            _trace_penalty,
            True,
        ),
        (
            TraceNormImputer(
                1.0, scale=True, center="both", tol=1e-20, max_iter=5000, random_state=0
            ),
            _trace_penalty,
            False,
        ),
        (
            TraceNormImputer(
                1.0,
                shrinkage_power=2,
                center=None,
                tol=1e-14,
                max_iter=5000,
                random_state=0,
            ),
            _power_two_column_penalty,
            False,
        ),
        (
            SVDImputer(3, alpha=0.5, tol=1e-12, max_iter=5000, random_state=0),
            _svd_penalty,
            True,
        ),
        (
            SVDImputer(
                3,
                alpha=0.05,
                regularization="weighted",
                scale=True,
                tol=1e-12,
                max_iter=5000,
                random_state=0,
            ),
            _svd_penalty,
            True,
        ),
    ],
    ids=["trace", "trace-scaled", "trace-power-2", "svd", "svd-weighted-scaled"],
)
def test_fitted_columns_are_the_ridge_fit_on_the_fitted_rows(imputer, penalty, joint):
    """The fitted model is a fixed point of both fold-ins, rows and columns.

    The training rows are their fold-in by construction; at convergence each
    column's factors (with its unpenalised effect, where the effects are
    fitted with the factors) must then be the ridge regression of the
    column's observed entries on the fitted row factors, with the same
    penalty on the scale of X. Reference: np.linalg.lstsq column by column,
    on the design stacked over ``sqrt(penalty) I``.
    """
    X = _low_rank(40, 15, 3, seed=1) + 0.2 * np.random.RandomState(1).normal(
        size=(40, 15)
    )
    X_missing = _hide(X, 0.4)
    imputer.fit(X_missing)
    A, s, t = imputer.row_factors_, imputer.row_scales_, imputer.column_scales_
    rank = imputer.n_components_
    assert rank >= 3
    for j in range(X.shape[1]):
        observed = ~np.isnan(X_missing[:, j])
        weight = 1.0 / (s[observed] * t[j])
        base = X_missing[observed, j] - imputer.mean_ - imputer.row_effects_[observed]
        root = np.sqrt(penalty(imputer, X_missing, j))
        if joint:
            # The column effect's own ridge penalty (effects_penalty).
            root_effect = np.sqrt(imputer.effects_penalties_[1])
            design = np.column_stack([weight, A[observed]])
            ridge = np.diag(np.concatenate([[root_effect], root]))
            expected = [imputer.column_effects_[j], *imputer.column_factors_[j]]
        else:
            design, ridge = A[observed], np.diag(root)
            base = base - imputer.column_effects_[j]
            expected = imputer.column_factors_[j]
        solution = np.linalg.lstsq(
            np.vstack([design, ridge]),
            np.concatenate([base * weight, np.zeros(ridge.shape[0])]),
            rcond=None,
        )[0]
        np.testing.assert_allclose(solution, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("Imputer", [TraceNormImputer, SVDImputer])
def test_new_rows_are_folded_in(Imputer):
    X = _low_rank(200, 25, 2, seed=7)
    X_missing = _hide(X, 0.5, seed=8)
    params = {"n_components": 2, "alpha": 1e-6} if Imputer is SVDImputer else {}
    if Imputer is TraceNormImputer:
        params = {"center": "columns"}
    imputer = Imputer(random_state=0, **params).fit(X_missing[:150])
    X_new = X_missing[150:]
    missing = np.isnan(X_new)
    X_filled = imputer.transform(X_new)
    np.testing.assert_array_equal(X_filled[~missing], X_new[~missing])
    mean_error = _relative_error(
        SimpleImputer().fit(X_missing[:150]).transform(X_new), X[150:], missing
    )
    assert _relative_error(X_filled, X[150:], missing) < 0.1 * mean_error


@pytest.mark.parametrize("Imputer", [TraceNormImputer, SVDImputer])
def test_empty_row_gets_the_column_means_with_a_warning(Imputer):
    X = 3.0 + _low_rank(30, 6, 1)
    X_missing = _hide(X, 0.2)
    params = {"n_components": 1} if Imputer is SVDImputer else {}
    imputer = Imputer(random_state=0, **params).fit(X_missing)
    X_new = np.full((2, 6), np.nan)
    X_new[1, 0] = 1.0
    with pytest.warns(EmptyRowWarning, match="1 rows of X have no observed"):
        X_filled = imputer.transform(X_new)
    np.testing.assert_allclose(X_filled[0], imputer.mean_ + imputer.column_effects_)


@pytest.mark.parametrize(
    "imputer",
    [TraceNormImputer(random_state=0), SVDImputer(2, random_state=0)],
    ids=["trace", "svd"],
)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense-nan", "sparse"])
def test_predict_entries_reads_the_model_that_transform_completes(imputer, sparse):
    """Issue 16, row 4: the two documented reads of an entry are one model.

    With the defaults on 200 x 30 rank 2, half missing, ``predict_entries``
    read the solver's last iterate (stopped by ``tol``) while ``transform``
    folded each row in by ridge: they differed by up to 0.71 (RMSE 0.038
    against 0.0022). The training rows are now their fold-in.
    """
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 30))
    X_missing = _hide(X, 0.5)
    X_in = _to_sparse(X_missing) if sparse else X_missing
    X_filled = imputer.fit(X_in).transform(X_in)
    rows, cols = np.nonzero(np.isnan(X_missing))
    np.testing.assert_allclose(
        imputer.predict_entries(rows, cols), X_filled[rows, cols], rtol=1e-12
    )
    assert _relative_error(X_filled, X, np.isnan(X_missing)) < 0.01


def test_training_rows_are_their_ridge_fold_in():
    """``row_factors_`` solve each row's ridge regression on ``column_factors_``.

    Reference: np.linalg.lstsq, row by row, on the row's observed residuals
    stacked over ``sqrt(penalty) I``; the penalty is ``alpha_`` on the
    scale of ``X / _unit(X)`` (power 1, no relaxation, column effects).
    """
    X = _low_rank(60, 20, 3) + 0.1 * np.random.RandomState(0).normal(size=(60, 20))
    X_missing = _hide(X, 0.5)
    imputer = TraceNormImputer(
        0.5, center="columns", relax=0.0, shrinkage_power=1, random_state=0
    ).fit(X_missing)
    B = imputer.column_factors_
    penalty = imputer.alpha_ * _unit(X_missing)
    rank = imputer.n_components_
    assert rank >= 3
    for i in range(X.shape[0]):
        observed = ~np.isnan(X_missing[i])
        residual = (
            X_missing[i, observed] - imputer.mean_ - imputer.column_effects_[observed]
        )
        design = np.vstack([B[observed], np.sqrt(penalty) * np.eye(rank)])
        target = np.concatenate([residual, np.zeros(rank)])
        expected = np.linalg.lstsq(design, target, rcond=None)[0]
        np.testing.assert_allclose(imputer.row_factors_[i], expected, rtol=1e-7)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense-nan", "sparse"])
@pytest.mark.parametrize("Imputer", [TraceNormImputer, SVDImputer])
def test_cold_rows_and_columns_are_served_from_the_effects(Imputer, sparse):
    """Issue 16, row 12: a column (an item) with no observed entry.

    It used to raise "features [...] have no observed value". Reference: the
    same estimator fitted on X without its cold row and columns (another
    input): the rest of the model is that fit, and a cold entry is its mean
    plus the row or column effect read from it (the missing effect 0).
    """
    rng = np.random.RandomState(0)
    X = 3.0 + _low_rank(40, 12, 2) + 0.1 * rng.normal(size=(40, 12))
    X_missing = _hide(X, 0.4)
    cold_rows, cold_cols = [7], [3, 11]  # the last column: trailing in CSR
    X_missing[cold_rows] = np.nan
    X_missing[:, cold_cols] = np.nan
    warm_rows = np.delete(np.arange(40), cold_rows)
    warm_cols = np.delete(np.arange(12), cold_cols)
    X_warm = X_missing[np.ix_(warm_rows, warm_cols)]
    missing = np.isnan(X_missing)
    if sparse:
        X_missing, X_warm = _to_sparse(X_missing), _to_sparse(X_warm)
        assert X_missing.shape == (40, 12)
    params = {"n_components": 2} if Imputer is SVDImputer else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        imputer = Imputer(random_state=0, **params).fit(X_missing)
    assert [w.category for w in caught] == [EmptyRowWarning]
    assert str(caught[0].message).startswith(
        "1 rows and 2 columns of X have no observed entry"
    )
    warm = Imputer(random_state=0, **params).fit(X_warm)

    rows, cols = (index.ravel() for index in np.indices((40, 12)))
    predicted = imputer.predict_entries(rows, cols).reshape(40, 12)
    expected = np.full((40, 12), warm.mean_)
    warm_r, warm_c = (index.ravel() for index in np.indices(X_warm.shape))
    expected[np.ix_(warm_rows, warm_cols)] = warm.predict_entries(
        warm_r, warm_c
    ).reshape(X_warm.shape)
    expected[np.ix_(warm_rows, cold_cols)] = warm.mean_ + warm.row_effects_[:, None]
    expected[np.ix_(cold_rows, warm_cols)] = warm.mean_ + warm.column_effects_
    np.testing.assert_allclose(predicted, expected, rtol=1e-9)
    # transform serves them the same way (and reports the row again: it is a
    # row of the X it completes).
    with pytest.warns(EmptyRowWarning, match="1 rows of X"):
        X_filled = imputer.transform(X_missing)
    np.testing.assert_allclose(X_filled[missing], predicted[missing], rtol=1e-12)
    # fit_transform warns once.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Imputer(random_state=0, **params).fit_transform(X_missing)
    assert len(caught) == 1


def test_predict_entries_validates_indices():
    imputer = SVDImputer(1, random_state=0).fit(_hide(_low_rank(10, 4, 1), 0.2))
    with pytest.raises(ValueError, match=r"rows must be in \[0, 10\)"):
        imputer.predict_entries([10], [0])
    with pytest.raises(ValueError, match="cols must be a 1-D array of integer"):
        imputer.predict_entries([0], [0.5])
    with pytest.raises(ValueError, match="same shape"):
        imputer.predict_entries([0, 1], [0])


# --- the path of shrinkages -----------------------------------------------------


def test_alpha_path_and_validation_errors():
    X = _low_rank(80, 30, 3) + 0.3 * np.random.RandomState(0).normal(size=(80, 30))
    X_missing = _hide(X, 0.5)
    imputer = TraceNormImputer(n_shrinkages=12, random_state=0).fit(X_missing)
    path, errors = imputer.alphas_, imputer.validation_errors_
    assert path.shape == errors.shape and 4 <= path.size <= 12
    assert np.all(np.diff(path) < 0)
    assert imputer.alpha_ == path[np.argmin(errors)]
    # lambda_max: the first shrinkage gives Z = 0, the worst of the path.
    assert errors[0] == errors.max()
    # Noise of 0.3: an interior shrinkage wins, not the least-penalised one.
    assert imputer.alpha_ > path[-1] or path.size < 12


def test_relaxed_singular_values_are_the_least_squares_refit():
    """relax=1 refits d on the observed entries with U, V of the soft solution.

    Reference: np.linalg.lstsq on the explicit design of the observed
    entries, U and V read from the unrelaxed fit at the same shrinkage.
    """
    X = _low_rank(60, 20, 2, seed=3) + 0.1 * np.random.RandomState(3).normal(
        size=(60, 20)
    )
    X_missing = _hide(X, 0.4, seed=4)
    params = {"alpha": 2.0, "center": None, "tol": 1e-16, "random_state": 0}
    soft = TraceNormImputer(relax=0.0, **params).fit(X_missing)
    d = soft.singular_values_
    U = soft.row_factors_ / np.sqrt(d)
    V = soft.column_factors_ / np.sqrt(d)
    rows, cols = np.nonzero(~np.isnan(X_missing))
    design = np.stack([U[rows, k] * V[cols, k] for k in range(d.size)], axis=1)
    d_ls = np.linalg.lstsq(design, X_missing[rows, cols], rcond=None)[0]
    assert np.all(d_ls > 0) and np.all(d_ls > d)  # the penalty shrinks d
    for relax in [1.0, 0.5]:
        relaxed = TraceNormImputer(relax=relax, **params).fit(X_missing)
        np.testing.assert_allclose(
            relaxed.singular_values_, d + relax * (d_ls - d), rtol=1e-5
        )
        # transform folds training rows back to the relaxed completion.
        Z = (U * relaxed.singular_values_) @ V.T
        missing = np.isnan(X_missing)
        np.testing.assert_allclose(
            relaxed.transform(X_missing)[missing], Z[missing], atol=1e-5
        )


def test_relaxation_lowers_the_error_of_a_rank_selecting_shrinkage():
    """Known truth: relaxing removes the shrinkage bias of the kept components."""
    X = _low_rank(150, 40, 3, seed=5)
    noisy = X + 0.3 * np.random.RandomState(5).normal(size=X.shape)
    X_missing = _hide(noisy, 0.1, seed=6)
    missing = np.isnan(X_missing)
    errors, ranks = {}, {}
    for relax in [0.0, "auto"]:
        # The bias of soft-thresholding (power 2 has less to remove).
        imputer = TraceNormImputer(relax=relax, shrinkage_power=1, random_state=0).fit(
            X_missing
        )
        errors[relax] = _relative_error(imputer.transform(X_missing), X, missing)
        ranks[relax] = imputer.n_components_
    assert imputer.relaxation_ > 0
    # Unrelaxed, the best shrinkage keeps many noise components (rank ~27).
    assert ranks["auto"] <= 5 < ranks[0.0]
    assert errors["auto"] < 0.85 * errors[0.0]


@pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")
# _hide leaves a row with no observed entry here; the warning is tested in
# the cold-start tests.
@pytest.mark.filterwarnings("ignore::mathlearn.exceptions.EmptyRowWarning")
def test_center_auto_drops_row_effects_that_are_noise():
    rng = np.random.RandomState(0)
    # Standardised-like features driven by two factors: no row offsets, so
    # row effects estimated from ~5 entries per row only add noise.
    X = _low_rank(300, 10, 2, seed=1) + 0.3 * rng.normal(size=(300, 10))
    # The same plus strong row offsets (abilities).
    X_offsets = X + 5.0 * rng.normal(size=(300, 1))
    for name, data in [("plain", X), ("offsets", X_offsets)]:
        X_missing = _hide(data, 0.5, seed=2)
        missing = np.isnan(X_missing)
        # Unpenalised effects: the row effects' own penalty would also
        # shrink noise offsets away (see the effects_penalty tests).
        auto = TraceNormImputer(effects_penalty=0.0, random_state=0).fit(X_missing)
        errors = {}
        for center in ["columns", "both"]:
            imputer = TraceNormImputer(
                center=center, effects_penalty=0.0, random_state=0
            )
            errors[center] = _relative_error(
                imputer.fit_transform(X_missing), data, missing
            )
        error = _relative_error(auto.transform(X_missing), data, missing)
        # With offsets both centrings are within 2% (the joint fit lets Z or
        # the row effects carry them): the held-out choice may pick either.
        assert error <= (1.01 if name == "plain" else 1.03) * min(errors.values())
        if name == "plain":
            assert auto.center_ == "columns"
            assert errors["both"] > 1.05 * errors["columns"]


def test_constant_matrix_is_completed_by_the_constant():
    X_missing = _hide(np.full((40, 12), 2.5), 0.4)
    for shrinkage in ["auto", 0.1, 0.0]:
        X_filled = TraceNormImputer(shrinkage, random_state=0).fit_transform(X_missing)
        np.testing.assert_allclose(X_filled, 2.5)


def test_folds_partition_the_observed_entries():
    def entries(n):
        return Observed(np.arange(n) // 100, np.arange(n) % 100, np.ones(n), (n, 100))

    imputer = TraceNormImputer(n_folds=4, random_state=0)
    folds = imputer._folds(entries(1001), np.random.RandomState(0))
    assert len(folds) == 4
    np.testing.assert_array_equal(np.sum(folds, axis=0), np.ones(1001))
    assert {int(f.sum()) for f in folds} <= {250, 251}
    single = TraceNormImputer(n_folds=1, validation_fraction=0.2)
    (held_out,) = single._folds(entries(10_000), np.random.RandomState(0))
    # A hash of each entry's position: binomial, standard deviation 0.004.
    assert abs(held_out.mean() - 0.2) < 0.02
    # Never none, never all (of two or more).
    for fraction, n_held_out in [(1e-9, 1), (1 - 1e-12, 49)]:
        (held_out,) = TraceNormImputer(n_folds=1, validation_fraction=fraction)._folds(
            entries(50), np.random.RandomState(0)
        )
        assert held_out.sum() == n_held_out
    # "auto": k-fold on small data only.
    assert TraceNormImputer()._n_folds(10_000) == 5
    assert TraceNormImputer()._n_folds(10_001) == 1


def test_low_rank_completers_beat_knn_and_iterative_on_race_times():
    """Error against the noise-free speeds, where the rank-1 model is right."""
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    clean, X_missing = _race_times(missing=0.6)
    missing = np.isnan(X_missing)

    def rmse(X_filled):
        return np.sqrt(np.mean((X_filled - clean)[missing] ** 2))

    trace = TraceNormImputer(center=None, random_state=0)
    ours = rmse(trace.fit_transform(X_missing))
    svd = rmse(SVDImputer(1, center=None, random_state=0).fit_transform(X_missing))
    knn = rmse(KNNImputer().fit_transform(X_missing))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        iterative = rmse(IterativeImputer(random_state=0).fit_transform(X_missing))
    assert ours < min(knn, iterative)
    assert svd < 0.6 * min(knn, iterative)


# --- dtype, input, bad input --------------------------------------------------


@pytest.mark.parametrize("Imputer", [TraceNormImputer, SVDImputer])
def test_float32_is_kept_and_input_untouched(Imputer):
    X_missing = _hide(_low_rank(30, 8, 2), 0.3).astype(np.float32)
    before = X_missing.copy()
    params = {"n_components": 2} if Imputer is SVDImputer else {}
    X_filled = Imputer(random_state=0, **params).fit_transform(X_missing)
    assert X_filled.dtype == np.float32
    np.testing.assert_array_equal(X_missing, before)
    observed = ~np.isnan(before)
    np.testing.assert_array_equal(X_filled[observed], before[observed])


# (imputer, tolerance): scale=True with weighted penalties has a nearly flat
# valley (scales and effects trade off), where L-BFGS stops, even at
# tol=1e-12, within about 1e-5 of the optimum.
_UNIT_FREE = [
    (TraceNormImputer(random_state=0), 1e-9),
    (TraceNormImputer(svd_solver="arpack", shrinkage_power=1, random_state=0), 1e-9),
    (SVDImputer(2, random_state=0), 1e-9),
    (
        SVDImputer(
            2,
            scale=True,
            regularization="weighted",
            tol=1e-12,
            max_iter=5000,
            random_state=0,
        ),
        1e-4,
    ),
]
_UNIT_FREE_IDS = ["trace", "trace-arpack", "svd", "svd-scaled-weighted"]


@pytest.mark.parametrize("imputer, tolerance", _UNIT_FREE, ids=_UNIT_FREE_IDS)
def test_completion_follows_the_units_of_X(imputer, tolerance):
    """``a X + c`` is completed as ``a completion(X) + c``, a in 1e-300..1e160.

    Issue 16: SVDImputer returned NaN for X >= 1e160 (its squared errors
    overflowed) and TraceNormImputer raised ArpackError for X scaled by
    1e-300 or 1e160. Reference: the completion of X itself (another input).
    """
    rng = np.random.RandomState(0)
    X = 3.0 + _low_rank(60, 15, 2) + 0.1 * rng.normal(size=(60, 15))
    X_missing = _hide(X, 0.4)
    missing = np.isnan(X_missing)
    rows, cols = np.nonzero(missing)
    reference = clone(imputer).fit(X_missing)
    expected = reference.transform(X_missing)[missing]
    for a in [1e-300, 1e-150, 1e-5, -3.0, 1e5, 1e160]:
        c = 7.0 * abs(a)
        fitted = clone(imputer).fit(a * X_missing + c)
        filled = fitted.transform(a * X_missing + c)[missing]
        entries = fitted.predict_entries(rows, cols)
        for values in [filled, entries]:
            np.testing.assert_allclose(
                (values - c) / a, expected, rtol=tolerance, atol=tolerance
            )
        np.testing.assert_allclose(
            fitted.row_factors_ @ fitted.column_factors_.T / a,
            reference.row_factors_ @ reference.column_factors_.T,
            atol=tolerance,
        )
        if isinstance(imputer, TraceNormImputer):
            assert fitted.alpha_ == pytest.approx(reference.alpha_, 1e-9)
            for name in ["validation_errors_", "singular_values_"]:
                np.testing.assert_allclose(
                    getattr(fitted, name) / abs(a), getattr(reference, name), 1e-9
                )


@pytest.mark.parametrize("imputer, tolerance", _UNIT_FREE, ids=_UNIT_FREE_IDS)
def test_shift_and_float32_give_the_same_completion(imputer, tolerance):
    """A shift of every column shifts the completion; float32 = float64.

    References: the completion of the unshifted X, and the float64
    completion of the same float32 values (other inputs).
    """
    rng = np.random.RandomState(1)
    X = _low_rank(80, 12, 2, seed=1) + 0.1 * rng.normal(size=(80, 12))
    X_missing = _hide(X, 0.3)
    missing = np.isnan(X_missing)
    expected = clone(imputer).fit_transform(X_missing)[missing]
    shifted = clone(imputer).fit_transform(X_missing + 1e6)[missing]
    np.testing.assert_allclose(shifted - 1e6, expected, atol=max(tolerance, 1e-8))
    X32 = X_missing.astype(np.float32)
    filled32 = clone(imputer).fit_transform(X32)
    assert filled32.dtype == np.float32
    filled64 = clone(imputer).fit_transform(X32.astype(np.float64))
    atol32 = max(tolerance, 1e-5)
    np.testing.assert_allclose(filled32[missing], filled64[missing], atol=atol32)
    shifted32 = clone(imputer).fit_transform(X32 + np.float32(1e3))
    np.testing.assert_allclose(
        shifted32[missing] - 1e3, filled64[missing], atol=max(tolerance, 5e-4)
    )
    # The input's own rounding to float32 moves the completion by as little.
    np.testing.assert_allclose(filled32[missing], expected, atol=atol32)


@pytest.mark.parametrize("Imputer", [TraceNormImputer, SVDImputer])
def test_bad_input_is_named(Imputer):
    params = {"n_components": 1} if Imputer is SVDImputer else {}
    X = _hide(_low_rank(20, 5, 1), 0.2)
    with pytest.raises(ValueError, match="X has no observed entry"):
        Imputer(**params).fit(np.full((4, 3), np.nan))
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        Imputer(**params).fit(X_inf)
    X_sparse = _to_sparse(X)
    X_sparse.data[0] = np.nan
    with pytest.raises(ValueError, match="stored NaN entries"):
        Imputer(**params).fit(X_sparse)
    with pytest.raises(ValueError, match="missing_values=0 is ambiguous"):
        Imputer(missing_values=0, **params).fit(_to_sparse(X))


def test_bad_parameters_are_named():
    X = _hide(_low_rank(20, 5, 1), 0.2)
    with pytest.raises(ValueError, match=r"n_components=5 must be < min\(n_samples"):
        SVDImputer(5).fit(X)
    with pytest.raises(ValueError, match="n_components=7 must be <"):
        TraceNormImputer(n_components=7).fit(X)
    with pytest.raises(ValueError, match="'alpha' parameter"):
        SVDImputer(1, alpha=-1.0).fit(X)
    with pytest.raises(ValueError, match="'alpha' parameter"):
        TraceNormImputer(-0.5).fit(X)
    with pytest.raises(ValueError, match="'relax' parameter"):
        TraceNormImputer(relax=1.5).fit(X)
    with pytest.raises(ValueError, match="'shrinkage_power' parameter"):
        TraceNormImputer(shrinkage_power=3).fit(X)
    with pytest.raises(ValueError, match="svd_solver='als' solves the nuclear"):
        TraceNormImputer(shrinkage_power=2, svd_solver="als").fit(X)
    with pytest.raises(ValueError, match="'n_folds' parameter"):
        TraceNormImputer(n_folds=0).fit(X)
    with pytest.raises(ValueError, match="'center' parameter"):
        TraceNormImputer(center="rowz").fit(X)
    with pytest.raises(ValueError, match="'center' parameter"):
        SVDImputer(1, center="auto").fit(X)
    # inf can never mark a missing entry: X must be finite where observed.
    for Imputer, params in [(TraceNormImputer, {}), (SVDImputer, {"n_components": 1})]:
        for missing_values in [np.inf, -np.inf]:
            with pytest.raises(ValueError, match="'missing_values' parameter"):
                Imputer(missing_values=missing_values, **params).fit(X)
    # Each fold holds out at least one observed entry; this used to loop
    # over 10^12 folds.
    n_obs = int(np.sum(~np.isnan(X)))
    with pytest.raises(ValueError, match=rf"n_folds=10+ must be <= .* \({n_obs}\)"):
        TraceNormImputer(n_folds=10**12).fit(X)
    TraceNormImputer(n_folds=n_obs, n_shrinkages=2, center="both").fit(X)


def test_convergence_warning():
    X = _hide(_low_rank(30, 10, 3), 0.3)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        TraceNormImputer(0.1, max_iter=2, tol=0.0, random_state=0).fit(X)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        SVDImputer(2, max_iter=2, tol=0.0, random_state=0).fit(X)
    # The default tol, with the effects fitted jointly: 2 iterations per
    # solve are far from enough.
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        TraceNormImputer(0.1, max_iter=2, effects_penalty=0.0, random_state=0).fit(X)


# _hide leaves a row with no observed entry here; the warning is tested in
# the cold-start tests.
@pytest.mark.filterwarnings("ignore::mathlearn.exceptions.EmptyRowWarning")
def test_convergence_warning_when_the_joint_effects_do_not_settle():
    """Row effects and a nearly full-rank Z trade off: block descent is slow.

    At this small shrinkage (0.003 lambda_max, rank 9 of 10) the joint
    objective still falls after 100 solver iterations, so a budget of
    10 * max_iter = 100 stops far from the optimum and must say so; the
    default budget of 1000 lets it settle.
    """
    rng = np.random.RandomState(0)
    X = _low_rank(300, 10, 2, seed=1) + 0.3 * rng.normal(size=(300, 10))
    X_missing = _hide(X, 0.5, seed=2)
    params = {"center": "both", "effects_penalty": 0.0, "random_state": 0}
    lam_max = TraceNormImputer(**params).fit(X_missing).alphas_[0]
    with pytest.warns(ConvergenceWarning, match="did not settle"):
        TraceNormImputer(0.003 * lam_max, max_iter=10, **params).fit(X_missing)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        imputer = TraceNormImputer(0.003 * lam_max, **params).fit(X_missing)
    assert 100 < imputer.n_iter_ <= 10 * imputer.max_iter


@pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")
def test_shrinkage_above_the_top_singular_value_gives_zero_without_warning():
    """Z = 0 is optimal once shrinkage >= ||P_O(X)||_2 (numpy's norm here).

    The iterates then shrink to 0 at a constant relative change, which the
    tolerance alone would never accept.
    """
    rng = np.random.RandomState(0)
    X = _low_rank(30, 12, 2) + 0.1 * rng.normal(size=(30, 12))
    X_missing = _hide(X, 0.3)
    lam_max = np.linalg.norm(np.nan_to_num(X_missing), 2)
    lam_max /= _unit(X_missing, centred=False)
    for lam in [1.01 * lam_max, 3.0 * lam_max]:
        imputer = TraceNormImputer(lam, center=None, random_state=0).fit(X_missing)
        assert imputer.n_components_ == 0
    # Just below, Z is not 0.
    imputer = TraceNormImputer(0.9 * lam_max, center=None, random_state=0)
    assert imputer.fit(X_missing).n_components_ >= 1


def test_verbose_prints_a_table(capsys):
    X = _hide(_low_rank(30, 10, 2), 0.3)
    TraceNormImputer(n_shrinkages=3, verbose=1, random_state=0).fit(X)
    assert "valid. RMSE" in capsys.readouterr().out
    SVDImputer(2, verbose=1, random_state=0).fit(X)
    assert "objective" in capsys.readouterr().out


@pytest.mark.parametrize("penalty_shape", ["scalar", "rows", "rows_by_rank"])
def test_ridge_rows_matches_dense_per_row_solve(penalty_shape):
    # Rows of very different lengths (one full, some empty), small chunks;
    # both Gram paths against np.linalg.lstsq on each row's own entries.
    rng = np.random.RandomState(0)
    n_rows, n_cols, rank = 300, 120, 4
    counts = np.minimum(rng.zipf(1.5, size=n_rows), n_cols)
    counts[:3] = [0, n_cols, 0]
    rows = np.repeat(np.arange(n_rows), counts)
    cols = np.concatenate([rng.choice(n_cols, c, replace=False) for c in counts])
    obs = observed_entries(
        sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n_rows, n_cols)),
        np.nan,
    )
    pattern = Pattern(obs)
    pattern.padded_rows(chunk=16, budget=200)
    values = rng.normal(size=rows.size)
    B = rng.normal(size=(n_cols, rank))
    penalty = {
        "scalar": 0.3,
        "rows": rng.uniform(0.1, 1.0, n_rows),
        "rows_by_rank": rng.uniform(0.1, 1.0, (n_rows, rank)),
    }[penalty_shape]
    full = np.broadcast_to(
        penalty if np.ndim(penalty) != 1 else penalty[:, None], (n_rows, rank)
    )
    expected = np.zeros((n_rows, rank))
    for i in range(n_rows):
        here = obs.rows == i
        # Ridge as least squares on the design stacked over sqrt(penalty) I.
        design = np.vstack([B[obs.cols[here]], np.diag(np.sqrt(full[i]))])
        target = np.concatenate([values[here], np.zeros(rank)])
        expected[i] = np.linalg.lstsq(design, target, rcond=None)[0]
    sparse = ridge_rows(pattern, values, B, penalty, method="sparse")
    padded = ridge_rows(pattern, values, B, penalty, method="padded")
    np.testing.assert_allclose(sparse, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(padded, expected, rtol=1e-9, atol=1e-12)
    # On threads (as in a fit with n_jobs=2): the chunks write disjoint rows.
    with ridge_threads(2):
        threaded = ridge_rows(pattern, values, B, penalty, method="padded")
    np.testing.assert_array_equal(threaded, padded)


@pytest.mark.parametrize(
    "shape, fraction",
    [((300, 40), 0.5), ((300, 40), 0.01), ((5000, 3000), 0.001)],
    ids=["dense product", "gathered rows", "large and sparse"],
)
def test_row_dot_is_the_dot_product_of_each_entry_s_factor_rows(shape, fraction):
    rng = np.random.RandomState(0)
    A, B = rng.randn(shape[0], 7), rng.randn(shape[1], 7)
    n = max(1, int(fraction * shape[0] * shape[1]))
    rows, cols = rng.randint(shape[0], size=n), rng.randint(shape[1], size=n)
    expected = [A[i] @ B[j] for i, j in zip(rows[:500], cols[:500], strict=True)]
    np.testing.assert_allclose(
        row_dot(A, B, rows, cols)[:500], expected, rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        row_dot(A, B, rows, cols, chunk=64)[:500], expected, rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("shape", [(120, 9), (400, 300)], ids=["dense", "qr"])
def test_squared_change_is_the_relative_change_of_the_dense_matrices(shape):
    # Near convergence (a change of 1e-7): the dense difference, formed in
    # extended precision, is the reference.
    rng = np.random.RandomState(0)
    m, n = shape
    U0, V0 = np.linalg.qr(rng.randn(m, 4))[0], np.linalg.qr(rng.randn(n, 4))[0]
    U1 = np.linalg.qr(U0 + 1e-7 * rng.randn(m, 4))[0]
    V1 = np.linalg.qr(V0 + 1e-7 * rng.randn(n, 4))[0]
    d0, d1 = np.array([5.0, 3.0, 2.0, 1.0]), np.array([5.0, 3.0, 2.0, 1.0]) + 1e-7
    Z0 = (U0 * d0).astype(np.longdouble) @ V0.T.astype(np.longdouble)
    Z1 = (U1 * d1).astype(np.longdouble) @ V1.T.astype(np.longdouble)
    expected = float(np.sum((Z0 - Z1) ** 2) / np.sum(Z0**2))
    got = _squared_change(U0, d0, V0, U1, d1, V1)
    assert got == pytest.approx(expected, rel=1e-6)
    assert _squared_change(U0, 0 * d0, V0, U1, d1, V1) == 1.0


@pytest.mark.parametrize("n_features, expected_rank", [(4, 3), (10, 9), (30, 10)])
def test_svd_imputer_default_rank_fits_small_tables(n_features, expected_rank):
    """n_components="auto" works on tables with <= 10 features (iris, diabetes)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 2)) @ rng.normal(size=(2, n_features))
    X[rng.rand(*X.shape) < 0.2] = np.nan
    imputer = SVDImputer(random_state=0).fit(X)
    assert imputer.n_components == "auto" and imputer.n_components_ == expected_rank
    assert np.isfinite(imputer.transform(X)).all()
    with pytest.raises(ValueError, match=f"n_components={n_features} must be <"):
        SVDImputer(n_components=n_features).fit(X)


def test_fixed_effects_penalty_gives_the_shrunken_column_means():
    """Reference: each column's residual sum over its count plus the penalty.

    At a shrinkage above lambda_max Z = 0, so the column effects are the
    ridge (posterior-mean) estimates of a one-way model, computed here with
    numpy directly.
    """
    X_missing = _hide(_low_rank(30, 12, 2, seed=4) + 3.0, 0.6, seed=1)
    penalty = 5.0
    imputer = TraceNormImputer(
        1e6, center="columns", effects_penalty=penalty, random_state=0
    ).fit(X_missing)
    observed = ~np.isnan(X_missing)
    mean = np.nanmean(X_missing)
    sums = np.where(observed, X_missing - mean, 0.0).sum(axis=0)
    expected = sums / (observed.sum(axis=0) + penalty)
    np.testing.assert_allclose(imputer.mean_, mean)
    np.testing.assert_allclose(imputer.column_effects_, expected, rtol=1e-10)
    np.testing.assert_allclose(imputer.effects_penalties_, [penalty, penalty])


@pytest.mark.parametrize(
    "n_users, n_items, n_ratings, bound",
    [(120, 200, 3000, 1.01), (500, 1000, 15_000, 0.99)],
    ids=["small-table", "shrunk-effects"],
)
def test_svd_imputer_default_is_not_worse_than_the_effects_alone(
    n_users, n_items, n_ratings, bound
):
    """Issue 19: SVDImputer() on ratings was worse than the effects alone.

    Reference: the unpenalised two-way model mean + a_i + b_j fitted by
    least squares with scipy's lsqr on the one-hot design, scored on the same
    held-out ratings. Above a small table the default shrinks the effects
    (``effects_penalty="auto"``): most users and items have a few ratings
    each, and the shrunk effects beat the least-squares ones by over 1%.
    """
    from scipy.sparse.linalg import lsqr

    from mathlearn.datasets import make_ratings

    frame, _ = make_ratings(n_users, n_items, n_ratings, random_state=0)
    users, items, ratings = (frame[c].to_numpy() for c in frame.columns)
    test = np.random.RandomState(0).rand(ratings.size) < 0.2
    train = ~test
    shape = (n_users, n_items)
    X = sp.csr_matrix((ratings[train], (users[train], items[train])), shape=shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyRowWarning)
        imputer = SVDImputer(random_state=0).fit(X)
    predicted = imputer.predict_entries(users[test], items[test])

    def design(u, i):
        n = u.size
        return sp.hstack(
            [
                sp.csr_matrix(np.ones((n, 1))),
                sp.csr_matrix((np.ones(n), (np.arange(n), u)), shape=(n, n_users)),
                sp.csr_matrix((np.ones(n), (np.arange(n), i)), shape=(n, n_items)),
            ]
        ).tocsr()

    coef = lsqr(design(users[train], items[train]), ratings[train], atol=1e-12)[0]
    effects_only = design(users[test], items[test]) @ coef

    def rmse(p):
        return np.sqrt(np.mean((p - ratings[test]) ** 2))

    assert rmse(predicted) <= bound * rmse(effects_only)


@pytest.mark.parametrize(
    "shape, n_obs", [((610, 8972), 80_000), ((6000, 4000), 800_000), ((5, 7), 35)]
)
def test_identifiable_rank_is_the_largest_rank_the_entries_determine(shape, n_obs):
    """Reference: brute force over r of r (m + n - r) <= n_obs."""
    from mathlearn.impute._trace_norm import identifiable_rank

    m, n = shape
    feasible = [r for r in range(1, min(m, n) + 1) if r * (m + n - r) <= n_obs]
    assert identifiable_rank(shape, n_obs) == max(feasible, default=1)


def test_rank_grows_only_while_it_pays_on_held_out_entries():
    """Issue 19: above a small table the path's rank stops at the signal's.

    Skewed ratings of a rank-4 truth plus noise (3,000 x 2,000, 180,000
    ratings): without the held-out rank limit the path grew the rank to 40
    (components as small as the shrinkage, fitting noise) at 7x the time,
    for a worse validation error. Reference: the noiseless truth of ratings
    the fit never saw, against the fitted effects alone.
    """
    from mathlearn.datasets import make_ratings

    frame, truth = make_ratings(3000, 2000, 200_000, rank=4, random_state=0)
    users, items, ratings = (frame[c].to_numpy() for c in frame.columns)
    test = np.random.RandomState(0).rand(ratings.size) < 0.1
    train = ~test
    X = sp.csr_matrix(
        (ratings[train], (users[train], items[train])), shape=(3000, 2000)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyRowWarning)
        imputer = TraceNormImputer(random_state=0).fit(X)
    assert imputer.n_components_ <= 2 * 4
    predicted = imputer.predict_entries(users[test], items[test])
    effects = (
        imputer.mean_
        + imputer.row_effects_[users[test]]
        + imputer.column_effects_[items[test]]
    )

    def rmse(p):
        return np.sqrt(np.mean((p - truth[test]) ** 2))

    assert rmse(predicted) <= 0.75 * rmse(effects)


def test_large_table_effects_are_least_squares_from_the_split_warm_start():
    """Above a small table the final centring starts from the held-out
    split's effects (a few sweeps instead of up to 20); it must still end at
    the least-squares effects of all entries. Reference: scipy's lsqr on the
    one-hot design of mean + row + column effects (effects_penalty=0).
    """
    rng = np.random.RandomState(0)
    m, n = 300, 1000  # 300,000 entries: above a small table
    X = 2.0 + rng.normal(size=(m, 1)) + rng.normal(size=(1, n))
    X = X + _low_rank(m, n, 2, seed=3) + 0.5 * rng.normal(size=(m, n))
    observed = rng.rand(m, n) < 0.4
    expected = _least_squares_effects(X, observed)
    imputer = TraceNormImputer(effects_penalty=0.0, random_state=0).fit(
        np.where(observed, X, np.nan)
    )
    assert imputer.center_ == "both"
    effects = (
        imputer.mean_ + imputer.row_effects_[:, None] + imputer.column_effects_[None, :]
    )
    np.testing.assert_allclose(effects, expected, atol=1e-5 * X.std())


def test_verbose_prints_progress_within_a_solve(monkeypatch, capsys):
    """Issue 19: verbose=1 printed only between path steps."""
    import mathlearn.impute._soft_impute as soft_impute

    monkeypatch.setattr(soft_impute, "_PROGRESS_SECONDS", 0.0)
    X_missing = _hide(_low_rank(30, 12, 2, seed=4), 0.3)
    TraceNormImputer(0.1, verbose=1, random_state=0).fit(X_missing)
    assert "    iter " in capsys.readouterr().out


@pytest.mark.parametrize("cls", [TraceNormImputer, SVDImputer])
def test_skops_asks_to_trust_only_the_estimator(cls):
    """The private NamedTuples of the fitted model are saved as plain tuples."""
    sio = pytest.importorskip("skops.io")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6))
    X[rng.random(X.shape) < 0.2] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        imputer = cls(random_state=0).fit(X)
    data = sio.dumps(imputer)
    untrusted = sio.get_untrusted_types(data=data)
    assert untrusted == [f"{cls.__module__}.{cls.__name__}"]
    loaded = sio.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(loaded.transform(X), imputer.transform(X))
    np.testing.assert_array_equal(
        loaded.predict_entries([0, 5], [1, 2]), imputer.predict_entries([0, 5], [1, 2])
    )


def test_alpha_is_the_same_penalty_in_both_completers():
    """One name, one thing: ``alpha`` of TraceNormImputer and of SVDImputer.

    ``||Z||_* = min_{Z = A B^T} (||A||^2 + ||B||^2) / 2``, so the nuclear-norm
    problem at ``alpha`` is the factorisation problem at ``alpha`` at any rank
    above the solution's: soft-impute and L-BFGS on the factors, two different
    algorithms, must complete the matrix alike.
    """
    rng = np.random.RandomState(0)
    X = _low_rank(40, 25, 3, seed=1) + 0.5 * rng.normal(size=(40, 25))
    X_missing = _hide(X, 0.3, seed=2)
    common = {"center": "both", "tol": 1e-14, "random_state": 0}
    trace = TraceNormImputer(
        5.0, relax=0, shrinkage_power=1, effects_penalty=0.0, max_iter=5000, **common
    ).fit(X_missing)
    factors = SVDImputer(
        trace.n_components_ + 3, alpha=5.0, max_iter=20000, **common
    ).fit(X_missing)
    np.testing.assert_allclose(
        factors.transform(X_missing), trace.transform(X_missing), atol=1e-4
    )


_FUTURE = "was deprecated in 0.2 and will be removed in 0.3; use `{}`"


@pytest.mark.parametrize(
    "estimator, old, new, value",
    [
        (TraceNormImputer, "shrinkage", "alpha", 2.0),
        (TraceNormImputer, "max_rank", "n_components", 2),
        (SVDImputer, "rank", "n_components", 2),
    ],
)
def test_renamed_parameter_warns_and_is_forwarded(estimator, old, new, value):
    X_missing = _hide(_low_rank(30, 12, 2, seed=3), 0.3, seed=4)
    params = {"random_state": 0}
    if estimator is TraceNormImputer:
        params.update(n_shrinkages=4, center="both")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        reference = estimator(**params, **{new: value}).fit(X_missing)
    message = f"`{old}` " + _FUTURE.format(new)
    with pytest.warns(FutureWarning, match=message):
        imputer = estimator(**params, **{old: value}).fit(X_missing)
    np.testing.assert_array_equal(
        imputer.transform(X_missing), reference.transform(X_missing)
    )


@pytest.mark.parametrize(
    "estimator, old, new",
    [
        (TraceNormImputer, "rank_", "n_components_"),
        (SVDImputer, "rank_", "n_components_"),
        (TraceNormImputer, "shrinkage_", "alpha_"),
        (TraceNormImputer, "shrinkage_path_", "alphas_"),
    ],
)
def test_renamed_attribute_warns_and_reads_the_new_one(estimator, old, new):
    X_missing = _hide(_low_rank(30, 12, 2, seed=3), 0.3, seed=4)
    imputer = estimator(random_state=0).fit(X_missing)
    with pytest.warns(FutureWarning, match=f"`{old}` " + _FUTURE.format(new)):
        value = getattr(imputer, old)
    np.testing.assert_array_equal(value, getattr(imputer, new))


@pytest.mark.parametrize("fragment", sorted(SHARED_DOCS))
def test_shared_descriptions_are_in_both_docstrings(fragment):
    first_line = SHARED_DOCS[fragment].splitlines()[0]
    for Imputer in (TraceNormImputer, SVDImputer):
        assert "{{" not in Imputer.__doc__
        assert first_line in Imputer.__doc__, (Imputer.__name__, fragment)


def test_svd_default_is_not_worse_than_the_effects_alone_on_noise():
    """Issue 19: a default must never be worse than the effects-only baseline.

    Pure noise around mean + row + column effects, on a matrix wide enough
    that the noise's top singular value (about sqrt(20000), in the unit of
    the fit) exceeds 100, the largest finite penalty of alpha="auto": there
    every finite penalty fits noise (alpha=100 is 1% worse on the held-out
    entries), and the default must fall back to the effects alone. The
    reference is the least-squares fit of mean + row + column effects by
    scipy's lsqr on the training entries.
    """
    rng = np.random.RandomState(0)
    m, n = 20, 20000
    X = 3.0 + 0.1 * rng.normal(size=(m, 1)) + 0.1 * rng.normal(size=(1, n))
    X = X + rng.normal(size=(m, n))
    test = rng.rand(m, n) < 0.1
    effects = _least_squares_effects(X, ~test)
    reference = np.sqrt(np.mean((effects - X)[test] ** 2))

    imputer = SVDImputer(random_state=0).fit(np.where(test, np.nan, X))
    filled = imputer.transform(np.where(test, np.nan, X))
    error = np.sqrt(np.mean((filled - X)[test] ** 2))
    assert error <= reference * (1 + 1e-3)
    # The effects alone were chosen; any factor would fit noise here.
    assert imputer.alpha_ == np.inf and imputer.n_components_ == 0
    assert np.isinf(imputer.alphas_[0])
