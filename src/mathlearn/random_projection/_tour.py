"""Tour section: projecting very sparse data while keeping its distances."""

import pickle
import time
import warnings

from mathlearn._tour import TourSection, save_figure
from mathlearn.utils._optional import import_matplotlib_pyplot


def _run(out_dir):
    from sklearn.random_projection import (
        GaussianRandomProjection,
        SparseRandomProjection,
    )

    from mathlearn.datasets import make_very_sparse
    from mathlearn.random_projection import (
        AchlioptasRandomProjection,
        HadamardRandomProjection,
        SampledRandomProjection,
        pairwise_distortion,
    )

    n_samples, n_features, k = 2000, 100_000, 256
    X = make_very_sparse(n_samples, n_features, density=1e-4, random_state=1)
    projections = {
        "sklearn GaussianRandomProjection": GaussianRandomProjection(k, random_state=0),
        "sklearn SparseRandomProjection": SparseRandomProjection(k, random_state=0),
        "AchlioptasRandomProjection(auto)": AchlioptasRandomProjection(
            k, density="auto", random_state=0
        ),
        "HadamardRandomProjection": HadamardRandomProjection(k, random_state=0),
        "SampledRandomProjection": SampledRandomProjection(k, random_state=0),
    }
    lines = [
        f"Very sparse data: {n_samples:,} x {n_features:,}, {X.nnz:,} non-zeros "
        "(density 1e-4), one coordinate of each row 10x the others.",
        f"Projected to k = {k} columns. For 2,000 random pairs of rows, ratio = "
        "squared distance after / before the projection (1 is perfect);",
        "p99 and max: the 99th percentile and the largest |ratio - 1|; "
        "fitted: size of the fitted projection (pickled); time: fit + "
        "transform.",
        f"  {'projection':<34}{'p99':>7}{'max':>7}{'fitted':>11}{'time':>8}",
    ]
    results = {}
    for name, estimator in projections.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            X_new = estimator.fit_transform(X)
        seconds = time.perf_counter() - start
        size = len(pickle.dumps(estimator)) / 2**20
        result = pairwise_distortion(X, X_new, n_pairs=2000, random_state=0)
        results[name] = result
        lines.append(
            f"  {name:<34}{result.distortion_quantile(0.99):>7.2f}"
            f"{result.max_distortion:>7.2f}{size:>8.1f} MB{seconds:>7.2f}s"
        )
    lines.append(
        "A sparse projection rarely sees a row's heavy coordinate; the Hadamard "
        "transform spreads it over all coordinates first, and matches the "
        "Gaussian projection with a fitted state of a few hundred kB."
    )
    if out_dir is not None:
        plt = import_matplotlib_pyplot()

        fig, ax = plt.subplots(figsize=(7, 3.8))
        for name in [
            "sklearn SparseRandomProjection",
            "sklearn GaussianRandomProjection",
            "HadamardRandomProjection",
        ]:
            results[name].plot(ax=ax, bins=60, label=name.replace("sklearn ", ""))
        ax.set_xlim(0, 4)
        ax.legend()
        ax.set_title(f"Squared-distance ratios, very sparse data, k = {k}")
        save_figure(fig, out_dir, "random_projection_distortion.png")
    return "\n".join(lines)


SECTION = TourSection(
    name="random_projection",
    title="Random projections of very sparse data",
    run=_run,
    order=10,
)
