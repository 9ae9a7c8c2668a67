"""Tests of the command line ``python -m sklcm reproduce``."""

import csv
import json
import subprocess
import sys

import pytest
import torch

from sklcm._cli import main

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
    "steps",
    "seeds",
    "time",
]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce") / "results"
    status = main(
        [*SMOKE, "--settings", ",".join(ROWS), "--seeds", "2", "--out", str(out)]
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
    assert "row 1/1 box-gennorm, seed 1/1" in err
    assert "step     10/10" in err and "done: score" in err
    assert not (tmp_path / "figures").exists()


@pytest.mark.parametrize(
    "args, match",
    [
        (["--settings", "sphere-vmf,nope"], "unknown setting(s) 'nope'"),
        (["--seeds", "0"], "--seeds: must be >= 1, got 0"),
        (["--seeds", "two"], "--seeds: expected an integer"),
        (["--preset", "huge"], "invalid choice: 'huge'"),
        (["--out", "{file}/sub"], "is not a writable directory"),
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
