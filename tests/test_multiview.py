"""Tests for the K-view generator and the ViewSplitter/ViewStacker transformers."""

import pickle

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from sklcm.datasets import (
    InvertibleMLPMixing,
    MultiviewLatentSampler,
    make_latent_partial_causal,
    make_multiview_latents,
)

# multiview-crl's numerical study (main_numerical.py, --S-k), by hand.
CRL_VIEWS = ((0, 1, 2, 3, 4), (0, 1, 2, 4, 5), (0, 1, 2, 3, 5), (0, 1, 3, 4, 5))
CRL_SHARED = {
    (0, 1): (0, 1, 2, 4),
    (0, 2): (0, 1, 2, 3),
    (0, 3): (0, 1, 3, 4),
    (1, 2): (0, 1, 2, 5),
    (1, 3): (0, 1, 4, 5),
    (2, 3): (0, 1, 3, 5),
    (0, 1, 2): (0, 1, 2),
    (0, 1, 3): (0, 1, 4),
    (0, 2, 3): (0, 1, 3),
    (1, 2, 3): (0, 1, 5),
    (0, 1, 2, 3): (0, 1),
}


def _blocks(X, split):
    stops = np.cumsum(split)
    return [X[:, stop - width : stop] for stop, width in zip(stops, split)]


def test_default_is_four_views_over_six_latents():
    X, y, info = make_multiview_latents(30, random_state=0, return_info=True)
    assert X.shape == (30, 20) and y.shape == (30, 6) and X.dtype == np.float64
    assert info.view_latents == CRL_VIEWS
    assert info.split == [5, 5, 5, 5] and info.n_features == (5, 5, 5, 5)
    assert (info.n_views, info.n_latents, info.n_specific) == (4, 6, (0, 0, 0, 0))
    assert info.shared_latents == CRL_SHARED
    assert list(info.shared_latents) == list(CRL_SHARED)  # size, then lexicographic
    assert info.latent_views == (
        (0, 1, 2, 3),
        (0, 1, 2, 3),
        (0, 1, 2),
        (0, 2, 3),
        (0, 1, 3),
        (1, 2, 3),
    )
    assert all(isinstance(m, InvertibleMLPMixing) for m in info.mixings)
    assert isinstance(info.sampler, MultiviewLatentSampler)
    assert len(make_multiview_latents(30, random_state=0)) == 2


@pytest.mark.parametrize(
    "view_latents, shared, latent_views",
    [
        ([[0], [0]], {(0, 1): (0,)}, ((0, 1),)),
        # a ring: each pair shares one latent, the triple shares none
        (
            [[0, 1], [1, 2], [2, 0]],
            {(0, 1): (1,), (0, 2): (0,), (1, 2): (2,)},
            ((0, 2), (0, 1), (1, 2)),
        ),
        # view 1 and view 2 share nothing; latent 3 is view 2's alone
        (
            [[2, 0, 1], [1, 0], [3, 2]],
            {(0, 1): (0, 1), (0, 2): (2,)},
            ((0, 1), (0, 1), (0, 2), (2,)),
        ),
    ],
)
def test_shared_latents_on_hand_examples(view_latents, shared, latent_views):
    sampler = MultiviewLatentSampler(view_latents, random_state=0)
    assert sampler.shared_latents == shared
    assert sampler.latent_views == latent_views
    assert sampler.view_latents == tuple(tuple(v) for v in view_latents)


