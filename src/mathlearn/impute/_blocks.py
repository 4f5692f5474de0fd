"""The completers' fit on a dask array: its observed entries, block by block.

A low-rank completer's fit touches the observed entries in a few ways only:
sums over them (the scale, the effects' sweeps), ridge fits of every row
against the column factors and of every column against the row factors (the
ALS half-steps, the fold-in), and products of the residual matrix with thin
matrices. Each of these is a map over blocks of whole rows, or of whole
columns, with the small arrays (factors, effects) broadcast, and a reduce
that adds or stacks what the blocks return. :class:`EntryBlocks` holds a
dask array's row blocks and column blocks; :class:`BlockResiduals` answers
what the solvers ask of the residuals (as :class:`~._base.Residuals` does in
memory) by such maps. The per-row and per-column computations are those of
the in-memory fit, applied to each block, so the fitted factors equal the
in-memory ones to round-off.

The observed entries of every block are extracted once and persisted on
the workers (where dask spills them to disk beyond a worker's memory
target); every pass is then one task per block, named by the hash of its
inputs: the entries are never gathered in one process.
"""

import dataclasses
import numbers
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, svds

from mathlearn.impute._base import (
    HeldOut,
    Pattern,
    Split,
    entry_hash,
    held_out_base,
    held_out_squares,
    held_out_threshold,
    least_squares_weights,
    normal_equations,
    observed_entries,
    ridge_rows,
    row_dot,
    scale_of,
    subset,
)
from mathlearn.impute._centering import (
    Centering,
    Observed,
    fits_columns,
    fits_rows,
    group_moments,
    penalty_of_groups,
    shrunk_means,
    standardize,
    start_centering,
    sweep_until_settled,
)
from mathlearn.impute._svd import factor_data_term, pack_theta, unpack_theta


def _global_entries(entries, start):
    """A row block's entries with their rows numbered as in ``X``."""
    return entries.rows + start, entries.cols, entries.vals


def _block_entries(block, missing_values, transposed):
    """Observed entries of a block of whole rows (of ``X.T`` if ``transposed``).

    Its own rows are numbered from 0, the other axis as in ``X``; the values
    are float64. A block may be a scipy.sparse matrix, whose stored entries
    are the observed ones.
    """
    if sp.issparse(block):
        entries = observed_entries(
            (block.T if transposed else block).tocsr(), missing_values
        )
    else:
        block = np.asarray(block)
        entries = observed_entries(block.T if transposed else block, missing_values)
    # Kept on the workers for the whole fit.
    return _compact_index(entries)


def _compact_index(entries):
    """``entries`` with 32-bit indices when they fit (16 bytes an entry, not 24)."""
    index = np.int32 if max(entries.shape) < 2**31 else np.int64
    return entries._replace(
        rows=entries.rows.astype(index, copy=False),
        cols=entries.cols.astype(index, copy=False),
    )


def _pieces(rows, cols, vals, starts):
    """The entries of each block of ``starts``, rows counted from its start.

    In their given order within each block (a stable sort).
    """
    block = np.searchsorted(starts, rows, side="right") - 1
    order = np.argsort(block, kind="stable")
    bounds = np.searchsorted(block[order], np.arange(starts.shape[0]))
    return [
        (rows[o] - starts[k], cols[o], vals[o])
        for k, o in enumerate(np.split(order, bounds[1:-1]))
    ]


def _split_triples(part, row_starts, col_starts):
    """A part's entries by row block, and (transposed) by column block."""
    rows, cols, vals = part
    return (
        _pieces(rows, cols, vals, row_starts),
        _pieces(cols, rows, vals, col_starts),
    )


def _piece(pieces, k):
    """Block ``k``'s piece of a part."""
    return pieces[k]


