"""The one entry point: `scan()` for a single input, in-process. Batches go through `maldoc.pool`."""

from __future__ import annotations

from maldoc.engine import analyze
from maldoc.extractor import Options
from maldoc.limits import Limits
from maldoc.scoring import Scorer, build_verdict
from maldoc.verdict import Verdict


def scan(data: bytes, name: str = "", *, limits: Limits | None = None, model: Scorer | None = None,
         options: Options | None = None) -> Verdict:
    """Analyse and score one file (or e-mail, or archive) given as bytes.

    `model` is a loaded `ModelBundle` or `RuleScorer`; None loads the default (shipped bundle,
    else rules). Time limits here are cooperative (checked in the extractors' loops); for a hard
    per-file timeout and crash isolation use `maldoc.pool.ScanPool`.
    """
    if model is None:
        from maldoc.model import load_scorer

        model = load_scorer()
    options = options or Options()
    node = analyze(data, name, limits=limits, options=options)
    return build_verdict(node, model, keep_macros=options.keep_macros)
