"""Resource limits: one definition that settings, CLI flags and pipeline parameters all build.

Attachments are hostile input. Every container walk, decompression and recursion in maldoc is
bounded by one of these numbers, and hitting one is reported (`limit_exceeded`), never silent.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Every bound of one input file's scan; each field's meaning is in `_DESCRIPTIONS` below."""

    max_bytes: int = 64 * MiB
    max_depth: int = 5
    max_children: int = 200
    max_decompressed_bytes: int = 256 * MiB
    max_ratio: float = 200.0
    max_nodes: int = 2000
    timeout_s: float = 30.0
    max_memory_mb: int = 2048

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) <= 0:
                raise ValueError(f"limit {f.name} must be positive, got {getattr(self, f.name)!r}")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def describe(cls) -> dict[str, str]:
        """Limit name -> one-line meaning (CLI --help, service settings, pipeline parameters)."""
        return dict(_DESCRIPTIONS)


_DESCRIPTIONS = {
    "max_bytes": "largest input file accepted",
    "max_depth": "deepest container nesting followed",
    "max_children": "members taken from one container",
    "max_decompressed_bytes": "total bytes inflated per input file",
    "max_ratio": "largest compression ratio of one member",
    "max_nodes": "embedded items analysed per input file, all levels together",
    "timeout_s": "seconds per input file (hard, in worker pools)",
    "max_memory_mb": "address-space limit of one scan worker (MiB)",
}


class Budget:
    """The running account of one input file's scan against its `Limits`.

    Shared by every node of one scan tree, so that a zip bomb spread over many nested
    members still hits the total.
    """

    __slots__ = ("deadline", "inflated", "limits", "nodes")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.timeout_s
        self.inflated = 0
        self.nodes = 1  # the input itself

    def expired(self) -> bool:
        return time.monotonic() > self.deadline

    def remaining_s(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def remaining_inflate(self) -> int:
        return max(0, self.limits.max_decompressed_bytes - self.inflated)

    def allow_inflate(self, size: int) -> bool:
        """Reserve `size` decompressed bytes; False when that would pass the total."""
        if self.inflated + size > self.limits.max_decompressed_bytes:
            return False
        self.inflated += size
        return True
