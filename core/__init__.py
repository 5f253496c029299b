"""maldoc: static detection of malicious e-mail attachments (Office, PDF, RTF, HTML, OneNote, mail).

The library API (typed; `py.typed` ships with the package):

    from maldoc import scan, scan_file, Engine, Verdict
    verdict = scan_file("invoice.docm")          # or scan(data_bytes, "invoice.docm")
    with Engine(jobs=4) as engine:                # worker processes: hard timeouts, crash isolation
        for path, verdict, _node in engine.scan_many((p, p.read_bytes) for p in paths):
            ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = ["Engine", "Limits", "Options", "Policy", "Verdict", "__version__", "scan", "scan_file"]

if TYPE_CHECKING:
    from maldoc.api import scan, scan_file
    from maldoc.engine import Engine
    from maldoc.extractor import Options
    from maldoc.limits import Limits
    from maldoc.policy import Policy
    from maldoc.verdict import Verdict

_LAZY = {"scan": "maldoc.api", "scan_file": "maldoc.api", "Engine": "maldoc.engine", "Verdict": "maldoc.verdict",
         "Limits": "maldoc.limits", "Options": "maldoc.extractor", "Policy": "maldoc.policy"}


def __getattr__(name: str):
    # Lazy, so that `import maldoc.extractors.x` does not import the whole engine first. No
    # submodule shares a name with these, so the attribute is never shadowed by an import.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
