"""Nadaraya-Watson kernel regression, written as attention pooling.

A query ``q`` attends to the training keys ``x_i`` with weights

    a_i(q) = K(r_i) / sum_j K(r_j),    r_i = ||(q - x_i) / h||,

and returns ``sum_i a_i(q) y_i``. With the Gaussian kernel the weights are
``softmax(-r_i**2 / 2)``, which is how they are computed here: the smallest
``r_i**2`` of the row is subtracted before ``exp``, so no weight underflows to
an all-zero row.

Distances are computed in *work units*: the inputs centred at the mean of the
training points (the keys), divided by the bandwidth and by a power of two
``2**e`` that brings the largest training value to about 1. Centring keeps
``|q|**2 - 2 q.k + |k|**2`` from cancelling when the features carry an offset
(sensor readings near 1e8); the power of two, exact, keeps squares from
overflowing for a tiny bandwidth or huge inputs. The scaled squared distance
is then ``r**2 = 4**e * r_w**2``.
"""

import math
from collections.abc import Callable
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from scipy import optimize, sparse
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import gen_batches
from sklearn.utils.validation import check_is_fitted

from mathlearn.utils._doc_link import DocLinkMixin
from mathlearn.utils._sklearn_compat import (
    Interval,
    StrOptions,
    _check_sample_weight,
    _fit_context,
    validate_data,
)
from mathlearn.utils._threads import effective_n_threads, one_blas_thread
from mathlearn.utils._validation import check_finite_target

_COMPACT_KERNELS = {
    # Profiles of the squared scaled distance r2 = r**2; the constant factors
    # that make them densities cancel in the weights, so all give K(0) = 1.
    "epanechnikov": lambda r2: np.where(r2 <= 1.0, 1.0 - r2, 0.0),
    "tricube": lambda r2: np.where(
        r2 <= 1.0, (1.0 - np.minimum(r2, 1.0) ** 1.5) ** 3, 0.0
    ),
    "uniform": lambda r2: (r2 <= 1.0).astype(np.float64),
}
_KERNELS = {"gaussian", *_COMPACT_KERNELS}
_METRICS = {"euclidean", "manhattan", "chebyshev"}
# Elements of one (chunk, n_train) block of weights: 2 MiB in float64. A
# chunk is the unit of work of the threads (see _chunk_map), so there are
# several of them to share, and the leave-one-out ladder's dozen passes over
# a chunk's weights stay in the core's cache: the search on 1,500 x 5 took
# 15% less time than with 8 MiB chunks, and 1 MiB or 512 KiB no less.
_CHUNK_ELEMENTS = 2**18
# A pass of fewer slices than this (about 2 million distances) runs in the
# calling thread.
_MIN_PARALLEL_SLICES = 8
_MIN_EXPONENT = -700.0
# Queries are clipped to this magnitude in work units, where every training
# point is within 1 of the origin. From 2**53 on, q - k rounds to q for every
# key: all keys are equally far in float64, so the clip changes no weight; it
# only stops the squares from overflowing (inf - inf = NaN).
_QUERY_LIMIT = 2.0**400
# Per-feature search: a factor this large makes a feature irrelevant.
_MAX_FACTOR = 1e3
# The leave-one-out search runs over bandwidth_ = c * (Scott's bandwidth), c on
# this grid (widest first), then refines between the best value's neighbours.
# Consecutive values differ by sqrt(2), one octave of a = (widest / c)**2, so
# the Gaussian coarse scan (_gaussian_ladder, one step per octave) visits this
# grid index for index.
_LOO_GRID = 2.0 ** np.arange(2.0, -6.25, -0.5)
# Points on which the Gaussian kernel's coarse grid is scanned (about).
_PILOT_ROWS = 1000


class _Kernel(NamedTuple):
    """The ``kernel`` option, resolved once: how to weigh scaled distances.

    ``name`` is a built-in kernel, or ``function`` a user's callable of the
    scaled distance (the other is None). The Gaussian weights are a softmax;
    the compact kernels' ``profile`` is a function of the squared scaled
    distance.
    """

    name: str | None = None
    function: Callable | None = None

    @property
    def gaussian(self):
        return self.name == "gaussian"

    @property
    def profile(self):
        return _COMPACT_KERNELS.get(self.name)

    @property
    def compact(self):
        return self.profile is not None

    def weights(self, r2, scaled, coefficient, r=None):
        """Kernel values at the squared distances ``r2`` (left unchanged).

        ``scaled(values, power)`` divides distances (``power=1``) or squared
        distances (``power=2``) by the bandwidth; the Gaussian weights are
        ``exp(coefficient * r2)``, with ``coefficient = -1 / (2 h**2)`` in
        the units of ``r2`` (shifted by the caller so that the nearest key
        has weight 1). ``r``, if given, holds the distances a callable is
        evaluated at (the caller's ``sqrt(r2)``).
        """
        if self.gaussian:
            return _softmax_numerators(r2, coefficient)
        if self.function is not None:
            return _call_kernel(
                self.function, scaled(np.sqrt(r2) if r is None else r, 1)
            )
        return self.profile(scaled(r2, 2))


def _check_kernel(kernel):
    """The :class:`_Kernel` of a known name or a callable, else raise."""
    if callable(kernel):
        return _Kernel(function=kernel)
    if isinstance(kernel, str) and kernel in _KERNELS:
        return _Kernel(name=kernel)
    raise ValueError(
        f"kernel={kernel!r} is not supported; use one of {sorted(_KERNELS)} "
        "or a callable"
    )


def _call_kernel(kernel, r):
    """Evaluate a user kernel on scaled distances and check what it returns."""
    weights = np.asarray(kernel(r), dtype=np.float64)
    if weights.shape != r.shape:
        raise ValueError(
            f"kernel={kernel!r} returned an array of shape {weights.shape} for "
            f"distances of shape {r.shape}; it must return one weight per distance"
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(
            f"kernel={kernel!r} returned negative or non-finite weights; "
            "kernel weights must be finite and >= 0"
        )
    return weights


def _as_real_array(array, name):
    """``array`` as an ndarray of floats (or bools, integers); never complex.

    Object arrays are converted to float64 (``None`` becomes NaN, which the
    callers reject); complex or non-numeric arrays raise a ``TypeError``.
    """
    array = np.asarray(array)
    if array.dtype.kind == "O":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"{name} must hold real numbers; converting its object array "
                f"to float failed: {error}"
            ) from error
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers; got an array of dtype {array.dtype}"
        )
    return array


