"""K-view encoder: block identifiability on synthetic views, few-shot on six UCI views.

Part ``synthetic`` (issue 20 goal): four views over six latents (the layout
of Yao et al.'s numerical study, ``make_multiview_latents`` defaults),
3-layer invertible MLP mixing per view. One K-view encoder contrasts every
subset of >= 2 views (``subsets="all"``, 11 subsets) on its own content block
(as many columns as the subset shares latents). For every subset, each true
latent is regressed linearly on that subset's block (view-averaged, then
view 0's), 75/25 split: goal R² >= 0.95 for the latents the subset's views
share, <= 0.2 for the others. Then six separate two-view encoders, one per
pair, with the same total number of steps split between them, on the pair
blocks only. The goal is met on seeds 0, 1 and 2 with ``--box-squash
softclamp --steps 7500`` (one seed per call, each under 10 minutes;
``results/bench_multiview_synthetic_softclamp_7500.txt``). With
``--subsets pairs`` the K-view encoder contrasts the six pairs only (6
blocks), to compare with ``"all"`` on the pair blocks.

Part ``uci``: the six feature sets of UCI Multiple Features as six views.
A fixed stratified test set of 600 rows; the encoder is fitted on the other
1,400 (the pool). One six-view encoder contrasts the 15 pairs, 10 columns
per pair block; each view's representation is its 5 pair blocks (50
columns). Few-shot L2 logistic probe (C=1, standardised features), 50 draws,
1/5/10 shots, against the raw view, PCA-10 and PCA-50 (fitted on the pool).

With ``--pairs``, also the 15 two-view encoders of the same recipe (one per
pair of views); for each view the best of its five partners at each shot
count (chosen on the test accuracy, which favours that baseline).

With ``--subsets all``, every subset of at least two views (57 blocks)
instead of the 15 pairs: ``--block`` columns each (each view's
representation then holds its 31 blocks), or ``--n-components`` shared
equally between the blocks.

Usage: python benchmarks/bench_multiview.py {synthetic,uci} [--seeds 0 1 2]
[--steps N] [--pairs] [--subsets {pairs,all}] [--block B] [--n-components N]
[--out FILE]; each part runs in under 10 minutes on one CPU core.
"""
# License: BSD 3 clause

import argparse
import itertools
import sys
import time

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklcm import MultimodalContrastiveEncoder
from sklcm.datasets import load_multiple_features, make_multiview_latents
from sklcm.metrics import block_r2_table
from sklcm.model_selection import FewShotSplit

torch.set_num_threads(1)


def _log(out, text=""):
    print(text, flush=True)
    if out is not None:
        with open(out, "a") as f:
            f.write(text + "\n")


# ---------------------------------------------------------------- synthetic
SYNTH = dict(
    latent_space="box",
    box_squash="sigmoid",
    marginal="uniform",
    hidden_layer_sizes=(128, 128, 128),
    batch_size=256,
    lr=2e-3,
    n_train=20000,
    n_test=8000,
)


def _synthetic_encoder(split, subsets, sizes, steps, seed, cfg):
    return MultimodalContrastiveEncoder(
        n_components=sum(sizes),
        split=split,
        subsets=subsets,
        content_sizes=sizes,
        latent_space=cfg["latent_space"],
        box_squash=cfg["box_squash"],
        hidden_layer_sizes=cfg["hidden_layer_sizes"],
        batch_size=cfg["batch_size"],
        lr=cfg["lr"],
        max_epochs=10_000,
        max_steps=steps,
        whiten_inputs=True,
        device="cpu",
        random_state=seed,
    )


def _goal_line(name, table, subsets, shared, n_latents):
    worst_in, worst_out = 1.0, -np.inf
    for b, subset in enumerate(subsets):
        inside = list(shared[subset])
        outside = [j for j in range(n_latents) if j not in inside]
        worst_in = min(worst_in, table[b, inside].min())
        if outside:
            worst_out = max(worst_out, table[b, outside].max())
    ok = worst_in >= 0.95 and worst_out <= 0.2
    return (
        f"{name}: min R² over shared latents {worst_in:.3f} (goal >= 0.95), "
        f"max R² over non-shared latents {worst_out:.3f} (goal <= 0.2) -> "
        f"{'MET' if ok else 'NOT MET'}"
    )


