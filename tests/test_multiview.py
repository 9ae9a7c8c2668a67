"""Tests for the K-view generator and the ViewSplitter/ViewStacker transformers."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn import clone, config_context
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

from sklcm.datasets import (
    InvertibleMLPMixing,
    MultiviewLatentSampler,
    make_latent_partial_causal,
    make_multiview_latents,
)
from sklcm.preprocessing import ViewSplitter, ViewStacker
from sklcm.utils import stack_modalities

# multiview-crl's numerical study (main_numerical.py, --S-k), by hand.
CRL_VIEWS = ((0, 1, 2, 3, 4), (0, 1, 2, 4, 5), (0, 1, 2, 3, 5), (0, 1, 3, 4, 5))
CRL_SHARED = {
    (0, 1): (0, 1, 2, 4),
    (0, 2): (0, 1, 2, 3),
    (0, 3): (0, 1, 3, 4),
    (1, 2): (0, 1, 2, 5),
    (1, 3): (0, 1, 4, 5),
    (2, 3): (0, 1, 3, 5),
    (0, 1, 2): (0, 1, 2),
    (0, 1, 3): (0, 1, 4),
    (0, 2, 3): (0, 1, 3),
    (1, 2, 3): (0, 1, 5),
    (0, 1, 2, 3): (0, 1),
}


def _blocks(X, split):
    stops = np.cumsum(split)
    return [X[:, stop - width : stop] for stop, width in zip(stops, split)]


def test_default_is_four_views_over_six_latents():
    X, y, info = make_multiview_latents(30, random_state=0, return_info=True)
    assert X.shape == (30, 20) and y.shape == (30, 6) and X.dtype == np.float64
    assert info.view_latents == CRL_VIEWS
    assert info.split == [5, 5, 5, 5] and info.n_features == (5, 5, 5, 5)
    assert (info.n_views, info.n_latents, info.n_specific) == (4, 6, (0, 0, 0, 0))
    assert info.shared_latents == CRL_SHARED
    assert list(info.shared_latents) == list(CRL_SHARED)  # size, then lexicographic
    assert info.latent_views == (
        (0, 1, 2, 3),
        (0, 1, 2, 3),
        (0, 1, 2),
        (0, 2, 3),
        (0, 1, 3),
        (1, 2, 3),
    )
    assert all(isinstance(m, InvertibleMLPMixing) for m in info.mixings)
    assert isinstance(info.sampler, MultiviewLatentSampler)
    assert len(make_multiview_latents(30, random_state=0)) == 2


@pytest.mark.parametrize(
    "view_latents, shared, latent_views",
    [
        ([[0], [0]], {(0, 1): (0,)}, ((0, 1),)),
        # a ring: each pair shares one latent, the triple shares none
        (
            [[0, 1], [1, 2], [2, 0]],
            {(0, 1): (1,), (0, 2): (0,), (1, 2): (2,)},
            ((0, 2), (0, 1), (1, 2)),
        ),
        # view 1 and view 2 share nothing; latent 3 is view 2's alone
        (
            [[2, 0, 1], [1, 0], [3, 2]],
            {(0, 1): (0, 1), (0, 2): (2,)},
            ((0, 1), (0, 1), (0, 2), (2,)),
        ),
    ],
)
def test_shared_latents_on_hand_examples(view_latents, shared, latent_views):
    sampler = MultiviewLatentSampler(view_latents, random_state=0)
    assert sampler.shared_latents == shared
    assert sampler.latent_views == latent_views
    assert sampler.view_latents == tuple(tuple(v) for v in view_latents)


def test_views_are_their_mixings_of_their_latents_and_invert():
    view_latents = [[0, 1, 2], [2, 3], [0, 3, 1]]
    X, y, info = make_multiview_latents(
        200,
        view_latents=view_latents,
        n_specific=[1, 0, 2],
        n_features=[6, 2, 7],
        random_state=0,
        return_info=True,
    )
    assert X.shape == (200, 15) and info.split == [6, 2, 7]
    for k, x_k in enumerate(_blocks(X, info.split)):
        assert info.m_views[k].shape == (200, info.n_specific[k])
        inputs = np.hstack([y[:, view_latents[k]], info.m_views[k]])
        np.testing.assert_allclose(info.mixings[k](inputs), x_k)
        np.testing.assert_allclose(info.mixings[k].inverse(x_k), inputs, atol=1e-9)
        # the Jacobian of the mixing at a sample point has full column rank
        eps, z0 = 1e-6, inputs[0]
        jac = np.stack(
            [
                (info.mixings[k]((z0 + eps * e)[None]) - info.mixings[k](z0[None]))[0]
                / eps
                for e in np.eye(len(z0))
            ]
        )
        assert np.linalg.matrix_rank(jac, tol=1e-6) == len(z0)


def test_a_view_carries_nothing_of_the_latents_it_does_not_observe():
    # Latents are independent, so a view must be independent of every latent
    # outside its subset: no linear regression recovers one, while the view's
    # own latents come back exactly through the inverse mixing.
    X, y, info = make_multiview_latents(4000, random_state=0, return_info=True)
    for k, x_k in enumerate(_blocks(X, info.split)):
        features = np.hstack([x_k, np.abs(x_k)])  # a nonlinear feature too
        for j in range(info.n_latents):
            r2 = LinearRegression().fit(features, y[:, j]).score(features, y[:, j])
            if j in info.view_latents[k]:
                assert r2 > 0.5
            else:
                assert r2 < 0.01


def test_determinism_and_seed_dependence():
    X0, y0 = make_multiview_latents(40, n_specific=1, random_state=3)
    X1, y1 = make_multiview_latents(40, n_specific=1, random_state=3)
    X2, _ = make_multiview_latents(40, n_specific=1, random_state=4)
    np.testing.assert_array_equal(X0, X1)
    np.testing.assert_array_equal(y0, y1)
    assert not np.allclose(X0, X2)


def test_sampler_draws_fresh_samples_with_the_same_mixings():
    sampler = MultiviewLatentSampler(n_specific=2, random_state=0)
    X1, y1, info1 = sampler.sample(100, random_state=1, return_info=True)
    X2, y2, info2 = sampler.sample(100, random_state=2, return_info=True)
    assert not np.allclose(y1, y2)
    assert info1.mixings is info2.mixings is sampler.mixings
    for k, x_k in enumerate(_blocks(X2, sampler.split)):
        inputs = np.hstack([y2[:, sampler.view_latents[k]], info2.m_views[k]])
        np.testing.assert_allclose(sampler.mixings[k].inverse(x_k), inputs, atol=1e-9)
    X1_again, _ = sampler.sample(100, random_state=1)
    np.testing.assert_array_equal(X1, X1_again)
    # a Generator streams different batches from one model
    rng = np.random.default_rng(0)
    assert not np.allclose(sampler.sample(5, rng)[0], sampler.sample(5, rng)[0])
    restored = pickle.loads(pickle.dumps(sampler))
    np.testing.assert_array_equal(
        restored.sample(10, random_state=5)[0], sampler.sample(10, random_state=5)[0]
    )


@pytest.mark.parametrize("conditional", ["normal", "laplace"])
def test_two_views_reproduce_the_two_view_generator(conditional):
    common = dict(
        conditional=conditional,
        concentration=5.0,
        n_specific=(1, 2),
        n_features=(5, 6),
        random_state=3,
        return_info=True,
    )
    X, y, info = make_multiview_latents(50, view_latents=[range(3), range(3)], **common)
    X2, y2, info2 = make_latent_partial_causal(
        50, n_latents=3, latent_space="real", marginal="normal", **common
    )
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(info.z_views[1], info2.z_t)
    assert info.split == [info2.split, X.shape[1] - info2.split]
    assert info.shared_latents == {(0, 1): (0, 1, 2)}


@pytest.mark.parametrize("conditional, std", [("normal", 1.0), ("laplace", 2**0.5)])
def test_noisy_copies_per_view(conditional, std):
    X, y, info = make_multiview_latents(
        20_000,
        view_latents=[[0, 1], [1, 2], [0, 2]],
        conditional=conditional,
        concentration=4.0,
        random_state=0,
        return_info=True,
    )
    assert info.z_views[0] is y
    noises = [info.z_views[k] - y for k in (1, 2)]
    for noise in noises:
        np.testing.assert_allclose(noise.std(axis=0), std / 4.0, rtol=0.03)
    assert abs(np.corrcoef(noises[0][:, 0], noises[1][:, 0])[0, 1]) < 0.03
    _, y_exact, info_exact = make_multiview_latents(
        10, view_latents=[[0, 1], [1, 2]], random_state=0, return_info=True
    )
    assert all(z is y_exact for z in info_exact.z_views)


@pytest.mark.parametrize(
    "marginal, low, variance",
    [("normal", -np.inf, 1.0), ("uniform", -1.0, 1 / 3), ("laplace", -np.inf, 2.0)],
)
def test_marginals_are_independent_with_the_right_law(marginal, low, variance):
    _, y, info = make_multiview_latents(
        20_000, marginal=marginal, n_specific=1, random_state=0, return_info=True
    )
    both = np.hstack([y, info.m_views[0]])
    assert both.min() >= low and (low == -np.inf or both.max() <= 1.0)
    np.testing.assert_allclose(both.var(axis=0), variance, rtol=0.06)
    corr = np.corrcoef(both.T) - np.eye(both.shape[1])
    assert np.abs(corr).max() < 0.03


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"view_latents": [[0, 1]]}, ValueError, "at least 2 views, got 1"),
        ({"view_latents": []}, ValueError, "at least 2 views, got 0"),
        ({"view_latents": [[0, 1], []]}, ValueError, "view 1 observes no latent"),
        ({"view_latents": [[0, 1], [-1]]}, ValueError, "view 1 must be >= 0"),
        ({"view_latents": [[0, 1], [1.5]]}, ValueError, "view 1 must be ints"),
        ({"view_latents": [[0, 1], [True]]}, ValueError, "view 1 must be ints"),
        ({"view_latents": [[0, 1], [1, 1]]}, ValueError, "view 1 lists a latent twice"),
        ({"view_latents": [[0, 1], [4]]}, ValueError, r"latents \[2, 3\].*no view"),
        ({"view_latents": [[0, 1], 2]}, ValueError, "list of lists.*view 1 is 2"),
        ({"view_latents": "ab"}, ValueError, "view_latents"),
        ({"marginal": "cauchy"}, ValueError, "marginal"),
        ({"conditional": "vmf"}, ValueError, "conditional"),
        ({"concentration": 0.0}, ValueError, "concentration"),
        ({"n_specific": -1}, ValueError, "n_specific"),
        ({"n_specific": [1, 2]}, ValueError, "n_specific.*list of 4 ints"),
        ({"n_specific": [1, 1, 1, -1]}, ValueError, "n_specific.*>= 0"),
        ({"n_specific": [1, 1, 1, 0.5]}, ValueError, "n_specific.*list of 4 ints"),
        ({"n_features": 3}, ValueError, "n_features.*view 0 is 3.*5 latents"),
        ({"n_features": [5, 5, 5, 4]}, ValueError, "n_features.*view 3 is 4"),
        ({"n_features": [5, 5, 5]}, ValueError, "n_features.*list of 4 ints"),
        ({"n_mixing_layers": 0}, ValueError, "n_mixing_layers"),
        ({"random_state": "seed"}, ValueError, "random_state"),
        ({"return_info": "yes"}, ValueError, "return_info"),
    ],
)
def test_make_multiview_latents_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        make_multiview_latents(**{"n_samples": 10, **params})


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_samples": 3.0}, TypeError, "n_samples"),
        ({"n_samples": 3, "random_state": "x"}, TypeError, "random_state"),
    ],
)
def test_sampler_sample_bad_arguments(kwargs, error, match):
    sampler = MultiviewLatentSampler([[0], [0]], random_state=0)
    with pytest.raises(error, match=match):
        sampler.sample(**kwargs)


# ---------------------------------------------------------------------------
# ViewSplitter / ViewStacker


def _views(n_samples=12, widths=(2, 3, 1), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n_samples, w)) for w in widths]


def test_split_and_stack_round_trip_on_generated_views():
    X, _, info = make_multiview_latents(60, random_state=0, return_info=True)
    splitter = ViewSplitter(split=info.split).fit(X)
    Xs = splitter.transform(X)
    assert isinstance(Xs, list) and len(Xs) == splitter.n_views_ == 4
    for x_k, block in zip(Xs, _blocks(X, info.split)):
        np.testing.assert_array_equal(x_k, block)
    stacker = ViewStacker().fit(Xs)
    assert stacker.split_ == splitter.split_ == info.split
    assert stacker.n_views_ == 4 and stacker.n_features_in_ == 20
    np.testing.assert_array_equal(stacker.transform(Xs), X)
    np.testing.assert_array_equal(splitter.inverse_transform(Xs), X)
    for a, b in zip(stacker.inverse_transform(X), Xs):
        np.testing.assert_array_equal(a, b)
    round_trip = make_pipeline(ViewSplitter(split=info.split), ViewStacker())
    np.testing.assert_array_equal(round_trip.fit_transform(X), X)


def test_int_split_is_the_two_view_split_of_stack_modalities():
    x, t = _views(widths=(3, 2))
    X, split = stack_modalities(x, t)
    splitter = ViewSplitter(split=split).fit(X)
    assert splitter.split_ == [3, 2]
    out = splitter.transform(X)
    np.testing.assert_array_equal(out[0], x)
    np.testing.assert_array_equal(out[1], t)


def test_splitter_views_are_copies_and_keep_the_dtype():
    X = np.hstack(_views()).astype(np.float32)
    Xs = ViewSplitter(split=[2, 3, 1]).fit_transform(X)
    assert all(x_k.dtype == np.float32 for x_k in Xs)
    Xs[0][:] = 99.0
    assert not (X == 99.0).any()
    assert ViewStacker().fit_transform(Xs).dtype == np.float32


def test_splitter_list_output_behaves_like_an_array_output():
    # What the estimator checks expected to fail for ViewSplitter test on an
    # array output, tested on the list.
    X = np.hstack(_views(n_samples=30))
    splitter = ViewSplitter(split=[2, 3, 1]).fit(X)
    expected = splitter.transform(X)

    def assert_views_equal(got, want):
        assert len(got) == len(want)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b)

    assert_views_equal(pickle.loads(pickle.dumps(splitter)).transform(X), expected)
    assert_views_equal(clone(splitter).fit(X).transform(X), expected)
    assert_views_equal(splitter.fit_transform(X), expected)
    assert_views_equal(splitter.transform(X.tolist()), expected)
    assert_views_equal(make_pipeline(clone(splitter)).fit(X).transform(X), expected)
    order = np.random.default_rng(0).permutation(30)
    assert_views_equal(splitter.transform(X[order]), [v[order] for v in expected])
    assert_views_equal(splitter.transform(X[:7]), [v[:7] for v in expected])
    with pytest.raises(ValueError, match="X has 5 features.*expecting 6"):
        splitter.transform(X[:, :-1])


def test_stacker_takes_a_3d_array_or_one_view():
    Xs = _views(widths=(2, 2, 2))
    stacker = ViewStacker().fit(np.stack(Xs))
    assert stacker.split_ == [2, 2, 2]
    np.testing.assert_array_equal(stacker.transform(Xs), np.hstack(Xs))
    X = Xs[0]
    single = ViewStacker().fit(X)
    assert single.split_ == [2] and single.n_views_ == 1
    np.testing.assert_array_equal(single.transform(X), X)
    np.testing.assert_array_equal(single.transform(X.tolist()), X)  # rows, one view
    fitted = pickle.loads(pickle.dumps(stacker))
    np.testing.assert_array_equal(fitted.transform(Xs), np.hstack(Xs))


def test_views_are_not_taken_for_metadata():
    # A first argument named other than X would get set_*_request methods.
    for est in (ViewSplitter(), ViewStacker()):
        assert not [n for n in dir(est) if n.startswith("set_") and "request" in n]


def test_feature_names_follow_the_columns():
    pd = pytest.importorskip("pandas")
    x, t = _views(widths=(2, 3))
    frames = [
        pd.DataFrame(x, columns=["a0", "a1"]),
        pd.DataFrame(t, columns=["b0", "b1", "b2"]),
    ]
    stacker = ViewStacker().fit(frames)
    names = ["a0", "a1", "b0", "b1", "b2"]
    assert list(stacker.feature_names_in_) == names
    assert list(stacker.get_feature_names_out()) == names
    renamed = [frames[0], frames[1].rename(columns={"b2": "c"})]
    with pytest.raises(ValueError, match="feature names of the views should match"):
        stacker.transform(renamed)
    # arrays: generic names, and the names of a former fit are forgotten
    stacker.fit([x, t])
    assert not hasattr(stacker, "feature_names_in_")
    assert list(stacker.get_feature_names_out()) == ["x0", "x1", "x2", "x3", "x4"]
    splitter = ViewSplitter(split=2).fit(pd.DataFrame(np.hstack([x, t]), columns=names))
    assert list(splitter.get_feature_names_out()) == names


def test_set_output_gives_one_frame_per_view():
    pd = pytest.importorskip("pandas")
    names = ["a0", "a1", "b0", "b1", "b2", "c0"]
    df = pd.DataFrame(np.hstack(_views()), columns=names, index=np.arange(12) + 100)
    splitter = ViewSplitter(split=[2, 3, 1]).set_output(transform="pandas")
    frames = splitter.fit_transform(df)
    assert [list(f.columns) for f in frames] == [names[:2], names[2:5], names[5:]]
    assert all((f.index == df.index).all() for f in frames)
    np.testing.assert_array_equal(frames[1].to_numpy(), df.to_numpy()[:, 2:5])
    assert isinstance(clone(splitter).fit_transform(df)[0], pd.DataFrame)
    assert isinstance(
        splitter.set_output(transform="default").transform(df)[0], np.ndarray
    )
    with config_context(transform_output="pandas"):
        assert isinstance(ViewSplitter(split=2).fit_transform(df)[0], pd.DataFrame)
    # through a pipeline: stacked frame, then one frame per view
    pipe = make_pipeline(ViewStacker(), ViewSplitter(split=[2, 3, 1]))
    out = pipe.set_output(transform="pandas").fit_transform(_views())
    assert [list(f.columns) for f in out] == [["x0", "x1"], ["x2", "x3", "x4"], ["x5"]]
    with pytest.raises(ValueError, match="transform.*pandas"):
        ViewSplitter().set_output(transform="arrow")


def test_set_output_polars():
    pl = pytest.importorskip("polars")
    frames = (
        ViewSplitter(split=[2, 4])
        .set_output(transform="polars")
        .fit_transform(np.hstack(_views(widths=(2, 4))))
    )
    assert all(isinstance(f, pl.DataFrame) for f in frames)
    assert frames[1].columns == ["x2", "x3", "x4", "x5"]


@pytest.mark.parametrize(
    "split, error, match",
    [
        (None, ValueError, "`split` is required"),
        ([2, 2], ValueError, r"adds up to 4 columns, but X has 5"),
        ([2, 2, 2], ValueError, r"adds up to 6 columns, but X has 5"),
        ([5], ValueError, "at least 2 view widths"),
        ([0, 5], ValueError, "at least 1 column"),
        ([1.5, 3.5], TypeError, "list of ints"),
        (5, ValueError, "leaves a modality empty"),
        (0, ValueError, "split"),
        ("ab", ValueError, "split"),
    ],
)
def test_splitter_bad_split(split, error, match):
    X = np.hstack(_views(widths=(2, 3)))
    with pytest.raises(error, match=match):
        ViewSplitter(split=split).fit(X)


@pytest.mark.parametrize(
    "method, data, match",
    [
        ("fit", [np.ones((4, 2)), np.ones((3, 2))], r"row by row.*\[4, 3\]"),
        ("fit", [np.ones((4, 2)), np.ones(4)], r"X\[1\] has 1 dimensions"),
        ("transform", [np.ones((4, 3)), np.ones((4, 2))], r"widths \[2, 3\].*\[3, 2\]"),
        ("transform", [np.ones((4, 2))] * 3, r"2 views of widths.*got 3"),
        ("transform", np.ones((4, 5)), r"fitted on 2 views.*got 1"),
        ("transform", np.ones((4, 4)), "X has 4 features.*expecting 5"),
        ("inverse_transform", np.ones((4, 4)), "X has 4 features.*5 features"),
    ],
)
def test_stacker_bad_views(method, data, match):
    stacker = ViewStacker()
    if method != "fit":
        stacker.fit([np.ones((4, 2)), np.ones((4, 3))])
    with pytest.raises(ValueError, match=match):
        getattr(stacker, method)(data)


@pytest.mark.parametrize(
    "data, match",
    [
        ([np.ones((4, 2)), np.ones((4, 2))], r"widths \[2, 3\].*\[2, 2\]"),
        ([], "non-empty list of views"),
        (np.ones((4, 5)), "non-empty list of views"),
    ],
)
def test_splitter_inverse_transform_bad_views(data, match):
    splitter = ViewSplitter(split=2).fit(np.ones((4, 5)))
    with pytest.raises(ValueError, match=match):
        splitter.inverse_transform(data)


def test_transformers_need_fitting():
    for est, data in ((ViewSplitter(split=1), np.ones((3, 2))), (ViewStacker(), [])):
        with pytest.raises(NotFittedError):
            est.transform(data)


def test_preprocessing_and_datasets_do_not_import_torch():
    code = (
        "import sys, sklcm, sklcm.datasets, sklcm.metrics, sklcm.preprocessing; "
        "assert sklcm.preprocessing.ViewSplitter; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
