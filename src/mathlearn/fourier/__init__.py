"""Fast Fourier transforms for any length, the DCT, and spectral features."""

from ._fft import dft, fft, fft2, fftn, ifft, ifft2, ifftn, irfft, rfft

__all__ = [
    "dft",
    "fft",
    "fft2",
    "fftn",
    "ifft",
    "ifft2",
    "ifftn",
    "irfft",
    "rfft",
]
