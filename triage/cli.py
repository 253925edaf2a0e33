"""The `triage` command line: builds the parser from the command modules, maps errors to exit codes.

Each subcommand lives in its own module under `triage.commands` and exposes
`register(subparsers) -> None`, which adds its parser and sets `func=run` where
`run(args) -> int`. This file only wires them together, so adding a command never touches
another command's code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from triage import version
from triage.errors import TriageError

log = logging.getLogger("triage")

# Order here is the order in `triage --help`. A module that does not exist yet is simply absent.
COMMAND_MODULES = (
    "demo",
    "classify",
    "filter",
    "serve",
    "explain",
    "train",
    "evaluate",
    "run",
    "status",
    "login",
    "service",
    "drafts",
    "learn",
    "config",
)


class _PrintVersion(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, help: str) -> None:
        super().__init__(option_strings, dest, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        print(f"triage {version()}")
        parser.exit()


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first word that is not an option)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser for every command, or for `only` that one: a mail filter run once per
    message should not pay for importing the daemon, IMAP and the keyring it never uses."""
    parser = argparse.ArgumentParser(
        prog="triage",
        description=(
            "Sort networking mail into relationship-building and cold solicitation, "
            "label it in your mailbox and draft kind feedback for the worst offenders."
        ),
    )
    parser.add_argument("--version", action=_PrintVersion, help="show the version and exit")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log debug detail to stderr"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (only,) if only in COMMAND_MODULES else COMMAND_MODULES:
        try:
            module = importlib.import_module(f"triage.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"triage.commands.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def configure_logging(verbose: bool) -> None:
    """Plain lines on stderr: journald and launchd add their own timestamps."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(chosen_command(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    configure_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except TriageError as exc:
        print(f"triage: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `triage classify ... | head` closes the pipe early; that is not an error.
        return 0


if __name__ == "__main__":
    sys.exit(main())
