"""Warnings and errors raised by mathlearn.

Every warning mathlearn issues is either one of scikit-learn's
(:class:`~sklearn.exceptions.ConvergenceWarning`,
:class:`~sklearn.exceptions.DataDimensionalityWarning`) or a subclass of
:class:`MathlearnWarning` defined here, so that it can be filtered precisely.
"""

__all__ = ["MathlearnWarning"]


class MathlearnWarning(UserWarning):
    """Base class of the warnings that mathlearn defines itself.

    Filter every mathlearn-specific warning at once with
    ``warnings.simplefilter("ignore", MathlearnWarning)``.

    Examples
    --------
    >>> import warnings
    >>> from mathlearn.exceptions import MathlearnWarning
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("plots skipped", MathlearnWarning)
    >>> caught[0].category.__name__
    'MathlearnWarning'
    """
