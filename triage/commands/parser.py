"""The command line made of the subcommand modules.

Each module exposes `register(subparsers) -> None`, which adds its parser and sets `func=run`
where `run(args) -> int`. Only the command being run is imported: a mail filter run once per
message should not pay for importing the daemon, IMAP and the keyring it never uses.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from triage import version

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
    """--version, looked up only when asked (importlib.metadata costs every start 20 ms)."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str) -> None:
        super().__init__(option_strings, dest, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        print(f"triage {version()}")
        parser.exit()


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first word that is not an option)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser for every command, or for `only` that one."""
    parser = argparse.ArgumentParser(
        prog="triage",
        description=(
            "Sort networking mail into relationship-building and cold solicitation, "
            "label it in your mailbox and draft kind feedback for the worst offenders."
        ),
    )
    parser.add_argument("--version", action=_PrintVersion, help="show the version and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
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
