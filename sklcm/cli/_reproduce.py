"""``python -m sklcm reproduce``: options, progress, and the files it writes."""
# License: BSD 3 clause

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from ._arguments import UsageError, device, positive_int, writable_dir

_EPILOG = """\
rows (--settings takes these names, a group name or 'all'):
{rows}

outputs in --out, rewritten as each run finishes (an interrupted command loses
only the runs still training; --resume DIR continues it): table.txt (the table
printed on stdout), runs.csv and runs.json (every finished run with its
data/model parameters, seed, steps taken and scores), figures/<setting>.png
(true vs recovered latents of matched pairs, and the |corr| heat map).
Every row is trained for its geometry's theorem-row budget, and once more with
half of it; 'conv.' says whether a 4/3-budget run is predicted (from the change
between the two, times log2(4/3)) to move the held-out score by 0.3 points or
more ('no (+...)': not converged, with that predicted change).
Numbers are % (mean ± std over seeds) on held-out pairs; 'paper' is Liu et al.,
arXiv:2402.06223 (a range where the paper gives no per-row number). 'baseline' is
what a linear method gets from raw x: held-out R² of a linear regression (R² rows)
or the MCC of FastICA on x (MCC rows). On ICA rows 'ours' is the MCC after
CoupledLatentICA and 'no ICA' the MCC of the encoder output before it.
'DCI-D', 'DCI-C' (DCI disentanglement and completeness, random-forest
importances) and 'MIG' (mutual information gap, 20 bins) score the
representation of 'ours' on 4000 held-out pairs.
Progress goes to stderr. Exit status: 0 on success, 2 on bad arguments,
130 when interrupted (Ctrl-C or SIGTERM; finished runs are kept).
"""


def _default_n_jobs():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def add_parser(subparsers):
    """Add the ``reproduce`` subcommand to ``subparsers`` and return its parser."""
    from sklcm.experiments import GROUPS, PRESETS, SETTINGS

    rows = "\n".join(
        f"  {s.name:<15} {s.group:<10} {s.process} -> {s.model} ({s.metric.upper()})"
        for s in SETTINGS
    )
    rep = subparsers.add_parser(
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
        help="training recipe: "
        + "; ".join(f"{p.name}: {p.description}" for p in PRESETS.values())
        + " (default: quick, or the resumed command's)",
    )
    rep.add_argument(
        "--settings",
        nargs="+",
        metavar="NAME",
        help=f"rows to run: setting names, groups ({', '.join(GROUPS)}) "
        "or 'all'; space- or comma-separated (default: all, or the resumed "
        "command's)",
    )
    rep.add_argument(
        "--seeds",
        type=positive_int,
        metavar="N",
        help="seeds per row, 0..N-1 (default: the resumed command's, else the "
        "preset's: 1 for quick, 3 for paper)",
    )
    rep.add_argument(
        "--device",
        type=device,
        default="auto",
        help="torch device: auto, cpu, cuda or cuda:N (default: auto)",
    )
    rep.add_argument(
        "--n-jobs",
        type=positive_int,
        default=_default_n_jobs(),
        metavar="N",
        help="runs trained at the same time, each in its own process with one "
        "torch thread; results do not depend on it (default: the number of "
        "cores, %(default)s here)",
    )
    rep.add_argument(
        "--out",
        default="sklcm-reproduce",
        metavar="DIR",
        help="output directory, created if missing (default: ./sklcm-reproduce)",
    )
    rep.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the command whose output is in DIR: its finished runs "
        "are kept and not trained again, the others are run and written to DIR "
        "(--out is ignored); --preset, --settings and --seeds default to that "
        "command's",
    )
    rep.add_argument(
        "--no-figures",
        action="store_true",
        help="skip the figures (otherwise they need matplotlib; without it they "
        "are skipped with a notice)",
    )
    rep.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    return rep


def _figures_possible(args):
    """Whether figures can be made; a notice on stderr when matplotlib is missing."""
    if args.no_figures:
        return False
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(
            "sklcm reproduce: matplotlib is not installed, so no figures will be "
            "made (pip install matplotlib, or pass --no-figures to silence this).",
            file=sys.stderr,
        )
        return False
    return True


_FLOAT_FIELDS = ("score", "r2", "mcc", "mcc_ica", "baseline", "drift")


def _load_finished(folder):
    """The metadata and finished runs written to ``folder/runs.json`` earlier."""
    path = Path(folder) / "runs.json"
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        records = list(payload["runs"])
        payload["preset"]  # noqa: B018 (a KeyError means a foreign file)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"--resume {str(folder)!r}: no readable runs.json of sklcm reproduce "
            f"there ({type(exc).__name__}: {exc})."
        ) from None
    for record in records:
        for key in _FLOAT_FIELDS:
            if record.get(key) is None:
                record[key] = float("nan")
    return payload, records


def _check_settings(values):
    from sklcm.experiments import select_settings

    names = [n for v in values or [] for n in v.split(",") if n] or None
    try:
        return [s.name for s in select_settings(names)]
    except ValueError as exc:
        raise UsageError(f"--settings: {exc}") from None


