"""Tests of sklcm.experiments (the engine behind ``sklcm reproduce``)."""

import ast
import csv
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklcm.experiments import (
    GROUPS,
    PRESETS,
    SETTINGS,
    format_table,
    reproduce,
    run_setting,
    save_runs,
    select_settings,
    summarize,
)
from sklcm.experiments._runner import (
    _make_encoder,
    _make_sampler,
    _matched_concentration,
    _relative_noise,
    _steps,
)

torch.set_num_threads(1)
PACKAGE = Path(__file__).resolve().parents[1] / "sklcm"


def test_settings_cover_the_issue_rows():
    names = [s.name for s in SETTINGS]
    assert len(set(names)) == len(names)
    assert {s.group for s in SETTINGS} == set(GROUPS)
    by_name = {s.name: s for s in SETTINGS}
    assert by_name["sphere-vmf"].paper == "99.5 ± 0.1"
    assert by_name["box-laplace"].paper == "99.1 ± 0.1"
    assert [s.name for s in select_settings(["violation"])] == [
        "sphere-laplace",
        "sphere-normal",
        "real-normal",
        "box-gennorm",
        "real-laplace",
    ]
    assert by_name["ica-uniform"].ica and by_name["ica-uniform"].group == "corollary"
    assert PRESETS["quick"].n_latents == 10


def test_select_settings_order_and_errors():
    picked = select_settings(["tau-1", "theorem", "sphere-vmf"])
    assert [s.name for s in picked] == ["sphere-vmf", "box-laplace", "tau-1"]
    assert len(select_settings(["all"])) == len(SETTINGS)
    with pytest.raises(ValueError, match="unknown setting.*'bogus'.*'all'"):
        select_settings(["bogus"])


def _events():
    events = []
    return events, lambda event, **info: events.append((event, info))


def test_run_setting_is_reproducible_and_reports_progress():
    events, progress = _events()
    first = run_setting("ica-laplace", seed=3, preset="smoke", progress=progress)
    again = run_setting("ica-laplace", seed=3, preset="smoke")
    assert first["score"] == again["score"] == first["mcc_ica"]
    assert first["baseline"] == again["baseline"]
    assert [e for e, _ in events] == ["start", *["train"] * 4, "done"]
    assert events[-2][1]["step"] == 20 and events[-1][1]["setting"] == "ica-laplace"
    assert first["seed"] == 3 and first["pairs_seen"] == 20 * 64
    assert first["latent_space"] == "real" and first["marginal"] == "laplace"


@pytest.mark.parametrize(
    "name, key, expected",
    [
        ("unequal-dims", "n_features", [5, 9]),
        ("wide-encoder", "n_components", 5),
        ("specific-5", "n_specific", [5, 5]),
        ("tau-0.1", "temperature", 0.1),
        ("kappa-50", "concentration", 50.0),
    ],
)
def test_run_setting_applies_row_parameters(name, key, expected):
    result = run_setting(name, preset="smoke", return_latents=True)
    assert result[key] == expected
    assert result["z_true"].shape == (PRESETS["smoke"].n_test, 3)
    assert math.isnan(result["mcc_ica"]) and result["score"] == result["r2"]


def test_reproduce_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_seeds must be >= 1"):
        reproduce("smoke", ["sphere-vmf"], n_seeds=0)
    with pytest.raises(ValueError, match="n_jobs must be an int >= 1, got 0"):
        reproduce("smoke", ["sphere-vmf"], n_jobs=0)
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        run_setting("sphere-vmf", preset="huge")


@pytest.mark.parametrize("preset", list(PRESETS.values()), ids=list(PRESETS))
def test_every_row_gets_its_geometry_theorem_budget(preset):
    theorem = {s.latent_space: _steps(s, preset) for s in select_settings(["theorem"])}
    assert theorem == {"sphere": preset.sphere_steps, "box": preset.box_steps}
    theorem["real"] = preset.box_steps  # the unbounded rows: the box budget
    for setting in SETTINGS:
        assert _steps(setting, preset) == theorem[setting.latent_space], setting.name


