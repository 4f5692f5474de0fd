"""Terms of one dimensionless group: ``y = P * g(u)``, ``u`` a product of powers.

Physics formulas often depend on most of their variables through one group
``u = prod_j x_j ** b_j``: the Boltzmann factor ``n0 exp(-m g x / (kb T))``,
Planck's ``h w^3 / (c^2 (exp(h w / (kb T)) - 1))``, the Clausius-Mossotti
``n a / (1 - n a / 3)``. The term ``g(u)`` is too large for the enumeration
(``u`` alone has up to nine nodes), and no transform of ``y`` makes it a short
sum. The data show the group (Udrescu & Tegmark, 2020, test such structure
before searching): with ``l = log x``,

    d log|y| / d l = a + s(x) b,    s = u g'(u) / g(u),

where ``a`` are the exponents of the prefactor ``P``. The gradients of a
smooth surrogate of ``log |y|`` (see :func:`._symmetry.surrogate_gradient`)
then vary along one direction only, ``b``; their mean fixes ``a`` up to a
multiple of ``b``. With ``u`` and ``P`` rounded to simple exponents,
``t = y / P`` is a function of one variable: each function of
:data:`FUNCTIONS`, ``c0 + c1 g(k u)``, is fitted to it (the scale ``k`` by a
grid and a bounded 1-D search, ``c0`` and ``c1`` by least squares) and the
best become the pool terms ``P * g(k u)``; the search on ``y`` decides
whether they are the formula, and tunes and rounds ``k`` like any constant.
"""

from functools import partial
from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize_scalar

from mathlearn.symbolic import _weighted
from mathlearn.symbolic._reduce import _WEIGHT_CAP, _sign, power_tree
from mathlearn.symbolic._symmetry import surrogate_gradient

#: The gradients vary along one direction when their second singular value
#: is at most this share of the first (rows weighted as in the fit). On the
#: Feynman dev set, with or without 1% noise, the equations of one group
#: score at most 0.15, the others 0.23 and up.
_RANK_ONE = 0.2
#: ... and the variation along it matters: the standard deviation of the
#: log-slope ``s`` (times the largest ``|b_j|``) at least this (a power law
#: has none: on the dev set at most 0.013 with 1% noise, the groups 0.026).
_MIN_VARIATION = 0.02
#: Entries of the direction below this share of the largest are 0.
_NEGLIGIBLE = 0.25
#: Exponents (of ``u`` and of ``P``) are multiples of 1/2 within this.
_EXPONENT_TOL = 0.2
#: Largest exponent of a feature in ``u``.
_MAX_EXPONENT = 3.0
#: Functions per (group, prefactor) turned into terms.
_PER_GROUP = 2
#: Grid of ``log |k|`` of the scale ``k`` (times ``1 / median |u|``), and of
#: the distance of a pole from the range of ``u`` (in spans of it).
_LOG_SCALES = np.linspace(np.log(1e-2), np.log(1e2), 33)
#: The poles ``(k - u**p)**-q`` tried, as ``(p, q)``: ``1 / (1 - u/3)``
#: (Clausius-Mossotti), ``1 / (1 - u^2)`` (a driven oscillator),
#: ``1 / (1 - u^2)^2`` (Rayleigh scattering), ``1 / sqrt(1 - u^2)`` (Lorentz).
_POLES = ((1, 1), (2, 1), (2, 2), (2, 0.5))


class Function(NamedTuple):
    """``g(z)`` on the array ``z = k u`` and as a tree of the tree ``z``."""

    name: str
    value: object
    tree: object


def _inv_sub_one(z):
    return ("inv", ("sub", ("exp", z), ("c", 1.0)))


def _inv_add_one(z):
    return ("inv", ("add", ("exp", z), ("c", 1.0)))


def _inv_two_exp(z):
    return ("inv", ("add", ("exp", z), ("exp", ("neg", z))))


