"""Feynman benchmark: exact recovery of physics formulas, mathlearn against peers.

SRBench's ground-truth track (La Cava et al., 2021) on the equations of the
Feynman Symbolic Regression Database (Udrescu & Tegmark, 2020). For each
equation of a CSV in the database's format (default: the shared dev set),
1,000 training points are sampled uniformly in the variables' ranges, Gaussian
noise of ``--noise`` times the standard deviation of ``y`` is added to the
training target (SRBench uses 0, 0.001, 0.01 and 0.1), and every method fits
the same data with the same per-equation budget ``--max-time``:
mathlearn's :class:`~mathlearn.symbolic.SymbolicRegressor` (its
``max_time``), PyOperon (its ``max_time``, one thread) and gplearn (no time
option: generations of 1,000 programs until the budget is spent).

*Exact recovery* is judged outside the estimators by :func:`is_recovered`,
SRBench's rule: after the found formula's constants are rounded (floats
below ``1e-4`` in magnitude become 0, the others keep 4 significant digits),
``simplify(found - truth)`` or ``simplify(found / truth)`` must be a
constant. On noise-free data the constant must also be 0 (to ``1e-3`` times
the RMS of the target) or 1 (to ``1e-3``): a noise-free fit has no excuse for
a wrong scale. Test R² is measured on 1,000 fresh noise-free points.

Independent (equation, method) fits run in ``--jobs`` worker processes; each
fit is single-threaded, so ``--jobs 2`` uses two cores. Each job's time is
the wall clock of its fit (``_timing.measure``).

With ``--busy`` mathlearn's fits are run again with one competing process
(``_timing.competing_process``, a busy loop on one core): under a fixed time
budget a busy machine costs recovery and accuracy, not seconds, so the
column compares recovered and R² idle against busy.

Run ``python benchmarks/bench_feynman.py [--quick] [--noise 0.01]
[--max-time 60] [--jobs 2] [--equations I.8.14,II.6.15a] [--limit N]
[--methods mathlearn,operon,gplearn] [--seed 0] [--busy] [CSV]``.
"""

import argparse
import csv
import os
import re
import signal
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import sympy
from sklearn.metrics import r2_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import competing_process, measure, print_table  # noqa: E402
from bench_symbolic import gplearn_to_sympy, gplearn_within  # noqa: E402

#: The environment variable naming the default CSV.
CSV_VARIABLE = "MATHLEARN_FEYNMAN_CSV"
#: Where the shared dev set lies, from a directory above the repository.
SHARED_CSV = Path("shared") / "data" / "feynman_dev.csv"
#: A 10-equation subset spanning the dev set's shapes: a Gaussian, a distance,
#: products of powers, a Lorentz factor, a Doppler ratio, a sum of squares
#: under a root.
QUICK = (
    "I.6.2b",
    "I.8.14",
    "I.12.2",
    "I.14.3",
    "I.15.3x",
    "I.34.1",
    "I.48.2",
    "II.6.15a",
    "II.38.14",
    "III.10.19",
)
N_TRAIN = 1000
N_TEST = 1000
#: Floats below this magnitude are dropped before judging (SRBench's rule).
NEGLIGIBLE = 1e-4
#: Significant digits a found constant keeps before judging.
DIGITS = 4
#: A noise-free fit must get the additive (relative to the RMS of y) or the
#: multiplicative constant right to this tolerance.
NOISE_FREE_TOL = 1e-3
#: Seconds sympy's simplify may take on one formula (a timeout is a miss).
SIMPLIFY_SECONDS = 30
METHODS = ("mathlearn", "operon", "gplearn")


class Equation(NamedTuple):
    name: str
    output: str
    formula: str
    variables: tuple  # names, in the CSV's order
    low: np.ndarray
    high: np.ndarray


def default_csv():
    """The CSV of ``$MATHLEARN_FEYNMAN_CSV``, else the shared dev set found in
    the nearest directory above the repository that holds
    ``shared/data/feynman_dev.csv`` (a worktree sits deeper than the main
    checkout); None if neither exists."""
    if os.environ.get(CSV_VARIABLE):
        return Path(os.environ[CSV_VARIABLE])
    repository = Path(__file__).resolve().parents[1]
    for directory in repository.parents:
        if (directory / SHARED_CSV).is_file():
            return directory / SHARED_CSV
    return None


