"""Tests for the identifiability scorers in sklcm.metrics."""

import pickle

import numpy as np
import pytest
from sklearn.decomposition import PCA, FastICA
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from sklcm.metrics import (
    block_r2_score,
    linear_r2_score,
    make_identifiability_scorer,
    mcc_scorer,
    mean_corr_coef,
    r2_scorer,
)


@pytest.fixture(scope="module")
def linear_ica_data():
    """Independent Laplace sources S and a random square linear mixing X = S A."""
    rng = np.random.default_rng(0)
    S = rng.laplace(size=(1500, 4))
    A = rng.normal(size=(4, 4))
    return S @ A, S


def _ica_pipeline():
    return make_pipeline(
        StandardScaler(), FastICA(random_state=0, whiten="unit-variance")
    )


def test_mcc_scorer_grid_search_recovers_sources(linear_ica_data):
    X, S = linear_ica_data
    search = GridSearchCV(
        _ica_pipeline(),
        {"fastica__fun": ["logcosh", "exp"]},
        scoring=mcc_scorer,
        cv=3,
    ).fit(X, S)
    assert search.best_score_ >= 0.99
    assert search.cv_results_["mean_test_score"].min() >= 0.99
    assert mean_corr_coef(S, search.transform(X)) >= 0.99


def test_mcc_scorer_grid_search_penalises_missing_components(linear_ica_data):
    X, S = linear_ica_data
    search = GridSearchCV(
        _ica_pipeline(), {"fastica__n_components": [2, 4]}, scoring=mcc_scorer, cv=3
    ).fit(X, S)
    assert search.best_params_ == {"fastica__n_components": 4}
    two, four = search.cv_results_["mean_test_score"]
    assert four >= 0.99
    assert two <= 0.5 + 1e-9  # 2 of 4 true components can be matched


def test_mcc_scorer_discriminates_pca_from_ica(linear_ica_data):
    X, S = linear_ica_data
    pipe = Pipeline([("scale", StandardScaler()), ("reduce", PCA())])
    ica = FastICA(random_state=0, whiten="unit-variance")
    search = GridSearchCV(pipe, {"reduce": [PCA(), ica]}, scoring=mcc_scorer, cv=3).fit(
        X, S
    )
    pca_score, ica_score = search.cv_results_["mean_test_score"]
    assert isinstance(search.best_estimator_[-1], FastICA)
    assert ica_score >= 0.99
    assert pca_score < 0.9


def test_multimetric_grid_search_refits_on_mcc(linear_ica_data):
    X, S = linear_ica_data
    pipe = Pipeline([("scale", StandardScaler()), ("reduce", PCA())])
    ica = FastICA(random_state=0, whiten="unit-variance")
    search = GridSearchCV(
        pipe,
        {"reduce": [PCA(), ica]},
        scoring={"mcc": mcc_scorer, "r2": r2_scorer},
        refit="mcc",
        cv=3,
    ).fit(X, S)
    results = search.cv_results_
    assert isinstance(search.best_estimator_[-1], FastICA)
    assert search.best_score_ >= 0.99
    # both are invertible linear maps of S: R2 cannot tell them apart, MCC can
    assert np.all(results["mean_test_r2"] >= 0.99)
    assert results["mean_test_mcc"][0] < 0.9


def test_scorers_match_their_metrics(linear_ica_data):
    X, S = linear_ica_data
    pipe = _ica_pipeline().fit(X)
    Z = pipe.transform(X)
    assert mcc_scorer(pipe, X, S) == mean_corr_coef(S, Z)
    assert r2_scorer(pipe, X, S) == linear_r2_score(S, Z, random_state=0)
    spearman = make_identifiability_scorer("mcc", method="spearman")
    assert spearman(pipe, X, S) == mean_corr_coef(S, Z, method="spearman")
    block = make_identifiability_scorer("block_r2", regressor="kernel", alpha=0.1)
    assert block(pipe, X[:300], S[:300, :2]) == block_r2_score(
        S[:300, :2], Z[:300], regressor="kernel", alpha=0.1, random_state=0
    )


def test_make_identifiability_scorer_callable_metric(linear_ica_data):
    X, S = linear_ica_data

    def first_component_corr(z_true, z_pred, *, power=1):
        return abs(np.corrcoef(z_true[:, 0], z_pred[:, 0])[0, 1]) ** power

    scorer = make_identifiability_scorer(first_component_corr, power=2)
    assert repr(scorer) == (
        "make_identifiability_scorer(first_component_corr, power=2)"
    )
    identity = make_pipeline(StandardScaler(with_mean=False, with_std=False))
    identity.fit(S)
    assert scorer(identity, S, S) == pytest.approx(1.0)
    assert scorer(identity, -2 * S, S) == pytest.approx(1.0)
    result = cross_validate(identity, X, S, scoring=scorer, cv=2)
    assert np.all(result["test_score"] < 1.0)


