"""Tests of MultimodalContrastiveEncoder."""

import ast
import io
import pickle
import re
import tokenize
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback
from torch import nn

import sklcm
from sklcm import MultimodalContrastiveEncoder
from sklcm._net import ContrastiveNet
from sklcm.datasets import make_latent_partial_causal
from sklcm.metrics import (
    linear_r2_score,
    mcc_scorer,
    mean_corr_coef,
    neighbor_agreement,
    r2_scorer,
    retrieval_accuracy,
)

FAST = dict(hidden_layer_sizes=(16,), max_epochs=3, batch_size=64, random_state=0)


@pytest.fixture(scope="module")
def data():
    X, z, info = make_latent_partial_causal(
        300, n_latents=3, random_state=0, return_info=True
    )
    return X, z, info.split


def _enc(split, **kw):
    return MultimodalContrastiveEncoder(n_components=3, split=split, **{**FAST, **kw})


@pytest.mark.parametrize(
    "representation, width", [("x", 3), ("t", 3), ("both", 6), ("mean", 3)]
)
def test_transform_representation_modes(data, representation, width):
    X, _, split = data
    enc = _enc(split, representation=representation).fit(X)
    Z = enc.transform(X)
    assert Z.shape == (len(X), width)
    z_x = enc.encode(X[:, :split], modality="x")
    z_t = enc.encode(X[:, split:], modality="t")
    expected = {
        "x": z_x,
        "t": z_t,
        "both": np.hstack([z_x, z_t]),
        "mean": (z_x + z_t) / 2,
    }[representation]
    np.testing.assert_allclose(Z, expected, rtol=1e-6)
    assert len(enc.get_feature_names_out()) == width


