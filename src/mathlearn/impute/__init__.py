"""Imputers and matrix completers: fill the missing entries of a data matrix.

:class:`TraceNormImputer` completes a matrix by nuclear-norm regularised
soft-impute, :class:`SVDImputer` by a fixed-rank factorisation fitted with
L-BFGS; both keep the observed entries as triplets, accept sparse matrices
whose stored entries are the observed ones, and scale to recommender-sized
problems. :class:`SOMImputer` reads missing entries from a self-organizing map
trained with a masked distance.
"""

from mathlearn.impute._som import SOMImputer
from mathlearn.impute._svd import SVDImputer
from mathlearn.impute._trace_norm import TraceNormImputer

__all__ = ["SOMImputer", "SVDImputer", "TraceNormImputer"]
