"""Drawing a fitted map: one square or hexagon per unit (matplotlib, lazily).

The coordinate system of every map drawing: unit ``k``, at grid position
``(row, col) = grid_coordinates_[k]``, is a cell centred at
``x = col, y = -row``. Columns run left to right and rows top to bottom, in
the layout of the ``(n_rows, n_cols)`` array :meth:`u_matrix` returns; on a
hexagonal grid ``col`` already holds the half-unit shift of odd rows, and
``row`` is a multiple of ``sqrt(3) / 2``. So ``ax.text(col, -row, text)``
writes in the middle of unit ``k``'s cell. The axes are hidden and have equal
aspect.
"""

import numpy as np

from mathlearn.utils._optional import import_matplotlib_pyplot

# Text on a cell darker than this relative luminance is drawn in white.
_DARK_CELL = 0.5


def cell_centres(estimator):
    """Where each unit's cell is drawn, shape ``(n_units, 2)``: ``(x, y)``."""
    coords = estimator.grid_coordinates_
    return np.column_stack([coords[:, 1], -coords[:, 0]])


def _cell_polygons(estimator):
    """Vertices of every unit's cell, shape ``(n_units, n_vertices, 2)`` (x, y)."""
    if estimator.topology == "hexagonal":
        angles = np.deg2rad(np.arange(30, 390, 60))
        radius = 1.0 / np.sqrt(3.0)
    else:
        angles = np.deg2rad(np.arange(45, 405, 90))
        radius = np.sqrt(0.5)
    offsets = radius * np.column_stack([np.cos(angles), np.sin(angles)])
    return cell_centres(estimator)[:, None, :] + offsets[None, :, :]


def _text_colours(cells):
    """Black or white for text on each cell of ``cells``, whichever reads."""
    rgb = cells.to_rgba(cells.get_array())[:, :3]
    luminance = rgb @ np.array([0.2126, 0.7152, 0.0722])
    return np.where(luminance < _DARK_CELL, "white", "black")


def plot_grid_values(estimator, values, *, ax, cmap, label, labels=None):
    """Colour each unit's cell by ``values`` (one per unit, flat order).

    ``label`` names the colour bar. ``labels``, if given, holds one text per
    unit (flat order or laid out as the grid; ``None`` or ``""`` leaves a
    cell blank), written in the
    middle of its cell in black or white, whichever stands out on the cell.
    """
    n_units = estimator.grid_coordinates_.shape[0]
    if labels is not None:
        labels = np.asarray(labels, dtype=object).ravel()
        if labels.shape != (n_units,):
            raise ValueError(
                f"labels must hold one text per unit, n_rows_ * n_cols_ = "
                f"{n_units}; got {labels.shape[0]}"
            )
    plt = import_matplotlib_pyplot()
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
    if labels is not None:
        for (x, y), text, colour in zip(
            cell_centres(estimator), labels, _text_colours(cells), strict=True
        ):
            if text is not None and str(text):
                ax.text(x, y, str(text), ha="center", va="center", size=7, color=colour)
    return ax


def plot_component_planes(estimator, features, *, n_cols, cmap):
    """One panel per feature, each unit coloured by its weight for it."""
    plt = import_matplotlib_pyplot()

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
            label="unit weight",
        )
        ax.set_title(str(names[feature]) if names is not None else f"x{feature}")
    for ax in axes.ravel()[len(features) :]:
        ax.set_axis_off()
    return fig
