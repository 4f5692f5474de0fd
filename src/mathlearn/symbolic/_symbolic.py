"""Symbolic regression: find a formula ``y = f(x)`` that is short and accurate."""

import time
import warnings
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state, deprecated
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from mathlearn.symbolic import (
    _enumerate,
    _groups,
    _mutate,
    _reduce,
    _search,
    _symmetry,
)
from mathlearn.symbolic._expr import (
    DEFAULT_OPERATORS,
    OPERATORS,
    constants,
    size,
)
from mathlearn.symbolic._front import (
    Formula,
    front_formulas,
    front_table,
)
from mathlearn.symbolic._units import dimension_of, is_consistent, parse_unit
from mathlearn.utils._doc_link import DocLinkMixin
from mathlearn.utils._optional import import_matplotlib_pyplot
from mathlearn.utils._sklearn_compat import (
    Interval,
    StrOptions,
    _check_sample_weight,
    _fit_context,
    validate_data,
)
from mathlearn.utils._validation import check_finite_target

#: Distinct subtrees enumerated at most when ``enumeration_size="auto"``.
_AUTO_SUBTREES = 30_000
#: Largest term size enumerated when ``enumeration_size="auto"`` (the subtree
#: limit stops it earlier with more than one feature).
_AUTO_MAX_SIZE = 7
#: Share of ``max_time`` the exhaustive enumeration may take: the searches
#: over its terms need the rest.
_ENUMERATION_SHARE = 0.4
#: The searches on transformed targets stop at this share of ``max_time``,
#: leaving the rest to the wide search over all terms.
_REDUCED_SHARE = 0.7
#: Share of ``max_time`` the searches may take; the rest is for rounding the
#: constants of the front.
_SEARCH_SHARE = 0.9
#: predict clips its values this many spans of the training target beyond it.
_PREDICT_SPANS = 1000
#: Formulas whose inner constants are tuned per round (each a scipy fit).
_TUNED_PER_ROUND = 6
#: Formulas (of the beam, then the front) whose terms breed each generation.
_PARENT_FORMULAS = 12
#: Parents when no formula has a term yet: the first (smallest) pool terms.
_FALLBACK_PARENTS = 50
#: Floats held by the pool of basis terms at most (terms x samples).
_POOL_ENTRIES = 20_000_000
#: Share of the pool the enumeration leaves to the later steps (power laws,
#: transformed searches, tuned and bred terms): a full pool drops them. The
#: products of powers of two or three features may take half of it.
_RESERVED = 0.1
#: Round-off of the data: a normalised loss up to (_ROUNDOFF * eps)**2 *
#: mean(y**2) / var(y) counts as exact, eps being the machine epsilon of the
#: coarser of X's and y's dtypes. The exact formulas of the Nguyen problems
#: on float32 data reach (0.85 eps)**2 at most.
_ROUNDOFF = 4
#: The search divides a feature whose largest magnitude lies outside
#: [2**-6, 2**6) by a power of two that brings it inside: there, the powers
#: the enumeration builds (up to the sixth) stay within the values the search
#: accepts (below _search._MAX_ABS = 1e12, and varying by more than 1e-12).
_FEATURE_WINDOW = 6


class _Target(NamedTuple):
    """The target as the search sees it: ``y / scale``, of magnitude one."""

    y: np.ndarray  # y / scale, float64: max |y| in [1, 2), or all zero
    scale: float  # a power of two, so that y / scale and back are exact
    mean: float  # (weighted) mean of the scaled y
    sst: float  # (weighted) sum of squares of the scaled y about its mean
    loss_floor: float  # normalised loss treated as exact (round-off)
    weights: np.ndarray | None  # the sample weights, None for unit weights
    sqrt_w: np.ndarray | None  # their square roots (the rows' scale in least squares)
    n: float  # number of samples, or sum of the weights: the n of the BIC


def _scale_target(y, X_dtype, weights=None):
    """The :class:`_Target` of ``y``; ``X_dtype`` sets the round-off with y's.

    The search squares the target (sums of squares, least squares), which
    overflows beyond about 1e154 and underflows below about 1e-154; on
    ``y / scale`` it sees the same numbers whatever the units of ``y``.
    With ``weights`` the mean and the sum of squares are weighted, so that
    integer weights give what repeated samples give.
    """
    y_dtype = y.dtype if y.dtype.kind == "f" else np.float64  # ints are exact
    eps = max(np.finfo(X_dtype).eps, np.finfo(y_dtype).eps)
    y = np.asarray(y, dtype=np.float64)
    peak = float(np.max(np.abs(y)))
    scale = float(np.ldexp(1.0, np.frexp(peak)[1] - 1)) if peak > 0 else 1.0
    scaled = y / scale
    if weights is None:
        sqrt_w, n = None, float(scaled.shape[0])
        mean = float(scaled.mean())
        centred = scaled - mean
    else:
        sqrt_w, n = np.sqrt(weights), float(weights.sum())
        mean = float(weights @ scaled / n)
        centred = (scaled - mean) * sqrt_w
    sst = float(centred @ centred)
    var = sst / n
    loss_floor = _search.LOSS_FLOOR
    if var > 0:
        roundoff = (_ROUNDOFF * eps) ** 2 * (1.0 + mean * mean / var)
        loss_floor = max(loss_floor, roundoff)
    return _Target(scaled, scale, mean, sst, loss_floor, weights, sqrt_w, n)


