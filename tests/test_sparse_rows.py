"""triage.model.sparse_rows against dense numpy: classifying relies on it instead of
scipy.sparse."""

from __future__ import annotations

import numpy as np
import pytest

from triage.model.sparse_rows import SparseRows, hstack, vstack


def random_dense(rng: np.random.Generator, rows: int, columns: int) -> np.ndarray:
    """Mostly zeros, with whole empty rows (a message with no known word) among them."""
    dense = rng.random((rows, columns)) * (rng.random((rows, columns)) < 0.2)
    dense[rng.random(rows) < 0.3] = 0.0
    return dense


@pytest.mark.parametrize("seed", range(5))
def test_stacking_products_and_column_slices_match_dense_arithmetic(seed: int) -> None:
    rng = np.random.default_rng(seed)
    blocks = [random_dense(rng, 9, width) for width in (4, 1, 7)]
    stacked = hstack([SparseRows.from_dense(b) for b in blocks])
    wide = np.hstack(blocks)
    assert stacked.shape == wide.shape
    assert np.array_equal(stacked.dense_columns(0), wide)
    assert np.array_equal(stacked.dense_columns(5), wide[:, 5:])
    weights = rng.standard_normal((wide.shape[1], 3))
    assert np.allclose(stacked @ weights, wide @ weights, rtol=0, atol=1e-12)
    assert np.array_equal(
        stacked.dot_transposed(np.ascontiguousarray(weights.T)), stacked @ weights
    )
    # the same sums in the same order as scipy's, to the last bit
    assert np.array_equal(stacked @ weights, stacked.to_scipy() @ weights)

    tall = vstack([SparseRows.from_dense(b) for b in (blocks[0], blocks[0][::-1])])
    assert np.array_equal(tall.dense_columns(0), np.vstack([blocks[0], blocks[0][::-1]]))


def test_an_all_empty_matrix_multiplies_to_zeros() -> None:
    empty = SparseRows.from_dense(np.zeros((3, 5)))
    assert np.array_equal(empty @ np.ones((5, 2)), np.zeros((3, 2)))
