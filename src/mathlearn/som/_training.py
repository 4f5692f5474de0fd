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

import math
from typing import NamedTuple

import numpy as np
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
    if svd is None and is_dask_array(X):
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
    weights. A dask array ``X`` (and ``mask``) is trained on chunk by chunk
    (:func:`_train_batch_chunked`).
    """
    if is_dask_array(X):
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported with a dask array X")
        return _train_batch_chunked(
            X,
            W,
            grid_sq_dist,
            sigmas,
            kind,
            mask=mask,
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


def _block_sums(X, W, mask, with_error):
    """:func:`_core.unit_sums` of one block, and its sum of distances (or 0)."""
    S, counts, units = _core.unit_sums(X, W, mask=mask)
    error = 0.0
    if with_error:
        sq_dist = _core.unit_sq_distances(X, W, units[:, None], mask=mask)
        error = float(np.sqrt(sq_dist).sum())
    return S, counts, error


def _train_batch_chunked(
    X, W, grid_sq_dist, sigmas, kind, *, mask=None, e=0, report=None, block_map=map
):
    """:func:`train_batch` of a dask array ``X`` (and ``mask``), chunk by chunk.

    Each epoch maps :func:`_core.unit_sums` over the row blocks (on the
    workers of the current dask scheduler) and adds their sums, then applies
    :func:`_core.batch_update` here (through ``block_map``): the epoch of
    :func:`train_batch`, its sums added in another order. The codebook is
    one task of the epoch's graph, which every block's task reads: it is
    sent to each worker once, not once per block. Only the sums come back,
    so the data stream through the workers chunk by chunk.
    """
    import dask

    blocks = X.to_delayed().ravel()
    masks = [None] * len(blocks) if mask is None else mask.to_delayed().ravel()
    block_sums = dask.delayed(_block_sums, pure=True)
    for epoch, sigma_t in enumerate(sigmas):
        codebook = dask.delayed(W, pure=True)
        parts = dask.compute(
            *[
                block_sums(block, codebook, block_mask, report is not None)
                for block, block_mask in zip(blocks, masks, strict=True)
            ]
        )
        S, counts, error = (sum(part) for part in zip(*parts, strict=True))
        if report is not None:
            report(epoch, sigma_t, float(_core.to_data_units(error / X.shape[0], e)))
        W = _core.batch_update(
            W, grid_sq_dist, sigma_t, kind, S, counts, block_map=block_map
        )
    return W


def is_dask_array(X):
    """Whether ``X`` is a dask array (without importing dask)."""
    return type(X).__module__.startswith("dask.") and hasattr(X, "to_delayed")


def center_chunked(X):
    """``(center, largest)`` of a dask array of floats, in two passes.

    ``center`` is the column mean (accumulated in float64) in the dtype of
    ``X``, ``largest`` the largest magnitude of ``X - center``. Raises a
    ``ValueError`` if ``X`` holds NaN or infinity.
    """
    import dask
    import dask.array as da

    mean, finite = dask.compute(X.mean(axis=0, dtype=np.float64), da.isfinite(X).all())
    if not finite:
        raise ValueError("Input X contains NaN or infinity.")
    center = mean.astype(X.dtype)
    return center, largest_magnitude(X - center)


def scale_down(X, e):
    """``X / 2**e`` (exact): in place for an ndarray, lazily for a dask array."""
    if is_dask_array(X):
        return X.map_blocks(np.ldexp, -e, dtype=X.dtype)
    return np.ldexp(X, -e, out=X)


def largest_magnitude(X):
    """``max |X|`` (0 for an empty array), of an ndarray or a dask array."""
    if is_dask_array(X):
        return float(abs(X).max().compute()) if X.size else 0.0
    return float(np.max(np.abs(X), initial=0.0))


def centred_svd(X, sample_weight=None):
    """:func:`_core.centred_svd`; of a dask array, by a tall-and-skinny QR.

    The dask array's result equals the in-memory one to round-off: the same
    singular values, and vectors with the same signs (``svd_flip``).
    """
    if not is_dask_array(X):
        return _core.centred_svd(X, sample_weight)
    import dask
    import dask.array as da

    mean = X.mean(axis=0)
    _, s, Vt = da.linalg.svd((X - mean).rechunk({1: -1}))
    mean, s, Vt = dask.compute(mean, s, Vt)
    _, Vt = svd_flip(None, Vt, u_based_decision=False)
    return mean.astype(X.dtype, copy=False), s, Vt


def mean_distance(X, W, units, e, *, mask=None):
    """Mean (masked) distance from the rows of ``X`` to their ``units``.

    ``X`` and ``W`` are in work units of ``2**e``, ``units`` has one unit per
    row; the result is in data units.
    """
    sq_dist = _core.unit_sq_distances(X, W, units[:, None], mask=mask)
    return float(_core.to_data_units(float(np.sqrt(sq_dist).mean()), e))
