"""The ids of users and items that a ratings table may hold."""

import pandas as pd

# pandas' inferred types of an id column that are accepted: all numbers, or
# all strings (a mix of ints and strings is almost always a parsing mistake,
# and cannot be sorted).
_ID_TYPES = {"integer", "floating", "mixed-integer-float", "string", "boolean"}


def check_id_kind(values, column):
    """Refuse an object column of ids that are neither all numbers nor all strings."""
    if values.dtype == object:
        kind = pd.api.types.infer_dtype(values, skipna=False)
        if kind not in _ID_TYPES:
            raise TypeError(
                f"the ids in column {column} of X must be all numbers or all "
                f"strings, got values pandas infers as {kind!r}; every id "
                "argument must be a string or a number"
            )
