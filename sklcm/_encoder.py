"""MultimodalContrastiveEncoder: a two-tower contrastive encoder as a transformer."""
# License: BSD 3 clause

import copy
import warnings

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from skorch.callbacks import Callback, EarlyStopping, ProgressBar

from ._net import (
    ContrastiveNet,
    DivergenceError,
    StopOnDivergence,
    WarmupCosineLR,
    batch_starts,
)
from .nn import SymmetricInfoNCE, TwoTowerMLP
from .utils._param_validation import (
    Integral,
    Interval,
    Real,
    StrOptions,
    _fit_context,
)
from .utils._torch import as_float_tensor, resolve_device, seeded
from .utils._validation import check_split

_OPTIMIZERS = {
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
    "sgd": (torch.optim.SGD, {"momentum": 0.9}),
}
_TRANSFORM_CHUNK = 65536


class MultimodalContrastiveEncoder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    r"""Two-tower encoder trained with the symmetric CLIP/InfoNCE loss.

    Each modality of a paired data set gets its own multi-layer perceptron
    ("tower"); both are trained jointly so that paired rows ``(x_i, t_i)`` are
    more similar than unpaired ones. Under the latent partial causal model the
    learned x representation recovers the coupled latent :math:`z_x` up to an
    orthogonal map (``latent_space="sphere"``) or up to a permutation and
    scaling (``latent_space="box"``). Training runs through a skorch net, on the
    GPU when one is present and ``device="auto"``.

    The two modalities travel in one 2-D array ``X = [x | t]``: the first
    ``split`` columns are modality x, the rest modality t (see
    :func:`sklcm.utils.stack_modalities`).

    Read more in the :ref:`User Guide <encoder>`.

    Parameters
    ----------
    n_components : int, default=2
        Size of the representation produced by each tower.

    split : int, default=None
        Number of leading columns of ``X`` that belong to modality x. Required.

    latent_space : {"sphere", "box"}, default="sphere"
        Output geometry. ``"sphere"``: L2-normalised outputs, cosine similarity.
        ``"box"``: sigmoid outputs scaled by learnable per-dimension bounds,
        similarity :math:`-\lVert u - v \rVert_p`.

    p : float, default=1.0
        Order of the norm of the box similarity. Ignored on the sphere.

    temperature : float or "auto", default="auto"
        Softmax temperature :math:`\tau` of the InfoNCE loss (its initial value
        when ``learn_temperature=True``). ``"auto"`` is 0.2 on the sphere and
        0.5 on the box: on the theorems' settings (n_latents=10) the sphere
        reached R² ≥ 0.99 at 0.2 where 0.1 and 1.0 plateaued lower, and the
        box reached MCC 0.968 at 0.5 against 0.894 at 0.2 (24k steps).

    learn_temperature : bool, default=False
        Whether to train :math:`\log\tau` jointly with the towers.

    hidden_layer_sizes : tuple of int, default=(256, 256, 256)
        Hidden layer widths of each tower, as in
        :class:`~sklearn.neural_network.MLPRegressor`.

    activation : str, default="leaky_relu"
        Hidden activation: one of "leaky_relu" (slope 0.01), "relu", "gelu",
        "silu", "elu" or "tanh".

    optimizer : {"adam", "adamw", "sgd"}, default="adam"
        Optimiser (SGD uses momentum 0.9).

    batch_size : int, default=256
        Pairs per step; the other pairs of a batch are the negatives. When it
        exceeds the number of samples it is reduced to ``n_samples`` with a
        warning.

    max_epochs : int, default=100
        Passes over the training data in :meth:`fit`.

    max_steps : int, default=None
        Length of the learning-rate schedule in optimiser steps. ``None``: in
        :meth:`fit`, ``max_epochs`` times the batches per epoch; in
        :meth:`partial_fit` (length unknown), constant after the warmup.

    lr : float, default=2e-3
        Peak learning rate.

    lr_schedule : {"cosine", "constant"}, default="cosine"
        Linear warmup followed by a cosine decay to zero over the schedule, or
        warmup followed by a constant rate.

    warmup : float, default=0.02
        Warmup length as a fraction of the schedule (of 5000 steps when its
        length is unknown), or a number of steps when ≥ 1.

    weight_decay : float, default=0.0
        Weight decay of the optimiser.

    early_stopping : bool or int, default=False
        Stop when the epoch's training loss has not improved by a relative
        1e-4 for 10 epochs (or for the given number of epochs when an int).
        There is no validation split: the training loss is monitored.

    callbacks : list of skorch callbacks, default=None
        Extra :mod:`skorch.callbacks` added to the net, as instances or
        ``(name, callback)`` tuples.

    verbose : int, default=0
        0 is silent, 1 prints one line per epoch, 2 adds a progress bar.

    device : str, default="auto"
        Torch device; ``"auto"`` picks ``"cuda"`` when available.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation and batch shuffling. Pass an int for
        reproducible results across calls.

    output : {"x", "t", "both", "mean"}, default="x"
        What :meth:`transform` returns: the x representation, the t
        representation, both side by side ``[z_x | z_t]``, or their mean.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is a
        :class:`sklcm.nn.TwoTowerMLP`.

    history_ : skorch.History
        Per-epoch records, e.g. ``history_[:, "train_loss"]``.

    temperature_ : float
        Temperature at the end of training.

    n_iter_ : int
        Number of epochs run (in :meth:`fit`) or chunks seen (in
        :meth:`partial_fit`).

    n_steps_ : int
        Number of optimiser steps taken.

    batch_size_ : int
        Batch size actually used.

    device_ : str
        Device used for training.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    CoupledLatentICA : Linear ICA that removes the remaining rotation.
    sklcm.datasets.make_latent_partial_causal : Paired data with known latents.

    Notes
    -----
    Inputs are standardised per feature inside each tower with statistics of
    the first data seen. Training uses float32; :meth:`transform` returns the
    input's dtype.

    References
    ----------
    .. [1] Y. Liu, Z. Zhang, D. Gong, E. Gao, B. Huang, M. Gong, A. van den
       Hengel, K. Zhang and J. Q. Shi, "Beyond DAGs: A Latent Partial Causal
       Model for Multimodal Learning", arXiv:2402.06223 (v1: "Revealing
       Multimodal Contrastive Representation Learning through Latent Partial
       Causal Models").

    Examples
    --------
    >>> from sklcm import MultimodalContrastiveEncoder
    >>> from sklcm.datasets import make_latent_partial_causal
    >>> X, z, info = make_latent_partial_causal(200, n_latents=2, random_state=0,
    ...                                         return_info=True)
    >>> enc = MultimodalContrastiveEncoder(n_components=2, split=info.split,
    ...                                    max_epochs=2, hidden_layer_sizes=(16,),
    ...                                    random_state=0)
    >>> enc.fit_transform(X).shape
    (200, 2)
    """

    # the skorch net class built in _initialize, and extra keyword arguments
    # for it (hooks for subclasses such as sklcm.distributed's)
    _net_class = ContrastiveNet

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "split": [Interval(Integral, 1, None, closed="left"), None],
        "latent_space": [StrOptions({"sphere", "box"})],
        "p": [Interval(Real, 1, None, closed="left")],
        "temperature": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        "learn_temperature": ["boolean"],
        "hidden_layer_sizes": ["array-like"],
        "activation": [
            StrOptions({"leaky_relu", "relu", "gelu", "silu", "elu", "tanh"})
        ],
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "max_steps": [Interval(Integral, 1, None, closed="left"), None],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "lr_schedule": [StrOptions({"cosine", "constant"})],
        "warmup": [Interval(Real, 0, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean", Interval(Integral, 1, None, closed="left")],
        "callbacks": [list, None],
        "verbose": ["verbose"],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "output": [StrOptions({"x", "t", "both", "mean"})],
    }

    def __init__(
        self,
        n_components=2,
        *,
        split=None,
        latent_space="sphere",
        p=1.0,
        temperature="auto",
        learn_temperature=False,
        hidden_layer_sizes=(256, 256, 256),
        activation="leaky_relu",
        optimizer="adam",
        batch_size=256,
        max_epochs=100,
        max_steps=None,
        lr=2e-3,
        lr_schedule="cosine",
        warmup=0.02,
        weight_decay=0.0,
        early_stopping=False,
        callbacks=None,
        verbose=0,
        device="auto",
        random_state=None,
        output="x",
    ):
        self.n_components = n_components
        self.split = split
        self.latent_space = latent_space
        self.p = p
        self.temperature = temperature
        self.learn_temperature = learn_temperature
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.max_steps = max_steps
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.warmup = warmup
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.callbacks = callbacks
        self.verbose = verbose
        self.device = device
        self.random_state = random_state
        self.output = output

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train both towers on paired data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Paired observations ``[x | t]``; the first ``split`` columns are x.
        y : Ignored
            Not used, present for API consistency by convention (so that
            :class:`~sklearn.model_selection.GridSearchCV` can pass true
            latents to a scorer).

        Returns
        -------
        self : object
            Fitted encoder.
        """
        previous = self._pop_fitted_state()
        try:
            X = self._validate_X(X, reset=True)
            self._initialize(X, total_steps=self._fit_total_steps(len(X)))
            self._train(X, epochs=self.max_epochs)
        except DivergenceError as exc:
            self._pop_fitted_state()
            raise ValueError(f"Training diverged: {exc}") from exc
        except BaseException:
            self._pop_fitted_state()
            self.__dict__.update(previous)  # a bad call loses no fitted state
            raise
        self.n_iter_ = len(self.net_.history)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Continue training with one pass over a chunk of pairs.

        The first call initialises the towers (input standardisation uses this
        chunk's statistics), the optimiser and the learning-rate schedule;
        later calls keep them, so a stream of fresh chunks is trained like
        one long run. :meth:`fit` starts over.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of paired observations ``[x | t]``.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The updated encoder.
        """
        first = not hasattr(self, "net_")
        X = self._validate_X(X, reset=first)
        if first:
            self._initialize(X, total_steps=self.max_steps)
            self.n_iter_ = 0
        snapshot = None if first else self._snapshot()
        try:
            self._train(X, epochs=1)
        except DivergenceError as exc:
            self._pop_fitted_state() if first else self._restore(snapshot)
            raise ValueError(
                f"Training diverged: {exc} The encoder keeps its state from "
                "before this call."
            ) from exc
        self.n_iter_ += 1
        return self

    def _fit_total_steps(self, n_samples):
        if self.max_steps is not None:
            return self.max_steps
        batch_size = min(self.batch_size, n_samples)
        return self.max_epochs * len(batch_starts(n_samples, batch_size))

    def _validate_X(self, X, *, reset):
        X = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64])
        n_samples, n_features = X.shape
        if n_features < 2:
            raise ValueError(
                f"X has n_features = {n_features}, but the encoder needs at least one "
                "column per modality: pass X = [x | t], e.g. from "
                "sklcm.utils.stack_modalities(X_x, X_t)."
            )
        if n_samples < 2:
            raise ValueError(
                f"X has n_samples = {n_samples}, but contrastive training needs at "
                "least 2 pairs (the other pairs of a batch are the negatives)."
            )
        check_split(self.split, n_features)
        return X

    def _initialize(self, X, *, total_steps):
        """Build the module, criterion and skorch net, then set fitted attributes.

        Nothing is assigned to ``self`` before every step has succeeded.
        """
        device = resolve_device(self.device)
        batch_size = self._check_batch_size(len(X))
        hidden = self._hidden_layer_sizes()
        callbacks = self._callbacks(total_steps)
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        criterion = SymmetricInfoNCE(
            self._temperature(),
            self.learn_temperature,
            similarity="cosine" if self.latent_space == "sphere" else "lp",
            p=self.p,
        )
        opt, opt_kwargs = _OPTIMIZERS[self.optimizer]
        with seeded(seed, device):
            module = TwoTowerMLP(
                self.split,
                X.shape[1],
                self.n_components,
                hidden_layer_sizes=hidden,
                activation=self.activation,
                latent_space=self.latent_space,
            )
            module.set_standardization(as_float_tensor(X))
            net = self._net_class(
                module,
                criterion,
                optimizer=opt,
                lr=self.lr,
                batch_size=batch_size,
                max_epochs=self.max_epochs,
                train_split=None,
                device=device,
                callbacks=callbacks,
                verbose=self.verbose,
                optimizer__weight_decay=self.weight_decay,
                **{f"optimizer__{k}": v for k, v in opt_kwargs.items()},
                **self._net_params(),
            ).initialize()
        self._seed = seed
        self.device_, self.batch_size_ = device, batch_size
        self.net_, self.history_ = net, net.history
        self.n_steps_ = 0

    def _net_params(self):
        """Extra keyword arguments of the skorch net (none here)."""
        return {}

    def _temperature(self):
        if self.temperature != "auto":
            return self.temperature
        return 0.2 if self.latent_space == "sphere" else 0.5

    def _hidden_layer_sizes(self):
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes))
        if (
            sizes.ndim != 1
            or not np.issubdtype(sizes.dtype, np.integer)
            or (sizes.size and sizes.min() < 1)
        ):
            raise ValueError(
                "hidden_layer_sizes must be a sequence of positive ints, got "
                f"{self.hidden_layer_sizes!r}; e.g. hidden_layer_sizes=(256, 256)."
            )
        return tuple(int(s) for s in sizes)

    def _check_batch_size(self, n_samples):
        if self.batch_size <= n_samples:
            return self.batch_size
        warnings.warn(
            f"batch_size={self.batch_size} is larger than the {n_samples} samples; "
            f"using batch_size={n_samples}. Pass a smaller batch_size to silence "
            "this warning.",
            UserWarning,
            stacklevel=3,
        )
        return n_samples

    def _callbacks(self, total_steps):
        callbacks = [
            (
                "lr_schedule",
                WarmupCosineLR(
                    total_steps if self.lr_schedule == "cosine" else None, self.warmup
                ),
            ),
            ("stop_on_divergence", StopOnDivergence()),
        ]
        if self.early_stopping is not False:
            patience = 10 if self.early_stopping is True else int(self.early_stopping)
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="train_loss",
                        patience=patience,
                        threshold=1e-4,
                        sink=print if self.verbose else (lambda *a: None),
                    ),
                )
            )
        if self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar()))
        for cb in self.callbacks or []:
            if not isinstance(cb[1] if isinstance(cb, tuple) else cb, Callback):
                raise TypeError(
                    "callbacks must hold skorch.callbacks.Callback instances or "
                    f"(name, callback) tuples, got {cb!r}."
                )
            callbacks.append(copy.deepcopy(cb))
        return callbacks

    def _train(self, X, *, epochs):
        device = self.net_.device  # a CPU fallback after unpickling is honoured
        Xt = as_float_tensor(X, device)
        with seeded(self._seed + self.n_steps_, device):
            self.net_.partial_fit(Xt, epochs=epochs)
        self.n_steps_ = self._schedule().step_
        self.temperature_ = self.net_.criterion_.temperature

    def _schedule(self):
        return dict(self.net_.callbacks_)["lr_schedule"]

    def _snapshot(self):
        return copy.deepcopy(
            (
                self.net_.module_.state_dict(),
                self.net_.criterion_.state_dict(),
                self.net_.optimizer_.state_dict(),
                self._schedule().__dict__,
            )
        )

    def _restore(self, snapshot):
        module, criterion, optimizer, schedule = snapshot
        self.net_.module_.load_state_dict(module)
        self.net_.criterion_.load_state_dict(criterion)
        self.net_.optimizer_.load_state_dict(optimizer)
        self._schedule().__dict__.update(schedule)

    def _pop_fitted_state(self):
        """Remove and return every fitted attribute (and the private seed)."""
        names = [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]
        return {k: self.__dict__.pop(k) for k in [*names, "_seed"] if k in vars(self)}

    # ------------------------------------------------------------ transform
    def transform(self, X):
        """Encode paired data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Paired observations ``[x | t]`` with the columns seen in fit.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components) or \
                (n_samples, 2 * n_components)
            Representation selected by ``output``, in the dtype of ``X``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        x, t = X[:, : self.split], X[:, self.split :]
        if self.output == "x":
            return self._encode(x, "x")
        if self.output == "t":
            return self._encode(t, "t")
        z_x, z_t = self._encode(x, "x"), self._encode(t, "t")
        return np.hstack([z_x, z_t]) if self.output == "both" else (z_x + z_t) / 2

    def encode(self, X_m, modality="x"):
        """Encode one modality alone (e.g. images without captions).

        Parameters
        ----------
        X_m : array-like of shape (n_samples, n_features_m)
            Observations of one modality: ``split`` columns for ``"x"``,
            ``n_features_in_ - split`` for ``"t"``.
        modality : {"x", "t"}, default="x"
            Which tower to use.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            The representation, in the dtype of ``X_m``.
        """
        check_is_fitted(self)
        if modality not in ("x", "t"):
            raise ValueError(f"modality must be 'x' or 't', got {modality!r}.")
        X_m = check_array(X_m, dtype=[np.float32, np.float64], input_name="X_m")
        width = self.split if modality == "x" else self.n_features_in_ - self.split
        if X_m.shape[1] != width:
            raise ValueError(
                f"X_m has {X_m.shape[1]} features, but modality {modality!r} was "
                f"fitted on {width} (split={self.split}, n_features_in_="
                f"{self.n_features_in_})."
            )
        return self._encode(X_m, modality)

    @torch.no_grad()
    def _encode(self, X_m, modality):
        module = self.net_.module_
        module.eval()
        device = next(module.parameters()).device
        parts = [
            module.encode(
                as_float_tensor(X_m[i : i + _TRANSFORM_CHUNK], device), modality
            )
            .cpu()
            .numpy()
            for i in range(0, len(X_m), _TRANSFORM_CHUNK)
        ]
        return np.concatenate(parts).astype(X_m.dtype, copy=False)

    @torch.no_grad()
    def score(self, X, y=None):
        """Negative symmetric InfoNCE loss on ``X`` (higher is better).

        Computed over consecutive batches of ``batch_size_`` pairs, so that
        unsupervised model selection (e.g. ``GridSearchCV`` without ``scoring``)
        compares encoders on held-out pairs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Paired observations ``[x | t]``.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            Minus the mean batch loss.
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, dtype=[np.float32, np.float64], ensure_min_samples=2
        )
        z_x = torch.as_tensor(
            self._encode(X[:, : self.split], "x"), dtype=torch.float32
        )
        z_t = torch.as_tensor(
            self._encode(X[:, self.split :], "t"), dtype=torch.float32
        )
        criterion = copy.deepcopy(self.net_.criterion_).cpu()
        bs = self.batch_size_
        losses = [
            float(criterion(z_x[s : s + bs], z_t[s : s + bs]))
            for s in batch_starts(len(X), bs)
        ]
        return -float(np.mean(losses))

    @property
    def _n_features_out(self):
        return 2 * self.n_components if self.output == "both" else self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # training runs in float32; transform returns the input's float dtype
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
