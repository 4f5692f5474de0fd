"""Entropy, mutual information and divergences of discrete and continuous data.

Every measure accepts a probability table (``kind="table"``), paired discrete
samples of hashable labels (``kind="discrete"``) or real-valued samples
(``kind="continuous"``, k-nearest-neighbour estimators). Tables are checked,
not silently renormalised: see :func:`_check_table` for the tolerance.
"""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln, rel_entr, xlogy
from sklearn.neighbors import KDTree

from mathlearn.utils._sklearn_compat import (
    Interval,
    StrOptions,
    validate_params,
)

# A table whose entries sum to 1 within this relative tolerance is rescaled
# to sum exactly to 1; beyond it, it is rejected.
SUM_TOLERANCE = 1e-6

_BASE = [Interval(Real, 0, None, closed="neither"), None]
_KIND = [StrOptions({"table", "discrete", "continuous"}), None]
_K = [Interval(Integral, 1, None, closed="left")]
_AXIS = [Interval(Integral, None, None, closed="neither"), tuple]


def _log_base(base):
    if base is None:
        return 1.0
    if base == 1:
        raise ValueError(f"base={base!r} must be a positive number other than 1")
    return float(np.log(base))


def _real_array(x, name):
    """``x`` as a float64 array; complex or non-numeric input is a TypeError."""
    values = np.asarray(x)
    if np.iscomplexobj(values):
        raise TypeError(
            f"{name} has complex dtype {values.dtype}; the measures take real "
            "numbers (pass the real part, the modulus or both as features)"
        )
    try:
        return values.astype(np.float64, copy=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must hold real numbers; got dtype {values.dtype} ({exc})"
        ) from None


def _check_table(p, name="p"):
    """A float64 probability table: finite, >= 0, summing to 1 (see SUM_TOLERANCE)."""
    table = _real_array(p, name)
    if table.size == 0:
        raise ValueError(f"{name} is empty; a probability table needs one cell")
    if not np.all(np.isfinite(table)):
        raise ValueError(f"{name} contains NaN or infinity")
    if np.any(table < 0):
        raise ValueError(
            f"{name} has negative entries (min {table.min()!r}); "
            "probabilities must be >= 0"
        )
    total = table.sum()
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise ValueError(
            f"{name} sums to {total!r}, not 1 (tolerance {SUM_TOLERANCE}); "
            f"pass {name} / {name}.sum() to use counts or weights"
        )
    return table / total


def _split_axes(table, axis):
    """Normalise ``axis`` (the axes of X) and return it and the axes of Y."""
    if table.ndim < 2:
        raise ValueError(
            f"the table has {table.ndim} axis; a joint table of X and Y needs "
            "at least 2 axes"
        )
    axes = (axis,) if isinstance(axis, Integral) else tuple(axis)
    try:
        x_axes = tuple(sorted({int(a) % table.ndim for a in axes}))
    except TypeError as exc:
        raise TypeError(f"axis={axis!r} must be an int or a tuple of ints") from exc
    for a in axes:
        if not -table.ndim <= a < table.ndim:
            raise ValueError(
                f"axis={axis!r} is out of range for a {table.ndim}-D table"
            )
    y_axes = tuple(a for a in range(table.ndim) if a not in x_axes)
    if not x_axes or not y_axes:
        raise ValueError(f"axis={axis!r} must leave at least one axis for Y")
    return x_axes, y_axes


def _codes(labels, name):
    """Integer codes of a 1-D sample of hashable labels (pandas Series too)."""
    if isinstance(labels, pd.Series | pd.Index):
        values = labels.to_numpy()
    else:
        values = np.asarray(labels)
    if values.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D sample of labels; got shape {values.shape}"
        )
    if len(values) == 0:
        raise ValueError(f"{name} is empty; at least one sample is needed")
    codes, uniques = pd.factorize(values)
    if np.any(codes < 0):
        raise ValueError(f"{name} contains missing values (NaN or None)")
    return codes, len(uniques)


def _cells(table):
    """The non-empty cells of a 2-D joint table: ``p(x, y)``, ``p(x)``, ``p(y)``.

    Every discrete measure is a sum over these cells only, so a table given
    as counts of pairs never needs its empty cells.
    """
    rows, cols = np.nonzero(table)
    return table[rows, cols], table.sum(axis=1)[rows], table.sum(axis=0)[cols]