#: The functions of the group tried: growth and decay, Bose-Einstein,
#: Fermi-Dirac, 1/cosh (a two-level population), tanh (a magnetisation),
#: and poles (see _POLES).
FUNCTIONS = (
    Function("exp", np.exp, lambda z: ("exp", z)),
    Function("bose", lambda z: 1.0 / np.expm1(z), _inv_sub_one),
    Function("fermi", lambda z: 1.0 / (np.exp(z) + 1.0), _inv_add_one),
    Function("sech", lambda z: 1.0 / (np.exp(z) + np.exp(-z)), _inv_two_exp),
    Function("tanh", np.tanh, lambda z: ("tanh", z)),
)


def _direction(G, w):
    """The rounded exponents ``b`` of the group from the log-gradients ``G``
    (one column per sample, of weight ``w``), or None."""
    # Where log |y| is noisy (small |y|, weight w small), so is the
    # surrogate's gradient: the rows count as their weights.
    mean = G @ w / w.sum()
    centred = (G - mean[:, None]) * np.sqrt(w / w.mean())
    _, S, Vt = np.linalg.svd(centred.T, full_matrices=False)
    if S.size < 2 or not S[1] <= _RANK_ONE * S[0]:
        return None
    v = Vt[0]
    top = np.max(np.abs(v))
    if not S[0] / np.sqrt(G.shape[1]) * top >= _MIN_VARIATION:
        return None
    v = np.where(np.abs(v) >= _NEGLIGIBLE * top, v, 0.0)
    significant = np.abs(v[v != 0])
    best, best_distance = None, np.inf
    for unit in [*significant, significant.mean()]:
        scaled = v / unit
        rounded = np.round(2 * scaled) / 2
        distance = np.max(np.abs(scaled - rounded))
        if distance < best_distance and np.all(np.abs(rounded) <= _MAX_EXPONENT):
            best, best_distance = rounded, distance
    if best is None or best_distance > _EXPONENT_TOL or not np.any(best):
        return None
    return best


def _prefactors(mean_gradient, b):
    """Rounded exponents ``a = mean_gradient - s b`` of the prefactor ``P``.

    ``s`` is not known (it is the mean of ``u g'/g``); each feature of the
    group gives one guess, the ``s`` for which ``P`` does not hold it.
    """
    out = []
    for j in np.flatnonzero(b):
        a = mean_gradient - mean_gradient[j] / b[j] * b
        rounded = np.round(2 * a) / 2
        if np.max(np.abs(a - rounded)) <= _EXPONENT_TOL:
            rounded[j] = 0.0
            if not any(np.array_equal(rounded, o) for o in out):
                out.append(rounded)
    return out


def _weighted_sse(g, t, sqrt_w):
    """Weighted squared error of the best ``c0 + c1 g`` for ``t`` (inf if
    ``g`` is not finite or constant)."""
    A = np.column_stack([np.ones_like(g), g]) * sqrt_w[:, None]
    if not np.isfinite(A).all() or np.ptp(g) == 0:
        return np.inf
    b = t * sqrt_w
    try:
        coef, *_ = np.linalg.lstsq(A, b, rcond=None)
    except np.linalg.LinAlgError:
        return np.inf
    r = A @ coef - b
    return float(r @ r)


def _minimise(loss, grid):
    """``(loss, q)`` of the least ``loss(q)``: the best of ``grid``, refined
    by a bounded search between its neighbours."""
    losses = [loss(q) for q in grid]
    i = int(np.argmin(losses))
    if not np.isfinite(losses[i]):
        return np.inf, None
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    result = minimize_scalar(loss, bounds=(lo, hi), method="bounded")
    if result.fun < losses[i]:
        return float(result.fun), float(result.x)
    return float(losses[i]), float(grid[i])


