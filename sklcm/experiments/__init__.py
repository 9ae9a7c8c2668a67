"""Reproduce the paper's synthetic identifiability table with sklcm estimators.

``python -m sklcm reproduce`` is a thin command line over :func:`reproduce`.
Nothing in the library imports this package.
"""
# License: BSD 3 clause

# fewshot_evaluate now lives in sklcm.evaluation (a protocol for your own data);
# it stays importable from here, where earlier releases documented it.
from sklcm.evaluation import fewshot_evaluate  # noqa: F401

from ._presets import GROUPS, PRESETS, SETTINGS, Preset, Setting, select_settings
from ._report import format_table, save_figures, save_runs, summarize
from ._runner import reproduce, run_setting

__all__ = [
    "GROUPS",
    "PRESETS",
    "SETTINGS",
    "Preset",
    "Setting",
    "format_table",
    "reproduce",
    "run_setting",
    "save_figures",
    "save_runs",
    "select_settings",
    "summarize",
]
