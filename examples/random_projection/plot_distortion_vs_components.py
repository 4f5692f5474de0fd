"""
=====================================================
Distortion against the number of components
=====================================================

Five random projections reduce two data sets: dense Gaussian data and very
sparse data whose rows each have one heavy coordinate. For each number of
components ``k`` we measure the 99th percentile of ``|ratio - 1|``, where
``ratio`` is the projected over the original squared distance of a random
pair of rows, with :func:`~mathlearn.random_projection.pairwise_distortion`.
On dense data every projection behaves like the Johnson-Lindenstrauss bound
predicts. On very sparse data scikit-learn's ``SparseRandomProjection``
(density ``1/sqrt(n_features)``) falls far behind: a component rarely sees a
row's heavy coordinate. Achlioptas' density 1/3 still sees it, at the price
of a dense pattern; :class:`~mathlearn.random_projection.
HadamardRandomProjection` keeps up with the Gaussian projection while storing
only a sign per feature.
"""

# %%
# Data and projections
# --------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullLocator
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

rng = np.random.RandomState(42)
data = {
    "dense Gaussian 1,000 x 5,000": rng.normal(size=(1000, 5000)),
    "very sparse 2,000 x 100,000": make_very_sparse(
        2000, 100_000, density=1e-4, random_state=42
    ),
}
projections = {
    "Gaussian (sklearn)": lambda k: GaussianRandomProjection(k, random_state=0),
    "Sparse, auto (sklearn)": lambda k: SparseRandomProjection(k, random_state=0),
    "Achlioptas, 1/3": lambda k: AchlioptasRandomProjection(k, random_state=0),
    "Hadamard": lambda k: HadamardRandomProjection(k, random_state=0),
    "Sampled": lambda k: SampledRandomProjection(k, random_state=0),
}
ks = [32, 64, 128, 256, 512, 1024]

# %%
# Measure
# -------
p99 = {name: {label: [] for label in projections} for name in data}
for name, X in data.items():
    print(name)
    for label, make in projections.items():
        for k in ks:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                X_new = make(k).fit_transform(X)
            result = pairwise_distortion(X, X_new, n_pairs=1000, random_state=0)
            p99[name][label].append(result.distortion_quantile(0.99))
        values = ", ".join(f"{v:.2f}" for v in p99[name][label])
        print(f"  {label:<24} p99 |ratio - 1| for k = {ks}: {values}")

# %%
# Plot
# ----
# The dashed line is the Johnson-Lindenstrauss scale ``sqrt(8 log(1000) / k)``
# for 1,000 points; it is a bound, so all curves sit below it on dense data.
# Both axes are logarithmic, labelled with plain numbers.
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, name in zip(axes, data, strict=True):
    for label, values in p99[name].items():
        ax.loglog(ks, values, marker="o", label=label)
    ax.loglog(ks, np.sqrt(8 * np.log(1000) / np.array(ks)), "k--", label="JL scale")
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_title(name)
    ax.set_xlabel("n_components k")
axes[0].yaxis.set_major_formatter("{x:g}")
axes[0].set_ylabel("99th percentile of |ratio - 1|")
axes[1].legend(fontsize=8)
plt.show()
