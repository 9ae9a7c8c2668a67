"""Tests of MultimodalContrastiveEncoderCV."""

import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import KFold, ShuffleSplit

import sklcm
from sklcm import MultimodalContrastiveEncoder, MultimodalContrastiveEncoderCV
from sklcm._encoder_cv import select_temperature
from sklcm.datasets import make_latent_partial_causal

FAST = dict(hidden_layer_sizes=(8,), max_epochs=2, batch_size=32, random_state=0)
TAUS = (0.2, 0.5, 1.0, 2.0)


@pytest.fixture(scope="module")
def data():
    X, _, info = make_latent_partial_causal(
        120, n_latents=2, random_state=0, return_info=True
    )
    return X, info.split


def _search(split, **kw):
    params = {
        "estimator": MultimodalContrastiveEncoder(n_components=2, split=split, **FAST),
        "temperatures": (0.5, 1.0),
        "cv": 2,
    }
    return MultimodalContrastiveEncoderCV(**{**params, **kw})


# ------------------------------------------------------------ the rule
# columns: splits; rows: TAUS
NEAR_TIE = [[0.20, 0.22, 0.21], [0.715, 0.705, 0.725], [0.716, 0.706, 0.726],
            [0.60, 0.62, 0.61]]  # fmt: skip


@pytest.mark.parametrize(
    "scores, rule, expected",
    [
        (NEAR_TIE, "best", 1.0),
        (NEAR_TIE, "one_se", 1.0),  # tau 2 is far below: not within one SE
        # tau 2 within one SE (0.01 / sqrt(3) = 0.0058) of the best (tau 0.5)
        (
            [[0.1] * 3, [0.70, 0.71, 0.72], [0.5] * 3, [0.705, 0.705, 0.705]],
            "one_se",
            2.0,
        ),  # fmt: skip
        (
            [[0.1] * 3, [0.70, 0.71, 0.72], [0.5] * 3, [0.705, 0.705, 0.705]],
            "best",
            0.5,
        ),  # fmt: skip
        # a clear winner is kept by one_se
        ([[0.9, 0.91, 0.92], [0.5] * 3, [0.4] * 3, [0.3] * 3], "one_se", 0.2),
        # zero spread: one_se is the argmax
        ([[0.3] * 2, [0.5] * 2, [0.49] * 2, [0.1] * 2], "one_se", 0.5),
        # one split: no standard error, one_se is the argmax
        ([[0.3], [0.5], [0.49], [0.1]], "one_se", 0.5),
        # NaN (a failed candidate) is never picked
        ([[np.nan, 0.9], [0.5, 0.5], [0.4, 0.4], [0.3, 0.3]], "one_se", 0.5),
        ([[0.3, 0.3], [0.5, 0.5], [0.5, 0.5], [0.1, 0.1]], "best", 0.5),
        # next: one step up from the best unless it scores > 40 % lower
        (NEAR_TIE, "next", 2.0),
        ([[0.9] * 2, [0.5] * 2, [0.4] * 2, [0.3] * 2], "next", 0.2),  # 0.5 < 0.54
        ([[0.36] * 2, [0.42] * 2, [0.32] * 2, [0.26] * 2], "next", 1.0),
        ([[0.1] * 2, [0.2] * 2, [0.3] * 2, [0.4] * 2], "next", 2.0),  # the largest
        ([[0.1] * 2, [0.4] * 2, [0.239] * 2, [0.3] * 2], "next", 0.5),  # 0.24 is 40 %
        ([[0.1] * 2, [0.4] * 2, [0.241] * 2, [0.3] * 2], "next", 1.0),
        # a relative tolerance: the largest tau within 5 % (10 %) of the best
        ([[0.1] * 2, [0.50, 0.5], [0.48] * 2, [0.47] * 2], 0.05, 1.0),
        ([[0.1] * 2, [0.50, 0.5], [0.48] * 2, [0.47] * 2], 0.1, 2.0),
        ([[0.1] * 2, [0.50, 0.5], [0.48] * 2, [0.47] * 2], 0.0, 0.5),
        # the near tie (0.715 at tau 0.5, 0.716 at tau 1)
        ([[0.5] * 2, [0.715] * 2, [0.716] * 2, [0.60] * 2], 0.05, 1.0),
        # a clear winner at tau 0.2 stays
        ([[0.9] * 2, [0.8] * 2, [0.7] * 2, [0.6] * 2], 0.05, 0.2),
    ],
)
def test_select_temperature_on_a_mocked_score_table(scores, rule, expected):
    assert select_temperature(TAUS, scores, rule=rule) == expected


