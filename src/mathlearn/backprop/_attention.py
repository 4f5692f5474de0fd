"""Scaled dot-product attention, multi-head helpers and self-attention.

Forward (Vaswani et al., 2017), for one batch entry::

    S = scale * Q K^T            (T_q, T_k)   scores, masked
    P = softmax(S, axis=-1)      (T_q, T_k)   attention weights
    out = P V                    (T_q, d_v)

Backward, with ``G = dout``::

    dV = P^T G
    dP = G V^T
    dS = P * (dP - rowsum(P * dP))            softmax backward, row by row
    dQ = scale * dS K
    dK = scale * dS^T Q
"""

from numbers import Integral, Real
from typing import NamedTuple

import numpy as np

from mathlearn.backprop._checks import as_float
from mathlearn.utils._sklearn_compat import Interval
from mathlearn.utils._validation import check_scalar

_POSITIVE = Interval(Real, 0, None, closed="neither")
_N_HEADS = Interval(Integral, 1, None, closed="left")


class AttentionCache(NamedTuple):
    """What :func:`attention_backward` needs from :func:`attention_forward`."""

    Q: np.ndarray
    """Queries, shape ``(..., T_q, d_k)``."""
    K: np.ndarray
    """Keys, shape ``(..., T_k, d_k)``."""
    V: np.ndarray
    """Values, shape ``(..., T_k, d_v)``."""
    P: np.ndarray
    """Attention weights ``softmax(scale * Q K^T)``, shape ``(..., T_q, T_k)``;
    zero on masked entries and on fully masked rows."""
    scale: float
    """The factor multiplying the scores."""


class SelfAttentionCache(NamedTuple):
    """What :func:`self_attention_backward` needs from the forward."""

    X: np.ndarray
    """Input sequence, shape ``(..., T, d_model)``."""
    W_q: np.ndarray | None
    """Query projection ``(d_model, n_heads * d_k)``, or ``None`` (Q = X)."""
    W_k: np.ndarray | None
    """Key projection ``(d_model, n_heads * d_k)``, or ``None`` (K = X)."""
    W_v: np.ndarray | None
    """Value projection ``(d_model, n_heads * d_v)``, or ``None`` (V = X)."""
    n_heads: int
    """Number of heads the projections are split into."""
    attention: AttentionCache
    """Cache of the per-head attention, with a head axis before ``T``."""


def _check_scale(scale, d_k):
    if scale is None:
        return 1.0 / np.sqrt(d_k)
    return float(check_scalar("scale", scale, _POSITIVE))


def _check_mask(mask, scores_shape, dtype):
    """The mask as a boolean array (True = attend) or an additive float one."""
    mask = np.asarray(mask)
    try:
        broadcast = np.broadcast_shapes(mask.shape, scores_shape)
    except ValueError:
        broadcast = None
    if broadcast != tuple(scores_shape):
        raise ValueError(
            f"mask of shape {mask.shape} does not broadcast to the scores' shape "
            f"{tuple(scores_shape)} (batch..., T_q, T_k)"
        )
    if mask.dtype == bool:
        return mask
    if mask.dtype.kind in "iu":
        # np.tril(np.ones((T, T), int)) means the causal mask: read 0/1 as
        # booleans, never as scores to add.
        if mask.size and (mask.min() < 0 or mask.max() > 1):
            raise ValueError(
                "an integer mask must hold only 0 and 1 (read as False and True: "
                f"1 = may attend), got values in [{mask.min()}, {mask.max()}]; "
                "pass a float mask to add values to the scores"
            )
        return mask.astype(bool)
    if mask.dtype.kind != "f":
        raise TypeError(
            "mask must be boolean or 0/1 integers (True = attend) or additive "
            f"(float), got dtype {mask.dtype}"
        )
    if np.isnan(mask).any() or np.isposinf(mask).any():
        raise ValueError("an additive mask must not contain NaN or +inf")
    return mask.astype(dtype, copy=False)


def _apply_mask(S, mask, exponent=0):
    """Mask the scores in place; a float mask is added times ``2**-exponent``."""
    if mask is None:
        return
    if mask.dtype == bool:
        np.copyto(S, -np.inf, where=~mask)
    elif exponent:
        S += np.ldexp(mask, -exponent)
    else:
        S += mask


def _binary_exponent(x):
    """The ``e`` with ``max|x| <= 2**e`` (0 for zeros and non-finite values)."""
    largest = np.abs(x).max(initial=0)
    return int(np.frexp(largest)[1]) if np.isfinite(largest) else 0


