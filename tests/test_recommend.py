"""RatingsRecommender: ids, cold start, top-N, Spark export, model selection."""

import json
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

import mathlearn.recommend._ratings as ratings_module
from mathlearn.datasets import make_ratings
from mathlearn.exceptions import ColdStartWarning
from mathlearn.impute import SVDImputer, TraceNormImputer
from mathlearn.recommend import RatingsRecommender
from mathlearn.utils._sklearn_compat import InvalidParameterError


def _fast_trace_norm():
    return TraceNormImputer(
        n_shrinkages=5,
        n_folds=1,
        shrinkage_power=1,
        center="both",
        tol=1e-4,
        max_iter=1000,
        random_state=0,
    )


COMPLETERS = [_fast_trace_norm(), SVDImputer(n_components=3, alpha=1.0, random_state=0)]
COMPLETER_IDS = ["TraceNormImputer", "SVDImputer"]


@pytest.fixture(scope="module")
def ratings():
    frame, _ = make_ratings(60, 40, 900, random_state=0)
    return frame


def _fit(completer, frame):
    return RatingsRecommender(completer).fit(frame[["user", "item"]], frame["rating"])


@pytest.mark.parametrize("completer", COMPLETERS, ids=COMPLETER_IDS)
def test_predictions_are_the_completers_on_the_pivoted_matrix(ratings, completer):
    """Reference: the matrix built by pandas' pivot, fitted directly."""
    # String ids that do not sort like the positions they come from.
    frame = ratings.assign(
        user=[f"u{(7 * u) % 60:02d}" for u in ratings["user"]],
        item=[f"i{(11 * i) % 40:02d}" for i in ratings["item"]],
    )
    model = _fit(clone(completer), frame)
    matrix = frame.pivot(index="user", columns="item", values="rating")
    np.testing.assert_array_equal(model.user_ids_, matrix.index.to_numpy())
    np.testing.assert_array_equal(model.item_ids_, matrix.columns.to_numpy())
    reference = clone(completer).fit(matrix.to_numpy())
    users, items = np.indices(matrix.shape).reshape(2, -1)
    pairs = pd.DataFrame({"user": matrix.index[users], "item": matrix.columns[items]})
    np.testing.assert_allclose(
        model.predict(pairs),
        reference.predict_entries(users, items),
        rtol=1e-10,
        atol=1e-10,
    )


def test_float32_ratings_give_float32_predictions(ratings):
    """The completer works in float64; only the returned dtype follows y."""
    X = ratings[["user", "item"]]
    y32 = ratings["rating"].to_numpy().astype(np.float32)
    pred32 = RatingsRecommender(_fast_trace_norm()).fit(X, y32).predict(X)
    pred64 = (
        RatingsRecommender(_fast_trace_norm()).fit(X, y32.astype(np.float64)).predict(X)
    )
    assert pred32.dtype == np.float32 and pred64.dtype == np.float64
    np.testing.assert_array_equal(pred32, pred64.astype(np.float32))
    stars = np.ceil(y32).astype(np.int64)
    model = RatingsRecommender(_fast_trace_norm()).fit(X, stars)
    assert model.predict(X).dtype == np.float64


def test_order_of_rating_rows_and_relabelling_do_not_matter(ratings):
    model = _fit(_fast_trace_norm(), ratings)
    pairs = ratings[["user", "item"]]
    expected = model.predict(pairs)
    shuffled = ratings.sample(frac=1.0, random_state=1)
    np.testing.assert_array_equal(
        _fit(_fast_trace_norm(), shuffled).predict(pairs), expected
    )
    # An order-preserving renaming of the ids is the same model.
    renamed = ratings.assign(user=ratings["user"] + 10**6, item=ratings["item"] * 3.5)
    relabelled = _fit(_fast_trace_norm(), renamed)
    got = relabelled.predict(renamed[["user", "item"]])
    np.testing.assert_array_equal(got, expected)


def test_duplicate_pairs_are_one_entry_with_their_mean_rating(ratings):
    completer = SVDImputer(n_components=2, alpha=1.0, random_state=0)
    first = ratings.iloc[0]
    again = pd.DataFrame(
        {"user": [first["user"]] * 2, "item": [first["item"]] * 2, "rating": [1.0, 4.0]}
    )
    with_repeats = pd.concat([ratings.iloc[1:], again], ignore_index=True)
    meaned = ratings.copy()
    meaned.loc[0, "rating"] = 2.5
    pairs = ratings[["user", "item"]]
    np.testing.assert_allclose(
        _fit(completer, with_repeats).predict(pairs),
        _fit(completer, meaned).predict(pairs),
        rtol=1e-12,
    )


