"""Encoder benchmark: skorch overhead and held-out R² against wall time.

(a) seconds per epoch of MultimodalContrastiveEncoder.fit against a hand-written
    PyTorch loop over the same module, data, batches, loss, optimiser and
    schedule (interleaved repeats, medians, ratio; goal <= 1.15);
(b) held-out R² against wall time on the theorem's hypersphere setting
    (vMF, n_latents=10, two different 3-layer mixings), training on fresh
    chunks with partial_fit.

Run: OMP_NUM_THREADS=1 python benchmarks/bench_encoder.py [--steps N]
"""

import argparse
import math
import statistics
import time

import torch

from sklcm import MultimodalContrastiveEncoder
from sklcm.datasets import LatentPartialCausalSampler
from sklcm.nn import SymmetricInfoNCE, TwoTowerMLP

from _timeline import R2Timeline, first_time_reaching, print_timelines, probe_of

torch.set_num_threads(1)
RECIPE = dict(
    hidden_layer_sizes=(256, 256, 256), batch_size=256, lr=2e-3, temperature=0.2
)


def ours(X, split, epochs):
    enc = MultimodalContrastiveEncoder(
        n_components=10,
        split=split,
        max_epochs=epochs,
        random_state=0,
        device="cpu",
        **RECIPE,
    )
    start = time.perf_counter()
    enc.fit(X)
    return (time.perf_counter() - start) / epochs


def hand_written(X, split, epochs):
    start = time.perf_counter()
    torch.manual_seed(0)
    Xt = torch.as_tensor(X, dtype=torch.float32)
    module = TwoTowerMLP(split, X.shape[1], 10, RECIPE["hidden_layer_sizes"])
    module.set_standardization(Xt)
    loss_fn = SymmetricInfoNCE(RECIPE["temperature"])
    opt = torch.optim.Adam(module.parameters(), lr=RECIPE["lr"])
    bs, n = RECIPE["batch_size"], len(Xt)
    starts = range(0, n - bs // 2, bs)
    total, warm, step = (
        epochs * len(starts),
        max(1, int(0.02 * epochs * len(starts))),
        0,
    )
    module.train()
    for _ in range(epochs):
        perm = Xt[torch.randperm(n)]
        for s in starts:
            f = (
                (step + 1) / warm
                if step < warm
                else 0.5
                * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))
            )
            for g in opt.param_groups:
                g["lr"] = RECIPE["lr"] * f
            loss = loss_fn(*module(perm[s : s + bs]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
    return (time.perf_counter() - start) / epochs


def overhead(sampler, repeats=5, epochs=2):
    X, _ = sampler.sample(25_600, random_state=0)
    runs = {"sklcm (skorch)": [], "hand-written torch": []}
    for _ in range(repeats):  # interleaved, so machine load hits both alike
        runs["sklcm (skorch)"].append(ours(X, sampler.split, epochs))
        runs["hand-written torch"].append(hand_written(X, sampler.split, epochs))
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(
        "(a) seconds per epoch, 25,600 pairs, batch 256, MLP 256x3, n=10"
        f" (median of {repeats} interleaved runs)"
    )
    for k, v in med.items():
        print(
            f"    {k:<20} {v:7.3f} s/epoch  runs: "
            + " ".join(f"{x:.3f}" for x in runs[k])
        )
    ratio = med["sklcm (skorch)"] / med["hand-written torch"]
    print(f"    ratio sklcm / hand-written: {ratio:.3f}  (goal <= 1.15)")


def r2_vs_time(sampler, max_steps):
    X_test, z_test = sampler.sample(10_000, random_state=123)
    checkpoints = [max_steps * k // 10 for k in range(1, 11)]
    probe = R2Timeline(X_test, z_test, sampler.split, checkpoints)
    enc = MultimodalContrastiveEncoder(
        n_components=10,
        split=sampler.split,
        max_steps=max_steps,
        callbacks=[("timeline", probe)],
        random_state=0,
        device="cpu",
        **RECIPE,
    )
    for X, _ in sampler.stream(256 * 20, random_state=0):
        enc.partial_fit(X)
        if probe_of(enc).done_:
            break
    records = probe_of(enc).records_
    print(
        "\n(b) held-out R² vs wall time, sphere/vMF kappa=10, n_latents=10, fresh "
        f"chunks, cosine schedule over {max_steps} steps"
    )
    print_timelines({"sklcm streaming": records})
    t99 = first_time_reaching(records, 0.99)
    print(f"    first checkpoint with R² >= 0.99: {t99:.0f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=int, default=18_000, help="training steps for part (b)"
    )
    parser.add_argument("--skip-b", action="store_true", help="only run part (a)")
    args = parser.parse_args()
    sampler = LatentPartialCausalSampler(n_latents=10, random_state=0)
    overhead(sampler)
    if not args.skip_b:
        r2_vs_time(sampler, args.steps)


if __name__ == "__main__":
    main()
