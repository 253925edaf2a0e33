"""The model file: a self-describing envelope with two sections, checked before either is used.

    TRIAGE-MODEL\\n          magic line
    4 bytes                  length of the header, big-endian
    header                   JSON: format version, classes, signals, training-data fingerprint,
                             metrics, and the index, size and SHA-256 of both sections
    arrays                   what classifying needs: named numpy arrays, raw little-endian bytes
    payload                  what training needs: the scikit-learn pipeline, the offense heads
                             and the training rows, as joblib wrote them

Classifying reads the header and the arrays only. Arrays are plain numbers, so nothing in them
can run code, and they do not depend on the installed scikit-learn: `triage run`, `classify` and
`filter` never import it. The payload is a pickle, unpickled only by `triage learn` and the
tests, and only after its checksum and scikit-learn version are checked (triage.training.pipeline),
and, for `triage learn`, only when triage itself wrote it: its payload digest must be the shipped
model's (recorded in the package beside it) or one that `triage train` recorded in the state
directory. A checksum alone proves nothing: whoever swaps the file can recompute it.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from triage.errors import ModelError
from triage.files import write_atomically
from triage.model.features import SIGNAL_NAMES

FORMAT_VERSION = 4
MAGIC = b"TRIAGE-MODEL\n"
_LENGTH = struct.Struct(">I")
# what an array may hold: numbers, and text as UTF-8 bytes (never Python objects)
_DTYPES = frozenset({"<f8", "<f4", "<i8", "<i4", "|u1", "|b1"})
TRUSTED_MODELS = "trusted-models"  # in the state directory: digests of models triage trained


def encode_arrays(arrays: dict[str, np.ndarray]) -> tuple[dict[str, Any], bytes]:
    """(index, bytes) of named arrays, in name order so that equal arrays give equal bytes."""
    index, chunks, offset = {}, [], 0
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        array = array.astype(array.dtype.newbyteorder("<"), copy=False)
        if array.dtype.str not in _DTYPES:
            raise ModelError(f"array {name} has dtype {array.dtype}, not a plain number type")
        data = array.tobytes()
        index[name] = {
            "dtype": array.dtype.str,
            "shape": list(array.shape),
            "offset": offset,
            "bytes": len(data),
        }
        chunks.append(data)
        offset += len(data)
    return index, b"".join(chunks)


def write(
    path: Path, metadata: dict[str, Any], arrays: dict[str, np.ndarray], payload: bytes
) -> None:
    """Write atomically: a crash mid-write never leaves a half-written model in place."""
    index, array_bytes = encode_arrays(arrays)
    header = dict(metadata)
    header.update(
        format_version=FORMAT_VERSION,
        signals=list(SIGNAL_NAMES),
        arrays=index,
        arrays_bytes=len(array_bytes),
        arrays_sha256=hashlib.sha256(array_bytes).hexdigest(),
        payload_bytes=len(payload),
        payload_sha256=hashlib.sha256(payload).hexdigest(),
    )
    encoded = json.dumps(header, sort_keys=True).encode()
    write_atomically(path, MAGIC + _LENGTH.pack(len(encoded)) + encoded + array_bytes + payload)


def _read_header(path: Path, stream: BinaryIO) -> tuple[dict[str, Any], int]:
    """The header, checked, and where the arrays start."""
    start = stream.read(len(MAGIC) + _LENGTH.size)
    if not start.startswith(MAGIC) or len(start) < len(MAGIC) + _LENGTH.size:
        raise ModelError(f"{path} is not a triage model file")
    (length,) = _LENGTH.unpack(start[len(MAGIC) :])
    try:
        header = json.loads(stream.read(length))
        if not isinstance(header, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError):
        raise ModelError(f"{path} has a corrupt header; retrain with `triage train`") from None
    if header.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{path} has model format {header.get('format_version')}, this triage reads "
            f"format {FORMAT_VERSION}; retrain with `triage train`"
        )
    if header.get("signals") != list(SIGNAL_NAMES):
        raise ModelError(
            f"{path} was trained with different message signals than this triage computes; "
            f"retrain with `triage train`"
        )
    return header, len(MAGIC) + _LENGTH.size + length


def _sizes(path: Path, header: dict[str, Any], header_end: int) -> tuple[int, int]:
    try:
        arrays_bytes, payload_bytes = int(header["arrays_bytes"]), int(header["payload_bytes"])
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"{path} has a corrupt header; retrain with `triage train`") from None
    if path.stat().st_size != header_end + arrays_bytes + payload_bytes:
        raise ModelError(f"{path} is truncated or has trailing bytes; retrain with `triage train`")
    return arrays_bytes, payload_bytes


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror}") from None


def _checked(path: Path, data: bytes, digest: object) -> bytes:
    if hashlib.sha256(data).hexdigest() != digest:
        raise ModelError(f"{path} is corrupt (checksum mismatch); retrain with `triage train`")
    return data


def read_metadata(path: Path) -> dict[str, Any]:
    """The header, after the checks every reader needs (magic, format, signals, size)."""
    with _open(path) as stream:
        header, header_end = _read_header(path, stream)
    _sizes(path, header, header_end)
    return header


def read_arrays(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(header, arrays) for classifying; the payload is neither read nor unpickled."""
    with _open(path) as stream:
        header, header_end = _read_header(path, stream)
        arrays_bytes, _payload = _sizes(path, header, header_end)
        data = _checked(path, stream.read(arrays_bytes), header.get("arrays_sha256"))
    try:
        arrays = {name: _array(data, spec) for name, spec in header["arrays"].items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ModelError(f"{path} has a corrupt array index; retrain with `triage train`") from None
    for name, array in arrays.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ModelError(
                f"{path}: array {name!r} holds NaN or infinity; retrain with `triage train`"
            )
    return header, arrays


def _array(data: bytes, spec: dict[str, Any]) -> np.ndarray:
    """One array of the section, without a copy (read-only, which is all classifying needs)."""
    if spec["dtype"] not in _DTYPES:
        raise ValueError(spec["dtype"])
    count = int(np.prod(spec["shape"], dtype=np.int64))
    array = np.frombuffer(data, dtype=np.dtype(spec["dtype"]), count=count, offset=spec["offset"])
    if array.nbytes != spec["bytes"]:
        raise ValueError("size")
    return array.reshape(spec["shape"])


def read_payload(path: Path) -> tuple[dict[str, Any], bytes]:
    """(header, payload bytes) for training, both sections' checksums verified (the file is
    read whole: training is rare); unpickling is the caller's."""
    with _open(path) as stream:
        header, header_end = _read_header(path, stream)
        arrays_bytes, payload_bytes = _sizes(path, header, header_end)
        _checked(path, stream.read(arrays_bytes), header.get("arrays_sha256"))
        payload = _checked(path, stream.read(payload_bytes), header.get("payload_sha256"))
    return header, payload


def digest_beside(path: Path) -> Path:
    """Where the payload digest of the model at `path` is recorded when it ships in the package."""
    return path.with_name(path.name + ".sha256")


def trusted_digests(state_dir: Path, shipped: Path) -> frozenset[str]:
    """Payload digests of the model files triage wrote: the shipped model's and those that
    `triage train` recorded in the state directory."""
    found: set[str] = set()
    for listing in (digest_beside(shipped), state_dir / TRUSTED_MODELS):
        try:
            found.update(line.strip() for line in listing.read_text("ascii").splitlines())
        except (OSError, UnicodeDecodeError):
            continue
    return frozenset(found - {""})


def record_trusted(path: Path, state_dir: Path, shipped: Path) -> None:
    """Remember that triage wrote the model at `path`: beside it when it is the shipped model,
    in the state directory otherwise."""
    digest = str(read_metadata(path)["payload_sha256"])
    if path.resolve() == shipped.resolve():
        write_atomically(digest_beside(path), (digest + "\n").encode("ascii"))
        return
    listing = state_dir / TRUSTED_MODELS
    if digest not in trusted_digests(state_dir, shipped):
        state_dir.mkdir(parents=True, exist_ok=True)
        with listing.open("a", encoding="ascii") as handle:
            handle.write(digest + "\n")


def read_trusted_payload(path: Path, trusted: frozenset[str]) -> tuple[dict[str, Any], bytes]:
    """read_payload, for a file whose payload digest is one of `trusted`; ModelError otherwise.
    The digest checked is that of the bytes returned, so nothing can be swapped in between."""
    header, payload = read_payload(path)
    if header.get("payload_sha256") not in trusted:
        raise ModelError(
            f"refusing to load {path}: triage did not write it (its digest is neither the "
            f"shipped model's nor one `triage train` recorded); train it here with "
            f"`triage train --output {path}`"
        )
    return header, payload
