"""Nadaraya-Watson regression against attention pooling, statsmodels and brute force."""

import numpy as np
import pytest
from scipy import sparse, stats
from sklearn.metrics import pairwise_distances

from mathlearn.kernel_regression import NadarayaWatsonRegressor, nadaraya_watson
from mathlearn.kernel_regression import _nadaraya_watson as nw_module

# Kernel profiles of the scaled distance r, written out independently here.
PROFILES = {
    "gaussian": lambda r: np.exp(-(r**2) / 2),
    "epanechnikov": lambda r: np.where(r <= 1, 1 - r**2, 0.0),
    "tricube": lambda r: np.where(r <= 1, (1 - np.minimum(r, 1) ** 3) ** 3, 0.0),
    "uniform": lambda r: (r <= 1).astype(float),
}


def _data(n=60, d=1, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n, d))
    y = np.sin(2 * X[:, 0]) + 0.3 * X[:, -1] ** 2 + 0.1 * rng.normal(size=n)
    return X, y


def _softmax_pooling(Q, K, V, h):
    """Attention pooling: softmax(-||q - k||^2 / 2 h^2) @ V, computed directly."""
    scores = -(((Q[:, None, :] - K[None, :, :]) / h) ** 2).sum(-1) / 2
    scores -= scores.max(axis=1, keepdims=True)
    attention = np.exp(scores)
    attention /= attention.sum(axis=1, keepdims=True)
    return attention @ V, attention


def _brute_pool(Q, K, V, h, kernel, metric="euclidean"):
    """Kernel-weighted average with the nearest-key fallback, by hand."""
    r = pairwise_distances(Q / h, K / h, metric=metric)
    w = PROFILES[kernel](r) if isinstance(kernel, str) else kernel(r)
    out = np.empty((len(Q),) + V.shape[1:])
    for q in range(len(Q)):
        if w[q].sum() > 0:
            out[q] = w[q] @ V / w[q].sum()
        else:
            out[q] = V[np.argmin(r[q])]
    return out


def _brute_loo_mse(X, y, h, kernel):
    """Leave-one-out MSE by refitting on n - 1 points, one point at a time."""
    errors = []
    for i in range(len(X)):
        keep = np.arange(len(X)) != i
        pred = _brute_pool(X[i : i + 1], X[keep], y[keep], h, kernel)
        errors.append((pred[0] - y[i]) ** 2)
    return np.mean(errors)


@pytest.mark.parametrize("d", [1, 3])
def test_gaussian_equals_softmax_attention_pooling(d):
    X, y = _data(d=d)
    Q = np.random.RandomState(1).uniform(-2, 2, size=(25, d))
    h = np.linspace(0.3, 0.6, d)
    expected, attention = _softmax_pooling(Q, X, y, h)
    np.testing.assert_allclose(nadaraya_watson(Q, X, y, h), expected, rtol=1e-12)
    reg = NadarayaWatsonRegressor(bandwidth=h).fit(X, y)
    np.testing.assert_allclose(reg.predict(Q), expected, rtol=1e-12)
    np.testing.assert_allclose(reg.attention_weights(Q), attention, atol=1e-14)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # statsmodels' own import
@pytest.mark.parametrize("d", [1, 2])
def test_matches_statsmodels_local_constant(d):
    nonparametric = pytest.importorskip("statsmodels.nonparametric.api")
    X, y = _data(n=80, d=d, seed=2)
    Q = np.random.RandomState(3).uniform(-2.5, 2.5, size=(30, d))
    h = np.array([0.35, 0.8])[:d]
    ref = nonparametric.KernelReg(y, X, var_type="c" * d, reg_type="lc", bw=h)
    expected, _ = ref.fit(Q)
    got = NadarayaWatsonRegressor(bandwidth=h).fit(X, y).predict(Q)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kernel", sorted(PROFILES))
def test_loo_cv_equals_brute_force_leave_one_out(kernel):
    X, y = _data(n=40, seed=4)
    reg = NadarayaWatsonRegressor(kernel=kernel).fit(X, y)
    h = reg.bandwidth_
    assert reg.cv_mse_ == pytest.approx(_brute_loo_mse(X, y, h, kernel), rel=1e-10)
    # The chosen bandwidth is a minimum of the brute-force curve: no grid point
    # around it (nor the rules of thumb) does better.
    best = reg.cv_mse_
    for factor in [0.25, 0.5, 0.8, 0.95, 1.05, 1.25, 2.0, 4.0]:
        assert _brute_loo_mse(X, y, h * factor, kernel) >= best * (1 - 1e-3)


