"""Expression trees: operators, vectorised evaluation, printing, sympy.

A tree is a nested tuple. Leaves are ``("x", j)`` (feature ``j``) and
``("c", value)`` (a numeric constant); inner nodes are ``(name, child)`` or
``(name, left, right)`` with ``name`` a key of :data:`OPERATORS`. Tuples are
hashable, so a tree is its own cache key, and equal trees compare equal.

Every operator is the plain mathematical function (``log`` is the natural
logarithm of a positive number, not a "protected" log of ``|x|``): a formula
whose value is not finite on the training data is discarded by the search, so
a found formula means what it says. Evaluation runs under
``np.errstate(all="ignore")``; callers check finiteness.
"""

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class Operator:
    """One operator: its name, arity and NumPy rule; whether it commutes."""

    name: str
    arity: int
    func: object
    commutative: bool = False


def _square(a):
    return a * a


def _cube(a):
    return a * a * a


def _inv(a):
    return 1.0 / a


OPERATORS = {
    op.name: op
    for op in [
        Operator("add", 2, np.add, True),
        Operator("sub", 2, np.subtract),
        Operator("mul", 2, np.multiply, True),
        Operator("div", 2, np.divide),
        Operator("pow", 2, np.power),
        Operator("square", 1, _square),
        Operator("cube", 1, _cube),
        Operator("sqrt", 1, np.sqrt),
        Operator("exp", 1, np.exp),
        Operator("log", 1, np.log),
        Operator("sin", 1, np.sin),
        Operator("cos", 1, np.cos),
        Operator("tanh", 1, np.tanh),
        Operator("abs", 1, np.abs),
        Operator("inv", 1, _inv),
        Operator("neg", 1, np.negative),
    ]
}

#: The operators searched by default (see ``SymbolicRegressor``).
DEFAULT_OPERATORS = (
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "square",
    "cube",
    "sqrt",
    "exp",
    "log",
    "sin",
    "cos",
    "neg",
)


def size(tree):
    """Number of nodes of ``tree``."""
    if tree[0] in ("x", "c"):
        return 1
    return 1 + sum(size(child) for child in tree[1:])


def is_constant(tree):
    """Whether ``tree`` has no feature leaf."""
    if tree[0] == "x":
        return False
    if tree[0] == "c":
        return True
    return all(is_constant(child) for child in tree[1:])


def constants(tree):
    """The constant leaves' values, in depth-first order."""
    if tree[0] == "c":
        return [tree[1]]
    if tree[0] == "x":
        return []
    out = []
    for child in tree[1:]:
        out.extend(constants(child))
    return out


def with_constants(tree, values):
    """``tree`` with its constant leaves replaced, in depth-first order."""
    values = iter(values)

    def rebuild(node):
        if node[0] == "c":
            return ("c", float(next(values)))
        if node[0] == "x":
            return node
        return (node[0], *(rebuild(child) for child in node[1:]))

    return rebuild(tree)


def subtrees(tree, path=()):
    """Yield ``(path, subtree)`` for every node, ``path`` a tuple of child slots."""
    yield path, tree
    if tree[0] not in ("x", "c"):
        for k, child in enumerate(tree[1:], start=1):
            yield from subtrees(child, (*path, k))


def replace(tree, path, new):
    """``tree`` with the node at ``path`` replaced by ``new``."""
    if not path:
        return new
    k = path[0]
    children = list(tree[1:])
    children[k - 1] = replace(tree[k], path[1:], new)
    return (tree[0], *children)


def evaluate(tree, X, cache=None):
    """Values of ``tree`` on the rows of ``X`` (float64), one NumPy call per node.

    ``cache`` (a dict) maps subtrees to their values on this ``X``; repeated
    subtrees, within a tree and across the trees of a population, are computed
    once. Call under ``np.errstate(all="ignore")``.
    """
    if cache is not None:
        hit = cache.get(tree)
        if hit is not None:
            return hit
    name = tree[0]
    if name == "x":
        value = X[:, tree[1]]
    elif name == "c":
        value = np.full(X.shape[0], tree[1])
    else:
        args = [evaluate(child, X, cache) for child in tree[1:]]
        value = OPERATORS[name].func(*args)
    if cache is not None:
        cache[tree] = value
    return value


