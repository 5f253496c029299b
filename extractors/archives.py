"""7z, RAR, CAB, TAR and gzip/xz/bzip2: members become children through the bounded archive reader.

Since Office blocked internet macros (2022), lure archives carry a shortcut, a script or an
executable (often beside a decoy document), and encrypted archives carry the password in the mail
body. libarchive reads every format here from memory (`_libarchive.py`); encrypted 7z goes through
py7zr (`_sevenzip.py`), which decrypts it with the passwords of the scan (body passwords first).
RAR content encryption has no free decoder: such members are listed, counted and flagged
`encrypted`. RAR5 and RAR4 archives whose headers are encrypted (`rar -hp`) hide even the names;
libarchive refuses them, so that shape is recognised here from the first header and flagged.
Limits (members, ratio, budget) are `maldoc.archive.unpack`'s, as for ZIP.
"""

from __future__ import annotations

from maldoc.archive import DEFAULT_PASSWORDS, unpack
from maldoc.extractor import Context, Extractor
from maldoc.extractors import _libarchive
from maldoc.extractors._members import Census
from maldoc.filetype import PDF_HEADER_WINDOW, Probe, TypeSpec
from maldoc.stats import log2_size
from maldoc.types import ExtractorResult, FileType, Flag, Sample

SEVENZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
RAR4_MAGIC = b"Rar!\x1a\x07\x00"
RAR5_MAGIC = b"Rar!\x1a\x07\x01\x00"
CAB_MAGIC = b"MSCF\x00\x00\x00\x00"
XZ_MAGIC = b"\xfd7zXZ\x00"
MAX_FINDINGS = 10  # per rule: the counts in the features keep the rest


def _not_pdf(p: Probe, window: int = PDF_HEADER_WINDOW) -> bool:
    """Acrobat opens a file with %PDF- in its first 1024 bytes as a PDF whatever precedes it, so an
    archive/PDF polyglot is left to the PDF extractor (these types are tried first)."""
    return b"%PDF-" not in p.data[:window]


def is_sevenzip(p: Probe) -> bool:
    return p.data.startswith(SEVENZIP_MAGIC) and _not_pdf(p)


def is_rar(p: Probe) -> bool:
    return p.data.startswith((RAR4_MAGIC, RAR5_MAGIC)) and _not_pdf(p)


def is_cab(p: Probe) -> bool:
    return p.data.startswith(CAB_MAGIC) and _not_pdf(p)


def is_tar(p: Probe) -> bool:
    # Only the header block: a tar whose first member is a PDF has %PDF- at 512.
    return p.data[257:262] == b"ustar" and _not_pdf(p, 512)


def is_gzip(p: Probe) -> bool:
    return p.data.startswith(b"\x1f\x8b\x08") and _not_pdf(p)


def is_xz(p: Probe) -> bool:
    return p.data.startswith(XZ_MAGIC) and _not_pdf(p)


def is_bzip2(p: Probe) -> bool:
    return p.data[:3] == b"BZh" and p.data[3:4] in b"123456789" and p.data[4:10] == b"1AY&SY" and _not_pdf(p)


# type -> (libarchive format, libarchive filter)
_LIBARCHIVE = {
    "sevenzip": ("7zip", "none"), "cab": ("cab", "none"), "tar": ("tar", "none"),
    "gzip": ("raw", "gzip"), "xz": ("raw", "xz"), "bzip2": ("raw", "bzip2"),
}


def _vint(data: bytes, pos: int) -> tuple[int, int]:
    """RAR5 variable-length integer at `pos`: (value, next position); at most 10 bytes."""
    value = shift = 0
    for i in range(10):
        if pos + i >= len(data):
            return -1, len(data)
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos + i + 1
    return -1, pos + 10


