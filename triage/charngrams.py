"""Character n-grams at numpy speed: hashed byte n-grams over a whole batch at once.

scikit-learn's char analyzers build every n-gram as a Python string, which at thousands of
messages a second costs more than everything else together. Here each document's opening is
lower-cased UTF-8 bytes; the n-grams of a whole batch are hashed in a handful of vectorised
numpy operations, and the buckets seen in at least `min_df` training documents are kept (the
rest are dropped, as a vocabulary's rare terms would be). Output is TF-IDF weighted and
L2-normalised like TfidfVectorizer's, so it slots into the same pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads bits evenly
_BASE = np.uint64(257)


class HashedCharNgrams(TransformerMixin, BaseEstimator):
    """TF-IDF over hashed byte n-grams of the first `max_chars` characters of each text."""

    def __init__(self, ngram_range: tuple[int, int] = (3, 5), bits: int = 20,
                 max_chars: int = 1_000, min_df: int = 3) -> None:
        self.ngram_range = ngram_range
        self.bits = bits
        self.max_chars = max_chars
        self.min_df = min_df

    def _grams(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(document, bucket) of every n-gram occurrence, grouped by document, no sorting.

        Hashes are computed position by position for all n at once, so the occurrences come
        out in text order and therefore already grouped by document: a CSR matrix can be built
        from them directly, without the global sort that dominates scipy's COO conversion.
        """
        low, high = self.ngram_range
        encoded = [str(t)[: self.max_chars].lower().encode("utf-8", "replace") for t in texts]
        lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8).astype(np.uint64)
        ends = np.repeat(np.cumsum(lengths), lengths)        # end offset of each byte's document
        docs = np.repeat(np.arange(len(encoded)), lengths)
        padded = np.concatenate((data, np.zeros(high, dtype=np.uint64)))
        positions = np.arange(len(data))
        hashes = np.empty((len(data), high - low + 1), dtype=np.uint64)
        valid = np.empty(hashes.shape, dtype=bool)
        running = np.zeros(len(data), dtype=np.uint64)
        for offset in range(high):
            running = running * _BASE + padded[offset : offset + len(data)]
            n = offset + 1
            if n >= low:
                hashes[:, n - low] = running + np.uint64(n)
                valid[:, n - low] = positions + n <= ends
        shift = np.uint64(64 - self.bits)
        buckets = ((hashes[valid] * _MULTIPLIER) >> shift).astype(np.int64)
        return np.broadcast_to(docs[:, None], valid.shape)[valid], buckets

    def fit(self, texts: Sequence[str], y: object = None) -> HashedCharNgrams:
        docs, buckets = self._grams(texts)
        pairs = np.unique((docs << self.bits) | buckets)
        document_frequency = np.bincount(pairs & ((1 << self.bits) - 1), minlength=1 << self.bits)
        kept = np.flatnonzero(document_frequency >= self.min_df)
        self.columns_ = np.full(1 << self.bits, -1, dtype=np.int32)
        self.columns_[kept] = np.arange(len(kept), dtype=np.int32)
        self.idf_ = (np.log((1 + len(texts)) / (1 + document_frequency[kept])) + 1).astype(
            np.float32)
        return self

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        docs, buckets = self._grams(texts)
        columns = self.columns_[buckets]
        keep = columns >= 0
        docs, columns = docs[keep], columns[keep]
        indptr = np.concatenate(([0], np.cumsum(np.bincount(docs, minlength=len(texts)))))
        counts = sparse.csr_matrix(
            (np.ones(len(columns), dtype=np.float32), columns, indptr),
            shape=(len(texts), len(self.idf_)),
        )
        counts.sum_duplicates()  # per-row C++ sort: cheap, and solvers need canonical rows
        counts.data = (np.log(counts.data) + 1) * self.idf_[counts.indices]  # sublinear tf-idf
        rows = np.repeat(np.arange(len(texts)), np.diff(counts.indptr))
        norms = np.sqrt(np.bincount(rows, weights=counts.data ** 2, minlength=len(texts)))
        norms[norms == 0] = 1
        counts.data /= norms[rows].astype(np.float32)
        return counts

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.array([f"charhash{i}" for i in range(len(self.idf_))], dtype=object)
