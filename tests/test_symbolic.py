"""Tests of mathlearn.symbolic: exact recovery, constants, units, robustness."""

import warnings

import numpy as np
import pandas as pd
import pytest
import sympy
from sklearn.linear_model import LinearRegression

from mathlearn.symbolic import SymbolicRegressor, fit_two_stage
from mathlearn.symbolic._units import (
    DimensionError,
    dimension_of,
    format_unit,
    is_consistent,
    parse_unit,
)
from mathlearn.utils._sklearn_compat import InvalidParameterError

X0, X1 = sympy.symbols("x0 x1", real=True)


def _round3(expr):
    """Constants rounded to 3 significant digits, as rationals."""
    return expr.xreplace(
        {
            f: sympy.nsimplify(sympy.Float(f"{float(f):.2e}"), rational=True)
            for f in expr.atoms(sympy.Float)
        }
    )


def _exact(found, truth):
    return sympy.simplify(_round3(found) - truth) == 0


# (truth, sampler, sympy truth): the five simple formulas.
RECOVERY = [
    ("cubic", lambda X: X[:, 0] ** 3 + X[:, 0] ** 2 + X[:, 0], 1, (-1, 1),
     X0**3 + X0**2 + X0),
    ("sines", lambda X: np.sin(X[:, 0]) + np.sin(X[:, 0] ** 2), 1, (-1, 1),
     sympy.sin(X0) + sympy.sin(X0**2)),
    ("product", lambda X: 2.5 * X[:, 0] * X[:, 1], 2, (-1, 1),
     sympy.Rational(5, 2) * X0 * X1),
    ("sqrt", lambda X: np.sqrt(X[:, 0]), 1, (0, 4), sympy.sqrt(X0)),
    ("gaussian", lambda X: 1.5 * np.exp(-X[:, 0] ** 2), 1, (-2, 2),
     sympy.Rational(3, 2) * sympy.exp(-X0**2)),
]  # fmt: skip


@pytest.mark.parametrize(
    "f, n_features, domain, truth",
    [r[1:] for r in RECOVERY],
    ids=[r[0] for r in RECOVERY],
)
def test_exact_recovery(f, n_features, domain, truth):
    rng = np.random.RandomState(0)
    X = rng.uniform(*domain, size=(30, n_features))
    reg = SymbolicRegressor(generations=2, random_state=0).fit(X, f(X))
    assert _exact(reg.sympy(), truth), reg.sympy()
    X_test = rng.uniform(*domain, size=(50, n_features))
    np.testing.assert_allclose(reg.predict(X_test), f(X_test), rtol=1e-6, atol=1e-9)


def test_constants_are_exact():
    rng = np.random.RandomState(1)
    X = rng.uniform(-2, 2, size=(40, 1))
    y = 3.14159 * X[:, 0] ** 2 + 2.71828
    reg = SymbolicRegressor(generations=0, random_state=0).fit(X, y)
    poly = sympy.Poly(reg.sympy(), X0)
    assert poly.degree() == 2
    assert abs(float(poly.coeff_monomial(X0**2)) - 3.14159) < 1e-6
    assert abs(float(poly.coeff_monomial(1)) - 2.71828) < 1e-6
    assert float(poly.coeff_monomial(X0)) == 0.0


@pytest.mark.parametrize("optimizer", ["least_squares", "lbfgs"])
def test_inner_constant_is_optimised(optimizer):
    """sin(1.7 x) needs a constant inside sin: scipy.optimize finds it."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(40, 1))
    reg = SymbolicRegressor(
        generations=1, constant_optimizer=optimizer, random_state=0
    ).fit(X, np.sin(1.7 * X[:, 0]))
    assert _exact(reg.sympy(), sympy.sin(sympy.Rational(17, 10) * X0)), reg.sympy()


def test_without_constant_optimizer_inner_constant_is_missed():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(40, 1))
    reg = SymbolicRegressor(generations=0, constant_optimizer=None, random_state=0)
    reg.fit(X, np.sin(1.7 * X[:, 0]))
    assert not _exact(reg.sympy(), sympy.sin(sympy.Rational(17, 10) * X0))


def test_linear_target_matches_least_squares():
    """With only + and *, a noisy linear target gives ordinary least squares."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 2))
    y = 1.0 + 2.0 * X[:, 0] - 3.0 * X[:, 1] + 0.5 * rng.normal(size=50)
    reg = SymbolicRegressor(
        operators=("add",), generations=0, max_terms=2, random_state=0
    ).fit(X, y)
    reference = LinearRegression().fit(X, y)
    mse = np.mean((reference.predict(X) - y) ** 2)
    # The selected formula is the full linear model: least squares, with its
    # coefficients rounded at a cost of at most log(n)/n of the squared error
    # (the BIC's price of a parameter), which here gives the truth's digits.
    assert mse <= reg.loss_ <= (1 + np.log(50) / 50) * mse
    x0, x1 = _symbols(2)
    assert reg.sympy() == 1 + 2 * x0 - 3 * x1
    np.testing.assert_allclose(reg.predict(X), reference.predict(X), atol=0.3)


def test_pareto_front_table():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(30, 1))
    y = np.exp(X[:, 0]) + 0.01 * rng.normal(size=30)
    reg = SymbolicRegressor(generations=1, enumeration_size=4, random_state=0)
    reg.fit(X, y)
    front = reg.pareto_front_
    assert list(front.columns) == [
        "complexity",
        "loss",
        "score",
        "expression",
        "sympy",
        "selected",
    ]
    assert np.all(np.diff(front["complexity"]) > 0)
    assert np.all(np.diff(front["loss"]) < 0)
    assert front["selected"].sum() == 1
    # loss is the training MSE of each formula, recomputed independently.
    for expr, loss in zip(front["sympy"], front["loss"], strict=True):
        f = sympy.lambdify([X0], expr, "numpy")
        values = np.broadcast_to(f(X[:, 0]), y.shape)
        np.testing.assert_allclose(np.mean((values - y) ** 2), loss, rtol=1e-6)
    # score is the drop of log-loss per unit of complexity.
    logs = np.log(front["loss"].to_numpy())
    expected = -np.diff(logs) / np.diff(front["complexity"].to_numpy())
    np.testing.assert_allclose(front["score"].to_numpy()[1:], expected, rtol=1e-9)
    row = front[front["selected"]].iloc[0]
    assert reg.expression_ == row["expression"] and reg.complexity_ == row["complexity"]


def _cubic_plus_noise():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(200, 1))
    y = X[:, 0] + 0.05 * X[:, 0] ** 3 + 0.02 * rng.normal(size=200)
    return X, y


def test_parsimony_changes_the_selected_formula():
    """Regression: the selection ignored parsimony, so a GridSearchCV over it
    compared copies of one formula. Here the cubic term cuts the error ten
    times for three more units of complexity: a price of 1 per unit is more
    than that (log 10 < 3), 0.01 is not."""
    X, y = _cubic_plus_noise()
    params = dict(generations=0, random_state=0)
    cheap = SymbolicRegressor(parsimony=0.01, **params).fit(X, y)
    dear = SymbolicRegressor(parsimony=1.0, **params).fit(X, y)
    x0 = sympy.Symbol("x0", real=True)
    assert sympy.Poly(cheap.sympy(), x0).degree() == 3, cheap.expression_
    assert sympy.Poly(dear.sympy(), x0).degree() == 1, dear.expression_
    # The documented rule, from the front's table: both select the formula
    # with the smallest log(nmse) + (log(n)/n + parsimony) * complexity.
    for reg, parsimony in [(cheap, 0.01), (dear, 1.0)]:
        front = reg.pareto_front_
        n = X.shape[0]
        criterion = (
            np.log(front["loss"] / np.var(y))
            + (np.log(n) / n + parsimony) * front["complexity"]
        )
        assert front["selected"].to_numpy()[np.argmin(criterion)]


def test_grid_search_over_parsimony_is_not_pointless():
    from sklearn.model_selection import GridSearchCV

    X, y = _cubic_plus_noise()
    search = GridSearchCV(
        SymbolicRegressor(generations=0, random_state=0),
        {"parsimony": [0.01, 1.0], "max_complexity": [4, 30]},
        cv=3,
    ).fit(X, y)
    results = pd.DataFrame(search.cv_results_)
    at_30 = results[results["param_max_complexity"] == 30]
    by_parsimony = dict(
        zip(at_30["param_parsimony"], at_30["mean_test_score"], strict=True)
    )
    # The price of complexity changes the formula, and so the score.
    assert by_parsimony[0.01] > by_parsimony[1.0] + 1e-3, by_parsimony
    assert search.best_params_ == {"max_complexity": 30, "parsimony": 0.01}


def test_select_changes_prediction():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(30, 1))
    y = X[:, 0] ** 3 + X[:, 0] ** 2 + X[:, 0]
    reg = SymbolicRegressor(generations=0, random_state=0).fit(X, y)
    best = reg.predict(X)
    reg.select(complexity=3)
    assert reg.complexity_ == 3
    a, b = sympy.Poly(reg.sympy(), X0).all_coeffs()
    np.testing.assert_allclose(reg.predict(X), float(a) * X[:, 0] + float(b))
    assert not np.allclose(reg.predict(X), best)
    with pytest.raises(ValueError, match="complexity=0"):
        reg.select(complexity=0)


