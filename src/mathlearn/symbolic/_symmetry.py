"""Translational symmetry: does ``y`` depend on two features only through their
difference?

Physics formulas often do (``(theta - theta1)`` in a Gaussian, ``x2 - x1``
in a distance, ``T2 - T1`` in a heat flow), and a term over the difference
``d = x_i - x_j`` is two nodes larger than the same term over a feature: the
exhaustive enumeration stops before it reaches ``exp(-(d/s)^2)`` or
``sqrt(dx^2 + dy^2)``. AI Feynman (Udrescu & Tegmark, 2020) tests the data
for this symmetry and then solves a problem with one variable fewer; here
the test is on the gradient of a smooth surrogate of ``y``:
``f(x_i + a, x_j + a) = f`` for all ``a`` exactly when
``df/dx_i + df/dx_j = 0``. The surrogate is a cubic polynomial in the
standardised features, fitted by least squares; it need not be accurate,
only its gradient's symmetry counts. Each symmetric pair becomes one feature
``x_i - x_j`` of the enumeration in place of the two (see
``SymbolicRegressor._enumerate``), whose terms are written back in the
original features by :func:`substitute`.
"""

from itertools import combinations_with_replacement

import numpy as np

from mathlearn.symbolic import _weighted

#: Degree of the polynomial surrogate of ``y``.
_DEGREE = 3
#: A pair is symmetric when mean |g_i + g_j| is at most this share of
#: mean(|g_i| + |g_j|), g being the surrogate's gradient. On the Feynman
#: equations, the symmetric pairs score below 0.07 and the others above 0.14,
#: with or without 1% noise.
_SYMMETRY_TOL = 0.1
#: Both features of a pair must matter: the mean magnitude of their partial
#: derivatives (in standardised units) at least this share of the largest.
_RELEVANT = 0.05
#: Samples per coefficient of the surrogate needed for the test: with fewer
#: its gradient follows the samples, not the function (two features need 40
#: samples, nine 880).
_SAMPLES_PER_COEF = 4
#: Step of the central differences, in standard deviations of a feature.
_STEP = 1e-4


def _monomials(Z):
    """The columns of the cubic polynomial in the columns of ``Z``."""
    d = Z.shape[1]
    columns = [np.ones(Z.shape[0])]
    for degree in range(1, _DEGREE + 1):
        for combo in combinations_with_replacement(range(d), degree):
            columns.append(np.prod(Z[:, combo], axis=1))
    return np.column_stack(columns)


def _n_monomials(d):
    count, term = 1, 1
    for degree in range(1, _DEGREE + 1):
        term = term * (d + degree - 1) // degree
        count += term
    return count


def surrogate_gradient(X, y, weights=None):
    """The gradient of a cubic surrogate of ``y`` at each sample, or None.

    The surrogate is a cubic polynomial in the standardised features, fitted
    by least squares (weighted by ``weights``); its gradient, taken by
    central differences, is in the units of ``X``. None when there are too
    few samples for its coefficients or a feature is constant. Samples are
    counted, and the features standardised, with their weights.

    Returns
    -------
    gradient : ndarray of shape (n_features, n_samples) or None
    """
    n, d = X.shape
    n_samples = n if weights is None else weights.sum()
    if n_samples < _SAMPLES_PER_COEF * _n_monomials(d):
        return None
    mean, scale = _weighted.mean(X, weights, 0), _weighted.std(X, weights, 0)
    if not np.all(scale > 0):
        return None
    Z = (X - mean) / scale
    A = _monomials(Z)
    b = y
    if weights is not None:
        sqrt_w = np.sqrt(weights)
        A, b = A * sqrt_w[:, None], y * sqrt_w
    coef, *_ = np.linalg.lstsq(A, b, rcond=None)
    gradient = np.empty((d, n))
    for k in range(d):
        up, down = Z.copy(), Z.copy()
        up[:, k] += _STEP
        down[:, k] -= _STEP
        # In the original units: df/dx_k = df/dz_k / scale_k.
        gradient[k] = (_monomials(up) - _monomials(down)) @ coef / (2 * _STEP)
        gradient[k] /= scale[k]
    return gradient


def difference_pairs(X, y, weights=None, allowed=None):
    """Disjoint pairs ``(i, j)`` of features that ``y`` sees only as ``x_i - x_j``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    weights : ndarray of shape (n_samples,) or None
        Sample weights of the surrogate's least-squares fit and of the
        means over the samples.
    allowed : callable or None
        ``allowed(i, j)`` says whether ``x_i - x_j`` may be a feature (same
        units, same scale in the search).

    Returns
    -------
    pairs : list of (int, int)
        Most symmetric first; no feature in two pairs.
    """
    d = X.shape[1]
    if d < 2:
        return []
    gradient = surrogate_gradient(X, y, weights)
    if gradient is None:
        return []
    scale = _weighted.std(X, weights, 0)
    # Relevance compares standardised slopes (units of x do not matter).
    magnitude = _weighted.mean(np.abs(gradient * scale[:, None]), weights)
    relevant = magnitude >= _RELEVANT * magnitude.max()
    scored = []
    for i in range(d):
        for j in range(i + 1, d):
            if not (relevant[i] and relevant[j]):
                continue
            if allowed is not None and not allowed(i, j):
                continue
            gi, gj = gradient[i], gradient[j]
            score = _weighted.mean(np.abs(gi + gj), weights) / _weighted.mean(
                np.abs(gi) + np.abs(gj), weights
            )
            if score <= _SYMMETRY_TOL:
                scored.append((score, i, j))
    pairs, used = [], set()
    for _, i, j in sorted(scored):
        if i not in used and j not in used:
            pairs.append((i, j))
            used.update((i, j))
    return pairs


def reduced_features(X, pairs):
    """The features with each pair replaced by its difference.

    Returns ``(X_reduced, leaves)``: ``leaves[k]`` is the tree of column
    ``k`` of ``X_reduced`` in the original features (``("x", j)`` or
    ``("sub", ("x", i), ("x", j))``).
    """
    if not pairs:
        return X, [("x", k) for k in range(X.shape[1])]
    paired = {k for pair in pairs for k in pair}
    leaves = [("x", k) for k in range(X.shape[1]) if k not in paired]
    leaves += [("sub", ("x", i), ("x", j)) for i, j in pairs]
    columns = [X[:, k] for k in range(X.shape[1]) if k not in paired]
    columns += [X[:, i] - X[:, j] for i, j in pairs]
    return np.column_stack(columns), leaves


def substitute(tree, leaves):
    """``tree`` over the reduced features, written in the original ones."""
    if tree[0] == "x":
        return leaves[tree[1]]
    if tree[0] == "c":
        return tree
    return (tree[0], *(substitute(child, leaves) for child in tree[1:]))
