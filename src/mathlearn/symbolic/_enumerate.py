"""Exhaustive enumeration of small expression trees (step 1 of the search).

Every tree of at most ``max_size`` nodes over the features, the constant 1
and the operators is built bottom-up by size from the distinct subtrees of
smaller sizes, keeping one tree per distinct vector of values on the
training data (observational equivalence).
"""

from typing import NamedTuple

import numpy as np

from mathlearn.symbolic._expr import OPERATORS, constants, is_constant
from mathlearn.symbolic._search import _MAX_ABS, _keys, past
from mathlearn.symbolic._units import DimensionError, node_dimension


def _dim_or_false(node, child_dims):
    """Dimension of ``node`` from its children's, or ``False`` if inconsistent."""
    try:
        return node_dimension(node, child_dims)
    except DimensionError:
        return False


#: Fingerprints of value vectors in the enumeration keep this many mantissa
#: bits: two subtrees with the same rounded values are one function (about 12
#: significant digits, well above the round-off of a few operations).
_VALUE_BITS = 40
#: Constant subtrees (no feature) are kept up to this size: 1, 2, 1/2, ...
_MAX_CONSTANT_SIZE = 3


class Subtree(NamedTuple):
    """A distinct function found by the enumeration."""

    tree: tuple
    values: np.ndarray  # on the training data
    dim: object  # its dimension (a dict), None without units


def _distinct(trees, V, dims, seen, keep_constant):
    """The rows of ``V`` that are usable and not in ``seen`` (which gets them).

    Usable: finite, below :data:`_MAX_ABS`, not constant (unless
    ``keep_constant``) and dimensionally consistent (``dims[i]`` not False).
    """
    with np.errstate(all="ignore"):
        finite = np.isfinite(V).all(axis=1) & (np.abs(V) < _MAX_ABS).all(axis=1)
        spread = np.ptp(np.where(finite[:, None], V, 0.0), axis=1)
        constant = spread <= 1e-12 * np.maximum(np.abs(V).max(axis=1), 1.0)
    index = np.flatnonzero(finite & (~constant | keep_constant))
    out = []
    if index.size == 0:
        return out
    for i, key in zip(index, _keys(V[index], _VALUE_BITS), strict=True):
        if key in seen or dims[i] is False:
            continue
        seen.add(key)
        out.append(Subtree(trees[i], V[i], dims[i]))
    return out


class _Levels:
    """The distinct subtrees of each size, with their values stacked once."""

    def __init__(self, first, units):
        self.by_size = {1: first}
        self.units = units
        self._stacked = {}

    def __getitem__(self, size):
        return self.by_size.get(size, [])

    def values(self, size):
        if size not in self._stacked:
            self._stacked[size] = np.array([e.values for e in self.by_size[size]])
        return self._stacked[size]

    def dims(self, trees, child_dims):
        if not self.units:
            return [None] * len(trees)
        return [
            _dim_or_false(tree, dims)
            for tree, dims in zip(trees, child_dims, strict=True)
        ]


def _unary_level(op, s, levels, seen):
    """Distinct subtrees ``op(t)`` of size ``s``."""
    children = levels[s - 1]
    if not children:
        return []
    with np.errstate(all="ignore"):
        V = op.func(levels.values(s - 1))
    trees = [(op.name, e.tree) for e in children]
    dims = levels.dims(trees, [[e.dim] for e in children])
    return _distinct(trees, V, dims, seen, s <= _MAX_CONSTANT_SIZE)


