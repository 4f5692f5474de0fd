"""Missing-value SVD: a fixed-rank factorisation fitted by L-BFGS."""

import warnings
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.extmath import randomized_svd

from mathlearn.impute._base import (
    LowRankFit,
    Model,
    Pattern,
    _BaseLowRankImputer,
    check_rank,
    fill_shared_docs,
    held_out_split,
    ridge_rows,
    ridge_rows_with_effect,
    row_dot,
    subset,
)
from mathlearn.impute._centering import (
    CENTER_OPTIONS,
    fit_centering,
    fits_columns,
    fits_rows,
    standardize,
)
from mathlearn.utils._sklearn_compat import Hidden, Interval, StrOptions

# n_components="auto": at most this many factors, fewer when the table is smaller.
_AUTO_RANK = 10
# alpha="auto": the penalties compared on held-out entries, from the largest
# (the factors nearly 0) down, two per decade; the walk stops once the
# held-out error has not improved for _PATIENCE of them. The effects alone
# (alpha=inf, rank 0) are a candidate too: a penalty of 100 still fits noise
# where the noise's top singular value exceeds 100 (a large or skewed matrix).
_AUTO_ALPHAS = np.geomspace(100.0, 0.01, 9)
_PATIENCE = 2
# Fraction of the observed entries held out to choose alpha.
_VALIDATION_FRACTION = 0.1


class AlphaSelection(NamedTuple):
    """What ``alpha="auto"`` chose, and the held-out errors on the way."""

    alpha: float
    alphas: np.ndarray  # (n_path,) the penalties tried
    errors: np.ndarray  # (n_path,) held-out RMSE of each, on the unit scale


def factor_objective(
    theta,
    pattern,
    target,
    inv_scale,
    rank,
    alpha,
    w_row,
    w_col,
    fit_rows,
    fit_cols,
    effects_penalty=(0.0, 0.0),
):
    """Penalised squared error on the observed entries, and its gradient.

    The prediction of entry ``(i, j)`` is ``a_i . b_j + c_ij (r_i + k_j)``,
    with factors ``A`` (rows ``a_i``) and ``B``, row and column effects ``r``
    and ``k`` (present only when ``fit_rows`` / ``fit_cols``), and
    ``c = inv_scale``. With errors ``e = prediction - target``,

    ``f = 1/2 sum_O e^2 + alpha/2 (sum_i w_row_i ||a_i||^2
    + sum_j w_col_j ||b_j||^2) + 1/2 (p_r ||r||^2 + p_k ||k||^2)``,
    ``(p_r, p_k) = effects_penalty``;

    ``df/dA = E B + alpha w_row A``, ``df/dB = E^T A + alpha w_col B``,
    ``df/dr_i = sum_j c_ij e_ij + p_r r_i``,
    ``df/dk_j = sum_i c_ij e_ij + p_k k_j``, with ``E``
    the sparse matrix of the errors: ``O(|O| rank)`` time. ``theta`` is
    ``concat(A.ravel(), B.ravel(), r, k)``.
    """
    m, n = pattern.shape
    rows, cols = pattern.rows, pattern.cols
    A = theta[: m * rank].reshape(m, rank)
    B = theta[m * rank : (m + n) * rank].reshape(n, rank)
    offset = (m + n) * rank
    prediction = row_dot(A, B, rows, cols)
    row_eff, col_eff = np.zeros(m), np.zeros(n)
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
    p_row, p_col = effects_penalty
    f = 0.5 * float(error @ error) + 0.5 * alpha * (
        float(np.sum(wA * A)) + float(np.sum(wB * B))
    )
    f += 0.5 * (p_row * float(row_eff @ row_eff) + p_col * float(col_eff @ col_eff))
    E = pattern.matrix(error)
    grads = [
        (np.asarray(E @ B) + alpha * wA).ravel(),
        (np.asarray(E.T @ A) + alpha * wB).ravel(),
    ]
    weighted = error * inv_scale
    if fit_rows:
        grads.append(np.bincount(rows, weights=weighted, minlength=m) + p_row * row_eff)
    if fit_cols:
        grads.append(np.bincount(cols, weights=weighted, minlength=n) + p_col * col_eff)
    return f, np.concatenate(grads)


