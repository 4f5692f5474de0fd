"""Tests of mathlearn.random_projection against independent references.

References: ``scipy.linalg.hadamard`` for the Walsh-Hadamard transform and the
Hadamard components, ``scipy.linalg.pinv`` for the inverse, ``scipy.stats``
for the entry probabilities, ``scipy.spatial.distance`` for the distortion,
and the Johnson-Lindenstrauss claims of the issue on dense Gaussian and very
sparse data.
"""

import warnings
from functools import partial

import numpy as np
import pytest
from scipy import linalg, sparse, stats
from scipy.sparse import csgraph
from scipy.spatial.distance import sqeuclidean
from sklearn.exceptions import DataDimensionalityWarning
from sklearn.random_projection import (
    SparseRandomProjection,
    johnson_lindenstrauss_min_dim,
)

from mathlearn.datasets import make_very_sparse
from mathlearn.random_projection import (
    AchlioptasRandomProjection,
    HadamardRandomProjection,
    SampledRandomProjection,
    pairwise_distortion,
)
from mathlearn.random_projection import _hadamard as hadamard_module
from mathlearn.random_projection._achlioptas import draw_sign_pattern
from mathlearn.random_projection._base import physical_memory
from mathlearn.random_projection._hadamard import fwht

PROJECTIONS = [
    AchlioptasRandomProjection,
    HadamardRandomProjection,
    SampledRandomProjection,
]
SPARSE_PATTERNS = [
    partial(AchlioptasRandomProjection, density=1e-4),
    partial(HadamardRandomProjection, projection="sparse", density=1e-4),
]
EPS = 0.2


def _hadamard_components(estimator):
    """The Hadamard projection's matrix, built from scipy's Hadamard matrix."""
    n, d = estimator.n_padded_, estimator.n_features_in_
    H = linalg.hadamard(n).astype(np.float64)
    HD = H[:, :d] * estimator.signs_
    if estimator.projection == "subsample":
        return estimator.scale_ * HD[estimator.indices_]
    return estimator.scale_ * (estimator.pattern_.toarray() @ HD)


def _sampled_components(estimator, X):
    """The sampled projection's matrix, rebuilt from its documented construction.

    ``scale_ * S @ W @ X_hat`` (class Notes): ``X_hat`` the unit rows; ``W``
    the identity for dense ``X``, else, per group of rows linked by cosines
    above 0.2, the pseudo-inverse square root of the group's Gram matrix
    (numpy's eigh here); ``S`` with entries ``+-1 / sqrt(uses of the row)`` on
    ``sample_indices_``. Only the signs, drawn at random, are read off the
    fitted components (by least squares); their magnitudes are asserted.
    """
    dense = X.toarray() if sparse.issparse(X) else np.asarray(X)
    dense = dense.astype(np.float64)
    M = dense / np.linalg.norm(dense, axis=1)[:, None]
    if sparse.issparse(X):
        cosines = np.abs(M @ M.T)
        np.fill_diagonal(cosines, 0)
        _, labels = csgraph.connected_components(
            sparse.csr_matrix(cosines > 0.2), directed=False
        )
        W = np.zeros((len(M), len(M)))
        for label in np.unique(labels):
            group = np.flatnonzero(labels == label)
            values, vectors = np.linalg.eigh(M[group] @ M[group].T)
            keep = values > 1e-10 * values[-1]
            root = (vectors[:, keep] / np.sqrt(values[keep])) @ vectors[:, keep].T
            W[np.ix_(group, group)] = root
        M = W @ M
    samples = estimator.sample_indices_
    uses = np.bincount(samples.ravel(), minlength=len(M))
    fitted = estimator.components_
    fitted = fitted.toarray() if sparse.issparse(fitted) else fitted
    rebuilt = np.zeros_like(fitted, dtype=np.float64)
    for k, drawn in enumerate(samples):
        # A row drawn r times in one component gets a sum of r random signs.
        rows, repeats = np.unique(drawn, return_counts=True)
        unit = estimator.scale_ / np.sqrt(uses[rows])
        coefficients = np.linalg.lstsq(M[rows].T, fitted[k], rcond=None)[0]
        signs = np.round(coefficients / unit)
        assert np.all(np.abs(signs) <= repeats)
        assert np.all((signs - repeats) % 2 == 0)
        atol = 1e-5 * estimator.scale_  # float32 components
        np.testing.assert_allclose(coefficients, signs * unit, rtol=1e-4, atol=atol)
        rebuilt[k] = (signs * unit) @ M[rows]
    return rebuilt


