"""Tests for make_shifted_pairs, ShiftedPairsSampler and load_digits_shift."""

import pickle

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import cdist
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

from sklcm.datasets import (
    ShiftedPairsSampler,
    load_digits_halves,
    load_digits_shift,
    load_multiple_features,
    make_latent_partial_causal,
    make_shifted_pairs,
)


def _domain_accuracy(X_source, X_target):
    """Cross-validated accuracy of a linear classifier telling the two apart."""
    X = np.vstack([X_source, X_target])
    d = np.repeat([0, 1], [len(X_source), len(X_target)])
    return cross_val_score(LogisticRegression(), X, d, cv=3).mean()


def test_shifted_pairs_layout_and_one_mixing_for_all_domains():
    data = make_shifted_pairs(
        300, n_target_samples=200, n_latents=3, n_specific=(2, 1),
        n_features=(6, 5), strength=(0.5, 2.0), random_state=0,
    )  # fmt: skip
    assert sorted(data.targets) == ["specific_0.5", "specific_2"]
    assert data.sampler.domains == ("source", "specific_0.5", "specific_2")
    assert data.split == 6 and data.n_specific == (2, 1)
    for name, (X, y) in [("source", data.source), *data.targets.items()]:
        z = data.latents[name]
        assert X.shape == (300 if name == "source" else 200, 11)
        assert y.shape == (len(X),) and z.m_x.shape == (len(X), 2)
        # same x for the same latents: every domain goes through one g_x, g_t
        x_again = data.mixing_x(np.hstack([z.z_x, z.m_x]))
        np.testing.assert_allclose(x_again, X[:, : data.split])
        t_again = data.mixing_t(np.hstack([z.z_t, z.m_t]))
        np.testing.assert_allclose(t_again, X[:, data.split :])


@pytest.mark.parametrize("latent_space", ["sphere", "box"])
def test_specific_shift_moves_m_x_by_strength_std_and_nothing_else(latent_space):
    n, strength = 4000, 1.5
    data = make_shifted_pairs(
        n, n_latents=3, latent_space=latent_space, strength=strength,
        random_state=0,
    )  # fmt: skip
    source, target = data.latents["source"], data.latents["specific_1.5"]
    # the std of m_x the units refer to: 1 (normal), 1/sqrt(3) (uniform box)
    std = 1.0 if latent_space == "sphere" else 1.0 / np.sqrt(3.0)
    np.testing.assert_allclose(source.m_x.std(axis=0), std, rtol=0.05)
    shift = target.m_x.mean(axis=0) - source.m_x.mean(axis=0)
    np.testing.assert_allclose(shift, strength * std, atol=5 * std * np.sqrt(2 / n))
    np.testing.assert_allclose(target.m_x.std(axis=0), std, rtol=0.05)
    # the coupled latents and m_t keep their distribution (two-sample KS)
    for key in ("z_x", "z_t", "m_t"):
        for j in range(source[key].shape[1]):
            assert stats.ks_2samp(source[key][:, j], target[key][:, j]).pvalue > 1e-3
    # the coupling z_t | z_x is untouched
    gap = (
        np.abs(source.z_x - source.z_t).mean() - np.abs(target.z_x - target.z_t).mean()
    )
    assert abs(gap) < 0.02


def test_specific_scale_scales_m_x():
    data = make_shifted_pairs(3000, strength=0.0, specific_scale=2.0, random_state=0)
    m_x = data.latents["specific_0"].m_x
    np.testing.assert_allclose(m_x.std(axis=0), 2.0, rtol=0.06)
    np.testing.assert_allclose(m_x.mean(axis=0), 0.0, atol=0.15)


