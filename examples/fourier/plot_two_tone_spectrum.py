"""
=================================================
The spectrum of a two-tone signal, for any length
=================================================

A noisy signal made of a 50 Hz and a 120 Hz sine is sampled at 1 kHz for one
second, so it has N = 1000 samples: not a power of two, and no zero-padding is
needed. :func:`~mathlearn.fourier.rfft` gives its non-negative frequencies,
:func:`~mathlearn.fourier.rfftfreq` their values in hertz, and the amplitude
:math:`2|X_k|/N` reads the tones' amplitudes off the peaks. We check the
result against :func:`numpy.fft.rfft` and against the :math:`O(N^2)`
definition :func:`~mathlearn.fourier.dft`, and show what changes with the
three normalisations and above the Nyquist frequency.
"""

# %%
# The signal
# ----------
import matplotlib.pyplot as plt
import numpy as np

from mathlearn.fourier import dft, fft, fftfreq, fftshift, rfft
from mathlearn.fourier._tour import amplitude_spectrum, two_tone_signal

# ``two_tone_signal`` and ``amplitude_spectrum`` are shared with the
# ``fourier`` section of ``mathlearn tour``.
rate, n = 1000.0, 1000
t, clean, x = two_tone_signal(np.random.RandomState(0), rate, n)

# %%
# Its spectrum
# ------------
# ``rfft`` returns ``n // 2 + 1 = 501`` bins, from 0 Hz to the Nyquist
# frequency ``rate / 2 = 500`` Hz, spaced ``rate / n = 1`` Hz apart.
freqs, amplitude, peaks = amplitude_spectrum(x, rate)
for k in peaks:
    print(f"peak at {freqs[k]:.0f} Hz, amplitude {amplitude[k]:.2f}")

# %%
# Same numbers as numpy and as the definition
# -------------------------------------------
X, reference = rfft(x), np.fft.rfft(x)
print(
    f"max |rfft - numpy.fft.rfft| / max |X| = "
    f"{np.max(np.abs(X - reference)) / np.max(np.abs(reference)):.1e}"
)
print(
    f"max |fft - dft| / max |X|             = "
    f"{np.max(np.abs(fft(x) - dft(x))) / np.max(np.abs(reference)):.1e}"
)

# %%
# Normalisation
# -------------
# ``norm`` only moves a constant factor between the forward and the inverse
# transform: ``"backward"`` (numpy's default) leaves the forward one
# unscaled, ``"forward"`` divides it by N (the bins are then averages), and
# ``"ortho"`` divides both by sqrt(N), which preserves the energy (Parseval).
for norm in ("backward", "ortho", "forward"):
    X_norm = rfft(x, norm=norm)
    print(f"norm={norm!r:11}: |X| at 50 Hz = {np.abs(X_norm[50]):8.3f}")
energy = np.sum(x**2)
print(
    f"sum x^2 = {energy:.3f}, sum |fft(x, norm='ortho')|^2 = "
    f"{np.sum(np.abs(fft(x, norm='ortho')) ** 2):.3f}"
)

# %%
# Aliasing above the Nyquist frequency
# ------------------------------------
# A 620 Hz tone sampled at 1 kHz is indistinguishable from a 380 Hz one: the
# full ``fft`` spectrum, centred with ``fftshift``, shows it at +-380 Hz.
alias = np.sin(2 * np.pi * 620 * t)
full = fftshift(np.abs(fft(alias)) / n)
full_freqs = fftshift(fftfreq(n, d=1 / rate))
print(f"620 Hz tone shows up at {abs(full_freqs[np.argmax(full)]):.0f} Hz")

# %%
# Plot
# ----
fig, axes = plt.subplots(2, 1, figsize=(7, 6))
axes[0].plot(freqs, amplitude, lw=1)
for k in peaks:
    axes[0].annotate(
        f"{freqs[k]:.0f} Hz",
        (freqs[k], amplitude[k]),
        xytext=(6, -4),
        textcoords="offset points",
    )
axes[0].set(
    xlabel="frequency (Hz)",
    ylabel="2 |X_k| / N",
    title="Two tones in noise, N = 1000 (rfft)",
)
axes[1].plot(full_freqs, full, lw=1, color="C3")
axes[1].axvline(rate / 2, ls="--", color="0.5")
axes[1].axvline(-rate / 2, ls="--", color="0.5", label="+-Nyquist")
axes[1].set(
    xlabel="frequency (Hz)",
    ylabel="|X_k| / N",
    title="A 620 Hz tone aliased to 380 Hz (fft + fftshift)",
)
axes[1].legend()
fig.tight_layout()
plt.show()
