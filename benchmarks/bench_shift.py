"""Few-shot accuracy under distribution shift: source test rows and shifted targets.

Every method is fitted as in ``python -m sklcm fewshot`` (unsupervised steps
on the unlabelled pool, an L2 logistic probe on k shots per class) and scored
on the source's held-out test rows and, unchanged, on each target:

* synthetic shift (a), ``make_shifted_pairs(kind="specific")``: the
  modality-specific latents m_x move by ``strength`` standard deviations in
  the target, the coupled latents and the labels (nearest of 5 centres of
  z_x) do not;
* synthetic shift (b), ``kind="support"``: a cap holding a fraction
  ``strength`` of the coupled latents' distribution is held out of the
  source and present in the target;
* real shift, ``load_digits_shift``: UCI Multiple Features digits ("mfeat",
  pix view resampled to 8 x 8) against scikit-learn's digits, left half of
  the image as x, right half as the pair t, in both directions.

Methods: raw, PCA, PCA-whitened, ICA, PCA + ICA, CCA, encoder (x tower),
encoder + ICA. Protocols: the default one (C chosen on the pool's grid) and,
with ``--paper``, the paper's (C on validation shots, ICA on the shots).

Run: OMP_NUM_THREADS=1 python benchmarks/bench_shift.py [--quick] [--paper]
[--only synthetic|specific|real] [--seed S] [--draws D] [--protocol default|paper]
[--encoder-params JSON] [--r2] [--n-samples N]

``--only specific`` runs shift (a) alone. ``--encoder-params`` overrides the
encoder's parameters (default ``{"max_epochs": 150}``, 60 with ``--quick``),
e.g. ``'{"head_batch_norm": true, "batch_size": 1024, "max_epochs": 100000,
"max_steps": 8000}'``: the synthetic encoder trains on the 4,200 pool rows,
so one epoch is 16 steps at batch 256 and 4 at batch 1024. ``--r2`` prints,
per synthetic case, the held-out linear R² of the encoder's x-tower features
for the coupled latents z_x and for the specific latents m_x, on 2,000 fresh
source pairs and on each target (an invariant encoder has R²(z_x) near 1 and
R²(m_x) near 0). ``--n-samples`` sets the number of synthetic source
pairs (and of each target's rows), 6,000 by default (3,000 quick).

``--seed`` seeds the synthetic data, the encoder and the draws (the committed
``bench_shift.txt`` is seed 0; ``bench_shift_seed1.txt`` and
``bench_shift_seed2.txt`` are seeds 1 and 2 of the synthetic part);
``python benchmarks/bench_shift.py --summary`` prints the synthetic goal
check over the seeds from those files.
"""

import argparse
import json
import os
import re
import time
from contextlib import contextmanager, nullcontext
from unittest import mock

import numpy as np
import torch

from sklcm.cli._fewshot import format_fewshot_table
from sklcm.datasets import load_digits_shift, make_shifted_pairs
from sklcm.evaluation import _fewshot, fewshot_evaluate
from sklcm.metrics import linear_r2_score

torch.set_num_threads(1)

METHODS = (
    "raw",
    "pca",
    "whiten",
    "ica",
    "pca+ica",
    "cca",
    "encoder",
    "encoder+ica",
)


def _synthetic(kind, strengths, n_samples, seed):
    data = make_shifted_pairs(
        n_samples,
        kind=kind,
        strength=strengths if kind == "specific" else strengths[0],
        n_latents=4,
        n_specific=2,
        n_classes=5,
        random_state=seed,
    )
    X, y = data.source
    split = data.split
    targets = {}
    for name, (Xt, yt) in data.targets.items():
        # a held-out cap can hold a whole class: the probe cannot predict a
        # class it never saw, so its target rows are left out (and counted)
        seen = np.isin(yt, y)
        if not seen.all():
            print(
                f"# seed {seed}, {name}: {np.sum(~seen)} target rows of classes "
                f"{np.unique(yt[~seen]).tolist()} left out (no source row)"
            )
        targets[name] = (Xt[seen, :split], yt[seen])
    return X[:, :split], X[:, split:], y, targets, data


def _real(source):
    data = load_digits_shift(source=source)
    X, y = data.source
    split = data.split
    targets = {name: (Xt[:, :split], yt) for name, (Xt, yt) in data.targets.items()}
    return X[:, :split], X[:, split:], y, targets, None


