"""The search behind :class:`SymbolicRegressor`.

A candidate formula is ``c0 + c1 g1(x) + ... + ck gk(x)``: a sum of *basis
terms* ``g_i`` (expression trees) whose linear coefficients are solved exactly
by least squares. The pieces (1 and 3 live in ``_enumerate`` and ``_mutate``):

1. ``_enumerate.enumerate_terms`` lists every small tree over the
   operators, bottom-up by size, keeping one tree per distinct vector of values on the
   training data (observational equivalence), dropping non-finite and
   constant ones, and one term per distinct *affine* class (``g`` and
   ``a g + b`` are the same basis term).
2. :func:`beam_select` chooses subsets of terms: a beam search of orthogonal
   matching pursuit steps (the gain of adding a term is computed for the whole
   pool at once) with swap moves, ranked by a penalised loss. It records the
   best formula found at each complexity: the Pareto front.
3. ``_mutate.mutate`` / crossover grow deeper terms from the terms of good
   formulas (genetic programming on the basis terms).
4. :func:`optimize_constants` tunes the numeric constants inside the terms of
   promising formulas with ``scipy.optimize`` (variable projection: the
   linear coefficients are re-solved for every trial of the constants).
"""

import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.optimize import least_squares, minimize

from mathlearn.symbolic._expr import (
    constants,
    evaluate,
    size,
    with_constants,
)

#: Values larger than this (in absolute value) make a term unusable.
_MAX_ABS = 1e12
#: Normalised squared error treated as exact in float64 (see loss_floor in
#: ``SymbolicRegressor._fit``, which raises it for coarser data).
LOSS_FLOOR = 1e-15


#: Rows :meth:`TermPool.add` normalises at a time.
_ADD_BLOCK = 2048
#: Fingerprints of normalised terms in the pool keep this many bits (about 8
#: digits): terms equal up to ``a g + b`` to that precision are one basis term,
#: coarser than the enumeration's fingerprints (``_enumerate._VALUE_BITS``)
#: because the normalisation itself rounds.
_AFFINE_BITS = 26


def past(deadline):
    """Whether the wall-clock ``deadline`` (``time.perf_counter``) has passed."""
    return deadline is not None and time.perf_counter() > deadline


def _keys(V, bits):
    """One hashable fingerprint per row of ``V``: values rounded to ``bits`` bits."""
    mantissa, exponent = np.frexp(V)
    rounded = np.ldexp(np.round(mantissa * 2.0**bits), exponent)
    rounded[rounded == 0] = 0.0  # merge -0.0 and 0.0
    return [row.tobytes() for row in rounded]


def _normalise(V, weights=None):
    """Centre rows and scale them to unit norm; also return which rows are usable.

    With ``weights``, rows are centred by their weighted mean and multiplied
    by ``sqrt(weights)``: least squares on the normalised rows is then
    weighted least squares on ``V``.
    """
    if weights is None:
        centred = V - V.mean(axis=1, keepdims=True)
    else:
        centred = (V - (V @ weights / weights.sum())[:, None]) * np.sqrt(weights)
    norm = np.sqrt((centred * centred).sum(axis=1))
    scale = np.abs(V).max(axis=1)
    ok = np.isfinite(norm) & (norm > 1e-9 * np.maximum(scale, 1e-300))
    ok &= scale < _MAX_ABS
    Z = np.zeros_like(V)
    Z[ok] = centred[ok] / norm[ok, None]
    # A fixed sign, so that g and -g share a fingerprint.
    pivot = np.abs(Z).argmax(axis=1)
    sign = np.sign(Z[np.arange(len(Z)), pivot])
    sign[sign == 0] = 1.0
    return Z * sign[:, None], ok


