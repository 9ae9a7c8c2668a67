"""``python -m sklcm fewshot``: options, input files, the table and its files."""
# License: BSD 3 clause

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from ._arguments import (
    TrainingError,
    UsageError,
    device,
    existing_file,
    fraction_or_count,
    non_negative_int,
    positive_float,
    positive_float_or,
    positive_int,
    writable_dir,
)

_DESCRIPTION = """\
Few-shot linear-probe accuracy of unsupervised representations of your features.

A fixed, stratified test set (--test-size) is held out once. Every unsupervised
step (standardisation, PCA, whitening, ICA, the contrastive encoder) is fitted
on the other rows, the unlabelled pool, never on test rows (unless
--transductive, which the table then says). For each shot count k, --draws
random draws of k labelled pool rows per class train an L2 logistic regression,
scored on the test set; all methods see the same draws. Each --target (rows of
the same view from another distribution) is only transformed by the fitted
steps and scored by the same probes: one column group per target (and, with
several, their mean). --protocol paper runs the probe protocol of Liu et al.
"""
_EPILOG = """\
methods: raw (standardised features), pca, whiten (PCA whitening: the ablation
of the ICA rows, since an L2 probe cannot see a rotation of whitened features),
ica, pca+ica (PCA to 2k then ICA to k); with --pair also cca (CCA scores of the
features), encoder (the x tower of a contrastive encoder trained on
[features | pair]), encoder+whiten, encoder+ica.
several views: --pair T1.npy T2.npy ... trains one K-view encoder on
[features | T1 | T2 | ...] (one tower per view) with one content block per
file, contrasting the features with that view; --n-components is shared
equally between the blocks (at least 2 columns each on the sphere), and the
encoder methods probe the features' tower, its blocks side by side. cca pairs
the features with the files side by side.
outputs in --out: table.txt, results.csv (one line per method and shot count)
and results.json (with per-draw accuracies). Columns constant on the rows the
unsupervised steps are fitted on carry no signal: they are dropped for every
method (and from every --target), with a notice. Exit status: 0 on success, 2
on bad input (a usage error), 1 when training fails (the message says which
option to change).
"""


