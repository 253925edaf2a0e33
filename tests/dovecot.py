"""A throwaway Dovecot IMAP server on loopback, for tests that need a real server.

One server per test session, one fresh account per test: the server has a `passwd-file` passdb
(for the fixed account `fixture@example.test`, used to check it is up) and a second `static`
passdb with a per-session password, so any unused user name logs in to a new, empty mailbox.

- its own config, base/state dirs and log in a private temp directory; no systemd, no /etc/dovecot
- `imap` (plain + STARTTLS) and `imaps` (implicit TLS) on free high ports of 127.0.0.1
- TLS with a server certificate signed by a test CA (see `certs.py`), so verification is real
- special-use Drafts, Sent, Junk and Trash; `/` as the hierarchy separator (like Gmail)
- no auth failure delay and no auth penalty, so wrong-password tests are fast
- started as `nobody` when the tests run as root (Dovecot refuses to run as root)
- `stop()` kills the process group (instant); `start()` again reuses the same ports, so
  `restart()` looks to a client like a server that went away and came back
"""

from __future__ import annotations

import atexit
import contextlib
import grp
import itertools
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from certs import TestCA

from triage.config import Account, TlsMode

HOST = "127.0.0.1"
FIXED_USER = "fixture@example.test"
SPECIAL_USE = (("Drafts", "\\Drafts"), ("Sent", "\\Sent"), ("Junk", "\\Junk"), ("Trash", "\\Trash"))


def find_binary() -> str | None:
    """The dovecot executable, also when /usr/sbin is not on PATH (non-root shells).

    TRIAGE_TEST_DOVECOT overrides the search: a path to use, or "" to act as if not installed.
    """
    override = os.environ.get("TRIAGE_TEST_DOVECOT")
    if override is not None:
        return override if override and os.access(override, os.X_OK) else None
    found = shutil.which("dovecot")
    if found:
        return found
    for candidate in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot", "/opt/homebrew/sbin/dovecot"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _traversable_temp_root() -> str:
    """A temp dir whose ancestors all let other users through (an unprivileged server needs it)."""
    base = Path(tempfile.gettempdir()).resolve()
    for directory in (base, *base.parents):
        if not directory.stat().st_mode & stat.S_IXOTH:
            return "/tmp"
    return str(base)


@dataclass(frozen=True)
class TestAccount:
    """A fresh mailbox on the test server and everything needed to log in to it."""

    __test__ = False  # not a test class, despite the name

    host: str
    imap_port: int  # plain, offers STARTTLS
    imaps_port: int  # implicit TLS
    username: str
    password: str
    ca_file: Path
    maildir: Path  # the server-side Maildir, for checking what a test did

    def account(
        self,
        tls: TlsMode = "implicit",
        *,
        name: str = "test",
        trust_test_ca: bool = True,
        ca_file: Path | None = None,
        **overrides: object,
    ) -> Account:
        """A triage Account for this mailbox; the port follows `tls`."""
        port = self.imaps_port if tls == "implicit" else self.imap_port
        values: dict[str, object] = {
            "name": name,
            "host": self.host,
            "username": self.username,
            "port": port,
            "tls": tls,
            "ca_file": ca_file or (self.ca_file if trust_test_ca else None),
            "allow_insecure": tls == "none",
        }
        values.update(overrides)
        return Account(**values)  # type: ignore[arg-type]

    def config_toml(self, tls: TlsMode = "implicit", *, name: str = "test") -> str:
        """A complete config file with this mailbox as its only account."""
        port = self.imaps_port if tls == "implicit" else self.imap_port
        insecure = "allow_insecure = true\n" if tls == "none" else ""
        return (
            "[[account]]\n"
            f'name = "{name}"\n'
            f'host = "{self.host}"\n'
            f"port = {port}\n"
            f'username = "{self.username}"\n'
            f'tls = "{tls}"\n'
            f'ca_file = "{self.ca_file}"\n'
            f"{insecure}"
        )


