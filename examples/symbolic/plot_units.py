"""
==============================================
Units rule out meaningless formulas
==============================================

A length ``r`` and a length scale ``L`` that barely varies (within 2% of
1 m), and ``y = exp(-r / L)`` measured with noise. Without units the shortest
formula that fits is ``exp(-r)``, the exponential of a length: it means
nothing, and it is wrong as soon as ``L`` changes. Given the units of the
features (metres, metres), :class:`~mathlearn.symbolic.SymbolicRegressor`
rejects every formula that applies ``exp``, ``log`` or ``sin`` to a
dimensional quantity or adds quantities of different dimensions, and finds
``exp(-r / L)``.
"""

# %%
# Data
# ----
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mathlearn.symbolic import SymbolicRegressor

rng = np.random.RandomState(0)
n = 60
X = pd.DataFrame({"r": rng.uniform(0, 3, n), "L": rng.uniform(1, 1.02, n)})
y = np.exp(-X["r"] / X["L"]) + 0.02 * rng.normal(size=n)

# %%
# Without and with units
# ----------------------
free = SymbolicRegressor(generations=0, random_state=0).fit(X, y)
bound = SymbolicRegressor(generations=0, units=["m", "m"], random_state=0)
bound.fit(X, y)
print("without units:", free.expression_)
print("with units:   ", bound.expression_)

# %%
# Extrapolation to other length scales
# ------------------------------------
# Both fit the training data equally well; only the meaningful one carries
# over to L = 2 m.
r_new = np.linspace(0, 3, 100)
X_new = pd.DataFrame({"r": r_new, "L": np.full(100, 2.0)})
truth = np.exp(-r_new / 2.0)
for name, reg in [("without units", free), ("with units", bound)]:
    rmse = np.sqrt(np.mean((reg.predict(X_new) - truth) ** 2))
    print(f"{name:>14}: RMSE at L = 2 m: {rmse:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
axes[0].plot(r_new, truth, "k", label="truth, L = 2 m")
axes[0].plot(r_new, free.predict(X_new), "--", label=f"no units: {free.expression_}")
axes[0].plot(r_new, bound.predict(X_new), ":", label=f"units: {bound.expression_}")
axes[0].set_xlabel("r (m)")
axes[0].legend(fontsize=8)
axes[0].set_title("Extrapolating to L = 2 m")
free.plot_pareto_front(ax=axes[1])
bound.plot_pareto_front(ax=axes[1])
axes[1].set_title("Fronts without (blue) and with (orange) units")
fig.tight_layout()
plt.show()
