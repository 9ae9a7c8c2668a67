"""Disentanglement metrics (DCI, MIG, SAP), written from their definitions."""
# License: BSD 3 clause

import numpy as np
from sklearn.linear_model import Lasso
from sklearn.metrics import mutual_info_score, r2_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch

from ..utils._param_validation import (
    Integral,
    Interval,
    Real,
    StrOptions,
    validate_params,
)
from ..utils._validation import check_latent_pair
from ._identifiability import _TEST_SIZE, _abs_corr, _split

# The random forest of regressor="random_forest": one DCI call on 4000 samples
# of 10 factors and 10 codes costs about 0.5 s of one CPU core, and the
# disentanglement moves by less than 0.002 between forest seeds.
_FOREST = {"n_estimators": 10, "max_depth": 8}
# Tight enough that the importances do not depend on the order of the codes
# (coordinate descent visits them in order) beyond ~1e-9.
_LASSO_TOL = 1e-10


def _check_factors(z_true):
    """Refuse constant true factors: they carry nothing to disentangle."""
    constant = np.flatnonzero(np.ptp(z_true, axis=0) == 0)
    if constant.size:
        raise ValueError(
            f"z_true column(s) {constant.tolist()} are constant; a constant "
            "factor carries no information to disentangle, so drop it."
        )


def _top_two_gap(scores):
    """Best minus second-best entry of each row (second is 0 with one column)."""
    if scores.shape[1] == 1:
        return scores[:, 0]
    top = np.sort(scores, axis=1)
    return top[:, -1] - top[:, -2]


# ------------------------------------------------------------------------ DCI
def _one_minus_entropy(P, base):
    """``1 - H(row)`` with logarithms in ``base``, for each row of ``P``.

    Rows must sum to 1 (or be all zero, which gives 1). With ``base == 1``
    there is a single outcome and no uncertainty: every row gives 1.
    """
    if base == 1:
        return np.ones(P.shape[0])
    logs = np.log(np.where(P > 0, P, 1.0))
    return 1.0 + (P * logs).sum(axis=1) / np.log(base)


def _normalise_columns(R):
    """Columns divided by their sums; all-zero columns stay zero."""
    sums = R.sum(axis=0)
    return R / np.where(sums > 0, sums, 1.0)


def _dci_from_importances(R):
    """Disentanglement and completeness of an importance matrix R (codes x factors).

    A code with no importance has weight 0 in D; a factor that no code
    explains has completeness 0.
    """
    n_codes, n_factors = R.shape
    if R.sum() == 0:
        return 0.0, 0.0
    code_weight = R.sum(axis=1) / R.sum()
    per_code = _one_minus_entropy(_normalise_columns(R.T).T, n_factors)
    explained = R.sum(axis=0) > 0
    per_factor = _one_minus_entropy(_normalise_columns(R).T, n_codes)
    disentanglement = float(code_weight @ per_code)
    completeness = float(np.mean(np.where(explained, per_factor, 0.0)))
    return np.clip(disentanglement, 0, 1), np.clip(completeness, 0, 1)


def _regressor(regressor, alpha, random_state):
    if regressor == "lasso":
        return Lasso(alpha=alpha, tol=_LASSO_TOL)
    # imported here: sklearn.ensemble would add ~0.3 s to `import sklcm.metrics`
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(**_FOREST, random_state=random_state)


def _importance(reg):
    if hasattr(reg, "coef_"):
        return np.abs(reg.coef_)
    return reg.feature_importances_


def _fit_importances(zp_train, zp_test, zt_train, zt_test, regressor, alpha, rs):
    """Importance matrix (codes x factors) and held-out R² of each factor."""
    scaler = StandardScaler().fit(zp_train)
    x_train, x_test = scaler.transform(zp_train), scaler.transform(zp_test)
    mean, std = zt_train.mean(axis=0), zt_train.std(axis=0)
    std[std == 0] = 1.0
    y_train, y_test = (zt_train - mean) / std, (zt_test - mean) / std
    R = np.empty((zp_train.shape[1], zt_train.shape[1]))
    r2 = np.empty(zt_train.shape[1])
    for j in range(zt_train.shape[1]):
        reg = _regressor(regressor, alpha, rs).fit(x_train, y_train[:, j])
        R[:, j] = _importance(reg)
        r2[j] = r2_score(y_test[:, j], reg.predict(x_test))
    return R, r2


