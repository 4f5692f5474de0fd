"""The vanilla (Elman) RNN with a softmax output, forward and backward.

Goodfellow, Bengio & Courville, *Deep Learning*, §10.2, equations 10.8-10.11
and the gradients 10.17-10.28, in batch-first row-vector form::

    a_t = b + h_{t-1} W^T + x_t U^T
    h_t = tanh(a_t)
    o_t = c + h_t V^T
    loss = sum_t -log softmax(o_t)[y_t]

Backpropagation through time, from t = T down to 1::

    do_t = softmax(o_t) - onehot(y_t)
    dh_t = do_t V + da_{t+1} W
    da_t = dh_t * (1 - h_t^2)
    dW = sum_t da_t^T h_{t-1},  dU = sum_t da_t^T x_t,  db = sum_t da_t
    dV = sum_t do_t^T h_t,      dc = sum_t do_t,        dh_0 = da_1 W
"""

from typing import NamedTuple

import numpy as np

from mathlearn.backprop._checks import as_float, check_shape
from mathlearn.backprop._sequence import (
    check_dloss,
    check_keys,
    check_params,
    check_sequence,
    check_step,
    input_gradients,
    output_backward,
    output_forward,
    project_inputs,
)


class RNNStepCache(NamedTuple):
    """What :func:`rnn_step_backward` needs from :func:`rnn_step_forward`."""

    x: np.ndarray
    """Input at this step, ``(batch, n_inputs)``."""
    h_prev: np.ndarray
    """Previous hidden state, ``(batch, n_hidden)``."""
    h: np.ndarray
    """New hidden state ``tanh(a)``, ``(batch, n_hidden)``."""
    U: np.ndarray
    """Input-to-hidden weights, ``(n_hidden, n_inputs)``."""
    W: np.ndarray
    """Hidden-to-hidden weights, ``(n_hidden, n_hidden)``."""


class RNNCache(NamedTuple):
    """What :func:`rnn_backward` needs from :func:`rnn_forward`."""

    x: np.ndarray
    """Inputs: tokens ``(batch, T)`` or vectors ``(batch, T, n_inputs)``."""
    y: np.ndarray
    """Targets ``(batch, T)``."""
    h0: np.ndarray
    """Initial hidden state ``(batch, n_hidden)``."""
    h: np.ndarray
    """Hidden states ``(batch, T, n_hidden)``; ``h[:, -1]`` carries over to the
    next chunk of a long sequence."""
    probs: np.ndarray
    """Output probabilities ``softmax(o)``, ``(batch, T, n_outputs)``."""
    params: dict
    """The parameters ``U, W, V, b, c``."""


def _rnn_shapes(params):
    check_keys(params, ("U", "W", "V", "b", "c"))
    U, V = np.asarray(params["U"]), np.asarray(params["V"])
    if U.ndim != 2 or V.ndim != 2:
        raise ValueError(
            f"params['U'] (n_hidden, n_inputs) and params['V'] (n_outputs, n_hidden) "
            f"must be matrices, got shapes {U.shape} and {V.shape}"
        )
    n_hidden, n_inputs = U.shape
    n_outputs = V.shape[0]
    shapes = {
        "U": (n_hidden, n_inputs),
        "W": (n_hidden, n_hidden),
        "V": (n_outputs, n_hidden),
        "b": (n_hidden,),
        "c": (n_outputs,),
    }
    return shapes, n_inputs, n_hidden, n_outputs


# The cell, written once. The step functions validate and call it on one step;
# the sequence functions call it in their loop over time, with the input
# projection x U^T + b and the output layer computed for all steps at once.


def _cell_forward(a_in, h_prev, WT, h):
    """``h = tanh(h_prev W^T + a_in)`` written into ``h``; ``a_in = x U^T + b``."""
    np.matmul(h_prev, WT, out=h)
    h += a_in
    np.tanh(h, out=h)


def _dtanh(h):
    """``1 - h^2``, the derivative of ``tanh`` at the ``a`` with ``h = tanh(a)``."""
    d = np.square(h)
    np.subtract(1, d, out=d)
    return d


def _cell_backward(da, dtanh, W):
    """From ``dh`` (held in ``da``, turned into ``d loss / da`` in place), return
    ``dh_prev = da W``."""
    da *= dtanh
    return da @ W


