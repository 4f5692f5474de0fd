"""Deprecation helpers."""

import functools
import inspect
import warnings


def _deprecate_positional_args(func=None, *, version):
    """Warn when keyword-only arguments of ``func`` are passed by position.

    scikit-learn's decorator of the same name, with the warning pointed at
    the caller's line (``stacklevel=2``) rather than at the decorator's: the
    ``FutureWarning`` says ``Pass n_rows=3, n_cols=4 as keyword args. From
    version 0.2 passing these as positional arguments will result in an
    error``, and the arguments are passed on by name.

    Parameters
    ----------
    func : callable, default=None
        The function or method; ``None`` returns the decorator.
    version : str
        The release from which positional arguments will be an error.

    Examples
    --------
    >>> import warnings
    >>> from mathlearn.utils._deprecation import _deprecate_positional_args
    >>> @_deprecate_positional_args(version="0.2")
    ... def grid(*, n_rows=1, n_cols=1):
    ...     return n_rows, n_cols
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     grid(3, 4)
    (3, 4)
    >>> print(caught[0].message)
    Pass n_rows=3, n_cols=4 as keyword args. From version 0.2 passing these as \
positional arguments will result in an error
    """

    def decorate(f):
        signature = inspect.signature(f)
        positional = [
            name
            for name, parameter in signature.parameters.items()
            if parameter.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD
        ]
        keyword_only = [
            name
            for name, parameter in signature.parameters.items()
            if parameter.kind == inspect.Parameter.KEYWORD_ONLY
        ]

        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            extra = len(args) - len(positional)
            if extra <= 0:
                return f(*args, **kwargs)
            names, values = keyword_only[:extra], args[-extra:]
            passed = ", ".join(
                f"{name}={value}" for name, value in zip(names, values, strict=False)
            )
            warnings.warn(
                f"Pass {passed} as keyword args. From version {version} passing "
                "these as positional arguments will result in an error",
                FutureWarning,
                stacklevel=2,
            )
            kwargs.update(zip(signature.parameters, args, strict=False))
            return f(**kwargs)

        return wrapper

    return decorate if func is None else decorate(func)
