"""Tests of IdentifiabilityDisplay."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import FunctionTransformer

from sklcm.metrics import IdentifiabilityDisplay, mean_corr_coef

plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def latents():
    rng = np.random.default_rng(0)
    z = rng.laplace(size=(400, 3))
    return z, -2.0 * z[:, [2, 0, 1]] + 1.0 + 0.05 * rng.normal(size=z.shape)


def test_from_predictions_matches_pairs_and_score(latents):
    z, z_pred = latents
    disp = IdentifiabilityDisplay.from_predictions(z, z_pred, n_pairs=3)
    rows, cols = disp.pairs
    assert list(cols) == [1, 2, 0]
    assert disp.score == pytest.approx(mean_corr_coef(z, z_pred))
    assert disp.axes_.shape == (4,) and len(disp.scatter_) == 3
    assert disp.im_.get_array().shape == (3, 3)
    assert disp.text_.shape == (3, 3)
    assert disp.figure_ is disp.axes_[0].figure
    x, y = disp.scatter_[0].get_offsets().T
    assert np.abs(np.corrcoef(x, y)[0, 1]) > 0.99


def test_from_estimator_with_linear_alignment(latents):
    z, z_noisy = latents
    basis = np.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.0], [1.0, 1.0, -2.0]])
    rotated = z_noisy @ (basis / np.linalg.norm(basis, axis=1, keepdims=True)).T
    identity = FunctionTransformer().fit(rotated)
    raw = IdentifiabilityDisplay.from_estimator(identity, rotated, z)
    aligned = IdentifiabilityDisplay.from_estimator(
        identity, rotated, z, align="linear"
    )
    # the alignment fitted on one half and scored on the other half
    train, test = slice(None, 200), slice(200, None)
    alignment = LinearRegression().fit(rotated[train], z[train])
    held_out = mean_corr_coef(z[test], alignment.predict(rotated[test]))
    assert raw.score < 0.9
    assert aligned.score == pytest.approx(held_out, abs=0.005)
    assert aligned.score > 0.98
    assert aligned.estimator_name == "FunctionTransformer"


def test_linear_alignment_is_held_out():
    """Aligning 150 noise columns in-sample would score high; held out it cannot."""
    rng = np.random.default_rng(0)
    z, noise = rng.normal(size=(400, 2)), rng.normal(size=(400, 150))
    in_sample = LinearRegression().fit(noise, z).predict(noise)
    assert mean_corr_coef(z, in_sample) > 0.5
    disp = IdentifiabilityDisplay.from_predictions(z, noise, align="linear")
    assert disp.score < 0.3
    again = IdentifiabilityDisplay.from_predictions(z, noise, align="linear")
    assert again.score == disp.score


def test_plot_on_given_axes(latents):
    z, z_pred = latents
    fig, axes = plt.subplots(1, 3)
    disp = IdentifiabilityDisplay.from_predictions(z, z_pred, n_pairs=2, ax=axes)
    assert list(disp.axes_) == list(axes) and disp.figure_ is fig
    fig, ax = plt.subplots()
    disp = IdentifiabilityDisplay.from_predictions(z, z_pred, ax=ax, n_cols=2)
    assert len(disp.axes_) == 4 and not ax.axison


def test_plot_annotation_and_subsampling(latents):
    z, z_pred = latents
    disp = IdentifiabilityDisplay.from_predictions(
        z, z_pred, annotate=False, max_points=50
    )
    assert disp.text_ is None
    assert len(disp.scatter_[0].get_offsets()) == 50


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"align": "affine"}, ValueError, "align must be None or 'linear'"),
        ({"method": "kendall"}, ValueError, "method must be"),
        ({"ax": [None]}, ValueError, "Expected ax to hold 4 Axes"),
    ],
)
def test_from_predictions_errors(latents, kwargs, error, match):
    with pytest.raises(error, match=match):
        IdentifiabilityDisplay.from_predictions(*latents, **kwargs)


def test_from_estimator_needs_transform(latents):
    with pytest.raises(TypeError, match="has no transform method"):
        IdentifiabilityDisplay.from_estimator(object(), *latents)


def test_metrics_import_does_not_load_matplotlib_or_torch():
    code = (
        "import sys, sklcm.metrics, sklcm.datasets; "
        "print('matplotlib' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]