@contextmanager
def _keeping_encoders(fitted):
    """Append every encoder the protocol builds to ``fitted`` (for --r2).

    With a fixed temperature the protocol fits the encoder it builds, so the
    last one is the encoder whose features were probed.
    """
    build = _fewshot._encoder

    def keep(*args, **kwargs):
        fitted.append(build(*args, **kwargs))
        return fitted[-1]

    with mock.patch.object(_fewshot, "_encoder", keep):
        yield


def _print_r2(enc, data, seed):
    """Held-out linear R² of the encoder's x features for z_x and m_x."""
    split = data.split
    X, _, info = data.sampler.sample(
        2000, domain="source", random_state=seed + 1000, return_info=True
    )
    domains = {"source (2000 fresh pairs)": (X, info)}
    for name, (Xt, _) in data.targets.items():
        domains[name] = (Xt, data.latents[name])
    print(f"# encoder ({enc.n_steps_} steps) held-out linear R² of its x features:")
    for name, (Xd, lat) in domains.items():
        Z = enc.encode(Xd[:, :split], "x")
        print(
            f"#   {name}: z_x {linear_r2_score(lat.z_x, Z):.4f}, "
            f"m_x {linear_r2_score(lat.m_x, Z):.4f}"
        )


def _run(name, features, pair, y, targets, data, *, temperature, protocol, args):
    start = time.perf_counter()
    params = {"max_epochs": args.epochs, **args.encoder_params}
    fitted = []
    keeping = _keeping_encoders(fitted) if args.r2 else nullcontext()
    with keeping:
        rows = fewshot_evaluate(
            features,
            y,
            pair=pair,
            shots=(1, 2, 5, 10),
            n_draws=args.draws,
            methods=METHODS,
            n_components=10,
            temperature=temperature,
            encoder_params=params,
            targets=targets,
            protocol=protocol,
            random_state=args.seed,
        )
    n_pool = len(y) - round(0.3 * len(y))
    print(
        f"\n## {name} | protocol {protocol} | τ {temperature} | "
        f"{args.draws} draws | seed {args.seed} | "
        f"{time.perf_counter() - start:.0f} s"
    )
    print(
        format_fewshot_table(
            rows, n_pool=n_pool, n_test=len(y) - n_pool, transductive=False
        )
    )
    if args.encoder_params:
        print(f"encoder parameters: {params}")
    if args.r2 and data is not None:
        _print_r2(fitted[-1], data, args.seed)


RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
SEED_FILES = ("bench_shift.txt", "bench_shift_seed1.txt", "bench_shift_seed2.txt")
SHOTS = (1, 2, 5, 10)


def _blocks(path):
    """(case, protocol) -> {method: [means]} of one output file: the test-row
    means at 1/2/5/10 shots, then each target's (and the targets' mean);
    key "" holds the column groups' names."""
    text = open(path, encoding="utf-8").read()
    out = {}
    for block in text.split("\n## ")[1:]:
        head = block.splitlines()[0].split(" | ")
        rows = {"": re.split(r"\s{2,}", block.splitlines()[1].strip())}
        for line in block.splitlines()[3:]:
            values = re.findall(r"(\d+\.\d) ±", line)
            if values:
                rows[line.split()[0]] = [float(v) for v in values]
        out[head[0], head[1].removeprefix("protocol ")] = rows
    return out


def _summary():
    """Goal of shift (a) at strength 3, per seed and protocol: the encoder's
    target accuracy within 2 points of its source accuracy at 5 and 10 shots,
    and above raw, PCA and CCA on the target at every shot count."""
    case = "synthetic (a) specific shift 1.5, 3"
    runs = {}
    for seed, name in enumerate(SEED_FILES):
        path = os.path.join(RESULTS, name)
        if os.path.exists(path):
            for (c, protocol), rows in _blocks(path).items():
                if c == case:
                    runs[protocol, seed] = rows
    print(f"# {case}: target specific_3, accuracy % at {SHOTS} shots")
    for (protocol, seed), rows in sorted(runs.items()):
        source = {m: v[0:4] for m, v in rows.items()}
        target = {m: v[8:12] for m, v in rows.items()}
        raw_drop = [s - t for s, t in zip(source["raw"], target["raw"])]
        gap = [s - t for s, t in zip(source["encoder"], target["encoder"])]
        margins = [
            min(e - target[r][i] for r in ("raw", "pca", "cca"))
            for i, e in enumerate(target["encoder"])
        ]
        ok_gap = all(abs(g) <= 2 for g in gap[2:])
        ok_margin = all(m > 0 for m in margins)
        fmt = " / ".join
        print(
            f"{protocol:<8} seed {seed}: encoder source "
            f"{fmt(f'{v:.1f}' for v in source['encoder'])}, target "
            f"{fmt(f'{v:.1f}' for v in target['encoder'])} (source - target "
            f"{fmt(f'{g:+.1f}' for g in gap)}; within 2 at 5/10: "
            f"{'yes' if ok_gap else 'NO'}); raw drop "
            f"{fmt(f'{d:+.1f}' for d in raw_drop)}; encoder - best of raw/PCA/CCA "
            f"on target {fmt(f'{m:+.1f}' for m in margins)} "
            f"({'yes' if ok_margin else 'NO'})"
        )
    _means_over_seeds()
    return 0