def add_parser(subparsers):
    """Add the ``fewshot`` subcommand to ``subparsers`` and return its parser."""
    from sklcm.evaluation._fewshot import BASE_METHODS, PAIR_METHODS, PROTOCOLS

    p = subparsers.add_parser(
        "fewshot",
        help="few-shot linear-probe accuracy of representations of your features",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--features",
        required=True,
        type=existing_file,
        metavar="F.npy",
        help="2-D array (.npy, or .npz holding one array): the view probed",
    )
    p.add_argument(
        "--labels",
        required=True,
        type=existing_file,
        metavar="Y.npy",
        help="1-D class labels, one per row of --features",
    )
    p.add_argument(
        "--pair",
        type=existing_file,
        nargs="+",
        metavar="T.npy",
        help="another view of the same rows: enables the encoder methods; "
        "several files are several views, all trained on by one encoder",
    )
    for option in ("features", "labels"):
        p.add_argument(
            f"--{option}-key",
            metavar="NAME",
            help=f"the array of an .npz --{option} file that holds several",
        )
    p.add_argument(
        "--pair-key",
        nargs="+",
        metavar="NAME",
        help="the array of each .npz --pair file that holds several: one "
        "name for every file, or one per file",
    )
    p.add_argument(
        "--shots",
        type=positive_int,
        nargs="+",
        default=[1, 2, 4, 8, 16],
        metavar="K",
        help="labelled samples per class (default: 1 2 4 8 16)",
    )
    p.add_argument(
        "--draws",
        type=positive_int,
        default=50,
        help="random draws per shot count (default: 50)",
    )
    p.add_argument(
        "--methods",
        nargs="+",
        choices=BASE_METHODS + PAIR_METHODS,
        metavar="M",
        help="methods to run (default: all available)",
    )
    p.add_argument(
        "--n-components",
        type=positive_int,
        default=10,
        metavar="K",
        help="size of the reduced representations (default: 10)",
    )
    p.add_argument(
        "--test-size",
        type=fraction_or_count,
        default=0.3,
        help="fraction (< 1) or number of rows of the fixed test set (default: 0.3)",
    )
    p.add_argument(
        "--val-shots",
        type=non_negative_int,
        default=0,
        metavar="K",
        help="extra shots per class to choose the probe's C (default: 0, "
        "C fixed by --C; with --protocol paper, 0 means min(k, 5))",
    )
    p.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="default",
        help="'default' (as described above) or 'paper': the probe protocol "
        "of Liu et al., C searched on validation shots (1e6 ... 1e-6, then 8 "
        "bisection rounds) and ICA fitted on each draw's train + validation "
        "rows (default: default)",
    )
    p.add_argument(
        "--target",
        nargs=3,
        action="append",
        metavar=("NAME", "F.npy", "Y.npy"),
        help="a shifted target: rows of the same view as --features from "
        "another distribution, and their labels; only transformed and scored "
        "(repeatable)",
    )
    p.add_argument(
        "--C",
        type=positive_float,
        default=1.0,
        dest="C",
        help="probe's inverse regularisation (default: 1.0)",
    )
    p.add_argument(
        "--temperature",
        type=positive_float_or("select"),
        default="select",
        help="encoder temperature, or 'select' (label-free choice among "
        "0.2 0.5 1 2 by MultimodalContrastiveEncoderCV: 3-fold cross-view "
        "neighbour agreement on the pool, rule 'next'; default)",
    )
    p.add_argument(
        "--max-epochs",
        type=positive_int,
        default=100,
        help="encoder epochs (default: 100)",
    )
    p.add_argument(
        "--transductive",
        action="store_true",
        help="fit the unsupervised steps on all rows, test rows included",
    )
    p.add_argument(
        "--random-state",
        type=non_negative_int,
        default=0,
        help="seed of the test set, draws and models (default: 0)",
    )
    p.add_argument(
        "--device",
        type=device,
        default="auto",
        help="torch device: auto, cpu, cuda or cuda:N (default: auto)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="write table.txt, results.csv and results.json here",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    return p  # fmt: skip


def _load_array(path, option, key):
    """The array in ``path`` (.npy, or the ``key`` array of an .npz file)."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--{option} {path!r}: cannot read ({exc}).") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        if key is not None:
            raise UsageError(
                f"--{option}-key {key!r}: --{option} {path!r} is a .npy file (one "
                f"array); drop --{option}-key."
            )
        return loaded
    with loaded:
        keys = list(loaded.files)
        if key is None and len(keys) != 1:
            raise UsageError(
                f"--{option} {path!r} holds {len(keys)} arrays {keys}; choose one "
                f"with --{option}-key NAME."
            )
        if key is not None and key not in keys:
            raise UsageError(
                f"--{option}-key {key!r}: --{option} {path!r} holds {keys}."
            )
        return loaded[keys[0] if key is None else key]


def _load_view(path, option, key):
    """A 2-D finite array of numbers from --features or --pair."""
    from sklcm.datasets._real import _read_array

    array = _load_array(path, option, key)
    try:
        return _read_array(array, name=f"--{option}={path!r}", key=None)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _load_labels(path, key, option="labels"):
    y = _load_array(path, option, key)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise UsageError(
            f"--{option} {path!r} must be 1-D (one label per row), got shape {y.shape}."
        )
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise UsageError(
            f"--{option} {path!r} contains {int((~np.isfinite(y)).sum())} "
            "non-finite values (NaN or inf)."
        )
    return y


def _load_targets(triples):
    """``{name: (X, y)}`` from the ``--target NAME F Y`` options."""
    targets = {}
    for name, features, labels in triples or ():
        if name in targets:
            raise UsageError(f"--target {name!r} is given twice; name each once.")
        option = f"target {name}"
        targets[name] = (
            _load_view(features, option, None),
            _load_labels(labels, None, option),
        )
    return targets


def _check_pair_methods(args):
    from sklcm.evaluation._fewshot import PAIR_METHODS

    needs = [m for m in args.methods or () if m in PAIR_METHODS]
    if needs and args.pair is None:
        raise UsageError(
            f"--methods {' '.join(needs)} needs --pair T.npy (a second view of the "
            "same rows)."
        )
    keys = args.pair_key
    if keys is not None and args.pair is None:
        raise UsageError("--pair-key needs --pair (the .npz files it reads).")
    if keys is not None and len(keys) not in (1, len(args.pair)):
        raise UsageError(
            f"--pair-key has {len(keys)} names for {len(args.pair)} --pair files; "
            "give one name for every file or one per file."
        )


def _load_pairs(args, features):
    """The --pair views (one or several), each with the rows of --features."""
    if args.pair is None:
        return None
    keys = args.pair_key or [None]
    keys = keys * len(args.pair) if len(keys) == 1 else keys
    pairs = []
    for path, key in zip(args.pair, keys):
        pair = _load_view(path, "pair", key)
        if len(pair) != len(features):
            raise UsageError(
                f"--pair {path!r} has {len(pair)} rows but --features "
                f"{args.features!r} has {len(features)}; row i of every file "
                "must be the same sample."
            )
        pairs.append(pair)
    return pairs[0] if len(pairs) == 1 else pairs


def _load_inputs(args):
    """The features, labels, pair (or None) and targets, read and checked."""
    _check_pair_methods(args)
    features = _load_view(args.features, "features", args.features_key)
    y = _load_labels(args.labels, args.labels_key)
    if len(y) != len(features):
        raise UsageError(
            f"--labels {args.labels!r} has {len(y)} labels but --features "
            f"{args.features!r} has {len(features)} rows."
        )
    return features, y, _load_pairs(args, features), _load_targets(args.target)


def _groups(rows):
    """Column groups of the table: (title, entry of a row) per group.

    The source's test rows first, then one group per target and, with more
    than one target, their average (per draw, the mean over targets).
    """
    names = list(rows[0].get("targets", {}))
    groups = [("test rows", lambda r: r)]
    groups += [(f"target {n}", lambda r, n=n: r["targets"][n]) for n in names]
    if len(names) > 1:
        groups.append(("targets mean", lambda r: r["targets_mean"]))
    return groups


def _aligned(lines, spans):
    """Lines of cells, aligned; ``spans`` (title, first, last column) are
    centred above their columns (none: no title line)."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for title, first, last in spans:  # widen a group too narrow for its title
        room = sum(widths[first : last + 1]) + 2 * (last - first)
        widths[last] += max(0, len(title) - room)
    text = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                  for i, (c, w) in enumerate(zip(line, widths)))
        for line in lines
    ]  # fmt: skip
    if spans:
        title = " " * widths[0]
        for name, first, last in spans:
            room = sum(widths[first : last + 1]) + 2 * (last - first)
            title += "  " + name.center(room)
        text.insert(0, title.rstrip())
    return "\n".join(text)


