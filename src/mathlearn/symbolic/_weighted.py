"""Statistics over the samples that count each sample as its weight.

With integer sample weights, a fit must be the fit on the samples repeated
that many times (scikit-learn's ``check_sample_weight_equivalence``): every
mean, spread or median over the samples that steers the search, not only
its least-squares fits, is weighted. ``weights=None`` weighs every sample 1.
"""

import numpy as np


def mean(values, weights, axis=-1):
    """The mean of ``values`` along ``axis`` (the samples' axis)."""
    return np.average(values, axis=axis, weights=weights)


def std(values, weights, axis=-1):
    """The standard deviation of ``values`` along ``axis`` (the samples' axis)."""
    centred = values - np.expand_dims(mean(values, weights, axis), axis)
    return np.sqrt(mean(centred * centred, weights, axis))


def median(values, weights):
    """The median of the 1-D ``values``, ``np.median`` of the repeated samples.

    The value where the cumulative weight crosses half the total, or the mean
    of the two values on either side when it reaches exactly half: for
    integer weights, the middle of the repeated, sorted samples.
    """
    if weights is None:
        return float(np.median(values))
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    half = cumulative[-1] / 2
    low = order[np.searchsorted(cumulative, half, side="left")]
    high = order[np.searchsorted(cumulative, half, side="right")]
    return float(values[low] + values[high]) / 2
