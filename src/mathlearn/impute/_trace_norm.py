"""Trace-norm (nuclear-norm) regularised matrix completion: soft-impute."""

import itertools
import warnings
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import deprecated

from mathlearn.impute._base import (
    AUTO_N_FOLDS,
    CV_MAX_OBSERVED,
    LowRankFit,
    Pattern,
    Residuals,
    Split,
    _BaseLowRankImputer,
    check_rank,
    fill_shared_docs,
    held_out_base,
    held_out_squares,
    is_small_table,
    ridge_fold_in,
    row_dot,
    subset,
    validation_split,
)
from mathlearn.impute._blocks import make_block_fold
from mathlearn.impute._centering import (
    CENTER_OPTIONS,
    Centering,
    Observed,
    fit_centering,
    fits_rows,
    refit_effects,
    standardize,
    value_spread,
)
from mathlearn.impute._soft_impute import (
    ALSState,
    Solution,
    filled_singular_values,
    initial_als_state,
    soft_impute_als,
    soft_impute_ridge_als,
    soft_impute_svd,
    spectral_penalty,
)
from mathlearn.utils._sklearn_compat import Hidden, Interval, Options, StrOptions

_INITIAL_RANK = 8
# Path steps only rank the shrinkages; they need less accuracy than the refit
# (a squared relative change, as ``tol``).
_PATH_TOL = 1e-5
# Above a small table (one held-out split, effects fitted first) a path step
# stops at this squared relative change: there every iteration costs
# O(|observed| r^2), and looser steps rank the shrinkages alike. On 2.5
# million skewed ratings (make_ratings at a tenth of MovieLens 25M) steps at
# 1e-3 chose the same shrinkage and rank as at 1e-5 (test RMSE 0.81040
# against 0.81044) in a quarter of the time (22 s instead of 91 s). The
# refit at the chosen shrinkage still runs to ``tol``.
_LARGE_PATH_TOL = 1e-3
# The warm-start path to a fixed shrinkage (on the folds and in the final
# fit) takes three steps per decade from lambda_max: each warm start is then
# close enough to converge in a few iterations.
_STEPS_PER_DECADE = 3
# Those intermediate steps only provide warm starts: their tolerance is this
# many times looser than tol (at most the path's).
_WARM_START_TOL_FACTOR = 100
# In the joint descent, a solve for Z while the effects still move is made
# this much more accurate (in relative change) than the effects' last change.
_INNER_TOL_FACTOR = 0.1
# The path stops once the held-out error has not improved for this many
# scored steps.
_PATIENCE = 2
# Above a small table, a solve at most multiplies the working rank of its
# warm start by this factor.
_RANK_GROWTH = 2
# On a "small table" (is_small_table: at most 250,000 entries, observed or
# not, 1,000 x 250) one more path costs little, so "auto" compares the centrings and the
# shrinkage powers on held-out entries, power 2 takes a full SVD of the
# dense filled matrix (about 20 ms per iteration), and the effects are
# fitted jointly with Z (each effects update of the final fit is one more
# solve). Above, one path: center "both" (its shrunk row effects vanish where
# rows do not differ), power 1, the effects fitted first and held fixed --
# the fit then costs a path of solves, each O(|observed| r + (m + n) r^2)
# per iteration.
# center="auto" compares these centrings on held-out entries of a small table.
_AUTO_CENTERS = ("columns", "both")
# relax="auto": relaxations compared along the path (free to score: the
# prediction is linear in the relaxation).
_AUTO_RELAXATIONS = np.linspace(0.0, 1.0, 5)
# Most block updates (Z given the effects, effects given Z) of the final fit,
# and most solver iterations over all of them, in units of max_iter. Where
# the effects and Z trade off along a nearly flat direction each update is a
# single solver iteration and the effects settle only after a few hundred
# (300 x 10 noisy factor data with row effects: about 170).
_MAX_JOINT_STEPS = 500
_JOINT_ITER_FACTOR = 10
# shrinkage_power="auto" compares these powers on held-out entries of a small
# table.
_AUTO_POWERS = (1, 2)
# The solvers specific to the nuclear norm (power 1).
_ALS_SOLVERS = ("als", "ridge-als")
# The solvers of the soft-impute iteration, by the name soft_impute_svd knows.
_SVD_SOLVERS = {"arpack": "arpack", "randomized": "randomized", "full": "dense"}
# svd_solver="auto" with power 1 runs ridge-ALS below this observed fraction
# (its iteration count does not grow with the missing fraction), ALS above.
_RIDGE_ALS_MAX_FRACTION = 0.2


def identifiable_rank(shape, n_obs):
    """Largest rank ``r`` with no more parameters than observed entries.

    A rank-``r`` matrix of shape ``(m, n)`` has ``r (m + n - r)`` degrees of
    freedom: above the root of ``r (m + n - r) = n_obs`` the observed entries
    cannot determine it, and the working rank is capped there (at least 1).
    """
    total = shape[0] + shape[1]
    root = 0.5 * (total - np.sqrt(max(total**2 - 4.0 * n_obs, 0.0)))
    return max(int(root), 1)


class RidgeFoldIn(NamedTuple):
    """How a row is folded in: ridge on the column factors, then rescaled."""

    penalty: np.ndarray  # (rank,) per component: sigma_k - d_k
    ratio: np.ndarray  # (rank,) d_relax / d
    refit_rows: bool  # the row effect is refitted with the factors


class _Fold(NamedTuple):
    """One held-out split walking the path: its training fit, its held-out part."""

    train: Observed
    pattern: Pattern  # of ``train``
    valid: Observed  # the held-out entries
    scales: np.ndarray  # (n_valid,) row scale times column scale of each
    centering: Centering  # the effects of the training entries
    residual: np.ndarray  # (n_train,) standardised residuals under them
    base: np.ndarray  # (n_valid,) their prediction of the held-out entries
    lam_max: float  # the shrinkage above which Z = 0 on ``train``
    state: object  # warm start of the next solve

    @property
    def residuals(self):
        """The training residuals, as the solvers ask for them."""
        return Residuals(self.pattern, self.residual)

    @property
    def n_valid(self):
        return self.valid.vals.size

    def squares(self, B, penalty, ratio, relaxations, joint_rows):
        """:func:`~._base.held_out_squares` of this fold."""
        return held_out_squares(self, B, penalty, ratio, relaxations, joint_rows)


def _with_effects(fit, c):
    """The fold ``fit`` with effects ``c``: residuals and held-out base follow."""
    return fit._replace(
        centering=c,
        residual=standardize(fit.train, c),
        base=held_out_base(fit.valid, c),
    )


class _PathResult(NamedTuple):
    """What a walk of the path on the folds found (one centring and power)."""

    relative: np.ndarray  # (n_path,) scored shrinkages, relative to lambda_max
    errors: np.ndarray  # (n_path,) pooled held-out RMSE, chosen relaxation
    ratio: float  # the best of ``relative``
    relaxation: float  # the best relaxation there
    state: object  # the first fold's solution there: warm start of the refit
    effects: Centering  # the first fold's (joint) effects there
    rank_limit: int = None  # the held-out rank limit in force there, if any


class _RankLimit(NamedTuple):
    """The path's limit on the working rank (large tables), and its origin."""

    rank: int  # None: no limit yet
    halved: bool  # set by a leading half that predicted as well: never rises


class _Selection(NamedTuple):
    """What :meth:`TraceNormImputer._select` passes to the final fit."""

    power: int
    path: _PathResult = None  # None when nothing was compared


