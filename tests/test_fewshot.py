"""Tests of the few-shot protocol (sklcm.evaluation.fewshot_evaluate) and its CLI."""
# License: BSD 3 clause

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from sklcm import CoupledLatentICA
from sklcm.cli import main
from sklcm.datasets import load_digits_halves
from sklcm.evaluation import _fewshot, fewshot_evaluate
from sklcm.model_selection import FewShotSplit

torch.set_num_threads(1)


def _views(n_per_class=30, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n_per_class)
    z = y[:, None] + 0.4 * rng.normal(size=(len(y), 2))
    x = np.hstack([z, rng.normal(size=(len(y), 4))]) @ rng.normal(size=(6, 8))
    t = np.tanh(z @ rng.normal(size=(2, 5))) + 0.1 * rng.normal(size=(len(y), 5))
    return x, t, y


def test_fewshot_rows_cover_every_method_and_shot_count():
    x, _, y = _views()
    rows = fewshot_evaluate(
        x, y, shots=[1, 3], n_draws=4, n_components=2, methods=["raw", "pca"]
    )
    assert [(r["method"], r["shots"]) for r in rows] == [
        ("raw", 1),
        ("raw", 3),
        ("pca", 1),
        ("pca", 3),
    ]
    assert all(len(r["scores"]) == 4 and r["n_test"] == 27 for r in rows)
    assert all(r["n_fit"] == 63 and not r["transductive"] for r in rows)
    assert rows[1]["mean"] > 45  # well above chance (33 %) at 3 shots


_FITS = []  # (class name, X, temperature) of every fit; ("score", X, tau) too


def _spy(cls):
    """A subclass of ``cls`` that records what each ``fit`` is given."""

    class Spy(cls):
        def fit(self, X, y=None, **kwargs):
            tau = getattr(self, "temperature", None)
            _FITS.append((cls.__name__, np.array(X, copy=True), tau))
            return super().fit(X, y, **kwargs)

        def score(self, X, y=None):
            _FITS.append(("score", np.array(X, copy=True), self.temperature))
            return super().score(X, y)

    Spy.__name__ = cls.__name__
    return Spy


@pytest.fixture
def spies(monkeypatch):
    import sklcm

    for name in ("StandardScaler", "PCA", "CCA"):
        monkeypatch.setattr(_fewshot, name, _spy(getattr(_fewshot, name)))
    encoder = sklcm.MultimodalContrastiveEncoder
    monkeypatch.setattr(sklcm, "MultimodalContrastiveEncoder", _spy(encoder))
    _FITS.clear()
    return _FITS


def _rows_of(X, views):
    """Row indices of ``X`` in one of the raw ``views`` (matched column-wise
    from the left), or None for a transformed array."""
    for view in views:
        ids = {row.tobytes(): i for i, row in enumerate(view)}
        found = [ids.get(row[: view.shape[1]].tobytes()) for row in X]
        if X.shape[1] >= view.shape[1] and None not in found:
            return set(found)
    return None


def _shares_rows(X, view):
    """Whether a row of ``X`` starts with a row of ``view``."""
    rows = {row.tobytes() for row in view}
    width = view.shape[1]
    return X.shape[1] >= width and any(r[:width].tobytes() in rows for r in X)


_FAST_ENCODER = {
    "max_epochs": 2,
    "hidden_layer_sizes": (16,),
    "batch_size": 32,
    "device": "cpu",
}


@pytest.mark.parametrize("transductive", [False, True])
def test_fewshot_unsupervised_steps_never_see_test_rows(spies, transductive):
    x, t, y = _views()
    x_target = x[::-1] + 3.0  # a shifted target: only ever transformed
    pool, test = FewShotSplit(test_size=0.3, random_state=0).split_pool(x, y)
    fit_rows = set(range(len(y))) if transductive else set(pool)
    fewshot_evaluate(
        x, y, pair=t, shots=1, n_draws=2, n_components=2, transductive=transductive,
        methods=["pca", "cca", "encoder"], temperature="select",
        temperatures=(0.5, 2.0), encoder_params=_FAST_ENCODER,
        targets={"shifted": (x_target, y[::-1])},
    )  # fmt: skip
    seen = {}
    for name, X, _ in spies:
        rows = _rows_of(X, (x, t))
        seen.setdefault(name, []).append(rows)
        if rows is None:  # a later step (PCA, CCA, scaling of scores)
            assert len(X) == len(fit_rows), name
        # no target row, raw or first in [x | t], is ever fitted on
        assert not _shares_rows(X, x_target), name
    # scalers of the features (pca, cca) and of the pair (cca): the fitting rows
    assert seen["StandardScaler"].count(fit_rows) == 3
    assert len(seen["PCA"]) == len(seen["CCA"]) == 1
    # temperature selection (MultimodalContrastiveEncoderCV, 3 folds): each
    # candidate trained on two folds of the fitting rows and scored on the
    # third; the three held-out folds partition the fitting rows; then one
    # encoder on all fitting rows
    fits, scores = seen["MultimodalContrastiveEncoder"], seen["score"]
    assert len(fits) == 2 * 3 + 1 and len(scores) == 2 * 3
    assert fits[-1] == fit_rows
    for trained, held in zip(fits[:-1], scores):
        assert trained | held == fit_rows and not trained & held
    folds = scores[:3]
    assert set().union(*folds) == fit_rows and sum(map(len, folds)) == len(fit_rows)


