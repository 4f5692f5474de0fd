"""The fast Johnson-Lindenstrauss transform x -> P H D x (Ailon & Chazelle).

``D`` flips the signs of random coordinates, ``H`` is the Walsh-Hadamard
transform of the input zero-padded to a power of two, and ``P`` keeps a
random subset of the coordinates (the subsampled randomized Hadamard
transform, SRHT) or is a sparse Achlioptas matrix. ``H D`` spreads the energy
of a sparse vector over every coordinate, which is what lets the sparse or
subsampling ``P`` work on very sparse input.
"""

from numbers import Integral, Real

import numpy as np
from scipy import sparse
from scipy.linalg import hadamard

from mathlearn.random_projection._achlioptas import (
    draw_sign_pattern,
    resolve_density,
    sign_pattern_nbytes,
)
from mathlearn.random_projection._base import BLOCK_ELEMENTS, BaseProjection
from mathlearn.utils._sklearn_compat import Interval, StrOptions
from mathlearn.utils._threads import one_blas_thread

# The low bits of the transform are one BLAS product with H_{2**6}; the rest
# are butterflies on chunks of rows small enough to stay in cache.
_GEMM_ORDER = 64
# "subsample" multiplies by the explicit components when they have at most
# this many entries (64 MiB in float64).
_EXPLICIT_ELEMENTS = BLOCK_ELEMENTS
_CACHE_ELEMENTS = 2**17


