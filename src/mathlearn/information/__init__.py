"""Entropy, mutual information and divergences of tables, labels and real samples."""

from mathlearn.information._measures import (
    conditional_entropy,
    cross_entropy,
    entropy,
    joint_entropy,
    kl_divergence,
    mutual_information,
)

__all__ = [
    "conditional_entropy",
    "cross_entropy",
    "entropy",
    "joint_entropy",
    "kl_divergence",
    "mutual_information",
]
