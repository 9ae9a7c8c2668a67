"""Tests of sklcm.metrics.retrieval_accuracy."""

import numpy as np
import pytest

from sklcm.metrics import retrieval_accuracy


def test_blocks_and_directions_are_counted_exactly():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(10, 3))
    z_t = z.copy()
    z_t[[0, 1]] = z_t[[1, 0]]  # pairs 0 and 1 swapped: both directions miss
    assert retrieval_accuracy(z, z_t) == pytest.approx(8 / 10)
    # blocks of 4: rows 8-9 (a partial block) are left out, rows 0-1 miss
    assert retrieval_accuracy(z, z_t, block_size=4) == pytest.approx(6 / 8)
    # blocks of 2 holding only the swapped pair score 0 in that block
    assert retrieval_accuracy(z, z_t, block_size=2) == pytest.approx(4 / 5)


def test_ties_and_collapse_score_zero():
    z = np.ones((20, 2))
    assert retrieval_accuracy(z, z) == 0.0
    assert retrieval_accuracy(z, z, similarity="lp", p=2) == 0.0


def test_cosine_ignores_norms_and_lp_does_not():
    rng = np.random.default_rng(1)
    u = rng.normal(size=(300, 4))
    v = u + 0.3 * rng.normal(size=u.shape)
    scale = rng.uniform(0.1, 10, size=(300, 1))
    assert retrieval_accuracy(u * scale, v) == retrieval_accuracy(u, v)
    assert retrieval_accuracy(u * scale, v, similarity="lp") < retrieval_accuracy(
        u, v, similarity="lp"
    )


def test_chance_level_is_one_over_block_size():
    rng = np.random.default_rng(2)
    u, v = rng.normal(size=(2, 256 * 40, 3))
    score = retrieval_accuracy(u, v, block_size=256)
    assert score == pytest.approx(1 / 256, rel=0.3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(z_t=np.zeros((5, 2))), "same shape"),
        (dict(similarity="cosin"), "similarity"),
        (dict(block_size=1), "block_size"),
        (dict(p=0.5), "p"),
    ],
)
def test_bad_input(kwargs, match):
    params = {"z_x": np.zeros((4, 2)), "z_t": np.zeros((4, 2)), **kwargs}
    with pytest.raises(ValueError, match=match):
        retrieval_accuracy(**params)