def test_views_are_their_mixings_of_their_latents_and_invert():
    view_latents = [[0, 1, 2], [2, 3], [0, 3, 1]]
    X, y, info = make_multiview_latents(
        200,
        view_latents=view_latents,
        n_specific=[1, 0, 2],
        n_features=[6, 2, 7],
        random_state=0,
        return_info=True,
    )
    assert X.shape == (200, 15) and info.split == [6, 2, 7]
    for k, x_k in enumerate(_blocks(X, info.split)):
        assert info.m_views[k].shape == (200, info.n_specific[k])
        inputs = np.hstack([y[:, view_latents[k]], info.m_views[k]])
        np.testing.assert_allclose(info.mixings[k](inputs), x_k)
        np.testing.assert_allclose(info.mixings[k].inverse(x_k), inputs, atol=1e-9)
        # the Jacobian of the mixing at a sample point has full column rank
        eps, z0 = 1e-6, inputs[0]
        jac = np.stack(
            [
                (info.mixings[k]((z0 + eps * e)[None]) - info.mixings[k](z0[None]))[0]
                / eps
                for e in np.eye(len(z0))
            ]
        )
        assert np.linalg.matrix_rank(jac, tol=1e-6) == len(z0)


def test_a_view_carries_nothing_of_the_latents_it_does_not_observe():
    # Latents are independent, so a view must be independent of every latent
    # outside its subset: no linear regression recovers one, while the view's
    # own latents come back exactly through the inverse mixing.
    X, y, info = make_multiview_latents(4000, random_state=0, return_info=True)
    for k, x_k in enumerate(_blocks(X, info.split)):
        features = np.hstack([x_k, np.abs(x_k)])  # a nonlinear feature too
        for j in range(info.n_latents):
            r2 = LinearRegression().fit(features, y[:, j]).score(features, y[:, j])
            if j in info.view_latents[k]:
                assert r2 > 0.5
            else:
                assert r2 < 0.01


def test_determinism_and_seed_dependence():
    X0, y0 = make_multiview_latents(40, n_specific=1, random_state=3)
    X1, y1 = make_multiview_latents(40, n_specific=1, random_state=3)
    X2, _ = make_multiview_latents(40, n_specific=1, random_state=4)
    np.testing.assert_array_equal(X0, X1)
    np.testing.assert_array_equal(y0, y1)
    assert not np.allclose(X0, X2)


def test_sampler_draws_fresh_samples_with_the_same_mixings():
    sampler = MultiviewLatentSampler(n_specific=2, random_state=0)
    X1, y1, info1 = sampler.sample(100, random_state=1, return_info=True)
    X2, y2, info2 = sampler.sample(100, random_state=2, return_info=True)
    assert not np.allclose(y1, y2)
    assert info1.mixings is info2.mixings is sampler.mixings
    for k, x_k in enumerate(_blocks(X2, sampler.split)):
        inputs = np.hstack([y2[:, sampler.view_latents[k]], info2.m_views[k]])
        np.testing.assert_allclose(sampler.mixings[k].inverse(x_k), inputs, atol=1e-9)
    X1_again, _ = sampler.sample(100, random_state=1)
    np.testing.assert_array_equal(X1, X1_again)
    # a Generator streams different batches from one model
    rng = np.random.default_rng(0)
    assert not np.allclose(sampler.sample(5, rng)[0], sampler.sample(5, rng)[0])
    clone = pickle.loads(pickle.dumps(sampler))
    np.testing.assert_array_equal(
        clone.sample(10, random_state=5)[0], sampler.sample(10, random_state=5)[0]
    )


@pytest.mark.parametrize("conditional", ["normal", "laplace"])
def test_two_views_reproduce_the_two_view_generator(conditional):
    common = dict(
        conditional=conditional,
        concentration=5.0,
        n_specific=(1, 2),
        n_features=(5, 6),
        random_state=3,
        return_info=True,
    )
    X, y, info = make_multiview_latents(50, view_latents=[range(3), range(3)], **common)
    X2, y2, info2 = make_latent_partial_causal(
        50, n_latents=3, latent_space="real", marginal="normal", **common
    )
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(info.z_views[1], info2.z_t)
    assert info.split == [info2.split, X.shape[1] - info2.split]
    assert info.shared_latents == {(0, 1): (0, 1, 2)}


