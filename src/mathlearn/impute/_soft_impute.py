"""Soft-impute solvers on a "sparse + low-rank" representation.

Both solve ``min_Z 1/2 ||P_O(X - Z)||_F^2 + lam ||Z||_*`` (Mazumder, Hastie &
Tibshirani 2010) with ``Z = U diag(d) V^T`` kept in factored form and the
observed entries ``X_O`` kept as COO triplets; the dense ``m x n`` matrix is
never formed. The filled matrix of soft-impute,
``X* = P_O(X) + P_O^perp(Z) = S + Z`` with ``S = P_O(X - Z)`` sparse, is only
ever multiplied by thin matrices: ``X* W = S W + U (d * (V^T W))`` costs
``O(|O| r + (m + n) r^2)``.

* :func:`soft_impute_als` -- softImpute-ALS (Hastie, Mazumder, Lee & Zadeh
  2015, Algorithm 3.1): alternating ridge steps on ``A = U D``, ``B = V D``
  with the filled matrix, then one exact singular-value thresholding step.
* :func:`soft_impute_svd` -- the original iteration ``Z <- S_lam(X*)`` with a
  warm-started truncated SVD of the ``LinearOperator`` ``X*`` (ARPACK or a
  randomized subspace iteration); it also runs the adaptive shrinkage of
  Josse & Sardy (2016), ``d <- sigma (1 - (lam / sigma)^2)_+``, the proximal
  map of the non-convex :func:`spectral_penalty` with ``power=2``.
"""

import time
from typing import NamedTuple

import numpy as np
from scipy.sparse.linalg import LinearOperator, svds

from mathlearn.impute._base import row_dot

# verbose=1 prints an iteration's line within a solve at most this often
# (seconds); verbose >= 2 prints every iteration.
_PROGRESS_SECONDS = 5.0


class _Progress:
    """Prints a solve's iterations: all of them, or one every few seconds."""

    def __init__(self, verbose):
        self.verbose = verbose
        self.last = time.monotonic()

    def __call__(self, n_iter, rank, change):
        now = time.monotonic()
        due = self.verbose and now - self.last >= _PROGRESS_SECONDS
        if self.verbose > 1 or due:
            print(f"    iter {n_iter:>4}  rank {rank:>4}  change {change:.3e}")
            self.last = now


class ALSState(NamedTuple):
    """``A = U D``, ``B = V D``: the iterate is ``U diag(D**2) V^T``."""

    U: np.ndarray  # (m, r), orthonormal columns
    D: np.ndarray  # (r,)
    V: np.ndarray  # (n, r)


class Solution(NamedTuple):
    U: np.ndarray  # (m, k)
    d: np.ndarray  # (k,) singular values, positive
    V: np.ndarray  # (n, k)
    n_iter: int
    converged: bool
    state: object  # warm start for the next call


def _orthonormal_extension(U, k, rng):
    """``k`` random orthonormal columns orthogonal to those of ``U``."""
    m = U.shape[0]
    R = rng.standard_normal((m, k))
    if U.shape[1]:
        R -= U @ (U.T @ R)
        R -= U @ (U.T @ R)
    Q, _ = np.linalg.qr(R)
    return Q


# Below this value, the expanded form of the squared change has lost too
# many digits to cancellation (its error is a few eps relative): it is then
# recomputed from QR factors, exactly.
_EXPANSION_FLOOR = 1e-8


