"""Test configuration: one thread for torch and BLAS, printing pinned."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_configure(config):
    # numpy 2 prints scalars as np.float64(1.0); "1.25" keeps numpy 1.x's 1.0.
    # numpy 1.x prints that way already and does not know legacy="1.25".
    if np.lib.NumpyVersion(np.__version__) >= "2.0.0":
        np.set_printoptions(legacy="1.25")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:  # pragma: no cover
        pass


@pytest.fixture
def global_random_seed():
    """Seed for tests; widen with SKLCM_TESTS_GLOBAL_RANDOM_SEED=any."""
    return int(os.environ.get("SKLCM_TESTS_GLOBAL_RANDOM_SEED", "42"))