def test_sphere_outputs_unit_norm_and_box_outputs_bounded(data):
    X, _, split = data
    sphere = _enc(split).fit(X)
    Z = sphere.transform(X)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, rtol=1e-5)
    enc = _enc(split, latent_space="box").fit(X)
    # temperature="auto" resolves per geometry
    assert (sphere.temperature_, enc.temperature_) == pytest.approx((0.2, 0.5))
    Zb = enc.transform(X)
    bound = enc.net_.module_.tower_x.head.log_bound.exp().detach().cpu().numpy()
    assert np.all(Zb >= 0) and np.all(Zb <= bound + 1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_keeps_dtype_and_is_deterministic(data, dtype):
    X, _, split = data
    X = X.astype(dtype)
    Z1 = _enc(split).fit(X).transform(X)
    Z2 = _enc(split).fit(X).transform(X)
    assert Z1.dtype == dtype
    np.testing.assert_array_equal(Z1, Z2)
    Z3 = _enc(split, random_state=1).fit(X).transform(X)
    assert not np.allclose(Z1, Z3)


def test_history_records_decreasing_train_loss(data):
    X, _, split = data
    enc = _enc(split, max_epochs=8, hidden_layer_sizes=(32, 32)).fit(X)
    losses = enc.history_[:, "train_loss"]
    assert len(losses) == enc.n_iter_ == 8
    assert losses[-1] < losses[0]
    assert enc.n_steps_ == 8 * 5  # 300 samples, batch 64: 4 full + 1 of 44
    assert enc.batch_size_ == 64


def test_score_is_held_out_neighbor_agreement_and_improves_with_training(data):
    X, _, info = make_latent_partial_causal(
        300, n_latents=3, random_state=0, return_info=True
    )
    split = info.split
    X_test = info.sampler.sample(1024, random_state=1)[0]
    short = _enc(split, max_epochs=1, lr=1e-5).fit(X)
    long = _enc(split, max_epochs=30, hidden_layer_sizes=(32, 32), temperature=1.0).fit(
        X
    )
    chance = 10 / 255
    # measured: 0.145 (random towers keep some shared structure) and 0.239
    assert short.score(X_test) < 0.2
    assert long.score(X_test) > 1.4 * short.score(X_test)
    assert long.score(X_test) > 5 * chance
    z_x, z_t = long.encode(X_test[:, :split]), long.encode(X_test[:, split:], "t")
    expected = neighbor_agreement(z_x, z_t, n_neighbors=10, block_size=256)
    assert long.score(X_test) == expected
    assert expected != retrieval_accuracy(z_x, z_t, block_size=256)
    # the training objective stays available under its own name
    assert long.infonce_loss(X_test) < short.infonce_loss(X_test)


def test_score_on_few_pairs_uses_fewer_neighbours_and_says_when_too_few(data):
    X, _, split = data
    enc = _enc(split).fit(X)
    z_x, z_t = enc.encode(X[:8, :split]), enc.encode(X[:8, split:], "t")
    assert enc.score(X[:8]) == neighbor_agreement(z_x, z_t, n_neighbors=6)
    with pytest.raises(ValueError, match="at least 3 pairs, got 2"):
        enc.score(X[:2])
    # 0.2 of 10 pairs asks for 2 validation pairs: 3 are held out
    small = _enc(split, early_stopping=True, validation_fraction=0.2, batch_size=7)
    small.fit(X[:10])
    assert np.isfinite(small.history_[:, "valid_score"]).all()
    assert small.n_steps_ == 3  # 7 training pairs (not 8): 1 batch per epoch
    with pytest.raises(ValueError, match="leaves 1 training pairs"):
        _enc(split, early_stopping=True, validation_fraction=0.2).fit(X[:4])


def test_score_does_not_depend_on_temperature_or_batch_size(data):
    """Old bug: score was -InfoNCE at the encoder's own temperature."""
    X, _, split = data
    enc = _enc(split, temperature=0.2).fit(X)
    score, loss = enc.score(X), enc.infonce_loss(X)
    enc.net_.criterion_.log_temperature.fill_(np.log(1.0))
    enc.batch_size_ = 16
    assert enc.score(X) == score
    assert enc.infonce_loss(X) != pytest.approx(loss, abs=0.1)


@pytest.mark.parametrize("temperature", [0.02, 0.05])
def test_learn_temperature_raises_a_too_small_temperature(data, temperature):
    X, _, split = data
    fixed = _enc(split, temperature=temperature).fit(X)
    learned = _enc(split, temperature=temperature, learn_temperature=True, lr=1e-2).fit(
        X
    )
    assert fixed.temperature_ == pytest.approx(temperature)
    # a sharp softmax on untrained towers: the loss falls as tau grows
    assert learned.temperature_ > 1.03 * temperature


@pytest.fixture(scope="module")
def many():
    """Enough pairs for 300 validation pairs: more than one 256-pair block."""
    X, z, info = make_latent_partial_causal(
        3000, n_latents=3, random_state=0, return_info=True
    )
    return X, z, info.split


def _validation_rows(n_samples, fraction=0.1, random_state=0):
    """The validation rows fit draws (after the weight-initialisation seed)."""
    rng = np.random.RandomState(random_state)
    rng.randint(2**31 - 1)
    n_valid = int(np.ceil(fraction * n_samples))
    return np.sort(rng.permutation(n_samples)[:n_valid])


def test_early_stopping_restores_the_best_validation_epoch(many):
    X, _, split = many
    valid = _validation_rows(len(X))
    assert len(valid) == 300  # two blocks of the label-free score
    enc = _enc(split, max_epochs=60, early_stopping=True, n_iter_no_change=3).fit(X)
    curve = enc.history_[:, "valid_score"]
    assert enc.n_iter_ == len(curve) < 60
    best = int(np.argmax(curve))
    # stopped n_iter_no_change epochs after the best one, kept its score
    assert len(curve) == best + 1 + 3
    assert enc.best_validation_score_ == curve[best]
    assert curve[-1] != curve[best]  # the last epoch's weights were not the best
    # the restored weights give the best score on the held-out pairs again
    assert enc.score(X[valid]) == pytest.approx(curve[best])
    assert enc.score(X[valid]) != pytest.approx(curve[-1])


def test_early_stopping_with_weight_average_goes_on_from_the_best_epoch(many):
    X, _, split = many
    params = dict(max_epochs=60, early_stopping=True, n_iter_no_change=2)
    plain = _enc(split, **params).fit(X)
    # ema_decay=0: the average is the last raw weights, so both encoders
    # train the same weights and restore the same best epoch...
    ema = _enc(split, ema_decay=0.0, **params).fit(X)
    curve = plain.history_[:, "valid_score"]
    assert ema.history_[:, "valid_score"] == curve
    assert np.argmax(curve) < len(curve) - 1  # the best epoch is not the last
    np.testing.assert_allclose(ema.transform(X), plain.transform(X), atol=1e-6)
    # ...and a later partial_fit goes on from that best epoch in both
    chunk = X[:640]
    np.testing.assert_allclose(
        ema.partial_fit(chunk).transform(X),
        plain.partial_fit(chunk).transform(X),
        atol=1e-5,
    )


def test_early_stopping_split_is_seeded_and_sized(data):
    X, _, split = data
    a = _enc(split, early_stopping=True, validation_fraction=0.2).fit(X)
    b = _enc(split, early_stopping=True, validation_fraction=0.2).fit(X)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    # 240 training pairs with batch 64: 4 steps per epoch (3 full + 1 of 48)
    assert a.n_steps_ == 3 * 4
    with pytest.raises(ValueError, match="validation_fraction=0.001"):
        _enc(split, early_stopping=True, validation_fraction=0.001).fit(X)


def test_types_are_checked_by_value(data):
    X, _, split = data
    enc = _enc(split, early_stopping=np.False_, warmup=np.float32(0.5)).fit(X)
    assert "valid_score" not in enc.history_[-1]
    assert enc._callback("lr_schedule")._warmup_steps() == 7  # 0.5 * 15 steps
    X_int = np.rint(X * 10).astype(np.int64)
    Z = _enc(split).fit(X_int).transform(X_int)
    assert Z.dtype == np.float64
    np.testing.assert_array_equal(Z, _enc(split).fit(X_int * 1.0).transform(X_int))


def test_linear_tower(data):
    X, _, split = data
    enc = _enc(split, hidden_layer_sizes=()).fit(X)
    linears = [m for m in enc.net_.module_.tower_x.mlp if isinstance(m, nn.Linear)]
    assert len(enc.net_.module_.tower_x.mlp) == len(linears) == 1
    # sphere head of an affine map: z is proportional to W x_std + b
    tower = enc.net_.module_.tower_x
    x = X[:5, :split]
    W = linears[0].weight.detach().cpu().numpy().astype(np.float64)
    b = linears[0].bias.detach().cpu().numpy()
    mean, scale = (tower.mean.cpu().numpy(), tower.scale.cpu().numpy())
    h = ((x - mean) / scale) @ W.T + b
    np.testing.assert_allclose(
        enc.transform(X[:5]), h / np.linalg.norm(h, axis=1, keepdims=True), rtol=1e-4
    )


def test_user_callbacks_are_called(data):
    X, _, split = data

    class CountEpochs(Callback):
        def initialize(self):
            self.epochs_ = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs_ += 1

    enc = _enc(split, callbacks=[("count", CountEpochs())]).fit(X)
    assert dict(enc.net_.callbacks_)["count"].epochs_ == 3
    # the parameter itself is not mutated by fit
    assert not hasattr(enc.callbacks[0][1], "epochs_")


def test_batch_size_larger_than_n_samples_warns_and_adapts(data):
    X, _, split = data
    with pytest.warns(UserWarning, match="batch_size=1000 is larger"):
        enc = _enc(split, batch_size=1000).fit(X)
    assert enc.batch_size_ == len(X)


def test_max_steps_caps_fit_and_the_schedule_spans_the_steps_taken(data):
    X, _, split = data
    lrs = []

    class RecordLR(Callback):
        def on_batch_begin(self, net, training=False, **kwargs):
            lrs.append(net.optimizer_.param_groups[0]["lr"])

    # 4 epochs of 5 batches would be 20 steps: the cap ends fit after 7
    enc = _enc(split, max_epochs=4, max_steps=7, warmup=2, callbacks=[RecordLR()])
    enc.fit(X)
    assert enc.n_steps_ == len(lrs) == 7
    assert enc.n_iter_ == 2  # one full epoch, then 2 steps of the second
    assert lrs[:2] == pytest.approx([1e-3, 2e-3])
    # cosine from the peak to 0 over exactly the steps taken: every step trains
    assert lrs[1] == lrs[2] == 2e-3
    assert all(a > b > 0 for a, b in zip(lrs[2:], lrs[3:]))
    assert lrs[-1] < 0.1 * 2e-3
    lrs.clear()
    _enc(split, max_epochs=2, max_steps=1000, callbacks=[RecordLR()]).fit(X)
    assert len(lrs) == 10 and lrs[-1] < 0.05 * 2e-3  # the cosine ends with fit


def test_partial_fit_after_fit_warns_and_leaves_the_model_unchanged(data):
    """Old bug: the ended cosine trained at lr 0 while n_steps_ grew."""
    X, _, split = data
    enc = _enc(split).fit(X)
    Z, steps = enc.transform(X), enc.n_steps_
    with pytest.warns(ConvergenceWarning, match="max_steps"):
        enc.partial_fit(X)
    np.testing.assert_array_equal(enc.transform(X), Z)
    assert enc.n_steps_ == steps and enc.n_iter_ == 3
    # with a constant rate and no cap, training continues for real
    enc = _enc(split, lr_schedule="constant").fit(X)
    Z = enc.transform(X)
    enc.partial_fit(X)
    assert enc.n_steps_ == steps + 5
    assert np.abs(enc.transform(X) - Z).max() > 1e-3


BAD_INPUT = [
    (dict(split=None), ValueError, "`split` is required"),
    (dict(split=0), ValueError, "split"),
    (dict(split=6), ValueError, "leaves a modality empty"),
    (dict(split=2, n_components=0), ValueError, "n_components"),
    (dict(split=2, latent_space="torus"), ValueError, "latent_space"),
    (dict(split=2, hidden_layer_sizes=(8, 0)), ValueError, "hidden_layer_sizes"),
    (dict(split=2, callbacks=["not a callback"]), TypeError, "callbacks"),
    (dict(split=2, device="cuda:0"), ValueError, "CUDA is not available"),
    (dict(split=2, device="gpu"), ValueError, "device='gpu' is not a torch device"),
    (dict(split=2, hidden_layer_sizes=(8, 1.5)), ValueError, "hidden_layer_sizes"),
    (dict(split=2, hidden_layer_sizes=0), ValueError, "hidden_layer_sizes"),
    (dict(split=2, tol=-1e-4), ValueError, "tol"),
]


@pytest.mark.parametrize("params, error, match", BAD_INPUT)
def test_bad_parameters_raise_clear_errors(data, params, error, match):
    if params.get("device") == "cuda:0" and torch.cuda.is_available():
        pytest.skip("CUDA is available")
    X = data[0][:, :6]
    enc = MultimodalContrastiveEncoder(**{**FAST, **params})
    with pytest.raises(error, match=match):
        enc.fit(X)
    assert not hasattr(enc, "net_")


@pytest.mark.parametrize(
    "X, match",
    [
        (np.ones((10, 1)), "n_features = 1"),
        (np.ones((1, 4)), "n_samples = 1"),
        (np.array([[0.0, 1.0, np.nan, 2.0]] * 5), "NaN"),
        (np.array([[0.0, 1.0, np.inf, 2.0]] * 5), "infinity"),
    ],
)
def test_bad_X_raises_clear_errors(X, match):
    with pytest.raises(ValueError, match=match):
        MultimodalContrastiveEncoder(split=1, **FAST).fit(X)


def test_transform_and_encode_check_feature_counts(data):
    X, _, split = data
    enc = _enc(split).fit(X)
    with pytest.raises(ValueError, match="features"):
        enc.transform(X[:, :-1])
    with pytest.raises(ValueError, match=re.escape("modality 't' was fitted on")):
        enc.encode(X[:, :2], modality="t")
    with pytest.raises(ValueError, match="modality must be"):
        enc.encode(X[:, :split], modality="y")
    with pytest.raises(NotFittedError):
        _enc(split).transform(X)


def test_divergence_leaves_estimator_as_before(data):
    X, _, split = data
    bad = dict(lr=1e30, temperature=1e-30)
    enc = _enc(split, **bad)
    with pytest.raises(ValueError, match="lower `lr`"):
        enc.fit(X)
    with pytest.raises(NotFittedError):
        enc.transform(X)
    enc = _enc(split).fit(X)
    Z = enc.transform(X)
    with pytest.raises(ValueError, match="lower `lr`"):
        enc.set_params(**bad).fit(X)
    np.testing.assert_array_equal(enc.transform(X), Z)


def test_failed_first_partial_fit_leaves_the_estimator_unfitted(data):
    """Old bug: n_features_in_ stayed set and transform raised AttributeError."""
    X, _, split = data
    enc = _enc(split, hidden_layer_sizes=(8, 0))
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        enc.partial_fit(X)
    assert not [k for k in vars(enc) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        enc.transform(X)
    enc.set_params(hidden_layer_sizes=(8,)).partial_fit(X[:, :4])  # any width
    assert enc.n_features_in_ == 4


def _weights(enc):
    return {
        k: v.detach().cpu().clone() for k, v in enc.net_.module_.state_dict().items()
    }


def test_partial_fit_keeps_state_across_chunks(data):
    X, _, split = data
    enc = _enc(split, warmup=1)
    enc.partial_fit(X[:150])
    steps_after_first = enc.n_steps_
    after_first = _weights(enc)
    enc.partial_fit(X[150:])
    assert enc.n_iter_ == 2 and enc.n_steps_ == 2 * steps_after_first == 4
    # Adam's state carried over: its step counter counts both chunks
    adam_state = enc.net_.optimizer_.state_dict()["state"]
    assert adam_state and all(float(s["step"]) == 4 for s in adam_state.values())
    # standardisation kept from the first chunk, weights moved from where
    # the first call left them (not re-initialised)
    after_second = _weights(enc)
    for name in ("tower_x.mean", "tower_x.scale"):
        torch.testing.assert_close(after_second[name], after_first[name])
    w = "tower_x.mlp.0.weight"
    step = (after_second[w] - after_first[w]).abs().max()
    assert 0 < step < 0.1
    replay = _enc(split, warmup=1).partial_fit(X[:150]).partial_fit(X[150:])
    torch.testing.assert_close(_weights(replay), after_second, rtol=0, atol=0)
    with pytest.raises(ValueError, match="features"):
        enc.partial_fit(X[:, :-1])


def test_partial_fit_divergence_keeps_previous_state(data):
    X, _, split = data
    enc = _enc(split).partial_fit(X)
    before = enc.transform(X)
    steps = enc.n_steps_
    enc.net_.criterion_.log_temperature.fill_(-100.0)  # logits overflow
    with pytest.raises(ValueError, match="keeps its state"):
        enc.partial_fit(X)
    enc.net_.criterion_.log_temperature.fill_(np.log(0.2))
    np.testing.assert_array_equal(enc.transform(X), before)
    assert enc.n_steps_ == steps


def test_clone_params_pickle_and_joblib_round_trip(data, tmp_path):
    X, _, split = data
    enc = _enc(split).fit(X)
    Z = enc.transform(X)
    assert clone(enc).get_params() == enc.get_params()
    assert not hasattr(clone(enc), "net_")
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(enc)).transform(X), Z)
    joblib.dump(enc, tmp_path / "enc.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "enc.joblib").transform(X), Z)


def test_model_marked_cuda_loads_on_cpu_only_machine(data, monkeypatch):
    X, _, split = data
    enc = _enc(split, lr_schedule="constant").fit(X)
    Z = enc.transform(X)
    # pickle as if trained on a GPU: the net says cuda and every tensor torch
    # serialises is tagged with a CUDA location
    enc.net_.device = enc.device_ = "cuda"
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        blob = pickle.dumps(enc)
        weights = io.BytesIO()
        torch.save(enc.net_.module_.state_dict(), weights)
    assert b"cuda:0" in blob
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # no CUDA here
    with pytest.raises(RuntimeError, match="CUDA"):  # what a plain load meets
        torch.load(io.BytesIO(weights.getvalue()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skorch warns that it maps to the CPU
        loaded = pickle.loads(blob)
    assert str(loaded.net_.device) == loaded.device_ == "cpu"
    assert next(loaded.net_.module_.parameters()).device.type == "cpu"
    np.testing.assert_array_equal(loaded.transform(X), Z)
    assert loaded.net_.module is loaded.net_.module_  # one copy of the towers
    assert loaded.partial_fit(X).n_steps_ > enc.n_steps_  # trains on the CPU


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_lazy_batches_match_the_device_copy(data, monkeypatch):
    """Above the size threshold, batches go through pinned host memory."""
    from sklcm import _net

    X, _, split = data
    copied = _enc(split, device="cuda").fit(X)
    assert copied.device_.startswith("cuda")
    monkeypatch.setattr(_net, "_DEVICE_COPY_MAX_BYTES", 0)
    assert isinstance(_net.device_rows(X, "cuda"), np.ndarray)
    lazy = _enc(split, device="cuda").fit(X)
    np.testing.assert_allclose(lazy.transform(X), copied.transform(X), atol=1e-5)


def test_set_output_pandas(data):
    pd = pytest.importorskip("pandas")
    X, _, split = data
    enc = _enc(split, representation="both").set_output(transform="pandas").fit(X)
    out = enc.transform(X)
    assert isinstance(out, pd.DataFrame)
    prefix = "multimodalcontrastiveencoder"
    assert list(out.columns) == [f"{prefix}_{m}{i}" for m in "xt" for i in range(3)]


def test_pipeline_and_grid_search_with_identifiability_scorer(data):
    X, z, split = data
    pipe = make_pipeline(_enc(split, max_epochs=2), PCA(n_components=2))
    assert pipe.fit_transform(X).shape == (len(X), 2)
    grid = GridSearchCV(
        _enc(split, max_epochs=10, temperature=1.0),
        {"lr": [1e-6, 1e-2], "hidden_layer_sizes": [(8,), (16,)]},
        scoring={"r2": r2_scorer, "mcc": mcc_scorer},
        refit="r2",
        cv=2,
    ).fit(X, z)
    scores = grid.cv_results_["mean_test_r2"]
    assert len(scores) == 4 and np.all(grid.cv_results_["mean_test_mcc"] <= 1)
    # a learning rate of 1e-6 cannot beat 1e-2: the scorer sees real quality
    assert grid.best_params_["lr"] == 1e-2
    assert grid.best_score_ == scores.max()


def test_unsupervised_search_picks_what_the_supervised_one_picks():
    """Grid over temperature x lr: the label-free ``score`` (held-out neighbour
    agreement)
    lands within 0.02 held-out R² of the choice of ``r2_scorer``. Under the old
    -InfoNCE score the lowest temperature always won (R² 0.61 vs 0.96 here)."""
    X, z, info = make_latent_partial_causal(
        3000, n_latents=3, random_state=0, return_info=True
    )
    est = MultimodalContrastiveEncoder(
        n_components=3,
        split=info.split,
        hidden_layer_sizes=(64, 64),
        max_epochs=10,
        random_state=0,
    )
    search = GridSearchCV(
        est,
        {"temperature": [0.05, 0.2, 1.0], "lr": [3e-4, 2e-3]},
        # check_scoring(est) is what GridSearchCV uses without `scoring`
        scoring={"label_free": check_scoring(est), "r2": r2_scorer},
        refit=False,
        cv=2,
    ).fit(X, z)
    res = search.cv_results_
    r2 = res["mean_test_r2"]
    chosen = int(np.argmax(res["mean_test_label_free"]))
    assert r2[chosen] >= r2.max() - 0.02, (res["params"][chosen], r2)
    assert r2.max() - r2.min() > 0.1  # the grid holds clearly worse candidates


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"early_stopping": True, "n_iter_no_change": 2},
        {"latent_space": "box", "representation": "both", "learn_temperature": True},
        {"lr_schedule": "constant", "hidden_layer_sizes": (), "verbose": 1},
        {"verbose": 2, "optimizer": "sgd", "max_steps": 4},
        {
            "ema_decay": 0.9,
            "whiten_inputs": True,
            "layer_norm": True,
            "early_stopping": True,
        },
    ],
    ids=["default", "early_stopping", "box", "constant-linear", "progress-sgd", "ema"],
)
def test_every_configuration_pickles(data, params, tmp_path, capsys):
    """Old bug: early_stopping held a lambda, so pickling failed."""
    X, _, split = data
    enc = _enc(split, **params).fit(X)
    Z = enc.transform(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(enc)).transform(X), Z)
    joblib.dump(enc, tmp_path / "enc.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "enc.joblib").transform(X), Z)


@pytest.mark.slow  # about 20 s: two worker processes import torch
def test_cross_validate_in_processes_returns_fitted_encoders(data):
    X, _, split = data
    enc = _enc(split, early_stopping=True, n_iter_no_change=2)
    res = cross_validate(enc, X, cv=2, n_jobs=2, return_estimator=True)
    assert np.all((res["test_score"] >= 0) & (res["test_score"] <= 1))
    for est in res["estimator"]:
        assert est.transform(X).shape == (len(X), 3)


def test_net_class_and_params_hook(data):
    """Subclasses (e.g. a multi-GPU encoder) swap the net and add arguments."""
    X, _, split = data

    class TaggedNet(ContrastiveNet):
        pass

    class Sub(MultimodalContrastiveEncoder):
        _net_class = TaggedNet

        def _net_params(self):
            return {"callbacks__lr_schedule__final_factor": 0.5}

    enc = Sub(n_components=3, split=split, **FAST).fit(X)
    assert type(enc.net_) is TaggedNet
    assert enc._callback("lr_schedule").final_factor == 0.5


def test_encoder_beats_raw_linear_baseline_on_nonlinear_mixing():
    """A short CPU fit already recovers z_x far better than the raw observation."""
    X, z, info = make_latent_partial_causal(
        4000, n_latents=3, random_state=1, return_info=True
    )
    Xte, zte = info.sampler.sample(2000, random_state=2)
    enc = MultimodalContrastiveEncoder(
        n_components=3,
        split=info.split,
        hidden_layer_sizes=(64, 64),
        max_epochs=15,
        random_state=0,
    ).fit(X)
    r2_enc = linear_r2_score(zte, enc.transform(Xte), random_state=0)
    r2_raw = linear_r2_score(zte, Xte[:, : info.split], random_state=0)
    assert r2_enc > 0.95 and r2_enc > r2_raw + 0.1, (r2_enc, r2_raw)


@pytest.mark.slow
def test_sphere_encoder_recovers_latents_up_to_linear_map():
    X, _, info = make_latent_partial_causal(
        100_000, n_latents=5, random_state=0, return_info=True
    )
    Xte, zte = info.sampler.sample(10_000, random_state=1)
    enc = MultimodalContrastiveEncoder(
        n_components=5, split=info.split, max_epochs=15, random_state=0
    ).fit(X)
    assert linear_r2_score(zte, enc.transform(Xte), random_state=0) >= 0.95


@pytest.mark.slow
def test_box_encoder_recovers_latents_up_to_permutation():
    X, _, info = make_latent_partial_causal(
        100_000, n_latents=5, latent_space="box", random_state=0, return_info=True
    )
    Xte, zte = info.sampler.sample(10_000, random_state=1)
    enc = MultimodalContrastiveEncoder(
        n_components=5,
        split=info.split,
        latent_space="box",
        max_epochs=15,
        random_state=0,
    ).fit(X)
    assert mean_corr_coef(zte, enc.transform(Xte)) >= 0.90


def test_verbose_prints_one_line_per_epoch(data, capsys):
    X, _, split = data
    _enc(split, verbose=0).fit(X)
    assert capsys.readouterr().out == ""
    _enc(split, verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "train_loss" in out and len(out.strip().splitlines()) == 2 + 3


def test_failed_refit_keeps_the_previous_model(data):
    X, _, split = data
    enc = _enc(split).fit(X)
    Z = enc.transform(X)
    with pytest.raises(ValueError, match="NaN"):
        enc.fit(np.full_like(X, np.nan))
    enc.set_params(hidden_layer_sizes=(0,))
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        enc.fit(X)
    np.testing.assert_array_equal(enc.transform(X), Z)
    assert enc.n_features_in_ == X.shape[1]


def _tower_inputs(enc, X_m, modality):
    tower = getattr(enc.net_.module_, f"tower_{modality}")
    centred = torch.as_tensor(X_m, dtype=torch.float32) - tower.mean
    return (centred @ tower.whitening).numpy()


def test_whiten_inputs_decorrelates_each_modality_and_bounds_the_gain(data):
    X, _, split = data
    rng = np.random.default_rng(0)
    # strongly correlated x columns on very different scales
    x = X[:, :split] @ rng.normal(size=(split, split)) * [1, 10, 100, 1000][:split]
    X = np.hstack([x, X[:, split:]])
    enc = _enc(split, whiten_inputs=True).fit(X)
    assert _enc(split).fit(X).net_.module_.tower_x.whitening is None
    for modality, cols in (("x", slice(0, split)), ("t", slice(split, None))):
        cov = np.cov(_tower_inputs(enc, X[:, cols], modality), rowvar=False)
        np.testing.assert_allclose(cov, np.eye(len(cov)), atol=1e-3)
    # an exact copy of a column leaves a zero-variance direction: its gain is
    # 0 (small but real variances are floored at 1e-3), never infinite
    X = np.hstack([x, x[:, :1], X[:, split:]])
    enc = _enc(split + 1, whiten_inputs=True).fit(X)
    Y = _tower_inputs(enc, X[:, : split + 1], "x")
    eig = np.linalg.eigvalsh(np.cov(Y, rowvar=False))
    assert np.isfinite(Y).all() and eig.max() < 1 + 1e-3 and eig.min() < 1e-3
    gain = np.linalg.norm(enc.net_.module_.tower_x.whitening.numpy(), 2)
    assert gain <= 1 / np.sqrt(1e-3) / x.std(axis=0, ddof=1).min() * 1.01


def test_ema_decay_averages_weights_without_changing_the_training(data):
    X, _, split = data
    plain = _enc(split, warmup=1).fit(X)
    ema = _enc(split, warmup=1, ema_decay=0.9).fit(X)
    # the optimiser trained exactly the same raw weights
    raw = dict(ema.net_.callbacks_)["weight_average"].raw_
    for a, b in zip(raw, plain.net_.module_.parameters()):
        torch.testing.assert_close(a, b.detach(), rtol=0, atol=0)
    # ...but transform uses their average, which differs and scores sensibly
    assert not np.allclose(ema.transform(X), plain.transform(X))
    zero = _enc(split, warmup=1, ema_decay=0.0).fit(X)  # average = last weights
    np.testing.assert_allclose(zero.transform(X), plain.transform(X), atol=1e-6)
    # training goes on from the raw weights: two chunks equal one replay
    a = _enc(split, warmup=1, ema_decay=0.9).partial_fit(X[:150]).partial_fit(X[150:])
    b = _enc(split, warmup=1).partial_fit(X[:150]).partial_fit(X[150:])
    raw = dict(a.net_.callbacks_)["weight_average"].raw_
    for w, v in zip(raw, b.net_.module_.parameters()):
        torch.testing.assert_close(w, v.detach(), rtol=0, atol=0)


def test_failed_partial_fit_restores_the_weight_average(data):
    X, _, split = data
    enc = _enc(split, ema_decay=0.9).partial_fit(X)
    before = enc.transform(X)
    twin = pickle.loads(pickle.dumps(enc))
    enc.net_.criterion_.log_temperature.fill_(-100.0)  # logits overflow
    with pytest.raises(ValueError, match="keeps its state"):
        enc.partial_fit(X)
    enc.net_.criterion_.log_temperature.fill_(np.log(0.2))
    np.testing.assert_array_equal(enc.transform(X), before)
    # the next chunk continues exactly as if the failed call never happened
    np.testing.assert_array_equal(
        enc.partial_fit(X).transform(X), twin.partial_fit(X).transform(X)
    )


def _class_code_lines(path, name):
    """Lines of code of a class: docstrings, comments and blank lines aside."""
    source = path.read_text()
    cls = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.ClassDef) and node.name == name
    )
    docstrings = set()
    for node in ast.walk(cls):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT}
    skip |= {tokenize.DEDENT, tokenize.ENDMARKER}
    lines = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    body = set(range(cls.lineno, cls.end_lineno + 1))
    return len((lines & body) - docstrings)