def _print_table(out, table, subsets, shared, n_latents):
    _log(
        out,
        f"{'subset':<14}{'shared':<16}"
        + "".join(f"{f'z{j}':>8}" for j in range(n_latents)),
    )
    for b, subset in enumerate(subsets):
        cells = "".join(
            f"{table[b, j]:>7.3f}{'*' if j in shared[subset] else ' '}"
            for j in range(n_latents)
        )
        _log(out, f"{str(subset):<14}{str(shared[subset]):<16}{cells}")
    _log(out, "(* = latent shared by the subset's views)")


def run_synthetic(seeds, steps, out, cfg=SYNTH):
    _log(out, f"== synthetic: 4 views over 6 latents, config {cfg}, {steps} steps")
    for seed in seeds:
        X, y, info = make_multiview_latents(
            cfg["n_train"] + cfg["n_test"],
            marginal=cfg["marginal"],
            random_state=seed,
            return_info=True,
        )
        train, test = slice(0, cfg["n_train"]), slice(cfg["n_train"], None)
        shared = info.shared_latents
        subsets = list(shared)
        if cfg.get("subsets") == "pairs":  # the K-view encoder on pair blocks only
            subsets = [s for s in subsets if len(s) == 2]
        sizes = [len(shared[s]) for s in subsets]
        if not cfg.get("pairs_only"):
            enc = _synthetic_encoder(info.split, subsets, sizes, steps, seed, cfg)
            start = time.perf_counter()
            enc.fit(X[train])
            seconds = time.perf_counter() - start
            _log(out, f"-- seed {seed}: K-view encoder, subsets="
                 f"{cfg.get('subsets', 'all')!r} ({len(subsets)} "
                 f"blocks, sizes {sizes}), {enc.n_steps_} steps, {seconds:.0f} s, "
                 f"tau {enc.temperature_:.2f}")  # fmt: skip
            blocks = enc.content_blocks_
            Z_mean = enc.set_params(view="mean").transform(X[test])
            table = block_r2_table(y[test], Z_mean, blocks, test_size=0.25)
            _log(out, "view-averaged blocks (view='mean'):")
            _print_table(out, table, subsets, shared, info.n_latents)
            _log(out, _goal_line(f"seed {seed} K-view mean", table, subsets, shared, 6))
            Z0 = enc.set_params(view=0).transform(X[test])
            names = list(enc.get_feature_names_out())
            rows = [b for b, s in enumerate(subsets) if 0 in s]
            blocks0 = {
                subsets[b]: [
                    i for i, n in enumerate(names)
                    if f"_block{'-'.join(map(str, subsets[b]))}_" in n
                ]
                for b in rows
            }  # fmt: skip
            table0 = block_r2_table(y[test], Z0, blocks0, test_size=0.25)
            sub0 = [subsets[b] for b in rows]
            _log(out, _goal_line(f"seed {seed} K-view view 0", table0, sub0, shared, 6))
        if cfg.get("no_two_view"):
            _log(out)
            continue
        # separate two-view encoders, same total steps (or pair_steps each)
        pairs = [s for s in subsets if len(s) == 2]
        start = time.perf_counter()
        pair_rows = []
        for pair in pairs:
            cols = np.concatenate(
                [np.arange(sum(info.split[:k]), sum(info.split[: k + 1])) for k in pair]
            )
            pair_enc = _synthetic_encoder(
                [info.split[k] for k in pair], "pairs", [len(shared[pair])],
                cfg.get("pair_steps") or steps // len(pairs), seed, cfg,
            ).set_params(view="mean")  # fmt: skip
            pair_enc.fit(X[train][:, cols])
            Zp = pair_enc.transform(X[test][:, cols])
            pair_rows.append(
                block_r2_table(y[test], Zp, {pair: slice(None)}, test_size=0.25)[0]
            )
        seconds = time.perf_counter() - start
        pair_table = np.asarray(pair_rows)
        each = cfg.get("pair_steps") or steps // len(pairs)
        _log(out, f"-- seed {seed}: {len(pairs)} two-view encoders, {each} "
             f"steps each, {seconds:.0f} s (pair blocks only)")  # fmt: skip
        _print_table(out, pair_table, pairs, shared, info.n_latents)
        if not cfg.get("pairs_only"):
            kview_pairs = table[[subsets.index(p) for p in pairs]]
            name = f"seed {seed} K-view pairs"
            _log(out, _goal_line(name, kview_pairs, pairs, shared, 6))
        _log(out, _goal_line(f"seed {seed} two-view", pair_table, pairs, shared, 6))
        _log(out)