def test_select_temperature_does_not_depend_on_the_order_of_candidates():
    scores = np.array([[0.1] * 3, [0.70, 0.71, 0.72], [0.5] * 3, [0.705] * 3])
    order = [3, 0, 2, 1]
    for rule, expected in (("one_se", 2.0), (0.01, 2.0), ("next", 1.0), ("best", 0.5)):
        assert select_temperature(TAUS, scores, rule=rule) == expected
        assert select_temperature(np.array(TAUS)[order], scores[order], rule=rule) == (
            expected
        )


# --------------------------------------------------------- the estimator
def test_fit_scores_every_candidate_on_held_out_pairs_and_refits_the_choice(
    data, monkeypatch
):
    X, split = data
    table = {0.2: 0.1, 0.5: 0.7, 1.0: 0.695, 2.0: 0.3}
    fitted = []

    def fake_score(self, X, y=None):
        return table[self.temperature] + 0.03 * (len(fitted) % 3 == 2)

    orig_fit = MultimodalContrastiveEncoder.fit

    def spy_fit(self, X, y=None):
        fitted.append((self.temperature, len(X)))
        return orig_fit(self, X)

    monkeypatch.setattr(MultimodalContrastiveEncoder, "score", fake_score)
    monkeypatch.setattr(MultimodalContrastiveEncoder, "fit", spy_fit)
    search = _search(split, temperatures=TAUS, cv=3, rule="one_se").fit(X)
    assert search.scores_.shape == (4, 3)
    assert search.n_splits_ == 3
    np.testing.assert_array_equal(search.temperatures_, TAUS)
    # 4 candidates x 3 folds on 80 pairs, then the refit on all 120
    assert fitted[:-1] == [(tau, 80) for tau in TAUS for _ in range(3)]
    # fold scores (0.7, 0.73, 0.7) for tau 0.5: mean 0.71, standard error 0.01;
    # tau 1 scores 0.705 on average, within one SE
    assert search.temperature_ == 1.0
    assert fitted[-1] == (1.0, 120)
    assert search.best_estimator_.temperature == 1.0
    assert search.best_score_ == pytest.approx(search.scores_[2].mean())
    assert (
        _search(split, temperatures=TAUS, cv=3, rule="best").fit(X).temperature_ == 0.5
    )
    assert _search(split, temperatures=TAUS, cv=3, rule=0.0).fit(X).temperature_ == 0.5
    assert _search(split, temperatures=TAUS, cv=3).fit(X).temperature_ == 1.0  # next
    assert _search(split, temperatures=TAUS, cv=3, rule=0.05).fit(X).temperature_ == 1.0


def test_scores_are_the_encoders_held_out_scores(data):
    X, split = data
    search = _search(split, cv=KFold(2)).fit(X)
    half = len(X) // 2
    for i, tau in enumerate((0.5, 1.0)):
        enc = clone(search.estimator).set_params(temperature=tau).fit(X[half:])
        assert search.scores_[i, 0] == pytest.approx(enc.score(X[:half]))
    enc = clone(search.estimator).set_params(temperature=search.temperature_).fit(X)
    np.testing.assert_allclose(search.transform(X), enc.transform(X), atol=1e-6)
    np.testing.assert_allclose(
        search.encode(X[:, split:], "t"), enc.encode(X[:, split:], "t"), atol=1e-6
    )
    assert search.score(X) == pytest.approx(enc.score(X))


def test_int_cv_is_a_shuffled_kfold_seeded_by_the_encoder(data):
    X, split = data
    # rows sorted so that an unshuffled fold sees only one half of the latents
    X = X[np.argsort(X[:, 0])]
    a = _search(split).fit(X)
    b = _search(split, cv=KFold(2, shuffle=True, random_state=0)).fit(X)
    c = _search(split, cv=KFold(2)).fit(X)
    np.testing.assert_allclose(a.scores_, b.scores_)
    assert not np.allclose(a.scores_, c.scores_)


def test_a_single_held_out_fraction_works(data):
    X, split = data
    search = _search(split, cv=ShuffleSplit(1, test_size=0.2, random_state=0)).fit(X)
    assert search.scores_.shape == (2, 1)
    # no standard error: the best score, the larger temperature on a tie
    best = search.scores_[:, 0] == search.scores_.max()
    assert search.temperature_ == np.array([0.5, 1.0])[best].max()


