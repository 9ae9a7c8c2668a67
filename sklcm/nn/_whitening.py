"""Input whitening numerics of the towers: chunked moments and ZCA matrices."""
# License: BSD 3 clause

import numpy as np

from ..utils._torch import CHUNK_ROWS

# Floor on the eigenvalues of each modality's correlation matrix when
# whitening: directions with less variance are amplified at most 1/sqrt(floor)
# times, so near-constant combinations of features cannot blow up.
_WHITENING_FLOOR = 1e-3
# Eigenvalues at most this fraction of the largest (rounding noise) mark
# directions with no variance at all in the training rows: constant columns,
# exact linear dependencies. Their gain is 0, not 1/sqrt(floor).
_ZERO_VARIANCE_RTOL = 1e-10


def _chunks(X, rows):
    """``X[rows]`` in float64, one block of ``CHUNK_ROWS`` rows at a time."""
    for start in range(0, len(rows), CHUNK_ROWS):
        yield np.asarray(X[rows[start : start + CHUNK_ROWS]], dtype=np.float64)


def column_moments(X, rows):
    """Per-column mean and standard deviation (ddof=1) of ``X[rows]``.

    Accumulated in float64 over chunks of rows (the moments of each chunk
    merged into the running ones), so a memory-mapped ``X`` is never loaded or
    converted as a whole.

    Parameters
    ----------
    X : ndarray or np.memmap of shape (n_samples, n_features)
        The data.
    rows : ndarray of int
        Rows of ``X`` to use.

    Returns
    -------
    mean, std : ndarray of shape (n_features,)
        Column means and standard deviations.
    """
    n, mean, m2 = 0, 0.0, 0.0
    for chunk in _chunks(X, rows):
        k = len(chunk)
        chunk_mean = chunk.mean(axis=0)
        delta = chunk_mean - mean
        mean = mean + delta * (k / (n + k))
        m2 = m2 + ((chunk - chunk_mean) ** 2).sum(axis=0) + delta**2 * (n * k / (n + k))
        n += k
    return mean, np.sqrt(m2 / max(n - 1, 1))


def whitening_matrices(X, rows, split, mean, std):
    """ZCA whitening matrices of the two modalities of ``X[rows]``.

    A pass over chunks of rows accumulates each modality's correlation matrix
    in float64 from the moments of :func:`column_moments`; the matrix of a
    modality maps centred inputs to whitened ones:
    ``diag(1/std) V diag(g) Vᵀ`` for the eigenpairs ``(λ, V)`` of its
    correlation matrix, with gain ``g = max(λ, floor)^(-1/2)`` on directions
    that vary in the training rows and ``g = 0`` on those that do not
    (``λ`` at rounding level: constant columns, whose ``std`` is taken as 1,
    and exact linear dependencies). A direction constant in training carries
    no signal the towers could learn from, so inputs that later move along it
    are never amplified.

    Parameters
    ----------
    X : ndarray or np.memmap of shape (n_samples, n_features)
        Stacked observations ``[x | t]``.
    rows : ndarray of int
        Rows of ``X`` to use.
    split : int or list of int
        Number of leading columns of modality x, or the width of every view
        of ``[x_1 | ... | x_K]``.
    mean, std : ndarray of shape (n_features,)
        Column moments of ``X[rows]``.

    Returns
    -------
    matrix_x, matrix_t : ndarray of shape (n_features_m, n_features_m)
        One whitening matrix per modality (per view with a list ``split``).
    """
    std = np.where(std > 1e-12, std, 1.0)
    widths = [split, len(mean) - split] if np.ndim(split) == 0 else list(split)
    stops = np.cumsum(widths)
    blocks = [slice(stop - w, stop) for w, stop in zip(widths, stops)]
    cross = [np.zeros((len(mean[s]), len(mean[s]))) for s in blocks]
    for Z in _chunks(X, rows):
        Z = (Z - mean) / std
        for acc, s in zip(cross, blocks):
            acc += Z[:, s].T @ Z[:, s]
    matrices = []
    for acc, s in zip(cross, blocks):
        eigval, eigvec = np.linalg.eigh(acc / max(len(rows) - 1, 1))
        varies = eigval > _ZERO_VARIANCE_RTOL * max(eigval.max(), 1.0)
        gain = np.where(varies, 1 / np.sqrt(np.maximum(eigval, _WHITENING_FLOOR)), 0)
        zca = (eigvec * gain) @ eigvec.T
        matrices.append(zca / std[s][:, None])
    return matrices


def set_input_statistics(module, X, rows, *, whiten):
    """Store the input statistics of ``X[rows]`` in a :class:`TwoTowerMLP`.

    Per-feature means and standard deviations, or with ``whiten=True`` the
    means and one whitening matrix per modality (:func:`whitening_matrices`).
    """
    mean, std = column_moments(X, rows)
    if whiten:
        module._set_whitening(
            mean, *whitening_matrices(X, rows, module.split, mean, std)
        )
    else:
        module._set_moments(mean, std)