@pytest.mark.parametrize("name", ["sphere-vmf", "box-laplace", "box-tau-0.2"])
def test_preset_recipe_reaches_the_encoder(name):
    setting = select_settings([name])[0]
    preset = replace(
        PRESETS["smoke"],
        lr=4e-3,
        whiten_inputs=True,
        ema_decay=0.99,
        box_squash="softclamp",
        learn_box_temperature=True,
    )
    sampler = _make_sampler(setting, preset.n_latents, 0)
    params = _make_encoder(setting, preset, sampler, 20, 0, "cpu").get_params()
    assert params["lr"] == 4e-3 and params["max_steps"] == 20
    assert params["whiten_inputs"] is True and params["ema_decay"] == 0.99
    assert params["box_squash"] == "softclamp"
    box = setting.latent_space == "box"
    # the row's own encoder parameters win over the preset's
    assert params["learn_temperature"] is (box and name != "box-tau-0.2")
    quick = _make_encoder(setting, PRESETS["quick"], sampler, 20, 0, "cpu")
    assert quick.whiten_inputs and quick.ema_decay == 0.999 and quick.lr == 5e-3


def test_violation_rows_match_the_theorem_rows_noise_level():
    reference = {
        s.name: _relative_noise(s.data, 10) for s in select_settings(["theorem"])
    }
    by_geometry = {"sphere": "sphere-vmf", "box": "box-laplace"}
    for setting in select_settings(["violation"]):
        assert setting.match_noise
        data = {**setting.data, "concentration": _matched_concentration(setting, 10)}
        ratio = _relative_noise(data, 10)
        name = setting.noise_reference or by_geometry[setting.latent_space]
        assert ratio == pytest.approx(reference[name], rel=0.02)
    result = run_setting("box-gennorm", preset="smoke")
    assert result["concentration"] == _matched_concentration(
        select_settings(["box-gennorm"])[0], PRESETS["smoke"].n_latents
    )
    assert result["steps"] == result["budget"] == PRESETS["smoke"].box_steps


def test_results_do_not_depend_on_n_jobs():
    rows = ["sphere-vmf", "box-gennorm"]
    one = reproduce("smoke", rows, n_seeds=1, n_jobs=1)
    two = reproduce("smoke", rows, n_seeds=1, n_jobs=2)
    assert [(r["setting"], r["seed"]) for r in two] == [(s, 0) for s in rows]
    for a, b in zip(one, two):
        assert (a["score"], a["r2"], a["late_scores"]) == (
            b["score"],
            b["r2"],
            b["late_scores"],
        )


def test_interrupt_with_workers_stops_them_and_raises_keyboard_interrupt():
    """Old bug: shutdown(wait=False) dropped the executor's worker list, so an
    interrupt raised AttributeError and left both workers training."""
    import multiprocessing

    def progress(event, **info):
        if event == "train":  # a worker is training: interrupt the command
            raise KeyboardInterrupt

    # children of earlier tests (still being reaped) are not this call's workers
    before = set(multiprocessing.active_children())
    with pytest.raises(KeyboardInterrupt):
        reproduce("smoke", ["sphere-vmf"], 2, n_jobs=2, progress=progress)
    # the old bug left both workers training for the whole run; a process of
    # the pool can still be exiting when the call returns (seen in 2 of 18
    # interrupts, gone within 0.5 s), so allow it a few seconds to end
    deadline = time.monotonic() + 5
    while set(multiprocessing.active_children()) - before:
        assert time.monotonic() < deadline, "workers still running after 5 s"
        time.sleep(0.1)


def test_reproduce_skips_finished_runs_and_reports_each_run_at_once():
    finished = []
    runs = reproduce(
        "smoke",
        ["sphere-vmf"],
        n_seeds=3,
        skip=[("sphere-vmf", 1)],
        on_run=lambda r: finished.append(r["seed"]),
    )
    assert finished == [0, 2] and [r["seed"] for r in runs] == [0, 2]


class _CtrlC(Callback):
    """Press Ctrl-C during the 7th training step (the encoder re-raises it)."""

    def on_batch_end(self, net, training=False, **kwargs):
        if training and dict(net.callbacks_)["lr_schedule"].step_ == 7:
            raise KeyboardInterrupt


