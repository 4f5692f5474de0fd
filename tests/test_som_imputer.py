"""SOMImputer: masked best units by brute force, baselines, bad input."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA
from sklearn.impute import KNNImputer, SimpleImputer

from mathlearn.exceptions import EmptyRowWarning
from mathlearn.impute import SOMImputer
from mathlearn.som import SelfOrganizingMap, _core


def _manifold(n_samples=500, seed=0):
    """Five features driven by two latent variables: a 2-D manifold."""
    rng = np.random.RandomState(seed)
    t = rng.uniform(0, 3, size=(n_samples, 2))
    return np.column_stack(
        [
            t,
            np.sin(t[:, 0]) + t[:, 1],
            np.cos(t[:, 1]) * t[:, 0],
            t[:, 0] * t[:, 1] / 3,
        ]
    )


def _with_missing(X, rate, seed=1):
    rng = np.random.RandomState(seed)
    X_missing = X.copy()
    X_missing[rng.rand(*X.shape) < rate] = np.nan
    return X_missing


def _rmse(X_filled, X, missing):
    return np.sqrt(np.mean((X_filled - X)[missing] ** 2))


@pytest.mark.parametrize(
    "n_neighbors_units, n_jobs, block_entries",
    [(1, None, None), (3, 1, None), (3, 3, 40)],
)
def test_missing_entries_mix_the_best_units_found_by_brute_force(
    n_neighbors_units, n_jobs, block_entries, monkeypatch
):
    """Each row's best units on its observed features, by a loop over units.

    A missing entry is the inverse-distance mix of the row's
    ``n_neighbors_units`` best units (one: the best unit's weight); observed
    entries are kept. Small blocks on 3 threads: the rows' best units are
    found concurrently.
    """
    if block_entries is not None:
        monkeypatch.setattr(_core, "_BLOCK_ENTRIES", block_entries)
    X_missing = _with_missing(_manifold(120), 0.3)
    imputer = SOMImputer(
        n_rows=5,
        n_cols=4,
        n_neighbors_units=n_neighbors_units,
        random_state=0,
        n_jobs=n_jobs,
    ).fit(X_missing)
    W = imputer.weights_.reshape(-1, 5)
    X_filled = imputer.transform(X_missing)
    for x, filled in zip(X_missing, X_filled, strict=True):
        observed = ~np.isnan(x)
        if observed.all() or not observed.any():
            continue
        distances = np.sqrt(
            [sum((x[j] - w[j]) ** 2 for j in range(5) if observed[j]) for w in W]
        )
        best = np.argsort(distances, kind="stable")[:n_neighbors_units]
        weights = 1 / distances[best]
        expected = weights @ W[best] / weights.sum()
        np.testing.assert_allclose(filled[~observed], expected[~observed])
        np.testing.assert_array_equal(filled[observed], x[observed])


@pytest.mark.filterwarnings("ignore::mathlearn.exceptions.MathlearnWarning")
def test_beats_column_means_by_a_wide_margin_and_matches_knn():
    X = _manifold(500)
    X_missing = _with_missing(X, 0.2)
    missing = np.isnan(X_missing)
    som = _rmse(SOMImputer(random_state=0).fit_transform(X_missing), X, missing)
    mean = _rmse(np.where(missing, np.nanmean(X_missing, axis=0), X), X, missing)
    knn = _rmse(KNNImputer().fit_transform(X_missing), X, missing)
    assert som < 0.5 * mean
    assert som < 1.1 * knn


@pytest.mark.parametrize(
    "train_on, rate, topology",
    [
        ("complete", 0.05, "rectangular"),
        ("all", 0.0, "rectangular"),
        ("all", 0.0, "hexagonal"),
    ],
)
def test_on_complete_rows_the_imputer_is_the_plain_batch_map(train_on, rate, topology):
    """SelfOrganizingMap's batch map of the complete rows.

    ``train_on="complete"`` trains on them alone; on complete data the
    masked distance and update are the plain ones.
    """
    X_missing = _with_missing(_manifold(300), rate)
    complete = ~np.isnan(X_missing).any(axis=1)
    params = {
        "n_rows": 4,
        "n_cols": 6,
        "topology": topology,
        "sigma_end": 0.5,
        "n_epochs": 4,
    }
    imputer = SOMImputer(train_on=train_on, **params).fit(X_missing)
    som = SelfOrganizingMap(**params).fit(X_missing[complete])
    np.testing.assert_allclose(imputer.weights_, som.weights_, rtol=1e-9, atol=1e-12)


def test_the_imputer_does_not_depend_on_the_number_of_threads(monkeypatch):
    monkeypatch.setattr(_core, "_BLOCK_ENTRIES", 40)
    X_missing = _with_missing(_manifold(300), 0.3)
    fits = [
        SOMImputer(n_rows=4, n_cols=5, n_epochs=4, n_jobs=n_jobs).fit(X_missing)
        for n_jobs in [1, 2, 3]
    ]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.weights_, fits[0].weights_)
        np.testing.assert_array_equal(
            other.transform(X_missing), fits[0].transform(X_missing)
        )


def test_transform_fills_only_missing_entries_and_copies():
    X_missing = _with_missing(_manifold(200), 0.2)
    before = X_missing.copy()
    imputer = SOMImputer(n_rows=4, n_cols=4, random_state=0).fit(X_missing)
    X_filled = imputer.transform(X_missing)
    np.testing.assert_array_equal(X_missing, before)
    observed = ~np.isnan(X_missing)
    np.testing.assert_array_equal(X_filled[observed], X_missing[observed])
    assert not np.isnan(X_filled).any()
    X = _manifold(10)
    out = imputer.transform(X)
    np.testing.assert_array_equal(out, X)
    assert out is not X


def test_other_missing_value_marker():
    X_missing = _with_missing(_manifold(200), 0.2)
    X_marked = np.where(np.isnan(X_missing), -1.0, X_missing)
    a = SOMImputer(n_rows=4, n_cols=4, random_state=0).fit_transform(X_missing)
    b = SOMImputer(
        n_rows=4, n_cols=4, missing_values=-1.0, random_state=0
    ).fit_transform(X_marked)
    np.testing.assert_allclose(a, b)
    assert not SOMImputer(missing_values=-1.0).__sklearn_tags__().input_tags.allow_nan


def test_float32_is_preserved():
    X_missing = _with_missing(_manifold(200), 0.2).astype(np.float32)
    imputer = SOMImputer(n_rows=4, n_cols=4, random_state=0).fit(X_missing)
    assert imputer.weights_.dtype == np.float32
    assert imputer.transform(X_missing).dtype == np.float32


def test_feature_names_are_kept():
    frame = pd.DataFrame(_with_missing(_manifold(100), 0.1), columns=list("abcde"))
    imputer = SOMImputer(n_rows=3, n_cols=3).fit(frame)
    assert imputer.get_feature_names_out().tolist() == list("abcde")


def test_default_grid_has_about_ten_sqrt_n_units_shaped_like_the_data():
    """Sides in the ratio of the principal standard deviations (4 : 1)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(900, 3)) * [4.0, 1.0, 0.1]
    X_missing = _with_missing(X, 0.1)
    imputer = SOMImputer(n_epochs=1).fit(X_missing)
    # Independent reference: scikit-learn's PCA of the mean-filled data.
    pca = PCA(2).fit(SimpleImputer().fit_transform(X_missing))
    ratio = np.sqrt(pca.explained_variance_[0] / pca.explained_variance_[1])
    n_cols = round(np.sqrt(300 / ratio))
    assert (imputer.n_rows_, imputer.n_cols_) == (round(300 / n_cols), n_cols)
    assert imputer.weights_.shape == (imputer.n_rows_, imputer.n_cols_, 3)
    assert imputer.n_rows_ / imputer.n_cols_ == pytest.approx(4, rel=0.15)
    # One side given: the other makes about 10 * sqrt(900) = 300 units.
    assert SOMImputer(n_rows=12, n_epochs=1).fit(X).n_cols_ == 25
    assert SOMImputer(n_cols=7, n_epochs=1).fit(X).n_rows_ == 43
    # Never more units than training rows.
    small = SOMImputer(n_epochs=1).fit(X[:20])
    assert small.n_rows_ * small.n_cols_ <= 20
    one_feature = SOMImputer(n_epochs=1).fit(X[:100, :1])
    assert (one_feature.n_rows_, one_feature.n_cols_) == (100, 1)


