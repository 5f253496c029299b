"""Hostile or broken clamd clients: each gets clamd's error answer and a closed connection, and the
listener keeps serving everyone else."""

from __future__ import annotations

import struct

import pytest
from gateway_env import CLEAN_DOCX, Running, clamd_command, connect, instream, is_closed, read_all, read_until

from maldoc.serving.clamd import ClamdServer, ClamdSettings

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def env():
    running = Running(workers=1, model="rules")
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def tcp(env):
    settings = ClamdSettings(port=0, stream_max_length=LIMIT, idle_timeout_s=0.5, max_connections=3)
    return env.add(lambda service: ClamdServer(service, settings)).address


def still_serving(tcp) -> bool:
    return clamd_command(tcp, b"zPING\0") == b"PONG\0"


def test_chunk_longer_than_stream_max_length(tcp):
    with connect(tcp) as sock:
        sock.sendall(b"zINSTREAM\0" + struct.pack(">I", LIMIT + 1))
        assert read_all(sock) == b"INSTREAM size limit exceeded. ERROR\0"
    assert still_serving(tcp)


def test_stream_adding_up_past_stream_max_length(tcp):
    chunk = b"A" * (LIMIT // 2)
    with connect(tcp) as sock:
        sock.sendall(b"nINSTREAM\n" + (struct.pack(">I", len(chunk)) + chunk) * 2 + struct.pack(">I", 10))
        assert read_all(sock) == b"INSTREAM size limit exceeded. ERROR\n"
    assert still_serving(tcp)


def test_a_stream_of_exactly_the_limit_is_scanned(tcp):
    assert clamd_command(tcp, b"zINSTREAM\0", instream(b"A" * LIMIT, chunk=LIMIT)) == b"stream: OK\0"


@pytest.mark.parametrize("payload", [
    struct.pack(">I", 1000) + b"only part of the chunk",  # the chunk is cut short
    struct.pack(">I", 5) + b"hello" + b"\x00\x00",  # the next length is cut short
    CLEAN_DOCX.read_bytes()[:100],  # raw bytes without framing: a huge "length", then EOF
])
def test_truncated_stream_closes_without_an_answer_or_a_crash(tcp, payload):
    with connect(tcp) as sock:
        sock.sendall(b"zINSTREAM\0" + payload)
        sock.shutdown(1)  # the client is done sending: the server sees the stream end too early
        answer = read_all(sock)
    assert answer in (b"", b"INSTREAM size limit exceeded. ERROR\0")
    assert still_serving(tcp)


@pytest.mark.parametrize("garbage", [
    b"zHELLO\0", b"nSCAN\n", b"zPINGPONG\0", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\xff\xfe\x00garbage\n",
    b"z\xc3\x28\0", b"\n"])
def test_garbage_commands(tcp, garbage):
    with connect(tcp) as sock:
        sock.sendall(garbage)
        answer = read_all(sock)
    assert answer.startswith(b"UNKNOWN COMMAND"), answer
    assert still_serving(tcp)


def test_a_command_line_without_end(tcp):
    with connect(tcp) as sock:
        sock.sendall(b"z" + b"P" * (LIMIT + 10))
        assert read_until(sock, b"\0") == b"UNKNOWN COMMAND\0"
        assert is_closed(sock)
    assert still_serving(tcp)


def test_idle_connection_times_out(tcp):
    with connect(tcp) as sock:
        assert read_all(sock) == b"COMMAND READ TIMED OUT\n"
    with connect(tcp) as sock:  # in the middle of a stream, with the session's terminator
        sock.sendall(b"zIDSESSION\0zINSTREAM\0" + struct.pack(">I", 100) + b"x" * 10)
        assert read_all(sock) == b"1: COMMAND READ TIMED OUT\0"
    assert still_serving(tcp)


def test_more_connections_than_allowed(env):
    settings = ClamdSettings(port=0, max_connections=2, idle_timeout_s=30)
    tcp = env.add(lambda service: ClamdServer(service, settings)).address
    held = [connect(tcp) for _ in range(2)]
    try:
        for sock in held:  # both admitted: a session keeps each one open
            sock.sendall(b"zIDSESSION\0zPING\0")
            assert read_until(sock, b"\0") == b"1: PONG\0"
        with connect(tcp) as extra:
            extra.sendall(b"zPING\0")
            assert read_all(extra) == b"Too many connections, try again later. ERROR\0"
        with connect(tcp) as extra:
            extra.sendall(b"nPING\n")
            assert read_all(extra) == b"Too many connections, try again later. ERROR\n"
        held[0].sendall(b"zEND\0")
        assert read_all(held[0]) == b""
        for _ in range(50):  # the freed slot is taken again once the server has closed its side
            answer = clamd_command(tcp, b"zPING\0")
            if answer == b"PONG\0":
                break
        assert answer == b"PONG\0"
    finally:
        for sock in held:
            sock.close()


def test_protocol_errors_and_refusals_are_counted(env, tcp):
    registry = env.service.metrics.registry
    before = registry.get_sample_value("maldoc_clamd_protocol_errors_total", {"kind": "unknown_command"}) or 0
    clamd_command(tcp, b"zNOPE\0")
    assert registry.get_sample_value("maldoc_clamd_protocol_errors_total", {"kind": "unknown_command"}) == before + 1
    assert registry.get_sample_value("maldoc_clamd_connections_total", {"event": "accepted"}) >= 1


def test_a_stream_trickling_in_forever_is_cut_off(env):
    settings = ClamdSettings(port=0, idle_timeout_s=1.0, request_timeout_s=1.5)
    tcp = env.add(lambda service: ClamdServer(service, settings)).address
    with connect(tcp) as sock:
        sock.sendall(b"zINSTREAM\0" + struct.pack(">I", 1000))
        answer = b""
        for _ in range(100):  # one byte at a time, well inside the idle timeout, until the server gives up
            try:
                sock.sendall(b"x")
            except OSError:
                break
            sock.settimeout(0.2)
            try:
                answer += sock.recv(100)
            except TimeoutError:
                continue
            if answer.endswith(b"\0"):
                break
        assert answer == b"COMMAND READ TIMED OUT\0"
