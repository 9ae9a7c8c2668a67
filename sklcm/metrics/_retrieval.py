"""Cross-modal retrieval accuracy of paired representations."""
# License: BSD 3 clause

import numpy as np
from scipy.spatial.distance import cdist
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


def _top1_hits(sim):
    """Rows whose diagonal entry is strictly above every other entry of the row."""
    diag = np.diag(sim).copy()
    np.fill_diagonal(sim, -np.inf)
    return diag > sim.max(axis=1)


@validate_params(
    {
        "z_x": ["array-like"],
        "z_t": ["array-like"],
        "similarity": [StrOptions({"cosine", "lp"})],
        "p": [Interval(Real, 1, None, closed="left")],
        "block_size": [Interval(Integral, 2, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def retrieval_accuracy(z_x, z_t, *, similarity="cosine", p=1.0, block_size=256):
    r"""Top-1 cross-modal retrieval accuracy of paired representations.

    Row ``i`` of ``z_x`` and row ``i`` of ``z_t`` are a pair. The rows are cut
    into consecutive blocks of ``block_size`` pairs; inside each block every
    ``z_x[i]`` retrieves the ``z_t`` row most similar to it, and every
    ``z_t[i]`` the most similar ``z_x`` row. A retrieval is a hit when the
    partner is strictly more similar than every other candidate (ties count as
    misses, so collapsed representations score 0). The score is the fraction
    of hits over both directions and all blocks.

    Unlike an InfoNCE loss, the score does not depend on a temperature or a
    batch size, so it compares encoders trained with different ones. Chance
    level is ``1 / block_size``; compare scores computed with the same
    ``block_size`` only.

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
        Pairs per block, i.e. candidates per retrieval. A trailing block
        smaller than ``block_size`` is left out; when ``n_samples <
        block_size`` all pairs form one block.

    Returns
    -------
    score : float
        Fraction of correct top-1 retrievals, in [0, 1].

    See Also
    --------
    sklcm.MultimodalContrastiveEncoder.score : This score on held-out pairs.

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
    n_samples = len(z_x)
    size = min(block_size, n_samples)
    hits, total = 0, 0
    for start in range(0, n_samples - size + 1, size):
        sim = _similarity(
            z_x[start : start + size], z_t[start : start + size], similarity, p
        )
        hits += _top1_hits(sim.copy()).sum() + _top1_hits(sim.T.copy()).sum()
        total += 2 * size
    return float(hits / total)


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


def _neighbor_mask(sim, n_neighbors):
    """Boolean matrix: ``[i, j]`` is True when ``j`` is one of ``i``'s neighbours.

    ``sim`` is a within-view similarity matrix whose diagonal is ignored. A
    column is a neighbour when it is strictly more similar than the
    ``n_neighbors + 1``-th most similar column, so ties at the boundary count
    as no neighbour (collapsed representations agree on nothing).
    """
    np.fill_diagonal(sim, -np.inf)
    cutoff = -np.partition(-sim, n_neighbors, axis=1)[:, n_neighbors]
    return sim > cutoff[:, None]


@validate_params(
    {
        "z_x": ["array-like"],
        "z_t": ["array-like"],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "similarity": [StrOptions({"cosine", "lp"})],
        "p": [Interval(Real, 1, None, closed="left")],
        "block_size": [Interval(Integral, 3, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def neighbor_agreement(
    z_x, z_t, *, n_neighbors=10, similarity="cosine", p=1.0, block_size=256
):
    r"""Cross-view nearest-neighbour agreement of paired representations.

    Row ``i`` of ``z_x`` and row ``i`` of ``z_t`` are a pair. The rows are cut
    into consecutive blocks of ``block_size`` pairs; inside each block, pair
    ``i`` gets its ``n_neighbors`` nearest other pairs once in the x
    representation and once in the t representation, and the score is the
    fraction of those x neighbours that are t neighbours too, averaged over
    all pairs and blocks. Neighbours are ranked with the similarity of the
    geometry, within each view. A pair tied with the last neighbour is not a
    neighbour, so collapsed representations score 0.

    The score is 1 when both towers order every neighbourhood alike and needs
    no labels, no temperature and no batch size, so it compares encoders
    trained with different ones. Unlike :func:`retrieval_accuracy` it rewards
    representations whose neighbourhoods are shared by the two views (such as
    objects of one class) rather than ones that tell every pair apart, which
    makes it the better guide to a temperature on real data. Chance level
    (independent views) is ``n_neighbors / (block_size - 1)``; compare scores
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
        Pairs per block, i.e. candidates per neighbour search. A trailing
        block smaller than ``block_size`` is left out; when ``n_samples <
        block_size`` all pairs form one block.

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
    """
    z_x, z_t = _check_pairs(z_x, z_t, min_samples=3)
    size = min(block_size, len(z_x))
    if n_neighbors > size - 2:
        raise ValueError(
            f"n_neighbors={n_neighbors} needs blocks of at least {n_neighbors + 2} "
            f"pairs, but the blocks hold {size} (n_samples={len(z_x)}, "
            f"block_size={block_size}); lower n_neighbors or pass more pairs."
        )
    shared, total = 0, 0
    for start in range(0, len(z_x) - size + 1, size):
        block = slice(start, start + size)
        in_x = _neighbor_mask(
            _similarity(z_x[block], z_x[block], similarity, p), n_neighbors
        )
        in_t = _neighbor_mask(
            _similarity(z_t[block], z_t[block], similarity, p), n_neighbors
        )
        shared += np.count_nonzero(in_x & in_t)
        total += size * n_neighbors
    return float(shared / total)


# Neighbours per pair of the label-free score (fewer in blocks of under 12
# pairs), and the fewest pairs it can score.
LABEL_FREE_NEIGHBORS = 10
LABEL_FREE_MIN_PAIRS = 3


def label_free_score(z_x, z_t, similarity, p, block_size):
    """The label-free criterion of ``score`` and of early stopping.

    Cross-view agreement of the ``LABEL_FREE_NEIGHBORS`` nearest neighbours
    in blocks of ``block_size`` pairs (:func:`neighbor_agreement`);
    blocks of fewer than 12 pairs use all but 2 of the other pairs. The one
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
    )