def test_loo_cv_per_feature_switches_off_an_irrelevant_feature():
    rng = np.random.RandomState(16)
    X = rng.uniform(-2, 2, size=(150, 2))
    y = np.sin(2 * X[:, 0]) + 0.1 * rng.normal(size=150)
    common = NadarayaWatsonRegressor().fit(X, y)
    per_feature = NadarayaWatsonRegressor(bandwidth="loo_cv_per_feature").fit(X, y)
    assert per_feature.cv_mse_ < 0.8 * common.cv_mse_
    assert per_feature.bandwidth_[1] > 20 * per_feature.bandwidth_[0]
    brute = _brute_loo_mse(X, y, per_feature.bandwidth_, "gaussian")
    assert per_feature.cv_mse_ == pytest.approx(brute, rel=1e-10)


def test_loo_cv_multi_output_is_mean_over_outputs():
    X, y = _data(n=30, d=2, seed=5)
    Y = np.column_stack([y, np.cos(X[:, 1])])
    reg = NadarayaWatsonRegressor().fit(X, Y)
    mse = np.mean(
        [_brute_loo_mse(X, Y[:, j], reg.bandwidth_, "gaussian") for j in range(2)]
    )
    assert reg.cv_mse_ == pytest.approx(mse, rel=1e-10)


@pytest.mark.parametrize("kernel", ["epanechnikov", "tricube", "uniform"])
def test_compact_kernels_sparse_weights_and_nearest_fallback(kernel):
    X, y = _data(n=50, seed=6)
    Q = np.array([[-1.0], [0.2], [1.7], [9.0], [-7.0]])
    reg = NadarayaWatsonRegressor(kernel=kernel, bandwidth=0.3).fit(X, y)
    weights = reg.attention_weights(Q)
    assert sparse.issparse(weights)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-14)
    expected = _brute_pool(Q, X, y, 0.3, kernel)
    np.testing.assert_allclose(reg.predict(Q), expected, rtol=1e-12)
    np.testing.assert_allclose(weights @ y, expected, rtol=1e-12)
    # Far queries have no neighbour in the support: nearest training target.
    assert reg.predict(Q[3:4])[0] == y[np.argmax(X[:, 0])]
    assert reg.predict(Q[4:5])[0] == y[np.argmin(X[:, 0])]


def test_gaussian_never_nan_far_from_data():
    X, y = _data()
    reg = NadarayaWatsonRegressor(bandwidth=1e-3).fit(X, y)
    pred = reg.predict([[1e3], [-1e3]])
    np.testing.assert_array_equal(pred, [y[np.argmax(X)], y[np.argmin(X)]])


@pytest.mark.parametrize("metric", ["manhattan", "chebyshev"])
@pytest.mark.parametrize("kernel", ["gaussian", "tricube"])
def test_other_metrics(metric, kernel):
    X, y = _data(n=70, d=3, seed=7)
    Q = np.random.RandomState(8).uniform(-2, 2, size=(20, 3))
    h = np.array([0.5, 0.9, 1.3])
    reg = NadarayaWatsonRegressor(kernel=kernel, bandwidth=h, metric=metric)
    expected = _brute_pool(Q, X, y, h, kernel, metric=metric)
    np.testing.assert_allclose(reg.fit(X, y).predict(Q), expected, rtol=1e-10)


def test_callable_kernel():
    X, y = _data(n=50, d=2, seed=9)
    Q = np.random.RandomState(10).uniform(-2, 2, size=(15, 2))

    def cauchy(r):
        return 1.0 / (1.0 + r**2)

    reg = NadarayaWatsonRegressor(kernel=cauchy, bandwidth=0.4).fit(X, y)
    np.testing.assert_allclose(
        reg.predict(Q), _brute_pool(Q, X, y, 0.4, cauchy), rtol=1e-12
    )
    loo = NadarayaWatsonRegressor(kernel=cauchy).fit(X, y)
    assert loo.cv_mse_ == pytest.approx(
        _brute_loo_mse(X, y, loo.bandwidth_, cauchy), rel=1e-10
    )


