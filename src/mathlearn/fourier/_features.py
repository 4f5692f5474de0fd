"""Spectral features of signals for scikit-learn pipelines."""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from mathlearn.fourier._dct import dct
from mathlearn.fourier._fft import rfft
from mathlearn.fourier._helper import rfftfreq
from mathlearn.utils._doc_link import DocLinkMixin
from mathlearn.utils._sklearn_compat import (
    Interval,
    StrOptions,
    _fit_context,
    validate_data,
)

# Samples (rows times signal length) transformed at a time: enough to amortise
# the fixed cost of an rfft call, few enough that the allocator recycles a
# block's temporaries. Transforming all of X at once made a 20,000 x 32
# float64 transform twice as slow, most of it page faults on fresh memory.
_BLOCK_SAMPLES = 2**17


def _log1p_power(spectrum):
    """``log(1 + |X|**2)`` of a complex spectrum, finite wherever it is.

    Where ``|X|**2`` overflows (``|X|`` above about 1.8e19 in float32, 1.3e154
    in float64) the result is ``2 log|X|``, exact to rounding: the neglected
    ``log1p(|X|**-2)`` is below the dtype's epsilon times ``2 log|X|``.
    """
    with np.errstate(over="ignore"):
        out = np.square(spectrum.real)
        out += np.square(spectrum.imag)
    np.log1p(out, out=out)
    if out.max(initial=0) == np.inf:
        overflow = np.isinf(out)
        out[overflow] = 2 * np.log(np.abs(spectrum[overflow]))
    return out


def _zero_frequency_gain(spectrum, norm, n):
    """Output 0 of the transform of the constant signal 1 of length ``n``.

    ``rfft`` sums the signal; the DCT-II is a DFT of its even extension, of
    length ``2 n``; ``norm`` scales the sums as in :func:`rfft` and :func:`dct`.
    """
    total = 2 * n if spectrum == "dct" else n
    return {"backward": total, "ortho": math.sqrt(n), "forward": 1.0}[norm]


