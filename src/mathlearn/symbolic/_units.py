"""Physical dimensions: parsing unit specifications and checking trees.

A dimension is a mapping from base-unit names to exponents, e.g. ``{"m": 1,
"s": -2}`` for an acceleration; the empty mapping is dimensionless. Units are
given either as such a mapping or as a string: factors ``name`` or
``name^p`` (``**`` works too) joined by ``*`` and ``/``, e.g. ``"kg*m^2/s^2"``;
``""``, ``"1"`` and ``"dimensionless"`` mean no dimension.

The rules (:func:`dimension_of`): ``+``/``-`` need equal dimensions;
``*``/``/`` add/subtract exponents; ``square``/``cube``/``sqrt``/``inv``
scale them by 2, 3, 1/2, -1; ``abs``/``neg`` keep them; ``exp``, ``log``,
``sin``, ``cos``, ``tanh`` need a dimensionless argument and give a
dimensionless result; ``a ** b`` needs a dimensionless ``b``, and when ``a``
has a dimension ``b`` must be a constant (a number), which scales ``a``'s
exponents. Numeric constants inside a tree are dimensionless, so ``r + 1``
with ``r`` in metres is inconsistent.
"""

import re
from collections.abc import Mapping
from fractions import Fraction
from numbers import Real

import numpy as np

from mathlearn.symbolic._expr import evaluate, is_constant, to_string

_DIMENSIONLESS = ("", "1", "dimensionless")
_BASE = r"[A-Za-z_][A-Za-z_0-9]*"  # the name of a base unit
_NAME = re.compile(rf"^{_BASE}$")
_FACTOR = re.compile(rf"^({_BASE})\s*(?:(?:\^|\*\*)\s*([-+]?\d+(?:\.\d+)?))?$")


class DimensionError(ValueError):
    """A formula combines quantities in a way their dimensions forbid."""


def _clean(exponents):
    return {k: v for k, v in exponents.items() if v != 0}


def parse_unit(unit, *, what="unit"):
    """Turn a unit string or mapping into a dict ``{base: Fraction exponent}``.

    Examples
    --------
    >>> parse_unit("kg*m^2/s^2") == {"kg": 1, "m": 2, "s": -2}
    True
    >>> parse_unit({"m": 1, "s": -1}) == {"m": 1, "s": -1}
    True
    """
    if isinstance(unit, Mapping):
        out = {}
        for base, power in unit.items():
            if (
                not isinstance(base, str)
                or not isinstance(power, Real)
                or isinstance(power, bool)
            ):
                raise TypeError(
                    f"{what}={unit!r}: a unit mapping needs str keys and number "
                    "values (base unit -> exponent)"
                )
            if _NAME.match(base) is None:
                raise ValueError(
                    f"{what}={unit!r}: the base unit {base!r} must be a name such "
                    "as 'm' or 'kg' (letters, digits and '_', not starting with a "
                    "digit)"
                )
            if not np.isfinite(power):
                raise ValueError(
                    f"{what}={unit!r}: the exponent of {base!r} must be a finite "
                    f"number, got {power!r}"
                )
            out[base] = Fraction(power).limit_denominator(1000)
        return _clean(out)
    if not isinstance(unit, str):
        raise TypeError(
            f"{what}={unit!r} must be a string such as 'm/s^2' or a mapping "
            "such as {'m': 1, 's': -2}"
        )
    text = unit.replace(" ", "")
    if text in _DIMENSIONLESS:
        return {}
    if re.match(r"^[*/]|.*[*/]$|.*[*/]{3}|.*/\*|.*\*/", text):
        raise ValueError(
            f"{what}={unit!r}: a '*' or '/' lacks a factor; write units as 'kg*m^2/s^2'"
        )
    out = {}
    # Split into factors, remembering whether each follows '/'.
    tokens = re.split(r"(?<!\*)([*/])(?!\*)", text)
    sign = 1
    for token in tokens:
        if token == "*":
            sign = 1
            continue
        if token == "/":
            sign = -1
            continue
        if token in ("", "1"):
            continue
        match = _FACTOR.match(token)
        if match is None:
            raise ValueError(
                f"{what}={unit!r}: cannot read the factor {token!r}; write "
                "units as 'kg*m^2/s^2'"
            )
        power = Fraction(match.group(2) or 1).limit_denominator(1000)
        out[match.group(1)] = out.get(match.group(1), 0) + sign * power
    return _clean(out)