def test_dataframe_names_the_variables():
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(rng.uniform(0.5, 2, size=(30, 2)), columns=["mass", "v"])
    y = 0.5 * frame["mass"] * frame["v"] ** 2
    reg = SymbolicRegressor(generations=0, random_state=0).fit(frame, y)
    m, v = sympy.symbols("mass v", real=True)
    assert _exact(reg.sympy(), m * v**2 / 2)
    assert "mass" in reg.expression_


def test_predict_is_finite_outside_the_domain():
    rng = np.random.RandomState(0)
    X = rng.uniform(0.1, 2, size=(30, 1))
    reg = SymbolicRegressor(generations=0, random_state=0).fit(X, np.log(X[:, 0]))
    assert "log" in reg.expression_
    with np.errstate(all="raise"):
        pred = reg.predict(np.array([[-1.0], [0.0], [1e300], [-1e300]]))
    assert np.all(np.isfinite(pred))


# ------------------------------------------------- units and precision of data

# y = x**3 + 2.5 exp(-x**2), found by a small search (terms of up to 4 nodes).
_SCALE_TRUTH = X0**3 + sympy.Rational(5, 2) * sympy.exp(-(X0**2))
_SMALL_SEARCH = dict(generations=0, enumeration_size=4, random_state=0)


def _scale_truth(x):
    return x**3 + 2.5 * np.exp(-(x**2))


@pytest.mark.parametrize(
    "a", ["1e-300", "1e-6", "0.0037", "1", "1e3", "1e6", "1e155", "1e300"]
)
def test_scaling_y_scales_the_formula(a):
    """y * a gives the formula times a, whatever a (regression: y = 1e155 x**2
    gave '0' and y ~ 1e300 overflowed)."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(30, 1))
    reg = SymbolicRegressor(**_SMALL_SEARCH).fit(X, float(a) * _scale_truth(X[:, 0]))
    # Divided exactly by a (sympy numbers have no exponent range).
    assert _exact(reg.sympy() / sympy.Rational(a), _SCALE_TRUTH), reg.sympy()
    X_test = rng.uniform(-1, 1, size=(20, 1))
    np.testing.assert_allclose(
        reg.predict(X_test), float(a) * _scale_truth(X_test[:, 0]), rtol=1e-9
    )
    assert np.isfinite(reg.pareto_front_["score"]).all()


@pytest.mark.parametrize("a", ["1e-300", "1e-20", "1e-3", "1e3", "1e20", "1e300"])
def test_features_in_any_units(a):
    """x = a u with y = u**3 + 2.5 u gives y = x**3/a**3 + 2.5 x/a in the user's
    units (regression: features beyond 1e12 or below 1e-12 gave a constant)."""
    rng = np.random.RandomState(0)
    U = rng.uniform(-1, 1, size=(30, 1))
    reg = SymbolicRegressor(**_SMALL_SEARCH).fit(
        float(a) * U, U[:, 0] ** 3 + 2.5 * U[:, 0]
    )
    in_u = sympy.expand(reg.sympy().subs(X0, sympy.Rational(a) * X0))
    assert _exact(in_u, X0**3 + sympy.Rational(5, 2) * X0), reg.sympy()
    U_test = rng.uniform(-1, 1, size=(20, 1))
    np.testing.assert_allclose(
        reg.predict(float(a) * U_test),
        U_test[:, 0] ** 3 + 2.5 * U_test[:, 0],
        rtol=1e-9,
    )


def test_rescaled_feature_keeps_inner_constants_in_user_units():
    """sin(x / 400) with x up to 1000: the search sees x / 16, and the formula
    is printed, and predicts, in the user's x."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-1000, 1000, size=(40, 1))
    reg = SymbolicRegressor(generations=1, random_state=0)
    reg.fit(X, np.sin(X[:, 0] / 400))
    assert _exact(reg.sympy(), sympy.sin(X0 / 400)), reg.sympy()
    X_test = rng.uniform(-1000, 1000, size=(20, 1))
    np.testing.assert_allclose(
        reg.predict(X_test), np.sin(X_test[:, 0] / 400), rtol=1e-6, atol=1e-9
    )


def test_features_around_1e6():
    """Shifting x is not an invariance of a formula ((x - c)**2 is not x**2),
    but a feature near 1e6 gives a finite, accurate model without warnings."""
    rng = np.random.RandomState(0)
    U = rng.uniform(-1, 1, size=(30, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = SymbolicRegressor(random_state=0).fit(1e6 + U, U[:, 0] ** 2 + U[:, 0])
        U_test = rng.uniform(-1, 1, size=(50, 1))
        pred = reg.predict(1e6 + U_test)
    truth = U_test[:, 0] ** 2 + U_test[:, 0]
    assert np.isfinite(pred).all()
    assert np.sqrt(np.mean((pred - truth) ** 2)) < 1e-3 * np.std(truth)


def test_float32_and_float64_give_the_same_formula():
    """float32 data are exact only to float32 round-off: the search must treat
    that as exact (regression: it fitted the round-off with extra terms)."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(20, 1))
    y = X[:, 0] ** 5 + X[:, 0] ** 4 + X[:, 0] ** 3 + X[:, 0] ** 2 + X[:, 0]
    truth = X0**5 + X0**4 + X0**3 + X0**2 + X0
    reg64 = SymbolicRegressor(random_state=0).fit(X, y)
    reg32 = SymbolicRegressor(random_state=0).fit(
        X.astype(np.float32), y.astype(np.float32)
    )
    assert _exact(reg64.sympy(), truth), reg64.sympy()
    assert _exact(reg32.sympy(), truth), reg32.sympy()
    X_test = rng.uniform(-1, 1, size=(20, 1))
    pred32 = reg32.predict(X_test.astype(np.float32))
    f = sympy.lambdify([X0], truth, "numpy")
    np.testing.assert_allclose(pred32, f(X_test.astype(np.float32)[:, 0]), rtol=1e-6)


def test_predict_keeps_the_dtype_of_X():
    """scikit-learn's convention: float32 input gives float32 predictions, equal
    to the float64 ones to float32 precision (dask-ml's ParallelPostFit keeps
    the dtype only then)."""
    rng = np.random.RandomState(0)
    X = rng.uniform(0.5, 2, size=(40, 2))
    reg = SymbolicRegressor(random_state=0).fit(X, 3 * X[:, 0] ** 2 / X[:, 1])
    X_test = rng.uniform(0.5, 2, size=(30, 2))
    pred64 = reg.predict(X_test)
    pred32 = reg.predict(X_test.astype(np.float32))
    assert pred64.dtype == np.float64
    assert pred32.dtype == np.float32
    truth = 3 * X_test[:, 0] ** 2 / X_test[:, 1]
    np.testing.assert_allclose(pred64, truth, rtol=1e-12)
    np.testing.assert_allclose(pred32, pred64, rtol=1e-6)


def test_a_power_law_factor_that_is_the_whole_formula():
    """Regression: with y = 1e300 x the power law x leaves y / x constant up to
    round-off; a search on its inverse square fitted that round-off with a
    zero coefficient, and dividing by it raised."""
    X = np.linspace(1, 2, 20)[:, None]
    reg = SymbolicRegressor(generations=0).fit(X, 1e300 * X[:, 0])
    ratio = reg.sympy() / X0
    assert ratio.is_number, reg.sympy()
    np.testing.assert_allclose(float(ratio), 1e300, rtol=1e-12)


def test_float32_predictions_stay_finite_beyond_float32_range():
    """A target beyond float32's range is clipped to it, never inf."""
    X = np.linspace(1, 2, 20)[:, None]
    reg = SymbolicRegressor(generations=0).fit(X, 1e60 * X[:, 0])
    pred = reg.predict(X.astype(np.float32))
    assert pred.dtype == np.float32
    np.testing.assert_array_equal(pred, np.finfo(np.float32).max)


def test_object_y_with_none_is_rejected():
    """Regression: an object y holding None became NaN after validation."""
    X = np.linspace(0, 1, 12)[:, None]
    y = np.array([None, *np.arange(1.0, 12.0)], dtype=object)
    reg = SymbolicRegressor(generations=0)
    with pytest.raises(ValueError, match="Input y contains NaN"):
        reg.fit(X, y)
    with pytest.raises(ValueError, match="Input y contains NaN"):
        fit_two_stage(reg, X, y, np.repeat([1.0, 2.0, 3.0], 4))


def test_same_seed_same_formula_and_n_jobs_independent():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(25, 2))
    y = np.sin(X[:, 0]) * X[:, 1] + 0.05 * rng.normal(size=25)
    params = dict(
        generations=1,
        population_size=20,
        max_terms=3,
        enumeration_size=4,
        random_state=3,
    )
    a = SymbolicRegressor(**params).fit(X, y)
    b = SymbolicRegressor(**params).fit(X, y)
    c = SymbolicRegressor(**params, n_jobs=2).fit(X, y)
    assert a.expression_ == b.expression_ == c.expression_
    pd.testing.assert_frame_equal(
        a.pareto_front_.drop(columns="sympy"), c.pareto_front_.drop(columns="sympy")
    )


def test_verbose_prints_one_line_per_generation(capsys):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(20, 1))
    y = np.tanh(3 * X[:, 0]) + 0.1 * rng.normal(size=20)
    reg = SymbolicRegressor(
        generations=2,
        population_size=10,
        enumeration_size=4,
        max_terms=2,
        verbose=1,
        tol=0,
    )
    reg.fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:3] == ["gen", "best", "nmse"]
    assert len(lines) == 1 + 1 + reg.n_iter_