def _table_cells(x, axis):
    """The cells of a probability table whose axes ``axis`` are X."""
    table = _check_table(x, "x")
    x_axes, _ = _split_axes(table, axis)
    moved = np.moveaxis(table, x_axes, range(len(x_axes)))
    n_x = int(np.prod(moved.shape[: len(x_axes)]))
    return _cells(moved.reshape(n_x, -1))


def _sample_cells(x, y):
    """The cells of the joint table of two paired label samples.

    Only the distinct pairs are counted (hashed), so 40,000 labels on each
    side cost memory in the number of samples, not ``40,000**2`` cells, as in
    :func:`sklearn.metrics.mutual_info_score`. A table no larger than the
    sample is counted densely, which is faster.
    """
    cx, n_x = _codes(x, "x")
    cy, n_y = _codes(y, "y")
    if len(cx) != len(cy):
        raise ValueError(
            f"x and y must be paired samples of the same length; got {len(cx)} "
            f"and {len(cy)}"
        )
    n = len(cx)
    pairs = cx.astype(np.int64, copy=False) * n_y + cy
    if n_x * n_y <= n:
        counts = np.bincount(pairs, minlength=n_x * n_y)
        cells = np.flatnonzero(counts)
        counts = counts[cells]
    else:
        codes, cells = pd.factorize(pairs)
        counts = np.bincount(codes)
    rows, cols = np.divmod(cells, n_y)
    p = counts / n
    p_x = np.bincount(rows, weights=p, minlength=n_x)
    p_y = np.bincount(cols, weights=p, minlength=n_y)
    return p, p_x[rows], p_y[cols]


def _marginal(x):
    codes, n_labels = _codes(x, "x")
    return np.bincount(codes, minlength=n_labels) / len(codes)


def _continuous(x, name, n_neighbors):
    """A 2-D float sample ``(n_samples, n_features)`` for the k-NN estimators."""
    values = _real_array(x, name)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(
            f"{name} must have shape (n_samples,) or (n_samples, n_features); "
            f"got {values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinity")
    if values.shape[0] <= n_neighbors:
        raise ValueError(
            f"n_neighbors={n_neighbors} must be < n_samples={values.shape[0]} of {name}"
        )
    return values


def _paired_continuous(x, y, n_neighbors):
    xs = _continuous(x, "x", n_neighbors)
    ys = _continuous(y, "y", n_neighbors)
    if len(xs) != len(ys):
        raise ValueError(
            f"x and y must be paired samples of the same length; got {len(xs)} "
            f"and {len(ys)}"
        )
    return xs, ys


def _standardise(values):
    """Each column centred and scaled to unit standard deviation.

    Returns the standardised sample and ``sum(log(scale))``, the change of
    differential entropy under this affine map. The k-nearest-neighbour
    estimators mix coordinates in one norm, so without this step their answer
    depends on the units of each variable. A power-of-two pre-scaling (exact)
    keeps the variance from overflowing or underflowing for samples near
    1e300 or 1e-300. A constant column is left unscaled (it is all ties).
    """
    # One contiguous row per variable: reductions over the samples of a
    # C-ordered (n, 2) array are several times slower.
    columns = values.T.copy()
    _, exponent = np.frexp(np.abs(columns).max(axis=1))
    np.ldexp(columns, -exponent[:, None], out=columns)
    columns -= columns.mean(axis=1, keepdims=True)
    scale = np.sqrt(np.einsum("ij,ij->i", columns, columns) / columns.shape[1])
    scale[scale == 0] = 1.0
    columns /= scale[:, None]
    log_scale = float(np.sum(exponent * np.log(2.0) + np.log(scale)))
    return np.ascontiguousarray(columns.T), log_scale


def _ties_error(values, z, index, name, n_neighbors):
    """The error for a sample whose point ``index`` has too many copies."""
    count = int(np.sum(np.all(z == z[index], axis=1)))
    value = values[index].tolist()
    if len(value) == 1:
        value = value[0]
    return ValueError(
        f"{name} has {count} identical values ({value!r}), more than "
        f"n_neighbors={n_neighbors}: the k-nearest-neighbour estimators of "
        "kind='continuous' need distinct values. Use kind='discrete' for "
        "discrete-valued samples, or add noise below the resolution of the "
        "values to break the ties"
    )