def _fold_in_penalty(alpha, column_factors):
    """The factors' penalty in the fold-in: ``alpha``, 0 with no factors."""
    return float(alpha) if column_factors.shape[1] else 0.0


@fill_shared_docs
class SVDImputer(_BaseLowRankImputer):
    """Complete a matrix with a rank-``n_components`` factorisation fitted by L-BFGS.

    After removing a global mean and row and column effects (see ``center``),
    the residuals ``e_ij`` of the observed entries are fitted by
    ``u_i . v_j`` with ``u_i, v_j`` in ``R^n_components``, minimising

    ``1/2 sum_{(i, j) observed} (u_i . v_j - e_ij)^2
    + alpha/2 (sum_i w_i ||u_i||^2 + sum_j w_j ||v_j||^2)``

    with :func:`scipy.optimize.minimize` (``method="L-BFGS-B"``) and the
    analytic gradient, vectorised over the observed entries; the effects are
    refitted with the factors. The model of an entry is
    ``mean_ + a_i + b_j + u_i . v_j``; with ``center=None`` and ``n_components=1``
    it is ``u_i v_j``, an athlete's speed times a course's difficulty.
    Observed entries are kept by ``transform``.

    {{units}}
    The residuals ``e_ij`` are on that scale too.

    {{sparse_input}}

    Parameters
    ----------
    n_components : int or "auto", default="auto"
        Number of factors (the rank); an int must be below ``min(n_samples,
        n_features)``. ``"auto"`` takes ``min(10, min(n_samples, n_features)
        - 1)`` (rows and columns with an observed entry), so the default
        works on tables with few features; the rank used is
        ``n_components_``.
    alpha : "auto" or float, default="auto"
        Weight of the L2 penalty on the factors, on the scale of ``X`` divided
        by the root-mean-square of its centred observed entries.
        ``alpha=np.inf`` fits no factors: the effects alone (``n_components_``
        is then 0). ``"auto"`` holds out 10% of the observed entries, fits the
        others with penalties from 100 down to 0.01 (two per decade) until
        the held-out error has not improved for two of them, scores the
        effects alone (``np.inf``) on the same entries, and refits all
        entries with the best (the rows folded in as ``transform`` does): the
        default is never worse than the effects alone on the held-out
        entries, whatever the rank. The penalty used is ``alpha_``. With
        ``regularization="uniform"`` it is the ``alpha`` of
        :class:`TraceNormImputer` restricted to rank ``n_components``, since
        ``||Z||_*`` is the least ``(||U||^2 + ||V||^2) / 2`` over
        ``Z = U V^T``.
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
    effects_penalty : "auto" or float, default="auto"
        {{effects_penalty}}
    {{scale}}
    {{missing_values}}
    random_state : int, RandomState instance or None, default=None
        Seeds the randomized SVD that starts the factors.
    {{n_jobs}}
    verbose : int, default=0
        If positive, print L-BFGS's progress every ``verbose`` iterations.
    rank : int or "auto", default="deprecated"
        Former name of ``n_components``.

        .. deprecated:: 0.2
           ``rank`` was renamed ``n_components`` in 0.2 and will be removed in
           0.3.

    Attributes
    ----------
    row_factors_ : ndarray of shape (n_samples_fit, `n_components_`)
        The factors ``u_i`` of the training rows: their fold-in (see Notes).
        Zero for a row with no observed entry.
    column_factors_ : ndarray of shape (n_features, `n_components_`)
        The factors ``v_j``; zero for a column with no observed entry.
    n_components_ : int
        The number of factors fitted: ``n_components``, or what ``"auto"``
        chose; 0 when ``alpha_`` is infinite (the effects alone).
    alpha_ : float
        The penalty used: ``alpha``, or the one ``"auto"`` chose.
    alphas_ : ndarray of shape (n_alphas,)
        The penalties tried by ``alpha="auto"`` (only then): ``inf`` (the
        effects alone), then the walk from 100 down.
    validation_errors_ : ndarray of shape (n_alphas,)
        The held-out RMSE of each of ``alphas_``, on the scale of ``X``
        (only with ``alpha="auto"``).
    objective_ : float
        The penalised objective at the fitted factors and effects (on the
        scale of ``X`` divided by the root-mean-square of its centred
        observed entries).
    center_ : str or None
        The centring used, equal to ``center``.
    {{effects_attributes}}
    n_iter_ : int
        Number of L-BFGS iterations.
    {{feature_attributes}}
    rank_ : int
        Deprecated alias of `n_components_` (deprecated in 0.2, removed in
        0.3).

    See Also
    --------
    TraceNormImputer : Convex nuclear-norm completion, rank chosen by the data.
    SOMImputer : Imputation from a self-organizing map.
    sklearn.impute.IterativeImputer : Regresses each feature on the others.

    Notes
    -----
    The factors start from a truncated SVD of the zero-filled residual
    matrix divided by the observed fraction. Objective and gradient cost
    ``O(|O| r)``; memory is ``O(|O| + (n_samples + n_features) r)``, ``r`` the
    rank ``n_components_``.

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
    >>> imputer = SVDImputer(n_components=2, alpha=1e-6, random_state=0)
    >>> X_filled = imputer.fit_transform(X_missing)
    >>> missing = np.isnan(X_missing)
    >>> error = np.linalg.norm((X_filled - X)[missing]) / np.linalg.norm(X[missing])
    >>> print(f"relative error {error:.4f}")
    relative error 0.00...
    """

    _parameter_constraints = {
        "n_components": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "alpha": [Interval(Real, 0, None, closed="both"), StrOptions({"auto"})],
        "regularization": [StrOptions({"uniform", "weighted"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "center": [StrOptions(CENTER_OPTIONS), None],
        "effects_penalty": [
            StrOptions({"auto"}),
            Interval(Real, 0, None, closed="left"),
        ],
        "scale": ["boolean"],
        "missing_values": [Interval(Real, None, None, closed="neither"), "nan"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "rank": [
            Hidden(StrOptions({"deprecated"})),
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
    }

    _renamed_params = {"rank": "n_components"}

    _test_params = {"n_components": 1}

    def __init__(
        self,
        n_components="auto",
        *,
        alpha="auto",
        regularization="uniform",
        max_iter=500,
        tol=1e-6,
        center="both",
        effects_penalty="auto",
        scale=False,
        missing_values=np.nan,
        random_state=None,
        n_jobs=None,
        verbose=0,
        rank="deprecated",
    ):
        self.n_components = n_components
        self.alpha = alpha
        self.regularization = regularization
        self.max_iter = max_iter
        self.tol = tol
        self.center = center
        self.effects_penalty = effects_penalty
        self.scale = scale
        self.missing_values = missing_values
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.rank = rank

    def _check_params(self, shape, n_obs):
        check_rank("n_components", self._rank(shape), shape)

    def _rank(self, shape):
        """The rank to fit: ``n_components``, or ``"auto"`` resolved for ``shape``."""
        n_components = self._param("n_components")
        if n_components == "auto":
            return max(1, min(_AUTO_RANK, min(shape) - 1))
        return n_components

    def _weights(self, counts):
        if self.regularization == "weighted":
            return counts.astype(np.float64)
        return np.ones(counts.shape[0])

    def _select(self, obs, rng):
        """``alpha="auto"``: the penalty with the smallest held-out error.

        A fraction ``_VALIDATION_FRACTION`` of the observed entries is held
        out. The factorisation of the others is fitted at each penalty of
        ``_AUTO_ALPHAS``, from the largest down, each from the SVD start,
        until the held-out error has not improved for ``_PATIENCE``
        penalties. The effects alone (``alpha=inf``) are scored too, apart
        from that walk (the largest penalties, whose factors are near 0, tie
        with them, and would use up its patience), and chosen only if their
        error is smaller than every penalty's.
        """
        if self.alpha != "auto":
            return self.center, None
        held_out = held_out_split(obs.rows.shape[0], _VALIDATION_FRACTION, rng)
        train, valid = subset(obs, ~held_out), subset(obs, held_out)
        centering = fit_centering(
            train,
            center=self.center,
            scale=self.scale,
            penalty=self._effects_penalty(obs.shape),
        )
        errors, best, since_best = [], None, 0
        for alpha in _AUTO_ALPHAS:
            errors.append(self._held_out_error(train, valid, centering, alpha, rng))
            if best is None or errors[-1] < errors[best]:
                best, since_best = len(errors) - 1, 0
            else:
                since_best += 1
                if since_best >= _PATIENCE:
                    break
        alphas = _AUTO_ALPHAS[: len(errors)]
        alpha = alphas[best]
        effects_alone = self._held_out_error(train, valid, centering, np.inf, rng)
        if effects_alone < errors[best]:
            alpha = np.inf
        return self.center, AlphaSelection(
            alpha=float(alpha),
            alphas=np.concatenate([[np.inf], alphas]),
            errors=np.asarray([effects_alone, *errors]),
        )

    def _held_out_error(self, train, valid, centering, alpha, rng):
        """RMSE on ``valid`` of the model fitted on ``train`` at ``alpha``.

        Scored as transform predicts: the rows folded in by ridge on their
        training entries (the L-BFGS iterate, stopped early, can hide how a
        row with few entries is overfitted).
        """
        effects, B, _ = self._factors(train, centering, self.center, alpha, rng)
        penalty = _fold_in_penalty(alpha, B)
        model = Model(1.0, self.center, centering, effects, None, B, penalty, None)
        a, s, A = self._fold_in_rows(train, model)
        low_rank = row_dot(A, B, valid.rows, valid.cols)
        predicted = (
            effects.mean
            + a[valid.rows]
            + effects.column_effects[valid.cols]
            + s[valid.rows] * effects.column_scales[valid.cols] * low_rank
        )
        error = float(np.sqrt(np.mean((predicted - valid.vals) ** 2)))
        if self.verbose:
            print(f"alpha {alpha:>10.4g}  held-out RMSE {error:.6g}")
        return error

    def _factors(self, obs, centering, center, alpha, rng):
        """The effects and column factors at ``alpha``, and L-BFGS's result.

        At ``alpha=inf`` the factors are 0: the model is the effects of
        ``centering`` alone (rank 0, no L-BFGS result). Otherwise L-BFGS
        starts from the SVD start (the factors of a large penalty are near 0,
        a stationary point of every penalty).
        """
        if np.isinf(alpha):
            return centering, np.zeros((obs.shape[1], 0)), None
        theta, result = self._minimize(obs, centering, center, alpha, None, rng)
        effects, _, B = self._unpack(theta, obs.shape, center, centering)
        return effects, B, result

    def _minimize(self, obs, centering, center, alpha, theta0, rng):
        """L-BFGS on the factors and effects from ``theta0`` (or an SVD start)."""
        m, n = obs.shape
        rank = self._rank(obs.shape)
        pattern = Pattern(obs)
        w_row = self._weights(np.bincount(obs.rows, minlength=m))
        w_col = self._weights(np.bincount(obs.cols, minlength=n))
        fit_rows = fits_rows(center)
        fit_cols = fits_columns(center)
        # Effects are refitted jointly with the factors, on the scale of the
        # standardised residuals; the centring only starts them.
        inv_scale = 1.0 / (
            centering.row_scales[obs.rows] * centering.column_scales[obs.cols]
        )
        target = (obs.vals - centering.mean) * inv_scale
        if theta0 is None:
            residual = standardize(obs, centering)
            fraction = obs.rows.shape[0] / (m * n)
            U, sigma, Vt = randomized_svd(
                pattern.matrix(residual), rank, random_state=rng
            )
            root = np.sqrt(sigma / fraction)
            theta0 = [(U * root).ravel(), (Vt.T * root).ravel()]
            if fit_rows:
                theta0.append(centering.row_effects)
            if fit_cols:
                theta0.append(centering.column_effects)
            theta0 = np.concatenate(theta0)
        callback = None
        if self.verbose:
            print(f"{'iter':>5} {'objective':>14}")

            def callback(intermediate_result):
                callback.n_iter += 1
                if callback.n_iter % int(self.verbose) == 0:
                    print(f"{callback.n_iter:>5} {intermediate_result.fun:>14.8g}")

            callback.n_iter = 0
        args = (pattern, target, inv_scale, rank, alpha, w_row, w_col)
        penalties = (centering.row_penalty, centering.column_penalty)
        result = minimize(
            factor_objective,
            theta0,
            args=(*args, fit_rows, fit_cols, penalties),
            method="L-BFGS-B",
            jac=True,
            options={"maxiter": self.max_iter, "ftol": self.tol, "gtol": self.tol},
            callback=callback,
        )
        return result.x, result

    def _unpack(self, theta, shape, center, centering):
        """``(effects, A, B)`` from the L-BFGS vector ``theta``."""
        m, n = shape
        rank = self._rank(shape)
        offset = (m + n) * rank
        effects = centering
        if fits_rows(center):
            effects = effects._replace(row_effects=theta[offset : offset + m])
            offset += m
        if fits_columns(center):
            effects = effects._replace(column_effects=theta[offset : offset + n])
        A = theta[: m * rank].reshape(m, rank)
        B = theta[m * rank : (m + n) * rank].reshape(n, rank)
        return effects, A, B

    def _fit_low_rank(self, obs, residual, centering, center, rng, selection):
        alpha = self.alpha if selection is None else selection.alpha
        effects, column_factors, result = self._factors(
            obs, centering, center, alpha, rng
        )
        if result is not None and result.status == 1:
            warnings.warn(
                f"SVDImputer did not converge in max_iter={self.max_iter} "
                "L-BFGS iterations; increase max_iter or tol",
                ConvergenceWarning,
                stacklevel=3,
            )
        n_iter = 0 if result is None else int(result.nit)
        attributes = {"n_iter_": n_iter, "alpha_": float(alpha)}
        if selection is not None:
            attributes["alphas_"] = selection.alphas
            attributes["validation_errors_"] = selection.errors
        penalty = _fold_in_penalty(alpha, column_factors)
        return LowRankFit(effects, column_factors, penalty, attributes)

    def _fold_in(self, obs, model, row_effects, row_scales, counts):
        """Joint ridge fit of each row's effect (unpenalised) and factors."""
        e = model.effects
        t = e.column_scales
        s = row_scales[obs.rows]
        target = (obs.vals - e.mean - e.column_effects[obs.cols]) / (s * t[obs.cols])
        penalty = model.fold_in * self._weights(counts)
        pattern = Pattern(obs)
        if not fits_rows(model.center):
            return row_effects, ridge_rows(
                pattern, target, model.column_factors, penalty
            )
        # Unknowns (r_i / s_i, u_i) against design (1 / t_j, v_j).
        # The effect's penalty on r_i is p s_i^2 on r_i / s_i.
        effects, A = ridge_rows_with_effect(
            pattern,
            target,
            model.column_factors,
            penalty,
            1.0 / t,
            e.row_penalty * row_scales**2,
        )
        return effects * row_scales, A

    def _fitted_attributes(self, obs, model, attributes):
        """The objective at the final factors (after the rows' fold-in).

        The held-out errors are put on the scale of ``X``.
        """
        m, n = obs.shape
        e = model.effects
        inv_scale = 1.0 / (e.row_scales[obs.rows] * e.column_scales[obs.cols])
        theta = [model.row_factors.ravel(), model.column_factors.ravel()]
        fit_rows = fits_rows(model.center)
        fit_cols = fits_columns(model.center)
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
            model.fold_in,
            self._weights(np.bincount(obs.rows, minlength=m)),
            self._weights(np.bincount(obs.cols, minlength=n)),
            fit_rows,
            fit_cols,
            (e.row_penalty, e.column_penalty),
        )
        attributes = {**attributes, "objective_": objective}
        if "validation_errors_" in attributes:
            attributes["validation_errors_"] = (
                attributes["validation_errors_"] * model.data_scale
            )
        return attributes