def _binary_level(op, s, levels, seen, budget, deadline):
    """Distinct subtrees ``op(a, b)`` of size ``s``.

    Stops after the left size whose subtrees exceed ``budget``, or when the
    ``deadline`` passes.
    """
    found = []
    for a in range(1, s - 1):
        b = s - 1 - a
        left, right = levels[a], levels[b]
        if (op.commutative and a > b) or not left or not right:
            continue
        VR = levels.values(b)
        for i, entry in enumerate(left):
            start = i if (op.commutative and a == b) else 0
            rights = right[start:]
            if not rights or past(deadline):
                continue
            with np.errstate(all="ignore"):
                V = op.func(entry.values[None, :], VR[start:])
            trees = [(op.name, entry.tree, e.tree) for e in rights]
            dims = levels.dims(trees, [[entry.dim, e.dim] for e in rights])
            found += _distinct(trees, V, dims, seen, s <= _MAX_CONSTANT_SIZE)
        if len(found) > budget or past(deadline):
            break
    return found


def _add_level(pool, level, deadline=None, limit=None):
    """Add a level's feature terms to the pool, fewest constants first.

    Within an affine class the pool keeps the first tree: this prefers
    ``exp(-x^2)`` to ``exp(1 - x^2)``.
    """
    terms = sorted(
        (e for e in level if not is_constant(e.tree)),
        key=lambda e: len(constants(e.tree)),
    )
    if terms:
        values = np.array([e.values for e in terms])
        pool.add([e.tree for e in terms], values, deadline=deadline, limit=limit)


def _size_level(size, unary, binary, levels, seen, budget, deadline):
    """The new distinct subtrees of ``size`` nodes: unary, then binary.

    A unary operator maps a whole level at once, so the deadline is checked
    before each; the binary levels check it between left subtrees and share
    ``budget`` subtrees.
    """
    new = []
    for op in unary:
        if past(deadline):
            break
        new += _unary_level(op, size, levels, seen)
    for op in binary:
        new += _binary_level(op, size, levels, seen, budget - len(new), deadline)
    return new


def enumerate_terms(
    X,
    operators,
    max_size,
    pool,
    *,
    feature_dims=None,
    deadline=None,
    max_subtrees=200_000,
    max_terms=None,
):
    """Fill ``pool`` with every distinct tree of at most ``max_size`` nodes.

    Trees are built bottom-up by size from the representatives of smaller
    sizes (one tree per distinct value vector on ``X``), so the work grows
    with the number of distinct functions, not of trees. Constant subtrees
    are kept only up to 3 nodes (1, 2, 1/2, ...). With ``feature_dims``,
    dimensionally inconsistent subtrees are dropped as they are built. A
    size is not started when it would take the subtrees beyond
    ``max_subtrees`` (each size being about as many times larger as the
    previous one), and the enumeration stops within a size at the
    ``deadline`` (between operators, and between left subtrees of a binary
    operator). The pool is filled up to ``max_terms`` terms at most
    (``None``: its capacity).

    Returns the levels ``{size: [Subtree, ...]}``, used later for the small
    random subtrees of mutation.
    """
    units = feature_dims is not None
    first = [
        Subtree(
            ("x", j), X[:, j].astype(np.float64), feature_dims[j] if units else None
        )
        for j in range(X.shape[1])
    ]
    first.append(Subtree(("c", 1.0), np.ones(X.shape[0]), {} if units else None))
    seen = set()
    first = [
        e for e in first if _distinct([e.tree], e.values[None, :], [e.dim], seen, True)
    ]
    levels = _Levels(first, units)
    _add_level(pool, first)
    unary = [OPERATORS[name] for name in operators if OPERATORS[name].arity == 1]
    binary = [OPERATORS[name] for name in operators if OPERATORS[name].arity == 2]
    total = len(first)
    for s in range(2, max_size + 1):
        previous, before = levels[s - 1], levels[s - 2]
        growth = len(previous) / len(before) if s > 2 and before else 0.0
        if past(deadline) or (growth and total + len(previous) * growth > max_subtrees):
            break
        new = _size_level(
            s, unary, binary, levels, seen, max_subtrees - total, deadline
        )
        levels.by_size[s] = new
        total += len(new)
        _add_level(pool, new, deadline, max_terms)
        if total > max_subtrees or pool.full(max_terms):
            break
    return levels.by_size
