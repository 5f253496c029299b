"""Disk images: ISO 9660 / Joliet / UDF (also renamed .img), VHD, VHDX and raw FAT/NTFS images.

Windows mounts these with a double click, and until the November 2022 fix the files inside lost
the Mark-of-the-Web; 2022-2023 Qakbot, IcedID and Bumblebee mail carried an ISO whose only
visible file was a shortcut, the DLL and scripts it runs marked hidden. ISO images are read with
pycdlib (it exposes the directory records' hidden bit, which libarchive does not), Joliet names
first, then ISO 9660, then UDF; libarchive's ISO reader is the fallback for images pycdlib refuses.
Members become children through `maldoc.archive.unpack`, limited as archives are.

No kept, permissively licensed Python library reads the NTFS/FAT file systems inside a VHD/VHDX
(libvhdi and dissect give the block device only, or are AGPL), so those images are recognised,
flagged as not listed, and their raw bytes searched for runnable file names (NTFS and FAT long
names are UTF-16) so that a shortcut inside still counts.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator

from maldoc.archive import Member, MemberError, unpack
from maldoc.extractor import Context, Extractor, TimeBudgetExceeded
from maldoc.extractors import _libarchive
from maldoc.extractors._members import Census, is_lnk_name
from maldoc.filetype import Probe, TypeSpec, risky_name
from maldoc.stats import log2_size
from maldoc.types import ExtractorResult, FileType, Flag, Sample

SECTOR = 2048
MAX_ENTRIES = 5000  # directory records walked per image
MAX_DEPTH = 16
MAX_RAW_NAMES = 200
_VOLUME_IDS = (b"CD001", b"BEA01", b"NSR02", b"NSR03")
_ASCII_NAME = re.compile(
    rb"(?<![\w.-])[\w\-. ()]{1,80}\.(?i:lnk|exe|dll|scr|bat|cmd|vbs|vbe|js|jse|wsf|hta|ps1|cpl|msi)(?![\w])")
_UTF16_NAME = re.compile(
    rb"(?<![\x20-\x7e]\x00)(?:[\x20-\x7e]\x00){1,120}\.\x00(?:[A-Za-z0-9]\x00){2,4}(?![A-Za-z0-9]\x00)")


def is_iso(p: Probe) -> bool:
    data = p.data
    return any(data[off + 1:off + 6] in _VOLUME_IDS for off in (16 * SECTOR, 17 * SECTOR, 18 * SECTOR))


def is_vhd(p: Probe) -> bool:
    data = p.data
    return data.startswith(b"conectix") or (len(data) >= 512 and data[-512:-504] == b"conectix") \
        or (len(data) >= 511 and data[-511:-503] == b"conectix")  # pre-2004 images: 511-byte footer


def is_vhdx(p: Probe) -> bool:
    return p.data.startswith(b"vhdxfile")


def is_fs_image(p: Probe) -> bool:
    """A raw FAT or NTFS volume image (.img): boot sector signature and file-system name."""
    d = p.data
    if len(d) < 512 or d[510:512] != b"\x55\xaa":
        return False
    return d[3:11] == b"NTFS    " or d[54:59] in (b"FAT12", b"FAT16") or d[82:87] == b"FAT32"


class DiskImageExtractor(Extractor):
    name = "diskimage"
    version = 1
    detects = (
        TypeSpec("iso", is_iso, 26, "iso", "ISO 9660 / UDF disk image (.iso, .img)"),
        TypeSpec("vhd", is_vhd, 27, "vhd", "Virtual Hard Disk (VHD)"),
        TypeSpec("vhdx", is_vhdx, 27, "vhdx", "Virtual Hard Disk v2 (VHDX)"),
        TypeSpec("fsimage", is_fs_image, 27, "img", "raw FAT/NTFS volume image"),
    )
    file_types = frozenset(FileType(t) for t in ("iso", "vhd", "vhdx", "fsimage"))
    features = (
        "members", "hidden_members", "visible_members", "risky_visible", "risky_names", "executables",
        "hidden_executables", "lnk_members", "script_members", "nested_archives", "double_extensions", "dirs",
        "total_size_log2", "joliet", "udf", "listed", "raw_risky_names", "lure_shape", "system_area",
    )
    rules = ("DISKIMAGE_FILE", "DISKIMAGE_LNK_HIDDEN_PAYLOAD", "DISKIMAGE_RISKY_VISIBLE",
             "DISKIMAGE_HIDDEN_EXECUTABLE", "DISKIMAGE_UNLISTED", "ARCHIVE_DOUBLE_EXTENSION", "CORE_SCRIPT_NAME")

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        f = out.features
        probe = Probe(sample.data)
        kind = "iso" if is_iso(probe) else "vhdx" if is_vhdx(probe) else "vhd" if is_vhd(probe) else "fsimage"
        out.add("DISKIMAGE_FILE", f"{kind} image, {len(sample.data)} bytes")
        if kind == "iso":
            self._system_area(sample, ctx, out)
        census = Census()
        f["diskimage.listed"] = 0.0
        if kind == "iso":
            listed = self._iso(sample, ctx, out, census)
            if not listed:
                listed = self._libarchive_iso(sample, ctx, out, census)
            f["diskimage.listed"] = float(listed)
        if not f["diskimage.listed"]:
            out.add("DISKIMAGE_UNLISTED", f"{kind}: file system not listed")
            out.flag(Flag.UNSUPPORTED, f"{kind}: files inside the image are not listed")
            self._raw_names(sample, ctx, out)
        self._features(sample, census, out)

    @staticmethod
    def _system_area(sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        """ISO readers ignore the first 32 KiB, so a PDF or a program can sit there (an ISO/PDF
        polyglot opens in Acrobat and mounts in Windows): such content is scanned as a child."""
        area = sample.data[:16 * SECTOR]
        if b"%PDF-" in area[:1024] or area.startswith(b"MZ"):
            out.features["diskimage.system_area"] = 1.0
            ctx.emit(out, sample, area, "system-area.pdf" if b"%PDF-" in area[:1024] else "system-area.bin",
                     charge=False)
        else:
            out.features["diskimage.system_area"] = 0.0

    # -- ISO through pycdlib ------------------------------------------------------------------------
    def _iso(self, sample: Sample, ctx: Context, out: ExtractorResult, census: Census) -> bool:
        try:
            import pycdlib
            from pycdlib.pycdlibexception import PyCdlibException
        except ImportError:
            return False
        iso = pycdlib.PyCdlib()
        try:
            iso.open_fp(io.BytesIO(sample.data))
        except Exception:  # pycdlib raises many types on hostile descriptors; never quote them
            out.flag(Flag.PARSE_ERROR, "iso: pycdlib cannot read the volume descriptors")
            return False
        f = out.features
        try:
            if iso.has_joliet():
                facet, decode = "joliet_path", _joliet_name
            elif iso.has_udf() and not _has_pvd_files(iso):
                facet, decode = "udf_path", _udf_name
            else:
                facet, decode = "iso_path", _iso_name
            f["diskimage.joliet"] = float(iso.has_joliet())
            f["diskimage.udf"] = float(iso.has_udf())
            walked = self._walk(iso, facet, decode, ctx, census)
            seen = unpack(ctx, out, sample, walked, prefix="iso")
            f["diskimage.total_size_log2"] = log2_size(seen.total_size)
        except TimeBudgetExceeded:
            raise
        except Exception:  # pycdlib raises many types on hostile directory records; never quote them
            out.flag(Flag.PARSE_ERROR, "iso: broken directory records")
        finally:
            with contextlib.suppress(PyCdlibException):
                iso.close()
        return True

    def _walk(self, iso, facet: str, decode, ctx: Context, census: Census) -> Iterator[Member]:
        stack: list[tuple[str, str, int]] = [("/", "", 0)]  # (path for pycdlib, display path, depth)
        seen = 0
        while stack:
            path, shown, depth = stack.pop()
            for rec in iso.list_children(**{facet: path}):
                ctx.check()
                seen += 1
                if seen > MAX_ENTRIES:
                    return
                if rec.is_dot() or rec.is_dotdot():
                    continue
                raw = rec.file_identifier()
                ident, name = decode(raw)
                if not name:
                    continue
                child_path = path.rstrip("/") + "/" + ident
                child_shown = f"{shown}/{name}" if shown else name
                if rec.is_dir():
                    census.dirs += 1
                    if depth + 1 < MAX_DEPTH:
                        stack.append((child_path, child_shown, depth + 1))
                    continue
                size = rec.get_data_length()
                member = Member(child_shown, size, size, False, _iso_reader(iso, facet, child_path, ctx))
                yield census.watch(member, hidden=_hidden(rec))

    # -- fallback: libarchive's ISO 9660 reader ----------------------------------------------------
    @staticmethod
    def _libarchive_iso(sample: Sample, ctx: Context, out: ExtractorResult, census: Census) -> bool:
        walk = _libarchive.Walk()
        members = _libarchive.members(sample.data, ctx, walk, format_name="iso9660")
        try:
            seen = unpack(ctx, out, sample, (census.watch(m) for m in members), prefix="iso")
            out.features["diskimage.total_size_log2"] = log2_size(seen.total_size)
        finally:
            members.close()
        census.dirs += walk.dirs
        if walk.error is not None and not census.entries:
            return False
        if walk.error is not None:
            out.flag(walk.error.flag, f"iso: {walk.error.what}")
        return True

    # -- images whose file system is not read -------------------------------------------------------
    @staticmethod
    def _raw_names(sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        names: dict[str, None] = {}
        data = sample.data
        for pattern, encoding in ((_UTF16_NAME, "utf-16-le"), (_ASCII_NAME, "latin-1")):
            for i, m in enumerate(pattern.finditer(data)):
                if i % 256 == 0:
                    ctx.check()
                name = m.group(0).decode(encoding, "replace").strip()
                if risky_name(name):
                    names[name] = None
                if len(names) >= MAX_RAW_NAMES or i > 100_000:
                    break
        out.features["diskimage.raw_risky_names"] = float(len(names))
        for name in list(names)[:10]:
            out.add("CORE_SCRIPT_NAME", f"{name} (name in the image's raw bytes)", sample.display_path)
        if any(is_lnk_name(n) for n in names):
            out.features["diskimage.lnk_members"] = float(sum(is_lnk_name(n) for n in names))

    # -- features and the lure shapes ---------------------------------------------------------------
    @staticmethod
    def _features(sample: Sample, census: Census, out: ExtractorResult) -> None:
        from maldoc.extractors._members import double_extension

        f = out.features
        counts = census.counts()
        for key in ("members", "hidden_members", "risky_names", "executables", "script_members", "nested_archives",
                    "double_extensions", "dirs"):
            f[f"diskimage.{key}"] = float(counts[key])
        if census.entries or "diskimage.lnk_members" not in f:
            f["diskimage.lnk_members"] = float(counts["lnk_members"])
        visible = census.visible
        hidden = [e for e in census.entries if e.hidden]
        f["diskimage.visible_members"] = float(len(visible))
        risky_visible = [e for e in visible if census.runnable(e)]
        f["diskimage.risky_visible"] = float(len(risky_visible))
        hidden_runnable = [e for e in hidden if census.runnable(e)]
        f["diskimage.hidden_executables"] = float(len(hidden_runnable))
        f.setdefault("diskimage.total_size_log2", 0.0)
        where = sample.display_path
        lure = len(risky_visible) == 1 and len(visible) <= 2 and bool(hidden) and \
            (risky_visible[0].kind in ("lnk", "bat", "vbs", "js", "wsf", "hta", "ps1") or
             is_lnk_name(risky_visible[0].name) or risky_name(risky_visible[0].name))
        f["diskimage.lure_shape"] = float(lure)
        if lure:
            out.add("DISKIMAGE_LNK_HIDDEN_PAYLOAD",
                    f"visible: {risky_visible[0].name}; {len(hidden)} hidden files", where)
        for e in risky_visible[:10]:
            out.add("DISKIMAGE_RISKY_VISIBLE", f"{e.name} ({e.kind or 'by name'})", f"{where} > {e.name}")
        for e in hidden_runnable[:10]:
            out.add("DISKIMAGE_HIDDEN_EXECUTABLE", f"{e.name} ({e.kind or 'by name'})", f"{where} > {e.name}")
        for e in [e for e in census.entries if double_extension(e.name)][:10]:
            out.add("ARCHIVE_DOUBLE_EXTENSION", e.name, f"{where} > {e.name}")


def _hidden(rec) -> bool:
    flags = getattr(rec, "file_flags", None)
    if flags is not None:
        return bool(flags & 0x01)  # ISO 9660 "existence" bit: Windows shows the file as hidden
    ident = getattr(rec, "file_ident", None)  # UDF: the File Identifier Descriptor's hidden bit
    return bool(ident is not None and getattr(ident, "file_characteristics", 0) & 0x01)


def _iso_name(raw: bytes) -> tuple[str, str]:
    ident = raw.decode("latin-1")
    shown = ident.split(";", 1)[0].rstrip(".")
    return ident, shown


def _joliet_name(raw: bytes) -> tuple[str, str]:
    name = raw.decode("utf-16-be", "replace")
    return name, name.split(";", 1)[0]


def _udf_name(raw: bytes) -> tuple[str, str]:
    name = raw.decode("utf-8", "replace")
    return name, name


def _has_pvd_files(iso) -> bool:
    """Whether the ISO 9660 tree lists anything (a UDF bridge image often keeps it empty)."""
    try:
        return any(not (r.is_dot() or r.is_dotdot()) for r in iso.list_children(iso_path="/"))
    except Exception:  # a UDF-only image has no usable ISO 9660 tree
        return False


def _iso_reader(iso, facet: str, path: str, ctx: Context):
    def read(password: bytes | None, cap: int) -> bytes:
        chunks: list[bytes] = []
        got = 0
        try:
            with iso.open_file_from_iso(**{facet: path}) as handle:
                while got <= cap:
                    ctx.check()
                    block = handle.read(min(1 << 20, cap + 1 - got))
                    if not block:
                        break
                    chunks.append(block)
                    got += len(block)
        except TimeBudgetExceeded:
            raise
        except (ValueError, KeyError, IndexError, OSError) as exc:
            raise MemberError(Flag.TRUNCATED, "extent outside the image") from exc
        except Exception as exc:  # pycdlib's own exception for a broken record
            raise MemberError(Flag.PARSE_ERROR, "unreadable directory record") from exc
        return b"".join(chunks)
    return read