def test_rules_of_thumb_match_scipy_gaussian_kde_factors():
    X, y = _data(n=90, d=2, seed=11)
    kde = stats.gaussian_kde(X.T)
    std = X.std(axis=0, ddof=1)
    scott = NadarayaWatsonRegressor(bandwidth="scott").fit(X, y)
    silverman = NadarayaWatsonRegressor(bandwidth="silverman").fit(X, y)
    np.testing.assert_allclose(scott.bandwidth_, kde.scotts_factor() * std)
    np.testing.assert_allclose(silverman.bandwidth_, kde.silverman_factor() * std)


def test_bandwidth_limits_interpolate_and_average():
    X, y = _data(n=30, seed=12)
    tiny = NadarayaWatsonRegressor(bandwidth=1e-6).fit(X, y)
    np.testing.assert_allclose(tiny.predict(X), y, rtol=1e-12)
    huge = NadarayaWatsonRegressor(bandwidth=1e8).fit(X, y)
    np.testing.assert_allclose(huge.predict(X[:5]), np.full(5, y.mean()), rtol=1e-9)


def test_multi_output_equals_one_fit_per_output():
    X, y = _data(n=40, d=2, seed=13)
    Y = np.column_stack([y, -2 * y + X[:, 1]])
    both = NadarayaWatsonRegressor(bandwidth=0.5).fit(X, Y).predict(X)
    assert both.shape == (40, 2)
    for j in range(2):
        one = NadarayaWatsonRegressor(bandwidth=0.5).fit(X, Y[:, j]).predict(X)
        np.testing.assert_allclose(both[:, j], one, rtol=1e-12)


@pytest.mark.parametrize("kernel", ["gaussian", "uniform"])
def test_chunks_and_threads_give_the_same_result(kernel, monkeypatch):
    X, y = _data(n=120, d=2, seed=14)
    whole = NadarayaWatsonRegressor(kernel=kernel).fit(X, y)
    monkeypatch.setattr(nw_module, "_CHUNK_ELEMENTS", 500)
    chunked = NadarayaWatsonRegressor(kernel=kernel, n_jobs=2).fit(X, y)
    np.testing.assert_allclose(chunked.bandwidth_, whole.bandwidth_, rtol=1e-12)
    np.testing.assert_allclose(chunked.predict(X), whole.predict(X), rtol=1e-12)


def test_nadaraya_watson_batches_and_vector_values():
    rng = np.random.RandomState(15)
    Q = rng.normal(size=(3, 4, 2))
    K = rng.normal(size=(3, 10, 2))
    V = rng.normal(size=(3, 10, 5))
    out = nadaraya_watson(Q, K, V, bandwidth=0.7)
    assert out.shape == (3, 4, 5)
    for b in range(3):
        np.testing.assert_allclose(
            out[b], _softmax_pooling(Q[b], K[b], V[b], 0.7)[0], rtol=1e-12
        )
    vector = nadaraya_watson(Q, K, V[..., 0], bandwidth=0.7, kernel="tricube")
    np.testing.assert_allclose(
        vector[1], _brute_pool(Q[1], K[1], V[1, :, 0], 0.7, "tricube"), rtol=1e-12
    )


def test_input_arrays_not_modified():
    X, y = _data(n=20, d=2)
    Q = X[:5] + 0.1
    copies = X.copy(), y.copy(), Q.copy()
    nadaraya_watson(Q, X, y, bandwidth=0.5)
    NadarayaWatsonRegressor(kernel="epanechnikov").fit(X, y).predict(Q)
    for before, after in zip(copies, (X, y, Q), strict=True):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"bandwidth": 0.0}, "bandwidth"),
        ({"bandwidth": -1.0}, "bandwidth"),
        ({"bandwidth": [0.5, -0.1]}, "bandwidth"),
        ({"bandwidth": [0.5, 0.5, 0.5]}, "bandwidth"),
        ({"kernel": "cosine"}, "kernel"),
        ({"metric": "cosine"}, "metric"),
        ({"kernel": lambda r: -r}, "negative or non-finite"),
        ({"kernel": lambda r: r.sum()}, "one weight per distance"),
    ],
)
def test_bad_parameters(params, match):
    X, y = _data(n=20, d=2)
    with pytest.raises(ValueError, match=match):
        NadarayaWatsonRegressor(**params).fit(X, y)


