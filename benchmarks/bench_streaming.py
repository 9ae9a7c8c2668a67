"""Streaming benchmark: fixed data sets against fresh pairs, same recipe.

Held-out R² against wall time on the theorem's hypersphere setting (vMF
kappa=10, n_latents=10, two different 3-layer mixings) for
(a) ``fit`` on a fixed 100k-pair data set,
(b) ``fit`` on 2M pairs,
(c) ``partial_fit`` on a stream of fresh chunks from the same model,
one after the other in one run, each for the same number of optimiser steps
with a cosine schedule over those steps; wall time is printed beside R².

Run: OMP_NUM_THREADS=1 python benchmarks/bench_streaming.py [--steps N]
"""

import argparse

import torch

from sklcm import MultimodalContrastiveEncoder
from sklcm.datasets import LatentPartialCausalSampler

from _timeline import R2Timeline, first_time_reaching, print_timelines, probe_of

torch.set_num_threads(1)
RECIPE = dict(
    n_components=10,
    hidden_layer_sizes=(256, 256, 256),
    batch_size=256,
    lr=2e-3,
    temperature=0.2,
    random_state=0,
    device="cpu",
)


def _encoder(sampler, probe, max_steps):
    return MultimodalContrastiveEncoder(
        split=sampler.split,
        max_steps=max_steps,
        max_epochs=10_000,  # the probe ends training at the last checkpoint
        callbacks=[("timeline", probe)],
        **RECIPE,
    )


def run_fixed(sampler, n_pairs, probe, max_steps):
    X, _ = sampler.sample(n_pairs, random_state=1)
    enc = _encoder(sampler, probe, max_steps).fit(X)
    return probe_of(enc).records_


def run_stream(sampler, probe, max_steps):
    enc = _encoder(sampler, probe, max_steps)
    for X, _ in sampler.stream(256 * 20, random_state=1):
        enc.partial_fit(X)
        if probe_of(enc).done_:
            break
    return probe_of(enc).records_


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=18_000, help="steps per run")
    args = parser.parse_args()
    sampler = LatentPartialCausalSampler(n_latents=10, random_state=0)
    X_test, z_test = sampler.sample(10_000, random_state=123)
    max_steps = args.steps
    checkpoints = [max_steps * k // 12 for k in range(1, 13)]

    def probe():
        return R2Timeline(X_test, z_test, sampler.split, checkpoints)

    runs = {
        "(a) fit 100k fixed": lambda: run_fixed(sampler, 100_000, probe(), max_steps),
        "(b) fit 2M fixed": lambda: run_fixed(sampler, 2_000_000, probe(), max_steps),
        "(c) fresh stream": lambda: run_stream(sampler, probe(), max_steps),
    }
    results = {}
    for name, run in runs.items():
        print(f"running {name} ...", flush=True)
        results[name] = run()
    print(
        "\nheld-out R² (10k test pairs) at step checkpoints, with wall time; "
        f"cosine schedule over {max_steps} steps, batch 256, MLP 256x3"
    )
    print_timelines(results)
    for name, records in results.items():
        best = max(r2 for _, _, r2 in records)
        t99 = first_time_reaching(records, 0.99)
        print(
            f"{name:<22} final {records[-1][2]:.4f}  best {best:.4f}  "
            f"first >= 0.99 at {t99:.0f} s"
        )


if __name__ == "__main__":
    main()
