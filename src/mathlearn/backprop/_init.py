"""Parameter initialisation for the attention, RNN and LSTM functions."""

from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

from mathlearn.utils._sklearn_compat import Interval
from mathlearn.utils._validation import check_scalar

_SIZE = Interval(Integral, 1, None, closed="left")


def _check_sizes(**sizes):
    for name, value in sizes.items():
        check_scalar(name, value, _SIZE)


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype={dtype} must be float32 or float64")
    return dtype


def _glorot(rng, n_out, n_in, dtype):
    """Glorot & Bengio (2010) uniform: variance 2 / (n_in + n_out)."""
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_out, n_in)).astype(dtype)


def _orthogonal(rng, n, dtype):
    """A random orthogonal matrix (Saxe et al., 2014), sign-corrected QR."""
    Q, R = np.linalg.qr(rng.normal(size=(n, n)))
    return (Q * np.sign(np.diag(R))).astype(dtype)


def init_rnn_params(
    n_inputs, n_hidden, n_outputs, *, random_state=None, dtype=np.float64
):
    """Initial parameters for :func:`rnn_forward`.

    ``U`` and ``V`` are Glorot-uniform, ``W`` is a random orthogonal matrix
    (its powers neither explode nor vanish at the start of training), the
    biases are zero.

    Parameters
    ----------
    n_inputs : int
        Input size (vocabulary size for token inputs).
    n_hidden : int
        Hidden state size.
    n_outputs : int
        Number of output classes.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws.
    dtype : {np.float64, np.float32}, default=np.float64
        Dtype of every parameter.

    Returns
    -------
    params : dict
        ``U (n_hidden, n_inputs)``, ``W (n_hidden, n_hidden)``,
        ``V (n_outputs, n_hidden)``, ``b (n_hidden,)``, ``c (n_outputs,)``.

    See Also
    --------
    rnn_forward : Uses them.

    References
    ----------
    Glorot, X. & Bengio, Y. (2010). Understanding the difficulty of training
    deep feedforward neural networks. AISTATS. Saxe, A., McClelland, J. &
    Ganguli, S. (2014). Exact solutions to the nonlinear dynamics of learning
    in deep linear networks. ICLR.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.backprop import init_rnn_params
    >>> params = init_rnn_params(65, 100, 65, random_state=0)
    >>> {name: value.shape for name, value in params.items()}
    {'U': (100, 65), 'W': (100, 100), 'V': (65, 100), 'b': (100,), 'c': (65,)}
    >>> np.allclose(params["W"] @ params["W"].T, np.eye(100))
    True
    """
    _check_sizes(n_inputs=n_inputs, n_hidden=n_hidden, n_outputs=n_outputs)
    dtype = _check_dtype(dtype)
    rng = check_random_state(random_state)
    return {
        "U": _glorot(rng, n_hidden, n_inputs, dtype),
        "W": _orthogonal(rng, n_hidden, dtype),
        "V": _glorot(rng, n_outputs, n_hidden, dtype),
        "b": np.zeros(n_hidden, dtype=dtype),
        "c": np.zeros(n_outputs, dtype=dtype),
    }


def init_lstm_params(
    n_inputs,
    n_hidden,
    n_outputs,
    *,
    forget_bias=1.0,
    random_state=None,
    dtype=np.float64,
):
    """Initial parameters for :func:`lstm_forward`.

    Each gate's block of ``U`` is Glorot-uniform and of ``W`` orthogonal; the
    forget gate's bias starts at ``forget_bias`` so that the cell remembers at
    first (Jozefowicz et al., 2015); the other biases are zero.

    Parameters
    ----------
    n_inputs : int
        Input size (vocabulary size for token inputs).
    n_hidden : int
        Hidden and cell state size.
    n_outputs : int
        Number of output classes.
    forget_bias : float, default=1.0
        Initial bias of the forget gate.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws.
    dtype : {np.float64, np.float32}, default=np.float64
        Dtype of every parameter.

    Returns
    -------
    params : dict
        ``U (4 n_hidden, n_inputs)``, ``W (4 n_hidden, n_hidden)``,
        ``b (4 n_hidden,)`` stacked in the gate order (g, f, z, q),
        ``V (n_outputs, n_hidden)``, ``c (n_outputs,)``.

    See Also
    --------
    lstm_forward : Uses them.

    References
    ----------
    Jozefowicz, R., Zaremba, W. & Sutskever, I. (2015). An empirical
    exploration of recurrent network architectures. ICML.

    Examples
    --------
    >>> from mathlearn.backprop import init_lstm_params
    >>> params = init_lstm_params(65, 100, 65, random_state=0)
    >>> params["W"].shape, params["b"][100:200].min()
    ((400, 100), np.float64(1.0))
    """
    _check_sizes(n_inputs=n_inputs, n_hidden=n_hidden, n_outputs=n_outputs)
    dtype = _check_dtype(dtype)
    rng = check_random_state(random_state)
    b = np.zeros(4 * n_hidden, dtype=dtype)
    b[n_hidden : 2 * n_hidden] = forget_bias
    return {
        "U": np.concatenate(
            [_glorot(rng, n_hidden, n_inputs, dtype) for _ in range(4)]
        ),
        "W": np.concatenate([_orthogonal(rng, n_hidden, dtype) for _ in range(4)]),
        "b": b,
        "V": _glorot(rng, n_outputs, n_hidden, dtype),
        "c": np.zeros(n_outputs, dtype=dtype),
    }


def init_attention_params(
    d_model, d_k=None, d_v=None, *, random_state=None, dtype=np.float64
):
    """Initial projections for :func:`self_attention_forward`.

    Parameters
    ----------
    d_model : int
        Width of the input sequence.
    d_k : int, default=None
        Width of the query and key projections (all heads together);
        ``None`` means ``d_model``.
    d_v : int, default=None
        Width of the value projection; ``None`` means ``d_model``.
    random_state : int, RandomState instance or None, default=None
        Seed of the draws.
    dtype : {np.float64, np.float32}, default=np.float64
        Dtype of the projections.

    Returns
    -------
    params : dict
        Glorot-uniform ``W_q (d_model, d_k)``, ``W_k (d_model, d_k)``,
        ``W_v (d_model, d_v)``; pass them as ``**params``.

    See Also
    --------
    self_attention_forward : Uses them.

    Examples
    --------
    >>> from mathlearn.backprop import init_attention_params
    >>> params = init_attention_params(16, d_k=8, random_state=0)
    >>> {name: value.shape for name, value in params.items()}
    {'W_q': (16, 8), 'W_k': (16, 8), 'W_v': (16, 16)}
    """
    d_k = d_model if d_k is None else d_k
    d_v = d_model if d_v is None else d_v
    _check_sizes(d_model=d_model, d_k=d_k, d_v=d_v)
    dtype = _check_dtype(dtype)
    rng = check_random_state(random_state)
    return {
        "W_q": _glorot(rng, d_k, d_model, dtype).T.copy(),
        "W_k": _glorot(rng, d_k, d_model, dtype).T.copy(),
        "W_v": _glorot(rng, d_v, d_model, dtype).T.copy(),
    }
