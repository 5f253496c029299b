"""Encrypted Office documents (msoffcrypto-tool): detect, try known passwords, emit the plaintext.

Runs first on OLE files. Encrypted OOXML is an OLE file holding EncryptionInfo + EncryptedPackage;
legacy .doc/.xls/.ppt use RC4 or XOR inside their usual streams. Passwords tried: the ones Office
applies silently (VelvetSweatshop for Excel, PowerPoint's "/01Hannes Ruescher/01") and the short
defaults malware uses, then the caller's (ctx.passwords, e.g. found in the mail body). A document
that opens is emitted as a child and scanned like any other; one that does not is flagged
`encrypted` so that it never reads as "no macros".
"""

from __future__ import annotations

import io
import struct

import msoffcrypto
from msoffcrypto import exceptions as mso_exc

from maldoc.extractor import Context, Extractor
from maldoc.types import ExtractorResult, FileType, Flag, Sample

from ._office_common import open_ole

TRANSPARENT_PASSWORDS = ("VelvetSweatshop", "/01Hannes Ruescher/01")  # Office opens these without asking
DEFAULT_PASSWORDS = (*TRANSPARENT_PASSWORDS, "123", "1234", "12345", "123456", "4321", "infected")
MAX_TRIES = 24
# Key derivation for ECMA-376 agile encryption is spinCount (typically 100,000) SHA-512 rounds in
# Python, ~0.2 s per guess: only VelvetSweatshop (the one Excel applies silently to .xlsx) and the
# caller's passwords are tried there, each verified with one derivation before the key is made.
SLOW_TYPES = frozenset({"agile"})
SLOW_DEFAULTS = ("VelvetSweatshop",)


class OfficeCryptoExtractor(Extractor):
    name = "officecrypto"
    version = 1
    file_types = frozenset({FileType.OLE})
    features = ("encrypted", "decrypted", "default_password", "ooxml_container", "method_agile",
                "method_standard", "method_rc4", "method_xor", "passwords_tried")
    rules = ("OFFICE_ENCRYPTED", "OFFICE_DEFAULT_PASSWORD")
    order = 10  # before vba/xlm/ole: they read the encrypted/decrypted flags

    def extract(self, sample: Sample, ctx: Context, out: ExtractorResult) -> None:
        try:
            ole = open_ole(sample.data)
        except Exception:
            return
        container = ole.exists("EncryptionInfo") or ole.exists("EncryptedPackage")
        try:
            office = msoffcrypto.OfficeFile(io.BytesIO(sample.data))
            encrypted = bool(office.is_encrypted())
        except mso_exc.FileFormatError:  # not Word/Excel/PowerPoint (e.g. .msg, .msi, Visio)
            office, encrypted = None, container
        except (mso_exc.DecryptionError, mso_exc.ParseError, OSError, ValueError, struct.error, KeyError,
                IndexError, AssertionError, EOFError, TypeError, AttributeError) as exc:
            office, encrypted = None, container
            if container:
                out.flag(Flag.UNSUPPORTED, f"officecrypto: msoffcrypto cannot read it ({type(exc).__name__}: {exc})")
        f = out.features
        f["officecrypto.encrypted"] = float(encrypted)
        f["officecrypto.ooxml_container"] = float(container)
        if not encrypted:
            return
        method = str(getattr(office, "type", "") or "")
        for m in ("agile", "standard", "rc4", "xor"):
            f[f"officecrypto.method_{m}"] = float(method == m or (m == "rc4" and method.startswith("rc4")))
        tried, password, plain = self._decrypt(office, method, ctx)
        f["officecrypto.passwords_tried"] = float(tried)
        f["officecrypto.decrypted"] = float(plain is not None)
        f["officecrypto.default_password"] = float(password in DEFAULT_PASSWORDS if password else 0.0)
        if plain is None:
            out.flag(Flag.ENCRYPTED, f"officecrypto: {method or 'unknown'} encryption, {tried} passwords failed")
            out.add("OFFICE_ENCRYPTED", f"{method or 'unknown'} encryption; no known password opened it",
                    sample.display_path)
            return
        out.flags.add(Flag.DECRYPTED)
        if password in DEFAULT_PASSWORDS:
            out.add("OFFICE_DEFAULT_PASSWORD", f"opened with {password!r} ({method})", sample.display_path)
        if ctx.budget.allow_inflate(len(plain)):
            out.children.append(sample.child(plain, f"{sample.name or 'document'} (decrypted)"))
        else:
            out.flag(Flag.LIMIT_EXCEEDED, "officecrypto: decrypted content exceeds the inflate budget")

    @staticmethod
    def _decrypt(office, method: str, ctx: Context) -> tuple[int, str | None, bytes | None]:
        if office is None:
            return 0, None, None
        defaults = SLOW_DEFAULTS if method in SLOW_TYPES else DEFAULT_PASSWORDS
        candidates = list(dict.fromkeys((*defaults, *ctx.passwords)))[:MAX_TRIES]
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


def _agile_verifies(info: dict, password: str) -> bool:
    """One key derivation to test a password (msoffcrypto's verified load_key derives twice)."""
    from msoffcrypto.method.ecma376_agile import ECMA376Agile

    return bool(ECMA376Agile.verify_password(
        password, info["passwordSalt"], info["passwordHashAlgorithm"], info["encryptedVerifierHashInput"],
        info["encryptedVerifierHashValue"], info["spinValue"], info["passwordKeyBits"]))
