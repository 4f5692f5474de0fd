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
    weights. :class:`RowBlocks` ``X`` are trained on block by block
    (:func:`_train_batch_chunked`), their mask read with their rows (no
    ``mask``, no ``sample_weight``).
    """
    if isinstance(X, RowBlocks):
        return _train_batch_chunked(
            X,
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


class Reading(NamedTuple):
    """How a task of :class:`RowBlocks` reads its block: a slice of rows at a time.

    A slice becomes ``(x - center) / 2**e`` (``center`` may be None). With
    ``missing_values`` (``SOMImputer``'s placeholder, NaN included), an
    entry equal to it is missing: with ``train_on="all"`` the rows read are
    those with an observed entry, 0 where missing, each with its 0/1 mask
    of observed entries; with ``train_on="complete"`` the rows without a
    missing entry, without a mask.
    """

    center: np.ndarray | None = None
    e: int = 0
    missing_values: float | None = None
    train_on: str = "all"

    @property
    def masked(self):
        """Whether the rows read come with a mask of observed entries."""
        return self.missing_values is not None and self.train_on == "all"

    def observed(self, x):
        """Observed entries of the stored rows ``x``, or None if none is missing."""
        if self.missing_values is None:
            return None
        if np.isnan(self.missing_values):
            return ~np.isnan(x)
        return x != self.missing_values

    def kept(self, observed):
        """Which rows (with the entries ``observed``) are read; None for all."""
        if observed is None:
            return None
        if self.train_on == "complete":
            return observed.all(axis=1)
        return observed.any(axis=1)

    def finite(self, x):
        """Whether the stored rows ``x`` hold no NaN or infinity but the placeholder."""
        if self.missing_values is not None and np.isnan(self.missing_values):
            return not np.isinf(x).any()
        return bool(np.isfinite(x).all())

    def invalid_message(self):
        """The ``ValueError`` message for data that are not :meth:`finite`."""
        if self.missing_values is None:
            return "Input X contains NaN or infinity."
        return (
            "Input X contains infinity"
            + ("" if np.isnan(self.missing_values) else " or NaN")
            + f" (missing_values={self.missing_values!r})."
        )

    def work(self, x):
        """``(x_w, mask)``: the rows read of the stored rows ``x``, in work units.

        ``x_w`` is a new array; ``mask`` the float 0/1 mask of its observed
        entries if :attr:`masked`, else None.
        """
        observed = self.observed(x)
        if observed is None:
            x = x.copy()
        else:
            keep = self.kept(observed)
            x, observed = x[keep], observed[keep]
        if self.center is not None:
            x -= self.center
        mask = None
        if self.masked:
            np.copyto(x, 0, where=~observed)
            mask = observed.astype(x.dtype)
        return np.ldexp(x, -self.e, out=x), mask

    def slices(self, block, width):
        """:meth:`work` of each slice of ``_ROW_BLOCK_ENTRIES // width`` rows."""
        for rows in _row_slices(block.shape[0], width):
            yield self.work(block[rows])


@dataclasses.dataclass(frozen=True, eq=False)
class RowBlocks:
    """A dask array read block by block, in work units ``(x - center) / 2**e``.

    ``blocks`` are the array's row blocks as delayed objects, made once
    (:meth:`of`) and used by every pass over the data, so that a fit
    submits each of the array's keys with one definition: computing
    differently optimised graphs of the same array (its blocks fused into a
    mean here, into a difference there) gives one key two definitions, which
    ``distributed`` reports as a key collision. Every pass is one task per
    block that returns a few small arrays; inside a task the rows are read
    ``_ROW_BLOCK_ENTRIES`` entries at a time (:class:`Reading`: centred,
    scaled, their missing entries found and set to 0), so a worker holds a
    block and a few MB beside it, never a centred copy, a mask or a
    distance matrix of the whole block. ``row_counts`` and ``shape`` count
    the rows read: with ``missing_values``, as :func:`center_chunked`
    returns them.
    """

    blocks: tuple  # delayed (n_i, n_features) blocks, in row order
    row_counts: tuple  # rows read of each block
    shape: tuple
    dtype: np.dtype
    center: np.ndarray | None = None
    e: int = 0
    missing_values: float | None = None  # see Reading
    train_on: str = "all"

    @classmethod
    def of(cls, X, *, missing_values=None, train_on="all"):
        """The row blocks of the dask array ``X`` (see :class:`Reading`)."""
        X = X.rechunk({1: -1})
        return cls(
            tuple(X.to_delayed()[:, 0]),
            X.chunks[0],
            X.shape,
            X.dtype,
            missing_values=missing_values,
            train_on=train_on,
        )

    @property
    def reading(self):
        """The :class:`Reading` that the tasks apply to their blocks."""
        return Reading(self.center, self.e, self.missing_values, self.train_on)

    def replace(self, **changes):
        """A copy with the fields ``changes`` replaced (the same blocks)."""
        return dataclasses.replace(self, **changes)

    def map(self, func, *args):
        """``func(block, reading, *args)`` of every block, computed.

        ``func`` runs on the workers of the current dask scheduler; its tasks
        are named by the hash of their inputs (``pure``), so the same pass on
        the same data reuses its keys, and a pass on other data or another
        codebook gets new ones.
        """
        import dask

        task = dask.delayed(func, pure=True)
        reading = self.reading
        return dask.compute(*[task(block, reading, *args) for block in self.blocks])

    def __getitem__(self, rows):
        """The rows read of the index array ``rows``, in work units, as an ndarray."""
        import dask

        rows = np.asarray(rows)
        ends = np.cumsum(self.row_counts)
        which = np.searchsorted(ends, rows, side="right")
        starts = ends - np.asarray(self.row_counts)
        used = np.unique(which)
        task = dask.delayed(_take_rows, pure=True)
        taken = dask.compute(
            *[
                task(self.blocks[b], self.reading, rows[which == b] - starts[b])
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


def _take_rows(block, reading, rows):
    """The rows read ``rows`` (indices among those ``reading`` reads) of ``block``."""
    if reading.missing_values is not None:
        read = [
            s.start + np.flatnonzero(reading.kept(reading.observed(block[s])))
            for s in _row_slices(block.shape[0], block.shape[1])
        ]
        rows = np.concatenate(read)[rows] if read else rows
    return reading.work(block[rows])[0]


class _Moments(NamedTuple):
    """What one pass learns of a block, as stored (not in work units)."""

    n_rows: int  # rows read
    count: np.ndarray  # observed entries of each column, in every row
    total: np.ndarray  # float64 column sums of the observed entries, every row
    finite: bool  # Reading.finite of every row
    low: np.ndarray  # column minima over the rows read (+inf for none)
    high: np.ndarray  # column maxima over the rows read (-inf for none)


def _block_moments(block, reading):
    """:class:`_Moments` of one block: its stored values, a slice at a time.

    The reading's centre and scale are not applied; it tells which entries
    are observed and which rows are read.
    """
    n_features = block.shape[1]
    n_rows = 0
    count = np.zeros(n_features, dtype=np.int64)
    total = np.zeros(n_features)
    low = np.full(n_features, np.inf, dtype=block.dtype)
    high = np.full(n_features, -np.inf, dtype=block.dtype)
    finite = True
    for rows in _row_slices(block.shape[0], n_features):
        x = block[rows]
        finite = finite and reading.finite(x)
        observed = reading.observed(x)
        if observed is None:
            n_rows += x.shape[0]
            count += x.shape[0]
            total += x.sum(axis=0, dtype=np.float64)
            read = {}
        else:
            kept = reading.kept(observed)
            n_rows += int(np.count_nonzero(kept))
            count += np.count_nonzero(observed, axis=0)
            total += x.sum(axis=0, dtype=np.float64, where=observed)
            read = {"where": observed & kept[:, None]}
        np.minimum(low, x.min(axis=0, initial=np.inf, **read), out=low)
        np.maximum(high, x.max(axis=0, initial=-np.inf, **read), out=high)
    return _Moments(n_rows, count, total, finite, low, high)


def _largest_about(moments, center):
    """``max |x - center|`` over the rows read, from the blocks' :class:`_Moments`.

    ``x - center`` rounds monotonically in ``x``, so its largest magnitude
    is taken at a column's minimum or maximum: the result is exact. 0 when
    no row is read.
    """
    low = np.min([m.low for m in moments], axis=0)
    high = np.max([m.high for m in moments], axis=0)
    return float(
        max(np.max(high - center, initial=0.0), np.max(center - low, initial=0.0))
    )


def _block_scatter(block, reading):
    """``(n_i, m_i, R_i)``: rows, mean and R factor of the block about its mean.

    Of the rows read, in work units: ``m_i`` is their float64 column mean,
    ``R_i`` the triangular factor of the QR decomposition of ``x - m_i``,
    accumulated over slices of rows: ``R <- qr([R; slice])``.
    """
    n_i, total = 0, np.zeros(block.shape[1])
    for x, _ in reading.slices(block, block.shape[1]):
        n_i += x.shape[0]
        total += x.sum(axis=0, dtype=np.float64)
    m_i = total / max(n_i, 1)
    shift = m_i.astype(block.dtype)
    R = np.empty((0, block.shape[1]), dtype=block.dtype)
    for x, _ in reading.slices(block, block.shape[1]):
        x -= shift
        R = np.linalg.qr(np.concatenate([R, x]), mode="r")
    return n_i, m_i, R


def _block_sums(block, reading, W, with_error):
    """:func:`_core.unit_sums` of the rows read of a block, and their distances.

    Summed over slices of rows whose distances to the units take
    ``_ROW_BLOCK_ENTRIES`` entries; the sum of distances is 0 unless
    ``with_error``.
    """
    S = np.zeros(W.shape, dtype=W.dtype)
    counts = np.zeros(W.shape if reading.masked else W.shape[0], dtype=W.dtype)
    error = 0.0
    for x, mask in reading.slices(block, max(W.shape)):
        S_rows, counts_rows, units = _core.unit_sums(x, W, mask=mask)
        S += S_rows
        counts += counts_rows
        if with_error:
            sq_dist = _core.unit_sq_distances(x, W, units[:, None], mask=mask)
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
    """``(centred, count, largest)`` of :class:`RowBlocks` of floats, in one pass.

    ``centred`` is ``data`` centred at the column means of the observed
    entries (accumulated in float64, in the dtype of the data; 0 for a
    column without any), its ``row_counts`` and ``shape`` those of the rows
    read (:class:`Reading`); ``count`` is the number of observed entries of
    each column, ``largest`` the largest magnitude of ``x - center`` over the
    observed entries of the rows read (:func:`_largest_about`: exact).
    Raises a ``ValueError`` if the data hold NaN or infinity (other than a
    NaN placeholder).
    """
    reading = data.reading
    moments = data.map(_block_moments)
    if not all(m.finite for m in moments):
        raise ValueError(reading.invalid_message())
    count = sum(m.count for m in moments)
    total = sum(m.total for m in moments)
    center = (total / np.maximum(count, 1)).astype(data.dtype)
    row_counts = tuple(m.n_rows for m in moments)
    centred = data.replace(
        center=center,
        row_counts=row_counts,
        shape=(sum(row_counts), data.shape[1]),
    )
    return centred, count, _largest_about(moments, center)


def scale_down(X, e):
    """``X / 2**e`` (exact), in place for an ndarray.

    :class:`RowBlocks` take the scale with them, applied in each task.
    """
    if isinstance(X, RowBlocks):
        return X.replace(e=X.e + e)
    return np.ldexp(X, -e, out=X)


def largest_magnitude(X):
    """``max |X|`` of an ndarray (0 for an empty one)."""
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