def test_max_time_stops_generations():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(20, 1))
    y = np.tanh(3 * X[:, 0]) + 0.1 * rng.normal(size=20)
    reg = SymbolicRegressor(
        generations=1000, max_time=0.5, enumeration_size=4, tol=0, random_state=0
    )
    reg.fit(X, y)
    assert reg.n_iter_ < 1000


# ------------------------------------------------------------------ units


def test_parse_unit():
    assert parse_unit("kg*m^2/s^2") == {"kg": 1, "m": 2, "s": -2}
    assert parse_unit("m*s**-1") == {"m": 1, "s": -1}
    assert parse_unit("") == parse_unit("1") == parse_unit("dimensionless") == {}
    assert parse_unit({"m": 1, "s": 0}) == {"m": 1}
    assert parse_unit("m/m") == {}
    with pytest.raises(ValueError, match="cannot read"):
        parse_unit("m^^2")
    with pytest.raises(TypeError, match="must be a string"):
        parse_unit(3)


def test_dimension_checker():
    dims = [parse_unit("m"), parse_unit("s"), parse_unit("")]
    x, t, u = ("x", 0), ("x", 1), ("x", 2)
    one = ("c", 1.0)
    assert format_unit(dimension_of(("div", x, t), dims)) == "m*s^-1"
    assert dimension_of(("sqrt", ("mul", x, x)), dims) == {"m": 1}
    assert dimension_of(("pow", x, ("add", ("c", 1.0), ("c", 1.0))), dims) == {"m": 2}
    assert (
        dimension_of(("exp", ("div", x, ("mul", t, t))), [{"m": 1}, {"m": 0.5}]) == {}
    )
    assert dimension_of(("sin", u), dims) == {}
    assert dimension_of(("add", x, ("neg", x)), dims) == {"m": 1}
    for bad, message in [
        (("add", x, t), "adds m to s"),
        (("sub", ("x", 0), ("c", 1.0)), "adds m to 1"),
        (("exp", x), "exp of a quantity in m"),
        (("log", ("div", x, t)), "log of a quantity in m"),
        (("sin", ("mul", t, ("c", 2.0))), "sin of a quantity in s"),
        (("pow", x, u), "power that depends on the data"),
        (("pow", u, x), "exponent in m"),
        (("mul", u, ("cos", ("add", x, t))), "adds m to s"),
        # 1 / (1 - 1): a bred constant exponent can be infinite.
        (("pow", x, ("div", one, ("sub", one, one))), "m raised to the power inf"),
    ]:
        with pytest.raises(DimensionError, match=message):
            dimension_of(bad, dims)


def test_units_change_a_meaningless_answer():
    """r and L in metres, y = exp(-r/L) + noise, with L within 2% of 1 m.

    Without units the search prefers the shorter exp(-r), an exponential of a
    length, which fits the noisy data as well; with units it must divide by a
    length and finds exp(-r/L).
    """
    rng = np.random.RandomState(0)
    n = 60
    r, L = rng.uniform(0, 3, n), rng.uniform(1, 1.02, n)
    X = np.column_stack([r, L])
    y = np.exp(-r / L) + 0.02 * rng.normal(size=n)
    units = ["m", "m"]
    dims = [parse_unit("m"), parse_unit("m")]
    free = SymbolicRegressor(generations=0, random_state=0).fit(X, y)
    bound = SymbolicRegressor(generations=0, units=units, random_state=0).fit(X, y)

    def consistent(reg):
        trees = reg._formulas[reg._selected][0]  # Formula.trees
        return all(is_consistent(tree, dims) for tree in trees)

    assert not consistent(free), free.expression_
    assert consistent(bound), bound.expression_
    assert bound.expression_ != free.expression_
    # Every formula of the constrained front passes the checker.
    for formula in bound._formulas:
        for tree in formula[0]:  # Formula.trees
            dimension_of(tree, dims)
    assert sympy.exp(-X0 / X1) in bound.sympy().atoms(sympy.exp), bound.sympy()
    assert sympy.exp(-X0) in free.sympy().atoms(sympy.exp), free.sympy()


def test_units_need_no_target_unit():
    """A falling body, d = g t**2 / 2 in metres, t in seconds (hand-checked:
    g = 9.81 m/s**2 is the coefficient, so no unit of d is needed)."""
    t = np.linspace(0.1, 2.0, 20)
    d = 9.81 / 2 * t**2
    T = sympy.Symbol("x0", real=True)
    reg = SymbolicRegressor(generations=0, units=["s"]).fit(t[:, None], d)
    assert sympy.simplify(reg.sympy() - sympy.Rational(981, 200) * T**2) == 0
    assert reg.feature_units_ == [{"s": 1}]
    # The old form with the target's unit warns and changes nothing, even
    # with a unit d cannot have: the coefficient takes whatever unit is needed.
    for target_unit in ["m", "kg"]:
        with pytest.warns(FutureWarning, match="target's unit .* deprecated in 0.2"):
            old = SymbolicRegressor(generations=0, units=["s", target_unit])
            old.fit(t[:, None], d)
        assert old.expression_ == reg.expression_
        assert old.feature_units_ == [{"s": 1}]


# ------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"operators": ()}, ValueError, "operators=.* is empty"),
        ({"operators": ("add", "sinh")}, ValueError, "unknown names \\['sinh'\\]"),
        ({"max_complexity": 0}, InvalidParameterError, "max_complexity"),
        ({"units": ["m"]}, ValueError, "units has 1 entries but needs n_features = 2"),
        ({"units": ["m", "s", "m/"]}, ValueError, "units\\[2\\]"),
        (
            {"units": [{"m": np.inf}, "s", ""]},
            ValueError,
            "units\\[0\\]=.*exponent of 'm' must be a finite number, got inf",
        ),
        (
            {"units": ["m", {"s": np.nan}, ""]},
            ValueError,
            "units\\[1\\]=.*exponent of 's' must be a finite number, got nan",
        ),
        (
            {"units": ["m", {"m/s": 1}, ""]},
            ValueError,
            "units\\[1\\]=.*the base unit 'm/s' must be a name",
        ),
        ({"units": ["m", {"s": True}, ""]}, TypeError, "units\\[1\\]=.*number values"),
        ({"constant_optimizer": "newton"}, InvalidParameterError, "constant_optimizer"),
    ],
)
def test_bad_parameters(params, error, match):
    X = np.linspace(0, 1, 10).reshape(5, 2)
    with pytest.raises(error, match=match):
        SymbolicRegressor(**params).fit(X, np.arange(5.0))


def test_y_with_nan_is_rejected():
    X = np.linspace(0, 1, 10)[:, None]
    y = np.arange(10.0)
    y[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SymbolicRegressor().fit(X, y)


def test_constant_target():
    X = np.linspace(0, 1, 10)[:, None]
    reg = SymbolicRegressor(generations=1).fit(X, np.full(10, 4.2))
    assert reg.expression_ == "4.2" and reg.complexity_ == 1
    np.testing.assert_allclose(reg.predict(X), 4.2)


def test_plot_pareto_front():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(20, 1))
    reg = SymbolicRegressor(generations=0).fit(X, np.exp(X[:, 0]))
    ax = reg.plot_pareto_front()
    assert ax.get_yscale() == "log"
    assert len(ax.collections) == 2


def test_two_stage_fit_of_a_curve_family():
    """exp(-r/a): per-curve constants, then a formula for each against a."""
    r = np.tile(np.linspace(0, 3, 15), 4)
    a = np.repeat([0.5, 1.0, 2.0, 3.0], 15)
    y = np.exp(-r / a)
    reg = SymbolicRegressor(generations=1, random_state=0)
    result = fit_two_stage(reg, r[:, None], y, a)
    assert list(result.theta["a"]) == [0.5, 1.0, 2.0, 3.0]
    assert result.theta["loss"].max() < 1e-20
    a_symbol = sympy.Symbol("a", real=True)
    assert _exact(result.formula, sympy.exp(-X0 / a_symbol)), result.formula
    # The composed formula's loss, recomputed from its sympy expression.
    f = sympy.lambdify([X0, a_symbol], result.formula, "numpy")
    assert result.loss == pytest.approx(np.mean((f(r, a) - y) ** 2), abs=1e-30)
    assert result.loss < 1e-20
    # The estimator passed in is a template: it stays unfitted.
    assert not hasattr(reg, "expression_")
    assert result.estimator.n_features_in_ == 1
    with pytest.raises(ValueError, match="at least 3"):
        fit_two_stage(reg, r[:30, None], y[:30], a[:30])


