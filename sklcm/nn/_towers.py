"""Encoder towers: standardising MLPs with sphere or box output heads."""
# License: BSD 3 clause

import functools

import torch
from torch import nn

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": functools.partial(nn.LeakyReLU, 0.01),
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
}


class SphereHead(nn.Module):
    """Project representations onto the unit hypersphere (L2 normalisation).

    Examples
    --------
    >>> import torch
    >>> from sklcm.nn import SphereHead
    >>> z = SphereHead()(torch.tensor([[3.0, 4.0]]))
    >>> [round(float(v), 2) for v in z[0]]
    [0.6, 0.8]
    """

    def forward(self, h):
        """Divide each row by its Euclidean norm.

        Parameters
        ----------
        h : torch.Tensor of shape (n_samples, n_components)
            Unnormalised representations.

        Returns
        -------
        z : torch.Tensor of shape (n_samples, n_components)
            Rows of unit norm.
        """
        return nn.functional.normalize(h, dim=-1)


def _soft_clamp(h, sharpness=10.0):
    """About ``h + 1/2`` for ``|h| < 1/2``; saturates smoothly to 0 and 1 outside.

    Centred like the sigmoid (``h = 0`` maps to the middle of the box): a
    tower's initial outputs, near 0, start on the linear part instead of at a
    kink, where a coordinate could drift out and stop receiving gradient.
    """
    u = h + 0.5
    softplus = nn.functional.softplus
    above, below = softplus(sharpness * (u - 1)), softplus(-sharpness * u)
    return u - (above - below) / sharpness


_SQUASHES = {"sigmoid": torch.sigmoid, "softclamp": _soft_clamp}


class BoxHead(nn.Module):
    """Map representations into a box ``[0, b]^d`` with learnable bounds ``b``.

    Parameters
    ----------
    n_components : int
        Output dimension ``d``.
    squash : {"sigmoid", "softclamp"}, default="sigmoid"
        Map of each coordinate into ``(0, 1)`` before the scaling by ``b``.
        ``"sigmoid"`` is the logistic function. ``"softclamp"`` is a smooth
        clamp of ``u = h + 1/2`` to ``[0, 1]``, ``u - softplus(10 (u - 1)) /
        10 + softplus(-10 u) / 10``: within 0.013 of ``h + 1/2`` for ``|h| <=
        0.3``, saturating outside ``|h| < 1/2``, so a uniform latent needs no
        steep logit from the tower near the box's faces. Both map ``h = 0``
        to the middle of the box.

    Examples
    --------
    >>> import torch
    >>> from sklcm.nn import BoxHead
    >>> head = BoxHead(3)
    >>> z = head(torch.randn(5, 3))
    >>> bool((z > 0).all() and (z < 1).all())
    True
    >>> z = BoxHead(1, squash="softclamp")(torch.tensor([[0.0], [-9.0], [9.0]]))
    >>> [round(float(v), 3) for v in z[:, 0]]
    [0.5, 0.0, 1.0]
    """

    def __init__(self, n_components, squash="sigmoid"):
        if squash not in _SQUASHES:
            raise ValueError(
                f"squash must be one of {sorted(_SQUASHES)}, got {squash!r}."
            )
        super().__init__()
        self.squash = squash
        # log-parametrised so that the bound stays positive; initial bound 1
        self.log_bound = nn.Parameter(torch.zeros(n_components))

    def forward(self, h):
        """Squash each coordinate into ``(0, b_j)`` and scale it by ``b_j``.

        Parameters
        ----------
        h : torch.Tensor of shape (n_samples, n_components)
            Unbounded representations.

        Returns
        -------
        z : torch.Tensor of shape (n_samples, n_components)
            Representations inside the box.
        """
        return _SQUASHES[self.squash](h) * self.log_bound.exp()


