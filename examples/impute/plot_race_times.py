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
import matplotlib.pyplot as plt
import numpy as np

from mathlearn._tour import rmse_on_missing
from mathlearn.datasets import make_race_speeds
from mathlearn.impute._tour import (
    fill,
    plot_rank_errors,
    plot_shrinkage_path,
    race_imputers,
    rank_errors,
)

speed, X, _ = make_race_speeds(random_state=0)
missing = np.isnan(X)
print(f"{X.shape[0]} athletes x {X.shape[1]} races, {missing.mean():.0%} missing")

# %%
# Five imputers
# -------------
# ``race_imputers`` returns the imputers of the ``impute`` section of
# ``mathlearn tour``, which shares this demo:
# ``SVDImputer(1, center=None)`` fits exactly the model the data follow: the
# speed of athlete ``i`` in race ``j`` is ``u_i v_j``, an athlete factor
# times a race factor, with no offsets. ``SVDImputer(1)`` adds row and column
# effects the data do not have. The error is the root mean squared error
# (RMSE) on the hidden speeds, which are about 1.
imputers = race_imputers()
for name, imputer in imputers.items():
    X_filled, seconds = fill(imputer, X)
    error = rmse_on_missing(X_filled, speed, missing)
    print(f"{name:<42} RMSE {error:.4f}  ({seconds:.2f} s)")

# %%
# The shrinkage path
# ------------------
# ``alpha="auto"`` walks a decreasing path from the largest singular value
# of the zero-filled residual matrix, with warm starts, scoring each shrinkage
# on held-out observed entries (5 folds on small data, one 10% split on large
# data); the path stops once the error has risen twice in a row. The same
# held-out entries choose the centring (``center_``: with or without the
# athletes' row effects), the power of the shrinkage (``shrinkage_power_``:
# 1, soft-thresholding, or 2, which shrinks strong components less) and how
# much of the shrinkage of the kept singular values is undone
# (``relaxation_``).
trace = imputers["TraceNormImputer(alpha='auto')"]
print(
    f"chosen shrinkage {trace.alpha_:.3g}, rank {trace.n_components_}, "
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
errors = rank_errors(X, speed, ranks)
rank_missing = missing.mean()
print(", ".join(f"rank {k}: {e:.4f}" for k, e in zip(ranks, errors, strict=True)))

probabilities = [0.2, 0.4, 0.6, 0.8, 0.9]
fractions = []
curves = {
    "race mean": "SimpleImputer (race mean)",
    "KNN (k=5)": "KNNImputer (k=5)",
    "SVD rank 1": "SVDImputer(n_components=1, center=None): u_i v_j",
    "trace norm": "TraceNormImputer(alpha='auto')",
}
curve_errors = {label: [] for label in curves}
for probability in probabilities:
    speed, X, _ = make_race_speeds(missing=probability, random_state=1)
    missing = np.isnan(X)
    fractions.append(missing.mean())
    imputers = race_imputers()
    for label, name in curves.items():
        X_filled, _ = fill(imputers[name], X)
        curve_errors[label].append(rmse_on_missing(X_filled, speed, missing))

# %%
# Plot
# ----
# Error axes start at zero, so that a difference in the fourth decimal does
# not look like a jump; the shrinkage axis is labelled 1, 2, 5 rather than in
# powers of ten.
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
plot_shrinkage_path(axes[0], trace)
plot_rank_errors(axes[1], ranks, errors, rank_missing)
for label, values in curve_errors.items():
    axes[2].plot(fractions, values, "o-", label=label)
axes[2].xaxis.set_major_formatter("{x:.0%}")
axes[2].set_ylim(0, None)
axes[2].set_xlabel("entries missing")
axes[2].set_ylabel("RMSE on missing speeds")
axes[2].set_title("Completion error")
axes[2].legend()
fig.tight_layout()
plt.show()
