"""Private input validators shared by several sklcm modules."""
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


def check_view_widths(split, n_features, *, name="split"):
    """Validate the view widths of a stacked ``[x_1 | ... | x_K]`` array.

    Parameters
    ----------
    split : int or sequence of int
        An int is the two-view case: the number of leading columns of the
        first view (validated by :func:`check_split`). A sequence gives the
        width of every view, in column order: at least two widths, each at
        least 1, adding up to ``n_features``.
    n_features : int
        Total number of columns of the stacked array.
    name : str, default="split"
        Parameter name used in error messages.

    Returns
    -------
    widths : list of int
        The width of every view.
    """
    if split is None:
        raise ValueError(
            f"`{name}` is required: pass the width of every view of "
            "X = [x_1 | ... | x_K] as a list of ints, or for two views the "
            "width of the first one."
        )
    if isinstance(split, Integral):  # bools are rejected by check_split
        split = check_split(split, n_features, name=name)
        return [split, n_features - split]
    if isinstance(split, str) or not hasattr(split, "__iter__"):
        raise TypeError(
            f"`{name}` must be an int (two views: the width of the first) or a "
            f"list of view widths, got {type(split).__name__}."
        )
    widths = list(split)
    if not all(isinstance(w, Integral) and not isinstance(w, bool) for w in widths):
        raise TypeError(f"`{name}` must be a list of ints, got {split!r}.")
    if len(widths) < 2:
        raise ValueError(f"`{name}` must list at least 2 view widths, got {widths}.")
    if min(widths) < 1:
        raise ValueError(
            f"`{name}` must give every view at least 1 column, got {widths}."
        )
    if sum(widths) != n_features:
        raise ValueError(
            f"`{name}`={widths} adds up to {sum(widths)} columns, but X has "
            f"{n_features}: the view widths must add up to the number of features."
        )
    return [int(w) for w in widths]


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
