"""Symmetric InfoNCE (CLIP) loss with cosine or negative L_p similarity."""
# License: BSD 3 clause

import difflib
import math
from numbers import Real

import numpy as np
import torch
from torch import nn

from ._distributed import _all_gather_with_grad, _check_equal_batch_sizes, _world

_SIMILARITIES = ("cosine", "lp")


def _check_similarity(similarity):
    """Return ``similarity`` if known; else a ValueError suggesting the closest."""
    if isinstance(similarity, str) and similarity in _SIMILARITIES:
        return similarity
    close = difflib.get_close_matches(str(similarity), _SIMILARITIES, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"similarity must be one of {list(_SIMILARITIES)}, got {similarity!r}.{hint}"
    )


def _check_positive(name, value, *, allow_inf=False):
    """Return ``value`` as a float if it is a real number > 0 (finite unless
    ``allow_inf``); numpy scalars are accepted, booleans are not."""
    ok = isinstance(value, Real) and not isinstance(value, (bool, np.bool_))
    if ok:
        value = float(value)
        ok = value > 0 and (allow_inf or math.isfinite(value))
    if not ok:
        bound = "a positive float or inf" if allow_inf else "a positive finite float"
        raise ValueError(f"{name} must be {bound}, got {value!r}.")
    return value


def _check_bool(name, value):
    """Return ``value`` as a bool if it is a Python or numpy boolean."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


class SymmetricInfoNCE(nn.Module):
    r"""Symmetric CLIP/InfoNCE loss over in-batch cross-modal negatives.

    For a batch of ``N`` pairs with representations :math:`u_i = f_x(x_i)` and
    :math:`v_j = f_t(t_j)`, similarity :math:`s` and temperature :math:`\tau`,

    .. math::

        L = -\frac{1}{2N} \sum_i \left[
            \log \frac{e^{s(u_i, v_i)/\tau}}{\sum_j e^{s(u_i, v_j)/\tau}}
          + \log \frac{e^{s(u_i, v_i)/\tau}}{\sum_j e^{s(u_j, v_i)/\tau}} \right],

    the average of the x-to-t and t-to-x cross-entropies.

    Parameters
    ----------
    temperature : float, default=0.2
        Initial temperature :math:`\tau`, a finite number > 0.
    learn_temperature : bool, default=False
        Whether :math:`\log\tau` is a trainable parameter.
    similarity : {"cosine", "lp"}, default="cosine"
        ``"cosine"`` expects L2-normalised inputs and uses their dot product;
        ``"lp"`` uses :math:`-\lVert u - v\rVert_p`. Any other value raises
        a ValueError.
    p : float, default=1.0
        Order of the norm for ``similarity="lp"``, > 0 (``float("inf")`` for
        the max norm). Checked even when unused.

    Raises
    ------
    ValueError
        If an argument is out of range or of the wrong kind; the message
        names the argument and, for a misspelt ``similarity``, the closest
        valid value.

    Notes
    -----
    In a :mod:`torch.distributed` process group (data-parallel training),
    the loss gathers the representations of all processes with gradients, so
    that the negatives are those of the global batch; see :meth:`forward` and
    the :ref:`scaling` user guide. Without one it is the single-batch loss.

    Examples
    --------
    >>> import torch
    >>> from sklcm.nn import SymmetricInfoNCE
    >>> loss = SymmetricInfoNCE(temperature=0.5)
    >>> u = torch.nn.functional.normalize(torch.eye(4), dim=1)
    >>> round(float(loss(u, u)), 3) < round(float(loss(u, u.flip(0))), 3)
    True
    """

    def __init__(
        self, temperature=0.2, learn_temperature=False, similarity="cosine", p=1.0
    ):
        super().__init__()
        temperature = _check_positive("temperature", temperature)
        learn_temperature = _check_bool("learn_temperature", learn_temperature)
        self.similarity = _check_similarity(similarity)
        self.p = _check_positive("p", p, allow_inf=True)
        log_t = torch.tensor(math.log(temperature), dtype=torch.float32)
        if learn_temperature:
            self.log_temperature = nn.Parameter(log_t)
        else:
            self.register_buffer("log_temperature", log_t)

    @property
    def temperature(self):
        """Current temperature as a Python float."""
        return float(self.log_temperature.detach().exp())

    def logits(self, u, v):
        """Similarity matrix ``s(u_i, v_j) / tau``.

        Parameters
        ----------
        u, v : torch.Tensor of shape (N, n_components)
            Representations of the x and t sides of a batch of pairs.

        Returns
        -------
        logits : torch.Tensor of shape (N, N)
            Scaled similarities; the diagonal holds the positive pairs.
        """
        if self.similarity == "cosine":
            sim = u @ v.T
        else:
            sim = -torch.cdist(u, v, p=self.p)
        return sim / self.log_temperature.exp()

    def forward(self, u, v):
        """Compute the loss of a batch of pairs ``(u_i, v_i)``.

        In a :mod:`torch.distributed` process group of ``W > 1`` processes,
        each holding ``N`` local pairs, the other modality is all-gathered
        with gradients: the local rows of the logits are scored against all
        ``W * N`` pairs, so the mean of the processes' losses is the loss of
        the global batch and averaged gradients (as under DDP) are its
        gradients. Every process must hold the same ``N``. Without a process
        group this is the single-batch loss.

        Parameters
        ----------
        u, v : torch.Tensor of shape (N, n_components)
            Representations of the x and t sides of a batch of pairs.

        Returns
        -------
        loss : torch.Tensor of shape ()
            Mean of the x-to-t and t-to-x cross-entropies.
        """
        rank, world_size = _world()
        ce = nn.functional.cross_entropy
        if world_size == 1:
            logits = self.logits(u, v)
            target = torch.arange(logits.shape[0], device=logits.device)
            return 0.5 * (ce(logits, target) + ce(logits.T, target))
        n_local = u.shape[0]
        _check_equal_batch_sizes(n_local, u.device)
        # local rows of the global logits, and of their transpose
        logits_u = self.logits(u, _all_gather_with_grad(v))
        logits_v = self.logits(_all_gather_with_grad(u), v).T
        target = torch.arange(n_local, device=u.device) + rank * n_local
        return 0.5 * (ce(logits_u, target) + ce(logits_v, target))