def _components(estimator, X=None):
    if isinstance(estimator, HadamardRandomProjection):
        return _hadamard_components(estimator)
    if isinstance(estimator, SampledRandomProjection) and X is not None:
        return _sampled_components(estimator, X)
    components = estimator.components_
    return components.toarray() if sparse.issparse(components) else components


@pytest.fixture(scope="module")
def very_sparse():
    """The issue's 10,000 x 100,000 matrix, density 1e-4, one heavy coordinate."""
    return make_very_sparse(10_000, 100_000, density=1e-4, random_state=0)


# --- the Walsh-Hadamard transform -------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 4, 8, 64, 128, 256, 2048])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fwht_equals_scipy_hadamard_and_is_its_own_inverse(n, dtype):
    rng = np.random.RandomState(n)
    X = rng.normal(size=(5, n)).astype(dtype)
    H = linalg.hadamard(n) / np.sqrt(n)
    raw = fwht(X.copy())
    assert raw.dtype == dtype
    once = raw / np.sqrt(n)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(once, X.astype(np.float64) @ H, rtol=rtol, atol=rtol)
    twice = fwht(once.copy()) / np.sqrt(n)
    np.testing.assert_allclose(twice, X, rtol=rtol, atol=rtol)


# --- Achlioptas: the distribution of the entries ----------------------------


@pytest.mark.parametrize("density", [1 / 3, 0.1, 0.01, "auto"])
def test_achlioptas_entries_have_the_requested_probabilities(density):
    n_components, n_features = 300, 4000
    X = np.zeros((2, n_features))
    est = AchlioptasRandomProjection(n_components, density=density, random_state=0)
    est.fit(X)
    s = 1 / np.sqrt(n_features) if density == "auto" else density
    C = _components(est)
    scale = np.sqrt(1 / (s * n_components))
    assert est.scale_ == pytest.approx(scale)
    values = np.unique(np.round(C / scale).astype(int))
    assert set(values) <= {-1, 0, 1}
    observed = [np.sum(C < 0), np.sum(C == 0), np.sum(C > 0)]
    expected = np.array([s / 2, 1 - s, s / 2]) * C.size
    assert stats.chisquare(observed, expected).pvalue > 1e-3


@pytest.mark.parametrize("density", [1e-17, 1e-300, 5e-324])
@pytest.mark.parametrize("cls", SPARSE_PATTERNS, ids=["achlioptas", "hadamard-sparse"])
def test_tiny_densities_are_drawn_not_looped_over(cls, density):
    # Regression: density=1e-17 (inside the documented (0, 1]) looped
    # forever, as rng.geometric overflowed int64. The chance of any non-zero
    # among these 12,800 entries is below 1e-12: the pattern is empty.
    X = np.random.RandomState(7).normal(size=(5, 100))
    est = cls(100, random_state=0).set_params(density=density).fit(X)
    assert est.pattern_.nnz == 0
    np.testing.assert_array_equal(est.transform(X), 0.0)
    # The documented scale, 1 / sqrt(density * n_components [* n_padded_]).
    n_coordinates = getattr(est, "n_padded_", 1)
    assert est.scale_ == pytest.approx(1 / np.sqrt(density * 100 * n_coordinates))


@pytest.mark.parametrize("density", [1e-6, 0.02])
def test_sparse_sign_pattern_is_bernoulli_at_any_density(density):
    # Against the distribution itself: the number of non-zeros is
    # Binomial(size, density), their positions are uniform (Kolmogorov-
    # Smirnov) and their signs are fair.
    n_components, n_features = 2000, 500_000 if density < 1e-3 else 5000
    size = n_components * n_features
    pattern = draw_sign_pattern(
        n_components, n_features, density, np.random.RandomState(0)
    ).tocoo()
    binomial = stats.binom(size, density)
    assert binomial.cdf(pattern.nnz) > 1e-4 and binomial.sf(pattern.nnz) > 1e-4
    positions = pattern.row.astype(np.int64) * n_features + pattern.col
    assert np.unique(positions).size == positions.size
    assert stats.kstest(positions / size, "uniform").pvalue > 1e-3
    signs = pattern.data
    assert set(np.unique(signs)) == {-1, 1}
    assert stats.binomtest(int(np.sum(signs > 0)), signs.size).pvalue > 1e-3