class TermPool:
    """The basis terms: trees, raw values and normalised values (one row each).

    ``weights`` (the sample weights, or None) set the normalisation (see
    :func:`_normalise`).
    """

    def __init__(self, n_samples, max_entries, weights=None):
        self.weights = weights
        self.trees = []
        self.sizes = []
        self._values = np.empty((256, n_samples))
        self._Z = np.empty((256, n_samples))
        self._affine_keys = {}  # affine class -> index of its term
        self.max_terms = max(64, int(max_entries // max(n_samples, 1)))

    def __len__(self):
        return len(self.trees)

    @property
    def values(self):
        return self._values[: len(self.trees)]

    @property
    def Z(self):
        return self._Z[: len(self.trees)]

    def full(self, limit=None):
        """Whether the pool holds ``max_terms`` terms (or ``limit``, if smaller)."""
        cap = self.max_terms if limit is None else min(limit, self.max_terms)
        return len(self.trees) >= cap

    def map_trees(self, func):
        """Replace each tree by ``func(tree)``, a tree of the same values."""
        self.trees = [func(tree) for tree in self.trees]
        self.sizes = [size(tree) for tree in self.trees]

    def add(self, trees, V, deadline=None, limit=None):
        """Add the rows of ``V`` (values of ``trees``) that are new affine classes.

        A tree smaller than the one already holding its class replaces it:
        a class keeps its simplest known tree whatever the order in which
        trees arrive (a transformed search can find a long, numerically
        equal form before the short one). Rows are taken in blocks of
        :data:`_ADD_BLOCK`, and no block is started after the ``deadline``
        (an enumeration level can hold tens of thousands of rows). No new
        class is added beyond ``limit`` terms (if given). Returns the number
        of new classes.
        """
        added = 0
        for start in range(0, len(trees), _ADD_BLOCK):
            if start and past(deadline):
                break
            stop = start + _ADD_BLOCK
            added += self._add_block(trees[start:stop], V[start:stop], limit)
        return added

    def _add_block(self, trees, V, limit):
        if len(trees) == 0:
            return 0
        with np.errstate(all="ignore"):
            finite = np.isfinite(V).all(axis=1)
            Z, ok = _normalise(np.where(finite[:, None], V, 0.0), self.weights)
        ok &= finite
        added = 0
        index = np.flatnonzero(ok)
        if index.size == 0:
            return 0
        keys = _keys(Z[index], _AFFINE_BITS)
        for i, key in zip(index, keys, strict=True):
            held = self._affine_keys.get(key)
            if held is not None:
                tree_size = size(trees[i])
                if tree_size < self.sizes[held]:
                    self._values[held], self._Z[held] = V[i], Z[i]
                    self.trees[held], self.sizes[held] = trees[i], tree_size
                continue
            if self.full(limit):
                continue
            n = len(self.trees)
            self._affine_keys[key] = n
            if n == self._values.shape[0]:
                grow = max(256, n)
                self._values = np.vstack(
                    [self._values, np.empty_like(self._values[:grow])]
                )
                self._Z = np.vstack([self._Z, np.empty_like(self._Z[:grow])])
            self._values[n] = V[i]
            self._Z[n] = Z[i]
            self.trees.append(trees[i])
            self.sizes.append(size(trees[i]))
            added += 1
        return added


def complexity_of(sizes):
    """Complexity of ``c0 + sum c_i g_i``: nodes of the terms + one per coefficient."""
    return int(sum(sizes)) + len(sizes) + 1


class Front:
    """Best (lowest loss) subset of terms at each complexity."""

    def __init__(self):
        self.best = {}

    def offer(self, complexity, loss, key):
        old = self.best.get(complexity)
        if old is None or loss < old[0]:
            self.best[complexity] = (loss, key)

    def pareto(self):
        """Entries ``(complexity, loss, key)`` whose loss beats every simpler one."""
        out = []
        best_loss = np.inf
        for complexity in sorted(self.best):
            loss, key = self.best[complexity]
            if loss < best_loss * (1 - 1e-9):
                out.append((complexity, loss, key))
                best_loss = loss
        return out


def _state_basis(Z, state):
    """Orthonormal basis (n_samples, k) of the span of the terms in ``state``."""
    if not state:
        return np.zeros((Z.shape[1], 0))
    Q, R = np.linalg.qr(Z[list(state)].T)
    keep = np.abs(np.diag(R)) > 1e-10
    return Q[:, keep]


def _gains(Z, Q, r):
    """Drop in squared error when each pool term is added to a basis ``Q``."""
    # (A.T @ Z.T).T is several times faster than Z @ A for a tall, narrow Z.
    P = (np.column_stack([r, Q]).T @ Z.T).T
    num = P[:, 0] ** 2
    den = 1.0 - (P[:, 1:] ** 2).sum(axis=1)
    gains = np.where(den > 1e-8, num / np.maximum(den, 1e-300), 0.0)
    return gains


def pair_candidates(
    Z,
    y_centred,
    sizes,
    max_complexity,
    *,
    budget=2e9,
    max_entries=4e7,
    chunk=256,
    deadline=None,
):
    """The best partner of each of the top single terms: exact two-term search.

    For the ``K`` terms with the largest single-term gain (``K`` chosen so
    that the work ``K * n_terms * n_samples`` stays under ``budget`` and
    ``K * n_terms`` under ``max_entries``), the
    drop in squared error from adding any second term ``j`` to term ``i`` is
    ``(a_j - b_i G_ji)^2 / (1 - G_ji^2)`` with ``a = Z y``, ``b = Z_K y`` and
    ``G = Z Z_K^T`` (unit-norm, centred rows): one matrix product per chunk.
    Returns ``[(state, sse), ...]`` with one state per top term, of the
    chunks of ``chunk`` top terms started before the ``deadline``.
    """
    m, n = Z.shape
    a = Z @ y_centred
    sst = float(y_centred @ y_centred)
    n_top = int(min(m, max(16, budget // max(m * n, 1), 0), max_entries // max(m, 1)))
    n_top = max(n_top, min(m, 16))
    top = np.argsort(-(a * a), kind="stable")[:n_top]
    out = []
    for start in range(0, top.size, chunk):
        if past(deadline):
            break
        idx = top[start : start + chunk]
        G = (Z[idx] @ Z.T).T  # (m, len(idx))
        b = a[idx]
        num = (a[:, None] - G * b[None, :]) ** 2
        den = 1.0 - G * G
        gains = np.where(den > 1e-8, num / np.maximum(den, 1e-300), 0.0)
        too_big = sizes[:, None] + sizes[idx][None, :] + 3 > max_complexity
        gains[too_big] = -1.0
        gains[idx, np.arange(idx.size)] = -1.0
        best = gains.argmax(axis=0)
        for k, i in enumerate(idx):
            j = int(best[k])
            if gains[j, k] <= 0:
                continue
            sse = max(sst - b[k] ** 2 - gains[j, k], 0.0)
            out.append((tuple(sorted((int(i), j))), sse))
    return out


class Objective(NamedTuple):
    """What the beam search optimises: the problem, not the effort."""

    max_terms: int  # basis terms at most, besides the intercept
    max_complexity: int  # nodes of the terms + one per coefficient, at most
    parsimony: float  # price of one unit of complexity in log(nmse)
    loss_floor: float  # a normalised loss below it is round-off (exact)
    tol: float  # stop once the best normalised loss is at most this


@dataclass(frozen=True)
class BeamConfig:
    """How hard the beam search looks (see :func:`beam_select`)."""

    beam_width: int  # states kept per step, by penalised loss
    per_size: int  # best extensions kept per term size
    per_complexity: int  # states kept per complexity besides the beam
    pair_budget: float  # flops of the exact two-term search (0: none)
    swap_rounds: int = 2  # rounds of swap moves on the best states


#: The wide search over the whole pool (after enumeration, and at the end).
WIDE = BeamConfig(beam_width=16, per_size=3, per_complexity=3, pair_budget=2e9)
#: The search after each generation.
QUICK = BeamConfig(beam_width=8, per_size=2, per_complexity=1, pair_budget=0)
#: The searches on transformed targets (see ``_reduce``), which look for a
#: few terms each and run a dozen times.
NARROW = BeamConfig(beam_width=4, per_size=2, per_complexity=1, pair_budget=0)
#: The weighted searches on transformed targets, over a few thousand terms:
#: there an exact two-term search is cheap, and noise misleads the greedy
#: steps (``(x + y)^2`` first, where ``x^2 + y^2`` is the law).
NARROW_PAIRS = BeamConfig(beam_width=4, per_size=2, per_complexity=1, pair_budget=2e8)


def penalised(nmse, complexity, parsimony, loss_floor):
    """The ranking objective ``log(max(nmse, loss_floor)) + parsimony * complexity``."""
    return np.log(np.maximum(nmse, loss_floor)) + parsimony * complexity


def beam_select(
    pool, y_centred, front, objective, config, *, subset=None, deadline=None
):
    """Beam search over subsets of pool terms; fills ``front`` and returns the beam.

    Every state is a sorted tuple of pool indices. A step expands a state by
    the terms with the largest gain in each term size (so that short terms are
    not crowded out by long ones that fit a little better), keeps the
    ``beam_width`` best children by the penalised loss, and polishes them by
    swap moves (remove one term, add the best replacement). A normalised loss
    below ``loss_floor`` (round-off) counts as ``loss_floor``, so among exact
    formulas the simplest ranks first. ``objective`` is an :class:`Objective`,
    ``config`` a :class:`BeamConfig`; ``subset`` restricts the search to some
    rows of the pool. Returns the last beam, ``[(state, sse), ...]``.
    """
    Z = pool.Z if subset is None else pool.Z[subset]
    sizes = np.asarray(pool.sizes)
    if subset is not None:
        sizes = sizes[subset]
        front = _SubsetFront(front, subset)
    sst = float(y_centred @ y_centred)
    if sst <= 0:
        front.offer(1, 0.0, ())
        return [()]
    front.offer(1, 1.0, ())
    search = _BeamSearch(Z, y_centred, sizes, sst, objective, config, front, deadline)
    best_beam = search.run()
    if subset is not None:
        best_beam = [(front.key(state), sse) for state, sse in best_beam]
    return best_beam


class _BeamSearch:
    """The state of one :func:`beam_select` run over the rows ``Z`` of a pool.

    Each step of a depth (a state's extensions, a chunk of the exact pairs, a
    swap move) costs a product with the whole pool, seconds on a large one:
    none is started after the ``deadline``, except the first extension of
    the first depth (the single terms).
    """

    def __init__(self, Z, y_centred, sizes, sst, objective, config, front, deadline):
        self.Z, self.y, self.sizes, self.sst = Z, y_centred, sizes, sst
        self.objective, self.config, self.front = objective, config, front
        self.deadline = deadline
        self.groups = [np.flatnonzero(sizes == s) for s in np.unique(sizes)]
        self.seen = {()}

    def complexity(self, state):
        return complexity_of(self.sizes[list(state)])

    def score(self, state, sse):
        """The penalised loss of ``state`` (lower is better)."""
        objective = self.objective
        return penalised(
            sse / self.sst,
            self.complexity(state),
            objective.parsimony,
            objective.loss_floor,
        )

    def exact_sse(self, state):
        if not state:
            return self.sst
        Q = _state_basis(self.Z, state)
        r = self.y - Q @ (Q.T @ self.y)
        return float(r @ r)

    def children(self, state, sse):
        """``[(child, sse), ...]``: the best one-term extensions per term size."""
        Q = _state_basis(self.Z, state)
        r = self.y - Q @ (Q.T @ self.y)
        gains = _gains(self.Z, Q, r)
        if state:
            gains[list(state)] = -1.0
        base = self.complexity(state) if state else 1
        allowed = base + self.sizes + 1 <= self.objective.max_complexity
        gains = np.where(allowed, gains, -1.0)
        per_size = self.config.per_size
        out = []
        for idx in self.groups:
            g = gains[idx]
            if idx.size > per_size:
                part = np.argpartition(-g, per_size - 1)[:per_size]
                top = idx[part[np.argsort(-g[part], kind="stable")]]
            else:
                top = idx[np.argsort(-g, kind="stable")]
            out.extend(
                (tuple(sorted((*state, int(i)))), max(sse - gains[i], 0.0))
                for i in top
                if gains[i] > 0
            )
        return out

    def candidates(self, beam, depth):
        """The unseen children of the beam, with the exact pairs at depth 1."""
        candidates = {}
        if depth == 1 and self.config.pair_budget:
            pairs = pair_candidates(
                self.Z,
                self.y,
                self.sizes,
                self.objective.max_complexity,
                budget=self.config.pair_budget,
                deadline=self.deadline,
            )
            candidates.update(pairs)
        for k, (state, sse) in enumerate(beam):
            if k and past(self.deadline):
                break
            for child, child_sse in self.children(state, sse):
                if child in self.seen:
                    continue
                if child not in candidates or child_sse < candidates[child]:
                    candidates[child] = child_sse
        return candidates

    def choose(self, ranked):
        """The best states overall and the best few at each complexity.

        Short partial formulas (x, x + x^2, ...) are then not crowded out by
        long terms that fit a little better at first.
        """
        by_complexity = {}
        chosen = []
        for state, _ in ranked:
            c = self.complexity(state)
            if (
                len(chosen) < self.config.beam_width
                or by_complexity.get(c, 0) < self.config.per_complexity
            ):
                by_complexity[c] = by_complexity.get(c, 0) + 1
                chosen.append(state)
        self.seen.update(chosen)
        return [(state, self.exact_sse(state)) for state in chosen]

    def swap(self, state, sse):
        """One round of swap moves: the first improving ``(state, sse)``, or None."""
        for pos in range(len(state)):
            if past(self.deadline):
                break
            rest = state[:pos] + state[pos + 1 :]
            improved = None
            for child, _ in self.children(rest, self.exact_sse(rest)):
                if child == state or child in self.seen:
                    continue
                self.seen.add(child)
                child_sse = self.exact_sse(child)
                self.front.offer(self.complexity(child), child_sse / self.sst, child)
                if self.score(child, child_sse) < self.score(state, sse) - 1e-12:
                    state, sse = child, child_sse
                    improved = (state, sse)
            if improved is not None:
                return improved
        return None

    def polish(self, state, sse):
        for _ in range(self.config.swap_rounds):
            improved = self.swap(state, sse)
            if improved is None:
                break
            state, sse = improved
        return state, sse

    def run(self):
        beam = [((), self.sst)]
        best_beam = []
        for depth in range(self.objective.max_terms):
            if depth and past(self.deadline):
                break  # the single terms are always tried: one matrix product
            candidates = self.candidates(beam, depth)
            if not candidates:
                break
            ranked = sorted(candidates.items(), key=lambda kv: (self.score(*kv), kv[0]))
            beam = self.choose(ranked)
            n_polished = max(2, self.config.beam_width // 4)
            beam = [self.polish(*entry) for entry in beam[:n_polished]] + beam[
                n_polished:
            ]
            # The gain formula is exact for a one-term extension, so the
            # losses of the ranked states are exact too.
            for state, sse in beam + ranked:
                self.front.offer(self.complexity(state), sse / self.sst, state)
            best_beam = beam
            if min(sse for _, sse in beam) / self.sst <= self.objective.tol:
                break
        return best_beam


class _SubsetFront:
    """A view of a :class:`Front` for a search over some rows of the pool."""

    def __init__(self, front, subset):
        self.front, self.subset = front, np.asarray(subset)

    def key(self, state):
        return tuple(sorted(int(self.subset[i]) for i in state))

    def offer(self, complexity, loss, state):
        self.front.offer(complexity, loss, self.key(state))


def fit_linear(G, y, sqrt_w=None):
    """Least-squares ``c0, c`` of ``y ~ c0 + G.T @ c`` (``G`` is (k, n_samples)).

    With ``sqrt_w``, the square roots of the sample weights, the rows are
    scaled by it (weighted least squares); the sum of squares returned is
    the weighted one.
    """
    A = (
        np.column_stack([np.ones(y.shape[0]), *G])
        if len(G)
        else np.ones((y.shape[0], 1))
    )
    if sqrt_w is not None:
        A, y = A * sqrt_w[:, None], y * sqrt_w
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = A @ coef - y
    return coef[0], coef[1:], float(resid @ resid)


def evaluate_terms(trees, X):
    """Values of each tree, shape (k, n_samples), under ``np.errstate``."""
    if not trees:
        return np.zeros((0, X.shape[0]))
    cache = {}
    with np.errstate(all="ignore"):
        return np.array([evaluate(t, X, cache) for t in trees])


def optimize_constants(trees, X, y, method, sqrt_w=None, free=None):
    """Tune the constant leaves of ``trees`` (variable projection).

    The linear coefficients are re-solved by least squares for each trial of
    the constants, so the optimiser only sees the non-linear ones. ``method``
    is ``"least_squares"`` (Levenberg-Marquardt, or trust-region reflective
    when there are more constants than samples) or ``"lbfgs"``.

    With ``sqrt_w`` (square roots of the sample weights) the residuals are
    weighted. ``free`` (booleans, one per constant of the trees in
    depth-first order) marks the constants to tune; the others keep their
    values; None tunes them all. Returns ``(trees, sse)`` with the optimised
    constants, or the input trees when nothing improved.
    """
    counts = [len(constants(t)) for t in trees]
    values = np.array([c for t in trees for c in constants(t)], dtype=float)
    free = np.ones(values.size, dtype=bool) if free is None else np.asarray(free)
    theta0 = values[free]
    n = y.shape[0]
    if theta0.size == 0:
        return trees, fit_linear(evaluate_terms(trees, X), y, sqrt_w)[2]
    ones = np.ones(n) if sqrt_w is None else sqrt_w
    yw = y if sqrt_w is None else y * sqrt_w

    def rebuild(theta):
        full = values.copy()
        full[free] = theta
        out, k = [], 0
        for t, c in zip(trees, counts, strict=True):
            out.append(with_constants(t, full[k : k + c]))
            k += c
        return out

    penalty = np.sqrt(np.sum(yw * yw) + 1.0) * 1e3

    def residual(theta):
        G = evaluate_terms(rebuild(theta), X)
        if not np.isfinite(G).all() or (np.abs(G) > _MAX_ABS).any():
            return np.full(n, penalty)
        A = np.column_stack([ones, *G] if sqrt_w is None else [ones, *(G * ones)])
        coef, *_ = np.linalg.lstsq(A, yw, rcond=None)
        return A @ coef - yw

    def half_sse(theta):
        r = residual(theta)  # one evaluation of the terms per call
        return 0.5 * float(r @ r)

    start = residual(theta0)
    sse0 = float(start @ start)
    try:
        if method == "lbfgs":
            result = minimize(
                half_sse,
                theta0,
                method="L-BFGS-B",
                options={"maxiter": 200},
            )
            theta = result.x
        else:
            result = least_squares(
                residual,
                theta0,
                method="lm" if n >= theta0.size else "trf",
                max_nfev=100 * (theta0.size + 1),
            )
            theta = result.x
    except (ValueError, np.linalg.LinAlgError):  # pragma: no cover - defensive
        return trees, sse0
    final = residual(theta)
    sse = float(final @ final)
    if not np.isfinite(sse) or sse >= sse0:
        return trees, sse0
    return rebuild(theta), sse


# ---------------------------------------------------------------- mutation