def test_specific_shift_moves_the_raw_view_only_when_strength_is_positive():
    data = make_shifted_pairs(1500, n_latents=3, strength=(0.0, 2.0), random_state=0)
    s = data.split
    X_source = data.source[0]
    at_zero = _domain_accuracy(X_source[:, :s], data.targets["specific_0"][0][:, :s])
    at_two = _domain_accuracy(X_source[:, :s], data.targets["specific_2"][0][:, :s])
    assert at_zero < 0.56  # chance
    assert at_two > 0.75
    # the t view is not shifted
    t_two = _domain_accuracy(X_source[:, s:], data.targets["specific_2"][0][:, s:])
    assert t_two < 0.56


def test_labels_are_the_nearest_centre_of_the_coupled_latents_only():
    data = make_shifted_pairs(
        1000, n_latents=4, n_classes=6, strength=(0.0, 3.0), random_state=1
    )
    for name, (_, y) in [("source", data.source), *data.targets.items()]:
        z_x = data.latents[name].z_x
        expected = np.argmin(cdist(z_x, data.class_centers), axis=1)
        np.testing.assert_array_equal(y, expected)
    # the targets share z but not m_x: same labels, different x
    (X0, y0), (X3, y3) = data.targets["specific_0"], data.targets["specific_3"]
    np.testing.assert_array_equal(
        data.latents["specific_0"].z_x, data.latents["specific_3"].z_x
    )
    np.testing.assert_array_equal(y0, y3)
    assert not np.allclose(X0[:, : data.split], X3[:, : data.split])
    np.testing.assert_allclose(X0[:, data.split :], X3[:, data.split :])
    # centres on the sphere, classes of comparable size
    np.testing.assert_allclose(np.linalg.norm(data.class_centers, axis=1), 1.0)
    assert np.bincount(data.source[1], minlength=6).min() > 0.5 * 1000 / 6


@pytest.mark.parametrize(
    "latent_space, n_latents, expected",
    [
        # z_x[:, 0] on the uniform sphere S^{n-1}: (w + 1) / 2 ~ Beta((n-1)/2, (n-1)/2)
        ("sphere", 4, lambda s: 2 * stats.beta.ppf(1 - s, 1.5, 1.5) - 1),
        ("box", 3, lambda s: 1 - 2 * s),  # uniform on [-1, 1]
        ("real", 3, lambda s: stats.norm.ppf(1 - s)),  # standard normal
    ],
)
def test_support_shift_holds_the_region_out_of_the_source(
    latent_space, n_latents, expected
):
    n, strength = 4000, 0.3
    data = make_shifted_pairs(
        n, kind="support", strength=strength, n_latents=n_latents,
        latent_space=latent_space, random_state=0,
    )  # fmt: skip
    assert list(data.targets) == ["support_0.3"]
    assert abs(data.threshold - expected(strength)) < 0.01
    source, target = data.latents["source"], data.latents["support_0.3"]
    assert not source.held_out.any()
    assert source.z_x[:, 0].max() <= data.threshold
    np.testing.assert_array_equal(target.held_out, target.z_x[:, 0] > data.threshold)
    # the target is the full model: the region carries the fraction `strength`
    assert abs(target.held_out.mean() - strength) < 4 * np.sqrt(0.3 * 0.7 / n)
    # outside the region, the source is the model: same distribution there
    kept = target.z_x[~target.held_out]
    for j in range(n_latents):
        assert stats.ks_2samp(source.z_x[:, j], kept[:, j]).pvalue > 1e-3
    assert len(data.source[0]) == n


def test_support_strength_zero_holds_nothing_out():
    data = make_shifted_pairs(500, kind="support", strength=0.0, random_state=0)
    assert data.threshold == np.inf
    assert not data.latents["support_0"].held_out.any()


