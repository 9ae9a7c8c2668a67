"""Paired data: synthetic generators and real multi-view data sets."""
# License: BSD 3 clause

from ._latent_partial_causal import (
    LatentPartialCausalSampler,
    make_latent_partial_causal,
)
from ._mixing import InvertibleMLPMixing
from ._multiview import MultiviewLatentSampler, make_multiview_latents
from ._real import load_digits_halves, load_multiple_features, load_paired_embeddings

__all__ = [
    "InvertibleMLPMixing",
    "LatentPartialCausalSampler",
    "MultiviewLatentSampler",
    "load_digits_halves",
    "load_multiple_features",
    "load_paired_embeddings",
    "make_latent_partial_causal",
    "make_multiview_latents",
]
