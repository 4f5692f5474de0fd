"""Shared machinery of the low-rank completers: input, centring, fold-in.

A completer fits ``x_ij = mean + a_i + b_j + s_i t_j u_i . v_j`` on the
observed entries (see :mod:`mathlearn.impute._centering` for the effects and
scales), on the scale of ``X`` divided by :func:`data_scale`, and on the rows
and columns that have an observed entry (:func:`active_part`; the others are
cold starts, predicted from the effects alone). Subclasses fill
:meth:`_BaseLowRankImputer._fit_low_rank`, which gets the standardised
residuals of the observed entries as COO triplets and returns the effects and
the column factors (:class:`LowRankFit`), may choose the centring first
(:meth:`_BaseLowRankImputer._select`), and fold rows in
(:meth:`_BaseLowRankImputer._fold_in`). The training rows of the
fitted :class:`Model` are their fold-in, so ``transform`` and
``predict_entries`` read one model. Everything else -- validation of dense-NaN
and sparse-observed input, scaling, centring, ``predict_entries`` -- is
written once here.
"""

import collections
import contextlib
import contextvars
import re
import textwrap
import warnings
from numbers import Integral
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import check_random_state, deprecated
from sklearn.utils.validation import check_is_fitted

from mathlearn.exceptions import EmptyRowWarning
from mathlearn.impute._centering import (
    Centering,
    Observed,
    fit_centering,
    fold_in_rows,
    standardize,
)
from mathlearn.som._training import is_dask_array
from mathlearn.utils._doc_link import DocLinkMixin
from mathlearn.utils._sklearn_compat import _fit_context, validate_data
from mathlearn.utils._threads import block_threads

_CHUNK = 1 << 18
# Padded entries per chunk of Pattern.padded_rows: the gathered factor rows
# of a chunk (budget x rank values) then stay in the processor's cache
# between the gather and the products that read them. Measured on 20 million
# ratings (162,541 x 59,047) at rank 20 and 40, one thread: 2^13 took 0.75x
# the time of 2^18 per ridge half-step, 2^15 as long as 2^18.
_PADDED_BUDGET = 1 << 13
# row_dot forms the whole product A B^T and reads the entries from it when
# it has at most this many times as many entries as are asked for, and at
# most _DENSE_PRODUCT_MAX_ENTRIES: a matrix product runs near the machine's
# peak, while gathering a row of A and one of B for each entry is bound by
# memory (digits, 1,797 x 61 with 70,000 entries at rank 40: 0.6 ms instead
# of 9 ms per call).
_DENSE_PRODUCT_RATIO = 4
_DENSE_PRODUCT_MAX_ENTRIES = 1 << 22


def row_dot(A, B, rows, cols, *, chunk=_CHUNK):
    """``sum(A[rows] * B[cols], axis=1)``, in chunks to bound the memory."""
    n_product = A.shape[0] * B.shape[0]
    if (
        n_product <= _DENSE_PRODUCT_RATIO * rows.shape[0]
        and n_product <= _DENSE_PRODUCT_MAX_ENTRIES
    ):
        return (A @ B.T)[rows, cols]
    out = np.empty(rows.shape[0], dtype=np.result_type(A, B))
    for start in range(0, rows.shape[0], chunk):
        stop = start + chunk
        np.einsum(
            "ij,ij->i",
            A[rows[start:stop]],
            B[cols[start:stop]],
            out=out[start:stop],
        )
    return out


def observed_entries(X, missing_values):
    """COO triplets (row-major order) of the observed entries of ``X``.

    Dense ``X``: the entries that are not ``missing_values``. Sparse ``X``:
    the stored entries (unstored entries are missing); a stored NaN is an
    error, since NaN cannot mean "missing" where missing is "not stored".
    """
    if sp.issparse(X):
        X = sp.csr_matrix(X, copy=True)
        X.sum_duplicates()
        X.sort_indices()
        n_nan = int(np.isnan(X.data).sum())
        if n_nan:
            raise ValueError(
                f"X is a sparse matrix with {n_nan} stored NaN entries. For "
                "sparse X the stored entries are the observed values and "
                "unstored entries are missing; remove the NaN entries instead "
                "of storing them (e.g. X.data[np.isnan(X.data)] = 0 then "
                "X.eliminate_zeros(), if no observed value is 0)"
            )
        if np.isinf(X.data).any():
            raise ValueError("X contains infinity; every observed value must be finite")
        # Row indices of the same (usually 32-bit) type as the column indices.
        rows = np.repeat(
            np.arange(X.shape[0], dtype=X.indices.dtype), np.diff(X.indptr)
        )
        cols, vals = X.indices, X.data
        if not np.isnan(missing_values):
            keep = vals != missing_values
            rows, cols, vals = rows[keep], cols[keep], vals[keep]
        # X is this function's own copy: its arrays are used, not copied again
        # (a few tens of bytes per rating at millions of ratings).
        return Observed(rows, cols, vals.astype(np.float64, copy=False), X.shape)
    if np.isnan(missing_values):
        observed = ~np.isnan(X)
    else:
        observed = X != missing_values
    rows, cols = np.nonzero(observed)
    return Observed(rows, cols, X[rows, cols].astype(np.float64), X.shape)


def subset(obs, mask):
    """The entries of ``obs`` where ``mask`` is true (same shape)."""
    return Observed(obs.rows[mask], obs.cols[mask], obs.vals[mask], obs.shape)


