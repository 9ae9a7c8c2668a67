"""Tests for make_latent_partial_causal and LatentPartialCausalSampler."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
from scipy import special, stats

from sklcm.datasets import (
    InvertibleMLPMixing,
    LatentPartialCausalSampler,
    make_latent_partial_causal,
)


def test_default_shapes_and_info():
    X, y, info = make_latent_partial_causal(50, random_state=0, return_info=True)
    assert X.shape == (50, 6) and y.shape == (50, 3)
    assert X.dtype == np.float64
    assert info.split == 3 and info.n_features == (3, 3)
    assert info.n_specific == (0, 0)
    assert info.m_x.shape == (50, 0) and info.z_t.shape == (50, 3)
    assert isinstance(info.mixing_x, InvertibleMLPMixing)
    assert isinstance(info.sampler, LatentPartialCausalSampler)
    for key in (
        "n_latents",
        "latent_space",
        "marginal",
        "conditional",
        "concentration",
        "beta",
        "n_mixing_layers",
    ):
        assert info[key] == getattr(info.sampler, key)
    out = make_latent_partial_causal(50, random_state=0)
    assert len(out) == 2


@pytest.mark.parametrize(
    "latent_space, marginal, conditional",
    [
        ("sphere", "uniform", "vmf"),
        ("box", "uniform", "laplace"),
        ("real", "normal", "laplace"),
    ],
)
def test_auto_resolution(latent_space, marginal, conditional):
    _, _, info = make_latent_partial_causal(
        10, latent_space=latent_space, random_state=0, return_info=True
    )
    assert (info.marginal, info.conditional) == (marginal, conditional)


def test_unequal_and_larger_n_features():
    X, y, info = make_latent_partial_causal(
        300,
        n_latents=3,
        n_specific=(2, 1),
        n_features=(7, 12),
        random_state=0,
        return_info=True,
    )
    assert X.shape == (300, 19) and info.split == 7
    assert info.m_x.shape == (300, 2) and info.m_t.shape == (300, 1)
    np.testing.assert_allclose(
        info.mixing_x.inverse(X[:, :7]), np.hstack([y, info.m_x]), atol=1e-9
    )
    np.testing.assert_allclose(
        info.mixing_t.inverse(X[:, 7:]), np.hstack([info.z_t, info.m_t]), atol=1e-9
    )


def test_info_mixings_reproduce_x_and_t():
    X, y, info = make_latent_partial_causal(
        100, n_latents=4, n_specific=2, random_state=0, return_info=True
    )
    np.testing.assert_allclose(
        info.mixing_x(np.hstack([y, info.m_x])), X[:, : info.split]
    )
    np.testing.assert_allclose(
        info.mixing_t(np.hstack([info.z_t, info.m_t])), X[:, info.split :]
    )


def test_determinism_and_seed_dependence():
    a = make_latent_partial_causal(100, n_specific=1, random_state=0)
    b = make_latent_partial_causal(100, n_specific=1, random_state=0)
    c = make_latent_partial_causal(100, n_specific=1, random_state=1)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.allclose(a[0], c[0])
    assert not np.allclose(a[1], c[1])


def test_make_is_sampler_then_sample():
    X, y = make_latent_partial_causal(80, n_latents=5, random_state=7)
    rs = np.random.RandomState(7)
    sampler = LatentPartialCausalSampler(5, random_state=rs)
    X2, y2 = sampler.sample(80, random_state=rs)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


def test_sampler_draws_new_pairs_from_the_same_model():
    X, y, info = make_latent_partial_causal(
        100, n_latents=4, n_specific=(1, 2), random_state=0, return_info=True
    )
    X2, y2, info2 = info.sampler.sample(100, random_state=1, return_info=True)
    assert X2.shape == X.shape
    assert not np.allclose(y, y2)
    assert info2.mixing_x is info.mixing_x and info2.sampler is info.sampler
    np.testing.assert_allclose(
        info.mixing_x(np.hstack([y2, info2.m_x])), X2[:, : info.split]
    )
    np.testing.assert_allclose(
        info.mixing_t(np.hstack([info2.z_t, info2.m_t])), X2[:, info.split :]
    )


def test_sampler_streams_from_a_generator():
    sampler = LatentPartialCausalSampler(3, random_state=0)
    gen = np.random.default_rng(0)
    first, second = sampler.sample(20, gen)[0], sampler.sample(20, gen)[0]
    assert not np.allclose(first, second)
    again = sampler.sample(20, np.random.default_rng(0))[0]
    np.testing.assert_array_equal(first, again)


def test_one_seed_for_mixing_and_samples_gives_independent_streams():
    """Item 6: seeding the sampler and sample() with one int must not reuse bits.

    The first weight matrix of the x mixing is a column-normalised block of
    U(-1, 1) draws; box-uniform latents are U(-1, 1) draws too. Had both come
    from one stream, some block of the latents would equal that matrix.
    """
    d, n_blocks = 2, 200
    sampler = LatentPartialCausalSampler(d, latent_space="box", random_state=0)
    _, z = sampler.sample(n_blocks * d, random_state=0)
    blocks = z.reshape(n_blocks, d, d)
    blocks = blocks / np.linalg.norm(blocks, axis=1, keepdims=True)
    weight = sampler.mixing_x.weights_[0]
    assert not np.any(np.all(np.isclose(blocks, weight), axis=(1, 2)))
    # the same seeds stay reproducible, and a Generator still streams as is
    np.testing.assert_array_equal(z, sampler.sample(n_blocks * d, random_state=0)[1])
    same = LatentPartialCausalSampler(d, latent_space="box", random_state=0)
    np.testing.assert_array_equal(same.mixing_x.weights_[0], weight)
    chunks = list(sampler.stream(n_blocks * d, n_chunks=2, random_state=0))
    np.testing.assert_array_equal(chunks[0][1], z)
    assert not np.allclose(chunks[1][1], z)


def test_sampler_pickles():
    sampler = LatentPartialCausalSampler(
        4, latent_space="box", n_specific=1, n_features=(6, 7), random_state=0
    )
    clone = pickle.loads(pickle.dumps(sampler))
    for u, v in zip(sampler.sample(30, 3), clone.sample(30, 3)):
        np.testing.assert_array_equal(u, v)
    assert "latent_space='box'" in repr(clone)


def test_sphere_vmf_coupling_matches_theory():
    n, kappa = 5, 10.0
    _, y, info = make_latent_partial_causal(
        20_000, n_latents=n, concentration=kappa, random_state=0, return_info=True
    )
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(info.z_t, axis=1), 1.0)
    w = np.einsum("ij,ij->i", y, info.z_t)
    expected = special.ive(n / 2, kappa) / special.ive(n / 2 - 1, kappa)
    assert abs(w.mean() - expected) < 5 * w.std() / np.sqrt(w.size)


@pytest.mark.parametrize("marginal", ["uniform", "normal", "laplace"])
@pytest.mark.parametrize("conditional", ["vmf", "laplace", "normal", "gennorm"])
def test_sphere_latents_have_unit_norm(marginal, conditional):
    _, y, info = make_latent_partial_causal(
        200,
        n_latents=3,
        marginal=marginal,
        conditional=conditional,
        random_state=0,
        return_info=True,
    )
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(info.z_t, axis=1), 1.0)


def test_sphere_normal_marginal_is_not_uniform():
    _, y = make_latent_partial_causal(
        4000, latent_space="sphere", marginal="normal", random_state=0
    )
    assert y[:, 0].mean() > 0.3  # projected normal around the first axis
    np.testing.assert_allclose(y[:, 1:].mean(axis=0), 0.0, atol=0.05)


def _truncated_cdf(dist, x, low=-1.0, high=1.0):
    """CDF at ``x`` of the scipy distribution ``dist`` truncated to [low, high]."""
    return (dist.cdf(x) - dist.cdf(low)) / (dist.cdf(high) - dist.cdf(low))


def _ks_pvalue(u):
    """KS p-value of ``u`` (flattened) against U(0, 1)."""
    return stats.kstest(np.ravel(u), "uniform").pvalue


def test_box_uniform_marginal_and_truncated_laplace_conditional():
    """Each coordinate of z_t | z_x is Laplace(z_x, 1/concentration) truncated
    to [-1, 1]: its truncated CDF (probability integral transform) must be
    uniform. A clipped or renormalised-by-row draw would fail the KS test."""
    concentration = 0.5
    _, y, info = make_latent_partial_causal(
        20_000,
        n_latents=3,
        latent_space="box",
        concentration=concentration,
        n_specific=2,
        random_state=0,
        return_info=True,
    )
    uniform = stats.uniform(-1, 2)
    for z in (y, info.m_x, info.m_t):
        assert _ks_pvalue(uniform.cdf(z)) > 1e-3
    conditional = stats.laplace(loc=y, scale=1 / concentration)
    pit = _truncated_cdf(conditional, info.z_t)
    assert _ks_pvalue(pit) > 1e-3
    # the truncation matters: the untruncated Laplace CDF is far from uniform
    assert _ks_pvalue(conditional.cdf(info.z_t)) < 1e-6


def _truncated_laplace_cdf(x):
    return _truncated_cdf(stats.laplace(), x)


@pytest.mark.parametrize(
    "marginal, truncated_cdf",
    [("normal", stats.truncnorm(-1, 1).cdf), ("laplace", _truncated_laplace_cdf)],
)
def test_box_truncated_marginals(marginal, truncated_cdf):
    _, y = make_latent_partial_causal(
        20_000, n_latents=2, latent_space="box", marginal=marginal, random_state=0
    )
    assert y.min() >= -1 and y.max() <= 1
    assert _ks_pvalue(truncated_cdf(y)) > 1e-3
    # a clipped (not truncated) draw would put mass at the bounds
    assert np.mean(np.abs(y) == 1.0) == 0.0


@pytest.mark.parametrize("latent_space", ["sphere", "box", "real"])
@pytest.mark.parametrize("conditional", ["laplace", "normal", "gennorm"])
def test_larger_concentration_tightens_coupling(latent_space, conditional):
    gaps = []
    for concentration in (1.0, 10.0, 100.0):
        _, y, info = make_latent_partial_causal(
            2000,
            latent_space=latent_space,
            conditional=conditional,
            concentration=concentration,
            random_state=0,
            return_info=True,
        )
        gaps.append(np.mean((info.z_t - y) ** 2))
    assert gaps[0] > gaps[1] > gaps[2]


def test_real_noise_scale_is_inverse_concentration():
    _, y, info = make_latent_partial_causal(
        20_000,
        latent_space="real",
        conditional="normal",
        concentration=4.0,
        random_state=0,
        return_info=True,
    )
    assert np.std(info.z_t - y) == pytest.approx(0.25, rel=0.02)


def test_real_laplace_gives_independent_laplace_components():
    # The ICA corollary setting: independent, non-Gaussian latents.
    _, y, info = make_latent_partial_causal(
        50_000,
        n_latents=4,
        latent_space="real",
        marginal="laplace",
        random_state=0,
        return_info=True,
    )
    assert info.marginal == "laplace"
    np.testing.assert_allclose(y.var(axis=0), 2.0, rtol=0.05)  # Laplace(0, 1)
    np.testing.assert_allclose(stats.kurtosis(y, axis=0), 3.0, atol=0.4)
    off_diag = ~np.eye(4, dtype=bool)
    assert np.abs(np.corrcoef(y.T)[off_diag]).max() < 0.03
    assert np.abs(np.corrcoef(np.abs(y).T)[off_diag]).max() < 0.03


def test_specific_latents_are_normal_and_independent_of_z():
    _, y, info = make_latent_partial_causal(
        20_000, n_latents=3, n_specific=(2, 3), random_state=0, return_info=True
    )
    np.testing.assert_allclose(info.m_t.std(axis=0), 1.0, rtol=0.03)
    corr = np.corrcoef(np.hstack([y, info.m_x]).T)[:3, 3:]
    assert np.abs(corr).max() < 0.03


def test_one_latent_outside_the_sphere():
    X, y = make_latent_partial_causal(
        20, n_latents=1, latent_space="box", random_state=0
    )
    assert X.shape == (20, 2) and y.shape == (20, 1)


def test_datasets_does_not_import_torch():
    code = (
        "import sys, sklcm.datasets; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_samples": 2.5}, TypeError, "n_samples"),
        ({"n_latents": 0}, ValueError, "n_latents"),
        ({"n_latents": 1}, ValueError, "n_latents.*sphere"),
        ({"latent_space": "torus"}, ValueError, "latent_space"),
        ({"marginal": "cauchy"}, ValueError, "marginal"),
        ({"conditional": "student"}, ValueError, "conditional"),
        (
            {"latent_space": "real", "marginal": "uniform"},
            ValueError,
            "marginal.*unbounded",
        ),
        (
            {"latent_space": "box", "conditional": "vmf"},
            ValueError,
            "conditional.*sphere",
        ),
        ({"concentration": 0}, ValueError, "concentration"),
        ({"concentration": -1.0}, ValueError, "concentration"),
        ({"concentration": "high"}, TypeError, "concentration"),
        ({"beta": 0.0}, ValueError, "beta"),
        ({"n_specific": -1}, ValueError, "n_specific"),
        ({"n_specific": "two"}, ValueError, "n_specific"),
        ({"n_specific": (1, 2, 3)}, ValueError, "n_specific.*pair"),
        ({"n_specific": (1, -2)}, ValueError, "n_specific.*>= 0"),
        ({"n_specific": (1.5, 2)}, ValueError, "n_specific.*pair"),
        ({"n_features": 2}, ValueError, "n_features.*smaller"),
        ({"n_features": (3, 2)}, ValueError, "n_features.*modality t"),
        (
            {"n_specific": 2, "n_features": (4, 5)},
            ValueError,
            "n_features.*modality x.*5 latents",
        ),
        ({"n_features": (4,)}, ValueError, "n_features.*pair"),
        ({"n_features": (0, 4)}, ValueError, "n_features.*>= 1"),
        ({"n_mixing_layers": 0}, ValueError, "n_mixing_layers"),
        ({"random_state": "seed"}, ValueError, "random_state"),
        ({"return_info": "yes"}, ValueError, "return_info"),
    ],
)
def test_make_latent_partial_causal_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        make_latent_partial_causal(**{"n_samples": 10, **params})


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"latent_space": "torus"}, ValueError, "latent_space"),
        ({"concentration": 0}, ValueError, "concentration"),
        ({"n_latents": 1}, ValueError, "n_latents.*sphere"),
        ({"n_features": (1, 3)}, ValueError, "n_features"),
    ],
)
def test_sampler_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        LatentPartialCausalSampler(**params)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_samples": 3.0}, TypeError, "n_samples"),
        ({"n_samples": 3, "random_state": "x"}, TypeError, "random_state"),
    ],
)
def test_sampler_sample_bad_arguments(kwargs, error, match):
    sampler = LatentPartialCausalSampler(2, random_state=0)
    with pytest.raises(error, match=match):
        sampler.sample(**kwargs)
