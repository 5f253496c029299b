"""Every Office and RTF file of the development corpus through the scan core (skipped without it).

Asserts robustness (no extractor bug escapes to the engine's wrapper, nothing fails silently)
and prints the detection figures the Office extractors reach on their own (run with -s).
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from maldoc.engine import analyze
from maldoc.scoring import RuleScorer
from maldoc.types import Flag

OFFICE_FORMATS = {"ole", "ooxml", "rtf"}
OURS = ("officecrypto", "ole", "ooxml", "vba", "xlm", "rtf", "msg", "ppt", "pptx", "word6", "exploits")
# The engine wraps an escaped exception as "<extractor>: <ExceptionType>: ..."; these types are our bugs.
BUG = re.compile(rf"^({'|'.join(OURS)}): (KeyError|AttributeError|TypeError|IndexError|NameError|"
                 r"UnboundLocalError|ZeroDivisionError|AssertionError|RecursionError|ValueError|struct\.error|"
                 r"UnicodeDecodeError|UnicodeEncodeError|OverflowError|StopIteration|\w+Error):")
PREFIXES = tuple(f"{name}." for name in OURS)
FAILED = {Flag.PARSE_ERROR, Flag.TRUNCATED, Flag.ENCRYPTED, Flag.LIMIT_EXCEEDED, Flag.TIMED_OUT, Flag.UNSUPPORTED}


@pytest.mark.corpus
def test_every_office_file_is_analysed_or_flagged(corpus_items) -> None:
    items = [i for i in corpus_items if i.get("format") in OFFICE_FORMATS]
    if not items:
        pytest.skip("no Office/RTF files in the corpus")
    scorer = RuleScorer()
    bugs: list[str] = []
    silent: list[str] = []
    labels: Counter[tuple[str, str]] = Counter()
    signals: Counter[tuple[str, str]] = Counter()
    totals: Counter[str] = Counter()
    for item in items:
        node = analyze(item.read(), item.path.name)
        for sub in node.walk():
            bugs += [f"{item.path.name}: {e}" for e in sub.result.errors if BUG.match(e)]
        ours = [k for k in node.result.features if k.startswith(PREFIXES)]
        if not ours and not (node.result.flags & FAILED):
            silent.append(f"{item.path.name} ({item.get('format')})")
        score, _ = scorer.score(node)
        verdict = "malicious" if score >= scorer.threshold else "suspicious" if score >= 0.4 else "clean"
        labels[(item.label, verdict)] += 1
        totals[item.label] += 1
        rules = {f.rule_id for sub in node.walk() for f in sub.result.findings}
        for name in ("VBA_MACROS", "VBA_AUTOEXEC", "VBA_MRAPTOR", "XLM_MACRO_SHEET", "RTF_EQUATION", "RTF_OLE2LINK",
                     "OOXML_REMOTE_TEMPLATE", "OFFICE_ENCRYPTED", "CORE_PARSE_FAILURE"):
            if name in rules:
                signals[(item.label, name)] += 1
    print(f"\nOffice corpus: {len(items)} files {dict(totals)}")
    for label in sorted(totals):
        share = {v: f"{labels[(label, v)] / totals[label]:.1%}" for v in ("malicious", "suspicious", "clean")}
        hits = {r: n for (lbl, r), n in sorted(signals.items()) if lbl == label}
        print(f"  {label}: rule-score verdicts {share}; files with {hits}")
    assert not bugs, "extractor exceptions escaped:\n" + "\n".join(bugs[:20])
    assert not silent, "files with neither Office features nor a failure flag:\n" + "\n".join(silent[:20])
