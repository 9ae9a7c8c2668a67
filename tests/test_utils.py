"""Tests for the public helpers in sklcm.utils."""

import numpy as np
import pytest

import sklcm
from sklcm.utils import iter_chunks, stack_modalities


def test_public_helpers_live_in_modules_named_for_them():
    assert stack_modalities.__module__ == "sklcm.utils._modalities"
    assert iter_chunks.__module__ == "sklcm.utils._chunks"
    assert sklcm.stack_modalities is stack_modalities


def test_stack_modalities_returns_x_then_t_and_the_split():
    X_x, X_t = np.arange(12.0).reshape(4, 3), -np.arange(8.0).reshape(4, 2)
    X, split = stack_modalities(X_x, X_t)
    assert split == 3
    np.testing.assert_array_equal(X[:, :split], X_x)
    np.testing.assert_array_equal(X[:, split:], X_t)


def test_stack_modalities_needs_paired_rows():
    with pytest.raises(ValueError, match="paired row by row, got 4 and 3 rows"):
        stack_modalities(np.zeros((4, 2)), np.zeros((3, 2)))


def test_iter_chunks_yields_views_of_consecutive_rows():
    X = np.arange(20.0).reshape(10, 2)
    chunks = list(iter_chunks(X, 4))
    assert [len(c) for c in chunks] == [4, 4, 2]
    np.testing.assert_array_equal(np.vstack(chunks), X)
    assert all(np.shares_memory(c, X) for c in chunks)


@pytest.mark.parametrize(
    "chunk_size, error, match",
    [
        (0, ValueError, ">= 1"),
        (2.5, TypeError, "must be an int"),
        (True, TypeError, "int"),
    ],
)
def test_iter_chunks_rejects_bad_chunk_size(chunk_size, error, match):
    with pytest.raises(error, match=match):
        next(iter_chunks(np.zeros((3, 2)), chunk_size))
