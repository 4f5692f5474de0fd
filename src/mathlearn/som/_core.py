"""Self-organizing map kernels, shared by SelfOrganizingMap and SOMImputer.

Everything here works on a flat codebook ``W`` of shape ``(n_units, n_features)``
where unit ``u`` sits at row ``u // n_cols`` and column ``u % n_cols`` of the
grid. Helpers trust their inputs: the estimators validate them.

A missing-value ``mask`` (``True`` where a value is observed) turns every
squared distance into the masked one, ``sum_j m_j (x_j - w_j) ** 2``, written
as three matrix products so that all rows and all units are done at once::

    D = (m * x) ** 2 @ 1  -  2 (m * x) @ W.T  +  m @ (W ** 2).T

That expansion loses every digit when the data carry an offset (``x`` and
``w`` near 1e8, or near 1000 in float32): the three terms are huge and their
difference small. So the estimators hand these kernels *work units*: data and
codebook centred by the same vector, a statistic of the training data (the
codebook lives in data space, so distances are unchanged), and divided by a
common power of two (:func:`unit_exponent`) so that the largest magnitude is
about 1 and no square overflows or underflows. Dividing by a power of two is
exact, so distances in original units are ``2**e`` times the work-unit ones.
"""

import numpy as np
from scipy import sparse
from scipy.spatial.distance import cdist
from sklearn.utils import gen_batches
from sklearn.utils.extmath import svd_flip

# Height of a row of hexagons whose centres are one unit apart.
_HEX_ROW_HEIGHT = np.sqrt(3.0) / 2.0
# Entries of one distance block, rows x units (2 MB in float64). Blocks are
# the unit of work of the threads (each block's product runs on one BLAS
# thread, see mathlearn.utils._threads.block_threads), so there are many of
# them, and a block stays in the core's cache between the product and the
# argmin that reads it: a 30 x 30 map of 10,000 x 50 trained in 15-35% less
# CPU time than with 16 MB blocks, and 2 MB to 0.5 MB were within the noise.
_BLOCK_ENTRIES = 2**18
# Every Gaussian radius below this one gives the same neighbourhood in
# float64, winner-take-all: any other unit, at grid distance >= 1, weighs
# exp(-5e299) = 0. Flooring the radius here keeps sigma**2 from underflowing
# to 0 (below 1.5e-162), where 0 / 0 made the winner's own weight NaN.
_MIN_GAUSSIAN_RADIUS = 1e-150


def unit_exponent(*arrays):
    """Smallest ``e`` with every ``|value|`` of the arrays below ``2**e``.

    Dividing the arrays by ``2**e`` (``np.ldexp(a, -e)``, exact) brings their
    largest magnitude into ``[0.5, 1)``. All-zero or empty arrays give 0.
    """
    largest = max((float(np.max(np.abs(a), initial=0.0)) for a in arrays), default=0)
    return int(np.frexp(largest)[1])


def work_units(X, W, center):
    """``(X_w, W_w, e)``: ``(X - center) / 2**e`` and ``(W - center) / 2**e``.

    ``e`` is :func:`unit_exponent` of both centred arrays, so that all their
    entries are below 1 in magnitude; new arrays are returned.
    """
    X_w = X - center
    W_w = W - center
    e = unit_exponent(X_w, W_w)
    return np.ldexp(X_w, -e, out=X_w), np.ldexp(W_w, -e, out=W_w), e


def to_data_units(values, e):
    """``values * 2**e`` (exact); ``inf`` only where the result is not representable."""
    with np.errstate(over="ignore"):
        return np.ldexp(values, e)


def grid_coordinates(n_rows, n_cols, topology):
    """Position of every unit in the plane, shape ``(n_units, 2)``.

    Column 0 is the vertical position (row), column 1 the horizontal one.
    Rows and columns are one apart; on a hexagonal grid odd rows are shifted
    right by half a unit and rows are ``sqrt(3) / 2`` apart, so that each
    unit's 6 neighbours are exactly one away.
    """
    rows, cols = np.divmod(np.arange(n_rows * n_cols), n_cols)
    coords = np.column_stack([rows, cols]).astype(np.float64)
    if topology == "hexagonal":
        coords[:, 1] += 0.5 * (rows % 2)
        coords[:, 0] *= _HEX_ROW_HEIGHT
    return coords


