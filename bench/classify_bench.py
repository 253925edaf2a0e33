#!/usr/bin/env python3
"""Classification benchmark: raw bytes -> Decision on ONE core, over ../shared/corpora/.

    python bench/classify_bench.py [--model FILE] [--corpus DIR] [--no-write]

Measures what the issue's targets are about:

- throughput from raw bytes (parse + features + predict + policy), batched exactly as
  `triage classify` batches (its `classify_stream`), wall clock and `time.process_time`;
- per-message latency when one message is classified at a time (the daemon's case), p50/p95;
- the model file's size, and its load time in a fresh process (cold: imports included);
- peak RSS.

Single core: the thread-count variables of every BLAS/OpenMP runtime are set to 1 before numpy
is imported, and the process is pinned to one CPU. The corpus is read into memory first, so disk
speed is not measured. Results are printed and written to the "Classification" section of
docs/benchmarks.md (other sections of that file are left alone).

Without --model the shipped model (models/triage.model) is used; when there is none yet, a model
is trained from training_data/ first (minutes) and the table says the model was provisional.
"""

from __future__ import annotations

import os

_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "BLIS_NUM_THREADS",
)
for _variable in _THREAD_VARIABLES:
    os.environ[_variable] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

# ruff: noqa: E402 - the environment above must be set before numpy is imported
import argparse
import contextlib
import json
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np
import sklearn

from triage.commands.classify import BATCH, classify_stream
from triage.commands.inputs import iter_messages
from triage.errors import MessageParseError
from triage.message.parse import parse_message
from triage.model.classifier import CHUNK, Classifier, shipped_model_path
from triage.model.features import prepare

DEFAULT_CORPUS = REPO.parent / "shared" / "corpora"
DOC = REPO / "docs" / "benchmarks.md"
SECTION = "## Classification"
TARGET_RATE = 2_000
TARGET_SIZE_MB = 20
TARGET_LOAD_S = 1.0

# Peak RSS is read from VmHWM: ru_maxrss survives execve on Linux, so a child started from this
# (large) process would report the parent's size.
COLD_LOAD = """
import json, re, resource, sys, time
started = time.perf_counter()
from triage.model.classifier import Classifier
imported = time.perf_counter()
Classifier.load(__import__("pathlib").Path(sys.argv[1]))
loaded = time.perf_counter()
try:
    status = open("/proc/self/status").read()
    rss_kb = int(re.search(r"VmHWM:\\s*(\\d+)", status).group(1))
except (OSError, AttributeError):
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"import": imported - started, "load": loaded - imported, "rss_kb": rss_kb}))
"""


# ------------------------------------------------------------------------------ measuring


def read_corpus(corpus: Path) -> list[tuple[str, bytes]]:
    items = list(iter_messages([str(corpus)]))
    if not items:
        raise SystemExit(f"no .eml files under {corpus}")
    return items


def throughput(classifier: Classifier, items: list[tuple[str, bytes]], repeat: int) -> dict:
    """Messages per second through classify_stream, best and median of `repeat` passes."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        done = sum(1 for _ in classify_stream(classifier, items))
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        assert done == len(items)
    n = len(items)
    return {
        "best": n / min(walls),
        "median": n / statistics.median(walls),
        "cpu": n / statistics.median(cpus),
        "wall_s": statistics.median(walls),
        "cpu_s": statistics.median(cpus),
    }


def stages(classifier: Classifier, items: list[tuple[str, bytes]], repeat: int) -> dict:
    """Per-message CPU microseconds (best of `repeat`) of parsing, preparing the model input
    (triage.model.features: model text and signals), vectorising it (n-grams, the feature matrix),
    and prediction + evidence + policy, in the chunks `Classifier.classify` works in."""
    messages = []
    for _path, raw in items:
        try:
            messages.append(parse_message(raw))
        except MessageParseError:  # classify_stream reports these and goes on
            continue
    chunks = [messages[start : start + CHUNK] for start in range(0, len(messages), CHUNK)]
    best: dict[str, float] = {}
    for _ in range(repeat):
        spent = dict.fromkeys(("parse", "prepare", "features", "decide"), 0.0)
        t0 = time.process_time()
        for _path, raw in items:
            with contextlib.suppress(MessageParseError):
                parse_message(raw)
        spent["parse"] = time.process_time() - t0
        for chunk in chunks:
            t0 = time.process_time()
            prepare(chunk)
            t1 = time.process_time()
            matrices = classifier.feature_matrices(chunk)  # prepare() again, then the matrix
            t2 = time.process_time()
            classifier.classify_features(chunk, *matrices)
            t3 = time.process_time()
            spent["prepare"] += t1 - t0
            spent["features"] += t2 - t1
            spent["decide"] += t3 - t2
        for key, value in spent.items():
            best[key] = min(best.get(key, value), value)
    n = len(items)
    return {
        "parse_us": best["parse"] / n * 1e6,
        "prepare_us": best["prepare"] / n * 1e6,
        "vectorise_us": (best["features"] - best["prepare"]) / n * 1e6,
        "predict_us": best["decide"] / n * 1e6,
    }


def latencies(classifier: Classifier, items: list[tuple[str, bytes]]) -> dict:
    """One message at a time: parse, then classify a batch of one."""
    times = []
    for _path, raw in items:
        started = time.perf_counter()
        with contextlib.suppress(MessageParseError):  # an unparseable message took time too
            classifier.classify([parse_message(raw)])
        times.append(time.perf_counter() - started)
    ms = np.asarray(times) * 1e3
    return {
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
    }


def cold_load(model: Path, runs: int) -> dict:
    """Import triage and load the model in fresh, single-core processes; medians."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    results = []
    for _ in range(runs):
        started = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-c", COLD_LOAD, str(model)],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode:
            raise SystemExit(f"loading {model} in a fresh process failed:\n{child.stderr}")
        out = child.stdout
        process = time.perf_counter() - started
        results.append(dict(json.loads(out), process=process))
    return {
        key: statistics.median(r[key] for r in results)
        for key in ("import", "load", "process", "rss_kb")
    }


