"""Input checks shared by the forward functions of :mod:`mathlearn.backprop`.

Each public forward validates once; the backward functions trust their cache.
"""

import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def as_float(name, x, dtype=None, *, like=None):
    """``x`` as a float32/float64 array, checked against ``dtype`` if given.

    Integer and boolean input becomes float64 (or ``dtype``); float arrays keep
    their dtype and must equal ``dtype`` (the dtype of the argument ``like``).
    """
    x = np.asarray(x)
    if x.dtype.kind in "biu":
        return x.astype(np.float64 if dtype is None else dtype)
    if x.dtype not in _FLOATS:
        raise TypeError(
            f"{name} must be a float32 or float64 array, got dtype {x.dtype}"
        )
    if dtype is not None and x.dtype != dtype:
        raise ValueError(
            f"{name} has dtype {x.dtype} but {like} has dtype {np.dtype(dtype)}; "
            "pass every array in one dtype (float32 or float64)"
        )
    return x


def check_shape(name, x, expected):
    if x.shape != tuple(expected):
        raise ValueError(
            f"{name} must have shape {tuple(expected)}, got shape {x.shape}"
        )


def as_targets(name, y, shape, n_classes):
    """Integer class indices of ``shape`` in ``[0, n_classes)``."""
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    if y.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"{name} must lie in [0, {n_classes}) (the number of classes), got "
            f"values in [{y.min()}, {y.max()}]"
        )
    return y.astype(np.intp, copy=False)
