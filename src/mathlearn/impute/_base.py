"""Shared machinery of the low-rank completers: input, centring, fold-in.

A completer fits ``x_ij = mean + a_i + b_j + s_i t_j u_i . v_j`` on the
observed entries (see :mod:`mathlearn.impute._centering` for the effects and
scales). Subclasses fill :meth:`_BaseLowRankImputer._fit_low_rank`, which gets
the standardised residuals of the observed entries as COO triplets and returns
the row and column factors, and may choose the centring first
(:meth:`_BaseLowRankImputer._select`). Everything else -- validation of dense-NaN and
sparse-observed input, centring, folding new rows in, ``predict_entries`` --
is written once here.
"""

import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from mathlearn.impute._centering import (
    Observed,
    fit_centering,
    fold_in_rows,
    standardize,
)
from mathlearn.impute._som import EmptyRowWarning
from mathlearn.utils._sklearn_compat import _fit_context, validate_data

_CHUNK = 1 << 18
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
        keep = np.ones(X.data.shape[0], dtype=bool)
        if not np.isnan(missing_values):
            keep = X.data != missing_values
        counts = np.diff(X.indptr)
        rows = np.repeat(np.arange(X.shape[0]), counts)[keep]
        return Observed(
            rows.astype(np.intp),
            X.indices[keep].astype(np.intp),
            X.data[keep].astype(np.float64),
            X.shape,
        )
    if np.isnan(missing_values):
        observed = ~np.isnan(X)
    else:
        observed = X != missing_values
    rows, cols = np.nonzero(observed)
    return Observed(rows, cols, X[rows, cols].astype(np.float64), X.shape)


class Pattern:
    """The observed positions, as a CSR skeleton whose data is swapped in."""

    def __init__(self, obs):
        self.shape = obs.shape
        self.rows = obs.rows
        self.cols = obs.cols
        counts = np.bincount(obs.rows, minlength=obs.shape[0])
        self.indptr = np.concatenate([[0], np.cumsum(counts)])

    def padded_rows(self, chunk=512, budget=1 << 18):
        """Rows sorted by count, in chunks padded to their longest row.

        Each chunk is ``(rows, columns, entries)``: ``columns`` (and
        ``entries``) of shape ``(len(rows), longest)`` hold the column (and
        entry) indices of each row, padded with ``n_columns`` (and ``nnz``),
        which index an appended zero. A chunk has at most ``chunk`` rows and,
        unless it is a single row, at most ``budget`` padded entries. Built
        once, on first use.
        """
        if getattr(self, "_padded", None) is None:
            counts = np.diff(self.indptr)
            order = np.argsort(counts, kind="stable")
            n_entries = self.cols.shape[0]
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
                longest = int(counts[rows].max(initial=0))
                position = np.arange(longest)[None, :]
                inside = position < counts[rows][:, None]
                entries = np.where(
                    inside, self.indptr[rows][:, None] + position, n_entries
                )
                columns = np.full(entries.shape, self.shape[1])
                columns[inside] = self.cols[entries[inside]]
                chunks.append((rows, columns, entries))
            self._padded = chunks
        return self._padded

    def transpose(self):
        """The pattern of the transposed matrix, and the entry permutation.

        Built once, on first use: every shrinkage of a path reuses it (and
        the padded rows it caches).
        """
        if getattr(self, "_transposed", None) is None:
            order = np.argsort(self.cols, kind="stable")
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
# either, that product streams r (r + 1) / 2 values per entry from memory and
# the batched products (a symmetric rank-k update per row) win: measured with
# 10^6 entries on 6,000 x 4,000, 1.3x slower at rank 12, even at rank 16,
# 1.2x faster at rank 20 and 2.5x at rank 30.
_PADDED_GRAM_RANK = 16
_PADDED_GRAM_BYTES = 32e6


def _gram_padded(pattern, values, B):
    """Per-row Gram matrices ``B_O^T B_O`` and ``B_O^T v_O`` (padded rows)."""
    rank = B.shape[1]
    B_ext = np.vstack([B, np.zeros((1, rank))])
    v_ext = np.concatenate([values, [0.0]])
    gram = np.empty((pattern.shape[0], rank, rank))
    rhs = np.empty((pattern.shape[0], rank))
    for rows, columns, entries in pattern.padded_rows():
        G = np.take(B_ext, columns, axis=0)  # (chunk, longest, rank)
        Gt = G.transpose(0, 2, 1)
        gram[rows] = np.matmul(Gt, G)
        rhs[rows] = np.matmul(Gt, v_ext[entries][:, :, None])[:, :, 0]
    return gram, rhs


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


