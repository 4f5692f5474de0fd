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
# each a few matrix products over all 1797 images; Kohonen's online rule
# presents them one at a time. ``digits_map`` fits
# ``SelfOrganizingMap(n_rows=12, n_cols=12, topology="hexagonal",
# algorithm=algorithm, random_state=0)`` to ``load_digits().data / 16``; it
# and the plots are shared with the ``som`` section of ``mathlearn tour``.
import matplotlib.pyplot as plt
import numpy as np

from mathlearn.som._tour import digits_map, plot_digits_map, unit_majority

maps = {}
for algorithm in ["batch", "online"]:
    X, y, som, seconds = digits_map(algorithm)
    maps[algorithm] = som
    print(
        f"{algorithm:>6}: {seconds:5.2f} s, quantization error "
        f"{som.quantization_error(X):.3f}, topographic error "
        f"{som.topographic_error(X):.3f}"
    )

# %%
# The batch map is kept for the plots. How well do its units separate the
# digits it never saw the labels of? Label every unit with the most frequent
# digit among its samples.
som = maps["batch"]
majority = unit_majority(som, y)
print(
    f"majority digit of the unit is right for {np.mean(majority[som.labels_] == y):.1%}"
)

# %%
# U-matrix, hit map and component planes
# --------------------------------------
# The plot methods draw unit ``k``, at grid position
# ``(row, col) = som.grid_coordinates_[k]``, as a cell centred at
# ``x = col, y = -row``. ``labels`` writes one text per unit on its cell,
# white on dark cells and black on light ones. Each component plane colours
# the map by one pixel's weight: units of zeros have ink on the sides of the
# image and none in the middle.
plot_digits_map(som, X, majority, pixels=[19, 27, 28, 36, 43, 44, 51, 53])
plt.show()
