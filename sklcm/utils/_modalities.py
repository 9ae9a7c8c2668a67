"""Stack two paired modalities into the single array ``X = [x | t]``."""
# License: BSD 3 clause

import numpy as np
from sklearn.utils.validation import check_array


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
