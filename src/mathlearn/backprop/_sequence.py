"""Pieces shared by the RNN and the LSTM: checks, input projection, output layer.

Sequences are batch first ``(batch, T, ...)`` in the API; internally the
recurrences run on time-major copies ``(T, batch, ...)`` so that each time
step is one contiguous block.
"""

import numpy as np
from scipy import sparse

from mathlearn.backprop._checks import as_float, as_targets, check_shape
from mathlearn.backprop._softmax import (
    _negative_log_likelihood,
    _subtract_onehot,
    log_softmax,
)


def check_keys(params, names):
    """Check that ``params`` is a mapping holding every key in ``names``."""
    if not hasattr(params, "keys"):
        raise TypeError(
            f"params must be a mapping with keys {sorted(names)}, got "
            f"{type(params).__name__}"
        )
    missing = sorted(set(names) - set(params.keys()))
    if missing:
        raise ValueError(f"params is missing {missing}; expected keys {sorted(names)}")


def check_params(params, shapes):
    """Validate a parameter mapping against ``{name: expected shape}``.

    Returns the arrays as a new dict, all in the dtype of the first one.
    """
    first = next(iter(shapes))
    dtype = None
    out = {}
    for name, shape in shapes.items():
        arr = as_float(
            f"params[{name!r}]", params[name], dtype, like=f"params[{first!r}]"
        )
        dtype = arr.dtype
        check_shape(f"params[{name!r}]", arr, shape)
        out[name] = arr
    return out


def check_inputs(x, n_inputs, dtype):
    """Validate a sequence of tokens ``(batch, T)`` or vectors ``(batch, T, n)``.

    Returns ``(x, is_tokens)`` with integer tokens as ``intp``.
    """
    x = np.asarray(x)
    if x.dtype.kind in "iu":
        if x.ndim != 2:
            raise ValueError(
                f"x of integer tokens must have shape (batch, T), got shape {x.shape}"
            )
        if x.size and (x.min() < 0 or x.max() >= n_inputs):
            raise ValueError(
                f"tokens in x must lie in [0, {n_inputs}) (the input size of U), "
                f"got values in [{x.min()}, {x.max()}]"
            )
        return x.astype(np.intp, copy=False), True
    x = as_float("x", x, dtype, like="the parameters")
    if x.ndim != 3 or x.shape[2] != n_inputs:
        raise ValueError(
            f"x of vectors must have shape (batch, T, {n_inputs}) (the input size of "
            f"U), got shape {x.shape}"
        )
    return x, False


def check_sequence(x, y, states, n_inputs, n_hidden, n_outputs, dtype, names=("h0",)):
    """Validate inputs, targets and initial states of a sequence model."""
    x, is_tokens = check_inputs(x, n_inputs, dtype)
    batch, T = x.shape[:2]
    if T == 0 or batch == 0:
        raise ValueError(f"x must have batch >= 1 and T >= 1, got shape {x.shape}")
    y = as_targets("y", y, (batch, T), n_outputs)
    initial = []
    for name, state in zip(names, states, strict=True):
        if state is None:
            state = np.zeros((batch, n_hidden), dtype=dtype)
        state = as_float(name, state, dtype, like="the parameters")
        check_shape(name, state, (batch, n_hidden))
        initial.append(state)
    return x, is_tokens, y, initial


def check_step(x, h_prev, U, W, b, n_gates):
    """One step's inputs in ``x``'s float dtype, their shapes checked.

    ``U``, ``W`` and ``b`` stack ``n_gates`` blocks of ``n_hidden`` rows (1
    for the RNN, 4 for the LSTM's g, f, z, q).
    """
    x = as_float("x", x)
    h_prev, U, W, b = (
        as_float(name, value, x.dtype, like="x")
        for name, value in (("h_prev", h_prev), ("U", U), ("W", W), ("b", b))
    )
    if x.ndim != 2 or h_prev.ndim != 2 or x.shape[0] != h_prev.shape[0]:
        raise ValueError(
            f"x (batch, n_inputs) and h_prev (batch, n_hidden) must be matrices with "
            f"the same batch, got shapes {x.shape} and {h_prev.shape}"
        )
    n_hidden = h_prev.shape[1]
    check_shape("U", U, (n_gates * n_hidden, x.shape[1]))
    check_shape("W", W, (n_gates * n_hidden, n_hidden))
    check_shape("b", b, (n_gates * n_hidden,))
    return x, h_prev, U, W, b


def project_inputs(x, is_tokens, U, b):
    """``x U^T + b`` for every time step at once, time major ``(T, batch, m)``."""
    if is_tokens:
        return np.take(U.T + b, x.T, axis=0)
    return np.matmul(np.swapaxes(x, 0, 1), U.T) + b


def input_gradients(da, x, is_tokens, U):
    """``dU`` and ``dx`` from the pre-activation gradients ``da`` (T, batch, m)."""
    flat = da.reshape(-1, da.shape[-1])
    if is_tokens:
        # dU^T = onehot(x)^T da, with the one-hot matrix stored sparse.
        n = x.size
        onehot_T = sparse.csr_array(
            (np.ones(n, dtype=U.dtype), (x.T.ravel(), np.arange(n))),
            shape=(U.shape[1], n),
        )
        return (onehot_T @ flat).T, None
    x_tm = np.swapaxes(x, 0, 1)
    dU = flat.T @ x_tm.reshape(-1, x.shape[-1])
    dx = np.swapaxes(np.matmul(da, U), 0, 1)
    return dU, dx


def output_forward(h, V, c, y):
    """Output layer and loss: ``o = c + V h``, ``sum -log softmax(o)[y]``.

    ``h`` is time major ``(T, batch, n_hidden)``; returns the loss and the
    probabilities, time major ``(T, batch, n_outputs)``. The loss is
    :func:`cross_entropy`'s, from the same :func:`log_softmax`.
    """
    o = np.matmul(h, V.T)
    o += c
    log_p = log_softmax(o)
    loss = o.dtype.type(_negative_log_likelihood(log_p, y.T))
    return loss, np.exp(log_p, out=log_p)


def output_backward(dloss, probs, h, V, y):
    """``dV``, ``dc`` and ``d loss / dh`` of :func:`output_forward`."""
    do = _subtract_onehot(probs.copy(), y.T)
    if dloss != 1:
        do *= dloss
    flat = do.reshape(-1, do.shape[-1])
    dV = flat.T @ h.reshape(-1, h.shape[-1])
    dc = flat.sum(axis=0)
    dh = np.matmul(do, V)
    return dV, dc, dh


def check_dloss(dloss, dtype):
    value = np.asarray(dloss)
    if value.shape != () or value.dtype.kind not in "iuf" or not np.isfinite(value):
        raise ValueError(
            f"dloss must be a finite real scalar (the loss's upstream gradient, "
            f"usually 1.0), got {dloss!r}"
        )
    return dtype.type(value)
