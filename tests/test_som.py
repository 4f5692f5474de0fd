"""SelfOrganizingMap: against MiniSom, brute force and known geometry."""

import subprocess
import sys
import threading

import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import cdist
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA

from mathlearn.som import SelfOrganizingMap, _core


def _sheet(n_samples=1000, seed=0):
    """A curved 2-D sheet in 3-D: a 2-D manifold."""
    rng = np.random.RandomState(seed)
    t = rng.uniform(0, 1, size=(n_samples, 2))
    return np.column_stack([t[:, 0], t[:, 1], 0.5 * np.sin(3 * t[:, 0])])


def _planted(W0, topology="rectangular"):
    """A map whose weights are exactly ``W0`` (n_rows, n_cols, n_features).

    One batch epoch with a bubble of radius < 1 (no neighbours) on the
    planted weights themselves sets each unit to its own vector (up to the
    rounding of centring at the data mean and adding it back).
    """
    n_rows, n_cols, n_features = W0.shape
    som = SelfOrganizingMap(
        n_rows=n_rows,
        n_cols=n_cols,
        topology=topology,
        neighborhood="bubble",
        sigma=0.1,
        n_epochs=1,
        init=W0,
    )
    som.fit(W0.reshape(-1, n_features))
    atol = 4 * np.finfo(W0.dtype).eps * np.abs(W0).max()
    np.testing.assert_allclose(som.weights_, W0, rtol=0, atol=atol)
    return som


# --------------------------------------------------------------- MiniSom


def test_online_step_matches_minisom_update():
    """One presentation is Kohonen's rule, as MiniSom writes it."""
    minisom = pytest.importorskip("minisom")
    rng = np.random.RandomState(0)
    W0 = rng.normal(size=(5, 4, 3))
    x = rng.normal(size=(1, 3))
    som = SelfOrganizingMap(
        n_rows=5,
        n_cols=4,
        sigma=1.0,
        sigma_end=1.0,
        learning_rate=0.3,
        n_epochs=1,
        algorithm="online",
        init=W0,
    ).fit(x)
    ref = minisom.MiniSom(5, 4, 3, sigma=1.0, learning_rate=0.3)
    ref._weights = W0.copy()
    ref.update(x[0], ref.winner(x[0]), 0, 1)
    np.testing.assert_allclose(som.weights_, ref.get_weights(), rtol=1e-12)


@pytest.mark.parametrize("neighborhood", ["gaussian", "bubble"])
def test_online_step_uses_the_batch_neighbourhood(neighborhood):
    """The online rule moves the units by the batch map's neighbourhood."""
    rng = np.random.RandomState(5)
    W0 = rng.normal(size=(4, 5, 3))
    x = rng.normal(size=(1, 3))
    params = {"sigma": 1.5, "sigma_end": 1.5, "n_epochs": 1, "init": W0}
    som = SelfOrganizingMap(
        n_rows=4,
        n_cols=5,
        neighborhood=neighborhood,
        learning_rate=0.4,
        algorithm="online",
        **params,
    ).fit(x)
    flat = W0.reshape(-1, 3)
    winner = cdist(x, flat).argmin()
    coords = _core.grid_coordinates(4, 5, "rectangular")
    h = _core.neighborhood(
        _core.grid_sq_distances(coords)[winner], 1.5, neighborhood, np.float64
    )
    expected = flat + 0.4 * h[:, None] * (x - flat)
    np.testing.assert_allclose(som.cluster_centers_, expected, rtol=1e-12)


