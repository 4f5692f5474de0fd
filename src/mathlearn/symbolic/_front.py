"""The Pareto front as the user reads it: rounded constants, sympy, selection.

The search's front holds subsets of pool terms with least-squares
coefficients, in the search's units. :func:`front_formulas` refits each,
rounds the constants inside the terms and the coefficients to the fewest
significant digits the data allow, and writes the sympy expression in the
user's units; :func:`front_table` scores the formulas and selects one.
"""

from fractions import Fraction
from typing import NamedTuple

import numpy as np

from mathlearn.symbolic import _search
from mathlearn.symbolic._expr import (
    constants,
    simple_constant,
    size,
    sympy_number,
    to_sympy,
    with_constants,
)

#: Formulas with nmse <= max(factor * nmse of the BIC choice, _ACCURATE_NMSE)
#: are "accurate enough"; the one with the largest score among them is selected.
_ACCURATE_FACTOR = 1.5
_ACCURATE_NMSE = 1e-4
#: Rounding may raise a formula's squared error by this share at least.
_MIN_ROUNDING_SHARE = 1e-3
#: Samples a formula needs per fitted parameter (coefficients, the intercept
#: and inner constants) to be selected.
_SAMPLES_PER_PARAMETER = 2
#: A coefficient is tried as a ratio of integers up to this denominator
#: (1/12, 5/6, ...); the same limit as ``_expr.sympy_number``.
_MAX_DENOMINATOR = 12
#: An inner constant is tried as a small ratio (times a power of pi) within
#: this relative distance of it (the squared-error budget then decides).
_PI_ROUNDING_TOL = 1e-4
#: A rounding of an inner constant to at most this many significant digits
#: (zero has none) is tried again with the later constants of its term
#: refitted: when they share a scale with the term's coefficient, one of
#: them can take any value, and the simplest (0, 1, 2, 0.5) is enough.
_REFIT_DIGITS = 1


class Formula(NamedTuple):
    """One formula of the front: ``intercept + coef @ [g(X) for g in trees]``.

    In the search's units (features divided by ``x_scale``, target by its
    scale); ``expr`` is the sympy expression in the user's units.
    """

    trees: list  # the basis terms (expression trees)
    intercept: float
    coef: np.ndarray  # one per tree
    loss: float  # (weighted) mean squared error on the scaled target
    complexity: int
    expr: object  # sympy.Expr, or None once fitted (rebuilt from _front)


def _user_term(tree, user_symbols, x_scale):
    """A term in the user's units, as a sympy number times an expression.

    The search's term is ``g(x / x_scale)``; when a feature is rescaled, the
    number gathers the scales (``x**2/4096`` gives ``(1/4096, x**2)``).
    """
    import sympy

    expr = to_sympy(tree, user_symbols)
    if np.all(x_scale == 1):
        return sympy.Integer(1), expr
    return expr.as_independent(*expr.free_symbols, as_Add=False)


def _user_number(c, y_scale, factor=1):
    """``c * y_scale * factor`` (``factor`` a sympy number) as a sympy number.

    From the float product where float64 holds it, else exact: sympy
    numbers have no exponent range.
    """
    import sympy

    user = float(c) * y_scale * float(factor)
    if np.isfinite(user) and (user != 0 or c == 0):
        return sympy_number(user)
    return sympy_number(c) * sympy.Rational(y_scale) * factor


def _round_sig(value, digits):
    if value == 0 or not np.isfinite(value):
        return value
    return float(f"{value:.{digits - 1}e}")


def front_formulas(
    front, pool, X, target, x_scale, user_symbols, *, optimizer=None, deadline=None
):
    """Fit, round and describe each front entry: a list of :class:`Formula`.

    The search sees ``X / x_scale`` and ``target.y``: trees, coefficients
    and losses stay in those units (``predict`` uses them), and the
    sympy expression is in the user's (``user_symbols``, the features divided
    by ``x_scale``). ``optimizer`` refits the constants of a term when one
    of them is rounded, until the ``deadline`` (see :func:`_round_constants`).
    """
    y = target.y
    formulas = []
    for _, _, state in front.pareto():
        trees = [pool.trees[i] for i in state]
        G = _search.evaluate_terms(trees, X)
        c0, coef, sse = _search.fit_linear(G, y, target.sqrt_w)
        budget = sse * (1 + _rounding_share(target.n)) + target.loss_floor * target.sst
        strict = sse * (1 + 1e-9) + target.loss_floor * target.sst
        trees, G, c0, coef = _round_constants(
            trees, G, X, y, target.sqrt_w, budget, optimizer, deadline
        )
        terms = [_user_term(tree, user_symbols, x_scale) for tree in trees]
        factors = [float(factor) for factor, _ in terms]  # inf or 0 if beyond
        params, sse = _round_coefficients(
            np.concatenate([[c0], coef]),
            G,
            y,
            target.scale * np.array([1.0, *factors]),
            budget,
            strict,
            target.sqrt_w,
        )
        c0, coef = float(params[0]), params[1:]
        keep = coef != 0
        trees = [t for t, k in zip(trees, keep, strict=True) if k]
        terms = [t for t, k in zip(terms, keep, strict=True) if k]
        coef = coef[keep]
        complexity = _search.complexity_of([size(t) for t in trees])
        if c0 == 0 and trees:
            complexity -= 1
        # Coefficients in the user's units, as rounded.
        expr = _user_number(c0, target.scale)
        for c, (factor, rest) in zip(coef, terms, strict=True):
            expr = expr + _user_number(c, target.scale, factor) * rest
        formulas.append(Formula(trees, c0, coef, sse / target.n, complexity, expr))
    # Rounding can merge or reorder entries: keep the Pareto-optimal ones.
    formulas.sort(key=lambda f: (f.complexity, f.loss))
    kept, best = [], np.inf
    for formula in formulas:
        if formula.loss < best * (1 - 1e-9) or not kept:
            kept.append(formula)
            best = formula.loss
    return kept


