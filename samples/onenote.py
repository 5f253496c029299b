"""A OneNote-like section file: the .one header GUIDs and FileDataStoreObject blocks.

Real sections are revision stores ([MS-ONESTORE]); scanners (onedump, Strelka, maldoc) find
attached files by the FileDataStoreObject header GUID {BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC},
a 64-bit length, padding, the bytes and the footer GUID. This writes the header fields of
[MS-ONESTORE] 2.3.1 and those blocks; it is not a file OneNote itself would open.
"""

from __future__ import annotations

import struct
import uuid

FILE_TYPE_ONE = uuid.UUID("{7B5C52E4-D88C-4DA7-AEB1-5378D02996D3}").bytes_le
FILE_FORMAT = uuid.UUID("{109ADD3F-911B-49F5-A5D0-1791EDC8AED8}").bytes_le
FDSO_HEADER = uuid.UUID("{BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC}").bytes_le
FDSO_FOOTER = uuid.UUID("{71FBA722-0F79-4A0B-BB13-899256426B24}").bytes_le


def file_data_store_object(data: bytes) -> bytes:
    pad = -len(data) % 8
    return FDSO_HEADER + struct.pack("<QIQ", len(data), 0, 0) + data + b"\0" * pad + FDSO_FOOTER


def section(file_guid: bytes, page_text: list[str], files: list[tuple[str, bytes]]) -> bytes:
    header = FILE_TYPE_ONE + file_guid[:16].ljust(16, b"\0") + b"\0" * 16 + FILE_FORMAT
    header += struct.pack("<IIII", 0x2A, 0x2A, 0x2A, 0x2A)
    header = header.ljust(1024, b"\0")
    body = b"".join(t.encode("utf-16-le") + b"\0\0" for t in page_text)
    for name, _ in files:  # the file name property lives in the page's property sets, as UTF-16
        body += name.encode("utf-16-le") + b"\0\0"
    body = body.ljust(-(-len(body) // 8) * 8, b"\0")
    for _, data in files:
        body += file_data_store_object(data)
    return header + body