def format_fewshot_table(rows, *, n_pool, n_test, transductive):
    """Aligned text table: one line per method, one column per shot count.

    With shifted targets, one group of shot-count columns per target (and
    their mean), titled on a line above the header.
    """
    shots = sorted({r["shots"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    by_key = {(r["method"], r["shots"]): r for r in rows}
    groups = _groups(rows)
    header = ["method"] + [f"{k}-shot" for _ in groups for k in shots] + ["fit s"]
    seconds = {r["method"]: f"{r['fit_seconds']:.1f}" for r in rows}
    lines = [header] + [
        [m]
        + [
            f"{entry['mean']:.1f} ± {entry['std']:.1f}"
            for _, pick in groups
            for entry in (pick(by_key[m, k]) for k in shots)
        ]
        + [seconds[m]]
        for m in methods
    ]
    spans = []
    if len(groups) > 1:
        spans = [
            (title, 1 + i * len(shots), (i + 1) * len(shots))
            for i, (title, _) in enumerate(groups)
        ]
    return (
        _aligned(lines, spans)
        + "\n\n"
        + "\n".join(
            _notes(rows, n_pool=n_pool, n_test=n_test, transductive=transductive)
        )
    )


def _notes(rows, *, n_pool, n_test, transductive):
    """The lines under the table: what was measured, and how."""
    mode = (
        "TRANSDUCTIVE: unsupervised steps fitted on all rows, test rows included"
        if transductive
        else f"inductive: unsupervised steps fitted on the {n_pool} pool rows only"
    )
    first = rows[0]
    notes = [
        f"accuracy % (mean ± std over {first['n_draws']} draws) on {n_test} fixed "
        f"test rows; {mode}"
    ]
    if first.get("targets"):
        notes.append(
            "shifted targets (only transformed; the same probes score them): "
            + ", ".join(f"{n} ({first['n_target'][n]} rows)" for n in first["targets"])
        )
    notes.append(f"protocol {first.get('protocol', 'default')}; {_probe_note(rows)}")
    dropped = first.get("dropped_columns", {})
    if any(dropped.values()):
        notes.append(
            "constant columns dropped (no signal on the fitting rows): "
            + ", ".join(f"{len(cols)} of --{name}" for name, cols in dropped.items())
        )
    info = next((r["info"] for r in rows if r["method"].startswith("encoder")), None)
    if info:
        how = "given"
        if "knn_agreement" in info:
            how = (
                "chosen without labels by MultimodalContrastiveEncoderCV, rule "
                "'next'; mean held-out cross-view 10-NN agreement (3 folds) "
            ) + ", ".join(f"{t:g}: {a:.3f}" for t, a in info["knn_agreement"].items())
        views = ""
        if "n_views" in info:
            views = (
                f", {info['n_views']} views (one block per --pair file; the "
                "features' tower probed)"
            )
        notes.append(
            f"encoder: temperature {info['temperature']:g} ({how}), "
            f"{info['n_steps']} steps{views}"
        )
    return notes


def _probe_note(rows):
    n_val = {r["shots"]: r.get("n_val_shots", 0) for r in rows}
    val = ", ".join(f"{v} at {k}-shot" for k, v in sorted(n_val.items()))
    if rows[0].get("protocol") == "paper":
        return (
            "probe: L2 logistic regression, C chosen on validation shots per class "
            f"({val}) from 1e6, 1e4, ..., 1e-6 then 8 bisection rounds in log10(C), "
            "probe trained on the k shots; ICA (and the scaling and PCA before "
            "it) fitted on each draw's train + validation rows only"
        )
    if any(n_val.values()):
        return (
            f"probe: L2 logistic regression, C chosen on {max(n_val.values())} "
            "validation shots per class, probe trained on the k shots"
        )
    return f"probe: L2 logistic regression, C = {rows[0].get('C', 1.0):g}"


def _csv_rows(rows):
    """Flat rows for results.csv: one column pair per target and their mean."""
    for r in rows:
        flat = dict(r)
        for name, entry in r.get("targets", {}).items():
            flat[f"{name}_mean"], flat[f"{name}_std"] = entry["mean"], entry["std"]
        if "targets_mean" in r:
            flat["targets_mean"] = r["targets_mean"]["mean"]
            flat["targets_std"] = r["targets_mean"]["std"]
        yield flat


def _save(out, table, rows, meta):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.txt").write_text(table + "\n", encoding="utf-8")
    keys = ["method", "shots", "mean", "std", "n_draws", "fit_seconds", "transductive"]
    keys += ["protocol"]
    for name in rows[0].get("targets", {}):
        keys += [f"{name}_mean", f"{name}_std"]
    if "targets_mean" in rows[0]:
        keys += ["targets_mean", "targets_std"]
    with open(out / "results.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(_csv_rows(rows))
    (out / "results.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=1, default=str),
        encoding="utf-8",
    )


def _evaluate_kwargs(args):
    """The keyword arguments of ``fewshot_evaluate`` that options set."""
    return {
        "shots": args.shots, "n_draws": args.draws, "methods": args.methods,
        "n_components": args.n_components, "n_val_shots": args.val_shots,
        "test_size": args.test_size, "transductive": args.transductive,
        "C": args.C, "temperature": args.temperature,
        "encoder_params": {"max_epochs": args.max_epochs, "device": args.device},
        "protocol": args.protocol, "random_state": args.random_state,
    }  # fmt: skip


_CHECKED = ("shots", "methods", "n_draws", "n_val_shots", "test_size",
            "transductive", "random_state", "protocol", "n_components",
            "encoder_params")  # fmt: skip


def _check_before_training(features, y, pair, targets, args):
    """Every input check of the protocol, before anything is fitted."""
    from sklcm.evaluation._fewshot import _check_inputs

    kwargs = _evaluate_kwargs(args)
    try:
        checked = _check_inputs(
            features, y, pair=pair, targets=targets,
            **{k: kwargs[k] for k in _CHECKED},
        )  # fmt: skip
    except ValueError as exc:
        message = str(exc)  # the API says "target 'NAME': ...": name the option
        if message.startswith(("target ", "n_components=")):
            message = "--" + message.replace("n_components=", "n-components ", 1)
            message = message.replace("set n_components", "set --n-components")
            message = message.replace("paired views", "--pair files")
        raise UsageError(message) from None
    where = "all" if args.transductive else "pool"
    _notice_dropped(checked["dropped_columns"], f"{len(checked['fit_rows'])} {where}")


def _notice_dropped(dropped_columns, rows):
    """One line on stderr naming the constant columns that were dropped."""
    dropped = {name: cols for name, cols in dropped_columns.items() if cols}
    if not dropped:
        return
    columns = "; ".join(
        f"--{name} {', '.join(map(str, cols[:10]))}{' ...' * (len(cols) > 10)}"
        for name, cols in dropped.items()
    )
    print(
        f"sklcm fewshot: notice: dropped the columns constant on the {rows} rows "
        f"(no signal): {columns}",
        file=sys.stderr,
    )


def _training_failure(exc):
    """What went wrong while fitting, and which option to change."""
    if isinstance(exc.__cause__, FloatingPointError) or "diverged" in str(exc):
        detail = str(exc.__cause__ or exc).split(";")[0].rstrip(".")
        return TrainingError(
            f"training the encoder diverged ({detail}); use a larger --temperature "
            "(e.g. --temperature 0.5) or --temperature select."
        )
    return TrainingError(
        f"fitting failed: {exc} (--methods chooses the methods to run)."
    )


def run(args):
    """Run ``fewshot`` from parsed ``args``; return the exit status (0).

    Raises :class:`UsageError` on bad input, before anything is fitted, and
    :class:`TrainingError` (with the option to change) when fitting fails.
    """
    from sklcm.evaluation import fewshot_evaluate

    features, y, pair, targets = _load_inputs(args)
    _check_before_training(features, y, pair, targets, args)
    if args.out:
        writable_dir(args.out)

    def progress(method, seconds):
        if not args.quiet:  # progress goes to stderr
            print(f"  {method}: fitted in {seconds:.1f} s", file=sys.stderr, flush=True)

    start = time.perf_counter()
    try:
        rows = fewshot_evaluate(
            features, y, pair=pair, targets=targets or None, progress=progress,
            **_evaluate_kwargs(args),
        )  # fmt: skip
    except (ValueError, ArithmeticError, RuntimeError) as exc:
        raise _training_failure(exc) from exc
    table = format_fewshot_table(
        rows,
        n_pool=rows[0]["n_fit"],
        n_test=rows[0]["n_test"],
        transductive=args.transductive,
    )
    print(table)
    if args.out:
        meta = {"argv": args.argv, "wall_time_s": time.perf_counter() - start}
        _save(args.out, table, rows, meta)
        if not args.quiet:
            print(f"results written to {args.out}", file=sys.stderr)
    return 0