def test_feature_names_and_pandas_output(data):
    pd = pytest.importorskip("pandas")
    X, split = data
    df = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    search = _search(split).set_output(transform="pandas").fit(df)
    out = search.transform(df)
    assert list(out.columns) == list(search.get_feature_names_out())
    assert list(out.columns) == [
        "multimodalcontrastiveencoder0",
        "multimodalcontrastiveencoder1",
    ]
    assert list(search.feature_names_in_) == list(df.columns)
    assert search.n_features_in_ == X.shape[1]
    search.fit(X)  # refitted on an array: the names are gone
    assert not hasattr(search, "feature_names_in_")


def test_clone_pickle_round_trip(data):
    X, split = data
    search = _search(split)
    assert clone(search).get_params()["estimator__n_components"] == 2
    search.fit(X)
    loaded = pickle.loads(pickle.dumps(search))
    np.testing.assert_allclose(loaded.transform(X), search.transform(X))
    assert loaded.temperature_ == search.temperature_


def test_not_fitted_raises(data):
    X, split = data
    with pytest.raises(NotFittedError):
        _search(split).transform(X)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"temperatures": ()}, ValueError, "temperatures must be a non-empty"),
        ({"temperatures": (0.5, -1.0)}, ValueError, "distinct positive floats"),
        ({"temperatures": (0.5, 0.5)}, ValueError, "distinct positive floats"),
        ({"temperatures": (0.5, "auto")}, ValueError, "distinct positive floats"),
        ({"temperatures": [[0.5, 1.0]]}, ValueError, "1-D list"),
        ({"temperatures": 0.5}, ValueError, "'temperatures' parameter"),
        ({"rule": "lasso"}, ValueError, "'rule' parameter"),
        ({"rule": 1.0}, ValueError, "'rule' parameter"),
        ({"rule": -0.1}, ValueError, "'rule' parameter"),
        ({"cv": 1}, ValueError, "'cv' parameter"),
        ({"cv": 50}, ValueError, "needs at least 3"),
        ({"cv": "x"}, ValueError, "'cv' parameter"),
        ({"estimator": object()}, TypeError, "estimator must be a Multimodal"),
        ({"estimator": PCA()}, ValueError, "'temperature' parameter"),
    ],
)
def test_bad_parameters_raise_clear_errors_before_training(
    data, params, error, match, monkeypatch
):
    X, split = data

    def no_training(self, X, y=None):
        raise AssertionError("trained before the error")

    monkeypatch.setattr(MultimodalContrastiveEncoder, "fit", no_training)
    with pytest.raises(error, match=match):
        _search(split, **params).fit(X)


def test_the_encoders_own_validation_names_the_encoder_parameter(data):
    X, _ = data
    with pytest.raises(ValueError, match="split"):
        MultimodalContrastiveEncoderCV(cv=2).fit(X)


def test_lazy_export():
    assert "MultimodalContrastiveEncoderCV" in sklcm.__all__
    assert sklcm.MultimodalContrastiveEncoderCV is MultimodalContrastiveEncoderCV


def test_default_rule_numbers_in_the_docs_match_the_committed_study():
    """The real-data page's table quotes benchmarks/results/study_selection_rule.txt."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "benchmarks/results/study_selection_rule.txt").read_text()
    # the rule table over all 32 ordered pairs (seed 0), not the replication
    text = text[text.index("## rules (32 ordered pairs)") :].split("\n\n")[0]
    page = " ".join((root / "docs/user_guide/realdata.rst").read_text().split())
    rows = {
        "argmax mean score": "highest mean score",
        "next larger tau after the best": "next larger τ after the best",
        "one-SE toward larger tau": "one standard error toward larger τ",
        "largest tau within 30% of best": "largest τ within 30 % of the best",
        "fixed tau=1": "always τ = 1",
        "fixed tau=2": "always τ = 2",
    }
    for rule, label in rows.items():
        line = [ln for ln in text.splitlines() if ln.startswith(rule + " ")][-1]
        study = [float(v) for pair in re.findall(r"(\d+\.\d+) /\s*(\d+\.\d+)", line)
                 for v in pair]  # fmt: skip
        stated = re.search(re.escape(label) + r"((?: \d+\.\d \(\d+\.\d\)){3})", page)
        assert stated, f"realdata.rst should have the row {label!r}"
        stated = [float(v) for v in re.findall(r"\d+\.\d", stated.group(1))]
        # the page rounds the study's two decimals to one
        np.testing.assert_allclose(stated, study, atol=0.051, err_msg=label)
    assert MultimodalContrastiveEncoderCV().rule == "next"
