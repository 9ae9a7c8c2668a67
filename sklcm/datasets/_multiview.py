"""Synthetic K-view data: each view mixes its own subset of shared latents."""
# License: BSD 3 clause

from itertools import combinations
from numbers import Integral

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils.validation import check_random_state

from ..utils._param_validation import Interval, Real, StrOptions, validate_params
from ._mixing import InvertibleMLPMixing, _check_int
from ._samplers import (
    _SAMPLE_STREAM,
    _as_generator,
    _sample_laplace,
    _sample_normal,
    _sample_uniform_box,
)

# The numerical study of Yao et al. (ICLR 2024; CausalLearningAI/multiview-crl,
# main_numerical.py, default --S-k): four views over six latents.
_DEFAULT_VIEW_LATENTS = (
    (0, 1, 2, 3, 4),
    (0, 1, 2, 4, 5),
    (0, 1, 2, 3, 5),
    (0, 1, 3, 4, 5),
)

_NOISE = {"normal": _sample_normal, "laplace": _sample_laplace}

_MODEL_CONSTRAINTS = {
    "view_latents": [None, "array-like"],
    "marginal": [StrOptions({"normal", "uniform", "laplace"})],
    "conditional": [None, StrOptions({"normal", "laplace"})],
    "concentration": [Interval(Real, 0, None, closed="neither")],
    "n_specific": [Interval(Integral, 0, None, closed="left"), "array-like"],
    "n_features": [None, Interval(Integral, 1, None, closed="left"), "array-like"],
    "n_mixing_layers": [Interval(Integral, 1, None, closed="left")],
    "random_state": ["random_state", np.random.Generator],
}


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _check_view(k, view):
    """Validate the latent indices of view ``k``; return them as a tuple."""
    if isinstance(view, (str, bytes)) or not hasattr(view, "__iter__"):
        raise ValueError(
            "`view_latents` must be a list of lists of latent indices, one list "
            f"per view; view {k} is {view!r}."
        )
    indices = list(view)
    if not indices:
        raise ValueError(
            f"`view_latents`: view {k} observes no latent. Every view needs at "
            "least one latent index; latents of its own go in `n_specific`."
        )
    if not all(_is_int(i) for i in indices):
        raise ValueError(
            f"`view_latents`: the indices of view {k} must be ints, got {view!r}."
        )
    if min(indices) < 0:
        raise ValueError(
            f"`view_latents`: the indices of view {k} must be >= 0, got {view!r}."
        )
    if len(set(indices)) != len(indices):
        raise ValueError(
            f"`view_latents`: view {k} lists a latent twice, got {view!r}."
        )
    return tuple(int(i) for i in indices)


def _check_view_latents(view_latents):
    """Return ``(view_latents as a tuple of tuples, n_latents)``."""
    if view_latents is None:
        view_latents = _DEFAULT_VIEW_LATENTS
    views = tuple(_check_view(k, view) for k, view in enumerate(view_latents))
    if len(views) < 2:
        raise ValueError(
            f"`view_latents` must list at least 2 views, got {len(views)}."
        )
    n_latents = 1 + max(max(view) for view in views)
    unseen = sorted(set(range(n_latents)).difference(*views))
    if unseen:
        raise ValueError(
            f"`view_latents`: latents {unseen} are observed by no view. Number "
            f"the latents 0..n_latents-1 without gaps (here n_latents="
            f"{n_latents}, from the largest index)."
        )
    return views, n_latents


def _check_per_view(name, value, n_views, low):
    """Turn an int or one int per view into a validated tuple of ``n_views`` ints."""
    values = (value,) * n_views if _is_int(value) else tuple(value)
    if len(values) != n_views or not all(_is_int(v) for v in values):
        raise ValueError(
            f"`{name}` must be an int or a list of {n_views} ints (one per view), "
            f"got {value!r}."
        )
    if min(values) < low:
        raise ValueError(f"`{name}` values must be >= {low}, got {value!r}.")
    return tuple(int(v) for v in values)


