"""Peak memory of `triage filter` on one large message, as a mail filter runs it.

    python bench/filter_memory.py [--megabytes 65]

The target (issue 10): at most 1.2 times the message plus 100 MB. Writes nothing; the figures
go into docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

LINE = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 20 + "\n").encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megabytes", type=float, default=65.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.eml"
        with path.open("wb") as out:
            out.write(b"From: a@b.example\nTo: c@d.example\nSubject: big\n\n")
            out.write(LINE * int(args.megabytes * 1024 * 1024 / len(LINE)))
        size = path.stat().st_size / 1e6
        with path.open("rb") as stdin:
            subprocess.run(
                [sys.executable, "-m", "triage", "filter"],
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                check=True,
            )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 * 1.048576  # MB
    limit = 1.2 * size + 100
    print(
        f"message {size:.1f} MB: peak RSS {peak:.0f} MB, limit {limit:.0f} MB "
        f"({'met' if peak <= limit else 'missed'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
