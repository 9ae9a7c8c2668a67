"""Study: which rule on the held-out label-free score picks the temperature
that the few-shot probe wants, across many real view pairs.

For every unordered pair of the six UCI Multiple Features views (15 pairs)
and the digits halves, and every temperature of the grid, the default encoder
(``n_components=10``) is

* cross-validated on the unlabelled pool (shuffled K-fold): fitted on K-1
  folds, scored with ``encoder.score`` (cross-view neighbour agreement) on the
  held-out fold -> one score per (tau, fold);
* refitted on the whole pool, and its x and t representations probed with an
  L2 logistic regression (C=1) on 1/5/10 shots per class (FewShotSplit, fixed
  30 % test set) -> accuracy per (tau, shots) for both probed views, i.e. both
  ordered pairs (the encoder is symmetric in training: one fit per unordered
  pair).

The raw measurements go to ``benchmarks/results/study_selection_rule.jsonl``
(one line per unordered pair, appended as it goes); ``--analyse`` reads them
and compares selection rules: per shot count, the rank correlation of the
pick with the labelled best temperature and the points lost against the best
fixed temperature of each ordered pair (mean and max).

Usage: nice -n 10 python benchmarks/study_selection_rule.py [--max-epochs N]
       [--folds K] [--draws D] [--pairs N]
       python benchmarks/study_selection_rule.py --analyse
"""
# License: BSD 3 clause

import argparse
import itertools
import json
import os
import sys
import time

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from sklcm import MultimodalContrastiveEncoder
from sklcm._encoder_cv import select_temperature
from sklcm.datasets import load_digits_halves, load_multiple_features
from sklcm.model_selection import FewShotSplit

torch.set_num_threads(1)
TEMPERATURES = (0.2, 0.5, 1.0, 2.0)
SHOTS = (1, 5, 10)
SHIPPED = ("pix|fou", "fac|kar", "left|right")  # the pairs of bench_realdata
VIEWS = ("fou", "fac", "kar", "pix", "zer", "mor")
HERE = os.path.dirname(os.path.abspath(__file__))
RAW = os.path.join(HERE, "results", "study_selection_rule.jsonl")
OUT = os.path.join(HERE, "results", "study_selection_rule.txt")


def _pairs():
    for a, b in itertools.combinations(VIEWS, 2):
        yield f"{a}|{b}", load_multiple_features((a, b))
    yield "left|right", load_digits_halves()


def _probe(Z, y, pool, shots, draws):
    """Mean few-shot accuracy (%) of an L2 logistic probe, per shot count."""
    Z = StandardScaler().fit(Z[pool]).transform(Z)
    out = {}
    for k in shots:
        cv = FewShotSplit(k, n_draws=draws, test_size=0.3, random_state=0)
        accs = [
            LogisticRegression(max_iter=1000).fit(Z[tr], y[tr]).score(Z[te], y[te])
            for tr, te in cv.split(Z, y)
        ]
        out[k] = 100 * float(np.mean(accs))
    return out


def _measure(name, data, args):
    X, y, split = data.data, data.target, data.split
    pool, _ = FewShotSplit(test_size=0.3, random_state=0).split_pool(X, y)
    folds = list(KFold(args.folds, shuffle=True, random_state=args.seed).split(pool))
    row = {"pair": name, "views": list(data.views), "scores": {}, "acc": {}}
    for tau in TEMPERATURES:
        params = dict(
            n_components=10,
            split=split,
            temperature=tau,
            max_epochs=args.max_epochs,
            random_state=args.seed,
        )
        row["scores"][tau] = [
            MultimodalContrastiveEncoder(**params).fit(X[pool[tr]]).score(X[pool[te]])
            for tr, te in folds
        ]
        enc = MultimodalContrastiveEncoder(**params).fit(X[pool])
        row["acc"][tau] = {
            view: _probe(
                enc.encode(X[:, :split] if m == "x" else X[:, split:], m).astype(
                    np.float64
                ),
                y,
                pool,
                SHOTS,
                args.draws,
            )
            for view, m in zip(data.views, "xt")
        }
    return row


