"""Evaluation reports: a terminal summary, a JSON file and PNG plots per evaluated set.

matplotlib is imported only here and only when plots are asked for, so the daemon never pays
for it; without it the JSON is still written and the user is told how to get the plots.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from triage.decide.policy import Decision

log = logging.getLogger(__name__)


def summary(title: str, metrics: dict[str, Any]) -> str:
    lines = [
        f"== {title} ({metrics['n']} messages)",
        f"{'class':<14}{'precision':>10}{'recall':>10}{'f1':>8}{'support':>9}",
    ]
    for label, row in metrics["per_class"].items():
        lines.append(
            f"{label:<14}{row['precision']:>10.3f}{row['recall']:>10.3f}"
            f"{row['f1']:>8.3f}{row['support']:>9}"
        )
    lines.append(
        f"macro-F1 {metrics['macro_f1']:.3f}   accuracy {metrics['accuracy']:.3f}   "
        f"relationship-vs-solicitation macro-F1 {metrics['networking_macro_f1']:.3f}"
    )
    called = metrics["relationship_called_solicitation"]
    lines.append(
        f"relationship called solicitation {called:.1%}"
        f"   worst offenders drafted {metrics['worst_offenders_drafted']:.1%}"
        f" ({metrics['draftable_worst_offenders_drafted']:.1%} of those not on a platform)"
        f"   drafts on relationship/other {metrics['drafts_on_relationship_or_other']}"
    )
    matrix = metrics["confusion_matrix"]
    labels = matrix["labels"]
    lines.append("confusion (rows: true, columns: predicted)")
    lines.append(" " * 14 + "".join(f"{label[:12]:>14}" for label in labels))
    for label, row in zip(labels, matrix["rows_true_columns_predicted"], strict=True):
        lines.append(f"{label:<14}" + "".join(f"{n:>14}" for n in row))
    return "\n".join(lines)


def _plots(
    directory: Path,
    name: str,
    metrics: dict[str, Any],
    labels: Sequence[str],
    decisions: Sequence[Decision],
) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    matrix = np.asarray(metrics["confusion_matrix"]["rows_true_columns_predicted"])
    names = metrics["confusion_matrix"]["labels"]
    fig, ax = plt.subplots(figsize=(5, 4.2))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (row, col), value in np.ndenumerate(matrix):
        ax.text(
            col,
            row,
            str(value),
            ha="center",
            va="center",
            color="white" if value > matrix.max() / 2 else "black",
        )
    ax.set_title(f"Confusion matrix: {name}")
    fig.tight_layout()
    path = directory / f"{name}-confusion.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    # Reliability: is "0.9 confident" right 90% of the time?
    confidence = np.array([d.confidence for d in decisions])
    correct = np.array([d.label == y for d, y in zip(decisions, labels, strict=True)])
    bins = np.linspace(1 / 3, 1.0, 8)
    index = np.clip(np.digitize(confidence, bins) - 1, 0, len(bins) - 2)
    centres, accuracy, counts = [], [], []
    for b in range(len(bins) - 1):
        mask = index == b
        if mask.any():
            centres.append(confidence[mask].mean())
            accuracy.append(correct[mask].mean())
            counts.append(int(mask.sum()))
    fig, ax = plt.subplots(figsize=(5, 4.2))
    ax.plot([1 / 3, 1], [1 / 3, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.plot(centres, accuracy, marker="o", label="triage")
    for x, y, n in zip(centres, accuracy, counts, strict=True):
        ax.annotate(
            str(n), (x, y), textcoords="offset points", xytext=(0, 6), fontsize=7, ha="center"
        )
    ax.set_xlabel("confidence of the predicted class")
    ax.set_ylabel("fraction correct")
    ax.set_title(f"Reliability: {name}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path = directory / f"{name}-reliability.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def write_report(
    directory: Path,
    name: str,
    metrics: dict[str, Any],
    labels: Sequence[str],
    decisions: Sequence[Decision],
) -> list[Path]:
    """metrics JSON plus the confusion-matrix and reliability plots; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{name}.json"
    json_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    try:
        return [json_path, *_plots(directory, name, metrics, labels, decisions)]
    except ImportError:
        log.warning("plots skipped: install matplotlib (pip install 'triage[report]')")
        return [json_path]
