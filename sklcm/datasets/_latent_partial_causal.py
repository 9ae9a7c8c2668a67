"""Synthetic two-modality data from a latent partial causal model."""
# License: BSD 3 clause

from numbers import Integral

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils.validation import check_random_state

from ..utils._param_validation import Interval, Real, StrOptions, validate_params
from ._mixing import InvertibleMLPMixing
from ._samplers import (
    _SAMPLE_STREAM,
    _as_generator,
    _normalize_rows,
    _sample_gennorm,
    _sample_laplace,
    _sample_normal,
    _sample_uniform_box,
    _sample_uniform_sphere,
    _sample_vmf,
    _truncate_to_box,
)

_DEFAULT_MARGINAL = {"sphere": "uniform", "box": "uniform", "real": "normal"}
_DEFAULT_CONDITIONAL = {"sphere": "vmf", "box": "laplace", "real": "laplace"}

_MODEL_CONSTRAINTS = {
    "n_latents": [Interval(Integral, 1, None, closed="left")],
    "latent_space": [StrOptions({"sphere", "box", "real"})],
    "marginal": [StrOptions({"auto", "uniform", "normal", "laplace"})],
    "conditional": [StrOptions({"auto", "vmf", "laplace", "normal", "gennorm"})],
    "concentration": [Interval(Real, 0, None, closed="neither")],
    "beta": [Interval(Real, 0, None, closed="neither")],
    "n_specific": [Interval(Integral, 0, None, closed="left"), "array-like"],
    "n_features": [None, Interval(Integral, 1, None, closed="left"), "array-like"],
    "n_mixing_layers": [Interval(Integral, 1, None, closed="left")],
    "random_state": ["random_state", np.random.Generator],
}


def _check_pair(name, value, low):
    """Turn an int or a pair of ints into a validated ``(x, t)`` tuple."""
    pair = (value, value) if isinstance(value, Integral) else tuple(value)
    if len(pair) != 2 or any(
        isinstance(v, bool) or not isinstance(v, Integral) for v in pair
    ):
        raise ValueError(
            f"`{name}` must be an int or a pair of ints (x, t), got {value!r}."
        )
    if min(pair) < low:
        raise ValueError(f"`{name}` values must be >= {low}, got {value!r}.")
    return int(pair[0]), int(pair[1])


def _resolve_distributions(latent_space, marginal, conditional, n_latents):
    """Resolve "auto" and reject combinations the latent space cannot host."""
    marginal = _DEFAULT_MARGINAL[latent_space] if marginal == "auto" else marginal
    conditional = (
        _DEFAULT_CONDITIONAL[latent_space] if conditional == "auto" else conditional
    )
    if latent_space == "real" and marginal == "uniform":
        raise ValueError(
            '`marginal`="uniform" is undefined on the unbounded space '
            '`latent_space`="real": use "normal" or "laplace", or a bounded '
            '`latent_space` ("sphere" or "box").'
        )
    if conditional == "vmf" and latent_space != "sphere":
        raise ValueError(
            f'`conditional`="vmf" needs `latent_space`="sphere", got '
            f'latent_space="{latent_space}": use "laplace", "normal" or "gennorm".'
        )
    if latent_space == "sphere" and n_latents < 2:
        raise ValueError(
            f'`n_latents` must be >= 2 when `latent_space`="sphere", got {n_latents}.'
        )
    return marginal, conditional


