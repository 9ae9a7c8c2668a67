"""Argument validation of sklcm.nn.SymmetricInfoNCE."""

import math

import numpy as np
import pytest
import torch

from sklcm.nn import SymmetricInfoNCE


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"similarity": "cosin"}, r"must be one of .* Did you mean 'cosine'"),
        ({"similarity": "L1"}, r"similarity must be one of \['cosine', 'lp'\]"),
        ({"similarity": None}, "similarity must be one of"),
        ({"temperature": 0.0}, "temperature must be a positive finite float"),
        ({"temperature": -0.1}, "temperature must be a positive finite float"),
        ({"temperature": math.inf}, "temperature must be a positive finite float"),
        ({"temperature": math.nan}, "temperature must be a positive finite float"),
        ({"temperature": "auto"}, "temperature must be a positive finite float"),
        ({"temperature": True}, "temperature must be a positive finite float"),
        ({"learn_temperature": "yes"}, "learn_temperature must be True or False"),
        ({"learn_temperature": 1}, "learn_temperature must be True or False"),
        ({"p": 0.0}, "p must be a positive float or inf"),
        ({"p": -1}, "p must be a positive float or inf"),
        ({"p": "1"}, "p must be a positive float or inf"),
    ],
)
def test_symmetric_infonce_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SymmetricInfoNCE(**kwargs)


def test_symmetric_infonce_accepts_numpy_scalars_by_value():
    loss = SymmetricInfoNCE(
        np.float32(0.5), np.True_, similarity=np.str_("lp"), p=np.int64(2)
    )
    assert isinstance(loss.log_temperature, torch.nn.Parameter)
    assert loss.temperature == pytest.approx(0.5)
    assert loss.similarity == "lp" and loss.p == 2.0
    fixed = SymmetricInfoNCE(0.5, np.False_)
    assert not isinstance(fixed.log_temperature, torch.nn.Parameter)
    u = torch.eye(3)
    expected = -torch.cdist(u, u, p=2.0) / 0.5
    torch.testing.assert_close(loss.logits(u, u), expected)


def test_symmetric_infonce_max_norm_similarity():
    loss = SymmetricInfoNCE(1.0, similarity="lp", p=math.inf)
    u, v = torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, -3.0]])
    assert float(loss.logits(u, v)) == pytest.approx(-3.0)