def _squared_change(U0, d0, V0, U1, d1, V1):
    """``||Z0 - Z1||_F^2 / ||Z0||_F^2`` for ``Z = U diag(d) V^T``.

    The convergence criterion of Mazumder, Hastie & Tibshirani (2010) and of
    R's softImpute (its ``thresh``), computed as softImpute does, expanded:
    ``||Z0||^2 + ||Z1||^2 - 2 <Z0, Z1>`` from ``r x r`` products,
    ``O((m + n) r^2)``. Near convergence the expansion cancels (its error is
    a few machine epsilons relative to ``||Z0||^2``), so a value below
    ``_EXPANSION_FLOOR`` is recomputed exactly: ``Z0 - Z1 = [U0 U1]
    diag(d0, -d1) [V0 V1]^T``, whose norm, with QR factors of the stacked
    bases, is that of a small ``2r x 2r`` matrix. When the dense matrices
    cost no more than those factorisations (small, low-aspect matrices),
    the difference is formed entry by entry instead, as accurate.
    """
    (m, n), k = (U0.shape[0], V0.shape[0]), d0.shape[0] + d1.shape[0]
    if m * n <= 2 * (m + n) * k:
        Z0 = (U0 * d0) @ V0.T
        norm0 = float(np.linalg.norm(Z0))
        if norm0 == 0:
            return 0.0 if not np.any(d1) else 1.0
        Z0 -= (U1 * d1) @ V1.T
        return (float(np.linalg.norm(Z0)) / norm0) ** 2
    norm0_sq = _inner(U0, d0, V0, U0, d0, V0)
    if norm0_sq <= 0:
        return 0.0 if not np.any(d1) else 1.0
    change = norm0_sq + _inner(U1, d1, V1, U1, d1, V1)
    change -= 2 * _inner(U0, d0, V0, U1, d1, V1)
    if change / norm0_sq >= _EXPANSION_FLOOR:
        return change / norm0_sq
    _, Ru = np.linalg.qr(np.hstack([U0, U1]))
    _, Rv = np.linalg.qr(np.hstack([V0, V1]))
    k0 = d0.shape[0]
    norm0 = float(np.linalg.norm((Ru[:, :k0] * d0) @ Rv[:, :k0].T))
    if norm0 == 0:
        return 0.0 if not np.any(d1) else 1.0
    core = (Ru * np.concatenate([d0, -d1])) @ Rv.T
    return (float(np.linalg.norm(core)) / norm0) ** 2


def _inner(Ua, da, Va, Ub, db, Vb):
    """``<Za, Zb>_F`` for ``Z = U diag(d) V^T``, from ``r x r`` products."""
    return float(np.sum(np.outer(da, db) * (Ua.T @ Ub) * (Va.T @ Vb)))


def _ridge_shrink(D, D2, lam):
    """``D / (D^2 + lam)``, 0 where both vanish (a dead direction)."""
    den = D2 + lam
    return np.divide(D, den, out=np.zeros_like(D), where=den > 0)


def shrink_singular_values(sigma, lam, power=1):
    """``sigma (1 - (lam / sigma)^power)_+`` for ``power`` 1 or 2.

    The adaptive trace norm of Josse & Sardy (2016): soft-thresholding for
    ``power=1``; ``(sigma^2 - lam^2) / sigma`` for ``power=2``, the shrinkage
    of regularised iterative PCA (Josse & Husson 2012), which shrinks large
    singular values less.
    """
    if power == 1:
        return np.maximum(sigma - lam, 0.0)
    kept = sigma > lam
    safe = np.where(kept, sigma, 1.0)
    return np.where(kept, safe - lam**2 / safe, 0.0)


def filled_singular_values(d, lam, power=1):
    """The ``sigma`` that :func:`shrink_singular_values` maps to ``d > 0``."""
    if power == 1:
        return d + lam
    return 0.5 * (d + np.sqrt(d**2 + 4 * lam**2))


def spectral_penalty(d, lam, power=1):
    """The penalty ``sum_k p(d_k)`` whose proximal map is the shrinkage.

    ``p' (d) = sigma(d) - d`` (``sigma`` from :func:`filled_singular_values`)
    with ``p(0) = 0``: ``lam d`` for ``power=1`` (the nuclear norm) and
    ``lam^2 log(sigma / lam) + lam^2 / 2 (1 - lam^2 / sigma^2)`` for
    ``power=2``, concave in ``d``.
    """
    if power == 1:
        return lam * float(np.sum(d))
    if lam == 0:
        return 0.0
    sigma = filled_singular_values(d, lam, power)
    return float(
        np.sum(lam**2 * np.log(sigma / lam) + 0.5 * lam**2 * (1 - (lam / sigma) ** 2))
    )