def test_default_radius_ends_at_one_half():
    X = _with_missing(_manifold(100), 0.1)
    imputer = SOMImputer(n_rows=4, n_cols=4).fit(X)
    assert (imputer.sigma_, imputer.sigma_end_) == (2.0, 0.5)
    imputer = SOMImputer(n_rows=4, n_cols=4, neighborhood="bubble").fit(X)
    assert imputer.sigma_end_ == 1.0
    assert SOMImputer(n_rows=4, n_cols=4, sigma=0.3).fit(X).sigma_end_ == 0.3


@pytest.mark.filterwarnings("ignore::mathlearn.exceptions.MathlearnWarning")
@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_defaults_within_ten_percent_of_knn_on_wine(rate):
    """The issue's target, on a real data set (178 rows, 13 features)."""
    from sklearn.datasets import load_wine
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(load_wine().data)
    X_missing = _with_missing(X, rate, seed=2)
    missing = np.isnan(X_missing)
    som = _rmse(SOMImputer(random_state=0).fit_transform(X_missing), X, missing)
    knn = _rmse(KNNImputer().fit_transform(X_missing), X, missing)
    assert som < 1.1 * knn


# ------------------------------------------- offsets, units and magnitudes


def _masked_nearest_units(X_missing, W):
    """Best unit of each row on its observed features, by a float64 loop."""
    X64, W64 = X_missing.astype(np.float64), W.astype(np.float64)
    units = []
    for x in X64:
        observed = ~np.isnan(x)
        units.append(np.argmin([np.sum((x - w)[observed] ** 2) for w in W64]))
    return np.array(units)


