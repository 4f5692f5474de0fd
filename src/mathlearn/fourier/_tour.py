"""Tour section: the spectrum of a two-tone signal, and the speed of the FFT.

The gallery example ``examples/fourier/plot_two_tone_spectrum.py`` shows the
same signal and spectrum: it calls :func:`two_tone_signal` and
:func:`amplitude_spectrum`.
"""

import time

import numpy as np

from mathlearn._tour import TourSection, save_figure
from mathlearn.utils._optional import import_matplotlib_pyplot


def two_tone_signal(rng, rate=1000.0, n=1000):
    """``sin(2 pi 50 t) + 0.5 sin(2 pi 120 t)``, ``n`` samples at ``rate`` Hz.

    Returns the times, the clean signal and the signal plus N(0, 0.8^2) noise
    drawn from ``rng``.
    """
    t = np.arange(n) / rate
    clean = np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 120 * t)
    return t, clean, clean + 0.8 * rng.standard_normal(n)


def amplitude_spectrum(x, rate):
    """The frequencies of ``rfft(x)``, the amplitudes ``2 |X_k| / N``, the two peaks.

    The peaks are the indices of the two largest amplitudes, in increasing
    frequency.
    """
    from mathlearn.fourier import rfft, rfftfreq

    freqs = rfftfreq(len(x), d=1 / rate)
    amplitude = 2 * np.abs(rfft(x)) / len(x)
    return freqs, amplitude, np.sort(np.argsort(amplitude)[-2:])


def _best_time(func, repeat=3):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def _run(out_dir):
    from mathlearn.fourier import dft, fft

    rng = np.random.RandomState(0)
    # One second sampled at 1,000 Hz: N = 1000 is not a power of two.
    rate = 1000.0
    t, signal, noisy = two_tone_signal(rng, rate)
    freqs, amplitude, peaks = amplitude_spectrum(noisy, rate)
    error = np.max(np.abs(fft(noisy) - np.fft.fft(noisy))) / np.max(
        np.abs(np.fft.fft(noisy))
    )

    rows = []
    for size in (1000, 4096, 65_537):
        x = rng.standard_normal(size) + 1j * rng.standard_normal(size)
        ours = _best_time(lambda x=x: fft(x))
        ref = _best_time(lambda x=x: np.fft.fft(x))
        naive = _best_time(lambda x=x: dft(x), repeat=1) if size <= 1000 else None
        rows.append((size, ours, ref, naive))

    if out_dir is not None:
        plt = import_matplotlib_pyplot()

        fig, (ax_time, ax_freq) = plt.subplots(2, 1, figsize=(7, 5.5))
        ax_time.plot(t[:200], noisy[:200], lw=0.8, color="0.6", label="noisy")
        ax_time.plot(t[:200], signal[:200], lw=1.5, label="50 Hz + 120 Hz")
        ax_time.set(xlabel="time (s)", ylabel="x(t)", title="Two-tone signal")
        ax_time.legend(loc="upper right")
        ax_freq.plot(freqs, amplitude, lw=1)
        for k in peaks:
            ax_freq.annotate(
                f"{freqs[k]:.0f} Hz, {amplitude[k]:.2f}",
                (freqs[k], amplitude[k]),
                textcoords="offset points",
                xytext=(8, -4),
            )
        ax_freq.set(
            xlabel="frequency (Hz), Nyquist = 500 Hz",
            ylabel="2 |X_k| / N",
            title="Amplitude spectrum (rfft, N = 1000)",
        )
        fig.tight_layout()
        save_figure(fig, out_dir, "fourier_two_tone_spectrum.png")

    lines = [
        "Signal: sin(2 pi 50 t) + 0.5 sin(2 pi 120 t) + N(0, 0.8^2) noise, 1000",
        "samples at 1000 Hz (not a power of two: mixed radix 2*4*5*5*5).",
        f"Two largest peaks of 2|X_k|/N: {freqs[peaks[0]]:.0f} Hz "
        f"({amplitude[peaks[0]]:.2f}, true 1.00) and {freqs[peaks[1]]:.0f} Hz "
        f"({amplitude[peaks[1]]:.2f}, true 0.50).",
        f"Max relative difference from numpy.fft: {error:.1e}.",
        "",
        "Speed (ms, best of 3): fft vs numpy.fft and the O(N^2) dft baseline",
        "       N |    fft |  numpy |  ratio |     dft",
    ]
    for size, ours, ref, naive in rows:
        slow = "      -" if naive is None else f"{1e3 * naive:7.1f}"
        lines.append(
            f"{size:>8,d} | {1e3 * ours:6.2f} | {1e3 * ref:6.2f} | "
            f"{ours / ref:5.1f}x | {slow}"
        )
    lines.append(
        "65,537 is prime (Bluestein). dft only at N = 1000: it needs N^2 memory."
    )
    return "\n".join(lines)


SECTION = TourSection(
    name="fourier",
    title="Fourier transforms: any length, numpy's conventions",
    run=_run,
    order=70,
)
