"""oletools, imported once, quietly, and only when a scan first needs it.

olevba calls pyparsing's pre-3.0 API (`enablePackrat`, camelCase names), which emits
DeprecationWarnings at import and at parse time; under `-W error` (or pytest's "error" filter)
those would break every Office scan. Use oletools modules as attributes of this module
(`olecompat.olevba`), and wrap calls into them with `quiet()`.

The modules load on first attribute access (PEP 562), not when maldoc is imported: importing
them (and pyparsing) costs about 0.15 s of CPU, which a scan of a PDF or an e-mail, or the
start-up of `maldoc scan`, should not pay.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import warnings
from types import ModuleType


@contextlib.contextmanager
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


_MODULES = {
    "mraptor": "oletools.mraptor", "oleid": "oletools.oleid", "oleobj": "oletools.oleobj",
    "olevba": "oletools.olevba", "rtfobj": "oletools.rtfobj",
    "plugin_biff": "oletools.thirdparty.oledump.plugin_biff",
}
# oletools logs parse problems at WARNING/ERROR on its own loggers; maldoc reports them as flags.
_LOGGERS = ("olevba", "oleobj", "rtfobj", "oleid", "mraptor", "msodde", "ppt_parser", "ooxml", "olefile")


def __getattr__(name: str) -> ModuleType:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with quiet():  # all of them at once, as they import one another
        loaded = {key: importlib.import_module(path) for key, path in _MODULES.items()}
    for logger in _LOGGERS:
        logging.getLogger(logger).setLevel(logging.CRITICAL)
    globals().update(loaded)
    return loaded[name]
