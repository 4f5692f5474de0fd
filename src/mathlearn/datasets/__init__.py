"""Synthetic data for the tour, the examples and the benchmarks.

:func:`make_race_speeds` is the race-times matrix of the matrix completion
question (athletes x races, most entries missing, rank 1 up to noise);
:func:`make_very_sparse` gives very sparse rows with one dominant coordinate,
the case where sparse random projections distort distances most.
"""

from mathlearn.datasets._samples_generator import make_race_speeds, make_very_sparse

__all__ = ["make_race_speeds", "make_very_sparse"]
