"""Missing-value SVD: a fixed-rank factorisation fitted by L-BFGS."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.extmath import randomized_svd

from mathlearn.impute._base import (
    LowRankFit,
    Pattern,
    _BaseLowRankImputer,
    check_rank,
    ridge_rows,
    ridge_rows_with_effect,
    row_dot,
)
from mathlearn.impute._centering import CENTER_OPTIONS
from mathlearn.utils._sklearn_compat import Interval, StrOptions

# rank="auto": at most this many factors, fewer when the table is smaller.
_AUTO_RANK = 10


def factor_objective(
    theta, pattern, target, inv_scale, rank, alpha, w_row, w_col, fit_rows, fit_cols
):
    """Penalised squared error on the observed entries, and its gradient.

    The prediction of entry ``(i, j)`` is ``a_i . b_j + c_ij (r_i + k_j)``,
    with factors ``A`` (rows ``a_i``) and ``B``, row and column effects ``r``
    and ``k`` (present only when ``fit_rows`` / ``fit_cols``), and
    ``c = inv_scale``. With errors ``e = prediction - target``,

    ``f = 1/2 sum_O e^2 + alpha/2 (sum_i w_row_i ||a_i||^2
    + sum_j w_col_j ||b_j||^2)``,

    ``df/dA = E B + alpha w_row A``, ``df/dB = E^T A + alpha w_col B``,
    ``df/dr_i = sum_j c_ij e_ij``, ``df/dk_j = sum_i c_ij e_ij``, with ``E``
    the sparse matrix of the errors: ``O(|O| rank)`` time. ``theta`` is
    ``concat(A.ravel(), B.ravel(), r, k)``.
    """
    m, n = pattern.shape
    rows, cols = pattern.rows, pattern.cols
    A = theta[: m * rank].reshape(m, rank)
    B = theta[m * rank : (m + n) * rank].reshape(n, rank)
    offset = (m + n) * rank
    prediction = row_dot(A, B, rows, cols)
    if fit_rows:
        row_eff = theta[offset : offset + m]
        offset += m
        prediction += inv_scale * row_eff[rows]
    if fit_cols:
        col_eff = theta[offset : offset + n]
        prediction += inv_scale * col_eff[cols]
    error = prediction - target
    wA = w_row[:, None] * A
    wB = w_col[:, None] * B
    f = 0.5 * float(error @ error) + 0.5 * alpha * (
        float(np.sum(wA * A)) + float(np.sum(wB * B))
    )
    E = pattern.matrix(error)
    grads = [
        (np.asarray(E @ B) + alpha * wA).ravel(),
        (np.asarray(E.T @ A) + alpha * wB).ravel(),
    ]
    weighted = error * inv_scale
    if fit_rows:
        grads.append(np.bincount(rows, weights=weighted, minlength=m))
    if fit_cols:
        grads.append(np.bincount(cols, weights=weighted, minlength=n))
    return f, np.concatenate(grads)


class SVDImputer(_BaseLowRankImputer):
    """Complete a matrix with a rank-``rank`` factorisation fitted by L-BFGS.

    After removing a global mean and row and column effects (see ``center``),
    the residuals ``e_ij`` of the observed entries are fitted by
    ``u_i . v_j`` with ``u_i, v_j`` in ``R^rank``, minimising

    ``1/2 sum_{(i, j) observed} (u_i . v_j - e_ij)^2
    + alpha/2 (sum_i w_i ||u_i||^2 + sum_j w_j ||v_j||^2)``

    with :func:`scipy.optimize.minimize` (``method="L-BFGS-B"``) and the
    analytic gradient, vectorised over the observed entries; the effects are
    refitted with the factors. The model of an entry is
    ``mean_ + a_i + b_j + u_i . v_j``; with ``center=None`` and ``rank=1``
    it is ``u_i v_j``, an athlete's speed times a course's difficulty.
    Observed entries are kept by ``transform``.

    The fit does not depend on the units of ``X``: it runs on ``X`` divided
    by the root-mean-square of its observed entries after removing their
    mean (without removing it when ``center=None``), so the residuals
    ``e_ij`` and ``alpha`` are numbers on that scale, and completing
    ``a X + c`` gives ``a`` times the completion of ``X`` plus ``c``.

    Sparse input is accepted, and then its *stored entries are the observed
    values* (unstored entries are missing; a stored NaN is an error). A row
    or column with no observed entry is predicted from the effects alone
    (see :meth:`fit`).

    Parameters
    ----------
    rank : int or "auto", default="auto"
        Number of factors; an int must be below ``min(n_samples,
        n_features)``. ``"auto"`` takes ``min(10, min(n_samples, n_features)
        - 1)`` (rows and columns with an observed entry), so the default
        works on tables with few features; the rank used is ``rank_``.
    alpha : float, default=1e-2
        Weight of the L2 penalty on the factors, on the scale of ``X``
        divided by the root-mean-square of its centred observed entries.
    regularization : {"uniform", "weighted"}, default="uniform"
        ``"uniform"``: every row and column weighs 1 (``w_i = w_j = 1``).
        ``"weighted"``: each weighs its number of observed entries, so the
        penalty is ``alpha`` per observed entry; this is the weighted trace
        norm of Salakhutdinov & Srebro (2010), which suits entries observed
        far from uniformly (a few rows or columns with most entries).
    max_iter : int, default=500
        Maximum number of L-BFGS iterations.
    tol : float, default=1e-6
        Stop when the relative decrease of the objective in an iteration or
        the largest gradient component (on the standardised scale) falls
        below ``tol`` (L-BFGS-B's ``ftol`` and ``gtol``).
    center : {"both", "rows", "columns", "global"} or None, default="both"
        Effects removed before the factorisation: a global mean plus row and
        column effects (``"both"``), plus only one kind, only the global mean,
        or nothing (``None``).
    scale : bool, default=False
        Also divide each residual by a row scale times a column scale, fitted
        on the observed entries (a bi-scaler).
    missing_values : float or np.nan, default=np.nan
        The placeholder for missing entries of a dense ``X``: a finite
        number or ``np.nan``. Not ``np.inf``: as in scikit-learn's imputers,
        ``X`` must be finite where observed.
    random_state : int, RandomState instance or None, default=None
        Seeds the randomized SVD that starts the factors.
    verbose : int, default=0
        If positive, print L-BFGS's progress every ``verbose`` iterations.

    Attributes
    ----------
    row_factors_ : ndarray of shape (n_samples_fit, rank)
        The factors ``u_i`` of the training rows: their fold-in (see Notes).
        Zero for a row with no observed entry.
    column_factors_ : ndarray of shape (n_features, rank)
        The factors ``v_j``; zero for a column with no observed entry.
    rank_ : int
        The number of factors fitted: ``rank``, or what ``"auto"`` chose.
    objective_ : float
        The penalised objective at the fitted factors and effects (on the
        scale of ``X`` divided by the root-mean-square of its centred
        observed entries).
    center_ : str or None
        The centring used, equal to ``center``.
    mean_ : float
        Global mean removed (0 when ``center=None``).
    row_effects_ : ndarray of shape (n_samples_fit,)
        Row effects of the training rows (0 for a row with no observed
        entry).
    column_effects_ : ndarray of shape (n_features,)
        Column effects (0 for a column with no observed entry).
    row_scales_ : ndarray of shape (n_samples_fit,)
        Row scales of the training rows (ones unless ``scale=True``),
        relative to the root-mean-square of the centred observed entries.
    column_scales_ : ndarray of shape (n_features,)
        Column scales (ones unless ``scale=True``).
    n_iter_ : int
        Number of L-BFGS iterations.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit. Defined only when ``X`` has
        feature names that are all strings.

    See Also
    --------
    TraceNormImputer : Convex nuclear-norm completion, rank chosen by the data.
    SOMImputer : Imputation from a self-organizing map.
    sklearn.impute.IterativeImputer : Regresses each feature on the others.

    Notes
    -----
    The factors start from a truncated SVD of the zero-filled residual
    matrix divided by the observed fraction. Objective and gradient cost
    ``O(|O| rank)``; memory is ``O(|O| + (n_samples + n_features) rank)``.

    Given the column factors and effects, the optimal ``u_i`` (with the
    row effect, when there is one) is the ridge fit of row ``i``'s residuals
    on them, with penalty ``alpha * w_i``. The fit ends with this exact
    block update of every training row (from where L-BFGS stopped, it can
    only lower the objective); ``transform`` folds every row in the same
    way, so a training row gets exactly its fitted completion (the value
    :meth:`predict_entries` reads) and a new row is treated the same way.

    References
    ----------
    R. Salakhutdinov and N. Srebro (2010). Collaborative filtering in a
    non-uniform world: learning with the weighted trace norm. NIPS 23.

    S. Funk (2006). Netflix update: try this at home (the regularised
    factorisation of the observed entries).

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.impute import SVDImputer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 2)) @ rng.normal(size=(2, 30))
    >>> X_missing = X.copy()
    >>> X_missing[rng.rand(*X.shape) < 0.5] = np.nan
    >>> imputer = SVDImputer(rank=2, alpha=1e-6, random_state=0)
    >>> X_filled = imputer.fit_transform(X_missing)
    >>> missing = np.isnan(X_missing)
    >>> error = np.linalg.norm((X_filled - X)[missing]) / np.linalg.norm(X[missing])
    >>> print(f"relative error {error:.4f}")
    relative error 0.00...
    """

    _parameter_constraints = {
        "rank": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "regularization": [StrOptions({"uniform", "weighted"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "center": [StrOptions(CENTER_OPTIONS), None],
        "scale": ["boolean"],
        "missing_values": [Interval(Real, None, None, closed="neither"), "nan"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    _test_params = {"rank": 1}

    def __init__(
        self,
        rank="auto",
        *,
        alpha=1e-2,
        regularization="uniform",
        max_iter=500,
        tol=1e-6,
        center="both",
        scale=False,
        missing_values=np.nan,
        random_state=None,
        verbose=0,
    ):
        self.rank = rank
        self.alpha = alpha
        self.regularization = regularization
        self.max_iter = max_iter
        self.tol = tol
        self.center = center
        self.scale = scale
        self.missing_values = missing_values
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self, obs):
        check_rank("rank", self._rank(obs.shape), obs.shape)

    def _rank(self, shape):
        """The rank to fit: ``rank``, or ``"auto"`` resolved for ``shape``."""
        if self.rank == "auto":
            return max(1, min(_AUTO_RANK, min(shape) - 1))
        return self.rank

    def _weights(self, counts):
        if self.regularization == "weighted":
            return counts.astype(np.float64)
        return np.ones(counts.shape[0])

    def _fit_low_rank(self, obs, residual, centering, center, rng, selection):
        m, n = obs.shape
        rank = self._rank(obs.shape)
        pattern = Pattern(obs)
        w_row = self._weights(np.bincount(obs.rows, minlength=m))
        w_col = self._weights(np.bincount(obs.cols, minlength=n))
        fit_rows = center in ("both", "rows")
        fit_cols = center in ("both", "columns")
        # Effects are refitted jointly with the factors, on the scale of the
        # standardised residuals; the centring only starts them.
        inv_scale = 1.0 / (
            centering.row_scales[obs.rows] * centering.column_scales[obs.cols]
        )
        target = (obs.vals - centering.mean) * inv_scale
        fraction = obs.rows.shape[0] / (m * n)
        U, sigma, Vt = randomized_svd(pattern.matrix(residual), rank, random_state=rng)
        root = np.sqrt(sigma / fraction)
        theta0 = [(U * root).ravel(), (Vt.T * root).ravel()]
        if fit_rows:
            theta0.append(centering.row_effects)
        if fit_cols:
            theta0.append(centering.column_effects)
        callback = None
        if self.verbose:
            print(f"{'iter':>5} {'objective':>14}")

            def callback(intermediate_result):
                callback.n_iter += 1
                if callback.n_iter % int(self.verbose) == 0:
                    print(f"{callback.n_iter:>5} {intermediate_result.fun:>14.8g}")

            callback.n_iter = 0
        args = (pattern, target, inv_scale, rank, self.alpha, w_row, w_col)
        result = minimize(
            factor_objective,
            np.concatenate(theta0),
            args=(*args, fit_rows, fit_cols),
            method="L-BFGS-B",
            jac=True,
            options={"maxiter": self.max_iter, "ftol": self.tol, "gtol": self.tol},
            callback=callback,
        )
        if result.status == 1:
            warnings.warn(
                f"SVDImputer did not converge in max_iter={self.max_iter} "
                "L-BFGS iterations; increase max_iter or tol",
                ConvergenceWarning,
                stacklevel=3,
            )
        theta = result.x
        offset = (m + n) * rank
        effects = centering
        if fit_rows:
            effects = effects._replace(row_effects=theta[offset : offset + m])
            offset += m
        if fit_cols:
            effects = effects._replace(column_effects=theta[offset : offset + n])
        column_factors = theta[m * rank : (m + n) * rank].reshape(n, rank)
        return LowRankFit(effects, column_factors, None, {"n_iter_": int(result.nit)})

    def _fold_in(self, obs, model, row_effects, row_scales, counts):
        """Joint ridge fit of each row's effect (unpenalised) and factors."""
        e = model.effects
        t = e.column_scales
        s = row_scales[obs.rows]
        target = (obs.vals - e.mean - e.column_effects[obs.cols]) / (s * t[obs.cols])
        penalty = self.alpha * self._weights(counts)
        pattern = Pattern(obs)
        if model.center not in ("both", "rows"):
            return row_effects, ridge_rows(
                pattern, target, model.column_factors, penalty
            )
        # Unknowns (r_i / s_i, u_i) against design (1 / t_j, v_j).
        effects, A = ridge_rows_with_effect(
            pattern, target, model.column_factors, penalty, 1.0 / t
        )
        return effects * row_scales, A

    def _fitted_attributes(self, obs, model, attributes):
        """The objective at the final factors (after the rows' fold-in)."""
        m, n = obs.shape
        e = model.effects
        inv_scale = 1.0 / (e.row_scales[obs.rows] * e.column_scales[obs.cols])
        theta = [model.row_factors.ravel(), model.column_factors.ravel()]
        fit_rows = model.center in ("both", "rows")
        fit_cols = model.center in ("both", "columns")
        if fit_rows:
            theta.append(e.row_effects)
        if fit_cols:
            theta.append(e.column_effects)
        objective, _ = factor_objective(
            np.concatenate(theta),
            Pattern(obs),
            (obs.vals - e.mean) * inv_scale,
            inv_scale,
            model.column_factors.shape[1],
            self.alpha,
            self._weights(np.bincount(obs.rows, minlength=m)),
            self._weights(np.bincount(obs.cols, minlength=n)),
            fit_rows,
            fit_cols,
        )
        return {**attributes, "objective_": objective}