# ----------------------------------------------------------------------------- the machine


def peak_rss_kb() -> int:
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmHWM:\s*(\d+)", status).group(1))  # type: ignore[union-attr]
    except (OSError, AttributeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    found = re.search(r"(?m)^model name\s*:\s*(.+)$", text)
    return found.group(1).strip() if found else platform.machine()


def git_revision() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "unknown"
    return revision + (
        " + uncommitted changes" if git("status", "--porcelain", "--", "triage") else ""
    )


def provisional_model(directory: Path) -> Path:
    from triage.training import pipeline as model_store
    from triage.training.corpora import default_data_dir, fit, load_labelled

    data_dir = default_data_dir()
    if not (data_dir / "labels.csv").exists():
        raise SystemExit(
            f"no shipped model at {shipped_model_path()} and no labelled data in "
            f"{data_dir}: pass --model FILE"
        )
    print(
        f"no shipped model: training a provisional one from {data_dir} (takes minutes)",
        file=sys.stderr,
    )
    data = load_labelled(data_dir)
    model = fit(data)
    model.metadata.update(version=f"provisional-{data.fingerprint[:12]}")
    path = directory / "triage.model"
    model_store.save(model, path)
    return path


# ---------------------------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(r: dict) -> str:
    t, s, lat, cold = r["throughput"], r["stages"], r["latency"], r["cold"]
    size_mb = r["model_bytes"] / 1e6
    cold_total = cold["import"] + cold["load"]
    rows = [
        (
            f"Throughput from raw bytes, batched as `triage classify` (best of {r['repeat']})",
            f"{t['best']:,.0f} msg/s",
            f"≥ {TARGET_RATE:,} msg/s",
            verdict(t["best"] >= TARGET_RATE),
        ),
        ("Throughput, median pass", f"{t['median']:,.0f} msg/s", "", ""),
        (
            "Throughput by `time.process_time` (CPU), median pass",
            f"{t['cpu']:,.0f} msg/s",
            f"≥ {TARGET_RATE:,} msg/s",
            verdict(t["cpu"] >= TARGET_RATE),
        ),
        (
            "Per message, CPU: parse / prepare (model text, signals) / vectorise (n-grams) / "
            "predict + evidence + policy",
            f"{s['parse_us']:.0f} / {s['prepare_us']:.0f} / {s['vectorise_us']:.0f} / "
            f"{s['predict_us']:.0f} µs",
            "",
            "",
        ),
        (
            "Latency, one message at a time: p50 / p95",
            f"{lat['p50']:.2f} / {lat['p95']:.2f} ms",
            "",
            "",
        ),
        (
            "Latency, one message at a time: p99 / max",
            f"{lat['p99']:.2f} / {lat['max']:.1f} ms",
            "",
            "",
        ),
        (
            "Model file size",
            f"{size_mb:.1f} MB",
            f"≤ {TARGET_SIZE_MB} MB",
            verdict(size_mb <= TARGET_SIZE_MB),
        ),
        (
            "Model load in a fresh process: model file to ready `Classifier`",
            f"{cold['load']:.2f} s",
            f"< {TARGET_LOAD_S:.0f} s",
            verdict(cold["load"] < TARGET_LOAD_S),
        ),
        (
            "... plus importing triage (numpy, scipy.sparse; no scikit-learn)",
            f"{cold['import']:.2f} + {cold['load']:.2f} = {cold_total:.2f} s",
            "",
            "over 1 s" if cold_total >= TARGET_LOAD_S else "under 1 s",
        ),
        (
            "... plus interpreter start: `python` to loaded model",
            f"{cold['process']:.2f} s",
            "",
            "",
        ),
        (
            "Peak RSS, fresh process after loading the model",
            f"{cold['rss_kb'] / 1024:.0f} MB",
            "",
            "",
        ),
        (
            "Peak RSS of the benchmark (corpus held in memory)",
            f"{r['rss_kb'] / 1024:.0f} MB",
            "",
            "",
        ),
    ]
    m = r["machine"]
    lines = [
        SECTION,
        "",
        "Written by `python bench/classify_bench.py`; rerun it to refresh this section.",
        "",
        f"- Date: {r['date']}",
        f"- Machine: {m['cpu']}, nproc {m['nproc']}, pinned to one CPU with BLAS/OpenMP threads "
        f"at 1; load average {m['load']} at the start",
        f"- Python {m['python']}, scikit-learn {m['sklearn']}, numpy {m['numpy']}",
        f"- Code: {r['revision']}",
        f"- Model: `{r['model_name']}`, version `{r['model_version']}`"
        + (
            " (**provisional**: trained by the benchmark because no model is shipped yet)"
            if r["provisional"]
            else ""
        ),
        f"- Corpus: {r['messages']:,} messages ({r['corpus_mb']:.1f} MB) from "
        f"`{r['corpus']}`, read into memory before timing",
        "",
        *(
            [
                f"Other processes kept the machine busy (load average {m['load']} on {m['nproc']} "
                "CPUs): wall-clock rows are inflated; the `time.process_time` row is the better "
                "estimate of what one free core does.",
                "",
            ]
            if float(m["load"]) >= (m["nproc"] or 1)
            else []
        ),
        "| measure | result | target | |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
    ]
    return "\n".join(lines)


def write_section(text: str, doc: Path = DOC) -> None:
    """Replace the Classification section of docs/benchmarks.md, keeping every other one."""
    current = doc.read_text() if doc.exists() else "# Benchmarks\n"
    # up to the next section, or the marker comment another benchmark put before its own
    pattern = re.compile(rf"(?ms)^{re.escape(SECTION)}\s*$.*?(?=^## |^<!-- |\Z)")
    block = text.rstrip("\n") + "\n\n"
    if pattern.search(current):
        updated = pattern.sub(lambda _m: block, current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + block
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(updated.rstrip("\n") + "\n")


# ------------------------------------------------------------------------------------ main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model file (default: the shipped model)")
    parser.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help=f"directory of .eml files, read recursively ({DEFAULT_CORPUS})",
    )
    parser.add_argument("--repeat", type=int, default=3, help="throughput passes (3)")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh-process loads (5)")
    parser.add_argument(
        "--no-write", action="store_true", help="print only; do not update docs/benchmarks.md"
    )
    args = parser.parse_args(argv)

    if not args.corpus.is_dir():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as scratch:
        return run(args, Path(scratch))


def run(args: argparse.Namespace, scratch: Path) -> int:
    provisional = False
    model_path = args.model or shipped_model_path()
    if args.model is None and not model_path.exists():
        model_path, provisional = provisional_model(scratch), True

    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0,)
    items = read_corpus(args.corpus)
    classifier = Classifier.load(model_path)
    list(classify_stream(classifier, items[:BATCH]))  # warm caches and lazy imports

    results = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {
            "cpu": cpu_model(),
            "nproc": os.cpu_count(),
            "load": f"{load[0]:.2f}",
            "python": platform.python_version(),
            "sklearn": sklearn.__version__,
            "numpy": np.__version__,
        },
        "revision": git_revision(),
        "model_name": model_path.name
        if provisional
        else str(model_path.relative_to(REPO))
        if model_path.is_relative_to(REPO)
        else str(model_path),
        "model_version": classifier.version,
        "provisional": provisional,
        "corpus": os.path.relpath(args.corpus, REPO),
        "messages": len(items),
        "corpus_mb": sum(len(raw) for _p, raw in items) / 1e6,
        "repeat": args.repeat,
        "throughput": throughput(classifier, items, args.repeat),
        "stages": stages(classifier, items, args.repeat),
        "latency": latencies(classifier, items),
        "model_bytes": model_path.stat().st_size,
        "cold": cold_load(model_path, args.cold_runs),
        "rss_kb": peak_rss_kb(),
    }
    text = render(results)
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"written to {DOC.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
