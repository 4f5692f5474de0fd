"""The two-stage fit of a family of curves ``y = f(X; a)``."""

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import Bunch, check_array, check_X_y

from mathlearn.symbolic import _mutate, _search
from mathlearn.symbolic._expr import constants, sympy_number, to_sympy
from mathlearn.symbolic._front import Formula, _round_sig
from mathlearn.symbolic._symbolic import SymbolicRegressor
from mathlearn.utils._validation import check_finite_target

#: A constant whose values across the curves all lie within this share of
#: their magnitude is one number, not a function of ``a``.
_CONSTANT_SPREAD = 1e-9
#: A constant at most this share of the target's magnitude on every curve is 0.
_NEGLIGIBLE = 1e-12


def fit_two_stage(estimator, X, y, parameter):
    """The two-stage fit of a family of curves ``y = f(X; a)``.

    The classic route for curves measured at several values of a parameter
    ``a``: (1) find a formula for one curve (the value of ``a`` with the
    most samples) with a clone of ``estimator``, and free all of its
    constants ``theta`` (linear coefficients, constants inside terms, and a
    scale on each feature under a transcendental operator); (2) refit
    ``theta`` on each curve by ``scipy.optimize`` (variable projection);
    (3) find a formula for each ``theta_k`` as a function of ``a`` with
    another clone. Fitting ``(X, a)`` in one go with
    :meth:`SymbolicRegressor.fit` finds ``f(X; a)`` directly; this function
    gives the per-curve constants and the composed formula to compare with.

    Parameters
    ----------
    estimator : SymbolicRegressor or None
        The settings of both searches (it is cloned, never fitted itself);
        ``None`` uses ``SymbolicRegressor()``. The searches for
        ``theta_k(a)`` drop its ``units``, which do not describe ``a``.
    X : array-like of shape (n_samples, n_features)
        The curve variables (without ``a``); column names of a DataFrame
        name the variables.
    y : array-like of shape (n_samples,)
        Target values.
    parameter : array-like of shape (n_samples,)
        The value of ``a`` of each sample; at least 3 distinct values.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        structure : sympy.Expr
            The shared formula, in the features and ``theta0, theta1, ...``.
        theta : pandas.DataFrame
            One row per value of ``a``: column ``a``, the constants, and the
            curve's mean squared error ``loss``.
        theta_formulas : dict of str to sympy.Expr
            The formula of each ``theta_k`` in ``a``.
        formula : sympy.Expr
            The composed ``f(X; a)``.
        loss : float
            Mean squared error of ``formula`` on all samples.
        estimator : SymbolicRegressor
            The clone fitted on the reference curve.

    See Also
    --------
    SymbolicRegressor : The search used at both stages.

    Notes
    -----
    The cost is one search on the reference curve, one constant fit per
    value of ``a``, and one search per constant that varies with ``a``.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.symbolic import SymbolicRegressor, fit_two_stage
    >>> r = np.tile(np.linspace(0, 3, 15), 4)
    >>> a = np.repeat([0.5, 1.0, 2.0, 3.0], 15)
    >>> result = fit_two_stage(
    ...     SymbolicRegressor(generations=1, random_state=0), r[:, None],
    ...     np.exp(-r / a), a)
    >>> result.formula
    exp(-x0/a)
    >>> list(result.theta.columns)
    ['a', 'theta0', 'theta1', 'theta2', 'loss']
    """
    import sympy

    if estimator is None:
        estimator = SymbolicRegressor()
    if not isinstance(estimator, SymbolicRegressor):
        raise TypeError(
            f"estimator={estimator!r} must be a SymbolicRegressor or None: the "
            "two-stage fit frees the constants of its formula"
        )
    X_values, y = check_X_y(X, y, dtype=np.float64, y_numeric=True)
    y = check_finite_target(y)
    parameter = _check_parameter(parameter, X_values.shape[0])
    values, counts = np.unique(parameter, return_counts=True)
    if values.size < 3:
        raise ValueError(
            f"parameter has {values.size} distinct values; the two-stage "
            "fit needs at least 3 to find a formula for each constant"
        )
    mask = parameter == values[np.argmax(counts)]
    # A DataFrame keeps its column names: they name the variables.
    X_curve = X.iloc[mask] if hasattr(X, "iloc") else X_values[mask]
    reference = clone(estimator).fit(X_curve, y[mask])
    result = _compose(reference, X_values, y, parameter, values)
    helper = clone(estimator).set_params(units=None, verbose=0)
    theta_formulas = {}
    negligible = _NEGLIGIBLE * max(float(np.abs(y).max()), 1e-300)
    for name in result.theta.columns[1:-1]:
        column = result.theta[name].to_numpy()
        if np.abs(column).max() <= negligible:
            theta_formulas[name] = sympy.Integer(0)
        elif np.ptp(column) <= _CONSTANT_SPREAD * max(np.abs(column).max(), 1e-300):
            theta_formulas[name] = sympy_number(_round_sig(column.mean(), 12))
        else:
            fitted = helper.fit(pd.DataFrame({"a": result.theta["a"]}), column)
            theta_formulas[name] = fitted.sympy()
    symbols = {s.name: s for s in result.structure.free_symbols}
    composed = result.structure.xreplace(
        {symbols[n]: f for n, f in theta_formulas.items() if n in symbols}
    )
    composed = _integers(sympy.simplify(_integers(composed)))
    feature_symbols = [sympy.Symbol(n, real=True) for n in reference._names()]
    f = sympy.lambdify(
        [*feature_symbols, sympy.Symbol("a", real=True)], composed, "numpy"
    )
    with np.errstate(all="ignore"):
        pred = np.broadcast_to(f(*X_values.T, parameter), y.shape)
    return Bunch(
        structure=result.structure,
        theta=result.theta,
        theta_formulas=theta_formulas,
        formula=composed,
        loss=float(np.mean((pred - y) ** 2)),
        estimator=reference,
    )


