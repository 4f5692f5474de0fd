"""The LSTM of Goodfellow, Bengio & Courville, *Deep Learning*, §10.10.1.

Equations 10.40-10.44 in batch-first row-vector form, with the four blocks of
``U``, ``W`` and ``b`` stacked in the order (input gate g, forget gate f, cell
input z, output gate q), the order of ``torch.nn.LSTM``::

    g_t = sigmoid(b^g + x_t U^g^T + h_{t-1} W^g^T)     external input gate
    f_t = sigmoid(b^f + x_t U^f^T + h_{t-1} W^f^T)     forget gate
    z_t = act(b^z + x_t U^z^T + h_{t-1} W^z^T)         cell input (act: sigmoid
                                                        in the book, tanh in
                                                        most libraries)
    q_t = sigmoid(b^q + x_t U^q^T + h_{t-1} W^q^T)     output gate
    s_t = f_t * s_{t-1} + g_t * z_t                    cell state
    h_t = tanh(s_t) * q_t
    o_t = c + h_t V^T,  loss = sum_t -log softmax(o_t)[y_t]

Backward through one step, with ``dh`` and ``ds`` arriving from above and
from step t+1::

    ds_t += dh_t * q_t * (1 - tanh(s_t)^2)
    dq_t = dh_t * tanh(s_t)
    dg_t = ds_t * z_t,  df_t = ds_t * s_{t-1},  dz_t = ds_t * g_t
    ds_{t-1} = ds_t * f_t
    da = (dg, df, dz, dq) * (the activations' derivatives)
    dh_{t-1} = da W,  dW += da^T h_{t-1},  dU += da^T x_t,  db += da
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
from mathlearn.utils._sklearn_compat import StrOptions
from mathlearn.utils._validation import check_scalar

_ACTIVATIONS = StrOptions({"sigmoid", "tanh"})


class LSTMStepCache(NamedTuple):
    """What :func:`lstm_step_backward` needs from :func:`lstm_step_forward`."""

    x: np.ndarray
    """Input at this step, ``(batch, n_inputs)``."""
    h_prev: np.ndarray
    """Previous hidden state, ``(batch, n_hidden)``."""
    s_prev: np.ndarray
    """Previous cell state, ``(batch, n_hidden)``."""
    gates: np.ndarray
    """Activated gates ``[g, f, z, q]`` side by side, ``(batch, 4 n_hidden)``."""
    tanh_s: np.ndarray
    """``tanh`` of the new cell state, ``(batch, n_hidden)``."""
    U: np.ndarray
    """Input weights ``(4 n_hidden, n_inputs)``."""
    W: np.ndarray
    """Recurrent weights ``(4 n_hidden, n_hidden)``."""
    cell_activation: str
    """``"sigmoid"`` or ``"tanh"``."""


class LSTMCache(NamedTuple):
    """What :func:`lstm_backward` needs from :func:`lstm_forward`."""

    x: np.ndarray
    """Inputs: tokens ``(batch, T)`` or vectors ``(batch, T, n_inputs)``."""
    y: np.ndarray
    """Targets ``(batch, T)``."""
    h0: np.ndarray
    """Initial hidden state ``(batch, n_hidden)``."""
    s0: np.ndarray
    """Initial cell state ``(batch, n_hidden)``."""
    gates: np.ndarray
    """Activated gates ``[g, f, z, q]``, ``(batch, T, 4 n_hidden)``."""
    s: np.ndarray
    """Cell states ``(batch, T, n_hidden)``."""
    tanh_s: np.ndarray
    """``tanh`` of the cell states, ``(batch, T, n_hidden)``."""
    h: np.ndarray
    """Hidden states ``(batch, T, n_hidden)``."""
    probs: np.ndarray
    """Output probabilities, ``(batch, T, n_outputs)``."""
    params: dict
    """The parameters ``U, W, b, V, c``."""
    cell_activation: str
    """``"sigmoid"`` or ``"tanh"``."""


def _check_activation(cell_activation):
    check_scalar("cell_activation", cell_activation, _ACTIVATIONS)


def _gate_scales(n_hidden, cell_activation, dtype):
    """Per-column ``(alpha, beta, gamma)`` with ``act(a) = beta tanh(alpha a) + gamma``.

    The sigmoid is ``(1 + tanh(a / 2)) / 2``, exact and stable for any input,
    so all four gates are one ``tanh`` over the whole ``(batch, 4 n_hidden)``
    block (NumPy's ``tanh`` is vectorised, a sigmoid built from ``exp`` is
    several passes).
    """
    alpha = np.full(4 * n_hidden, 0.5, dtype=dtype)
    beta, gamma = alpha.copy(), alpha.copy()
    if cell_activation == "tanh":
        cell = slice(2 * n_hidden, 3 * n_hidden)
        alpha[cell], beta[cell], gamma[cell] = 1, 1, 0
    return alpha, beta, gamma


def _activate(A, beta, gamma):
    """Gates from the pre-activations already scaled by ``alpha``, in place."""
    np.tanh(A, out=A)
    A *= beta
    A += gamma
    return A


def _derivatives(gates, n_hidden, cell_activation):
    """Derivative of each activated gate with respect to its pre-activation."""
    D = gates * (1 - gates)
    if cell_activation == "tanh":
        z = gates[..., 2 * n_hidden : 3 * n_hidden]
        D[..., 2 * n_hidden : 3 * n_hidden] = 1 - z * z
    return D


# The cell, written once. The step functions validate and call it on one step;
# the sequence functions call it in their loop over time, with the parts that
# do not depend on the recurrence (input projection, _backward_factors)
# computed for all steps at once.


def _cell_forward(A, s_prev, beta, gamma, s, tanh_s, h):
    """Gates and states of one step, written into ``A`` (the gates), ``s``,
    ``tanh_s`` and ``h``.

    ``A`` holds the pre-activations scaled by ``alpha`` (see
    :func:`_gate_scales`), ``(batch, 4 n_hidden)``; ``s = f s_prev + g z``,
    ``h = tanh(s) q``.
    """
    H = s.shape[-1]
    _activate(A, beta, gamma)
    np.multiply(A[:, :H], A[:, 2 * H : 3 * H], out=s)
    s += np.multiply(A[:, H : 2 * H], s_prev, out=tanh_s)
    np.tanh(s, out=tanh_s)
    np.multiply(tanh_s, A[:, 3 * H :], out=h)


def _backward_factors(gates, s_prev, tanh_s, cell_activation):
    """The local derivatives of the cell, for any leading axes.

    Returns ``through_s = q (1 - tanh(s)^2)`` (``ds`` from ``dh``) and ``D``,
    the derivative of each pre-activation's gate times what multiplies the
    gate: ``(z, s_prev, g)`` for ``(g, f, z)`` and ``tanh(s)`` for ``q``.
    """
    H = tanh_s.shape[-1]
    D = _derivatives(gates, H, cell_activation)
    g, z, q = (gates[..., k * H : (k + 1) * H] for k in (0, 2, 3))
    through_s = q * (1 - tanh_s * tanh_s)
    D[..., :H] *= z
    D[..., H : 2 * H] *= s_prev
    D[..., 2 * H : 3 * H] *= g
    D[..., 3 * H :] *= tanh_s
    return through_s, D


def _cell_backward(dh, ds, through_s, D, f, W, da, dh_prev, scratch=None):
    """Back through one step: ``da`` and ``dh_prev`` written, ``ds`` updated.

    ``ds`` arrives from step t+1 and leaves, in place, as the gradient with
    respect to ``s_prev``; ``through_s`` and ``D`` are this step's rows of
    :func:`_backward_factors`.
    """
    batch, H = dh.shape
    ds += np.multiply(dh, through_s, out=scratch)
    D4, da4 = D.reshape(batch, 4, H), da.reshape(batch, 4, H)
    np.multiply(ds[:, None, :], D4[:, :3], out=da4[:, :3])
    np.multiply(dh, D4[:, 3], out=da4[:, 3])
    ds *= f
    np.matmul(da, W, out=dh_prev)


def lstm_step_forward(x, h_prev, s_prev, U, W, b, *, cell_activation="tanh"):
    """One LSTM step (Goodfellow et al., *Deep Learning*, eq. 10.40-10.44).

    Parameters
    ----------
    x : array-like of shape (batch, n_inputs)
        Input at this step.
    h_prev : array-like of shape (batch, n_hidden)
        Previous hidden state.
    s_prev : array-like of shape (batch, n_hidden)
        Previous cell state.
    U : array-like of shape (4 * n_hidden, n_inputs)
        Input weights of the gates (g, f, z, q), stacked.
    W : array-like of shape (4 * n_hidden, n_hidden)
        Recurrent weights, stacked the same way.
    b : array-like of shape (4 * n_hidden,)
        Biases, stacked the same way.
    cell_activation : {"tanh", "sigmoid"}, default="tanh"
        Squashing of the cell input: sigmoid as in the book, tanh as in
        ``torch.nn.LSTM`` and most libraries.

    Returns
    -------
    h : ndarray of shape (batch, n_hidden)
        New hidden state ``tanh(s) * q``.
    s : ndarray of shape (batch, n_hidden)
        New cell state ``f * s_prev + g * z``.
    cache : LSTMStepCache
        For :func:`lstm_step_backward`.

    See Also
    --------
    lstm_forward : A whole sequence with the output layer and loss.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import lstm_step_forward
    >>> H = 2
    >>> h, s, cache = lstm_step_forward(np.ones((1, 3)), np.zeros((1, H)),
    ...     np.ones((1, H)), np.zeros((4 * H, 3)), np.zeros((4 * H, H)),
    ...     np.zeros(4 * H))
    >>> s  # f * s_prev + g * z = 0.5 * 1 + 0.5 * tanh(0)
    array([[0.5, 0.5]])
    """
    _check_activation(cell_activation)
    x, h_prev, U, W, b = check_step(x, h_prev, U, W, b, n_gates=4)
    s_prev = as_float("s_prev", s_prev, x.dtype, like="x")
    check_shape("s_prev", s_prev, h_prev.shape)
    H = h_prev.shape[1]
    alpha, beta, gamma = _gate_scales(H, cell_activation, x.dtype)
    gates = (h_prev @ W.T + x @ U.T + b) * alpha
    s, tanh_s, h = (np.empty_like(h_prev) for _ in range(3))
    _cell_forward(gates, s_prev, beta, gamma, s, tanh_s, h)
    cache = LSTMStepCache(x, h_prev, s_prev, gates, tanh_s, U, W, cell_activation)
    return h, s, cache


def lstm_step_backward(dh, ds, cache):
    """Backward of :func:`lstm_step_forward`.

    Parameters
    ----------
    dh : array-like of shape (batch, n_hidden)
        Gradient of the loss with respect to the new hidden state.
    ds : array-like of shape (batch, n_hidden)
        Gradient with respect to the new cell state (from the next step).
    cache : LSTMStepCache
        The cache of the forward step.

    Returns
    -------
    dx : ndarray of shape (batch, n_inputs)
    dh_prev : ndarray of shape (batch, n_hidden)
    ds_prev : ndarray of shape (batch, n_hidden)
    dU : ndarray of shape (4 * n_hidden, n_inputs)
    dW : ndarray of shape (4 * n_hidden, n_hidden)
    db : ndarray of shape (4 * n_hidden,)

    See Also
    --------
    lstm_backward : Backpropagation through time over a sequence.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import lstm_step_backward, lstm_step_forward
    >>> H = 2
    >>> h, s, cache = lstm_step_forward(np.ones((1, 3)), np.zeros((1, H)),
    ...     np.ones((1, H)), np.zeros((4 * H, 3)), np.zeros((4 * H, H)),
    ...     np.zeros(4 * H))
    >>> dx, dh_prev, ds_prev, dU, dW, db = lstm_step_backward(
    ...     np.zeros((1, H)), np.ones((1, H)), cache)
    >>> ds_prev  # the forget gate, 0.5
    array([[0.5, 0.5]])
    """
    x, h_prev, s_prev, gates, tanh_s, U, W, cell_activation = cache
    dtype = gates.dtype
    dh = as_float("dh", dh, dtype, like="the forward's x")
    ds = as_float("ds", ds, dtype, like="the forward's x")
    check_shape("dh", dh, tanh_s.shape)
    check_shape("ds", ds, tanh_s.shape)
    H = tanh_s.shape[1]
    through_s, D = _backward_factors(gates, s_prev, tanh_s, cell_activation)
    ds_prev = ds.copy()
    da, dh_prev = np.empty_like(gates), np.empty_like(dh)
    _cell_backward(dh, ds_prev, through_s, D, gates[:, H : 2 * H], W, da, dh_prev)
    return da @ U, dh_prev, ds_prev, da.T @ x, da.T @ h_prev, da.sum(axis=0)


def _lstm_shapes(params):
    check_keys(params, ("U", "W", "b", "V", "c"))
    U, V = np.asarray(params["U"]), np.asarray(params["V"])
    if U.ndim != 2 or V.ndim != 2 or U.shape[0] % 4:
        raise ValueError(
            "params['U'] (4 n_hidden, n_inputs) and params['V'] (n_outputs, n_hidden)"
            f" must be matrices, got shapes {U.shape} and {V.shape}"
        )
    n_hidden, n_inputs = U.shape[0] // 4, U.shape[1]
    n_outputs = V.shape[0]
    shapes = {
        "U": (4 * n_hidden, n_inputs),
        "W": (4 * n_hidden, n_hidden),
        "b": (4 * n_hidden,),
        "V": (n_outputs, n_hidden),
        "c": (n_outputs,),
    }
    return shapes, n_inputs, n_hidden, n_outputs


def lstm_forward(x, h0, s0, params, y, *, cell_activation="tanh"):
    """Run the LSTM of *Deep Learning* §10.10 with a softmax output; return the loss.

    Parameters
    ----------
    x : array-like of shape (batch, T) of int, or (batch, T, n_inputs) of float
        Input tokens in ``[0, n_inputs)`` (one-hot inputs) or input vectors.
    h0 : array-like of shape (batch, n_hidden) or None
        Initial hidden state; ``None`` means zeros.
    s0 : array-like of shape (batch, n_hidden) or None
        Initial cell state; ``None`` means zeros.
    params : dict
        ``U (4 n_hidden, n_inputs)``, ``W (4 n_hidden, n_hidden)``,
        ``b (4 n_hidden,)`` with the gates stacked in the order (input g,
        forget f, cell input z, output q); ``V (n_outputs, n_hidden)`` and
        ``c (n_outputs,)`` of the output layer (see :func:`init_lstm_params`).
    y : array-like of int of shape (batch, T)
        Target class of each step, in ``[0, n_outputs)``.
    cell_activation : {"tanh", "sigmoid"}, default="tanh"
        Squashing of the cell input: sigmoid as in the book, tanh as in
        ``torch.nn.LSTM``.

    Returns
    -------
    loss : float32 or float64 scalar
        Negative log-likelihood summed over the batch and the time steps.
    cache : LSTMCache
        Gates, states and probabilities, for :func:`lstm_backward`.

    See Also
    --------
    lstm_backward : Backpropagation through time.
    lstm_step_forward : One step, for sampling.
    rnn_forward : The ungated RNN.

    Notes
    -----
    The input projection ``x U^T + b`` and the output layer run for all steps
    at once; the loop over time does one ``(batch, n_hidden) x (n_hidden,
    4 n_hidden)`` product and the gate arithmetic.

    References
    ----------
    Goodfellow, I., Bengio, Y. & Courville, A. (2016). Deep Learning, §10.10.1.
    MIT Press. Hochreiter, S. & Schmidhuber, J. (1997). Long short-term memory.
    Neural Computation 9(8).

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import init_lstm_params, lstm_forward
    >>> params = init_lstm_params(5, 8, 5, random_state=0)
    >>> loss, cache = lstm_forward([[0, 1, 2, 3]], None, None, params,
    ...                            y=[[1, 2, 3, 4]])
    >>> cache.gates.shape, cache.s.shape
    ((1, 4, 32), (1, 4, 8))
    >>> round(float(loss) / 4, 2)  # per step, close to log(5) = 1.61 at init
    1.61
    """
    _check_activation(cell_activation)
    shapes, n_inputs, H, n_outputs = _lstm_shapes(params)
    p = check_params(params, shapes)
    dtype = p["U"].dtype
    x, is_tokens, y, (h0, s0) = check_sequence(
        x, y, (h0, s0), n_inputs, H, n_outputs, dtype, names=("h0", "s0")
    )
    alpha, beta, gamma = _gate_scales(H, cell_activation, dtype)
    # Scaling the weights' rows by alpha scales the pre-activations.
    gates = project_inputs(x, is_tokens, p["U"] * alpha[:, None], p["b"] * alpha)
    WT = (p["W"] * alpha[:, None]).T.copy()  # contiguous: faster in BLAS
    T, batch = gates.shape[:2]
    s = np.empty((T, batch, H), dtype=dtype)
    tanh_s = np.empty_like(s)
    h = np.empty_like(s)
    recurrent = np.empty((batch, 4 * H), dtype=dtype)
    h_prev, s_prev = h0, s0
    for t in range(T):
        gates[t] += np.matmul(h_prev, WT, out=recurrent)
        _cell_forward(gates[t], s_prev, beta, gamma, s[t], tanh_s[t], h[t])
        h_prev, s_prev = h[t], s[t]
    loss, probs = output_forward(h, p["V"], p["c"], y)
    batch_first = (np.swapaxes(a, 0, 1) for a in (gates, s, tanh_s, h, probs))
    return loss, LSTMCache(x, y, h0, s0, *batch_first, p, cell_activation)


def lstm_backward(dloss, cache):
    """Backpropagation through time for :func:`lstm_forward`.

    Parameters
    ----------
    dloss : float
        Gradient of the final objective with respect to the loss; ``1.0`` to
        get the loss's own gradients.
    cache : LSTMCache
        The cache returned by :func:`lstm_forward`.

    Returns
    -------
    dx : ndarray of shape (batch, T, n_inputs), or None
        Gradient with respect to input vectors; ``None`` for token inputs.
    dh0 : ndarray of shape (batch, n_hidden)
        Gradient with respect to the initial hidden state.
    ds0 : ndarray of shape (batch, n_hidden)
        Gradient with respect to the initial cell state.
    grads : dict
        ``dU, dW, db, dV, dc`` under the parameters' keys.

    See Also
    --------
    lstm_forward : The forward pass and the equations.
    clip_gradients : Tame exploding gradients before the update.

    Notes
    -----
    Everything that does not depend on the recurrence (the activations'
    derivatives, ``q (1 - tanh(s)^2)``, the output layer, ``dU``, ``dW``) is
    computed for all steps at once; the loop over time carries ``dh`` and
    ``ds`` backwards with a handful of element-wise products and one matrix
    product per step.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import init_lstm_params, lstm_backward, lstm_forward
    >>> params = init_lstm_params(5, 8, 5, random_state=0)
    >>> loss, cache = lstm_forward([[0, 1, 2]], None, None, params, y=[[1, 2, 3]])
    >>> dx, dh0, ds0, grads = lstm_backward(1.0, cache)
    >>> ds0.shape, grads["W"].shape
    ((1, 8), (32, 8))
    """
    x, y, h0, s0, gates, s, tanh_s, h, probs, p, cell_activation = cache
    dloss = check_dloss(dloss, h.dtype)
    gates, s, tanh_s, h, probs = (
        np.swapaxes(a, 0, 1) for a in (gates, s, tanh_s, h, probs)
    )
    T, batch, H = s.shape
    dV, dc, dh_out = output_backward(dloss, probs, h, p["V"], y)
    s_prev = np.concatenate([s0[None], s[:-1]])
    h_prev = np.concatenate([h0[None], h[:-1]])
    through_s, D = _backward_factors(gates, s_prev, tanh_s, cell_activation)
    f = gates[..., H : 2 * H]
    da = np.empty_like(gates)
    dh_next = np.zeros_like(h0)
    ds = np.zeros_like(s0)
    scratch = np.empty_like(s0)
    W = p["W"]
    for t in range(T - 1, -1, -1):
        dh = dh_out[t]
        dh += dh_next
        _cell_backward(dh, ds, through_s[t], D[t], f[t], W, da[t], dh_next, scratch)
    flat = da.reshape(-1, 4 * H)
    dW = flat.T @ h_prev.reshape(-1, H)
    dU, dx = input_gradients(da, x, is_tokens=x.ndim == 2, U=p["U"])
    grads = {"U": dU, "W": dW, "b": flat.sum(axis=0), "V": dV, "c": dc}
    return dx, dh_next, ds, grads
