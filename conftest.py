"""Test configuration: one thread for torch and BLAS, printing pinned."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_configure(config):
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
