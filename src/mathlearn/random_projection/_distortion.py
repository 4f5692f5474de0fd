"""How well a projection keeps pairwise distances: the distortion of pairs."""

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.utils import check_array, check_random_state
from sklearn.utils.extmath import row_norms

from mathlearn.utils._optional import import_matplotlib_pyplot
from mathlearn.utils._sklearn_compat import Interval, validate_params

# Pairs whose differences are formed at once (bounds the dense temporary).
_PAIR_CHUNK = 256
_DEFAULT_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


@dataclass(frozen=True)
class PairwiseDistortion:
    """Distribution of the squared-distance ratios of sampled pairs.

    Returned by :func:`pairwise_distortion`.

    Attributes
    ----------
    ratios : ndarray of shape (n_pairs,)
        ``||f(x_i) - f(x_j)||**2 / ||x_i - x_j||**2`` for each pair.
    pairs : ndarray of shape (n_pairs, 2)
        Row indices ``(i, j)`` of each pair.
    """

    ratios: np.ndarray
    pairs: np.ndarray

    @property
    def distortion(self):
        """``|ratio - 1|`` of each pair."""
        return np.abs(self.ratios - 1.0)

    @property
    def median(self):
        """Median squared-distance ratio."""
        return float(np.median(self.ratios))

    @property
    def quantiles(self):
        """Quantiles 1%, 5%, 25%, 50%, 75%, 95% and 99% of the ratios, as a dict."""
        values = np.quantile(self.ratios, _DEFAULT_QUANTILES)
        return {q: float(v) for q, v in zip(_DEFAULT_QUANTILES, values, strict=True)}

    @property
    def max_distortion(self):
        """Largest ``|ratio - 1|`` over the pairs."""
        return float(self.distortion.max())

    def distortion_quantile(self, q=0.99):
        """Quantile ``q`` of ``|ratio - 1|``; ``q=0.99`` is the "p99 distortion"."""
        return float(np.quantile(self.distortion, q))

    def fraction_within(self, eps):
        """Fraction of pairs with ``|ratio - 1| <= eps``."""
        return float(np.mean(self.distortion <= eps))

    def plot(self, *, ax=None, bins=50, eps=None, label=None):
        """Histogram of the ratios (needs matplotlib).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; the current axes when None.
        bins : int, default=50
            Number of histogram bins.
        eps : float, default=None
            If given, dashed lines mark ``1 - eps`` and ``1 + eps``.
        label : str, default=None
            Legend label of the histogram.

        Returns
        -------
        ax : matplotlib Axes
        """
        if ax is None:
            ax = import_matplotlib_pyplot().gca()
        low, high = float(self.ratios.min()), float(self.ratios.max())
        if high - low <= 1e-9 * max(abs(high), 1.0):
            low, high = low - 0.05, high + 0.05  # all ratios (nearly) equal
        ax.hist(
            self.ratios,
            bins=bins,
            range=(low, high),
            histtype="stepfilled",
            alpha=0.5,
            label=label,
        )
        ax.axvline(1.0, color="black", linewidth=1)
        if eps is not None:
            for edge in (1 - eps, 1 + eps):
                ax.axvline(edge, color="black", linestyle="--", linewidth=1)
        ax.set_xlabel("projected / original squared distance")
        ax.set_ylabel("pairs")
        return ax

    def __repr__(self):
        return (
            f"PairwiseDistortion(n_pairs={self.ratios.size}, "
            f"median={self.median:.4g}, p99={self.distortion_quantile(0.99):.4g}, "
            f"max={self.max_distortion:.4g})"
        )


def _squared_differences(X, first, second):
    """``||X[first] - X[second]||**2`` row by row, in chunks of pairs."""
    out = np.empty(first.size, dtype=np.float64)
    for start in range(0, first.size, _PAIR_CHUNK):
        stop = start + _PAIR_CHUNK
        diff = X[first[start:stop]] - X[second[start:stop]]
        # Accumulated in float64, for float32 input too.
        out[start:stop] = row_norms(diff.astype(np.float64, copy=False), squared=True)
    return out


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "X_projected": ["array-like", "sparse matrix"],
        "n_pairs": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def pairwise_distortion(X, X_projected, *, n_pairs=1000, random_state=None):
    """Distribution of squared-distance ratios over random pairs of rows.

    For ``n_pairs`` pairs ``(i, j)``, ``i != j``, drawn uniformly, computes
    ``ratio = ||X_projected[i] - X_projected[j]||**2 / ||X[i] - X[j]||**2``.
    A Johnson-Lindenstrauss projection with distortion ``eps`` keeps every
    ratio in ``[1 - eps, 1 + eps]``; the quantiles of ``|ratio - 1|`` say how
    close a projection comes. Pairs of identical rows are left out.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The original data.
    X_projected : {array-like, sparse matrix} of shape (n_samples, n_components)
        The same rows after projection.
    n_pairs : int, default=1000
        Number of pairs drawn (with replacement).
    random_state : int, RandomState instance or None, default=None
        Seeds the choice of pairs.

    Returns
    -------
    result : PairwiseDistortion
        With ``ratios`` and ``pairs`` arrays, the summaries ``median``,
        ``quantiles``, ``max_distortion``, ``distortion_quantile(q)``,
        ``fraction_within(eps)``, and ``plot()`` for the histogram.

    See Also
    --------
    sklearn.random_projection.johnson_lindenstrauss_min_dim : The dimension
        that guarantees distortion ``eps``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.random_projection import GaussianRandomProjection
    >>> from mathlearn.random_projection import pairwise_distortion
    >>> rng = np.random.RandomState(42)
    >>> X = rng.normal(size=(300, 2000))
    >>> X_new = GaussianRandomProjection(500, random_state=1).fit_transform(X)
    >>> result = pairwise_distortion(X, X_new, random_state=0)
    >>> result.ratios.shape
    (1000,)
    >>> round(result.median, 2), bool(result.distortion_quantile(0.99) < 0.2)
    (1.0, True)
    """
    X = check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32])
    X_projected = check_array(
        X_projected,
        accept_sparse="csr",
        dtype=[np.float64, np.float32],
        input_name="X_projected",
    )
    if X.shape[0] != X_projected.shape[0]:
        raise ValueError(
            f"X has {X.shape[0]} rows but X_projected has {X_projected.shape[0]}; "
            "they must be the same rows before and after projection"
        )
    n_samples = X.shape[0]
    if n_samples < 2:
        raise ValueError(f"pairwise_distortion needs n_samples >= 2, got {n_samples}")
    rng = check_random_state(random_state)
    first = rng.randint(n_samples, size=n_pairs)
    second = rng.randint(n_samples - 1, size=n_pairs)
    second += second >= first
    before = _squared_differences(X, first, second)
    keep = before > 0
    if not keep.any():
        raise ValueError("every sampled pair of rows of X is identical")
    first, second, before = first[keep], second[keep], before[keep]
    after = _squared_differences(X_projected, first, second)
    return PairwiseDistortion(
        ratios=after / before, pairs=np.column_stack([first, second])
    )