def _unit_exponent(X_centered, bandwidth):
    """Smallest integer ``e`` with ``|X_centered| / bandwidth < 2**e`` everywhere.

    ``X_centered`` has shape ``(..., n_features)`` and ``bandwidth`` one value
    per feature. The ratio is never formed (it may overflow): its binary
    exponent is the difference of the two ``frexp`` exponents, plus one
    because the ratio of the mantissas is below 2. 0 if ``X_centered`` is 0.
    """
    axes = tuple(range(X_centered.ndim - 1))
    largest = np.max(np.abs(X_centered), axis=axes, initial=0.0)
    _, x_exponents = np.frexp(largest)
    _, h_exponents = np.frexp(bandwidth)
    exponents = (x_exponents - h_exponents + 1)[largest > 0]
    return int(exponents.max()) if exponents.size else 0


def _work_units(X_centered, bandwidth, exponent):
    """``X_centered / (bandwidth * 2**exponent)``, with no intermediate overflow."""
    mantissas, h_exponents = np.frexp(bandwidth)
    with np.errstate(over="ignore"):
        return np.ldexp(X_centered / mantissas, -(h_exponents + exponent))


def _gaussian_coefficient(exponent):
    """``-4**exponent / 2``: Gaussian exponent per squared distance in work units.

    Capped at ``-2**1023``, so that a zero distance gives 0, not NaN, however
    small the bandwidth; the cap only changes exponents of distances below
    ``2**-1023`` work units, whose weights round to 1 either way.
    """
    return -math.ldexp(1.0, min(2 * exponent - 1, 1023))


def _to_scaled(values, exponent):
    """``values * 2**exponent``; ``inf`` where that is not representable."""
    with np.errstate(over="ignore"):
        return np.ldexp(values, exponent)


def _sq_distances(Zq, Zk, metric, Zk_sq_norms=None):
    """Squared scaled distances, shape ``(..., n_queries, n_keys)``.

    Euclidean distances of more than two features use
    ``||q||**2 - 2 q.k + ||k||**2`` (one matrix product), so the inputs must
    be centred (work units, see the module docstring); with one or two
    features the differences are cheaper, and exact.
    """
    if metric == "euclidean" and Zq.shape[-1] > 2:
        if Zk_sq_norms is None:
            Zk_sq_norms = np.einsum("...ij,...ij->...i", Zk, Zk)
        r2 = Zq @ np.swapaxes(Zk, -1, -2)
        r2 *= -2.0
        r2 += np.einsum("...ij,...ij->...i", Zq, Zq)[..., :, None]
        r2 += Zk_sq_norms[..., None, :]
        return np.maximum(r2, 0.0, out=r2)
    if metric == "euclidean":
        r2 = Zq[..., :, None, 0] - Zk[..., None, :, 0]
        np.square(r2, out=r2)
        for j in range(1, Zq.shape[-1]):
            term = Zq[..., :, None, j] - Zk[..., None, :, j]
            r2 += np.square(term, out=term)
        return r2
    diff = np.abs(Zq[..., :, None, 0] - Zk[..., None, :, 0])
    for j in range(1, Zq.shape[-1]):
        term = np.abs(Zq[..., :, None, j] - Zk[..., None, :, j])
        if metric == "manhattan":
            diff += term
        else:
            np.maximum(diff, term, out=diff)
    return np.square(diff, out=diff)


def _softmax_numerators(shifted_r2, coefficient):
    """``exp(coefficient * shifted_r2)`` with the exponent clipped at -700.

    ``coefficient`` is ``-1 / (2 scale**2)`` for a bandwidth ``scale`` in the
    units of ``shifted_r2``. The row's nearest key has weight 1, so a clipped
    weight (below 1e-304) changes no sum in float64, and clipping avoids the
    slow subnormal path of ``exp`` (4x faster when most weights underflow).
    """
    with np.errstate(over="ignore"):  # -inf, clipped just below
        exponent = shifted_r2 * coefficient
    np.maximum(exponent, _MIN_EXPONENT, out=exponent)
    return np.exp(exponent, out=exponent)


def _dense_weights(r2, kernel, exponent, sample_weight=None):
    """Attention weights (rows sum to 1) from squared distances in work units.

    ``kernel`` is a :class:`_Kernel`. The scaled squared distances are
    ``4**exponent * r2``; the kernel value of
    key ``i`` is multiplied by ``sample_weight[i]`` (positive) when given. A
    row whose kernel weights are all zero gets weight 1 on its nearest key.
    """
    nearest = np.argmin(r2, axis=-1)
    shifted = r2
    if kernel.gaussian:
        shifted = r2 - np.take_along_axis(r2, nearest[..., None], axis=-1)
    weights = kernel.weights(
        shifted,
        lambda values, power: _to_scaled(values, power * exponent),
        _gaussian_coefficient(exponent),
    )
    if sample_weight is not None:
        weights *= sample_weight
    total = weights.sum(axis=-1)
    empty = total <= 0.0
    if np.any(empty):
        weights[empty] = 0.0
        weights[np.nonzero(empty) + (nearest[empty],)] = 1.0
        total[empty] = 1.0
    weights /= total[..., None]
    return weights


