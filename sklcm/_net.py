"""Private skorch net for two-tower contrastive training, and its callbacks."""
# License: BSD 3 clause

import math

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback


class DivergenceError(FloatingPointError):
    """Raised when the training loss stops being finite."""


def batch_starts(n_samples, batch_size, training=True):
    """First row of each batch; when training, drop a trailing batch smaller
    than half a batch (too few negatives) unless it is the only one."""
    last = (
        n_samples - batch_size // 2
        if training and n_samples >= batch_size
        else n_samples
    )
    return range(0, max(last, 1), batch_size)


class _TensorBatches:
    """Mini-batches of a stacked tensor, reshuffled each pass when training.

    Slicing one tensor avoids the per-row ``__getitem__`` and collation cost of a
    ``DataLoader`` (a large share of a small contrastive step). When training,
    a trailing batch smaller than half a batch is dropped: it would carry too
    few negatives.
    """

    def __init__(self, X, batch_size, training):
        self.X = X
        self.batch_size = batch_size
        self.training = training

    def _starts(self):
        return batch_starts(len(self.X), self.batch_size, self.training)

    def __len__(self):
        return len(self._starts())

    def __iter__(self):
        X = self.X
        if self.training:
            X = X[torch.randperm(len(X), device=X.device)]
        for start in self._starts():
            yield X[start : start + self.batch_size], None


class ContrastiveNet(NeuralNet):
    """skorch ``NeuralNet`` whose module returns ``(z_x, z_t)`` and whose loss
    ignores targets; batches are slices of one tensor."""

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(*y_pred)

    def get_iterator(self, dataset, training=False):
        X = dataset.X if hasattr(dataset, "X") else dataset
        return _TensorBatches(torch.as_tensor(X), self.batch_size, training)


class WarmupCosineLR(Callback):
    """Per-step learning rate: linear warmup, then cosine decay (or constant).

    Parameters
    ----------
    total_steps : int or None
        Length of the schedule. ``None`` means unknown: warm up over
        ``warmup_steps`` and stay constant afterwards.
    warmup : float or int
        Warmup length: a fraction of ``total_steps`` when a float below 1,
        else a number of steps.
    final_factor : float, default=0.0
        Learning rate at the end of the cosine, as a fraction of the base lr.
    """

    def __init__(self, total_steps=None, warmup=0.02, final_factor=0.0):
        self.total_steps = total_steps
        self.warmup = warmup
        self.final_factor = final_factor

    def initialize(self):
        self.step_ = 0
        self.base_lrs_ = None
        return self

    def _warmup_steps(self):
        if isinstance(self.warmup, float) and self.warmup < 1:
            # 100 steps when the horizon is unknown, a fraction of it otherwise
            horizon = self.total_steps if self.total_steps else 5000
            return max(1, int(self.warmup * horizon))
        return max(1, int(self.warmup))

    def factor(self, step):
        """Multiplier of the base learning rate at ``step``."""
        warm = self._warmup_steps()
        if step < warm:
            return (step + 1) / warm
        if not self.total_steps:
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