def test_encoder_class_holds_parameters_fit_and_inference_only():
    """The class stays small: helpers live in _callbacks, _net and nn."""
    path = Path(sklcm.__file__).parent / "_encoder.py"
    n_lines = _class_code_lines(path, "MultimodalContrastiveEncoder")
    assert 100 < n_lines <= 350, n_lines


class _CtrlC(Callback):
    """Press Ctrl-C at the end of a given training step."""

    def __init__(self, step):
        self.step = step

    def on_batch_end(self, net, training=False, **kwargs):
        if training and dict(net.callbacks_)["lr_schedule"].step_ == self.step:
            raise KeyboardInterrupt


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_ctrl_c_is_re_raised_and_keeps_the_partly_trained_model(data, method):
    X, _, split = data
    enc = _enc(split, callbacks=[_CtrlC(step=3)], ema_decay=0.9)
    with pytest.raises(KeyboardInterrupt):
        getattr(enc, method)(X)
    # the partly trained model is kept, says how far it got, and is usable
    assert enc.n_steps_ == 3 and len(enc.history_) == 1
    assert enc.n_iter_ == 1
    assert np.isfinite(enc.transform(X)).all()
    assert dict(enc.net_.callbacks_)["weight_average"].raw_ is not None
    # training goes on from there
    assert enc.partial_fit(X).n_steps_ > 3


