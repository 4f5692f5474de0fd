"""Tour section: a character-level RNN and LSTM trained with these gradients."""

import heapq

import numpy as np

from mathlearn._tour import TourSection, save_figure
from mathlearn.backprop._gradcheck import clip_gradients
from mathlearn.backprop._init import init_lstm_params, init_rnn_params
from mathlearn.backprop._lstm import lstm_backward, lstm_forward
from mathlearn.backprop._rnn import rnn_backward, rnn_forward
from mathlearn.utils._optional import import_matplotlib_pyplot


def _text():
    """François Pinard's essay on heaps, shipped with Python in ``heapq``."""
    return " ".join(heapq.__about__.split())


def _windows(ids, starts, length):
    chunks = ids[starts[:, None] + np.arange(length + 1)]
    return chunks[:, :-1], chunks[:, 1:]


def _loss_and_grads(model, x, y, params):
    if model == "rnn":
        loss, cache = rnn_forward(x, None, params, y)
        return loss, rnn_backward(1.0, cache)[-1]
    loss, cache = lstm_forward(x, None, None, params, y)
    return loss, lstm_backward(1.0, cache)[-1]


def _train(model, train, test, n_chars, *, n_iter, n_hidden, seq_len, batch, rng):
    """Adagrad on random windows; returns the per-character losses."""
    init = init_rnn_params if model == "rnn" else init_lstm_params
    params = init(n_chars, n_hidden, n_chars, random_state=rng)
    memory = {key: np.zeros_like(value) for key, value in params.items()}
    curve = []
    for _ in range(n_iter):
        starts = rng.randint(len(train) - seq_len, size=batch)
        x, y = _windows(train, starts, seq_len)
        loss, grads = _loss_and_grads(model, x, y, params)
        grads, _ = clip_gradients(grads, max_norm=5.0)
        for key, grad in grads.items():
            memory[key] += grad * grad
            params[key] -= 0.1 * grad / np.sqrt(memory[key] + 1e-8)
        curve.append(loss / x.size)
    starts = np.arange(0, len(test) - seq_len, seq_len)
    x, y = _windows(test, starts, seq_len)
    test_loss = _loss_and_grads(model, x, y, params)[0] / x.size
    return np.array(curve), float(test_loss)


def _run(out_dir):
    text = _text()
    chars = sorted(set(text))
    ids = np.searchsorted(chars, list(text))
    split = int(0.85 * len(ids))
    train, test = ids[:split], ids[split:]
    counts = np.bincount(train, minlength=len(chars)) + 1.0
    unigram = float(-np.log(counts / counts.sum())[test].mean())
    uniform = np.log(len(chars))
    rng = np.random.RandomState(0)
    settings = dict(n_iter=300, n_hidden=32, seq_len=25, batch=16, rng=rng)
    results = {
        model: _train(model, train, test, len(chars), **settings)
        for model in ("rnn", "lstm")
    }
    if out_dir is not None:
        plt = import_matplotlib_pyplot()

        fig, ax = plt.subplots(figsize=(6, 3.5))
        width = 20
        for model, (curve, _) in results.items():
            smooth = np.convolve(curve, np.ones(width) / width, mode="valid")
            ax.plot(np.arange(width, len(curve) + 1), smooth, label=model.upper())
        ax.axhline(uniform, color="gray", ls=":", label="uniform")
        ax.axhline(unigram, color="gray", ls="--", label="unigram (test)")
        ax.set_xlabel("Adagrad step (batch of 16 windows of 25 characters)")
        ax.set_ylabel("train loss per character (nats)")
        ax.set_title("Character models trained with hand-derived gradients")
        ax.legend()
        save_figure(fig, out_dir, "backprop_char_rnn_loss.png")
    (rnn_curve, rnn_test), (lstm_curve, lstm_test) = results.values()
    return f"""
    Character-level RNN and LSTM (32 hidden units) trained with the hand-derived
    gradients of rnn_backward / lstm_backward (checked against PyTorch in the
    tests) and Adagrad, on the {len(text)}-character essay in heapq.__about__
    ({len(chars)} distinct characters), 300 steps each.
    Train loss per character, first 20 -> last 20 steps:
      RNN  {rnn_curve[:20].mean():.2f} -> {rnn_curve[-20:].mean():.2f} nats
      LSTM {lstm_curve[:20].mean():.2f} -> {lstm_curve[-20:].mean():.2f} nats
    Held-out last 15% of the text, nats/char: RNN {rnn_test:.2f}, LSTM {lstm_test:.2f};
    naive baselines: unigram frequencies {unigram:.2f}, uniform {uniform:.2f}.
    """


SECTION = TourSection(
    name="backprop",
    title="Backpropagation by hand: a character RNN and LSTM",
    run=_run,
    order=60,
)