def test_bad_data():
    X, y = _data(n=20)
    with pytest.raises(ValueError, match="n_samples=1"):
        NadarayaWatsonRegressor().fit(X[:1], y[:1])
    with pytest.raises(ValueError, match="NaN"):
        NadarayaWatsonRegressor().fit(np.where(X > 1, np.nan, X), y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        NadarayaWatsonRegressor().fit(X, y[:-1])
    with pytest.raises(ValueError, match="features"):
        NadarayaWatsonRegressor(bandwidth=0.5).fit(X, y).predict(np.ones((2, 3)))


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        (
            (np.ones((2, 1)), np.ones((3, 1)), np.ones(3), 0.0),
            {},
            ValueError,
            "bandwidth",
        ),
        (
            (np.ones((2, 1)), np.ones((3, 1)), np.ones(3), 1.0),
            {"kernel": "box"},
            ValueError,
            "kernel",
        ),
        (
            (np.ones((2, 2)), np.ones((3, 1)), np.ones(3), 1.0),
            {},
            ValueError,
            "features",
        ),
        (
            (np.ones((2, 1)), np.ones((3, 1)), np.ones(4), 1.0),
            {},
            ValueError,
            "values.shape",
        ),
        ((np.ones(2), np.ones((3, 1)), np.ones(3), 1.0), {}, ValueError, "queries"),
        (
            (np.ones((2, 1)), np.ones((3, 1)), [1, np.nan, 2], 1.0),
            {},
            ValueError,
            "values contains NaN",
        ),
    ],
)
def test_nadaraya_watson_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        nadaraya_watson(*args, **kwargs)


# ------------------------------------------- offsets, units and magnitudes


@pytest.mark.parametrize("offset", [0.0, 1e6, 1e8])
def test_features_with_a_common_offset(offset):
    """Issue 16, row 1: |q|^2 - 2 q.k + |k|^2 on uncentred keys cancels.

    The reference works on per-pair differences, exact here (the points are
    within a factor of 2 of each other).
    """
    rng = np.random.RandomState(0)  # the data at offset 1e8
    keys = offset + rng.normal(size=(6, 3)) * 0.1
    queries = keys[:4] + 0.01
    values = np.arange(6.0)
    expected, _ = _softmax_pooling(queries, keys, values, 0.05)
    got = nadaraya_watson(queries, keys, values, 0.05)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    reg = NadarayaWatsonRegressor(bandwidth=0.05).fit(keys, values)
    np.testing.assert_allclose(reg.predict(queries), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype, offset", [(np.float64, 1e6), (np.float32, 1e3)])
@pytest.mark.parametrize(
    "params",
    [{}, {"kernel": "tricube"}, {"bandwidth": 0.4}, {"metric": "manhattan"}],
)
def test_predictions_invariant_to_a_shift_of_every_feature(dtype, offset, params):
    """Shifted points give the predictions of the same points centred in float64."""
    X, y = _data(n=80, d=3, seed=17)
    Q = np.random.RandomState(18).uniform(-2, 2, size=(30, 3))
    X_shifted, Q_shifted = (X + offset).astype(dtype), (Q + offset).astype(dtype)
    reference = NadarayaWatsonRegressor(**params).fit(
        X_shifted.astype(np.float64) - offset, y
    )
    expected = reference.predict(Q_shifted.astype(np.float64) - offset)
    reg = NadarayaWatsonRegressor(**params).fit(X_shifted, y)
    got = reg.predict(Q_shifted)
    assert got.dtype == dtype
    rtol = 1e-9 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(reg.bandwidth_, reference.bandwidth_, rtol=rtol)


@pytest.mark.parametrize("kernel", ["gaussian", "epanechnikov"])
def test_float32_input_gives_float32_predictions_of_float64_accuracy(kernel):
    X, y = _data(n=60, d=2, seed=19)
    Q = np.random.RandomState(20).uniform(-2, 2, size=(20, 2))
    X32, Q32 = X.astype(np.float32), Q.astype(np.float32)
    reg = NadarayaWatsonRegressor(kernel=kernel).fit(X32, y)
    reference = NadarayaWatsonRegressor(kernel=kernel).fit(X32.astype(np.float64), y)
    assert reg.predict(Q32).dtype == np.float32
    assert reg.attention_weights(Q32).dtype == np.float32
    np.testing.assert_allclose(
        reg.predict(Q32), reference.predict(Q32.astype(np.float64)), rtol=1e-6
    )
    out = nadaraya_watson(Q32, X32, y.astype(np.float32), 0.3)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, _softmax_pooling(Q, X, y, 0.3)[0], rtol=1e-5)
    assert nadaraya_watson(Q32, X32, y, 0.3).dtype == np.float64


