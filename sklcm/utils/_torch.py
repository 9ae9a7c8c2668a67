"""Torch helpers: device resolution and seeded execution."""
# License: BSD 3 clause

import contextlib

import numpy as np
import torch

# rows converted (and encoded) at once when a pass over the data is done in
# chunks
CHUNK_ROWS = 8192


def resolve_device(device):
    """Turn ``"auto"`` into a concrete torch device string and check availability.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` picks ``"cuda"`` when available, else ``"cpu"``.

    Returns
    -------
    device : str
        A device string torch accepts.
    """
    device = str(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        torch.device(device)
    except RuntimeError:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda' "
            "or an indexed device such as 'cuda:1'."
        ) from None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but CUDA is not available in this torch build; "
            "use device='cpu' or device='auto'."
        )
    if device.startswith("mps") and not (
        hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    ):
        raise ValueError(
            f"device={device!r} but MPS is not available; use device='cpu' or 'auto'."
        )
    return device


@contextlib.contextmanager
def seeded(seed, device="cpu"):
    """Run a block with torch's global RNG seeded, restoring it afterwards.

    Parameters
    ----------
    seed : int
        Seed for torch's RNG inside the block.
    device : str, default="cpu"
        Device whose RNG is forked too when it is a CUDA device.
    """
    devices = [torch.device(device)] if str(device).startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


def as_float_tensor(X, device="cpu"):
    """Convert an array to a float32 tensor on ``device``, copying only when needed.

    Read-only inputs (e.g. memory-mapped shards) are copied so that torch never
    wraps a non-writable buffer.
    """
    X = np.require(X, dtype=np.float32, requirements=["W"])
    return torch.as_tensor(X, device=device)
