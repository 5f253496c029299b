"""The library API: `scan()` for bytes and `scan_file()` for a path, in this process. Thin forms of `Engine`.

    from maldoc import scan, scan_file
    verdict = scan_file("invoice.docm")
    print(verdict.label, verdict.score, [f.title for f in verdict.findings])
"""

from __future__ import annotations

from pathlib import Path

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
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"scan() takes the input's bytes; for a path use scan_file() (got {type(data).__name__})")
    engine = Engine(limits=limits, options=options, scorer=model, jobs=0, policy=policy)
    return engine.scan(bytes(data), name)


def scan_file(path: str | Path, *, limits: Limits | None = None, model: Scorer | None = None,
              options: Options | None = None, policy: Policy | None = None) -> Verdict:
    """Analyse and score one file on disk. Raises OSError when it cannot be read; a file over
    `limits.max_bytes` is refused (label `error`) with the hashes of the whole file."""
    from maldoc.runner import read_input

    path = Path(path)
    limits = limits or Limits()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    data = read_input(path, limits)
    if isinstance(data, str):
        raise OSError(data)
    digests = None
    if isinstance(data, tuple):
        data, digests = data
    engine = Engine(limits=limits, options=options, scorer=model, jobs=0, policy=policy)
    return engine.verdict(engine.analyze(data, path.name, digests=digests))
