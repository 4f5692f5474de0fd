"""Tour section: a character-level RNN and LSTM trained with these gradients.

The gallery example ``examples/backprop/plot_char_rnn.py`` trains the same
models on the same text: it calls :func:`essay`, :func:`windows`,
:func:`loss_and_grads`, :func:`train_adagrad`, :func:`held_out_loss`,
:func:`unigram_loss` and :func:`plot_moving_averages`, so both show one demo.
"""

import heapq

import numpy as np

from mathlearn._tour import TourSection, save_figure
from mathlearn.utils._optional import import_matplotlib_pyplot


def essay(train_fraction=0.85):
    """François Pinard's essay on heaps, shipped with Python in ``heapq``.

    Returns the text (white space folded), its sorted distinct characters,
    and the character ids of its first ``train_fraction`` (to train on) and
    of the rest (held out).
    """
    text = " ".join(heapq.__about__.split())
    chars = sorted(set(text))
    ids = np.searchsorted(chars, list(text))
    split = int(train_fraction * len(ids))
    return text, chars, ids[:split], ids[split:]


def windows(ids, starts, length):
    """Inputs and next-character targets, each of shape (len(starts), length)."""
    chunks = ids[starts[:, None] + np.arange(length + 1)]
    return chunks[:, :-1], chunks[:, 1:]


def loss_and_grads(model, x, y, params):
    """Summed negative log-likelihood of ``y`` and the parameters' gradients.

    ``model`` is ``"rnn"`` or ``"lstm"``.
    """
    from mathlearn.backprop import (
        lstm_backward,
        lstm_forward,
        rnn_backward,
        rnn_forward,
    )

    if model == "rnn":
        loss, cache = rnn_forward(x, None, params, y)
        return loss, rnn_backward(1.0, cache)[-1]
    loss, cache = lstm_forward(x, None, None, params, y)
    return loss, lstm_backward(1.0, cache)[-1]


def train_adagrad(
    model, train, n_chars, *, n_iter, n_hidden, seq_len, batch, rng, learning_rate=0.1
):
    """Adagrad on random windows of ``train``, the gradient norm clipped at 5.

    The parameters are drawn from ``rng``, then each step draws ``batch``
    windows of ``seq_len`` characters from it. Returns the training loss per
    character at each step and the trained parameters.
    """
    from mathlearn.backprop import clip_gradients, init_lstm_params, init_rnn_params

    init = init_rnn_params if model == "rnn" else init_lstm_params
    params = init(n_chars, n_hidden, n_chars, random_state=rng)
    memory = {key: np.zeros_like(value) for key, value in params.items()}
    curve = []
    for _ in range(n_iter):
        x, y = windows(train, rng.randint(len(train) - seq_len, size=batch), seq_len)
        loss, grads = loss_and_grads(model, x, y, params)
        grads, _ = clip_gradients(grads, max_norm=5.0)
        for key, grad in grads.items():
            memory[key] += grad * grad
            params[key] -= learning_rate * grad / np.sqrt(memory[key] + 1e-8)
        curve.append(loss / x.size)
    return np.array(curve), params


def held_out_loss(model, params, test, seq_len):
    """Loss per character on consecutive windows of ``seq_len`` of ``test``."""
    x, y = windows(test, np.arange(0, len(test) - seq_len, seq_len), seq_len)
    return float(loss_and_grads(model, x, y, params)[0] / x.size)


def unigram_loss(train, test, n_chars):
    """Loss per character on ``test`` of add-one smoothed ``train`` frequencies."""
    counts = np.bincount(train, minlength=n_chars) + 1.0
    return float(-np.log(counts / counts.sum())[test].mean())


def plot_moving_averages(ax, curves, width):
    """Each loss curve of ``curves`` (label to curve), averaged over ``width``."""
    for label, curve in curves.items():
        smooth = np.convolve(curve, np.ones(width) / width, mode="valid")
        ax.plot(np.arange(width, len(curve) + 1), smooth, label=label)


def _run(out_dir):
    text, chars, train, test = essay()
    unigram = unigram_loss(train, test, len(chars))
    uniform = np.log(len(chars))
    rng = np.random.RandomState(0)
    settings = dict(n_iter=300, n_hidden=32, seq_len=25, batch=16, rng=rng)
    results = {}
    for model in ("rnn", "lstm"):
        curve, params = train_adagrad(model, train, len(chars), **settings)
        results[model] = curve, held_out_loss(model, params, test, seq_len=25)
    if out_dir is not None:
        plt = import_matplotlib_pyplot()

        fig, ax = plt.subplots(figsize=(6, 3.5))
        curves = {model.upper(): curve for model, (curve, _) in results.items()}
        plot_moving_averages(ax, curves, width=20)
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
