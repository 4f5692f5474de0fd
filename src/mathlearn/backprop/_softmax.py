"""Softmax, its Jacobian and the softmax cross-entropy, with their gradients."""

import numpy as np

from mathlearn.backprop._checks import as_float, as_targets
from mathlearn.utils._sklearn_compat import StrOptions
from mathlearn.utils._validation import check_scalar

_REDUCTIONS = StrOptions({"sum", "mean"})


def _check_axis(x, axis):
    if not isinstance(axis, int | np.integer) or not -x.ndim <= axis < max(x.ndim, 1):
        raise ValueError(
            f"axis={axis!r} is out of range for an array of shape {x.shape}"
        )


def softmax(x, axis=-1):
    """Softmax along an axis, computed stably.

    ``softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m)`` with ``m = max_j x_j``:
    subtracting the maximum changes nothing mathematically and keeps ``exp``
    from overflowing.

    Parameters
    ----------
    x : array-like of shape (..., n)
        Scores (logits). float32 stays float32; integers become float64.
    axis : int, default=-1
        The axis the probabilities sum over.

    Returns
    -------
    s : ndarray of the shape and dtype of ``x``
        Non-negative, summing to one along ``axis``.

    See Also
    --------
    log_softmax : Its logarithm, without computing ``log(softmax)``.
    softmax_backward : The gradient through the softmax.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import softmax
    >>> softmax(np.array([1.0, 2.0, 3.0])).round(4)
    array([0.09  , 0.2447, 0.6652])
    >>> softmax(np.array([1000.0, 1000.0]))
    array([0.5, 0.5])
    """
    x = as_float("x", x)
    _check_axis(x, axis)
    e = x - x.max(axis=axis, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=axis, keepdims=True)
    return e


def log_softmax(x, axis=-1):
    """Logarithm of the softmax, by log-sum-exp.

    ``log_softmax(x)_i = x_i - m - log sum_j exp(x_j - m)``, exact even where
    ``softmax`` underflows to zero.

    Parameters
    ----------
    x : array-like of shape (..., n)
        Scores (logits). float32 stays float32; integers become float64.
    axis : int, default=-1
        The axis the probabilities sum over.

    Returns
    -------
    log_s : ndarray of the shape and dtype of ``x``

    See Also
    --------
    softmax : Its exponential.
    cross_entropy : The negative log-likelihood built on it.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import log_softmax
    >>> log_softmax(np.array([0.0, 1000.0]))
    array([-1000.,     0.])
    """
    x = as_float("x", x)
    _check_axis(x, axis)
    z = x - x.max(axis=axis, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=axis, keepdims=True))
    return z


def softmax_jacobian(s):
    """The Jacobian of the softmax, from its output.

    With ``s = softmax(x)`` along the last axis,
    ``ds_i / dx_j = s_i (delta_ij - s_j)``, i.e. ``J = diag(s) - s s^T``. It is
    symmetric, and singular: each row sums to zero because shifting every score
    by the same amount leaves the softmax unchanged.

    Parameters
    ----------
    s : array-like of shape (..., n)
        Softmax probabilities along the last axis (the output of
        :func:`softmax`), with any leading batch axes.

    Returns
    -------
    J : ndarray of shape (..., n, n)
        ``J[..., i, j] = ds_i / dx_j``, one matrix per batch entry.

    See Also
    --------
    softmax_backward : The product ``J^T dout`` without forming ``J``.

    Notes
    -----
    Forming ``J`` costs O(n^2) memory per row; backpropagation never needs it,
    see :func:`softmax_backward`.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import softmax, softmax_jacobian
    >>> J = softmax_jacobian(softmax(np.array([0.0, np.log(3.0)])))
    >>> J
    array([[ 0.1875, -0.1875],
           [-0.1875,  0.1875]])
    """
    s = as_float("s", s)
    if s.ndim == 0:
        raise ValueError("s must have at least 1 dimension, got a scalar")
    J = -s[..., :, None] * s[..., None, :]
    diagonal = np.einsum("...ii->...i", J)
    diagonal += s
    return J


