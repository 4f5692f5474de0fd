"""Finite-difference gradient checking and gradient clipping."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from mathlearn.utils._sklearn_compat import Interval, validate_params
from mathlearn.utils._validation import check_scalar

# With float64's machine epsilon u, central differences resolve about
# u * S / eps; gradients below sqrt(u) * S / eps are compared on that scale,
# so the rounding noise of a correct zero gradient gives an error near sqrt(u).
_FLOOR = np.sqrt(np.finfo(np.float64).eps)


@validate_params(
    {
        "f": [callable],
        "inputs": ["array-like"],
        "grads": ["array-like"],
        "dout": ["array-like", Real, None],
        "output": [Interval(Integral, None, None, closed="neither"), None],
        "eps": [Interval(Real, 0, 1, closed="neither")],
        "max_entries": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def check_gradient(
    f,
    inputs,
    grads,
    *,
    dout=None,
    output=None,
    eps=1e-6,
    max_entries=None,
    random_state=None,
):
    """Compare analytic gradients with central finite differences.

    For each input ``X`` and each checked entry ``i``, the numerical
    derivative of ``L = sum(f(*inputs) * dout)`` is
    ``n_i = (L(X_i + eps) - L(X_i - eps)) / (2 eps)``, computed in float64;
    its truncation error is ``O(eps^2)`` and its rounding error about
    ``u S / eps``, where ``u = 2**-52`` and ``S`` is the largest
    ``sum(|f(*inputs) * dout|)`` seen (the size of the terms of ``L``, before
    they cancel). With ``a`` the analytic gradient, the error of an input is

    ``max_i |a_i - n_i| / max(max_i |a_i|, max_i |n_i|, sqrt(u) S / eps)``

    (0 when the numerator is 0): a relative error on the scale of the
    gradient, with an absolute floor set by the resolution of the
    differences.
    Without the floor, a gradient that is exactly zero (``softmax`` with
    upstream ones) would be compared with pure rounding noise and look
    wrong; with it, such a gradient gets an error near ``sqrt(u)``, about
    1.5e-8. The floor scales with ``f``, so gradients at any scale (1e-30 as
    well as 1e30) are judged alike.

    Parameters
    ----------
    f : callable
        ``f(*inputs)`` returns a scalar or an array (its output), or a tuple
        from which ``output`` picks it. It must not modify its arguments.
    inputs : sequence of array-like
        Points where the gradient is checked. They are copied to float64;
        the caller's arrays are never modified.
    grads : sequence of array-like
        The analytic gradients of ``L`` with respect to each input, in the
        same order and shapes as ``inputs``.
    dout : array-like of the shape of the output of ``f``, default=None
        Upstream gradient defining ``L``; ``None`` means ones (``L`` is the
        sum of the output, or the output itself when it is a scalar).
    output : int, default=None
        When ``f`` returns a tuple, such as the ``(out, cache)`` of every
        forward function of :mod:`mathlearn.backprop`, the position of the
        output to check: ``output=0`` checks ``out``. ``None`` uses the
        return value of ``f`` as it is (a tuple is then an error).
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
        The error of each input's gradient, as defined above. It is ``inf``
        when the analytic gradient (any entry) or a numerical derivative is
        NaN or infinite: such a gradient never passes a check.

    Notes
    -----
    In float64, with ``eps = 1e-6`` and smooth ``f``, a correct gradient
    gives errors below 1e-6 (often near 1e-9); a wrong one gives errors near
    1. The check cannot see differences much smaller than its resolution
    ``u S / eps``: when ``f``'s output carries a large constant, remove it
    (or weight it out with ``dout``) so that ``S`` measures what changes.

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

    A forward function returns ``(out, cache)``; ``output=0`` checks ``out``:

    >>> from mathlearn.backprop import attention_backward, attention_forward
    >>> Q, K, V = np.random.RandomState(0).normal(size=(3, 2, 4, 3))
    >>> out, cache = attention_forward(Q, K, V)
    >>> dout = np.random.RandomState(1).normal(size=out.shape)
    >>> grads = attention_backward(dout, cache)
    >>> errors = check_gradient(attention_forward, [Q, K, V], grads, dout=dout,
    ...                         output=0)
    >>> bool(np.all(errors < 1e-6))
    True
    """
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
    rng = check_random_state(random_state)
    weight = None if dout is None else np.asarray(dout, dtype=np.float64)

    def evaluate():
        """``L`` and the size ``S`` of its terms at the current inputs."""
        value = f(*inputs)
        if output is not None:
            if not isinstance(value, tuple):
                raise TypeError(
                    f"output={output!r} selects from a tuple, but f returned "
                    f"{type(value).__name__}; use output=None"
                )
            if not -len(value) <= output < len(value):
                raise ValueError(
                    f"output={output!r} is out of range for the {len(value)} "
                    "items f returns"
                )
            value = value[output]
        elif isinstance(value, tuple):
            raise TypeError(
                f"f returned a tuple of {len(value)} items; pass output=0 to "
                "check the first (the forward functions of mathlearn.backprop "
                "return (out, cache))"
            )
        out = np.asarray(value, dtype=np.float64)
        if weight is not None:
            if weight.shape != out.shape:
                raise ValueError(
                    f"dout has shape {weight.shape} but f returns shape {out.shape}"
                )
            out = out * weight
        return out.sum(), np.abs(out).sum()

    errors = np.zeros(len(inputs))
    for k, (X, G) in enumerate(zip(inputs, grads, strict=True)):
        if not np.isfinite(G).all():
            errors[k] = np.inf
            continue
        flat = X.reshape(-1)
        if max_entries is None or max_entries >= flat.size:
            entries = np.arange(flat.size)
        else:
            entries = rng.choice(flat.size, size=max_entries, replace=False)
        numeric = np.empty(entries.size)
        size = 0.0
        for j, i in enumerate(entries):
            original = flat[i]
            flat[i] = original + eps
            plus, size_plus = evaluate()
            flat[i] = original - eps
            minus, size_minus = evaluate()
            flat[i] = original
            numeric[j] = (plus - minus) / (2 * eps)
            size = max(size, size_plus, size_minus)
        if not (np.isfinite(numeric).all() and np.isfinite(size)):
            errors[k] = np.inf
            continue
        analytic = G.reshape(-1)[entries]
        difference = np.abs(analytic - numeric).max(initial=0)
        if difference > 0:
            errors[k] = difference / max(
                np.abs(analytic).max(),
                np.abs(numeric).max(),
                _FLOOR * size / eps,
            )
    return errors


def _sum_of_squares_is_safe(G, squares):
    """Whether ``squares = vdot(G, G)`` neither overflowed nor underflowed.

    Squares below ``tiny / eps`` may have lost entries smaller than
    ``sqrt(tiny)`` (and exact zeros look the same), so they take the scaled
    route, as LAPACK's ``nrm2`` does.
    """
    info = np.finfo(G.dtype)
    return float(info.tiny / info.eps) <= squares <= float(info.max)


def _times(G, factor):
    """``G * factor`` in the dtype of ``G``, even where ``factor`` underflows it."""
    if factor >= np.finfo(G.dtype).tiny:
        return G * G.dtype.type(factor)
    return (G * factor).astype(G.dtype)


def clip_gradients(grads, max_norm):
    """Rescale gradients so that their global L2 norm is at most ``max_norm``.

    The remedy for exploding gradients of Pascanu et al. (2013): if
    ``norm = sqrt(sum of squared entries of every gradient)`` exceeds
    ``max_norm``, every gradient is multiplied by ``max_norm / norm``, which
    keeps the direction of the update.

    Parameters
    ----------
    grads : dict of str to array-like
        Gradients, e.g. the ``grads`` of :func:`rnn_backward`: arrays of
        floats (real or complex).
    max_norm : float
        The largest global norm allowed.

    Returns
    -------
    clipped : dict of str to ndarray
        New arrays (the input is not modified), same keys and dtypes.
    norm : float
        The global norm before clipping (``inf`` if it exceeds the largest
        float64, ``nan`` if a gradient holds NaN).

    Notes
    -----
    The squares are summed directly (one ``vdot`` per gradient) when that
    can neither overflow nor underflow. Otherwise, as LAPACK's ``nrm2``,
    every entry is first divided by ``m``, the power of two at or below the
    largest magnitude, and ``norm = m * sqrt(sum((G / m)**2))``: gradients of
    1e200 are scaled down, not zeroed, and float32 gradients whose squares
    exceed float32's range are clipped correctly.

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
    >>> clipped, norm = clip_gradients({"W": np.array([3e200, 4e200])}, max_norm=1.0)
    >>> round(norm / 1e200, 12), clipped["W"]
    (5.0, array([0.6, 0.8]))
    """
    check_scalar("max_norm", max_norm, Interval(Real, 0, None, closed="neither"))
    arrays = _float_arrays(grads)
    norm = _direct_norm(arrays)
    if norm is not None:
        factor = min(1.0, max_norm / norm)
        return {key: _times(G, factor) for key, G in arrays.items()}, norm
    return _clip_rescaled(arrays, max_norm)


def _float_arrays(grads):
    """The gradients as arrays of floats, or an error naming the bad one."""
    if not hasattr(grads, "items"):
        raise TypeError(f"grads must be a dict of arrays, got {type(grads).__name__}")
    arrays = {}
    for key, value in grads.items():
        G = np.asarray(value)
        if G.dtype.kind not in "fc":
            got = f"dtype {G.dtype}" if G.dtype.kind != "O" else type(value).__name__
            raise TypeError(f"grads[{key!r}] must be an array of floats, got {got}")
        arrays[key] = G
    return arrays


def _direct_norm(arrays):
    """The global norm from the plain sum of squares, or None where that sum
    may have overflowed or underflowed."""
    squares = [float(np.vdot(G, G).real) for G in arrays.values()]
    total = sum(squares)
    if (
        arrays
        and total <= float(np.finfo(np.float64).max)
        and all(
            _sum_of_squares_is_safe(G, s)
            for G, s in zip(arrays.values(), squares, strict=True)
        )
    ):
        return float(np.sqrt(total))
    return None


def _clip_rescaled(arrays, max_norm):
    """:func:`clip_gradients` with every entry first divided by the power of two
    at or below the largest magnitude (as LAPACK's ``nrm2``)."""
    largest = float(
        np.max([np.abs(G).max(initial=0) for G in arrays.values()], initial=0)
    )
    if largest == 0 or not np.isfinite(largest):
        # All zero, or an infinite (every finite entry is scaled to 0) or NaN
        # entry (returned as they are, with a NaN norm).
        factor = min(1.0, max_norm / largest) if largest > 0 else 1.0
        return {key: _times(G, factor) for key, G in arrays.items()}, largest
    # Dividing by the power of two at or below the largest magnitude is exact.
    unit = float(np.ldexp(1.0, np.frexp(largest)[1] - 1))
    scaled = {
        key: np.divide(G, unit, dtype=np.result_type(G.dtype, np.float64))
        for key, G in arrays.items()
    }
    root = float(np.sqrt(sum(np.vdot(H, H).real for H in scaled.values())))
    norm = unit * root
    if norm <= max_norm:
        return {key: G.copy() for key, G in arrays.items()}, norm
    factor = max_norm / root
    return {
        key: (scaled[key] * factor).astype(G.dtype, copy=False)
        for key, G in arrays.items()
    }, norm