@pytest.mark.parametrize("conditional, std", [("normal", 1.0), ("laplace", 2**0.5)])
def test_noisy_copies_per_view(conditional, std):
    X, y, info = make_multiview_latents(
        20_000,
        view_latents=[[0, 1], [1, 2], [0, 2]],
        conditional=conditional,
        concentration=4.0,
        random_state=0,
        return_info=True,
    )
    assert info.z_views[0] is y
    noises = [info.z_views[k] - y for k in (1, 2)]
    for noise in noises:
        np.testing.assert_allclose(noise.std(axis=0), std / 4.0, rtol=0.03)
    assert abs(np.corrcoef(noises[0][:, 0], noises[1][:, 0])[0, 1]) < 0.03
    _, y_exact, info_exact = make_multiview_latents(
        10, view_latents=[[0, 1], [1, 2]], random_state=0, return_info=True
    )
    assert all(z is y_exact for z in info_exact.z_views)


@pytest.mark.parametrize(
    "marginal, low, variance",
    [("normal", -np.inf, 1.0), ("uniform", -1.0, 1 / 3), ("laplace", -np.inf, 2.0)],
)
def test_marginals_are_independent_with_the_right_law(marginal, low, variance):
    _, y, info = make_multiview_latents(
        20_000, marginal=marginal, n_specific=1, random_state=0, return_info=True
    )
    both = np.hstack([y, info.m_views[0]])
    assert both.min() >= low and (low == -np.inf or both.max() <= 1.0)
    np.testing.assert_allclose(both.var(axis=0), variance, rtol=0.06)
    corr = np.corrcoef(both.T) - np.eye(both.shape[1])
    assert np.abs(corr).max() < 0.03


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"view_latents": [[0, 1]]}, ValueError, "at least 2 views, got 1"),
        ({"view_latents": []}, ValueError, "at least 2 views, got 0"),
        ({"view_latents": [[0, 1], []]}, ValueError, "view 1 observes no latent"),
        ({"view_latents": [[0, 1], [-1]]}, ValueError, "view 1 must be >= 0"),
        ({"view_latents": [[0, 1], [1.5]]}, ValueError, "view 1 must be ints"),
        ({"view_latents": [[0, 1], [True]]}, ValueError, "view 1 must be ints"),
        ({"view_latents": [[0, 1], [1, 1]]}, ValueError, "view 1 lists a latent twice"),
        ({"view_latents": [[0, 1], [4]]}, ValueError, r"latents \[2, 3\].*no view"),
        ({"view_latents": [[0, 1], 2]}, ValueError, "list of lists.*view 1 is 2"),
        ({"view_latents": "ab"}, ValueError, "view_latents"),
        ({"marginal": "cauchy"}, ValueError, "marginal"),
        ({"conditional": "vmf"}, ValueError, "conditional"),
        ({"concentration": 0.0}, ValueError, "concentration"),
        ({"n_specific": -1}, ValueError, "n_specific"),
        ({"n_specific": [1, 2]}, ValueError, "n_specific.*list of 4 ints"),
        ({"n_specific": [1, 1, 1, -1]}, ValueError, "n_specific.*>= 0"),
        ({"n_specific": [1, 1, 1, 0.5]}, ValueError, "n_specific.*list of 4 ints"),
        ({"n_features": 3}, ValueError, "n_features.*view 0 is 3.*5 latents"),
        ({"n_features": [5, 5, 5, 4]}, ValueError, "n_features.*view 3 is 4"),
        ({"n_features": [5, 5, 5]}, ValueError, "n_features.*list of 4 ints"),
        ({"n_mixing_layers": 0}, ValueError, "n_mixing_layers"),
        ({"random_state": "seed"}, ValueError, "random_state"),
        ({"return_info": "yes"}, ValueError, "return_info"),
    ],
)
def test_make_multiview_latents_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        make_multiview_latents(**{"n_samples": 10, **params})


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_samples": 3.0}, TypeError, "n_samples"),
        ({"n_samples": 3, "random_state": "x"}, TypeError, "random_state"),
    ],
)
def test_sampler_sample_bad_arguments(kwargs, error, match):
    sampler = MultiviewLatentSampler([[0], [0]], random_state=0)
    with pytest.raises(error, match=match):
        sampler.sample(**kwargs)