def ridge_rows_with_effect(pattern, values, B, penalty, effect_column):
    """:func:`ridge_rows` plus an unpenalised effect per row.

    Each row's effect multiplies ``effect_column`` (one value per column),
    its factors ``B``; returns ``(effects, A)``.
    """
    n_rows, rank = pattern.shape[0], B.shape[1]
    penalties = np.column_stack(
        [np.zeros(n_rows), _row_penalties(penalty, n_rows, rank)]
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
        gram, rhs = _gram_padded(pattern, values, B)
    else:
        gram, rhs = _gram_sparse(pattern, values, B)
    index = np.arange(rank)
    diag = np.trace(gram, axis1=1, axis2=2) / rank
    gram[:, index, index] += penalty + 1e-12 * np.maximum(diag, 1.0)[:, None]
    return np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]


class _BaseLowRankImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Validation, centring, fold-in and ``predict_entries`` of the completers."""

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

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Dense data with missing entries marked by ``missing_values``, or
            a sparse matrix whose stored entries are the observed values
            (unstored entries are missing).
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted imputer.
        """
        X, obs = self._validate_input(X, reset=True)
        n_rows, n_cols = obs.shape
        col_counts = np.bincount(obs.cols, minlength=n_cols)
        never = np.flatnonzero(col_counts == 0)
        if never.size:
            shown = never[:10].tolist()
            raise ValueError(
                f"features {shown}{' ...' if never.size > 10 else ''} have no "
                f"observed value in X; {type(self).__name__} cannot learn them: "
                "drop these columns first"
            )
        self._check_params(obs)
        rng = check_random_state(self.random_state)
        # The solvers make many products with thin matrices, where BLAS
        # threads cost more in synchronisation than they save (10x slower on
        # a busy machine); the heavy sparse products are single-threaded.
        with threadpool_limits(limits=1, user_api="blas"):
            center, selection = self._select(obs, rng)
            centering = fit_centering(obs, center=center, scale=self.scale)
            residual = standardize(obs, centering)
            fitted = self._fit_low_rank(
                obs, residual, centering, center, rng, selection
            )
        # The effects are set first: a subclass that refits them jointly with
        # its factors overrides them through ``fitted``.
        self.center_ = center
        self.mean_ = centering.mean
        self.row_effects_ = centering.row_effects
        self.column_effects_ = centering.column_effects
        self.row_scales_ = centering.row_scales
        self.column_scales_ = centering.column_scales
        self._centering_fit = centering
        self._n_observed_fit = obs.rows.shape[0]
        for name, value in fitted.items():
            setattr(self, name, value)
        self.rank_ = self.column_factors_.shape[1]
        return self

    def transform(self, X):
        """Complete ``X``: observed entries are kept, missing ones predicted.

        Each row is folded in: its effect (and scale) and its factors are
        fitted on its observed entries against the fitted column parameters,
        so a training row gets exactly its fitted completion and a new row is
        treated the same way. A row with no observed entry gets
        ``mean_ + column_effects_`` and an ``EmptyRowWarning``.

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
        check_is_fitted(self)
        X, obs = self._validate_input(X, reset=False)
        n_rows, _ = obs.shape
        counts = np.bincount(obs.rows, minlength=n_rows)
        if (counts == 0).any():
            warnings.warn(
                f"{int((counts == 0).sum())} rows of X have no observed entry; "
                "they are filled with mean_ + column_effects_",
                EmptyRowWarning,
                stacklevel=2,
            )
        a, s = fold_in_rows(
            obs, self._centering_fit, center=self.center_, scale=self.scale
        )
        a, A = self._fold_in(obs, a, s, counts)
        t = self.column_scales_
        B = self.column_factors_
        completion = (A @ B.T) * np.outer(s, t)
        completion += self.mean_ + a[:, None] + self.column_effects_[None, :]
        completion[obs.rows, obs.cols] = obs.vals
        return completion.astype(X.dtype, copy=False)

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
            each entry (observed or not), in ``O(n_entries * rank_)`` time
            and memory.
        """
        check_is_fitted(self)
        rows = np.asarray(rows)
        cols = np.asarray(cols)
        n_rows, n_cols = self.row_factors_.shape[0], self.column_factors_.shape[0]
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
        low_rank = row_dot(self.row_factors_, self.column_factors_, rows, cols)
        return (
            self.mean_
            + self.row_effects_[rows]
            + self.column_effects_[cols]
            + self.row_scales_[rows] * self.column_scales_[cols] * low_rank
        )

    def _check_params(self, obs):
        """Checks of parameters against the data; subclasses extend."""

    def _select(self, obs, rng):
        """The centring to use, and what the selection learnt on the way.

        Returns ``(center, selection)``; ``selection`` is passed on to
        :meth:`_fit_low_rank`. Subclasses that choose by validation override.
        """
        return self.center, None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = bool(np.isnan(self.missing_values))
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def check_rank(name, value, shape):
    """``value`` (an int) must be below ``min(shape)``."""
    if isinstance(value, Integral) and value >= min(shape):
        raise ValueError(
            f"{name}={value} must be < min(n_samples, n_features) = "
            f"{min(shape)}; got n_samples = {shape[0]}, n_features = {shape[1]}"
        )
