"""sklcm: identifiable multimodal contrastive learning, the scikit-learn way.

The torch-backed estimators are imported lazily (PEP 562) so that
``sklcm.metrics`` and ``sklcm.datasets`` stay cheap to import.
"""
# License: BSD 3 clause

import importlib

from ._version import __version__

_LAZY = {
    "MultimodalContrastiveEncoder": "sklcm._encoder",
    "MultimodalContrastiveEncoderCV": "sklcm._encoder_cv",
    "CoupledLatentICA": "sklcm._coupled_ica",
    "IdentifiabilityDisplay": "sklcm.metrics",
    "stack_modalities": "sklcm.utils",
}
_SUBMODULES = {
    "datasets",
    "distributed",
    "evaluation",
    "experiments",
    "metrics",
    "model_selection",
    "nn",
    "preprocessing",
    "utils",
}

__all__ = [
    "CoupledLatentICA",
    "IdentifiabilityDisplay",
    "MultimodalContrastiveEncoder",
    "MultimodalContrastiveEncoderCV",
    "stack_modalities",
    "__version__",
]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"sklcm.{name}")
    raise AttributeError(f"module 'sklcm' has no attribute {name!r}")


def __dir__():
    return sorted(set(__all__) | _SUBMODULES)
