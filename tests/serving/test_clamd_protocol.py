"""The clamd listener over real sockets: every command, both prefixes, sessions, path scans."""

from __future__ import annotations

import os
import re
import socket
import stat
import threading

import pytest
from gateway_env import CLEAN_DOCX, MALICIOUS_DOCM, Running, clamd_command, connect, instream, read_all, read_until

from maldoc.serving.clamd import ClamdServer, ClamdSettings

NAME = re.compile(rb"Maldoc\.[A-Za-z]+\.[A-Z][A-Z0-9_]+")


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clamd")
    scan_dir = folder / "spool"
    (scan_dir / "sub").mkdir(parents=True)
    (scan_dir / "sub" / "dropper.docm").write_bytes(MALICIOUS_DOCM.read_bytes())
    (scan_dir / "invoice.docx").write_bytes(CLEAN_DOCX.read_bytes())
    (scan_dir / "also-dropper.docm").write_bytes(MALICIOUS_DOCM.read_bytes())
    outside = folder / "outside.docm"
    outside.write_bytes(MALICIOUS_DOCM.read_bytes())
    (scan_dir / "link-out.docm").symlink_to(outside)
    shutdown = threading.Event()
    env = Running(workers=1, model=None)
    settings = ClamdSettings(port=0, socket=str(folder / "clamd.sock"), allow_paths=[str(scan_dir)])
    server = env.add(lambda service: ClamdServer(service, settings, shutdown=shutdown.set))
    try:
        yield env, server, scan_dir, outside, shutdown
    finally:
        env.close()


@pytest.fixture(scope="module")
def tcp(running):
    return running[1].address


@pytest.fixture(scope="module")
def unix(running):
    return running[1].settings.socket


@pytest.mark.parametrize(("command", "answer"), [
    (b"zPING\0", b"PONG\0"), (b"nPING\n", b"PONG\n"), (b"PING\n", b"PONG\n"), (b"PING\r\n", b"PONG\n")])
def test_ping_with_every_prefix(tcp, command, answer):
    assert clamd_command(tcp, command) == answer


def test_version_and_versioncommands(tcp):
    version = clamd_command(tcp, b"zVERSION\0")
    assert version.startswith(b"ClamAV maldoc-") and version.endswith(b"\0")
    commands = clamd_command(tcp, b"nVERSIONCOMMANDS\n")
    assert b"| COMMANDS:" in commands
    for word in (b"SCAN", b"CONTSCAN", b"MULTISCAN", b"INSTREAM", b"IDSESSION", b"END", b"PING", b"VERSION"):
        assert word in commands.split(b"COMMANDS:")[1].split()
    assert clamd_command(tcp, b"VERSIONCOMMANDS\n") == b"UNKNOWN COMMAND\n"  # not accepted old-style


def test_instream_clean_and_detected(tcp):
    assert clamd_command(tcp, b"zINSTREAM\0", instream(CLEAN_DOCX.read_bytes())) == b"stream: OK\0"
    answer = clamd_command(tcp, b"nINSTREAM\n", instream(MALICIOUS_DOCM.read_bytes(), chunk=1000))
    assert answer.startswith(b"stream: Maldoc.Ooxml.") and answer.endswith(b" FOUND\n"), answer
    assert NAME.fullmatch(answer[len(b"stream: "):-len(b" FOUND\n")])


def test_instream_logs_the_sha256_score_and_reasons(tcp, caplog):
    import hashlib

    data = MALICIOUS_DOCM.read_bytes()
    with caplog.at_level("INFO", logger="maldoc.serving"):
        clamd_command(tcp, b"zINSTREAM\0", instream(data))
    lines = [r.getMessage() for r in caplog.records if r.name == "maldoc.serving.gateway"]
    line = next(m for m in lines if hashlib.sha256(data).hexdigest() in m)
    assert "decision=malicious" in line and re.search(r"reasons=[a-z]", line)
    assert re.search(r"score=(?:0\.\d{3}|1\.000)", line)  # 1.000: a certain indicator decided


def test_idsession_numbers_replies_and_keeps_the_connection(tcp):
    with connect(tcp) as sock:
        sock.sendall(b"zIDSESSION\0zPING\0")
        assert read_until(sock, b"\0") == b"1: PONG\0"
        sock.sendall(b"zINSTREAM\0" + instream(MALICIOUS_DOCM.read_bytes()))
        answer = read_until(sock, b"\0")
        assert answer.startswith(b"2: stream: Maldoc.") and answer.endswith(b"FOUND\0")
        sock.sendall(b"zINSTREAM\0" + instream(CLEAN_DOCX.read_bytes()) + b"zVERSION\0")
        answers = read_until(sock, b"\0")
        while answers.count(b"\0") < 2:
            answers += read_until(sock, b"\0")
        first, second = answers.split(b"\0")[:2]
        assert first == b"3: stream: OK" and second.startswith(b"4: ClamAV maldoc-")
        sock.sendall(b"zEND\0")
        assert read_all(sock) == b""


