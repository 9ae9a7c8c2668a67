"""Output heads for the partial rows: batch-normalised heads, unbounded heads.

A plain torch loop over sklcm's modules (:class:`sklcm.nn.TwoTowerMLP`,
:class:`sklcm.nn.SymmetricInfoNCE`) on fresh pairs every step (Adam, 2 %
warmup then cosine decay, batch 256, towers 128 x 3, standardised inputs),
scored on 4000 held-out pairs of the same mixing: linear R² and MCC, and for
``n_latents=2`` on the sphere the winding number of the learned map from the
latent circle to the output circle (0: folded, +-1: a rotation or
reflection).

Rows (``--row``): ``circle`` (sphere, uniform / vMF(κ=10), 2 latents),
``real-laplace`` (unbounded Laplace / Laplace, noise matched, 10 latents),
``sphere-vmf`` (the theorem row, 10 latents). Heads (``--head``): ``sphere``,
``box`` (soft clamp), ``none`` (identity); ``--batch-norm`` puts
:class:`torch.nn.BatchNorm1d` (no affine) before the head.

Two more modes go through the package instead of the plain loop:
``--api-batch-norm {auto,on,off}`` trains
:class:`sklcm.MultimodalContrastiveEncoder` with its defaults on
``--n-pairs`` fixed pairs (``fit``) and that ``head_batch_norm``
(``benchmarks/results/study_circle.txt``); ``--row-name NAME --set k=v ...``
runs a row of the reproduction table through
:func:`sklcm.experiments.run_setting` (quick preset) with encoder overrides
(``benchmarks/results/study_real.txt``), without the half-budget run of the
convergence mark unless ``--convergence-run``.

Run: OMP_NUM_THREADS=1 python benchmarks/study_heads.py --row circle \
         --head sphere --batch-norm --steps 3000 --seeds 5
     OMP_NUM_THREADS=1 python benchmarks/study_heads.py --row circle \
         --api-batch-norm on --seeds 5
     OMP_NUM_THREADS=1 python benchmarks/study_heads.py --row-name real-laplace \
         --seeds 1 --set latent_space=real head_batch_norm=True p=1.0
"""

import argparse
import time

import numpy as np
import torch

from sklcm.experiments._presets import select_settings
from sklcm.experiments._runner import _make_sampler
from sklcm.metrics import linear_r2_score, mean_corr_coef
from sklcm.nn import SymmetricInfoNCE, TwoTowerMLP

torch.set_num_threads(1)

_ROWS = {"circle": ("sphere-vmf", 2), "real-laplace": ("real-laplace", 10)}
_ROWS["sphere-vmf"] = ("sphere-vmf", 10)


def winding_number(z, z_hat):
    """Turns of ``z_hat``'s angle while ``z`` goes once around the circle."""
    order = np.argsort(np.arctan2(z[:, 1], z[:, 0]))
    angle = np.arctan2(z_hat[order, 1], z_hat[order, 0])
    step = np.diff(np.r_[angle, angle[:1]])
    return float(((step + np.pi) % (2 * np.pi) - np.pi).sum() / (2 * np.pi))


