"""The three smoothing kernels of Müller, Charypar & Gross (2003), in 2-D and 3-D.

Each kernel is a radial function ``W(r) = C * f(r)`` with compact support
``r < h``. The public methods take difference vectors ``r_vec`` of shape
``(..., dim)``; the private ``_radial_*`` methods work on distances and are what
:class:`~mathlearn.sph.SPHFluid` calls on its arrays of neighbour pairs.

For a radial function the vector calculus reduces to one dimension:
``grad W = W'(r) r_vec / r`` and ``lap W = W''(r) + (dim - 1) W'(r) / r``.
"""

import math
from numbers import Integral, Real

import numpy as np

from mathlearn.utils._sklearn_compat import Interval, Options
from mathlearn.utils._validation import check_scalar

# Terms of the series of -ln(1 - t) - t - t^2/2 used for t < 1/2 (0.5^60 ~ 1e-18).
_LOG_SERIES_TERMS = 60
# Largest |log| of the scale h**-p of a kernel's constants. The logs of the
# largest and smallest normal float64 are +709.8 and -708.4; the margin covers
# the constant factors (below 20) that multiply h**-p.
_MAX_LOG_SCALE = 700.0


def _check_h(h):
    return float(check_scalar("h", h, Interval(Real, 0, None, closed="neither")))


def _check_dim(dim):
    return int(check_scalar("dim", dim, Options(Integral, {2, 3})))


# Radial profiles. Poly6 and the spiky gradient are a constant times a profile
# of u = h^2 - r^2 (poly6) or u = h - r (spiky), u >= 0 inside the support.
# The kernels' methods and SPHFluid's loops over neighbour pairs both evaluate
# these functions, so each formula is written once; ``out`` (and ``scratch``)
# let the simulator reuse its work buffers and apply the constants per particle.


def _poly6_value_profile(u, out=None):
    """``u^3``: ``W = C u^3``."""
    out = np.multiply(u, u, out=out)
    out *= u
    return out


def _poly6_gradient_profile(u, out=None):
    """``u^2``: ``grad W = -6 C u^2 r_vec``."""
    return np.multiply(u, u, out=out)


def _poly6_laplacian_profile(u, r2, dim, out=None, scratch=None):
    """``(dim u - 4 r^2) u``: ``lap W = -6 C (dim u - 4 r^2) u``."""
    out = np.multiply(u, dim, out=out)
    out -= np.multiply(r2, 4.0, out=scratch)
    out *= u
    return out


def _spiky_gradient_profile(u, r, out=None):
    """``u^2 / r``: ``grad W = -3 C u^2 / r r_vec``, for ``r > 0``."""
    out = np.multiply(u, u, out=out)
    out /= r
    return out


