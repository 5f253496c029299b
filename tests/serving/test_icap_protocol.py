"""The ICAP listener over real sockets: OPTIONS, RESPMOD/REQMOD with and without preview, 204 and
its absence, detection answers, ISTag following the model, and every kind of bad input."""

from __future__ import annotations

import re

import pytest
from gateway_env import CLEAN_DOCX, CLEAN_LARGE, MALICIOUS_DOCM, Running, connect, is_closed, read_all, read_until
from serving_support import make_bundle

from maldoc.serving.icap import IcapServer, IcapSettings

LIMIT = 256 * 1024
BODY_AT_0 = b"RESPMOD icap://127.0.0.1/maldoc ICAP/1.0\r\nEncapsulated: res-body=0\r\n\r\n"
RES_HDR = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")  # reloads read bundles only from the configured folder


@pytest.fixture(scope="module")
def env(models_dir):
    running = Running(workers=1, model=None, max_body_bytes=LIMIT, models_dir=str(models_dir))
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def icap(env):
    settings = IcapSettings(port=0, services=["maldoc", "avscan"], idle_timeout_s=0.5, preview=1024)
    return env.add(lambda service: IcapServer(service, settings)).address


def chunked(data: bytes, size: int = 1000, end: bytes = b"0\r\n\r\n") -> bytes:
    out = b"".join(f"{len(data[i:i + size]):x}\r\n".encode() + data[i:i + size] + b"\r\n"
                   for i in range(0, len(data), size))
    return out + end


def respmod(body: bytes, *, service: str = "maldoc", allow204: bool = True, preview: int | None = None,
            url: str = "http://example.test/files/report.docm") -> tuple[bytes, bytes]:
    """(the request up to the preview or the whole body, the rest to send after 100 Continue)."""
    req_hdr = f"GET {url} HTTP/1.1\r\nHost: example.test\r\n\r\n".encode()
    head = [f"RESPMOD icap://127.0.0.1/{service} ICAP/1.0", "Host: 127.0.0.1",
            f"Encapsulated: req-hdr=0, res-hdr={len(req_hdr)}, res-body={len(req_hdr) + len(RES_HDR)}"]
    if allow204:
        head.append("Allow: 204")
    if preview is None:
        return ("\r\n".join(head) + "\r\n\r\n").encode() + req_hdr + RES_HDR + chunked(body), b""
    head.append(f"Preview: {preview}")
    start = ("\r\n".join(head) + "\r\n\r\n").encode() + req_hdr + RES_HDR
    if len(body) <= preview:
        return start + chunked(body, end=b"0; ieof\r\n\r\n"), b""
    return start + chunked(body[:preview]), chunked(body[preview:])


def read_response(sock) -> tuple[str, dict[str, str], bytes]:
    """Status line, ICAP headers, and the encapsulated part (until its final zero chunk, if any)."""
    data = read_until(sock, b"\r\n\r\n")
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers: dict[str, str] = {}
    last = ""
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            headers[last] += "\n" + line.strip()
            continue
        name, _, value = line.partition(":")
        last = name.lower()
        headers[last] = value.strip()
    if "body=" in headers.get("encapsulated", "") and "null-body" not in headers["encapsulated"]:
        while not rest.endswith(b"0\r\n\r\n"):
            rest += sock.recv(65536)
    return lines[0], headers, rest