def softmax_backward(dout, s, axis=-1):
    """Backpropagate through a softmax without forming its Jacobian.

    ``dx = J^T dout = s * (dout - sum(dout * s))``, where the sum runs over
    ``axis``: O(n) per row instead of the O(n^2) product with
    :func:`softmax_jacobian`.

    Parameters
    ----------
    dout : array-like of the shape of ``s``
        Gradient of the loss with respect to the softmax output.
    s : array-like of shape (..., n)
        The softmax output.
    axis : int, default=-1
        The axis the softmax was taken over.

    Returns
    -------
    dx : ndarray of the shape and dtype of ``s``
        Gradient of the loss with respect to the softmax input.

    See Also
    --------
    softmax_jacobian : The full Jacobian.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import softmax, softmax_backward
    >>> s = softmax(np.array([0.0, np.log(3.0)]))
    >>> softmax_backward(np.array([1.0, 0.0]), s)
    array([ 0.1875, -0.1875])
    """
    s = as_float("s", s)
    dout = as_float("dout", dout, s.dtype, like="s")
    if dout.shape != s.shape:
        raise ValueError(
            f"dout must have the shape of s {s.shape}, got shape {dout.shape}"
        )
    _check_axis(s, axis)
    dx = dout - (dout * s).sum(axis=axis, keepdims=True)
    dx *= s
    return dx


def _negative_log_likelihood(log_p, targets):
    """``-sum log_p[..., target]``: the summed loss of rows of log-probabilities."""
    return -np.take_along_axis(log_p, targets[..., None], axis=-1).sum()


def _subtract_onehot(p, targets):
    """``p - onehot(targets)`` in place: with ``p`` the softmax of the logits,
    the gradient of the summed negative log-likelihood with respect to them."""
    index = targets[..., None]
    np.put_along_axis(p, index, np.take_along_axis(p, index, axis=-1) - 1, axis=-1)
    return p


def cross_entropy(logits, targets, *, reduction="sum"):
    """Softmax cross-entropy of integer targets, and its gradient.

    The negative log-likelihood ``-log softmax(logits)[target]`` of each row
    of scores, summed (or averaged) over every leading position. Its gradient
    with respect to the logits is the famous ``softmax(logits) - onehot``.

    Parameters
    ----------
    logits : array-like of shape (..., n_classes)
        Unnormalised scores; the softmax runs over the last axis.
    targets : array-like of int of shape (...)
        Class index of each row, in ``[0, n_classes)``.
    reduction : {"sum", "mean"}, default="sum"
        Sum the losses of all rows, or average them.

    Returns
    -------
    loss : float32 or float64 scalar
        The summed (or mean) negative log-likelihood, in the logits' dtype.
    dlogits : ndarray of the shape and dtype of ``logits``
        ``d loss / d logits``.

    See Also
    --------
    log_softmax : Used to compute the loss stably.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import cross_entropy
    >>> logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> loss, dlogits = cross_entropy(logits, np.array([0, 2]))
    >>> round(float(loss), 4)  # log(1 + 2 exp(-2)) + log(3)
    1.3382
    >>> dlogits.round(3)
    array([[-0.213,  0.107,  0.107],
           [ 0.333,  0.333, -0.667]])
    """
    logits = as_float("logits", logits)
    if logits.ndim == 0:
        raise ValueError("logits must have at least 1 dimension, got a scalar")
    check_scalar("reduction", reduction, _REDUCTIONS)
    targets = as_targets("targets", targets, logits.shape[:-1], logits.shape[-1])
    log_p = log_softmax(logits)
    n_rows = max(targets.size, 1)
    factor = 1.0 if reduction == "sum" else 1.0 / n_rows
    loss = logits.dtype.type(_negative_log_likelihood(log_p, targets) * factor)
    dlogits = _subtract_onehot(np.exp(log_p, out=log_p), targets)
    if reduction == "mean":
        dlogits *= factor
    return loss, dlogits
