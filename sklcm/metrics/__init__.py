"""Identifiability metrics and scorers for learned representations."""
# License: BSD 3 clause

from ._identifiability import (
    amari_distance,
    block_r2_score,
    linear_r2_score,
    mean_corr_coef,
)
from ._plot import IdentifiabilityDisplay
from ._retrieval import neighbor_agreement, retrieval_accuracy
from ._scorer import make_identifiability_scorer, mcc_scorer, r2_scorer

__all__ = [
    "IdentifiabilityDisplay",
    "amari_distance",
    "block_r2_score",
    "linear_r2_score",
    "make_identifiability_scorer",
    "mcc_scorer",
    "mean_corr_coef",
    "neighbor_agreement",
    "r2_scorer",
    "retrieval_accuracy",
]