def test_fewshot_ica_equals_its_whitening_only_ablation():
    # REFERENCE §5: an L2 probe cannot see a rotation of whitened features, so
    # ICA and PCA + ICA must score what whitening alone scores.
    x, _, y = _views()
    rows = fewshot_evaluate(
        x,
        y,
        shots=[2],
        n_draws=5,
        n_components=3,
        methods=["whiten", "ica", "pca+ica", "pca"],
    )
    means = {r["method"]: r["mean"] for r in rows}
    assert means["ica"] == pytest.approx(means["whiten"], abs=1.0)
    assert means["pca+ica"] == pytest.approx(means["whiten"], abs=1.0)


class _SpyProbe(LogisticRegression):
    fitted_rows: list = []

    def fit(self, X, y, sample_weight=None):
        _SpyProbe.fitted_rows.append(len(X))
        return super().fit(X, y, sample_weight)


def test_fewshot_validation_shots_choose_C_but_k_shots_train(monkeypatch):
    x, _, y = _views()
    monkeypatch.setattr(_fewshot, "LogisticRegression", _SpyProbe)
    _SpyProbe.fitted_rows = []
    rows = fewshot_evaluate(x, y, shots=[1], n_val_shots=2, n_draws=2, methods=["raw"])
    # 9 C values x 2 draws for the search + 2 final fits, all on 1 shot x 3
    assert _SpyProbe.fitted_rows == [3] * 20
    assert rows[0]["n_val_shots"] == 2 and rows[0]["C"] is None


class _TestScoreSpy(LogisticRegression):
    """Records the C of each probe scored on the 27 fixed test rows."""

    scored_C: list = []

    def score(self, X, y, sample_weight=None):
        if len(X) == 27:
            _TestScoreSpy.scored_C.append(self.C)
        return super().score(X, y, sample_weight)


def test_fewshot_C_chosen_on_tied_validation_shots_is_not_the_smallest(monkeypatch):
    # one validation shot per class: the accuracies of most Cs tie; taking the
    # first (GridSearchCV) picks C = 1e-4 in 22 of 30 draws here
    x, _, y = _views()
    module = sys.modules[fewshot_evaluate.__module__]
    monkeypatch.setattr(module, "LogisticRegression", _TestScoreSpy)
    _TestScoreSpy.scored_C = []
    fewshot_evaluate(x, y, shots=[1], n_val_shots=1, n_draws=30, methods=["raw"])
    assert len(_TestScoreSpy.scored_C) == 30
    assert np.isclose(_TestScoreSpy.scored_C, 1e-4).sum() <= 6


@pytest.mark.parametrize("best", [0.5, 2.0])
def test_fewshot_encoder_with_label_free_temperature_selection(spies, best):
    # the candidates' held-out scores come from the encoder's public score; a
    # patched score makes `best` win: it must be chosen, reported and trained
    import sklcm

    Spy = sklcm.MultimodalContrastiveEncoder
    x, t, y = _views()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Spy, "score", _scored_as(Spy.score, best))
        rows = fewshot_evaluate(
            x, y, pair=t, shots=[2], n_draws=3, n_components=2,
            methods=["encoder", "encoder+whiten", "encoder+ica"],
            temperature="select", temperatures=(0.5, 2.0),
            encoder_params=_FAST_ENCODER,
        )  # fmt: skip
    info = rows[0]["info"]
    assert info["knn_agreement"] == pytest.approx(
        {tau: 0.9 if tau == best else 0.1 for tau in (0.5, 2.0)}
    )
    assert info["temperature"] == best
    encoder_fits = [tau for name, _, tau in spies if name.startswith("Multimodal")]
    # 3 folds per candidate, then the final encoder at the choice
    assert encoder_fits == [0.5] * 3 + [2.0] * 3 + [best]
    assert all(r["info"] is info for r in rows) and info["n_steps"] > 0


