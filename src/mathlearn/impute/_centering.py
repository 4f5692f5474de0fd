"""Row and column effects (and scales) fitted on the observed entries only.

The model is ``x_ij = mean + a_i + b_j + s_i t_j e_ij``: a global mean, a row
effect ``a_i`` and a column effect ``b_j``, and, for the bi-scaler option of
Hastie, Mazumder, Lee & Zadeh (2015), a row scale ``s_i`` and a column scale
``t_j`` (all ones otherwise). The effects are fitted by alternating weighted
means over the observed entries, a few sweeps, optionally shrunk towards 0
by a ridge penalty counted in pseudo-entries (``sum / (count + penalty)``),
the penalty of each kind of effect estimated from the data (empirical Bayes,
see :func:`effect_penalty`): a row or column seen a few times gets an effect
near 0 instead of the mean of its few noisy entries. Every sweep ends with the row
updates, so the row parameters of a training row are exactly what
:func:`fold_in_rows` computes for it from the fitted column parameters: a row
seen at ``transform`` time is treated like a training row.
"""

from typing import NamedTuple

import numpy as np

CENTER_OPTIONS = {"both", "rows", "columns", "global"}


def fits_rows(center):
    """Whether the centring ``center`` has row effects."""
    return center in ("both", "rows")


def fits_columns(center):
    """Whether the centring ``center`` has column effects."""
    return center in ("both", "columns")


class Observed(NamedTuple):
    """Observed entries of an ``(n_rows, n_cols)`` matrix, in row-major order."""

    rows: np.ndarray  # (n_observed,) integer (int32 from sparse input)
    cols: np.ndarray  # (n_observed,) integer
    vals: np.ndarray  # (n_observed,) float64
    shape: tuple


class Centering(NamedTuple):
    """Fitted effects; ``prior`` regularises the scale of a sparse row."""

    mean: float
    row_effects: np.ndarray  # (n_rows,)
    column_effects: np.ndarray  # (n_cols,)
    row_scales: np.ndarray  # (n_rows,)
    column_scales: np.ndarray  # (n_cols,)
    prior: float  # pseudo-observation of the squared row scale
    row_penalty: float = 0.0  # pseudo-entries shrinking each row effect to 0
    column_penalty: float = 0.0  # same for the column effects


# An effect's penalty is at most this many times the noise variance over the
# variance of the effects it is estimated to have: where the effects carry
# no detectable variance, they are shrunk to 0 without an infinite penalty.
_MAX_PENALTY_RATIO = 1e12


def _weighted(values, weights):
    """``values * weights``; ``values`` itself for unit weights (``None``)."""
    return values if weights is None else values * weights


def _weighted_mean(index, values, weights, size, penalty=0.0):
    """Per-group weighted mean, shrunk by ``penalty`` pseudo-entries of 0.

    0 for a group with no entry. ``weights`` None means unit weights.
    """
    num = np.bincount(index, weights=_weighted(values, weights), minlength=size)
    count = np.bincount(index, weights=weights, minlength=size)
    return shrunk_means(count, num, penalty)


def effect_penalty(index, values, weights, size):
    """Empirical-Bayes ridge penalty of per-group effects, in pseudo-entries.

    With ``values = effect_g + noise`` (noise variance ``sigma^2`` per unit
    weight) and effects of variance ``tau^2`` around 0, the posterior mean of
    an effect is ``sum / (count + sigma^2 / tau^2)``. ``sigma^2`` is the
    pooled within-group variance and ``tau^2`` the method-of-moments
    estimate ``mean_g(m_g^2 - sigma^2 / n_g)`` from the group means ``m_g``
    (as in James-Stein shrinkage); ``O(len(values))``. ``weights`` None
    means unit weights.
    """
    return penalty_of_groups(*group_moments(index, values, weights, size))


class GroupMoments(NamedTuple):
    """Per-group weight and weighted sum of values, and the squared deviations."""

    count: np.ndarray  # (n_groups,) summed weights
    total: np.ndarray  # (n_groups,) weighted sums
    squares: float  # weighted squared deviations from the group means, summed
    n_entries: int


