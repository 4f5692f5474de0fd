"""
===================================================
Accuracy against complexity: the Pareto front
===================================================

A formula search returns many formulas, each the most accurate found at its
complexity. We recover Newton's law of gravitation from noisy "measurements"
of the pull ``g = G m / r^2`` of a body of mass ``m`` at distance ``r``
(``G = 6.674`` in scaled units), print the front, and plot it: the loss
falls steeply until the law is found and barely moves after, which is where
:class:`~mathlearn.symbolic.SymbolicRegressor` stops (its selected formula).
A parametric family of curves, ``f(r; a) = exp(-r / a)``, is then recovered
directly from samples of ``(r, a)``.
"""

# %%
# Noisy measurements of g = G m / r^2
# -----------------------------------
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mathlearn.symbolic import SymbolicRegressor

rng = np.random.RandomState(0)
n = 80
data = pd.DataFrame({"m": rng.uniform(1, 5, n), "r": rng.uniform(1, 3, n)})
G = 6.674
pull = G * data["m"] / data["r"] ** 2
pull_noisy = pull * (1 + 0.01 * rng.normal(size=n))

# %%
# The front has one row per complexity (nodes plus coefficients of the
# formula): ``loss`` is the training mean squared error of the most accurate
# formula found at that complexity, and ``score`` how much ``log(loss)``
# drops per unit of complexity from the row above. The selected formula is
# an accurate one with a large score: after it, more complexity buys little.
reg = SymbolicRegressor(generations=0, random_state=0).fit(data, pull_noisy)
print("selected:", reg.expression_)
print(reg.pareto_front_[["complexity", "loss", "score", "expression"]].head(10))

# %%
# A family of curves f(r; a), fitted at once
# -------------------------------------------
# A common question: curves ``f(r)`` measured for several values of a
# parameter ``a``, and the formula of the whole family wanted. Instead of
# fitting each curve and then its coefficients against ``a``, fit ``(r, a)``
# together.
r = rng.uniform(0, 4, 200)
a = rng.choice([0.5, 1.0, 1.5, 2.0, 3.0], 200)
family = pd.DataFrame({"r": r, "a": a})
f = np.exp(-r / a) + 0.01 * rng.normal(size=200)
curves = SymbolicRegressor(generations=0, random_state=0).fit(family, f)
print("family:", curves.expression_)

# %%
# The fronts
# ----------
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
reg.plot_pareto_front(ax=axes[0])
axes[0].set_title("Gravitation: g = G m / r^2, 1% noise")
curves.plot_pareto_front(ax=axes[1])
axes[1].set_title("Curve family f(r; a) = exp(-r / a), noise 0.01")
fig.tight_layout()
plt.show()
