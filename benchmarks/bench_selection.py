"""Label-free model selection: does ``score`` pick what a supervised scorer picks?

Two grid searches on synthetic data with known latents (2-fold CV, one run):

(a) sphere, 3 latents, temperature x learning rate, supervised scorer R²;
(b) box, 3 latents, temperature x batch size x p, supervised scorer MCC.

Each candidate gets the encoder's label-free ``score`` (what ``GridSearchCV``
uses without ``scoring``; today the cross-view 10-NN agreement), and side by
side the two label-free candidates for it, held-out top-1 retrieval accuracy
and cross-view 10-NN agreement (both in blocks of 256 pairs), the old
criterion (minus the InfoNCE loss at the candidate's own temperature and batch
size, now ``-infonce_loss``) and the supervised score. The summary prints,
for each criterion, the supervised score of its pick and the gap to the best
candidate (the goal: within 0.02).

(c) real paired data (digits halves, UCI Multiple Features pix|fou): one
encoder per temperature 0.2 / 0.5 / 1 / 2 fitted on 80 % of the pairs, the
same criteria on the other 20 %, next to a 5-shot L2 logistic probe accuracy
of the x representation (20 draws); the pick of each criterion and its gap to
the best probe accuracy.

Run: OMP_NUM_THREADS=1 python benchmarks/bench_selection.py
"""

import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklcm import MultimodalContrastiveEncoder
from sklcm.datasets import (
    load_digits_halves,
    load_multiple_features,
    make_latent_partial_causal,
)
from sklcm.metrics import (
    mcc_scorer,
    neighbor_agreement,
    r2_scorer,
    retrieval_accuracy,
)
from sklcm.model_selection import FewShotSplit

torch.set_num_threads(1)


def _neg_infonce(estimator, X, y=None):
    return -estimator.infonce_loss(X)


def _views(estimator, X):
    """Both towers' representations and the geometry's similarity."""
    split = estimator.split
    z_x = estimator.encode(X[:, :split], "x")
    z_t = estimator.encode(X[:, split:], "t")
    similarity = "cosine" if estimator.latent_space == "sphere" else "lp"
    return z_x, z_t, {"similarity": similarity, "p": estimator.p}


def _retrieval(estimator, X, y=None):
    z_x, z_t, geometry = _views(estimator, X)
    return retrieval_accuracy(z_x, z_t, block_size=256, **geometry)


def _agreement(estimator, X, y=None):
    z_x, z_t, geometry = _views(estimator, X)
    return neighbor_agreement(z_x, z_t, block_size=256, **geometry)


CRITERIA = ("retrieval", "agreement", "neg_infonce")


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
            "retrieval": _retrieval,
            "agreement": _agreement,
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
        + f"  {'retrieval':>9}  {'agreement':>9}  {'-InfoNCE':>8}  {'supervised':>10}"
    )
    for i, params in enumerate(res["params"]):
        print(
            "  ".join(f"{params[k]!s:>13}" for k in keys)
            + f"  {res['mean_test_retrieval'][i]:>9.4f}"
            f"  {res['mean_test_agreement'][i]:>9.4f}"
            f"  {res['mean_test_neg_infonce'][i]:>8.3f}  {sup[i]:>10.3f}"
        )
    best = sup.max()
    for crit in ("score", *CRITERIA):
        pick = int(np.argmax(res[f"mean_test_{crit}"]))
        print(
            f"  pick by {crit:<12}: {res['params'][pick]}  supervised "
            f"{sup[pick]:.3f}  gap to best {best - sup[pick]:.3f}"
        )


def _real(name, data, temperatures=(0.2, 0.5, 1.0, 2.0), n_draws=20):
    """Real paired data: criteria on held-out pairs next to a 5-shot probe."""
    rng = np.random.default_rng(0)
    held = rng.permutation(len(data.target))[: len(data.target) // 5]
    fit = np.setdiff1d(np.arange(len(data.target)), held)
    split = data.split
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    cv = FewShotSplit(n_shots=5, n_draws=n_draws, random_state=0)
    rows = []
    start = time.perf_counter()
    for tau in temperatures:
        enc = MultimodalContrastiveEncoder(
            n_components=10, split=split, temperature=tau, device="cpu", random_state=0
        ).fit(data.data[fit])
        row = {
            "tau": tau,
            "retrieval": _retrieval(enc, data.data[held]),
            "agreement": _agreement(enc, data.data[held]),
            "neg_infonce": _neg_infonce(enc, data.data[held]),
            "probe": 100
            * cross_val_score(
                probe, enc.encode(data.data[:, :split], "x"), data.target, cv=cv
            ).mean(),
        }
        rows.append(row)
    seconds = time.perf_counter() - start
    print(
        f"\n(c) {name}: {len(fit)} pairs to fit, criteria on {len(held)} held-out "
        f"pairs, 5-shot L2 logistic probe on the x representation ({n_draws} "
        f"draws), {seconds:.0f} s"
    )
    print(
        f"  {'tau':>5}  {'retrieval':>9}  {'agreement':>9}  {'-InfoNCE':>8}  "
        f"{'5-shot %':>8}"
    )
    for r in rows:
        print(
            f"  {r['tau']:>5g}  {r['retrieval']:>9.4f}  {r['agreement']:>9.4f}  "
            f"{r['neg_infonce']:>8.3f}  {r['probe']:>8.1f}"
        )
    best = max(r["probe"] for r in rows)
    for crit in CRITERIA:
        pick = max(rows, key=lambda r: r[crit])
        print(
            f"  pick by {crit:<12}: tau={pick['tau']:g}  5-shot {pick['probe']:.1f}"
            f"  gap to best {best - pick['probe']:.1f}"
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
    _real("digits halves", load_digits_halves())
    _real("mfeat pix|fou", load_multiple_features(("pix", "fou")))


if __name__ == "__main__":
    main()