def test_two_stage_keeps_dataframe_names():
    r = np.tile(np.linspace(0, 3, 15), 4)
    a = np.repeat([0.5, 1.0, 2.0, 3.0], 15)
    X = pd.DataFrame({"r": r})
    result = fit_two_stage(
        SymbolicRegressor(generations=1, random_state=0), X, np.exp(-r / a), a
    )
    r_symbol, a_symbol = sympy.symbols("r a", real=True)
    assert _exact(result.formula, sympy.exp(-r_symbol / a_symbol)), result.formula


def test_two_stage_method_is_deprecated_and_matches_the_function():
    r = np.tile(np.linspace(0, 3, 15), 4)
    a = np.repeat([0.5, 1.0, 2.0, 3.0], 15)
    y = np.exp(-r / a)
    reg = SymbolicRegressor(generations=1, random_state=0)
    with pytest.warns(FutureWarning, match="deprecated in 0.2 and will be removed"):
        old = reg.fit_two_stage(r[:, None], y, a)
    new = fit_two_stage(reg, r[:, None], y, a)
    assert old["formula"] == new.formula
    pd.testing.assert_frame_equal(old["theta"], new.theta)
    # As before: the estimator is left fitted on the reference curve.
    assert reg.expression_ == new.estimator.expression_


def test_two_stage_needs_a_symbolic_regressor():
    r = np.tile(np.linspace(0, 3, 15), 4)
    a = np.repeat([0.5, 1.0, 2.0, 3.0], 15)
    with pytest.raises(TypeError, match="estimator=LinearRegression.*SymbolicRegr"):
        fit_two_stage(LinearRegression(), r[:, None], np.exp(-r), a)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_two_stage_rejects_non_finite_parameter(bad):
    r = np.tile(np.linspace(0, 3, 15), 4)
    a = np.repeat([0.5, 1.0, 2.0, 3.0], 15)
    a[3] = bad
    with pytest.raises(ValueError, match="parameter"):
        fit_two_stage(SymbolicRegressor(generations=0), r[:, None], np.exp(-r), a)


def test_two_stage_names_a_non_numeric_parameter():
    r = np.tile(np.linspace(0, 3, 15), 4)
    a = np.repeat(["w", "x", "y", "z"], 15)
    with pytest.raises(ValueError, match="parameter must hold numbers.*'w'"):
        fit_two_stage(SymbolicRegressor(generations=0), r[:, None], np.exp(-r), a)


def test_two_stage_rejects_parameter_of_the_wrong_length():
    r = np.tile(np.linspace(0, 3, 15), 4)
    a = np.repeat([0.5, 1.0, 2.0, 3.0], 15)
    with pytest.raises(ValueError, match="parameter has 59 values but X has 60"):
        fit_two_stage(SymbolicRegressor(generations=0), r[:, None], np.exp(-r), a[1:])


def test_fitted_regressor_round_trips_through_skops():
    sio = pytest.importorskip("skops.io")
    rng = np.random.RandomState(0)
    X = rng.uniform(0.5, 2.0, size=(40, 2))
    y = 1.5 * np.exp(X[:, 0]) - X[:, 1] ** 2
    reg = SymbolicRegressor(generations=1, random_state=0).fit(X, y)
    data = sio.dumps(reg)
    untrusted = sio.get_untrusted_types(data=data)
    # Only the public estimator needs trusting: no private mathlearn type, no
    # pandas or sympy internals.
    assert untrusted == ["mathlearn.symbolic._symbolic.SymbolicRegressor"]
    assert not [name for name in untrusted if name.rsplit(".", 1)[-1].startswith("_")]
    loaded = sio.loads(data, trusted=untrusted)
    X_new = rng.uniform(0.5, 2.0, size=(10, 2))
    np.testing.assert_array_equal(loaded.predict(X_new), reg.predict(X_new))
    assert loaded.sympy_expr_ == reg.sympy_expr_
    pd.testing.assert_frame_equal(loaded.pareto_front_, reg.pareto_front_)


def test_pareto_front_sympy_column_round_trips_exactly():
    # The front keeps sympy.srepr strings; the DataFrame and sympy_expr_ parse
    # them back: compare with the formulas sympy prints for the expressions.
    X = np.linspace(0.1, 1, 30)[:, None]
    reg = SymbolicRegressor(generations=0).fit(X, 0.5 + 2 * np.exp(X[:, 0]))
    front = reg.pareto_front_
    for text, expr in zip(front["expression"], front["sympy"], strict=True):
        assert sympy.sstr(expr, full_prec=False) == text
    assert front["selected"].sum() == 1
    assert reg.sympy_expr_ == front["sympy"][front["selected"]].iloc[0]


# ------------------------------------------------------------- sample_weight


def _weighted_linear_data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 2))
    w = rng.uniform(0.05, 5.0, size=60)
    # The noise is large where the weight is small: WLS and OLS disagree.
    y = 1.0 + 2.0 * X[:, 0] - 3.0 * X[:, 1] + rng.normal(size=60) / np.sqrt(w)
    return X, y, w


def test_sample_weight_gives_weighted_least_squares():
    X, y, w = _weighted_linear_data()
    reg = SymbolicRegressor(
        operators=("add",), generations=0, max_terms=2, random_state=0
    ).fit(X, y, sample_weight=w)
    # Reference: ordinary least squares on the rows scaled by sqrt(w).
    A = np.column_stack([np.ones(len(y)), X])
    coef, *_ = np.linalg.lstsq(A * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)
    wls = A @ coef
    weighted_mse = np.sum(w * (wls - y) ** 2) / np.sum(w)
    # Rounding may cost log(n)/n of the (weighted) squared error.
    assert weighted_mse <= reg.loss_ <= (1 + np.log(w.sum()) / w.sum()) * weighted_mse
    sk = LinearRegression().fit(X, y, sample_weight=w).predict(X)
    np.testing.assert_allclose(wls, sk)
    # The weights matter here: the rounded fit is near WLS, far from OLS.
    ols = LinearRegression().fit(X, y).predict(X)
    off = np.max(np.abs(reg.predict(X) - wls))
    assert off < 0.3 < np.max(np.abs(wls - ols)) - off


def test_integer_weights_are_repeated_rows():
    rng = np.random.RandomState(1)
    X = rng.uniform(0.5, 2, size=(30, 2))
    y = X[:, 0] / X[:, 1] + 0.3 * np.sin(X[:, 0]) + 0.02 * rng.normal(size=30)
    counts = rng.randint(0, 4, size=30)  # 0: the row is left out
    params = dict(generations=1, population_size=20, max_terms=3, random_state=0)
    weighted = SymbolicRegressor(**params).fit(X, y, sample_weight=counts)
    repeated = SymbolicRegressor(**params).fit(
        np.repeat(X, counts, axis=0), np.repeat(y, counts)
    )
    a, b = weighted.pareto_front_, repeated.pareto_front_
    assert weighted.expression_ == repeated.expression_
    assert a["expression"].tolist() == b["expression"].tolist()
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-8)


def test_zero_weight_is_a_removed_row():
    """A row of weight 0 where x0 < 0 kept x0 out of the power-law fit
    (its features must be positive): ``2.6*x1*(0.257*x0**2 + x0 - 0.307)/...``
    was selected in place of the formula the other rows give."""
    rng = np.random.RandomState(0)
    X = rng.uniform(1, 3, size=(200, 4))
    y = 2.5 * X[:, 0] ** 1.5 * X[:, 1] / (X[:, 2] * X[:, 3] ** 2)
    X_out = np.vstack([X, [[-1.0, 2.0, 2.0, 2.0]]])
    y_out = np.append(y, 100.0)
    weights = np.append(np.ones(200), 0.0)
    params = dict(enumeration_size=2, generations=0, random_state=0)
    removed = SymbolicRegressor(**params).fit(X, y)
    weighted = SymbolicRegressor(**params).fit(X_out, y_out, sample_weight=weights)
    assert weighted.expression_ == removed.expression_
    x0, x1, x2, x3 = _symbols(4)
    truth = sympy.Rational(5, 2) * x0 ** sympy.Rational(3, 2) * x1 / (x2 * x3**2)
    assert _exact_positive(weighted.sympy(), truth, 4), weighted.expression_
    np.testing.assert_array_equal(weighted.predict(X_out), removed.predict(X_out))


def _counted_data(f, seed=0):
    """80 positive rows, ``f`` with 1% noise, and weights 1 to 4."""
    rng = np.random.RandomState(seed)
    X = np.column_stack(
        [
            rng.uniform(1, 5, 80),
            rng.uniform(1, 2, 80),
            rng.uniform(3, 10, 80),
            rng.uniform(1, 5, 80),
        ]
    )
    y = f(X)
    y = y + 0.01 * y.std() * rng.normal(size=80)
    return X, y, rng.randint(1, 5, size=80)