def test_determinism_and_shared_model_across_kinds():
    a = make_shifted_pairs(200, strength=(1.0, 2.0), random_state=3)
    b = make_shifted_pairs(200, strength=(1.0, 2.0), random_state=3)
    c = make_shifted_pairs(200, strength=(1.0, 2.0), random_state=4)
    for u, v in zip(
        a.source + a.targets["specific_2"], b.source + b.targets["specific_2"]
    ):
        np.testing.assert_array_equal(u, v)
    assert not np.allclose(a.source[0], c.source[0])
    # the model (mixing, classes) depends on random_state only
    support = make_shifted_pairs(200, kind="support", strength=0.2, random_state=3)
    np.testing.assert_array_equal(support.class_centers, a.class_centers)
    np.testing.assert_array_equal(support.mixing_x.weights_[0], a.mixing_x.weights_[0])
    _, _, info = make_latent_partial_causal(
        10, n_specific=2, random_state=3, return_info=True
    )
    np.testing.assert_array_equal(info.mixing_t.weights_[-1], a.mixing_t.weights_[-1])


def test_sampler_draws_fresh_pairs_of_any_domain():
    sampler = ShiftedPairsSampler(
        kind="specific", strength=2.0, n_specific=1, random_state=0
    )
    X, y, z = sampler.sample(300, domain="specific_2", random_state=1, return_info=True)
    X_again, y_again = sampler.sample(300, domain="specific_2", random_state=1)
    np.testing.assert_array_equal(X, X_again)
    np.testing.assert_array_equal(y, y_again)
    X_source, _ = sampler.sample(300, random_state=1)
    assert abs(z.m_x.mean() - 2.0) < 0.3
    np.testing.assert_allclose(X[:, sampler.split :], X_source[:, sampler.split :])
    assert "kind='specific'" in repr(sampler)
    clone = pickle.loads(pickle.dumps(sampler))
    np.testing.assert_array_equal(
        clone.sample(50, domain="specific_2", random_state=3)[0],
        sampler.sample(50, domain="specific_2", random_state=3)[0],
    )


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"kind": "both"}, ValueError, "kind"),
        ({"strength": -1.0}, ValueError, "strength"),
        ({"strength": [1.0, -1.0]}, ValueError, "strength.*>= 0"),
        ({"strength": [1.0, 1.0]}, ValueError, "distinct"),
        ({"strength": []}, ValueError, "non-empty"),
        ({"strength": np.nan}, ValueError, "strength"),
        ({"kind": "support", "strength": 1.0}, ValueError, r"in \[0, 1\)"),
        ({"kind": "support", "strength": [0.1, 0.2]}, ValueError, "one `strength`"),
        (
            {"kind": "support", "strength": 0.1, "specific_scale": 2.0},
            ValueError,
            "specific_scale",
        ),
        ({"specific_scale": 0.0}, ValueError, "specific_scale"),
        ({"n_specific": 0}, ValueError, "n_specific >= 1"),
        ({"n_specific": (0, 2)}, ValueError, "k_x = 0"),
        ({"n_classes": 1}, ValueError, "n_classes"),
        ({"n_target_samples": 0}, ValueError, "n_target_samples"),
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"latent_space": "torus"}, ValueError, "latent_space"),
    ],
)
def test_make_shifted_pairs_errors(params, error, match):
    params = {"n_samples": 10, "random_state": 0, **params}
    with pytest.raises(error, match=match):
        make_shifted_pairs(**params)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_samples": 2.5}, TypeError, "n_samples"),
        ({"n_samples": 5, "domain": "target"}, ValueError, "domain.*source"),
    ],
)
def test_sampler_sample_errors(kwargs, error, match):
    sampler = ShiftedPairsSampler(strength=1.0, random_state=0)
    with pytest.raises(error, match=match):
        sampler.sample(**kwargs)


# --- load_digits_shift ------------------------------------------------------


@pytest.fixture(scope="module")
def digits_shift():
    return load_digits_shift()


def _probe():
    return LogisticRegression(max_iter=1000)


def _cross_accuracy(images_a, y_a, images_b, y_b):
    """Train on population a, score on population b (full 8 x 8 images)."""
    model = _probe().fit(images_a.reshape(len(images_a), -1), y_a)
    return model.score(images_b.reshape(len(images_b), -1), y_b)


