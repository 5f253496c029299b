"""ZIP archives (and ODF packages): members become child samples, within the inflate budget.

pyzipper rather than zipfile: it is zipfile plus WinZip AES, which is what attackers use for
"password: 1234" mail attachments; ZipCrypto works through the same call. Members are read
through a bounded `read()` so a lying size field cannot inflate past the budget.
"""

from __future__ import annotations

import io
import math
import zipfile

import pyzipper

from maldoc import filetype
from maldoc.extractor import Context, Extractor
from maldoc.filetype import TypeSpec, risky_name
from maldoc.types import ExtractorResult, FileType, Flag, Sample

DEFAULT_PASSWORDS = ("infected", "malware", "virus")  # analysts' conventions for sample archives
ARCHIVE_EXTENSIONS = (".zip", ".rar", ".7z", ".gz", ".tar", ".cab", ".iso", ".img", ".ace", ".arj", ".xz")


def _read(zf: pyzipper.AESZipFile, info: zipfile.ZipInfo, pwd: bytes | None, cap: int) -> bytes:
    with zf.open(info, pwd=pwd) as handle:
        return handle.read(cap + 1)


class ZipExtractor(Extractor):
    name = "zip"
    version = 1
    detects = (TypeSpec("odf", filetype.zip_family(FileType.ODF), 21, "odt", "OpenDocument package"),
               TypeSpec("zip", filetype.zip_family(FileType.ZIP), 22, "zip", "ZIP archive"),
               TypeSpec("odf", filetype.zip_family(FileType.ODF, prefixed=True), 91, "odt"),
               TypeSpec("zip", filetype.zip_family(FileType.ZIP, prefixed=True), 92, "zip"))
    file_types = frozenset({FileType.ZIP, FileType.ODF})
    features = (
        "members", "encrypted_members", "unopened_members", "risky_names", "nested_archives",
        "max_ratio", "total_size_log2", "comment_len",
    )
    rules = ("CORE_ENCRYPTED_ARCHIVE", "CORE_ZIP_BOMB", "CORE_SCRIPT_NAME")

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        limits = ctx.limits
        try:
            zf = pyzipper.AESZipFile(io.BytesIO(sample.data))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            out.flag(Flag.TRUNCATED if "truncated" in str(exc) or "End-of-central" in str(exc)
                     else Flag.PARSE_ERROR, f"zip: {exc}")
            return
        with zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            f = out.features
            f["zip.members"] = len(infos)
            f["zip.comment_len"] = len(zf.comment or b"")
            f["zip.total_size_log2"] = _log2(sum(i.file_size for i in infos))
            f["zip.risky_names"] = sum(risky_name(i.filename) for i in infos)
            f["zip.nested_archives"] = sum(i.filename.lower().endswith(ARCHIVE_EXTENSIONS) for i in infos)
            encrypted = [i for i in infos if i.flag_bits & 0x1]
            f["zip.encrypted_members"] = len(encrypted)
            if encrypted:
                out.add("CORE_ENCRYPTED_ARCHIVE", f"{len(encrypted)} of {len(infos)} members encrypted")
            if len(infos) > limits.max_children:
                out.flag(Flag.LIMIT_EXCEEDED, f"zip: {len(infos)} members, reading {limits.max_children}")
            max_ratio = 0.0
            unopened = 0
            passwords = [p.encode() for p in (*ctx.passwords, *DEFAULT_PASSWORDS)]
            for info in infos[: limits.max_children]:
                ctx.check()
                ratio = info.file_size / max(info.compress_size, 1)
                max_ratio = max(max_ratio, ratio)
                if ratio > limits.max_ratio and info.file_size > 1 << 20:
                    out.add("CORE_ZIP_BOMB", f"{info.filename}: {ratio:.0f}:1", info.filename)
                    out.flag(Flag.LIMIT_EXCEEDED, f"zip: {info.filename} ratio {ratio:.0f} > {limits.max_ratio}")
                    continue
                cap = min(limits.max_bytes, limits.max_decompressed_bytes - ctx.budget.inflated)
                data = self._member(zf, info, passwords if info.flag_bits & 0x1 else [None], cap, out)
                if data is None:
                    unopened += 1
                    if risky_name(info.filename):
                        out.add("CORE_SCRIPT_NAME", info.filename, f"{sample.display_path} > {info.filename}")
                    continue
                if len(data) > cap or not ctx.budget.allow_inflate(len(data)):
                    out.flag(Flag.LIMIT_EXCEEDED, f"zip: inflate budget spent at {info.filename}")
                    break
                real_ratio = len(data) / max(info.compress_size, 1)
                max_ratio = max(max_ratio, real_ratio)
                if real_ratio > limits.max_ratio and len(data) > 1 << 20:
                    out.add("CORE_ZIP_BOMB", f"{info.filename}: {real_ratio:.0f}:1", info.filename)
                    out.flag(Flag.LIMIT_EXCEEDED, f"zip: {info.filename} ratio {real_ratio:.0f}")
                    continue
                out.children.append(sample.child(data, info.filename))
            f["zip.max_ratio"] = round(max_ratio, 3)
            f["zip.unopened_members"] = unopened
            if unopened and encrypted:
                out.flag(Flag.ENCRYPTED, f"zip: {unopened} encrypted members not opened by any known password")
            elif encrypted:
                out.flags.add(Flag.DECRYPTED)

    @staticmethod
    def _member(zf, info, passwords, cap: int, out: ExtractorResult) -> bytes | None:
        for pwd in passwords:
            try:
                return _read(zf, info, pwd, cap)
            except RuntimeError:  # bad password (or "password required")
                continue
            except zipfile.BadZipFile as exc:  # a wrong ZipCrypto key passes the 1-byte check ~1/256
                if pwd is not None and "CRC" in str(exc):
                    continue
                out.flag(Flag.PARSE_ERROR, f"zip: {info.filename}: {exc}")
                return None
            except NotImplementedError as exc:  # compression method we cannot inflate
                out.flag(Flag.UNSUPPORTED, f"zip: {info.filename}: {exc}")
                return None
            except (OSError, EOFError, ValueError, zipfile.LargeZipFile) as exc:
                out.flag(Flag.TRUNCATED, f"zip: {info.filename}: {exc}")
                return None
        return None


def _log2(n: int) -> float:
    return math.log2(n + 1)
