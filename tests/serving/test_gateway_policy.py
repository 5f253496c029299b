"""The listeners answer failed scans as the service's fail mode says, in each protocol's terms."""

from __future__ import annotations

import threading

import pytest
from gateway_env import Running, clamd_command, connect, instream, read_all
from slow_tasks import sleepy

from maldoc.serving.clamd import ClamdServer, ClamdSettings
from maldoc.serving.icap import IcapServer, IcapSettings

SLOW = b"SLEEP 30 this input outlives the scan timeout"


def icap_respmod(body: bytes) -> bytes:
    chunk = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    return (b"RESPMOD icap://127.0.0.1/maldoc ICAP/1.0\r\nHost: x\r\nAllow: 204\r\nConnection: close\r\n"
            b"Encapsulated: res-body=0\r\n\r\n" + chunk)


@pytest.fixture(scope="module", params=["report", "closed", "open"])
def env(request):
    running = Running(task=sleepy, workers=1, model="rules", timeout_s=1.0, fail_mode=request.param, max_queue=1)
    clamd = running.add(lambda service: ClamdServer(service, ClamdSettings(port=0)))
    icap = running.add(lambda service: IcapServer(service, IcapSettings(port=0)))
    try:
        yield request.param, clamd.address, icap.address, running
    finally:
        running.close()


EXPECTED_CLAMD = {"report": b"stream: Scan timed out. ERROR\0", "closed": b"stream: Maldoc.Unscanned.Timeout FOUND\0",
                  "open": b"stream: OK\0"}
EXPECTED_ICAP = {"report": b"ICAP/1.0 500 Server Error", "closed": b"ICAP/1.0 200 OK",
                 "open": b"ICAP/1.0 204 No Content"}


def test_timeout_follows_the_fail_mode(env):
    mode, clamd, icap, _ = env
    assert clamd_command(clamd, b"zINSTREAM\0", instream(SLOW)) == EXPECTED_CLAMD[mode]
    with connect(icap) as sock:
        sock.sendall(icap_respmod(SLOW))
        answer = read_all(sock)
    assert answer.startswith(EXPECTED_ICAP[mode])
    if mode == "closed":
        assert b"Threat=Maldoc.Unscanned.Timeout;" in answer


def test_a_full_queue_is_an_error_answer_not_a_verdict():
    running = Running(task=sleepy, workers=1, model="rules", timeout_s=1.0, fail_mode="open", max_queue=1)
    clamd = running.add(lambda service: ClamdServer(service, ClamdSettings(port=0))).address
    icap = running.add(lambda service: IcapServer(service, IcapSettings(port=0))).address
    slow = b"SLEEP 2 holds the one queue slot"
    holder = threading.Thread(target=clamd_command, args=(clamd, b"zINSTREAM\0", instream(slow)))
    holder.start()
    try:
        for _ in range(500):  # until the slow scan holds the slot
            if running.service.engine.inflight:
                break
            threading.Event().wait(0.01)
        answer = clamd_command(clamd, b"zINSTREAM\0", instream(b"not cached: " + slow))
        assert answer.startswith(b"stream: Scan queue full, retry in ") and answer.endswith(b" ERROR\0")
        with connect(icap) as sock:
            sock.sendall(icap_respmod(b"not cached either"))
            assert read_all(sock).startswith(b"ICAP/1.0 503 Service Overloaded\r\n")
    finally:
        holder.join(30)
        running.close()