@pytest.mark.parametrize(
    "f",
    [
        lambda X: 1 / (1 / X[:, 0] + X[:, 1] / X[:, 2]),
        lambda X: X[:, 0] * np.exp(-X[:, 1] * X[:, 2] / X[:, 3]),
    ],
    ids=["lens", "boltzmann"],
)
def test_integer_weights_are_repeated_rows_on_a_noisy_law(f):
    """The fronts differed (``0.9975/(x1/x2 + 0.99594/x0)`` against the
    lens formula ``x0/(x0*x1/x2 + 1)``): the searches' budgets count rows
    (the two-term search's flops, the pool's memory) and some statistics
    of the structure tests counted rows, not weights."""
    X, y, counts = _counted_data(f)
    params = dict(enumeration_size=4, generations=0, max_terms=3, random_state=0)
    weighted = SymbolicRegressor(**params).fit(X, y, sample_weight=counts)
    order = np.random.RandomState(1).permutation(counts.sum())
    repeated = SymbolicRegressor(**params).fit(
        np.repeat(X, counts, axis=0)[order], np.repeat(y, counts)[order]
    )
    a, b = weighted.pareto_front_, repeated.pareto_front_
    assert a["expression"].tolist() == b["expression"].tolist()
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-8)


def test_structure_tests_count_a_sample_as_its_weight():
    """The noise weights of the transformed searches were capped at their
    unweighted median and scaled by their unweighted mean; the group test's
    surrogate was not fitted on 80 rows of weights 1 to 4 (a gate on the
    number of rows) but was on the 200 repeated rows."""
    from mathlearn.symbolic._expr import to_sympy
    from mathlearn.symbolic._groups import group_terms
    from mathlearn.symbolic._reduce import TRANSFORMS, _noise_weights

    X, y, counts = _counted_data(
        lambda X: X[:, 0] * np.exp(-X[:, 1] * X[:, 2] / X[:, 3])
    )
    X_rep, y_rep = np.repeat(X, counts, axis=0), np.repeat(y, counts)
    t, p = y / X[:, 0], X[:, 0]
    for transform in TRANSFORMS[1:]:
        weighted = _noise_weights(transform, t, p, counts)
        repeated = _noise_weights(
            transform, np.repeat(t, counts), np.repeat(p, counts), None
        )
        np.testing.assert_allclose(np.repeat(weighted / counts, counts), repeated)
    # The same terms, up to the round-off of the scales k found by a search.
    symbols = _symbols(4)
    weighted, repeated = group_terms(X, y, counts), group_terms(X_rep, y_rep)
    assert len(weighted) == len(repeated) == 3
    for a, b in zip(weighted, repeated, strict=True):
        a, b = to_sympy(a, symbols), to_sympy(b, symbols)
        assert sympy.simplify(_round3(a) - _round3(b)) == 0


def test_weighted_median_is_the_median_of_the_repeated_values():
    from mathlearn.symbolic._weighted import median

    rng = np.random.RandomState(0)
    for n in range(1, 30):
        values = rng.normal(size=n)
        values[rng.randint(n)] = values[0]  # a tie
        counts = rng.randint(0, 4, size=n)
        counts[rng.randint(n)] = 1
        assert median(values, counts) == np.median(np.repeat(values, counts))
        assert median(values, 0.5 * counts) == median(values, counts)
    assert median(values, None) == np.median(values)


def test_sample_weight_is_routed_through_a_pipeline():
    from sklearn import config_context
    from sklearn.pipeline import Pipeline

    X, y, w = _weighted_linear_data()
    params = dict(operators=("add",), generations=0, max_terms=2, random_state=0)
    direct = SymbolicRegressor(**params).fit(X, y, sample_weight=w)
    with config_context(enable_metadata_routing=True):
        reg = SymbolicRegressor(**params).set_fit_request(sample_weight=True)
        pipe = Pipeline([("reg", reg)]).fit(X, y, sample_weight=w)
    assert pipe[-1].expression_ == direct.expression_
    np.testing.assert_array_equal(pipe.predict(X), direct.predict(X))


@pytest.mark.parametrize(
    "weights, match",
    [(-np.ones(10), "Negative values"), (np.zeros(10), "non-zero")],
)
def test_bad_sample_weight(weights, match):
    X = np.linspace(0, 1, 10)[:, None]
    with pytest.raises(ValueError, match=match):
        SymbolicRegressor(generations=0).fit(X, X[:, 0], sample_weight=weights)


# ------------------------------------------- searches on transformed targets
# Each formula below is larger than the enumerated terms (enumeration_size)
# and no generation runs, so only the transformed searches can find it.


def _positive_data(n_features, low=1.0, high=5.0, n_samples=300, seed=0):
    rng = np.random.RandomState(seed)
    return rng.uniform(low, high, size=(n_samples, n_features))


def _symbols(n):
    return sympy.symbols(" ".join(f"x{j}" for j in range(n)), real=True)


def test_power_law_recovers_a_product_of_powers():
    X = _positive_data(4)
    y = 2.5 * X[:, 0] * X[:, 1] / (X[:, 2] * X[:, 3] ** 2)
    reg = SymbolicRegressor(enumeration_size=2, generations=0).fit(X, y)
    x0, x1, x2, x3 = _symbols(4)
    assert _exact(reg.sympy(), sympy.Rational(5, 2) * x0 * x1 / (x2 * x3**2))


def test_squared_target_recovers_a_distance():
    X = _positive_data(4)
    y = np.sqrt((X[:, 1] - X[:, 0]) ** 2 + (X[:, 3] - X[:, 2]) ** 2)
    reg = SymbolicRegressor(enumeration_size=4, generations=0).fit(X, y)
    x0, x1, x2, x3 = _symbols(4)
    assert _exact(reg.sympy(), sympy.sqrt((x1 - x0) ** 2 + (x3 - x2) ** 2))


def test_inverse_square_target_recovers_a_lorentz_factor():
    rng = np.random.RandomState(0)
    X = np.column_stack(
        [rng.uniform(1, 5, 300), rng.uniform(1, 2, 300), rng.uniform(3, 10, 300)]
    )
    y = X[:, 0] / np.sqrt(1 - X[:, 1] ** 2 / X[:, 2] ** 2)
    reg = SymbolicRegressor(enumeration_size=4, generations=0).fit(X, y)
    x0, x1, x2 = _symbols(3)
    assert _exact(reg.sympy(), x0 / sympy.sqrt(1 - x1**2 / x2**2))


def test_inverse_target_recovers_a_lens_formula():
    X = _positive_data(3)
    y = 1 / (1 / X[:, 0] + X[:, 1] / X[:, 2])
    reg = SymbolicRegressor(enumeration_size=3, generations=0).fit(X, y)
    x0, x1, x2 = _symbols(3)
    assert _exact(reg.sympy(), 1 / (1 / x0 + x1 / x2))


def test_power_tree_and_linear_tree_evaluate_as_written():
    from mathlearn.symbolic._expr import evaluate
    from mathlearn.symbolic._reduce import linear_tree, power_tree

    X = _positive_data(3)
    with np.errstate(all="ignore"):
        power = evaluate(power_tree([1.0, -2.0, 0.5]), X)
        linear = evaluate(
            linear_tree(
                0.25, np.array([1.0, -1.0, 3.0]), [("x", 0), ("x", 1), ("x", 2)]
            ),
            X,
        )
    np.testing.assert_allclose(power, X[:, 0] * np.sqrt(X[:, 2]) / X[:, 1] ** 2)
    np.testing.assert_allclose(linear, 0.25 + X[:, 0] - X[:, 1] + 3 * X[:, 2])


def test_pure_power_factor_leaves_a_root_of_squares_to_the_squared_target():
    """z sqrt(x^2 + y^2) / r^3 (II.6.15a's shape): the power law of log|y|
    gives x and y exponents near 1/2, and the factor ``sqrt(x) sqrt(y) z /
    r^3`` hides the root; the separability test finds that only z and r
    enter as powers, and the squared target of ``y r^3 / z`` is a sum of
    squares (regression: ``1.53*sqrt(x0)*sqrt(x1)*x2/x3**3`` was selected)."""
    X = _positive_data(4)
    y = X[:, 2] * np.sqrt(X[:, 0] ** 2 + X[:, 1] ** 2) / X[:, 3] ** 3
    reg = SymbolicRegressor(enumeration_size=2, generations=0).fit(X, y)
    x0, x1, x2, x3 = _symbols(4)
    assert _exact(reg.sympy(), x2 * sympy.sqrt(x0**2 + x1**2) / x3**3), reg.sympy()


