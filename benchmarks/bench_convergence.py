"""Steps (and pairs seen) until held-out accuracy thresholds, n_latents=10.

For each geometry of the paper's theorems -- sphere (uniform / vMF(κ=10),
held-out linear R²) and box (uniform / Laplace, held-out MCC) -- an encoder is
trained through the public API (``partial_fit`` on fresh chunks of pairs, the
cosine schedule spanning ``--budget`` steps) and scored on 5000 held-out pairs
every ``--every`` steps; ``--geometry specific-5`` trains a sphere encoder on
the reproduction row with 5 modality-specific latents per view (variants
``specific-*``, which may set their own ``batch_size``). The output gives the
first checkpoint at which each threshold is reached (sphere R² ≥ 0.99 /
0.995, box MCC ≥ 0.98 / 0.99, specific-5 R² ≥ 0.95 / 0.99), in
steps and pairs seen, and the final score. Step counts do not depend on the
machine; seconds do, so the ms per step of the encoder is printed next to the
ms per step of a hand-written torch loop over the same module, loss and
optimiser, measured in the same run.

``--variant`` names a recipe of ``VARIANTS`` (the lever search); the
recommended recipe is the first of each geometry.

Run: OMP_NUM_THREADS=1 python benchmarks/bench_convergence.py \
         --geometry sphere --variant sphere-default
"""

import argparse
import time

import numpy as np
import torch

from sklcm import MultimodalContrastiveEncoder
from sklcm.datasets import LatentPartialCausalSampler
from sklcm.metrics import linear_r2_score, mean_corr_coef
from sklcm.nn import SymmetricInfoNCE, TwoTowerMLP
from sklcm.nn._whitening import whitening_matrices

torch.set_num_threads(1)
N_LATENTS, BATCH, CHUNK_STEPS = 10, 256, 50
THRESHOLDS = {"sphere": (0.99, 0.995), "box": (0.98, 0.99), "specific-5": (0.95, 0.99)}
BUDGETS = {"sphere": 15_000, "box": 25_000, "specific-5": 15_000}
# the data of each --geometry; "specific-5" is the reproduction row of that name
# (sphere vMF(κ=10) with 5 modality-specific latents per view), fitted by a
# sphere encoder and scored by linear R²
DATA = {
    "sphere": dict(latent_space="sphere", marginal="uniform", conditional="vmf"),
    "box": dict(latent_space="box", marginal="uniform", conditional="laplace"),
    "specific-5": dict(
        latent_space="sphere", marginal="uniform", conditional="vmf", n_specific=5
    ),
}