def test_swallowed_ctrl_c_is_raised_with_the_steps_taken():
    (setting,) = select_settings(["sphere-vmf"])
    setting = replace(setting, encoder={"callbacks": [_CtrlC()]})
    with pytest.raises(KeyboardInterrupt, match="interrupted after 7 of 20 steps"):
        run_setting(setting, preset="smoke")


def test_run_setting_checks_convergence_with_a_half_budget_run():
    preset = replace(PRESETS["smoke"], sphere_steps=40)
    result = run_setting("sphere-vmf", preset=preset)
    assert len(result["late_scores"]) == 3  # after steps 30, 35, 40 (chunks of 5)
    assert result["drift"] == pytest.approx(np.ptp(result["late_scores"]))
    # the mark: the half-budget run's score predicts a 4/3-budget rerun's change
    half = run_setting("sphere-vmf", preset=replace(preset, sphere_steps=20))
    assert result["half_budget_score"] == pytest.approx(half["late_scores"][-1])
    expected = (result["late_scores"][-1] - half["late_scores"][-1]) * np.log2(4 / 3)
    assert result["extension_gain"] == pytest.approx(expected)
    assert result["converged"] == (abs(expected) < 0.003)
    assert result["steps"] == 40  # the half-budget run is not counted


RUN = {
    "setting": "a",
    "process": "p",
    "model": "m",
    "metric": "mcc",
    "seed": 0,
    "score": 0.99,
    "r2": 0.9,
    "mcc": 0.8,
    "mcc_ica": 0.99,
    "paper": None,
    "baseline": 0.6,
    "baseline_name": "MCC ICA(x)",
    "time": 2.0,
    "n_specific": [0, 0],
    "converged": True,
    "drift": 0.001,
}


def test_summarize_and_format_table_align_columns():
    rows = summarize(
        [
            RUN,
            {**RUN, "seed": 1, "score": 0.97, "mcc": 0.6},
            {**RUN, "setting": "bb", "mcc_ica": math.nan},
        ]
    )
    assert rows[0]["ours"] == "98.00 ± 1.41" and rows[0]["no ICA"] == "70.00 ± 14.14"
    assert rows[1]["ours"] == "99.00" and rows[1]["no ICA"] == ""
    assert rows[0]["paper"] == "—" and rows[0]["seeds"] == "2"
    assert rows[0]["conv."] == "yes"
    lines = format_table(rows).splitlines()
    assert len(lines) == 4 and lines[0].split()[:2] == ["setting", "process"]
    start = lines[0].index("ours")
    assert lines[2][start:].startswith("98.00") and lines[3][start:].startswith("99.00")


def test_summarize_marks_rows_that_did_not_converge():
    late = {**RUN, "seed": 1, "converged": False, "drift": 0.0052}
    assert summarize([RUN, late])[0]["conv."] == "no (Δ0.52)"
    assert "no (Δ0.52)" in format_table(summarize([RUN, late]))


def test_save_runs_writes_csv_and_json(tmp_path):
    paths = save_runs(
        [RUN, {**RUN, "mcc_ica": math.nan}], tmp_path, meta={"wall_time_s": 1.5}
    )
    assert [p.name for p in paths] == ["runs.csv", "runs.json"]
    with open(paths[0], encoding="utf-8") as f:
        assert [r["seed"] for r in csv.DictReader(f)] == ["0", "0"]
    payload = json.loads(paths[1].read_text(encoding="utf-8"))
    assert payload["wall_time_s"] == 1.5 and payload["runs"][1]["mcc_ica"] is None
    assert payload["summary"][0]["setting"] == "a"


def test_run_setting_reports_disentanglement_of_the_scored_representation():
    from sklcm.metrics import (
        disentanglement_completeness_informativeness,
        mig_score,
    )

    # an ICA row: the scored representation is the one after CoupledLatentICA;
    # the metrics use the first 4000 held-out pairs (all 400 of the smoke preset)
    result = run_setting("ica-laplace", seed=2, preset="smoke", return_latents=True)
    z_true, z_pred = result["z_true"][:4000], result["z_pred"][:4000]
    dci = disentanglement_completeness_informativeness(z_true, z_pred, random_state=2)
    assert result["dci_disentanglement"] == dci.disentanglement
    assert result["dci_completeness"] == dci.completeness
    assert result["mig"] == mig_score(z_true, z_pred)