def _gathered_entries(pieces, n_rows, n_cols):
    """The :class:`Observed` of a block from its pieces, in row-major order.

    A pair given more than once gets the mean of its values.
    """
    rows, cols, vals = (np.concatenate(p) for p in zip(*pieces, strict=True))
    pairs, inverse, counts = np.unique(
        rows.astype(np.int64) * n_cols + cols, return_inverse=True, return_counts=True
    )
    vals = np.bincount(inverse, weights=vals, minlength=pairs.shape[0]) / counts
    rows, cols = np.divmod(pairs, n_cols)
    return _compact_index(Observed(rows, cols, vals, (n_rows, n_cols)))


class Layout(NamedTuple):
    """Where the rows and columns of ``X`` are in the active part of the fit.

    With a ``split``, only that part of the entries is read.
    """

    row_position: np.ndarray  # (n_rows,) active index of each row, -1 if empty
    col_position: np.ndarray  # (n_cols,)
    shape: tuple  # (n_active_rows, n_active_cols)
    split: Split | None = None


class Span(NamedTuple):
    """A block's first row in ``X`` and its range of active rows."""

    start: int
    active_start: int
    active_stop: int


@dataclasses.dataclass(frozen=True)
class EntryBlocks:
    """The observed entries of a 2-D dask array, by row blocks and column blocks.

    ``row_blocks`` (``col_blocks``) are delayed :class:`Observed` of each
    block of whole rows of ``X`` (of ``X.T``), extracted once and persisted
    (:meth:`of`), then read by every pass.
    """

    row_blocks: tuple
    col_blocks: tuple
    row_starts: np.ndarray  # (n_row_blocks + 1,) first row of each block, and n
    col_starts: np.ndarray
    shape: tuple

    @classmethod
    def of(cls, X, missing_values):
        """The blocks of the dask array ``X`` (its own row and column chunks)."""
        import dask

        task = dask.delayed(_block_entries, pure=True)
        by_rows = X.rechunk({1: -1}).to_delayed()[:, 0]
        by_cols = X.rechunk({0: -1}).to_delayed()[0, :]
        row_blocks = [task(block, missing_values, False) for block in by_rows]
        col_blocks = [task(block, missing_values, True) for block in by_cols]
        row_blocks, col_blocks = dask.persist(row_blocks, col_blocks)
        return cls(
            tuple(row_blocks),
            tuple(col_blocks),
            np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(np.intp),
            np.concatenate([[0], np.cumsum(X.chunks[1])]).astype(np.intp),
            X.shape,
        )

    @classmethod
    def of_triples(cls, parts, shape, row_starts, col_starts):
        """The blocks of the entries ``parts`` (delayed (rows, cols, vals)).

        Each part holds entries of an ``shape`` matrix in any order (a
        partition of a table of ratings, its ids already positions);
        ``row_starts`` and ``col_starts`` (each starting with 0 and ending
        with the size of its axis) cut the rows and the columns into
        blocks. Each part is split once by row block and by column block,
        and each block gathers its pieces of every part (a shuffle); a pair
        given more than once gets the mean of its values, summed in the
        order of the parts, so both of its blocks hold the same value.
        """
        import dask

        row_starts = np.asarray(row_starts, dtype=np.intp)
        col_starts = np.asarray(col_starts, dtype=np.intp)
        split = dask.delayed(_split_triples, pure=True, nout=2)
        piece = dask.delayed(_piece, pure=True)
        gather = dask.delayed(_gathered_entries, pure=True)
        by_rows, by_cols = zip(
            *(split(part, row_starts, col_starts) for part in parts), strict=True
        )

        def blocks(pieces, starts, n_other):
            return [
                gather(
                    [piece(part, k) for part in pieces],
                    int(starts[k + 1] - starts[k]),
                    n_other,
                )
                for k in range(starts.shape[0] - 1)
            ]

        row_blocks, col_blocks = dask.persist(
            blocks(by_rows, row_starts, shape[1]),
            blocks(by_cols, col_starts, shape[0]),
        )
        return cls(
            tuple(row_blocks), tuple(col_blocks), row_starts, col_starts, tuple(shape)
        )

    def map(self, func, *args, columns=False, per_block=None):
        """``func(entries, [block_arg,] *args)`` of every row (column) block.

        ``per_block`` holds one argument per block, passed after the
        entries; ``args`` are shared, each sent to the workers once (a
        :class:`Shared` argument was sent before, by :func:`share`).
        Computed on the current dask scheduler; returns the results in
        block order.
        """
        import dask

        blocks = self.col_blocks if columns else self.row_blocks
        task = dask.delayed(func, pure=True)
        shared = [
            arg.dependency if isinstance(arg, Shared) else _shared(arg) for arg in args
        ]
        if per_block is None:
            return dask.compute(*[task(entries, *shared) for entries in blocks])
        return dask.compute(
            *[
                task(entries, block_arg, *shared)
                for entries, block_arg in zip(blocks, per_block, strict=True)
            ]
        )

    def entries(self):
        """All the observed entries, gathered in this process (row-major)."""
        parts = self.map(_global_entries, per_block=self.row_starts[:-1])
        rows, cols, vals = (np.concatenate(p) for p in zip(*parts, strict=True))
        return Observed(rows, cols, vals, self.shape)

    def spans(self, layout, columns=False):
        """The :class:`Span` of every row (column) block under ``layout``."""
        starts = self.col_starts if columns else self.row_starts
        position = layout.col_position if columns else layout.row_position
        # Active rows before each block's first row.
        before = np.concatenate([[0], np.cumsum(position >= 0)])[starts]
        return [
            Span(int(starts[k]), int(before[k]), int(before[k + 1]))
            for k in range(starts.shape[0] - 1)
        ]


