"""Summaries of reproduce runs: aligned table, CSV/JSON files, figures."""
# License: BSD 3 clause

import csv
import json
import math
from pathlib import Path

import numpy as np

from sklcm.metrics import IdentifiabilityDisplay

_METRIC_NAMES = {"r2": "R²", "mcc": "MCC"}
_COLUMNS = (
    "setting",
    "process",
    "model",
    "metric",
    "ours",
    "paper",
    "no ICA",
    "baseline",
    "DCI-D",
    "DCI-C",
    "MIG",
    "steps",
    "conv.",
    "seeds",
    "time",
)
_CSV_SKIP = ("z_true", "z_pred")
# Disentanglement columns and the run keys they summarise.
_DISENTANGLEMENT = {
    "DCI-D": "dci_disentanglement",
    "DCI-C": "dci_completeness",
    "MIG": "mig",
}


def _mean_std(values):
    values = np.asarray(values, dtype=float) * 100
    if values.size == 1:
        return f"{values[0]:.2f}"
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


def summarize(runs):
    """Aggregate runs into one row per setting, mean ± std over seeds, in %.

    Parameters
    ----------
    runs : list of dict
        Results of :func:`run_setting`, in any order.

    Returns
    -------
    rows : list of dict
        One dict per setting (first-seen order) with the string columns of
        the table: ``setting``, ``process``, ``model``, ``metric``, ``ours``,
        ``paper``, ``no ICA`` (MCC before ICA on ICA rows), ``baseline``,
        ``DCI-D``, ``DCI-C`` and ``MIG`` (disentanglement metrics of the
        scored representation; empty for runs recorded without them),
        ``steps``, ``conv.`` ("yes" when every seed converged, else "no"
        with the largest predicted change of the held-out score with a 4/3
        budget, in points; the rule is in ``run_setting``), ``seeds``
        and ``time`` (mean seconds per seed), plus ``score_mean`` (a float
        in [0, 1] for thresholds).

    Examples
    --------
    >>> from sklcm.experiments import summarize
    >>> run = {"setting": "s", "process": "p", "model": "m", "metric": "r2",
    ...        "score": 0.99, "paper": None, "mcc_ica": float("nan"), "mcc": 0.5,
    ...        "baseline": 0.7, "baseline_name": "R² raw x", "time": 10.0}
    >>> summarize([run, {**run, "score": 0.97}])[0]["ours"]
    '98.00 ± 1.41'
    """
    by_name = {}
    for run in runs:
        by_name.setdefault(run["setting"], []).append(run)
    return [_summarize_setting(group) for group in by_name.values()]


def _summarize_setting(group):
    first = group[0]
    has_ica = not math.isnan(first["mcc_ica"])
    metric = "MCC" if has_ica else _METRIC_NAMES[first["metric"]]
    return {
        "setting": first["setting"],
        "process": first["process"],
        "model": first["model"],
        "metric": metric,
        "ours": _mean_std([r["score"] for r in group]),
        "paper": first["paper"] or "—",
        "no ICA": _mean_std([r["mcc"] for r in group]) if has_ica else "",
        "baseline": f"{_mean_std([r['baseline'] for r in group])} "
        f"({first['baseline_name']})",
        **{
            col: _optional_mean_std(group, key) for col, key in _DISENTANGLEMENT.items()
        },
        "steps": str(first.get("steps", "")),
        "conv.": _convergence(group),
        "seeds": str(len(group)),
        "time": f"{np.mean([r['time'] for r in group]):.0f} s",
        "score_mean": float(np.mean([r["score"] for r in group])),
    }


def _optional_mean_std(group, key):
    """Mean ± std of ``key`` in %, or "" when a run lacks it (older results)."""
    if any(key not in r for r in group):
        return ""
    return _mean_std([r[key] for r in group])


CONVERGENCE_RULE = (
    "conv.: every row is also trained with half its budget (same recipe and "
    "stream); the change from half to full budget times log2(4/3) predicts what "
    "a 4/3-budget run would change; 'yes' when it is below 0.3 points for every "
    "seed, else 'no (+x.xx)' with the largest predicted change in points"
)
"""The convergence mark, as stated under the table."""


