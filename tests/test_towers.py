"""Tests of the torch towers in sklcm.nn."""

import pickle

import numpy as np
import pytest
import torch
from torch import nn

from sklcm.nn import BoxHead, MLPTower, SphereHead, TwoTowerMLP


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(head="spher"), "head must be one of"),
        (dict(activation="swish"), "activation must be one of"),
    ],
)
def test_typos_raise_clear_errors(kwargs, match):
    """Old bugs: an unknown head silently gave no head, an unknown activation
    a bare KeyError."""
    params = {"hidden_layer_sizes": (4,), "activation": "relu", **kwargs}
    with pytest.raises(ValueError, match=match):
        MLPTower(3, 2, **params)


@pytest.mark.parametrize(
    "head, kind", [("sphere", SphereHead), ("box", BoxHead), ("none", nn.Identity)]
)
def test_heads(head, kind):
    tower = MLPTower(3, 2, hidden_layer_sizes=(4,), activation="gelu", head=head)
    assert isinstance(tower.head, kind)


def test_linear_tower_is_one_affine_map():
    torch.manual_seed(0)
    tower = MLPTower(3, 2, hidden_layer_sizes=(), activation="relu", head="none")
    assert [type(m) for m in tower.mlp] == [nn.Linear]
    x = torch.randn(5, 3)
    a, b = tower(x), tower(2 * x)
    # affine: f(2x) - f(x) = f(x) - f(0)
    torch.testing.assert_close(b - a, a - tower(torch.zeros(1, 3)))


def test_standardization_matches_torch_moments_and_towers_pickle():
    torch.manual_seed(0)
    X = torch.randn(50, 5) * 3 + 1
    module = TwoTowerMLP(split=2, n_features=5, n_components=2, hidden_layer_sizes=(4,))
    module.set_standardization(X)
    torch.testing.assert_close(module.tower_t.mean, X[:, 2:].mean(0))
    torch.testing.assert_close(module.tower_t.scale, X[:, 2:].std(0))
    loaded = pickle.loads(pickle.dumps(module))  # leaky_relu is no lambda
    torch.testing.assert_close(loaded(X)[0], module(X)[0])


def test_layer_norm_normalises_every_hidden_layer():
    plain = MLPTower(5, 2, hidden_layer_sizes=(8, 6), activation="relu")
    normed = MLPTower(5, 2, (8, 6), "relu", layer_norm=True)
    norms = [m for m in normed.mlp if isinstance(m, nn.LayerNorm)]
    assert [n.normalized_shape for n in norms] == [(8,), (6,)]
    assert not any(isinstance(m, nn.LayerNorm) for m in plain.mlp)
    # the activation sees normalised pre-activations
    h = normed.mlp[:2](torch.randn(50, 5) * 100)
    torch.testing.assert_close(h.mean(dim=1), torch.zeros(50), atol=1e-5, rtol=0)


def test_softclamp_box_head_is_near_the_identity_inside_and_bounded_outside():
    head = BoxHead(1, squash="softclamp")
    inside = torch.linspace(-0.3, 0.3, 7)[:, None]
    torch.testing.assert_close(head(inside), inside + 0.5, atol=0.013, rtol=0)
    far = head(torch.tensor([[-50.0], [50.0]]))[:, 0]
    torch.testing.assert_close(far, torch.tensor([0.0, 1.0]), atol=1e-6, rtol=0)
    z = head(torch.linspace(-5, 5, 1001)[:, None])[:, 0]
    assert bool((z >= -1e-6).all() and (z <= 1 + 1e-6).all())
    assert bool((head(torch.linspace(-1, 1, 201)[:, None]).diff(dim=0) > 0).all())
    with torch.no_grad():
        head.log_bound.fill_(np.log(3.0))
    torch.testing.assert_close(head(inside), 3 * (inside + 0.5), atol=0.04, rtol=0)
    with pytest.raises(ValueError, match="squash must be one of"):
        BoxHead(2, squash="tanh")


def test_real_head_is_unbounded_and_batch_norm_centres_before_the_head():
    torch.manual_seed(0)
    tower = MLPTower(3, 2, (8,), "relu", head="real", head_batch_norm=True)
    assert isinstance(tower.head[0], nn.BatchNorm1d)
    assert isinstance(tower.head[1], nn.Identity)
    x = torch.randn(64, 3) * 5
    z = tower(x)  # training mode: batch statistics, no learned affine map
    torch.testing.assert_close(z.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        z.std(0, unbiased=False), torch.ones(2), atol=1e-3, rtol=0
    )
    tower.eval()  # evaluation: running statistics, one row at a time works
    assert tower(x[:1]).shape == (1, 2)
