"""Optional dependencies, imported only by the features that need them."""

import importlib


def import_matplotlib_pyplot():
    """Import ``matplotlib.pyplot``, or say how to install matplotlib.

    mathlearn's plot methods and the tour's plots need matplotlib, which is
    not a dependency of mathlearn (it is in the ``examples`` extra).

    Returns
    -------
    pyplot : module
        ``matplotlib.pyplot``.

    Raises
    ------
    ModuleNotFoundError
        When matplotlib is not installed, with the command that installs it
        (a subclass of ImportError, as the error Python itself raises).

    Examples
    --------
    >>> from mathlearn.utils._optional import import_matplotlib_pyplot
    >>> plt = import_matplotlib_pyplot()
    >>> plt.__name__
    'matplotlib.pyplot'
    """
    try:
        return importlib.import_module("matplotlib.pyplot")
    except ModuleNotFoundError as exc:
        # Only matplotlib itself missing gets the hint; a broken install of
        # one of its own dependencies keeps its error.
        if exc.name is None or exc.name.split(".")[0] != "matplotlib":
            raise
        raise ModuleNotFoundError(
            "Plotting needs matplotlib, which is not installed. Install it "
            'with "pip install matplotlib" (or install mathlearn with its '
            'examples extra: pip install ".[examples]" from a checkout).',
            name=exc.name,
        ) from exc
