"""Self-organizing maps: Kohonen's topology-keeping grid of prototypes.

:class:`SelfOrganizingMap` is a scikit-learn clusterer and transformer with
fully vectorised batch training and Kohonen's original online rule.
"""

from mathlearn.som._som import SelfOrganizingMap

__all__ = ["SelfOrganizingMap"]
