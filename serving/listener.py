"""Asyncio server plumbing shared by the clamd and ICAP listeners.

A `Listener` accepts on TCP and/or a Unix socket, admits at most `max_connections` at once (one
over that gets the protocol's refusal from `refuse` and is closed), and hands each admitted
connection to `handle` as a `Conn`, whose reads all time out after `idle_timeout_s` without a
byte (and, once a handler calls `begin_request`, when one request takes longer than its bound).
A handler that raises is logged (type only: messages may quote input) and its connection closed;
the server keeps serving. Nothing read is ever logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

log = logging.getLogger("maldoc.serving.listener")

READ_PIECE = 256 * 1024  # a large body is read in pieces, each under the idle timeout
LINE_LIMIT = 64 * 1024  # longest command or header line a reader accepts
LINGER_S = 1.0  # after our last answer, how long a closing connection still drains the client's input
LINGER_BYTES = 8 * 1024 * 1024


class IdleTimeout(Exception):
    """No byte arrived within the idle timeout."""


class Closed(Exception):
    """The peer closed the connection (possibly in the middle of a message)."""


class LineTooLong(Exception):
    """No delimiter within the line limit."""


class Conn:
    """One accepted connection: bounded, timed reads and writes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, idle_timeout_s: float,
                 local: bool) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_timeout_s = idle_timeout_s
        self.local = local  # accepted on the Unix socket: only a local user can have sent this
        peer = writer.get_extra_info("peername")
        self.peer = "unix" if local else (f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer))
        self.received = 0  # bytes read so far, for the connection's log line
        self._deadline: float | None = None

    def begin_request(self, timeout_s: float | None) -> None:
        """Reads from now on must also finish within `timeout_s` in all (a client dripping one byte
        per idle period must not hold its connection slot forever); None lifts the bound."""
        self._deadline = None if timeout_s is None else time.monotonic() + timeout_s

    async def _timed(self, awaitable: Awaitable):
        limit = self.idle_timeout_s
        if self._deadline is not None:
            limit = min(limit, max(0.0, self._deadline - time.monotonic()))
        try:
            async with asyncio.timeout(limit):
                return await awaitable
        except TimeoutError:
            raise IdleTimeout from None

    async def read_until(self, delimiter: bytes, limit: int = LINE_LIMIT) -> bytes:
        """Bytes up to and including `delimiter`. Raises Closed, IdleTimeout, LineTooLong."""
        try:
            data = await self._timed(self.reader.readuntil(delimiter))
        except asyncio.IncompleteReadError as exc:
            raise Closed("truncated" if exc.partial else "") from None
        except asyncio.LimitOverrunError:
            raise LineTooLong from None
        if len(data) > limit:
            raise LineTooLong
        self.received += len(data)
        return data

    async def read_exactly(self, n: int) -> bytes:
        """Exactly `n` bytes, read in pieces so that each piece gets the idle timeout."""
        if n <= READ_PIECE:
            return await self._piece(n)
        parts, left = [], n
        while left:
            part = await self._piece(min(left, READ_PIECE))
            parts.append(part)
            left -= len(part)
        return b"".join(parts)

    async def _piece(self, n: int) -> bytes:
        try:
            data = await self._timed(self.reader.readexactly(n))
        except asyncio.IncompleteReadError:
            raise Closed("truncated") from None
        self.received += len(data)
        return data

    async def first_byte(self, timeout_s: float) -> bytes:
        """The first byte the client sends within `timeout_s` (b'' if none); for refusals only."""
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(timeout_s):
                return await self.reader.read(1)
        return b""

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self._timed(self.writer.drain())

    async def close(self) -> None:
        # Lingering close: end our side first and discard what the client is still sending (bounded),
        # so that closing with unread input does not reset the connection before our answer arrives.
        with contextlib.suppress(Exception):
            if self.writer.can_write_eof() and not self.writer.is_closing():
                self.writer.write_eof()
                async with asyncio.timeout(LINGER_S):
                    discarded = 0
                    while discarded < LINGER_BYTES and (part := await self.reader.read(READ_PIECE)):
                        discarded += len(part)
        with contextlib.suppress(Exception):
            self.writer.close()
            async with asyncio.timeout(2):
                await self.writer.wait_closed()


Handler = Callable[[Conn], Awaitable[None]]


class Listener:
    """TCP and Unix-socket servers for one protocol, with a connection limit and idle timeouts."""

    def __init__(self, name: str, handle: Handler, *, refuse: Handler, max_connections: int,
                 idle_timeout_s: float, on_count: Callable[[str], None] | None = None) -> None:
        self.name = name
        self.handle = handle
        self.refuse = refuse
        self.max_connections = max_connections
        self.idle_timeout_s = idle_timeout_s
        self.active = 0
        self._count = on_count or (lambda event: None)
        self._servers: list[asyncio.base_events.Server] = []
        self._tasks: set[asyncio.Task] = set()
        self._unix_paths: list[Path] = []

    async def start_tcp(self, host: str, port: int) -> tuple[str, int]:
        server = await asyncio.start_server(lambda r, w: self._accept(r, w, local=False), host, port,
                                            limit=LINE_LIMIT, reuse_address=True)
        self._servers.append(server)
        address = server.sockets[0].getsockname()
        log.info("%s: listening on %s:%d", self.name, address[0], address[1])
        return address[0], address[1]

    async def start_unix(self, path: str, mode: int = 0o660) -> str:
        target = Path(path)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(target.lstat().st_mode):
                if _socket_alive(target):
                    raise OSError(f"{target}: another server is listening on this socket")
                target.unlink()  # left behind by a server that died
        server = await asyncio.start_unix_server(lambda r, w: self._accept(r, w, local=True), path,
                                                 limit=LINE_LIMIT)
        os.chmod(path, mode)
        self._servers.append(server)
        self._unix_paths.append(target)
        log.info("%s: listening on unix:%s", self.name, path)
        return path

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, local: bool) -> None:
        conn = Conn(reader, writer, idle_timeout_s=self.idle_timeout_s, local=local)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            if self.active >= self.max_connections:
                self._count("refused")
                log.warning("%s: connection from %s refused: %d connections open (limit %d)", self.name,
                            conn.peer, self.active, self.max_connections)
                with contextlib.suppress(Exception):
                    await self.refuse(conn)
                return
            self.active += 1
            self._count("accepted")
            try:
                await self.handle(conn)
            except (Closed, IdleTimeout, ConnectionError):
                pass  # the handler answered what it could; the peer is gone or idle
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a handler bug costs this connection, never the server
                self._count("failed")
                log.error("%s: connection from %s failed: %s", self.name, conn.peer, type(exc).__name__)
            finally:
                self.active -= 1
                self._count("closed")
        finally:
            await conn.close()
            if task is not None:
                self._tasks.discard(task)

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop accepting, give open connections `grace_s` to finish, then cancel them."""
        for server in self._servers:
            server.close()
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2)
        for server in self._servers:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await server.wait_closed()
        for path in self._unix_paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._servers.clear()


def _socket_alive(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True
