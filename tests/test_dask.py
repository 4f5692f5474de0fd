"""mathlearn on dask: chunked prediction, incremental and distributed fits.

Each test compares the dask run with the same computation in memory. They run
on the ``dask_client`` fixture (``tests/conftest.py``): a local cluster of two
worker processes on 127.0.0.1, so estimators and data really are pickled to
other processes.
"""

import collections

import joblib
import numpy as np
import pytest
from sklearn.base import clone, is_regressor
from test_discovery import EXPECTED_ESTIMATORS

from mathlearn.impute import SOMImputer
from mathlearn.kernel_regression import NadarayaWatsonRegressor
from mathlearn.som import SelfOrganizingMap
from mathlearn.utils import all_estimators

da = pytest.importorskip("dask.array")
wrappers = pytest.importorskip("dask_ml.wrappers")


def _post_fit_estimators():
    return [
        cls
        for _, cls in all_estimators()
        if hasattr(cls, "transform") or hasattr(cls, "predict")
    ]


def test_every_transformer_and_predictor_is_listed():
    # Every estimator the package map promises transforms or predicts, so an
    # empty discovery cannot leave the parametrised tests below silently empty.
    assert {cls.__name__ for cls in _post_fit_estimators()} >= EXPECTED_ESTIMATORS


def _float32_data(cls, n_samples=80, n_features=5, seed=0):
    """Low-rank float32 data (10% NaN for imputers) and a target."""
    rng = np.random.RandomState(seed)
    latent = rng.normal(size=(n_samples, 2))
    X = latent @ rng.normal(size=(2, n_features)) + 0.1 * rng.normal(
        size=(n_samples, n_features)
    )
    y = X[:, 0] - 2.0 * X[:, 1]
    if cls().__sklearn_tags__().input_tags.allow_nan:
        X[rng.rand(*X.shape) < 0.1] = np.nan
    return X.astype(np.float32), y.astype(np.float32)


@pytest.mark.parametrize("cls", _post_fit_estimators(), ids=lambda cls: cls.__name__)
def test_parallel_post_fit_keeps_results_and_dtype(dask_client, cls):
    """transform / predict of a float32 dask array, chunk by chunk, on workers."""
    estimator = cls(**getattr(cls, "_test_params", {}))
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=0)
    X, y = _float32_data(cls)
    wrapped = wrappers.ParallelPostFit(estimator)
    wrapped.fit(X, y) if is_regressor(estimator) else wrapped.fit(X)
    X_dask = da.from_array(X, chunks=(25, X.shape[1]))
    method = "transform" if hasattr(cls, "transform") else "predict"
    expected = getattr(wrapped.estimator, method)(X)
    result = getattr(wrapped, method)(X_dask)
    assert result.dtype == expected.dtype
    computed = result.compute()
    assert computed.dtype == X.dtype == expected.dtype
    # Row blocks of another size may round differently in the last bit
    # (FourierFeatures' products do); every other estimator is exact.
    np.testing.assert_allclose(
        computed, expected, rtol=4 * np.finfo(np.float32).eps, atol=0
    )


def test_incremental_trains_the_som_chunk_by_chunk(dask_client):
    """Incremental calls partial_fit once per block (in order, unshuffled)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 3))
    params = {"n_rows": 3, "n_cols": 2, "n_epochs": 4, "random_state": 0}
    incremental = wrappers.Incremental(
        SelfOrganizingMap(**params), shuffle_blocks=False
    )
    incremental.fit(da.from_array(X, chunks=(30, 3)))
    reference = SelfOrganizingMap(**params)
    for start in range(0, 120, 30):
        reference.partial_fit(X[start : start + 30])
    np.testing.assert_array_equal(
        incremental.estimator_.cluster_centers_, reference.cluster_centers_
    )
    assert incremental.estimator_.n_iter_ == 4


def test_bandwidth_search_runs_on_the_dask_backend(dask_client, monkeypatch):
    """joblib's dask backend spreads the search's chunks: same bandwidth."""
    from distributed import get_task_stream

    from mathlearn.kernel_regression import _nadaraya_watson

    kernel = "gaussian"
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(1100, 2))
    # 11 chunks of 100 rows a pass: enough to be shared out (fewer than
    # _MIN_PARALLEL_SLICES run in the calling thread, whatever the backend).
    monkeypatch.setattr(_nadaraya_watson, "_CHUNK_ELEMENTS", 1100 * 100)
    y = np.sin(2 * X[:, 0]) + 0.1 * rng.normal(size=1100)
    local = NadarayaWatsonRegressor(kernel=kernel, n_jobs=2).fit(X, y)
    with get_task_stream(client=dask_client) as stream:
        with joblib.parallel_config(backend="dask"):
            spread = NadarayaWatsonRegressor(kernel=kernel, n_jobs=2).fit(X, y)
    assert len(stream.data) > 0
    np.testing.assert_allclose(spread.bandwidth_, local.bandwidth_, rtol=1e-12)
    np.testing.assert_allclose(spread.cv_mse_, local.cv_mse_, rtol=1e-12)


def test_symbolic_constant_tuning_runs_on_the_dask_backend(dask_client):
    """joblib's dask backend runs the constant tuning: the same formula."""
    from distributed import get_task_stream

    from mathlearn.symbolic import SymbolicRegressor

    rng = np.random.RandomState(0)
    X = rng.uniform(1, 3, size=(100, 2))
    y = 1.5 * X[:, 0] / X[:, 1] + 0.3
    params = {"random_state": 0, "n_jobs": 2}
    local = SymbolicRegressor(**params).fit(X, y)
    with get_task_stream(client=dask_client) as stream:
        with joblib.parallel_config(backend="dask"):
            spread = SymbolicRegressor(**params).fit(X, y)
    assert len(stream.data) > 0
    assert str(spread.expression_) == str(local.expression_) == "1.5*x0/x1 + 0.3"