class LatentPartialCausalSampler:
    """Fixed latent partial causal model that draws fresh pairs on demand.

    Holds the resolved distribution parameters and the two frozen mixing
    functions ``g_x`` and ``g_t``; every call to :meth:`sample` draws new
    latents from the same model and mixes them with the same functions. This is
    what streaming training needs (fresh pairs at every step), and what
    :func:`make_latent_partial_causal` uses internally.

    Parameters
    ----------
    n_latents : int, default=3
        Dimension n of the coupled latents z_x and z_t.
    latent_space : {"sphere", "box", "real"}, default="sphere"
        Space of z: the unit sphere S^{n-1}, the box [-1, 1]^n, or R^n.
    marginal : {"auto", "uniform", "normal", "laplace"}, default="auto"
        Distribution of z_x; see :func:`make_latent_partial_causal`.
    conditional : {"auto", "vmf", "laplace", "normal", "gennorm"}, default="auto"
        Distribution of z_t given z_x; see :func:`make_latent_partial_causal`.
    concentration : float, default=10.0
        Coupling strength (vMF kappa, or inverse scale of the other conditionals).
    beta : float, default=3.0
        Shape of the generalized-normal conditional.
    n_specific : int or tuple of (int, int), default=0
        Dimensions (k_x, k_t) of the modality-specific latents.
    n_features : int or tuple of (int, int), default=None
        Observed dimensions (d_x, d_t); None means (n + k_x, n + k_t).
    n_mixing_layers : int, default=3
        Number of square layers of each invertible MLP mixing.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the two mixing functions (not the samples: see :meth:`sample`).
        The mixing and the samples draw from independent streams, so the same
        int may seed both.

    Attributes
    ----------
    marginal : str
        Resolved marginal (never "auto").
    conditional : str
        Resolved conditional (never "auto").
    n_specific : tuple of (int, int)
        Resolved (k_x, k_t).
    n_features : tuple of (int, int)
        Resolved (d_x, d_t).
    split : int
        Number of x columns of the generated ``X = [x | t]`` (equals d_x).
    mixing_x : InvertibleMLPMixing
        Mixing g_x from ``[z_x, m_x]`` to x.
    mixing_t : InvertibleMLPMixing
        Mixing g_t from ``[z_t, m_t]`` to t (different from g_x).

    See Also
    --------
    make_latent_partial_causal : Build a sampler and draw one data set.

    Examples
    --------
    >>> from sklcm.datasets import LatentPartialCausalSampler
    >>> sampler = LatentPartialCausalSampler(n_latents=4, random_state=0)
    >>> X, y = sampler.sample(256, random_state=1)
    >>> X.shape, y.shape, sampler.split
    ((256, 8), (256, 4), 4)
    """

    @validate_params(_MODEL_CONSTRAINTS, prefer_skip_nested_validation=True)
    def __init__(
        self,
        n_latents=3,
        *,
        latent_space="sphere",
        marginal="auto",
        conditional="auto",
        concentration=10.0,
        beta=3.0,
        n_specific=0,
        n_features=None,
        n_mixing_layers=3,
        random_state=None,
    ):
        self.marginal, self.conditional = _resolve_distributions(
            latent_space, marginal, conditional, n_latents
        )
        self.n_latents = int(n_latents)
        self.latent_space = latent_space
        self.concentration = float(concentration)
        self.beta = float(beta)
        self.n_specific = _check_pair("n_specific", n_specific, 0)
        n_inputs = tuple(self.n_latents + k for k in self.n_specific)
        self.n_features = (
            n_inputs if n_features is None else _check_pair("n_features", n_features, 1)
        )
        for name, d, d_in in zip("xt", self.n_features, n_inputs):
            if d < d_in:
                raise ValueError(
                    f"`n_features` for modality {name} is {d}, smaller than the "
                    f"{d_in} latents it carries (n_latents + n_specific): the "
                    f"mixing could not be injective. Use n_features >= {d_in}."
                )
        self.n_mixing_layers = int(n_mixing_layers)
        self.split = self.n_features[0]
        rng = _as_generator(random_state)
        self.mixing_x, self.mixing_t = (
            InvertibleMLPMixing(
                d_in, d, n_layers=self.n_mixing_layers, random_state=rng
            )
            for d_in, d in zip(n_inputs, self.n_features)
        )

    def sample(self, n_samples, random_state=None, return_info=False):
        """Draw new pairs (x, t) from the model.

        Parameters
        ----------
        n_samples : int
            Number of pairs.
        random_state : int, RandomState instance, Generator or None, default=None
            Seeds the latents. An int or a RandomState seeds a stream
            independent of the one that drew the mixing functions, even when
            both get the same int. A Generator is used as is, so passing the
            same Generator at every call streams fresh, reproducible batches
            (two Generators built from one seed would repeat each other's
            draws: pass ints, or one Generator).
        return_info : bool, default=False
            If True, also return a Bunch with the other latents and the model.

        Returns
        -------
        X : ndarray of shape (n_samples, d_x + d_t)
            Stacked observations ``[x | t]``, x in the first ``split`` columns.
        y : ndarray of shape (n_samples, n_latents)
            The latents z_x.
        info : Bunch
            Only if ``return_info=True``; see :func:`make_latent_partial_causal`.
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, Integral):
            raise TypeError(
                f"`n_samples` must be an int, got {type(n_samples).__name__}."
            )
        if n_samples < 1:
            raise ValueError(f"`n_samples` must be >= 1, got {n_samples}.")
        rng = _as_generator(random_state, stream=_SAMPLE_STREAM)
        z_x = self._sample_marginal(rng, n_samples)
        z_t = self._sample_conditional(rng, z_x)
        m_x, m_t = (self._sample_specific(rng, n_samples, k) for k in self.n_specific)
        X = np.empty((n_samples, sum(self.n_features)))
        X[:, : self.split] = self.mixing_x(np.hstack([z_x, m_x]))
        X[:, self.split :] = self.mixing_t(np.hstack([z_t, m_t]))
        if not return_info:
            return X, z_x
        info = Bunch(z_t=z_t, m_x=m_x, m_t=m_t, sampler=self, **self._params())
        return X, z_x, info

    def stream(self, chunk_size, n_chunks=None, random_state=None):
        """Yield fresh chunks of pairs from the same model, for ``partial_fit``.

        Parameters
        ----------
        chunk_size : int
            Pairs per chunk.
        n_chunks : int, default=None
            Number of chunks; None streams forever.
        random_state : int, RandomState instance, Generator or None, default=None
            Seeds the whole stream: the same seed yields the same chunks. As
            in :meth:`sample`, an int gives draws independent of the mixing
            functions, even the int that seeded the sampler.

        Yields
        ------
        X : ndarray of shape (chunk_size, d_x + d_t)
            Stacked observations ``[x | t]`` of fresh latents.
        y : ndarray of shape (chunk_size, n_latents)
            The latents z_x of the chunk.

        Examples
        --------
        >>> from sklcm.datasets import LatentPartialCausalSampler
        >>> sampler = LatentPartialCausalSampler(n_latents=2, random_state=0)
        >>> [X.shape for X, y in sampler.stream(100, n_chunks=3, random_state=0)]
        [(100, 4), (100, 4), (100, 4)]
        """
        if n_chunks is not None and n_chunks < 0:
            raise ValueError(f"`n_chunks` must be >= 0 or None, got {n_chunks}.")
        rng = _as_generator(random_state, stream=_SAMPLE_STREAM)
        count = 0
        while n_chunks is None or count < n_chunks:
            yield self.sample(chunk_size, random_state=rng)
            count += 1

    def _params(self):
        """Resolved parameters and model pieces, as stored in ``info``."""
        names = (
            "n_latents",
            "latent_space",
            "marginal",
            "conditional",
            "concentration",
            "beta",
            "n_specific",
            "n_features",
            "n_mixing_layers",
            "split",
            "mixing_x",
            "mixing_t",
        )
        return {name: getattr(self, name) for name in names}

    def _sample_marginal(self, rng, n):
        shape, space, kind = (n, self.n_latents), self.latent_space, self.marginal
        if space == "sphere":
            if kind == "uniform":
                return _sample_uniform_sphere(rng, *shape)
            if kind == "normal":  # projected normal around the first axis
                z = rng.standard_normal(shape)
                z[:, 0] += 1.0
                return _normalize_rows(z)
            return _normalize_rows(rng.laplace(size=shape))
        if kind == "uniform":
            return _sample_uniform_box(rng, *shape)
        draw = _sample_normal if kind == "normal" else _sample_laplace
        if space == "box":
            return _truncate_to_box(
                rng, lambda r, loc: draw(r, loc, 1.0), np.zeros(shape)
            )
        return draw(rng, np.zeros(shape), 1.0)

    def _sample_conditional(self, rng, z_x):
        if self.conditional == "vmf":
            return _sample_vmf(rng, z_x, self.concentration)
        scale = 1.0 / self.concentration
        if self.conditional == "gennorm":
            beta = self.beta

            def draw(r, loc):
                return _sample_gennorm(r, loc, scale, beta)
        else:
            noise = _sample_normal if self.conditional == "normal" else _sample_laplace

            def draw(r, loc):
                return noise(r, loc, scale)

        if self.latent_space == "box":
            return _truncate_to_box(rng, draw, z_x)
        z_t = draw(rng, z_x)
        return _normalize_rows(z_t) if self.latent_space == "sphere" else z_t

    def _sample_specific(self, rng, n, k):
        if self.latent_space == "box":
            return _sample_uniform_box(rng, n, k)
        return rng.standard_normal((n, k))

    def __repr__(self):
        return (
            f"{type(self).__name__}(n_latents={self.n_latents}, "
            f"latent_space={self.latent_space!r}, marginal={self.marginal!r}, "
            f"conditional={self.conditional!r}, concentration={self.concentration}, "
            f"n_specific={self.n_specific}, n_features={self.n_features}, "
            f"n_mixing_layers={self.n_mixing_layers})"
        )


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        **_MODEL_CONSTRAINTS,
        "return_info": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_latent_partial_causal(
    n_samples=1000,
    *,
    n_latents=3,
    latent_space="sphere",
    marginal="auto",
    conditional="auto",
    concentration=10.0,
    beta=3.0,
    n_specific=0,
    n_features=None,
    n_mixing_layers=3,
    random_state=None,
    return_info=False,
):
    """Generate paired two-modality data from a latent partial causal model.

    Each pair (x, t) is generated from coupled latents z_x, z_t in R^n and
    independent modality-specific latents m_x, m_t::

        z_x ~ p(z_x),  z_t | z_x ~ p(z_t | z_x),
        x = g_x([z_x, m_x]),  t = g_t([z_t, m_t]),

    where g_x and g_t are two different frozen invertible MLPs
    (:class:`InvertibleMLPMixing`). The two settings of the identifiability
    theorems of Liu et al. [1]_ are ``latent_space="sphere"`` (uniform
    marginal, von Mises-Fisher conditional: contrastive learning recovers z_x
    up to an orthogonal map) and ``latent_space="box"`` (uniform marginal,
    Laplace conditional: recovery up to a scaled permutation). Other
    combinations are the assumption-violation variants.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of pairs.
    n_latents : int, default=3
        Dimension n of the coupled latents z_x and z_t. At least 2 on the
        sphere.
    latent_space : {"sphere", "box", "real"}, default="sphere"
        Space of z_x and z_t: the unit sphere S^{n-1} in R^n, the box
        [-1, 1]^n, or the unbounded R^n.
    marginal : {"auto", "uniform", "normal", "laplace"}, default="auto"
        Distribution of z_x. "auto" is "uniform" on the sphere and the box and
        "normal" on "real" ("uniform" on "real" is an error). See Notes for the
        non-uniform marginals on the sphere and the box.
    conditional : {"auto", "vmf", "laplace", "normal", "gennorm"}, \
            default="auto"
        Distribution of z_t given z_x. "auto" is "vmf" on the sphere and
        "laplace" otherwise; "vmf" (von Mises-Fisher with mean direction z_x)
        exists only on the sphere. The others add centred noise to z_x; on
        the sphere the sum is projected back onto the sphere (normalised), on
        the box the noise is truncated to the box (rejection sampling).
    concentration : float, default=10.0
        Coupling strength: the vMF concentration kappa, or the inverse scale of
        the other conditionals (noise scale = 1 / concentration). Larger means
        tighter coupling for every conditional.
    beta : float, default=3.0
        Shape of the generalized normal ("gennorm") conditional, with density
        proportional to ``exp(-|(z_t - z_x) / scale|^beta)``. Ignored otherwise.
    n_specific : int or tuple of (int, int), default=0
        Dimensions (k_x, k_t) of the modality-specific latents m_x and m_t; an
        int is used for both. They are standard normal, or uniform on [-1, 1]
        when ``latent_space="box"``, independent of z.
    n_features : int or tuple of (int, int), default=None
        Observed dimensions (d_x, d_t); an int is used for both. None means
        (n_latents + k_x, n_latents + k_t). Larger values append an injective
        linear layer to the mixing; smaller values are an error.
    n_mixing_layers : int, default=3
        Number of square layers of each mixing MLP; 1 gives linear mixing.
    random_state : int, RandomState instance, Generator or None, default=None
        Determines the mixing functions and the samples. Pass an int for
        reproducible output across multiple function calls.
    return_info : bool, default=False
        If True, also return a Bunch with the remaining latents, the mixing
        functions, the resolved parameters and the sampler.

    Returns
    -------
    X : ndarray of shape (n_samples, d_x + d_t)
        Stacked observations ``[x | t]``: x in the first ``d_x`` columns.
    y : ndarray of shape (n_samples, n_latents)
        The latents z_x of modality x.
    info : :class:`~sklearn.utils.Bunch`
        Only returned if ``return_info=True``, with keys:

        - ``z_t`` : ndarray of shape (n_samples, n_latents), latents of t;
        - ``m_x``, ``m_t`` : ndarrays of shape (n_samples, k_x) and
          (n_samples, k_t), the modality-specific latents;
        - ``split`` : int, number of x columns of ``X`` (d_x);
        - ``mixing_x``, ``mixing_t`` : :class:`InvertibleMLPMixing`,
          ``mixing_x(np.hstack([z_x, m_x]))`` gives the x block of ``X``;
        - ``n_latents``, ``latent_space``, ``marginal``, ``conditional``,
          ``concentration``, ``beta``, ``n_mixing_layers`` : the resolved
          parameters ("auto" replaced by its value);
        - ``n_specific``, ``n_features`` : resolved pairs (k_x, k_t) and
          (d_x, d_t);
        - ``sampler`` : :class:`LatentPartialCausalSampler` holding this model,
          to draw new pairs with the same mixing functions.

    See Also
    --------
    LatentPartialCausalSampler : Draw fresh pairs from one fixed model.
    InvertibleMLPMixing : The mixing functions.

    Notes
    -----
    The von Mises-Fisher density on the sphere S^{n-1} is

    .. math:: p(z_t \\mid z_x) \\propto \\exp(\\kappa\\, z_x^\\top z_t),

    sampled exactly with Wood's rejection algorithm [2]_, vectorised over
    samples, and :math:`E[z_x^\\top z_t] = I_{n/2}(\\kappa) / I_{n/2-1}(\\kappa)`.

    Non-uniform marginals, used as assumption violations: on the sphere,
    "normal" is a projected normal, ``normalize(e_1 + N(0, I))``, concentrated
    around the first axis, and "laplace" is ``normalize(Laplace(0, 1)^n)``,
    concentrated around the coordinate axes; on the box, "normal" and
    "laplace" are the standard distributions truncated to [-1, 1]^n. Truncation
    to the box is exact coordinate-wise rejection, because both the noise and
    the box factorise over coordinates.

    On ``latent_space="real"`` the components of z_x are independent. With
    ``marginal="laplace"`` they are independent and non-Gaussian: the setting
    of the corollary of [1]_ in which linear ICA removes the remaining
    orthogonal ambiguity of a contrastive representation.

    References
    ----------
    .. [1] Y. Liu, Z. Zhang, D. Gong, E. Gao, B. Huang, M. Gong, A. van den
       Hengel, K. Zhang and J. Q. Shi, "Beyond DAGs: A Latent Partial Causal
       Model for Multimodal Learning", arXiv:2402.06223 (v1: "Revealing
       Multimodal Contrastive Representation Learning through Latent Partial
       Causal Models").
    .. [2] A. T. A. Wood, "Simulation of the von Mises Fisher distribution",
       Communications in Statistics - Simulation and Computation, 23(1),
       157-164, 1994.

    Examples
    --------
    >>> from sklcm.datasets import make_latent_partial_causal
    >>> X, y, info = make_latent_partial_causal(
    ...     200, n_latents=4, n_specific=(1, 2), n_features=(6, 8),
    ...     random_state=0, return_info=True)
    >>> X.shape, y.shape, info.split
    ((200, 14), (200, 4), 6)
    >>> info.marginal, info.conditional, info.n_specific
    ('uniform', 'vmf', (1, 2))
    >>> X_new, y_new = info.sampler.sample(50, random_state=1)
    >>> X_new.shape
    (50, 14)
    """
    rng = random_state
    if not isinstance(rng, np.random.Generator):
        rng = check_random_state(random_state)
    sampler = LatentPartialCausalSampler(
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
    return sampler.sample(n_samples, random_state=rng, return_info=return_info)