class Pattern:
    """The observed positions, as a CSR skeleton whose data is swapped in."""

    def __init__(self, obs):
        self.shape = obs.shape
        self.rows = obs.rows
        self.cols = obs.cols
        counts = np.bincount(obs.rows, minlength=obs.shape[0])
        self.indptr = np.concatenate([[0], np.cumsum(counts)])

    def padded_rows(self, chunk=512, budget=_PADDED_BUDGET):
        """Rows sorted by count, in chunks padded to their longest row.

        A list of ``(rows, longest)``: the rows of a chunk and the count of
        its longest row (:meth:`padded_indices` gives the chunk's padded
        indices). A chunk has at most ``chunk`` rows and, unless it is a
        single row, at most ``budget`` padded entries. Built once, on first
        use; it holds one index per row, not per entry (the padded indices,
        8 bytes per entry and pattern, are made chunk by chunk).
        """
        if getattr(self, "_padded", None) is None:
            counts = np.diff(self.indptr)
            order = np.argsort(counts, kind="stable")
            chunks = []
            start, n_rows = 0, order.shape[0]
            while start < n_rows:
                size = chunk
                while (
                    size > 1
                    and size * counts[order[min(start + size, n_rows) - 1]] > budget
                ):
                    size //= 2
                rows = order[start : start + size]
                start += size
                chunks.append((rows, int(counts[rows].max(initial=0))))
            self._padded = chunks
        return self._padded

    def padded_indices(self, rows, longest):
        """Column and entry indices of ``rows``, padded to ``longest``.

        Both of shape ``(len(rows), longest)``, padded with ``n_columns``
        (and ``nnz``), which index an appended zero.
        """
        position = np.arange(longest)[None, :]
        inside = position < (self.indptr[rows + 1] - self.indptr[rows])[:, None]
        nnz = self.cols.shape[0]
        entries = np.where(inside, self.indptr[rows][:, None] + position, nnz)
        columns = np.full(entries.shape, self.shape[1], dtype=self.cols.dtype)
        columns[inside] = self.cols[entries[inside]]
        return columns, entries

    def transpose(self):
        """The pattern of the transposed matrix, and the entry permutation.

        Built once, on first use: every shrinkage of a path reuses it (and
        the padded rows it caches).
        """
        if getattr(self, "_transposed", None) is None:
            order = np.argsort(self.cols, kind="stable")
            # Kept for every gather of the entries in column order: 32-bit
            # where they fit (half of 8 bytes per entry).
            order = order.astype(np.int32 if order.size < 2**31 else np.int64)
            obs_t = Observed(self.cols[order], self.rows[order], None, self.shape[::-1])
            self._transposed = Pattern(obs_t), order
        return self._transposed

    def matrix(self, values):
        """CSR matrix with ``values`` at the observed positions (no copy)."""
        return sp.csr_matrix(
            (values, self.cols, self.indptr), shape=self.shape, copy=False
        )


# The per-row Gram matrices are computed by batched dense products over the
# gathered factor rows (padded to the longest row of a chunk) above this rank
# or above this size (bytes) of the packed outer products of the factor rows.
# Below both, a sparse product with the packed outer products is faster; above
# either, that product streams r (r + 1) / 2 values per entry from memory (out
# of the cache once they exceed it) and the batched products (a symmetric
# rank-k update per row, from cache-sized chunks) win. Measured per iteration
# (both half-steps), one thread: 10^6 entries on 6,000 x 4,000, sparse 0.037 s
# and padded 0.046 s at rank 8, 0.073 and 0.068 at rank 12, 0.138 and 0.092 at
# rank 16; 2 x 10^7 entries on 162,541 x 59,047 (packed outer products of
# 17 MB and more), padded 0.7-0.8x the time at rank 8 and 0.2-0.4x at 12 and 16.
_PADDED_GRAM_RANK = 12
_PADDED_GRAM_BYTES = 8e6


# The map that _ridge_padded runs its chunks with: the block map of the
# estimator's ridge_threads context (threads over chunks), ``map`` outside.
_RIDGE_MAP = contextvars.ContextVar("ridge_map", default=map)


@contextlib.contextmanager
def ridge_threads(n_jobs):
    """Context in which :func:`ridge_rows` spreads its chunks over threads.

    ``n_jobs`` threads (:func:`~mathlearn.utils._threads.block_threads`),
    each calling BLAS on one thread: the chunks are many small products and
    solves, where a multi-threaded BLAS only adds synchronisation. The
    chunks write disjoint rows of the result, which does not depend on the
    thread count.
    """
    with block_threads(n_jobs) as block_map:
        token = _RIDGE_MAP.set(block_map)
        try:
            yield
        finally:
            _RIDGE_MAP.reset(token)


def _solve_rows(gram, rhs, penalty):
    """Solve ``(gram_i + diag(penalty_i)) u_i = rhs_i`` for a stack of rows.

    A tiny jitter, relative to each Gram matrix's mean diagonal, keeps rows
    with fewer entries than the rank solvable when the penalty is 0.
    ``gram`` is overwritten.
    """
    rank = gram.shape[1]
    index = np.arange(rank)
    diag = np.trace(gram, axis1=1, axis2=2) / rank
    gram[:, index, index] += penalty + 1e-12 * np.maximum(diag, 1.0)[:, None]
    return np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]


def _ridge_padded(pattern, values, B, penalty):
    """:func:`ridge_rows` by batched dense products over padded rows.

    Each chunk of rows is formed and solved on its own, on the threads of
    the current :func:`ridge_threads` context: memory O(threads x chunk x
    rank^2), not O(n_rows x rank^2).
    """
    rank = B.shape[1]
    B_ext = np.vstack([B, np.zeros((1, rank))])
    v_ext = np.concatenate([values, [0.0]])
    out = np.empty((pattern.shape[0], rank))

    def solve_chunk(chunk):
        rows = chunk[0]
        columns, entries = pattern.padded_indices(*chunk)
        G = np.take(B_ext, columns, axis=0, mode="clip")  # (chunk, longest, rank)
        Gt = G.transpose(0, 2, 1)
        rhs = np.matmul(Gt, v_ext[entries][:, :, None])[:, :, 0]
        out[rows] = _solve_rows(np.matmul(Gt, G), rhs, penalty[rows])

    # Consumed for the exceptions the threads raise.
    collections.deque(_RIDGE_MAP.get()(solve_chunk, pattern.padded_rows()), maxlen=0)
    return out


def _gram_sparse(pattern, values, B):
    """Per-row Gram matrices ``B_O^T B_O`` and ``B_O^T v_O`` (sparse products).

    The Gram matrices are symmetric: only the r (r + 1) / 2 products of the
    upper triangle are summed over each row's entries, then mirrored.
    """
    rank = B.shape[1]
    upper_i, upper_j = np.triu_indices(rank)
    outer = B[:, upper_i] * B[:, upper_j]
    packed = np.asarray(pattern.matrix(np.ones_like(values)) @ outer)
    rhs = np.asarray(pattern.matrix(values) @ B)
    # Column of ``packed`` holding entry (i, j) of the full matrix.
    position = np.empty((rank, rank), dtype=np.intp)
    position[upper_i, upper_j] = np.arange(upper_i.size)
    position[upper_j, upper_i] = np.arange(upper_i.size)
    gram = np.take(packed, position.ravel(), axis=1).reshape(-1, rank, rank)
    return gram, rhs