def _check_distinct(values, z, name, n_neighbors):
    """Raise when some point of ``z`` has more than ``n_neighbors`` copies.

    Sorted, a point with ``k + 1`` copies is equal to the point ``k`` places
    further on.
    """
    k = n_neighbors
    if z.shape[1] == 1:
        ordered = np.sort(z[:, 0])
        tied = ordered[k:] == ordered[:-k]
    else:
        ordered = z[np.lexsort(z.T)]
        tied = np.all(ordered[k:] == ordered[:-k], axis=1)
    if np.any(tied):
        row = ordered[np.argmax(tied)]
        index = int(np.flatnonzero(np.all(z == row, axis=1))[0])
        raise _ties_error(values, z, index, name, n_neighbors)


def _kl_entropy(values, name, n_neighbors):
    """Kozachenko-Leonenko entropy in nats of a sample ``(n, d)``."""
    z, log_scale = _standardise(values)
    n, d = z.shape
    distances, _ = KDTree(z).query(z, k=n_neighbors + 1)
    radius = distances[:, -1]
    tied = np.flatnonzero(radius == 0)
    if tied.size:
        raise _ties_error(values, z, tied[0], name, n_neighbors)
    log_unit_ball = 0.5 * d * np.log(np.pi) - gammaln(1 + 0.5 * d)
    return (
        digamma(n)
        - digamma(n_neighbors)
        + log_unit_ball
        + d * np.mean(np.log(radius))
        + log_scale
    )


def _ksg_mutual_information(xs, ys, n_neighbors):
    """Kraskov-Stoegbauer-Grassberger estimator (algorithm 1) in nats."""
    n = len(xs)
    zx, _ = _standardise(xs)
    zy, _ = _standardise(ys)
    _check_distinct(xs, zx, "x", n_neighbors)
    _check_distinct(ys, zy, "y", n_neighbors)
    joint = np.hstack([zx, zy])
    distances, _ = KDTree(joint, metric="chebyshev").query(joint, k=n_neighbors + 1)
    # Neighbours strictly closer than the k-th joint neighbour, self excluded.
    radius = np.nextafter(distances[:, -1], 0)
    n_x = KDTree(zx, metric="chebyshev").query_radius(zx, radius, count_only=True) - 1
    n_y = KDTree(zy, metric="chebyshev").query_radius(zy, radius, count_only=True) - 1
    return (
        digamma(n_neighbors) + digamma(n) - np.mean(digamma(n_x + 1) + digamma(n_y + 1))
    )


def _resolve_kind(kind, y):
    if kind is None:
        return "table" if y is None else "discrete"
    if kind == "table" and y is not None:
        raise ValueError(
            "kind='table' takes one joint table x; y must be None, got y of type "
            f"{type(y).__name__}"
        )
    if kind != "table" and y is None:
        raise ValueError(f"kind={kind!r} needs paired samples x and y; y is None")
    return kind


_COMMON_PARAMS = {
    "x": ["array-like"],
    "y": ["array-like", None],
    "axis": _AXIS,
    "base": _BASE,
    "kind": _KIND,
    "n_neighbors": _K,
}


