"""Identifiability metrics and scorers for learned representations."""
# License: BSD 3 clause

from ._disentanglement import (
    disentanglement_completeness_informativeness,
    mig_score,
    sap_score,
)
from ._identifiability import (
    amari_distance,
    block_r2_score,
    block_r2_table,
    linear_r2_score,
    mean_corr_coef,
)
from ._plot import IdentifiabilityDisplay
from ._retrieval import neighbor_agreement, retrieval_accuracy
from ._scorer import (
    make_block_r2_scorer,
    make_identifiability_scorer,
    mcc_scorer,
    mig_scorer,
    r2_scorer,
    sap_scorer,
)

__all__ = [
    "IdentifiabilityDisplay",
    "amari_distance",
    "block_r2_score",
    "block_r2_table",
    "disentanglement_completeness_informativeness",
    "linear_r2_score",
    "make_block_r2_scorer",
    "make_identifiability_scorer",
    "mcc_scorer",
    "mean_corr_coef",
    "mig_score",
    "mig_scorer",
    "neighbor_agreement",
    "r2_scorer",
    "retrieval_accuracy",
    "sap_score",
    "sap_scorer",
]
