"""Tour section: kernel regression as attention pooling on a 1-D problem.

The data and the figure are also those of the gallery example
``examples/kernel_regression/plot_attention_weights.py``, which calls
:func:`noisy_curve` and :func:`plot_attention` so both show one demo.
"""

import numpy as np

from mathlearn._tour import TourSection, save_figure
from mathlearn.utils._optional import import_matplotlib_pyplot


def truth(x):
    """The noiseless curve ``2 sin(x) + x^0.8``."""
    return 2 * np.sin(x) + x**0.8


def noisy_curve(n_train, n_test, seed=0):
    """``n_train`` sorted noisy samples of :func:`truth` on [0, 5], ``n_test`` queries.

    Returns ``X_train`` of shape (n_train, 1), ``y_train`` (noise of standard
    deviation 0.5) and the evenly spaced queries ``X_test`` of shape (n_test, 1).
    """
    rng = np.random.RandomState(seed)
    X_train = np.sort(rng.uniform(0, 5, size=(n_train, 1)), axis=0)
    y_train = truth(X_train[:, 0]) + 0.5 * rng.normal(size=n_train)
    X_test = np.linspace(0, 5, n_test)[:, None]
    return X_train, y_train, X_test


def plot_attention(reg, X_train, y_train, X_test, axes, *, name="gaussian"):
    """Attention weights of ``reg`` (a heat map) and its fitted curve.

    ``axes`` is a pair: the heat map of ``reg.attention_weights(X_test)`` (keys
    across, queries down) goes in the first, the data, the truth and the
    prediction in the second.
    """
    ax_map, ax_fit = axes
    weights = reg.attention_weights(X_test)
    if hasattr(weights, "toarray"):
        weights = weights.toarray()
    mesh = ax_map.pcolormesh(
        X_train[:, 0], X_test[:, 0], weights, shading="nearest", cmap="Reds"
    )
    ax_map.figure.colorbar(mesh, ax=ax_map, label="attention weight")
    ax_map.set(
        xlabel="training input (key)",
        ylabel="test input (query)",
        title=f"{name} attention weights",
    )
    ax_fit.plot(X_train[:, 0], y_train, ".", color="0.6", label="training data")
    ax_fit.plot(X_test[:, 0], truth(X_test[:, 0]), "k--", label="truth")
    ax_fit.plot(X_test[:, 0], reg.predict(X_test), "C3", label="Nadaraya-Watson")
    ax_fit.axhline(y_train.mean(), color="C0", lw=1, label="mean (baseline)")
    ax_fit.set(xlabel="x", ylabel="y", title=f"bandwidth h = {reg.bandwidth_[0]:.3f}")
    ax_fit.legend(loc="lower right")


def _run(out_dir):
    from mathlearn.kernel_regression import NadarayaWatsonRegressor

    X_train, y_train, X_test = noisy_curve(200, 100)
    y_test = truth(X_test[:, 0])

    reg = NadarayaWatsonRegressor().fit(X_train, y_train)
    mse = np.mean((reg.predict(X_test) - y_test) ** 2)
    scott = NadarayaWatsonRegressor(bandwidth="scott").fit(X_train, y_train)
    mse_scott = np.mean((scott.predict(X_test) - y_test) ** 2)
    mse_mean = np.mean((y_train.mean() - y_test) ** 2)
    nearest_weight = reg.attention_weights(X_test).max(axis=1).mean()

    if out_dir is not None:
        plt = import_matplotlib_pyplot()

        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        plot_attention(reg, X_train, y_train, X_test, axes)
        save_figure(fig, out_dir, "kernel_regression_attention.png")

    return f"""\
    Nadaraya-Watson regression of y = 2 sin(x) + x^0.8 + noise (200 points):
    each test query attends to the training keys with Gaussian weights.
    Bandwidth chosen by closed-form leave-one-out CV: h = {reg.bandwidth_[0]:.3f}
    (Scott's rule: {scott.bandwidth_[0]:.3f}); LOO MSE {reg.cv_mse_:.3f}.
    Test MSE against the noiseless truth:
      Nadaraya-Watson, LOO bandwidth   {mse:.4f}
      Nadaraya-Watson, Scott bandwidth {mse_scott:.4f}
      predict the mean (baseline)      {mse_mean:.4f}
    Each query puts on average {nearest_weight:.3f} of its attention on its
    single heaviest key (1.0 would be nearest-neighbour regression)."""


SECTION = TourSection(
    name="kernel_regression",
    title="Kernel regression as attention pooling",
    run=_run,
    order=50,
)
