"""`maldoc clamd`: the ClamAV daemon protocol, so gateways with a clamd module can call maldoc.

Speaks what clamd speaks on TCP and on a Unix socket: PING, VERSION, VERSIONCOMMANDS, INSTREAM
(4-byte big-endian chunk lengths, a zero length ends the stream, StreamMaxLength enforced),
SCAN / CONTSCAN / MULTISCAN of a path below an allowed folder, IDSESSION ... END (replies
prefixed with the command's number), the `z` (NUL-terminated) and `n` (newline-terminated)
command prefixes and unprefixed old-style commands where clamd accepts them, and SHUTDOWN and
RELOAD from the local socket only. Answers are clamd's: `stream: OK`, `stream: <name> FOUND`,
`... ERROR` lines, `UNKNOWN COMMAND`, `INSTREAM size limit exceeded. ERROR`, `COMMAND READ TIMED
OUT`; after a protocol error the connection is closed, as clamd does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from maldoc import __version__
from maldoc.engine import QueueFull
from maldoc.limits import MiB

from .gateway import ListenerMetrics, ListenerSettings, detected, log_answer, threat_name
from .listener import Closed, Conn, IdleTimeout, LineTooLong, Listener
from .service import InternalScanError, Service

log = logging.getLogger("maldoc.serving.clamd")

MAX_WALK = 100_000  # files visited by one path scan


class ClamdSettings(ListenerSettings):
    model_config = SettingsConfigDict(env_prefix="MALDOC_CLAMD_", extra="ignore")

    port: int | None = Field(3310, ge=0, le=65535, description="TCP port; unset (empty) for no TCP listener")
    socket: str | None = Field(None, description="Unix socket path (SHUTDOWN and RELOAD are accepted only here)")
    socket_mode: int = Field(0o660, ge=0, le=0o777, description="permissions of the Unix socket")
    stream_max_length: int = Field(25 * MiB, ge=1, description="largest INSTREAM (clamd's StreamMaxLength)")
    allow_paths: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated folders whose files SCAN/CONTSCAN/MULTISCAN may read; "
        "path scans are refused when empty")

    @field_validator("allow_paths", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @field_validator("port", mode="before")
    @classmethod
    def _empty_port(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _somewhere_to_listen(self) -> ClamdSettings:
        if self.port is None and not self.socket:
            raise ValueError("neither a TCP port nor a Unix socket is configured")
        return self


@dataclass(frozen=True, slots=True)
class Command:
    word: str
    needs_arg: bool
    old_style: bool  # accepted without a z/n prefix
    in_session: bool  # accepted inside IDSESSION


# clamd's table order matters: VERSIONCOMMANDS must be tried before VERSION (common prefix).
COMMANDS = (
    Command("SCAN", True, True, True),
    Command("SHUTDOWN", False, True, False),
    Command("RELOAD", False, True, False),
    Command("PING", False, True, True),
    Command("CONTSCAN", True, True, False),
    Command("VERSIONCOMMANDS", False, False, True),
    Command("VERSION", False, True, True),
    Command("END", False, False, True),
    Command("MULTISCAN", True, True, False),
    Command("IDSESSION", False, False, False),
    Command("INSTREAM", False, False, True),
)

FAILURES = {"timeout": "Scan timed out.", "worker_died": "Scanner process died.",
            "internal_error": "Internal error."}


class ProtocolError(Exception):
    """Answered with `answer` (an `... ERROR` line or UNKNOWN COMMAND); the connection then closes."""

    def __init__(self, answer: str, kind: str) -> None:
        super().__init__(answer)
        self.answer, self.kind = answer, kind  # kind: the metrics label


def parse(line: str, old_style: bool) -> tuple[Command, str | None] | None:
    for command in COMMANDS:
        if not line.startswith(command.word):
            continue
        rest = line[len(command.word):]
        if command.needs_arg:
            if not rest.startswith(" ") or not rest[1:]:
                return None
            arg: str | None = rest[1:]
        elif rest:
            return None  # trailing garbage
        else:
            arg = None
        if old_style and not command.old_style:
            return None
        return command, arg
    return None


class Session:
    """The reply framing of one connection: terminator, and the command number inside IDSESSION."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.term = b"\n"
        self.in_session = False
        self.id = 0  # the current command's number inside IDSESSION, from 1

    async def reply(self, text: str) -> None:
        prefix = f"{self.id}: " if self.in_session else ""
        await self.conn.write(prefix.encode() + text.encode("utf-8", "replace") + self.term)


