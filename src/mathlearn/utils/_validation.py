"""Validation helpers shared by several estimators."""

from sklearn.utils import check_array


def check_finite_target(y):
    """``y`` from ``validate_data(..., y_numeric=True)``, checked finite.

    ``validate_data`` checks an object ``y`` for NaN before ``y_numeric``
    converts it to float, so a ``None`` in it would become a NaN unseen;
    this second check names it: ``ValueError: Input y contains NaN.``
    """
    return check_array(y, ensure_2d=False, dtype=None, input_name="y")
