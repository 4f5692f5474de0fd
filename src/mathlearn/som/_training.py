"""Training of a self-organizing map, shared by SelfOrganizingMap and SOMImputer.

:mod:`mathlearn.som._core` holds the formulas (distances, neighbourhood, one
batch epoch); this module holds what both estimators do with them: choose the
grid, run the epochs, and spread their blocks over threads.

An epoch is many small products (a block of rows against the codebook, then
a block of the neighbourhood matrix against the per-unit sums). With a
multi-threaded BLAS each of them hands work to a second thread and waits for
it, which on a machine with a busy core took 2-3 times as long as one thread
doing it all. So the blocks themselves are spread over threads, each calling
BLAS on one thread, the way scikit-learn's ``KMeans``
runs its chunks on OpenMP threads: no hand-off inside a product, and a
thread that loses its core delays only its own blocks. The threads are
:func:`mathlearn.utils._threads.block_threads`.
"""

import dataclasses
import math
from typing import NamedTuple

import numpy as np
from sklearn.utils import gen_batches
from sklearn.utils.extmath import svd_flip

from mathlearn.som import _core


def units_per_sqrt_sample(n_samples, factor):
    """``factor * sqrt(n_samples)``, rounded down, between 1 and ``n_samples``."""
    return max(1, min(int(n_samples), math.floor(factor * math.sqrt(n_samples))))


def grid_size(n_rows, n_cols, n_units, X, *, svd=None):
    """``(n_rows, n_cols)``: the parameters, or chosen for about ``n_units`` units.

    A ``None`` side is chosen from the data: with the other side given, it
    makes about ``n_units`` units; with both ``None``, the sides follow the
    SOM Toolbox rule of :func:`_core.grid_shape` (``svd`` is
    :func:`_core.centred_svd` of ``X`` if already computed).
    """
    if n_rows is not None and n_cols is not None:
        return int(n_rows), int(n_cols)
    if n_rows is not None:
        return int(n_rows), max(1, round(n_units / n_rows))
    if n_cols is not None:
        return max(1, round(n_units / n_cols)), int(n_cols)
    if svd is None and (is_dask_array(X) or isinstance(X, RowBlocks)):
        svd = centred_svd(X)
    return _core.grid_shape(X, n_units, svd=svd)


class Grid(NamedTuple):
    """The grid of a map and its radii, resolved from the parameters."""

    n_rows: int
    n_cols: int
    coords: np.ndarray  # (n_units, 2), see _core.grid_coordinates
    sq_dist: np.ndarray  # (n_units, n_units) squared grid distances
    sigma: float  # initial radius
    sigma_end: float  # final radius

    @classmethod
    def build(cls, n_rows, n_cols, topology, sigma, sigma_end, default_end):
        """The grid of ``n_rows x n_cols`` units and the radii actually used.

        ``sigma``, ``sigma_end`` and ``default_end`` are resolved by
        :func:`_core.resolve_radii`.
        """
        coords = _core.grid_coordinates(n_rows, n_cols, topology)
        start, end = _core.resolve_radii(sigma, sigma_end, n_rows, n_cols, default_end)
        return cls(n_rows, n_cols, coords, _core.grid_sq_distances(coords), start, end)


class GridMixin:
    """The grid of a map estimator, and its fitted grid attributes.

    For estimators with the parameters ``topology``, ``sigma``, ``sigma_end``
    and ``neighborhood`` (``SelfOrganizingMap``, ``SOMImputer``). They differ
    only in the final radius that ``sigma_end=None`` stands for, by
    neighbourhood: the class attribute ``_default_sigma_end``.
    """

    _default_sigma_end = _core._DEFAULT_SIGMA_END

    def _grid(self, n_rows, n_cols):
        """The :class:`Grid` of ``n_rows x n_cols`` units for the parameters."""
        return Grid.build(
            n_rows,
            n_cols,
            self.topology,
            self.sigma,
            self.sigma_end,
            self._default_sigma_end[self.neighborhood],
        )

    def _set_grid(self, grid):
        """Set the fitted grid attributes from the :class:`Grid` ``grid``.

        ``n_rows_``, ``n_cols_``, ``sigma_``, ``sigma_end_`` and
        ``grid_coordinates_``.
        """
        self.n_rows_, self.n_cols_ = grid.n_rows, grid.n_cols
        self.sigma_, self.sigma_end_ = grid.sigma, grid.sigma_end
        self.grid_coordinates_ = grid.coords