def fwht(X):
    """Unnormalised Walsh-Hadamard transform of each row: ``X @ H_n``.

    ``H_n`` is Sylvester's Hadamard matrix (``scipy.linalg.hadamard(n)``),
    ``n = X.shape[1]`` a power of two. The transform is
    ``H_n = H_{n/a} (x) H_a``: one matrix product with the small ``H_a``
    (``a = 64``) over the last axis of ``X.reshape(-1, a)``, then the
    ``log2(n / a)`` butterfly stages ``(u, v) -> (u + v, u - v)`` between
    halves ``h = a, 2a, ..., n/2`` apart, vectorised over chunks of rows that
    fit in cache. ``O(n log n)`` per row.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n), C-contiguous float
        Overwritten (it is the work buffer).

    Returns
    -------
    X_new : ndarray of shape (n_rows, n)
        ``X @ hadamard(n)``; divide by ``sqrt(n)`` for the orthonormal
        transform, which is then its own inverse.
    """
    n_rows, n = X.shape
    a = min(n, _GEMM_ORDER)
    if a > 1:
        X = (X.reshape(-1, a) @ hadamard(a).astype(X.dtype)).reshape(n_rows, n)
    if a == n:
        return X
    chunk = max(1, _CACHE_ELEMENTS // n)
    tmp = np.empty((min(chunk, n_rows), n // 2), dtype=X.dtype)
    for start in range(0, n_rows, chunk):
        rows = X[start : start + chunk]
        r = rows.shape[0]
        h = a
        while h < n:
            halves = rows.reshape(r, n // (2 * h), 2, h)
            u, v = halves[:, :, 0, :], halves[:, :, 1, :]
            diff = tmp[:r].reshape(r, n // (2 * h), h)
            np.subtract(u, v, out=diff)
            u += v
            v[...] = diff
            h *= 2
    return X


def _popcount(values):
    """Number of set bits of each non-negative int64."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(values)
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
    as_bytes = values.astype(np.uint64).view(np.uint8).reshape(*values.shape, 8)
    return table[as_bytes].sum(axis=-1, dtype=np.int64)


def hadamard_entries(rows, cols):
    """``hadamard(n)[rows][:, cols]`` without the matrix: ``(-1)**popcount(i & j)``."""
    parity = _popcount(rows[:, None] & cols[None, :]) & 1
    return 1 - 2 * parity.astype(np.int8)


def _small_order(n):
    """``a = 2**ceil(log2(n) / 2)``, the inner factor of ``H_n = H_B (x) H_a``."""
    return 1 << (n.bit_length() // 2)


def subsampled_hadamard(X, signs, n, indices):
    """Columns ``indices`` of ``pad(X * signs, n) @ hadamard(n)``, with BLAS.

    With ``n = B * a`` and a padded row ``x`` laid out as a ``(B, a)`` matrix
    ``M`` (``x[b * a + c] = M[b, c]``), Sylvester's ``H_n = H_B (x) H_a``
    gives ``(H x)[b' * a + c'] = sum_b H_B[b', b] (M @ H_a)[b, c']``. The
    first product is one BLAS call over the ``ceil(d / a)`` rows of ``M``
    that hold data (``d = X.shape[1]``; the zero padding is never formed).
    The second is computed only for the wanted outputs: grouped by ``c'``,
    it is one batched product of the ``(n_rows, ceil(d / a))`` slice of
    ``c'`` with the rows ``b'`` of ``H_B`` that ``c'`` needs. ``a`` is about
    ``sqrt(n)``: a row costs about ``2 d (a + k * max_group / (k / a))``
    flops, against ``2 d k`` for a Gaussian projection.

    Parameters
    ----------
    X : ndarray of shape (n_rows, d), d <= n
    signs : ndarray of shape (d,)
        The diagonal of ``D``, in the dtype of ``X``.
    n : int
        Power of two, the length of the transform.
    indices : ndarray of int of shape (k,)
        Columns to return, in ``range(n)``.

    Returns
    -------
    out : ndarray of shape (n_rows, k)
    """
    n_rows, d = X.shape
    a = _small_order(n)
    n_used = -(-d // a)
    M = np.empty((n_rows, n_used * a), dtype=X.dtype)
    M[:, d:] = 0
    np.multiply(X, signs, out=M[:, :d])
    Z = M.reshape(n_rows * n_used, a) @ hadamard(a).astype(X.dtype)
    # (a, n_rows, n_used): one contiguous slice per inner output index c'.
    Z = np.ascontiguousarray(Z.reshape(n_rows, n_used, a).transpose(2, 0, 1))
    b_out, c_out = np.divmod(indices, a)
    order = np.argsort(c_out, kind="stable")
    counts = np.bincount(c_out, minlength=a)
    slot = np.arange(indices.size) - np.repeat(np.cumsum(counts) - counts, counts)
    H_sel = np.zeros((a, n_used, counts.max()), dtype=X.dtype)
    H_sel[c_out[order], :, slot] = hadamard_entries(b_out[order], np.arange(n_used))
    Y = np.matmul(Z, H_sel)  # (a, n_rows, max group size)
    out = np.empty((n_rows, indices.size), dtype=X.dtype)
    out[:, order] = Y[c_out[order], :, slot].T
    return out


def _next_power_of_two(n):
    return 1 << max(0, int(n - 1).bit_length())


class HadamardRandomProjection(BaseProjection):
    """Fast Johnson-Lindenstrauss transform: random signs, Hadamard, sparse P.

    Each row ``x`` becomes ``P H D x``: ``D`` multiplies every feature by a
    random sign, ``H`` is the orthonormal Walsh-Hadamard transform of ``x``
    zero-padded to ``n_padded_ = 2**ceil(log2(n_features))`` coordinates
    (``O(n log n)`` butterflies, no matrix stored) and ``P`` keeps
    ``n_components`` random coordinates, rescaled (``projection=
    "subsample"``, the SRHT), or is a sparse Achlioptas projection
    (``projection="sparse"``). ``H D`` spreads the energy of a sparse row
    over all coordinates, so the sampling ``P`` sees all of it: unlike a
    sparse projection, this keeps the distances of *very sparse* data, at a
    fraction of a Gaussian projection's memory.

    Parameters
    ----------
    n_components : int or "auto", default="auto"
        Dimension of the projected space. ``"auto"`` picks the
        Johnson-Lindenstrauss dimension for ``n_samples`` and ``eps``
        (:func:`sklearn.random_projection.johnson_lindenstrauss_min_dim`).
    eps : float, default=0.1
        Distortion allowed by the Johnson-Lindenstrauss bound, in (0, 1),
        when ``n_components="auto"``.
    projection : {"subsample", "sparse"}, default="subsample"
        ``"subsample"``: keep ``n_components`` distinct coordinates of
        ``H D x`` chosen uniformly, times ``sqrt(n_padded_ / n_components)``.
        ``"sparse"``: multiply ``H D x`` by an Achlioptas matrix of density
        ``density``.
    density : float or "auto", default="auto"
        Density of ``P`` for ``projection="sparse"``, in (0, 1]; ``"auto"``
        is ``1 / sqrt(n_padded_)``. Ignored by ``"subsample"``.
    block_size : int or "auto", default="auto"
        Rows transformed at a time. Sparse input is densified one block at a
        time, so memory stays ``O(block_size * n_padded_)``. ``"auto"`` takes
        as many rows as fit in 64 MiB of float64.
    compute_inverse_components : bool, default=False
        Store the pseudo-inverse of the (dense) components at fit time for
        :meth:`inverse_transform`; costs ``n_components * n_features``
        floats.
    random_state : int, RandomState instance or None, default=None
        Seeds the signs and ``P``. Pass an int for reproducible results.

    Attributes
    ----------
    n_components_ : int
        Number of components (resolved when ``n_components="auto"``).
    n_padded_ : int
        Length of the transform: the next power of two of ``n_features``
        (and of ``n_components_`` for ``"subsample"``).
    signs_ : ndarray of int8 of shape (n_features,)
        The diagonal of ``D``, -1 or +1.
    indices_ : ndarray of int64 of shape (n_components,)
        Coordinates of ``H D x`` kept by ``"subsample"``, sorted; ``None``
        for ``"sparse"``.
    pattern_ : sparse matrix of int8 of shape (n_components, n_padded)
        Signs of ``P`` for ``"sparse"``; ``None`` for ``"subsample"``.
    density_ : float
        Density of ``P`` (1 for ``"subsample"``, which has no ``P`` matrix).
    scale_ : float
        The factor applied to the kept coordinates of the *unnormalised*
        transform ``X @ hadamard(n_padded_)``: ``1 / sqrt(n_components_)``
        for ``"subsample"``, ``1 / sqrt(density_ * n_components_ *
        n_padded_)`` for ``"sparse"``.
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
    AchlioptasRandomProjection : Sparse sign projection without the
        Hadamard step; faster on dense data, poor on very sparse data.
    sklearn.random_projection.GaussianRandomProjection : Dense Gaussian
        components, ``n_components * n_features`` floats.

    Notes
    -----
    With orthonormal ``H``, ``||H D x|| = ||x||`` and every coordinate of
    ``H D x`` is, with high probability, at most
    ``sqrt(2 log(2 n / delta) / n) ||x||``, however sparse ``x`` is. Sampling
    ``k`` such coordinates and rescaling by ``sqrt(n / k)`` then preserves
    ``||x||**2`` to within ``eps`` for ``k = O(eps**-2 log(n_samples)
    log(n))`` (Tropp 2011).

    The transform takes the cheapest exact route (all give the same result).
    For ``"subsample"``: when ``k * n_features <= 2**23``, the explicit
    ``(k, n_features)`` matrix from the sign formula ``hadamard(n)[i, j] =
    (-1)**popcount(i & j)`` and one BLAS product; for blocks of very sparse
    rows, the same formula for just the columns they use (``O(k * nnz)``);
    otherwise ``H_n = H_B (x) H_a`` (``a`` about ``sqrt(n)``) as two BLAS
    products per block of rows. For ``"sparse"``: butterflies (``O(n log n)``
    per row) followed by the sparse ``P``. Sparse input is densified one
    block at a time. The fitted state is ``n_features`` signs (1 byte each)
    and ``n_components_`` indices, or the int8 pattern of ``P``.

    References
    ----------
    N. Ailon and B. Chazelle (2009). The fast Johnson-Lindenstrauss
    transform and approximate nearest neighbors. SIAM Journal on Computing
    39(1), 302-322.

    J. A. Tropp (2011). Improved analysis of the subsampled randomized
    Hadamard transform. Advances in Adaptive Data Analysis 3(1-2), 115-126.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> from mathlearn.random_projection import HadamardRandomProjection
    >>> X = sparse.random(100, 5000, density=0.001, random_state=0, format="csr")
    >>> projection = HadamardRandomProjection(1000, random_state=0)
    >>> X_new = projection.fit_transform(X)
    >>> X_new.shape, projection.n_padded_
    ((100, 1000), 8192)
    >>> ratio = np.sum((X_new[0] - X_new[1]) ** 2) / (X[0] - X[1]).power(2).sum()
    >>> bool(abs(ratio - 1) < 0.2)
    True
    """

    _parameter_constraints: dict = {
        **BaseProjection._parameter_constraints,
        "projection": [StrOptions({"subsample", "sparse"})],
        "density": [Interval(Real, 0, 1, closed="right"), StrOptions({"auto"})],
        "block_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
    }

    def __init__(
        self,
        n_components="auto",
        *,
        eps=0.1,
        projection="subsample",
        density="auto",
        block_size="auto",
        compute_inverse_components=False,
        random_state=None,
    ):
        self.n_components = n_components
        self.eps = eps
        self.projection = projection
        self.density = density
        self.block_size = block_size
        self.compute_inverse_components = compute_inverse_components
        self.random_state = random_state

    def _fit_nbytes(self, X, n_components):
        n_padded = _next_power_of_two(X.shape[1])
        if self.projection == "subsample":
            # rng.choice without replacement permutes every coordinate.
            return 8 * max(n_padded, _next_power_of_two(n_components))
        density = resolve_density(self.density, n_padded)
        return sign_pattern_nbytes(n_components, n_padded, density)

    def _fit_projection(self, X, n_components, rng):
        n_features = X.shape[1]
        n_padded = _next_power_of_two(n_features)
        signs = (2 * rng.randint(2, size=n_features) - 1).astype(np.int8)
        if self.projection == "subsample":
            n_padded = max(n_padded, _next_power_of_two(n_components))
            indices = np.sort(rng.choice(n_padded, n_components, replace=False))
            pattern, density = None, 1.0
            scale = 1.0 / np.sqrt(n_components)
        else:
            indices = None
            density = resolve_density(self.density, n_padded)
            pattern = sparse.csr_matrix(
                draw_sign_pattern(n_components, n_padded, density, rng)
            )
            scale = 1.0 / np.sqrt(density * n_components * n_padded)
        self.n_padded_ = n_padded
        self.signs_ = signs
        self.indices_ = indices
        self.pattern_ = pattern
        self.density_ = density
        self.scale_ = float(scale)

    def _block_rows(self):
        if self.block_size == "auto":
            return max(1, BLOCK_ELEMENTS // self.n_padded_)
        return self.block_size

    def _project(self, X):
        dtype = X.dtype
        n_samples, n_features = X.shape
        signs = self.signs_.astype(dtype)
        scale = dtype.type(self.scale_)
        weights = None
        if self.pattern_ is not None:
            weights = self.pattern_.astype(dtype)
            weights.data *= scale
        if weights is None and self.n_components_ * n_features <= _EXPLICIT_ELEMENTS:
            # A small (k, n_features) matrix, built from the sign formula of
            # H, is one BLAS (or sparse) product: as fast as a Gaussian
            # projection, and faster than the reshapes of the Kronecker route
            # unless both k and n_features are large (measured).
            entries = hadamard_entries(self.indices_, np.arange(n_features))
            entries = entries.astype(dtype)
            entries *= signs * scale
            return np.asarray(X @ entries.T)
        out = np.empty((n_samples, self.n_components_), dtype=dtype)
        # The butterflies and the Kronecker route are many small products
        # (Hadamard blocks of order about sqrt(n)): on BLAS's threads each
        # waits for the other, and next to a busy program the transform took
        # 1.4-1.7 times as long; on one thread it is as fast idle (measured).
        with one_blas_thread():
            self._project_blocks(X, out, signs, scale, weights)
        return out

    def _project_blocks(self, X, out, signs, scale, weights):
        """Project ``X`` block by block into ``out`` (butterflies or Kronecker)."""
        n_samples, n_features = X.shape
        dtype = X.dtype
        step = self._block_rows()
        buffer = None
        log_n = max(1, int(np.log2(self.n_padded_)))
        for start in range(0, n_samples, step):
            stop = min(start + step, n_samples)
            rows = X[start:stop]
            if weights is None and sparse.issparse(rows):
                # A few non-zero columns: build just those columns of the
                # components from the sign formula of H, when that is cheaper
                # than the butterflies.
                used = np.unique(rows.indices)
                if self.n_components_ * used.size * 4 < rows.shape[0] * (
                    self.n_padded_ * log_n
                ):
                    entries = hadamard_entries(self.indices_, used).astype(dtype)
                    entries *= signs[used] * scale
                    compact = sparse.csr_matrix(
                        (rows.data, np.searchsorted(used, rows.indices), rows.indptr),
                        shape=(rows.shape[0], used.size),
                    )
                    out[start:stop] = compact @ entries.T
                    continue
            dense = rows.toarray() if sparse.issparse(rows) else rows
            if weights is None:
                out[start:stop] = subsampled_hadamard(
                    dense, signs, self.n_padded_, self.indices_
                )
                out[start:stop] *= scale
                continue
            if buffer is None:
                buffer = np.empty((min(step, n_samples), self.n_padded_), dtype=dtype)
            block = buffer[: stop - start]
            block[:, n_features:] = 0
            np.multiply(dense, signs, out=block[:, :n_features])
            transformed = fwht(block)
            out[start:stop] = (weights @ transformed.T).T

    def _dense_components(self):
        if self.pattern_ is not None:
            # Row i of P H (H is symmetric) is the transform of row i of P:
            # O(k n log n) butterflies, against O(d n log n) for the identity.
            n_features = self.n_features_in_
            dtype = self._fit_dtype
            factors = self.signs_.astype(dtype) * dtype.type(self.scale_)
            out = np.empty((self.n_components_, n_features), dtype=dtype)
            step = self._block_rows()
            for start in range(0, self.n_components_, step):
                block = self.pattern_[start : start + step].toarray().astype(dtype)
                out[start : start + step] = fwht(block)[:, :n_features] * factors
            return out
        # Row j of the components is the projection of the basis vector e_j.
        # A sparse identity is densified one block of rows at a time by
        # _project; a dense one would take n_features_in_**2 floats.
        identity = sparse.identity(
            self.n_features_in_, dtype=self._fit_dtype, format="csr"
        )
        return np.ascontiguousarray(self._project(identity).T)
