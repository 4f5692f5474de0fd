"""Terms found by searching a transformed target: power laws, roots, inverses.

Physics formulas are often a product of powers times a simpler function
(``q Ef / (m (w0^2 - w^2))``), the root of a sum of squares
(``sqrt((x2 - x1)^2 + (y2 - y1)^2)``), the inverse of a sum
(``1 / (1/d1 + n/d2)``) or the exponential of one (``n0 exp(-m g x / kT)``).
None of these is a short sum of small terms, so the linear-in-terms search
misses them; each is one once the target is transformed. Following AI
Feynman (Udrescu & Tegmark, 2020), who fit ``log |y|`` for products of
powers and test the data for such structure before searching, this module:

1. fits ``log |y| = b + sum_j a_j log x_j`` over the positive features by
   least squares, and rounds the exponents to halves: the *factor*
   ``P = prod_j x_j ** a_j`` (of all features, and of those whose exponent
   is a half-integer to within :data:`_EXPONENT_TOL`);
2. for each factor ``P`` (and ``P = 1``) and each transform ``F`` of
   :data:`TRANSFORMS`, runs the beam search on ``F(y / P)`` over the same
   pool of terms, and turns its best formulas ``c0 + sum c_i g_i`` into one
   new term ``P * F^-1(c0 + sum c_i g_i)``.

The new terms join the pool; the search on ``y`` itself then decides whether
they are the formula. Their inner constants are tuned and rounded like any
other term's.
"""

from itertools import combinations, permutations, product
from typing import NamedTuple

import numpy as np

from mathlearn.symbolic import _search, _weighted
from mathlearn.symbolic._expr import size

#: The exponents of the features in the products of :func:`monomials`.
_MONOMIAL_POWERS = (1.0, -1.0, 2.0, -2.0)
#: Products :func:`monomials` returns at most (the simplest).
_MONOMIALS = 2000
#: An exponent within this distance of a multiple of 1/2 is taken to be it.
_EXPONENT_TOL = 0.05
#: The tolerance of the purity test (see _pure_powers) and of the rounding
#: of exponents when y takes both signs: on the Feynman equations the pure
#: powers' slopes then vary by up to 0.11, the others' by 0.3 and more, and
#: the fitted exponents of x0 x1 x2 sin(x3) on 300 samples are 0.1 off.
_SIGNED_PURE_TOL = 0.15
#: Formulas of each transformed search turned into new terms, at most.
_PER_SEARCH = 3
#: A coefficient within this relative distance of an integer is that integer
#: (the linear solve leaves 0.9999999999 for 1).
_INTEGER_TOL = 1e-9
#: A term of a transformed search's formula whose coefficient times its
#: spread is below this share of the target's spread is dropped.
_NEGLIGIBLE_TERM = 1e-9
#: Terms of a formula for a transformed target, at most: the transform is
#: there to make it short.
_MAX_TERMS = 3
#: The power law is fitted when the values of y of the minority sign carry
#: at most this share of the weighted sum of squares of y (noise about
#: values near zero).
_SIGN_NOISE = 1e-3
#: A transformed target whose spread is below this share of its peak is a
#: constant (as for the main search's target).
_CONSTANT = 1e-12
#: Largest weight of a row in a weighted transformed search, in medians.
_WEIGHT_CAP = 100.0
#: Weights whose spread is below this share of their largest are uniform.
_UNIFORM = 1e-3
#: Terms of the pool (the first, smallest ones) a weighted transformed search
#: runs over: each search normalises its own copy of them.
_WEIGHTED_TERMS = 4000
#: A transformed target must stay this far from zero (relative to its peak)
#: to be inverted.
_MIN_RELATIVE = 1e-6


class Transform(NamedTuple):
    """``F`` applied to a positive target, and the operators that undo it."""

    name: str
    forward: object  # F, on a positive array
    inverse: tuple  # operators applied to c0 + sum c_i g_i, innermost first
    slope: object  # F', on the same array


#: The transforms tried on ``y / P`` (made positive): sums of squares under a
#: root, inverses of sums (``1/(1/d1 + n/d2)``), relativistic factors
#: (``1/sqrt(1 - v^2/c^2)``), exponentials of sums.
TRANSFORMS = (
    Transform("identity", lambda t: t, (), np.ones_like),
    Transform("square", lambda t: t * t, ("sqrt",), lambda t: 2.0 * t),
    Transform("inverse", lambda t: 1.0 / t, ("inv",), lambda t: -1.0 / (t * t)),
    Transform(
        "inverse square",
        lambda t: 1.0 / (t * t),
        ("sqrt", "inv"),
        lambda t: -2.0 / (t * t * t),
    ),
    Transform("log", np.log, ("exp",), lambda t: 1.0 / t),
)


