"""Nguyen benchmark: mathlearn's SymbolicRegressor against gplearn and PyOperon.

The twelve Nguyen problems with the sampling of Uy et al. (2011) as tabulated
by Petersen et al. (2021): 20 training points, U[-1, 1] for Nguyen-1..6,
U[0, 2] for Nguyen-7, U[0, 4] for Nguyen-8 and U[0, 1]^2 for Nguyen-9..12;
test points are 20 fresh draws from the same distribution. Every method sees
the same data in the same process.

*Exact recovery* is judged outside the estimators: the returned formula's
constants are rounded to 3 significant digits, made rational, and
``sympy.simplify(found - truth) == 0`` must hold (symbols are real, and
positive on the problems whose domain is positive). This strict rule counts
a leftover ``1e-7`` intercept as a miss; the summary also gives the count
when constants below ``1e-6`` are dropped first. gplearn's programs are
converted to sympy the same way. gplearn gets the wall-clock time that
mathlearn used on the same problem and seed (``max_time`` is not a gplearn
option, so it runs generations until the budget is spent); PyOperon gets
the same budget rounded up to whole seconds (its ``max_time``), one thread.

mathlearn fits each problem twice: on the idle machine and next to one
competing process (``_timing.competing_process``), the "busy" columns; the
budget is the same, so a busy machine shows as a slower fit or, when the
budget runs out, a missed formula.

Run ``python benchmarks/bench_symbolic.py [--seeds N] [--problems 1,2,...]
[--no-gplearn] [--no-operon] [--no-busy]``.
"""

import argparse
import contextlib
import signal
import statistics
import time
import warnings

import numpy as np
import sympy
from _timing import competing_process, measure
from sklearn.metrics import r2_score

from mathlearn.symbolic import SymbolicRegressor

x, y = sympy.symbols("x0 x1", real=True)
xp, yp = sympy.symbols("x0 x1", positive=True)

# name: (truth as a function of the symbols, n_features, low, high)
PROBLEMS = {
    1: (lambda a, b: a**3 + a**2 + a, 1, -1, 1),
    2: (lambda a, b: a**4 + a**3 + a**2 + a, 1, -1, 1),
    3: (lambda a, b: a**5 + a**4 + a**3 + a**2 + a, 1, -1, 1),
    4: (lambda a, b: a**6 + a**5 + a**4 + a**3 + a**2 + a, 1, -1, 1),
    5: (lambda a, b: sympy.sin(a**2) * sympy.cos(a) - 1, 1, -1, 1),
    6: (lambda a, b: sympy.sin(a) + sympy.sin(a + a**2), 1, -1, 1),
    7: (lambda a, b: sympy.log(a + 1) + sympy.log(a**2 + 1), 1, 0, 2),
    8: (lambda a, b: sympy.sqrt(a), 1, 0, 4),
    9: (lambda a, b: sympy.sin(a) + sympy.sin(b**2), 2, 0, 1),
    10: (lambda a, b: 2 * sympy.sin(a) * sympy.cos(b), 2, 0, 1),
    11: (lambda a, b: a**b, 2, 0, 1),
    12: (lambda a, b: a**4 - a**3 + b**2 / 2 - b, 2, 0, 1),
}


def make_data(problem, seed):
    truth, n_features, low, high = PROBLEMS[problem]
    rng = np.random.RandomState(seed)
    X_train = rng.uniform(low, high, size=(20, n_features))
    X_test = rng.uniform(low, high, size=(20, n_features))
    symbols = (xp, yp) if low >= 0 else (x, y)
    expr = truth(*symbols)
    f = sympy.lambdify(symbols[:n_features], expr, "numpy")
    return (
        X_train,
        f(*X_train.T).astype(float),
        X_test,
        f(*X_test.T).astype(float),
        expr,
        symbols,
        (low, high),
    )


