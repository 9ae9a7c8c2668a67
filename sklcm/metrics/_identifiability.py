"""Identifiability metrics comparing true latents with a learned representation."""
# License: BSD 3 clause

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import rankdata
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_array

from ..utils._param_validation import (
    Integral,
    Interval,
    Real,
    StrOptions,
    validate_params,
)
from ..utils._validation import check_latent_pair

_TEST_SIZE = [Interval(Real, 0, 1, closed="neither")]
_ALPHA_GRID = (1e-3, 1e-2, 1e-1, 1.0)
_GAMMA_GRID = (0.1, 1.0, 10.0)  # multiplied by 1 / n_features of z_pred


def _standardize(z):
    """Centre and scale columns; constant columns become all zeros."""
    scale = np.abs(z).max(axis=0)
    z = z - z.mean(axis=0)
    std = z.std(axis=0)
    std[std <= 10 * np.finfo(np.float64).eps * scale] = np.inf
    return z / std


def _abs_corr(z_true, z_pred, method):
    """|correlation| matrix of shape (n_true, n_pred); constant columns give 0."""
    if method == "spearman":
        z_true = rankdata(z_true, axis=0)
        z_pred = rankdata(z_pred, axis=0)
    corr = _standardize(z_true).T @ _standardize(z_pred) / z_true.shape[0]
    return np.clip(np.abs(corr), 0.0, 1.0)


def _match(abs_corr):
    """Hungarian matching maximising the summed |corr|; returns (rows, cols)."""
    return linear_sum_assignment(-abs_corr)


def _split(z_true, z_pred, test_size, random_state):
    """Shuffle-split ``(z_pred, z_true)``; both parts keep at least 2 rows."""
    n_samples = z_true.shape[0]
    n_test = int(np.ceil(test_size * n_samples))
    if n_test < 2 or n_samples - n_test < 2:
        raise ValueError(
            f"test_size={test_size} with n_samples={n_samples} leaves "
            f"{n_test} test and {n_samples - n_test} train rows; both parts "
            "need at least 2 rows. Use more samples or another test_size."
        )
    zp_train, zp_test, zt_train, zt_test = train_test_split(
        z_pred, z_true, test_size=n_test, random_state=random_state
    )
    return zp_train, zp_test, zt_train, zt_test


@validate_params(
    {
        "z_true": ["array-like"],
        "z_pred": ["array-like"],
        "method": [StrOptions({"pearson", "spearman"})],
    },
    prefer_skip_nested_validation=True,
)
def mean_corr_coef(z_true, z_pred, *, method="pearson"):
    """Compute the mean correlation coefficient (MCC) after optimal matching.

    The absolute correlation between every true and every predicted component
    is computed, each true component is matched to a distinct predicted one by
    the Hungarian algorithm (maximising the total absolute correlation), and
    the matched absolute correlations are averaged over the true components.
    An MCC of 1 means the representation recovers the true latents up to
    permutation, sign and (for ``"pearson"``) scaling and shift, or (for
    ``"spearman"``) strictly monotone component-wise transforms.

    Parameters
    ----------
    z_true : array-like of shape (n_samples, n_true)
        Ground-truth latents. A 1-D array is one component.

    z_pred : array-like of shape (n_samples, n_pred)
        Learned representation. ``n_pred`` may differ from ``n_true``.

    method : {"pearson", "spearman"}, default="pearson"
        Correlation used. ``"spearman"`` is Pearson correlation of the column
        ranks (ties get their average rank).

    Returns
    -------
    mcc : float
        Mean matched absolute correlation, in [0, 1].

    See Also
    --------
    linear_r2_score : Linear (rather than permutation) identifiability.
    mcc_scorer : This metric as a scorer for model selection.

    Notes
    -----
    With :math:`C_{ij} = |\\operatorname{corr}(z^{true}_i, z^{pred}_j)|` and
    :math:`\\pi` the injective assignment from true to predicted components
    maximising the total matched correlation,

    .. math::

        \\mathrm{MCC} = \\frac{1}{n_{true}} \\sum_{i=1}^{n_{true}} C_{i \\pi(i)}.

    Unequal widths: when ``n_pred > n_true`` each true component is matched to
    a distinct predicted component and the extra predicted components are
    ignored. When ``n_pred < n_true`` only ``n_pred`` true components can be
    matched; the unmatched true components count as 0, so the MCC is at most
    ``n_pred / n_true`` (a representation missing components is penalised).

    A constant column (in either array) has correlation 0 with everything,
    instead of NaN.

    References
    ----------
    .. [1] A. Hyvärinen and H. Morioka, "Unsupervised Feature Extraction by
       Time-Contrastive Learning and Nonlinear ICA", NeurIPS 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm.metrics import mean_corr_coef
    >>> rng = np.random.default_rng(0)
    >>> z = rng.laplace(size=(200, 3))
    >>> z_pred = -2.0 * z[:, [2, 0, 1]] + 1.0
    >>> round(float(mean_corr_coef(z, z_pred)), 2)
    1.0
    >>> round(float(mean_corr_coef(z, z_pred[:, :2])), 2)
    0.67
    """
    z_true, z_pred = check_latent_pair(z_true, z_pred)
    abs_corr = _abs_corr(z_true, z_pred, method)
    rows, cols = _match(abs_corr)
    return float(abs_corr[rows, cols].sum() / z_true.shape[1])


