"""Tests of MultimodalContrastiveEncoder."""

import pickle
import re
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

from sklcm import MultimodalContrastiveEncoder
from sklcm.datasets import make_latent_partial_causal
from sklcm.metrics import linear_r2_score, mcc_scorer, mean_corr_coef

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
    "output, width", [("x", 3), ("t", 3), ("both", 6), ("mean", 3)]
)
def test_transform_output_modes(data, output, width):
    X, _, split = data
    enc = _enc(split, output=output).fit(X)
    Z = enc.transform(X)
    assert Z.shape == (len(X), width)
    z_x = enc.encode(X[:, :split], modality="x")
    z_t = enc.encode(X[:, split:], modality="t")
    expected = {
        "x": z_x,
        "t": z_t,
        "both": np.hstack([z_x, z_t]),
        "mean": (z_x + z_t) / 2,
    }[output]
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
    bound = enc.net_.module_.tower_x.head.log_bound.exp().detach().numpy()
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


def test_score_is_negative_loss_and_improves_with_training(data):
    X, _, split = data
    short = _enc(split, max_epochs=1, lr=1e-5).fit(X)
    long = _enc(split, max_epochs=20, hidden_layer_sizes=(32, 32)).fit(X)
    assert long.score(X) > short.score(X)
    assert long.score(X) == pytest.approx(-long.history_[-1, "train_loss"], abs=0.3)


def test_learn_temperature_moves_temperature(data):
    X, _, split = data
    fixed = _enc(split, temperature=0.5).fit(X)
    learned = _enc(split, temperature=0.5, learn_temperature=True, lr=1e-2).fit(X)
    assert fixed.temperature_ == pytest.approx(0.5)
    assert learned.temperature_ != pytest.approx(0.5, abs=1e-3)


def test_early_stopping_stops_on_flat_train_loss(data):
    X, _, split = data
    enc = _enc(split, lr=1e-9, max_epochs=50, early_stopping=2).fit(X)
    assert enc.n_iter_ < 10


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


def test_lr_schedule_warmup_then_cosine(data):
    X, _, split = data
    enc = _enc(split, max_epochs=4, warmup=2).fit(X)
    sched = enc._schedule()
    assert sched.total_steps == 4 * 5
    assert sched.factor(0) == pytest.approx(0.5)
    assert sched.factor(1) == pytest.approx(1.0)
    assert sched.factor(sched.total_steps) == pytest.approx(0.0)
    assert enc.net_.optimizer_.param_groups[0]["lr"] < 2e-3 * 0.05


BAD_INPUT = [
    (dict(split=None), ValueError, "`split` is required"),
    (dict(split=0), ValueError, "split"),
    (dict(split=6), ValueError, "leaves a modality empty"),
    (dict(split=2, n_components=0), ValueError, "n_components"),
    (dict(split=2, latent_space="torus"), ValueError, "latent_space"),
    (dict(split=2, hidden_layer_sizes=(8, 0)), ValueError, "hidden_layer_sizes"),
    (dict(split=2, callbacks=["not a callback"]), TypeError, "callbacks"),
    (dict(split=2, device="cuda:0"), ValueError, "CUDA is not available"),
]


@pytest.mark.parametrize("params, error, match", BAD_INPUT)
def test_bad_parameters_raise_clear_errors(data, params, error, match):
    if "device" in params and torch.cuda.is_available():
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


def test_divergence_leaves_estimator_unfitted(data):
    X, _, split = data
    enc = _enc(split).fit(X)
    enc.set_params(lr=1e30, temperature=1e-30)
    with pytest.raises(ValueError, match="lower `lr`"):
        enc.fit(X)
    with pytest.raises(NotFittedError):
        enc.transform(X)


def test_partial_fit_keeps_state_across_chunks(data):
    X, _, split = data
    enc = _enc(split)
    enc.partial_fit(X[:150])
    steps_after_first = enc.n_steps_
    adam_state = enc.net_.optimizer_.state_dict()["state"]
    assert adam_state and all(
        float(s["step"]) == steps_after_first for s in adam_state.values()
    )
    module = enc.net_.module_
    mean_before = module.tower_x.mean.clone()
    enc.partial_fit(X[150:])
    assert enc.net_.module_ is module  # not re-initialised
    assert enc.n_iter_ == 2 and enc.n_steps_ == 2 * steps_after_first
    assert enc._schedule().step_ == enc.n_steps_
    torch.testing.assert_close(module.tower_x.mean, mean_before)
    fitted = _enc(split).fit(X)
    for (name_a, a), (name_b, b) in zip(
        enc.net_.module_.state_dict().items(), fitted.net_.module_.state_dict().items()
    ):
        assert name_a == name_b and a.shape == b.shape
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


def test_model_marked_cuda_loads_on_cpu_only_machine(data):
    if torch.cuda.is_available():
        pytest.skip("checks the CPU-only load path")
    X, _, split = data
    enc = _enc(split).fit(X)
    Z = enc.transform(X)
    enc.net_.device = enc.device_ = "cuda"  # as if trained on a GPU
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = pickle.loads(pickle.dumps(enc))
    assert str(loaded.net_.device) == "cpu"
    np.testing.assert_array_equal(loaded.transform(X), Z)


def test_set_output_pandas(data):
    pd = pytest.importorskip("pandas")
    X, _, split = data
    enc = _enc(split, output="both").set_output(transform="pandas").fit(X)
    out = enc.transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"multimodalcontrastiveencoder{i}" for i in range(6)]


def test_pipeline_and_grid_search_with_identifiability_scorer(data):
    X, z, split = data
    pipe = make_pipeline(_enc(split, max_epochs=2), PCA(n_components=2))
    assert pipe.fit_transform(X).shape == (len(X), 2)
    grid = GridSearchCV(
        _enc(split, max_epochs=2),
        {
            "lr": [1e-3, 3e-3],
            "temperature": [0.2, 1.0],
            "hidden_layer_sizes": [(8,), (16,)],
        },
        scoring=mcc_scorer,
        cv=2,
    ).fit(X, z)
    assert len(grid.cv_results_["params"]) == 8
    assert 0 < grid.best_score_ <= 1
    unsupervised = GridSearchCV(_enc(split, max_epochs=2), {"lr": [1e-3, 3e-3]}, cv=2)
    assert np.isfinite(unsupervised.fit(X).best_score_)


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
