"""Test data for random projections: very sparse rows with heavy coordinates."""

import numpy as np
from scipy import sparse
from sklearn.utils import check_random_state


def make_very_sparse(
    n_samples=10_000, n_features=100_000, *, density=1e-4, heavy=10.0, random_state=None
):
    """Sparse CSR matrix whose rows each have one dominant coordinate.

    Each entry is non-zero with probability ``density`` (standard normal
    values); in every row one non-zero is multiplied by ``heavy``, so most of
    the row's squared norm sits on a single coordinate, the case where sparse
    random projections fail. Every row has at least one non-zero.
    """
    rng = check_random_state(random_state)
    # At least one non-zero per row; columns drawn with replacement (a
    # repeated column, probability about nnz_per_row**2 / n_features, merges).
    counts = np.maximum(rng.binomial(n_features, density, size=n_samples), 1)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    indices = rng.randint(n_features, size=indptr[-1])
    data = rng.standard_normal(indptr[-1])
    heavy_entry = indptr[:-1] + (rng.random_sample(n_samples) * counts).astype(int)
    data[heavy_entry] *= heavy
    X = sparse.csr_matrix((data, indices, indptr), shape=(n_samples, n_features))
    X.sum_duplicates()
    return X