def test_options(icap):
    with connect(icap) as sock:
        sock.sendall(b"OPTIONS icap://127.0.0.1/maldoc ICAP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        status, headers, _ = read_response(sock)
    assert status == "ICAP/1.0 200 OK"
    assert headers["methods"] == "RESPMOD, REQMOD" and headers["allow"] == "204"
    assert headers["preview"] == "1024" and re.fullmatch(r'"maldoc-[0-9a-f]{16}"', headers["istag"])
    assert headers["encapsulated"] == "null-body=0"


def test_clean_gets_204_and_keep_alive_serves_the_next_request(icap):
    with connect(icap) as sock:
        sock.sendall(respmod(CLEAN_DOCX.read_bytes())[0])
        status, headers, _ = read_response(sock)
        assert status == "ICAP/1.0 204 No Content" and "istag" in headers
        sock.sendall(respmod(MALICIOUS_DOCM.read_bytes(), service="avscan")[0])  # same connection
        status, headers, body = read_response(sock)
    assert status == "ICAP/1.0 200 OK"
    assert re.fullmatch(r"Type=0; Resolution=2; Threat=Maldoc\.Ooxml\.[A-Z_]+;", headers["x-infection-found"])
    threat = headers["x-infection-found"].split("Threat=")[1].rstrip(";")
    assert headers["x-violations-found"].split("\n") == ["1", "report.docm", threat, "0", "2"]
    assert headers["encapsulated"].startswith("res-hdr=0, res-body=")
    assert body.startswith(b"HTTP/1.1 403 Forbidden\r\n") and threat.encode() in body


def test_preview_then_100_continue(icap):
    data = CLEAN_LARGE.read_bytes()
    assert len(data) > 1024
    first, rest = respmod(data, preview=1024)
    with connect(icap) as sock:
        sock.sendall(first)
        assert read_until(sock, b"\r\n\r\n") == b"ICAP/1.0 100 Continue\r\n\r\n"
        sock.sendall(rest)
        status, _, _ = read_response(sock)
    assert status == "ICAP/1.0 204 No Content"


def test_whole_body_in_the_preview(icap):
    small = b"<html><body>hello</body></html>"
    with connect(icap) as sock:
        sock.sendall(respmod(small, preview=1024, allow204=False)[0])
        status, _, _ = read_response(sock)
    assert status == "ICAP/1.0 204 No Content"  # 204 is always allowed in answer to a preview


def test_without_allow_204_the_message_comes_back_unchanged(icap):
    data = CLEAN_DOCX.read_bytes()
    with connect(icap) as sock:
        sock.sendall(respmod(data, allow204=False)[0])
        status, headers, rest = read_response(sock)
    assert status == "ICAP/1.0 200 OK"
    assert headers["encapsulated"] == f"res-hdr=0, res-body={len(RES_HDR)}"
    assert rest[:len(RES_HDR)] == RES_HDR
    body, chunks = b"", rest[len(RES_HDR):]
    while True:
        size_line, _, chunks = chunks.partition(b"\r\n")
        size = int(size_line, 16)
        if not size:
            break
        body, chunks = body + chunks[:size], chunks[size + 2:]
    assert body == data


def test_reqmod_upload_is_scanned(icap):
    data = MALICIOUS_DOCM.read_bytes()
    req_hdr = (b"POST /upload HTTP/1.1\r\nHost: example.test\r\nContent-Disposition: attachment; "
               b'filename="invoice.docm"\r\n\r\n')
    head = (f"REQMOD icap://127.0.0.1/maldoc ICAP/1.0\r\nHost: 127.0.0.1\r\nAllow: 204\r\n"
            f"Encapsulated: req-hdr=0, req-body={len(req_hdr)}\r\n\r\n").encode()
    with connect(icap) as sock:
        sock.sendall(head + req_hdr + chunked(data))
        status, headers, _ = read_response(sock)
        assert status == "ICAP/1.0 200 OK" and "x-infection-found" in headers
        assert headers["x-violations-found"].split("\n")[1] == "invoice.docm"
        # a GET has nothing to scan
        get = b"GET /index.html HTTP/1.1\r\nHost: example.test\r\n\r\n"
        sock.sendall((f"REQMOD icap://127.0.0.1/maldoc ICAP/1.0\r\nHost: 127.0.0.1\r\nAllow: 204\r\n"
                      f"Encapsulated: req-hdr=0, null-body={len(get)}\r\n\r\n").encode() + get)
        status, _, _ = read_response(sock)
    assert status == "ICAP/1.0 204 No Content"


def test_istag_changes_with_the_model(env, icap, models_dir):
    def istag() -> str:
        with connect(icap) as sock:
            sock.sendall(b"OPTIONS icap://127.0.0.1/maldoc ICAP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return read_response(sock)[1]["istag"]

    before = istag()
    assert istag() == before  # stable while the model stays
    env.call(env.service.reload(str(make_bundle(models_dir / "bundle", "istag-2"))))
    try:
        assert istag() != before
    finally:
        env.call(env.service.rollback())
    assert istag() == before


# -- bad input -----------------------------------------------------------------------------------
def status_then_closed(icap, payload: bytes, *, half_close: bool = False) -> str:
    with connect(icap) as sock:
        sock.sendall(payload)
        if half_close:
            sock.shutdown(1)
        data = read_all(sock)
    return data.split(b"\r\n", 1)[0].decode()


def still_serving(icap) -> bool:
    with connect(icap) as sock:
        sock.sendall(b"OPTIONS icap://127.0.0.1/maldoc ICAP/1.0\r\nHost: x\r\n\r\n")
        return read_response(sock)[0] == "ICAP/1.0 200 OK"


@pytest.mark.parametrize(("payload", "status"), [
    (b"HELLO\r\n\r\n", "ICAP/1.0 400 Bad Request"),
    (b"\xff\xfe garbage\r\n\r\n", "ICAP/1.0 400 Bad Request"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "ICAP/1.0 400 Bad Request"),
    (b"OPTIONS icap://127.0.0.1/maldoc ICAP/2.0\r\n\r\n", "ICAP/1.0 505 ICAP Version Not Supported"),
    (b"OPTIONS icap://127.0.0.1/nothere ICAP/1.0\r\n\r\n", "ICAP/1.0 404 ICAP Service Not Found"),
    (b"DELETE icap://127.0.0.1/maldoc ICAP/1.0\r\n\r\n", "ICAP/1.0 501 Method Not Implemented"),
    (b"RESPMOD icap://127.0.0.1/maldoc ICAP/1.0\r\nHost: x\r\n\r\n", "ICAP/1.0 400 Bad Request"),
    (b"RESPMOD icap://127.0.0.1/maldoc ICAP/1.0\r\nEncapsulated: res-body=10, res-hdr=0\r\n\r\n",
     "ICAP/1.0 400 Bad Request"),
    (BODY_AT_0 + b"zz\r\n", "ICAP/1.0 400 Bad Request"),  # a chunk size that is not hex
    (BODY_AT_0 + b"3\r\nabcXY", "ICAP/1.0 400 Bad Request"),  # chunk data not followed by CRLF
    (b"OPTIONS icap://127.0.0.1/maldoc ICAP/1.0\r\nno colon here\r\n\r\n", "ICAP/1.0 400 Bad Request"),
])
def test_malformed_requests(icap, payload, status):
    assert status_then_closed(icap, payload) == status
    assert still_serving(icap)


def test_chunk_beyond_the_body_limit(icap):
    head = b"RESPMOD icap://127.0.0.1/maldoc ICAP/1.0\r\nEncapsulated: res-body=0\r\n\r\n"
    assert status_then_closed(icap, head + f"{LIMIT + 1:x}\r\n".encode()) == "ICAP/1.0 400 Bad Request"
    many = head + b"".join(f"{60000:x}\r\n".encode() + b"A" * 60000 + b"\r\n" for _ in range(5))
    assert status_then_closed(icap, many) == "ICAP/1.0 400 Bad Request"
    assert still_serving(icap)


def test_header_block_without_end(icap):
    with connect(icap) as sock:
        sock.sendall(b"OPTIONS icap://127.0.0.1/maldoc ICAP/1.0\r\n" + b"X-Long: " + b"a" * 70000)
        assert read_until(sock, b"\r\n\r\n").startswith(b"ICAP/1.0 400 Bad Request")
        assert is_closed(sock)


def test_truncated_body_closes_quietly(icap):
    payload = respmod(CLEAN_DOCX.read_bytes())[0]
    assert status_then_closed(icap, payload[:len(payload) // 2], half_close=True) == ""
    assert still_serving(icap)


def test_idle_connection_gets_408(icap):
    assert status_then_closed(icap, b"") == "ICAP/1.0 408 Request Timeout"
    assert status_then_closed(icap, b"RESPMOD icap://127.0.0.1/maldoc ICAP/1.0\r\n") == "ICAP/1.0 408 Request Timeout"
    assert still_serving(icap)


def test_more_connections_than_allowed(env):
    address = env.add(lambda service: IcapServer(service, IcapSettings(port=0, max_connections=1))).address
    with connect(address) as held:
        held.sendall(b"OPTIONS icap://127.0.0.1/maldoc ICAP/1.0\r\nHost: x\r\n\r\n")
        assert read_response(held)[0] == "ICAP/1.0 200 OK"  # admitted, kept alive
        with connect(address) as extra:
            extra.sendall(b"OPTIONS icap://127.0.0.1/maldoc ICAP/1.0\r\nHost: x\r\n\r\n")
            data = read_all(extra)
        assert data.startswith(b"ICAP/1.0 503 Service Overloaded\r\n") and b"Connection: close" in data


def test_after_100_continue_204_needs_allow_204(icap):
    data = CLEAN_LARGE.read_bytes()
    first, rest = respmod(data, preview=1024, allow204=False)
    with connect(icap) as sock:
        sock.sendall(first)
        assert read_until(sock, b"\r\n\r\n") == b"ICAP/1.0 100 Continue\r\n\r\n"
        sock.sendall(rest)
        status, headers, _ = read_response(sock)
    assert status == "ICAP/1.0 200 OK" and headers["encapsulated"] == f"res-hdr=0, res-body={len(RES_HDR)}"


def test_a_request_trickling_in_forever_is_cut_off(env):
    settings = IcapSettings(port=0, idle_timeout_s=1.0, request_timeout_s=1.5)
    address = env.add(lambda service: IcapServer(service, settings)).address
    with connect(address) as sock:
        sock.sendall(BODY_AT_0 + b"3e8\r\n")
        answer = b""
        for _ in range(100):
            try:
                sock.sendall(b"x")
            except OSError:
                break
            sock.settimeout(0.2)
            try:
                answer += sock.recv(1000)
            except TimeoutError:
                continue
            if b"\r\n\r\n" in answer:
                break
        assert answer.startswith(b"ICAP/1.0 408 Request Timeout\r\n")