# A shared argument at most this large is copied into each block's task.
_INLINE_BYTES = 1 << 14
# Whose dask.sizeof counts what a task would carry: numbers, strings,
# arrays, and tuples (named ones too) of them.
_SIZED = (numbers.Number, str, bytes, type(None), np.ndarray, np.generic, tuple)


def _distributed_client():
    """The distributed ``Client`` that computes dask collections now, or None."""
    from dask.base import get_scheduler

    try:
        from distributed import Client
    except ImportError:
        return None
    owner = getattr(get_scheduler(), "__self__", None)
    return owner if isinstance(owner, Client) else None


def _shared(arg):
    """``arg`` as an argument of every block's task.

    A small argument (a penalty, a flag, a scale) is copied into each task.
    A larger one (a side's factors, 80 MB for a million rows at rank 10, or
    its effects and positions) is scattered to every worker of a
    distributed scheduler: sent once, directly, rather than inside the
    graph through the scheduler, and without a task that makes it on one
    worker for the others to fetch (a transfer that held up the start of
    every pass). On other schedulers it is a delayed literal. The scattered
    key is new each time (``hash=False``): a key named by the contents,
    released after one pass and scattered again by the next, can be
    forgotten by the scheduler after the second scatter.
    """
    import dask
    from dask.sizeof import sizeof

    # dask.sizeof of an arbitrary object is its shallow size, not what its
    # pickle would carry: such an object (an estimator) is never copied.
    if isinstance(arg, _SIZED) and sizeof(arg) <= _INLINE_BYTES:
        return arg
    client = _distributed_client()
    if client is not None:
        # In a list: scatter would send a tuple's items one by one.
        return client.scatter([arg], hash=False, broadcast=True)[0]
    return dask.delayed(arg, pure=True)


class Shared(NamedTuple):
    """An argument of many passes, sent to the workers once (:func:`share`)."""

    dependency: object  # a distributed Future, a delayed literal, or small


def share(arg):
    """``arg`` as a :class:`Shared` argument of every later pass.

    The effects and positions of a fit are the same in each of its
    hundreds of passes: they are sent to the workers once
    (:func:`_shared`), and each pass's graph names them instead of sending
    them again. The workers keep them while the returned object lives.
    """
    return Shared(_shared(arg))


def _counts_task(entries):
    """Entries per row of a block, their largest magnitude, all finite."""
    vals = entries.vals
    return (
        np.bincount(entries.rows, minlength=entries.shape[0]),
        float(np.max(np.abs(vals), initial=0.0)),
        bool(np.isfinite(vals).all()),
    )


