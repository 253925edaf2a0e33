"""The fuzz run of tests/test_fuzz.py at scale, with the shipped model and timings.

    python bench/fuzz.py [--count 10000] [--seed 7]

Every mutated message must parse (or be empty), get a decision, and pass through
`triage filter` byte for byte with only triage's own headers added. Prints the figures that
docs/reliability.md records.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_fuzz import fuzzed  # noqa: E402  the one generator, shared with the test

from triage.commands.filter import add_headers  # noqa: E402
from triage.errors import MessageParseError  # noqa: E402
from triage.message.parse import parse_message  # noqa: E402
from triage.model.classifier import Classifier  # noqa: E402

OURS = [("X-Triage-Class", "other")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    classifier = Classifier.load()
    failures, empty, forged, slowest = 0, 0, 0, 0.0
    started = time.perf_counter()
    for raw, clean in fuzzed(args.seed, args.count):
        forged += raw != clean
        try:
            began = time.perf_counter()
            msg = parse_message(raw)
            slowest = max(slowest, time.perf_counter() - began)
            classifier.classify([msg])
        except MessageParseError:
            empty += 1
        except Exception as exc:  # noqa: BLE001 - counted and shown: this is what we look for
            failures += 1
            print(f"exception: {type(exc).__name__}: {exc}", file=sys.stderr)
        out = b"".join(bytes(piece) for piece in add_headers(raw, OURS))
        newline = b"\r\n" if b"X-Triage-Class: other\r\n" in out else b"\n"
        if out.replace(b"X-Triage-Class: other" + newline, b"", 1) != clean:
            failures += 1
            print(f"filter changed a message: {raw[:80]!r}", file=sys.stderr)
    seconds = time.perf_counter() - started
    print(
        f"{args.count} mutated messages (seed {args.seed}), {forged} with forged X-Triage "
        f"headers: {failures} failures, {empty} empty; slowest parse {slowest * 1000:.1f} ms; "
        f"{seconds:.1f} s in all"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