def test_unseen_users_and_items_get_the_fitted_effects(ratings):
    model = _fit(SVDImputer(n_components=2, alpha=1.0, random_state=0), ratings)
    c = model.completer_
    pairs = pd.DataFrame({"user": [3, 999, 3, 999, 5], "item": [7, 7, 999, 998, 8]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = model.predict(pairs)
    assert len(caught) == 1 and caught[0].category is ColdStartWarning
    assert "3 of 5 pairs" in str(caught[0].message)
    assert "2 with an unseen user, 2 with an unseen item" in str(caught[0].message)
    u3, u5 = np.searchsorted(model.user_ids_, [3, 5])
    i7, i8 = np.searchsorted(model.item_ids_, [7, 8])
    expected = [
        c.predict_entries([u3], [i7])[0],
        c.mean_ + c.column_effects_[i7],
        c.mean_ + c.row_effects_[u3],
        c.mean_,
        c.predict_entries([u5], [i8])[0],
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_known_pairs_do_not_warn(ratings):
    model = _fit(SVDImputer(n_components=2, random_state=0), ratings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(ratings[["user", "item"]])


def _brute_force_top_n(model, users, n, exclude_rated, rated):
    """Every pair scored by predict, then a stable sort of each user's row."""
    items = model.item_ids_
    rows = []
    for user in users:
        pairs = pd.DataFrame({"user": [user] * len(items), "item": items})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ColdStartWarning)
            scores = model.predict(pairs)
        keep = np.ones(len(items), dtype=bool)
        if exclude_rated:
            keep &= ~np.isin(items, rated.get(user, []))
        order = np.flatnonzero(keep)[np.argsort(-scores[keep], kind="stable")][:n]
        for rank, j in enumerate(order, start=1):
            rows.append((user, items[j], scores[j], rank))
    return pd.DataFrame(rows, columns=["user", "item", "score", "rank"])


@pytest.mark.parametrize("exclude_rated", [True, False])
@pytest.mark.parametrize("n", [1, 5, 45])
def test_recommend_matches_a_brute_force_ranking(
    ratings, monkeypatch, n, exclude_rated
):
    model = _fit(_fast_trace_norm(), ratings)
    # Several blocks of users and of items, and blocks smaller than n.
    monkeypatch.setattr(ratings_module, "_ITEM_BLOCK", 7)
    monkeypatch.setattr(ratings_module, "_BLOCK_PAIRS", 30)
    rated = ratings.groupby("user")["item"].apply(list).to_dict()
    users = [5, 0, 59, 5, 1000]  # a repeat and a user not seen in fit
    with pytest.warns(ColdStartWarning, match="1 of 5 users"):
        got = model.recommend(users, n=n, exclude_rated=exclude_rated)
    expected = _brute_force_top_n(model, users, n, exclude_rated, rated)
    pd.testing.assert_frame_equal(
        got[["user", "item", "rank"]], expected[["user", "item", "rank"]]
    )
    np.testing.assert_allclose(got["score"], expected["score"], rtol=1e-12)
    if n == 45 and exclude_rated:
        # Fewer rows than n for a user with fewer than n unrated items.
        assert (got["user"] == 5).sum() == 2 * (40 - len(rated[5]))


def test_top_n_breaks_ties_by_position():
    rng = np.random.RandomState(0)
    scores = rng.randint(0, 4, size=(50, 30)).astype(float)
    scores[rng.rand(*scores.shape) < 0.2] = -np.inf
    positions = np.arange(30)[None, :]
    for n in [1, 3, 10, 30, 40]:
        best, items = ratings_module._top_n(scores, positions, n)
        reference = np.argsort(-scores, axis=1, kind="stable")[:, :n]
        np.testing.assert_array_equal(items, reference)
        np.testing.assert_array_equal(best, np.take_along_axis(scores, reference, 1))


@pytest.mark.parametrize("completer", COMPLETERS, ids=COMPLETER_IDS)
def test_als_factors_reproduce_predict_entries(ratings, completer):
    model = _fit(completer, ratings)
    users, items = model.to_als_factors()
    assert users.columns.tolist() == ["id", "features"]
    np.testing.assert_array_equal(users["id"], model.user_ids_)
    np.testing.assert_array_equal(items["id"], model.item_ids_)
    P = np.array(users["features"].tolist())
    Q = np.array(items["features"].tolist())
    assert P.shape == (60, model.completer_.n_components_ + 2)
    rows, cols = np.indices((60, 40)).reshape(2, -1)
    np.testing.assert_allclose(
        np.einsum("ij,ij->i", P[rows], Q[cols]),
        model.completer_.predict_entries(rows, cols),
        rtol=1e-12,
        atol=1e-12,
    )


def _save_als_model(spark, path, users, items, rank):
    """Write an ALSModel directory: metadata plus the two factor tables."""
    metadata = {
        "class": "org.apache.spark.ml.recommendation.ALSModel",
        "timestamp": 0,
        "sparkVersion": spark.version,
        "uid": "ALS_mathlearn",
        "paramMap": {"userCol": "user", "itemCol": "item"},
        "defaultParamMap": {
            "userCol": "user",
            "itemCol": "item",
            "predictionCol": "prediction",
            "coldStartStrategy": "nan",
            "blockSize": 4096,
        },
        "rank": rank,
    }
    spark.sparkContext.parallelize([json.dumps(metadata)], 1).saveAsTextFile(
        f"{path}/metadata"
    )
    schema = "id int, features array<float>"
    spark.createDataFrame(users, schema).write.parquet(f"{path}/userFactors")
    spark.createDataFrame(items, schema).write.parquet(f"{path}/itemFactors")


# pyspark's own warnings about pandas 3 (its support lags): not ours to act on.
@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
@pytest.mark.slow
def test_als_factors_load_into_spark(ratings, tmp_path):
    pytest.importorskip("pyspark")
    from pyspark.ml.recommendation import ALSModel
    from pyspark.sql import SparkSession

    model = _fit(_fast_trace_norm(), ratings)
    users, items = model.to_als_factors()
    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    try:
        _save_als_model(
            spark,
            str(tmp_path / "als"),
            users,
            items,
            model.completer_.n_components_ + 2,
        )
        als = ALSModel.load(str(tmp_path / "als"))
        pairs = ratings[["user", "item"]].astype("int32").iloc[:200]
        predicted = (
            als.transform(spark.createDataFrame(pairs))
            .toPandas()
            .merge(pairs, on=["user", "item"])
        )
    finally:
        spark.stop()
    expected = model.predict(predicted[["user", "item"]])
    # Spark keeps the factors in single precision.
    np.testing.assert_allclose(predicted["prediction"], expected, rtol=1e-5)


def test_grid_search_over_the_completer_with_cv_over_ratings():
    frame, _ = make_ratings(80, 60, 2000, noise=0.3, random_state=0)
    X, y = frame[["user", "item"]], frame["rating"]
    search = GridSearchCV(
        RatingsRecommender(SVDImputer(n_components=2, random_state=0)),
        {"completer__alpha": [1e-3, 10.0], "completer__n_components": [1, 3]},
        cv=KFold(3, shuffle=True, random_state=0),
        scoring="neg_root_mean_squared_error",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        search.fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert (
        search.best_estimator_.completer_.n_components_
        == search.best_params_["completer__n_components"]
    )
    # The same scores by hand: a held-out fold's cold pairs get the effects.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ColdStartWarning)
        by_hand = cross_val_score(
            clone(search.best_estimator_),
            X,
            y,
            cv=KFold(3, shuffle=True, random_state=0),
            scoring="neg_root_mean_squared_error",
        )
    np.testing.assert_allclose(by_hand.mean(), search.best_score_)


def test_default_completer_is_a_trace_norm_imputer(ratings):
    model = RatingsRecommender()
    assert model.completer is None
    small = ratings.iloc[:300]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(small[["user", "item"]], small["rating"])
    assert isinstance(model.completer_, TraceNormImputer)


@pytest.mark.parametrize(
    "X, y, error, match",
    [
        ([[1], [2]], [1.0, 2.0], ValueError, "2 columns .* n_features = 1"),
        ([[1, 2], [2, 3]], [1.0, np.nan], ValueError, "y contains NaN"),
        ([[1, 2], [2, np.inf]], [1.0, 2.0], ValueError, "X contains infinity"),
        (
            np.array([["a", "x"], [None, "y"]], dtype=object),
            [1.0, 2.0],
            ValueError,
            "missing ids .* row 1, column 0",
        ),
        (
            np.array([["a", "x"], [3, "y"]], dtype=object),
            [1.0, 2.0],
            TypeError,
            "column 0 of X must be all numbers or all strings",
        ),
        ([[1, 2], [2, 3], [3, 4]], [1.0, 2.0], ValueError, "inconsistent numbers"),
    ],
)
def test_bad_input_is_named(X, y, error, match):
    with pytest.raises(error, match=match):
        RatingsRecommender(SVDImputer(n_components=1)).fit(X, y)


def test_a_completer_error_says_which_matrix():
    with pytest.raises(
        ValueError, match="2 users .* x 1 items .* n_components=1 must be"
    ):
        RatingsRecommender(SVDImputer(n_components=1)).fit([[1, 2], [3, 2]], [3.0, 4.0])


def test_bad_parameters_are_named(ratings):
    with pytest.raises(InvalidParameterError, match="completer"):
        RatingsRecommender(completer="svd").fit([[1, 2], [2, 3]], [1.0, 2.0])
    model = _fit(SVDImputer(n_components=2, random_state=0), ratings)
    with pytest.raises(InvalidParameterError, match="'n' parameter"):
        model.recommend([1], n=0)
    with pytest.raises(ValueError, match="users must be a 1-D"):
        model.recommend([[1, 2]])
    with (
        pytest.raises(ValueError, match="expecting 2 features"),
        # Fitted on a DataFrame, given a list: scikit-learn's name check warns
        # before the shape check raises.
        pytest.warns(UserWarning, match="does not have valid feature names"),
    ):
        model.predict([[1], [2]])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_recommend_memory_does_not_grow_with_users_times_items():
    frame, _ = make_ratings(3000, 20_000, 60_000, random_state=0)
    model = _fit(
        SVDImputer(n_components=2, alpha=1.0, max_iter=20, random_state=0), frame
    )
    users = model.user_ids_
    dense_bytes = users.shape[0] * model.item_ids_.shape[0] * 8  # 480 MB
    tracemalloc.start()
    top = model.recommend(users, n=10)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(top) == 10 * users.shape[0]
    assert peak < dense_bytes / 10