def _positions(counts):
    """Active index of each row with entries, -1 for the others."""
    present = counts > 0
    return np.where(present, np.cumsum(present) - 1, -1)


@dataclasses.dataclass(frozen=True)
class EntryStats:
    """What the first passes learn of the entries: where, how many, how large.

    ``mean`` and ``deviation`` are the :meth:`BlockSource.moments` of
    ``v / peak`` over the ``n_obs`` entries.
    """

    layout: Layout
    n_obs: int
    peak: float
    mean: float
    deviation: float

    def scale(self, *, centred):
        """:func:`~._base.data_scale` of the values."""
        spread = self.deviation if centred else np.hypot(self.deviation, self.mean)
        return scale_of(self.peak, float(spread))


def entry_stats(blocks, missing_values):
    """:class:`EntryStats` of ``blocks``: three passes over the row blocks.

    Raises the in-memory fit's errors for an observed value that is not
    finite and for no observed entry at all.
    """
    rows = blocks.map(_counts_task)
    cols = blocks.map(_counts_task, columns=True)
    if not all(finite for _, _, finite in rows):
        raise ValueError(
            "X contains infinity (or NaN while missing_values="
            f"{missing_values!r}); every observed value must be finite"
        )
    row_counts = np.concatenate([counts for counts, _, _ in rows])
    col_counts = np.concatenate([counts for counts, _, _ in cols])
    n_obs = int(row_counts.sum())
    if n_obs == 0:
        raise ValueError("X has no observed entry; the completer needs at least one")
    row_position, col_position = _positions(row_counts), _positions(col_counts)
    layout = Layout(
        row_position,
        col_position,
        (int(row_position.max()) + 1, int(col_position.max()) + 1),
    )
    peak = max(peak for _, peak, _ in rows)
    if peak == 0.0:
        return EntryStats(layout, n_obs, 0.0, 0.0, 0.0)
    mean, deviation = BlockSource(blocks, layout, peak, n_obs).moments()
    return EntryStats(layout, n_obs, peak, mean, deviation)


def fold_in_task(entries, estimator, model):
    """``estimator._fold_in_rows`` of a row block's entries (unit scale)."""
    unit = entries._replace(vals=entries.vals / model.data_scale)
    return estimator._fold_in_rows(unit, model)


def _active(entries, span, layout, transposed):
    """A block's entries on the active rows and columns, own rows from 0.

    Own axis first: the entries of ``X.T``'s block for a column block.
    """
    own, other = layout.row_position, layout.col_position
    n_other = layout.shape[1]
    if transposed:
        own, other, n_other = other, own, layout.shape[0]
    shape = (span.active_stop - span.active_start, n_other)
    obs = Observed(
        own[span.start + entries.rows] - span.active_start,
        other[entries.cols],
        entries.vals,
        shape,
    )
    split = layout.split
    if split is None:
        return obs
    held_out = _hashes(obs, span, layout, split.seed, transposed) < split.threshold
    return subset(obs, held_out if split.held_out else ~held_out)


def _hashes(obs, span, layout, seed, transposed=False):
    """:func:`~._base.entry_hash` of a block's active entries ``obs``.

    Of each entry's position in the active matrix, whichever way the block
    runs.
    """
    rows, cols = obs.rows + span.active_start, obs.cols
    if transposed:
        rows, cols = cols, rows
    return entry_hash(rows, cols, layout.shape[1], seed)


def _residual(obs, span, centering, scale, transposed):
    """The standardised residuals of a block's active entries ``obs``.

    The in-memory fit's :func:`standardize` of ``X / scale``, on the
    effects of the block's own rows (columns) and all of the other axis.
    """
    lo, hi = span.active_start, span.active_stop
    vals = obs.vals / scale
    c = centering
    if transposed:
        entries = Observed(obs.cols, obs.rows, vals, obs.shape[::-1])
        c = c._replace(
            column_effects=c.column_effects[lo:hi], column_scales=c.column_scales[lo:hi]
        )
    else:
        entries = obs._replace(vals=vals)
        c = c._replace(row_effects=c.row_effects[lo:hi], row_scales=c.row_scales[lo:hi])
    return standardize(entries, c)


