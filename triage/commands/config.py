"""`triage config init` and `triage config check`: start a config file, and see what it means.

`init` writes the commented example that ships inside the package (a pip-installed user has no
checkout to copy it from); `check` validates a config the way every command does and prints the
effective settings, defaults filled in. Secrets are never shown: a `password_command` may
embed one, so only whether it is set is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
from importlib.resources import files
from pathlib import Path
from typing import Any

from triage import paths
from triage.config import Config, add_config_argument, load_config
from triage.errors import ConfigError
from triage.files import write_atomically
from triage.oauth2.settings import OAuth2Config

EXAMPLE = "config.example.toml"


def example_config() -> bytes:
    """The commented example config: packaged, or at the top of a source checkout."""
    packaged = Path(str(files("triage"))) / "example" / EXAMPLE
    if packaged.exists():
        return packaged.read_bytes()
    return (Path(__file__).resolve().parents[2] / EXAMPLE).read_bytes()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "config",
        help="write a starting config file, or check one",
        description="`triage config init` writes the commented example config to the default "
        "path (or --config PATH) and refuses to overwrite a file; `triage config check` "
        "validates the config and prints the settings in effect, secrets never shown.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_text in (
        ("init", "write the example config to edit"),
        ("check", "validate the config and print the settings in effect"),
    ):
        action = actions.add_parser(name, help=help_text, description=help_text)
        add_config_argument(action)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "init":
        return _init(args.config or paths.default_config_path())
    _print(load_config(args.config))
    return 0


def _init(path: Path) -> int:
    if path.exists():
        raise ConfigError(
            f"config error: {path} exists already; edit it, or check it with `triage config check`"
        )
    write_atomically(path, example_config())
    print(f"wrote {path}: set host and username in [[account]], then run `triage config check`")
    return 0


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, (str, Path)):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    return "(none)" if value is None else str(value)


def _print(config: Config) -> None:
    print(f"# {config.source}: valid. The settings in effect, defaults included:")
    print(f"state_dir = {_shown(config.state_dir)}\nmode = {_shown(config.mode)}")
    for account in config.accounts:
        print("\n[[account]]")
        for field in dataclasses.fields(account):
            value = getattr(account, field.name)
            if field.name == "password_command":  # it may embed a secret
                value = "(set, not shown)" if value else "(not set: the OS keyring)"
                print(f"{field.name} = {value}")
                continue
            if field.name == "oauth2":
                _print_oauth2(value)
                continue
            print(f"{field.name} = {_shown(value)}")
    for section in ("daemon", "labels", "drafts", "learning", "lists"):
        print(f"\n[{section}]")
        for field in dataclasses.fields(getattr(config, section)):
            print(f"{field.name} = {_shown(getattr(getattr(config, section), field.name))}")


def _print_oauth2(settings: OAuth2Config | None) -> None:
    """The oauth2_* keys in effect; the client secret and the command (repr=False) unshown."""
    if settings is None:
        return
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if value:
            print(f"oauth2_{field.name} = " + (_shown(value) if field.repr else "(set, not shown)"))
