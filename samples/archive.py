"""Archives and disk images for the generator: ISO 9660 + Joliet (pycdlib), 7z (py7zr), tar.gz.

All three libraries write from memory, deterministically for a given input (fixed timestamps).
RAR cannot be written by free tools; the RAR tests build their archives from the RAR5 spec.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from unittest import mock

FIXED_MTIME = 1672560000  # 2023-01-01


def iso(files: list[tuple[str, bytes, bool]], *, volume: str = "DATA") -> bytes:
    """An ISO 9660 image with Joliet names: (path, bytes, hidden). Directories are created as needed.
    pycdlib dates every record from the clock, which is pinned while it builds (reproducible output)."""
    with mock.patch("time.time", return_value=float(FIXED_MTIME)):
        return _iso(files, volume)


def _iso(files: list[tuple[str, bytes, bool]], volume: str) -> bytes:
    import pycdlib

    image = pycdlib.PyCdlib()
    image.new(interchange_level=3, joliet=3, vol_ident=volume)
    made: set[str] = set()

    def iso_name(part: str) -> str:
        return "".join(c if c.isalnum() or c == "_" else "_" for c in part.upper())[:30]

    for path, data, hidden in files:
        parts = path.split("/")
        for k in range(1, len(parts)):
            folder = "/".join(parts[:k])
            if folder not in made:
                made.add(folder)
                image.add_directory("/" + "/".join(iso_name(p) for p in parts[:k]), joliet_path="/" + folder)
        stem, dot, ext = parts[-1].rpartition(".")
        leaf = f"{iso_name(stem or ext)}.{iso_name(ext)[:3] if dot else ''};1"
        iso_path = "/" + "/".join([*(iso_name(p) for p in parts[:-1]), leaf])
        image.add_fp(io.BytesIO(data), len(data), iso_path, joliet_path="/" + path)
        if hidden:
            image.set_hidden(iso_path=iso_path)
            image.set_hidden(joliet_path="/" + path)
    out = io.BytesIO()
    image.write_fp(out)
    image.close()
    return out.getvalue()


def sevenzip(files: list[tuple[str, bytes]], *, password: str | None = None, encrypt_headers: bool = False) -> bytes:
    """A 7z archive, AES-encrypted with `password`. py7zr stamps members with the current time and
    draws a random AES IV; both are pinned (the IV from the content) so output is reproducible."""
    import py7zr
    import py7zr.compressor
    from py7zr.helpers import ArchiveTimestamp

    seed = hashlib.sha256(repr((password, [n for n, _ in files])).encode()).digest()
    stamp = ArchiveTimestamp.from_datetime(float(FIXED_MTIME))
    out = io.BytesIO()
    with mock.patch.object(py7zr.compressor, "get_random_bytes", lambda n: seed[:n]), \
            mock.patch.object(ArchiveTimestamp, "from_now", classmethod(lambda cls: stamp)), \
            py7zr.SevenZipFile(out, "w", password=password,
                               header_encryption=encrypt_headers and bool(password)) as z:
        for name, data in files:
            z.writestr(data, name)
    return out.getvalue()


def tar_gz(files: list[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = FIXED_MTIME
            tf.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=FIXED_MTIME)
