"""Source and shifted target pairs: synthetic shifts with known latents, real digits."""
# License: BSD 3 clause

from numbers import Integral

import numpy as np
from sklearn.cluster import KMeans
from sklearn.utils import Bunch
from sklearn.utils.validation import check_random_state

from ..utils._param_validation import Interval, Real, StrOptions, validate_params
from ._latent_partial_causal import _MODEL_CONSTRAINTS, LatentPartialCausalSampler
from ._real import load_digits_halves, load_multiple_features
from ._samplers import _SAMPLE_STREAM, _as_generator, _normalize_rows

# Draws of z_x from the model's marginal that place the class centres (k-means
# on the first _N_KMEANS) and the held-out threshold (their quantile); drawn
# from the mixing's stream, so they depend on random_state only.
_N_CALIBRATION = 200_000
_N_KMEANS = 5_000
# Standard deviation of one modality-specific latent, as LatentPartialCausalSampler
# draws them: standard normal, or uniform on [-1, 1] (std 1/sqrt(3)) on the box.
_SPECIFIC_STD = {"sphere": 1.0, "real": 1.0, "box": 1.0 / np.sqrt(3.0)}
_MAX_REJECTION_ROUNDS = 1000

_SHIFT_CONSTRAINTS = {
    "kind": [StrOptions({"specific", "support"})],
    "strength": [Interval(Real, 0, None, closed="left"), "array-like"],
    "specific_scale": [Interval(Real, 0, None, closed="neither")],
    "n_classes": [Interval(Integral, 2, None, closed="left")],
}


def _check_strength(kind, strength, specific_scale):
    """Return the strengths as a tuple of floats, checked against ``kind``."""
    values = np.atleast_1d(np.asarray(strength, dtype=float))
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(
            f"`strength` must be a finite float or a non-empty sequence of them, "
            f"got {strength!r}."
        )
    if np.any(values < 0) or len(set(values.tolist())) != values.size:
        raise ValueError(
            f"`strength` values must be >= 0 and distinct, got {strength!r}."
        )
    if kind == "support":
        if values.size != 1:
            raise ValueError(
                f'kind="support" takes one `strength`, got {strength!r}: the '
                "held-out region defines the source. Call once per strength with "
                "the same random_state; the mixing is the same."
            )
        if values[0] >= 1:
            raise ValueError(
                f'`strength` for kind="support" is the fraction of the coupled '
                f"latents' distribution held out of the source, in [0, 1), got "
                f"{values[0]}."
            )
        if specific_scale != 1:
            raise ValueError(
                f'`specific_scale` applies to kind="specific" only, got '
                f'{specific_scale} with kind="support"; leave it at 1.'
            )
    return tuple(float(v) for v in values)


def _check_n_samples(n_samples):
    if isinstance(n_samples, bool) or not isinstance(n_samples, Integral):
        raise TypeError(f"`n_samples` must be an int, got {type(n_samples).__name__}.")
    if n_samples < 1:
        raise ValueError(f"`n_samples` must be >= 1, got {n_samples}.")


def _class_centers(z, n_classes, latent_space, rng):
    """K-means centres of calibration draws (on the sphere: projected onto it)."""
    seed = int(rng.integers(2**31 - 1))
    km = KMeans(n_classes, n_init=3, random_state=seed).fit(z[:_N_KMEANS])
    centers = km.cluster_centers_
    return _normalize_rows(centers) if latent_space == "sphere" else centers


def _nearest_center(z, centers):
    """Index of the nearest centre (Euclidean) for every row of ``z``."""
    d2 = (z**2).sum(1)[:, None] - 2.0 * z @ centers.T + (centers**2).sum(1)
    return np.argmin(d2, axis=1)


def _concat_bunches(parts, n_samples):
    """Stack the rows of ``(X, z_x, info)`` parts and keep the first n_samples."""
    X = np.vstack([p[0] for p in parts])[:n_samples]
    z_x = np.vstack([p[1] for p in parts])[:n_samples]
    info = Bunch(
        **{
            key: np.vstack([p[2][key] for p in parts])[:n_samples]
            for key in ("z_t", "m_x", "m_t")
        }
    )
    return X, z_x, info


