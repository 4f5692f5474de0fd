"""Discrete cosine transforms of types II and III through one real FFT.

Makhoul (1980): reorder the signal so that its even samples come first and
its odd samples, reversed, last; the DCT-II is then the real part of the
length-``N`` DFT of the reordered signal turned by a quarter-sample twiddle.
The DCT-III (the inverse, up to scaling) runs the same steps backwards.
"""

import functools
import math
from numbers import Integral

import numpy as np

from mathlearn.fourier._fft import (
    _as_array,
    _check_axis,
    _check_n,
    _check_norm,
    _resize,
    _unit_roots,
    irfft,
    rfft,
)
from mathlearn.utils._sklearn_compat import Options
from mathlearn.utils._validation import check_scalar

_TYPES = Options(Integral, {2, 3})


@functools.lru_cache(maxsize=32)
def _quarter_twiddles(n, count, sign, dtype_char):
    """``exp(sign i pi k / (2 n))`` for ``k < count``, cached per length.

    Computed once rather than at every call: a transform of many rows in
    blocks calls the DCT once per block.
    """
    return _unit_roots(np.arange(count), 4 * n, sign, np.dtype(dtype_char))


def _dct2(x):
    """Unnormalised DCT-II of the rows of the real array ``x``."""
    n = x.shape[-1]
    v = np.concatenate([x[:, 0::2], x[:, 1::2][:, ::-1]], axis=1)
    half = rfft(v)
    V = np.empty((x.shape[0], n), dtype=half.dtype)
    V[:, : n // 2 + 1] = half
    V[:, n // 2 + 1 :] = half[:, 1 : (n + 1) // 2][:, ::-1].conj()
    return 2.0 * (V * _quarter_twiddles(n, n, -1, half.dtype.char)).real


def _dct3(x):
    """Unnormalised DCT-III (scipy's convention) of the rows of ``x``."""
    n = x.shape[-1]
    k = np.arange(n // 2 + 1)
    mirror = np.zeros_like(x[:, : n // 2 + 1])
    mirror[:, 1:] = x[:, n - k[1:]]
    cdtype = np.result_type(x.dtype, np.complex64)
    V = (x[:, : n // 2 + 1] - 1j * mirror) * _quarter_twiddles(
        n, n // 2 + 1, +1, cdtype.char
    )
    v = irfft(V, n=n, norm="forward")
    y = np.empty_like(v)
    y[:, 0::2] = v[:, : (n + 1) // 2]
    y[:, 1::2] = v[:, ::-1][:, : n // 2]
    return y


def _transform(x, type, n, axis, norm, inverse):
    check_scalar("type", type, _TYPES)
    norm = _check_norm(norm)
    x = _as_array(x, real=True)
    axis = _check_axis(axis, x.ndim)
    n = _check_n(n, x, axis)
    x = _resize(x, n, axis)
    dtype = np.float32 if x.dtype in (np.float16, np.float32) else np.float64
    moved = np.moveaxis(x, axis, -1)
    rows = np.array(moved, dtype=dtype).reshape(-1, n)
    # idct of type 2 is a DCT-III and vice versa, scaled the other way round.
    kind = type if not inverse else 5 - type
    if norm == "ortho":
        if kind == 3:
            rows[:, 0] *= math.sqrt(1.0 / n)
            rows[:, 1:] *= math.sqrt(1.0 / (2 * n))
            out = _dct3(rows)
        else:
            out = _dct2(rows)
            out[:, 0] *= math.sqrt(1.0 / (4 * n))
            out[:, 1:] *= math.sqrt(1.0 / (2 * n))
    else:
        out = _dct2(rows) if kind == 2 else _dct3(rows)
        if (norm == "forward") != inverse:
            out *= 1.0 / (2 * n)
    out = out.astype(dtype, copy=False)
    return np.moveaxis(out.reshape(moved.shape[:-1] + (n,)), -1, axis)


def dct(x, type=2, n=None, axis=-1, norm=None):
    r"""Discrete cosine transform of type II or III, through one real FFT.

    With scipy's conventions (:func:`scipy.fft.dct`), the unnormalised
    transforms of a length-:math:`N` signal are

    .. math::

        \text{II:}\quad y_k = 2\sum_{n=0}^{N-1} x_n
        \cos\frac{\pi k (2n + 1)}{2N}, \qquad
        \text{III:}\quad y_k = x_0 + 2\sum_{n=1}^{N-1} x_n
        \cos\frac{\pi n (2k + 1)}{2N}.

    Parameters
    ----------
    x : array_like of real numbers
        Input array.
    type : {2, 3}, default=2
        Type of the DCT. Type 2 is "the" DCT (JPEG, MFCC); type 3 is its
        inverse up to a factor :math:`2N`.
    n : int, default=None
        Length of the transform (crop or zero-pad ``x`` along ``axis``).
    axis : int, default=-1
        Axis along which the transform is computed.
    norm : {"backward", "ortho", "forward"}, default=None
        ``None``/``"backward"``: no scaling; ``"forward"``: scale by
        :math:`1/(2N)`; ``"ortho"``: the orthonormal transform (for type 2,
        :math:`y_0` times :math:`\sqrt{1/(4N)}` and the others times
        :math:`\sqrt{1/(2N)}`), as in scipy.

    Returns
    -------
    y : ndarray of float
        The transform; float32 for float32 input.

    See Also
    --------
    idct : The inverse transform.

    Notes
    -----
    Makhoul's algorithm: with :math:`v = (x_0, x_2, x_4, \dots, x_5, x_3,
    x_1)` (even samples, then odd samples reversed) and :math:`V` its
    length-:math:`N` DFT, :math:`y_k = 2\,\mathrm{Re}(e^{-i\pi k/(2N)} V_k)`.
    Since :math:`v` is real, :math:`V` comes from :func:`rfft`, itself a
    half-length complex FFT, so the DCT costs :math:`O(N \log N)`. The
    DCT-III undoes these steps: it builds the Hermitian :math:`V` from
    :math:`x` and one :func:`irfft` gives :math:`v`.

    References
    ----------
    J. Makhoul (1980). A fast cosine transform in one and two dimensions.
    IEEE Transactions on Acoustics, Speech, and Signal Processing 28(1).

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.fourier import dct
    >>> np.round(dct([1.0, 2.0, 3.0, 4.0], norm="ortho"), 4) + 0.0
    array([ 5.    , -2.2304,  0.    , -0.1585])
    """
    return _transform(x, type, n, axis, norm, inverse=False)


def idct(x, type=2, n=None, axis=-1, norm=None):
    r"""Inverse discrete cosine transform of type II or III.

    ``idct(dct(x, type=t, norm=m), type=t, norm=m)`` returns ``x``, as in
    :func:`scipy.fft.idct`: the inverse of a type-2 DCT is a type-3 DCT
    scaled by :math:`1/(2N)` (for ``norm="backward"``) and vice versa.

    Parameters
    ----------
    x : array_like of real numbers
        Input array.
    type : {2, 3}, default=2
        Type of the DCT that this inverts.
    n : int, default=None
        Length of the transform (crop or zero-pad ``x`` along ``axis``).
    axis : int, default=-1
        Axis along which the transform is computed.
    norm : {"backward", "ortho", "forward"}, default=None
        ``None``/``"backward"``: scale by :math:`1/(2N)`; ``"forward"``: no
        scaling; ``"ortho"``: the orthonormal inverse.

    Returns
    -------
    x : ndarray of float
        The inverse transform.

    See Also
    --------
    dct : The forward transform, with the algorithm.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.fourier import dct, idct
    >>> x = np.array([1.0, -2.0, 0.5, 3.0, 0.0])
    >>> np.allclose(idct(dct(x)), x)
    True
    """
    return _transform(x, type, n, axis, norm, inverse=True)
