"""Synthetic data generators: shapes, the documented model, bad input."""

import numpy as np
import pytest

from mathlearn.datasets import make_race_speeds, make_very_sparse


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