class ShiftedPairsSampler:
    """Source and shifted target pairs from one latent partial causal model.

    Holds one :class:`LatentPartialCausalSampler` (one pair of mixing
    functions), a partition of the coupled latents z_x into ``n_classes``
    classes and a shift of kind ``kind``. Every call to :meth:`sample` draws
    fresh pairs of one *domain*: the source or one of the shifted targets,
    all mixed by the same functions. :func:`make_shifted_pairs` uses it
    internally.

    Read more in the :ref:`User Guide <shift>`.

    Parameters
    ----------
    n_latents : int, default=3
        Dimension n of the coupled latents z_x and z_t.
    kind : {"specific", "support"}, default="specific"
        The shift: "specific" moves the distribution of the modality-specific
        latents m_x in the targets; "support" holds a region of z_x out of
        the source. See :func:`make_shifted_pairs`.
    strength : float or sequence of float, default=1.0
        How far the shift goes; one target per value for
        ``kind="specific"``. See :func:`make_shifted_pairs` for the units.
    specific_scale : float, default=1.0
        Factor on the standard deviation of m_x in the targets
        (``kind="specific"`` only).
    n_classes : int, default=5
        Number of classes, defined on z_x only.
    latent_space : {"sphere", "box", "real"}, default="sphere"
        Space of z; see :func:`make_latent_partial_causal`.
    marginal : {"auto", "uniform", "normal", "laplace"}, default="auto"
        Distribution of z_x; see :func:`make_latent_partial_causal`.
    conditional : {"auto", "vmf", "laplace", "normal", "gennorm"}, default="auto"
        Distribution of z_t given z_x; see :func:`make_latent_partial_causal`.
    concentration : float, default=10.0
        Coupling strength; see :func:`make_latent_partial_causal`.
    beta : float, default=3.0
        Shape of the generalized-normal conditional.
    n_specific : int or tuple of (int, int), default=2
        Dimensions (k_x, k_t) of the modality-specific latents; k_x >= 1 for
        ``kind="specific"``.
    n_features : int or tuple of (int, int), default=None
        Observed dimensions (d_x, d_t); None means (n + k_x, n + k_t).
    n_mixing_layers : int, default=3
        Number of square layers of each invertible MLP mixing.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the mixing functions, the class centres and the held-out
        region (not the samples: see :meth:`sample`).

    Attributes
    ----------
    model : LatentPartialCausalSampler
        The unshifted model; its ``mixing_x`` and ``mixing_t`` mix every
        domain.
    kind : str
        The kind of shift.
    strength : tuple of float
        The strengths, one per target.
    specific_scale : float
        Factor on the standard deviation of m_x in the targets.
    n_classes : int
        Number of classes.
    class_centers : ndarray of shape (n_classes, n_latents)
        Class ``c`` is the set of z_x nearest (Euclidean) to ``class_centers[c]``.
    threshold : float or None
        ``kind="support"``: the held-out region is ``z_x[:, 0] > threshold``
        (``inf`` at strength 0); None for ``kind="specific"``.
    domains : tuple of str
        ``"source"`` then the target names, ``"<kind>_<strength>"``.
    split : int
        Number of x columns of the generated ``X = [x | t]``.

    See Also
    --------
    make_shifted_pairs : Build a sampler and draw a source and its targets.
    LatentPartialCausalSampler : The unshifted model.

    Examples
    --------
    >>> from sklcm.datasets import ShiftedPairsSampler
    >>> sampler = ShiftedPairsSampler(kind="specific", strength=2.0, random_state=0)
    >>> sampler.domains
    ('source', 'specific_2')
    >>> X, y, latents = sampler.sample(
    ...     100, domain="specific_2", random_state=1, return_info=True)
    >>> X.shape, y.shape, latents.m_x.shape
    ((100, 10), (100,), (100, 2))
    """

    @validate_params(
        {**_MODEL_CONSTRAINTS, **_SHIFT_CONSTRAINTS}, prefer_skip_nested_validation=True
    )
    def __init__(
        self,
        n_latents=3,
        *,
        kind="specific",
        strength=1.0,
        specific_scale=1.0,
        n_classes=5,
        latent_space="sphere",
        marginal="auto",
        conditional="auto",
        concentration=10.0,
        beta=3.0,
        n_specific=2,
        n_features=None,
        n_mixing_layers=3,
        random_state=None,
    ):
        self.kind = kind
        self.strength = _check_strength(kind, strength, specific_scale)
        self.specific_scale = float(specific_scale)
        self.n_classes = int(n_classes)
        rng = _as_generator(random_state)
        self.model = LatentPartialCausalSampler(
            n_latents,
            latent_space=latent_space,
            marginal=marginal,
            conditional=conditional,
            concentration=concentration,
            beta=beta,
            n_specific=n_specific,
            n_features=n_features,
            n_mixing_layers=n_mixing_layers,
            random_state=rng,
        )
        if kind == "specific" and self.model.n_specific[0] == 0:
            raise ValueError(
                'kind="specific" shifts the modality-specific latents m_x, but '
                "`n_specific` gives m_x no dimension (k_x = 0); use n_specific >= 1."
            )
        self.split = self.model.split
        self.domains = ("source",) + tuple(f"{kind}_{s:g}" for s in self.strength)
        z_cal = self.model.sample(_N_CALIBRATION, random_state=rng)[1]
        self.class_centers = _class_centers(z_cal, n_classes, latent_space, rng)
        self.threshold = None
        if kind == "support":
            s = self.strength[0]
            self.threshold = (
                np.inf if s == 0 else float(np.quantile(z_cal[:, 0], 1 - s))
            )

    def sample(
        self, n_samples, *, domain="source", random_state=None, return_info=False
    ):
        """Draw new pairs (x, t) of one domain, with their class labels.

        Parameters
        ----------
        n_samples : int
            Number of pairs.
        domain : str, default="source"
            ``"source"`` or a target name of :attr:`domains`.
        random_state : int, RandomState instance, Generator or None, default=None
            Seeds the latents, as in :meth:`LatentPartialCausalSampler.sample`.
        return_info : bool, default=False
            If True, also return the latents.

        Returns
        -------
        X : ndarray of shape (n_samples, d_x + d_t)
            Stacked observations ``[x | t]``, x in the first ``split`` columns.
        y : ndarray of shape (n_samples,)
            Class labels, the index of the centre nearest to z_x.
        info : :class:`~sklearn.utils.Bunch`
            Only if ``return_info=True``: ``z_x``, ``z_t``, ``m_x``, ``m_t``
            (the latents, m_x after the shift) and ``held_out`` (bool array,
            True where z_x lies in the held-out region).
        """
        _check_n_samples(n_samples)
        if domain not in self.domains:
            raise ValueError(f"`domain` must be one of {self.domains}, got {domain!r}.")
        rng = _as_generator(random_state, stream=_SAMPLE_STREAM)
        if domain == "source" and self.kind == "support":
            X, z_x, info = self._sample_outside(n_samples, rng)
        else:
            X, z_x, info = self.model.sample(
                n_samples, random_state=rng, return_info=True
            )
        if domain != "source" and self.kind == "specific":
            strength = self.strength[self.domains.index(domain) - 1]
            X = self._shift_specific(X, z_x, info, strength)
        y = _nearest_center(z_x, self.class_centers)
        if not return_info:
            return X, y
        held_out = np.zeros(n_samples, dtype=bool)
        if self.threshold is not None:
            held_out = z_x[:, 0] > self.threshold
        latents = Bunch(z_x=z_x, z_t=info.z_t, m_x=info.m_x, m_t=info.m_t)
        return X, y, Bunch(**latents, held_out=held_out)

    def _shift_specific(self, X, z_x, info, strength):
        """Move m_x by ``strength`` standard deviations, scale it, re-mix x."""
        std = _SPECIFIC_STD[self.model.latent_space]
        info.m_x = self.specific_scale * info.m_x + strength * std
        X[:, : self.split] = self.model.mixing_x(np.hstack([z_x, info.m_x]))
        return X

    def _sample_outside(self, n_samples, rng):
        """Draw pairs conditioned on z_x outside the held-out region (rejection)."""
        keep_rate = 1.0 - self.strength[0]
        parts, n_kept = [], 0
        for _ in range(_MAX_REJECTION_ROUNDS):
            if n_kept >= n_samples:
                return _concat_bunches(parts, n_samples)
            n_draw = int((n_samples - n_kept) / keep_rate * 1.1) + 16
            X, z_x, info = self.model.sample(n_draw, random_state=rng, return_info=True)
            keep = z_x[:, 0] <= self.threshold
            parts.append(
                (X[keep], z_x[keep], {k: info[k][keep] for k in ("z_t", "m_x", "m_t")})
            )
            n_kept += int(keep.sum())
        raise RuntimeError(  # pragma: no cover - keep_rate >= 1e-16 per draw
            "Rejection sampling of the source did not finish; lower `strength`."
        )

    def __repr__(self):
        return (
            f"{type(self).__name__}(kind={self.kind!r}, strength={self.strength}, "
            f"n_classes={self.n_classes}, model={self.model!r})"
        )


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_target_samples": [None, Interval(Integral, 1, None, closed="left")],
        **_MODEL_CONSTRAINTS,
        **_SHIFT_CONSTRAINTS,
    },
    prefer_skip_nested_validation=True,
)
def make_shifted_pairs(
    n_samples=1000,
    *,
    n_target_samples=None,
    kind="specific",
    strength=1.0,
    specific_scale=1.0,
    n_classes=5,
    n_latents=3,
    latent_space="sphere",
    marginal="auto",
    conditional="auto",
    concentration=10.0,
    beta=3.0,
    n_specific=2,
    n_features=None,
    n_mixing_layers=3,
    random_state=None,
):
    """Generate a labelled source and shifted targets from one latent model.

    The pairs follow :func:`make_latent_partial_causal`: ``x = g_x([z_x,
    m_x])``, ``t = g_t([z_t, m_t])``, with the *same* mixing functions g_x,
    g_t in the source and every target. Class labels depend on the coupled
    latents only: ``y`` is the index of the centre nearest to z_x among
    ``n_classes`` fixed centres. Two kinds of shift separate the targets from
    the source:

    - ``kind="specific"`` (latent covariate shift on the modality-specific
      latents [1]_ [2]_): in a target, every component of m_x is moved by
      ``strength`` standard deviations (and scaled by ``specific_scale``);
      z_x, z_t, m_t and the labels keep their distribution. The raw x view
      moves; a representation of z_x alone would not.
    - ``kind="support"`` (held-out support, as in Schott et al. [3]_): the
      region ``z_x[:, 0] > threshold`` (a cap around the first axis on the
      sphere, a slab of the box) carries the fraction ``strength`` of the
      distribution of z_x; the source never visits it, the target is the
      full, unshifted model.

    Read more in the :ref:`User Guide <shift>`.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of source pairs.
    n_target_samples : int, default=None
        Number of pairs of each target; None means ``n_samples``.
    kind : {"specific", "support"}, default="specific"
        The kind of shift, see above.
    strength : float or sequence of float, default=1.0
        ``kind="specific"``: the mean shift of every component of m_x, in
        units of its standard deviation (1 for the normal m_x, 1/sqrt(3) for
        the uniform m_x of ``latent_space="box"``); one target per value
        (0 gives a target drawn like the source). ``kind="support"``: one
        value in [0, 1), the probability under the model's distribution of
        z_x of the region held out of the source.
    specific_scale : float, default=1.0
        ``kind="specific"`` only: factor on the standard deviation of m_x in
        the targets (a scale shift; 1 keeps the scale).
    n_classes : int, default=5
        Number of classes. The centres are k-means centres of 5,000 draws of
        z_x (projected onto the sphere when ``latent_space="sphere"``), so
        the classes have roughly equal probability.
    n_latents : int, default=3
        Dimension n of the coupled latents z_x and z_t.
    latent_space : {"sphere", "box", "real"}, default="sphere"
        Space of z_x and z_t; see :func:`make_latent_partial_causal`.
    marginal : {"auto", "uniform", "normal", "laplace"}, default="auto"
        Distribution of z_x; see :func:`make_latent_partial_causal`.
    conditional : {"auto", "vmf", "laplace", "normal", "gennorm"}, \
            default="auto"
        Distribution of z_t given z_x; see :func:`make_latent_partial_causal`.
    concentration : float, default=10.0
        Coupling strength; see :func:`make_latent_partial_causal`.
    beta : float, default=3.0
        Shape of the generalized-normal conditional.
    n_specific : int or tuple of (int, int), default=2
        Dimensions (k_x, k_t) of the modality-specific latents; k_x >= 1 for
        ``kind="specific"``.
    n_features : int or tuple of (int, int), default=None
        Observed dimensions (d_x, d_t); None means (n + k_x, n + k_t).
    n_mixing_layers : int, default=3
        Number of square layers of each mixing MLP; 1 gives linear mixing.
    random_state : int, RandomState instance, Generator or None, default=None
        Determines the mixing functions, the class centres, the held-out
        region and the samples. The model part does not depend on ``kind``
        or ``strength``: calls with the same int share mixing and classes.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with keys:

        - ``source`` : tuple ``(X, y)``, X of shape (n_samples, d_x + d_t)
          the stacked ``[x | t]``, y of shape (n_samples,) the labels;
        - ``targets`` : dict, target name (``"<kind>_<strength>"``, e.g.
          ``"specific_1.5"``) to ``(X, y)`` of ``n_target_samples`` rows; for
          ``kind="specific"`` all targets share their latents and differ only
          by the shift;
        - ``latents`` : dict, ``"source"`` and each target name to a Bunch
          with ``z_x``, ``z_t``, ``m_x``, ``m_t`` (m_x after the shift) and
          ``held_out`` (True where z_x lies in the held-out region);
        - ``split`` : int, number of x columns of ``X`` (d_x);
        - ``class_centers``, ``threshold`` : as in
          :class:`ShiftedPairsSampler`;
        - ``kind``, ``strength``, ``specific_scale``, ``n_classes`` and the
          resolved model parameters as in
          :func:`make_latent_partial_causal` (``n_latents``,
          ``latent_space``, ``marginal``, ``conditional``,
          ``concentration``, ``beta``, ``n_specific``, ``n_features``,
          ``n_mixing_layers``, ``mixing_x``, ``mixing_t``);
        - ``sampler`` : :class:`ShiftedPairsSampler`, to draw fresh pairs of
          any domain from the same model.

    See Also
    --------
    ShiftedPairsSampler : Draw fresh source or target pairs.
    make_latent_partial_causal : The unshifted model.
    load_digits_shift : A real shift between two digit populations.

    Notes
    -----
    The theory of Liu et al. [4]_ says the optimal contrastive encoder
    recovers z_x (up to an orthogonal map on the sphere) and discards m_x.
    Under ``kind="specific"`` a linear probe on such an encoder keeps its
    source accuracy on the targets, whereas one on the raw x view, PCA or
    CCA need not. Under ``kind="support"`` the encoder never saw the held-out
    region during training; the target measures extrapolation.

    The held-out threshold is the ``1 - strength`` quantile of ``z_x[:, 0]``
    over 200,000 draws of the model, so the held-out probability equals
    ``strength`` to about 0.001 (one standard error). On the uniform sphere
    S^{n-1} it is close to ``2 * B^{-1}(1 - strength) - 1``, with ``B`` the
    Beta((n-1)/2, (n-1)/2) distribution function; on the uniform box, to
    ``1 - 2 * strength``.

    References
    ----------
    .. [1] L. Kong, S. Xie, W. Yao, Y. Zheng, G. Chen, P. Stojanov, V. Akinwande
       and K. Zhang, "Partial Disentanglement for Domain Adaptation", ICML 2022.
    .. [2] Y. Liu, Z. Zhang, D. Gong et al., "Identifying Latent Causal
       Content for Multi-Source Domain Adaptation", arXiv, 2022 (the latent
       covariate shift paradigm).
    .. [3] L. Schott, J. von Kugelgen, F. Trauble, P. Gehler, C. Russell, M.
       Bethge, B. Scholkopf, F. Locatello and W. Brendel, "Visual
       Representation Learning Does Not Generalize Strongly Within the Same
       Domain", ICLR 2022.
    .. [4] Y. Liu, Z. Zhang, D. Gong, E. Gao, B. Huang, M. Gong, A. van den
       Hengel, K. Zhang and J. Q. Shi, "Beyond DAGs: A Latent Partial Causal
       Model for Multimodal Learning", arXiv:2402.06223.

    Examples
    --------
    >>> from sklcm.datasets import make_shifted_pairs
    >>> data = make_shifted_pairs(
    ...     200, n_latents=4, strength=(1.5, 3.0), random_state=0)
    >>> X, y = data.source
    >>> X.shape, y.shape, data.split, sorted(data.targets)
    ((200, 12), (200,), 6, ['specific_1.5', 'specific_3'])
    >>> round(float(data.latents["specific_3"].m_x.mean()), 1)
    3.0
    >>> held = make_shifted_pairs(200, kind="support", strength=0.3, random_state=0)
    >>> bool(held.latents["source"].held_out.any())
    False
    """
    rng = random_state
    if not isinstance(rng, np.random.Generator):
        rng = check_random_state(random_state)
    sampler = ShiftedPairsSampler(
        n_latents,
        kind=kind,
        strength=strength,
        specific_scale=specific_scale,
        n_classes=n_classes,
        latent_space=latent_space,
        marginal=marginal,
        conditional=conditional,
        concentration=concentration,
        beta=beta,
        n_specific=n_specific,
        n_features=n_features,
        n_mixing_layers=n_mixing_layers,
        random_state=rng,
    )
    n_target = n_samples if n_target_samples is None else n_target_samples
    sample_rng = _as_generator(rng, stream=_SAMPLE_STREAM)
    draws = {
        "source": sampler.sample(n_samples, random_state=sample_rng, return_info=True)
    }
    target_seed = int(sample_rng.integers(2**31 - 1))
    for name in sampler.domains[1:]:  # one seed: the targets share their latents
        draws[name] = sampler.sample(
            n_target, domain=name, random_state=target_seed, return_info=True
        )
    return Bunch(
        source=draws["source"][:2],
        targets={name: draws[name][:2] for name in sampler.domains[1:]},
        latents={name: draw[2] for name, draw in draws.items()},
        class_centers=sampler.class_centers,
        threshold=sampler.threshold,
        kind=sampler.kind,
        strength=sampler.strength,
        specific_scale=sampler.specific_scale,
        n_classes=sampler.n_classes,
        sampler=sampler,
        **sampler.model._params(),
    )