@pytest.mark.parametrize("topology", ["rectangular", "hexagonal"])
@pytest.mark.parametrize("n_jobs, block_entries", [(1, None), (3, 64)])
def test_batch_epoch_matches_minisom_offline_batch(
    topology, n_jobs, block_entries, monkeypatch
):
    """One batch epoch equals MiniSom's train_batch_offline with rate 1.

    MiniSom puts hexagonal rows along its second axis and shifts them left
    from the last one: our unit (i, j) is its unit (n_cols - 1 - j, i) for
    an even number of rows, the same grid up to a mirror image. With small
    blocks and 3 threads, the rows (and units) go through many blocks
    computed concurrently.
    """
    minisom = pytest.importorskip("minisom")
    if block_entries is not None:
        monkeypatch.setattr(_core, "_BLOCK_ENTRIES", block_entries)
    rng = np.random.RandomState(1)
    X = rng.normal(size=(200, 4))
    W0 = rng.normal(size=(6, 5, 4))
    som = SelfOrganizingMap(
        n_rows=6,
        n_cols=5,
        topology=topology,
        sigma=1.0,
        sigma_end=1.0,
        n_epochs=1,
        init=W0,
        n_jobs=n_jobs,
    ).fit(X)
    if topology == "rectangular":
        ref = minisom.MiniSom(6, 5, 4, sigma=1.0, learning_rate=1.0)
        ref._weights = W0.copy()
        ref.train_batch_offline(X, 1)
        expected = ref.get_weights()
    else:
        ref = minisom.MiniSom(
            5, 6, 4, sigma=1.0, learning_rate=1.0, topology="hexagonal"
        )
        ref._weights = W0.transpose(1, 0, 2)[::-1].copy()
        ref.train_batch_offline(X, 1)
        expected = ref.get_weights()[::-1].transpose(1, 0, 2)
    np.testing.assert_allclose(som.weights_, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("algorithm", ["batch", "online"])
def test_quantization_error_close_to_minisom(algorithm):
    """Same data, same number of presentations: within 10% of MiniSom."""
    minisom = pytest.importorskip("minisom")
    X = _sheet(800)
    n_epochs = 10
    som = SelfOrganizingMap(
        n_rows=8, n_cols=8, n_epochs=n_epochs, algorithm=algorithm, random_state=0
    ).fit(X)
    ref = minisom.MiniSom(8, 8, 3, sigma=4.0, learning_rate=0.5, random_seed=0)
    ref.pca_weights_init(X)
    ref.train_random(X, n_epochs * X.shape[0])
    assert som.quantization_error(X) <= 1.1 * ref.quantization_error(X)


def test_batch_map_quantizes_no_worse_than_minisom_online():
    """Same start radius, initial weights and presentations: QE <= MiniSom's.

    The batch map ends at radius 0.8 (see the Notes); MiniSom's online map
    decays from the same radius 4 to 4/3.
    """
    minisom = pytest.importorskip("minisom")
    X = _sheet(800)
    W0 = _core.pca_init(X, 8, 8, _core.grid_coordinates(8, 8, "rectangular"))
    W0 = W0.reshape(8, 8, 3)
    som = SelfOrganizingMap(n_rows=8, n_cols=8, n_epochs=10, init=W0).fit(X)
    assert som.sigma_ == 4.0 and som.sigma_end_ == 0.8
    for method in ["train_batch", "train_random"]:
        ref = minisom.MiniSom(8, 8, 3, sigma=4.0, learning_rate=0.5, random_seed=0)
        ref._weights = W0.copy()
        getattr(ref, method)(X, 10 * X.shape[0])
        assert som.quantization_error(X) <= ref.quantization_error(X)
        assert som.topographic_error(X) <= ref.topographic_error(X) + 0.01


# --------------------------------------------------------- brute force


def test_predict_transform_and_errors_match_brute_force():
    X, _ = make_blobs(300, 5, centers=4, random_state=0)
    som = SelfOrganizingMap(n_rows=6, n_cols=7, random_state=0).fit(X)
    W = som.weights_.reshape(-1, 5)
    D = cdist(X, W)
    np.testing.assert_allclose(som.transform(X), D, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(som.predict(X), D.argmin(axis=1))
    np.testing.assert_array_equal(som.labels_, som.predict(X))
    np.testing.assert_array_equal(som.cluster_centers_, W)
    assert som.quantization_error(X) == pytest.approx(D.min(axis=1).mean())
    assert som.score(X) == pytest.approx(-D.min(axis=1).mean())
    order = np.argsort(D, axis=1)
    rows, cols = np.divmod(order[:, :2], 7)
    touching = (np.abs(np.diff(rows)) <= 1) & (np.abs(np.diff(cols)) <= 1)
    assert som.topographic_error(X) == pytest.approx(1 - touching.mean())
    assert som.get_feature_names_out().tolist() == [
        f"selforganizingmap{u}" for u in range(42)
    ]


def test_batch_update_matches_kohonen_formula_by_loops():
    """w_v = sum_i h(v, c_i) x_i / sum_i h(v, c_i), written as loops."""
    rng = np.random.RandomState(2)
    X = rng.normal(size=(40, 3))
    W0 = rng.normal(size=(3, 4, 3))
    som = SelfOrganizingMap(n_rows=3, n_cols=4, sigma=0.8, n_epochs=1, init=W0).fit(X)
    flat = W0.reshape(-1, 3)
    positions = [(i, j) for i in range(3) for j in range(4)]
    expected = np.empty_like(flat)
    for v, (vi, vj) in enumerate(positions):
        num, den = np.zeros(3), 0.0
        for x in X:
            c = np.argmin([np.sum((x - w) ** 2) for w in flat])
            ci, cj = positions[c]
            h = np.exp(-((vi - ci) ** 2 + (vj - cj) ** 2) / (2 * 0.8**2))
            num += h * x
            den += h
        expected[v] = num / den
    np.testing.assert_allclose(som.cluster_centers_, expected, rtol=1e-10)


# ------------------------------------------- offsets, units and magnitudes


def _brute_force(X, W):
    """Distances by per-pair differences in float64, the reference."""
    return cdist(X.astype(np.float64), W.astype(np.float64))


@pytest.mark.parametrize("dtype, offset", [(np.float32, 1e3), (np.float64, 1e9)])
def test_data_with_an_offset(dtype, offset):
    """Issue 16, row 3: |x|^2 - 2 x.w + |w|^2 of uncentred data cancelled.

    Best units were wrong for 77% of the rows and the quantization error 0.
    """
    rng = np.random.RandomState(0)
    X = (offset + 0.1 * rng.normal(size=(500, 5))).astype(dtype)
    som = SelfOrganizingMap(n_rows=5, n_cols=5, random_state=0).fit(X)
    D = _brute_force(X, som.cluster_centers_)
    np.testing.assert_array_equal(som.labels_, D.argmin(axis=1))
    np.testing.assert_array_equal(som.predict(X), D.argmin(axis=1))
    np.testing.assert_allclose(som.transform(X), D, rtol=1e-5, atol=1e-6)
    assert som.quantization_error(X) == pytest.approx(D.min(axis=1).mean(), rel=1e-5)
    order = np.argsort(D, axis=1)[:, :2]
    (r1, c1), (r2, c2) = np.divmod(order[:, 0], 5), np.divmod(order[:, 1], 5)
    touching = (np.abs(r1 - r2) <= 1) & (np.abs(c1 - c2) <= 1)
    assert som.topographic_error(X) == pytest.approx(1 - touching.mean())
    # The map itself spreads over the data, as the map of the centred data.
    centred = SelfOrganizingMap(n_rows=5, n_cols=5, random_state=0).fit(
        X.astype(np.float64) - offset
    )
    np.testing.assert_allclose(
        som.cluster_centers_ - offset, centred.cluster_centers_, atol=1e-3
    )


@pytest.mark.parametrize("dtype, offset", [(np.float64, 1e6), (np.float32, 1e3)])
@pytest.mark.parametrize("algorithm", ["batch", "online"])
def test_shift_of_every_feature_changes_nothing(dtype, offset, algorithm):
    """Same labels and distances as the same points centred, in float64."""
    X = _sheet(300)
    Q = _sheet(50, seed=1)
    X_shifted, Q_shifted = (X + offset).astype(dtype), (Q + offset).astype(dtype)
    params = {"algorithm": algorithm, "random_state": 0}
    reference = SelfOrganizingMap(n_rows=4, n_cols=5, **params).fit(
        X_shifted.astype(np.float64) - offset
    )
    som = SelfOrganizingMap(n_rows=4, n_cols=5, **params).fit(X_shifted)
    Q_centred = Q_shifted.astype(np.float64) - offset
    np.testing.assert_array_equal(som.labels_, reference.labels_)
    np.testing.assert_array_equal(som.predict(Q_shifted), reference.predict(Q_centred))
    tol = 1e-8 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(
        som.transform(Q_shifted), reference.transform(Q_centred), atol=tol
    )
    np.testing.assert_allclose(som.u_matrix(), reference.u_matrix(), atol=tol)


@pytest.mark.parametrize("algorithm", ["batch", "online"])
def test_float32_and_float64_give_the_same_map(algorithm):
    X = _sheet(300)
    a = SelfOrganizingMap(n_rows=4, n_cols=5, algorithm=algorithm, random_state=0).fit(
        X
    )
    b = SelfOrganizingMap(n_rows=4, n_cols=5, algorithm=algorithm, random_state=0)
    b.fit(X.astype(np.float32))
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, atol=1e-5)
    np.testing.assert_allclose(a.transform(X), b.transform(X), atol=1e-5)


@pytest.mark.parametrize(
    "dtype, scale",
    [(np.float64, 1e-300), (np.float64, 1e160), (np.float64, 1e300)]
    + [(np.float32, 1e-30), (np.float32, 1e30)],
)
def test_extreme_magnitudes(dtype, scale):
    """Squares of X ~ 1e160 overflowed: transform was NaN."""
    X = _sheet(200)
    Q = _sheet(30, seed=1)
    reference = SelfOrganizingMap(n_rows=4, n_cols=4, random_state=0).fit(X)
    som = SelfOrganizingMap(n_rows=4, n_cols=4, random_state=0).fit(
        (X * scale).astype(dtype)
    )
    Q_scaled = (Q * scale).astype(dtype)
    np.testing.assert_array_equal(som.predict(Q_scaled), reference.predict(Q))
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(
        som.transform(Q_scaled) / scale, reference.transform(Q), rtol=rtol
    )
    assert som.quantization_error(Q_scaled) / scale == pytest.approx(
        reference.quantization_error(Q), rel=rtol
    )
    np.testing.assert_allclose(som.u_matrix() / scale, reference.u_matrix(), rtol=rtol)


def test_float32_distances_to_a_close_unit_keep_their_digits():
    """|x|^2 - 2 x.w + |w|^2 in float32 has an error of about 1e-7 * |x|^2.

    A distance of 2e-4 came out anywhere in [0, 5e-4]; now it is as precise
    as the float32 data (about 1e-7 times their magnitude).
    """
    W0 = np.random.RandomState(4).normal(size=(3, 3, 4)).astype(np.float32)
    som = _planted(W0)
    X = som.cluster_centers_ + np.float32(1e-4)
    expected = _brute_force(X, som.cluster_centers_)
    np.testing.assert_allclose(som.transform(X), expected, rtol=1e-5, atol=1e-6)
    qe = expected.min(axis=1).mean()
    assert som.quantization_error(X) == pytest.approx(qe, abs=1e-6)


def test_far_query_finds_its_unit():
    """A query 1e200 away: finite distances and the unit furthest its way."""
    X = _sheet(200)
    som = SelfOrganizingMap(n_rows=4, n_cols=4, random_state=0).fit(X)
    query = np.array([[1e200, 0.0, 0.0]])
    assert som.predict(query)[0] == np.argmax(som.cluster_centers_[:, 0])
    np.testing.assert_allclose(som.transform(query), 1e200, rtol=1e-12)


@pytest.mark.parametrize("sigma", [1e-3, 1e-163, 5e-324])
@pytest.mark.parametrize("neighborhood", ["gaussian", "bubble"])
def test_tiny_radius_is_winner_take_all(sigma, neighborhood):
    """Below sigma = 1.5e-162, sigma**2 underflowed and the weights stayed put."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 2))
    W0 = X[:6].reshape(2, 3, 2) + 0.01
    som = SelfOrganizingMap(
        n_rows=2, n_cols=3, neighborhood=neighborhood, sigma=sigma, n_epochs=1, init=W0
    ).fit(X)
    labels = cdist(X, W0.reshape(-1, 2)).argmin(axis=1)
    expected = np.array([X[labels == u].mean(axis=0) for u in range(6)])
    np.testing.assert_allclose(som.cluster_centers_, expected, rtol=1e-12)
    # Online: each presentation moves its winner only.
    x = X[:1]
    online = SelfOrganizingMap(
        n_rows=2,
        n_cols=3,
        neighborhood=neighborhood,
        sigma=sigma,
        learning_rate=0.5,
        n_epochs=1,
        algorithm="online",
        init=W0,
    ).fit(x)
    expected = W0.reshape(-1, 2).copy()
    winner = cdist(x, expected).argmin()
    expected[winner] += 0.5 * (x[0] - expected[winner])
    np.testing.assert_allclose(online.cluster_centers_, expected, rtol=1e-12)


def test_radius_schedule_of_extreme_radii():
    """start / (1 + t (start / end - 1) / (T - 1)), exact in rationals."""
    from fractions import Fraction

    for start, end in [(4.0, 0.8), (1e300, 1e-300), (1e-300, 1e-307)]:
        got = _core.radius_schedule(start, end, 5)
        ratio = Fraction(start) / Fraction(end) - 1
        expected = [
            float(Fraction(start) / (1 + Fraction(t, 4) * ratio)) for t in range(5)
        ]
        np.testing.assert_allclose(got, expected, rtol=1e-14)


# ------------------------------------------------------------ geometry


def test_hexagonal_neighbours_are_the_six_expected_ones():
    """Even rows: up-left/up/left/right/down-left/down; odd rows shifted."""
    som = SelfOrganizingMap(n_rows=5, n_cols=5, topology="hexagonal", n_epochs=1).fit(
        np.random.RandomState(0).normal(size=(30, 2))
    )
    coords = som.grid_coordinates_
    expected = {
        (2, 2): {(1, 1), (1, 2), (2, 1), (2, 3), (3, 1), (3, 2)},
        (1, 2): {(0, 2), (0, 3), (1, 1), (1, 3), (2, 2), (2, 3)},
    }
    for (i, j), neighbours in expected.items():
        d = np.linalg.norm(coords - coords[i * 5 + j], axis=1)
        at_one = {divmod(u, 5) for u in np.flatnonzero(np.isclose(d, 1.0))}
        assert at_one == neighbours
        assert np.all(d[d > 1e-9] >= 1 - 1e-9)


@pytest.mark.parametrize("topology", ["rectangular", "hexagonal"])
def test_topographic_error_and_u_matrix_use_touching_cells(topology):
    """Planted weights: errors and U-matrix follow the expected neighbours."""
    n_rows, n_cols = 4, 5
    n_units = n_rows * n_cols

    def touching(u, v):
        (ui, uj), (vi, vj) = divmod(u, n_cols), divmod(v, n_cols)
        if topology == "rectangular":
            return u != v and abs(ui - vi) <= 1 and abs(uj - vj) <= 1
        if ui == vi:
            return abs(uj - vj) == 1
        # Odd rows are shifted right: their upper/lower neighbours are j, j+1.
        shift = (0, 1) if ui % 2 else (-1, 0)
        return abs(ui - vi) == 1 and vj - uj in shift

    # Orthogonal weights: 0.7 w_u + 0.3 w_v has best unit u, second v.
    flat = 5.0 * np.eye(n_units, 25)
    som = _planted(flat.reshape(n_rows, n_cols, 25), topology)
    for u in range(n_units):
        for v in range(n_units):
            if u != v:
                x = (0.7 * flat[u] + 0.3 * flat[v])[None, :]
                assert np.argsort(cdist(x, flat)[0])[:2].tolist() == [u, v]
                assert som.topographic_error(x) == (0.0 if touching(u, v) else 1.0)

    flat = np.random.RandomState(3).normal(size=(n_units, 4))
    som = _planted(flat.reshape(n_rows, n_cols, 4), topology)
    for u in range(n_units):
        neighbours = [v for v in range(n_units) if touching(u, v)]
        mean = np.linalg.norm(flat[neighbours] - flat[u], axis=1).mean()
        assert som.u_matrix().ravel()[u] == pytest.approx(mean)


@pytest.mark.parametrize("topology", ["rectangular", "hexagonal"])
def test_blobs_map_to_contiguous_regions(topology):
    centers = 10 * np.eye(4, 6)
    X, y = make_blobs(800, centers=centers, cluster_std=0.5, random_state=0)
    som = SelfOrganizingMap(
        n_rows=10, n_cols=10, topology=topology, random_state=0
    ).fit(X)
    nearest_blob = cdist(som.cluster_centers_, centers).argmin(axis=1)
    np.testing.assert_array_equal(nearest_blob[som.labels_], y)
    coords = som.grid_coordinates_
    adjacent = cdist(coords, coords) < 1 + 1e-9
    for blob in range(4):
        units = np.flatnonzero(nearest_blob == blob)
        n_parts, _ = connected_components(adjacent[np.ix_(units, units)])
        assert n_parts == 1, f"blob {blob} is split in {n_parts} regions"


@pytest.mark.parametrize("topology", ["rectangular", "hexagonal"])
@pytest.mark.parametrize("algorithm", ["batch", "online"])
def test_topographic_error_small_on_a_2d_manifold(topology, algorithm):
    X = _sheet(1000)
    som = SelfOrganizingMap(
        n_rows=10, n_cols=10, topology=topology, algorithm=algorithm, random_state=0
    ).fit(X)
    assert som.topographic_error(X) < 0.05


def test_quantization_error_decreases_with_epochs():
    """A constant radius makes longer runs continue the same trajectory."""
    X = _sheet(600)
    errors = [
        SelfOrganizingMap(
            n_rows=8, n_cols=8, sigma=1.0, init="random", n_epochs=e, random_state=0
        )
        .fit(X)
        .quantization_error(X)
        for e in (1, 2, 4, 8)
    ]
    assert np.all(np.diff(errors) < 0), errors


def test_pca_init_spans_the_first_two_components():
    """Checked against scikit-learn's PCA: +-1 standard deviation per axis."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 3)) @ rng.normal(size=(3, 3))
    coords = _core.grid_coordinates(6, 3, "rectangular")
    W0 = _core.pca_init(X, 6, 3, coords)
    pca = PCA(n_components=2).fit(X)
    Z = pca.transform(W0).reshape(6, 3, 2)
    np.testing.assert_allclose(pca.inverse_transform(Z.reshape(-1, 2)), W0)
    # The long side of the grid (rows) follows the first component.
    first = np.abs(Z[:, :, 0])
    np.testing.assert_allclose(first, first[:, :1] * np.ones((1, 3)), atol=1e-9)
    np.testing.assert_allclose(
        np.ptp(Z.reshape(-1, 2), axis=0), 2 * np.sqrt(pca.explained_variance_)
    )


# ------------------------------------------------------- API behaviour


def test_float32_is_preserved():
    X = _sheet(200).astype(np.float32)
    som = SelfOrganizingMap(n_rows=4, n_cols=4, random_state=0).fit(X)
    assert som.weights_.dtype == np.float32
    assert som.transform(X).dtype == np.float32


@pytest.mark.parametrize("init", ["random", "pca"])
def test_same_seed_same_map_for_online_training(init):
    X = _sheet(200)
    a = SelfOrganizingMap(
        n_rows=4, n_cols=4, algorithm="online", init=init, random_state=3
    ).fit(X)
    b = SelfOrganizingMap(
        n_rows=4, n_cols=4, algorithm="online", init=init, random_state=3
    ).fit(X)
    c = SelfOrganizingMap(
        n_rows=4, n_cols=4, algorithm="online", init=init, random_state=4
    ).fit(X)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    assert not np.array_equal(a.weights_, c.weights_)


def test_verbose_prints_one_line_per_epoch(capsys):
    SelfOrganizingMap(n_rows=3, n_cols=3, n_epochs=4, verbose=1).fit(_sheet(100))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and "quant. error" in lines[0]


@pytest.mark.parametrize(
    "params, start, end",
    [
        ({}, 4.0, 0.8),
        ({"neighborhood": "bubble"}, 4.0, 1.0),
        ({"sigma": 0.5}, 0.5, 0.5),
        ({"sigma": 3.0, "sigma_end": 0.3}, 3.0, 0.3),
        ({"n_cols": 3, "sigma_end": 2.0}, 4.0, 2.0),
    ],
)
def test_radius_decays_in_inverse_time_from_sigma_to_sigma_end(
    capsys, params, start, end
):
    params = {"n_rows": 8, "n_cols": 8, "n_epochs": 5, "verbose": 1} | params
    som = SelfOrganizingMap(**params).fit(_sheet(100))
    assert (som.sigma_, som.sigma_end_) == (start, end)
    printed = [
        float(line.split()[1]) for line in capsys.readouterr().out.split("\n")[1:-1]
    ]
    expected = [start / (1 + t * (start / end - 1) / 4) for t in range(5)]
    np.testing.assert_allclose(printed, expected, atol=5e-4)


def test_bubble_neighbourhood_with_small_radius_is_kmeans_step():
    """With no neighbours, a batch epoch is a Lloyd (k-means) step."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 2))
    W0 = X[:6].reshape(2, 3, 2)
    som = SelfOrganizingMap(
        n_rows=2, n_cols=3, neighborhood="bubble", sigma=0.5, n_epochs=1, init=W0
    ).fit(X)
    labels = cdist(X, W0.reshape(-1, 2)).argmin(axis=1)
    expected = np.array([X[labels == u].mean(axis=0) for u in range(6)])
    np.testing.assert_allclose(som.cluster_centers_, expected)


def test_plot_helpers_draw_one_cell_per_unit():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    X = _sheet(200)
    for topology, n_vertices in [("rectangular", 4), ("hexagonal", 6)]:
        som = SelfOrganizingMap(
            n_rows=4, n_cols=5, topology=topology, random_state=0
        ).fit(X)
        fig, axes = plt.subplots(1, 2)
        som.plot_u_matrix(ax=axes[0])
        som.plot_hit_map(X, ax=axes[1])
        (cells,) = [c for c in axes[1].collections if isinstance(c, PolyCollection)]
        assert len(cells.get_paths()) == 20
        assert len(cells.get_paths()[0].vertices) in (n_vertices, n_vertices + 1)
        np.testing.assert_array_equal(
            cells.get_array(), np.bincount(som.predict(X), minlength=20)
        )
        plt.close(fig)
        fig = som.plot_component_planes()
        assert [ax.get_title() for ax in fig.axes if ax.get_title()] == [
            "x0",
            "x1",
            "x2",
        ]
        plt.close(fig)


def test_tour_digits_figures_match_the_public_api():
    # The tour section and the gallery example share som/_tour; its report
    # must show what the public estimator computes on the digits.
    from sklearn.datasets import load_digits

    from mathlearn.som._tour import SECTION, unit_majority

    digits = load_digits()
    X, y = digits.data / 16.0, digits.target
    som = SelfOrganizingMap(
        n_rows=12, n_cols=12, topology="hexagonal", random_state=0
    ).fit(X)
    majority = np.full(144, -1)
    for unit in np.unique(som.labels_):
        majority[unit] = np.bincount(y[som.labels_ == unit]).argmax()
    np.testing.assert_array_equal(unit_majority(som, y), majority)
    purity = np.mean(majority[som.labels_] == y)

    report = SECTION.run(None)
    assert (
        f"quantization error {som.quantization_error(X):.3f}, topographic "
        f"error {som.topographic_error(X):.3f}"
    ) in report
    assert f"majority digit: {purity:.1%} correct" in report


def test_import_does_not_load_matplotlib():
    code = "import sys, mathlearn.som; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_positional_grid_size_is_deprecated_but_gives_the_same_map():
    X = _sheet(100)
    with pytest.warns(FutureWarning, match=r"Pass n_rows=3, n_cols=4 as keyword"):
        positional = SelfOrganizingMap(3, 4, random_state=0)
    assert (
        positional.get_params()
        == SelfOrganizingMap(n_rows=3, n_cols=4, random_state=0).get_params()
    )
    keywords = SelfOrganizingMap(n_rows=3, n_cols=4, random_state=0).fit(X)
    np.testing.assert_array_equal(positional.fit(X).weights_, keywords.weights_)
    assert positional.weights_.shape == (3, 4, 3)


# ----------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_rows": 0}, "n_rows"),
        ({"n_cols": 0}, "n_cols"),
        ({"n_epochs": 0}, "n_epochs"),
        ({"topology": "triangular"}, "topology"),
        ({"neighborhood": "mexican_hat"}, "neighborhood"),
        ({"sigma": -1.0}, "sigma"),
        ({"sigma_end": 0.0}, "sigma_end"),
        ({"sigma": 2.0, "sigma_end": 3.0}, r"sigma_end=3.0 must be <= .* sigma=2.0"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"algorithm": "sequential"}, "algorithm"),
        ({"init": "linear"}, "init"),
    ],
)
def test_bad_parameters_are_named(params, match):
    with pytest.raises(ValueError, match=match):
        SelfOrganizingMap(**params).fit(_sheet(20))


def test_nan_points_to_som_imputer():
    X = _sheet(20)
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN.*SOMImputer"):
        SelfOrganizingMap(n_rows=3, n_cols=3).fit(X)
    som = SelfOrganizingMap(n_rows=3, n_cols=3).fit(_sheet(20))
    with pytest.raises(ValueError, match="SOMImputer"):
        som.predict(X)


def test_infinity_is_rejected():
    X = _sheet(20)
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        SelfOrganizingMap(n_rows=3, n_cols=3).fit(X)


def test_init_array_of_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"init has shape \(3, 3, 2\).*\(3, 3, 3\)"):
        SelfOrganizingMap(n_rows=3, n_cols=3, init=np.zeros((3, 3, 2))).fit(_sheet(20))


def test_topographic_error_needs_two_units():
    som = SelfOrganizingMap(n_rows=1, n_cols=1).fit(_sheet(20))
    with pytest.raises(ValueError, match="at least 2 units"):
        som.topographic_error(_sheet(20))


def test_wrong_number_of_features_is_named():
    som = SelfOrganizingMap(n_rows=3, n_cols=3).fit(_sheet(20))
    with pytest.raises(ValueError, match="3 features"):
        som.transform(np.zeros((2, 4)))


def test_plots_without_matplotlib_say_how_to_install_it(monkeypatch):
    X = np.random.RandomState(0).normal(size=(20, 3))
    som = SelfOrganizingMap(n_rows=2, n_cols=2, random_state=0).fit(X)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ModuleNotFoundError, match="pip install matplotlib"):
        som.plot_u_matrix()


def _weighted_blobs(seed=0):
    X, _ = make_blobs(n_samples=60, centers=3, n_features=3, random_state=seed)
    weights = np.random.RandomState(seed + 1).randint(0, 4, size=len(X))
    return X, weights


def _batch_map_reference(X, W, H_of_epoch, n_epochs):
    """Kohonen's batch map, one explicit loop per unit (no weights)."""
    for epoch in range(n_epochs):
        H = H_of_epoch(epoch)
        best = np.argmin(cdist(X, W, "sqeuclidean"), axis=1)
        W = np.array(
            [
                (H[v, best][:, None] * X).sum(0) / H[v, best].sum()
                if H[v, best].sum() > 0
                else W[v]
                for v in range(len(W))
            ]
        )
    return W


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"n_rows": 4, "n_cols": 3, "topology": "hexagonal"},
        {"neighborhood": "bubble", "init": "pca", "n_epochs": 5},
    ],
)
def test_integer_weights_equal_repeated_rows(params):
    X, weights = _weighted_blobs()
    som = SelfOrganizingMap(**params).fit(X, sample_weight=weights)
    repeated = SelfOrganizingMap(**params).fit(np.repeat(X, weights, axis=0))
    np.testing.assert_allclose(
        som.cluster_centers_, repeated.cluster_centers_, rtol=1e-10, atol=1e-12
    )