def _shared_latents(view_latents):
    """Map every subset of >= 2 views to the latents that all its views observe.

    Subsets are tuples of view indices, ordered by size then lexicographically;
    subsets whose views share no latent are left out.
    """
    sets = [set(view) for view in view_latents]
    shared = {}
    for size in range(2, len(sets) + 1):
        for subset in combinations(range(len(sets)), size):
            common = set.intersection(*(sets[k] for k in subset))
            if common:
                shared[subset] = tuple(sorted(common))
    return shared


def _latent_views(view_latents, n_latents):
    """For every latent, the tuple of the views that observe it."""
    return tuple(
        tuple(k for k, view in enumerate(view_latents) if j in view)
        for j in range(n_latents)
    )


class MultiviewLatentSampler:
    """Fixed K-view latent model that draws fresh samples on demand.

    K views observe overlapping subsets of ``n_latents`` latents: view k
    mixes the latents listed in ``view_latents[k]`` together with its own
    ``n_specific[k]`` view-specific latents through its own frozen invertible
    MLP (:class:`InvertibleMLPMixing`). The mixing functions are drawn once;
    every call to :meth:`sample` draws new latents and mixes them with the same
    functions. :func:`make_multiview_latents` builds one and samples once.

    Parameters
    ----------
    view_latents : list of list of int, default=None
        Indices of the latents observed by each view (at least 2 views, each
        observing at least one latent; the latents are numbered 0 to
        ``n_latents - 1`` with no gap). None means the four views over six
        latents of Yao et al.'s numerical study:
        ``[[0, 1, 2, 3, 4], [0, 1, 2, 4, 5], [0, 1, 2, 3, 5], [0, 1, 3, 4, 5]]``.
    marginal : {"normal", "uniform", "laplace"}, default="normal"
        Distribution of every latent (independent components): N(0, 1),
        U(-1, 1) or Laplace(0, 1). The view-specific latents follow it too.
    conditional : {"normal", "laplace"} or None, default=None
        None: every view observes the same latents ``y``. Otherwise view 0
        observes ``y`` and every other view k its own noisy copy
        ``y + noise_k`` (independent noise of scale ``1 / concentration``), as
        t observes z_t given z_x in :func:`make_latent_partial_causal`.
    concentration : float, default=10.0
        Inverse scale of the noise of ``conditional``; ignored when it is None.
    n_specific : int or list of int, default=0
        Number of view-specific latents of each view (an int: the same for
        every view).
    n_features : int or list of int, default=None
        Observed width of each view; None means the number of latents the view
        mixes (``len(view_latents[k]) + n_specific[k]``). Larger widths append
        an injective linear layer to the mixing; smaller ones are an error.
    n_mixing_layers : int, default=3
        Number of square layers of each mixing MLP; 1 gives linear mixing.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the mixing functions (not the samples: see :meth:`sample`).

    Attributes
    ----------
    view_latents : tuple of tuple of int
        Validated latent indices of each view.
    n_views : int
        Number of views K.
    n_latents : int
        Number of latents (largest index in ``view_latents`` plus one).
    n_specific : tuple of int
        View-specific latents per view.
    n_features : tuple of int
        Observed width of each view.
    split : list of int
        Widths of the views in ``X = [x_1 | ... | x_K]`` (equals
        ``n_features``), the ``split`` a K-view estimator takes.
    shared_latents : dict of tuple to tuple of int
        For every subset of at least 2 views (a sorted tuple of view indices)
        whose views share a latent, the sorted indices of the latents observed
        by *every* view of the subset (and possibly by other views too). A
        subset's content is what all of its views see.
    latent_views : tuple of tuple of int
        For every latent, the views that observe it.
    mixings : list of InvertibleMLPMixing
        Mixing of each view, from ``[z_k[:, view_latents[k]], m_k]`` to
        ``x_k``.

    See Also
    --------
    make_multiview_latents : Build a sampler and draw one data set.
    LatentPartialCausalSampler : The two-view model with coupled latents.

    Examples
    --------
    >>> from sklcm.datasets import MultiviewLatentSampler
    >>> sampler = MultiviewLatentSampler([[0, 1], [0, 2], [0, 1, 2]], random_state=0)
    >>> X, y = sampler.sample(100, random_state=1)
    >>> X.shape, y.shape, sampler.split
    ((100, 7), (100, 3), [2, 2, 3])
    >>> sampler.shared_latents
    {(0, 1): (0,), (0, 2): (0, 1), (1, 2): (0, 2), (0, 1, 2): (0,)}
    """

    @validate_params(_MODEL_CONSTRAINTS, prefer_skip_nested_validation=True)
    def __init__(
        self,
        view_latents=None,
        *,
        marginal="normal",
        conditional=None,
        concentration=10.0,
        n_specific=0,
        n_features=None,
        n_mixing_layers=3,
        random_state=None,
    ):
        self.view_latents, self.n_latents = _check_view_latents(view_latents)
        self.n_views = len(self.view_latents)
        self.marginal = marginal
        self.conditional = conditional
        self.concentration = float(concentration)
        self.n_specific = _check_per_view("n_specific", n_specific, self.n_views, 0)
        n_inputs = tuple(
            len(view) + k for view, k in zip(self.view_latents, self.n_specific)
        )
        self.n_features = (
            n_inputs
            if n_features is None
            else _check_per_view("n_features", n_features, self.n_views, 1)
        )
        for k, (d, d_in) in enumerate(zip(self.n_features, n_inputs)):
            if d < d_in:
                raise ValueError(
                    f"`n_features` for view {k} is {d}, smaller than the {d_in} "
                    "latents it mixes (its view_latents plus n_specific): the "
                    f"mixing could not be injective. Use n_features >= {d_in}."
                )
        self.n_mixing_layers = int(n_mixing_layers)
        self.split = list(self.n_features)
        self.shared_latents = _shared_latents(self.view_latents)
        self.latent_views = _latent_views(self.view_latents, self.n_latents)
        rng = _as_generator(random_state)
        self.mixings = [
            InvertibleMLPMixing(
                d_in, d, n_layers=self.n_mixing_layers, random_state=rng
            )
            for d_in, d in zip(n_inputs, self.n_features)
        ]

    def sample(self, n_samples, random_state=None, return_info=False):
        """Draw new samples ``[x_1 | ... | x_K]`` from the model.

        Parameters
        ----------
        n_samples : int
            Number of samples (rows, paired across the views).
        random_state : int, RandomState instance, Generator or None, default=None
            Seeds the latents, as in :meth:`LatentPartialCausalSampler.sample`:
            an int gives draws independent of the mixing functions, even the
            int that seeded the sampler; a Generator is used as is.
        return_info : bool, default=False
            If True, also return a Bunch with the per-view latents and the model.

        Returns
        -------
        X : ndarray of shape (n_samples, sum(n_features))
            Stacked views ``[x_1 | ... | x_K]``; view k has ``split[k]`` columns.
        y : ndarray of shape (n_samples, n_latents)
            The latents.
        info : Bunch
            Only if ``return_info=True``; see :func:`make_multiview_latents`.
        """
        _check_int("n_samples", n_samples, 1)
        rng = _as_generator(random_state, stream=_SAMPLE_STREAM)
        y = self._draw_marginal(rng, (n_samples, self.n_latents))
        if self.conditional is None:
            z_views = [y] * self.n_views
        else:
            noise, scale = _NOISE[self.conditional], 1.0 / self.concentration
            z_views = [y] + [noise(rng, y, scale) for _ in range(self.n_views - 1)]
        m_views = [self._draw_marginal(rng, (n_samples, k)) for k in self.n_specific]
        X = np.empty((n_samples, sum(self.n_features)))
        stops = np.cumsum(self.n_features)
        for k, mixing in enumerate(self.mixings):
            view_input = np.hstack([z_views[k][:, self.view_latents[k]], m_views[k]])
            X[:, stops[k] - self.n_features[k] : stops[k]] = mixing(view_input)
        if not return_info:
            return X, y
        return (
            X,
            y,
            Bunch(z_views=z_views, m_views=m_views, sampler=self, **self._params()),
        )

    def _draw_marginal(self, rng, shape):
        if self.marginal == "uniform":
            return _sample_uniform_box(rng, *shape)
        draw = _sample_normal if self.marginal == "normal" else _sample_laplace
        return draw(rng, np.zeros(shape), 1.0)

    def _params(self):
        """Resolved parameters and model pieces, as stored in ``info``."""
        names = (
            "view_latents",
            "n_views",
            "n_latents",
            "marginal",
            "conditional",
            "concentration",
            "n_specific",
            "n_features",
            "n_mixing_layers",
            "split",
            "shared_latents",
            "latent_views",
            "mixings",
        )
        return {name: getattr(self, name) for name in names}

    def __repr__(self):
        return (
            f"{type(self).__name__}(view_latents={self.view_latents}, "
            f"marginal={self.marginal!r}, conditional={self.conditional!r}, "
            f"concentration={self.concentration}, n_specific={self.n_specific}, "
            f"n_features={self.n_features}, n_mixing_layers={self.n_mixing_layers})"
        )


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        **_MODEL_CONSTRAINTS,
        "return_info": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_multiview_latents(
    n_samples=1000,
    *,
    view_latents=None,
    marginal="normal",
    conditional=None,
    concentration=10.0,
    n_specific=0,
    n_features=None,
    n_mixing_layers=3,
    random_state=None,
    return_info=False,
):
    """Generate K paired views, each mixing its own subset of the latents.

    Each sample draws independent latents ``y`` in R^n and independent
    view-specific latents m_k; view k observes the latents listed in
    ``view_latents[k]`` (and its own m_k) through its own frozen invertible
    MLP g_k (:class:`InvertibleMLPMixing`)::

        y ~ p(y),  x_k = g_k([z_k[S_k], m_k]),  k = 1..K,

    where ``S_k = view_latents[k]`` and ``z_k = y`` (or a noisy copy of ``y``
    for k >= 2 with ``conditional``). The latents observed by every view of a
    subset of views are that subset's *content*; Yao et al. [1]_ show that
    contrastive learning on the views of a subset identifies its content
    block-wise. ``info.shared_latents`` lists the content of every subset.

    Read more in the :ref:`User Guide <multiview_data>`.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of samples (rows, paired across the views).
    view_latents : list of list of int, default=None
        Indices of the latents observed by each view: at least 2 views, each
        observing at least one latent, the latents numbered 0 to
        ``n_latents - 1`` with no gap (``n_latents`` is the largest index plus
        one). None means the four views over six latents of the numerical
        study of [1]_:
        ``[[0, 1, 2, 3, 4], [0, 1, 2, 4, 5], [0, 1, 2, 3, 5], [0, 1, 3, 4, 5]]``,
        where every subset of views shares latents 0 and 1, and each pair and
        triple shares more.
    marginal : {"normal", "uniform", "laplace"}, default="normal"
        Distribution of every latent, with independent components: N(0, 1)
        (as in [1]_), U(-1, 1) or Laplace(0, 1). The view-specific latents
        follow the same distribution.
    conditional : {"normal", "laplace"} or None, default=None
        None: every view observes the same latents ``y``. Otherwise view 0
        observes ``y`` and every other view k its own noisy copy
        ``z_k = y + noise_k`` with independent normal or Laplace noise of
        scale ``1 / concentration`` (not truncated, even for a uniform
        marginal). With two views this is the coupling z_t | z_x of
        :func:`make_latent_partial_causal` on ``latent_space="real"``.
    concentration : float, default=10.0
        Inverse scale of the noise of ``conditional``; ignored when it is None.
    n_specific : int or list of int, default=0
        Number of view-specific latents m_k of each view (an int: the same for
        every view), independent of ``y`` and of the other views.
    n_features : int or list of int, default=None
        Observed width of each view (an int: the same for every view). None
        means the number of latents the view mixes,
        ``len(view_latents[k]) + n_specific[k]``. Larger widths append an
        injective linear layer to the mixing; smaller ones are an error.
    n_mixing_layers : int, default=3
        Number of square layers of each mixing MLP; 1 gives linear mixing.
    random_state : int, RandomState instance, Generator or None, default=None
        Determines the mixing functions and the samples. Pass an int for
        reproducible output across multiple function calls.
    return_info : bool, default=False
        If True, also return a Bunch with the per-view latents, the mixing
        functions, the shared-latent map and the sampler.

    Returns
    -------
    X : ndarray of shape (n_samples, sum(n_features))
        Stacked views ``[x_1 | ... | x_K]``: view k in ``split[k]`` columns,
        in order.
    y : ndarray of shape (n_samples, n_latents)
        The latents.
    info : :class:`~sklearn.utils.Bunch`
        Only returned if ``return_info=True``, with keys:

        - ``split`` : list of int, the width of each view in ``X``;
        - ``view_latents`` : tuple of tuple of int, validated;
        - ``shared_latents`` : dict mapping every subset of at least 2 views
          (a sorted tuple of view indices) whose views share a latent to the
          sorted indices of the latents observed by *at least* the views of
          that subset (every view of the subset observes them; views outside
          it may too). Subsets that share nothing are left out. The keys are
          ordered by subset size, then lexicographically;
        - ``latent_views`` : tuple of tuple of int, the views observing each
          latent (latent j is shared by *exactly* the subset
          ``latent_views[j]``);
        - ``z_views`` : list of K ndarrays of shape (n_samples, n_latents),
          the latents as view k observes them (``y`` itself for every view
          when ``conditional=None``, and always for view 0);
        - ``m_views`` : list of K ndarrays of shape (n_samples, n_specific[k]),
          the view-specific latents;
        - ``mixings`` : list of :class:`InvertibleMLPMixing`;
          ``mixings[k](np.hstack([z_views[k][:, view_latents[k]],
          m_views[k]]))`` is view k of ``X``;
        - ``n_views``, ``n_latents``, ``marginal``, ``conditional``,
          ``concentration``, ``n_specific``, ``n_features``,
          ``n_mixing_layers`` : the resolved parameters (per-view tuples for
          ``n_specific`` and ``n_features``);
        - ``sampler`` : :class:`MultiviewLatentSampler` holding this model, to
          draw new samples with the same mixing functions.

    See Also
    --------
    MultiviewLatentSampler : Draw fresh samples from one fixed model.
    make_latent_partial_causal : Two views with coupled latents.
    sklcm.preprocessing.ViewSplitter : Split ``X`` into a list of views.

    Notes
    -----
    With two views, ``view_latents=[range(n), range(n)]``,
    ``marginal="normal"`` and a ``conditional``, the output equals that of
    ``make_latent_partial_causal(latent_space="real", marginal="normal")``
    with the same ``conditional``, ``concentration``, ``n_specific``,
    ``n_features``, ``n_mixing_layers`` and ``random_state``.

    References
    ----------
    .. [1] D. Yao, D. Xu, S. Lachapelle, S. Magliacane, P. Taslakian,
       G. Martius, J. von Kügelgen and F. Locatello, "Multi-View Causal
       Representation Learning with Partial Observability", ICLR 2024.

    Examples
    --------
    >>> from sklcm.datasets import make_multiview_latents
    >>> X, y, info = make_multiview_latents(200, random_state=0, return_info=True)
    >>> X.shape, y.shape, info.split
    ((200, 20), (200, 6), [5, 5, 5, 5])
    >>> info.shared_latents[(0, 1)], info.shared_latents[(0, 1, 2, 3)]
    ((0, 1, 2, 4), (0, 1))
    >>> X_new, y_new = info.sampler.sample(50, random_state=1)
    >>> X_new.shape
    (50, 20)
    """
    rng = random_state
    if not isinstance(rng, np.random.Generator):
        rng = check_random_state(random_state)
    sampler = MultiviewLatentSampler(
        view_latents,
        marginal=marginal,
        conditional=conditional,
        concentration=concentration,
        n_specific=n_specific,
        n_features=n_features,
        n_mixing_layers=n_mixing_layers,
        random_state=rng,
    )
    return sampler.sample(n_samples, random_state=rng, return_info=return_info)