def _exact_positive(found, truth, n):
    """``found == truth`` for positive variables (sqrt(a) sqrt(b) = sqrt(a b))."""
    positive = sympy.symbols(" ".join(f"x{j}" for j in range(n)), positive=True)
    real = _symbols(n)
    swap = dict(zip(real, positive, strict=True))
    difference = _round3(found).xreplace(swap) - sympy.sympify(truth).xreplace(swap)
    return sympy.simplify(difference) == 0


def test_difference_symmetry_recovers_a_gaussian_of_a_difference():
    """exp(-((x0 - x1)/x2)^2) (I.6.2b's shape): its terms over x0 - x1 are two
    nodes beyond the enumeration over three features; the symmetry test on
    the data sees that y depends on x0 and x1 through x0 - x1 only, and the
    enumeration over (x0 - x1, x2) reaches them (regression: a sum of five
    approximating terms was selected)."""
    X = _positive_data(3, high=3.0)
    y = np.exp(-(((X[:, 0] - X[:, 1]) / X[:, 2]) ** 2))
    reg = SymbolicRegressor(generations=0, random_state=0).fit(X, y)
    x0, x1, x2 = _symbols(3)
    assert _exact(reg.sympy(), sympy.exp(-((x0 - x1) ** 2) / x2**2)), reg.sympy()


def test_difference_pairs_are_found_on_symmetric_data_only():
    from mathlearn.symbolic._symmetry import difference_pairs

    X = _positive_data(4)
    shifted = np.sin(X[:, 0] - X[:, 2]) * X[:, 1] + np.sqrt(X[:, 3])
    assert difference_pairs(X, shifted) == [(0, 2)]
    both = np.hypot(X[:, 0] - X[:, 1], X[:, 2] - X[:, 3])
    assert sorted(difference_pairs(X, both)) == [(0, 1), (2, 3)]
    assert difference_pairs(X, X[:, 0] * X[:, 1] / X[:, 2] + X[:, 3]) == []
    assert difference_pairs(X, shifted, allowed=lambda i, j: False) == []


def test_signed_target_factors_out_its_pure_powers():
    """m r v sin(theta) (I.18.14): y takes both signs, so log |y| was not
    fitted at all; weighted by y**2 (its zeros weigh nothing) it gives the
    powers of m, r and v, and y / (m r v) is sin(theta) (regression: a sum
    of six terms was selected)."""
    X = _positive_data(4)
    y = X[:, 0] * X[:, 1] * X[:, 2] * np.sin(X[:, 3])
    reg = SymbolicRegressor(generations=0, random_state=0).fit(X, y)
    x0, x1, x2, x3 = _symbols(4)
    assert _exact(reg.sympy(), x0 * x1 * x2 * sympy.sin(x3)), reg.sympy()


def test_noise_about_zero_keeps_the_power_law():
    """x2 sqrt(x0^2 + x1^2) / x3^3 with 1% noise: two of the 1000 noisy
    values are negative, and the power law of log |y| was skipped for a y
    of both signs (regression: ``0.6*x2 + 6*x3 - 20.9*log(x3) + 3``)."""
    rng = np.random.RandomState(0)
    X = rng.uniform(1, 5, size=(1000, 4))
    y = X[:, 2] * np.sqrt(X[:, 0] ** 2 + X[:, 1] ** 2) / X[:, 3] ** 3
    y = y + 0.01 * np.std(y) * rng.normal(size=1000)
    assert np.sum(y < 0) > 0
    reg = SymbolicRegressor(enumeration_size=2, generations=0, random_state=0)
    found = reg.fit(X, y).sympy()
    x0, x1, x2, x3 = _symbols(4)
    assert _exact_positive(found, x2 * sympy.sqrt(x0**2 + x1**2) / x3**3, 4), found


def test_noise_weighted_transformed_search_finds_a_root_of_squares():
    """x2 sqrt(x0^2 + x1^2) / x3^4 with 1% noise: y / x3^-4 multiplies the
    noise by x3^4 (up to 625), and the unweighted search on its square fits
    those rows; weighted by their inverse noise variance it finds the sum of
    squares (regression: ``0.057*sqrt(x0)*x2*(x1**2 + 24)/x3**4 + ...``)."""
    rng = np.random.RandomState(0)
    X = rng.uniform(1, 5, size=(1000, 4))
    y = X[:, 2] * np.sqrt(X[:, 0] ** 2 + X[:, 1] ** 2) / X[:, 3] ** 4
    y = y + 0.01 * np.std(y) * rng.normal(size=1000)
    reg = SymbolicRegressor(enumeration_size=3, generations=0, random_state=0)
    found = reg.fit(X, y).sympy()
    x0, x1, x2, x3 = _symbols(4)
    assert _exact_positive(found, x2 * sympy.sqrt(x0**2 + x1**2) / x3**4, 4), found


def test_pool_add_starts_no_block_after_the_deadline():
    """An enumeration level of tens of thousands of terms took several times
    the enumeration's share of max_time to normalise: the pool now takes
    them in blocks and stops at the deadline."""
    from mathlearn.symbolic._search import _ADD_BLOCK, TermPool

    rng = np.random.RandomState(0)
    V = rng.normal(size=(3 * _ADD_BLOCK, 20))
    trees = [("c", float(k)) for k in range(len(V))]  # distinct placeholders
    pool = TermPool(20, 10**9)
    assert pool.add(trees, V, deadline=0.0) == _ADD_BLOCK  # long past
    assert TermPool(20, 10**9).add(trees, V) == len(V)


def test_enumeration_checks_the_deadline_between_unary_operators(monkeypatch):
    """A unary operator over a whole level of tens of thousands of subtrees
    takes a while, and the unary operators of a size all ran after the
    deadline had passed: the enumeration now stops between them."""
    from mathlearn.symbolic import _enumerate
    from mathlearn.symbolic._search import TermPool

    calls = []

    def past(deadline):  # the deadline passes after the check opening size 2
        calls.append(deadline)
        return len(calls) > 1

    monkeypatch.setattr(_enumerate, "past", past)
    X = _positive_data(2)
    levels = _enumerate.enumerate_terms(
        X, ("sqrt", "exp", "log", "mul"), 3, TermPool(300, 10**8), deadline=1.0
    )
    assert levels.get(2, []) == []


def test_beam_search_checks_the_deadline_within_a_depth(monkeypatch):
    """III.9.52 took 12.1 s at max_time=10 and 23.8 s at 20: a depth of the
    wide search (its exact pairs, the extensions of 16 states, the swap
    moves, each a product with the whole pool) ran to its end after the
    deadline. Past it, only the single terms are now tried: one product."""
    from mathlearn.symbolic import _search

    products = []
    gains = _search._gains

    def counted(*args):
        products.append(1)
        return gains(*args)

    monkeypatch.setattr(_search, "_gains", counted)
    monkeypatch.setattr(_search, "past", lambda deadline: deadline is not None)
    rng = np.random.RandomState(0)
    V = rng.normal(size=(50, 40))
    pool = _search.TermPool(40, 10**6)
    pool.add([("c", float(k)) for k in range(50)], V)  # distinct placeholders
    y = V[3] + 0.5 * V[7] + 0.1 * rng.normal(size=40)
    objective = _search.Objective(3, 30, 0.0, _search.LOSS_FLOOR, 0.0)
    front = _search.Front()
    _search.beam_select(
        pool, y - y.mean(), front, objective, _search.WIDE, deadline=1.0
    )
    assert len(products) == 1
    assert {len(state) for _, _, state in front.pareto()} <= {0, 1}
    sizes = np.ones(len(pool), dtype=int)
    assert _search.pair_candidates(pool.Z, y, sizes, 30, deadline=1.0) == []
    assert len(_search.pair_candidates(pool.Z, y, sizes, 30)) > 0


def test_enumeration_leaves_room_for_the_later_steps():
    """On an idle machine the enumeration filled the pool (20,000 terms on
    1,000 samples) within its share of max_time, and the power laws and the
    transformed searches' terms were dropped (I.24.6's exact term was found
    and lost); it now stops at max_terms."""
    from mathlearn.symbolic._enumerate import enumerate_terms
    from mathlearn.symbolic._expr import DEFAULT_OPERATORS
    from mathlearn.symbolic._search import TermPool

    X = _positive_data(3, n_samples=50)
    pool = TermPool(50, 50 * 300)
    enumerate_terms(X, DEFAULT_OPERATORS, 5, pool, max_terms=200)
    assert len(pool) == 200
    later = [("c", float(k)) for k in range(3)]
    assert pool.add(later, np.random.RandomState(0).normal(size=(3, 50))) == 3


def test_rounding_drops_the_constants_that_fit_the_noise():
    """2.5 x0 x1 with 1% noise, 1000 samples: the least-squares intercept
    (about 0.015) fits the noise. Rounding may cost the BIC's price of one
    parameter, log(n)/n of the squared error, and the slope is refitted when
    the intercept goes (regression: ``2.498*x0*x1 + 0.015`` was reported)."""
    rng = np.random.RandomState(0)
    X = rng.uniform(1, 5, size=(1000, 2))
    y = 2.5 * X[:, 0] * X[:, 1]
    y = y + 0.01 * np.std(y) * rng.normal(size=1000)
    reg = SymbolicRegressor(enumeration_size=3, generations=0, random_state=0)
    found = reg.fit(X, y).sympy()
    x0, x1 = _symbols(2)
    ratio = sympy.simplify(found / (x0 * x1))
    assert ratio.is_number and abs(float(ratio) - 2.5) < 0.01, found


