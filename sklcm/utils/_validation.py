"""Shared input validators used by several sklcm modules."""
# License: BSD 3 clause

from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_array


def check_split(split, n_features, *, name="split"):
    """Validate the number of x columns in a stacked ``[x | t]`` array.

    Parameters
    ----------
    split : int
        Number of leading columns that belong to modality x.
    n_features : int
        Total number of columns of the stacked array.
    name : str, default="split"
        Parameter name used in error messages.

    Returns
    -------
    split : int
        The validated split.
    """
    if split is None:
        raise ValueError(
            f"`{name}` is required: pass the number of x columns of X = [x | t], "
            "e.g. from `sklcm.utils.stack_modalities(X_x, X_t)`."
        )
    if isinstance(split, bool) or not isinstance(split, Integral):
        raise TypeError(f"`{name}` must be an int, got {type(split).__name__}.")
    if not 1 <= split < n_features:
        raise ValueError(
            f"`{name}`={split} leaves a modality empty: X has {n_features} columns, "
            f"so `{name}` must be between 1 and {n_features - 1}."
        )
    return int(split)


def check_latent_pair(z_true, z_pred, *, min_samples=2):
    """Validate a pair of true and predicted latent arrays.

    Both are converted to 2-D float arrays (a 1-D input is one column), must be
    finite and must have the same number of rows, at least ``min_samples``.

    Parameters
    ----------
    z_true : array-like of shape (n_samples, n_true)
        Ground-truth latents.
    z_pred : array-like of shape (n_samples, n_pred)
        Learned representation.
    min_samples : int, default=2
        Smallest number of rows accepted.

    Returns
    -------
    z_true, z_pred : ndarray
        Validated float64 arrays.
    """
    arrays = []
    for name, z in (("z_true", z_true), ("z_pred", z_pred)):
        z = np.asarray(z) if not hasattr(z, "shape") else z
        if getattr(z, "ndim", 2) == 1:
            z = np.asarray(z).reshape(-1, 1)
        arrays.append(
            check_array(
                z,
                dtype=np.float64,
                ensure_min_samples=min_samples,
                input_name=name,
            )
        )
    z_true, z_pred = arrays
    if z_true.shape[0] != z_pred.shape[0]:
        raise ValueError(
            "z_true and z_pred must have the same number of samples, got "
            f"{z_true.shape[0]} and {z_pred.shape[0]}."
        )
    return z_true, z_pred


def stack_modalities(X_x, X_t):
    """Stack two paired modalities into one array and return the split.

    Parameters
    ----------
    X_x : array-like of shape (n_samples, n_features_x)
        Observations of modality x.
    X_t : array-like of shape (n_samples, n_features_t)
        Observations of modality t, row ``i`` paired with row ``i`` of ``X_x``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features_x + n_features_t)
        The array ``[X_x | X_t]``.
    split : int
        Number of x columns, to pass as the ``split`` parameter.

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm.utils import stack_modalities
    >>> X, split = stack_modalities(np.zeros((4, 3)), np.ones((4, 2)))
    >>> X.shape, split
    ((4, 5), 3)
    """
    X_x = check_array(X_x, input_name="X_x", dtype=None)
    X_t = check_array(X_t, input_name="X_t", dtype=None)
    if X_x.shape[0] != X_t.shape[0]:
        raise ValueError(
            "X_x and X_t must be paired row by row, got "
            f"{X_x.shape[0]} and {X_t.shape[0]} rows."
        )
    return np.hstack([X_x, X_t]), X_x.shape[1]


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