def run(args, seed):
    name, n_latents = _ROWS[args.row]
    (setting,) = select_settings([name])
    sampler = _make_sampler(setting, n_latents, seed)
    torch.manual_seed(seed)
    module = TwoTowerMLP(
        sampler.split,
        sampler.sample(2, random_state=0)[0].shape[1],
        n_latents,
        hidden_layer_sizes=(128, 128, 128),
        latent_space=args.head,
        box_squash="softclamp",
        head_batch_norm=args.batch_norm,
    )
    X_fit, _ = sampler.sample(20000, random_state=1000 + seed)
    module.set_standardization(torch.as_tensor(X_fit, dtype=torch.float32))
    similarity = "cosine" if args.head == "sphere" else "lp"
    loss_fn = SymmetricInfoNCE(
        temperature=args.tau, learn_temperature=args.learn_tau, similarity=similarity
    )
    params = list(module.parameters()) + list(loss_fn.parameters())
    opt = torch.optim.Adam(params, lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, args.lr, total_steps=args.steps, pct_start=0.02, anneal_strategy="cos"
    )
    X_test, z_test = sampler.sample(4000, random_state=100 + seed)
    X_test = torch.as_tensor(X_test, dtype=torch.float32)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(args.steps):
        X, _ = sampler.sample(256, random_state=rng)
        loss = loss_fn(*module(torch.as_tensor(X, dtype=torch.float32)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    module.eval()
    with torch.no_grad():
        z_hat = module(X_test)[0].numpy()
    row = {
        "r2": linear_r2_score(z_test, z_hat),
        "mcc": mean_corr_coef(z_test, z_hat),
        "tau": float(loss_fn.temperature),
        "seconds": time.perf_counter() - start,
    }
    if n_latents == 2:
        row["winding"] = winding_number(z_test, z_hat)
    return row


def _overrides(items):
    """``key=value`` strings as keyword arguments (values as Python literals)."""
    import ast

    overrides = {}
    for item in items:
        key, value = item.split("=", 1)
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value
    return overrides


def run_api(args, seed):
    """The public estimator with its defaults on ``--n-pairs`` fixed pairs."""
    from sklcm import MultimodalContrastiveEncoder

    name, n_latents = _ROWS[args.row]
    (setting,) = select_settings([name])
    sampler = _make_sampler(setting, n_latents, seed)
    X, _ = sampler.sample(args.n_pairs, random_state=1000 + seed)
    X_test, z_test = sampler.sample(4000, random_state=100 + seed)
    head_bn = {"auto": "auto", "on": True, "off": False}[args.api_batch_norm]
    params = {"latent_space": args.head} if args.head != "sphere" else {}
    enc = MultimodalContrastiveEncoder(
        n_latents,
        split=sampler.split,
        head_batch_norm=head_bn,
        random_state=seed,
        **{**params, **_overrides(args.set)},
    )
    start = time.perf_counter()
    enc.fit(X)
    z_hat = enc.transform(X_test)
    row = {
        "r2": linear_r2_score(z_test, z_hat),
        "mcc": mean_corr_coef(z_test, z_hat),
        "steps": enc.n_steps_,
        "seconds": time.perf_counter() - start,
    }
    if n_latents == 2:
        row["winding"] = winding_number(z_test, z_hat)
    return row


def run_row(args, seed):
    """A table row through the reproduction runner (quick preset), its
    encoder overridden by ``--set key=value`` pairs."""
    from dataclasses import replace

    from sklcm.experiments import _runner, run_setting

    (setting,) = select_settings([args.row_name])
    overrides = _overrides(args.set)
    space = overrides.pop("latent_space", setting.latent_space)
    setting = replace(
        setting, latent_space=space, encoder={**setting.encoder, **overrides}
    )
    if not args.convergence_run:  # the half-budget run of the convergence mark
        _runner._half_budget_score = lambda *a, **k: (float("nan"), 0.0)
    result = run_setting(setting, seed, preset="quick")
    row = {
        "mcc": result["mcc"],
        "r2": result["r2"],
        "tau": result["final_temperature"],
        "steps": result["steps"],
    }
    if args.convergence_run:
        row.update(
            half_budget=result["half_budget_score"],
            gain_4_3=result["extension_gain"],
            converged=str(result["converged"]),
        )
    return {**row, "seconds": result["fit_time"]}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--row", choices=sorted(_ROWS), default="circle")
    p.add_argument("--head", choices=("sphere", "box", "none"), default="sphere")
    p.add_argument("--batch-norm", action="store_true")
    p.add_argument("--tau", type=float, default=0.2)
    p.add_argument("--learn-tau", action="store_true")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument(
        "--api-batch-norm",
        choices=("auto", "on", "off"),
        help="train MultimodalContrastiveEncoder with its defaults (10k fixed "
        "pairs) and this head_batch_norm instead of the plain loop",
    )
    p.add_argument("--n-pairs", type=int, default=10_000)
    p.add_argument(
        "--row-name",
        help="run this row of the reproduction table through the runner "
        "(quick preset) instead of the plain loop",
    )
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        help="encoder overrides for --row-name, e.g. latent_space=real "
        "temperature=0.5 learn_temperature=False head_batch_norm=True",
    )
    p.add_argument(
        "--convergence-run",
        action="store_true",
        help="with --row-name, also train the half-budget run of the "
        "convergence mark (skipped by default: it adds half a run)",
    )
    p.add_argument("--first-seed", type=int, default=0)
    args = p.parse_args()
    if args.row_name is not None:
        print(f"runner, quick preset: row={args.row_name} set {args.set}", flush=True)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            row = run_row(args, seed)
            print(
                f"  seed {seed}: "
                + "  ".join(
                    f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in row.items()
                    if k != "seconds"
                )
                + f"  {row['seconds']:.0f} s",
                flush=True,
            )
        return
    if args.api_batch_norm is not None:
        print(
            f"public API: row={args.row} n_pairs={args.n_pairs} "
            f"head_batch_norm={args.api_batch_norm}, set {args.set}, other "
            "parameters default",
            flush=True,
        )
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            row = run_api(args, seed)
            print(
                f"  seed {seed}: "
                + "  ".join(
                    f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in row.items()
                    if k != "seconds"
                )
                + f"  {row['seconds']:.0f} s",
                flush=True,
            )
        return
    print(
        f"row={args.row} head={args.head} batch_norm={args.batch_norm} "
        f"tau={args.tau}{' learned' if args.learn_tau else ''} lr={args.lr} "
        f"steps={args.steps} (pairs {256 * args.steps})",
        flush=True,
    )
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        row = run(args, seed)
        print(
            f"  seed {seed}: "
            + "  ".join(f"{k} {v:.3f}" for k, v in row.items() if k != "seconds")
            + f"  {row['seconds']:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