@pytest.mark.parametrize("scale", [1e-160, 1e-6, 3.7, 1e6, 1e160])
def test_scaling_y_scales_the_predictions(scale):
    X, y = _data(n=60, d=2, seed=21)
    Q = np.random.RandomState(22).uniform(-2, 2, size=(20, 2))
    base = NadarayaWatsonRegressor().fit(X, y)
    scaled = NadarayaWatsonRegressor().fit(X, scale * y)
    np.testing.assert_allclose(scaled.bandwidth_, base.bandwidth_, rtol=1e-12)
    np.testing.assert_allclose(scaled.predict(Q), scale * base.predict(Q), rtol=1e-12)
    # inf for 1e160: the mean squared error is then beyond float64.
    expected_mse = scale * (scale * base.cv_mse_)
    assert scaled.cv_mse_ == pytest.approx(expected_mse, rel=1e-12)


@pytest.mark.parametrize("scale", [1e-160, 1e160, 1e300])
@pytest.mark.parametrize("bandwidth", ["loo_cv", "scott", 0.3])
def test_extreme_feature_magnitudes(scale, bandwidth):
    """Scott's std and the scaled distances of X ~ 1e160 used to overflow."""
    X, y = _data(n=50, d=3, seed=23)
    Q = np.random.RandomState(24).uniform(-2, 2, size=(10, 3))
    h = bandwidth if isinstance(bandwidth, str) else bandwidth * scale
    expected = NadarayaWatsonRegressor(bandwidth=bandwidth).fit(X, y).predict(Q)
    got = NadarayaWatsonRegressor(bandwidth=h).fit(X * scale, y).predict(Q * scale)
    np.testing.assert_allclose(got, expected, rtol=1e-9)