def test_pool_keeps_the_simplest_tree_of_equal_terms():
    """m c^2 / sqrt(1 - v^2/c^2) (I.48.2): the inverse-square search finds
    the Lorentz factor, but a longer form equal to round-off (a square root
    of sums with constants near 1e15) reached the pool first, and the pool
    kept whichever tree of a class arrived first (regression: that form was
    selected)."""
    rng = np.random.RandomState(0)
    n = 300
    X = np.column_stack(
        [rng.uniform(1, 5, n), rng.uniform(1, 2, n), rng.uniform(3, 10, n)]
    )
    y = X[:, 0] * X[:, 2] ** 2 / np.sqrt(1 - X[:, 1] ** 2 / X[:, 2] ** 2)
    reg = SymbolicRegressor(generations=0, random_state=0).fit(X, y)
    x0, x1, x2 = _symbols(3)
    truth = x0 * x2**2 / sympy.sqrt(1 - x1**2 / x2**2)
    assert _exact(reg.sympy(), truth), reg.sympy()


def test_a_formula_that_can_interpolate_is_not_selected():
    """Kepler's 8 planets (periods in years): a 7-parameter formula of the
    front fitted them to round-off, and round-off loss selected it outright
    (regression: the tour printed a six-term formula). A formula is selected
    only with two samples per fitted parameter."""
    from mathlearn.symbolic._front import Formula, front_table
    from mathlearn.symbolic._symbolic import _scale_target

    period = np.array([0.241, 0.615, 1.0, 1.881, 11.86, 29.46, 84.01, 164.8])
    target = _scale_target(period, np.float64)
    x = ("x", 0)
    kepler = ([("pow", x, ("c", 1.5))], 0.0, np.array([1.0]))
    # Seven parameters for eight samples: an exact interpolation.
    wiggly = (
        [x, ("square", x), ("cube", x), ("sqrt", x), ("exp", x), ("sin", x)],
        0.1,
        np.ones(6),
    )
    constant = ([], float(target.y.mean()), np.array([]))
    formulas = []
    for (trees, c0, coef), loss, complexity in [
        (constant, target.sst / target.n, 1),
        (kepler, 1e-5, 4),
        (wiggly, 0.0, 20),
    ]:
        formulas.append(Formula(trees, c0, coef, loss, complexity, sympy.Integer(0)))
    _, selected = front_table(formulas, target, parsimony=0.01)
    assert selected == 1
    # With twice the samples (each planet twice), the wiggly one has its
    # two samples per parameter, and its round-off loss wins.
    target = _scale_target(np.repeat(period, 2), np.float64)
    _, selected = front_table(formulas, target, parsimony=0.01)
    assert selected == 2