def _merged_samples(X, y, weights):
    """``(X, y, weights)`` as the search sees them.

    A sample of weight 0 is left out: no step that looks at the data (the
    features' ranges and signs, the power-law fits, the bounds of predict)
    may see it. Equal samples ``(x, y)`` are one sample of their summed
    weight: the search's budgets (the pool's memory, the flops of the
    two-term search) are counted in rows, so a sample repeated ``k`` times
    must be the row of weight ``k``, and the rows are then sorted, so that
    their order does not change the round-off either. Samples with no
    repeats and unit weights are left as they are (weights None).
    """
    if weights is not None:
        kept = weights > 0
        if not kept.all():
            X, y, weights = X[kept], y[kept], weights[kept]
    _, first, inverse = np.unique(
        np.column_stack([X, y]), axis=0, return_index=True, return_inverse=True
    )
    if first.size == y.size and (weights is None or np.all(weights == 1)):
        return X, y, None
    merged = np.bincount(inverse.ravel(), weights=weights, minlength=first.size)
    return X[first], y[first], merged.astype(np.float64)


def _predict_bounds(target):
    """The interval ``predict`` clips to, in the search's units of y.

    ``_PREDICT_SPANS`` spans beyond the training target, a span being at
    least the target's magnitude (1 here), and within float64 once scaled
    back.
    """
    y = target.y
    span = max(float(np.ptp(y)), abs(target.mean), 1.0)
    limit = float(np.finfo(np.float64).max) / target.scale  # inf if scale < 1
    low = max(float(y.min()) - _PREDICT_SPANS * span, -limit)
    high = min(float(y.max()) + _PREDICT_SPANS * span, limit)
    return (low, high)


def _feature_scales(X):
    """The power of two dividing each feature in the search (1 for most).

    It brings the largest magnitude of a feature into ``[2**-6, 2**6)``
    when it lies outside.
    """
    exponent = np.frexp(np.max(np.abs(X), axis=0))[1]  # max in [2**(e-1), 2**e)
    window = np.clip(exponent, 1 - _FEATURE_WINDOW, _FEATURE_WINDOW)
    return np.ldexp(1.0, exponent - window)


def _symbol_names(names):
    """Valid, distinct Python identifiers for sympy symbols."""
    out = []
    for k, name in enumerate(names):
        clean = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in str(name))
        if not clean or not (clean[0].isalpha() or clean[0] == "_"):
            clean = f"x_{clean}" if clean else f"x{k}"
        while clean in out:
            clean += "_"
        out.append(clean)
    return out