@validate_params(
    {
        "x": ["array-like"],
        "base": _BASE,
        "kind": [StrOptions({"table", "discrete", "continuous"})],
        "n_neighbors": _K,
    },
    prefer_skip_nested_validation=True,
)
def entropy(x, *, base=None, kind="table", n_neighbors=3):
    """Shannon entropy ``H(X) = -sum_x p(x) log p(x)``.

    Parameters
    ----------
    x : array-like
        With ``kind="table"``, a probability table of any shape (its entropy is
        that of all its axes jointly); with ``kind="discrete"``, a 1-D sample
        of hashable labels (a pandas Series too); with ``kind="continuous"``,
        real samples of shape (n_samples,) or (n_samples, n_features).
    base : float, default=None
        Logarithm base: None for nats, 2 for bits.
    kind : {"table", "discrete", "continuous"}, default="table"
        How to read ``x``.
    n_neighbors : int, default=3
        ``k`` of the Kozachenko-Leonenko estimator (``kind="continuous"``).

    Returns
    -------
    h : float
        The entropy (the differential entropy for continuous samples).

    See Also
    --------
    scipy.stats.entropy : Entropy of a probability vector.

    Notes
    -----
    Cells with ``p = 0`` contribute exactly 0 (``0 log 0 = 0``). A table must
    be finite, non-negative and sum to 1 within a relative tolerance of
    ``1e-6``, after which it is rescaled to sum to 1; otherwise a ValueError
    asks for ``p / p.sum()``. Discrete samples use the plug-in estimate (the
    empirical distribution). Continuous samples use the Kozachenko-Leonenko
    estimate ``psi(n) - psi(k) + log V_d + d * mean(log r_k)``, with ``r_k``
    the Euclidean distance to the k-th neighbour and ``V_d`` the volume of the
    unit d-ball. Each column is first standardised (centred, scaled to unit
    standard deviation ``s_j``) and ``sum_j log s_j`` is added back, which is
    exact for differential entropy (``H(a X + b) = H(X) + log|a|``): the
    estimate follows a change of units exactly and stays finite for samples
    near ``1e300`` or ``1e-300``. A sample with more than ``n_neighbors``
    identical points has no differential entropy (a value carries
    probability) and raises a ValueError that points to ``kind="discrete"``.

    References
    ----------
    L. F. Kozachenko and N. N. Leonenko, 1987. "Sample estimate of the entropy
    of a random vector." Problems of Information Transmission 23(2), 95-101.

    Examples
    --------
    >>> from mathlearn.information import entropy
    >>> entropy([0.5, 0.25, 0.25], base=2)
    1.5
    >>> entropy(["a", "b", "a", "b"], kind="discrete", base=2)
    1.0
    """
    scale = _log_base(base)
    if kind == "table":
        table = _check_table(x, "x")
        return float(-xlogy(table, table).sum() / scale)
    if kind == "discrete":
        p = _marginal(x)
        return float(-xlogy(p, p).sum() / scale)
    values = _continuous(x, "x", n_neighbors)
    return float(_kl_entropy(values, "x", n_neighbors) / scale)


@validate_params(
    {key: value for key, value in _COMMON_PARAMS.items() if key != "axis"},
    prefer_skip_nested_validation=True,
)
def joint_entropy(x, y=None, *, base=None, kind=None, n_neighbors=3):
    """Joint entropy ``H(X, Y) = -sum_{x,y} p(x, y) log p(x, y)``.

    Parameters
    ----------
    x : array-like
        A joint probability table (``y`` None), or the sample of X.
    y : array-like, default=None
        The sample of Y, paired with ``x``.
    base : float, default=None
        Logarithm base: None for nats, 2 for bits.
    kind : {"table", "discrete", "continuous"}, default=None
        How to read ``x`` and ``y``: a probability table, paired samples of
        hashable labels, or real samples (k-nearest-neighbour estimators).
        ``None`` means ``"table"`` when ``y`` is None, else ``"discrete"``.
    n_neighbors : int, default=3
        ``k`` of the Kozachenko-Leonenko estimator (``kind="continuous"``).

    Returns
    -------
    h : float
        The joint entropy.

    See Also
    --------
    entropy, conditional_entropy, mutual_information

    Notes
    -----
    For continuous samples, the Kozachenko-Leonenko estimate on the stacked
    ``(x, y)`` points, standardised as in :func:`entropy`. Tables and zeros
    are handled as in :func:`entropy`; for label samples only the observed
    pairs are counted, so many labels cost no dense table.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.information import joint_entropy
    >>> joint_entropy(np.full((2, 2), 0.25), base=2)
    2.0
    >>> joint_entropy([0, 0, 1, 1], ["u", "v", "u", "v"], base=2)
    2.0
    """
    kind = _resolve_kind(kind, y)
    scale = _log_base(base)
    if kind == "table":
        p = _check_table(x, "x")
    elif kind == "discrete":
        p, _, _ = _sample_cells(x, y)
    else:
        xs, ys = _paired_continuous(x, y, n_neighbors)
        joint = np.hstack([xs, ys])
        return float(_kl_entropy(joint, "(x, y)", n_neighbors) / scale)
    return float(-xlogy(p, p).sum() / scale)


