"""`maldoc clamd` (the command, in its own process) against the clients gateways really use:
ClamAV's `clamdscan`, rspamd's antivirus module (type clamav), and the exchanges amavisd-new and
Exim make. The gateway configuration lines below are the ones the README shows (a test keeps the
two in step). Each client test skips, with the reason, when its program is not installed
(scripts/install-gateways.sh installs them)."""

from __future__ import annotations

import email.message
import os
import re
import sys
import time
from pathlib import Path

import httpx
import pytest
from gateway_env import (
    CLEAN_DOCX,
    MALICIOUS_DOCM,
    clamd_command,
    clean_env,
    free_port,
    instream,
    missing,
    process,
    wait_port,
)

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[2] / "README.md"

# -- the configurations (README shows them with the default port and socket) --------------------------
RSPAMD_ANTIVIRUS = """\
maldoc {
  type = "clamav";
  servers = "127.0.0.1:{port}";
  symbol = "MALDOC_VIRUS";
  action = "reject";
  scan_mime_parts = true;
  patterns {
    MALDOC_SUSPICIOUS = "^Maldoc\\\\.Suspicious\\\\.";
  }
}
"""
AMAVIS_SCANNER = """\
@av_scanners = (
  ['maldoc', \\&ask_daemon, ["CONTSCAN {}\\n", "{socket}"],
    qr/\\bOK$/m, qr/\\bFOUND$/m, qr/^.*?: (?!Infected Archive)(.*) FOUND$/m ],
);
"""
EXIM_SCANNER = """\
av_scanner = clamd:127.0.0.1 {port}
"""
DEFAULTS = {"port": "3310", "socket": "/run/maldoc/clamd.sock"}

RSPAMD_CONF = """\
.include "$CONFDIR/common.conf"
options {{
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    dns {{ nameserver = ["127.0.0.1:9"]; timeout = 0.2s; retransmits = 1; }}
    disable_hyperscan = true;
}}
logging {{ type = "file"; filename = "$LOGDIR/rspamd.log"; level = "info"; }}
worker "normal" {{ bind_socket = "127.0.0.1:{normal}"; count = 1; mime = true; }}
worker "controller" {{ bind_socket = "127.0.0.1:{controller}"; count = 1; password = "q1"; secure_ip = "127.0.0.1"; }}
"""


def fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def test_readme_shows_these_configurations():
    readme = README.read_text()
    for template in (RSPAMD_ANTIVIRUS, AMAVIS_SCANNER, EXIM_SCANNER):
        assert fill(template, **DEFAULTS) in readme, template


# -- one `maldoc clamd` for the module ----------------------------------------------------------------
@pytest.fixture(scope="module")
def clamd(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clamd-cli")
    spool = folder / "spool"
    spool.mkdir()
    port = free_port()
    socket_path = str(folder / "clamd.sock")
    args = [sys.executable, "-m", "maldoc.cli", "clamd", "--port", str(port), "--socket", socket_path,
            "--workers", "1", "--allow-path", str(spool)]
    with process(args, folder / "clamd.log", env=clean_env(MALDOC_LOG_LEVEL="info")) as proc:
        wait_port(port, proc=proc)
        yield {"proc": proc, "port": port, "socket": socket_path, "spool": spool, "folder": folder,
               "log": folder / "clamd.log"}


def clamd_conf(clamd, *, unix: bool) -> Path:
    conf = clamd["folder"] / ("unix.conf" if unix else "tcp.conf")
    conf.write_text(f"LocalSocket {clamd['socket']}\n" if unix else f"TCPSocket {clamd['port']}\nTCPAddr 127.0.0.1\n")
    return conf


def run(args: list[str], **kwargs):
    import subprocess

    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)