@pytest.mark.parametrize("dtype, offset", [(np.float64, 1e8), (np.float32, 1e3)])
def test_data_with_an_offset(dtype, offset):
    """The masked |x|^2 - 2 x.w + |w|^2 of uncentred data cancelled."""
    X = _manifold(300) * 0.1 + offset
    X_missing = _with_missing(X, 0.2).astype(dtype)
    imputer = SOMImputer(n_rows=5, n_cols=4, n_neighbors_units=1, random_state=0).fit(
        X_missing
    )
    X_filled = imputer.transform(X_missing)
    W = imputer.weights_.reshape(-1, 5)
    rows = np.flatnonzero(np.isnan(X_missing).any(axis=1))
    units = _masked_nearest_units(X_missing[rows], W)
    missing = np.isnan(X_missing[rows])
    np.testing.assert_array_equal(X_filled[rows][missing], W[units][missing])
    # The weights of the same points centred, in float64.
    centred = SOMImputer(n_rows=5, n_cols=4, n_neighbors_units=1, random_state=0).fit(
        X_missing.astype(np.float64) - offset
    )
    np.testing.assert_allclose(
        imputer.weights_ - offset,
        centred.weights_,
        atol=1e-8 if dtype == np.float64 else 1e-3,
    )


@pytest.mark.parametrize("dtype, offset", [(np.float64, 1e6), (np.float32, 1e3)])
def test_output_shifts_with_the_data(dtype, offset):
    """Same imputations as the same points centred in float64, shifted back."""
    X_missing = _with_missing(_manifold(300), 0.2)
    Q_missing = _with_missing(_manifold(60, seed=3), 0.3, seed=4)
    X_shifted = (X_missing + offset).astype(dtype)
    Q_shifted = (Q_missing + offset).astype(dtype)
    reference = SOMImputer(random_state=0).fit(X_shifted.astype(np.float64) - offset)
    expected = reference.transform(Q_shifted.astype(np.float64) - offset) + offset
    got = SOMImputer(random_state=0).fit(X_shifted).transform(Q_shifted)
    assert got.dtype == dtype
    tol = 1e-8 if dtype == np.float64 else 2e-3
    np.testing.assert_allclose(got, expected, rtol=0, atol=tol)


