"""Utilities users need: stacking two modalities, chunking large arrays."""
# License: BSD 3 clause

from ._validation import iter_chunks, stack_modalities

__all__ = ["iter_chunks", "stack_modalities"]
