"""Fast Fourier transforms for any length, the DCT, and spectral features."""

from mathlearn.fourier._dct import dct, idct
from mathlearn.fourier._features import FourierFeatures
from mathlearn.fourier._fft import dft, fft, fft2, fftn, ifft, ifft2, ifftn, irfft, rfft
from mathlearn.fourier._helper import fftfreq, fftshift, ifftshift, rfftfreq

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
