"""Tests of mathlearn.backprop against finite differences and PyTorch autograd."""

import doctest
import math
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import log_softmax as scipy_log_softmax
from scipy.special import softmax as scipy_softmax

from mathlearn.backprop import (
    attention_backward,
    attention_forward,
    check_gradient,
    clip_gradients,
    cross_entropy,
    init_attention_params,
    init_lstm_params,
    init_rnn_params,
    log_softmax,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    merge_heads,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    self_attention_backward,
    self_attention_forward,
    softmax,
    softmax_backward,
    softmax_jacobian,
    split_heads,
)

FD_TOL = 1e-6
HYPOTHESIS = settings(max_examples=25, deadline=None)


def rel_err(actual, expected):
    """Largest absolute difference relative to the largest reference entry."""
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert actual.shape == expected.shape
    scale = np.abs(expected).max(initial=0)
    diff = np.abs(actual - expected).max(initial=0)
    return diff / scale if scale > 0 else diff


# ---------------------------------------------------------------- softmax


def test_softmax_matches_scipy_and_is_stable():
    rng = np.random.RandomState(0)
    x = rng.normal(size=(3, 4, 5)) * 30
    for axis in (-1, 0, 1):
        np.testing.assert_allclose(softmax(x, axis=axis), scipy_softmax(x, axis=axis))
        np.testing.assert_allclose(
            log_softmax(x, axis=axis), scipy_log_softmax(x, axis=axis)
        )
    big = np.array([1e4, 0.0, -1e4])
    assert np.all(np.isfinite(softmax(big)))
    np.testing.assert_allclose(log_softmax(big), [0.0, -1e4, -2e4])


def test_softmax_preserves_float32_and_casts_int():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert softmax(x).dtype == np.float32
    assert log_softmax(x).dtype == np.float32
    assert softmax(np.arange(3)).dtype == np.float64


@given(
    n=st.integers(1, 6),
    batch=st.integers(1, 3),
    seed=st.integers(0, 2**31 - 1),
)
@HYPOTHESIS
def test_softmax_jacobian_and_backward_match_finite_differences(n, batch, seed):
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(batch, n)) * 2
    s = softmax(x)
    J = softmax_jacobian(s)
    assert J.shape == (batch, n, n)
    for i in range(n):  # column i of J^T: the gradient of s_i
        dout = np.zeros_like(x)
        dout[:, i] = 1.0
        errors = check_gradient(softmax, [x], [J[:, i, :]], dout=dout)
        assert errors[0] < FD_TOL
    dout = rng.normal(size=x.shape)
    dx = softmax_backward(dout, s)
    np.testing.assert_allclose(dx, np.einsum("bij,bi->bj", J, dout), atol=1e-14)
    assert check_gradient(softmax, [x], [dx], dout=dout)[0] < FD_TOL


