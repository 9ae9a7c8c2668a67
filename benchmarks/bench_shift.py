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
"""

import argparse
import time

import torch

from sklcm.cli._fewshot import format_fewshot_table
from sklcm.datasets import load_digits_shift, make_shifted_pairs
from sklcm.evaluation import fewshot_evaluate

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
    targets = {name: (Xt[:, :split], yt) for name, (Xt, yt) in data.targets.items()}
    return X[:, :split], X[:, split:], y, targets


def _real(source):
    data = load_digits_shift(source=source)
    X, y = data.source
    split = data.split
    targets = {name: (Xt[:, :split], yt) for name, (Xt, yt) in data.targets.items()}
    return X[:, :split], X[:, split:], y, targets


def _run(name, features, pair, y, targets, *, temperature, protocol, args):
    start = time.perf_counter()
    rows = fewshot_evaluate(
        features,
        y,
        pair=pair,
        shots=(1, 2, 5, 10),
        n_draws=args.draws,
        methods=METHODS,
        n_components=10,
        temperature=temperature,
        encoder_params={"max_epochs": args.epochs},
        targets=targets,
        protocol=protocol,
        random_state=0,
    )
    n_pool = len(y) - round(0.3 * len(y))
    print(
        f"\n## {name} | protocol {protocol} | τ {temperature} | "
        f"{args.draws} draws | {time.perf_counter() - start:.0f} s"
    )
    print(
        format_fewshot_table(
            rows, n_pool=n_pool, n_test=len(y) - n_pool, transductive=False
        )
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer pairs and draws")
    p.add_argument("--paper", action="store_true", help="also the paper's protocol")
    p.add_argument("--only", choices=("synthetic", "real"), default=None)
    args = p.parse_args()
    args.draws = 10 if args.quick else 50
    args.epochs = 60 if args.quick else 150
    n_samples = 3000 if args.quick else 6000
    protocols = ("default", "paper") if args.paper else ("default",)
    cases = []
    if args.only != "real":
        cases += [
            (
                "synthetic (a) specific shift 1.5, 3",
                _synthetic("specific", (1.5, 3.0), n_samples, 0),
                0.2,
            ),
            (
                "synthetic (b) support shift 0.2",
                _synthetic("support", (0.2,), n_samples, 0),
                0.2,
            ),
            (
                "synthetic (b) support shift 0.4",
                _synthetic("support", (0.4,), n_samples, 0),
                0.2,
            ),
        ]
    if args.only != "synthetic":
        cases += [
            ("mfeat -> digits", _real("mfeat"), 1.0),
            ("digits -> mfeat", _real("digits"), 1.0),
        ]
    for name, (features, pair, y, targets), tau in cases:
        for protocol in protocols:
            _run(
                name,
                features,
                pair,
                y,
                targets,
                temperature=tau,
                protocol=protocol,
                args=args,
            )


if __name__ == "__main__":
    main()
