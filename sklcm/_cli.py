"""Command line of sklcm: ``python -m sklcm reproduce`` (argument parsing only)."""
# License: BSD 3 clause

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from . import _fewshot_cli

_EPILOG = """\
rows (--settings takes these names, a group name or 'all'):
{rows}

outputs in --out: table.txt (the table printed on stdout), runs.csv and runs.json
(every run with its data/model parameters, seed and scores), figures/<setting>.png
(true vs recovered latents of matched pairs, and the |corr| heat map).
Numbers are % (mean ± std over seeds) on held-out pairs; 'paper' is Liu et al.,
arXiv:2402.06223 (a range where the paper gives no per-row number). 'baseline' is
what a linear method gets from raw x: held-out R² of a linear regression (R² rows)
or the MCC of FastICA on x (MCC rows). On ICA rows 'ours' is the MCC after
CoupledLatentICA and 'no ICA' the MCC of the encoder output before it.
Progress goes to stderr. Exit status: 0 on success, 2 on bad arguments.
"""


class _UsageError(Exception):
    """A bad argument found after parsing (reported like argparse does)."""


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _build_parser():
    from sklcm.experiments import GROUPS, PRESETS, SETTINGS

    rows = "\n".join(
        f"  {s.name:<15} {s.group:<10} {s.process} -> {s.model} ({s.metric.upper()})"
        for s in SETTINGS
    )
    parser = argparse.ArgumentParser(
        prog="sklcm",
        description="sklcm command line.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    rep = sub.add_parser(
        "reproduce",
        help="regenerate the paper's synthetic identifiability table",
        description="Regenerate the synthetic identifiability table of Liu et al. "
        "with sklcm estimators and print it next to the published numbers.",
        epilog=_EPILOG.format(rows=rows),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rep.add_argument(
        "--preset",
        choices=list(PRESETS),
        default="quick",
        help="training recipe: "
        + "; ".join(f"{p.name}: {p.description}" for p in PRESETS.values())
        + " (default: quick)",
    )
    rep.add_argument(
        "--settings",
        nargs="+",
        metavar="NAME",
        help=f"rows to run: setting names, groups ({', '.join(GROUPS)}) "
        "or 'all'; space- or comma-separated (default: all)",
    )
    rep.add_argument(
        "--seeds",
        type=_positive_int,
        metavar="N",
        help="seeds per row, 0..N-1 (default: the preset's, 1 for quick, 3 for paper)",
    )
    rep.add_argument(
        "--device",
        default="auto",
        help="torch device, e.g. cpu or cuda (default: auto)",
    )
    rep.add_argument(
        "--out",
        default="sklcm-reproduce",
        metavar="DIR",
        help="output directory, created if missing (default: ./sklcm-reproduce)",
    )
    rep.add_argument(
        "--no-figures",
        action="store_true",
        help="skip the figures (no matplotlib needed)",
    )
    rep.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    parser.fewshot = _fewshot_cli.add_fewshot_parser(sub, _positive_int)
    return parser, rep


def _check_out(path):
    """Create ``path`` if needed and make sure a file can be written in it."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise _UsageError(
            f"--out {path!r} is not a writable directory ({exc.strerror or exc})."
        ) from None
    return out


def _check_settings(values):
    from sklcm.experiments import select_settings

    names = [n for v in values or [] for n in v.split(",") if n] or None
    try:
        return [s.name for s in select_settings(names)]
    except ValueError as exc:
        raise _UsageError(f"--settings: {exc}") from None


class _Progress:
    """Print per-row, per-seed progress with elapsed times to a stream."""

    def __init__(self, stream, n_seeds):
        self.stream, self.n_seeds = stream, n_seeds
        self.start = time.perf_counter()
        self.next_tenth = 1

    def _clock(self):
        minutes, seconds = divmod(int(time.perf_counter() - self.start), 60)
        return f"{minutes:d}:{seconds:02d}"

    def __call__(self, event, *, setting, seed, row, n_rows, **info):
        if event == "start":
            self.next_tenth = 1
            self._print(
                f"[{self._clock()}] row {row}/{n_rows} {setting}, "
                f"seed {seed + 1}/{self.n_seeds}"
            )
        elif event == "train" and info["step"] >= info["steps"] * self.next_tenth / 10:
            self.next_tenth = int(10 * info["step"] / info["steps"]) + 1
            self._print(
                f"    step {info['step']:>6}/{info['steps']}  {info['elapsed']:6.1f} s"
            )
        elif event == "done":
            self._print(
                f"    done: score {info['score']:.4f} in {info['elapsed']:.1f} s"
            )

    def _print(self, text):
        print(text, file=self.stream, flush=True)


def _reproduce(args):
    from sklcm.experiments import (
        PRESETS,
        format_table,
        reproduce,
        save_figures,
        save_runs,
        summarize,
    )

    out = _check_out(args.out)
    settings = _check_settings(args.settings)
    preset = PRESETS[args.preset]
    n_seeds = args.seeds or preset.n_seeds
    progress = None if args.quiet else _Progress(sys.stderr, n_seeds)
    start = time.perf_counter()
    runs = reproduce(
        preset,
        settings,
        n_seeds,
        device=args.device,
        progress=progress,
        return_latents=not args.no_figures,
    )
    wall = time.perf_counter() - start
    table = format_table(summarize(runs))
    footer = (
        f"preset {preset.name}, {n_seeds} seed(s), n_latents="
        f"{preset.n_latents}; wall time {wall:.0f} s; numbers in %"
    )
    print(f"{table}\n\n{footer}")
    (out / "table.txt").write_text(f"{table}\n\n{footer}\n", encoding="utf-8")
    meta = {
        "command": "sklcm " + " ".join(args.argv),
        "preset": preset.name,
        "n_seeds": n_seeds,
        "wall_time_s": wall,
        "device": args.device,
        "cpu_count": os.cpu_count(),
        "load_average_at_end": list(os.getloadavg())
        if hasattr(os, "getloadavg")
        else None,
    }
    save_runs(runs, out, meta=meta)
    if not args.no_figures:
        save_figures(runs, out)
    if not args.quiet:
        print(f"results written to {out}", file=sys.stderr)
    return 0


def main(argv=None):
    """Run the ``sklcm`` command line; return the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 2 on bad arguments (after a message on stderr).

    Examples
    --------
    >>> from sklcm._cli import main
    >>> main(["reproduce", "--seeds", "0"])  # doctest: +SKIP
    2
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, reproduce_parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, already printed)
        return exc.code
    args.argv = argv
    if args.command == "fewshot":
        return _fewshot_cli.main(args, parser.fewshot)
    try:
        return _reproduce(args)
    except _UsageError as exc:
        reproduce_parser.print_usage(sys.stderr)
        print(f"sklcm reproduce: error: {exc}", file=sys.stderr)
        return 2
