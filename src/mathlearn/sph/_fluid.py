"""A weakly compressible SPH fluid after Müller, Charypar & Gross (2003)."""

from numbers import Integral, Real

import numpy as np
from scipy.spatial import cKDTree
from sklearn.utils import check_random_state

from mathlearn.sph._kernels import (
    Poly6Kernel,
    SpikyKernel,
    ViscosityKernel,
    _check_dim,
    _check_h,
    _poly6_gradient_profile,
    _poly6_laplacian_profile,
    _poly6_value_profile,
    _spiky_gradient_profile,
)
from mathlearn.utils._sklearn_compat import Interval, StrOptions
from mathlearn.utils._validation import check_scalar

_TAIT_GAMMA = 7.0
_EQUATIONS_OF_STATE = StrOptions({"ideal_gas", "tait"})
_INTEGRATORS = StrOptions({"leapfrog", "symplectic_euler"})
# Fraction of the box that the default dam-break block fills along each axis:
# (x, vertical) in 2-D and (x, y, vertical) in 3-D.
_BLOCK_FRACTION = {2: (0.4, 0.8), 3: (0.4, 1.0, 0.8)}
# Verlet skins (fractions of h) that were fastest over whole dam breaks (2-D,
# 10,000 particles; 3-D, 5,000) and their first milliseconds: the candidate
# pairs grow like (1 + skin)^dim, so the best skin is smaller in 3-D.
_AUTO_SKIN = {2: 0.4, 3: 0.2}

_COUNT = Interval(Integral, 1, None, closed="left")
_STEPS = Interval(Integral, 0, None, closed="left")


def _check_real(name, value, *, low, low_closed=True, high=None):
    """``value`` as a finite float in ``[low, high]`` (``(low, high]`` if not
    ``low_closed``; ``None`` is an open, infinite end), or an error naming it."""
    closed = {True: "left", False: "neither"}[low_closed]
    if high is not None:
        closed = {"left": "both", "neither": "right"}[closed]
    return float(check_scalar(name, value, Interval(Real, low, high, closed=closed)))


def _fitting_lattice(extent, n):
    """The largest spacing of a lattice of at least ``n`` points in a block.

    A lattice of spacing ``s`` holds ``floor(extent_k / s)`` points along axis
    ``k`` inside a block of side lengths ``extent``. The volume bound
    ``(prod(extent) / n) ** (1 / dim)`` is an upper bound on the spacing; from
    it the spacing shrinks to the next value at which one axis gains a point,
    ``extent_k / (count_k + 1)``, until the lattice holds ``n`` points. Deriving
    the spacing from the volume alone and rounding the counts, as before,
    needed up to 14% more layers than the block has, which did not fit in the
    box for 32 of the first 305 particle counts in 3-D.

    Returns the spacing and the number of points along each axis.
    """
    spacing = (np.prod(extent) / n) ** (1.0 / len(extent))
    counts = np.floor(extent / spacing).astype(int)
    while np.prod(counts) < n:
        candidates = extent / (counts + 1)
        axis = int(np.argmax(candidates))
        spacing = candidates[axis]
        counts[axis] += 1
    return spacing, counts


