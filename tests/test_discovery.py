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


# What DESIGN.md's package map promises: discovery must find at least these,
# or every test parametrised over the registry would silently shrink.
EXPECTED_ESTIMATORS = {
    "AchlioptasRandomProjection",
    "FourierFeatures",
    "HadamardRandomProjection",
    "NadarayaWatsonRegressor",
    "RatingsRecommender",
    "SOMImputer",
    "SVDImputer",
    "SampledRandomProjection",
    "SelfOrganizingMap",
    "SymbolicRegressor",
    "TraceNormImputer",
}
EXPECTED_FUNCTIONS = {
    "attention_backward",
    "attention_forward",
    "check_gradient",
    "conditional_entropy",
    "cross_entropy",
    "dct",
    "dft",
    "entropy",
    "fft",
    "fft2",
    "fftfreq",
    "ifft",
    "irfft",
    "joint_entropy",
    "kl_divergence",
    "load_movielens",
    "log_softmax",
    "lstm_backward",
    "lstm_forward",
    "make_race_speeds",
    "make_ratings",
    "make_very_sparse",
    "mutual_information",
    "nadaraya_watson",
    "pairwise_distortion",
    "rfft",
    "rnn_backward",
    "rnn_forward",
    "softmax",
    "softmax_backward",
    "softmax_jacobian",
}
EXPECTED_SECTIONS = {
    "backprop",
    "fourier",
    "impute",
    "information",
    "kernel_regression",
    "random_projection",
    "som",
    "sph",
    "symbolic",
}


@pytest.mark.parametrize(
    "found, expected",
    [
        (lambda: {name for name, _ in all_estimators()}, EXPECTED_ESTIMATORS),
        (lambda: {name for name, _ in all_functions()}, EXPECTED_FUNCTIONS),
        (lambda: {s.name for s in all_tour_sections()}, EXPECTED_SECTIONS),
    ],
    ids=["estimators", "functions", "tour sections"],
)
def test_discovery_finds_the_documented_names(found, expected):
    missing = expected - found()
    assert not missing, f"discovery lost {sorted(missing)}"
