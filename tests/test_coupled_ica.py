"""Tests for sklcm.CoupledLatentICA."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklcm import CoupledLatentICA
from sklcm.datasets import make_latent_partial_causal
from sklcm.metrics import amari_distance, mcc_scorer, mean_corr_coef
from sklcm.utils._param_validation import InvalidParameterError

ALGORITHMS = ["fastica", "picard"]


def _max_offdiag_corr(S):
    corr = np.corrcoef(S.T)
    return np.max(np.abs(corr - np.diag(np.diag(corr))))


def _linear_pair(n_samples=2000, n_latents=4, seed=0):
    """Linearly mixed Laplace latents; t is the SAME linear map of z_t.

    Returns ``X = [x | t]``, z_x, z_t, the true mixing matrix A of x
    (``x = z_x @ A.T``) and the dataset's info Bunch (whose own t block uses
    a different mixing).
    """
    X, z_x, info = make_latent_partial_causal(
        n_samples,
        n_latents=n_latents,
        latent_space="real",
        marginal="laplace",
        n_mixing_layers=1,
        random_state=seed,
        return_info=True,
    )
    x, t = X[:, : info.split], info.mixing_x(info.z_t)
    return np.hstack([x, t]), z_x, info.z_t, info.mixing_x.weights_[0].T, info


def _whiten(X):
    """PCA-whiten X exactly (unit covariance, ddof=0)."""
    Xc = X - X.mean(axis=0)
    eigvals, eigvecs = np.linalg.eigh(Xc.T @ Xc / len(Xc))
    return Xc @ eigvecs / np.sqrt(eigvals)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_coupled_latent_ica_recovers_linear_mixing(algorithm, global_random_seed):
    X, z_x, _, A, _ = _linear_pair(n_latents=5, seed=global_random_seed)
    ica = CoupledLatentICA(algorithm=algorithm, random_state=0)
    S = ica.fit_transform(X[:, :5])
    assert S.shape == (2000, 5)
    assert mean_corr_coef(z_x, S) >= 0.99
    # the unmixing inverts the mixing up to a scaled permutation
    assert amari_distance(ica.components_, A) < 0.05


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_coupled_latent_ica_coupled_mode_aligns_modalities(
    algorithm, global_random_seed
):
    X, z_x, z_t, _, _ = _linear_pair(seed=global_random_seed)
    ica = CoupledLatentICA(split=4, algorithm=algorithm, random_state=0)
    S = ica.fit_transform(X)
    s_x, s_t = S[:, :4], S[:, 4:]
    assert ica.components_.shape == (4, 4) and ica.mean_.shape == (8,)
    assert mean_corr_coef(z_x, s_x) >= 0.99
    assert mean_corr_coef(z_t, s_t) >= 0.99
    paired = [np.corrcoef(s_x[:, j], s_t[:, j])[0, 1] for j in range(4)]
    assert min(paired) >= 0.99  # same latent, same sign, same column
    assert_allclose(S, ica.transform(X), atol=1e-10)


def test_coupled_latent_ica_coupled_mode_per_modality_centering():
    X, z_x, z_t, _, _ = _linear_pair()
    offset = np.r_[np.full(4, 5.0), np.full(4, -3.0)]
    S = CoupledLatentICA(split=4, random_state=0).fit_transform(X + offset)
    assert_allclose(S.mean(axis=0), 0, atol=1e-10)
    assert (
        mean_corr_coef(z_x, S[:, :4]) >= 0.99 and mean_corr_coef(z_t, S[:, 4:]) >= 0.99
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("whiten", ["pca-unless-white", "pca", False])
def test_coupled_latent_ica_white_input_gives_decorrelated_output(
    algorithm, whiten, global_random_seed
):
    """Regression: FastICA's own whitening degenerates on exactly-white input."""
    X, z_x, _, _, _ = _linear_pair(seed=global_random_seed)
    for X_white in (_whiten(X[:, :4]), PCA(whiten=True).fit_transform(X[:, :4])):
        ica = CoupledLatentICA(algorithm=algorithm, whiten=whiten, random_state=0)
        S = ica.fit_transform(X_white)
        assert _max_offdiag_corr(S) < 1e-6
        assert mean_corr_coef(z_x, S) >= 0.99