class _Descent(NamedTuple):
    """Progress of the block descent on the effects and ``Z`` (final fit)."""

    centering: Centering  # the current effects
    residual: np.ndarray  # the standardised residuals under them
    state: object  # warm start of the next solve for Z
    inner_tol: float  # tolerance of the next solve
    n_iter: int = 0  # solver iterations so far
    n_steps: int = 0  # solves so far
    settled: bool = False  # the last effects update changed them by < sqrt(tol)
    stalled: bool = False  # an exact solve lowered the objective by <= tol
    previous: float = None  # the objective after the last exact solve


def _leading_solution(solution, rank):
    """The ``rank`` leading components of ``solution`` (largest ``d``)."""
    keep = np.argsort(-solution.d, kind="stable")[:rank]
    return solution._replace(
        U=solution.U[:, keep], d=solution.d[keep], V=solution.V[:, keep]
    )


def _leading_state(state, rank):
    """The warm start ``state`` cut to its ``rank`` leading directions.

    ``None`` (no limit) or a state within it is returned as it is.
    """
    if rank is None or state is None:
        return state
    if isinstance(state, ALSState):
        if state.D.size <= rank:
            return state
        keep = np.argsort(-state.D, kind="stable")[:rank]
        return ALSState(state.U[:, keep], state.D[keep], state.V[:, keep])
    U, d, V, working = state
    keep = np.argsort(-d, kind="stable")[:rank]
    return (U[:, keep], d[keep], V[:, keep], min(working, rank))


def _n_path_steps(ratio):
    """Path steps over a ``ratio`` of shrinkages, ``_STEPS_PER_DECADE`` a decade."""
    return int(np.ceil(_STEPS_PER_DECADE * np.log10(ratio)))


