"""Symbolic regression: recover the formula behind a curve.

:class:`SymbolicRegressor` searches sums of expression-tree terms with
least-squares coefficients (exhaustive enumeration of small terms, genetic
programming for deeper ones, ``scipy.optimize`` for inner constants), returns
the Pareto front of accuracy against complexity with sympy expressions, and
can reject dimensionally inconsistent formulas given physical units.
"""

from mathlearn.symbolic._symbolic import SymbolicRegressor

__all__ = ["SymbolicRegressor"]
