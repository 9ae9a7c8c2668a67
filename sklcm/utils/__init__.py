"""Utilities users need: stacking two modalities, chunking large arrays."""
# License: BSD 3 clause

from ._chunks import iter_chunks
from ._modalities import stack_modalities

__all__ = ["iter_chunks", "stack_modalities"]
