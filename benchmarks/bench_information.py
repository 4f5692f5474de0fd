"""KSG mutual information against scikit-learn's ``mutual_info_regression``.

Correlated Gaussian pairs have the closed form ``I = -log(1 - rho**2) / 2``.
Both libraries run the Kraskov-Stoegbauer-Grassberger estimator with the same
``k``; scikit-learn adds tiny noise and clips at 0. Accuracy is the mean
absolute error over ``--repeats`` samples; time is the total, same process.

Run ``python benchmarks/bench_information.py`` (``--quick`` for a short run).
Prints a Markdown table; ``ratio`` is scikit-learn's time over mathlearn's.
"""

import argparse
import time

import numpy as np
from sklearn.feature_selection import mutual_info_regression

from mathlearn.information import mutual_information


def sample(rho, n, seed):
    z = np.random.RandomState(seed).normal(size=(n, 2))
    return z[:, 0], rho * z[:, 0] + np.sqrt(1 - rho**2) * z[:, 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes, repeats")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sizes = [1000, 5000] if args.quick else [1000, 5000, 20000, 100000]
    repeats = 2 if args.quick else args.repeats
    rhos = [0.3, 0.6, 0.9]

    print(
        "| n | rho | closed form | mathlearn MAE | sklearn MAE | mathlearn (s) "
        "| sklearn (s) | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        for rho in rhos:
            exact = -0.5 * np.log(1 - rho**2)
            errors = {"ml": [], "sk": []}
            times = {"ml": 0.0, "sk": 0.0}
            for seed in range(repeats):
                x, y = sample(rho, n, seed)
                start = time.perf_counter()
                ours = mutual_information(x, y, kind="continuous", n_neighbors=3)
                times["ml"] += time.perf_counter() - start
                start = time.perf_counter()
                theirs = mutual_info_regression(
                    x[:, None], y, n_neighbors=3, random_state=seed
                )[0]
                times["sk"] += time.perf_counter() - start
                errors["ml"].append(abs(ours - exact))
                errors["sk"].append(abs(theirs - exact))
            print(
                f"| {n} | {rho} | {exact:.4f} | {np.mean(errors['ml']):.4f} "
                f"| {np.mean(errors['sk']):.4f} | {times['ml']:.3f} "
                f"| {times['sk']:.3f} | {times['sk'] / times['ml']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
