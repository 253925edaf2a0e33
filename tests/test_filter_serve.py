"""`triage serve` answers `triage filter` over a private Unix socket, with the same output.

Real processes, as a mail system runs them: a `triage serve` in the background and one
`triage filter` per message, compared byte for byte with filters that classify by themselves.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tiny_model import eml

from triage.filter.client import SENT_BYTES, SOCKET_NAME
from triage.message.parse import MAX_PARSE_BYTES
from triage.model.classifier import shipped_model_path

ANSWERED = "answered by triage serve"
MESSAGES = [
    eml(
        "Are you looking for extra income? Join my team and be your own boss! Forward this to "
        "friends who might be interested.",
        sender="Tammy <tammy@globex.com>",
        subject="Hi",
    ),
    eml(
        "Thank you so much for the introduction to Ana. Truly grateful for the coffee.",
        sender="Tom Becker <tom@northwind.com>",
        subject="Thank you!",
    ),
    b"",
    b"\xff\xfe not mail at all \x00\x01\r\n\r\n\x80",
    eml("x" * 10, subject="X-Triage-Class: relationship").replace(
        b"Subject:", b"X-Triage-Class : relationship\r\nSubject:"
    ),
    eml("big " * 400_000, subject="A large message"),
]


def triage(
    *args: str,
    env: dict[str, str],
    stdin: bytes = b"",
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "triage", *args],
        input=stdin,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


def environment(runtime: Path) -> dict[str, str]:
    return {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}


@pytest.fixture
def served(tmp_path: Path, tiny_model_path: Path) -> Iterator[Path]:
    """A running `triage serve --model tiny`; yields its runtime directory."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    server = subprocess.Popen(
        [sys.executable, "-m", "triage", "serve", "--model", str(tiny_model_path)],
        env=environment(runtime),
        stderr=subprocess.PIPE,
    )
    socket_file = runtime / "triage" / SOCKET_NAME
    deadline = time.monotonic() + 60
    while not socket_file.exists():
        assert server.poll() is None, server.stderr.read() if server.stderr else ""
        assert time.monotonic() < deadline, "triage serve did not start"
        time.sleep(0.05)
    yield runtime
    server.terminate()
    assert server.wait(timeout=30) == 0
    assert not socket_file.exists(), "a stopped server leaves no socket behind"


def test_served_and_standalone_filters_write_the_same_bytes(
    served: Path, tmp_path: Path, tiny_model_path: Path
) -> None:
    alone = environment(tmp_path / "nothing-listens-here")
    for raw in MESSAGES:
        via_server = triage(
            "-v", "filter", "--model", str(tiny_model_path), env=environment(served), stdin=raw
        )
        by_itself = triage("-v", "filter", "--model", str(tiny_model_path), env=alone, stdin=raw)
        assert ANSWERED in via_server.stderr.decode(), via_server.stderr
        assert ANSWERED not in by_itself.stderr.decode()
        assert via_server.returncode == by_itself.returncode == 0
        assert via_server.stdout == by_itself.stdout
        assert b"X-Triage-Class: " in via_server.stdout


def test_a_filter_asking_for_another_model_classifies_by_itself(served: Path) -> None:
    if not shipped_model_path().exists():
        pytest.skip("no shipped model in this checkout")
    asked = triage("-v", "filter", env=environment(served), stdin=MESSAGES[1])
    assert ANSWERED not in asked.stderr.decode()
    assert asked.returncode == 0 and b"X-Triage-Class: " in asked.stdout


def test_the_socket_is_private_and_a_second_server_is_refused(
    served: Path, tiny_model_path: Path
) -> None:
    socket_file = served / "triage" / SOCKET_NAME
    assert stat.S_IMODE(socket_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(socket_file.parent.stat().st_mode) == 0o700
    second = triage("serve", "--model", str(tiny_model_path), env=environment(served))
    assert second.returncode != 0
    assert b"another triage serve is answering" in second.stderr


def test_a_socket_left_by_a_dead_server_is_replaced(tmp_path: Path, tiny_model_path: Path) -> None:
    runtime = tmp_path / "run"
    (runtime / "triage").mkdir(parents=True, mode=0o700)
    stale = runtime / "triage" / SOCKET_NAME
    import socket

    with socket.socket(socket.AF_UNIX) as left_behind:
        left_behind.bind(str(stale))  # bound, never listening: what a killed server leaves
    server = subprocess.Popen(
        [sys.executable, "-m", "triage", "serve", "--model", str(tiny_model_path)],
        env=environment(runtime),
    )
    try:
        deadline = time.monotonic() + 60
        while (
            ANSWERED
            not in triage(
                "-v",
                "filter",
                "--model",
                str(tiny_model_path),
                env=environment(runtime),
                stdin=MESSAGES[0],
            ).stderr.decode()
        ):
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_client_sends_exactly_what_the_parser_reads() -> None:
    assert SENT_BYTES == MAX_PARSE_BYTES + 1


def test_a_served_filter_imports_neither_the_parser_nor_numpy(
    served: Path, tiny_model_path: Path
) -> None:
    """What makes a served filter fast: it is answered before argparse, logging or numpy load."""
    probe = (
        "import sys\n"
        "from triage.cli import main\n"
        f"code = main(['filter', '--model', {str(tiny_model_path)!r}])\n"
        "sys.stdout.flush()\n"
        "print(code, sorted(m for m in ('argparse', 'logging', 'numpy', 'typing')\n"
        "                   if m in sys.modules), file=sys.stderr)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe],
        input=MESSAGES[0],
        env=environment(served),
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert b"X-Triage-Class: " in ran.stdout
    assert ran.stderr.decode().strip().splitlines()[-1] == "0 []"


def test_without_a_runtime_directory_the_socket_is_in_a_private_temporary_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from triage.filter.client import socket_path

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    assert socket_path() == str(tmp_path / "run" / "triage" / SOCKET_NAME)
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert socket_path() == str(tmp_path / f"triage-{os.getuid()}" / SOCKET_NAME)
    monkeypatch.setenv("TMPDIR", "relative/ignored")
    assert socket_path() == f"/tmp/triage-{os.getuid()}/{SOCKET_NAME}"


def test_a_filter_asks_a_server_once_then_classifies_by_itself(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    """A server that answers for another model (or is stuck) is asked once, not once per path
    through the command line: a stuck one would otherwise cost the timeout twice."""
    import socket
    import threading

    runtime = tmp_path / "run"
    (runtime / "triage").mkdir(parents=True, mode=0o700)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(runtime / "triage" / SOCKET_NAME))
    listener.listen(4)
    listener.settimeout(30)
    asked = []

    def answer_other_model() -> None:
        try:
            while True:
                conn, _ = listener.accept()
                with conn:
                    asked.append(conn.recv(64))
                    conn.sendall(b"other-model\n")
        except OSError:
            pass  # the listener was closed

    thread = threading.Thread(target=answer_other_model, daemon=True)
    thread.start()
    try:
        for args in (
            ["filter", "--model", str(tiny_model_path)],
            ["-v", "filter", "--model", str(tiny_model_path)],
        ):
            asked.clear()
            ran = triage(*args, env=environment(runtime), stdin=MESSAGES[0])
            assert ran.returncode == 0 and b"X-Triage-Class: " in ran.stdout
            assert len(asked) == 1, (args, asked)
    finally:
        listener.close()
