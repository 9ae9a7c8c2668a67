"""The contrastive encoder trained through Hugging Face accelerate."""
# License: BSD 3 clause

import re
from numbers import Integral

import numpy as np
import torch
from skorch.hf import AccelerateMixin

from .._encoder import MultimodalContrastiveEncoder
from .._net import ContrastiveNet
from ..nn._distributed import _local_only, _world


def _accelerate():
    try:
        import accelerate
    except ImportError as exc:  # pragma: no cover - accelerate is in the test extra
        raise ImportError(
            "AcceleratedContrastiveEncoder needs Hugging Face accelerate: "
            'pip install -e ".[dist]" in the sklcm checkout (or pip install '
            "accelerate)."
        ) from exc
    return accelerate


def _has_trainable_parameters(module):
    return any(p.requires_grad for p in module.parameters())


def _portable_device(device):
    """The type of ``device`` without a process's index: ``"cuda:3"`` -> ``"cuda"``.

    A pickle that names a device type loads anywhere: torch places ``"cuda"``
    on the loading process's current GPU (skorch falls back to the CPU without
    one) and ``"cpu"`` on the CPU, while an indexed ``"cpu:0"`` does not load at
    all and ``"cuda:3"`` needs four GPUs.
    """
    return torch.device(device).type


def _print_on_main_process(*args, **kwargs):
    """``print`` on the process of rank 0 only: a picklable sink for PrintLog."""
    if _world()[0] == 0:
        print(*args, **kwargs)


class _LocalShards:
    """This process's rows of every global batch of an iterator.

    Each global batch is cut into ``world_size`` equal consecutive blocks and
    the block of ``rank`` is yielded; a trailing batch is first cut to a
    multiple of ``world_size`` rows. Every process must iterate over the same
    global batches (same data, same shuffling seed).
    """

    def __init__(self, batches, rank, world_size):
        self.batches = batches
        self.rank = rank
        self.world_size = world_size

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for Xi, yi in self.batches:
            n_local = len(Xi) // self.world_size
            start = self.rank * n_local
            yield Xi[start : start + n_local], yi


class _AcceleratedContrastiveNet(AccelerateMixin, ContrastiveNet):
    """:class:`ContrastiveNet` trained through an ``accelerate.Accelerator``.

    ``batch_size`` is the global batch: each process trains on its share of
    every global batch and the loss gathers the negatives of all processes.
    Batches are built on the accelerator's device, which is therefore also the
    net's ``device``.
    """

    def __init__(self, *args, accelerator, **kwargs):
        kwargs["device"] = str(accelerator.device)
        super().__init__(*args, accelerator=accelerator, **kwargs)

    def _validate_params(self):
        # AccelerateMixin wants device=None when the accelerator places the
        # module; here the device is the accelerator's own, so both agree
        ContrastiveNet._validate_params(self)

    def _initialize_callbacks(self):
        # skorch's PrintLog ignores verbose=0 when its sink is not print; and
        # AccelerateMixin's default sink, accelerator.print, would pickle the
        # accelerator with the net
        self.callbacks__print_log__sink = (
            _print_on_main_process if self.verbose else print
        )
        return super()._initialize_callbacks()

    def initialize(self):
        n_processes = self.accelerator.num_processes
        if self.batch_size % n_processes:
            raise ValueError(
                f"batch_size={self.batch_size} is the global batch and must be a "
                f"multiple of the {n_processes} processes; e.g. batch_size="
                f"{n_processes * max(1, self.batch_size // n_processes)}."
            )
        if self.accelerator.gradient_accumulation_steps != 1:
            raise ValueError(
                "Gradient accumulation changes the contrastive loss (each step "
                "would see fewer negatives); use an Accelerator with "
                "gradient_accumulation_steps=1 and a larger batch_size instead, got "
                f"{self.accelerator.gradient_accumulation_steps}."
            )
        return super().initialize()

    def _initialize_accelerator(self):
        # accelerate wraps every module it prepares in DDP on a multi-CPU run,
        # and DDP rejects a module without trainable parameters: a criterion
        # with a fixed temperature stays out (it is already on the device)
        criteria = self._criteria
        self._criteria = [
            name
            for name in criteria
            if _has_trainable_parameters(getattr(self, name + "_"))
        ]
        try:
            return super()._initialize_accelerator()
        finally:
            self._criteria = criteria

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        # the end of the previous fit or partial_fit unwrapped the module (to
        # keep the encoder picklable); wrap it again, or the processes would
        # stop averaging their gradients
        super().on_train_begin(net, X=X, y=y, **kwargs)
        if not self._wrapped_with_accelerator:
            self._initialize_accelerator()

    def get_iterator(self, dataset, training=False):
        # the batches are not a DataLoader, so accelerator.prepare would not
        # shard them: each process takes its rows of every global batch
        batches = ContrastiveNet.get_iterator(self, dataset, training=training)
        if not training or self.accelerator.num_processes == 1:
            return batches
        accelerator = self.accelerator
        return _LocalShards(
            batches, accelerator.process_index, accelerator.num_processes
        )

    def train_step(self, batch, **fit_params):
        step = super().train_step(batch, **fit_params)
        if self.accelerator.num_processes > 1:
            # record the global batch's loss on every process, so that the
            # histories, and decisions taken from them, agree
            step["loss"] = self.accelerator.reduce(
                step["loss"].detach(), reduction="mean"
            )
        return step

    def __getstate__(self):
        # the accelerator belongs to the launch that trained the net (its
        # processes, their devices, and references to every prepared object)
        # and is not saved; the device is saved without the process's index
        state = super().__getstate__()
        state["accelerator"] = None
        state["device"] = _portable_device(state["device"])
        return state


