"""A scikit-learn search over an sklcm pipeline on a local dask.distributed cluster.

Run through joblib's dask backend, as in the "Scaling out" user guide: the
results must equal those of the sequential search with the same seeds.
"""
# License: BSD 3 clause

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklcm import CoupledLatentICA, MultimodalContrastiveEncoder
from sklcm.datasets import make_latent_partial_causal
from sklcm.metrics import mcc_scorer

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

pytestmark = pytest.mark.dask

# worker start-up (spawn, then importing torch) is slow on a loaded machine
TIMEOUT = "180s"


@pytest.fixture(scope="module")
def client():
    with dask.config.set(
        {
            "distributed.comm.timeouts.connect": TIMEOUT,
            "distributed.comm.timeouts.tcp": TIMEOUT,
        }
    ):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = distributed.Client(cluster, timeout=TIMEOUT)
        try:
            yield client
        finally:
            client.close()
            cluster.close()


def _search():
    encoder = MultimodalContrastiveEncoder(
        n_components=2,
        split=2,
        hidden_layer_sizes=(16,),
        max_epochs=3,
        batch_size=50,
        random_state=0,
    )
    return GridSearchCV(
        make_pipeline(encoder, CoupledLatentICA(random_state=0)),
        {"multimodalcontrastiveencoder__temperature": [0.2, 0.5]},
        scoring=mcc_scorer,
        cv=2,
        error_score="raise",
    )


def _torch_threads():
    import torch

    return torch.get_num_threads()


def test_workers_run_one_torch_thread(client):
    threads = client.run(_torch_threads)
    assert list(threads.values()) == [1, 1]


def test_dask_search_equals_sequential_search(client):
    X, z = make_latent_partial_causal(200, n_latents=2, random_state=0)
    sequential = _search().set_params(n_jobs=1).fit(X, z)
    with distributed.get_task_stream(client) as stream:
        with joblib.parallel_config(backend="dask"):
            on_dask = _search().fit(X, z)
    # the 2 candidates x 2 folds ran as tasks on the cluster's workers
    workers = {task["worker"] for task in stream.data}
    assert len(stream.data) >= 4
    assert workers and workers <= set(client.scheduler_info()["workers"])
    for key in ("params", "split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_array_equal(
            on_dask.cv_results_[key], sequential.cv_results_[key]
        )
    assert on_dask.best_params_ == sequential.best_params_
    np.testing.assert_array_equal(on_dask.transform(X), sequential.transform(X))