@given(
    x=st.lists(st.floats(-50, 50), min_size=1, max_size=8).map(np.array),
    shift=st.floats(-100, 100),
)
@HYPOTHESIS
def test_softmax_identities(x, shift):
    s = softmax(x)
    assert s.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(softmax(x + shift), s, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(np.exp(log_softmax(x)), s, rtol=1e-12, atol=1e-300)
    J = softmax_jacobian(s)
    np.testing.assert_allclose(J, J.T)
    np.testing.assert_allclose(J.sum(axis=1), 0.0, atol=1e-15)


def test_softmax_backward_other_axis():
    rng = np.random.RandomState(1)
    x, dout = rng.normal(size=(2, 4, 3))
    s = softmax(x, axis=1)
    dx = softmax_backward(dout, s, axis=1)
    err = check_gradient(lambda z: softmax(z, axis=1), [x], [dx], dout=dout)
    assert err[0] < FD_TOL


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_cross_entropy_matches_finite_differences(reduction):
    rng = np.random.RandomState(2)
    logits = rng.normal(size=(3, 4, 5))
    targets = rng.randint(5, size=(3, 4))
    loss, dlogits = cross_entropy(logits, targets, reduction=reduction)
    expected = -np.take_along_axis(
        scipy_log_softmax(logits, axis=-1), targets[..., None], -1
    )
    expected = expected.sum() if reduction == "sum" else expected.mean()
    assert loss == pytest.approx(expected, rel=1e-13)
    err = check_gradient(
        lambda z: cross_entropy(z, targets, reduction=reduction)[0],
        [logits],
        [dlogits],
    )
    assert err[0] < FD_TOL


def test_cross_entropy_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.RandomState(3)
    for dtype, tol in ((np.float64, 1e-10), (np.float32, 1e-4)):
        logits = rng.normal(size=(7, 11)).astype(dtype)
        targets = rng.randint(11, size=7)
        loss, dlogits = cross_entropy(logits, targets, reduction="mean")
        assert loss.dtype == dtype and dlogits.dtype == dtype
        t = torch.tensor(logits, requires_grad=True)
        ref = torch.nn.functional.cross_entropy(t, torch.tensor(targets))
        ref.backward()
        assert rel_err(loss, ref.item()) < tol
        assert rel_err(dlogits, t.grad.numpy()) < tol


# ---------------------------------------------------------------- attention


@st.composite
def attention_case(draw):
    lead = tuple(draw(st.lists(st.integers(1, 2), min_size=1, max_size=2)))
    T_q, T_k = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    d_k, d_v = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    mask_kind = draw(st.sampled_from([None, "bool", "additive"]))
    seed = draw(st.integers(0, 2**31 - 1))
    return lead, T_q, T_k, d_k, d_v, mask_kind, seed


@given(attention_case())
@HYPOTHESIS
def test_attention_gradients_match_finite_differences(case):
    lead, T_q, T_k, d_k, d_v, mask_kind, seed = case
    rng = np.random.RandomState(seed)
    Q = rng.normal(size=(*lead, T_q, d_k))
    K = rng.normal(size=(*lead, T_k, d_k))
    V = rng.normal(size=(*lead, T_k, d_v))
    mask = None
    if mask_kind == "bool":  # some rows may be fully masked
        mask = rng.rand(T_q, T_k) < 0.6
    elif mask_kind == "additive":
        shape = (*lead, T_q, T_k)
        mask = np.where(rng.rand(*shape) < 0.3, -np.inf, rng.normal(size=shape))
    scale = None if seed % 2 else 0.7
    out, cache = attention_forward(Q, K, V, mask=mask, scale=scale)
    assert np.all(np.isfinite(out))
    dout = rng.normal(size=out.shape)
    grads = attention_backward(dout, cache)
    f = lambda Q, K, V: attention_forward(Q, K, V, mask=mask, scale=scale)[0]  # noqa: E731
    errors = check_gradient(f, [Q, K, V], grads, dout=dout)
    assert np.all(errors < FD_TOL), errors


def test_fully_masked_rows_give_zeros_not_nan():
    rng = np.random.RandomState(4)
    Q, K, V = rng.normal(size=(3, 2, 3, 2))
    mask = np.ones((2, 3, 3), dtype=bool)
    mask[0, 1] = False  # query 1 of batch 0 sees no key
    additive = np.where(mask, 0.0, -np.inf)
    for m in (mask, additive):
        out, cache = attention_forward(Q, K, V, mask=m)
        assert np.all(np.isfinite(out))
        np.testing.assert_array_equal(out[0, 1], 0.0)
        np.testing.assert_array_equal(cache.P[0, 1], 0.0)
        dQ, dK, dV = attention_backward(np.ones_like(out), cache)
        np.testing.assert_array_equal(dQ[0, 1], 0.0)
        assert all(np.all(np.isfinite(g)) for g in (dQ, dK, dV))
    # The other queries are unaffected.
    out_full, _ = attention_forward(Q, K, V)
    np.testing.assert_allclose(out[1], out_full[1])
    np.testing.assert_allclose(out[0, [0, 2]], out_full[0, [0, 2]])


def test_attention_masked_keys_get_no_weight_and_no_gradient():
    rng = np.random.RandomState(5)
    Q, K, V = rng.normal(size=(3, 1, 3, 2))
    mask = np.array([True, False, True])  # key 1 hidden from every query
    out, cache = attention_forward(Q, K, V, mask=mask)
    np.testing.assert_array_equal(cache.P[..., 1], 0.0)
    dQ, dK, dV = attention_backward(rng.normal(size=out.shape), cache)
    np.testing.assert_array_equal(dK[:, 1], 0.0)
    np.testing.assert_array_equal(dV[:, 1], 0.0)
    keep = [0, 2]
    out_drop, _ = attention_forward(Q, K[:, keep], V[:, keep])
    np.testing.assert_allclose(out, out_drop)


def test_attention_edge_shapes_batch1_T1_dk1():
    rng = np.random.RandomState(6)
    for shape_q, shape_k, d_v in [((1, 1, 1), (1, 1, 1), 1), ((1, 3, 1), (1, 1, 1), 2)]:
        Q = rng.normal(size=shape_q)
        K = rng.normal(size=shape_k)
        V = rng.normal(size=shape_k[:-1] + (d_v,))
        out, cache = attention_forward(Q, K, V)
        # A single key gets all the weight.
        np.testing.assert_allclose(out, np.broadcast_to(V, out.shape))
        dout = rng.normal(size=out.shape)
        grads = attention_backward(dout, cache)
        np.testing.assert_allclose(grads[0], 0.0, atol=1e-15)
        errors = check_gradient(
            lambda Q, K, V: attention_forward(Q, K, V)[0], [Q, K, V], grads, dout=dout
        )
        assert np.all(errors < FD_TOL)


def test_attention_does_not_modify_inputs():
    rng = np.random.RandomState(7)
    Q, K, V = rng.normal(size=(3, 2, 3, 3))
    mask = rng.rand(3, 3) < 0.5
    copies = [a.copy() for a in (Q, K, V, mask)]
    out, cache = attention_forward(Q, K, V, mask=mask)
    dout = rng.normal(size=out.shape)
    dout_copy = dout.copy()
    P = cache.P.copy()
    attention_backward(dout, cache)
    for a, b in zip((Q, K, V, mask), copies, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dout, dout_copy)
    np.testing.assert_array_equal(cache.P, P)


MASK_DTYPES = [bool, np.int8, np.uint8, np.int32, np.int64]


@pytest.mark.parametrize("dtype", MASK_DTYPES)
def test_attention_masks_of_every_dtype_mean_the_same(dtype):
    # Regression: an integer causal mask np.tril(np.ones((T, T), int)) was
    # added to the scores as a float mask, so nothing was masked.
    rng = np.random.RandomState(24)
    T = 5
    Q, K, V = rng.normal(size=(3, 2, T, 3))
    causal = np.tril(np.ones((T, T), dtype=dtype))
    out, cache = attention_forward(Q, K, V, mask=causal)
    upper = np.triu_indices(T, 1)
    np.testing.assert_array_equal(cache.P[:, upper[0], upper[1]], 0.0)
    boolean = np.tril(np.ones((T, T), dtype=bool))
    out_bool, cache_bool = attention_forward(Q, K, V, mask=boolean)
    additive = np.where(boolean, 0.0, -np.inf)
    out_add, _ = attention_forward(Q, K, V, mask=additive)
    np.testing.assert_array_equal(out, out_bool)
    np.testing.assert_array_equal(cache.P, cache_bool.P)
    np.testing.assert_allclose(out, out_add, rtol=1e-14, atol=1e-15)
    # Query t is the softmax-weighted mean of the values of keys 0..t.
    for t in range(T):
        scores = np.einsum("bd,bkd->bk", Q[:, t], K[:, : t + 1]) / np.sqrt(3)
        weights = scipy_softmax(scores, axis=-1)
        expected = np.einsum("bk,bkd->bd", weights, V[:, : t + 1])
        np.testing.assert_allclose(out[:, t], expected, rtol=1e-12)
    X = rng.normal(size=(2, T, 4))
    params = init_attention_params(4, random_state=0)
    out_self, _ = self_attention_forward(X, **params, n_heads=2, mask=causal)
    ref_self, _ = self_attention_forward(X, **params, n_heads=2, mask=boolean)
    np.testing.assert_array_equal(out_self, ref_self)


def test_attention_integer_mask_must_be_zero_or_one():
    Q = np.random.RandomState(25).normal(size=(1, 3, 2))
    for bad in (np.full((3, 3), 2), np.full((3, 3), -1)):
        with pytest.raises(ValueError, match="integer mask must hold only 0 and 1"):
            attention_forward(Q, Q, Q, mask=bad)


# Scales of Q and K (powers of two, so that Q0 K0^T stays exact) whose
# scores overflow: near 2**1200 in float64, 2**140 in float32.
HUGE = {
    (np.float64, "Q and K"): (2.0**600, 2.0**600),
    (np.float64, "K"): (2.0**100, 2.0**1000),
    (np.float64, "self"): (2.0**600, 2.0**600),
    (np.float32, "Q and K"): (2.0**70, 2.0**70),
    (np.float32, "K"): (2.0**10, 2.0**125),
    (np.float32, "self"): (2.0**70, 2.0**70),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("magnitude", ["Q and K", "K", "self"])
def test_attention_scores_beyond_the_float_range_are_not_nan(dtype, magnitude):
    # Regression: scores near 1e400 overflowed to inf, and inf - inf gave NaN
    # outputs. The true weights are all on each row's largest score (ties
    # shared): the limit of scipy's softmax of t * S for a large t.
    rng = np.random.RandomState(26)
    Q0, K0, V = (rng.normal(size=(2, 6, 4)).astype(dtype) for _ in range(3))
    K0[:, 3] = K0[:, 1]  # ties split the weight
    q, k = HUGE[dtype, magnitude]
    Q, K = Q0 * dtype(q), K0 * dtype(k)
    if magnitude == "self":  # Q = K = V = X
        K0, K, V = Q0, Q, Q
    mask = np.ones((6, 6), dtype=bool)
    mask[2, :4] = False
    mask[4] = False
    out, cache = attention_forward(Q, K, V, mask=mask)
    scores = (Q0 @ K0.transpose(0, 2, 1)).astype(np.float64) * 1e12
    scores[:, ~mask] = -np.inf
    with np.errstate(invalid="ignore"):  # the fully masked row: 0 / 0
        expected = np.nan_to_num(scipy_softmax(scores, axis=-1))
    assert out.dtype == dtype
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(cache.P, expected, atol=1e-6)
    np.testing.assert_allclose(out, expected @ V.astype(np.float64), rtol=1e-5)
    dout = rng.normal(size=out.shape).astype(dtype)
    dQ, dK, dV = attention_backward(dout, cache)
    assert all(np.all(np.isfinite(g)) for g in (dQ, dK, dV))
    np.testing.assert_allclose(
        dV, expected.transpose(0, 2, 1) @ dout.astype(np.float64), rtol=1e-5
    )


def test_attention_scores_overflowing_to_minus_inf_are_not_a_masked_row():
    # Every visible score of the query is below -1e308: the row is not fully
    # masked, its weights go to its largest score (key 0, score -2**1200).
    huge = 2.0**600
    Q = np.array([[[1.0, 0.0]]]) * huge
    K = np.array([[[-1.0, 0.0], [-2.0, 0.0], [3.0, 0.0]]]) * huge
    V = np.array([[[1.0], [2.0], [3.0]]])
    keep = np.array([True, True, False])
    for mask in (keep, keep.astype(int), np.where(keep, 0.0, -np.inf)):
        out, cache = attention_forward(Q, K, V, mask=mask)
        np.testing.assert_array_equal(cache.P, [[[1.0, 0.0, 0.0]]])
        np.testing.assert_array_equal(out, [[[1.0]]])
    out, cache = attention_forward(Q, K[:, :2], V[:, :2])
    np.testing.assert_array_equal(cache.P, [[[1.0, 0.0]]])


def test_attention_tiny_scores_give_uniform_weights():
    rng = np.random.RandomState(27)
    Q, K, V = rng.normal(size=(3, 2, 4, 3)) * 1e-200
    additive = np.where(np.tril(np.ones((4, 4), dtype=bool)), 0.0, -np.inf)
    additive[0, 0] = -np.inf  # a fully masked row
    out, cache = attention_forward(Q, K, V, mask=additive)
    expected = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]
    expected[0] = 0.0
    np.testing.assert_allclose(cache.P, np.broadcast_to(expected, (2, 4, 4)))


def test_attention_float32_matches_float64_near_the_float32_range():
    rng = np.random.RandomState(28)
    Q, K, V = rng.normal(size=(3, 2, 5, 4))
    Q[..., 0] *= 1e-19
    K *= 1e20  # scores near 1e20, products of 1e40 beyond float32
    Q[:, :, 1] *= 1e19
    out64, cache64 = attention_forward(Q, K, V)
    out32, cache32 = attention_forward(*(a.astype(np.float32) for a in (Q, K, V)))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(cache32.P, cache64.P, atol=1e-5)
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5)


