"""Tests for the disentanglement metrics (DCI, MIG, SAP) and their scorers."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.decomposition import PCA, FastICA
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklcm.metrics import (
    disentanglement_completeness_informativeness,
    make_identifiability_scorer,
    mig_score,
    mig_scorer,
    sap_score,
    sap_scorer,
)
from sklcm.metrics._disentanglement import _dci_from_importances

dci = disentanglement_completeness_informativeness
N_FACTORS = 4


def _h(*p, base):
    """Entropy of the distribution ``p`` with logarithms in ``base``."""
    return -sum(q * math.log(q, base) for q in p if q > 0)


@pytest.fixture(scope="module")
def factors():
    return np.random.default_rng(0).uniform(-1, 1, size=(2000, N_FACTORS))


def _permuted_scaled(z, rng):
    perm = rng.permutation(z.shape[1])
    return z[:, perm] * rng.choice([-3.0, 0.5, 2.0], size=z.shape[1]) + 1.0


# ------------------------------------------------------- DCI from importances
@pytest.mark.parametrize(
    "R, expected",
    [
        # one code per factor
        (np.eye(3), (1.0, 1.0)),
        # one code important for all three factors equally; each factor is
        # captured by that single code
        (np.ones((1, 3)), (0.0, 1.0)),
        # two codes for factor 0 (equal shares), one for factor 1: D = 1,
        # factor 0 has completeness 1 - H_3(1/2, 1/2)
        (
            np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]),
            (1.0, (1 - _h(0.5, 0.5, base=3) + 1) / 2),
        ),
        # code 0 only factor 0 (weight 3/5), code 1 both equally (weight 2/5,
        # 1 - H_2 = 0); factor 0 spread 3:1 over the codes, factor 1 on one
        (
            np.array([[3.0, 0.0], [1.0, 1.0]]),
            (3 / 5, (1 - _h(3 / 4, 1 / 4, base=2) + 1) / 2),
        ),
        # an unused code has weight 0; a factor no code explains: C_j = 0
        (np.array([[1.0, 0.0], [0.0, 0.0]]), (1.0, 0.5)),
        (np.zeros((2, 2)), (0.0, 0.0)),
    ],
)
def test_dci_from_importances_hand_computed(R, expected):
    assert_allclose(_dci_from_importances(R), expected, atol=1e-12)


# ---------------------------------------------------------------- DCI
@pytest.mark.parametrize("regressor, tol", [("lasso", 1e-9), ("random_forest", 1e-3)])
def test_dci_permuted_scaled_code_is_perfect(factors, regressor, tol):
    z_pred = _permuted_scaled(factors, np.random.default_rng(1))
    result = dci(factors, z_pred, regressor=regressor)
    assert result.disentanglement == pytest.approx(1.0, abs=tol)
    assert result.completeness == pytest.approx(1.0, abs=tol)
    assert result.informativeness > 0.999
    assert result.importances.shape == (N_FACTORS, N_FACTORS)


@pytest.mark.parametrize("regressor", ["random_forest", "lasso"])
def test_dci_one_code_mixing_all_factors_is_not_disentangled(factors, regressor):
    rng = np.random.default_rng(1)
    z_pred = np.c_[factors.sum(axis=1), rng.normal(size=(len(factors), 2))]
    result = dci(factors, z_pred, regressor=regressor)
    # the mixing code carries most importance, spread over the factors
    assert result.disentanglement < 0.1
    assert np.argmax(result.importances.sum(axis=1)) == 0


@pytest.mark.parametrize("regressor", ["random_forest", "lasso"])
def test_dci_duplicated_code_lowers_completeness_not_disentanglement(
    factors, regressor
):
    rng = np.random.default_rng(1)
    noisy = factors + 0.1 * rng.normal(size=factors.shape)
    twin = factors[:, 0] + 0.1 * rng.normal(size=len(factors))
    single = dci(factors, noisy, regressor=regressor)
    double = dci(factors, np.c_[noisy, twin], regressor=regressor)
    assert double.disentanglement > single.disentanglement - 0.01
    assert double.completeness < single.completeness - 0.05


def test_dci_duplicated_code_completeness_hand_computed(factors):
    rng = np.random.default_rng(1)
    noisy = factors + 0.1 * rng.normal(size=factors.shape)
    twin = factors[:, 0] + 0.1 * rng.normal(size=len(factors))
    result = dci(factors, np.c_[noisy, twin], regressor="lasso")
    # the lasso splits factor 0 about equally between the twins: its
    # completeness is about 1 - H_5(1/2, 1/2); the other factors' is 1
    expected = (1 - _h(0.5, 0.5, base=N_FACTORS + 1) + N_FACTORS - 1) / N_FACTORS
    assert result.disentanglement == pytest.approx(1.0, abs=1e-9)
    assert result.completeness == pytest.approx(expected, abs=0.02)


@pytest.mark.parametrize(
    "regressor, min_informativeness", [("random_forest", 0.95), ("lasso", 0.999)]
)
def test_dci_rotated_code_is_informative_but_entangled(
    factors, regressor, min_informativeness
):
    rng = np.random.default_rng(1)
    rotation = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    aligned = dci(factors, _permuted_scaled(factors, rng), regressor=regressor)
    rotated = dci(factors, factors @ rotation, regressor=regressor)
    assert rotated.informativeness > min_informativeness
    assert rotated.disentanglement < min(0.6, aligned.disentanglement - 0.3)
    assert rotated.completeness < min(0.6, aligned.completeness - 0.3)


def test_dci_random_code_is_uninformative(factors):
    noise = np.random.default_rng(1).normal(size=factors.shape)
    for regressor in ("lasso", "random_forest"):
        assert abs(dci(factors, noise, regressor=regressor).informativeness) < 0.1
    # forest importances of noise spread evenly: nothing disentangled
    assert dci(factors, noise, regressor="random_forest").disentanglement < 0.1


def test_dci_informativeness_is_held_out_r2(factors):
    # a code holding factor 0 only explains 1/4 of the (equal) factor variances
    rng = np.random.default_rng(1)
    z_pred = np.c_[factors[:, 0], rng.normal(size=len(factors))]
    result = dci(factors, z_pred, regressor="lasso", test_size=0.3)
    assert result.informativeness == pytest.approx(0.25, abs=0.01)


def test_dci_forest_is_seeded(factors):
    z_pred = np.tanh(2 * factors) + 0.3 * np.random.default_rng(1).normal(
        size=factors.shape
    )
    first = dci(factors, z_pred, regressor="random_forest", random_state=3)
    again = dci(factors, z_pred, regressor="random_forest", random_state=3)
    other = dci(factors, z_pred, regressor="random_forest", random_state=4)
    assert_allclose(first.importances, again.importances, rtol=0, atol=0)
    assert not np.allclose(first.importances, other.importances, rtol=0, atol=0)


# ---------------------------------------------------------------- MIG
def test_mig_hand_computed_discrete_example():
    f1 = np.array([0, 0, 1, 1])
    f2 = np.array([0, 1, 0, 1])
    # c1 = f1 (scaled), c2 = f1 AND f2, c3 = f2
    z_pred = np.c_[3 * f1 + 1, f1 * f2, -f2]
    # I(c2; f1) = 1/2 ln(4/3) + 1/4 ln(2/3) + 1/4 ln 2 = 3/2 ln 2 - 3/4 ln 3,
    # and the same for f2; I(c1; f1) = I(c3; f2) = H = ln 2; I(c1; f2) = 0.
    runner_up = 1.5 * math.log(2) - 0.75 * math.log(3)
    expected = 1 - runner_up / math.log(2)  # the same gap for both factors
    assert mig_score(np.c_[f1, f2], z_pred) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "n_bins, expected",
    [
        # 20 equal-width bins of 0..99 hold 5 consecutive integers: 3 of one
        # parity and 2 of the other, so I = ln 2 - H(3/5, 2/5)
        (20, 1 - _h(0.6, 0.4, base=2)),
        # 50 bins hold 2 consecutive integers: parity is independent of the bin
        (50, 0.0),
        # 100 distinct values fit in 100 bins: kept as categories, I = H
        (100, 1.0),
    ],
)
def test_mig_discretises_codes_into_equal_width_bins(n_bins, expected):
    code = np.arange(100.0)
    parity = np.arange(100) % 2
    assert mig_score(parity, code, n_bins=n_bins) == pytest.approx(expected, abs=1e-12)


def test_mig_is_high_for_a_permuted_code_and_low_for_a_rotated_or_random_one(factors):
    rng = np.random.default_rng(1)
    rotation = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    assert mig_score(factors, _permuted_scaled(factors, rng)) > 0.9
    assert mig_score(factors, factors @ rotation) < 0.3
    assert mig_score(factors, rng.normal(size=factors.shape)) < 0.05


# ---------------------------------------------------------------- SAP
def test_sap_hand_computed_example():
    z_true = np.array([[1.0, 1.0], [2.0, -1.0], [3.0, -1.0], [4.0, 1.0]])
    z_pred = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 4.0], [4.0, 3.0]])
    # centred: factor 0 = code 0 = (-1.5, -0.5, 0.5, 1.5), code 1 =
    # (-1.5, -0.5, 1.5, 0.5), factor 1 = (1, -1, -1, 1).
    # factor 0: corr² with code 0 is 1, with code 1 (4 / 5)² -> gap 0.36
    # factor 1: corr² with code 0 is 0, with code 1 (-2 / (2 √5))² = 0.2
    assert sap_score(z_true, z_pred) == pytest.approx((0.36 + 0.2) / 2, abs=1e-12)


def test_sap_is_high_for_a_permuted_code_and_low_for_a_rotated_or_random_one(factors):
    rng = np.random.default_rng(1)
    rotation = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    # the runner-up's corr² with an independent factor is about 1 / n_samples
    assert sap_score(factors, _permuted_scaled(factors, rng)) > 0.99
    assert sap_score(factors, factors @ rotation) < 0.5
    assert sap_score(factors, rng.normal(size=factors.shape)) < 0.05


# ------------------------------------------------- shared behaviour and errors
def _dci_scores(z_true, z_pred):
    # the lasso's solution does not depend on the order of the codes; a
    # forest's random feature order does
    result = dci(z_true, z_pred, regressor="lasso")
    return [result.disentanglement, result.completeness, result.informativeness]


@pytest.mark.parametrize("metric", [_dci_scores, mig_score, sap_score])
def test_scores_do_not_depend_on_the_order_of_the_codes(factors, metric):
    rng = np.random.default_rng(1)
    z_pred = factors @ (np.eye(4) + 0.3 * rng.normal(size=(4, 4)))
    z_pred = np.c_[z_pred, rng.normal(size=len(factors))]
    perm = rng.permutation(z_pred.shape[1])
    assert_allclose(
        metric(factors, z_pred[:, perm]), metric(factors, z_pred), atol=1e-8
    )


def test_dci_importances_follow_the_codes(factors):
    z_pred = _permuted_scaled(factors, np.random.default_rng(1))
    perm = np.array([2, 0, 3, 1])
    assert_allclose(
        dci(factors, z_pred[:, perm], regressor="lasso").importances,
        dci(factors, z_pred, regressor="lasso").importances[perm],
    )


Z = np.random.default_rng(0).normal(size=(20, 2))
Z_CONSTANT = np.c_[Z[:, 0], np.ones(20)]


@pytest.mark.parametrize("func", [dci, mig_score, sap_score])
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(z_true=Z_CONSTANT, z_pred=Z), r"z_true column\(s\) \[1\] are constant"),
        (dict(z_true=Z, z_pred=Z[:-1]), "same number of samples"),
        (dict(z_true=Z, z_pred=np.where(Z > 1, np.nan, Z)), "z_pred.*NaN"),
    ],
)
def test_invalid_inputs_raise(func, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(**kwargs)


@pytest.mark.parametrize(
    "func, kwargs, match",
    [
        (dci, dict(regressor="forest"), "'regressor' parameter"),
        (dci, dict(alpha=0.0), "'alpha' parameter"),
        (dci, dict(test_size=1.0), "'test_size' parameter"),
        (mig_score, dict(n_bins=1), "'n_bins' parameter"),
    ],
)
def test_invalid_parameters_raise(func, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(Z, Z, **kwargs)


def test_dci_refuses_a_split_too_small():
    with pytest.raises(ValueError, match="test_size=0.5 with n_samples=3"):
        dci(Z[:3], Z[:3])


# ---------------------------------------------------------------- scorers
@pytest.fixture(scope="module")
def linear_ica_data():
    rng = np.random.default_rng(0)
    S = rng.laplace(size=(1500, 3))
    return S @ rng.normal(size=(3, 3)), S


@pytest.mark.parametrize(
    "scoring",
    [
        mig_scorer,
        sap_scorer,
        make_identifiability_scorer("dci_disentanglement"),
        make_identifiability_scorer("dci_completeness", regressor="lasso"),
    ],
)
def test_scorers_select_ica_over_pca_in_grid_search(linear_ica_data, scoring):
    # ICA recovers the independent sources, PCA only a rotation of them
    X, S = linear_ica_data
    pipe = Pipeline([("scale", StandardScaler()), ("reduce", PCA())])
    candidates = [PCA(), FastICA(whiten="unit-variance", random_state=0)]
    search = GridSearchCV(pipe, {"reduce": candidates}, scoring=scoring, cv=2)
    search.fit(X, S)
    assert isinstance(search.best_params_["reduce"], FastICA)
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > 0.8 and scores[0] < scores[1] - 0.2


def test_dci_informativeness_scorer_matches_the_metric(linear_ica_data):
    X, S = linear_ica_data
    pca = PCA().fit(X)
    scorer = make_identifiability_scorer("dci_informativeness", test_size=0.3)
    assert (
        repr(scorer)
        == "make_identifiability_scorer('dci_informativeness', test_size=0.3)"
    )
    expected = dci(S, pca.transform(X), test_size=0.3).informativeness
    assert scorer(pca, X, S) == expected
    with pytest.raises(TypeError, match="do not fit metric 'dci_completeness'"):
        make_identifiability_scorer("dci_completeness", n_bins=3)
