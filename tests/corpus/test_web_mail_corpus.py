"""Every HTML, OneNote and e-mail file of the development corpus goes through without a crash.

Robustness, not accuracy: an uncaught exception in the HTML, OneNote or mail extractor shows up as a
`parse_error` line "<extractor>: <ExceptionType>: ..." on the node (the engine's wrapper), and a
Python bug type there (TypeError, KeyError, ...) is a bug in our code, whatever the input.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from maldoc.engine import analyze

FORMATS = {"html", "onenote", "eml"}
OURS = ("html", "mail", "onenote")
_UNCAUGHT = re.compile(rf"^(?:{'|'.join(OURS)}): (\w+(?:Error|Exception))\b")


@pytest.mark.corpus
def test_web_and_mail_corpus_runs_clean(corpus_items):
    items = [it for it in corpus_items if it.get("format") in FORMATS]
    assert items, "corpus has no html / onenote / eml files"
    uncaught: list[str] = []
    rules: Counter[tuple[str, str]] = Counter()
    onenote_with_children = onenote_total = 0
    for item in items:
        node = analyze(item.read(), item.sha256[:12])
        for sub in node.walk():
            for line in sub.result.errors:
                m = _UNCAUGHT.match(line)
                if m:
                    uncaught.append(f"{item.sha256[:12]} {sub.display_path}: {line}")
            for rule in {f.rule_id for f in sub.result.findings}:
                rules[(item.label, rule)] += 1
        if item.get("format") == "onenote":
            onenote_total += 1
            onenote_with_children += bool(node.children)
    print(f"\n{len(items)} files; findings by label: {sorted(rules.items())}")
    assert not uncaught, "\n".join(uncaught[:20])
    if onenote_total:  # every OneNote lure in the corpus carries its payload as an embedded file
        assert onenote_with_children / onenote_total >= 0.9
