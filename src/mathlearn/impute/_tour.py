"""Tour section: completing the race-times matrix (athletes x hilly races)."""

import time
import warnings

import numpy as np

from mathlearn._tour import TourSection, plain_log_ticks, save_figure
from mathlearn.utils._optional import import_matplotlib_pyplot


def _spearman(a, b):
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def _run(out_dir):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.impute import KNNImputer, SimpleImputer

    from mathlearn.datasets import make_race_speeds
    from mathlearn.impute import SVDImputer, TraceNormImputer

    speed, X, ability = make_race_speeds(random_state=0)
    missing = np.isnan(X)
    lines = [
        f"Race speeds: {X.shape[0]} athletes x {X.shape[1]} hilly races, "
        f"{missing.mean():.0%} missing; speed = ability / difficulty x "
        "inverse-Gaussian noise: rank 1, an athlete factor u_i times a race "
        "factor v_j.",
        "RMSE: root mean squared error on the hidden speeds (speeds are about "
        "1); / mean: RMSE divided by that of filling with each race's mean.",
        f"  {'imputer':<44}{'RMSE':>8}{'/ mean':>8}{'time':>8}",
    ]

    def rmse(X_filled):
        return float(np.sqrt(np.mean((X_filled - speed)[missing] ** 2)))

    candidates = [
        ("SimpleImputer (race mean)", SimpleImputer()),
        ("KNNImputer (k=5)", KNNImputer()),
        (
            "SVDImputer(rank=1, center=None): u_i v_j",
            SVDImputer(1, center=None, random_state=0),
        ),
        ("SVDImputer(rank=1) + row/column effects", SVDImputer(1, random_state=0)),
        ("TraceNormImputer(shrinkage='auto')", TraceNormImputer(random_state=0)),
    ]
    results, filled = {}, {}
    for name, imputer in candidates:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            filled[name] = imputer.fit_transform(X)
        seconds = time.perf_counter() - start
        results[name] = rmse(filled[name])
        base = results["SimpleImputer (race mean)"]
        lines.append(
            f"  {name:<44}{results[name]:>8.4f}{results[name] / base:>8.2f}"
            f"{seconds:>7.2f}s"
        )
    trace = candidates[-1][1]
    power = {
        1: "every singular value reduced by the shrinkage",
        2: "strong components shrunk less than weak ones",
    }[trace.shrinkage_power_]
    lines += [
        "  TraceNormImputer tuned itself on held-out observed entries: "
        f"shrinkage {trace.shrinkage_:.3g} (best of the {trace.shrinkage_path_.size} "
        f"tried; it keeps rank {trace.rank_}), centring {trace.center_!r},",
        f"  shrinkage power {trace.shrinkage_power_} ({power}), relaxation "
        f"{trace.relaxation_:g} (the share of the shrinkage given back to the "
        "kept components).",
    ]
    # Ranking the athletes: mean log-speed relative to each race's mean.
    log_filled = np.log(filled["SVDImputer(rank=1, center=None): u_i v_j"])
    completed_rank = _spearman(log_filled.mean(axis=1), ability)
    naive = np.nanmean(X, axis=1)
    naive_rank = _spearman(naive, ability)
    lines.append(
        "  Ranking athletes (Spearman with true ability): completed matrix "
        f"{completed_rank:.3f}, mean of observed speeds {naive_rank:.3f}."
    )
    # The u_i v_j row above, at other ranks: the data are rank 1 plus noise,
    # and the extra factors, fitted to noise, stop L-BFGS at max_iter.
    ranks = [1, 2, 3, 5]
    rank_errors = []
    for rank in ranks:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            imputer = SVDImputer(rank, center=None, random_state=0)
            rank_errors.append(rmse(imputer.fit_transform(X)))
    lines.append(
        "  SVDImputer(rank, center=None), the u_i v_j row at other ranks, RMSE: "
        + ", ".join(
            f"rank {r} {e:.4f}" for r, e in zip(ranks, rank_errors, strict=True)
        )
        + "; ranks above 1 fit the noise."
    )
    if out_dir is None:
        return "\n".join(lines)
    plt = import_matplotlib_pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].semilogx(trace.shrinkage_path_, trace.validation_errors_, "o-")
    axes[0].axvline(trace.shrinkage_, color="k", ls="--", label="chosen")
    plain_log_ticks(axes[0].xaxis)
    axes[0].set_xlabel("shrinkage (lambda)")
    axes[0].set_ylabel("RMSE on held-out observed entries")
    axes[0].set_title("TraceNormImputer: the shrinkage path")
    axes[0].legend()
    axes[1].plot(ranks, rank_errors, "o-", label="SVDImputer(rank, center=None)")
    axes[1].axhline(results["KNNImputer (k=5)"], color="C1", ls=":", label="KNN")
    axes[1].axhline(
        results["SimpleImputer (race mean)"], color="C2", ls="--", label="race mean"
    )
    axes[1].set_xticks(ranks)
    axes[1].set_ylim(0, None)
    axes[1].set_xlabel("rank")
    axes[1].set_ylabel("RMSE on the hidden speeds")
    axes[1].set_title(f"Error against rank ({missing.mean():.0%} missing)")
    axes[1].legend(loc="lower right")
    save_figure(fig, out_dir, "impute_race_times.png")
    return "\n".join(lines)


SECTION = TourSection(
    name="impute",
    title="Matrix completion: race times of athletes on hilly courses",
    run=_run,
    order=35,
)
