"""Hand-derived gradients of softmax, attention, RNNs and LSTMs, checked numerically.

Forward functions return ``(output, cache)``; backward functions take the
upstream gradient and the cache and return the gradient of every input and
parameter. Shapes are batch first, float32 and float64 are preserved, and only
the recurrences loop (over time). See the user guide for the derivations.
"""

from mathlearn.backprop._attention import (
    AttentionCache,
    SelfAttentionCache,
    attention_backward,
    attention_forward,
    merge_heads,
    self_attention_backward,
    self_attention_forward,
    split_heads,
)
from mathlearn.backprop._gradcheck import check_gradient, clip_gradients
from mathlearn.backprop._init import (
    init_attention_params,
    init_lstm_params,
    init_rnn_params,
)
from mathlearn.backprop._lstm import (
    LSTMCache,
    LSTMStepCache,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
)
from mathlearn.backprop._rnn import (
    RNNCache,
    RNNStepCache,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)
from mathlearn.backprop._softmax import (
    cross_entropy,
    log_softmax,
    softmax,
    softmax_backward,
    softmax_jacobian,
)

__all__ = [
    "AttentionCache",
    "LSTMCache",
    "LSTMStepCache",
    "RNNCache",
    "RNNStepCache",
    "SelfAttentionCache",
    "attention_backward",
    "attention_forward",
    "check_gradient",
    "clip_gradients",
    "cross_entropy",
    "init_attention_params",
    "init_lstm_params",
    "init_rnn_params",
    "log_softmax",
    "lstm_backward",
    "lstm_forward",
    "lstm_step_backward",
    "lstm_step_forward",
    "merge_heads",
    "rnn_backward",
    "rnn_forward",
    "rnn_step_backward",
    "rnn_step_forward",
    "self_attention_backward",
    "self_attention_forward",
    "softmax",
    "softmax_backward",
    "softmax_jacobian",
    "split_heads",
]
