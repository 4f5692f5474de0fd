"""Benchmark mathlearn.sph.SPHFluid against a per-particle loop reference.

The reference is the obvious transcription of Müller et al. (2003): neighbour
lists from ``cKDTree.query_ball_point``, then Python loops over particles and
over each particle's neighbours for the density, the pressure, viscosity and
surface-tension forces, with the same leapfrog step and walls. Both run the
2-D and 3-D dam breaks with the same fixed time step in the same process; the
reference is timed on fewer steps, and its positions are checked against
mathlearn's after those steps.

Reported per case: steps per second of each (``_timing.measure``), mathlearn's
with one competing process ("busy", from the same state), their ratio
(idle), microseconds per
particle-step (flat when the cost is linear in the number of particles), the
relative drift of kinetic + potential energy over the timed run, the
largest compression ``max (rho / rho_0 - 1)``, and how many of the timed steps
searched the tree for a new Verlet neighbour list. Most timed runs cover the
first milliseconds of the collapse, when particles move slowly and the list
is rarely rebuilt; the 10,000-particle cases are therefore timed a second
time from t = 0.25 s, mid-collapse, where particles move at metres per
second and the list is rebuilt every few steps (both simulators start from
the same state, reached by untimed mathlearn steps). The last line reports a
whole collapse.

Run ``python benchmarks/bench_sph.py`` (``--quick`` for a short run).
"""

import argparse
import math

import numpy as np
from _timing import competing_process, measure, print_table
from scipy.spatial import cKDTree

from mathlearn.sph import SPHFluid

TAIT_GAMMA = 7.0


class LoopReference:
    """Per-particle loop over neighbour lists; mirrors SPHFluid's defaults."""

    def __init__(self, fluid, dt):
        self.fluid = fluid
        self.dt = dt
        self.x = fluid.positions
        self.v = fluid.velocities
        # The fluid's own accelerations: after a leapfrog step their viscous
        # term was evaluated with the half-step velocities, not fluid.velocities.
        self.a = fluid.accelerations

    def accelerations(self):
        f = self.fluid
        n, dim, h, m = f.n_particles, f.dim, f.h, f.particle_mass
        h2 = h * h
        rho0, k, mu, sigma = f.rest_density, f.stiffness, f.viscosity, f.surface_tension
        if dim == 2:
            c6, cs, cv = (
                4 / (math.pi * h**8),
                10 / (math.pi * h**5),
                40 / (math.pi * h**5),
            )
        else:
            c6 = 315 / (64 * math.pi * h**9)
            cs, cv = 15 / (math.pi * h**6), 45 / (math.pi * h**6)
        x, v = self.x.tolist(), self.v.tolist()
        neighbours = cKDTree(self.x).query_ball_point(self.x, h)
        rho = [0.0] * n
        for i in range(n):
            total = 0.0
            for j in neighbours[i]:
                r2 = sum((x[i][c] - x[j][c]) ** 2 for c in range(dim))
                if r2 < h2:
                    total += (h2 - r2) ** 3
            rho[i] = m * c6 * total
        p = [
            max(0.0, k * rho0 / TAIT_GAMMA * ((r / rho0) ** TAIT_GAMMA - 1.0))
            for r in rho
        ]
        g = f.gravity.tolist()
        a = np.empty((n, dim))
        for i in range(n):
            acc = list(g)
            normal = [0.0] * dim
            lap_c = 0.0
            for j in neighbours[i]:
                d = [x[i][c] - x[j][c] for c in range(dim)]
                r2 = sum(dc * dc for dc in d)
                if r2 >= h2:
                    continue
                u = h2 - r2
                volume = m / rho[j]
                for c in range(dim):
                    normal[c] += volume * -6 * c6 * u * u * d[c]
                lap_c += volume * -6 * c6 * u * (dim * u - 4 * r2)
                if j == i:
                    continue
                r = math.sqrt(r2)
                pressure = m * (p[i] + p[j]) / (2 * rho[j] * rho[i]) * 3 * cs
                pressure *= (h - r) ** 2 / r
                visc = mu * m / (rho[j] * rho[i]) * cv * (h - r)
                for c in range(dim):
                    acc[c] += pressure * d[c] + visc * (v[j][c] - v[i][c])
            norm = math.sqrt(sum(nc * nc for nc in normal))
            if sigma > 0 and norm >= f.surface_threshold / h:
                for c in range(dim):
                    acc[c] -= sigma * lap_c * normal[c] / (norm * rho[i])
            a[i] = acc
        return a

    def walls(self):
        box, e = self.fluid.box, self.fluid.restitution
        for i in range(len(self.x)):
            for c in range(self.fluid.dim):
                low, high = box[c]
                if self.x[i, c] < low:
                    self.x[i, c] = min(2 * low - self.x[i, c], high)
                    self.v[i, c] *= -e
                elif self.x[i, c] > high:
                    self.x[i, c] = max(2 * high - self.x[i, c], low)
                    self.v[i, c] *= -e

    def step(self):
        dt = self.dt
        self.v += 0.5 * dt * self.a
        self.x += dt * self.v
        self.walls()
        self.a = self.accelerations()
        self.v += 0.5 * dt * self.a