def test_digits_shift_layout_and_value_scale(digits_shift):
    data = digits_shift
    assert data.domains == ("mfeat", "digits") and list(data.targets) == ["digits"]
    (X_m, y_m), (X_d, _) = data.source, data.targets["digits"]
    assert X_m.shape == (2000, 64) and X_d.shape == (1797, 64) and data.split == 32
    np.testing.assert_array_equal(np.bincount(y_m), 200)
    # the digits population is load_digits_halves, its images load_digits'
    halves = load_digits_halves()
    np.testing.assert_array_equal(X_d, halves.data)
    np.testing.assert_array_equal(data.images["digits"], load_digits().images)
    # [x | t] = left 4 | right 4 columns, the same layout for both
    for name, (X, _) in [("mfeat", data.source), ("digits", data.targets["digits"])]:
        images = data.images[name]
        np.testing.assert_array_equal(X[:, :32], images[:, :, :4].reshape(-1, 32))
        np.testing.assert_array_equal(X[:, 32:], images[:, :, 4:].reshape(-1, 32))
    # one scale: 16 x the fraction of ink, same range and about the same mean
    assert X_m.min() == 0.0 and X_m.max() == 16.0
    assert abs(X_m.mean() - X_d.mean()) < 0.1 * X_d.mean()
    # the resampling keeps the ink: mean ink fraction of pix over its square frame
    pix = load_multiple_features(("pix", "mor")).data[:, :240]
    ink_in_square = pix.mean(axis=1) / 6 * (30 / 48)
    np.testing.assert_allclose(X_m.mean(axis=1) / 16, ink_in_square)
    # digits kept their aspect: the outer columns are blank, as in load_digits
    assert data.images["mfeat"][:, :, [0, -1]].max() == 0.0


def test_digits_shift_source_swaps_the_populations(digits_shift):
    swapped = load_digits_shift(source="digits")
    assert swapped.domains == ("digits", "mfeat")
    np.testing.assert_array_equal(swapped.source[0], digits_shift.targets["digits"][0])
    np.testing.assert_array_equal(swapped.targets["mfeat"][1], digits_shift.source[1])
    with pytest.raises(ValueError, match="source"):
        load_digits_shift(source="pix")


@pytest.fixture(scope="module")
def across(digits_shift):
    """Accuracy trained on one population, scored on the other, by source name."""
    images = digits_shift.images
    labels = {
        "mfeat": digits_shift.source[1],
        "digits": digits_shift.targets["digits"][1],
    }
    return {
        a: _cross_accuracy(images[a], labels[a], images[b], labels[b])
        for a, b in [("mfeat", "digits"), ("digits", "mfeat")]
    }


def test_digits_shift_within_high_across_low(digits_shift, across):
    """A linear classifier: about 0.96 within either population, 0.65-0.69 across."""
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    populations = [
        ("mfeat", digits_shift.source),
        ("digits", digits_shift.targets["digits"]),
    ]
    for name, (X, y) in populations:
        within = cross_val_score(_probe(), X, y, cv=cv).mean()
        assert within > 0.93, name  # resampled pix images are digits of their class
        # measured: 0.654 (mfeat -> digits) and 0.688 (digits -> mfeat)
        assert 0.55 < across[name] < within - 0.2, name  # a real shift, not chance


@pytest.mark.parametrize(
    "transform",
    [
        lambda im: im[:, :, ::-1],  # left-right
        lambda im: im[:, ::-1, :],  # up-down
        lambda im: im.transpose(0, 2, 1),
    ],
    ids=["flip-lr", "flip-ud", "transpose"],
)
def test_digits_shift_orientation_is_the_digits_one(digits_shift, across, transform):
    images, y_m = digits_shift.images["mfeat"], digits_shift.source[1]
    y_d = digits_shift.targets["digits"][1]
    wrong = _cross_accuracy(transform(images), y_m, digits_shift.images["digits"], y_d)
    assert across["mfeat"] > wrong + 0.2  # measured: 0.65 against 0.08-0.32
