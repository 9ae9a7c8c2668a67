"""Cross-modal retrieval accuracy of paired representations."""
# License: BSD 3 clause

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from ..utils._param_validation import (
    Integral,
    Interval,
    Real,
    StrOptions,
    validate_params,
)


def _similarity(u, v, similarity, p):
    """Similarity matrix ``s(u_i, v_j)`` in float64."""
    if similarity == "cosine":
        u = u / np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        return u @ v.T
    return -cdist(u, v, metric="minkowski", p=p)


# similarities closer than this (relative to their scale) count as tied, so
# identical rows tie whatever rounding the matrix product gives them
_TIE_RTOL = 1e-9


def _tie_tolerance(sim):
    """Absolute tolerance under which two entries of ``sim`` count as tied."""
    finite = np.abs(sim[np.isfinite(sim)])
    return _TIE_RTOL * (1.0 + (finite.max() if finite.size else 0.0))


def _top1_credit(sim):
    """Per-row retrieval credit: 1 when the partner (the diagonal entry) is
    strictly the most similar candidate, ``1 / m`` when it shares the top
    similarity with ``m - 1`` others (a random pick among them), else 0."""
    at_top = sim >= sim.max(axis=1, keepdims=True) - _tie_tolerance(sim)
    return np.diag(at_top) / at_top.sum(axis=1)


