"""Tests of the command line ``python -m sklcm reproduce``."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from skorch.callbacks import Callback

from sklcm.cli import main
from sklcm.experiments import PRESETS, SETTINGS

torch.set_num_threads(1)
pytest.importorskip("matplotlib")

SMOKE = ["reproduce", "--preset", "smoke"]
ROWS = ["sphere-vmf", "box-laplace", "ica-uniform"]
COLUMNS = [
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
]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce") / "results"
    status = main(
        [
            *SMOKE,
            "--settings",
            ",".join(ROWS),
            "--seeds",
            "2",
            "--n-jobs",
            "1",
            "--out",
            str(out),
        ]
    )
    return status, out


def test_reproduce_smoke_end_to_end(smoke_run):
    status, out = smoke_run
    assert status == 0
    table = (out / "table.txt").read_text(encoding="utf-8").splitlines()
    assert table[0].split() == [w for c in COLUMNS for w in c.split()]
    assert [line.split()[0] for line in table[2:5]] == ROWS
    assert "99.5 ± 0.1" in table[2] and "99.1 ± 0.1" in table[3]
    assert "wall time" in table[-1]
    assert sorted(p.name for p in (out / "figures").iterdir()) == sorted(
        f"{r}.png" for r in ROWS
    )


def test_reproduce_writes_every_run_with_parameters(smoke_run):
    _, out = smoke_run
    with open(out / "runs.csv", encoding="utf-8") as f:
        runs = list(csv.DictReader(f))
    assert [(r["setting"], r["seed"]) for r in runs] == [
        (s, str(k)) for s in ROWS for k in (0, 1)
    ]
    for key in (
        "score",
        "baseline",
        "n_latents",
        "conditional",
        "temperature",
        "steps",
        "batch_size",
        "lr",
        "hidden_layer_sizes",
    ):
        assert all(r[key] != "" for r in runs), key
    payload = json.loads((out / "runs.json").read_text(encoding="utf-8"))
    assert payload["preset"] == "smoke" and payload["n_seeds"] == 2
    assert payload["wall_time_s"] > 0 and len(payload["runs"]) == 6
    assert payload["runs"][4]["mcc_ica"] is not None
    assert payload["runs"][0]["mcc_ica"] is None


def test_reproduce_prints_table_and_progress(tmp_path, capsys):
    status = main(
        [*SMOKE, "--settings", "box-gennorm", "--no-figures", "--out", str(tmp_path)]
    )
    out, err = capsys.readouterr()
    assert status == 0
    assert out.splitlines()[0].startswith("setting") and "box-gennorm" in out
    assert "row 1/1 box-gennorm, seed 1/1: started" in err
    assert "box-gennorm, seed 1/1: step     20/20" in err
    assert "box-gennorm, seed 1/1: done, score" in err
    assert not (tmp_path / "figures").exists()


@pytest.mark.parametrize(
    "args, match",
    [
        (["--settings", "sphere-vmf,nope"], "unknown setting(s) 'nope'"),
        (["--seeds", "0"], "--seeds: must be >= 1, got 0"),
        (["--seeds", "two"], "--seeds: expected an integer"),
        (["--preset", "huge"], "invalid choice: 'huge'"),
        (["--out", "{file}/sub"], "is not a writable directory"),
        (["--device", "gpu"], "--device: 'gpu' is not a torch device"),
        (["--n-jobs", "0"], "--n-jobs: must be >= 1, got 0"),
        (["--resume", "{file}"], "no readable runs.json"),
    ],
)
def test_reproduce_bad_arguments_exit_2(tmp_path, capsys, args, match):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    args = [a.format(file=blocker) for a in args]
    assert main(["reproduce", *args]) == 2
    err = capsys.readouterr().err
    assert match in err and "usage: sklcm reproduce" in err


def test_help_documents_every_option(capsys):
    assert main(["reproduce", "--help"]) == 0
    text = capsys.readouterr().out
    for option in (
        "--preset",
        "--settings",
        "--seeds",
        "--device",
        "--out",
        "--no-figures",
        "--quiet",
        "--n-jobs",
        "--resume",
        "conv.",
        "sphere-vmf",
        "runs.csv",
    ):
        assert option in text


def test_python_m_sklcm_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "sklcm", "reproduce", "--seeds", "-1"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "must be >= 1" in proc.stderr


@pytest.mark.parametrize(
    "args, match",
    [
        (["--device", "gpu"], "not a torch device"),
        (["--settings", "nope"], "unknown setting(s) 'nope'"),
    ],
)
def test_bad_arguments_create_nothing_and_train_nothing(
    tmp_path, capsys, monkeypatch, args, match
):
    def no_training(*args, **kwargs):
        raise AssertionError("training started before the arguments were checked")

    monkeypatch.setattr("sklcm.experiments.reproduce", no_training)
    out = tmp_path / "never"
    assert main([*SMOKE, *args, "--out", str(out)]) == 2
    assert match in capsys.readouterr().err
    assert not out.exists()


def test_missing_matplotlib_skips_figures_with_a_notice(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises
    status = main([*SMOKE, "--settings", "sphere-vmf", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 0
    assert err.index("matplotlib is not installed") < err.index("started")
    assert not (tmp_path / "figures").exists()
    assert (tmp_path / "runs.csv").exists()


class _CtrlC(Callback):
    """Press Ctrl-C during the 12th training step (skorch swallows it)."""

    def on_batch_end(self, net, training=False, **kwargs):
        if training and dict(net.callbacks_)["lr_schedule"].step_ == 12:
            raise KeyboardInterrupt


def _with_ctrl_c(monkeypatch, name):
    settings = tuple(
        replace(s, encoder={"callbacks": [_CtrlC()]}) if s.name == name else s
        for s in SETTINGS
    )
    monkeypatch.setattr("sklcm.experiments._presets.SETTINGS", settings)


def test_ctrl_c_keeps_finished_runs_exits_130_and_resume_finishes(
    tmp_path, capsys, monkeypatch
):
    _with_ctrl_c(monkeypatch, "box-gennorm")
    rows = ["--settings", "sphere-vmf,box-gennorm", "--n-jobs", "1", "--no-figures"]
    assert main([*SMOKE, *rows, "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert "box-gennorm (seed 0) interrupted after 12 of 20 steps" in err
    assert f"--resume {tmp_path}" in err
    with open(tmp_path / "runs.csv", encoding="utf-8") as f:
        runs = list(csv.DictReader(f))
    assert [(r["setting"], r["steps"]) for r in runs] == [("sphere-vmf", "20")]
    payload = json.loads((tmp_path / "runs.json").read_text(encoding="utf-8"))
    assert payload["complete"] is False
    assert "box-gennorm" not in (tmp_path / "table.txt").read_text(encoding="utf-8")

    monkeypatch.undo()
    assert main(["reproduce", "--resume", str(tmp_path), "--no-figures"]) == 0
    err = capsys.readouterr().err
    assert "sphere-vmf, seed 1/1: started" not in err  # kept, not trained again
    assert "box-gennorm, seed 1/1: started" in err
    payload = json.loads((tmp_path / "runs.json").read_text(encoding="utf-8"))
    assert payload["complete"] is True and payload["preset"] == "smoke"
    assert [(r["setting"], r["steps"]) for r in payload["runs"]] == [
        ("sphere-vmf", 20),
        ("box-gennorm", 20),
    ]


class _Kill(Callback):
    """``kill`` this process (SIGTERM) during the 12th training step."""

    def on_batch_end(self, net, training=False, **kwargs):
        if training and dict(net.callbacks_)["lr_schedule"].step_ == 12:
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_stops_like_ctrl_c(tmp_path, capsys, monkeypatch):
    settings = tuple(
        replace(s, encoder={"callbacks": [_Kill()]}) if s.name == "box-gennorm" else s
        for s in SETTINGS
    )
    monkeypatch.setattr("sklcm.experiments._presets.SETTINGS", settings)
    rows = ["--settings", "sphere-vmf,box-gennorm", "--n-jobs", "1", "--no-figures"]
    assert main([*SMOKE, *rows, "--out", str(tmp_path)]) == 130
    assert "interrupted after 12 of 20 steps" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # restored


def test_each_finished_run_is_on_disk_before_the_next_starts(tmp_path, monkeypatch):
    import sklcm.experiments._runner as runner

    seen = []
    real = runner.run_setting

    def spy(setting, seed=0, **kwargs):
        path = tmp_path / "runs.csv"
        seen.append(
            path.read_text(encoding="utf-8").count("\n") if path.exists() else 0
        )
        return real(setting, seed, **kwargs)

    monkeypatch.setattr(runner, "run_setting", spy)
    rows = ["--settings", "sphere-vmf", "--seeds", "3", "--n-jobs", "1"]
    assert main([*SMOKE, *rows, "--no-figures", "--out", str(tmp_path)]) == 0
    assert seen == [0, 2, 3]  # header + one line per finished run


def test_resume_with_another_preset_is_refused(tmp_path, capsys):
    rows = ["--settings", "sphere-vmf", "--no-figures", "--out", str(tmp_path)]
    assert main([*SMOKE, *rows]) == 0
    capsys.readouterr()
    status = main(["reproduce", "--preset", "quick", "--resume", str(tmp_path)])
    assert status == 2
    assert "its runs used --preset smoke, not quick" in capsys.readouterr().err


def test_quick_preset_duration_is_stated_once_everywhere(capsys):
    duration = re.search(r"about \d+ min[^;,()]*", PRESETS["quick"].description)[
        0
    ].strip()
    assert main(["reproduce", "--help"]) == 0
    assert duration in " ".join(capsys.readouterr().out.split())
    root = Path(__file__).resolve().parents[1]
    for page in ("README.md", "docs/user_guide/reproduce.rst"):
        text = " ".join((root / page).read_text(encoding="utf-8").split())
        assert duration in text, page
        assert not re.search(r"about \d+ min", text.replace(duration, "")), page


# -- one command line: shared argument types and one usage error ---------------

# values every option of a shared argument type must refuse (usage error, exit 2)
_BAD_VALUES = {
    "positive_int": ["0", "-1", "x", "1.5"],
    "non_negative_int": ["-1", "x", "1.5"],
    "positive_float": ["0", "-1", "nan", "inf", "x"],
    "positive_float_or_select": ["0", "-2", "x"],
    "fraction_or_count": ["0", "-0.2", "1.5", "x"],
    "existing_file": ["{missing}", "{folder}"],
    "device": ["gpu", "tpu:0"],
}


@pytest.fixture
def files(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    np.save(tmp_path / "F.npy", rng.normal(size=(30, 4)))
    np.save(tmp_path / "y.npy", np.repeat(np.arange(3), 10))
    return tmp_path


def _typed_options():
    """(subcommand, option, type name) of every option with a ``type=``."""
    from sklcm.cli._main import _build_parser

    _, subparsers = _build_parser()
    return [
        (name, action.option_strings[-1], action.type)
        for name, sub in subparsers.items()
        for action in sub._actions
        if action.type is not None
    ]


def test_every_typed_option_uses_a_shared_argument_type():
    from sklcm.cli import _arguments

    options = _typed_options()
    assert {cmd for cmd, _, _ in options} == {"reproduce", "fewshot"}
    for cmd, option, kind in options:
        # no int/float or hand-written check of a subcommand's own
        assert kind.__module__ == _arguments.__name__, (cmd, option)
        assert kind.__name__ in _BAD_VALUES, (cmd, option, kind.__name__)


@pytest.mark.parametrize(
    "cmd, option, kind", _typed_options(), ids=lambda v: getattr(v, "__name__", v)
)
def test_every_typed_option_refuses_bad_values_naming_the_option(
    tmp_path, capsys, cmd, option, kind
):
    for bad in _BAD_VALUES[kind.__name__]:
        bad = bad.format(missing=tmp_path / "nope.npy", folder=tmp_path)
        assert main([cmd, option, bad]) == 2, (option, bad)
        err = capsys.readouterr().err
        assert err.startswith(f"usage: sklcm {cmd}"), err
        assert f"sklcm {cmd}: error: argument {option}: " in err, err


def test_negative_val_shots_is_reported_as_the_option(files, capsys):
    # it was refused by FewShotSplit as "n_val_shots", a name users never typed
    argv = ["fewshot", "--features", str(files / "F.npy"), "--labels"]
    assert main([*argv, str(files / "y.npy"), "--val-shots", "-1"]) == 2
    err = capsys.readouterr().err
    assert "argument --val-shots: must be >= 0, got -1" in err
    assert "n_val_shots" not in err


def test_subcommands_share_one_usage_error_type():
    import inspect

    from sklcm.cli import _arguments, _fewshot, _main, _reproduce

    for module in (_fewshot, _reproduce, _main):
        own = [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, Exception) and cls.__module__ == module.__name__
        ]
        assert own == [], module.__name__
    assert _fewshot.UsageError is _reproduce.UsageError is _arguments.UsageError


@pytest.mark.parametrize(
    "argv, prefix",
    [
        (["reproduce", "--settings", "nope"], "sklcm reproduce: error: --settings"),
        (["fewshot", "--features", "{F}", "--labels", "{F}"], "sklcm fewshot: error:"),
    ],
)
def test_errors_found_after_parsing_are_usage_errors_of_their_subcommand(
    files, capsys, argv, prefix
):
    assert main([a.format(F=files / "F.npy") for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: {prefix.split(':')[0]}") and prefix in err, err
