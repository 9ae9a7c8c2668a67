"""Streaming training: partial_fit over fresh chunks or memory-mapped shards."""

import tracemalloc

import numpy as np
import pytest

from sklcm import MultimodalContrastiveEncoder
from sklcm.datasets import LatentPartialCausalSampler
from sklcm.metrics import linear_r2_score
from sklcm.utils import iter_chunks

SMALL = dict(hidden_layer_sizes=(16,), batch_size=64, random_state=0)


def test_stream_draws_fresh_chunks_from_the_same_model():
    sampler = LatentPartialCausalSampler(n_latents=3, random_state=0)
    chunks = list(sampler.stream(50, n_chunks=3, random_state=1))
    assert len(chunks) == 3
    (X0, z0), (X1, z1) = chunks[:2]
    assert not np.allclose(z0, z1)
    # same mixing: x is g_x(z_x) for every chunk
    np.testing.assert_allclose(X1[:, : sampler.split], sampler.mixing_x(z1))
    again = [X for X, _ in sampler.stream(50, n_chunks=3, random_state=1)]
    np.testing.assert_array_equal(again[2], chunks[2][0])


def test_partial_fit_on_fresh_chunks_learns_the_latents():
    sampler = LatentPartialCausalSampler(n_latents=3, random_state=1)
    X_test, z_test = sampler.sample(2000, random_state=99)
    enc = MultimodalContrastiveEncoder(
        n_components=3,
        split=sampler.split,
        hidden_layer_sizes=(64, 64),
        max_steps=240,
        random_state=0,
    )
    for X, _ in sampler.stream(4096, n_chunks=15, random_state=0):
        enc.partial_fit(X)
    assert enc.n_iter_ == 15 and enc.n_steps_ == 15 * 16
    r2 = linear_r2_score(z_test, enc.transform(X_test), random_state=0)
    r2_raw = linear_r2_score(z_test, X_test[:, : sampler.split], random_state=0)
    assert r2 > 0.95 and r2 > r2_raw + 0.1, (r2, r2_raw)
    # the cosine schedule spans max_steps: the learning rate has decayed to ~0
    assert enc.net_.optimizer_.param_groups[0]["lr"] < 1e-5


def test_partial_fit_without_max_steps_keeps_a_constant_rate_after_warmup():
    sampler = LatentPartialCausalSampler(n_latents=2, random_state=0)
    enc = MultimodalContrastiveEncoder(
        n_components=2, split=sampler.split, warmup=3, lr=1e-3, **SMALL
    )
    for X, _ in sampler.stream(256, n_chunks=3, random_state=0):
        enc.partial_fit(X)
    assert enc.n_steps_ == 12
    assert enc.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(1e-3)


def test_fit_resets_what_partial_fit_accumulated():
    sampler = LatentPartialCausalSampler(n_latents=2, random_state=0)
    X, _ = sampler.sample(256, random_state=0)
    enc = MultimodalContrastiveEncoder(
        n_components=2, split=sampler.split, max_epochs=1, **SMALL
    )
    enc.partial_fit(X).partial_fit(X)
    enc.fit(X)
    assert enc.n_iter_ == 1 and enc.n_steps_ == 4


def test_streaming_from_memmap_keeps_peak_memory_bounded(tmp_path):
    sampler = LatentPartialCausalSampler(n_latents=3, random_state=0)
    n_samples, chunk = 40_000, 4000
    shard = np.lib.format.open_memmap(
        tmp_path / "pairs.npy",
        mode="w+",
        dtype=np.float64,
        shape=(n_samples, sum(sampler.n_features)),
    )
    for i, (X, _) in enumerate(
        sampler.stream(chunk, n_chunks=n_samples // chunk, random_state=0)
    ):
        shard[i * chunk : (i + 1) * chunk] = X
    shard.flush()
    del shard
    data = np.load(tmp_path / "pairs.npy", mmap_mode="r")
    enc = MultimodalContrastiveEncoder(
        n_components=3, split=sampler.split, **{**SMALL, "batch_size": 1000}
    )
    enc.partial_fit(data[:chunk])  # first call allocates the model: not counted
    tracemalloc.start()
    for X in iter_chunks(data[chunk:], chunk):
        enc.partial_fit(X)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert enc.n_iter_ == n_samples // chunk
    # the data set is 1.9 MB; a few chunks of 192 kB each may be alive at once
    assert peak < data.nbytes / 4, (peak, data.nbytes)
