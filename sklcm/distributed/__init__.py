"""Training one encoder on several processes or GPUs.

Importing this subpackage does not import ``accelerate``; fitting does (install
it with ``pip install -e ".[dist]"`` in the sklcm checkout). Searches over
many encoders on a dask cluster need nothing from here: see the
:ref:`scaling` user guide.
"""
# License: BSD 3 clause

from ._accelerate import AcceleratedContrastiveEncoder

__all__ = ["AcceleratedContrastiveEncoder"]