def test_weighted_batch_update_against_explicit_sums():
    # Planted initial weights and a fixed radius: the weighted batch map is
    # the unweighted reference on the rows repeated by their weights.
    X, weights = _weighted_blobs(seed=2)
    W0 = X[[0, 10, 20, 30, 40, 50]].reshape(2, 3, 3)
    som = SelfOrganizingMap(
        n_rows=2, n_cols=3, sigma=0.7, sigma_end=0.7, n_epochs=4, init=W0
    )
    som.fit(X, sample_weight=weights)
    coords = _core.grid_coordinates(2, 3, "rectangular")
    H = np.exp(-cdist(coords, coords, "sqeuclidean") / (2 * 0.7**2))
    expected = _batch_map_reference(
        np.repeat(X, weights, axis=0), W0.reshape(6, 3), lambda _: H, 4
    )
    np.testing.assert_allclose(som.cluster_centers_, expected, rtol=1e-10)


@pytest.mark.parametrize("init", ["pca", "random"])
def test_zero_weights_equal_dropped_rows(init):
    X, weights = _weighted_blobs(seed=3)
    keep = weights > 0
    som = SelfOrganizingMap(n_rows=3, n_cols=3, init=init, random_state=0)
    som.fit(X, sample_weight=weights)
    dropped = SelfOrganizingMap(n_rows=3, n_cols=3, init=init, random_state=0)
    dropped.fit(X[keep], sample_weight=weights[keep])
    if init == "pca":
        np.testing.assert_allclose(som.cluster_centers_, dropped.cluster_centers_)
    else:
        # The random draw is over a different number of rows, so only its
        # support is pinned: every initial unit is a row of positive weight.
        rng = np.random.RandomState(0)
        picked = _core.random_init(X, 9, rng, weights.astype(float))
        assert all(np.any(np.all(p == X[keep], axis=1)) for p in picked)
    assert som.labels_.shape == (len(X),)


