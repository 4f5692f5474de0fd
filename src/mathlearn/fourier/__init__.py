"""Fast Fourier transforms for any length, the DCT, and spectral features."""

from ._dct import dct, idct
from ._features import FourierFeatures
from ._fft import dft, fft, fft2, fftn, ifft, ifft2, ifftn, irfft, rfft
from ._helper import fftfreq, fftshift, ifftshift, rfftfreq

__all__ = [
    "FourierFeatures",
    "dct",
    "dft",
    "fft",
    "fft2",
    "fftfreq",
    "fftn",
    "fftshift",
    "idct",
    "ifft",
    "ifft2",
    "ifftn",
    "ifftshift",
    "irfft",
    "rfft",
    "rfftfreq",
]
