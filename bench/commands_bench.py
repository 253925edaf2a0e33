#!/usr/bin/env python3
"""triage as users run it, process start to last byte, beside the filters it is compared with.

    python bench/commands_bench.py [--corpus DIR] [--messages N] [--no-write]

- `triage filter`, one process per message (as procmail, maildrop and Sieve run it): p50/p95
  wall time and peak RSS, standalone and answered by a running `triage serve`;
- `triage classify --json` over the whole corpus: messages per second for the whole process,
  interpreter start and model load included (bench/classify_bench.py has the in-memory figure);
- the same for `bogofilter -p`, `spamc` and `rspamc` when they are installed (each one that is
  not is named as skipped).

Runs are interleaved (triage, then each peer, message by message) so that a busy machine slows
all alike. The `triage` found next to this Python is used: install it (`pip install .`) for
figures that match a user's, since an editable install adds ~10 ms to every start. Results are
printed and written to the "Commands as users run them" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
SECTION = "## Commands as users run them"
PEERS = {"bogofilter": ["bogofilter", "-p"], "spamc": ["spamc"], "rspamc": ["rspamc"]}
BOGOFILTER_TRAINING = 200  # messages of each class registered before bogofilter is timed
# A client whose daemon is not running passes mail through untouched at once: not a measurement.
DAEMON_CHECKS = {"spamc": ["spamc", "-K"], "rspamc": ["rspamc", "stat"]}


def peer_missing(name: str) -> str:
    """Why a peer cannot be measured here, or "" when it can."""
    if not shutil.which(PEERS[name][0]):
        return f"{name} (not installed)"
    check = DAEMON_CHECKS.get(name)
    if check and subprocess.run(check, capture_output=True, check=False).returncode != 0:
        return f"{name} (installed, but its daemon is not running)"
    return ""


def triage_command() -> list[str]:
    script = Path(sys.executable).with_name("triage")
    return [str(script)] if script.exists() else [sys.executable, "-m", "triage"]


def corpus_files(corpus: Path, count: int) -> list[Path]:
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and not p.name.startswith("."))
    step = max(1, len(files) // count)
    return files[::step][:count]


def timed(command: list[str], stdin: bytes, env: dict[str, str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in KB) of one run, measured by the child's rusage."""
    start = time.perf_counter()
    child = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        child.stdin.write(stdin)  # type: ignore[union-attr]
        child.stdin.close()  # type: ignore[union-attr]
    except BrokenPipeError:
        raise SystemExit(f"{command[0]} stopped reading its input: not a measurement") from None
    _pid, _status, usage = os.wait4(child.pid, 0)  # the resource usage of this child alone
    return time.perf_counter() - start, usage.ru_maxrss


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def train_bogofilter(corpus: Path, directory: Path) -> None:
    """A wordlist from ham and spam (bogofilter refuses to classify without one)."""
    for folder, flag in (("ham", "-n"), ("spam", "-s")):
        for path in sorted((corpus / folder).glob("*"))[:BOGOFILTER_TRAINING]:
            subprocess.run(
                ["bogofilter", "-d", str(directory), flag], input=path.read_bytes(), check=True
            )


def filters(files: list[Path], runtime: Path) -> dict[str, tuple[list[float], list[int]]]:
    """Per-message times and RSS of every filter, interleaved."""
    triage = triage_command()
    served_env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    alone_env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime / "nothing-here")}
    runs: dict[str, list[tuple[list[str], dict[str, str]]]] = {
        "`triage filter`, standalone": [(triage + ["filter"], alone_env)],
        "`triage filter`, answered by `triage serve`": [(triage + ["filter"], served_env)],
    }
    for name, command in PEERS.items():
        if not peer_missing(name):
            if name == "bogofilter":
                train_bogofilter(files[0].parent.parent, runtime / "bogofilter")
                command = ["bogofilter", "-d", str(runtime / "bogofilter"), "-p"]
            runs[f"`{' '.join(PEERS[name])}`"] = [(command, dict(os.environ))]
    results: dict[str, tuple[list[float], list[int]]] = {name: ([], []) for name in runs}
    for path in files:
        raw = path.read_bytes()
        for name, [(command, env)] in runs.items():
            seconds, rss = timed(command, raw, env)
            results[name][0].append(seconds)
            results[name][1].append(rss)
    return results


def batch(corpus: Path) -> tuple[int, float]:
    """(messages, wall seconds) of `triage classify --json CORPUS`, best of three."""
    command = triage_command() + ["classify", "--json", str(corpus)]
    best = float("inf")
    lines = 0
    for _ in range(3):
        start = time.perf_counter()
        out = subprocess.run(command, capture_output=True, check=True).stdout
        best = min(best, time.perf_counter() - start)
        lines = out.count(b"\n")
    return lines, best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--corpus", type=Path, default=REPO.parent / "shared" / "corpora" / "spamassassin"
    )
    parser.add_argument("--messages", type=int, default=200, help="filter runs per command")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    files = corpus_files(args.corpus, args.messages)
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Path(tmp) / "run"
        runtime.mkdir(mode=0o700)
        server = subprocess.Popen(
            triage_command() + ["serve"],
            stderr=subprocess.DEVNULL,
            env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
        )
        try:
            while not (runtime / "triage" / "filter.sock").exists():
                if server.poll() is not None:
                    raise SystemExit("triage serve did not start")
                time.sleep(0.05)
            results = filters(files, runtime)
        finally:
            server.terminate()
            server.wait()
    messages, seconds = batch(args.corpus)
    skipped = [why for why in map(peer_missing, PEERS) if why]
    rows = [
        f"| {name} | {1000 * statistics.median(t):.1f} ms | {1000 * percentile(t, 0.95):.1f}"
        f" ms | {max(r) / 1024:.0f} MB |"
        for name, (t, r) in results.items()
    ]
    found = subprocess.run(
        [sys.executable, "-c", "import triage; print(triage.__file__)"],
        capture_output=True,
        text=True,
        cwd="/",
    ).stdout.strip()
    install = "editable" if Path(found).resolve().is_relative_to(REPO) else "regular"
    text = "\n".join(
        [
            SECTION,
            "",
            "Written by `python bench/commands_bench.py`; rerun it to refresh this section.",
            "",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.processor() or 'cpu'}, "
            f"nproc {os.cpu_count()}; Python {platform.python_version()}; "
            f"`{' '.join(triage_command())}`"
            f" ({install} install)",
            f"- Filter: {len(files)} messages of `{args.corpus.name}`, "
            "one process each, interleaved",
            f"- Peers not measured: {', '.join(skipped) or 'none'}",
            "",
            "| filter, one process per message | p50 | p95 | peak RSS |",
            "|---|---|---|---|",
            *rows,
            "",
            "| batch, whole process | messages | wall | messages/s |",
            "|---|---|---|---|",
            f"| `triage classify --json {args.corpus.name}` (best of 3) | {messages:,} | "
            f"{seconds:.2f} s | {messages / seconds:,.0f} |",
            "",
        ]
    )
    print(text)
    if not args.no_write:
        doc = DOC.read_text(encoding="utf-8")
        pattern = re.compile(rf"{re.escape(SECTION)}\n.*?(?=\n## |\Z)", re.S)
        doc = (
            pattern.sub(text.rstrip("\n"), doc)
            if pattern.search(doc)
            else doc.rstrip("\n") + "\n\n" + text
        )
        DOC.write_text(doc, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
