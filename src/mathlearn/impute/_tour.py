"""Tour section: completing the race-times matrix (athletes x hilly races).

The gallery example ``examples/impute/plot_race_times.py`` runs the same
comparison: it calls :func:`race_imputers`, :func:`fill`, :func:`rank_errors`,
:func:`plot_shrinkage_path` and :func:`plot_rank_errors`, so both show one
demo.
"""

import time
import warnings

import numpy as np

from mathlearn._tour import TourSection, plain_log_ticks, rmse_on_missing, save_figure
from mathlearn.utils._optional import import_matplotlib_pyplot


def race_imputers():
    """The imputers compared on the race speeds, unfitted, by name.

    ``SVDImputer(1, center=None)`` fits exactly the model the data follow:
    an athlete factor times a race factor, with no offsets.
    """
    from sklearn.impute import KNNImputer, SimpleImputer

    from mathlearn.impute import SVDImputer, TraceNormImputer

    return {
        "SimpleImputer (race mean)": SimpleImputer(),
        "KNNImputer (k=5)": KNNImputer(),
        "SVDImputer(n_components=1, center=None): u_i v_j": SVDImputer(
            n_components=1, center=None, random_state=0
        ),
        "SVDImputer(n_components=1) + row/column effects": SVDImputer(
            n_components=1, random_state=0
        ),
        "TraceNormImputer(alpha='auto')": TraceNormImputer(random_state=0),
    }


def fill(imputer, X):
    """``imputer.fit_transform(X)`` with its warnings silenced, and its seconds.

    The completers' convergence warnings are not what the comparison is
    about; KNNImputer's and SimpleImputer's are about nothing here.
    """
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X_filled = imputer.fit_transform(X)
    return X_filled, time.perf_counter() - start


def rank_errors(X, speed, ranks):
    """RMSE on the hidden speeds of ``SVDImputer(n_components, center=None)`` per rank.

    The data are rank 1 plus noise: the extra factors, fitted to noise, are
    so poorly determined that L-BFGS stops at ``max_iter`` (the
    ConvergenceWarning is silenced).
    """
    from sklearn.exceptions import ConvergenceWarning

    from mathlearn.impute import SVDImputer

    missing = np.isnan(X)
    errors = []
    for rank in ranks:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            imputer = SVDImputer(n_components=rank, center=None, random_state=0)
            errors.append(rmse_on_missing(imputer.fit_transform(X), speed, missing))
    return errors


def plot_shrinkage_path(ax, trace):
    """The held-out error along a fitted TraceNormImputer's shrinkage path.

    The error axis starts at zero, so that a difference in the fourth decimal
    does not look like a jump; the shrinkage axis is labelled 1, 2, 5 rather
    than in powers of ten.
    """
    ax.semilogx(trace.alphas_, trace.validation_errors_, "o-")
    ax.axvline(trace.alpha_, color="k", ls="--", label="chosen")
    plain_log_ticks(ax.xaxis)
    ax.set_ylim(0, None)
    ax.set_xlabel("alpha (the shrinkage lambda)")
    ax.set_ylabel("RMSE on held-out observed entries")
    ax.set_title("TraceNormImputer: shrinkage path")
    ax.legend()


def plot_rank_errors(ax, ranks, errors, missing_fraction):
    """:func:`rank_errors` against the rank, the error axis from zero."""
    ax.plot(ranks, errors, "o-", label="SVDImputer(n_components, center=None)")
    ax.set_xticks(ranks)
    ax.set_ylim(0, None)
    ax.set_xlabel("rank of SVDImputer(n_components, center=None)")
    ax.set_ylabel("RMSE on missing speeds")
    ax.set_title(f"Error against the rank ({missing_fraction:.0%} missing)")


def _spearman(a, b):
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def _run(out_dir):
    from mathlearn.datasets import make_race_speeds

    speed, X, ability = make_race_speeds(random_state=0)
    missing = np.isnan(X)
    lines = [
        f"Race speeds: {X.shape[0]} athletes x {X.shape[1]} hilly races, "
        f"{missing.mean():.0%} missing; speed = ability / difficulty x "
        "inverse-Gaussian noise: rank 1, an athlete factor u_i times a race "
        "factor v_j.",
        "RMSE: root mean squared error on the hidden speeds (speeds are about "
        "1); / mean: RMSE divided by that of filling with each race's mean.",
        f"  {'imputer':<50}{'RMSE':>8}{'/ mean':>8}{'time':>8}",
    ]
    imputers = race_imputers()
    results, filled = {}, {}
    for name, imputer in imputers.items():
        filled[name], seconds = fill(imputer, X)
        results[name] = rmse_on_missing(filled[name], speed, missing)
        base = results["SimpleImputer (race mean)"]
        lines.append(
            f"  {name:<50}{results[name]:>8.4f}{results[name] / base:>8.2f}"
            f"{seconds:>7.2f}s"
        )
    trace = imputers["TraceNormImputer(alpha='auto')"]
    power = {
        1: "every singular value reduced by the shrinkage",
        2: "strong components shrunk less than weak ones",
    }[trace.shrinkage_power_]
    lines += [
        "  TraceNormImputer tuned itself on held-out observed entries: "
        f"shrinkage {trace.alpha_:.3g} (best of the {trace.alphas_.size} "
        f"tried; it keeps rank {trace.n_components_}), centring {trace.center_!r},",
        f"  shrinkage power {trace.shrinkage_power_} ({power}), relaxation "
        f"{trace.relaxation_:g} (the share of the shrinkage given back to the "
        "kept components).",
    ]
    # Ranking the athletes: mean log-speed relative to each race's mean.
    log_filled = np.log(filled["SVDImputer(n_components=1, center=None): u_i v_j"])
    completed_rank = _spearman(log_filled.mean(axis=1), ability)
    naive = np.nanmean(X, axis=1)
    naive_rank = _spearman(naive, ability)
    lines.append(
        "  Ranking athletes (Spearman with true ability): completed matrix "
        f"{completed_rank:.3f}, mean of observed speeds {naive_rank:.3f}."
    )
    # The u_i v_j row above, at other ranks.
    ranks = [1, 2, 3, 5]
    errors = rank_errors(X, speed, ranks)
    lines.append(
        "  SVDImputer(n_components, center=None), the u_i v_j row at other ranks, "
        "RMSE: "
        + ", ".join(f"rank {r} {e:.4f}" for r, e in zip(ranks, errors, strict=True))
        + "; ranks above 1 fit the noise."
    )
    if out_dir is None:
        return "\n".join(lines)
    plt = import_matplotlib_pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    plot_shrinkage_path(axes[0], trace)
    # The baselines first: plot_rank_errors starts the error axis at zero
    # and keeps the top that fits what is already drawn.
    knn = axes[1].axhline(results["KNNImputer (k=5)"], color="C1", ls=":", label="KNN")
    mean = axes[1].axhline(
        results["SimpleImputer (race mean)"], color="C2", ls="--", label="race mean"
    )
    plot_rank_errors(axes[1], ranks, errors, missing.mean())
    axes[1].legend(handles=[axes[1].lines[-1], knn, mean], loc="lower right")
    save_figure(fig, out_dir, "impute_race_times.png")
    return "\n".join(lines)


SECTION = TourSection(
    name="impute",
    title="Matrix completion: race times of athletes on hilly courses",
    run=_run,
    order=35,
)
