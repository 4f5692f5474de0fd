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
import heapq

import matplotlib.pyplot as plt
import numpy as np

from mathlearn.backprop import (
    check_gradient,
    clip_gradients,
    init_lstm_params,
    init_rnn_params,
    lstm_backward,
    lstm_forward,
    lstm_step_forward,
    rnn_backward,
    rnn_forward,
    softmax,
)

text = " ".join(heapq.__about__.split())
chars = sorted(set(text))
ids = np.searchsorted(chars, list(text))
split = int(0.85 * len(ids))
train, test = ids[:split], ids[split:]
n_chars = len(chars)
print(f"{len(text)} characters, {n_chars} distinct; {len(train)} to train on")
print(repr(text[:120]))


def windows(data, starts, length=25):
    """Inputs and next-character targets, shape (batch, length)."""
    chunks = data[starts[:, None] + np.arange(length + 1)]
    return chunks[:, :-1], chunks[:, 1:]


# %%
# Check the gradients before trusting them
# ----------------------------------------
# :func:`~mathlearn.backprop.check_gradient` compares the analytic gradients
# with central finite differences (here on 40 random entries of each
# parameter).
rng = np.random.RandomState(0)
x, y = windows(train, rng.randint(len(train) - 25, size=4))
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


def loss_and_grads(model, x, y, params):
    if model == "RNN":
        loss, cache = rnn_forward(x, None, params, y)
        return loss, rnn_backward(1.0, cache)[-1]
    loss, cache = lstm_forward(x, None, None, params, y)
    return loss, lstm_backward(1.0, cache)[-1]


def held_out_loss(model, params):
    x, y = windows(test, np.arange(0, len(test) - 25, 25))
    return loss_and_grads(model, x, y, params)[0] / x.size


n_iter, n_hidden, learning_rate = 500, 32, 0.1
curves, trained = {}, {}
for model, init in (("RNN", init_rnn_params), ("LSTM", init_lstm_params)):
    rng = np.random.RandomState(0)
    params = init(n_chars, n_hidden, n_chars, random_state=rng)
    memory = {key: np.zeros_like(value) for key, value in params.items()}
    curve = []
    for _ in range(n_iter):
        x, y = windows(train, rng.randint(len(train) - 25, size=16))
        loss, grads = loss_and_grads(model, x, y, params)
        grads, norm = clip_gradients(grads, max_norm=5.0)
        for key, grad in grads.items():  # Adagrad
            memory[key] += grad * grad
            params[key] -= learning_rate * grad / np.sqrt(memory[key] + 1e-8)
        curve.append(loss / x.size)
    curves[model], trained[model] = np.array(curve), params
    print(
        f"{model}: train loss {curve[0]:.2f} -> {np.mean(curve[-50:]):.2f}, "
        f"held-out {held_out_loss(model, params):.2f} nats/char"
    )

counts = np.bincount(train, minlength=n_chars) + 1.0
unigram = -np.log(counts / counts.sum())[test].mean()
print(f"baselines: unigram {unigram:.2f}, uniform {np.log(n_chars):.2f} nats/char")

# %%
# Sample from the LSTM, one step at a time
# ----------------------------------------
# :func:`~mathlearn.backprop.lstm_step_forward` runs a single step; the
# output layer and a softmax give the next character's distribution.
p = trained["LSTM"]
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
width = 25
for model, curve in curves.items():
    smooth = np.convolve(curve, np.ones(width) / width, mode="valid")
    ax.plot(np.arange(width, len(curve) + 1), smooth, label=model)
ax.axhline(unigram, color="gray", ls="--", label="unigram baseline (held out)")
ax.axhline(np.log(n_chars), color="gray", ls=":", label="uniform")
ax.set_xlabel("Adagrad step")
ax.set_ylabel("train loss per character (nats), moving average")
ax.set_title("Character models trained with hand-derived gradients")
ax.legend()
plt.show()
