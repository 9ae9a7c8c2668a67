"""Private skorch net for two-tower contrastive training and its data plumbing."""
# License: BSD 3 clause

from itertools import combinations

import numpy as np
import torch
from skorch import NeuralNet

from .metrics._retrieval import label_free_score
from .utils._torch import CHUNK_ROWS

# on CUDA, the training rows are copied to the device once when their float32
# size is below this and below half the free device memory; above, each batch
# is gathered on the host and copied through pinned memory
_DEVICE_COPY_MAX_BYTES = 2**30


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
    """A float32 tensor on ``device`` from a block of rows (NumPy or torch)."""
    if isinstance(X_rows, torch.Tensor):
        return X_rows.to(device, torch.float32)
    block = torch.from_numpy(
        np.require(X_rows, dtype=np.float32, requirements=["C", "W"])
    )
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
    for start in range(0, len(X), CHUNK_ROWS):
        out[start : start + CHUNK_ROWS] = _to_device(
            X[start : start + CHUNK_ROWS], device
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
            rows = torch.as_tensor(rows, device=self.X.device)
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


class StopTraining(KeyboardInterrupt):
    """Raised by a callback to end training early (skorch's signal for it);
    :class:`ContrastiveNet` tells it apart from a user's interrupt."""


class TrainingInterrupted(KeyboardInterrupt):
    """A ``KeyboardInterrupt`` (e.g. Ctrl-C) stopped training; the net holds
    the partly trained state (``on_train_end`` has run)."""


class ContrastiveNet(NeuralNet):
    """skorch ``NeuralNet`` whose module returns ``(z_x, z_t)`` and whose loss
    ignores targets; batches are gathered from a :class:`PairData`.

    skorch ends training quietly on any ``KeyboardInterrupt``; this net does
    so only for :class:`StopTraining` and re-raises any other interrupt as
    :class:`TrainingInterrupted`, after ``on_train_end``.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(*y_pred)

    def get_iterator(self, dataset, training=False):
        return _PairBatches(dataset, self.batch_size, self.device)

    def initialize(self):
        super().initialize()
        # The module and criterion instances passed to __init__ are module_
        # and criterion_ themselves: pickle them with those, through skorch's
        # device-mapping unpickler, so that a model trained on a GPU loads on
        # a machine without one (as plain tensors of the outer pickle they
        # would be restored on their original device, or fail).
        attrs = self.cuda_dependent_attributes_
        extra = [a for a in ("module", "criterion") if a not in attrs]
        self.cuda_dependent_attributes_ = [*attrs, *extra]
        return self

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except StopTraining:
            raise
        except KeyboardInterrupt as exc:
            self._interrupt = exc
            raise

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        self._interrupt = None
        super().partial_fit(X, y, classes=classes, **fit_params)
        interrupt, self._interrupt = self._interrupt, None
        if interrupt is not None:
            raise TrainingInterrupted(
                f"training interrupted after {len(self.history)} epoch(s)"
            ) from interrupt
        return self


@torch.no_grad()
def encode(module, X_m, modality, device):
    """One modality's representations of the rows of ``X_m``, as NumPy float32.

    The one encode path of the package (``transform``, ``encode``, ``score``
    and the validation scores of early stopping): ``X_m`` (NumPy array,
    memory map or tensor) is encoded ``CHUNK_ROWS`` rows at a time in eval
    mode; a module wrapped for data-parallel training is unwrapped first.
    """
    module = getattr(module, "module", module)  # DistributedDataParallel
    was_training = module.training
    module.eval()
    parts = [
        module.encode(_to_device(X_m[i : i + CHUNK_ROWS], device), modality).cpu()
        for i in range(0, len(X_m), CHUNK_ROWS)
    ]
    module.train(was_training)
    return torch.cat(parts).numpy()


def blocks_score(zs, subsets, blocks, similarity, p, block_size):
    """Label-free score of K views' representations ``zs``: the mean over
    subsets of the mean, over the subset's view pairs, of the score of their
    content block (``(start, stop)`` columns)."""
    return float(
        np.mean(
            [
                np.mean(
                    [
                        label_free_score(
                            zs[k][:, a:b], zs[m][:, a:b], similarity, p, block_size
                        )
                        for k, m in combinations(subset, 2)
                    ]
                )
                for subset, (a, b) in zip(subsets, blocks)
            ]
        )
    )


def module_score(module, X, device, similarity, p, block_size):
    """Label-free score of the stacked rows ``X`` under a tower module: the
    validation score of early stopping (two towers, or K with content blocks)."""
    inner = getattr(module, "module", module)  # DistributedDataParallel
    split = inner.split
    if np.ndim(split) == 0:  # two views
        z_x = encode(module, X[:, :split], "x", device)
        z_t = encode(module, X[:, split:], "t", device)
        return label_free_score(z_x, z_t, similarity, p, block_size)
    stops = np.cumsum(split)
    zs = [
        encode(module, X[:, stop - w : stop], k, device)
        for k, (w, stop) in enumerate(zip(split, stops))
    ]
    return blocks_score(zs, inner.subsets, inner.blocks, similarity, p, block_size)


_MOVED_TO_CALLBACKS = frozenset(
    {"DivergenceError", "StopOnDivergence", "ValidationMonitor"}
    | {"WarmupCosineLR", "WeightAverage"}
)


def __getattr__(name):
    """The callbacks moved to :mod:`sklcm._callbacks`; encoders pickled
    before the move name them here."""
    if name in _MOVED_TO_CALLBACKS:
        from . import _callbacks

        return getattr(_callbacks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
