"""Spectral features of signals for scikit-learn pipelines."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..utils._doc_link import DocLinkMixin
from ..utils._sklearn_compat import (
    Interval,
    StrOptions,
    _fit_context,
    validate_data,
)
from ._dct import dct
from ._fft import rfft
from ._helper import rfftfreq


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
    A transform costs :math:`O(N \log N)` per row, vectorised over the rows.

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
        count = self.n_coefficients_
        if self.spectrum == "dct":
            return dct(X, norm=self.norm)[:, :count]
        spectrum = rfft(X, norm=self.norm)[:, :count]
        power = spectrum.real**2 + spectrum.imag**2
        if self.spectrum == "magnitude":
            return np.sqrt(power)
        if self.spectrum == "power":
            return power
        return np.log1p(power)

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