def test_sample_weight_needs_the_batch_algorithm():
    X, weights = _weighted_blobs()
    with pytest.raises(ValueError, match="sample_weight needs algorithm='batch'"):
        SelfOrganizingMap(n_rows=3, n_cols=1, algorithm="online").fit(
            X, sample_weight=weights
        )
    with pytest.raises(ValueError, match="[Nn]egative"):
        SelfOrganizingMap(n_rows=3, n_cols=1).fit(X, sample_weight=-weights)


def test_plot_component_planes_names_a_bad_n_cols():
    X = np.random.RandomState(0).normal(size=(20, 3))
    som = SelfOrganizingMap(n_rows=2, n_cols=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="'n_cols' parameter"):
        som.plot_component_planes(n_cols=0)


# ------------------------------------------------- default grid, partial_fit


def test_defaults_pass_sklearn_check_clustering():
    """The default map is a clusterer: every unit holds samples (issue 20)."""
    from sklearn.utils.estimator_checks import check_clustering

    check_clustering("SelfOrganizingMap", SelfOrganizingMap())


@pytest.mark.parametrize("n_samples", [7, 50, 1000, 10_000])
def test_default_grid_has_half_sqrt_n_units_shaped_like_the_data(n_samples):
    """Vesanto's side ratio (sqrt of the singular value ratio, from numpy)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n_samples, 3)) * [4.0, 1.0, 0.1]
    som = SelfOrganizingMap(n_epochs=1).fit(X)
    n_units = max(1, int(np.floor(np.sqrt(n_samples) / 2)))
    s = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    n_cols = max(1, round(np.sqrt(n_units * s[1] / s[0])))
    assert (som.n_rows_, som.n_cols_) == (max(1, round(n_units / n_cols)), n_cols)
    assert som.weights_.shape == (som.n_rows_, som.n_cols_, 3)
    assert som.u_matrix().shape == (som.n_rows_, som.n_cols_)
    assert som.get_params()["n_rows"] is None


def test_one_side_given_the_other_makes_the_default_number_of_units():
    X = _sheet(400)  # 10 units by default
    assert SelfOrganizingMap(n_rows=2).fit(X).n_cols_ == 5
    assert SelfOrganizingMap(n_cols=5).fit(X).n_rows_ == 2


def test_default_grid_counts_sample_weights_as_repetitions():
    X, weights = _weighted_blobs()
    som = SelfOrganizingMap().fit(X, sample_weight=weights)
    repeated = SelfOrganizingMap().fit(np.repeat(X, weights, axis=0))
    assert (som.n_rows_, som.n_cols_) == (repeated.n_rows_, repeated.n_cols_)


def test_array_init_gives_the_grid():
    X = _sheet(100)
    W0 = np.random.RandomState(0).normal(size=(3, 4, 3))
    som = SelfOrganizingMap(init=W0, n_epochs=1).fit(X)
    assert (som.n_rows_, som.n_cols_) == (3, 4)
    with pytest.raises(
        ValueError, match=r"\(n_rows, n_cols, n_features\) = \(2, 4, 3\)"
    ):
        SelfOrganizingMap(n_rows=2, init=W0).fit(X)
    with pytest.raises(ValueError, match="init has shape"):
        SelfOrganizingMap(init=W0[0]).fit(X)


@pytest.mark.parametrize("neighborhood", ["gaussian", "bubble"])
def test_partial_fit_epochs_equal_online_fit(neighborhood):
    """n_epochs calls on the same rows: the map of fit(algorithm="online")."""
    X = _sheet(150)
    params = {
        "n_rows": 4,
        "n_cols": 3,
        "n_epochs": 3,
        "neighborhood": neighborhood,
        "random_state": 0,
    }
    fitted = SelfOrganizingMap(algorithm="online", **params).fit(X)
    streamed = SelfOrganizingMap(**params)
    for _ in range(3):
        streamed.partial_fit(X)
    np.testing.assert_array_equal(streamed.cluster_centers_, fitted.cluster_centers_)
    np.testing.assert_array_equal(streamed.labels_, fitted.labels_)
    assert streamed.n_iter_ == 3


def test_partial_fit_one_presentation_is_kohonens_rule():
    """Against the rule written out: w += rate * h(winner) * (x - w)."""
    rng = np.random.RandomState(2)
    W0 = rng.normal(size=(3, 3, 2))
    x = rng.normal(size=(1, 2))
    som = SelfOrganizingMap(
        init=W0, sigma=1.0, sigma_end=1.0, learning_rate=0.25, n_epochs=2
    ).partial_fit(x)
    flat = W0.reshape(-1, 2)
    grid = np.array([(r, c) for r in range(3) for c in range(3)], dtype=float)
    winner = np.argmin(((x - flat) ** 2).sum(axis=1))
    h = np.exp(-((grid - grid[winner]) ** 2).sum(axis=1) / 2.0)
    np.testing.assert_allclose(
        som.cluster_centers_, flat + 0.25 * h[:, None] * (x - flat), rtol=1e-12
    )
    # Second of n_epochs=2 calls: the learning rate has decayed to 0.125.
    som.partial_fit(x)
    first = flat + 0.25 * h[:, None] * (x - flat)
    winner = np.argmin(((x - first) ** 2).sum(axis=1))
    h = np.exp(-((grid - grid[winner]) ** 2).sum(axis=1) / 2.0)
    np.testing.assert_allclose(
        som.cluster_centers_, first + 0.125 * h[:, None] * (x - first), rtol=1e-12
    )


def test_partial_fit_checks_the_number_of_features():
    som = SelfOrganizingMap(n_rows=2, n_cols=2).partial_fit(_sheet(20))
    with pytest.raises(ValueError, match="3 features"):
        som.partial_fit(np.ones((5, 2)))


def _calls_by_thread(monkeypatch):
    """Record, for each distance block, its thread and BLAS thread counts."""
    from threadpoolctl import threadpool_info

    calls = []
    real = _core._CrossTerms.__call__

    def spy(self, *args):
        blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        calls.append((threading.get_ident(), tuple(blas)))
        return real(self, *args)

    monkeypatch.setattr(_core._CrossTerms, "__call__", spy)
    return calls


def test_blocks_run_on_threads_with_one_blas_thread_each(monkeypatch):
    monkeypatch.setattr(_core, "_BLOCK_ENTRIES", 16 * 20)
    calls = _calls_by_thread(monkeypatch)
    som = SelfOrganizingMap(n_rows=4, n_cols=4, n_epochs=3, n_jobs=2)
    for method, n_rows in [(som.fit, 600), (som.predict, 100)]:
        calls.clear()
        method(_sheet(n_rows))
        assert len(calls) >= n_rows // 20
        assert all(blas and set(blas) == {1} for _, blas in calls)
        threads = {ident for ident, _ in calls}
        assert threading.get_ident() not in threads and len(threads) == 2


def test_a_single_block_runs_in_the_calling_thread(monkeypatch):
    """One block leaves nothing to share: handing it to a pool thread only
    adds a wake-up, which waits for a time slice when another program holds
    the other core (the 178-row wine table's SOMImputer fit took 0.01 s
    idle and 0.02 s busy). It runs in the caller, BLAS on one thread."""
    calls = _calls_by_thread(monkeypatch)
    SelfOrganizingMap(n_rows=4, n_cols=4, n_epochs=3, n_jobs=2).fit(_sheet(100))
    assert len(calls) >= 3
    assert {ident for ident, _ in calls} == {threading.get_ident()}
    assert all(blas and set(blas) == {1} for _, blas in calls)


def test_default_threads_follow_the_blas_limit(monkeypatch):
    """n_jobs=None: as many threads as BLAS may use; 1 inside a BLAS limit."""
    from threadpoolctl import threadpool_limits

    from mathlearn.utils._threads import effective_n_threads

    calls = _calls_by_thread(monkeypatch)
    monkeypatch.setattr(_core, "_BLOCK_ENTRIES", 16 * 20)
    with threadpool_limits(limits=1, user_api="blas"):
        assert effective_n_threads(None) == 1
        SelfOrganizingMap(n_rows=4, n_cols=4, n_epochs=2).fit(_sheet(300))
    assert {ident for ident, _ in calls} == {threading.get_ident()}


def test_n_jobs_is_resolved_as_joblib_counts():
    from joblib import cpu_count

    from mathlearn.utils._threads import effective_n_threads

    assert effective_n_threads(-1) == cpu_count()
    assert effective_n_threads(-cpu_count() - 5) == 1
    assert effective_n_threads(3) == 3
    with pytest.raises(ValueError, match="n_jobs=0 must be None or a non-zero"):
        SelfOrganizingMap(n_rows=2, n_cols=2, n_jobs=0).fit(_sheet(50))


def test_the_map_does_not_depend_on_the_number_of_threads(monkeypatch):
    """Blocks change how the work is shared, never the map: bit for bit."""
    monkeypatch.setattr(_core, "_BLOCK_ENTRIES", 30 * 7)
    X, _ = make_blobs(700, 5, centers=6, random_state=3)
    results = []
    for n_jobs in [1, 2, 4]:
        som = SelfOrganizingMap(n_rows=5, n_cols=6, n_epochs=4, n_jobs=n_jobs)
        som.fit(X)
        results.append(
            (
                som.cluster_centers_,
                som.labels_,
                som.transform(X),
                som.topographic_error(X),
            )
        )
    for other in results[1:]:
        for expected, got in zip(results[0], other, strict=True):
            np.testing.assert_array_equal(got, expected)


def test_training_runs_with_one_blas_thread(monkeypatch):
    """Many small products: BLAS is limited to one thread while training."""
    from threadpoolctl import threadpool_info

    seen = []
    real = _core.batch_epoch

    def spy(*args, **kwargs):
        seen.append(
            [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        )
        return real(*args, **kwargs)

    monkeypatch.setattr(_core, "batch_epoch", spy)
    SelfOrganizingMap(n_rows=3, n_cols=3, n_epochs=2).fit(_sheet(50))
    assert seen and all(threads and set(threads) == {1} for threads in seen)


def test_plot_labels_are_written_on_their_cells():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X = _sheet(200)
    som = SelfOrganizingMap(n_rows=3, n_cols=4, topology="hexagonal").fit(X)
    labels = [f"u{k}" if k != 5 else "" for k in range(12)]
    for draw in (
        lambda ax: som.plot_u_matrix(ax=ax, labels=labels),
        lambda ax: som.plot_hit_map(X, ax=ax, labels=np.reshape(labels, (3, 4))),
    ):
        fig, ax = plt.subplots()
        draw(ax)
        texts = {t.get_text(): t.get_position() for t in ax.texts}
        assert len(texts) == 11 and "" not in texts
        # Unit 7 = (row 1, col 3): odd row, shifted right by 1/2, sqrt(3)/2 down.
        np.testing.assert_allclose(texts["u7"], (3.5, -np.sqrt(3) / 2))
        plt.close(fig)
    with pytest.raises(ValueError, match="labels must hold one text per unit"):
        som.plot_u_matrix(labels=labels[:-1])
