"""Study: on the synthetic sphere, which temperature gives the best held-out R²,
and does ``MultimodalContrastiveEncoderCV`` (defaults) pick it?

The paper's setting: :func:`~sklcm.datasets.make_latent_partial_causal` with
its sphere defaults (z_x uniform on the sphere, z_t | z_x von Mises-Fisher
with concentration κ = 10, 3-layer invertible MLP mixings), ``n_latents`` 3
and 10, a fixed set of training pairs. For each setting and budget:

* fixed τ ∈ {0.2, 0.5, 1, 2}: the default encoder (``n_components=n_latents``,
  100 epochs) trained on the pairs at that τ, its held-out R²
  (:func:`sklcm.metrics.linear_r2_score`, fitted and scored on 2,000 fresh
  pairs of the same generator, split inside the metric) and its label-free
  score (cross-view 10-NN agreement) on 1,000 fresh pairs;
* ``MultimodalContrastiveEncoderCV`` with its defaults (the same four
  candidates, 3-fold, rule "next") around the same encoder: its pick, its
  held-out scores (mean over folds) and the rule "best"'s pick on the same
  table.

Budgets: the default (``--pairs`` pairs, default 2,000, 100 epochs: 800
steps at batch 256) and 3× the steps and pairs (3 × the pairs, 100 epochs).

Usage: nice -n 10 python benchmarks/study_synthetic_tau.py [--latents 3 10]
       [--budgets 1 3] [--pairs 2000] [--seed 0] [--concentration 10]
       [--out FILE]
"""
# License: BSD 3 clause

import argparse
import os
import time

import numpy as np
import torch

from sklcm import MultimodalContrastiveEncoder, MultimodalContrastiveEncoderCV
from sklcm._encoder_cv import select_temperature
from sklcm.datasets import make_latent_partial_causal
from sklcm.metrics import linear_r2_score, neighbor_agreement

torch.set_num_threads(1)
TAUS = (0.2, 0.5, 1.0, 2.0)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "results", "study_synthetic_tau.txt")


def _say(out, line):
    print(line, flush=True)
    with open(out, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def _setting(n_latents, budget, n_pairs, seed, out, concentration=10.0):
    X, _, info = make_latent_partial_causal(
        budget * n_pairs,
        n_latents=n_latents,
        concentration=concentration,
        random_state=seed,
        return_info=True,
    )
    X_held, z_held = info.sampler.sample(2000, random_state=100 + seed)
    split = info.split
    template = MultimodalContrastiveEncoder(
        n_latents, split=split, random_state=seed, device="cpu"
    )
    _say(
        out,
        f"## sphere/vMF kappa={info.concentration:g}, n_latents={n_latents}, "
        f"{len(X)} pairs, 100 epochs (budget {budget}x), seed {seed}",
    )
    r2 = {}
    for tau in TAUS:
        start = time.perf_counter()
        enc = MultimodalContrastiveEncoder(
            **{**template.get_params(), "temperature": tau}
        )
        enc.fit(X)
        agreement = neighbor_agreement(
            enc.encode(X_held[:1000, :split], "x"),
            enc.encode(X_held[:1000, split:], "t"),
            block_size=1000,
        )
        r2[tau] = linear_r2_score(z_held, enc.transform(X_held), random_state=0)
        _say(
            out,
            f"  fixed tau={tau:<4g} steps={enc.n_steps_:<5d} "
            f"{time.perf_counter() - start:6.1f}s  fresh-pair agreement="
            f"{agreement:.3f}  heldout_R2={r2[tau]:.3f}",
        )
    start = time.perf_counter()
    search = MultimodalContrastiveEncoderCV(template, temperatures=TAUS).fit(X)
    means = search.scores_.mean(axis=1)
    se = search.scores_.std(axis=1, ddof=1) / np.sqrt(search.n_splits_)
    best_r2 = max(r2, key=r2.get)
    pick = search.temperature_
    by_best = select_temperature(TAUS, search.scores_, rule="best")
    cv_r2 = linear_r2_score(z_held, search.transform(X_held), random_state=0)
    table = ", ".join(f"{t:g}: {m:.3f}±{s:.3f}" for t, m, s in zip(TAUS, means, se))
    _say(
        out,
        f"  CV (3-fold, rule next) {time.perf_counter() - start:6.1f}s: held-out "
        f"agreement {table}\n"
        f"  -> pick tau={pick:g} (refit R2 {cv_r2:.3f}); rule best would pick "
        f"{by_best:g} (R2 {r2[by_best]:.3f}); best-R2 tau={best_r2:g} "
        f"(R2 {r2[best_r2]:.3f}); tau 0.2 R2 {r2[0.2]:.3f}; "
        f"pick loses {r2[best_r2] - r2[pick]:.3f} R2",
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latents", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--budgets", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--concentration", type=float, default=10.0, help="vMF kappa (default 10)"
    )
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args(argv)
    _say(
        args.out,
        f"# study_synthetic_tau: make_latent_partial_causal sphere defaults, "
        f"default encoder (n_components=n_latents, 100 epochs, batch 256), fixed "
        f"taus {TAUS} and MultimodalContrastiveEncoderCV defaults; held-out R2 on "
        f"2000 fresh pairs; cpu_count={os.cpu_count()}, 1 torch thread, shared CPU",
    )
    start = time.perf_counter()
    for budget in args.budgets:
        for n_latents in args.latents:
            _setting(
                n_latents, budget, args.pairs, args.seed, args.out, args.concentration
            )
    _say(args.out, f"wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