# Encoder parameters of each lever setting (all at batch 256).
_QUICK = dict(hidden_layer_sizes=(128, 128, 128), lr=3e-3)
# the quick preset's recipe: whitened inputs, weight averaging, lr 5e-3; the
# box learns its temperature from 0.5 and squashes with the soft clamp
_RECIPE = dict(_QUICK, lr=5e-3, whiten_inputs=True, ema_decay=0.999)
VARIANTS = {
    "sphere-recipe": dict(_RECIPE, temperature=0.2),
    "box-recipe": dict(
        _RECIPE, temperature=0.5, learn_temperature=True, box_squash="softclamp"
    ),
    # rows with modality-specific latents (--geometry specific-5): the sphere
    # recipe, and the recipe of benchmarks/study_specific.py's lever search
    # (batch-normalised head, 4× the pairs per step)
    "specific-recipe": dict(_RECIPE, temperature=0.2),
    "specific-bn-batch1024": dict(
        _RECIPE, temperature=0.2, head_batch_norm=True, batch_size=1024
    ),
    "sphere-whiten-ema": dict(
        _QUICK, temperature=0.2, whiten_inputs=True, ema_decay=0.999
    ),
    "sphere-whiten-ema-ln": dict(
        _QUICK, temperature=0.2, whiten_inputs=True, ema_decay=0.999, layer_norm=True
    ),
    "sphere-whiten": dict(_QUICK, temperature=0.2, whiten_inputs=True),
    "sphere-ema": dict(_QUICK, temperature=0.2, ema_decay=0.999),
    "box-whiten": dict(
        _QUICK, temperature=0.5, learn_temperature=True, whiten_inputs=True
    ),
    "box-whiten-ema-lr5e-3": dict(_RECIPE, temperature=0.5, learn_temperature=True),
    "sphere-quick": dict(hidden_layer_sizes=(128, 128, 128), lr=3e-3, temperature=0.2),
    "sphere-enc-default": dict(),
    "sphere-learn-tau": dict(
        hidden_layer_sizes=(128, 128, 128),
        lr=3e-3,
        temperature=0.2,
        learn_temperature=True,
    ),
    "sphere-lr5e-3": dict(hidden_layer_sizes=(128, 128, 128), lr=5e-3, temperature=0.2),
    "sphere-tau0.15": dict(
        hidden_layer_sizes=(128, 128, 128), lr=3e-3, temperature=0.15
    ),
    "sphere-tau0.1": dict(hidden_layer_sizes=(128, 128, 128), lr=3e-3, temperature=0.1),
    "sphere-w256x2": dict(hidden_layer_sizes=(256, 256), lr=3e-3, temperature=0.2),
    "box-quick": dict(hidden_layer_sizes=(128, 128, 128), lr=3e-3, temperature=0.5),
    "box-enc-default": dict(),
    "box-tau0.2": dict(hidden_layer_sizes=(128, 128, 128), lr=3e-3, temperature=0.2),
    "box-tau1": dict(hidden_layer_sizes=(128, 128, 128), lr=3e-3, temperature=1.0),
    "box-lr1e-3": dict(hidden_layer_sizes=(128, 128, 128), lr=1e-3, temperature=0.5),
    "box-bound10": dict(
        hidden_layer_sizes=(128, 128, 128), lr=3e-3, temperature=0.5, _bound=10.0
    ),
    "box-bound10-tau0.2": dict(
        hidden_layer_sizes=(128, 128, 128), lr=3e-3, temperature=0.2, _bound=10.0
    ),
    "box-identity": dict(
        hidden_layer_sizes=(128, 128, 128), lr=3e-3, temperature=0.5, _head="identity"
    ),
    "box-identity-tau0.2": dict(
        hidden_layer_sizes=(128, 128, 128), lr=3e-3, temperature=0.2, _head="identity"
    ),
    "box-learn-tau-lr5e-3": dict(
        hidden_layer_sizes=(128, 128, 128),
        lr=5e-3,
        temperature=0.5,
        learn_temperature=True,
    ),
    "box-learn-tau0.2": dict(
        hidden_layer_sizes=(128, 128, 128),
        lr=3e-3,
        temperature=0.2,
        learn_temperature=True,
    ),
    "box-softclamp": dict(
        hidden_layer_sizes=(128, 128, 128),
        lr=3e-3,
        temperature=0.5,
        box_squash="softclamp",
    ),
    "box-learn-tau": dict(
        hidden_layer_sizes=(128, 128, 128),
        lr=3e-3,
        temperature=0.5,
        learn_temperature=True,
    ),
}


def _data(geometry, seed):
    return LatentPartialCausalSampler(N_LATENTS, random_state=seed, **DATA[geometry])


def _space(geometry):
    """The encoder geometry fitted to the data of ``geometry``."""
    return "box" if geometry == "box" else "sphere"


def _score(geometry, z, Z):
    if geometry != "box":
        return linear_r2_score(z, Z, random_state=0)
    return mean_corr_coef(z, Z)


def _set_initial_bound(bound):
    """Lever search only: start BoxHead's learnable bounds at ``bound``."""
    from sklcm.nn import BoxHead

    init = BoxHead.__init__

    def patched(self, n_components):
        init(self, n_components)
        with torch.no_grad():
            self.log_bound.fill_(float(np.log(bound)))

    BoxHead.__init__ = patched


def _set_head(kind):
    """Lever search only: replace BoxHead's squashing by the identity."""
    from sklcm.nn import BoxHead

    assert kind == "identity"
    BoxHead.forward = lambda self, h: h


def curve(geometry, params, budget, every, seed=0):
    """Held-out score every ``every`` steps; returns [(step, score)], ms/step."""
    params = dict(params)
    if "_head" in params:
        _set_head(params.pop("_head"))
    if "_bound" in params:
        _set_initial_bound(params.pop("_bound"))
    batch = params.pop("batch_size", BATCH)
    sampler = _data(geometry, seed)
    X_test, z_test = sampler.sample(5000, np.random.default_rng([seed, 1]))
    x_test = X_test[:, : sampler.split]
    enc = MultimodalContrastiveEncoder(
        N_LATENTS,
        split=sampler.split,
        latent_space=_space(geometry),
        batch_size=batch,
        max_steps=budget,
        device="cpu",
        random_state=seed,
        **params,
    )
    points, train_time = [], 0.0
    stream = sampler.stream(
        batch * CHUNK_STEPS, budget // CHUNK_STEPS, np.random.default_rng([seed, 3])
    )
    for X, _ in stream:
        start = time.perf_counter()
        enc.partial_fit(X)
        train_time += time.perf_counter() - start
        if enc.n_steps_ % every == 0 or enc.n_steps_ >= budget:
            points.append((enc.n_steps_, _score(geometry, z_test, enc.encode(x_test))))
            print(
                f"  {enc.n_steps_:>6} {points[-1][1]:.4f}  τ {enc.temperature_:.4f}",
                flush=True,
            )
    return points, 1000 * train_time / enc.n_steps_


