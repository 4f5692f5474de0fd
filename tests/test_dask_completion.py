"""The completers' fit on a dask array, against the in-memory fit.

A fit on a dask array runs the passes of the in-memory fit as maps over the
array's row and column blocks (``mathlearn.impute._blocks``); the fitted
model must be the in-memory one to round-off. The in-memory fit is the
reference: it is tested against independent references in
``tests/test_impute.py``.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from mathlearn.exceptions import EmptyRowWarning  # noqa: E402
from mathlearn.impute import SVDImputer, TraceNormImputer  # noqa: E402


def _table(m=1200, n=400, rank=4, missing=0.7, seed=0):
    """A low-rank table with an offset, noise, one empty row and column.

    ``m x n`` above the small-table size, where a dask fit runs on blocks.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, rank)) @ rng.normal(size=(rank, n)) + 100.0
    X += 0.1 * rng.normal(size=(m, n))
    X[rng.random((m, n)) < missing] = np.nan
    X[5] = np.nan
    X[:, 7] = np.nan
    return X


def _fit_both(X, chunks, **params):
    params = {"svd_solver": "ridge-als", "tol": 1e-9, "random_state": 0, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyRowWarning)
        in_memory = TraceNormImputer(**params).fit(X)
        on_blocks = TraceNormImputer(**params).fit(da.from_array(X, chunks=chunks))
    return in_memory, on_blocks


def _assert_same_model(on_blocks, in_memory, X):
    assert on_blocks.n_components_ == in_memory.n_components_
    assert on_blocks.svd_solver_ == "ridge-als"
    for name in ["mean_", "row_effects_", "column_effects_", "singular_values_"]:
        np.testing.assert_allclose(
            getattr(on_blocks, name),
            getattr(in_memory, name),
            rtol=1e-8,
            atol=1e-10 * np.nanmax(np.abs(X)),
            err_msg=name,
        )
    # The factors are defined up to a rotation; their product is not.
    Z_blocks = on_blocks.row_factors_ @ on_blocks.column_factors_.T
    Z_memory = in_memory.row_factors_ @ in_memory.column_factors_.T
    np.testing.assert_allclose(
        Z_blocks, Z_memory, rtol=0, atol=1e-8 * np.abs(Z_memory).max()
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyRowWarning)
        np.testing.assert_allclose(
            on_blocks.transform(X), in_memory.transform(X), rtol=1e-8
        )


def test_trace_norm_fit_on_a_dask_array_equals_the_in_memory_fit(dask_client):
    """The default fit on two worker processes, blocks along both axes.

    The held-out path (its split, effects, solves, scores and rank limit),
    the final fit and the fold-in, with cold starts.
    """
    X = _table()
    in_memory, on_blocks = _fit_both(X, chunks=(250, 150))
    assert in_memory.n_components_ >= 2
    _assert_same_model(on_blocks, in_memory, X)
    np.testing.assert_allclose(on_blocks.alpha_, in_memory.alpha_, rtol=1e-10)
    np.testing.assert_allclose(on_blocks.alphas_, in_memory.alphas_, rtol=1e-10)
    np.testing.assert_allclose(
        on_blocks.validation_errors_, in_memory.validation_errors_, rtol=1e-8
    )
    assert on_blocks.relaxation_ == in_memory.relaxation_


@pytest.mark.parametrize(
    "params",
    [
        {"center": "columns", "alpha": 20.0},
        {"center": None, "alpha": 50.0, "relax": 0.5},
        {"center": "both", "alpha": 2.0, "effects_penalty": 3.0},
        {"center": "columns", "validation_fraction": 0.3, "n_components": 3},
        # Holds out one entry: the one whose hash is smallest, found by a pass.
        {"validation_fraction": 1e-12, "n_shrinkages": 4},
    ],
)
def test_trace_norm_dask_fit_options_equal_the_in_memory_fit(params):
    """Each centring, a relaxed fit and a given effects penalty, in one process."""
    X = _table(m=900, n=350, rank=3, seed=1)
    with dask.config.set(scheduler="sync"):
        in_memory, on_blocks = _fit_both(X, chunks=(200, 100), **params)
    _assert_same_model(on_blocks, in_memory, X)
    assert on_blocks.center_ == in_memory.center_


def test_dask_array_of_sparse_blocks_is_fitted_as_its_sparse_matrix():
    """Ratings as scipy.sparse chunks: the stored entries are the observed ones."""
    import scipy.sparse as sp

    ratings = sp.random(3000, 400, density=0.1, random_state=0, format="csr")
    ratings.data = np.round(1 + 4 * ratings.data)
    X = da.from_array(ratings, chunks=(500, 100), asarray=False)
    with dask.config.set(scheduler="sync"):
        on_blocks = TraceNormImputer(random_state=0).fit(X)
    in_memory = TraceNormImputer(random_state=0).fit(ratings)
    assert on_blocks.alpha_ == pytest.approx(in_memory.alpha_, rel=1e-10)
    Z_blocks = on_blocks.row_factors_ @ on_blocks.column_factors_.T
    Z_memory = in_memory.row_factors_ @ in_memory.column_factors_.T
    np.testing.assert_allclose(
        Z_blocks, Z_memory, rtol=0, atol=1e-8 * np.abs(Z_memory).max()
    )


