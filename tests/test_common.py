"""The scikit-learn contract, checked for every public mathlearn estimator.

Estimators are found by :func:`mathlearn.utils.all_estimators`, so a new one is
tested here without editing this file. Each is built as
``Estimator(**Estimator._test_params)`` (see :func:`_instance`); that private
class attribute is the one hook an estimator has to make these tests fast, and
no check is skipped unless ``_xfails`` gives a written reason.
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_regressor
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    check_set_output_transform_pandas,
    check_transformer_get_feature_names_out_pandas,
    parametrize_with_checks,
)
from test_discovery import EXPECTED_ESTIMATORS

from mathlearn.utils import all_estimators

ESTIMATOR_CLASSES = [cls for _, cls in all_estimators()]


def _instance(cls):
    """Build ``cls`` with the fast arguments it asks for in ``_test_params``."""
    return cls(**getattr(cls, "_test_params", {}))


def _xfails(estimator):
    """Checks an estimator is known to fail, with the reason."""
    if type(estimator).__name__ == "SVDImputer":
        return {
            "check_transformer_n_iter": (
                "the check's nearly equal columns are the row effects "
                "alone: alpha='auto' rightly chooses alpha_=inf, which fits "
                "no factors, so no L-BFGS iteration runs (n_iter_=0)"
            )
        }
    return {}


def _ids(cls):
    return cls.__name__


def _allows_nan(estimator):
    return estimator.__sklearn_tags__().input_tags.allow_nan


def _data(estimator, *, n_samples=60, n_features=5, seed=0):
    """Small, well-conditioned data; with 10% NaN for estimators that allow it."""
    rng = np.random.RandomState(seed)
    latent = rng.normal(size=(n_samples, 2))
    X = latent @ rng.normal(size=(2, n_features)) + 0.1 * rng.normal(
        size=(n_samples, n_features)
    )
    y = X[:, 0] - 2.0 * X[:, 1] + 0.1 * rng.normal(size=n_samples)
    if _allows_nan(estimator):
        X[rng.rand(*X.shape) < 0.1] = np.nan
    return X, y


def _fit(estimator, X, y):
    return estimator.fit(X, y) if is_regressor(estimator) else estimator.fit(X)


def _output(estimator, X):
    """What the fitted estimator gives for ``X``: transform, else predict."""
    if hasattr(estimator, "transform"):
        return estimator.transform(X)
    return estimator.predict(X)


def _with_seed(estimator, seed):
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=seed)
    return estimator


# The checks' data hide whole rows (one feature with NaN): the imputers say so
# with an EmptyRowWarning, which tests/test_impute.py asserts where it counts.
@pytest.mark.filterwarnings("ignore::mathlearn.exceptions.EmptyRowWarning")
@parametrize_with_checks(
    [_instance(cls) for cls in ESTIMATOR_CLASSES], expected_failed_checks=_xfails
)
def test_sklearn_contract(estimator, check):
    check(estimator)


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=_ids)
def test_param_validation(cls):
    check_param_validation(cls.__name__, _instance(cls))


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=_ids)
def test_dataframe_column_names(cls):
    check_dataframe_column_names_consistency(cls.__name__, _instance(cls))


# scikit-learn's pandas-output checks fit on a DataFrame and transform an
# array (and the reverse) on purpose, so the feature-name mismatch warning is
# what they provoke, not something the estimator does wrong.
@pytest.mark.filterwarnings("ignore:X (does not have valid|has) feature names")
@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=_ids)
def test_pandas_output(cls):
    estimator = _instance(cls)
    if not hasattr(estimator, "transform"):
        pytest.skip(f"{cls.__name__} is not a transformer")
    check_set_output_transform_pandas(cls.__name__, estimator)
    check_transformer_get_feature_names_out_pandas(cls.__name__, _instance(cls))


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=_ids)
def test_dataframe_round_trip(cls):
    """DataFrame in: names kept; set_output("pandas") out: named columns."""
    estimator = _with_seed(_instance(cls), 0)
    X, y = _data(estimator)
    columns = [f"col_{j}" for j in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=columns)
    _fit(estimator, frame, y)
    np.testing.assert_array_equal(estimator.feature_names_in_, columns)
    if hasattr(estimator, "transform"):
        estimator.set_output(transform="pandas")
        out = estimator.transform(frame)
        assert isinstance(out, pd.DataFrame)
        np.testing.assert_array_equal(out.columns, estimator.get_feature_names_out())
        np.testing.assert_array_equal(out.index, frame.index)


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=_ids)
def test_in_pipeline_with_scaler(cls):
    """A Pipeline gives exactly what the two steps give by hand."""
    estimator = _with_seed(_instance(cls), 0)
    X, y = _data(estimator)
    pipe = make_pipeline(StandardScaler(), clone(estimator))
    _fit(pipe, X, y)
    X_scaled = StandardScaler().fit_transform(X)
    by_hand = _output(_fit(clone(estimator), X_scaled, y), X_scaled)
    np.testing.assert_allclose(_output(pipe, X), by_hand)


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=_ids)
def test_grid_search(cls):
    """GridSearchCV clones, sets parameters and refits; the best one is kept."""
    estimator = _instance(cls)
    grid = getattr(cls, "_test_grid", None)
    if grid is None:
        assert "random_state" in estimator.get_params(), (
            f"{cls.__name__} has no random_state: give it a _test_grid"
        )
        grid = {"random_state": [0, 1]}
    X, y = _data(estimator, n_samples=90)
    if is_regressor(estimator):
        search = GridSearchCV(estimator, grid, cv=3)
    else:
        # An unsupervised step is scored by the regression that follows it.
        from sklearn.linear_model import Ridge

        pipe = make_pipeline(estimator, Ridge())
        grid = {f"{pipe.steps[0][0]}__{key}": value for key, value in grid.items()}
        search = GridSearchCV(pipe, grid, cv=3)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == np.prod([len(v) for v in grid.values()])
    assert np.isfinite(search.best_score_)


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=_ids)
def test_clone_and_pickle_reproduce_output(cls):
    """Same seed, same output: for a clone refitted and for a pickled copy."""
    estimator = _with_seed(_instance(cls), 0)
    X, y = _data(estimator)
    expected = _output(_fit(estimator, X, y), X)
    refitted = _output(_fit(clone(estimator), X, y), X)
    np.testing.assert_array_equal(refitted, expected)
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(_output(restored, X), expected)


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=_ids)
def test_input_not_modified(cls):
    estimator = _with_seed(_instance(cls), 0)
    X, y = _data(estimator)
    X_before, y_before = X.copy(), y.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _output(_fit(estimator, X, y), X)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


def test_every_estimator_is_found():
    """Discovery sees the estimators of every module (guards against a typo).

    The parametrised checks below run over ``ESTIMATOR_CLASSES``: if discovery
    returned nothing they would silently vanish, so the set is pinned.
    """
    names = [cls.__name__ for cls in ESTIMATOR_CLASSES]
    assert len(names) == len(set(names))
    assert set(names) == EXPECTED_ESTIMATORS
    for cls in ESTIMATOR_CLASSES:
        module = cls.__module__.split(".")
        assert module[0] == "mathlearn" and module[-1].startswith("_"), (
            f"{cls.__name__} must live in a private file and be re-exported"
        )


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=_ids)
def test_html_repr_links_to_the_api_page(cls):
    """The "?" of the HTML repr opens the estimator's page of mathlearn's docs."""
    estimator = _instance(cls)
    module = cls.__module__.split("._")[0]
    url = (
        "https://mathlearn.readthedocs.io/en/latest/api/generated/"
        f"{module}.{cls.__name__}.html"
    )
    assert estimator._get_doc_link() == url
    assert url in estimator._repr_html_()
