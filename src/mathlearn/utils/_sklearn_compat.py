"""The one place where mathlearn imports scikit-learn's private API.

scikit-learn moves its private helpers between releases; importing them here
alone means a move changes one file. Public scikit-learn API is imported
directly where it is used.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    make_constraint,
    validate_params,
)
from sklearn.utils.validation import (
    _check_sample_weight,
    validate_data,
)

# Not scikit-learn's: its decorator warns with the default stacklevel, which
# points at its own validation.py instead of the caller's line.
from mathlearn.utils._deprecation import _deprecate_positional_args

__all__ = [
    "HasMethods",
    "Hidden",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "_check_sample_weight",
    "_deprecate_positional_args",
    "_fit_context",
    "make_constraint",
    "validate_data",
    "validate_params",
]