def test_trace_norm_dask_fit_keeps_float32_and_warns_of_cold_starts():
    X = _table(m=800, n=400, seed=2).astype(np.float32)
    estimator = TraceNormImputer(alpha=5.0, random_state=0)
    with dask.config.set(scheduler="sync"):
        with pytest.warns(EmptyRowWarning, match="1 rows and 1 columns") as record:
            estimator.fit(da.from_array(X, chunks=(300, 400)))
    assert record[0].filename == __file__
    assert estimator.n_features_in_ == 400
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyRowWarning)
        assert estimator.transform(X).dtype == np.float32


def _fit_both_sync(X, chunks, **params):
    """TraceNormImputer(**params) on ``X`` and on its dask array (sync scheduler).

    1% observed stops at max_iter, the same way in both.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyRowWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        in_memory = TraceNormImputer(**params).fit(X)
        with dask.config.set(scheduler="sync"):
            on_blocks = TraceNormImputer(**params).fit(da.from_array(X, chunks=chunks))
    return in_memory, on_blocks


@pytest.mark.parametrize(
    "shape, missing",
    [
        ((300, 200), 0.5),  # a small table: computed
        ((1000, 600), 0.99),  # a large one with few entries: its entries
    ],
)
def test_small_dask_tables_are_fitted_in_memory(shape, missing):
    """At most 250,000 entries, or 10,000 observed (K-fold selection)."""
    X = _table(*shape, missing=missing, seed=3)
    in_memory, on_blocks = _fit_both_sync(X, (100, 100), random_state=0)
    np.testing.assert_array_equal(on_blocks.row_factors_, in_memory.row_factors_)
    assert on_blocks.alpha_ == in_memory.alpha_


def test_few_entries_with_zero_as_missing_are_fitted_in_memory():
    """missing_values=0 on a large dense table with 10,000 entries at most.

    Its entries are gathered and fitted in memory (5 folds), as the dense
    table would be; gathered as a sparse matrix, they were refused (0 is
    ambiguous where unstored entries are the missing ones).
    """
    X = np.nan_to_num(_table(1000, 600, missing=0.99, seed=9), nan=0.0)
    in_memory, on_blocks = _fit_both_sync(
        X, (250, 200), missing_values=0.0, random_state=0
    )
    np.testing.assert_array_equal(on_blocks.row_factors_, in_memory.row_factors_)


@pytest.mark.parametrize(
    "estimator, match",
    [
        (TraceNormImputer(n_folds=3), "n_folds=3 is not supported"),
        (TraceNormImputer(alpha=1.0, scale=True), "scale=True is not supported"),
        (TraceNormImputer(alpha=1.0, svd_solver="arpack"), "svd_solver='arpack'"),
        (
            TraceNormImputer(alpha=1.0, shrinkage_power=2, svd_solver="full"),
            "svd_solver='full'",
        ),
        (SVDImputer(scale=True), "scale=True is not supported"),
    ],
)
def test_dask_fit_names_what_it_does_not_support(estimator, match):
    X = da.from_array(_table(m=600, n=500, seed=4), chunks=(300, 250))
    with pytest.raises(ValueError, match=match):
        estimator.fit(X)


def _svd_table(seed):
    """Rank 5 plus an offset of 3: L-BFGS converges in about a hundred steps."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(1200, 5)) @ rng.normal(size=(5, 400)) + 3.0
    X += 0.1 * rng.normal(size=X.shape)
    X[rng.random(X.shape) < 0.7] = np.nan
    X[5] = np.nan
    return X


def _svd_both(X, **params):
    params = {"n_components": 5, "tol": 1e-10, "max_iter": 2000, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyRowWarning)
        in_memory = SVDImputer(random_state=0, **params).fit(X)
        on_blocks = SVDImputer(random_state=0, **params).fit(
            da.from_array(X, chunks=(250, 150))
        )
        return in_memory, on_blocks, in_memory.transform(X), on_blocks.transform(X)


def test_svd_fit_on_a_dask_array_equals_the_in_memory_fit(dask_client):
    """L-BFGS on the objective summed over the blocks, from the same start."""
    in_memory, on_blocks, Z_memory, Z_blocks = _svd_both(_svd_table(7), alpha=1.0)
    assert in_memory.n_iter_ < 1000
    np.testing.assert_allclose(on_blocks.objective_, in_memory.objective_, rtol=1e-10)
    np.testing.assert_allclose(
        Z_blocks, Z_memory, rtol=0, atol=1e-8 * np.abs(Z_memory).max()
    )