def sympy_number(value):
    """``value`` as a sympy Integer, a Rational ``p/q`` when it is one to
    round-off and has no short decimal form (``q`` in 3, 6, 7, 9, 11, 12),
    or else a Float holding all of its digits."""
    import sympy

    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return sympy.Integer(int(value))
    ratio = Fraction(value).limit_denominator(12)
    if ratio.denominator in (3, 6, 7, 9, 11, 12) and abs(
        float(ratio) - value
    ) <= 1e-12 * abs(value):  # p/q with no short decimal form
        return sympy.Rational(ratio.numerator, ratio.denominator)
    return sympy.Float(value, 15)


#: Powers of pi an inner constant may carry (``h w / (2 pi kb T)`` in an
#: exponential: Planck's constant is often given as ``h``, not ``hbar``); 0
#: for a plain ratio such as 1/3.
_PI_POWERS = (0, 1, -1, 2, -2)
#: Largest numerator and denominator of the rational factor of such a
#: constant, and how close (relatively) it must be to it.
_PI_DENOMINATOR = 12
_PI_TOL = 1e-12


def _has_long_decimal(ratio):
    """Whether the fraction has no finite decimal form (1/3, 5/12, not 3/4)."""
    q = ratio.denominator
    while q % 2 == 0:
        q //= 2
    while q % 5 == 0:
        q //= 5
    return q > 1


def simple_constant(value, tol=_PI_TOL):
    """``(p/q * 2**e, j)`` with ``value = p/q * 2**e * pi**j`` to ``tol``, or None.

    ``p`` and ``q`` are small (at most :data:`_PI_DENOMINATOR`); the power of
    two is free because the search's features are the user's divided by
    powers of two, which a constant gathers. ``j`` is tried in
    :data:`_PI_POWERS`' order; ``j = 0`` only for a ratio without a finite
    decimal form (the rounding to digits finds the others).
    """
    value = float(value)
    if value == 0 or not np.isfinite(value):
        return None
    for j in _PI_POWERS:
        mantissa, e = np.frexp(abs(value) / np.pi**j)
        ratio = Fraction(float(mantissa)).limit_denominator(_PI_DENOMINATOR)
        if (
            ratio.numerator <= _PI_DENOMINATOR
            and abs(float(ratio) - mantissa) <= tol * mantissa
            and (j != 0 or _has_long_decimal(ratio))
        ):
            return float(np.sign(value) * float(ratio) * 2.0 ** int(e)), j
    return None


def inner_number(value):
    """An inner constant as a sympy number: ``p/q pi**j`` when it is one to
    round-off (see :func:`simple_constant`), else :func:`sympy_number`'s."""
    import sympy

    found = simple_constant(value)
    if found is None:
        return sympy_number(value)
    factor, j = found
    return sympy.nsimplify(factor, rational=True) * sympy.pi**j


def to_sympy(tree, symbols, constant_symbols=None):
    """The sympy expression of ``tree``, features named by ``symbols``.

    ``constant_symbols`` (an iterator) replaces the constant leaves, in
    depth-first order, by symbols; by default they are numbers.
    """
    import sympy

    name = tree[0]
    if name == "x":
        return symbols[tree[1]]
    if name == "c":
        if constant_symbols is not None:
            return next(constant_symbols)
        return inner_number(tree[1])
    args = [to_sympy(child, symbols, constant_symbols) for child in tree[1:]]
    rules = {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b,
        "pow": lambda a, b: a**b,
        "square": lambda a: a**2,
        "cube": lambda a: a**3,
        "sqrt": sympy.sqrt,
        "exp": sympy.exp,
        "log": sympy.log,
        "sin": sympy.sin,
        "cos": sympy.cos,
        "tanh": sympy.tanh,
        "abs": sympy.Abs,
        "inv": lambda a: 1 / a,
        "neg": lambda a: -a,
    }
    return rules[name](*args)


def to_string(tree, names):
    """A compact infix string of ``tree`` (no simplification); a cache key too."""
    name = tree[0]
    if name == "x":
        return names[tree[1]]
    if name == "c":
        return f"{tree[1]:.6g}"
    args = [to_string(child, names) for child in tree[1:]]
    infix = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^"}
    if name in infix:
        return f"({args[0]} {infix[name]} {args[1]})"
    return f"{name}({args[0]})"
