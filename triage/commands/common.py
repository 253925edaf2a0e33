"""Arguments and loading shared by the commands that classify."""

from __future__ import annotations

import argparse
from pathlib import Path

from triage.classifier import Classifier


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, metavar="FILE",
                        help="use this model file instead of the shipped one")


def load_classifier(args: argparse.Namespace) -> Classifier:
    return Classifier.load(args.model)