def test_summarize_shows_disentanglement_columns(tmp_path):
    scores = {"dci_disentanglement": 0.9, "dci_completeness": 0.8, "mig": 0.5}
    rows = summarize([{**RUN, **scores}, {**RUN, **scores, "seed": 1, "mig": 0.7}])
    assert rows[0]["DCI-D"] == "90.00 ± 0.00" and rows[0]["DCI-C"] == "80.00 ± 0.00"
    assert rows[0]["MIG"] == "60.00 ± 14.14"
    header = format_table(rows).splitlines()[0].split()
    assert header.index("baseline") < header.index("DCI-D") < header.index("conv.")
    assert header[header.index("DCI-D") :][:3] == ["DCI-D", "DCI-C", "MIG"]
    # runs recorded before these metrics existed: empty cells, column dropped
    assert summarize([RUN])[0]["MIG"] == ""
    assert "MIG" not in format_table(summarize([RUN]))
    save_runs([{**RUN, **scores}], tmp_path)
    payload = json.loads((tmp_path / "runs.json").read_text(encoding="utf-8"))
    assert payload["runs"][0]["mig"] == 0.5 and payload["summary"][0]["MIG"] == "50.00"
    with open(tmp_path / "runs.csv", encoding="utf-8") as f:
        assert next(csv.DictReader(f))["dci_completeness"] == "0.8"


def _sklcm_imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            yield from ((a.name, []) for a in node.names)