def test_session_refuses_old_style_and_session_less_commands(tcp):
    with connect(tcp) as sock:
        sock.sendall(b"nIDSESSION\nPING\n")
        assert read_all(sock) == b"1: Only nCMDS\\n and zCMDS\\0 are accepted inside IDSESSION. ERROR\n"
    with connect(tcp) as sock:
        sock.sendall(b"nIDSESSION\nnCONTSCAN /tmp\n")
        assert read_all(sock) == b"1: Command invalid inside IDSESSION. ERROR\n"


def test_end_outside_a_session_is_unknown(tcp):
    assert clamd_command(tcp, b"zEND\0") == b"UNKNOWN COMMAND\0"


def test_scan_stops_at_the_first_detection_contscan_reports_all(tcp, running):
    scan_dir = running[2]
    answer = clamd_command(tcp, f"zSCAN {scan_dir}\0".encode()).split(b"\0")[:-1]
    assert len(answer) == 1 and answer[0].endswith(b"FOUND")
    answer = clamd_command(tcp, f"nCONTSCAN {scan_dir}\n".encode()).decode().splitlines()
    found = sorted(line.split(": ")[0] for line in answer if line.endswith("FOUND"))
    assert found == [str(scan_dir / "also-dropper.docm"), str(scan_dir / "sub" / "dropper.docm")]
    assert not any(line.endswith(": OK") for line in answer)  # OK only when nothing was found
    assert "link-out.docm" not in " ".join(answer)  # a link out of the allowed folder is not followed


def test_multiscan_and_scan_of_one_file(tcp, running):
    scan_dir = running[2]
    answer = clamd_command(tcp, f"MULTISCAN {scan_dir}\n".encode()).decode().splitlines()
    assert len([line for line in answer if line.endswith("FOUND")]) == 2
    clean = scan_dir / "invoice.docx"
    assert clamd_command(tcp, f"zSCAN {clean}\0".encode()) == f"{clean}: OK\0".encode()


def test_path_scans_stay_inside_the_allowed_folders(tcp, running):
    outside = running[3]
    assert clamd_command(tcp, f"zSCAN {outside}\0".encode()) == f"{outside}: Access denied. ERROR\0".encode()
    link = running[2] / "link-out.docm"
    assert clamd_command(tcp, f"zSCAN {link}\0".encode()) == f"{link}: Access denied. ERROR\0".encode()
    dotdot = f"{running[2]}/../outside.docm"
    assert clamd_command(tcp, f"zSCAN {dotdot}\0".encode()) == f"{dotdot}: Access denied. ERROR\0".encode()
    assert clamd_command(tcp, b"zSCAN relative/path\0") == b"relative/path: A full path is required. ERROR\0"
    gone = running[2] / "nope"
    assert clamd_command(tcp, f"zSCAN {gone}\0".encode()).endswith(b"No such file or directory. ERROR\0")


def test_path_scans_are_off_without_allowed_paths(running):
    env = running[0]
    server = env.add(lambda service: ClamdServer(service, ClamdSettings(port=0)))
    assert clamd_command(server.address, b"zSCAN /etc/passwd\0") == \
        b"/etc/passwd: Path scans are disabled (no allowed paths). ERROR\0"


def test_shutdown_only_from_the_local_socket(tcp, unix, running):
    shutdown = running[4]
    assert clamd_command(tcp, b"zSHUTDOWN\0") == b"SHUTDOWN is accepted on the local socket only. ERROR\0"
    assert not shutdown.is_set()
    assert clamd_command(unix, b"zPING\0") == b"PONG\0"
    assert clamd_command(unix, b"zSHUTDOWN\0") == b""
    assert shutdown.wait(10)


def test_reload_from_the_local_socket_swaps_the_model(unix, tcp, running):
    service = running[0].service
    generation = service.models.current.generation
    assert clamd_command(tcp, b"zRELOAD\0").endswith(b"local socket only. ERROR\0")
    assert clamd_command(unix, b"zRELOAD\0") == b"RELOADING\0"
    for _ in range(100):
        if service.models.current.generation > generation:
            break
        threading.Event().wait(0.1)
    assert service.models.current.generation == generation + 1
    assert f"/{generation + 1}/".encode() in clamd_command(tcp, b"zVERSION\0")


def test_unix_socket_left_behind_is_replaced_a_live_one_is_not(running, tmp_path):
    env = running[0]
    live = running[1].settings.socket
    with pytest.raises(OSError, match="another server is listening"):
        env.add(lambda service: ClamdServer(service, ClamdSettings(port=None, socket=live)))
    stale = str(tmp_path / "stale.sock")
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(stale)  # a socket file nobody listens on, as a crashed server leaves it
    leftover.close()
    server = env.add(lambda service: ClamdServer(service, ClamdSettings(port=None, socket=stale, socket_mode=0o600)))
    assert clamd_command(server.settings.socket, b"zPING\0") == b"PONG\0"
    assert stat.S_IMODE(os.stat(stale).st_mode) == 0o600
