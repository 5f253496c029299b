"""A throw-away Postfix on loopback for end-to-end milter tests, and the milter process beside it.

The instance has its own config, queue and data directories under one temporary folder, listens
for SMTP on 127.0.0.1 at a free port (set in its own master.cf), and delivers every recipient in
example.test into one Maildir (`virtual` with static maps, so no map files need building). Its
log goes to a file in the same folder (Postfix >= 3.4 `maillog_file`). It needs root (Postfix
starts as root and drops to its `postfix` user), the Debian packages postfix and libmilter-dev,
and pymilter: `scripts/install-postfix.sh` installs them; `missing()` says what is absent.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

DOMAIN = "example.test"
VMAIL_UID = 65534  # nobody: the Maildir owner; the virtual agent refuses root

LISTENER = "127.0.0.1:{port} inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:{milter}\n"
MASTER_CF = """\
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
smtp      unix  - - n -    - smtp
virtual   unix  - n n -    - virtual
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.{domain}
mydomain = {domain}
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {root}/vmail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{uid}
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
smtputf8_enable = no
biff = no
message_size_limit = 20480000
smtpd_milters = {milter}
non_smtpd_milters = $smtpd_milters
milter_default_action = tempfail
milter_connect_timeout = 10s
milter_content_timeout = 120s
"""


def missing() -> str | None:
    """Why the end-to-end test cannot run here, or None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root to start Postfix"
    for tool in ("postfix", "postconf", "postqueue"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            return f"Postfix not installed ({tool} not found); run scripts/install-postfix.sh"
    if importlib.util.find_spec("Milter") is None:
        return "pymilter not installed (pip install 'maldoc[milter]', needs libmilter-dev)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout_s: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s} s")


def _sbin(tool: str) -> str:
    return shutil.which(tool) or f"/usr/sbin/{tool}"


@dataclass
class Postfix:
    """One instance; `milters` maps a name to a milter port, and each name gets its own SMTP
    listener (`smtp_ports[name]`) that calls only that milter, so one Postfix can exercise
    several milter configurations side by side."""

    root: Path
    milters: dict[str, int]
    smtp_ports: dict[str, int] = field(default_factory=dict)
    started: bool = field(default=False)

    def __post_init__(self) -> None:
        self.smtp_ports = self.smtp_ports or {name: free_port() for name in self.milters}

    @property
    def config_dir(self) -> Path:
        return self.root / "etc"

    @property
    def maildir(self) -> Path:
        return self.root / "vmail" / "inbox"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([_sbin(args[0]), "-c", str(self.config_dir), *args[1:]], check=check,
                              capture_output=True, text=True, timeout=60)

    def write_config(self) -> None:
        for sub in ("etc", "spool", "data", "vmail"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)  # the virtual agent runs as nobody and must reach vmail/
        os.chown(self.root / "vmail", VMAIL_UID, VMAIL_UID)
        first = next(iter(self.milters.values()))
        (self.config_dir / "main.cf").write_text(MAIN_CF.format(
            root=self.root, domain=DOMAIN, uid=VMAIL_UID, milter=f"inet:127.0.0.1:{first}"))
        listeners = "".join(LISTENER.format(port=self.smtp_ports[name], milter=port)
                            for name, port in self.milters.items())
        (self.config_dir / "master.cf").write_text(listeners + MASTER_CF)

    def start(self) -> None:
        self.write_config()
        self._run("postfix", "check")  # creates the queue directories with Postfix's ownership
        import pwd

        pw = pwd.getpwnam("postfix")
        os.chown(self.root / "data", pw.pw_uid, pw.pw_gid)
        self._run("postfix", "start")
        self.started = True
        for port in self.smtp_ports.values():
            wait_port(port)

    def stop(self) -> None:
        if self.started:
            self._run("postfix", "stop", check=False)
            self.started = False

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def queue(self) -> list[dict]:
        """`postqueue -j`: one JSON object per queued message (queue_name: hold, deferred, ...)."""
        out = self._run("postqueue", "-j").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def delivered(self) -> list[Message]:
        new = self.maildir / "new"
        if not new.is_dir():
            return []
        return [message_from_bytes(p.read_bytes()) for p in sorted(new.iterdir())]

    def wait_for(self, predicate, timeout_s: float = 30.0, what: str = "condition"):
        """Poll until `predicate()` returns something truthy (delivery is asynchronous)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}\n--- Postfix log ---\n{self.log()[-4000:]}")


@contextlib.contextmanager
def postfix(milters: dict[str, int]) -> Iterator[Postfix]:
    root = Path(tempfile.mkdtemp(prefix="maldoc-postfix-"))
    instance = Postfix(root=root, milters=dict(milters))
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def milter_process(port: int, *args: str, log_path: Path | None = None,
                   wait: bool = True) -> Iterator[subprocess.Popen]:
    """`maldoc milter` in a child process (libmilter owns its process's signals and threads).
    With wait=False the caller waits for the port (`wait_port`), to start several at once."""
    cmd = [sys.executable, "-m", "maldoc.cli", "milter", "--socket", f"inet:{port}@127.0.0.1", *args]
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        if wait:
            wait_port(port, timeout_s=120, proc=proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log_path:
            log.close()
