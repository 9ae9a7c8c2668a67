"""Label-free model selection: does ``score`` pick what a supervised scorer picks?

Two grid searches on synthetic data with known latents (2-fold CV, one run):

(a) sphere, 3 latents, temperature x learning rate, supervised scorer R²;
(b) box, 3 latents, temperature x batch size x p, supervised scorer MCC.

Each candidate gets the encoder's label-free ``score`` (held-out top-1
retrieval accuracy in blocks of 256 pairs: what ``GridSearchCV`` uses without
``scoring``), the old criterion (minus the InfoNCE loss at the candidate's own
temperature and batch size, now ``-infonce_loss``) and the supervised score.
The summary prints, for each criterion, the supervised score of its pick and
the gap to the best candidate (the goal: within 0.02).

Run: OMP_NUM_THREADS=1 python benchmarks/bench_selection.py
"""

import time

import numpy as np
import torch
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV, KFold

from sklcm import MultimodalContrastiveEncoder
from sklcm.datasets import make_latent_partial_causal
from sklcm.metrics import mcc_scorer, r2_scorer

torch.set_num_threads(1)


def _neg_infonce(estimator, X, y=None):
    return -estimator.infonce_loss(X)


def _search(name, latent_space, grid, supervised, n_pairs=4000):
    X, z, info = make_latent_partial_causal(
        n_pairs,
        n_latents=3,
        latent_space=latent_space,
        random_state=0,
        return_info=True,
    )
    est = MultimodalContrastiveEncoder(
        n_components=3,
        split=info.split,
        latent_space=latent_space,
        hidden_layer_sizes=(64, 64),
        max_epochs=10,
        random_state=0,
    )
    start = time.perf_counter()
    search = GridSearchCV(
        est,
        grid,
        scoring={
            "score": check_scoring(est),
            "neg_infonce": _neg_infonce,
            "supervised": supervised,
        },
        refit=False,
        cv=KFold(2, shuffle=True, random_state=0),
    ).fit(X, z)
    seconds = time.perf_counter() - start
    res = search.cv_results_
    sup = res["mean_test_supervised"]
    keys = sorted(grid)
    print(
        f"\n({name}) {latent_space}, {n_pairs} pairs, {len(sup)} candidates, "
        f"2-fold CV, {seconds:.0f} s"
    )
    print(
        "  ".join(f"{k:>13}" for k in keys)
        + f"  {'score':>7}  {'-InfoNCE':>8}  {'supervised':>10}"
    )
    for i, params in enumerate(res["params"]):
        print(
            "  ".join(f"{params[k]!s:>13}" for k in keys)
            + f"  {res['mean_test_score'][i]:>7.4f}"
            f"  {res['mean_test_neg_infonce'][i]:>8.3f}  {sup[i]:>10.3f}"
        )
    best = sup.max()
    for crit in ("score", "neg_infonce"):
        pick = int(np.argmax(res[f"mean_test_{crit}"]))
        print(
            f"  pick by {crit:<12}: {res['params'][pick]}  supervised "
            f"{sup[pick]:.3f}  gap to best {best - sup[pick]:.3f}"
        )


def main():
    _search(
        "a",
        "sphere",
        {"temperature": [0.05, 0.1, 0.2, 0.5, 1.0], "lr": [3e-4, 1e-3, 3e-3]},
        r2_scorer,
    )
    _search(
        "b",
        "box",
        {"temperature": [0.1, 0.5, 2.0], "batch_size": [64, 256], "p": [1.0, 2.0]},
        mcc_scorer,
    )


if __name__ == "__main__":
    main()