def group_moments(index, values, weights, size):
    """:class:`GroupMoments` of ``values`` grouped by ``index``.

    Those of disjoint sets of groups (blocks of rows or of columns) are
    combined by concatenating the per-group arrays and summing the rest.
    """
    count = np.bincount(index, weights=weights, minlength=size)
    total = np.bincount(index, weights=_weighted(values, weights), minlength=size)
    mean = total / np.where(count > 0, count, 1.0)
    deviation = values - mean[index]
    squares = float(np.sum(_weighted(deviation**2, weights)))
    return GroupMoments(count, total, squares, int(index.shape[0]))


def penalty_of_groups(count, total, squares, n_entries):
    """:func:`effect_penalty` from the groups' :class:`GroupMoments`."""
    seen = count > 0
    n_groups = int(seen.sum())
    if n_groups == 0 or n_entries <= n_groups:
        return 0.0
    means = total[seen] / count[seen]
    sigma2 = squares / (n_entries - n_groups)
    if sigma2 <= 0:
        return 0.0
    tau2 = float(np.mean(means**2 - sigma2 / count[seen]))
    return sigma2 / max(tau2, sigma2 / _MAX_PENALTY_RATIO)


def shrunk_means(count, total, penalty):
    """``total / (count + penalty)`` per group, 0 for a group with no entry."""
    den = count + penalty
    return np.divide(total, den, out=np.zeros(total.shape[0]), where=den > 0)


def _row_scales(index, residual_sq, weights, size, prior):
    """Squared scale per group, shrunk toward ``prior`` by one pseudo-entry."""
    num = np.bincount(index, weights=residual_sq * weights, minlength=size)
    count = np.bincount(index, minlength=size)
    return np.sqrt((num + prior) / (count + 1.0))


def value_spread(vals):
    """Standard deviation of ``vals`` (1 when it is 0 or there are none)."""
    spread = float(np.std(vals)) if vals.size else 1.0
    return spread if spread > 0 else 1.0


def _sweep(obs, c, *, fit_rows, fit_cols, scale, shrink):
    """One sweep: the column parameters given the rows', then the rows'.

    With ``shrink``, each kind's penalty is re-estimated before its effects.
    """
    rows, cols, vals = obs.rows, obs.cols, obs.vals
    n_rows, n_cols = obs.shape
    a, b, s, t = c.row_effects, c.column_effects, c.row_scales, c.column_scales
    row_penalty, column_penalty = c.row_penalty, c.column_penalty
    # Without scales every weight is 1: None spares a pass over the entries.
    w_row = 1.0 / s[rows] ** 2 if scale else None
    if fit_cols:
        target = vals - c.mean - a[rows]
        if shrink:
            column_penalty = effect_penalty(cols, target, w_row, n_cols)
        b = _weighted_mean(cols, target, w_row, n_cols, column_penalty)
    if scale:
        residual = vals - c.mean - a[rows] - b[cols]
        t = _row_scales(cols, residual**2, w_row, n_cols, 1.0)
    w_col = 1.0 / t[cols] ** 2 if scale else None
    if fit_rows:
        target = vals - c.mean - b[cols]
        if shrink:
            row_penalty = effect_penalty(rows, target, w_col, n_rows)
        a = _weighted_mean(rows, target, w_col, n_rows, row_penalty)
    if scale:
        residual = vals - c.mean - a[rows] - b[cols]
        s = _row_scales(rows, residual**2, w_col, n_rows, c.prior)
    return c._replace(
        row_effects=a,
        column_effects=b,
        row_scales=s,
        column_scales=t,
        row_penalty=row_penalty,
        column_penalty=column_penalty,
    )


def _sweep_change(old, new, spread):
    """Largest change of an effect (relative to ``spread``) or of a row scale."""
    return max(
        np.max(np.abs(new.row_effects - old.row_effects), initial=0.0) / spread,
        np.max(np.abs(new.column_effects - old.column_effects), initial=0.0) / spread,
        np.max(np.abs(new.row_scales - old.row_scales) / old.row_scales, initial=0.0),
    )


def _scale_prior(residual):
    """Mean squared residual: the prior of the squared row scales (1 if 0)."""
    prior = float(np.mean(residual**2)) if residual.size else 1.0
    return prior if prior > 0 else 1.0


def start_centering(shape, mean, prior, start, penalty):
    """The :class:`Centering` the sweeps start from (unit scales)."""
    n_rows, n_cols = shape
    a, b = np.zeros(n_rows), np.zeros(n_cols)
    row_penalty = column_penalty = 0.0
    if start is not None:
        a, b = start.row_effects, start.column_effects
        row_penalty, column_penalty = start.row_penalty, start.column_penalty
    if penalty is not None and penalty != "auto":
        row_penalty = column_penalty = float(penalty)
    return Centering(
        mean, a, b, np.ones(n_rows), np.ones(n_cols), prior, row_penalty, column_penalty
    )