def _cca_scores(X_x, X_t):
    """CCA scores of two views: whiten each, rotate by the cross-covariance SVD."""
    W_x, W_t = _whiten(X_x), _whiten(X_t)
    U, _, Vt = np.linalg.svd(W_x.T @ W_t / len(W_x))
    return W_x @ U, W_t @ Vt.T


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_coupled_latent_ica_on_cca_scores(algorithm, global_random_seed):
    """CCA scores are exactly white and share one map across the two views."""
    _, z_x, z_t, _, info = _linear_pair(seed=global_random_seed)
    c_x, c_t = _cca_scores(info.mixing_x(z_x), info.mixing_t(z_t))  # g_x != g_t
    S_plain = CoupledLatentICA(algorithm=algorithm, random_state=0).fit_transform(c_x)
    assert _max_offdiag_corr(S_plain) < 1e-6
    assert mean_corr_coef(z_x, S_plain) >= 0.99
    ica = CoupledLatentICA(split=4, algorithm=algorithm, random_state=0)
    S = ica.fit_transform(np.hstack([c_x, c_t]))
    assert _max_offdiag_corr(np.vstack([S[:, :4], S[:, 4:]])) < 1e-6
    assert mean_corr_coef(z_x, S[:, :4]) >= 0.99
    assert mean_corr_coef(z_t, S[:, 4:]) >= 0.99


def test_coupled_latent_ica_pca_components_on_embedding(global_random_seed):
    rng = np.random.RandomState(global_random_seed)
    z = rng.laplace(size=(2000, 5))
    X = z @ rng.normal(size=(50, 5)).T + 0.01 * rng.normal(size=(2000, 50))
    ica = CoupledLatentICA(pca_components=5, random_state=0)
    S = ica.fit_transform(X)
    assert ica.n_components_ == 5
    assert ica.components_.shape == (5, 50) and ica.mixing_.shape == (50, 5)
    assert ica.whitening_.shape == (5, 50)
    assert mean_corr_coef(z, S) >= 0.99


def _hidden_sources(n_samples=4000, seed=0):
    """Two Laplace sources hidden below two louder Gaussian directions.

    Returns X of 4 columns (an orthogonal mix of [gauss * 3, laplace]) and the
    two Laplace sources: they span the trailing principal directions only.
    """
    rng = np.random.RandomState(seed)
    laplace = rng.laplace(size=(n_samples, 2)) / np.sqrt(2.0)
    gauss = 3.0 * rng.normal(size=(n_samples, 2))
    rotation = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    return np.hstack([gauss, laplace]) @ rotation.T, laplace


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_coupled_latent_ica_pca_components_keeps_the_most_non_gaussian(algorithm):
    """ICA runs in the pca_components space, then keeps n_components of it."""
    X, laplace = _hidden_sources()
    params = dict(algorithm=algorithm, random_state=0)
    ica = CoupledLatentICA(n_components=2, pca_components=4, **params)
    S = ica.fit_transform(X)
    assert S.shape == (4000, 2) and ica.components_.shape == (2, 4)
    assert ica.whitening_.shape == (4, 4) and ica.mixing_.shape == (4, 2)
    assert mean_corr_coef(laplace, S) >= 0.98
    assert_allclose(ica.transform(X), S, atol=1e-10)
    # without pca_components the whitening keeps the 2 loud Gaussian directions
    narrow = CoupledLatentICA(n_components=2, **params).fit(X)
    assert narrow.whitening_.shape == (2, 4)
    assert mean_corr_coef(laplace, narrow.transform(X)) < 0.2