@pytest.mark.parametrize(
    "init, grid, chunks",
    [
        ("pca", {}, (300, 4)),
        ("random", {"n_rows": 5, "n_cols": 4}, (300, 4)),
        ("pca", {}, (700, 2)),  # chunked along the features too
    ],
)
def test_som_fit_on_a_dask_array_equals_the_in_memory_fit(
    dask_client, init, grid, chunks
):
    """Each epoch a map over the chunks and a sum: the same map, to round-off."""
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(2000, 4, centers=5, random_state=0)
    X += 1e3  # an offset: both paths centre the data
    params = {"init": init, "n_epochs": 5, "random_state": 0, **grid}
    in_memory = SelfOrganizingMap(**params).fit(X)
    chunked = SelfOrganizingMap(**params).fit(da.from_array(X, chunks=chunks))
    assert (chunked.n_rows_, chunked.n_cols_) == (in_memory.n_rows_, in_memory.n_cols_)
    spread = np.abs(X - X.mean(axis=0)).max()
    np.testing.assert_allclose(
        chunked.cluster_centers_, in_memory.cluster_centers_, rtol=0, atol=1e-8 * spread
    )
    np.testing.assert_array_equal(chunked.labels_, in_memory.labels_)
    assert chunked.n_features_in_ == 4


def test_som_fit_on_a_dask_array_checks_its_input(dask_client):
    X = np.ones((40, 3))
    X[7, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        SelfOrganizingMap(n_rows=2, n_cols=2).fit(da.from_array(X, chunks=(10, 3)))
    with pytest.raises(ValueError, match="algorithm='batch'"):
        SelfOrganizingMap(algorithm="online").fit(da.ones((40, 3), chunks=(10, 3)))


@pytest.mark.parametrize(
    "missing_values, bad, params, match",
    [
        (np.nan, np.inf, {}, "contains infinity"),
        (-1.0, np.nan, {}, "contains (infinity or )?NaN"),
        (np.nan, "column", {}, r"features \[1\] have no observed value"),
        (np.nan, np.nan, {"train_on": "complete"}, "needs at least n_rows"),
    ],
)
def test_som_imputer_fit_on_a_dask_array_checks_its_input(
    dask_client, missing_values, bad, params, match
):
    """The in-memory fit's errors, found in the pass that takes the means."""
    X = np.ones((40, 3))
    X[::3, 0] = missing_values
    if bad == "column":
        X[:, 1] = missing_values
    else:
        X[37, 2] = bad  # in the last chunk, not in the first row
    for data in [X, da.from_array(X, chunks=(10, 3))]:
        with pytest.raises(ValueError, match=match):
            SOMImputer(n_rows=5, n_cols=6, missing_values=missing_values, **params).fit(
                data
            )


@pytest.mark.filterwarnings("ignore::mathlearn.exceptions.EmptyRowWarning")
@pytest.mark.parametrize(
    "train_on, init", [("all", "pca"), ("complete", "pca"), ("all", "random")]
)
def test_som_imputer_fit_on_a_dask_array_equals_the_in_memory_fit(
    dask_client, train_on, init
):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 4)) @ rng.normal(size=(4, 4)) + 100.0
    X[rng.rand(*X.shape) < 0.15] = np.nan
    X[[3, 170, 171]] = np.nan  # rows without an observed entry are not read
    params = {"train_on": train_on, "init": init, "n_epochs": 4, "random_state": 0}
    in_memory = SOMImputer(**params).fit(X)
    chunked = SOMImputer(**params).fit(da.from_array(X, chunks=(150, 4)))
    spread = np.nanmax(np.abs(X - np.nanmean(X, axis=0)))
    np.testing.assert_allclose(
        chunked.weights_, in_memory.weights_, rtol=0, atol=1e-8 * spread
    )
    np.testing.assert_allclose(chunked.statistics_, in_memory.statistics_, rtol=1e-12)
    np.testing.assert_allclose(chunked.transform(X), in_memory.transform(X), rtol=1e-8)


