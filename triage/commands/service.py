"""`triage service install|uninstall`: run the daemon as a per-user service.

Linux: a systemd user unit, `~/.config/systemd/user/triage.service` (`$XDG_CONFIG_HOME`
honoured), enabled and started with `systemctl --user`. It restarts on failure, but not after
the errors a restart cannot fix (bad config, no password, login refused, bad model: exit codes
2-5), and runs sandboxed: no new privileges, a read-only file system except the state
directory, private /tmp, only IP and Unix sockets. Logs go to the journal
(`journalctl --user -u triage`); `--verbose` in ExecStart adds debug detail.

macOS: a launchd agent, `~/Library/LaunchAgents/org.triage.daemon.plist`, loaded with
`launchctl bootstrap`, kept alive after failures, logging to `triage.log` in the state
directory.

`--print` shows the file and the commands without changing anything.
"""

from __future__ import annotations

import argparse
import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import triage
from triage import paths
from triage.config import add_config_argument, load_config
from triage.errors import TriageError

UNIT_NAME = "triage.service"
LAUNCHD_LABEL = "org.triage.daemon"

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "service",
        help="install or remove the daemon as a systemd user service (launchd on macOS)",
        description="Install `triage run` as a per-user service that starts at login and "
        "restarts after failures: a systemd user unit on Linux, a launchd agent on macOS. "
        "Prints every file written and command run.",
    )
    parser.add_argument("action", choices=("install", "uninstall"))
    add_config_argument(parser)
    parser.add_argument(
        "--print",
        action="store_true",
        dest="print_only",
        help="show the unit (or plist) and the commands; change nothing",
    )
    parser.add_argument(
        "--no-start",
        action="store_true",
        help="write and enable the service, but do not start it now",
    )
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class Plan:
    path: Path  # the unit or plist file
    content: str  # what goes into it ("" for uninstall)
    commands: list[list[str]]


def _systemd_quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "/._-+=:@," for c in arg):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def _command(config_path: Path) -> list[str]:
    return [sys.executable, "-m", "triage", "run", "--config", str(config_path)]


def _source_checkout() -> Path | None:
    """The directory to put on PYTHONPATH when triage runs from a source tree, not installed."""
    root = Path(triage.__file__).resolve().parent.parent
    return None if root.name in ("site-packages", "dist-packages") else root


def systemd_unit(config_path: Path, state_dir: Path) -> str:
    exec_start = " ".join(_systemd_quote(a) for a in _command(config_path))
    checkout = _source_checkout()
    environment = "Environment=PYTHONUNBUFFERED=1\n"
    if checkout is not None:
        environment += f"Environment={_systemd_quote('PYTHONPATH=' + str(checkout))}\n"
    in_tmp = any(str(state_dir).startswith(t) for t in ("/tmp/", "/var/tmp/"))
    # A private /tmp would hide a state directory that lives under /tmp.
    private_tmp = (
        "# PrivateTmp=yes (off: the state directory is under /tmp)" if in_tmp else "PrivateTmp=yes"
    )
    return f"""\
# Written by `triage service install`; remove with `triage service uninstall`.
[Unit]
Description=triage: label networking mail and draft feedback (IMAP)
# No After=network-online.target: it does nothing in a user unit. triage rides out a network
# that is not up yet on its own, retrying the connection with backoff.
StartLimitIntervalSec=600
StartLimitBurst=5

[Service]
Type=exec
ExecStart={exec_start}
{environment}Restart=on-failure
RestartSec=30
# A bad config (2), no password (3), a refused login (4) or a bad model (5) is not fixed
# by restarting: fix it, then `systemctl --user restart triage`.
RestartPreventExitStatus=2 3 4 5
# SIGTERM: triage finishes the message in hand, checkpoints and exits 0.
KillSignal=SIGTERM
TimeoutStopSec=60

# Sandbox. triage needs the network, the keyring (D-Bus) and to write its state directory.
# If your password_command has to write somewhere (a lock file, a cache), add that path:
#   systemctl --user edit triage   ->   [Service] ReadWritePaths=/that/path
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths={_systemd_quote(str(state_dir))}
{private_tmp}
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
UMask=0077

[Install]
WantedBy=default.target
"""


def launchd_plist(config_path: Path, state_dir: Path) -> str:
    environment = {"PYTHONUNBUFFERED": "1"}
    checkout = _source_checkout()
    if checkout is not None:
        environment["PYTHONPATH"] = str(checkout)
    data = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": _command(config_path),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restart after a failure, not after a stop
        "ThrottleInterval": 30,
        "ProcessType": "Background",
        "EnvironmentVariables": environment,
        "StandardOutPath": str(state_dir / "triage.log"),
        "StandardErrorPath": str(state_dir / "triage.log"),
    }
    return plistlib.dumps(data).decode()