def initial_als_state(shape, rank, lam, rng):
    m, n = shape
    U = _orthonormal_extension(np.zeros((m, 0)), rank, rng)
    D = np.full(rank, np.sqrt(lam) if lam > 0 else 1.0)
    return ALSState(U, D, np.zeros((n, rank)))


def revive_als_state(state, lam):
    """Restart the directions whose ``D`` has (nearly) vanished.

    A direction with ``D = 0`` is a fixed point of the ALS steps, so one that
    died at a larger shrinkage could never come back at a smaller one. It is
    restarted with ``V = 0`` (``Z`` unchanged) and ``D = sqrt(lam)``, from
    where the next steps run a power iteration on the residual.
    """
    U, D, V = state
    D2 = D**2
    dead = D2 <= 1e-10 * max(float(D2.max(initial=0.0)), 1e-300)
    if not dead.any():
        return state
    D = np.where(dead, np.sqrt(lam) if lam > 0 else 1.0, D)
    V = np.where(dead[None, :], 0.0, V)
    return ALSState(U, D, V)


def grow_als_state(state, rank, lam, rng):
    """Add ``rank - r`` new directions (with ``V = 0``, so ``Z`` is unchanged)."""
    U, D, V = state
    k = rank - U.shape[1]
    if k <= 0:
        return state
    U_new = np.hstack([U, _orthonormal_extension(U, k, rng)])
    D_new = np.concatenate([D, np.full(k, np.sqrt(lam) if lam > 0 else 1.0)])
    V_new = np.hstack([V, np.zeros((V.shape[0], k))])
    return ALSState(U_new, D_new, V_new)


def _threshold(residuals, state, lam):
    """Exact final step: SVD of ``X* V``, singular values soft-thresholded."""
    U, D, V = state
    D2 = D**2
    M = residuals.remainder_product(U * D2, V, V) + U * D2
    Uh, sigma, Rt = np.linalg.svd(M, full_matrices=False)
    d = np.maximum(sigma - lam, 0.0)
    keep = d > 0
    return Uh[:, keep], d[keep], (V @ Rt.T)[:, keep]


def _saturated(residuals, lam, U, D, V, rank_cap, n_local, every=5):
    """Every direction survives the threshold: the working rank may bind.

    Checked every few iterations, so that the rank grows as soon as it binds;
    waiting for convergence at a binding rank can take very long, as ALS then
    slowly trades between near-equal directions.
    """
    if D.size >= rank_cap or n_local % every:
        return False
    return _threshold(residuals, ALSState(U, D, V), lam)[1].size == D.size


def _als_step(residuals, lam, U, D, V):
    """One softImpute-ALS iteration (a B step, then an A step), in memory."""
    pattern, residual = residuals.pattern, residuals.values
    rows, cols = pattern.rows, pattern.cols
    # B step: B = (S^T U + V D^2) D / (D^2 + lam), then re-orthogonalise.
    D2 = D**2
    S = pattern.matrix(residual - row_dot(U * D2, V, rows, cols))
    B = (np.asarray(S.T @ U) + V * D2) * _ridge_shrink(D, D2, lam)
    V, sigma, Rt = np.linalg.svd(B * D, full_matrices=False)
    D, U = np.sqrt(sigma), U @ Rt.T
    # A step: A = (S V + U D^2) D / (D^2 + lam).
    D2 = D**2
    S = pattern.matrix(residual - row_dot(U * D2, V, rows, cols))
    A = (np.asarray(S @ V) + U * D2) * _ridge_shrink(D, D2, lam)
    U, sigma, Rt = np.linalg.svd(A * D, full_matrices=False)
    return U, np.sqrt(sigma), V @ Rt.T


def _ridge_step(residuals, lam, U, D, V):
    """One ridge-ALS iteration: every row, then every column, exactly."""
    A = residuals.ridge_rows(V * D, lam)
    B = residuals.ridge_columns(A, lam)
    return _balanced_svd(A, B)


