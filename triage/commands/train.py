"""`triage train`: rebuild the shipped model from training_data/, deterministically."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from triage.model.classifier import shipped_model_path
from triage.paths import default_state_dir

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "train",
        help="rebuild the model from the labelled training data",
        description="Train the classifier on a labelled corpus (default: training_data/) and "
        "write it atomically with its metadata and cross-validated metrics. The same data "
        "always gives the same model.",
    )
    parser.add_argument("--data", type=Path, help="labelled corpus (default: training_data/)")
    parser.add_argument("--output", type=Path, help="model file (default: models/triage.model)")
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="where to record that triage wrote this model, so that `triage "
        "learn` may build on it (default: the usual state directory)",
    )
    parser.add_argument(
        "--skip-cv",
        action="store_true",
        help="do not cross-validate (faster; metadata then has no metrics)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Training imports scikit-learn; importing it here, not at the top, keeps it out of
    # every other command (the CLI imports all command modules to build its parser).
    from triage.model import modelfile
    from triage.training import pipeline as model_store
    from triage.training.corpora import (
        cross_validate,
        default_data_dir,
        load_labelled,
        load_training_set,
    )

    data_dir = args.data or default_data_dir()
    output = args.output or shipped_model_path()
    started = time.monotonic()

    def step(what: str) -> None:  # progress: a long run says where it is
        log.info("[%3.0f s] %s", time.monotonic() - started, what)

    metadata: dict[str, object] = {}
    if not args.skip_cv:
        step(f"cross-validating on {data_dir}: 5 folds, each a full training (--skip-cv skips it)")
        cv_metrics, _ = cross_validate(load_labelled(data_dir))
        metadata["metrics"] = {"cross_validation_5_fold": cv_metrics}
        log.info(
            "cross-validated macro-F1 %.3f, networking macro-F1 %.3f",
            cv_metrics["macro_f1"],
            cv_metrics["networking_macro_f1"],
        )
    step(f"reading and preparing the corpus in {data_dir}")
    training_set, fingerprint = load_training_set(data_dir)
    metadata |= {
        "version": f"shipped-{fingerprint[:12]}",
        "training_data_fingerprint": fingerprint,
        "training_messages": len(training_set.labels),
    }
    step(f"fitting on {len(training_set.labels)} messages: features, classifier, offense heads")
    model = model_store.train_rows(training_set)
    model.metadata.update(metadata)
    step(f"writing {output}")
    model_store.save(model, output)
    # `triage learn` unpickles only models triage wrote: remember this one's digest
    modelfile.record_trusted(output, args.state_dir or default_state_dir(), shipped_model_path())
    size_mb = output.stat().st_size / 1e6
    print(
        f"wrote {output} ({size_mb:.1f} MB, version {metadata['version']}) "
        f"in {time.monotonic() - started:.0f} s"
    )
    return 0