def read_equations(path):
    """The equations of a CSV in the Feynman database's format.

    The ``# variables`` column is wrong in a few rows, so the variables are
    the non-empty ``vN_name`` fields.
    """
    equations = []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            names, low, high = [], [], []
            k = 1
            while row.get(f"v{k}_name"):
                names.append(row[f"v{k}_name"].strip())
                low.append(float(row[f"v{k}_low"]))
                high.append(float(row[f"v{k}_high"]))
                k += 1
            equations.append(
                Equation(
                    row["Filename"],
                    row["Output"],
                    row["Formula"],
                    tuple(names),
                    np.array(low),
                    np.array(high),
                )
            )
    return equations


def variable_symbols(equation):
    """One real sympy symbol per variable, positive where its range is."""
    return [
        sympy.Symbol(name, positive=True) if low > 0 else sympy.Symbol(name, real=True)
        for name, low in zip(equation.variables, equation.low, strict=True)
    ]


def parse_formula(text, symbols):
    """A formula in the database's syntax (``ln``, ``arcsin``) as a sympy expression.

    Variable names are replaced by placeholders first, so that names that
    are Python keywords (``lambda``) or sympy names (``I``, ``E``, ``pi``
    when it is a variable) parse as the variables.
    """
    locals_ = {"ln": sympy.log, "arcsin": sympy.asin, "arccos": sympy.acos}
    locals_.update({"pi": sympy.pi, "exp": sympy.exp, "sqrt": sympy.sqrt})
    for k, symbol in enumerate(sorted(symbols, key=lambda s: -len(s.name))):
        placeholder = f"_v{k}_"
        text = re.sub(rf"(?<![\w.]){re.escape(symbol.name)}(?!\w)", placeholder, text)
        locals_[placeholder] = symbol
    return sympy.sympify(text, locals=locals_)


def round_floats(expr, digits=DIGITS, negligible=NEGLIGIBLE):
    """``expr`` with floats below ``negligible`` set to 0 and the others rounded.

    Rounded to ``digits`` significant digits and made rational, so that
    ``simplify`` works with exact numbers.
    """
    replacements = {}
    for atom in expr.atoms(sympy.Float):
        value = float(atom)
        if abs(value) < negligible:
            replacements[atom] = sympy.Integer(0)
        else:
            rounded = float(f"{value:.{digits - 1}e}")
            replacements[atom] = sympy.nsimplify(rounded, rational=True)
    return expr.xreplace(replacements)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def _constant_value(expr):
    """The value of ``expr`` if it is a finite real constant, else None."""
    if expr.free_symbols:
        return None
    try:
        value = complex(expr.evalf())
    except (TypeError, ValueError):
        return None
    if not np.isfinite(value) or abs(value.imag) > 1e-12 * max(abs(value.real), 1):
        return None
    return value.real


def _numerically_constant(values):
    finite = np.isfinite(values)
    if not finite.all():
        return False
    scale = max(float(np.max(np.abs(values))), 1e-300)
    return float(np.ptp(values)) <= 1e-6 * scale


def is_recovered(found, truth, symbols, points, *, noise_free):
    """SRBench's exact-recovery rule: does ``found`` equal ``truth`` up to a constant?

    Parameters
    ----------
    found, truth : sympy.Expr
        The formula found and the true one, in the same ``symbols``.
    symbols : list of sympy.Symbol
        The variables, in the columns' order of ``points``.
    points : ndarray of shape (n_points, n_variables)
        Points of the domain: a formula whose difference and ratio with the
        truth both vary there is a miss without calling ``simplify`` (which
        can take minutes on a long GP program).
    noise_free : bool
        The data had no noise: the additive constant must then be 0 (to
        ``1e-3`` times the RMS of ``truth`` on ``points``) or the
        multiplicative one 1 (to ``1e-3``).

    Returns
    -------
    recovered : bool
    """
    found = round_floats(sympy.sympify(found))
    if found.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        return False
    with np.errstate(all="ignore"):
        try:
            a = np.broadcast_to(
                sympy.lambdify(symbols, found, "numpy")(*points.T), len(points)
            ).astype(complex)
        except (TypeError, ValueError, NameError, ZeroDivisionError):
            a = None  # not evaluable numerically: let sympy decide
        if a is not None and np.any(a.imag != 0):
            return False  # complex on the domain (sqrt of a negative number)
        a = None if a is None else a.real
        b = np.broadcast_to(
            sympy.lambdify(symbols, truth, "numpy")(*points.T), len(points)
        ).astype(float)
        if a is not None and not (
            _numerically_constant(a - b) or _numerically_constant(a / b)
        ):
            return False
    rms = float(np.sqrt(np.mean(b * b)))
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SIMPLIFY_SECONDS)
    try:
        difference = _constant_value(sympy.simplify(found - truth))
        if difference is not None and (
            not noise_free or abs(difference) <= NOISE_FREE_TOL * rms
        ):
            return True
        ratio = _constant_value(sympy.simplify(found / truth))
        if ratio is not None and ratio != 0:
            return not noise_free or abs(ratio - 1) <= NOISE_FREE_TOL
        return False
    except Exception:  # a timeout or a sympy failure counts as a miss
        return False
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class Problem(NamedTuple):
    equation: Equation
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    truth: sympy.Expr
    symbols: list


