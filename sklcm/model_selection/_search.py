"""Grid search on validation shots, final fit on the shots only."""
# License: BSD 3 clause

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.model_selection import GridSearchCV, check_cv
from sklearn.utils import _safe_indexing, get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, indexable

from ..utils._param_validation import _fit_context


def _best_has(method):
    """``available_if`` check: the (fitted or given) estimator has ``method``."""

    def check(self):
        estimator = getattr(self, "best_estimator_", self.estimator)
        return hasattr(estimator, method)

    return check


def _estimator_score(estimator, X, y):
    """The estimator's own ``score`` (accuracy for a classifier), as a scorer."""
    return estimator.score(X, y)


def _tie_break(results):
    """Index of the chosen candidate in ``cv_results_``.

    Highest validation score; among tied candidates the lowest validation
    log-loss (when measured); among those still tied, the middle one in grid
    order (the lower of the two middles).
    """
    score = results["mean_test_score"]
    tied = np.flatnonzero(score >= np.nanmax(score) - 1e-12)
    if "mean_test_log_loss" in results:
        loss = -results["mean_test_log_loss"][tied]
        if np.isfinite(loss).any():
            tied = tied[loss <= np.nanmin(loss) + 1e-12]
    return int(tied[(len(tied) - 1) // 2])


class FewShotGridSearchCV(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Choose hyper-parameters on validation shots, then fit on the shots only.

    ``cv`` cuts the training rows into the shots and the validation shots
    (:meth:`FewShotSplit.validation_split` does so). Each candidate of
    ``param_grid`` is fitted on the shots and scored on the validation
    shots; the chosen one is then fitted on the shots alone, so that a
    ``k``-shot probe trains on ``k`` samples per class. A plain
    :class:`~sklearn.model_selection.GridSearchCV` with the same ``cv``
    would refit the chosen candidate on shots and validation shots
    together.

    With one or two validation shots per class the validation accuracies of
    neighbouring candidates often tie (a plain ``GridSearchCV`` then takes the
    first candidate, e.g. the smallest ``C``). Ties are broken by the
    validation log-loss (a proper scoring rule that separates candidates
    the accuracy cannot) when the estimator has ``predict_proba``, and any
    remaining tie by the middle of the tied candidates in grid order.

    Read more in the :ref:`User Guide <realdata>`.

    Parameters
    ----------
    estimator : estimator object
        A classifier with ``fit`` and ``score``; cloned for every fit.
    param_grid : dict or list of dict
        The candidates, as for :class:`~sklearn.model_selection.GridSearchCV`.
        Order the values of a parameter (e.g. increasing ``C``) so that "the
        middle of the tied candidates" is the middle of a range.
    cv : cross-validation splitter or iterable
        Yields exactly one ``(shots, validation_shots)`` split of the rows
        passed to :meth:`fit`, e.g. ``FewShotSplit(...).validation_split()``.

    Attributes
    ----------
    best_estimator_ : estimator object
        The chosen candidate, fitted on the shots only.
    best_params_ : dict
        Parameters of the chosen candidate.
    best_index_ : int
        Index of the chosen candidate in ``cv_results_``.
    cv_results_ : dict of ndarray
        Those of the inner :class:`~sklearn.model_selection.GridSearchCV`:
        ``params``, ``mean_test_score`` and, with ``predict_proba``,
        ``mean_test_log_loss`` (the negated log-loss) on the validation
        shots.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during :term:`fit` (when the estimator
        records it).

    See Also
    --------
    FewShotSplit : The few-shot splitter whose ``validation_split`` gives ``cv``.
    sklearn.model_selection.GridSearchCV : Refits on all the rows passed to fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklcm.model_selection import FewShotGridSearchCV, FewShotSplit
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 30)
    >>> X = y[:, None] + 0.5 * rng.normal(size=(90, 4))
    >>> cv = FewShotSplit(2, n_val_shots=2, n_draws=3, random_state=0)
    >>> probe = FewShotGridSearchCV(
    ...     LogisticRegression(), {"C": [0.01, 1.0, 100.0]}, cv=cv.validation_split()
    ... )
    >>> cross_val_score(probe, X, y, cv=cv).shape
    (3,)
    >>> train, _ = next(cv.split(X, y))  # 2 shots + 2 validation shots per class
    >>> probe.fit(X[train], y[train]).best_params_
    {'C': 1.0}
    """

    _parameter_constraints: dict = {
        "estimator": "no_validation",
        "param_grid": [dict, list],
        "cv": "no_validation",
    }

    def __init__(self, estimator, param_grid, *, cv):
        self.estimator = estimator
        self.param_grid = param_grid
        self.cv = cv

    def _shots(self, X, y):
        splits = list(check_cv(self.cv, y, classifier=True).split(X, y))
        if len(splits) != 1:
            raise ValueError(
                f"cv must yield one (shots, validation shots) split, got "
                f"{len(splits)}; pass FewShotSplit(...).validation_split()."
            )
        return splits[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        return tags

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Choose the candidate on the validation shots and fit it on the shots.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows: the shots and the validation shots.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : object
            The fitted search.
        """
        X, y = indexable(X, y)
        check_classification_targets(y)
        if len(y) < 2:
            raise ValueError(
                "FewShotGridSearchCV needs shots and validation shots, got "
                f"n_samples={len(y)}."
            )
        shots, val = self._shots(X, y)
        scoring = None  # the estimator's score method
        if hasattr(self.estimator, "predict_proba"):
            scoring = {"score": _estimator_score, "log_loss": "neg_log_loss"}
        search = GridSearchCV(
            self.estimator, self.param_grid, cv=[(shots, val)], scoring=scoring,
            refit=False, error_score="raise",
        ).fit(X, y)  # fmt: skip
        results = search.cv_results_
        self.cv_results_ = results
        self.best_index_ = _tie_break(results)
        self.best_params_ = results["params"][self.best_index_]
        estimator = clone(self.estimator).set_params(**self.best_params_)
        self.best_estimator_ = estimator.fit(
            _safe_indexing(X, shots), _safe_indexing(y, shots)
        )
        self.classes_ = self.best_estimator_.classes_
        if hasattr(self.best_estimator_, "n_features_in_"):
            self.n_features_in_ = self.best_estimator_.n_features_in_
        return self

    def predict(self, X):
        """Predict with the chosen candidate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        check_is_fitted(self)
        return self.best_estimator_.predict(X)

    @available_if(_best_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the chosen candidate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(X)

    @available_if(_best_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the chosen candidate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The chosen candidate's decision function.
        """
        check_is_fitted(self)
        return self.best_estimator_.decision_function(X)

    def score(self, X, y, sample_weight=None):
        """Score of the chosen candidate (its ``score`` method).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            For a classifier, the mean accuracy.
        """
        check_is_fitted(self)
        if sample_weight is None:
            return self.best_estimator_.score(X, y)
        return self.best_estimator_.score(X, y, sample_weight=sample_weight)
