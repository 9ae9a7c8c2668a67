"""Time to R² >= 0.99 of the quick recipe vs the public reference recipe.

Both train a sphere encoder on the theorem's hypersphere setting (n = 10,
uniform / vMF(kappa=10), two different 3-layer invertible MLP mixings) on fresh
pairs, on this machine, one run each. Ours runs its whole schedule; the
reference recipe then gets the same wall-clock budget. Held-out R² is measured
every ``--eval-every`` seconds of training (evaluation time is not counted).

Run with:  OMP_NUM_THREADS=1 python benchmarks/bench_reproduce.py
"""
# License: BSD 3 clause

import argparse
import time

import numpy as np
import torch

from sklcm import MultimodalContrastiveEncoder
from sklcm.datasets import LatentPartialCausalSampler
from sklcm.experiments import PRESETS
from sklcm.metrics import linear_r2_score

N = 10
REFERENCE_STEPS = 300_000  # public reference protocol
REFERENCE = dict(  # widths [10n, 50n, 50n, 50n, 50n, 10n], Adam 1e-4, batch 6144
    hidden_layer_sizes=(10 * N, 50 * N, 50 * N, 50 * N, 50 * N, 10 * N),
    lr=1e-4,
    batch_size=6144,
    temperature=1.0,
    lr_schedule="constant",
    warmup=1,
)


def _ours(steps):
    p = PRESETS["quick"]
    return dict(
        hidden_layer_sizes=p.hidden_layer_sizes,
        lr=p.lr,
        batch_size=p.batch_size,
        temperature=p.temperature,
        max_steps=steps,
    )


def _train(params, sampler, test, *, budget_s=None, steps=None, eval_every=10.0):
    """Train on fresh pairs; return [(train_seconds, step, R²)] checkpoints."""
    enc = MultimodalContrastiveEncoder(N, split=sampler.split, random_state=0, **params)
    chunk_steps = max(1, 6400 // params["batch_size"])
    rng, trained, next_eval, curve = np.random.default_rng(1), 0.0, eval_every, []
    while True:
        X, _ = sampler.sample(params["batch_size"] * chunk_steps, rng)
        start = time.perf_counter()
        enc.partial_fit(X)
        trained += time.perf_counter() - start
        done = (steps is not None and enc.n_steps_ >= steps) or (
            budget_s is not None and trained >= budget_s
        )
        if trained >= next_eval or done:
            r2 = linear_r2_score(test[1], enc.transform(test[0]), random_state=0)
            curve.append((trained, enc.n_steps_, r2))
            print(
                f"    {trained:7.1f} s  step {enc.n_steps_:>6}  R² {r2:.4f}", flush=True
            )
            next_eval = trained + eval_every
        if done:
            return enc, curve


def _time_to(curve, threshold=0.99):
    hits = [t for t, _, r2 in curve if r2 >= threshold]
    return f"{hits[0]:.0f} s" if hits else "not reached"


def _tower_params(enc):
    return sum(p.numel() for p in enc.net_.module_.parameters()) // 2


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps",
        type=int,
        default=PRESETS["quick"].theorem_steps,
        help="schedule length of our recipe (default: quick preset)",
    )
    parser.add_argument(
        "--eval-every",
        type=float,
        default=10.0,
        help="seconds of training between R² evaluations",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    sampler = LatentPartialCausalSampler(N, random_state=0)
    test = sampler.sample(10_000, random_state=123)
    print(f"ours: {_ours(args.steps)}")
    ours, ours_curve = _train(
        _ours(args.steps), sampler, test, steps=args.steps, eval_every=args.eval_every
    )
    budget = ours_curve[-1][0]
    print(f"reference, same budget ({budget:.0f} s): {REFERENCE}")
    ref, ref_curve = _train(
        REFERENCE,
        sampler,
        test,
        budget_s=budget,
        eval_every=max(args.eval_every, budget / 10),
    )
    _report(args.steps, ours, ours_curve, ref, ref_curve)


def _report(steps, ours, ours_curve, ref, ref_curve):
    rows = [("ours (quick)", ours_curve), ("reference", ref_curve)]
    print(
        f"\n{'recipe':<14}{'steps':>8}{'s/step':>9}{'final R²':>10}"
        f"{'time to R²>=0.99':>18}"
    )
    for name, curve in rows:
        t, n_steps, r2 = curve[-1]
        print(
            f"{name:<14}{n_steps:>8}{t / n_steps:>9.4f}{r2:>10.4f}{_time_to(curve):>18}"
        )
    pairs = (steps * ours.batch_size, REFERENCE_STEPS * ref.batch_size)
    flops = [6 * 2 * _tower_params(enc) * n for enc, n in zip((ours, ref), pairs)]
    print(
        f"\nfull protocols: ours {steps} steps x {ours.batch_size} = {pairs[0]:.3g} "
        f"pairs, {_tower_params(ours)} params/tower; reference {REFERENCE_STEPS} "
        f"steps x {ref.batch_size} = {pairs[1]:.3g} pairs, {_tower_params(ref)} "
        f"params/tower"
    )
    print(
        f"compute ratio (reference / ours): pairs {pairs[1] / pairs[0]:.0f}x, "
        f"MLP FLOPs ~{flops[1] / flops[0]:.0f}x; reference at its measured speed "
        f"here: {REFERENCE_STEPS * ref_curve[-1][0] / ref_curve[-1][1] / 86400:.1f}"
        " days"
    )


if __name__ == "__main__":
    main()
