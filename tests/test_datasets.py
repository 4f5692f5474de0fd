"""Synthetic data generators: shapes, the documented model, bad input."""

import tracemalloc
import zipfile

import numpy as np
import pandas as pd
import pytest

from mathlearn.datasets import (
    load_movielens,
    make_race_speeds,
    make_ratings,
    make_very_sparse,
)


def test_race_speeds_follow_the_ability_over_difficulty_model():
    speed, speed_missing, ability = make_race_speeds(
        2000, 12, missing=0.5, random_state=0
    )
    # speed * noise = ability / difficulty: log speed is rank 1 (row + column
    # effects) up to the inverse-Gaussian noise of mean 1 and shape 400,
    # whose log has a standard deviation of about 1 / sqrt(400) = 0.05.
    log_speed = np.log(speed)
    residual = (
        log_speed
        - log_speed.mean(axis=1, keepdims=True)
        - log_speed.mean(axis=0)
        + log_speed.mean()
    )
    assert residual.std() == pytest.approx(0.05 * np.sqrt(11 / 12), rel=0.05)
    # The row effect is log ability (up to a constant).
    row = log_speed.mean(axis=1)
    assert np.corrcoef(row, np.log(ability))[0, 1] > 0.99
    hidden = np.isnan(speed_missing)
    assert hidden.mean() == pytest.approx(0.5 * (1 - 1 / 12), abs=0.01)
    assert not hidden.all(axis=1).any()
    np.testing.assert_array_equal(speed_missing[~hidden], speed[~hidden])


def test_race_speeds_are_reproducible():
    a = make_race_speeds(50, 4, random_state=3)
    b = make_race_speeds(50, 4, random_state=np.random.RandomState(3))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_very_sparse_rows_have_one_dominant_coordinate():
    X = make_very_sparse(3000, 200_000, density=5e-5, heavy=10.0, random_state=0)
    assert X.format == "csr" and X.has_canonical_format
    counts = X.getnnz(axis=1)
    assert counts.min() >= 1
    # Binomial(200,000, 5e-5) has mean 10 (a row with none gets one).
    assert counts.mean() == pytest.approx(10, rel=0.05)
    # The heavy entry carries 100 / (100 + 9) of a 10-entry row's squared
    # norm on average: the largest share is over 0.8 in most rows.
    squares = X.multiply(X).tocsr()
    share = squares.max(axis=1).toarray().ravel() / squares.sum(axis=1).A1
    assert np.median(share) > 0.8


@pytest.mark.parametrize(
    "func, kwargs, match",
    [
        (make_race_speeds, {"n_athletes": 0}, "n_athletes"),
        (make_race_speeds, {"missing": 1.0}, "missing"),
        (make_race_speeds, {"missing": -0.1}, "missing"),
        (make_very_sparse, {"density": 0.0}, "density"),
        (make_very_sparse, {"n_features": 1.5}, "n_features"),
    ],
)
def test_bad_parameters_are_named(func, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(**kwargs)


def test_ratings_have_the_shape_and_skew_of_movielens_latest_small():
    ratings, truth = make_ratings(random_state=0)
    assert ratings.shape == (100_836, 3) and truth.shape == (100_836,)
    assert ratings.columns.tolist() == ["user", "item", "rating"]
    # Each pair once, sorted by user then item; every user and item rated.
    pairs = ratings[["user", "item"]].to_numpy()
    assert not ratings.duplicated(["user", "item"]).any()
    np.testing.assert_array_equal(np.lexsort(pairs.T[::-1]), np.arange(len(pairs)))
    assert set(ratings["user"]) == set(range(610))
    assert set(ratings["item"]) == set(range(9724))
    # Heavy tails, as in latest-small's published statistics: the 10% most
    # active users hold about half of the ratings, the median user has 70.5
    # ratings, the median movie 3 and at least a quarter of the movies one.
    per_user = np.sort(np.bincount(ratings["user"]))[::-1]
    assert per_user[:61].sum() / len(ratings) >= 0.4
    assert 50 <= np.median(per_user) <= 100
    per_item = np.bincount(ratings["item"])
    assert np.median(per_item) == 3 and per_item.max() >= 100
    assert np.mean(per_item == 1) >= 0.25
    # Half-star ratings from 0.5 to 5, spread like latest-small's (sd 1.04).
    steps = ratings["rating"].to_numpy() * 2
    np.testing.assert_array_equal(steps, np.round(steps))
    assert ratings["rating"].between(0.5, 5.0).all()
    assert ratings["rating"].std() == pytest.approx(1.04, abs=0.1)


def test_ratings_truth_is_effects_plus_low_rank():
    # Every pair rated, no noise, no rounding: the ratings are the truth,
    # and the full matrix has rank `rank` + 2 (mean + a_i + b_j adds 2).
    ratings, truth = make_ratings(
        30, 20, 600, rank=3, noise=0.0, rating_scale=None, random_state=0
    )
    np.testing.assert_array_equal(ratings["rating"], truth)
    matrix = ratings.pivot(index="user", columns="item", values="rating").to_numpy()
    assert np.linalg.matrix_rank(matrix, tol=1e-8) == 5
    centred = matrix - matrix.mean(axis=1, keepdims=True)
    centred -= centred.mean(axis=0)
    assert np.linalg.matrix_rank(centred, tol=1e-8) == 3
    # The noise and its rounding: the rating is the nearest half star.
    noisy, truth = make_ratings(200, 100, 5000, noise=0.5, random_state=0)
    error = noisy["rating"] - truth
    inside = noisy["rating"].between(1.0, 4.5)
    assert error[inside].std() == pytest.approx(np.sqrt(0.5**2 + 0.5**2 / 12), rel=0.1)


def test_ratings_without_skew_are_spread_evenly():
    ratings, _ = make_ratings(
        200, 100, 4000, user_skew=0.0, item_skew=0.0, random_state=0
    )
    per_user = np.bincount(ratings["user"])
    # Binomial-like counts around 20: no heavy tail.
    assert (
        per_user.max() < 45 and per_user[np.argsort(per_user)[-20:]].sum() < 0.15 * 4000
    )


def test_ratings_are_reproducible():
    first = make_ratings(300, 200, 5000, random_state=3)
    second = make_ratings(300, 200, 5000, random_state=3)
    pd.testing.assert_frame_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    other = make_ratings(300, 200, 5000, random_state=4)
    assert not first[0].equals(other[0])


def test_ratings_can_fill_the_whole_matrix():
    ratings, _ = make_ratings(10, 8, 80, random_state=0)
    assert len(ratings) == 80 and not ratings.duplicated(["user", "item"]).any()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_users": 10, "n_items": 5, "n_ratings": 9}, "n_ratings=9 must be between"),
        ({"n_users": 10, "n_items": 5, "n_ratings": 51}, "n_users \\* n_items = 50"),
        ({"rating_scale": (5, 1, 1)}, "low < high"),
        ({"rating_scale": (1, 5)}, "tuple \\(low, high, step\\)"),
        ({"noise": -1.0}, "'noise' parameter"),
        ({"rank": -1}, "'rank' parameter"),
    ],
)
def test_make_ratings_bad_parameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_ratings(**kwargs)