def test_split_and_merge_heads_are_inverse_permutations():
    X = np.arange(2 * 5 * 12.0).reshape(2, 5, 12)
    heads = split_heads(X, 3)
    assert heads.shape == (2, 3, 5, 4)
    np.testing.assert_array_equal(heads[1, 2, 4], X[1, 4, 8:12])
    np.testing.assert_array_equal(merge_heads(heads), X)


@pytest.mark.parametrize("projections", [True, False])
@pytest.mark.parametrize("n_heads", [1, 2])
def test_self_attention_matches_finite_differences(projections, n_heads):
    rng = np.random.RandomState(8)
    X = rng.normal(size=(2, 3, 4))
    params = init_attention_params(4, random_state=0) if projections else {}
    mask = np.tril(np.ones((3, 3), dtype=bool))
    out, cache = self_attention_forward(X, **params, n_heads=n_heads, mask=mask)
    dout = rng.normal(size=out.shape)
    dX, *dW = self_attention_backward(dout, cache)
    names = list(params)
    inputs = [X, *params.values()]

    def f(X, *W):
        return self_attention_forward(
            X, **dict(zip(names, W, strict=True)), n_heads=n_heads, mask=mask
        )[0]

    grads = [dX, *dW] if projections else [dX]
    if not projections:
        assert dW == [None, None, None]
    errors = check_gradient(f, inputs, grads, dout=dout)
    assert np.all(errors < FD_TOL), errors


def test_self_attention_dX_sums_three_paths():
    rng = np.random.RandomState(9)
    X = rng.normal(size=(1, 4, 3))
    out, cache = self_attention_forward(X)
    dout = rng.normal(size=out.shape)
    dX = self_attention_backward(dout, cache)[0]
    dQ, dK, dV = attention_backward(dout[:, None], cache.attention)
    np.testing.assert_allclose(dX, (dQ + dK + dV)[:, 0])
    # Each path alone is wrong.
    for one_path in (dQ, dK, dV, dQ + dK):
        assert rel_err(one_path[:, 0], dX) > 1e-2


def test_self_attention_per_batch_mask_is_shared_by_heads():
    rng = np.random.RandomState(23)
    X = rng.normal(size=(2, 4, 6))
    params = init_attention_params(6, random_state=0)
    mask = rng.rand(2, 4, 4) < 0.6
    out, cache = self_attention_forward(X, **params, n_heads=3, mask=mask)
    for i in range(2):
        single, _ = self_attention_forward(X[i], **params, n_heads=3, mask=mask[i])
        np.testing.assert_allclose(out[i], single)


# ---------------------------------------------------------------- RNN


def _inputs_and_state(rng, batch, T, n_in, H, tokens, dtype):
    """Token ids or input vectors, and a random initial hidden state."""
    if tokens:
        x = rng.randint(n_in, size=(batch, T))
    else:
        x = rng.normal(size=(batch, T, n_in)).astype(dtype)
    return x, _state(rng, batch, H, dtype)


def _state(rng, batch, H, dtype):
    return rng.normal(size=(batch, H)).astype(dtype) * 0.5


def _rnn_case(rng, batch, T, n_in, H, K, tokens, dtype=np.float64):
    params = init_rnn_params(n_in, H, K, random_state=rng, dtype=dtype)
    params["b"] = rng.normal(size=H).astype(dtype) * 0.1
    params["c"] = rng.normal(size=K).astype(dtype) * 0.1
    x, h0 = _inputs_and_state(rng, batch, T, n_in, H, tokens, dtype)
    y = rng.randint(K, size=(batch, T))
    return x, h0, params, y


def _fd_sequence(forward, backward, x, states, params, y, tokens, **kwargs):
    keys = list(params)
    n_states = len(states)

    def f(*arrays):
        xs = x if tokens else arrays[0]
        rest = arrays if tokens else arrays[1:]
        st_, ps = rest[:n_states], rest[n_states:]
        return forward(xs, *st_, dict(zip(keys, ps, strict=True)), y, **kwargs)[0]

    loss, cache = forward(x, *states, params, y, **kwargs)
    dloss = 0.7
    dx, *dstates, grads = backward(dloss, cache)
    inputs = ([] if tokens else [x]) + list(states) + [params[k] for k in keys]
    analytic = ([] if tokens else [dx / dloss]) + [d / dloss for d in dstates]
    analytic += [grads[k] / dloss for k in keys]
    if tokens:
        assert dx is None
    return check_gradient(f, inputs, analytic)


@given(
    batch=st.integers(1, 2),
    T=st.integers(1, 4),
    tokens=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=12, deadline=None)
def test_rnn_gradients_match_finite_differences(batch, T, tokens, seed):
    rng = np.random.RandomState(seed)
    x, h0, params, y = _rnn_case(rng, batch, T, 3, 4, 3, tokens)
    errors = _fd_sequence(rnn_forward, rnn_backward, x, [h0], params, y, tokens)
    assert np.all(errors < FD_TOL), errors


