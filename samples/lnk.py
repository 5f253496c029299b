"""Windows shell links ([MS-SHLLINK]) built from their parts: header, string data, extra blocks.

Only what a shortcut needs to carry a command line: no target ID list or link info (Windows
resolves the relative path or the environment block), which keeps the writer small and the
output inert (the file names a program and arguments; nothing runs without Windows and a click).
"""

from __future__ import annotations

import struct

CLSID = bytes.fromhex("0114020000000000c000000000000046")  # {00021401-0000-0000-C000-000000000046}
HAS_NAME, HAS_RELATIVE_PATH, HAS_WORKING_DIR, HAS_ARGUMENTS, HAS_ICON_LOCATION, IS_UNICODE = (
    0x4, 0x8, 0x10, 0x20, 0x40, 0x80)
HAS_LINK_INFO = 0x2
HAS_EXP_STRING = 0x200
SW_SHOWNORMAL, SW_SHOWMAXIMIZED, SW_SHOWMINNOACTIVE = 1, 3, 7
ENV_BLOCK_SIGNATURE = 0xA0000001


def _string(text: str) -> bytes:
    return struct.pack("<H", len(text)) + text.encode("utf-16-le")


def _env_block(target: str) -> bytes:
    ansi = target.encode("latin-1", "replace")[:259].ljust(260, b"\x00")
    wide = target.encode("utf-16-le")[:518].ljust(520, b"\x00")
    return struct.pack("<II", 0x314, ENV_BLOCK_SIGNATURE) + ansi + wide


def _link_info(local_path: str) -> bytes:
    """LinkInfo with a VolumeID (fixed disk, no label) and an ANSI LocalBasePath, empty path suffix."""
    volume = struct.pack("<IIII", 0x11, 3, 0x1234ABCD, 0x10) + b"\x00"
    base = local_path.encode("latin-1", "replace") + b"\x00"
    header_size = 0x1C
    volume_at, base_at = header_size, header_size + len(volume)
    suffix_at = base_at + len(base)
    body = volume + base + b"\x00"
    return struct.pack("<IIIIIII", header_size + len(body), header_size, 1, volume_at, base_at, 0, suffix_at) + body


def shortcut(*, target: str = "", arguments: str = "", working_dir: str = "", icon: str = "", name: str = "",
             show: int = SW_SHOWNORMAL, env_target: str = "", local_path: str = "", trailer: bytes = b"") -> bytes:
    """A .lnk whose fields are the given strings (empty ones left out), then `trailer` appended.
    `target` is the relative path in the string data; `local_path` a LinkInfo LocalBasePath."""
    flags = IS_UNICODE | (HAS_LINK_INFO if local_path else 0)
    strings = b""
    for value, flag in ((name, HAS_NAME), (target, HAS_RELATIVE_PATH), (working_dir, HAS_WORKING_DIR),
                        (arguments, HAS_ARGUMENTS), (icon, HAS_ICON_LOCATION)):
        if value:
            flags |= flag
            strings += _string(value)
    extra = b""
    if env_target:
        flags |= HAS_EXP_STRING
        extra += _env_block(env_target)
    header = struct.pack("<I16sII", 0x4C, CLSID, flags, 0x20) + b"\x00" * 24  # attributes: archive; 3 FILETIMEs
    header += struct.pack("<IiIH", 0, 0, show, 0) + b"\x00" * 10  # size, icon index, show, hotkey, reserved
    info = _link_info(local_path) if local_path else b""
    return header + info + strings + extra + b"\x00\x00\x00\x00" + trailer  # terminal block
