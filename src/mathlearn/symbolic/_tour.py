"""Tour section: Kepler's third law from the planets, and a family of curves."""

import time

import numpy as np

from mathlearn._tour import TourSection, save_figure
from mathlearn.utils._optional import import_matplotlib_pyplot

# Semi-major axis (AU) and sidereal period (years) of the eight planets.
_PLANETS = {
    "Mercury": (0.387, 0.241),
    "Venus": (0.723, 0.615),
    "Earth": (1.000, 1.000),
    "Mars": (1.524, 1.881),
    "Jupiter": (5.203, 11.86),
    "Saturn": (9.537, 29.46),
    "Uranus": (19.19, 84.01),
    "Neptune": (30.07, 164.8),
}


def _front_lines(reg, rows=8):
    lines = [f"  {'complexity':>10} {'MSE':>11} {'score':>7}  formula"]
    for _, row in reg.pareto_front_.head(rows).iterrows():
        mark = "  <- selected" if row["selected"] else ""
        lines.append(
            f"  {row['complexity']:>10} {row['loss']:>11.3g} {row['score']:>7.2f}"
            f"  {row['expression']}{mark}"
        )
    return lines


def _run(out_dir):
    import pandas as pd

    from mathlearn.symbolic import SymbolicRegressor

    lines = []
    a, period = (np.array(v) for v in zip(*_PLANETS.values(), strict=True))
    start = time.perf_counter()
    kepler = SymbolicRegressor(generations=0, random_state=0)
    kepler.fit(pd.DataFrame({"a": a}), period)
    seconds = time.perf_counter() - start
    linear = np.polyfit(a, period, 1)
    linear_mse = np.mean((np.polyval(linear, a) - period) ** 2)
    lines += [
        "Kepler's third law from the 8 planets (semi-major axis a in AU, period "
        f"T in years), {seconds:.1f} s:",
        f"  selected: T = {kepler.expression_}  (Kepler: T = a^(3/2))",
        f"  training MSE {kepler.loss_:.3g} years^2; a straight line: {linear_mse:.3g}",
        "  Pareto front: the most accurate formula found at each complexity "
        "(nodes + coefficients);",
        "  score: how much log(MSE) drops per unit of complexity from the row "
        "above. The selected",
        "  formula is the accurate one after which extra complexity buys little.",
        *_front_lines(kepler),
    ]

    rng = np.random.RandomState(0)
    r = rng.uniform(0, 4, 150)
    scale = rng.choice([0.5, 1.0, 2.0, 3.0], 150)
    f = np.exp(-r / scale) + 0.01 * rng.normal(size=150)
    start = time.perf_counter()
    family = SymbolicRegressor(generations=0, random_state=0)
    family.fit(pd.DataFrame({"r": r, "a": scale}), f)
    seconds = time.perf_counter() - start
    lines += [
        "",
        "A family of curves f(r; a) = exp(-r/a) for a in {0.5, 1, 2, 3}, noise "
        f"0.01, fitted on (r, a) at once, {seconds:.1f} s:",
        f"  selected: f = {family.expression_}",
        f"  training MSE {family.loss_:.2e} (noise variance 1.0e-04)",
    ]
    if out_dir is not None:
        plt = import_matplotlib_pyplot()

        fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
        kepler.plot_pareto_front(ax=axes[0])
        axes[0].set_title("Kepler's third law: Pareto front")
        family.plot_pareto_front(ax=axes[1])
        axes[1].set_title("exp(-r/a) family: Pareto front")
        save_figure(fig, out_dir, "symbolic_pareto_fronts.png")
    return "\n".join(lines)


SECTION = TourSection(
    name="symbolic",
    title="Symbolic regression: Kepler's law from the planets, a curve family",
    run=_run,
    order=40,
)
