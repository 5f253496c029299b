"""`scan()`: one input given as bytes, analysed and scored in this process. A thin form of `Engine`."""

from __future__ import annotations

from maldoc.engine import Engine
from maldoc.extractor import Options
from maldoc.limits import Limits
from maldoc.policy import Policy
from maldoc.scoring import Scorer
from maldoc.verdict import Verdict


def scan(data: bytes, name: str = "", *, limits: Limits | None = None, model: Scorer | None = None,
         options: Options | None = None, policy: Policy | None = None) -> Verdict:
    """Analyse and score one file (or e-mail, or archive) given as bytes.

    `model` is a loaded `ModelBundle` or `RuleScorer`; None loads the default (shipped bundle,
    else rules). Time limits here are cooperative (checked in the extractors' loops); for a hard
    per-file timeout and crash isolation use `Engine(jobs=N)`.
    """
    engine = Engine(limits=limits, options=options, scorer=model, jobs=0, policy=policy)
    return engine.scan(data, name)