def test_rnn_step_matches_finite_differences():
    rng = np.random.RandomState(10)
    x, h_prev = rng.normal(size=(2, 3)), rng.normal(size=(2, 4))
    U, W, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 4)) * 0.5, rng.normal(size=4)
    h, cache = rnn_step_forward(x, h_prev, U, W, b)
    dh = rng.normal(size=h.shape)
    grads = rnn_step_backward(dh, cache)
    f = lambda x, h_prev, U, W, b: rnn_step_forward(x, h_prev, U, W, b)[0]  # noqa: E731
    assert np.all(check_gradient(f, [x, h_prev, U, W, b], grads, dout=dh) < FD_TOL)
    # The sequence function runs the same recurrence.
    params = {"U": U, "W": W, "V": np.ones((2, 4)), "b": b, "c": np.zeros(2)}
    _, seq = rnn_forward(x[:, None], h_prev, params, np.zeros((2, 1), dtype=int))
    np.testing.assert_allclose(seq.h[:, 0], h)


def test_rnn_h0_none_means_zeros():
    rng = np.random.RandomState(11)
    x, h0, params, y = _rnn_case(rng, 2, 3, 4, 5, 4, tokens=True)
    loss_none, _ = rnn_forward(x, None, params, y)
    loss_zero, _ = rnn_forward(x, np.zeros_like(h0), params, y)
    assert loss_none == loss_zero


# ---------------------------------------------------------------- LSTM


def _lstm_case(rng, batch, T, n_in, H, K, tokens, dtype=np.float64):
    params = init_lstm_params(n_in, H, K, random_state=rng, dtype=dtype)
    params["b"] = params["b"] + rng.normal(size=4 * H).astype(dtype) * 0.1
    params["c"] = rng.normal(size=K).astype(dtype) * 0.1
    x, h0 = _inputs_and_state(rng, batch, T, n_in, H, tokens, dtype)
    s0 = _state(rng, batch, H, dtype)
    return x, h0, s0, params, rng.randint(K, size=(batch, T))


@given(
    batch=st.integers(1, 2),
    T=st.integers(1, 3),
    tokens=st.booleans(),
    cell_activation=st.sampled_from(["sigmoid", "tanh"]),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=12, deadline=None)
def test_lstm_gradients_match_finite_differences(
    batch, T, tokens, cell_activation, seed
):
    rng = np.random.RandomState(seed)
    x, h0, s0, params, y = _lstm_case(rng, batch, T, 3, 2, 3, tokens)
    errors = _fd_sequence(
        lstm_forward,
        lstm_backward,
        x,
        [h0, s0],
        params,
        y,
        tokens,
        cell_activation=cell_activation,
    )
    assert np.all(errors < FD_TOL), errors


@pytest.mark.parametrize("cell_activation", ["sigmoid", "tanh"])
def test_lstm_step_matches_finite_differences(cell_activation):
    rng = np.random.RandomState(12)
    H = 3
    x, h_prev, s_prev = rng.normal(size=(2, 4)), *rng.normal(size=(2, 2, H))
    U, W = rng.normal(size=(4 * H, 4)), rng.normal(size=(4 * H, H))
    b = rng.normal(size=4 * H)
    h, s, cache = lstm_step_forward(
        x, h_prev, s_prev, U, W, b, cell_activation=cell_activation
    )
    dh, ds = rng.normal(size=(2, 2, H))
    grads = lstm_step_backward(dh, ds, cache)

    def f(x, h_prev, s_prev, U, W, b):
        h, s, _ = lstm_step_forward(
            x, h_prev, s_prev, U, W, b, cell_activation=cell_activation
        )
        return np.stack([h, s])

    inputs = [x, h_prev, s_prev, U, W, b]
    errors = check_gradient(f, inputs, grads, dout=np.stack([dh, ds]))
    assert np.all(errors < FD_TOL), errors
    params = {"U": U, "W": W, "b": b, "V": np.ones((2, H)), "c": np.zeros(2)}
    _, seq = lstm_forward(
        x[:, None],
        h_prev,
        s_prev,
        params,
        np.zeros((2, 1), dtype=int),
        cell_activation=cell_activation,
    )
    np.testing.assert_allclose(seq.h[:, 0], h)
    np.testing.assert_allclose(seq.s[:, 0], s)


def _unrolled(step_forward, step_backward, x, states, params, y, **kw):
    """Loss and gradients of a sequence model built from its step functions.

    The output layer and its loss go through the public ``cross_entropy``;
    backpropagation through time chains the step backward functions. An
    independent composition of the sequence functions' definition.
    """
    V, c = params["V"], params["c"]
    weights = [params[k] for k in ("U", "W", "b")]
    loss, caches, dhs = 0.0, [], []
    for t in range(x.shape[1]):
        *states, cache = step_forward(x[:, t], *states, *weights, **kw)
        step_loss, dlogits = cross_entropy(states[0] @ V.T + c, y[:, t])
        loss += step_loss
        caches.append(cache)
        dhs.append((dlogits @ V, dlogits.T @ states[0], dlogits.sum(axis=0)))
    grads = {k: np.zeros_like(params[k]) for k in params}
    dstates = [np.zeros_like(dhs[0][0]) for _ in states]
    dx = np.empty_like(x)
    for t in reversed(range(x.shape[1])):
        dh, dV, dc = dhs[t]
        dstates[0] = dstates[0] + dh
        dx[:, t], *dstates, dU, dW, db = step_backward(*dstates, caches[t])
        for k, g in zip("UWbVc", (dU, dW, db, dV, dc), strict=True):
            grads[k] += g
    return loss, dx, dstates, grads


@pytest.mark.parametrize("model", ["rnn", "lstm-tanh", "lstm-sigmoid"])
def test_sequence_functions_are_their_steps_unrolled(model):
    # The sequence functions run the steps' cell in a loop with the input
    # projection and the output layer batched over time: same numbers.
    rng = np.random.RandomState(14)
    if model == "rnn":
        x, h0, params, y = _rnn_case(rng, 2, 5, 3, 4, 3, tokens=False)
        states, kw = [h0], {}
        loss, cache = rnn_forward(x, h0, params, y)
        dx, *dstates, grads = rnn_backward(1.0, cache)
        steps = rnn_step_forward, rnn_step_backward
    else:
        x, h0, s0, params, y = _lstm_case(rng, 2, 5, 3, 4, 3, tokens=False)
        states, kw = [h0, s0], {"cell_activation": model.split("-")[1]}
        loss, cache = lstm_forward(x, h0, s0, params, y, **kw)
        dx, *dstates, grads = lstm_backward(1.0, cache)
        steps = lstm_step_forward, lstm_step_backward
    ref_loss, ref_dx, ref_dstates, ref_grads = _unrolled(
        *steps, x, states, params, y, **kw
    )
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-13)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-12, atol=1e-14)
    for d, ref in zip(dstates, ref_dstates, strict=True):
        np.testing.assert_allclose(d, ref, rtol=1e-12, atol=1e-14)
    for k in params:
        np.testing.assert_allclose(grads[k], ref_grads[k], rtol=1e-12, atol=1e-14)


