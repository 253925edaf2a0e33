"""`triage serve`: answer `triage filter` from a loaded model over a private Unix socket."""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path

from triage.commands.common import add_model_argument, load_classifier
from triage.filter.client import model_key, socket_path
from triage.filter.server import FilterServer

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="keep the model loaded so that triage filter answers in milliseconds",
        description="Load the model once and answer `triage filter` over a Unix socket in your "
        "runtime directory (mode 0600; no network listener), as spamd answers spamc. Filters "
        "asking for the same model (the same --model, or none) are answered here; any other "
        "filter, and every filter while this is not running, classifies by itself with the "
        "same result. The model is loaded again when its file changes.",
    )
    add_model_argument(parser)
    parser.set_defaults(func=run)


def _stop(*_: object) -> None:
    raise KeyboardInterrupt  # leave serve_forever through the finally that removes the socket


def run(args: argparse.Namespace) -> int:
    from triage.model.classifier import shipped_model_path

    model_file = Path(model_key(args.model)) if args.model else shipped_model_path()
    server = FilterServer(
        Path(socket_path()), model_key(args.model), model_file, lambda: load_classifier(args)
    )
    signal.signal(signal.SIGTERM, _stop)
    log.info("answering triage filter at %s", server.path)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