def _shifted_scores(Q, K, scale, mask):
    """``S - rowmax(S)`` for the masked scores ``S = scale Q K^T (+ mask)``.

    Each row is at most 0, ``-inf`` on removed keys, and all ``-inf`` on a
    fully masked row. A row maximum of -inf where the mask removes every key
    is such a row; any other maximum that is not finite means a score
    overflowed (``|Q| |K|`` near the float range gives +inf, NaN or -inf
    scores), and the scores are recomputed by
    :func:`_rescaled_shifted_scores`.
    """
    # Scaling Q (T_q x d_k) is cheaper than scaling the scores (T_q x T_k).
    # An overflow here shows in the row maxima and is redone below.
    with np.errstate(over="ignore", invalid="ignore"):
        S = np.matmul(Q * Q.dtype.type(scale), np.swapaxes(K, -1, -2))
        _apply_mask(S, mask)
    m = S.max(axis=-1, keepdims=True)
    if not np.isfinite(m).all():
        removed = m == -np.inf
        if mask is None or np.isnan(m).any() or np.isposinf(m).any():
            return _rescaled_shifted_scores(Q, K, scale, mask)
        if mask.dtype == bool:
            blocked = ~mask.any(axis=-1, keepdims=True)
        else:
            blocked = np.isneginf(mask).all(axis=-1, keepdims=True)
        if (removed & ~blocked).any():
            return _rescaled_shifted_scores(Q, K, scale, mask)
        m[removed] = 0.0
    S -= m
    return S


def _rescaled_shifted_scores(Q, K, scale, mask):
    """:func:`_shifted_scores` computed without overflow.

    With ``Q = 2**a Q'``, ``K = 2**b K'`` (``|Q'|, |K'| <= 1``) and
    ``scale = s 2**c`` (``s`` in [0.5, 1)), the scores are
    ``S = 2**u (2**(e - u) s Q' K'^T + mask 2**-u)`` with ``e = a + b + c``
    and ``u = max(e, 0)``. The bracket cannot overflow; it is shifted by its
    row maximum first and multiplied by ``2**u`` last, so a score far below
    its row's maximum becomes -inf (weight 0), where the direct computation
    gave ``inf - inf = NaN``. Powers of two make every rescaling exact.
    """
    a, b = _binary_exponent(Q), _binary_exponent(K)
    s, c = np.frexp(scale)
    e = a + b + int(c)
    u = max(e, 0)
    S = np.matmul(
        np.ldexp(Q, -a) * Q.dtype.type(s), np.swapaxes(np.ldexp(K, -b), -1, -2)
    )
    np.ldexp(S, e - u, out=S)
    _apply_mask(S, mask, exponent=u)
    m = S.max(axis=-1, keepdims=True)
    m[m == -np.inf] = 0.0
    S -= m
    with np.errstate(over="ignore"):
        return np.ldexp(S, u, out=S)