def test_recurrent_backward_does_not_modify_cache_or_inputs():
    rng = np.random.RandomState(13)
    x, h0, s0, params, y = _lstm_case(rng, 2, 3, 3, 4, 3, tokens=False)
    originals = [a.copy() for a in (x, h0, s0, *params.values())]
    _, cache = lstm_forward(x, h0, s0, params, y)
    snapshot = [np.copy(a) for a in cache if isinstance(a, np.ndarray)]
    first = lstm_backward(1.0, cache)
    second = lstm_backward(1.0, cache)
    for a, b in zip(first[3].values(), second[3].values(), strict=True):
        np.testing.assert_array_equal(a, b)
    after = [a for a in cache if isinstance(a, np.ndarray)]
    for a, b in zip(after, snapshot, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip((x, h0, s0, *params.values()), originals, strict=True):
        np.testing.assert_array_equal(a, b)
    x, h0, params, y = _rnn_case(rng, 2, 3, 3, 4, 3, tokens=False)
    _, cache = rnn_forward(x, h0, params, y)
    snapshot = [np.copy(a) for a in cache if isinstance(a, np.ndarray)]
    rnn_backward(1.0, cache)
    after = [a for a in cache if isinstance(a, np.ndarray)]
    for a, b in zip(after, snapshot, strict=True):
        np.testing.assert_array_equal(a, b)


def test_float32_is_preserved():
    rng = np.random.RandomState(14)
    x, h0, params, y = _rnn_case(rng, 2, 3, 4, 5, 4, tokens=False, dtype=np.float32)
    loss, cache = rnn_forward(x, h0, params, y)
    dx, dh0, grads = rnn_backward(1.0, cache)
    assert loss.dtype == np.float32 and cache.probs.dtype == np.float32
    assert dx.dtype == dh0.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    x, h0, s0, params, y = _lstm_case(rng, 2, 3, 4, 5, 4, True, dtype=np.float32)
    loss, cache = lstm_forward(x, h0, s0, params, y)
    _, dh0, ds0, grads = lstm_backward(1.0, cache)
    assert loss.dtype == dh0.dtype == ds0.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    Q = rng.normal(size=(2, 3, 4)).astype(np.float32)
    out, cache = attention_forward(Q, Q, Q, mask=np.tril(np.ones((3, 3), bool)))
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in attention_backward(out, cache))


# ---------------------------------------------------------------- tools


def test_check_gradient_detects_a_wrong_gradient():
    rng = np.random.RandomState(15)
    x = rng.normal(size=(3, 4))
    x_copy = x.copy()
    right = check_gradient(lambda x: np.sum(x**3), [x], [3 * x**2])
    wrong = check_gradient(lambda x: np.sum(x**3), [x], [2 * x**2])
    assert right[0] < 1e-8
    assert wrong[0] > 0.1
    np.testing.assert_array_equal(x, x_copy)
    one_off = 3 * x**2
    one_off[1, 2] += 1.0
    assert check_gradient(lambda x: np.sum(x**3), [x], [one_off])[0] > 0.1


def test_check_gradient_random_subset():
    calls = []

    def f(x):
        calls.append(1)
        return np.sum(np.sin(x))

    x = np.linspace(-1, 1, 1000)
    errors = check_gradient(f, [x], [np.cos(x)], max_entries=10, random_state=0)
    assert errors[0] < 1e-6
    assert len(calls) == 20
    assert check_gradient(f, [x], [np.cos(x) + 1], max_entries=5)[0] > 0.1


def test_check_gradient_zero_gradient_is_right():
    # Regression: a correct gradient that is exactly zero was compared with
    # the rounding noise of the differences and reported as error 1.0.
    x = np.random.RandomState(29).normal(size=(3, 4))
    s = softmax(x)
    exact_zero = np.zeros_like(x)  # d/dx sum(softmax(x)) = 0, in closed form
    for analytic in (exact_zero, softmax_backward(np.ones_like(s), s)):
        assert check_gradient(softmax, [x], [analytic])[0] < 1e-6
        assert check_gradient(lambda x: softmax(x).sum(), [x], [analytic])[0] < 1e-6
    saturated = x * 40  # weights of 1 - 1e-30: rounding noise only
    assert check_gradient(softmax, [saturated], [exact_zero])[0] < 1e-6
    # A non-zero gradient where the truth is zero is still wrong.
    assert check_gradient(softmax, [x], [np.full_like(x, 0.01)])[0] > 0.1


@pytest.mark.parametrize("scale", [1e-30, 1.0, 1e30])
def test_check_gradient_is_the_same_at_every_scale(scale):
    x = np.random.RandomState(30).normal(size=(3, 4))

    def f(x):
        return scale * x**3

    right = check_gradient(f, [x], [scale * 3 * x**2])[0]
    wrong = check_gradient(f, [x], [scale * 2 * x**2])[0]
    assert right < 1e-8
    # The largest entry of 3 x^2 is off by a third.
    assert wrong == pytest.approx(1 / 3, rel=1e-6)
    zero = check_gradient(lambda x: scale * softmax(x), [x], [np.zeros_like(x)])
    assert zero[0] < 1e-6
    wrong_zero = check_gradient(
        lambda x: scale * softmax(x), [x], [np.full_like(x, 0.01 * scale)]
    )
    assert wrong_zero[0] > 0.1


def test_check_gradient_never_passes_nan_or_inf():
    # Regression: a NaN analytic gradient was reported as error 0.0.
    x = np.random.RandomState(31).normal(size=(2, 5))
    for bad in (np.nan, np.inf, -np.inf):
        analytic = 3 * x**2
        analytic[1, 3] = bad
        errors = check_gradient(lambda x, z: x**3 + z**3, [x, x], [analytic, 3 * x**2])
        assert errors[0] == np.inf
        assert errors[1] < 1e-8
        # An entry outside the checked subset counts too.
        subset = check_gradient(
            lambda x: x**3, [x], [analytic], max_entries=1, random_state=0
        )
        assert subset[0] == np.inf
    nan_function = check_gradient(lambda x: x * np.nan, [x], [np.zeros_like(x)])
    assert nan_function[0] == np.inf


def test_check_gradient_accepts_forward_functions():
    # Regression: check_gradient(attention_forward, ...) failed with NumPy's
    # "inhomogeneous shape" error on the (out, cache) pair.
    rng = np.random.RandomState(32)
    Q, K, V = rng.normal(size=(3, 2, 4, 3))
    mask = np.tril(np.ones((4, 4), dtype=bool))
    out, cache = attention_forward(Q, K, V, mask=mask)
    dout = rng.normal(size=out.shape)
    grads = attention_backward(dout, cache)
    forward = partial(attention_forward, mask=mask)
    errors = check_gradient(forward, [Q, K, V], grads, dout=dout, output=0)
    wrapped = check_gradient(
        lambda Q, K, V: forward(Q, K, V)[0], [Q, K, V], grads, dout=dout
    )
    np.testing.assert_array_equal(errors, wrapped)
    assert np.all(errors < FD_TOL), errors
    wrong = check_gradient(
        forward, [Q, K, V], [grads[0], 2 * grads[1], grads[2]], dout=dout, output=-2
    )
    assert wrong[1] > 0.1
    with pytest.raises(TypeError, match="pass output=0"):
        check_gradient(forward, [Q, K, V], grads, dout=dout)
    with pytest.raises(ValueError, match="output=2 is out of range"):
        check_gradient(forward, [Q, K, V], grads, dout=dout, output=2)
    with pytest.raises(TypeError, match="output=0 selects from a tuple"):
        check_gradient(softmax, [Q], [Q], output=0)
    # A loss-returning forward: (loss, cache).
    params = init_rnn_params(4, 3, 4, random_state=0)
    x, y = rng.randint(4, size=(2, 3)), rng.randint(4, size=(2, 3))
    h0 = rng.normal(size=(2, 3))
    _, cache = rnn_forward(x, h0, params, y)
    dh0, grads = rnn_backward(1.0, cache)[-2:]
    names = list(params)
    errors = check_gradient(
        lambda h0, *arrays: rnn_forward(
            x, h0, dict(zip(names, arrays, strict=True)), y
        ),
        [h0, *params.values()],
        [dh0, *(grads[k] for k in names)],
        output=0,
    )
    assert np.all(errors < FD_TOL), errors


