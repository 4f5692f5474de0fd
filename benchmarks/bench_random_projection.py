"""Random projections against scikit-learn's, same data, same process.

Projections: scikit-learn's ``GaussianRandomProjection`` and
``SparseRandomProjection`` (density "auto" = 1/sqrt(n_features), and 1/3),
and mathlearn's ``AchlioptasRandomProjection`` (1/3 and "auto"),
``HadamardRandomProjection`` (``projection="subsample"`` and ``"sparse"``) and
``SampledRandomProjection``, for k = 64, 256 and 1,024 components.

Data:

* scikit-learn's digits (1,797 x 64; k > 64 does not reduce, shown anyway);
* a dense Gaussian matrix, 2,000 x 10,000;
* a low-rank + noise matrix, 20,000 x 1,024 (rank 20, noise 0.1);
* the very sparse matrix of the issue: 10,000 x 100,000, density 1e-4, one
  coordinate of each row multiplied by 10 (``make_very_sparse``);
* TF-IDF of the Python standard library: one document per ``.py`` file under
  ``sysconfig.get_paths()["stdlib"]`` (site-packages excluded), words of
  ``TfidfVectorizer(token_pattern=r"[A-Za-z_][A-Za-z0-9_]+")``.

For each: p99 and max of ``|ratio - 1|`` over 2,000 random pairs of rows
(:func:`mathlearn.random_projection.pairwise_distortion`, the same pairs for
every projection), fit and transform times (``_timing.measure``, best of
the calls made in half a second, at least three), the same fit + transform
with one competing process ("busy") and its ratio to the idle one, the peak
memory allocated
during fit and during transform (the larger of the two, traced in one more
call apart from the timed ones; BLAS scratch is not traced), and the size of the
fitted object (its pickle). The last columns are p99 and transform time
relative to ``GaussianRandomProjection``.

``Hadamard(sparse)`` on the very sparse data runs only at k = 64: its
butterflies over 131,072 padded coordinates take about two minutes whatever
k is (the default ``"subsample"`` uses the sign formula of H for such rows).

Run ``python benchmarks/bench_random_projection.py`` (``--quick`` for k = 64
and 256 on smaller data; ``--data NAME`` for one data set).
"""

import argparse
import gc
import pickle
import sysconfig
import warnings
from pathlib import Path

import numpy as np
from _timing import competing_process, measure, print_table
from sklearn.datasets import load_digits
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.random_projection import (
    GaussianRandomProjection,
    SparseRandomProjection,
)

from mathlearn.datasets import make_very_sparse
from mathlearn.random_projection import (
    AchlioptasRandomProjection,
    HadamardRandomProjection,
    SampledRandomProjection,
    pairwise_distortion,
)


def stdlib_tfidf():
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(
        path
        for path in root.rglob("*.py")
        if "site-packages" not in path.parts and "dist-packages" not in path.parts
    )
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in files]
    vectorizer = TfidfVectorizer(token_pattern=r"[A-Za-z_][A-Za-z0-9_]+")
    return vectorizer.fit_transform(texts).tocsr()


def datasets(quick, seed):
    # Not the projections' seed: GaussianRandomProjection(random_state=0) on
    # data drawn from RandomState(0) would reuse the data as its components.
    seed += 1000
    rng = np.random.RandomState(seed)
    yield "digits 1,797 x 64", load_digits().data
    n = 1000 if quick else 2000
    yield f"Gaussian {n:,} x 10,000", rng.normal(size=(n, 10_000))
    n = 5000 if quick else 20_000
    low_rank = rng.normal(size=(n, 20)) @ rng.normal(size=(20, 1024))
    low_rank += 0.1 * rng.normal(size=low_rank.shape)
    yield f"low-rank+noise {n:,} x 1,024", low_rank
    n = 2000 if quick else 10_000
    yield (
        f"very sparse {n:,} x 100,000",
        make_very_sparse(n, 100_000, density=1e-4, random_state=seed),
    )
    X = stdlib_tfidf()
    yield f"TF-IDF stdlib {X.shape[0]:,} x {X.shape[1]:,}", X