class AcceleratedContrastiveEncoder(MultimodalContrastiveEncoder):
    """Contrastive encoder trained on several processes (GPUs) through accelerate.

    A :class:`~sklcm.MultimodalContrastiveEncoder` whose skorch net trains
    through Hugging Face `accelerate <https://huggingface.co/docs/accelerate>`_
    (skorch's :class:`~skorch.hf.AccelerateMixin`): launched with
    ``accelerate launch`` or ``torchrun``, every process trains on its share of
    each batch and the InfoNCE loss gathers the representations of all
    processes, so the negatives, the loss and the gradients are those of one
    process on the whole batch. Run by plain ``python``, it trains like the
    base encoder (optionally with the accelerator's mixed precision).

    ``batch_size`` is the **global** batch, split evenly across the processes;
    it must be a multiple of their number. Every process must call :meth:`fit`
    with the same ``X`` and, with several processes, the same int
    ``random_state``, so that all draw the same shuffling (both are checked:
    every process raises the same ``ValueError`` otherwise).

    The parameters are those of the base encoder, except ``device`` (the
    accelerator places the towers: ``Accelerator(cpu=True)`` trains on the
    CPU), plus ``accelerator``.

    Read more in the :ref:`User Guide <scaling>`.

    Parameters
    ----------
    %(parameters)s
    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained skorch net, with :class:`~skorch.hf.AccelerateMixin`; its
        ``accelerator`` is the one used (``None`` in a loaded encoder until it
        trains again). After :meth:`fit` the module and criterion are
        unwrapped, so the encoder can be pickled.

    device_ : str
        The accelerator's device of this process (``"cuda:1"``, ``"cpu:0"``);
        in a loaded encoder, where its towers were loaded (``"cuda"`` or
        ``"cpu"``).

    history_ : skorch.History
        Per-epoch records; ``train_loss`` is the loss of the global batches,
        the same on every process.

    temperature_ : float
        Temperature at the end of training.

    n_iter_ : int
        Number of epochs run (in :meth:`fit`) or chunks seen (in
        :meth:`partial_fit`).

    n_steps_ : int
        Number of optimiser steps taken.

    batch_size_ : int
        Global batch size actually used.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklcm.MultimodalContrastiveEncoder : The single-process encoder.
    sklcm.nn.SymmetricInfoNCE : The loss, which gathers across processes.

    Notes
    -----
    Gradient accumulation (``gradient_accumulation_steps > 1``) is rejected:
    it would change the negatives of each step. The accelerator's
    ``DataLoaderConfiguration`` (``split_batches``, ``even_batches``) does not
    apply: the encoder splits its global batches itself and never pads them;
    a trailing batch is cut to a multiple of the number of processes.

    **Saving.** A fitted encoder pickles (``joblib.dump``) in any process,
    and the file loads on any machine. It holds no accelerator (an
    accelerator belongs to the launch that trained the model) and names the
    device type without the process's index: it loads as an
    ``AcceleratedContrastiveEncoder`` with ``accelerator=None``, whose towers
    sit on the loading process's GPU when it was trained on GPUs and one is
    visible, else on the CPU (see ``device_``). ``transform``, ``score`` and
    ``encode`` need no launch; :meth:`partial_fit` trains it further with the
    ``accelerator`` parameter (``None``: ``Accelerator()`` of the current
    launch).

    Examples
    --------
    >>> from sklcm.datasets import make_latent_partial_causal
    >>> from sklcm.distributed import AcceleratedContrastiveEncoder
    >>> X, z, info = make_latent_partial_causal(200, n_latents=2, random_state=0,
    ...                                         return_info=True)
    >>> enc = AcceleratedContrastiveEncoder(n_components=2, split=info.split,
    ...                                     batch_size=100, max_epochs=2,
    ...                                     hidden_layer_sizes=(16,), random_state=0)
    >>> enc.fit_transform(X).shape
    (200, 2)
    """

    _net_class = _AcceleratedContrastiveNet

    # the base encoder's parameters except `device`, plus `accelerator`
    _parameter_constraints: dict = {
        **{
            name: constraint
            for name, constraint in (
                MultimodalContrastiveEncoder._parameter_constraints.items()
            )
            if name != "device"
        },
        # checked in fit, so that importing this module needs no accelerate
        "accelerator": "no_validation",
    }

    # Not a parameter: the accelerator places the towers (the net takes the
    # accelerator's device). The base encoder's code reads it as the default
    # placement, e.g. for the RNG it forks while building the towers.
    device = "auto"

    # applied by partial_fit: the accelerator of the current launch trains on
    _live_params = frozenset({"accelerator"})

    # Every parameter of the base encoder but `device`, in its order, then
    # `accelerator`; tests/test_distributed.py checks that the two lists agree.
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
        random_state=None,
        representation="x",
        view=None,
        subsets="pairs",
        content_sizes=None,
        shared_towers=False,
        accelerator=None,
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
        self.random_state = random_state
        self.representation = representation
        self.view = view
        self.subsets = subsets
        self.content_sizes = content_sizes
        self.shared_towers = shared_towers
        self.accelerator = accelerator

    def _net_params(self):
        accelerator = self._get_accelerator()
        n_processes = accelerator.num_processes
        if n_processes > 1 and not isinstance(self.random_state, Integral):
            raise ValueError(
                f"With {n_processes} processes, random_state must be an int, got "
                f"{self.random_state!r}: every process must draw the same "
                "shuffling (and any other random choice), e.g. random_state=0."
            )
        return {"accelerator": accelerator}

    def _get_accelerator(self):
        accelerate = _accelerate()
        if self.accelerator is None:
            return accelerate.Accelerator()
        if not isinstance(self.accelerator, accelerate.Accelerator):
            raise TypeError(
                "accelerator must be an accelerate.Accelerator or None (one built "
                f"from the launch configuration), got {self.accelerator!r}."
            )
        return self.accelerator

    def _initialize(self, X, *args, **kwargs):
        super()._initialize(X, *args, **kwargs)
        if self.net_.accelerator.num_processes > 1:
            _check_same_on_every_process(X, self.random_state)

    def partial_fit(self, X, y=None):
        """Continue training as :meth:`MultimodalContrastiveEncoder.partial_fit`.

        A loaded (unpickled) encoder has no accelerator: it trains with the
        ``accelerator`` parameter (``None``: ``Accelerator()`` of the current
        launch).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of paired observations ``[x | t]``, the same on every
            process.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The updated encoder.
        """
        net = getattr(self, "net_", None)
        if net is not None and net.accelerator is None:
            net.accelerator = self._get_accelerator()
        return super().partial_fit(X, y)

    def __getstate__(self):
        # the accelerator belongs to the launch (see Notes): a saved encoder
        # loads with accelerator=None, and its net without one
        state = dict(super().__getstate__())  # may be self.__dict__ itself
        state["accelerator"] = None
        if "_trained_params_" in state:
            state["_trained_params_"] = {
                **state["_trained_params_"],
                "accelerator": None,
            }
        if "device_" in state:
            state["device_"] = _portable_device(state["device_"])
        return state

    def infonce_loss(self, X):
        """Loss on ``X`` as :meth:`MultimodalContrastiveEncoder.infonce_loss`.

        Every process evaluates the whole ``X`` on its own: the loss gathers
        nothing from the other processes here (their rows would be duplicate
        negatives).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Paired observations ``[x | t]``, at least 2.

        Returns
        -------
        loss : float
            The base encoder's loss on ``X``.
        """
        with _local_only():
            return super().infonce_loss(X)