class _Progress:
    """Print per-run progress with elapsed times to a stream.

    Runs may train at the same time (``--n-jobs``), so every line names its
    run.
    """

    def __init__(self, stream, n_seeds):
        self.stream, self.n_seeds = stream, n_seeds
        self.start = time.perf_counter()
        self.next_tenth = {}

    def _clock(self):
        minutes, seconds = divmod(int(time.perf_counter() - self.start), 60)
        return f"{minutes:d}:{seconds:02d}"

    def __call__(self, event, *, setting, seed, row, n_rows, **info):
        run = f"{setting}, seed {seed + 1}/{self.n_seeds}"
        if event == "start":
            self.next_tenth[run] = 1
            self._print(f"[{self._clock()}] row {row}/{n_rows} {run}: started")
        elif (
            event == "train"
            and info["step"] >= info["steps"] * self.next_tenth.get(run, 1) / 10
        ):
            self.next_tenth[run] = int(10 * info["step"] / info["steps"]) + 1
            self._print(
                f"[{self._clock()}]     {run}: step {info['step']:>6}/"
                f"{info['steps']}  {info['elapsed']:6.1f} s"
            )
        elif event == "done":
            self._print(
                f"[{self._clock()}] row {row}/{n_rows} {run}: done, score "
                f"{info['score']:.4f} in {info['elapsed']:.1f} s"
            )

    def _print(self, text):
        print(text, file=self.stream, flush=True)


class _Writer:
    """Rewrite table.txt, runs.csv/json (and a figure) as each run finishes."""

    def __init__(self, out, runs, meta, figures):
        self.out, self.runs, self.meta, self.figures = out, list(runs), meta, figures
        self.start = time.perf_counter()

    def __call__(self, result):
        self.runs.append(result)
        self.write()
        figure = self.out / "figures" / f"{result['setting']}.png"
        if self.figures and (result["seed"] == 0 or not figure.exists()):
            from sklcm.experiments import save_figures

            save_figures([result], self.out)

    def ordered(self):
        from sklcm.experiments import SETTINGS

        order = {s.name: i for i, s in enumerate(SETTINGS)}
        return sorted(
            self.runs, key=lambda r: (order.get(r["setting"], len(order)), r["seed"])
        )

    def write(self, *, complete=False):
        from sklcm.experiments import format_table, save_runs, summarize
        from sklcm.experiments._report import CONVERGENCE_RULE

        runs = self.ordered()
        wall = time.perf_counter() - self.start
        steps = sum(int(r["steps"]) for r in runs)
        pairs = sum(int(r["pairs_seen"]) for r in runs)
        state = "complete" if complete else "in progress"
        table = format_table(summarize(runs)) if runs else "(no finished run yet)"
        self.footer = (
            f"{CONVERGENCE_RULE}\n"
            f"preset {self.meta['preset']}, {self.meta['n_seeds']} seed(s), "
            f"n_latents={self.meta['n_latents']}, {len(runs)} run(s) ({state}); "
            f"{steps} steps, {pairs} pairs in all; wall time {wall:.0f} s "
            f"(this command, --n-jobs {self.meta['n_jobs']}); numbers in %"
        )
        self.table = table
        (self.out / "table.txt").write_text(
            f"{table}\n\n{self.footer}\n", encoding="utf-8"
        )
        load = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
        meta = {
            **self.meta,
            "complete": complete,
            "wall_time_s": wall,
            "total_steps": steps,
            "total_pairs": pairs,
            "load_average_now": load,
        }
        save_runs(runs, self.out, meta=meta)


def _interrupt(signum, frame):
    """Treat SIGTERM like Ctrl-C (a background job may ignore SIGINT)."""
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def run(args):
    """Run ``reproduce`` from parsed ``args``; return the exit status (0 or 130)."""
    from sklcm.experiments import PRESETS, reproduce

    # Every argument is checked before anything is created or trained.
    earlier, finished = {}, []
    if args.resume is not None:
        earlier, finished = _load_finished(args.resume)
        if args.preset not in (None, earlier["preset"]):
            raise UsageError(
                f"--resume {args.resume!r}: its runs used --preset "
                f"{earlier['preset']}, not {args.preset}."
            )
        args.out = args.resume
    preset = PRESETS[args.preset or earlier.get("preset", "quick")]
    settings = _check_settings(args.settings or earlier.get("settings"))
    n_seeds = args.seeds or earlier.get("n_seeds") or preset.n_seeds
    figures = _figures_possible(args)
    out = writable_dir(args.out)

    progress = None if args.quiet else _Progress(sys.stderr, n_seeds)
    meta = {
        "command": "sklcm " + " ".join(args.argv),
        "preset": preset.name,
        "n_seeds": n_seeds,
        "n_latents": preset.n_latents,
        "settings": settings,
        "n_jobs": args.n_jobs,
        "device": args.device,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg())
        if hasattr(os, "getloadavg")
        else None,
    }
    writer = _Writer(out, finished, meta, figures)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops cleanly too
    try:
        reproduce(
            preset,
            settings,
            n_seeds,
            device=args.device,
            progress=progress,
            return_latents=figures,
            n_jobs=args.n_jobs,
            skip=[(r["setting"], r["seed"]) for r in finished],
            on_run=writer,
        )
    except KeyboardInterrupt as exc:
        writer.write()
        detail = f" ({exc})" if str(exc) else ""
        print(
            f"\nsklcm reproduce: interrupted{detail}. {len(writer.runs)} finished "
            f"run(s) are kept in {out}; continue with: python -m sklcm reproduce "
            f"--resume {out} --preset {preset.name}",
            file=sys.stderr,
        )
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    writer.write(complete=True)
    print(f"{writer.table}\n\n{writer.footer}")
    if not args.quiet:
        print(f"results written to {out}", file=sys.stderr)
    return 0
