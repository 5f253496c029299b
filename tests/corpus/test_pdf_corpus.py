"""Every PDF of the development corpus through the scan core: no Python bug escapes the PDF
and URL extractors, and no file runs out of time. (Speed figures live in bench/bench_pdf.py.)"""

from __future__ import annotations

import re

import pytest

from maldoc.engine import analyze
from maldoc.types import Flag

# An extractor failure is reported as "<extractor>: <ExceptionType>: message" by the engine.
BUG = re.compile(r"^(pdf|url): (KeyError|TypeError|AttributeError|IndexError|ValueError|NameError|"
                 r"UnboundLocalError|AssertionError|ZeroDivisionError|RecursionError|OverflowError|"
                 r"UnicodeDecodeError|UnicodeEncodeError|MemoryError|Exception)\b")


@pytest.mark.corpus
def test_every_corpus_pdf_scans_cleanly(corpus_items):
    pdfs = [item for item in corpus_items if item.get("format") == "pdf"]
    if not pdfs:
        pytest.skip("no PDF in the corpus")
    bugs: list[str] = []
    timeouts: list[str] = []
    for item in pdfs:
        node = analyze(item.read(), item.sha256 or item.path.name)
        for sub in node.walk():
            bugs += [f"{item.sha256[:12]} {e}" for e in sub.result.errors if BUG.match(e)]
            bugs += [f"{item.sha256[:12]} {e}" for e in sub.result.errors if e.startswith("undeclared")]
            if Flag.TIMED_OUT in sub.result.flags:
                timeouts.append(f"{item.sha256[:12]} {sub.display_path}")
        assert node.result.features.get("url.count") is not None  # the URL analyser ran on it
    assert not bugs, f"{len(bugs)} extractor bugs:\n" + "\n".join(bugs[:20])
    assert not timeouts, f"{len(timeouts)} timed out:\n" + "\n".join(timeouts[:20])
