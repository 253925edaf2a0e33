"""`triage status`, `triage drafts` and `triage service`."""

from __future__ import annotations

import json
import plistlib
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from daemon_support import (
    Box,
    mixed_mail,
    run_once,
    start_daemon,
    wait_for,
    write_config,
)
from dovecot import TestAccount

from triage.cli import main
from triage.commands import service
from triage.model.classifier import Classifier

# --------------------------------------------------------------------------- status


def status_json(config: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main(["status", "--config", str(config), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_status_before_the_first_run(
    tmp_path: Path, imap_account: TestAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, imap_account)
    assert main(["status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "has not run yet" in out and "not running" in out
    (account,) = status_json(config, capsys)["accounts"]
    assert account["running"] is False and account["counts"] == {
        "relationship": 0,
        "solicitation": 0,
        "other": 0,
    }


def test_status_while_running_and_after(
    tmp_path: Path,
    imap_account: TestAccount,
    box: Box,
    daemon_classifier: Classifier,
    capsys: pytest.CaptureFixture[str],
) -> None:
    raws = mixed_mail(10)
    box.append_many("INBOX", raws)
    config = write_config(tmp_path, imap_account)
    daemon, thread, _ = start_daemon(config, daemon_classifier, imap_account)
    try:
        wait_for(lambda: len(daemon.reports) >= 1, timeout=30)
        data = status_json(config, capsys)
        (account,) = data["accounts"]
        assert account["running"] is True and account["connected"] is True
        assert sum(account["counts"].values()) == 10
        assert account["drafts_written"] == len(box.uids("Drafts")) > 0
        assert account["last_activity"] is not None
        assert account["folders"][0]["folder"] == "INBOX"
        assert account["folders"][0]["last_uid"] == 10
        assert main(["status", "--config", str(config)]) == 0
        text = capsys.readouterr().out
        assert "running (pid" in text and "connected" in text
    finally:
        daemon.stop()
        thread.join(timeout=15)
    (account,) = status_json(config, capsys)["accounts"]
    assert account["running"] is False and account["connected"] is False
    assert sum(account["counts"].values()) == 10


def test_status_forgets_a_folder_removed_from_the_config(
    tmp_path: Path,
    imap_account: TestAccount,
    box: Box,
    daemon_classifier: Classifier,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 13, item 11: a folder no longer watched is no longer listed."""
    box.create("Work")
    config = write_config(tmp_path, imap_account, folders=("INBOX", "Work"))
    assert run_once(config, daemon_classifier, imap_account).code == 0
    (account,) = status_json(config, capsys)["accounts"]
    assert sorted(f["folder"] for f in account["folders"]) == ["INBOX", "Work"]
    config.write_text(
        config.read_text().replace('folders = ["INBOX", "Work"]', 'folders = ["INBOX"]')
    )
    (account,) = status_json(config, capsys)["accounts"]
    assert [f["folder"] for f in account["folders"]] == ["INBOX"]


# --------------------------------------------------------------------------- drafts


def test_drafts_in_drafts_sent_and_discarded(
    tmp_path: Path,
    imap_account: TestAccount,
    box: Box,
    daemon_classifier: Classifier,
    capsys: pytest.CaptureFixture[str],
) -> None:
    box.append_many("INBOX", mixed_mail(10))
    config = write_config(tmp_path, imap_account)
    assert run_once(config, daemon_classifier, imap_account).code == 0
    uids = box.uids("Drafts")
    assert len(uids) >= 3
    # The user sends one (the client keeps it as a reply to the original, new Message-ID),
    # deletes another and leaves the rest.
    sent = box.full("Drafts", uids[0]).replace(b"Message-ID: <triage.", b"Message-ID: <sent.")
    box.append("Sent", sent, flags=["\\Seen"])
    box.client.select_folder("Drafts")
    box.client.delete_messages(uids[:2])
    box.client.expunge()

    capsys.readouterr()
    assert main(["drafts", "--config", str(config), "--json"]) == 0
    states = [json.loads(line)["state"] for line in capsys.readouterr().out.splitlines()]
    assert sorted(states) == sorted(["sent", "discarded"] + ["in Drafts"] * (len(uids) - 2))
    assert main(["drafts", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "discarded" in out and "sent" in out and "in Drafts" in out
    assert main(["drafts", "--config", str(config), "--offline", "--json"]) == 0
    assert {json.loads(line)["state"] for line in capsys.readouterr().out.splitlines()} == {
        "written"
    }
    # the discarded draft stays discarded
    assert run_once(config, daemon_classifier, imap_account).outcomes == []
    assert len(box.uids("Drafts")) == len(uids) - 2


def test_drafts_with_none_written(
    tmp_path: Path, imap_account: TestAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, imap_account)
    assert main(["drafts", "--config", str(config)]) == 0
    assert "no feedback drafts" in capsys.readouterr().out
    assert main(["drafts", "--config", str(config), "--account", "nope"]) == 2


# --------------------------------------------------------------------------- service


def test_service_print_shows_a_hardened_unit(
    tmp_path: Path, imap_account: TestAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, imap_account)
    assert main(["service", "install", "--print", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "Restart=on-failure" in out
    assert "RestartPreventExitStatus=2 3 4 5" in out
    assert "NoNewPrivileges=yes" in out and "ProtectSystem=strict" in out
    # a no-op in a user unit (issue 13, item 15): start-up retries instead
    assert not [
        line
        for line in out.splitlines()
        if line.startswith(("After=", "Wants=")) and "network-online" in line
    ]
    assert f"ReadWritePaths={tmp_path / 'state'}" in out
    assert f"run --config {config}" in out
    assert "systemctl --user daemon-reload" in out
    assert not (tmp_path / "home" / ".config" / "systemd").exists()


def test_service_install_and_uninstall(
    tmp_path: Path, imap_account: TestAccount, isolated_home: Path
) -> None:
    config = write_config(tmp_path, imap_account)
    ran: list[list[str]] = []

    def runner(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        ran.append(list(command))
        return subprocess.CompletedProcess(list(command), 0, "", "")

    env = {"XDG_CONFIG_HOME": str(isolated_home / ".config"), "HOME": str(isolated_home)}
    plan = service.plan("install", config, tmp_path / "state", platform="linux", env=env)
    assert plan.path == isolated_home / ".config" / "systemd" / "user" / "triage.service"

    def which(name: str) -> str:
        return "/usr/bin/" + name

    assert service.execute("install", plan, runner=runner, which=which) == 0
    assert plan.path.read_text() == plan.content
    assert ran == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", "triage.service"],
    ]
    ran.clear()
    removal = service.plan("uninstall", config, tmp_path / "state", platform="linux", env=env)
    assert service.execute("uninstall", removal, runner=runner, which=which) == 0
    assert not plan.path.exists()
    assert ran[0] == ["systemctl", "--user", "disable", "--now", "triage.service"]


def test_service_install_without_systemctl_says_what_to_run(
    tmp_path: Path,
    imap_account: TestAccount,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config(tmp_path, imap_account)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    code = main(["service", "install", "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 1
    assert "wrote " in out and "Run these yourself" in out
    assert "systemctl --user enable --now triage.service" in out
    unit = tmp_path / "home" / ".config" / "systemd" / "user" / "triage.service"
    assert unit.exists() and "ExecStart=" in unit.read_text()


def test_launchd_plist_on_macos(tmp_path: Path) -> None:
    plan = service.plan(
        "install",
        tmp_path / "config.toml",
        tmp_path / "state",
        platform="darwin",
        env={"HOME": str(tmp_path)},
    )
    assert plan.path == tmp_path / "Library" / "LaunchAgents" / "org.triage.daemon.plist"
    data = plistlib.loads(plan.content.encode())
    assert data["Label"] == "org.triage.daemon"
    assert data["ProgramArguments"][-3:] == ["run", "--config", str(tmp_path / "config.toml")]
    assert data["KeepAlive"] == {"SuccessfulExit": False}
    assert plan.commands[-1][:2] == ["launchctl", "bootstrap"]


def test_the_unit_starts_triage_that_works(
    tmp_path: Path, imap_account: TestAccount, daemon_model: Path
) -> None:
    """The ExecStart line, run as systemd would (minus the sandbox), starts a working daemon."""
    config = write_config(tmp_path, imap_account)
    unit = service.systemd_unit(config, tmp_path / "state")
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    import shlex

    argv = shlex.split(exec_start.removeprefix("ExecStart=")) + [
        "--once",
        "--dry-run",
        "--model",
        str(daemon_model),
    ]
    env_lines = [
        line.removeprefix("Environment=")
        for line in unit.splitlines()
        if line.startswith("Environment=")
    ]
    import os

    env = dict(os.environ)
    for item in env_lines:
        key, _, value = shlex.split(item)[0].partition("=")
        env[key] = value
    started = time.monotonic()
    result = subprocess.run(argv, cwd="/", env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 60
