"""Reproduce the paper's synthetic identifiability table with sklcm estimators.

``python -m sklcm reproduce`` is a thin command line over :func:`reproduce`.
Nothing in the library imports this package.
"""
# License: BSD 3 clause

from ._fewshot import fewshot_evaluate
from ._presets import GROUPS, PRESETS, SETTINGS, Preset, Setting, select_settings
from ._report import format_table, save_figures, save_runs, summarize
from ._runner import run_setting

__all__ = [
    "GROUPS",
    "PRESETS",
    "SETTINGS",
    "Preset",
    "Setting",
    "fewshot_evaluate",
    "format_table",
    "reproduce",
    "run_setting",
    "save_figures",
    "save_runs",
    "select_settings",
    "summarize",
]


def reproduce(
    preset="quick",
    settings=None,
    n_seeds=None,
    *,
    device="auto",
    progress=None,
    return_latents=False,
):
    """Run every selected row of the synthetic table for every seed.

    Parameters
    ----------
    preset : str or Preset, default="quick"
        Training recipe: "quick" (about 15 min on a 2-core CPU), "paper"
        (wider encoder, longer schedule, 3 seeds) or "smoke" (seconds).
    settings : list of str, default=None
        Setting or group names (see :func:`select_settings`); None runs all.
    n_seeds : int, default=None
        Seeds 0, ..., n_seeds - 1 per row; None uses the preset's number.
    device : str, default="auto"
        Torch device of the encoders.
    progress : callable, default=None
        Forwarded to :func:`run_setting`, with ``row`` and ``n_rows`` added.
    return_latents : bool, default=False
        Keep the held-out latents of each run (for :func:`save_figures`).

    Returns
    -------
    runs : list of dict
        One result of :func:`run_setting` per (setting, seed), row by row.

    Examples
    --------
    >>> from sklcm.experiments import reproduce, summarize
    >>> runs = reproduce("smoke", ["sphere-vmf"], n_seeds=2)
    >>> [(r["setting"], r["seed"]) for r in runs]
    [('sphere-vmf', 0), ('sphere-vmf', 1)]
    >>> summarize(runs)[0]["paper"]
    '99.5 ± 0.1'
    """
    chosen = select_settings(settings)
    preset = PRESETS[preset] if isinstance(preset, str) else preset
    n_seeds = preset.n_seeds if n_seeds is None else int(n_seeds)
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be >= 1, got {n_seeds}.")
    runs = []
    for row, setting in enumerate(chosen, start=1):

        def report(event, _row=row, **info):
            if progress is not None:
                progress(event, row=_row, n_rows=len(chosen), **info)

        runs += [
            run_setting(
                setting,
                seed,
                preset=preset,
                device=device,
                progress=report,
                return_latents=return_latents,
            )
            for seed in range(n_seeds)
        ]
    return runs