def _chunk_map(func, n_rows, n_cols, n_jobs):
    """Apply ``func`` to row slices of at most ``_CHUNK_ELEMENTS / n_cols`` rows.

    The slices run in joblib (threads by default, or the backend of an
    enclosing ``joblib.parallel_config``, e.g. ``"dask"``), each with one
    BLAS thread, as scikit-learn's ``KMeans`` runs its chunks: a slice is a
    few small products, and a second BLAS thread that must share a core
    with another program makes every one of them wait for it (the search
    took 3 times as long on a machine with one busy core). ``n_jobs=None``
    runs as many threads as BLAS would have used
    (:func:`~mathlearn.utils._threads.effective_n_threads`). A pass of
    fewer than :data:`_MIN_PARALLEL_SLICES` slices runs in this thread:
    dispatching it cost more than the second thread saved (the per-feature
    search on 1,000 points took 0.54 s on two threads, 0.46 s on one).
    """
    size = max(1, _CHUNK_ELEMENTS // max(n_cols, 1))
    slices = list(gen_batches(n_rows, size))
    if n_jobs is None:
        n_jobs = effective_n_threads(None)
    with one_blas_thread():
        if effective_n_jobs(n_jobs) == 1 or len(slices) < _MIN_PARALLEL_SLICES:
            return [func(rows) for rows in slices]
        return Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(func)(rows) for rows in slices
        )


def _loo_weights(sample_weight, n):
    """Weighted targets' factor and the diagonal kept by a leave-one-out fit.

    Sample weights count repetitions: leaving one sample out removes one unit
    of its weight, so point ``i`` keeps ``max(w_i - 1, 0)`` of its weight in
    its own prediction (none without weights), and its squared error counts
    ``w_i`` times. Integer weights thus give the errors of repeated rows.
    Returns ``(w, kept)``: ``w`` is None without weights, and ``kept`` the
    fraction of each diagonal weight that stays.
    """
    if sample_weight is None:
        return None, np.zeros(n)
    return sample_weight, np.maximum(sample_weight - 1.0, 0.0) / sample_weight


def _loo_sse(Z, Y, scales, kernel, metric, n_jobs, sample_weight=None):
    """Leave-one-out sum of squared errors for each bandwidth ``scales[k] * Z``.

    One pass over row chunks: the distances of a chunk are computed once and
    reused for every scale. Leaving point ``i`` out only scales the diagonal
    weight ``K(0)`` of row ``i`` (to 0 without sample weights, see
    :func:`_loo_weights`) before normalising, so no refit is needed.
    """
    n = Z.shape[0]
    sq_norms = np.einsum("ij,ij->i", Z, Z)
    w, kept = _loo_weights(sample_weight, n)
    WY = Y if w is None else w[:, None] * Y

    def chunk_sse(rows):
        local = np.arange(rows.stop - rows.start)
        diagonal = (local, rows.start + local)
        r2 = _sq_distances(Z[rows], Z, metric, sq_norms)
        r2[diagonal] = 0.0
        r = np.sqrt(r2) if kernel.function is not None else None
        r2[diagonal] = np.where(kept[rows] > 0, 0.0, np.inf)
        nearest = np.argmin(r2, axis=1)
        if kernel.gaussian:
            # softmax(-r2 / 2 c**2) is unchanged by the shift; it keeps the
            # nearest weight at 1 however small c is.
            r2 -= r2[local, nearest][:, None]
        Y_nearest, Y_rows = Y[nearest], Y[rows]
        out = np.empty(len(scales))
        for k, scale in enumerate(scales):
            weights = kernel.weights(
                r2,
                lambda values, power, scale=scale: values / scale**power,
                -0.5 / scale**2,
                r,
            )
            weights[diagonal] *= kept[rows]
            total = weights.sum(axis=1) if w is None else weights @ w
            empty = total <= 0.0
            pooled = (weights @ WY) / np.where(empty, 1.0, total)[:, None]
            pooled[empty] = Y_nearest[empty]
            errors = np.sum((pooled - Y_rows) ** 2, axis=1)
            out[k] = errors.sum() if w is None else errors @ w[rows]
        return out

    return np.sum(_chunk_map(chunk_sse, n, n, n_jobs), axis=0)


def _gaussian_ladder(r2, widest, steps, n_octaves):
    """Gaussian weights at ``steps * n_octaves + 1`` bandwidth factors from one ``exp``.

    ``r2`` holds squared scaled distances (overwritten). With
    ``u = exp(-r2 / (2 widest**2))`` the weights at factor ``widest / sqrt(a)``
    are ``u**a``. Each octave ``a = 2**o ... 2**(o + 1)`` is split into
    ``steps`` (a power of two) equal parts by multiplying by
    ``u**(2**o / steps)``, which is squared from one octave to the next; so
    after one ``exp`` every factor costs one multiplication. Yields
    ``(a, weights)`` in order of increasing ``a`` (decreasing bandwidth); the
    weights array is reused.
    """
    r2 *= -0.5 / (widest**2 * steps)
    np.maximum(r2, _MIN_EXPONENT, out=r2)
    step = np.exp(r2, out=r2)  # u**(1 / steps)
    weights = step if steps == 1 else np.square(step)
    for _ in range(steps.bit_length() - 2):
        np.square(weights, out=weights)  # u
    for octave in range(n_octaves):
        for j in range(steps):
            yield 2.0**octave * (1 + j / steps), weights
            if steps == 1:
                np.square(weights, out=weights)
            else:
                weights *= step
        if steps > 1:
            np.square(step, out=step)
    yield 2.0**n_octaves, weights