def _run_als(
    residuals,
    lam,
    state,
    step,
    *,
    max_iter,
    tol,
    rank_cap,
    rng,
    verbose,
    random_v,
):
    """Iterate ``step`` at ``lam``; grow the working rank while it binds.

    A thresholded solution with a zero singular value is the exact
    soft-impute solution (Hastie et al. 2015, Theorem 2); one that uses every
    direction may be rank-limited, so the rank then grows (up to
    ``rank_cap``).
    """
    n_iter = 0
    progress = _Progress(verbose)
    state = revive_als_state(state, lam)
    while True:
        U, D, V = state
        if random_v:
            # A direction with V = 0 (new or revived) is a fixed point of the
            # ridge steps: start it from random column factors instead.
            empty = ~np.any(V, axis=0)
            if empty.any():
                V = V.copy()
                V[:, empty] = _orthonormal_extension(
                    V[:, ~empty], int(empty.sum()), rng
                )
        converged, saturated, start = False, False, n_iter
        while n_iter < max_iter:
            n_iter += 1
            U0, d0, V0 = U, D**2, V
            U, D, V = step(U, D, V)
            change = _squared_change(U0, d0, V0, U, D**2, V)
            progress(n_iter, D.size, change)
            if _saturated(residuals, lam, U, D, V, rank_cap, n_iter - start):
                saturated = True
                break
            if change < tol:
                converged = True
                break
        state = ALSState(U, D, V)
        U_z, d, V_z = _threshold(residuals, state, lam)
        rank = D.size
        grow = saturated or (converged and d.size == rank)
        if not grow or rank >= rank_cap or n_iter >= max_iter:
            return Solution(U_z, d, V_z, n_iter, converged, state)
        state = grow_als_state(state, min(rank_cap, 2 * rank), lam, rng)


def soft_impute_als(residuals, lam, state, *, max_iter, tol, rank_cap, rng, verbose=0):
    """softImpute-ALS at ``lam`` from the warm start ``state`` (in memory)."""

    def step(U, D, V):
        return _als_step(residuals, lam, U, D, V)

    return _run_als(
        residuals,
        lam,
        state,
        step,
        max_iter=max_iter,
        tol=tol,
        rank_cap=rank_cap,
        rng=rng,
        verbose=verbose,
        random_v=False,
    )


def _balanced_svd(A, B):
    """``A B^T = U diag(D^2) V^T`` with orthonormal ``U``, ``V``."""
    Qa, Ra = np.linalg.qr(A)
    Qb, Rb = np.linalg.qr(B)
    Uc, sigma, Vct = np.linalg.svd(Ra @ Rb.T)
    return Qa @ Uc, np.sqrt(sigma), Qb @ Vct.T


def soft_impute_ridge_als(
    residuals, lam, state, *, max_iter, tol, rank_cap, rng, verbose=0
):
    """Alternating ridge regressions on the observed entries only.

    Minimises ``1/2 ||P_O(R - A B^T)||^2 + lam/2 (||A||^2 + ||B||^2)``, whose
    minimiser of rank below the working rank is the soft-impute solution
    (Hastie et al. 2015, Section 2); each half-step solves every row (column)
    exactly, ``O(|O| r^2 + (m + n) r^3)``, and needs far fewer iterations than
    the filled-matrix steps when most entries are missing. ``residuals`` is
    a :class:`~mathlearn.impute._base.Residuals` or, on a dask array, a
    :class:`~mathlearn.impute._blocks.BlockResiduals`: every half-step is a
    map over its row (column) blocks.
    """

    def step(U, D, V):
        return _ridge_step(residuals, lam, U, D, V)

    return _run_als(
        residuals,
        lam,
        state,
        step,
        max_iter=max_iter,
        tol=tol,
        rank_cap=rank_cap,
        rng=rng,
        verbose=verbose,
        random_v=True,
    )


