"""Scorers ``scorer(estimator, X, y)`` that score a transformer against true latents."""
# License: BSD 3 clause

import inspect

import numpy as np

from ._disentanglement import (
    disentanglement_completeness_informativeness,
    mig_score,
    sap_score,
)
from ._identifiability import block_r2_score, linear_r2_score, mean_corr_coef


def _dci_part(part):
    """``metric(z_true, z_pred, **kwargs)`` returning one of the three DCI scores."""

    def metric(z_true, z_pred, **kwargs):
        dci = disentanglement_completeness_informativeness(z_true, z_pred, **kwargs)
        return dci[part]

    metric.__name__ = f"dci_{part}"
    metric.__signature__ = inspect.signature(
        disentanglement_completeness_informativeness
    )
    return metric


_METRICS = {
    "mcc": mean_corr_coef,
    "r2": linear_r2_score,
    "block_r2": block_r2_score,
    "mig": mig_score,
    "sap": sap_score,
    **{
        f"dci_{part}": _dci_part(part)
        for part in ("disentanglement", "completeness", "informativeness")
    },
}


class _IdentifiabilityScorer:
    """Callable ``scorer(estimator, X, y)`` applying ``metric(y, transform(X))``."""

    def __init__(self, metric, name, kwargs):
        self._metric = metric
        self._name = name
        self._kwargs = kwargs

    def __call__(self, estimator, X, y=None):
        if y is None:
            raise ValueError(
                f"{self!r} needs the true latents as y, e.g. "
                "GridSearchCV(...).fit(X, z_true); got y=None."
            )
        if not hasattr(estimator, "transform"):
            raise TypeError(
                f"{self!r} scores a representation, but "
                f"{type(estimator).__name__} has no transform method (a "
                "Pipeline must end with a transformer)."
            )
        return float(self._metric(y, estimator.transform(X), **self._kwargs))

    def __repr__(self):
        args = [self._name] + [f"{k}={v!r}" for k, v in self._kwargs.items()]
        return f"make_identifiability_scorer({', '.join(args)})"


def make_identifiability_scorer(metric, **kwargs):
    """Make a scorer that compares a transformer's output with the true latents.

    The returned callable ``scorer(estimator, X, y)`` computes
    ``metric(y, estimator.transform(X), **kwargs)``, so it can be passed as
    ``scoring=`` to :class:`~sklearn.model_selection.GridSearchCV` or
    :func:`~sklearn.model_selection.cross_validate` when ``y`` holds the
    true latents (``search.fit(X, z_true)``). It works with any estimator that
    has ``transform``, including a :class:`~sklearn.pipeline.Pipeline` ending
    with a transformer.

    Parameters
    ----------
    metric : {"mcc", "r2", "block_r2", "mig", "sap", "dci_disentanglement", \
            "dci_completeness", "dci_informativeness"} or callable
        ``"mcc"``: :func:`mean_corr_coef`; ``"r2"``: :func:`linear_r2_score`;
        ``"block_r2"``: :func:`block_r2_score`; ``"mig"``: :func:`mig_score`;
        ``"sap"``: :func:`sap_score`; ``"dci_disentanglement"``,
        ``"dci_completeness"``, ``"dci_informativeness"``: one score of
        :func:`disentanglement_completeness_informativeness`. A callable
        must have the signature ``metric(z_true, z_pred, **kwargs)`` and return a float
        where greater is better (negate a distance).

    **kwargs : dict
        Keyword arguments passed to ``metric``. The named metrics that
        split the samples (``"r2"``, ``"block_r2"`` and the DCI scores) use a fixed
        train/test split by default (their ``random_state=0``), so every
        candidate of a search is scored on the same split of its rows.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)`` returning a float. Its ``repr`` shows the
        metric and its keyword arguments.

    See Also
    --------
    mcc_scorer : Ready-made scorer for ``"mcc"``.
    r2_scorer : Ready-made scorer for ``"r2"``.
    mig_scorer : Ready-made scorer for ``"mig"``.
    sap_scorer : Ready-made scorer for ``"sap"``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import FastICA
    >>> from sklcm.metrics import make_identifiability_scorer
    >>> rng = np.random.default_rng(0)
    >>> S = rng.laplace(size=(500, 3))
    >>> X = S @ rng.normal(size=(3, 3))
    >>> scorer = make_identifiability_scorer("mcc", method="spearman")
    >>> scorer
    make_identifiability_scorer('mcc', method='spearman')
    >>> ica = FastICA(whiten="unit-variance", random_state=0).fit(X)
    >>> round(scorer(ica, X, S), 2)
    1.0
    """
    if isinstance(metric, str):
        if metric not in _METRICS:
            raise ValueError(
                f"metric={metric!r} is not a known metric name; use one of "
                f"{sorted(_METRICS)} or a callable metric(z_true, z_pred, **kwargs)."
            )
        func, name = _METRICS[metric], repr(metric)
    elif callable(metric):
        func, name = metric, getattr(metric, "__name__", repr(metric))
    else:
        raise TypeError(
            "metric must be a str among "
            f"{sorted(_METRICS)} or a callable, got {type(metric).__name__}."
        )
    try:
        inspect.signature(func).bind(None, None, **kwargs)
    except TypeError as exc:
        raise TypeError(
            f"Keyword arguments {sorted(kwargs)} do not fit metric {name}: {exc}"
        ) from None
    except ValueError:  # pragma: no cover - callables without a signature
        pass
    return _IdentifiabilityScorer(func, name, kwargs)