def test_whiten_inputs_never_amplifies_a_column_constant_in_training(data):
    X, _, split = data
    X = X.copy()
    X[:, 1] = 3.0  # constant (and non-zero) in training, like a border pixel
    enc = _enc(split, whiten_inputs=True).fit(X)
    x = X[:, :split]
    moved = x.copy()
    shift = np.array([1.0, -5.0])
    moved[:2, 1] += shift  # a few test rows where it is not constant
    delta = _tower_inputs(enc, moved, "x") - _tower_inputs(enc, x, "x")
    # gain at most 1 along the direction seen as constant (31.6 on the base)
    assert np.all(np.linalg.norm(delta[:2], axis=1) <= np.abs(shift) + 1e-6)
    np.testing.assert_array_equal(delta[2:], 0)
    # the varying columns are still whitened (unit covariance)
    cov = np.cov(_tower_inputs(enc, x, "x"), rowvar=False)
    varying = np.linalg.eigvalsh(cov)[1:]
    np.testing.assert_allclose(varying, 1, atol=1e-3)


def test_hidden_layer_sizes_int_is_one_hidden_layer(data):
    X, _, split = data
    one = _enc(split, hidden_layer_sizes=16).fit(X)
    np.testing.assert_array_equal(
        one.transform(X), _enc(split, hidden_layer_sizes=(16,)).fit(X).transform(X)
    )
    assert one.get_params()["hidden_layer_sizes"] == 16  # stored unchanged


