"""Evaluation protocols on your own data: the few-shot linear probe.

``python -m sklcm fewshot`` is a thin command line over
:func:`fewshot_evaluate`. This package uses sklcm's public estimators;
nothing in the library imports it, and the torch-backed encoder is only
imported when an encoder method runs.
"""
# License: BSD 3 clause

from ._fewshot import fewshot_evaluate

__all__ = ["fewshot_evaluate"]