# The pix view of UCI Multiple Features: 240 = 16 rows x 15 columns (row-major,
# upright) of ink counts 0-6 in windows of 3 x 2 pixels (height x width) of the
# 48 x 30 binary images. scikit-learn's digits: 8 x 8 ink counts 0-16 in 4 x 4
# blocks of 32 x 32 bitmaps whose digits keep their aspect ratio.
_PIX_GRID = (16, 15)
_PIX_WINDOW = (3, 2)
_PIX_MAX = 6
_DIGITS_SIDE = 8
_DIGITS_MAX = 16
_POPULATIONS = ("mfeat", "digits")

_SHIFT_DESCR = """\
Two populations of handwritten digits as 8 x 8 images, halves as [x | t]
------------------------------------------------------------------------
mfeat: the 2,000 digits (200 per class, rows ordered by class) of UCI
Multiple Features, Dutch utility maps (R. P. W. Duin, UCI Machine Learning
Repository, 1998, https://doi.org/10.24432/C5HC70, CC BY 4.0), from the
"pix" view shipped with sklcm (see load_multiple_features).
digits: the 1,797 digits of sklearn.datasets.load_digits (UCI Optical
Recognition of Handwritten Digits, E. Alpaydin and C. Kaynak, 1998,
https://doi.org/10.24432/C50P49, CC BY 4.0): 8 x 8 images whose pixels
count the ink (0-16) in 4 x 4 blocks of 32 x 32 bitmaps.

Resampling of mfeat to the digits format: pix holds 16 x 15 windows of 3 x 2
pixels (ink counts 0-6) of 48 x 30 binary images. Each window is divided by
6 (fraction of ink); the 30-pixel-wide image is centred in a 48 x 48 square
(9 blank pixels each side, keeping the aspect ratio, as the digits
bitmaps do); the square is area-averaged onto 8 x 8 cells of 6 x 6 pixels
(exact fractional overlap of windows and cells) and multiplied by 16. Both
populations then hold the fraction of ink of each cell times 16, in [0, 16]
(mfeat values are not rounded: float, where digits are integers). Mean
pixel: 5.04 (mfeat), 4.88 (digits).

Views: x = the left 4 pixel columns, t = the right 4 (32 features each,
row-major within each half), the layout of load_digits_halves.

Measured (LogisticRegression(max_iter=1000) on the 64 pixels): within a
population (5-fold stratified, shuffled) 0.958 (mfeat) and 0.964 (digits);
across populations (train on one, test on the other) 0.654 (mfeat ->
digits) and 0.688 (digits -> mfeat). Flipping the mfeat images (left-right,
up-down) drops the cross accuracy to about 0.3, transposing them to 0.1.
"""


