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

*Resuming.* A full run takes hours (60 equations x 3 methods x 60 s per
noise level), so it can accumulate across sessions: with ``--results
PATH`` each (method, equation) result is appended to ``PATH`` as one JSON
line as soon as it is judged (an interrupted run loses only the fits that
were running), and a later run reuses the stored results whose key is its
own instead of fitting again; the tables are printed from the stored and
the new results alike. A line is a JSON object::

    {"key": {"method": "mathlearn", "equation": "I.12.1", "noise": 0.0,
             "seed": 0, "max_time": 60.0, "n_train": 1000, "n_test": 1000,
             "busy": false, "equation_sha256": "...", "judge": "...",
             "fitter": "...", "version": "git-tree:..."},
     "dirty": false, "commit": "...", "finished": "2026-12-07T20:31:02Z",
     "recovered": true, "r2": 1.0, "seconds": 3.2, "formula": "...",
     "truth": "..."}

``equation_sha256`` hashes the equation's fields read from the CSV (name,
output, formula, variables and their ranges); ``judge`` hashes the code
that samples the data and judges a fit (the functions of
:data:`JUDGE_CODE`, their constants, and sympy's version); ``fitter``
hashes the method's fitting code in this script (its options); ``version``
is, for mathlearn, the git tree of the ``mathlearn`` package that is
imported (the same package content gives the same tree whatever the
commit, which ``commit`` records), and for a peer its package's version
(``pyoperon 0.6.2``). A mathlearn result fitted from a package with
uncommitted or untracked files has ``"dirty": true`` and is never reused
(nor is one from a package outside git); a line that is not valid JSON (a
run killed while writing) is skipped with a warning.

Run ``python benchmarks/bench_feynman.py [--quick] [--noise 0.01]
[--max-time 60] [--jobs 2] [--equations I.8.14,II.6.15a] [--limit N]
[--methods mathlearn,operon,gplearn] [--seed 0] [--busy] [--results PATH]
[CSV]``.
"""

import argparse
import csv
import hashlib
import inspect
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

import numpy as np
import sympy
from sklearn.metrics import r2_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import competing_process, measure, print_table  # noqa: E402
from bench_symbolic import (  # noqa: E402
    gplearn_functions,
    gplearn_to_sympy,
    gplearn_within,
)

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


# ------------------------------------------------------------------ results

#: The fields of a result row (what :func:`run_job` returns).
ROW_FIELDS = ("equation", "method", "recovered", "r2", "seconds", "formula", "truth")
#: The functions that sample an equation's data and judge a fit: their
#: source, the constants they use and sympy's version are the judge's
#: version in the key of a stored result.
JUDGE_CODE = (
    variable_symbols,
    parse_formula,
    round_floats,
    _constant_value,
    _numerically_constant,
    is_recovered,
    make_problem,
    run_job,
)
#: The functions that fit each method (its options live there).
FITTER_CODE = {
    "mathlearn": (fit_mathlearn,),
    "operon": (fit_operon,),
    "gplearn": (fit_gplearn, gplearn_within, gplearn_functions, gplearn_to_sympy),
}
#: The distribution of each peer method, whose version is in the key.
PEER_PACKAGES = {"operon": "pyoperon", "gplearn": "gplearn"}


def _sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def _code_hash(functions, *extra):
    """A hash of the source of ``functions`` and of ``extra``."""
    parts = [inspect.getsource(function) for function in functions]
    return _sha256("\n".join([*parts, *map(repr, extra)]))[:16]


def judge_version():
    """The hash of the sampling and judging code (see :data:`JUDGE_CODE`)."""
    constants = (N_TRAIN, N_TEST, NEGLIGIBLE, DIGITS, NOISE_FREE_TOL, SIMPLIFY_SECONDS)
    return _code_hash(JUDGE_CODE, constants, f"sympy {sympy.__version__}")


def equation_hash(equation):
    """The SHA-256 of an equation's fields as read from its CSV."""
    fields = [
        equation.name,
        equation.output,
        equation.formula,
        list(equation.variables),
        equation.low.tolist(),
        equation.high.tolist(),
    ]
    return _sha256(json.dumps(fields))


class SourceVersion(NamedTuple):
    tree: str | None  # git tree of the directory at HEAD
    commit: str | None  # HEAD
    dirty: bool  # files of the directory differ from HEAD, or no git at all


def source_version(directory):
    """The git tree and commit of ``directory``, and whether its files differ.

    Untracked files count (a new module is imported as well); ignored ones
    (``__pycache__``) do not. Outside a git checkout the version is unknown,
    which counts as dirty.
    """

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        tree = git("rev-parse", "HEAD:./")
        status = git("status", "--porcelain", "--untracked-files=all", "--", ".")
    except (OSError, subprocess.CalledProcessError):
        return SourceVersion(None, None, True)
    return SourceVersion(tree, commit, bool(status))


class Stamp(NamedTuple):
    """What identifies a method's code in the key of a stored result."""

    fitter: str  # hash of its fitting code in this script
    version: str  # mathlearn's git tree, or the peer package's version
    commit: str | None  # mathlearn's commit (recorded, not in the key)
    dirty: bool  # its results must not be reused


def method_stamp(method):
    """The :class:`Stamp` of ``method``'s code, as this process imports it."""
    fitter = _code_hash(FITTER_CODE[method])
    if method == "mathlearn":
        import mathlearn

        source = source_version(Path(mathlearn.__file__).resolve().parent)
        return Stamp(fitter, f"git-tree:{source.tree}", source.commit, source.dirty)
    package = PEER_PACKAGES[method]
    try:
        return Stamp(fitter, f"{package} {metadata.version(package)}", None, False)
    except metadata.PackageNotFoundError:
        return Stamp(fitter, f"{package} not installed", None, True)


def _canonical(key):
    return json.dumps(key, sort_keys=True)


class ResultStore:
    """The results file of ``--results``: stored rows by key, and new ones appended.

    See the module's docstring for the format. ``methods`` are the methods
    whose code is stamped (once, when the store is opened: the code a run
    imports at its start is the code it fits with).
    """

    def __init__(self, path, methods):
        self.path = Path(path)
        self.judge = judge_version()
        self.stamps = {method: method_stamp(method) for method in methods}
        self.reusable = {}
        if not self.path.exists():
            return
        with open(self.path) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    key = _canonical(record["key"])
                    row = {name: record[name] for name in ROW_FIELDS}
                    dirty = bool(record["dirty"])
                except (ValueError, KeyError, TypeError):
                    print(
                        f"# {self.path}:{number} is not a result line: skipped",
                        file=sys.stderr,
                    )
                    continue
                if not dirty:
                    self.reusable[key] = row

    def key(self, equation, method, noise, max_time, seed, busy=False):
        """The key of one result (see the module's docstring)."""
        stamp = self.stamps[method]
        return {
            "method": method,
            "equation": equation.name,
            "noise": float(noise),
            "seed": int(seed),
            "max_time": float(max_time),
            "n_train": N_TRAIN,
            "n_test": N_TEST,
            "busy": bool(busy),
            "equation_sha256": equation_hash(equation),
            "judge": self.judge,
            "fitter": stamp.fitter,
            "version": stamp.version,
        }

    def get(self, key):
        """The stored row of ``key``, or None."""
        return self.reusable.get(_canonical(key))

    def append(self, key, row):
        """Write one result line now (flushed to disk) and make it reusable."""
        stamp = self.stamps[key["method"]]
        record = {
            "key": key,
            "dirty": stamp.dirty,
            "commit": stamp.commit,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **{name: row[name] for name in ROW_FIELDS},
        }
        line = (json.dumps(record) + "\n").encode()
        with open(self.path, "ab+") as handle:
            if handle.seek(0, os.SEEK_END):
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # a line cut by a killed run
                    line = b"\n" + line
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        if not stamp.dirty:
            self.reusable[_canonical(key)] = dict(row)


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
    parser.add_argument(
        "--results",
        default=None,
        metavar="PATH",
        help="JSON-lines file: each result is appended as soon as it is judged, "
        "and stored results of the same key are reused (see the docstring)",
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
    store = None if args.results is None else ResultStore(args.results, methods)
    rows = run_jobs(jobs, args.jobs, store)
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
                store,
                busy=True,
            )
        print()
        print_busy(idle, busy)
    return rows


def run_jobs(jobs, n_jobs, store=None, *, busy=False):
    """The rows of :func:`run_job` on each job, in ``n_jobs`` processes.

    With a :class:`ResultStore`, a job whose key it holds is not run: its
    stored row is returned; each new row is appended to it as soon as it is
    judged.
    """
    rows = [None] * len(jobs)
    keys = [None] * len(jobs)
    if store is not None:
        keys = [store.key(*job, busy=busy) for job in jobs]
        rows = [store.get(key) for key in keys]
        print(
            f"# {sum(row is not None for row in rows)} of {len(jobs)} results "
            f"reused from {store.path}",
            flush=True,
        )
    todo = [k for k, row in enumerate(rows) if row is None]

    def finished(k, row):
        rows[k] = row
        if store is not None:
            store.append(keys[k], row)

    if n_jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            futures = {pool.submit(run_job, *jobs[k]): k for k in todo}
            for future in as_completed(futures):
                finished(futures[future], future.result())
    else:
        for k in todo:
            finished(k, run_job(*jobs[k]))
    return rows


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