class DovecotServer:
    """Control of one throwaway Dovecot instance."""

    def __init__(self, binary: str, root: Path, ca: TestCA) -> None:
        self.binary = binary
        self.root = root
        self.host = HOST
        self.imap_port = free_port()
        self.imaps_port = free_port()
        while self.imaps_port == self.imap_port:
            self.imaps_port = free_port()
        self.static_password = "static-" + secrets.token_urlsafe(12)
        self.fixed_password = "fixed-" + secrets.token_urlsafe(12)
        self._process: subprocess.Popen[bytes] | None = None
        self._counter = itertools.count(1)

        self.ca_file = ca.write_cert(root / "ca.pem")
        ca.issue_server_cert(root / "server.pem", root / "server.key", hosts=("localhost", HOST))
        (root / "passwd").write_text(f"{FIXED_USER}:{{PLAIN}}{self.fixed_password}::::\n")
        for directory in ("run", "state", "mail"):
            (root / directory).mkdir()

        if os.geteuid() == 0:
            # Dovecot refuses to run as root: run everything as nobody, who must own the tree.
            user = pwd.getpwnam("nobody")
            self._run_as: tuple[int, int] | None = (user.pw_uid, user.pw_gid)
            self.user_name = user.pw_name
            root.chmod(0o755)
            for path in (root, *root.rglob("*")):
                os.chown(path, user.pw_uid, user.pw_gid)
        else:
            self._run_as = None
            self.user_name = pwd.getpwuid(os.getuid()).pw_name
        self.uid, self.gid = self._run_as or (os.getuid(), os.getgid())
        self.config_file = root / "dovecot.conf"
        self.config_file.write_text(self._config())
        self.config_file.chmod(0o644)

    @classmethod
    def create(cls, binary: str, ca: TestCA) -> DovecotServer:
        root = Path(tempfile.mkdtemp(prefix="triage-dovecot-", dir=_traversable_temp_root()))
        return cls(binary, root, ca)

    # ------------------------------------------------------------------ config

    auth_mechanisms = "plain login"

    def _passdbs(self) -> str:
        """The fixed account's password file, then the static password for everyone else."""
        r = self.root
        return f"""\
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/passwd
}}
passdb {{
  driver = static
  args = password={self.static_password}
}}
"""

    def _config(self) -> str:
        r = self.root
        mailboxes = "".join(
            f"  mailbox {name} {{\n    special_use = {use}\n    auto = subscribe\n  }}\n"
            for name, use in SPECIAL_USE
        )
        return f"""\
# Throwaway Dovecot for the triage tests; every setting on its own line.
protocols = imap
listen = {HOST}
base_dir = {r}/run
state_dir = {r}/state
instance_name = triage-test-{self.imap_port}
log_path = {r}/dovecot.log
info_log_path = {r}/dovecot.log
auth_verbose = yes
default_internal_user = {self.user_name}
default_internal_group = {grp.getgrgid(self.gid).gr_name}
default_login_user = {self.user_name}
first_valid_uid = 1
last_valid_uid = 0
first_valid_gid = 0
ssl = yes
ssl_cert = <{r}/server.pem
ssl_key = <{r}/server.key
disable_plaintext_auth = no
auth_mechanisms = {self.auth_mechanisms}
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_fsync = never
{self._passdbs()}userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={r}/mail/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until both ports accept connections."""
        if self.running:
            return
        (self.root / "run" / "master.pid").unlink(missing_ok=True)
        stderr = open(self.root / "dovecot.stderr", "ab")  # noqa: SIM115 - kept by the child
        try:
            self._process = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,
                user=self._run_as[0] if self._run_as else None,
                group=self._run_as[1] if self._run_as else None,
                extra_groups=[] if self._run_as else None,
                cwd=self.root,
            )
        finally:
            stderr.close()
        atexit.register(self._kill_quietly, self._process)
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"dovecot exited with status {self._process.returncode}:\n{self.log_tail()}"
                )
            if self._accepting(self.imap_port) and self._accepting(self.imaps_port):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot did not listen within {timeout} s:\n{self.log_tail()}")
            time.sleep(0.01)

    def stop(self) -> None:
        """Kill the server and all its processes at once; connections drop without a BYE."""
        process, self._process = self._process, None
        if process is not None:
            self._kill_quietly(process)

    def restart(self) -> None:
        """Stop and start again on the same ports with the same mailboxes."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    @staticmethod
    def _kill_quietly(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    @staticmethod
    def _accepting(port: int) -> bool:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            return False

    # ------------------------------------------------------------------ accounts

    def new_account(self) -> TestAccount:
        """A user name nobody has used yet: it logs in with the static password to an empty box."""
        username = f"t{next(self._counter)}-{secrets.token_hex(3)}@example.test"
        return TestAccount(
            host=self.host,
            imap_port=self.imap_port,
            imaps_port=self.imaps_port,
            username=username,
            password=self.static_password,
            ca_file=self.ca_file,
            maildir=self.root / "mail" / username / "Maildir",
        )

    def log_tail(self, lines: int = 30) -> str:
        text = ""
        for name in ("dovecot.stderr", "dovecot.log"):
            path = self.root / name
            if path.exists():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])