def make_problem(equation, noise, seed):
    """Training data (with noise) and fresh noise-free test data."""
    symbols = variable_symbols(equation)
    truth = parse_formula(equation.formula, symbols)
    f = sympy.lambdify(symbols, truth, "numpy")
    rng = np.random.RandomState(seed)
    d = len(symbols)
    X_train = rng.uniform(equation.low, equation.high, size=(N_TRAIN, d))
    X_test = rng.uniform(equation.low, equation.high, size=(N_TEST, d))
    y_train = np.broadcast_to(f(*X_train.T), N_TRAIN).astype(float)
    y_test = np.broadcast_to(f(*X_test.T), N_TEST).astype(float)
    if noise:
        y_train = y_train + rng.normal(0.0, noise * np.std(y_train), N_TRAIN)
    return Problem(equation, X_train, y_train, X_test, y_test, truth, symbols)


# ------------------------------------------------------------------ methods


def fit_mathlearn(problem, max_time, seed):
    import pandas as pd

    from mathlearn.symbolic import SymbolicRegressor

    names = [s.name for s in problem.symbols]
    reg = SymbolicRegressor(max_time=max_time, random_state=seed, n_jobs=1)
    reg.fit(pd.DataFrame(problem.X_train, columns=names), problem.y_train)
    by_name = {s.name: s for s in problem.symbols}
    expr = reg.sympy().xreplace(
        {s: by_name[s.name] for s in reg.sympy().free_symbols if s.name in by_name}
    )
    predict = reg.predict(pd.DataFrame(problem.X_test, columns=names))
    return expr, predict


def fit_operon(problem, max_time, seed):
    from pyoperon.sklearn import SymbolicRegressor as OperonRegressor

    reg = OperonRegressor(
        allowed_symbols="add,sub,mul,div,constant,variable,sin,cos,exp,log,sqrt,square",
        max_time=max(1, int(np.ceil(max_time))),
        random_state=seed,
        n_threads=1,
    )
    reg.fit(problem.X_train, problem.y_train)
    text = reg.get_model_string(reg.model_, 12).replace("^", "**")
    names = {f"X{j + 1}": s for j, s in enumerate(problem.symbols)}
    return sympy.sympify(text, locals=names), reg.predict(problem.X_test)


def fit_gplearn(problem, max_time, seed):
    reg, _ = gplearn_within(
        problem.X_train, problem.y_train, seed, max_time, cube=False
    )
    with np.errstate(all="ignore"):
        predict = np.nan_to_num(reg.predict(problem.X_test))
    return gplearn_to_sympy(reg._program, problem.symbols), predict


FITTERS = {"mathlearn": fit_mathlearn, "operon": fit_operon, "gplearn": fit_gplearn}


