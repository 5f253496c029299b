"""Tiny byte-level fixture builders shared by the core tests."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pyzipper

FAKE_PE = b"MZ" + b"\x00" * 58 + (64).to_bytes(4, "little") + b"PE\x00\x00" + b"\x00" * 64


def make_zip(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data, compress_type=compression)
    return buf.getvalue()


def make_encrypted_zip(members: dict[str, bytes], password: str, *, aes: bool = True) -> bytes:
    if not aes:
        return _zipcrypto_zip(members, password.encode())
    buf = io.BytesIO()
    with pyzipper.AESZipFile(buf, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(password.encode())
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


class _ZipCrypto:
    """The traditional PKWARE stream cipher (writers for it are rare: zipfile only decrypts)."""

    def __init__(self, pwd: bytes) -> None:
        self.k = [0x12345678, 0x23456789, 0x34567890]
        for c in pwd:
            self._update(c)

    @staticmethod
    def _crc(crc: int, b: int) -> int:
        return (zlib.crc32(bytes([b]), crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF) & 0xFFFFFFFF

    def _update(self, c: int) -> None:
        k0, k1, k2 = self.k
        k0 = self._crc(k0, c)
        k1 = ((k1 + (k0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        k2 = self._crc(k2, (k1 >> 24) & 0xFF)
        self.k = [k0, k1, k2]

    def encrypt(self, data: bytes) -> bytes:
        out = bytearray()
        for c in data:
            t = (self.k[2] | 2) & 0xFFFF
            out.append(c ^ (((t * (t ^ 1)) >> 8) & 0xFF))
            self._update(c)
        return bytes(out)


def _zipcrypto_zip(members: dict[str, bytes], pwd: bytes) -> bytes:
    """A ZipCrypto archive with stored members, written by hand."""
    body, central = bytearray(), bytearray()
    for i, (name, data) in enumerate(members.items()):
        crc = zlib.crc32(data) & 0xFFFFFFFF
        header = bytes((7 * i + j) & 0xFF for j in range(11)) + bytes([crc >> 24])
        payload = _ZipCrypto(pwd).encrypt(header + data)
        fname = name.encode()
        fields = struct.pack("<HHHHHIIIHH", 20, 1, 0, 0, 0x21, crc, len(payload), len(data), len(fname), 0)
        offset = len(body)
        body += b"PK\x03\x04" + fields + fname + payload
        central += (b"PK\x01\x02" + struct.pack("<H", 20) + fields + struct.pack("<HHHII", 0, 0, 0, 0, offset)
                    + fname)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(body), 0)
    return bytes(body + central + end)


def nested_zip(depth: int, leaf: bytes = b"hello") -> bytes:
    data = leaf
    for level in range(depth):
        data = make_zip({f"level{level}.zip" if level else "leaf.txt": data})
    return data