# ---------------------------------------------------------------------- uci
UCI_VIEWS = ("fou", "fac", "kar", "pix", "zer", "mor")
SHOTS = (1, 5, 10)


def _load_six():
    blocks = [
        load_multiple_features(pair).data
        for pair in (UCI_VIEWS[:2], UCI_VIEWS[2:4], UCI_VIEWS[4:])
    ]
    data = load_multiple_features(UCI_VIEWS[:2])
    X = np.hstack(blocks)
    widths = []
    for pair in (UCI_VIEWS[:2], UCI_VIEWS[2:4], UCI_VIEWS[4:]):
        d = load_multiple_features(pair)
        widths += [d.split, d.data.shape[1] - d.split]
    return X, data.target, widths


def _fewshot(Z, y, pool, test, draws):
    """Mean and std accuracy (%) per shot count; scaler fitted on the pool."""
    Z = StandardScaler().fit(Z[pool]).transform(Z)
    res = {}
    for shots in SHOTS:
        # the same fixed test set as split_pool (same test_size and int seed)
        cv = FewShotSplit(n_shots=shots, n_draws=draws, test_size=600, random_state=0)
        scores = cross_validate(LogisticRegression(C=1.0, max_iter=2000), Z, y, cv=cv)[
            "test_score"
        ]
        res[shots] = (100 * scores.mean(), 100 * scores.std())
    return res


