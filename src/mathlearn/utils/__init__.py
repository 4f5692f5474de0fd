"""Utilities shared by mathlearn's modules: estimator discovery."""

from mathlearn.utils.discovery import all_estimators, all_functions, all_tour_sections

__all__ = ["all_estimators", "all_functions", "all_tour_sections"]