def _macs_per_pair(n_in, hidden, n_out):
    """Multiply-accumulates of one tower's forward pass on one input."""
    widths = [n_in, *hidden, n_out]
    return sum(a * b for a, b in zip(widths[:-1], widths[1:]))


def step_times(geometry, params, n_steps=100, repeats=3, seed=0):
    """Median ms per step of the encoder and of a hand-written torch loop.

    Blocks of ``n_steps`` steps alternate between the two (same module, loss,
    Adam, batch), so both see the same machine load.
    """
    params = {k: v for k, v in params.items() if not k.startswith("_")}
    batch = params.pop("batch_size", BATCH)
    sampler = _data(geometry, seed)
    X, _ = sampler.sample(batch * n_steps, np.random.default_rng(seed))
    Xt = torch.as_tensor(X, dtype=torch.float32)
    enc = MultimodalContrastiveEncoder(
        N_LATENTS,
        split=sampler.split,
        latent_space=_space(geometry),
        batch_size=batch,
        device="cpu",
        random_state=seed,
        **params,
    )
    enc.partial_fit(X)  # initialisation outside the clock
    torch.manual_seed(seed)
    hidden = params.get("hidden_layer_sizes", (256, 256, 256))
    module = TwoTowerMLP(
        sampler.split,
        X.shape[1],
        N_LATENTS,
        hidden,
        latent_space=_space(geometry),
        layer_norm=params.get("layer_norm", False),
        head_batch_norm=params.get("head_batch_norm", False) is True,
    )
    module.set_standardization(Xt)
    if params.get("whiten_inputs"):
        mean, std = Xt.mean(dim=0).numpy(), Xt.std(dim=0).numpy()
        rows = np.arange(len(X))
        module._set_whitening(
            mean, *whitening_matrices(X, rows, sampler.split, mean, std)
        )
    tau = params.get("temperature", 0.5 if geometry == "box" else 0.2)
    loss_fn = SymmetricInfoNCE(tau, similarity="lp" if geometry == "box" else "cosine")
    opt = torch.optim.Adam(module.parameters(), lr=params.get("lr", 2e-3))
    ours, hand = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        enc.partial_fit(X)
        ours.append((time.perf_counter() - start) / n_steps)
        start = time.perf_counter()
        for step in range(n_steps):
            loss = loss_fn(*module(Xt[step * batch : (step + 1) * batch]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        hand.append((time.perf_counter() - start) / n_steps)
    macs = 2 * _macs_per_pair(sampler.split, hidden, N_LATENTS)  # two towers
    ms = 1000 * float(np.median(ours)), 1000 * float(np.median(hand))
    return *ms, macs, batch


def _print_times(ms_enc, ms_hand, macs, batch=BATCH):
    print(
        f"ms/step (interleaved blocks, medians): encoder {ms_enc:.2f}, "
        f"hand-written loop {ms_hand:.2f}, ratio {ms_enc / ms_hand:.2f}; "
        f"{macs * batch / 1e6:.1f} M multiply-adds per step (forward)"
    )


def first_reaching(points, threshold):
    return next((step for step, score in points if score >= threshold), None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geometry", choices=list(DATA), required=True)
    parser.add_argument("--variant", choices=list(VARIANTS), required=True)
    parser.add_argument(
        "--timing-only", action="store_true", help="only the ms per step comparison"
    )
    parser.add_argument("--budget", type=int, default=None)
    parser.add_argument("--every", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    budget = args.budget or BUDGETS[args.geometry]
    params = VARIANTS[args.variant]
    print(f"{args.geometry} {args.variant} {params} budget={budget} seed={args.seed}")
    if args.timing_only:
        _print_times(*step_times(args.geometry, params))
        return
    points, ms_run = curve(args.geometry, params, budget, args.every, args.seed)
    ms_enc, ms_hand, macs, batch = step_times(args.geometry, params)
    metric = "MCC" if args.geometry == "box" else "R²"
    for thr in THRESHOLDS[args.geometry]:
        step = first_reaching(points, thr)
        where = "not reached" if step is None else f"{step} steps, {step * batch} pairs"
        print(f"{metric} >= {thr}: {where}")
    print(f"final {metric} {points[-1][1]:.4f} at {points[-1][0]} steps")
    _print_times(ms_enc, ms_hand, macs, batch)
    print(f"whole run (encoder, with its load): {ms_run:.2f} ms/step")


if __name__ == "__main__":
    main()
