"""Private skorch net for two-tower contrastive training, its data and callbacks."""
# License: BSD 3 clause

import copy
import math

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback

from .metrics._retrieval import label_free_score

# rows converted at once when a pass over the data is done in chunks
_CHUNK_ROWS = 8192
# on CUDA, the training rows are copied to the device once when their float32
# size is below this and below half the free device memory; above, each batch
# is gathered on the host and copied through pinned memory
_DEVICE_COPY_MAX_BYTES = 2**30


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


def _to_device(X_rows, device):
    """A float32 tensor on ``device`` from a small NumPy block of rows."""
    block = torch.from_numpy(np.ascontiguousarray(X_rows, dtype=np.float32))
    if torch.device(device).type == "cuda":
        return block.pin_memory().to(device, non_blocking=True)
    return block.to(device)


def device_rows(X, device):
    """Where the training batches are gathered from on ``device``.

    On a CUDA device, an array whose float32 size is below
    ``_DEVICE_COPY_MAX_BYTES`` and half the free device memory is copied there
    once, in chunks (no full host copy); otherwise, and always on the CPU, the
    array itself (possibly a read-only ``np.memmap``) is returned and each
    batch is gathered and converted on its own.
    """
    if torch.device(device).type != "cuda":
        return X
    nbytes = X.shape[0] * X.shape[1] * 4
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    if nbytes > min(_DEVICE_COPY_MAX_BYTES, free // 2):
        return X
    out = torch.empty(X.shape, dtype=torch.float32, device=device)
    for start in range(0, len(X), _CHUNK_ROWS):
        out[start : start + _CHUNK_ROWS] = _to_device(
            X[start : start + _CHUNK_ROWS], device
        )
    return out


class PairData(torch.utils.data.Dataset):
    """The pairs of one training call, handed to skorch as a ready dataset.

    Parameters
    ----------
    X : ndarray, np.memmap or torch.Tensor of shape (n_samples, n_features)
        All rows, never copied as a whole: batches gather rows from it.
    indices : ndarray of int
        Training rows of ``X``.
    max_steps : int
        Batches to yield over the whole call (across epochs), so that
        training stops exactly at the step cap.
    valid_indices : ndarray of int or None, default=None
        Held-out rows of ``X`` for :class:`ValidationMonitor`.
    """

    def __init__(self, X, indices, max_steps, valid_indices=None):
        self.X = X
        self.indices = indices
        self.steps_left = max_steps
        self.valid_indices = valid_indices

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.rows(self.indices[i : i + 1], "cpu")[0]

    def rows(self, rows, device):
        """Float32 tensor of the given rows (in that order) on ``device``."""
        if isinstance(self.X, torch.Tensor):
            return self.X[torch.as_tensor(rows, device=self.X.device)].to(device)
        return _to_device(self.X[rows], device)


class _PairBatches:
    """Mini-batches of a :class:`PairData`, reshuffled each pass.

    Each pass permutes the training indices (torch's global RNG, seeded by the
    encoder) and gathers one batch at a time: no shuffled copy of the data.
    Rows inside a batch are sorted, which keeps reads from a memory map local,
    makes the host and device paths feed identical batches, and leaves the
    symmetric loss unchanged. A trailing batch smaller than half
    a batch is dropped (too few negatives).
    """

    def __init__(self, data, batch_size, device):
        self.data = data
        self.batch_size = batch_size
        self.device = device

    def __len__(self):
        n = len(batch_starts(len(self.data), self.batch_size))
        return max(0, min(n, self.data.steps_left))

    def __iter__(self):
        data, bs = self.data, self.batch_size
        n = len(data.indices)
        perm = torch.randperm(n, dtype=torch.int32 if n < 2**31 else torch.int64)
        order = data.indices[perm.numpy()]
        for start in batch_starts(len(order), bs):
            if data.steps_left <= 0:
                return
            data.steps_left -= 1
            yield data.rows(np.sort(order[start : start + bs]), self.device), None


class ContrastiveNet(NeuralNet):
    """skorch ``NeuralNet`` whose module returns ``(z_x, z_t)`` and whose loss
    ignores targets; batches are gathered from a :class:`PairData`."""

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(*y_pred)

    def get_iterator(self, dataset, training=False):
        return _PairBatches(dataset, self.batch_size, self.device)


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


class WeightAverage(Callback):
    """Exponential moving average of the module's parameters (Polyak averaging).

    After every training step the average moves towards the current weights
    by ``1 - d`` with ``d = min(decay, (1 + n) / (10 + n))`` at update ``n``
    (a short average early on, when the weights move fast). Outside training
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
            for param, value in zip(net.module_.parameters(), tensors):
                param.copy_(value)

    def _clone(self, net):
        return [p.detach().clone() for p in net.module_.parameters()]

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
            for average, param in zip(self.average_, net.module_.parameters()):
                average.lerp_(param, 1.0 - decay)

    def on_epoch_end(self, net, **kwargs):
        if self.raw_ is None:
            self.raw_ = self._clone(net)
            self._swap_in(net, self.average_)

    def on_train_end(self, net, **kwargs):
        self.on_epoch_end(net)  # an epoch cut short by Ctrl-C

    def __getstate__(self):  # tensors travel on the CPU (see skorch's pickling)
        state = self.__dict__.copy()
        for key in ("average_", "raw_"):
            if state.get(key) is not None:
                state[key] = [t.cpu() for t in state[key]]
        return state


@torch.no_grad()
def encode_rows(module, data, rows, device):
    """Both towers' representations of ``rows`` of ``data``, as NumPy arrays."""
    was_training = module.training
    module.eval()
    parts = [
        module(data.rows(rows[i : i + _CHUNK_ROWS], device))
        for i in range(0, len(rows), _CHUNK_ROWS)
    ]
    module.train(was_training)
    z_x = torch.cat([p[0] for p in parts]).cpu().numpy()
    z_t = torch.cat([p[1] for p in parts]).cpu().numpy()
    return z_x, z_t


class ValidationMonitor(Callback):
    """Score held-out pairs after each epoch, stop on a plateau, keep the best.

    The score is :func:`label_free_score` (the encoder's ``score``) of the
    held-out pairs (``dataset_train.valid_indices``), recorded as ``valid_score`` in
    the history. Training stops after ``patience`` epochs without an
    improvement of more than ``tol``; the module and criterion weights of the
    best epoch are restored at the end of training. Holds no data and no
    function objects, so a net carrying it pickles.

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
        z_x, z_t = encode_rows(
            net.module_, dataset_train, dataset_train.valid_indices, net.device
        )
        score = label_free_score(z_x, z_t, self.similarity, self.p, self.block_size)
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
            raise KeyboardInterrupt  # skorch's way to end training early

    def on_train_end(self, net, **kwargs):
        if self._best_state is not None:
            net.module_.load_state_dict(self._best_state[0])
            net.criterion_.load_state_dict(self._best_state[1])
        self._best_state = None  # a pickled net carries no second copy