def rnn_step_forward(x, h_prev, U, W, b):
    """One step of a tanh RNN: ``h = tanh(b + h_prev W^T + x U^T)``.

    Parameters
    ----------
    x : array-like of shape (batch, n_inputs)
        Input at this step.
    h_prev : array-like of shape (batch, n_hidden)
        Previous hidden state.
    U : array-like of shape (n_hidden, n_inputs)
        Input-to-hidden weights.
    W : array-like of shape (n_hidden, n_hidden)
        Hidden-to-hidden weights.
    b : array-like of shape (n_hidden,)
        Hidden bias.

    Returns
    -------
    h : ndarray of shape (batch, n_hidden)
        New hidden state.
    cache : RNNStepCache
        For :func:`rnn_step_backward`.

    See Also
    --------
    rnn_forward : A whole sequence with the output layer and loss.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import rnn_step_forward
    >>> h, cache = rnn_step_forward(np.ones((1, 2)), np.zeros((1, 3)),
    ...                             np.full((3, 2), 0.5), np.eye(3), np.zeros(3))
    >>> h.round(4)
    array([[0.7616, 0.7616, 0.7616]])
    """
    x, h_prev, U, W, b = check_step(x, h_prev, U, W, b, n_gates=1)
    h = np.empty_like(h_prev)
    _cell_forward(x @ U.T + b, h_prev, W.T, h)
    return h, RNNStepCache(x, h_prev, h, U, W)


def rnn_step_backward(dh, cache):
    """Backward of :func:`rnn_step_forward`.

    Parameters
    ----------
    dh : array-like of shape (batch, n_hidden)
        Gradient of the loss with respect to the new hidden state.
    cache : RNNStepCache
        The cache of the forward step.

    Returns
    -------
    dx : ndarray of shape (batch, n_inputs)
    dh_prev : ndarray of shape (batch, n_hidden)
    dU : ndarray of shape (n_hidden, n_inputs)
    dW : ndarray of shape (n_hidden, n_hidden)
    db : ndarray of shape (n_hidden,)

    See Also
    --------
    rnn_backward : Backpropagation through time over a sequence.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import rnn_step_backward, rnn_step_forward
    >>> h, cache = rnn_step_forward(np.ones((1, 2)), np.zeros((1, 3)),
    ...                             np.full((3, 2), 0.5), np.eye(3), np.zeros(3))
    >>> dx, dh_prev, dU, dW, db = rnn_step_backward(np.ones((1, 3)), cache)
    >>> db.round(4)  # 1 - tanh(1)^2
    array([0.42, 0.42, 0.42])
    """
    x, h_prev, h, U, W = cache
    dh = as_float("dh", dh, h.dtype, like="the forward's x")
    check_shape("dh", dh, h.shape)
    da = dh.copy()
    dh_prev = _cell_backward(da, _dtanh(h), W)
    return da @ U, dh_prev, da.T @ x, da.T @ h_prev, da.sum(axis=0)