def test_feature_names_tell_the_two_views_apart(data):
    X, _, split = data
    enc = _enc(split, representation="both").fit(X)
    names = enc.get_feature_names_out()
    prefix = "multimodalcontrastiveencoder"
    assert list(names) == [f"{prefix}_{m}{i}" for m in "xt" for i in range(3)]
    names_x = _enc(split).fit(X).get_feature_names_out()
    assert list(names_x) == [f"{prefix}{i}" for i in range(3)]


def test_early_stopping_tol_is_the_rise_that_counts(data):
    X, _, split = data
    params = dict(max_epochs=20, early_stopping=True, n_iter_no_change=2)
    # no rise of the score (a fraction in [0, 1]) exceeds tol=1: the first
    # epoch is the best and training stops n_iter_no_change epochs later
    enc = _enc(split, tol=1.0, **params).fit(X)
    assert enc.history_[:, "valid_score_best"] == [True, False, False]
    assert enc.n_iter_ == 3


def _streamed(split, X, **params):
    """An encoder after one partial_fit on the first half of X."""
    params = {"warmup": 1, "lr_schedule": "constant", **params}
    return _enc(split, **params).partial_fit(X[:150])


def test_set_params_between_partial_fits_applies_lr_batch_size_temperature(data):
    X, _, split = data
    enc = _streamed(split, X).set_params(lr=1e-4, batch_size=32, temperature=0.5)
    steps = enc.n_steps_
    enc.partial_fit(X[150:])
    assert enc.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(1e-4)
    # 150 pairs in batches of 32: four full ones and a last one of 22
    assert enc.batch_size_ == 32 and enc.n_steps_ - steps == 5
    assert enc.temperature_ == pytest.approx(0.5)
    assert enc.net_.criterion_.temperature == pytest.approx(0.5)
    # the applied values stick: a pickle trains on exactly as the original
    twin = pickle.loads(pickle.dumps(enc))
    np.testing.assert_array_equal(
        enc.partial_fit(X[:150]).transform(X), twin.partial_fit(X[:150]).transform(X)
    )