def test_fewshot_select_is_the_cv_estimators_choice(spies):
    # the protocol's "select" is MultimodalContrastiveEncoderCV: a near-tie
    # (0.5 best, 2.0 within 40 %) goes to the next larger temperature, as the
    # estimator's rule "next" says, where the highest score would take 0.5;
    # the probed encoder is the estimator's refit on all fitting rows
    import sklcm

    Spy = sklcm.MultimodalContrastiveEncoder
    x, t, y = _views()
    table = {0.2: 0.1, 0.5: 0.9, 2.0: 0.8}

    def patched(self, X, y=None):
        return table[self.temperature]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Spy, "score", patched)
        rows = fewshot_evaluate(
            x, y, pair=t, shots=[2], n_draws=2, n_components=2,
            methods=["encoder"], temperature="select",
            temperatures=(0.2, 0.5, 2.0), encoder_params=_FAST_ENCODER,
        )  # fmt: skip
        fitted = [tau for name, _, tau in spies if name.startswith("Multimodal")]
        search = sklcm.MultimodalContrastiveEncoderCV(
            Spy(split=x.shape[1], **_FAST_ENCODER), temperatures=(0.2, 0.5, 2.0)
        ).fit(np.hstack([x, t]))
    info = rows[0]["info"]
    assert info["temperature"] == search.temperature_ == 2.0
    assert info["knn_agreement"] == pytest.approx(table)
    assert fitted == [0.2] * 3 + [0.5] * 3 + [2.0] * 3 + [2.0]


def _scored_as(score, best):
    """``score`` that still runs (and is recorded) but returns 0.9 for ``best``."""

    def patched(self, X, y=None):
        score(self, X, y)
        return 0.9 if self.temperature == best else 0.1

    return patched


@pytest.mark.parametrize("transductive", [False, True])
def test_fewshot_drops_columns_constant_on_the_fitting_rows(transductive):
    x, t, y = _views()
    pool, test = FewShotSplit(test_size=0.3, random_state=0).split_pool(x, y)
    x[:, 2] = 5.0  # constant everywhere
    x[pool, 6] = 0.0  # constant on the pool only, as digits' border pixels
    x[test, 6] = np.arange(len(test))
    t[:, 0] = -1.0
    rows = fewshot_evaluate(
        x, y, pair=t, shots=[2], n_draws=2, n_components=3,
        methods=["raw", "ica", "whiten", "cca"], transductive=transductive,
    )  # fmt: skip
    expected = {"features": [2] if transductive else [2, 6], "pair": [0]}
    assert all(r["dropped_columns"] == expected for r in rows)
    assert all(r["mean"] > 40 for r in rows)  # ICA ran, chance is 33 %


