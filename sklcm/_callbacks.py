"""The encoder's skorch callbacks and the rollback of a failed fit."""
# License: BSD 3 clause

import contextlib
import copy
import math
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback, ProgressBar

from ._net import StopTraining, TrainingInterrupted, module_score


class DivergenceError(FloatingPointError):
    """Raised when the training loss stops being finite."""


class WarmupCosineLR(Callback):
    """Per-step learning rate: linear warmup, then cosine decay (or constant).

    Parameters
    ----------
    total_steps : int or None
        Length of the schedule. ``None`` means unknown: a fractional warmup is
        taken of 5000 steps and the rate stays constant afterwards.
    warmup : float
        Warmup length: a fraction of ``total_steps`` when below 1, else a
        number of steps.
    decay : {"cosine", "constant"}, default="cosine"
        What follows the warmup. The cosine reaches ``final_factor`` at
        ``total_steps``; it needs a known ``total_steps``.
    final_factor : float, default=0.0
        Learning rate at the end of the cosine, as a fraction of the base lr.
    """

    def __init__(self, total_steps=None, warmup=0.02, decay="cosine", final_factor=0.0):
        self.total_steps = total_steps
        self.warmup = warmup
        self.decay = decay
        self.final_factor = final_factor

    def initialize(self):
        self.step_ = 0
        self.base_lrs_ = None
        return self

    @property
    def end(self):
        """Step at which the rate reaches its final value (None: never)."""
        return self.total_steps if self.decay == "cosine" else None

    def steps_left(self, max_steps):
        """Steps until ``max_steps`` (total) or the end of a decaying schedule."""
        ends = [e for e in (max_steps, self.end) if e]
        return min(ends) - self.step_ if ends else np.inf

    def warn_ended(self, max_steps):
        """Warn that ``partial_fit`` did not train: the schedule is over."""
        warnings.warn(
            f"partial_fit did not train: the encoder has taken n_steps_="
            f"{self.step_} steps, the end of its training (max_steps="
            f"{max_steps}, end of the {self.decay!r} learning-rate "
            f"schedule: {self.end}); further steps would run at learning rate 0 "
            "or past the cap. Call fit to train again, or stream into a clone "
            "with a larger max_steps (or lr_schedule='constant').",
            ConvergenceWarning,
            stacklevel=4,  # the caller of partial_fit
        )

    def _warmup_steps(self):
        warmup = float(self.warmup)  # values, not types (np.float32 included)
        if warmup < 1:
            horizon = self.total_steps if self.total_steps else 5000
            return max(1, int(warmup * horizon))
        return int(warmup)

    def factor(self, step):
        """Multiplier of the base learning rate at ``step``."""
        warm = self._warmup_steps()
        if step < warm:
            return (step + 1) / warm
        if self.end is None:
            return 1.0
        progress = min(1.0, (step - warm) / max(1, self.total_steps - warm))
        cos = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.final_factor + (1.0 - self.final_factor) * cos

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        groups = net.optimizer_.param_groups
        if self.base_lrs_ is None:
            self.base_lrs_ = [g["lr"] for g in groups]
        f = self.factor(self.step_)
        for group, base in zip(groups, self.base_lrs_):
            group["lr"] = base * f
        self.step_ += 1


class StopOnDivergence(Callback):
    """Raise :class:`DivergenceError` as soon as a training loss is NaN or inf."""

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
        if training and loss is not None and not torch.isfinite(loss).all():
            raise DivergenceError(
                f"the contrastive loss became {loss.item()} at epoch "
                f"{len(net.history)}; lower `lr` or raise `temperature`."
            )


def _averaged_tensors(module):
    """The parameters of ``module``, then the running statistics of its batch
    normalisations: the averaged model normalises with averaged statistics."""
    stats = [
        buffer
        for layer in module.modules()
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm)
        for buffer in (layer.running_mean, layer.running_var)
        if buffer is not None
    ]
    return [*module.parameters(), *stats]