@validate_params(
    {
        "z_true": ["array-like"],
        "z_pred": ["array-like"],
        "test_size": _TEST_SIZE,
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def linear_r2_score(z_true, z_pred, *, test_size=0.5, random_state=0):
    """Compute the held-out R² of a linear map from a representation to the latents.

    A :class:`~sklearn.linear_model.LinearRegression` predicting ``z_true``
    from ``z_pred`` is fitted on a shuffled part of the samples and scored with
    :func:`~sklearn.metrics.r2_score` (uniform average over the true
    components) on the held-out rest. An R² of 1 means the representation
    recovers the true latents up to an invertible affine map. The split is
    fixed by default, so the score is a deterministic function of its inputs,
    like every scikit-learn metric.

    Parameters
    ----------
    z_true : array-like of shape (n_samples, n_true)
        Ground-truth latents (the regression targets).

    z_pred : array-like of shape (n_samples, n_pred)
        Learned representation (the regression inputs).

    test_size : float, default=0.5
        Fraction of the samples held out for scoring, in (0, 1). Both parts
        must keep at least 2 samples.

    random_state : int, RandomState instance or None, default=0
        Controls the shuffling of the train/test split. The default int fixes
        the split: the same inputs always give the same score, and numpy's
        global random state is neither used nor advanced. None draws a new
        split from the global random state at every call.

    Returns
    -------
    r2 : float
        Held-out coefficient of determination, at most 1 (can be negative).

    See Also
    --------
    block_r2_score : The same with an optional kernel-ridge regressor.
    mean_corr_coef : Permutation (component-wise) identifiability.

    Notes
    -----
    Scoring on held-out samples matters: with as many representation columns
    as training samples, an in-sample R² is close to 1 even for pure noise. A
    constant true component follows :func:`~sklearn.metrics.r2_score`: it
    scores 1 if predicted exactly, else 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm.metrics import linear_r2_score
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(200, 3))
    >>> z_pred = z @ rng.normal(size=(3, 3)) + 5.0
    >>> round(float(linear_r2_score(z, z_pred)), 2)
    1.0
    """
    z_true, z_pred = check_latent_pair(z_true, z_pred)
    zp_train, zp_test, zt_train, zt_test = _split(
        z_true, z_pred, test_size, random_state
    )
    reg = LinearRegression().fit(zp_train, zt_train)
    return float(r2_score(zt_test, reg.predict(zp_test)))


@validate_params(
    {"W": ["array-like"], "A": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def amari_distance(W, A):
    """Compute the normalised Amari distance between an unmixing and a mixing matrix.

    The distance measures how far the product ``P = W @ A`` is from a scaled
    permutation matrix: it is 0 exactly when every row and every column of
    ``P`` has a single non-zero entry, i.e. when ``W`` inverts ``A`` up to
    permutation and scaling (the ICA ambiguities), and at most 1.

    Parameters
    ----------
    W : array-like of shape (n_components, n_components)
        Estimated unmixing matrix (e.g. ``FastICA().components_``).

    A : array-like of shape (n_components, n_components)
        True mixing matrix, mapping sources to observations.

    Returns
    -------
    distance : float
        Normalised Amari distance, in [0, 1].

    See Also
    --------
    mean_corr_coef : A sample-based alternative when only latents are known.

    Notes
    -----
    With :math:`P = WA` of size :math:`n \\times n`, this is Amari et al.'s
    performance index [1]_ on absolute values, divided by its maximum
    :math:`2n(n-1)`:

    .. math::

        d(W, A) = \\frac{1}{2n(n-1)} \\left[
        \\sum_{i=1}^{n} \\left( \\frac{\\sum_j |P_{ij}|}{\\max_k |P_{ik}|} - 1 \\right)
        + \\sum_{j=1}^{n} \\left( \\frac{\\sum_i |P_{ij}|}{\\max_k |P_{kj}|} - 1
        \\right) \\right].

    The maximum 1 is reached when all entries of :math:`P` have the same
    magnitude. ``picard.amari_distance`` (python-picard) uses squared entries
    and divides by :math:`2n` instead, so
    ``amari_distance(W, A) == picard.amari_distance(np.sqrt(np.abs(W @ A)),
    np.eye(n)) / (n - 1)``. For :math:`n = 1` the distance is 0. ``P`` must
    have no all-zero row or column (``W`` and ``A`` of full rank).

    References
    ----------
    .. [1] S. Amari, A. Cichocki and H. H. Yang, "A New Learning Algorithm for
       Blind Signal Separation", NeurIPS 8, 1996.

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm.metrics import amari_distance
    >>> A = np.array([[1.0, 0.5], [0.2, 1.0]])
    >>> W = np.diag([2.0, -1.0]) @ np.linalg.inv(A)[::-1]
    >>> round(float(amari_distance(W, A)), 2)
    0.0
    >>> round(float(amari_distance(np.eye(2), A)), 2)
    0.35
    """
    W = check_array(W, dtype=np.float64, input_name="W")
    A = check_array(A, dtype=np.float64, input_name="A")
    for name, M in (("W", W), ("A", A)):
        if M.shape[0] != M.shape[1]:
            raise ValueError(f"{name} must be a square matrix, got shape {M.shape}.")
    if W.shape != A.shape:
        raise ValueError(
            f"W and A must have the same shape, got {W.shape} and {A.shape}."
        )
    n = W.shape[0]
    P = np.abs(W @ A)
    row_max, col_max = P.max(axis=1), P.max(axis=0)
    if not (row_max.all() and col_max.all()):
        raise ValueError(
            "W @ A has an all-zero row or column: W and A must have full rank."
        )
    if n == 1:
        return 0.0
    rows = (P.sum(axis=1) / row_max - 1.0).sum()
    cols = (P.sum(axis=0) / col_max - 1.0).sum()
    return float((rows + cols) / (2 * n * (n - 1)))


def _kernel_regressor(n_train, n_features, *, alpha, gamma, cv):
    """Standardise then RBF kernel ridge; tune the parameters left to None."""
    reg = make_pipeline(
        StandardScaler(),
        KernelRidge(kernel="rbf", alpha=alpha or 1.0, gamma=gamma),
    )
    grid = {}
    if alpha is None:
        grid["kernelridge__alpha"] = list(_ALPHA_GRID)
    if gamma is None:
        grid["kernelridge__gamma"] = [g / n_features for g in _GAMMA_GRID]
    if not grid:
        return reg
    if n_train < cv:
        raise ValueError(
            f"cv={cv} folds need at least {cv} training rows, got {n_train}; "
            "pass fixed alpha and gamma, lower cv, or use more samples."
        )
    return GridSearchCV(reg, grid, cv=cv, scoring="r2")


@validate_params(
    {
        "z_true": ["array-like"],
        "z_pred": ["array-like"],
        "regressor": [StrOptions({"linear", "kernel"})],
        "test_size": _TEST_SIZE,
        "random_state": ["random_state"],
        "alpha": [Interval(Real, 0, None, closed="neither"), None],
        "gamma": [Interval(Real, 0, None, closed="neither"), None],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "max_train_samples": [Interval(Integral, 2, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def block_r2_score(
    z_true,
    z_pred,
    *,
    regressor="linear",
    test_size=0.5,
    random_state=0,
    alpha=None,
    gamma=None,
    cv=3,
    max_train_samples=2000,
):
    """Compute the held-out R² of predicting a block of true latents.

    Block identifiability in the sense of Daunhawer et al. [1]_: a block of
    true latents (e.g. the content shared by two modalities) is identified if
    it can be predicted from the representation. A linear regression
    (``regressor="linear"``) tests identifiability up to an affine map; an RBF
    kernel ridge regression (``regressor="kernel"``) tests identifiability up
    to a smooth invertible map. The regressor is fitted on a shuffled part of
    the samples and scored on the held-out rest (a fixed split by default, so
    the score is deterministic; the internal cross-validation of ``alpha`` and
    ``gamma`` uses unshuffled folds).

    Parameters
    ----------
    z_true : array-like of shape (n_samples, n_block)
        The block of ground-truth latents to predict.

    z_pred : array-like of shape (n_samples, n_pred)
        Learned representation (the regression inputs).

    regressor : {"linear", "kernel"}, default="linear"
        ``"linear"``: :class:`~sklearn.linear_model.LinearRegression` (then
        the score equals :func:`linear_r2_score` with the same split).
        ``"kernel"``: :class:`~sklearn.preprocessing.StandardScaler` then
        :class:`~sklearn.kernel_ridge.KernelRidge` with an RBF kernel.

    test_size : float, default=0.5
        Fraction of the samples held out for scoring, in (0, 1).

    random_state : int, RandomState instance or None, default=0
        Controls the train/test split (and so the kernel subsample). The
        default int fixes the split, so the same inputs always give the same
        score and numpy's global random state is neither used nor advanced.
        None draws a new split from the global random state at every call.

    alpha : float or None, default=None
        Kernel-ridge regularisation. None chooses it among
        ``(1e-3, 1e-2, 1e-1, 1)`` by ``cv``-fold cross-validation on the
        training part. Ignored when ``regressor="linear"``.

    gamma : float or None, default=None
        RBF kernel coefficient on the standardised representation. None
        chooses it among ``(0.1, 1, 10) / n_pred`` by cross-validation on the
        training part. Ignored when ``regressor="linear"``.

    cv : int, default=3
        Number of folds of the internal cross-validation that chooses
        ``alpha``/``gamma`` when they are None.

    max_train_samples : int or None, default=2000
        Kernel ridge costs cubic time in the training size: at most this many
        (randomly chosen) training rows are used. None uses them all.
        Ignored when ``regressor="linear"``.

    Returns
    -------
    r2 : float
        Held-out R², uniformly averaged over the block's components.

    See Also
    --------
    linear_r2_score : The linear case with a simpler signature.

    References
    ----------
    .. [1] I. Daunhawer, A. Bizeul, E. Palumbo, A. Marx and J. E. Vogt,
       "Identifiability Results for Multimodal Contrastive Learning",
       ICLR 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm.metrics import block_r2_score
    >>> rng = np.random.default_rng(0)
    >>> z = rng.uniform(-1, 1, size=(300, 2))
    >>> z_pred = z**3
    >>> lin = block_r2_score(z, z_pred)
    >>> ker = block_r2_score(z, z_pred, regressor="kernel")
    >>> bool(ker > lin)
    True
    """
    z_true, z_pred = check_latent_pair(z_true, z_pred)
    zp_train, zp_test, zt_train, zt_test = _split(
        z_true, z_pred, test_size, random_state
    )
    if regressor == "linear":
        reg = LinearRegression()
    else:
        if max_train_samples is not None:  # rows are already shuffled
            zp_train = zp_train[:max_train_samples]
            zt_train = zt_train[:max_train_samples]
        reg = _kernel_regressor(
            zp_train.shape[0], z_pred.shape[1], alpha=alpha, gamma=gamma, cv=cv
        )
    reg.fit(zp_train, zt_train)
    return float(r2_score(zt_test, reg.predict(zp_test)))


def _block_columns(columns, n_pred, key):
    """Column indices of one block: a slice, or a sequence of ints."""
    index = np.arange(n_pred)
    try:
        cols = index[columns]
    except (IndexError, TypeError) as exc:
        raise ValueError(
            f"blocks[{key!r}] = {columns!r} is not a slice or a list of column "
            f"indices of z_pred, which has {n_pred} columns."
        ) from exc
    cols = np.atleast_1d(cols)
    if cols.size == 0:
        raise ValueError(f"blocks[{key!r}] = {columns!r} selects no column of z_pred.")
    return cols


@validate_params(
    {
        "z_true": ["array-like"],
        "z_pred": ["array-like"],
        "blocks": [dict],
        "test_size": _TEST_SIZE,
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def block_r2_table(z_true, z_pred, blocks, *, test_size=0.25, random_state=0):
    """Compute the held-out linear R² of every true latent from every block.

    For a K-view encoder with one content block per subset of views (its
    ``content_blocks_``), row ``b`` says how well each true latent can be
    predicted linearly from block ``b`` of the representation: the latents
    the subset's views share should score close to 1, the others close to 0
    (block-wise identifiability, Yao et al. [1]_). One shuffled split serves
    every block; a :class:`~sklearn.linear_model.LinearRegression` per block
    is fitted on the training part and scored per latent on the rest.

    Parameters
    ----------
    z_true : array-like of shape (n_samples, n_true)
        Ground-truth latents.

    z_pred : array-like of shape (n_samples, n_pred)
        Learned representation holding the blocks.

    blocks : dict
        Maps a key (e.g. a subset of views) to the columns of ``z_pred`` of
        its block: a ``slice`` or a list of column indices, as in an
        encoder's ``content_blocks_``.

    test_size : float, default=0.25
        Fraction of the samples held out for scoring, in (0, 1).

    random_state : int, RandomState instance or None, default=0
        Controls the train/test split.

    Returns
    -------
    r2 : ndarray of shape (len(blocks), n_true)
        ``r2[b, j]``: held-out R² of latent ``j`` from block ``b`` (in the
        order of ``blocks``). Values can be negative.

    See Also
    --------
    block_r2_score : One block of latents from one representation.
    sklcm.metrics.make_block_r2_scorer : A scorer for one block of an encoder.

    References
    ----------
    .. [1] D. Yao, D. Xu, S. Lachapelle, S. Magliacane, P. Taslakian,
       G. Martius, J. von Kügelgen and F. Locatello, "Multi-View Causal
       Representation Learning with Partial Observability", ICLR 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm.metrics import block_r2_table
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(400, 3))
    >>> z_pred = np.hstack([z[:, :2] @ rng.normal(size=(2, 2)), z[:, 2:]])
    >>> table = block_r2_table(z, z_pred, {"ab": slice(0, 2), "c": [2]})
    >>> table.shape
    (2, 3)
    >>> (table > 0.9).tolist()
    [[True, True, False], [False, False, True]]
    """
    z_true, z_pred = check_latent_pair(z_true, z_pred)
    columns = [_block_columns(c, z_pred.shape[1], k) for k, c in blocks.items()]
    zp_train, zp_test, zt_train, zt_test = _split(
        z_true, z_pred, test_size, random_state
    )
    rows = []
    for cols in columns:
        reg = LinearRegression().fit(zp_train[:, cols], zt_train)
        pred = reg.predict(zp_test[:, cols])
        rows.append(r2_score(zt_test, pred, multioutput="raw_values"))
    return np.asarray(rows).reshape(len(columns), z_true.shape[1])