def test_error_messages_print_plain_ints():
    # what users see: numpy 2 prints np.int64(3) unless told otherwise
    y = np.repeat([3, 4], [3, 10])
    X = np.c_[np.zeros(13), np.arange(13.0), np.ones(13)]
    with np.printoptions(legacy=False):
        with pytest.raises(ValueError, match=r"class 3 has 3 samples in y"):
            next(FewShotSplit(5).split(X, y))
        with pytest.raises(ValueError, match=r"constant column\(s\) \[0, 2\]"):
            CoupledLatentICA(1).fit(X)
        with pytest.raises(ValueError, match=r"got \[0\]"):
            fewshot_evaluate(X, y, shots=np.array([0]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"y": np.repeat(np.arange(3), 29)}, "features has 90 rows but the labels"),
        ({"pair": np.zeros((89, 2))}, "pair has 89 rows but the labels have 90"),
        ({"features": np.zeros(90)}, r"features must be 2-D .* got shape \(90,\)"),
        ({"features": np.full((90, 2), np.nan)}, "Input features contains NaN"),
        ({"shots": [25]}, r"class 0 has 21 samples in the pool .* = 25"),
        ({"shots": [0]}, "shots must be positive ints"),
        ({"methods": ["encoder"]}, "needs the paired array"),
        ({"methods": ["lda"]}, "unknown method 'lda'"),
    ],
)
def test_fewshot_errors(kwargs, match):
    x, _, y = _views()
    args = {"features": x, "y": y, "shots": [1], "n_draws": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        fewshot_evaluate(args.pop("features"), args.pop("y"), **args)


def test_fewshot_evaluate_lives_in_evaluation_without_torch():
    code = (
        "import sys\n"
        "import sklcm, sklcm.evaluation, sklcm.model_selection\n"
        "print('torch' in sys.modules, sklcm.evaluation.fewshot_evaluate.__module__)\n"
        "from sklcm.experiments import fewshot_evaluate\n"
        "print(fewshot_evaluate is sklcm.evaluation.fewshot_evaluate)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    # the encoder (torch) is imported only when an encoder method runs; the old
    # documented import path still works
    assert out.stdout.split() == ["False", "sklcm.evaluation._fewshot", "True"]


@pytest.fixture
def files(tmp_path):
    x, t, y = _views()
    for name, arr in (("F", x), ("T", t), ("y", y)):
        np.save(tmp_path / f"{name}.npy", arr)
    return tmp_path


def test_cli_fewshot_smoke(files, capsys):
    out = files / "out"
    status = main(
        ["fewshot", "--features", str(files / "F.npy"), "--labels",
         str(files / "y.npy"), "--pair", str(files / "T.npy"), "--shots", "1", "2",
         "--draws", "3", "--n-components", "2", "--methods", "raw", "whiten", "ica",
         "encoder", "--temperature", "1", "--max-epochs", "2", "--device", "cpu",
         "--out", str(out), "-q"]
    )  # fmt: skip
    assert status == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["method", "1-shot", "2-shot", "fit", "s"]
    assert "inductive: unsupervised steps fitted on the 63 pool rows only" in table
    assert "encoder: temperature 1 (given)" in table
    assert "probe: L2 logistic regression, C = 1" in table
    saved = json.loads((out / "results.json").read_text())
    assert len(saved["rows"]) == 8 and len(saved["rows"][0]["scores"]) == 3
    assert (out / "results.csv").read_text().startswith("method,shots,mean,std")
    assert (out / "table.txt").read_text().strip() == table.strip()


def test_cli_fewshot_transductive_is_named(files, capsys):
    status = main(
        ["fewshot", "--features", str(files / "F.npy"), "--labels",
         str(files / "y.npy"), "--shots", "1", "--draws", "2", "--methods", "pca",
         "--transductive", "-q"]
    )  # fmt: skip
    assert status == 0
    assert "TRANSDUCTIVE: unsupervised steps fitted on all rows" in (
        capsys.readouterr().out
    )


def test_cli_fewshot_drops_constant_columns_of_digit_halves(tmp_path, capsys):
    # the first real pair many users try: digits' border pixels are constant
    data = load_digits_halves()
    left, right = data.data[:, : data.split], data.data[:, data.split :]
    for name, arr in (("L", left), ("R", right), ("y", data.target)):
        np.save(tmp_path / f"{name}.npy", arr)
    pool, _ = FewShotSplit(test_size=0.3, random_state=0).split_pool(left, data.target)
    constant = {
        name: np.flatnonzero(np.ptp(arr[pool], axis=0) == 0).tolist()
        for name, arr in (("features", left), ("pair", right))
    }
    assert constant["features"] and constant["pair"]
    status = main(
        ["fewshot", "--features", str(tmp_path / "L.npy"), "--labels",
         str(tmp_path / "y.npy"), "--pair", str(tmp_path / "R.npy"), "--shots", "2",
         "--draws", "2", "--methods", "raw", "ica", "cca", "-q"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 0, err
    assert [line.split()[0] for line in out.splitlines()[1:4]] == ["raw", "ica", "cca"]
    notice = [line for line in err.splitlines() if "constant" in line]
    assert len(notice) == 1, err
    for name, cols in constant.items():
        assert f"--{name} {', '.join(map(str, cols))}" in notice[0]
    assert (
        f"constant columns dropped (no signal on the fitting rows): "
        f"{len(constant['features'])} of --features, {len(constant['pair'])} of --pair"
    ) in out


def test_cli_fewshot_training_failure_exits_1_naming_the_option(files, capsys):
    status = main(
        ["fewshot", "--features", str(files / "F.npy"), "--labels",
         str(files / "y.npy"), "--pair", str(files / "T.npy"), "--shots", "1",
         "--draws", "2", "--methods", "encoder", "--temperature", "1e-40",
         "--max-epochs", "1", "--device", "cpu", "-q"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert status == 1, err
    assert not err.startswith("usage:")  # not a usage error
    assert "diverged" in err and "--temperature" in err
    assert "`lr`" not in err  # not an option of the command line


def test_cli_fewshot_npz_key_options_choose_the_array(files, capsys):
    x, t, y = _views()
    np.savez(files / "F.npz", image=x, other=x[:, :2])
    np.savez(files / "y.npz", labels=y, other=y)
    status = main(
        ["fewshot", "--features", str(files / "F.npz"), "--features-key", "image",
         "--labels", str(files / "y.npz"), "--labels-key", "labels", "--shots", "1",
         "--draws", "2", "--methods", "raw", "-q"]
    )  # fmt: skip
    assert status == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    "case, match",
    [
        (
            "npz-two",
            r"--features '.*bad.npz' holds 2 arrays \['a', 'b'\]; choose "
            r"one with --features-key NAME",
        ),
        ("npz-key", r"--features-key 'c': --features '.*bad.npz' holds \['a', 'b'\]"),
        ("encoder-no-pair", r"--methods encoder needs --pair T.npy"),
        ("labels-short", r"--labels '.*bad.npy' has 89 labels but --features"),
        ("shots", r"class 0 has 21 samples in the pool"),
        ("nan", r"--features='.*bad.npy' contains 1 non-finite values"),
        ("1d", r"--features='.*bad.npy' must be a 2-D array"),
        ("pair-rows", r"--pair '.*bad.npy' has 80 rows but --features"),
        ("labels-2d", r"--labels '.*bad.npy' must be 1-D"),
        ("pairs-rows", r"--pair '.*bad.npy' has 80 rows but --features .*every"),
        ("pairs-keys", r"--pair-key has 3 names for 2 --pair files; give one"),
        ("pair-key-alone", r"--pair-key needs --pair"),
        ("pairs-small", r"--n-components 3 is too small for 2 --pair files.*>= 4"),
    ],
)
def test_cli_fewshot_bad_input(files, capsys, case, match):
    x, t, y = _views()
    bad = files / "bad.npy"
    args = {"--features": files / "F.npy", "--labels": files / "y.npy"}
    shots, methods = ["1"], ["raw"]
    if case.startswith("npz"):
        np.savez(files / "bad.npz", a=x, b=x)
        args["--features"] = files / "bad.npz"
        if case == "npz-key":
            args["--features-key"] = "c"
    elif case == "encoder-no-pair":
        methods = ["encoder"]
    elif case == "labels-short":
        np.save(bad, y[:89])
        args["--labels"] = bad
    elif case == "shots":
        shots = ["25"]
    elif case == "nan":
        x[4, 1] = np.nan
        np.save(bad, x)
        args["--features"] = bad
    elif case == "1d":
        np.save(bad, x[:, 0])
        args["--features"] = bad
    elif case == "pair-rows":
        np.save(bad, t[:80])
        args["--pair"] = bad
    elif case == "labels-2d":
        np.save(bad, np.c_[y, y])
        args["--labels"] = bad
    elif case.startswith("pair"):  # several --pair files
        np.save(files / "T.npy", t)
        np.save(bad, t[:80] if case == "pairs-rows" else t)
        args["--pair"] = [files / "T.npy", bad]
        if case == "pairs-keys":
            args["--pair-key"] = ["a", "b", "c"]
        elif case == "pair-key-alone":
            args = {**{k: v for k, v in args.items() if k != "--pair"}}
            args["--pair-key"] = ["a"]
        elif case == "pairs-small":
            methods = ["encoder", "--n-components", "3"]
    argv = ["fewshot", "--shots", *shots, "--draws", "2", "--methods", *methods, "-q"]
    for option, value in args.items():
        argv += [option, *map(str, value if isinstance(value, list) else [value])]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: sklcm fewshot")
    assert pytest.importorskip("re").search(match, err), err


# -- several paired views -----------------------------------------------------


def _three_views():
    x, t, y = _views()
    rng = np.random.default_rng(1)
    u = np.c_[y, -y] + 0.3 * rng.normal(size=(len(y), 2))  # a third view, 2 wide
    return x, t, u, y


def test_fewshot_several_pairs_train_one_k_view_encoder_on_every_view(monkeypatch):
    # one K-view encoder over [x | t | u]: a list split, one content block per
    # paired view (each with the features), and the probe sees the features'
    # tower, its n_components columns
    import sklcm

    x, t, u, y = _three_views()
    fitted = []

    class Spy(sklcm.MultimodalContrastiveEncoder):
        def fit(self, X, y=None, **kwargs):
            fitted.append(self)
            return super().fit(X, y, **kwargs)

    Spy.__name__ = "MultimodalContrastiveEncoder"
    monkeypatch.setattr(sklcm, "MultimodalContrastiveEncoder", Spy)
    pool, _ = FewShotSplit(test_size=0.3, random_state=0).split_pool(x, y)
    rows = fewshot_evaluate(
        x, y, pair=[t, u], shots=[1], n_draws=2, n_components=4,
        methods=["cca", "encoder"], temperature=1.0, encoder_params=_FAST_ENCODER,
    )  # fmt: skip
    (enc,) = fitted
    assert enc.split == [8, 5, 2] and enc.subsets == [(0, 1), (0, 2)]
    assert enc.n_features_in_ == 15 and enc.n_components == 4
    assert enc.content_blocks_ == {(0, 1): slice(0, 2), (0, 2): slice(2, 4)}
    assert enc.encode(x[pool], 0).shape == (len(pool), 4)
    assert [r["method"] for r in rows] == ["cca", "encoder"]
    assert rows[1]["info"]["n_views"] == 3 and "n_views" not in rows[0]["info"]
    assert rows[1]["dropped_columns"] == {"features": [], "pair[0]": [], "pair[1]": []}
    # encoder_params may choose another layout: every pair of views
    fewshot_evaluate(
        x, y, pair=[t, u], shots=[1], n_draws=1, n_components=6, methods=["encoder"],
        temperature=1.0, encoder_params={**_FAST_ENCODER, "subsets": "pairs"},
    )  # fmt: skip
    assert fitted[-1].subsets == "pairs" and len(fitted[-1].content_blocks_) == 3
    assert fitted[-1].encode(x, 0).shape == (len(x), 4)


def test_fewshot_a_list_of_one_pair_is_the_two_view_case():
    x, t, y = _views()
    kwargs = dict(
        shots=[2], n_draws=2, n_components=2, methods=["cca", "encoder"],
        temperature=1.0, encoder_params=_FAST_ENCODER,
    )  # fmt: skip
    one = fewshot_evaluate(x, y, pair=t, **kwargs)
    listed = fewshot_evaluate(x, y, pair=[t], **kwargs)
    assert [r["scores"] for r in one] == [r["scores"] for r in listed]
    assert listed[1]["dropped_columns"] == {"features": [], "pair": []}


def test_fewshot_several_pairs_need_a_block_per_view_before_any_fit(spies):
    x, t, u, y = _three_views()
    with pytest.raises(ValueError, match=r"n_components=3 is too small for 2 paired"):
        fewshot_evaluate(x, y, pair=[t, u], n_components=3, methods=["encoder"])
    with pytest.raises(ValueError, match=r"pair\[1\] has 80 rows but the labels"):
        fewshot_evaluate(x, y, pair=[t, u[:80]], methods=["encoder"])
    assert spies == []
    # on the box one column per block is enough; without an encoder, no limit
    _fewshot._check_encoder_size(
        ["encoder"], {"a": t, "b": u}, 2, {"latent_space": "box"}
    )
    _fewshot._check_encoder_size(["cca"], {"a": t, "b": u}, 1, None)


def test_cli_fewshot_several_pair_files(files, capsys):
    x, t, u, y = _three_views()
    np.savez(files / "U.npz", text=u)  # one --pair-key for every .npz file
    np.savez(files / "T.npz", text=t)
    out = files / "out"
    status = main(
        ["fewshot", "--features", str(files / "F.npy"), "--labels",
         str(files / "y.npy"), "--pair", str(files / "T.npz"), str(files / "U.npz"),
         "--pair-key", "text", "--shots", "2", "--draws", "2", "--n-components",
         "4", "--methods", "raw", "cca", "encoder", "--temperature", "1",
         "--max-epochs", "2", "--device", "cpu", "--out", str(out), "-q"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert (
        "encoder: temperature 1 (given), 2 steps, 3 views (one block per --pair "
        "file; the features' tower probed)"
    ) in captured.out
    saved = json.loads((out / "results.json").read_text())
    assert [r["method"] for r in saved["rows"]] == ["raw", "cca", "encoder"]
    assert saved["rows"][2]["info"]["n_views"] == 3


# -- shifted targets ----------------------------------------------------------


@pytest.mark.parametrize("protocol", ["default", "paper"])
def test_fewshot_target_of_the_test_rows_scores_the_test_accuracy(protocol):
    # the same fitted steps and probes score a target: on the test rows
    # themselves every draw scores exactly the test accuracy; with every label
    # moved to another class, a draw cannot be right on both
    x, t, y = _views()
    _, test = FewShotSplit(test_size=0.3, random_state=0).split_pool(x, y)
    rows = fewshot_evaluate(
        x, y, pair=t, shots=[1, 3], n_draws=3, n_components=2,
        methods=["raw", "pca", "ica", "cca", "encoder", "encoder+ica"],
        temperature=1.0, encoder_params=_FAST_ENCODER, protocol=protocol,
        targets={"same": (x[test], y[test]), "wrong": (x[test], (y[test] + 1) % 3)},
    )  # fmt: skip
    for r in rows:
        same, wrong = r["targets"]["same"], r["targets"]["wrong"]
        assert same["scores"] == r["scores"], (r["method"], r["shots"])
        assert all(a + b <= 100 + 1e-9 for a, b in zip(r["scores"], wrong["scores"]))
        average = (np.array(same["scores"]) + wrong["scores"]) / 2
        assert np.allclose(r["targets_mean"]["scores"], average)
        assert r["n_target"] == {"same": 27, "wrong": 27}
        assert r["protocol"] == protocol


def test_fewshot_target_loses_the_columns_dropped_from_the_features():
    x, _, y = _views()
    pool, test = FewShotSplit(test_size=0.3, random_state=0).split_pool(x, y)
    x[pool, 6] = 0.0  # constant on the pool only: dropped
    x[test, 6] = np.arange(len(test))
    rows = fewshot_evaluate(
        x, y, shots=[2], n_draws=3, n_components=3, methods=["raw", "ica"],
        targets={"same": (x[test], y[test])},
    )  # fmt: skip
    assert rows[0]["dropped_columns"]["features"] == [6]
    assert all(r["targets"]["same"]["scores"] == r["scores"] for r in rows)


@pytest.mark.parametrize(
    "targets, match",
    [
        ({"a": (np.zeros((5, 7)), np.zeros(5))}, r"target 'a': X must have the 8 "),
        ({"a": (np.zeros(8), np.zeros(1))}, r"target 'a': X must .* shape \(8,\)"),
        ({"a": (np.full((5, 8), np.nan), np.zeros(5))}, r"target 'a': .*NaN"),
        ({"a": (np.zeros((5, 8)), np.zeros(4))}, r"'a': X has 5 rows but y has 4"),
        ({"a": (np.zeros((2, 8)), [0, 7])}, r"target 'a': labels \[7\] do not occur"),
        ({"a": (np.zeros((2, 8)), np.zeros((2, 2)))}, r"target 'a': .*1d"),
        ({"a": np.zeros((5, 8))}, r"target 'a' must be a pair \(X, y\)"),
        ({"": (np.zeros((5, 8)), np.zeros(5))}, "non-empty strings"),
        ([("a", np.zeros((5, 8)))], r"targets must be a dict"),
    ],
)
def test_fewshot_bad_targets_fail_before_any_fit(monkeypatch, targets, match):
    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before the targets were checked")

    monkeypatch.setattr(_fewshot, "_representations", no_fit)
    x, _, y = _views()
    with pytest.raises(ValueError, match=match):
        fewshot_evaluate(x, y, shots=[1], n_draws=2, methods=["raw"], targets=targets)


# -- the paper's probe protocol -----------------------------------------------


def _peaked_at(c_star):
    """Validation accuracy that peaks at C = c_star, symmetric in log10(C)."""

    def accuracy(probe, Z, y):
        return -abs(np.log10(probe.C) - np.log10(c_star))

    return accuracy


@pytest.mark.parametrize("c_star", [10**0.37, 10**-3.3, 10**5.1, 2e-5])
def test_paper_protocol_C_search_lands_on_the_peak(monkeypatch, c_star):
    monkeypatch.setattr(_fewshot, "_validation_accuracy", _peaked_at(c_star))
    x, _, y = _views()
    rows = fewshot_evaluate(
        x, y, shots=[1, 2], n_draws=2, methods=["raw"], protocol="paper"
    )
    chosen = np.log10([c for r in rows for c in r["chosen_C"]])
    # the grid puts the peak in [c_peak / 10, 10 * c_peak]; 8 halvings of those
    # 2 decades leave an interval of 2 / 2**8 decades around it
    assert np.abs(chosen - np.log10(c_star)).max() <= 2 / 2**8 + 1e-12
    assert [r["n_val_shots"] for r in rows] == [1, 2]  # min(k, 5)
    assert all(r["C"] is None and r["protocol"] == "paper" for r in rows)


def test_paper_protocol_C_search_ties_go_as_in_the_papers_script(monkeypatch):
    # all tied: the first of the grid (1e6), then the lower endpoint each round
    calls = []

    def flat(probe, Z, y):
        calls.append((probe.C, len(Z)))
        return 0.5

    monkeypatch.setattr(_fewshot, "_validation_accuracy", flat)
    x, _, y = _views()
    rows = fewshot_evaluate(
        x, y, shots=[7], n_draws=1, methods=["raw"], protocol="paper"
    )
    assert rows[0]["chosen_C"] == [pytest.approx(1e5)]
    assert len(calls) == 7 + 2 * 8  # the grid, then both endpoints of 8 rounds
    assert {n for _, n in calls} == {5 * 3}  # min(7, 5) validation shots x 3
    assert [c for c, _ in calls[:7]] == list(_fewshot.PAPER_C_GRID)


def test_paper_protocol_probe_trains_on_the_k_shots_only(monkeypatch):
    monkeypatch.setattr(_fewshot, "LogisticRegression", _SpyProbe)
    _SpyProbe.fitted_rows = []
    x, _, y = _views()
    fewshot_evaluate(x, y, shots=[2], n_draws=2, methods=["raw"], protocol="paper")
    assert _SpyProbe.fitted_rows == [2 * 3] * (2 * (7 + 2 * 8))


@pytest.mark.parametrize("n_val_shots", [0, 3])
def test_paper_protocol_fits_ica_on_each_draws_shots_only(
    spies, monkeypatch, n_val_shots
):
    # FastICA (and PCA + FastICA) on the few-shot train + validation rows of
    # each draw, never on the pool, the test rows or a target
    monkeypatch.setattr(_fewshot, "CoupledLatentICA", _spy(CoupledLatentICA))
    x, _, y = _views()
    x_target = x + 2.0
    fewshot_evaluate(
        x, y, shots=[1, 4], n_draws=2, n_components=3, n_val_shots=n_val_shots,
        methods=["ica", "pca+ica"], protocol="paper",
        targets={"shifted": (x_target, y)},
    )  # fmt: skip
    draws = [
        set(train)
        for k in (1, 4)
        for train, _ in FewShotSplit(
            k, n_val_shots=n_val_shots or min(k, 5), n_draws=2, test_size=0.3,
            random_state=0,
        ).split(x, y)
    ]  # fmt: skip
    scalers = [_rows_of(X, (x,)) for name, X, _ in spies if name == "StandardScaler"]
    assert scalers == draws + draws  # ica, then pca+ica, on every draw's rows
    icas = [X for name, X, _ in spies if name == "CoupledLatentICA"]
    assert [len(X) for X in icas] == [len(d) for d in draws] * 2
    assert not any(_shares_rows(X, x_target) for _, X, _ in spies)


def test_paper_protocol_ica_skips_columns_constant_on_a_draws_shots():
    # a column that varies on the pool (so it is kept) but is constant on a
    # draw's few train + validation rows: the per-draw ICA must not refuse it
    x, _, y = _views()
    x = np.hstack([x, np.zeros((len(x), 1))])
    x[:3, -1] = 1.0  # varies on the pool, constant on almost every draw
    rows = fewshot_evaluate(
        x, y, shots=[1], n_draws=5, n_components=3, methods=["ica", "pca+ica"],
        protocol="paper",
    )  # fmt: skip
    assert all(0 <= r["mean"] <= 100 for r in rows)


def test_fewshot_protocol_is_checked():
    x, _, y = _views()
    with pytest.raises(
        ValueError, match=r"protocol must be one of \['default', 'paper'\]"
    ):
        fewshot_evaluate(x, y, shots=[1], n_draws=2, methods=["raw"], protocol="clip")


def test_cli_fewshot_with_a_target_end_to_end(files, capsys):
    x, _, y = _views()
    _, test = FewShotSplit(test_size=0.3, random_state=0).split_pool(x, y)
    np.save(files / "FT.npy", x[test])
    np.save(files / "yT.npy", y[test])
    out = files / "out"
    status = main(
        ["fewshot", "--features", str(files / "F.npy"), "--labels",
         str(files / "y.npy"), "--shots", "1", "2", "--draws", "3", "--methods",
         "raw", "ica", "--target", "again", str(files / "FT.npy"),
         str(files / "yT.npy"), "--protocol", "paper", "--out", str(out), "-q"]
    )  # fmt: skip
    table = capsys.readouterr().out
    assert status == 0
    lines = table.splitlines()
    assert lines[0].split() == ["test", "rows", "target", "again"]
    assert lines[1].split() == ["method", *["1-shot", "2-shot"] * 2, "fit", "s"]
    cells = [line.split("  ") for line in lines[2:4]]
    for cell in cells:  # the target holds the test rows: the same numbers
        values = [c.strip() for c in cell if c.strip()]
        assert values[1:3] == values[3:5]
    assert (
        "shifted targets (only transformed; the same probes score them): again "
        "(27 rows)" in table
    )
    assert (
        "protocol paper; probe: L2 logistic regression, C chosen on validation "
        "shots per class (1 at 1-shot, 2 at 2-shot)" in table
    )
    with open(out / "results.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[-5:] == [
        "protocol", "again_mean", "again_std", "targets_mean", "targets_std"
    ]  # fmt: skip
    assert all(r["again_mean"] == r["mean"] and r["protocol"] == "paper" for r in rows)
    saved = json.loads((out / "results.json").read_text())["rows"]
    assert saved[0]["targets"]["again"]["scores"] == saved[0]["scores"]


@pytest.mark.parametrize(
    "target, match",
    [
        (["a", "{x7}", "{y}"], r"--target 'a': X must have the 8 columns"),
        (["a", "{x}", "{y7}"], r"--target 'a': labels \[7\] do not occur"),
        (["a", "{x}", "{yshort}"], r"--target 'a': X has 90 rows but y has 89"),
        (["a", "{xnan}", "{y}"], r"--target a='.*xnan.npy' contains 1 non-finite"),
        (["a", "{x}", "{ynan}"], r"--target a '.*ynan.npy' contains 1 non-finite"),
        (["a", "{missing}", "{y}"], r"--target a '.*nope.npy': cannot read"),
        (["a", "{x}", "{y}", "--target", "a", "{x}", "{y}"], "'a' is given twice"),
        (["a", "{x}"], r"argument --target: expected 3 arguments"),
    ],
)
def test_cli_fewshot_bad_target_exits_2_before_training(
    files, capsys, monkeypatch, target, match
):
    def no_training(*args, **kwargs):
        raise AssertionError("training started before the targets were checked")

    monkeypatch.setattr("sklcm.evaluation.fewshot_evaluate", no_training)
    x, _, y = _views()
    y7, xnan, ynan = y.copy(), x.copy(), y.astype(float)
    y7[0], xnan[3, 2], ynan[5] = 7, np.nan, np.nan
    paths = {"x7": x[:, :7], "x": x, "y": y, "y7": y7, "yshort": y[:89]}
    paths.update(xnan=xnan, ynan=ynan)
    for name, arr in paths.items():
        np.save(files / f"{name}.npy", arr)
    names = {name: str(files / f"{name}.npy") for name in [*paths, "nope"]}
    names["missing"] = names.pop("nope")
    argv = ["fewshot", "--features", str(files / "F.npy"), "--labels"]
    argv += [str(files / "y.npy"), "--methods", "raw", "-q", "--target"]
    assert main(argv + [a.format(**names) for a in target]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: sklcm fewshot")
    assert pytest.importorskip("re").search(match, err), err


def test_cli_fewshot_protocol_option_is_checked(files, capsys):
    argv = ["fewshot", "--features", str(files / "F.npy"), "--labels"]
    assert main([*argv, str(files / "y.npy"), "--protocol", "clip"]) == 2
    err = capsys.readouterr().err
    assert "argument --protocol: invalid choice: 'clip'" in err