def _row_penalties(penalty, n_rows, rank):
    """``penalty`` (scalar, per row, or per row and component) as (n_rows, rank)."""
    penalty = np.asarray(penalty, dtype=np.float64)
    return np.broadcast_to(
        penalty.reshape(-1, 1) if penalty.ndim == 1 else penalty, (n_rows, rank)
    )


def ridge_rows_with_effect(
    pattern, values, B, penalty, effect_column, effect_penalty=0.0
):
    """:func:`ridge_rows` plus an effect per row, penalised by ``effect_penalty``.

    Each row's effect multiplies ``effect_column`` (one value per column),
    its factors ``B``; returns ``(effects, A)``.
    """
    n_rows, rank = pattern.shape[0], B.shape[1]
    penalties = np.column_stack(
        [
            np.broadcast_to(effect_penalty, (n_rows,)),
            _row_penalties(penalty, n_rows, rank),
        ]
    )
    design = np.column_stack([effect_column, B])
    solution = ridge_rows(pattern, values, design, penalties)
    return solution[:, 0], solution[:, 1:]


def ridge_rows(pattern, values, B, penalty, method="auto"):
    """Ridge fit of each row's factors on its observed entries.

    Solves ``(B_O^T B_O + diag(penalty_i)) u_i = B_O^T v_O`` for every row of
    ``pattern`` at once, ``O`` being the row's observed columns; ``penalty``
    is a scalar or of shape ``(n_rows,)`` or ``(n_rows, rank)``. Costs
    ``O(|O| r^2 + m r^3)``. A tiny relative jitter keeps rows with fewer
    entries than the rank solvable when the penalty is 0; it changes nothing
    measurable otherwise. ``method`` picks how the Gram matrices are summed:
    ``"sparse"`` (a sparse product with the packed outer products of the rows
    of ``B``), ``"padded"`` (batched dense products over padded rows) or
    ``"auto"`` (the faster one for this rank and size); all give the same.
    """
    n_rows, rank = pattern.shape[0], B.shape[1]
    if rank == 0:
        return np.zeros((n_rows, 0))
    penalty = _row_penalties(penalty, n_rows, rank)
    if method == "auto":
        packed_bytes = B.shape[0] * rank * (rank + 1) / 2 * 8
        padded = rank > _PADDED_GRAM_RANK or packed_bytes > _PADDED_GRAM_BYTES
    else:
        padded = method == "padded"
    if padded:
        return _ridge_padded(pattern, values, B, penalty)
    gram, rhs = _gram_sparse(pattern, values, B)
    return _solve_rows(gram, rhs, penalty)


def ridge_fold_in(
    pattern, residual, column_factors, penalty, row_effects, refit, row_penalty
):
    """Each row's factors by ridge regression on its observed residuals.

    ``penalty`` is per component. With ``refit``, each row's effect (its
    current value in ``row_effects``, already removed from ``residual``) is
    refitted with its factors, penalised by ``row_penalty``. Returns
    ``(row_effects, A)``.
    """
    if not refit:
        return row_effects, ridge_rows(
            pattern, residual, column_factors, penalty[None, :]
        )
    return ridge_rows_with_effect(
        pattern,
        residual + row_effects[pattern.rows],
        column_factors,
        penalty[None, :],
        np.ones(column_factors.shape[0]),
        row_penalty,
    )


def held_out_squares(fold, B, penalty, ratio, relaxations, joint_rows):
    """Sum of squared held-out errors of a fold, for each relaxation.

    ``fold`` is a :class:`HeldOut` (in memory, or one block of rows of a
    dask array: each row's entries are all in it). Every row is folded in by
    ridge on its training entries against the column factors ``B`` with
    ``penalty`` per component (:func:`ridge_fold_in`); its held-out entries
    are predicted from its effects and factors, the factors multiplied by
    ``ratio`` (per component) for the relaxed prediction, which is linear
    in the relaxation: two low-rank predictions score every ``relaxations``.
    """
    c, valid = fold.centering, fold.valid
    row_effects, A = ridge_fold_in(
        fold.pattern,
        fold.residual,
        B,
        penalty,
        c.row_effects,
        joint_rows,
        c.row_penalty,
    )
    base = fold.base + (row_effects - c.row_effects)[valid.rows]
    soft = row_dot(A, B, valid.rows, valid.cols)
    refit = soft if ratio is None else row_dot(A * ratio, B, valid.rows, valid.cols)
    squares = np.zeros(relaxations.size)
    for g, gamma in enumerate(relaxations):
        low_rank = soft + gamma * (refit - soft)
        error = base + fold.scales * low_rank - valid.vals
        squares[g] = float(error @ error)
    return squares


class HeldOut(NamedTuple):
    """What :func:`held_out_squares` reads of a fold's training and held-out parts."""

    pattern: "Pattern"  # of the training entries
    residual: np.ndarray  # their standardised residuals
    centering: Centering  # the effects of the training entries
    valid: Observed  # the held-out entries
    base: np.ndarray  # (n_valid,) the effects' prediction of them
    scales: np.ndarray  # (n_valid,) row scale times column scale of each


def held_out_base(valid, c):
    """The effects' prediction ``mean + a_i + b_j`` of the held-out entries."""
    return c.mean + c.row_effects[valid.rows] + c.column_effects[valid.cols]


def entry_hash(rows, cols, n_cols, seed):
    """A uniform number in [0, 1) for each entry ``(rows, cols)``, from ``seed``.

    The splitmix64 mix of ``i n_cols + j + seed``: a function of the entry
    alone, not of its place in a random stream, so any block of the entries
    (whole rows, or whole columns, of a dask array) draws the same numbers.
    """
    z = rows.astype(np.uint64) * np.uint64(n_cols) + cols.astype(np.uint64)
    z += np.uint64(seed)
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)) * 2.0**-53


class Split(NamedTuple):
    """A validation split: the entries whose :func:`entry_hash` is below
    ``threshold`` are held out.

    With ``held_out`` the held-out part, otherwise the training part.
    """

    seed: int
    threshold: float
    held_out: bool = False


def validation_split(obs, split):
    """The boolean mask of the entries of ``obs`` that ``split`` holds out.

    Its ``threshold`` moves if it would hold out none of them, or all
    (:func:`held_out_threshold`).
    """
    u = entry_hash(obs.rows, obs.cols, obs.shape[1], split.seed)
    held_out = u < split.threshold
    n_obs = u.shape[0]
    threshold = held_out_threshold(
        split.threshold,
        n_obs,
        int(held_out.sum()),
        u.min(initial=1.0),
        u.max(initial=0.0),
    )
    return u < threshold


