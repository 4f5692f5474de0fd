"""Imputers: fill the missing entries of a data matrix.

:class:`SOMImputer` reads them from a self-organizing map trained with a
masked distance.
"""

from mathlearn.impute._som import SOMImputer

__all__ = ["SOMImputer"]