def test_float32_and_float64_give_the_same_imputations():
    X_missing = _with_missing(_manifold(300), 0.2)
    a = SOMImputer(random_state=0).fit_transform(X_missing)
    b = SOMImputer(random_state=0).fit_transform(X_missing.astype(np.float32))
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("scale", [1e-300, 1e-160, 1e160, 1e300])
def test_extreme_magnitudes(scale):
    """Imputations were NaN for X >= 1e160 (the squares overflowed)."""
    X_missing = _with_missing(_manifold(200), 0.2)
    expected = SOMImputer(random_state=0).fit_transform(X_missing)
    got = SOMImputer(random_state=0).fit_transform(X_missing * scale)
    np.testing.assert_allclose(got / scale, expected, rtol=1e-9)


# ----------------------------------------------------------- bad input


def test_all_missing_rows_fall_back_to_feature_means_with_a_warning():
    X_missing = _with_missing(_manifold(200), 0.2)
    X_missing[[5, 17]] = np.nan
    imputer = SOMImputer(n_rows=4, n_cols=4, random_state=0).fit(X_missing)
    np.testing.assert_allclose(imputer.statistics_, np.nanmean(X_missing, axis=0))
    with pytest.warns(EmptyRowWarning, match="2 rows of X have no observed"):
        X_filled = imputer.transform(X_missing)
    np.testing.assert_allclose(X_filled[[5, 17]], [imputer.statistics_] * 2)
    # The empty rows carry no information: training ignores them.
    kept = np.delete(X_missing, [5, 17], axis=0)
    other = SOMImputer(n_rows=4, n_cols=4, random_state=0).fit(kept)
    np.testing.assert_allclose(imputer.weights_, other.weights_)


def test_too_few_complete_rows_for_train_on_complete():
    X_missing = _with_missing(_manifold(200), 0.5)
    n_complete = int((~np.isnan(X_missing).any(axis=1)).sum())
    with pytest.raises(
        ValueError, match=rf"train_on='complete' needs at least .* 100 .* {n_complete}"
    ):
        SOMImputer(n_rows=10, n_cols=10, train_on="complete").fit(X_missing)
    # A map sized from the data (wholly or on one side) needs one complete row.
    X_missing[:, 0][~np.isnan(X_missing).any(axis=1)] = np.nan
    for sides in ({}, {"n_rows": 3}, {"n_cols": 3}):
        with pytest.raises(
            ValueError,
            match=r"needs at least one row without missing values, but X has 0;",
        ):
            SOMImputer(train_on="complete", **sides).fit(X_missing)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SOMImputer(train_on="all", n_epochs=2).fit(X_missing)


def test_feature_never_observed_is_named():
    X_missing = _manifold(50)
    X_missing[:, 3] = np.nan
    with pytest.raises(ValueError, match=r"features \[3\] have no observed value"):
        SOMImputer(n_rows=3, n_cols=3).fit(X_missing)


def test_positional_grid_size_is_deprecated_but_gives_the_same_map():
    X_missing = _with_missing(_manifold(100), 0.1)
    with pytest.warns(FutureWarning, match=r"Pass n_rows=3, n_cols=4 as keyword"):
        positional = SOMImputer(3, 4, random_state=0)
    keywords = SOMImputer(n_rows=3, n_cols=4, random_state=0).fit(X_missing)
    assert positional.get_params() == keywords.get_params()
    positional.fit(X_missing)
    assert positional.weights_.shape == (3, 4, X_missing.shape[1])
    np.testing.assert_array_equal(positional.weights_, keywords.weights_)
    np.testing.assert_array_equal(
        positional.transform(X_missing), keywords.transform(X_missing)
    )


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_rows": 0}, "n_rows"),
        ({"n_epochs": 0}, "n_epochs"),
        ({"topology": "triangular"}, "topology"),
        ({"train_on": "some"}, "train_on"),
        ({"n_neighbors_units": 0}, "n_neighbors_units"),
        ({"sigma_end": -1.0}, "sigma_end"),
        ({"sigma": 1.0, "sigma_end": 2.0}, "sigma_end=2.0 must be <="),
    ],
)
def test_bad_parameters_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        SOMImputer(**params).fit(_with_missing(_manifold(30), 0.1))


def test_infinity_is_rejected():
    X = _with_missing(_manifold(30), 0.1)
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        SOMImputer(n_rows=3, n_cols=3).fit(X)