def held_out_threshold(fraction, n_obs, n_held_out, low, high):
    """The threshold on :func:`entry_hash` below which an entry is held out.

    ``fraction``, unless that holds out none of the ``n_obs`` entries
    (``n_held_out``; then the one of smallest hash, ``low``, is held out) or
    all of them (then the one of largest hash, ``high``, is kept).
    """
    if n_held_out == 0 and n_obs > 1:
        return float(np.nextafter(low, np.inf))
    if n_held_out == n_obs and n_obs > 1:
        return float(high)
    return fraction


class Residuals:
    """The values of ``pattern``'s observed entries, as the solvers use them.

    What the soft-impute solvers ask of the (standardised) residuals ``R``
    at the observed entries: ridge fits of every row or column against the
    other side's factors, the product of ``P_O(R - P V^T)`` with a thin
    matrix, its top singular value and a least-squares refit of singular
    values. These entries are in memory;
    :class:`mathlearn.impute._blocks.BlockResiduals` answers the same on the
    blocks of a dask array, so the solvers run unchanged on either.
    """

    def __init__(self, pattern, values):
        self.pattern = pattern
        self.values = values
        self.shape = pattern.shape
        self.n_obs = pattern.rows.shape[0]
        self._values_t = None

    def ridge_rows(self, B, penalty):
        """:func:`ridge_rows` of every row of ``R`` on ``B``."""
        return ridge_rows(self.pattern, self.values, B, penalty)

    def ridge_columns(self, A, penalty):
        """:func:`ridge_rows` of every column of ``R`` on ``A``.

        The values are gathered in column order once, on first use.
        """
        pattern_t, order = self.pattern.transpose()
        if self._values_t is None:
            self._values_t = self.values[order]
        return ridge_rows(pattern_t, self._values_t, A, penalty)

    def remainder_product(self, P, V, W):
        """``P_O(R - P V^T) W``, with ``P V^T`` read at the observed entries."""
        pattern = self.pattern
        remainder = self.values - row_dot(P, V, pattern.rows, pattern.cols)
        return np.asarray(pattern.matrix(remainder) @ W)

    def top_singular_value(self):
        """The largest singular value of ``P_O(R)`` (ARPACK, seeded)."""
        S = self.pattern.matrix(self.values)
        if S.nnz == 0 or not np.any(S.data):
            return 0.0  # ARPACK fails on a zero matrix
        if min(S.shape) <= 2:
            return float(np.linalg.norm(S.toarray(), ord=2))
        sigma = svds(S, k=1, return_singular_vectors=False, random_state=0)
        return float(sigma[0])

    def least_squares_singular_values(self, U, V, chunk=1 << 16):
        """Singular values refitted without penalty on the observed entries.

        ``argmin_e sum_O (R_ij - sum_k e_k U_ik V_jk)^2`` for fixed ``U`` and
        ``V`` (Soft-Impute+ of Mazumder et al. 2010), clipped at 0: the
        normal equations of ``F = U[rows] * V[cols]``, accumulated in chunks
        so that memory stays ``O(chunk * rank)``. ``O(|O| rank^2)``.
        """
        rank = U.shape[1]
        if rank == 0:
            return np.zeros(0)
        return least_squares_weights(
            *normal_equations(
                U, V, self.pattern.rows, self.pattern.cols, self.values, chunk
            )
        )


def normal_equations(U, V, rows, cols, values, chunk=1 << 16):
    """``F^T F`` and ``F^T values`` for ``F = U[rows] * V[cols]``, in chunks."""
    rank = U.shape[1]
    gram = np.zeros((rank, rank))
    rhs = np.zeros(rank)
    for start in range(0, rows.shape[0], chunk):
        F = U[rows[start : start + chunk]] * V[cols[start : start + chunk]]
        gram += F.T @ F
        rhs += F.T @ values[start : start + chunk]
    return gram, rhs


def least_squares_weights(gram, rhs):
    """The solution of the normal equations ``gram e = rhs``, clipped at 0.

    A jitter of 1e-12 of the mean diagonal keeps a singular ``gram``
    solvable.
    """
    rank = rhs.shape[0]
    jitter = 1e-12 * max(float(np.trace(gram)) / rank, 1.0)
    d = np.linalg.solve(gram + jitter * np.eye(rank), rhs)
    return np.maximum(d, 0.0)


def data_scale(vals, centred):
    """Root-mean-square of ``vals`` (minus their mean if ``centred``), overflow-free.

    The unit in which the completers fit: dividing the observed values by it
    makes the fit independent of the units of ``X`` (and keeps the solvers
    away from overflow and underflow). 1 when the values are constant (or
    all 0).
    """
    peak = float(np.max(np.abs(vals), initial=0.0))
    if peak == 0.0:
        return 1.0
    dev = vals / peak
    if centred:
        dev = dev - dev.mean()
    return scale_of(peak, float(np.sqrt(np.mean(dev**2))))


def scale_of(peak, spread):
    """:func:`data_scale` from ``peak`` and the RMS of the values over it.

    ``spread`` is that of the values divided by ``peak``, centred or not.
    """
    if peak == 0.0:
        return 1.0
    return spread * peak if spread > 0 else peak


class ActivePart(NamedTuple):
    """The observed entries renumbered over the rows and columns that have one."""

    obs: Observed  # shape (len(rows), len(cols))
    rows: np.ndarray  # (n_active_rows,) their indices in X
    cols: np.ndarray  # (n_active_cols,)


def active_part(obs):
    """:class:`ActivePart` of ``obs``; its entries keep their row-major order."""
    parts = []
    for index, size in [(obs.rows, obs.shape[0]), (obs.cols, obs.shape[1])]:
        present = np.bincount(index, minlength=size) > 0
        # The renumbering keeps the indices' integer type (32-bit from
        # sparse input): 4 bytes less per entry and index.
        position = (np.cumsum(present) - 1).astype(index.dtype, copy=False)
        parts.append((np.flatnonzero(present), position[index]))
    (rows, new_rows), (cols, new_cols) = parts
    active = Observed(new_rows, new_cols, obs.vals, (rows.size, cols.size))
    return ActivePart(active, rows, cols)


def _expand(values, index, size, fill):
    """``values`` (indexed by the active rows or columns) on all ``size`` of them."""
    full = np.full((size, *values.shape[1:]), fill, dtype=np.float64)
    full[index] = values
    return full


