"""Trace-norm (nuclear-norm) regularised matrix completion: soft-impute."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.sparse.linalg import svds
from sklearn.exceptions import ConvergenceWarning

from mathlearn.impute._base import (
    Observed,
    Pattern,
    _BaseLowRankImputer,
    check_rank,
    ridge_rows,
    row_dot,
)
from mathlearn.impute._centering import (
    CENTER_OPTIONS,
    fit_centering,
    standardize,
)
from mathlearn.impute._soft_impute import (
    Solution,
    initial_als_state,
    soft_impute_als,
    soft_impute_ridge_als,
    soft_impute_svd,
)
from mathlearn.utils._sklearn_compat import Interval, StrOptions

_INITIAL_RANK = 8
# Path steps only rank the shrinkages; they need less accuracy than the refit
# (a squared relative change, as ``tol``).
_PATH_TOL = 1e-5


def _top_singular_value(pattern, residual):
    S = pattern.matrix(residual)
    if min(S.shape) <= 2 or S.nnz == 0:
        return float(np.linalg.norm(S.toarray(), ord=2)) if S.nnz else 0.0
    sigma = svds(S, k=1, return_singular_vectors=False, random_state=0)
    return float(sigma[0])


def _subset(obs, mask):
    return Observed(obs.rows[mask], obs.cols[mask], obs.vals[mask], obs.shape)


class TraceNormImputer(_BaseLowRankImputer):
    """Complete a matrix by trace-norm (nuclear-norm) regularised soft-impute.

    After removing a global mean and row and column effects (see ``center``),
    the residual matrix ``R`` is completed by the solution of

    ``min_Z 1/2 sum_{(i, j) observed} (R_ij - Z_ij)^2 + shrinkage * ||Z||_*``,

    the nuclear norm ``||Z||_*`` (sum of singular values) being the convex
    relaxation of the rank (Mazumder, Hastie & Tibshirani 2010). Observed
    entries are kept; missing ones are read from the low-rank ``Z``. With
    ``shrinkage="auto"`` a decreasing path of shrinkages is fitted with warm
    starts on most observed entries, and the one with the smallest error on a
    held-out fraction of them is refitted on all.

    The solver never forms the dense matrix: observed entries are kept as
    (row, column, value) triplets and ``Z`` as ``U diag(d) V^T``. Sparse
    input is accepted, and then its *stored entries are the observed values*
    (unstored entries are missing, unlike scikit-learn's dense convention;
    a stored NaN is an error).

    Parameters
    ----------
    shrinkage : "auto" or float, default="auto"
        The weight ``lambda >= 0`` of the nuclear norm, on the scale of the
        standardised residuals. ``"auto"`` picks it on a held-out fraction
        (``validation_fraction``) of the observed entries, from
        ``n_shrinkages`` values spaced geometrically from ``lambda_max`` (the
        largest singular value of the zero-filled residual matrix, above
        which ``Z = 0``) down to ``shrinkage_ratio * lambda_max``.
    max_rank : int, default=None
        Largest rank of ``Z``. ``None`` lets the working rank grow as needed
        up to ``min(n_samples, n_features) - 1`` and gives the exact
        soft-impute solution; a smaller value bounds time and memory (the
        solution is then the best of rank at most ``max_rank``).
    max_iter : int, default=100
        Maximum number of iterations for each shrinkage.
    tol : float, default=1e-5
        Stop when the squared relative change of ``Z`` in Frobenius norm,
        ``||Z_old - Z||_F^2 / ||Z_old||_F^2``, falls below ``tol``: the
        criterion of Mazumder, Hastie & Tibshirani (2010), and the default of
        R's softImpute (``thresh``). It stops once ``Z`` changes by less than
        about 0.3% per iteration, which predicts as well as a tighter solve on
        noisy data (further iterations mostly fit the noise); use a smaller
        value, e.g. ``1e-12``, to solve the convex problem to high accuracy.
    svd_solver : {"auto", "als", "ridge-als", "arpack", "randomized"}, \
            default="auto"
        How each shrinkage is solved; all reach the same solution.
        ``"als"`` is softImpute-ALS (Hastie, Mazumder, Lee & Zadeh 2015):
        ridge steps on the two factors of the filled matrix, each
        ``O(|observed| r + (n_samples + n_features) r^2)``, then one exact
        thresholding step. ``"ridge-als"`` alternates exact ridge regressions
        of every row and column on its observed entries only,
        ``O(|observed| r^2 + (n_samples + n_features) r^3)`` per step but
        with a convergence rate that does not degrade as the fraction of
        missing entries grows. ``"arpack"`` and ``"randomized"`` run the
        original soft-impute iteration with a warm-started truncated SVD of
        the filled matrix as a :class:`~scipy.sparse.linalg.LinearOperator`
        (ARPACK, or a randomized subspace iteration). ``"auto"`` uses
        ``"ridge-als"`` when less than 20% of the entries are observed and
        ``"als"`` otherwise. (``"randomized"`` is often faster on small
        matrices, but its inexact SVD stops further from the solution at a
        given ``tol``.)
    n_shrinkages : int, default=20
        Number of shrinkages on the path of ``shrinkage="auto"``.
    shrinkage_ratio : float, default=1e-3
        Smallest shrinkage of the path, relative to ``lambda_max``.
    validation_fraction : float, default=0.1
        Fraction of the observed entries held out to choose the shrinkage.
    center : {"both", "rows", "columns", "global"} or None, default="both"
        Effects removed before the low-rank fit: a global mean plus row and
        column effects (``"both"``), plus only one kind, only the global mean,
        or nothing (``None``). Fitted by alternating means over the observed
        entries.
    scale : bool, default=False
        Also divide each residual by a row scale times a column scale, fitted
        on the observed entries (the bi-scaler of Hastie et al. 2015).
    missing_values : float or np.nan, default=np.nan
        The placeholder for missing entries of a dense ``X``.
    random_state : int, RandomState instance or None, default=None
        Seeds the held-out split and the initial factors.
    verbose : int, default=0
        ``1`` prints one line per shrinkage; ``2`` also one per iteration.

    Attributes
    ----------
    shrinkage_ : float
        The shrinkage used for the final fit.
    shrinkage_path_ : ndarray of shape (n_path,)
        The shrinkages fitted on the path (``shrinkage="auto"`` only; the path
        stops early once the validation error has risen for 2 steps).
    validation_errors_ : ndarray of shape (n_path,)
        Root-mean-square error on the held-out entries for each shrinkage of
        ``shrinkage_path_``, on the scale of ``X``.
    singular_values_ : ndarray of shape (`rank_`,)
        Nonzero singular values of ``Z``.
    row_factors_ : ndarray of shape (n_samples_fit, `rank_`)
        ``U diag(sqrt(d))`` for the training rows.
    column_factors_ : ndarray of shape (n_features, `rank_`)
        ``V diag(sqrt(d))``, so that ``Z = row_factors_ @ column_factors_.T``.
    rank_ : int
        Rank of ``Z``.
    mean_ : float
        Global mean removed (0 when ``center=None``).
    row_effects_ : ndarray of shape (n_samples_fit,)
        Row effects of the training rows.
    column_effects_ : ndarray of shape (n_features,)
        Column effects.
    row_scales_ : ndarray of shape (n_samples_fit,)
        Row scales of the training rows (ones unless ``scale=True``).
    column_scales_ : ndarray of shape (n_features,)
        Column scales (ones unless ``scale=True``).
    n_iter_ : int
        Iterations of the final fit.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit. Defined only when ``X`` has
        feature names that are all strings.

    See Also
    --------
    SVDImputer : Fixed-rank factorisation fitted by L-BFGS.
    SOMImputer : Imputation from a self-organizing map.
    sklearn.impute.IterativeImputer : Regresses each feature on the others.

    Notes
    -----
    Soft-impute iterates ``Z <- S_lambda(P_O(X) + P_O^perp(Z))``, where
    ``S_lambda`` soft-thresholds singular values. A fixed ``shrinkage`` is
    reached by warm starts along a geometric path from ``lambda_max`` (three
    steps per decade), since convergence from a cold start is slow when the
    shrinkage is small. Writing the filled matrix as
    ``S + Z``, with ``S = P_O(X - Z)`` sparse and ``Z`` low-rank, a product
    with a thin matrix costs ``O(|O| r + (n_samples + n_features) r^2)``,
    and so does each softImpute-ALS iteration; memory is
    ``O(|O| + (n_samples + n_features) r)``.

    The solution ``Z = U diag(d) V^T`` also minimises
    ``1/2 ||P_O(R - A B^T)||^2 + lambda/2 (||A||^2 + ||B||^2)`` at
    ``A = U diag(sqrt(d))``, ``B = V diag(sqrt(d))``. So the factors of a
    row are the ridge fit of its observed entries on ``B``: ``transform``
    folds every row in this way, which returns the fitted completion for a
    training row and extends the model to new rows.

    ``transform`` returns a dense array; for a large sparse matrix use
    :meth:`predict_entries`.

    References
    ----------
    R. Mazumder, T. Hastie and R. Tibshirani (2010). Spectral regularization
    algorithms for learning large incomplete matrices. JMLR 11, 2287-2322.

    T. Hastie, R. Mazumder, J. D. Lee and R. Zadeh (2015). Matrix completion
    and low-rank SVD via fast alternating least squares. JMLR 16, 3367-3402.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.impute import TraceNormImputer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 40))
    >>> X_missing = X.copy()
    >>> X_missing[rng.rand(*X.shape) < 0.3] = np.nan
    >>> imputer = TraceNormImputer(random_state=0)
    >>> X_filled = imputer.fit_transform(X_missing)
    >>> missing = np.isnan(X_missing)
    >>> error = np.linalg.norm((X_filled - X)[missing]) / np.linalg.norm(X[missing])
    >>> print(f"rank {imputer.rank_}, relative error {error:.3f}")
    rank 4, relative error 0.003
    """

    _parameter_constraints = {
        "shrinkage": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "max_rank": [Interval(Integral, 1, None, closed="left"), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "svd_solver": [
            StrOptions({"auto", "als", "ridge-als", "arpack", "randomized"})
        ],
        "n_shrinkages": [Interval(Integral, 1, None, closed="left")],
        "shrinkage_ratio": [Interval(Real, 0, 1, closed="neither")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "center": [StrOptions(CENTER_OPTIONS), None],
        "scale": ["boolean"],
        "missing_values": [Real],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        shrinkage="auto",
        *,
        max_rank=None,
        max_iter=100,
        tol=1e-5,
        svd_solver="auto",
        n_shrinkages=20,
        shrinkage_ratio=1e-3,
        validation_fraction=0.1,
        center="both",
        scale=False,
        missing_values=np.nan,
        random_state=None,
        verbose=0,
    ):
        self.shrinkage = shrinkage
        self.max_rank = max_rank
        self.max_iter = max_iter
        self.tol = tol
        self.svd_solver = svd_solver
        self.n_shrinkages = n_shrinkages
        self.shrinkage_ratio = shrinkage_ratio
        self.validation_fraction = validation_fraction
        self.center = center
        self.scale = scale
        self.missing_values = missing_values
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self, obs):
        if self.max_rank is not None:
            check_rank("max_rank", self.max_rank, obs.shape)

    def _rank_cap(self, shape):
        cap = max(min(shape) - 1, 1)
        return cap if self.max_rank is None else min(self.max_rank, cap)

    def _solve(self, pattern, residual, lam, state, rng, tol=None):
        """One shrinkage, warm-started; returns the Solution."""
        tol = self.tol if tol is None else tol
        rank_cap = self._rank_cap(pattern.shape)
        solver = self.svd_solver
        if solver == "auto":
            m, n = pattern.shape
            fraction = pattern.rows.shape[0] / (m * n)
            solver = "ridge-als" if fraction < 0.2 else "als"
        if solver in ("als", "ridge-als"):
            run = soft_impute_als if solver == "als" else soft_impute_ridge_als
            if state is None:
                state = initial_als_state(
                    pattern.shape, min(_INITIAL_RANK, rank_cap), lam, rng
                )
            return run(
                pattern,
                residual,
                lam,
                state,
                max_iter=self.max_iter,
                tol=tol,
                rank_cap=rank_cap,
                rng=rng,
                verbose=self.verbose,
            )
        if state is None:
            m, n = pattern.shape
            state = (
                np.zeros((m, 0)),
                np.zeros(0),
                np.zeros((n, 0)),
                min(_INITIAL_RANK, rank_cap),
            )
        return soft_impute_svd(
            pattern,
            residual,
            lam,
            state,
            max_iter=self.max_iter,
            tol=tol,
            rank_cap=rank_cap,
            solver=solver,
            rng=rng,
            verbose=self.verbose,
        )

    def _path(self, obs, rng):
        """Walk the shrinkage path on a training split; return the best."""
        n_obs = obs.rows.shape[0]
        held_out = rng.rand(n_obs) < self.validation_fraction
        if not held_out.any() and n_obs > 1:
            held_out[rng.randint(n_obs)] = True
        if held_out.all():
            held_out[rng.randint(n_obs)] = False
        train, valid = _subset(obs, ~held_out), _subset(obs, held_out)
        centering = fit_centering(train, center=self.center, scale=self.scale)
        residual = standardize(train, centering)
        pattern = Pattern(train)
        lam_max = _top_singular_value(pattern, residual)
        if lam_max == 0.0 or not valid.rows.size:
            return np.array([0.0]), np.array([np.nan]), 0.0, None
        path = lam_max * np.geomspace(1.0, self.shrinkage_ratio, self.n_shrinkages)
        base = (
            centering.mean
            + centering.row_effects[valid.rows]
            + centering.column_effects[valid.cols]
        )
        scales = centering.row_scales[valid.rows] * centering.column_scales[valid.cols]
        if self.verbose:
            print(f"{'shrinkage':>12} {'rank':>5} {'iter':>5} {'valid. RMSE':>12}")
        errors, states = [], []
        state = None
        best, since_best = 0, 0
        for k, lam in enumerate(path):
            if k == 0:
                # Z = 0 exactly at lambda_max: nothing to solve.
                solution = Solution(
                    np.zeros((pattern.shape[0], 0)),
                    np.zeros(0),
                    np.zeros((pattern.shape[1], 0)),
                    0,
                    True,
                    None,
                )
            else:
                path_tol = max(self.tol, _PATH_TOL)
                solution = self._solve(pattern, residual, lam, state, rng, path_tol)
            state = solution.state
            low_rank = row_dot(
                solution.U * solution.d, solution.V, valid.rows, valid.cols
            )
            error = float(
                np.sqrt(np.mean((base + scales * low_rank - valid.vals) ** 2))
            )
            errors.append(error)
            states.append(state)
            if self.verbose:
                print(
                    f"{lam:>12.5g} {solution.d.size:>5} {solution.n_iter:>5} "
                    f"{error:>12.6g}"
                )
            if error <= errors[best]:
                best, since_best = k, 0
            else:
                since_best += 1
                if since_best >= 2:
                    break
        path = path[: len(errors)]
        return path, np.asarray(errors), float(path[best]), states[best]

    def _fit_low_rank(self, obs, residual, centering, rng):
        pattern = Pattern(obs)
        if self.shrinkage == "auto":
            path, errors, lam, state = self._path(obs, rng)
        else:
            path, errors, lam, state = np.empty(0), np.empty(0), self.shrinkage, None
            # A small shrinkage is reached through warm starts from
            # lambda_max, as on the path: a cold start there is very slow.
            lam_max = _top_singular_value(pattern, residual)
            if 0 < lam < lam_max:
                # The intermediate steps only provide warm starts: a tolerance
                # 100 times looser (at most the path's) is enough for them.
                steps = int(np.ceil(3 * np.log10(lam_max / lam)))
                path_tol = max(self.tol, min(_PATH_TOL, 100 * self.tol))
                for lam_k in np.geomspace(lam_max, lam, steps + 1)[1:-1]:
                    state = self._solve(
                        pattern, residual, lam_k, state, rng, path_tol
                    ).state
        # With "auto", the held-out split's solution at the chosen shrinkage
        # warm-starts the refit on every observed entry.
        solution = self._solve(pattern, residual, lam, state, rng)
        if not solution.converged:
            warnings.warn(
                f"TraceNormImputer did not converge in max_iter={self.max_iter} "
                f"iterations at shrinkage={lam:.4g}; increase max_iter or tol",
                ConvergenceWarning,
                stacklevel=3,
            )
        root = np.sqrt(solution.d)
        return {
            "shrinkage_": float(lam),
            "shrinkage_path_": path,
            "validation_errors_": errors,
            "singular_values_": solution.d,
            "row_factors_": solution.U * root,
            "column_factors_": solution.V * root,
            "n_iter_": solution.n_iter,
        }

    def _fold_in(self, obs, row_effects, row_scales, counts):
        """Ridge fit of each row's factors, penalty ``shrinkage_``."""
        t = self.column_scales_
        residual = (
            obs.vals
            - self.mean_
            - row_effects[obs.rows]
            - self.column_effects_[obs.cols]
        ) / (row_scales[obs.rows] * t[obs.cols])
        return row_effects, ridge_rows(
            Pattern(obs), residual, self.column_factors_, self.shrinkage_
        )
