"""Missing-value SVD: a fixed-rank factorisation fitted by L-BFGS."""

import warnings
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize
from scipy.sparse.linalg import aslinearoperator
from sklearn.exceptions import ConvergenceWarning

from mathlearn.impute._base import (
    AUTO_N_FOLDS,
    CV_MAX_OBSERVED,
    LowRankFit,
    Model,
    Pattern,
    Split,
    _BaseLowRankImputer,
    check_rank,
    fill_shared_docs,
    ridge_rows,
    ridge_rows_with_effect,
    row_dot,
    subset,
    validation_split,
)
from mathlearn.impute._centering import (
    CENTER_OPTIONS,
    Observed,
    fit_centering,
    fits_columns,
    fits_rows,
    standardize,
)
from mathlearn.impute._soft_impute import top_svd
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
# Fraction of the observed entries held out to choose alpha, above
# CV_MAX_OBSERVED of them (K folds below).
_VALIDATION_FRACTION = 0.1
# The SVD start: a randomized range finder with this many extra columns and
# power iterations (scikit-learn's randomized_svd defaults).
_START_OVERSAMPLES = 10
_START_POWER_ITERATIONS = 4


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
    f, grad = factor_data_term(
        theta, pattern, target, inv_scale, rank, fit_rows, fit_cols
    )
    penalty = FactorPenalty(alpha, w_row, w_col, effects_penalty)
    p, p_grad = penalty(theta, pattern.shape, rank, fit_rows, fit_cols)
    return f + p, grad + p_grad


def unpack_theta(theta, shape, rank, fit_rows, fit_cols):
    """``(A, B, r, k)`` of the L-BFGS vector (zero effects where not fitted)."""
    m, n = shape
    A = theta[: m * rank].reshape(m, rank)
    B = theta[m * rank : (m + n) * rank].reshape(n, rank)
    offset = (m + n) * rank
    row_eff, col_eff = np.zeros(m), np.zeros(n)
    if fit_rows:
        row_eff = theta[offset : offset + m]
        offset += m
    if fit_cols:
        col_eff = theta[offset : offset + n]
    return A, B, row_eff, col_eff


def pack_theta(A, B, row_eff, col_eff, fit_rows, fit_cols):
    """The L-BFGS vector ``concat(A.ravel(), B.ravel(), r, k)``."""
    parts = [A.ravel(), B.ravel()]
    if fit_rows:
        parts.append(row_eff)
    if fit_cols:
        parts.append(col_eff)
    return np.concatenate(parts)


def factor_data_term(theta, pattern, target, inv_scale, rank, fit_rows, fit_cols):
    """``1/2 sum_O e^2`` of :func:`factor_objective` and its gradient.

    A sum over the observed entries: that of a block of whole rows is this
    function of the block's rows of ``A`` and ``r`` and all of ``B`` and
    ``k``, its gradient the block's rows of ``df/dA`` and ``df/dr`` and its
    part of the sums ``df/dB`` and ``df/dk``.
    """
    m, n = pattern.shape
    rows, cols = pattern.rows, pattern.cols
    A, B, row_eff, col_eff = unpack_theta(theta, (m, n), rank, fit_rows, fit_cols)
    prediction = row_dot(A, B, rows, cols)
    if fit_rows:
        prediction += inv_scale * row_eff[rows]
    if fit_cols:
        prediction += inv_scale * col_eff[cols]
    error = prediction - target
    E = pattern.matrix(error)
    weighted = error * inv_scale
    grad = pack_theta(
        np.asarray(E @ B),
        np.asarray(E.T @ A),
        np.bincount(rows, weights=weighted, minlength=m),
        np.bincount(cols, weights=weighted, minlength=n),
        fit_rows,
        fit_cols,
    )
    return 0.5 * float(error @ error), grad


class FactorPenalty(NamedTuple):
    """The penalty of :func:`factor_objective`: ``alpha``, weights, effects'."""

    alpha: float
    w_row: np.ndarray  # (m,) weight of each row's factors
    w_col: np.ndarray  # (n,)
    effects: tuple = (0.0, 0.0)  # (p_r, p_k)

    def __call__(self, theta, shape, rank, fit_rows, fit_cols):
        """The penalty at ``theta`` and its gradient."""
        A, B, row_eff, col_eff = unpack_theta(theta, shape, rank, fit_rows, fit_cols)
        wA = self.w_row[:, None] * A
        wB = self.w_col[:, None] * B
        p_row, p_col = self.effects
        alpha = self.alpha
        f = 0.5 * alpha * (float(np.sum(wA * A)) + float(np.sum(wB * B)))
        f += 0.5 * (p_row * float(row_eff @ row_eff) + p_col * float(col_eff @ col_eff))
        grad = pack_theta(
            alpha * wA, alpha * wB, p_row * row_eff, p_col * col_eff, fit_rows, fit_cols
        )
        return f, grad