def _moments_task(entries, span, layout, centering, scale, transposed):
    """:func:`group_moments` of a block's targets for its own effects.

    ``v - mean - (the other axis's effect)``, grouped by the block's own
    rows (columns): what a half-sweep of :func:`fit_centering` averages.
    """
    obs = _active(entries, span, layout, transposed)
    c = centering
    other = c.row_effects if transposed else c.column_effects
    target = obs.vals / scale - c.mean - other[obs.cols]
    return group_moments(obs.rows, target, None, obs.shape[0])


def _ridge_task(entries, span, layout, centering, scale, transposed, B, penalty):
    obs = _active(entries, span, layout, transposed)
    residual = _residual(obs, span, centering, scale, transposed)
    return ridge_rows(Pattern(obs), residual, B, penalty)


def _remainder_task(entries, span, layout, centering, scale, P, V, W):
    obs = _active(entries, span, layout, False)
    residual = _residual(obs, span, centering, scale, False)
    P = P[span.active_start : span.active_stop]
    residual -= row_dot(P, V, obs.rows, obs.cols)
    return np.asarray(Pattern(obs).matrix(residual) @ W)


def _product_task(entries, span, layout, centering, scale, transposed, x):
    obs = _active(entries, span, layout, transposed)
    residual = _residual(obs, span, centering, scale, transposed)
    return Pattern(obs).matrix(residual) @ x


def _peak_task(entries, span, layout, centering, scale):
    obs = _active(entries, span, layout, False)
    residual = _residual(obs, span, centering, scale, False)
    return float(np.max(np.abs(residual), initial=0.0))


def _normal_task(entries, span, layout, centering, scale, U, V):
    obs = _active(entries, span, layout, False)
    residual = _residual(obs, span, centering, scale, False)
    U = U[span.active_start : span.active_stop]
    return normal_equations(U, V, obs.rows, obs.cols, residual)


class BlockResiduals:
    """The standardised residuals of a dask array's entries, block by block.

    The counterpart of :class:`~mathlearn.impute._base.Residuals` for the
    solvers: each question is a map over :class:`EntryBlocks` with the
    effects ``centering`` and the factors broadcast. The residuals are made
    in each task from the block's values, ``scale`` and ``centering``; the
    layout and the effects are sent to the workers once (:func:`share`).
    """

    def __init__(self, blocks, layout, centering, scale, n_obs):
        self.blocks = blocks
        self.centering = centering
        self.scale = scale
        self.shape = layout.shape
        self.n_obs = n_obs
        self._spans = blocks.spans(layout), blocks.spans(layout, columns=True)
        self._layout, self._centering = share(layout), share(centering)

    def _map(self, func, *args, columns=False):
        return self.blocks.map(
            func,
            self._layout,
            self._centering,
            self.scale,
            *args,
            columns=columns,
            per_block=self._spans[columns],
        )

    def ridge_rows(self, B, penalty):
        """:func:`ridge_rows` of every row, a map over the row blocks."""
        return np.vstack(self._map(_ridge_task, False, B, penalty))

    def ridge_columns(self, A, penalty):
        """:func:`ridge_rows` of every column, a map over the column blocks."""
        return np.vstack(self._map(_ridge_task, True, A, penalty, columns=True))

    def remainder_product(self, P, V, W):
        """``P_O(R - P V^T) W``, a map over the row blocks."""
        return np.vstack(self._map(_remainder_task, P, V, W))

    def operator(self):
        """``P_O(R)`` as a LinearOperator: products over row or column blocks."""

        def matmat(W):
            return np.concatenate(self._map(_product_task, False, W))

        def rmatmat(W):
            return np.concatenate(self._map(_product_task, True, W, columns=True))

        return LinearOperator(
            self.shape,
            matvec=lambda x: matmat(np.ravel(x)),
            rmatvec=lambda y: rmatmat(np.ravel(y)),
            matmat=matmat,
            rmatmat=rmatmat,
            dtype=np.float64,
        )

    def top_singular_value(self):
        """The largest singular value of ``P_O(R)`` (ARPACK, seeded)."""
        if max(self._map(_peak_task), default=0.0) == 0.0:
            return 0.0  # ARPACK fails on a zero matrix
        op = self.operator()
        m, n = self.shape
        if min(m, n) <= 2:
            # A product per row (column) of the identity: at most two.
            dense = (op.H @ np.eye(m)).T if m <= 2 else op @ np.eye(n)
            return float(np.linalg.norm(dense, ord=2))
        sigma = svds(op, k=1, return_singular_vectors=False, random_state=0)
        return float(sigma[0])

    def least_squares_singular_values(self, U, V):
        """:meth:`Residuals.least_squares_singular_values`, summed over blocks."""
        if U.shape[1] == 0:
            return np.zeros(0)
        parts = self._map(_normal_task, U, V)
        gram = sum(part[0] for part in parts)
        rhs = sum(part[1] for part in parts)
        return least_squares_weights(gram, rhs)


