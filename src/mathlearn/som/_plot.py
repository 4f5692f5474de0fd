"""Drawing a fitted map: one square or hexagon per unit (matplotlib, lazily)."""

import numpy as np


def _cell_polygons(estimator):
    """Vertices of every unit's cell, shape ``(n_units, n_vertices, 2)`` (x, y)."""
    coords = estimator.grid_coordinates_
    centres = np.column_stack([coords[:, 1], -coords[:, 0]])
    if estimator.topology == "hexagonal":
        angles = np.deg2rad(np.arange(30, 390, 60))
        radius = 1.0 / np.sqrt(3.0)
    else:
        angles = np.deg2rad(np.arange(45, 405, 90))
        radius = np.sqrt(0.5)
    offsets = radius * np.column_stack([np.cos(angles), np.sin(angles)])
    return centres[:, None, :] + offsets[None, :, :]


def plot_grid_values(estimator, values, *, ax, cmap, label):
    """Colour each unit's cell by ``values`` (one per unit, flat order)."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    if ax is None:
        ax = plt.gca()
    cells = PolyCollection(_cell_polygons(estimator), cmap=cmap, edgecolors="face")
    cells.set_array(np.asarray(values, dtype=np.float64))
    ax.add_collection(cells)
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.figure.colorbar(cells, ax=ax, label=label, shrink=0.8)
    return ax


def plot_component_planes(estimator, features, *, n_cols, cmap):
    """One panel per feature, each unit coloured by its weight for it."""
    import matplotlib.pyplot as plt

    n_features = estimator.cluster_centers_.shape[1]
    features = list(range(n_features)) if features is None else list(features)
    names = getattr(estimator, "feature_names_in_", None)
    n_panel_rows = -(-len(features) // n_cols)
    fig, axes = plt.subplots(
        n_panel_rows,
        n_cols,
        figsize=(3.2 * n_cols, 2.6 * n_panel_rows),
        squeeze=False,
    )
    for ax, feature in zip(axes.ravel(), features, strict=False):
        plot_grid_values(
            estimator,
            estimator.cluster_centers_[:, feature],
            ax=ax,
            cmap=cmap,
            label="",
        )
        ax.set_title(str(names[feature]) if names is not None else f"x{feature}")
    for ax in axes.ravel()[len(features) :]:
        ax.set_axis_off()
    return fig
