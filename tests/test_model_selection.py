"""Tests of sklcm.model_selection.FewShotSplit."""
# License: BSD 3 clause

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklcm.model_selection import FewShotGridSearchCV, FewShotSplit


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [30, 25, 20])
    X = 2.0 * y[:, None] + rng.normal(size=(len(y), 3))
    return X, y


def test_fewshot_split_draws_k_per_class_and_tests_the_rest(blobs):
    X, y = blobs
    cv = FewShotSplit(3, n_draws=7, random_state=0)
    splits = list(cv.split(X, y))
    assert len(splits) == cv.get_n_splits() == 7
    for train, test in splits:
        assert np.bincount(y[train]).tolist() == [3, 3, 3]
        assert np.intersect1d(train, test).size == 0
        assert np.union1d(train, test).size == len(y)
    # draws differ, and an int random_state repeats them across calls
    assert len({tuple(np.sort(tr)) for tr, _ in splits}) > 1
    again = list(cv.split(X, y))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(splits, again))


@pytest.mark.parametrize("random_state", [1, None, "RandomState"])
def test_fewshot_split_fixed_test_set_and_pool(blobs, random_state):
    X, y = blobs
    if random_state == "RandomState":
        random_state = np.random.RandomState(1)
    cv = FewShotSplit(
        2, n_val_shots=1, n_draws=5, test_size=0.4, random_state=random_state
    )
    pool, test = cv.split_pool(X, y)
    assert np.intersect1d(pool, test).size == 0 and len(pool) + len(test) == len(y)
    assert np.bincount(y[test]).tolist() == [12, 10, 8]  # stratified 40 %
    # the same test rows in every call, whatever the order and random_state
    splits = list(cv.split(X, y)) + list(cv.split(X, y))
    for train, test_k in splits:
        assert np.array_equal(test_k, test)
        assert np.isin(train, pool).all()
        assert np.bincount(y[train]).tolist() == [3, 3, 3]
    assert all(np.array_equal(a, b) for a, b in zip(cv.split_pool(X, y), (pool, test)))
    # the shots still vary from draw to draw
    assert len({tuple(np.sort(train)) for train, _ in splits}) > 1


def test_fewshot_split_test_set_is_random_without_a_seed(blobs):
    X, y = blobs
    tests = [tuple(FewShotSplit(test_size=0.4).split_pool(X, y)[1]) for _ in range(3)]
    assert len(set(tests)) > 1  # random_state=None: each instance its own


def test_fewshot_split_works_with_sklearn_cv_tools(blobs):
    X, y = blobs
    cv = FewShotSplit(2, n_val_shots=2, n_draws=4, random_state=0)
    probe = make_pipeline(StandardScaler(), LogisticRegression())
    scores = cross_val_score(probe, X, y, cv=cv)
    assert scores.shape == (4,) and scores.mean() > 0.8
    res = cross_validate(probe, X, y, cv=cv, return_indices=True)
    assert all(len(tr) == 12 for tr in res["indices"]["train"])
    search = GridSearchCV(
        LogisticRegression(), {"C": [1e-4, 1.0]}, cv=cv.validation_split()
    )
    res = cross_validate(search, X, y, cv=cv, return_estimator=True)
    assert res["test_score"].mean() > 0.8
    # the inner splitter sees 4 rows per class and keeps 2 of them for training
    inner = next(cv.validation_split().split(X[:12], np.repeat([0, 1, 2], 4)))
    assert len(inner[0]) == 6 and len(inner[1]) == 6


@pytest.mark.parametrize(
    "params, y, match",
    [
        ({"n_shots": 9}, None, r"class 2 has 8 samples in y, fewer than n_shots"),
        (
            {"n_shots": 3, "n_val_shots": 2, "test_size": 0.5},
            None,
            r"class 2 has 4 samples in the pool .*n_shots \+ n_val_shots = 5",
        ),
        ({"n_shots": 10}, "equal", "no row is left for testing"),
        ({}, "none", "needs the class labels"),
        ({}, "continuous", "needs class labels in y"),
    ],
)
def test_fewshot_split_errors(params, y, match):
    X = np.zeros((30, 2))
    labels = np.repeat([0, 1, 2], [12, 10, 8])
    if y == "equal":
        labels = np.repeat([0, 1, 2], 10)
    elif y == "none":
        labels = None
    elif y == "continuous":
        labels = np.linspace(0, 1, 30)
    with pytest.raises(ValueError, match=match):
        next(FewShotSplit(**params, random_state=0).split(X, labels))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_shots": 0}, "n_shots must be an int >= 1"),
        ({"n_draws": 2.5}, "n_draws must be an int >= 1"),
        ({"n_val_shots": -1}, "n_val_shots must be an int >= 0"),
        ({"test_size": 1.5}, "test_size must be None"),
    ],
)
def test_fewshot_split_bad_params(params, match):
    with pytest.raises(ValueError, match=match):
        FewShotSplit(**params)