def _area_weights(n_in, n_out, start, stop):
    """Overlaps of ``n_out`` equal cells of [0, 1] with ``n_in`` of [start, stop].

    Entry ``[i, j]`` is the fraction of output cell ``i`` covered by input
    cell ``j``; ``weights @ values`` is the area average of a piecewise
    constant profile (zero outside [start, stop]).
    """
    e_in = np.linspace(start, stop, n_in + 1)
    e_out = np.linspace(0.0, 1.0, n_out + 1)
    low = np.maximum(e_out[:-1, None], e_in[None, :-1])
    high = np.minimum(e_out[1:, None], e_in[None, 1:])
    return np.clip(high - low, 0.0, None) * n_out


def _pix_to_digit_images(pix):
    """Resample pix rows (n, 240), counts 0-6, to 8 x 8 images on the 0-16 scale."""
    (rows, cols), (win_h, win_w) = _PIX_GRID, _PIX_WINDOW
    height, width = rows * win_h, cols * win_w  # 48 x 30 pixels
    margin = (height - width) / (2.0 * height)  # centre the width in a square
    row_weights = _area_weights(rows, _DIGITS_SIDE, 0.0, 1.0)
    col_weights = _area_weights(cols, _DIGITS_SIDE, margin, 1.0 - margin)
    ink = np.asarray(pix, dtype=np.float64).reshape(-1, rows, cols) / _PIX_MAX
    return _DIGITS_MAX * np.einsum("ir,nrc,jc->nij", row_weights, ink, col_weights)