class FactorTerms:
    """What L-BFGS reads of the observed entries, in memory.

    ``obs`` under the effects and scales of ``centering``: the counts of
    each row and column, the data term of :func:`factor_objective`, and the
    standardised residuals as an operator (for the SVD start).
    :class:`mathlearn.impute._blocks.BlockFactorTerms` answers the same on
    the blocks of a dask array.
    """

    def __init__(self, obs, centering):
        self.shape = obs.shape
        self._obs = obs
        self._centering = centering
        self._pattern = Pattern(obs)
        c = centering
        self._inv_scale = 1.0 / (c.row_scales[obs.rows] * c.column_scales[obs.cols])
        self._target = (obs.vals - c.mean) * self._inv_scale

    def counts(self):
        """Observed entries per row and per column."""
        m, n = self.shape
        return (
            np.bincount(self._obs.rows, minlength=m),
            np.bincount(self._obs.cols, minlength=n),
        )

    def data_term(self, theta, rank, fit_rows, fit_cols):
        """:func:`factor_data_term` of the entries."""
        return factor_data_term(
            theta,
            self._pattern,
            self._target,
            self._inv_scale,
            rank,
            fit_rows,
            fit_cols,
        )

    def residual_operator(self):
        """The standardised residuals as a LinearOperator."""
        return aslinearoperator(
            self._pattern.matrix(standardize(self._obs, self._centering))
        )


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
        is then 0). ``"auto"`` holds out entries (5-fold cross-validation up
        to 10,000 observed entries, 10% of them above), fits the
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
    matrix divided by the observed fraction (a randomized range finder
    seeded by ``random_state``, 4 power iterations). Objective and gradient cost
    ``O(|O| r)``; memory is ``O(|O| + (n_samples + n_features) r)``, ``r`` the
    rank ``n_components_``.

    Given the column factors and effects, the optimal ``u_i`` (with the
    row effect, when there is one) is the ridge fit of row ``i``'s residuals
    on them, with penalty ``alpha * w_i``. The fit ends with this exact
    block update of every training row (from where L-BFGS stopped, it can
    only lower the objective); ``transform`` folds every row in the same
    way, so a training row gets exactly its fitted completion (the value
    :meth:`predict_entries` reads) and a new row is treated the same way.

    *Dask.* ``fit`` also takes a 2-D dask array (missing entries marked by
    ``missing_values``) with ``scale=False``: each evaluation of the
    objective and its gradient is one task per block of whole rows (the
    factors and effects sent to the workers, each block returning its rows
    of the gradient and its part of the sums), and so are the SVD start's
    products, the held-out scores and the fold-in of the rows; L-BFGS runs
    in this process. The held-out entries are the same as in memory (a hash
    of each entry's position), so ``alpha="auto"`` chooses the same
    penalty, and a converged fit equals the in-memory one to round-off; an
    L-BFGS run stopped by ``tol`` or ``max_iter`` equals it to that
    stopping point. A table of at most 250,000 entries is computed, and one
    with at most 10,000 observed entries gathered as a sparse matrix, and
    fitted in memory.

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

        The held-out entries (:meth:`_folds`) are scored as the
        factorisation of the others is fitted at each penalty of
        ``_AUTO_ALPHAS``, from the largest down, each from the SVD start,
        until the pooled held-out error has not improved for ``_PATIENCE``
        penalties. The effects alone (``alpha=inf``) are scored too, apart
        from that walk (the largest penalties, whose factors are near 0, tie
        with them, and would use up its patience), and chosen only if their
        error is smaller than every penalty's.
        """
        if self.alpha != "auto":
            return self.center, None
        folds = self._folds(obs, rng)
        errors, best, since_best = [], None, 0
        for alpha in _AUTO_ALPHAS:
            errors.append(self._held_out_error(folds, alpha, rng))
            if best is None or errors[-1] < errors[best]:
                best, since_best = len(errors) - 1, 0
            else:
                since_best += 1
                if since_best >= _PATIENCE:
                    break
        alphas = _AUTO_ALPHAS[: len(errors)]
        alpha = alphas[best]
        effects_alone = self._held_out_error(folds, np.inf, rng)
        if effects_alone < errors[best]:
            alpha = np.inf
        return self.center, AlphaSelection(
            alpha=float(alpha),
            alphas=np.concatenate([[np.inf], alphas]),
            errors=np.asarray([effects_alone, *errors]),
        )

    def _folds(self, obs, rng):
        """``(train, valid, centering)`` of each held-out part.

        Up to ``CV_MAX_OBSERVED`` observed entries, ``AUTO_N_FOLDS`` folds
        (a single tenth of a few thousand entries is too noisy a judge);
        above, a fraction ``_VALIDATION_FRACTION``: the entries whose hash
        falls below it (:func:`~._base.validation_split`), the same entries
        on a dask array's blocks (``obs`` then a
        :class:`~._blocks.BlockSource`, ``valid`` its held-out
        :class:`~._base.Split`).
        """
        penalty = self._effects_penalty(obs.shape)
        split = Split(int(rng.randint(2**31 - 1)), _VALIDATION_FRACTION)
        if not isinstance(obs, Observed):
            train, valid = obs.split(split)
            return [(train, valid, train.centering(self.center, penalty))]
        n_obs = obs.rows.shape[0]
        if n_obs <= CV_MAX_OBSERVED:
            label = rng.permutation(n_obs) % AUTO_N_FOLDS
            masks = [label == k for k in range(AUTO_N_FOLDS) if (label == k).any()]
        else:
            masks = [validation_split(obs, split)]
        folds = []
        for held_out in masks:
            train = subset(obs, ~held_out)
            centering = fit_centering(
                train, center=self.center, scale=self.scale, penalty=penalty
            )
            folds.append((train, subset(obs, held_out), centering))
        return folds

    def _held_out_error(self, folds, alpha, rng):
        """RMSE on the held-out entries of ``folds``, fitted on the others.

        Scored as transform predicts: the rows folded in by ridge on their
        training entries (the L-BFGS iterate, stopped early, can hide how a
        row with few entries is overfitted); the squares pooled over the
        folds.
        """
        squares = count = 0
        for train, valid, centering in folds:
            effects, B, _ = self._factors(train, centering, self.center, alpha, rng)
            penalty = _fold_in_penalty(alpha, B)
            model = Model(1.0, self.center, centering, effects, None, B, penalty, None)
            if isinstance(train, Observed):
                part = held_out_squared_error(train, valid, None, self, model)
            else:
                part = train.held_out(valid, held_out_squared_error, self, model)
            squares += part[0]
            count += part[1]
        error = float(np.sqrt(squares / count))
        if self.verbose:
            print(f"alpha {alpha:>10.4g}  held-out RMSE {error:.6g}")
        return error

    def _needs_memory(self, n_obs):
        """Few entries (``alpha="auto"`` then uses K folds) are fitted in memory."""
        return self.alpha == "auto" and n_obs <= CV_MAX_OBSERVED

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
        """L-BFGS on the factors and effects from ``theta0`` (or an SVD start).

        ``obs`` is the :class:`Observed` entries or a dask array's
        :class:`~._blocks.BlockSource`: its :class:`FactorTerms` (or their
        blocks' counterpart) give the data term, the penalty is added here.
        """
        terms = _factor_terms(obs, centering)
        m, n = terms.shape
        rank = self._rank(terms.shape)
        row_counts, col_counts = terms.counts()
        w_row, w_col = self._weights(row_counts), self._weights(col_counts)
        fit_rows = fits_rows(center)
        fit_cols = fits_columns(center)
        # Effects are refitted jointly with the factors, on the scale of the
        # standardised residuals; the centring only starts them.
        if theta0 is None:
            fraction = int(row_counts.sum()) / (m * n)
            empty = np.zeros((m, 0)), np.zeros((n, 0))
            U, sigma, V = top_svd(
                terms.residual_operator(),
                rank,
                *empty,
                "randomized",
                rng,
                n_oversamples=_START_OVERSAMPLES,
                n_power=_START_POWER_ITERATIONS,
            )
            root = np.sqrt(sigma / fraction)
            theta0 = pack_theta(
                U * root,
                V * root,
                centering.row_effects,
                centering.column_effects,
                fit_rows,
                fit_cols,
            )
        callback = None
        if self.verbose:
            print(f"{'iter':>5} {'objective':>14}")

            def callback(intermediate_result):
                callback.n_iter += 1
                if callback.n_iter % int(self.verbose) == 0:
                    print(f"{callback.n_iter:>5} {intermediate_result.fun:>14.8g}")

            callback.n_iter = 0
        penalty = FactorPenalty(
            alpha, w_row, w_col, (centering.row_penalty, centering.column_penalty)
        )

        def objective(theta):
            f, grad = terms.data_term(theta, rank, fit_rows, fit_cols)
            p, p_grad = penalty(theta, terms.shape, rank, fit_rows, fit_cols)
            return f + p, grad + p_grad

        result = minimize(
            objective,
            theta0,
            method="L-BFGS-B",
            jac=True,
            options={"maxiter": self.max_iter, "ftol": self.tol, "gtol": self.tol},
            callback=callback,
        )
        return result.x, result

    def _unpack(self, theta, shape, center, centering):
        """``(effects, A, B)`` from the L-BFGS vector ``theta``."""
        fit_rows, fit_cols = fits_rows(center), fits_columns(center)
        A, B, row_eff, col_eff = unpack_theta(
            theta, shape, self._rank(shape), fit_rows, fit_cols
        )
        effects = centering
        if fit_rows:
            effects = effects._replace(row_effects=row_eff)
        if fit_cols:
            effects = effects._replace(column_effects=col_eff)
        return effects, A, B

    def _fit_source(self, source, centering, center, rng, selection):
        """:meth:`_fit_low_rank` on a dask array's blocks."""
        return self._fit_low_rank(source, None, centering, center, rng, selection)

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

        The held-out errors are put on the scale of ``X``. ``obs`` are the
        training entries on the unit scale, or a dask array's
        :class:`~._blocks.BlockSource`, whose rows and columns are the
        active ones: the model is read there (a row or column with no entry
        adds nothing to the objective).
        """
        e = model.effects
        A, B = model.row_factors, model.column_factors
        if not isinstance(obs, Observed):
            rows, cols = obs.active_rows(), obs.active_cols()
            e = e._replace(
                row_effects=e.row_effects[rows],
                column_effects=e.column_effects[cols],
                row_scales=e.row_scales[rows],
                column_scales=e.column_scales[cols],
            )
            A, B = A[rows], B[cols]
        fit_rows = fits_rows(model.center)
        fit_cols = fits_columns(model.center)
        terms = _factor_terms(obs, e)
        row_counts, col_counts = terms.counts()
        theta = pack_theta(A, B, e.row_effects, e.column_effects, fit_rows, fit_cols)
        rank = B.shape[1]
        penalty = FactorPenalty(
            model.fold_in,
            self._weights(row_counts),
            self._weights(col_counts),
            (e.row_penalty, e.column_penalty),
        )
        objective, _ = terms.data_term(theta, rank, fit_rows, fit_cols)
        objective += penalty(theta, terms.shape, rank, fit_rows, fit_cols)[0]
        attributes = {**attributes, "objective_": objective}
        if "validation_errors_" in attributes:
            attributes["validation_errors_"] = (
                attributes["validation_errors_"] * model.data_scale
            )
        return attributes


def _factor_terms(obs, centering):
    """:class:`FactorTerms` of ``obs``, or of a dask array's blocks."""
    if isinstance(obs, Observed):
        return FactorTerms(obs, centering)
    return obs.factor_terms(centering)


def held_out_squared_error(train, valid, span, estimator, model):
    """Squared error of ``model``'s prediction of ``valid`` and its count.

    Each row folded in by ridge on its ``train`` entries, as ``transform``
    does (on the unit scale); on all rows, or one block of whole rows (its
    ``span`` is not needed: the fold-in reads the columns' parameters).
    """
    a, s, A = estimator._fold_in_rows(train, model)
    effects = model.effects
    low_rank = row_dot(A, model.column_factors, valid.rows, valid.cols)
    predicted = (
        effects.mean
        + a[valid.rows]
        + effects.column_effects[valid.cols]
        + s[valid.rows] * effects.column_scales[valid.cols] * low_rank
    )
    return float(np.sum((predicted - valid.vals) ** 2)), valid.vals.shape[0]