@validate_params(_COMMON_PARAMS, prefer_skip_nested_validation=True)
def conditional_entropy(x, y=None, *, axis=0, base=None, kind=None, n_neighbors=3):
    """Conditional entropy ``H(X | Y) = -sum_{x,y} p(x, y) log p(x | y)``.

    Parameters
    ----------
    x : array-like
        A joint probability table of X and Y (``y`` None), or the sample of X.
    y : array-like, default=None
        The sample of Y, paired with ``x``.
    axis : int or tuple of int, default=0
        For a table: the axes of X; the other axes are Y.
    base : float, default=None
        Logarithm base: None for nats, 2 for bits.
    kind : {"table", "discrete", "continuous"}, default=None
        How to read ``x`` and ``y``: a probability table, paired samples of
        hashable labels, or real samples (k-nearest-neighbour estimators).
        ``None`` means ``"table"`` when ``y`` is None, else ``"discrete"``.
    n_neighbors : int, default=3
        ``k`` of the Kozachenko-Leonenko estimator (``kind="continuous"``).

    Returns
    -------
    h : float
        The entropy left in X once Y is known.

    See Also
    --------
    joint_entropy, mutual_information

    Notes
    -----
    Tables are summed directly as ``-sum p(x, y) log(p(x, y) / p(y))`` over
    the cells with ``p(x, y) > 0`` (``0 log 0 = 0``); for label samples only
    the observed pairs are counted. Continuous samples use ``H(X, Y) -
    H(Y)``, each by Kozachenko-Leonenko as in :func:`entropy`.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.information import conditional_entropy
    >>> p = np.array([[0.25, 0.25], [0.5, 0.0]])
    >>> round(conditional_entropy(p, base=2), 4)
    0.6887
    """
    kind = _resolve_kind(kind, y)
    scale = _log_base(base)
    if kind == "continuous":
        xs, ys = _paired_continuous(x, y, n_neighbors)
        h_xy = _kl_entropy(np.hstack([xs, ys]), "(x, y)", n_neighbors)
        return float((h_xy - _kl_entropy(ys, "y", n_neighbors)) / scale)
    p, _, p_y = _table_cells(x, axis) if kind == "table" else _sample_cells(x, y)
    return float(-xlogy(p, p / p_y).sum() / scale)


@validate_params(_COMMON_PARAMS, prefer_skip_nested_validation=True)
def mutual_information(x, y=None, *, axis=0, base=None, kind=None, n_neighbors=3):
    """Mutual information ``I(X; Y) = D_KL(P_XY || P_X P_Y)``.

    Parameters
    ----------
    x : array-like
        A joint probability table of X and Y (``y`` None), or the sample of X.
    y : array-like, default=None
        The sample of Y, paired with ``x``.
    axis : int or tuple of int, default=0
        For a table: the axes of X; the other axes are Y.
    base : float, default=None
        Logarithm base: None for nats, 2 for bits.
    kind : {"table", "discrete", "continuous"}, default=None
        How to read ``x`` and ``y``: a probability table, paired samples of
        hashable labels, or real samples (k-nearest-neighbour estimators).
        ``None`` means ``"table"`` when ``y`` is None, else ``"discrete"``.
    n_neighbors : int, default=3
        ``k`` of the Kraskov-Stoegbauer-Grassberger estimator
        (``kind="continuous"``).

    Returns
    -------
    mi : float
        The mutual information; it equals ``H(X) - H(X | Y)`` and
        ``H(X) + H(Y) - H(X, Y)``.

    See Also
    --------
    sklearn.metrics.mutual_info_score : The same for label samples.
    sklearn.feature_selection.mutual_info_regression : KSG with added noise.

    Notes
    -----
    Tables and discrete samples: the sum of ``p(x, y) log(p(x, y) / (p(x)
    p(y)))`` over cells with ``p(x, y) > 0``; for label samples only the
    observed pairs are counted (as :func:`sklearn.metrics.mutual_info_score`
    does), so 40,000 labels on each side need no dense table. Continuous
    samples: the KSG estimate (their algorithm 1) ``psi(k) + psi(n) -
    mean(psi(n_x + 1) + psi(n_y + 1))``, with max-norm distances and ``n_x``,
    ``n_y`` the numbers of points strictly closer in each marginal than the
    k-th neighbour in the joint space. Every column of ``x`` and ``y`` is
    first standardised (centred, unit standard deviation), as scikit-learn's
    :func:`~sklearn.feature_selection.mutual_info_regression` does, so the
    estimate does not depend on the units of either variable. It is returned
    as computed, so it can be slightly negative for independent variables.
    No noise is added: a variable with a value repeated more than
    ``n_neighbors`` times (discrete or heavily rounded data) raises a
    ValueError, as the entropies do, since the estimator is then biased
    (-1.13 nats for five levels of 40 copies against a noisy copy); use
    ``kind="discrete"`` for discrete samples. Cost ``O(n log n)`` for low
    dimensions with KD-trees.

    References
    ----------
    A. Kraskov, H. Stoegbauer and P. Grassberger, 2004. "Estimating mutual
    information." Physical Review E 69, 066138.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.information import mutual_information
    >>> round(mutual_information(np.array([[0.5, 0.0], [0.0, 0.5]]), base=2), 6)
    1.0
    >>> rng = np.random.RandomState(0)
    >>> z = rng.normal(size=(2000, 2))
    >>> x, y = z[:, 0], 0.8 * z[:, 0] + 0.6 * z[:, 1]
    >>> round(mutual_information(x, y, kind="continuous"), 2)  # -log(0.6) = 0.51
    0.5...
    """
    kind = _resolve_kind(kind, y)
    scale = _log_base(base)
    if kind == "continuous":
        xs, ys = _paired_continuous(x, y, n_neighbors)
        return float(_ksg_mutual_information(xs, ys, n_neighbors) / scale)
    p, p_x, p_y = _table_cells(x, axis) if kind == "table" else _sample_cells(x, y)
    return float(rel_entr(p, p_x * p_y).sum() / scale)