def run_job(equation, method, noise, max_time, seed):
    """Fit one method on one equation and judge it: a result row (dict)."""
    problem = make_problem(equation, noise, seed)
    m = measure(FITTERS[method], problem, max_time, seed)
    expr, predict = m.result
    judge_points = np.random.RandomState(seed + 1).uniform(
        equation.low, equation.high, size=(50, len(problem.symbols))
    )
    predict = np.asarray(predict, dtype=float)
    r2 = r2_score(problem.y_test, predict) if np.isfinite(predict).all() else -np.inf
    return {
        "equation": equation.name,
        "method": method,
        "recovered": is_recovered(
            expr, problem.truth, problem.symbols, judge_points, noise_free=noise == 0
        ),
        "r2": float(r2),
        "seconds": m.seconds,
        "formula": sympy.sstr(expr, full_prec=False),
        "truth": equation.formula,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "csv",
        nargs="?",
        default=None,
        help=f"equations (default: ${CSV_VARIABLE}, else {SHARED_CSV} in a "
        "directory above the repository)",
    )
    parser.add_argument("--noise", type=float, default=0.0)
    parser.add_argument("--max-time", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true", help="the 10-equation subset")
    parser.add_argument("--equations", default=None, help="comma-separated names")
    parser.add_argument("--limit", type=int, default=None, help="first N equations")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--jobs", type=int, default=1, help="parallel processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--busy",
        action="store_true",
        help="rerun mathlearn with one competing process",
    )
    args = parser.parse_args(argv)
    path = Path(args.csv) if args.csv is not None else default_csv()
    if path is None:
        parser.error(
            f"no CSV given, {CSV_VARIABLE} is not set and no directory above "
            f"{Path(__file__).resolve().parents[1]} holds {SHARED_CSV}: pass "
            "the equations' CSV as an argument"
        )
    if not path.is_file():
        parser.error(f"the equations' CSV {str(path)!r} does not exist")
    equations = read_equations(path)
    if args.quick:
        equations = [e for e in equations if e.name in QUICK]
    if args.equations:
        wanted = args.equations.split(",")
        unknown = sorted(set(wanted) - {e.name for e in equations})
        if unknown:
            parser.error(f"--equations: unknown names {unknown}")
        equations = [e for e in equations if e.name in wanted]
    if args.limit is not None:
        equations = equations[: args.limit]
    methods = args.methods.split(",")
    unknown = sorted(set(methods) - set(FITTERS))
    if unknown:
        parser.error(f"--methods: unknown {unknown}; choose from {METHODS}")
    if args.busy and "mathlearn" not in methods:
        parser.error("--busy reruns mathlearn: add it to --methods")
    jobs = [
        (e, m, args.noise, args.max_time, args.seed) for e in equations for m in methods
    ]
    print(
        f"# {len(equations)} equations x {len(methods)} methods, noise {args.noise}, "
        f"max_time {args.max_time:g} s, {args.jobs} job(s), seed {args.seed}",
        flush=True,
    )
    rows = run_jobs(jobs, args.jobs)
    by_key = {(r["equation"], r["method"]): r for r in rows}
    header = ["equation"]
    for method in methods:
        header += [f"{method} exact", "R2", "s"]
    header.append("mathlearn formula" if "mathlearn" in methods else "truth")
    table = []
    for equation in equations:
        line = [equation.name]
        for method in methods:
            r = by_key[equation.name, method]
            line += [
                "yes" if r["recovered"] else "no",
                f"{r['r2']:.4f}",
                f"{r['seconds']:.1f}",
            ]
        if "mathlearn" in methods:
            shown = by_key[equation.name, "mathlearn"]["formula"]
        else:
            shown = by_key[equation.name, methods[0]]["truth"]
        line.append(f"`{shown}`")
        table.append(line)
    print_table(header, table)
    print()
    summary = []
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        n = len(mine)
        exact = sum(r["recovered"] for r in mine)
        accurate = sum(r["r2"] > 0.999 for r in mine)
        summary.append(
            [
                method,
                f"{exact}/{n} ({exact / n:.0%})",
                f"{accurate}/{n} ({accurate / n:.0%})",
                f"{statistics.median(r['seconds'] for r in mine):.1f}",
            ]
        )
    print_table(["method", "exact recovery", "R2 > 0.999", "median s"], summary)
    if args.busy:
        idle = [r for r in rows if r["method"] == "mathlearn"]
        with competing_process():
            busy = run_jobs(
                [
                    (e, "mathlearn", args.noise, args.max_time, args.seed)
                    for e in equations
                ],
                args.jobs,
            )
        print()
        print_busy(idle, busy)
    return rows


def run_jobs(jobs, n_jobs):
    """:func:`run_job` on each job, in ``n_jobs`` processes."""
    if n_jobs > 1:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            return list(pool.map(run_job, *zip(*jobs, strict=True)))
    return [run_job(*job) for job in jobs]


def print_busy(idle, busy):
    """mathlearn idle against mathlearn with one competing process."""
    table = [
        [
            a["equation"],
            "yes" if a["recovered"] else "no",
            "yes" if b["recovered"] else "no",
            f"{a['r2']:.4f}",
            f"{b['r2']:.4f}",
        ]
        for a, b in zip(idle, busy, strict=True)
    ]
    n = len(idle)
    table.append(
        [
            "**total**",
            f"{sum(r['recovered'] for r in idle)}/{n}",
            f"{sum(r['recovered'] for r in busy)}/{n}",
            f"{sum(r['r2'] > 0.999 for r in idle)}/{n} > 0.999",
            f"{sum(r['r2'] > 0.999 for r in busy)}/{n} > 0.999",
        ]
    )
    header = ["equation", "exact idle", "exact busy", "R2 idle", "R2 busy"]
    print("mathlearn with one competing process (same budget):")
    print_table(header, table)


if __name__ == "__main__":
    main()