# ------------------------------------------------------------------ rules
def _rules():
    """Selection rules: (name, function of the (tau, fold) score table)."""
    taus = np.asarray(TEMPERATURES)

    def fixed(tau):
        return lambda s: tau

    def rule(rule):
        return lambda s: select_temperature(taus, s, rule=rule)

    return [
        ("argmax mean score", rule("best")),
        ("next larger tau after the best", rule("next")),
        ("next, first 2 folds only", lambda s: select_temperature(taus, s[:, :2])),
        ("next, first fold only", lambda s: select_temperature(taus, s[:, :1])),
        ("one-SE toward larger tau", rule("one_se")),
        ("largest tau within 1% of best", rule(0.01)),
        ("largest tau within 2% of best", rule(0.02)),
        ("largest tau within 5% of best", rule(0.05)),
        ("largest tau within 10% of best", rule(0.10)),
        ("largest tau within 15% of best", rule(0.15)),
        ("largest tau within 25% of best", rule(0.25)),
        ("largest tau within 30% of best", rule(0.30)),
        ("largest tau within 35% of best", rule(0.35)),
        (
            "within 30%, first 2 folds only",
            lambda s: select_temperature(taus, s[:, :2], rule=0.3),
        ),
        (
            "within 30%, first fold only",
            lambda s: select_temperature(taus, s[:, :1], rule=0.3),
        ),
        (
            "one-SE, first 2 folds only",
            lambda s: select_temperature(taus, s[:, :2], rule="one_se"),
        ),
        (
            "argmax, first fold only",
            lambda s: select_temperature(taus, s[:, :1], rule="best"),
        ),
        ("one-SE, 2 SE", lambda s: _two_se(taus, s)),
        ("fixed tau=0.2", fixed(0.2)),
        ("fixed tau=0.5", fixed(0.5)),
        ("fixed tau=1", fixed(1.0)),
        ("fixed tau=2", fixed(2.0)),
    ]


def _two_se(taus, s):
    means = s.mean(1)
    best = int(np.argmax(means))
    se = s[best].std(ddof=1) / np.sqrt(s.shape[1])
    return float(taus[means >= means[best] - 2 * se].max())


def _load(raw=None):
    with open(raw or RAW) as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    ordered = []  # (pair label, score table (tau, fold), acc[tau][shots])
    for row in rows:
        table = np.array([row["scores"][str(t)] for t in TEMPERATURES])
        for view in row["views"]:
            other = [v for v in row["views"] if v != view][0]
            acc = np.array(
                [
                    [row["acc"][str(t)][view][str(k)] for k in SHOTS]
                    for t in TEMPERATURES
                ]
            )
            ordered.append((f"{view}|{other}", table, acc))
    return ordered


def analyse(out, raw=None):
    ordered = _load(raw)
    taus = list(TEMPERATURES)
    out(
        "\n## per ordered pair (probed view | partner): mean held-out score per tau,"
        " and 1/5/10-shot accuracy per tau"
    )
    for name, table, acc in ordered:
        sc = " ".join(f"{m:.3f}" for m in table.mean(1))
        ac = "  ".join("/".join(f"{a:.1f}" for a in acc[i]) for i in range(len(taus)))
        rho = spearmanr(table.mean(1), acc.mean(1)).statistic
        out(f"{name:12s} score {sc}   acc {ac}   spearman(score, acc) {rho:+.2f}")
    rhos = [spearmanr(t.mean(1), a.mean(1)).statistic for _, t, a in ordered]
    out(
        f"criterion: mean Spearman(score, mean accuracy) over {len(ordered)} "
        f"ordered pairs {np.nanmean(rhos):+.2f}, min {np.nanmin(rhos):+.2f}"
    )
    out(
        f"\n## rules ({len(ordered)} ordered pairs); loss = best fixed tau of the"
        " pair minus the pick, in points; rho = Spearman across pairs of the"
        " picked tau with the labelled best tau; hits = picks equal to it"
    )
    out(
        "(shipped max = max loss over the three pairs of bench_realdata: pix|fou,"
        " fac|kar, left|right, at 1/5/10 shots)"
    )
    out(
        f"{'rule':32s} "
        + "  ".join(f"{k:>2d}-shot mean/max loss  rho  hits" for k in SHOTS)
    )
    summary = {}
    for rname, fn in _rules():
        picks = np.array([taus.index(fn(t)) for _, t, _ in ordered])
        cells = []
        for j, _ in enumerate(SHOTS):
            acc = np.array([a[:, j] for _, _, a in ordered])
            best = acc.argmax(1)
            loss = acc.max(1) - acc[np.arange(len(acc)), picks]
            rho = spearmanr(picks, best).statistic
            rho = 0.0 if np.isnan(rho) else rho
            hits = int(np.sum(picks == best))
            cells.append(
                f"{loss.mean():6.2f} /{loss.max():6.2f}  {rho:+.2f}  {hits:3d}"
            )
            summary[rname, SHOTS[j]] = (loss.mean(), loss.max())
        counts = np.bincount(picks, minlength=len(taus))
        acc = np.array([a for _, _, a in ordered])
        loss = acc.max(1) - acc[np.arange(len(acc)), picks]
        shipped = [n in SHIPPED for n, _, _ in ordered]
        out(
            f"{rname:32s} "
            + "   ".join(cells)
            + "   shipped max "
            + "/".join(f"{v:.1f}" for v in loss[shipped].max(0))
            + "   picks "
            + " ".join(f"{t}:{c}" for t, c in zip(taus, counts))
        )
    return summary