def _power(j, exponent):
    """The tree of ``x_j ** exponent`` for a positive multiple of 1/2."""
    x = ("x", j)
    named = {1.0: x, 2.0: ("square", x), 3.0: ("cube", x), 0.5: ("sqrt", x)}
    if exponent in named:
        return named[exponent]
    return ("pow", x, ("c", float(exponent)))


def _product(factors):
    tree = factors[0]
    for factor in factors[1:]:
        tree = ("mul", tree, factor)
    return tree


def power_tree(exponents):
    """``prod_j x_j ** exponents[j]`` as ``numerator / denominator``, or None."""
    up = [_power(j, a) for j, a in enumerate(exponents) if a > 0]
    down = [_power(j, -a) for j, a in enumerate(exponents) if a < 0]
    if not up and not down:
        return None
    if not down:
        return _product(up)
    return ("div", _product(up) if up else ("c", 1.0), _product(down))


def monomials(n_features):
    """The products of powers of two or three features (``u x / c^2``).

    Exponents are in :data:`_MONOMIAL_POWERS`; the products with fewer
    features, then with smaller exponents, come first, at most
    :data:`_MONOMIALS`. Three features under two powers take six nodes or
    more, beyond what the enumeration reaches with four features and more,
    yet they are single terms of many formulas (``t - u x / c^2``, the
    numerator of the Lorentz transformation of time).
    """
    exponents = []
    for k in (2, 3):
        for features in combinations(range(n_features), k):
            for powers in product(_MONOMIAL_POWERS, repeat=k):
                e = np.zeros(n_features)
                e[list(features)] = powers
                exponents.append(e)
    exponents.sort(key=lambda e: (np.count_nonzero(e), np.abs(e).sum()))
    return [power_tree(e) for e in exponents[:_MONOMIALS]]


