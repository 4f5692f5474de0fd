"""Terms that are ratios of short sums: ``y = N / D``.

Relativistic formulas divide a short sum by another one: the addition of
velocities ``(u + v) / (1 + u v / c^2)``, the Lorentz transformation
``(x - u t) / sqrt(1 - u^2 / c^2)``. Neither ``y`` nor a transform of it is
a short sum of terms, and no factor of them is a power law. But
``F(y) = N / D`` with ``N = c0 + sum n_i g_i`` and ``D = 1 - sum e_j h_j``
is linear in the unknowns once multiplied out (the linearisation of
rational least squares, as in SINDy-PI, Kaheman et al., 2020):

    F(y) = c0 + sum n_i g_i + sum e_j F(y) h_j,

so the beam search over the pool's small terms ``g`` and the products
``F(y) h`` finds ``N`` and ``D`` together; ``F`` is the identity or the
square (``y^2 (1 - u^2/c^2) = (x - u t)^2``). Each formula with terms of
both kinds becomes the pool term ``F^-1(N / D)``, whose constants the search
on ``y`` tunes and rounds like any other.
"""

from itertools import combinations, product

import numpy as np

from mathlearn.symbolic import _search
from mathlearn.symbolic._expr import size
from mathlearn.symbolic._reduce import _sign, linear_tree, power_tree

#: Pool terms (the smallest) used as ``g``.
_TERMS = 1000
#: The products of powers used as ``h`` (and as ``g``): of up to this many
#: features, with these exponents, at most this many.
_MONOMIAL_FEATURES = 3
_POWERS = (1.0, -1.0, 2.0, -2.0)
_MONOMIALS = 2000
#: Terms of ``N`` and ``D`` together, at most.
_MAX_TERMS = 4
#: The transforms: ``F`` and the operators applied to ``N / D`` to undo it.
_TRANSFORMS = (("identity", ()), ("square", ("sqrt",)))


def _monomials(n_features):
    """Exponent vectors of the products of powers of up to
    :data:`_MONOMIAL_FEATURES` features, simplest first, at most
    :data:`_MONOMIALS` of them."""
    out = []
    for k in range(1, _MONOMIAL_FEATURES + 1):
        for features in combinations(range(n_features), k):
            for powers in product(_POWERS, repeat=k):
                exponents = np.zeros(n_features)
                exponents[list(features)] = powers
                out.append(exponents)
    out.sort(key=lambda e: (np.count_nonzero(e), np.abs(e).sum()))
    return out[:_MONOMIALS]


def _products_pool(pool, X, t, weights):
    """The terms ``g`` (the pool's smallest terms and the monomials), then
    ``t`` times each monomial ``h`` (see module doc)."""
    smallest = np.argsort(pool.sizes, kind="stable")[:_TERMS]
    monomials = [power_tree(e) for e in _monomials(X.shape[1])]
    trees = [pool.trees[i] for i in smallest] + monomials
    M = _search.evaluate_terms(monomials, X)
    values = np.vstack([pool.values[smallest], M])
    n = t.shape[0]
    sub = _search.TermPool(n, 2 * len(trees) * n, weights)
    sub.add(trees, values)
    with np.errstate(all="ignore"):
        products = M * t
    # ("times_target", h) marks F(y) h; it is never evaluated.
    sub.add([("times_target", h) for h in monomials], products)
    return sub


def _ratio_tree(c0, coef, trees, inverse):
    """``F^-1(N / D)`` from the fit ``F(y) = c0 + coef @ terms``, or None."""
    up = [
        (c, tree)
        for c, tree in zip(coef, trees, strict=True)
        if tree[0] != "times_target"
    ]
    down = [
        (c, tree[1])
        for c, tree in zip(coef, trees, strict=True)
        if tree[0] == "times_target"
    ]
    if not down or not (up or c0):
        return None
    scale = abs(up[0][0]) if up else abs(c0)
    if not scale > 0:
        return None
    numerator = (
        linear_tree(
            c0 / scale, np.array([c for c, _ in up]) / scale, [g for _, g in up]
        )
        if up
        else ("c", float(c0 / scale))
    )
    # D = 1 - sum e_j h_j, divided by the same scale as N.
    denominator = linear_tree(
        1.0 / scale, -np.array([c for c, _ in down]) / scale, [h for _, h in down]
    )
    tree = ("div", numerator, denominator)
    for operator in inverse:
        tree = (operator, tree)
    return tree


def rational_terms(pool, X, y, weights, objective, deadline):
    """New pool terms ``F^-1(N / D)`` (see module doc), none larger than
    ``objective.max_complexity - 2`` nodes."""
    sign = _sign(y, weights)
    sqrt_w = None if weights is None else np.sqrt(weights)
    out = []
    for name, inverse in _TRANSFORMS:
        if _search.past(deadline):
            break
        if name == "square" and sign == 0:
            continue
        t = y * y if name == "square" else y
        sub = _products_pool(pool, X, t, weights)
        if weights is None:
            centred = t - t.mean()
        else:
            centred = (t - weights @ t / weights.sum()) * sqrt_w
        front = _search.Front()
        _search.beam_select(
            sub,
            centred,
            front,
            objective._replace(max_terms=min(objective.max_terms, _MAX_TERMS)),
            _search.NARROW_PAIRS,
            deadline=deadline,
        )
        for _, _, state in front.pareto():
            trees = [sub.trees[i] for i in state]
            if not any(tree[0] == "times_target" for tree in trees):
                continue
            G = sub.values[list(state)]
            c0, coef, _ = _search.fit_linear(G, t, sqrt_w)
            tree = _ratio_tree(c0, coef, trees, inverse)
            if tree is not None:
                out.append(tree)
    limit = objective.max_complexity - 2
    return [tree for tree in dict.fromkeys(out) if size(tree) <= limit]
