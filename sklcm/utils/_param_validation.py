"""The one importer of scikit-learn's private parameter-validation helpers.

Keeping every private import here means a future scikit-learn change is one edit.
"""
# License: BSD 3 clause

from numbers import Integral, Real

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    validate_params,
)

__all__ = [
    "Integral",
    "Interval",
    "InvalidParameterError",
    "Options",
    "Real",
    "StrOptions",
    "_fit_context",
    "validate_params",
]
