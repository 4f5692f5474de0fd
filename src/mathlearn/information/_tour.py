"""Tour section: information measures on iris and on correlated Gaussians.

The gallery example ``examples/information/plot_mutual_information.py``
estimates the same mutual information of correlated Gaussians: it calls
:func:`gaussian_mutual_information`.
"""

import numpy as np

from mathlearn._tour import TourSection, save_figure
from mathlearn.utils._optional import import_matplotlib_pyplot


def gaussian_mutual_information(rhos, z, n_bins=20):
    """KSG and histogram estimates of I(X; Y) for correlated Gaussians.

    For each correlation ``rho``, ``X = z[:, 0]`` and ``Y = rho X +
    sqrt(1 - rho^2) z[:, 1]``, with ``z`` standard normal of shape
    ``(n_samples, 2)``: the closed form is ``-log(1 - rho^2) / 2`` nats.
    Returns the KSG estimates (3 neighbours) and the naive plug-in estimates
    of an ``n_bins x n_bins`` histogram, in nats.
    """
    from mathlearn.information import mutual_information

    ksg, histogram = [], []
    for rho in rhos:
        x, y = z[:, 0], rho * z[:, 0] + np.sqrt(1 - rho**2) * z[:, 1]
        ksg.append(mutual_information(x, y, kind="continuous", n_neighbors=3))
        counts, _, _ = np.histogram2d(x, y, bins=n_bins)
        histogram.append(mutual_information(counts / counts.sum()))
    return np.array(ksg), np.array(histogram)


def _run(out_dir):
    from sklearn.datasets import load_iris

    from mathlearn.information import (
        conditional_entropy,
        entropy,
        joint_entropy,
        mutual_information,
    )

    iris = load_iris()
    species = iris.target_names[iris.target]
    lines = []
    for j, name in enumerate(iris.feature_names):
        binned = np.digitize(
            iris.data[:, j], np.quantile(iris.data[:, j], [1 / 3, 2 / 3])
        )
        mi = mutual_information(binned, species, base=2)
        lines.append(f"  {name:<18} I = {mi:.3f} bits")
    h_species = entropy(species, kind="discrete", base=2)
    petal = np.digitize(iris.data[:, 2], np.quantile(iris.data[:, 2], [1 / 3, 2 / 3]))
    identity = (
        entropy(species, kind="discrete", base=2)
        - conditional_entropy(species, petal, base=2)
        - mutual_information(species, petal, base=2)
    )
    joint_gap = (
        entropy(species, kind="discrete", base=2)
        + entropy(petal, kind="discrete", base=2)
        - joint_entropy(species, petal, base=2)
        - mutual_information(species, petal, base=2)
    )

    rng = np.random.RandomState(0)
    rhos = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95])
    ksg, binned = gaussian_mutual_information(rhos, rng.normal(size=(2000, 2)))
    closed_form = -0.5 * np.log(1 - rhos**2) + 0.0

    if out_dir is not None:
        plt = import_matplotlib_pyplot()

        fig, ax = plt.subplots(figsize=(6, 4.2))
        fine = np.linspace(0, 0.96, 200)
        ax.plot(fine, -0.5 * np.log(1 - fine**2), "k--", label="-log(1 - rho^2) / 2")
        ax.plot(rhos, ksg, "o-", color="C3", label="KSG, k = 3")
        ax.plot(rhos, binned, "s:", color="C0", label="20 x 20 histogram (naive)")
        ax.set(
            xlabel="correlation rho",
            ylabel="I(X; Y) in nats",
            title="Mutual information of correlated Gaussians (n = 2,000)",
        )
        ax.legend()
        save_figure(fig, out_dir, "information_mutual_information.png")

    report = [
        "Iris: each feature cut into 3 equal-count bins, and its mutual",
        f"information with the species (H(species) = {h_species:.3f} bits, the most",
        "any feature can tell):",
        *lines,
        "Identities on the petal-length table, in bits:",
        f"  H(S) - H(S|P) - I(S;P)        = {identity:.1e}",
        f"  H(S) + H(P) - H(S,P) - I(S;P) = {joint_gap:.1e}",
        "Correlated Gaussians, n = 2,000, I = -log(1 - rho^2) / 2 in nats:",
        "  rho   closed form   KSG (k=3)   20x20 histogram (naive baseline)",
        *(
            f"  {r:4.2f}  {c:11.3f}  {k:10.3f}  {b:10.3f}"
            for r, c, k, b in zip(rhos, closed_form, ksg, binned, strict=True)
        ),
        f"Largest error: KSG {np.max(np.abs(ksg - closed_form)):.3f} nats, "
        f"histogram {np.max(np.abs(binned - closed_form)):.3f} nats.",
    ]
    return "\n".join(report)


SECTION = TourSection(
    name="information",
    title="Entropy and mutual information",
    run=_run,
    order=55,
)