def test_achlioptas_is_unbiased_for_squared_norms():
    # E ||R x||**2 = ||x||**2 for any x, here one with a heavy coordinate.
    rng = np.random.RandomState(0)
    x = rng.normal(size=(1, 400))
    x[0, 7] = 30.0
    ratios = [
        np.sum(AchlioptasRandomProjection(20, random_state=seed).fit_transform(x) ** 2)
        / np.sum(x**2)
        for seed in range(400)
    ]
    sem = np.std(ratios) / np.sqrt(len(ratios))
    assert abs(np.mean(ratios) - 1) < 4 * sem


def test_achlioptas_pattern_takes_at_most_one_byte_per_entry():
    X = np.zeros((3, 5000))
    for density in [1 / 3, "auto"]:
        est = AchlioptasRandomProjection(200, density=density, random_state=0).fit(X)
        pattern = est.pattern_
        nbytes = (
            pattern.data.nbytes + pattern.indices.nbytes + pattern.indptr.nbytes
            if sparse.issparse(pattern)
            else pattern.nbytes
        )
        assert pattern.dtype == np.int8
        assert nbytes <= 200 * 5000


# --- transforms equal the explicit matrix product ---------------------------


@pytest.mark.parametrize("cls", PROJECTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("as_sparse", [False, True])
def test_transform_is_the_product_with_the_components(cls, dtype, as_sparse):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 300))
    X[rng.rand(*X.shape) < 0.8] = 0
    X = X.astype(dtype)
    X_in = sparse.csr_matrix(X) if as_sparse else X
    est = cls(50, random_state=0).fit(X_in)
    X_new = est.transform(X_in)
    X_new = X_new.toarray() if sparse.issparse(X_new) else X_new
    assert X_new.dtype == dtype
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    # The sampled projection is rebuilt from the data it was fitted on.
    expected = X.astype(np.float64) @ _components(est, X_in).T
    np.testing.assert_allclose(X_new, expected, rtol=rtol, atol=rtol * 10)


@pytest.mark.parametrize("projection", ["subsample", "sparse"])
@pytest.mark.parametrize("block_size", [1, 7, "auto"])
@pytest.mark.parametrize("as_sparse", [False, True])
# 120 components are more than the 100 features, hence the warning.
@pytest.mark.parametrize("n_components", [30, 120])
@pytest.mark.parametrize("explicit", [True, False])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.DataDimensionalityWarning")
def test_hadamard_matches_scipy_hadamard_matrix(
    projection, block_size, as_sparse, n_components, explicit, monkeypatch
):
    # explicit=False forces the Kronecker products, butterflies and sign
    # formula that large inputs take.
    if not explicit:
        monkeypatch.setattr(hadamard_module, "_EXPLICIT_ELEMENTS", 0)
    rng = np.random.RandomState(1)
    X = rng.normal(size=(23, 100))  # padded to 128
    X[rng.rand(*X.shape) < 0.5] = 0
    est = HadamardRandomProjection(
        n_components, projection=projection, block_size=block_size, random_state=0
    ).fit(X)
    assert est.n_padded_ == 128
    X_in = sparse.csr_matrix(X) if as_sparse else X
    np.testing.assert_allclose(
        est.transform(X_in), X @ _hadamard_components(est).T, atol=1e-10
    )


def test_hadamard_keeps_norms_exactly_when_nothing_is_dropped():
    # Subsampling all n_padded coordinates leaves the orthonormal H D: exact.
    rng = np.random.RandomState(2)
    X = rng.normal(size=(10, 64))
    X_new = HadamardRandomProjection(64, random_state=0).fit_transform(X)
    np.testing.assert_allclose(
        np.linalg.norm(X_new, axis=1), np.linalg.norm(X, axis=1), rtol=1e-12
    )