def test_set_params_ema_decay_between_partial_fits(data):
    X, _, split = data
    # dropping the average: the raw weights are used at once (averaging
    # never changes the training, so they are the plain encoder's) ...
    dropped = _streamed(split, X, ema_decay=0.9).set_params(ema_decay=None)
    np.testing.assert_array_equal(
        dropped.transform(X), _streamed(split, X).transform(X)
    )
    # ... and trained on
    plain = _streamed(split, X).partial_fit(X[150:])
    dropped.partial_fit(X[150:])
    assert "weight_average" not in dict(dropped.net_.callbacks_)
    np.testing.assert_array_equal(dropped.transform(X), plain.transform(X))
    # starting one: it averages the steps that follow
    added = _streamed(split, X).set_params(ema_decay=0.5).partial_fit(X[150:])
    average = dict(added.net_.callbacks_)["weight_average"]
    assert average.decay == 0.5 and average.n_updates_ == added.n_steps_ // 2
    assert not np.allclose(added.transform(X), plain.transform(X))


@pytest.mark.parametrize(
    "params",
    [
        {"hidden_layer_sizes": (8,)},
        {"n_components": 2},
        {"latent_space": "box"},
        {"split": 1},
        {"optimizer": "sgd"},
        {"whiten_inputs": True},
        {"callbacks": [Callback()]},
        {"learn_temperature": True},
    ],
)
def test_set_params_needing_a_refit_raise_in_partial_fit(data, params):
    X, _, split = data
    enc = _streamed(split, X)
    before, steps = enc.transform(X), enc.n_steps_
    enc.set_params(**params)
    (name,) = params
    with pytest.raises(ValueError, match=rf"set_params changed \['{name}'\].*fit"):
        enc.partial_fit(X[150:])
    assert enc.n_steps_ == steps  # nothing trained, nothing changed
    enc.set_params(**{name: _enc(split).get_params()[name]})
    np.testing.assert_array_equal(enc.transform(X), before)
    enc.partial_fit(X[150:])  # set back: training goes on
    assert enc.n_steps_ > steps
    # fit takes the new values
    enc.set_params(**params)
    if name != "split":
        assert enc.fit(X).n_steps_ > 0


