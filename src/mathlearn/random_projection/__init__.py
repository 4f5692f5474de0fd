"""Random projections that keep pairwise distances, for dense and sparse data.

:class:`AchlioptasRandomProjection` stores a sparse sign pattern in one byte
per entry; :class:`HadamardRandomProjection` is the fast Johnson-Lindenstrauss
transform (random signs, Walsh-Hadamard transform, subsampling), the choice
for very sparse data; :class:`SampledRandomProjection` projects onto random
combinations of the training rows. :func:`pairwise_distortion` measures how
well any projection keeps distances.
"""

from mathlearn.random_projection._achlioptas import AchlioptasRandomProjection
from mathlearn.random_projection._distortion import pairwise_distortion
from mathlearn.random_projection._hadamard import HadamardRandomProjection
from mathlearn.random_projection._sampled import SampledRandomProjection

__all__ = [
    "AchlioptasRandomProjection",
    "HadamardRandomProjection",
    "SampledRandomProjection",
    "pairwise_distortion",
]