def _private_attribute_uses(path):
    """``obj._name`` in ``path`` on anything but ``self``/``cls`` (dunders aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not (node.attr.startswith("__") and node.attr.endswith("__"))
            and not (
                isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            )
        ):
            yield f"{path.name}:{node.lineno}: {ast.unparse(node)}"


# the packages built on sklcm's public API (and nothing else of the library)
_CONSUMERS = ("experiments", "evaluation")


@pytest.mark.parametrize("package", _CONSUMERS)
def test_experiments_use_only_the_public_api(package):
    paths = list((PACKAGE / package).glob("*.py"))
    assert paths
    for path in paths:
        for module, names in _sklcm_imports(path):
            if module.split(".")[0] == "sklcm":
                assert not any(p.startswith("_") for p in module.split(".")), path
                assert not any(n.startswith("_") for n in names), path
        # nor private attributes of estimators (e.g. enc._similarity())
        assert not list(_private_attribute_uses(path))


def test_private_attribute_scan_finds_private_access(tmp_path):
    code = "def f(enc, self):\n    self._ok()\n    return enc._similarity(), enc.p\n"
    (tmp_path / "m.py").write_text(code, encoding="utf-8")
    assert list(_private_attribute_uses(tmp_path / "m.py")) == [
        "m.py:3: enc._similarity"
    ]


# the command line (sklcm/cli/ and __main__.py) is the only library code allowed
# to import these
_COMMAND_LINE = ("cli", "__main__.py")


@pytest.mark.parametrize("package", _CONSUMERS)
def test_library_does_not_import_experiments(package):
    for path in PACKAGE.rglob("*.py"):
        if set(_CONSUMERS + _COMMAND_LINE) & {*path.parts, path.name}:
            continue
        for module, _ in _sklcm_imports(path):
            assert package not in module.split("."), path


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, threshold", [("sphere-vmf", 0.994), ("box-laplace", 0.985)]
)
def test_quick_preset_theorem_rows_reach_thresholds(name, threshold):
    result = run_setting(name, seed=0, preset="quick")
    assert result["score"] >= threshold, result


def test_convergence_mark_predicts_a_four_thirds_budget_and_is_in_the_table():
    from sklcm.experiments._report import CONVERGENCE_RULE
    from sklcm.experiments._runner import convergence_gain

    # one doubling gained 1 point: a 4/3 budget is predicted 0.415 of it
    assert convergence_gain(0.99, 0.98) == pytest.approx(0.01 * np.log2(4 / 3))
    assert convergence_gain(0.995, 0.994) < 0.003  # 0.04 points: converged
    run = {**RUN, "extension_gain": 0.001}
    late = {**run, "seed": 1, "converged": False, "extension_gain": 0.0042}
    falling = {**run, "seed": 2, "converged": False, "extension_gain": -0.005}
    assert summarize([run, {**run, "seed": 1}])[0]["conv."] == "yes"
    assert summarize([run, late])[0]["conv."] == "no (+0.42)"
    assert summarize([run, late, falling])[0]["conv."] == "no (-0.50)"
    assert "4/3-budget" in CONVERGENCE_RULE and "0.3 points" in CONVERGENCE_RULE


def test_partial_rows_kappa_matched_circle_and_real_geometry():
    by_name = {s.name: s for s in SETTINGS}
    names = [s.name for s in SETTINGS]
    # the matched temperature beside the mismatched one; tau-1 stays
    assert names.index("kappa-2-matched") == names.index("kappa-2") + 1
    matched = by_name["kappa-2-matched"]
    assert matched.encoder == {"temperature": 0.5} and "τ = 1/κ = 0.5" in (
        matched.process
    )
    assert matched.data == by_name["kappa-2"].data and "tau-1" in by_name
    # the circle: n_latents = 2 on the sphere, head batch norm by default
    circle = by_name["circle"]
    assert circle.n_latents == 2 and circle.latent_space == "sphere"
    preset = PRESETS["smoke"]
    sampler = _make_sampler(circle, 2, 0)
    encoder = _make_encoder(circle, preset, sampler, 20, 0, "cpu")
    assert encoder.n_components == 2 and encoder.head_batch_norm == "auto"
    assert encoder.temperature == 0.5
    result = run_setting("circle", preset="smoke")
    assert result["n_latents"] == 2 and result["n_features"] == [2, 2]
    # the unbounded rows use the unbounded encoder, and the table says so
    for name, p in [("real-laplace", 1.0), ("real-normal", 2.0)]:
        row = by_name[name]
        assert row.latent_space == "real" and row.model == f"real enc. (L{p:g})"
        sampler = _make_sampler(row, preset.n_latents, 0)
        enc = _make_encoder(row, preset, sampler, 20, 0, "cpu")
        assert enc.latent_space == "real" and enc.p == p
    assert by_name["real-laplace"].metric == "mcc"
    assert by_name["real-normal"].metric == "r2"
    result = run_setting("real-laplace", preset="smoke")
    assert result["encoder_space"] == "real" and result["model"] == "real enc. (L1)"


def test_rows_with_specific_latents_use_the_specific_recipe():
    # every row whose data has modality-specific latents, and only those,
    # gets the batch-normalised head and 4× the preset's pairs per step
    # (benchmarks/results/study_specific.txt); its step budget stays its
    # theorem row's
    for setting in SETTINGS:
        specific = any(np.atleast_1d(setting.data.get("n_specific", 0)))
        assert (setting.batch_factor == 4) is specific, setting.name
        if setting.latent_space != "real":
            bn = setting.encoder.get("head_batch_norm") is True
            assert bn is specific, setting.name
    assert {s.name for s in SETTINGS if s.batch_factor != 1} == {
        "specific-5",
        "specific-10",
    }
    row = select_settings(["specific-5"])[0]
    assert row.model == "sphere enc. (BN head, batch ×4)"
    for name, preset in PRESETS.items():
        assert _steps(row, preset) == preset.sphere_steps, name
    result = run_setting("specific-5", preset="smoke")
    smoke = PRESETS["smoke"]
    assert result["batch_size"] == 4 * smoke.batch_size
    assert result["pairs_seen"] == smoke.sphere_steps * 4 * smoke.batch_size
    assert result["model"] == "sphere enc. (BN head, batch ×4)"
    plain = run_setting("specific-0", preset="smoke")
    assert plain["batch_size"] == smoke.batch_size and plain["model"] == "sphere enc."
