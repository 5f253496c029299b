"""ZIP archives (and ODF packages): members become child samples through the bounded archive reader.

pyzipper rather than zipfile: it is zipfile plus WinZip AES, which is what attackers use for
"password: 1234" mail attachments; ZipCrypto works through the same call. Members are read
through a bounded `read()` so a lying size field cannot inflate past the budget; the limits
themselves (count, ratio, budget, passwords) are applied by `maldoc.archive.unpack`.
"""

from __future__ import annotations

import io
import zipfile

from maldoc import filetype
from maldoc.archive import Member, MemberError, WrongPassword, unpack
from maldoc.extractor import Context, Extractor
from maldoc.filetype import TypeSpec, risky_name
from maldoc.stats import log2_size
from maldoc.types import ExtractorResult, FileType, Flag, Sample

ARCHIVE_EXTENSIONS = (".zip", ".rar", ".7z", ".gz", ".tar", ".cab", ".iso", ".img", ".ace", ".arj", ".xz")


def zip_members(zf: zipfile.ZipFile) -> list[Member]:
    """The archive's file members as `Member`s (shared with the OOXML package reader)."""
    return [Member(info.filename, info.file_size, info.compress_size, bool(info.flag_bits & 0x1),
                   _reader(zf, info)) for info in zf.infolist() if not info.is_dir()]


def _reader(zf: zipfile.ZipFile, info: zipfile.ZipInfo):
    def read(pwd: bytes | None, cap: int) -> bytes:
        try:
            with zf.open(info, pwd=pwd) as handle:
                return handle.read(cap + 1)
        except RuntimeError:  # bad password (or "password required")
            raise WrongPassword from None
        except zipfile.BadZipFile as exc:  # a wrong ZipCrypto key passes the 1-byte check ~1/256
            if pwd is not None and "CRC" in str(exc):
                raise WrongPassword from None
            raise MemberError(Flag.PARSE_ERROR, "failed its integrity check") from None
        except NotImplementedError:
            raise MemberError(Flag.UNSUPPORTED, "uses a compression method that cannot be inflated") from None
        except (OSError, EOFError, ValueError, zipfile.LargeZipFile):
            raise MemberError(Flag.TRUNCATED, "ends before its data does") from None
    return read


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
        import pyzipper  # here, not at import: start-up of scans that meet no ZIP

        try:
            zf = pyzipper.AESZipFile(io.BytesIO(sample.data))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            cut = "truncated" in str(exc) or "End-of-central" in str(exc)
            out.flag(Flag.TRUNCATED if cut else Flag.PARSE_ERROR,
                     "zip: archive cut short" if cut else "zip: unreadable central directory")
            return
        with zf:
            members = zip_members(zf)
            f = out.features
            f["zip.members"] = len(members)
            f["zip.comment_len"] = len(zf.comment or b"")
            f["zip.total_size_log2"] = log2_size(sum(m.size for m in members))
            f["zip.nested_archives"] = sum(m.name.lower().endswith(ARCHIVE_EXTENSIONS) for m in members)
            encrypted = sum(m.encrypted for m in members)
            f["zip.encrypted_members"] = encrypted
            if encrypted:
                out.add("CORE_ENCRYPTED_ARCHIVE", f"{encrypted} of {len(members)} members encrypted")
            seen = unpack(ctx, out, sample, members, prefix="zip")
            f["zip.risky_names"] = sum(risky_name(m.name) for m in members)
            f["zip.max_ratio"] = round(seen.max_ratio, 3)
            f["zip.unopened_members"] = seen.unopened