class WeightAverage(Callback):
    """Exponential moving average of the module's parameters (Polyak averaging).

    After every training step the average moves towards the current weights
    (and the running statistics of batch normalisations) by ``1 - d`` with
    ``d = min(decay, (1 + n) / (10 + n))`` at update ``n`` (a short average
    early on, when the weights move fast). Outside training
    -- for ``transform``, ``score``, pickling and the held-out scores of
    early stopping at the end of each epoch -- the module holds the averaged
    weights; the raw weights are kept here and put back before training goes
    on, so averaging never changes the optimisation itself.

    Parameters
    ----------
    decay : float
        Decay of the average, in [0, 1).
    """

    def __init__(self, decay):
        self.decay = decay

    def initialize(self):
        self.average_ = None  # averaged parameters
        self.raw_ = None  # training parameters while the module holds the average
        self.n_updates_ = 0
        return self

    def _swap_in(self, net, tensors):
        with torch.no_grad():
            for param, value in zip(_averaged_tensors(net.module_), tensors):
                param.copy_(value)

    def _clone(self, net):
        return [p.detach().clone() for p in _averaged_tensors(net.module_)]

    def on_train_begin(self, net, **kwargs):
        if self.average_ is None:
            self.average_ = self._clone(net)
        device = next(net.module_.parameters()).device
        self.average_ = [a.to(device) for a in self.average_]
        self.on_epoch_begin(net)

    def on_epoch_begin(self, net, **kwargs):
        if self.raw_ is not None:  # the module holds the average: train the raw
            self._swap_in(net, self.raw_)
            self.raw_ = None

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        self.n_updates_ += 1
        n = self.n_updates_
        decay = min(self.decay, (1 + n) / (10 + n))
        with torch.no_grad():
            for average, param in zip(self.average_, _averaged_tensors(net.module_)):
                average.lerp_(param, 1.0 - decay)

    def on_epoch_end(self, net, **kwargs):
        if self.raw_ is None:
            self.raw_ = self._clone(net)
            self._swap_in(net, self.average_)

    def on_train_end(self, net, **kwargs):
        self.on_epoch_end(net)  # an epoch cut short by Ctrl-C

    def raw_module(self, net):
        """The module with the raw weights: a copy while the module holds the
        average (outside training), else the module itself."""
        if self.raw_ is None:
            return net.module_
        module = copy.deepcopy(net.module_)
        with torch.no_grad():
            for param, value in zip(_averaged_tensors(module), self.raw_):
                param.copy_(value)
        return module

    def restart(self, net):
        """Average from the module's current weights, which training goes on
        from (e.g. the best epoch restored by early stopping)."""
        self.average_ = self._clone(net)
        self.raw_ = None

    def __getstate__(self):  # tensors travel on the CPU (see skorch's pickling)
        state = self.__dict__.copy()
        for key in ("average_", "raw_"):
            if state.get(key) is not None:
                state[key] = [t.cpu() for t in state[key]]
        return state


class ValidationMonitor(Callback):
    """Score held-out pairs after each epoch, stop on a plateau, keep the best.

    The score is :func:`label_free_score` (the encoder's ``score``) of the
    held-out pairs (``dataset_train.valid_indices``), recorded as ``valid_score`` in
    the history. Training stops after ``patience`` epochs without an
    improvement of more than ``tol``; the module and criterion weights of the
    best epoch are restored at the end of training, and a
    :class:`WeightAverage` restarts from them, so that a later ``partial_fit``
    goes on from the best epoch. Holds no data and no function objects, so a
    net carrying it pickles.

    Parameters
    ----------
    patience : int
        Epochs without improvement before stopping.
    similarity : {"cosine", "lp"}
        Similarity of the label-free score.
    p : float
        Order of the norm when ``similarity="lp"``.
    block_size : int
        Block size of the label-free score.
    tol : float, default=1e-4
        Minimum improvement.
    """

    def __init__(self, patience, similarity, p, block_size, tol=1e-4):
        self.patience = patience
        self.similarity = similarity
        self.p = p
        self.block_size = block_size
        self.tol = tol

    def initialize(self):
        self.best_score_ = -np.inf
        self.best_epoch_ = 0
        self._wait = 0
        self._best_state = None
        return self

    def on_train_begin(self, net, **kwargs):
        self.initialize()

    def on_epoch_end(self, net, dataset_train=None, **kwargs):
        if getattr(dataset_train, "valid_indices", None) is None:
            return  # a later partial_fit: no validation pairs
        X = dataset_train.rows(dataset_train.valid_indices, net.device)
        score = module_score(
            net.module_, X, net.device, self.similarity, self.p, self.block_size
        )
        improved = score > self.best_score_ + self.tol
        net.history.record("valid_score", score)
        net.history.record("valid_score_best", bool(improved))
        if improved:
            self.best_score_, self.best_epoch_, self._wait = score, len(net.history), 0
            self._best_state = copy.deepcopy(
                (net.module_.state_dict(), net.criterion_.state_dict())
            )
            return
        self._wait += 1
        if self._wait >= self.patience:
            raise StopTraining  # skorch ends training quietly on it

    def on_train_end(self, net, **kwargs):
        if self._best_state is not None:
            net.module_.load_state_dict(self._best_state[0])
            net.criterion_.load_state_dict(self._best_state[1])
            for _, cb in net.callbacks_:  # a later partial_fit goes on from here
                if isinstance(cb, WeightAverage):
                    cb.restart(net)
        self._best_state = None  # a pickled net carries no second copy


def make_callbacks(schedule, warmup, *, ema_decay, monitor, verbose, extra):
    """The encoder's named callbacks, then copies of the user's ``extra`` ones.

    ``schedule`` is ``(total_steps, decay)`` of :class:`WarmupCosineLR`;
    ``monitor`` a :class:`ValidationMonitor` or None.
    """
    callbacks = [
        ("lr_schedule", WarmupCosineLR(schedule[0], warmup, decay=schedule[1])),
        ("stop_on_divergence", StopOnDivergence()),
    ]
    if ema_decay is not None:
        callbacks.append(("weight_average", WeightAverage(ema_decay)))
    if monitor is not None:
        callbacks.append(("validation", monitor))
    if verbose >= 2:
        callbacks.append(("progress_bar", ProgressBar()))
    for cb in extra or []:
        if not isinstance(cb[1] if isinstance(cb, tuple) else cb, Callback):
            raise TypeError(
                "callbacks must hold skorch.callbacks.Callback instances or "
                f"(name, callback) tuples, got {cb!r}."
            )
        callbacks.append(copy.deepcopy(cb))
    return callbacks


