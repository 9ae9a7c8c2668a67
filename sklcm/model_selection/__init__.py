"""Model selection for the few-shot protocol (numpy and scikit-learn only)."""
# License: BSD 3 clause

from ._fewshot import FewShotSplit

__all__ = ["FewShotSplit"]