def _image_halves(images):
    """Left and right 4 columns of (n, 8, 8) images as ``[x | t]`` (n, 64)."""
    half = images.shape[2] // 2
    return np.hstack(
        [images[:, :, :half].reshape(len(images), -1),
         images[:, :, half:].reshape(len(images), -1)]
    )  # fmt: skip


def _halves_to_images(X):
    """Inverse of :func:`_image_halves`."""
    side = _DIGITS_SIDE
    left, right = np.hsplit(X, 2)
    return np.concatenate(
        [left.reshape(-1, side, side // 2), right.reshape(-1, side, side // 2)], axis=2
    )


@validate_params(
    {"source": [StrOptions(set(_POPULATIONS))]}, prefer_skip_nested_validation=True
)
def load_digits_shift(*, source="mfeat"):
    """Load two populations of handwritten digits as a source and a shifted target.

    The UCI Multiple Features digits ("mfeat", 2,000 digits from Dutch
    utility maps, resampled from their 16 x 15 "pix" view to 8 x 8) and
    scikit-learn's 8 x 8 digits ("digits", 1,797) were written, scanned and
    preprocessed differently: a linear classifier scores about 0.96 within
    either and 0.65-0.69 across them. Each image is split into its left and
    right halves, the two views ``[x | t]``: train an encoder on the source's
    unlabelled pairs, probe on its labelled rows, score on the target. Both
    ship with sklcm and scikit-learn (no download).

    Read more in the :ref:`User Guide <shift_digits>`.

    Parameters
    ----------
    source : {"mfeat", "digits"}, default="mfeat"
        The population returned as the source; the other is the target.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        - source : tuple ``(X, y)``, X of shape (n_samples, 64), float64
          ``[x | t]`` (left then right 4 pixel columns, on the 0-16 scale),
          y of shape (n_samples,) the digit.
        - targets : dict with one item, the other population's name to its
          ``(X, y)``.
        - domains : tuple of str, the source name then the target name.
        - images : dict, population name to its images, ndarray of shape
          (n_samples, 8, 8).
        - split : int, the number of x columns (32).
        - views : tuple of str, ``("left", "right")``.
        - feature_names : list of str, as in :func:`load_digits_halves`.
        - target_names : ndarray of shape (10,).
        - DESCR : str, description, resampling, measured accuracies,
          provenance and licences.

    See Also
    --------
    load_digits_halves : The digits population alone.
    load_multiple_features : The mfeat digits in their six original views.
    make_shifted_pairs : Synthetic shifts with known latents.

    Notes
    -----
    The pix view holds 16 x 15 windows of 3 x 2 pixels (ink counts 0-6) of
    48 x 30 binary images; the digits pixels count the ink (0-16) in 4 x 4
    blocks of 32 x 32 bitmaps that keep the digit's aspect ratio. The
    resampling divides each window by 6, centres the 30-pixel width in a
    48 x 48 square (the aspect ratio kept), area-averages the square onto
    8 x 8 cells (each 2 x 3 windows) and multiplies by 16, so that a pixel of
    either population is 16 times the fraction of ink in its cell. mfeat
    pixels stay floats; rows stay in their files' order (mfeat by class).

    Measured with ``LogisticRegression(max_iter=1000)`` on the 64 pixels:
    0.958 (mfeat) and 0.964 (digits) within a population (5-fold), 0.654
    (mfeat to digits) and 0.688 (digits to mfeat) across.

    Examples
    --------
    >>> from sklcm.datasets import load_digits_shift
    >>> data = load_digits_shift(source="mfeat")
    >>> X, y = data.source
    >>> X.shape, data.split, data.domains
    ((2000, 64), 32, ('mfeat', 'digits'))
    >>> X_target, y_target = data.targets["digits"]
    >>> X_target.shape, float(X.max()), float(X_target.max())
    ((1797, 64), 16.0, 16.0)
    """
    mfeat = load_multiple_features(("pix", "mor"))
    images = _pix_to_digit_images(mfeat.data[:, : mfeat.split])
    digits = load_digits_halves()
    populations = {
        "mfeat": (_image_halves(images), mfeat.target),
        "digits": (digits.data, digits.target),
    }
    target = _POPULATIONS[1 - _POPULATIONS.index(source)]
    return Bunch(
        source=populations[source],
        targets={target: populations[target]},
        domains=(source, target),
        images={
            "mfeat": images,
            "digits": _halves_to_images(digits.data),
        },
        split=digits.split,
        views=digits.views,
        feature_names=digits.feature_names,
        target_names=np.arange(10),
        DESCR=_SHIFT_DESCR,
    )