def test_user_guide_examples_run():
    guide = Path(__file__).parents[1] / "docs" / "user_guide" / "backprop.rst"
    result = doctest.testfile(
        str(guide),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 0
    assert result.failed == 0


def test_clip_gradients_norm_does_not_overflow_or_underflow():
    # Regression: a norm whose square overflowed became inf and every
    # gradient was zeroed. The reference norm is math.hypot over every entry.
    rng = np.random.RandomState(33)
    for scale in (1e200, 1e-200, 1e154, 1e-160):
        grads = {"W": rng.normal(size=(3, 4)) * scale, "b": rng.normal(size=4) * scale}
        copies = {k: v.copy() for k, v in grads.items()}
        reference = math.hypot(*np.concatenate([g.ravel() for g in grads.values()]))
        clipped, norm = clip_gradients(grads, max_norm=1.0 * scale / 10)
        assert norm == pytest.approx(reference, rel=1e-14)
        for key, G in grads.items():
            np.testing.assert_allclose(
                clipped[key] / scale, (G / scale) / (reference / scale) / 10, rtol=1e-12
            )
            np.testing.assert_array_equal(G, copies[key])
        same, norm_same = clip_gradients(grads, max_norm=reference * 2)
        assert norm_same == norm
        np.testing.assert_array_equal(same["W"], grads["W"])
    # float32 squares overflow float32 near 1e19.
    W = rng.normal(size=(5, 5))
    clipped, norm = clip_gradients({"W": (W * 1e25).astype(np.float32)}, max_norm=1.0)
    assert norm == pytest.approx(math.hypot(*(W * 1e25).ravel()), rel=1e-6)
    assert clipped["W"].dtype == np.float32
    np.testing.assert_allclose(clipped["W"], W / np.linalg.norm(W), rtol=1e-5)
    # A norm beyond float64 is inf, yet the clipped gradients are right.
    huge = np.array([1.5e308, 1.5e308])
    clipped, norm = clip_gradients({"W": huge}, max_norm=1.0)
    assert norm == np.inf
    np.testing.assert_allclose(clipped["W"], np.sqrt([0.5, 0.5]), rtol=1e-15)
    assert clip_gradients({}, max_norm=1.0) == ({}, 0.0)
    zero, norm = clip_gradients({"W": np.zeros(3)}, max_norm=1.0)
    assert norm == 0.0
    np.testing.assert_array_equal(zero["W"], 0.0)


def test_clip_gradients_rejects_non_float_gradients():
    # Regression: {'W': None} raised AttributeError from inside np.vdot.
    with pytest.raises(
        TypeError, match=r"grads\['W'\] must be an array of floats, got NoneType"
    ):
        clip_gradients({"W": None}, max_norm=1.0)
    with pytest.raises(TypeError, match=r"grads\['b'\] .* got dtype int64"):
        clip_gradients({"W": np.ones(2), "b": np.arange(2)}, max_norm=1.0)


def test_clip_gradients_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.RandomState(16)
    grads = {"W": rng.normal(size=(3, 4)), "b": rng.normal(size=4)}
    copies = {k: v.copy() for k, v in grads.items()}
    clipped, norm = clip_gradients(grads, max_norm=1.0)
    tensors = [
        torch.zeros(v.shape, dtype=torch.float64, requires_grad=True)
        for v in grads.values()
    ]
    for t, v in zip(tensors, grads.values(), strict=True):
        t.grad = torch.tensor(v)
    ref_norm = torch.nn.utils.clip_grad_norm_(tensors, max_norm=1.0)
    assert norm == pytest.approx(ref_norm.item(), rel=1e-12)
    for t, v in zip(tensors, clipped.values(), strict=True):
        np.testing.assert_allclose(v, t.grad.numpy(), rtol=1e-6)
    for k in grads:
        np.testing.assert_array_equal(grads[k], copies[k])
    same, _ = clip_gradients(grads, max_norm=1e6)
    np.testing.assert_array_equal(same["W"], grads["W"])


def test_init_helpers_are_reproducible_and_typed():
    a = init_lstm_params(5, 4, 3, random_state=0, dtype=np.float32)
    b = init_lstm_params(5, 4, 3, random_state=0, dtype=np.float32)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        assert a[k].dtype == np.float32
    np.testing.assert_array_equal(a["b"][4:8], 1.0)
    W = init_rnn_params(2, 6, 2, random_state=1)["W"]
    np.testing.assert_allclose(W @ W.T, np.eye(6), atol=1e-12)
    with pytest.raises(ValueError, match="n_hidden=0"):
        init_rnn_params(2, 0, 2)
    with pytest.raises(ValueError, match="dtype=int64"):
        init_attention_params(4, dtype=np.int64)


# ---------------------------------------------------------------- bad input


def test_bad_input_messages():
    rng = np.random.RandomState(17)
    Q = rng.normal(size=(2, 3, 4))
    with pytest.raises(ValueError, match=r"K .*\(2, 3, 5\)"):
        attention_forward(Q, rng.normal(size=(2, 3, 5)), Q)
    with pytest.raises(ValueError, match="K has dtype float32 but Q has dtype float64"):
        attention_forward(Q, Q.astype(np.float32), Q)
    with pytest.raises(ValueError, match=r"mask of shape \(4, 4\)"):
        attention_forward(Q, Q, Q, mask=np.ones((4, 4), bool))
    with pytest.raises(TypeError, match="mask must be boolean"):
        attention_forward(Q, Q, Q, mask=np.full((3, 3), "a"))
    with pytest.raises(ValueError, match="NaN"):
        attention_forward(Q, Q, Q, mask=np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="scale=-1"):
        attention_forward(Q, Q, Q, scale=-1)
    with pytest.raises(TypeError, match="Q must be a float32 or float64"):
        attention_forward(Q.astype(complex), Q, Q)
    out, cache = attention_forward(Q, Q, Q)
    with pytest.raises(ValueError, match=r"dout must have the output's shape"):
        attention_backward(out[:, :2], cache)
    with pytest.raises(ValueError, match="n_heads=3"):
        split_heads(Q, 3)
    with pytest.raises(ValueError, match="all three projections"):
        self_attention_forward(Q, Q[0].T)
    with pytest.raises(ValueError, match=r"W_v must have shape \(d_model=4"):
        self_attention_forward(Q, np.eye(4), np.eye(4), np.eye(3))

    params = init_rnn_params(5, 4, 6, random_state=0)
    x, y = rng.randint(5, size=(2, 3)), rng.randint(6, size=(2, 3))
    with pytest.raises(ValueError, match=r"y must lie in \[0, 6\)"):
        rnn_forward(x, None, params, y + 6)
    with pytest.raises(ValueError, match="y must hold integer class indices"):
        rnn_forward(x, None, params, y.astype(float))
    with pytest.raises(ValueError, match=r"y must have shape \(2, 3\), got shape"):
        rnn_forward(x, None, params, y[:, :2])
    with pytest.raises(ValueError, match=r"tokens in x must lie in \[0, 5\)"):
        rnn_forward(x + 5, None, params, y)
    with pytest.raises(
        ValueError, match=r"x of vectors must have shape \(batch, T, 5\)"
    ):
        rnn_forward(rng.normal(size=(2, 3, 4)), None, params, y)
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 4\)"):
        rnn_forward(x, np.zeros((2, 5)), params, y)
    with pytest.raises(ValueError, match=r"params\['W'\] must have shape \(4, 4\)"):
        rnn_forward(x, None, {**params, "W": np.eye(3)}, y)
    with pytest.raises(ValueError, match=r"params is missing \['c'\]"):
        rnn_forward(x, None, {k: v for k, v in params.items() if k != "c"}, y)
    with pytest.raises(ValueError, match=r"params is missing \['U', 'V', 'b', 'c'\]"):
        rnn_forward(x, None, {"W": params["W"]}, y)
    with pytest.raises(TypeError, match="params must be a mapping"):
        rnn_forward(x, None, list(params.values()), y)
    with pytest.raises(ValueError, match=r"params\['V'\] has dtype float32"):
        rnn_forward(x, None, {**params, "V": params["V"].astype(np.float32)}, y)
    with pytest.raises(ValueError, match="dloss must be a finite real scalar"):
        rnn_backward(np.ones(2), rnn_forward(x, None, params, y)[1])
    lstm_params = init_lstm_params(5, 4, 6, random_state=0)
    with pytest.raises(ValueError, match="cell_activation='relu'"):
        lstm_forward(x, None, None, lstm_params, y, cell_activation="relu")
    with pytest.raises(ValueError, match=r"s0 must have shape \(2, 4\)"):
        lstm_forward(x, None, np.zeros((1, 4)), lstm_params, y)
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\)"):
        cross_entropy(np.zeros((2, 3)), [0, 3])
    with pytest.raises(ValueError, match="reduction='max'"):
        cross_entropy(np.zeros((2, 3)), [0, 1], reduction="max")
    with pytest.raises(ValueError, match="axis=2"):
        softmax(np.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError, match=r"grads\[0\] has shape \(2,\)"):
        check_gradient(np.sum, [np.zeros(3)], [np.zeros(2)])
    with pytest.raises(ValueError, match="max_norm=0"):
        clip_gradients({"W": np.ones(2)}, max_norm=0)
    # A bool is a mistake, not the number 1.
    with pytest.raises(TypeError, match="max_norm=True"):
        clip_gradients({"W": np.ones(2)}, max_norm=True)
    with pytest.raises(TypeError, match="n_hidden=True"):
        init_rnn_params(2, True, 2)


