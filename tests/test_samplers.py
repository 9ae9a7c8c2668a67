"""Tests for the vectorised latent samplers."""

import numpy as np
import pytest
from scipy import special, stats

from sklcm.datasets._samplers import (
    _as_generator,
    _sample_gennorm,
    _sample_laplace,
    _sample_normal,
    _sample_uniform_box,
    _sample_uniform_sphere,
    _sample_vmf,
    _truncate_to_box,
)

N = 20_000


def _vmf_mean_cosine(n_dims, kappa):
    """A_n(kappa) = I_{n/2}(kappa) / I_{n/2-1}(kappa) (scaled Bessel ratio)."""
    return special.ive(n_dims / 2, kappa) / special.ive(n_dims / 2 - 1, kappa)


@pytest.mark.parametrize("n_dims", [2, 3, 5, 10])
@pytest.mark.parametrize("kappa", [1.0, 10.0, 100.0])
def test_vmf_mean_cosine_matches_bessel_ratio(n_dims, kappa, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    mean = _sample_uniform_sphere(rng, N, n_dims)  # one mean direction per sample
    z = _sample_vmf(rng, mean, kappa)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-12)
    w = np.einsum("ij,ij->i", z, mean)
    standard_error = w.std() / np.sqrt(N)
    assert abs(w.mean() - _vmf_mean_cosine(n_dims, kappa)) < 5 * standard_error


@pytest.mark.parametrize("n_dims", [2, 3, 6])
def test_vmf_tangent_direction_is_uniform(n_dims, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    mu = _sample_uniform_sphere(rng, 1, n_dims)[0]
    z = _sample_vmf(rng, np.tile(mu, (N, 1)), 5.0)
    tangent = z - np.outer(z @ mu, mu)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    # Orthonormal basis of the complement of mu: the frame of the tangent space.
    q, _ = np.linalg.qr(np.column_stack([mu, np.eye(n_dims)[:, : n_dims - 1]]))
    coords = tangent @ q[:, 1:]
    np.testing.assert_allclose(np.linalg.norm(coords, axis=1), 1.0, atol=1e-10)
    np.testing.assert_allclose(coords.mean(axis=0), 0.0, atol=5 / np.sqrt(N))
    second_moment = coords.T @ coords / N
    np.testing.assert_allclose(
        second_moment, np.eye(n_dims - 1) / (n_dims - 1), atol=0.02
    )


def test_vmf_concentrates_with_kappa(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    mean = _sample_uniform_sphere(rng, 2000, 4)
    w = [
        np.einsum("ij,ij->i", _sample_vmf(rng, mean, k), mean).mean()
        for k in (0.5, 5.0, 50.0, 5000.0)
    ]
    assert np.all(np.diff(w) > 0)
    assert w[-1] > 0.999


def test_uniform_sphere_moments(global_random_seed):
    n_dims = 4
    z = _sample_uniform_sphere(np.random.default_rng(global_random_seed), N, n_dims)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=5 / np.sqrt(N * n_dims))
    np.testing.assert_allclose(np.cov(z.T), np.eye(n_dims) / n_dims, atol=0.01)


def test_uniform_box_moments(global_random_seed):
    z = _sample_uniform_box(np.random.default_rng(global_random_seed), N, 3)
    assert z.min() >= -1 and z.max() <= 1
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=0.02)
    np.testing.assert_allclose(z.var(axis=0), 1 / 3, atol=0.01)


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0, 3.0, 8.0])
def test_gennorm_variance(beta, global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    scale, loc = 0.5, 2.0
    x = _sample_gennorm(rng, np.full(50_000, loc), scale, beta) - loc
    expected = scale**2 * special.gamma(3 / beta) / special.gamma(1 / beta)
    standard_error = (x**2).std() / np.sqrt(x.size)
    assert abs(np.mean(x**2) - expected) < 5 * standard_error
    assert abs(x.mean()) < 5 * x.std() / np.sqrt(x.size)


def test_normal_and_laplace_noise_scales(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    loc = np.zeros(50_000)
    assert _sample_normal(rng, loc, 0.3).std() == pytest.approx(0.3, rel=0.02)
    # Laplace(scale b) has variance 2 b^2.
    assert _sample_laplace(rng, loc, 0.3).var() == pytest.approx(0.18, rel=0.03)


def test_truncate_to_box_matches_truncated_normal(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    loc, scale = 0.5, 0.7
    x = _truncate_to_box(
        rng, lambda r, m: _sample_normal(r, m, scale), np.full((N, 2), loc)
    )
    assert x.min() >= -1 and x.max() <= 1
    ref = stats.truncnorm((-1 - loc) / scale, (1 - loc) / scale, loc=loc, scale=scale)
    standard_error = ref.std() / np.sqrt(N)
    np.testing.assert_allclose(x.mean(axis=0), ref.mean(), atol=5 * standard_error)
    np.testing.assert_allclose(x.var(axis=0), ref.var(), rtol=0.05)


def test_truncated_laplace_matches_scipy_truncated_laplace(global_random_seed):
    """Each entry is Laplace(loc, scale) truncated to [-1, 1], loc varying."""
    rng = np.random.default_rng(global_random_seed)
    loc = _sample_uniform_box(rng, 5000, 6)
    scale = 2.0
    x = _truncate_to_box(rng, lambda r, m: _sample_laplace(r, m, scale), loc)
    assert x.shape == loc.shape
    assert x.min() >= -1 and x.max() <= 1
    ref = stats.laplace(loc=loc, scale=scale)
    pit = (ref.cdf(x) - ref.cdf(-1.0)) / (ref.cdf(1.0) - ref.cdf(-1.0))
    assert stats.kstest(pit.ravel(), "uniform").pvalue > 1e-3
    tight = _truncate_to_box(rng, lambda r, m: _sample_laplace(r, m, 1e-3), loc)
    assert np.abs(tight - loc).mean() < 2e-3


def test_truncate_to_box_gives_up_with_clear_error():
    rng = np.random.default_rng(0)
    with pytest.raises(RuntimeError, match="Increase `concentration`"):
        _truncate_to_box(
            rng,
            lambda r, m: _sample_normal(r, m, 1e-3),
            np.full((3, 2), 5.0),
            max_rounds=3,
        )


def test_as_generator_is_deterministic():
    a = _as_generator(0).standard_normal(5)
    b = _as_generator(np.random.RandomState(0)).standard_normal(5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, _as_generator(1).standard_normal(5))
    gen = np.random.default_rng(0)
    assert _as_generator(gen) is gen


@pytest.mark.parametrize("bad", ["seed", 1.5, True])
def test_as_generator_rejects_bad_seed(bad):
    with pytest.raises(TypeError, match="random_state"):
        _as_generator(bad)
