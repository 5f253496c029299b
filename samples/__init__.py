"""Synthetic, inert sample documents (see samples/README.md); the demo set lives in samples/demo/.

`generate_samples` and `GeneratedSample` load lazily, so locating the demo folder
(`importlib.resources.files("maldoc.samples")`) does not build the template registry. The
writer to disk is `maldoc.samples.generate.generate` (the submodule owns the name `generate`).
"""

from __future__ import annotations

import importlib

__all__ = ["GeneratedSample", "generate_samples"]


def __getattr__(name: str):
    if name in __all__:
        return getattr(importlib.import_module("maldoc.samples.generate"), name)
    raise AttributeError(f"module 'maldoc.samples' has no attribute {name!r}")