def test_a_coefficient_that_is_a_small_ratio_keeps_it():
    """Nguyen-4 (seed 0) is found as 2/3 x^6 + 2/3 x^3 + x^2 + x + (x^2 +
    x)^3 / 3; a coefficient already equal to 1/3 in float64 was rounded to
    seven digits, which the refit of the next coefficient made fit the data
    to round-off (regression: 0.3333333*(x0**2 + x0)**3 was reported)."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(20, 1))
    x = X[:, 0]
    y = x**6 + x**5 + x**4 + x**3 + x**2 + x
    reg = SymbolicRegressor(random_state=0).fit(X, y)
    x0 = _symbols(1)
    found = reg.sympy()
    assert not found.atoms(sympy.Float), found
    assert sympy.expand(found - (x0**6 + x0**5 + x0**4 + x0**3 + x0**2 + x0)) == 0


def test_dimensionless_group_recovers_a_boltzmann_factor():
    """x0 exp(-x1 x2 / (x3 x4)) (I.40.1's shape): the exponent's nine nodes are
    beyond the enumeration, and no transform of y makes it a short sum; the
    log-gradients of y vary along one direction, (0, -1, -1, 1, 1), which
    gives the group and the prefactor x0 (regression: a root of a power law
    with R2 0.92 was selected)."""
    X = _positive_data(5, high=3.0)
    y = X[:, 0] * np.exp(-X[:, 1] * X[:, 2] / (X[:, 3] * X[:, 4]))
    reg = SymbolicRegressor(enumeration_size=3, generations=0, random_state=0)
    reg.fit(X, y)
    x0, x1, x2, x3, x4 = _symbols(5)
    truth = x0 * sympy.exp(-x1 * x2 / (x3 * x4))
    assert _exact(reg.sympy(), truth), reg.sympy()


def test_dimensionless_group_is_found_on_one_group_data_only():
    from mathlearn.symbolic._groups import group_terms

    X = _positive_data(4)
    x = [("x", j) for j in range(4)]
    # tanh(x1 / x2) times x0 x3**2: the prefactor and the group.
    y = X[:, 0] * X[:, 3] ** 2 * np.tanh(X[:, 1] / X[:, 2])
    trees = group_terms(X, y)
    prefactor = ("mul", x[0], ("square", x[3]))
    assert prefactor in trees
    assert any(t[0] == "mul" and t[1] == prefactor and t[2][0] == "tanh" for t in trees)
    # A power law has no group, nor has a sum of two of them.
    assert group_terms(X, X[:, 0] * X[:, 1] / X[:, 2] ** 2) == []
    assert group_terms(X, np.exp(X[:, 0] / X[:, 1]) + np.exp(X[:, 2] / X[:, 3])) == []


def test_dimensionless_group_with_a_pole_and_an_inner_pi():
    """x0 x1 x2 / (1 - x0 x1 / 3) (II.11.27's shape) and the Bose-Einstein
    occupation 1 / (exp(x0 x1 / (2 pi x2)) - 1) (III.4.32's): the pole's
    constant rounds to 3, and the exponent's scale to 1/(2 pi), which is
    written exactly (regression: 0.159155 was printed, which is not 1/(2
    pi))."""
    X = _positive_data(3, low=0.5, high=1.5)
    x0, x1, x2 = _symbols(3)
    y = X[:, 0] * X[:, 1] * X[:, 2] / (1 - X[:, 0] * X[:, 1] / 3)
    reg = SymbolicRegressor(enumeration_size=3, generations=0, random_state=0)
    assert _exact(reg.fit(X, y).sympy(), x0 * x1 * x2 / (1 - x0 * x1 / 3))
    y = 1 / np.expm1(X[:, 0] * X[:, 1] / (2 * np.pi * X[:, 2]))
    found = reg.fit(X, y).sympy()
    assert (
        sympy.simplify(found - 1 / (sympy.exp(x0 * x1 / (2 * sympy.pi * x2)) - 1)) == 0
    ), found


def test_simple_constant_recognises_powers_of_pi_times_small_ratios():
    from mathlearn.symbolic._expr import inner_number, simple_constant

    assert inner_number(1 / (2 * np.pi)) == 1 / (2 * sympy.pi)
    # The search's features are the user's over powers of two.
    assert inner_number(3 * np.pi**2 / 4 / 1024) == 3 * sympy.pi**2 / 4096
    assert simple_constant(0.159155) is None
    assert simple_constant(0.159155, tol=1e-5) == (0.5, -1)
    assert inner_number(0.5) == sympy.Float(0.5)
    assert inner_number(5 / 12 / 64) == sympy.Rational(5, 768)


def test_dimensionless_group_with_a_squared_pole():
    """x2 / (1 - x0^2 / x1^2)^2 (I.32.17's shape, Rayleigh scattering): the
    group is x0 / x1 and the function the square of a pole in its square
    (regression: ``5.43*x2*x1**4.13*exp(3.243*x1**3/x0**3)/x0**4.13`` was
    selected)."""
    rng = np.random.RandomState(0)
    X = np.column_stack(
        [rng.uniform(1, 2, 300), rng.uniform(3, 5, 300), rng.uniform(1, 5, 300)]
    )
    y = X[:, 2] / (1 - X[:, 0] ** 2 / X[:, 1] ** 2) ** 2
    reg = SymbolicRegressor(enumeration_size=3, generations=0, random_state=0)
    x0, x1, x2 = _symbols(3)
    found = reg.fit(X, y).sympy()
    assert _exact(found, x2 / (1 - x0**2 / x1**2) ** 2), found


def test_transformed_search_drops_a_term_of_round_off_coefficient():
    """x0 x1 x4 (1/x3 - 1/x2) (I.13.12's shape): the search on y / (x0 x1 x4)
    reached the exact 1/x3 - 1/x2 only with an extra x3 of coefficient
    1e-16, and the new term was scaled by that coefficient (regression:
    ``0.17*x0*x1*x4*(x3 - 5.12*log(x3) + ...)`` was selected)."""
    rng = np.random.RandomState(0)
    X = rng.uniform(1, 5, size=(1000, 5))
    y = X[:, 0] * X[:, 1] * X[:, 4] * (1 / X[:, 3] - 1 / X[:, 2])
    reg = SymbolicRegressor(max_time=20, random_state=0).fit(X, y)
    x0, x1, x2, x3, x4 = _symbols(5)
    assert _exact(reg.sympy(), x0 * x1 * x4 * (1 / x3 - 1 / x2)), reg.sympy()


def test_dimensionless_group_root_pole_is_written_one_over_a_root():
    """x0 x1 / sqrt(1 - x1^2 / x2^2) (II.13.34's shape): the pole term was
    sqrt(1 / (1 - x1^2/x2^2)), which equals 1 / sqrt(1 - x1^2/x2^2) only
    where the base is positive, so sympy (and the SRBench judge) could not
    simplify the difference to 0."""
    from mathlearn.symbolic._expr import to_sympy
    from mathlearn.symbolic._groups import group_terms

    rng = np.random.RandomState(0)
    X = np.column_stack(
        [rng.uniform(1, 5, 300), rng.uniform(1, 2, 300), rng.uniform(3, 10, 300)]
    )
    y = X[:, 0] * X[:, 1] / np.sqrt(1 - X[:, 1] ** 2 / X[:, 2] ** 2)
    x0, x1, x2 = _symbols(3)
    truth = x0 * x1 / sympy.sqrt(1 - x1**2 / x2**2)
    found = [to_sympy(t, [x0, x1, x2]) for t in group_terms(X, y)]
    assert any(sympy.simplify(_round3(f) / truth).is_number for f in found), found


def test_lorentz_factor_leaves_the_lorentz_transformation_a_short_sum():
    """(x0 - x1 x3) / sqrt(1 - x1^2 / x2^2) (I.15.3x's shape): x1 < x2 on all
    the data, and y sqrt(1 - x1^2/x2^2) is the two-term x0 - x1 x3
    (regression: ``0.99*x0 + 0.76*x0**(x1/x2) - 0.99*x1*x3 - ...`` was
    selected)."""
    from mathlearn.symbolic._reduce import lorentz_factors

    rng = np.random.RandomState(0)
    X = np.column_stack(
        [
            rng.uniform(1, 5, 300),
            rng.uniform(1, 2, 300),
            rng.uniform(3, 10, 300),
            rng.uniform(1, 5, 300),
        ]
    )
    # Only x1 < x2 holds on all the data (x2 is in units of 8 in the search).
    factors = lorentz_factors(X / [4, 2, 8, 4], np.array([4.0, 2.0, 8.0, 4.0]))
    x1_x2 = ("mul", ("c", 1 / 16), ("square", ("div", ("x", 1), ("x", 2))))
    assert factors == [("inv", ("sqrt", ("sub", ("c", 1.0), x1_x2)))]
    y = (X[:, 0] - X[:, 1] * X[:, 3]) / np.sqrt(1 - X[:, 1] ** 2 / X[:, 2] ** 2)
    reg = SymbolicRegressor(enumeration_size=5, generations=0, random_state=0)
    x0, x1, x2, x3 = _symbols(4)
    found = reg.fit(X, y).sympy()
    assert _exact(found, (x0 - x1 * x3) / sympy.sqrt(1 - x1**2 / x2**2)), found


def test_monomials_give_a_product_of_three_powers_as_one_term():
    """x0 - x1 x2 / x3^2 (the numerator of I.15.3t, t - u x / c^2): the
    product of three powers takes six nodes, beyond the enumeration of
    three; ``x0 - 3.6*x1/x3 - 2.9*x2/x3 - x3 + 4*log(x1) - ...`` was
    selected."""
    from mathlearn.symbolic._reduce import monomials

    trees = monomials(4)
    assert len(trees) == len(set(trees)) == 6 * 16 + 4 * 64
    assert trees[0] == ("mul", ("x", 0), ("x", 1))
    X = _positive_data(4)
    y = X[:, 0] - X[:, 1] * X[:, 2] / X[:, 3] ** 2
    reg = SymbolicRegressor(enumeration_size=3, generations=0, random_state=0)
    found = reg.fit(X, y).sympy()
    x0, x1, x2, x3 = _symbols(4)
    assert _exact(found, x0 - x1 * x2 / x3**2), found


def _gravity_term(a, c, b):
    """x0 x1 x4 (a/x3 - c b/x2): I.13.12's term as the tuning leaves it (the
    constant 1 of each 1/x tuned, and the ratio of the transformed search)."""
    product = ("mul", ("mul", ("x", 0), ("x", 1)), ("x", 4))
    inverse_x2 = ("mul", ("c", c), ("div", ("c", b), ("x", 2)))
    return ("mul", product, ("sub", ("div", ("c", a), ("x", 3)), inverse_x2))


def _noisy_gravity(n_samples=1000, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(1, 5, size=(n_samples, 5))
    y = X[:, 0] * X[:, 1] * X[:, 4] * (1 / X[:, 3] - 1 / X[:, 2])
    return X, y + 0.01 * np.std(y) * rng.normal(size=n_samples)


def test_a_new_term_is_scaled_by_its_largest_part_not_a_noise_term():
    """G m1 m2 (1/r2 - 1/r1) with 1% noise (I.13.12): the search on
    y / (G m1 m2) can add m1, whose tiny coefficient fits the noise. A new
    term is its inner formula divided by the first coefficient, and the
    subset listed m1 first, so the law's parts got 1 / 5e-5 (regression:
    ``5.0e-5*G*m1*m2*(m1 + 20000/r2 - 20000/r1)`` was selected at 20 s).
    The part with the largest share of the fit now comes first, and keeps
    the coefficient 1."""
    from types import SimpleNamespace

    from mathlearn.symbolic._reduce import _inner_terms
    from mathlearn.symbolic._search import Front, Objective

    X, y = _noisy_gravity()
    t = y / (X[:, 0] * X[:, 1] * X[:, 4])
    trees = [("x", 0), ("inv", ("x", 3)), ("inv", ("x", 2))]
    front = Front()
    front.offer(7, 1e-4, (0, 1, 2))
    search = SimpleNamespace(
        pool=SimpleNamespace(trees=trees),
        X=X,
        weights=None,
        objective=Objective(3, 20, 0.01, 1e-12, 0.0),
    )
    [(_, coef, ordered)] = _inner_terms(search, t, front)
    assert sorted(ordered) == sorted(trees)
    assert ordered[-1] == ("x", 0)
    # The noise term's coefficient is small; the first is the law's 1 or -1.
    assert abs(coef[-1]) < 0.01
    np.testing.assert_allclose(abs(coef[0]), 1.0, rtol=0.02)


def test_rounding_refits_the_constants_that_share_a_scale():
    """x0 x1 x4 (1/x3 - 1/x2) with 1% noise (I.13.12): tuned, the term's
    constants carry a scale that its coefficient also has, a/x3 - c b/x2
    with a = 0.99; rounding one constant at a time kept them all
    (regression: ``1.004*G*m1*m2*(0.994994/r2 - 0.996/r1) + 0.006`` was
    selected at max_time=20). With the later constants of the term refitted
    at each rounding, they round to 1, the law's."""
    from mathlearn.symbolic._expr import constants
    from mathlearn.symbolic._front import _round_constants, _rounding_share
    from mathlearn.symbolic._search import (
        evaluate_terms,
        fit_linear,
        optimize_constants,
    )

    X, y = _noisy_gravity()
    tuned, _ = optimize_constants([_gravity_term(0.99, 1.0, 1.0)], X, y, "lbfgs")
    G = evaluate_terms(tuned, X)
    budget = fit_linear(G, y)[2] * (1 + _rounding_share(y.size))
    one_at_a_time, *_ = _round_constants(tuned, G, X, y, None, budget)
    assert constants(one_at_a_time[0]) != [1.0, 1.0, 1.0]
    refitted, *_ = _round_constants(tuned, G, X, y, None, budget, "least_squares")
    assert constants(refitted[0]) == [1.0, 1.0, 1.0]


def test_a_fit_that_reaches_max_time_returns_rounded_constants_in_time():
    """2.5 x0 x1 / x2 with 1% noise on 1,000 samples: no formula is exact,
    so the search runs to its deadline, 90% of max_time; the rounding of the
    front, refits included, takes the rest, and max_time holds within 10%."""
    import time

    rng = np.random.RandomState(0)
    X = rng.uniform(1, 5, size=(1000, 3))
    y = 2.5 * X[:, 0] * X[:, 1] / X[:, 2]
    y = y + 0.01 * np.std(y) * rng.normal(size=1000)
    reg = SymbolicRegressor(max_time=5, random_state=0)
    start = time.perf_counter()
    found = reg.fit(X, y).sympy()
    assert time.perf_counter() - start <= 1.1 * 5
    x0, x1, x2 = _symbols(3)
    assert _exact(found, sympy.Rational(5, 2) * x0 * x1 / x2), found
