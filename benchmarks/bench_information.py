"""KSG mutual information against scikit-learn's ``mutual_info_regression``.

Correlated Gaussian pairs have the closed form ``I = -log(1 - rho**2) / 2``.
Both libraries run the Kraskov-Stoegbauer-Grassberger estimator with the same
``k``; scikit-learn adds tiny noise and clips at 0. Accuracy is the mean
absolute error over ``--repeats`` samples; time is the total over them (best
wall clock of ``--timings`` runs, ``_timing.measure``: a single run of a few
milliseconds is mostly noise), on an idle machine and with one competing
process ("busy").

Run ``python benchmarks/bench_information.py`` (``--quick`` for a short run).
Prints a Markdown table; ``ratio`` is scikit-learn's idle time over mathlearn's.
"""

import argparse

import numpy as np
from _timing import measure_idle_and_busy, print_table
from sklearn.feature_selection import mutual_info_regression

from mathlearn.information import mutual_information


def sample(rho, n, seed):
    z = np.random.RandomState(seed).normal(size=(n, 2))
    return z[:, 0], rho * z[:, 0] + np.sqrt(1 - rho**2) * z[:, 1]


def ours(samples):
    return [
        mutual_information(x, y, kind="continuous", n_neighbors=3) for x, y in samples
    ]


def theirs(samples):
    return [
        mutual_info_regression(x[:, None], y, n_neighbors=3, random_state=seed)[0]
        for seed, (x, y) in enumerate(samples)
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes, repeats")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timings", type=int, default=3, help="timed runs per case")
    args = parser.parse_args()
    sizes = [1000, 5000] if args.quick else [1000, 5000, 20000, 100000]
    repeats = 2 if args.quick else args.repeats
    rhos = [0.3, 0.6, 0.9]

    header = [
        "n",
        "rho",
        "closed form",
        "mathlearn MAE",
        "sklearn MAE",
        "mathlearn (s)",
        "mathlearn busy (s)",
        "sklearn (s)",
        "sklearn busy (s)",
        "ratio",
    ]
    rows = []
    for n in sizes:
        for rho in rhos:
            exact = -0.5 * np.log(1 - rho**2)
            samples = [sample(rho, n, seed) for seed in range(repeats)]
            ml, ml_busy = measure_idle_and_busy(ours, samples, repeat=args.timings)
            sk, sk_busy = measure_idle_and_busy(theirs, samples, repeat=args.timings)
            rows.append(
                [
                    n,
                    rho,
                    f"{exact:.4f}",
                    f"{np.mean(np.abs(np.subtract(ml.result, exact))):.4f}",
                    f"{np.mean(np.abs(np.subtract(sk.result, exact))):.4f}",
                    f"{ml.seconds:.3f}",
                    f"{ml_busy.seconds:.3f}",
                    f"{sk.seconds:.3f}",
                    f"{sk_busy.seconds:.3f}",
                    f"{sk.seconds / ml.seconds:.2f}",
                ]
            )
    print_table(header, rows)


if __name__ == "__main__":
    main()
