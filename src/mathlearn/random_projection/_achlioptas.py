"""Achlioptas' database-friendly projection, stored as an int8 sign pattern."""

from numbers import Real

import numpy as np
from scipy import sparse

from mathlearn.random_projection._base import BLOCK_ELEMENTS, BaseProjection
from mathlearn.utils._sklearn_compat import Interval, StrOptions

# Below this density the pattern is kept as a CSR matrix of int8 (5 bytes per
# non-zero with its int32 column index, so under 1 byte per entry) and the
# transform is a sparse product, which then does fewer operations than BLAS.
SPARSE_PATTERN_DENSITY = 0.05


def resolve_density(density, n_features):
    """``density`` as a number; ``"auto"`` is Li et al.'s 1 / sqrt(n_features)."""
    if density == "auto":
        return 1.0 / np.sqrt(n_features)
    return float(density)


def sign_pattern_nbytes(n_components, n_features, density):
    """About the peak bytes of :func:`draw_sign_pattern`."""
    size = n_components * n_features
    if density >= SPARSE_PATTERN_DENSITY:
        return size
    # A few 8-byte numbers per non-zero while drawing (float gaps, their
    # cumulative sums, row and column indices).
    return int(size * density * 32)


def draw_sign_pattern(n_components, n_features, density, rng):
    """Random {-1, 0, +1} matrix, each entry non-zero with probability ``density``.

    Non-zeros are +1 or -1 with equal probability. Returned as a dense int8
    ndarray, or as an int8 CSR matrix when ``density`` is below
    ``SPARSE_PATTERN_DENSITY``.
    """
    if density >= SPARSE_PATTERN_DENSITY:
        pattern = np.empty((n_components, n_features), dtype=np.int8)
        step = max(1, BLOCK_ELEMENTS // n_features)
        for start in range(0, n_components, step):
            u = rng.random_sample((min(step, n_components - start), n_features))
            block = pattern[start : start + step]
            np.less(u, density / 2, out=block, casting="unsafe")
            block -= ((u >= density / 2) & (u < density)).astype(np.int8)
        return pattern
    # Positions of the non-zeros in the flattened matrix: gaps between
    # independent Bernoulli(density) successes are geometric. They are drawn
    # by inversion, floor(log(1 - U) / log(1 - density)) + 1, in floats:
    # rng.geometric overflows int64 below densities of about 1e-16 (and then
    # never reaches the end), while a float gap of any size just ends the draw.
    size = n_components * n_features
    expected = size * density
    log_miss = np.log1p(-density)

    def draw_gaps(n):
        with np.errstate(over="ignore"):  # an infinite gap ends the draw
            return np.floor(np.log1p(-rng.random_sample(n)) / log_miss) + 1

    positions = np.cumsum(draw_gaps(int(expected + 6 * np.sqrt(expected) + 16))) - 1
    while positions[-1] < size:
        more = draw_gaps(int(expected // 8 + 16))
        positions = np.concatenate([positions, positions[-1] + np.cumsum(more)])
    positions = positions[positions < size].astype(np.int64)
    rows, columns = np.divmod(positions, n_features)
    indptr = np.searchsorted(rows, np.arange(n_components + 1))
    signs = (2 * rng.randint(2, size=positions.size) - 1).astype(np.int8)
    return sparse.csr_matrix(
        (signs, columns.astype(np.int32), indptr), shape=(n_components, n_features)
    )


def project_with_pattern(X, pattern, scale, dense_output):
    """``scale * X @ pattern.T`` with the int8 pattern cast in blocks.

    Dense patterns are cast, one block of components at a time, to the dtype
    of ``X`` and multiplied with BLAS (dense ``X``) or scipy.sparse (sparse
    ``X``); the float copy of the whole pattern never exists at once.
    """
    dtype = X.dtype
    n_components, n_features = pattern.shape
    if sparse.issparse(pattern):
        weights = pattern.astype(dtype)
        weights.data *= dtype.type(scale)
        if sparse.issparse(X):
            out = X @ weights.T
            return out.toarray() if dense_output else out.tocsr()
        return np.ascontiguousarray((weights @ X.T).T)
    # Equal blocks of components, each cast to at most 2 * BLOCK_ELEMENTS
    # floats; the scale is applied once to the (smaller) output.
    n_blocks = -(-n_components * n_features // (2 * BLOCK_ELEMENTS))
    step = -(-n_components // n_blocks)
    if n_blocks == 1:
        out = np.asarray(X @ pattern.astype(dtype).T)
    else:
        out = np.empty((X.shape[0], n_components), dtype=dtype)
        for start in range(0, n_components, step):
            block = pattern[start : start + step].astype(dtype)
            out[:, start : start + step] = X @ block.T
    out *= dtype.type(scale)
    return out


class AchlioptasRandomProjection(BaseProjection):
    """Reduce dimensionality with a sparse random sign matrix (Achlioptas).

    The components are ``sqrt(1 / (density * n_components))`` times a random
    matrix of -1, 0 and +1, drawn with probabilities ``density / 2``,
    ``1 - density`` and ``density / 2``. With the default ``density=1/3``
    these are Achlioptas' "database-friendly" entries ``sqrt(3 / k) *
    {+1, 0, -1}`` with probabilities 1/6, 2/3, 1/6; ``density="auto"`` is
    Li, Hastie and Church's "very sparse" choice ``1 / sqrt(n_features)``.
    Each projected squared distance is unbiased:
    ``E ||R x||**2 = ||x||**2``.

    Only the sign pattern is stored, as 1-byte integers, with one scale
    factor: a fitted projection takes at most 1 byte per component entry,
    an eighth of a float64 matrix.

    Parameters
    ----------
    n_components : int or "auto", default="auto"
        Dimension of the projected space. ``"auto"`` picks the
        Johnson-Lindenstrauss dimension for ``n_samples`` and ``eps``
        (:func:`sklearn.random_projection.johnson_lindenstrauss_min_dim`).
    eps : float, default=0.1
        Distortion allowed by the Johnson-Lindenstrauss bound, in (0, 1),
        when ``n_components="auto"``.
    density : float or "auto", default=1/3
        Probability that an entry is non-zero, in (0, 1]. ``"auto"`` uses
        ``1 / sqrt(n_features)``.
    dense_output : bool, default=False
        With a sparse pattern (``density < 0.05``) and sparse input, the
        output is sparse unless this is True. Otherwise the output is dense.
    compute_inverse_components : bool, default=False
        Store the pseudo-inverse of the components at fit time for
        :meth:`inverse_transform` (costly for many features).
    random_state : int, RandomState instance or None, default=None
        Seeds the random pattern. Pass an int for reproducible results.

    Attributes
    ----------
    n_components_ : int
        Number of components (resolved when ``n_components="auto"``).
    density_ : float
        Probability of a non-zero entry (resolved when ``density="auto"``).
    pattern_ : ndarray or sparse matrix of int8, shape (n_components, n_features)
        The signs, -1, 0 or +1: a dense array, or a CSR matrix when
        ``density_ < 0.05``.
    scale_ : float
        Every non-zero component entry is ``scale_`` times its sign,
        ``scale_ = 1 / sqrt(density_ * n_components_)``.
    components_ : ndarray or sparse matrix of shape (n_components, n_features)
        ``scale_ * pattern_`` in float64, materialised on access (8 bytes
        per entry; the estimator itself does not keep it).
    inverse_components_ : ndarray of shape (n_features, n_components)
        Pseudo-inverse of the components; only with
        ``compute_inverse_components=True``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit. Defined only when ``X`` has
        feature names that are all strings.

    See Also
    --------
    HadamardRandomProjection : Spreads sparse input with a fast Hadamard
        transform first; the choice for very sparse data.
    sklearn.random_projection.SparseRandomProjection : The same distribution,
        stored as a float64 sparse matrix.
    sklearn.random_projection.GaussianRandomProjection : Gaussian entries.

    Notes
    -----
    For dense ``X`` the transform is ``X @ components_.T`` by BLAS, with the
    int8 pattern cast to the dtype of ``X`` one block of components at a time
    (``O(n_samples * n_features * n_components)`` operations, at the speed of
    a dense matrix product; a float sparse product is slower for densities
    above a few percent). For sparse ``X`` it is ``X @ block.T`` in
    scipy.sparse, ``O(nnz(X) * n_components)``. Below ``density=0.05`` the
    pattern is stored and multiplied as a sparse matrix instead.

    A sparse pattern is a poor projection of *very sparse* data: a component
    with few non-zeros sees none of a row's few non-zero coordinates most of
    the time, so the projected distances of pairs whose difference sits on
    a few heavy coordinates fluctuate wildly. Use
    :class:`HadamardRandomProjection` for such data.

    References
    ----------
    D. Achlioptas (2003). Database-friendly random projections:
    Johnson-Lindenstrauss with binary coins. Journal of Computer and System
    Sciences 66(4), 671-687.

    P. Li, T. J. Hastie and K. W. Church (2006). Very sparse random
    projections. KDD '06, 287-296.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.random_projection import AchlioptasRandomProjection
    >>> rng = np.random.RandomState(42)
    >>> X = rng.normal(size=(100, 5000))
    >>> projection = AchlioptasRandomProjection(500, random_state=0)
    >>> X_new = projection.fit_transform(X)
    >>> X_new.shape
    (100, 500)
    >>> projection.pattern_.dtype, round(projection.scale_, 4)
    (dtype('int8'), 0.0775)
    >>> ratio = np.sum((X_new[0] - X_new[1]) ** 2) / np.sum((X[0] - X[1]) ** 2)
    >>> bool(abs(ratio - 1) < 0.2)
    True
    """

    _parameter_constraints: dict = {
        **BaseProjection._parameter_constraints,
        "density": [Interval(Real, 0, 1, closed="right"), StrOptions({"auto"})],
        "dense_output": ["boolean"],
    }

    def __init__(
        self,
        n_components="auto",
        *,
        eps=0.1,
        density=1 / 3,
        dense_output=False,
        compute_inverse_components=False,
        random_state=None,
    ):
        self.n_components = n_components
        self.eps = eps
        self.density = density
        self.dense_output = dense_output
        self.compute_inverse_components = compute_inverse_components
        self.random_state = random_state

    def _fit_nbytes(self, X, n_components):
        density = resolve_density(self.density, X.shape[1])
        return sign_pattern_nbytes(n_components, X.shape[1], density)

    def _fit_projection(self, X, n_components, rng):
        density = resolve_density(self.density, X.shape[1])
        pattern = draw_sign_pattern(n_components, X.shape[1], density, rng)
        self.density_ = density
        self.pattern_ = pattern
        self.scale_ = float(1.0 / np.sqrt(density * n_components))

    @property
    def components_(self):
        """``scale_ * pattern_`` as float64, materialised on access."""
        pattern = self.pattern_
        if sparse.issparse(pattern):
            return pattern.astype(np.float64) * self.scale_
        return pattern * self.scale_

    def _project(self, X):
        return project_with_pattern(X, self.pattern_, self.scale_, self.dense_output)