@fill_shared_docs
class TraceNormImputer(_BaseLowRankImputer):
    """Complete a matrix by trace-norm (nuclear-norm) regularised soft-impute.

    The matrix is modelled as a global mean plus row and column effects
    ``E_ij = mean + a_i + b_j`` (see ``center``) plus a low-rank ``Z``,
    fitted jointly on the observed entries:

    ``min_{E, Z} 1/2 sum_{(i, j) observed} (X_ij - E_ij - Z_ij)^2
    + alpha * ||Z||_*``,

    the nuclear norm ``||Z||_*`` (sum of singular values) being the convex
    relaxation of the rank (Mazumder, Hastie & Tibshirani 2010). Observed
    entries are kept; missing ones are read from the low-rank ``Z``, whose
    singular values may then be partly refitted without penalty (``relax``).
    With the defaults, the shrinkage, the relaxation and the centring are
    chosen together on held-out observed entries (cross-validated on small
    data), along a decreasing path of shrinkages fitted with warm starts,
    and the best is refitted on all entries.

    The solver never forms the dense matrix: observed entries are kept as
    (row, column, value) triplets and ``Z`` as ``U diag(d) V^T``.
    {{sparse_input}}

    {{units}}

    Parameters
    ----------
    alpha : "auto" or float, default="auto"
        The weight ``lambda >= 0`` of the nuclear norm (the penalty
        ``alpha`` of :class:`SVDImputer`, see Notes), on the scale of the
        standardised residuals (``X`` divided by the root-mean-square of its
        centred observed entries, see above, and by the row and column scales
        when ``scale=True``). ``"auto"`` picks it on held-out observed
        entries (see ``n_folds``), from ``n_shrinkages`` values spaced
        geometrically from ``lambda_max`` (the largest singular value of the
        zero-filled residual matrix, above which ``Z = 0``) down to
        ``shrinkage_ratio * lambda_max``, each held-out entry predicted as
        ``transform`` would (its row folded in by ridge on the training
        entries, see Notes). The choice is the ratio
        ``lambda / lambda_max``, each fold's ``lambda_max`` computed on its
        training entries; the refit on all entries uses that ratio times
        their ``lambda_max``, since the scale of the data term grows with the
        number of entries while the penalty's does not.
    n_components : int, default=None
        Largest rank of ``Z`` (number of components). ``None`` lets the
        working rank grow as needed up to ``min(n_samples, n_features) - 1``
        and gives the exact soft-impute solution on tables of at most 250,000
        entries; above, the working rank stays below the largest rank the
        observed entries can determine (``r (n_samples + n_features - r) <=
        n_observed``), at most doubles per shrinkage of the path, and grows
        only while it pays on the held-out entries (with ``alpha="auto"``:
        once the leading half of the components predicts them as well as
        all of them, the rank is limited to that half), so that the cost of
        a fit follows from the data's size and the signal's rank, not from
        the noise; a smaller value bounds time and memory (the solution is
        then the best of rank at most ``n_components``).
    max_iter : int, default=100
        Maximum number of iterations for each shrinkage. When the effects
        are fitted jointly with ``Z``, the solves of the final fit (one per
        update of the effects, each resuming where the last stopped) share at
        most ``10 * max_iter`` iterations (see Notes).
    tol : float, default=1e-5
        Stop when the squared relative change of ``Z`` in Frobenius norm,
        ``||Z_old - Z||_F^2 / ||Z_old||_F^2``, falls below ``tol``: the
        criterion of Mazumder, Hastie & Tibshirani (2010), and the default of
        R's softImpute (``thresh``). It stops once ``Z`` changes by less than
        about 0.3% per iteration, which predicts as well as a tighter solve on
        noisy data (further iterations mostly fit the noise); use a smaller
        value, e.g. ``1e-12``, to solve the convex problem to high accuracy.
        The steps of the ``alpha="auto"`` path, which only rank the
        shrinkages, stop at ``max(tol, 1e-5)``, or ``max(tol, 1e-3)`` above
        250,000 entries (observed or not); the final fit runs to ``tol``.
        The time/accuracy knob: ``tol=1e-3, n_shrinkages=10,
        shrinkage_ratio=1e-2`` is the fast setting (see the Notes for the
        cost of a fit).
    svd_solver : {"auto", "als", "ridge-als", "arpack", "randomized", "full"}, \
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
        (ARPACK, or a randomized subspace iteration); ``"full"`` runs it with
        a full SVD of the dense filled matrix, ``O(n_samples n_features
        min(n_samples, n_features))`` time and ``O(n_samples n_features)``
        memory per iteration (for small tables only). ``"auto"`` uses
        ``"ridge-als"`` when less than 20% of the entries are observed and
        ``"als"`` otherwise; for ``shrinkage_power=2``, which the ALS
        solvers do not solve, ``"full"`` up to 250,000 entries and
        ``"arpack"`` above. (``"randomized"`` is often faster on small
        matrices, but its inexact SVD stops further from the solution at a
        given ``tol``.) The solver of the final fit is ``svd_solver_``.
    n_shrinkages : int, default=20
        Number of shrinkages (values of ``alpha``) on the path of
        ``alpha="auto"``.
    shrinkage_ratio : float, default=1e-3
        Smallest shrinkage of the path, relative to ``lambda_max``.
    relax : "auto" or float in [0, 1], default="auto"
        Relaxation of the singular values: ``Z = U diag(d_relax) V^T`` with
        ``d_relax = (1 - relax) d + relax d_ls``, where ``U diag(d) V^T`` is
        the soft-impute solution and ``d_ls`` refits its singular values by
        least squares on the observed entries, ``U`` and ``V`` fixed,
        negative values set to 0 (Soft-Impute+ of Mazumder et al. 2010, the
        analogue of the relaxed lasso). The nuclear norm both selects the
        rank and shrinks every kept singular value by ``lambda``; relaxing
        undoes part of the shrinkage, so a larger ``lambda`` can select the
        rank without biasing the kept components. ``0`` is the exact
        soft-impute solution. ``"auto"`` chooses among 0, 0.25, 0.5, 0.75
        and 1 jointly with the shrinkage, on the same held-out entries
        (scoring them is nearly free: the prediction is linear in
        ``relax``); with a fixed ``alpha`` it means 0.
    shrinkage_power : "auto", 1 or 2, default="auto"
        How each iteration shrinks the singular values ``sigma`` of the
        filled matrix: ``sigma (1 - (lambda / sigma)^power)_+``, the adaptive
        trace norm of Josse & Sardy (2016). ``1`` is soft-thresholding, the
        nuclear norm above (convex). ``2`` gives
        ``(sigma^2 - lambda^2) / sigma``, the shrinkage of regularised
        iterative PCA (Josse & Husson 2012): it removes the same small
        components but shrinks the large ones much less (by
        ``lambda^2 / sigma`` instead of ``lambda``), a penalty that is concave
        in the singular values (see Notes). It often predicts better on
        data with a few strong components, such as low-rank matrices and
        correlated features, but its iteration is slower to converge and
        needs an SVD solver (see ``svd_solver``).
        ``"auto"`` compares 1 and 2 on the held-out entries when
        ``alpha="auto"``, ``svd_solver`` is not an ALS solver and there
        are at most 200,000 observed entries (one more path); otherwise it
        means 1. The power used is
        ``shrinkage_power_``.
    n_folds : "auto" or int, default="auto"
        How the held-out entries are drawn. ``1``: a single random fraction
        ``validation_fraction`` of the observed entries. ``k >= 2``: k-fold
        cross-validation over the observed entries, the errors pooled over
        the folds (k paths instead of one, but a much less noisy choice when
        there are few entries). ``"auto"``: 5 folds up to 10,000 observed
        entries, one held-out fraction above. At most the number of observed
        entries (each fold holds one out at least); memory grows as
        ``n_folds`` times the number of observed entries.
    validation_fraction : float, default=0.1
        Fraction of the observed entries held out when ``n_folds`` is 1:
        each entry is held out when a hash of its position (seeded by
        ``random_state``) falls below it, so the same entries are held out
        whichever blocks of a dask array read them (and at least one entry
        is held out and one kept).
    center : {"auto", "both", "rows", "columns", "global"} or None, \
            default="auto"
        Effects fitted with the low-rank part: a global mean plus row and
        column effects (``"both"``), plus only one kind, only the global mean,
        or nothing (``None``). They are unpenalised and fitted jointly with
        ``Z`` (see Notes) up to 200,000 observed entries; with
        ``scale=True``, or above that size, they are fitted first (with the
        scales) and held fixed. ``"auto"`` fits the path for ``"columns"`` and for
        ``"both"`` on the same held-out entries and keeps the centring with
        the smaller error (row effects help when rows really differ by an
        offset, like athletes' abilities; they are noise, estimated from a
        few entries per row, when they do not, as in standardised
        features). Above 200,000 observed entries, where a second path would
        double the fitting time, ``"auto"`` means ``"both"``. The centring
        used is ``center_``.
    effects_penalty : "auto" or float, default="auto"
        {{effects_penalty}}
    {{scale}}
    {{missing_values}}
    random_state : int, RandomState instance or None, default=None
        Seeds the held-out split and the initial factors.
    {{n_jobs}}
    verbose : int, default=0
        ``1`` prints one line per shrinkage; ``2`` also one per iteration.
    shrinkage : "auto" or float, default="deprecated"
        Former name of ``alpha``.

        .. deprecated:: 0.2
           ``shrinkage`` was renamed ``alpha`` in 0.2 and will be removed in
           0.3.
    max_rank : int or None, default="deprecated"
        Former name of ``n_components``.

        .. deprecated:: 0.2
           ``max_rank`` was renamed ``n_components`` in 0.2 and will be
           removed in 0.3.

    Attributes
    ----------
    alpha_ : float
        The shrinkage used for the final fit (on the scale of ``alpha``).
    relaxation_ : float
        The relaxation used for the final fit (see ``relax``).
    shrinkage_power_ : int
        The shrinkage power used for the final fit (see ``shrinkage_power``).
    svd_solver_ : str
        The solver of the final fit (see ``svd_solver``): ``svd_solver``, or
        the one ``"auto"`` resolved to for all observed entries at
        ``shrinkage_power_`` (a fold of the validation, with fewer observed
        entries, may resolve to another).
    center_ : str or None
        The centring used (``center``, or the one chosen by ``"auto"``).
    alphas_ : ndarray of shape (n_path,)
        The path's shrinkages, as ratios to ``lambda_max`` times the
        ``lambda_max`` of all entries (``alpha="auto"`` only; the path
        stops early once the validation error has risen for 2 steps).
    validation_errors_ : ndarray of shape (n_path,)
        Root-mean-square error on the held-out entries (pooled over the
        folds) for each shrinkage of ``alphas_``, at the chosen
        relaxation and centring, on the scale of ``X``.
    singular_values_ : ndarray of shape (`n_components_`,)
        Singular values of ``Z = row_factors_ @ column_factors_.T`` (after
        relaxation), on the scale of ``X``.
    row_factors_ : ndarray of shape (n_samples_fit, `n_components_`)
        The fold-in of each training row (see Notes):
        ``U diag(d_relax / sqrt(d))`` at the exact solution, so that
        ``Z = row_factors_ @ column_factors_.T``. Zero for a row with no
        observed entry.
    column_factors_ : ndarray of shape (n_features, `n_components_`)
        ``V diag(sqrt(d))``, so that ``Z = row_factors_ @ column_factors_.T``.
        Zero for a column with no observed entry.
    n_components_ : int
        Rank of ``Z``.
    {{effects_attributes}}
    n_iter_ : int
        Iterations of the final fit.
    {{feature_attributes}}
    rank_ : int
        Deprecated alias of `n_components_` (deprecated in 0.2, removed in
        0.3).
    shrinkage_ : float
        Deprecated alias of `alpha_` (deprecated in 0.2, removed in 0.3).
    shrinkage_path_ : ndarray
        Deprecated alias of `alphas_` (deprecated in 0.2, removed in 0.3).

    See Also
    --------
    SVDImputer : Fixed-rank factorisation fitted by L-BFGS.
    SOMImputer : Imputation from a self-organizing map.
    sklearn.impute.IterativeImputer : Regresses each feature on the others.

    Notes
    -----
    Soft-impute iterates ``Z <- S_lambda(P_O(X) + P_O^perp(Z))``, where
    ``S_lambda`` soft-thresholds singular values. A fixed ``alpha`` is
    reached by warm starts along a geometric path from ``lambda_max`` (three
    steps per decade), since convergence from a cold start is slow when the
    shrinkage is small. Writing the filled matrix as
    ``S + Z``, with ``S = P_O(X - Z)`` sparse and ``Z`` low-rank, a product
    with a thin matrix costs ``O(|O| r + (n_samples + n_features) r^2)``,
    and so does each softImpute-ALS iteration; memory is
    ``O(|O| + (n_samples + n_features) r)``.

    The effects and ``Z`` are fitted by block coordinate descent on the
    joint objective, which is convex: ``Z`` given the effects (soft-impute on
    the residuals ``X - E``), then the effects given ``Z`` (least squares:
    alternating means of ``X - Z`` over the observed entries), until the
    effects change by less than ``sqrt(tol)`` times the spread of ``X``, or
    until a solve of ``Z`` at ``tol`` lowers the joint objective by less than
    ``tol`` relative (near a flat direction, where row effects and a ``Z``
    spanning nearly every column trade off, the effects may drift long after
    the objective has settled), within at most 500 updates and
    ``10 * max_iter`` solver iterations in all (a ``ConvergenceWarning``
    says when this budget ends the descent). Fitting
    the effects first and holding them fixed (the usual centring) is biased
    whenever which entries are observed depends on the rows' factors -- for
    instance when large values are missing more often: a column's observed
    mean is then too low, while the joint fit corrects it with ``Z``. On the
    path each shrinkage makes one such effects update, so the effects follow
    ``Z`` at no extra solve. Above 200,000 observed entries, where each
    update of the final fit costs another solve, and with ``scale=True``, the
    effects are fitted first and held fixed.

    With ``shrinkage_power=2`` the same iteration minimises
    ``1/2 ||P_O(R - Z)||^2 + sum_k p(d_k)`` with
    ``p(d) = lambda^2 log(sigma / lambda)
    + lambda^2 / 2 (1 - lambda^2 / sigma^2)``, ``sigma`` the singular value
    that shrinks to ``d`` (``p'(d) = lambda^2 / sigma``: ``lambda`` at 0,
    vanishing for large ``d``). ``p`` is concave, so the objective is not
    convex and the solution depends on the start (the path's warm starts),
    but ``1/2 (sigma - d)^2 + p(d)`` is strictly convex in ``d``: each
    iteration is a proximal gradient step and lowers the objective, which
    the joint descent monitors in place of the nuclear-norm objective.

    The relaxation refits the singular values by least squares on the
    observed entries, ``O(|O| r^2)`` once per shrinkage of the path: about
    one more solver iteration.

    The cost of a default fit on a table of more than 250,000 entries
    (observed or not), such as a ratings matrix: the effects are fitted
    first (a few sweeps of ``O(|O|)``), then one held-out split walks the
    path with ``"ridge-als"``, whose iterations cost ``O(|O| r^2 + (m + n)
    r^3)`` spread over ``n_jobs`` threads; each step stops at a squared
    relative change of ``1e-3``, the working rank grows by at most a
    doubling per step and only while the held-out entries confirm it, and
    the path ends two steps after its best. So the cost grows linearly with
    the number of observed entries and with the square of the rank the data
    supports, not with the number of missing entries. Measured on 2 cores:
    2.5 million skewed ratings of a rank-10 matrix (16,254 x 5,905), 22 s
    at rank 8; MovieLens-25M-sized ratings, see ``benchmarks/bench_ratings.py``.

    The solution ``Z = U diag(d) V^T`` also minimises ``1/2 ||P_O(R - A
    B^T)||^2 + lambda/2 (||A||^2 + ||B||^2)`` at ``A = U diag(sqrt(d))``,
    ``B = V diag(sqrt(d))``: the objective of :class:`SVDImputer` with
    ``alpha = lambda`` (uniform regularisation) at any ``n_components`` at
    least the rank of ``Z``, hence one name for both. So the factors of a
    row are the ridge fit of its observed entries on ``B``: rows are folded
    in this way (jointly with their unpenalised row effect, when there is
    one; with ``shrinkage_power=2`` the penalty of component ``k`` is
    ``sigma_k - d_k = lambda^2 / sigma_k``, for which the same identity
    holds), then each component is multiplied by ``d_relax / d``. The fit
    ends by folding in every training row (an exact block update given
    ``B``, ``O(|O| r^2)``): a solve stopped by ``tol`` is not the exact
    solution, and its rows would differ from their fold-in. So ``transform``
    returns a training row's fitted completion, the value
    :meth:`predict_entries` reads, and extends the model to new rows.

    ``transform`` returns a dense array; for a large sparse matrix use
    :meth:`predict_entries`.

    *Dask.* ``fit`` also takes a 2-D dask array (missing entries marked by
    ``missing_values``, or chunks that are scipy.sparse matrices) with
    ``svd_solver`` ``"auto"`` or ``"ridge-als"``, ``scale=False`` and
    ``n_folds`` ``"auto"`` or 1 (others raise a
    ValueError naming the parameter): every pass of the fit (the scale, the
    effects' sweeps, each ridge half-step of the held-out path and of the
    final solve, its scores on the held-out entries, the products of the
    top-singular-value iteration, the fold-in of the rows) is one task per
    block of whole rows or of whole columns, with the factors and effects
    sent to the workers; the blocks are the array's chunks merged along the
    other axis, their observed entries extracted once and persisted on the
    workers. The fitted model, its selection
    included, equals the in-memory fit to round-off. A table of at most
    250,000 entries is computed, and one with at most 10,000 observed
    entries (5 folds) gathered as a sparse matrix, and fitted in memory.

    References
    ----------
    R. Mazumder, T. Hastie and R. Tibshirani (2010). Spectral regularization
    algorithms for learning large incomplete matrices. JMLR 11, 2287-2322.

    T. Hastie, R. Mazumder, J. D. Lee and R. Zadeh (2015). Matrix completion
    and low-rank SVD via fast alternating least squares. JMLR 16, 3367-3402.

    J. Josse and S. Sardy (2016). Adaptive shrinkage of singular values.
    Statistics and Computing 26, 715-724.

    J. Josse and F. Husson (2012). Handling missing values in exploratory
    multivariate data analysis methods. Journal de la SFdS 153(2), 79-99.

    Y. Koren (2008). Factorization meets the neighborhood: a multifaceted
    collaborative filtering model. KDD 2008, 426-434.

    N. Meinshausen (2007). Relaxed lasso. Computational Statistics & Data
    Analysis 52, 374-393.

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
    >>> bool(error < 1e-3)
    True
    >>> imputer.shrinkage_power_, imputer.singular_values_.round(1)
    (2, array([96.3, 80.2]))
    """

    _model_types = (*_BaseLowRankImputer._model_types, RidgeFoldIn)

    _parameter_constraints = {
        "alpha": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "svd_solver": [StrOptions({"auto", *_ALS_SOLVERS, *_SVD_SOLVERS})],
        "n_shrinkages": [Interval(Integral, 1, None, closed="left")],
        "shrinkage_ratio": [Interval(Real, 0, 1, closed="neither")],
        "relax": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="both")],
        "shrinkage_power": [StrOptions({"auto"}), Options(Integral, {1, 2})],
        "n_folds": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "center": [StrOptions(CENTER_OPTIONS | {"auto"}), None],
        "effects_penalty": [
            StrOptions({"auto"}),
            Interval(Real, 0, None, closed="left"),
        ],
        "scale": ["boolean"],
        "missing_values": [Interval(Real, None, None, closed="neither"), "nan"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "shrinkage": [
            Hidden(StrOptions({"deprecated"})),
            StrOptions({"auto"}),
            Interval(Real, 0, None, closed="left"),
        ],
        "max_rank": [
            Hidden(StrOptions({"deprecated"})),
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
    }

    _renamed_params = {"shrinkage": "alpha", "max_rank": "n_components"}

    # The common tests' data are noise with no low-rank structure: a short
    # path and a looser tolerance converge there, and run twice as fast.
    _test_params = {"n_shrinkages": 5, "tol": 1e-4, "max_iter": 1000}

    def __init__(
        self,
        alpha="auto",
        *,
        n_components=None,
        max_iter=100,
        tol=1e-5,
        svd_solver="auto",
        n_shrinkages=20,
        shrinkage_ratio=1e-3,
        relax="auto",
        shrinkage_power="auto",
        n_folds="auto",
        validation_fraction=0.1,
        center="auto",
        effects_penalty="auto",
        scale=False,
        missing_values=np.nan,
        random_state=None,
        n_jobs=None,
        verbose=0,
        shrinkage="deprecated",
        max_rank="deprecated",
    ):
        self.alpha = alpha
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol
        self.svd_solver = svd_solver
        self.n_shrinkages = n_shrinkages
        self.shrinkage_ratio = shrinkage_ratio
        self.relax = relax
        self.shrinkage_power = shrinkage_power
        self.n_folds = n_folds
        self.validation_fraction = validation_fraction
        self.center = center
        self.effects_penalty = effects_penalty
        self.scale = scale
        self.missing_values = missing_values
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.shrinkage = shrinkage
        self.max_rank = max_rank

    @deprecated(
        "Attribute `shrinkage_` was deprecated in 0.2 and will be removed in "
        "0.3; use `alpha_`"
    )
    @property
    def shrinkage_(self):
        """Deprecated alias of `alpha_` (deprecated in 0.2, removed in 0.3)."""
        return self.alpha_

    @deprecated(
        "Attribute `shrinkage_path_` was deprecated in 0.2 and will be removed "
        "in 0.3; use `alphas_`"
    )
    @property
    def shrinkage_path_(self):
        """Deprecated alias of `alphas_` (deprecated in 0.2, removed in 0.3)."""
        return self.alphas_

    def _check_params(self, shape, n_obs):
        n_components = self._param("n_components")
        if n_components is not None:
            check_rank("n_components", n_components, shape)
        if self.n_folds != "auto" and self.n_folds > n_obs:
            raise ValueError(
                f"n_folds={self.n_folds} must be <= the number of observed "
                f"entries of X ({n_obs}): each fold holds at least one out"
            )
        if self.shrinkage_power == 2 and self.svd_solver in _ALS_SOLVERS:
            raise ValueError(
                f"svd_solver={self.svd_solver!r} solves the nuclear norm only "
                f"(shrinkage_power=1), got shrinkage_power=2; use "
                f"svd_solver='auto', 'arpack', 'randomized' or 'full'."
            )

    def _rank_cap(self, shape, n_obs, state, rank_limit=None):
        """The working rank's bound: ``n_components``, or one from the data.

        A small table may reach ``min(shape) - 1``. Above, the working rank
        stays within :func:`identifiable_rank`, and a solve at most doubles
        the working rank of its warm start ``state``: no path step jumps to
        a rank whose cost (``O(|O| r^2 + (m + n) r^3)`` per iteration) the
        data cannot justify; the next steps grow it further if the held-out
        error keeps improving, up to ``rank_limit`` (see :meth:`_fold_path`).
        """
        cap = max(min(shape) - 1, 1)
        if not is_small_table(shape):
            cap = min(cap, identifiable_rank(shape, n_obs))
            if state is not None:
                working = state.U.shape[1] if isinstance(state, ALSState) else state[3]
                cap = min(cap, max(_RANK_GROWTH * working, _INITIAL_RANK))
            if rank_limit is not None:
                cap = min(cap, rank_limit)
        n_components = self._param("n_components")
        return cap if n_components is None else min(n_components, cap)

    def _solve(self, residuals, lam, state, rng, tol=None, power=1, rank_limit=None):
        """One shrinkage, warm-started; returns the Solution.

        ``Z = 0`` is the exact solution when ``lam`` is at least the largest
        singular value of ``P_O(residual)`` (then ``P_O(residual)`` is a
        subgradient of ``lam ||Z||_*`` at 0). The iterates then shrink to 0
        geometrically, at a constant *relative* change that ``tol`` never
        accepts, so a solve that ends at ``Z = 0`` without converging is
        checked against this optimality condition (one more top singular
        value, only then): on data explained by the effects alone, for
        instance, the residual is round-off and ``lam`` exceeds it.
        ``residuals`` is a :class:`~mathlearn.impute._base.Residuals` (or
        its dask counterpart).
        """
        solution = self._run_solver(residuals, lam, state, rng, tol, power, rank_limit)
        if solution.converged or solution.d.size:
            return solution
        if residuals.top_singular_value() <= lam:
            return solution._replace(converged=True)
        return solution

    def _svd_solver(self, shape, n_obs, power, blocks=False):
        """The solver ``svd_solver`` names, or the one ``"auto"`` picks.

        On the ``blocks`` of a dask array, ``"auto"`` is ridge-ALS: the
        other solvers work on the entries in memory.
        """
        if self.svd_solver != "auto":
            return self.svd_solver
        if blocks:
            return "ridge-als"
        if power != 1:
            # The ALS solvers are specific to the nuclear norm. A small
            # filled matrix is cheaper to decompose whole than through
            # ARPACK's many products.
            return "full" if is_small_table(shape) else "arpack"
        fraction = n_obs / (shape[0] * shape[1])
        return "ridge-als" if fraction < _RIDGE_ALS_MAX_FRACTION else "als"

    def _run_solver(self, residuals, lam, state, rng, tol, power, rank_limit):
        tol = self.tol if tol is None else tol
        shape, n_obs = residuals.shape, residuals.n_obs
        rank_cap = self._rank_cap(shape, n_obs, state, rank_limit)
        blocks = not isinstance(residuals, Residuals)
        solver = self._svd_solver(shape, n_obs, power, blocks)
        if solver in _ALS_SOLVERS:
            run = soft_impute_als if solver == "als" else soft_impute_ridge_als
            if state is None:
                state = initial_als_state(shape, min(_INITIAL_RANK, rank_cap), lam, rng)
            return run(
                residuals,
                lam,
                state,
                max_iter=self.max_iter,
                tol=tol,
                rank_cap=rank_cap,
                rng=rng,
                verbose=self.verbose,
            )
        if state is None:
            m, n = shape
            state = (
                np.zeros((m, 0)),
                np.zeros(0),
                np.zeros((n, 0)),
                min(_INITIAL_RANK, rank_cap),
            )
        return soft_impute_svd(
            residuals,
            lam,
            state,
            max_iter=self.max_iter,
            tol=tol,
            rank_cap=rank_cap,
            solver=_SVD_SOLVERS[solver],
            rng=rng,
            power=power,
            verbose=self.verbose,
        )

    def _select(self, obs, rng):
        """Choose the centring, power and relative shrinkage on held-out entries.

        Every candidate centring and power walks the same path on the same
        folds; the combination with the smallest pooled held-out RMSE wins.
        """
        small = is_small_table(obs.shape)
        centers = self._centers(small)
        powers = self._powers(small)
        if self._param("alpha") != "auto" and len(centers) == 1:
            return centers[0], _Selection(powers[0])
        folds = self._folds(obs, rng)
        best = None
        for center, power in itertools.product(centers, powers):
            path = self._fold_path(obs, folds, center, power, rng)
            score = np.min(path.errors)
            if best is None or score < best[0]:
                best = (score, center, _Selection(power, path))
        return best[1], best[2]

    def _needs_memory(self, n_obs):
        """Few entries (``n_folds="auto"`` is K folds) are fitted in memory."""
        return self._n_folds(n_obs) > 1

    def _check_dask_params(self):
        """A dask fit runs ridge-ALS on one held-out split (see Notes)."""
        super()._check_dask_params()
        if self.n_folds not in ("auto", 1):
            raise ValueError(
                f"n_folds={self.n_folds} is not supported on a dask array X: "
                "its selection holds out one validation_fraction (n_folds=1)"
            )
        if self.svd_solver not in ("auto", "ridge-als"):
            raise ValueError(
                f"svd_solver={self.svd_solver!r} is not supported on a dask "
                "array X; use 'auto' or 'ridge-als'"
            )
        if self.shrinkage_power == 2:
            raise ValueError(
                "shrinkage_power=2 is not supported on a dask array X: its "
                "solvers work in memory"
            )

    def _centering_start(self, shape, selection):
        """The held-out split's effects, above a small table.

        Fitted on all but ``validation_fraction`` of the entries, they are
        close to the effects of all entries: the sweeps from them stop after
        a few, where from zero effects they take up to 20 (over a minute on
        20 million ratings). A small table keeps its cold start.
        """
        if is_small_table(shape) or selection.path is None:
            return None
        return selection.path.effects

    def _centers(self, small):
        """The centrings compared on held-out entries."""
        if self.center != "auto":
            return [self.center]
        return list(_AUTO_CENTERS) if small else ["both"]

    def _powers(self, small):
        """The shrinkage powers compared on held-out entries."""
        if self.shrinkage_power != "auto":
            return [self.shrinkage_power]
        auto = self._param("alpha") == "auto" and self.svd_solver not in _ALS_SOLVERS
        if auto and small:
            return list(_AUTO_POWERS)
        return [1]

    def _n_folds(self, n_obs):
        if self.n_folds == "auto":
            return AUTO_N_FOLDS if n_obs <= CV_MAX_OBSERVED else 1
        return self.n_folds

    def _folds(self, obs, rng):
        """The held-out parts: K boolean masks, or one ``validation_fraction``.

        ``obs`` is the :class:`Observed` entries, or a dask array's
        :class:`~._blocks.BlockSource`. The single split holds out the
        entries whose hash (:func:`~._base.entry_hash`, seeded from
        ``rng``) falls below ``validation_fraction``: the same entries in
        memory and on the blocks, where it is a :class:`~._blocks.Split`.
        """
        in_memory = isinstance(obs, Observed)
        n_obs = obs.rows.shape[0] if in_memory else obs.n_obs
        n_folds = self._n_folds(n_obs)
        if n_folds == 1:
            split = Split(int(rng.randint(2**31 - 1)), self.validation_fraction)
            if not in_memory:
                return [split]
            return [validation_split(obs, split)]
        label = rng.permutation(n_obs) % n_folds
        return [label == k for k in range(n_folds) if (label == k).any()]

    def _joint(self, center, shape):
        """Whether the effects are refitted jointly with ``Z``.

        On a small table (:func:`is_small_table`) and without scales.
        """
        return center is not None and not self.scale and is_small_table(shape)

    def _joint_rows(self, center, shape):
        """Whether row effects are fitted jointly with ``Z`` (and folded in)."""
        return self._joint(center, shape) and fits_rows(center)

    def _make_fold(self, obs, held_out, center):
        """A :class:`_Fold` of ``obs``: the effects of its training entries.

        On a dask array's blocks, a :class:`~._blocks.BlockFold`.
        """
        if not isinstance(obs, Observed):
            penalty = self._effects_penalty(obs.shape)
            return make_block_fold(obs, held_out, center, penalty)
        train, valid = subset(obs, ~held_out), subset(obs, held_out)
        c = fit_centering(
            train,
            center=center,
            scale=self.scale,
            penalty=self._effects_penalty(obs.shape),
        )
        pattern = Pattern(train)
        residual = standardize(train, c)
        return _Fold(
            train=train,
            pattern=pattern,
            valid=valid,
            scales=c.row_scales[valid.rows] * c.column_scales[valid.cols],
            centering=c,
            residual=residual,
            base=held_out_base(valid, c),
            lam_max=Residuals(pattern, residual).top_singular_value(),
            state=None,
        )

    def _path_ratios(self, obs, center):
        """The path's shrinkages relative to ``lambda_max``, and which are scored.

        ``alpha="auto"`` scores ``n_shrinkages`` of them. A fixed
        ``alpha`` is relative to ``lambda_max`` on all entries; the path
        there (three steps per decade) only warm-starts the one value scored.
        """
        if self._param("alpha") == "auto":
            relative = np.geomspace(1.0, self.shrinkage_ratio, self.n_shrinkages)
            return relative, np.ones(relative.size, dtype=bool)
        full = fit_centering(
            obs,
            center=center,
            scale=self.scale,
            penalty=self._effects_penalty(obs.shape),
        )
        lam_max = Residuals(Pattern(obs), standardize(obs, full)).top_singular_value()
        target = self._param("alpha") / lam_max if lam_max > 0 else 1.0
        floor = min(target if target > 0 else self.shrinkage_ratio, 1.0)
        relative = np.geomspace(1.0, floor, _n_path_steps(1 / floor) + 1)
        if target == 0:
            relative = np.append(relative, 0.0)
        relative[-1] = target
        scored = np.zeros(relative.size, dtype=bool)
        scored[-1] = True
        return relative, scored

    def _fold_path(self, obs, folds, center, power, rng):
        """Walk the shrinkage path on every fold in step; pooled held-out RMSE.

        The path is relative to each fold's ``lambda_max`` (the shrinkage
        above which ``Z = 0``), so that it transfers to the refit on all
        entries. It stops once the pooled error has not improved for
        ``_PATIENCE`` scored steps. Returns a :class:`_PathResult`.
        """
        fits = [self._make_fold(obs, held_out, center) for held_out in folds]
        relative, scored = self._path_ratios(obs, center)
        if self.verbose:
            print(f"center={center!r}, power={power}, {len(folds)} fold(s)")
            print(f"{'rel. shrink.':>12} {'rank':>5} {'iter':>5} {'valid. RMSE':>12}")
        relaxations = self._relaxations()
        joint = self._joint(center, obs.shape)
        joint_rows = self._joint_rows(center, obs.shape)
        errors, best_fold, best_limit = [], None, None
        limit = _RankLimit(None, False)
        best, since_best = 0, 0
        for rel, is_scored in zip(relative, scored, strict=True):
            solved = [
                self._fold_step(fit, rel, power, center, joint, rng, limit.rank)
                for fit in fits
            ]
            fits = [fit for fit, _ in solved]
            if not is_scored:
                continue
            squares = sum(
                self._fold_squares(
                    fit, solution, rel * fit.lam_max, power, relaxations, joint_rows
                )
                for fit, solution in solved
            )
            count = sum(fit.n_valid for fit in fits)
            errors.append(np.sqrt(squares / max(count, 1)))
            ranks = [solution.d.size for _, solution in solved]
            if self.verbose:
                iters = sum(solution.n_iter for _, solution in solved)
                print(
                    f"{rel:>12.5g} {max(ranks):>5} {iters:>5} {errors[-1].min():>12.6g}"
                )
            if not is_small_table(obs.shape):
                limit = self._held_out_rank_limit(
                    solved, rel, power, relaxations, joint_rows, squares, limit
                )
                fits = [
                    fit._replace(state=_leading_state(fit.state, limit.rank))
                    for fit in fits
                ]
            if errors[-1].min() <= errors[best].min():
                best, since_best, best_fold = len(errors) - 1, 0, fits[0]
                best_limit = limit.rank
            else:
                since_best += 1
                if since_best >= _PATIENCE:
                    break
        errors = np.asarray(errors)
        gamma = int(np.argmin(errors[best]))
        return _PathResult(
            relative=relative[scored][: len(errors)],
            errors=errors[:, gamma],
            ratio=relative[scored][best],
            relaxation=float(relaxations[gamma]),
            state=best_fold.state,
            effects=best_fold.centering,
            rank_limit=best_limit,
        )

    def _held_out_rank_limit(
        self, solved, rel, power, relaxations, joint_rows, squares, limit
    ):
        """The working rank's limit after a scored path step (a large table).

        The leading half of each fold's components is scored on the held-out
        entries too (one more fold-in at half the rank). When it predicts
        them at least as well as all of them, the trailing components fit
        noise: the working rank is limited to that half for the rest of the
        path and the refit (a limit from a half never rises again).
        Otherwise every component paid, and the next step may double the
        rank, no more (within the current limit): each growth of the rank (whose
        cost is ``O(r^2)`` per observed entry and iteration) is validated
        before the next. Along the path the rank grows as the shrinkage
        falls, and beyond the signal's rank every component it adds is
        nearly as small as the shrinkage: without a limit the rank keeps
        growing for no better prediction.
        """
        rank = max(solution.d.size for _, solution in solved)
        half = rank // _RANK_GROWTH
        grown = max(_RANK_GROWTH * rank, _INITIAL_RANK)
        if limit.halved:
            grown = min(grown, limit.rank)
        if half < 1:
            return _RankLimit(grown, limit.halved)
        leading = sum(
            self._fold_squares(
                fit,
                _leading_solution(solution, half),
                rel * fit.lam_max,
                power,
                relaxations,
                joint_rows,
            )
            for fit, solution in solved
        )
        if leading.min() > squares.min():
            return _RankLimit(grown, limit.halved)
        if self.verbose:
            print(
                f"{'':>12} rank limited to {half}: the leading {half} components "
                "predict the held-out entries as well"
            )
        return _RankLimit(half, True)

    def _fold_step(self, fit, rel, power, center, joint, rng, rank_limit=None):
        """Solve a fold at ``rel * lam_max`` from its warm start.

        With joint effects, one block update of the effects follows: they
        follow the path along with ``Z`` at no extra solve. Returns the
        updated fold and the solution.
        """
        residuals = fit.residuals
        if rel >= 1.0 or fit.lam_max == 0.0:
            # Z = 0 exactly at lambda_max: nothing to solve.
            m, n = residuals.shape
            solution = Solution(
                np.zeros((m, 0)), np.zeros(0), np.zeros((n, 0)), 0, True, None
            )
        else:
            small = is_small_table(residuals.shape)
            solution = self._solve(
                residuals,
                rel * fit.lam_max,
                fit.state,
                rng,
                max(self.tol, _PATH_TOL if small else _LARGE_PATH_TOL),
                power,
                rank_limit,
            )
        fit = fit._replace(state=solution.state)
        if joint and solution.d.size:
            train = fit.train
            z = row_dot(solution.U * solution.d, solution.V, train.rows, train.cols)
            effects = refit_effects(train, fit.centering, z, center=center)
            fit = _with_effects(fit, effects)
        return fit, solution

    def _fold_squares(self, fit, solution, lam, power, relaxations, joint_rows):
        """Sum of squared held-out errors of a fold, for each relaxation.

        Scored as transform predicts: every row folded in by ridge on its
        training entries. At the exact solution this is the fitted Z; where a
        row's entries barely determine its factors (a small penalty, few
        entries), the fold-in exposes what the iterates, stopped early, hide.
        The prediction is linear in the relaxation: two low-rank predictions
        score them all.
        """
        U, d, V = solution.U, solution.d, solution.V
        ratio = None
        if relaxations.size > 1 or relaxations[0] > 0:
            d_ls = fit.residuals.least_squares_singular_values(U, V)
            ratio = np.divide(d_ls, d, out=np.zeros_like(d), where=d > 0)
        penalty = filled_singular_values(d, lam, power) - d
        return fit.squares(V * np.sqrt(d), penalty, ratio, relaxations, joint_rows)

    def _relaxations(self):
        """The relaxations compared on held-out entries."""
        if self.relax != "auto":
            return np.array([float(self.relax)])
        if self._param("alpha") == "auto":
            return _AUTO_RELAXATIONS
        return np.array([0.0])

    def _warm_start(self, residuals, lam, lam_max, rng, power):
        """The state at ``lam``'s neighbour on a path down from ``lambda_max``.

        A small shrinkage is reached through warm starts from lambda_max, as
        on the path: a cold start there is very slow. The intermediate steps
        only provide warm starts, so a looser tolerance is enough for them.
        """
        path_tol = max(self.tol, min(_PATH_TOL, _WARM_START_TOL_FACTOR * self.tol))
        state = None
        steps = _n_path_steps(lam_max / lam)
        for lam_k in np.geomspace(lam_max, lam, steps + 1)[1:-1]:
            state = self._solve(residuals, lam_k, state, rng, path_tol, power).state
        return state

    def _joint_descent(self, obs, pattern, start, lam, power, center, rng):
        """Block coordinate descent on the joint (convex) objective.

        ``Z`` given the effects, then the (least-squares) effects given ``Z``,
        from the :class:`_Descent` ``start``, until the effects settle or an
        exact solve stops lowering the objective; it ends with a solve for
        ``Z`` (unless ``_MAX_JOINT_STEPS`` runs out). The solves for ``Z`` are
        inexact while the effects still move (their tolerance follows the
        effects' change), exact at the end. A solve that has not converged in
        ``max_iter`` goes on from where it stopped in the next step (after an
        effects update, itself a descent step), within the budget of
        ``_JOINT_ITER_FACTOR * max_iter``; the descent ends only after a
        converged solve. Returns the last solution and the final descent.
        """
        spread = value_spread(obs.vals)
        descent = start
        while descent.n_steps < _MAX_JOINT_STEPS:
            solution = self._solve(
                Residuals(pattern, descent.residual),
                lam,
                descent.state,
                rng,
                descent.inner_tol,
                power,
            )
            descent = descent._replace(
                state=solution.state,
                n_iter=descent.n_iter + solution.n_iter,
                n_steps=descent.n_steps + 1,
            )
            if self._descent_done(descent, solution):
                break
            z = row_dot(solution.U * solution.d, solution.V, obs.rows, obs.cols)
            descent = self._check_stall(descent, solution, z, lam, power)
            if descent.stalled:
                break
            descent = self._effects_step(obs, descent, z, center, spread)
        return solution, descent

    def _descent_done(self, descent, solution):
        """Z vanished, the effects settled under an exact solve, or no budget."""
        exact = descent.settled and descent.inner_tol == self.tol
        return (
            not solution.d.size
            or (exact and solution.converged)
            or descent.n_iter >= _JOINT_ITER_FACTOR * self.max_iter
        )

    def _check_stall(self, descent, solution, z, lam, power):
        """Whether an exact solve lowered the joint objective by at most ``tol``.

        Where the effects and Z trade off along a nearly flat direction (row
        effects and a Z spanning nearly every column), block descent moves
        the effects slowly and for long while the objective, and the
        completion, no longer change: the descent also stops once an exact
        step lowers the objective by less than tol relative (tol bounds a
        squared relative change of Z; the objective's change near its minimum
        is of that order). Only exact solves are compared.
        """
        if descent.inner_tol != self.tol:
            return descent._replace(previous=None)
        c = descent.centering
        fit = descent.residual - z
        penalty = spectral_penalty(solution.d, lam, power) + 0.5 * (
            c.row_penalty * float(c.row_effects @ c.row_effects)
            + c.column_penalty * float(c.column_effects @ c.column_effects)
        )
        objective = 0.5 * float(fit @ fit) + penalty
        previous = descent.previous
        stalled = (
            solution.converged
            and previous is not None
            and previous - objective <= self.tol * previous
        )
        return descent._replace(previous=objective, stalled=stalled)

    def _effects_step(self, obs, descent, z, center, spread):
        """The effects given ``Z`` (values ``z`` at the observed entries).

        The next solve's tolerance follows the effects' change: tol bounds a
        squared relative change, so its square root is the relative change,
        of Z there and of the effects here.
        """
        old = descent.centering
        new = refit_effects(obs, old, z, center=center)
        change = max(
            abs(new.mean - old.mean),
            np.max(np.abs(new.row_effects - old.row_effects), initial=0),
            np.max(np.abs(new.column_effects - old.column_effects), initial=0),
        )
        settled = change < np.sqrt(self.tol) * spread
        inner_tol = self.tol
        if not settled:
            relative = _INNER_TOL_FACTOR * change / spread
            inner_tol = max(self.tol, min(_PATH_TOL, relative**2))
        return descent._replace(
            centering=new,
            residual=standardize(obs, new),
            settled=settled,
            inner_tol=inner_tol,
        )

    def _warn_if_unconverged(self, solution, descent, lam, joint):
        """A ConvergenceWarning for an unconverged solve or unsettled effects."""
        if not solution.converged:
            warnings.warn(
                f"TraceNormImputer did not converge in max_iter={self.max_iter} "
                f"iterations at alpha={lam:.4g}; increase max_iter or tol",
                ConvergenceWarning,
                stacklevel=4,
            )
        elif joint and solution.d.size and not (descent.settled or descent.stalled):
            warnings.warn(
                f"TraceNormImputer: the effects fitted jointly with Z did not "
                f"settle in {descent.n_steps} block updates ({descent.n_iter} "
                f"iterations, at most {_JOINT_ITER_FACTOR} * "
                f"max_iter={self.max_iter}) at alpha={lam:.4g}; increase "
                "max_iter or tol",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _fit_low_rank(self, obs, residual, centering, center, rng, selection):
        residuals = Residuals(Pattern(obs), residual)
        return self._fit_residuals(residuals, centering, center, rng, selection, obs)

    def _fit_source(self, source, centering, center, rng, selection):
        """:meth:`_fit_low_rank` on a dask array's blocks."""
        residuals = source.residuals(centering)
        return self._fit_residuals(residuals, centering, center, rng, selection)

    def _fit_residuals(self, residuals, centering, center, rng, selection, obs=None):
        """:meth:`_fit_low_rank` on :class:`Residuals` or their blocks.

        ``obs`` (the entries in memory) is needed only where the effects
        are fitted jointly with ``Z``, on a small table.
        """
        lam_max = residuals.top_singular_value()
        power = selection.power
        joint = self._joint(center, residuals.shape)
        state, path, errors, rank_limit = None, np.empty(0), np.empty(0), None
        if self._param("alpha") == "auto":
            # The relative shrinkage chosen on the folds, on all entries; the
            # first fold's solution (and joint effects) there start the refit.
            chosen = selection.path
            lam = float(chosen.ratio * lam_max)
            path, errors = chosen.relative * lam_max, chosen.errors
            state, relaxation = chosen.state, chosen.relaxation
            rank_limit = chosen.rank_limit
            if joint and chosen.effects is not None:
                centering = chosen.effects
                residuals = Residuals(residuals.pattern, standardize(obs, centering))
        else:
            lam = self._param("alpha")
            relaxation = float(self._relaxations()[0])
        if state is None and 0 < lam < lam_max:
            state = self._warm_start(residuals, lam, lam_max, rng, power)
        if joint:
            start = _Descent(
                centering, residuals.values, state, max(self.tol, _PATH_TOL)
            )
            solution, descent = self._joint_descent(
                obs, residuals.pattern, start, lam, power, center, rng
            )
            residuals = Residuals(residuals.pattern, descent.residual)
        else:
            solution = self._solve(
                residuals, lam, state, rng, self.tol, power, rank_limit
            )
            descent = _Descent(
                centering, None, solution.state, self.tol, solution.n_iter, 1
            )
        self._warn_if_unconverged(solution, descent, lam, joint)
        d = solution.d
        relaxed = d
        if relaxation > 0:
            d_ls = residuals.least_squares_singular_values(solution.U, solution.V)
            relaxed = d + relaxation * (d_ls - d)
        # Fold-in is the ridge fit on column_factors = V sqrt(d), penalty
        # sigma_k - d_k on component k (lambda for power 1), which returns
        # U sqrt(d) for a training row at the exact solution, then this
        # rescaling.
        fold_in = RidgeFoldIn(
            penalty=filled_singular_values(d, lam, power) - d,
            ratio=relaxed / d if d.size else d,
            refit_rows=self._joint_rows(center, residuals.shape),
        )
        return LowRankFit(
            effects=descent.centering,
            column_factors=solution.V * np.sqrt(d),
            fold_in=fold_in,
            attributes={
                "alpha_": float(lam),
                "relaxation_": relaxation,
                "shrinkage_power_": power,
                "svd_solver_": self._svd_solver(
                    residuals.shape,
                    residuals.n_obs,
                    power,
                    not isinstance(residuals, Residuals),
                ),
                "alphas_": path,
                "validation_errors_": errors,
                "n_iter_": descent.n_iter,
            },
        )

    def _fold_in(self, obs, model, row_effects, row_scales, counts):
        """Ridge fit of each row's factors (penalty ``alpha_`` for power 1)."""
        e = model.effects
        t = e.column_scales
        residual = (
            obs.vals - e.mean - row_effects[obs.rows] - e.column_effects[obs.cols]
        ) / (row_scales[obs.rows] * t[obs.cols])
        # A row effect fitted jointly with the factors is folded in with
        # them, unpenalised (as at the fit's optimum).
        row_effects, A = ridge_fold_in(
            Pattern(obs),
            residual,
            model.column_factors,
            model.fold_in.penalty,
            row_effects,
            model.fold_in.refit_rows,
            e.row_penalty,
        )
        return row_effects, A * model.fold_in.ratio

    def _fitted_attributes(self, obs, model, attributes):
        """Validation errors on the scale of ``X``, and the singular values.

        The singular values are those of ``Z = row_factors_ @
        column_factors_.T``, the model's (from the QR factors of both).
        """
        A, B = model.row_factors, model.column_factors
        sigma = np.zeros(0)
        if A.shape[1]:
            core = np.linalg.qr(A, mode="r") @ np.linalg.qr(B, mode="r").T
            sigma = np.linalg.svd(core, compute_uv=False)
        return {
            **attributes,
            "validation_errors_": attributes["validation_errors_"] * model.data_scale,
            "singular_values_": sigma * model.data_scale,
        }