def _convergence(group):
    """ "yes", or "no (+x.xx)" with the largest predicted change of a
    4/3-budget run in points (runs recorded before that mark: "no (Δx.xx)",
    the largest drift over the last quarter of the budget)."""
    if any("converged" not in r for r in group):
        return ""
    if all(r["converged"] for r in group):
        return "yes"
    if all("extension_gain" in r for r in group):
        gain = max((r["extension_gain"] for r in group), key=abs)
        return f"no ({100 * gain:+.2f})"
    return f"no (Δ{100 * max(r['drift'] for r in group):.2f})"


def format_table(rows):
    """Format summary rows as an aligned plain-text table.

    Parameters
    ----------
    rows : list of dict
        Output of :func:`summarize`.

    Returns
    -------
    table : str
        Header, rule and one line per row; numbers are % (mean ± std over
        seeds). Empty columns are dropped.

    Examples
    --------
    >>> from sklcm.experiments import format_table
    >>> print(format_table([{"setting": "a", "ours": "99.00 ± 0.00"}]))
    setting  ours
    -------  ------------
    a        99.00 ± 0.00
    """
    columns = [c for c in _COLUMNS if any(row.get(c) for row in rows)]
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]

    def line(values):
        return "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()

    rule = ["-" * w for w in widths]
    return "\n".join([line(columns), line(rule), *map(line, cells)])


def _jsonable(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def save_runs(runs, out, *, meta=None):
    """Write every run, with its parameters and seed, to ``runs.csv``/``runs.json``.

    Parameters
    ----------
    runs : list of dict
        Results of :func:`run_setting`; latent arrays are left out.
    out : str or path-like
        Existing directory.
    meta : dict, default=None
        Extra top-level fields of the JSON file (preset, wall time, ...).

    Returns
    -------
    paths : list of Path
        The files written.

    Examples
    --------
    >>> import tempfile
    >>> from sklcm.experiments import run_setting, save_runs
    >>> runs = [run_setting("sphere-vmf", preset="smoke")]
    >>> with tempfile.TemporaryDirectory() as out:
    ...     [p.name for p in save_runs(runs, out)]
    ['runs.csv', 'runs.json']
    """
    out = Path(out)
    records = [
        {k: _jsonable(v) for k, v in run.items() if k not in _CSV_SKIP} for run in runs
    ]
    fields = list(dict.fromkeys(k for rec in records for k in rec))
    with open(out / "runs.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(records)
    payload = {**(meta or {}), "summary": summarize(runs), "runs": records}
    with open(out / "runs.json", "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=1, ensure_ascii=False)
    return [out / "runs.csv", out / "runs.json"]


def save_figures(runs, out):
    """Save one identifiability figure per setting (its first seed's latents).

    Parameters
    ----------
    runs : list of dict
        Results of :func:`run_setting` with ``return_latents=True``.
    out : str or path-like
        Existing directory; figures go to ``out/figures/<setting>.png``.

    Returns
    -------
    paths : list of Path
        The files written.

    Examples
    --------
    >>> import tempfile
    >>> from sklcm.experiments import run_setting, save_figures
    >>> runs = [run_setting("box-laplace", preset="smoke", return_latents=True)]
    >>> with tempfile.TemporaryDirectory() as out:
    ...     [p.name for p in save_figures(runs, out)]
    ['box-laplace.png']
    """
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt

    folder = Path(out) / "figures"
    folder.mkdir(exist_ok=True)
    paths, seen = [], set()
    for run in runs:
        if run["setting"] in seen or "z_true" not in run:
            continue
        seen.add(run["setting"])
        align = "linear" if run["metric"] == "r2" else None
        disp = IdentifiabilityDisplay.from_predictions(
            run["z_true"],
            run["z_pred"],
            align=align,
            estimator_name=f"{run['setting']} (seed {run['seed']}): {run['model']}",
        )
        paths.append(folder / f"{run['setting']}.png")
        disp.figure_.savefig(paths[-1], dpi=80)
        plt.close(disp.figure_)
    return paths