_ROWS = [(1, 31, 2.5, 1260759144), (1, 1029, 3.0, 1260759179), (7, 31, 4.0, 9)]


def _expected():
    return pd.DataFrame(
        {
            "userId": np.array([1, 1, 7], dtype=np.int32),
            "movieId": np.array([31, 1029, 31], dtype=np.int32),
            "rating": [2.5, 3.0, 4.0],
            "timestamp": [1260759144, 1260759179, 9],
        }
    )


def _csv(rows):
    lines = ["userId,movieId,rating,timestamp"]
    return "\n".join(lines + [",".join(map(str, row)) for row in rows]) + "\n"


def test_load_movielens_reads_ratings_csv_and_its_directory(tmp_path):
    (tmp_path / "ratings.csv").write_text(_csv(_ROWS))
    (tmp_path / "movies.csv").write_text("movieId,title,genres\n31,A,Drama\n")
    pd.testing.assert_frame_equal(load_movielens(tmp_path / "ratings.csv"), _expected())
    pd.testing.assert_frame_equal(load_movielens(str(tmp_path)), _expected())


def test_load_movielens_reads_the_dat_and_u_data_layouts(tmp_path):
    dat = "\n".join(
        "::".join(map(str, (u, m, int(r) if r == int(r) else r, t)))
        for u, m, r, t in _ROWS
    )
    (tmp_path / "ml-1m").mkdir()
    (tmp_path / "ml-1m" / "ratings.dat").write_text(dat + "\n")
    pd.testing.assert_frame_equal(load_movielens(tmp_path / "ml-1m"), _expected())
    tab = "\n".join("\t".join(map(str, row)) for row in _ROWS)
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "u.data").write_text(tab + "\n")
    pd.testing.assert_frame_equal(load_movielens(tmp_path / "ml-100k"), _expected())


def test_load_movielens_reads_the_release_zip(tmp_path):
    archive = tmp_path / "ml-latest-small.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("ml-latest-small/movies.csv", "movieId,title\n")
        handle.writestr("ml-latest-small/ratings.csv", _csv(_ROWS))
    pd.testing.assert_frame_equal(load_movielens(archive), _expected())


def test_load_movielens_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_movielens(tmp_path / "nowhere.csv")
    with pytest.raises(FileNotFoundError, match="none of the MovieLens ratings"):
        load_movielens(tmp_path)
    (tmp_path / "tags.csv").write_text("userId,movieId,tag\n1,2,funny\n")
    with pytest.raises(ValueError, match="no column \\['rating'\\]"):
        load_movielens(tmp_path / "tags.csv")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="not a MovieLens ratings file"):
        load_movielens(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="'path' parameter"):
        load_movielens(3)


def test_ratings_memory_grows_with_the_ratings_not_the_matrix():
    # 100,000 x 50,000 pairs (40 GB as a dense float64 matrix), 10^6 ratings.
    tracemalloc.start()
    ratings, truth = make_ratings(100_000, 50_000, 1_000_000, random_state=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(ratings) == 1_000_000 and truth.shape == (1_000_000,)
    assert peak < 400 * 1_000_000  # bytes: a few arrays of n_ratings values
