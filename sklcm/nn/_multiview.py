"""K views: one tower per view (or shared), and the subset-wise InfoNCE loss."""
# License: BSD 3 clause

from itertools import combinations

import torch
from torch import nn

from ._losses import SymmetricInfoNCE
from ._towers import MLPTower


class MultiTowerMLP(nn.Module):
    """K MLP towers, one per view (or per group of views), on ``[x_1 | … | x_K]``.

    Each tower outputs ``n_components`` columns. The columns are cut into
    content blocks (``blocks``); on the sphere every block is L2-normalised
    on its own (a sphere per block), on the box the tower's box head bounds
    every column. Columns after the last block are returned as the
    perceptron leaves them (sphere) and are trained by no loss.

    Parameters
    ----------
    split : list of int
        Width of every view, in column order.
    n_features : int
        Total number of input columns (``sum(split)``).
    n_components : int
        Output columns of every tower.
    hidden_layer_sizes : tuple of int, default=(256, 256, 256)
        Hidden widths of each tower.
    activation : str, default="leaky_relu"
        Hidden activation.
    latent_space : {"sphere", "box"}, default="sphere"
        Output geometry.
    layer_norm : bool, default=False
        Layer normalisation in the hidden layers.
    box_squash : {"sigmoid", "softclamp"}, default="sigmoid"
        Squashing function of box heads (see :class:`BoxHead`).
    head_batch_norm : bool, default=False
        Batch normalisation before the head (see :class:`MLPTower`).
    blocks : list of (int, int), default=None
        ``(start, stop)`` columns of every content block; None is one block
        of all ``n_components`` columns.
    subsets : list of tuple of int, default=None
        The views contrasted on each block (kept for scoring; the loss is
        :class:`SubsetInfoNCE`); None is all views on every block.
    towers : list of int, default=None
        Tower index of every view (views of equal width may share a tower);
        None gives every view its own tower.

    Examples
    --------
    >>> import torch
    >>> from sklcm.nn import MultiTowerMLP
    >>> module = MultiTowerMLP([2, 3, 2], 7, 4, blocks=[(0, 2), (2, 4)])
    >>> [tuple(z.shape) for z in module(torch.zeros(5, 7))]
    [(5, 4), (5, 4), (5, 4)]
    """

    def __init__(
        self,
        split,
        n_features,
        n_components,
        hidden_layer_sizes=(256, 256, 256),
        activation="leaky_relu",
        latent_space="sphere",
        layer_norm=False,
        box_squash="sigmoid",
        head_batch_norm=False,
        *,
        blocks=None,
        subsets=None,
        towers=None,
    ):
        super().__init__()
        self.split = [int(w) for w in split]
        if sum(self.split) != n_features:
            raise ValueError(
                f"split={self.split} adds up to {sum(self.split)}, not n_features="
                f"{n_features}."
            )
        self.blocks = [tuple(b) for b in (blocks or [(0, n_components)])]
        self.towers = list(range(len(self.split))) if towers is None else list(towers)
        every = tuple(range(len(self.split)))
        self.subsets = [tuple(s) for s in (subsets or [every] * len(self.blocks))]
        self.sphere = latent_space == "sphere"
        head = "none" if self.sphere else latent_space
        kwargs = {
            "layer_norm": layer_norm,
            "box_squash": box_squash,
            "head_batch_norm": head_batch_norm,
        }
        first_view = {}
        for k, t in enumerate(self.towers):
            first_view.setdefault(t, k)
        self.tower_list = nn.ModuleList(
            MLPTower(
                self.split[first_view[t]],
                n_components,
                tuple(hidden_layer_sizes),
                activation,
                head,
                **kwargs,
            )
            for t in sorted(first_view)
        )

    def _columns(self):
        stops = torch.tensor(self.split).cumsum(0).tolist()
        return [(stop - w, stop) for w, stop in zip(self.split, stops)]

    def _heads(self, h):
        """Normalise each content block on its own (sphere)."""
        if not self.sphere:
            return h
        parts = [nn.functional.normalize(h[:, a:b], dim=-1) for a, b in self.blocks]
        stop = self.blocks[-1][1]
        if stop < h.shape[1]:
            parts.append(h[:, stop:])
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def encode(self, X_m, view=0):
        """Encode one view alone.

        Parameters
        ----------
        X_m : torch.Tensor of shape (n_samples, n_features_m)
            Observations of one view.
        view : int, default=0
            Which view (its tower).

        Returns
        -------
        z : torch.Tensor of shape (n_samples, n_components)
            Representations.
        """
        return self._heads(self.tower_list[self.towers[view]](X_m))

    def forward(self, X):
        """Encode every view of a stacked batch.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_features)
            Stacked observations ``[x_1 | ... | x_K]``.

        Returns
        -------
        zs : tuple of K torch.Tensor of shape (n_samples, n_components)
            Representations of every view.
        """
        return tuple(
            self.encode(X[:, a:b], k) for k, (a, b) in enumerate(self._columns())
        )

    def set_standardization(self, X):
        """Store each tower's input statistics from a stacked tensor ``X``.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_features)
            Stacked observations ``[x_1 | ... | x_K]``.
        """
        self._set_moments(X.mean(dim=0), X.std(dim=0))

    def _set_moments(self, mean, std):
        """Per-feature moments of the stacked columns; a shared tower gets the
        moments of its views' columns pooled (equal row counts)."""
        mean, std = torch.as_tensor(mean), torch.as_tensor(std)
        columns = self._columns()
        for t, tower in enumerate(self.tower_list):
            views = [k for k, tk in enumerate(self.towers) if tk == t]
            means = torch.stack([mean[slice(*columns[k])] for k in views])
            stds = torch.stack([std[slice(*columns[k])] for k in views])
            pooled = means.mean(dim=0)
            var = (stds**2 + (means - pooled) ** 2).mean(dim=0)
            tower._set_moments(pooled, var.sqrt())

    def _set_whitening(self, mean, *matrices):
        """Store the stacked mean and one whitening matrix per view (one
        tower per view)."""
        for k, (a, b) in enumerate(self._columns()):
            self.tower_list[self.towers[k]]._set_whitening(mean[a:b], matrices[k])


