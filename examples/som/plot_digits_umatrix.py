"""
======================================
A self-organizing map of the digits
======================================

A 12 x 12 hexagonal :class:`~mathlearn.som.SelfOrganizingMap` is trained on
scikit-learn's 8 x 8 handwritten digits without their labels. The U-matrix
(mean distance from each unit to its neighbours) shows dark ridges between
groups of similar units; writing each unit's majority digit on it shows that
these groups are the digit classes. Component planes show how single pixels
vary over the map, and the batch algorithm is compared with Kohonen's online
rule.
"""

# %%
# Train the map
# -------------
# Pixels are scaled to [0, 1]. Batch training (the default) runs 10 epochs,
# each a few matrix products over all 1797 images.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from mathlearn.som import SelfOrganizingMap

digits = load_digits()
X, y = digits.data / 16.0, digits.target

for algorithm in ["batch", "online"]:
    start = time.perf_counter()
    som = SelfOrganizingMap(
        n_rows=12, n_cols=12, topology="hexagonal", algorithm=algorithm, random_state=0
    ).fit(X)
    seconds = time.perf_counter() - start
    print(
        f"{algorithm:>6}: {seconds:5.2f} s, quantization error "
        f"{som.quantization_error(X):.3f}, topographic error "
        f"{som.topographic_error(X):.3f}"
    )

# %%
# The batch map is kept for the plots. How well do its units separate the
# digits it never saw the labels of? Label every unit with the most frequent
# digit among its samples.
som = SelfOrganizingMap(n_rows=12, n_cols=12, topology="hexagonal", random_state=0).fit(
    X
)
counts = np.zeros((144, 10), dtype=int)
np.add.at(counts, (som.labels_, y), 1)
majority = np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), -1)
print(
    f"majority digit of the unit is right for {np.mean(majority[som.labels_] == y):.1%}"
)

# %%
# U-matrix and hit map
# --------------------
# The plot methods draw unit ``k``, at grid position
# ``(row, col) = som.grid_coordinates_[k]``, as a cell centred at
# ``x = col, y = -row``. ``labels`` writes one text per unit on its cell,
# white on dark cells and black on light ones.
fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
som.plot_u_matrix(
    ax=axes[0], labels=[str(digit) if digit >= 0 else "" for digit in majority]
)
axes[0].set_title(
    "U-matrix (dark: cluster borders)\nand the majority digit of each unit"
)
som.plot_hit_map(X, ax=axes[1])
axes[1].set_title("Images per unit")
plt.show()

# %%
# Component planes
# ----------------
# Each panel colours the map by one pixel's weight: units of zeros have ink
# on the sides of the image and none in the middle.
pixels = [19, 27, 28, 36, 43, 44, 51, 53]
fig = som.plot_component_planes(pixels, n_cols=4)
for ax, pixel in zip(fig.axes, pixels, strict=False):
    ax.set_title(f"pixel ({pixel // 8}, {pixel % 8})")
plt.show()
