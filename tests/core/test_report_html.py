"""`maldoc report`: one self-contained page, opened in a real headless browser."""

from __future__ import annotations

import re
import subprocess
import sys

import browser

from maldoc.report_html import defang
from maldoc.samples.generate import build
from maldoc.samples.registry import TEMPLATES


def _sample(tmp_path, family: str):
    template = next(t for t in TEMPLATES.values() if t.family == family)
    sample = build(template, 2, 0)
    path = tmp_path / f"sample.{sample.format}"
    path.write_bytes(sample.data)
    return path


def _report(tmp_path, path):
    out = tmp_path / "report.html"
    proc = subprocess.run([sys.executable, "-m", "maldoc.cli", "report", str(path), "-o", str(out), "--model",
                           "rules"], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return out


def test_report_is_self_contained_and_escaped(tmp_path):
    out = _report(tmp_path, _sample(tmp_path, "doc_vba_dropper"))
    text = out.read_text()
    assert not re.search(r"<(script|link|img|iframe)\b", text, re.I)  # nothing runs, nothing is fetched
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text, re.I)
    for section in ("verdict", "reasons", "tree", "findings", "code", "urls", "hashes"):
        assert f'id="{section}"' in text
    assert "sha256" in text and "md5" in text


def test_urls_are_defanged():
    assert defang("http://evil.example.com/a.b") == "hxxp://evil[.]example[.]com/a.b"
    assert defang("https://x.y") == "hxxps://x[.]y"


def test_report_renders_in_a_browser(tmp_path):
    out = _report(tmp_path, _sample(tmp_path, "doc_vba_dropper"))
    dom = browser.dump_dom(out.as_uri())
    assert "Recovered macros and scripts" in dom and "<svg" in dom  # the chart rendered inline
    assert "malicious" in dom or "suspicious" in dom
    assert "Sub " in dom or "Function " in dom  # the macro source, escaped, as text