def _gaussian_loo_sse(
    Z, Y, widest, steps, n_octaves, metric, n_jobs, queries=None, sample_weight=None
):
    """Leave-one-out SSE of the Gaussian kernel along one :func:`_gaussian_ladder`.

    Returns the factors ``widest / sqrt(a)`` and their sums of squared
    leave-one-out errors over the points ``queries`` (indices; all points by
    default), each predicted from all the others. The diagonal distance is set
    to infinity, so point ``i`` has weight 0 (at most ``1e-304`` after
    clipping the exponent) in its own prediction; the nearest other point
    keeps weight 1 at every factor, so no row's weights vanish. With sample
    weights (see :func:`_loo_weights`) a point of weight ``w_i > 1`` keeps
    distance 0 to itself, so its kernel value stays 1, of which ``1`` is
    subtracted from its weight ``w_i``.
    """
    sq_norms = np.einsum("ij,ij->i", Z, Z)
    if queries is None:
        queries = np.arange(Z.shape[0])
    w = sample_weight
    WY = Y if w is None else w[:, None] * Y

    def chunk_sse(rows):
        index = queries[rows]
        r2 = _sq_distances(Z[index], Z, metric, sq_norms)
        repeated = np.zeros(len(index)) if w is None else (w[index] > 1.0) * 1.0
        r2[np.arange(len(index)), index] = np.where(repeated > 0, 0.0, np.inf)
        r2 -= np.min(r2, axis=1)[:, None]
        Y_rows = Y[index]
        out = []
        for _, weights in _gaussian_ladder(r2, widest, steps, n_octaves):
            if w is None:
                pooled = weights @ Y
                pooled /= weights.sum(axis=1)[:, None]
                pooled -= Y_rows
                out.append(np.einsum("ij,ij->", pooled, pooled))
            else:
                pooled = weights @ WY - repeated[:, None] * Y_rows
                pooled /= (weights @ w - repeated)[:, None]
                pooled -= Y_rows
                out.append(np.einsum("i,ij,ij->", w[index], pooled, pooled))
        return out

    sse = np.sum(_chunk_map(chunk_sse, len(queries), Z.shape[0], n_jobs), axis=0)
    exponents = [a for a, _ in _gaussian_ladder(np.zeros(1), 1.0, steps, n_octaves)]
    return widest / np.sqrt(exponents), sse


def _parabola_vertex(x, y):
    """Abscissa of the vertex of the parabola through three points, or None."""
    (x0, x1, x2), (y0, y1, y2) = x, y
    denominator = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
    if denominator == 0:
        return None
    numerator = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)
    return x1 - 0.5 * numerator / denominator


def _reference_scale(X, factor, sample_weight=None):
    """Per-feature ``factor * std``; a constant feature gets std 1.

    Each feature is divided by a power of two near its largest magnitude
    first (exact), so that its squares cannot overflow. Sample weights count
    repetitions: the variance divides by ``sum(sample_weight) - 1``.
    """
    n = X.shape[0] if sample_weight is None else sample_weight.sum()
    if n > 1:
        _, exponents = np.frexp(np.max(np.abs(X), axis=0))
        X_scaled = np.ldexp(X, -exponents)
        if sample_weight is None:
            std = X_scaled.std(axis=0, ddof=1)
        else:
            X_scaled -= np.average(X_scaled, axis=0, weights=sample_weight)
            std = np.sqrt(sample_weight @ X_scaled**2 / (n - 1))
        std = np.ldexp(std, exponents)
    else:
        std = np.zeros(X.shape[1])
    std = np.where(std > 0, std, 1.0)
    return factor * std


def _rule_of_thumb(X, rule, sample_weight=None):
    n, d = X.shape
    if sample_weight is not None:
        n = sample_weight.sum()
    if rule == "scott":
        factor = n ** (-1.0 / (d + 4))
    else:
        factor = (n * (d + 2) / 4.0) ** (-1.0 / (d + 4))
    return _reference_scale(X, factor, sample_weight)


def nadaraya_watson(queries, keys, values, bandwidth, kernel="gaussian"):
    """Nadaraya-Watson attention pooling of ``values`` by ``queries`` over ``keys``.

    Each query ``q`` gives the weights
    ``a_i = K(||(q - k_i) / h||) / sum_j K(||(q - k_j) / h||)`` to the keys and
    returns ``sum_i a_i v_i``; with the Gaussian kernel
    ``a = softmax(-||q - k||**2 / (2 h**2))``, the attention pooling of the
    "attention as kernel regression" view. Leading (batch) axes broadcast.

    Parameters
    ----------
    queries : array-like of shape (..., n_queries, n_features)
        Points where the regression is evaluated.
    keys : array-like of shape (..., n_keys, n_features)
        Training inputs attended to.
    values : array-like of shape (..., n_keys) or (..., n_keys, n_outputs)
        Training targets pooled by the weights.
    bandwidth : float or array-like of shape (n_features,)
        Kernel width ``h``, one for all features or one per feature; > 0.
    kernel : {"gaussian", "epanechnikov", "tricube", "uniform"} or callable, \
default="gaussian"
        Kernel profile of the scaled distance ``r``: ``exp(-r**2 / 2)``,
        ``1 - r**2``, ``(1 - r**3)**3`` or ``1`` for ``r <= 1`` (0 beyond), or a
        callable mapping an array of ``r`` to non-negative weights of the same
        shape.

    Returns
    -------
    pooled : ndarray of shape (..., n_queries) or (..., n_queries, n_outputs)
        The weighted averages of ``values``, one per query: float32 if every
        input is float32 (or a smaller type), float64 otherwise.

    See Also
    --------
    NadarayaWatsonRegressor : The estimator, with bandwidth selection and
        memory-bounded evaluation.

    Notes
    -----
    A query with no key inside a compact kernel's support (or whose callable
    kernel weights are all zero) takes the value of its nearest key, the limit
    of the estimator as the bandwidth shrinks; so does every query with a
    bandwidth too small for any other key to get a weight (down to the
    smallest positive float), keys at an equal distance sharing it equally.
    The result is never NaN.

    Distances are computed in float64 on the keys and queries centred at the
    mean of the keys and divided by the bandwidth and a power of two, so an
    offset common to all points (values near 1e8) costs no accuracy and no
    square overflows. A query so far away that its distances to all keys are
    equal in float64 (beyond about ``1e15`` times the spread of the keys) gets
    equal weights on all keys.

    Cost is ``O(n_queries * n_keys * n_features)`` time and
    ``O(n_queries * n_keys)`` memory per batch element.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.kernel_regression import nadaraya_watson
    >>> keys = np.array([[0.0], [1.0], [2.0]])
    >>> values = np.array([0.0, 1.0, 4.0])
    >>> nadaraya_watson(np.array([[1.0]]), keys, values, bandwidth=0.5).round(4)
    array([1.213])
    """
    kernel = _check_kernel(kernel)
    queries = _as_real_array(queries, "queries")
    keys = _as_real_array(keys, "keys")
    values = _as_real_array(values, "values")
    dtype = np.result_type(queries, keys, values, np.float32)
    queries, keys, values = (
        array.astype(np.float64, copy=False) for array in (queries, keys, values)
    )
    if queries.ndim < 2 or keys.ndim < 2:
        raise ValueError(
            "queries and keys must have shape (..., n, n_features); got "
            f"queries.shape={queries.shape} and keys.shape={keys.shape}"
        )
    if queries.shape[-1] != keys.shape[-1]:
        raise ValueError(
            f"queries have {queries.shape[-1]} features but keys have {keys.shape[-1]}"
        )
    if keys.shape[-1] == 0:
        raise ValueError(
            "queries and keys must have at least one feature; got "
            f"queries.shape={queries.shape} and keys.shape={keys.shape}"
        )
    vector_values = values.ndim == keys.ndim - 1
    if vector_values:
        values = values[..., None]
    if values.ndim != keys.ndim or values.shape[-2] != keys.shape[-2]:
        raise ValueError(
            f"values.shape={values.shape} does not match keys.shape={keys.shape}; "
            "expected (..., n_keys) or (..., n_keys, n_outputs)"
        )
    if keys.shape[-2] == 0:
        raise ValueError("keys must contain at least one key, got n_keys=0")
    for name, array in (("queries", queries), ("keys", keys), ("values", values)):
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} contains NaN or infinity")
    h = _check_bandwidth_array(bandwidth, keys.shape[-1])
    center = keys.mean(axis=-2, keepdims=True)
    keys = keys - center
    exponent = _unit_exponent(keys, h)
    Zk = _work_units(keys, h, exponent)
    Zq = _work_units(queries - center, h, exponent)
    np.clip(Zq, -_QUERY_LIMIT, _QUERY_LIMIT, out=Zq)
    r2 = _sq_distances(Zq, Zk, "euclidean")
    pooled = (_dense_weights(r2, kernel, exponent) @ values).astype(dtype, copy=False)
    return pooled[..., 0] if vector_values else pooled


