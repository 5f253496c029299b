"""A small Compound File Binary (OLE2) writer: version 3, 512-byte sectors, FAT, mini stream.

No maintained library writes CFB files (olefile only reads and overwrites in place), and the
synthetic .doc/.xls/vbaProject.bin need real containers, so this writes them from [MS-CFB]:
header, FAT sectors first, then the directory, the mini FAT, the mini stream (streams shorter
than 4096 bytes, in 64-byte mini sectors) and the regular streams. Output is a pure function
of the input tree (timestamps zero), so files are byte-identical run to run. No DIFAT: files
are limited to 109 FAT sectors (about 6.8 MB), far above what the generator writes.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SECTOR = 512
MINI_SECTOR = 64
MINI_CUTOFF = 4096
FREESECT, ENDOFCHAIN, FATSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
NOSTREAM = 0xFFFFFFFF
_STORAGE, _STREAM, _ROOT = 1, 2, 5
_RED, _BLACK = 0, 1

# A tree of streams: name -> bytes (a stream) or name -> Mapping (a storage).
Tree = Mapping[str, "bytes | Tree"]


def clsid(text: str) -> bytes:
    """The 16-byte little-endian GUID form of '{00020906-0000-0000-C000-000000000046}'."""
    h = text.strip("{}").replace("-", "")
    raw = bytes.fromhex(h)
    return raw[3::-1] + raw[5:3:-1] + raw[7:5:-1] + raw[8:]


@dataclass
class _Entry:
    name: str
    kind: int
    data: bytes = b""
    clsid: bytes = b"\0" * 16
    children: list[_Entry] = field(default_factory=list)
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    color: int = _BLACK
    start: int = ENDOFCHAIN
    index: int = 0


def _sort_key(name: str) -> tuple[int, str]:
    # [MS-CFB] 2.6.4: shorter names first, then code-point order of the upper-cased names.
    return len(name.encode("utf-16-le")), name.upper()


def _build(tree: Tree, clsids: Mapping[str, str], prefix: str = "") -> list[_Entry]:
    entries = []
    for name, value in tree.items():
        if len(name) > 31 or not name or any(c in name for c in "/\\:!"):
            raise ValueError(f"invalid CFB entry name {name!r}")
        path = f"{prefix}{name}"
        if isinstance(value, bytes | bytearray):
            entries.append(_Entry(name, _STREAM, bytes(value)))
        else:
            entry = _Entry(name, _STORAGE, clsid=clsid(clsids[path]) if path in clsids else b"\0" * 16)
            entry.children = _build(value, clsids, path + "/")
            entries.append(entry)
    return entries


def _link_siblings(entries: list[_Entry]) -> int:
    """Arrange one storage's children as a balanced red-black tree; return the root's index."""
    ordered = sorted(entries, key=lambda e: _sort_key(e.name))
    keys = [_sort_key(e.name) for e in ordered]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate CFB entry names in one storage")
    depths: dict[int, int] = {}

    def place(lo: int, hi: int, depth: int) -> int:
        if lo >= hi:
            return NOSTREAM
        mid = (lo + hi) // 2
        node = ordered[mid]
        depths[id(node)] = depth
        node.left = place(lo, mid, depth + 1)
        node.right = place(mid + 1, hi, depth + 1)
        return node.index

    root = place(0, len(ordered), 0)
    # Mid-split leaves sit on the last two levels: colouring the deepest level red keeps every
    # root-to-leaf path's black count equal, so the tree is a valid red-black tree.
    deepest = max(depths.values(), default=0)
    for node in ordered:
        node.color = _RED if deepest and depths[id(node)] == deepest else _BLACK
    return root


def _flatten(root: _Entry) -> list[_Entry]:
    out: list[_Entry] = []
    stack = [root]
    while stack:
        entry = stack.pop()
        entry.index = len(out)
        out.append(entry)
        stack.extend(reversed(entry.children))
    for entry in out:
        if entry.children:
            entry.child = _link_siblings(entry.children)
    return out


def _pad(data: bytes, size: int) -> bytes:
    return data + b"\0" * (-len(data) % size)


def write(tree: Tree, *, root_clsid: str | None = None, clsids: Mapping[str, str] | None = None) -> bytes:
    """Serialise `tree` (storage paths like 'Macros/VBA' may get CLSIDs through `clsids`)."""
    root = _Entry("Root Entry", _ROOT, clsid=clsid(root_clsid) if root_clsid else b"\0" * 16)
    root.children = _build(tree, clsids or {})
    entries = _flatten(root)
    streams = [e for e in entries if e.kind == _STREAM]

    # Mini stream: every stream shorter than the cutoff, 64-byte aligned, chained in the mini FAT.
    mini = bytearray()
    minifat: list[int] = []
    for entry in streams:
        if 0 < len(entry.data) < MINI_CUTOFF:
            entry.start = len(mini) // MINI_SECTOR
            count = -(-len(entry.data) // MINI_SECTOR)
            minifat.extend(range(entry.start + 1, entry.start + count))
            minifat.append(ENDOFCHAIN)
            mini += _pad(entry.data, MINI_SECTOR)
    big = [e for e in streams if len(e.data) >= MINI_CUTOFF]

    dir_bytes = _pad(b"".join(_dir_entry(e) for e in entries), SECTOR)
    minifat_bytes = _pad(b"".join(struct.pack("<I", v) for v in minifat), SECTOR) if minifat else b""
    blocks: list[tuple[str, bytes]] = [("dir", dir_bytes), ("minifat", minifat_bytes),
                                       ("mini", _pad(bytes(mini), SECTOR))]
    blocks += [(f"s{e.index}", _pad(e.data, SECTOR)) for e in big]
    data_sectors = sum(len(b) // SECTOR for _, b in blocks)
    nfat = 1
    while nfat * (SECTOR // 4) < nfat + data_sectors:
        nfat += 1
    if nfat > 109:
        raise ValueError("CFB too large for a header-only DIFAT")

    fat = [FATSECT] * nfat
    starts: dict[str, int] = {}
    for key, blob in blocks:
        count = len(blob) // SECTOR
        if not count:
            starts[key] = ENDOFCHAIN
            continue
        starts[key] = len(fat)
        fat.extend(range(len(fat) + 1, len(fat) + count))
        fat.append(ENDOFCHAIN)
    fat += [FREESECT] * (nfat * (SECTOR // 4) - len(fat))

    root.start = starts["mini"] if mini else ENDOFCHAIN
    root.data = bytes(mini)  # only its length is written (the root's size is the mini stream's)
    for entry in big:
        entry.start = starts[f"s{entry.index}"]
    dir_bytes = _pad(b"".join(_dir_entry(e) for e in entries), SECTOR)  # now with start sectors

    header = bytearray(MAGIC + b"\0" * 16)
    header += struct.pack("<HHHHH6sIIIIIIIII", 0x3E, 3, 0xFFFE, 9, 6, b"", 0, nfat, starts["dir"], 0,
                          MINI_CUTOFF, starts["minifat"], len(minifat_bytes) // SECTOR, ENDOFCHAIN, 0)
    difat = list(range(nfat)) + [FREESECT] * (109 - nfat)
    header += struct.pack("<109I", *difat)
    assert len(header) == SECTOR
    body = b"".join(struct.pack(f"<{SECTOR // 4}I", *fat[i:i + SECTOR // 4]) for i in range(0, len(fat), SECTOR // 4))
    for key, blob in blocks:
        body += dir_bytes if key == "dir" else blob
    return bytes(header) + body


def _dir_entry(e: _Entry) -> bytes:
    name = e.name.encode("utf-16-le") + b"\0\0"
    size = len(e.data) if e.kind in (_STREAM, _ROOT) else 0
    start = e.start if e.kind != _STORAGE else 0
    if e.kind == _STREAM and not e.data:
        start = ENDOFCHAIN
    return struct.pack("<64sHBBIII16sIQQIQ", name, len(name), e.kind, e.color, e.left, e.right, e.child,
                       e.clsid, 0, 0, 0, start, size)