class ClamdServer:
    def __init__(self, service: Service, settings: ClamdSettings, *,
                 shutdown: Callable[[], None] | None = None) -> None:
        self.service = service
        self.settings = settings
        self.shutdown = shutdown
        self.metrics = ListenerMetrics.of(service, "clamd")
        self.roots = [Path(p).resolve() for p in settings.allow_paths]
        self._tasks: set[asyncio.Task] = set()
        self.listener = Listener("clamd", self.handle, refuse=self.refuse,
                                 max_connections=settings.max_connections,
                                 idle_timeout_s=settings.idle_timeout_s, on_count=self.metrics.count)

    async def start(self) -> Callable:
        s = self.settings
        if s.port is not None:
            self.address = await self.listener.start_tcp(s.host, s.port)
        if s.socket:
            await self.listener.start_unix(s.socket, s.socket_mode)
        return self.listener.close

    # -- connection -------------------------------------------------------------------------------
    async def refuse(self, conn: Conn) -> None:
        # The terminator follows the client's prefix: read its first byte (a client sends at once).
        first = await conn.first_byte(min(1.0, self.settings.idle_timeout_s))
        term = b"\0" if first == b"z" else b"\n"
        await conn.write(b"Too many connections, try again later. ERROR" + term)

    async def handle(self, conn: Conn) -> None:
        session = Session(conn)
        try:
            while True:
                if session.in_session:
                    session.id += 1  # each command in a session has its number, from 1
                conn.begin_request(self.settings.request_timeout_s)  # the command and its stream
                line, old_style = await self._read_command(session)
                if not await self._dispatch(session, line, old_style):
                    return
        except ProtocolError as exc:
            self.metrics.errors.labels(kind=exc.kind).inc()
            await session.reply(exc.answer)
        except IdleTimeout:
            self.metrics.errors.labels(kind="idle_timeout").inc()
            await session.reply("COMMAND READ TIMED OUT")
        except Closed as exc:
            if exc.args and exc.args[0]:
                self.metrics.errors.labels(kind="truncated").inc()
                log.info("clamd: %s closed the connection in the middle of a command or stream", conn.peer)

    async def _read_command(self, session: Session) -> tuple[str, bool]:
        conn = session.conn
        first = await conn.read_exactly(1)
        try:
            if first == b"z":
                session.term = b"\0"
                raw = (await conn.read_until(b"\0"))[:-1]
                old_style = False
            elif first == b"n":
                session.term = b"\n"
                raw = (await conn.read_until(b"\n"))[:-1].rstrip(b"\r")
                old_style = False
            else:
                if session.in_session:
                    raise ProtocolError("Only nCMDS\\n and zCMDS\\0 are accepted inside IDSESSION. ERROR", "old_style")
                session.term = b"\n"
                line = first if first == b"\n" else first + await conn.read_until(b"\n")
                raw = line[:-1].rstrip(b"\r")
                old_style = True
        except LineTooLong:
            raise ProtocolError("UNKNOWN COMMAND", "too_long") from None
        try:
            return raw.decode("utf-8"), old_style
        except UnicodeDecodeError:
            raise ProtocolError("UNKNOWN COMMAND", "garbage") from None

    async def _dispatch(self, session: Session, line: str, old_style: bool) -> bool:
        """Run one command; True when the connection stays open for another."""
        parsed = parse(line, old_style)
        if parsed is None:
            raise ProtocolError("UNKNOWN COMMAND", "unknown_command")
        command, arg = parsed
        if session.in_session and not command.in_session:
            raise ProtocolError("Command invalid inside IDSESSION. ERROR", "invalid_in_session")
        word = command.word
        if word == "PING":
            await session.reply("PONG")
        elif word == "VERSION":
            await session.reply(self._version())
        elif word == "VERSIONCOMMANDS":
            words = " ".join(c.word for c in COMMANDS)
            await session.reply(f"{self._version()}| COMMANDS: {words}")
        elif word == "IDSESSION":
            session.in_session = True
            return True
        elif word == "END":
            if not session.in_session:
                raise ProtocolError("UNKNOWN COMMAND", "end_outside_session")
            return False
        elif word == "INSTREAM":
            await self._instream(session)
        elif word in ("SCAN", "CONTSCAN", "MULTISCAN"):
            await self._scan_path(session, word, arg or "")
        elif word in ("SHUTDOWN", "RELOAD"):
            if not session.conn.local:
                raise ProtocolError(f"{word} is accepted on the local socket only. ERROR", "not_local")
            if word == "RELOAD":
                await session.reply("RELOADING")
                task = asyncio.get_running_loop().create_task(self._reload())
                self._tasks.add(task)  # a reference, so the task is not collected before it runs
                task.add_done_callback(self._tasks.discard)
            else:
                log.info("clamd: SHUTDOWN from the local socket")
                if self.shutdown is not None:
                    self.shutdown()
            return False
        return session.in_session

    def _version(self) -> str:
        loaded = self.service.models.current
        generation = loaded.generation if loaded else 0
        model = loaded.version if loaded else "none"
        return f"ClamAV maldoc-{__version__} model-{model}/{generation}/{loaded.loaded_at if loaded else '-'}"

    async def _reload(self) -> None:
        with contextlib.suppress(Exception):  # Service.reload logged it; the current model keeps answering
            await self.service.reload()

    # -- INSTREAM ---------------------------------------------------------------------------------
    async def _instream(self, session: Session) -> None:
        conn = session.conn
        # Never more than the engine scans: a larger limit here would only buffer bytes it cuts off.
        quota = min(self.settings.stream_max_length, self.service.settings.max_body_bytes)
        parts: list[bytes] = []
        while True:
            (size,) = struct.unpack(">I", await conn.read_exactly(4))
            if size == 0:
                break
            if size > quota:
                log.warning("clamd: %s: INSTREAM over StreamMaxLength (%d bytes)", conn.peer,
                            min(self.settings.stream_max_length, self.service.settings.max_body_bytes))
                raise ProtocolError("INSTREAM size limit exceeded. ERROR", "size_limit")
            quota -= size
            parts.append(await conn.read_exactly(size))
        conn.begin_request(None)  # received: the scan's own timeout bounds what follows
        await session.reply("stream: " + await self._scan(conn, b"".join(parts), "stream"))

    async def _scan(self, conn: Conn, data: bytes, name: str) -> str:
        """`OK`, `<name> FOUND` or `<message> ERROR` for one input."""
        try:
            outcome = await self.service.scan(data, name, kind="file")
        except QueueFull as exc:
            answer = f"Scan queue full, retry in {exc.retry_after_s} s. ERROR"
            log.warning("clamd: %s: %s", conn.peer, answer)
            return answer
        except InternalScanError:
            return "Internal error. ERROR"
        response = outcome.response
        if response.decision.value == "error":
            answer = f"{FAILURES.get(response.failure or '', 'Scan failed.')} ERROR"
        elif detected(response, self.settings.suspicious):
            answer = f"{threat_name(response)} FOUND"
        else:
            answer = "OK"
        log_answer("clamd", conn.peer, response, answer)
        return answer

    # -- SCAN / CONTSCAN / MULTISCAN ----------------------------------------------------------------
    def _allowed(self, path: Path) -> bool:
        return any(path == root or path.is_relative_to(root) for root in self.roots)

    async def _scan_path(self, session: Session, word: str, arg: str) -> None:
        if not self.roots:
            raise ProtocolError(f"{arg}: Path scans are disabled (no allowed paths). ERROR", "paths_disabled")
        given = Path(arg)
        if not given.is_absolute():
            raise ProtocolError(f"{arg}: A full path is required. ERROR", "relative_path")
        real = Path(os.path.realpath(given))
        if not self._allowed(real):
            await session.reply(f"{arg}: Access denied. ERROR")
            return
        if not real.exists():
            await session.reply(f"{arg}: lstat() failed: No such file or directory. ERROR")
            return
        files = [real] if real.is_file() else await asyncio.to_thread(self._walk, real)
        infected = errors = 0
        semaphore = asyncio.Semaphore(self.service.settings.workers if word == "MULTISCAN" else 1)
        stop = asyncio.Event()

        async def one(path: Path) -> None:
            nonlocal infected, errors
            async with semaphore:
                if stop.is_set():
                    return
                shown = str(path) if path != real else arg
                answer = await self._scan_file(session.conn, path)
                if answer == "OK":
                    return
                if answer.endswith("FOUND"):
                    infected += 1
                    if word == "SCAN":
                        stop.set()  # SCAN stops at the first detection; CONTSCAN and MULTISCAN go on
                else:
                    errors += 1
                await session.reply(f"{shown}: {answer}")

        await asyncio.gather(*(one(p) for p in files))
        if not infected and (errors < len(files) or not files):
            await session.reply(f"{arg}: OK")

    def _walk(self, top: Path) -> list[Path]:
        found: list[Path] = []
        for root, dirs, names in os.walk(top):
            dirs.sort()
            for name in sorted(names):
                path = Path(root) / name
                if not path.is_file():
                    continue  # sockets, FIFOs, devices: never read (a FIFO would block)
                if path.is_symlink():
                    real = Path(os.path.realpath(path))
                    if not self._allowed(real):
                        continue  # a link out of the allowed folders is not followed
                found.append(path)
                if len(found) >= MAX_WALK:
                    return found
        return found

    async def _scan_file(self, conn: Conn, path: Path) -> str:
        limit = self.service.settings.max_body_bytes
        try:
            size = path.stat().st_size
            if not path.is_file():
                return "Not a regular file. ERROR"
            if size > limit:
                return "File size limit exceeded. ERROR"
            data = await asyncio.to_thread(path.read_bytes)
        except PermissionError:
            return "Access denied. ERROR"
        except OSError as exc:
            return f"{exc.strerror or 'Read error'}. ERROR"
        return await self._scan(conn, data, path.name)
