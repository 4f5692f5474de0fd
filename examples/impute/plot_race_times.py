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
from matplotlib.ticker import LogLocator
from sklearn.exceptions import ConvergenceWarning
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
# ``SVDImputer(1, center=None)`` fits exactly the model the data follow: the
# speed of athlete ``i`` in race ``j`` is ``u_i v_j``, an athlete factor
# times a race factor, with no offsets. The error is the root mean squared
# error (RMSE) on the hidden speeds, which are about 1.
imputers = {
    "race mean": SimpleImputer(),
    "KNN (k=5)": KNNImputer(),
    "SVD rank 1, no centring": SVDImputer(1, center=None, random_state=0),
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
# The same model at higher ranks fits the noise as well, and predicts the
# hidden speeds worse; its extra factors are so poorly determined that L-BFGS
# stops at ``max_iter`` (the ConvergenceWarning is silenced here). Then fresh
# data are drawn with more and more entries hidden; each athlete keeps at
# least one race, so the fraction actually missing is a little below the
# ``missing`` probability asked for.
ranks = [1, 2, 3, 5]
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    rank_errors = [
        rmse(SVDImputer(k, center=None, random_state=0).fit_transform(X)) for k in ranks
    ]
rank_missing = missing.mean()
print(", ".join(f"rank {k}: {e:.4f}" for k, e in zip(ranks, rank_errors, strict=True)))

probabilities = [0.2, 0.4, 0.6, 0.8, 0.9]
fractions = []
curves = {"race mean": [], "KNN (k=5)": [], "SVD rank 1": [], "trace norm": []}
for probability in probabilities:
    speed, X, _ = make_race_speeds(missing=probability, random_state=1)
    missing = np.isnan(X)
    fractions.append(missing.mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curves["race mean"].append(rmse(SimpleImputer().fit_transform(X)))
        curves["KNN (k=5)"].append(rmse(KNNImputer().fit_transform(X)))
        curves["SVD rank 1"].append(
            rmse(SVDImputer(1, center=None, random_state=0).fit_transform(X))
        )
        curves["trace norm"].append(
            rmse(TraceNormImputer(random_state=0).fit_transform(X))
        )

# %%
# Plot
# ----
# Error axes start at zero, so that a difference in the fourth decimal does
# not look like a jump; the shrinkage axis is labelled 1, 2, 5 rather than in
# powers of ten.
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
axes[0].semilogx(trace.shrinkage_path_, trace.validation_errors_, "o-")
axes[0].axvline(trace.shrinkage_, color="k", ls="--", label="chosen")
axes[0].xaxis.set_major_formatter("{x:g}")
axes[0].xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
axes[0].xaxis.set_minor_formatter("{x:g}")
axes[0].set_ylim(0, None)
axes[0].set_xlabel("shrinkage (lambda)")
axes[0].set_ylabel("RMSE on held-out observed entries")
axes[0].set_title("TraceNormImputer: shrinkage path")
axes[0].legend()
axes[1].plot(ranks, rank_errors, "o-")
axes[1].set_xticks(ranks)
axes[1].set_ylim(0, None)
axes[1].set_xlabel("rank of SVDImputer(rank, center=None)")
axes[1].set_ylabel("RMSE on missing speeds")
axes[1].set_title(f"Error against the rank ({rank_missing:.0%} missing)")
for name, values in curves.items():
    axes[2].plot(fractions, values, "o-", label=name)
axes[2].xaxis.set_major_formatter("{x:.0%}")
axes[2].set_ylim(0, None)
axes[2].set_xlabel("entries missing")
axes[2].set_ylabel("RMSE on missing speeds")
axes[2].set_title("Completion error")
axes[2].legend()
fig.tight_layout()
plt.show()
