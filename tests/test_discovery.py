"""Discovery of estimators, functions and tour sections."""

import inspect

import pytest
from sklearn.base import BaseEstimator

from mathlearn.utils import all_estimators, all_functions, all_tour_sections


def test_estimators_are_public_classes():
    for name, cls in all_estimators():
        assert inspect.isclass(cls) and issubclass(cls, BaseEstimator)
        assert name == cls.__name__


def test_type_filter_keeps_only_that_kind():
    from sklearn.base import is_regressor

    regressors = all_estimators(type_filter="regressor")
    assert all(is_regressor(cls()) for _, cls in regressors)
    assert set(regressors) <= set(all_estimators())


def test_unknown_type_filter_is_named():
    with pytest.raises(ValueError, match="type_filter=.*'forest'"):
        all_estimators(type_filter="forest")


def test_functions_are_documented():
    for name, func in all_functions():
        assert func.__doc__, f"{name} has no docstring"
        assert "Examples" in func.__doc__, f"{name} has no Examples section"


def test_sections_have_unique_names():
    names = [section.name for section in all_tour_sections()]
    assert len(names) == len(set(names))
