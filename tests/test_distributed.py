"""Gathered negatives in SymmetricInfoNCE, checked with 2 CPU processes on gloo.

One module-scoped run spawns two processes that evaluate every case (each
branch of the autograd all-gather, a negative control, unequal batches); the
tests compare their results with a single process on the concatenated batch.
"""
# License: BSD 3 clause

import importlib.util
import inspect
import os
import pickle
import socket
import subprocess
import sys
import time
import warnings
from datetime import timedelta

import numpy as np
import pytest
import torch
import torch.distributed as dist
from _gloo import leave_group, spawn_ranks
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklcm.nn import SymmetricInfoNCE, TwoTowerMLP, _distributed, _losses

pytestmark = [
    pytest.mark.distributed,
    pytest.mark.skipif(
        not (dist.is_available() and dist.is_gloo_available()),
        reason="torch.distributed with the gloo backend is not available",
    ),
]

WORLD_SIZE = 2
LOCAL_BATCH = 8
N_FEATURES, SPLIT = 7, 3
FC = "torch.distributed._functional_collectives"

# case -> (geometry, which gather is used or how the helper is patched)
CASES = {
    "all_gather_single": ("sphere", "all_gather_single"),
    "box_lp": ("box", "all_gather_single"),
    "all_gather_tensor_autograd": ("sphere", "all_gather_tensor_autograd"),
    "nn_functional_all_gather": ("sphere", "nn_functional_all_gather"),
    "no_functional_collectives": ("sphere", "no_functional_collectives"),
    "gather_without_grad": ("sphere", "gather_without_grad"),
    "local_only": ("sphere", "local_only"),
}
GATHER_CASES = [c for c in CASES if c not in ("gather_without_grad", "local_only")]


def _model_and_loss(geometry):
    """The same float64 towers and loss (learnable temperature) in every process."""
    torch.manual_seed(0)
    module = TwoTowerMLP(
        SPLIT, N_FEATURES, 3, hidden_layer_sizes=(8,), latent_space=geometry
    ).double()
    similarity = "cosine" if geometry == "sphere" else "lp"
    loss = SymmetricInfoNCE(0.3, learn_temperature=True, similarity=similarity)
    return module, loss.double()


def _global_batch():
    generator = torch.Generator().manual_seed(1)
    shape = (WORLD_SIZE * LOCAL_BATCH, N_FEATURES)
    return torch.randn(shape, generator=generator, dtype=torch.float64)


def _loss_and_grads(module, loss_fn, X):
    loss = loss_fn(*module(X))
    loss.backward()
    params = [*module.parameters(), *loss_fn.parameters()]
    return loss.detach(), [p.grad.detach().clone() for p in params]


def _spy(calls, function):
    def spy(*args, **kwargs):
        calls.append(1)
        return function(*args, **kwargs)

    return spy


def _gather_without_grad(tensor):
    """Negative control: a plain all_gather, which records no autograd history."""
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


def _patch(monkeypatch, how, calls):
    """Make the gather helper take the branch ``how``, counting its calls."""
    import torch.distributed._functional_collectives as fc
    import torch.distributed.nn.functional as nn_functional

    real_single = fc.all_gather_single
    if how == "all_gather_single":
        monkeypatch.setattr(fc, "all_gather_single", _spy(calls, real_single))
    elif how == "all_gather_tensor_autograd":
        # an older torch: the autograd gather exists only under its old name
        monkeypatch.delattr(fc, "all_gather_single")
        monkeypatch.setattr(fc, "all_gather_tensor_autograd", _spy(calls, real_single))
    elif how in ("nn_functional_all_gather", "no_functional_collectives"):
        if how == "nn_functional_all_gather":
            monkeypatch.delattr(fc, "all_gather_single")
            monkeypatch.delattr(fc, "all_gather_tensor_autograd")
        else:
            monkeypatch.setitem(sys.modules, FC, None)  # import raises ImportError
        monkeypatch.setattr(
            nn_functional, "all_gather", _spy(calls, nn_functional.all_gather)
        )
    elif how == "gather_without_grad":
        monkeypatch.setattr(_losses, "_all_gather_with_grad", _gather_without_grad)
    elif how == "local_only":
        monkeypatch.setattr(fc, "all_gather_single", _spy(calls, real_single))


