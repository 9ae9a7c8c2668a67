"""Tests for the identifiability metrics in sklcm.metrics."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from sklcm.metrics import (
    amari_distance,
    block_r2_score,
    linear_r2_score,
    mean_corr_coef,
)

Z = np.random.default_rng(0).normal(size=(20, 2))
Z_NAN = Z.copy()
Z_NAN[3, 1] = np.nan
Z_INF = Z.copy()
Z_INF[0, 0] = np.inf
PAIR_FUNCS = [mean_corr_coef, linear_r2_score, block_r2_score]


def _scaled_permutation(rng, n):
    perm = np.eye(n)[rng.permutation(n)]
    signs = rng.choice([-1.0, 1.0], size=n)
    return perm * (signs * rng.uniform(0.5, 3.0, size=n))


def test_metrics_do_not_import_torch():
    code = "import sklcm.metrics, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------- errors
def _pair_errors():
    for func in PAIR_FUNCS:
        yield func, dict(z_true=Z_NAN, z_pred=Z), ValueError, "z_true.*NaN"
        yield func, dict(z_true=Z, z_pred=Z_INF), ValueError, "z_pred.*infinity"
        yield func, dict(z_true=Z, z_pred=Z[:-1]), ValueError, "same number of samp"
        yield func, dict(z_true=Z[:1], z_pred=Z[:1]), ValueError, "minimum of 2"
        yield func, dict(z_true=Z[:0], z_pred=Z[:0]), ValueError, "minimum of 2"
    for func in (linear_r2_score, block_r2_score):
        for bad in (0.0, 1.0, 1.5, -0.1, "half"):
            yield (
                func,
                dict(z_true=Z, z_pred=Z, test_size=bad),
                ValueError,
                "'test_size' parameter",
            )
        yield func, dict(z_true=Z[:3], z_pred=Z[:3]), ValueError, "test_size=0.5 with"
        yield (
            func,
            dict(z_true=Z, z_pred=Z, random_state="x"),
            ValueError,
            "'random_state'",
        )


ERRORS = [
    *_pair_errors(),
    (
        mean_corr_coef,
        dict(z_true=Z, z_pred=Z, method="kendall"),
        ValueError,
        "'method' parameter of mean_corr_coef",
    ),
    (
        block_r2_score,
        dict(z_true=Z, z_pred=Z, regressor="tree"),
        ValueError,
        "'regressor' parameter of block_r2_score",
    ),
    (
        block_r2_score,
        dict(z_true=Z, z_pred=Z, regressor="kernel", alpha=0.0),
        ValueError,
        "'alpha' parameter",
    ),
    (
        block_r2_score,
        dict(z_true=Z, z_pred=Z, regressor="kernel", gamma=-1.0),
        ValueError,
        "'gamma' parameter",
    ),
    (
        block_r2_score,
        dict(z_true=Z, z_pred=Z, regressor="kernel", cv=1),
        ValueError,
        "'cv' parameter",
    ),
    (
        block_r2_score,
        dict(z_true=Z, z_pred=Z, regressor="kernel", cv=11),
        ValueError,
        "cv=11 folds need at least 11 training rows",
    ),
    (
        block_r2_score,
        dict(z_true=Z, z_pred=Z, max_train_samples=1),
        ValueError,
        "'max_train_samples' parameter",
    ),
    (
        mean_corr_coef,
        dict(z_true=np.array([["a"], ["b"]]), z_pred=Z[:2]),
        ValueError,
        "could not convert",
    ),
    (mean_corr_coef, dict(z_true=None, z_pred=Z), ValueError, "'z_true' parameter"),
    (
        amari_distance,
        dict(W=np.eye(2), A=np.ones((2, 3))),
        ValueError,
        r"A must be a square matrix, got shape \(2, 3\)",
    ),
    (
        amari_distance,
        dict(W=np.ones((3, 2)), A=np.eye(2)),
        ValueError,
        "W must be a square matrix",
    ),
    (
        amari_distance,
        dict(W=np.eye(3), A=np.eye(2)),
        ValueError,
        r"same shape, got \(3, 3\) and \(2, 2\)",
    ),
    (
        amari_distance,
        dict(W=np.eye(2), A=np.array([[1.0, np.nan], [0, 1]])),
        ValueError,
        "A.*NaN",
    ),
    (
        amari_distance,
        dict(W=np.eye(2), A=np.array([[1.0, 1], [0, 0]])),
        ValueError,
        "all-zero row or column",
    ),
    (amari_distance, dict(W=np.ones(3), A=np.eye(3)), ValueError, "Expected 2D array"),
]


@pytest.mark.parametrize(
    "func, kwargs, error, match",
    ERRORS,
    ids=[f"{f.__name__}-{i}" for i, (f, *_rest) in enumerate(ERRORS)],
)
def test_metric_errors(func, kwargs, error, match):
    with pytest.raises(error, match=match):
        func(**kwargs)


# ------------------------------------------------------------------------ MCC
def test_mean_corr_coef_scaled_permuted_sign_flipped_copy(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    z = rng.laplace(size=(300, 5))
    z_pred = z @ _scaled_permutation(rng, 5).T + rng.normal(size=5)
    for method in ("pearson", "spearman"):
        assert mean_corr_coef(z, z_pred, method=method) == pytest.approx(1.0)


def test_mean_corr_coef_independent_noise_is_small(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    n_samples = 2000
    mcc = mean_corr_coef(
        rng.normal(size=(n_samples, 3)), rng.normal(size=(n_samples, 3))
    )
    # each |corr| is ~ N(0, 1/n); the best matching of 9 stays below 5 sigma
    assert 0.0 <= mcc < 5 / np.sqrt(n_samples)


def test_mean_corr_coef_known_value():
    a = np.array([1.0, -1.0, 1.0, -1.0])
    b = np.array([1.0, 1.0, -1.0, -1.0])
    c = np.array([1.0, -1.0, -1.0, 1.0])  # a, b, c: centred and orthogonal
    z_true = np.c_[a, b]
    z_pred = np.c_[b, a + c]  # corr(a, a + c) = 1/sqrt(2), corr(b, a + c) = 0
    expected = (1.0 + 1.0 / np.sqrt(2.0)) / 2.0
    assert mean_corr_coef(z_true, z_pred) == pytest.approx(expected)


def test_mean_corr_coef_spearman_monotone_invariance(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    z = rng.normal(size=(500, 2))
    z_pred = np.c_[np.exp(3.0 * z[:, 0]), z[:, 1]]
    assert mean_corr_coef(z, z_pred, method="spearman") == pytest.approx(1.0)
    assert mean_corr_coef(z, z_pred, method="pearson") < 0.9


def test_mean_corr_coef_unequal_widths(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    z = rng.laplace(size=(400, 3))
    noise = rng.normal(size=(400, 4))
    # more predicted components: extra ones are ignored
    wide = np.c_[noise[:, :2], z[:, [2, 0, 1]], noise[:, 2:]]
    assert mean_corr_coef(z, wide) == pytest.approx(1.0)
    # fewer predicted components: unmatched true components count as 0
    assert mean_corr_coef(z, z[:, :2]) == pytest.approx(2.0 / 3.0)
    # 1-D inputs are one component
    assert mean_corr_coef(z[:, 0], -z[:, 0]) == pytest.approx(1.0)


def test_mean_corr_coef_constant_columns_give_zero():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 2))
    z_pred = np.c_[z[:, 0], np.full(50, 0.1)]
    with np.errstate(all="raise"):
        for method in ("pearson", "spearman"):
            assert mean_corr_coef(z, z_pred, method=method) == pytest.approx(0.5)
            assert mean_corr_coef(np.ones((50, 1)), z, method=method) == 0.0


# ------------------------------------------------------------------------- R2
def test_linear_r2_score_invertible_linear_map(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    z = rng.normal(size=(200, 4))
    z_pred = z @ rng.normal(size=(4, 4)) + 3.0
    assert linear_r2_score(z, z_pred, random_state=0) == pytest.approx(1.0)


def test_linear_r2_score_is_held_out(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    n_samples = 200
    z = rng.normal(size=(n_samples, 2))
    noise = rng.normal(size=(n_samples, n_samples // 2 - 5))
    half = slice(n_samples // 2)  # as many rows as linear_r2_score trains on
    in_sample = LinearRegression().fit(noise[half], z[half]).score(noise[half], z[half])
    assert in_sample > 0.9
    assert linear_r2_score(z, noise, random_state=0) < 0.1


def test_linear_r2_score_random_state_determinism():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(100, 2))
    z_pred = z + rng.normal(size=(100, 2))
    first = linear_r2_score(z, z_pred, random_state=3)
    assert linear_r2_score(z, z_pred, random_state=3) == first
    assert linear_r2_score(
        z, z_pred, random_state=np.random.RandomState(3)
    ) == pytest.approx(first)
    assert linear_r2_score(z, z_pred, random_state=4) != first


@pytest.mark.parametrize("func", [linear_r2_score, block_r2_score])
def test_split_metrics_are_deterministic_by_default(func):
    """Like scikit-learn metrics: same inputs, same score, global RNG untouched."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(100, 2))
    z_pred = z + rng.normal(size=(100, 2))
    np.random.seed(0)  # noqa: NPY002 - the global state must stay untouched
    first = func(z, z_pred)
    assert np.random.randint(2**31) == np.random.RandomState(0).randint(2**31)  # noqa: NPY002
    np.random.seed(1)  # noqa: NPY002
    assert func(z, z_pred) == first
    assert func(z, z_pred, random_state=0) == first


