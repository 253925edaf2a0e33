"""`triage evaluate`: cross-validated metrics on the training data and metrics on other sets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from triage.commands.common import add_model_argument, load_classifier
from triage.commands.report import summary, write_report
from triage.errors import TriageError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="measure the classifier: cross-validation and labelled test sets",
        description="Cross-validate on the training data (stratified folds, folds that hold "
        "out whole subtypes, and folds that hold out whole writers), then measure the model "
        "on every --data directory (subfolders named relationship/, solicitation/, other/, or "
        "a labels.csv). Prints per-class "
        "precision, recall, F1 and confusion matrices, and writes JSON and PNG plots.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="an extra labelled directory to test the model on (repeatable)",
    )
    parser.add_argument(
        "--training-data",
        type=Path,
        metavar="DIR",
        help="corpus to cross-validate (default: training_data/)",
    )
    parser.add_argument("--skip-cv", action="store_true", help="only evaluate the --data sets")
    parser.add_argument(
        "--report",
        type=Path,
        default=Path("triage-report"),
        metavar="DIR",
        help="where to write JSON and plots (default: ./triage-report)",
    )
    add_model_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Training imports scikit-learn; importing it here, not at the top, keeps it out of
    # every other command (the CLI imports all command modules to build its parser).
    from triage.training.corpora import (
        cross_validate,
        default_data_dir,
        load_labelled,
        metrics,
        platform_flags,
    )

    if args.skip_cv and not args.data:
        raise TriageError(
            "--skip-cv leaves nothing to evaluate: add --data DIR (a labelled "
            "directory), or drop --skip-cv to cross-validate the training data"
        )
    results: dict[str, dict[str, Any]] = {}
    if not args.skip_cv:
        data = load_labelled(args.training_data or default_data_dir())
        for name, held_out in (
            ("cv-stratified", None),
            ("cv-held-out-subtypes", "subtype"),
            ("cv-held-out-writers", "writer"),
        ):
            cv_metrics, decisions = cross_validate(data, held_out=held_out)
            results[name] = cv_metrics
            print(summary(f"{name} on {len(data)} training messages", cv_metrics), "\n")
            write_report(args.report, name, cv_metrics, data.labels, decisions)
    if args.data:
        classifier = load_classifier(args)
        for directory in args.data:
            data = load_labelled(directory)
            decisions = classifier.classify(data.messages)
            name = f"test-{directory.resolve().name}"
            results[name] = metrics(data.labels, data.offenses, decisions, platform_flags(data))
            print(summary(f"{name} ({directory})", results[name]), "\n")
            write_report(args.report, name, results[name], data.labels, decisions)
    args.report.mkdir(parents=True, exist_ok=True)
    (args.report / "summary.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"report written to {args.report}/")
    return 0