def round_constants(expr, digits=3, negligible=0.0):
    """Round every float in ``expr`` to ``digits`` significant digits, as a rational.

    Floats smaller than ``negligible`` in absolute value become 0.
    """
    replacements = {}
    for atom in expr.atoms(sympy.Float):
        value = float(atom)
        if abs(value) < negligible:
            value = 0.0
        rounded = float(f"{value:.{digits - 1}e}") if value != 0 else 0.0
        replacements[atom] = sympy.nsimplify(sympy.Float(repr(rounded)), rational=True)
    return expr.xreplace(replacements)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def is_exact(found, truth, symbols, low=-1.0, high=1.0, seconds=30, negligible=0.0):
    """``simplify(round3(found) - truth) == 0``, with a numeric pre-check.

    Equality at 50 random points of the domain is necessary, so an
    expression that differs there is a miss without calling ``simplify``
    (which can run for minutes on a long GP program); ``simplify`` itself
    gets ``seconds`` (a timeout counts as a miss).
    """
    found = found.subs({sympy.Symbol("x0", real=True): symbols[0]})
    found = found.subs({sympy.Symbol("x1", real=True): symbols[1]})
    found = round_constants(found, negligible=negligible)
    points = np.random.RandomState(0).uniform(low, high, size=(50, 2))
    try:
        with np.errstate(all="ignore"):
            a = sympy.lambdify(symbols, found, "numpy")(*points.T)
            b = sympy.lambdify(symbols, truth, "numpy")(*points.T)
        a, b = np.broadcast_to(a, (50,)), np.broadcast_to(b, (50,))
        if not np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True):
            return False
    except Exception:  # pragma: no cover - unevaluable: let simplify decide
        pass
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        return sympy.simplify(found - truth) == 0
    except Exception:  # a timeout or a sympy failure counts as a miss
        return False
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_mathlearn(X, y, seed, max_time, n_jobs, busy=False):
    """Fit on an idle machine or, with ``busy``, next to one competing process."""
    reg = SymbolicRegressor(random_state=seed, max_time=max_time, n_jobs=n_jobs)
    with competing_process() if busy else contextlib.nullcontext():
        seconds = measure(reg.fit, X, y).seconds
    return reg, seconds, reg.sympy()


# gplearn's operators as sympy functions (the names of gplearn_functions).
_GPLEARN_SYMPY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "sqrt": sympy.sqrt,
    "log": sympy.log,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "exp": sympy.exp,
    "square": lambda a: a**2,
    "cube": lambda a: a**3,
}


def gplearn_functions(*, cube=True):
    """gplearn's function set: its own operators, a guarded exp, square (cube)."""
    from gplearn.functions import make_function

    def _exp(a):
        with np.errstate(over="ignore"):
            return np.where(a < 100, np.exp(np.minimum(a, 100)), 0.0)

    functions = ["add", "sub", "mul", "div", "sqrt", "log", "sin", "cos"]
    functions.append(make_function(function=_exp, name="exp", arity=1))
    functions.append(make_function(function=lambda a: a * a, name="square", arity=1))
    if cube:
        functions.append(
            make_function(function=lambda a: a * a * a, name="cube", arity=1)
        )
    return functions


def gplearn_to_sympy(program, symbols):
    """A gplearn program as sympy; feature ``Xj`` is ``symbols[j]``."""
    rules = {**_GPLEARN_SYMPY, **{f"X{j}": s for j, s in enumerate(symbols)}}
    return sympy.sympify(str(program), locals=rules)


