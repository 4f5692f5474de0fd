"""Nadaraya-Watson kernel regression: attention pooling over the training set."""

from mathlearn.kernel_regression._nadaraya_watson import (
    NadarayaWatsonRegressor,
    nadaraya_watson,
)

__all__ = ["NadarayaWatsonRegressor", "nadaraya_watson"]