class SPHFluid:
    r"""A weakly compressible SPH fluid in a box (Müller et al., 2003).

    Particles of equal mass ``m`` carry position ``x_i`` and velocity ``v_i``.
    Each step finds all neighbour pairs closer than ``h`` with
    :class:`scipy.spatial.cKDTree` and evaluates, per pair and without a
    Python loop over particles:

    - the density ``rho_i = sum_j m W_poly6(x_i - x_j)`` (self term included);
    - the pressure ``p_i`` from an equation of state;
    - the symmetric pressure acceleration
      ``a_i = -sum_j m (p_i + p_j) / (2 rho_i rho_j) grad W_spiky(x_i - x_j)``,
      whose pair terms are equal and opposite, so momentum is conserved;
    - the viscosity acceleration
      ``a_i = mu / rho_i sum_j m (v_j - v_i) / rho_j lap W_visc(|x_i - x_j|)``,
      also antisymmetric per pair, and dissipative because ``lap W_visc > 0``;
    - surface tension by the colour field ``c = sum_j m / rho_j W_poly6``:
      normal ``n_i = grad c_i``, force density ``-sigma lap c_i n_i / |n_i|``
      where ``|n_i|`` exceeds ``surface_threshold / h``;
    - gravity.

    Parameters
    ----------
    particles : int or array-like of shape (n_particles, dim)
        Either the initial positions, or a number of particles to place on a
        square (cubic) lattice filling the dam-break block: the corner of the
        box spanning 40% of its length along the first axis and 80% of its
        height along the last (and the whole of the middle axis in 3-D), with a
        jitter of 1% of the spacing drawn from ``random_state``.
    dim : {2, 3}, default=2
        Space dimension; the last axis is vertical.
    h : float, default=None
        Kernel support radius. ``None`` uses twice the lattice spacing: the
        largest spacing at which a lattice inside the dam-break block holds
        ``particles`` points (any count fits), or the median nearest-neighbour
        distance of the given positions. With ``h`` given and ``particles`` an
        int, the lattice has spacing ``h / 2`` and as many layers as needed,
        which must fit in the box.
    particle_mass : float, default=None
        Mass of each particle. ``None`` chooses it so that the densest
        particle of the initial configuration (before the jitter) has density
        ``rest_density``.
    rest_density : float, default=1000.0
        Rest density ``rho_0`` (kg/m^dim).
    equation_of_state : {"tait", "ideal_gas"}, default="tait"
        ``"ideal_gas"`` is Müller's ``p = k (rho - rho_0)``; ``"tait"`` is
        ``p = k rho_0 / 7 ((rho / rho_0)^7 - 1)``. Both have the speed of sound
        ``c = sqrt(k)`` at rest density.
    stiffness : float, default=1000.0
        ``k = c^2`` (m^2/s^2); choose ``c`` about ten times the largest flow
        speed to keep density errors near 1%. ``0`` switches pressure off.
    viscosity : float, default=10.0
        Dynamic viscosity ``mu`` (Pa s) of the Laplacian viscosity force.
    surface_tension : float, default=0.0728
        Surface-tension coefficient ``sigma`` (N/m); ``0`` switches it off.
    surface_threshold : float, default=0.5
        Colour-field gradients with ``|n_i| < surface_threshold / h`` mark
        interior particles, which feel no surface tension.
    clamp_pressure : bool, default=True
        Replace negative pressures by zero. Particles at a free surface lack
        neighbours and look under-dense; without the clamp they attract and
        clump.
    gravity : float or array-like of shape (dim,), default=9.81
        A float is the magnitude of gravity pointing down the last axis; an
        array is the acceleration vector.
    box : array-like of shape (dim,) or (dim, 2), default=None
        The walls: side lengths (the box then starts at the origin) or
        ``(low, high)`` per axis. ``None`` is the unit box.
    restitution : float, default=0.5
        Wall damping. A particle that crosses a wall is mirrored back inside
        and its normal velocity ``v_n`` becomes ``-restitution * v_n``;
        tangential velocity is kept.
    dt : float or "cfl", default="cfl"
        A fixed time step, or ``"cfl"`` for an adaptive step (see Notes).
    cfl_number : float, default=0.4
        Safety factor of the adaptive step, in (0, 1].
    integrator : {"leapfrog", "symplectic_euler"}, default="leapfrog"
        ``"leapfrog"`` is kick-drift-kick (second order, one force evaluation
        per step); ``"symplectic_euler"`` updates velocity then position
        (first order).
    velocities : array-like of shape (n_particles, dim), default=None
        Initial velocities; ``None`` starts at rest.
    neighbour_skin : float or "auto", default="auto"
        Skin of the Verlet neighbour list, as a fraction of ``h``: the tree
        search collects the pairs closer than ``h (1 + neighbour_skin)`` and is
        repeated only once a particle has moved ``neighbour_skin * h / 2``
        since; in between, each step keeps the listed pairs closer than ``h``.
        It changes the speed, not the result (the pairs are those of a fresh
        search). ``0`` searches the tree every step; larger skins search less
        often but filter more candidate pairs each step, about ``(1 +
        neighbour_skin)^dim`` times the pairs closer than ``h``. ``"auto"`` is
        0.4 in 2-D and 0.2 in 3-D, the fastest in measured dam breaks (see
        Notes).
    random_state : int, RandomState instance or None, default=None
        Seeds the lattice jitter when ``particles`` is an int.

    Attributes
    ----------
    n_particles : int
        Number of particles.
    h : float
        The kernel support radius used.
    particle_mass : float
        The particle mass used.
    box : ndarray of shape (dim, 2)
        ``(low, high)`` per axis.
    time : float
        Simulated time.
    n_steps : int
        Steps taken.
    positions : ndarray of shape (n_particles, dim)
        Current positions (a copy).
    velocities : ndarray of shape (n_particles, dim)
        Current velocities (a copy).
    density : ndarray of shape (n_particles,)
        Current SPH densities (a copy).
    pressure : ndarray of shape (n_particles,)
        Current pressures (a copy).
    accelerations : ndarray of shape (n_particles, dim)
        Accelerations of the last force evaluation, which the next step
        starts from (a copy). With the leapfrog, the viscous term of a step's
        evaluation uses the half-step velocities.
    neighbour_skin : float
        The Verlet skin used.
    n_neighbour_builds : int
        Tree searches for the neighbour list so far (one at construction).
    diagnostics : dict of ndarray
        One row per step (plus the initial state): ``"time"``, ``"dt"``,
        ``"kinetic_energy"``, ``"potential_energy"`` (gravity),
        ``"total_energy"``, ``"max_density_error"`` (the largest compression
        ``max_i (rho_i - rho_0) / rho_0``: free-surface particles have
        truncated kernels and are under-dense by construction), and
        ``"momentum"`` of shape ``(n_records, dim)``.

    See Also
    --------
    Poly6Kernel, SpikyKernel, ViscosityKernel : The kernels used here.

    Notes
    -----
    **Why a gradient for pressure and a Laplacian for viscosity.** The
    Navier-Stokes momentum equation is ``rho dv/dt = -grad p + mu lap v +
    rho g``. Pressure enters through its gradient, a vector: SPH writes
    ``grad p`` as a sum of ``p_j`` times the kernel gradient. Viscosity
    enters through the Laplacian of the velocity, a vector whose components
    are the scalar Laplacians of ``v_x, v_y, v_z``: SPH writes it as a sum of
    ``v_j - v_i`` times the (scalar) kernel Laplacian.

    **Time step.** With ``dt="cfl"`` each step uses ``cfl_number`` times the
    smallest of the acoustic limit ``h / (c_max + |v|_max)``, the force limit
    ``sqrt(h / |a|_max)`` and the viscous limit ``2 / max_i D_i``, where
    ``D_i = sum_j mu m lap W_visc / (rho_i rho_j)`` is the diagonal of the
    viscosity operator (below it an explicit viscous update cannot overshoot,
    so viscosity alone never increases kinetic energy). If all three are
    infinite (nothing moves and no force acts) the step is ``cfl_number * h``
    time units.

    **Cost.** A step filters the Verlet list (``O(n_candidates * dim)``),
    then does ``O(n_pairs * dim)`` NumPy work with :func:`numpy.bincount` to
    sum pair terms per particle: linear in the number of particles at fixed
    density. The tree search costs about as much as the rest of a step and
    runs only when the list is stale: over a whole dam break with the
    ``"auto"`` skin, about one step in three in 3-D and one in six in 2-D,
    and almost never in the first, slow milliseconds. Over whole dam breaks
    (CPU time per step, 2-D with 10,000 particles, 3-D with 5,000) skins from
    0.2 to 0.4 in 3-D and 0.4 to 0.5 in 2-D were within 6% of the fastest and
    15% (3-D) to 50% (2-D) faster than searching every step; in the slow
    start of a 3-D dam break a skin of 0.2 was 13% faster than 0.3 or 0.4.
    The surface-tension force is not momentum-conserving (Müller et al.'s
    formulation); pressure and viscosity are.

    References
    ----------
    Müller, M., Charypar, D. and Gross, M. (2003). Particle-based fluid
    simulation for interactive applications. *Proc. ACM SIGGRAPH/Eurographics
    Symposium on Computer Animation*, 154-159.

    Monaghan, J. J. (1994). Simulating free surface flows with SPH. *Journal of
    Computational Physics*, 110(2), 399-406.

    Examples
    --------
    >>> from mathlearn.sph import SPHFluid
    >>> fluid = SPHFluid(200, dim=2, random_state=0)
    >>> fluid.step(50)
    SPHFluid(n_particles=200, dim=2, h=0.08, time=0.0...)
    >>> diagnostics = fluid.diagnostics
    >>> diagnostics["kinetic_energy"].shape
    (51,)
    >>> bool(diagnostics["max_density_error"][-1] < 0.05)
    True
    """

    def __init__(
        self,
        particles,
        *,
        dim=2,
        h=None,
        particle_mass=None,
        rest_density=1000.0,
        equation_of_state="tait",
        stiffness=1000.0,
        viscosity=10.0,
        surface_tension=0.0728,
        surface_threshold=0.5,
        clamp_pressure=True,
        gravity=9.81,
        box=None,
        restitution=0.5,
        dt="cfl",
        cfl_number=0.4,
        integrator="leapfrog",
        velocities=None,
        neighbour_skin="auto",
        random_state=None,
    ):
        self.dim = _check_dim(dim)
        self.rest_density = _check_real(
            "rest_density", rest_density, low=0.0, low_closed=False
        )
        self.equation_of_state = check_scalar(
            "equation_of_state", equation_of_state, _EQUATIONS_OF_STATE
        )
        self.stiffness = _check_real("stiffness", stiffness, low=0.0)
        self.viscosity = _check_real("viscosity", viscosity, low=0.0)
        self.surface_tension = _check_real("surface_tension", surface_tension, low=0.0)
        self.surface_threshold = _check_real(
            "surface_threshold", surface_threshold, low=0.0
        )
        check_scalar("clamp_pressure", clamp_pressure, "boolean")
        self.clamp_pressure = bool(clamp_pressure)
        self.gravity = self._check_gravity(gravity)
        self.box = self._check_box(box)
        self.restitution = _check_real("restitution", restitution, low=0.0, high=1.0)
        if isinstance(dt, str):
            check_scalar("dt", dt, StrOptions({"cfl"}))
            self.dt = dt
        else:
            self.dt = _check_real("dt", dt, low=0.0, low_closed=False)
        self.cfl_number = _check_real(
            "cfl_number", cfl_number, low=0.0, low_closed=False, high=1.0
        )
        self.integrator = check_scalar("integrator", integrator, _INTEGRATORS)
        if isinstance(neighbour_skin, str):
            check_scalar("neighbour_skin", neighbour_skin, StrOptions({"auto"}))
            self.neighbour_skin = _AUTO_SKIN[self.dim]
        else:
            self.neighbour_skin = _check_real("neighbour_skin", neighbour_skin, low=0.0)

        rng = check_random_state(random_state)
        positions, lattice, h = self._initial_positions(particles, h, rng)
        self.h = h
        self.n_particles = positions.shape[0]
        self._poly6 = Poly6Kernel(h, self.dim)
        self._spiky = SpikyKernel(h, self.dim)
        self._visc = ViscosityKernel(h, self.dim)
        if particle_mass is None:
            self.particle_mass = self.rest_density / self._max_number_density(lattice)
        else:
            self.particle_mass = _check_real(
                "particle_mass", particle_mass, low=0.0, low_closed=False
            )

        if velocities is None:
            velocities = np.zeros_like(positions)
        else:
            velocities = np.array(velocities, dtype=np.float64)
            if velocities.shape != positions.shape:
                raise ValueError(
                    f"velocities must have shape {positions.shape} like the "
                    f"positions; got shape {velocities.shape}."
                )
            if not np.all(np.isfinite(velocities)):
                raise ValueError("velocities must be finite; got NaN or inf.")
        self._x = positions
        self._v = velocities
        self._verlet_x = None
        self._buffers = {}
        self.n_neighbour_builds = 0
        self.time = 0.0
        self.n_steps = 0
        self._evaluate()
        self._history = {key: [] for key in self._DIAGNOSTIC_KEYS}
        self._record(0.0)

    _DIAGNOSTIC_KEYS = (
        "time",
        "dt",
        "kinetic_energy",
        "potential_energy",
        "total_energy",
        "max_density_error",
        "momentum",
    )

    # ------------------------------------------------------------------ setup
    def _check_gravity(self, gravity):
        if np.ndim(gravity) == 0:
            g = _check_real("gravity", gravity, low=None, low_closed=False)
            vector = np.zeros(self.dim)
            vector[-1] = -g
            return vector
        vector = np.array(gravity, dtype=np.float64)
        if vector.shape != (self.dim,) or not np.all(np.isfinite(vector)):
            raise ValueError(
                f"gravity must be a finite float or an array of shape ({self.dim},); "
                f"got {gravity!r}."
            )
        return vector

    def _check_box(self, box):
        if box is None:
            return np.column_stack([np.zeros(self.dim), np.ones(self.dim)])
        box = np.array(box, dtype=np.float64)
        if box.shape == (self.dim,):
            box = np.column_stack([np.zeros(self.dim), box])
        if box.shape != (self.dim, 2):
            raise ValueError(
                f"box must have shape ({self.dim},) or ({self.dim}, 2); "
                f"got shape {box.shape}."
            )
        if not np.all(np.isfinite(box)) or np.any(box[:, 1] <= box[:, 0]):
            raise ValueError(
                f"box={box.tolist()!r} must be finite with low < high on every axis."
            )
        return box

    def _initial_positions(self, particles, h, rng):
        """Positions, the same without jitter, and the support radius."""
        if h is not None:
            h = _check_h(h)
        if isinstance(particles, Integral):
            check_scalar("particles", particles, _COUNT)
            lattice = self._dam_break_block(int(particles), h)
            spacing = lattice[1] if h is None else h / 2.0
            lattice, h = lattice[0], 2.0 * spacing if h is None else h
            jitter = rng.uniform(-0.01, 0.01, size=lattice.shape) * spacing
            positions = np.clip(lattice + jitter, self.box[:, 0], self.box[:, 1])
            return positions, lattice, h
        positions = np.array(particles, dtype=np.float64)
        if positions.ndim != 2 or positions.shape[1] != self.dim or not len(positions):
            raise ValueError(
                f"particles must be an int or an array of shape (n_particles, "
                f"{self.dim}) for dim={self.dim}; got shape {positions.shape}."
            )
        if not np.all(np.isfinite(positions)):
            raise ValueError("particles must be finite; got NaN or inf.")
        outside = np.any(
            (positions < self.box[:, 0]) | (positions > self.box[:, 1]), axis=1
        )
        if np.any(outside):
            first = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f"particles must lie inside box={self.box.tolist()}; "
                f"{int(outside.sum())} do not, e.g. particle {first} at "
                f"{positions[first].tolist()}."
            )
        if h is None:
            if len(positions) < 2:
                raise ValueError(
                    "h=None needs at least 2 particles to estimate the spacing."
                )
            distances, _ = cKDTree(positions).query(positions, k=2)
            h = 2.0 * float(np.median(distances[:, 1]))
            if h <= 0:
                raise ValueError("h=None failed: the particles all coincide.")
        return positions, positions, h

    def _dam_break_block(self, n, h):
        """A lattice of ``n`` points in the dam-break block, and its spacing."""
        low, high = self.box[:, 0], self.box[:, 1]
        extent = (high - low) * np.array(_BLOCK_FRACTION[self.dim])
        if h is None:
            spacing, counts = _fitting_lattice(extent, n)
            counts = counts[:-1]
        else:
            spacing = h / 2.0
            counts = np.maximum(1, np.round(extent[:-1] / spacing).astype(int))
        layers = -(-n // int(np.prod(counts)))
        if layers * spacing > high[-1] - low[-1]:
            raise ValueError(
                f"particles={n} at spacing h/2={spacing:.4g} do not fit in "
                f"box={self.box.tolist()}; use fewer particles or a smaller h."
            )
        grids = np.meshgrid(
            *[np.arange(c) for c in counts], np.arange(layers), indexing="ij"
        )
        index = np.column_stack([g.ravel() for g in grids])
        # Fill layer by layer from the floor: the vertical index sorts first.
        index = index[np.lexsort(index.T)][:n]
        return low + (index + 0.5) * spacing, spacing

    def _max_number_density(self, positions):
        """``max_i sum_j W(x_i - x_j)`` (self term included)."""
        i, j, r2 = self._pairs(positions)
        w = self._poly6._radial_value_r2(r2)
        n = len(positions)
        total = np.bincount(i, w, minlength=n) + np.bincount(j, w, minlength=n)
        return float(np.max(total + self._poly6._radial_value_r2(0.0)))

    # ---------------------------------------------------------------- physics
    def _pairs(self, x):
        """Pairs closer than ``h`` by a fresh tree search: ``i, j`` and ``r2 =
        |x_i - x_j|^2``, summed axis by axis as :meth:`_neighbours` sums it."""
        tree = cKDTree(x, balanced_tree=False, compact_nodes=False)
        pairs = tree.query_pairs(self.h, output_type="ndarray")
        i, j = pairs[:, 0], pairs[:, 1]
        r2 = (x[i, 0] - x[j, 0]) ** 2
        for k in range(1, x.shape[1]):
            r2 += (x[i, k] - x[j, k]) ** 2
        return i, j, r2

    def _buffer(self, name, shape, dtype=np.float64):
        """A reused work array of ``shape`` (views of one growing allocation).

        Fresh megabyte-sized temporaries every step cost page faults that took
        a third of a step; the pair arrays live here between steps instead.
        """
        size = int(np.prod(shape))
        store = self._buffers.get(name)
        if store is None or store.size < size or store.dtype != dtype:
            store = np.empty(int(1.2 * size) + 16, dtype=dtype)
            self._buffers[name] = store
        return store[:size].reshape(shape)

    def _neighbours(self, x):
        """Pairs closer than ``h`` from the Verlet list, rebuilt when needed.

        Returns ``i, j``, ``d = x_i - x_j`` as ``(dim, n_pairs)`` and ``r2 =
        |d|^2``, views of work buffers valid until the next call.

        The list holds every pair closer than ``h (1 + skin)`` at the positions
        ``x_0`` of its last build. While no particle has moved ``skin h / 2``
        from ``x_0``, no two particles can have closed a gap of ``skin h``, so
        every pair now closer than ``h`` is on the list: filtering the list by
        ``|d| < h`` gives the same pairs as a fresh search (pairs at exactly
        ``h`` contribute zero to every kernel sum).
        """
        h, skin, dim = self.h, self.neighbour_skin, self.dim
        stale = self._verlet_x is None
        if not stale:
            moved = x - self._verlet_x
            # A relative margin of 1e-9 covers round-off in the distances.
            limit = (0.5 * skin * h) ** 2 * (1.0 - 1e-9)
            stale = np.max(np.einsum("ik,ik->i", moved, moved)) >= limit
        if stale:
            tree = cKDTree(x, balanced_tree=False, compact_nodes=False)
            pairs = tree.query_pairs(h * (1.0 + skin), output_type="ndarray")
            self._verlet_i = np.ascontiguousarray(pairs[:, 0])
            self._verlet_j = np.ascontiguousarray(pairs[:, 1])
            self._verlet_x = x.copy()
            self.n_neighbour_builds += 1
        i_all, j_all = self._verlet_i, self._verlet_j
        n_all = len(i_all)
        x_t = np.ascontiguousarray(x.T)
        d_all = self._buffer("d_all", (dim, n_all))
        scratch = self._buffer("scratch_all", n_all)
        r2_all = self._buffer("r2_all", n_all)
        for k in range(dim):
            np.take(x_t[k], i_all, out=d_all[k])
            np.take(x_t[k], j_all, out=scratch)
            d_all[k] -= scratch
            if k == 0:
                np.multiply(d_all[0], d_all[0], out=r2_all)
            else:
                np.multiply(d_all[k], d_all[k], out=scratch)
                r2_all += scratch
        inside = np.flatnonzero(r2_all < h * h)
        n_pairs = len(inside)
        i = np.take(i_all, inside, out=self._buffer("i", n_pairs, np.intp))
        j = np.take(j_all, inside, out=self._buffer("j", n_pairs, np.intp))
        d = self._buffer("d", (dim, n_pairs))
        for k in range(dim):
            np.take(d_all[k], inside, out=d[k])
        r2 = np.take(r2_all, inside, out=self._buffer("r2", n_pairs))
        return i, j, d, r2

    def _pressure(self, rho):
        k, rho0 = self.stiffness, self.rest_density
        if self.equation_of_state == "ideal_gas":
            p = k * (rho - rho0)
        else:
            p = k * rho0 / _TAIT_GAMMA * ((rho / rho0) ** _TAIT_GAMMA - 1.0)
        return np.maximum(p, 0.0) if self.clamp_pressure else p

    def _sound_speed(self, rho):
        if self.equation_of_state == "ideal_gas":
            return np.sqrt(self.stiffness)
        ratio = np.max(rho) / self.rest_density
        return np.sqrt(self.stiffness * ratio ** (_TAIT_GAMMA - 1.0))

    def _evaluate(self):
        """Density, pressure, acceleration and the stable step at the current state.

        Every pair quantity is one flat array (``d`` is ``(dim, n_pairs)``) in
        a reused work buffer. The kernels are the kernel classes' radial
        profiles (``_poly6_value_profile``...) evaluated on ``r < h`` (all
        pairs are) into those buffers, and their constants, taken from the
        kernel objects, are applied per particle: fewer passes over the pairs
        than calling ``value``/``gradient`` (see ``test_simulator_runs_its_kernels``).
        """
        x, v, n, m, h = self._x, self._v, self.n_particles, self.particle_mass, self.h
        i, j, d, r2 = self._neighbours(x)
        n_pairs = len(i)
        buffer = self._buffer
        tmp = buffer("tmp", n_pairs)
        tmp2 = buffer("tmp2", n_pairs)

        # Poly6 density: W = C (h^2 - r^2)^3.
        u = np.subtract(h * h, r2, out=buffer("u", n_pairs))
        w = _poly6_value_profile(u, out=buffer("w", n_pairs))
        # (bincount of no pairs is an int array.)
        rho = np.bincount(i, w, minlength=n).astype(np.float64, copy=False)
        rho += np.bincount(j, w, minlength=n)
        rho *= m * self._poly6.normalization
        rho += m * self._poly6._radial_value_r2(0.0)
        p = self._pressure(rho)
        inv_rho = 1.0 / rho
        # m / (rho_i rho_j), shared by pressure and viscosity.
        m_inv_rho_ij = np.take(m * inv_rho, i, out=buffer("m_inv_rho_ij", n_pairs))
        m_inv_rho_ij *= np.take(inv_rho, j, out=tmp)

        r = np.sqrt(r2, out=buffer("r", n_pairs))
        h_minus_r = np.subtract(h, r, out=buffer("h_minus_r", n_pairs))
        # Pressure: on i, -m (p_i + p_j) / (2 rho_i rho_j) grad W(d), with the
        # spiky grad W(d) = -3 C (h - r)^2 / r d; on j minus that. A pair at
        # r = 0 has d = 0: any finite factor gives it no force.
        np.maximum(r, h * 1e-12, out=r)
        coefficient = _spiky_gradient_profile(h_minus_r, r, out=buffer("coef", n_pairs))
        coefficient *= m_inv_rho_ij
        scaled_p = (-0.5 * self._spiky._gradient_factor) * p
        np.take(scaled_p, i, out=tmp)
        tmp += np.take(scaled_p, j, out=tmp2)
        coefficient *= tmp
        # Viscosity: on i, s_ij (v_j - v_i) with the Laplacian C_v (h - r); on
        # j, s_ij (v_i - v_j).
        s = h_minus_r
        s *= self.viscosity * self._visc._radial_laplacian(0.0) / h
        s *= m_inv_rho_ij
        v_t = np.ascontiguousarray(v.T) if self.viscosity > 0 else None
        a = np.empty((n, self.dim))
        pair = r  # r is not needed any more
        for k in range(self.dim):
            np.multiply(coefficient, d[k], out=pair)
            if v_t is not None:
                np.take(v_t[k], j, out=tmp)
                tmp -= np.take(v_t[k], i, out=tmp2)
                tmp *= s
                pair += tmp
            a[:, k] = np.bincount(i, pair, minlength=n)
            a[:, k] -= np.bincount(j, pair, minlength=n)
        a += self.gravity

        viscous_diagonal = np.bincount(i, s, minlength=n).astype(np.float64, copy=False)
        viscous_diagonal += np.bincount(j, s, minlength=n)
        if self.surface_tension > 0:
            # This reuses the buffers of s and of the pressure coefficient.
            a += self._surface_tension(i, j, d, r2, u, rho)

        self._rho, self._p, self._a = rho, p, a
        self._dt_limit = self._stable_step(rho, v, a, viscous_diagonal)

    def _surface_tension(self, i, j, d, r2, u, rho):
        """Colour-field force; ``u = h^2 - r^2`` on the pairs."""
        n, m, n_pairs = self.n_particles, self.particle_mass, len(i)
        buffer = self._buffer
        tmp = buffer("tmp", n_pairs)
        volume = m / rho
        # grad W(d) = -6 C u^2 d. n_i = sum_j V_j grad W(x_i - x_j), and
        # grad W(x_j - x_i) = -grad W(d). The factor -6 C rides on the volumes.
        scaled_volume = self._poly6._derivative_factor * volume
        volume_i = np.take(scaled_volume, i, out=buffer("volume_i", n_pairs))
        volume_j = np.take(scaled_volume, j, out=buffer("volume_j", n_pairs))
        u2 = _poly6_gradient_profile(u, out=buffer("w", n_pairs))
        grad_i = np.multiply(u2, volume_i, out=buffer("coef", n_pairs))
        grad_j = np.multiply(u2, volume_j, out=buffer("h_minus_r", n_pairs))
        normal = np.empty((n, self.dim))
        for k in range(self.dim):
            normal[:, k] = np.bincount(
                i, np.multiply(grad_j, d[k], out=tmp), minlength=n
            )
            normal[:, k] -= np.bincount(
                j, np.multiply(grad_i, d[k], out=tmp), minlength=n
            )
        # Laplacian of W: -6 C u (dim u - 4 r^2), the -6 C on the volumes.
        lap = _poly6_laplacian_profile(
            u, r2, self.dim, out=buffer("r", n_pairs), scratch=tmp
        )
        curvature_term = volume * self._poly6._radial_laplacian_r2(0.0)
        curvature_term += np.bincount(
            i, np.multiply(volume_j, lap, out=tmp), minlength=n
        )
        curvature_term += np.bincount(
            j, np.multiply(volume_i, lap, out=tmp), minlength=n
        )
        norm = np.sqrt(np.einsum("ik,ik->i", normal, normal))
        surface = norm >= self.surface_threshold / self.h
        a = np.zeros_like(normal)
        a[surface] = (
            -self.surface_tension
            * (curvature_term[surface] / (norm[surface] * rho[surface]))[:, None]
            * normal[surface]
        )
        return a

    def _stable_step(self, rho, v, a, viscous_diagonal):
        h = self.h
        speed = np.sqrt(np.max(np.einsum("ik,ik->i", v, v)))
        accel = np.sqrt(np.max(np.einsum("ik,ik->i", a, a)))
        limits = [np.inf, np.inf, np.inf]
        signal = self._sound_speed(rho) + speed
        if signal > 0:
            limits[0] = h / signal
        if accel > 0:
            limits[1] = np.sqrt(h / accel)
        max_diagonal = np.max(viscous_diagonal)
        if max_diagonal > 0:
            limits[2] = 2.0 / max_diagonal
        limit = min(limits)
        return self.cfl_number * (limit if np.isfinite(limit) else h)

    def _apply_walls(self):
        x, v = self._x, self._v
        low, high = self.box[:, 0], self.box[:, 1]
        for bound, crossed in ((low, x < low), (high, x > high)):
            if np.any(crossed):
                x[crossed] = (2.0 * bound - x)[crossed]
                v[crossed] = -self.restitution * v[crossed]
        np.clip(x, low, high, out=x)

    # ------------------------------------------------------------ integration
    def _advance(self, dt):
        if self.integrator == "leapfrog":
            self._v += 0.5 * dt * self._a
            self._x += dt * self._v
            self._apply_walls()
            self._evaluate()
            self._v += 0.5 * dt * self._a
        else:
            self._v += dt * self._a
            self._x += dt * self._v
            self._apply_walls()
            self._evaluate()
        self.time += dt
        self.n_steps += 1
        self._record(dt)

    def _next_dt(self):
        return self._dt_limit if self.dt == "cfl" else self.dt

    def step(self, n_steps=1):
        """Advance the fluid by ``n_steps`` time steps.

        Parameters
        ----------
        n_steps : int, default=1
            Number of steps (>= 0).

        Returns
        -------
        self : SPHFluid
            The fluid, advanced.
        """
        check_scalar("n_steps", n_steps, _STEPS)
        for _ in range(int(n_steps)):
            self._advance(self._next_dt())
        return self

    def run(self, t_end, callback=None):
        """Advance the fluid until ``time`` reaches ``t_end``.

        The last step is shortened to land on ``t_end``.

        Parameters
        ----------
        t_end : float
            Final simulated time (>= the current ``time``).
        callback : callable, default=None
            Called as ``callback(fluid)`` after every step; if it returns
            ``True`` the run stops there.

        Returns
        -------
        self : SPHFluid
            The fluid, advanced.
        """
        t_end = _check_real("t_end", t_end, low=self.time)
        if callback is not None and not callable(callback):
            raise ValueError(f"callback={callback!r} must be callable or None.")
        while self.time < t_end:
            dt = min(self._next_dt(), t_end - self.time)
            self._advance(dt)
            if t_end - self.time <= 1e-12 * max(1.0, t_end):
                self.time = t_end
            if callback is not None and callback(self) is True:
                break
        return self

    # ------------------------------------------------------------ diagnostics
    def _record(self, dt):
        m = self.particle_mass
        kinetic = 0.5 * m * float(np.einsum("ik,ik->", self._v, self._v))
        potential = -m * float(np.sum(self._x @ self.gravity))
        history = self._history
        history["time"].append(self.time)
        history["dt"].append(dt)
        history["kinetic_energy"].append(kinetic)
        history["potential_energy"].append(potential)
        history["total_energy"].append(kinetic + potential)
        history["max_density_error"].append(
            max(0.0, float(np.max(self._rho)) / self.rest_density - 1.0)
        )
        history["momentum"].append(m * self._v.sum(axis=0))

    @property
    def diagnostics(self):
        """Per-step diagnostics as arrays, one row per record."""
        return {key: np.asarray(values) for key, values in self._history.items()}

    @property
    def positions(self):
        """Current positions, shape (n_particles, dim) (a copy)."""
        return self._x.copy()

    @property
    def velocities(self):
        """Current velocities, shape (n_particles, dim) (a copy)."""
        return self._v.copy()

    @property
    def density(self):
        """Current SPH densities, shape (n_particles,) (a copy)."""
        return self._rho.copy()

    @property
    def pressure(self):
        """Current pressures, shape (n_particles,) (a copy)."""
        return self._p.copy()

    @property
    def accelerations(self):
        """Accelerations of the last evaluation, shape (n_particles, dim) (a copy)."""
        return self._a.copy()

    def __repr__(self):
        return (
            f"SPHFluid(n_particles={self.n_particles}, dim={self.dim}, "
            f"h={self.h:.3g}, time={self.time:.4g})"
        )
