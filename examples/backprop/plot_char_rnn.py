"""
A character-level RNN and LSTM trained by hand-derived BPTT
===========================================================

We train a tanh RNN and an LSTM (the cell of Goodfellow et al., *Deep
Learning* §10.10) to predict the next character of a short essay that ships
with Python, using nothing but the forward/backward pairs of
:mod:`mathlearn.backprop`, gradient clipping and Adagrad written in three
lines. First we check the gradients numerically, then we train both models,
compare their held-out loss with a unigram baseline, sample some text, and
plot both loss curves.
"""

# %%
# The data: François Pinard's essay on heaps, ``heapq.__about__``
# ------------------------------------------------------------------
# The data, the training loop and the loss-curve plot are shared with the
# ``backprop`` section of ``mathlearn tour``.
import matplotlib.pyplot as plt
import numpy as np

from mathlearn.backprop import (
    check_gradient,
    init_lstm_params,
    lstm_backward,
    lstm_forward,
    lstm_step_forward,
    softmax,
)
from mathlearn.backprop._tour import (
    essay,
    held_out_loss,
    plot_moving_averages,
    train_adagrad,
    unigram_loss,
    windows,
)

text, chars, train, test = essay()
n_chars = len(chars)
print(f"{len(text)} characters, {n_chars} distinct; {len(train)} to train on")
print(repr(text[:120]))

# %%
# Check the gradients before trusting them
# ----------------------------------------
# :func:`~mathlearn.backprop.check_gradient` compares the analytic gradients
# with central finite differences (here on 40 random entries of each
# parameter).
rng = np.random.RandomState(0)
x, y = windows(train, rng.randint(len(train) - 25, size=4), 25)
params = init_lstm_params(n_chars, 16, n_chars, random_state=0)
loss, cache = lstm_forward(x, None, None, params, y)
*_, grads = lstm_backward(1.0, cache)
names = list(params)


def lstm_loss(*arrays):
    return lstm_forward(x, None, None, dict(zip(names, arrays, strict=True)), y)[0]


errors = check_gradient(
    lstm_loss,
    [params[k] for k in names],
    [grads[k] for k in names],
    max_entries=40,
    random_state=0,
)
for name, error in zip(names, errors, strict=True):
    print(f"d{name}: max relative error {error:.1e}")

# %%
# Train both models with Adagrad
# ------------------------------
# Each step draws 16 random windows of 25 characters, runs the forward pass
# (the summed negative log-likelihood), backpropagates through time, clips
# the global gradient norm at 5 and applies Adagrad.

n_iter, n_hidden = 500, 32
curves, trained = {}, {}
for model in ("rnn", "lstm"):
    curve, params = train_adagrad(
        model,
        train,
        n_chars,
        n_iter=n_iter,
        n_hidden=n_hidden,
        seq_len=25,
        batch=16,
        rng=np.random.RandomState(0),
    )
    curves[model.upper()], trained[model] = curve, params
    print(
        f"{model.upper()}: train loss {curve[0]:.2f} -> {np.mean(curve[-50:]):.2f}, "
        f"held-out {held_out_loss(model, params, test, seq_len=25):.2f} nats/char"
    )

unigram = unigram_loss(train, test, n_chars)
print(f"baselines: unigram {unigram:.2f}, uniform {np.log(n_chars):.2f} nats/char")

# %%
# Sample from the LSTM, one step at a time
# ----------------------------------------
# :func:`~mathlearn.backprop.lstm_step_forward` runs a single step; the
# output layer and a softmax give the next character's distribution.
p = trained["lstm"]
rng = np.random.RandomState(1)
h = s = np.zeros((1, n_hidden))
char = chars.index("T")
sample = ["T"]
for _ in range(150):
    x_t = np.eye(n_chars)[[char]]
    h, s, _ = lstm_step_forward(x_t, h, s, p["U"], p["W"], p["b"])
    probs = softmax(h @ p["V"].T + p["c"])[0]
    char = rng.choice(n_chars, p=probs)
    sample.append(chars[char])
print("".join(sample))

# %%
# Both loss curves
# ----------------
fig, ax = plt.subplots(figsize=(7, 4))
plot_moving_averages(ax, curves, width=25)
ax.axhline(unigram, color="gray", ls="--", label="unigram baseline (held out)")
ax.axhline(np.log(n_chars), color="gray", ls=":", label="uniform")
ax.set_xlabel("Adagrad step")
ax.set_ylabel("train loss per character (nats), moving average")
ax.set_title("Character models trained with hand-derived gradients")
ax.legend()
plt.show()
