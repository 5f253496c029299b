"""The service's form of the engine answers within the per-scan deadline, scoring included."""

from __future__ import annotations

import asyncio
import time

from maldoc.engine import Engine
from maldoc.limits import Limits
from maldoc.scoring import RuleScorer
from maldoc.verdict import Label


class SlowScorer(RuleScorer):
    """A scorer stuck far past the deadline (a pathological tree, an overloaded machine)."""

    def score_tree(self, feats, reasons_from=0.0):
        if len(feats) > 1:  # the scanned archive, not the one-node failure verdict
            time.sleep(5)
        return super().score_tree(feats, reasons_from)


def test_scoring_past_the_deadline_answers_timed_out():
    from builders import make_zip

    engine = Engine(limits=Limits(timeout_s=1.0), scorer=SlowScorer(), jobs=1)
    try:
        verdict, _node = asyncio.run(engine.scan_async(make_zip({"a.txt": b"x"}), "a.zip"))
    finally:
        engine.close()
    assert "timed_out" in verdict.flags and verdict.label is Label.ERROR
    assert "scoring did not finish" in verdict.errors[0]
