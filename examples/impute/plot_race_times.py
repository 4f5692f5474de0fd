"""
======================================================
Completing race times: trace-norm and low-rank SVD
======================================================

1,000 athletes run some of 20 hilly races; most finishing times are missing.
A time is roughly the course's difficulty divided by the athlete's ability,
so the matrix of speeds (``1 / time``) is nearly rank one. We fill it with
:class:`~mathlearn.impute.TraceNormImputer` (nuclear-norm soft-impute, the
shrinkage chosen on held-out entries) and
:class:`~mathlearn.impute.SVDImputer` (a rank-``k`` factorisation fitted by
L-BFGS), compare them with scikit-learn's imputers, and plot the shrinkage
path and the error against the rank and the fraction missing.
"""

# %%
# The race-times matrix
# ---------------------
# :func:`~mathlearn.datasets.make_race_speeds` draws abilities and course
# difficulties and times them with inverse-Gaussian noise of mean 1; the
# speeds are ``ability / difficulty`` divided by that noise. Each athlete
# keeps at least one race.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.impute import KNNImputer, SimpleImputer

from mathlearn.datasets import make_race_speeds
from mathlearn.impute import SVDImputer, TraceNormImputer

speed, X, _ = make_race_speeds(random_state=0)
missing = np.isnan(X)
print(f"{X.shape[0]} athletes x {X.shape[1]} races, {missing.mean():.0%} missing")


def rmse(X_filled):
    return np.sqrt(np.mean((X_filled - speed)[missing] ** 2))


# %%
# Four imputers
# -------------
# ``SVDImputer(1, center=None)`` is exactly the forum's model, speed = u_i v_j.
imputers = {
    "race mean": SimpleImputer(),
    "KNN (k=5)": KNNImputer(),
    "SVD rank 1, no centring": SVDImputer(1, center=None),
    "trace norm (auto)": TraceNormImputer(random_state=0),
}
for name, imputer in imputers.items():
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        error = rmse(imputer.fit_transform(X))
    print(f"{name:<26} RMSE {error:.4f}  ({time.perf_counter() - start:.2f} s)")

# %%
# The shrinkage path
# ------------------
# ``shrinkage="auto"`` walks a decreasing path from the largest singular value
# of the zero-filled residual matrix, with warm starts, scoring each shrinkage
# on held-out observed entries (5 folds on small data, one 10% split on large
# data); the path stops once the error has risen twice in a row. The same
# held-out entries choose the centring (``center_``: with or without the
# athletes' row effects), the power of the shrinkage (``shrinkage_power_``:
# 1, soft-thresholding, or 2, which shrinks strong components less) and how
# much of the shrinkage of the kept singular values is undone
# (``relaxation_``).
trace = imputers["trace norm (auto)"]
print(
    f"chosen shrinkage {trace.shrinkage_:.3g}, rank {trace.rank_}, "
    f"center {trace.center_!r}, power {trace.shrinkage_power_}, "
    f"relaxation {trace.relaxation_}"
)

# %%
# Error against the rank and the fraction missing
# -----------------------------------------------
ranks = [1, 2, 3, 5, 8]
rank_errors = [
    rmse(SVDImputer(k, alpha=1.0, random_state=0).fit_transform(X)) for k in ranks
]
fractions = [0.2, 0.4, 0.6, 0.8, 0.9]
curves = {"race mean": [], "KNN (k=5)": [], "SVD rank 1": [], "trace norm": []}
for fraction in fractions:
    speed, X, _ = make_race_speeds(missing=fraction, random_state=1)
    missing = np.isnan(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curves["race mean"].append(rmse(SimpleImputer().fit_transform(X)))
        curves["KNN (k=5)"].append(rmse(KNNImputer().fit_transform(X)))
        curves["SVD rank 1"].append(rmse(SVDImputer(1, center=None).fit_transform(X)))
        curves["trace norm"].append(
            rmse(TraceNormImputer(random_state=0).fit_transform(X))
        )

fig, axes = plt.subplots(1, 3, figsize=(15, 4))
axes[0].semilogx(trace.shrinkage_path_, trace.validation_errors_, "o-")
axes[0].axvline(trace.shrinkage_, color="k", ls="--", label="chosen")
axes[0].set_xlabel("shrinkage (lambda)")
axes[0].set_ylabel("RMSE on held-out observed entries")
axes[0].set_title("TraceNormImputer: shrinkage path")
axes[0].legend()
axes[1].plot(ranks, rank_errors, "o-")
axes[1].set_xlabel("rank of SVDImputer")
axes[1].set_ylabel("RMSE on missing speeds")
axes[1].set_title("Error against the rank (80% missing)")
for name, values in curves.items():
    axes[2].plot(fractions, values, "o-", label=name)
axes[2].set_xlabel("fraction missing")
axes[2].set_ylabel("RMSE on missing speeds")
axes[2].set_title("Completion error")
axes[2].legend()
fig.tight_layout()
plt.show()