def projections(k, seed):
    return {
        "sklearn Gaussian": GaussianRandomProjection(k, random_state=seed),
        "sklearn Sparse(auto)": SparseRandomProjection(k, random_state=seed),
        "sklearn Sparse(1/3)": SparseRandomProjection(
            k, density=1 / 3, random_state=seed
        ),
        "Achlioptas(1/3)": AchlioptasRandomProjection(k, random_state=seed),
        "Achlioptas(auto)": AchlioptasRandomProjection(
            k, density="auto", random_state=seed
        ),
        "Hadamard(subsample)": HadamardRandomProjection(k, random_state=seed),
        "Hadamard(sparse)": HadamardRandomProjection(
            k, projection="sparse", random_state=seed
        ),
        "Sampled": SampledRandomProjection(k, random_state=seed),
    }


def run_one(estimator, X):
    gc.collect()
    fit = measure(estimator.fit, X, repeat=3, min_seconds=0.5, memory=True)
    transform = measure(estimator.transform, X, repeat=3, min_seconds=0.5, memory=True)
    size = len(pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL))
    gc.collect()
    # Busy is timed as idle is, fit and transform apart, each the best of at
    # least 3 calls: the first calls after a pause take up to 2.5 times as
    # long on a quiet machine (GaussianRandomProjection, 20,000 x 1,024 ->
    # 1,024: 1.20, 0.55, 0.49 s), and a single busy call of fit + transform
    # made the busy column up to 3x the idle one.
    with competing_process():
        busy = measure(estimator.fit, X, repeat=3, min_seconds=0.5).seconds
        busy += measure(estimator.transform, X, repeat=3, min_seconds=0.5).seconds
    peak = max(fit.peak_mb, transform.peak_mb)
    return transform.result, fit.seconds, transform.seconds, busy, peak, size


def _mb(n_mb):
    return f"{n_mb:.1f}" if n_mb < 1024 else f"{n_mb:,.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="only data whose name has this")
    args = parser.parse_args()
    ks = [64, 256] if args.quick else [64, 256, 1024]
    header = ["data", "k", "projection", "p99 |ratio-1|", "max |ratio-1|"]
    header += ["fit (s)", "transform (s)", "fit + transform busy (s)", "busy / idle"]
    header += ["peak mem (MB)", "fitted size (MB)", "p99 / Gaussian"]
    header += ["transform / Gaussian"]
    rows = []
    for name, X in datasets(args.quick, args.seed):
        if args.data and args.data.lower() not in name.lower():
            continue
        for k in ks:
            reference = None
            for label, estimator in projections(k, args.seed).items():
                if label == "Hadamard(sparse)" and "very sparse" in name and k > 64:
                    rows.append([name, k, label, "skipped (see above)"] + [""] * 9)
                    continue
                with warnings.catch_warnings():
                    # k > n_features on the digits: reported, not reduced.
                    warnings.simplefilter("ignore")
                    X_new, fit_s, transform_s, busy_s, peak, size = run_one(
                        estimator, X
                    )
                result = pairwise_distortion(X, X_new, n_pairs=2000, random_state=0)
                p99 = result.distortion_quantile(0.99)
                if reference is None:
                    reference = (p99, transform_s)
                rows.append(
                    [name, k, label, f"{p99:.3f}", f"{result.max_distortion:.3f}"]
                    + [f"{fit_s:.3f}", f"{transform_s:.3f}", f"{busy_s:.3f}"]
                    + [f"{busy_s / (fit_s + transform_s):.2f}"]
                    + [_mb(peak), _mb(size / 2**20), f"{p99 / reference[0]:.2f}"]
                    + [f"{transform_s / reference[1]:.2f}"]
                )
                del X_new, estimator
    print_table(header, rows)


if __name__ == "__main__":
    main()
