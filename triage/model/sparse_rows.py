"""Compressed sparse rows in plain numpy: the feature matrices classifying works with.

scipy.sparse does this too, but importing it (with scipy.special) is a third of a mail
filter's start-up, and classifying needs only four things of a matrix: stacking blocks side
by side or on top of each other, a product with dense weights, and a dense slice of columns.
Training still hands scipy matrices to scikit-learn (`to_scipy`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class SparseRows:
    """CSR parts as scipy names them: row i holds `data[indptr[i]:indptr[i+1]]` at columns
    `indices[...]`, sorted and without repeats within a row."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    n_columns: int

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.indptr) - 1, self.n_columns

    @classmethod
    def from_dense(cls, dense: np.ndarray) -> SparseRows:
        rows, columns = np.nonzero(dense)
        indptr = np.zeros(dense.shape[0] + 1, dtype=np.int32)
        np.cumsum(np.bincount(rows, minlength=dense.shape[0]), out=indptr[1:])
        return cls(dense[rows, columns], columns.astype(np.int32), indptr, dense.shape[1])

    def row_of_each_entry(self) -> np.ndarray:
        return np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))

    def __matmul__(self, weights: np.ndarray) -> np.ndarray:
        """Rows times dense weights (n_columns x k)."""
        return self.dot_transposed(weights.T)

    def dot_transposed(self, coef: np.ndarray) -> np.ndarray:
        """Rows times `coef.T` for coef of shape (k, n_columns), without copying coef.

        Each row's products are summed one by one in column order, starting from zero, as
        scipy's CSR product does (bincount adds its weights in order), so the results are the
        same to the last bit."""
        n = self.shape[0]
        rows = self.row_of_each_entry()
        terms = coef.take(self.indices, axis=1)
        terms *= self.data
        return np.column_stack(
            [np.bincount(rows, weights=products, minlength=n) for products in terms]
        )

    def dense_columns(self, first: int) -> np.ndarray:
        """Columns `first`.. as a dense array."""
        out = np.zeros((self.shape[0], self.n_columns - first), dtype=np.float64)
        keep = self.indices >= first
        out[self.row_of_each_entry()[keep], self.indices[keep] - first] = self.data[keep]
        return out

    def to_scipy(self) -> Any:
        from scipy import sparse  # training only

        return sparse.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)


def hstack(blocks: Sequence[SparseRows]) -> SparseRows:
    """Blocks side by side: each row is the blocks' rows one after the other, their columns
    shifted by the widths before them."""
    n = blocks[0].shape[0]
    offsets = np.cumsum([0] + [b.n_columns for b in blocks])
    lengths = np.column_stack([np.diff(b.indptr) for b in blocks])  # n x blocks
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths.sum(axis=1), out=indptr[1:])
    dtype = np.result_type(*(b.data for b in blocks))
    data = np.empty(int(indptr[-1]), dtype=dtype)
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    # where each block's entries go: its row's start plus the lengths of the blocks before it
    before = np.cumsum(lengths, axis=1) - lengths
    for k, block in enumerate(blocks):
        rows = block.row_of_each_entry()
        within = np.arange(len(block.data)) - block.indptr[rows]
        at = indptr[rows] + before[rows, k] + within
        data[at] = block.data
        indices[at] = block.indices + offsets[k]
    return SparseRows(data, indices, indptr.astype(np.int32), int(offsets[-1]))


def vstack(blocks: Sequence[SparseRows]) -> SparseRows:
    """Blocks of the same width one above the other."""
    starts = np.cumsum([0] + [len(b.data) for b in blocks[:-1]])
    indptr = np.concatenate([[0]] + [b.indptr[1:] + s for b, s in zip(blocks, starts, strict=True)])
    return SparseRows(
        np.concatenate([b.data for b in blocks]),
        np.concatenate([b.indices for b in blocks]),
        indptr.astype(np.int32),
        blocks[0].n_columns,
    )