def test_svd_dask_fit_chooses_alpha_as_in_memory():
    """The same held-out entries, the same errors, so the same alpha.

    The errors and the completion agree to L-BFGS's stopping point (``tol``
    on the relative decrease of the objective), not to round-off: two runs
    whose gradients differ in the last bits stop at slightly different
    iterates where the objective is flat.
    """
    with dask.config.set(scheduler="sync"):
        in_memory, on_blocks, Z_memory, Z_blocks = _svd_both(_svd_table(8))
    assert on_blocks.alpha_ == in_memory.alpha_
    np.testing.assert_allclose(
        on_blocks.validation_errors_, in_memory.validation_errors_, rtol=1e-4
    )
    np.testing.assert_allclose(
        Z_blocks, Z_memory, rtol=0, atol=1e-3 * np.abs(Z_memory).max()
    )


def test_dask_fit_rejects_infinity_and_no_observed_entry():
    X = _table(m=600, n=500, seed=5)
    X[17, 3] = np.inf
    with dask.config.set(scheduler="sync"):
        with pytest.raises(ValueError, match="X contains infinity"):
            TraceNormImputer(alpha=1.0).fit(da.from_array(X, chunks=(300, 250)))
        empty = da.full((600, 500), np.nan, chunks=(300, 250))
        with pytest.raises(ValueError, match="no observed entry"):
            TraceNormImputer(alpha=1.0).fit(empty)


def test_trace_norm_dask_fit_submits_each_key_once(dask_client, caplog):
    """Every pass reads the same blocks: no key gets two definitions."""
    X = da.from_array(_table(m=700, n=400, seed=6), chunks=(200, 200))
    with caplog.at_level("WARNING", logger="distributed.scheduler"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EmptyRowWarning)
            TraceNormImputer(alpha=5.0, random_state=0).fit(X)
            TraceNormImputer(alpha=5.0, random_state=0).fit(X[:650])
    collisions = [r for r in caplog.records if "different `run_spec`" in r.message]
    assert not collisions, collisions[0].message


def _column_sums(entries, start, weights):
    """Weighted column sums of a row block (its rows numbered from ``start``)."""
    return np.bincount(
        entries.cols, entries.vals * weights[start + entries.rows], entries.shape[1]
    )


def test_large_shared_arguments_do_not_travel_in_the_graph(dask_client):
    """A map's large argument (factors, effects of many rows) is scattered.

    distributed warns of a graph above 10 MB; a map whose shared argument
    takes more than that sends none, and computes what it computes with the
    argument in the graph.
    """
    from mathlearn.impute._blocks import EntryBlocks

    X = _table(m=1200, n=400, seed=9)
    blocks = EntryBlocks.of(da.from_array(X, chunks=(300, 200)), np.nan)
    # Per row of X, padded to 12 MB.
    weights = np.ones(1_500_000)
    weights[:1200] = np.arange(1200) / 1200
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        sums = blocks.map(_column_sums, weights, per_block=blocks.row_starts[:-1])
    observed = ~np.isnan(X)
    expected = np.where(observed, X, 0.0) * weights[:1200, None]
    np.testing.assert_allclose(sum(sums), expected.sum(axis=0), rtol=1e-12)


def test_an_als_sweep_moves_nothing_between_workers(dask_client):
    """Every argument of a pass is in its tasks or already on every worker.

    A shared argument used to be a task of its own, computed on one worker
    and fetched from it by the other, and the layout and effects were sent
    again at every pass: each pass began with transfers between workers.
    Now the workers run the ridge tasks and nothing else (a block may still
    move, when the scheduler balances the workers). The ridge solves still
    equal the in-memory ones.
    """
    from dask.utils import key_split
    from distributed import get_task_stream

    from mathlearn.impute._base import Pattern, Residuals, standardize
    from mathlearn.impute._blocks import BlockSource, EntryBlocks, entry_stats
    from mathlearn.impute._centering import Observed, start_centering

    X = _table(m=1200, n=400, seed=4)
    blocks = EntryBlocks.of(da.from_array(X, chunks=(300, 200)), np.nan)
    stats = entry_stats(blocks, np.nan)
    assert stats.layout.shape == (1199, 399)  # one empty row and column
    source = BlockSource(blocks, stats.layout, stats.scale(centred=True), stats.n_obs)
    centering = start_centering(stats.layout.shape, 1.5, 1.0, None, None)
    residuals = source.residuals(centering)
    # Factors above the size copied into each task: 25 KB and 77 KB.
    V = np.random.default_rng(0).normal(size=(399, 8))
    residuals.ridge_columns(residuals.ridge_rows(V, 0.5), 0.5)
    with get_task_stream(dask_client) as stream:
        A = residuals.ridge_rows(V, 0.5)
        B = residuals.ridge_columns(A, 0.5)
    assert {key_split(task["key"]) for task in stream.data} == {"ridge_task"}

    rows, cols = np.nonzero(~np.isnan(np.delete(np.delete(X, 5, 0), 7, 1)))
    values = np.delete(np.delete(X, 5, 0), 7, 1)[rows, cols] / stats.scale(centred=True)
    obs = Observed(rows, cols, values, (1199, 399))
    memory = Residuals(Pattern(obs), standardize(obs, centering))
    np.testing.assert_allclose(A, memory.ridge_rows(V, 0.5), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(B, memory.ridge_columns(A, 0.5), rtol=1e-10, atol=1e-12)
