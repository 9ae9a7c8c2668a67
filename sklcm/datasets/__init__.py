"""Paired data: synthetic generators and real multi-view data sets."""
# License: BSD 3 clause

from ._latent_partial_causal import (
    LatentPartialCausalSampler,
    make_latent_partial_causal,
)
from ._mixing import InvertibleMLPMixing
from ._multiview import MultiviewLatentSampler, make_multiview_latents
from ._real import load_digits_halves, load_multiple_features, load_paired_embeddings
from ._shift import ShiftedPairsSampler, load_digits_shift, make_shifted_pairs

__all__ = [
    "InvertibleMLPMixing",
    "LatentPartialCausalSampler",
    "ShiftedPairsSampler",
    "MultiviewLatentSampler",
    "load_digits_halves",
    "load_digits_shift",
    "load_multiple_features",
    "load_paired_embeddings",
    "make_latent_partial_causal",
    "make_shifted_pairs",
    "make_multiview_latents",
]