def inference_module(net, ema_decay):
    """The module ``transform`` uses: the net's, or after
    ``set_params(ema_decay=None)`` and before the next ``partial_fit``, a copy
    holding the raw weights instead of their average."""
    average = dict(net.callbacks_).get("weight_average")
    if ema_decay is not None or average is None:
        return net.module_
    return average.raw_module(net)


def retune(net, *, lr, weight_decay, ema_decay, temperature, verbose):
    """Apply new training hyper-parameters to an initialised net.

    The learning-rate schedule keeps its shape around the new peak ``lr``;
    ``ema_decay=None`` drops the :class:`WeightAverage` (the module gets the
    raw weights back), a value adds one (averaging from the current weights)
    or changes its decay; ``temperature=None`` leaves the criterion as it is.
    """
    net.lr, net.verbose = lr, verbose
    groups = net.optimizer_.param_groups
    schedule = dict(net.callbacks_)["lr_schedule"]
    if schedule.base_lrs_ is not None:
        schedule.base_lrs_ = [lr] * len(groups)
    for group in groups:
        group["weight_decay"] = weight_decay
        if schedule.base_lrs_ is None:
            group["lr"] = lr
    _retune_average(net, ema_decay)
    if temperature is not None:
        with torch.no_grad():
            net.criterion_.log_temperature.fill_(math.log(temperature))


def _retune_average(net, ema_decay):
    names = [name for name, _ in net.callbacks_]
    if "weight_average" in names:
        average = net.callbacks_[names.index("weight_average")][1]
        if ema_decay is not None:
            average.decay = ema_decay
            return
        average.on_epoch_begin(net)  # the module gets the raw weights back
        del net.callbacks_[names.index("weight_average")]
    elif ema_decay is not None:
        net.callbacks_.append(("weight_average", WeightAverage(ema_decay).initialize()))


# callbacks whose state a failed ``partial_fit`` must put back, and the net
# attributes it may change (see ``retune``)
_STATEFUL_CALLBACKS = ("lr_schedule", "weight_average")
_NET_ATTRS = ("lr", "batch_size", "verbose", "callbacks_")


def _snapshot(estimator):
    """Everything a failed ``partial_fit`` of a fitted ``estimator`` must put back."""
    net = estimator.net_
    attrs = {k: v for k, v in vars(estimator).items() if k.endswith("_")}
    states = copy.deepcopy(
        (
            net.module_.state_dict(),
            net.criterion_.state_dict(),
            net.optimizer_.state_dict(),
            {n: cb.__dict__ for n, cb in net.callbacks_ if n in _STATEFUL_CALLBACKS},
        )
    )
    plain = {k: copy.copy(getattr(net, k)) for k in _NET_ATTRS}
    return attrs, states, len(net.history), plain


def _restore(estimator, snapshot):
    attrs, (module, criterion, optimizer, callbacks), n_epochs, plain = snapshot
    estimator.__dict__.update(attrs)
    net = estimator.net_
    for key, value in plain.items():
        setattr(net, key, value)
    net.module_.load_state_dict(module)
    net.criterion_.load_state_dict(criterion)
    net.optimizer_.load_state_dict(optimizer)
    for name, cb in net.callbacks_:
        if name in callbacks:
            cb.__dict__.update(callbacks[name])
    del net.history[n_epochs:]


def _pop_fitted_state(estimator):
    """Remove and return every fitted attribute (names ending in ``_``)."""
    names = [k for k in vars(estimator) if k.endswith("_") and not k.startswith("__")]
    return {k: estimator.__dict__.pop(k) for k in names}


@contextlib.contextmanager
def fit_transaction(estimator, *, fresh):
    """Leave ``estimator`` exactly as it was when the block raises.

    With ``fresh=True`` (``fit``), or when nothing is fitted yet, the fitted
    attributes are removed on entry and put back on failure; otherwise
    (a later ``partial_fit``) the net's weights, optimiser, stateful
    callbacks and history are snapshot and restored. A
    :class:`DivergenceError` is turned into a ``ValueError`` after the
    rollback. A :class:`TrainingInterrupted` (a user's ``KeyboardInterrupt``
    during the optimiser steps) is re-raised without a rollback: the partly
    trained state is kept.
    """
    fitted = not fresh and hasattr(estimator, "net_")
    saved = _snapshot(estimator) if fitted else _pop_fitted_state(estimator)
    try:
        yield
    except TrainingInterrupted:
        raise
    except BaseException as exc:
        if fitted:
            _restore(estimator, saved)
        else:
            _pop_fitted_state(estimator)
            estimator.__dict__.update(saved)
        if isinstance(exc, DivergenceError):
            raise ValueError(
                f"Training diverged: {exc} The encoder keeps its state from before "
                "this call."
            ) from exc
        raise
