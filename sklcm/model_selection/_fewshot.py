"""Few-shot cross-validation splitter (k labelled shots per class)."""
# License: BSD 3 clause

from numbers import Integral, Real

import numpy as np
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.model_selection._split import _build_repr
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_consistent_length, column_or_1d


def _plain(value):
    """A numpy scalar as the Python value it holds (3, not np.int64(3))."""
    return value.item() if isinstance(value, np.generic) else value


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {_plain(value)!r}.")
    return int(value)


def _check_test_size(test_size):
    if test_size is None:
        return None
    if isinstance(test_size, Integral) and not isinstance(test_size, bool):
        if test_size >= 1:
            return int(test_size)
    elif isinstance(test_size, Real) and 0 < test_size < 1:
        return float(test_size)
    raise ValueError(
        "test_size must be None (test on every row not drawn), a float in (0, 1) "
        f"or an int >= 1 (a fixed test set), got {_plain(test_size)!r}."
    )


class FewShotSplit:
    """Few-shot splitter: k labelled shots per class to train, the rest to test.

    Each of ``n_draws`` splits draws ``n_shots`` (plus ``n_val_shots``)
    samples of every class at random as the training rows. The test rows are
    either every other row (``test_size=None``) or a fixed, stratified test
    set drawn once (``test_size`` given), in which case the shots are drawn
    from the remaining rows, the *pool*, on which unsupervised steps may be
    fitted (:meth:`split_pool`). It plugs into
    :func:`~sklearn.model_selection.cross_validate`,
    :func:`~sklearn.model_selection.cross_val_score` and
    :class:`~sklearn.model_selection.GridSearchCV` like any scikit-learn
    splitter, so the probe can be any classifier or Pipeline.

    Read more in the :ref:`User Guide <realdata>`.

    Parameters
    ----------
    n_shots : int, default=1
        Labelled training samples per class in each split.
    n_val_shots : int, default=0
        Extra labelled samples per class drawn with the shots, for choosing
        hyper-parameters (e.g. the ``C`` of a logistic regression): the
        training rows of a split hold ``n_shots + n_val_shots`` samples per
        class, and :meth:`validation_split` returns the inner splitter that
        separates them again (pass it as the ``cv`` of a
        :class:`FewShotGridSearchCV` probe, which trains the chosen probe on
        the ``n_shots`` only).
    n_draws : int, default=50
        Number of random draws (splits).
    test_size : float, int or None, default=None
        None: the test rows of a split are all rows not drawn for it. A float
        in (0, 1) or an int: a fixed test set of that fraction or size,
        stratified by class and the same in every split.
    random_state : int, RandomState instance or None, default=None
        Controls the draws and the fixed test set. Pass an int for
        reproducible splits across calls. The fixed test set is the same in
        every call of :meth:`split` and :meth:`split_pool` of an instance
        whatever ``random_state`` is: with an int it is drawn from that
        seed; with None or a RandomState instance, a seed for it is drawn
        (from ``random_state``) at the first call and kept by the instance,
        while the shots are drawn afresh at each call, as scikit-learn's
        splitters do.
        See :term:`Glossary <random_state>`.

    See Also
    --------
    FewShotGridSearchCV : Choose a probe's hyper-parameters on the validation
        shots and train it on the shots only.
    sklearn.model_selection.StratifiedShuffleSplit : Stratified splits with
        proportional (not fixed per-class) training sizes.

    Notes
    -----
    The training rows of a split are ordered class by class. Every class
    needs at least ``n_shots + n_val_shots`` samples among the rows the shots
    are drawn from, and at least one row must be left for testing.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklcm.model_selection import FewShotSplit
    >>> X = np.r_[np.zeros((20, 2)), np.ones((20, 2))]
    >>> y = np.repeat([0, 1], 20)
    >>> cv = FewShotSplit(n_shots=2, n_draws=5, random_state=0)
    >>> train, test = next(cv.split(X, y))
    >>> len(train), len(test), np.bincount(y[train]).tolist()
    (4, 36, [2, 2])
    >>> cross_val_score(LogisticRegression(), X, y, cv=cv).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """

    def __init__(
        self, n_shots=1, *, n_val_shots=0, n_draws=50, test_size=None, random_state=None
    ):
        self.n_shots = _check_int("n_shots", n_shots, 1)
        self.n_val_shots = _check_int("n_val_shots", n_val_shots, 0)
        self.n_draws = _check_int("n_draws", n_draws, 1)
        self.test_size = _check_test_size(test_size)
        self.random_state = random_state

    def __repr__(self):
        return _build_repr(self)

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splits, ``n_draws``.

        Parameters
        ----------
        X : object
            Ignored, exists for compatibility.
        y : object
            Ignored, exists for compatibility.
        groups : object
            Ignored, exists for compatibility.

        Returns
        -------
        n_splits : int
            The number of draws.
        """
        return self.n_draws

    def _check_y(self, X, y):
        if y is None:
            raise ValueError(
                "FewShotSplit needs the class labels: pass y to split() (the "
                "shots are drawn per class)."
            )
        y = column_or_1d(y, warn=True)
        if type_of_target(y, input_name="y") not in ("binary", "multiclass"):
            raise ValueError(
                f"FewShotSplit needs class labels in y, got {type_of_target(y)!r} "
                "targets."
            )
        if X is not None:
            check_consistent_length(X, y)
        return y

    def _generators(self):
        """The generators of the fixed test set and of the shots.

        With an int ``random_state`` both are one ``RandomState(seed)`` (the
        test set first, then the shots). Otherwise the test set comes from
        a seed drawn once per instance, so that :meth:`split_pool` and every
        :meth:`split` hold out the same rows.
        """
        rng = check_random_state(self.random_state)
        if isinstance(self.random_state, Integral) or self.test_size is None:
            return rng, rng  # no fixed test set to keep in the second case
        if getattr(self, "_test_seed", None) is None:
            self._test_seed = int(rng.randint(np.iinfo(np.int32).max))
        return np.random.RandomState(self._test_seed), rng

    def _pool_test(self, y, rng):
        n = len(y)
        if self.test_size is None:
            return np.arange(n), None
        sss = StratifiedShuffleSplit(1, test_size=self.test_size, random_state=rng)
        try:
            pool, test = next(sss.split(np.zeros((n, 1)), y))
        except ValueError as exc:
            raise ValueError(f"test_size={self.test_size!r}: {exc}") from None
        return np.sort(pool), np.sort(test)

    def split_pool(self, X=None, y=None, groups=None):
        """Return the unlabelled pool and the fixed test rows.

        Unsupervised steps (scaling, PCA, ICA, a contrastive encoder) fitted
        on ``X[pool]`` never see a test row; the shots of :meth:`split` are
        drawn from the pool. These are the test rows of every :meth:`split`
        of this instance, whatever the call order and ``random_state``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            Data, only used to check its length against ``y``.
        y : array-like of shape (n_samples,)
            Class labels.
        groups : object
            Ignored, exists for compatibility.

        Returns
        -------
        pool : ndarray of int
            Rows that may be used without labels (and from which the shots
            are drawn).
        test : ndarray of int
            The fixed test rows.
        """
        if self.test_size is None:
            raise ValueError(
                "split_pool needs a fixed test set: set test_size (e.g. "
                "test_size=0.3); with test_size=None every row is a test row "
                "of some split."
            )
        y = self._check_y(X, y)
        return self._pool_test(y, self._generators()[0])

    def split(self, X, y=None, groups=None):
        """Generate indices to split data into training and test sets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels (required).
        groups : object
            Ignored, exists for compatibility.

        Yields
        ------
        train : ndarray
            The training rows: ``n_shots + n_val_shots`` per class.
        test : ndarray
            The test rows of that split.
        """
        y = self._check_y(X, y)
        test_rng, rng = self._generators()
        pool, test = self._pool_test(y, test_rng)
        classes, counts = np.unique(y[pool], return_counts=True)
        missing = np.setdiff1d(np.unique(y), classes)
        need = self.n_shots + self.n_val_shots
        if missing.size or counts.min() < need:
            label = _plain(missing[0] if missing.size else classes[np.argmin(counts)])
            have = 0 if missing.size else int(counts.min())
            where = "the pool (rows outside the test set)" if test is not None else "y"
            raise ValueError(
                f"class {label!r} has {have} samples in {where}, fewer than "
                f"n_shots + n_val_shots = {need}; lower n_shots or drop the class."
            )
        if test is None and counts.sum() == need * len(classes):
            raise ValueError(
                f"n_shots + n_val_shots = {need} per class uses every sample: no "
                "row is left for testing."
            )
        by_class = [pool[y[pool] == c] for c in classes]
        for _ in range(self.n_draws):
            train = np.concatenate(
                [rng.choice(rows, need, replace=False) for rows in by_class]
            )
            if test is None:
                yield train, np.setdiff1d(pool, train, assume_unique=True)
            else:
                yield train, test

    def validation_split(self):
        """Return the inner splitter that separates shots from validation shots.

        Applied to the training rows of a split of this splitter, it yields
        one split with ``n_shots`` per class for training and the
        ``n_val_shots`` per class for validation: pass it as ``cv`` of a
        :class:`FewShotGridSearchCV` that chooses the probe's
        hyper-parameters on the validation shots and then trains the probe
        on the ``n_shots`` only. (A plain
        :class:`~sklearn.model_selection.GridSearchCV` with this ``cv``
        would refit the probe on the shots and the validation shots
        together, ``n_shots + n_val_shots`` per class.)

        Returns
        -------
        cv : FewShotSplit
            ``FewShotSplit(n_shots, n_draws=1, random_state=...)``.

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
        ...     LogisticRegression(), {"C": [0.01, 1.0]}, cv=cv.validation_split()
        ... )
        >>> cross_val_score(probe, X, y, cv=cv).shape
        (3,)
        """
        if self.n_val_shots == 0:
            raise ValueError(
                "validation_split needs validation shots: set n_val_shots >= 1."
            )
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        return FewShotSplit(self.n_shots, n_draws=1, random_state=int(seed))
