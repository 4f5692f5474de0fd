"""Generators of synthetic data sets."""

from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.utils import check_random_state

from mathlearn.utils._sklearn_compat import Interval, validate_params


@validate_params(
    {
        "n_athletes": [Interval(Integral, 1, None, closed="left")],
        "n_races": [Interval(Integral, 1, None, closed="left")],
        "missing": [Interval(Real, 0, 1, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_race_speeds(n_athletes=1000, n_races=20, *, missing=0.8, random_state=None):
    """Finishing speeds of athletes in hilly races, most of them unobserved.

    Athlete ``i`` has an ability ``a_i`` and race ``j`` a difficulty ``b_j``
    (both log-normal, spread 0.12 and 0.25); the finishing time is
    ``b_j / a_i`` hours times an inverse-Gaussian noise of mean 1 and shape
    400 (a 5% spread, always positive). The matrix holds speeds
    ``1 / time`` rather than times: then ``speed = (a_i / b_j) / noise``
    is rank 1 up to the noise, the "ability x difficulty" model.

    Parameters
    ----------
    n_athletes : int, default=1000
        Number of athletes (rows).
    n_races : int, default=20
        Number of races (columns).
    missing : float in [0, 1), default=0.8
        Probability that an entry is hidden (missing completely at random);
        every athlete keeps at least one race.
    random_state : int, RandomState instance or None, default=None
        Seeds the abilities, difficulties, noise and missing entries.

    Returns
    -------
    speed : ndarray of shape (n_athletes, n_races)
        Every speed, the truth to score a completion against.
    speed_missing : ndarray of shape (n_athletes, n_races)
        ``speed`` with the hidden entries set to NaN.
    ability : ndarray of shape (n_athletes,)
        The true abilities, to compare a completed ranking with.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.datasets import make_race_speeds
    >>> speed, speed_missing, ability = make_race_speeds(100, 5, random_state=0)
    >>> speed.shape, ability.shape
    ((100, 5), (100,))
    >>> bool(np.isnan(speed_missing).all(axis=1).any())
    False
    """
    rng = check_random_state(random_state)
    ability = rng.lognormal(0.0, 0.12, size=n_athletes)
    difficulty = rng.lognormal(0.0, 0.25, size=n_races)
    noise = rng.wald(1.0, 400.0, size=(n_athletes, n_races))
    hours = difficulty[None, :] / ability[:, None] * noise
    speed = 1.0 / hours
    hidden = rng.rand(n_athletes, n_races) < missing
    hidden[np.arange(n_athletes), rng.randint(n_races, size=n_athletes)] = False
    speed_missing = np.where(hidden, np.nan, speed)
    return speed, speed_missing, ability


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "density": [Interval(Real, 0, 1, closed="right")],
        "heavy": [Interval(Real, None, None, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_very_sparse(
    n_samples=10_000, n_features=100_000, *, density=1e-4, heavy=10.0, random_state=None
):
    """Sparse CSR matrix whose rows each have one dominant coordinate.

    Each entry is non-zero with probability ``density``, with a standard
    normal value; in every row one non-zero is multiplied by ``heavy``, so
    most of the row's squared norm sits on a single coordinate. A sparse
    random projection then misses that coordinate in many of its components,
    and distances between such rows are distorted most: the hard case for
    Achlioptas and very sparse projections, which the fast
    Johnson-Lindenstrauss (Hadamard) transform handles by spreading each
    coordinate over all of them.

    Parameters
    ----------
    n_samples : int, default=10_000
        Number of rows.
    n_features : int, default=100_000
        Number of columns.
    density : float in (0, 1], default=1e-4
        Probability that an entry is non-zero. Every row has at least one
        non-zero; columns are drawn with replacement, and a repeated column
        (probability about ``(density * n_features)**2 / n_features`` per
        row) merges into one entry.
    heavy : float, default=10.0
        Factor applied to one non-zero of each row.
    random_state : int, RandomState instance or None, default=None
        Seeds the pattern and the values.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_features)
        The matrix, float64, with sorted indices and no duplicates.

    Examples
    --------
    >>> from mathlearn.datasets import make_very_sparse
    >>> X = make_very_sparse(1000, 50_000, density=1e-4, random_state=0)
    >>> X.shape, X.format
    ((1000, 50000), 'csr')
    >>> bool((X.getnnz(axis=1) >= 1).all())
    True
    """
    rng = check_random_state(random_state)
    counts = np.maximum(rng.binomial(n_features, density, size=n_samples), 1)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    indices = rng.randint(n_features, size=indptr[-1])
    data = rng.standard_normal(indptr[-1])
    heavy_entry = indptr[:-1] + (rng.random_sample(n_samples) * counts).astype(int)
    data[heavy_entry] *= heavy
    X = sparse.csr_matrix((data, indices, indptr), shape=(n_samples, n_features))
    X.sum_duplicates()
    return X
