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
scored on the test set; all methods see the same draws.
"""
_EPILOG = """\
methods: raw (standardised features), pca, whiten (PCA whitening: the ablation
of the ICA rows, since an L2 probe cannot see a rotation of whitened features),
ica, pca+ica (PCA to 2k then ICA to k); with --pair also cca (CCA scores of the
features), encoder (the x tower of a contrastive encoder trained on
[features | pair]), encoder+whiten, encoder+ica.
outputs in --out: table.txt, results.csv (one line per method and shot count)
and results.json (with per-draw accuracies). Columns constant on the rows the
unsupervised steps are fitted on carry no signal: they are dropped for every
method, with a notice. Exit status: 0 on success, 2 on bad input (a usage
error), 1 when training fails (the message says which option to change).
"""


def add_parser(subparsers):
    """Add the ``fewshot`` subcommand to ``subparsers`` and return its parser."""
    from sklcm.evaluation._fewshot import BASE_METHODS, PAIR_METHODS

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
        metavar="T.npy",
        help="second view of the same rows: enables the encoder methods",
    )
    for option in ("features", "labels", "pair"):
        p.add_argument(
            f"--{option}-key",
            metavar="NAME",
            help=f"the array of an .npz --{option} file that holds several",
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
        "C fixed by --C)",
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
        "0.2 0.5 1 2 by cross-view neighbour agreement; default)",
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


def _load_labels(path, key):
    y = _load_array(path, "labels", key)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise UsageError(
            f"--labels {path!r} must be 1-D (one label per row), got shape {y.shape}."
        )
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise UsageError(
            f"--labels {path!r} contains {int((~np.isfinite(y)).sum())} non-finite "
            "values (NaN or inf)."
        )
    return y


def _check_pair_methods(args):
    from sklcm.evaluation._fewshot import PAIR_METHODS

    needs = [m for m in args.methods or () if m in PAIR_METHODS]
    if needs and args.pair is None:
        raise UsageError(
            f"--methods {' '.join(needs)} needs --pair T.npy (a second view of the "
            "same rows)."
        )


def _load_inputs(args):
    _check_pair_methods(args)
    features = _load_view(args.features, "features", args.features_key)
    pair = None
    if args.pair is not None:
        pair = _load_view(args.pair, "pair", args.pair_key)
    y = _load_labels(args.labels, args.labels_key)
    if len(y) != len(features):
        raise UsageError(
            f"--labels {args.labels!r} has {len(y)} labels but --features "
            f"{args.features!r} has {len(features)} rows."
        )
    if pair is not None and len(pair) != len(features):
        raise UsageError(
            f"--pair {args.pair!r} has {len(pair)} rows but --features "
            f"{args.features!r} has {len(features)}; row i of both must be the "
            "same sample."
        )
    return features, y, pair


def format_fewshot_table(rows, *, n_pool, n_test, transductive):
    """Aligned text table: one line per method, one column per shot count."""
    shots = sorted({r["shots"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    cell = {
        (r["method"], r["shots"]): f"{r['mean']:.1f} ± {r['std']:.1f}" for r in rows
    }
    header = ["method"] + [f"{k}-shot" for k in shots] + ["fit s"]
    seconds = {r["method"]: f"{r['fit_seconds']:.1f}" for r in rows}
    lines = [header] + [
        [m] + [cell[m, k] for k in shots] + [seconds[m]] for m in methods
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = "\n".join(
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                  for i, (c, w) in enumerate(zip(line, widths)))
        for line in lines
    )  # fmt: skip
    mode = (
        "TRANSDUCTIVE: unsupervised steps fitted on all rows, test rows included"
        if transductive
        else f"inductive: unsupervised steps fitted on the {n_pool} pool rows only"
    )
    draws, n_val = rows[0]["n_draws"], rows[0].get("n_val_shots", 0)
    probe = (
        f"C chosen on {n_val} validation shots per class, probe trained on the k shots"
        if n_val
        else f"C = {rows[0].get('C', 1.0):g}"
    )
    notes = [
        f"accuracy % (mean ± std over {draws} draws) on {n_test} fixed test rows; "
        f"{mode}",
        f"probe: L2 logistic regression, {probe}",
    ]
    dropped = rows[0].get("dropped_columns", {})
    if any(dropped.values()):
        notes.append(
            "constant columns dropped (no signal on the fitting rows): "
            + ", ".join(f"{len(cols)} of --{name}" for name, cols in dropped.items())
        )
    info = next((r["info"] for r in rows if r["method"].startswith("encoder")), None)
    if info:
        how = "given"
        if "knn_agreement" in info:
            how = "chosen without labels; cross-view 10-NN agreement " + ", ".join(
                f"{t:g}: {a:.3f}" for t, a in info["knn_agreement"].items()
            )
        notes.append(
            f"encoder: temperature {info['temperature']:g} ({how}), "
            f"{info['n_steps']} steps"
        )
    return text + "\n\n" + "\n".join(notes)


def _save(out, table, rows, meta):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.txt").write_text(table + "\n", encoding="utf-8")
    keys = ["method", "shots", "mean", "std", "n_draws", "fit_seconds", "transductive"]
    with open(out / "results.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
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
        "random_state": args.random_state,
    }  # fmt: skip


_CHECKED = ("shots", "methods", "n_draws", "n_val_shots", "test_size",
            "transductive", "random_state")  # fmt: skip


def _check_before_training(features, y, pair, args):
    """Every input check of the protocol, before anything is fitted."""
    from sklcm.evaluation._fewshot import _check_inputs

    kwargs = _evaluate_kwargs(args)
    try:
        checked = _check_inputs(
            features, y, pair=pair, **{k: kwargs[k] for k in _CHECKED}
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
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

    features, y, pair = _load_inputs(args)
    _check_before_training(features, y, pair, args)
    if args.out:
        writable_dir(args.out)

    def progress(method, seconds):
        if not args.quiet:  # progress goes to stderr
            print(f"  {method}: fitted in {seconds:.1f} s", file=sys.stderr, flush=True)

    start = time.perf_counter()
    try:
        rows = fewshot_evaluate(
            features, y, pair=pair, progress=progress, **_evaluate_kwargs(args)
        )
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
