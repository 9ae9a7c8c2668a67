"""Private helpers for data-parallel contrastive training with torch.distributed.

The loss asks :func:`_world` for the rank and the number of processes at call
time, so a single process (no initialised process group) runs the plain
single-batch code and nothing distributed is stored on any object.
"""
# License: BSD 3 clause

import contextlib
import importlib
import threading
import warnings

import torch

# the module holding torch's autograd-aware all-gather; private in torch, so it
# is looked up (and its function probed by name) at call time
_FUNCTIONAL_COLLECTIVES = "torch.distributed._functional_collectives"
# names of the autograd all-gather in _functional_collectives, newest first:
# torch 2.13 renamed all_gather_tensor_autograd to all_gather_single and keeps
# the old name as a deprecated alias
_GATHER_NAMES = ("all_gather_single", "all_gather_tensor_autograd")

_state = threading.local()


def _world():
    """``(rank, world_size)`` of the default process group; ``(0, 1)`` without one.

    Inside :func:`_local_only`, always ``(0, 1)``.
    """
    if getattr(_state, "local_only", False):
        return 0, 1
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@contextlib.contextmanager
def _local_only():
    """Compute losses on the local batch only, even in a process group.

    For evaluation on data that every process holds whole (e.g. ``score``),
    where gathering would repeat the same rows as negatives.
    """
    previous = getattr(_state, "local_only", False)
    _state.local_only = True
    try:
        yield
    finally:
        _state.local_only = previous


def _check_equal_batch_sizes(n_rows, device):
    """Raise the same ``ValueError`` on every rank unless all hold ``n_rows`` rows."""
    dist = torch.distributed
    sizes = torch.tensor([n_rows, -n_rows], device=device)
    dist.all_reduce(sizes, op=dist.ReduceOp.MAX)
    largest, smallest = int(sizes[0]), -int(sizes[1])
    if largest != smallest:
        raise ValueError(
            "SymmetricInfoNCE gathers the negatives of all "
            f"{dist.get_world_size()} processes and needs the same local batch "
            f"size on each, got sizes from {smallest} to {largest}. Make the global "
            "batch a multiple of the number of processes and drop an incomplete "
            "last batch (e.g. DataLoader(..., drop_last=True))."
        )


def _all_gather_with_grad(tensor):
    """Concatenate ``tensor`` from every rank along dim 0, keeping autograd.

    The backward pass sums, over the ranks, the gradient of each rank's copy of
    this rank's slice, so that averaging parameter gradients over the ranks (as
    DDP does) gives the gradient of the loss on the whole global batch.

    Tries ``_functional_collectives.all_gather_single``, then its older name
    ``all_gather_tensor_autograd``, then
    ``torch.distributed.nn.functional.all_gather`` (deprecated in torch 2.13).
    Deprecation warnings of the fallbacks are silenced: the choice is made here.
    """
    tensor = tensor.contiguous()
    try:
        collectives = importlib.import_module(_FUNCTIONAL_COLLECTIVES)
    except ImportError:
        collectives = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for name in _GATHER_NAMES:
            gather = getattr(collectives, name, None)
            if gather is not None:
                # may return a lazily waited AsyncCollectiveTensor; the next op
                # on it waits for the collective
                return gather(tensor, 0, torch.distributed.group.WORLD)
        from torch.distributed.nn.functional import all_gather

        return torch.cat(all_gather(tensor), dim=0)
