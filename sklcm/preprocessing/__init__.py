"""Transformers between the stacked ``[x_1 | ... | x_K]`` array and lists of views."""
# License: BSD 3 clause

from ._views import ViewSplitter, ViewStacker

__all__ = ["ViewSplitter", "ViewStacker"]
