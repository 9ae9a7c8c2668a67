"""Benchmark the vectorised vMF sampler and full data generation."""
# License: BSD 3 clause
#
# Run with:  OMP_NUM_THREADS=1 python benchmarks/bench_datasets.py

import time

import numpy as np

from sklcm.datasets import LatentPartialCausalSampler, make_latent_partial_causal
from sklcm.datasets._samplers import _sample_uniform_sphere, _sample_vmf

N_DIMS = 10
KAPPA = 10.0
N_VMF = 6144


def _vmf_one(rng, mu, kappa):
    """One vMF draw with Wood's (1994) algorithm, the straightforward way."""
    m = mu.size - 1.0
    b = (-2.0 * kappa + np.sqrt(4.0 * kappa**2 + m**2)) / m
    x0 = (1.0 - b) / (1.0 + b)
    c = kappa * x0 + m * np.log(1.0 - x0**2)
    while True:
        z = rng.beta(m / 2.0, m / 2.0)
        w = (1.0 - (1.0 + b) * z) / (1.0 - (1.0 - b) * z)
        if kappa * w + m * np.log(1.0 - x0 * w) - c >= np.log(rng.random()):
            break
    v = rng.standard_normal(mu.size)
    v -= (v @ mu) * mu
    v /= np.linalg.norm(v)
    return w * mu + np.sqrt(1.0 - w**2) * v


def _vmf_loop(rng, mean, kappa):
    return np.stack([_vmf_one(rng, mu, kappa) for mu in mean])


def _best_time(func, repeat):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def bench_vmf():
    rng = np.random.default_rng(0)
    mean = _sample_uniform_sphere(rng, N_VMF, N_DIMS)
    t_vec = _best_time(lambda: _sample_vmf(rng, mean, KAPPA), repeat=20)
    t_loop = _best_time(lambda: _vmf_loop(rng, mean, KAPPA), repeat=3)
    print(f"vMF sampling, n={N_DIMS}, kappa={KAPPA}, {N_VMF} samples per call")
    print(f"  vectorised : {t_vec * 1e3:8.2f} ms  {N_VMF / t_vec:12,.0f} samples/s")
    print(f"  loop       : {t_loop * 1e3:8.2f} ms  {N_VMF / t_loop:12,.0f} samples/s")
    print(f"  speed-up   : {t_loop / t_vec:8.1f}x  (goal >= 10x)")
    w_vec = np.einsum("ij,ij->i", _sample_vmf(rng, mean, KAPPA), mean).mean()
    w_loop = np.einsum("ij,ij->i", _vmf_loop(rng, mean, KAPPA), mean).mean()
    print(f"  E[w]: vectorised {w_vec:.4f}, loop {w_loop:.4f}")


def bench_generation():
    sampler = LatentPartialCausalSampler(N_DIMS, random_state=0)
    gen = np.random.default_rng(0)
    t_batch = _best_time(lambda: sampler.sample(256, gen), repeat=200)
    print(f"sampler.sample(256) at n_latents={N_DIMS}: {t_batch * 1e6:.0f} us")
    start = time.perf_counter()
    X, y = make_latent_partial_causal(1_000_000, n_latents=N_DIMS, random_state=0)
    elapsed = time.perf_counter() - start
    print(
        f"make_latent_partial_causal(1e6, n_latents={N_DIMS}): {elapsed:.2f} s, "
        f"X {X.shape}"
    )


if __name__ == "__main__":
    bench_vmf()
    bench_generation()