def _blocks(n_samples, block_size, random_state):
    """Row indices of the blocks: every row in exactly one block.

    One block when ``n_samples <= block_size``; otherwise the rows are
    shuffled with ``random_state`` (so the score does not depend on the row
    order, e.g. rows sorted by class) and cut into ``n_samples // block_size``
    blocks of equal size up to one row, each holding between ``block_size``
    and ``2 * block_size - 1`` rows.
    """
    if n_samples <= block_size:
        return [np.arange(n_samples)]
    order = check_random_state(random_state).permutation(n_samples)
    return np.array_split(order, n_samples // block_size)


@validate_params(
    {
        "z_x": ["array-like"],
        "z_t": ["array-like"],
        "similarity": [StrOptions({"cosine", "lp"})],
        "p": [Interval(Real, 1, None, closed="left")],
        "block_size": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def retrieval_accuracy(
    z_x, z_t, *, similarity="cosine", p=1.0, block_size=256, random_state=0
):
    r"""Top-1 cross-modal retrieval accuracy of paired representations.

    Row ``i`` of ``z_x`` and row ``i`` of ``z_t`` are a pair. The pairs are cut
    into blocks of about ``block_size`` pairs; inside each block every
    ``z_x[i]`` retrieves the ``z_t`` row most similar to it, and every
    ``z_t[i]`` the most similar ``z_x`` row. A retrieval is a hit when the
    partner is strictly more similar than every other candidate; when the
    partner ties with ``m - 1`` other candidates for the top similarity, the
    retrieval earns ``1 / m`` (the chance that a random pick among the tied
    candidates is the partner), so collapsed representations score chance
    level. The score is the mean credit over both directions and all pairs.

    Unlike an InfoNCE loss, the score does not depend on a temperature or a
    batch size, so it compares encoders trained with different ones. Chance
    level is one over the block's size (``1 / block_size`` for long
    samples); compare scores computed with the same ``block_size`` only.

    Parameters
    ----------
    z_x : array-like of shape (n_samples, n_components)
        Representations of modality x.
    z_t : array-like of shape (n_samples, n_components)
        Representations of modality t, row-aligned with ``z_x``.
    similarity : {"cosine", "lp"}, default="cosine"
        ``"cosine"``: cosine similarity (the sphere geometry). ``"lp"``: minus
        the :math:`L_p` distance (the box geometry).
    p : float, default=1.0
        Order of the norm for ``similarity="lp"``.
    block_size : int, default=256
        Pairs per block, i.e. candidates per search. Every pair is scored:
        when ``n_samples <= block_size`` all pairs form one block; otherwise
        the pairs are shuffled with ``random_state`` and cut into
        ``n_samples // block_size`` blocks of equal size (up to one pair),
        each of ``block_size`` to ``2 * block_size - 1`` pairs, so the score
        does not depend on the order of the rows beyond sampling noise.
    random_state : int, RandomState instance or None, default=0
        Seed of the shuffle before blocking (unused with one block). The
        default makes the score a deterministic function of the set of
        pairs.

    Returns
    -------
    score : float
        Fraction of correct top-1 retrievals, in [0, 1].

    See Also
    --------
    neighbor_agreement : Cross-view agreement of nearest neighbours.
    sklcm.MultimodalContrastiveEncoder.score : The label-free score of
        held-out pairs.

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm.metrics import retrieval_accuracy
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(512, 4))
    >>> retrieval_accuracy(z, z + 0.01 * rng.normal(size=z.shape))
    1.0
    >>> retrieval_accuracy(z, rng.normal(size=z.shape)) < 0.05
    True
    """
    z_x, z_t = _check_pairs(z_x, z_t, min_samples=2)
    credit = 0.0
    for rows in _blocks(len(z_x), block_size, random_state):
        sim = _similarity(z_x[rows], z_t[rows], similarity, p)
        credit += _top1_credit(sim).sum() + _top1_credit(sim.T).sum()
    return float(credit / (2 * len(z_x)))


def _check_pairs(z_x, z_t, *, min_samples):
    """Validate two row-aligned float representations of the same shape."""
    z_x = check_array(
        z_x, dtype=np.float64, input_name="z_x", ensure_min_samples=min_samples
    )
    z_t = check_array(
        z_t, dtype=np.float64, input_name="z_t", ensure_min_samples=min_samples
    )
    if z_x.shape != z_t.shape:
        raise ValueError(
            f"z_x and z_t must have the same shape (row i of each is a pair), got "
            f"{z_x.shape} and {z_t.shape}."
        )
    return z_x, z_t


def _neighbor_weights(sim, n_neighbors):
    """Neighbour weights ``w[i, j]`` in [0, 1], summing to ``n_neighbors``
    per row.

    ``sim`` is a within-view similarity matrix whose diagonal is ignored.
    Columns strictly more similar than the ``n_neighbors``-th most similar
    one weigh 1; the ``b`` columns tied with it share the remaining places
    equally (each weighs ``(n_neighbors - a) / b`` when ``a`` columns are
    strictly above), so a tie at the boundary is neither all in nor all out.
    """
    sim = sim.copy()
    np.fill_diagonal(sim, -np.inf)
    tol = _tie_tolerance(sim)
    cutoff = -np.partition(-sim, n_neighbors - 1, axis=1)[:, [n_neighbors - 1]]
    above = sim > cutoff + tol
    tied = ~above & (sim >= cutoff - tol)
    share = (n_neighbors - above.sum(axis=1, keepdims=True)) / tied.sum(
        axis=1, keepdims=True
    )
    return above + tied * share, tied.sum(axis=1) == len(sim) - 1


def _block_agreement(sim_x, sim_t, n_neighbors):
    """Summed per-pair agreement of one block's within-view similarities.

    A pair's agreement is ``sum_j min(w_x[i, j], w_t[i, j]) / n_neighbors``:
    the shared neighbours when ties are broken alike in both views, so
    identical views score 1 whatever their ties. A pair tied with every other
    pair in both views has no neighbourhood to agree on and scores chance
    level, ``n_neighbors / (size - 1)``.
    """
    w_x, flat_x = _neighbor_weights(sim_x, n_neighbors)
    w_t, flat_t = _neighbor_weights(sim_t, n_neighbors)
    agreement = np.minimum(w_x, w_t).sum(axis=1) / n_neighbors
    chance = n_neighbors / (len(w_x) - 1)
    return np.where(flat_x & flat_t, chance, agreement).sum()


@validate_params(
    {
        "z_x": ["array-like"],
        "z_t": ["array-like"],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "similarity": [StrOptions({"cosine", "lp"})],
        "p": [Interval(Real, 1, None, closed="left")],
        "block_size": [Interval(Integral, 3, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def neighbor_agreement(
    z_x,
    z_t,
    *,
    n_neighbors=10,
    similarity="cosine",
    p=1.0,
    block_size=256,
    random_state=0,
):
    r"""Cross-view nearest-neighbour agreement of paired representations.

    Row ``i`` of ``z_x`` and row ``i`` of ``z_t`` are a pair. The pairs are cut
    into blocks of about ``block_size`` pairs; inside each block, pair ``i``
    gets its ``n_neighbors`` nearest other pairs once in the x representation
    and once in the t representation, and the score is the fraction of those
    x neighbours that are t neighbours too, averaged over all pairs.
    Neighbours are ranked with the similarity of the geometry, within each
    view.

    Ties are shared, not dropped: when several pairs tie for the last
    neighbour places, each gets an equal fraction of those places, and a
    pair's agreement is :math:`\sum_j \min(w^x_{ij}, w^t_{ij}) / k` for these
    neighbour weights :math:`w` (the overlap when ties are broken alike in
    both views). So identical views score 1 whatever their ties, and a view
    with groups of identical rows (one caption per class, any categorical
    modality) still scores how many of the other view's neighbours fall in
    the pair's group. A pair tied with every other pair in both views (both
    representations collapsed) scores chance level.

    The score is 1 when both towers order every neighbourhood alike and needs
    no labels, no temperature and no batch size, so it compares encoders
    trained with different ones. Unlike :func:`retrieval_accuracy` it rewards
    representations whose neighbourhoods are shared by the two views (such as
    objects of one class) rather than ones that tell every pair apart, which
    makes it the better guide to a temperature on real data. Chance level
    (independent views) is ``n_neighbors / (size - 1)`` for blocks of
    ``size`` pairs (about ``n_neighbors / (block_size - 1)``); compare scores
    computed with the same ``n_neighbors`` and ``block_size`` only.

    Parameters
    ----------
    z_x : array-like of shape (n_samples, n_components)
        Representations of modality x.
    z_t : array-like of shape (n_samples, n_components)
        Representations of modality t, row-aligned with ``z_x``.
    n_neighbors : int, default=10
        Neighbours per pair and view; at most the block size minus 2.
    similarity : {"cosine", "lp"}, default="cosine"
        ``"cosine"``: cosine similarity (the sphere geometry). ``"lp"``: minus
        the :math:`L_p` distance (the box geometry).
    p : float, default=1.0
        Order of the norm for ``similarity="lp"``.
    block_size : int, default=256
        Pairs per block, i.e. candidates per search. Every pair is scored:
        when ``n_samples <= block_size`` all pairs form one block; otherwise
        the pairs are shuffled with ``random_state`` and cut into
        ``n_samples // block_size`` blocks of equal size (up to one pair),
        each of ``block_size`` to ``2 * block_size - 1`` pairs, so the score
        does not depend on the order of the rows beyond sampling noise.
    random_state : int, RandomState instance or None, default=0
        Seed of the shuffle before blocking (unused with one block). The
        default makes the score a deterministic function of the set of
        pairs.

    Returns
    -------
    score : float
        Mean fraction of shared neighbours, in [0, 1].

    See Also
    --------
    retrieval_accuracy : Top-1 cross-modal retrieval of the partner.
    sklcm.MultimodalContrastiveEncoder.score : This score on held-out pairs.

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm.metrics import neighbor_agreement
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(512, 4))
    >>> neighbor_agreement(z, 2.0 * z)
    1.0
    >>> neighbor_agreement(z, rng.normal(size=z.shape)) < 0.1  # chance: 10 / 255
    True
    >>> groups = np.repeat(rng.normal(size=(8, 4)), 64, axis=0)  # tied rows
    >>> neighbor_agreement(groups, groups)
    1.0
    """
    z_x, z_t = _check_pairs(z_x, z_t, min_samples=3)
    size = min(block_size, len(z_x))
    if n_neighbors > size - 2:
        raise ValueError(
            f"n_neighbors={n_neighbors} needs blocks of at least {n_neighbors + 2} "
            f"pairs, but the blocks hold {size} (n_samples={len(z_x)}, "
            f"block_size={block_size}); lower n_neighbors or pass more pairs."
        )
    shared = 0.0
    for rows in _blocks(len(z_x), block_size, random_state):
        shared += _block_agreement(
            _similarity(z_x[rows], z_x[rows], similarity, p),
            _similarity(z_t[rows], z_t[rows], similarity, p),
            n_neighbors,
        )
    return float(shared / len(z_x))


# Neighbours per pair of the label-free score (fewer in blocks of under 12
# pairs), and the fewest pairs it can score.
LABEL_FREE_NEIGHBORS = 10
LABEL_FREE_MIN_PAIRS = 3


def label_free_score(z_x, z_t, similarity, p, block_size, random_state=0):
    """The label-free criterion of ``score`` and of early stopping.

    Cross-view agreement of the ``LABEL_FREE_NEIGHBORS`` nearest neighbours
    in blocks of about ``block_size`` pairs (:func:`neighbor_agreement`, ties
    shared, every pair scored, rows shuffled with ``random_state`` before
    blocking); with fewer than 12 pairs each pair's neighbours are all the
    other pairs but one. The one
    place to change when trying another criterion. Top-1 retrieval
    (:func:`retrieval_accuracy`) picks as well on synthetic
    grids but prefers the lowest temperature on real data
    (``benchmarks/bench_selection.py``).
    """
    n_pairs = min(len(z_x), block_size)
    if n_pairs < LABEL_FREE_MIN_PAIRS:
        raise ValueError(
            f"the label-free score compares each pair's nearest neighbours in both "
            f"views and needs at least {LABEL_FREE_MIN_PAIRS} pairs, got {len(z_x)}; "
            "pass more held-out pairs."
        )
    return neighbor_agreement(
        z_x,
        z_t,
        n_neighbors=min(LABEL_FREE_NEIGHBORS, n_pairs - 2),
        similarity=similarity,
        p=p,
        block_size=block_size,
        random_state=random_state,
    )