def fit_centering(
    obs, *, center, scale, penalty=None, max_iter=20, tol=1e-7, start=None
):
    """Fit the effects of ``obs`` by alternating weighted means.

    ``center`` is one of :data:`CENTER_OPTIONS` or ``None``; ``scale`` turns
    on the row and column scales. ``penalty`` shrinks the effects: a number
    of pseudo-entries for both kinds, ``"auto"`` to estimate each kind's at
    each sweep (:func:`effect_penalty`), or ``None`` to keep those of
    ``start`` (none without ``start``). The sweeps start from the
    effects of the :class:`Centering` ``start`` (default: zero effects, unit
    scales).
    """
    mean = float(obs.vals.mean()) if center is not None and obs.vals.size else 0.0
    prior = _scale_prior(obs.vals - mean) if scale else 1.0
    c = start_centering(obs.shape, mean, prior, start, penalty)
    fit_rows = fits_rows(center)
    fit_cols = fits_columns(center)

    def sweep(c):
        return _sweep(
            obs,
            c,
            fit_rows=fit_rows,
            fit_cols=fit_cols,
            scale=scale,
            shrink=penalty == "auto",
        )

    return sweep_until_settled(
        c,
        sweep,
        center=center,
        scale=scale,
        spread=value_spread(obs.vals),
        max_iter=max_iter,
        tol=tol,
    )


def sweep_until_settled(c, sweep, *, center, scale, spread, max_iter, tol):
    """Repeat ``sweep`` from the :class:`Centering` ``c`` until it settles.

    Until an effect moves by less than ``tol`` times ``spread`` and a scale
    by less than ``tol`` relative (at most ``max_iter`` sweeps); without
    scales, one kind of effect is fitted exactly in one sweep. Shared by the
    in-memory fit and the blocks of a dask array, whose ``sweep`` differ.
    """
    fit_rows = fits_rows(center)
    fit_cols = fits_columns(center)
    if not (fit_rows or fit_cols or scale):
        return c
    n_sweeps = max_iter if (scale or (fit_rows and fit_cols)) else 1
    for _ in range(n_sweeps):
        new = sweep(c)
        change = _sweep_change(c, new, spread)
        c = new
        if change < tol:
            break
    return c


def standardize(obs, centering):
    """Standardised residuals ``e_ij`` of the observed entries."""
    c = centering
    residual = obs.vals - c.mean - c.row_effects[obs.rows] - c.column_effects[obs.cols]
    return residual / (c.row_scales[obs.rows] * c.column_scales[obs.cols])


def fold_in_rows(obs, centering, *, center, scale):
    """Row effects and scales of new rows, given the fitted column parameters.

    Returns ``(row_effects, row_scales)``, computed exactly as the last
    half-sweep of :func:`fit_centering` computes them for a training row.
    """
    n_rows = obs.shape[0]
    c = centering
    t = c.column_scales
    w_col = 1.0 / t[obs.cols] ** 2 if scale else None
    if fits_rows(center):
        a = _weighted_mean(
            obs.rows,
            obs.vals - c.mean - c.column_effects[obs.cols],
            w_col,
            n_rows,
            c.row_penalty,
        )
    else:
        a = np.zeros(n_rows)
    if scale:
        residual = obs.vals - c.mean - a[obs.rows] - c.column_effects[obs.cols]
        s = _row_scales(obs.rows, residual**2, w_col, n_rows, c.prior)
    else:
        s = np.ones(n_rows)
    return a, s


def refit_effects(obs, centering, offset, *, center):
    """Effects of ``obs.vals - offset``, started from those of ``centering``.

    The block update of the effects given the low-rank part ``offset`` (its
    values at the observed entries, on the scale of ``X``) when the effects
    and the low-rank part are fitted jointly (never with scales): the
    (penalised) least-squares effects of :func:`fit_centering`, from the
    current ones, with their penalties.
    """
    shifted = obs._replace(vals=obs.vals - offset)
    new = fit_centering(shifted, center=center, scale=False, start=centering)
    return centering._replace(
        mean=new.mean, row_effects=new.row_effects, column_effects=new.column_effects
    )
