"""Linear ICA that removes the indeterminacy left by contrastive encoders."""
# License: BSD 3 clause

import warnings

import numpy as np
from scipy import linalg
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.decomposition import FastICA
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .utils._param_validation import (
    Integral,
    Interval,
    Options,
    Real,
    StrOptions,
    _fit_context,
)
from .utils._validation import check_split, check_view_widths

# E|nu| for nu ~ N(0, 1): the Gaussian reference of the non-Gaussianity
# measure used to order the components.
_GAUSSIAN_ABS_MEAN = np.sqrt(2.0 / np.pi)
# Relative deviation from an isotropic covariance below which
# whiten="pca-unless-white" treats the input as already white.
_WHITE_RTOL = 1e-6
_DEFAULT_TOL = {"fastica": 1e-4, "picard": 1e-7}
_PICARD_HINT = (
    'algorithm="picard" needs python-picard: pip install -e ".[ica]" in the '
    "sklcm checkout (or pip install python-picard)."
)


def _modality_blocks(X, split):
    """Return the column blocks of X: [X] (plain mode), [x, t] (coupled, an
    int split) or [x_1, ..., x_K] (coupled, a list of view widths)."""
    if split is None:
        return [X]
    if np.ndim(split) == 0:
        return [X[:, :split], X[:, split:]]
    stops = np.cumsum(split)
    return [X[:, stop - w : stop] for w, stop in zip(split, stops)]


def _n_blocks(split):
    return 1 if split is None else 2 if np.ndim(split) == 0 else len(split)


def _center_and_stack(blocks):
    """Center each block by its own mean; stack the rows of all blocks.

    Returns the concatenated means, shape (n_features_in_,), and the stacked
    centered rows, shape (n_blocks * n_samples, n_features_per_modality).
    """
    means = [block.mean(axis=0) for block in blocks]
    if len(blocks) == 1:
        return means[0], blocks[0] - means[0]
    stacked = np.concatenate([block - m for block, m in zip(blocks, means)])
    return np.concatenate(means), stacked


def _check_constant_columns(X, feature_names):
    """Raise a ValueError naming the constant columns of X, if any."""
    constant = np.flatnonzero(np.ptp(X, axis=0) == 0)
    if constant.size:
        names = feature_names[constant] if feature_names is not None else constant
        raise ValueError(
            f"X has {constant.size} constant column(s) {names[:10].tolist()}: they "
            "carry no signal and make the covariance singular; drop them first."
        )


def _negentropy(S):
    """Negentropy approximation (E|s| - E|nu|)^2 of each standardised column.

    One pass over the data (the logcosh contrast costs a quarter of a fit).
    """
    scale = np.sqrt(np.mean(S**2, axis=0))
    scale[scale == 0] = 1.0
    return (np.mean(np.abs(S), axis=0) / scale - _GAUSSIAN_ABS_MEAN) ** 2


def _numerical_rank(eigvals, n_rows):
    """Number of covariance eigenvalues distinguishable from zero."""
    rtol = max(n_rows, eigvals.size) * np.finfo(np.float64).eps
    return int(np.sum(eigvals > eigvals[0] * rtol)) if eigvals[0] > 0 else 0


def _pca_whitening(cov, n_whitened, n_rows, name):
    """PCA whitening matrix (n_whitened, n_features) from a covariance.

    Eigenvectors get a deterministic sign (largest absolute entry positive)
    so that permuting the input columns permutes the matrix columns only.
    ``name`` is the parameter that set ``n_whitened``, for the error message.
    """
    eigvals, eigvecs = linalg.eigh(cov)
    eigvals, eigvecs = eigvals[::-1], eigvecs[:, ::-1]
    rank = _numerical_rank(eigvals, n_rows)
    if n_whitened > rank:
        raise ValueError(
            f"{name}={n_whitened} exceeds the rank {rank} of the centered "
            "data (collinear columns or too few samples): set n_components (or "
            f"pca_components) to at most {rank}."
        )
    eigvecs = eigvecs[:, :n_whitened]
    rows = np.argmax(np.abs(eigvecs), axis=0)
    eigvecs = eigvecs * np.sign(eigvecs[rows, np.arange(n_whitened)])
    return (eigvecs / np.sqrt(eigvals[:n_whitened])).T


