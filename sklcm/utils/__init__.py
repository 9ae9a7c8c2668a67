"""Utilities users need: stacking two modalities into one array."""
# License: BSD 3 clause

from ._validation import stack_modalities

__all__ = ["stack_modalities"]
