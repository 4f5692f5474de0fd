"""The ``mathlearn tour``: every capability run on bundled data.

A module adds a section by defining ``SECTION = TourSection(...)`` in its
private ``_tour.py``; :func:`mathlearn.utils.all_tour_sections` finds it. A
section's ``run(out_dir)`` does its work on data that ships with scikit-learn
or is generated in code, returns a short plain-text report (what was done, the
key figure, a naive baseline to compare with) and, when ``out_dir`` is not
``None``, saves its plots there with :func:`save_figure`.
"""

import os
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mathlearn.utils._optional import import_matplotlib_pyplot


@dataclass(frozen=True)
class TourSection:
    """One part of the tour.

    Parameters
    ----------
    name : str
        Short name used by ``mathlearn tour --only NAME``.
    title : str
        Heading printed above the section's report.
    run : callable
        ``run(out_dir) -> str``; ``out_dir`` is a :class:`pathlib.Path` to save
        plots in, or ``None`` when plots are off. It returns the report.
    order : int, default=100
        Sections run in increasing ``order``.
    """

    name: str
    title: str
    run: Callable[[Path | None], str]
    order: int = 100


def save_figure(fig, out_dir, filename):
    """Save a matplotlib figure in ``out_dir``, close it and return the path."""
    plt = import_matplotlib_pyplot()
    path = Path(out_dir) / filename
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _plots_available():
    try:
        import matplotlib
    except ImportError:
        return False
    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    return True


def run_tour(sections, *, out_dir=None, stream=None):
    """Run ``sections`` one after another and print their reports.

    Parameters
    ----------
    sections : list of TourSection
        What to run, in order.
    out_dir : path-like or None, default=None
        Folder for the plots (created if needed); ``None`` turns plots off.
    stream : file-like, default=sys.stdout
        Where the reports are printed.

    Returns
    -------
    timings : dict of str to float
        Seconds each section took.
    """
    stream = sys.stdout if stream is None else stream
    if out_dir is not None:
        if _plots_available():
            out_dir = Path(out_dir)
            out_dir.mkdir(parents=True, exist_ok=True)
        else:
            print(
                "matplotlib is not installed: plots are skipped "
                "(pip install matplotlib).",
                file=stream,
            )
            out_dir = None
    timings = {}
    for section in sections:
        rule = "=" * 72
        print(f"{rule}\n{section.title}  [{section.name}]\n{rule}", file=stream)
        start = time.perf_counter()
        report = section.run(out_dir)
        timings[section.name] = time.perf_counter() - start
        print(textwrap.dedent(report).strip(), file=stream)
        print(f"({timings[section.name]:.1f} s)\n", file=stream, flush=True)
    if out_dir is not None and sections:
        print(f"Plots saved in {out_dir.resolve()}", file=stream)
    return timings


def rmse_on_missing(X_filled, X, missing):
    """Root mean squared error of ``X_filled`` against ``X`` on ``missing``."""
    return float(np.sqrt(np.mean((X_filled - X)[missing] ** 2)))


def plain_log_ticks(axis):
    """Label a log-scaled axis 0.5, 1, 2, 5, 10 rather than 2x10^0.

    ``axis`` is ``ax.xaxis`` or ``ax.yaxis``; ticks fall on 1, 2 and 5 times
    the powers of ten.
    """
    from matplotlib.ticker import LogLocator

    axis.set_major_formatter("{x:g}")
    axis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
    axis.set_minor_formatter("{x:g}")
