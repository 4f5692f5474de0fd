"""Tour section: kernel regression as attention pooling on a 1-D problem."""

import numpy as np

from mathlearn._tour import TourSection, save_figure
from mathlearn.utils._optional import import_matplotlib_pyplot


def _truth(x):
    return 2 * np.sin(x) + x**0.8


def _run(out_dir):
    from mathlearn.kernel_regression import NadarayaWatsonRegressor

    rng = np.random.RandomState(0)
    X_train = np.sort(rng.uniform(0, 5, size=(200, 1)), axis=0)
    y_train = _truth(X_train[:, 0]) + 0.5 * rng.normal(size=200)
    X_test = np.linspace(0, 5, 100)[:, None]
    y_test = _truth(X_test[:, 0])

    reg = NadarayaWatsonRegressor().fit(X_train, y_train)
    mse = np.mean((reg.predict(X_test) - y_test) ** 2)
    scott = NadarayaWatsonRegressor(bandwidth="scott").fit(X_train, y_train)
    mse_scott = np.mean((scott.predict(X_test) - y_test) ** 2)
    mse_mean = np.mean((y_train.mean() - y_test) ** 2)
    weights = reg.attention_weights(X_test)
    nearest_weight = weights.max(axis=1).mean()

    if out_dir is not None:
        plt = import_matplotlib_pyplot()

        fig, (ax_map, ax_fit) = plt.subplots(1, 2, figsize=(11, 4.2))
        image = ax_map.pcolormesh(
            X_train[:, 0], X_test[:, 0], weights, shading="nearest", cmap="Reds"
        )
        ax_map.set(
            xlabel="training input (key)",
            ylabel="test input (query)",
            title="attention weights softmax(-(q - k)^2 / 2h^2)",
        )
        fig.colorbar(image, ax=ax_map, label="attention weight")
        ax_fit.plot(X_train[:, 0], y_train, ".", color="0.6", label="training data")
        ax_fit.plot(X_test[:, 0], y_test, "k--", label="truth")
        ax_fit.plot(X_test[:, 0], reg.predict(X_test), "C3", label="Nadaraya-Watson")
        ax_fit.axhline(y_train.mean(), color="C0", lw=1, label="mean (baseline)")
        ax_fit.set(
            xlabel="x",
            ylabel="y",
            title=f"leave-one-out bandwidth h = {reg.bandwidth_[0]:.3f}",
        )
        ax_fit.legend(loc="lower right")
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
