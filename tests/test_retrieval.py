"""Tests of sklcm.metrics.retrieval_accuracy and neighbor_agreement."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from sklcm.metrics import neighbor_agreement, retrieval_accuracy


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


def test_neighbor_agreement_known_values_on_a_line():
    # 1-D points, L1 distance, 1 neighbour. x: 0 1 3 7 -> neighbours 1 0 1 2;
    # t: 0 2 3 10 -> neighbours 1 2 1 2; rows 0, 2 and 3 agree.
    x = np.array([[0.0], [1.0], [3.0], [7.0]])
    t = np.array([[0.0], [2.0], [3.0], [10.0]])
    kw = {"n_neighbors": 1, "similarity": "lp"}
    assert neighbor_agreement(x, t, **kw) == pytest.approx(3 / 4)
    # blocks of 3: row 3 (a partial block) is left out; rows 0 and 2 agree
    assert neighbor_agreement(x, t, block_size=3, **kw) == pytest.approx(2 / 3)
    # 2 neighbours: x {1,2} {0,2} {1,0} {2,1}; t {1,2} {2,0} {1,0} {2,1}
    assert neighbor_agreement(x, t, n_neighbors=2, similarity="lp") == 1.0


def _brute_force_agreement(z_x, z_t, k):
    """Set overlap of each row's k cosine neighbours, one row at a time."""

    def neighbours(z, i):
        z = z / np.linalg.norm(z, axis=1, keepdims=True)
        sim = z @ z[i]
        sim[i] = -np.inf
        return set(np.argsort(-sim)[:k])

    return np.mean(
        [len(neighbours(z_x, i) & neighbours(z_t, i)) / k for i in range(len(z_x))]
    )


def test_neighbor_agreement_matches_a_brute_force_count():
    rng = np.random.default_rng(3)
    z_x = rng.normal(size=(120, 4))
    z_t = z_x + 0.7 * rng.normal(size=z_x.shape)
    expected = _brute_force_agreement(z_x, z_t, 7)
    assert 0.1 < expected < 0.9
    assert neighbor_agreement(z_x, z_t, n_neighbors=7) == pytest.approx(expected)


def test_neighbor_agreement_cosine_is_rotation_invariant_and_lp_is_not():
    rng = np.random.default_rng(4)
    z_x = rng.normal(size=(300, 5))
    z_t = z_x + 0.5 * rng.normal(size=z_x.shape)
    q1, q2 = ortho_group.rvs(5, size=2, random_state=0)
    base = neighbor_agreement(z_x, z_t)
    # within-view neighbourhoods: each view may even be rotated on its own
    assert neighbor_agreement(z_x @ q1, z_t @ q1) == pytest.approx(base)
    assert neighbor_agreement(z_x @ q1, z_t @ q2) == pytest.approx(base)
    lp = neighbor_agreement(z_x, z_t, similarity="lp")
    assert neighbor_agreement(z_x @ q1, z_t @ q1, similarity="lp") != lp


def test_neighbor_agreement_ties_and_collapse_score_zero():
    z = np.ones((20, 2))
    assert neighbor_agreement(z, z) == 0.0
    assert neighbor_agreement(z, z, similarity="lp", p=2) == 0.0


def test_neighbor_agreement_chance_level_is_k_over_block_size_minus_one():
    rng = np.random.default_rng(5)
    u, v = rng.normal(size=(2, 128 * 20, 3))
    score = neighbor_agreement(u, v, n_neighbors=5, block_size=128)
    assert score == pytest.approx(5 / 127, rel=0.15)
    # comparable across sample counts: a longer sample keeps the level
    longer = neighbor_agreement(
        *rng.normal(size=(2, 128 * 60, 3)), n_neighbors=5, block_size=128
    )
    assert longer == pytest.approx(5 / 127, rel=0.15)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(z_t=np.zeros((6, 2))), "same shape"),
        (dict(similarity="cosin"), "similarity"),
        (dict(block_size=2), "block_size"),
        (dict(n_neighbors=0), "n_neighbors"),
        (dict(n_neighbors=4), "n_neighbors=4 needs blocks of at least 6"),
        (dict(n_neighbors=2, block_size=3), "lower n_neighbors"),
        (dict(p=0.5), "p"),
    ],
)
def test_neighbor_agreement_bad_input(kwargs, match):
    params = {"z_x": np.zeros((5, 2)), "z_t": np.zeros((5, 2)), **kwargs}
    with pytest.raises(ValueError, match=match):
        neighbor_agreement(**params)