def _fingerprint(X):
    """Shape and the sums of the first and last rows: cheap, also on a memmap."""
    return X.shape, float(np.sum(X[0])), float(np.sum(X[-1]))


def _check_same_on_every_process(X, random_state):
    """Raise the same ``ValueError`` on every process unless ``X`` and the seed agree.

    One collective gathers both, so the processes never wait for each other in
    different calls.
    """
    gathered = _accelerate().utils.gather_object([(_fingerprint(X), random_state)])
    fingerprints = [fingerprint for fingerprint, _ in gathered]
    if any(f != fingerprints[0] for f in fingerprints):
        raise ValueError(
            "Every process must call fit with the same X (each trains on "
            "its share of every global batch); got (shape, first row sum, "
            f"last row sum) = {fingerprints}."
        )
    seeds = [seed for _, seed in gathered]
    if any(seed != seeds[0] for seed in seeds):
        raise ValueError(
            "Every process must call fit with the same random_state, got "
            f"{seeds} on processes 0 to {len(seeds) - 1}: with other seeds they "
            "shuffle other global batches and train on pairs that do not match. "
            "Pass the same int everywhere, e.g. random_state=0, not a per-process "
            'seed such as int(os.environ["RANK"]).'
        )


def _parameters_doc(base_doc, drop):
    """The entries of the Parameters section of ``base_doc``, without ``drop``."""
    start = base_doc.index("    Parameters\n    ----------\n")
    end = base_doc.index("    Attributes\n    ----------\n")
    section = base_doc[start:end].split("\n", 2)[2]
    # an entry starts at a line "    name : type" and runs to the next one
    entries = re.split(r"(?m)^(?=    \w+ : )", section)
    return "".join(e for e in entries if e.split(" : ", 1)[0].strip() not in drop)


def _document_parameters(cls, base):
    """Fill the ``%(parameters)s`` of ``cls``'s docstring from ``base``'s.

    The base encoder's entries minus ``device``, plus ``accelerator``: one
    text to maintain, the base encoder's.
    """
    if cls.__doc__ is None or base.__doc__ is None:  # python -OO
        return
    own_doc = (
        "    accelerator : accelerate.Accelerator, default=None\n"
        "        The accelerator (mixed precision, device placement). ``None``\n"
        "        builds ``Accelerator()`` in :meth:`fit`, which follows the launch\n"
        "        configuration (``accelerate launch``, ``torchrun``). Training\n"
        "        runs on the accelerator's device. Not saved with the encoder:\n"
        "        a pickled encoder loads with ``accelerator=None``.\n\n"
    )
    cls.__doc__ = cls.__doc__.replace(
        "    %(parameters)s\n", _parameters_doc(base.__doc__, {"device"}) + own_doc
    )


_document_parameters(AcceleratedContrastiveEncoder, MultimodalContrastiveEncoder)
