"""Projection onto random signed combinations of the training rows."""

from numbers import Integral

import numpy as np
from scipy import linalg, sparse
from scipy.sparse.csgraph import connected_components
from sklearn.utils.extmath import row_norms, safe_sparse_dot

from mathlearn.random_projection._base import BaseProjection
from mathlearn.utils._sklearn_compat import Interval, StrOptions

# Each training row takes part in about this many components with
# n_samples_per_component="auto".
_APPEARANCES = 16
# Pairs of training rows used to calibrate the scale.
_N_CALIBRATION_PAIRS = 500
# Sparse rows whose cosine exceeds this overlap "strongly" and are whitened
# together; groups larger than _MAX_GROUP are left as they are.
_OVERLAP = 0.2
_MAX_GROUP = 3000
_ROW_CHUNK = 2048


def _whitening(X_hat):
    """Sparse block-diagonal ``W`` with ``W @ X_hat`` nearly orthonormal rows.

    Rows of the sparse ``X_hat`` (unit norm) are grouped by the connected
    components of the graph of cosines above ``_OVERLAP``; each group ``c``
    gets the pseudo-inverse square root of its Gram matrix, ``G_c^{+1/2}``,
    so its rows become an orthonormal basis of their span. Weaker overlaps
    are ignored. Returns the groups' sizes as well.
    """
    n = X_hat.shape[0]
    heads, tails = [], []
    for start in range(0, n, _ROW_CHUNK):
        G = (X_hat[start : start + _ROW_CHUNK] @ X_hat.T).tocoo()
        strong = (np.abs(G.data) > _OVERLAP) & (G.row + start != G.col)
        heads.append(G.row[strong] + start)
        tails.append(G.col[strong])
    heads, tails = np.concatenate(heads), np.concatenate(tails)
    graph = sparse.csr_matrix((np.ones(heads.size), (heads, tails)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    rows, cols, values = [], [], []
    for group in np.split(order, bounds):
        if group.size == 1 or group.size > _MAX_GROUP:
            rows.append(group)
            cols.append(group)
            values.append(np.ones(group.size))
            continue
        block = X_hat[group]
        gram = (block @ block.T).toarray()
        eigenvalues, vectors = linalg.eigh(gram)
        keep = eigenvalues > 1e-10 * eigenvalues[-1]
        root = (vectors[:, keep] / np.sqrt(eigenvalues[keep])) @ vectors[:, keep].T
        rows.append(np.repeat(group, group.size))
        cols.append(np.tile(group, group.size))
        values.append(root.ravel())
    W = sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, n),
    )
    return W, np.bincount(labels)


def _row_max(X):
    """The largest magnitude of each row of dense or sparse ``X``."""
    largest = abs(X).max(axis=1)
    if sparse.issparse(largest):
        largest = largest.toarray()
    return np.asarray(largest).ravel()


def _row_exponents(X):
    """The ``e`` with ``max|X[i]| <= 2**e`` for each row ``i`` (0 for zero rows)."""
    return np.frexp(_row_max(X))[1]


def _ldexp_rows(X, exponents):
    """A copy of ``X`` with row ``i`` multiplied by ``2**exponents[i]`` (exact)."""
    if sparse.issparse(X):
        X = X.tocsr(copy=True)
        X.data = np.ldexp(X.data, np.repeat(exponents, np.diff(X.indptr)))
        return X
    return np.ldexp(X, exponents[:, None])


def _in_range(squares, dtype, high):
    """Where sums of squares in ``dtype`` lost nothing: in [tiny / eps, high].

    Below ``tiny / eps``, squares of small entries may have underflowed (and
    exact zeros look the same); above ``high``, they may have overflowed.
    """
    info = np.finfo(dtype)
    return (squares >= info.tiny / info.eps) & (squares <= high)


