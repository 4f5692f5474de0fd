"""Sample frequencies of the DFT bins and the shift that centres them."""

from numbers import Integral, Real

import numpy as np

from mathlearn.fourier._fft import _check_axes
from mathlearn.utils._sklearn_compat import Interval
from mathlearn.utils._validation import check_scalar


def _check_length(n):
    return int(check_scalar("n", n, Interval(Integral, 1, None, closed="left")))


def _check_spacing(d):
    d = check_scalar("d", d, Interval(Real, None, None, closed="neither"))
    if d == 0:
        raise ValueError(f"d={d!r} must be a finite, non-zero sample spacing")
    return d


def fftfreq(n, d=1.0):
    r"""Frequencies of the bins of :func:`fft` for ``n`` samples spaced ``d``.

    Bin :math:`k` of a length-:math:`n` DFT holds the frequency :math:`k/(n d)`
    for :math:`k < n/2` and the negative frequency :math:`(k - n)/(n d)` above:
    ``[0, 1, ..., ceil(n/2) - 1, -floor(n/2), ..., -1] / (n d)``, as in
    :func:`numpy.fft.fftfreq`. For even :math:`n`, bin :math:`n/2` is the
    Nyquist frequency :math:`1/(2d)`, listed as negative.

    Parameters
    ----------
    n : int
        Number of samples (the transform length).
    d : float, default=1.0
        Sample spacing (the inverse of the sampling rate).

    Returns
    -------
    f : ndarray of shape (n,)
        Frequencies in cycles per unit of ``d``.

    See Also
    --------
    rfftfreq : The frequencies of :func:`rfft`.
    fftshift : Puts the zero frequency in the middle.

    Examples
    --------
    >>> from mathlearn.fourier import fftfreq
    >>> fftfreq(8, d=0.1)
    array([ 0.  ,  1.25,  2.5 ,  3.75, -5.  , -3.75, -2.5 , -1.25])
    """
    n = _check_length(n)
    d = _check_spacing(d)
    k = np.empty(n, dtype=int)
    positive = (n - 1) // 2 + 1
    k[:positive] = np.arange(positive)
    k[positive:] = np.arange(-(n // 2), 0)
    return k * (1.0 / (n * d))


def rfftfreq(n, d=1.0):
    r"""Frequencies of the bins of :func:`rfft` for ``n`` samples spaced ``d``.

    ``[0, 1, ..., n // 2] / (n d)``, as in :func:`numpy.fft.rfftfreq`; the
    last one is the Nyquist frequency :math:`1/(2d)` when ``n`` is even.

    Parameters
    ----------
    n : int
        Number of samples (the transform length).
    d : float, default=1.0
        Sample spacing (the inverse of the sampling rate).

    Returns
    -------
    f : ndarray of shape (n // 2 + 1,)
        Non-negative frequencies in cycles per unit of ``d``.

    See Also
    --------
    fftfreq : The frequencies of :func:`fft`.

    Examples
    --------
    >>> from mathlearn.fourier import rfftfreq
    >>> rfftfreq(8, d=0.1)
    array([0.  , 1.25, 2.5 , 3.75, 5.  ])
    """
    n = _check_length(n)
    d = _check_spacing(d)
    return np.arange(n // 2 + 1) * (1.0 / (n * d))


def _shift(x, axes, sign):
    x = np.asarray(x)
    axes = tuple(range(x.ndim)) if axes is None else _check_axes(axes, x.ndim)
    shifts = [sign * (x.shape[axis] // 2) for axis in axes]
    return np.roll(x, shifts, axes)


def fftshift(x, axes=None):
    """Move the zero-frequency bin to the centre of the spectrum.

    Rolls each axis by half its length, so that frequencies read in increasing
    order, as in :func:`numpy.fft.fftshift`.

    Parameters
    ----------
    x : array_like
        Spectrum, or frequencies from :func:`fftfreq`.
    axes : int or sequence of int, default=None
        Axes to shift; ``None`` shifts all.

    Returns
    -------
    y : ndarray
        The shifted array (a new array; ``x`` is unchanged).

    See Also
    --------
    ifftshift : The inverse.

    Examples
    --------
    >>> from mathlearn.fourier import fftfreq, fftshift
    >>> fftshift(fftfreq(5))
    array([-0.4, -0.2,  0. ,  0.2,  0.4])
    """
    return _shift(x, axes, +1)


def ifftshift(x, axes=None):
    """Inverse of :func:`fftshift` (they differ for odd lengths).

    Parameters
    ----------
    x : array_like
        Shifted array.
    axes : int or sequence of int, default=None
        Axes to shift; ``None`` shifts all.

    Returns
    -------
    y : ndarray
        The array with the zero frequency back in position 0.

    See Also
    --------
    fftshift : The shift this undoes.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.fourier import fftshift, ifftshift
    >>> x = np.arange(5)
    >>> ifftshift(fftshift(x))
    array([0, 1, 2, 3, 4])
    """
    return _shift(x, axes, -1)
