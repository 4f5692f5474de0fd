"""The exact-recovery judge of benchmarks/bench_feynman.py (SRBench's rule)."""

import sys
from pathlib import Path

import numpy as np
import sympy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_feynman  # noqa: E402

q, eps, r = sympy.symbols("q epsilon r", positive=True)
SYMBOLS = [q, eps, r]
TRUTH = q / (4 * sympy.pi * eps * r**2)
POINTS = np.random.RandomState(0).uniform(1, 5, size=(50, 3))


def _judge(found, noise_free=True):
    return bench_feynman.is_recovered(
        found, TRUTH, SYMBOLS, POINTS, noise_free=noise_free
    )


def test_right_formula_with_rounded_constants_counts():
    # 1/(4 pi) = 0.0795774715...: printed to 3 or to 10 digits, it is the law.
    assert _judge(sympy.Float(0.0796) * q / (eps * r**2))
    assert _judge(sympy.Float(0.0795774715) * q * r**-2 / eps)
    # An exponent that is 2 to round-off, and a negligible extra term.
    assert _judge(sympy.Float(0.0795774715) * q / (eps * r ** sympy.Float(2.0000001)))
    assert _judge(TRUTH + sympy.Float(1e-7) * r)


def test_wrong_formula_does_not_count():
    assert not _judge(sympy.Float(0.0796) * q / (eps * r**3))
    assert not _judge(sympy.Float(0.0796) * q / (eps * r**2) + r)
    assert not _judge(sympy.Float(0.0796) * q / (eps * r**2 + 1))
    # Complex on the domain: not the law, whatever its real part.
    assert not _judge(TRUTH + sympy.sqrt(sympy.Float(-1.0) * r))


def test_noise_free_constant_must_be_zero_or_one():
    scaled = sympy.Float(1.01) * TRUTH
    shifted = TRUTH + sympy.Float(0.5)
    assert not _judge(scaled, noise_free=True)
    assert not _judge(shifted, noise_free=True)
    # On noisy data a constant offset or scale is the noise's, not the law's.
    assert _judge(scaled, noise_free=False)
    assert _judge(shifted, noise_free=False)
    assert not _judge(sympy.Integer(0) * TRUTH, noise_free=False)


def test_database_syntax_is_parsed():
    equation = bench_feynman.Equation(
        "test", "theta", "arcsin(n*sin(theta2))*I/ln(E)", ("n", "theta2", "I", "E"),
        np.array([0.0, 1, 1, 2]), np.array([1.0, 5, 5, 3]),
    )  # fmt: skip
    symbols = bench_feynman.variable_symbols(equation)
    expr = bench_feynman.parse_formula(equation.formula, symbols)
    n, theta2, current, energy = symbols
    assert not n.is_positive and theta2.is_positive  # n's range starts at 0
    assert expr == sympy.asin(n * sympy.sin(theta2)) * current / sympy.log(energy)


def test_problem_sampling_and_noise():
    equation = bench_feynman.Equation(
        "test", "F", "q/(4*pi*epsilon*r**2)", ("q", "epsilon", "r"),
        np.array([1.0, 1, 1]), np.array([5.0, 5, 5]),
    )  # fmt: skip
    clean = bench_feynman.make_problem(equation, 0.0, seed=0)
    noisy = bench_feynman.make_problem(equation, 0.01, seed=0)
    assert clean.X_train.shape == (1000, 3) and clean.X_test.shape == (1000, 3)
    assert (clean.X_train >= 1).all() and (clean.X_train <= 5).all()
    X = clean.X_train
    np.testing.assert_allclose(
        clean.y_train, X[:, 0] / (4 * np.pi * X[:, 1] * X[:, 2] ** 2)
    )
    np.testing.assert_array_equal(noisy.y_test, clean.y_test)  # the test set is clean
    ratio = np.std(noisy.y_train - clean.y_train) / np.std(clean.y_train)
    assert 0.009 < ratio < 0.011