@pytest.mark.skipif(missing("clamdscan") is not None, reason=str(missing("clamdscan")))
@pytest.mark.parametrize("unix", [False, True], ids=["tcp", "unix"])
def test_clamdscan_stream(clamd, tmp_path, unix):
    bad, good = tmp_path / "invoice.docm", tmp_path / "invoice.docx"
    bad.write_bytes(MALICIOUS_DOCM.read_bytes())
    good.write_bytes(CLEAN_DOCX.read_bytes())
    result = run(["clamdscan", f"--config-file={clamd_conf(clamd, unix=unix)}", "--stream", "--no-summary",
                  str(bad), str(good)])
    assert result.returncode == 1, result.stdout + result.stderr  # clamdscan: 1 = virus found
    lines = dict(line.rsplit(": ", 1) for line in result.stdout.splitlines())
    assert re.fullmatch(r"Maldoc\.Ooxml\.[A-Z_]+ FOUND", lines[str(bad)])
    assert lines[str(good)] == "OK"
    clean = run(["clamdscan", f"--config-file={clamd_conf(clamd, unix=unix)}", "--stream", "--no-summary", str(good)])
    assert clean.returncode == 0 and clean.stdout.strip() == f"{good}: OK"


@pytest.mark.skipif(missing("clamdscan") is not None, reason=str(missing("clamdscan")))
def test_clamdscan_multiscan_pipelines_a_session(clamd, tmp_path):
    files = []
    for i in range(6):  # clamdscan --multiscan sends every file in one IDSESSION, without waiting
        path = tmp_path / f"part{i}.{'docm' if i % 2 else 'docx'}"
        path.write_bytes((MALICIOUS_DOCM if i % 2 else CLEAN_DOCX).read_bytes())
        files.append(path)
    result = run(["clamdscan", f"--config-file={clamd_conf(clamd, unix=False)}", "--multiscan", "--stream",
                  "--no-summary", *map(str, files)])
    assert result.returncode == 1, result.stdout + result.stderr
    found = {line.split(": ")[0] for line in result.stdout.splitlines() if line.endswith(" FOUND")}
    assert found == {str(p) for p in files if p.suffix == ".docm"}, result.stdout


@pytest.mark.skipif(missing("clamdscan") is not None, reason=str(missing("clamdscan")))
def test_clamdscan_path_mode_inside_the_allowed_folder(clamd):
    target = clamd["spool"] / "parts"
    target.mkdir(exist_ok=True)
    (target / "p001.docm").write_bytes(MALICIOUS_DOCM.read_bytes())
    (target / "p002.docx").write_bytes(CLEAN_DOCX.read_bytes())
    result = run(["clamdscan", f"--config-file={clamd_conf(clamd, unix=True)}", "--no-summary", str(target)])
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(rf"^{re.escape(str(target / 'p001.docm'))}: Maldoc\.Ooxml\.[A-Z_]+ FOUND$", result.stdout, re.M)
    assert "p002.docx" not in result.stdout


def test_amavis_exchange(clamd):
    """amavisd-new's ask_daemon: `CONTSCAN <folder>\\n` on the Unix socket, answers read with the
    three regular expressions of its @av_scanners entry (the README's, translated to Python)."""
    clean_re, infected_re, name_re = re.compile(r"\bOK$", re.M), re.compile(r"\bFOUND$", re.M), \
        re.compile(r"^.*?: (?!Infected Archive)(.*) FOUND$", re.M)
    for name, data, infected in (("bad", MALICIOUS_DOCM.read_bytes(), True), ("good", CLEAN_DOCX.read_bytes(), False)):
        folder = clamd["spool"] / f"amavis-{name}" / "parts"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "p001").write_bytes(b"Received: from x\r\nSubject: hello\r\n\r\nsee attached\r\n")
        (folder / "p002").write_bytes(data)
        answer = clamd_command(clamd["socket"], f"CONTSCAN {folder}\n".encode()).decode()
        assert bool(infected_re.search(answer)) is infected and bool(clean_re.search(answer)) is not infected
        if infected:
            assert name_re.search(answer).group(1).startswith("Maldoc.Ooxml.")