def _systemd_dir(env: Mapping[str, str]) -> Path:
    xdg = env.get("XDG_CONFIG_HOME", "")
    base = (
        Path(xdg)
        if xdg and os.path.isabs(xdg)
        else Path(env.get("HOME") or Path.home()) / ".config"
    )
    return base / "systemd" / "user"


def plan(
    action: str,
    config_path: Path,
    state_dir: Path,
    *,
    platform: str,
    env: Mapping[str, str],
    start: bool = True,
) -> Plan:
    if platform == "darwin":
        home = Path(env.get("HOME") or Path.home())
        path = home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
        domain = f"gui/{os.getuid()}"
        if action == "install":
            commands = [["launchctl", "bootout", domain, str(path)]] if path.exists() else []
            commands.append(["launchctl", "bootstrap", domain, str(path)])
            return Plan(path, launchd_plist(config_path, state_dir), commands)
        return Plan(path, "", [["launchctl", "bootout", domain, str(path)]])
    path = _systemd_dir(env) / UNIT_NAME
    if action == "install":
        enable = ["systemctl", "--user", "enable", UNIT_NAME]
        if start:
            enable.insert(3, "--now")
        commands = [["systemctl", "--user", "daemon-reload"], enable]
        if start and path.exists():  # a reinstall: pick up the new unit
            commands.append(["systemctl", "--user", "restart", UNIT_NAME])
        return Plan(path, systemd_unit(config_path, state_dir), commands)
    return Plan(
        path,
        "",
        [
            ["systemctl", "--user", "disable", "--now", UNIT_NAME],
            ["systemctl", "--user", "daemon-reload"],
        ],
    )


def _run_command(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, timeout=60, check=False)


def execute(
    action: str,
    the_plan: Plan,
    *,
    runner: Runner = _run_command,
    which: Callable[[str], str | None] = shutil.which,
) -> int:
    """Write or remove the file and run the commands, printing each step."""
    failed: list[list[str]] = []
    if action == "install":
        the_plan.path.parent.mkdir(parents=True, exist_ok=True)
        the_plan.path.write_text(the_plan.content, encoding="utf-8")
        print(f"wrote {the_plan.path}")
    commands = list(the_plan.commands)
    if action == "uninstall" and not the_plan.path.exists():
        print(f"no service installed ({the_plan.path} does not exist)")
        return 0
    for command in commands:
        if which(command[0]) is None:
            failed.append(command)
            continue
        printable = " ".join(command)
        result = runner(command)
        if result.returncode == 0:
            print(f"ran   {printable}")
        else:
            reason = (result.stderr or result.stdout).strip().splitlines()
            print(f"FAILED {printable}: {reason[-1] if reason else f'exit {result.returncode}'}")
            failed.append(command)
    if action == "uninstall":
        the_plan.path.unlink(missing_ok=True)
        print(f"removed {the_plan.path}")
    if failed:
        print(
            "\nRun these yourself (for a systemd user session you may need to be logged in, "
            "or `loginctl enable-linger $USER` for it to run without a login):"
        )
        for command in failed:
            print("  " + " ".join(command))
        return 1
    if action == "install":
        if the_plan.path.suffix == ".service":
            print(
                "\ntriage runs now. Follow it with `journalctl --user -u triage -f`, check "
                "it with `triage status`."
            )
        else:
            print("\ntriage runs now. Check it with `triage status`.")
    return 0


def run(args: argparse.Namespace) -> int:
    config_path = (
        args.config.expanduser() if args.config else paths.default_config_path()
    ).absolute()
    state_dir = paths.default_state_dir()
    if args.action == "install":
        config = load_config(config_path)  # the service must not start on a broken config
        state_dir = config.state_dir
    the_plan = plan(
        args.action,
        config_path,
        state_dir,
        platform=sys.platform,
        env=os.environ,
        start=not args.no_start,
    )
    if args.print_only:
        if args.action == "install":
            print(f"# {the_plan.path}")
            print(the_plan.content)
        else:
            print(f"# would remove {the_plan.path}")
        for command in the_plan.commands:
            print("# then: " + " ".join(command))
        return 0
    if args.action == "install":
        try:
            state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise TriageError(
                f"cannot create the state directory {state_dir}: {exc.strerror}"
            ) from None
    return execute(args.action, the_plan)