class SubsetInfoNCE(SymmetricInfoNCE):
    r"""Symmetric InfoNCE summed over the view pairs of subsets of views.

    For every subset :math:`S` of views with content block :math:`B_S`
    (columns of the representation), the symmetric InfoNCE of
    :class:`SymmetricInfoNCE` is averaged over the pairs :math:`k < l` of
    :math:`S` on the block's columns; the loss is the mean over subsets:

    .. math::

        L = \frac{1}{|\mathcal S|} \sum_{S \in \mathcal S}
            \binom{|S|}{2}^{-1} \sum_{k < l \in S}
            L_{\mathrm{InfoNCE}}\bigl(z_k[:, B_S], z_l[:, B_S]\bigr).

    One temperature serves every block. Under a :mod:`torch.distributed`
    process group every pair's loss gathers its negatives from all
    processes, as :class:`SymmetricInfoNCE` does.

    Parameters
    ----------
    subsets : list of tuple of int
        View indices of every subset (at least 2 views each).
    blocks : list of (int, int)
        ``(start, stop)`` columns of every subset's content block.
    temperature : float, default=0.2
        Initial temperature.
    learn_temperature : bool, default=False
        Whether :math:`\log\tau` is trained.
    similarity : {"cosine", "lp"}, default="cosine"
        Similarity of the blocks (cosine expects L2-normalised blocks).
    p : float, default=1.0
        Order of the norm for ``similarity="lp"``.

    Examples
    --------
    >>> import torch
    >>> from sklcm.nn import SubsetInfoNCE
    >>> loss = SubsetInfoNCE([(0, 1), (0, 1, 2)], [(0, 2), (2, 4)])
    >>> zs = [torch.nn.functional.normalize(torch.randn(8, 4), dim=1)] * 3
    >>> bool(loss(*zs) < loss(zs[0], zs[1].flip(0), zs[2]))
    True
    """

    def __init__(
        self,
        subsets,
        blocks,
        temperature=0.2,
        learn_temperature=False,
        similarity="cosine",
        p=1.0,
    ):
        super().__init__(temperature, learn_temperature, similarity, p)
        if len(subsets) != len(blocks):
            raise ValueError(
                f"got {len(subsets)} subsets but {len(blocks)} content blocks."
            )
        self.subsets = [tuple(s) for s in subsets]
        self.blocks = [tuple(b) for b in blocks]

    def forward(self, *zs):
        """Compute the loss of a batch.

        Parameters
        ----------
        *zs : torch.Tensor of shape (N, n_components)
            Representations of every view.

        Returns
        -------
        loss : torch.Tensor of shape ()
            Mean over subsets of the mean pair loss on the subset's block.
        """
        losses = []
        for subset, (a, b) in zip(self.subsets, self.blocks):
            pair = [
                super(SubsetInfoNCE, self).forward(zs[k][:, a:b], zs[m][:, a:b])
                for k, m in combinations(subset, 2)
            ]
            losses.append(torch.stack(pair).mean())
        return torch.stack(losses).mean()