def _fits(u, t, weights, sqrt_w, u_tree):
    """``(sse, tree of g(k u))`` of each function and sign of ``k``, and of the pole.

    ``weights`` are the sample weights (of the median of ``|u|``), ``sqrt_w``
    the roots of the weights of the fits.
    """

    def sse(make_g, q):
        with np.errstate(all="ignore"):
            return _weighted_sse(make_g(q), t, sqrt_w)

    unit = 1.0 / _weighted.median(np.abs(u), weights)
    out = []
    for function in FUNCTIONS:
        # exp(-u) is not exp(u); the others' negative scales are the same
        # functions up to c0 and c1.
        for sign in (1.0, -1.0) if function.name == "exp" else (1.0,):
            scale = sign * unit

            def make_g(q, f=function.value, scale=scale):
                return f(scale * np.exp(q) * u)

            loss, q = _minimise(partial(sse, make_g), _LOG_SCALES)
            if q is not None:
                k = ("c", float(scale * np.exp(q)))
                out.append((loss, function.tree(("mul", k, u_tree))))
    # The poles (k - w)**-q, w = u**p, with k just beyond the range of w on
    # either side (and |k - w| under a root).
    for p, q in _POLES:
        w = u**p
        w_tree = u_tree if p == 1 else ("square", u_tree)
        low, high = float(w.min()), float(w.max())
        for edge, step in ((high, high - low), (low, low - high)):

            def make_g(z, edge=edge, step=step, w=w, q=q):
                return np.abs(edge + step * np.exp(z) - w) ** -q

            loss, z = _minimise(partial(sse, make_g), _LOG_SCALES)
            if z is None:
                continue
            k = ("c", float(edge + step * np.exp(z)))
            base = ("sub", k, w_tree) if step > 0 else ("sub", w_tree, k)
            # 1 / sqrt(base), not sqrt(1 / base): equal for a positive base,
            # which sympy cannot know of 1 - v^2/c^2.
            power = {1: base, 2: ("square", base), 0.5: ("sqrt", base)}[q]
            tree = ("inv", power)
            out.append((loss, tree))
    return out


def group_terms(X, y, weights=None):
    """Terms ``P * g(k u)`` of the dimensionless groups of ``y`` (see module doc).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    weights : ndarray of shape (n_samples,) or None

    Returns
    -------
    trees : list of tuple
        The prefactors ``P`` and the best terms ``P * g(k u)`` of each.
    """
    positive = np.flatnonzero((X > 0).all(axis=0))
    sign = _sign(y, weights)
    if positive.size < 2 or sign == 0:
        return []
    # Values of the minority sign are noise about values near zero (see
    # _reduce._sign): they weigh nothing.
    kept = sign * y > 0
    L = np.log(X[:, positive])
    w = y * y * kept if weights is None else weights * y * y * kept
    # Scaled to the number of samples (the sum of the sample weights).
    w = w * (y.size if weights is None else weights.sum()) / w.sum()
    G = surrogate_gradient(L, np.log(np.where(kept, sign * y, 1.0)), w)
    if G is None:
        return []
    b = _direction(G, w)
    if b is None:
        return []
    mean_gradient = G @ w / w.sum()
    full_b = np.zeros(X.shape[1])
    full_b[positive] = b
    # g(k u) and g(k / u) are different functions: both orientations.
    groups = [(power_tree(e), np.prod(X**e, axis=1)) for e in (full_b, -full_b)]
    trees = []
    for a in _prefactors(mean_gradient, b):
        full_a = np.zeros(X.shape[1])
        full_a[positive] = a
        p_tree = power_tree(full_a)
        p = np.prod(X**full_a, axis=1)
        t = y / p
        pw = np.minimum(p * p / _weighted.median(p * p, weights), _WEIGHT_CAP)
        sqrt_w = np.sqrt(pw if weights is None else weights * pw)
        fits = [
            fit for u_tree, u in groups for fit in _fits(u, t, weights, sqrt_w, u_tree)
        ]
        fits.sort(key=lambda fit: fit[0])
        if p_tree is not None:
            trees.append(p_tree)
        for _, g_tree in fits[:_PER_GROUP]:
            trees.append(g_tree if p_tree is None else ("mul", p_tree, g_tree))
    return list(dict.fromkeys(trees))
