"""Plotting helpers for identifiability metrics (matplotlib imported lazily)."""
# License: BSD 3 clause

from .identifiability import IdentifiabilityDisplay

__all__ = ["IdentifiabilityDisplay"]
