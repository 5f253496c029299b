"""Headless Chromium for tests that look at a page as a person would (skips when it is absent)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import pytest

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("chromium not installed (scripts/install-browser.sh installs Debian's package)")
    return path


def run(url: str, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="maldoc-chromium-") as profile:
        return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, url],
                              capture_output=True, text=True, timeout=timeout, check=False)


def dump_dom(url: str, wait_ms: int = 0) -> str:
    extra = (f"--virtual-time-budget={wait_ms}",) if wait_ms else ()
    return run(url, *extra, "--dump-dom").stdout


def screenshot(url: str, path: str, size: str = "1200,1400") -> None:
    run(url, f"--screenshot={path}", f"--window-size={size}", "--hide-scrollbars")
