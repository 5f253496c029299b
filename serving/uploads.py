"""Admission of request bodies: how many are received at once and how many bytes they hold.

The scan queue (`scanner.py`) bounds work once a body is complete; this bounds what comes before
it. Without it, a few hundred clients that each declare 60 MB and then send slowly make the
process buffer all of it before any scan limit is consulted. A declared Content-Length is
reserved in full before the first byte is read, a chunked body reserves as it arrives, and the
reservation is held until the answer is sent (the bytes live that long). Over either bound the
request is refused at once with 429 and Retry-After, which a gateway retries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .body import BodyError

RETRY_AFTER = {"Retry-After": "1", "Connection": "close"}


class Ticket:
    """One request's share of the budget."""

    __slots__ = ("_gate", "reserved")

    def __init__(self, gate: UploadGate) -> None:
        self._gate = gate
        self.reserved = 0

    def hold(self, size: int) -> None:
        """Make sure `size` bytes are reserved for this request, or raise a 429 BodyError."""
        more = size - self.reserved
        if more > 0:
            self._gate.reserve(more)
            self.reserved = size


class UploadGate:
    def __init__(self, *, max_uploads: int, max_bytes: int) -> None:
        self.max_uploads = max_uploads
        self.max_bytes = max_bytes
        self.receiving = 0  # bodies being read now
        self.held = 0  # bytes reserved by requests not yet answered

    def reserve(self, size: int) -> None:
        if self.held + size > self.max_bytes:
            raise BodyError(429, f"too many request bytes in flight (MALDOC_MAX_BUFFERED_BYTES={self.max_bytes}); "
                            "retry shortly", headers=RETRY_AFTER)
        self.held += size

    @asynccontextmanager
    async def admit(self, declared: int | None) -> AsyncIterator[Ticket]:
        """A ticket for one request; `declared` (its Content-Length) is reserved before reading."""
        ticket = Ticket(self)
        if declared:
            ticket.hold(declared)
        try:
            yield ticket
        finally:
            self.held -= ticket.reserved
            ticket.reserved = 0

    @asynccontextmanager
    async def receiving_body(self) -> AsyncIterator[None]:
        """Counts one body being received; refused with 429 past `max_uploads`."""
        if self.receiving >= self.max_uploads:
            raise BodyError(429, f"too many uploads in progress (MALDOC_MAX_UPLOADS={self.max_uploads}); "
                            "retry shortly", headers=RETRY_AFTER)
        self.receiving += 1
        try:
            yield
        finally:
            self.receiving -= 1