def _run_case(rank, case):
    geometry, how = CASES[case]
    module, loss_fn = _model_and_loss(geometry)
    X = _global_batch()[rank * LOCAL_BATCH : (rank + 1) * LOCAL_BATCH]
    calls = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        _patch(monkeypatch, how, calls)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if how == "local_only":
                with _distributed._local_only():
                    loss, grads = _loss_and_grads(module, loss_fn, X)
            else:
                loss, grads = _loss_and_grads(module, loss_fn, X)
    for grad in grads:  # what DDP does: the mean over the ranks
        dist.all_reduce(grad)
        grad /= WORLD_SIZE
    return {
        "loss": loss,
        "grads": grads,
        "calls": len(calls),
        "warnings": [str(w.message) for w in caught],
    }


def _unequal_batches(rank):
    module, loss_fn = _model_and_loss("sphere")
    X = _global_batch()[: LOCAL_BATCH - rank]
    try:
        loss_fn(*module(X))
    except ValueError as exc:
        return str(exc)
    return None


def _worker(rank, store, out):
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"file://{store}",
        rank=rank,
        world_size=WORLD_SIZE,
        timeout=timedelta(seconds=60),
    )
    try:
        results = {case: _run_case(rank, case) for case in CASES}
        results["unequal"] = _unequal_batches(rank)
        results["world"] = _distributed._world()
        torch.save(results, f"{out}/rank{rank}.pt")
        leave_group()
    finally:  # reached only when a case raised
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def gloo_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gloo")
    spawn_ranks(_worker, lambda attempt: (str(tmp / f"store{attempt}"), str(tmp)))
    return [torch.load(tmp / f"rank{r}.pt") for r in range(WORLD_SIZE)]


def _single_process(geometry):
    module, loss_fn = _model_and_loss(geometry)
    return _loss_and_grads(module, loss_fn, _global_batch())


def test_ranks_see_the_process_group(gloo_results):
    assert [r["world"] for r in gloo_results] == [(0, 2), (1, 2)]


@pytest.mark.parametrize("case", GATHER_CASES)
def test_mean_rank_loss_equals_single_process_loss(gloo_results, case):
    loss, _ = _single_process(CASES[case][0])
    rank_losses = torch.stack([r[case]["loss"] for r in gloo_results])
    # the ranks' local losses differ; their mean is the global-batch loss
    assert not torch.allclose(rank_losses[0], rank_losses[1])
    torch.testing.assert_close(rank_losses.mean(), loss, rtol=1e-12, atol=0)


@pytest.mark.parametrize("case", GATHER_CASES)
def test_averaged_gradients_equal_single_process_gradients(gloo_results, case):
    _, grads = _single_process(CASES[case][0])
    for rank in gloo_results:
        assert len(rank[case]["grads"]) == len(grads)
        for got, expected in zip(rank[case]["grads"], grads):
            torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("case", GATHER_CASES)
def test_gather_branch_is_taken_without_warnings(gloo_results, case):
    for rank in gloo_results:
        assert rank[case]["calls"] == 2  # one gather per modality
        assert rank[case]["warnings"] == []


def test_gather_without_grad_fails_the_gradient_check(gloo_results):
    """Negative control: same loss value, wrong gradients."""
    loss, grads = _single_process("sphere")
    result = gloo_results[0]["gather_without_grad"]
    rank_losses = torch.stack([r["gather_without_grad"]["loss"] for r in gloo_results])
    torch.testing.assert_close(rank_losses.mean(), loss, rtol=1e-12, atol=0)
    assert not all(
        torch.allclose(got, expected, rtol=1e-6)
        for got, expected in zip(result["grads"], grads)
    )


def test_local_only_skips_the_gather(gloo_results):
    for rank, result in enumerate(gloo_results):
        assert result["local_only"]["calls"] == 0
        module, loss_fn = _model_and_loss("sphere")
        X = _global_batch()[rank * LOCAL_BATCH : (rank + 1) * LOCAL_BATCH]
        torch.testing.assert_close(result["local_only"]["loss"], loss_fn(*module(X)))


def test_unequal_local_batches_raise_on_every_rank(gloo_results):
    for rank in gloo_results:
        assert "same local batch size" in rank["unequal"]
        assert f"from {LOCAL_BATCH - 1} to {LOCAL_BATCH}" in rank["unequal"]