def test_achlioptas_sparse_pattern_output_follows_dense_output():
    X = sparse.random(30, 2000, density=0.01, format="csr", random_state=0)
    est = AchlioptasRandomProjection(40, density="auto", random_state=0).fit(X)
    assert sparse.issparse(est.pattern_)
    assert sparse.issparse(est.transform(X))
    dense = est.set_params(dense_output=True).transform(X)
    assert isinstance(dense, np.ndarray)
    np.testing.assert_allclose(dense, X @ _components(est).T)


def test_sampled_components_lie_in_the_span_of_the_data():
    rng = np.random.RandomState(3)
    X = rng.normal(size=(60, 4)) @ rng.normal(size=(4, 50))  # rank 4
    est = SampledRandomProjection(10, random_state=0).fit(X)
    assert np.linalg.matrix_rank(np.vstack([X, est.components_])) == 4
    # Its rows come from the sampled rows only.
    assert est.sample_indices_.shape == (10, est.n_samples_per_component_)


def test_sampled_uses_every_row_about_equally():
    X = np.random.RandomState(4).normal(size=(100, 300))
    est = SampledRandomProjection(40, random_state=0).fit(X)
    counts = np.bincount(est.sample_indices_.ravel(), minlength=100)
    assert counts.max() - counts.min() <= 1


