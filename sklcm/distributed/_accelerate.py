"""The contrastive encoder trained through Hugging Face accelerate."""
# License: BSD 3 clause

import inspect
from numbers import Integral

import numpy as np
from skorch.hf import AccelerateMixin

from .._encoder import MultimodalContrastiveEncoder
from .._net import ContrastiveNet
from ..nn._distributed import _local_only


def _accelerate():
    try:
        import accelerate
    except ImportError as exc:  # pragma: no cover - accelerate is in the test extra
        raise ImportError(
            "AcceleratedContrastiveEncoder needs Hugging Face accelerate: "
            "pip install 'sklcm[dist]' (or pip install accelerate)."
        ) from exc
    return accelerate


def _has_trainable_parameters(module):
    return any(p.requires_grad for p in module.parameters())


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
        if not self.verbose:
            # skorch's PrintLog ignores verbose=0 when its sink is not print
            # (AccelerateMixin's default sink is accelerator.print)
            self.callbacks__print_log__sink = print
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
    with the same ``X`` and, with several processes, an int ``random_state``,
    so that all draw the same shuffling (both are checked).

    Read more in the :ref:`User Guide <scaling>`.

    Parameters
    ----------
    %(parameters)s
    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained skorch net, with :class:`~skorch.hf.AccelerateMixin`; its
        ``accelerator`` is the one used. After :meth:`fit` the module and
        criterion are unwrapped, so the encoder can be pickled.

    device_ : str
        The accelerator's device of this process.

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

    _parameter_constraints: dict = {
        **MultimodalContrastiveEncoder._parameter_constraints,
        # checked in fit, so that importing this module needs no accelerate
        "accelerator": "no_validation",
    }

    # the signature is the base encoder's plus `accelerator` (set below)
    def __init__(self, n_components=2, *, accelerator=None, **params):
        super().__init__(n_components, **params)
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
            fingerprints = _accelerate().utils.gather_object([_fingerprint(X)])
            if any(f != fingerprints[0] for f in fingerprints):
                raise ValueError(
                    "Every process must call fit with the same X (each trains on "
                    "its share of every global batch); got (shape, first row sum, "
                    f"last row sum) = {fingerprints}."
                )
        self.device_ = str(self.net_.device)

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


def _extend_signature_and_doc(cls, base):
    """Give ``cls.__init__`` the base's parameters plus its own, and document them.

    scikit-learn reads the parameters from the signature; keeping one list (the
    base's) means the subclass follows any change to the base encoder.
    """
    own = inspect.signature(cls.__init__).parameters["accelerator"]
    signature = inspect.signature(base.__init__)
    cls.__init__.__signature__ = signature.replace(
        parameters=[*signature.parameters.values(), own]
    )
    if cls.__doc__ is None or base.__doc__ is None:  # python -OO
        return
    header = "    Parameters\n    ----------\n"
    base_doc = base.__doc__
    start = base_doc.index(header) + len(header)
    end = base_doc.index("    Attributes\n    ----------\n")
    own_doc = (
        "    accelerator : accelerate.Accelerator, default=None\n"
        "        The accelerator (mixed precision, device placement). ``None``\n"
        "        builds ``Accelerator()`` in :meth:`fit`, which follows the launch\n"
        "        configuration (``accelerate launch``, ``torchrun``). Training\n"
        "        runs on the accelerator's device; ``device`` is ignored.\n\n"
    )
    cls.__doc__ = cls.__doc__.replace(
        "    %(parameters)s\n", base_doc[start:end] + own_doc
    )


_extend_signature_and_doc(AcceleratedContrastiveEncoder, MultimodalContrastiveEncoder)