def _pure_powers(L, b, sqrt_w, weights, tol):
    """Which columns of ``L`` (logs of features) enter ``b = log |y|`` as powers.

    A feature ``x_j`` that enters ``y`` only as a factor ``x_j ** a`` has a
    constant log-derivative ``d log|y| / d log x_j = a``. Fitting ``b`` by a
    quadratic in the centred logs gives that derivative's variation over the
    data, ``sum_k q_jk l_k`` (``q_jj`` doubled); ``x_j`` is a pure power when
    its standard deviation is below ``tol``. ``sqrt_w`` are the roots of
    the fit's row weights; the samples are counted, and the means and
    deviations taken, with the sample ``weights``. The other
    features (``x`` and ``y`` in ``z sqrt(x^2 + y^2) / r^5``) are left to
    the transformed searches: multiplicative separability, tested on the
    data (Udrescu & Tegmark, 2020).
    """
    n, d = L.shape
    n_samples = n if weights is None else weights.sum()
    if n_samples <= 2 * (1 + d + d * (d + 1) // 2):
        return np.ones(d, dtype=bool)  # too few samples to tell
    Lc = L - _weighted.mean(L, weights, 0)
    pairs = [(j, k) for j in range(d) for k in range(j, d)]
    A = np.column_stack([np.ones(n), Lc, *(Lc[:, j] * Lc[:, k] for j, k in pairs)])
    if sqrt_w is not None:
        A, b = A * sqrt_w[:, None], b * sqrt_w
    fitted, *_ = np.linalg.lstsq(A, b, rcond=None)
    Q = np.zeros((d, d))
    for q, (j, k) in zip(fitted[1 + d :], pairs, strict=True):
        Q[j, k] += q
        Q[k, j] += q
    slope_variation = Lc @ Q  # column j: d log|y| / d l_j minus its mean
    return _weighted.std(slope_variation, weights, 0) <= tol


def _sign(y, weights):
    """The sign of ``y`` (1 or -1), or 0 if ``y`` takes both.

    Values of the minority sign carrying at most :data:`_SIGN_NOISE` of the
    (weighted) sum of squares of ``y`` are noise about values near zero:
    ``y`` then has the majority's sign.
    """
    w = y * y if weights is None else weights * y * y
    up, down = float(w @ (y > 0)), float(w @ (y < 0))
    if down <= _SIGN_NOISE * up:
        return 1.0
    if up <= _SIGN_NOISE * down:
        return -1.0
    return 0.0


def power_factors(X, y, weights=None):
    """Candidate factors ``P`` from a power-law fit of ``log |y|``.

    Returns a list of distinct trees (possibly empty): the product of the
    rounded powers of the features that enter ``y`` as pure powers (see
    :func:`_pure_powers`) when some do not, then of every positive feature,
    then of fewer and fewer of them, dropping first the feature whose
    fitted exponent is farthest from a multiple of 1/2 (a feature that does
    not enter as a power), down to those within :data:`_EXPONENT_TOL` of
    one. The fits are least squares on ``log |y|``, plain and weighted by
    ``y**2`` (the inverse variance of ``log |y|`` under noise in ``y``,
    which keeps the small values of ``y`` from leading the fit of a noisy
    power law spanning decades); the plain fit's factors come first. When
    ``y`` takes both signs (``r F sin(theta)``), only the weighted fit's
    first factor: its zeros, where ``log |y|`` has no bound, weigh nothing.
    """
    positive = np.flatnonzero((X > 0).all(axis=0))
    if positive.size == 0:
        return []
    sign = _sign(y, weights)
    w = np.ones_like(y) if weights is None else weights
    # Rows of the minority sign (noise about values near zero, see _sign)
    # are left out.
    kept = (sign * y >= 0) & (y != 0)
    L = np.log(X[:, positive])
    b = np.log(np.where(kept, np.abs(y), 1.0))
    fits = [(w * y * y * kept, _EXPONENT_TOL if sign else _SIGNED_PURE_TOL)]
    if sign:
        fits.insert(0, (w * kept, _EXPONENT_TOL))
    # The factors of the pure powers first (one per fit), then the chains.
    candidates = [
        _fit_factors(L, b, np.sqrt(fw), weights, tol, bool(sign)) for fw, tol in fits
    ]
    trees = []
    for exponents in [c[0] for c in candidates] + [
        e for c in candidates for e in c[1:]
    ]:
        full = np.zeros(X.shape[1])
        full[positive] = exponents
        tree = power_tree(full)
        if tree is not None and tree not in trees:
            trees.append(tree)
    return trees


def _fit_factors(L, b, sqrt_w, weights, tol, chain):
    """The exponents of the candidate factors of one fit (see power_factors)."""
    # log |g| of a factor g of both signs has no bound near its zeros: it is
    # heavy noise in the fits, and the pure powers' slopes and exponents vary
    # more (tol).
    pure = _pure_powers(L, b, sqrt_w, weights, tol)
    A = np.column_stack([np.ones(L.shape[0]), L]) * sqrt_w[:, None]
    fitted, *_ = np.linalg.lstsq(A, b * sqrt_w, rcond=None)
    exponents = fitted[1:]
    rounded = np.round(2 * exponents) / 2
    distance = np.abs(exponents - rounded)
    # The first entry is the factor of the pure powers (none if all are).
    out = [np.where(pure & (distance <= tol), rounded, 0.0)]
    if pure.all() and chain:
        out[0] = np.zeros_like(rounded)
    if not chain:
        # y is not a power law: only the features that enter as pure powers
        # factor out (its sign comes from the other factor).
        return out
    keep = np.ones(L.shape[1], dtype=bool)
    for worst in np.argsort(-distance, kind="stable"):
        out.append(np.where(keep, rounded, 0.0))
        if distance[worst] <= _EXPONENT_TOL:
            break
        keep[worst] = False
    return out


def lorentz_factors(X, x_scale):
    """The factors ``1 / sqrt(1 - x_i^2 / x_j^2)`` where ``x_i < x_j`` on all
    the data, in the user's units (``X * x_scale``).

    A velocity below the speed of light makes one (the Lorentz
    transformation ``(x - u t) / sqrt(1 - u^2/c^2)``); dividing ``y`` by it
    leaves a short sum for the transformed searches. Its constant is the
    power of two that the features' rescaling leaves.
    """
    user = X * x_scale
    out = []
    for i, j in permutations(range(X.shape[1]), 2):
        if not (np.all(user[:, i] > 0) and np.all(user[:, i] < user[:, j])):
            continue
        ratio = ("square", ("div", ("x", i), ("x", j)))
        scale = float((x_scale[i] / x_scale[j]) ** 2)
        if scale != 1:
            ratio = ("mul", ("c", scale), ratio)
        out.append(("inv", ("sqrt", ("sub", ("c", 1.0), ratio))))
    return out


def _clean(value):
    nearest = round(value)
    if nearest != 0 and abs(value - nearest) <= _INTEGER_TOL * abs(value):
        return float(nearest)
    return float(value)


def linear_tree(c0, coef, trees):
    """The tree of ``c0 + sum coef_i trees_i`` (coefficients 1 and -1 unwritten)."""
    out = None
    for c, tree in zip(coef, trees, strict=True):
        c = _clean(c)
        term = tree if abs(c) == 1 else ("mul", ("c", c), tree)
        if out is None:
            out = ("neg", term) if c == -1 else term
        else:
            out = ("sub", out, term) if c == -1 else ("add", out, term)
    if c0 != 0:
        out = ("add", out, ("c", _clean(c0)))
    return out


class _Search(NamedTuple):
    """What a transformed search needs from the main one."""

    pool: object  # the TermPool (its terms are reused; it is not changed)
    X: np.ndarray  # the features as the pool's terms see them
    weights: np.ndarray | None
    objective: object  # the main search's Objective
    deadline: float | None
    config: object = _search.NARROW  # the BeamConfig of the searches


def _inner_terms(search, t, front):
    """``(c0, coef, trees)`` of the best formulas for ``t`` on ``front``.

    The :data:`_PER_SEARCH` best by the penalised loss, and the best with
    each number of terms: on noisy data a third term that fits the noise
    can rank above the law's two.
    """
    parsimony, floor = search.objective.parsimony, search.objective.loss_floor
    entries = sorted(
        (e for e in front.pareto() if e[2]),
        key=lambda e: _search.penalised(e[1], e[0], parsimony, floor),
    )
    best_per_count = {}
    for entry in entries:
        best_per_count.setdefault(len(entry[2]), entry)
    entries = list(dict.fromkeys([*entries[:_PER_SEARCH], *best_per_count.values()]))
    sqrt_w = None if search.weights is None else np.sqrt(search.weights)
    out = []
    for _, _, state in entries:
        trees = [search.pool.trees[i] for i in state]
        G = _search.evaluate_terms(trees, search.X)
        c0, coef, sse = _search.fit_linear(G, t, sqrt_w)
        # A term whose part of the fit is round-off is not in the formula: the
        # beam can reach the exact 1/r2 - 1/r1 only with an extra r2 of
        # coefficient 1e-16, and the tree is scaled by the first coefficient.
        spread = _weighted.std(G, search.weights)
        kept = spread * np.abs(coef) > _NEGLIGIBLE_TERM * _weighted.std(
            t, search.weights
        )
        if 0 < kept.sum() < len(trees):
            trees, G = [tr for tr, k in zip(trees, kept, strict=True) if k], G[kept]
            spread = spread[kept]
            c0, coef, sse = _search.fit_linear(G, t, sqrt_w)
        # No intercept where the fit does not need it (x^2 + y^2, not + 1e-12).
        A = (G * sqrt_w).T if sqrt_w is not None else G.T
        tw = t * sqrt_w if sqrt_w is not None else t
        plain, *_ = np.linalg.lstsq(A, tw, rcond=None)
        residual = A @ plain - tw
        if float(residual @ residual) <= sse * (1 + 1e-6) + floor * float(tw @ tw):
            c0, coef = 0.0, plain
        # The largest part first: the new term is scaled by its coefficient,
        # and a small term (fitting noise) keeps a constant that can round to 0.
        order = np.argsort(-np.abs(coef) * spread, kind="stable")
        trees, coef = [trees[i] for i in order], coef[order]
        out.append((c0, coef, trees))
    return out


def _target_terms(search, t, transform, factor):
    """New terms ``factor * F^-1(c0 + sum c_i g_i)`` from the search on ``F(t)``.

    Returns ``(trees, exact)``, ``exact`` telling whether a formula fits
    ``F(t)`` to round-off.
    """
    with np.errstate(all="ignore"):
        u = transform.forward(t)
    if not np.isfinite(u).all():
        return [], False
    if search.weights is None:
        centred = u - u.mean()
    else:
        centred = (u - search.weights @ u / search.weights.sum()) * np.sqrt(
            search.weights
        )
    # A constant u (the factor is the whole formula) varies by round-off
    # only: a search on it fits noise, with coefficients that may be 0.
    n = u.size if search.weights is None else float(search.weights.sum())
    if not float(centred @ centred) > (_CONSTANT * np.max(np.abs(u))) ** 2 * n:
        return [], False
    front = _search.Front()
    _search.beam_select(
        search.pool,
        centred,
        front,
        search.objective._replace(
            max_terms=min(search.objective.max_terms, _MAX_TERMS)
        ),
        search.config,
        deadline=search.deadline,
    )
    exact = any(loss <= search.objective.loss_floor for _, loss, _ in front.pareto())
    out = []
    for c0, coef, trees in _inner_terms(search, u, front):
        if transform.inverse == ("exp",):  # exp(c0 + ...): exp(c0) goes outside
            tree = linear_tree(0.0, coef, trees)
        else:  # F^-1(a v) is F^-1(v) times a number for sqrt and inv
            tree = linear_tree(c0 / abs(coef[0]), coef / abs(coef[0]), trees)
        for operator in transform.inverse:
            tree = (operator, tree)
        if factor is not None:
            tree = ("mul", factor, tree)
        out.append(tree)
    return out, exact


def _noise_weights(transform, t, p, weights):
    """Row weights for the search on ``F(t)``, ``t = y / p``: the inverse
    variance of ``F(t)`` under noise of one variance in ``y``.

    That variance is ``F'(t)**2 / p**2``: where ``p`` or ``F'`` is small, the
    noise of ``y`` is magnified in ``F(t)`` and the row must count less. The
    weights are capped at :data:`_WEIGHT_CAP` times their median so that no
    few rows decide the fit (the linearised variance fails where ``t`` is
    noise about zero). The median and the mean that scales them to 1 count
    each sample as its weight in ``weights``. Returns None when they are
    uniform.
    """
    with np.errstate(all="ignore"):
        w = (p if p is not None else 1.0) ** 2 / transform.slope(t) ** 2
    if not np.isfinite(w).all():
        return None
    w = np.minimum(w, _WEIGHT_CAP * _weighted.median(w, weights))
    if not np.ptp(w) > _UNIFORM * np.max(w):
        return None
    w /= _weighted.mean(w, weights)
    return w if weights is None else w * weights


def _weighted_search(search, w):
    """A search over the pool's first (smallest) terms, weighted by ``w``."""
    count = min(len(search.pool), _WEIGHTED_TERMS)
    sub = _search.TermPool(search.X.shape[0], count * search.X.shape[0], w)
    sub.add(search.pool.trees[:count], search.pool.values[:count])
    return search._replace(pool=sub, weights=w, config=_search.NARROW_PAIRS)


def _divided_target(factor, X, y):
    """``(y / P, P)`` for the factor tree ``P`` (``(y, None)`` for None).

    None when ``P`` vanishes or is not finite somewhere.
    """
    if factor is None:
        return y, None
    p = _search.evaluate_terms([factor], X)[0]
    if not np.isfinite(p).all() or np.any(p == 0):
        return None
    return y / p, p


def _applicable(transform, factor, sign, positive, peak):
    """Whether ``transform`` is tried on ``t = y / P`` (``positive``: t made positive).

    The identity only with a factor (the main search does ``P = 1``); the
    square whenever ``y`` has a sign (a few values of the other sign, noise
    by :func:`_sign`, square like the rest); the others on a positive target,
    the inverses only away from zero.
    """
    if transform.name == "identity":
        return factor is not None
    if transform.name == "square":
        return sign != 0
    if not np.all(positive > 0):
        return False
    return not (
        transform.name.startswith("inverse") and np.min(positive) < _MIN_RELATIVE * peak
    )


def reduced_terms(pool, X, y, weights, factors, objective, deadline):
    """New pool terms from searches on transformed targets (see module doc).

    ``factors`` are the trees of :func:`power_factors`, tried before
    ``P = 1``. Returns a list of trees, none larger than
    ``objective.max_complexity - 2`` nodes (one coefficient and the
    intercept).
    """
    search = _Search(pool, X, weights, objective, deadline)
    sign = _sign(y, weights)
    trees, weighted, exact = [], [], False
    for factor in [*factors, None]:
        target = _divided_target(factor, X, y)
        if target is None:
            continue
        t, p = target
        positive = t * (1.0 if sign == 0 else sign)
        peak = np.max(np.abs(t))
        for transform in TRANSFORMS:
            if _search.past(deadline):
                break
            if not _applicable(transform, factor, sign, positive, peak):
                continue
            u = positive if transform.name != "identity" else t
            found, fits = _target_terms(search, u, transform, factor)
            trees.extend(found)
            exact |= fits
            weighted.append((u, transform, factor, p))
    # On noisy data the unweighted searches are led by the rows where the
    # transform magnifies the noise; the weighted ones are not. On exact data
    # they only take time, and fit the round-off with huge constants.
    for u, transform, factor, p in [] if exact else weighted:
        w = _noise_weights(transform, u, p, weights)
        if _search.past(deadline):
            break
        if w is not None:
            found, _ = _target_terms(_weighted_search(search, w), u, transform, factor)
            trees.extend(found)
    limit = objective.max_complexity - 2
    return [tree for tree in dict.fromkeys(trees) if size(tree) <= limit]