class _SPHKernel:
    """Shared validation and vector plumbing; subclasses give the radial parts.

    ``_SCALE_POWER[dim]`` is the largest power ``p`` such that a constant of
    the kernel (its normalisation, or that of its gradient or Laplacian) is a
    number times ``h**-p``.
    """

    def __init__(self, h=1.0, dim=3):
        self.h = _check_h(h)
        self.dim = _check_dim(dim)
        self._check_scale()
        self.normalization = self._normalization()

    def _check_scale(self):
        """Reject an ``h`` whose ``h**-p`` is not a normal float64 number.

        Otherwise ``h=1e-40`` would divide by ``h**9 == 0.0``, and a large
        ``h`` would overflow or make the kernel silently zero.
        """
        power = self._SCALE_POWER[self.dim]
        if power * abs(math.log(self.h)) > _MAX_LOG_SCALE:
            limit = math.exp(_MAX_LOG_SCALE / power)
            raise ValueError(
                f"h={self.h!r} is out of range for {type(self).__name__} in "
                f"{self.dim}-D: its constants scale like h**-{power}, which is "
                f"a normal float64 only for {1 / limit:.3g} <= h <= {limit:.3g}; "
                "express lengths in other units."
            )

    def __repr__(self):
        return f"{type(self).__name__}(h={self.h!r}, dim={self.dim!r})"

    def _distances(self, r_vec):
        r_vec = np.asarray(r_vec)
        if r_vec.dtype not in (np.float32, np.float64):
            r_vec = r_vec.astype(np.float64)
        if r_vec.ndim == 0 or r_vec.shape[-1] != self.dim:
            raise ValueError(
                f"r_vec must have shape (..., {self.dim}) for dim={self.dim}; "
                f"got shape {r_vec.shape}."
            )
        return r_vec, np.sqrt(np.einsum("...k,...k->...", r_vec, r_vec))

    def value(self, r_vec):
        """Kernel value ``W(r_vec)``.

        Parameters
        ----------
        r_vec : array-like of shape (..., dim)
            Difference vectors ``x_i - x_j``.

        Returns
        -------
        W : ndarray of shape (...,)
            Zero for ``|r_vec| >= h``.
        """
        r_vec, r = self._distances(r_vec)
        return self._radial_value(r).astype(r_vec.dtype, copy=False)

    def gradient(self, r_vec):
        """Gradient ``grad W(r_vec)`` with respect to ``r_vec``.

        Parameters
        ----------
        r_vec : array-like of shape (..., dim)
            Difference vectors ``x_i - x_j``.

        Returns
        -------
        grad : ndarray of shape (..., dim)
            ``W'(r) r_vec / r``; zero outside the support and at ``r = 0``
            (where the two one-sided slopes of a cusp cancel).
        """
        r_vec, r = self._distances(r_vec)
        scale = self._radial_gradient_over_r(r)
        return (scale[..., None] * r_vec).astype(r_vec.dtype, copy=False)

    def laplacian(self, r_vec):
        """Laplacian ``W'' + (dim - 1) W' / r`` of the kernel.

        Parameters
        ----------
        r_vec : array-like of shape (..., dim)
            Difference vectors ``x_i - x_j``.

        Returns
        -------
        lap : ndarray of shape (...,)
            Zero outside the support.
        """
        r_vec, r = self._distances(r_vec)
        return self._radial_laplacian(r).astype(r_vec.dtype, copy=False)


class Poly6Kernel(_SPHKernel):
    r"""The poly6 kernel, used by Müller et al. for the density.

    .. math:: W(r) = C_d\,(h^2 - r^2)^3 \quad (r < h), \qquad 0 \text{ otherwise}.

    It depends on ``r`` only through ``r**2`` (no square root) and is smooth at
    the origin, which makes it a good density estimator; its gradient vanishes
    at ``r = 0``, which makes it a poor pressure kernel (see
    :class:`SpikyKernel`).

    Parameters
    ----------
    h : float, default=1.0
        Support radius (> 0). The normalisation scales like ``h**-9``
        (``h**-8`` in 2-D), so ``h`` must lie within about [1.7e-34, 6e33]
        ([1e-38, 1e38] in 2-D) for it to be a normal float64; other values
        raise a ValueError (express lengths in other units).
    dim : {2, 3}, default=3
        Space dimension.

    Attributes
    ----------
    normalization : float
        The constant ``C_d`` that makes ``W`` integrate to one.

    See Also
    --------
    SpikyKernel : Kernel whose gradient drives the pressure force.
    ViscosityKernel : Kernel whose Laplacian drives the viscosity force.

    Notes
    -----
    **Normalisation.** In 2-D, with ``u = h^2 - r^2`` (``du = -2 r dr``),

    .. math:: \int_0^h 2\pi r (h^2 - r^2)^3\,dr = \pi \int_0^{h^2} u^3\,du
              = \frac{\pi h^8}{4}, \qquad C_2 = \frac{4}{\pi h^8}.

    In 3-D, with ``s = r / h``,

    .. math:: \int_0^h 4\pi r^2 (h^2 - r^2)^3\,dr
              = 4\pi h^9 \left(\tfrac13 - \tfrac35 + \tfrac37 - \tfrac19\right)
              = \frac{64\pi h^9}{315}, \qquad C_3 = \frac{315}{64\pi h^9}.

    **Derivatives.** ``grad W = -6 C (h^2 - r^2)^2 r_vec`` and
    ``lap W = -6 C (h^2 - r^2) (d (h^2 - r^2) - 4 r^2)``, which is
    ``-945/(32 pi h^9) (h^2 - r^2)(3 h^2 - 7 r^2)`` in 3-D as in the paper.

    References
    ----------
    Müller, M., Charypar, D. and Gross, M. (2003). Particle-based fluid
    simulation for interactive applications. *Proc. ACM SIGGRAPH/Eurographics
    Symposium on Computer Animation*, 154-159.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.sph import Poly6Kernel
    >>> kernel = Poly6Kernel(h=1.0, dim=2)
    >>> r_vec = np.array([[0.0, 0.0], [0.5, 0.0], [1.5, 0.0]])
    >>> np.round(kernel.value(r_vec), 4)
    array([1.2732, 0.5371, 0.    ])
    >>> np.round(kernel.gradient([0.3, 0.4]), 4)
    array([-1.2892, -1.7189])
    """

    _SCALE_POWER = {2: 8, 3: 9}

    def _normalization(self):
        h = self.h
        if self.dim == 2:
            return 4.0 / (np.pi * h**8)
        return 315.0 / (64.0 * np.pi * h**9)

    @property
    def _derivative_factor(self):
        """``-6 C``, the constant of the gradient and the Laplacian."""
        return -6.0 * self.normalization

    def _radial_value_r2(self, r2):
        u = np.maximum(self.h**2 - r2, 0.0)
        return self.normalization * _poly6_value_profile(u)

    def _radial_gradient_over_r_r2(self, r2):
        u = np.maximum(self.h**2 - r2, 0.0)
        return self._derivative_factor * _poly6_gradient_profile(u)

    def _radial_laplacian_r2(self, r2):
        # Outside the support u = 0; r2 is clipped to h^2 so that the second
        # factor stays finite there (0 * inf was NaN for r = 1e200).
        r2 = np.minimum(r2, self.h**2)
        u = self.h**2 - r2
        return self._derivative_factor * _poly6_laplacian_profile(u, r2, self.dim)

    def _radial_value(self, r):
        return self._radial_value_r2(r * r)

    def _radial_gradient_over_r(self, r):
        return self._radial_gradient_over_r_r2(r * r)

    def _radial_laplacian(self, r):
        return self._radial_laplacian_r2(r * r)


