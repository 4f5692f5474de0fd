"""
=================================================
Nadaraya-Watson regression as attention pooling
=================================================

A query attends to every training input (its keys) with weights
``softmax(-(q - k)**2 / 2 h**2)`` and returns the weighted average of the
training targets (the values): this is the Nadaraya-Watson estimator. We fit it
to a noisy 1-D curve, choose the bandwidth ``h`` by closed-form leave-one-out
cross-validation, and draw the attention weights as a heat map next to the
fitted curve, for the Gaussian and the compact Epanechnikov kernel.
"""

# %%
# Data: a smooth curve plus noise
# -------------------------------
# The curve, the data and the attention plot are shared with the
# ``kernel_regression`` section of ``mathlearn tour``, which shows this demo.
import matplotlib.pyplot as plt
import numpy as np

from mathlearn.kernel_regression import NadarayaWatsonRegressor, nadaraya_watson
from mathlearn.kernel_regression._tour import noisy_curve, plot_attention, truth

X_train, y_train, X_test = noisy_curve(n_train=150, n_test=120)

# %%
# Bandwidth by leave-one-out cross-validation
# -------------------------------------------
# Leaving point ``i`` out only removes the diagonal weight of row ``i`` of the
# training attention matrix, so the whole leave-one-out curve costs one pass.
gaussian = NadarayaWatsonRegressor(kernel="gaussian").fit(X_train, y_train)
compact = NadarayaWatsonRegressor(kernel="epanechnikov").fit(X_train, y_train)
for name, reg in [("gaussian", gaussian), ("epanechnikov", compact)]:
    mse = np.mean((reg.predict(X_test) - truth(X_test[:, 0])) ** 2)
    print(
        f"{name:>12}: h = {reg.bandwidth_[0]:.3f}, LOO MSE = {reg.cv_mse_:.3f}, "
        f"test MSE vs truth = {mse:.4f}"
    )
print(
    f"{'mean':>12}: test MSE vs truth = "
    f"{np.mean((y_train.mean() - truth(X_test[:, 0])) ** 2):.4f}"
)

# %%
# The same numbers from the attention formula
# -------------------------------------------
# The function form takes queries, keys and values, as attention layers do.
pooled = nadaraya_watson(X_test, X_train, y_train, bandwidth=gaussian.bandwidth_)
print("max |estimator - function| =", np.max(np.abs(pooled - gaussian.predict(X_test))))

# %%
# Attention weights and fitted curves
# -----------------------------------
# The Epanechnikov weights are exactly zero beyond ``h``, so they are returned
# as a sparse matrix; the Gaussian weights are dense but decay fast.
fig, axes = plt.subplots(2, 2, figsize=(11, 8))
for row, (name, reg) in enumerate([("gaussian", gaussian), ("epanechnikov", compact)]):
    weights = reg.attention_weights(X_test)
    if hasattr(weights, "toarray"):
        print(f"{name}: {weights.nnz} non-zero weights out of {np.prod(weights.shape)}")
    plot_attention(reg, X_train, y_train, X_test, axes[row], name=name)
fig.tight_layout()
plt.show()