class MLPTower(nn.Module):
    """One modality's encoder: standardise, then a multi-layer perceptron.

    Parameters
    ----------
    in_features : int
        Input dimension.
    n_components : int
        Output dimension.
    hidden_layer_sizes : tuple of int
        Widths of the hidden layers; ``()`` gives a linear tower (one affine
        map, then the head).
    activation : str
        One of ``"relu"``, ``"leaky_relu"``, ``"gelu"``, ``"silu"``, ``"elu"``,
        ``"tanh"``.
    head : {"sphere", "box", "real", "none"}, default="sphere"
        Output head: L2 normalisation, a bounded box, or none (``"real"``
        and ``"none"`` are the same: unbounded outputs).
    layer_norm : bool, default=False
        Whether each hidden layer normalises its pre-activations
        (:class:`torch.nn.LayerNorm`) before the activation.
    box_squash : {"sigmoid", "softclamp"}, default="sigmoid"
        Squashing function of the box head (see :class:`BoxHead`).
    head_batch_norm : bool, default=False
        Whether the perceptron's output is batch-normalised
        (:class:`torch.nn.BatchNorm1d` without affine parameters: centred and
        scaled per coordinate with batch statistics in training, running
        statistics in evaluation) before the head. Centring makes the image
        of the data surround the origin, so a sphere head on a circle
        (``n_components=2``) can wind once around it instead of folding; it
        also fixes the scale of an unbounded (``"none"``) head.

    Examples
    --------
    >>> import torch
    >>> from sklcm.nn import MLPTower
    >>> tower = MLPTower(5, 2, hidden_layer_sizes=(16,), activation="relu")
    >>> tuple(tower(torch.randn(4, 5)).shape)
    (4, 2)
    """

    def __init__(
        self,
        in_features,
        n_components,
        hidden_layer_sizes,
        activation,
        head="sphere",
        layer_norm=False,
        box_squash="sigmoid",
        head_batch_norm=False,
    ):
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}."
            )
        if head not in _HEADS:
            raise ValueError(
                f"head must be one of {sorted(_HEADS)}, got {head!r}; use "
                "head='none' for raw outputs."
            )
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_features))
        self.register_buffer("scale", torch.ones(in_features))
        # Optional (in_features, in_features) whitening matrix that replaces
        # the per-feature scale (see ``_set_whitening``).
        self.register_buffer("whitening", None)
        widths = [in_features, *hidden_layer_sizes]
        layers = []
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers.append(nn.Linear(w_in, w_out))
            if layer_norm:
                layers.append(nn.LayerNorm(w_out))
            layers.append(_ACTIVATIONS[activation]())
        layers.append(nn.Linear(widths[-1], n_components))
        self.mlp = nn.Sequential(*layers)
        self.head = _HEADS[head](n_components, box_squash)
        if head_batch_norm:
            self.head = nn.Sequential(
                nn.BatchNorm1d(n_components, affine=False), self.head
            )

    @torch.no_grad()
    def set_standardization(self, X):
        """Store per-feature mean and standard deviation of ``X``.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, in_features)
            Data whose statistics standardise every later input.
        """
        self._set_moments(X.mean(dim=0), X.std(dim=0))

    @torch.no_grad()
    def _set_moments(self, mean, std):
        """Store a per-feature mean and standard deviation (array-likes)."""
        self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype))
        std = torch.as_tensor(std, dtype=self.scale.dtype)
        self.scale.copy_(torch.where(std > 1e-12, std, torch.ones_like(std)))
        self.whitening = None

    @torch.no_grad()
    def _set_whitening(self, mean, matrix):
        """Store a mean and a matrix: inputs become ``(x - mean) @ matrix``."""
        self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype))
        self.scale.fill_(1.0)
        self.whitening = torch.as_tensor(matrix, dtype=self.mean.dtype).to(
            self.mean.device
        )

    def forward(self, x):
        """Standardise ``x``, apply the perceptron, then the head.

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, in_features)
            Observations of one modality.

        Returns
        -------
        z : torch.Tensor of shape (n_samples, n_components)
            Representations.
        """
        if self.whitening is None:
            return self.head(self.mlp((x - self.mean) / self.scale))
        return self.head(self.mlp((x - self.mean) @ self.whitening))