class SpikyKernel(_SPHKernel):
    r"""The spiky kernel of Desbrun & Gascuel, used by Müller et al. for pressure.

    .. math:: W(r) = C_d\,(h - r)^3 \quad (r < h), \qquad 0 \text{ otherwise}.

    Its slope ``W'(0) = -3 C h^2`` does not vanish at the origin, so two
    particles that come close keep pushing each other apart; with the poly6
    kernel the repulsion would fade to zero and particles would clump.

    Parameters
    ----------
    h : float, default=1.0
        Support radius (> 0). The normalisation scales like ``h**-6``
        (``h**-5`` in 2-D), so ``h`` must lie within about [2.2e-51, 4.6e50]
        ([1.6e-61, 6.3e60] in 2-D); other values raise a ValueError.
    dim : {2, 3}, default=3
        Space dimension.

    Attributes
    ----------
    normalization : float
        The constant ``C_d`` that makes ``W`` integrate to one.

    See Also
    --------
    Poly6Kernel : Kernel used for the density.
    ViscosityKernel : Kernel used for viscosity.

    Notes
    -----
    **Normalisation.** With ``s = r / h`` and the Beta integral
    ``int_0^1 s^a (1 - s)^3 ds = a! 3! / (a + 4)!``:

    .. math:: \int_0^h 2\pi r (h - r)^3\,dr = 2\pi h^5 \cdot \tfrac{1}{20}
              = \frac{\pi h^5}{10}, \qquad C_2 = \frac{10}{\pi h^5},

    .. math:: \int_0^h 4\pi r^2 (h - r)^3\,dr = 4\pi h^6 \cdot \tfrac{1}{60}
              = \frac{\pi h^6}{15}, \qquad C_3 = \frac{15}{\pi h^6}.

    **Derivatives.** ``grad W = -3 C (h - r)^2 r_vec / r`` and
    ``lap W = 6 C (h - r) - 3 C (d - 1) (h - r)^2 / r``. The gradient has a
    cusp at ``r = 0``: its direction is undefined and the method returns the
    average of the one-sided values, zero (a particle exerts no force on
    itself). The Laplacian tends to ``-inf`` as ``r -> 0`` and is returned as
    ``-inf`` there; the simulator never uses it.

    References
    ----------
    Desbrun, M. and Gascuel, M.-P. (1996). Smoothed particles: a new paradigm
    for animating highly deformable bodies. *Computer Animation and
    Simulation*, 61-76.

    Müller, M., Charypar, D. and Gross, M. (2003). Particle-based fluid
    simulation for interactive applications. *SCA 2003*, 154-159.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.sph import SpikyKernel
    >>> kernel = SpikyKernel(h=1.0, dim=3)
    >>> r_vec = np.array([[0.0, 0.0, 0.0], [0.3, 0.4, 1.2]])
    >>> np.round(kernel.value(r_vec), 4)
    array([4.7746, 0.    ])
    >>> np.round(kernel.gradient([0.3, 0.4, 0.1]), 4)
    array([-2.0242, -2.699 , -0.6747])
    """

    _SCALE_POWER = {2: 5, 3: 6}

    def _normalization(self):
        h = self.h
        if self.dim == 2:
            return 10.0 / (np.pi * h**5)
        return 15.0 / (np.pi * h**6)

    @property
    def _gradient_factor(self):
        """``-3 C``, the constant of the gradient."""
        return -3.0 * self.normalization

    def _radial_value(self, r):
        u = np.maximum(self.h - r, 0.0)
        return self.normalization * u**3

    def _radial_gradient_over_r(self, r):
        u = np.maximum(self.h - r, 0.0)
        positive = r > 0
        safe_r = np.where(positive, r, 1.0)
        gradient = self._gradient_factor * _spiky_gradient_profile(u, safe_r)
        return np.where(positive, gradient, 0.0)

    def _radial_laplacian(self, r):
        u = np.maximum(self.h - r, 0.0)
        positive = r > 0
        safe_r = np.where(positive, r, 1.0)
        lap = self.normalization * (6.0 * u - 3.0 * (self.dim - 1) * u**2 / safe_r)
        return np.where(positive, lap, -np.inf)