def gplearn_within(X, y, seed, budget, *, cube=True):
    """gplearn fitted one generation at a time while ``budget`` seconds last.

    gplearn has no time budget of its own; it stops earlier once its best
    program fits exactly. Returns the regressor and the seconds it took.
    """
    from gplearn.genetic import SymbolicRegressor as GPRegressor

    reg = GPRegressor(
        population_size=1000,
        generations=1,
        function_set=gplearn_functions(cube=cube),
        parsimony_coefficient=0.001,
        stopping_criteria=1e-10,
        random_state=seed,
        warm_start=True,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generations = 0
        while True:
            generations += 1
            reg.set_params(generations=generations)
            reg.fit(X, y)
            if (
                time.perf_counter() - start > budget
                or reg._program.raw_fitness_ < 1e-10
            ):
                break
    return reg, time.perf_counter() - start


def run_gplearn(X, y, seed, budget):
    reg, seconds = gplearn_within(X, y, seed, budget)
    try:
        expr = gplearn_to_sympy(reg._program, sympy.symbols("x0 x1", real=True))
    except (sympy.SympifyError, TypeError):  # pragma: no cover
        expr = sympy.nan
    return reg, seconds, expr


def run_operon(X, y, seed, budget):
    from pyoperon.sklearn import SymbolicRegressor as OperonRegressor

    reg = OperonRegressor(
        allowed_symbols="add,sub,mul,div,constant,variable,sin,cos,exp,log,sqrt,square",
        max_time=max(1, int(np.ceil(budget))),
        random_state=seed,
        n_threads=1,
    )
    seconds = measure(reg.fit, X, y).seconds
    text = reg.get_model_string(reg.model_, 12).replace("^", "**")
    names = {f"X{j + 1}": sympy.Symbol(f"x{j}", real=True) for j in range(2)}
    try:
        expr = sympy.sympify(text, locals=names)
    except (sympy.SympifyError, TypeError):  # pragma: no cover
        expr = sympy.nan
    return reg, seconds, expr


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--problems", default=",".join(map(str, PROBLEMS)))
    parser.add_argument("--no-gplearn", action="store_true")
    parser.add_argument("--no-operon", action="store_true")
    parser.add_argument("--max-time", type=float, default=120.0)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument(
        "--no-busy",
        action="store_true",
        help="skip mathlearn's second fit next to one competing process",
    )
    args = parser.parse_args()
    problems = [int(p) for p in args.problems.split(",")]
    rows = []
    print(
        f"{'problem':<10}{'seed':>5} | {'mathlearn':>9}{'R2':>9}{'time':>8} | "
        f"{'busy':>5}{'time':>8} | {'gplearn':>8}{'R2':>9}{'time':>8} | "
        f"{'operon':>7}{'R2':>9}{'time':>8} | "
        "formula (mathlearn)"
    )
    for problem in problems:
        for seed in range(args.seeds):
            X, yv, X_test, y_test, truth, symbols, domain = make_data(problem, seed)
            reg, seconds, found = run_mathlearn(X, yv, seed, args.max_time, args.n_jobs)
            row = {
                "problem": problem,
                "ml_exact": is_exact(found, truth, symbols, *domain),
                "ml_lenient": is_exact(found, truth, symbols, *domain, negligible=1e-6),
                "ml_r2": r2_score(y_test, reg.predict(X_test)),
                "ml_time": seconds,
            }
            if not args.no_busy:
                busy, row["busy_time"], busy_found = run_mathlearn(
                    X, yv, seed, args.max_time, args.n_jobs, busy=True
                )
                row["busy_exact"] = is_exact(busy_found, truth, symbols, *domain)
            if not args.no_gplearn:
                gp, gp_seconds, gp_expr = run_gplearn(X, yv, seed, seconds)
                row["gp_exact"] = is_exact(gp_expr, truth, symbols, *domain)
                row["gp_lenient"] = is_exact(
                    gp_expr, truth, symbols, *domain, negligible=1e-6
                )
                with np.errstate(all="ignore"):
                    gp_pred = np.nan_to_num(gp.predict(X_test))
                row["gp_r2"] = r2_score(y_test, gp_pred)
                row["gp_time"] = gp_seconds
            if not args.no_operon:
                op, op_seconds, op_expr = run_operon(X, yv, seed, seconds)
                row["op_exact"] = is_exact(op_expr, truth, symbols, *domain)
                row["op_lenient"] = is_exact(
                    op_expr, truth, symbols, *domain, negligible=1e-6
                )
                row["op_r2"] = r2_score(y_test, np.nan_to_num(op.predict(X_test)))
                row["op_time"] = op_seconds
            rows.append(row)
            gp_part = (
                f"{'yes' if row['gp_exact'] else 'no':>8}{row['gp_r2']:>9.4f}"
                f"{row['gp_time']:>7.1f}s"
                if "gp_exact" in row
                else f"{'-':>8}{'-':>9}{'-':>8}"
            )
            op_part = (
                f"{'yes' if row['op_exact'] else 'no':>7}{row['op_r2']:>9.4f}"
                f"{row['op_time']:>7.1f}s"
                if "op_exact" in row
                else f"{'-':>7}{'-':>9}{'-':>8}"
            )
            busy_part = (
                f"{'yes' if row['busy_exact'] else 'no':>5}{row['busy_time']:>7.1f}s"
                if "busy_exact" in row
                else f"{'-':>5}{'-':>8}"
            )
            print(
                f"Nguyen-{problem:<3}{seed:>5} | "
                f"{'yes' if row['ml_exact'] else 'no':>9}"
                f"{row['ml_r2']:>9.4f}{seconds:>7.1f}s | {busy_part} | "
                f"{gp_part} | {op_part} | {found}",
                flush=True,
            )
    print()
    n = len(rows)
    methods = [("mathlearn", "ml")]
    if not args.no_gplearn:
        methods.append(("gplearn", "gp"))
    if not args.no_operon:
        methods.append(("PyOperon", "op"))
    print(
        "exact recovery if constants below 1e-6 are dropped before rounding: "
        + ", ".join(
            f"{name} {sum(r[key + '_lenient'] for r in rows)}/{n}"
            for name, key in methods
        )
    )
    rates = {}
    for name, key in methods:
        exact = sum(r[key + "_exact"] for r in rows)
        rates[key] = exact / n
        print(
            f"{name + ':':<10} exact recovery {rates[key]:.0%} ({exact}/{n}), "
            f"median test R2 {statistics.median(r[key + '_r2'] for r in rows):.4f}, "
            f"median time {statistics.median(r[key + '_time'] for r in rows):.1f} s"
        )
        if key == "ml" and not args.no_busy:
            busy_exact = sum(r["busy_exact"] for r in rows)
            print(
                f"{'':<10} next to one competing process: exact recovery "
                f"{busy_exact / n:.0%} ({busy_exact}/{n}), median time "
                f"{statistics.median(r['busy_time'] for r in rows):.1f} s"
            )
        if key == "gp":
            ratio = rates["ml"] / rates["gp"] if rates["gp"] else float("inf")
            print(f"recovery ratio mathlearn / gplearn: {ratio:.2f}")


if __name__ == "__main__":
    main()
