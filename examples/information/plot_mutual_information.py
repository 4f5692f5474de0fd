"""
==============================================
Mutual information: identities and estimators
==============================================

Mutual information measures how much knowing ``Y`` tells about ``X``:
``I(X; Y) = D_KL(P_XY || P_X P_Y) = H(X) - H(X | Y) = H(X) + H(Y) - H(X, Y)``.
We check these identities on a probability table, measure the dependence of
two label samples, and estimate the mutual information of correlated Gaussian
samples with the Kraskov-Stoegbauer-Grassberger (KSG) k-nearest-neighbour
estimator, against the closed form ``-log(1 - rho**2) / 2`` and a naive
histogram estimate.
"""

# %%
# A joint probability table
# -------------------------
import matplotlib.pyplot as plt
import numpy as np

from mathlearn.information import (
    conditional_entropy,
    entropy,
    joint_entropy,
    kl_divergence,
    mutual_information,
)
from mathlearn.information._tour import gaussian_mutual_information

p = np.array([[0.30, 0.05, 0.00], [0.05, 0.30, 0.05], [0.00, 0.05, 0.20]])
p_x, p_y = p.sum(axis=1), p.sum(axis=0)
print(f"I(X;Y)               = {mutual_information(p, base=2):.6f} bits")
print(f"D_KL(P_XY||P_X P_Y)  = {kl_divergence(p, np.outer(p_x, p_y), base=2):.6f}")
h_x, h_y = entropy(p_x, base=2), entropy(p_y, base=2)
print(f"H(X) - H(X|Y)        = {h_x - conditional_entropy(p, base=2):.6f}")
print(f"H(X) + H(Y) - H(X,Y) = {h_x + h_y - joint_entropy(p, base=2):.6f}")

# %%
# Paired label samples
# --------------------
# Labels can be any hashable values; the table is counted from the pairs.
rng = np.random.RandomState(0)
weather = rng.choice(["sun", "rain", "snow"], size=1000, p=[0.6, 0.3, 0.1])
umbrella = np.where(weather == "sun", rng.rand(1000) < 0.1, rng.rand(1000) < 0.8)
print(f"H(weather)            = {entropy(weather, kind='discrete', base=2):.3f} bits")
print(
    f"I(weather; umbrella)  = {mutual_information(weather, umbrella, base=2):.3f} bits"
)

# %%
# Continuous samples: KSG against a histogram
# -------------------------------------------
# ``gaussian_mutual_information`` is shared with the ``information`` section
# of ``mathlearn tour``: for each ``rho`` it pairs ``X = z[:, 0]`` with
# ``Y = rho X + sqrt(1 - rho^2) z[:, 1]``, and returns the KSG estimates
# (3 neighbours) and those of a 20 x 20 histogram.
rhos = np.linspace(0, 0.95, 10)
ksg, histogram = gaussian_mutual_information(rhos, rng.normal(size=(3000, 2)))
closed_form = -0.5 * np.log(1 - rhos**2)
print("largest error, KSG       :", np.max(np.abs(ksg - closed_form)).round(3))
print("largest error, histogram :", np.max(np.abs(histogram - closed_form)).round(3))

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(rhos, closed_form, "k--", label="closed form")
ax.plot(rhos, ksg, "o-", color="C3", label="KSG, k = 3")
ax.plot(rhos, histogram, "s:", color="C0", label="20 x 20 histogram")
ax.set(xlabel="correlation rho", ylabel="I(X; Y) in nats", title="n = 3,000 samples")
ax.legend()
plt.show()
