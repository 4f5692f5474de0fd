"""Tour section: completing the race-times matrix (athletes x hilly races)."""

import time
import warnings

import numpy as np

from mathlearn._tour import TourSection, save_figure


def _spearman(a, b):
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def _run(out_dir):
    from sklearn.impute import KNNImputer, SimpleImputer

    from mathlearn.datasets import make_race_speeds
    from mathlearn.impute import SVDImputer, TraceNormImputer

    speed, X, ability = make_race_speeds(random_state=0)
    missing = np.isnan(X)
    lines = [
        f"Race speeds: {X.shape[0]} athletes x {X.shape[1]} hilly races, "
        f"{missing.mean():.0%} missing; speed = ability / difficulty x "
        "inverse-Gaussian noise (rank 1).",
        f"  {'imputer':<44}{'RMSE':>8}{'/ mean':>8}{'time':>8}",
    ]

    def rmse(X_filled):
        return float(np.sqrt(np.mean((X_filled - speed)[missing] ** 2)))

    candidates = [
        ("SimpleImputer (race mean)", SimpleImputer()),
        ("KNNImputer (k=5)", KNNImputer()),
        ("SVDImputer(rank=1, center=None): u_i v_j", SVDImputer(1, center=None)),
        ("SVDImputer(rank=1) + row/column effects", SVDImputer(1)),
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
    lines.append(
        f"  TraceNormImputer chose shrinkage {trace.shrinkage_:.3g} (rank "
        f"{trace.rank_}) from {trace.shrinkage_path_.size} values, center="
        f"{trace.center_!r}, shrinkage power {trace.shrinkage_power_} and "
        f"relaxation {trace.relaxation_} on held-out entries."
    )
    # Ranking the athletes: mean log-speed relative to each race's mean.
    log_filled = np.log(filled["SVDImputer(rank=1, center=None): u_i v_j"])
    completed_rank = _spearman(log_filled.mean(axis=1), ability)
    naive = np.nanmean(X, axis=1)
    naive_rank = _spearman(naive, ability)
    lines.append(
        "  Ranking athletes (Spearman with true ability): completed matrix "
        f"{completed_rank:.3f}, mean of observed speeds {naive_rank:.3f}."
    )
    ranks = [1, 2, 3, 5]
    rank_errors = []
    for rank in ranks:
        imputer = SVDImputer(rank, alpha=1.0, random_state=0)
        rank_errors.append(rmse(imputer.fit_transform(X)))
    lines.append(
        "  SVDImputer RMSE by rank: "
        + ", ".join(f"{r}: {e:.4f}" for r, e in zip(ranks, rank_errors, strict=True))
    )
    if out_dir is None:
        return "\n".join(lines)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].semilogx(trace.shrinkage_path_, trace.validation_errors_, "o-")
    axes[0].axvline(trace.shrinkage_, color="k", ls="--", label="chosen")
    axes[0].set_xlabel("shrinkage (lambda)")
    axes[0].set_ylabel("held-out RMSE")
    axes[0].set_title("TraceNormImputer: the shrinkage path")
    axes[0].legend()
    axes[1].plot(ranks, rank_errors, "o-", label="SVDImputer")
    axes[1].axhline(results["KNNImputer (k=5)"], color="C1", ls=":", label="KNN")
    axes[1].set_xlabel("rank")
    axes[1].set_ylabel("RMSE on missing speeds")
    axes[1].set_title("Error against rank")
    axes[1].legend()
    save_figure(fig, out_dir, "impute_race_times.png")
    return "\n".join(lines)


SECTION = TourSection(
    name="impute",
    title="Matrix completion: race times of athletes on hilly courses",
    run=_run,
    order=35,
)
