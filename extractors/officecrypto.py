"""Encrypted Office documents (msoffcrypto-tool): detect, try known passwords, emit the plaintext.

An unpacking step on OLE files (it runs before the extractors, which read its outcome from
`Sample.sealed`). Encrypted OOXML is an OLE file holding EncryptionInfo + EncryptedPackage;
legacy .doc/.xls/.ppt use RC4 or XOR inside their usual streams. Passwords tried: the ones Office
applies silently (VelvetSweatshop for Excel, PowerPoint's "/01Hannes Ruescher/01") and the short
defaults malware uses, then the caller's (ctx.passwords, e.g. found in the mail body). A document
that opens is emitted as a child and scanned like any other; one that does not is flagged
`encrypted` so that it never reads as "no macros".
"""

from __future__ import annotations

import hashlib
import io
import struct

from msoffcrypto import exceptions as mso_exc

from maldoc.extractor import Context, Unpacker
from maldoc.types import ExtractorResult, FileType, Flag, Sample, Sealing

from ._office_common import open_ole

TRANSPARENT_PASSWORDS = ("VelvetSweatshop", "/01Hannes Ruescher/01")  # Office opens these without asking
DEFAULT_PASSWORDS = (*TRANSPARENT_PASSWORDS, "123", "1234", "12345", "123456", "4321", "infected")
MAX_TRIES = 24
# Key derivation for ECMA-376 agile encryption is spinCount (typically 100,000) SHA-512 rounds in
# Python, ~0.2 s per guess: only VelvetSweatshop (the one Excel applies silently to .xlsx) and the
# caller's passwords are tried there, each verified with one derivation before the key is made.
SLOW_TYPES = frozenset({"agile"})
SLOW_DEFAULTS = ("VelvetSweatshop",)
FILEPASS, BIFF_EOF, BIFF8_BOF = 0x002F, 0x000A, 0x0809
MAX_GLOBALS_RECORDS = 100_000
MAX_SEARCHED = 256  # documents whose password search is remembered, per process
_SEARCHED: dict[tuple[bytes, tuple[str, ...]], tuple[int, str | None]] = {}