def _is_isotropic(cov):
    """Return the scale c if cov is c * identity up to _WHITE_RTOL, else None."""
    scale = np.trace(cov) / cov.shape[0]
    if scale <= 0:
        return None
    deviation = np.max(np.abs(cov / scale - np.eye(cov.shape[0])))
    return scale if deviation <= _WHITE_RTOL else None


def _whitening(Xc, n_whitened, whiten, name):
    """Whitening matrix K (n_whitened, n_features): Xc @ K.T is white.

    ``whiten=False`` trusts the caller (identity); ``"pca-unless-white"`` only
    rescales an input whose covariance is already isotropic, so no rotation is
    introduced; ``"pca"`` always projects onto the leading principal axes.
    """
    n_features = Xc.shape[1]
    if whiten is False:
        return np.eye(n_features)
    cov = Xc.T @ Xc / Xc.shape[0]
    if whiten == "pca-unless-white" and n_whitened == n_features:
        scale = _is_isotropic(cov)
        if scale is not None:
            return np.eye(n_features) / np.sqrt(scale)
    return _pca_whitening(cov, n_whitened, Xc.shape[0], name)


def _fastica_rotation(Y, *, max_iter, tol, random_state):
    """Orthogonal unmixing of white Y by parallel FastICA (logcosh)."""
    ica = FastICA(
        whiten=False,
        fun="logcosh",
        max_iter=max_iter,
        tol=tol,
        random_state=random_state,
    ).fit(Y)
    return ica.components_, ica.n_iter_


def _import_picard():
    """Import python-picard's ``picard`` function lazily."""
    try:
        from picard import picard
    except ImportError as exc:
        raise ImportError(_PICARD_HINT) from exc
    return picard


def _picard_rotation(Y, *, max_iter, tol, random_state):
    """Orthogonal unmixing of white Y by Picard-O; non-convergence warns."""
    picard = _import_picard()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, W, _, n_iter = picard(
            Y.T,
            ortho=True,
            whiten=False,
            centering=False,
            max_iter=max_iter,
            tol=tol,
            random_state=random_state,
            return_n_iter=True,
        )
    converged = True
    for w in caught:
        if "did not converge" in str(w.message):
            converged = False
            warnings.warn(str(w.message), ConvergenceWarning, stacklevel=2)
        else:
            warnings.warn(w.message, w.category, stacklevel=2)
    # picard reports the index of its last loop pass, not the number of updates
    return W, n_iter if converged else n_iter + 1


_ROTATIONS = {"fastica": _fastica_rotation, "picard": _picard_rotation}


def _select_order_sign(components, sources, n_components):
    """Keep the ``n_components`` most non-Gaussian components, in decreasing
    negentropy; flip so each mixing column's largest absolute loading is
    positive. Returns components, sources, negentropy."""
    negentropy = _negentropy(sources)
    order = np.argsort(-negentropy, kind="stable")[:n_components]
    components, sources = components[order], sources[:, order]
    mixing = linalg.pinv(components)
    rows = np.argmax(np.abs(mixing), axis=0)
    signs = np.sign(mixing[rows, np.arange(mixing.shape[1])])
    signs[signs == 0] = 1.0
    return components * signs[:, None], sources * signs, negentropy[order]