def test_coupled_latent_ica_whiten_false_keeps_the_most_non_gaussian():
    X, laplace = _hidden_sources()
    X_white = _whiten(X)
    ica = CoupledLatentICA(n_components=2, whiten=False, random_state=0)
    S = ica.fit_transform(X_white)
    assert S.shape == (4000, 2) and ica.whitening_.shape == (4, 4)
    assert mean_corr_coef(laplace, S) >= 0.98


def test_coupled_latent_ica_is_deterministic():
    X = _linear_pair()[0]
    S1 = CoupledLatentICA(split=4, random_state=3).fit_transform(X)
    S2 = CoupledLatentICA(split=4, random_state=3).fit_transform(X)
    assert_array_equal(S1, S2)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("split", [None, 4])
def test_coupled_latent_ica_convention_ignores_column_order(algorithm, split):
    X = _linear_pair()[0]
    perm = np.array([2, 0, 3, 1])
    X_perm = X[:, np.r_[perm, perm + 4]] if split else X[:, perm]
    X = X if split else X[:, :4]
    params = dict(split=split, algorithm=algorithm, random_state=0)
    ica, ica_perm = CoupledLatentICA(**params), CoupledLatentICA(**params)
    assert_allclose(ica.fit_transform(X), ica_perm.fit_transform(X_perm), atol=1e-8)
    assert_allclose(ica.components_[:, perm], ica_perm.components_, atol=1e-8)


def test_coupled_latent_ica_sign_and_order_convention():
    ica = CoupledLatentICA(split=4, random_state=0).fit(_linear_pair()[0])
    assert np.all(np.diff(ica.negentropy_) <= 0)
    rows = np.argmax(np.abs(ica.mixing_), axis=0)
    assert np.all(ica.mixing_[rows, np.arange(4)] > 0)


@pytest.mark.parametrize("split", [None, 4])
def test_coupled_latent_ica_inverse_transform_roundtrip(split):
    X = _linear_pair()[0]
    X = X if split else X[:, :4]
    ica = CoupledLatentICA(split=split, random_state=0).fit(X)
    assert_allclose(ica.inverse_transform(ica.transform(X)), X, atol=1e-8)
    with pytest.raises(ValueError, match="outputs"):
        ica.inverse_transform(np.zeros((3, 5)))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_coupled_latent_ica_warns_on_non_convergence(algorithm):
    X = _linear_pair()[0]
    ica = CoupledLatentICA(algorithm=algorithm, max_iter=1, tol=1e-12, random_state=0)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        ica.fit(X[:, :4])
    assert ica.n_iter_ == 1


