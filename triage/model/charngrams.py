"""Character n-grams at numpy speed: hashed byte n-grams over a whole batch at once.

scikit-learn's char analyzers build every n-gram as a Python string, which at thousands of
messages a second costs more than everything else together. Here each document's opening is
lower-cased UTF-8 bytes; the n-grams of a whole batch are hashed in a handful of vectorised
numpy operations, and the buckets seen in at least `min_df` training documents are kept (the
rest are dropped, as a vocabulary's rare terms would be). Output is TF-IDF weighted and
L2-normalised like TfidfVectorizer's. No scikit-learn here: classifying uses this class as it is;
training wraps it in an estimator (triage.training.estimators).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from triage.model.sparse_rows import SparseRows, vstack

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads bits evenly
_BASE = np.uint64(257)
CHUNK_DOCS = 512  # documents hashed at once: memory grows with it, speed hardly does


class CharNgramTfidf:
    """TF-IDF over hashed byte n-grams of the first `max_chars` characters of each text; `kept`
    are the buckets that have a column (in column order), `idf` their weights."""

    def __init__(
        self,
        ngram_range: tuple[int, int],
        bits: int,
        max_chars: int,
        kept: np.ndarray,
        idf: np.ndarray,
    ) -> None:
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.bits = int(bits)
        self.max_chars = int(max_chars)
        self.kept = kept
        self.idf = idf
        self.columns = np.full(1 << self.bits, -1, dtype=np.int32)
        self.columns[kept] = np.arange(len(kept), dtype=np.int32)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        ngram_range: tuple[int, int] = (3, 5),
        bits: int = 20,
        max_chars: int = 1_000,
        min_df: int = 3,
    ) -> CharNgramTfidf:
        """Keep the buckets found in at least `min_df` of `texts`, with smooth idf weights."""
        unfitted = cls(ngram_range, bits, max_chars, np.zeros(0, np.int32), np.zeros(0, np.float32))
        document_frequency = np.zeros(1 << bits, dtype=np.int64)
        for start in range(0, len(texts), CHUNK_DOCS):  # a corpus at once peaks at ~0.6 GB
            docs, buckets = unfitted._grams(texts[start : start + CHUNK_DOCS])
            pairs = np.unique((docs << bits) | buckets)
            document_frequency += np.bincount(pairs & ((1 << bits) - 1), minlength=1 << bits)
        kept = np.flatnonzero(document_frequency >= min_df).astype(np.int32)
        idf = (np.log((1 + len(texts)) / (1 + document_frequency[kept])) + 1).astype(np.float32)
        return cls(ngram_range, bits, max_chars, kept, idf)

    def _encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every document's opening as lower-cased UTF-8 bytes, all in one array: (bytes as
        uint64, document of each byte, bytes left in its document from each byte on)."""
        encoded = [str(t)[: self.max_chars].lower().encode("utf-8", "replace") for t in texts]
        lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8).astype(np.uint64)
        docs = np.repeat(np.arange(len(encoded)), lengths)
        left = np.repeat(np.cumsum(lengths), lengths) - np.arange(len(data))
        return data, docs, left

    def _hashes(self, data: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """(n, bucket of the n-gram starting at each byte) for each n; buckets of n-grams that
        run past their document's end are garbage, for the caller to mask out. The bucket
        array is reused from one n to the next."""
        low, high = self.ngram_range
        size = len(data)
        padded = np.concatenate((data, np.zeros(high, dtype=np.uint64)))
        shift = np.uint64(64 - self.bits)
        running = np.zeros(size, dtype=np.uint64)
        bucket = np.empty(size, dtype=np.uint64)
        for offset in range(high):
            np.multiply(running, _BASE, out=running)
            np.add(running, padded[offset : offset + size], out=running)
            n = offset + 1
            if n >= low:
                np.add(running, np.uint64(n), out=bucket)
                np.multiply(bucket, _MULTIPLIER, out=bucket)
                np.right_shift(bucket, shift, out=bucket)
                yield n, bucket.view(np.int64)  # below 2**bits: the same number

    def _grams(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(document, bucket) of every n-gram occurrence."""
        data, docs, left = self._encode(texts)
        found_docs, found_buckets = [], []
        for n, buckets in self._hashes(data):
            valid = left >= n
            found_docs.append(docs[valid])
            found_buckets.append(buckets[valid])  # a copy: the bucket array is reused
        return np.concatenate(found_docs), np.concatenate(found_buckets)

    def transform(self, texts: Sequence[str]) -> SparseRows:
        """Sublinear TF-IDF rows, l2-normalised; a row depends on its text alone, so a long
        list is done in chunks of CHUNK_DOCS with the same result and a bounded peak."""
        if len(texts) <= CHUNK_DOCS:
            return self._transform(texts)
        return vstack(
            [
                self._transform(texts[start : start + CHUNK_DOCS])
                for start in range(0, len(texts), CHUNK_DOCS)
            ]
        )

    def _transform(self, texts: Sequence[str]) -> SparseRows:
        n_docs, n_columns = len(texts), len(self.idf)
        data, docs, left = self._encode(texts)
        low, high = self.ngram_range
        # Each occurrence becomes one integer, document * n_columns + column, and a single sort
        # then groups the batch by document and each document by column (canonical CSR);
        # repeats are counted where the sorted keys change. Occurrences to drop (past the
        # document's end, or a bucket without a column) get the largest key and are cut off
        # after the sort. uint32 keys sort about twice as fast and suffice for any batch.
        key_type = np.uint32 if n_docs * n_columns < 2**32 - 1 else np.uint64
        dropped = np.iinfo(key_type).max
        doc_base = (docs * n_columns).astype(key_type)
        keys = np.empty((high - low + 1, len(data)), dtype=key_type)
        for n, buckets in self._hashes(data):
            columns = self.columns[buckets]
            row = keys[n - low]
            np.add(doc_base, columns.astype(key_type), out=row)
            row[(left < n) | (columns < 0)] = dropped
        key = keys.ravel()
        key.sort()
        key = key[: np.searchsorted(key, dropped)]
        change = np.empty(len(key), dtype=bool)
        change[:1] = True
        np.not_equal(key[1:], key[:-1], out=change[1:])
        starts = np.flatnonzero(change)
        counts = np.diff(np.append(starts, len(key))).astype(np.float32)
        unique = key[starts]
        row_starts = (np.arange(n_docs + 1) * n_columns).astype(key_type)
        indptr = np.searchsorted(unique, row_starts).astype(np.int32)
        rows = np.repeat(np.arange(n_docs), np.diff(indptr))
        indices = (unique - row_starts[rows]).astype(np.int32)
        data = (np.log(counts) + 1) * self.idf[indices]  # sublinear tf-idf
        norms = np.sqrt(np.bincount(rows, weights=data**2, minlength=n_docs))
        norms[norms == 0] = 1
        data /= norms[rows].astype(np.float32)
        return SparseRows(data, indices, indptr, n_columns)