def test_set_params_learned_temperature_needs_a_refit(data):
    X, _, split = data
    enc = _streamed(split, X, learn_temperature=True).set_params(temperature=0.5)
    with pytest.raises(ValueError, match=r"\['temperature'\]"):
        enc.partial_fit(X[150:])


def test_set_params_of_fit_only_parameters_leaves_partial_fit_as_it_was(data):
    X, _, split = data
    plain = _streamed(split, X).partial_fit(X[150:])
    enc = _streamed(split, X).set_params(
        max_epochs=7, early_stopping=True, n_iter_no_change=2, tol=0.1
    )
    np.testing.assert_array_equal(
        enc.partial_fit(X[150:]).transform(X), plain.transform(X)
    )


def test_failed_partial_fit_after_set_params_restores_the_net(data):
    X, _, split = data
    enc = _streamed(split, X, ema_decay=0.9)
    twin = pickle.loads(pickle.dumps(enc))
    new = dict(ema_decay=None, batch_size=32, lr=1e-4)
    enc.set_params(**new)
    enc.net_.criterion_.log_temperature.fill_(-100.0)  # logits overflow
    with pytest.raises(ValueError, match="keeps its state"):
        enc.partial_fit(X[150:])
    enc.net_.criterion_.log_temperature.fill_(np.log(0.2))
    assert "weight_average" in dict(enc.net_.callbacks_)
    assert enc.net_.batch_size == enc.batch_size_ == 64
    twin.set_params(**new)
    np.testing.assert_array_equal(enc.transform(X), twin.transform(X))
    # the next call applies the new parameters as if the failed one never ran
    np.testing.assert_array_equal(
        enc.partial_fit(X[150:]).transform(X), twin.partial_fit(X[150:]).transform(X)
    )
    enc.set_params(ema_decay=0.9)  # the average is gone: it starts anew
    assert dict(enc.partial_fit(X[:150]).net_.callbacks_)["weight_average"].n_updates_


