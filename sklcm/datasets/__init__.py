"""Synthetic multimodal data generators from latent partial causal models."""
# License: BSD 3 clause

from ._latent_partial_causal import (
    LatentPartialCausalSampler,
    make_latent_partial_causal,
)
from ._mixing import InvertibleMLPMixing

__all__ = [
    "InvertibleMLPMixing",
    "LatentPartialCausalSampler",
    "make_latent_partial_causal",
]