def expand_centering(c, part, shape):
    """A :class:`Centering` of the active part on the whole matrix.

    A row or column with no observed entry has effect 0 and scale 1.
    """
    return c._replace(
        row_effects=_expand(c.row_effects, part.rows, shape[0], 0.0),
        column_effects=_expand(c.column_effects, part.cols, shape[1], 0.0),
        row_scales=_expand(c.row_scales, part.rows, shape[0], 1.0),
        column_scales=_expand(c.column_scales, part.cols, shape[1], 1.0),
    )


# Descriptions both completers share, written once: a line ``{{name}}`` of a
# completer's docstring is replaced by fragment ``name``, indented as that line
# (see fill_shared_docs).
SHARED_DOCS = {
    "units": """\
The fit does not depend on the units of ``X``: it runs on ``X`` divided by
the root-mean-square of its observed entries after removing their mean
(without removing it when ``center=None``), so completing ``a X + c`` gives
``a`` times the completion of ``X`` plus ``c``, and ``alpha`` is a number on
that scale.""",
    "sparse_input": """\
Sparse input is accepted, and then its *stored entries are the observed
values* (unstored entries are missing, unlike scikit-learn's dense
convention; a stored NaN is an error). A row or column with no observed entry
is predicted from the effects alone (see :meth:`fit`).""",
    "effects_penalty": """\
Ridge penalty of the row and column effects, in pseudo-entries: an effect is
the sum of its row's (column's) residuals divided by their count plus the
penalty, so an effect seen a few times is shrunk towards 0 rather than set to
the mean of a few noisy entries (the regularised baseline of Koren 2008,
Surprise's ``BaselineOnly``). ``"auto"`` estimates each kind's penalty from
the data by empirical Bayes: the noise variance over the variance of the
effects, both estimated by the method of moments (near 0 when every row and
column has many entries, large when the effects are mostly noise); on a
table of at most 250,000 entries (observed or not), where the effects are
fitted jointly with the low-rank part, it means 0. ``0`` gives the
unpenalised effects. The penalties used are ``effects_penalties_``.""",
    "scale": """\
scale : bool, default=False
    Also divide each residual by a row scale times a column scale, fitted on
    the observed entries (the bi-scaler of Hastie, Mazumder, Lee & Zadeh
    2015).""",
    "n_jobs": """\
n_jobs : int, default=None
    Number of threads over which the per-row (and per-column) ridge solves of
    every iteration, and the fold-in of rows in ``transform``, are spread,
    each calling BLAS on one thread. ``None`` uses as many threads as BLAS may
    use here: every usable core, unless limited by ``threadpoolctl``, the
    ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS`` variables, or a joblib or
    dask worker. ``-1`` uses every usable core, ``1`` no extra thread. The
    result does not depend on ``n_jobs``.""",
    "missing_values": """\
missing_values : float or np.nan, default=np.nan
    The placeholder for missing entries of a dense ``X``: a finite number or
    ``np.nan``. Not ``np.inf``: as in scikit-learn's imputers, ``X`` must be
    finite where observed.""",
    "effects_attributes": """\
mean_ : float
    Global mean removed (0 when ``center=None``).
effects_penalties_ : ndarray of shape (2,)
    The penalties of the row and of the column effects (see
    ``effects_penalty``).
row_effects_ : ndarray of shape (n_samples_fit,)
    Row effects of the training rows (0 for a row with no observed entry).
column_effects_ : ndarray of shape (n_features,)
    Column effects (0 for a column with no observed entry).
row_scales_ : ndarray of shape (n_samples_fit,)
    Row scales of the training rows (ones unless ``scale=True``), relative to
    the root-mean-square of the centred observed entries.
column_scales_ : ndarray of shape (n_features,)
    Column scales (ones unless ``scale=True``).""",
    "feature_attributes": """\
n_features_in_ : int
    Number of features seen during fit.
feature_names_in_ : ndarray of shape (`n_features_in_`,)
    Names of features seen during fit. Defined only when ``X`` has feature
    names that are all strings.""",
}

_SHARED_DOC_LINE = re.compile(r"^( *)\{\{(\w+)\}\}$", re.MULTILINE)


def fill_shared_docs(cls):
    """Class decorator: put the :data:`SHARED_DOCS` into ``cls.__doc__``."""
    if cls.__doc__:
        cls.__doc__ = _SHARED_DOC_LINE.sub(
            lambda match: textwrap.indent(SHARED_DOCS[match[2]], match[1]),
            cls.__doc__,
        )
    return cls


class LowRankFit(NamedTuple):
    """What :meth:`_BaseLowRankImputer._fit_low_rank` returns (unit scale)."""

    effects: Centering  # the effects of the model (refitted with Z or not)
    column_factors: np.ndarray  # (n_cols, rank)
    fold_in: object  # what the subclass's ``_fold_in`` needs besides the model
    attributes: dict  # the subclass's own fitted attributes


class Model(NamedTuple):
    """The fitted model, on the scale of ``X / data_scale``.

    ``effects`` holds the effects of every entry's prediction; its row side
    (effects and scales of the training rows), like ``row_factors``, is the
    fold-in of the training rows. ``scaling`` is the centring fitted before
    the low-rank part: a row's scale is computed from its column side.
    """

    data_scale: float
    center: object  # str or None
    scaling: Centering
    effects: Centering
    row_factors: np.ndarray  # (n_rows, rank)
    column_factors: np.ndarray  # (n_cols, rank)
    fold_in: object
    dtype: np.dtype


def _to_plain(value):
    """``value`` with every NamedTuple as ``(name, *fields)``, a dtype as text.

    The fitted model is a tree of private NamedTuples; pickled or saved with
    skops in this plain form, loading it asks users to trust only the
    estimator's own class, not ``Model`` or ``Centering``.
    """
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (type(value).__name__, *(_to_plain(field) for field in value))
    if isinstance(value, np.dtype):
        return ("dtype", value.str)
    return value


def _from_plain(value, types):
    """Inverse of :func:`_to_plain`; ``types`` maps names to NamedTuple types."""
    # The model's fields hold no other tuple whose first item is a string.
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        name, *fields = value
        if name == "dtype":
            return np.dtype(fields[0])
        return types[name](*(_from_plain(field, types) for field in fields))
    return value