def test_sampled_float32_transform_stays_float32():
    # Regression: components fitted on float64 gave float64 output for
    # float32 input (the other projections keep float32).
    rng = np.random.RandomState(8)
    X = rng.normal(size=(30, 80))
    X_sparse = sparse.random(30, 80, density=0.2, format="csr", random_state=0)
    for fitted_on in (X, X_sparse):
        est = SampledRandomProjection(10, random_state=0).fit(fitted_on)
        for data in (X, X_sparse):
            X_new = est.transform(data.astype(np.float32))
            assert X_new.dtype == np.float32
            expected = data.astype(np.float64) @ _components(est).T
            X_new = X_new.toarray() if sparse.issparse(X_new) else X_new
            np.testing.assert_allclose(X_new, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cls", PROJECTIONS)
@pytest.mark.parametrize("as_sparse", [False, True])
def test_float32_and_float64_give_the_same_projection(cls, as_sparse):
    rng = np.random.RandomState(9)
    X = rng.normal(size=(40, 300))
    X[rng.rand(*X.shape) < 0.8] = 0
    X = sparse.csr_matrix(X) if as_sparse else X
    X32 = X.astype(np.float32)
    X_new = cls(25, random_state=0).fit(X).transform(X)
    X_new32 = cls(25, random_state=0).fit(X32).transform(X32)
    X_new = X_new.toarray() if sparse.issparse(X_new) else X_new
    X_new32 = X_new32.toarray() if sparse.issparse(X_new32) else X_new32
    assert X_new32.dtype == np.float32
    np.testing.assert_allclose(
        X_new32, X_new, rtol=1e-5, atol=1e-5 * np.abs(X_new).max()
    )


@pytest.mark.parametrize("scale", [1e200, 1e-200, 1e300, 1e-300])
@pytest.mark.parametrize("as_sparse", [False, True])
def test_sampled_projection_of_extreme_magnitudes(scale, as_sparse):
    # Regression: rows of 1e200 had squared norms of inf, were "normalised"
    # to zero and every output was 0. Scaling X scales the output and leaves
    # the projection unchanged, as for unit-scale data: each component is a
    # combination of unit rows, and the scale is a ratio of distances.
    rng = np.random.RandomState(10)
    X = rng.normal(size=(30, 60))
    X[rng.rand(*X.shape) < 0.5] = 0
    X = sparse.csr_matrix(X) if as_sparse else X
    reference = SampledRandomProjection(12, random_state=0).fit(X)
    est = SampledRandomProjection(12, random_state=0).fit(X * scale)
    np.testing.assert_allclose(
        _components(est), _components(reference), rtol=1e-12, atol=1e-14
    )
    X_new = est.transform(X * scale)
    X_new = X_new.toarray() if sparse.issparse(X_new) else X_new
    expected = X.toarray() if as_sparse else X
    expected = expected @ _components(reference).T
    assert np.all(np.isfinite(X_new))
    np.testing.assert_allclose(X_new / scale, expected, rtol=1e-10, atol=1e-12)
    for dtype_scale in (1e20, 1e-20):  # float32: squares beyond its range
        X32 = (X * dtype_scale).astype(np.float32)
        X_new32 = SampledRandomProjection(12, random_state=0).fit_transform(X32)
        X_new32 = X_new32.toarray() if sparse.issparse(X_new32) else X_new32
        np.testing.assert_allclose(
            X_new32 / np.float32(dtype_scale), expected, rtol=1e-4, atol=1e-4
        )


@pytest.mark.parametrize(
    "cls",
    [*PROJECTIONS, partial(HadamardRandomProjection, projection="sparse")],
    ids=["achlioptas", "hadamard", "sampled", "hadamard-sparse"],
)
def test_impossible_n_components_fails_fast(cls):
    # Regression: SampledRandomProjection(n_components=10**9) ran for hours
    # instead of failing. 10**12 components need terabytes whatever the
    # machine.
    if physical_memory() is None:
        pytest.skip("the OS does not report its memory")
    X = np.random.RandomState(11).normal(size=(20, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataDimensionalityWarning)
        with pytest.raises(ValueError, match=r"n_components=1000000000000 needs"):
            cls(10**12).fit(X)


@pytest.mark.parametrize(
    "cls",
    [AchlioptasRandomProjection, HadamardRandomProjection, *SPARSE_PATTERNS[1:]],
    ids=["achlioptas", "hadamard", "hadamard-sparse"],
)
def test_data_independent_projections_commute_with_a_shift(cls):
    # A linear map drawn before seeing X: fitting on X + c draws the same
    # map, and transform(X + c) = transform(X) + c @ components.T.
    rng = np.random.RandomState(12)
    X = rng.normal(size=(25, 70))
    c = rng.normal(size=70) * 1e3
    est = cls(20, random_state=0).fit(X)
    shifted = cls(20, random_state=0).fit(X + c)
    components = _components(est)
    np.testing.assert_array_equal(_components(shifted), components)
    np.testing.assert_allclose(
        shifted.transform(X + c),
        X @ components.T + c @ components.T,
        rtol=1e-10,
        atol=1e-10 * np.abs(c @ components.T).max(),
    )


def test_sampled_projection_depends_on_the_data_but_is_linear():
    # Its components are combinations of the (unit) training rows, so
    # fitting on X + c gives another map; a fitted map is linear all the same.
    rng = np.random.RandomState(13)
    X = rng.normal(size=(25, 70))
    c = rng.normal(size=70) * 10
    est = SampledRandomProjection(20, random_state=0).fit(X)
    shifted = SampledRandomProjection(20, random_state=0).fit(X + c)
    assert not np.allclose(_components(shifted), _components(est))
    components = _components(est)
    np.testing.assert_allclose(
        est.transform(X + c), X @ components.T + c @ components.T, rtol=1e-10
    )


# --- inverse_transform ------------------------------------------------------


@pytest.mark.parametrize(
    "cls",
    [*PROJECTIONS, partial(HadamardRandomProjection, projection="sparse")],
    ids=["achlioptas", "hadamard", "sampled", "hadamard-sparse"],
)
def test_inverse_transform_is_the_pseudo_inverse_reconstruction(cls):
    rng = np.random.RandomState(5)
    X = rng.normal(size=(20, 60))
    est = cls(25, random_state=0).fit(X)
    X_new = est.transform(X)
    expected = X_new @ linalg.pinv(_components(est)).T
    np.testing.assert_allclose(est.inverse_transform(X_new), expected, atol=1e-10)
    stored = cls(25, compute_inverse_components=True, random_state=0).fit(X)
    assert stored.inverse_components_.shape == (60, 25)
    np.testing.assert_allclose(stored.inverse_transform(X_new), expected, atol=1e-10)


@pytest.mark.parametrize(
    "cls",
    [*PROJECTIONS, partial(HadamardRandomProjection, projection="sparse")],
    ids=["achlioptas", "hadamard", "sampled", "hadamard-sparse"],
)
@pytest.mark.parametrize("compute_inverse_components", [False, True])
@pytest.mark.parametrize("as_sparse", [False, True])
def test_inverse_transform_recovers_points_in_the_row_space(
    cls, compute_inverse_components, as_sparse
):
    # Independent of any pseudo-inverse: a point z = g @ C in the row space of
    # the components C is recovered exactly from its projection, whatever
    # the rank of C (the Sampled components here have rank 20 < 25).
    rng = np.random.RandomState(5)
    X = rng.normal(size=(20, 60))
    est = cls(
        25, compute_inverse_components=compute_inverse_components, random_state=0
    ).fit(X)
    Z = rng.normal(size=(7, 25)) @ _components(est)
    Z_new = est.transform(Z)
    Z_new = sparse.csr_matrix(Z_new) if as_sparse else Z_new
    Z_back = est.inverse_transform(Z_new)
    assert isinstance(Z_back, np.ndarray) and Z_back.shape == (7, 60)
    np.testing.assert_allclose(Z_back, Z, rtol=1e-8, atol=1e-8 * np.abs(Z).max())
    # Not the identity: a generic point loses its part outside the row space.
    outside = rng.normal(size=(1, 60))
    back = est.inverse_transform(est.transform(outside))
    assert np.linalg.norm(back - outside) > 0.1 * np.linalg.norm(outside)


@pytest.mark.parametrize("cls", PROJECTIONS)
def test_inverse_transform_checks_the_width(cls):
    est = cls(5, random_state=0).fit(np.random.RandomState(0).normal(size=(8, 20)))
    with pytest.raises(ValueError, match=r"n_components_=5.*\(n_samples, 5\)"):
        est.inverse_transform(np.zeros((3, 4)))


# --- the Johnson-Lindenstrauss claims of the issue --------------------------


@pytest.mark.parametrize("cls", PROJECTIONS)
def test_distortion_within_eps_on_dense_gaussian_data(cls):
    rng = np.random.RandomState(6)
    X = rng.normal(size=(500, 3000))
    est = cls(eps=EPS, random_state=0).fit(X)
    assert est.n_components_ == johnson_lindenstrauss_min_dim(500, eps=EPS)
    result = pairwise_distortion(X, est.transform(X), n_pairs=2000, random_state=0)
    assert result.fraction_within(EPS) >= 0.99


@pytest.mark.parametrize(
    "est",
    [
        HadamardRandomProjection(eps=EPS, random_state=0),
        HadamardRandomProjection(eps=EPS, projection="sparse", random_state=0),
        SampledRandomProjection(eps=EPS, random_state=0),
    ],
    ids=["hadamard-subsample", "hadamard-sparse", "sampled"],
)
def test_distortion_within_eps_on_very_sparse_data(est, very_sparse):
    # Fitted on all 10,000 rows (n_components_ = 2,125); the distortion is
    # measured on 2,000 pairs of 400 of them to keep the test fast.
    est.fit(very_sparse)
    assert est.n_components_ == johnson_lindenstrauss_min_dim(10_000, eps=EPS)
    rows = np.random.RandomState(0).choice(10_000, 400, replace=False)
    X = very_sparse[rows]
    result = pairwise_distortion(X, est.transform(X), n_pairs=2000, random_state=0)
    assert result.fraction_within(EPS) >= 0.99


def test_very_sparse_achlioptas_fails_like_sparse_random_projection(very_sparse):
    # The documented failure: with density 1/sqrt(n_features) a component
    # rarely sees the heavy coordinate of a row. scikit-learn's
    # SparseRandomProjection, the same distribution, fails the same way.
    rows = np.random.RandomState(0).choice(10_000, 400, replace=False)
    X = very_sparse[rows]
    fractions = []
    for est in [
        AchlioptasRandomProjection(256, density="auto", random_state=0),
        SparseRandomProjection(256, density="auto", random_state=0),
    ]:
        est.fit(very_sparse)
        result = pairwise_distortion(X, est.transform(X), random_state=0)
        fractions.append(result.fraction_within(EPS))
    assert max(fractions) < 0.5
    hadamard = HadamardRandomProjection(256, random_state=0).fit(very_sparse)
    result = pairwise_distortion(X, hadamard.transform(X), random_state=0)
    assert result.fraction_within(EPS) > 0.9


# --- pairwise_distortion ----------------------------------------------------


def test_pairwise_distortion_matches_scipy_distances():
    rng = np.random.RandomState(7)
    X = rng.normal(size=(30, 12))
    Y = X @ rng.normal(size=(12, 5))
    result = pairwise_distortion(sparse.csr_matrix(X), Y, n_pairs=200, random_state=1)
    assert result.ratios.shape == (200,) and result.pairs.shape == (200, 2)
    assert np.all(result.pairs[:, 0] != result.pairs[:, 1])
    expected = [
        sqeuclidean(Y[i], Y[j]) / sqeuclidean(X[i], X[j]) for i, j in result.pairs
    ]
    np.testing.assert_allclose(result.ratios, expected)
    assert result.median == pytest.approx(np.median(expected))
    distortion = np.abs(np.subtract(expected, 1))
    assert result.max_distortion == pytest.approx(distortion.max())
    assert result.quantiles[0.99] == pytest.approx(np.quantile(expected, 0.99))
    assert result.distortion_quantile(0.5) == pytest.approx(np.median(distortion))


def test_pairwise_distortion_skips_identical_rows_and_checks_shapes():
    X = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    result = pairwise_distortion(X, X, n_pairs=300, random_state=0)
    assert np.all(result.ratios == 1.0) and result.ratios.size < 300
    with pytest.raises(ValueError, match="X has 3 rows but X_projected has 2"):
        pairwise_distortion(X, X[:2])
    with pytest.raises(ValueError, match="identical"):
        pairwise_distortion(np.ones((4, 2)), np.ones((4, 1)))
    with pytest.raises(ValueError, match="n_pairs"):
        pairwise_distortion(X, X, n_pairs=0)


def test_distortion_plot_draws_a_histogram():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.RandomState(8)
    X = rng.normal(size=(50, 40))
    result = pairwise_distortion(X, X * 1.1, random_state=0)
    fig, ax = plt.subplots()
    assert result.plot(ax=ax, eps=0.2) is ax
    assert len(ax.patches) >= 1 and len(ax.lines) == 3
    plt.close(fig)


# --- bad input --------------------------------------------------------------


@pytest.mark.parametrize("cls", PROJECTIONS)
def test_more_components_than_features_warns(cls):
    X = np.random.RandomState(0).normal(size=(10, 6))
    with pytest.warns(DataDimensionalityWarning, match=r"6 < 8"):
        cls(8, random_state=0).fit(X)


@pytest.mark.parametrize("cls", PROJECTIONS)
def test_auto_dimension_larger_than_features_is_an_error(cls):
    X = np.random.RandomState(0).normal(size=(100, 50))
    with pytest.raises(ValueError, match=r"n_components=\d+.*n_features=50"):
        cls(eps=0.5).fit(X)


@pytest.mark.parametrize("cls", PROJECTIONS)
@pytest.mark.parametrize("eps", [0, 1, 1.5, -0.1])
def test_eps_outside_zero_one_is_rejected(cls, eps):
    with pytest.raises(ValueError, match=rf"'eps' parameter.*Got {eps}"):
        cls(eps=eps).fit(np.ones((5, 5)))


@pytest.mark.parametrize("cls", [AchlioptasRandomProjection, HadamardRandomProjection])
@pytest.mark.parametrize("density", [0, 1.5, -1])
def test_density_outside_zero_one_is_rejected(cls, density):
    with pytest.raises(ValueError, match=rf"'density' parameter.*Got {density}"):
        cls(2, density=density).fit(np.ones((5, 5)))


@pytest.mark.parametrize("cls", PROJECTIONS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_rejected(cls, bad):
    X = np.random.RandomState(0).normal(size=(10, 8))
    X[3, 2] = bad
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        cls(2).fit(X)
    est = cls(2, random_state=0).fit(np.ones((10, 8)) + np.eye(10, 8))
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        est.transform(X)


def test_sampled_needs_enough_non_zero_rows():
    X = np.zeros((6, 10))
    with pytest.raises(ValueError, match="every row of X is zero"):
        SampledRandomProjection(2).fit(X)
    X[:3] = 1.0
    with pytest.raises(ValueError, match="n_samples_per_component=4 must be <= .* 3"):
        SampledRandomProjection(2, n_samples_per_component=4).fit(X)


@pytest.mark.parametrize("cls", PROJECTIONS)
def test_same_seed_same_projection_and_caller_arrays_untouched(cls):
    X = sparse.random(30, 200, density=0.05, format="csr", random_state=0)
    before = X.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = cls(16, random_state=3).fit_transform(X)
        b = cls(16, random_state=3).fit_transform(X)
    a = a.toarray() if sparse.issparse(a) else a
    b = b.toarray() if sparse.issparse(b) else b
    np.testing.assert_array_equal(a, b)
    assert (X != before).nnz == 0


def test_hadamard_sign_formula_path_for_very_sparse_rows(monkeypatch):
    # Few non-zero columns per block: the components' columns come from
    # (-1)**popcount(i & j) instead of the transform; same result.
    X = sparse.random(50, 2000, density=0.001, format="csr", random_state=0)
    monkeypatch.setattr(hadamard_module, "_EXPLICIT_ELEMENTS", 0)
    est = HadamardRandomProjection(500, random_state=0).fit(X)
    expected = X.toarray() @ _hadamard_components(est).T
    np.testing.assert_allclose(est.transform(X), expected, atol=1e-10)
    np.testing.assert_allclose(est.transform(X.toarray()), expected, atol=1e-10)


@pytest.mark.parametrize("cls", PROJECTIONS)
@pytest.mark.parametrize("fmt", ["csc", "coo"])
def test_other_sparse_formats_are_converted_to_csr(cls, fmt):
    X = sparse.random(30, 200, density=0.05, format="csr", random_state=0)
    est = cls(16, random_state=3).fit(X)
    expected = est.transform(X)
    expected = expected.toarray() if sparse.issparse(expected) else expected
    other = X.asformat(fmt)
    for fitted in [est, cls(16, random_state=3).fit(other)]:
        X_new = fitted.transform(other)
        X_new = X_new.toarray() if sparse.issparse(X_new) else X_new
        np.testing.assert_allclose(X_new, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        est.inverse_transform(sparse.csr_matrix(expected).asformat(fmt)),
        est.inverse_transform(expected),
        rtol=1e-10,
        atol=1e-12,
    )
    ratios = pairwise_distortion(X, expected, random_state=0).ratios
    np.testing.assert_array_equal(
        pairwise_distortion(other, expected, random_state=0).ratios, ratios
    )


@pytest.mark.parametrize("projection", ["subsample", "sparse"])
def test_hadamard_butterflies_call_blas_on_one_thread(projection, monkeypatch):
    """The Kronecker route and the butterflies are many small products: on
    BLAS's threads each waits for the other, and next to a busy program the
    transform took 1.4-1.7 times as long (1.0 on one thread, as fast idle).
    The explicit product (few components) keeps BLAS's threads."""
    from threadpoolctl import threadpool_info, threadpool_limits

    seen = []

    def spy(real):
        def recorded(*args, **kwargs):
            blas = [
                i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"
            ]
            seen.append(tuple(blas))
            return real(*args, **kwargs)

        return recorded

    monkeypatch.setattr(hadamard_module, "fwht", spy(hadamard_module.fwht))
    monkeypatch.setattr(
        hadamard_module,
        "subsampled_hadamard",
        spy(hadamard_module.subsampled_hadamard),
    )
    monkeypatch.setattr(hadamard_module, "_EXPLICIT_ELEMENTS", 0)
    X = np.random.RandomState(0).normal(size=(50, 40))
    with threadpool_limits(limits=2, user_api="blas"):
        est = HadamardRandomProjection(16, projection=projection, random_state=0)
        est.fit(X).transform(X)
    assert seen and all(blas and set(blas) == {1} for blas in seen)