_mcc = make_identifiability_scorer("mcc")
_r2 = make_identifiability_scorer("r2")


def mcc_scorer(estimator, X, y=None):
    """Score a fitted transformer by the MCC of its output against true latents.

    Computes ``mean_corr_coef(y, estimator.transform(X))`` (Pearson), for use
    as ``scoring=mcc_scorer`` in a search fitted with ``fit(X, z_true)``.

    Parameters
    ----------
    estimator : estimator object
        Fitted estimator with a ``transform`` method (e.g. a Pipeline ending
        with a transformer).

    X : array-like of shape (n_samples, n_features)
        Observations to transform.

    y : array-like of shape (n_samples, n_true)
        True latents of ``X``. Required: None raises a ValueError.

    Returns
    -------
    mcc : float
        Mean matched absolute correlation, in [0, 1].

    See Also
    --------
    mean_corr_coef : The underlying metric.
    make_identifiability_scorer : Scorers with other metrics or options.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import FastICA, PCA
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklcm.metrics import mcc_scorer
    >>> rng = np.random.default_rng(0)
    >>> S = rng.laplace(size=(600, 3))
    >>> X = S @ rng.normal(size=(3, 3))
    >>> ica = FastICA(whiten="unit-variance", random_state=0)
    >>> round(float(cross_val_score(ica, X, S, scoring=mcc_scorer).mean()), 2)
    1.0
    >>> bool(cross_val_score(PCA(), X, S, scoring=mcc_scorer).mean() < 0.95)
    True
    """
    return _mcc(estimator, X, y)


def r2_scorer(estimator, X, y=None):
    """Score a fitted transformer by the held-out linear R² against true latents.

    Computes ``linear_r2_score(y, estimator.transform(X))``, for use as
    ``scoring=r2_scorer`` in a search fitted with ``fit(X, z_true)``. The
    metric's default fixed split scores every candidate on the same split of
    the scored rows.

    Parameters
    ----------
    estimator : estimator object
        Fitted estimator with a ``transform`` method (e.g. a Pipeline ending
        with a transformer).

    X : array-like of shape (n_samples, n_features)
        Observations to transform.

    y : array-like of shape (n_samples, n_true)
        True latents of ``X``. Required: None raises a ValueError.

    Returns
    -------
    r2 : float
        Held-out coefficient of determination, at most 1.

    See Also
    --------
    linear_r2_score : The underlying metric.
    make_identifiability_scorer : Scorers with other metrics or options.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sklcm.metrics import r2_scorer
    >>> rng = np.random.default_rng(0)
    >>> S = rng.laplace(size=(300, 3))
    >>> X = S @ rng.normal(size=(3, 3))
    >>> round(r2_scorer(PCA().fit(X), X, S), 2)
    1.0
    """
    return _r2(estimator, X, y)


_mig = make_identifiability_scorer("mig")
_sap = make_identifiability_scorer("sap")


def mig_scorer(estimator, X, y=None):
    """Score a fitted transformer by the mutual information gap of its output.

    Computes ``mig_score(y, estimator.transform(X))`` (20-bin histograms),
    for use as ``scoring=mig_scorer`` in a search fitted with
    ``fit(X, z_true)``.

    Parameters
    ----------
    estimator : estimator object
        Fitted estimator with a ``transform`` method (e.g. a Pipeline ending
        with a transformer).

    X : array-like of shape (n_samples, n_features)
        Observations to transform.

    y : array-like of shape (n_samples, n_true)
        True latents of ``X``. Required: None raises a ValueError.

    Returns
    -------
    mig : float
        Mutual information gap, in [0, 1].

    See Also
    --------
    mig_score : The underlying metric.
    make_identifiability_scorer : Scorers with other metrics or options.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import FastICA, PCA
    >>> from sklcm.metrics import mig_scorer
    >>> rng = np.random.default_rng(0)
    >>> S = rng.laplace(size=(2000, 3))
    >>> X = S @ rng.normal(size=(3, 3))
    >>> ica = FastICA(whiten="unit-variance", random_state=0).fit(X)
    >>> bool(mig_scorer(ica, X, S) > mig_scorer(PCA().fit(X), X, S))
    True
    """
    return _mig(estimator, X, y)