def _means_over_seeds():
    """Every synthetic case: each method's accuracy at 1 / 10 shots on the
    test rows and on each target, mean over the seeds (and its range)."""
    runs = {}
    for name in SEED_FILES:
        path = os.path.join(RESULTS, name)
        if os.path.exists(path):
            for key, rows in _blocks(path).items():
                if key[0].startswith("synthetic"):
                    runs.setdefault(key, []).append(rows)
    for (case, protocol), per_seed in runs.items():
        groups = per_seed[0][""]  # "test rows", "target NAME", ...
        print(
            f"\n## {case} | protocol {protocol} | mean over {len(per_seed)} seeds "
            f"(min..max), accuracy % at 1 / 10 shots"
        )
        print(f"{'method':<12}" + "".join(f"{g:>30}" for g in groups))
        for method in METHODS:
            cells = []
            for g in range(len(groups)):
                one = [rows[method][4 * g] for rows in per_seed]
                ten = [rows[method][4 * g + 3] for rows in per_seed]
                cells.append(
                    f"{np.mean(one):5.1f} ({min(one):.1f}..{max(one):.1f}) / "
                    f"{np.mean(ten):4.1f}"
                )
            print(f"{method:<12}" + "".join(f"{c:>30}" for c in cells))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer pairs and draws")
    p.add_argument("--paper", action="store_true", help="also the paper's protocol")
    p.add_argument(
        "--only",
        choices=("synthetic", "specific", "real"),
        default=None,
        help="specific: synthetic shift (a) alone",
    )
    p.add_argument("--seed", type=int, default=0, help="data, encoder and draws")
    p.add_argument("--draws", type=int, default=None, help="default 50 (10 quick)")
    p.add_argument(
        "--protocol", choices=("default", "paper"), default=None, help="only this one"
    )
    p.add_argument("--summary", action="store_true", help="goal check over seeds")
    p.add_argument(
        "--encoder-params",
        type=json.loads,
        default={},
        help="JSON dict of encoder parameters over the defaults",
    )
    p.add_argument("--r2", action="store_true", help="encoder R² on the latents")
    p.add_argument(
        "--n-samples", type=int, default=None, help="synthetic pairs (default 6000)"
    )
    args = p.parse_args()
    if args.summary:
        return _summary()
    if args.draws is None:
        args.draws = 10 if args.quick else 50
    args.epochs = 60 if args.quick else 150
    n_samples = 3000 if args.quick else 6000
    if args.n_samples is not None:
        n_samples = args.n_samples
    protocols = ("default", "paper") if args.paper else ("default",)
    if args.protocol is not None:
        protocols = (args.protocol,)
    cases = []
    if args.only != "real":
        cases += [
            (
                "synthetic (a) specific shift 1.5, 3",
                _synthetic("specific", (1.5, 3.0), n_samples, args.seed),
                0.2,
            ),
        ]
    if args.only in (None, "synthetic"):
        cases += [
            (
                "synthetic (b) support shift 0.2",
                _synthetic("support", (0.2,), n_samples, args.seed),
                0.2,
            ),
            (
                "synthetic (b) support shift 0.4",
                _synthetic("support", (0.4,), n_samples, args.seed),
                0.2,
            ),
        ]
    if args.only in (None, "real"):
        cases += [
            ("mfeat -> digits", _real("mfeat"), 1.0),
            ("digits -> mfeat", _real("digits"), 1.0),
        ]
    for name, (features, pair, y, targets, data), tau in cases:
        for protocol in protocols:
            _run(
                name,
                features,
                pair,
                y,
                targets,
                data,
                temperature=tau,
                protocol=protocol,
                args=args,
            )


if __name__ == "__main__":
    main()