def synthetic(out, n_samples, max_epochs):
    """The CV estimator with its defaults on the synthetic sphere (3 latents)."""
    from sklcm import MultimodalContrastiveEncoderCV
    from sklcm.datasets import make_latent_partial_causal
    from sklcm.metrics import linear_r2_score

    X, z, info = make_latent_partial_causal(
        2 * n_samples, n_latents=3, random_state=0, return_info=True
    )
    enc = MultimodalContrastiveEncoder(
        n_components=3, split=info.split, max_epochs=max_epochs, random_state=0
    )
    start = time.perf_counter()
    search = MultimodalContrastiveEncoderCV(enc).fit(X[:n_samples])
    r2 = linear_r2_score(z[n_samples:], search.transform(X[n_samples:]))
    means = " ".join(
        f"{t:g}:{m:.3f}±{s.std(ddof=1) / np.sqrt(len(s)):.3f}"
        for t, m, s in zip(search.temperatures_, search.scores_.mean(1), search.scores_)
    )
    fixed = " ".join(
        f"{t:g}:"
        + format(
            linear_r2_score(
                z[n_samples:],
                clone(enc)
                .set_params(temperature=t)
                .fit(X[:n_samples])
                .transform(X[n_samples:]),
            ),
            ".3f",
        )
        for t in search.temperatures_
    )
    out(
        f"\n## synthetic sphere (make_latent_partial_causal, 3 latents, "
        f"{n_samples} pairs, max_epochs={max_epochs}): MultimodalContrastiveEncoderCV "
        f"defaults -> temperature_ {search.temperature_:g}; held-out scores "
        f"(mean ± SE) {means}; refitted encoder held-out R² {r2:.3f} "
        f"(fixed tau: {fixed}) [{time.perf_counter() - start:.0f} s]"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--pairs", type=int, default=None)
    parser.add_argument("--only", nargs="*", default=None, metavar="PAIR")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--analyse", action="store_true")
    parser.add_argument("--synthetic", type=int, default=None, metavar="N_SAMPLES")
    args = parser.parse_args()
    out_fh = open(OUT, "a" if not args.analyse else "a")

    def out(line=""):
        print(line)
        out_fh.write(line + "\n")
        out_fh.flush()

    if args.seed:  # a replication: its own raw file
        global RAW
        RAW = RAW.replace(".jsonl", f"_seed{args.seed}.jsonl")
    if args.analyse:
        analyse(out)
        return
    if args.synthetic:
        synthetic(out, args.synthetic, args.max_epochs)
        return
    done = set()
    if os.path.exists(RAW):
        with open(RAW) as fh:
            done = {json.loads(line)["pair"] for line in fh if line.strip()}
    out(
        f"# study_selection_rule: taus {TEMPERATURES}, {args.folds}-fold shuffled CV "
        f"on the pool (70 %), max_epochs={args.max_epochs}, n_components=10, "
        f"{args.draws} draws, shots {SHOTS}; cpu_count={os.cpu_count()}, "
        "1 torch thread"
    )
    start = time.perf_counter()
    for i, (name, data) in enumerate(_pairs()):
        if args.pairs is not None and i >= args.pairs:
            break
        if name in done or (args.only and name not in args.only):
            continue
        t0 = time.perf_counter()
        row = _measure(name, data, args)
        with open(RAW, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        means = " ".join(f"{t}:{np.mean(s):.3f}" for t, s in row["scores"].items())
        out(
            f"{name:12s} done in {time.perf_counter() - t0:5.0f} s; mean scores {means}"
        )
    out(f"wall time {time.perf_counter() - start:.0f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