@settings(max_examples=40, deadline=None)
@given(
    n_samples=st.integers(1, 30),
    n_features=st.integers(1, 6),
    n_units=st.integers(1, 12),
    n_best=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
)
def test_masked_distances_as_matrix_products_equal_a_loop(
    n_samples, n_features, n_units, n_best, seed
):
    """The three-matrix-product masked distance, against its definition."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features))
    observed = rng.rand(n_samples, n_features) < 0.6
    W = rng.normal(size=(n_units, n_features))
    X_zero, mask = np.where(observed, X, 0.0), observed.astype(float)
    units = _core.best_units(X_zero, W, n_best=n_best, mask=mask)
    sq_dist = _core.unit_sq_distances(X_zero, W, units, mask=mask)
    for i in range(n_samples):
        loop = np.array(
            [
                sum(
                    (X[i, j] - W[u, j]) ** 2
                    for j in range(n_features)
                    if observed[i, j]
                )
                for u in range(n_units)
            ]
        )
        expected = np.sort(loop)[: min(n_best, n_units)]
        np.testing.assert_allclose(sq_dist[i], expected, atol=1e-9)
        np.testing.assert_allclose(loop[units[i]], expected, atol=1e-9)


# ------------------------------------------------------------- partial_fit


def test_partial_fit_moves_the_observed_features_by_kohonens_rule():
    """Second call, one row: w += rate * h(winner) * m * (x - w), by hand."""
    rng = np.random.RandomState(0)
    X0 = rng.normal(size=(40, 3))
    imputer = SOMImputer(
        n_rows=3, n_cols=2, sigma=1.0, sigma_end=1.0, learning_rate=0.4, n_epochs=4
    ).partial_fit(X0)
    W0 = imputer.weights_.reshape(-1, 3).copy()
    statistics = imputer.statistics_.copy()
    x = np.array([[0.3, np.nan, -1.2]])
    imputer.partial_fit(x)
    m = np.array([1.0, 0.0, 1.0])
    x0 = np.nan_to_num(x[0])
    winner = np.argmin((((x0 - W0) * m) ** 2).sum(axis=1))
    grid = np.array([(r, c) for r in range(3) for c in range(2)], dtype=float)
    h = np.exp(-((grid - grid[winner]) ** 2).sum(axis=1) / 2.0)
    # Call 1 of n_epochs=4 with one row: step 1 of 4, rate 0.4 * (1 - 1/4).
    expected = W0 + 0.3 * h[:, None] * m * (x0 - W0)
    np.testing.assert_allclose(
        imputer.weights_.reshape(-1, 3), expected, rtol=1e-12, atol=1e-14
    )
    np.testing.assert_array_equal(imputer.statistics_, statistics)
    assert imputer.n_iter_ == 2


def test_partial_fit_streams_to_a_useful_imputer():
    """Chunks through partial_fit fill better than the column means."""
    rng = np.random.RandomState(0)
    t = rng.uniform(0, 3, size=(1200, 2))
    X = np.column_stack([t, np.sin(t[:, 0]) + t[:, 1], t[:, 0] * t[:, 1] / 3])
    X_missing = X.copy()
    X_missing[:, 1:][rng.rand(1200, 3) < 0.25] = np.nan  # no empty row
    imputer = SOMImputer(n_rows=8, n_cols=8, n_epochs=6, random_state=0)
    for chunk in np.array_split(X_missing, 6):
        imputer.partial_fit(chunk)
    missing = np.isnan(X_missing)
    filled = imputer.transform(X_missing)
    som_rmse = np.sqrt(np.mean((filled - X)[missing] ** 2))
    mean_rmse = np.sqrt(np.mean((np.nanmean(X_missing, 0) - X)[missing] ** 2))
    assert som_rmse < 0.5 * mean_rmse
    assert imputer.n_iter_ == 6


def test_partial_fit_checks_the_number_of_features():
    imputer = SOMImputer(n_rows=2, n_cols=2).partial_fit(np.ones((5, 3)))
    with pytest.raises(ValueError, match="3 features"):
        imputer.partial_fit(np.ones((5, 2)))