def _check_parameter(parameter, n_samples):
    try:
        parameter = check_array(
            parameter, ensure_2d=False, dtype=np.float64, input_name="parameter"
        ).ravel()
    except (TypeError, ValueError) as error:
        if "parameter" in str(error):
            raise
        raise ValueError(
            f"parameter must hold numbers (the value of a for each sample): {error}"
        ) from error
    if parameter.shape[0] != n_samples:
        raise ValueError(
            f"parameter has {parameter.shape[0]} values but X has {n_samples} samples"
        )
    return parameter


def _compose(reference, X, y, parameter, values):
    """The structure of ``reference``'s formula and its constants per curve."""
    import sympy

    formula = Formula(*reference._formulas[reference._selected])
    trees = [_mutate.scale_variant(t) for t in formula.trees]
    n_inner = sum(len(constants(t)) for t in trees)
    # The trees are in the search's units (see SymbolicRegressor.fit);
    # theta0, theta1, ... in the user's.
    Xs, y_scale = X / reference._x_scale, reference._y_scale
    ys = y / y_scale
    optimizer = reference.constant_optimizer or "least_squares"
    rows = []
    for value in values:
        curve = parameter == value
        Xg, yg = Xs[curve], ys[curve]
        tuned, _ = _search.optimize_constants(trees, Xg, yg, optimizer)
        G = _search.evaluate_terms(tuned, Xg)
        c0, coef, sse = _search.fit_linear(G, yg)
        inner = [c for t in tuned for c in constants(t)]
        with np.errstate(over="ignore"):  # an MSE beyond float64 is inf
            loss = sse / yg.shape[0] * y_scale * y_scale
        rows.append([value, c0 * y_scale, *(coef * y_scale), *inner, loss])
    names = [f"theta{k}" for k in range(1 + len(trees) + n_inner)]
    theta = pd.DataFrame(rows, columns=["a", *names, "loss"])
    theta_symbols = sympy.symbols(names, real=True)
    user_symbols = reference._user_symbols(reference._x_scale)
    inner_symbols = iter(theta_symbols[1 + len(trees) :])
    structure = theta_symbols[0] + sum(
        theta_symbols[1 + i] * to_sympy(tree, user_symbols, inner_symbols)
        for i, tree in enumerate(trees)
    )
    return Bunch(structure=structure, theta=theta)


def _integers(expr):
    """``expr`` with every float that is a whole number made an Integer."""
    import sympy

    whole = {
        f: sympy.Integer(int(f))
        for f in expr.atoms(sympy.Float)
        if float(f).is_integer()
    }
    return expr.xreplace(whole) if whole else expr