class SymbolicRegressor(DocLinkMixin, RegressorMixin, BaseEstimator):
    """Find the formula behind the data: short, accurate, and readable.

    The regressor searches over formulas built from the features with the
    ``operators`` and returns the trade-off between accuracy and complexity as
    a Pareto front (:attr:`pareto_front_`), selecting one formula that is
    "accurate enough with minimum complexity" for :meth:`predict`. Each
    candidate is ``c0 + c1 g1(x) + ... + ck gk(x)``: a sum of basis terms
    ``g_i`` (expression trees) whose coefficients are solved exactly by least
    squares, so the search only has to find the *shape* of the formula (see
    Notes).

    Parameters
    ----------
    operators : tuple of str, default=("add", "sub", "mul", "div", "pow", \
"square", "cube", "sqrt", "exp", "log", "sin", "cos", "neg")
        Operators allowed inside the terms, from ``"add"``, ``"sub"``,
        ``"mul"``, ``"div"``, ``"pow"`` (binary) and ``"square"``,
        ``"cube"``, ``"sqrt"``, ``"exp"``, ``"log"``, ``"sin"``, ``"cos"``,
        ``"tanh"``, ``"abs"``, ``"inv"`` (``1/a``), ``"neg"`` (unary). They
        are the plain mathematical functions: a term whose value is not finite
        on the training data (``log`` of a negative number, division by zero)
        is discarded rather than "protected".
    max_complexity : int, default=30
        Largest complexity of a formula: nodes of its terms plus one per
        coefficient (intercept included). A constant has complexity 1,
        ``c0 + c1 x`` has 3.
    population_size : int, default=100
        New terms bred per generation of genetic programming.
    generations : int, default=10
        Generations of genetic programming after the exhaustive enumeration;
        ``0`` keeps the enumerated terms only.
    max_time : float, default=None
        Wall-clock budget of ``fit`` in seconds: the enumeration stops at 40%
        of it, the searches on transformed targets at 70%, the other searches
        at 90%, and the rounding of the front's constants takes the rest (the
        single-term step of each search and the rounding always run; the
        refits of the rounding stop at ``max_time``).
        ``None`` means no limit. A budget makes the result depend on the
        machine's speed.
    parsimony : float, default=0.01
        Price of one unit of complexity, in the search and in the selection:
        candidates are ranked by ``log(nmse) + parsimony * complexity`` where
        ``nmse`` is the mean squared error divided by the variance of ``y``,
        and the selection adds it to the Bayesian information criterion's
        price (see Notes). ``0.01`` means one more node must cut the error by
        about 1%; larger values select simpler formulas.
    constant_optimizer : {"least_squares", "lbfgs"} or None, \
default="least_squares"
        How the numeric constants inside the terms of promising formulas are
        tuned: :func:`scipy.optimize.least_squares` (Levenberg-Marquardt) or
        L-BFGS-B (:func:`scipy.optimize.minimize`), in both cases with the
        linear coefficients re-solved at each step (variable projection).
        ``None`` keeps the constants as bred.
    units : sequence of (str or dict) or None, default=None
        Physical unit of each feature (``n_features_in_`` entries), as
        strings such as ``"m/s^2"`` or ``"kg*m^2*s^-2"`` (``""`` or ``"1"``
        for dimensionless) or as mappings of base unit (a name) to exponent
        (a finite number) such as ``{"m": 1, "s": -2}``. Terms that add
        quantities of different dimensions, apply ``exp``, ``log``, ``sin``,
        ``cos`` or ``tanh`` to a dimensional quantity, or raise a quantity to
        a data-dependent power are rejected. Numeric constants inside a term
        are dimensionless; the linear coefficients ``c_i`` carry the units
        that make each term match the target (they are the formula's physical
        constants, such as ``g`` in ``g t**2 / 2``), so the target's unit
        constrains nothing and is not asked for.

        .. deprecated:: 0.2
            A last entry for the target's unit (``n_features_in_ + 1``
            entries) is ignored with a ``FutureWarning``; it will raise an
            error in 0.3.
    max_terms : int, default=6
        Most basis terms in a formula (besides the intercept).
    enumeration_size : int or "auto", default="auto"
        Largest number of nodes of the terms enumerated exhaustively (all
        distinct functions up to that size). ``"auto"`` goes on while there
        are at most 30,000 distinct subtrees (size 6 for one feature, 5 for
        two to five). Larger terms come from genetic programming.
    tol : float, default=1e-15
        Stop early once a formula's mean squared error divided by the
        variance of ``y`` is at most ``tol``, or at most the round-off level
        of the data if that is larger (see Notes). The default is round-off
        level: only an exact formula stops the search (six-term
        approximations of smooth data reach 1e-13).
    n_jobs : int, default=None
        Processes tuning the constants of candidate formulas in parallel
        (joblib). ``None`` means 1; ``-1`` uses all cores. The result does
        not depend on ``n_jobs``.
    random_state : int, RandomState instance or None, default=None
        Seeds the genetic programming. Pass an int for reproducible results
        (with ``max_time=None``).
    verbose : int, default=0
        If positive, print one line per generation: the best loss, the front
        size, the number of basis terms and the time.

    Attributes
    ----------
    pareto_front_ : pandas.DataFrame
        One row per formula on the front, by increasing complexity, with
        columns ``complexity``, ``loss`` (mean squared error on the
        training data, weighted by ``sample_weight`` when given, in the
        units of ``y`` squared: ``inf`` if beyond float64),
        ``score`` (drop of ``log(loss)`` per unit of complexity from
        the previous row), ``expression`` (string) and ``sympy`` (the sympy
        expression), plus ``selected`` marking the formula used by
        :meth:`predict`. Built from the fitted state on each access (a new
        DataFrame): the estimator itself holds only plain Python and NumPy
        values, so :mod:`skops.io` saves it with no pandas or sympy type to
        trust.
    expression_ : str
        The selected formula as a string.
    sympy_expr_ : sympy.Expr
        The selected formula as a sympy expression (also :meth:`sympy`).
    complexity_ : int
        Complexity of the selected formula.
    loss_ : float
        Mean squared error of the selected formula on the training data
        (weighted by ``sample_weight`` when given).
    feature_units_ : list of dict or None
        Parsed units of the features (base unit to exponent), ``None``
        without ``units``.
    n_iter_ : int
        Generations of genetic programming run.
    n_terms_searched_ : int
        Distinct basis terms evaluated (enumerated and bred).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit. Defined only when ``X`` has
        feature names that are all strings. Formulas use these names.

    See Also
    --------
    sklearn.linear_model.LinearRegression : The special case whose terms are
        the features themselves.
    sklearn.preprocessing.PolynomialFeatures : A fixed basis of monomials.

    Notes
    -----
    *Search.* (1) Every tree of at most ``enumeration_size`` nodes over the
    features, the constant 1 and the operators is built bottom-up, keeping
    one tree per distinct vector of values on the training data and dropping
    non-finite or constant ones; terms equal up to ``a g + b`` are the same
    basis term. A pair of features that ``y`` sees only through their
    difference (the gradient of a cubic fitted to ``y`` has
    ``df/dx_i + df/dx_j`` near 0) is replaced by ``x_i - x_j`` in the
    enumeration. (2) A beam search of orthogonal matching pursuit steps picks
    subsets of terms: the drop in squared error from adding any pool term to
    the current ones is computed for the whole pool with two matrix products,
    the best terms of each size extend each state, the ``16`` best states by
    the penalised loss survive, and swap moves (remove one term, add the best
    replacement) polish them. (3) Each generation of genetic programming
    breeds ``population_size`` new terms from the terms of the best formulas
    (subtree crossover, wrapping in an operator, grafting a small tree, point
    mutation, hoisting, scaling a feature by a constant); the new distinct
    terms join the pool and the beam search runs again. Before (3), power
    laws ``P`` fitted to ``log |y|`` (plainly and weighted by ``y**2``, its
    inverse noise variance; exponents rounded to halves) and the products of
    powers ``+-1, +-2`` of two or three features join the pool, and
    the beam search runs on ``F(y / P)`` for ``F`` the identity, square,
    inverse, inverse square and logarithm, unweighted and weighted by the
    inverse noise variance of ``F(y / P)``; each formula it finds becomes
    one term ``P * F^-1(c0 + sum c_i g_i)`` (a root of a sum of squares, a
    Lorentz factor; Udrescu & Tegmark, 2020). (4) The constants
    inside the terms of the best formulas are tuned by ``scipy.optimize``,
    including a constant scale on each feature under a transcendental
    operator (``sin(x)`` can become ``sin(1.3 x)``); tuned terms join the
    pool. A term's values are computed with one NumPy call per node, with a
    cache of subtree values.

    *Model selection.* Let ``nmse`` be a formula's training mean squared
    error divided by the variance of ``y``, floored at the round-off level
    of the data (below), and let ``b`` be the formula of the front with the
    smallest ``log(nmse) + (log(n_samples) / n_samples + parsimony) *
    complexity``: the Bayesian information criterion per sample (each node
    counted as a parameter) plus the user's price of complexity, among the
    formulas with at least two samples per fitted parameter (coefficients,
    intercept and inner constants; with fewer a formula can interpolate the
    data, and its round-off loss means nothing). If
    ``b`` is exact (``nmse`` at the floor) it is selected. Otherwise a
    formula no more complex than ``b`` is "accurate enough" when its
    ``nmse`` is at most ``1.5`` times that of ``b`` or at most ``1e-4``, and
    among those the one with the largest *score* is selected, the score
    being the drop of ``log(nmse)`` per unit of complexity from the previous
    formula of the front (Cranmer, 2023): the formula after which more
    complexity buys little. On noisy data the criterion guards against
    fitting the noise; on nearly exact data (measurements to four digits)
    the score picks the law rather than terms that fit the rounding.
    :meth:`select` picks another formula of the front.

    *Constants.* The constants of each formula on the front are rounded to
    the fewest significant digits (zero first, which drops a term) that do
    not raise its squared error by more than ``log(n_samples) / n_samples``
    (the price of one parameter in the criterion above; at least 0.1%), or
    by more than the round-off level times the sum of squares of ``y`` about
    its mean: exact formulas print exact numbers, and the digits and
    constants that only fit the noise of noisy data are dropped. A rounding
    of a constant inside a term to zero or one digit that costs too much is
    tried again with the term's later constants refitted (by
    ``constant_optimizer``, until ``max_time``): they can share a scale with
    the term's coefficient (``a/r2 - b/r1``), which no single constant
    takes back.

    *Units and precision of the data.* The search sees ``y`` divided by a
    power of two that brings its largest magnitude into ``[1, 2)``, and each
    feature whose largest magnitude lies outside ``[2**-6, 2**6)`` divided by
    a power of two that brings it inside (the others as they are); both
    divisions are exact. Formulas are reported, rounded and evaluated in the
    user's units: a rescaled feature appears as ``x/16`` inside terms that
    are not powers or products (``log(x/16 + 1)``). Scaling ``y`` by ``a``
    therefore scales the coefficients and the predictions by ``a``, and
    features and targets in any units (``1e-300`` to ``1e300``) are
    searched like numbers of order one. Shifting a feature is not an
    invariance: ``(x - c)**2`` is not ``x**2``. A feature ``1e6 + u``
    with ``u`` of order one keeps about ten digits of ``u`` in float64, and
    the expanded polynomial in ``x`` cancels terms of order ``1e12``: there
    the search returns an accurate approximation (a cosine of the rescaled
    ``x``, say) rather than the formula in ``u``; subtract the offset first
    to find that. The round-off level of the data is ``1e-15``, or ``(4
    eps)**2 * (1 + mean(y)**2 / var(y))`` if that is larger, ``eps`` being
    the machine epsilon of the coarser of the dtypes of ``X`` and ``y``
    (about ``2e-13`` for float32 data): a formula within it is exact, so
    float32 and float64 data give the same formula, or an equal one.

    *Prediction.* The selected formula is evaluated as is, in float64, and
    returned in the dtype of ``X`` (clipped to its range). Where
    it is not finite on new data (``log`` of a negative value outside the
    training range), ``predict`` returns the mean of the training target,
    and it clips values beyond 1000 times the training target's range from
    it (and beyond float64), so it never returns NaN or infinity for finite
    input.

    References
    ----------
    J. R. Koza (1992). Genetic Programming: On the Programming of Computers
    by Means of Natural Selection. MIT Press.

    M. Keijzer (2003). Improving symbolic regression with interval arithmetic
    and linear scaling. EuroGP 2003, LNCS 2610, 70-82.

    T. McConaghy (2011). FFX: fast, scalable, deterministic symbolic
    regression technology. Genetic Programming Theory and Practice IX.

    N. Q. Uy, N. X. Hoai, M. O'Neill, R. I. McKay, E. Galvan-Lopez (2011).
    Semantically-based crossover in genetic programming: application to
    real-valued symbolic regression. Genetic Programming and Evolvable
    Machines 12, 91-119 (the Nguyen problems).

    S.-M. Udrescu and M. Tegmark (2020). AI Feynman: a physics-inspired
    method for symbolic regression. Science Advances 6, eaay2631.

    M. Cranmer (2023). Interpretable machine learning for science with PySR
    and SymbolicRegression.jl. arXiv:2305.01582 (the Pareto-front score).

    Examples
    --------
    >>> import numpy as np
    >>> from mathlearn.symbolic import SymbolicRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-1, 1, size=(30, 1))
    >>> y = X[:, 0] ** 3 + X[:, 0] ** 2 + X[:, 0]
    >>> reg = SymbolicRegressor(generations=0, random_state=0).fit(X, y)
    >>> reg.sympy()
    x0**3 + x0**2 + x0
    >>> float(reg.predict([[0.5]])[0])
    0.875
    """

    _parameter_constraints = {
        "operators": [list, tuple],
        "max_complexity": [Interval(Integral, 1, None, closed="left")],
        "population_size": [Interval(Integral, 1, None, closed="left")],
        "generations": [Interval(Integral, 0, None, closed="left")],
        "max_time": [Interval(Real, 0, None, closed="neither"), None],
        "parsimony": [Interval(Real, 0, None, closed="left")],
        "constant_optimizer": [StrOptions({"least_squares", "lbfgs"}), None],
        "units": [list, tuple, None],
        "max_terms": [Interval(Integral, 1, None, closed="left")],
        "enumeration_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # Small searches keep the common checks (dozens of fits) fast.
    _test_params = {
        "enumeration_size": 3,
        "population_size": 10,
        "generations": 1,
        "max_terms": 3,
    }

    def __init__(
        self,
        *,
        operators=DEFAULT_OPERATORS,
        max_complexity=30,
        population_size=100,
        generations=10,
        max_time=None,
        parsimony=0.01,
        constant_optimizer="least_squares",
        units=None,
        max_terms=6,
        enumeration_size="auto",
        tol=1e-15,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.operators = operators
        self.max_complexity = max_complexity
        self.population_size = population_size
        self.generations = generations
        self.max_time = max_time
        self.parsimony = parsimony
        self.constant_optimizer = constant_optimizer
        self.units = units
        self.max_terms = max_terms
        self.enumeration_size = enumeration_size
        self.tol = tol
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------ options

    def _resolve_operators(self):
        ops = list(self.operators)
        if not ops:
            raise ValueError(
                f"operators={self.operators!r} is empty; give at least one of "
                f"{sorted(OPERATORS)}"
            )
        unknown = [op for op in ops if op not in OPERATORS]
        if unknown:
            raise ValueError(
                f"operators={self.operators!r} has unknown names {unknown}; "
                f"known operators are {sorted(OPERATORS)}"
            )
        return tuple(dict.fromkeys(ops))

    def _resolve_units(self, n_features):
        if self.units is None:
            return None
        if len(self.units) not in (n_features, n_features + 1):
            raise ValueError(
                f"units has {len(self.units)} entries but needs n_features = "
                f"{n_features}: one per feature"
            )
        dims = [
            parse_unit(unit, what=f"units[{k}]") for k, unit in enumerate(self.units)
        ]
        if len(dims) > n_features:
            warnings.warn(
                "The target's unit (the last of n_features + 1 entries of units) "
                "was deprecated in 0.2 and will raise an error in 0.3: it is not "
                "used, because the linear coefficients carry the units that make "
                "each term match the target. Give one unit per feature.",
                FutureWarning,
                stacklevel=4,  # the caller of fit (through _fit_context)
            )
        return dims[:n_features]

    def _names(self):
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = [f"x{j}" for j in range(self.n_features_in_)]
        return _symbol_names(list(names))

    # ---------------------------------------------------------------- fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Search for formulas ``y = f(X)`` and select one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; column names of a DataFrame name the variables.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples: every least-squares fit of
            the search is weighted, and the selection rule counts
            ``sum(sample_weight)`` samples, so integer weights give the
            formula that repeating each sample that many times gives
            (samples of weight 0 are left out, and equal samples are one
            sample of their summed weight). ``None`` weighs every sample 1.

        Returns
        -------
        self : SymbolicRegressor
            The fitted regressor.
        """
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=True)
        y = check_finite_target(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        X, y, sample_weight = _merged_samples(X, y, sample_weight)
        operators = self._resolve_operators()
        feature_dims = self._resolve_units(X.shape[1])
        # The search multiplies tall, narrow matrices many times: one BLAS
        # thread is faster than several (and does not fight n_jobs).
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(X, y, sample_weight, operators, feature_dims)

    def _fit(self, X, y, sample_weight, operators, feature_dims):
        rng = check_random_state(self.random_state)
        start = time.perf_counter()
        # The searches stop at _SEARCH_SHARE of the budget: rounding the
        # front's constants takes the rest (its refits stop at the end).
        deadline = None
        if self.max_time is not None:
            deadline = start + _SEARCH_SHARE * self.max_time
        # The search works on unit-scale numbers: X / x_scale and y / target.scale,
        # both exact (powers of two).
        x_scale = _feature_scales(X)
        Xf = np.asarray(X, dtype=np.float64) / x_scale
        target = _scale_target(y, X.dtype, sample_weight)
        yf, sst = target.y, target.sst
        # The centred target as least squares sees it (rows times sqrt(w)).
        yc = yf - target.mean
        if target.sqrt_w is not None:
            yc = yc * target.sqrt_w
        # Round-off is as exact as it gets: the search stops there at the latest.
        tol = max(self.tol, target.loss_floor)

        pool, small = self._enumerate(
            Xf, target, operators, feature_dims, x_scale, start
        )
        front = _search.Front()
        objective = _search.Objective(
            self.max_terms, self.max_complexity, self.parsimony, target.loss_floor, tol
        )
        # max |yf| is 0 or in [1, 2): a spread below 1e-12 of it is round-off.
        if sst <= (1e-12 * np.max(np.abs(yf))) ** 2 * target.n or len(pool) == 0:
            front.offer(1, 0.0, ())  # a constant target: the intercept is exact
            beam = [((), sst)]
        else:
            self._add_reduced_terms(
                pool,
                Xf,
                x_scale,
                target,
                objective,
                feature_dims,
                None if deadline is None else start + _REDUCED_SHARE * self.max_time,
            )
            beam = self._search_all(pool, yc, front, objective, deadline)
        if self.verbose:
            print(f"{'gen':>4} {'best nmse':>11} {'front':>6} {'terms':>8} {'time':>7}")
            self._report(0, front, pool, start)

        optimised = set()
        tune = dict(
            X=Xf,
            y=yf,
            sqrt_w=target.sqrt_w,
            feature_dims=feature_dims,
            optimised=optimised,
            deadline=deadline,
        )
        if len(pool) and self._tune_constants(front, beam, pool, **tune):
            beam = _search.beam_select(
                pool, yc, front, objective, _search.WIDE, deadline=deadline
            )
        n_iter = 0
        bred = set(pool.trees)
        for generation in range(1, self.generations + 1):
            if self._done(front, deadline, tol) or len(pool) == 0:
                break
            n_iter = generation
            # Genetic programming on the terms of the best formulas.
            parents = self._parents(front, beam, pool)
            children = self._breed(parents, small, operators, feature_dims, bred, rng)
            if children:
                pool.add(children, _search.evaluate_terms(children, Xf))
            beam = _search.beam_select(
                pool, yc, front, objective, _search.QUICK, deadline=deadline
            )
            if self._tune_constants(front, beam, pool, **tune):
                beam = _search.beam_select(
                    pool, yc, front, objective, _search.QUICK, deadline=deadline
                )
            if self.verbose:
                self._report(generation, front, pool, start)
        if n_iter and not self._done(front, deadline, tol):
            # A last, wide search over every term found.
            self._search_all(pool, yc, front, objective, deadline)

        formulas = front_formulas(
            front,
            pool,
            Xf,
            target,
            x_scale,
            self._user_symbols(x_scale),
            optimizer=self.constant_optimizer,
            deadline=None if deadline is None else start + self.max_time,
        )
        table, selected = front_table(formulas, target, self.parsimony)
        # Fitted state is plain Python and NumPy (no DataFrame, no sympy
        # object), so that skops can save it without trusting pandas' or
        # sympy's internals; pareto_front_ and sympy_expr_ are rebuilt from it.
        self._formulas = [tuple(formula._replace(expr=None)) for formula in formulas]
        self._front = table
        self.n_iter_ = n_iter
        self.n_terms_searched_ = len(pool)
        self.feature_units_ = feature_dims
        self._x_scale = x_scale
        self._y_scale = target.scale
        self._y_mean = target.mean
        self._bounds = _predict_bounds(target)
        self._set_selected(selected)
        return self

    def _enumerate(self, X, target, operators, feature_dims, x_scale, start):
        """The pool of enumerated terms, and the small subtrees for mutation.

        When ``y`` depends on pairs of features only through their
        difference (see :mod:`._symmetry`), the enumeration runs over the
        differences instead of the pairs, and its terms are then written in
        the original features: the same budget reaches terms two nodes
        larger per difference.
        """
        pool = _search.TermPool(X.shape[0], _POOL_ENTRIES, target.weights)
        if self.enumeration_size == "auto":
            max_size, max_subtrees = _AUTO_MAX_SIZE, _AUTO_SUBTREES
        else:
            max_size, max_subtrees = self.enumeration_size, np.inf
        max_size = min(max_size, max(self.max_complexity - 2, 1))
        deadline = None
        if self.max_time is not None:
            deadline = start + _ENUMERATION_SHARE * self.max_time

        def allowed(i, j):  # x_i - x_j in the search's units is x_i - x_j
            same = x_scale[i] == x_scale[j]
            return same and (feature_dims is None or feature_dims[i] == feature_dims[j])

        pairs = _symmetry.difference_pairs(X, target.y, target.weights, allowed)
        X_enum, leaves = _symmetry.reduced_features(X, pairs)
        dims = feature_dims
        if feature_dims is not None:
            dims = [dimension_of(leaf, feature_dims) for leaf in leaves]
        levels = _enumerate.enumerate_terms(
            X_enum,
            operators,
            max_size,
            pool,
            feature_dims=dims,
            deadline=deadline,
            max_subtrees=max_subtrees,
            max_terms=int((1 - _RESERVED) * pool.max_terms),
        )
        small = [e.tree for s in (1, 2, 3) for e in levels.get(s, [])]
        if pairs:
            pool.map_trees(lambda tree: _symmetry.substitute(tree, leaves))
            small = [_symmetry.substitute(tree, leaves) for tree in small]
        return pool, small

    def _breed(self, parents, small, operators, feature_dims, bred, rng):
        """``population_size`` mutations of the parents; the new ones join ``bred``."""
        children = []
        for _ in range(self.population_size):
            a = parents[rng.randint(len(parents))]
            b = parents[rng.randint(len(parents))]
            child = _mutate.mutate(a, b, small, operators, rng)
            if (
                child not in bred
                and size(child) + 2 <= self.max_complexity
                and (feature_dims is None or is_consistent(child, feature_dims))
            ):
                bred.add(child)
                children.append(child)
        return children

    @staticmethod
    def _add_reduced_terms(pool, X, x_scale, target, objective, feature_dims, deadline):
        """Add power laws, Lorentz factors, products of powers of two or
        three features, functions of one dimensionless group, and the terms
        of searches on transformed targets."""
        # The Lorentz factors first: there are none unless a feature is below
        # another on all the data, and their searches are quick.
        factors = _reduce.lorentz_factors(X, x_scale)
        factors += _reduce.power_factors(X, target.y, target.weights)
        limit = objective.max_complexity - 2
        groups = [
            t
            for t in _groups.group_terms(X, target.y, target.weights)
            if size(t) <= limit and t not in factors
        ]
        monomials = [t for t in _reduce.monomials(X.shape[1]) if size(t) <= limit]
        if feature_dims is not None:
            factors = [t for t in factors if is_consistent(t, feature_dims)]
            groups = [t for t in groups if is_consistent(t, feature_dims)]
            monomials = [t for t in monomials if is_consistent(t, feature_dims)]
        new = [*factors, *groups]
        if new:
            pool.add(new, _search.evaluate_terms(new, X))
        if monomials:  # half of the reserve is left to the later terms
            pool.add(
                monomials,
                _search.evaluate_terms(monomials, X),
                limit=int((1 - _RESERVED / 2) * pool.max_terms),
            )
        reduced = _reduce.reduced_terms(
            pool, X, target.y, target.weights, factors, objective, deadline
        )
        if feature_dims is not None:
            reduced = [t for t in reduced if is_consistent(t, feature_dims)]
        if reduced:
            pool.add(reduced, _search.evaluate_terms(reduced, X))

    def _search_all(self, pool, yc, front, objective, deadline):
        """Wide beam search over the pool, then over its algebraic terms.

        Smooth transcendental terms (exp, sin, cos) approximate polynomials so
        well that a greedy search on the whole pool picks them first and
        never reaches an exact polynomial; the second search, on the terms
        without exp, log, sin, cos and tanh, gives those a fair chance. Both
        feed the same front.
        """
        wide = _search.WIDE
        beam = _search.beam_select(pool, yc, front, objective, wide, deadline=deadline)
        algebraic = [i for i, t in enumerate(pool.trees) if _mutate.is_algebraic(t)]
        if 0 < len(algebraic) < len(pool):
            subset = np.array(algebraic)
            _search.beam_select(
                pool, yc, front, objective, wide, subset=subset, deadline=deadline
            )
        return beam

    def _done(self, front, deadline, tol):
        if deadline is not None and time.perf_counter() > deadline:
            return True
        entries = front.pareto()
        return bool(entries) and entries[-1][1] <= tol

    def _report(self, generation, front, pool, start):
        entries = front.pareto()
        best = entries[-1][1] if entries else np.nan
        print(
            f"{generation:>4} {best:>11.3e} {len(entries):>6} {len(pool):>8} "
            f"{time.perf_counter() - start:>6.1f}s",
            flush=True,
        )

    def _promising(self, front, beam, limit):
        """States of the beam and the front, best (penalised) first, distinct."""
        states = [state for state, _ in beam]
        states += [key for _, _, key in front.pareto()[::-1]]
        out = []
        for state in states:
            if state and state not in out:
                out.append(state)
            if len(out) >= limit:
                break
        return out

    def _tune_constants(
        self, front, beam, pool, *, X, y, sqrt_w, feature_dims, optimised, deadline
    ):
        """Tune the constants of promising formulas; add the tuned terms to the pool."""
        if self.constant_optimizer is None or _search.past(deadline):
            return 0
        jobs = self._constant_jobs(front, beam, pool, optimised)
        if not jobs:
            return 0
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_search.optimize_constants)(
                trees, X, y, self.constant_optimizer, sqrt_w
            )
            for trees in jobs
        )
        tuned = [t for trees, _ in results for t in trees]
        if feature_dims is not None:
            tuned = [t for t in tuned if is_consistent(t, feature_dims)]
        if not tuned:
            return 0
        return pool.add(tuned, _search.evaluate_terms(tuned, X))

    def _constant_jobs(self, front, beam, pool, optimised):
        """Formulas whose inner constants to tune: simplest front entries first."""
        states = [key for _, _, key in front.pareto() if key]
        states += [state for state, _ in beam if state]
        jobs = []
        for state in states:
            trees = [pool.trees[i] for i in state]
            variants = [trees]
            scaled = [_mutate.scale_variant(t) for t in trees]
            if scaled != trees:
                variants.append(scaled)
            for variant in variants:
                key = tuple(variant)
                if key in optimised or not any(constants(t) for t in variant):
                    continue
                optimised.add(key)
                jobs.append(variant)
            if len(jobs) >= _TUNED_PER_ROUND:
                break
        return jobs

    def _parents(self, front, beam, pool):
        parents = []
        for state in self._promising(front, beam, _PARENT_FORMULAS):
            parents.extend(pool.trees[i] for i in state)
        return parents or list(pool.trees[:_FALLBACK_PARENTS])

    # ------------------------------------------------------------- front

    def _user_symbols(self, x_scale):
        """The symbol of each feature, divided by its scale (as the search saw it)."""
        import sympy

        return [
            sympy.Symbol(name, real=True) / sympy.Rational(float(scale))
            for name, scale in zip(self._names(), x_scale, strict=True)
        ]

    def _set_selected(self, index):
        front = self._front
        self._selected = index
        self.expression_ = front["expression"][index]
        self.complexity_ = int(front["complexity"][index])
        self.loss_ = float(front["loss"][index])

    @property
    def pareto_front_(self):
        """The Pareto front as a DataFrame, built from the fitted state."""
        import sympy

        front = self._front
        table = pd.DataFrame(
            {
                "complexity": front["complexity"],
                "loss": front["loss"],
                "score": front["score"],
                "expression": front["expression"],
                "sympy": [sympy.sympify(text) for text in front["sympy"]],
            }
        )
        table["selected"] = np.arange(len(table)) == self._selected
        return table

    @property
    def sympy_expr_(self):
        """The selected formula as a sympy expression."""
        import sympy

        return sympy.sympify(self._front["sympy"][self._selected])

    # ------------------------------------------------------------ results

    def select(self, complexity):
        """Use the front's formula of this complexity for :meth:`predict`.

        Parameters
        ----------
        complexity : int
            A value of ``pareto_front_["complexity"]``; when it is absent, the
            most complex formula below it is used.

        Returns
        -------
        self : SymbolicRegressor
            With ``expression_``, ``sympy_expr_``, ``complexity_`` and
            ``loss_`` updated.

        Examples
        --------
        >>> import numpy as np
        >>> from mathlearn.symbolic import SymbolicRegressor
        >>> X = np.linspace(0, 1, 20)[:, None]
        >>> reg = SymbolicRegressor(generations=0).fit(X, np.exp(X[:, 0]))
        >>> reg.select(complexity=3).expression_
        '...x0...'
        """
        check_is_fitted(self)
        values = self._front["complexity"]
        if not isinstance(complexity, Integral) or complexity < values.min():
            raise ValueError(
                f"complexity={complexity!r} must be an int >= {values.min()}, the "
                f"smallest on the front; the front has {values.tolist()}"
            )
        index = int(np.flatnonzero(values <= complexity)[-1])
        self._set_selected(index)
        return self

    def sympy(self):
        """The selected formula as a sympy expression.

        Returns
        -------
        expr : sympy.Expr
            Symbols are named after the features (``x0, x1, ...`` or the
            DataFrame's column names).

        Examples
        --------
        >>> import numpy as np
        >>> from mathlearn.symbolic import SymbolicRegressor
        >>> X = np.linspace(0.1, 2, 20)[:, None]
        >>> SymbolicRegressor(generations=0).fit(X, 2 * np.sqrt(X[:, 0])).sympy()
        2*sqrt(x0)
        """
        check_is_fitted(self)
        return self.sympy_expr_

    def predict(self, X):
        """Evaluate the selected formula.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted values, of the dtype of ``X`` (float32 or float64; the
            formula is evaluated in float64 and the result rounded), and
            always finite for finite ``X``: clipped to the largest magnitude
            of that dtype (see Notes of the class).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        formula = Formula(*self._formulas[self._selected])
        # The formula is in the search's units (see fit); the bounds keep
        # y * _y_scale finite.
        Xf = np.asarray(X, dtype=np.float64) / self._x_scale
        G = _search.evaluate_terms(formula.trees, Xf)
        with np.errstate(all="ignore"):
            y = formula.intercept + (
                formula.coef @ G if len(G) else np.zeros(Xf.shape[0])
            )
        y = np.where(np.isnan(y), self._y_mean, y)
        y = np.clip(y, *self._bounds) * self._y_scale
        # The output follows X's floating dtype (scikit-learn's convention),
        # within its range: float32 cannot hold every float64 target.
        largest = float(np.finfo(X.dtype).max)
        return np.clip(y, -largest, largest).astype(X.dtype, copy=False)

    @deprecated(
        "SymbolicRegressor.fit_two_stage was deprecated in 0.2 and will be "
        "removed in 0.3; use mathlearn.symbolic.fit_two_stage(estimator, X, y, "
        "parameter) instead."
    )
    def fit_two_stage(self, X, y, parameter):
        """The two-stage fit of a family of curves ``y = f(X; a)``.

        Deprecated: use :func:`~mathlearn.symbolic.fit_two_stage`, which
        leaves this estimator unfitted and returns the fitted reference
        estimator with the result.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The curve variables (without ``a``).
        y : array-like of shape (n_samples,)
            Target values.
        parameter : array-like of shape (n_samples,)
            The value of ``a`` of each sample; at least 3 distinct values.

        Returns
        -------
        result : dict
            The keys of :func:`~mathlearn.symbolic.fit_two_stage`'s result
            but ``"estimator"``: this estimator is left fitted on the
            reference curve instead.
        """
        from mathlearn.symbolic._two_stage import fit_two_stage

        result = dict(fit_two_stage(self, X, y, parameter))
        vars(self).update(vars(result.pop("estimator")))
        return result

    def plot_pareto_front(self, ax=None):
        """Plot the loss of each front formula against its complexity.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; ``None`` creates a figure.

        Returns
        -------
        ax : matplotlib Axes
            The axes, with a log-scaled loss and the selected formula marked.
        """
        check_is_fitted(self)
        plt = import_matplotlib_pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        front = self.pareto_front_
        floor = max(front["loss"].max(), 1e-300) * 1e-16
        loss = np.maximum(front["loss"].to_numpy(), floor)
        ax.step(front["complexity"], loss, where="post", color="0.6", zorder=1)
        ax.scatter(front["complexity"], loss, zorder=2, label="Pareto front")
        k = self._selected
        ax.scatter(
            [front["complexity"].iloc[k]],
            [loss[k]],
            s=160,
            facecolors="none",
            edgecolors="C3",
            linewidths=2,
            zorder=3,
            label=f"selected: {front['expression'].iloc[k]}",
        )
        ax.set_yscale("log")
        ax.set_xlabel("complexity (nodes + coefficients)")
        ax.set_ylabel("training MSE")
        ax.legend(loc="upper right", fontsize=8)
        return ax