class CoupledLatentICA(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Linear ICA removing the linear indeterminacy of contrastive representations.

    Multimodal contrastive learning recovers the coupled latents only up to an
    invertible linear map (an orthogonal one on the hypersphere) [1]_. When the
    latent components are independent and non-Gaussian, linear independent
    component analysis removes that map. This transformer whitens the data
    itself (PCA whitening by an eigendecomposition) and then runs an
    orthogonal ICA (FastICA or Picard-O) on the white data.

    In plain mode (``split=None``) it is ICA on a 2-D array, optionally
    reduced to ``pca_components`` principal directions first, in which the
    ICA then looks for the ``n_components`` most non-Gaussian directions (the
    PCA + FastICA pipeline of [1]_ for pretrained embeddings). In coupled mode the
    input is ``[z_x | z_t]``, the two modalities' representations side by side
    (e.g. an encoder's output with ``representation="both"``). Theory says both carry
    the same linear map of the coupled latents, so ONE unmixing is fitted on
    the rows of both modalities stacked vertically and applied to each; the
    output is ``[s_x | s_t]`` where column ``j`` of ``s_x`` and of ``s_t`` is
    the same latent.

    Parameters
    ----------
    n_components : int, default=None
        Number of independent components to extract (per modality in coupled
        mode): the most non-Gaussian ones found by the ICA in the whitened
        space. If None, as many as the whitened directions. Without
        ``pca_components`` (and with PCA whitening) it also sets the number
        of whitened directions, as in :class:`~sklearn.decomposition.FastICA`.

    split : int or list of int, default=None
        Number of leading columns of X that belong to modality x in coupled
        mode; the remaining ``n_features - split`` columns belong to modality
        t and must be as many. A list gives the widths of K views
        ``[z_1 | ... | z_K]``, all equal: one unmixing is fitted on the rows
        of every view stacked and applied to each. If None, plain mode.

    pca_components : int, default=None
        Number of leading principal directions kept by the whitening. The
        ICA rotates the whole ``pca_components``-dimensional white space and
        keeps the ``n_components <= pca_components`` components of highest
        negentropy, so an independent component may lie outside the leading
        ``n_components`` principal directions (FastICA on a PCA output would
        keep only those). If None, the whitening keeps ``n_components``
        directions, or all the features of a modality when both are None. It
        must not exceed the rank of the centered data, and needs whitening.

    algorithm : {"fastica", "picard"}, default="fastica"
        Orthogonal ICA run on the whitened data: scikit-learn's parallel
        FastICA with the logcosh contrast, or Picard-O
        (``picard.picard(..., ortho=True)``, needs python-picard, installed
        by ``pip install -e ".[ica]"`` in the sklcm checkout).

    whiten : {"pca-unless-white", "pca"} or False, default="pca-unless-white"
        Whitening before the orthogonal ICA.

        - "pca-unless-white": PCA whitening (projection on the leading
          principal axes, scaled to unit variance), except that an input
          whose covariance is already isotropic (``c * I``, e.g. PCA-whitened
          features or CCA scores) and keeps all its directions is only
          rescaled, never rotated.
        - "pca": always PCA whitening.
        - False: the input is assumed white; it is only centered, and all
          its directions are kept (``pca_components`` must be None).

        The whitening is computed here, not by FastICA, so FastICA always runs
        with ``whiten=False``: its known failure on exactly-white input
        (correlated output components) cannot occur.

    max_iter : int, default=1000
        Maximum number of iterations of the ICA backend.

    tol : float, default=None
        Convergence tolerance of the ICA backend. If None, the backend's own
        default: 1e-4 for "fastica" (change of the unmixing rows) and 1e-7
        for "picard" (gradient norm).

    random_state : int, RandomState instance or None, default=None
        Seeds the random initial rotation of the ICA backend. Pass an int for
        reproducible results across multiple function calls.
        See :term:`Glossary <random_state>`.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features_per_modality)
        Unmixing matrix including the whitening, applied to each centered
        modality: ``s = (z - mean) @ components_.T``.

    mixing_ : ndarray of shape (n_features_per_modality, n_components)
        Pseudo-inverse of ``components_``: the estimated mixing matrix.

    mean_ : ndarray of shape (`n_features_in_`,)
        Mean of each input column; in coupled mode each modality is centered
        by its own mean.

    whitening_ : ndarray of shape (n_whitened, n_features_per_modality)
        Whitening matrix applied before the orthogonal ICA rotation;
        ``n_whitened`` is ``pca_components`` if set, else ``n_components_``
        (all features with ``whiten=False``).

    negentropy_ : ndarray of shape (n_components,)
        Negentropy approximation of each component on the training data,
        in decreasing order (the order of the components).

    n_components_ : int
        Number of extracted components (per modality in coupled mode).

    split_ : int, list of int or None
        Validated ``split``; None in plain mode.

    n_iter_ : int
        Number of iterations run by the ICA backend (0 when a single
        direction is whitened).

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.decomposition.FastICA : Plain FastICA with its own whitening.

    Notes
    -----
    Coupled mode centers each modality by its own mean (an encoder may add
    a different offset per modality; ICA ignores offsets), then whitens and
    unmixes the stacked rows of both modalities with one shared matrix.

    Convention: components are sorted by decreasing non-Gaussianity (and,
    when ``n_components`` is smaller than the number of whitened directions,
    only the leading ones are kept), the negentropy approximation

    .. math:: J(s) = \\left(\\mathbb{E}|s| - \\mathbb{E}|\\nu|\\right)^2,
        \\quad \\nu \\sim \\mathcal{N}(0, 1),\\ \\mathbb{E}|\\nu| = \\sqrt{2/\\pi},

    of each standardised component (a one-pass relative of FastICA's logcosh
    contrast [2]_), and each sign is chosen so that the largest absolute
    entry of the corresponding column of ``mixing_`` is positive (as for
    symmetric latents the sign of the skewness is noise). Both are properties of
    the data, not of the input column order, so permuting the input columns
    leaves the output unchanged.

    In coupled mode the first ``n_components_`` output columns are ``s_x`` and
    the last ``n_components_`` are ``s_t``; with K views, ``[s_1 | ... |
    s_K]``, column ``j`` of every ``s_k`` being the same component. The
    columns of the views must be aligned (the same linear map of the latents
    in every view), as are a K-view encoder's views with one content block
    for all of them: ``MultimodalContrastiveEncoder(split=widths,
    subsets=[tuple(range(K))], view="all")``.

    References
    ----------
    .. [1] Y. Liu, Z. Zhang, D. Gong, E. Gao, B. Huang, M. Gong, A. van den
       Hengel, K. Zhang and J. Q. Shi, "Beyond DAGs: A Latent Partial Causal
       Model for Multimodal Learning", arXiv:2402.06223 (v1: "Revealing
       Multimodal Contrastive Representation Learning through Latent Partial
       Causal Models").
    .. [2] A. Hyvarinen and E. Oja. "Independent Component Analysis:
       Algorithms and Applications", Neural Networks, 13(4-5), 411-430, 2000.

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm import CoupledLatentICA
    >>> rng = np.random.RandomState(0)
    >>> z_x = rng.laplace(size=(1000, 3))
    >>> z_t = z_x + 0.1 * rng.normal(size=z_x.shape)
    >>> A = rng.normal(size=(3, 3))
    >>> ica = CoupledLatentICA(split=3, random_state=0)
    >>> S = ica.fit_transform(np.hstack([z_x @ A.T, z_t @ A.T]))
    >>> S.shape, ica.components_.shape
    ((1000, 6), (3, 3))
    >>> round(float(np.corrcoef(S[:, 0], S[:, 3])[0, 1]), 2)  # s_x[:, 0] vs s_t[:, 0]
    1.0
    >>> corr = np.abs(np.corrcoef(S[:, :3].T, z_x.T)[:3, 3:])
    >>> round(float(corr.max(axis=1).min()), 2)  # worst match to a true latent
    1.0
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "split": [Interval(Integral, 1, None, closed="left"), "array-like", None],
        "pca_components": [Interval(Integral, 1, None, closed="left"), None],
        "algorithm": [StrOptions({"fastica", "picard"})],
        "whiten": [StrOptions({"pca-unless-white", "pca"}), Options(bool, {False})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0.0, None, closed="neither"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components=None,
        *,
        split=None,
        pca_components=None,
        algorithm="fastica",
        whiten="pca-unless-white",
        max_iter=1000,
        tol=None,
        random_state=None,
    ):
        self.n_components = n_components
        self.split = split
        self.pca_components = pca_components
        self.algorithm = algorithm
        self.whiten = whiten
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _resolve_split(self, n_features):
        """Validate ``split`` against the width of X; None in plain mode."""
        if self.split is None:
            return None
        if np.ndim(self.split) != 0:
            widths = check_view_widths(self.split, n_features)
            if len(set(widths)) > 1:
                raise ValueError(
                    f"split={widths} gives views of unequal widths, which cannot "
                    "share one unmixing: coupled mode needs the same number of "
                    "aligned columns in every view (one shared linear map)."
                )
            return widths
        split = check_split(self.split, n_features)
        if 2 * split != n_features:
            raise ValueError(
                f"split={split} gives odd widths in coupled mode that cannot pair: "
                f"{split} x columns vs {n_features - split} t columns. Both "
                "modalities must have the same width (one shared linear map)."
            )
        return split

    def _resolve_dimensions(self, n_features):
        """Whitened directions and extracted components for a modality.

        Returns ``(n_whitened, n_components, name)`` where ``name`` is the
        parameter that set ``n_whitened`` (for the rank error message).
        """
        per_modality = f"the number of features per modality ({n_features})"
        if self.pca_components is not None:
            if self.whiten is False:
                raise ValueError(
                    f"pca_components={self.pca_components} needs the PCA "
                    "whitening, but whiten=False: set pca_components=None, or "
                    'whiten="pca-unless-white" or "pca".'
                )
            if self.pca_components > n_features:
                raise ValueError(
                    f"pca_components={self.pca_components} exceeds {per_modality}."
                )
            n_whitened, name = self.pca_components, "pca_components"
        elif self.n_components is not None and self.n_components > n_features:
            raise ValueError(
                f"n_components={self.n_components} exceeds {per_modality}."
            )
        elif self.whiten is False or self.n_components is None:
            n_whitened, name = n_features, "n_components"
        else:
            n_whitened, name = self.n_components, "n_components"
        n_components = n_whitened if self.n_components is None else self.n_components
        if n_components > n_whitened:
            raise ValueError(
                f"n_components={n_components} exceeds pca_components ({n_whitened})."
            )
        return n_whitened, n_components, name

    def _fit(self, X):
        """Fit the model and return the training sources ``[s_x | s_t]``."""
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        split = self._resolve_split(X.shape[1])
        _check_constant_columns(X, getattr(self, "feature_names_in_", None))
        blocks = _modality_blocks(X.astype(np.float64, copy=False), split)
        n_whitened, n_components, name = self._resolve_dimensions(blocks[0].shape[1])
        mean, Xc = _center_and_stack(blocks)
        K = _whitening(Xc, n_whitened, self.whiten, name)
        Y = Xc @ K.T
        W, n_iter = np.eye(n_whitened), 0
        if n_whitened > 1:
            W, n_iter = _ROTATIONS[self.algorithm](
                Y,
                max_iter=self.max_iter,
                tol=_DEFAULT_TOL[self.algorithm] if self.tol is None else self.tol,
                random_state=check_random_state(self.random_state),
            )
        components, sources, negentropy = _select_order_sign(
            W @ K, Y @ W.T, n_components
        )
        self.mean_, self.whitening_, self.split_ = mean, K, split
        self.components_, self.mixing_ = components, linalg.pinv(components)
        self.negentropy_ = negentropy
        self.n_components_, self.n_iter_ = n_components, n_iter
        sources = np.hstack(np.split(sources, len(blocks)))
        return sources.astype(X.dtype, copy=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the unmixing matrix to X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data: one modality, or ``[z_x | z_t]`` in coupled mode.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            Returns the instance itself.
        """
        self._fit(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit the model and recover the sources from X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data: one modality, or ``[z_x | z_t]`` in coupled mode.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        S : ndarray of shape (n_samples, `n_components_`) or \
                (n_samples, n_views * `n_components_`)
            Estimated sources; ``[s_x | s_t]`` in coupled mode.
        """
        return self._fit(X)

    def transform(self, X):
        """Recover the sources from X (apply the unmixing matrix).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data: one modality, or ``[z_x | z_t]`` in coupled mode.

        Returns
        -------
        S : ndarray of shape (n_samples, `n_components_`) or \
                (n_samples, n_views * `n_components_`)
            Estimated sources; ``[s_x | s_t]`` in coupled mode.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        W = self.components_.astype(X.dtype, copy=False)
        centered = X - self.mean_.astype(X.dtype, copy=False)
        return np.hstack(
            [block @ W.T for block in _modality_blocks(centered, self.split_)]
        )

    def inverse_transform(self, X):
        """Map sources back to the representation space.

        Parameters
        ----------
        X : array-like of shape (n_samples, `n_components_`) or \
                (n_samples, n_views * `n_components_`)
            Sources, ``[s_x | s_t]`` in coupled mode.

        Returns
        -------
        X_original : ndarray of shape (n_samples, `n_features_in_`)
            Reconstruction; exact when no dimension was dropped.
        """
        check_is_fitted(self)
        S = self._check_sources(X)
        A = self.mixing_.astype(S.dtype, copy=False)
        split = self.split_
        if split is not None:
            split = [self.n_components_] * _n_blocks(split)
        rec = np.hstack([block @ A.T for block in _modality_blocks(S, split)])
        return rec + self.mean_.astype(S.dtype, copy=False)

    def _check_sources(self, S):
        """Validate an array of sources for inverse_transform."""
        S = check_array(S, dtype=[np.float64, np.float32])
        if S.shape[1] != self._n_features_out:
            raise ValueError(
                f"X has {S.shape[1]} columns but this CoupledLatentICA outputs "
                f"{self._n_features_out} sources."
            )
        return S

    @property
    def _n_features_out(self):
        """Number of output columns (for get_feature_names_out)."""
        return self.components_.shape[0] * _n_blocks(self.split_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
