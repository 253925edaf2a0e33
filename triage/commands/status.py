"""`triage status`: what the daemon is doing, from the state database, while it runs.

The running daemon writes a heartbeat per account and folder into the state database (WAL, so
reading never blocks it); this command only reads. An account counts as running when its
heartbeat is recent and, on this machine, its process is alive.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from triage.config import add_config_argument, load_config
from triage.daemon.heartbeat import HEARTBEAT_SECONDS
from triage.store.corrections import CorrectionStore
from triage.store.personal import account_report, report_lines
from triage.store.records import Activity
from triage.store.schema import db_path
from triage.store.state import State

STALE_SECONDS = 2 * HEARTBEAT_SECONDS + 15  # no heartbeat for this long: not running
CLASSES = ("relationship", "solicitation", "other")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show what the daemon is doing: connections, activity, counts, errors",
        description="Per account: whether the daemon is running and connected, its last "
        "activity, how many messages it classified by class, drafts written and the last "
        "error. Reads the state database; safe while the daemon runs.",
    )
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.set_defaults(func=run)


@dataclass
class AccountStatus:
    name: str
    running: bool = False
    connected: bool = False
    pid: int | None = None
    folders: list[dict[str, Any]] = field(default_factory=list)
    last_activity: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    duplicates: int = 0
    pending: int = 0
    drafts_written: int = 0
    last_error: str = ""
    last_error_at: datetime | None = None
    stopped_by_error: bool = False
    # triage.training.learning.account_report
    learning: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "running": self.running,
            "connected": self.connected,
            "pid": self.pid,
            "folders": self.folders,
            "last_activity": _iso(self.last_activity),
            "counts": self.counts,
            "errors": self.errors,
            "duplicates": self.duplicates,
            "pending": self.pending,
            "drafts_written": self.drafts_written,
            "last_error": self.last_error,
            "last_error_at": _iso(self.last_error_at),
            "stopped_by_error": self.stopped_by_error,
            "learning": self.learning,
        }


def _iso(when: datetime | None) -> str | None:
    return when.isoformat(timespec="seconds") if when else None


def _alive(activity: Activity, now: datetime) -> bool:
    if activity.stopped or activity.heartbeat_at is None:
        return False
    if (now - activity.heartbeat_at).total_seconds() > STALE_SECONDS:
        return False
    if activity.pid and activity.host == socket.gethostname():
        try:
            os.kill(activity.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return True


def collect(
    state: State | None, folders: dict[str, tuple[str, ...]], now: datetime
) -> list[AccountStatus]:
    """Each configured account's status; `folders` maps account names to the folders the
    config watches now (a folder removed from the config is not listed)."""
    result = {name: AccountStatus(name, counts={c: 0 for c in CLASSES}) for name in folders}
    if state is None:
        return list(result.values())
    for activity in state.activity():
        if activity.account in folders and activity.folder not in folders[activity.account]:
            continue
        status = result.setdefault(activity.account, AccountStatus(activity.account))
        alive = _alive(activity, now)
        checkpoint = state.folder(activity.account, activity.folder)
        status.folders.append(
            {
                "folder": activity.folder,
                "running": alive,
                "connected": alive and activity.connected,
                "heartbeat_at": _iso(activity.heartbeat_at),
                "last_uid": checkpoint.last_uid if checkpoint else None,
                "uidvalidity": checkpoint.uidvalidity if checkpoint else None,
                "highestmodseq": checkpoint.highestmodseq if checkpoint else None,
            }
        )
        status.running = status.running or alive
        status.connected = status.connected or (alive and activity.connected)
        if alive:
            status.pid = activity.pid
        if activity.last_activity_at and (
            status.last_activity is None or activity.last_activity_at > status.last_activity
        ):
            status.last_activity = activity.last_activity_at
        if activity.last_error and (
            status.last_error_at is None
            or (activity.last_error_at and activity.last_error_at > status.last_error_at)
        ):
            status.last_error, status.last_error_at = activity.last_error, activity.last_error_at
        if activity.stopped and activity.last_error:
            status.stopped_by_error = True
    for account, counts in state.counts().items():
        status = result.setdefault(account, AccountStatus(account))
        status.counts = {c: counts.get(c, 0) for c in CLASSES}
        status.errors = counts.get("error", 0)
        status.duplicates = counts.get("duplicate", 0)
        status.pending = counts.get("pending", 0)
    for draft in state.drafts():
        if draft.status == "written" and draft.account in result:
            result[draft.account].drafts_written += 1
    for status in result.values():
        if not status.counts:
            status.counts = {c: 0 for c in CLASSES}
        if not status.last_error:
            errors = state.last_errors(status.name, limit=1)
            if errors:
                folder, uid, error = errors[0]
                status.last_error = f"{folder} UID {uid}: {error}"
    return list(result.values())


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    seconds = int((now - when).total_seconds())
    if seconds < 120:
        span = f"{seconds} s"
    elif seconds < 7200:
        span = f"{seconds // 60} min"
    elif seconds < 172800:
        span = f"{seconds // 3600} h"
    else:
        span = f"{seconds // 86400} days"
    return f"{when.astimezone():%Y-%m-%d %H:%M:%S} ({span} ago)"


def render(statuses: list[AccountStatus], state_file: Path, now: datetime) -> str:
    lines = []
    for s in statuses:
        if s.running:
            daemon = f"running (pid {s.pid}), {'connected' if s.connected else 'not connected'}"
        elif s.stopped_by_error:
            daemon = "stopped by an error (see last error)"
        else:
            daemon = "not running"
        counts = ", ".join(f"{s.counts.get(c, 0)} {c}" for c in CLASSES)
        extra = []
        if s.errors:
            extra.append(f"{s.errors} skipped as errors")
        if s.duplicates:
            extra.append(f"{s.duplicates} seen again after a UIDVALIDITY change")
        if s.pending:
            extra.append(f"{s.pending} to finish")
        watched = (
            ", ".join(
                f"{f['folder']} (last UID {f['last_uid']})"
                if f["last_uid"] is not None
                else f["folder"]
                for f in s.folders
            )
            or "-"
        )
        lines += [
            f"{s.name}",
            f"  daemon:        {daemon}",
            f"  folders:       {watched}",
            f"  last activity: {_ago(s.last_activity, now)}",
            f"  classified:    {counts}" + (f"; {'; '.join(extra)}" if extra else ""),
            f"  drafts:        {s.drafts_written} written",
            f"  last error:    {s.last_error or '-'}"
            + (f" ({_ago(s.last_error_at, now)})" if s.last_error and s.last_error_at else ""),
            *(report_lines(s.learning) if s.learning else []),
            "",
        ]
    lines.append(f"state: {state_file}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    path = db_path(config.state_dir)
    now = datetime.now(UTC)
    folders = {a.name: a.folders for a in config.accounts}
    state = State(path, readonly=True) if path.exists() else None
    try:
        statuses = collect(state, folders, now)
    finally:
        if state is not None:
            state.close()
    # Corrections, the model in use and the shadow-mode review numbers (triage.training.learning).
    with (
        CorrectionStore(path, readonly=True) if state is not None else contextlib.nullcontext()
    ) as store:
        for status in statuses:
            status.learning = account_report(config, status.name, store)
    if args.json:
        print(
            json.dumps({"state": str(path), "accounts": [s.as_json() for s in statuses]}, indent=2)
        )
    else:
        if state is None:
            print(f"triage has not run yet (no state at {path}); start it with `triage run`")
        print(render(statuses, path, now))
    sys.stdout.flush()
    return 0