# Head factories, called with (n_components, box_squash).
_HEADS = {
    "sphere": lambda n_components, squash: SphereHead(),
    "box": BoxHead,
    "none": lambda n_components, squash: nn.Identity(),
    # the unbounded geometry of the encoder (``latent_space="real"``)
    "real": lambda n_components, squash: nn.Identity(),
}


class TwoTowerMLP(nn.Module):
    """Two MLP towers, one per modality, reading one stacked ``[x | t]`` tensor.

    Parameters
    ----------
    split : int
        Number of leading columns that belong to modality x.
    n_features : int
        Total number of input columns.
    n_components : int
        Representation size of both towers.
    hidden_layer_sizes : tuple of int, default=(256, 256, 256)
        Hidden widths of each tower.
    activation : str, default="leaky_relu"
        Hidden activation.
    latent_space : {"sphere", "box", "real", "none"}, default="sphere"
        Output head of both towers (``"real"``: none, unbounded outputs).
    layer_norm : bool, default=False
        Layer normalisation in the hidden layers of both towers.
    box_squash : {"sigmoid", "softclamp"}, default="sigmoid"
        Squashing function of box heads (see :class:`BoxHead`).
    head_batch_norm : bool, default=False
        Batch normalisation before the head of both towers (see
        :class:`MLPTower`).

    Examples
    --------
    >>> import torch
    >>> from sklcm.nn import TwoTowerMLP
    >>> module = TwoTowerMLP(split=3, n_features=5, n_components=2)
    >>> z_x, z_t = module(torch.zeros(4, 5))
    >>> tuple(z_x.shape), tuple(z_t.shape)
    ((4, 2), (4, 2))
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
    ):
        super().__init__()
        self.split = split
        args = (n_components, tuple(hidden_layer_sizes), activation, latent_space)
        kwargs = {
            "layer_norm": layer_norm,
            "box_squash": box_squash,
            "head_batch_norm": head_batch_norm,
        }
        self.tower_x = MLPTower(split, *args, **kwargs)
        self.tower_t = MLPTower(n_features - split, *args, **kwargs)

    def set_standardization(self, X):
        """Store each tower's input statistics from a stacked tensor ``X``.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_features)
            Stacked observations ``[x | t]``.
        """
        self._set_moments(X.mean(dim=0), X.std(dim=0))

    def _set_moments(self, mean, std):
        """Store per-feature moments of the stacked ``[x | t]`` columns."""
        self.tower_x._set_moments(mean[: self.split], std[: self.split])
        self.tower_t._set_moments(mean[self.split :], std[self.split :])

    def _set_whitening(self, mean, matrix_x, matrix_t):
        """Store the stacked mean and one whitening matrix per tower."""
        self.tower_x._set_whitening(mean[: self.split], matrix_x)
        self.tower_t._set_whitening(mean[self.split :], matrix_t)

    def encode(self, X_m, modality="x"):
        """Encode one modality alone.

        Parameters
        ----------
        X_m : torch.Tensor of shape (n_samples, n_features_m)
            Observations of one modality.
        modality : {"x", "t"}, default="x"
            Which tower to apply.

        Returns
        -------
        z : torch.Tensor of shape (n_samples, n_components)
            Representations.
        """
        return (self.tower_x if modality == "x" else self.tower_t)(X_m)

    def forward(self, X):
        """Encode both modalities of a stacked batch.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_features)
            Stacked observations ``[x | t]``.

        Returns
        -------
        z_x, z_t : tuple of torch.Tensor of shape (n_samples, n_components)
            Representations of x and of t.
        """
        return self.tower_x(X[:, : self.split]), self.tower_t(X[:, self.split :])
