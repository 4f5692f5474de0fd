"""Ratings held as a dask DataFrame: RatingsRecommender fitted block by block.

The ratings are regrouped into blocks of users and of items on the workers
(``mathlearn.recommend._dask``, ``EntryBlocks.of_triples``); the fit must be
the in-memory fit of the same ratings to round-off. The in-memory fit is
the reference: it is tested against independent references in
``tests/test_recommend.py`` and ``tests/test_impute.py``.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")

from mathlearn.datasets import make_ratings  # noqa: E402
from mathlearn.exceptions import ColdStartWarning  # noqa: E402
from mathlearn.impute import SOMImputer, SVDImputer, TraceNormImputer  # noqa: E402
from mathlearn.impute._blocks import EntryBlocks  # noqa: E402
from mathlearn.recommend import RatingsRecommender  # noqa: E402


def _ratings(n_users=1500, n_items=1000, n_ratings=60_000, seed=0):
    """Ratings in no order, text item ids, and a few pairs rated twice.

    1,500 x 1,000 is above the small-table size: the dask fit runs on blocks.
    """
    ratings, _ = make_ratings(n_users, n_items, n_ratings, random_state=seed)
    again = ratings.sample(300, random_state=seed).assign(
        rating=lambda r: np.clip(r["rating"] - 1.0, 0.5, 5.0)
    )
    ratings = pd.concat([ratings, again]).sample(frac=1.0, random_state=seed + 1)
    ratings["item"] = "movie-" + ratings["item"].astype(str)
    return ratings.reset_index(drop=True)


def _fit_both(ratings, completer, npartitions=7):
    ids, y = ratings[["user", "item"]], ratings["rating"]
    in_memory = RatingsRecommender(completer).fit(ids, y)
    frame = dd.from_pandas(ratings, npartitions=npartitions, sort=False)
    on_blocks = RatingsRecommender(completer).fit(
        frame[["user", "item"]], frame["rating"]
    )
    return in_memory, on_blocks


def _assert_same_recommender(on_blocks, in_memory, ratings):
    np.testing.assert_array_equal(on_blocks.user_ids_, in_memory.user_ids_)
    np.testing.assert_array_equal(on_blocks.item_ids_, in_memory.item_ids_)
    assert on_blocks.item_ids_.dtype == in_memory.item_ids_.dtype
    assert (on_blocks._rated != in_memory._rated).nnz == 0
    assert on_blocks.n_features_in_ == 2
    np.testing.assert_array_equal(on_blocks.feature_names_in_, ["user", "item"])
    ids = ratings[["user", "item"]]
    expected = in_memory.predict(ids)
    found = on_blocks.predict(ids)
    assert found.dtype == expected.dtype
    # Equal to round-off in the fit, then rounded to the output's dtype.
    atol = 5.0 * max(1e-8, np.finfo(found.dtype).eps)
    np.testing.assert_allclose(found, expected, rtol=0, atol=atol)
    users = in_memory.user_ids_[:20]
    pd.testing.assert_frame_equal(
        on_blocks.recommend(users, n=5).drop(columns="score"),
        in_memory.recommend(users, n=5).drop(columns="score"),
    )


def test_recommender_on_a_dask_dataframe_equals_the_in_memory_fit(dask_client):
    ratings = _ratings()
    completer = TraceNormImputer(random_state=0)
    in_memory, on_blocks = _fit_both(ratings, completer)
    assert on_blocks.completer_.alpha_ == pytest.approx(
        in_memory.completer_.alpha_, rel=1e-12
    )
    _assert_same_recommender(on_blocks, in_memory, ratings)


def test_svd_recommender_on_a_dask_dataframe_equals_the_in_memory_fit():
    ratings = _ratings(n_users=1200, n_items=900, n_ratings=40_000, seed=1)
    ratings["rating"] = ratings["rating"].astype(np.float32)
    # A penalty large enough for L-BFGS to converge in some 60 steps: a
    # stop by tol in a flat objective would differ in the last bits.
    completer = SVDImputer(
        n_components=3, alpha=50.0, tol=1e-10, max_iter=2000, random_state=0
    )
    with dask.config.set(scheduler="sync"):
        in_memory, on_blocks = _fit_both(ratings, completer, npartitions=3)
    assert on_blocks.predict(ratings[["user", "item"]]).dtype == np.float32
    _assert_same_recommender(on_blocks, in_memory, ratings)


def test_small_dask_ratings_are_fitted_in_memory():
    ratings = _ratings(n_users=300, n_items=200, n_ratings=5_000, seed=2)
    completer = TraceNormImputer(alpha=5.0, random_state=0)
    with dask.config.set(scheduler="sync"):
        in_memory, on_blocks = _fit_both(ratings, completer, npartitions=4)
    np.testing.assert_array_equal(
        on_blocks.predict(ratings[["user", "item"]]),
        in_memory.predict(ratings[["user", "item"]]),
    )


def _triples(rng, shape, n):
    rows = rng.integers(0, shape[0], n)
    cols = rng.integers(0, shape[1], n)
    # Ratings of a few values: a pair given twice may sum in any order only
    # if the sums are exact, and they would hide an order bug; halves are
    # exact, so the mean below is compared exactly.
    vals = rng.integers(1, 11, n) / 2.0
    return rows, cols, vals


def test_blocks_of_triples_hold_the_mean_of_each_pair():
    """Against scipy: the COO sums of the values and of the counts."""
    rng = np.random.default_rng(3)
    shape = (230, 170)
    parts = [_triples(rng, shape, n) for n in (900, 0, 1500, 700)]
    rows, cols, vals = (np.concatenate(p) for p in zip(*parts, strict=True))
    sums = sp.coo_matrix((vals, (rows, cols)), shape=shape).tocsr()
    counts = sp.coo_matrix((np.ones_like(vals), (rows, cols)), shape=shape).tocsr()
    mean = sums.multiply(counts.power(-1)).tocsr()
    row_starts, col_starts = [0, 50, 51, 180, 230], [0, 100, 170]
    with dask.config.set(scheduler="sync"):
        blocks = EntryBlocks.of_triples(
            [dask.delayed(p) for p in parts], shape, row_starts, col_starts
        )
        row_blocks = dask.compute(*blocks.row_blocks)
        col_blocks = dask.compute(*blocks.col_blocks)
    for starts, found, matrix in [
        (row_starts, row_blocks, mean),
        (col_starts, col_blocks, mean.T.tocsr()),
    ]:
        for k, entries in enumerate(found):
            expected = matrix[starts[k] : starts[k + 1]].tocoo()
            assert entries.shape == expected.shape
            assert entries.rows.dtype == np.int32
            np.testing.assert_array_equal(entries.rows, expected.row)
            np.testing.assert_array_equal(entries.cols, expected.col)
            np.testing.assert_array_equal(entries.vals, expected.data)


@pytest.fixture
def frame():
    ratings = _ratings(n_users=200, n_items=100, n_ratings=2_000, seed=4)
    return dd.from_pandas(ratings, npartitions=2, sort=False)


def test_dask_fit_errors_name_the_problem(frame):
    ids, y = frame[["user", "item"]], frame["rating"]
    model = RatingsRecommender()
    with dask.config.set(scheduler="sync"):
        with pytest.raises(TypeError, match="y must be a dask Series"):
            model.fit(ids, y.compute())
        with pytest.raises(TypeError, match="= 2.*of 1 partitions"):
            model.fit(ids, y.repartition(npartitions=1))
        with pytest.raises(ValueError, match="2 columns"):
            model.fit(frame[["user"]], y)
        with pytest.raises(ValueError, match="y must hold numbers"):
            model.fit(ids, frame["item"])
        with pytest.raises(TypeError, match="SOMImputer"):
            RatingsRecommender(SOMImputer()).fit(ids, y)
        missing = frame.assign(user=frame["user"].where(frame["user"] != 3))
        with pytest.raises(ValueError, match="missing ids"):
            model.fit(missing[["user", "item"]], y)
        bad = frame.assign(rating=frame["rating"].where(frame["user"] != 3, np.inf))
        with pytest.raises(ValueError, match="NaN or infinite"):
            model.fit(ids, bad["rating"])
        mixed = frame.assign(item=frame["item"].where(frame["user"] != 3, 7))
        with pytest.raises(TypeError, match="all numbers or all strings"):
            model.fit(mixed[["user", "item"]].astype(object), y)


def test_dask_fit_leaves_unseen_ids_to_the_effects(frame):
    with dask.config.set(scheduler="sync"):
        model = RatingsRecommender(TraceNormImputer(n_shrinkages=5, random_state=0))
        model.fit(frame[["user", "item"]], frame["rating"])
    pairs = pd.DataFrame({"user": [10_000], "item": [model.item_ids_[0]]})
    with pytest.warns(ColdStartWarning, match="1 of 1 pairs"):
        predicted = model.predict(pairs)
    c = model.completer_
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(predicted, c.mean_ + c.column_effects_[0])
