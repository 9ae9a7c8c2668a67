"""Iterate over an array (e.g. a memory map) in row chunks, for ``partial_fit``."""
# License: BSD 3 clause

from numbers import Integral


def iter_chunks(X, chunk_size):
    """Yield consecutive row blocks of an array without copying it whole.

    Slices of a :class:`numpy.memmap` stay on disk until used, so a data set
    larger than memory can be fed chunk by chunk to ``partial_fit``.

    Parameters
    ----------
    X : ndarray or numpy.memmap of shape (n_samples, n_features)
        The array to split along its rows.
    chunk_size : int
        Rows per chunk (the last chunk may be smaller).

    Yields
    ------
    chunk : ndarray of shape (<= chunk_size, n_features)
        A view of ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm.utils import iter_chunks
    >>> [len(c) for c in iter_chunks(np.zeros((10, 2)), 4)]
    [4, 4, 2]
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, Integral):
        raise TypeError(
            f"`chunk_size` must be an int, got {type(chunk_size).__name__}."
        )
    if chunk_size < 1:
        raise ValueError(f"`chunk_size` must be >= 1, got {chunk_size}.")
    for start in range(0, len(X), chunk_size):
        yield X[start : start + chunk_size]
