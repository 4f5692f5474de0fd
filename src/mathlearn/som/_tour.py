"""Tour section: a self-organizing map of the digits, and SOM imputation.

The digits map is also the gallery example
``examples/som/plot_digits_umatrix.py``, which calls :func:`digits_map`,
:func:`unit_majority` and :func:`plot_digits_map` so both show one demo. The
imputation comparison shares :func:`standardised`, :func:`remove_at_random`
and :func:`rmse_on_missing` with ``examples/som/plot_som_imputer.py`` and
``benchmarks/bench_som.py``.
"""

import time

import numpy as np

from mathlearn._tour import TourSection, save_figure
from mathlearn.utils._optional import import_matplotlib_pyplot


def digits_map(algorithm="batch"):
    """The 12 x 12 hexagonal map of scikit-learn's digits, pixels in [0, 1].

    Returns the data ``X``, the digits ``y`` (never shown to the map), the
    map fitted with ``algorithm`` and the seconds its fit took.
    """
    from sklearn.datasets import load_digits

    from mathlearn.som import SelfOrganizingMap

    digits = load_digits()
    X, y = digits.data / 16.0, digits.target
    start = time.perf_counter()
    som = SelfOrganizingMap(
        n_rows=12, n_cols=12, topology="hexagonal", algorithm=algorithm, random_state=0
    ).fit(X)
    return X, y, som, time.perf_counter() - start


def unit_majority(som, y):
    """Most frequent class of each unit's samples (-1 for an empty unit)."""
    counts = np.zeros((som.n_rows_ * som.n_cols_, y.max() + 1), dtype=np.int64)
    np.add.at(counts, (som.labels_, y), 1)
    return np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), -1)


def plot_digits_map(som, X, majority, pixels):
    """U-matrix with each unit's majority digit, hit map, and component planes.

    Returns the two figures: the U-matrix beside the hit map, and the
    component planes of the 8 ``pixels``.
    """
    plt = import_matplotlib_pyplot()

    maps, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    som.plot_u_matrix(
        ax=axes[0], labels=[str(digit) if digit >= 0 else "" for digit in majority]
    )
    axes[0].set_title(
        "U-matrix: dark cells are cluster borders;\n"
        "the number on a unit is its majority digit"
    )
    som.plot_hit_map(X, ax=axes[1])
    axes[1].set_title("Hit map: images per unit")

    planes = som.plot_component_planes(pixels, n_cols=4)
    for ax, pixel in zip(planes.axes, pixels, strict=False):
        ax.set_title(f"pixel ({pixel // 8}, {pixel % 8})")
    return maps, planes


def _digits_map(out_dir, lines):
    X, y, som, seconds = digits_map()
    majority = unit_majority(som, y)
    purity = np.mean(majority[som.labels_] == y)
    baseline = np.bincount(y).max() / y.size
    lines += [
        f"Digits ({X.shape[0]} x {X.shape[1]} pixels in [0, 1]) on a 12 x 12 "
        f"hexagonal map, 10 batch epochs: {seconds:.2f} s.",
        f"  quantization error {som.quantization_error(X):.3f}, topographic "
        f"error {som.topographic_error(X):.3f}",
        f"  labelling each sample by its unit's majority digit: {purity:.1%} "
        f"correct (largest class alone: {baseline:.1%}); the map never saw "
        "the labels",
    ]
    if out_dir is None:
        return
    pixels = np.argsort(X.var(axis=0))[::-1][:8]
    maps, planes = plot_digits_map(som, X, majority, pixels)
    planes.suptitle("Component planes: the 8 most variable pixels")
    save_figure(maps, out_dir, "som_digits_umatrix.png")
    save_figure(planes, out_dir, "som_digits_component_planes.png")


def standardised(load, n_samples=None):
    """The first ``n_samples`` rows of ``load().data``, standardised.

    Constant features (zero variance after scaling) are dropped.
    """
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(load().data[:n_samples])
    return X[:, X.std(axis=0) > 0]


def remove_at_random(X, rate, rng):
    """A copy of ``X`` with each entry set to NaN with probability ``rate``.

    Returns the copy and its boolean mask of missing entries.
    """
    X_missing = X.copy()
    X_missing[rng.rand(*X.shape) < rate] = np.nan
    return X_missing, np.isnan(X_missing)


def rmse_on_missing(X_filled, X, missing):
    """Root mean squared error of ``X_filled`` against ``X`` on ``missing``."""
    return float(np.sqrt(np.mean((X_filled - X)[missing] ** 2)))


def _imputation(out_dir, lines):
    import warnings

    from sklearn.datasets import (
        load_breast_cancer,
        load_diabetes,
        load_digits,
        load_wine,
    )
    from sklearn.impute import KNNImputer

    from mathlearn.impute import SOMImputer

    rng = np.random.RandomState(0)
    results = {}
    lines.append(
        "Imputation, 30% of the entries missing at random (standardised "
        "features; digits: first 600), RMSE on the missing entries:"
    )
    lines.append(f"  {'data':<14}{'mean':>7}{'KNN':>7}{'SOM':>7}{'SOM/KNN':>9}")
    for name, load in [
        ("wine", load_wine),
        ("diabetes", load_diabetes),
        ("breast cancer", load_breast_cancer),
        ("digits", load_digits),
    ]:
        # The first 600 digits keep the tour fast (KNN is quadratic).
        X = standardised(load, n_samples=600)
        X_missing, missing = remove_at_random(X, 0.3, rng)
        with warnings.catch_warnings():
            # Rows with every entry missing get the column means in both.
            warnings.simplefilter("ignore", UserWarning)
            filled = {
                "mean": np.where(missing, np.nanmean(X_missing, axis=0), X),
                "KNN": KNNImputer().fit_transform(X_missing),
                "SOM": SOMImputer(random_state=0).fit_transform(X_missing),
            }
        rmse = {
            key: rmse_on_missing(value, X, missing) for key, value in filled.items()
        }
        results[name] = rmse
        lines.append(
            f"  {name:<14}{rmse['mean']:>7.3f}{rmse['KNN']:>7.3f}"
            f"{rmse['SOM']:>7.3f}{rmse['SOM'] / rmse['KNN']:>9.2f}"
        )
    if out_dir is None:
        return
    plt = import_matplotlib_pyplot()

    fig, ax = plt.subplots(figsize=(7, 3.8))
    names = list(results)
    width = 0.27
    for k, method in enumerate(["mean", "KNN", "SOM"]):
        ax.bar(
            np.arange(len(names)) + (k - 1) * width,
            [results[name][method] for name in names],
            width,
            label={"mean": "column mean", "KNN": "KNNImputer (k=5)"}.get(
                method, "SOMImputer (defaults)"
            ),
        )
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylabel("RMSE on missing entries")
    ax.set_title("30% missing at random")
    ax.legend()
    save_figure(fig, out_dir, "som_imputation.png")


def _run(out_dir):
    lines = []
    _digits_map(out_dir, lines)
    _imputation(out_dir, lines)
    return "\n".join(lines)


SECTION = TourSection(
    name="som",
    title="Self-organizing maps: a map of the digits, and SOM imputation",
    run=_run,
    order=30,
)
