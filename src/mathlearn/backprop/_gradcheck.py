"""Finite-difference gradient checking and gradient clipping."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state


def check_gradient(
    f, inputs, grads, *, dout=None, eps=1e-6, max_entries=None, random_state=None
):
    """Compare analytic gradients with central finite differences.

    For each input ``X`` and each checked entry ``i``, the numerical
    derivative of ``L = sum(f(*inputs) * dout)`` is
    ``(L(X_i + eps) - L(X_i - eps)) / (2 eps)``, computed in float64; its
    error is ``O(eps^2)``. The error of an input is the largest absolute
    difference from the analytic gradient, divided by the largest magnitude of
    either gradient over the checked entries: a relative error on the scale
    of that gradient, which stays meaningful where single entries are near
    zero.

    Parameters
    ----------
    f : callable
        ``f(*inputs)`` returns a scalar or an array (its output). It must not
        modify its arguments.
    inputs : sequence of array-like
        Points where the gradient is checked. They are copied to float64;
        the caller's arrays are never modified.
    grads : sequence of array-like
        The analytic gradients of ``L`` with respect to each input, in the
        same order and shapes as ``inputs``.
    dout : array-like of the shape of the output of ``f``, default=None
        Upstream gradient defining ``L``; ``None`` means ones (``L`` is the
        sum of the output, or the output itself when it is a scalar).
    eps : float, default=1e-6
        Step of the central differences.
    max_entries : int, default=None
        Check at most this many randomly chosen entries of each input (each
        costs two calls of ``f``); ``None`` checks every entry.
    random_state : int, RandomState instance or None, default=None
        Chooses the entries when ``max_entries`` is smaller than an input.

    Returns
    -------
    errors : ndarray of shape (len(inputs),)
        The maximum relative error of each input's gradient; 0 where both
        gradients vanish.

    Notes
    -----
    In float64, with ``eps = 1e-6`` and smooth ``f``, a correct gradient
    gives errors below 1e-6 (often near 1e-9); a wrong one gives errors near 1.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import check_gradient, softmax, softmax_backward
    >>> x = np.array([[0.5, -1.0, 2.0]])
    >>> dout = np.array([[1.0, 2.0, 3.0]])
    >>> analytic = softmax_backward(dout, softmax(x))
    >>> errors = check_gradient(softmax, [x], [analytic], dout=dout)
    >>> bool(errors[0] < 1e-8)
    True
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    inputs = [np.array(X, dtype=np.float64) for X in inputs]
    grads = [np.asarray(G, dtype=np.float64) for G in grads]
    if len(grads) != len(inputs):
        raise ValueError(
            f"grads must have one gradient per input: got {len(grads)} gradients "
            f"for {len(inputs)} inputs"
        )
    for k, (X, G) in enumerate(zip(inputs, grads, strict=True)):
        if X.shape != G.shape:
            raise ValueError(
                f"grads[{k}] has shape {G.shape} but inputs[{k}] has shape {X.shape}"
            )
    if isinstance(eps, bool) or not isinstance(eps, Real) or not 0 < eps < 1:
        raise ValueError(f"eps={eps!r} must be a number in (0, 1)")
    if max_entries is not None and (
        isinstance(max_entries, bool)
        or not isinstance(max_entries, Integral)
        or max_entries < 1
    ):
        raise ValueError(f"max_entries={max_entries!r} must be a positive int or None")
    rng = check_random_state(random_state)
    weight = None if dout is None else np.asarray(dout, dtype=np.float64)

    def objective():
        out = np.asarray(f(*inputs), dtype=np.float64)
        if weight is None:
            return out.sum()
        if weight.shape != out.shape:
            raise ValueError(
                f"dout has shape {weight.shape} but f returns shape {out.shape}"
            )
        return (out * weight).sum()

    errors = np.zeros(len(inputs))
    for k, (X, G) in enumerate(zip(inputs, grads, strict=True)):
        flat = X.reshape(-1)
        if max_entries is None or max_entries >= flat.size:
            entries = np.arange(flat.size)
        else:
            entries = rng.choice(flat.size, size=max_entries, replace=False)
        numeric = np.empty(entries.size)
        for j, i in enumerate(entries):
            original = flat[i]
            flat[i] = original + eps
            plus = objective()
            flat[i] = original - eps
            minus = objective()
            flat[i] = original
            numeric[j] = (plus - minus) / (2 * eps)
        analytic = G.reshape(-1)[entries]
        scale = max(np.abs(analytic).max(initial=0), np.abs(numeric).max(initial=0))
        if scale > 0:
            errors[k] = np.abs(analytic - numeric).max() / scale
    return errors


def clip_gradients(grads, max_norm):
    """Rescale gradients so that their global L2 norm is at most ``max_norm``.

    The remedy for exploding gradients of Pascanu et al. (2013): if
    ``norm = sqrt(sum of squared entries of every gradient)`` exceeds
    ``max_norm``, every gradient is multiplied by ``max_norm / norm``, which
    keeps the direction of the update.

    Parameters
    ----------
    grads : dict of str to array-like
        Gradients, e.g. the ``grads`` of :func:`rnn_backward`.
    max_norm : float
        The largest global norm allowed.

    Returns
    -------
    clipped : dict of str to ndarray
        New arrays (the input is not modified), same keys and dtypes.
    norm : float
        The global norm before clipping.

    References
    ----------
    Pascanu, R., Mikolov, T. & Bengio, Y. (2013). On the difficulty of
    training recurrent neural networks. ICML.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import clip_gradients
    >>> clipped, norm = clip_gradients({"W": np.array([3.0, 4.0])}, max_norm=1.0)
    >>> norm, clipped["W"]
    (5.0, array([0.6, 0.8]))
    """
    if not hasattr(grads, "items"):
        raise TypeError(f"grads must be a dict of arrays, got {type(grads).__name__}")
    if (
        isinstance(max_norm, bool)
        or not isinstance(max_norm, Real)
        or not np.isfinite(max_norm)
        or max_norm <= 0
    ):
        raise ValueError(f"max_norm={max_norm!r} must be a positive finite number")
    arrays = {key: np.asarray(G) for key, G in grads.items()}
    norm = float(
        np.sqrt(sum(np.vdot(G, G).real.astype(np.float64) for G in arrays.values()))
    )
    factor = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return {key: G * G.dtype.type(factor) for key, G in arrays.items()}, norm
