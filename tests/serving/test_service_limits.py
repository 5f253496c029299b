"""413 for oversize bodies (declared or not), and upload bytes never reaching the disk."""

from __future__ import annotations

import tempfile
from typing import ClassVar

import pytest
import starlette.formparsers

LIMIT = 4096


@pytest.fixture(scope="module")
def small(request):
    from serving_support import TestClient, create_app_unstarted

    with TestClient(create_app_unstarted(max_body_bytes=LIMIT)) as c:
        yield c


def test_declared_oversize_body_is_413(small):
    r = small.post("/v1/scan", content=b"a" * (LIMIT + 1))
    assert r.status_code == 413
    assert str(LIMIT) in r.json()["detail"]


def test_body_at_the_limit_is_scanned(small):
    assert small.post("/v1/scan", content=b"a" * LIMIT).status_code == 200


def test_chunked_body_is_cut_off_while_reading(small):
    def chunks():  # no Content-Length: only counting while reading can stop it
        for _ in range(10):
            yield b"b" * 1000

    r = small.post("/v1/scan", content=chunks())
    assert r.status_code == 413


def test_lying_content_length_is_not_trusted(small):
    from maldoc.serving.body import BodyError, read_raw

    class FakeRequest:
        headers: ClassVar[dict] = {"content-length": "10"}

        async def stream(self):
            for _ in range(10):
                yield b"c" * 1000

    import asyncio

    with pytest.raises(BodyError) as err:
        asyncio.run(read_raw(FakeRequest(), LIMIT))
    assert err.value.status == 413


def test_oversize_multipart_file_is_413(small):
    r = small.post("/v1/scan", files={"file": ("big.bin", b"d" * (LIMIT + 10))})
    assert r.status_code == 413


def test_oversize_email_is_413(small):
    r = small.post("/v1/scan/email", content=b"From: a@b\r\n" + b"e" * LIMIT)
    assert r.status_code == 413


def test_invalid_content_length_is_400(small):
    from maldoc.serving.body import BodyError, _check_length

    class FakeRequest:
        headers: ClassVar[dict] = {"content-length": "12abc"}

    with pytest.raises(BodyError) as err:
        _check_length(FakeRequest(), LIMIT)
    assert err.value.status == 400


def test_large_multipart_upload_never_touches_the_disk(make_client, monkeypatch):
    """Starlette's form parser spools uploads over 1 MiB to a temporary file; ours must not."""

    def no_disk(*args, **kwargs):
        raise AssertionError("upload content written to a temporary file")

    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, no_disk)
    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", no_disk)
    c = make_client(max_body_bytes=8 * 1024 * 1024)
    data = b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024)
    r = c.post("/v1/scan", files={"file": ("big.pdf", data, "application/pdf")})
    assert r.status_code == 200, r.text
    assert r.json()["verdict"]["size"] == len(data)