@pytest.mark.parametrize("bandwidth", [1e-160, 5e-324])
@pytest.mark.parametrize("kernel", ["gaussian", "uniform", "callable"])
def test_tiny_bandwidth_predicts_the_nearest_target(bandwidth, kernel):
    """The h -> 0 limit, where exp(-r**2 / 2 h**2) used to give 0 / 0 = NaN."""
    if kernel == "callable":

        def kernel(r):
            return np.exp(-r)

    X, y = _data(n=40, d=3, seed=25)
    Q = np.random.RandomState(26).uniform(-2, 2, size=(15, 3))
    nearest = y[pairwise_distances(Q, X).argmin(axis=1)]
    reg = NadarayaWatsonRegressor(kernel=kernel, bandwidth=bandwidth).fit(X, y)
    np.testing.assert_allclose(reg.predict(Q), nearest, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(
        nadaraya_watson(Q, X, y, bandwidth, kernel=kernel),
        nearest,
        rtol=1e-12,
        atol=1e-300,
    )
    # Two keys at the same distance share the weight.
    tied = nadaraya_watson([[0.0]], [[-1.0], [1.0], [3.0]], [2.0, 4.0, 9.0], 1e-200)
    assert tied[0] == 3.0


@pytest.mark.parametrize("kernel", ["gaussian", "epanechnikov", "uniform"])
def test_bandwidth_beyond_float_range_of_the_spread_gives_the_mean(kernel):
    """h / spread = 1e310: the compact support's radius is inf in work units."""
    X, y = _data(n=30, d=2, seed=28)
    reg = NadarayaWatsonRegressor(kernel=kernel, bandwidth=1e300).fit(X * 1e-10, y)
    np.testing.assert_allclose(reg.predict(X[:5] * 1e-10), y.mean(), rtol=1e-12)


@pytest.mark.parametrize("distance", [1e155, 1e200, 1e300])
@pytest.mark.parametrize("d", [1, 3])
def test_far_queries_are_never_nan(distance, d):
    """Squared distances of a query 1e155 away overflowed, and inf - inf = NaN.

    So far away every training point is equally distant in float64, and the
    Gaussian weights are equal (see the Notes).
    """
    X, y = _data(n=30, d=d, seed=27)
    query = np.full((1, d), distance)
    reg = NadarayaWatsonRegressor(bandwidth=1.0).fit(X, y)
    np.testing.assert_allclose(reg.predict(query), [y.mean()], rtol=1e-12)
    np.testing.assert_allclose(
        nadaraya_watson(query, X, y, 1.0), [y.mean()], rtol=1e-12
    )
    compact = NadarayaWatsonRegressor(kernel="tricube", bandwidth=1.0).fit(X, y)
    assert compact.predict(query)[0] in y


def test_object_y_with_none_is_rejected():
    """Issue 16, row 10: None became NaN, and every prediction NaN."""
    X, _ = _data(n=4)
    y = np.array([1.0, None, 2.0, 3.0], dtype=object)
    with pytest.raises(ValueError, match="Input y contains NaN"):
        NadarayaWatsonRegressor().fit(X, y)
    with pytest.raises(ValueError, match="values contains NaN"):
        nadaraya_watson(X[:2], X, y, 1.0)


@pytest.mark.parametrize("name", ["queries", "keys", "values", "bandwidth"])
def test_complex_input_is_rejected_not_truncated(name):
    args = {
        "queries": np.ones((2, 1)),
        "keys": np.ones((3, 1)),
        "values": np.ones(3),
        "bandwidth": np.ones(1),
    }
    args[name] = args[name] + 1j
    with pytest.raises(TypeError, match=f"{name} must hold real numbers"):
        nadaraya_watson(**args)
    if name == "bandwidth":
        reg = NadarayaWatsonRegressor(bandwidth=args[name])
        with pytest.raises(TypeError, match="bandwidth must hold real numbers"):
            reg.fit(args["keys"], args["values"])


def test_zero_features_are_named():
    with pytest.raises(ValueError, match="at least one feature"):
        nadaraya_watson(np.ones((2, 0)), np.ones((3, 0)), np.ones(3), 1.0)


def _weighted_data(seed=0):
    X, y = _data(n=40, d=2, seed=seed)
    weights = np.random.RandomState(seed + 1).randint(0, 4, size=len(y))
    return X, y, weights


@pytest.mark.parametrize("kernel", sorted(PROFILES))
def test_integer_weights_weight_the_kernel_like_repeated_rows(kernel):
    X, y, weights = _weighted_data()
    Xq = np.random.RandomState(2).uniform(-2, 2, size=(15, 2))
    reg = NadarayaWatsonRegressor(kernel=kernel, bandwidth=0.8)
    reg.fit(X, y, sample_weight=weights)
    repeated = NadarayaWatsonRegressor(kernel=kernel, bandwidth=0.8).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    K = weights * PROFILES[kernel](pairwise_distances(Xq, X) / 0.8)
    np.testing.assert_allclose(reg.predict(Xq), K @ y / K.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(reg.predict(Xq), repeated.predict(Xq), rtol=1e-12)


@pytest.mark.parametrize("kernel", ["gaussian", "tricube"])
@pytest.mark.parametrize("bandwidth", ["loo_cv", "scott", "silverman"])
def test_weighted_bandwidth_choice_equals_repeated_rows(kernel, bandwidth):
    X, y, weights = _weighted_data()
    reg = NadarayaWatsonRegressor(kernel=kernel, bandwidth=bandwidth)
    reg.fit(X, y, sample_weight=weights)
    X_rep, y_rep = np.repeat(X, weights, axis=0), np.repeat(y, weights)
    repeated = NadarayaWatsonRegressor(kernel=kernel, bandwidth=bandwidth)
    repeated.fit(X_rep, y_rep)
    np.testing.assert_allclose(reg.bandwidth_, repeated.bandwidth_, rtol=1e-10)
    if bandwidth == "loo_cv" and kernel == "gaussian":
        # Brute-force leave-one-out on the repeated rows: drop each row, refit.
        Z = X_rep / reg.bandwidth_
        errors = []
        for i in range(len(y_rep)):
            keep = np.arange(len(y_rep)) != i
            K = PROFILES[kernel](pairwise_distances(Z[i : i + 1], Z[keep]))[0]
            errors.append(K @ y_rep[keep] / K.sum() - y_rep[i])
        np.testing.assert_allclose(reg.cv_mse_, np.mean(np.square(errors)), rtol=1e-9)


@pytest.mark.parametrize("kernel", ["gaussian", "uniform"])
@pytest.mark.parametrize("bandwidth", ["loo_cv", "scott", 0.5])
def test_zero_weights_equal_dropping_rows(kernel, bandwidth):
    X, y, weights = _weighted_data(seed=3)
    Xq = np.random.RandomState(4).uniform(-2, 2, size=(15, 2))
    reg = NadarayaWatsonRegressor(kernel=kernel, bandwidth=bandwidth)
    reg.fit(X, y, sample_weight=weights)
    dropped = NadarayaWatsonRegressor(kernel=kernel, bandwidth=bandwidth)
    dropped.fit(X[weights > 0], y[weights > 0], sample_weight=weights[weights > 0])
    np.testing.assert_allclose(reg.bandwidth_, dropped.bandwidth_, rtol=1e-12)
    np.testing.assert_allclose(reg.predict(Xq), dropped.predict(Xq), rtol=1e-12)
    attention = reg.attention_weights(Xq)
    if sparse.issparse(attention):
        attention = attention.toarray()
    assert attention.shape == (15, 40)
    assert np.all(attention[:, weights == 0] == 0)
    np.testing.assert_allclose(attention @ y, reg.predict(Xq), rtol=1e-12)


def test_sample_weight_is_routed_through_a_pipeline():
    from sklearn import config_context
    from sklearn.pipeline import make_pipeline

    X, y, weights = _weighted_data()
    direct = NadarayaWatsonRegressor().fit(X, y, sample_weight=weights)
    unweighted = NadarayaWatsonRegressor().fit(X, y)
    assert not np.allclose(direct.predict(X), unweighted.predict(X))
    pipe = make_pipeline(NadarayaWatsonRegressor())
    pipe.fit(X, y, nadarayawatsonregressor__sample_weight=weights)
    np.testing.assert_allclose(pipe.predict(X), direct.predict(X))
    with config_context(enable_metadata_routing=True):
        routed = make_pipeline(
            NadarayaWatsonRegressor().set_fit_request(sample_weight=True)
        ).fit(X, y, sample_weight=weights)
        np.testing.assert_allclose(routed.predict(X), direct.predict(X))


def test_invalid_sample_weight_is_rejected():
    X, y, weights = _weighted_data()
    with pytest.raises(ValueError, match="[Nn]egative"):
        NadarayaWatsonRegressor().fit(X, y, sample_weight=-weights)
    with pytest.raises(ValueError, match="sample_weight"):
        NadarayaWatsonRegressor().fit(X, y, sample_weight=weights[:-1])
    with pytest.raises(ValueError, match="at least 2 samples of positive weight"):
        NadarayaWatsonRegressor().fit(X, y, sample_weight=np.eye(len(y))[0])


@pytest.mark.parametrize("kernel", ["gaussian", "epanechnikov"])
def test_search_and_prediction_run_with_one_blas_thread(monkeypatch, kernel):
    """Many small products: BLAS is limited to one thread in every chunk."""
    from threadpoolctl import threadpool_info

    seen = []
    real = nw_module._sq_distances

    def spy(*args, **kwargs):
        seen.append(
            [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        )
        return real(*args, **kwargs)

    monkeypatch.setattr(nw_module, "_sq_distances", spy)
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(60, 3))
    reg = NadarayaWatsonRegressor(kernel=kernel).fit(X, X.sum(axis=1))
    n_search = len(seen)
    reg.predict(X)
    assert n_search > 0
    if kernel == "gaussian":
        assert len(seen) > n_search
    assert all(threads and set(threads) == {1} for threads in seen)


@pytest.mark.parametrize("kernel", ["gaussian", "epanechnikov"])
def test_blas_stays_on_one_thread_between_the_passes_of_a_search(monkeypatch, kernel):
    """The limit holds for the whole search, not only inside each pass.

    Raising OpenBLAS's thread count back after each of the per-feature
    search's hundreds of passes woke its threads, which then spun on the
    other core: a fit next to a busy process took 1.4-1.5x as long.
    """
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    seen = []
    passes = {
        name: getattr(nw_module, name) for name in ("_loo_sse", "_gaussian_loo_sse")
    }

    def spy(real):
        def between_passes(*args, **kwargs):
            seen.append(blas_threads())
            return real(*args, **kwargs)

        return between_passes

    for name, real in passes.items():
        monkeypatch.setattr(nw_module, name, spy(real))
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(80, 3))
    # Two BLAS threads outside the search, whatever this machine's default.
    with threadpool_limits(limits=2, user_api="blas"):
        assert blas_threads() == {2}
        NadarayaWatsonRegressor(kernel=kernel, bandwidth="loo_cv_per_feature").fit(
            X, X @ [1.0, 2.0, 0.0]
        )
    assert len(seen) > 10
    assert all(threads == {1} for threads in seen)


def _distance_threads(monkeypatch):
    """The set of threads that compute distances from now on (filled as they run)."""
    import threading

    threads = set()
    real = nw_module._sq_distances

    def spy(*args, **kwargs):
        threads.add(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(nw_module, "_sq_distances", spy)
    return threads


def test_default_threads_follow_the_blas_limit(monkeypatch):
    """n_jobs=None: threads as BLAS may use (every core); 1 inside a limit."""
    import threading

    from threadpoolctl import threadpool_limits

    from mathlearn.utils import _threads

    threads = _distance_threads(monkeypatch)
    monkeypatch.setattr(nw_module, "_CHUNK_ELEMENTS", 2000)
    X, y = _data(n=200, d=3, seed=3)
    with threadpool_limits(limits=1, user_api="blas"):
        NadarayaWatsonRegressor().fit(X, y).predict(X)
    assert threads == {threading.get_ident()}
    threads.clear()
    # Two usable CPUs whatever the machine, so the test runs everywhere.
    monkeypatch.setattr(_threads, "cpu_count", lambda: 2)
    with threadpool_limits(limits=2, user_api="blas"):
        NadarayaWatsonRegressor().fit(X, y).predict(X)
    # joblib starts new threads for each pass: at least 2, never this one.
    assert len(threads) >= 2 and threading.get_ident() not in threads


def test_a_pass_of_few_slices_runs_in_the_calling_thread(monkeypatch):
    """Fewer than _MIN_PARALLEL_SLICES slices in a pass: dispatching them to
    threads cost more than the second thread saved, so they run here; from
    that many on, in joblib's threads."""
    import threading

    threads = _distance_threads(monkeypatch)
    X, y = _data(n=200, d=3, seed=3)
    assert nw_module._MIN_PARALLEL_SLICES == 8
    monkeypatch.setattr(nw_module, "_CHUNK_ELEMENTS", 200 * 30)  # 7 slices
    NadarayaWatsonRegressor(n_jobs=2).fit(X, y).predict(X)
    assert threads == {threading.get_ident()}
    threads.clear()
    monkeypatch.setattr(nw_module, "_CHUNK_ELEMENTS", 200 * 25)  # 8 slices
    NadarayaWatsonRegressor(n_jobs=2).fit(X, y).predict(X)
    assert threads and threading.get_ident() not in threads


def test_tour_figures_match_the_public_api():
    # The tour section and the gallery example share kernel_regression/_tour;
    # its report must show what the public estimator computes on the curve.
    from mathlearn.kernel_regression._tour import SECTION

    report = SECTION.run(None)
    rng = np.random.RandomState(0)
    X_train = np.sort(rng.uniform(0, 5, size=(200, 1)), axis=0)
    y_train = 2 * np.sin(X_train[:, 0]) + X_train[:, 0] ** 0.8
    y_train += 0.5 * rng.normal(size=200)
    X_test = np.linspace(0, 5, 100)[:, None]
    y_test = 2 * np.sin(X_test[:, 0]) + X_test[:, 0] ** 0.8
    reg = NadarayaWatsonRegressor().fit(X_train, y_train)
    scott = NadarayaWatsonRegressor(bandwidth="scott").fit(X_train, y_train)
    assert f"h = {reg.bandwidth_[0]:.3f}" in report
    assert f"(Scott's rule: {scott.bandwidth_[0]:.3f})" in report
    assert f"LOO MSE {reg.cv_mse_:.3f}" in report
    for model, label in [(reg, "LOO"), (scott, "Scott")]:
        mse = np.mean((model.predict(X_test) - y_test) ** 2)
        assert f"Nadaraya-Watson, {label} bandwidth".ljust(33) + f"{mse:.4f}" in report
    mean_mse = np.mean((y_train.mean() - y_test) ** 2)
    assert f"predict the mean (baseline)      {mean_mse:.4f}" in report
