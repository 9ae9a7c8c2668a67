"""Torch building blocks of sklcm, usable from plain PyTorch or skorch."""
# License: BSD 3 clause

from ._losses import SymmetricInfoNCE
from ._multiview import MultiTowerMLP, SubsetInfoNCE
from ._towers import BoxHead, MLPTower, SphereHead, TwoTowerMLP

__all__ = [
    "BoxHead",
    "MLPTower",
    "MultiTowerMLP",
    "SphereHead",
    "SubsetInfoNCE",
    "SymmetricInfoNCE",
    "TwoTowerMLP",
]