def format_unit(exponents):
    """A readable string of a dimension (``"1"`` when dimensionless)."""
    if not exponents:
        return "1"
    parts = []
    for base in sorted(exponents):
        power = exponents[base]
        parts.append(base if power == 1 else f"{base}^{power}")
    return "*".join(parts)


def _scale(dim, factor):
    return _clean({k: v * factor for k, v in dim.items()})


def _combine(a, b, sign):
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + sign * v
    return _clean(out)


#: The transcendental functions of one argument: they need a dimensionless
#: argument, and a term using one is not algebraic (``_mutate.is_algebraic``).
_NEEDS_DIMENSIONLESS = frozenset({"exp", "log", "sin", "cos", "tanh"})


def node_dimension(node, child_dims):
    """Dimension of ``node`` from its children's dimensions (``child_dims``).

    Raises :class:`DimensionError` naming the rule that ``node`` breaks.
    """
    name = node[0]
    if name == "c":
        return {}
    if name in ("add", "sub"):
        left, right = child_dims
        if left != right:
            raise DimensionError(f"adds {format_unit(left)} to {format_unit(right)}")
        return left
    if name == "mul":
        return _combine(child_dims[0], child_dims[1], 1)
    if name == "div":
        return _combine(child_dims[0], child_dims[1], -1)
    if name == "pow":
        base, exponent = child_dims
        if exponent:
            raise DimensionError(f"exponent in {format_unit(exponent)}")
        if not base:
            return {}
        if not is_constant(node[2]):
            raise DimensionError(
                f"{format_unit(base)} raised to a power that depends on the data"
            )
        with np.errstate(all="ignore"):
            value = float(evaluate(node[2], np.zeros((1, 1)))[0])
        if not np.isfinite(value):
            raise DimensionError(f"{format_unit(base)} raised to the power {value}")
        return _scale(base, Fraction(value).limit_denominator(1000))
    (dim,) = child_dims
    if name in _NEEDS_DIMENSIONLESS:
        if dim:
            raise DimensionError(f"{name} of a quantity in {format_unit(dim)}")
        return {}
    factor = {"square": 2, "cube": 3, "sqrt": Fraction(1, 2), "inv": -1}
    if name in factor:
        return _scale(dim, factor[name])
    return dim  # abs, neg


def dimension_of(tree, feature_dims, names=None):
    """The dimension of ``tree``, or raise :class:`DimensionError`.

    Parameters
    ----------
    tree : tuple
        Expression tree (see :mod:`mathlearn.symbolic._expr`).
    feature_dims : list of dict
        Dimension of each feature, from :func:`parse_unit`.
    names : list of str, default=None
        Feature names used in the error message.

    Returns
    -------
    dim : dict
        Base unit to exponent; empty when dimensionless.

    Examples
    --------
    >>> metres, seconds = parse_unit("m"), parse_unit("s")
    >>> tree = ("div", ("x", 0), ("x", 1))
    >>> format_unit(dimension_of(tree, [metres, seconds]))
    'm*s^-1'
    >>> dimension_of(("add", ("x", 0), ("x", 1)), [metres, seconds])
    Traceback (most recent call last):
    ...
    mathlearn.symbolic._units.DimensionError: (x0 + x1): adds m to s
    """
    names = names or [f"x{j}" for j in range(len(feature_dims))]

    def walk(node):
        if node[0] == "x":
            return feature_dims[node[1]]
        if node[0] == "c":
            return {}
        child_dims = [walk(child) for child in node[1:]]
        try:
            return node_dimension(node, child_dims)
        except DimensionError as exc:
            raise DimensionError(f"{to_string(node, names)}: {exc}") from None

    return walk(tree)


def is_consistent(tree, feature_dims):
    """Whether :func:`dimension_of` accepts ``tree``."""
    try:
        dimension_of(tree, feature_dims)
    except DimensionError:
        return False
    return True
