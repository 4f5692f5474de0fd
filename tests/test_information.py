"""Information measures against scipy, scikit-learn, identities and closed forms."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from sklearn.feature_selection import mutual_info_regression
from sklearn.metrics import mutual_info_score

from mathlearn.information import (
    conditional_entropy,
    cross_entropy,
    entropy,
    joint_entropy,
    kl_divergence,
    mutual_information,
)


@st.composite
def joint_tables(draw, max_axes=3):
    """Random joint probability tables, with some exact zeros."""
    shape = draw(st.lists(st.integers(1, 4), min_size=2, max_size=max_axes))
    cells = draw(
        arrays(
            np.float64,
            shape,
            elements=st.one_of(st.just(0.0), st.floats(1e-3, 1.0)),
        )
    )
    if cells.sum() == 0:
        cells.flat[0] = 1.0
    return cells / cells.sum()


@settings(max_examples=60, deadline=None)
@given(joint_tables(max_axes=2))
def test_mutual_information_identities(p):
    p_x, p_y = p.sum(axis=1), p.sum(axis=0)
    mi = mutual_information(p)
    h_x, h_y, h_xy = entropy(p_x), entropy(p_y), joint_entropy(p)
    h_x_given_y = conditional_entropy(p)
    assert mi == pytest.approx(kl_divergence(p, np.outer(p_x, p_y)), abs=1e-12)
    assert mi == pytest.approx(h_x - h_x_given_y, abs=1e-12)
    assert mi == pytest.approx(h_x + h_y - h_xy, abs=1e-12)
    assert h_xy == pytest.approx(h_y + h_x_given_y, abs=1e-12)
    assert mi >= -1e-12


@settings(max_examples=40, deadline=None)
@given(joint_tables(max_axes=3), st.integers(0, 2))
def test_axis_selects_the_variables(p, axis):
    axis = axis % p.ndim
    moved = np.moveaxis(p, axis, 0).reshape(p.shape[axis], -1)
    assert mutual_information(p, axis=axis) == pytest.approx(
        mutual_information(moved), abs=1e-12
    )
    assert conditional_entropy(p, axis=axis) == pytest.approx(
        conditional_entropy(moved), abs=1e-12
    )
    # Symmetry: I(X; Y) = I(Y; X).
    others = tuple(a for a in range(p.ndim) if a != axis)
    assert mutual_information(p, axis=axis) == pytest.approx(
        mutual_information(p, axis=others), abs=1e-12
    )


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, 6, elements=st.one_of(st.just(0.0), st.floats(1e-3, 1))),
    arrays(np.float64, 6, elements=st.floats(1e-3, 1)),
)
def test_against_scipy_entropy(p, q):
    if p.sum() == 0:
        p[0] = 1.0
    p, q = p / p.sum(), q / q.sum()
    assert entropy(p) == pytest.approx(stats.entropy(p), abs=1e-12)
    assert entropy(p, base=2) == pytest.approx(stats.entropy(p, base=2), abs=1e-12)
    assert kl_divergence(p, q) == pytest.approx(stats.entropy(p, q), abs=1e-12)
    assert cross_entropy(p, q) == pytest.approx(
        entropy(p) + kl_divergence(p, q), abs=1e-12
    )


def test_label_samples_match_sklearn_and_scipy():
    rng = np.random.RandomState(0)
    x = rng.choice(["cat", "dog", "owl"], size=500)
    y = np.where(rng.rand(500) < 0.7, x, rng.choice(["cat", "dog", "owl"], 500))
    y = pd.Series(y).map({"cat": 1, "dog": (2, "b"), "owl": 3.5})
    assert mutual_information(x, y) == pytest.approx(
        mutual_info_score(x, y.astype(str)), abs=1e-12
    )
    counts = pd.Series(x).value_counts().to_numpy()
    assert entropy(x, kind="discrete") == pytest.approx(
        stats.entropy(counts), abs=1e-12
    )
    assert entropy(pd.Series(x), kind="discrete", base=2) == pytest.approx(
        stats.entropy(counts, base=2), abs=1e-12
    )
    h_xy = joint_entropy(x, y)
    assert conditional_entropy(x, y) == pytest.approx(
        h_xy - entropy(y.astype(str), kind="discrete"), abs=1e-12
    )


def test_zero_cells_are_exact():
    assert entropy([1.0, 0.0, 0.0]) == 0.0
    assert kl_divergence([0.0, 1.0], [0.5, 0.5]) == pytest.approx(np.log(2))
    assert kl_divergence([0.5, 0.5], [0.0, 1.0]) == np.inf
    assert cross_entropy([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert cross_entropy([0.0, 1.0], [0.0, 1.0]) == 0.0
    independent = np.outer([0.5, 0.5, 0.0], [0.25, 0.75])
    assert mutual_information(independent) == pytest.approx(0.0, abs=1e-15)
    assert conditional_entropy(np.diag([0.5, 0.0, 0.5])) == 0.0


def test_base_converts_units():
    p = np.array([[0.1, 0.2], [0.3, 0.4]])
    for function in (joint_entropy, conditional_entropy, mutual_information):
        assert function(p, base=2) == pytest.approx(function(p) / np.log(2))
        assert function(p, base=10) == pytest.approx(function(p) / np.log(10))


def test_normalisation_tolerance():
    p = np.array([0.2, 0.3, 0.5])
    assert entropy(p * (1 + 1e-8)) == pytest.approx(entropy(p), abs=1e-14)
    with pytest.raises(ValueError, match="sums to"):
        entropy(p * 1.01)


def _correlated_gaussian(rho, n, seed):
    z = np.random.RandomState(seed).normal(size=(n, 2))
    return z[:, 0], rho * z[:, 0] + np.sqrt(1 - rho**2) * z[:, 1]


def test_ksg_mutual_information_of_correlated_gaussians():
    rho = 0.6
    closed_form = -0.5 * np.log(1 - rho**2)
    estimates = [
        mutual_information(*_correlated_gaussian(rho, 5000, seed), kind="continuous")
        for seed in range(5)
    ]
    # Each estimate has a sampling spread of about 0.015 nats at n = 5,000.
    assert abs(np.mean(estimates) - closed_form) < 0.02
    assert np.max(np.abs(np.array(estimates) - closed_form)) < 0.05


def test_ksg_agrees_with_sklearn_mutual_info_regression():
    x, y = _correlated_gaussian(0.8, 2000, seed=7)
    ours = mutual_information(x, y, kind="continuous", n_neighbors=3)
    # scikit-learn adds 1e-10-scale noise before the same KSG estimate.
    theirs = mutual_info_regression(x[:, None], y, n_neighbors=3, random_state=0)[0]
    assert ours == pytest.approx(theirs, abs=2e-3)


def test_kozachenko_leonenko_entropy_of_gaussians():
    rng = np.random.RandomState(1)
    sigma = 2.0
    h = entropy(sigma * rng.normal(size=5000), kind="continuous")
    assert h == pytest.approx(0.5 * np.log(2 * np.pi * np.e * sigma**2), abs=0.03)
    cov = np.array([[1.0, 0.5], [0.5, 2.0]])
    sample = rng.multivariate_normal([0, 0], cov, size=5000)
    closed_form = 0.5 * np.log(np.linalg.det(2 * np.pi * np.e * cov))
    assert entropy(sample, kind="continuous") == pytest.approx(closed_form, abs=0.05)
    x, y = sample[:, 0], sample[:, 1]
    assert joint_entropy(x, y, kind="continuous") == pytest.approx(
        closed_form, abs=0.05
    )
    h_x_given_y = 0.5 * np.log(2 * np.pi * np.e * (1.0 - 0.5**2 / 2.0))
    assert conditional_entropy(x, y, kind="continuous") == pytest.approx(
        h_x_given_y, abs=0.06
    )


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: entropy([0.5, -0.1, 0.6]), "negative"),
        (lambda: entropy([0.5, np.nan, 0.5]), "NaN"),
        (lambda: entropy([0.2, 0.2]), "sums to"),
        (lambda: entropy([]), "empty"),
        (lambda: entropy([0.5, 0.5], base=1), "base"),
        (lambda: entropy([0.5, 0.5], base=-2), "base"),
        (lambda: entropy([0.5, 0.5], kind="bits"), "kind"),
        (lambda: mutual_information([0, 1, 1], [0, 1]), "same length"),
        (lambda: mutual_information([0, 1, np.nan], [0, 1, 1]), "missing"),
        (lambda: mutual_information([[0, 1], [1, 0]], [0, 1]), "1-D"),
        (lambda: mutual_information([0.5, 0.5]), "at least 2 axes"),
        (lambda: mutual_information(np.full((2, 2), 0.25), axis=(0, 1)), "axis"),
        (lambda: mutual_information(np.full((2, 2), 0.25), axis=2), "axis"),
        (lambda: mutual_information([0.5, 0.5], [1, 2], kind="table"), "y must be"),
        (lambda: mutual_information([0.5, 0.5], kind="continuous"), "y is None"),
        (lambda: kl_divergence([0.5, 0.5], [1.0]), "same shape"),
        (lambda: cross_entropy([0.5, 0.5], [1.5, -0.5]), "negative"),
        (
            lambda: mutual_information([1.0, 2, 3], [1.0, 2, 4], kind="continuous"),
            "n_neighbors",
        ),
        (lambda: entropy(np.zeros(10), kind="continuous"), "identical"),
        (lambda: entropy([1.0, np.inf, 2, 3, 4], kind="continuous"), "infinity"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------------------
# Units, ties, many labels and complex input (issue 16).


@pytest.mark.parametrize(
    "scale_x, scale_y, shift",
    [(1e-3, 1e3, 0.0), (0.01, 1.0, 0.0), (1e300, 1e-300, 0.0), (1.0, 1.0, 1e8)],
)
def test_ksg_mutual_information_does_not_depend_on_units(scale_x, scale_y, shift):
    # x * 1e-3, y * 1e3 gave -0.0 and x * 0.01 gave 0.448 instead of 0.51: the
    # max-norm neighbours were those of the variable with the larger spread.
    x, y = _correlated_gaussian(0.8, 2000, seed=7)
    reference = mutual_info_regression(x[:, None], y, random_state=0)[0]
    if max(scale_x, scale_y) < 1e6:
        # scikit-learn scales too, so it gives the same in other units (it
        # overflows for values near 1e300).
        assert mutual_info_regression(
            (x * scale_x)[:, None], y * scale_y, random_state=0
        )[0] == pytest.approx(reference, abs=1e-9)
    ours = mutual_information(
        x * scale_x + shift, y * scale_y - shift, kind="continuous"
    )
    assert ours == pytest.approx(reference, abs=2e-3)


@pytest.mark.parametrize("scale", [1e-300, 1e-3, 1e300])
def test_kozachenko_leonenko_entropies_follow_a_change_of_units(scale):
    # H(a X) = H(X) + log|a| exactly; samples * 1e300 gave inf.
    # Each estimate has a sampling spread of about 0.02 nats at n = 5,000.
    rng = np.random.RandomState(6)
    cov = np.array([[1.0, 0.5], [0.5, 2.0]])
    sample = rng.multivariate_normal([0, 0], cov, size=5000)
    x, y = sample[:, 0] * scale, sample[:, 1]
    h_x = 0.5 * np.log(2 * np.pi * np.e * cov[0, 0]) + np.log(scale)
    h_xy = 0.5 * np.log(np.linalg.det(2 * np.pi * np.e * cov)) + np.log(scale)
    h_y = 0.5 * np.log(2 * np.pi * np.e * cov[1, 1])
    assert entropy(x, kind="continuous") == pytest.approx(h_x, abs=0.03)
    assert joint_entropy(x, y, kind="continuous") == pytest.approx(h_xy, abs=0.05)
    assert conditional_entropy(x, y, kind="continuous") == pytest.approx(
        h_xy - h_y, abs=0.06
    )
    assert entropy(sample * [scale, 1.0], kind="continuous") == pytest.approx(
        h_xy, abs=0.05
    )


def test_ksg_rejects_tied_samples_like_the_entropies():
    # Five levels of 40 copies against a noisy copy gave -1.134 nats.
    rng = np.random.RandomState(0)
    levels = np.repeat(np.arange(5.0), 40)
    noisy = levels + rng.normal(size=200)
    for x, y, name in [(levels, noisy, "x"), (noisy, levels, "y")]:
        with pytest.raises(ValueError, match=rf"{name} has 40 identical values"):
            mutual_information(x, y, kind="continuous")
        with pytest.raises(ValueError, match="kind='discrete'"):
            entropy(levels, kind="continuous")
    with pytest.raises(ValueError, match=r"x has 40 identical values \(\[0\.0, 1\.0\]"):
        mutual_information(np.c_[levels, levels + 1], noisy, kind="continuous")
    # The discrete estimate of the same data is the plug-in one.
    assert mutual_information(levels, levels) == pytest.approx(np.log(5))


def test_ksg_accepts_ties_of_at_most_n_neighbors_copies():
    x, y = _correlated_gaussian(0.8, 2000, seed=7)
    paired = np.repeat(x[:1000], 2)
    for k in (2, 3):
        assert np.isfinite(
            mutual_information(paired, y, kind="continuous", n_neighbors=k)
        )
    with pytest.raises(ValueError, match="2 identical values"):
        mutual_information(paired, y, kind="continuous", n_neighbors=1)


@pytest.mark.parametrize("n_labels", [3, 30, 40_000])
def test_label_measures_count_only_observed_pairs(n_labels):
    # 40,000 labels on each side needed a dense 11.9 GiB table.
    rng = np.random.RandomState(1)
    n = 40_000
    x = rng.randint(n_labels, size=n)
    y = np.where(rng.rand(n) < 0.5, x, rng.randint(n_labels, size=n))
    assert mutual_information(x, y) == pytest.approx(mutual_info_score(x, y), abs=1e-10)
    pair_counts = pd.Series(list(zip(x, y, strict=True))).value_counts()
    h_xy = stats.entropy(pair_counts.to_numpy())
    h_y = stats.entropy(np.unique(y, return_counts=True)[1])
    assert joint_entropy(x, y) == pytest.approx(h_xy, abs=1e-10)
    assert conditional_entropy(x, y) == pytest.approx(h_xy - h_y, abs=1e-10)


def test_complex_input_is_rejected_not_truncated():
    z = np.array([0.5 + 0.5j, 0.5 - 0.5j])
    calls = [
        lambda: entropy(z),
        lambda: mutual_information(np.diag(z)),
        lambda: kl_divergence(z, [0.5, 0.5]),
        lambda: entropy(np.arange(10) * 1j, kind="continuous"),
        lambda: mutual_information(
            np.arange(10.0), np.arange(10) + 1j, kind="continuous"
        ),
    ]
    for call in calls:
        with pytest.raises(TypeError, match="complex"):
            call()
    with pytest.raises(TypeError, match="real numbers"):
        entropy(["a", "b", "c", "d", "e"], kind="continuous")
    # Complex numbers are fine as labels, which are only compared.
    labels = np.array([1 + 1j, 1 - 1j, 2j, 1 + 1j])
    assert mutual_information(labels, [0, 1, 2, 0]) == pytest.approx(
        mutual_info_score(labels.astype(str), [0, 1, 2, 0])
    )
