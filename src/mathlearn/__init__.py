"""mathlearn: the mathematics of machine learning as scikit-learn estimators.

Each capability lives in its own subpackage (``mathlearn.random_projection``,
``mathlearn.impute``, ...); import what you need from there. Importing
``mathlearn`` itself is cheap: it loads no subpackage, and never torch or
matplotlib.
"""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