def test_world_size_one_runs_the_single_process_code(tmp_path, monkeypatch):
    import torch.distributed._functional_collectives as fc

    module, loss_fn = _model_and_loss("sphere")
    X = _global_batch()
    expected = loss_fn(*module(X))
    calls = []
    monkeypatch.setattr(fc, "all_gather_single", _spy(calls, fc.all_gather_single))
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        assert _distributed._world() == (0, 1)
        got = loss_fn(*module(X))
    finally:
        dist.destroy_process_group()
    assert calls == []
    assert torch.equal(got, expected)


# ------------------------------------------------- accelerate (skorch mixin)
E2E_PARAMS = dict(
    n_components=2,
    split=2,
    hidden_layer_sizes=(16,),
    batch_size=32,
    max_epochs=2,
    lr=1e-2,
    random_state=0,
)


def _e2e_data():
    from sklcm.datasets import make_latent_partial_causal

    return make_latent_partial_causal(100, n_latents=2, random_state=0)[0]


def _join_cpu_launch(rank, port):
    """What ``ACCELERATE_USE_CPU=1 torchrun --nproc_per_node 2`` sets for ``rank``."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(WORLD_SIZE),
        ACCELERATE_USE_CPU="1",
    )
    torch.set_num_threads(1)


def _accelerate_worker(rank, port, out):
    _join_cpu_launch(rank, port)
    from accelerate import Accelerator

    from sklcm.distributed import AcceleratedContrastiveEncoder

    X = _e2e_data()
    results = {}
    for learn_temperature in (False, True):
        accelerator = Accelerator(cpu=True)
        enc = AcceleratedContrastiveEncoder(
            accelerator=accelerator, learn_temperature=learn_temperature, **E2E_PARAMS
        ).fit(X)
        results[learn_temperature] = {
            "Z": enc.transform(X),
            "loss": enc.history_[:, "train_loss"],
            "n_steps": enc.n_steps_,
            "temperature": enc.temperature_,
            "world": (accelerator.process_index, accelerator.num_processes),
            "pickled": len(pickle.dumps(enc)),
            "score": enc.score(X),
            "infonce_loss": enc.infonce_loss(X),
        }
    # two partial_fit calls: the second must train wrapped again (in sync)
    enc = AcceleratedContrastiveEncoder(
        accelerator=Accelerator(cpu=True), lr_schedule="constant", **E2E_PARAMS
    )
    results["partial_fit"] = [enc.partial_fit(X).transform(X) for _ in range(2)]
    # random_state=None would shuffle differently on each process
    params = {**E2E_PARAMS, "random_state": None}
    enc = AcceleratedContrastiveEncoder(accelerator=Accelerator(cpu=True), **params)
    try:
        enc.fit(X)
    except ValueError as exc:
        results["no_seed"] = str(exc)
    # a process with other data is caught on every process
    enc.set_params(random_state=0)
    try:
        enc.fit(X[: len(X) - rank])
    except ValueError as exc:
        results["other_data"] = str(exc)
    torch.save(results, f"{out}/accelerate{rank}.pt")
    leave_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def accelerate_results(tmp_path_factory):
    pytest.importorskip("accelerate")
    tmp = tmp_path_factory.mktemp("accelerate")
    spawn_ranks(_accelerate_worker, lambda attempt: (_free_port(), str(tmp)))
    return [
        torch.load(tmp / f"accelerate{r}.pt", weights_only=False)
        for r in range(WORLD_SIZE)
    ]


@pytest.mark.slow
@pytest.mark.parametrize("learn_temperature", [False, True])
def test_two_process_accelerate_fit_matches_one_process(
    accelerate_results, learn_temperature
):
    """2 CPU processes (accelerate MULTI_CPU, gloo), global batch 32 = 2 x 16."""
    from sklcm import MultimodalContrastiveEncoder

    X = _e2e_data()
    single = MultimodalContrastiveEncoder(
        learn_temperature=learn_temperature, **E2E_PARAMS
    ).fit(X)
    for rank, result in enumerate(accelerate_results):
        got = result[learn_temperature]
        assert got["world"] == (rank, WORLD_SIZE)
        assert got["n_steps"] == single.n_steps_
        loss = single.history_[:, "train_loss"]
        np.testing.assert_allclose(got["loss"], loss, rtol=1e-5)
        np.testing.assert_allclose(got["Z"], single.transform(X), atol=1e-5)
        assert got["temperature"] == pytest.approx(single.temperature_, rel=1e-5)


@pytest.mark.slow
def test_two_process_accelerate_score_and_checks(accelerate_results):
    from sklcm import MultimodalContrastiveEncoder

    X = _e2e_data()
    single = MultimodalContrastiveEncoder(**E2E_PARAMS).fit(X)
    for result in accelerate_results:
        # each process scores the whole X, without gathering duplicates
        assert result[False]["score"] == pytest.approx(single.score(X), rel=1e-5)
        assert result[False]["infonce_loss"] == pytest.approx(
            single.infonce_loss(X), rel=1e-5
        )
        assert "Every process must call fit with the same X" in result["other_data"]
        assert "random_state must be an int" in result["no_seed"]


@pytest.mark.slow
def test_two_process_accelerate_partial_fits_stay_in_sync(accelerate_results):
    from sklcm import MultimodalContrastiveEncoder

    X = _e2e_data()
    single = MultimodalContrastiveEncoder(lr_schedule="constant", **E2E_PARAMS)
    expected = [single.partial_fit(X).transform(X) for _ in range(2)]
    assert np.abs(expected[1] - expected[0]).max() > 1e-3  # the 2nd call trains
    for result in accelerate_results:
        for got, want in zip(result["partial_fit"], expected):
            np.testing.assert_allclose(got, want, atol=1e-5)


def _error(fn):
    """The message of the exception ``fn()`` raises, or None."""
    try:
        fn()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _save_worker(rank, port, out):
    """The Scaling page's recipe: fit, then save from the main process."""
    _join_cpu_launch(rank, port)
    import joblib

    from sklcm.distributed import AcceleratedContrastiveEncoder

    X = _e2e_data()
    # accelerator=None: Accelerator() of the launch, as in the page's train.py;
    # verbose: the log goes through the main-process print sink
    enc = AcceleratedContrastiveEncoder(verbose=1, **E2E_PARAMS).fit(X)
    results = {"device_": enc.device_}
    if enc.net_.accelerator.is_main_process:
        joblib.dump(enc, f"{out}/encoder.joblib")
        np.save(f"{out}/Z.npy", enc.transform(X))
        results["in_process"] = _error(
            lambda: np.testing.assert_array_equal(
                pickle.loads(pickle.dumps(enc)).transform(X), enc.transform(X)
            )
        )
    # a common DDP idiom, which would shuffle other batches on each process
    params = {**E2E_PARAMS, "random_state": rank}
    results["seed_per_process"] = _error(
        lambda: AcceleratedContrastiveEncoder(**params).fit(X)
    )
    torch.save(results, f"{out}/save{rank}.pt")
    leave_group()