def test_fewshot_split_pool_and_validation_need_their_option():
    cv = FewShotSplit(2)
    with pytest.raises(ValueError, match="split_pool needs a fixed test set"):
        cv.split_pool(np.zeros((6, 1)), [0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="set n_val_shots >= 1"):
        cv.validation_split()
    assert repr(cv).startswith("FewShotSplit(n_draws=50, n_shots=2")


class _SpyProbe(LogisticRegression):
    fitted: list = []

    def fit(self, X, y, sample_weight=None):
        _SpyProbe.fitted.append((self.C, np.bincount(y).tolist()))
        return super().fit(X, y, sample_weight)


def test_fewshot_grid_search_trains_the_chosen_probe_on_the_shots_only(blobs):
    X, y = blobs
    cv = FewShotSplit(2, n_val_shots=3, n_draws=1, random_state=0)
    train, _ = next(cv.split(X, y))
    _SpyProbe.fitted = []
    probe = FewShotGridSearchCV(
        _SpyProbe(), {"C": [0.01, 1.0]}, cv=cv.validation_split()
    ).fit(X[train], y[train])
    # every fit, the final one included, sees the 2 shots per class only
    assert [counts for _, counts in _SpyProbe.fitted] == [[2, 2, 2]] * 3
    assert _SpyProbe.fitted[-1][0] == probe.best_params_["C"]
    assert probe.best_estimator_.C == probe.best_params_["C"]
    assert probe.predict_proba(X).shape == (len(y), 3)
    assert probe.score(X, y) == probe.best_estimator_.score(X, y)


def _all_correct_shots():
    """1 shot and 1 validation shot per class, far apart: every C is right."""
    X = np.array([[0.0, 0], [10, 0], [0, 10], [0.5, 0], [10.5, 0], [0, 10.5]])
    return X, np.array([0, 1, 2, 0, 1, 2]), [(np.arange(3), np.arange(3, 6))]


def test_fewshot_grid_search_breaks_accuracy_ties_by_log_loss():
    X, y, cv = _all_correct_shots()
    grid = [1e-4, 1e-2, 1.0, 1e2]
    search = FewShotGridSearchCV(LogisticRegression(), {"C": grid}, cv=cv).fit(X, y)
    assert (search.cv_results_["mean_test_score"] == 1.0).all()  # a 4-way tie
    losses = [
        log_loss(y[3:], LogisticRegression(C=C).fit(X[:3], y[:3]).predict_proba(X[3:]))
        for C in grid
    ]
    assert search.best_params_ == {"C": grid[int(np.argmin(losses))]}
    assert search.best_params_ != {"C": grid[0]}  # GridSearchCV's pick


def test_fewshot_grid_search_middle_of_ties_without_probabilities():
    X, y, cv = _all_correct_shots()
    grid = [1e-3, 1e-2, 1e-1, 1.0, 10.0]
    search = FewShotGridSearchCV(RidgeClassifier(), {"alpha": grid}, cv=cv).fit(X, y)
    assert "mean_test_log_loss" not in search.cv_results_
    assert search.best_params_ == {"alpha": 1e-1}
    assert search.decision_function(X).shape == (6, 3)
    assert not hasattr(search, "predict_proba")


def test_fewshot_grid_search_needs_one_split(blobs):
    X, y = blobs
    search = FewShotGridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=3)
    with pytest.raises(ValueError, match="cv must yield one .* got 3; pass Few"):
        search.fit(X, y)


@parametrize_with_checks(
    [
        FewShotGridSearchCV(
            LogisticRegression(), {"C": [0.1, 1.0]},
            cv=FewShotSplit(1, n_draws=1, random_state=0),
        )
    ]
)  # fmt: skip
def test_fewshot_grid_search_is_a_scikit_learn_estimator(estimator, check):
    check(estimator)


def _realdata_probe_snippet():
    """The few-shot probe snippet of the Real data page, as written there."""
    page = Path(__file__).resolve().parents[1] / "docs/user_guide/realdata.rst"
    text = page.read_text(encoding="utf-8")
    start = text.index("\n\n", text.rindex("::\n", 0, text.index("cv = FewShotSplit(")))
    block = []
    for line in text[start + 2 :].splitlines():
        if line and not line.startswith(" "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block))


def test_documented_probe_pattern_trains_k_shots_per_class(monkeypatch):
    # the Real data page's pattern: C chosen on 2 validation shots, yet every
    # probe (the final one included) is trained on the 2 shots per class
    import sklearn.linear_model

    monkeypatch.setattr(sklearn.linear_model, "LogisticRegression", _SpyProbe)
    _SpyProbe.fitted = []
    namespace = {}
    exec(_realdata_probe_snippet(), namespace)  # the page's own data (digits)
    assert namespace["scores"].shape == (50,)
    assert len(_SpyProbe.fitted) == 50 * 10  # 9 candidates + the final fit
    n_classes = len(np.unique(namespace["y"]))
    assert {tuple(counts) for _, counts in _SpyProbe.fitted} == {(2,) * n_classes}


def test_model_selection_and_real_loaders_do_not_import_torch():
    code = (
        "import sys\n"
        "import sklcm.model_selection, sklcm.datasets\n"
        "sklcm.datasets.load_digits_halves()\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("random_state", [None, "RandomState"])
def test_fewshot_split_without_test_size_takes_any_random_state(blobs, random_state):
    X, y = blobs
    if random_state == "RandomState":
        random_state = np.random.RandomState(0)
    splits = list(FewShotSplit(2, n_draws=3, random_state=random_state).split(X, y))
    assert all(len(train) + len(test) == len(y) for train, test in splits)