def train_batch(
    X,
    W,
    grid_sq_dist,
    sigmas,
    kind,
    *,
    mask=None,
    sample_weight=None,
    e=0,
    report=None,
    block_map=map,
):
    """Kohonen's batch map: one :func:`_core.batch_epoch` per radius of ``sigmas``.

    ``X`` and ``W`` are in work units of ``2**e`` (see :mod:`_core`);
    ``kind`` is the neighbourhood, ``mask`` and ``sample_weight`` go to every
    epoch. ``report(epoch, sigma_t, error)``, if given, is called after each
    epoch with the mean (masked) distance, in data units, from the rows to
    their best units under the weights the epoch started from. Blocks go
    through ``block_map`` (see :func:`block_threads`). Returns the final
    weights. A dask array ``X`` (and ``mask``), or :class:`RowBlocks`, is
    trained on block by block (:func:`_train_batch_chunked`).
    """
    if is_dask_array(X) or isinstance(X, RowBlocks):
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported with a dask array X")
        data = RowBlocks.of(X, mask) if is_dask_array(X) else X
        return _train_batch_chunked(
            data,
            W,
            grid_sq_dist,
            sigmas,
            kind,
            e=e,
            report=report,
            block_map=block_map,
        )
    for epoch, sigma_t in enumerate(sigmas):
        new_W, units = _core.batch_epoch(
            X,
            W,
            grid_sq_dist,
            sigma_t,
            kind,
            mask=mask,
            sample_weight=sample_weight,
            block_map=block_map,
        )
        if report is not None:
            report(epoch, sigma_t, mean_distance(X, W, units, e, mask=mask))
        W = new_W
    return W


class OnlineSchedule(NamedTuple):
    """Epoch ``epoch`` of ``n_epochs`` of the online rule, from ``learning_rate``."""

    epoch: int
    n_epochs: int
    learning_rate: float

    def at(self, grid, n_samples):
        """Radii and learning rates of the epoch's ``n_samples`` presentations.

        Presentation ``s = epoch * n + i`` of ``N = n_epochs * n`` has the
        learning rate ``learning_rate * (1 - s / N)`` and the radius of
        :func:`_core.radius_schedule` over ``N`` steps; both stay at their
        final values (0 and ``sigma_end``) past ``N``.
        """
        n_steps = self.n_epochs * n_samples
        steps = self.epoch * n_samples + np.arange(n_samples)
        sigmas = _core.radius_schedule(grid.sigma, grid.sigma_end, n_steps, steps)
        rates = self.learning_rate * np.maximum(1.0 - steps / n_steps, 0.0)
        return sigmas, rates


def train_online_pass(
    X, W, grid, kind, schedule, rng, *, mask=None, e=0, report=None, block_map=map
):
    """One epoch of Kohonen's online rule on ``X``, in a random order, in place.

    ``X`` and ``W`` are in work units of ``2**e``; ``schedule`` is an
    :class:`OnlineSchedule`, ``mask`` the observed entries of ``X`` (see
    :func:`_core.online_epoch`). ``report(sigma, rate, error)``, if given,
    gets the first radius and rate of the epoch and the mean (masked)
    distance of the rows to their best units before it (found through
    ``block_map``; the online rule itself is one sample at a time).
    """
    sigmas, rates = schedule.at(grid, X.shape[0])
    if report is not None:
        units = _core.best_units(X, W, mask=mask, block_map=block_map)[:, 0]
        error = mean_distance(X, W, units, e, mask=mask)
    order = rng.permutation(X.shape[0])
    _core.online_epoch(X, W, grid.sq_dist, order, sigmas, rates, kind, mask=mask)
    if report is not None:
        report(sigmas[0], rates[0], error)
    return W