def _unit_rows(X):
    """``X`` with each non-zero row divided by its norm, and those rows' indices.

    When a row's squared norm leaves the float range (entries beyond about
    1e154 or below 1e-146 in float64, 1e19 and 1e-15 in float32), every such
    row is first divided by a power of two near its largest entry, exactly,
    as LAPACK's ``nrm2`` scales: rows of 1e200 or 1e-200 are normalised like
    rows of 1, where their squared norm would be inf or 0. The unit rows are
    float64 for sparse ``X`` (for the Gram matrices of the whitening) and in
    the dtype of ``X`` otherwise.
    """
    norms = row_norms(X)
    safe = _in_range(norms**2, X.dtype, np.finfo(X.dtype).max)
    if not safe.all():
        X = _ldexp_rows(X, np.where(safe, 0, -_row_exponents(X)))
        norms = row_norms(X)
    rows = np.flatnonzero(norms > 0)
    inverse_norms = np.zeros(X.shape[0])
    inverse_norms[rows] = 1.0 / norms[rows]
    if sparse.issparse(X):
        return (sparse.diags(inverse_norms) @ X).tocsr(), rows
    return X * inverse_norms[:, None].astype(X.dtype), rows


def _balanced_samples(rows, n_components, n_per_component, rng):
    """``(n_components, n_per_component)`` row indices, each row used equally.

    The rows are laid out as consecutive random permutations and cut into
    components, so every row appears ``floor`` or ``ceil`` of
    ``n_components * n_per_component / len(rows)`` times.
    """
    n_slots = n_components * n_per_component
    n_rounds = -(-n_slots // rows.size)
    order = np.concatenate([rng.permutation(rows) for _ in range(n_rounds)])
    return order[:n_slots].reshape(n_components, n_per_component)


class SampledRandomProjection(BaseProjection):
    """Project onto random signed combinations of sampled training rows.

    Each component is a random +-1 combination of ``n_samples_per_component``
    training rows, each first scaled to unit norm, so the projection lives in
    the span of the data itself. Rows are spread evenly over the components
    (every row takes part in the same number of them, up to one) and weighted
    so that every row carries the same total weight; for sparse input, groups
    of rows that overlap strongly are first replaced by an orthonormal basis
    of their span. One scale factor, fitted on pairs of training rows, makes
    the median projected squared distance right.

    For rows that are nearly orthogonal, as in very sparse data, component
    ``j`` measures ``x`` along the few training rows it combines, so the
    distances *between training rows* are kept almost exactly, where a
    sparse data-independent projection loses them. Points outside the span
    of the training data (new, unrelated sparse rows) are not represented:
    the projection is for the data it was fitted on and data that shares
    its directions.

    Parameters
    ----------
    n_components : int or "auto", default="auto"
        Dimension of the projected space. ``"auto"`` picks the
        Johnson-Lindenstrauss dimension for ``n_samples`` and ``eps``
        (:func:`sklearn.random_projection.johnson_lindenstrauss_min_dim`).
    eps : float, default=0.1
        Distortion allowed by the Johnson-Lindenstrauss bound, in (0, 1),
        when ``n_components="auto"``.
    n_samples_per_component : int or "auto", default="auto"
        Training rows combined in each component, at most the number of
        non-zero rows. ``"auto"`` uses enough for every non-zero row to take
        part in about 16 components:
        ``min(n_rows, ceil(16 * n_rows / n_components))``.
    dense_output : bool, default=False
        With sparse input the components and the output are sparse unless
        this is True.
    compute_inverse_components : bool, default=False
        Store the pseudo-inverse of the components at fit time for
        :meth:`inverse_transform`.
    random_state : int, RandomState instance or None, default=None
        Seeds the choice of rows, the signs and the calibration pairs.

    Attributes
    ----------
    n_components_ : int
        Number of components (resolved when ``n_components="auto"``).
    n_samples_per_component_ : int
        Training rows per component (resolved when ``"auto"``).
    sample_indices_ : ndarray of shape (n_components, n_samples_per_component)
        Indices of the training rows combined in each component.
    components_ : ndarray or sparse matrix of shape (n_components, n_features)
        The projection: unit-norm combinations times ``scale_``; sparse when
        ``X`` was sparse.
    scale_ : float
        Factor that makes the median ratio of projected to original squared
        distances of 500 random pairs of training rows equal to 1.
    largest_group_ : int
        Size of the largest group of strongly overlapping rows whitened
        together (1 for dense input).
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
    HadamardRandomProjection : Data-independent and accurate on very sparse
        data, for new points too.
    sklearn.decomposition.TruncatedSVD : The best data-dependent subspace,
        at the cost of an SVD.

    Notes
    -----
    Let ``X_hat`` hold the rows of ``X`` scaled to unit norm, and ``S`` be a
    sparse ``(n_components, n_samples)`` matrix with
    ``n_samples_per_component`` entries per row, where row ``i`` of ``X``,
    used in ``c_i`` components, enters each with weight ``+-1 / sqrt(c_i)``
    (every column of ``S`` has unit norm: a sparse Johnson-Lindenstrauss
    matrix in the style of Kane and Nelson). The components are
    ``scale_ * S @ W @ X_hat``. For sparse ``X``, ``W`` is block diagonal:
    rows whose cosine exceeds 0.2 are grouped (connected components of that
    graph) and each group of at most 3,000 rows gets ``G^{+1/2}``, the
    pseudo-inverse square root of its Gram matrix, so that ``W @ X_hat`` has
    nearly orthonormal rows. For dense ``X``, ``W`` is the identity. Rows
    whose squared norm would overflow or underflow are divided by a power of
    two before they are normalised, so ``a * X`` gets the projection of
    ``X`` for any ``a`` (1e-300 to 1e300); ``X + c`` does not, since the
    components follow the rows.

    If ``Q = (W @ X_hat).T`` had orthonormal columns, ``Q.T`` would be an
    isometry of the data's span, and ``S @ Q.T`` a sparse
    Johnson-Lindenstrauss projection of the coordinates in that basis: the
    distances between training points are kept up to the usual ``O(1 /
    sqrt(k))`` fluctuation. Weak overlaps that are not whitened (common words
    in text, or dense data) bias the distances of the pairs that share them,
    which one scale factor cannot correct: expect a wider spread of
    distortions on such data (on a TF-IDF matrix of the 1,790 source files
    of Python's standard library, 1.0 to 1.5 times the p99 distortion of a
    Gaussian projection, see ``benchmarks/bench_random_projection.py``).

    Fitting costs ``O(nnz(S @ W @ X_hat))``, the sparse Gram products, one
    eigendecomposition per group, and the projection of 1,000 training rows
    for the scale; the transform is ``X @ components_.T``. On text, where
    groups are large and rows long, this is the slowest and largest of the
    projections (that TF-IDF matrix at k = 1,024: about 20 s to fit and
    sparse components of about 1 GB).

    References
    ----------
    D. M. Kane and J. Nelson (2014). Sparser Johnson-Lindenstrauss transforms.
    Journal of the ACM 61(1), 4.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.random_projection import SampledRandomProjection
    >>> rng = np.random.RandomState(42)
    >>> X = rng.normal(size=(200, 2000))
    >>> projection = SampledRandomProjection(400, random_state=0).fit(X)
    >>> projection.n_samples_per_component_, projection.sample_indices_.shape
    (8, (400, 8))
    >>> X_new = projection.transform(X)
    >>> ratio = np.sum((X_new[0] - X_new[1]) ** 2) / np.sum((X[0] - X[1]) ** 2)
    >>> bool(abs(ratio - 1) < 0.2)
    True
    """

    _parameter_constraints: dict = {
        **BaseProjection._parameter_constraints,
        "n_samples_per_component": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "dense_output": ["boolean"],
    }

    def __init__(
        self,
        n_components="auto",
        *,
        eps=0.1,
        n_samples_per_component="auto",
        dense_output=False,
        compute_inverse_components=False,
        random_state=None,
    ):
        self.n_components = n_components
        self.eps = eps
        self.n_samples_per_component = n_samples_per_component
        self.dense_output = dense_output
        self.compute_inverse_components = compute_inverse_components
        self.random_state = random_state

    def _n_per_component(self, n_rows, n_components):
        if self.n_samples_per_component == "auto":
            return min(n_rows, -(-_APPEARANCES * n_rows // n_components))
        return self.n_samples_per_component

    def _fit_nbytes(self, X, n_components):
        n_samples, n_features = X.shape
        n_per = min(n_samples, self._n_per_component(n_samples, n_components))
        # The samples, their signs and S (three 8-byte numbers each), then
        # the components, dense or with up to n_per rows' non-zeros each.
        width = n_features
        if sparse.issparse(X):
            width = min(n_features, n_per * -(-X.nnz // max(n_samples, 1)))
        return n_components * (24 * n_per + (X.dtype.itemsize + 4) * width)

    def _fit_projection(self, X, n_components, rng):
        X_hat, rows = _unit_rows(X)
        if rows.size == 0:
            raise ValueError(
                "SampledRandomProjection combines training rows, but every "
                "row of X is zero"
            )
        n_per = self._n_per_component(rows.size, n_components)
        if n_per > rows.size:
            raise ValueError(
                f"n_samples_per_component={n_per} must be <= the number "
                f"of non-zero rows of X, {rows.size}"
            )
        samples = _balanced_samples(rows, n_components, n_per, rng)
        # Row i, used in counts[i] components, enters each with weight
        # +-1 / sqrt(counts[i]): every column of S has unit norm.
        counts = np.bincount(samples.ravel(), minlength=X.shape[0])
        signs = 2.0 * rng.randint(2, size=samples.shape) - 1.0
        weights = (signs / np.sqrt(counts[samples])).ravel()
        indptr = np.arange(0, samples.size + 1, n_per)
        S = sparse.csr_matrix(
            (weights, samples.ravel(), indptr), shape=(n_components, X.shape[0])
        )
        S.sum_duplicates()
        if sparse.issparse(X):
            W, group_sizes = _whitening(X_hat)
            components = (S @ W) @ X_hat
        else:
            group_sizes = np.ones(X.shape[0], dtype=np.intp)
            components = S @ X_hat

        # One scale for the whole projection: the median ratio of the squared
        # distances of random pairs of training rows, after over before. If a
        # squared distance of distinct rows leaves the float range (or the
        # projected one could), each pair is first divided by a power of two
        # near its largest entry, which does not change the ratio.
        first = rng.choice(rows, _N_CALIBRATION_PAIRS)
        second = rng.choice(rows, _N_CALIBRATION_PAIRS)
        keep = first != second
        ratio = 0.0
        if keep.any():
            A, B = X[first[keep]], X[second[keep]]
            diff = (A - B).astype(components.dtype, copy=False)
            before = row_norms(diff, squared=True)
            lost = ~_in_range(before, diff.dtype, np.sqrt(np.finfo(diff.dtype).max))
            if lost.any() and _row_max(diff[lost]).any():
                exponents = -np.maximum(_row_exponents(A), _row_exponents(B))
                diff = _ldexp_rows(A, exponents) - _ldexp_rows(B, exponents)
                diff = diff.astype(components.dtype, copy=False)
                before = row_norms(diff, squared=True)
            projected = safe_sparse_dot(diff, components.T, dense_output=True)
            after = np.sum(np.square(projected, dtype=np.float64), axis=1)
            ratio = float(np.median(after[before > 0] / before[before > 0]))
        # With a single distinct row, orthonormal rows' value: 1.
        scale = 1.0 / np.sqrt(ratio) if ratio > 0 else 1.0
        components = components * X.dtype.type(scale)
        if sparse.issparse(components):
            components = components.tocsr().astype(X.dtype)
        else:
            components = components.astype(X.dtype, copy=False)
        self.n_samples_per_component_ = n_per
        self.sample_indices_ = samples
        self.components_ = components
        self.scale_ = float(scale)
        self.largest_group_ = int(group_sizes.max())

    def _project(self, X):
        # Components fitted on float64 project float32 data in float32, as
        # the other projections do.
        components = self.components_.astype(X.dtype, copy=False)
        out = safe_sparse_dot(X, components.T, dense_output=self.dense_output)
        if sparse.issparse(out):
            return out.tocsr()
        return np.asarray(out)