def attention_forward(Q, K, V, *, mask=None, scale=None):
    """Scaled dot-product attention ``softmax(scale * Q K^T + mask) V``.

    Parameters
    ----------
    Q : array-like of shape (..., T_q, d_k)
        Queries. Leading axes (batch, heads, ...) are shared by ``K`` and ``V``.
    K : array-like of shape (..., T_k, d_k)
        Keys.
    V : array-like of shape (..., T_k, d_v)
        Values.
    mask : array-like broadcastable to (..., T_q, T_k), default=None
        Boolean: ``True`` where a query may attend to a key (the convention of
        :func:`torch.nn.functional.scaled_dot_product_attention` for boolean
        masks). Integer: only 0 and 1, read as ``False`` and ``True``, so
        ``np.tril(np.ones((T, T), int))`` is the causal mask as it is with
        ``dtype=bool`` (other integers raise a ``ValueError``). Float: added
        to the scores (``-inf`` removes a key). A query whose keys are all
        removed gets zero weights and a zero output, not NaN.
    scale : float, default=None
        Factor on the scores; ``None`` means ``1 / sqrt(d_k)``.

    Returns
    -------
    out : ndarray of shape (..., T_q, d_v)
        Attention output, in the dtype of ``Q`` (float32 or float64).
    cache : AttentionCache
        Inputs and attention weights, for :func:`attention_backward`.

    See Also
    --------
    attention_backward : The gradients with respect to ``Q``, ``K``, ``V``.
    self_attention_forward : Projections, heads, and the Q = K = V case.

    Notes
    -----
    Costs two batched matrix products and one softmax: O(T_q T_k (d_k + d_v))
    time and O(T_q T_k) memory per batch entry for the weights kept in the
    cache. Every batch and head is handled in one vectorised call.

    Scores never overflow into NaN: when ``|Q| |K|`` is so large that a score
    leaves the float range (entries near 1e160 in float64, 1e20 in float32),
    the scores are recomputed from ``Q`` and ``K`` divided by powers of two,
    shifted by their row maximum, and scaled back; the weights are those of
    the exact scores (all on the largest ones when they differ by more than
    the float range). NaN or infinite inputs give NaN outputs.

    References
    ----------
    Vaswani, A. et al. (2017). Attention is all you need. NeurIPS.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import attention_forward
    >>> rng = np.random.RandomState(0)
    >>> Q, K, V = rng.normal(size=(3, 2, 4, 8))  # batch 2, T 4, d_k 8
    >>> causal = np.tril(np.ones((4, 4), dtype=bool))
    >>> out, cache = attention_forward(Q, K, V, mask=causal)
    >>> out.shape, cache.P.shape
    ((2, 4, 8), (2, 4, 4))
    >>> cache.P[0].round(2)  # row t attends to keys 0..t
    array([[1.  , 0.  , 0.  , 0.  ],
           [0.7 , 0.3 , 0.  , 0.  ],
           [0.32, 0.61, 0.07, 0.  ],
           [0.17, 0.42, 0.32, 0.09]])
    """
    Q = as_float("Q", Q)
    K = as_float("K", K, Q.dtype, like="Q")
    V = as_float("V", V, Q.dtype, like="Q")
    if Q.ndim < 2 or K.ndim != Q.ndim or V.ndim != Q.ndim:
        raise ValueError(
            "Q, K and V must have the same number (>= 2) of dimensions "
            f"(..., T, d), got shapes Q {Q.shape}, K {K.shape}, V {V.shape}"
        )
    if (
        K.shape[:-2] != Q.shape[:-2]
        or V.shape[:-2] != Q.shape[:-2]
        or K.shape[-1] != Q.shape[-1]
        or V.shape[-2] != K.shape[-2]
    ):
        raise ValueError(
            "expected Q (..., T_q, d_k), K (..., T_k, d_k) and V (..., T_k, d_v) "
            f"with the same leading axes, got shapes Q {Q.shape}, K {K.shape}, "
            f"V {V.shape}"
        )
    scale = _check_scale(scale, Q.shape[-1])
    if mask is not None:
        mask = _check_mask(mask, Q.shape[:-1] + K.shape[-2:-1], Q.dtype)
    S = _shifted_scores(Q, K, scale, mask)
    P = np.exp(S, out=S)
    denominator = P.sum(axis=-1, keepdims=True)
    if mask is not None:
        denominator[denominator == 0] = 1.0
    P *= np.reciprocal(denominator, out=denominator)
    out = np.matmul(P, V)
    return out, AttentionCache(Q, K, V, P, scale)


def attention_backward(dout, cache):
    """Gradients of scaled dot-product attention.

    Parameters
    ----------
    dout : array-like of shape (..., T_q, d_v)
        Gradient of the loss with respect to the attention output.
    cache : AttentionCache
        The cache returned by :func:`attention_forward`.

    Returns
    -------
    dQ : ndarray of shape (..., T_q, d_k)
    dK : ndarray of shape (..., T_k, d_k)
    dV : ndarray of shape (..., T_k, d_v)
        Gradients of the loss with respect to ``Q``, ``K`` and ``V``. Masked
        keys and fully masked queries get zero gradient.

    See Also
    --------
    attention_forward : The forward pass and its equations.

    Notes
    -----
    ``dV = P^T dout``, ``dP = dout V^T``, ``dS = P * (dP - rowsum(P * dP))``,
    ``dQ = scale dS K``, ``dK = scale dS^T Q``: four batched matrix products
    and one pass over the weights.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import attention_backward, attention_forward
    >>> rng = np.random.RandomState(0)
    >>> Q, K, V = rng.normal(size=(3, 1, 3, 2))
    >>> out, cache = attention_forward(Q, K, V)
    >>> dQ, dK, dV = attention_backward(np.ones_like(out), cache)
    >>> dV.sum(axis=-2) / 2  # each query's weights sum to one
    array([[1.5, 1.5]])
    >>> np.allclose(dK.sum(axis=-2), 0)  # shifting every key changes nothing
    True
    """
    Q, K, V, P, scale = cache
    dout = as_float("dout", dout, Q.dtype, like="the forward's Q")
    expected = Q.shape[:-1] + V.shape[-1:]
    if dout.shape != expected:
        raise ValueError(
            f"dout must have the output's shape {expected}, got shape {dout.shape}"
        )
    dV = np.matmul(np.swapaxes(P, -1, -2), dout)
    dS = np.matmul(dout, np.swapaxes(V, -1, -2))
    row = np.einsum("...ij,...ij->...i", dS, P)
    dS -= row[..., None]
    dS *= P
    dQ = np.matmul(dS, K)
    dQ *= Q.dtype.type(scale)
    dK = np.matmul(np.swapaxes(dS, -1, -2), Q)
    dK *= Q.dtype.type(scale)
    return dQ, dK, dV


