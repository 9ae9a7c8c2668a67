"""Model selection for the few-shot protocol (numpy and scikit-learn only)."""
# License: BSD 3 clause

from ._fewshot import FewShotSplit
from ._search import FewShotGridSearchCV

__all__ = ["FewShotGridSearchCV", "FewShotSplit"]
