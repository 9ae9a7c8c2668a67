"""Lever search for faster convergence: a plain torch loop over sklcm's modules.

Trains the encoder's two towers (:class:`sklcm.nn.TwoTowerMLP`) with
:class:`sklcm.nn.SymmetricInfoNCE` on fresh pairs every step, exactly like the
quick preset (Adam, 2% warmup then cosine decay, batch 256, n_latents = 10),
and prints the held-out score every ``--every`` steps: linear R² on the sphere
(uniform / vMF(κ=10)), MCC on the box (uniform / Laplace). With
``--ema`` a second column scores an exponential moving average of the weights,
and with ``--learn-tau`` a last column prints τ. The final line ``DIAG`` gives
Pearson and Spearman MCC and linear R² of the last model (and of its average).

A plain loop makes levers cheap to try before they become encoder parameters
(``whiten_inputs``, ``ema_decay``, ``layer_norm``, ``box_squash``); the
recipe that won is then measured through the public API by
``bench_convergence.py``. Levers here: the hidden activation's negative slope,
widths, full input whitening, LayerNorm/BatchNorm, a linear skip connection,
the box head's squashing, τ (fixed, learned or annealed), learning rate,
Adam's β₂, weight averaging, budget and seed.

Run: OMP_NUM_THREADS=1 python benchmarks/study_levers.py --geometry box \
         --steps 25000 --learn-tau --whiten --lr 5e-3 --head softclamp --ema 0.999
"""

import argparse
import copy
import functools
import json
import math
import time

import numpy as np
import torch
from torch import nn

import sklcm.nn._towers as towers
from sklcm.datasets import LatentPartialCausalSampler
from sklcm.metrics import linear_r2_score, mean_corr_coef
from sklcm.nn import SymmetricInfoNCE, TwoTowerMLP
from sklcm.nn._whitening import whitening_matrices

torch.set_num_threads(1)
CHUNK = 50  # steps per freshly drawn chunk of pairs