def test_exim_exchange(clamd):
    """Exim's `av_scanner = clamd:HOST PORT` streams the spooled message with INSTREAM over TCP and
    reads `stream: ... FOUND` (the whole message: maldoc scans every part)."""
    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "b@example.com", "Invoice"
    msg.set_content("Please see attached.\n")
    msg.add_attachment(MALICIOUS_DOCM.read_bytes(), maintype="application", subtype="vnd.ms-word.document."
                       "macroEnabled.12", filename="invoice.docm")
    answer = clamd_command(("127.0.0.1", clamd["port"]), b"zINSTREAM\0", instream(msg.as_bytes()))
    assert re.fullmatch(rb"stream: Maldoc\.Ooxml\.[A-Z_]+ FOUND\0", answer), answer


# -- rspamd ---------------------------------------------------------------------------------------------
def message(attachment: bytes, filename: str) -> bytes:
    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "billing@example.org", "alice@example.com", "Invoice 4471"
    msg["Message-ID"] = "<4471@example.org>"
    msg.set_content("Hello,\nplease find the invoice attached.\n")
    msg.add_attachment(attachment, maintype="application", subtype="octet-stream", filename=filename)
    return msg.as_bytes()


@pytest.fixture(scope="module")
def rspamd(clamd, tmp_path_factory):
    if missing("rspamd"):
        pytest.skip(missing("rspamd"))
    root = tmp_path_factory.mktemp("rspamd")
    for sub in ("local.d", "db", "run"):
        (root / sub).mkdir()
    normal, controller = free_port(), free_port()
    (root / "rspamd.conf").write_text(RSPAMD_CONF.format(normal=normal, controller=controller))
    (root / "local.d" / "antivirus.conf").write_text(fill(RSPAMD_ANTIVIRUS, port=str(clamd["port"])))
    args = ["rspamd", "-f", "-c", str(root / "rspamd.conf"), *(f"--var={k}={v}" for k, v in {
        "LOCAL_CONFDIR": root, "DBDIR": root / "db", "RUNDIR": root / "run", "LOGDIR": root}.items())]
    if os.geteuid() == 0:
        args += ["-u", "root", "-g", "root", "-i"]  # rspamd refuses to run its workers as root otherwise
    with process(args, root / "stdout.log") as proc:
        base = f"http://127.0.0.1:{normal}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (root / "stdout.log").read_text()[-2000:]
            try:
                if httpx.get(f"{base}/ping", timeout=2, trust_env=False).text.strip() == "pong":
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "rspamd did not start"
            time.sleep(0.5)
        yield base


def check(base: str, raw: bytes) -> dict:
    response = httpx.post(f"{base}/checkv2", content=raw, timeout=60, trust_env=False)
    assert response.status_code == 200, response.text
    return response.json()


def test_rspamd_rejects_the_malicious_attachment(rspamd):
    result = check(rspamd, message(MALICIOUS_DOCM.read_bytes(), "invoice.docm"))
    assert "MALDOC_VIRUS" in result["symbols"], result["symbols"].keys()
    assert re.fullmatch(r"Maldoc\.Ooxml\.[A-Z_]+", result["symbols"]["MALDOC_VIRUS"]["options"][0])
    assert result["action"] == "reject"


def test_rspamd_passes_the_clean_attachment(rspamd):
    result = check(rspamd, message(CLEAN_DOCX.read_bytes(), "invoice.docx"))
    assert not any(name.startswith("MALDOC") for name in result["symbols"]), result["symbols"].keys()
    assert result["action"] != "reject"


def test_shutdown_on_the_local_socket_stops_the_process(clamd):
    # Last in this module: the tests above need the process.
    assert clamd_command(("127.0.0.1", clamd["port"]), b"zSHUTDOWN\0").endswith(b"local socket only. ERROR\0")
    assert clamd_command(clamd["socket"], b"zSHUTDOWN\0") == b""
    assert clamd["proc"].wait(30) == 0
    assert not Path(clamd["socket"]).exists()  # the socket file is removed on the way out
