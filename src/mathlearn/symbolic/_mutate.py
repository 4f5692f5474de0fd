"""Genetic programming on basis terms: mutation, crossover, feature scales."""

import numpy as np

from mathlearn.symbolic._expr import OPERATORS, replace, subtrees
from mathlearn.symbolic._units import _NEEDS_DIMENSIONLESS

#: Operators under which a feature gets a tunable scale (see scale_variant).
_TRANSCENDENTAL = _NEEDS_DIMENSIONLESS | {"pow"}


def is_algebraic(tree):
    """Whether ``tree`` uses no exp, log, sin, cos or tanh."""
    if tree[0] in _NEEDS_DIMENSIONLESS:
        return False
    if tree[0] in ("x", "c"):
        return True
    return all(is_algebraic(child) for child in tree[1:])


def scale_variant(tree):
    """``tree`` with ``c * x_j`` in place of each feature under a transcendental op.

    The constant starts at 1, so the values are unchanged until
    :func:`optimize_constants` moves it (``sin(x)`` -> ``sin(1.3 x)``).
    Returns ``tree`` itself when no feature is under such an operator.
    """

    def walk(node, inside):
        if node[0] == "x":
            return ("mul", ("c", 1.0), node) if inside else node
        if node[0] == "c":
            return node
        inner = inside or node[0] in _TRANSCENDENTAL
        return (node[0], *(walk(child, inner) for child in node[1:]))

    new = walk(tree, False)
    return new if new != tree else tree


def mutate(tree, other, small, operators, rng):
    """One random genetic-programming variation of ``tree``.

    ``other`` is a second parent for crossover, ``small`` a list of small
    trees (up to 3 nodes) to graft, ``operators`` the allowed operator names.
    """
    nodes = list(subtrees(tree))
    path, node = nodes[rng.randint(len(nodes))]
    unary = [o for o in operators if OPERATORS[o].arity == 1]
    binary = [o for o in operators if OPERATORS[o].arity == 2]
    kind = rng.randint(6)
    if kind == 0:  # crossover
        other_nodes = list(subtrees(other))
        new = other_nodes[rng.randint(len(other_nodes))][1]
    elif kind == 1 and unary:  # wrap in a unary operator
        new = (unary[rng.randint(len(unary))], node)
    elif kind == 2 and binary:  # combine with a small tree
        graft = small[rng.randint(len(small))]
        op = binary[rng.randint(len(binary))]
        new = (op, node, graft) if rng.rand() < 0.5 else (op, graft, node)
    elif kind == 3:  # replace with a small tree
        new = small[rng.randint(len(small))]
    elif kind == 4 and node[0] not in ("x", "c"):  # point mutation
        same = [o for o in operators if OPERATORS[o].arity == len(node) - 1]
        new = (same[rng.randint(len(same))], *node[1:])
    elif kind == 5 and node[0] == "x":  # scale a feature
        new = ("mul", ("c", float(np.round(np.exp(rng.normal()), 3))), node)
    else:  # hoist: the chosen subtree becomes the whole term
        return node
    return replace(tree, path, new)