def grid_sq_distances(coords):
    """Squared distances between the units on the grid, ``(n_units, n_units)``."""
    return cdist(coords, coords, "sqeuclidean")


def adjacency(grid_sq_dist, topology):
    """Boolean matrix of immediate neighbours: units whose cells touch.

    Square cells touch their 8 surrounding cells (grid distance 1 or
    ``sqrt(2)``); hexagonal cells their 6 neighbours (grid distance 1).
    """
    largest = 2.0 if topology == "rectangular" else 1.0
    return (grid_sq_dist > 0.5) & (grid_sq_dist < largest + 1e-9)


def _gaussian_coefficient(sigma):
    """``-1 / (2 sigma**2)``: Gaussian exponent per squared grid distance.

    ``sigma`` (a float or an array of radii) is floored at
    ``_MIN_GAUSSIAN_RADIUS``, which changes no neighbourhood.
    """
    return -0.5 / np.maximum(sigma, _MIN_GAUSSIAN_RADIUS) ** 2


def neighborhood(grid_sq_dist, sigma, kind, dtype):
    """Neighbourhood matrix ``H[u, v] = h(|r_u - r_v|)`` for radius ``sigma``.

    ``gaussian``: ``exp(-d**2 / (2 sigma**2))``; ``bubble``: ``1`` if
    ``d <= sigma`` else ``0``. ``grid_sq_dist`` holds the ``d**2``, of any
    shape. A tiny radius is winner-take-all (``h = 1`` at ``d = 0``, ``0``
    elsewhere), however small: see ``_MIN_GAUSSIAN_RADIUS``.
    """
    if kind == "gaussian":
        exponent = grid_sq_dist * _gaussian_coefficient(sigma)
        return np.exp(exponent, out=exponent).astype(dtype, copy=False)
    return (grid_sq_dist <= sigma**2 * (1 + 1e-9)).astype(dtype)


# Default final radius: Gaussian neighbourhoods end at 0.8 (see the Notes of
# SelfOrganizingMap), bubbles at 1, the smallest radius with neighbours.
_DEFAULT_SIGMA_END = {"gaussian": 0.8, "bubble": 1.0}


def resolve_radii(sigma, sigma_end, n_rows, n_cols, default_end):
    """Initial and final radius, as floats, from the parameters.

    ``sigma=None`` is ``max(n_rows, n_cols) / 2``; ``sigma_end=None`` is
    ``min(sigma, default_end)``. An explicit ``sigma_end`` above ``sigma`` is
    an error.
    """
    start = max(n_rows, n_cols) / 2 if sigma is None else float(sigma)
    if sigma_end is None:
        return start, min(start, float(default_end))
    if sigma_end > start:
        raise ValueError(
            f"sigma_end={sigma_end!r} must be <= the initial radius sigma="
            f"{start!r}: the neighbourhood shrinks during training"
        )
    return start, float(sigma_end)


def centred_svd(X, sample_weight=None):
    """``(mean, s, Vt)``: column means and thin SVD of ``X - mean``.

    Both :func:`grid_shape` and :func:`pca_init` need it; a caller that uses
    both computes it once and passes it to each as ``svd``. With
    ``sample_weight`` (counts of repetitions), the weighted mean and the SVD
    of ``sqrt(w) * (X - mean)``, which has the singular values and vectors
    of the repeated rows. Each right singular vector's largest entry is made
    positive (``svd_flip``), so the result does not depend on how LAPACK
    picks signs for the matrix at hand.
    """
    mean = np.average(X, axis=0, weights=sample_weight)
    X_c = X - mean
    if sample_weight is not None:
        X_c *= np.sqrt(sample_weight)[:, None].astype(X.dtype, copy=False)
    U, s, Vt = np.linalg.svd(X_c, full_matrices=False)
    _, Vt = svd_flip(U, Vt, u_based_decision=False)
    return mean.astype(X.dtype, copy=False), s, Vt


def grid_shape(X, n_units, *, svd=None):
    """Rows and columns of a grid of about ``n_units`` units shaped like ``X``.

    The SOM Toolbox rule (Vesanto et al., 2000): the sides are in the ratio
    ``s1 / s2`` of the two largest singular values of the centred data, the
    longer side (rows) following the first principal component. Data with a
    single feature gets a single column. ``svd`` is :func:`centred_svd` of
    ``X`` if already computed; without it, only singular values are computed.
    """
    if svd is None:
        s = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    else:
        s = svd[1]
    if s.size < 2 or s[1] <= s[0] * 1e-12:
        return n_units, 1
    n_cols = max(1, round(np.sqrt(n_units * s[1] / s[0])))
    return max(1, round(n_units / n_cols)), n_cols