def _rounding_share(n_samples):
    """How much rounding may raise a formula's squared error, as a share.

    ``log(n) / n``, the Bayesian information criterion's price of one
    parameter (a parameter is worth its digits when it cuts ``n log(sse)``
    by ``log(n)``), and at least :data:`_MIN_ROUNDING_SHARE`. On noisy data
    the fit's last digits, and constants such as ``+ 0.0004``, fit the
    noise: they are rounded away. On exact data the squared error is
    round-off, and so is the budget.
    """
    return max(_MIN_ROUNDING_SHARE, np.log(max(n_samples, 2.0)) / n_samples)


def _roundings(value):
    """The values an inner constant is rounded to, simplest first, with their
    significant digits: 0 (none), one digit, a small ratio or a ratio times a
    power of pi near it (see :func:`~._expr.simple_constant`; counted as one
    digit), then 2, 3, ... digits until ``value``."""
    yield 0.0, 0
    for digits in range(1, 13):
        rounded = _round_sig(value, digits)
        if rounded == value:
            return
        yield rounded, digits
        if digits == 1:
            found = simple_constant(value, _PI_ROUNDING_TOL)
            if found is not None:
                yield found[0] * np.pi ** found[1], 1


def _round_constants(trees, G, X, y, sqrt_w, budget, optimizer=None, deadline=None):
    """Round the constants inside the terms to the fewest significant digits
    (zero first) that keep the squared error within ``budget``.

    The constants of a term are rounded one at a time, in depth-first
    order. A rounding to at most :data:`_REFIT_DIGITS` significant digits
    that costs too much is tried again with the term's later constants
    refitted by ``optimizer`` (see
    :func:`~._search.optimize_constants`; no refit if None), as
    :func:`_round_coefficients` refits the coefficients: the constants of a
    term can share a scale with its coefficient, which no constant takes
    back alone (``c (a/r2 - b/r1)`` fitted to noisy data gives ``a =
    0.995``, ``b = 0.996``, and ``a = 1`` needs ``b = 1.001``). No refit is
    started after the ``deadline``. Returns the trees, their values ``G``
    and the linear fit ``c0, coef``.
    """
    fitted = _search.fit_linear(G, y, sqrt_w)
    trees = list(trees)
    for k in range(len(trees)):
        values = constants(trees[k])
        for pos, value in enumerate(values):
            for rounded, digits in _roundings(value):
                trial = list(values)
                trial[pos] = rounded
                refit = None
                if digits <= _REFIT_DIGITS and not _search.past(deadline):
                    refit = optimizer
                found = _rounded(trees, k, trial, pos, X, y, sqrt_w, budget, refit)
                if found is not None:
                    trees, G, fitted = found
                    values = constants(trees[k])
                    break
    return trees, G, fitted[0], fitted[1]


def _rounded(trees, k, trial, pos, X, y, sqrt_w, budget, optimizer):
    """``(trees, G, fit)`` with the constants of term ``k`` set to ``trial``
    and, if that costs more than ``budget``, its constants after ``pos``
    refitted by ``optimizer`` (if not None); None if that costs more too.
    """
    trees = [*trees[:k], with_constants(trees[k], trial), *trees[k + 1 :]]
    G = _search.evaluate_terms(trees, X)
    if not np.isfinite(G).all():
        return None
    fitted = _search.fit_linear(G, y, sqrt_w)
    if fitted[2] <= budget:
        return trees, G, fitted
    if pos + 1 == len(trial) or optimizer is None:
        return None
    counts = [len(constants(tree)) for tree in trees]
    free = np.zeros(sum(counts), dtype=bool)
    first = sum(counts[:k])
    free[first + pos + 1 : first + counts[k]] = True
    trees, sse = _search.optimize_constants(trees, X, y, optimizer, sqrt_w, free)
    if not sse <= budget:
        return None
    G = _search.evaluate_terms(trees, X)
    return trees, G, _search.fit_linear(G, y, sqrt_w)


