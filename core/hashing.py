"""The hashes a verdict reports for an input: what threat-intel platforms and MISP take.

md5, sha1 and sha256 for lookups, and TLSH (a similarity hash: files of one campaign differ in
few bits) for clustering. Always over the whole input, streamed from disk when the input is
larger than the scan limit, so a refused file still gets its true indicator.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20
TLSH_MIN = 50  # TLSH needs at least this many bytes (and some variety) to say anything


def _tlsh():
    try:
        import tlsh  # py-tlsh: a C++ extension with wheels on the package index

        return tlsh.Tlsh()
    except ImportError:  # optional: the other hashes do not depend on it
        return None


def _finish(digests: dict, similar, size: int) -> dict[str, str]:
    out = {name: h.hexdigest() for name, h in digests.items()}
    if similar is not None and size >= TLSH_MIN:
        try:
            similar.final()
            value = similar.hexdigest()
            if value and value != "TNULL":
                out["tlsh"] = value
        except ValueError:  # too little variety in the bytes
            pass
    return out


def hashes(data: bytes) -> dict[str, str]:
    digests = {"md5": hashlib.md5(data, usedforsecurity=False), "sha1": hashlib.sha1(data, usedforsecurity=False),
               "sha256": hashlib.sha256(data)}
    similar = _tlsh()
    if similar is not None and len(data) >= TLSH_MIN:
        similar.update(data)
    return _finish(digests, similar, len(data))


def hash_file(path: Path) -> dict[str, str]:
    """The same hashes over a whole file, read in chunks (never loaded at once)."""
    digests = {"md5": hashlib.md5(usedforsecurity=False), "sha1": hashlib.sha1(usedforsecurity=False),
               "sha256": hashlib.sha256()}
    similar = _tlsh()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            size += len(chunk)
            for h in digests.values():
                h.update(chunk)
            if similar is not None:
                similar.update(chunk)
    return _finish(digests, similar, size)