@dataclasses.dataclass(frozen=True, eq=False)
class RowBlocks:
    """A dask array read block by block, in work units ``(x - center) / 2**e``.

    ``blocks`` (and ``masks``) are the array's row blocks as delayed objects,
    made once (:meth:`of`) and used by every pass over the data, so that a
    fit submits each of the array's keys with one definition: computing
    differently optimised graphs of the same array (its blocks fused into a
    mean here, into a difference there) gives one key two definitions, which
    ``distributed`` reports as a key collision. Every pass is one task per
    block that returns a few small arrays; inside a task the rows are taken
    ``_ROW_BLOCK_ENTRIES`` entries at a time (:func:`_row_slices`), so a
    worker holds a block and a few MB beside it, never a centred copy or a
    distance matrix of the whole block. ``center`` (or ``None``) and ``e``
    are applied to each slice of rows as it is read (:func:`_work_rows`).
    """

    blocks: tuple  # delayed (n_i, n_features) blocks, in row order
    masks: tuple | None  # delayed blocks of the mask, or None
    row_counts: tuple  # n_i of each block
    shape: tuple
    dtype: np.dtype
    center: np.ndarray | None = None
    e: int = 0

    @classmethod
    def of(cls, X, mask=None):
        """The row blocks of the dask array ``X`` (and of ``mask``)."""
        X = X.rechunk({1: -1})
        masks = None
        if mask is not None:
            masks = tuple(mask.rechunk(X.chunks).to_delayed()[:, 0])
        return cls(tuple(X.to_delayed()[:, 0]), masks, X.chunks[0], X.shape, X.dtype)

    def replace(self, **changes):
        """A copy with the fields ``changes`` replaced (the same blocks)."""
        return dataclasses.replace(self, **changes)

    def map(self, func, *args):
        """``func(block, mask, center, e, *args)`` of every block, computed.

        ``func`` runs on the workers of the current dask scheduler; its tasks
        are named by the hash of their inputs (``pure``), so the same pass on
        the same data reuses its keys, and a pass on other data or another
        codebook gets new ones.
        """
        import dask

        task = dask.delayed(func, pure=True)
        masks = self.masks or (None,) * len(self.blocks)
        return dask.compute(
            *[
                task(block, mask, self.center, self.e, *args)
                for block, mask in zip(self.blocks, masks, strict=True)
            ]
        )

    def __getitem__(self, rows):
        """The rows of the index array ``rows``, in work units, as an ndarray."""
        import dask

        rows = np.asarray(rows)
        ends = np.cumsum(self.row_counts)
        which = np.searchsorted(ends, rows, side="right")
        starts = ends - np.asarray(self.row_counts)
        used = np.unique(which)
        task = dask.delayed(_work_rows, pure=True)
        taken = dask.compute(
            *[
                task(self.blocks[b], rows[which == b] - starts[b], self.center, self.e)
                for b in used
            ]
        )
        out = np.empty((rows.size, self.shape[1]), dtype=self.dtype)
        for b, part in zip(used, taken, strict=True):
            out[which == b] = part
        return out


# Entries of one slice of rows (or of its distances to the units) inside a
# task of RowBlocks: the in-memory epoch's block size (_core._BLOCK_ENTRIES).
_ROW_BLOCK_ENTRIES = _core._BLOCK_ENTRIES


