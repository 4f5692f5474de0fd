"""Symbolic regression: recover the formula behind a curve.

:class:`SymbolicRegressor` searches sums of expression-tree terms with
least-squares coefficients (exhaustive enumeration of small terms, genetic
programming for deeper ones, ``scipy.optimize`` for inner constants), returns
the Pareto front of accuracy against complexity with sympy expressions, and
can reject dimensionally inconsistent formulas given physical units.
:func:`fit_two_stage` fits a family of curves ``y = f(X; a)`` the classic
way: one formula, its constants refitted per curve, a formula per constant.
"""

from mathlearn.symbolic._symbolic import SymbolicRegressor
from mathlearn.symbolic._two_stage import fit_two_stage

__all__ = ["SymbolicRegressor", "fit_two_stage"]
