"""MultimodalContrastiveEncoder: a two-tower contrastive encoder as a transformer."""
# License: BSD 3 clause

import math
import warnings

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

from . import _views
from ._callbacks import (
    ValidationMonitor,
    fit_transaction,
    make_callbacks,
    retune,
)
from ._net import ContrastiveNet, PairData, batch_starts, device_rows
from .metrics._retrieval import LABEL_FREE_MIN_PAIRS
from .nn._whitening import set_input_statistics
from .utils._param_validation import (
    Integral,
    Interval,
    Real,
    StrOptions,
    _fit_context,
)
from .utils._torch import resolve_device, seeded

_OPTIMIZERS = {
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
    "sgd": (torch.optim.SGD, {"momentum": 0.9}),
}


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

    split : int or list of int, default=None
        Required. An int: the number of leading columns of ``X`` that belong
        to modality x (two views, ``X = [x | t]``). A list: the width of every
        view of ``X = [x_1 | ... | x_K]`` in column order (K >= 2, adding up
        to the number of features; one width may be -1, the remaining
        columns), which selects the K-view model: one tower per view, and a
        content block per subset of views (see ``subsets``). With two views
        both forms train the same model.

    latent_space : {"sphere", "box", "real"}, default="sphere"
        Output geometry. ``"sphere"``: L2-normalised outputs, cosine similarity.
        ``"box"``: sigmoid outputs scaled by learnable per-dimension bounds,
        similarity :math:`-\lVert u - v \rVert_p`. ``"real"``: unbounded
        outputs (no squashing head), similarity :math:`-\lVert u - v
        \rVert_p`, for latents with unbounded support; with
        ``head_batch_norm="auto"`` the outputs are batch-normalised, which
        fixes their scale so that it cannot trade off against a learned
        temperature (see ``head_batch_norm``).

    p : float, default=1.0
        Order of the norm of the box and real similarities. Ignored on the
        sphere.

    temperature : float or "auto", default="auto"
        Softmax temperature :math:`\tau` of the InfoNCE loss (its initial value
        when ``learn_temperature=True``). ``"auto"`` is 0.2 on the sphere and
        0.5 on the box: on the theorems' settings (n_latents=10) the sphere
        reached R² ≥ 0.99 at 0.2 where 0.1 and 1.0 plateaued lower, and the
        box reached MCC 0.968 at 0.5 against 0.894 at 0.2 (24k steps). On the
        circle (sphere, ``n_components=2``) it is 0.5: with
        ``head_batch_norm`` the map wound once on 4 of 5 seeds at 0.2 and on
        5 of 5 at 0.5 (``benchmarks/results/study_circle.txt``). For
        ``"real"`` it is 0.5: on the unbounded Laplace row (25k steps) a
        fixed 0.5 reached MCC 0.983, 0.2 0.981 and 1.0 0.931
        (``benchmarks/results/study_real.txt``).

    learn_temperature : bool, default=False
        Whether to train :math:`\log\tau` jointly with the towers.

    hidden_layer_sizes : int or tuple of int, default=(256, 256, 256)
        Hidden layer widths of each tower, as in
        :class:`~sklearn.neural_network.MLPRegressor`: an int is one hidden
        layer of that width. ``()`` makes each tower linear (one affine map
        before the output head).

    activation : str, default="leaky_relu"
        Hidden activation: one of "leaky_relu" (slope 0.01), "relu", "gelu",
        "silu", "elu" or "tanh".

    box_squash : {"sigmoid", "softclamp"}, default="sigmoid"
        How the box head maps each coordinate into ``(0, 1)`` before scaling
        it by its learnable bound (see :class:`~sklcm.nn.BoxHead`): the
        logistic function, or ``"softclamp"``, a smooth clamp to ``[0, 1]``
        (linear in the middle, saturating at the faces). Ignored on the sphere.

    head_batch_norm : {"auto", True, False}, default="auto"
        Whether each tower's output is batch-normalised (centred and scaled
        per coordinate, :class:`torch.nn.BatchNorm1d` without learned
        parameters: batch statistics in training, running statistics in
        :meth:`transform`) before the output head. ``"auto"`` turns it on
        on the circle (``latent_space="sphere"`` with ``n_components=2``)
        and for ``latent_space="real"``, and off otherwise. On the circle
        the image of the data at initialisation does not surround the
        origin, so the learned map from the latent circle to the output
        circle has winding number 0 (a fold, not the rotation the theory
        promises) and training never changes it: with 10k pairs and the
        other defaults at τ = 0.2, held-out R² 0.45–0.49 and winding 0 on 5
        of 5 seeds; centring the outputs gave winding ±1 and R² 1.000 on 4
        of 5 seeds at τ = 0.2 and on 5 of 5 at τ = 0.5, the circle's
        ``temperature="auto"`` (``benchmarks/results/study_circle.txt``).
        For unbounded outputs it fixes the output scale, which otherwise
        drifts against a learned temperature: on the unbounded Laplace row
        (25k steps, τ learned from 0.5) MCC 0.987 with it, 0.919 without,
        τ ending at 0.19 and 5.7 (``benchmarks/results/study_real.txt``).
        With ``ema_decay`` the running statistics are averaged with the
        weights. Needs batches of at least 2 pairs (``batch_size >= 2``
        always holds).

    layer_norm : bool, default=False
        Whether each hidden layer normalises its pre-activations
        (:class:`torch.nn.LayerNorm`, with a learned gain and bias) before the
        activation. On the sphere theorem's setting with whitened inputs and
        weight averaging it lifted the held-out R² at 15k steps from 0.9930
        to 0.9954 (one seed), for about 30% more time per step on a CPU; on
        the box it did not help (``benchmarks/results/study_levers.txt``).

    whiten_inputs : bool, default=False
        Whether each tower whitens its input with the full covariance of its
        modality (ZCA whitening of the standardised features, eigenvalues of
        the correlation matrix floored at 1e-3) instead of standardising each
        feature alone. Directions with no variance in the training pairs
        (constant columns, exact linear dependencies) get gain 0: a column
        constant in training that moves at transform time is never
        amplified. The statistics come from the pairs of the first
        :meth:`fit` or :meth:`partial_fit` call; it costs one
        ``n_features_m × n_features_m`` product per input. Whitening
        preconditions the first layer against correlated inputs, which is what
        an invertible mixing of a few latents produces: on the theorems'
        settings (n_latents=10, batch 256, 128×3 towers) it lifted the
        held-out sphere R² at 15k steps from 0.9905 to 0.9930 and the box MCC
        at 25k steps from 0.967 to 0.985
        (``benchmarks/results/study_levers.txt``). It is off by
        default because it amplifies near-constant (not constant) directions
        of real features up to 31.6 times: on the digits halves at τ = 1 it
        lowered the 1/5/10-shot probe accuracy from 74.7/82.2/83.8 to
        61.9/76.0/79.5 (``benchmarks/results/bench_whitening.txt``).

    optimizer : {"adam", "adamw", "sgd"}, default="adam"
        Optimiser (SGD uses momentum 0.9).

    batch_size : int, default=256
        Pairs per step; the other pairs of a batch are the negatives. When it
        exceeds the number of training pairs it is reduced to that number with
        a warning.

    max_epochs : int, default=100
        Passes over the training pairs in :meth:`fit`.

    max_steps : int, default=None
        Cap on the number of optimiser steps. :meth:`fit` takes
        ``min(max_epochs * batches_per_epoch, max_steps)`` steps (the last
        epoch may be cut short) and its learning-rate schedule spans exactly
        those steps. In :meth:`partial_fit` it is the length of the schedule
        and the total over all calls; ``None`` there means no cap and a
        constant rate after the warmup.

    lr : float, default=2e-3
        Peak learning rate.

    lr_schedule : {"cosine", "constant"}, default="cosine"
        Linear warmup followed by a cosine decay to zero at the end of the
        schedule, or warmup followed by a constant rate.

    warmup : float, default=0.02
        Warmup length as a fraction of the schedule (of 5000 steps when its
        length is unknown) when below 1, else a number of steps.

    weight_decay : float, default=0.0
        Weight decay of the optimiser.

    ema_decay : float in [0, 1) or None, default=None
        When set, ``transform``, ``score`` and pickles use an exponential
        moving average of the tower weights over the training steps (Polyak
        averaging) with this decay, e.g. 0.999 (about the last 1000 steps);
        the optimiser keeps training the raw weights. Averaging cancels much
        of the step-to-step noise of small batches: on the sphere theorem's
        setting the averaged weights scored R² 0.9836 at 9k of 15k steps,
        which the raw weights reached at 11k, and the score's span over the
        last quarter of the schedule fell from 0.35 to 0.16 points at the same
        final R² (``benchmarks/results/study_levers.txt``). With
        ``early_stopping`` the averaged weights are the ones scored and kept.

    early_stopping : bool, default=False
        Whether :meth:`fit` sets aside ``validation_fraction`` of the pairs
        (drawn with ``random_state``; at least 3) and stops when their score
        (see :meth:`score`: cross-view neighbour agreement, comparable across
        temperatures) has not improved by more than ``tol`` for
        ``n_iter_no_change`` epochs. The weights of the best epoch are
        restored. Ignored by :meth:`partial_fit`.

    validation_fraction : float, default=0.1
        Fraction of the pairs held out for early stopping (rounded up; 3
        pairs when that gives 2). Only used when ``early_stopping=True``.

    n_iter_no_change : int, default=10
        Epochs without improvement of the validation score before stopping.
        Only used when ``early_stopping=True``.

    tol : float, default=1e-4
        Smallest rise of the validation score (a fraction of shared
        neighbours, in [0, 1]) that counts as an improvement for early
        stopping, as in :class:`~sklearn.neural_network.MLPClassifier`. Only
        used when ``early_stopping=True``.

    callbacks : list of skorch callbacks, default=None
        Extra :mod:`skorch.callbacks` added to the net, as instances or
        ``(name, callback)`` tuples.

    verbose : int, default=0
        0 is silent, 1 prints one line per epoch, 2 adds a progress bar.

    device : str, default="auto"
        Torch device such as ``"cpu"``, ``"cuda"`` or ``"cuda:1"``;
        ``"auto"`` picks ``"cuda"`` when available.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch shuffling and the validation
        split. Pass an int for reproducible results across calls.

    representation : {"x", "t", "both", "mean"}, default="x"
        Which modality's representation :meth:`transform` returns: the x
        representation, the t representation, both side by side
        ``[z_x | z_t]``, or their mean. With K views ``"x"`` is view 0,
        ``"t"`` view 1, ``"both"`` all views; ``view`` overrides it.

    view : int, {"all", "mean"} or None, default=None
        Which view's representation :meth:`transform` returns: view ``k``'s
        own content blocks (those of the subsets that contain it, side by
        side), every view's own blocks side by side (``"all"``), or each
        block averaged over the views of its subset (``"mean"``, one column
        per column of the content blocks). The output feature names say the
        view and the subset of each column, e.g.
        ``multimodalcontrastiveencoder_view1_block0-1_3``. None: as
        ``representation`` says. With an int ``split``, 0, 1, ``"all"`` and
        ``"mean"`` are ``representation`` ``"x"``, ``"t"``, ``"both"`` and
        ``"mean"``.

    subsets : {"pairs", "all"} or list of tuple of int, default="pairs"
        The subsets of views contrasted, each on its own content block:
        every pair of views, every subset of at least 2 views, or a list of
        tuples of view indices such as ``[(0, 1), (0, 1, 2)]``. The loss is
        the mean over subsets of the symmetric InfoNCE averaged over the
        view pairs of the subset, computed on the subset's block
        (:class:`~sklcm.nn.SubsetInfoNCE`), so a block learns what all the
        views of its subset share. Every view must be in some subset.
        ``"pairs"`` is the default from a measurement on the six UCI Multiple
        Features views (few-shot probes of each view's representation): it
        beat ``"all"`` for 5 of the 6 views at 1, 5 and 10 shots, by 1.0 to
        6.7 points, whether ``"all"`` had as many columns per block or as
        many per tower, with 15 view-pair terms in the loss against 240
        (``benchmarks/results/bench_multiview_uci_subsets.txt``). Use
        ``"all"`` when the latents of larger subsets are the target.

    content_sizes : int, list of int or None, default=None
        Columns of each subset's content block: disjoint consecutive slices
        of the ``n_components`` columns of each tower, in the order of
        ``subsets``. None: ``n_components`` shared as equally as possible
        (the first blocks get one more column when it does not divide). An
        int: that many for every block; a list: one size per subset. They
        must not add up to more than ``n_components``; columns after the last
        block are trained by no loss and left out of :meth:`transform`. On
        the sphere each block is normalised on its own.

    shared_towers : bool or list of list of int, default=False
        False: one tower per view. True: views of equal width share one
        tower (e.g. views of the same kind); a list: groups of views (of
        equal width) that share a tower, the other views having their own. A
        shared tower standardises its input with the moments of its views
        pooled; ``whiten_inputs=True`` needs one tower per view.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is a
        :class:`sklcm.nn.TwoTowerMLP`.

    history_ : skorch.History
        Per-epoch records, e.g. ``history_[:, "train_loss"]``; with
        ``early_stopping=True`` also the validation curve
        ``history_[:, "valid_score"]``.

    temperature_ : float
        Temperature at the end of training.

    content_blocks_ : dict of tuple to slice
        The columns of every subset's content block in each tower's output,
        e.g. ``{(0, 1): slice(0, 5), ...}``; with an int ``split``,
        ``{(0, 1): slice(0, n_components)}``.

    n_views_ : int
        Number of views.

    n_iter_ : int
        Number of epochs run (in :meth:`fit`) or chunks trained on (in
        :meth:`partial_fit`).

    n_steps_ : int
        Number of optimiser steps taken.

    best_validation_score_ : float
        Best validation score, whose weights the encoder holds. Only with
        ``early_stopping=True``.

    batch_size_ : int
        Batch size actually used.

    device_ : str
        Device the model is on (``"cpu"`` after a model trained on CUDA is
        unpickled on a machine without CUDA).

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
    the first training pairs seen. Training uses float32; :meth:`transform`
    returns the input's float dtype (integer input becomes float64). ``X`` is
    never copied as a whole: batches are gathered from it one at a time (on a
    GPU, through pinned memory above a size threshold), so ``fit`` works from
    a :class:`numpy.memmap`.

    A call to :meth:`fit` or :meth:`partial_fit` that raises leaves the
    encoder exactly as it was before the call, with one exception: a
    ``KeyboardInterrupt`` (e.g. Ctrl-C) while the optimiser steps run ends
    training after the current step and is re-raised, and the encoder keeps
    the partly trained model, fitted and usable: ``n_steps_`` and
    ``history_`` say how far it got (with ``ema_decay`` it holds the
    averaged weights, with ``early_stopping`` the best epoch so far). An
    interrupt before the first step leaves the encoder as it was.

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

    Four views, one content block of 2 columns per pair of views; view 0's
    representation is its blocks with views 1, 2 and 3:

    >>> from sklcm.datasets import make_multiview_latents
    >>> X4, y4, info4 = make_multiview_latents(200, random_state=0, return_info=True)
    >>> enc4 = MultimodalContrastiveEncoder(n_components=12, split=info4.split,
    ...                                     view=0, max_epochs=2,
    ...                                     hidden_layer_sizes=(16,), random_state=0)
    >>> enc4.fit_transform(X4).shape
    (200, 6)
    >>> enc4.content_blocks_[(0, 1)]
    slice(0, 2, None)
    """

    # parameters besides _LIVE_PARAMS that partial_fit applies after set_params
    _live_params = frozenset()

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "split": [Interval(Integral, 1, None, closed="left"), "array-like", None],
        "latent_space": [StrOptions({"sphere", "box", "real"})],
        "p": [Interval(Real, 1, None, closed="left")],
        "temperature": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        "learn_temperature": ["boolean"],
        "hidden_layer_sizes": [
            Interval(Integral, 1, None, closed="left"),
            "array-like",
        ],
        "activation": [
            StrOptions({"leaky_relu", "relu", "gelu", "silu", "elu", "tanh"})
        ],
        "box_squash": [StrOptions({"sigmoid", "softclamp"})],
        "head_batch_norm": ["boolean", StrOptions({"auto"})],
        "layer_norm": ["boolean"],
        "whiten_inputs": ["boolean"],
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "max_steps": [Interval(Integral, 1, None, closed="left"), None],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "lr_schedule": [StrOptions({"cosine", "constant"})],
        "warmup": [Interval(Real, 0, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "ema_decay": [Interval(Real, 0, 1, closed="left"), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "callbacks": [list, None],
        "verbose": ["verbose"],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "representation": [StrOptions({"x", "t", "both", "mean"})],
        "view": [
            Interval(Integral, 0, None, closed="left"),
            StrOptions({"all", "mean"}),
            None,
        ],
        "subsets": [StrOptions({"pairs", "all"}), list],
        "content_sizes": [Interval(Integral, 1, None, closed="left"), list, None],
        "shared_towers": ["boolean", list],
    }

    # The skorch net class and extra keyword arguments for it; subclasses
    # (e.g. a multi-GPU encoder) override both.
    _net_class = ContrastiveNet

    # Pairs per block of the label-free score (``score`` and early stopping).
    _score_block_size = 256

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
        box_squash="sigmoid",
        head_batch_norm="auto",
        layer_norm=False,
        whiten_inputs=False,
        optimizer="adam",
        batch_size=256,
        max_epochs=100,
        max_steps=None,
        lr=2e-3,
        lr_schedule="cosine",
        warmup=0.02,
        weight_decay=0.0,
        ema_decay=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        callbacks=None,
        verbose=0,
        device="auto",
        random_state=None,
        representation="x",
        view=None,
        subsets="pairs",
        content_sizes=None,
        shared_towers=False,
    ):
        self.n_components = n_components
        self.split = split
        self.latent_space = latent_space
        self.p = p
        self.temperature = temperature
        self.learn_temperature = learn_temperature
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.box_squash = box_squash
        self.head_batch_norm = head_batch_norm
        self.layer_norm = layer_norm
        self.whiten_inputs = whiten_inputs
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.max_steps = max_steps
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.warmup = warmup
        self.weight_decay = weight_decay
        self.ema_decay = ema_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.callbacks = callbacks
        self.verbose = verbose
        self.device = device
        self.random_state = random_state
        self.representation = representation
        self.view = view
        self.subsets = subsets
        self.content_sizes = content_sizes
        self.shared_towers = shared_towers

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train both towers on paired data from scratch.

        Takes ``min(max_epochs * batches_per_epoch, max_steps)`` optimiser
        steps; the learning-rate schedule spans exactly these steps. With
        ``early_stopping=True`` a validation split is held out and training
        may stop earlier (best weights restored).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Paired observations ``[x | t]``; the first ``split`` columns are x.
            May be a :class:`numpy.memmap`: it is read batch by batch.
        y : Ignored
            Not used, present for API consistency by convention (so that
            :class:`~sklearn.model_selection.GridSearchCV` can pass true
            latents to a scorer).

        Returns
        -------
        self : object
            Fitted encoder.
        """
        with fit_transaction(self, fresh=True):
            X = self._validate_X(X, reset=True)
            rng = check_random_state(self.random_state)
            seed = int(rng.randint(2**31 - 1))
            train, valid = _row_indices(len(X)), None
            if self.early_stopping:
                train, valid = _validation_split(len(X), self.validation_fraction, rng)
            batch_size = _check_batch_size(self.batch_size, len(train))
            steps = self.max_epochs * len(batch_starts(len(train), batch_size))
            if self.max_steps is not None:
                steps = min(steps, self.max_steps)
            self._initialize(
                X,
                train,
                seed=seed,
                batch_size=batch_size,
                schedule=(steps, self.lr_schedule),
                validation=valid is not None,
            )
            try:
                self._train(X, train, steps, valid)
            finally:  # also after an interrupt: the partly trained model is kept
                self.n_iter_ = len(self.history_)
                if valid is not None:
                    monitor = self._callback("validation")
                    self.best_validation_score_ = monitor.best_score_
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Continue training with one pass over a chunk of pairs.

        The first call initialises the towers (input standardisation uses this
        chunk's statistics), the optimiser and a learning-rate schedule of
        ``max_steps`` steps; later calls keep them, so a stream of fresh
        chunks is trained like one long run. :meth:`fit` starts over.

        Training never goes past the end of the schedule: a pass is cut at
        ``max_steps`` total steps, and once ``n_steps_`` has reached
        ``max_steps``, or the end of the cosine schedule of a preceding
        :meth:`fit`, the call warns with a
        :class:`~sklearn.exceptions.ConvergenceWarning` and leaves the
        encoder unchanged (it would otherwise train at a learning rate of 0).
        With ``lr_schedule="constant"`` and ``max_steps=None`` there is no
        end. ``early_stopping`` is ignored here.

        Parameters changed with :meth:`set_params` since the encoder was
        fitted are applied at the start of the call (before the end-of-schedule
        check), as far as the trained model allows:

        - applied: ``lr`` (the schedule's peak rate), ``weight_decay``,
          ``batch_size`` (reduced to the chunk with a warning when larger),
          ``ema_decay`` (``None`` drops the average: from then on the raw
          weights are trained and used; a value starts an average from the
          current weights or changes its decay), ``temperature`` (when
          ``learn_temperature=False``), ``max_steps`` (the cap on the total
          steps; the schedule keeps the length it was built with),
          ``verbose`` (the per-epoch log; a progress bar is not added or
          removed) and ``representation``;
        - ignored here (read by :meth:`fit` only): ``max_epochs``,
          ``early_stopping``, ``validation_fraction``, ``n_iter_no_change``,
          ``tol`` and ``random_state``;
        - any other change (the towers, the geometry, the optimiser, the
          schedule's shape, ``callbacks``, ``device``, or ``temperature``
          with ``learn_temperature=True``) raises a ``ValueError``: call
          :meth:`fit` to train anew with them.

        Until then :meth:`transform` uses the model as it was trained, except
        that after ``set_params(ema_decay=None)`` it already uses the raw
        weights.

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
        with fit_transaction(self, fresh=False):
            X = self._validate_X(X, reset=first)
            rows = _row_indices(len(X))
            if first:
                seed = int(check_random_state(self.random_state).randint(2**31 - 1))
                decay = self.lr_schedule if self.max_steps is not None else "constant"
                self._initialize(
                    X,
                    rows,
                    seed=seed,
                    batch_size=_check_batch_size(self.batch_size, len(X)),
                    schedule=(self.max_steps, decay),
                    validation=False,
                )
                self.n_iter_ = 0
            else:
                _apply_set_params(self, len(X))
            schedule = self._callback("lr_schedule")
            steps = min(
                len(batch_starts(len(X), self.batch_size_)),
                schedule.steps_left(self.max_steps),
            )
            if steps <= 0:
                schedule.warn_ended(self.max_steps)
                return self
            try:
                self._train(X, rows, steps)
            finally:  # also after an interrupt: the partly trained model is kept
                self.n_iter_ += 1
        return self

    def _validate_X(self, X, *, reset):
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])
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
        _views.resolve_layout(self, n_features)  # every layout error, before training
        return X

    def _net_params(self):
        """Extra keyword arguments for ``_net_class`` (none here)."""
        return {}

    def _similarity(self):
        return "cosine" if self.latent_space == "sphere" else "lp"

    def _initialize(self, X, rows, *, seed, batch_size, schedule, validation):
        """Build the module, criterion and skorch net, then set fitted attributes.

        Nothing is assigned to ``self`` before every step has succeeded.
        """
        device = resolve_device(self.device)
        hidden = _check_hidden_layer_sizes(self.hidden_layer_sizes)
        layout = _views.resolve_layout(self, X.shape[1])
        monitor = None
        if validation:
            monitor = ValidationMonitor(
                self.n_iter_no_change,
                self._similarity(),
                self.p,
                self._score_block_size,
                self.tol,
            )
        callbacks = make_callbacks(
            schedule,
            self.warmup,
            ema_decay=self.ema_decay,
            monitor=monitor,
            verbose=self.verbose,
            extra=self.callbacks,
        )
        criterion = _views.criterion_class(layout)(
            self._temperature(),
            self.learn_temperature,
            similarity=self._similarity(),
            p=self.p,
        )
        opt, opt_kwargs = _OPTIMIZERS[self.optimizer]
        with seeded(seed, device):
            module = _views.module_class(layout)(
                self.split,
                X.shape[1],
                self.n_components,
                hidden_layer_sizes=hidden,
                activation=self.activation,
                latent_space=self.latent_space,
                layer_norm=self.layer_norm,
                box_squash=self.box_squash,
                head_batch_norm=_head_batch_norm(self),
            )
            set_input_statistics(module, X, rows, whiten=self.whiten_inputs)
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
        self._seed_, self._trained_params_ = seed, self.get_params(deep=False)
        self.device_, self.batch_size_ = str(net.device), batch_size
        self.net_, self.history_ = net, net.history
        self.n_steps_ = 0
        self.temperature_ = criterion.temperature
        _views.set_layout_attributes(self, layout)

    def _temperature(self):
        return _auto_temperature(self)

    def _train(self, X, rows, steps, valid_rows=None):
        """Take exactly ``steps`` optimiser steps over ``rows`` of ``X``."""
        net = self.net_
        device = net.device  # a CPU fallback after unpickling is honoured
        per_epoch = len(batch_starts(len(rows), self.batch_size_))
        data = PairData(device_rows(X, device), rows, steps, valid_rows)
        try:
            with seeded(self._seed_ + self.n_steps_, device):
                net.partial_fit(data, epochs=math.ceil(steps / per_epoch))
        finally:
            self.n_steps_ = self._callback("lr_schedule").step_
            self.temperature_ = net.criterion_.temperature

    def _callback(self, name):
        return dict(self.net_.callbacks_)[name]

    def __setstate__(self, state):
        if "_seed" in state:  # pickled before the seed became a fitted attribute
            state["_seed_"] = state.pop("_seed")
        state.setdefault("tol", 1e-4)  # pickled before tol became a parameter
        _views.add_view_parameters(state)  # pickled before K views
        super().__setstate__(state)
        if "net_" in vars(self):
            # skorch moves a CUDA net to the CPU when CUDA is missing
            self.device_ = str(self.net_.device)

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
            Representation selected by ``representation`` (or ``view``), in
            the float dtype of ``X``; with a list ``split``, as many columns
            as the selected content blocks hold.
        """
        return _views.transform(self, X)

    def _check_X(self, X, **kwargs):
        return validate_data(
            self, X, reset=False, dtype=[np.float64, np.float32], **kwargs
        )

    def encode(self, X_m, modality="x"):
        """Encode one modality alone (e.g. images without captions).

        Parameters
        ----------
        X_m : array-like of shape (n_samples, n_features_m)
            Observations of one modality: ``split`` columns for ``"x"``,
            ``n_features_in_ - split`` for ``"t"`` (with a list ``split``,
            the width of the view).
        modality : {"x", "t"} or int, default="x"
            Which tower to use: with K views, a view index (``"x"`` and
            ``"t"`` are views 0 and 1).

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components) or \
                (n_samples, n_columns_of_its_blocks)
            The representation, in the float dtype of ``X_m``; with a list
            ``split``, the view's own content blocks (as ``transform`` with
            ``view`` set to it).
        """
        return _views.encode_view(self, X_m, modality)

    def score(self, X, y=None):
        """Cross-view neighbour agreement of held-out pairs (higher is better).

        The pairs of ``X`` are cut into consecutive blocks of 256 (all pairs
        when fewer); in each block every pair's 10 nearest other pairs (all
        but 2 below 12 pairs) are found once among the x representations and
        once among the t representations, with the similarity of the
        geometry (cosine on the sphere, minus the :math:`L_p` distance on the
        box), and the score is the fraction of those neighbours the two views
        share. See
        :func:`sklcm.metrics.neighbor_agreement`. The score depends neither
        on the temperature nor on the batch size, so ``GridSearchCV`` without
        ``scoring`` compares encoders trained with different ones. On
        synthetic data it picks the candidate with the best held-out R², and
        on real paired data the temperature with (close to) the best few-shot
        probe accuracy, where top-1 retrieval
        (:func:`sklcm.metrics.retrieval_accuracy`) prefers far too low a
        temperature. Chance level is 10/255 (10 / (n_samples - 1) below 256
        pairs); compare scores on the same number of pairs. With K views (a
        list ``split``) it is the mean over subsets of the mean, over the
        subset's view pairs, of this agreement on the subset's content block.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Paired observations ``[x | t]``, at least 3 (256 or more for a
            score comparable with other data sets).
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            Mean fraction of shared neighbours, in [0, 1].
        """
        return _views.score(self, X)

    def infonce_loss(self, X):
        """Symmetric InfoNCE loss on ``X`` at the encoder's temperature.

        The training objective (with K views, the subset-wise loss of
        :class:`~sklcm.nn.SubsetInfoNCE`), averaged over consecutive batches
        of ``batch_size_`` pairs. It depends on the temperature and the batch
        size: compare encoders with :meth:`score` instead.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Paired observations ``[x | t]``, at least 2.

        Returns
        -------
        loss : float
            Mean batch loss (lower is better).
        """
        return _views.infonce_loss(self, X)

    def get_feature_names_out(self, input_features=None):
        """Get output feature names for transformation.

        ``multimodalcontrastiveencoder0``, ``...1``, ...; with
        ``representation="both"`` the x and t columns are told apart:
        ``multimodalcontrastiveencoder_x0``, ..., then
        ``multimodalcontrastiveencoder_t0``, ...

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the features seen in :meth:`fit`.

        Returns
        -------
        feature_names_out : ndarray of str objects
            Transformed feature names.
        """
        names = super().get_feature_names_out(input_features)
        return _views.feature_names_out(self, names)

    @property
    def _n_features_out(self):
        return _views.n_features_out(self)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # training runs in float32; transform returns the input's float dtype
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _auto_temperature(encoder):
    """The temperature to use: ``temperature``, or the geometry's default
    (0.2 on the sphere but 0.5 on the circle, 0.5 on the box and "real")."""
    if encoder.temperature != "auto":
        return encoder.temperature
    circle = encoder.latent_space == "sphere" and encoder.n_components == 2
    return 0.2 if encoder.latent_space == "sphere" and not circle else 0.5


def _head_batch_norm(encoder):
    """``head_batch_norm`` resolved: "auto" is on for the circle and "real"."""
    if encoder.head_batch_norm != "auto":
        return bool(encoder.head_batch_norm)
    circle = encoder.latent_space == "sphere" and encoder.n_components == 2
    return circle or encoder.latent_space == "real"


def _row_indices(n_samples):
    """``arange(n_samples)`` in the smallest integer type that holds it (the
    indices of a large memory-mapped ``X`` are themselves large)."""
    return np.arange(n_samples, dtype=np.int32 if n_samples < 2**31 else np.int64)


def _check_hidden_layer_sizes(hidden_layer_sizes):
    """``hidden_layer_sizes`` as a tuple of ints, or a clear error."""
    sizes = np.atleast_1d(np.asarray(hidden_layer_sizes))
    if sizes.size == 0:
        return ()  # a linear tower
    if sizes.ndim != 1 or not np.issubdtype(sizes.dtype, np.integer) or sizes.min() < 1:
        raise ValueError(
            "hidden_layer_sizes must be a sequence of positive ints (or () for "
            f"a linear tower), got {hidden_layer_sizes!r}; e.g. "
            "hidden_layer_sizes=(256, 256)."
        )
    return tuple(int(s) for s in sizes)


def _check_batch_size(batch_size, n_samples):
    """``batch_size``, reduced to ``n_samples`` (with a warning) when larger."""
    if batch_size <= n_samples:
        return batch_size
    warnings.warn(
        f"batch_size={batch_size} is larger than the {n_samples} training "
        f"pairs; using batch_size={n_samples}. Pass a smaller batch_size to "
        "silence this warning.",
        UserWarning,
        stacklevel=4,  # the caller of fit / partial_fit
    )
    return n_samples


def _validation_split(n_samples, validation_fraction, rng):
    """Training and validation row indices (sorted) for early stopping."""
    asked = int(np.ceil(validation_fraction * n_samples))
    # the label-free score needs LABEL_FREE_MIN_PAIRS pairs: round 2 up
    n_valid = max(asked, LABEL_FREE_MIN_PAIRS)
    if asked < 2 or n_samples - n_valid < 2:
        raise ValueError(
            f"validation_fraction={validation_fraction} with n_samples="
            f"{n_samples} asks for {asked} validation pairs and leaves "
            f"{n_samples - n_valid} training pairs; early stopping needs at least "
            f"2 validation pairs (then {LABEL_FREE_MIN_PAIRS} are held out, the "
            "fewest the label-free score can use) and 2 training pairs. Pass more "
            "pairs, another validation_fraction, or early_stopping=False."
        )
    order = rng.permutation(_row_indices(n_samples))
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


# What partial_fit does with parameters changed by set_params after a fit:
# these it applies to the trained model (see _apply_set_params) ...
_LIVE_PARAMS = frozenset(
    {"lr", "weight_decay", "batch_size", "ema_decay", "temperature", "max_steps"}
    | {"verbose", "representation", "view"}
)
# ... these only fit reads; any other change needs a refit.
_FIT_ONLY_PARAMS = frozenset(
    {"max_epochs", "early_stopping", "validation_fraction", "n_iter_no_change"}
    | {"tol", "random_state"}
)


def _apply_set_params(encoder, n_samples):
    """Apply to a fitted ``encoder`` the parameters changed by ``set_params``
    since it was fitted, or raise for those that need a refit."""
    params = encoder.get_params(deep=False)
    trained = getattr(encoder, "_trained_params_", params)  # older pickles
    changed = {k for k, v in params.items() if repr(v) != repr(trained[k])}
    live = _LIVE_PARAMS | encoder._live_params
    refit = sorted(changed - live - _FIT_ONLY_PARAMS)
    if "temperature" in changed and encoder.learn_temperature:
        refit.append("temperature")  # the learned value is part of the model
    if refit:
        was = ", ".join(f"{k}={trained[k]!r}" for k in refit)
        raise ValueError(
            f"set_params changed {refit} since the encoder was fitted (with {was}); "
            "partial_fit cannot apply them to the trained model. Call fit to "
            "train anew with them, or set them back."
        )
    net = encoder.net_
    if "batch_size" in changed:
        encoder.batch_size_ = _check_batch_size(encoder.batch_size, n_samples)
        net.batch_size = encoder.batch_size_
    temperature = None
    if "temperature" in changed:
        temperature = encoder._temperature()
    retune(
        net,
        lr=encoder.lr,
        weight_decay=encoder.weight_decay,
        ema_decay=encoder.ema_decay,
        temperature=temperature,
        verbose=encoder.verbose,
    )
    encoder.temperature_ = net.criterion_.temperature
    encoder._trained_params_ = params
