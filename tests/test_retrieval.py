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
    # blocks of 5 (10 // 4 = 2 blocks, every row in one): the swapped pair
    # misses when it shares a block and hits when it does not
    score = retrieval_accuracy(z, z_t, block_size=4, random_state=0)
    assert score in (pytest.approx(8 / 10), pytest.approx(1.0))


def test_every_row_counts_and_row_order_does_not_matter():
    # 511 pairs: the first 256 perfectly paired, the last 255 random; the old
    # blocking scored only the first whole block (1.0)
    rng = np.random.default_rng(0)
    z_x = rng.normal(size=(511, 4))
    z_t = z_x.copy()
    z_t[256:] = rng.normal(size=(255, 4))
    assert 0.4 < retrieval_accuracy(z_x, z_t) < 0.6
    assert 0.1 < neighbor_agreement(z_x, z_t) < 0.6
    for score in (retrieval_accuracy, neighbor_agreement):
        # a permutation of the rows moves the score by sampling noise only
        order = rng.permutation(511)
        assert score(z_x[order], z_t[order]) == pytest.approx(score(z_x, z_t), abs=0.05)


def test_sorted_rows_score_like_shuffled_rows():
    # rows sorted by class made blocks of one or two classes: the old scores
    # were 0.331 / 0.477 sorted against 0.471 / 0.624 shuffled
    rng = np.random.default_rng(1)
    labels = np.sort(rng.integers(0, 10, size=900))
    centres = 3 * rng.normal(size=(10, 4))
    z_x = centres[labels] + rng.normal(size=(900, 4))
    z_t = z_x + 0.5 * rng.normal(size=(900, 4))
    shuffled = rng.permutation(900)
    for score in (retrieval_accuracy, neighbor_agreement):
        assert score(z_x, z_t) == pytest.approx(
            score(z_x[shuffled], z_t[shuffled]), abs=0.03
        )


def test_ties_share_the_retrieval_credit_and_collapse_scores_chance():
    z = np.ones((20, 2))
    assert retrieval_accuracy(z, z) == pytest.approx(1 / 20)
    assert retrieval_accuracy(z, z, similarity="lp", p=2) == pytest.approx(1 / 20)
    # pairs of identical rows: the partner ties with one other candidate
    rng = np.random.default_rng(2)
    twins = np.repeat(rng.normal(size=(10, 3)), 2, axis=0)
    assert retrieval_accuracy(twins, twins) == pytest.approx(1 / 2)


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
    # block_size=3: the 4 rows still form one block (every row counts)
    assert neighbor_agreement(x, t, block_size=3, **kw) == pytest.approx(3 / 4)
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
    z_x = rng.normal(size=(256, 5))
    z_t = z_x + 0.5 * rng.normal(size=z_x.shape)
    q1, q2 = ortho_group.rvs(5, size=2, random_state=0)
    base = neighbor_agreement(z_x, z_t)
    # within-view neighbourhoods: each view may even be rotated on its own
    assert neighbor_agreement(z_x @ q1, z_t @ q1) == pytest.approx(base)
    assert neighbor_agreement(z_x @ q1, z_t @ q2) == pytest.approx(base)
    lp = neighbor_agreement(z_x, z_t, similarity="lp")
    assert neighbor_agreement(z_x @ q1, z_t @ q1, similarity="lp") != lp


@pytest.mark.parametrize("group", [2, 11, 12, 40])
@pytest.mark.parametrize("similarity", ["cosine", "lp"])
def test_neighbor_agreement_identical_views_score_one_whatever_their_ties(
    group, similarity
):
    # groups of identical rows (one caption per class): with groups of 12 or
    # more every neighbour place was tied and the old score was 0
    rng = np.random.default_rng(group)
    z = np.repeat(rng.normal(size=(300 // group + 1, 3)), group, axis=0)[:300]
    assert neighbor_agreement(z, z, similarity=similarity) == pytest.approx(1.0)
    assert neighbor_agreement(z, 3.0 * z) == pytest.approx(1.0)


def test_neighbor_agreement_collapse_scores_chance_level():
    z = np.ones((20, 2))
    assert neighbor_agreement(z, z) == pytest.approx(10 / 19)
    assert neighbor_agreement(z, z, similarity="lp", p=2) == pytest.approx(10 / 19)
    # one view collapsed, the other informative: chance level as well
    rng = np.random.default_rng(3)
    assert neighbor_agreement(z, rng.normal(size=(20, 2))) == pytest.approx(10 / 19)


def test_neighbor_agreement_ties_share_the_boundary():
    # 1-D, L1, 2 neighbours. x: 0 1 3 7; t: 0 2 2 9 (rows 1 and 2 tied in t)
    # row 0: x {1, 2}, t {1, 2} -> 1; row 1: x {0, 2}, t {2 strictly, then 0
    # and 3 at distance 2 ... } -- computed below from the weights by hand
    x = np.array([[0.0], [1.0], [3.0], [7.0]])
    t = np.array([[0.0], [2.0], [2.0], [9.0]])
    # t weights: row 0: {1: 1, 2: 1}; row 1: {2: 1, 0: 1} (0 at 2, 3 at 7);
    # row 2: {1: 1, 0: 1}; row 3: 1 and 2 tie at 7 -> {1: 1, 2: 1}
    # x weights: row 0: {1, 2}; row 1: {0, 2}; row 2: {1, 0}; row 3: {2, 1}
    kw = {"n_neighbors": 2, "similarity": "lp"}
    assert neighbor_agreement(x, t, **kw) == pytest.approx(1.0)
    # one neighbour: t row 3 ties 1 and 2 (half each), x row 3 picks 2 -> 1/2;
    # t row 0 ties 1 and 2 (half each), x row 0 picks 1 -> 1/2;
    # rows 1 and 2 pick each other in t, x: 1 -> 0, 2 -> 1
    kw = {"n_neighbors": 1, "similarity": "lp"}
    assert neighbor_agreement(x, t, **kw) == pytest.approx((0.5 + 0 + 1 + 0.5) / 4)


def test_neighbor_agreement_rises_with_class_structure_against_a_categorical_view():
    # x: a continuous view; t: one vector per class (a class-template
    # caption). The old score was 0 whatever x; now it tracks how many of x's
    # neighbours share the pair's class.
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 10, size=600)
    templates = rng.normal(size=(10, 8))[labels]
    centres = rng.normal(size=(10, 8))
    scores = [
        neighbor_agreement(
            centres[labels] + noise * rng.normal(size=(600, 8)), templates
        )
        for noise in (3.0, 1.0, 0.3)
    ]
    assert 0 < scores[0] < scores[1] < scores[2]
    # perfect classes in x: each x neighbour holds 10 / (m - 1) of a place
    # among the m - 1 tied class mates of t (about 30 per class and block)
    assert 0.3 < scores[2] < 0.4


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