def rar_headers_encrypted(data: bytes) -> bool:
    """RAR5: the first header is an archive encryption header (type 4). RAR4: the main header's
    MHD_PASSWORD flag (0x80)."""
    if data.startswith(RAR5_MAGIC):
        _size, pos = _vint(data, len(RAR5_MAGIC) + 4)  # after the header CRC32
        kind, _ = _vint(data, pos)
        return kind == 4
    if data.startswith(RAR4_MAGIC):
        head = data[len(RAR4_MAGIC):len(RAR4_MAGIC) + 5]
        return len(head) == 5 and head[2] == 0x73 and bool(int.from_bytes(head[3:5], "little") & 0x0080)
    return False


def gzip_name(data: bytes) -> str | None:
    """The original file name a gzip header records (FNAME), if any."""
    if len(data) < 10 or not data[3] & 0x08:
        return None
    pos = 10
    if data[3] & 0x04:  # FEXTRA
        pos += 2 + int.from_bytes(data[10:12], "little")
    end = data.find(b"\x00", pos, pos + 1024)
    if end <= pos:
        return None
    return data[pos:end].decode("latin-1").replace("\\", "/").rsplit("/", 1)[-1] or None


_SUFFIXES = {"gzip": ((".tgz", ".tar"), (".gz", "")), "xz": ((".txz", ".tar"), (".xz", "")),
             "bzip2": ((".tbz2", ".tar"), (".bz2", ""))}


def _single_name(sample: Sample, kind: str) -> str:
    """The name of the one file a gzip/xz/bzip2 stream holds: its header's, else the outer name less
    the suffix (`x.tgz` holds `x.tar`)."""
    if kind == "gzip" and (name := gzip_name(sample.data)):
        return name
    stem = (sample.name or "data").replace("\\", "/").rsplit("/", 1)[-1]
    for suffix, replacement in _SUFFIXES.get(kind, ()):
        if stem.lower().endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)] + replacement
    return f"{stem or 'data'}.out"


def kind_of(data: bytes) -> str:
    """Which of this module's types `data` is (the engine does not pass the detected type)."""
    probe = Probe(data)
    for spec in ArchiveExtractor.detects:
        if spec.match(probe):
            return spec.name
    return ""


