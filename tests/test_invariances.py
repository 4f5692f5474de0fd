"""Answers do not depend on where the data sit, their units or their dtype.

Every public estimator found by :func:`mathlearn.utils.all_estimators` is held
to the invariances below without editing this file (DESIGN.md, "Rules every
estimator keeps"):

- shifting every column of ``X`` by a constant (``1e6`` in float64, ``1e3``
  in float32) leaves predictions, labels and distances unchanged, shifts an
  imputer's output by the same constant and a fixed linear map's output by
  the image of the constant;
- scaling ``y`` by ``a`` scales a regressor's predictions by ``a``;
- float32 and float64 inputs give the same answer to float32 precision, and a
  transformer that declares float32 in ``preserves_dtype`` returns float32;
- ``predict_entries(r, c)`` reads the same model as ``transform(X)[r, c]``.

The data are multiples of ``2**-7`` below 8 in magnitude, so ``X + 1e3`` is
exact in float32 (and ``X + 1e6`` in float64): the shifted input carries
exactly the same information, and any difference in the answer comes from the
estimator's own arithmetic (an expanded squared distance on uncentred data, a
solver that needs unit-scale data), which is what these tests are for.

An estimator that is not held to an invariance says why in ``_SHIFT_EXEMPT``.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone, is_regressor

from mathlearn.utils import all_estimators

ESTIMATOR_CLASSES = [cls for _, cls in all_estimators()]

# Estimators that a shift of X does not leave invariant by design, and why.
_SHIFT_EXEMPT = {
    "SymbolicRegressor": (
        "a formula of x is a different formula of x + c (x**2 becomes "
        "(x - c)**2): symbolic regression is not translation invariant"
    ),
    "SampledRandomProjection": (
        "its components are the training rows' directions from the origin "
        "(built for sparse data, where centring would densify them), so "
        "shifting the training rows changes the projection itself"
    ),
}

_SHIFTS = {np.float64: 1e6, np.float32: 1e3}


def _ids(cls):
    return cls.__name__


def _instance(cls):
    estimator = cls(**getattr(cls, "_test_params", {}))
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=0)
    return estimator


def _tags(estimator):
    return estimator.__sklearn_tags__()


def _is_imputer(estimator):
    return _tags(estimator).input_tags.allow_nan and hasattr(estimator, "transform")


def _data(estimator, *, n_samples=60, n_features=6, seed=0):
    """Rank-2 data plus noise on a grid of ``2**-7``, with 10% NaN for imputers."""
    rng = np.random.RandomState(seed)
    latent = rng.normal(size=(n_samples, 2))
    X = latent @ rng.normal(size=(2, n_features)) + 0.1 * rng.normal(
        size=(n_samples, n_features)
    )
    X = np.clip(np.round(X * 2**7) / 2**7, -7.5, 7.5)
    y = np.round((X[:, 0] - 2.0 * X[:, 1]) * 2**5) / 2**5
    if _is_imputer(estimator):
        X[rng.rand(*X.shape) < 0.1] = np.nan
    return X, y


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        # Convergence is not what these tests are about.
        warnings.simplefilter("ignore")
        if is_regressor(estimator):
            return estimator.fit(X, y)
        return estimator.fit(X)


def _outputs(estimator, X):
    """Every answer the fitted estimator gives for ``X``, by name."""
    out = {}
    if hasattr(estimator, "predict"):
        out["predict"] = np.asarray(estimator.predict(X))
    if hasattr(estimator, "transform"):
        out["transform"] = np.asarray(estimator.transform(X))
    return out


def _spread(values):
    finite = values[np.isfinite(values)]
    return max(float(np.ptp(finite)), 1.0) if finite.size else 1.0


def test_the_registry_is_not_empty():
    """The parametrised tests below vanish if discovery finds nothing."""
    assert len(ESTIMATOR_CLASSES) >= 10
    assert set(_SHIFT_EXEMPT) <= {cls.__name__ for cls in ESTIMATOR_CLASSES}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=_ids)
def test_shifting_every_column(cls, dtype):
    if cls.__name__ in _SHIFT_EXEMPT:
        pytest.skip(_SHIFT_EXEMPT[cls.__name__])
    estimator = _instance(cls)
    X, y = _data(estimator)
    X = X.astype(dtype)
    c = dtype(_SHIFTS[dtype])
    X_shifted = X + c
    np.testing.assert_array_equal(X_shifted - c, X)  # the shift is exact

    plain = _outputs(_fit(clone(estimator), X, y), X)
    fitted = _fit(clone(estimator), X_shifted, y)
    shifted = _outputs(fitted, X_shifted)
    # float32 arithmetic on the centred data: a few ulps of the spread.
    rtol = 1e-4 if dtype == np.float32 else 1e-8

    for method, expected in plain.items():
        got = shifted[method]
        if method == "transform" and _is_imputer(estimator):
            got = got - c  # an imputation lives where the data live
        elif method == "transform" and hasattr(fitted, "frequencies_"):
            # A constant added to a signal is its zero-frequency component.
            keep = np.asarray(fitted.frequencies_) != 0
            got, expected = got[:, keep], expected[:, keep]
        elif method == "transform" and not _tags(estimator).input_tags.allow_nan:
            if not hasattr(fitted, "cluster_centers_"):
                # A linear map fixed before seeing X: the image of the shift
                # is one row added to every output row.
                image = fitted.transform(np.full((1, X.shape[1]), c, dtype=dtype))
                zero = fitted.transform(np.zeros((1, X.shape[1]), dtype=dtype))
                got = got.astype(np.float64) - (image - zero)
        atol = rtol * _spread(np.asarray(expected, dtype=np.float64))
        if method == "predict" and not is_regressor(estimator):
            np.testing.assert_array_equal(got, expected, err_msg=method)
        else:
            np.testing.assert_allclose(got, expected, rtol=0, atol=atol, err_msg=method)


@pytest.mark.parametrize("scale", [1e-6, 1e-3, 1e3, 1e6])
@pytest.mark.parametrize(
    "cls", [cls for cls in ESTIMATOR_CLASSES if is_regressor(cls())], ids=_ids
)
def test_scaling_y_scales_predictions(cls, scale):
    estimator = _instance(cls)
    X, y = _data(estimator)
    expected = _fit(clone(estimator), X, y).predict(X)
    got = _fit(clone(estimator), X, scale * y).predict(X)
    # A model may round what it reports in the user's units (a formula's
    # constants) or stop an iterative solver at its tolerance: the scaled fit
    # may differ by a tenth of the model's own error or by 1e-5 of the
    # predictions' spread, never by more.
    residual = np.sqrt(np.mean((y - expected) ** 2))
    atol = max(1e-5 * _spread(expected), 0.1 * residual)
    np.testing.assert_allclose(got / scale, expected, rtol=1e-9, atol=atol)


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=_ids)
def test_float32_gives_the_float64_answer(cls):
    estimator = _instance(cls)
    X, y = _data(estimator)
    answer64 = _outputs(_fit(clone(estimator), X, y), X)
    X32 = X.astype(np.float32)
    assert np.array_equal(X32, X, equal_nan=True)  # the same numbers
    answer32 = _outputs(_fit(clone(estimator), X32, y), X32)
    preserves = _tags(estimator).transformer_tags
    for method, expected in answer64.items():
        got = answer32[method]
        if method == "transform" and "float32" in (preserves.preserves_dtype or ()):
            assert got.dtype == np.float32, f"{method} returned {got.dtype}"
        if method == "predict" and not is_regressor(estimator):
            np.testing.assert_array_equal(got, expected, err_msg=method)
            continue
        atol = 1e-4 * _spread(np.asarray(expected, dtype=np.float64))
        np.testing.assert_allclose(got, expected, rtol=0, atol=atol, err_msg=method)


@pytest.mark.parametrize(
    "cls",
    [cls for cls in ESTIMATOR_CLASSES if hasattr(cls, "predict_entries")],
    ids=_ids,
)
def test_predict_entries_reads_the_transform(cls):
    estimator = _instance(cls)
    X, y = _data(estimator, n_samples=80)
    fitted = _fit(estimator, X, y)
    completed = fitted.transform(X)
    rows, cols = np.indices(X.shape).reshape(2, -1)
    missing = np.isnan(X[rows, cols])
    got = fitted.predict_entries(rows, cols)
    # A missing entry's completion is the model's value there; an observed
    # entry keeps its observation in transform, so only finiteness is asked.
    np.testing.assert_allclose(
        got[missing], completed[rows, cols][missing], rtol=1e-10, atol=1e-10
    )
    assert np.all(np.isfinite(got))


# The function modules: the same promises, for the functions that have them.

_scales = st.floats(min_value=-6, max_value=6).map(lambda e: 10.0**e)


@settings(max_examples=25, deadline=None)
@given(a=_scales, b=_scales)
def test_mutual_information_does_not_depend_on_units(a, b):
    from mathlearn.information import mutual_information

    rng = np.random.RandomState(0)
    x = rng.normal(size=300)
    y = x + 0.5 * rng.normal(size=300)
    expected = mutual_information(x, y, kind="continuous")
    got = mutual_information(a * x, b * y, kind="continuous")
    assert expected > 0.3
    np.testing.assert_allclose(got, expected, rtol=1e-9)


@settings(max_examples=25, deadline=None)
@given(a=_scales)
def test_differential_entropy_moves_by_the_log_of_the_unit(a):
    from mathlearn.information import entropy

    x = np.random.RandomState(1).normal(size=300)
    expected = entropy(x, kind="continuous") + np.log(a)
    np.testing.assert_allclose(entropy(a * x, kind="continuous"), expected, rtol=1e-9)


def _sum_of_softmax(x):
    from mathlearn.backprop import softmax

    return softmax(x).sum()


@settings(max_examples=25, deadline=None)
@given(exponent=st.integers(min_value=-30, max_value=30))
def test_check_gradient_judges_every_scale_alike(exponent):
    """Right on a zero gradient and on tiny or huge ones; wrong when wrong."""
    from mathlearn.backprop import check_gradient

    c = 10.0**exponent
    x = np.random.RandomState(2).normal(size=(3, 4))
    # The sum of a softmax is constant: its exact gradient is zero.
    assert check_gradient(lambda z: c * _sum_of_softmax(z), [x], [0 * x])[0] < 1e-6
    # f = c * sum(x**2): right gradient 2 c x, wrong one 3 c x.
    right = check_gradient(lambda z: c * np.sum(z**2), [x], [2 * c * x])[0]
    wrong = check_gradient(lambda z: c * np.sum(z**2), [x], [3 * c * x])[0]
    assert right < 1e-6 < 0.1 < wrong


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_check_gradient_never_passes_a_non_finite_gradient(bad):
    from mathlearn.backprop import check_gradient

    x = np.random.RandomState(3).normal(size=5)
    grad = 2 * x
    grad[2] = bad
    error = check_gradient(lambda z: np.sum(z**2), [x], [grad])[0]
    assert not error < 1e-6


@pytest.mark.parametrize(
    "mask",
    [
        np.tril(np.ones((5, 5), dtype=bool)),
        np.tril(np.ones((5, 5), dtype=int)),
        np.tril(np.ones((5, 5), dtype=np.uint8)),
        np.where(np.tril(np.ones((5, 5), dtype=bool)), 0.0, -np.inf),
    ],
    ids=["bool", "int", "uint8", "additive float"],
)
def test_attention_masks_of_every_dtype_mean_the_same(mask):
    from mathlearn.backprop import attention_forward

    rng = np.random.RandomState(4)
    Q, K, V = (rng.normal(size=(2, 5, 3)) for _ in range(3))
    out, _ = attention_forward(Q, K, V, mask=mask)
    # The causal mask by hand: query t attends to keys 0..t only.
    scores = Q @ K.transpose(0, 2, 1) / np.sqrt(3)
    expected = np.empty_like(out)
    for t in range(5):
        w = np.exp(scores[:, t, : t + 1] - scores[:, t, : t + 1].max(-1, keepdims=True))
        w /= w.sum(-1, keepdims=True)
        expected[:, t] = np.einsum("bk,bkd->bd", w, V[:, : t + 1])
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