@validate_params(
    {"p": ["array-like"], "q": ["array-like"], "base": _BASE},
    prefer_skip_nested_validation=True,
)
def kl_divergence(p, q, *, base=None):
    """Kullback-Leibler divergence ``D_KL(P || Q) = sum p log(p / q)``.

    Parameters
    ----------
    p : array-like
        Probability table of P, any shape.
    q : array-like
        Probability table of Q, the same shape as ``p``.
    base : float, default=None
        Logarithm base: None for nats, 2 for bits.

    Returns
    -------
    d : float
        The divergence, ``>= 0``; ``inf`` when some cell has ``q = 0 < p``.

    See Also
    --------
    cross_entropy : ``H(P, Q) = H(P) + D_KL(P || Q)``.
    scipy.special.rel_entr : The elementwise terms.

    Notes
    -----
    By definition a cell with ``p = 0`` contributes 0 whatever ``q`` is, and a
    cell with ``q = 0 < p`` makes the divergence infinite (P is not absolutely
    continuous with respect to Q). Tables are checked as in :func:`entropy`.

    Examples
    --------
    >>> from mathlearn.information import kl_divergence
    >>> round(kl_divergence([0.5, 0.5], [0.25, 0.75], base=2), 4)
    0.2075
    >>> kl_divergence([0.5, 0.5], [1.0, 0.0])
    inf
    """
    p_table, q_table = _check_pair(p, q)
    return float(rel_entr(p_table, q_table).sum() / _log_base(base))


@validate_params(
    {"p": ["array-like"], "q": ["array-like"], "base": _BASE},
    prefer_skip_nested_validation=True,
)
def cross_entropy(p, q, *, base=None):
    """Cross-entropy ``H(P, Q) = -sum p log q`` of two probability tables.

    Parameters
    ----------
    p : array-like
        Probability table of P (the "true" distribution), any shape.
    q : array-like
        Probability table of Q (the model), the same shape as ``p``.
    base : float, default=None
        Logarithm base: None for nats, 2 for bits.

    Returns
    -------
    h : float
        The cross-entropy, ``H(P) + D_KL(P || Q)``; ``inf`` when some cell has
        ``q = 0 < p``.

    See Also
    --------
    kl_divergence
    mathlearn.backprop.cross_entropy : The loss on logits with its gradient.

    Notes
    -----
    Cells with ``p = 0`` contribute exactly 0. Tables are checked as in
    :func:`entropy`.

    Examples
    --------
    >>> from mathlearn.information import cross_entropy
    >>> round(cross_entropy([0.5, 0.5], [0.25, 0.75], base=2), 4)
    1.2075
    """
    p_table, q_table = _check_pair(p, q)
    return float(-xlogy(p_table, q_table).sum() / _log_base(base))


def _check_pair(p, q):
    p_table = _check_table(p, "p")
    q_table = _check_table(q, "q")
    if p_table.shape != q_table.shape:
        raise ValueError(
            f"p and q must have the same shape; got {p_table.shape} and {q_table.shape}"
        )
    return p_table, q_table