def fit_block_centering(residuals, *, center, penalty, spread, max_iter=20, tol=1e-7):
    """:func:`~._centering.fit_centering` without scales, over the blocks.

    The same sweeps (:func:`~._centering.sweep_until_settled`) from the
    effects of ``residuals`` (a :class:`BlockResiduals`): the column effects
    given the rows', then the rows', each a map over the blocks of whole
    columns (rows) returning their :class:`~._centering.GroupMoments`;
    ``penalty`` as there, ``spread`` the standard deviation of the values.
    Returns the fitted :class:`~._centering.Centering`.
    """
    shrink = penalty == "auto"

    def sweep(c):
        if fits_columns(center):
            c = _half_sweep(residuals, c, columns=True, shrink=shrink)
        if fits_rows(center):
            c = _half_sweep(residuals, c, columns=False, shrink=shrink)
        return c

    return sweep_until_settled(
        residuals.centering,
        sweep,
        center=center,
        scale=False,
        spread=spread,
        max_iter=max_iter,
        tol=tol,
    )


def _half_sweep(residuals, c, *, columns, shrink):
    """The column (row) effects given the other axis's, a map over blocks."""
    parts = residuals.blocks.map(
        _moments_task,
        residuals._layout,
        c,
        residuals.scale,
        columns,
        columns=columns,
        per_block=residuals._spans[columns],
    )
    count = np.concatenate([part.count for part in parts])
    total = np.concatenate([part.total for part in parts])
    name = "column_penalty" if columns else "row_penalty"
    penalty = getattr(c, name)
    if shrink:
        squares = sum(part.squares for part in parts)
        n_entries = sum(part.n_entries for part in parts)
        penalty = penalty_of_groups(count, total, squares, n_entries)
    effects = shrunk_means(count, total, penalty)
    if columns:
        return c._replace(column_effects=effects, column_penalty=penalty)
    return c._replace(row_effects=effects, row_penalty=penalty)


def _value_sums(entries, span, layout, scale, mean):
    """``sum(v / scale - mean)`` and ``sum((v / scale - mean)^2)`` of a block."""
    dev = _active(entries, span, layout, False).vals / scale - mean
    return float(np.sum(dev)), float(np.sum(dev**2))


