from pathlib import Path

from triage import paths


def test_linux_defaults_follow_xdg_fallbacks() -> None:
    env = {"HOME": "/home/ann"}
    assert paths.default_config_path(env, "linux") == Path("/home/ann/.config/triage/config.toml")
    assert paths.default_state_dir(env, "linux") == Path("/home/ann/.local/state/triage")


def test_xdg_variables_win() -> None:
    env = {"HOME": "/home/ann", "XDG_CONFIG_HOME": "/cfg", "XDG_STATE_HOME": "/st"}
    assert paths.default_config_path(env, "linux") == Path("/cfg/triage/config.toml")
    assert paths.default_state_dir(env, "linux") == Path("/st/triage")
    # explicitly set XDG variables win on macOS too
    assert paths.default_config_path(env, "darwin") == Path("/cfg/triage/config.toml")


def test_relative_or_empty_xdg_variables_are_ignored() -> None:
    env = {"HOME": "/home/ann", "XDG_CONFIG_HOME": "relative/dir", "XDG_STATE_HOME": ""}
    assert paths.config_dir(env, "linux") == Path("/home/ann/.config/triage")
    assert paths.default_state_dir(env, "linux") == Path("/home/ann/.local/state/triage")


def test_macos_uses_application_support() -> None:
    env = {"HOME": "/Users/ann"}
    support = Path("/Users/ann/Library/Application Support/triage")
    assert paths.default_config_path(env, "darwin") == support / "config.toml"
    assert paths.default_state_dir(env, "darwin") == support / "state"


def test_models_live_in_the_state_dir(tmp_path: Path) -> None:
    assert paths.models_dir(tmp_path) == tmp_path / "models"