def _enc2(split, **kw):
    """Like _enc, with n_components settable."""
    return MultimodalContrastiveEncoder(
        split=split, **{"n_components": 3, **FAST, **kw}
    )


def _head_batch_norm_layers(enc):
    return [
        m for m in enc.net_.module_.modules() if isinstance(m, torch.nn.BatchNorm1d)
    ]


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"n_components": 2}, True),  # the circle
        ({"n_components": 3}, False),
        ({"n_components": 2, "latent_space": "box"}, False),
        ({"n_components": 3, "latent_space": "real"}, True),
        ({"n_components": 3, "head_batch_norm": True}, True),
        ({"n_components": 2, "head_batch_norm": False}, False),
    ],
)
def test_head_batch_norm_auto_is_on_for_the_circle_and_the_real_geometry(
    data, params, expected
):
    X, _, split = data
    enc = _enc2(split, max_epochs=1, **params).fit(X)
    assert len(_head_batch_norm_layers(enc)) == (2 if expected else 0)
    assert enc.get_params()["head_batch_norm"] == params.get("head_batch_norm", "auto")


def test_head_batch_norm_and_real_geometry_are_validated(data):
    X, _, split = data
    with pytest.raises(ValueError, match="head_batch_norm"):
        _enc2(split, head_batch_norm="yes").fit(X)
    with pytest.raises(ValueError, match="latent_space.*real"):
        _enc2(split, latent_space="unbounded").fit(X)


def test_real_geometry_gives_unbounded_outputs_and_an_lp_loss(data):
    X, _, split = data
    enc = _enc2(split, latent_space="real", max_epochs=2).fit(X)
    # batch-normalised, then no squashing head
    head = enc.net_.module_.tower_x.head
    assert isinstance(head[0], torch.nn.BatchNorm1d)
    assert isinstance(head[1], torch.nn.Identity)
    Z = enc.transform(X)
    assert np.isfinite(Z).all() and np.ptp(np.linalg.norm(Z, axis=1)) > 0.1
    assert enc.net_.criterion_.similarity == "lp" and enc.temperature_ == 0.5
    assert 0 <= enc.score(X) <= 1


def test_head_batch_norm_running_statistics_are_averaged_with_ema(data):
    """The averaged model normalises with averaged statistics: transform,
    pickling, partial_fit and early stopping all see one consistent model."""
    X, _, split = data
    enc = _enc2(split, n_components=2, ema_decay=0.9, max_epochs=3).fit(X)
    average = dict(enc.net_.callbacks_)["weight_average"]
    bn = _head_batch_norm_layers(enc)
    n_params = len(list(enc.net_.module_.parameters()))
    assert len(average.average_) == n_params + 2 * len(bn) == n_params + 4
    # the module holds the averaged statistics, the raw ones are kept aside
    torch.testing.assert_close(bn[0].running_mean, average.average_[n_params])
    assert not torch.equal(average.raw_[n_params], average.average_[n_params])
    # transform runs in eval mode: one row alone gives its row of the batch
    Z = enc.transform(X)
    np.testing.assert_allclose(enc.transform(X[:1]), Z[:1], atol=1e-6)
    loaded = pickle.loads(pickle.dumps(enc))
    np.testing.assert_allclose(loaded.transform(X), Z)
    more = _enc2(split, n_components=2, ema_decay=0.9, max_steps=6)
    more.partial_fit(X[:150]).partial_fit(X[150:])
    assert more.n_steps_ == 4 and np.isfinite(more.transform(X)).all()
    stopped = _enc2(
        split,
        n_components=2,
        ema_decay=0.9,
        early_stopping=True,
        max_epochs=4,
        n_iter_no_change=1,
    ).fit(X)
    # the best epoch's weights and statistics are restored: finite outputs
    assert np.isfinite(stopped.transform(X)).all() and stopped.n_iter_ >= 1


def test_head_batch_norm_trains_with_the_smallest_batches(data):
    X, _, split = data
    enc = _enc2(split, n_components=2, batch_size=2, max_steps=5).fit(X[:7])
    assert enc.n_steps_ == 5 and np.isfinite(enc.transform(X[:1])).all()


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"n_components": 3}, 0.2),
        ({"n_components": 2}, 0.5),  # the circle
        ({"n_components": 2, "temperature": 0.3}, 0.3),
        ({"n_components": 3, "latent_space": "box"}, 0.5),
        ({"n_components": 3, "latent_space": "real"}, 0.5),
    ],
)
def test_auto_temperature_of_each_geometry(data, params, expected):
    X, _, split = data
    enc = _enc2(split, max_steps=1, **params).fit(X)
    assert enc.temperature_ == pytest.approx(expected)