def test_make_identifiability_scorer_repr_and_pickle():
    assert repr(make_identifiability_scorer("mcc")) == (
        "make_identifiability_scorer('mcc')"
    )
    r2 = make_identifiability_scorer("r2", test_size=0.25)
    assert repr(r2) == "make_identifiability_scorer('r2', test_size=0.25)"
    seeded = make_identifiability_scorer("block_r2", random_state=3)
    assert "random_state=3" in repr(seeded)
    clone = pickle.loads(pickle.dumps(r2))
    assert repr(clone) == repr(r2)


def test_scorer_y_none_through_cross_validate(linear_ica_data):
    X, _ = linear_ica_data
    with pytest.raises(ValueError, match="needs the true latents as y"):
        cross_validate(_ica_pipeline(), X, scoring=mcc_scorer, error_score="raise")


S_SMALL = np.random.default_rng(1).laplace(size=(30, 2))
FITTED_PCA = PCA().fit(S_SMALL)
FITTED_REG = LinearRegression().fit(S_SMALL, S_SMALL[:, 0])

ERRORS = [
    (
        mcc_scorer,
        dict(estimator=FITTED_PCA, X=S_SMALL, y=None),
        ValueError,
        "needs the true latents as y",
    ),
    (
        r2_scorer,
        dict(estimator=FITTED_PCA, X=S_SMALL),
        ValueError,
        "needs the true latents as y",
    ),
    (
        mcc_scorer,
        dict(estimator=FITTED_REG, X=S_SMALL, y=S_SMALL),
        TypeError,
        "LinearRegression has no transform method",
    ),
    (
        mcc_scorer,
        dict(estimator=FITTED_PCA, X=S_SMALL, y=S_SMALL[:-1]),
        ValueError,
        "same number of samples",
    ),
    (
        make_identifiability_scorer,
        dict(metric="amari"),
        ValueError,
        "metric='amari' is not a known metric name",
    ),
    (
        make_identifiability_scorer,
        dict(metric=3),
        TypeError,
        "metric must be a str among .* or a callable, got int",
    ),
    (
        make_identifiability_scorer,
        dict(metric="mcc", methd="spearman"),
        TypeError,
        "do not fit metric 'mcc'",
    ),
    (
        make_identifiability_scorer(mean_corr_coef, method="kendall"),
        dict(estimator=FITTED_PCA, X=S_SMALL, y=S_SMALL),
        ValueError,
        "'method' parameter of mean_corr_coef",
    ),
    (
        make_identifiability_scorer("r2", test_size=2.0),
        dict(estimator=FITTED_PCA, X=S_SMALL, y=S_SMALL),
        ValueError,
        "'test_size' parameter of linear_r2_score",
    ),
]


@pytest.mark.parametrize(
    "func, kwargs, error, match",
    ERRORS,
    ids=[
        f"{getattr(f, '__name__', 'scorer')}-{i}" for i, (f, *_r) in enumerate(ERRORS)
    ],
)
def test_scorer_errors(func, kwargs, error, match):
    with pytest.raises(error, match=match):
        func(**kwargs)


def test_pipeline_and_grid_search_with_identifiability_scorer():
    """r2_scorer ranks encoders by recovery: the trained one wins, by a margin.

    Measured (random_state 0, 1, 2): mean held-out R² 0.985-0.987 at lr=3e-3
    against 0.33-0.54 at lr=1e-5 (barely trained); raw x scores 0.89.
    """
    from sklcm import MultimodalContrastiveEncoder
    from sklcm.datasets import make_latent_partial_causal

    X, z, info = make_latent_partial_causal(
        2000, n_latents=3, random_state=0, return_info=True
    )
    encoder = MultimodalContrastiveEncoder(
        n_components=3,
        split=info.split,
        hidden_layer_sizes=(128, 128),
        max_epochs=30,
        batch_size=128,
        random_state=0,
    )
    pipe = make_pipeline(encoder, StandardScaler())
    search = GridSearchCV(
        pipe,
        {"multimodalcontrastiveencoder__lr": [1e-5, 3e-3]},
        scoring=r2_scorer,
        cv=2,
        refit=False,
    ).fit(X, z)
    scores = search.cv_results_["mean_test_score"]
    assert search.best_params_ == {"multimodalcontrastiveencoder__lr": 3e-3}
    assert scores[1] > 0.95
    assert scores[0] < 0.6
    raw = linear_r2_score(z, X[:, : info.split])
    assert scores[1] > raw + 0.05