class ArchiveExtractor(Extractor):
    name = "archive"
    version = 1
    detects = (
        TypeSpec("sevenzip", is_sevenzip, 23, "7z", "7-Zip archive"),
        TypeSpec("rar", is_rar, 24, "rar", "RAR archive (4 and 5)"),
        TypeSpec("cab", is_cab, 25, "cab", "Microsoft Cabinet"),
        TypeSpec("tar", is_tar, 28, "tar", "POSIX tar archive"),
        TypeSpec("gzip", is_gzip, 29, "gz", "gzip-compressed file"),
        TypeSpec("xz", is_xz, 29, "xz", "xz-compressed file"),
        TypeSpec("bzip2", is_bzip2, 29, "bz2", "bzip2-compressed file"),
    )
    file_types = frozenset(FileType(t) for t in ("sevenzip", "rar", "cab", "tar", "gzip", "xz", "bzip2"))
    features = (
        "members", "encrypted_members", "unopened_members", "header_encrypted", "risky_names", "executables",
        "lnk_members", "script_members", "nested_archives", "double_extensions", "dirs", "links", "max_ratio",
        "total_size_log2", "lure_shape",
    )
    rules = ("CORE_ENCRYPTED_ARCHIVE", "ARCHIVE_HEADER_ENCRYPTED", "ARCHIVE_LURE_SHAPE", "ARCHIVE_DOUBLE_EXTENSION",
             "ARCHIVE_SHORTCUT")

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        kind = kind_of(sample.data)
        census = Census()
        walk = _libarchive.Walk()
        f = out.features
        f["archive.header_encrypted"] = 0.0
        passwords = [p.encode() for p in (*ctx.passwords, *DEFAULT_PASSWORDS)]
        members = None
        seven = None
        if kind == "rar":
            if rar_headers_encrypted(sample.data):
                self._headers_hidden(out, f, "RAR")
                return
            fmt = ("rar5" if sample.data.startswith(RAR5_MAGIC) else "rar", "none")
        else:
            fmt = _LIBARCHIVE.get(kind, ("all", "all"))
        if kind == "sevenzip" and self._sevenzip_encrypted(sample.data, ctx):
            from maldoc.extractors._sevenzip import SevenZip

            seven = SevenZip(sample.data, ctx)
            members, opened = seven.list(passwords)
            if not opened:
                seven.close()
                self._headers_hidden(out, f, "7z")
                return
            f["archive.header_encrypted"] = float(any(p in seven.open_with for p in passwords))
        if members is None:
            members = _libarchive.members(sample.data, ctx, walk, format_name=fmt[0], filter_name=fmt[1],
                                          default_name=_single_name(sample, kind))
        if fmt[0] == "raw":  # one member, named from the gzip header or the file name
            members = (_rename(m, _single_name(sample, kind)) for m in members)
        watched = (census.watch(m) for m in members)
        try:
            seen = unpack(ctx, out, sample, watched, prefix=kind)
        finally:
            close = getattr(members, "close", None)
            if close is not None:
                close()
            if seven is not None:
                seven.close()
        if walk.error is not None:
            if walk.error.flag is Flag.ENCRYPTED:
                self._headers_hidden(out, f, kind)
            else:
                out.flag(walk.error.flag, f"{kind}: {walk.error.what}")
        census.dirs, census.links = walk.dirs, walk.links
        counts = census.counts()
        for key in ("members", "risky_names", "executables", "lnk_members", "script_members", "nested_archives",
                    "double_extensions", "dirs"):
            f[f"archive.{key}"] = float(counts[key])
        f["archive.links"] = float(walk.links)
        f["archive.encrypted_members"] = float(seen.encrypted)
        f["archive.unopened_members"] = float(seen.unopened)
        f["archive.max_ratio"] = round(seen.max_ratio, 3)
        f["archive.total_size_log2"] = log2_size(seen.total_size)
        if seen.encrypted:
            out.add("CORE_ENCRYPTED_ARCHIVE", f"{seen.encrypted} of {seen.members} members encrypted")
        self._shapes(sample, census, out)

    @staticmethod
    def _sevenzip_encrypted(data: bytes, ctx: Context) -> bool:
        """A listing pass (headers only): does any member, or the header itself, need a password?"""
        walk = _libarchive.Walk()
        for member in _libarchive.members(data, ctx, walk, format_name="7zip"):
            if member.encrypted:
                return True
        return walk.error is not None and walk.error.flag is Flag.ENCRYPTED

    @staticmethod
    def _headers_hidden(out: ExtractorResult, f: dict, kind: str) -> None:
        f["archive.header_encrypted"] = 1.0
        out.flag(Flag.ENCRYPTED, f"{kind}: file list encrypted, no known password opens it")
        out.add("ARCHIVE_HEADER_ENCRYPTED", f"{kind} archive with encrypted headers")
        out.add("CORE_ENCRYPTED_ARCHIVE", f"{kind}: headers and content encrypted")

    @staticmethod
    def _shapes(sample: Sample, census: Census, out: ExtractorResult) -> None:
        from maldoc.extractors._members import double_extension, is_lnk_name

        f = out.features
        lure = census.lure_shape()
        f["archive.lure_shape"] = float(lure is not None)
        if lure is not None:
            out.add("ARCHIVE_LURE_SHAPE", f"{lure.name}: the only runnable file ({lure.kind or 'by name'})",
                    f"{sample.display_path} > {lure.name}")
        doubles = [e for e in census.entries if double_extension(e.name)]
        shortcuts = [e for e in census.entries if e.kind == "lnk" or is_lnk_name(e.name)]
        for rule, entries in (("ARCHIVE_DOUBLE_EXTENSION", doubles), ("ARCHIVE_SHORTCUT", shortcuts)):
            for entry in entries[:MAX_FINDINGS]:
                out.add(rule, entry.name, f"{sample.display_path} > {entry.name}")


def _rename(member, name: str):
    member.name = name
    return member