def sap_scorer(estimator, X, y=None):
    """Score a fitted transformer by the SAP score of its output.

    Computes ``sap_score(y, estimator.transform(X))``, for use as
    ``scoring=sap_scorer`` in a search fitted with ``fit(X, z_true)``.

    Parameters
    ----------
    estimator : estimator object
        Fitted estimator with a ``transform`` method (e.g. a Pipeline ending
        with a transformer).

    X : array-like of shape (n_samples, n_features)
        Observations to transform.

    y : array-like of shape (n_samples, n_true)
        True latents of ``X``. Required: None raises a ValueError.

    Returns
    -------
    sap : float
        Separated attribute predictability, in [0, 1].

    See Also
    --------
    sap_score : The underlying metric.
    make_identifiability_scorer : Scorers with other metrics or options.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import FastICA
    >>> from sklcm.metrics import sap_scorer
    >>> rng = np.random.default_rng(0)
    >>> S = rng.laplace(size=(1000, 3))
    >>> X = S @ rng.normal(size=(3, 3))
    >>> ica = FastICA(whiten="unit-variance", random_state=0).fit(X)
    >>> round(sap_scorer(ica, X, S), 2)
    0.99
    """
    return _sap(estimator, X, y)


class _BlockR2Scorer:
    """Callable ``scorer(estimator, X, y)``: R² of some latents from one block."""

    def __init__(self, subset, latents, kwargs):
        self._subset = tuple(int(k) for k in subset)
        self._latents = [int(j) for j in latents]
        self._kwargs = kwargs

    def __call__(self, estimator, X, y=None):
        if y is None:
            raise ValueError(
                f"{self!r} needs the true latents as y, e.g. "
                "GridSearchCV(...).fit(X, z_true); got y=None."
            )
        Z = estimator.transform(X)
        names = np.asarray(estimator.get_feature_names_out(), dtype=str)
        tag = "_block" + "-".join(str(k) for k in self._subset) + "_"
        columns = np.flatnonzero(np.char.find(names, tag) >= 0)
        if columns.size == 0:
            raise ValueError(
                f"{self!r}: no output feature of {type(estimator).__name__} "
                f"belongs to the block of subset {self._subset} (no name holds "
                f"{tag!r}). Score a K-view encoder whose subsets include it, "
                "and whose view (or 'all' or 'mean') holds that block."
            )
        z_true = np.asarray(y)[:, self._latents]
        return float(block_r2_score(z_true, Z[:, columns], **self._kwargs))

    def __repr__(self):
        args = [repr(self._subset), f"latents={self._latents!r}"]
        args += [f"{k}={v!r}" for k, v in self._kwargs.items()]
        return f"make_block_r2_scorer({', '.join(args)})"


def make_block_r2_scorer(subset, latents, **kwargs):
    """Make a scorer of one content block of a K-view encoder.

    The returned callable ``scorer(estimator, X, y)`` transforms ``X``, keeps
    the output columns of the content block of ``subset`` (those whose
    output feature name holds ``_block<subset>_``, e.g.
    ``..._view0_block0-1_3`` for the subset ``(0, 1)``; with ``view="all"``
    the block of every view of the subset) and returns
    :func:`block_r2_score` of the true latents ``y[:, latents]`` from them.
    A search fitted with ``search.fit(X, z_true)`` can so target any block,
    e.g. the latents shared by views 0 and 1.

    Parameters
    ----------
    subset : tuple of int
        The views of the block, as in the encoder's ``content_blocks_``.

    latents : list of int
        Columns of ``y`` (the true latents) to predict, e.g.
        ``info.shared_latents[subset]`` of
        :func:`sklcm.datasets.make_multiview_latents`.

    **kwargs : dict
        Keyword arguments of :func:`block_r2_score` (``regressor``,
        ``test_size``, ...); its default fixed split scores every candidate
        on the same rows.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)`` returning a float (higher is better).

    See Also
    --------
    block_r2_table : Every latent from every block at once.
    make_identifiability_scorer : Scorers of the whole representation.

    Examples
    --------
    >>> from sklcm.metrics import make_block_r2_scorer
    >>> make_block_r2_scorer((0, 1), latents=[0, 1, 2, 4], test_size=0.25)
    make_block_r2_scorer((0, 1), latents=[0, 1, 2, 4], test_size=0.25)
    """
    try:
        inspect.signature(block_r2_score).bind(None, None, **kwargs)
    except TypeError as exc:
        raise TypeError(
            f"Keyword arguments {sorted(kwargs)} do not fit block_r2_score: {exc}"
        ) from None
    return _BlockR2Scorer(subset, latents, kwargs)