def _steps(reference, n_steps):
    for _ in range(n_steps):
        reference.step()


def _fluid(n_particles, dim, dt, start_time):
    """A dam break with a fixed step, advanced (untimed) to ``start_time``."""
    fluid = SPHFluid(n_particles, dim=dim, dt=dt, random_state=0)
    if start_time:
        fluid.step(math.ceil(start_time / dt))
    return fluid


def run_case(dim, n_particles, n_steps, n_reference_steps, start_time=0.0):
    probe = SPHFluid(n_particles, dim=dim, random_state=0)
    # The CFL step for a flow at the free-fall speed of the 0.8 m column.
    dt = 0.4 * probe.h / (math.sqrt(probe.stiffness) + math.sqrt(2 * 9.81 * 0.8))

    fluid = _fluid(n_particles, dim, dt, start_time)
    builds = fluid.n_neighbour_builds
    energy_start = fluid.diagnostics["total_energy"][-1]
    time_start = fluid.time
    ml_rate = n_steps / measure(fluid.step, n_steps).seconds
    busy = _fluid(n_particles, dim, dt, start_time)
    with competing_process():
        busy_rate = n_steps / measure(busy.step, n_steps).seconds
    diagnostics = fluid.diagnostics
    energy = diagnostics["total_energy"]
    n_start = len(energy) - n_steps - 1

    row = {
        "dim": dim,
        "n": n_particles,
        "ml": ml_rate,
        "busy": busy_rate,
        "us": 1e6 / (ml_rate * n_particles),
        "drift": (energy[-1] - energy_start) / abs(energy_start),
        "density": diagnostics["max_density_error"][n_start:].max(),
        "t0": time_start,
        "t": fluid.time,
        # Tree searches of the Verlet neighbour list during the timed steps.
        "searches": fluid.n_neighbour_builds - builds,
        "ref": float("nan"),
        "ref_err": float("nan"),
    }
    if n_reference_steps:
        check = _fluid(n_particles, dim, dt, start_time)
        reference = LoopReference(check, dt)
        seconds = measure(_steps, reference, n_reference_steps).seconds
        row["ref"] = n_reference_steps / seconds
        check.step(n_reference_steps)
        row["ref_err"] = float(np.abs(reference.x - check.positions).max())
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    args = parser.parse_args()
    if args.quick:
        cases = [
            (2, 1_000, 50, 2, 0.0),
            (2, 10_000, 10, 1, 0.0),
            (3, 1_000, 20, 1, 0.0),
        ]
    else:
        cases = [
            (2, 1_000, 200, 3, 0.0),
            (2, 10_000, 100, 2, 0.0),
            (2, 10_000, 100, 2, 0.25),
            (2, 50_000, 30, 1, 0.0),
            (3, 1_000, 100, 2, 0.0),
            (3, 10_000, 30, 1, 0.0),
            (3, 10_000, 30, 1, 0.25),
            (3, 50_000, 10, 1, 0.0),
        ]
    header = ["dim", "particles", "mathlearn steps/s", "mathlearn busy steps/s"]
    header += ["loop reference steps/s", "ratio", "us per particle-step"]
    header += ["energy drift", "max compression", "timed t (s)"]
    header += ["tree searches / steps", "max position diff vs reference"]
    rows = []
    for dim, n, steps, ref_steps, start_time in cases:
        r = run_case(dim, n, steps, ref_steps, start_time)
        rows.append(
            [r["dim"], f"{r['n']:,}", f"{r['ml']:.1f}", f"{r['busy']:.1f}"]
            + [f"{r['ref']:.3f}", f"{r['ml'] / r['ref']:.0f}x", f"{r['us']:.2f}"]
            + [f"{r['drift']:+.2e}", f"{r['density']:.2%}"]
            + [f"{r['t0']:.4f}-{r['t']:.4f}", f"{r['searches']} / {steps}"]
            + [f"{r['ref_err']:.1e}"]
        )
    print_table(header, rows)
    # The timed runs cover milliseconds of flow; over the whole collapse the
    # energy budget is dominated by viscosity and the damped walls.
    t_end = 0.3 if args.quick else 1.0
    fluid = SPHFluid(1_000, dim=2, random_state=0).run(t_end)
    diagnostics = fluid.diagnostics
    energy = diagnostics["total_energy"]
    print(
        f"\n2-D dam break, 1,000 particles, CFL steps to t = {t_end} s "
        f"({fluid.n_steps} steps, {fluid.n_neighbour_builds - 1} tree searches): "
        f"kinetic + potential energy "
        f"{(energy[-1] - energy[0]) / energy[0]:+.1%} (dissipated by viscosity "
        f"and walls), max compression {diagnostics['max_density_error'].max():.2%}"
    )


if __name__ == "__main__":
    main()