# ---------------------------------------------------------------- PyTorch autograd

TORCH_TOL = {np.float64: 1e-10, np.float32: 1e-4}
DTYPES = [np.float64, np.float32]


def _torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


def _leaf(torch, a):
    return torch.tensor(np.asarray(a), requires_grad=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape",
    [
        (2, 3, 5, 4),
        (1, 1, 1, 1),
        pytest.param((32, 8, 128, 64), marks=pytest.mark.slow),
        (8, 1, 512, 64),
    ],
    ids=["small", "tiny", "bench-heads", "bench-long"],
)
@pytest.mark.parametrize("mask_kind", [None, "causal", "additive"])
def test_attention_matches_torch(shape, dtype, mask_kind):
    torch = _torch()
    F = torch.nn.functional
    rng = np.random.RandomState(18)
    batch, heads, T, d_k = shape
    Q, K, V = (rng.normal(size=shape).astype(dtype) for _ in range(3))
    mask = None
    if mask_kind == "causal":
        mask = np.tril(np.ones((T, T), dtype=bool))
    elif mask_kind == "additive":
        mask = rng.normal(size=(batch, 1, T, T)).astype(dtype)
    out, cache = attention_forward(Q, K, V, mask=mask)
    dout = rng.normal(size=out.shape).astype(dtype)
    grads = attention_backward(dout, cache)
    tQ, tK, tV = (_leaf(torch, a) for a in (Q, K, V))
    t_mask = None if mask is None else torch.tensor(mask)
    ref = F.scaled_dot_product_attention(tQ, tK, tV, attn_mask=t_mask)
    ref.backward(torch.tensor(dout))
    tol = TORCH_TOL[dtype]
    assert out.dtype == dtype
    assert rel_err(out, ref.detach().numpy()) < tol
    for g, t in zip(grads, (tQ, tK, tV), strict=True):
        assert g.dtype == dtype
        assert rel_err(g, t.grad.numpy()) < tol


def test_attention_fully_masked_rows_match_torch_on_the_other_rows():
    torch = _torch()
    rng = np.random.RandomState(19)
    Q, K, V = rng.normal(size=(3, 2, 4, 3))
    mask = rng.rand(2, 4, 4) < 0.7
    mask[:, 2] = False
    mask[:, [0, 1, 3], 0] = True
    out, cache = attention_forward(Q, K, V, mask=mask)
    dout = rng.normal(size=out.shape)
    dout[:, 2] = 0.0  # torch's NaN rows must not reach the other gradients
    grads = attention_backward(dout, cache)
    tQ, tK, tV = (_leaf(torch, a) for a in (Q, K, V))
    S = (tQ @ tK.transpose(-1, -2) / np.sqrt(3)).masked_fill(
        ~torch.tensor(mask), -torch.inf
    )
    P = torch.nan_to_num(torch.softmax(S, dim=-1))
    ref = P @ tV
    ref.backward(torch.tensor(dout))
    assert rel_err(out, ref.detach().numpy()) < 1e-12
    for g, t in zip(grads, (tQ, tK, tV), strict=True):
        assert rel_err(g, t.grad.numpy()) < 1e-12


