"""Where triage keeps its files: the config file, the state directory and personal models.

Linux and other Unix systems follow the XDG Base Directory specification:

- config: `$XDG_CONFIG_HOME/triage/config.toml`, default `~/.config/triage/config.toml`
- state:  `$XDG_STATE_HOME/triage`, default `~/.local/state/triage`
- runtime (the filter socket): see triage.filter.client

macOS keeps both under `~/Library/Application Support/triage/` (`config.toml` and `state/`),
unless the user has set the XDG variables explicitly, which then win on every platform.

Per the specification, an XDG variable that is empty or holds a relative path is ignored.
Every function takes the environment and platform as optional arguments so callers and tests
can ask "where would it be for this user" without touching `os.environ`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

APP_NAME = "triage"
CONFIG_FILENAME = "config.toml"


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def _xdg(env: Mapping[str, str], variable: str) -> Path | None:
    value = env.get(variable, "")
    if value and os.path.isabs(value):
        return Path(value)
    return None


def _is_macos(platform: str | None) -> bool:
    return (platform if platform is not None else sys.platform) == "darwin"


def _macos_app_dir(env: Mapping[str, str]) -> Path:
    return _home(env) / "Library" / "Application Support" / APP_NAME


def config_dir(env: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The directory holding `config.toml`."""
    env = os.environ if env is None else env
    xdg = _xdg(env, "XDG_CONFIG_HOME")
    if xdg is not None:
        return xdg / APP_NAME
    if _is_macos(platform):
        return _macos_app_dir(env)
    return _home(env) / ".config" / APP_NAME


def default_config_path(env: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The config file used when no `--config PATH` is given."""
    return config_dir(env, platform) / CONFIG_FILENAME


def default_state_dir(env: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The state directory used when the config does not set `state_dir`."""
    env = os.environ if env is None else env
    xdg = _xdg(env, "XDG_STATE_HOME")
    if xdg is not None:
        return xdg / APP_NAME
    if _is_macos(platform):
        return _macos_app_dir(env) / "state"
    return _home(env) / ".local" / "state" / APP_NAME


def models_dir(state_dir: Path) -> Path:
    """Where personal models (trained on the user's own corrections) live inside the state dir.

    Keeping them under the configurable `state_dir` means one setting moves everything triage
    writes.
    """
    return state_dir / "models"
