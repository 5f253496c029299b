"""`maldoc icap` (the command, in its own process) against Debian's `c-icap-client`: OPTIONS,
RESPMOD of a clean and of a malicious file (with and without preview), REQMOD of an upload.
Skips, with the reason, when c-icap-client is not installed (scripts/install-gateways.sh)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from gateway_env import CLEAN_DOCX, CLEAN_LARGE, MALICIOUS_DOCM, clean_env, free_port, missing, process, wait_port

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(missing("c-icap-client") is not None, reason=str(missing("c-icap-client")))]


@pytest.fixture(scope="module")
def icap(tmp_path_factory):
    folder = tmp_path_factory.mktemp("icap-cli")
    port, metrics = free_port(), free_port()
    args = [sys.executable, "-m", "maldoc.cli", "icap", "--port", str(port), "--workers", "1", "--preview", "1024",
            "--metrics-port", str(metrics)]
    with process(args, folder / "icap.log", env=clean_env()) as proc:
        wait_port(port, proc=proc)
        yield port, metrics


def client(icap: tuple[int, int], *args: str) -> str:
    port = icap[0]
    result = subprocess.run(["c-icap-client", "-i", "127.0.0.1", "-p", str(port), "-s", "maldoc", "-v", *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def test_options(icap):
    out = client(icap)
    assert "Allow 204: Yes" in out and "Preview: 1024" in out
    assert re.search(r'ISTag: "maldoc-[0-9a-f]{16}"', out)
    assert "Methods: RESPMOD, REQMOD" in out


@pytest.mark.parametrize("sample", [CLEAN_DOCX, CLEAN_LARGE], ids=["in-preview", "after-100-continue"])
def test_clean_file_is_not_modified(icap, sample):
    out = client(icap, "-f", str(sample))
    assert "No modification needed (Allow 204 response)" in out
    assert "ICAP/1.0 204 No Content" in out


@pytest.mark.parametrize("flags", [[], ["-nopreview"]], ids=["preview", "no-preview"])
def test_malicious_file_is_replaced(icap, tmp_path, flags):
    page = tmp_path / "page.html"
    out = client(icap, "-f", str(MALICIOUS_DOCM), "-o", str(page), *flags)
    assert "ICAP/1.0 200 OK" in out
    found = re.search(r"X-Infection-Found: Type=0; Resolution=2; Threat=(Maldoc\.Ooxml\.[A-Z_]+);", out)
    assert found, out
    assert "X-Violations-Found: 1" in out
    assert "HTTP/1.1 403 Forbidden" in out
    assert found.group(1) in page.read_text()


def test_reqmod_upload(icap):
    out = client(icap, "-f", str(MALICIOUS_DOCM), "-req", "http://example.test/upload/invoice.docm",
                 "-method", "POST")
    assert re.search(r"X-Infection-Found: .*Threat=Maldoc\.Ooxml\.", out), out
    clean = client(icap, "-f", str(CLEAN_DOCX), "-req", "http://example.test/upload/invoice.docx", "-method", "POST")
    assert "No modification needed" in clean


def test_metrics_show_the_scans_and_connections(icap):
    import httpx

    client(icap, "-f", str(CLEAN_DOCX))
    text = httpx.get(f"http://127.0.0.1:{icap[1]}/metrics", timeout=10, trust_env=False).text
    assert 'maldoc_icap_connections_total{event="accepted"}' in text
    assert re.search(r'maldoc_verdicts_total\{endpoint="file",label="clean"\} [1-9]', text)
