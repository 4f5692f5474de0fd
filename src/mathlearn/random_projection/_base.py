"""Shared bookkeeping of the random projections: sizes, validation, inverse.

Follows scikit-learn's ``BaseRandomProjection``: ``fit`` validates ``X``,
resolves ``n_components`` (``"auto"`` from the Johnson-Lindenstrauss bound,
through scikit-learn's own :func:`~sklearn.random_projection.
johnson_lindenstrauss_min_dim`), draws the projection in a subclass hook and
optionally stores the pseudo-inverse of the components.
"""

import os
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
from scipy import linalg, sparse
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.exceptions import DataDimensionalityWarning
from sklearn.random_projection import johnson_lindenstrauss_min_dim
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted

from mathlearn.utils._doc_link import DocLinkMixin
from mathlearn.utils._sklearn_compat import (
    Interval,
    StrOptions,
    _fit_context,
    validate_data,
)

# Float elements of one temporary block (a cast slice of the components, or
# a padded block of rows): 2**23 elements are 64 MiB in float64.
BLOCK_ELEMENTS = 2**23


def physical_memory():
    """Bytes of memory of this machine, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def resolve_n_components(n_components, eps, n_samples, n_features):
    """The number of components to draw, with scikit-learn's checks."""
    if n_components == "auto":
        k = int(johnson_lindenstrauss_min_dim(n_samples=n_samples, eps=eps))
        if k <= 0:
            raise ValueError(
                f"eps={eps} and n_samples={n_samples} lead to a target "
                f"dimension of {k}, which is invalid; pass n_components"
            )
        if k > n_features:
            raise ValueError(
                f"eps={eps} and n_samples={n_samples} lead to a target "
                f"dimension of n_components={k}, which is larger than the "
                f"original space with n_features={n_features}; pass a larger "
                "eps or an explicit n_components"
            )
        return k
    if n_components > n_features:
        warnings.warn(
            f"The number of components is higher than the number of features: "
            f"n_features < n_components ({n_features} < {n_components}). "
            "The dimensionality of the problem will not be reduced.",
            DataDimensionalityWarning,
            stacklevel=3,
        )
    return int(n_components)


class BaseProjection(
    DocLinkMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
    metaclass=ABCMeta,
):
    """Base class of mathlearn's random projections; use a subclass.

    Subclasses implement ``_fit_projection`` (returns the fitted attributes
    as a dict), ``_fit_nbytes`` (the memory that takes) and ``_project`` (the
    transform of validated input), and override ``_dense_components`` (the
    projection as a dense matrix, for the pseudo-inverse) if they have no
    ``components_``.
    """

    _parameter_constraints: dict = {
        "n_components": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "eps": [Interval(Real, 0, 1, closed="neither")],
        "compute_inverse_components": ["boolean"],
        "random_state": ["random_state"],
    }

    # A two-dimensional projection keeps the common checks' tiny data valid
    # (scikit-learn's own test suite does the same for its projections).
    _test_params = {"n_components": 2}

    @abstractmethod
    def _fit_projection(self, X, n_components, rng):
        """Draw the projection for validated ``X`` and set its attributes.

        Computes into locals and assigns the fitted attributes by name at the
        end, so that an error leaves a previous fit untouched.
        """

    @abstractmethod
    def _fit_nbytes(self, X, n_components):
        """About how many bytes ``_fit_projection`` allocates at its peak."""

    @abstractmethod
    def _project(self, X):
        """Project validated ``X`` of shape (n_samples, n_features_in_)."""

    def _dense_components(self):
        """The projection as a dense (n_components_, n_features_in_) ndarray."""
        components = self.components_
        return components.toarray() if sparse.issparse(components) else components

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Draw the random projection for data shaped like ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Its shape sets the dimensions (``n_samples`` for
            ``n_components="auto"``); only data-dependent projections read
            the values.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted projection.

        Raises
        ------
        ValueError
            If drawing the projection for ``n_components`` would take more
            memory than the machine has (checked before any work).
        """
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32])
        n_samples, n_features = X.shape
        n_components = resolve_n_components(
            self.n_components, self.eps, n_samples, n_features
        )
        # Fail fast where the projection cannot be built, instead of running
        # for hours into an out-of-memory error.
        n_bytes = self._fit_nbytes(X, n_components)
        memory = physical_memory()
        if memory is not None and n_bytes > memory:
            raise ValueError(
                f"n_components={n_components} needs about {n_bytes / 2**30:,.0f} "
                f"GiB to fit {type(self).__name__} on X of shape {X.shape}, more "
                f"than the {memory / 2**30:,.0f} GiB of memory of this machine; "
                "pass a smaller n_components"
            )
        rng = check_random_state(self.random_state)
        self._fit_projection(X, n_components, rng)
        self.n_components_ = n_components
        self._fit_dtype = X.dtype
        if self.compute_inverse_components:
            self.inverse_components_ = self._pinv()
        return self

    @property
    def _n_features_out(self):
        """Number of output features, for ``get_feature_names_out``."""
        return self.n_components_

    def transform(self, X):
        """Project ``X`` onto the random components.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The data to project.

        Returns
        -------
        X_new : {ndarray, sparse matrix} of shape (n_samples, n_components)
            Projected data, in the dtype of ``X`` (float32 stays float32).
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            reset=False,
        )
        return self._project(X)

    def _pinv(self):
        components = self._dense_components()
        return linalg.pinv(components, check_finite=False).astype(
            self._fit_dtype, copy=False
        )

    def inverse_transform(self, X):
        """Map projected data back to the original space (least squares).

        Returns ``X @ pinv(components).T``: the minimum-norm point whose
        projection is each row of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_components)
            Projected data.

        Returns
        -------
        X_original : ndarray of shape (n_samples, `n_features_in_`)
            Reconstructed data. Without ``compute_inverse_components=True``
            the pseudo-inverse is recomputed at every call.
        """
        check_is_fitted(self)
        X = check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32])
        if X.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} "
                f"projects to n_components_={self.n_components_}; expected X "
                f"of shape (n_samples, {self.n_components_})"
            )
        if self.compute_inverse_components:
            inverse = self.inverse_components_
        else:
            inverse = self._pinv()
        # Dense or sparse X times an ndarray is an ndarray.
        return X @ inverse.astype(X.dtype, copy=False).T

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True
        return tags
