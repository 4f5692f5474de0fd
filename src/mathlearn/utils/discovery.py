"""Find mathlearn's public estimators, functions and tour sections.

The common tests, the docs and the tour use these functions, so a new
estimator, function or tour section is picked up without editing them: add it
to its module's ``__all__`` (or, for the tour, define ``SECTION`` in the
module's private ``_tour.py``) and it is found.
"""

import importlib
import inspect
import pkgutil

from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClusterMixin,
    RegressorMixin,
    TransformerMixin,
)

__all__ = ["all_estimators", "all_functions", "all_tour_sections"]

_TYPE_MIXINS = {
    "classifier": ClassifierMixin,
    "regressor": RegressorMixin,
    "transformer": TransformerMixin,
    "cluster": ClusterMixin,
}


def _public_modules():
    """Import and yield every public subpackage or module of mathlearn."""
    import mathlearn

    for info in pkgutil.iter_modules(mathlearn.__path__):
        if info.name.startswith("_") or info.name in {"utils", "exceptions"}:
            continue
        yield importlib.import_module(f"mathlearn.{info.name}")


def _public_members(predicate):
    """``(name, object)`` pairs, one per object (names may repeat across modules)."""
    members = {}
    for module in _public_modules():
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if predicate(obj):
                members[id(obj)] = (name, obj)
    return sorted(members.values(), key=lambda pair: (pair[0], pair[1].__module__))


def all_estimators(type_filter=None):
    """List every public estimator of mathlearn.

    An estimator is public when it is a :class:`~sklearn.base.BaseEstimator`
    subclass named in the ``__all__`` of one of mathlearn's public modules.

    Parameters
    ----------
    type_filter : {"classifier", "regressor", "transformer", "cluster"} or \
list of those, default=None
        Keep only the estimators of these kinds; ``None`` keeps all.

    Returns
    -------
    estimators : list of (str, type)
        ``(name, class)`` pairs sorted by name.

    See Also
    --------
    sklearn.utils.discovery.all_estimators : The same for scikit-learn.

    Notes
    -----
    The common tests (``tests/test_common.py``) build each estimator as
    ``Estimator(**Estimator._test_params)``: an estimator whose defaults are
    slow on tiny data may define the private class attribute
    ``_test_params``, a dict of fast constructor arguments. It may also define
    ``_test_grid``, a dict of parameter lists for the ``GridSearchCV`` test;
    without it the grid is ``{"random_state": [0, 1]}``.

    Examples
    --------
    >>> from mathlearn.utils import all_estimators
    >>> estimators = all_estimators()
    >>> all(isinstance(cls, type) for _, cls in estimators)
    True
    """
    if type_filter is None:
        kinds = []
    elif isinstance(type_filter, str):
        kinds = [type_filter]
    else:
        kinds = list(type_filter)
    unknown = sorted(set(kinds) - set(_TYPE_MIXINS))
    if unknown:
        raise ValueError(
            f"type_filter={type_filter!r} has unknown kinds {unknown}; "
            f"expected some of {sorted(_TYPE_MIXINS)}"
        )

    def is_estimator(obj):
        return (
            inspect.isclass(obj)
            and issubclass(obj, BaseEstimator)
            and not inspect.isabstract(obj)
            and all(issubclass(obj, _TYPE_MIXINS[kind]) for kind in kinds)
        )

    return _public_members(is_estimator)


def all_functions():
    """List every public function of mathlearn.

    Returns
    -------
    functions : list of (str, callable)
        ``(name, function)`` pairs sorted by name. Two modules may share a
        name (``mathlearn.backprop.cross_entropy`` and
        ``mathlearn.information.cross_entropy``); both are listed.

    Examples
    --------
    >>> from mathlearn.utils import all_functions
    >>> all(callable(func) for _, func in all_functions())
    True
    """
    return _public_members(inspect.isfunction)


def all_tour_sections():
    """List the sections of ``mathlearn tour``, in the order the tour runs them.

    A module contributes a section by defining ``SECTION``, a
    :class:`mathlearn._tour.TourSection`, in its private ``_tour.py``.

    Returns
    -------
    sections : list of TourSection
        Sorted by their ``order``, then by name.

    Examples
    --------
    >>> from mathlearn.utils import all_tour_sections
    >>> names = [section.name for section in all_tour_sections()]
    >>> len(names) == len(set(names))
    True
    """
    sections = []
    for module in _public_modules():
        try:
            tour = importlib.import_module(f"{module.__name__}._tour")
        except ModuleNotFoundError as exc:
            if exc.name != f"{module.__name__}._tour":
                raise
            continue
        sections.append(tour.SECTION)
    return sorted(sections, key=lambda section: (section.order, section.name))