def rnn_forward(x, h0, params, y):
    """Run a tanh RNN with a softmax output over a sequence; return the loss.

    Parameters
    ----------
    x : array-like of shape (batch, T) of int, or (batch, T, n_inputs) of float
        Input tokens in ``[0, n_inputs)`` (one-hot inputs, read as columns of
        ``U``) or input vectors.
    h0 : array-like of shape (batch, n_hidden) or None
        Initial hidden state; ``None`` means zeros.
    params : dict
        ``U (n_hidden, n_inputs)``, ``W (n_hidden, n_hidden)``,
        ``V (n_outputs, n_hidden)``, ``b (n_hidden,)``, ``c (n_outputs,)``, all
        float32 or all float64 (see :func:`init_rnn_params`).
    y : array-like of int of shape (batch, T)
        Target class of each step, in ``[0, n_outputs)``.

    Returns
    -------
    loss : float32 or float64 scalar
        Negative log-likelihood summed over the batch and the time steps.
    cache : RNNCache
        Hidden states and probabilities, for :func:`rnn_backward`.

    See Also
    --------
    rnn_backward : Backpropagation through time.
    rnn_step_forward : One step, for sampling.
    lstm_forward : The gated alternative.

    Notes
    -----
    The input projection and the output layer are computed for all steps at
    once; only ``h_{t-1} W^T`` and ``tanh`` run in the loop over time.
    O(batch T (n_hidden^2 + n_hidden (n_inputs + n_outputs))) time.

    References
    ----------
    Goodfellow, I., Bengio, Y. & Courville, A. (2016). Deep Learning, §10.2.
    MIT Press.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import init_rnn_params, rnn_forward
    >>> params = init_rnn_params(5, 8, 5, random_state=0)
    >>> x = np.array([[0, 1, 2, 3]])
    >>> loss, cache = rnn_forward(x, None, params, y=np.array([[1, 2, 3, 4]]))
    >>> cache.h.shape, cache.probs.shape
    ((1, 4, 8), (1, 4, 5))
    >>> round(float(loss) / 4, 2)  # per step, close to log(5) = 1.61 at init
    1.71
    """
    shapes, n_inputs, n_hidden, n_outputs = _rnn_shapes(params)
    p = check_params(params, shapes)
    dtype = p["U"].dtype
    x, is_tokens, y, (h0,) = check_sequence(
        x, y, (h0,), n_inputs, n_hidden, n_outputs, dtype
    )
    a = project_inputs(x, is_tokens, p["U"], p["b"])
    h = np.empty_like(a)
    WT = np.ascontiguousarray(p["W"].T)  # a transposed view is slower in BLAS
    h_prev = h0
    for t in range(a.shape[0]):
        _cell_forward(a[t], h_prev, WT, h[t])
        h_prev = h[t]
    loss, probs = output_forward(h, p["V"], p["c"], y)
    cache = RNNCache(x, y, h0, np.swapaxes(h, 0, 1), np.swapaxes(probs, 0, 1), p)
    return loss, cache


def rnn_backward(dloss, cache):
    """Backpropagation through time for :func:`rnn_forward`.

    Parameters
    ----------
    dloss : float
        Gradient of the final objective with respect to the loss; ``1.0`` to
        get the loss's own gradients.
    cache : RNNCache
        The cache returned by :func:`rnn_forward`.

    Returns
    -------
    dx : ndarray of shape (batch, T, n_inputs), or None
        Gradient with respect to input vectors; ``None`` for token inputs.
    dh0 : ndarray of shape (batch, n_hidden)
        Gradient with respect to the initial hidden state.
    grads : dict
        ``dU, dW, dV, db, dc`` under the parameters' keys ``"U", "W", "V", "b",
        "c"``, so that ``params[k] -= lr * grads[k]`` updates every parameter.

    See Also
    --------
    rnn_forward : The forward pass and the equations.
    clip_gradients : Tame exploding gradients before the update.

    Notes
    -----
    The output-layer gradients and ``dW``, ``dU`` are single matrix products
    over all steps; the loop over time only carries ``da_t W`` backwards.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import init_rnn_params, rnn_backward, rnn_forward
    >>> params = init_rnn_params(5, 8, 5, random_state=0)
    >>> loss, cache = rnn_forward([[0, 1, 2]], None, params, y=[[1, 2, 3]])
    >>> dx, dh0, grads = rnn_backward(1.0, cache)
    >>> dx is None, dh0.shape, grads["W"].shape
    (True, (1, 8), (8, 8))
    """
    x, y, h0, h, probs, p = cache
    dloss = check_dloss(dloss, h.dtype)
    h, probs = np.swapaxes(h, 0, 1), np.swapaxes(probs, 0, 1)
    dV, dc, dh_out = output_backward(dloss, probs, h, p["V"], y)
    da = dh_out
    da_next = np.zeros_like(h0)
    W = p["W"]
    dtanh = _dtanh(h)
    for t in range(h.shape[0] - 1, -1, -1):
        da[t] += da_next
        da_next = _cell_backward(da[t], dtanh[t], W)
    h_prev = np.concatenate([h0[None], h[:-1]])
    flat = da.reshape(-1, da.shape[-1])
    dW = flat.T @ h_prev.reshape(-1, h.shape[-1])
    dU, dx = input_gradients(da, x, is_tokens=x.ndim == 2, U=p["U"])
    grads = {"U": dU, "W": dW, "V": dV, "b": flat.sum(axis=0), "c": dc}
    return dx, da_next, grads
