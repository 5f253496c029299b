"""Encryption with seeded randomness, so encrypted samples are byte-identical for one seed.

pyzipper draws the WinZip-AES salt from Cryptodome's RNG inside `AESZipEncrypter.__init__`;
the subclass below replaces it with seeded bytes and re-derives the keys exactly as pyzipper
does. msoffcrypto-tool accepts the password salt but draws the intermediate key and verifier
from `secrets`; `_seeded_agile` swaps that module function for a seeded one for the duration of
one call (single-threaded use only, restored in `finally`).
"""

from __future__ import annotations

import contextlib
import io
import random

import pyzipper
from Cryptodome.Cipher import AES
from Cryptodome.Hash import HMAC
from Cryptodome.Hash.SHA1 import SHA1Hash
from Cryptodome.Protocol.KDF import PBKDF2
from Cryptodome.Util import Counter
from pyzipper.zipfile_aes import AESZipEncrypter, AESZipInfo

from maldoc.samples import cfb


class _SeededEncrypter(AESZipEncrypter):
    def __init__(self, pwd: bytes, salt: bytes, nbits: int = 256) -> None:
        super().__init__(pwd, nbits=nbits)
        key_length = nbits // 8
        self.salt = salt[: self.salt_length]
        keymaterial = PBKDF2(pwd, self.salt, count=1000, dkLen=2 * key_length + 2)
        self.encpwdverify = keymaterial[2 * key_length:]
        self.encrypter = AES.new(keymaterial[:key_length], AES.MODE_CTR,
                                 counter=Counter.new(nbits=128, little_endian=True))
        self.hmac = HMAC.new(keymaterial[key_length:2 * key_length], digestmod=SHA1Hash())


class _SeededAESZipFile(pyzipper.AESZipFile):
    def __init__(self, *args, rng: random.Random, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._rng = rng

    def get_encrypter(self):
        return _SeededEncrypter(self.pwd, self._rng.randbytes(16))


def aes_zip(members: list[tuple[str, bytes]], password: str, rng: random.Random) -> bytes:
    """A WinZip-AES-256 ZIP, deterministic for one `rng` state."""
    buf = io.BytesIO()
    with _SeededAESZipFile(buf, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES,
                           rng=rng) as zf:
        zf.setpassword(password.encode())
        for name, data in members:
            info = AESZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = pyzipper.ZIP_DEFLATED
            info.create_system = 0
            zf.writestr(info, data)
    return buf.getvalue()


@contextlib.contextmanager
def _seeded_agile(rng: random.Random):
    from msoffcrypto.method import ecma376_agile

    original = ecma376_agile._random_buffer
    ecma376_agile._random_buffer = rng.randbytes
    try:
        yield ecma376_agile
    finally:
        ecma376_agile._random_buffer = original


def encrypt_ooxml(data: bytes, password: str, rng: random.Random, *, spin_count: int = 100000) -> bytes:
    """An ECMA-376 agile-encrypted OLE container around an OOXML package (what Office writes).

    msoffcrypto-tool does the cryptography; the container is written by `cfb` because
    msoffcrypto's own writer stamps the current time into it and (6.1) loses data when the
    EncryptedPackage stream is shorter than 4096 bytes.
    """
    from msoffcrypto.method.container.ecma376_encrypted import DefaultContent

    with _seeded_agile(rng) as agile:
        info, key = agile.ECMA376Agile.generate_encryption_parameters(password, rng.randbytes(16), spin_count)
        package = agile.ECMA376Agile.encrypt_payload(io.BytesIO(data), info.encryptedKey, key,
                                                     info.keyData.saltValue)
        encryption_info = agile.ECMA376Agile.get_encryption_information(info, package, key)
    return cfb.write({
        "EncryptionInfo": encryption_info,
        "EncryptedPackage": package,
        "\x06DataSpaces": {
            "Version": DefaultContent.Version,
            "DataSpaceMap": DefaultContent.DataSpaceMap,
            "DataSpaceInfo": {"StrongEncryptionDataSpace": DefaultContent.StrongEncryptionDataSpace},
            "TransformInfo": {"StrongEncryptionTransform": {"\x06Primary": DefaultContent.Primary}},
        },
    })


def decrypt_ooxml(data: bytes, password: str) -> bytes:
    import msoffcrypto

    office = msoffcrypto.OfficeFile(io.BytesIO(data))
    office.load_key(password=password)
    out = io.BytesIO()
    office.decrypt(out)
    return out.getvalue()