def radius_schedule(start, end, n_steps, steps=None):
    """``start / (1 + t (start / end - 1) / (n_steps - 1))`` at ``t`` in ``steps``.

    Inverse-time decay from ``start`` to ``end`` over ``t = 0..n_steps-1``
    (``steps``, integers, defaults to all of them): the radius halves early
    and then lingers near ``end``, where the batch map needs a few epochs to
    settle. A single step uses ``end``, and so does every ``t`` past the
    last. Computed as the equal ``1 / ((1 - u) / start + u / end)``,
    ``u = t / (n_steps - 1)``: never NaN, where ``start / end`` may overflow
    (it is ``0`` only when ``end`` is subnormal, a radius that
    :func:`neighborhood` treats as any tiny one).
    """
    steps = np.arange(n_steps) if steps is None else np.asarray(steps)
    if n_steps == 1:
        return np.full(steps.shape, end, dtype=np.float64)
    u = np.minimum(steps / (n_steps - 1), 1.0)
    return 1.0 / ((1.0 - u) / start + u / end)


def _blocks(n, n_units):
    """Row slices of ``n`` rows, each with about ``_BLOCK_ENTRIES`` distances."""
    return gen_batches(n, max(1, _BLOCK_ENTRIES // max(n_units, 1)))


class _CrossTerms:
    """``|w|^2 - 2 x.w`` (masked: ``m @ (W**2).T - 2 x.w``) as ONE product.

    The codebook side ``[-2 W, |w|^2]`` (masked: ``[-2 W, W**2]``) is built
    once; each block of rows is copied next to a column of ones (masked: next
    to its mask), so that a single matrix product gives the whole block with
    no further pass over it: for a few features the element-wise passes
    would cost as much as the product itself. Blocks may be computed by
    several threads at once: each call has its own copy.
    """

    def __init__(self, W, dtype, masked):
        n_units, n_features = W.shape
        width = 2 * n_features if masked else n_features + 1
        self.right = np.empty((width, n_units), dtype=dtype)
        np.multiply(W.T, -2.0, out=self.right[:n_features], dtype=dtype)
        if masked:
            np.square(W.T, out=self.right[n_features:], dtype=dtype)
        else:
            self.right[n_features] = np.einsum("ij,ij->i", W, W, dtype=dtype)
        self.n_features = n_features

    def __call__(self, X_block, mask_block):
        p = self.n_features
        left = np.empty((X_block.shape[0], self.right.shape[0]), self.right.dtype)
        left[:, :p] = X_block
        if mask_block is None:
            left[:, p] = 1.0
        else:
            left[:, p:] = mask_block
        return left @ self.right


def best_units(X, W, *, n_best=1, mask=None, block_map=map):
    """Indices of the ``n_best`` closest units, closest first.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data in work units (see the module docstring); with ``mask``, entries
        where the mask is ``False`` must be 0.
    W : ndarray of shape (n_units, n_features)
        Codebook, in the same work units.
    n_best : int
        How many units per row, closest first.
    mask : ndarray of shape (n_samples, n_features) or None
        Observed entries, in the dtype of ``X`` (1.0 observed, 0.0 missing).
    block_map : callable
        ``map``-like: applies a function to the row blocks, in order; the
        built-in ``map``, or a thread pool's (see
        :func:`mathlearn.utils._threads.block_threads`). The result does not
        depend on it.

    Returns
    -------
    units : ndarray of shape (n_samples, n_best), int64
        The expansion ranks the units; :func:`unit_sq_distances` gives their
        distances.
    """
    n_samples = X.shape[0]
    n_best = min(n_best, W.shape[0])
    cross_terms = _CrossTerms(W, X.dtype, mask is not None)

    def block_best(rows):
        D = cross_terms(X[rows], None if mask is None else mask[rows])
        if n_best == 1:
            return np.argmin(D, axis=1)[:, None]
        part = np.argpartition(D, n_best - 1, axis=1)[:, :n_best]
        order = np.argsort(np.take_along_axis(D, part, axis=1), axis=1)
        return np.take_along_axis(part, order, axis=1)

    units = list(block_map(block_best, _blocks(n_samples, W.shape[0])))
    if not units:
        return np.empty((0, n_best), dtype=np.int64)
    return np.concatenate(units).astype(np.int64, copy=False)


def unit_sq_distances(X, W, units, *, mask=None):
    """Squared (masked) distances from each row of ``X`` to its ``units``.

    ``units`` has shape ``(n_samples, k)`` (from :func:`best_units`); so has
    the result. Summed from the differences, they keep the dtype's relative
    precision however close a unit is, where the expansion's error is
    absolute, about ``eps * |x|**2``.
    """
    sq_dist = np.empty(units.shape, dtype=X.dtype)
    for k in range(units.shape[1]):
        diff = X - W[units[:, k]]
        if mask is not None:
            diff *= mask
        sq_dist[:, k] = np.einsum("ij,ij->i", diff, diff)
    return sq_dist


def all_distances(X, W, *, block_map=map):
    """Euclidean distances from every row of ``X`` to every unit (work units).

    Computed in float64 (float32 blocks are converted), as scikit-learn's
    ``euclidean_distances`` does: the expansion's absolute error, about
    ``eps * |x|**2``, would otherwise cost float32 distances near a unit most
    of their digits. Returned in the dtype of ``X``. Row blocks go through
    ``block_map`` (see :func:`best_units`).
    """
    x_sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    out = np.empty((X.shape[0], W.shape[0]), dtype=X.dtype)
    cross_terms = _CrossTerms(W, np.float64, False)

    def block_distances(rows):
        D = cross_terms(X[rows], None)
        D += x_sq[rows, None]
        np.maximum(D, 0, out=D)
        np.sqrt(D, out=out[rows])

    list(block_map(block_distances, _blocks(X.shape[0], W.shape[0])))
    return out


def pca_init(X, n_rows, n_cols, coords, *, svd=None, sample_weight=None):
    """Codebook spread over the plane of the first two principal components.

    Unit ``u`` gets ``mean + a_u sqrt(l1) v1 + b_u sqrt(l2) v2``, where
    ``(a_u, b_u)`` are its grid coordinates scaled to ``[-1, 1]``, the longer
    side of the grid following the first component. Deterministic. ``svd``
    is :func:`centred_svd` of ``X`` (with the same ``sample_weight``, counts
    of repetitions) if already computed.
    """
    mean, s, Vt = centred_svd(X, sample_weight) if svd is None else svd
    n = X.shape[0] if sample_weight is None else sample_weight.sum()
    scale = s / np.sqrt(max(n - 1, 1))
    components = Vt * scale[:, None]
    span = coords.max(axis=0) - coords.min(axis=0)
    span[span == 0] = 1.0
    unit = 2.0 * (coords - coords.min(axis=0)) / span - 1.0
    if n_cols > n_rows:
        unit = unit[:, ::-1]
    W = np.tile(mean, (coords.shape[0], 1))
    for k in range(min(2, components.shape[0])):
        W += unit[:, [k]] * components[k]
    return W.astype(X.dtype, copy=False)


def random_init(X, n_units, rng, sample_weight=None):
    """Codebook made of rows of ``X`` drawn at random.

    With ``sample_weight``, rows are drawn with probability proportional to
    their weight (never a row of weight 0).
    """
    if sample_weight is None:
        idx = rng.choice(X.shape[0], size=n_units, replace=X.shape[0] < n_units)
    else:
        n_positive = np.count_nonzero(sample_weight)
        idx = rng.choice(
            X.shape[0],
            size=n_units,
            replace=n_positive < n_units,
            p=sample_weight / sample_weight.sum(),
        )
    return X[idx].copy()


def unit_sums(X, W, *, mask=None, sample_weight=None, block_map=map):
    """Best units of the rows of ``X``, and the sums a batch epoch needs.

    Returns ``(S, counts, units)``: ``S[v]`` is the sum of the rows whose
    best unit under ``W`` is ``v`` (weighted by ``sample_weight``), computed
    as the sparse one-hot product ``one_hot @ X``; ``counts[v]`` their
    number (total weight), or with a mask ``one_hot @ mask``, the count per
    feature of their observed entries. Sums over row blocks add up to the
    sums of all rows: :func:`batch_epoch` on data held in chunks is the sum
    of each chunk's sums, then :func:`batch_update`. The best units are
    found block by block through ``block_map`` (see :func:`best_units`).
    """
    n_samples, n_units = X.shape[0], W.shape[0]
    units = best_units(X, W, mask=mask, block_map=block_map)[:, 0]
    if sample_weight is None:
        hits = np.ones(n_samples, dtype=X.dtype)
    else:
        hits = sample_weight.astype(X.dtype, copy=False)
    one_hot = sparse.csr_matrix(
        (hits, (units, np.arange(n_samples))), shape=(n_units, n_samples)
    )
    S = np.asarray(one_hot @ X)
    if mask is None:
        counts = np.bincount(units, weights=hits, minlength=n_units).astype(X.dtype)
    else:
        counts = np.asarray(one_hot @ mask)
    return S, counts, units


def neighborhood_update(W, H, S, counts):
    """``w_v = (H @ S)[v] / (H @ counts)[v]``; a unit with no weight keeps ``w_v``.

    ``S`` and ``counts`` are from :func:`unit_sums` (``counts`` of shape
    ``(n_units,)``, or per feature with a mask). Rows are independent:
    ``W`` and ``H`` may hold any subset of the units (the same in both).
    """
    numerator = H @ S
    denominator = H @ counts
    if denominator.ndim == 1:
        denominator = denominator[:, None]
    has_weight = denominator > 0
    safe = np.where(has_weight, denominator, 1.0)
    return np.where(has_weight, numerator / safe, W).astype(W.dtype, copy=False)


def batch_update(W, grid_sq_dist, sigma, kind, S, counts, *, block_map=map):
    """:func:`neighborhood_update` with ``H`` the :func:`neighborhood` at ``sigma``.

    Done by blocks of units through ``block_map`` (see :func:`best_units`):
    each block computes its rows of ``H`` and of the new codebook, so the
    ``(n_units, n_units)`` matrix ``H`` is never held whole.
    """
    new_W = np.empty_like(W)

    def update_block(units):
        H = neighborhood(grid_sq_dist[units], sigma, kind, W.dtype)
        new_W[units] = neighborhood_update(W[units], H, S, counts)

    list(block_map(update_block, _blocks(W.shape[0], W.shape[0])))
    return new_W


def batch_epoch(
    X, W, grid_sq_dist, sigma, kind, *, mask=None, sample_weight=None, block_map=map
):
    """One epoch of Kohonen's batch map; returns ``(new_W, units)``.

    Each unit becomes the neighbourhood-weighted mean of the data,
    ``w_v = sum_i s_i H[v, c_i] x_i / sum_i s_i H[v, c_i]`` with ``c_i`` the
    best unit of row ``i`` under the current codebook, ``s_i`` its sample
    weight (1 by default) and ``H`` the :func:`neighborhood` of kind
    ``kind`` at radius ``sigma`` on the grid's squared distances, computed
    as ``H @ (one_hot.T @ X)`` over ``H @ counts`` with the weights in the
    one-hot matrix (:func:`unit_sums`, then :func:`batch_update`). With a
    mask, sums and counts are taken per feature over the observed entries
    only. A unit (or, with a mask, a unit's feature) that receives no weight
    keeps its value. Blocks of rows and of units go through ``block_map``
    (see :func:`best_units`); the result does not depend on it.
    """
    S, counts, units = unit_sums(
        X, W, mask=mask, sample_weight=sample_weight, block_map=block_map
    )
    new_W = batch_update(W, grid_sq_dist, sigma, kind, S, counts, block_map=block_map)
    return new_W, units


def online_epoch(X, W, grid_sq_dist, order, sigmas, rates, kind, *, mask=None):
    """Kohonen's original rule, one sample at a time, in place on ``W``.

    For sample ``x`` presented at step ``t`` with best unit ``c``:
    ``w_v <- w_v + rates[t] * h_sigmas[t](|r_v - r_c|) * (x - w_v)``, the
    neighbourhood row ``h`` being :func:`neighborhood`'s. With a ``mask``
    (1.0 where observed), the best unit is the closest on the sample's
    observed features and only those move: ``x - w_v`` is multiplied by the
    mask.
    """
    for t, i in enumerate(order):
        diff = X[i] - W
        if mask is not None:
            diff *= mask[i]
        c = np.argmin(np.einsum("ij,ij->i", diff, diff))
        h = neighborhood(grid_sq_dist[c], sigmas[t], kind, np.float64)
        W += (rates[t] * h)[:, None].astype(X.dtype, copy=False) * diff
    return W