def run_uci(
    steps, draws, out, tau=1.0, block=10, seed=0, pairs=False, subsets="pairs",
    n_components=None,
):  # fmt: skip
    X, y, widths = _load_six()
    splitter = FewShotSplit(n_shots=1, n_draws=1, test_size=600, random_state=0)
    pool, test = splitter.split_pool(X, y)
    n_subsets = 15 if subsets == "pairs" else 2**6 - 1 - 6
    if n_components is None:  # `block` columns per block
        n_components, sizes = n_subsets * block, block
        what = f"{block} columns per block"
    else:  # n_components shared equally between the blocks
        sizes, what = None, f"{n_components} columns shared by the blocks"
    _log(out, f"== uci: six views {UCI_VIEWS} widths {widths}; pool {len(pool)}, "
         f"test {len(test)}; {draws} draws; tau {tau}; subsets={subsets!r} "
         f"({n_subsets} blocks), {what}, n_components {n_components}")  # fmt: skip
    enc = MultimodalContrastiveEncoder(
        n_components=n_components,
        split=widths,
        subsets=subsets,
        content_sizes=sizes,
        temperature=tau,
        hidden_layer_sizes=(256, 256, 256),
        batch_size=256,
        max_epochs=10_000,
        max_steps=steps,
        device="cpu",
        random_state=seed,
    )
    start = time.perf_counter()
    enc.fit(X[pool])
    _log(
        out,
        f"six-view encoder: {enc.n_steps_} steps, {time.perf_counter() - start:.0f} s"
        f"; each view's representation {enc.encode(X[:2, : widths[0]], 0).shape[1]} "
        "columns",
    )
    stops = np.cumsum(widths)
    header = f"{'view':<6}{'method':<22}" + "".join(f"{f'{k}-shot':>16}" for k in SHOTS)
    _log(out, header)
    wins, six = [], {}
    for k, name in enumerate(UCI_VIEWS):
        x = X[:, stops[k] - widths[k] : stops[k]]
        Z = enc.set_params(view=k).transform(X)
        feats = {"six-view encoder": Z, "raw view": x}
        for n in (10, Z.shape[1]):
            if n <= x.shape[1]:
                pca = make_pipeline(StandardScaler(), PCA(n, random_state=0)).fit(
                    x[pool]
                )
                feats[f"PCA-{n}"] = pca.transform(x)
        results = {m: _fewshot(F, y, pool, test, draws) for m, F in feats.items()}
        for m, res in results.items():
            cells = "".join(f"{res[s][0]:>9.1f} ± {res[s][1]:<4.1f}" for s in SHOTS)
            _log(out, f"{name:<6}{m:<22}{cells}")
        enc_res = six[k] = results["six-view encoder"]
        beats = all(
            enc_res[s][0]
            > max(r[s][0] for m, r in results.items() if m != "six-view encoder")
            for s in SHOTS
        )
        wins.append(beats)
        _log(out, f"{'':<6}beats raw and PCA at 1/5/10 shots: {beats}")
    _log(out, f"views where the six-view representation beats raw and PCA at every "
         f"shot count: {sum(wins)}/6")  # fmt: skip
    if not pairs:
        return
    # the 15 two-view encoders (same recipe, one pair block of `block` columns)
    _log(out, f"-- two-view encoders: one per pair, {steps} steps each, tau {tau}, "
         f"{block} columns; per view the best of its 5 partners at each shot "
         "count, chosen on the test accuracy (favours this baseline)")  # fmt: skip
    per_view = {k: [] for k in range(6)}
    start = time.perf_counter()
    for a, b in itertools.combinations(range(6), 2):
        cols = np.r_[stops[a] - widths[a] : stops[a], stops[b] - widths[b] : stops[b]]
        pair_enc = MultimodalContrastiveEncoder(
            n_components=block, split=widths[a], temperature=tau,
            hidden_layer_sizes=(256, 256, 256), batch_size=256,
            max_epochs=10_000, max_steps=steps, device="cpu", random_state=seed,
        ).fit(X[pool][:, cols])  # fmt: skip
        Zx = pair_enc.encode(X[:, cols[: widths[a]]], "x")
        Zt = pair_enc.encode(X[:, cols[widths[a] :]], "t")
        per_view[a].append((UCI_VIEWS[b], _fewshot(Zx, y, pool, test, draws)))
        per_view[b].append((UCI_VIEWS[a], _fewshot(Zt, y, pool, test, draws)))
    _log(out, f"15 two-view encoders: {time.perf_counter() - start:.0f} s")
    beaten = 0
    for k, name in enumerate(UCI_VIEWS):
        best = {
            s: max((res[s][0], partner) for partner, res in per_view[k]) for s in SHOTS
        }
        cells = "".join(f"{best[s][0]:>9.1f} ({best[s][1]})" for s in SHOTS)
        mine = six[k]
        wins_k = all(mine[s][0] > best[s][0] for s in SHOTS)
        beaten += wins_k
        _log(out, f"{name:<6}{'best two-view':<22}{cells}   six-view wins: {wins_k}")
    _log(out, f"views where the six-view representation beats the view's best "
         f"two-view encoder at every shot count: {beaten}/6")  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["synthetic", "uci"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--draws", type=int, default=50)
    parser.add_argument("--tau", type=float, default=1.0)
    parser.add_argument("--out", default=None)
    parser.add_argument("--box-squash", default="sigmoid")
    parser.add_argument("--pair-steps", type=int, default=None)
    parser.add_argument("--pairs-only", action="store_true")
    parser.add_argument(
        "--no-two-view", action="store_true", help="synthetic: K-view encoder only"
    )
    parser.add_argument(
        "--pairs", action="store_true", help="uci: also the 15 two-view encoders"
    )
    parser.add_argument(
        "--subsets",
        choices=["pairs", "all"],
        default=None,
        help="uci: the six-view encoder's subsets (default pairs); synthetic: "
        "pairs trains the K-view encoder on the 6 pair blocks only (default all)",
    )
    parser.add_argument("--block", type=int, default=10)
    parser.add_argument("--n-components", type=int, default=None)
    args = parser.parse_args(argv)
    _log(args.out, f"$ python benchmarks/bench_multiview.py {' '.join(sys.argv[1:])}")
    if args.part == "synthetic":
        cfg = {**SYNTH, "box_squash": args.box_squash}
        if args.pairs_only or args.pair_steps:
            cfg.update(pairs_only=args.pairs_only, pair_steps=args.pair_steps)
        if args.subsets == "pairs":
            cfg.update(subsets="pairs")
        if args.no_two_view:
            cfg.update(no_two_view=True)
        run_synthetic(args.seeds, args.steps or 5000, args.out, cfg)
    else:
        run_uci(
            args.steps or 550, args.draws, args.out, tau=args.tau, pairs=args.pairs,
            subsets=args.subsets or "pairs", block=args.block,
            n_components=args.n_components,
        )  # fmt: skip


if __name__ == "__main__":
    main()