@dataclasses.dataclass(frozen=True)
class BlockSource:
    """A dask array's entries as the completer's selection reads them.

    Its ``blocks`` under ``layout``, the values divided by ``scale``; the
    counterpart of the in-memory :class:`Observed` in the held-out path.
    """

    blocks: EntryBlocks
    layout: Layout
    scale: float
    n_obs: int

    @property
    def shape(self):
        return self.layout.shape

    def active_rows(self):
        """The rows of ``X`` with an entry, in order."""
        return np.flatnonzero(self.layout.row_position >= 0)

    def active_cols(self):
        return np.flatnonzero(self.layout.col_position >= 0)

    def _spans(self):
        return self.blocks.spans(self.layout)

    def part(self, split):
        """The :class:`BlockSource` of the entries ``split`` keeps."""
        layout = self.layout._replace(split=split)
        spans = self.blocks.spans(layout)
        counts = self.blocks.map(_counts_of, layout, False, per_block=spans)
        n_obs = int(sum(block_counts.sum() for block_counts in counts))
        return dataclasses.replace(self, layout=layout, n_obs=n_obs)

    def split(self, split):
        """The training part of ``split`` and the held-out :class:`Split`.

        The threshold moves as :func:`~._base.validation_split` moves it in
        memory when the split would hold out no entry, or every entry.
        """
        train = self.part(split)
        n_valid = self.n_obs - train.n_obs
        if n_valid in (0, self.n_obs):
            ranges = self.blocks.map(
                _hash_range_task, self.layout, split.seed, per_block=self._spans()
            )
            low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
            threshold = held_out_threshold(
                split.threshold, self.n_obs, n_valid, low, high
            )
            train = self.part(split._replace(threshold=threshold))
        held_out = train.layout.split._replace(held_out=True)
        return train, held_out

    def held_out(self, valid, func, *args):
        """Sums of ``func(train, valid, *args)`` over the row blocks.

        ``self`` is the training part of a split and ``valid`` its held-out
        :class:`Split`; ``func`` gets each block's training and held-out
        entries on the unit scale (rows numbered from the block's first)
        and returns a tuple of numbers or arrays, added over the blocks.
        """
        layout = self.layout._replace(split=None)
        parts = self.blocks.map(
            _held_out_task,
            layout,
            self.scale,
            valid,
            func,
            *args,
            per_block=self.blocks.spans(layout),
        )
        return tuple(sum(values) for values in zip(*parts, strict=True))

    def factor_terms(self, centering):
        """The :class:`BlockFactorTerms` of these entries under ``centering``."""
        return BlockFactorTerms(self, centering)

    def moments(self):
        """Mean of the values and root mean square of their deviation from it.

        Two passes: the deviations are summed from the mean, not expanded
        (values with a large offset lose no digits).
        """
        spans = self._spans()
        sums = self.blocks.map(
            _value_sums, self.layout, self.scale, 0.0, per_block=spans
        )
        mean = sum(total for total, _ in sums) / self.n_obs
        sums = self.blocks.map(
            _value_sums, self.layout, self.scale, mean, per_block=spans
        )
        deviation = float(np.sqrt(sum(squares for _, squares in sums) / self.n_obs))
        return mean, deviation

    def residuals(self, centering):
        """The :class:`BlockResiduals` of these entries under ``centering``."""
        return BlockResiduals(
            self.blocks, self.layout, centering, self.scale, self.n_obs
        )

    def centering(self, center, penalty, start=None):
        """:func:`fit_block_centering` of these entries.

        From the effects of ``start`` (zero effects if None), as
        :func:`~._centering.fit_centering` starts.
        """
        mean, deviation = self.moments()
        mean = mean if center is not None else 0.0
        c = start_centering(self.shape, mean, 1.0, start, penalty)
        return fit_block_centering(
            self.residuals(c),
            center=center,
            penalty=penalty,
            spread=deviation if deviation > 0 else 1.0,
        )


class BlockFold(NamedTuple):
    """The held-out split of a dask array walking the path (see ``_Fold``)."""

    residuals: BlockResiduals  # of the training entries
    train: BlockSource  # the training entries
    valid: Split  # the held-out entries
    centering: Centering  # the effects of the training entries
    n_valid: int
    lam_max: float
    state: object

    def squares(self, B, penalty, ratio, relaxations, joint_rows):
        """:func:`~._base.held_out_squares`, summed over the row blocks."""
        (squares,) = self.train.held_out(
            self.valid,
            _block_squares,
            self.centering,
            B,
            penalty,
            ratio,
            relaxations,
            joint_rows,
        )
        return squares


