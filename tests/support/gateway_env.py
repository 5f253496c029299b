"""Helpers for the gateway listener tests: a Service with listeners running in a background event
loop, plain-socket clients, the demo documents, free ports, and child processes that always die.

The listeners run in their own thread and loop, so the tests talk to them over real sockets
with ordinary blocking clients (as a gateway would), and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from serving_support import settings as engine_settings

from maldoc.serving.service import Service


def _sample(family: str, suffix: str, *, min_size: int = 0) -> Path:
    """An inert synthetic sample of `family`, made once per test session (not tied to the demo set's
    file names, which change whenever templates are added)."""
    from maldoc.samples.generate import build
    from maldoc.samples.registry import TEMPLATES

    template = next(t for t in TEMPLATES.values() if t.family == family)
    folder = Path(tempfile.gettempdir()) / f"maldoc-gateway-samples-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    for index in range(50):  # a seed whose sample is large enough, when a size is asked for
        data = build(template, 1, index).data
        if len(data) >= min_size:
            break
    else:
        raise RuntimeError(f"no {family} sample of {min_size} bytes or more")
    path = folder / f"{family}{suffix}"
    path.write_bytes(data)
    return path


MALICIOUS_DOCM = _sample("docm_vba_dropper", ".docm")  # VBA dropper (AutoOpen, Shell, PowerShell)
CLEAN_DOCX = _sample("docx_plain", ".docx")
CLEAN_LARGE = _sample("doc_plain", ".doc", min_size=4097)  # over 4 KiB: exercises ICAP's 100 Continue
WAIT_S = 60.0  # upper bound of every wait for a server (start-up includes warming a worker process)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout_s: float = WAIT_S, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise AssertionError(f"nothing listening on 127.0.0.1:{port} after {timeout_s} s")


class Running:
    """A started Service in a background loop; `add(factory)` starts a listener on it."""

    def __init__(self, task=None, **engine) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="gateway-loop", daemon=True)
        self.thread.start()
        self.service = Service(engine_settings(**engine), **({"task": task} if task else {}))
        self.call(self.service.start())
        self._closers: list[Callable] = []

    def call(self, coro, timeout_s: float = WAIT_S):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def add(self, factory):
        """`factory(service)` -> a ClamdServer / IcapServer; started here, closed by `close()`."""
        async def start():
            server = factory(self.service)
            self._closers.append(await server.start())
            return server

        return self.call(start())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            for close in reversed(self._closers):
                self.call(close(grace_s=1.0))
            self.call(self.service.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()


# -- plain clients -------------------------------------------------------------------------------
def connect(address, timeout_s: float = 30.0) -> socket.socket:
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout_s)
        sock.connect(address)
        return sock
    return socket.create_connection(address, timeout=timeout_s)


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection (bounded by the socket timeout)."""
    parts = []
    while True:
        part = sock.recv(65536)
        if not part:
            return b"".join(parts)
        parts.append(part)


def read_until(sock: socket.socket, delimiter: bytes) -> bytes:
    data = b""
    while delimiter not in data:
        part = sock.recv(65536)
        if not part:
            raise AssertionError(f"connection closed before {delimiter!r}; got {data!r}")
        data += part
    return data


def is_closed(sock: socket.socket) -> bool:
    """True when the server has closed its side (EOF or reset)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def instream(data: bytes, chunk: int = 4096) -> bytes:
    frames = [struct.pack(">I", len(data[i:i + chunk])) + data[i:i + chunk] for i in range(0, len(data), chunk)]
    return b"".join(frames) + struct.pack(">I", 0)


def clamd_command(address, command: bytes, payload: bytes = b"") -> bytes:
    """One command on a fresh connection; everything the server answers before it closes."""
    with connect(address) as sock:
        sock.sendall(command + payload)
        return read_all(sock)


# -- child processes -------------------------------------------------------------------------------
@contextlib.contextmanager
def process(args: list[str], log: Path, env: dict | None = None, **kwargs) -> Iterator[subprocess.Popen]:
    """A child process whose output goes to `log`; killed (with its group) on exit whatever happens."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                **kwargs)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 15)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
                proc.wait(10)


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALDOC_")}
    env.update(extra)
    return env


def missing(*programs: str) -> str | None:
    absent = [p for p in programs if shutil.which(p) is None]
    if absent:
        return f"{', '.join(absent)} not installed (scripts/install-gateways.sh installs it)"
    return None