@pytest.fixture(scope="module")
def saved_results(tmp_path_factory):
    pytest.importorskip("accelerate")
    tmp = tmp_path_factory.mktemp("save")
    start = time.perf_counter()
    spawn_ranks(_save_worker, lambda attempt: (_free_port(), str(tmp)))
    print(f"2-process fit and save: {time.perf_counter() - start:.1f} s")
    results = [torch.load(tmp / f"save{r}.pt") for r in range(WORLD_SIZE)]
    return tmp, results


_LOAD_IN_FRESH_PROCESS = """
import sys
import joblib, numpy as np
enc = joblib.load(sys.argv[1])
np.save(sys.argv[2], enc.transform(np.load(sys.argv[3])))
print(enc.device_, enc.net_.device, enc.accelerator, enc.net_.accelerator)
"""


def test_two_process_fit_loads_in_a_fresh_process(saved_results, tmp_path):
    """joblib.dump of the main process, joblib.load in a process with no launch."""
    tmp, results = saved_results
    assert [r["device_"] for r in results] == ["cpu:0", "cpu:0"]  # indexed device
    np.save(tmp_path / "X.npy", _e2e_data())
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "CUDA_VISIBLE_DEVICES": "",
    }
    start = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            _LOAD_IN_FRESH_PROCESS,
            str(tmp / "encoder.joblib"),
            str(tmp_path / "Z.npy"),
            str(tmp_path / "X.npy"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    print(f"load and transform in a fresh process: {time.perf_counter() - start:.1f} s")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["cpu", "cpu", "None", "None"]
    np.testing.assert_array_equal(np.load(tmp_path / "Z.npy"), np.load(tmp / "Z.npy"))
    # the launch's accelerator is not saved (it holds the launch's devices)
    assert b"accelerate.accelerator" not in (tmp / "encoder.joblib").read_bytes()


def test_two_process_fit_pickles_in_the_training_process(saved_results):
    _, results = saved_results
    assert "in_process" in results[0]
    assert results[0]["in_process"] is None  # no error, same transform


def test_two_process_fit_rejects_a_seed_per_process(saved_results):
    _, results = saved_results
    for result in results:  # every process raises the same error
        message = result["seed_per_process"]
        assert message is not None, "random_state=RANK trained silently"
        assert message.startswith("ValueError: Every process must call fit with ")
        assert "the same random_state, got [0, 1]" in message
        assert "random_state=0" in message and "RANK" in message


def _accelerated(**params):
    pytest.importorskip("accelerate")
    from sklcm.distributed import AcceleratedContrastiveEncoder

    return AcceleratedContrastiveEncoder(**{**E2E_PARAMS, **params})


@pytest.mark.parametrize("learn_temperature", [False, True])
def test_accelerated_single_process_fit_equals_base_fit(learn_temperature):
    from accelerate import Accelerator

    from sklcm import MultimodalContrastiveEncoder

    X = _e2e_data()
    accelerator = Accelerator(cpu=True)
    enc = _accelerated(
        accelerator=accelerator, learn_temperature=learn_temperature
    ).fit(X)
    base = MultimodalContrastiveEncoder(
        learn_temperature=learn_temperature, **E2E_PARAMS
    ).fit(X)
    assert enc.net_.accelerator is accelerator
    assert enc.device_ == "cpu" and enc.n_steps_ == base.n_steps_
    assert enc.history_[:, "train_loss"] == base.history_[:, "train_loss"]
    np.testing.assert_array_equal(enc.transform(X), base.transform(X))
    assert enc.score(X) == base.score(X)


def _accelerated_for_checks():
    try:
        from sklcm.distributed import AcceleratedContrastiveEncoder
    except ImportError:  # pragma: no cover
        return []
    fast = dict(hidden_layer_sizes=(8,), max_epochs=2, batch_size=16, random_state=0)
    return [AcceleratedContrastiveEncoder(split=1, **fast)]


@pytest.mark.skipif(
    importlib.util.find_spec("accelerate") is None, reason="needs accelerate"
)
@parametrize_with_checks(_accelerated_for_checks())
def test_accelerated_encoder_passes_sklearn_checks(estimator, check):
    check(estimator)


def test_accelerated_encoder_clones_and_pickles_after_fit():
    from sklearn.base import clone

    X = _e2e_data()
    enc = _accelerated(learn_temperature=True)
    assert clone(enc).get_params() == enc.get_params()
    assert "accelerator" in enc.get_params() and "batch_size" in enc.get_params()
    enc.fit(X)
    assert type(enc.net_.module_).__name__ == "TwoTowerMLP"  # unwrapped
    restored = pickle.loads(pickle.dumps(enc))
    np.testing.assert_array_equal(restored.transform(X), enc.transform(X))


def test_accelerated_encoder_lists_its_parameters_explicitly():
    """No **kwargs (scikit-learn forbids them); the base's list, device aside.

    This also flags drift: a parameter added to the base encoder must be
    added to the subclass (or documented here as a difference).
    """
    from sklcm import MultimodalContrastiveEncoder
    from sklcm.distributed import AcceleratedContrastiveEncoder

    init = AcceleratedContrastiveEncoder.__init__
    assert not init.__code__.co_flags & inspect.CO_VARKEYWORDS
    assert "__signature__" not in vars(init)
    base = dict(inspect.signature(MultimodalContrastiveEncoder).parameters)
    del base["device"]  # the accelerator places the towers
    own = dict(inspect.signature(AcceleratedContrastiveEncoder).parameters)
    accelerator = own.pop("accelerator")
    assert accelerator.default is None
    assert accelerator.kind is inspect.Parameter.KEYWORD_ONLY
    assert list(own) == list(base)
    for name, parameter in base.items():
        assert own[name].default == parameter.default, name
        assert own[name].kind == parameter.kind, name
    assert set(AcceleratedContrastiveEncoder._parameter_constraints) == {
        *own,
        "accelerator",
    }


def test_accelerated_encoder_stores_every_parameter_unchanged():
    from sklearn.base import clone

    from sklcm.distributed import AcceleratedContrastiveEncoder

    names = inspect.signature(AcceleratedContrastiveEncoder).parameters
    values = {name: object() for name in names}
    enc = AcceleratedContrastiveEncoder(**values)
    assert all(enc.get_params()[name] is value for name, value in values.items())
    enc = AcceleratedContrastiveEncoder(split=2)
    enc.set_params(lr=0.5, accelerator=None)
    assert clone(enc).get_params() == enc.get_params()


def test_accelerated_encoder_refuses_device():
    """``device`` is not a parameter: refused, never silently ignored."""
    from sklcm.distributed import AcceleratedContrastiveEncoder

    with pytest.raises(TypeError, match="device"):
        AcceleratedContrastiveEncoder(split=2, device="cuda")
    enc = AcceleratedContrastiveEncoder(split=2)
    assert "device" not in enc.get_params()
    with pytest.raises(ValueError, match="Invalid parameter 'device'"):
        enc.set_params(device="cuda")


def test_accelerated_encoder_saves_without_its_accelerator():
    """A pickle holds no accelerator; the loaded encoder trains with a new one."""
    from accelerate import Accelerator

    X = _e2e_data()
    enc = _accelerated(accelerator=Accelerator(cpu=True), lr_schedule="constant")
    enc.partial_fit(X)
    restored = pickle.loads(pickle.dumps(enc))
    assert enc.get_params()["accelerator"] is not None  # the live one keeps it
    assert restored.accelerator is None and restored.net_.accelerator is None
    np.testing.assert_array_equal(restored.transform(X), enc.transform(X))
    Z = restored.transform(X)
    restored.partial_fit(X)
    assert isinstance(restored.net_.accelerator, Accelerator)
    assert restored.n_steps_ == 2 * enc.n_steps_
    assert np.abs(restored.transform(X) - Z).max() > 1e-3  # it trained


def test_accelerated_encoder_is_silent_with_verbose_zero(capsys):
    _accelerated().fit(_e2e_data())
    assert capsys.readouterr().out == ""


def test_accelerated_encoder_rejects_bad_settings(monkeypatch):
    from accelerate import Accelerator

    X = _e2e_data()
    with pytest.raises(TypeError, match="accelerator must be an accelerate"):
        _accelerated(accelerator="cuda").fit(X)
    accumulating = Accelerator(cpu=True, gradient_accumulation_steps=2)
    with pytest.raises(ValueError, match="gradient_accumulation_steps=1"):
        _accelerated(accelerator=accumulating).fit(X)
    monkeypatch.setattr(Accelerator, "num_processes", property(lambda self: 3))
    with pytest.raises(ValueError, match="multiple of the 3 processes"):
        _accelerated(accelerator=Accelerator(cpu=True)).fit(X)


def test_local_shards_split_each_global_batch():
    from sklcm.distributed._accelerate import _LocalShards

    batches = [(torch.arange(12), None), (torch.arange(12, 19), None)]
    shards = [list(_LocalShards(batches, rank, 3)) for rank in range(3)]
    assert [len(s) for s in shards] == [2, 2, 2]
    first = torch.cat([s[0][0] for s in shards])
    last = torch.cat([s[1][0] for s in shards])
    torch.testing.assert_close(first, torch.arange(12))
    torch.testing.assert_close(last, torch.arange(12, 18))  # cut to 3 x 2 rows


def test_base_encoder_never_imports_accelerate():
    code = (
        "import sys, numpy as np\n"
        "import sklcm\n"
        "sklcm.distributed.AcceleratedContrastiveEncoder  # a lazy submodule\n"
        "from sklcm import MultimodalContrastiveEncoder\n"
        "X = np.random.RandomState(0).randn(40, 4)\n"
        "MultimodalContrastiveEncoder(split=2, max_epochs=1, batch_size=20,\n"
        "                             hidden_layer_sizes=(4,)).fit(X)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'accelerate'))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