@pytest.mark.parametrize("mask_dtype", [*MASK_DTYPES, "additive"])
def test_attention_masks_of_every_dtype_match_torch(mask_dtype):
    torch = _torch()
    F = torch.nn.functional
    rng = np.random.RandomState(34)
    Q, K, V = rng.normal(size=(3, 2, 2, 5, 3))
    keep = rng.rand(2, 1, 5, 5) < 0.6
    keep[..., 0] = True  # no fully masked row (torch gives NaN there)
    if mask_dtype == "additive":
        mask = np.where(keep, 0.0, -np.inf)
    else:
        mask = keep.astype(mask_dtype)
    out, cache = attention_forward(Q, K, V, mask=mask)
    dout = rng.normal(size=out.shape)
    grads = attention_backward(dout, cache)
    tQ, tK, tV = (_leaf(torch, a) for a in (Q, K, V))
    ref = F.scaled_dot_product_attention(tQ, tK, tV, attn_mask=torch.tensor(keep))
    ref.backward(torch.tensor(dout))
    assert rel_err(out, ref.detach().numpy()) < 1e-12
    for g, t in zip(grads, (tQ, tK, tV), strict=True):
        assert rel_err(g, t.grad.numpy()) < 1e-12


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_heads", [1, 4])
@pytest.mark.parametrize("projections", [True, False])
def test_self_attention_matches_torch(dtype, n_heads, projections):
    torch = _torch()
    F = torch.nn.functional
    rng = np.random.RandomState(20)
    X = rng.normal(size=(3, 6, 8)).astype(dtype)
    params = (
        init_attention_params(8, random_state=1, dtype=dtype) if projections else {}
    )
    mask = np.tril(np.ones((6, 6), dtype=bool))
    out, cache = self_attention_forward(X, **params, n_heads=n_heads, mask=mask)
    dout = rng.normal(size=out.shape).astype(dtype)
    dX, *dW = self_attention_backward(dout, cache)
    tX = _leaf(torch, X)
    tW = [_leaf(torch, W) for W in params.values()]
    Q, K, V = (tX @ W for W in tW) if projections else (tX, tX, tX)

    def split(A):
        return A.reshape(3, 6, n_heads, -1).transpose(1, 2)

    ref = F.scaled_dot_product_attention(
        split(Q), split(K), split(V), attn_mask=torch.tensor(mask)
    )
    ref = ref.transpose(1, 2).reshape(3, 6, -1)
    ref.backward(torch.tensor(dout))
    tol = TORCH_TOL[dtype]
    assert rel_err(out, ref.detach().numpy()) < tol
    assert rel_err(dX, tX.grad.numpy()) < tol
    for g, t in zip(dW if projections else [], tW, strict=True):
        assert rel_err(g, t.grad.numpy()) < tol


RNN_SIZES = {
    "small": (2, 3, 5, 7),
    "char": (32, 25, 65, 100),
    "big": (32, 100, 65, 512),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "size, tokens",
    [
        ("small", False),
        ("small", True),
        ("char", False),
        ("char", True),
        pytest.param("big", True, marks=pytest.mark.slow),
    ],
)
def test_rnn_matches_torch_nn_rnn(size, tokens, dtype):
    torch = _torch()
    F = torch.nn.functional
    batch, T, vocab, H = RNN_SIZES[size]
    rng = np.random.RandomState(21)
    x, h0, params, y = _rnn_case(rng, batch, T, vocab, H, vocab, tokens, dtype)
    loss, cache = rnn_forward(x, h0, params, y)
    dx, dh0, grads = rnn_backward(1.0, cache)

    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    rnn = torch.nn.RNN(vocab, H, batch_first=True, dtype=tdtype)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(params["U"]))
        rnn.weight_hh_l0.copy_(torch.tensor(params["W"]))
        rnn.bias_ih_l0.copy_(torch.tensor(params["b"]))
        rnn.bias_hh_l0.zero_()
    tx = (
        F.one_hot(torch.tensor(x), vocab).to(tdtype).requires_grad_()
        if tokens
        else _leaf(torch, x)
    )
    th0, tV, tc = (_leaf(torch, a) for a in (h0, params["V"], params["c"]))
    hs, _ = rnn(tx, th0[None])
    logits = hs @ tV.T + tc
    ref = F.cross_entropy(
        logits.reshape(-1, vocab), torch.tensor(y).reshape(-1), reduction="sum"
    )
    ref.backward()
    tol = TORCH_TOL[dtype]
    assert loss.dtype == dtype
    assert rel_err(loss, ref.item()) < tol
    expected = {
        "U": rnn.weight_ih_l0.grad,
        "W": rnn.weight_hh_l0.grad,
        "b": rnn.bias_ih_l0.grad,
        "V": tV.grad,
        "c": tc.grad,
    }
    for name, t in expected.items():
        assert grads[name].dtype == dtype
        assert rel_err(grads[name], t.numpy()) < tol, name
    assert rel_err(dh0, th0.grad.numpy()) < tol
    if not tokens:
        assert rel_err(dx, tx.grad.numpy()) < tol


def _torch_goodfellow_lstm(torch, x, h0, s0, U, W, b, cell_activation):
    """The LSTM cell of Deep Learning §10.10 in plain torch operations."""
    H = h0.shape[1]
    act = torch.sigmoid if cell_activation == "sigmoid" else torch.tanh
    a_in = x @ U.T + b
    h, s, hs = h0, s0, []
    for t in range(x.shape[1]):
        a = a_in[:, t] + h @ W.T
        g, f, q = (torch.sigmoid(a[:, k * H : (k + 1) * H]) for k in (0, 1, 3))
        s = f * s + g * act(a[:, 2 * H : 3 * H])
        h = torch.tanh(s) * q
        hs.append(h)
    return torch.stack(hs, dim=1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "size", ["small", "char", pytest.param("big", marks=pytest.mark.slow)]
)
@pytest.mark.parametrize("cell_activation", ["sigmoid", "tanh"])
def test_lstm_matches_torch(size, dtype, cell_activation):
    torch = _torch()
    F = torch.nn.functional
    batch, T, vocab, H = RNN_SIZES[size]
    tokens = size != "small"
    rng = np.random.RandomState(22)
    x, h0, s0, params, y = _lstm_case(rng, batch, T, vocab, H, vocab, tokens, dtype)
    loss, cache = lstm_forward(x, h0, s0, params, y, cell_activation=cell_activation)
    dx, dh0, ds0, grads = lstm_backward(1.0, cache)

    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    tx = (
        F.one_hot(torch.tensor(x), vocab).to(tdtype).requires_grad_()
        if tokens
        else _leaf(torch, x)
    )
    leaves = {
        name: _leaf(torch, a) for name, a in {"h0": h0, "s0": s0, **params}.items()
    }
    if cell_activation == "tanh":  # torch.nn.LSTM is this cell, gates (i, f, g, o)
        lstm = torch.nn.LSTM(vocab, H, batch_first=True, dtype=tdtype)
        with torch.no_grad():
            lstm.weight_ih_l0.copy_(leaves["U"])
            lstm.weight_hh_l0.copy_(leaves["W"])
            lstm.bias_ih_l0.copy_(leaves["b"])
            lstm.bias_hh_l0.zero_()
        hs, _ = lstm(tx, (leaves["h0"][None], leaves["s0"][None]))
    else:
        hs = _torch_goodfellow_lstm(
            torch,
            tx,
            leaves["h0"],
            leaves["s0"],
            leaves["U"],
            leaves["W"],
            leaves["b"],
            cell_activation,
        )
    logits = hs @ leaves["V"].T + leaves["c"]
    ref = F.cross_entropy(
        logits.reshape(-1, vocab), torch.tensor(y).reshape(-1), reduction="sum"
    )
    ref.backward()
    if cell_activation == "tanh":
        for key, p in (
            ("U", lstm.weight_ih_l0),
            ("W", lstm.weight_hh_l0),
            ("b", lstm.bias_ih_l0),
        ):
            leaves[key].grad = p.grad
    tol = TORCH_TOL[dtype]
    assert rel_err(loss, ref.item()) < tol
    for name in ("U", "W", "b", "V", "c"):
        assert grads[name].dtype == dtype
        assert rel_err(grads[name], leaves[name].grad.numpy()) < tol, name
    assert rel_err(dh0, leaves["h0"].grad.numpy()) < tol
    assert rel_err(ds0, leaves["s0"].grad.numpy()) < tol
    if not tokens:
        assert rel_err(dx, tx.grad.numpy()) < tol