def _round_coefficients(params, G, y, to_user, budget, strict, sqrt_w):
    """Round ``c0, c1, ...`` to the fewest significant digits that keep the
    squared error within ``budget`` (a ratio of small integers: ``strict``).

    Rounded as the user reads them, ``params * to_user`` (the number in
    front of each term in the user's units), one at a time; after each
    trial the coefficients not yet rounded are refitted by least squares,
    so that dropping the intercept ``+ 0.01`` of a noisy fit lets the slope
    take it up. Returns the coefficients, in the search's units, and their
    sum of squared errors.
    """
    basis = np.vstack([np.ones_like(y), G]) if len(G) else np.ones_like(y)[None]
    if sqrt_w is not None:
        basis, y = basis * sqrt_w, y * sqrt_w

    def sse_of(p):
        r = p @ basis - y
        return float(r @ r)

    def refit_after(p, k):
        """``p`` with the coefficients after ``k`` refitted."""
        if k + 1 < p.size:
            rest = y - p[: k + 1] @ basis[: k + 1]
            p[k + 1 :], *_ = np.linalg.lstsq(basis[k + 1 :].T, rest, rcond=None)
        return p

    for k in range(params.size):
        with np.errstate(over="ignore", under="ignore"):
            value = params[k] * to_user[k]
        if not np.isfinite(value) or value == 0:
            continue  # zero, or beyond float64 in the user's units
        ratio = Fraction(value).limit_denominator(_MAX_DENOMINATOR)
        nice = float(ratio)
        # Only a ratio of small integers (5/6, 143/12): the nearest ratio to a
        # large number is as close to it as the number's own digits.
        if 0 < abs(ratio.numerator) < _MAX_DENOMINATOR**2:
            if nice == value:
                continue  # already the ratio: fewer digits would only cost
            # A ratio of small integers only where it is exact to round-off.
            trial = params.copy()
            trial[k] = nice / to_user[k]
            trial = refit_after(trial, k)
            if sse_of(trial) <= strict:
                params = trial
                continue
        for digits in range(0, 16):
            trial = params.copy()
            trial[k] = 0.0 if digits == 0 else _round_sig(value, digits)
            trial[k] /= to_user[k]
            if digits and trial[k] == params[k]:
                break
            trial = refit_after(trial, k)
            if sse_of(trial) <= budget:
                params = trial
                break
    return params, sse_of(params)


def _n_params(formula):
    """Fitted parameters of a formula: coefficients, intercept, inner constants."""
    inner = sum(len(constants(tree)) for tree in formula.trees)
    return len(formula.coef) + int(formula.intercept != 0) + inner


def front_table(formulas, target, parsimony):
    """The front in the units of ``y`` as a dict of columns, and the selected row.

    The ``sympy`` column holds ``sympy.srepr`` strings, which
    :attr:`pareto_front_` turns back into expressions. The selection starts
    from the formula with the smallest Bayesian information criterion plus
    ``parsimony`` per unit of complexity, in units of ``log(nmse)`` per
    sample (see the Notes of :class:`SymbolicRegressor`).
    """
    import sympy

    scale = target.scale
    n_samples = target.n  # the sum of the weights
    var = target.sst / n_samples
    loss = np.array([formula.loss for formula in formulas])  # scaled y
    nmse = loss / max(var, 1e-300)
    complexity = np.array([formula.complexity for formula in formulas])
    log_loss = np.log(np.maximum(loss, max(var * target.loss_floor, 1e-300)))
    score = np.zeros(len(formulas))
    score[1:] = -np.diff(log_loss) / np.diff(complexity)
    exprs = [formula.expr for formula in formulas]
    with np.errstate(over="ignore"):  # an MSE beyond float64 is inf
        user_loss = loss * scale * scale  # scale**2 alone can overflow
    table = {
        "complexity": complexity,
        "loss": user_loss,
        "score": score,
        "expression": [sympy.sstr(e, full_prec=False) for e in exprs],
        "sympy": [sympy.srepr(e) for e in exprs],
    }
    floored = np.maximum(nmse, target.loss_floor)
    # The BIC counts each node as a parameter; parsimony is the user's price
    # on top of it, so that parsimony=0 is the plain BIC.
    # A formula with a parameter for every other sample can interpolate the
    # data: its round-off loss says nothing (Kepler's 8 planets and a 7-term
    # formula). The constant always has enough samples.
    n_params = np.array([_n_params(formula) for formula in formulas])
    # Samples are counted as the BIC counts them: integer weights repeat rows.
    supported = (n_params * _SAMPLES_PER_PARAMETER <= n_samples) | (
        np.arange(len(formulas)) == 0
    )
    criterion = np.where(supported, 0.0, np.inf) + (
        np.log(floored)
        + (np.log(max(n_samples, 2.0)) / n_samples + parsimony) * complexity
    )
    best = int(np.argmin(criterion))
    if nmse[best] <= target.loss_floor:
        selected = best  # an exact formula
    else:
        admissible = (
            (nmse <= max(_ACCURATE_FACTOR * nmse[best], _ACCURATE_NMSE))
            & (complexity <= complexity[best])
            & supported
        )
        selected = int(np.argmax(np.where(admissible, score, -np.inf)))
    return table, selected