def _row_slices(n_rows, width):
    """Slices of ``n_rows`` rows, ``_ROW_BLOCK_ENTRIES // width`` rows each."""
    return gen_batches(n_rows, max(1, _ROW_BLOCK_ENTRIES // max(width, 1)))


def _work_rows(block, rows, center, e):
    """``(block[rows] - center) / 2**e`` (``center`` may be None), a new array."""
    if center is None:
        return np.ldexp(block[rows], -e)
    x = block[rows] - center
    return np.ldexp(x, -e, out=x)


class _Moments(NamedTuple):
    """What one pass learns of a block (in work units)."""

    n_rows: int
    total: np.ndarray  # float64 column sums
    finite: bool  # whether every entry is finite
    low: np.ndarray  # column minima (+inf for no rows)
    high: np.ndarray  # column maxima (-inf for no rows)


def _block_moments(block, mask, center, e):
    """:class:`_Moments` of one block."""
    total = np.zeros(block.shape[1])
    low = np.full(block.shape[1], np.inf, dtype=block.dtype)
    high = np.full(block.shape[1], -np.inf, dtype=block.dtype)
    finite = True
    for rows in _row_slices(block.shape[0], block.shape[1]):
        x = _work_rows(block, rows, center, e)
        finite = finite and bool(np.isfinite(x).all())
        total += x.sum(axis=0, dtype=np.float64)
        np.minimum(low, x.min(axis=0, initial=np.inf), out=low)
        np.maximum(high, x.max(axis=0, initial=-np.inf), out=high)
    return _Moments(block.shape[0], total, finite, low, high)


def _largest_about(moments, center):
    """``max |x - center|`` over the blocks' :class:`_Moments`, exactly.

    ``x - center`` rounds monotonically in ``x``, so its largest magnitude
    is taken at a column's minimum or maximum. 0 when there are no rows.
    """
    low = np.min([m.low for m in moments], axis=0)
    high = np.max([m.high for m in moments], axis=0)
    return float(
        max(np.max(high - center, initial=0.0), np.max(center - low, initial=0.0))
    )


def _block_scatter(block, mask, center, e):
    """``(n_i, m_i, R_i)``: rows, mean and R factor of the block about its mean.

    ``m_i`` is the float64 column mean of the block in work units, ``R_i``
    the triangular factor of the QR decomposition of ``x - m_i``,
    accumulated over slices of rows: ``R <- qr([R; slice])``.
    """
    n_i, total = _block_moments(block, None, center, e)[:2]
    m_i = total / max(n_i, 1)
    shift = m_i.astype(block.dtype)
    R = np.empty((0, block.shape[1]), dtype=block.dtype)
    for rows in _row_slices(block.shape[0], block.shape[1]):
        x = _work_rows(block, rows, center, e)
        x -= shift
        R = np.linalg.qr(np.concatenate([R, x]), mode="r")
    return n_i, m_i, R


def _block_sums(block, mask, center, e, W, with_error):
    """:func:`_core.unit_sums` of one block, and its sum of distances (or 0).

    Summed over slices of rows whose distances to the units take
    ``_ROW_BLOCK_ENTRIES`` entries.
    """
    S = np.zeros(W.shape, dtype=W.dtype)
    counts = np.zeros(W.shape if mask is not None else W.shape[0], dtype=W.dtype)
    error = 0.0
    for rows in _row_slices(block.shape[0], max(W.shape)):
        x = _work_rows(block, rows, center, e)
        m = None if mask is None else mask[rows]
        S_rows, counts_rows, units = _core.unit_sums(x, W, mask=m)
        S += S_rows
        counts += counts_rows
        if with_error:
            sq_dist = _core.unit_sq_distances(x, W, units[:, None], mask=m)
            error += float(np.sqrt(sq_dist).sum())
    return S, counts, error


def _train_batch_chunked(
    data, W, grid_sq_dist, sigmas, kind, *, e=0, report=None, block_map=map
):
    """:func:`train_batch` of :class:`RowBlocks` ``data``, block by block.

    Each epoch maps :func:`_block_sums` over the row blocks (on the workers
    of the current dask scheduler) and adds their sums, then applies
    :func:`_core.batch_update` here (through ``block_map``): the epoch of
    :func:`train_batch`, its sums added in another order. The codebook is
    one task of the epoch's graph, which every block's task reads: it is
    sent to each worker once, not once per block. Only the sums come back,
    so the data stream through the workers block by block.
    """
    import dask

    for epoch, sigma_t in enumerate(sigmas):
        parts = data.map(_block_sums, dask.delayed(W, pure=True), report is not None)
        S, counts, error = (sum(part) for part in zip(*parts, strict=True))
        if report is not None:
            report(epoch, sigma_t, float(_core.to_data_units(error / data.shape[0], e)))
        W = _core.batch_update(
            W, grid_sq_dist, sigma_t, kind, S, counts, block_map=block_map
        )
    return W


def is_dask_array(X):
    """Whether ``X`` is a dask array (without importing dask)."""
    return type(X).__module__.startswith("dask.") and hasattr(X, "to_delayed")


def _row_blocks(X):
    """``X`` as :class:`RowBlocks` if it is a dask array, else ``X`` itself."""
    return RowBlocks.of(X) if is_dask_array(X) else X


def center_chunked(data):
    """``(center, largest)`` of :class:`RowBlocks` of floats, in one pass.

    ``center`` is the column mean (accumulated in float64) in the dtype of
    the data, ``largest`` the largest magnitude of ``x - center``
    (:func:`_largest_about`: exactly ``max |X - center|``). Raises a
    ``ValueError`` if the data hold NaN or infinity.
    """
    moments = data.map(_block_moments)
    if not all(m.finite for m in moments):
        raise ValueError("Input X contains NaN or infinity.")
    n_rows = sum(m.n_rows for m in moments)
    center = (sum(m.total for m in moments) / max(n_rows, 1)).astype(data.dtype)
    return center, _largest_about(moments, center)


def scale_down(X, e):
    """``X / 2**e`` (exact): in place for an ndarray, lazily for a dask array.

    :class:`RowBlocks` take the scale with them, applied in each task.
    """
    if isinstance(X, RowBlocks):
        return X.replace(e=X.e + e)
    if is_dask_array(X):
        return X.map_blocks(np.ldexp, -e, dtype=X.dtype)
    return np.ldexp(X, -e, out=X)


def largest_magnitude(X):
    """``max |X|`` (0 for an empty array): an ndarray, dask array or RowBlocks."""
    X = _row_blocks(X)
    if isinstance(X, RowBlocks):
        return _largest_about(X.map(_block_moments), X.dtype.type(0))
    return float(np.max(np.abs(X), initial=0.0))


def centred_svd(X, sample_weight=None):
    """:func:`_core.centred_svd`; of a dask array or :class:`RowBlocks`, by blocks.

    Each block gives its rows ``n_i``, mean ``m_i`` and the R factor of its
    rows centred at ``m_i`` (:func:`_block_scatter`); the centred data have
    the singular values and right vectors of ``R_1, ..., R_k`` stacked over
    the rows ``sqrt(n_i) (m_i - mean)`` (the scatter about the mean is the
    blocks' scatters plus that of their means), a small matrix. The result
    equals the in-memory one to round-off: the same singular values, and
    vectors with the same signs (``svd_flip``).
    """
    X = _row_blocks(X)
    if not isinstance(X, RowBlocks):
        return _core.centred_svd(X, sample_weight)
    n_rows, means, Rs = zip(*X.map(_block_scatter), strict=True)
    n_rows, means = np.asarray(n_rows, dtype=np.float64), np.asarray(means)
    mean = n_rows @ means / max(n_rows.sum(), 1.0)
    spread = np.sqrt(n_rows)[:, None] * (means - mean)
    _, s, Vt = np.linalg.svd(
        np.concatenate([*Rs, spread.astype(X.dtype)]), full_matrices=False
    )
    _, Vt = svd_flip(None, Vt, u_based_decision=False)
    return mean.astype(X.dtype), s, Vt


def mean_distance(X, W, units, e, *, mask=None):
    """Mean (masked) distance from the rows of ``X`` to their ``units``.

    ``X`` and ``W`` are in work units of ``2**e``, ``units`` has one unit per
    row; the result is in data units.
    """
    sq_dist = _core.unit_sq_distances(X, W, units[:, None], mask=mask)
    return float(_core.to_data_units(float(np.sqrt(sq_dist).mean()), e))
