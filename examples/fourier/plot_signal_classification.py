"""
=========================================
Classifying signals by their spectrum
=========================================

Each sample is a noisy signal of 128 points: a tone at 6 or at 9 cycles per
window (two classes), starting at a random phase, in strong noise. In the
time domain the classes overlap completely, so a linear model on the raw
samples is close to chance level. :class:`~mathlearn.fourier.FourierFeatures`
replaces each signal by its magnitude spectrum, which ignores the phase (a
circular delay only turns the phase of each bin), and the same linear model
then separates the classes; keeping only the 20 lowest bins of the log-power
spectrum works as well.
"""

# %%
# Data
# ----
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mathlearn.fourier import FourierFeatures

rng = np.random.RandomState(0)
n_samples, length = 400, 128
y = rng.randint(0, 2, n_samples)
t = np.arange(length)
cycles = np.where(y == 0, 6, 9)[:, None]
phase = rng.uniform(0, 2 * np.pi, (n_samples, 1))
X = np.sin(2 * np.pi * cycles * t / length + phase)
X += rng.standard_normal((n_samples, length))

# %%
# Three pipelines, five-fold cross-validation
# -------------------------------------------
pipelines = {
    "raw samples": make_pipeline(StandardScaler(), LogisticRegression()),
    "magnitude spectrum": make_pipeline(
        FourierFeatures(spectrum="magnitude"), StandardScaler(), LogisticRegression()
    ),
    "log-power, 20 lowest bins": make_pipeline(
        FourierFeatures(spectrum="log_power", n_coefficients=20),
        StandardScaler(),
        LogisticRegression(),
    ),
}
for name, pipe in pipelines.items():
    scores = cross_val_score(pipe, X, y, cv=5)
    print(f"{name:26s} accuracy {scores.mean():.3f} +- {scores.std():.3f}")

# %%
# Feature names carry the frequencies
# -----------------------------------
features = FourierFeatures(spectrum="magnitude", sampling_rate=128).fit(X)
print(features.get_feature_names_out()[:5], "...")

# %%
# Which features matter
# ---------------------
pipe = pipelines["magnitude spectrum"].fit(X, y)
coef = pipe[-1].coef_.ravel()
spectra = pipe[0].transform(X)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for label, color in ((0, "C0"), (1, "C1")):
    axes[0].plot(
        spectra[y == label].mean(axis=0),
        color=color,
        label=f"class {label} ({6 if label == 0 else 9} cycles)",
    )
axes[0].set(
    xlabel="frequency bin k",
    ylabel="mean |X_k| (ortho)",
    title="Mean magnitude spectrum per class",
)
axes[0].legend()
axes[1].bar(np.arange(coef.size), coef)
axes[1].set(
    xlabel="frequency bin k",
    ylabel="coefficient",
    title="Logistic regression weights on the spectrum",
)
fig.tight_layout()
plt.show()
