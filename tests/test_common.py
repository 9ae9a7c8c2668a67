"""scikit-learn's estimator checks over the sklcm estimators."""

import pytest
from sklearn.utils.estimator_checks import (
    check_global_output_transform_pandas,
    check_global_set_output_transform_polars,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_set_output_transform_polars,
    parametrize_with_checks,
)

from sklcm import CoupledLatentICA
from sklcm.preprocessing import ViewSplitter, ViewStacker


def _tested_estimators():
    """Yield one fast instance per estimator configuration under test.

    Coupled mode (``split=...``) is not listed: the checks feed arrays of
    many widths (1, 3, 4, 10 columns...) and a fixed ``split`` only fits one
    width; tests/test_coupled_ica.py covers it explicitly.
    """
    yield CoupledLatentICA()
    yield CoupledLatentICA(algorithm="picard")
    yield CoupledLatentICA(whiten="pca", max_iter=300)
    # split=1: two views, the first column and the rest, fits every width >= 2
    yield ViewSplitter(split=1)
    yield ViewStacker()
    # The encoder reads X = [x | t]; split=1 fits every width >= 2 that the
    # checks use, and 1-column input must fail anyway.
    from sklcm import MultimodalContrastiveEncoder

    fast = dict(hidden_layer_sizes=(8,), max_epochs=2, batch_size=16, random_state=0)
    yield MultimodalContrastiveEncoder(split=1, **fast)
    yield MultimodalContrastiveEncoder(
        split=1,
        latent_space="box",
        representation="both",
        learn_temperature=True,
        **fast,
    )
    # K-view model (a list split; -1 takes the remaining columns): with the
    # checks' 2-column inputs it has two views; tests/test_multiview_encoder.py
    # covers more views
    yield MultimodalContrastiveEncoder(split=[1, -1], **fast)
    yield MultimodalContrastiveEncoder(
        split=[1, -1],
        latent_space="box",
        subsets="all",
        view="all",
        learn_temperature=True,
        **fast,
    )
    # validation split, early stopping and best-weight restoration
    yield MultimodalContrastiveEncoder(
        split=1,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=1,
        **fast,
    )
    # the temperature chosen on held-out pairs, then refitted
    from sklcm import MultimodalContrastiveEncoderCV

    yield MultimodalContrastiveEncoderCV(
        MultimodalContrastiveEncoder(split=1, **fast), temperatures=(0.5, 1.0), cv=2
    )


# ViewSplitter.transform returns a list of views by design (the list is what
# it hands the next pipeline step); these checks compare transform outputs as
# arrays. tests/test_multiview.py tests the same properties on the list.
_LIST_OUTPUT = "transform returns a list of views, compared here as one array"
EXPECTED_FAILED_CHECKS = {
    "ViewSplitter": {
        name: _LIST_OUTPUT
        for name in (
            "check_estimators_pickle",
            "check_methods_sample_order_invariance",
            "check_methods_subset_invariance",
            "check_pipeline_consistency",
            "check_transformer_data_not_an_array",
            "check_transformer_general",
            "check_transformer_preserve_dtypes",
        )
    },
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(
    list(_tested_estimators()), expected_failed_checks=_expected_failed_checks
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_check_count_is_large():
    """Guard against a parametrisation that silently yields a handful of checks."""
    # A fresh decorator: scikit-learn 1.6 passes the checks as a generator,
    # which the parametrisation above has already consumed.
    mark = parametrize_with_checks(
        list(_tested_estimators()), expected_failed_checks=_expected_failed_checks
    )
    n_checks = len(list(mark.args[1]))
    n_estimators = len(list(_tested_estimators()))
    assert n_checks >= 40 * n_estimators


_SET_OUTPUT_CHECKS = [
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_global_output_transform_pandas,
    check_set_output_transform_polars,
    check_global_set_output_transform_polars,
]


# The pandas checks fit on a DataFrame and transform an array (and vice
# versa) on purpose; the resulting feature-name warnings are expected.
@pytest.mark.filterwarnings("ignore:X (does not have valid|has) feature names")
@pytest.mark.parametrize("check", _SET_OUTPUT_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "estimator",
    # ViewSplitter's set_output wraps each view: tested in test_multiview.py
    [e for e in _tested_estimators() if not isinstance(e, ViewSplitter)],
    ids=lambda e: repr(e),
)
def test_set_output(estimator, check):
    """set_output checks are not in the default check list: run them here."""
    if "pandas" in check.__name__:
        pytest.importorskip("pandas")
    if "polars" in check.__name__:
        pytest.importorskip("polars")
    check(type(estimator).__name__, estimator)