def _args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--geometry", choices=("sphere", "box"), default="sphere")
    p.add_argument("--steps", type=int, default=15000)
    p.add_argument("--hidden", default="128,128,128")
    p.add_argument("--slope", type=float, default=0.01, help="LeakyReLU slope")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--tau", type=float, default=None)
    p.add_argument("--learn-tau", action="store_true")
    p.add_argument("--tau-end", type=float, default=None, help="anneal τ (half run)")
    p.add_argument("--ema", type=float, default=0.0)
    p.add_argument("--beta2", type=float, default=0.999)
    p.add_argument("--whiten", action="store_true")
    p.add_argument("--norm", choices=("", "ln", "bn"), default="")
    p.add_argument("--skip", action="store_true", help="add a linear skip")
    p.add_argument("--head", choices=("sigmoid", "softclamp"), default="sigmoid")
    p.add_argument("--every", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tag", default="")
    return p.parse_args()


class _Skip(nn.Module):
    def __init__(self, mlp, n_in, n_out):
        super().__init__()
        self.mlp, self.lin = mlp, nn.Linear(n_in, n_out)

    def forward(self, x):
        return self.mlp(x) + self.lin(x)


def _with_norm(mlp, kind):
    layers = []
    for layer in mlp:
        layers.append(layer)
        if isinstance(layer, nn.Linear) and layer is not mlp[-1]:
            norm = nn.LayerNorm if kind == "ln" else nn.BatchNorm1d
            layers.append(norm(layer.out_features))
    return nn.Sequential(*layers)


def _module(a, sampler, X0):
    towers._ACTIVATIONS["study"] = functools.partial(nn.LeakyReLU, a.slope)
    hidden = tuple(int(h) for h in a.hidden.split(",")) if a.hidden else ()
    module = TwoTowerMLP(
        sampler.split,
        X0.shape[1],
        10,
        hidden,
        activation="study",
        latent_space=a.geometry,
        box_squash=a.head,
    )
    mean, std = X0.mean(axis=0), X0.std(axis=0, ddof=1)
    if a.whiten:
        rows = np.arange(len(X0))
        module._set_whitening(
            mean, *whitening_matrices(X0, rows, sampler.split, mean, std)
        )
    else:
        module._set_moments(mean, std)
    for tower in (module.tower_x, module.tower_t):
        if a.norm:
            tower.mlp = _with_norm(tower.mlp, a.norm)
        if a.skip:
            tower.mlp = _Skip(tower.mlp, len(tower.mean), 10)
    return module


def _encode_x(module, x_test):
    module.eval()
    with torch.no_grad():
        z = module.tower_x(x_test).numpy()
    module.train()
    return z


def _score(module, geometry, x_test, z_test):
    z = _encode_x(module, x_test)
    if geometry == "sphere":
        return linear_r2_score(z_test, z, random_state=0)
    return mean_corr_coef(z_test, z)


def _diagnostics(module, x_test, z_test):
    z = _encode_x(module, x_test)
    return {
        "pearson": round(mean_corr_coef(z_test, z), 4),
        "spearman": round(mean_corr_coef(z_test, z, method="spearman"), 4),
        "r2": round(linear_r2_score(z_test, z, random_state=0), 4),
    }


def _lr_factor(step, steps, warmup):
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def main():
    a = _args()
    data = (
        dict(latent_space="sphere", marginal="uniform", conditional="vmf")
        if a.geometry == "sphere"
        else dict(latent_space="box", marginal="uniform", conditional="laplace")
    )
    sampler = LatentPartialCausalSampler(10, random_state=a.seed, **data)
    X_test, z_test = sampler.sample(5000, np.random.default_rng([a.seed, 1]))
    x_test = torch.as_tensor(X_test[:, : sampler.split], dtype=torch.float32)
    X0, _ = sampler.sample(20000, np.random.default_rng([a.seed, 2]))
    torch.manual_seed(a.seed)
    module = _module(a, sampler, X0)
    tau = a.tau if a.tau is not None else (0.2 if a.geometry == "sphere" else 0.5)
    loss_fn = SymmetricInfoNCE(
        tau,
        learn_temperature=a.learn_tau,
        similarity="cosine" if a.geometry == "sphere" else "lp",
    )
    params = [*module.parameters(), *loss_fn.parameters()]
    opt = torch.optim.Adam(params, lr=a.lr, betas=(0.9, a.beta2))
    warmup = int(0.02 * a.steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: _lr_factor(t, a.steps, warmup)
    )
    average = copy.deepcopy(module) if a.ema else None
    rng = np.random.default_rng([a.seed, 3])
    start, step, curve = time.perf_counter(), 0, []
    while step < a.steps:
        chunk, _ = sampler.sample(256 * CHUNK, rng)
        chunk = torch.as_tensor(chunk, dtype=torch.float32)
        for batch in chunk.split(256):
            if a.tau_end is not None:  # log-linear over the first half
                frac = min(1.0, step / (0.5 * a.steps))
                log_tau = math.log(tau) + frac * (math.log(a.tau_end) - math.log(tau))
                loss_fn.log_temperature.fill_(log_tau)
            loss = loss_fn(*module(batch))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if average is not None:
                decay = min(a.ema, (1 + step) / (10 + step))
                with torch.no_grad():
                    for avg, p in zip(average.parameters(), module.parameters()):
                        avg.lerp_(p, 1 - decay)
            if step % a.every == 0 or step == a.steps:
                row = [step, round(_score(module, a.geometry, x_test, z_test), 4)]
                if average is not None:
                    row.append(round(_score(average, a.geometry, x_test, z_test), 4))
                if a.learn_tau:
                    row.append(round(float(loss_fn.temperature), 4))
                curve.append(row)
                print(*row, f"{time.perf_counter() - start:.0f}s", flush=True)
            if step >= a.steps:
                break
    diag = [_diagnostics(m, x_test, z_test) for m in (module, average) if m]
    print("DIAG", *diag)
    ms = 1000 * (time.perf_counter() - start) / step
    print("RESULT", a.tag, json.dumps(vars(a)), json.dumps(curve), f"ms/step {ms:.2f}")


if __name__ == "__main__":
    main()