class _BaseLowRankImputer(
    DocLinkMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator
):
    """Validation, centring, fold-in and ``predict_entries`` of the completers."""

    # The NamedTuples ``_model`` is made of (see _to_plain).
    _model_types = (Model, Centering)

    # Renamed parameters, old name -> new name: the old one defaults to
    # "deprecated" and, when set, is used for the new one with a FutureWarning
    # (deprecated in 0.2, removed in 0.3).
    _renamed_params = {}

    def _param(self, name):
        """The value of parameter ``name``, or of its old name when that is set."""
        for old, new in self._renamed_params.items():
            if new == name and _is_set(getattr(self, old)):
                return getattr(self, old)
        return getattr(self, name)

    def _warn_renamed_params(self):
        """One FutureWarning per old parameter name that is set."""
        for old, new in self._renamed_params.items():
            if _is_set(getattr(self, old)):
                warnings.warn(
                    f"`{old}` was deprecated in 0.2 and will be removed in 0.3; "
                    f"use `{new}`",
                    FutureWarning,
                    stacklevel=4,
                )

    @deprecated(
        "Attribute `rank_` was deprecated in 0.2 and will be removed in 0.3; "
        "use `n_components_`"
    )
    @property
    def rank_(self):
        """Deprecated alias of `n_components_` (deprecated in 0.2, removed in 0.3)."""
        return self.n_components_

    def __getstate__(self):
        state = super().__getstate__()
        if "_model" in state:
            state = {**state, "_model": _to_plain(state["_model"])}
        return state

    def __setstate__(self, state):
        if "_model" in state:
            types = {cls.__name__: cls for cls in self._model_types}
            state = {**state, "_model": _from_plain(state["_model"], types)}
        super().__setstate__(state)

    def _validate_input(self, X, *, reset):
        nan_is_missing = bool(np.isnan(self.missing_values))
        if sp.issparse(X) and not nan_is_missing and self.missing_values == 0:
            raise ValueError(
                "missing_values=0 is ambiguous for sparse X: unstored entries "
                "are already the missing ones. Use missing_values=np.nan (the "
                "default) or pass a dense X"
            )
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc", "coo"],
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
            reset=reset,
        )
        if not sp.issparse(X):
            finite_or_nan = np.isfinite(X) | np.isnan(X)
            if not finite_or_nan.all():
                raise ValueError(
                    "X contains infinity; every observed value must be finite"
                )
            if not nan_is_missing and np.isnan(X).any():
                raise ValueError(
                    f"X contains NaN but missing_values={self.missing_values!r}; "
                    "use missing_values=np.nan to treat NaN as missing"
                )
        return X, observed_entries(X, self.missing_values)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the low-rank model on the observed entries of ``X``.

        A row or column of ``X`` with no observed entry (a cold start) is
        predicted from the fitted effects alone: ``mean_ + column_effects_``
        in such a row, ``mean_ + row_effects_`` in such a column (its own
        effect and factors are 0); one
        :class:`~mathlearn.exceptions.EmptyRowWarning` says how many there
        are.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape \
                (n_samples, n_features)
            Dense data with missing entries marked by ``missing_values``, or
            a sparse matrix whose stored entries are the observed values
            (unstored entries are missing). A dask array (of either kind of
            chunk) is fitted block by block on its scheduler's workers (see
            Notes).
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted imputer.
        """
        self._warn_renamed_params()
        if is_dask_array(X):
            return self._fit_dask(X)
        X, obs = self._validate_input(X, reset=True)
        if not obs.vals.size:
            raise ValueError(
                f"X has no observed entry; {type(self).__name__} needs at least one"
            )
        return self._fit_entries(obs, X.dtype)

    def _fit_entries(self, obs, dtype, stacklevel=5):
        """:meth:`fit` on the observed entries ``obs`` of a matrix of ``dtype``.

        ``obs`` is this fit's own (its values are divided in place);
        ``stacklevel`` of the cold-start warning points at the caller of
        ``fit``.
        """
        # The fit runs on X / scale, where the solvers' tolerances and the
        # penalties are meant (and nothing overflows): it does not depend on
        # the units of X.
        scale = data_scale(obs.vals, centred=self.center is not None)
        # In place: observed_entries made obs.vals, never a view of X.
        np.divide(obs.vals, scale, out=obs.vals)
        part = active_part(obs)
        self._check_params(part.obs.shape, part.obs.rows.shape[0])
        self._warn_cold_start(obs.shape, part.rows.size, part.cols.size, stacklevel)
        rng = check_random_state(self.random_state)
        # The solvers make many products with thin matrices, where BLAS
        # threads cost more in synchronisation than they save (10x slower on
        # a busy machine): BLAS runs on one thread, and the per-row ridge
        # solves spread their chunks over n_jobs threads.
        with ridge_threads(self.n_jobs):
            center, selection = self._select(part.obs, rng)
            centering = fit_centering(
                part.obs,
                center=center,
                scale=self.scale,
                penalty=self._effects_penalty(part.obs.shape),
                start=self._centering_start(part.obs.shape, selection),
            )
            residual = standardize(part.obs, centering)
            fitted = self._fit_low_rank(
                part.obs, residual, centering, center, rng, selection
            )
            model = self._assemble_model(
                scale, center, centering, fitted, part, obs.shape, dtype
            )
            # The training rows are folded in exactly as transform folds
            # rows in: transform and predict_entries read one model.
            folded = self._fold_in_rows(obs, model)
            self._set_fitted(obs, model, folded, fitted.attributes)
        return self

    def _fit_dask(self, X):
        """:meth:`fit` on a dask array: maps over its row and column blocks.

        The passes of the in-memory fit, each a map over
        :class:`~mathlearn.impute._blocks.EntryBlocks`: the scale, the
        effects, the solver's half-steps and the fold-in of every row. A
        small table (:func:`is_small_table`) is computed and fitted in
        memory, and so are the entries of a table the subclass's selection
        needs in memory (:meth:`_needs_memory`).
        """
        from mathlearn.impute import _blocks

        if X.ndim != 2:
            raise ValueError(f"X must be 2-D, got a dask array of shape {X.shape}")
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        if is_small_table(X.shape):
            return self.fit(X.compute())
        self._check_dask_params()
        # n_features_in_ and the checks of dtype, on the first row; infinity
        # is looked for in the first pass.
        self._validate_input(X[:1].compute(), reset=True)
        blocks = _blocks.EntryBlocks.of(X, self.missing_values)
        return self._fit_blocks(blocks, X.dtype, stacklevel=6)

    def _fit_entry_blocks(self, blocks, dtype):
        """Fit on :class:`~._blocks.EntryBlocks` made of ratings by their owner.

        What :meth:`fit` does for a dask array, from its blocks:
        ``RatingsRecommender`` fits its completer so on a dask DataFrame. A
        small table is gathered and fitted in memory.
        """
        self._validate_params()
        self._warn_renamed_params()
        self.n_features_in_ = blocks.shape[1]
        if is_small_table(blocks.shape):
            return self._fit_entries(blocks.entries(), dtype, stacklevel=4)
        self._check_dask_params()
        return self._fit_blocks(blocks, dtype, stacklevel=4)

    def _fit_blocks(self, blocks, dtype, stacklevel):
        """Fit on the observed entries of ``blocks``, mapped over the blocks.

        The scale, the effects, the solver's half-steps and the fold-in of
        every row are each a map over the blocks; the entries are gathered
        only when the subclass's selection needs them in memory
        (:meth:`_needs_memory`). ``stacklevel`` of the cold-start warning,
        issued here, points at the caller of ``fit``.
        """
        from mathlearn.impute import _blocks

        shape = blocks.shape
        with ridge_threads(self.n_jobs):
            stats = _blocks.entry_stats(blocks, self.missing_values)
            if self._needs_memory(stats.n_obs):
                return self._fit_entries(blocks.entries(), dtype, stacklevel + 1)
            layout = stats.layout
            self._check_params(layout.shape, stats.n_obs)
            self._warn_cold_start(shape, *layout.shape, stacklevel=stacklevel)
            scale = stats.scale(centred=self.center is not None)
            source = _blocks.BlockSource(blocks, layout, scale, stats.n_obs)
            rng = check_random_state(self.random_state)
            center, selection = self._select(source, rng)
            centering = source.centering(
                center,
                self._effects_penalty(layout.shape),
                start=self._centering_start(layout.shape, selection),
            )
            fitted = self._fit_source(source, centering, center, rng, selection)
            part = ActivePart(
                None,
                np.flatnonzero(layout.row_position >= 0),
                np.flatnonzero(layout.col_position >= 0),
            )
            model = self._assemble_model(
                scale, center, centering, fitted, part, shape, dtype
            )
            folded = blocks.map(_blocks.fold_in_task, self, model)
            folded = [np.concatenate(parts) for parts in zip(*folded, strict=True)]
            self._set_fitted(source, model, folded, fitted.attributes)
        return self

    def _needs_memory(self, n_obs):
        """Whether a dask array's ``n_obs`` entries are fitted in memory.

        Subclasses whose selection needs the entries in memory (K folds)
        say so; they are then few.
        """
        return False

    def _check_dask_params(self):
        """The parameters a fit on a dask array supports; subclasses extend."""
        if self.scale:
            raise ValueError(
                "scale=True is not supported on a dask array X: fit in memory, "
                "or use scale=False"
            )

    def _assemble_model(self, scale, center, centering, fitted, part, shape, dtype):
        """The fitted :class:`Model` on all of ``shape``; no row folded in yet."""
        return Model(
            data_scale=scale,
            center=center,
            scaling=expand_centering(centering, part, shape),
            effects=expand_centering(fitted.effects, part, shape),
            row_factors=None,
            column_factors=_expand(fitted.column_factors, part.cols, shape[1], 0),
            fold_in=fitted.fold_in,
            dtype=dtype,
        )

    def _set_fitted(self, obs, model, folded, attributes):
        """Set the fitted attributes from ``model`` and its training rows.

        ``folded`` is ``(row_effects, row_scales, row_factors)`` of every
        training row, folded in (:meth:`_fold_in_rows`); ``obs`` the
        training entries on the unit scale, or a dask array's
        :class:`~._blocks.BlockSource`.
        """
        a, s, A = folded
        model = model._replace(
            effects=model.effects._replace(row_effects=a, row_scales=s),
            row_factors=A,
        )
        attributes = self._fitted_attributes(obs, model, attributes)
        scale = model.data_scale
        root = np.sqrt(scale)
        self._model = model
        self.center_ = model.center
        self.effects_penalties_ = np.array(
            [model.effects.row_penalty, model.effects.column_penalty]
        )
        self.mean_ = model.effects.mean * scale
        self.row_effects_ = a * scale
        self.column_effects_ = model.effects.column_effects * scale
        self.row_scales_ = s
        self.column_scales_ = model.effects.column_scales
        self.row_factors_ = A * root
        self.column_factors_ = model.column_factors * root
        self.n_components_ = A.shape[1]
        for name, value in attributes.items():
            setattr(self, name, value)

    def _warn_cold_start(self, shape, n_active_rows, n_active_cols, stacklevel):
        """One warning for the rows and columns with no observed entry.

        ``stacklevel`` is that of its caller's caller in ``fit``.
        """
        n_rows, n_cols = shape[0] - n_active_rows, shape[1] - n_active_cols
        if not (n_rows or n_cols):
            return
        kinds = [(n_rows, "rows"), (n_cols, "columns")]
        cold = " and ".join(f"{n} {kind}" for n, kind in kinds if n)
        warnings.warn(
            f"{cold} of X have no observed entry; they are predicted from the "
            "fitted effects alone (mean_ + column_effects_ in such a row, "
            "mean_ + row_effects_ in such a column)",
            EmptyRowWarning,
            stacklevel=stacklevel,
        )

    def _fold_in_rows(self, obs, model):
        """Row effects, scales and factors of the rows of ``obs`` (unit scale).

        Fitted on each row's observed entries against the column parameters
        of ``model``: for a training row this is its part of the model.
        """
        counts = np.bincount(obs.rows, minlength=obs.shape[0])
        a, s = fold_in_rows(obs, model.scaling, center=model.center, scale=self.scale)
        a, A = self._fold_in(obs, model, a, s, counts)
        return a, s, A

    def _complete(self, X, *, warn_empty_rows):
        check_is_fitted(self)
        X, obs = self._validate_input(X, reset=False)
        model = self._model
        n_rows, _ = obs.shape
        counts = np.bincount(obs.rows, minlength=n_rows)
        if warn_empty_rows and (counts == 0).any():
            warnings.warn(
                f"{int((counts == 0).sum())} rows of X have no observed entry; "
                "they are filled with mean_ + column_effects_",
                EmptyRowWarning,
                stacklevel=4,
            )
        unit = obs._replace(vals=obs.vals / model.data_scale)
        with ridge_threads(self.n_jobs):
            a, s, A = self._fold_in_rows(unit, model)
        e = model.effects
        completion = (A @ model.column_factors.T) * np.outer(s, e.column_scales)
        completion += e.mean + a[:, None] + e.column_effects[None, :]
        completion *= model.data_scale
        completion[obs.rows, obs.cols] = obs.vals
        return completion.astype(X.dtype, copy=False)

    def transform(self, X):
        """Complete ``X``: observed entries are kept, missing ones predicted.

        Each row is folded in: its effect (and scale) and its factors are
        fitted on its observed entries against the fitted column parameters,
        as the training rows were at the end of ``fit``, so a training row
        gets exactly its fitted completion (what :meth:`predict_entries`
        reads) and a new row is treated the same way. A row with no
        observed entry gets ``mean_ + column_effects_`` and an
        :class:`~mathlearn.exceptions.EmptyRowWarning`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Dense data with missing entries marked by ``missing_values``, or
            a sparse matrix whose stored entries are the observed values.

        Returns
        -------
        X_filled : ndarray of shape (n_samples, n_features)
            The completed matrix, dense (for sparse ``X`` too: the completion
            of a matrix has no missing entries; use :meth:`predict_entries`
            to score single entries of a large matrix).
        """
        return self._complete(X, warn_empty_rows=True)

    def fit_transform(self, X, y=None):
        """Fit on ``X``, then complete it (equivalent to ``fit(X).transform(X)``).

        Rows with no observed entry are reported once, by ``fit``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Dense data with missing entries marked by ``missing_values``, or
            a sparse matrix whose stored entries are the observed values.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        X_filled : ndarray of shape (n_samples, n_features)
            The completed matrix, dense.
        """
        return self.fit(X)._complete(X, warn_empty_rows=False)

    def predict_entries(self, rows, cols):
        """Predict single entries of the training matrix, without densifying.

        Parameters
        ----------
        rows : array-like of int, shape (n_entries,)
            Row (sample) index of each entry, in the matrix passed to ``fit``.
        cols : array-like of int, shape (n_entries,)
            Column (feature) index of each entry.

        Returns
        -------
        values : ndarray of shape (n_entries,)
            The model's value ``mean + a_i + b_j + s_i t_j u_i . v_j`` of
            each entry (observed or not), in ``O(n_entries * n_components_)`` time
            and memory: for a missing entry, the value ``transform`` gives
            it (to round-off). Same dtype as the ``X`` passed to ``fit``.
        """
        check_is_fitted(self)
        rows = np.asarray(rows)
        cols = np.asarray(cols)
        model = self._model
        n_rows, n_cols = model.row_factors.shape[0], model.column_factors.shape[0]
        for name, index, size in [("rows", rows, n_rows), ("cols", cols, n_cols)]:
            if index.ndim != 1 or not (
                index.size == 0 or np.issubdtype(index.dtype, np.integer)
            ):
                raise ValueError(
                    f"{name} must be a 1-D array of integer indices, got dtype "
                    f"{index.dtype} and shape {index.shape}"
                )
            if index.size and (index.min() < 0 or index.max() >= size):
                raise ValueError(
                    f"{name} must be in [0, {size}), got values in "
                    f"[{index.min()}, {index.max()}]"
                )
        if rows.shape != cols.shape:
            raise ValueError(
                f"rows and cols must have the same shape, got {rows.shape} "
                f"and {cols.shape}"
            )
        rows, cols = rows.astype(np.intp), cols.astype(np.intp)
        e = model.effects
        low_rank = row_dot(model.row_factors, model.column_factors, rows, cols)
        values = e.row_scales[rows] * e.column_scales[cols] * low_rank
        values += e.mean + e.row_effects[rows] + e.column_effects[cols]
        values *= model.data_scale
        return values.astype(model.dtype, copy=False)

    def _check_params(self, shape, n_obs):
        """Checks of parameters against the data; subclasses extend.

        ``shape`` is that of the rows and columns with an observed entry,
        ``n_obs`` the number of observed entries.
        """

    def _effects_penalty(self, shape):
        """The ``penalty`` of :func:`fit_centering`: ``effects_penalty``.

        ``"auto"`` means 0 on a small table (:func:`is_small_table`), where
        the effects are fitted jointly with the low-rank part (which carries
        what shrunk effects would leave, and corrects the observed means
        under values missing not at random); empirical-Bayes shrinkage pays
        where rows and columns have few entries each, as in ratings.
        """
        if self.effects_penalty == "auto" and is_small_table(shape):
            return 0.0
        return self.effects_penalty

    def _select(self, obs, rng):
        """The centring to use, and what the selection learnt on the way.

        Returns ``(center, selection)``; ``selection`` is passed on to
        :meth:`_fit_low_rank`. Subclasses that choose by validation override.
        """
        return self.center, None

    def _centering_start(self, shape, selection):
        """Effects the final fit's centring sweeps start from (None: zero).

        Subclasses whose selection fitted effects on most of the entries
        override.
        """
        return None

    def _fitted_attributes(self, obs, model, attributes):
        """The subclass's fitted attributes, given the final ``model``.

        ``attributes`` are those :meth:`_fit_low_rank` returned (on the unit
        scale of ``obs``); returns them on the scale of ``X``, with any that
        describe the final model.
        """
        return attributes

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = bool(np.isnan(self.missing_values))
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


# Held-out selection: AUTO_N_FOLDS-fold cross-validation up to CV_MAX_OBSERVED
# observed entries (a single held-out fraction of a few thousand entries is a
# noisy judge), one held-out fraction above.
AUTO_N_FOLDS = 5
CV_MAX_OBSERVED = 10_000

# A "small table": at most this many entries, observed or not (1,000 x 250).
# The completers choose some options by it (see where is_small_table is used).
SMALL_TABLE_ENTRIES = 250_000


def is_small_table(shape):
    """Whether ``shape`` has at most ``SMALL_TABLE_ENTRIES`` entries."""
    return shape[0] * shape[1] <= SMALL_TABLE_ENTRIES


def _is_set(value):
    """Whether a renamed parameter's old name was given a value."""
    return not (isinstance(value, str) and value == "deprecated")


def check_rank(name, value, shape):
    """``value`` (an int) must be below ``min(shape)``.

    ``shape`` counts the rows and columns with an observed entry.
    """
    if isinstance(value, Integral) and value >= min(shape):
        raise ValueError(
            f"{name}={value} must be < min(n_samples, n_features) = "
            f"{min(shape)}; got n_samples = {shape[0]}, n_features = {shape[1]} "
            "(counting the rows and columns with an observed entry)"
        )