def test_coupled_latent_ica_n_iter_and_single_component():
    X = _linear_pair()[0][:, :4]
    assert CoupledLatentICA(random_state=0).fit(X).n_iter_ >= 1
    ica = CoupledLatentICA(n_components=1, random_state=0).fit(X)
    assert ica.n_iter_ == 0 and ica.transform(X).shape == (2000, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_coupled_latent_ica_preserves_dtype(dtype):
    X = _linear_pair()[0].astype(dtype)
    ica = CoupledLatentICA(split=4, random_state=0)
    assert ica.fit_transform(X).dtype == dtype
    assert ica.transform(X).dtype == dtype
    assert ica.inverse_transform(ica.transform(X)).dtype == dtype


def test_coupled_latent_ica_pickle_clone_pipeline():
    X = _linear_pair()[0]
    ica = CoupledLatentICA(split=4, random_state=0).fit(X)
    restored = pickle.loads(pickle.dumps(ica))
    assert_array_equal(restored.transform(X), ica.transform(X))
    cloned = clone(ica)
    assert cloned.get_params() == ica.get_params()
    assert not hasattr(cloned, "components_")
    pipe = make_pipeline(StandardScaler(), CoupledLatentICA(split=4, random_state=0))
    assert pipe.fit_transform(X).shape == (2000, 8)


def test_coupled_latent_ica_grid_search_with_mcc_scorer():
    X, z_x, _, _, _ = _linear_pair()
    search = GridSearchCV(
        make_pipeline(StandardScaler(), CoupledLatentICA(split=4, random_state=0)),
        {"coupledlatentica__algorithm": ALGORITHMS},
        scoring=mcc_scorer,
        cv=2,
    ).fit(X, z_x)
    assert search.best_score_ >= 0.99
    assert search.cv_results_["mean_test_score"].min() >= 0.99


def test_coupled_latent_ica_set_output_in_coupled_mode():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(_linear_pair()[0], columns=[f"f{i}" for i in range(8)])
    ica = CoupledLatentICA(split=4, random_state=0).set_output(transform="pandas")
    out = ica.fit_transform(X)
    assert list(out.columns) == [f"coupledlatentica{i}" for i in range(8)]
    assert_array_equal(ica.feature_names_in_, X.columns)


def _bad_inputs():
    rng = np.random.RandomState(0)
    X6 = rng.laplace(size=(50, 6))
    rank2 = X6[:, :2] @ rng.normal(size=(2, 6))
    constant = X6.copy()
    constant[:, 4] = 1.0
    nan, inf = X6.copy(), X6.copy()
    nan[0, 0], inf[0, 0] = np.nan, np.inf
    return [
        ({"split": 6}, X6, ValueError, "leaves a modality empty"),
        ({"split": 9}, X6, ValueError, "leaves a modality empty"),
        ({"split": 2}, X6, ValueError, "odd widths in coupled mode that cannot pair"),
        ({"split": 0}, X6, InvalidParameterError, "'split' parameter"),
        ({"n_components": 7}, X6, ValueError, "exceeds the number of features"),
        ({"split": 3, "n_components": 4}, X6, ValueError, "per modality"),
        ({"n_components": 3}, rank2, ValueError, "exceeds the rank 2"),
        ({}, rank2, ValueError, "exceeds the rank 2"),
        ({"n_components": 4}, X6[:3], ValueError, "exceeds the rank 2"),
        ({"pca_components": 2, "n_components": 3}, X6, ValueError, "pca_components"),
        ({"pca_components": 7}, X6, ValueError, "pca_components=7 exceeds"),
        ({"pca_components": 3}, rank2, ValueError, "pca_components=3 exceeds the rank"),
        ({"whiten": False, "pca_components": 2}, X6, ValueError, "needs the PCA"),
        ({}, constant, ValueError, r"constant column\(s\) \[4\]"),
        ({}, nan, ValueError, "Input X contains NaN"),
        ({}, inf, ValueError, "Input X contains infinity"),
        ({}, X6[:1], ValueError, "1 sample"),
        ({"algorithm": "jade"}, X6, InvalidParameterError, "'algorithm' parameter"),
        ({"whiten": "yes"}, X6, InvalidParameterError, "'whiten' parameter"),
        ({"whiten": "auto"}, X6, InvalidParameterError, "'pca-unless-white'"),
        ({"whiten": True}, X6, InvalidParameterError, "'whiten' parameter"),
        ({"tol": 0.0}, X6, InvalidParameterError, "'tol' parameter"),
        ({"algorithm": "picard"}, X6, ImportError, r"pip install -e \"\.\[ica\]\""),
    ]


@pytest.mark.parametrize("params, X, error, match", _bad_inputs())
def test_coupled_latent_ica_bad_input(params, X, error, match, monkeypatch):
    monkeypatch.setitem(sys.modules, "picard", None)  # as if not installed
    with pytest.raises(error, match=match):
        CoupledLatentICA(**params, random_state=0).fit(X)


def test_coupled_latent_ica_transform_checks_width():
    ica = CoupledLatentICA(random_state=0).fit(_linear_pair()[0][:, :4])
    with pytest.raises(ValueError, match="expecting 4 features"):
        ica.transform(np.zeros((3, 5)))


def test_coupled_latent_ica_negentropy_measure():
    from sklcm._coupled_ica import _negentropy

    rng = np.random.RandomState(0)
    S = np.column_stack(
        [rng.normal(size=10**5), rng.laplace(size=10**5), rng.uniform(size=10**5)]
    )
    J = _negentropy(3.0 * (S - S.mean(axis=0)))  # scale-invariant
    assert J[0] < 1e-5 and J[1] > 1e-3 and J[2] > 1e-3


def test_coupled_latent_ica_docstring_lists_fitted_attributes():
    ica = CoupledLatentICA(split=4, random_state=0).fit(_linear_pair()[0])
    fitted = {a for a in vars(ica) if a.endswith("_") and not a.startswith("_")}
    doc = CoupledLatentICA.__doc__.split("Attributes")[1].split("See Also")[0]
    documented = {line.split(" : ")[0].strip() for line in doc.splitlines()}
    assert fitted <= documented
    assert "feature_names_in_" in documented


def test_coupled_latent_ica_does_not_import_torch():
    code = "import sys, sklcm._coupled_ica; assert 'torch' not in sys.modules"
    with warnings.catch_warnings():
        subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "method",
    [None, "fit", "fit_transform", "transform", "inverse_transform"],
)
def test_coupled_latent_ica_numpydoc(method):
    validate = pytest.importorskip("numpydoc.validate").validate
    name = "sklcm._coupled_ica.CoupledLatentICA" + (f".{method}" if method else "")
    ignored = {"GL08", "SA01", "ES01", "EX01", "SS05", "RT02", "GL02"}
    errors = [e for e in validate(name)["errors"] if e[0] not in ignored]
    assert not errors


