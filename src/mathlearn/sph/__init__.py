"""SPH fluid kernels (poly6, spiky, viscosity) and a particle fluid simulator.

Smoothed-particle hydrodynamics after Müller, Charypar & Gross (2003): the
kernels give values, gradients and Laplacians in 2-D and 3-D, and
:class:`SPHFluid` moves particles with pressure (kernel gradient), viscosity and
surface tension (kernel Laplacians), all computed per neighbour pair with NumPy.
"""

from mathlearn.sph._fluid import SPHFluid
from mathlearn.sph._kernels import Poly6Kernel, SpikyKernel, ViscosityKernel

__all__ = ["Poly6Kernel", "SPHFluid", "SpikyKernel", "ViscosityKernel"]
