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
