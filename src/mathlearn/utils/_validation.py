"""Validation helpers shared by several modules."""

from sklearn.utils import check_array

from mathlearn.utils._sklearn_compat import (
    Interval,
    InvalidParameterError,
    Options,
    make_constraint,
)


def check_finite_target(y):
    """``y`` from ``validate_data(..., y_numeric=True)``, checked finite.

    ``validate_data`` checks an object ``y`` for NaN before ``y_numeric``
    converts it to float, so a ``None`` in it would become a NaN unseen;
    this second check names it: ``ValueError: Input y contains NaN.``
    """
    return check_array(y, ensure_2d=False, dtype=None, input_name="y")


def check_scalar(name, value, constraint):
    """``value`` if it satisfies ``constraint``, else an error naming both.

    ``constraint`` is one of scikit-learn's parameter constraints (an
    ``Interval``, ``Options``, ``StrOptions``, or a name such as
    ``"boolean"``), the rules ``validate_params`` and the estimators'
    ``_parameter_constraints`` use, checked without the decorator, whose cost
    (about 0.1 ms a call) would dominate the step functions and kernels that
    call this once per time step. Unlike the decorator, a bool is refused
    where a number is expected (an ``Interval`` or ``Options``):
    ``h=True`` is a mistake, not ``h=1``. NaN is refused by every
    ``Interval``, and so is an infinity at an unbounded end.

    Raises
    ------
    InvalidParameterError
        A subclass of both ``ValueError`` and ``TypeError``, with the message
        ``"{name}={value!r} must be {constraint}."``.

    Examples
    --------
    >>> from numbers import Real
    >>> from sklearn.utils._param_validation import Interval
    >>> from mathlearn.utils._validation import check_scalar
    >>> check_scalar("h", 0.5, Interval(Real, 0, None, closed="neither"))
    0.5
    >>> check_scalar("h", True, Interval(Real, 0, None, closed="neither"))
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: h=True must be a float \
in the range (0.0, inf).
    >>> check_scalar("copy", True, "boolean")
    True
    """
    if isinstance(constraint, str):
        constraint = make_constraint(constraint)
    number = isinstance(constraint, (Interval, Options))
    if (number and isinstance(value, bool)) or not constraint.is_satisfied_by(value):
        raise InvalidParameterError(f"{name}={value!r} must be {constraint}.")
    return value
