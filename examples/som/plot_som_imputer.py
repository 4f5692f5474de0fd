"""
=========================================
Filling missing values with a SOM
=========================================

:class:`~mathlearn.impute.SOMImputer` trains a self-organizing map on rows
with missing values, using only the features each row has, then reads every
missing entry from the best-matching units of its row. Here 20% to 50% of the
entries of scikit-learn's breast-cancer data are removed at random, and the
error on the removed entries is compared with column means and with
:class:`~sklearn.impute.KNNImputer`.
"""

# %%
# Data with holes
# ---------------
# ``standardised``, ``remove_at_random`` and ``rmse_on_missing`` are shared
# with the ``som`` section of ``mathlearn tour`` and with the benchmark.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.impute import KNNImputer, SimpleImputer

from mathlearn.impute import SOMImputer
from mathlearn.som._tour import remove_at_random, rmse_on_missing, standardised

X = standardised(load_breast_cancer)
rng = np.random.RandomState(0)

# %%
# Compare the imputers
# --------------------
# ``train_on="all"`` (the default) trains on every row: only 0.8 ** 30 of
# the rows are complete at 20% missing, too few for ``train_on="complete"``.
# By default the map has about ``10 * sqrt(n_samples)`` units (here 18 x 13)
# and each row is filled from its 5 best units weighted by inverse distance;
# a 10 x 10 map read at the best unit alone is shown for comparison.
rates = [0.2, 0.3, 0.4, 0.5]
imputers = {
    "column mean": SimpleImputer(),
    "KNNImputer (k=5)": KNNImputer(),
    "SOMImputer (defaults)": SOMImputer(random_state=0),
    "SOMImputer, 10 x 10, best unit": SOMImputer(
        n_rows=10, n_cols=10, n_neighbors_units=1, random_state=0
    ),
}
errors = {name: [] for name in imputers}
for rate in rates:
    X_missing, missing = remove_at_random(X, rate, rng)
    for name, imputer in imputers.items():
        start = time.perf_counter()
        X_filled = imputer.fit_transform(X_missing)
        seconds = time.perf_counter() - start
        errors[name].append(rmse_on_missing(X_filled, X, missing))
        error = errors[name][-1]
        print(f"{rate:.0%} missing, {name:<31} RMSE {error:.3f} ({seconds:.2f} s)")

# %%
# Plot
# ----
fig, ax = plt.subplots(figsize=(6, 4))
for name, values in errors.items():
    ax.plot([100 * r for r in rates], values, marker="o", label=name)
ax.set_xlabel("entries missing (%)")
ax.set_ylabel("RMSE on missing entries (standardised)")
ax.set_title("Breast-cancer data, missing at random")
ax.legend()
plt.show()