def split_heads(X, n_heads):
    """Split the last axis into heads: ``(..., T, n_heads * d)`` to
    ``(..., n_heads, T, d)``.

    Parameters
    ----------
    X : array-like of shape (..., T, n_heads * d)
        Projected sequence, heads side by side along the last axis.
    n_heads : int
        Number of heads; must divide the last axis.

    Returns
    -------
    X_heads : ndarray of shape (..., n_heads, T, d)
        A view of ``X`` where possible. Its gradient is :func:`merge_heads` of
        the upstream gradient (the map is a permutation of entries).

    See Also
    --------
    merge_heads : The inverse.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import merge_heads, split_heads
    >>> X = np.arange(12.0).reshape(1, 2, 6)
    >>> split_heads(X, 3).shape
    (1, 3, 2, 2)
    >>> np.array_equal(merge_heads(split_heads(X, 3)), X)
    True
    """
    X = np.asarray(X)
    check_scalar("n_heads", n_heads, _N_HEADS)
    if X.ndim < 2 or X.shape[-1] % n_heads:
        raise ValueError(
            f"n_heads={n_heads!r} must divide the last axis of X, "
            f"got X of shape {X.shape}"
        )
    *lead, T, width = X.shape
    return np.swapaxes(X.reshape(*lead, T, n_heads, width // n_heads), -2, -3)


def merge_heads(X):
    """Merge heads back: ``(..., n_heads, T, d)`` to ``(..., T, n_heads * d)``.

    Parameters
    ----------
    X : array-like of shape (..., n_heads, T, d)
        Per-head sequences.

    Returns
    -------
    X_merged : ndarray of shape (..., T, n_heads * d)
        The heads side by side along the last axis; the inverse (and the
        gradient map) of :func:`split_heads`.

    See Also
    --------
    split_heads : The inverse.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import merge_heads
    >>> merge_heads(np.zeros((2, 4, 5, 3))).shape
    (2, 5, 12)
    """
    X = np.asarray(X)
    if X.ndim < 3:
        raise ValueError(
            f"X must have shape (..., n_heads, T, d) with >= 3 dimensions, got "
            f"shape {X.shape}"
        )
    *lead, n_heads, T, d = X.shape
    return np.swapaxes(X, -2, -3).reshape(*lead, T, n_heads * d)


def self_attention_forward(
    X, W_q=None, W_k=None, W_v=None, *, n_heads=1, mask=None, scale=None
):
    """Multi-head self-attention of a sequence, with or without projections.

    With projections, ``Q = X W_q``, ``K = X W_k``, ``V = X W_v`` are split
    into ``n_heads`` heads, each head attends with :func:`attention_forward`,
    and the heads are merged back. Without projections (all three ``None``),
    ``Q = K = V = X``.

    Parameters
    ----------
    X : array-like of shape (..., T, d_model)
        Input sequence, batch first.
    W_q, W_k : array-like of shape (d_model, n_heads * d_k), default=None
        Query and key projections.
    W_v : array-like of shape (d_model, n_heads * d_v), default=None
        Value projection. Give all three projections or none.
    n_heads : int, default=1
        Number of heads; must divide the projections' widths.
    mask : array-like broadcastable to (..., T, T), default=None
        As in :func:`attention_forward`, shared by every head.
    scale : float, default=None
        Factor on the scores; ``None`` means ``1 / sqrt(d_k)`` (per head).

    Returns
    -------
    out : ndarray of shape (..., T, n_heads * d_v)
        The merged heads.
    cache : SelfAttentionCache
        For :func:`self_attention_backward`.

    See Also
    --------
    self_attention_backward : ``dX`` and the projections' gradients.
    split_heads, merge_heads : The reshapes used for the heads.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import init_attention_params, self_attention_forward
    >>> X = np.random.RandomState(0).normal(size=(2, 5, 8))
    >>> params = init_attention_params(8, random_state=0)
    >>> out, cache = self_attention_forward(X, **params, n_heads=2)
    >>> out.shape, cache.attention.P.shape
    ((2, 5, 8), (2, 2, 5, 5))
    """
    X = as_float("X", X)
    if X.ndim < 2:
        raise ValueError(f"X must have shape (..., T, d_model), got shape {X.shape}")
    weights = (W_q, W_k, W_v)
    if any(W is None for W in weights) and not all(W is None for W in weights):
        raise ValueError("give all three projections W_q, W_k and W_v, or none")
    if W_q is not None:
        W_q, W_k, W_v = (
            as_float(name, W, X.dtype, like="X")
            for name, W in zip(("W_q", "W_k", "W_v"), weights, strict=True)
        )
        for name, W in (("W_q", W_q), ("W_k", W_k), ("W_v", W_v)):
            if W.ndim != 2 or W.shape[0] != X.shape[-1]:
                raise ValueError(
                    f"{name} must have shape (d_model={X.shape[-1]}, width), got "
                    f"shape {W.shape}"
                )
        if W_k.shape != W_q.shape:
            raise ValueError(
                f"W_q and W_k must have the same shape, got {W_q.shape} and {W_k.shape}"
            )
        Q, K, V = X @ W_q, X @ W_k, X @ W_v
    else:
        Q = K = V = X
    Qh, Kh, Vh = (split_heads(A, n_heads) for A in (Q, K, V))
    if mask is not None:
        mask = np.asarray(mask)
        if mask.ndim >= 3:
            mask = np.expand_dims(mask, -3)
    out, attention = attention_forward(Qh, Kh, Vh, mask=mask, scale=scale)
    cache = SelfAttentionCache(X, W_q, W_k, W_v, n_heads, attention)
    return merge_heads(out), cache


def self_attention_backward(dout, cache):
    """Gradients of self-attention: ``dX`` and the projections' gradients.

    ``X`` reaches the output along three paths, as the query, the key and the
    value, so ``dX`` is the sum of three terms::

        dX = dQ W_q^T + dK W_k^T + dV W_v^T      (with projections)
        dX = dQ + dK + dV                        (Q = K = V = X)

    and ``dW_q = X^T dQ`` (summed over the batch), likewise for ``W_k``,
    ``W_v``.

    Parameters
    ----------
    dout : array-like of shape (..., T, n_heads * d_v)
        Gradient of the loss with respect to the output.
    cache : SelfAttentionCache
        The cache returned by :func:`self_attention_forward`.

    Returns
    -------
    dX : ndarray of shape (..., T, d_model)
    dW_q, dW_k, dW_v : ndarray of the projections' shapes, or None
        ``None`` when the forward had no projections.

    See Also
    --------
    self_attention_forward : The forward pass.
    attention_backward : The per-head gradients.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import self_attention_backward, self_attention_forward
    >>> X = np.random.RandomState(0).normal(size=(1, 3, 2))
    >>> out, cache = self_attention_forward(X)  # Q = K = V = X
    >>> dX, dW_q, dW_k, dW_v = self_attention_backward(np.ones_like(out), cache)
    >>> dX.shape, dW_q
    ((1, 3, 2), None)
    """
    X, W_q, W_k, W_v, n_heads, attention = cache
    dout = as_float("dout", dout, X.dtype, like="the forward's X")
    width = attention.V.shape[-1] * n_heads
    expected = X.shape[:-1] + (width,)
    if dout.shape != expected:
        raise ValueError(
            f"dout must have the output's shape {expected}, got shape {dout.shape}"
        )
    dQh, dKh, dVh = attention_backward(split_heads(dout, n_heads), attention)
    dQ, dK, dV = merge_heads(dQh), merge_heads(dKh), merge_heads(dVh)
    if W_q is None:
        return dQ + dK + dV, None, None, None
    dX = dQ @ W_q.T
    dX += dK @ W_k.T
    dX += dV @ W_v.T
    X2 = X.reshape(-1, X.shape[-1]).T
    dW_q = X2 @ dQ.reshape(-1, dQ.shape[-1])
    dW_k = X2 @ dK.reshape(-1, dK.shape[-1])
    dW_v = X2 @ dV.reshape(-1, dV.shape[-1])
    return dX, dW_q, dW_k, dW_v