def _held_out_task(entries, span, layout, scale, valid, func, *args):
    """``func`` of a row block's training and held-out entries (unit scale)."""
    obs = _active(entries, span, layout, False)
    obs = obs._replace(vals=obs.vals / scale)
    held_out = _hashes(obs, span, layout, valid.seed) < valid.threshold
    return func(subset(obs, ~held_out), subset(obs, held_out), span, *args)


def _block_squares(train, valid, span, centering, *args):
    """:func:`~._base.held_out_squares` of one block of whole rows."""
    lo, hi = span.active_start, span.active_stop
    c = centering._replace(
        row_effects=centering.row_effects[lo:hi],
        row_scales=centering.row_scales[lo:hi],
    )
    fold = HeldOut(
        Pattern(train),
        standardize(train, c),
        c,
        valid,
        held_out_base(valid, c),
        c.row_scales[valid.rows] * c.column_scales[valid.cols],
    )
    return (held_out_squares(fold, *args),)


def _hash_range_task(entries, span, layout, seed):
    obs = _active(entries, span, layout, False)
    u = _hashes(obs, span, layout, seed)
    return float(u.min(initial=1.0)), float(u.max(initial=0.0))


def make_block_fold(source, split, center, penalty):
    """The :class:`BlockFold` of ``source`` (a :class:`BlockSource`)."""
    train, valid = source.split(split)
    centering = train.centering(center, penalty)
    residuals = train.residuals(centering)
    return BlockFold(
        residuals,
        train,
        valid,
        centering,
        source.n_obs - train.n_obs,
        residuals.top_singular_value(),
        None,
    )


def _counts_of(entries, span, layout, transposed):
    obs = _active(entries, span, layout, transposed)
    return np.bincount(obs.rows, minlength=obs.shape[0])


def _factor_task(entries, span, layout, centering, scale, A, B, r, k, rank, fits):
    """:func:`~._svd.factor_data_term` of a block of whole rows.

    Returns its value and the block's rows of the gradient in ``A`` and
    ``r``, and its part of the gradient in ``B`` and ``k``.
    """
    obs = _active(entries, span, layout, False)
    lo, hi = span.active_start, span.active_stop
    c = centering
    inv_scale = 1.0 / (c.row_scales[lo:hi][obs.rows] * c.column_scales[obs.cols])
    target = (obs.vals / scale - c.mean) * inv_scale
    theta = pack_theta(A[lo:hi], B, r[lo:hi], k, *fits)
    f, grad = factor_data_term(theta, Pattern(obs), target, inv_scale, rank, *fits)
    return (f, *unpack_theta(grad, obs.shape, rank, *fits))


class BlockFactorTerms:
    """:class:`~._svd.FactorTerms` of a :class:`BlockSource`: maps over blocks."""

    def __init__(self, source, centering):
        self.source = source
        self.centering = centering
        self.shape = source.shape

    def counts(self):
        """Observed entries per row and per column (a pass over each kind)."""
        blocks, layout = self.source.blocks, self.source.layout
        return tuple(
            np.concatenate(
                blocks.map(
                    _counts_of,
                    layout,
                    columns,
                    columns=columns,
                    per_block=blocks.spans(layout, columns=columns),
                )
            )
            for columns in (False, True)
        )

    def data_term(self, theta, rank, fit_rows, fit_cols):
        """:func:`~._svd.factor_data_term` of all entries: a sum over blocks."""
        fits = (fit_rows, fit_cols)
        source = self.source
        parts = source.blocks.map(
            _factor_task,
            source.layout,
            self.centering,
            source.scale,
            *unpack_theta(theta, self.shape, rank, *fits),
            rank,
            fits,
            per_block=source._spans(),
        )
        f, gA, gB, gr, gk = zip(*parts, strict=True)
        grad = pack_theta(np.vstack(gA), sum(gB), np.concatenate(gr), sum(gk), *fits)
        return sum(f), grad

    def residual_operator(self):
        """The standardised residuals as a LinearOperator over the blocks."""
        return self.source.residuals(self.centering).operator()