def test_linear_r2_score_partial_recovery():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(1000, 2))
    # the second true component is not in the representation at all
    r2 = linear_r2_score(z, z[:, :1], random_state=0)
    assert r2 == pytest.approx(0.5, abs=0.02)


# ---------------------------------------------------------------------- Amari
def test_amari_distance_zero_for_scaled_permutation(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    A = rng.normal(size=(5, 5))
    W = _scaled_permutation(rng, 5) @ np.linalg.inv(A)
    assert amari_distance(W, A) == pytest.approx(0.0, abs=1e-10)
    assert amari_distance([[2.0]], [[-3.0]]) == 0.0


def test_amari_distance_positive_and_bounded(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    A = rng.normal(size=(4, 4))
    assert 0.0 < amari_distance(np.eye(4), A) < 1.0
    assert amari_distance(np.eye(3), np.ones((3, 3)) + 0 * np.eye(3)) == 1.0


def test_amari_distance_matches_picard(global_random_seed):
    picard = pytest.importorskip("picard")
    rng = np.random.default_rng(global_random_seed)
    n = 4
    W, A = rng.normal(size=(n, n)), rng.normal(size=(n, n))
    ref = picard.amari_distance(np.sqrt(np.abs(W @ A)), np.eye(n)) / (n - 1)
    assert amari_distance(W, A) == pytest.approx(ref)


# ------------------------------------------------------------------- block R2
def test_block_r2_score_kernel_beats_linear_on_nonlinear_map(global_random_seed):
    rng = np.random.default_rng(global_random_seed)
    z = rng.uniform(-1, 1, size=(400, 2))
    z_pred = np.c_[z[:, 0] ** 3, np.tanh(3.0 * z[:, 1])]
    linear = block_r2_score(z, z_pred, random_state=0)
    kernel = block_r2_score(z, z_pred, regressor="kernel", random_state=0)
    assert kernel > 0.95  # measured 0.97-0.98 over seeds 0-5
    assert kernel > linear + 0.05  # linear measured 0.87-0.89


def test_block_r2_score_linear_equals_linear_r2_score():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(120, 3))
    z_pred = np.c_[z[:, :2] @ rng.normal(size=(2, 2)), rng.normal(size=120)]
    expected = linear_r2_score(z[:, :2], z_pred, test_size=0.3, random_state=1)
    got = block_r2_score(z[:, :2], z_pred, test_size=0.3, random_state=1)
    assert got == expected


def test_block_r2_score_kernel_fixed_params_and_subsample():
    rng = np.random.default_rng(0)
    z = rng.uniform(-1, 1, size=(300, 1))
    z_pred = z**3
    kwargs = dict(regressor="kernel", random_state=0)
    full = block_r2_score(z, z_pred, alpha=1e-3, gamma=1.0, **kwargs)
    assert full > 0.95
    small = block_r2_score(z, z_pred, max_train_samples=10, **kwargs)
    assert small < full
    assert block_r2_score(z, z_pred, max_train_samples=10, **kwargs) == small