def _check_bandwidth_array(bandwidth, n_features):
    """A positive finite bandwidth per feature, from a number or an array."""
    h = _as_real_array(bandwidth, "bandwidth").astype(np.float64)
    if h.ndim == 0:
        h = np.full(n_features, float(h))
    if h.shape != (n_features,):
        raise ValueError(
            f"bandwidth must be a number or an array of shape (n_features,) = "
            f"({n_features},); got shape {h.shape}"
        )
    if not np.all(np.isfinite(h)) or np.any(h <= 0):
        raise ValueError(f"bandwidth={bandwidth!r} must be finite and > 0")
    return h


class NadarayaWatsonRegressor(DocLinkMixin, RegressorMixin, BaseEstimator):
    """Nadaraya-Watson kernel regression: attention pooling over the training set.

    The prediction at ``x`` is the kernel-weighted average of the training
    targets, ``sum_i a_i(x) y_i`` with ``a_i(x) = K(r_i) / sum_j K(r_j)`` and
    ``r_i`` the distance from ``x`` to ``x_i`` after dividing every feature by
    its bandwidth. With the Gaussian kernel the weights are
    ``softmax(-r**2 / 2)``: a query attends to the training keys and pools
    their values. The bandwidth is chosen by leave-one-out cross-validation
    by default.

    Parameters
    ----------
    kernel : {"gaussian", "epanechnikov", "tricube", "uniform"} or callable, \
default="gaussian"
        Kernel profile of the scaled distance ``r``: ``exp(-r**2 / 2)`` or,
        zero beyond ``r = 1``, ``1 - r**2``, ``(1 - r**3)**3`` and ``1``. A
        callable receives an ndarray of scaled distances and returns
        non-negative weights of the same shape; it is evaluated densely like
        the Gaussian kernel.
    bandwidth : {"loo_cv", "loo_cv_per_feature", "scott", "silverman"}, float \
or array-like of shape (n_features,), default="loo_cv"
        Kernel width ``h`` per feature. ``"scott"`` is
        ``std_j * n**(-1 / (d + 4))`` and ``"silverman"`` is
        ``std_j * (n * (d + 2) / 4)**(-1 / (d + 4))`` (a constant feature gets
        ``std_j = 1``). ``"loo_cv"`` multiplies Scott's bandwidths by the
        factor that minimises the leave-one-out mean squared error (see
        Notes); ``"loo_cv_per_feature"`` then minimises it over one factor
        per feature (L-BFGS-B on their logarithms from the scalar optimum,
        finite-difference gradients, about ``100 * n_features`` passes over the
        data at most), which lets irrelevant
        features get wide bandwidths, at a higher cost. A float is used for
        every feature; an array gives one bandwidth per feature (anisotropic
        kernel).
    metric : {"euclidean", "manhattan", "chebyshev"}, default="euclidean"
        Distance between scaled points.
    n_jobs : int, default=None
        Parallel jobs (joblib, threads by default) for the row chunks of the
        leave-one-out search and of prediction; each chunk uses one BLAS
        thread. ``None`` runs as many threads as BLAS may use here: every
        usable core, unless limited by ``threadpoolctl``, the
        ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS`` variables, or a joblib
        or dask worker (which limit their BLAS to share the machine). So,
        unlike joblib's ``n_jobs=None``, the default is parallel, as
        scikit-learn's ``KMeans`` is with its OpenMP threads, and as the
        products were with a multi-threaded BLAS. ``-1`` uses all
        processors, ``1`` no extra thread. Under
        ``joblib.parallel_config(backend="dask")`` the chunks run on the
        workers of a dask cluster.

    Attributes
    ----------
    bandwidth_ : ndarray of shape (n_features,)
        Bandwidth used for each feature.
    cv_mse_ : float
        Leave-one-out mean squared error at ``bandwidth_`` (averaged over
        outputs). Only set when ``bandwidth`` is ``"loo_cv"`` or
        ``"loo_cv_per_feature"``.
    X_fit_ : ndarray of shape (n_samples, n_features)
        Training inputs (the keys).
    y_fit_ : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Training targets (the values).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    nadaraya_watson : The same pooling as a plain function.
    sklearn.neighbors.KNeighborsRegressor : Averages the k nearest targets.
    sklearn.neighbors.RadiusNeighborsRegressor : Averages the targets within
        a radius (the uniform kernel with a fixed bandwidth).

    Notes
    -----
    **Leave-one-out bandwidth.** Dropping point ``i`` from the fit only
    removes the diagonal weight ``K(0)`` from row ``i`` of the training
    attention matrix, so ``y_hat_{-i} = sum_{j != i} K_ij y_j /
    sum_{j != i} K_ij`` for every ``i`` costs one pass over the matrix, not
    ``n`` refits. The factor ``c`` in ``bandwidth_ = c * h_scott`` is searched
    over 17 values from 4 down to 1/64 in ratios of sqrt(2), in one pass that
    computes each row chunk's distances once. For the Gaussian kernel one
    ``exp`` serves every value (each value's weights are the squares of the
    previous ones); this scan runs on about 1,000 evenly spaced points, then
    a ladder four times finer in ``1 / c**2`` (weights are products of
    powers of one ``exp``) on all points narrows it down, and the parabola
    through the best three ladder values gives a last candidate, evaluated
    exactly and kept if better: three passes over the data in all. For the
    other kernels the grid is refined by bounded Brent minimisation of
    ``log c`` between the neighbours of the best grid value. A minimum at the
    ends of the grid is kept there. ``"loo_cv_per_feature"`` starts from that
    factor and runs
    bounded L-BFGS-B over one log-factor per feature (between 1/64 and 1000);
    it is kept only if it lowers the leave-one-out error. Like statsmodels'
    ``KernelReg(bw="cv_ls")``, it can switch off irrelevant features, but it
    costs tens of passes per feature, so use it for ``n`` up to a few
    thousand.

    **Sample weights.** ``fit(X, y, sample_weight=w)`` predicts
    ``sum_i w_i K(r_i) y_i / sum_i w_i K(r_i)``. Weights count repetitions,
    so an integer weight gives the model of the repeated row everywhere: the
    rules of thumb use ``n = sum(w)`` and the weighted variance divided by
    ``sum(w) - 1``, and leaving one sample out removes one unit of its weight
    (point ``i`` keeps ``max(w_i - 1, 0)`` of it in its own prediction) while
    its squared error counts ``w_i`` times; ``cv_mse_`` divides by
    ``sum(w)``. Points of weight 0 are dropped, and get weight 0 in
    :meth:`attention_weights`. Scaling all weights by a constant therefore
    changes the leave-one-out and rule-of-thumb bandwidths (as repeating every
    row would), not the prediction at a given bandwidth.

    **Memory.** The Gaussian and callable kernels are evaluated in row chunks
    of about 2**18 weights, so memory stays bounded for any ``n``; time is
    ``O(n_queries * n_samples * n_features)``. The compact kernels query a
    :class:`~sklearn.neighbors.NearestNeighbors` tree with radius 1 in scaled
    space, so prediction needs ``O(n_queries * neighbours)`` memory and
    :meth:`attention_weights` returns a sparse matrix. The leave-one-out
    search evaluates every kernel densely in chunks.

    **No neighbour.** A query with no training point inside a compact kernel's
    support (or whose callable weights are all zero) predicts the target of
    its nearest training point, the limit of the estimator as the bandwidth
    shrinks; so does every query when the bandwidth is too small for any
    other point to get a weight (down to the smallest positive float),
    points at an equal distance sharing it equally. Predictions are never
    NaN. The Gaussian weights never vanish because the smallest distance of
    each row is subtracted before ``exp``.

    **Precision.** Distances are computed in float64 on the inputs centred
    at the training mean and divided by the bandwidth and by a power of two
    (exact) that brings the largest training value near 1: an offset shared
    by all points (sensor readings near 1e8) costs no accuracy, and no square
    overflows for huge inputs or a tiny bandwidth. A query so far away that
    its distances to all training points are equal in float64 (beyond about
    ``1e15`` times the spread of the training data) gets equal weights.
    Predictions and attention weights have the dtype of the training ``X``
    (float32 or float64).

    References
    ----------
    E. A. Nadaraya, 1964. "On estimating regression." Theory of Probability
    and its Applications 9(1), 141-142.

    G. S. Watson, 1964. "Smooth regression analysis." Sankhya A 26(4),
    359-372.

    A. Zhang, Z. C. Lipton, M. Li and A. J. Smola, 2023. "Dive into Deep
    Learning", section 11.2: Attention pooling by similarity.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.kernel_regression import NadarayaWatsonRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = np.sort(rng.uniform(0, 5, size=(80, 1)), axis=0)
    >>> y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=80)
    >>> reg = NadarayaWatsonRegressor().fit(X, y)
    >>> reg.bandwidth_.round(3)
    array([0.136])
    >>> reg.predict([[1.5]]).round(3)
    array([1.012])
    >>> reg.attention_weights([[1.5]]).sum().round(6)
    np.float64(1.0)
    """

    _parameter_constraints = {
        "kernel": [StrOptions(_KERNELS), callable],
        "bandwidth": [
            StrOptions({"loo_cv", "loo_cv_per_feature", "scott", "silverman"}),
            Interval(Real, 0, None, closed="neither"),
            "array-like",
        ],
        "metric": [StrOptions(_METRICS)],
        "n_jobs": [Integral, None],
    }
    _test_grid = {"kernel": ["gaussian", "tricube"], "bandwidth": ["loo_cv", 1.0]}

    def __init__(
        self, *, kernel="gaussian", bandwidth="loo_cv", metric="euclidean", n_jobs=None
    ):
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.metric = metric
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Store the training set and choose the bandwidth.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Training targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the training points; None gives each
            weight 1. A point's kernel value is multiplied by its weight, and
            weights count repetitions: an integer weight equals repeating the
            row, a zero weight equals dropping it (see Notes).

        Returns
        -------
        self : object
            The fitted regressor.
        """
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            y_numeric=True,
            multi_output=True,
        )
        Y = check_finite_target(y).reshape(len(y), -1).astype(np.float64)
        kernel = _check_kernel(self.kernel)
        if kernel.function is not None:
            _call_kernel(kernel.function, np.array([0.0, 0.5, 1.0, 2.0]))
        support = None
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
            if np.any(sample_weight == 0):
                support = np.flatnonzero(sample_weight)
                sample_weight = sample_weight[support]
                Y = Y[support]
        X_centered = X.astype(np.float64)
        if support is not None:
            X_centered = X_centered[support]
        center = np.average(X_centered, axis=0, weights=sample_weight)
        X_centered -= center
        cv_mse = None
        if isinstance(self.bandwidth, str) and self.bandwidth.startswith("loo_cv"):
            if X_centered.shape[0] < 2:
                raise ValueError(
                    f"bandwidth={self.bandwidth!r} needs at least 2 samples of "
                    f"positive weight, got n_samples={X_centered.shape[0]}"
                )
            # One BLAS thread for the whole search, not per pass: raising
            # OpenBLAS's thread count again after each of the hundreds of
            # passes of the per-feature search woke its threads, which then
            # spun on the second core (as much CPU as the search itself).
            # n_jobs=None is resolved first: inside the limit it would be 1.
            n_jobs = self.n_jobs
            if n_jobs is None:
                n_jobs = effective_n_threads(None)
            with one_blas_thread():
                bandwidth, cv_mse = self._loo_bandwidth(
                    X_centered,
                    Y,
                    kernel,
                    per_feature=self.bandwidth == "loo_cv_per_feature",
                    sample_weight=sample_weight,
                    n_jobs=n_jobs,
                )
        elif isinstance(self.bandwidth, str):
            bandwidth = _rule_of_thumb(X_centered, self.bandwidth, sample_weight)
        else:
            bandwidth = _check_bandwidth_array(self.bandwidth, X.shape[1])

        exponent = _unit_exponent(X_centered, bandwidth)
        Z = _work_units(X_centered, bandwidth, exponent)
        self._center = center
        self._exponent = exponent
        self._Z_fit = Z
        self._Z_sq_norms = np.einsum("ij,ij->i", Z, Z)
        self._Y = Y
        self._sample_weight = sample_weight
        self._support = support
        self._kernel = kernel
        if kernel.compact:
            self._tree = NearestNeighbors(metric=self.metric).fit(Z)
        self.X_fit_ = X
        self.y_fit_ = y
        self.bandwidth_ = bandwidth
        if cv_mse is not None:
            self.cv_mse_ = cv_mse
        return self

    def _loo_bandwidth(self, X_centered, Y, kernel, per_feature, sample_weight, n_jobs):
        """Scott's bandwidth times the leave-one-out-optimal factor(s), and the MSE.

        The search runs on the targets centred and divided by a power of two
        (``2**y_exponent``): the errors are invariant to the shift and scale
        exactly with the power of two, and their squares cannot overflow.
        The MSE divides the (weighted) SSE by the total weight. ``kernel``
        is the :class:`_Kernel` of ``self.kernel``.
        """
        reference = _rule_of_thumb(X_centered, "scott", sample_weight)
        Z = X_centered / reference
        Y = Y - np.average(Y, axis=0, weights=sample_weight)
        y_exponent = int(np.frexp(np.max(np.abs(Y)))[1])
        Y = np.ldexp(Y, -y_exponent)
        total_weight = len(Y) if sample_weight is None else sample_weight.sum()

        def mse(sse):
            with np.errstate(over="ignore"):
                return float(
                    np.ldexp(sse / (total_weight * Y.shape[1]), 2 * y_exponent)
                )

        def sse(scales, Z=Z):
            return _loo_sse(Z, Y, scales, kernel, self.metric, n_jobs, sample_weight)

        if kernel.gaussian:
            factor, best_sse = self._gaussian_loo_factor(Z, Y, sample_weight, n_jobs)
        else:
            grid_sse = sse(_LOO_GRID)
            best = int(np.argmin(grid_sse))
            log_grid = np.log(_LOO_GRID)
            bounds = sorted(
                (
                    log_grid[max(best - 1, 0)],
                    log_grid[min(best + 1, len(_LOO_GRID) - 1)],
                )
            )
            result = optimize.minimize_scalar(
                lambda log_c: sse([np.exp(log_c)])[0],
                bounds=bounds,
                method="bounded",
                options={"xatol": 1e-2},
            )
            if result.fun < grid_sse[best]:
                factor, best_sse = float(np.exp(result.x)), float(result.fun)
            else:
                factor, best_sse = float(_LOO_GRID[best]), float(grid_sse[best])
        if not per_feature or X_centered.shape[1] == 1 or best_sse == 0:
            return factor * reference, mse(best_sse)

        def relative_sse(log_factors):
            Z_scaled = X_centered / (np.exp(log_factors) * reference)
            return sse([1.0], Z_scaled)[0] / best_sse

        d = X_centered.shape[1]
        start = np.full(d, np.log(factor))
        result = optimize.minimize(
            relative_sse,
            start,
            method="L-BFGS-B",
            bounds=[(np.log(_LOO_GRID[-1]), np.log(_MAX_FACTOR))] * d,
            options={"ftol": 1e-8, "maxfun": 100 * d},
        )
        if result.fun < 1.0:
            return np.exp(result.x) * reference, mse(result.fun * best_sse)
        return factor * reference, mse(best_sse)

    def _gaussian_loo_factor(self, Z, Y, sample_weight, n_jobs):
        """Leave-one-out-optimal factor of the Gaussian kernel, and its SSE.

        Three passes, each computing the distances of a row chunk once and
        one ``exp`` (see :func:`_gaussian_ladder`). (1) The coarse grid, on at
        most about ``_PILOT_ROWS`` evenly spaced points (every point for small
        ``n``), brackets the minimum. (2) On every point, a ladder four times
        finer in ``1 / c**2`` over the two octaves (coarse steps) around that
        bracket; it is moved and repeated while its minimum is at an end that
        is not an end of the grid. (3) The exact error at the vertex of the
        parabola through the best ladder value and its neighbours (in
        ``log c``), kept if it is lower.
        """
        n = Z.shape[0]
        pilot = np.arange(0, n, max(1, n // _PILOT_ROWS))
        _, coarse_sse = _gaussian_loo_sse(
            Z,
            Y,
            _LOO_GRID[0],
            1,
            len(_LOO_GRID) - 1,
            self.metric,
            n_jobs,
            pilot,
            sample_weight,
        )
        center = int(np.argmin(coarse_sse))
        last = len(_LOO_GRID) - 1
        for _ in range(len(_LOO_GRID)):
            # One grid step is one octave of a = (widest / c)**2.
            top, bottom = max(center - 1, 0), min(center + 1, last)
            fine, fine_sse = _gaussian_loo_sse(
                Z,
                Y,
                _LOO_GRID[top],
                4,
                bottom - top,
                self.metric,
                n_jobs,
                sample_weight=sample_weight,
            )
            j = int(np.argmin(fine_sse))
            if j == 0 and top > 0:
                center = top
            elif j == len(fine) - 1 and bottom < last:
                center = bottom
            else:
                break
        factor, best_sse = float(fine[j]), float(fine_sse[j])
        if 0 < j < len(fine) - 1:
            log_fine = np.log(fine[j - 1 : j + 2])
            vertex = _parabola_vertex(log_fine, fine_sse[j - 1 : j + 2])
            if vertex is not None and log_fine[2] < vertex < log_fine[0]:
                candidate = float(np.exp(vertex))
                _, (loo,) = _gaussian_loo_sse(
                    Z,
                    Y,
                    candidate,
                    1,
                    0,
                    self.metric,
                    n_jobs,
                    sample_weight=sample_weight,
                )
                if loo < best_sse:
                    factor, best_sse = candidate, float(loo)
        return factor, best_sse

    def _weight_chunks(self, X, pool=None):
        """Validate ``X``; return the attention weights of its row chunks.

        With ``pool``, return ``pool(weights)`` of each chunk instead.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        exponent = self._exponent
        Zq = _work_units(X.astype(np.float64) - self._center, self.bandwidth_, exponent)
        np.clip(Zq, -_QUERY_LIMIT, _QUERY_LIMIT, out=Zq)
        n_train = self._Z_fit.shape[0]
        sample_weight = self._sample_weight
        if hasattr(self, "_tree"):
            profile = self._kernel.profile

            def weights(rows):
                return _compact_weights(
                    self._tree, Zq[rows], profile, n_train, exponent, sample_weight
                )

        else:

            def weights(rows):
                r2 = _sq_distances(Zq[rows], self._Z_fit, self.metric, self._Z_sq_norms)
                return _dense_weights(r2, self._kernel, exponent, sample_weight)

        def chunk(rows):
            return weights(rows) if pool is None else pool(weights(rows))

        return _chunk_map(chunk, X.shape[0], n_train, self.n_jobs)

    def predict(self, X):
        """Predict by attention pooling of the training targets.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query points.

        Returns
        -------
        y_pred : ndarray of shape (n_queries,) or (n_queries, n_outputs)
            Kernel-weighted averages of the training targets.
        """
        parts = self._weight_chunks(X, pool=lambda weights: weights @ self._Y)
        y_pred = np.vstack(parts).astype(self.X_fit_.dtype, copy=False)
        return y_pred.ravel() if self.y_fit_.ndim == 1 else y_pred

    def attention_weights(self, X):
        """Weight of each training point in the prediction at each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query points.

        Returns
        -------
        weights : ndarray or scipy.sparse.csr_array of shape \
(n_queries, n_samples)
            Row ``q`` holds ``a_i(x_q)``; every row sums to 1, and a training
            point of sample weight 0 gets 0. Sparse for the compact kernels,
            dense otherwise; ``predict(X)`` equals ``weights @ y_fit_``.
        """
        parts = self._weight_chunks(X)
        dtype = self.X_fit_.dtype
        support, n_samples = self._support, self.X_fit_.shape[0]
        if hasattr(self, "_tree"):
            weights = sparse.csr_array(sparse.vstack(parts, format="csr", dtype=dtype))
            if support is None:
                return weights
            return sparse.csr_array(
                (weights.data, support[weights.indices], weights.indptr),
                shape=(weights.shape[0], n_samples),
            )
        weights = np.vstack(parts).astype(dtype, copy=False)
        if support is None:
            return weights
        full = np.zeros((weights.shape[0], n_samples), dtype=dtype)
        full[:, support] = weights
        return full

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _compact_weights(tree, Zq, profile, n_train, exponent, sample_weight=None):
    """Sparse attention weights of a compact kernel, with the nearest fallback.

    ``tree`` and ``Zq`` are in work units of ``2**exponent`` bandwidths, so the
    support (a scaled distance of 1) has radius ``2**-exponent`` (``inf`` when
    the bandwidth exceeds the data's spread by more than ``2**1023``). Kernel
    values are multiplied by the keys' ``sample_weight`` (positive) if given.
    """
    radius = float(_to_scaled(1.0, -exponent))
    distances, indices = tree.radius_neighbors(Zq, radius=radius, sort_results=False)
    counts = np.fromiter((len(i) for i in indices), dtype=np.intp, count=len(indices))
    indptr = np.concatenate(([0], np.cumsum(counts)))
    if counts.sum():
        data = profile(_to_scaled(np.concatenate(distances), exponent) ** 2)
        cols = np.concatenate(indices).astype(np.intp)
        if sample_weight is not None:
            data *= sample_weight[cols]
    else:
        data = np.empty(0)
        cols = np.empty(0, dtype=np.intp)
    weights = sparse.csr_array((data, cols, indptr), shape=(len(Zq), n_train))
    totals = np.asarray(weights.sum(axis=1)).ravel()
    empty = np.flatnonzero(totals <= 0.0)
    if empty.size:
        nearest = tree.kneighbors(Zq[empty], n_neighbors=1, return_distance=False)
        fallback = sparse.csr_array(
            (np.ones(empty.size), (empty, nearest[:, 0])), shape=weights.shape
        )
        keep = np.ones(len(Zq))
        keep[empty] = 0.0
        weights = sparse.csr_array(sparse.diags_array(keep) @ weights) + fallback
        totals[empty] = 1.0
    return sparse.csr_array(sparse.diags_array(1.0 / totals) @ weights)
