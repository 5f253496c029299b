"""Attacks on the REST service, played at run time against a real uvicorn server on loopback.

Each test makes one attack from the hardening list and checks the status it earns, and that
`/healthz` is answered while the attack request is still in flight. Decoding, renaming and
serialising a cached 16 MB verdict take seconds: the health answer must arrive while that step
is still running (a service doing it on the event loop, or in one GIL-holding call, answers only
after it). Typing an archive is quicker, so that step is held open until the health answer has
arrived: a service doing it on the loop cannot answer, and the test fails instead of racing.
Slow-body attacks are in flight for as long as the test keeps sending.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import select
import socket
import threading
import time
import zipfile
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn
from hostile_tasks import wide
from serving_support import TestClient, settings

from maldoc.serving import modelstore, routes_scan
from maldoc.serving import service as service_module
from maldoc.serving.app import create_app

MiB = 1024 * 1024
MAX_BYTES = 2 * MiB
MAX_UPLOADS = 3
MAX_BUFFERED = 5 * MiB
BODY_TIMEOUT_S = 3.0
MARKER = "HOSTILE-MARKER-5e1d"
HOLD_S = 20  # a held step gives up after this long, so a failing service fails the test instead of hanging it


class LiveServer:
    """uvicorn serving `app` in a thread, on a socket bound to 127.0.0.1:0."""

    def __init__(self, app) -> None:
        self.app = app
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def service(self):
        return self.app.state.service

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.thread.is_alive(), "the server thread exited during start-up"
            try:
                if httpx.get(self.base + "/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("the service did not become ready")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)

    def health(self) -> None:
        r = httpx.get(self.base + "/healthz", timeout=60)
        assert r.status_code == 200 and r.json() == {"status": "ok"}

    def settle(self) -> None:
        """Wait until every upload of the previous attack was released (its connection closed)."""
        uploads = self.service.uploads
        deadline = time.monotonic() + 30
        while (uploads.receiving or uploads.held) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert uploads.receiving == 0 and uploads.held == 0


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    app = create_app(settings(max_bytes=MAX_BYTES, max_uploads=MAX_UPLOADS, max_buffered_bytes=MAX_BUFFERED,
                              body_timeout_s=BODY_TIMEOUT_S, timeout_s=120.0), task=wide)
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(live) -> Iterator[LiveServer]:
    live.settle()
    yield live
    live.settle()


# -- raw HTTP, for what a well-behaved client library will not send --------------------------------
def send(port: int, path: str, headers: dict[str, str], body: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(head.encode() + b"\r\n" + body)
    return sock


def answered(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def response(sock: socket.socket) -> tuple[int, dict[str, str], dict]:
    """Status, headers and JSON body of the one response on `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed without a response"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, json.loads(body[:length] or b"{}")


class Watched:
    """Wraps a function to tell when a call has started and whether it is still running."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.started = threading.Event()
        self.running = False

    def __call__(self, *args, **kwargs):
        self.running = True
        self.started.set()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.running = False


class Held(Watched):
    """Also waits (at most HOLD_S) for `release` before running the call: holds a step open."""

    def __init__(self, fn: Callable) -> None:
        super().__init__(fn)
        self.release = threading.Event()

    def __call__(self, *args, **kwargs):
        self.running = True
        self.started.set()
        self.release.wait(HOLD_S)
        return super().__call__(*args, **kwargs)


def in_background(fn: Callable[[], httpx.Response]) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run() -> None:
        out["response"] = fn()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


# -- body attacks ----------------------------------------------------------------------------------
def test_slow_body_is_cut_off_with_408(server):
    sock = send(server.port, "/v1/scan", {"Content-Length": "100000"}, b"x" * 10)
    with sock:
        sock.sendall(b"x")
        server.health()
        assert not answered(sock), "the slow upload was answered before /healthz"
        # one byte every 0.2 s: the deadline covers the whole body, so trickling does not extend it
        sent = 11
        while not answered(sock) and sent < 1000:
            time.sleep(0.2)
            try:
                sock.sendall(b"x")
            except OSError:
                break
            sent += 1
        status, _, body = response(sock)
    assert status == 408 and "MALDOC_BODY_TIMEOUT_S" in body["detail"]
    assert sent < 1000


def test_declared_oversize_body_is_refused_before_it_is_sent(server):
    with send(server.port, "/v1/scan", {"Content-Length": str(MAX_BYTES + 1)}) as sock:
        server.health()
        status, _, body = response(sock)  # not one byte of the body was sent
    assert status == 413 and str(MAX_BYTES) in body["detail"]


def test_uploads_past_the_concurrency_cap_get_429(server):
    socks = [send(server.port, "/v1/scan", {"Content-Length": "100000"}, b"y" * 1000) for _ in range(MAX_UPLOADS)]
    try:
        deadline = time.monotonic() + 30
        while server.service.uploads.receiving < MAX_UPLOADS and time.monotonic() < deadline:
            time.sleep(0.05)
        with send(server.port, "/v1/scan", {"Content-Length": "10"}, b"z" * 10) as extra:
            status, headers, body = response(extra)
        assert status == 429 and headers["retry-after"] == "1" and "MALDOC_MAX_UPLOADS" in body["detail"]
        server.health()
        assert not any(answered(s) for s in socks), "a held upload was answered before /healthz"
    finally:
        for s in socks:
            s.close()


def test_uploads_past_the_buffered_bytes_cap_get_429(server):
    socks = [send(server.port, "/v1/scan", {"Content-Length": str(MAX_BYTES)}, b"y" * 1000) for _ in range(2)]
    try:
        deadline = time.monotonic() + 30
        while server.service.uploads.held < 2 * MAX_BYTES and time.monotonic() < deadline:
            time.sleep(0.05)
        # declared, not yet sent: the reservation alone refuses it
        with send(server.port, "/v1/scan", {"Content-Length": str(MAX_BYTES)}) as extra:
            status, _, body = response(extra)
        assert status == 429 and "MALDOC_MAX_BUFFERED_BYTES" in body["detail"]
        server.health()
        assert not any(answered(s) for s in socks)
    finally:
        for s in socks:
            s.close()


def test_content_length_with_transfer_encoding_is_400(server):
    headers = {"Content-Length": "5", "Transfer-Encoding": "chunked"}
    with send(server.port, "/v1/scan", headers, b"0\r\n\r\n") as sock:
        status, headers, body = response(sock)
    assert status == 400 and "Transfer-Encoding" in body["detail"] and headers["connection"] == "close"
    server.health()


def test_invalid_content_length_is_400_without_quoting_it(server):
    with send(server.port, "/v1/scan", {"Content-Length": "12" + MARKER}) as sock:
        status, _, body = response(sock)
    assert status == 400 and MARKER not in json.dumps(body)


# -- work the event loop must not do ------------------------------------------------------------------
def _many_member_zip(size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        i = 0
        while buf.tell() < size * 0.4:  # the central directory, written on close, is as large again
            zf.writestr(f"m{i}.txt", b"")
            i += 1
    assert len(buf.getvalue()) <= size
    return buf.getvalue()


def test_archive_posted_as_mail_is_typed_off_the_event_loop(server, monkeypatch):
    held = Held(routes_scan.detect)
    monkeypatch.setattr(routes_scan, "detect", held)
    data = _many_member_zip(MAX_BYTES - 1024)
    thread, out = in_background(lambda: httpx.post(server.base + "/v1/scan/email", content=data, timeout=120))
    assert held.started.wait(60)
    server.health()
    assert held.running, "/healthz was answered only after the archive had been typed"
    held.release.set()
    thread.join(120)
    r = out["response"]
    assert r.status_code == 400 and "looks like zip" in r.json()["detail"]


@pytest.mark.parametrize("step", ["decode", "serialise"])
def test_cached_rescan_of_a_huge_verdict_under_a_new_name(server, monkeypatch, step):
    body = b"WIDE 4000\n"
    first = httpx.post(server.base + "/v1/scan", params={"filename": "first.zip"}, content=body, timeout=300)
    assert first.status_code == 200
    assert len(first.content) > 10 * MiB  # the answer really is that large
    module, name = (service_module, "_decode") if step == "decode" else (routes_scan, "_serialise")
    # Held open: were the step on the event loop, /healthz could not be answered until it ends (the
    # hold runs out); off the loop, it is answered while the step is still running. No timing race.
    watched = Held(getattr(module, name))
    monkeypatch.setattr(module, name, watched)
    thread, out = in_background(lambda: httpx.post(server.base + "/v1/scan", params={"filename": "second.zip"},
                                                   content=body, timeout=300))
    assert watched.started.wait(120)
    try:
        server.health()
        assert watched.running, f"/healthz was answered only after the verdict's {step} step"
    finally:
        watched.release.set()
    thread.join(300)
    doc = out["response"].json()
    assert doc["cached"] is True and doc["verdict"]["name"] == "second.zip"
    assert all(c["path"].startswith("second.zip > ") for c in doc["verdict"]["children"])


def test_reload_of_a_crashing_bundle_is_refused_while_the_service_answers(tmp_path, monkeypatch):
    from serving_support import crashing_bundle

    server = LiveServer(create_app(settings(admin_keys=["adm"], models_dir=str(tmp_path))))
    server.start()
    try:
        real = modelstore.check_in_child
        started, release, state = threading.Event(), threading.Event(), {"running": False}

        async def held(path: str, timeout_s: float) -> None:
            state["running"] = True
            started.set()
            await asyncio.to_thread(release.wait, HOLD_S)
            try:
                await real(path, timeout_s)
            finally:
                state["running"] = False

        monkeypatch.setattr(modelstore, "check_in_child", held)
        bundle = crashing_bundle(tmp_path / "crash")
        thread, out = in_background(lambda: httpx.post(
            server.base + "/v1/admin/model/reload", json={"path": str(bundle)}, headers={"X-API-Key": "adm"},
            timeout=300))
        assert started.wait(60)
        server.health()
        assert state["running"]
        release.set()
        thread.join(300)
        r = out["response"]
        assert r.status_code == 422 and "SIGABRT" in r.json()["detail"]
        assert httpx.get(server.base + "/v1/model", timeout=30).json()["version"] == "rules"
        assert httpx.post(server.base + "/v1/scan", content=b"after the crash", timeout=60).status_code == 200
    finally:
        server.stop()


# -- hostile names and error text (no timing involved: the in-process client is enough) -------------
def _multipart(disposition: bytes, data: bytes = b"hello") -> tuple[bytes, dict[str, str]]:
    body = (b"--BOUNDARY\r\nContent-Disposition: form-data; " + disposition + b"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n--BOUNDARY--\r\n")
    return body, {"Content-Type": "multipart/form-data; boundary=BOUNDARY"}


@pytest.fixture(scope="module")
def local() -> Iterator[TestClient]:
    with TestClient(create_app(settings())) as c:
        yield c


@pytest.mark.parametrize(("disposition", "expected"), [
    ('name="file"; filename="счёт.pdf"'.encode(), "счёт.pdf"),
    ('name="file"; filename="café.pdf"'.encode(), "café.pdf"),
    (b'name="file"; filename="caf\xe9.pdf"', "café.pdf"),  # Latin-1 from an old client
    (b"name=\"file\"; filename=\"fallback.pdf\"; filename*=UTF-8''%D1%81%D1%87%D1%91%D1%82.pdf", "счёт.pdf"),
    (b"name=\"file\"; filename*=utf-8''caf%C3%A9.pdf", "café.pdf"),
    (b'name="file"; filename="a\x01b\x1b[31m.pdf"', "ab[31m.pdf"),
    (b'name="file"; filename="../../etc/passwd"', "passwd"),
    (b'name="file"; filename="C:\\\\Users\\\\x\\\\invoice.exe"', "invoice.exe"),
    ('name="file"; filename="invoice\u202efdp.exe"'.encode(), "invoicefdp.exe"),  # bidi override dropped
    (b'name="file"; filename=".."', ""),
    (b'name="file"; filename="' + b"n" * 5000 + b'.pdf"', "n" * 255),
    (b"name=\"file\"; filename*=x-unknown''%FF%FE.pdf", "\ufffd\ufffd.pdf"),
    (b'name="file"; filename="\xff\xfe\x00bad.pdf"', "\xff\xfebad.pdf"),  # not UTF-8: read as Latin-1
])
def test_upload_names_are_decoded_or_cleaned_never_a_500(local, disposition, expected):
    body, headers = _multipart(disposition)
    r = local.post("/v1/scan", content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["verdict"]["name"] == expected


def test_overlong_part_header_is_400(local):
    body, headers = _multipart(b'name="file"; filename="' + b"n" * 20000 + b'"')
    r = local.post("/v1/scan", content=body, headers=headers)
    assert r.status_code == 400 and "part header" in r.json()["detail"]


def test_errors_and_logs_never_quote_the_input(local, caplog):
    marker = MARKER.encode()
    with caplog.at_level(logging.DEBUG):
        bad_multipart = b"--BOUNDARY\r\n" + marker + b"\r\n\r\n--BOUNDARY--"
        r1 = local.post("/v1/scan", content=bad_multipart,
                        headers={"Content-Type": "multipart/form-data; boundary=BOUNDARY"})
        r2 = local.post("/v1/scan/email", content=b"<html><body>" + marker + b"</body></html>")
        r3 = local.post("/v1/scan", params={"filename": MARKER + ".html"}, content=b"<html>" + marker + b"</html>")
        r4 = local.post("/v1/admin/model/reload", json={"path": MARKER})
    assert r1.status_code == 400 and r2.status_code == 400 and r3.status_code == 200 and r4.status_code == 403
    for r in (r1, r2, r4):
        assert MARKER not in r.text
    assert MARKER not in json.dumps(dict(r3.headers))
    service_lines = [r.getMessage() for r in caplog.records if r.name.startswith(("maldoc", "uvicorn"))]
    assert service_lines  # the service did log these requests
    assert not [line for line in service_lines if MARKER in line]
