"""Streaming training: partial_fit over fresh chunks or memory-mapped shards."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklcm import MultimodalContrastiveEncoder
from sklcm.datasets import LatentPartialCausalSampler
from sklcm.metrics import linear_r2_score

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


def test_streaming_past_max_steps_cuts_the_last_chunk_then_warns():
    """Old bug: past max_steps the cosine ended and chunks trained at lr 0."""
    sampler = LatentPartialCausalSampler(n_latents=2, random_state=0)
    enc = MultimodalContrastiveEncoder(
        n_components=2, split=sampler.split, max_steps=10, **SMALL
    )
    chunks = [X for X, _ in sampler.stream(256, n_chunks=4, random_state=0)]
    for X in chunks[:3]:  # 4 steps each: the third chunk is cut after 2
        enc.partial_fit(X)
    assert enc.n_steps_ == 10 and enc.n_iter_ == 3
    Z = enc.transform(chunks[3])
    with pytest.warns(ConvergenceWarning, match="max_steps=10"):
        enc.partial_fit(chunks[3])
    np.testing.assert_array_equal(enc.transform(chunks[3]), Z)
    assert enc.n_steps_ == 10 and enc.n_iter_ == 3


_PEAK_SCRIPT = """
import resource, sys, threading, time
import numpy as np, torch
torch.set_num_threads(1)
from sklcm import MultimodalContrastiveEncoder

def anon_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])

X = np.load(sys.argv[1], mmap_mode="r")
params = dict(n_components=3, split=3, hidden_layer_sizes=(16,), batch_size=256,
              max_epochs=1, random_state=0, device="cpu")
MultimodalContrastiveEncoder(**params).fit(np.asarray(X[:2048]))  # warm-up
peak, done = [anon_kib()], []
base = peak[0]

def watch():
    while not done:
        peak.append(anon_kib())
        time.sleep(0.001)

thread = threading.Thread(target=watch)
thread.start()
MultimodalContrastiveEncoder(**params).fit(X)
done.append(True)
thread.join()
print((max(peak) - base) * 1024)
"""


def test_fit_from_memmap_keeps_peak_memory_bounded(tmp_path):
    """Sees torch's and NumPy's allocations: anonymous RSS of a subprocess.

    The old code made a float32 copy of X for the standardisation, another for
    training and a shuffled one per epoch (0.5x the float64 array each); batches
    are now gathered from the memory map one at a time.
    """
    import subprocess
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/self/status")
    path = tmp_path / "pairs.npy"
    X = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float64, shape=(200_000, 20)
    )
    X[:] = np.random.default_rng(0).random(X.shape)
    X.flush()
    nbytes = X.nbytes  # 32 MB
    del X
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    peak = int(out.stdout.split()[-1])
    assert peak < 0.5 * nbytes, (peak, nbytes)  # old code: 1.0x
