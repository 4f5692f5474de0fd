"""Synthetic data for the tour, the examples and the benchmarks, and loaders.

:func:`make_race_speeds` is the race-times matrix of the matrix completion
question (athletes x races, most entries missing, rank 1 up to noise);
:func:`make_very_sparse` gives very sparse rows with one dominant coordinate,
the case where sparse random projections distort distances most;
:func:`make_ratings` draws ratings with MovieLens-like heavy-tailed activity
and a known low-rank truth; :func:`load_movielens` reads MovieLens ratings
that are already on disk.
"""

from mathlearn.datasets._movielens import load_movielens
from mathlearn.datasets._ratings import make_ratings
from mathlearn.datasets._samples_generator import make_race_speeds, make_very_sparse

__all__ = ["load_movielens", "make_race_speeds", "make_ratings", "make_very_sparse"]