@validate_params(
    {
        "z_true": ["array-like"],
        "z_pred": ["array-like"],
        "regressor": [StrOptions({"lasso", "random_forest"})],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "test_size": _TEST_SIZE,
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def disentanglement_completeness_informativeness(
    z_true,
    z_pred,
    *,
    regressor="random_forest",
    alpha=0.01,
    test_size=0.5,
    random_state=0,
):
    """Compute the DCI scores (disentanglement, completeness, informativeness).

    The DCI framework of Eastwood and Williams [1]_: for each true factor a
    regressor predicts it from all the codes (columns of ``z_pred``); the
    importance of each code for each factor forms a matrix ``R`` of shape
    ``(n_codes, n_factors)``. *Disentanglement* asks whether each code
    captures at most one factor, *completeness* whether each factor is
    captured by a single code, and *informativeness* how well the codes
    predict the factors (here the held-out R² of the same regressors).

    The regressors are fitted on a shuffled part of the samples (codes and
    factors standardised with that part's statistics) and the R² is computed
    on the held-out rest. The split and the forest are seeded (by default
    ``random_state=0``), so the scores are deterministic.

    Parameters
    ----------
    z_true : array-like of shape (n_samples, n_factors)
        Ground-truth factors (continuous). No column may be constant.

    z_pred : array-like of shape (n_samples, n_codes)
        Learned representation; its columns are the codes.

    regressor : {"random_forest", "lasso"}, default="random_forest"
        How the importances are measured, one regressor per factor.
        ``"random_forest"``: the impurity importances (summing to 1 per
        factor) of a :class:`~sklearn.ensemble.RandomForestRegressor` of 10
        trees of depth at most 8, seeded by ``random_state``; it sees
        nonlinear codes, and a code's importance grows with the variance it
        explains (about 0.5 s of one CPU core for 10 factors and 10 codes
        on 4000 samples). ``"lasso"``: the absolute coefficients of a
        :class:`~sklearn.linear_model.Lasso` with penalty ``alpha`` on the
        standardised codes and factor, as in [1]_ (deterministic, about
        10 ms there; the informativeness is then a linear R²). Absolute
        coefficients weigh small leaks more than explained variance does: a
        code with coefficient 1 on its factor and 0.05 on each of 9 others
        has D = 0.43 from these coefficients (0.93 from their squares), so
        the lasso's scores are lower for the same representation.

    alpha : float, default=0.01
        Lasso penalty, on standardised data: codes whose correlation with
        the residual stays below it get importance exactly 0. Used only when
        ``regressor="lasso"``.

    test_size : float, default=0.5
        Fraction of the samples held out for the informativeness, in (0, 1).
        Both parts must keep at least 2 samples.

    random_state : int, RandomState instance or None, default=0
        Controls the train/test split and the random forest. The default int
        gives the same scores for the same inputs; None draws from numpy's
        global random state.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        disentanglement : float
            D in [0, 1]; 1 when every code is important for one factor only.
        completeness : float
            C in [0, 1]; 1 when every factor is captured by one code only.
        informativeness : float
            Held-out R² of the regressors, averaged over the factors (at
            most 1; 1 is perfect). Eastwood and Williams report a prediction
            error instead, where lower is better.
        importances : ndarray of shape (n_codes, n_factors)
            The importance matrix ``R``.

    See Also
    --------
    mig_score : Mutual information gap.
    sap_score : Separated attribute predictability.
    mean_corr_coef : One-to-one matching of codes and factors.

    Notes
    -----
    With :math:`K` factors, :math:`P_{ij} = R_{ij} / \\sum_k R_{ik}` (code
    :math:`i`'s importance spread over the factors) and
    :math:`\\rho_i = \\sum_j R_{ij} / \\sum_{kl} R_{kl}`,

    .. math::

        D = \\sum_i \\rho_i \\Big(1 + \\sum_j P_{ij} \\log_K P_{ij}\\Big).

    With :math:`n` codes and :math:`\\tilde P_{ij} = R_{ij} / \\sum_k R_{kj}`
    (factor :math:`j`'s importance spread over the codes), completeness is
    averaged uniformly over the factors, as in [1]_:

    .. math::

        C = \\frac{1}{K} \\sum_j \\Big(1 + \\sum_i \\tilde P_{ij}
        \\log_n \\tilde P_{ij}\\Big).

    A code with no importance has weight 0 in D; a factor that no code
    explains has completeness 0; with one factor every code is
    disentangled (D = 1 if any code is important), and with one code every
    explained factor is complete. D only means something where the
    informativeness is high: the importances of uninformative codes are
    noise.

    References
    ----------
    .. [1] C. Eastwood and C. K. I. Williams, "A Framework for the
       Quantitative Evaluation of Disentangled Representations", ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm.metrics import disentanglement_completeness_informativeness
    >>> rng = np.random.default_rng(0)
    >>> z = rng.uniform(-1, 1, size=(400, 3))
    >>> dci = disentanglement_completeness_informativeness(z, 2 * z[:, [2, 0, 1]])
    >>> round(dci.disentanglement, 2), round(dci.completeness, 2)
    (1.0, 1.0)
    >>> rotated = z @ np.linalg.qr(rng.normal(size=(3, 3)))[0]
    >>> dci = disentanglement_completeness_informativeness(z, rotated)
    >>> round(dci.disentanglement, 2), round(dci.completeness, 2)
    (0.34, 0.34)
    >>> lasso = disentanglement_completeness_informativeness(
    ...     z, rotated, regressor="lasso"
    ... )
    >>> round(lasso.disentanglement, 2), round(lasso.informativeness, 2)
    (0.13, 1.0)
    """
    z_true, z_pred = check_latent_pair(z_true, z_pred)
    _check_factors(z_true)
    zp_train, zp_test, zt_train, zt_test = _split(
        z_true, z_pred, test_size, random_state
    )
    R, r2 = _fit_importances(
        zp_train, zp_test, zt_train, zt_test, regressor, alpha, random_state
    )
    disentanglement, completeness = _dci_from_importances(R)
    return Bunch(
        disentanglement=float(disentanglement),
        completeness=float(completeness),
        informativeness=float(r2.mean()),
        importances=R,
    )


# ------------------------------------------------------------------------ MIG
def _discretize(column, n_bins):
    """Integer labels: the distinct values if at most ``n_bins``, else histogram bins.

    The bins are ``n_bins`` equal-width intervals spanning the column's range.
    """
    values, labels = np.unique(column, return_inverse=True)
    if values.size <= n_bins:
        return labels
    inner_edges = np.histogram_bin_edges(column, bins=n_bins)[1:-1]
    return np.digitize(column, inner_edges)


def _mutual_info_matrix(z_true, z_pred, n_bins):
    """MI (nats) of every discretised factor with every discretised code."""
    factors = [_discretize(z, n_bins) for z in z_true.T]
    codes = [_discretize(z, n_bins) for z in z_pred.T]
    mi = np.array([[mutual_info_score(f, c) for c in codes] for f in factors])
    entropy = np.array([mutual_info_score(f, f) for f in factors])
    return mi, entropy


@validate_params(
    {
        "z_true": ["array-like"],
        "z_pred": ["array-like"],
        "n_bins": [Interval(Integral, 2, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def mig_score(z_true, z_pred, *, n_bins=20):
    """Compute the mutual information gap (MIG) of a representation.

    The MIG of Chen et al. [1]_: for each true factor, the mutual information
    with the most informative code minus that with the runner-up, divided by
    the factor's entropy, averaged over the factors. It is high when each
    factor is captured by one code and no other (axis alignment and
    compactness), and needs no regressor. Codes and factors are discretised
    into ``n_bins`` equal-width histogram bins; a column with at most
    ``n_bins`` distinct values keeps its values as categories.

    Parameters
    ----------
    z_true : array-like of shape (n_samples, n_factors)
        Ground-truth factors, continuous or discrete. No column may be
        constant.

    z_pred : array-like of shape (n_samples, n_codes)
        Learned representation; its columns are the codes.

    n_bins : int, default=20
        Number of equal-width bins of each histogram (at least 2).

    Returns
    -------
    mig : float
        Mean normalised gap, in [0, 1].

    See Also
    --------
    disentanglement_completeness_informativeness : The DCI scores.
    sap_score : The same gap on linear predictability instead of MI.
    mig_scorer : This metric as a scorer for model selection.

    Notes
    -----
    With :math:`v_k` the discretised factor :math:`k`, :math:`c_j` the
    discretised code :math:`j`, :math:`I` the mutual information of the
    empirical joint distribution and :math:`j^{(1)}, j^{(2)}` the codes of
    largest and second-largest :math:`I(c_j; v_k)`,

    .. math::

        \\mathrm{MIG} = \\frac{1}{K} \\sum_{k=1}^{K}
        \\frac{I(c_{j^{(1)}}; v_k) - I(c_{j^{(2)}}; v_k)}{H(v_k)}.

    With a single code the runner-up's information is taken as 0. The
    histogram estimate of the mutual information is biased upwards on few
    samples per bin: for an independent code, by about
    :math:`(n_{bins} - 1)^2 / (2 n_{samples})` nats. So even a perfect
    representation scores a little below 1 (0.97 with 20 bins and 2000
    samples below); compare scores computed on the same number of samples.

    References
    ----------
    .. [1] R. T. Q. Chen, X. Li, R. Grosse and D. Duvenaud, "Isolating
       Sources of Disentanglement in Variational Autoencoders", NeurIPS 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm.metrics import mig_score
    >>> rng = np.random.default_rng(0)
    >>> z = rng.uniform(-1, 1, size=(2000, 3))
    >>> round(mig_score(z, 3 * z[:, [1, 2, 0]]), 2)
    0.97
    >>> bool(mig_score(z, z @ rng.normal(size=(3, 3))) < 0.5)
    True
    """
    z_true, z_pred = check_latent_pair(z_true, z_pred)
    _check_factors(z_true)
    mi, entropy = _mutual_info_matrix(z_true, z_pred, n_bins)
    return float(np.clip(np.mean(_top_two_gap(mi) / entropy), 0, 1))


# ------------------------------------------------------------------------ SAP
@validate_params(
    {"z_true": ["array-like"], "z_pred": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def sap_score(z_true, z_pred):
    """Compute the separated attribute predictability (SAP) of a representation.

    The SAP score of Kumar et al. [1]_ for continuous factors: the R² of a
    linear regression of each factor on each single code forms a score
    matrix; for each factor, the best code's R² minus the runner-up's is
    averaged over the factors. It is high when each factor is linearly
    predictable from one code and not from any other.

    Parameters
    ----------
    z_true : array-like of shape (n_samples, n_factors)
        Ground-truth factors (continuous). No column may be constant.

    z_pred : array-like of shape (n_samples, n_codes)
        Learned representation; its columns are the codes.

    Returns
    -------
    sap : float
        Mean gap, in [0, 1].

    See Also
    --------
    mig_score : The same gap on mutual information.
    disentanglement_completeness_informativeness : The DCI scores.
    sap_scorer : This metric as a scorer for model selection.

    Notes
    -----
    The (in-sample) R² of a least-squares line through one code is the
    squared Pearson correlation, so with :math:`S_{kj} =
    \\operatorname{corr}(z^{true}_k, z^{pred}_j)^2` and :math:`S_k^{(1)} \\ge
    S_k^{(2)}` the two largest entries of row :math:`k`,

    .. math::

        \\mathrm{SAP} = \\frac{1}{K} \\sum_{k=1}^{K} \\big(S_k^{(1)} -
        S_k^{(2)}\\big).

    A constant code scores 0; with a single code the runner-up scores 0.
    Kumar et al. use classification accuracy for discrete factors; this
    function treats every factor as continuous.

    References
    ----------
    .. [1] A. Kumar, P. Sattigeri and A. Balakrishnan, "Variational
       Inference of Disentangled Latent Concepts from Unlabeled
       Observations", ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm.metrics import sap_score
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(500, 3))
    >>> round(sap_score(z, -2 * z[:, [2, 0, 1]] + 1), 2)
    1.0
    >>> bool(sap_score(z, z @ rng.normal(size=(3, 3))) < 0.5)
    True
    """
    z_true, z_pred = check_latent_pair(z_true, z_pred)
    _check_factors(z_true)
    scores = _abs_corr(z_true, z_pred, "pearson") ** 2
    return float(np.clip(np.mean(_top_two_gap(scores)), 0, 1))