class FourierFeatures(DocLinkMixin, TransformerMixin, BaseEstimator):
    r"""Turn each row, a sampled signal, into its spectrum.

    Every row of ``X`` is a signal of ``n_features`` samples. The transformer
    replaces it by its magnitude spectrum :math:`|X_k|`, its power spectrum
    :math:`|X_k|^2`, its log-power spectrum :math:`\log(1 + |X_k|^2)` over the
    non-negative frequencies of :func:`rfft`, or by its DCT-II coefficients
    (:func:`dct`). Keeping only the first ``n_coefficients`` outputs keeps the
    low frequencies, a compact description of smooth signals. The magnitude
    and power spectra do not change when a signal is shifted in time
    (circularly), which makes them good features for classifying signals by
    their frequency content.

    Parameters
    ----------
    spectrum : {"magnitude", "power", "log_power", "dct"}, default="magnitude"
        What each output column holds: :math:`|X_k|`, :math:`|X_k|^2`,
        :math:`\log(1 + |X_k|^2)` with :math:`X = \mathrm{rfft}(x)`, or the
        DCT-II coefficient :math:`k` of :math:`x`.
    n_coefficients : int, default=None
        Number of outputs kept, from the lowest frequency up; ``None`` keeps
        all of them (``n_features // 2 + 1`` spectrum bins, or
        ``n_features`` DCT coefficients).
    norm : {"backward", "ortho", "forward"}, default="ortho"
        Normalisation of the transform, as in :func:`rfft` and :func:`dct`.
        With ``"ortho"`` the DCT is orthonormal and the power spectrum sums
        (counting the mirrored bins twice) to the signal's energy.
    sampling_rate : float, default=1.0
        Samples per unit of time; only used for the frequencies in
        ``frequencies_`` and in the output feature names.

    Attributes
    ----------
    n_coefficients_ : int
        Number of output features.
    frequencies_ : ndarray of shape (`n_coefficients_`,)
        Frequency of each output feature in cycles per unit of time: bin
        :math:`k` of the spectrum is :math:`k f_s / N`, DCT coefficient
        :math:`k` is :math:`k f_s / (2N)`.
    n_features_in_ : int
        Number of features (samples per signal) seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``; defined only when ``X`` has
        feature names that are all strings.

    See Also
    --------
    rfft : The transform behind the spectra.
    dct : The transform behind ``spectrum="dct"``.

    Notes
    -----
    The transformer is stateless: ``fit`` only records the signal length.
    A transform costs :math:`O(N \log N)` per row, vectorised over blocks of
    rows.

    Each signal is centred before its transform and its mean added back to
    output 0 in closed form, so adding a constant to a signal changes output
    0 only, even in rounding (transformed as is, a float32 signal shifted by
    1e3 picks up round-off of 2e-3 in every frequency). Magnitudes are
    :func:`numpy.abs` of the complex spectrum, accurate for float32 amplitudes
    from 1e-38 to 1e38; ``"log_power"`` is computed as :math:`2 \log|X_k|`
    where :math:`|X_k|^2` would overflow, so it is finite wherever the
    result is. ``"power"`` overflows to ``inf``, with NumPy's
    ``RuntimeWarning``, where :math:`|X_k|^2` exceeds the dtype's range
    (above about 1.8e19 in float32): use float64 or ``"log_power"`` there.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.fourier import FourierFeatures
    >>> t = np.arange(8)
    >>> X = np.vstack([np.cos(2 * np.pi * t / 8), np.cos(2 * np.pi * 2 * t / 8)])
    >>> features = FourierFeatures(spectrum="power", norm="forward").fit(X)
    >>> np.round(features.transform(X), 4) + 0.0
    array([[0.  , 0.25, 0.  , 0.  , 0.  ],
           [0.  , 0.  , 0.25, 0.  , 0.  ]])
    >>> features.get_feature_names_out()
    array(['power_0', 'power_0.125', 'power_0.25', 'power_0.375', 'power_0.5'],
          dtype=object)
    """

    _parameter_constraints = {
        "spectrum": [StrOptions({"magnitude", "power", "log_power", "dct"})],
        "n_coefficients": [Interval(Integral, 1, None, closed="left"), None],
        "norm": [StrOptions({"backward", "ortho", "forward"})],
        "sampling_rate": [Interval(Real, 0, None, closed="neither")],
    }

    _test_grid = {"spectrum": ["magnitude", "dct"]}

    def __init__(
        self,
        spectrum="magnitude",
        *,
        n_coefficients=None,
        norm="ortho",
        sampling_rate=1.0,
    ):
        self.spectrum = spectrum
        self.n_coefficients = n_coefficients
        self.norm = norm
        self.sampling_rate = sampling_rate

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Record the signal length and the frequencies of the outputs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Signals, one per row, ``n_features`` samples each.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        n = X.shape[1]
        if self.spectrum == "dct":
            available = n
            frequencies = np.arange(n) * (self.sampling_rate / (2 * n))
        else:
            available = n // 2 + 1
            frequencies = rfftfreq(n, d=1.0 / self.sampling_rate)
        if self.n_coefficients is not None and self.n_coefficients > available:
            raise ValueError(
                f"n_coefficients={self.n_coefficients} must be <= {available}, "
                f"the number of {self.spectrum!r} outputs for signals of "
                f"n_features={n} samples"
            )
        count = available if self.n_coefficients is None else self.n_coefficients
        self.n_coefficients_ = count
        self.frequencies_ = frequencies[:count]
        return self

    def transform(self, X):
        """Compute the spectrum (or DCT) of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Signals, one per row.

        Returns
        -------
        X_new : ndarray of shape (n_samples, `n_coefficients_`)
            Spectral features; float32 for float32 input.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        rows = max(1, _BLOCK_SAMPLES // X.shape[1])
        blocks = [
            self._transform_block(X[start : start + rows])
            for start in range(0, X.shape[0], rows)
        ]
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def _transform_block(self, X):
        """The features of the signals ``X``, one block of rows."""
        # Each signal is centred and its mean put back into output 0: the
        # round-off of transforming a large offset would otherwise leak into
        # every frequency (2e-3 of a unit signal shifted by 1e3 in float32),
        # and an offset must change the zero frequency only. Output 0 is
        # sum(x - mean) + n * mean whatever the rounding of the mean, so the
        # mean is one matrix-vector product (five times faster than .mean).
        n = X.shape[1]
        mean = X @ np.full(n, 1.0 / n, dtype=X.dtype)
        transform = dct if self.spectrum == "dct" else rfft
        out = transform(X - mean[:, None], norm=self.norm)[:, : self.n_coefficients_]
        out[:, 0] += mean * _zero_frequency_gain(self.spectrum, self.norm, n)
        if self.spectrum == "dct":
            return out
        if self.spectrum == "log_power":
            return _log1p_power(out)
        # |X_k| by np.abs (a hypot): re**2 + im**2 would overflow for
        # float32 amplitudes near 1e20 and underflow near 1e-25.
        magnitude = np.abs(out)
        if self.spectrum == "power":
            np.square(magnitude, out=magnitude)
        return magnitude

    def get_feature_names_out(self, input_features=None):
        """Output feature names: the kind of feature and its frequency.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Only checked against the names seen in ``fit``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``"<spectrum>_<frequency>"``, e.g. ``"power_0.125"``.
        """
        check_is_fitted(self)
        if input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            names_in = getattr(self, "feature_names_in_", None)
            if names_in is not None and not np.array_equal(names_in, input_features):
                raise ValueError("input_features is not equal to feature_names_in_")
            if len(input_features) != self.n_features_in_:
                raise ValueError(
                    f"input_features has {len(input_features)} names, expected "
                    f"n_features_in_={self.n_features_in_}"
                )
        names = [
            f"{self.spectrum}_{np.format_float_positional(f, trim='-')}"
            for f in self.frequencies_
        ]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