class OfficeCryptoExtractor(Unpacker):
    name = "officecrypto"
    version = 2
    file_types = frozenset({FileType.OLE})
    features = ("encrypted", "decrypted", "default_password", "ooxml_container", "method_agile",
                "method_standard", "method_rc4", "method_xor", "passwords_tried", "triage_skipped")
    rules = ("OFFICE_ENCRYPTED", "OFFICE_DEFAULT_PASSWORD")

    def unpack(self, sample: Sample, ctx: Context, out: ExtractorResult) -> Sealing:
        try:
            ole = open_ole(sample.data, sample)
        except Exception:
            return Sealing.PLAIN
        container = ole.exists("EncryptionInfo") or ole.exists("EncryptedPackage")
        f = out.features
        f["officecrypto.triage_skipped"] = float(not container and _surely_plain(ole))
        if f["officecrypto.triage_skipped"]:  # msoffcrypto would say "not encrypted": skip its parse
            f["officecrypto.encrypted"] = f["officecrypto.ooxml_container"] = 0.0
            return Sealing.PLAIN
        import msoffcrypto  # only documents that may be encrypted pay for it

        try:
            office = msoffcrypto.OfficeFile(io.BytesIO(sample.data))
            encrypted = bool(office.is_encrypted())
        except mso_exc.FileFormatError:  # not Word/Excel/PowerPoint (e.g. .msg, .msi, Visio)
            office, encrypted = None, container
        except (mso_exc.DecryptionError, mso_exc.ParseError, OSError, ValueError, struct.error, KeyError,
                IndexError, AssertionError, EOFError, TypeError, AttributeError) as exc:
            office, encrypted = None, container
            if container:
                out.flag(Flag.UNSUPPORTED, f"officecrypto: msoffcrypto cannot read it ({type(exc).__name__})")
        f["officecrypto.encrypted"] = float(encrypted)
        f["officecrypto.ooxml_container"] = float(container)
        if not encrypted:
            return Sealing.PLAIN
        method = str(getattr(office, "type", "") or "")
        for m in ("agile", "standard", "rc4", "xor"):
            f[f"officecrypto.method_{m}"] = float(method == m or (m == "rc4" and method.startswith("rc4")))
        tried, password, plain = self._decrypt_once(sample.data, office, method, ctx)
        f["officecrypto.passwords_tried"] = float(tried)
        f["officecrypto.decrypted"] = float(plain is not None)
        f["officecrypto.default_password"] = float(password in DEFAULT_PASSWORDS if password else 0.0)
        if plain is None:
            out.flag(Flag.ENCRYPTED, f"officecrypto: {method or 'unknown'} encryption, {tried} passwords failed")
            out.add("OFFICE_ENCRYPTED", f"{method or 'unknown'} encryption; no known password opened it",
                    sample.display_path)
            return Sealing.SEALED
        out.flags.add(Flag.DECRYPTED)
        if password in DEFAULT_PASSWORDS:
            out.add("OFFICE_DEFAULT_PASSWORD", f"opened with {password!r} ({method})", sample.display_path)
        ctx.emit(out, sample, plain, f"{sample.name or 'document'} (decrypted)")
        return Sealing.OPENED

    def _decrypt_once(self, data: bytes, office, method: str, ctx: Context) -> tuple[int, str | None, bytes | None]:
        """`_decrypt`, its password search done once per document and password list: the same
        attachment met again (twice in a mail, in a mail and in its archive) pays one key derivation
        for the password that opened it, and none when none did."""
        if office is None:
            return 0, None, None
        defaults = SLOW_DEFAULTS if method in SLOW_TYPES else DEFAULT_PASSWORDS
        candidates = list(dict.fromkeys((*defaults, *ctx.passwords)))[:MAX_TRIES]
        key = (hashlib.sha256(data).digest(), tuple(candidates))
        known = _SEARCHED.get(key)
        if known is not None:
            tried, password = known
            if password is None:
                return tried, None, None
            candidates = [password]
            _, password, plain = self._decrypt(office, method, candidates, ctx)
            return tried, password, plain
        tried, password, plain = self._decrypt(office, method, candidates, ctx)
        if not ctx.budget.expired():  # a search cut short by the clock says nothing about the rest
            if len(_SEARCHED) >= MAX_SEARCHED:
                _SEARCHED.pop(next(iter(_SEARCHED)))
            _SEARCHED[key] = (tried, password)
        return tried, password, plain

    @staticmethod
    def _decrypt(office, method: str, candidates: list[str], ctx: Context) -> tuple[int, str | None, bytes | None]:
        tried = 0
        for password in candidates:
            if ctx.budget.expired():
                break
            tried += 1
            try:
                if method == "agile":
                    if not _agile_verifies(office.info, password):
                        continue
                    office.load_key(password=password)
                elif method == "standard":
                    office.load_key(password=password, verify_password=True)
                else:
                    office.load_key(password=password)
                buffer = io.BytesIO()
                office.decrypt(buffer)
            except mso_exc.InvalidKeyError:
                continue
            except (mso_exc.DecryptionError, mso_exc.ParseError, OSError, ValueError, struct.error, KeyError,
                    IndexError, AssertionError, EOFError, TypeError, AttributeError, NotImplementedError):
                continue
            plain = buffer.getvalue()
            if len(plain) > ctx.limits.max_bytes:
                return tried, password, None
            return tried, password, plain
        return tried, None, None


def _surely_plain(ole) -> bool:
    """True when msoffcrypto, reading the same file, would find it not encrypted: the format it
    would pick (Word, then Excel; PowerPoint and anything else are left to it) carries no
    encryption mark. Word: FibBase.fEncrypted. Excel: no FILEPASS record before the globals' EOF."""
    try:
        if ole.exists("wordDocument"):
            with ole.openstream("wordDocument") as stream:
                fib = stream.read(32)
            return len(fib) == 32 and not (struct.unpack_from("<H", fib, 10)[0] >> 8) & 1
        if ole.exists("Workbook"):
            with ole.openstream("Workbook") as stream:
                return _no_filepass(stream.read())
    except (OSError, ValueError, struct.error, IndexError, KeyError, TypeError):
        pass
    return False


def _no_filepass(workbook: bytes) -> bool:
    """The globals substream's records, as msoffcrypto walks them, hold no FILEPASS."""
    if len(workbook) < 4 or struct.unpack_from("<H", workbook)[0] != BIFF8_BOF:
        return True  # msoffcrypto stops at its assertion: not encrypted
    pos = 4 + struct.unpack_from("<H", workbook, 2)[0]
    for _ in range(MAX_GLOBALS_RECORDS):
        if pos + 4 > len(workbook):
            return True  # incomplete header: msoffcrypto raises, which reads as not encrypted
        num, size = struct.unpack_from("<HH", workbook, pos)
        pos += 4 + size
        if pos > len(workbook):
            return True
        if num == FILEPASS:
            return False
        if num == BIFF_EOF:
            return True
    return False


def _agile_verifies(info: dict, password: str) -> bool:
    """One key derivation to test a password (msoffcrypto's verified load_key derives twice)."""
    from msoffcrypto.method.ecma376_agile import ECMA376Agile

    return bool(ECMA376Agile.verify_password(
        password, info["passwordSalt"], info["passwordHashAlgorithm"], info["encryptedVerifierHashInput"],
        info["encryptedVerifierHashValue"], info["spinValue"], info["passwordKeyBits"]))
