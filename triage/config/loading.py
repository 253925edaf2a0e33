"""The configuration file as a whole: found, read, parsed as TOML, and its sections put together.

The entry points every command uses (`load_config`, `parse_config`, `add_config_argument`)
and the one check that spans sections (drafts need the user's own address) are here, apart
from how each section is read.
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from triage import paths
from triage.config.accounts import read_accounts
from triage.config.sections import read_daemon, read_drafts, read_labels, read_learning, read_lists
from triage.config.tables import Table, show
from triage.config.values import MODES, Config, Mode
from triage.errors import ConfigError


def _read_config(data: Mapping[str, Any], source: Path) -> Config:
    top = Table(source, "", data)
    base_dir = source.parent
    state_dir = top.path("state_dir", base_dir, must_be_file=False) or paths.default_state_dir()
    mode = cast(Mode, top.choice("mode", MODES, "active"))
    accounts = read_accounts(top, base_dir, mode)

    config = Config(
        source=source,
        state_dir=state_dir,
        accounts=accounts,
        daemon=read_daemon(top.table("daemon", "[daemon]")),
        labels=read_labels(top.table("labels", "[labels]")),
        drafts=read_drafts(top.table("drafts", "[drafts]")),
        learning=read_learning(top.table("learning", "[learning]"), base_dir),
        lists=read_lists(top.table("lists", "[lists]")),
        mode=mode,
    )
    top.finish()
    if config.drafts.enabled and not config.drafts.addresses:
        for account in config.accounts:
            if "@" not in account.username:
                # caught here: at run time every draft would fail, one by one
                raise ConfigError(
                    f"config error: {source}: [drafts] key 'addresses': drafts need your own "
                    f"address as their From, and account {account.name!r} logs in as "
                    f"{show(account.username)}, which is not one: set addresses = "
                    f'["you@example.org"] in [drafts], or enabled = false'
                )
    return config


def parse_config(text: str, source: Path) -> Config:
    """Validate TOML text as if read from `source` (used for error messages and relative paths)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config error: {source}: not valid TOML: {exc}") from None
    return _read_config(data, source)


def load_config(path: Path | str | None = None) -> Config:
    """Read and validate the config file at `path`, or at the default location when None."""
    explicit = path is not None
    source = Path(path).expanduser() if path is not None else paths.default_config_path()
    source = source.absolute()
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        how = "" if explicit else " (or pass --config PATH)"
        init = "triage config init" + (f" --config {source}" if explicit else "")
        raise ConfigError(
            f"config error: no config file at {source}: `{init}` writes a commented example "
            f"there to edit{how}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"config error: {source}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(
            f"config error: {source}: cannot read the file: {exc.strerror or exc}"
        ) from None
    return parse_config(text, source)


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """The `--config PATH` option shared by every command that reads the config file."""
    default = str(paths.default_config_path()).replace("%", "%%")
    parser.add_argument(
        "--config",
        metavar="PATH",
        type=Path,
        default=None,
        help=f"config file (default: {default})",
    )