def test_incremental_trains_the_som_imputer_chunk_by_chunk(dask_client):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(120, 3))
    X[rng.rand(*X.shape) < 0.2] = np.nan
    params = {"n_rows": 3, "n_cols": 2, "n_epochs": 4, "random_state": 0}
    # Incremental asks for a score (SOMImputer, a transformer, has none).
    incremental = wrappers.Incremental(
        SOMImputer(**params),
        scoring=lambda estimator, X, y=None: 0.0,
        shuffle_blocks=False,
    )
    incremental.fit(da.from_array(X, chunks=(30, 3)))
    reference = SOMImputer(**params)
    for start in range(0, 120, 30):
        reference.partial_fit(X[start : start + 30])
    np.testing.assert_array_equal(incremental.estimator_.weights_, reference.weights_)


def test_centred_svd_of_row_blocks_equals_numpy(dask_client):
    """Stacked per-block R factors and block means give the centred SVD.

    Blocks of unequal sizes, one shorter than the number of features (its R
    factor has fewer rows), and an offset that the blocks' own means remove.
    """
    from sklearn.utils.extmath import svd_flip

    from mathlearn.som import _training

    rng = np.random.RandomState(0)
    X = rng.normal(size=(403, 6)) @ rng.normal(size=(6, 6)) + 1e4
    chunked = da.from_array(X, chunks=((3, 200, 100, 100), (6,)))
    mean, s, Vt = _training.centred_svd(chunked)
    _, s_ref, Vt_ref = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    _, Vt_ref = svd_flip(None, Vt_ref, u_based_decision=False)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(s, s_ref, rtol=1e-10)
    np.testing.assert_allclose(Vt, Vt_ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_center_and_scale_of_row_blocks_in_one_pass(dask_client, dtype):
    """The mean, and max |X - mean| from the columns' extremes, exactly.

    ``x - center`` rounds monotonically in ``x``, so the extremes of each
    column give the largest magnitude of the centred data bit for bit.
    """
    from mathlearn.som import _training

    rng = np.random.RandomState(0)
    X = (rng.standard_cauchy(size=(500, 3)) + [1e3, -5.0, 0.0]).astype(dtype)
    data = _training.RowBlocks.of(da.from_array(X, chunks=(120, 3)))
    centred, count, largest = _training.center_chunked(data)
    center = centred.center
    np.testing.assert_array_equal(count, 500)
    assert center.dtype == dtype
    np.testing.assert_allclose(center, X.mean(axis=0, dtype=np.float64), rtol=1e-6)
    assert largest == np.abs(X - center).max()


@pytest.mark.parametrize(
    "missing_values, train_on",
    [(None, "all"), (np.nan, "all"), (np.nan, "complete"), (-1.0, "all")],
    ids=["som", "imputer-all", "imputer-complete", "imputer-placeholder"],
)
def test_row_block_tasks_hold_a_few_slices_not_copies_of_the_block(
    missing_values, train_on
):
    """Each task's own allocations stay a few 2 MB slices, whatever the block.

    The block (32 MB here) is what the worker holds; finding its missing
    entries, selecting the rows read, centring and scaling them, their
    distances to the units and their QR factor are taken a slice of rows at
    a time (traced by ``tracemalloc``, which sees NumPy's buffers). A
    centred, scaled copy alone would be 64 MB, its mask 32 MB.
    """
    import tracemalloc

    from mathlearn.som import _training
    from mathlearn.som._som import _block_labels

    rng = np.random.default_rng(0)
    block = rng.standard_normal((80_000, 50)) + 3.0
    if missing_values is not None:
        block[rng.random(block.shape) < 0.02] = missing_values
    reading = _training.Reading(np.full(50, 3.0), 2, missing_values, train_on)
    W = reading.work(block[:100])[0]
    slice_bytes = _training._ROW_BLOCK_ENTRIES * block.itemsize
    tasks = {
        "moments": lambda: _training._block_moments(block, reading),
        "scatter": lambda: _training._block_scatter(block, reading),
        "sums": lambda: _training._block_sums(block, reading, W, True),
        "labels": lambda: _block_labels(block, reading, W),
        "rows": lambda: _training._take_rows(block, reading, np.arange(0, 20_000, 2)),
    }
    for name, task in tasks.items():
        tracemalloc.start()
        try:
            task()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 5 * slice_bytes, (name, peak / slice_bytes)


@pytest.mark.parametrize(
    "estimator",
    [
        SelfOrganizingMap(n_rows=3, n_cols=3, n_epochs=1, random_state=0),
        SOMImputer(n_rows=3, n_cols=3, n_epochs=1, random_state=0),
        SOMImputer(n_rows=3, n_cols=3, n_epochs=1, train_on="complete"),
        SOMImputer(n_rows=3, n_cols=3, n_epochs=1, init="random", random_state=0),
    ],
    ids=["som", "imputer-all", "imputer-complete", "imputer-random"],
)
def test_fit_on_a_dask_array_allocates_slices_not_chunks(estimator):
    """A whole fit, run here: a few 2 MB slices at a time, no chunk-sized copy.

    Under the synchronous scheduler every task runs in this process, so
    ``tracemalloc`` sees them all; the 16 MB chunks themselves are views of
    the dask array's copy of ``X``, made before. SOMImputer's lazy selection
    of the training rows, centring and mask once made 18 slices' worth of
    temporaries per chunk.
    """
    import tracemalloc

    import dask

    from mathlearn.som import _training

    rng = np.random.default_rng(0)
    X = rng.standard_normal((80_000, 50)) + 3.0
    if isinstance(estimator, SOMImputer):
        X[rng.random(X.shape) < 0.02] = np.nan
    slice_bytes = _training._ROW_BLOCK_ENTRIES * X.itemsize
    with dask.config.set(scheduler="synchronous"):
        clone(estimator).fit(da.from_array(X[:500], chunks=(250, 50)))  # imports
        X_chunked = da.from_array(X, chunks=(40_000, 50))
        tracemalloc.start()
        try:
            clone(estimator).fit(X_chunked)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 5 * slice_bytes, peak / slice_bytes


@pytest.fixture
def key_definitions(dask_client, monkeypatch):
    """``{key: set of dependency sets}`` of every task the client submits.

    Read from each graph as the client sends it (the tasks its keys need),
    so a key submitted with two definitions is seen whether or not the
    scheduler still remembered the first one: that is what makes its
    "Detected different `run_spec`" warning depend on timing.
    """
    from dask.core import get_dependencies

    definitions = collections.defaultdict(set)
    submit = dask_client._graph_to_futures

    def recording(expr, keys, *args, **kwargs):
        graph = dict(expr.__dask_graph__())
        stack, seen = list(keys), set()
        while stack:
            key = stack.pop()
            if key in seen or key not in graph:
                continue
            seen.add(key)
            dependencies = get_dependencies(graph, key)
            definitions[key].add(frozenset(dependencies))
            stack.extend(dependencies)
        return submit(expr, keys, *args, **kwargs)

    monkeypatch.setattr(dask_client, "_graph_to_futures", recording)
    return definitions


@pytest.mark.parametrize(
    "estimator",
    [
        SelfOrganizingMap(n_rows=3, n_cols=3, n_epochs=2, random_state=0),
        SOMImputer(n_rows=3, n_cols=3, n_epochs=2, random_state=0),
        SOMImputer(n_rows=3, n_cols=3, n_epochs=2, train_on="complete"),
    ],
    ids=["som", "imputer-all", "imputer-complete"],
)
def test_fit_on_a_dask_array_submits_each_key_once(key_definitions, estimator):
    """No key collision: every pass of a fit reads the same row blocks.

    Slicing a dask array makes its whole-chunk blocks aliases of the
    original's; a fit whose passes optimised the slice differently (its
    blocks fused into a mean in one graph, into a difference in the next)
    submitted those keys with two definitions. SOMImputer's validation,
    column means, selection of the training rows and lazy centring were
    dask expressions of their own: fits on ``X`` and on
    ``X.astype(np.float32)`` gave the key of the missing-entry mask two
    definitions. The scheduler logs "Detected different `run_spec`" only
    when it still holds the first; ``key_definitions`` sees every one.
    """
    rng = np.random.RandomState(0)
    X = rng.normal(size=(2000, 4))
    if isinstance(estimator, SOMImputer):
        X[rng.rand(*X.shape) < 0.1] = np.nan
    X = da.from_array(X, chunks=(250, 4))
    for init in ["pca", "random"]:
        for data in [X, X[:1100], X[:1100], X.astype(np.float32)]:
            clone(estimator).set_params(init=init).fit(data)
    assert key_definitions
    collisions = {k: d for k, d in key_definitions.items() if len(d) > 1}
    assert not collisions, next(iter(collisions.items()))
