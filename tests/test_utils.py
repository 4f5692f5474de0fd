"""Shared helpers of mathlearn.utils: scalar checks and deprecations."""

import warnings
from numbers import Real

import numpy as np
import pytest

from mathlearn.impute import SOMImputer
from mathlearn.som import SelfOrganizingMap
from mathlearn.utils._sklearn_compat import Interval, StrOptions
from mathlearn.utils._validation import check_scalar


@pytest.mark.parametrize("value", [True, False, np.True_])
def test_check_scalar_accepts_booleans_where_booleans_are_asked_for(value):
    assert check_scalar("copy", value, "boolean") is value


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_check_scalar_refuses_non_booleans(value):
    with pytest.raises(ValueError, match=rf"copy={value!r} must be an instance"):
        check_scalar("copy", value, "boolean")


@pytest.mark.parametrize("value", [True, np.nan, -1.0])
def test_check_scalar_refuses_a_bool_or_a_value_outside_an_interval(value):
    with pytest.raises(TypeError, match=rf"h={value!r} must be a float"):
        check_scalar("h", value, Interval(Real, 0, None, closed="neither"))


def test_check_scalar_options():
    options = StrOptions({"sum", "mean"})
    assert check_scalar("reduction", "mean", options) == "mean"
    with pytest.raises(ValueError, match=r"reduction='max' must be a str among"):
        check_scalar("reduction", "max", options)


@pytest.mark.parametrize("Estimator", [SelfOrganizingMap, SOMImputer])
def test_positional_deprecation_points_at_the_callers_line(Estimator):
    # scikit-learn's decorator warned from its own validation.py, so a user
    # could not find the call to change.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator = Estimator(3, 4)
    (warning,) = [w for w in caught if issubclass(w.category, FutureWarning)]
    assert warning.filename == __file__
    assert "Pass n_rows=3, n_cols=4 as keyword args" in str(warning.message)
    assert (estimator.n_rows, estimator.n_cols) == (3, 4)