def _filled_operator(pattern, residual, U, d, V):
    """``X* = S + U diag(d) V^T`` as a LinearOperator, and ``S``."""
    P = U * d
    S = pattern.matrix(residual - row_dot(P, V, pattern.rows, pattern.cols))
    ST = S.T.tocsr()

    def matmat(W):
        W = W.reshape(W.shape[0], -1)
        return np.asarray(S @ W) + P @ (V.T @ W)

    def rmatmat(W):
        W = W.reshape(W.shape[0], -1)
        return np.asarray(ST @ W) + V @ (P.T @ W)

    return LinearOperator(
        pattern.shape,
        matvec=lambda x: matmat(x).ravel(),
        rmatvec=lambda x: rmatmat(x).ravel(),
        matmat=matmat,
        rmatmat=rmatmat,
        dtype=np.float64,
    )


def top_svd(op, k, U_warm, V_warm, solver, rng, n_oversamples=5, n_power=1):
    """Top-``k`` SVD of ``op``, warm-started from ``U_warm`` and ``V_warm``.

    ``solver`` is ``"arpack"``, ``"randomized"`` or ``"dense"`` (a full SVD
    of the dense matrix, for small ones).
    """
    m, n = op.shape
    if solver == "dense" or k >= min(m, n) - 1 or min(m, n) <= 3:
        dense = op @ np.eye(n)
        U, sigma, Vt = np.linalg.svd(dense, full_matrices=False)
        return U[:, :k], sigma[:k], Vt[:k].T
    if solver == "arpack":
        # svds iterates on the smaller of X^T X and X X^T: its start vector
        # is a right singular vector for a tall matrix, a left one for a
        # wide one.
        warm = V_warm if m >= n else U_warm
        v0 = warm[:, 0] if warm.shape[1] else None
        if v0 is not None and not np.any(v0):
            v0 = None
        U, sigma, Vt = svds(op, k=k, v0=v0, random_state=rng)
        order = np.argsort(sigma)[::-1]
        return U[:, order], sigma[order], Vt[order].T
    # Randomized subspace iteration, started from the previous right vectors.
    extra = k + n_oversamples - V_warm.shape[1]
    omega = V_warm
    if extra > 0:
        omega = np.hstack([V_warm, rng.standard_normal((n, extra))])
    Q, _ = np.linalg.qr(op.matmat(omega))
    for _ in range(n_power):
        Q, _ = np.linalg.qr(op.rmatmat(Q))
        Q, _ = np.linalg.qr(op.matmat(Q))
    Bt = op.rmatmat(Q)  # (n, l) = (Q^T X*)^T
    Vb, sigma, Ut = np.linalg.svd(Bt, full_matrices=False)
    return (Q @ Ut.T)[:, :k], sigma[:k], Vb[:, :k]


def soft_impute_svd(
    residuals,
    lam,
    state,
    *,
    max_iter,
    tol,
    rank_cap,
    solver,
    rng,
    power=1,
    verbose=0,
):
    """Soft-impute ``Z <- S_lam(S + Z)`` with a truncated SVD per iteration.

    ``state`` is ``(U, d, V, working_rank)``; the working rank grows while
    every computed singular value survives the threshold. ``power`` selects
    the shrinkage of the singular values (:func:`shrink_singular_values`).
    """
    U, d, V, rank = state
    n_iter = 0
    progress = _Progress(verbose)
    converged = False
    while n_iter < max_iter:
        n_iter += 1
        op = _filled_operator(residuals.pattern, residuals.values, U, d, V)
        Un, sigma, Vn = top_svd(op, rank, U, V, solver, rng)
        dn = shrink_singular_values(sigma, lam, power)
        keep = dn > 0
        change = _squared_change(U, d, V, Un[:, keep], dn[keep], Vn[:, keep])
        if keep.all() and rank < rank_cap:
            rank = min(rank_cap, 2 * rank)
            change = np.inf
        U, d, V = Un[:, keep], dn[keep], Vn[:, keep]
        progress(n_iter, d.size, change)
        if change < tol:
            converged = True
            break
    return Solution(U, d, V, n_iter, converged, (U, d, V, rank))
