"""Lever search for the rows with modality-specific latents (specific-5, -10).

Trains the reproduction runner's own encoder (``sklcm.experiments``' sampler
and encoder of the row, the quick preset's recipe) through ``partial_fit`` on
fresh chunks of pairs, exactly as ``python -m sklcm reproduce`` does, with one
or more encoder parameters overridden (the lever), and scores the held-out
linear R² of z_x every ``--every`` steps (the weight average when the recipe
has one, as the table does). Each run prints one line: the lever, the budget,
the first checkpoint at which R² reached 0.95 and 0.99 (steps and pairs seen),
the final R², the training time per step and the curve.

Levers are encoder parameters given as ``key=value`` (value parsed as JSON,
e.g. ``batch_size=1024``, ``hidden_layer_sizes=[256,256,256]``,
``learn_temperature=true``); several runs are separated by ``--run``.

Run: OMP_NUM_THREADS=1 nice -n 10 python benchmarks/study_specific.py \
         --rows specific-5 specific-10 --steps 8000 \
         --run base --run batch_size=1024 --out benchmarks/results/study_specific.txt
"""

import argparse
import json
import shlex
import sys
import time
from dataclasses import replace

import numpy as np
import torch

from sklcm.experiments import PRESETS, SETTINGS
from sklcm.experiments._runner import _make_encoder, _make_sampler, _n_latents
from sklcm.metrics import linear_r2_score

torch.set_num_threads(1)


def _args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", nargs="+", default=["specific-5", "specific-10"])
    p.add_argument("--steps", type=int, default=8000)
    p.add_argument("--every", type=int, default=1000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--n-test", type=int, default=5000)
    p.add_argument(
        "--run",
        action="append",
        nargs="+",
        required=True,
        help="one run: 'base' or encoder overrides key=value (JSON value)",
    )
    p.add_argument("--out", default=None, help="append the lines to this file")
    return p.parse_args()


def _overrides(tokens):
    params = {}
    for token in tokens:
        if token == "base":
            continue
        key, value = token.split("=", 1)
        params[key] = json.loads(value)
    return params


def _first(curve, mark):
    return next((step for step, r2 in curve if r2 >= mark), None)


def run(row, overrides, steps, seed, every, n_test):
    """Train one row with ``overrides``; return the result dict."""
    setting = next(s for s in SETTINGS if s.name == row)
    setting = replace(setting, encoder={**setting.encoder, **overrides})
    preset = PRESETS["quick"]
    sampler = _make_sampler(setting, _n_latents(setting, preset), seed)
    encoder = _make_encoder(setting, preset, sampler, steps, seed, "cpu")
    rng = np.random.default_rng([seed, 7])
    X_test, z_test = sampler.sample(n_test, np.random.default_rng([seed, 8]))
    x_test = X_test[:, : sampler.split]
    batch, curve, train_time = encoder.batch_size, [], 0.0
    while getattr(encoder, "n_steps_", 0) < steps:
        done = getattr(encoder, "n_steps_", 0)
        n = min(preset.chunk_steps, steps - done, every - done % every)
        X, _ = sampler.sample(n * batch, rng)
        start = time.perf_counter()
        encoder.partial_fit(X)
        train_time += time.perf_counter() - start
        if encoder.n_steps_ % every == 0 or encoder.n_steps_ >= steps:
            z = encoder.encode(x_test, "x")
            r2 = linear_r2_score(z_test, z, random_state=seed)
            curve.append((int(encoder.n_steps_), round(float(r2), 4)))
    s95, s99 = _first(curve, 0.95), _first(curve, 0.99)
    return {
        "row": row,
        "seed": seed,
        "budget": steps,
        "batch": batch,
        "r2": curve[-1][1],
        "best": max(r for _, r in curve),
        "steps95": s95,
        "pairs95": s95 and s95 * batch,
        "steps99": s99,
        "pairs99": s99 and s99 * batch,
        "ms_step": round(1000 * train_time / encoder.n_steps_, 2),
        "tau": round(float(encoder.temperature_), 3),
        "curve": curve,
    }


def _fmt(x):
    return "-" if x is None else f"{x:,}"


def main():
    a = _args()
    lines = []

    def emit(text):
        print(text, flush=True)
        lines.append(text)
        if a.out:
            with open(a.out, "a") as f:
                f.write(text + "\n")

    emit("$ " + shlex.join(["python", *sys.argv]))
    emit(
        f"{'lever':<44} {'row':<12} seed budget  batch R²     best   steps95 "
        f"pairs95     steps99 pairs99     ms/step τ"
    )
    for tokens in a.run:
        overrides = _overrides(tokens)
        label = " ".join(tokens)
        for seed in a.seeds:
            for row in a.rows:
                r = run(row, overrides, a.steps, seed, a.every, a.n_test)
                emit(
                    f"{label:<44} {row:<12} {seed:<4} {a.steps:<7,} {r['batch']:<5}"
                    f"{r['r2']:.4f} {r['best']:.4f} {_fmt(r['steps95']):>7} "
                    f"{_fmt(r['pairs95']):>11} {_fmt(r['steps99']):>7} "
                    f"{_fmt(r['pairs99']):>11} {r['ms_step']:7.2f} {r['tau']}"
                )
                emit("  curve " + " ".join(f"{s // 1000}k:{v}" for s, v in r["curve"]))


if __name__ == "__main__":
    main()