# ---------------------------------------------------------------- K views
def _linear_views(n_views=3, n_samples=2000, n_latents=4, seed=0):
    """K views: the SAME linear map of K noisy copies of Laplace latents."""
    rng = np.random.default_rng(seed)
    z = rng.laplace(size=(n_samples, n_latents))
    A = rng.normal(size=(n_latents, n_latents))
    zs = [z + (0.05 * rng.normal(size=z.shape) if k else 0) for k in range(n_views)]
    return np.hstack([zk @ A.T for zk in zs]), z, A


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_coupled_latent_ica_k_views_share_one_unmixing(algorithm):
    X, z, A = _linear_views(n_views=3)
    ica = CoupledLatentICA(split=[4, 4, 4], algorithm=algorithm, random_state=0)
    S = ica.fit_transform(X)
    assert S.shape == (2000, 12) and ica.components_.shape == (4, 4)
    assert ica.split_ == [4, 4, 4]
    assert amari_distance(ica.components_, A) < 0.05
    for k in range(3):  # every view's sources are the latents, in one order
        assert mean_corr_coef(z, S[:, 4 * k : 4 * k + 4]) > 0.99
        corr = np.corrcoef(S[:, :4].T, S[:, 4 * k : 4 * k + 4].T)[:4, 4:]
        assert np.diag(corr).min() > 0.99  # column j is the same latent
    assert_allclose(ica.inverse_transform(S), X, atol=1e-8)
    assert len(ica.get_feature_names_out()) == 12


def test_coupled_latent_ica_list_of_two_widths_equals_int_split():
    X = _linear_pair()[0]
    S_int = CoupledLatentICA(split=4, random_state=0).fit_transform(X)
    S_list = CoupledLatentICA(split=[4, 4], random_state=0).fit_transform(X)
    assert_array_equal(S_list, S_int)


@pytest.mark.parametrize(
    "split, match",
    [
        ([4, 4], "adds up to 8 columns, but X has 12"),
        ([4, 4, 2, 2], "unequal widths, which cannot share one unmixing"),
        ([12], "at least 2 view widths"),
    ],
)
def test_coupled_latent_ica_k_view_split_errors(split, match):
    X = _linear_views(n_views=3)[0]
    with pytest.raises(ValueError, match=match):
        CoupledLatentICA(split=split).fit(X)