class ViscosityKernel(_SPHKernel):
    r"""The viscosity kernel of Müller et al., designed for its Laplacian.

    The kernel is built backwards: its Laplacian must be positive and fall
    linearly to zero at ``h``,

    .. math:: \nabla^2 W(r) = L_d\,(h - r) \quad (r < h),

    so that the viscosity force ``mu sum_j m_j (v_j - v_i) / rho_j lap W``
    always damps relative velocities (a Laplacian that turns negative, as
    poly6's does, would *add* energy for close pairs). In 3-D this gives the
    paper's kernel

    .. math:: W(r) = \frac{15}{2\pi h^3}\left(-\frac{r^3}{2h^3} + \frac{r^2}{h^2}
              + \frac{h}{2r} - 1\right), \qquad \nabla^2 W = \frac{45}{\pi h^6}(h - r).

    In 2-D the same construction (solve ``(r W')' / r = h - r`` with
    ``W(h) = W'(h) = 0``) gives

    .. math:: W(r) = \frac{10}{9\pi h^2}\left(9\frac{r^2}{h^2} - 4\frac{r^3}{h^3}
              + 6\ln\frac{h}{r} - 5\right), \qquad
              \nabla^2 W = \frac{40}{\pi h^5}(h - r).

    Parameters
    ----------
    h : float, default=1.0
        Support radius (> 0). The constant of the Laplacian scales like
        ``h**-6`` (``h**-5`` in 2-D), so ``h`` must lie within about
        [2.2e-51, 4.6e50] ([1.6e-61, 6.3e60] in 2-D); other values raise a
        ValueError.
    dim : {2, 3}, default=3
        Space dimension.

    Attributes
    ----------
    normalization : float
        The constant in front of the bracket, which makes ``W`` integrate to one.

    See Also
    --------
    Poly6Kernel : Kernel used for the density.
    SpikyKernel : Kernel used for pressure.

    Notes
    -----
    **Normalisation.** With ``s = r / h``: in 3-D
    ``int_0^1 4 pi s^2 (-s^3/2 + s^2 + 1/(2s) - 1) ds = 4 pi (-1/12 + 1/5 + 1/4
    - 1/3) = 2 pi / 15``, so ``C_3 = 15 / (2 pi h^3)``; in 2-D
    ``int_0^1 2 pi s (9 s^2 - 4 s^3 - 6 ln s - 5) ds = 2 pi (9/4 - 4/5 + 3/2 -
    5/2) = 9 pi / 10``, so ``C_2 = 10 / (9 pi h^2)``. The Laplacian constants
    follow: ``C_3 * 6 / h^3 = 45 / (pi h^6)`` and ``C_2 * 36 / h^3 =
    40 / (pi h^5)``.

    **At the origin** the kernel itself diverges (like ``1/r`` in 3-D and
    ``ln(1/r)`` in 2-D, both integrable) and is returned as ``+inf``; its
    gradient is returned as zero (a particle exerts no force on itself) and its
    Laplacian as the finite limit ``L_d h``.

    References
    ----------
    Müller, M., Charypar, D. and Gross, M. (2003). Particle-based fluid
    simulation for interactive applications. *SCA 2003*, 154-159.

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.sph import ViscosityKernel
    >>> kernel = ViscosityKernel(h=1.0, dim=2)
    >>> r_vec = np.array([[0.0, 0.5], [0.0, 1.0]])
    >>> np.round(kernel.laplacian(r_vec), 4)
    array([6.3662, 0.    ])
    >>> bool(np.all(kernel.value(r_vec) >= 0))
    True
    """

    # The Laplacian's constant, 40 / (pi h^5) or 45 / (pi h^6), is the largest.
    _SCALE_POWER = {2: 5, 3: 6}

    def _normalization(self):
        h = self.h
        if self.dim == 2:
            return 10.0 / (9.0 * np.pi * h**2)
        return 15.0 / (2.0 * np.pi * h**3)

    def _radial_value(self, r):
        # The brackets vanish like (1 - s)^3 at s = 1; written in t = 1 - s they
        # keep full relative precision near the edge of the support.
        h, C = self.h, self.normalization
        inside = r < h
        positive = r > 0
        s = np.where(inside & positive, r / h, 1.0)
        t = 1.0 - s
        if self.dim == 2:
            # 9 s^2 - 4 s^3 - 6 ln s - 5 = 4 t^3 + 6 sum_{k>=3} t^k / k.
            series = np.zeros_like(t)
            for k in range(_LOG_SERIES_TERMS + 2, 2, -1):
                series = series * t + 1.0 / k
            near = 4.0 * t**3 + 6.0 * t**3 * series
            far = 9.0 * s**2 - 4.0 * s**3 - 6.0 * np.log(s) - 5.0
            f = np.where(t < 0.5, near, far)
        else:
            # -s^3/2 + s^2 + 1/(2 s) - 1 = t^3 (2 - t) / (2 s).
            f = t**3 * (2.0 - t) / (2.0 * s)
        value = np.where(inside, C * f, 0.0)
        return np.where(positive, value, np.inf)

    def _radial_gradient_over_r(self, r):
        # W'(r) / r with d/dr = (1/h) d/ds, from
        # df/ds = 18 s - 12 s^2 - 6 / s = -6 (1 - s)^2 (2 s + 1) / s (2-D) and
        # -3/2 s^2 + 2 s - 1/(2 s^2) = -(1 - s)^2 (3 s^2 + 2 s + 1) / (2 s^2) (3-D).
        h, C = self.h, self.normalization
        inside = (r < h) & (r > 0)
        s = np.where(inside, r / h, 1.0)
        t = 1.0 - s
        if self.dim == 2:
            df = -6.0 * t**2 * (2.0 * s + 1.0) / s
        else:
            df = -(t**2) * (3.0 * s**2 + 2.0 * s + 1.0) / (2.0 * s**2)
        return np.where(inside, C * df / (h * h * s), 0.0)

    def _radial_laplacian(self, r):
        h = self.h
        coefficient = 40.0 / (np.pi * h**5) if self.dim == 2 else 45.0 / (np.pi * h**6)
        return coefficient * np.maximum(h - r, 0.0)
